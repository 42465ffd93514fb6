// hnswlib graph builder (src/core/hnsw_builder.h): a multi-threaded build yields a well-formed
// graph; a build stopped mid-way returns promptly and leaves a readable partial graph.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "core/hnsw_builder.h"
#include "hnsw_mem_store.h"

namespace {

using namespace prism::hnsw;

using prism_test::clustered_data;

BuildParams
params_for(const std::vector<float> &v, size_t n, size_t dims, int m, int threads)
{
	BuildParams p;
	p.vectors = v.data();
	p.n = n;
	p.dims = dims;
	p.m = m;
	p.ef_construction = 64;
	p.metric = Metric::L2;
	p.threads = threads;
	p.seed = 42;
	return p;
}

// Every link of every element in range, no self links, no duplicates, counts within the
// level's bound; levels within what the entry point has.
void
check_graph(GraphBuilder *b, int m, bool every_element_reached = true)
{
	size_t n = builder_count(b);
	int max_level = builder_max_level(b);
	uint32_t ep = builder_entry_point(b);
	ASSERT_LT(ep, n);
	EXPECT_EQ(builder_level(b, ep), max_level);
	std::vector<bool> rows(n, false);
	size_t linked = 0;
	for (uint32_t id = 0; id < n; id++) {
		size_t row = builder_input_index(b, id);
		ASSERT_LT(row, n);
		EXPECT_FALSE(rows[row]) << "row " << row << " mapped twice";
		rows[row] = true;
		int level = builder_level(b, id);
		ASSERT_GE(level, 0);
		ASSERT_LE(level, max_level);
		for (int l = 0; l <= level; l++) {
			const uint32_t *links;
			int cnt = builder_links(b, id, l, &links);
			ASSERT_GE(cnt, 0);
			ASSERT_LE(cnt, max_links(m, l)) << "id " << id << " level " << l;
			std::set<uint32_t> seen;
			for (int i = 0; i < cnt; i++) {
				ASSERT_LT(links[i], n) << "id " << id << " level " << l;
				ASSERT_NE(links[i], id) << "self link at level " << l;
				// A neighbour at level l must itself exist at level l.
				ASSERT_GE(builder_level(b, links[i]), l);
				EXPECT_TRUE(seen.insert(links[i]).second) << "duplicate link from " << id;
			}
			if (l == 0 && cnt > 0)
				linked++;
		}
	}
	if (n > 1) {
		EXPECT_EQ(linked, n) << "an element has no level-0 links";
		// a level-0 walk from the entry point reaches every element
		std::vector<char> reached(n, 0);
		std::vector<uint32_t> todo{ep};
		reached[ep] = 1;
		while (!todo.empty()) {
			const uint32_t *links;
			int cnt = builder_links(b, todo.back(), 0, &links);
			todo.pop_back();
			for (int i = 0; i < cnt; i++)
				if (!reached[links[i]]) {
					reached[links[i]] = 1;
					todo.push_back(links[i]);
				}
		}
		for (uint32_t id = 0; id < n && every_element_reached; id++)
			ASSERT_TRUE(reached[id]) << "element " << id << " is not reached from the entry point";
	}
}

// Starts a build and waits for it; null if it could not start.
GraphBuilder *
build_all(const BuildParams &p)
{
	char err[256];
	GraphBuilder *b = builder_start(p, err, sizeof(err));
	if (!b) {
		ADD_FAILURE() << err;
		return nullptr;
	}
	bool finished = false;
	while (!finished) {
		builder_progress(b, &finished);
		if (!finished)
			std::this_thread::sleep_for(std::chrono::milliseconds(2));
	}
	EXPECT_STREQ(builder_error(b), "");
	EXPECT_EQ(builder_count(b), p.n);
	return b;
}

TEST(HnswBuilder, BuildsWellFormedGraph)
{
	const size_t n = 5000, dims = 32;
	const int m = 12;
	std::vector<float> v = clustered_data(n, dims, 20, 7);
	BuildParams p = params_for(v, n, dims, m, 2);
	char err[256] = "x";
	GraphBuilder *b = builder_start(p, err, sizeof(err));
	ASSERT_NE(b, nullptr) << err;
	EXPECT_STREQ(err, "");
	bool finished = false;
	size_t last = 0;
	while (!finished) {
		size_t done = builder_progress(b, &finished);
		EXPECT_GE(done, last);	// monotonic
		last = done;
		if (!finished)
			std::this_thread::sleep_for(std::chrono::milliseconds(2));
	}
	EXPECT_EQ(last, n);
	EXPECT_STREQ(builder_error(b), "");
	EXPECT_EQ(builder_count(b), n);
	check_graph(b, m);
	EXPECT_GE(builder_max_level(b), 1);	 // 5,000 elements at m=12: upper levels exist
	// Calling progress again after the join is harmless.
	EXPECT_EQ(builder_progress(b, &finished), n);
	EXPECT_TRUE(finished);
	builder_free(b);
}

TEST(HnswBuilder, InnerProductSingleThread)
{
	const size_t n = 800, dims = 16;
	std::vector<float> v = clustered_data(n, dims, 5, 11);
	for (size_t i = 0; i < n; i++) {  // cosine/IP builds get normalized vectors
		double s = 0;
		for (size_t d = 0; d < dims; d++)
			s += v[i * dims + d] * v[i * dims + d];
		for (size_t d = 0; d < dims; d++)
			v[i * dims + d] /= (float) std::sqrt(s);
	}
	BuildParams p = params_for(v, n, dims, 8, 1);
	p.metric = Metric::Cosine;
	char err[256];
	GraphBuilder *b = builder_start(p, err, sizeof(err));
	ASSERT_NE(b, nullptr) << err;
	bool finished = false;
	while (!finished) {
		builder_progress(b, &finished);
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	}
	EXPECT_EQ(builder_count(b), n);
	check_graph(b, 8);
	builder_free(b);
}

// hnswlib's back-link pruning can leave elements no level-0 walk from the entry point reaches;
// this single-threaded (so deterministic) build of the clustered set leaves some. The builder
// connects each, so check_graph's reachability check passes.
TEST(HnswBuilder, ConnectsUnreachableElements)
{
	const size_t n = 5000, dims = 32;
	const int m = 12;
	std::vector<float> v = clustered_data(n, dims, 20, 7);
	GraphBuilder *b = build_all(params_for(v, n, dims, m, 1));
	ASSERT_NE(b, nullptr);
	EXPECT_GT(builder_unreachable_found(b), 0u);
	EXPECT_GT(builder_unreachable_linked(b), 0u);
	check_graph(b, m);
	builder_free(b);
}

// Inner product on vectors of unequal norms: hnswlib's heuristic over the raw metric would leave
// most elements without in-links; built over lifted vectors (an l2 graph on a sphere) every
// element is reached from the entry point.
TEST(HnswBuilder, InnerProductGraphOnUnequalNormsIsConnected)
{
	const size_t n = 5000, dims = 32;
	const int m = 12;
	std::vector<float> v = clustered_data(n, dims, 20, 7);
	BuildParams p = params_for(v, n, dims, m, 1);
	p.metric = Metric::InnerProduct;
	GraphBuilder *b = build_all(p);
	ASSERT_NE(b, nullptr);
	EXPECT_LE(builder_unreachable_found(b), n / 100);
	EXPECT_EQ(builder_unreachable_linked(b), builder_unreachable_found(b));
	check_graph(b, m);
	builder_free(b);
}

TEST(HnswBuilder, StopMidBuildReturnsPromptly)
{
	// Big enough to take several seconds when run to completion.
	const size_t n = 60000, dims = 128;
	const int m = 16;
	std::vector<float> v = clustered_data(n, dims, 50, 3);
	BuildParams p = params_for(v, n, dims, m, 2);
	p.ef_construction = 200;
	char err[256];
	GraphBuilder *b = builder_start(p, err, sizeof(err));
	ASSERT_NE(b, nullptr) << err;
	bool finished = false;
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
	while (builder_progress(b, &finished) < 200 && !finished && std::chrono::steady_clock::now() < deadline)
		std::this_thread::sleep_for(std::chrono::milliseconds(1));
	ASSERT_FALSE(finished) << "build finished before it could be stopped";
	auto t0 = std::chrono::steady_clock::now();
	builder_stop(b);
	double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
	EXPECT_LT(ms, 1000.0) << "stop waits for one element per thread, not the whole build";
	size_t done = builder_progress(b, &finished);
	EXPECT_TRUE(finished);
	EXPECT_LT(done, n);
	EXPECT_GE(done, 200u);
	EXPECT_EQ(builder_count(b), done);
	EXPECT_STREQ(builder_error(b), "");
	check_graph(b, m);	// the partial graph is consistent
	builder_stop(b);	// idempotent
	builder_free(b);
}

TEST(HnswBuilder, FreeWhileRunningJoins)
{
	const size_t n = 30000, dims = 64;
	std::vector<float> v = clustered_data(n, dims, 10, 5);
	BuildParams p = params_for(v, n, dims, 16, 2);
	char err[256];
	GraphBuilder *b = builder_start(p, err, sizeof(err));
	ASSERT_NE(b, nullptr) << err;
	builder_free(b);  // no stop first: free stops and joins
	builder_free(nullptr);
}

TEST(HnswBuilder, EmptyInput)
{
	std::vector<float> v;
	BuildParams p = params_for(v, 0, 8, 16, 4);
	char err[256];
	GraphBuilder *b = builder_start(p, err, sizeof(err));
	ASSERT_NE(b, nullptr) << err;
	bool finished = false;
	while (!finished)
		builder_progress(b, &finished);
	EXPECT_EQ(builder_count(b), 0u);
	EXPECT_EQ(builder_entry_point(b), kInvalidId);	// hnswlib's -1 as an unsigned id
	EXPECT_EQ(builder_max_level(b), -1);
	builder_free(b);
}

TEST(HnswBuilder, MoreThreadsThanElements)
{
	const size_t n = 3, dims = 4;
	std::vector<float> v = clustered_data(n, dims, 1, 9);
	BuildParams p = params_for(v, n, dims, 4, 16);
	char err[256];
	GraphBuilder *b = builder_start(p, err, sizeof(err));
	ASSERT_NE(b, nullptr) << err;
	bool finished = false;
	while (!finished)
		builder_progress(b, &finished);
	EXPECT_EQ(builder_count(b), n);
	check_graph(b, 4);
	builder_free(b);
}

#if !defined(__SANITIZE_ADDRESS__)
// An allocation hnswlib cannot satisfy comes back as an error string, not an exception.
// (Skipped under ASan, which aborts on impossible allocation sizes by default.)
TEST(HnswBuilder, ImpossibleSizeReportsError)
{
	BuildParams p;
	p.vectors = nullptr;  // never read: the graph cannot even be allocated
	p.n = size_t(1) << 46;
	p.dims = 1024;
	p.m = 16;
	p.ef_construction = 64;
	p.metric = Metric::L2;
	p.threads = 2;
	p.seed = 1;
	char err[256] = "";
	GraphBuilder *b = builder_start(p, err, sizeof(err));
	EXPECT_EQ(b, nullptr);
	EXPECT_STRNE(err, "");
	builder_free(b);
}
#endif

TEST(HnswBuilder, MemoryEstimateGrowsWithShape)
{
	size_t a = builder_memory_estimate(1000, 128, 16);
	EXPECT_GT(a, 1000u * 128 * sizeof(float));	// at least the vectors
	EXPECT_GT(builder_memory_estimate(2000, 128, 16), a);
	EXPECT_GT(builder_memory_estimate(1000, 256, 16), a);
	EXPECT_GT(builder_memory_estimate(1000, 128, 32), a);
}

}  // namespace
