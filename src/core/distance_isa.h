// Private to the distance kernels: entry points of the per-ISA translation units
// (distance_sse.cpp, distance_avx2.cpp, distance_avx512.cpp). Only distance.cpp calls them,
// and only after checking the CPU supports the ISA.
#pragma once

#include "core/core_only.h"
#include "core/distance.h"

namespace prism {
namespace detail {

// Kernels for `dim`. When dim % 16 != 0 the returned functions are generic: they accept any
// dimension (16-wide body, 4-wide part, scalar tail), so dim = 1 yields kernels for every dim.
Kernels sse_kernels(size_t dim);
Kernels avx2_kernels(size_t dim);
Kernels avx512_kernels(size_t dim);

}  // namespace detail
}  // namespace prism
