// Baseline x86-64 kernels (SSE2, no extra compiler flags): hnswlib's SSE L2 / inner-product code.
#include "core/distance_hnswlib.h"

namespace prism_isa_sse {
#include <hnswlib/hnswlib.h>
}

#include "core/distance_isa.h"

#define PRISM_ISA_NS prism_isa_sse
#define PRISM_ISA Isa::Sse
#define PRISM_KERNELS_FN sse_kernels
#define PRISM_L2_16 hnswlib::L2SqrSIMD16ExtSSE
#define PRISM_L2_4 hnswlib::L2SqrSIMD4Ext
#define PRISM_IP_16 hnswlib::InnerProductSIMD16ExtSSE
#define PRISM_IP_4 hnswlib::InnerProductSIMD4ExtSSE
#include "core/distance_isa_body.h"
