// make_clustered — writes a synthetic ~100-d cosine benchmark set shaped like text embeddings,
// with exact ground truth, in the layout test/bench/bench reads:
//   OUT_DIR/base.fvecs, OUT_DIR/query.fvecs, OUT_DIR/groundtruth.ivecs (top 100, nearest first).
//
// Shape: topics -> sub-topics -> points, Zipf-sized topics, an anisotropic spectrum (dimension j
// scaled by 1/sqrt(1 + j/8), as learned embeddings concentrate variance in few directions), a
// shared mean direction (embeddings of one model are not centred, which crowds cosine
// neighbourhoods), and isotropic noise large enough that neighbourhoods overlap across
// sub-topics. Queries are held out: drawn from the same process, not copies of base rows.
// Everything is seeded: the same arguments give the same files.
//
// usage: make_clustered OUT_DIR [--n 331000] [--queries 1000] [--dim 100] [--seed 42] [--noise 1.5]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Args {
	std::string out;
	size_t n = 331000, nq = 1000, dim = 100;
	unsigned seed = 42;
	float noise = 1.5f;
};

[[noreturn]] void
die(const std::string &m)
{
	fprintf(stderr, "make_clustered: %s\n", m.c_str());
	exit(1);
}

void
normalize(float *v, size_t dim)
{
	double s = 0;
	for (size_t j = 0; j < dim; j++)
		s += double(v[j]) * v[j];
	float inv = s > 0 ? float(1.0 / std::sqrt(s)) : 0.f;
	for (size_t j = 0; j < dim; j++)
		v[j] *= inv;
}

// The generative process; base rows and queries come from the same one.
struct Model {
	size_t dim, topics = 400, subs = 12;
	std::vector<float> mean, scale, topic_c, sub_c;
	std::discrete_distribution<size_t> topic_pick;
	float noise;

	Model(size_t d, float nz, std::mt19937_64 &rng) : dim(d), noise(nz)
	{
		std::normal_distribution<float> g(0.f, 1.f);
		scale.resize(dim);
		for (size_t j = 0; j < dim; j++)
			scale[j] = 1.f / std::sqrt(1.f + float(j) / 8.f);
		mean.resize(dim);
		for (auto &x : mean)
			x = 0.6f * g(rng);
		topic_c.resize(topics * dim);
		for (size_t t = 0; t < topics; t++)
			for (size_t j = 0; j < dim; j++)
				topic_c[t * dim + j] = g(rng) * scale[j];
		sub_c.resize(topics * subs * dim);
		for (auto &x : sub_c)
			x = 0.55f * g(rng);
		std::vector<double> w(topics);
		for (size_t t = 0; t < topics; t++)
			w[t] = 1.0 / std::pow(double(t + 1), 0.8);
		topic_pick = std::discrete_distribution<size_t>(w.begin(), w.end());
	}

	void draw(float *out, std::mt19937_64 &rng)
	{
		std::normal_distribution<float> g(0.f, 1.f);
		size_t t = topic_pick(rng);
		size_t s = std::uniform_int_distribution<size_t>(0, subs - 1)(rng);
		const float *tc = &topic_c[t * dim], *sc = &sub_c[(t * subs + s) * dim];
		for (size_t j = 0; j < dim; j++)
			out[j] = mean[j] + tc[j] + sc[j] * scale[j] + noise * g(rng) * scale[j];
		normalize(out, dim);
	}
};

void
write_fvecs(const std::string &path, const std::vector<float> &v, size_t dim)
{
	FILE *f = fopen(path.c_str(), "wb");
	if (!f)
		die("cannot write " + path);
	int d = int(dim);
	for (size_t i = 0; i < v.size() / dim; i++)
		if (fwrite(&d, 4, 1, f) != 1 || fwrite(&v[i * dim], 4, dim, f) != dim)
			die("short write to " + path);
	if (fclose(f) != 0)
		die("cannot close " + path);
}

} // namespace

int
main(int argc, char **argv)
{
	Args a;
	for (int i = 1; i < argc; i++) {
		std::string k = argv[i];
		auto next = [&]() -> const char * {
			if (i + 1 >= argc)
				die("missing value for " + k);
			return argv[++i];
		};
		if (k == "--n")
			a.n = strtoull(next(), nullptr, 10);
		else if (k == "--queries")
			a.nq = strtoull(next(), nullptr, 10);
		else if (k == "--dim")
			a.dim = strtoull(next(), nullptr, 10);
		else if (k == "--seed")
			a.seed = unsigned(strtoul(next(), nullptr, 10));
		else if (k == "--noise")
			a.noise = strtof(next(), nullptr);
		else if (k.rfind("--", 0) == 0)
			die("unknown option " + k);
		else
			a.out = k;
	}
	if (a.out.empty() || a.n == 0 || a.nq == 0 || a.dim == 0)
		die("usage: make_clustered OUT_DIR [--n N] [--queries N] [--dim N] [--seed N] [--noise X]");
	const size_t k = std::min<size_t>(100, a.n);

	std::mt19937_64 rng(a.seed);
	Model m(a.dim, a.noise, rng);
	std::vector<float> base(a.n * a.dim), query(a.nq * a.dim);
	for (size_t i = 0; i < a.n; i++)
		m.draw(&base[i * a.dim], rng);
	for (size_t i = 0; i < a.nq; i++)
		m.draw(&query[i * a.dim], rng);

	// Exact top-k by cosine distance (unit vectors: by descending dot product), ties by row id.
	std::vector<int> gt(a.nq * k);
	unsigned nthreads = std::max(1u, std::thread::hardware_concurrency());
	std::vector<std::thread> threads;
	for (unsigned t = 0; t < nthreads; t++)
		threads.emplace_back([&, t] {
			std::vector<std::pair<float, int>> heap;
			for (size_t q = t; q < a.nq; q += nthreads) {
				const float *qv = &query[q * a.dim];
				heap.clear();
				for (size_t i = 0; i < a.n; i++) {
					const float *bv = &base[i * a.dim];
					float dot = 0;
					for (size_t j = 0; j < a.dim; j++)
						dot += qv[j] * bv[j];
					std::pair<float, int> e{1.f - dot, int(i)};
					if (heap.size() < k) {
						heap.push_back(e);
						std::push_heap(heap.begin(), heap.end());
					} else if (e < heap.front()) {
						std::pop_heap(heap.begin(), heap.end());
						heap.back() = e;
						std::push_heap(heap.begin(), heap.end());
					}
				}
				std::sort_heap(heap.begin(), heap.end());
				for (size_t r = 0; r < k; r++)
					gt[q * k + r] = heap[r].second;
			}
		});
	for (auto &th : threads)
		th.join();

	write_fvecs(a.out + "/base.fvecs", base, a.dim);
	write_fvecs(a.out + "/query.fvecs", query, a.dim);
	FILE *f = fopen((a.out + "/groundtruth.ivecs").c_str(), "wb");
	if (!f)
		die("cannot write groundtruth.ivecs");
	int kk = int(k);
	for (size_t q = 0; q < a.nq; q++)
		if (fwrite(&kk, 4, 1, f) != 1 || fwrite(&gt[q * k], 4, k, f) != k)
			die("short write to groundtruth.ivecs");
	if (fclose(f) != 0)
		die("cannot close groundtruth.ivecs");
	fprintf(stderr, "make_clustered: %zu base + %zu queries x %zu dims (cosine, unit vectors), top-%zu truth in %s\n",
		a.n, a.nq, a.dim, k, a.out.c_str());
	return 0;
}
