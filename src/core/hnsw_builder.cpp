// The only translation unit that includes hnswlib's graph code (its headers define non-inline
// globals). Distances come from prism's dispatched kernels through a custom SpaceInterface,
// so the build uses the same SIMD code as the scan.
#include "core/hnsw_builder.h"

#include <algorithm>
#include <atomic>
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
	DistFunc dot;
};

float one_minus_dot(const void *a, const void *b, const void *param)
{
	const KernelParam *p = static_cast<const KernelParam *>(param);
	return 1.0f - p->dot(a, b, param);
}

class PrismSpace : public hnswlib::SpaceInterface<float> {
public:
	PrismSpace(size_t dims, Metric metric)
	{
		Kernels k = best_kernels(dims);
		param_.dims = dims;
		param_.dot = k.dot;
		func_ = metric == Metric::L2 ? k.l2sq : one_minus_dot;
	}
	size_t get_data_size() override { return param_.dims * sizeof(float); }
	hnswlib::DISTFUNC<float> get_dist_func() override { return func_; }
	void *get_dist_func_param() override { return &param_; }

private:
	KernelParam param_;
	hnswlib::DISTFUNC<float> func_;
};

}  // namespace

class GraphBuilder {
public:
	explicit GraphBuilder(const BuildParams &p)
		: params(p), space(p.dims, p.metric),
		  graph(&space, p.n > 0 ? p.n : 1, (size_t) p.m, (size_t) p.ef_construction, (size_t) p.seed)
	{
	}

	void run_worker()
	{
		try {
			for (;;) {
				if (stop.load(std::memory_order_relaxed))
					return;
				size_t i = next.fetch_add(1);
				if (i >= params.n)
					return;
				graph.addPoint(params.vectors + i * params.dims, (hnswlib::labeltype) i);
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

	void finish_graph()
	{
		try {
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
	size_t dimensions() const { return b->params.dims; }
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
		memcpy(out, graph().getDataByInternalId(id), sizeof(float) * b->params.dims);
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
	std::vector<uint64_t> mem(graph_scratch_bytes(cap, params.dims) / sizeof(uint64_t) + 1);
	GraphScratch sc;
	graph_scratch_init(sc, mem.data(), cap, params.dims);
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
		b = new GraphBuilder(params);
		int threads = params.threads < 1 ? 1 : params.threads;
		if ((size_t) threads > params.n)
			threads = params.n > 0 ? (int) params.n : 1;
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
