// halfvec text and binary forms (see halfvec_codec.h).
#include "core/halfvec_codec.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace prism {

namespace {

// Same set as Postgres' scanner_isspace.
inline bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

inline ParseResult status_only(ParseStatus s) { return ParseResult{s, 0, nullptr, 0}; }

}  // namespace

ParseResult parse_halfvec_text(const char *text, half_bits *out, size_t capacity, size_t max_dim)
{
	const char *p = text;
	size_t dim = 0;

	while (is_space(*p))
		p++;
	if (*p != '[')
		return status_only(ParseStatus::MissingBracket);
	p++;
	while (is_space(*p))
		p++;
	if (*p == ']')
		return status_only(ParseStatus::Empty);

	for (;;) {
		if (dim >= max_dim || dim >= capacity)
			return status_only(ParseStatus::TooManyDims);
		while (is_space(*p))
			p++;
		if (*p == '\0')
			return status_only(ParseStatus::Syntax);

		// strtof, as float4in and pgvector read elements (Postgres runs with LC_NUMERIC C).
		char *end;
		errno = 0;
		float v = std::strtof(p, &end);
		if (end == p)
			return status_only(ParseStatus::Syntax);
		half_bits h = float_to_half(v);
		// Out of float range, or a finite float that rounds to an infinite half.
		if ((errno == ERANGE && std::isinf(v)) || (half_is_inf(h) && !std::isinf(v)))
			return ParseResult{ParseStatus::OutOfRange, 0, p, static_cast<size_t>(end - p)};
		if (half_is_nan(h))
			return status_only(ParseStatus::NotANumber);
		if (half_is_inf(h))
			return status_only(ParseStatus::Infinite);
		out[dim++] = h;

		p = end;
		while (is_space(*p))
			p++;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == ']') {
			p++;
			break;
		}
		return status_only(ParseStatus::Syntax);
	}

	while (is_space(*p))
		p++;
	if (*p != '\0')
		return status_only(ParseStatus::JunkAfter);
	return ParseResult{ParseStatus::Ok, dim, nullptr, 0};
}

size_t format_halfvec(const half_bits *x, size_t n, char *buf)
{
	char *o = buf;
	*o++ = '[';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*o++ = ',';
		o += format_float(half_to_float(x[i]), o);
	}
	*o++ = ']';
	*o = '\0';
	return static_cast<size_t>(o - buf);
}

BinaryResult decode_halfvec_binary(const uint8_t *buf, size_t len, int32_t typmod, size_t max_dim,
								   half_bits *out, size_t capacity)
{
	BinaryResult r{BinaryStatus::Truncated, 0, 0};
	if (len < kVectorBinaryHeader)
		return r;
	// Signed int16 fields, as pq_getmsgint + cast reads them.
	r.dim = static_cast<int16_t>((buf[0] << 8) | buf[1]);
	r.unused = static_cast<int16_t>((buf[2] << 8) | buf[3]);

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
	for (int i = 0; i < r.dim; i++, p += 2, left -= 2) {
		if (left < 2) {
			r.status = BinaryStatus::Truncated;
			return r;
		}
		half_bits h = static_cast<half_bits>((p[0] << 8) | p[1]);
		if (half_is_nan(h)) {
			r.status = BinaryStatus::NotANumber;
			return r;
		}
		if (half_is_inf(h)) {
			r.status = BinaryStatus::Infinite;
			return r;
		}
		out[i] = h;
	}
	r.status = left == 0 ? BinaryStatus::Ok : BinaryStatus::TrailingBytes;
	return r;
}

size_t encode_halfvec_binary(const half_bits *x, size_t n, uint8_t *buf)
{
	buf[0] = static_cast<uint8_t>(n >> 8);
	buf[1] = static_cast<uint8_t>(n);
	buf[2] = 0;
	buf[3] = 0;
	uint8_t *p = buf + kVectorBinaryHeader;
	for (size_t i = 0; i < n; i++, p += 2) {
		p[0] = static_cast<uint8_t>(x[i] >> 8);
		p[1] = static_cast<uint8_t>(x[i]);
	}
	return static_cast<size_t>(p - buf);
}

}  // namespace prism
