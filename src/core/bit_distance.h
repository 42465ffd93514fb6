// Distances between bit strings (the `bit` type's hamming_distance and jaccard_distance, and
// the kernels a bit opclass needs): popcount over 64-bit words, in a portable version and one
// compiled for the POPCNT instruction, chosen at load time. Bits past the string's length in
// its last byte must be zero (Postgres keeps them so). Pure C++17; no Postgres headers.
#pragma once

#include "core/core_only.h"
#include "core/distance.h"

#include <cstddef>
#include <cstdint>

namespace prism {

enum class BitIsa { Scalar = 0, Popcnt = 1 };

struct BitKernels {
	// Number of differing bits in a[0..bytes) and b[0..bytes).
	uint64_t (*hamming)(const uint8_t *a, const uint8_t *b, size_t bytes);
	// Bits set in both (*both) and in either (*either).
	void (*jaccard_counts)(const uint8_t *a, const uint8_t *b, size_t bytes, uint64_t *both, uint64_t *either);
	// The same two distances in hnswlib's DISTFUNC shape (dim_ptr points to the size_t byte
	// count), for code that takes a DistFunc: Hamming as a float (exact below 2^24 bits) and
	// the Jaccard distance of jaccard_from_counts.
	DistFunc hamming_dist;
	DistFunc jaccard_dist;
	BitIsa isa;
};

const BitKernels &best_bit_kernels();
// Kernels of one ISA (tests, benchmarks); throws std::invalid_argument if unsupported.
const BitKernels &bit_kernels_for(BitIsa isa);
bool bit_isa_supported(BitIsa isa);
const char *bit_isa_name(BitIsa isa);

// 1 - |a & b| / |a | b|; 1 when no bit is set in both (pgvector's value, also for two empty
// sets).
inline double jaccard_from_counts(uint64_t both, uint64_t either)
{
	if (both == 0)
		return 1.0;
	return 1.0 - double(both) / double(either);
}

namespace detail {
// Defined in bit_popcnt.cpp (compiled with -mpopcnt); call only when supported.
const BitKernels &popcnt_bit_kernels();
}  // namespace detail

}  // namespace prism
