// sparsevec text and binary forms, index checks, distances and ordering (see sparsevec.h).
#include "core/sparsevec.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/vector_text.h"

namespace prism {

namespace {

// Same set as Postgres' scanner_isspace.
inline bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

inline const char *skip_space(const char *p)
{
	while (is_space(*p))
		p++;
	return p;
}

inline SparseParseResult status_only(SparseParseStatus s) { return SparseParseResult{s, 0, 0, nullptr, 0}; }

}  // namespace

size_t sparsevec_text_max_entries(const char *text)
{
	size_t n = 1;
	for (const char *p = text; *p; p++)
		n += *p == ',';
	return n;
}

SparseParseResult parse_sparsevec_text(const char *text, SparseEntry *out, size_t capacity)
{
	if (sparsevec_text_max_entries(text) > size_t(kSparsevecMaxNnz))
		return status_only(SparseParseStatus::TooManyNnz);

	const char *p = skip_space(text);
	size_t nnz = 0;
	if (*p != '{')
		return status_only(SparseParseStatus::MissingBrace);
	p = skip_space(p + 1);

	if (*p == '}')
		p++;
	else {
		for (;;) {
			p = skip_space(p);
			if (*p == '\0')
				return status_only(SparseParseStatus::Syntax);

			// Indices as int2vectorin reads integers (strtol, base 10), kept in the int range so
			// an absurd index reports "out of bounds" rather than wrapping.
			char *end;
			long index = std::strtol(p, &end, 10);
			if (end == p)
				return status_only(SparseParseStatus::Syntax);
			if (index > INT_MAX)
				index = INT_MAX;
			else if (index < long(INT_MIN) + 1)
				index = long(INT_MIN) + 1;
			p = skip_space(end);
			if (*p != ':')
				return status_only(SparseParseStatus::Syntax);
			p = skip_space(p + 1);

			// Values as float4in reads them (strtof; Postgres runs with LC_NUMERIC C). Unlike
			// vector, underflow to zero is an error here, as in pgvector.
			errno = 0;
			float value = std::strtof(p, &end);
			if (end == p)
				return status_only(SparseParseStatus::Syntax);
			if (errno == ERANGE && (value == 0 || std::isinf(value)))
				return SparseParseResult{SparseParseStatus::OutOfRange, 0, 0, p, size_t(end - p)};
			if (std::isnan(value))
				return status_only(SparseParseStatus::NotANumber);
			if (std::isinf(value))
				return status_only(SparseParseStatus::Infinite);
			if (value != 0) {
				if (nnz >= capacity)
					return status_only(SparseParseStatus::TooManyNnz);
				out[nnz++] = SparseEntry{int32_t(index - 1), value};
			}

			p = skip_space(end);
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p == '}') {
				p++;
				break;
			}
			return status_only(SparseParseStatus::Syntax);
		}
	}

	p = skip_space(p);
	if (*p != '/')
		return status_only(SparseParseStatus::UnexpectedEnd);
	p = skip_space(p + 1);
	char *end;
	long dim = std::strtol(p, &end, 10);
	if (end == p)
		return status_only(SparseParseStatus::Syntax);
	if (dim > INT_MAX)
		dim = INT_MAX;
	else if (dim < INT_MIN)
		dim = INT_MIN;
	p = skip_space(end);
	if (*p != '\0')
		return status_only(SparseParseStatus::JunkAfter);

	// Sorted by index; equal indices (an error the caller reports) may come in any order.
	std::sort(out, out + nnz, [](const SparseEntry &x, const SparseEntry &y) { return x.index < y.index; });
	return SparseParseResult{SparseParseStatus::Ok, nnz, int32_t(dim), nullptr, 0};
}

SparseIndexStatus check_sparse_indices(const int32_t *indices, size_t nnz, int32_t dim)
{
	for (size_t i = 0; i < nnz; i++) {
		if (indices[i] < 0 || indices[i] >= dim)
			return SparseIndexStatus::OutOfBounds;
		if (i > 0 && indices[i] < indices[i - 1])
			return SparseIndexStatus::NotAscending;
		if (i > 0 && indices[i] == indices[i - 1])
			return SparseIndexStatus::Duplicate;
	}
	return SparseIndexStatus::Ok;
}

namespace {

size_t format_int(int64_t v, char *buf)
{
	char tmp[24];
	size_t n = 0;
	bool negative = v < 0;
	uint64_t u = negative ? uint64_t(-(v + 1)) + 1 : uint64_t(v);
	do {
		tmp[n++] = char('0' + u % 10);
		u /= 10;
	} while (u != 0);
	char *o = buf;
	if (negative)
		*o++ = '-';
	while (n > 0)
		*o++ = tmp[--n];
	return size_t(o - buf);
}

}  // namespace

size_t format_sparsevec(const SparseView &v, char *buf)
{
	char *o = buf;
	*o++ = '{';
	for (int32_t i = 0; i < v.nnz; i++) {
		if (i > 0)
			*o++ = ',';
		o += format_int(int64_t(v.indices[i]) + 1, o);
		*o++ = ':';
		o += format_float(v.values[i], o);
	}
	*o++ = '}';
	*o++ = '/';
	o += format_int(v.dim, o);
	*o = '\0';
	return size_t(o - buf);
}

namespace {

inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = uint8_t(v >> 24);
	p[1] = uint8_t(v >> 16);
	p[2] = uint8_t(v >> 8);
	p[3] = uint8_t(v);
}

}  // namespace

SparseBinaryResult decode_sparsevec_binary(const uint8_t *buf, size_t len, int32_t typmod,
										   int32_t *indices, float *values, size_t capacity)
{
	using S = SparseBinaryStatus;
	SparseBinaryResult r{S::Truncated, 0, 0, 0};
	if (len < kSparsevecBinaryHeader)
		return r;
	r.dim = int32_t(get_be32(buf));
	r.nnz = int32_t(get_be32(buf + 4));
	r.unused = int32_t(get_be32(buf + 8));

	if (r.dim < 1 || r.dim > kSparsevecMaxDim)
		r.status = S::BadDim;
	else if (r.nnz < 0)
		r.status = S::NegativeNnz;
	else if (r.nnz > kSparsevecMaxNnz || size_t(r.nnz) > capacity)
		r.status = S::TooManyNnz;
	else if (r.nnz > r.dim)
		r.status = S::NnzAboveDim;
	else if (typmod != -1 && typmod != r.dim)
		r.status = S::DimMismatch;
	else if (r.unused != 0)
		r.status = S::UnusedNotZero;
	if (r.status != S::Truncated)
		return r;

	const uint8_t *p = buf + kSparsevecBinaryHeader;
	size_t left = len - kSparsevecBinaryHeader;
	for (int32_t i = 0; i < r.nnz; i++, p += 4, left -= 4) {
		if (left < 4)
			return r;  // Truncated
		indices[i] = int32_t(get_be32(p));
		if (indices[i] < 0 || indices[i] >= r.dim)
			r.status = S::IndexOutOfBounds;
		else if (i > 0 && indices[i] < indices[i - 1])
			r.status = S::NotAscending;
		else if (i > 0 && indices[i] == indices[i - 1])
			r.status = S::Duplicate;
		if (r.status != S::Truncated)
			return r;
	}
	for (int32_t i = 0; i < r.nnz; i++, p += 4, left -= 4) {
		if (left < 4)
			return r;  // Truncated
		uint32_t bits = get_be32(p);
		std::memcpy(&values[i], &bits, sizeof(float));
		if (std::isnan(values[i]))
			r.status = S::NotANumber;
		else if (std::isinf(values[i]))
			r.status = S::Infinite;
		else if (values[i] == 0)
			r.status = S::ZeroValue;
		if (r.status != S::Truncated)
			return r;
	}
	r.status = left == 0 ? S::Ok : S::TrailingBytes;
	return r;
}

size_t encode_sparsevec_binary(const SparseView &v, uint8_t *buf)
{
	put_be32(buf, uint32_t(v.dim));
	put_be32(buf + 4, uint32_t(v.nnz));
	put_be32(buf + 8, 0);
	uint8_t *p = buf + kSparsevecBinaryHeader;
	for (int32_t i = 0; i < v.nnz; i++, p += 4)
		put_be32(p, uint32_t(v.indices[i]));
	for (int32_t i = 0; i < v.nnz; i++, p += 4) {
		uint32_t bits;
		std::memcpy(&bits, &v.values[i], sizeof(bits));
		put_be32(p, bits);
	}
	return size_t(p - buf);
}

// The merges walk both index lists in ascending order; an index present on one side only
// pairs its value with 0.

float sparse_l2sq(const SparseView &a, const SparseView &b)
{
	float sum = 0;
	int32_t i = 0, j = 0;
	while (i < a.nnz || j < b.nnz) {
		float d;
		if (j == b.nnz || (i < a.nnz && a.indices[i] < b.indices[j]))
			d = a.values[i++];
		else if (i == a.nnz || b.indices[j] < a.indices[i])
			d = b.values[j++];
		else
			d = a.values[i++] - b.values[j++];
		sum += d * d;
	}
	return sum;
}

// Without branches on the indices (they mispredict about every other step of a merge): the
// product is added at every step, times 0 where the indices differ. Adding that zero (of
// either sign) leaves any sum as it is, and the running sum starts at +0, so the result is
// exactly the branching merge's.
float sparse_dot(const SparseView &a, const SparseView &b)
{
	const int32_t *ai = a.indices, *bi = b.indices;
	const float *av = a.values, *bv = b.values;
	const int32_t na = a.nnz, nb = b.nnz;
	float sum = 0;
	int32_t i = 0, j = 0;
	while (i < na && j < nb) {
		int32_t x = ai[i], y = bi[j];
		sum += av[i] * bv[j] * (float) (x == y);
		i += x <= y;
		j += y <= x;
	}
	return sum;
}

float sparse_l1(const SparseView &a, const SparseView &b)
{
	float sum = 0;
	int32_t i = 0, j = 0;
	while (i < a.nnz || j < b.nnz) {
		if (j == b.nnz || (i < a.nnz && a.indices[i] < b.indices[j]))
			sum += std::fabs(a.values[i++]);
		else if (i == a.nnz || b.indices[j] < a.indices[i])
			sum += std::fabs(b.values[j++]);
		else {
			sum += std::fabs(a.values[i] - b.values[j]);
			i++;
			j++;
		}
	}
	return sum;
}

float sparse_norm_sq(const SparseView &a)
{
	float sum = 0;
	for (int32_t i = 0; i < a.nnz; i++)
		sum += a.values[i] * a.values[i];
	return sum;
}

int sparse_compare(const SparseView &a, const SparseView &b)
{
	int32_t limit = a.dim < b.dim ? a.dim : b.dim;
	int32_t i = 0, j = 0;
	// Positions where both are zero compare equal: only the non-zeros need visiting.
	for (;;) {
		int32_t ai = i < a.nnz ? a.indices[i] : INT32_MAX;
		int32_t bj = j < b.nnz ? b.indices[j] : INT32_MAX;
		int32_t pos = ai < bj ? ai : bj;
		if (pos >= limit)
			break;
		float x = ai == pos ? a.values[i++] : 0.0f;
		float y = bj == pos ? b.values[j++] : 0.0f;
		if (x < y)
			return -1;
		if (x > y)
			return 1;
	}
	if (a.dim < b.dim)
		return -1;
	if (a.dim > b.dim)
		return 1;
	return 0;
}

}  // namespace prism
