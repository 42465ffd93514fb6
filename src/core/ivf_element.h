// Element codecs of the ivfflat index: how a stored vector (float4, IEEE half or bits, see
// ivf_format.h) turns into the float4 vector k-means, the centers and list ranking work on,
// how a float4 center is stored, and the kernels that compare two stored vectors. The opclass
// picks the element type; build, insert, scan, vacuum and the check go through these only.
// Pure C++17; no Postgres headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/core_only.h"
#include "core/distance.h"
#include "core/ivf_format.h"

namespace prism {
namespace ivf {

struct ElementOps {
	ElementType type;
	size_t dims;
	size_t bytes;  // of one stored vector
	// Distances between two stored vectors in hnswlib's DISTFUNC shape; `param` is what their
	// third argument points to. l2sq is the squared L2 distance (for bits: the Hamming
	// distance, equal to it on 0/1 vectors); dot the inner product (nullptr for bits).
	DistFunc l2sq;
	DistFunc dot;
	size_t param;
};

// Codec and kernels of `type` at `dims` dimensions (kernels chosen for this CPU).
ElementOps element_ops(ElementType type, size_t dims);

// Stored vector -> float4 (bits give 0 and 1).
void element_decode(const ElementOps &e, const void *stored, float *out);
// float4 -> stored vector: halves round to nearest, a bit is set when its value is above 0.5
// (the majority of a center's members have it set).
void element_encode(const ElementOps &e, const float *in, void *stored);
// Replaces v by what storing and reading it back gives (a center as the index holds it).
void element_round(const ElementOps &e, float *v, void *scratch);

}  // namespace ivf
}  // namespace prism
