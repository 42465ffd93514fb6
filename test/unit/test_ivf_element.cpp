// ivfflat element codecs: float4, half and bit vectors decode, encode and round as the index
// stores them, their kernels agree with float4 arithmetic on the decoded values, binary k-means
// keeps 0/1 centers that separate bit clusters, and assignment over stored vectors matches
// assignment over their decoded form.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/half.h"
#include "core/ivf_element.h"
#include "core/ivf_kmeans.h"

namespace {

using namespace prism;
using namespace prism::ivf;

TEST(IvfElement, SizesAndLimitsFitAPage)
{
	EXPECT_EQ(element_ops(ElementType::Float32, 10).bytes, 40u);
	EXPECT_EQ(element_ops(ElementType::Half, 10).bytes, 20u);
	EXPECT_EQ(element_ops(ElementType::Bit, 10).bytes, 2u);
	EXPECT_EQ(element_ops(ElementType::Bit, 16).bytes, 2u);
	// a center item (and a list tuple) at the largest dimension fits an 8 kB page's item space
	for (ElementType t : {ElementType::Float32, ElementType::Half, ElementType::Bit}) {
		EXPECT_LE(center_item_size(t, (uint32_t) max_dims(t)) + 4, 8192u - 24 - 8);
		EXPECT_LE(list_tuple_size(t, (uint32_t) max_dims(t)) + 4, 8192u - 24 - 8);
	}
	EXPECT_TRUE(metric_fits(ElementType::Bit, Metric::Hamming));
	EXPECT_FALSE(metric_fits(ElementType::Bit, Metric::L2));
	EXPECT_FALSE(metric_fits(ElementType::Half, Metric::Hamming));
}

TEST(IvfElement, BitsDecodeMostSignificantFirstAndEncodeByMajority)
{
	ElementOps e = element_ops(ElementType::Bit, 10);
	uint8_t stored[2] = {0xA0, 0x40};  // 1010 0000 01
	float f[10];
	element_decode(e, stored, f);
	float want[10] = {1, 0, 1, 0, 0, 0, 0, 0, 0, 1};
	for (int i = 0; i < 10; i++)
		EXPECT_EQ(f[i], want[i]) << i;
	float means[10] = {0.9f, 0.5f, 0.51f, 0, 0, 0, 0, 0, 0.2f, 1};
	uint8_t out[2] = {0xff, 0xff};
	element_encode(e, means, out);
	EXPECT_EQ(out[0], 0xA0);
	EXPECT_EQ(out[1], 0x40);  // the padding bits stay zero
}

TEST(IvfElement, KernelsMatchFloatArithmeticOnDecodedValues)
{
	std::mt19937_64 rng(7);
	std::normal_distribution<float> nd(0, 1);
	size_t dims = 37;
	std::vector<float> a(dims), b(dims);
	for (size_t i = 0; i < dims; i++) {
		a[i] = nd(rng);
		b[i] = nd(rng);
	}
	for (ElementType t : {ElementType::Float32, ElementType::Half, ElementType::Bit}) {
		ElementOps e = element_ops(t, dims);
		std::vector<uint8_t> sa(e.bytes), sb(e.bytes);
		element_encode(e, a.data(), sa.data());
		element_encode(e, b.data(), sb.data());
		std::vector<float> da(dims), db(dims);
		element_decode(e, sa.data(), da.data());
		element_decode(e, sb.data(), db.data());
		double l2 = 0, dot = 0;
		for (size_t i = 0; i < dims; i++) {
			l2 += (double) (da[i] - db[i]) * (da[i] - db[i]);
			dot += (double) da[i] * db[i];
		}
		EXPECT_NEAR(e.l2sq(sa.data(), sb.data(), &e.param), l2, 1e-3 * (1 + l2)) << (int) t;
		if (e.dot) {
			EXPECT_NEAR(e.dot(sa.data(), sb.data(), &e.param), dot, 1e-3 * (1 + std::fabs(dot))) << (int) t;
		}
		// rounding a decoded vector changes nothing
		std::vector<float> r = da;
		std::vector<uint8_t> scratch(e.bytes);
		element_round(e, r.data(), scratch.data());
		EXPECT_EQ(r, da) << (int) t;
	}
	// half rounding is to the nearest half
	ElementOps h = element_ops(ElementType::Half, 1);
	float x = 1.0f + 1.0f / 4096, y = x;
	half_bits s;
	element_round(h, &y, &s);
	EXPECT_EQ(y, 1.0f);
}

TEST(IvfElement, BinaryKmeansSeparatesBitClustersWithBitCenters)
{
	size_t dims = 64, k = 4, n = 2000;
	std::mt19937_64 rng(3);
	std::vector<std::vector<float>> proto(k, std::vector<float>(dims));
	for (auto &p : proto)
		for (auto &x : p)
			x = (float) (rng() & 1);
	ElementOps e = element_ops(ElementType::Bit, dims);
	std::vector<float> data(n * dims);
	std::vector<uint8_t> stored(n * e.bytes);
	std::vector<int> label(n);
	for (size_t i = 0; i < n; i++) {
		label[i] = (int) (i % k);
		for (size_t d = 0; d < dims; d++) {
			float v = proto[label[i]][d];
			data[i * dims + d] = rng() % 10 == 0 ? 1 - v : v;	// 10% of the bits flipped
		}
		element_encode(e, &data[i * dims], &stored[i * e.bytes]);
	}
	KmeansParams p;
	p.data = data.data();
	p.n = n;
	p.dims = dims;
	p.k = k;
	p.binary = true;
	p.threads = 2;
	std::vector<float> centers(k * dims);
	ASSERT_EQ(kmeans_run(p, centers.data()), "");
	for (float c : centers)
		EXPECT_TRUE(c == 0.0f || c == 1.0f);
	// assignment over the stored bits equals assignment over their float form, and each
	// cluster lands in one list of its own
	AssignParams a;
	a.data = stored.data();
	a.type = ElementType::Bit;
	a.n = n;
	a.dims = dims;
	a.centers = centers.data();
	a.k = k;
	a.threads = 2;
	std::vector<uint32_t> from_bits(n), from_floats(n);
	ASSERT_EQ(assign_run(a, from_bits.data()), "");
	a.data = data.data();
	a.type = ElementType::Float32;
	ASSERT_EQ(assign_run(a, from_floats.data()), "");
	EXPECT_EQ(from_bits, from_floats);
	std::vector<int> list_of(k, -1);
	for (size_t i = 0; i < n; i++) {
		if (list_of[label[i]] < 0)
			list_of[label[i]] = (int) from_bits[i];
		EXPECT_EQ((int) from_bits[i], list_of[label[i]]);
	}
	for (size_t c = 0; c < k; c++)
		for (size_t o = c + 1; o < k; o++)
			EXPECT_NE(list_of[c], list_of[o]);
}

}  // namespace

namespace {

TEST(IvfElement, BinaryKmeansSameResultForAnyThreadCount)
{
	size_t dims = 100, k = 17, n = 3000;
	std::mt19937_64 rng(9);
	std::vector<float> data(n * dims);
	for (auto &x : data)
		x = (float) (rng() % 3 == 0);
	prism::ivf::KmeansParams p;
	p.data = data.data();
	p.n = n;
	p.dims = dims;
	p.k = k;
	p.binary = true;
	std::vector<float> a(k * dims), b(k * dims);
	p.threads = 1;
	ASSERT_EQ(prism::ivf::kmeans_run(p, a.data()), "");
	p.threads = 3;
	ASSERT_EQ(prism::ivf::kmeans_run(p, b.data()), "");
	EXPECT_EQ(a, b);
}

}  // namespace
