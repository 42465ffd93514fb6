// Stored element kinds of the hnsw index (src/core/hnsw_element.h): sizes, encoders, the
// kernel each kind uses under each metric, and graphs built by the hnswlib builder over half
// and bit elements searched with the core search (recall against brute force).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "core/bit_distance.h"
#include "core/half.h"
#include "core/hnsw_builder.h"
#include "core/hnsw_element.h"
#include "core/hnsw_search.h"
#include "core/hnsw_sparse.h"
#include "hnsw_mem_store.h"

namespace {

using namespace prism::hnsw;
using prism::float_to_half;
using prism::half_to_float;

TEST(HnswElement, WordsAndLimits)
{
	EXPECT_EQ(element_words(ElementKind::Float32, 3), 3u);
	EXPECT_EQ(element_words(ElementKind::Half, 3), 2u);
	EXPECT_EQ(element_words(ElementKind::Half, 4), 2u);
	EXPECT_EQ(element_words(ElementKind::Half, 768), 384u);
	EXPECT_EQ(element_words(ElementKind::Bit, 1), 1u);
	EXPECT_EQ(element_words(ElementKind::Bit, 32), 1u);
	EXPECT_EQ(element_words(ElementKind::Bit, 33), 2u);
	EXPECT_EQ(element_words(ElementKind::Bit, 64000), 2000u);
	EXPECT_EQ(element_bytes(ElementKind::Half, 3), 8u);
	EXPECT_EQ(element_max_dims(ElementKind::Bit), 64000u);
	EXPECT_EQ(element_max_dims(ElementKind::Half), 16000u);
	EXPECT_EQ(element_words((ElementKind) 9, 10), 0u);
	// a halfvec record is about half a vector record at 768-d, m 16
	EXPECT_LT(element_record_size(16, element_words(ElementKind::Half, 768)),
			  element_record_size(16, element_words(ElementKind::Float32, 768)) * 6 / 10);
}

TEST(HnswElement, MetricsPerKind)
{
	for (Metric m : {Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1}) {
		EXPECT_TRUE(element_metric_valid(ElementKind::Float32, m));
		EXPECT_TRUE(element_metric_valid(ElementKind::Half, m));
		EXPECT_FALSE(element_metric_valid(ElementKind::Bit, m));
	}
	for (Metric m : {Metric::Hamming, Metric::Jaccard}) {
		EXPECT_FALSE(element_metric_valid(ElementKind::Float32, m));
		EXPECT_FALSE(element_metric_valid(ElementKind::Half, m));
		EXPECT_TRUE(element_metric_valid(ElementKind::Bit, m));
	}
	EXPECT_THROW(element_space(ElementKind::Bit, Metric::L2, 8), std::invalid_argument);
	EXPECT_THROW(element_space(ElementKind::Half, Metric::Hamming, 8), std::invalid_argument);
}

// Distances of each kind match a plain computation on the decoded values.
TEST(HnswElement, DistancesMatchReference)
{
	std::mt19937 rng(5);
	std::uniform_real_distribution<float> u(-2.0f, 2.0f);
	for (uint32_t dims : {1u, 3u, 16u, 17u, 100u, 769u}) {
		std::vector<float> a(dims), b(dims);
		for (uint32_t i = 0; i < dims; i++) {
			// values exact in half precision, so both kinds see the same numbers
			a[i] = half_to_float(float_to_half(u(rng)));
			b[i] = half_to_float(float_to_half(u(rng)));
		}
		double l2 = 0, dot = 0, l1 = 0;
		for (uint32_t i = 0; i < dims; i++) {
			l2 += (double) (a[i] - b[i]) * (a[i] - b[i]);
			dot += (double) a[i] * b[i];
			l1 += std::fabs((double) a[i] - b[i]);
		}
		for (ElementKind kind : {ElementKind::Float32, ElementKind::Half}) {
			std::vector<uint32_t> ea(element_words(kind, dims)), eb(element_words(kind, dims));
			ASSERT_TRUE(encode_float_element(kind, Metric::L2, a.data(), dims, ea.data()));
			ASSERT_TRUE(encode_float_element(kind, Metric::L2, b.data(), dims, eb.data()));
			double tol = 1e-4 * (1 + dims);
			EXPECT_NEAR(element_distance(element_space(kind, Metric::L2, dims), ea.data(), eb.data()), l2, tol);
			EXPECT_NEAR(element_distance(element_space(kind, Metric::InnerProduct, dims), ea.data(), eb.data()), -dot,
						tol);
			EXPECT_NEAR(element_distance(element_space(kind, Metric::L1, dims), ea.data(), eb.data()), l1, tol);
			EXPECT_DOUBLE_EQ(element_operator_value(Metric::L2, 4.0f), 2.0);
			EXPECT_DOUBLE_EQ(element_operator_value(Metric::L1, 4.0f), 4.0);
		}
	}
}

TEST(HnswElement, CosineNormalizes)
{
	const uint32_t dims = 5;
	float v[dims] = {3, 0, 4, 0, 0};
	uint32_t f[dims], h[3];
	ASSERT_TRUE(encode_float_element(ElementKind::Float32, Metric::Cosine, v, dims, f));
	const float *fv = reinterpret_cast<const float *>(f);
	EXPECT_FLOAT_EQ(fv[0], 0.6f);
	EXPECT_FLOAT_EQ(fv[2], 0.8f);
	ASSERT_TRUE(encode_float_element(ElementKind::Half, Metric::Cosine, v, dims, h));
	const uint16_t *hv = reinterpret_cast<const uint16_t *>(h);
	EXPECT_NEAR(half_to_float(hv[0]), 0.6f, 1e-3);
	EXPECT_NEAR(half_to_float(hv[2]), 0.8f, 1e-3);
	EXPECT_EQ(hv[5], 0u) << "padding of an odd-dimension half element is zero";
	// the same through the halfvec encoder, from half input
	uint16_t in[dims];
	for (uint32_t i = 0; i < dims; i++)
		in[i] = float_to_half(v[i]);
	uint32_t h2[3];
	ASSERT_TRUE(encode_half_element(Metric::Cosine, in, dims, h2));
	EXPECT_EQ(memcmp(h, h2, sizeof(h)), 0);
	ElementSpace s = element_space(ElementKind::Half, Metric::Cosine, dims);
	EXPECT_NEAR(element_distance(s, h, h2), 0.0f, 1e-3);
	// zero vectors have no direction: not indexed under cosine, indexed otherwise
	float zero[dims] = {0, 0, 0, 0, 0};
	uint16_t zero_h[dims] = {0, 0, 0, 0, 0x8000};
	EXPECT_FALSE(encode_float_element(ElementKind::Float32, Metric::Cosine, zero, dims, f));
	EXPECT_FALSE(encode_half_element(Metric::Cosine, zero_h, dims, h2));
	EXPECT_TRUE(encode_float_element(ElementKind::Half, Metric::L2, zero, dims, h2));
	EXPECT_TRUE(encode_half_element(Metric::InnerProduct, zero_h, dims, h2));
}

TEST(HnswElement, BitElements)
{
	const uint32_t dims = 12;	// 2 bytes, the last 4 bits unused
	uint8_t a[2] = {0xf0, 0x30}, b[2] = {0xff, 0x10};
	uint32_t ea[1], eb[1];
	encode_bit_element(a, dims, ea);
	encode_bit_element(b, dims, eb);
	const uint8_t *bytes = reinterpret_cast<const uint8_t *>(ea);
	EXPECT_EQ(bytes[0], 0xf0);
	EXPECT_EQ(bytes[2], 0u) << "padding is zero";
	EXPECT_EQ(bytes[3], 0u);
	// a: 1111 0000 0011, b: 1111 1111 0001: differ in 5 bits; 5 set in both, 10 in either
	EXPECT_FLOAT_EQ(element_distance(element_space(ElementKind::Bit, Metric::Hamming, dims), ea, eb), 5.0f);
	EXPECT_NEAR(element_distance(element_space(ElementKind::Bit, Metric::Jaccard, dims), ea, eb), 0.5, 1e-6);
	bool nan;
	EXPECT_EQ(element_bad_value(ElementKind::Bit, ea, dims, &nan), -1);
}

TEST(HnswElement, BadValues)
{
	float f[4] = {1, 2, NAN, INFINITY};
	bool nan;
	EXPECT_EQ(element_bad_value(ElementKind::Float32, f, 2, &nan), -1);
	EXPECT_EQ(element_bad_value(ElementKind::Float32, f, 4, &nan), 2);
	EXPECT_TRUE(nan);
	uint16_t h[3] = {float_to_half(1.0f), prism::kHalfPositiveInfinity, 0x7e00};
	EXPECT_EQ(element_bad_value(ElementKind::Half, h, 1, &nan), -1);
	EXPECT_EQ(element_bad_value(ElementKind::Half, h, 3, &nan), 1);
	EXPECT_FALSE(nan);
}

// The builder's graph over one element kind, searched by the core search through the
// element's kernel.
struct BuiltStore {
	GraphBuilder *b;
	const std::vector<uint32_t> *elems;	 // rows of `words` words
	size_t words;
	ElementSpace space;

	float distance(uint32_t id, const float *q, uint8_t *flags)
	{
		*flags = kElementLive;
		return element_distance(space, q, elems->data() + builder_input_index(b, id) * words);
	}
	int links(uint32_t id, int level, uint32_t *out)
	{
		if (level > builder_level(b, id))
			return 0;
		const uint32_t *l;
		int n = builder_links(b, id, level, &l);
		std::copy(l, l + n, out);
		return n;
	}
	void prefetch(uint32_t) {}
	bool grow(CandidateArray &, size_t) { return false; }
};

// recall@10 at ef 40 of a graph built over `elems` (n rows) under `metric`, against brute
// force; a result at or below the 10th exact distance counts (bit distances tie often).
double built_recall(ElementKind kind, Metric metric, uint32_t dims, const std::vector<uint32_t> &elems, size_t n)
{
	size_t words = element_words(kind, dims);
	BuildParams p;
	p.vectors = reinterpret_cast<const float *>(elems.data());
	p.n = n;
	p.dims = dims;
	p.words = words;
	p.element = kind;
	p.m = 16;
	p.ef_construction = 64;
	p.metric = metric;
	p.threads = 2;
	p.seed = 3;
	char err[256];
	GraphBuilder *b = builder_start(p, err, sizeof(err));
	EXPECT_NE(b, nullptr) << err;
	if (!b)
		return 0;
	bool finished = false;
	while (!finished) {
		builder_progress(b, &finished);
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
	EXPECT_STREQ(builder_error(b), "");
	BuiltStore s{b, &elems, words, element_space(kind, metric, dims)};
	const int ef = 40, k = 10, queries = 50;
	std::vector<Candidate> fr(4096), res(4096);
	std::vector<uint32_t> marks(n, 0), link_buf(2 * kMaxM + 1);
	VisitedSet visited{marks.data(), n, 0};
	double hits = 0;
	for (int qi = 0; qi < queries; qi++) {
		const float *q = reinterpret_cast<const float *>(elems.data() + ((size_t) qi * 37 % n) * words);
		std::vector<float> exact(n);
		for (size_t r = 0; r < n; r++)
			exact[r] = element_distance(s.space, q, elems.data() + r * words);
		std::vector<float> sorted = exact;
		std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
		float kth = sorted[k - 1];
		uint8_t flags;
		uint32_t ep_id = builder_entry_point(b);
		Candidate ep{s.distance(ep_id, q, &flags), ep_id};
		greedy_descend(s, q, ep, builder_max_level(b), 0, link_buf.data());
		visited_reset(visited);
		visited_insert(visited, ep.id);
		CandidateArray frontier{fr.data(), 0, fr.size()}, result{res.data(), 0, res.size()};
		search_layer(s, q, &ep, 1, ef, 0, visited, frontier, result, nullptr, link_buf.data(), nullptr);
		sort_ascending(result);
		for (size_t i = 0; i < result.size && i < (size_t) k; i++)
			hits += result.items[i].dist <= kth ? 1 : 0;
	}
	builder_free(b);
	return hits / (queries * k);
}

TEST(HnswElement, HalfGraphsFindNeighbours)
{
	const uint32_t dims = 24;
	const size_t n = 3000;
	std::vector<float> v = prism_test::clustered_data(n, dims, 30, 11);
	std::vector<uint32_t> elems(n * element_words(ElementKind::Half, dims));
	for (Metric metric : {Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1}) {
		size_t words = element_words(ElementKind::Half, dims);
		for (size_t r = 0; r < n; r++)
			ASSERT_TRUE(encode_float_element(ElementKind::Half, metric, v.data() + r * dims, dims, elems.data() + r * words));
		EXPECT_GE(built_recall(ElementKind::Half, metric, dims, elems, n), 0.9) << "metric " << (int) metric;
	}
}

TEST(HnswElement, BitGraphsFindNeighbours)
{
	const uint32_t dims = 100;	// not a multiple of 32: the padding must not count
	const size_t n = 3000;
	std::vector<float> v = prism_test::clustered_data(n, dims, 30, 12);
	size_t words = element_words(ElementKind::Bit, dims);
	std::vector<uint32_t> elems(n * words);
	for (size_t r = 0; r < n; r++) {
		uint8_t bits[13] = {0};
		for (uint32_t d = 0; d < dims; d++)
			if (v[r * dims + d] > 0)
				bits[d / 8] |= (uint8_t) (0x80 >> (d % 8));
		encode_bit_element(bits, dims, elems.data() + r * words);
	}
	for (Metric metric : {Metric::Hamming, Metric::Jaccard})
		EXPECT_GE(built_recall(ElementKind::Bit, metric, dims, elems, n), 0.9) << "metric " << (int) metric;
}

// Sparse elements: hnswlib's data are 16-byte memory handles into the rows' non-zeros, and the
// kernels dereference them, so the multi-threaded build works for sparse rows as for dense ones
// (inner product unlifted: sparse dimensions can be huge).
TEST(HnswElement, SparseBuiltGraphRecall)
{
	const uint32_t dims = 5000;
	const size_t n = 1500;
	std::mt19937 rng(11);
	std::uniform_real_distribution<float> noise(0.0f, 0.2f);
	for (Metric metric : {Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1}) {
		std::vector<std::vector<int32_t>> pairs(n);
		std::vector<uint32_t> elems(n * kSparseHandleWords);
		for (size_t r = 0; r < n; r++) {
			// rows of one of 30 topics: most non-zeros among the topic's 40 dimensions, with values
			// near the topic's (on uncorrelated values l2 and l1 neighbours are mostly the
			// shortest rows, for dense graphs as well)
			uint32_t topic = rng() % 30;
			std::vector<int32_t> idx;
			size_t nnz = 10 + rng() % 20;
			while (idx.size() < nnz) {
				int32_t k = rng() % 10 < 9 ? (int32_t) ((topic * 977 + (rng() % 40) * 13) % dims) : (int32_t) (rng() % dims);
				if (std::find(idx.begin(), idx.end(), k) == idx.end())
					idx.push_back(k);
			}
			std::sort(idx.begin(), idx.end());
			std::vector<float> v(idx.size());
			for (size_t i = 0; i < idx.size(); i++)
				v[i] = 0.2f + (float) ((topic * 31 + idx[i] * 17) % 100) / 100.0f + noise(rng);
			pairs[r].resize(2 * idx.size());
			prism::SparseView view{(int32_t) dims, (int32_t) idx.size(), idx.data(), v.data()};
			ASSERT_TRUE(encode_sparse_element(metric, view, pairs[r].data()));
			SparseHandle h = sparse_memory_handle((uint32_t) idx.size(), pairs[r].data());
			memcpy(elems.data() + r * kSparseHandleWords, &h, sizeof(h));
		}
		double sparse = built_recall(ElementKind::Sparse, metric, dims, elems, n);
		// the same rows as dense float32 vectors: the sparse graph is as good
		std::vector<uint32_t> dense(n * dims, 0);
		for (size_t r = 0; r < n; r++) {
			size_t k = pairs[r].size() / 2;
			for (size_t i = 0; i < k; i++)
				memcpy(&dense[r * dims + pairs[r][i]], &pairs[r][k + i], 4);
		}
		double dense_recall = built_recall(ElementKind::Float32, metric, dims, dense, n);
		EXPECT_GE(sparse, 0.85) << "metric " << (int) metric;
		EXPECT_GE(sparse, dense_recall - 0.03) << "metric " << (int) metric;
	}
}

}  // namespace
