// Micro-benchmark of the scan loop without Postgres: prism's core search (greedy descent +
// search_layer, src/core/hnsw_search.h) over an in-memory store against hnswlib's own searchKnn
// on the same graph, with the same distance kernel. The gap is the cost of the store interface
// and prism's heaps; the extension adds buffer access on top.
//   build/core/bench_scan [--benchmark_filter=...]
// The graph (20,000 x 128, overlapping clusters, m=16, ef_construction=64) is built by hnswlib directly in
// this binary and copied into the store: prism's builder TU is not linked here, so hnswlib's
// header definitions appear once.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include <hnswlib/hnswlib.h>

#include "../unit/hnsw_mem_store.h"
#include "core/distance.h"

namespace {

using prism::hnsw::Candidate;
using prism_test::MemStore;
using prism_test::SearchScratch;

constexpr size_t kN = 20000, kDims = 128, kQueries = 500, kK = 10;
constexpr int kM = 16, kEfConstruction = 64;

// hnswlib space over prism's dispatched L2 kernel (the same one the store uses).
class PrismL2Space : public hnswlib::SpaceInterface<float> {
public:
	PrismL2Space() : dims_(kDims), func_(prism::best_kernels(kDims).l2sq) {}
	size_t get_data_size() override { return dims_ * sizeof(float); }
	hnswlib::DISTFUNC<float> get_dist_func() override { return func_; }
	void *get_dist_func_param() override { return &dims_; }

private:
	size_t dims_;
	hnswlib::DISTFUNC<float> func_;
};

struct World {
	std::vector<float> data;  // kN rows, then kQueries query rows
	PrismL2Space space;
	hnswlib::L2Space own_space{kDims};	// hnswlib's kernel as compiled here (SSE, no -mavx)
	std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
	MemStore store;
	std::vector<std::vector<uint32_t>> truth;  // exact top-k internal ids per query
	std::vector<uint32_t> row_to_id;		   // hnswlib returns labels (rows)

	World()
	{
		// Overlapping clusters (extra noise): closer to real embeddings than well-separated blobs.
		data = prism_test::clustered_data(kN + kQueries, kDims, 100, 2024);
		std::mt19937 rng(7);
		std::normal_distribution<float> noise(0.0f, 4.0f);
		for (float &x : data)
			x += noise(rng);
		graph.reset(new hnswlib::HierarchicalNSW<float>(&space, kN, kM, kEfConstruction, 100));
		std::vector<std::thread> threads;
		std::atomic<size_t> next{0};
		for (int t = 0; t < 2; t++)
			threads.emplace_back([&] {
				for (size_t i; (i = next.fetch_add(1)) < kN;)
					graph->addPoint(&data[i * kDims], i);
			});
		for (auto &t : threads)
			t.join();
		// Copy the graph: internal id i keeps its id in the store.
		hnswlib::HierarchicalNSW<float> &g = *graph;
		store.init(kN, kDims, kM, prism::hnsw::Metric::L2);
		for (uint32_t id = 0; id < kN; id++) {
			store.set_vector(id, (const float *) g.getDataByInternalId(id));
			int level = g.element_levels_[id];
			store.set_level(id, level);
			for (int l = 0; l <= level; l++) {
				hnswlib::linklistsizeint *ll = l == 0 ? g.get_linklist0(id) : g.get_linklist(id, l);
				store.set_links(id, l, (const uint32_t *) (ll + 1), (int) g.getListCount(ll));
			}
		}
		row_to_id.resize(kN);
		for (uint32_t id = 0; id < kN; id++)
			row_to_id[g.getExternalLabel(id)] = id;
		store.entry_point = g.enterpoint_node_;
		store.max_level = g.maxlevel_;
		for (size_t q = 0; q < kQueries; q++) {
			std::vector<Candidate> all(kN);
			for (uint32_t id = 0; id < kN; id++)
				all[id] = Candidate{store.pair_distance(query(q), store.vec(id)), id};
			std::partial_sort(all.begin(), all.begin() + kK, all.end(),
							  [](const Candidate &a, const Candidate &b) { return a.dist < b.dist; });
			std::vector<uint32_t> ids;
			for (size_t i = 0; i < kK; i++)
				ids.push_back(all[i].id);
			truth.push_back(ids);
		}
	}
	const float *query(size_t q) const { return &data[(kN + q) * kDims]; }
	size_t hits(size_t q, const std::vector<uint32_t> &got) const
	{
		std::set<uint32_t> s(got.begin(), got.end());
		size_t h = 0;
		for (uint32_t id : truth[q])
			h += s.count(id);
		return h;
	}
};

World &
world()
{
	static World w;
	return w;
}

void
run_prism_core(benchmark::State &state, bool keep_discovered)
{
	World &w = world();
	int ef = (int) state.range(0);
	SearchScratch sc(kN, kM, 4 * ef);
	size_t q = 0, hits = 0, queries = 0;
	uint64_t distances = 0;
	std::vector<uint32_t> got;
	for (auto _ : state) {
		prism_test::knn_search(w.store, sc, w.query(q), ef, keep_discovered ? &sc.discovered : nullptr, &distances);
		got.clear();
		for (size_t i = 0; i < std::min(kK, sc.result.size); i++)
			got.push_back(sc.result.items[i].id);
		benchmark::DoNotOptimize(got.data());
		hits += w.hits(q, got);	 // cheap next to the search; the same in both benchmarks
		queries++;
		q = (q + 1) % kQueries;
	}
	state.counters["recall@10"] = double(hits) / (kK * queries);
	state.counters["dist/query"] = double(distances) / queries;
	state.SetItemsProcessed(state.iterations());
}

// As the index scan runs it: every discovered element kept for a continued search.
void
prism_core(benchmark::State &state)
{
	run_prism_core(state, false);
}

void
prism_core_discovered(benchmark::State &state)
{
	run_prism_core(state, true);
}

void
run_hnswlib(benchmark::State &state, bool own_kernel)
{
	World &w = world();
	hnswlib::HierarchicalNSW<float> &g = *w.graph;
	g.setEf((size_t) state.range(0));
	hnswlib::DISTFUNC<float> saved = g.fstdistfunc_;
	void *saved_param = g.dist_func_param_;
	if (own_kernel) {
		g.fstdistfunc_ = w.own_space.get_dist_func();
		g.dist_func_param_ = w.own_space.get_dist_func_param();
	}
	size_t q = 0, hits = 0, queries = 0;
	std::vector<uint32_t> got;
	for (auto _ : state) {
		auto res = g.searchKnn(w.query(q), kK);
		got.clear();
		while (!res.empty()) {
			got.push_back(w.row_to_id[res.top().second]);
			res.pop();
		}
		benchmark::DoNotOptimize(got.data());
		hits += w.hits(q, got);
		queries++;
		q = (q + 1) % kQueries;
	}
	state.counters["recall@10"] = double(hits) / (kK * queries);
	state.SetItemsProcessed(state.iterations());
	g.fstdistfunc_ = saved;
	g.dist_func_param_ = saved_param;
}

void
hnswlib_search(benchmark::State &state)
{
	run_hnswlib(state, false);
}

void
hnswlib_own_kernel(benchmark::State &state)
{
	run_hnswlib(state, true);
}

BENCHMARK(prism_core)->Arg(10)->Arg(40)->Arg(100);
BENCHMARK(prism_core_discovered)->Arg(10)->Arg(40)->Arg(100);
BENCHMARK(hnswlib_search)->Arg(10)->Arg(40)->Arg(100);
BENCHMARK(hnswlib_own_kernel)->Arg(40);

}  // namespace

BENCHMARK_MAIN();
