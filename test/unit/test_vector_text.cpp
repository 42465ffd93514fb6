// Unit tests for the vector text parser and the shortest round-trip float printer.
#include "core/vector_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

using prism::ParseResult;
using prism::ParseStatus;

namespace {

struct Parsed {
	ParseResult r;
	std::vector<float> v;
};

Parsed parse(const char *s, size_t max_dim = 16000)
{
	size_t cap = prism::vector_text_max_elements(s);
	if (cap > max_dim)
		cap = max_dim;
	Parsed p;
	p.v.resize(cap);
	p.r = prism::parse_vector_text(s, p.v.data(), cap, max_dim);
	p.v.resize(p.r.status == ParseStatus::Ok ? p.r.dim : 0);
	return p;
}

std::string fmt(float f)
{
	char buf[prism::kFloatTextMax + 1];
	size_t n = prism::format_float(f, buf);
	EXPECT_EQ(n, std::strlen(buf));
	EXPECT_LE(n, prism::kFloatTextMax);
	return std::string(buf);
}

}  // namespace

TEST(VectorTextParse, Basic)
{
	Parsed p = parse("[1,2,3]");
	ASSERT_EQ(p.r.status, ParseStatus::Ok);
	EXPECT_EQ(p.v, (std::vector<float>{1, 2, 3}));

	p = parse("[1.,2.5,-3e-2]");
	ASSERT_EQ(p.r.status, ParseStatus::Ok);
	EXPECT_EQ(p.v, (std::vector<float>{1.0f, 2.5f, -3e-2f}));
}

TEST(VectorTextParse, Whitespace)
{
	Parsed p = parse(" \t[ 1,  2 ,\n3  ] \r\n");
	ASSERT_EQ(p.r.status, ParseStatus::Ok);
	EXPECT_EQ(p.v, (std::vector<float>{1, 2, 3}));
}

TEST(VectorTextParse, SyntaxErrors)
{
	const char *bad[] = {"[1,2,3", "[hello,1]", "[", "[ ", "[,", "[,]", "[1,]", "[1a]", "[1,,3]",
						 "[1, ,3]", "[1 2]", "[1;2]", "[--1]", "[1,2,3,", "[1x]", "[1X2]", "[-]", "[12 3]", "[7,-]"};
	for (const char *s : bad)
		EXPECT_EQ(parse(s).r.status, ParseStatus::Syntax) << s;
}

TEST(VectorTextParse, MissingBracket)
{
	EXPECT_EQ(parse("1,2,3").r.status, ParseStatus::MissingBracket);
	EXPECT_EQ(parse("").r.status, ParseStatus::MissingBracket);
	EXPECT_EQ(parse("  (1,2)").r.status, ParseStatus::MissingBracket);
}

TEST(VectorTextParse, JunkAfter)
{
	EXPECT_EQ(parse("[1,2,3]9").r.status, ParseStatus::JunkAfter);
	EXPECT_EQ(parse("[1,2,3] x").r.status, ParseStatus::JunkAfter);
	EXPECT_EQ(parse("[1]]").r.status, ParseStatus::JunkAfter);
}

TEST(VectorTextParse, Empty)
{
	EXPECT_EQ(parse("[]").r.status, ParseStatus::Empty);
	EXPECT_EQ(parse(" [ ] ").r.status, ParseStatus::Empty);
}

TEST(VectorTextParse, NanAndInfinity)
{
	EXPECT_EQ(parse("[NaN,1]").r.status, ParseStatus::NotANumber);
	EXPECT_EQ(parse("[1,nan]").r.status, ParseStatus::NotANumber);
	EXPECT_EQ(parse("[Infinity,1]").r.status, ParseStatus::Infinite);
	EXPECT_EQ(parse("[-Infinity,1]").r.status, ParseStatus::Infinite);
	EXPECT_EQ(parse("[1,-inf]").r.status, ParseStatus::Infinite);
}

TEST(VectorTextParse, Range)
{
	Parsed p = parse("[4e38,1]");
	ASSERT_EQ(p.r.status, ParseStatus::OutOfRange);
	EXPECT_EQ(std::string(p.r.token, p.r.token_len), "4e38");

	p = parse("[1, -1e39]");
	ASSERT_EQ(p.r.status, ParseStatus::OutOfRange);
	EXPECT_EQ(std::string(p.r.token, p.r.token_len), "-1e39");

	p = parse("[1.5e38,-1.5e38,3.4028235e38]");
	ASSERT_EQ(p.r.status, ParseStatus::Ok);
	EXPECT_EQ(p.v[2], std::numeric_limits<float>::max());

	// Underflow reads as (signed) zero, as in pgvector.
	p = parse("[1e-46,-1e-46]");
	ASSERT_EQ(p.r.status, ParseStatus::Ok);
	EXPECT_EQ(p.v[0], 0.0f);
	EXPECT_TRUE(std::signbit(p.v[1]));
}

// The parser reads numbers with std::from_chars and falls back to strtof for what that does not
// take; every spelling must give strtof's float, bit for bit (pgvector's input uses strtof).
TEST(VectorTextParse, SameFloatsAsStrtof)
{
	std::mt19937_64 rng(42);
	const char *formats[] = {"%.9g", "%.3e", "%.17g", "%.0f", "%+.6g", "%a", "%.12f", "%.40g"};
	const char *fixed[] = {"0", "-0", "1.", "-.5", ".25", "+7", "00012", "1e-45", "-1e-40", "7e-46",
			       "3.4028235e38", "3.40282357e38", "1.17549435e-38", "0x1p-3", "0X1.8P1", "1e+0",
			       "123456789012345678901234567890", "0.000000000000000000000000000000000001"};
	std::vector<std::string> tokens(std::begin(fixed), std::end(fixed));
	for (int i = 0; i < 200000; i++) {
		uint32_t bits = static_cast<uint32_t>(rng());
		float f;
		std::memcpy(&f, &bits, sizeof f);
		if (!std::isfinite(f))
			continue;
		char buf[128];
		std::snprintf(buf, sizeof buf, formats[i % 8], static_cast<double>(f));
		tokens.push_back(buf);
		// decimals with random digit counts, the kind embeddings are printed as
		std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(rng() % 10), (static_cast<double>(rng() % 2000000) - 1e6) / 1e3);
		tokens.push_back(buf);
	}
	size_t checked = 0;
	for (const std::string &t : tokens) {
		float expect = std::strtof(t.c_str(), nullptr);
		if (std::isinf(expect))
			continue;  // an error either way, checked in Range
		std::string text = "[" + t + "," + t + "]";
		Parsed p = parse(text.c_str());
		ASSERT_EQ(p.r.status, ParseStatus::Ok) << text;
		ASSERT_EQ(std::memcmp(&p.v[0], &expect, sizeof expect), 0) << t << " read as " << p.v[0] << ", strtof " << expect;
		ASSERT_EQ(std::memcmp(&p.v[1], &expect, sizeof expect), 0) << t;
		checked++;
	}
	EXPECT_GT(checked, 300000u);
}

// Integers on both sides of the 9-digit fast path's limit, many past 2^24 where the float must
// round (leading zeros, signs, a trailing point or exponent that sends them the general way):
// strtof's float, bit for bit.
TEST(VectorTextParse, SmallIntegersAsStrtof)
{
	std::mt19937_64 rng(7);
	const char *tails[] = {"", "", "", ".", ".0", "e0", "E1", ".5"};
	size_t checked = 0;
	for (int i = 0; i < 1000000; i++) {
		uint64_t m = i % 2 ? rng() % 100000000000 : rng() % 1000;
		std::string t = std::string(size_t(rng() % 3), '0') + std::to_string(m) + tails[rng() % 8];
		if (rng() % 2)
			t.insert(0, "-");
		float expect = std::strtof(t.c_str(), nullptr);
		Parsed p = parse(("[" + t + "]").c_str());
		ASSERT_EQ(p.r.status, ParseStatus::Ok) << t;
		ASSERT_EQ(std::memcmp(&p.v[0], &expect, sizeof expect), 0) << t << " read as " << p.v[0] << ", strtof " << expect;
		checked++;
	}
	EXPECT_EQ(checked, 1000000u);
}

TEST(VectorTextParse, Dimensions)
{
	std::string s = "[";
	for (int i = 0; i < 16000; i++)
		s += i ? ",1" : "1";
	s += "]";
	Parsed p = parse(s.c_str());
	ASSERT_EQ(p.r.status, ParseStatus::Ok);
	EXPECT_EQ(p.r.dim, 16000u);

	s.insert(s.size() - 1, ",2");
	EXPECT_EQ(parse(s.c_str()).r.status, ParseStatus::TooManyDims);
	EXPECT_EQ(parse("[1,2,3]", 2).r.status, ParseStatus::TooManyDims);
}

TEST(VectorTextFormat, Shortest)
{
	EXPECT_EQ(fmt(1.0f), "1");
	EXPECT_EQ(fmt(2.5f), "2.5");
	EXPECT_EQ(fmt(-0.03f), "-0.03");
	EXPECT_EQ(fmt(0.1f), "0.1");
	EXPECT_EQ(fmt(1.23456f), "1.23456");
	EXPECT_EQ(fmt(0.0f), "0");
	EXPECT_EQ(fmt(-0.0f), "-0");
	EXPECT_EQ(fmt(1e-7f), "1e-07");
	EXPECT_EQ(fmt(0.0001f), "0.0001");
	EXPECT_EQ(fmt(0.00001f), "1e-05");
	EXPECT_EQ(fmt(100000.0f), "100000");
	EXPECT_EQ(fmt(1000000.0f), "1e+06");
	EXPECT_EQ(fmt(1234567.0f), "1.234567e+06");
	EXPECT_EQ(fmt(123456.7f), "123456.7");
	EXPECT_EQ(fmt(1.5e38f), "1.5e+38");
	EXPECT_EQ(fmt(-1.5e-38f), "-1.5e-38");
	EXPECT_EQ(fmt(std::numeric_limits<float>::max()), "3.4028235e+38");
	EXPECT_EQ(fmt(std::numeric_limits<float>::denorm_min()), "1e-45");
	EXPECT_EQ(fmt(1.0f / 3.0f), "0.33333334");
}

static float from_bits(uint32_t b)
{
	float f;
	std::memcpy(&f, &b, sizeof(f));
	return f;
}

// When the shortest decimal lies exactly halfway to a neighbouring float, Postgres' float4out
// prints a longer form; so must we (pgvector prints through float4out's code).
TEST(VectorTextFormat, RoundingBoundaryLikeFloat4out)
{
	EXPECT_EQ(fmt(92166016.0f), "9.2166016e+07");	// 9.216602e+07 is the midpoint
	EXPECT_EQ(fmt(from_bits(0xce74880c)), "-1.02563917e+09");
	EXPECT_EQ(fmt(from_bits(0x4fb14886)), "5.9486403e+09");
	EXPECT_EQ(fmt(from_bits(0x4c1a0180)), "4.0371712e+07");
	EXPECT_EQ(fmt(16777216.0f), "1.6777216e+07");
}

TEST(VectorTextFormat, Vector)
{
	float x[] = {1.0f, 2.5f, -0.03f};
	char buf[prism::vector_text_size(3)];
	size_t n = prism::format_vector(x, 3, buf);
	EXPECT_EQ(std::string(buf), "[1,2.5,-0.03]");
	EXPECT_EQ(n, 13u);
}

// Every printed float reads back to the same bits, and no shorter %e form round-trips.
TEST(VectorTextFormat, RoundTripRandom)
{
	std::mt19937 rng(12345);
	std::uniform_int_distribution<uint32_t> bits;
	int checked = 0;
	while (checked < 200000) {
		uint32_t b = bits(rng);
		float f;
		std::memcpy(&f, &b, sizeof(f));
		if (!std::isfinite(f))
			continue;
		checked++;
		std::string s = fmt(f);
		float back = std::strtof(s.c_str(), nullptr);
		uint32_t bb;
		std::memcpy(&bb, &back, sizeof(bb));
		ASSERT_EQ(bb, b) << s;

		// Count significant digits printed and check no shorter precision round-trips.
		std::string sig;
		for (char c : s) {
			if (c == 'e')
				break;
			if (c >= '0' && c <= '9' && !(sig.empty() && c == '0'))
				sig += c;
		}
		while (!sig.empty() && sig.back() == '0')
			sig.pop_back();	 // fixed-notation padding such as "100000"
		int digits = static_cast<int>(sig.size());
		if (digits > 1) {
			char shorter[64];
			std::snprintf(shorter, sizeof(shorter), "%.*e", digits - 2, static_cast<double>(f));
			// A shorter form may only read back to f when it sits exactly halfway to a
			// neighbour (float4out excludes those; round-half-even parsing accepts them).
			if (std::strtof(shorter, nullptr) == f) {
				double x = std::strtod(shorter, nullptr);
				double up = (static_cast<double>(f) + std::nextafter(f, 2 * f)) / 2;
				double down = (static_cast<double>(f) + std::nextafter(f, 0.0f)) / 2;
				ASSERT_TRUE(x == up || x == down) << s << " vs " << shorter;
			}
		}
	}
}

TEST(VectorTextFormat, ParseFormatRoundTrip)
{
	float x[] = {0.1f, -2.75e-20f, 3.3e33f, 7.0f, -0.0f};
	char buf[prism::vector_text_size(5)];
	prism::format_vector(x, 5, buf);
	Parsed p = parse(buf);
	ASSERT_EQ(p.r.status, ParseStatus::Ok);
	ASSERT_EQ(p.v.size(), 5u);
	for (int i = 0; i < 5; i++)
		EXPECT_EQ(std::memcmp(&p.v[i], &x[i], sizeof(float)), 0);
}
