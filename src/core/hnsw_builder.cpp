// The only translation unit that includes hnswlib's graph code (its headers define non-inline
// globals). Distances come from prism's dispatched kernels through a custom SpaceInterface,
// so the build uses the same SIMD code as the scan.
#include "core/hnsw_builder.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <hnswlib/hnswlib.h>

#include "core/distance.h"
#include "core/hnsw_graph.h"
#include "core/hnsw_search.h"

namespace prism {
namespace hnsw {

namespace {

// First member must be the dimension: hnswlib kernels read *(size_t *) param.
struct KernelParam {
	size_t dims;
	DistFunc raw;
	Metric metric;
};

float transformed(const void *a, const void *b, const void *param)
{
	const KernelParam *p = static_cast<const KernelParam *>(param);
	float d = p->raw(a, b, param);
	return p->metric == Metric::Cosine ? 1.0f - d : p->metric == Metric::InnerProduct ? -d : d;
}

// The stored element's kernel (element_space) as an hnswlib space over `words` 32-bit words.
class PrismSpace : public hnswlib::SpaceInterface<float> {
public:
	PrismSpace(ElementKind element, Metric metric, size_t dims, size_t words)
	{
		ElementSpace es = element_space(element, metric, (uint32_t) dims);
		param_.dims = es.param;
		param_.raw = es.raw;
		param_.metric = metric;
		words_ = words;
		bool plain = metric != Metric::Cosine && metric != Metric::InnerProduct;
		func_ = plain ? es.raw : transformed;
	}
	size_t get_data_size() override { return words_ * sizeof(float); }
	hnswlib::DISTFUNC<float> get_dist_func() override { return func_; }
	void *get_dist_func_param() override { return &param_; }

private:
	KernelParam param_;
	size_t words_;
	hnswlib::DISTFUNC<float> func_;
};

}  // namespace

class GraphBuilder {
public:
	// Under inner product the graph is built as an l2 graph over lifted vectors (see lift()),
	// except for sparse elements: their dimensions can be huge, and their data is a handle.
	explicit GraphBuilder(const BuildParams &p)
		: params(p), lifted(p.metric == Metric::InnerProduct && p.element != ElementKind::Sparse),
		  lift_norm_sq(lifted ? max_norm_sq(p) : 0),
		  space(lifted ? ElementKind::Float32 : p.element, lifted ? Metric::L2 : p.metric, lifted ? p.dims + 1 : p.dims,
				builder_stored_words(p.element, p.metric, p.dims)),
		  graph(&space, p.n > 0 ? p.n : 1, (size_t) p.m, (size_t) p.ef_construction, (size_t) p.seed)
	{
	}

	// Words per element in hnswlib's graph (lift()).
	size_t stored_dims() const { return builder_stored_words(params.element, params.metric, params.dims); }

	static float max_norm_sq(const BuildParams &p)
	{
		double best = 0;
		std::vector<float> x(p.dims);
		for (size_t i = 0; i < p.n; i++) {
			element_to_float(p.element, p.vectors + i * p.words, (uint32_t) p.dims, x.data());
			double sq = 0;
			for (size_t k = 0; k < p.dims; k++)
				sq += (double) x[k] * x[k];
			best = std::max(best, sq);
		}
		return (float) best;
	}

	// hnswlib's heuristic under inner product keeps only a few links per list (a long vector is
	// "nearer" to everything than the element's own neighbours are), so most elements, among
	// them rows that answer queries, lose every in-link. Instead the graph is built over x' = (x, sqrt(M^2 - |x|^2)), M the
	// largest norm: all x' lie on one sphere, where l2 is a metric the heuristic suits, and for
	// a query q' = (q, 0), |q' - x'|^2 = |q|^2 + M^2 - 2 q.x orders elements exactly as -q.x
	// does, so the scan's inner-product search walks this graph as an l2 search would. On unit
	// vectors the extra coordinate is ~0 and the graph is the cosine one. Half-precision rows are
	// lifted as floats (exact copies of their halves): the extra coordinate can lie outside the
	// half range, and rounding it would move the points off the sphere.
	const float *lift(size_t i, std::vector<float> &buf) const
	{
		const float *x = params.vectors + i * params.words;
		if (!lifted)
			return x;
		buf.resize(params.dims + 1);
		element_to_float(params.element, x, (uint32_t) params.dims, buf.data());
		double sq = 0;
		for (size_t k = 0; k < params.dims; k++)
			sq += (double) buf[k] * buf[k];
		buf[params.dims] = (float) std::sqrt(std::max(0.0, (double) lift_norm_sq - sq));
		return buf.data();
	}

	void run_worker()
	{
		try {
			std::vector<float> buf;
			for (;;) {
				if (stop.load(std::memory_order_relaxed))
					return;
				size_t i = next.fetch_add(1);
				if (i >= params.n)
					return;
				graph.addPoint(lift(i, buf), (hnswlib::labeltype) i);
				done.fetch_add(1, std::memory_order_relaxed);
			}
		} catch (const std::exception &e) {
			record_error(e.what());
		} catch (...) {
			record_error("unknown exception in hnswlib build thread");
		}
	}

	// hnswlib's back-link pruning can leave elements that no search reaches at level 0 (nothing
	// links to them, or only other such elements do), so no scan ever returns their rows. The
	// build connects them with the same code as VACUUM (connect_unreachable, over hnswlib's
	// graph through HnswlibGraph). Runs once, on the last worker thread, after every element
	// was added.
	void connect_unreached_elements();

	// Tops each level-0 list of an inner-product graph up to its bound with the nearest
	// elements a search for the element finds, as pgvector keeps the candidates its heuristic
	// pruned (and insert and VACUUM do here under inner product): the heuristic on the lifted
	// sphere keeps few links in low dimensions, and a row whose few in-links come from rows
	// far from a query is found only after farther rows (under strict_order: not at all).
	// Chunks of elements are searched on the build's threads (read-only), then their lists are
	// extended on this one, so the pending links take a bounded amount of memory.
	void fill_lists()
	{
		size_t n = graph.cur_element_count;
		size_t max0 = graph.maxM0_;
		if (n < 2)
			return;
		graph.setEf((size_t) params.ef_construction);
		const size_t chunk = 65536;
		std::vector<uint32_t> fill(std::min(n, chunk) * max0);
		std::vector<uint8_t> fill_n(std::min(n, chunk));
		int threads = params.threads < 1 ? 1 : params.threads;
		for (size_t first = 0; first < n && !stop.load(); first += chunk) {
			size_t last = std::min(n, first + chunk);
			std::fill(fill_n.begin(), fill_n.end(), 0);
			std::atomic<size_t> next_id{first};
			auto work = [&] {
				std::vector<std::pair<float, uint32_t>> near;
				for (;;) {
					size_t id = next_id.fetch_add(1);
					if (id >= last || stop.load(std::memory_order_relaxed))
						return;
					hnswlib::linklistsizeint *ll = graph.get_linklist0((hnswlib::tableint) id);
					const uint32_t *links = reinterpret_cast<const uint32_t *>(ll + 1);
					int cnt = (int) graph.getListCount(ll);
					if ((size_t) cnt >= max0)
						continue;
					auto found = graph.searchKnn(graph.getDataByInternalId((uint32_t) id), max0 + 1);
					near.clear();
					for (; !found.empty(); found.pop())
						near.emplace_back(found.top().first, graph.label_lookup_.at(found.top().second));
					std::sort(near.begin(), near.end());
					size_t room = max0 - (size_t) cnt, k = id - first;
					for (const auto &c : near) {
						if (fill_n[k] >= room)
							break;
						if (c.second != id && std::find(links, links + cnt, c.second) == links + cnt)
							fill[k * max0 + fill_n[k]++] = c.second;
					}
				}
			};
			auto run = [&] {
				try {
					work();
				} catch (const std::exception &e) {
					record_error(e.what());
				} catch (...) {
					record_error("unknown exception filling neighbour lists");
				}
			};
			std::vector<std::thread> helpers;
			try {
				for (int t = 1; t < threads; t++)
					helpers.emplace_back(run);
			} catch (...) {
				// fewer helpers only make it slower
			}
			run();
			for (auto &t : helpers)
				t.join();
			for (size_t id = first; id < last; id++) {
				size_t k = id - first;
				hnswlib::linklistsizeint *ll = graph.get_linklist0((hnswlib::tableint) id);
				size_t cnt = graph.getListCount(ll);
				uint32_t *links = reinterpret_cast<uint32_t *>(ll + 1);
				for (size_t i = 0; i < fill_n[k] && cnt < max0; i++)
					links[cnt++] = fill[k * max0 + i];
				graph.setListCount(ll, (unsigned short) cnt);
			}
		}
	}

	void finish_graph()
	{
		try {
			if (params.metric == Metric::InnerProduct)
				fill_lists();
			connect_unreached_elements();
		} catch (const std::exception &e) {
			record_error(e.what());
		} catch (...) {
			record_error("unknown exception connecting unreachable elements");
		}
	}

	void record_error(const char *what)
	{
		std::lock_guard<std::mutex> guard(error_lock);
		if (error.empty())
			error = what;
		stop.store(true);
	}

	BuildParams params;
	bool lifted;  // inner product, built as l2 over lifted vectors
	float lift_norm_sq;
	PrismSpace space;
	hnswlib::HierarchicalNSW<float> graph;
	std::vector<std::thread> workers;
	std::atomic<size_t> next{0};
	std::atomic<size_t> done{0};
	std::atomic<bool> stop{false};
	std::atomic<int> running{0};
	std::atomic<int> adding{0};	 // threads still adding elements
	size_t unreachable_found = 0;  // level-0 elements a walk from the entry point missed
	size_t unreachable_linked = 0;
	std::mutex error_lock;
	std::string error;
	bool joined = false;
};

// hnswlib's finished graph as a graph store of src/core/hnsw_graph.h (level 0; every element
// is live). Only the builder thread that connects unreached elements uses it.
struct HnswlibGraph {
	GraphBuilder *b;

	hnswlib::HierarchicalNSW<float> &graph() { return b->graph; }
	size_t dimensions() const { return b->stored_dims(); }
	float pair_distance(const float *x, const float *y)
	{
		return graph().fstdistfunc_(x, y, graph().dist_func_param_);
	}
	size_t capacity() { return graph().cur_element_count; }
	bool node(uint32_t) const { return true; }
	bool usable(uint32_t) const { return true; }
	int links(uint32_t id, int level, uint32_t *out)
	{
		hnswlib::linklistsizeint *ll = level == 0 ? graph().get_linklist0(id) : graph().get_linklist(id, level);
		int n = (int) graph().getListCount(ll);
		memcpy(out, ll + 1, sizeof(uint32_t) * n);
		return n;
	}
	void vector(uint32_t id, float *out)
	{
		memcpy(out, graph().getDataByInternalId(id), sizeof(float) * b->stored_dims());
	}
	void set_links(uint32_t id, int level, const uint32_t *, int, const uint32_t *ids, int n)
	{
		if (ids == nullptr)
			return;
		hnswlib::linklistsizeint *ll = level == 0 ? graph().get_linklist0(id) : graph().get_linklist(id, level);
		memcpy(ll + 1, ids, sizeof(uint32_t) * n);
		graph().setListCount(ll, (unsigned short) n);
	}
	int search_near(const float *vec, Candidate *out, int max)
	{
		auto found = graph().searchKnn(vec, (size_t) b->params.ef_construction);
		int n = 0;
		for (; !found.empty(); found.pop()) {
			uint32_t id = graph().label_lookup_.at(found.top().second);	 // labels are input rows
			if (n < max)
				out[n++] = Candidate{found.top().first, id};
		}
		std::sort(out, out + n, [](const Candidate &x, const Candidate &y) { return x.dist < y.dist; });
		return n;
	}
	void walk_step() {}
	void begin_repairs() {}
	void pause() {}
};

void GraphBuilder::connect_unreached_elements()
{
	size_t n = graph.cur_element_count;
	if (n < 2)
		return;
	graph.setEf((size_t) params.ef_construction);
	std::vector<uint8_t> reached(n);
	std::vector<uint32_t> stack(n);
	std::vector<uint16_t> in_links(n);
	ReachScratch rs{n, reached.data(), stack.data(), in_links.data()};
	size_t cap = (size_t) std::max(params.ef_construction, 2 * params.m) + 1;
	std::vector<uint64_t> mem(graph_scratch_bytes(cap, stored_dims()) / sizeof(uint64_t) + 1);
	GraphScratch sc;
	graph_scratch_init(sc, mem.data(), cap, stored_dims());
	HnswlibGraph g{this};
	connect_unreachable(g, rs, sc, graph.enterpoint_node_, params.m, &unreachable_found, &unreachable_linked);
}

static void copy_error(char *dst, size_t size, const char *src)
{
	if (size == 0)
		return;
	strncpy(dst, src, size - 1);
	dst[size - 1] = '\0';
}

GraphBuilder *builder_start(const BuildParams &params, char *error, size_t error_size) noexcept
{
	GraphBuilder *b = nullptr;
	try {
		BuildParams p = params;
		if (p.words == 0)
			p.words = element_words(p.element, (uint32_t) p.dims);
		b = new GraphBuilder(p);
		int threads = p.threads < 1 ? 1 : p.threads;
		if ((size_t) threads > p.n)
			threads = p.n > 0 ? (int) p.n : 1;
		b->running.store(threads);
		b->adding.store(threads);
		for (int t = 0; t < threads; t++)
			b->workers.emplace_back([b] {
				b->run_worker();
				// the last thread to finish adding connects unreachable elements before the build is done
				if (b->adding.fetch_sub(1) == 1 && !b->stop.load())
					b->finish_graph();
				b->running.fetch_sub(1);
			});
		if (error_size > 0)
			error[0] = '\0';
		return b;
	} catch (const std::exception &e) {
		copy_error(error, error_size, e.what());
	} catch (...) {
		copy_error(error, error_size, "unknown exception starting the hnswlib build");
	}
	if (b) {
		builder_stop(b);
		delete b;
	}
	return nullptr;
}

size_t builder_progress(GraphBuilder *b, bool *finished) noexcept
{
	*finished = b->running.load() == 0;
	if (*finished && !b->joined) {
		for (auto &t : b->workers)
			t.join();
		b->joined = true;
	}
	return b->done.load();
}

void builder_stop(GraphBuilder *b) noexcept
{
	b->stop.store(true);
	if (!b->joined) {
		for (auto &t : b->workers)
			if (t.joinable())
				t.join();
		b->joined = true;
	}
}

const char *builder_error(GraphBuilder *b) noexcept { return b->error.c_str(); }

void builder_free(GraphBuilder *b) noexcept
{
	if (!b)
		return;
	builder_stop(b);
	delete b;
}

size_t builder_count(GraphBuilder *b) noexcept { return b->graph.cur_element_count; }

size_t builder_input_index(GraphBuilder *b, uint32_t internal_id) noexcept
{
	return (size_t) b->graph.getExternalLabel(internal_id);
}

int builder_level(GraphBuilder *b, uint32_t internal_id) noexcept { return b->graph.element_levels_[internal_id]; }

int builder_links(GraphBuilder *b, uint32_t internal_id, int level, const uint32_t **links) noexcept
{
	hnswlib::linklistsizeint *ll =
		level == 0 ? b->graph.get_linklist0(internal_id) : b->graph.get_linklist(internal_id, level);
	*links = reinterpret_cast<const uint32_t *>(ll + 1);
	return (int) b->graph.getListCount(ll);
}

size_t builder_unreachable_found(GraphBuilder *b) noexcept { return b->unreachable_found; }

size_t builder_unreachable_linked(GraphBuilder *b) noexcept { return b->unreachable_linked; }

uint32_t builder_entry_point(GraphBuilder *b) noexcept { return b->graph.enterpoint_node_; }

int builder_max_level(GraphBuilder *b) noexcept { return b->graph.maxlevel_; }

size_t builder_stored_words(ElementKind element, Metric metric, size_t dims) noexcept
{
	return metric == Metric::InnerProduct && element != ElementKind::Sparse ? dims + 1
																			 : element_words(element, (uint32_t) dims);
}

size_t builder_memory_estimate(size_t n, size_t dims, int m) noexcept
{
	// level-0 block (links + vector + label) per element, plus the expected upper levels
	// (1/(m-1) of elements on average carry m links per level) and hnswlib's per-element locks.
	size_t level0 = sizeof(uint32_t) * (2 * m + 1) + dims * sizeof(float) + sizeof(size_t);
	size_t upper = (sizeof(uint32_t) * (m + 1)) / (m > 1 ? m - 1 : 1) + sizeof(void *) + sizeof(int);
	return n * (level0 + upper + 64);
}

}  // namespace hnsw
}  // namespace prism
