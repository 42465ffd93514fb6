// The element an hnsw index stores per row, as a parameter of the graph code: float32 vectors,
// half-precision vectors (2 bytes a dimension) or bit strings (1 bit a dimension), each with
// the distance kernels of the operator class' metric, or sparse vectors (only their non-zeros,
// through a 16-byte handle: hnsw_sparse.h).
//
// The graph code (hnsw_search.h, hnsw_graph.h, the builder, the page store) handles a stored
// element as an opaque run of 32-bit words (`element_words`, padded with zero bytes): it copies,
// compares and hands elements to the kernel of an ElementSpace, and never reads their values. A
// new element type is a kind here (size, kernels, value checks) plus the Postgres glue that turns
// a datum into its words, not a copy of search, insert, build or vacuum.
// Pure C++17; no Postgres headers.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/core_only.h"
#include "core/distance.h"
#include "core/hnsw_format.h"

namespace prism {
namespace hnsw {

// Stored in the metapage (MetaPageData::element); 0 is float32 so metapages written before the
// field existed (zero there) read as what they hold.
enum class ElementKind : uint8_t { Float32 = 0, Half = 1, Bit = 2, Sparse = 3 };
constexpr uint8_t kElementKindLast = (uint8_t) ElementKind::Sparse;

// Dimensions an index of each kind accepts (the type's own maximum; records larger than a page
// span pages).
constexpr uint32_t kMaxFloat32Dims = 16000;
constexpr uint32_t kMaxHalfDims = 16000;
constexpr uint32_t kMaxBitDims = 64000;
constexpr uint32_t kMaxSparseDims = 1000000000;  // sparsevec's (kSparsevecMaxDim)

inline uint32_t element_max_dims(ElementKind kind)
{
	switch (kind) {
	case ElementKind::Float32:
		return kMaxFloat32Dims;
	case ElementKind::Half:
		return kMaxHalfDims;
	case ElementKind::Bit:
		return kMaxBitDims;
	case ElementKind::Sparse:
		return kMaxSparseDims;
	}
	return 0;
}

inline const char *element_kind_name(ElementKind kind)
{
	switch (kind) {
	case ElementKind::Float32:
		return "vector";
	case ElementKind::Half:
		return "halfvec";
	case ElementKind::Bit:
		return "bit";
	case ElementKind::Sparse:
		return "sparsevec";
	}
	return "unknown";
}

// 32-bit words of one stored element of `dims` dimensions (0 for an unknown kind); a sparse
// element's are its handle (hnsw_sparse.h), whatever its dimensions.
inline size_t element_words(ElementKind kind, uint32_t dims)
{
	switch (kind) {
	case ElementKind::Float32:
		return dims;
	case ElementKind::Half:
		return ((size_t) dims + 1) / 2;
	case ElementKind::Bit:
		return ((size_t) dims + 31) / 32;
	case ElementKind::Sparse:
		return 4;
	}
	return 0;
}
inline size_t element_bytes(ElementKind kind, uint32_t dims) { return element_words(kind, dims) * 4; }

// Whether an index of this kind can use `metric` (float and sparse kinds: l2, inner product, cosine, l1;
// bit: hamming, jaccard).
inline bool element_metric_valid(ElementKind kind, Metric metric)
{
	switch (kind) {
	case ElementKind::Float32:
	case ElementKind::Half:
	case ElementKind::Sparse:
		return metric == Metric::L2 || metric == Metric::InnerProduct || metric == Metric::Cosine ||
			   metric == Metric::L1;
	case ElementKind::Bit:
		return metric == Metric::Hamming || metric == Metric::Jaccard;
	}
	return false;
}

// The distance an index orders by, between two stored elements (or a query prepared the same
// way): raw kernel value turned into the metric's order (see element_distance). Plain data; the
// param is what hnswlib-shaped kernels read through their third argument.
struct ElementSpace {
	DistFunc raw;		  // l2sq, dot, l1, hamming or jaccard on the stored form
	Metric metric;
	size_t param;		  // the kernel's dimension argument (floats, halves or bytes)
	ElementKind kind;
	uint32_t dims;
	size_t words;
};

// Kernels for `kind` under `metric` at `dims` (best ISA of this CPU). Throws
// std::invalid_argument for a combination element_metric_valid rejects.
ElementSpace element_space(ElementKind kind, Metric metric, uint32_t dims);

// Distances the graph orders by: l2 squared, -dot (inner product), 1 - dot (cosine, on
// normalized elements), l1, hamming, jaccard.
inline float element_distance(const ElementSpace &s, const void *a, const void *b)
{
	float d = s.raw(a, b, &s.param);
	switch (s.metric) {
	case Metric::InnerProduct:
		return -d;
	case Metric::Cosine:
		return 1.0f - d;
	default:
		return d;
	}
}

// What the SQL ordering operator returns for graph distance d (l2 is ordered by its square).
inline double element_operator_value(Metric metric, float d)
{
	return metric == Metric::L2 ? std::sqrt((double) d) : (double) d;
}

// Encodes dims floats as a stored element of `kind` (Float32 or Half) into out[0..words),
// normalized under cosine. Returns false if the element cannot be indexed (a zero vector under
// cosine, which has no direction).
bool encode_float_element(ElementKind kind, Metric metric, const float *in, uint32_t dims, void *out);
// Encodes dims half values (as the halfvec type holds them) into out[0..words); normalized
// (through float, rounded back to half) under cosine. Same return as encode_float_element.
bool encode_half_element(Metric metric, const uint16_t *in, uint32_t dims, void *out);
// Encodes a bit string of dims bits (bytes as Postgres' bit type holds them) into out[0..words).
void encode_bit_element(const uint8_t *in, uint32_t dims, void *out);

// Converts a stored float kind element to dims floats (the builder's lifted inner-product graph).
void element_to_float(ElementKind kind, const void *elem, uint32_t dims, float *out);

// The first dimension of a stored element that is not a finite number (NaN or infinite), or -1;
// *nan says which. Bit elements have none.
long element_bad_value(ElementKind kind, const void *elem, uint32_t dims, bool *nan);

// Plain L1 distance between float vectors in hnswlib's DISTFUNC shape (vector_l1_ops).
float l1_float(const void *a, const void *b, const void *dim_ptr);

}  // namespace hnsw
}  // namespace prism
