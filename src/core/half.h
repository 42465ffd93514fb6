// IEEE 754 binary16 ("half") support for the `halfvec` type: conversions to and from float and
// the half-precision distance kernels (L2, inner product, L1), in a portable scalar version and
// an F16C+FMA version chosen at load time when the CPU has it (like the float kernels of
// distance.h). Kernels convert each half to float and accumulate in float, as pgvector does.
// Pure C++17; no Postgres headers.
#pragma once

#include "core/core_only.h"
#include "core/distance.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace prism {

// A half is kept as its 16 bits; arithmetic happens in float.
using half_bits = uint16_t;

constexpr half_bits kHalfPositiveInfinity = 0x7c00;
constexpr float kHalfMax = 65504.0f;

inline bool half_is_nan(half_bits h) { return (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0; }
inline bool half_is_inf(half_bits h) { return (h & 0x7fff) == 0x7c00; }
inline bool half_is_zero(half_bits h) { return (h & 0x7fff) == 0; }

// Exact: every half is a float.
inline float half_to_float_scalar(half_bits h)
{
	uint32_t sign = uint32_t(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff;
	uint32_t bits;
	if (exp == 0) {
		// zero or subnormal: mant * 2^-24, exact in float
		float f = float(mant) * 5.9604644775390625e-8f;
		return sign ? -f : f;
	}
	if (exp == 31)
		bits = sign | 0x7f800000u | (mant << 13);	// inf, or NaN keeping its payload
	else
		bits = sign | ((exp + 112) << 23) | (mant << 13);
	float f;
	std::memcpy(&f, &bits, sizeof(f));
	return f;
}

// Round to nearest, ties to even (IEEE's default, and what F16C does with rounding mode 0):
// finite floats of magnitude >= 65520 become infinity, tiny ones subnormal halves or zero (sign
// kept); NaN stays NaN (quiet).
half_bits float_to_half_scalar(float f);

enum class HalfIsa { Scalar = 0, F16c = 1 };

struct HalfKernels {
	// hnswlib's DISTFUNC shape: a and b point to half_bits arrays, dim_ptr to a size_t.
	DistFunc l2sq;	// squared Euclidean distance
	DistFunc dot;	// plain inner product
	DistFunc l1;	// taxicab distance
	void (*to_float)(const half_bits *in, float *out, size_t n);
	void (*from_float)(const float *in, half_bits *out, size_t n);	// float_to_half rounding
	HalfIsa isa;
};

// Best kernels this CPU supports (decided once).
const HalfKernels &best_half_kernels();
// Kernels of one ISA (tests, benchmarks); throws std::invalid_argument if unsupported.
const HalfKernels &half_kernels_for(HalfIsa isa);
bool half_isa_supported(HalfIsa isa);
const char *half_isa_name(HalfIsa isa);

inline float half_to_float(half_bits h) { return half_to_float_scalar(h); }
inline half_bits float_to_half(float f) { return float_to_half_scalar(f); }

namespace detail {
// Defined in half_f16c.cpp (compiled with -mavx -mf16c -mfma); call only when supported.
const HalfKernels &f16c_half_kernels();
}  // namespace detail

}  // namespace prism
