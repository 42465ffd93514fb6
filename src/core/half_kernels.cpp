// The scalar half kernels (the reference the F16C ones are tested against) and the load-time
// choice between them (see half.h).
#include "core/half.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace prism {

namespace {

inline size_t dim_of(const void *dim_ptr) { return *static_cast<const size_t *>(dim_ptr); }

float l2sq_scalar(const void *a, const void *b, const void *dim_ptr)
{
	const half_bits *x = static_cast<const half_bits *>(a);
	const half_bits *y = static_cast<const half_bits *>(b);
	size_t n = dim_of(dim_ptr);
	float res = 0.0f;
	for (size_t i = 0; i < n; i++) {
		float d = half_to_float_scalar(x[i]) - half_to_float_scalar(y[i]);
		res += d * d;
	}
	return res;
}

float dot_scalar(const void *a, const void *b, const void *dim_ptr)
{
	const half_bits *x = static_cast<const half_bits *>(a);
	const half_bits *y = static_cast<const half_bits *>(b);
	size_t n = dim_of(dim_ptr);
	float res = 0.0f;
	for (size_t i = 0; i < n; i++)
		res += half_to_float_scalar(x[i]) * half_to_float_scalar(y[i]);
	return res;
}

float l1_scalar(const void *a, const void *b, const void *dim_ptr)
{
	const half_bits *x = static_cast<const half_bits *>(a);
	const half_bits *y = static_cast<const half_bits *>(b);
	size_t n = dim_of(dim_ptr);
	float res = 0.0f;
	for (size_t i = 0; i < n; i++)
		res += std::fabs(half_to_float_scalar(x[i]) - half_to_float_scalar(y[i]));
	return res;
}

void to_float_scalar(const half_bits *in, float *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = half_to_float_scalar(in[i]);
}

void from_float_scalar(const float *in, half_bits *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = float_to_half_scalar(in[i]);
}

const HalfKernels kScalar = {l2sq_scalar, dot_scalar, l1_scalar, to_float_scalar, from_float_scalar,
							 HalfIsa::Scalar};

bool cpu_has(HalfIsa isa)
{
	__builtin_cpu_init();
	switch (isa) {
		case HalfIsa::Scalar:
			return true;
		case HalfIsa::F16c:
			// half_f16c.cpp is compiled with -mavx -mf16c -mfma.
			return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c") &&
				   __builtin_cpu_supports("fma");
	}
	return false;
}

const HalfKernels &unchecked(HalfIsa isa)
{
	return isa == HalfIsa::F16c ? detail::f16c_half_kernels() : kScalar;
}

}  // namespace

bool half_isa_supported(HalfIsa isa) { return cpu_has(isa); }

const char *half_isa_name(HalfIsa isa)
{
	switch (isa) {
		case HalfIsa::Scalar:
			return "scalar";
		case HalfIsa::F16c:
			return "f16c";
	}
	return "unknown";
}

const HalfKernels &best_half_kernels()
{
	static const HalfKernels &best = unchecked(cpu_has(HalfIsa::F16c) ? HalfIsa::F16c : HalfIsa::Scalar);
	return best;
}

const HalfKernels &half_kernels_for(HalfIsa isa)
{
	if (!half_isa_supported(isa))
		throw std::invalid_argument(std::string("half kernels for ") + half_isa_name(isa) +
									" requested but this CPU does not support them");
	return unchecked(isa);
}

}  // namespace prism
