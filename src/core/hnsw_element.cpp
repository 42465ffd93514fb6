// Stored element kinds of the hnsw index: sizes, kernels and encoders (see hnsw_element.h).
#include "core/hnsw_element.h"

#include <cmath>
#include <cstring>
#include <emmintrin.h>
#include <stdexcept>

#include "core/bit_distance.h"
#include "core/half.h"
#include "core/hnsw_sparse.h"

namespace prism {
namespace hnsw {

// SSE2 (part of x86-64): eight floats a step in two accumulators, the sign bits masked off.
float l1_float(const void *a, const void *b, const void *dim_ptr)
{
	const float *x = static_cast<const float *>(a);
	const float *y = static_cast<const float *>(b);
	size_t n = *static_cast<const size_t *>(dim_ptr);
	const __m128 abs_mask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
	__m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		acc0 = _mm_add_ps(acc0, _mm_and_ps(_mm_sub_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(y + i)), abs_mask));
		acc1 = _mm_add_ps(acc1, _mm_and_ps(_mm_sub_ps(_mm_loadu_ps(x + i + 4), _mm_loadu_ps(y + i + 4)), abs_mask));
	}
	float lanes[4];
	_mm_storeu_ps(lanes, _mm_add_ps(acc0, acc1));
	float res = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
	for (; i < n; i++)
		res += std::fabs(x[i] - y[i]);
	return res;
}

ElementSpace element_space(ElementKind kind, Metric metric, uint32_t dims)
{
	if (!element_metric_valid(kind, metric))
		throw std::invalid_argument("metric not supported for this hnsw element type");
	ElementSpace s;
	s.kind = kind;
	s.metric = metric;
	s.dims = dims;
	s.words = element_words(kind, dims);
	s.param = dims;
	switch (kind) {
	case ElementKind::Float32: {
		Kernels k = best_kernels(dims);
		s.raw = metric == Metric::L2 ? k.l2sq : metric == Metric::L1 ? l1_float : k.dot;
		break;
	}
	case ElementKind::Half: {
		const HalfKernels &k = best_half_kernels();
		s.raw = metric == Metric::L2 ? k.l2sq : metric == Metric::L1 ? k.l1 : k.dot;
		break;
	}
	case ElementKind::Bit: {
		const BitKernels &k = best_bit_kernels();
		s.raw = metric == Metric::Hamming ? k.hamming_dist : k.jaccard_dist;
		s.param = ((size_t) dims + 7) / 8;	// the bit kernels count bytes
		break;
	}
	case ElementKind::Sparse:
		s.raw = metric == Metric::L2 ? sparse_handle_l2sq : metric == Metric::L1 ? sparse_handle_l1 : sparse_handle_dot;
		break;
	}
	return s;
}

// The norm in double, as the vector type's l2_normalize computes it.
static double norm_of(const float *v, uint32_t dims)
{
	double sq = 0;
	for (uint32_t i = 0; i < dims; i++)
		sq += (double) v[i] * v[i];
	return std::sqrt(sq);
}

bool encode_float_element(ElementKind kind, Metric metric, const float *in, uint32_t dims, void *out)
{
	size_t words = element_words(kind, dims);
	std::memset(out, 0, words * 4);
	double norm = 1;
	if (metric == Metric::Cosine) {
		norm = norm_of(in, dims);
		if (norm == 0)
			return false;
	}
	if (kind == ElementKind::Float32) {
		float *o = static_cast<float *>(out);
		for (uint32_t i = 0; i < dims; i++)
			o[i] = metric == Metric::Cosine ? (float) (in[i] / norm) : in[i];
	} else {
		uint16_t *o = static_cast<uint16_t *>(out);
		for (uint32_t i = 0; i < dims; i++)
			o[i] = float_to_half(metric == Metric::Cosine ? (float) (in[i] / norm) : in[i]);
	}
	return true;
}

bool encode_half_element(Metric metric, const uint16_t *in, uint32_t dims, void *out)
{
	size_t words = element_words(ElementKind::Half, dims);
	uint16_t *o = static_cast<uint16_t *>(out);
	std::memset(out, 0, words * 4);
	if (metric != Metric::Cosine) {
		std::memcpy(o, in, sizeof(uint16_t) * dims);
		return true;
	}
	double sq = 0;
	for (uint32_t i = 0; i < dims; i++) {
		double f = half_to_float(in[i]);
		sq += f * f;
	}
	double norm = std::sqrt(sq);
	if (norm == 0)
		return false;
	for (uint32_t i = 0; i < dims; i++)
		o[i] = float_to_half((float) (half_to_float(in[i]) / norm));
	return true;
}

void encode_bit_element(const uint8_t *in, uint32_t dims, void *out)
{
	size_t bytes = ((size_t) dims + 7) / 8;
	std::memset(out, 0, element_words(ElementKind::Bit, dims) * 4);
	std::memcpy(out, in, bytes);
}

void element_to_float(ElementKind kind, const void *elem, uint32_t dims, float *out)
{
	if (kind == ElementKind::Half) {
		const uint16_t *h = static_cast<const uint16_t *>(elem);
		for (uint32_t i = 0; i < dims; i++)
			out[i] = half_to_float(h[i]);
	} else {
		std::memcpy(out, elem, sizeof(float) * dims);
	}
}

long element_bad_value(ElementKind kind, const void *elem, uint32_t dims, bool *nan)
{
	*nan = false;
	if (kind == ElementKind::Float32) {
		const float *f = static_cast<const float *>(elem);
		for (uint32_t i = 0; i < dims; i++)
			if (!std::isfinite(f[i])) {
				*nan = std::isnan(f[i]);
				return (long) i;
			}
	} else if (kind == ElementKind::Half) {
		const uint16_t *h = static_cast<const uint16_t *>(elem);
		for (uint32_t i = 0; i < dims; i++)
			if (half_is_nan(h[i]) || half_is_inf(h[i])) {
				*nan = half_is_nan(h[i]);
				return (long) i;
			}
	}
	return -1;
}

}  // namespace hnsw
}  // namespace prism
