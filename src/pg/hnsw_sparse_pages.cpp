// Side items of sparse hnsw elements on sparse data pages (kPageSparse; formats in
// src/core/hnsw_sparse.h). An element record holds a disk handle (first chunk, nnz); its
// non-zeros live in one or more chunk items, written before the record that names them (a crash
// between the two leaves unreferenced chunks, never a dangling handle) and freed by VACUUM after
// the record's slot is freed.
//
// Reads pin and share-lock one page at a time (no lock under kWriterLock, as the store's), so a
// distance on an element costs one more buffer access per page of its side item; a side item of
// one chunk is read in place, longer ones are gathered into the store's buffers.
#include "pg/hnsw_sparse.h"

#include "pg/block_hints.h"
#include "pg/sparsevec.h"

extern "C" {
#include "miscadmin.h"
#include "storage/freespace.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
}

namespace prism {
namespace hnsw {

// The store's buffers for gathered side items: slot 0 for the query side, slot 1 for the element.
struct SparseReads {
	int32 *buf[2];
	size_t cap[2];		 // pairs each holds
	SparseHandle cached;  // disk handle gathered in slot 0 (stores holding kWriterLock only)
	bool has_cached;
};

bool encode_sparse_datum(const IndexShape &sh, Datum value, float *out, bool query)
{
	SparseVector *v = DatumGetSparseVector(value);
	if (v->dim != (int) sh.dims)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
						query ? errmsg("different sparsevec dimensions %u and %d", sh.dims, v->dim)
							  : errmsg("expected %u dimensions, not %d", sh.dims, v->dim)));
	if (!query && (uint32) v->nnz > kSparseMaxIndexNnz)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("sparsevec cannot have more than %u non-zero elements for hnsw index", kSparseMaxIndexNnz),
						errhint("Index fewer non-zero elements, for example by keeping the largest values.")));
	int32 *pairs = (int32 *) palloc(sizeof(int32) * 2 * Max(v->nnz, 1));
	bool ok = encode_sparse_element(sh.metric, sparse_view(v), pairs);
	SparseHandle h = ok ? sparse_memory_handle((uint32) v->nnz, pairs) : SparseHandle{0, 0, 0, 0};
	memcpy(out, &h, sizeof(h));
	if ((Pointer) v != DatumGetPointer(value))
		pfree(v);
	return ok;
}

SparseReads *sparse_reads_new() { return (SparseReads *) palloc0(sizeof(SparseReads)); }

static SparseReads *reads_of(PgStore *s)
{
	if (s->sparse == NULL)
		elog(ERROR, "hnsw store of a sparse index has no sparse buffers");
	return s->sparse;
}

// Pins and (unless s->writer) share-locks `block`; returns the chunk at `off` if it is the one
// at position `first` of an element of `nnz` non-zeros, else NULL. The caller calls
// release_chunk in both cases.
static const unsigned char *lock_chunk(PgStore *s, BlockNumber block, OffsetNumber off, uint32 first, uint32 nnz,
									   Buffer *buf, bool *locked)
{
	*buf = InvalidBuffer;
	*locked = false;
	if (block == kMetaBlock || block >= s->nblocks) {
		s->nblocks = RelationGetNumberOfBlocks(s->index);
		if (block == kMetaBlock || block >= s->nblocks)
			return NULL;
	}
	s->pages_read++;
	*buf = read_hinted(s->index, block, s->nblocks);
	*locked = !s->writer;
	if (*locked)
		LockBuffer(*buf, BUFFER_LOCK_SHARE);
	const unsigned char *page = (const unsigned char *) BufferGetPage(*buf);
	if (pg_page::is_new(page) || pg_page::kind(page) != kPageSparse || off == 0 || off > pg_page::item_count(page))
		return NULL;
	pg_page::LinePointer lp = pg_page::line_pointer(page, off);
	const unsigned char *item = pg_page::item_at(page, off, lp.len);
	if (item == NULL || sparse_chunk_header_fault(item, lp.len, first, nnz) != NULL)
		return NULL;
	return item;
}

static void release_chunk(Buffer buf, bool locked)
{
	if (!BufferIsValid(buf))
		return;
	if (locked)
		LockBuffer(buf, BUFFER_LOCK_UNLOCK);
	ReleaseBuffer(buf);
}

[[noreturn]] static void report_bad_chunk(PgStore *s, uint32 id, BlockNumber block, OffsetNumber off)
{
	char what[160];
	snprintf(what, sizeof(what), "element %u names a sparse chunk at block %u, item %u that is not its next one", id,
			 block, (unsigned) off);
	report_corrupt_page(s->index, block < s->nblocks ? block : kMetaBlock, what);
}

// Copies the non-zeros of disk handle h into buffer `slot`; returns a memory handle over them.
static SparseHandle gather(PgStore *s, SparseHandle h, int slot, uint32 id)
{
	SparseReads *r = reads_of(s);
	if (r->cap[slot] < h.nnz) {
		if (r->buf[slot])
			pfree(r->buf[slot]);
		r->buf[slot] = (int32 *) MemoryContextAlloc(GetMemoryChunkContext(r), sizeof(int32) * 2 * h.nnz);
		r->cap[slot] = h.nnz;
	}
	int32 *idx = r->buf[slot];
	float *vals = (float *) (idx + h.nnz);
	BlockNumber block = h.lo;
	OffsetNumber off = (OffsetNumber) h.hi;
	for (uint32 first = 0; first < h.nnz;) {
		Buffer buf;
		bool locked;
		const unsigned char *c = lock_chunk(s, block, off, first, h.nnz, &buf, &locked);
		if (c == NULL)
			report_bad_chunk(s, id, block, off);  // the ERROR releases the buffer
		SparseChunkHeader hd;
		memcpy(&hd, c, sizeof(hd));
		sparse_chunk_gather(c, idx, vals);
		release_chunk(buf, locked);
		first += hd.count;
		block = hd.next_block;
		off = hd.next_offset;
	}
	return sparse_memory_handle(h.nnz, idx);
}

// A memory handle for `words` (gathered into `slot` if it is a disk handle).
static SparseHandle to_memory(PgStore *s, const float *words, int slot)
{
	SparseHandle h = sparse_handle(words);
	if (h.tag != kSparseHandleDisk || h.nnz == 0)
		return h;
	SparseReads *r = reads_of(s);
	if (slot == 0 && s->writer && r->has_cached && memcmp(&r->cached, &h, sizeof(h)) == 0)
		return sparse_memory_handle(h.nnz, r->buf[0]);
	SparseHandle m = gather(s, h, slot, kInvalidId);
	if (slot == 0) {
		r->cached = h;
		r->has_cached = s->writer;
	}
	return m;
}

float sparse_distance(PgStore *s, uint32 id, SparseHandle elem, const float *q)
{
	SparseHandle qm = to_memory(s, q, 0);
	const ElementSpace &space = s->shape->space;
	if (elem.tag != kSparseHandleDisk || elem.nnz == 0) {
		SparseHandle empty{0, 0, 0, 0};
		return element_distance(space, &qm, &empty);
	}
	Buffer buf;
	bool locked;
	const unsigned char *c = lock_chunk(s, elem.lo, (OffsetNumber) elem.hi, 0, elem.nnz, &buf, &locked);
	if (c == NULL) {
		release_chunk(buf, locked);
		// A VACUUM may have freed the element (and its chunks) since its record was read: then
		// the element is gone and has no distance; otherwise the index is corrupt.
		float now[kSparseHandleWords];
		uint8_t flags = s->vector_flags(id, now);
		if ((flags != kElementLive && flags != kElementDeleted) || memcmp(now, &elem, sizeof(elem)) != 0)
			return INFINITY;
		report_bad_chunk(s, id, elem.lo, (OffsetNumber) elem.hi);
	}
	SparseChunkHeader hd;
	memcpy(&hd, c, sizeof(hd));
	if (hd.count == elem.nnz) {
		// the whole element in one chunk: read in place
		SparseHandle em = sparse_memory_handle(elem.nnz, c + sizeof(SparseChunkHeader));
		float d = element_distance(space, &qm, &em);
		release_chunk(buf, locked);
		return d;
	}
	release_chunk(buf, locked);
	SparseHandle em = gather(s, elem, 1, id);
	return element_distance(space, &qm, &em);
}

float sparse_store_pair_distance(PgStore *s, const float *a, const float *b)
{
	SparseHandle am = to_memory(s, a, 0);
	SparseHandle bm = to_memory(s, b, 1);
	return element_distance(s->shape->space, &am, &bm);
}

// --- writing --------------------------------------------------------------------------------

static Buffer extend_sparse(Relation index)
{
	LockRelationForExtension(index, ExclusiveLock);
	Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	return buf;
}

// Writes chunk i of `places` (an element of `pairs`, nnz) into `page` at its planned offset.
static void put_chunk(Relation index, Page page, const int32 *pairs, uint32 nnz, const SparseChunkPlace *places,
					  int n, int i, const BlockNumber *blocks, char *item)
{
	BlockNumber next = i + 1 < n ? blocks[places[i + 1].page] : kInvalidBlock;
	uint16 next_off = i + 1 < n ? places[i + 1].offset : 0;
	size_t size = sparse_chunk_size(places[i].count);
	sparse_chunk_write(pairs, nnz, places[i].first, places[i].count, next, next_off, item);
	if (PageAddItem(page, (Item) item, size, places[i].offset, false, false) != places[i].offset)
		elog(ERROR, "failed to add a sparse chunk of %zu bytes at item %u to hnsw index \"%s\" (page has %u items, %zu bytes free)",
			 size, (unsigned) places[i].offset, RelationGetRelationName(index), (unsigned) PageGetMaxOffsetNumber(page),
			 PageGetFreeSpace(page));
}

static int place_element(SparsePacker &p, uint32 nnz, SparseChunkPlace *places)
{
	int n = sparse_place(p, nnz, places, kSparseMaxChunks);
	uint32 placed = n > 0 ? places[n - 1].first + places[n - 1].count : 0;
	if (placed != nnz)
		elog(ERROR, "hnsw could not place a sparse element of %u non-zeros", nnz);
	return n;
}

bool sparse_insert_item(Relation index, const IndexShape &sh, const float *vec, uint32 *last_block, void *out)
{
	SparseHandle h = sparse_handle(vec);
	if (h.tag != kSparseHandleMemory || h.nnz == 0) {
		SparseHandle none = sparse_disk_handle(0, kInvalidBlock, 0);
		memcpy(out, &none, sizeof(none));
		return false;
	}
	const int32 *pairs = sparse_handle_pairs(h);
	// Page 0 of the packer: a sparse page VACUUM left room on (the free space map knows them)
	// if one fits the element's first chunk whole, else the metapage's last sparse page.
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	Buffer bufs[kSparseMaxChunks + 1];
	BlockNumber blocks[kSparseMaxChunks + 1];
	SparsePacker p = sparse_packer(false, 0, 0, element_item_space());
	size_t first_need = sparse_chunk_size(Min(h.nnz, sparse_chunk_pairs(element_max_item(), h.nnz))) + sizeof(ItemIdData);
	BlockNumber reuse = GetPageWithFreeSpace(index, first_need);
	bool have_last = false, reused = false;
	if (reuse != InvalidBlockNumber && reuse != kMetaBlock && reuse < nblocks) {
		bufs[0] = ReadBuffer(index, reuse);
		LockBuffer(bufs[0], BUFFER_LOCK_EXCLUSIVE);
		Page page = BufferGetPage(bufs[0]);
		if (!PageIsNew(page) && page_opaque(page)->kind == kPageSparse && PageGetFreeSpace(page) >= first_need) {
			verify_page(index, sh, reuse, page, &nblocks, kPageSparse);
			have_last = reused = true;
			blocks[0] = reuse;
		} else {
			// the map was stale: correct it
			Size free = PageIsNew(page) || page_opaque(page)->kind != kPageSparse ? 0 : PageGetFreeSpace(page);
			UnlockReleaseBuffer(bufs[0]);
			RecordPageWithFreeSpace(index, reuse, free);
		}
	}
	if (!have_last && *last_block != 0 && *last_block != kInvalidBlock && *last_block < nblocks) {
		bufs[0] = ReadBuffer(index, *last_block);
		LockBuffer(bufs[0], BUFFER_LOCK_EXCLUSIVE);
		verify_page(index, sh, *last_block, BufferGetPage(bufs[0]), &nblocks, kPageSparse);
		have_last = true;
		blocks[0] = *last_block;
	}
	if (have_last) {
		PageHeader ph = (PageHeader) BufferGetPage(bufs[0]);
		p = sparse_packer(true, PageGetMaxOffsetNumber((Page) ph), ph->pd_upper - ph->pd_lower, element_item_space());
	}
	SparseChunkPlace places[kSparseMaxChunks];
	int n = place_element(p, h.nnz, places);
	uint32 first_new = have_last ? 1 : 0;
	if (have_last && places[0].page != 0) {
		UnlockReleaseBuffer(bufs[0]);
		bufs[0] = InvalidBuffer;
	}
	for (uint32 pg = first_new; pg < p.pages; pg++) {
		bufs[pg] = extend_sparse(index);
		blocks[pg] = BufferGetBlockNumber(bufs[pg]);
	}
	// One WAL record a page: new pages as full images.
	char *item = (char *) palloc(sparse_chunk_size(Min(h.nnz, (uint32) (BLCKSZ / 8))));
	for (uint32 pg = places[0].page; pg < p.pages; pg++) {
		GenericXLogState *state = GenericXLogStart(index);
		bool fresh = pg >= first_new;
		Page page = GenericXLogRegisterBuffer(state, bufs[pg], fresh ? GENERIC_XLOG_FULL_IMAGE : 0);
		if (fresh)
			init_page(page, kPageSparse);
		for (int i = 0; i < n; i++)
			if (places[i].page == pg)
				put_chunk(index, page, pairs, h.nnz, places, n, i, blocks, item);
		Size free = PageGetFreeSpace(page);
		GenericXLogFinish(state);
		UnlockReleaseBuffer(bufs[pg]);
		if (pg == 0 && reused)
			RecordPageWithFreeSpace(index, blocks[0], free);
	}
	pfree(item);
	SparseHandle disk = sparse_disk_handle(h.nnz, blocks[places[0].page], places[0].offset);
	memcpy(out, &disk, sizeof(disk));
	BlockNumber last = blocks[p.pages - 1];
	if (last == *last_block || (reused && p.pages == 1))
		return false;
	*last_block = last;
	return true;
}

SparseHandle *sparse_build_plan(const float *const *elems, size_t n, BlockNumber first)
{
	SparseHandle *out = (SparseHandle *) palloc_extended(sizeof(SparseHandle) * Max(n, (size_t) 1), MCXT_ALLOC_HUGE);
	SparsePacker p = sparse_packer(false, 0, 0, element_item_space());
	SparseChunkPlace places[kSparseMaxChunks];
	for (size_t k = 0; k < n; k++) {
		SparseHandle h = sparse_handle(elems[k]);
		if (h.tag != kSparseHandleMemory || h.nnz == 0) {
			out[k] = sparse_disk_handle(0, kInvalidBlock, 0);
			continue;
		}
		place_element(p, h.nnz, places);
		out[k] = sparse_disk_handle(h.nnz, first + places[0].page, places[0].offset);
	}
	return out;
}

BlockNumber sparse_build_write(Relation index, const float *const *elems, size_t n, BlockNumber first)
{
	SparsePacker p = sparse_packer(false, 0, 0, element_item_space());
	SparseChunkPlace places[kSparseMaxChunks];
	BlockNumber blocks[kSparseMaxChunks];
	char *item = (char *) palloc(element_item_space());
	Buffer buf = InvalidBuffer;
	uint32 buf_page = 0;
	for (size_t k = 0; k < n; k++) {
		SparseHandle h = sparse_handle(elems[k]);
		if (h.tag != kSparseHandleMemory || h.nnz == 0)
			continue;
		CHECK_FOR_INTERRUPTS();
		int nc = place_element(p, h.nnz, places);
		for (int i = 0; i < nc; i++)
			blocks[i] = first + places[i].page;
		// put_chunk takes blocks by packer page: map through a small table
		BlockNumber by_page[kSparseMaxChunks + 1];
		uint32 base = places[0].page;
		for (int i = 0; i < nc; i++)
			by_page[places[i].page - base] = blocks[i];
		SparseChunkPlace rel[kSparseMaxChunks];
		for (int i = 0; i < nc; i++) {
			rel[i] = places[i];
			rel[i].page -= base;
		}
		for (int i = 0; i < nc; i++) {
			if (!BufferIsValid(buf) || buf_page != places[i].page) {
				if (BufferIsValid(buf)) {
					MarkBufferDirty(buf);
					UnlockReleaseBuffer(buf);
				}
				buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
				LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
				init_page(BufferGetPage(buf), kPageSparse);
				buf_page = places[i].page;
				if (BufferGetBlockNumber(buf) != first + buf_page)
					elog(ERROR, "hnsw build placed a sparse page at an unexpected block");
			}
			put_chunk(index, BufferGetPage(buf), (const int32 *) sparse_handle_pairs(h), h.nnz, rel, nc, i, by_page,
					  item);
		}
	}
	if (BufferIsValid(buf)) {
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
	pfree(item);
	return p.pages > 0 ? first + p.pages - 1 : 0;
}

// --- VACUUM and index_check -----------------------------------------------------------------

void sparse_free_item(Relation index, BufferAccessStrategy strategy, const void *words)
{
	SparseHandle h = sparse_handle(words);
	if (h.tag != kSparseHandleDisk || h.nnz == 0)
		return;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	BlockNumber block = h.lo;
	OffsetNumber off = (OffsetNumber) h.hi;
	for (uint32 first = 0; first < h.nnz;) {
		if (block == kMetaBlock || block >= nblocks)
			return;	 // a bad handle: index_check reports it; nothing to free
		Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, block, RBM_NORMAL, strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		GenericXLogState *state = GenericXLogStart(index);
		Page page = GenericXLogRegisterBuffer(state, buf, 0);
		const unsigned char *raw = (const unsigned char *) page;
		const unsigned char *c = NULL;
		pg_page::LinePointer lp{0, 0, 0};
		if (!pg_page::is_new(raw) && pg_page::kind(raw) == kPageSparse && off >= 1 && off <= pg_page::item_count(raw)) {
			lp = pg_page::line_pointer(raw, off);
			c = pg_page::item_at(raw, off, lp.len);
		}
		if (c == NULL || sparse_chunk_header_fault(c, lp.len, first, h.nnz) != NULL) {
			GenericXLogAbort(state);
			UnlockReleaseBuffer(buf);
			return;
		}
		SparseChunkHeader hd;
		memcpy(&hd, c, sizeof(hd));
		PageIndexTupleDeleteNoCompact(page, off);
		Size free = PageGetFreeSpace(page);
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		RecordPageWithFreeSpace(index, block, free);  // inserts reuse the room (sparse_insert_item)
		first += hd.count;
		block = hd.next_block;
		off = hd.next_offset;
	}
}

void sparse_vacuum_done(Relation index) { FreeSpaceMapVacuum(index); }

bool sparse_check_item(Relation index, const IndexShape &sh, const void *words, char *why, size_t why_len)
{
	SparseHandle h = sparse_handle(words);
	if (h.tag != kSparseHandleDisk) {
		snprintf(why, why_len, "element words are not a sparse disk handle (tag %u)", h.tag);
		return false;
	}
	if (h.nnz > kSparseMaxIndexNnz) {
		snprintf(why, why_len, "sparse element with %u non-zeros, at most %u", h.nnz, kSparseMaxIndexNnz);
		return false;
	}
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	BlockNumber block = h.lo;
	OffsetNumber off = (OffsetNumber) h.hi;
	int32 prev = -1;
	for (uint32 first = 0; first < h.nnz;) {
		if (block == kMetaBlock || block >= nblocks) {
			snprintf(why, why_len, "sparse chunk %u at block %u lies outside the index", first, block);
			return false;
		}
		Buffer buf = ReadBuffer(index, block);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		const unsigned char *raw = (const unsigned char *) BufferGetPage(buf);
		const char *fault = NULL;
		const unsigned char *c = NULL;
		pg_page::LinePointer lp{0, 0, 0};
		if (pg_page::is_new(raw) || pg_page::kind(raw) != kPageSparse)
			fault = "it is not on a sparse data page";
		else if (off < 1 || off > pg_page::item_count(raw) || (c = pg_page::item_at(raw, off, (lp = pg_page::line_pointer(raw, off)).len)) == NULL)
			fault = "its line pointer is not a normal item";
		int32 last = prev;
		if (fault == NULL)
			fault = sparse_chunk_fault(c, lp.len, first, h.nnz, sh.dims, prev, &last);
		SparseChunkHeader hd;
		if (fault == NULL)
			memcpy(&hd, c, sizeof(hd));
		UnlockReleaseBuffer(buf);
		if (fault != NULL) {
			snprintf(why, why_len, "sparse chunk at block %u, item %u: %s", block, (unsigned) off, fault);
			return false;
		}
		prev = last;
		first += hd.count;
		block = hd.next_block;
		off = hd.next_offset;
	}
	return true;
}

}  // namespace hnsw
}  // namespace prism
