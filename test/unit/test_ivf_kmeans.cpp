// ivfflat core: k-means recovers separated clusters, is independent of the thread count,
// handles fewer points than lists, stops on request; the format's limits fit a page.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "core/ivf_format.h"
#include "core/ivf_kmeans.h"

namespace {

using namespace prism::ivf;

// n points around `clusters` random centers (spread 10) with noise sd 0.1; label[i] = cluster.
std::vector<float> clustered(size_t n, size_t dims, size_t clusters, uint64_t seed, std::vector<int> *label,
							 bool unit)
{
	std::mt19937_64 rng(seed);
	std::normal_distribution<float> nd(0, 1);
	std::vector<float> ctr(clusters * dims);
	for (auto &x : ctr)
		x = nd(rng) * 10;
	std::vector<float> data(n * dims);
	label->resize(n);
	for (size_t i = 0; i < n; i++) {
		int c = (int) (i % clusters);
		(*label)[i] = c;
		double s = 0;
		for (size_t d = 0; d < dims; d++) {
			data[i * dims + d] = ctr[c * dims + d] + 0.1f * nd(rng);
			s += (double) data[i * dims + d] * data[i * dims + d];
		}
		if (unit)
			for (size_t d = 0; d < dims; d++)
				data[i * dims + d] = (float) (data[i * dims + d] / std::sqrt(s));
	}
	return data;
}

// Every true cluster maps to exactly one list and every list to one cluster.
void expect_pure(const std::vector<float> &data, const std::vector<int> &label, const std::vector<float> &centers,
				 size_t k, size_t dims, bool sph)
{
	prism::Kernels kern = prism::best_kernels(dims);
	std::map<int, std::set<uint32_t>> lists_of;
	std::map<uint32_t, std::set<int>> clusters_of;
	for (size_t i = 0; i < label.size(); i++) {
		uint32_t l = nearest_center(&data[i * dims], centers.data(), k, dims, sph, kern);
		lists_of[label[i]].insert(l);
		clusters_of[l].insert(label[i]);
	}
	EXPECT_EQ(lists_of.size(), k);
	for (auto &e : lists_of)
		EXPECT_EQ(e.second.size(), 1u) << "cluster " << e.first << " split over lists";
	EXPECT_EQ(clusters_of.size(), k);
	for (auto &e : clusters_of)
		EXPECT_EQ(e.second.size(), 1u) << "list " << e.first << " mixes clusters";
}

TEST(IvfKmeans, RecoversSeparatedClustersL2)
{
	std::vector<int> label;
	size_t n = 4000, dims = 16, k = 8;
	auto data = clustered(n, dims, k, 7, &label, false);
	KmeansParams p;
	p.data = data.data();
	p.n = n;
	p.dims = dims;
	p.k = k;
	p.threads = 3;
	p.seed = 42;
	std::vector<float> centers(k * dims);
	ASSERT_EQ(kmeans_run(p, centers.data()), "");
	expect_pure(data, label, centers, k, dims, false);
}

// A sample larger than the seeding reads (more than 4,096 points and 16 per center), stored
// cluster by cluster as a table filled in that order would be: the seeding's points are spread
// over the whole sample, so every cluster still gets its own list.
TEST(IvfKmeans, SeedsFromTheWholeOfALargeSortedSample)
{
	std::vector<int> label;
	size_t n = 24000, dims = 8, k = 12;
	auto mixed = clustered(n, dims, k, 11, &label, false);
	std::vector<float> data(n * dims);
	std::vector<int> sorted_label(n);
	size_t at = 0;
	for (size_t c = 0; c < k; c++)
		for (size_t i = 0; i < n; i++)
			if ((size_t) label[i] == c) {
				std::copy(mixed.begin() + i * dims, mixed.begin() + (i + 1) * dims, data.begin() + at * dims);
				sorted_label[at++] = (int) c;
			}
	KmeansParams p;
	p.data = data.data();
	p.n = n;
	p.dims = dims;
	p.k = k;
	p.threads = 2;
	p.seed = 8;
	std::vector<float> centers(k * dims);
	ASSERT_EQ(kmeans_run(p, centers.data()), "");
	expect_pure(data, sorted_label, centers, k, dims, false);
}

TEST(IvfKmeans, SphericalCentersAreUnitAndPure)
{
	std::vector<int> label;
	size_t n = 3000, dims = 24, k = 6;
	auto data = clustered(n, dims, k, 9, &label, true);
	KmeansParams p;
	p.data = data.data();
	p.n = n;
	p.dims = dims;
	p.k = k;
	p.spherical = true;
	p.threads = 2;
	std::vector<float> centers(k * dims);
	ASSERT_EQ(kmeans_run(p, centers.data()), "");
	for (size_t c = 0; c < k; c++) {
		double s = 0;
		for (size_t d = 0; d < dims; d++)
			s += (double) centers[c * dims + d] * centers[c * dims + d];
		EXPECT_NEAR(std::sqrt(s), 1.0, 1e-4);
	}
	expect_pure(data, label, centers, k, dims, true);
}

TEST(IvfKmeans, SameResultForAnyThreadCount)
{
	std::vector<int> label;
	size_t n = 5000, dims = 32, k = 37;
	auto data = clustered(n, dims, 50, 3, &label, false);
	KmeansParams p;
	p.data = data.data();
	p.n = n;
	p.dims = dims;
	p.k = k;
	p.seed = 5;
	std::vector<float> a(k * dims), b(k * dims);
	p.threads = 1;
	ASSERT_EQ(kmeans_run(p, a.data()), "");
	p.threads = 4;
	ASSERT_EQ(kmeans_run(p, b.data()), "");
	EXPECT_EQ(a, b);
}

TEST(IvfKmeans, NoEmptyListOnSpreadData)
{
	std::vector<int> label;
	size_t n = 6000, dims = 8, k = 100;
	auto data = clustered(n, dims, 1000, 11, &label, false);
	KmeansParams p;
	p.data = data.data();
	p.n = n;
	p.dims = dims;
	p.k = k;
	p.threads = 2;
	std::vector<float> centers(k * dims);
	ASSERT_EQ(kmeans_run(p, centers.data()), "");
	std::vector<uint32_t> out(n);
	AssignParams a;
	a.data = data.data();
	a.n = n;
	a.dims = dims;
	a.centers = centers.data();
	a.k = k;
	a.threads = 2;
	ASSERT_EQ(assign_run(a, out.data()), "");
	std::vector<size_t> count(k, 0);
	for (uint32_t l : out)
		count[l]++;
	size_t empty = 0;
	for (size_t c : count)
		empty += c == 0;
	EXPECT_EQ(empty, 0u);
}

TEST(IvfKmeans, FewerPointsThanLists)
{
	size_t dims = 4, k = 10;
	std::vector<float> data = {1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0};
	KmeansParams p;
	p.data = data.data();
	p.n = 3;
	p.dims = dims;
	p.k = k;
	std::vector<float> centers(k * dims);
	ASSERT_EQ(kmeans_run(p, centers.data()), "");
	prism::Kernels kern = prism::best_kernels(dims);
	for (size_t i = 0; i < 3; i++) {
		uint32_t l = nearest_center(&data[i * dims], centers.data(), k, dims, false, kern);
		EXPECT_EQ(l, i);  // each point is its own center (the first with that vector)
	}
}

TEST(IvfKmeans, NoPointsGivesUnitRandomCenters)
{
	size_t dims = 5, k = 7;
	KmeansParams p;
	p.n = 0;
	p.dims = dims;
	p.k = k;
	p.spherical = true;
	std::vector<float> centers(k * dims, 0.0f);
	ASSERT_EQ(kmeans_run(p, centers.data()), "");
	for (size_t c = 0; c < k; c++) {
		double s = 0;
		for (size_t d = 0; d < dims; d++)
			s += (double) centers[c * dims + d] * centers[c * dims + d];
		EXPECT_NEAR(s, 1.0, 1e-4);
	}
}

TEST(IvfKmeans, AssignMatchesNearestCenter)
{
	std::mt19937_64 rng(1);
	std::normal_distribution<float> nd(0, 1);
	size_t n = 1000, dims = 33, k = 17;
	std::vector<float> data(n * dims), centers(k * dims);
	for (auto &x : data)
		x = nd(rng);
	for (auto &x : centers)
		x = nd(rng);
	for (bool sph : {false, true}) {
		if (sph)  // spherical centers are unit length (as k-means leaves them)
			for (size_t c = 0; c < k; c++) {
				double s = 0;
				for (size_t j = 0; j < dims; j++)
					s += (double) centers[c * dims + j] * centers[c * dims + j];
				for (size_t j = 0; j < dims; j++)
					centers[c * dims + j] = (float) (centers[c * dims + j] / std::sqrt(s));
			}
		std::vector<uint32_t> out(n);
		AssignParams a;
		a.data = data.data();
		a.n = n;
		a.dims = dims;
		a.centers = centers.data();
		a.k = k;
		a.spherical = sph;
		a.threads = 3;
		ASSERT_EQ(assign_run(a, out.data()), "");
		for (size_t i = 0; i < n; i++) {
			// brute force in double
			double best = INFINITY;
			uint32_t arg = 0;
			for (size_t c = 0; c < k; c++) {
				double d = 0;
				for (size_t j = 0; j < dims; j++) {
					double x = data[i * dims + j], y = centers[c * dims + j];
					d += sph ? -x * y : (x - y) * (x - y);
				}
				if (d < best) {
					best = d;
					arg = (uint32_t) c;
				}
			}
			EXPECT_EQ(out[i], arg) << "point " << i << (sph ? " spherical" : " l2");
		}
	}
}

TEST(IvfKmeans, StopsOnRequest)
{
	std::mt19937_64 rng(2);
	std::normal_distribution<float> nd(0, 1);
	size_t n = 200000, dims = 64, k = 2000;	 // minutes of work if not stopped
	std::vector<float> data(n * dims);
	for (auto &x : data)
		x = nd(rng);
	KmeansParams p;
	p.data = data.data();
	p.n = n;
	p.dims = dims;
	p.k = k;
	p.threads = 2;
	std::vector<float> centers(k * dims);
	char err[128];
	Job *job = kmeans_start(p, centers.data(), err, sizeof(err));
	ASSERT_NE(job, nullptr);
	std::this_thread::sleep_for(std::chrono::milliseconds(50));
	size_t done = 0, total = 0;
	EXPECT_FALSE(job_poll(job, &done, &total));
	EXPECT_EQ(total, k + 10);
	auto t0 = std::chrono::steady_clock::now();
	job_free(job);
	double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
	EXPECT_LT(secs, 2.0);
}

TEST(IvfFormat, LimitsFitAPage)
{
	const size_t item_space = 8192 - 24 - 8, line_pointer = 4;	// BLCKSZ - page header - special
	EXPECT_GE(items_per_page(center_item_size(ElementType::Float32, kMaxDims), item_space, line_pointer), 1u);
	EXPECT_GE(items_per_page(list_tuple_size(ElementType::Float32, kMaxDims), item_space, line_pointer), 1u);
	EXPECT_EQ(items_per_page(list_tuple_size(ElementType::Float32, 3), item_space, line_pointer), 8160u / 28u);
	uint32_t per = items_per_page(center_item_size(ElementType::Float32, 128), item_space, line_pointer);
	EXPECT_EQ(center_block(0, per), 1u);
	EXPECT_EQ(center_offset(0, per), 1);
	EXPECT_EQ(center_block(per, per), 2u);
	EXPECT_EQ(center_offset(per + 2, per), 3);
	EXPECT_EQ(center_pages_for(kMaxLists, per), (kMaxLists + per - 1) / per);
	EXPECT_EQ(wanted_samples(1), (size_t) kMinSamples);
	EXPECT_EQ(wanted_samples(1000), 50000u);
}

}  // namespace

namespace {

// Elkan's per-center bounds and the single-bound fallback prune differently but are exact
// accelerations of the same Lloyd iterations: both end at the same centers.
TEST(IvfKmeans, BoundsFallbackGivesSameCenters)
{
	std::vector<int> label;
	size_t n = 3000, dims = 20, k = 30;
	auto data = clustered(n, dims, 60, 13, &label, false);
	KmeansParams p;
	p.data = data.data();
	p.n = n;
	p.dims = dims;
	p.k = k;
	p.threads = 2;
	std::vector<float> a(k * dims), b(k * dims);
	ASSERT_EQ(kmeans_run(p, a.data()), "");
	p.bound_memory = 0;
	ASSERT_EQ(kmeans_run(p, b.data()), "");
	for (size_t i = 0; i < k * dims; i++)
		ASSERT_NEAR(a[i], b[i], 1e-3) << "coordinate " << i;
}

}  // namespace
