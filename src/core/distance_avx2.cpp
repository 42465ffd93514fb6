// AVX2+FMA kernels: this file is compiled with -mavx2 -mfma (Makefile and CMakeLists.txt), so
// hnswlib enables its AVX code. Called only when the CPU reports avx2 and fma (distance.cpp).
// Nothing here may be reachable from code that runs before that check.
#include "core/distance_hnswlib.h"

namespace prism_isa_avx2 {
#include <hnswlib/hnswlib.h>
}

#include "core/distance_isa.h"

#if !defined(__AVX2__) || !defined(__FMA__)
#error "distance_avx2.cpp must be compiled with -mavx2 -mfma"
#endif

#define PRISM_ISA_NS prism_isa_avx2
#define PRISM_ISA Isa::Avx2
#define PRISM_KERNELS_FN avx2_kernels
#define PRISM_L2_16 hnswlib::L2SqrSIMD16ExtAVX
#define PRISM_L2_4 hnswlib::L2SqrSIMD4Ext
#define PRISM_IP_16 hnswlib::InnerProductSIMD16ExtAVX
#define PRISM_IP_4 hnswlib::InnerProductSIMD4ExtAVX
#include "core/distance_isa_body.h"
