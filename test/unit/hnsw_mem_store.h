// In-memory graph store for the core HNSW algorithms (src/core/hnsw_search.h): the unit tests and
// the scan micro-benchmark run the same search code the extension runs over Postgres buffers.
// One record per element, as on disk: level-0 link count, 2*m links, then the vector; upper
// levels aside. Filled from a finished GraphBuilder (or, in the benchmark, directly).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <vector>

#include "core/distance.h"
#include "core/hnsw_builder.h"
#include "core/hnsw_search.h"

namespace prism_test {

using prism::hnsw::Candidate;
using prism::hnsw::CandidateArray;
using prism::hnsw::Metric;

// Gaussian clusters around random centres: closer to real embeddings than uniform noise.
inline std::vector<float> clustered_data(size_t n, size_t dims, int clusters, uint32_t seed)
{
	std::mt19937 rng(seed);
	std::uniform_real_distribution<float> centre(-10.0f, 10.0f);
	std::normal_distribution<float> noise(0.0f, 1.0f);
	std::vector<float> centres(clusters * dims);
	for (auto &x : centres)
		x = centre(rng);
	std::vector<float> v(n * dims);
	for (size_t i = 0; i < n; i++) {
		const float *c = &centres[(rng() % clusters) * dims];
		for (size_t d = 0; d < dims; d++)
			v[i * dims + d] = c[d] + noise(rng);
	}
	return v;
}

struct MemStore {
	size_t dims = 0;
	size_t dims_param = 0;	// the kernels read the dimension through a pointer
	int m = 0;
	Metric metric = Metric::L2;
	prism::DistFunc l2sq = nullptr;
	prism::DistFunc dot = nullptr;
	size_t record_words = 0;  // uint32 words per record: 1 + 2m links + dims floats
	std::vector<uint32_t> records;
	std::vector<int> levels;
	std::vector<std::vector<uint32_t>> upper;  // per element: for level 1..L, count then m links
	uint32_t entry_point = prism::hnsw::kInvalidId;
	int max_level = -1;
	uint64_t grow_calls = 0;
	// For the graph operations (src/core/hnsw_graph.h): deleted marks and level-0 in-link
	// counts, kept by set_links as the extension keeps them in each record.
	std::vector<uint8_t> deleted;
	std::vector<uint16_t> in_counts;
	uint64_t set_links_calls = 0;

	void init(size_t n, size_t d, int m_, Metric metric_)
	{
		dims = dims_param = d;
		m = m_;
		metric = metric_;
		prism::Kernels k = prism::best_kernels(d);
		l2sq = k.l2sq;
		dot = k.dot;
		record_words = 1 + 2 * (size_t) m + d;
		records.assign(n * record_words, 0);
		levels.assign(n, 0);
		upper.assign(n, {});
		deleted.assign(n, 0);
		in_counts.assign(n, 0);
	}
	size_t size() const { return levels.size(); }
	uint32_t *record(uint32_t id) { return records.data() + id * record_words; }
	const float *vec(uint32_t id) const
	{
		return reinterpret_cast<const float *>(records.data() + id * record_words + 1 + 2 * m);
	}
	void set_vector(uint32_t id, const float *v) { memcpy(record(id) + 1 + 2 * m, v, sizeof(float) * dims); }
	void set_level(uint32_t id, int level)
	{
		levels[id] = level;
		upper[id].assign((size_t) level * (1 + m), 0);
	}
	void set_links(uint32_t id, int level, const uint32_t *ids, int n)
	{
		uint32_t *dst = level == 0 ? record(id) : upper[id].data() + (size_t) (level - 1) * (1 + m);
		dst[0] = (uint32_t) n;
		if (n > 0)
			memcpy(dst + 1, ids, sizeof(uint32_t) * n);
	}

	// The store interface.
	float pair_distance(const float *a, const float *b)
	{
		if (metric == Metric::L2)
			return l2sq(a, b, &dims_param);
		return 1.0f - dot(a, b, &dims_param);
	}
	float distance(uint32_t id, const float *q, uint8_t *flags)
	{
		*flags = prism::hnsw::kElementLive;
		return pair_distance(q, vec(id));
	}
	int links(uint32_t id, int level, uint32_t *out)
	{
		const uint32_t *src = level == 0 ? record(id) : upper[id].data() + (size_t) (level - 1) * (1 + m);
		memcpy(out, src + 1, sizeof(uint32_t) * src[0]);
		return (int) src[0];
	}
	void vector(uint32_t id, float *out) { memcpy(out, vec(id), sizeof(float) * dims); }
	void prefetch(uint32_t id) { __builtin_prefetch(record(id)); }
	// The graph store interface.
	size_t dimensions() const { return dims; }
	bool load(uint32_t id, int level, float *out, uint16_t *in_links)
	{
		if (id >= size() || deleted[id] || levels[id] < level)
			return false;
		vector(id, out);
		*in_links = in_counts[id];
		return true;
	}
	uint16_t in_links(uint32_t id) { return in_counts[id]; }
	void set_links(uint32_t id, int level, const uint32_t *old, int n_old, const uint32_t *ids, int n)
	{
		set_links_calls++;
		if (ids == nullptr)
			return;
		if (level == 0) {
			for (int i = 0; i < n_old; i++)
				in_counts[old[i]] = prism::hnsw::in_links_step(in_counts[old[i]], -1);
			for (int i = 0; i < n; i++)
				in_counts[ids[i]] = prism::hnsw::in_links_step(in_counts[ids[i]], +1);
		}
		set_links(id, level, ids, n);
	}
	// Level-0 in-link counts from the lists (what the counts must equal).
	std::vector<uint16_t> count_in_links()
	{
		std::vector<uint16_t> c(size(), 0);
		for (uint32_t id = 0; id < size(); id++) {
			const uint32_t *r = record(id);
			for (uint32_t i = 0; i < r[0]; i++)
				c[r[1 + i]]++;
		}
		return c;
	}

	// Candidate is trivially copyable, so realloc may move the items.
	bool grow(CandidateArray &a, size_t need)
	{
		grow_calls++;
		size_t cap = a.capacity * 2 > need ? a.capacity * 2 : need;
		void *p = std::realloc(a.items, cap * sizeof(Candidate));
		if (!p)
			return false;
		a.items = static_cast<Candidate *>(p);
		a.capacity = cap;
		return true;
	}
};

// Copies a finished builder graph; internal id i holds row builder_input_index(i).
inline void store_from_builder(MemStore &s, prism::hnsw::GraphBuilder *b, const float *vectors, size_t dims, int m,
							   Metric metric)
{
	using namespace prism::hnsw;
	size_t n = builder_count(b);
	s.init(n, dims, m, metric);
	for (uint32_t id = 0; id < n; id++) {
		s.set_vector(id, vectors + builder_input_index(b, id) * dims);
		int level = builder_level(b, id);
		s.set_level(id, level);
		for (int l = 0; l <= level; l++) {
			const uint32_t *links;
			int cnt = builder_links(b, id, l, &links);
			s.set_links(id, l, links, cnt);
		}
	}
	s.entry_point = builder_entry_point(b);
	s.max_level = builder_max_level(b);
}

// Scratch for one search: heaps, visited marks and a link buffer, malloc'd (grow reallocs).
struct SearchScratch {
	CandidateArray frontier{nullptr, 0, 0};
	CandidateArray result{nullptr, 0, 0};
	CandidateArray discovered{nullptr, 0, 0};
	prism::hnsw::VisitedSet visited{nullptr, 0, 0};
	std::vector<uint32_t> link_buf;

	SearchScratch(size_t n, int m, size_t initial)
	{
		alloc(frontier, initial);
		alloc(result, initial);
		alloc(discovered, initial);
		visited.marks = static_cast<uint32_t *>(std::calloc(n ? n : 1, sizeof(uint32_t)));
		visited.capacity = n;
		visited.epoch = 0;
		link_buf.resize(2 * (size_t) m + 1);
	}
	~SearchScratch()
	{
		std::free(frontier.items);
		std::free(result.items);
		std::free(discovered.items);
		std::free(visited.marks);
	}
	SearchScratch(const SearchScratch &) = delete;
	SearchScratch &operator=(const SearchScratch &) = delete;
	static void alloc(CandidateArray &a, size_t cap)
	{
		a.items = static_cast<Candidate *>(std::malloc((cap ? cap : 1) * sizeof(Candidate)));
		if (!a.items)
			throw std::bad_alloc();
		a.size = 0;
		a.capacity = cap ? cap : 1;
	}
};

// The scan's path: greedy descent to level 1, then an ef-wide beam on level 0. Leaves the
// result sorted ascending in sc.result.
inline void knn_search(MemStore &s, SearchScratch &sc, const float *q, int ef, CandidateArray *discovered = nullptr,
					   uint64_t *distances = nullptr)
{
	using namespace prism::hnsw;
	uint8_t flags;
	Candidate ep{s.distance(s.entry_point, q, &flags), s.entry_point};
	greedy_descend(s, q, ep, s.max_level, 0, sc.link_buf.data());
	visited_reset(sc.visited);
	visited_insert(sc.visited, ep.id);
	if (discovered) {
		discovered->size = 0;
		push_candidate(s, *discovered, ep);
	}
	search_layer(s, q, &ep, 1, ef, 0, sc.visited, sc.frontier, sc.result, discovered, sc.link_buf.data(), distances);
	sort_ascending(sc.result);
}

}  // namespace prism_test
