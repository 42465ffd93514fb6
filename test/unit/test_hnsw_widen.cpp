// The widened beam (widen_search in src/core/hnsw_search.h) over an in-memory store: the state it
// keeps (top, rest, frontier), that widening a stopped beam finds what a fresh wider beam finds,
// and that a filtered scan built on it (beam, then widening before each element) keeps the
// recall of the unfiltered search at the same ef_search.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <thread>
#include <vector>

#include "hnsw_mem_store.h"

namespace {

using namespace prism::hnsw;
using prism_test::clustered_data;
using prism_test::MemStore;
using prism_test::SearchScratch;

struct WidenFixture {
	static constexpr size_t n = 6000, dims = 24, n_queries = 60;
	static constexpr int m = 8;
	std::vector<float> data;
	MemStore store;

	WidenFixture()
	{
		data = clustered_data(n + n_queries, dims, 30, 777);
		BuildParams p;
		p.vectors = data.data();
		p.n = n;
		p.dims = dims;
		p.m = m;
		p.ef_construction = 32;
		p.metric = Metric::L2;
		p.threads = 2;
		p.seed = 5;
		char err[256];
		GraphBuilder *b = builder_start(p, err, sizeof(err));
		if (!b)
			throw std::runtime_error(err);
		bool finished = false;
		while (!finished) {
			builder_progress(b, &finished);
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		}
		prism_test::store_from_builder(store, b, data.data(), dims, m, Metric::L2);
		builder_free(b);
	}
	const float *query(size_t i) const { return &data[(n + i) * dims]; }

	// Exact nearest k ids among those `keep` accepts.
	template <class Keep> std::vector<uint32_t> truth(const float *q, size_t k, Keep keep)
	{
		std::vector<Candidate> all;
		for (uint32_t id = 0; id < store.size(); id++)
			if (keep(id))
				all.push_back(Candidate{store.pair_distance(q, store.vec(id)), id});
		k = std::min(k, all.size());
		std::partial_sort(all.begin(), all.begin() + k, all.end(),
						  [](const Candidate &a, const Candidate &b) { return a.dist < b.dist; });
		std::vector<uint32_t> ids;
		for (size_t i = 0; i < k; i++)
			ids.push_back(all[i].id);
		return ids;
	}
};

WidenFixture &fixture()
{
	static WidenFixture f;
	return f;
}

// Owns the widening arrays (malloc'd, grown by the store's realloc).
struct WidenScratch {
	Widening w{{nullptr, 0, 0}, {nullptr, 0, 0}};
	WidenScratch()
	{
		SearchScratch::alloc(w.top, 4);
		SearchScratch::alloc(w.rest, 4);
	}
	~WidenScratch()
	{
		std::free(w.top.items);
		std::free(w.rest.items);
	}
	// From a finished search_layer: top = its result (any order), rest = discovered minus it.
	void start(const CandidateArray &result, const CandidateArray &discovered)
	{
		std::set<uint32_t> in_result;
		w.top.size = w.rest.size = 0;
		for (size_t i = 0; i < result.size; i++) {
			in_result.insert(result.items[i].id);
			push(w.top, result.items[i]);
		}
		std::make_heap(w.top.items, w.top.items + w.top.size, FartherFirst());
		for (size_t i = 0; i < discovered.size; i++)
			if (!in_result.count(discovered.items[i].id))
				push(w.rest, discovered.items[i]);
		std::make_heap(w.rest.items, w.rest.items + w.rest.size, CloserFirst());
	}
	static void push(CandidateArray &a, Candidate c)
	{
		if (a.size == a.capacity) {
			a.capacity *= 2;
			a.items = static_cast<Candidate *>(std::realloc(a.items, a.capacity * sizeof(Candidate)));
		}
		a.items[a.size++] = c;
	}
};

WidenStatus widen(WidenFixture &f, SearchScratch &sc, WidenScratch &ws, const float *q, size_t width,
				  uint64_t *discovered_count, uint64_t max_discovered = UINT64_MAX, size_t max_expansions = SIZE_MAX)
{
	return widen_search(f.store, q, width, 0, sc.visited, sc.frontier, ws.w, &sc.discovered, sc.link_buf.data(),
						nullptr, discovered_count, max_discovered, max_expansions);
}

double overlap(const std::vector<uint32_t> &got, const std::vector<uint32_t> &want)
{
	std::set<uint32_t> g(got.begin(), got.end());
	size_t hits = 0;
	for (uint32_t id : want)
		hits += g.count(id);
	return want.empty() ? 1.0 : double(hits) / want.size();
}

std::vector<uint32_t> sorted_ids(CandidateArray a, size_t k)
{
	std::vector<Candidate> c(a.items, a.items + a.size);
	CandidateArray tmp{c.data(), c.size(), c.size()};
	sort_ascending(tmp);
	std::vector<uint32_t> ids;
	for (size_t i = 0; i < std::min(k, c.size()); i++)
		ids.push_back(c[i].id);
	return ids;
}

// Widening an ef-10 beam to width N finds (nearly) what a fresh ef-N beam finds: its first N
// elements are as close to the truth as the fresh search's, never much worse.
TEST(HnswWiden, WidenedBeamMatchesFreshWiderBeam)
{
	WidenFixture &f = fixture();
	SearchScratch sc(f.store.size(), f.m, 16), fresh(f.store.size(), f.m, 16);
	const size_t widths[] = {20, 50, 100};
	for (size_t width : widths) {
		double widened_recall = 0, fresh_recall = 0, narrow_recall = 0;
		for (size_t qi = 0; qi < f.n_queries; qi++) {
			const float *q = f.query(qi);
			std::vector<uint32_t> truth = f.truth(q, width, [](uint32_t) { return true; });
			prism_test::knn_search(f.store, sc, q, 10, &sc.discovered);
			narrow_recall += overlap(sorted_ids(sc.discovered, width), truth);
			WidenScratch ws;
			ws.start(sc.result, sc.discovered);
			uint64_t count = sc.discovered.size;
			ASSERT_EQ(widen(f, sc, ws, q, width, &count), WidenStatus::Done);
			ASSERT_EQ(ws.w.top.size, width);
			// The fixpoint of a width-N beam: nothing unexpanded is nearer than the N-th found.
			if (sc.frontier.size > 0) {
				EXPECT_GT(sc.frontier.items[0].dist, ws.w.top.items[0].dist);
			}
			// top holds the N nearest discovered, rest the others, and together all of them.
			EXPECT_EQ(ws.w.top.size + ws.w.rest.size, sc.discovered.size);
			if (ws.w.rest.size > 0) {
				EXPECT_LE(ws.w.top.items[0].dist, ws.w.rest.items[0].dist);
			}
			EXPECT_EQ(count, sc.discovered.size);
			std::vector<uint32_t> widened = sorted_ids(ws.w.top, width);
			EXPECT_EQ(widened, sorted_ids(sc.discovered, width)) << "top is the nearest discovered";
			widened_recall += overlap(widened, truth);
			prism_test::knn_search(f.store, fresh, q, (int) width);
			fresh_recall += overlap(sorted_ids(fresh.result, width), truth);
		}
		widened_recall /= f.n_queries;
		fresh_recall /= f.n_queries;
		narrow_recall /= f.n_queries;
		EXPECT_GE(widened_recall, fresh_recall - 0.01) << "width " << width;
		EXPECT_GT(widened_recall, narrow_recall) << "width " << width;
		RecordProperty("widened_recall_" + std::to_string(width), std::to_string(widened_recall));
		RecordProperty("fresh_recall_" + std::to_string(width), std::to_string(fresh_recall));
	}
}

// Paused after max_expansions and resumed, the search ends where one uninterrupted call ends;
// the discovered budget stops it with Budget.
TEST(HnswWiden, PauseResumeAndBudget)
{
	WidenFixture &f = fixture();
	const float *q = f.query(3);
	SearchScratch a(f.store.size(), f.m, 16), b(f.store.size(), f.m, 16);
	WidenScratch wa, wb;
	prism_test::knn_search(f.store, a, q, 10, &a.discovered);
	wa.start(a.result, a.discovered);
	uint64_t ca = a.discovered.size;
	ASSERT_EQ(widen(f, a, wa, q, 80, &ca), WidenStatus::Done);
	prism_test::knn_search(f.store, b, q, 10, &b.discovered);
	wb.start(b.result, b.discovered);
	uint64_t cb = b.discovered.size;
	int pauses = 0;
	WidenStatus st;
	while ((st = widen(f, b, wb, q, 80, &cb, UINT64_MAX, 3)) == WidenStatus::Paused)
		pauses++;
	EXPECT_EQ(st, WidenStatus::Done);
	EXPECT_GT(pauses, 0);
	EXPECT_EQ(ca, cb);
	EXPECT_EQ(sorted_ids(wa.w.top, 80), sorted_ids(wb.w.top, 80));

	SearchScratch c(f.store.size(), f.m, 16);
	WidenScratch wc;
	prism_test::knn_search(f.store, c, q, 10, &c.discovered);
	wc.start(c.result, c.discovered);
	uint64_t cc = c.discovered.size, limit = cc + 20;
	EXPECT_EQ(widen(f, c, wc, q, 1000, &cc, limit), WidenStatus::Budget);
	EXPECT_GE(cc, limit);
	EXPECT_LT(cc, limit + 2 * f.m + 1) << "at most one expansion past the budget";
	// Narrowing gives the farthest back to rest.
	WidenStatus narrowed = widen(f, c, wc, q, 5, &cc, UINT64_MAX, 0);
	EXPECT_TRUE(narrowed == WidenStatus::Done || narrowed == WidenStatus::Paused);
	EXPECT_EQ(wc.w.top.size, 5u);
	EXPECT_LE(wc.w.top.items[0].dist, wc.w.rest.items[0].dist);
}

// The scan's filtered path, strict order: the ef beam's elements first, then (once
// continued_width exceeds ef, or the beam's elements are out) before each further element the
// beam is widened to continued_width(handed out, ef); an element nearer than one already handed
// out is dropped. Returns the first k ids that `keep` accepts.
template <class Keep>
std::vector<uint32_t> filtered_scan(WidenFixture &f, const float *q, int ef, size_t k, Keep keep)
{
	SearchScratch sc(f.store.size(), f.m, 16);
	prism_test::knn_search(f.store, sc, q, ef, &sc.discovered);
	size_t beam_left = sc.result.size;
	WidenScratch ws;
	bool widening = false;
	uint64_t count = sc.discovered.size, handed_out = 0;
	float last = -INFINITY;
	std::vector<uint32_t> out;
	while (out.size() < k) {
		if (beam_left > 0 && continued_width(handed_out, ef) <= (size_t) ef) {
			beam_left--;
		} else {
			if (!widening) {
				ws.start(sc.result, sc.discovered);
				widening = true;
				beam_left = 0;
			}
			WidenStatus st = widen(f, sc, ws, q, continued_width(handed_out, ef), &count);
			EXPECT_EQ(st, WidenStatus::Done);
		}
		if (sc.discovered.size == 0)
			break;
		Candidate c = sc.discovered.items[0];
		std::pop_heap(sc.discovered.items, sc.discovered.items + sc.discovered.size, CloserFirst());
		sc.discovered.size--;
		handed_out++;
		if (c.dist < last)
			continue;
		last = c.dist;
		if (keep(c.id))
			out.push_back(c.id);
	}
	return out;
}

// The widening schedule: never below ef, non-decreasing, at least twice the rows handed out; a
// LIMIT 10 query at ef >= 20 is served by the first beam alone.
TEST(HnswWiden, ContinuedWidth)
{
	for (int ef : {1, 4, 10, 20, 40, 160, 1000}) {
		size_t last = 0;
		for (uint64_t n = 0; n < 5000; n++) {
			size_t w = continued_width(n, ef);
			EXPECT_GE(w, (size_t) ef);
			EXPECT_GE(w, last) << "ef " << ef << " n " << n;
			EXPECT_GE(w, 2 * (n + 1)) << "ef " << ef << " n " << n;
			last = w;
		}
		if (ef >= 20) {
			for (uint64_t n = 0; n < kRowsPerBeam; n++)
				EXPECT_EQ(continued_width(n, ef), (size_t) ef);
		}
	}
	EXPECT_EQ(continued_width(10, 40), 40u * 22 / 10);	// row 11: twice a top-10 query's rate
	EXPECT_EQ(continued_width(999, 40), 40u * 1030 / 10);  // past row 30: the plain rate
}

// Filtered recall (a 10% and a 2% filter) at each ef is at least the unfiltered recall there.
TEST(HnswWiden, FilteredRecallAtLeastUnfiltered)
{
	WidenFixture &f = fixture();
	const int efs[] = {10, 20, 40};
	const uint32_t mods[] = {10, 50};
	for (int ef : efs) {
		double unfiltered = 0;
		SearchScratch sc(f.store.size(), f.m, 16);
		for (size_t qi = 0; qi < f.n_queries; qi++) {
			prism_test::knn_search(f.store, sc, f.query(qi), ef);
			unfiltered += overlap(sorted_ids(sc.result, 10), f.truth(f.query(qi), 10, [](uint32_t) { return true; }));
		}
		unfiltered /= f.n_queries;
		for (uint32_t mod : mods) {
			auto keep = [mod](uint32_t id) { return id % mod == 3; };
			double filtered = 0;
			for (size_t qi = 0; qi < f.n_queries; qi++) {
				std::vector<uint32_t> got = filtered_scan(f, f.query(qi), ef, 10, keep);
				EXPECT_EQ(got.size(), 10u);
				filtered += overlap(got, f.truth(f.query(qi), 10, keep));
			}
			filtered /= f.n_queries;
			EXPECT_GE(filtered, unfiltered) << "ef " << ef << ", 1 row in " << mod;
			RecordProperty("ef" + std::to_string(ef) + "_mod" + std::to_string(mod), std::to_string(filtered));
		}
		RecordProperty("ef" + std::to_string(ef) + "_unfiltered", std::to_string(unfiltered));
	}
}

}  // namespace
