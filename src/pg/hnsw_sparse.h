// The Postgres side of sparse hnsw elements (hnsw_sparse_pages.cpp): side items on sparse data
// pages, written by the build and inserts, read by the store's distance step, freed by VACUUM,
// verified by index_check. Formats and kernels: src/core/hnsw_sparse.h.
#pragma once

#include "core/hnsw_sparse.h"
#include "pg/hnsw.h"

namespace prism {
namespace hnsw {

// Encodes a sparsevec datum as a memory handle in out[0..4) over non-zeros palloc'd in
// CurrentMemoryContext (normalized under cosine). False if it is not indexed (a zero vector
// under cosine); for a query such a vector stays zero (an empty handle).
bool encode_sparse_datum(const IndexShape &sh, Datum value, float *out, bool query);

// The store's buffers for gathered side items (palloc'd in CurrentMemoryContext).
SparseReads *sparse_reads_new();

// Store reads (PgStore::distance, pair_distance): the distance from element `id`, whose record
// holds `elem` (read under the record's lock, now released), to `q` (any handle); and between
// two handles. A disk handle costs a second buffer access per page of its side item.
float sparse_distance(PgStore *s, uint32 id, SparseHandle elem, const float *q);
float sparse_store_pair_distance(PgStore *s, const float *a, const float *b);

// Insert (holding kWriterLock): writes the side item of memory handle `vec` and its disk handle
// into `out` (the record's element words). *last_block is the metapage's last_sparse_block;
// returns true if it changed (the caller writes the metapage).
bool sparse_insert_item(Relation index, const IndexShape &sh, const float *vec, uint32 *last_block, void *out);

// Bulk build: places the side items of elems[0..n) (memory handles) on the pages from block
// `first` on and returns their disk handles (palloc'd), then writes those pages (no WAL: the
// build logs all pages at the end). Returns the last sparse page, or 0 if none.
SparseHandle *sparse_build_plan(const float *const *elems, size_t n, BlockNumber first);
BlockNumber sparse_build_write(Relation index, const float *const *elems, size_t n, BlockNumber first);

// VACUUM: frees the chunks of the side item a freed record's words name (one WAL record a chunk).
void sparse_free_item(Relation index, BufferAccessStrategy strategy, const void *words);

// VACUUM, after the last sparse_free_item: makes the room it recorded findable.
void sparse_vacuum_done(Relation index);

// index_check: whether the side item of `words` is sound; else *why says what is wrong.
bool sparse_check_item(Relation index, const IndexShape &sh, const void *words, char *why, size_t why_len);

}  // namespace hnsw
}  // namespace prism
