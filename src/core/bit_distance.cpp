// Portable bit-distance kernels (the reference the POPCNT ones are tested against) and the
// load-time choice between them (see bit_distance.h).
#include "core/bit_distance.h"

#include <cstring>
#include <stdexcept>
#include <string>

namespace prism {

namespace {

// Population count without the POPCNT instruction (the SWAR bit-twiddling form).
inline uint64_t popcount_portable(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (x * 0x0101010101010101ull) >> 56;
}

inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	std::memcpy(&v, p, sizeof(v));
	return v;
}

uint64_t hamming_scalar(const uint8_t *a, const uint8_t *b, size_t bytes)
{
	uint64_t n = 0;
	size_t i = 0;
	for (; i + 8 <= bytes; i += 8)
		n += popcount_portable(load64(a + i) ^ load64(b + i));
	for (; i < bytes; i++)
		n += popcount_portable(uint64_t(a[i] ^ b[i]));
	return n;
}

void jaccard_scalar(const uint8_t *a, const uint8_t *b, size_t bytes, uint64_t *both, uint64_t *either)
{
	uint64_t x = 0, y = 0;
	size_t i = 0;
	for (; i + 8 <= bytes; i += 8) {
		uint64_t u = load64(a + i), v = load64(b + i);
		x += popcount_portable(u & v);
		y += popcount_portable(u | v);
	}
	for (; i < bytes; i++) {
		x += popcount_portable(uint64_t(a[i] & b[i]));
		y += popcount_portable(uint64_t(a[i] | b[i]));
	}
	*both = x;
	*either = y;
}

float hamming_scalar_dist(const void *a, const void *b, const void *bytes_ptr)
{
	return float(hamming_scalar(static_cast<const uint8_t *>(a), static_cast<const uint8_t *>(b),
					*static_cast<const size_t *>(bytes_ptr)));
}

float jaccard_scalar_dist(const void *a, const void *b, const void *bytes_ptr)
{
	uint64_t both, either;
	jaccard_scalar(static_cast<const uint8_t *>(a), static_cast<const uint8_t *>(b), *static_cast<const size_t *>(bytes_ptr),
	   &both, &either);
	return float(jaccard_from_counts(both, either));
}

const BitKernels kScalar = {hamming_scalar, jaccard_scalar, hamming_scalar_dist, jaccard_scalar_dist, BitIsa::Scalar};

bool cpu_has(BitIsa isa)
{
	__builtin_cpu_init();
	return isa == BitIsa::Scalar || (isa == BitIsa::Popcnt && __builtin_cpu_supports("popcnt"));
}

const BitKernels &unchecked(BitIsa isa)
{
	return isa == BitIsa::Popcnt ? detail::popcnt_bit_kernels() : kScalar;
}

}  // namespace

bool bit_isa_supported(BitIsa isa) { return cpu_has(isa); }

const char *bit_isa_name(BitIsa isa) { return isa == BitIsa::Popcnt ? "popcnt" : "scalar"; }

const BitKernels &best_bit_kernels()
{
	static const BitKernels &best = unchecked(cpu_has(BitIsa::Popcnt) ? BitIsa::Popcnt : BitIsa::Scalar);
	return best;
}

const BitKernels &bit_kernels_for(BitIsa isa)
{
	if (!bit_isa_supported(isa))
		throw std::invalid_argument(std::string("bit kernels for ") + bit_isa_name(isa) +
									" requested but this CPU does not support them");
	return unchecked(isa);
}

}  // namespace prism
