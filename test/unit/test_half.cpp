// Half precision (core/half.h, core/halfvec_codec.h): conversions checked against an
// independent reference for every half and every rounding boundary, each kernel variant this
// CPU supports against a double-precision reference, and the halfvec text and binary codecs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "core/halfvec_codec.h"

namespace {

using prism::half_bits;
using prism::HalfIsa;

// The value of a half from its fields, in double: the definition, not the conversion code.
double half_value_reference(half_bits h)
{
	int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
	double v;
	if (exp == 0)
		v = std::ldexp(double(mant), -24);
	else if (exp == 31)
		v = mant == 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
	else
		v = std::ldexp(1.0 + mant / 1024.0, exp - 15);
	return sign ? -v : v;
}

uint32_t bits_of(float f)
{
	uint32_t u;
	std::memcpy(&u, &f, sizeof(u));
	return u;
}

float float_of(uint32_t u)
{
	float f;
	std::memcpy(&f, &u, sizeof(f));
	return f;
}

std::vector<HalfIsa> supported_isas()
{
	std::vector<HalfIsa> out;
	for (HalfIsa isa : {HalfIsa::Scalar, HalfIsa::F16c})
		if (prism::half_isa_supported(isa))
			out.push_back(isa);
	return out;
}

// Converts through one ISA's batch conversion (odd sizes exercise the vector body and the tail).
std::vector<half_bits> batch_from_float(HalfIsa isa, const std::vector<float> &in)
{
	std::vector<half_bits> out(in.size());
	prism::half_kernels_for(isa).from_float(in.data(), out.data(), in.size());
	return out;
}

TEST(HalfConversion, EveryHalfToFloatMatchesDefinition)
{
	for (uint32_t u = 0; u <= 0xffff; u++) {
		half_bits h = half_bits(u);
		double want = half_value_reference(h);
		float got = prism::half_to_float(h);
		if (std::isnan(want)) {
			EXPECT_TRUE(std::isnan(got)) << std::hex << u;
			continue;
		}
		EXPECT_EQ(double(got), want) << std::hex << u;
		EXPECT_EQ(std::signbit(got), bool(u & 0x8000)) << std::hex << u;  // -0 stays -0
	}
}

TEST(HalfConversion, EveryIsaWidensEveryHalfIdentically)
{
	std::vector<half_bits> all(0x10000);
	for (uint32_t u = 0; u <= 0xffff; u++)
		all[u] = half_bits(u);
	for (HalfIsa isa : supported_isas()) {
		std::vector<float> out(all.size() - 3);	// not a multiple of 8: the tail runs too
		prism::half_kernels_for(isa).to_float(all.data() + 3, out.data(), out.size());
		for (size_t i = 0; i < out.size(); i++) {
			float want = prism::half_to_float(all[i + 3]);
			if (std::isnan(want))
				EXPECT_TRUE(std::isnan(out[i]));
			else
				EXPECT_EQ(bits_of(out[i]), bits_of(want)) << prism::half_isa_name(isa) << " " << i;
		}
	}
}

TEST(HalfConversion, EveryFiniteHalfRoundTrips)
{
	for (uint32_t u = 0; u <= 0xffff; u++) {
		half_bits h = half_bits(u);
		if (prism::half_is_nan(h))
			continue;
		EXPECT_EQ(prism::float_to_half(prism::half_to_float(h)), h) << std::hex << u;
	}
}

// For every pair of neighbouring finite halves (subnormals included): the exact midpoint rounds
// to the one with an even mantissa, and the floats just below and above it to the nearer one.
TEST(HalfConversion, RoundsToNearestTiesToEvenAtEveryBoundary)
{
	std::vector<float> inputs;
	std::vector<half_bits> expected;
	for (uint32_t u = 0; u < 0x7bff; u++) {
		for (uint32_t sign : {0u, 0x8000u}) {
			half_bits lo = half_bits(u | sign), hi = half_bits((u + 1) | sign);
			float a = prism::half_to_float(lo), b = prism::half_to_float(hi);
			float mid = (a + b) / 2;  // exact: at most 12 significant bits
			ASSERT_EQ(double(mid), (double(a) + double(b)) / 2);
			inputs.push_back(mid);
			expected.push_back((u & 1) ? hi : lo);
			inputs.push_back(std::nextafter(mid, a));
			expected.push_back(lo);
			inputs.push_back(std::nextafter(mid, b));
			expected.push_back(hi);
		}
	}
	for (size_t i = 0; i < inputs.size(); i++)
		ASSERT_EQ(prism::float_to_half(inputs[i]), expected[i]) << inputs[i];
	for (HalfIsa isa : supported_isas())
		EXPECT_EQ(batch_from_float(isa, inputs), expected) << prism::half_isa_name(isa);
}

TEST(HalfConversion, OverflowUnderflowAndSpecials)
{
	const float inf = std::numeric_limits<float>::infinity();
	std::vector<float> in = {65504.0f,
							 std::nextafter(65520.0f, 0.0f),  // just below the tie: 65504
							 65520.0f,						   // the tie: rounds to even, infinity
							 -65520.0f,
							 1e10f,
							 std::numeric_limits<float>::max(),
							 inf,
							 -inf,
							 std::ldexp(1.0f, -25),					  // half of the smallest subnormal: tie to 0
							 std::nextafter(std::ldexp(1.0f, -25), 1.0f),  // just above: smallest subnormal
							 -std::ldexp(1.0f, -26),					  // underflows to -0
							 std::numeric_limits<float>::denorm_min(),
							 std::ldexp(1.0f, -14),						  // smallest normal half
							 std::ldexp(1023.0f, -24),					  // largest subnormal half
							 0.0f,
							 -0.0f};
	std::vector<half_bits> want = {0x7bff, 0x7bff, 0x7c00, 0xfc00, 0x7c00, 0x7c00, 0x7c00, 0xfc00,
								   0x0000, 0x0001, 0x8000, 0x0000, 0x0400, 0x03ff, 0x0000, 0x8000};
	for (size_t i = 0; i < in.size(); i++)
		EXPECT_EQ(prism::float_to_half(in[i]), want[i]) << in[i];
	for (HalfIsa isa : supported_isas())
		EXPECT_EQ(batch_from_float(isa, in), want) << prism::half_isa_name(isa);

	half_bits n = prism::float_to_half(std::numeric_limits<float>::quiet_NaN());
	EXPECT_TRUE(prism::half_is_nan(n));
	EXPECT_TRUE(prism::half_is_nan(prism::float_to_half(float_of(0x7f800001))));  // signalling
	EXPECT_TRUE(prism::half_is_inf(0x7c00) && prism::half_is_inf(0xfc00));
	EXPECT_FALSE(prism::half_is_inf(0x7bff) || prism::half_is_nan(0x7c00));
	EXPECT_TRUE(prism::half_is_zero(0x8000) && !prism::half_is_zero(0x0001));
}

TEST(HalfConversion, RandomFloatsAgreeAcrossIsas)
{
	std::mt19937 rng(12);
	std::vector<float> in;
	while (in.size() < 1000003) {
		float f = float_of(uint32_t(rng()));
		if (!std::isnan(f))
			in.push_back(f);
	}
	// and a dense sample of the half range, where most inputs fall
	std::uniform_real_distribution<float> dist(-70000.0f, 70000.0f);
	for (int i = 0; i < 1000000; i++)
		in.push_back(dist(rng) * (i % 3 == 0 ? 1e-6f : 1.0f));
	std::vector<half_bits> scalar = batch_from_float(HalfIsa::Scalar, in);
	for (size_t i = 0; i < in.size(); i++) {
		// the scalar result against the reference: nearest half, and no nearer one exists
		double v = in[i], got = half_value_reference(scalar[i]);
		if (std::isinf(got)) {
			ASSERT_GE(std::fabs(v), 65520.0) << v;
			continue;
		}
		half_bits up = half_bits(scalar[i] + 1), down = half_bits(scalar[i] - 1);
		if ((scalar[i] & 0x7fff) != 0x7bff && !prism::half_is_zero(scalar[i])) {
			ASSERT_LE(std::fabs(got - v), std::fabs(half_value_reference(up) - v)) << v;
		}
		if ((scalar[i] & 0x7fff) != 0) {
			ASSERT_LE(std::fabs(got - v), std::fabs(half_value_reference(down) - v)) << v;
		}
	}
	for (HalfIsa isa : supported_isas())
		EXPECT_EQ(batch_from_float(isa, in), scalar) << prism::half_isa_name(isa);
}

// --- kernels -------------------------------------------------------------------------------

std::vector<half_bits> random_halfvec(std::mt19937 &rng, size_t dim, float scale)
{
	std::uniform_real_distribution<float> dist(-scale, scale);
	std::vector<half_bits> v(dim);
	for (auto &h : v)
		h = prism::float_to_half(dist(rng));
	return v;
}

TEST(HalfKernels, EveryIsaMatchesDoubleReference)
{
	std::mt19937 rng(7);
	for (size_t dim : {1, 3, 7, 8, 9, 15, 16, 17, 31, 100, 768, 1536, 3072, 16000}) {
		for (float scale : {1.0f, 100.0f}) {
			auto a = random_halfvec(rng, dim, scale), b = random_halfvec(rng, dim, scale);
			double l2 = 0, dot = 0, dot_scale = 0, l1 = 0;
			for (size_t i = 0; i < dim; i++) {
				double x = half_value_reference(a[i]), y = half_value_reference(b[i]);
				l2 += (x - y) * (x - y);
				dot += x * y;
				dot_scale += std::fabs(x * y);
				l1 += std::fabs(x - y);
			}
			for (HalfIsa isa : supported_isas()) {
				const prism::HalfKernels &k = prism::half_kernels_for(isa);
				EXPECT_EQ(k.isa, isa);
				SCOPED_TRACE(std::string(prism::half_isa_name(isa)) + " dim " + std::to_string(dim));
				EXPECT_NEAR(k.l2sq(a.data(), b.data(), &dim), l2, 1e-5 * l2 + 1e-30);
				EXPECT_NEAR(k.dot(a.data(), b.data(), &dim), dot, 1e-5 * dot_scale + 1e-30);
				EXPECT_NEAR(k.l1(a.data(), b.data(), &dim), l1, 1e-5 * l1 + 1e-30);
			}
		}
	}
}

TEST(HalfKernels, ExactOnSmallIntegers)
{
	// Small integers and their sums are exact in float: every variant gives the exact result.
	size_t dim = 37;
	std::vector<half_bits> a(dim), b(dim);
	double l2 = 0, dot = 0, l1 = 0;
	for (size_t i = 0; i < dim; i++) {
		float x = float(int(i % 7) - 3), y = float(int(i % 5) - 2);
		a[i] = prism::float_to_half(x);
		b[i] = prism::float_to_half(y);
		l2 += (x - y) * (x - y);
		dot += x * y;
		l1 += std::fabs(x - y);
	}
	for (HalfIsa isa : supported_isas()) {
		const prism::HalfKernels &k = prism::half_kernels_for(isa);
		EXPECT_EQ(k.l2sq(a.data(), b.data(), &dim), l2);
		EXPECT_EQ(k.dot(a.data(), b.data(), &dim), dot);
		EXPECT_EQ(k.l1(a.data(), b.data(), &dim), l1);
	}
}

TEST(HalfKernels, BestIsSupportedAndUnsupportedThrows)
{
	EXPECT_TRUE(prism::half_isa_supported(prism::best_half_kernels().isa));
	EXPECT_TRUE(prism::half_isa_supported(HalfIsa::Scalar));
	if (!prism::half_isa_supported(HalfIsa::F16c))
		EXPECT_THROW(prism::half_kernels_for(HalfIsa::F16c), std::invalid_argument);
	else
		EXPECT_EQ(prism::best_half_kernels().isa, HalfIsa::F16c);
}

// --- text and binary forms -----------------------------------------------------------------

prism::ParseResult parse(const std::string &text, std::vector<half_bits> &out, size_t max_dim = 16000)
{
	size_t cap = prism::vector_text_max_elements(text.c_str());
	if (cap > max_dim)
		cap = max_dim;
	out.assign(cap, 0);
	return prism::parse_halfvec_text(text.c_str(), out.data(), cap, max_dim);
}

TEST(HalfvecText, ParsesAndRounds)
{
	std::vector<half_bits> x;
	auto r = parse(" [ 1, 2.5 ,-3,65504, 0.1, 1e-8, -1e-8, 65519 ] ", x);
	ASSERT_EQ(r.status, prism::ParseStatus::Ok);
	ASSERT_EQ(r.dim, 8u);
	std::vector<half_bits> want = {0x3c00, 0x4100, 0xc200, 0x7bff, 0x2e66, 0x0000, 0x8000, 0x7bff};
	EXPECT_EQ(std::vector<half_bits>(x.begin(), x.begin() + 8), want);
}

TEST(HalfvecText, ErrorsInPgvectorOrder)
{
	using S = prism::ParseStatus;
	struct Case {
		const char *text;
		S status;
		const char *token;
	};
	const Case cases[] = {
		{"[65520]", S::OutOfRange, "65520"},
		{"[-1e5]", S::OutOfRange, "-1e5"},
		{"[1e39]", S::OutOfRange, "1e39"},
		{"[1, 65520, abc]", S::OutOfRange, "65520"},  // element by element: the first failure
		{"[abc, 65520]", S::Syntax, nullptr},
		{"[nan]", S::NotANumber, nullptr},
		{"[1,-inf]", S::Infinite, nullptr},
		{"[]", S::Empty, nullptr},
		{"[ ]", S::Empty, nullptr},
		{"1,2", S::MissingBracket, nullptr},
		{"", S::MissingBracket, nullptr},
		{"[1,2]x", S::JunkAfter, nullptr},
		{"[1,]", S::Syntax, nullptr},
		{"[1 2]", S::Syntax, nullptr},
		{"[1,,2]", S::Syntax, nullptr},
		{"[1", S::Syntax, nullptr},
		{"[1,", S::Syntax, nullptr},
	};
	for (const Case &c : cases) {
		std::vector<half_bits> x;
		std::string text = c.text;	// r.token points into it
		auto r = parse(text, x);
		EXPECT_EQ(r.status, c.status) << c.text;
		if (c.token) {
			EXPECT_EQ(std::string(r.token, r.token_len), c.token) << c.text;
		}
	}
	std::vector<half_bits> x;
	EXPECT_EQ(parse("[1,2,3]", x, 2).status, S::TooManyDims);
	EXPECT_EQ(parse("[1,2]", x, 2).status, S::Ok);
}

TEST(HalfvecText, EveryFiniteHalfPrintsAndReadsBack)
{
	std::vector<half_bits> all;
	for (uint32_t u = 0; u <= 0xffff; u++)
		if (!prism::half_is_nan(half_bits(u)) && !prism::half_is_inf(half_bits(u)))
			all.push_back(half_bits(u));
	std::vector<char> buf(prism::vector_text_size(all.size()));
	size_t len = prism::format_halfvec(all.data(), all.size(), buf.data());
	ASSERT_EQ(std::strlen(buf.data()), len);
	std::vector<half_bits> back;
	auto r = parse(buf.data(), back, all.size());
	ASSERT_EQ(r.status, prism::ParseStatus::Ok);
	ASSERT_EQ(r.dim, all.size());
	back.resize(r.dim);
	EXPECT_EQ(back, all);

	half_bits tenth = prism::float_to_half(0.1f);
	char one[prism::vector_text_size(1)];
	prism::format_halfvec(&tenth, 1, one);
	EXPECT_STREQ(one, "[0.099975586]");  // the half's own value, as a float prints
}

TEST(HalfvecBinary, RoundTripAndErrors)
{
	std::vector<half_bits> x = {0x3c00, 0xc200, 0x0001, 0x7bff};
	std::vector<uint8_t> buf(prism::halfvec_binary_size(x.size()));
	ASSERT_EQ(prism::encode_halfvec_binary(x.data(), x.size(), buf.data()), buf.size());
	EXPECT_EQ(buf[0], 0);
	EXPECT_EQ(buf[1], 4);
	EXPECT_EQ(buf[4], 0x3c);  // big-endian
	EXPECT_EQ(buf[5], 0x00);

	std::vector<half_bits> out(16);
	using S = prism::BinaryStatus;
	auto dec = [&](const std::vector<uint8_t> &b, int32_t typmod = -1) {
		return prism::decode_halfvec_binary(b.data(), b.size(), typmod, 16000, out.data(), out.size());
	};
	auto r = dec(buf);
	ASSERT_EQ(r.status, S::Ok);
	EXPECT_EQ(std::vector<half_bits>(out.begin(), out.begin() + 4), x);
	EXPECT_EQ(dec(buf, 4).status, S::Ok);
	EXPECT_EQ(dec(buf, 3).status, S::DimMismatch);

	auto truncated = buf;
	truncated.pop_back();
	EXPECT_EQ(dec(truncated).status, S::Truncated);
	EXPECT_EQ(dec({0, 1}).status, S::Truncated);
	auto trailing = buf;
	trailing.push_back(0);
	EXPECT_EQ(dec(trailing).status, S::TrailingBytes);
	EXPECT_EQ(dec({0, 0, 0, 0}).status, S::BadDim);
	EXPECT_EQ(dec({0xff, 0xff, 0, 0}).status, S::BadDim);  // dim -1
	auto unused = buf;
	unused[3] = 1;
	EXPECT_EQ(dec(unused).status, S::UnusedNotZero);
	auto nan = buf;
	nan[6] = 0x7e;
	nan[7] = 0x00;
	EXPECT_EQ(dec(nan).status, S::NotANumber);
	auto inf = buf;
	inf[6] = 0xfc;
	inf[7] = 0x00;
	EXPECT_EQ(dec(inf).status, S::Infinite);
	// more elements than the output holds is rejected, not overflowed
	std::vector<uint8_t> big = {0, 17, 0, 0};
	big.resize(prism::halfvec_binary_size(17));
	EXPECT_EQ(dec(big).status, S::BadDim);
}

}  // namespace
