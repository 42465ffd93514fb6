// Unit tests of the graph operations of src/core/hnsw_graph.h over the in-memory store: the
// back-link rule shared by insert and vacuum, and its in-link bookkeeping.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "core/hnsw_graph.h"
#include "hnsw_mem_store.h"

namespace {

using namespace prism::hnsw;
using prism_test::MemStore;
using prism_test::SearchScratch;

struct Scratch {
	GraphScratch sc;
	std::unique_ptr<char[]> mem;
	Scratch(size_t cap, size_t dims) : mem(new char[graph_scratch_bytes(cap, dims)])
	{
		graph_scratch_init(sc, mem.get(), cap, dims);
	}
};

// 2-D points on one level, m = 2 (level-0 lists hold 4).
struct Plane {
	MemStore s;
	explicit Plane(const std::vector<std::pair<float, float>> &pts)
	{
		s.init(pts.size(), 2, 2, Metric::L2);
		for (uint32_t i = 0; i < pts.size(); i++) {
			float v[2] = {pts[i].first, pts[i].second};
			s.set_vector(i, v);
		}
	}
	// Sets the level-0 list of `id` through the store, so counts follow.
	void link(uint32_t id, std::vector<uint32_t> ids)
	{
		uint32_t old[8];
		int n_old = s.links(id, 0, old);
		s.set_links(id, 0, old, n_old, ids.data(), (int) ids.size());
	}
	std::vector<uint32_t> list(uint32_t id)
	{
		uint32_t out[8];
		int n = s.links(id, 0, out);
		return std::vector<uint32_t>(out, out + n);
	}
	bool backlink(uint32_t nb, uint32_t id)
	{
		Scratch scratch(2 * s.m + 1, 2);
		return add_backlink(s, scratch.sc, nb, id, s.vec(id), 0, s.m);
	}
};

TEST(HnswGraph, BacklinkAppendedWhileRoom)
{
	Plane p({{0, 0}, {1, 0}, {2, 0}});
	p.link(0, {1});
	EXPECT_TRUE(p.backlink(0, 2));
	EXPECT_EQ(p.list(0), (std::vector<uint32_t>{1, 2}));
	EXPECT_EQ(p.s.in_counts, p.s.count_in_links());
	// already there: no change
	EXPECT_TRUE(p.backlink(0, 2));
	EXPECT_EQ(p.list(0), (std::vector<uint32_t>{1, 2}));
}

// Element 0 at the origin with a full list; 1-4 lie along +x, so the heuristic keeps only the
// nearest of them when the list is chosen again.
static Plane full_line()
{
	Plane p({{0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}, {0, 5}, {5, 5}});
	p.link(0, {1, 2, 3, 4});
	return p;
}

TEST(HnswGraph, BacklinkPrunesByHeuristicWhenFull)
{
	Plane p = full_line();
	// 2, 3 and 4 have other in-links (from 5 and 6, three each counting 0's): prunable.
	p.link(5, {2, 3, 4});
	p.link(6, {2, 3, 4});
	// as if more lists held them
	p.s.in_counts[2] = p.s.in_counts[3] = p.s.in_counts[4] = kKeptInLinks + 1;
	p.link(1, {5});												  // 5 has an in-link already
	p.s.in_counts[5] = kKeptInLinks;
	EXPECT_TRUE(p.backlink(0, 5));
	// 1 (nearest), then 5 (another direction); 2-4 are behind 1 and have other in-links.
	EXPECT_EQ(p.list(0), (std::vector<uint32_t>{1, 5}));
}

TEST(HnswGraph, BacklinkNeverDropsAnElementsOnlyInLink)
{
	Plane p = full_line();
	// Only 0 links to 2, 3 and 4: the heuristic would drop them, the rule keeps them.
	p.s.in_counts[5] = kKeptInLinks;
	bool kept = p.backlink(0, 5);
	std::vector<uint32_t> got = p.list(0);
	for (uint32_t id : {2u, 3u, 4u})
		EXPECT_NE(std::find(got.begin(), got.end(), id), got.end()) << "dropped the only in-link of " << id;
	EXPECT_FALSE(kept);	 // no room left for 5, which has in-links elsewhere
	EXPECT_EQ(got.size(), 4u);
}

TEST(HnswGraph, NewElementWithoutInLinksIsKept)
{
	Plane p = full_line();
	p.s.in_counts[1] = p.s.in_counts[2] = p.s.in_counts[3] = p.s.in_counts[4] = 10;
	// 6 at (5,5) is farther than everything in 0's list but has no in-link yet.
	EXPECT_TRUE(p.backlink(0, 6));
	std::vector<uint32_t> got = p.list(0);
	EXPECT_NE(std::find(got.begin(), got.end(), 6u), got.end());
}

TEST(HnswGraph, DeletedLinksGoWhenAListIsChosenAgain)
{
	Plane p = full_line();
	p.s.in_counts[1] = p.s.in_counts[2] = p.s.in_counts[3] = p.s.in_counts[4] = 10;
	p.s.deleted[1] = 1;
	p.s.in_counts[5] = kKeptInLinks;
	p.backlink(0, 5);
	std::vector<uint32_t> got = p.list(0);
	EXPECT_EQ(std::find(got.begin(), got.end(), 1u), got.end());
}

// Inserts points one at a time with the core operations (beam search, choose_neighbors,
// add_backlink), as the extension's insert does, on one level with a small m so lists fill
// and get pruned all the time.
static void insert_all(MemStore &s, size_t n, int ef)
{
	size_t dims = s.dims;
	Scratch scratch(std::max(ef, 2 * s.m) + 1, dims);
	GraphScratch &sc = scratch.sc;
	SearchScratch search(n, s.m, ef + 1);
	s.entry_point = 0;
	s.max_level = 0;
	std::vector<uint32_t> chosen(s.m);
	for (uint32_t id = 1; id < n; id++) {
		const float *v = s.vec(id);
		uint8_t flags;
		Candidate ep{s.distance(0, v, &flags), 0};
		visited_reset(search.visited);
		visited_insert(search.visited, 0);
		search_layer(s, v, &ep, 1, ef, 0, search.visited, search.frontier, search.result, nullptr,
					 search.link_buf.data(), nullptr);
		int c = 0;
		for (size_t i = 0; i < search.result.size; i++) {
			sc.cands[c] = search.result.items[i];
			s.vector(sc.cands[c].id, sc.vecs + c * dims);
			sc.keep[c] = false;
			c++;
		}
		int k = choose_neighbors(s, sc, c, s.m, chosen.data());
		s.set_links(id, 0, nullptr, 0, chosen.data(), k);
		for (int i = 0; i < k; i++)
			add_backlink(s, sc, chosen[i], id, v, 0, s.m);
	}
}

TEST(HnswGraph, RowByRowInsertsKeepEveryElementFindable)
{
	for (uint32_t seed : {1u, 2u, 3u}) {
		size_t n = 3000, dims = 8;
		std::vector<float> data(n * dims);
		std::mt19937 rng(seed);
		std::uniform_real_distribution<float> u(0, 1);
		for (float &x : data)
			x = u(rng);
		MemStore s;
		s.init(n, dims, 4, Metric::L2);
		for (uint32_t i = 0; i < n; i++)
			s.set_vector(i, &data[i * dims]);
		insert_all(s, n, 24);
		// The counts are the links that exist, and every element but the entry has one.
		std::vector<uint16_t> actual = s.count_in_links();
		ASSERT_EQ(s.in_counts, actual);
		for (uint32_t id = 1; id < n; id++)
			ASSERT_GE(actual[id], 1) << "element " << id << " has no in-link (seed " << seed << ")";
		// Every element is found first by its own vector.
		SearchScratch search(n, s.m, 64);
		int missed = 0;
		for (uint32_t id = 0; id < n; id++) {
			prism_test::knn_search(s, search, s.vec(id), 100);
			if (search.result.size == 0 || search.result.items[0].dist != 0)
				missed++;
		}
		EXPECT_EQ(missed, 0) << "seed " << seed;
	}
}

// MemStore with what connect_unreachable needs (level-0 searches from the entry point).
struct ReachMem {
	MemStore &s;
	SearchScratch search;
	int ef;
	ReachMem(MemStore &store, int ef_) : s(store), search(store.size(), store.m, ef_ + 1), ef(ef_) {}

	size_t dimensions() const { return s.dims; }
	float pair_distance(const float *a, const float *b) { return s.pair_distance(a, b); }
	int links(uint32_t id, int level, uint32_t *out) { return s.links(id, level, out); }
	void vector(uint32_t id, float *out) { s.vector(id, out); }
	void set_links(uint32_t id, int level, const uint32_t *old, int n_old, const uint32_t *ids, int n)
	{
		s.set_links(id, level, old, n_old, ids, n);
	}
	size_t capacity() const { return s.size(); }
	bool node(uint32_t id) const { return !s.deleted[id]; }
	bool usable(uint32_t id) const { return !s.deleted[id]; }
	bool usable(uint32_t id, int level) const { return id < s.size() && !s.deleted[id] && s.levels[id] >= level; }
	bool deleted(uint32_t id, int level) const { return id < s.size() && s.deleted[id] && s.levels[id] >= level; }
	float distance(uint32_t id, const float *q, uint8_t *flags) { return s.distance(id, q, flags); }
	int search_level(const float *vec, int, Candidate *out, int max)
	{
		searches++;
		return search_near(vec, out, max);
	}
	int searches = 0;
	int search_near(const float *vec, Candidate *out, int max)
	{
		prism_test::knn_search(s, search, vec, ef);
		int n = (int) std::min(search.result.size, (size_t) max);
		memcpy(out, search.result.items, sizeof(Candidate) * n);
		return n;
	}
	void walk_step() {}
	void begin_repairs() { repairs_begun++; }
	void pause() {}
	int repairs_begun = 0;
};

static size_t count_reached(MemStore &s)
{
	std::vector<uint8_t> reached(s.size());
	std::vector<uint32_t> stack(s.size()), in(s.size());
	ReachScratch rs{s.size(), reached.data(), stack.data(), nullptr};
	ReachMem g(s, 16);
	std::vector<uint32_t> buf(2 * s.m + 1);
	mark_reached(g, rs, s.entry_point, buf.data());
	size_t n = 0;
	for (uint8_t r : reached)
		n += r;
	return n;
}

// Cuts every level-0 link to `victims` (as deletions or pruning would).
static void cut_in_links(MemStore &s, const std::vector<uint32_t> &victims)
{
	std::vector<uint32_t> buf(2 * s.m + 1), keep;
	for (uint32_t id = 0; id < s.size(); id++) {
		int n = s.links(id, 0, buf.data());
		keep.clear();
		for (int i = 0; i < n; i++)
			if (std::find(victims.begin(), victims.end(), buf[i]) == victims.end())
				keep.push_back(buf[i]);
		if ((int) keep.size() != n)
			s.set_links(id, 0, buf.data(), n, keep.data(), (int) keep.size());
	}
}

static void connect(MemStore &s, size_t *unreached, size_t *connected, int *repairs_begun = nullptr)
{
	size_t n = s.size();
	std::vector<uint8_t> reached(n);
	std::vector<uint32_t> stack(n);
	std::vector<uint16_t> in(n);
	ReachScratch rs{n, reached.data(), stack.data(), in.data()};
	ReachMem g(s, 32);
	size_t cap = 2 * s.m + 33;
	Scratch scratch(cap, s.dims);
	*connected = 0;
	connect_unreachable(g, rs, scratch.sc, s.entry_point, s.m, unreached, connected);
	if (repairs_begun)
		*repairs_begun = g.repairs_begun;
}

static void random_graph(MemStore &s, size_t n, uint32_t seed)
{
	size_t dims = 8;
	std::mt19937 rng(seed);
	std::uniform_real_distribution<float> u(0, 1);
	std::vector<float> v(dims);
	s.init(n, dims, 4, Metric::L2);
	for (uint32_t i = 0; i < n; i++) {
		for (float &x : v)
			x = u(rng);
		s.set_vector(i, v.data());
	}
	insert_all(s, n, 24);
}

TEST(HnswGraph, ConnectUnreachableLinksEveryMissedElement)
{
	MemStore s;
	random_graph(s, 3000, 7);
	ASSERT_EQ(count_reached(s), s.size());
	std::vector<uint32_t> victims = {10, 500, 1234, 2999};
	cut_in_links(s, victims);
	ASSERT_EQ(count_reached(s), s.size() - victims.size());
	size_t unreached = 0, connected = 0;
	connect(s, &unreached, &connected);
	EXPECT_EQ(unreached, victims.size());
	EXPECT_EQ(connected, victims.size());
	EXPECT_EQ(count_reached(s), s.size());
	EXPECT_EQ(s.in_counts, s.count_in_links());
	// A second run finds nothing to do.
	connect(s, &unreached, &connected);
	EXPECT_EQ(unreached, 0u);
	EXPECT_EQ(connected, 0u);
}

// With full lists everywhere, a link is replaced: never one whose target has no other in-link.
TEST(HnswGraph, ConnectUnreachableReplacesOnlySpareLinks)
{
	MemStore s;
	random_graph(s, 2000, 8);
	// Fill every list (duplicates of its own links are fine for the walk) so nothing appends.
	std::vector<uint32_t> buf(2 * s.m + 1);
	for (uint32_t id = 0; id < s.size(); id++) {
		int n = s.links(id, 0, buf.data());
		std::vector<uint32_t> full(buf.begin(), buf.begin() + n);
		for (uint32_t extra = (id + 1) % s.size(); (int) full.size() < 2 * s.m; extra = (extra + 7) % s.size())
			if (extra != id && extra != 5 && std::find(full.begin(), full.end(), extra) == full.end())
				full.push_back(extra);
		s.set_links(id, 0, buf.data(), n, full.data(), (int) full.size());
	}
	cut_in_links(s, {5});
	std::vector<uint16_t> before = s.count_in_links();
	size_t unreached = 0, connected = 0;
	connect(s, &unreached, &connected);
	EXPECT_EQ(unreached, 1u);
	EXPECT_EQ(connected, 1u);
	EXPECT_EQ(count_reached(s), s.size());
	std::vector<uint16_t> after = s.count_in_links();
	for (uint32_t id = 0; id < s.size(); id++)
		if (id != 5)
			EXPECT_TRUE(after[id] >= 1 || before[id] == 0) << id;
}

// Past 1% unreached (inner product on unequal norms leaves half) nothing is rewired.
TEST(HnswGraph, ConnectUnreachableLeavesManyAlone)
{
	MemStore s;
	random_graph(s, 1000, 9);
	std::vector<uint32_t> victims;
	for (uint32_t id = 100; id < 130; id++)
		victims.push_back(id);
	cut_in_links(s, victims);
	std::vector<uint16_t> before = s.count_in_links();
	size_t unreached = 0, connected = 0;
	int repairs = -1;
	connect(s, &unreached, &connected, &repairs);
	EXPECT_GE(unreached, victims.size());
	EXPECT_EQ(connected, 0u);
	EXPECT_EQ(repairs, 0);
	EXPECT_EQ(s.count_in_links(), before);
}

// After deletions, every repaired list names usable elements only, is full where candidates
// allow (topped up), and keeps its usable old links where the heuristic and room allow.
TEST(HnswGraph, RepairListAfterDeletes)
{
	MemStore s;
	random_graph(s, 2000, 10);
	std::mt19937 rng(3);
	for (uint32_t id = 1; id < s.size(); id++)
		if (rng() % 4 == 0)
			s.deleted[id] = 1;
	ReachMem g(s, 32);
	Scratch scratch(2 * s.m + 33, s.dims);
	RepairScratch rp;
	std::vector<Candidate> cands(repair_candidates(s.m, 32));
	std::vector<uint32_t> marks(s.size()), links2(2 * kMaxM + 1), prev(2 * s.m), out(2 * s.m), buf(2 * s.m + 1);
	rp.cands = cands.data();
	rp.cap = cands.size();
	rp.seen = VisitedSet{marks.data(), s.size(), 0};
	rp.links2 = links2.data();
	int repaired = 0, fine = 0;
	for (uint32_t id = 0; id < s.size(); id++) {
		if (s.deleted[id])
			continue;
		int n_prev = 0;
		int k = repair_list(g, scratch.sc, rp, id, 0, s.m, 32, prev.data(), &n_prev, out.data());
		if (k < 0) {
			fine++;
			continue;
		}
		repaired++;
		int n = s.links(id, 0, buf.data());
		ASSERT_EQ(n, k);
		for (int i = 0; i < n; i++) {
			ASSERT_FALSE(s.deleted[buf[i]]) << id;
			ASSERT_NE(buf[i], id);
		}
		EXPECT_EQ(n, 2 * s.m) << "repaired list of " << id << " not topped up";
	}
	EXPECT_GT(repaired, 1000);
	EXPECT_GT(fine, 0);
	EXPECT_EQ(s.in_counts, s.count_in_links());
	// A second pass finds nothing to repair.
	for (uint32_t id = 0; id < s.size(); id++) {
		int n_prev = 0;
		if (!s.deleted[id])
			ASSERT_EQ(repair_list(g, scratch.sc, rp, id, 0, s.m, 32, prev.data(), &n_prev, out.data()), -1);
	}
}

// A list whose whole neighbourhood was deleted is rebuilt from a search.
TEST(HnswGraph, RepairListSearchesWhenNeighbourhoodIsGone)
{
	MemStore s;
	random_graph(s, 500, 11);
	uint32_t id = 250;
	std::vector<uint32_t> buf(2 * s.m + 1);
	int n = s.links(id, 0, buf.data());
	ASSERT_GT(n, 0);
	for (int i = 0; i < n; i++) {
		s.deleted[buf[i]] = 1;
		std::vector<uint32_t> b2(2 * s.m + 1);
		int n2 = s.links(buf[i], 0, b2.data());
		for (int j = 0; j < n2; j++)
			if (b2[j] != id && b2[j] != s.entry_point)
				s.deleted[b2[j]] = 1;
	}
	ASSERT_FALSE(s.deleted[s.entry_point]);
	ReachMem g(s, 32);
	Scratch scratch(2 * s.m + 33, s.dims);
	std::vector<Candidate> cands(repair_candidates(s.m, 32));
	std::vector<uint32_t> marks(s.size()), links2(2 * kMaxM + 1), prev(2 * s.m), out(2 * s.m);
	RepairScratch rp{cands.data(), cands.size(), VisitedSet{marks.data(), s.size(), 0}, links2.data()};
	int n_prev = 0;
	int k = repair_list(g, scratch.sc, rp, id, 0, s.m, 32, prev.data(), &n_prev, out.data());
	EXPECT_EQ(g.searches, 1);
	EXPECT_GT(k, 0);
	for (int i = 0; i < k; i++)
		EXPECT_FALSE(s.deleted[out[i]]);
}

}  // namespace
