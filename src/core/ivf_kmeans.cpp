// k-means and nearest-center assignment for the ivfflat build (see ivf_kmeans.h).
//
// A job runs on a coordinator thread that owns a small worker pool; every parallel step hands
// out chunks of points through an atomic counter and checks the stop flag between chunks, so a
// stop request ends the job within one chunk. Sums and choices are made per point or per
// center in a fixed order, so the thread count does not change the result.
#include "core/ivf_kmeans.h"
#include "core/ivf_element.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <immintrin.h>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace prism {
namespace ivf {

namespace {

constexpr size_t kChunk = 256;	// points per work unit
// k-means++ seeding reads at least this many sample points per center, and at least
// kMinSeedPoints (fewer only when the sample is smaller).
constexpr size_t kSeedPerCenter = 16;
constexpr size_t kMinSeedPoints = 4096;

// Workers 1..n-1 wait for a task; the coordinator (worker 0) runs its share and waits for them.
class Pool {
public:
	explicit Pool(int threads)
	{
		int n = threads < 1 ? 1 : threads;
		for (int i = 1; i < n; i++)
			workers_.emplace_back([this, i] { loop((size_t) i); });
		size_ = (size_t) n;
	}
	~Pool()
	{
		{
			std::lock_guard<std::mutex> g(mu_);
			quit_ = true;
		}
		cv_.notify_all();
		for (auto &t : workers_)
			t.join();
	}
	size_t size() const { return size_; }
	// Runs task(worker) on every worker, returns when all are done.
	void run(const std::function<void(size_t)> &task)
	{
		{
			std::lock_guard<std::mutex> g(mu_);
			task_ = &task;
			pending_ = workers_.size();
			gen_++;
		}
		cv_.notify_all();
		task(0);
		std::unique_lock<std::mutex> g(mu_);
		done_cv_.wait(g, [this] { return pending_ == 0; });
		task_ = nullptr;
	}

private:
	void loop(size_t id)
	{
		uint64_t seen = 0;
		for (;;) {
			const std::function<void(size_t)> *task;
			{
				std::unique_lock<std::mutex> g(mu_);
				cv_.wait(g, [&] { return quit_ || gen_ != seen; });
				if (quit_)
					return;
				seen = gen_;
				task = task_;
			}
			(*task)(id);
			{
				std::lock_guard<std::mutex> g(mu_);
				pending_--;
			}
			done_cv_.notify_all();
		}
	}
	std::vector<std::thread> workers_;
	std::mutex mu_;
	std::condition_variable cv_, done_cv_;
	const std::function<void(size_t)> *task_ = nullptr;
	uint64_t gen_ = 0;
	size_t pending_ = 0;
	size_t size_ = 1;
	bool quit_ = false;
};

}  // namespace

class Job {
public:
	std::atomic<bool> stop{false};
	std::atomic<bool> finished{false};
	std::atomic<size_t> done{0};
	std::atomic<size_t> total{0};
	std::atomic<int> iterations{0};
	std::mutex error_mu;
	std::string error;
	std::thread coordinator;

	void fail(const std::string &msg)
	{
		std::lock_guard<std::mutex> g(error_mu);
		if (error.empty())
			error = msg;
		stop = true;
	}
	bool stopped() const { return stop.load(std::memory_order_relaxed); }

	// Calls fn(begin, end, worker) over [0, n) in chunks, on every worker of the pool.
	void parallel_for(Pool &pool, size_t n, size_t chunk, const std::function<void(size_t, size_t, size_t)> &fn)
	{
		std::atomic<size_t> next{0};
		pool.run([&](size_t worker) {
			try {
				for (;;) {
					if (stopped())
						return;
					size_t b = next.fetch_add(chunk);
					if (b >= n)
						return;
					fn(b, std::min(n, b + chunk), worker);
				}
			} catch (const std::bad_alloc &) {
				fail("out of memory");
			} catch (const std::exception &e) {
				fail(e.what());
			} catch (...) {
				fail("unknown error");
			}
		});
	}
};

namespace {

// Squared L2 distances from x to the 4 vectors at y, y + stride, y + 2 * stride, y + 3 * stride:
// each load of x serves four distances, about twice as fast as four single distances.
__attribute__((target("avx2,fma"))) void l2sq_x4_avx2(const float *x, const float *y, size_t stride, size_t dims,
													   float *out)
{
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	const float *y0 = y, *y1 = y + stride, *y2 = y + 2 * stride, *y3 = y + 3 * stride;
	size_t i = 0;
	for (; i + 8 <= dims; i += 8) {
		__m256 xv = _mm256_loadu_ps(x + i);
		__m256 d0 = _mm256_sub_ps(xv, _mm256_loadu_ps(y0 + i));
		__m256 d1 = _mm256_sub_ps(xv, _mm256_loadu_ps(y1 + i));
		__m256 d2 = _mm256_sub_ps(xv, _mm256_loadu_ps(y2 + i));
		__m256 d3 = _mm256_sub_ps(xv, _mm256_loadu_ps(y3 + i));
		a0 = _mm256_fmadd_ps(d0, d0, a0);
		a1 = _mm256_fmadd_ps(d1, d1, a1);
		a2 = _mm256_fmadd_ps(d2, d2, a2);
		a3 = _mm256_fmadd_ps(d3, d3, a3);
	}
	alignas(32) float t[4][8];
	_mm256_store_ps(t[0], a0);
	_mm256_store_ps(t[1], a1);
	_mm256_store_ps(t[2], a2);
	_mm256_store_ps(t[3], a3);
	for (int j = 0; j < 4; j++) {
		float s = ((t[j][0] + t[j][4]) + (t[j][1] + t[j][5])) + ((t[j][2] + t[j][6]) + (t[j][3] + t[j][7]));
		for (size_t r = i; r < dims; r++) {
			float d = x[r] - y[j * stride + r];
			s += d * d;
		}
		out[j] = s;
	}
}

bool cpu_has_avx2()
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

const bool kHaveAvx2 = cpu_has_avx2();

// Calls fn(j, squared L2 distance from x to vector j) for the n vectors at y (stride dims).
template <typename Fn>
inline void for_each_l2sq(const float *x, const float *y, size_t n, size_t dims, const Kernels &kern, Fn fn)
{
	size_t j = 0;
	if (kHaveAvx2 && dims >= 8) {
		float o[4];
		for (; j + 4 <= n; j += 4) {
			l2sq_x4_avx2(x, y + j * dims, dims, dims, o);
			fn(j, o[0]);
			fn(j + 1, o[1]);
			fn(j + 2, o[2]);
			fn(j + 3, o[3]);
		}
	}
	for (; j < n; j++)
		fn(j, kern.l2sq(x, y + j * dims, &dims));
}

}  // namespace

void center_distances(const float *q, const float *centers, size_t k, size_t dims, const Kernels &kern, float *out)
{
	for_each_l2sq(q, centers, k, dims, kern, [&](size_t c, float d) { out[c] = d; });
}

// Unit-length centers: the nearest in L2 distance is the one with the largest inner product,
// for any v, so one kernel serves every metric.
uint32_t nearest_center(const float *v, const float *centers, size_t k, size_t dims, bool sph, const Kernels &kern)
{
	(void) sph;
	uint32_t best = 0;
	float best_d = INFINITY;
	for_each_l2sq(v, centers, k, dims, kern, [&](size_t c, float d) {
		if (d < best_d) {
			best_d = d;
			best = (uint32_t) c;
		}
	});
	return best;
}

namespace {

void normalize(float *v, size_t dims)
{
	double s = 0;
	for (size_t i = 0; i < dims; i++)
		s += (double) v[i] * v[i];
	if (s <= 0)
		return;
	double inv = 1.0 / std::sqrt(s);
	for (size_t i = 0; i < dims; i++)
		v[i] = (float) (v[i] * inv);
}

}  // namespace

void random_centers(size_t k, size_t dims, bool sph, uint64_t seed, float *out)
{
	std::mt19937_64 rng(seed);
	std::normal_distribution<float> nd(0.0f, 1.0f);
	for (size_t c = 0; c < k; c++) {
		float *cv = out + c * dims;
		for (size_t i = 0; i < dims; i++)
			cv[i] = nd(rng);
		if (sph)
			normalize(cv, dims);
	}
}

namespace {

// k-means over 0/1 points (bit indexes) on their bits: the squared L2 distance between 0/1
// vectors is the Hamming distance, which popcount computes over bytes. k-means++ seeding, then
// Lloyd iterations in which each center becomes the majority bits of its members (pgvector's
// rule). Without Elkan's bounds: a distance costs a few popcounts.
void run_kmeans_bits(Job *job, const KmeansParams &p, float *centers)
{
	const size_t n = p.n, k = p.k, dims = p.dims;
	const ElementOps e = element_ops(ElementType::Bit, dims);
	const size_t nb = e.bytes;
	std::vector<uint8_t> pts(n * nb), ctr(k * nb);
	for (size_t i = 0; i < n; i++)
		element_encode(e, p.data + i * dims, &pts[i * nb]);
	auto ham = [&](size_t i, size_t c) { return e.l2sq(&pts[i * nb], &ctr[c * nb], &e.param); };
	std::mt19937_64 rng(p.seed);
	Pool pool(p.threads);
	const size_t nchunks = (n + kChunk - 1) / kChunk;

	std::vector<float> mind(n, INFINITY);
	size_t first = std::uniform_int_distribution<size_t>(0, n - 1)(rng);
	std::memcpy(&ctr[0], &pts[first * nb], nb);
	for (size_t c = 1;; c++) {
		job->parallel_for(pool, n, kChunk, [&](size_t b, size_t end, size_t) {
			for (size_t i = b; i < end; i++)
				mind[i] = std::min(mind[i], ham(i, c - 1));
		});
		if (job->stopped())
			return;
		job->done = c;
		if (c == k)
			break;
		double total = 0;
		for (float m : mind)
			total += m;
		size_t pick = n - 1;
		if (!(total > 0)) {
			pick = std::uniform_int_distribution<size_t>(0, n - 1)(rng);
		} else {
			double r = std::uniform_real_distribution<double>(0.0, total)(rng);
			for (size_t i = 0; i < n; i++) {
				if (r < mind[i]) {
					pick = i;
					break;
				}
				r -= mind[i];
			}
		}
		std::memcpy(&ctr[c * nb], &pts[pick * nb], nb);
	}

	std::vector<uint32_t> assign(n, UINT32_MAX), order(n);
	std::vector<size_t> changed_per_chunk(nchunks, 0), start(k + 1, 0), size(k, 0);
	std::vector<std::vector<uint32_t>> counts(pool.size(), std::vector<uint32_t>(dims));
	for (int it = 0; it < p.max_iterations; it++) {
		job->parallel_for(pool, n, kChunk, [&](size_t b, size_t end, size_t) {
			size_t changed = 0;
			for (size_t i = b; i < end; i++) {
				uint32_t best = 0;
				float best_d = INFINITY;
				for (size_t c = 0; c < k; c++) {
					float d = ham(i, c);
					if (d < best_d) {
						best_d = d;
						best = (uint32_t) c;
					}
				}
				if (best != assign[i]) {
					assign[i] = best;
					changed++;
				}
			}
			changed_per_chunk[b / kChunk] = changed;
		});
		if (job->stopped())
			return;
		size_t changed = 0;
		for (size_t c : changed_per_chunk)
			changed += c;
		job->iterations = it + 1;
		job->done = k + it + 1;
		if ((it > 0 && changed * 1000 < n) || it + 1 == p.max_iterations)
			break;	// the centers stay those the assignment was made against
		std::fill(size.begin(), size.end(), 0);
		for (size_t i = 0; i < n; i++)
			size[assign[i]]++;
		for (size_t c = 0; c < k; c++)
			start[c + 1] = start[c] + size[c];
		{
			std::vector<size_t> pos(start.begin(), start.end() - 1);
			for (size_t i = 0; i < n; i++)
				order[pos[assign[i]]++] = (uint32_t) i;
		}
		job->parallel_for(pool, k, 4, [&](size_t b, size_t end, size_t worker) {
			std::vector<uint32_t> &cnt = counts[worker];
			std::vector<float> mean(dims);
			for (size_t c = b; c < end; c++) {
				if (size[c] == 0)
					continue;
				std::fill(cnt.begin(), cnt.end(), 0);
				for (size_t j = start[c]; j < start[c + 1]; j++) {
					const uint8_t *x = &pts[(size_t) order[j] * nb];
					for (size_t d = 0; d < dims; d++)
						cnt[d] += (x[d >> 3] >> (7 - (d & 7))) & 1;
				}
				for (size_t d = 0; d < dims; d++)
					mean[d] = (float) ((double) cnt[d] / (double) size[c]);
				element_encode(e, mean.data(), &ctr[c * nb]);
			}
		});
		if (job->stopped())
			return;
		// an empty center takes a random point of the largest cluster (which then splits)
		for (size_t c = 0; c < k; c++) {
			if (size[c] != 0)
				continue;
			size_t big = 0;
			for (size_t j = 1; j < k; j++)
				if (size[j] > size[big])
					big = j;
			if (size[big] < 2)
				continue;
			size_t j = start[big] + std::uniform_int_distribution<size_t>(0, size[big] - 1)(rng);
			std::memcpy(&ctr[c * nb], &pts[(size_t) order[j] * nb], nb);
			size[big]--;
			std::swap(order[j], order[start[big] + size[big]]);
		}
	}
	for (size_t c = 0; c < k; c++)
		element_decode(e, &ctr[c * nb], centers + c * dims);
}

void run_kmeans(Job *job, KmeansParams p, float *centers)
{
	const size_t n = p.n, k = p.k, dims = p.dims;
	Kernels kern = best_kernels(dims);
	std::mt19937_64 rng(p.seed);
	job->total = k + (size_t) p.max_iterations;
	if (n == 0) {
		random_centers(k, dims, p.spherical, p.seed, centers);
		return;
	}
	if (n <= k) {
		// every point is a center; the rest repeat points (their lists stay empty)
		for (size_t c = 0; c < k; c++)
			std::memcpy(centers + c * dims, p.data + (c % n) * dims, sizeof(float) * dims);
		return;
	}
	if (p.binary) {
		run_kmeans_bits(job, p, centers);
		return;
	}
	Pool pool(p.threads);

	// k-means++ seeding: each next center is a point drawn with probability proportional to its
	// distance to the nearest center so far. Past the first centers, up to kSeedBatch (one per
	// 16 chosen so far) are drawn from the same distances (a drawn point's own weight drops to
	// 0), so the sample, which does not fit in the CPU caches, is streamed once per batch
	// instead of once per center; the first centers, which shape the rest, are drawn one by one.
	// Chunk sums make a draw O(n / kChunk + kChunk). The seeding reads seed_n points spread
	// evenly over the sample (which is in heap order), at least kSeedPerCenter per center; the
	// Lloyd rounds below run over the whole sample.
	constexpr size_t kSeedBatch = 4;
	const size_t seed_n = std::min(n, std::max<size_t>(kSeedPerCenter * k, kMinSeedPoints));
	auto seed_point = [&](size_t i) { return p.data + (seed_n == n ? i : i * n / seed_n) * dims; };
	std::vector<float> mind(seed_n, INFINITY);
	size_t seed_chunks = (seed_n + kChunk - 1) / kChunk;
	std::vector<double> chunk_sum(seed_chunks, 0.0);
	size_t first = std::uniform_int_distribution<size_t>(0, seed_n - 1)(rng);
	std::memcpy(centers, seed_point(first), sizeof(float) * dims);
	size_t chosen = 1, applied = 0;
	// for unit vectors 1 - dot is half the squared L2 distance
	const float scale = p.spherical ? 0.5f : 1.0f;
	for (;;) {
		const float *batch = centers + applied * dims;
		size_t nb = chosen - applied;
		job->parallel_for(pool, seed_n, kChunk, [&](size_t b, size_t e, size_t) {
			double s = 0;
			for (size_t i = b; i < e; i++) {
				float m = mind[i];
				for_each_l2sq(seed_point(i), batch, nb, dims, kern, [&](size_t, float d) {
					d *= scale;
					if (d < m)
						m = d;
				});
				mind[i] = m;
				s += m;
			}
			chunk_sum[b / kChunk] = s;
		});
		if (job->stopped())
			return;
		applied = chosen;
		job->done = chosen;
		if (chosen == k)
			break;
		size_t batch_size = std::min(kSeedBatch, std::max<size_t>(1, chosen / 16));
		for (size_t draw = 0; draw < batch_size && chosen < k; draw++) {
			double total = 0;
			for (double cs : chunk_sum)
				total += cs;
			size_t pick;
			if (!(total > 0)) {
				pick = std::uniform_int_distribution<size_t>(0, seed_n - 1)(rng);
			} else {
				double r = std::uniform_real_distribution<double>(0.0, total)(rng);
				size_t ch = 0;
				while (ch + 1 < seed_chunks && r >= chunk_sum[ch]) {
					r -= chunk_sum[ch];
					ch++;
				}
				size_t b = ch * kChunk, e = std::min(seed_n, b + kChunk);
				pick = e - 1;
				for (size_t i = b; i < e; i++) {
					if (r < mind[i]) {
						pick = i;
						break;
					}
					r -= mind[i];
				}
				chunk_sum[pick / kChunk] -= mind[pick];
				mind[pick] = 0;
			}
			std::memcpy(centers + chosen * dims, seed_point(pick), sizeof(float) * dims);
			chosen++;
		}
	}
	std::vector<float>().swap(mind);
	if (p.spherical)
		for (size_t c = 0; c < k; c++)
			normalize(centers + c * dims, dims);

	// Lloyd iterations with Elkan's bounds: per point an upper bound on the distance to its
	// center and a lower bound on its distance to every center, all Euclidean (for the spherical
	// metrics too: for unit centers the nearest in Euclidean distance is the one with the
	// largest inner product). A distance is computed only when the bounds cannot rule the center
	// out. When n * k bounds exceed bound_memory, one lower bound per point is kept instead
	// (Hamerly's: the distance to the second nearest center), which prunes less.
	std::vector<uint32_t> assign(n, UINT32_MAX);
	std::vector<float> upper(n, 0.0f), lower(n, 0.0f);
	const bool elkan = (double) n * k * sizeof(float) <= (double) p.bound_memory;
	std::vector<float> lb(elkan ? n * k : 0, 0.0f);
	const size_t nchunks = (n + kChunk - 1) / kChunk;
	std::vector<size_t> changed_per_chunk(nchunks, 0);
	std::vector<size_t> start(k + 1, 0), size(k, 0);
	std::vector<uint32_t> order(n);
	std::vector<float> old_centers((size_t) k * dims), shift(k, 0.0f), half_gap(k, 0.0f);
	std::vector<std::vector<double>> acc(pool.size(), std::vector<double>(dims));
	// center-to-center distances cost k^2: above this, only the per-point lower bound is used
	const bool use_gap = k <= 4096;
	auto dist = [&](const float *a, const float *b) {
		float d = kern.l2sq(a, b, &dims);
		return d > 0 ? std::sqrt(d) : 0.0f;
	};
	for (int it = 0; it < p.max_iterations; it++) {
		job->parallel_for(pool, n, kChunk, [&](size_t b, size_t e, size_t) {
			size_t changed = 0;
			for (size_t i = b; i < e; i++) {
				const float *x = p.data + i * dims;
				uint32_t a = assign[i];
				if (elkan) {
					float *l = lb.data() + i * k;
					if (a == UINT32_MAX) {
						float best_d = INFINITY;
						for_each_l2sq(x, centers, k, dims, kern, [&](size_t c, float d) {
							l[c] = d > 0 ? std::sqrt(d) : 0.0f;
							if (l[c] < best_d) {
								best_d = l[c];
								a = (uint32_t) c;
							}
						});
						upper[i] = best_d;
						assign[i] = a;
						changed++;
						continue;
					}
					float u = upper[i];
					if (u <= half_gap[a])
						continue;
					bool tight = false;
					uint32_t a0 = a;
					for (size_t c = 0; c < k; c++) {
						if (c == a || u <= l[c])
							continue;
						if (!tight) {
							u = dist(x, centers + (size_t) a * dims);
							l[a] = u;
							tight = true;
							if (u <= l[c])
								continue;
						}
						float d = dist(x, centers + c * dims);
						l[c] = d;
						if (d < u) {
							u = d;
							a = (uint32_t) c;
						}
					}
					upper[i] = u;
					if (a != a0) {
						assign[i] = a;
						changed++;
					}
					continue;
				}
				if (a != UINT32_MAX) {
					float m = std::max(half_gap[a], lower[i]);
					if (upper[i] <= m)
						continue;
					upper[i] = dist(x, centers + (size_t) a * dims);
					if (upper[i] <= m)
						continue;
				}
				float d1 = INFINITY, d2 = INFINITY;
				uint32_t best = 0;
				for_each_l2sq(x, centers, k, dims, kern, [&](size_t c, float d) {
					if (d < d1) {
						d2 = d1;
						d1 = d;
						best = (uint32_t) c;
					} else if (d < d2) {
						d2 = d;
					}
				});
				upper[i] = d1 > 0 ? std::sqrt(d1) : 0.0f;
				lower[i] = d2 > 0 ? std::sqrt(d2) : 0.0f;
				if (best != a) {
					assign[i] = best;
					changed++;
				}
			}
			changed_per_chunk[b / kChunk] = changed;
		});
		if (job->stopped())
			return;
		size_t changed = 0;
		for (size_t c : changed_per_chunk)
			changed += c;
		job->iterations = it + 1;
		job->done = k + it + 1;
		if (it > 0 && changed * 1000 < n)
			break;
		if (it + 1 == p.max_iterations)
			break;	// the centers stay those the assignment was made against
		// points grouped by center (stable: by point number within a center)
		std::fill(size.begin(), size.end(), 0);
		for (size_t i = 0; i < n; i++)
			size[assign[i]]++;
		start[0] = 0;
		for (size_t c = 0; c < k; c++)
			start[c + 1] = start[c] + size[c];
		{
			std::vector<size_t> pos(start.begin(), start.end() - 1);
			for (size_t i = 0; i < n; i++)
				order[pos[assign[i]]++] = (uint32_t) i;
		}
		std::memcpy(old_centers.data(), centers, sizeof(float) * k * dims);
		job->parallel_for(pool, k, 16, [&](size_t b, size_t e, size_t worker) {
			std::vector<double> &a = acc[worker];
			for (size_t c = b; c < e; c++) {
				if (size[c] == 0)
					continue;
				std::fill(a.begin(), a.end(), 0.0);
				for (size_t j = start[c]; j < start[c + 1]; j++) {
					const float *x = p.data + (size_t) order[j] * dims;
					for (size_t d = 0; d < dims; d++)
						a[d] += x[d];
				}
				double cnt = (double) size[c];
				float *cv = centers + c * dims;
				for (size_t d = 0; d < dims; d++)
					cv[d] = (float) (a[d] / cnt);
				if (p.binary)
					for (size_t d = 0; d < dims; d++)
						cv[d] = cv[d] > 0.5f ? 1.0f : 0.0f;
				if (p.spherical)
					normalize(cv, dims);
			}
		});
		if (job->stopped())
			return;
		// an empty center takes a random point of the largest cluster (which then splits)
		for (size_t c = 0; c < k; c++) {
			if (size[c] != 0)
				continue;
			size_t big = 0;
			for (size_t j = 1; j < k; j++)
				if (size[j] > size[big])
					big = j;
			if (size[big] < 2)
				continue;
			size_t j = start[big] + std::uniform_int_distribution<size_t>(0, size[big] - 1)(rng);
			std::memcpy(centers + c * dims, p.data + (size_t) order[j] * dims, sizeof(float) * dims);
			if (p.spherical)
				normalize(centers + c * dims, dims);
			size[big]--;  // for the size comparison of the next empty center
			std::swap(order[j], order[start[big] + size[big]]);
		}
		// how far each center moved, and half the gap to its nearest other center
		float max1 = 0, max2 = 0;
		size_t argmax1 = 0;
		for (size_t c = 0; c < k; c++) {
			shift[c] = dist(old_centers.data() + c * dims, centers + c * dims);
			if (shift[c] > max1) {
				max2 = max1;
				max1 = shift[c];
				argmax1 = c;
			} else if (shift[c] > max2) {
				max2 = shift[c];
			}
		}
		if (use_gap) {
			job->parallel_for(pool, k, 8, [&](size_t b, size_t e, size_t) {
				for (size_t c = b; c < e; c++) {
					float g = INFINITY;
					for (size_t o = 0; o < k; o++)
						if (o != c)
							g = std::min(g, dist(centers + c * dims, centers + o * dims));
					half_gap[c] = k > 1 ? g / 2 : 0.0f;
				}
			});
			if (job->stopped())
				return;
		}
		if (elkan) {
			job->parallel_for(pool, n, kChunk, [&](size_t b, size_t e, size_t) {
				for (size_t i = b; i < e; i++) {
					float *l = lb.data() + i * k;
					for (size_t c = 0; c < k; c++)
						l[c] = l[c] > shift[c] ? l[c] - shift[c] : 0.0f;
					upper[i] += shift[assign[i]];
				}
			});
			if (job->stopped())
				return;
		} else {
			for (size_t i = 0; i < n; i++) {
				uint32_t a = assign[i];
				upper[i] += shift[a];
				lower[i] -= a == argmax1 ? max2 : max1;
			}
		}
	}
}

void run_assign(Job *job, AssignParams p, uint32_t *out)
{
	Kernels kern = best_kernels(p.dims);
	ElementOps elem = element_ops(p.type, p.dims);
	job->total = p.n;
	Pool pool(p.threads);
	std::vector<std::vector<float>> scratch(pool.size());
	if (p.type == ElementType::Bit) {
		// 0/1 centers: the squared L2 distance to a point is the Hamming distance between their
		// bits, which popcount computes over bytes instead of one float a bit (exact either
		// way, so the lowest-numbered nearest list is the one nearest_center picks).
		std::vector<uint8_t> bits(p.k * elem.bytes);
		for (size_t c = 0; c < p.k; c++)
			element_encode(elem, p.centers + c * p.dims, &bits[c * elem.bytes]);
		job->parallel_for(pool, p.n, kChunk, [&](size_t b, size_t e, size_t) {
			for (size_t i = b; i < e; i++) {
				const void *x = (const char *) p.data + i * elem.bytes;
				uint32_t best = 0;
				float best_d = INFINITY;
				for (size_t c = 0; c < p.k; c++) {
					float d = elem.l2sq(x, &bits[c * elem.bytes], &elem.param);
					if (d < best_d) {
						best_d = d;
						best = (uint32_t) c;
					}
				}
				out[i] = best;
			}
			job->done += e - b;
		});
		return;
	}
	job->parallel_for(pool, p.n, kChunk, [&](size_t b, size_t e, size_t worker) {
		std::vector<float> &v = scratch[worker];
		v.resize(p.dims);
		for (size_t i = b; i < e; i++) {
			const void *x = (const char *) p.data + i * elem.bytes;
			const float *f = (const float *) x;
			if (p.type != ElementType::Float32) {
				element_decode(elem, x, v.data());
				f = v.data();
			}
			out[i] = nearest_center(f, p.centers, p.k, p.dims, p.spherical, kern);
		}
		job->done += e - b;
	});
}

template <typename Fn>
Job *start_job(Fn fn, char *error, size_t error_len)
{
	Job *job = nullptr;
	try {
		job = new Job();
		job->coordinator = std::thread([job, fn] {
			try {
				fn(job);
			} catch (const std::bad_alloc &) {
				job->fail("out of memory");
			} catch (const std::exception &e) {
				job->fail(e.what());
			} catch (...) {
				job->fail("unknown error");
			}
			job->finished.store(true, std::memory_order_release);
		});
		return job;
	} catch (const std::exception &e) {
		if (error_len > 0) {
			std::strncpy(error, e.what(), error_len - 1);
			error[error_len - 1] = '\0';
		}
		delete job;
		return nullptr;
	}
}

bool valid(const KmeansParams &p) { return p.k > 0 && p.dims > 0 && (p.n == 0 || p.data); }

}  // namespace

Job *kmeans_start(const KmeansParams &p, float *centers, char *error, size_t error_len)
{
	if (!valid(p)) {
		std::strncpy(error, "invalid k-means parameters", error_len - 1);
		error[error_len - 1] = '\0';
		return nullptr;
	}
	return start_job([p, centers](Job *job) { run_kmeans(job, p, centers); }, error, error_len);
}

Job *assign_start(const AssignParams &p, uint32_t *out, char *error, size_t error_len)
{
	if (p.k == 0 || p.dims == 0) {
		std::strncpy(error, "invalid assignment parameters", error_len - 1);
		error[error_len - 1] = '\0';
		return nullptr;
	}
	return start_job([p, out](Job *job) { run_assign(job, p, out); }, error, error_len);
}

bool job_poll(Job *job, size_t *done, size_t *total)
{
	if (done)
		*done = job->done.load();
	if (total)
		*total = job->total.load();
	return job->finished.load(std::memory_order_acquire);
}

const char *job_error(const Job *job) { return job->error.c_str(); }

int job_iterations(const Job *job) { return job->iterations.load(); }

void job_free(Job *job)
{
	if (!job)
		return;
	job->stop = true;
	if (job->coordinator.joinable())
		job->coordinator.join();
	delete job;
}

static std::string wait_job(Job *job, const char *start_error)
{
	if (!job)
		return start_error;
	job->coordinator.join();
	std::string e = job->error;
	delete job;
	return e;
}

std::string kmeans_run(const KmeansParams &p, float *centers)
{
	char err[256] = "";
	return wait_job(kmeans_start(p, centers, err, sizeof(err)), err);
}

std::string assign_run(const AssignParams &p, uint32_t *out)
{
	char err[256] = "";
	return wait_job(assign_start(p, out, err, sizeof(err)), err);
}

}  // namespace ivf
}  // namespace prism
