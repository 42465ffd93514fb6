// Distance kernels: hnswlib's L2 / inner-product SIMD code compiled once per instruction-set
// level (baseline SSE2, AVX2+FMA, AVX-512) and chosen at load time by CPU feature checks.
// Pure C++17; no Postgres headers.
#pragma once

#include <cstddef>

namespace prism {

// hnswlib's DISTFUNC shape: (a, b, pointer to size_t dim). Lets the same pointer serve
// hnswlib's builder (through a SpaceInterface) and our own scan loop.
using DistFunc = float (*)(const void *a, const void *b, const void *dim_ptr);

enum class Isa { Scalar = 0, Sse = 1, Avx2 = 2, Avx512 = 3 };

struct Kernels {
	DistFunc l2sq;	// squared Euclidean distance
	DistFunc dot;	// plain inner product (not 1 - dot)
	Isa isa;
};

// Best kernels this CPU supports for vectors of `dim` floats.
Kernels best_kernels(size_t dim);
// Kernels of one specific ISA (for tests and benchmarks); isa must be supported by the CPU.
Kernels kernels_for(Isa isa, size_t dim);
bool isa_supported(Isa isa);
const char *isa_name(Isa isa);

// Convenience wrappers using the best kernels.
float l2sq_distance(const float *a, const float *b, size_t dim);
float dot_product(const float *a, const float *b, size_t dim);

}  // namespace prism
