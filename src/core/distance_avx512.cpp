// AVX-512 kernels: this file is compiled with -mavx512f -mavx512dq -mavx2 -mfma (Makefile and
// CMakeLists.txt), so hnswlib enables its AVX-512 code. Called only when the CPU reports
// avx512f, avx512dq, avx2 and fma (distance.cpp).
#include "core/distance_hnswlib.h"

namespace prism_isa_avx512 {
#include <hnswlib/hnswlib.h>
}

#include "core/distance_isa.h"

#if !defined(__AVX512F__) || !defined(__AVX512DQ__)
#error "distance_avx512.cpp must be compiled with -mavx512f -mavx512dq -mavx2 -mfma"
#endif

#define PRISM_ISA_NS prism_isa_avx512
#define PRISM_ISA Isa::Avx512
#define PRISM_KERNELS_FN avx512_kernels
#define PRISM_L2_16 hnswlib::L2SqrSIMD16ExtAVX512
#define PRISM_L2_4 hnswlib::L2SqrSIMD4Ext
#define PRISM_IP_16 hnswlib::InnerProductSIMD16ExtAVX512
#define PRISM_IP_4 hnswlib::InnerProductSIMD4ExtAVX
#include "core/distance_isa_body.h"
