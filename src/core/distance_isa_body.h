// Private: the per-ISA dispatch glue, textually included once by each ISA file after it has
// defined PRISM_ISA_NS (namespace holding its hnswlib copy), PRISM_ISA (prism::Isa value),
// PRISM_KERNELS_FN (entry point name in prism::detail) and the hnswlib kernels to use:
// PRISM_L2_16, PRISM_L2_4, PRISM_IP_16, PRISM_IP_4 (16- and 4-float-block bodies).
// No include guard on purpose.
//
// Selection follows hnswlib's L2Space/InnerProductSpace (16-block kernel when dim % 16 == 0,
// residual variants otherwise, scalar below 4), with two differences: the dot kernel returns the
// plain inner product, not 1 - dot; and a residual dim uses the 16-wide body, then the 4-wide
// body, then a scalar tail (hnswlib sends e.g. dim 100 to the 4-wide SSE loop only).

namespace PRISM_ISA_NS {
namespace {

inline size_t
dim_of(const void *dim_ptr)
{
	return *static_cast<const size_t *>(dim_ptr);
}

float
l2sq_any(const void *a, const void *b, const void *dim_ptr)
{
	const float *x = static_cast<const float *>(a);
	const float *y = static_cast<const float *>(b);
	size_t n = dim_of(dim_ptr);
	size_t n16 = n & ~size_t(15);
	size_t n4 = n & ~size_t(3);
	float res = 0.0f;

	if (n16 > 0)
		res += PRISM_L2_16(x, y, &n16);
	if (n4 > n16) {
		size_t m = n4 - n16;
		res += PRISM_L2_4(x + n16, y + n16, &m);
	}
	if (n > n4) {
		size_t m = n - n4;
		res += hnswlib::L2Sqr(x + n4, y + n4, &m);
	}
	return res;
}

float
dot_any(const void *a, const void *b, const void *dim_ptr)
{
	const float *x = static_cast<const float *>(a);
	const float *y = static_cast<const float *>(b);
	size_t n = dim_of(dim_ptr);
	size_t n16 = n & ~size_t(15);
	size_t n4 = n & ~size_t(3);
	float res = 0.0f;

	if (n16 > 0)
		res += PRISM_IP_16(x, y, &n16);
	if (n4 > n16) {
		size_t m = n4 - n16;
		res += PRISM_IP_4(x + n16, y + n16, &m);
	}
	if (n > n4) {
		size_t m = n - n4;
		res += hnswlib::InnerProduct(x + n4, y + n4, &m);
	}
	return res;
}

}  // namespace
}  // namespace PRISM_ISA_NS

namespace prism {
namespace detail {

Kernels
PRISM_KERNELS_FN(size_t dim)
{
	Kernels k;

	k.isa = PRISM_ISA;
	if (dim % 16 == 0 && dim > 0) {
		// hnswlib's SIMD16 kernels straight, no glue.
		k.l2sq = PRISM_ISA_NS::PRISM_L2_16;
		k.dot = PRISM_ISA_NS::PRISM_IP_16;
	} else {
		k.l2sq = PRISM_ISA_NS::l2sq_any;
		k.dot = PRISM_ISA_NS::dot_any;
	}
	return k;
}

}  // namespace detail
}  // namespace prism
