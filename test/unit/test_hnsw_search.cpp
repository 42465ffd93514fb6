// Core HNSW search (src/core/hnsw_search.h) over an in-memory store: recall against brute force
// on a graph from the hnswlib builder, the `discovered` heap, neighbour selection, visited-set
// epochs and ordering helpers.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "core/hnsw_layout.h"
#include "hnsw_mem_store.h"

namespace {

using namespace prism::hnsw;
using prism_test::clustered_data;
using prism_test::MemStore;
using prism_test::SearchScratch;

// One graph shared by the tests of this file (built once: ~0.3 s).
struct Fixture {
	static constexpr size_t n = 5000, dims = 32, n_queries = 100;
	static constexpr int m = 16;
	std::vector<float> data;  // n rows, then n_queries query rows from the same clusters
	MemStore store;

	Fixture(Metric metric)
	{
		data = clustered_data(n + n_queries, dims, 20, 1234);
		if (metric != Metric::L2)
			for (size_t i = 0; i < n + n_queries; i++)
				normalize(&data[i * dims]);
		BuildParams p;
		p.vectors = data.data();
		p.n = n;
		p.dims = dims;
		p.m = m;
		p.ef_construction = 64;
		p.metric = metric;
		p.threads = 2;
		p.seed = 99;
		char err[256];
		GraphBuilder *b = builder_start(p, err, sizeof(err));
		if (!b)
			throw std::runtime_error(err);
		bool finished = false;
		while (!finished) {
			builder_progress(b, &finished);
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
		}
		prism_test::store_from_builder(store, b, data.data(), dims, m, metric);
		builder_free(b);
	}
	static void normalize(float *v)
	{
		double s = 0;
		for (size_t d = 0; d < dims; d++)
			s += double(v[d]) * v[d];
		for (size_t d = 0; d < dims; d++)
			v[d] = float(v[d] / std::sqrt(s));
	}
	const float *query(size_t i) const { return &data[(n + i) * dims]; }
	std::vector<std::vector<uint32_t>> truth;  // top-10 per query, computed once

	// Exact top-k internal ids by the store's own distance.
	std::vector<uint32_t> brute_force(const float *q, size_t k)
	{
		std::vector<Candidate> all(store.size());
		for (uint32_t id = 0; id < store.size(); id++)
			all[id] = Candidate{store.pair_distance(q, store.vec(id)), id};
		std::partial_sort(all.begin(), all.begin() + k, all.end(),
						  [](const Candidate &a, const Candidate &b) { return a.dist < b.dist; });
		std::vector<uint32_t> ids;
		for (size_t i = 0; i < k; i++)
			ids.push_back(all[i].id);
		return ids;
	}

	double recall_at_10(int ef, size_t initial_capacity)
	{
		SearchScratch sc(store.size(), m, initial_capacity);
		size_t hits = 0;
		for (size_t qi = 0; qi < n_queries; qi++) {
			prism_test::knn_search(store, sc, query(qi), ef);
			if (truth.size() <= qi)
				truth.push_back(brute_force(query(qi), 10));
			std::set<uint32_t> got;
			for (size_t i = 0; i < std::min<size_t>(10, sc.result.size); i++)
				got.insert(sc.result.items[i].id);
			for (uint32_t id : truth[qi])
				hits += got.count(id);
		}
		return double(hits) / (10.0 * n_queries);
	}
};

Fixture &
l2_fixture()
{
	static Fixture f(Metric::L2);
	return f;
}

TEST(HnswSearch, RecallL2)
{
	Fixture &f = l2_fixture();
	double r = f.recall_at_10(64, 256);
	EXPECT_GE(r, 0.95) << "recall@10 at ef 64";
	RecordProperty("recall_at_10", std::to_string(r));
	// A narrower beam can only be as good or worse on average; still sane at ef 10.
	double r10 = f.recall_at_10(10, 256);
	EXPECT_GE(r10, 0.8);
	RecordProperty("recall_at_10_ef10", std::to_string(r10));
}

TEST(HnswSearch, RecallCosine)
{
	Fixture f(Metric::Cosine);
	EXPECT_GE(f.recall_at_10(64, 256), 0.95);
}

// Arrays that start tiny must grow through the store and give the same answers.
TEST(HnswSearch, GrowFromCapacityOne)
{
	Fixture &f = l2_fixture();
	SearchScratch big(f.store.size(), f.m, 4096), tiny(f.store.size(), f.m, 1);
	uint64_t before = f.store.grow_calls;
	for (size_t qi = 0; qi < 20; qi++) {
		prism_test::knn_search(f.store, big, f.query(qi), 40);
		prism_test::knn_search(f.store, tiny, f.query(qi), 40);
		ASSERT_EQ(big.result.size, tiny.result.size);
		for (size_t i = 0; i < big.result.size; i++) {
			EXPECT_EQ(big.result.items[i].id, tiny.result.items[i].id);
			EXPECT_EQ(big.result.items[i].dist, tiny.result.items[i].dist);
		}
	}
	EXPECT_GT(f.store.grow_calls, before);
}

TEST(HnswSearch, ResultIsTheEfBestSorted)
{
	Fixture &f = l2_fixture();
	SearchScratch sc(f.store.size(), f.m, 64);
	for (size_t qi = 0; qi < 10; qi++) {
		const float *q = f.query(qi);
		prism_test::knn_search(f.store, sc, q, 32);
		ASSERT_EQ(sc.result.size, 32u);
		std::set<uint32_t> ids;
		for (size_t i = 0; i < sc.result.size; i++) {
			const Candidate &c = sc.result.items[i];
			EXPECT_TRUE(ids.insert(c.id).second) << "id " << c.id << " twice in the result";
			EXPECT_EQ(c.dist, f.store.pair_distance(q, f.store.vec(c.id)));
			if (i > 0) {
				EXPECT_LE(sc.result.items[i - 1].dist, c.dist);
			}
		}
	}
}

// Every element the beam computed a distance for lands in `discovered` exactly once, with
// the right distance; the beam's result is a subset of it.
TEST(HnswSearch, DiscoveredHeapUniqueAndExact)
{
	Fixture &f = l2_fixture();
	SearchScratch sc(f.store.size(), f.m, 16);
	for (size_t qi = 0; qi < 10; qi++) {
		const float *q = f.query(qi);
		uint64_t distances = 0;
		prism_test::knn_search(f.store, sc, q, 20, &sc.discovered, &distances);
		// The entry point is pushed by the caller; the rest by search_layer, one per distance.
		ASSERT_EQ(sc.discovered.size, distances + 1);
		std::set<uint32_t> seen;
		float last = -INFINITY;
		while (sc.discovered.size > 0) {
			Candidate c = sc.discovered.items[0];
			std::pop_heap(sc.discovered.items, sc.discovered.items + sc.discovered.size, CloserFirst());
			sc.discovered.size--;
			EXPECT_TRUE(seen.insert(c.id).second) << "id " << c.id << " discovered twice";
			EXPECT_LT(c.id, f.store.size());
			EXPECT_EQ(c.dist, f.store.pair_distance(q, f.store.vec(c.id)));
			EXPECT_GE(c.dist, last) << "discovered must pop in distance order";
			last = c.dist;
		}
		for (size_t i = 0; i < sc.result.size; i++)
			EXPECT_TRUE(seen.count(sc.result.items[i].id));
		// With `discovered`, unexpanded candidates stay in the frontier for a continued scan.
		for (size_t i = 0; i < sc.frontier.size; i++)
			EXPECT_TRUE(seen.count(sc.frontier.items[i].id));
	}
}

// The insert path searches upper levels too: a beam on level l only ever reaches elements
// that exist on level l, and finds the level's nearest as brute force over that level does.
TEST(HnswSearch, UpperLevelBeam)
{
	Fixture &f = l2_fixture();
	MemStore &s = f.store;
	ASSERT_GE(s.max_level, 1);
	SearchScratch sc(s.size(), f.m, 8);
	size_t exact = 0;
	for (size_t qi = 0; qi < 50; qi++) {
		const float *q = f.query(qi);
		uint8_t flags;
		Candidate ep{s.distance(s.entry_point, q, &flags), s.entry_point};
		greedy_descend(s, q, ep, s.max_level, 1, sc.link_buf.data());
		EXPECT_GE(s.levels[ep.id], 1);
		visited_reset(sc.visited);
		visited_insert(sc.visited, ep.id);
		search_layer(s, q, &ep, 1, 16, 1, sc.visited, sc.frontier, sc.result, nullptr, sc.link_buf.data(), nullptr);
		sort_ascending(sc.result);
		ASSERT_GT(sc.result.size, 0u);
		for (size_t i = 0; i < sc.result.size; i++)
			ASSERT_GE(s.levels[sc.result.items[i].id], 1);
		float best = INFINITY;
		for (uint32_t id = 0; id < s.size(); id++)
			if (s.levels[id] >= 1)
				best = std::min(best, s.pair_distance(q, s.vec(id)));
		exact += sc.result.items[0].dist == best;
	}
	EXPECT_GE(exact, 45u) << "level-1 beam of 16 misses the level's nearest too often";
}

// A small hand-made graph: points on a line, each linked to its neighbours.
MemStore
line_store(int n, int m)
{
	MemStore s;
	s.init(n, 2, m, Metric::L2);
	for (int i = 0; i < n; i++) {
		float v[2] = {float(i), 0.0f};
		s.set_vector(i, v);
		s.set_level(i, 0);
		std::vector<uint32_t> l;
		if (i > 0)
			l.push_back(i - 1);
		if (i + 1 < n)
			l.push_back(i + 1);
		s.set_links(i, 0, l.data(), (int) l.size());
	}
	s.entry_point = 0;
	s.max_level = 0;
	return s;
}

// The start-up every search shares (search_from_entry): entry distance, greedy descent to the
// level, a fresh visited set and the beam there; the result is the one the steps spelled out
// give, the entry point counts as discovered, and a later search on the same visited set starts
// from fresh marks.
TEST(HnswSearchStart, SameAsTheStepsSpelledOut)
{
	Fixture &f = l2_fixture();
	MemStore &s = f.store;
	SearchScratch a(s.size(), f.m, 8), b(s.size(), f.m, 8);
	uint64_t dist_a = 0, dist_b = 0;
	for (int level : {0, 1}) {
		for (size_t qi = 0; qi < 30; qi++) {
			const float *q = f.query(qi);
			SearchSpace sp{&a.visited, &a.frontier, &a.result, &a.discovered, a.link_buf.data(), &dist_a};
			a.discovered.size = 0;
			ASSERT_EQ(search_from_entry(s, q, s.entry_point, s.max_level, level, 24, sp), level);
			uint8_t flags;
			Candidate ep{s.distance(s.entry_point, q, &flags), s.entry_point};
			greedy_descend(s, q, ep, s.max_level, level, b.link_buf.data(), &dist_b);
			visited_reset(b.visited);
			visited_insert(b.visited, ep.id);
			b.discovered.size = 0;
			push_candidate(s, b.discovered, ep);
			search_layer(s, q, &ep, 1, 24, level, b.visited, b.frontier, b.result, &b.discovered, b.link_buf.data(),
						 &dist_b);
			sort_ascending(a.result);
			sort_ascending(b.result);
			ASSERT_EQ(a.result.size, b.result.size);
			for (size_t i = 0; i < a.result.size; i++)
				ASSERT_EQ(a.result.items[i].id, b.result.items[i].id);
			ASSERT_EQ(a.discovered.size, b.discovered.size);
			EXPECT_EQ(dist_a, dist_b);
		}
	}
	// above the entry level there is no descent: the beam runs on the entry level
	SearchSpace sp{&a.visited, &a.frontier, &a.result, nullptr, a.link_buf.data(), nullptr};
	EXPECT_EQ(search_from_entry(s, f.query(0), s.entry_point, s.max_level, s.max_level + 3, 8, sp), s.max_level);
	for (size_t i = 0; i < a.result.size; i++)
		EXPECT_GE(s.levels[a.result.items[i].id], s.max_level);
}

// A store whose entry point reads as a free slot (a VACUUM freed it after the metapage was read).
struct FreedEntryStore : MemStore {
	uint32_t freed;
	float distance(uint32_t id, const float *q, uint8_t *flags)
	{
		float d = MemStore::distance(id, q, flags);
		if (id == freed)
			*flags = kElementFree;
		return d;
	}
};

TEST(HnswSearchStart, FreedEntryPointSearchesNothing)
{
	Fixture &f = l2_fixture();
	FreedEntryStore s;
	static_cast<MemStore &>(s) = f.store;
	s.freed = s.entry_point;
	SearchScratch a(s.size(), f.m, 8);
	a.result.size = 0;
	a.discovered.size = 0;
	uint64_t distances = 0;
	SearchSpace sp{&a.visited, &a.frontier, &a.result, &a.discovered, a.link_buf.data(), &distances};
	EXPECT_EQ(search_from_entry(s, f.query(0), s.entry_point, s.max_level, 0, 16, sp), -1);
	EXPECT_EQ(a.result.size, 0u);
	EXPECT_EQ(a.discovered.size, 0u);
	EXPECT_EQ(distances, 0u);
	// another entry point works
	uint32_t other = s.entry_point == 0 ? 1 : 0;
	EXPECT_EQ(search_from_entry(s, f.query(0), other, s.levels[other], 0, 16, sp), 0);
	EXPECT_GT(a.result.size, 0u);
}

TEST(HnswSearch, BeamWalksTheLine)
{
	MemStore s = line_store(50, 2);
	SearchScratch sc(50, 2, 4);
	float q[2] = {37.2f, 0.0f};
	prism_test::knn_search(s, sc, q, 3);
	ASSERT_EQ(sc.result.size, 3u);
	EXPECT_EQ(sc.result.items[0].id, 37u);
	EXPECT_EQ(sc.result.items[1].id, 38u);
	EXPECT_EQ(sc.result.items[2].id, 36u);
}

TEST(HnswSearch, UnreachableElementsAreNotFound)
{
	MemStore s = line_store(10, 2);
	s.set_links(4, 0, nullptr, 0);	// cut the line after 3 (3 still links to 4)
	uint32_t back = 3;
	s.set_links(5, 0, &back, 0);
	SearchScratch sc(10, 2, 4);
	float q[2] = {9.0f, 0.0f};
	prism_test::knn_search(s, sc, q, 10);
	// 0..4 reachable from the entry point 0; 5..9 are not.
	ASSERT_EQ(sc.result.size, 5u);
	EXPECT_EQ(sc.result.items[0].id, 4u);
}

TEST(HnswSearch, GreedyDescendFollowsUpperLevels)
{
	// Level 1 holds the even ids on a line; level 0 everything.
	const int n = 40, m = 4;
	MemStore s = line_store(n, m);
	for (int i = 0; i < n; i += 2) {
		s.set_level(i, 1);
		std::vector<uint32_t> l;
		if (i >= 2)
			l.push_back(i - 2);
		if (i + 2 < n)
			l.push_back(i + 2);
		s.set_links(i, 1, l.data(), (int) l.size());
	}
	std::vector<uint32_t> buf(2 * m + 1);
	float q[2] = {31.0f, 0.0f};
	uint8_t flags;
	Candidate ep{s.distance(0, q, &flags), 0};
	greedy_descend(s, q, ep, 1, 0, buf.data());
	EXPECT_TRUE(ep.id == 30 || ep.id == 32) << ep.id;
	EXPECT_EQ(ep.dist, 1.0f);
	// to_level == from_level: nothing to do.
	Candidate ep2{s.distance(0, q, &flags), 0};
	greedy_descend(s, q, ep2, 1, 1, buf.data());
	EXPECT_EQ(ep2.id, 0u);
}

TEST(HnswSearch, MultipleEntryPointsTrimmedToEf)
{
	MemStore s = line_store(20, 2);
	SearchScratch sc(20, 2, 2);
	float q[2] = {10.0f, 0.0f};
	uint8_t flags;
	Candidate eps[5];
	uint32_t ids[5] = {0, 19, 5, 15, 9};
	visited_reset(sc.visited);
	for (int i = 0; i < 5; i++) {
		eps[i] = Candidate{s.distance(ids[i], q, &flags), ids[i]};
		visited_insert(sc.visited, ids[i]);
	}
	search_layer(s, q, eps, 5, 2, 0, sc.visited, sc.frontier, sc.result, nullptr, sc.link_buf.data(), nullptr);
	ASSERT_EQ(sc.result.size, 2u);
	sort_ascending(sc.result);
	EXPECT_EQ(sc.result.items[0].id, 10u);
	EXPECT_EQ(sc.result.items[0].dist, 0.0f);
	EXPECT_EQ(sc.result.items[1].dist, 1.0f);
}

// select_neighbors over 2-D points; candidate distances are squared L2 to the base (origin).
struct Selection {
	MemStore s;
	std::vector<Candidate> cands;
	std::vector<float> vecs;
	Selection() { s.init(0, 2, 4, Metric::L2); }
	void add(float x, float y)
	{
		float base[2] = {0, 0}, v[2] = {x, y};
		cands.push_back(Candidate{s.pair_distance(base, v), (uint32_t) cands.size()});
		vecs.push_back(x);
		vecs.push_back(y);
	}
	std::vector<bool> keep;	// per candidate (insertion order): must be kept
	std::vector<int> run(int max_n)
	{
		// Sorted by distance to the base, as the caller must supply them.
		std::vector<size_t> order(cands.size());
		for (size_t i = 0; i < order.size(); i++)
			order[i] = i;
		std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cands[a].dist < cands[b].dist; });
		std::vector<Candidate> c;
		std::vector<float> v;
		std::unique_ptr<bool[]> must(new bool[cands.size() + 1]);
		size_t pos = 0;
		for (size_t i : order) {
			must[pos++] = i < keep.size() && keep[i];
			c.push_back(cands[i]);
			v.push_back(vecs[2 * i]);
			v.push_back(vecs[2 * i + 1]);
		}
		std::vector<int> chosen(cands.size() + 1, -1);
		int k = select_neighbors(s, c.data(), v.data(), 2, (int) c.size(), max_n, chosen.data(),
								 keep.empty() ? nullptr : must.get());
		std::vector<int> ids;	// report the candidates' ids (their insertion order)
		for (int i = 0; i < k; i++)
			ids.push_back((int) c[chosen[i]].id);
		return ids;
	}
};

TEST(HnswSelectNeighbors, ReturnsAllWhenFew)
{
	Selection sel;
	sel.add(1, 0);
	sel.add(1.1f, 0);  // would be pruned by the heuristic, but n <= max_n keeps everything
	sel.add(0, 2);
	EXPECT_EQ(sel.run(3), (std::vector<int>{0, 1, 2}));
	EXPECT_EQ(sel.run(5), (std::vector<int>{0, 1, 2}));
}

TEST(HnswSelectNeighbors, PrunesCandidateCloserToAKeptNeighbour)
{
	Selection sel;
	sel.add(1, 0);		// 0: nearest, always kept
	sel.add(1.2f, 0.1f);  // 1: 0.05 from #0 but 1.45 from the base: pruned
	sel.add(0, 1.5f);	// 2: other direction: kept
	sel.add(-2, 0);		// 3: other direction: kept
	sel.add(0, -3);		// 4: other direction, but max_n reached
	std::vector<int> got = sel.run(3);
	EXPECT_EQ(got, (std::vector<int>{0, 2, 3}));
}

// A pruning keeps a candidate it would hold the last in-link of, in place of heuristic picks.
TEST(HnswSelectNeighbors, MustKeepSurvivesPruning)
{
	Selection sel;
	sel.add(1, 0);		  // 0: nearest
	sel.add(1.2f, 0.1f);  // 1: the heuristic prunes it (close to #0)
	sel.add(0, 1.5f);	  // 2
	sel.add(-2, 0);		  // 3
	sel.add(0, -3);		  // 4
	sel.keep = {false, true, false, false, false};
	EXPECT_EQ(sel.run(3), (std::vector<int>{0, 1, 2}));
	// A must-keep candidate occludes later ones like any kept neighbour.
	sel.keep = {false, false, false, false, true};
	EXPECT_EQ(sel.run(3), (std::vector<int>{0, 2, 4}));
	sel.keep = {false, false, false, false, true};
	EXPECT_EQ(sel.run(2), (std::vector<int>{0, 4}));
	// More must-keep candidates than room: the nearest of them.
	sel.keep = {false, true, true, true, true};
	EXPECT_EQ(sel.run(3), (std::vector<int>{1, 2, 3}));
	// Without pruning every candidate stays anyway.
	EXPECT_EQ(sel.run(5), (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(HnswSelectNeighbors, MustKeepRandom)
{
	std::mt19937 rng(11);
	std::uniform_real_distribution<float> u(-1, 1);
	for (int trial = 0; trial < 50; trial++) {
		Selection sel;
		int n = 5 + trial % 30;
		for (int i = 0; i < n; i++) {
			sel.add(u(rng), u(rng));
			sel.keep.push_back(rng() % 5 == 0);
		}
		for (int max_n : {2, 4, 8}) {
			std::vector<int> got = sel.run(max_n);
			ASSERT_LE(got.size(), (size_t) std::min(n, max_n));
			int must = 0, must_got = 0;
			for (int i = 0; i < n; i++)
				must += sel.keep[i] ? 1 : 0;
			for (int id : got)
				must_got += sel.keep[id] ? 1 : 0;
			EXPECT_EQ(must_got, std::min(must, max_n));
		}
	}
}

TEST(HnswSelectNeighbors, KeepsNearestAndNeverExceedsMax)
{
	std::mt19937 rng(5);
	std::uniform_real_distribution<float> u(-1, 1);
	for (int trial = 0; trial < 50; trial++) {
		Selection sel;
		int n = 5 + trial % 40;
		for (int i = 0; i < n; i++)
			sel.add(u(rng), u(rng));
		for (int max_n : {1, 2, 4, 8}) {
			std::vector<int> got = sel.run(max_n);
			ASSERT_GE(got.size(), 1u);
			ASSERT_LE(got.size(), (size_t) std::min(n, max_n));
			// The first kept is the nearest candidate.
			size_t nearest = 0;
			for (size_t i = 1; i < sel.cands.size(); i++)
				if (sel.cands[i].dist < sel.cands[nearest].dist)
					nearest = i;
			EXPECT_EQ(sel.cands[got[0]].dist, sel.cands[nearest].dist);
			std::set<int> uniq(got.begin(), got.end());
			EXPECT_EQ(uniq.size(), got.size());
			if (n <= max_n) {
				EXPECT_EQ(got.size(), (size_t) n);
				continue;
			}
			// When pruning, kept candidates are "diverse" in the heuristic's sense: each later
			// one is not closer to an earlier kept one than to the base.
			for (size_t i = 1; i < got.size(); i++)
				for (size_t j = 0; j < i; j++) {
					float d = sel.s.pair_distance(&sel.vecs[2 * got[i]], &sel.vecs[2 * got[j]]);
					EXPECT_GE(d, sel.cands[got[i]].dist);
				}
		}
	}
}

// graph_layout over a list graph given as vectors: the order it returns.
static std::vector<uint32_t> layout_of(const std::vector<std::vector<uint32_t>> &g, uint32_t entry, uint32_t per_page,
									   int *interrupts = nullptr)
{
	size_t n = g.size();
	std::vector<uint32_t> order(n), work(layout_work_words(n, per_page));
	graph_layout(
		n, entry, per_page,
		[&](uint32_t id, const uint32_t **out) {
			*out = g[id].data();
			return (int) g[id].size();
		},
		[&] {
			if (interrupts)
				(*interrupts)++;
		},
		order.data(), work.data());
	return order;
}

static bool is_permutation_of_ids(const std::vector<uint32_t> &order)
{
	std::vector<bool> seen(order.size(), false);
	for (uint32_t id : order) {
		if (id >= order.size() || seen[id])
			return false;
		seen[id] = true;
	}
	return true;
}

// Every element once, whatever the graph: unreachable parts, links past n, tiny graphs.
TEST(HnswLayout, PlacesEveryElementOnce)
{
	std::mt19937 rng(11);
	for (int round = 0; round < 50; round++) {
		size_t n = rng() % 300;
		std::vector<std::vector<uint32_t>> g(n);
		for (auto &l : g) {
			int deg = rng() % 8;  // some elements have no links: unreached unless linked to
			for (int i = 0; i < deg; i++)
				l.push_back(rng() % (n + 5));  // a few ids past n, which are ignored
		}
		uint32_t entry = n ? (uint32_t) (rng() % (n + 1)) : kInvalidId;	 // n: no valid entry
		for (uint32_t per_page : {1u, 2u, 13u, 400u}) {
			std::vector<uint32_t> order = layout_of(g, entry, per_page);
			EXPECT_TRUE(is_permutation_of_ids(order)) << "n " << n << " per_page " << per_page;
			if (n > 0 && entry < n && per_page == 1) {
				EXPECT_EQ(order[0], entry) << "the walk starts at the entry point";
			}
		}
	}
	int interrupts = 0;
	std::vector<std::vector<uint32_t>> chain(20000);
	for (uint32_t i = 0; i + 1 < chain.size(); i++)
		chain[i].push_back(i + 1);
	EXPECT_TRUE(is_permutation_of_ids(layout_of(chain, 0, 13, &interrupts)));
	EXPECT_GE(interrupts, 4) << "interrupt() every few thousand elements";
}

// Two cliques of 13 joined by one link, their elements interleaved by id: each gets a page.
TEST(HnswLayout, CliqueFillsAPage)
{
	std::vector<std::vector<uint32_t>> g(26);
	for (uint32_t a = 0; a < 26; a++)
		for (uint32_t b = 0; b < 26; b++)
			if (a != b && a % 2 == b % 2)
				g[a].push_back(b);
	g[0].push_back(1);
	std::vector<uint32_t> order = layout_of(g, 0, 13);
	ASSERT_TRUE(is_permutation_of_ids(order));
	for (int i = 0; i < 13; i++) {
		EXPECT_EQ(order[i] % 2, 0u) << i;
		EXPECT_EQ(order[13 + i] % 2, 1u) << i;
	}
}

// The fixture's graph relabelled by graph_layout: the same search (same elements found) touches
// fewer pages than in insertion order, and its neighbour lists span fewer pages.
TEST(HnswLayout, FewerPagesPerSearch)
{
	Fixture &f = l2_fixture();
	MemStore &s = f.store;
	const uint32_t per_page = 13;
	std::vector<std::vector<uint32_t>> g(s.size());
	std::vector<uint32_t> buf(2 * f.m + 1);
	for (uint32_t id = 0; id < s.size(); id++) {
		int nl = s.links(id, 0, buf.data());
		g[id].assign(buf.begin(), buf.begin() + nl);
	}
	std::vector<uint32_t> order = layout_of(g, s.entry_point, per_page);
	ASSERT_TRUE(is_permutation_of_ids(order));
	std::vector<uint32_t> pos(order.size());
	for (uint32_t p = 0; p < order.size(); p++)
		pos[order[p]] = p;
	MemStore r;	 // element k at id pos[k]
	r.init(s.size(), f.dims, f.m, Metric::L2);
	for (uint32_t k = 0; k < s.size(); k++) {
		r.set_vector(pos[k], s.vec(k));
		r.set_level(pos[k], s.levels[k]);
		for (int l = 0; l <= s.levels[k]; l++) {
			int nl = s.links(k, l, buf.data());
			for (int i = 0; i < nl; i++)
				buf[i] = pos[buf[i]];
			r.set_links(pos[k], l, buf.data(), nl);
		}
	}
	r.entry_point = pos[s.entry_point];
	r.max_level = s.max_level;
	auto pages_per_list = [&](MemStore &m) {
		size_t pages = 0;
		for (uint32_t id = 0; id < m.size(); id++) {
			int nl = m.links(id, 0, buf.data());
			std::set<uint32_t> p;
			for (int i = 0; i < nl; i++)
				p.insert(buf[i] / per_page);
			pages += p.size();
		}
		return double(pages) / m.size();
	};
	double before = pages_per_list(s), after = pages_per_list(r);
	EXPECT_LT(after, before * 0.97) << before << " -> " << after;
	// Pages a search touches: those of the elements it computed a distance for.
	auto pages_touched = [&](const CandidateArray &discovered, const std::vector<uint32_t> *to_new) {
		std::set<uint32_t> p;
		for (size_t i = 0; i < discovered.size; i++)
			p.insert((to_new ? (*to_new)[discovered.items[i].id] : discovered.items[i].id) / per_page);
		return p.size();
	};
	size_t touched_before = 0, touched_after = 0;
	SearchScratch a(s.size(), f.m, 64), b(s.size(), f.m, 64);
	for (size_t qi = 0; qi < 50; qi++) {
		prism_test::knn_search(s, a, f.query(qi), 64, &a.discovered);
		prism_test::knn_search(r, b, f.query(qi), 64, &b.discovered);
		ASSERT_EQ(a.result.size, b.result.size);
		for (size_t i = 0; i < a.result.size; i++) {
			EXPECT_EQ(pos[a.result.items[i].id], b.result.items[i].id);
			EXPECT_EQ(a.result.items[i].dist, b.result.items[i].dist);
		}
		ASSERT_EQ(a.discovered.size, b.discovered.size);
		touched_before += pages_touched(a.discovered, nullptr);
		touched_after += pages_touched(b.discovered, nullptr);
		EXPECT_EQ(pages_touched(a.discovered, &pos), pages_touched(b.discovered, nullptr));
	}
	EXPECT_LT(touched_after, touched_before * 0.9) << touched_before << " -> " << touched_after;
	RecordProperty("pages_per_list", std::to_string(before) + " -> " + std::to_string(after));
	RecordProperty("pages_touched", std::to_string(touched_before) + " -> " + std::to_string(touched_after));
}

TEST(HnswVisited, MarksAndEpochs)
{
	uint32_t marks[8] = {0};
	VisitedSet v{marks, 8, 0};
	visited_reset(v);  // a fresh set must be reset once before use (epoch 0 == unmarked)
	EXPECT_TRUE(visited_insert(v, 3));
	EXPECT_FALSE(visited_insert(v, 3));
	EXPECT_FALSE(visited_insert(v, 8)) << "ids beyond capacity count as visited";
	EXPECT_FALSE(visited_insert(v, kInvalidId));
	visited_reset(v);
	EXPECT_TRUE(visited_insert(v, 3));
}

TEST(HnswVisited, EpochWrapClearsMarks)
{
	uint32_t marks[4] = {0};
	VisitedSet v{marks, 4, 0xfffffffeu};
	visited_reset(v);  // epoch 0xffffffff
	EXPECT_EQ(v.epoch, 0xffffffffu);
	EXPECT_TRUE(visited_insert(v, 1));
	marks[2] = 1;  // a stale mark from epoch 1, four billion queries ago
	visited_reset(v);  // wraps: marks cleared, epoch restarts at 1
	EXPECT_EQ(v.epoch, 1u);
	for (uint32_t m : marks)
		EXPECT_EQ(m, 0u);
	EXPECT_TRUE(visited_insert(v, 1));
	EXPECT_TRUE(visited_insert(v, 2)) << "a mark left from before the wrap must not survive it";
	EXPECT_FALSE(visited_insert(v, 1));
}

TEST(HnswSort, AscendingWithIdTieBreak)
{
	Candidate items[] = {{3.0f, 1}, {1.0f, 9}, {2.0f, 4}, {1.0f, 2}, {-1.0f, 7}, {2.0f, 3}};
	CandidateArray a{items, 6, 6};
	sort_ascending(a);
	const uint32_t ids[] = {7, 2, 9, 3, 4, 1};
	for (int i = 0; i < 6; i++)
		EXPECT_EQ(items[i].id, ids[i]) << i;
	CandidateArray empty{nullptr, 0, 0};
	sort_ascending(empty);
}

}  // namespace
