// sparsevec core (core/sparsevec.h): the text parser and printer, the index checks, the wire
// codec, and the merge distances and order against the dense computation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/sparsevec.h"

namespace {

using prism::SparseEntry;
using prism::SparseParseStatus;
using prism::SparseView;

prism::SparseParseResult parse(const std::string &text, std::vector<SparseEntry> &out)
{
	size_t cap = prism::sparsevec_text_max_entries(text.c_str());
	out.assign(cap, SparseEntry{0, 0});
	return prism::parse_sparsevec_text(text.c_str(), out.data(), cap);
}

TEST(SparsevecText, ParsesSortsAndDropsZeros)
{
	std::vector<SparseEntry> e;
	auto r = parse(" { 3 : 2 , 1:1.5, 2:0, 5:-0 } / 5 ", e);
	ASSERT_EQ(r.status, SparseParseStatus::Ok);
	EXPECT_EQ(r.dim, 5);
	ASSERT_EQ(r.nnz, 2u);
	EXPECT_EQ(e[0].index, 0);
	EXPECT_EQ(e[0].value, 1.5f);
	EXPECT_EQ(e[1].index, 2);
	EXPECT_EQ(e[1].value, 2.0f);

	r = parse("{}/7", e);
	ASSERT_EQ(r.status, SparseParseStatus::Ok);
	EXPECT_EQ(r.nnz, 0u);
	EXPECT_EQ(r.dim, 7);

	// indices and dims are clamped to the int range, to be reported as out of bounds later
	r = parse("{99999999999:1,-99999999999:1}/99999999999", e);
	ASSERT_EQ(r.status, SparseParseStatus::Ok);
	EXPECT_EQ(r.dim, INT32_MAX);
	EXPECT_EQ(e[0].index, INT32_MIN);
	EXPECT_EQ(e[1].index, INT32_MAX - 1);
}

TEST(SparsevecText, Errors)
{
	struct Case {
		const char *text;
		SparseParseStatus status;
		const char *token;
	};
	using S = SparseParseStatus;
	const Case cases[] = {
		{"", S::MissingBrace, nullptr},
		{"[1]", S::MissingBrace, nullptr},
		{"{1:1}", S::UnexpectedEnd, nullptr},
		{"{1:1}x", S::UnexpectedEnd, nullptr},
		{"{1:1}/", S::Syntax, nullptr},
		{"{1:1}/3x", S::JunkAfter, nullptr},
		{"{1}/3", S::Syntax, nullptr},
		{"{1:}/3", S::Syntax, nullptr},
		{"{:1}/3", S::Syntax, nullptr},
		{"{1:1,}/3", S::Syntax, nullptr},
		{"{1:1 2:2}/3", S::Syntax, nullptr},
		{"{1:1", S::Syntax, nullptr},
		{"{", S::Syntax, nullptr},
		{"{1:1e39}/3", S::OutOfRange, "1e39"},
		{"{1:-1e-50}/3", S::OutOfRange, "-1e-50"},
		{"{1:nan}/3", S::NotANumber, nullptr},
		{"{1:-Infinity}/3", S::Infinite, nullptr},
		{"{1:nan,x}/3", S::NotANumber, nullptr},	// element by element: the first failure
	};
	for (const Case &c : cases) {
		std::vector<SparseEntry> e;
		std::string text = c.text;	// r.token points into it
		auto r = parse(text, e);
		EXPECT_EQ(r.status, c.status) << c.text;
		if (c.token) {
			EXPECT_EQ(std::string(r.token, r.token_len), c.token) << c.text;
		}
	}
	// the non-zero limit is judged from the commas before anything else
	std::string many = "x" + std::string(16000, ',');
	std::vector<SparseEntry> e;
	EXPECT_EQ(parse(many, e).status, S::TooManyNnz);
	std::string max = "{";
	for (int i = 1; i <= 16000; i++)
		max += (i > 1 ? "," : "") + std::to_string(i) + ":1";
	max += "}/16000";
	auto r = parse(max, e);
	EXPECT_EQ(r.status, S::Ok);
	EXPECT_EQ(r.nnz, 16000u);
}

TEST(SparsevecText, IndexChecksInOrder)
{
	using S = prism::SparseIndexStatus;
	std::vector<int32_t> ok = {0, 3, 4};
	EXPECT_EQ(prism::check_sparse_indices(ok.data(), ok.size(), 5), S::Ok);
	EXPECT_EQ(prism::check_sparse_indices(ok.data(), ok.size(), 4), S::OutOfBounds);
	std::vector<int32_t> neg = {-1, 0};
	EXPECT_EQ(prism::check_sparse_indices(neg.data(), neg.size(), 5), S::OutOfBounds);
	std::vector<int32_t> down = {2, 1};
	EXPECT_EQ(prism::check_sparse_indices(down.data(), down.size(), 5), S::NotAscending);
	std::vector<int32_t> dup_then_oob = {1, 1, 9};
	EXPECT_EQ(prism::check_sparse_indices(dup_then_oob.data(), dup_then_oob.size(), 5), S::Duplicate);
	EXPECT_EQ(prism::check_sparse_indices(nullptr, 0, 1), S::Ok);
}

TEST(SparsevecText, PrintsAndReadsBack)
{
	std::vector<int32_t> idx = {0, 6, 999999999};
	std::vector<float> val = {0.1f, -3e-20f, 65536.0f};
	SparseView v{1000000000, 3, idx.data(), val.data()};
	std::vector<char> buf(prism::sparsevec_text_size(3));
	size_t len = prism::format_sparsevec(v, buf.data());
	EXPECT_STREQ(buf.data(), "{1:0.1,7:-3e-20,1000000000:65536}/1000000000");
	EXPECT_EQ(len, std::strlen(buf.data()));
	EXPECT_LE(len + 1, buf.size());

	std::vector<SparseEntry> e;
	auto r = parse(buf.data(), e);
	ASSERT_EQ(r.status, SparseParseStatus::Ok);
	ASSERT_EQ(r.nnz, 3u);
	for (size_t i = 0; i < 3; i++) {
		EXPECT_EQ(e[i].index, idx[i]);
		EXPECT_EQ(e[i].value, val[i]);
	}
	SparseView empty{5, 0, nullptr, nullptr};
	prism::format_sparsevec(empty, buf.data());
	EXPECT_STREQ(buf.data(), "{}/5");
}

TEST(SparsevecBinary, RoundTripAndErrors)
{
	using S = prism::SparseBinaryStatus;
	std::vector<int32_t> idx = {0, 2};
	std::vector<float> val = {1.5f, -2.0f};
	SparseView v{5, 2, idx.data(), val.data()};
	std::vector<uint8_t> buf(prism::sparsevec_binary_size(2));
	ASSERT_EQ(prism::encode_sparsevec_binary(v, buf.data()), buf.size());
	const uint8_t want[] = {0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
							0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0};
	ASSERT_EQ(buf.size(), sizeof(want));
	EXPECT_EQ(std::memcmp(buf.data(), want, sizeof(want)), 0);

	std::vector<int32_t> oi(4);
	std::vector<float> ov(4);
	auto dec = [&](const std::vector<uint8_t> &b, int32_t typmod = -1, size_t cap = 4) {
		return prism::decode_sparsevec_binary(b.data(), b.size(), typmod, oi.data(), ov.data(), cap);
	};
	auto r = dec(buf);
	ASSERT_EQ(r.status, S::Ok);
	EXPECT_EQ(r.dim, 5);
	EXPECT_EQ(r.nnz, 2);
	EXPECT_EQ(oi[1], 2);
	EXPECT_EQ(ov[1], -2.0f);
	EXPECT_EQ(dec(buf, 5).status, S::Ok);
	EXPECT_EQ(dec(buf, 4).status, S::DimMismatch);
	EXPECT_EQ(dec(buf, -1, 1).status, S::TooManyNnz);  // never writes past the capacity

	auto with = [&](size_t at, std::vector<uint8_t> bytes) {
		auto b = buf;
		std::memcpy(b.data() + at, bytes.data(), bytes.size());
		return b;
	};
	EXPECT_EQ(dec(with(0, {0, 0, 0, 0})).status, S::BadDim);
	EXPECT_EQ(dec(with(0, {0x3b, 0x9a, 0xca, 0x01})).status, S::BadDim);
	EXPECT_EQ(dec(with(4, {0xff, 0xff, 0xff, 0xff})).status, S::NegativeNnz);
	EXPECT_EQ(dec(with(4, {0, 0, 0x3e, 0x81})).status, S::TooManyNnz);
	EXPECT_EQ(dec(with(0, {0, 0, 0, 1})).status, S::NnzAboveDim);
	EXPECT_EQ(dec(with(8, {0, 0, 0, 7})).status, S::UnusedNotZero);
	EXPECT_EQ(dec(with(16, {0, 0, 0, 5})).status, S::IndexOutOfBounds);
	EXPECT_EQ(dec(with(12, {0xff, 0xff, 0xff, 0xff})).status, S::IndexOutOfBounds);
	EXPECT_EQ(dec(with(12, {0, 0, 0, 3})).status, S::NotAscending);
	EXPECT_EQ(dec(with(12, {0, 0, 0, 2})).status, S::Duplicate);
	EXPECT_EQ(dec(with(20, {0, 0, 0, 0})).status, S::ZeroValue);
	EXPECT_EQ(dec(with(20, {0x80, 0, 0, 0})).status, S::ZeroValue);	// -0
	EXPECT_EQ(dec(with(24, {0x7f, 0xc0, 0, 0})).status, S::NotANumber);
	EXPECT_EQ(dec(with(24, {0x7f, 0x80, 0, 0})).status, S::Infinite);
	for (size_t len = 0; len < buf.size(); len++)
		EXPECT_EQ(dec(std::vector<uint8_t>(buf.begin(), buf.begin() + len)).status, S::Truncated) << len;
	auto trailing = buf;
	trailing.push_back(0);
	EXPECT_EQ(dec(trailing).status, S::TrailingBytes);
}

// --- distances and order ----------------------------------------------------------------------

struct Sparse {
	int32_t dim;
	std::vector<int32_t> idx;
	std::vector<float> val;
	SparseView view() const { return SparseView{dim, int32_t(idx.size()), idx.data(), val.data()}; }
	std::vector<float> dense() const
	{
		std::vector<float> d(size_t(dim), 0.0f);
		for (size_t i = 0; i < idx.size(); i++)
			d[size_t(idx[i])] = val[i];
		return d;
	}
};

Sparse random_sparse(std::mt19937 &rng, int32_t dim, double density, bool small_ints)
{
	std::bernoulli_distribution coin(density);
	std::uniform_int_distribution<int> ints(-5, 5);
	std::uniform_real_distribution<float> reals(-1.0f, 1.0f);
	Sparse s{dim, {}, {}};
	for (int32_t i = 0; i < dim; i++) {
		if (!coin(rng))
			continue;
		float v = small_ints ? float(ints(rng)) : reals(rng);
		if (v != 0) {
			s.idx.push_back(i);
			s.val.push_back(v);
		}
	}
	return s;
}

TEST(SparseDistances, MatchDenseComputation)
{
	std::mt19937 rng(5);
	for (int32_t dim : {1, 2, 10, 100, 3000}) {
		for (double da : {0.0, 0.1, 0.5, 1.0}) {
			for (double db : {0.0, 0.3, 1.0}) {
				for (bool ints : {true, false}) {
					Sparse a = random_sparse(rng, dim, da, ints), b = random_sparse(rng, dim, db, ints);
					std::vector<float> x = a.dense(), y = b.dense();
					double l2 = 0, dot = 0, dot_scale = 0, l1 = 0, na = 0;
					for (int32_t i = 0; i < dim; i++) {
						double d = double(x[i]) - double(y[i]);
						l2 += d * d;
						dot += double(x[i]) * double(y[i]);
						dot_scale += std::fabs(double(x[i]) * double(y[i]));
						l1 += std::fabs(d);
						na += double(x[i]) * double(x[i]);
					}
					SCOPED_TRACE("dim " + std::to_string(dim));
					if (ints) {
						// small integers: every variant of the sum is exact
						EXPECT_EQ(prism::sparse_l2sq(a.view(), b.view()), l2);
						EXPECT_EQ(prism::sparse_dot(a.view(), b.view()), dot);
						EXPECT_EQ(prism::sparse_l1(a.view(), b.view()), l1);
						EXPECT_EQ(prism::sparse_norm_sq(a.view()), na);
					} else {
						EXPECT_NEAR(prism::sparse_l2sq(a.view(), b.view()), l2, 1e-5 * l2 + 1e-30);
						EXPECT_NEAR(prism::sparse_dot(a.view(), b.view()), dot, 1e-5 * dot_scale + 1e-30);
						EXPECT_NEAR(prism::sparse_l1(a.view(), b.view()), l1, 1e-5 * l1 + 1e-30);
						EXPECT_NEAR(prism::sparse_norm_sq(a.view()), na, 1e-5 * na + 1e-30);
					}
					EXPECT_EQ(prism::sparse_l2sq(a.view(), b.view()), prism::sparse_l2sq(b.view(), a.view()));
					EXPECT_EQ(prism::sparse_l2sq(a.view(), a.view()), 0.0f);
				}
			}
		}
	}
}

int dense_compare(const std::vector<float> &x, const std::vector<float> &y)
{
	size_t n = std::min(x.size(), y.size());
	for (size_t i = 0; i < n; i++) {
		if (x[i] < y[i])
			return -1;
		if (x[i] > y[i])
			return 1;
	}
	return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
}

TEST(SparseDistances, OrderIsTheDenseOrder)
{
	std::mt19937 rng(9);
	std::vector<Sparse> all;
	for (int32_t dim : {1, 2, 3, 5})
		for (int k = 0; k < 25; k++)
			all.push_back(random_sparse(rng, dim, 0.4, true));
	for (const Sparse &a : all)
		for (const Sparse &b : all)
			ASSERT_EQ(prism::sparse_compare(a.view(), b.view()), dense_compare(a.dense(), b.dense()));
}

}  // namespace
