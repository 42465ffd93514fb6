// Sparse elements of the hnsw index (sparsevec_l2_ops, _ip_ops, _cosine_ops, _l1_ops): only the
// non-zeros are stored, and an element may hold up to kSparseMaxIndexNnz of them, so they do not
// fit the index's fixed-size records. The record's element words hold a 16-byte handle instead:
//
// - a memory handle (queries, rows collected by the build, hnswlib's data, copies the graph code
//   makes) points at `nnz` ascending int32 indices followed by their `nnz` float values;
// - a disk handle (what element records store) names the first chunk of the element's side
//   item on a sparse data page (kPageSparse): block, line pointer and nnz.
//
// The graph code copies and compares handles as opaque words, as it does dense elements, so the
// scratch it sizes by element words stays 16 bytes an element. The kernels here read memory
// handles only; the page store turns disk handles into memory handles (pointing into the locked
// page, or into a gathered copy) before it calls them.
//
// A side item is one or more chunks, each a line-pointer item: SparseChunkHeader, then `count`
// indices, then `count` values. A chunk names the next chunk (block, offset), or kInvalidBlock.
// Chunks are placed by sparse_chunk_pairs, the one rule the bulk build and inserts share.
// Pure C++17; no Postgres headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/core_only.h"
#include "core/hnsw_format.h"
#include "core/sparsevec.h"

namespace prism {
namespace hnsw {

// Non-zeros an indexed sparse element may hold (pgvector's hnsw index allows 1,000).
constexpr uint32_t kSparseMaxIndexNnz = 16000;

enum SparseHandleTag : uint32_t { kSparseHandleMemory = 1, kSparseHandleDisk = 2 };

struct SparseHandle {
	uint32_t tag;	// SparseHandleTag
	uint32_t nnz;
	uint32_t lo;	// memory: pointer bits 0-31; disk: block of the first chunk (kInvalidBlock if nnz 0)
	uint32_t hi;	// memory: pointer bits 32-63; disk: line pointer of the first chunk
};
static_assert(sizeof(SparseHandle) == 16, "sparse handle is four element words");
constexpr size_t kSparseHandleWords = sizeof(SparseHandle) / 4;

// Memory handle over `pairs`: nnz indices then nnz values (4 bytes each).
inline SparseHandle sparse_memory_handle(uint32_t nnz, const void *pairs)
{
	uint64_t p = (uint64_t) (uintptr_t) pairs;
	return SparseHandle{kSparseHandleMemory, nnz, (uint32_t) p, (uint32_t) (p >> 32)};
}
inline SparseHandle sparse_disk_handle(uint32_t nnz, uint32_t block, uint16_t offset)
{
	return SparseHandle{kSparseHandleDisk, nnz, block, offset};
}
inline SparseHandle sparse_handle(const void *words)
{
	SparseHandle h;
	memcpy(&h, words, sizeof(h));
	return h;
}
inline const int32_t *sparse_handle_pairs(const SparseHandle &h)
{
	return (const int32_t *) (uintptr_t) (((uint64_t) h.hi << 32) | h.lo);
}
// The non-zeros of a memory handle (dim is not kept: the kernels do not read it).
inline SparseView sparse_handle_view(const SparseHandle &h)
{
	const int32_t *p = sparse_handle_pairs(h);
	return SparseView{0, (int32_t) h.nnz, p, (const float *) (p + h.nnz)};
}

// Encodes the non-zeros of `v` into pairs[0..2 * v.nnz) (indices, then values; under cosine the
// values divided by the norm). False if the element cannot be indexed: a zero vector under
// cosine has no direction.
bool encode_sparse_element(Metric metric, const SparseView &v, int32_t *pairs);

// Kernels in the DistFunc shape over two memory handles (the third argument is unused): l2
// squared, dot product, l1 (the merges of sparsevec.cpp). A handle that is not a memory handle
// with non-zeros reads as empty.
float sparse_handle_l2sq(const void *a, const void *b, const void *);
float sparse_handle_dot(const void *a, const void *b, const void *);
float sparse_handle_l1(const void *a, const void *b, const void *);

// --- side items -----------------------------------------------------------------------------

struct SparseChunkHeader {
	uint32_t next_block;   // kInvalidBlock for the last chunk
	uint16_t next_offset;
	uint16_t reserved;
	uint32_t count;		   // non-zeros in this chunk
	uint32_t first;		   // position of its first non-zero in the element
};
static_assert(sizeof(SparseChunkHeader) == 16, "chunk header size");

inline size_t sparse_chunk_size(uint32_t count) { return sizeof(SparseChunkHeader) + (size_t) count * 8; }

// A chunk is split off an element only if at least this many non-zeros fit the page (else the
// chunk starts a new page), so elements do not scatter into slivers.
constexpr uint32_t kSparseMinChunkPairs = 32;

// Non-zeros of the next chunk of an element with `remaining` left, on a page with `free` bytes
// for a new item (Postgres' PageGetFreeSpace: its line pointer already taken off); 0: start a
// new page. Items are 8-byte multiples, so no alignment is lost.
inline uint32_t sparse_chunk_pairs(size_t free, uint32_t remaining)
{
	if (free < sparse_chunk_size(1))
		return 0;
	size_t fit = (free - sizeof(SparseChunkHeader)) / 8;
	if (fit >= remaining)
		return remaining;
	return fit >= kSparseMinChunkPairs ? (uint32_t) fit : 0;
}

// Lays chunks out on sparse pages as PageAddItem appends them: the bulk build places every
// side item with it, an insert the chunks of one element, starting on the page the metapage
// names. Pages are numbered in the order the packer opens them (0 first).
struct SparsePacker {
	uint32_t pages;		 // pages opened so far (the current one is pages - 1)
	uint32_t items;		 // line pointers on the current page
	size_t space;		 // bytes between pd_lower and pd_upper on it
	size_t fresh_space;	 // the same on a new page
};
struct SparseChunkPlace {
	uint32_t page;	   // packer page number
	uint16_t offset;   // line pointer (1-based)
	uint32_t first;	   // position of its first non-zero in the element
	uint32_t count;
};
// Most chunks an element of kSparseMaxIndexNnz non-zeros can need (about 1,000 fit a page).
constexpr int kSparseMaxChunks = 24;

// A packer with no page yet (has_page false), or whose current page (page 0) is an existing one
// with `items` line pointers and `space` bytes between pd_lower and pd_upper.
inline SparsePacker sparse_packer(bool has_page, uint32_t items, size_t space, size_t fresh_space)
{
	return has_page ? SparsePacker{1u, items, space, fresh_space} : SparsePacker{0u, 0u, 0, fresh_space};
}

// Places the chunks of an element of nnz (> 0) non-zeros; returns how many (at most max).
int sparse_place(SparsePacker &p, uint32_t nnz, SparseChunkPlace *out, int max);

// Writes a chunk of pairs[first, first + count) of an element of `nnz` non-zeros into `out`
// (sparse_chunk_size(count) bytes).
void sparse_chunk_write(const int32_t *pairs, uint32_t nnz, uint32_t first, uint32_t count, uint32_t next_block,
						uint16_t next_offset, void *out);

// The checks a read needs before it uses the chunk `item` (`size` bytes) as the chunk at
// position `first` of an element of `nnz` non-zeros: its header and size (so every access
// stays inside the item). NULL or what is wrong.
const char *sparse_chunk_header_fault(const void *item, size_t size, uint32_t first, uint32_t nnz);

// Checks the chunk `item` (`size` bytes) as the chunk at position `first` of an element of
// `nnz` non-zeros below `dims`, whose previous chunk ended at index `prev` (-1 for the first):
// returns NULL or what is wrong (lower case, no period). On success *last is its last index.
const char *sparse_chunk_fault(const void *item, size_t size, uint32_t first, uint32_t nnz, uint32_t dims,
							   int32_t prev, int32_t *last);

// Copies the chunk's non-zeros into the gathered element: indices at idx[first...], values at
// vals[first...].
void sparse_chunk_gather(const void *item, int32_t *idx, float *vals);

}  // namespace hnsw
}  // namespace prism
