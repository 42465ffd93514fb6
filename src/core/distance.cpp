// Runtime CPU dispatch for the distance kernels (see distance.h), plus the scalar reference.
// The best ISA is detected once (first call); later calls only read a cached value.
#include "core/distance.h"

#include <stdexcept>
#include <string>

#include "core/distance_isa.h"

namespace prism {

namespace {

// Plain loops: the reference the SIMD variants are tested against. Compiled with baseline
// flags and without -ffast-math, so the compiler keeps them scalar.
float
l2sq_scalar(const void *a, const void *b, const void *dim_ptr)
{
	const float *x = static_cast<const float *>(a);
	const float *y = static_cast<const float *>(b);
	size_t n = *static_cast<const size_t *>(dim_ptr);
	float res = 0.0f;

	for (size_t i = 0; i < n; i++) {
		float d = x[i] - y[i];
		res += d * d;
	}
	return res;
}

float
dot_scalar(const void *a, const void *b, const void *dim_ptr)
{
	const float *x = static_cast<const float *>(a);
	const float *y = static_cast<const float *>(b);
	size_t n = *static_cast<const size_t *>(dim_ptr);
	float res = 0.0f;

	for (size_t i = 0; i < n; i++)
		res += x[i] * y[i];
	return res;
}

bool
cpu_has(Isa isa)
{
	// Safe even if called from a static constructor before libgcc's own initialiser ran.
	__builtin_cpu_init();
	switch (isa) {
		case Isa::Scalar:
		case Isa::Sse:
			return true;	// SSE2 is part of x86-64
		case Isa::Avx2:
			return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
		case Isa::Avx512:
			// That file is also compiled with -mavx2 -mfma, so require those too.
			return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
				   __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	}
	return false;
}

Isa
detect_best_isa()
{
	if (cpu_has(Isa::Avx512))
		return Isa::Avx512;
	if (cpu_has(Isa::Avx2))
		return Isa::Avx2;
	return Isa::Sse;
}

Isa
best_isa()
{
	static const Isa best = detect_best_isa();
	return best;
}

Kernels
kernels_unchecked(Isa isa, size_t dim)
{
	switch (isa) {
		case Isa::Avx512:
			return detail::avx512_kernels(dim);
		case Isa::Avx2:
			return detail::avx2_kernels(dim);
		case Isa::Sse:
			return detail::sse_kernels(dim);
		case Isa::Scalar:
			break;
	}
	return Kernels{l2sq_scalar, dot_scalar, Isa::Scalar};
}

// Kernels for any dimension (the generic variants, see distance_isa.h), for the wrappers.
const Kernels &
generic_kernels()
{
	static const Kernels k = kernels_unchecked(best_isa(), 1);
	return k;
}

}  // namespace

bool
isa_supported(Isa isa)
{
	return cpu_has(isa);
}

const char *
isa_name(Isa isa)
{
	switch (isa) {
		case Isa::Scalar:
			return "scalar";
		case Isa::Sse:
			return "sse";
		case Isa::Avx2:
			return "avx2";
		case Isa::Avx512:
			return "avx512";
	}
	return "unknown";
}

Kernels
best_kernels(size_t dim)
{
	return kernels_unchecked(best_isa(), dim);
}

Kernels
kernels_for(Isa isa, size_t dim)
{
	if (!isa_supported(isa))
		throw std::invalid_argument(std::string("distance kernels for ") + isa_name(isa) +
									" requested but this CPU does not support them");
	return kernels_unchecked(isa, dim);
}

float
l2sq_distance(const float *a, const float *b, size_t dim)
{
	return generic_kernels().l2sq(a, b, &dim);
}

float
dot_product(const float *a, const float *b, size_t dim)
{
	return generic_kernels().dot(a, b, &dim);
}

}  // namespace prism
