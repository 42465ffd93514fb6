// POPCNT bit-distance kernels: this file is compiled with -mpopcnt (Makefile and
// CMakeLists.txt) and only reached after bit_distance.cpp found popcnt on the CPU. Four
// independent counters per loop keep the popcnt units busy.
#include "core/bit_distance.h"

#include <cstring>

#if !defined(__POPCNT__)
#error "bit_popcnt.cpp must be compiled with -mpopcnt"
#endif

namespace prism {
namespace {

inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	std::memcpy(&v, p, sizeof(v));
	return v;
}

inline uint64_t pop(uint64_t x) { return uint64_t(__builtin_popcountll(x)); }

uint64_t hamming_popcnt(const uint8_t *a, const uint8_t *b, size_t bytes)
{
	uint64_t n0 = 0, n1 = 0, n2 = 0, n3 = 0;
	size_t i = 0;
	for (; i + 32 <= bytes; i += 32) {
		n0 += pop(load64(a + i) ^ load64(b + i));
		n1 += pop(load64(a + i + 8) ^ load64(b + i + 8));
		n2 += pop(load64(a + i + 16) ^ load64(b + i + 16));
		n3 += pop(load64(a + i + 24) ^ load64(b + i + 24));
	}
	for (; i + 8 <= bytes; i += 8)
		n0 += pop(load64(a + i) ^ load64(b + i));
	for (; i < bytes; i++)
		n1 += pop(uint64_t(a[i] ^ b[i]));
	return n0 + n1 + n2 + n3;
}

void jaccard_popcnt(const uint8_t *a, const uint8_t *b, size_t bytes, uint64_t *both, uint64_t *either)
{
	uint64_t x0 = 0, x1 = 0, y0 = 0, y1 = 0;
	size_t i = 0;
	for (; i + 16 <= bytes; i += 16) {
		uint64_t u0 = load64(a + i), v0 = load64(b + i);
		uint64_t u1 = load64(a + i + 8), v1 = load64(b + i + 8);
		x0 += pop(u0 & v0);
		y0 += pop(u0 | v0);
		x1 += pop(u1 & v1);
		y1 += pop(u1 | v1);
	}
	for (; i + 8 <= bytes; i += 8) {
		uint64_t u = load64(a + i), v = load64(b + i);
		x0 += pop(u & v);
		y0 += pop(u | v);
	}
	for (; i < bytes; i++) {
		x1 += pop(uint64_t(a[i] & b[i]));
		y1 += pop(uint64_t(a[i] | b[i]));
	}
	*both = x0 + x1;
	*either = y0 + y1;
}

float hamming_popcnt_dist(const void *a, const void *b, const void *bytes_ptr)
{
	return float(hamming_popcnt(static_cast<const uint8_t *>(a), static_cast<const uint8_t *>(b),
					*static_cast<const size_t *>(bytes_ptr)));
}

float jaccard_popcnt_dist(const void *a, const void *b, const void *bytes_ptr)
{
	uint64_t both, either;
	jaccard_popcnt(static_cast<const uint8_t *>(a), static_cast<const uint8_t *>(b), *static_cast<const size_t *>(bytes_ptr),
	   &both, &either);
	return float(jaccard_from_counts(both, either));
}

const BitKernels kPopcnt = {hamming_popcnt, jaccard_popcnt, hamming_popcnt_dist, jaccard_popcnt_dist, BitIsa::Popcnt};

}  // namespace

namespace detail {
const BitKernels &popcnt_bit_kernels() { return kPopcnt; }
}  // namespace detail

}  // namespace prism
