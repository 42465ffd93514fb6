// F16C + FMA half kernels: this file is compiled with -mavx -mf16c -mfma (Makefile and
// CMakeLists.txt) and only reached after half.cpp checked the CPU for avx, f16c and fma.
// Eight halves at a time are widened to floats (vcvtph2ps) and accumulated in eight float
// lanes; the tail goes through the scalar conversion.
#include "core/half.h"

#include <immintrin.h>

#include <cmath>

#if !defined(__F16C__) || !defined(__FMA__) || !defined(__AVX__)
#error "half_f16c.cpp must be compiled with -mavx -mf16c -mfma"
#endif

namespace prism {
namespace {

inline size_t dim_of(const void *dim_ptr) { return *static_cast<const size_t *>(dim_ptr); }

// Local conversions: the inline helpers of half.h must not be instantiated in this file (the
// linker could keep this AVX-compiled copy for every caller).
inline float cvt1(half_bits h) { return _cvtsh_ss(h); }

inline __m256 load8(const half_bits *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
}

inline float hsum(__m256 v)
{
	__m128 lo = _mm256_castps256_ps128(v);
	__m128 hi = _mm256_extractf128_ps(v, 1);
	lo = _mm_add_ps(lo, hi);
	lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
	lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
	return _mm_cvtss_f32(lo);
}

float l2sq_f16c(const void *a, const void *b, const void *dim_ptr)
{
	const half_bits *x = static_cast<const half_bits *>(a);
	const half_bits *y = static_cast<const half_bits *>(b);
	size_t n = dim_of(dim_ptr);
	size_t i = 0;
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	for (; i + 16 <= n; i += 16) {
		__m256 d0 = _mm256_sub_ps(load8(x + i), load8(y + i));
		__m256 d1 = _mm256_sub_ps(load8(x + i + 8), load8(y + i + 8));
		acc0 = _mm256_fmadd_ps(d0, d0, acc0);
		acc1 = _mm256_fmadd_ps(d1, d1, acc1);
	}
	for (; i + 8 <= n; i += 8) {
		__m256 d = _mm256_sub_ps(load8(x + i), load8(y + i));
		acc0 = _mm256_fmadd_ps(d, d, acc0);
	}
	float res = hsum(_mm256_add_ps(acc0, acc1));
	for (; i < n; i++) {
		float d = cvt1(x[i]) - cvt1(y[i]);
		res += d * d;
	}
	return res;
}

float dot_f16c(const void *a, const void *b, const void *dim_ptr)
{
	const half_bits *x = static_cast<const half_bits *>(a);
	const half_bits *y = static_cast<const half_bits *>(b);
	size_t n = dim_of(dim_ptr);
	size_t i = 0;
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	for (; i + 16 <= n; i += 16) {
		acc0 = _mm256_fmadd_ps(load8(x + i), load8(y + i), acc0);
		acc1 = _mm256_fmadd_ps(load8(x + i + 8), load8(y + i + 8), acc1);
	}
	for (; i + 8 <= n; i += 8)
		acc0 = _mm256_fmadd_ps(load8(x + i), load8(y + i), acc0);
	float res = hsum(_mm256_add_ps(acc0, acc1));
	for (; i < n; i++)
		res += cvt1(x[i]) * cvt1(y[i]);
	return res;
}

float l1_f16c(const void *a, const void *b, const void *dim_ptr)
{
	const half_bits *x = static_cast<const half_bits *>(a);
	const half_bits *y = static_cast<const half_bits *>(b);
	size_t n = dim_of(dim_ptr);
	size_t i = 0;
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	for (; i + 16 <= n; i += 16) {
		acc0 = _mm256_add_ps(acc0, _mm256_andnot_ps(sign, _mm256_sub_ps(load8(x + i), load8(y + i))));
		acc1 = _mm256_add_ps(acc1,
							 _mm256_andnot_ps(sign, _mm256_sub_ps(load8(x + i + 8), load8(y + i + 8))));
	}
	for (; i + 8 <= n; i += 8)
		acc0 = _mm256_add_ps(acc0, _mm256_andnot_ps(sign, _mm256_sub_ps(load8(x + i), load8(y + i))));
	float res = hsum(_mm256_add_ps(acc0, acc1));
	for (; i < n; i++)
		res += std::fabs(cvt1(x[i]) - cvt1(y[i]));
	return res;
}

void to_float_f16c(const half_bits *in, float *out, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, load8(in + i));
	for (; i < n; i++)
		out[i] = cvt1(in[i]);
}

void from_float_f16c(const float *in, half_bits *out, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
		_mm_storeu_si128(reinterpret_cast<__m128i *>(out + i), h);
	}
	for (; i < n; i++)
		out[i] = half_bits(_cvtss_sh(in[i], _MM_FROUND_TO_NEAREST_INT));
}

const HalfKernels kF16c = {l2sq_f16c, dot_f16c, l1_f16c, to_float_f16c, from_float_f16c, HalfIsa::F16c};

}  // namespace

namespace detail {
const HalfKernels &f16c_half_kernels() { return kF16c; }
}  // namespace detail

}  // namespace prism
