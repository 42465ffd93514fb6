// Distance kernels: every ISA variant this CPU supports must match a double-precision reference.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/distance.h"

// Readable parameter names in gtest/ctest output (found by ADL).
namespace prism {
static void
PrintTo(Isa isa, std::ostream *os)
{
	*os << isa_name(isa);
}
}  // namespace prism

namespace {

using prism::Isa;

const Isa kAllIsas[] = {Isa::Scalar, Isa::Sse, Isa::Avx2, Isa::Avx512};
const size_t kDims[] = {1, 3, 15, 16, 17, 127, 128, 768, 1536, 2000};
constexpr double kMaxRelError = 1e-5;

struct Reference {
	double value;
	double scale;	// sum of |terms|: keeps the bound meaningful when a dot cancels to ~0
};

Reference
ref_l2sq(const std::vector<float> &a, const std::vector<float> &b)
{
	double sum = 0;
	for (size_t i = 0; i < a.size(); i++) {
		double d = double(a[i]) - double(b[i]);
		sum += d * d;
	}
	return {sum, sum};
}

Reference
ref_dot(const std::vector<float> &a, const std::vector<float> &b)
{
	double sum = 0, scale = 0;
	for (size_t i = 0; i < a.size(); i++) {
		double t = double(a[i]) * double(b[i]);
		sum += t;
		scale += std::fabs(t);
	}
	return {sum, scale};
}

std::vector<float>
random_vector(std::mt19937 &rng, size_t dim)
{
	std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
	std::vector<float> v(dim);
	for (auto &x : v)
		x = dist(rng);
	return v;
}

class DistanceIsa : public ::testing::TestWithParam<Isa> {};

TEST_P(DistanceIsa, MatchesDoubleReference)
{
	Isa isa = GetParam();
	if (!prism::isa_supported(isa))
		GTEST_SKIP() << "CPU does not support " << prism::isa_name(isa);

	std::mt19937 rng(20240611);
	for (size_t dim : kDims) {
		prism::Kernels k = prism::kernels_for(isa, dim);
		ASSERT_EQ(k.isa, isa);
		for (int trial = 0; trial < 20; trial++) {
			// Offset by one float so the kernels also see unaligned input.
			std::vector<float> a = random_vector(rng, dim + 1), b = random_vector(rng, dim + 1);
			std::vector<float> x(a.begin() + 1, a.end()), y(b.begin() + 1, b.end());
			const float *pa = trial % 2 ? a.data() + 1 : x.data();
			const float *pb = trial % 2 ? b.data() + 1 : y.data();

			Reference l2 = ref_l2sq(x, y), ip = ref_dot(x, y);
			double got_l2 = k.l2sq(pa, pb, &dim), got_ip = k.dot(pa, pb, &dim);
			EXPECT_LE(std::fabs(got_l2 - l2.value), kMaxRelError * l2.scale)
				<< prism::isa_name(isa) << " l2sq dim " << dim << " got " << got_l2 << " want " << l2.value;
			EXPECT_LE(std::fabs(got_ip - ip.value), kMaxRelError * ip.scale)
				<< prism::isa_name(isa) << " dot dim " << dim << " got " << got_ip << " want " << ip.value;
		}
	}
}

// Dims below 16 and residual dims exercise every code path (scalar, 4-wide, 16-wide + tail).
TEST_P(DistanceIsa, EveryDimUpTo70)
{
	Isa isa = GetParam();
	if (!prism::isa_supported(isa))
		GTEST_SKIP() << "CPU does not support " << prism::isa_name(isa);

	std::mt19937 rng(7);
	for (size_t dim = 1; dim <= 70; dim++) {
		prism::Kernels k = prism::kernels_for(isa, dim);
		std::vector<float> a = random_vector(rng, dim), b = random_vector(rng, dim);
		Reference l2 = ref_l2sq(a, b), ip = ref_dot(a, b);
		EXPECT_LE(std::fabs(k.l2sq(a.data(), b.data(), &dim) - l2.value), kMaxRelError * l2.scale)
			<< prism::isa_name(isa) << " dim " << dim;
		EXPECT_LE(std::fabs(k.dot(a.data(), b.data(), &dim) - ip.value), kMaxRelError * ip.scale)
			<< prism::isa_name(isa) << " dim " << dim;
	}
}

TEST_P(DistanceIsa, ExactSmallCases)
{
	Isa isa = GetParam();
	if (!prism::isa_supported(isa))
		GTEST_SKIP() << "CPU does not support " << prism::isa_name(isa);

	const float a[] = {1, 2, 3}, b[] = {4, 6, 3};
	size_t dim = 3;
	prism::Kernels k = prism::kernels_for(isa, dim);
	EXPECT_EQ(k.l2sq(a, b, &dim), 25.0f);
	EXPECT_EQ(k.dot(a, b, &dim), 25.0f);	// plain inner product, not 1 - dot
	dim = 1;
	k = prism::kernels_for(isa, dim);
	EXPECT_EQ(k.l2sq(a, b, &dim), 9.0f);
	EXPECT_EQ(k.dot(a, b, &dim), 4.0f);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, DistanceIsa, ::testing::ValuesIn(kAllIsas),
						 [](const ::testing::TestParamInfo<Isa> &p) {
							 return std::string(prism::isa_name(p.param));
						 });

TEST(Distance, BestKernelsPickHighestSupportedIsa)
{
	Isa want = Isa::Scalar;
	for (Isa isa : kAllIsas)
		if (prism::isa_supported(isa))
			want = isa;
	for (size_t dim : kDims)
		EXPECT_EQ(prism::best_kernels(dim).isa, want) << "dim " << dim;
	EXPECT_TRUE(prism::isa_supported(Isa::Scalar));
	EXPECT_TRUE(prism::isa_supported(Isa::Sse));
	std::cout << "[          ] best ISA on this CPU: " << prism::isa_name(want) << std::endl;
}

TEST(Distance, UnsupportedIsaThrows)
{
	for (Isa isa : kAllIsas) {
		if (!prism::isa_supported(isa)) {
			EXPECT_THROW(prism::kernels_for(isa, 16), std::invalid_argument);
		}
	}
}

TEST(Distance, Wrappers)
{
	std::mt19937 rng(3);
	for (size_t dim : kDims) {
		std::vector<float> a = random_vector(rng, dim), b = random_vector(rng, dim);
		Reference l2 = ref_l2sq(a, b), ip = ref_dot(a, b);
		EXPECT_LE(std::fabs(prism::l2sq_distance(a.data(), b.data(), dim) - l2.value),
				  kMaxRelError * l2.scale);
		EXPECT_LE(std::fabs(prism::dot_product(a.data(), b.data(), dim) - ip.value),
				  kMaxRelError * ip.scale);
	}
}

}  // namespace
