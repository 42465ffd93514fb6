// In-memory graph build with hnswlib's multi-threaded HierarchicalNSW. The builder threads run
// only this code on memory the caller prepared; they never call Postgres. The caller (a
// backend) polls progress, can request a stop, and then reads the graph out to write pages.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/core_only.h"
#include "core/hnsw_element.h"
#include "core/hnsw_format.h"

namespace prism {
namespace hnsw {

struct BuildParams {
	const float *vectors;  // n * words: the stored elements (normalized already for cosine)
	size_t n;
	size_t dims;
	size_t words = 0;	   // element_words(element, dims); 0: derived from them
	ElementKind element = ElementKind::Float32;
	int m;
	int ef_construction;
	Metric metric;
	int threads;
	uint64_t seed;
};

class GraphBuilder;	 // opaque; owns hnswlib objects and threads

// All functions are noexcept: failures come back as an error string (empty on success).
GraphBuilder *builder_start(const BuildParams &params, char *error, size_t error_size) noexcept;
// Elements added so far; sets *finished once every thread has joined.
size_t builder_progress(GraphBuilder *b, bool *finished) noexcept;
// Asks the threads to stop after their current element and joins them.
void builder_stop(GraphBuilder *b) noexcept;
// Non-empty if a thread failed (hnswlib throws on errors).
const char *builder_error(GraphBuilder *b) noexcept;
void builder_free(GraphBuilder *b) noexcept;

// Reading the finished graph. Internal ids are 0..n-1 in hnswlib's insertion order.
size_t builder_count(GraphBuilder *b) noexcept;
size_t builder_input_index(GraphBuilder *b, uint32_t internal_id) noexcept;  // row of params.vectors
int builder_level(GraphBuilder *b, uint32_t internal_id) noexcept;
int builder_links(GraphBuilder *b, uint32_t internal_id, int level, const uint32_t **links) noexcept;
uint32_t builder_entry_point(GraphBuilder *b) noexcept;
// Elements a level-0 walk from the entry point did not reach after hnswlib's build, and how
// many of them the builder connected (none when they are many: see connect_unreachable).
size_t builder_unreachable_found(GraphBuilder *b) noexcept;
size_t builder_unreachable_linked(GraphBuilder *b) noexcept;
int builder_max_level(GraphBuilder *b) noexcept;
// 32-bit words hnswlib holds per element: the stored element's, or under inner product dims + 1
// floats (the graph is built over lifted float vectors, see hnsw_builder.cpp).
size_t builder_stored_words(ElementKind element, Metric metric, size_t dims) noexcept;
// Bytes hnswlib needs for n elements of `stored_words` words (for the maintenance_work_mem check).
size_t builder_memory_estimate(size_t n, size_t stored_words, int m) noexcept;

}  // namespace hnsw
}  // namespace prism
