// Vector binary wire format decode/encode (see vector_binary.h).
#include "core/vector_binary.h"

#include <cmath>
#include <cstring>

namespace prism {

namespace {

inline uint16_t get_be16(const uint8_t *p)
{
	return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

inline uint32_t get_be32(const uint8_t *p)
{
	return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
		   (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = static_cast<uint8_t>(v >> 8);
	p[1] = static_cast<uint8_t>(v);
}

inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = static_cast<uint8_t>(v >> 24);
	p[1] = static_cast<uint8_t>(v >> 16);
	p[2] = static_cast<uint8_t>(v >> 8);
	p[3] = static_cast<uint8_t>(v);
}

}  // namespace

BinaryResult decode_vector_binary(const uint8_t *buf, size_t len, int32_t typmod, size_t max_dim,
								  float *out, size_t capacity)
{
	BinaryResult r{BinaryStatus::Truncated, 0, 0};
	if (len < kVectorBinaryHeader)
		return r;
	// The wire fields are signed int16, as pq_getmsgint + cast reads them.
	r.dim = static_cast<int16_t>(get_be16(buf));
	r.unused = static_cast<int16_t>(get_be16(buf + 2));

	if (r.dim < 1 || static_cast<size_t>(r.dim) > max_dim || static_cast<size_t>(r.dim) > capacity) {
		r.status = BinaryStatus::BadDim;
		return r;
	}
	if (typmod != -1 && typmod != r.dim) {
		r.status = BinaryStatus::DimMismatch;
		return r;
	}
	if (r.unused != 0) {
		r.status = BinaryStatus::UnusedNotZero;
		return r;
	}

	const uint8_t *p = buf + kVectorBinaryHeader;
	size_t left = len - kVectorBinaryHeader;
	for (int i = 0; i < r.dim; i++) {
		if (left < 4) {
			r.status = BinaryStatus::Truncated;
			return r;
		}
		uint32_t bits = get_be32(p);
		float v;
		std::memcpy(&v, &bits, sizeof(v));
		if (std::isnan(v)) {
			r.status = BinaryStatus::NotANumber;
			return r;
		}
		if (std::isinf(v)) {
			r.status = BinaryStatus::Infinite;
			return r;
		}
		out[i] = v;
		p += 4;
		left -= 4;
	}
	r.status = left == 0 ? BinaryStatus::Ok : BinaryStatus::TrailingBytes;
	return r;
}

size_t encode_vector_binary(const float *x, size_t n, uint8_t *buf)
{
	put_be16(buf, static_cast<uint16_t>(n));
	put_be16(buf + 2, 0);
	uint8_t *p = buf + kVectorBinaryHeader;
	for (size_t i = 0; i < n; i++, p += 4) {
		uint32_t bits;
		std::memcpy(&bits, &x[i], sizeof(bits));
		put_be32(p, bits);
	}
	return static_cast<size_t>(p - buf);
}

}  // namespace prism
