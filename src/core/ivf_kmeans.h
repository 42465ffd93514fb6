// k-means for the ivfflat build, and the nearest-center assignment shared by build and insert.
// Pure C++17, no Postgres: the backend prepares the memory, starts a job, and polls it while
// the job's threads run; job_free() stops and joins them (cancel, ERROR).
//
// k-means: k-means++ seeding, then Lloyd iterations until fewer than 0.1% of the points change
// list or max_iterations. For the spherical metrics (inner product, cosine) the centers are kept
// at unit length and a point belongs to the center with the largest inner product (spherical
// k-means); the caller passes unit-length (or zero) points. For bit indexes (binary) the points
// are 0/1 vectors and every center is rounded to one after its mean is taken (a coordinate is 1
// when most members have it set), so the squared L2 distances k-means computes are Hamming
// distances. Results do not depend on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/core_only.h"
#include "core/distance.h"
#include "core/ivf_format.h"

namespace prism {
namespace ivf {

struct KmeansParams {
	const float *data = nullptr;  // n * dims
	size_t n = 0;
	size_t dims = 0;
	size_t k = 0;
	bool spherical = false;
	bool binary = false;  // 0/1 points and centers (bit indexes)
	int threads = 1;
	uint64_t seed = 1;
	int max_iterations = 10;
	size_t bound_memory = size_t(256) << 20;	 // bytes for per-center distance bounds (n * k floats)
};

struct AssignParams {
	const void *data = nullptr;	 // n stored vectors of `type` (ivf_element.h), each vector_bytes()
	ElementType type = ElementType::Float32;
	size_t n = 0;
	size_t dims = 0;
	const float *centers = nullptr;	 // k * dims (0/1 for ElementType::Bit)
	size_t k = 0;
	bool spherical = false;
	int threads = 1;
};

class Job;

// Starts k-means on background threads; the k * dims centers go to `centers` (owned by the
// caller, untouched until the job has finished). Returns nullptr (and a message) if the threads
// cannot start.
Job *kmeans_start(const KmeansParams &p, float *centers, char *error, size_t error_len);
// Starts the assignment of every point to its nearest center: out[i] = list of point i.
Job *assign_start(const AssignParams &p, uint32_t *out, char *error, size_t error_len);
// True once the job has finished (successfully or not); *done / *total: work units so far.
bool job_poll(Job *job, size_t *done, size_t *total);
// Empty when the job succeeded (valid after job_poll returned true).
const char *job_error(const Job *job);
// Lloyd iterations run (k-means jobs).
int job_iterations(const Job *job);
// Stops a running job, joins its threads and frees it. nullptr is allowed.
void job_free(Job *job);

// Synchronous forms (tests, benchmarks): return the error, empty on success.
std::string kmeans_run(const KmeansParams &p, float *centers);
std::string assign_run(const AssignParams &p, uint32_t *out);

// k random centers (Gaussian directions; unit length when spherical): the centers of an
// index built on no rows.
void random_centers(size_t k, size_t dims, bool spherical, uint64_t seed, float *out);

// Squared L2 distance from q to each of k centers (contiguous): for the unit-length centers of
// a spherical index it ranks them like the inner product does (|q|^2 + 1 - 2 q.c).
void center_distances(const float *q, const float *centers, size_t k, size_t dims, const Kernels &kernels,
					  float *out);

// The list of `v` among k centers: smallest L2 distance, which for the unit-length centers of
// a spherical index is the largest inner product; ties go to the lowest list number.
uint32_t nearest_center(const float *v, const float *centers, size_t k, size_t dims, bool spherical,
						const Kernels &kernels);

}  // namespace ivf
}  // namespace prism
