// Element codecs of the ivfflat index (see ivf_element.h).
#include "core/ivf_element.h"

#include <cstring>

#include "core/bit_distance.h"
#include "core/half.h"

namespace prism {
namespace ivf {

ElementOps element_ops(ElementType type, size_t dims)
{
	ElementOps e;
	e.type = type;
	e.dims = dims;
	e.bytes = vector_bytes(type, (uint32_t) dims);
	switch (type) {
	case ElementType::Half: {
		const HalfKernels &k = best_half_kernels();
		e.l2sq = k.l2sq;
		e.dot = k.dot;
		e.param = dims;
		break;
	}
	case ElementType::Bit:
		e.l2sq = best_bit_kernels().hamming_dist;
		e.dot = nullptr;
		e.param = e.bytes;
		break;
	case ElementType::Float32:
	default: {
		Kernels k = best_kernels(dims);
		e.l2sq = k.l2sq;
		e.dot = k.dot;
		e.param = dims;
		break;
	}
	}
	return e;
}

void element_decode(const ElementOps &e, const void *stored, float *out)
{
	switch (e.type) {
	case ElementType::Half:
		best_half_kernels().to_float((const half_bits *) stored, out, e.dims);
		break;
	case ElementType::Bit: {
		const uint8_t *b = (const uint8_t *) stored;
		for (size_t i = 0; i < e.dims; i++)
			out[i] = (b[i >> 3] >> (7 - (i & 7))) & 1 ? 1.0f : 0.0f;	// first bit: the byte's top bit
		break;
	}
	case ElementType::Float32:
	default:
		std::memcpy(out, stored, sizeof(float) * e.dims);
		break;
	}
}

void element_encode(const ElementOps &e, const float *in, void *stored)
{
	switch (e.type) {
	case ElementType::Half:
		best_half_kernels().from_float(in, (half_bits *) stored, e.dims);
		break;
	case ElementType::Bit: {
		uint8_t *b = (uint8_t *) stored;
		std::memset(b, 0, e.bytes);
		for (size_t i = 0; i < e.dims; i++)
			if (in[i] > 0.5f)
				b[i >> 3] |= (uint8_t) (0x80u >> (i & 7));
		break;
	}
	case ElementType::Float32:
	default:
		std::memcpy(stored, in, sizeof(float) * e.dims);
		break;
	}
}

void element_round(const ElementOps &e, float *v, void *scratch)
{
	if (e.type == ElementType::Float32)
		return;
	element_encode(e, v, scratch);
	element_decode(e, scratch, v);
}

}  // namespace ivf
}  // namespace prism
