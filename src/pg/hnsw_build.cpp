// ambuild for hnsw.
//
// 1. Scan the heap into memory (vectors + heap TIDs; exact duplicates are folded into one row
//    with several TIDs so the graph never sees them).
// 2. Build the graph with hnswlib on prism.build_threads threads. The threads only run core
//    code on memory prepared here; this backend waits on its latch, reports progress and checks
//    for cancel. A memory-context reset callback stops and joins the threads, so an ERROR (or
//    cancel) anywhere leaves no thread running over freed memory.
// 3. Write the pages in order through shared buffers without WAL, then WAL-log them in one
//    bulk pass (log_newpage_range). Elements get their ids in graph order (graph_layout in
//    src/core/hnsw_layout.h: linked elements share pages), not in heap order.
// If the rows stop fitting in maintenance_work_mem, what was collected so far is built and
// written, and the remaining rows go through the page-based insert path (with a NOTICE).
#include <cmath>

#include "pg/hnsw.h"
#include "pg/hnsw_sparse.h"
#include "pg/vector.h"
#include "core/hnsw_builder.h"
#include "core/hnsw_layout.h"

extern "C" {
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
}

namespace prism {
namespace hnsw {

// Build phases shown in pg_stat_progress_create_index.
enum { kPhaseLoad = 2, kPhaseGraph = 3, kPhaseWrite = 4 };

struct BuildState {
	Relation heap;
	Relation index;
	IndexShape shape;
	MemoryContext ctx;
	float *vecs;		   // rows * shape.words: the stored elements
	ItemPointerData *tids;  // first TID of each row
	int32 *extra_head;	   // per row: first extra TID (index into extra arrays) or -1
	ItemPointerData *extra_tid;
	int32 *extra_next;
	size_t rows, cap, extras, extra_cap;
	uint32 *hash_slots;	 // open addressing: row + 1, 0 = empty
	size_t hash_size;
	size_t budget;		 // bytes allowed by maintenance_work_mem
	size_t row_bytes;	 // estimated bytes per row (our copy + hnswlib)
	size_t sparse_bytes;  // non-zeros of the collected sparse rows (their handles point there)
	bool on_disk;		 // graph written; remaining rows are inserted page by page
	double heap_tuples;
	double index_tuples;
	size_t flushed_rows;
	GraphBuilder *builder;
};

static uint32 hash_row(const float *v, size_t words) { return hash_bytes((const unsigned char *) v, sizeof(float) * words); }

// `want` is rounded up to a power of two (slots are found by masking).
static void rehash(BuildState *bs, size_t want)
{
	size_t size = 1024;
	while (size < want)
		size <<= 1;
	bs->hash_slots = (uint32 *) MemoryContextAllocHuge(bs->ctx, size * sizeof(uint32));
	memset(bs->hash_slots, 0, size * sizeof(uint32));
	bs->hash_size = size;
	for (size_t r = 0; r < bs->rows; r++) {
		size_t h = hash_row(bs->vecs + r * bs->shape.words, bs->shape.words) & (size - 1);
		while (bs->hash_slots[h])
			h = (h + 1) & (size - 1);
		bs->hash_slots[h] = (uint32) r + 1;
	}
}

// Returns the row holding exactly this vector, or -1 (and remembers the slot for adding).
static int64 find_duplicate(BuildState *bs, const float *v, size_t *slot)
{
	size_t dims = bs->shape.words;
	size_t h = hash_row(v, dims) & (bs->hash_size - 1);
	while (bs->hash_slots[h]) {
		size_t r = bs->hash_slots[h] - 1;
		if (memcmp(bs->vecs + r * dims, v, sizeof(float) * dims) == 0)
			return (int64) r;
		h = (h + 1) & (bs->hash_size - 1);
	}
	*slot = h;
	return -1;
}

static void grow_rows(BuildState *bs)
{
	size_t cap = bs->cap * 2;
	size_t dims = bs->shape.words;
	bs->vecs = (float *) repalloc_huge(bs->vecs, cap * dims * sizeof(float));
	bs->tids = (ItemPointerData *) repalloc_huge(bs->tids, cap * sizeof(ItemPointerData));
	bs->extra_head = (int32 *) repalloc_huge(bs->extra_head, cap * sizeof(int32));
	bs->cap = cap;
	pfree(bs->hash_slots);
	rehash(bs, cap * 2);
}

static void free_builder(void *arg)
{
	BuildState *bs = (BuildState *) arg;
	builder_free(bs->builder);
	bs->builder = nullptr;
}

// Runs hnswlib over the collected rows; waits interruptibly.
static void build_graph(BuildState *bs)
{
	BuildParams p;
	p.vectors = bs->vecs;
	p.n = bs->rows;
	p.dims = bs->shape.dims;
	p.words = bs->shape.words;
	p.element = bs->shape.element;
	p.m = bs->shape.m;
	p.ef_construction = bs->shape.ef_construction;
	p.metric = bs->shape.metric;
	p.threads = guc_build_threads;
	p.seed = 100;
	char error[256];
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseGraph);
	bs->builder = builder_start(p, error, sizeof(error));
	if (!bs->builder)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not start the hnsw graph build: %s", error)));
	for (;;) {
		bool finished;
		size_t done = builder_progress(bs->builder, &finished);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->flushed_rows + done);
		if (finished)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 20, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		// Not every pending interrupt cancels (e.g. sinval catchup), so the threads keep going
		// unless this ERRORs; then the context reset callback stops and joins them.
		CHECK_FOR_INTERRUPTS();
	}
	if (builder_error(bs->builder)[0])
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
						errmsg("hnsw graph build failed: %s", builder_error(bs->builder))));
	elog(DEBUG1, "hnsw graph of \"%s\": %zu elements, %zu not reached from the entry point, %zu of them connected",
		 RelationGetRelationName(bs->index), builder_count(bs->builder), builder_unreachable_found(bs->builder),
		 builder_unreachable_linked(bs->builder));
}

// Appends a new page of `kind` at the end of the index and returns it exclusively locked.
static Buffer new_page(Relation index, uint16 kind)
{
	Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	init_page(BufferGetPage(buf), kind);
	return buf;
}

static void add_item(Relation index, Page page, const void *item, size_t size, OffsetNumber expect)
{
	OffsetNumber off = PageAddItem(page, (Item) item, size, InvalidOffsetNumber, false, false);
	if (off != expect)
		elog(ERROR, "failed to add item to hnsw index \"%s\"", RelationGetRelationName(index));
}

// Fills a freshly initialized metapage for an empty graph of this shape; returns its data.
static MetaPageData *init_meta(Page page, const IndexShape &sh)
{
	MetaPageData *meta = page_meta(page);
	memset(meta, 0, sizeof(*meta));
	meta->magic = kMagic;
	meta->version = kFormatVersion;
	meta->dims = sh.dims;
	meta->metric = (uint8) sh.metric;
	meta->element = (uint8) sh.element;
	meta->m = sh.m;
	meta->ef_construction = sh.ef_construction;
	meta->per_page = sh.per_page;
	meta->span = sh.span;
	meta->record_size = sh.record_size;
	meta->entry_point = kInvalidId;
	meta->entry_level = -1;
	meta->free_hint_block = kInvalidBlock;
	meta->last_element_block = kInvalidBlock;
	meta->last_upper_block = kInvalidBlock;
	((PageHeader) page)->pd_lower = (char *) meta + sizeof(MetaPageData) - (char *) page;
	return meta;
}

// Writes the in-memory graph: element pages, then upper pages, then the metapage fields.
static void write_graph(BuildState *bs)
{
	Relation index = bs->index;
	const IndexShape &sh = bs->shape;
	size_t n = builder_count(bs->builder);
	uint32 per_page = sh.per_page, span = sh.span;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseWrite);

	// Duplicate-overflow records follow the graph elements; each row's are consecutive.
	size_t *ovf_start = (size_t *) palloc_extended(sizeof(size_t) * (n ? n : 1), MCXT_ALLOC_HUGE);
	size_t dup_records = 0;
	for (size_t k = 0; k < n; k++) {
		size_t extra = 0;
		for (int32 e = bs->extra_head[builder_input_index(bs->builder, k)]; e >= 0; e = bs->extra_next[e])
			extra++;
		ovf_start[k] = n + dup_records;
		if (extra + 1 > (size_t) kHeapTidsPerElement)
			dup_records += (extra + 1 - kHeapTidsPerElement + kHeapTidsPerElement - 1) / kHeapTidsPerElement;
	}
	size_t records = n + dup_records;
	// Graph element order[p] is written at position p (graph_layout: neighbours share pages; one
	// record a page needs no layout), pos_of[k] is element k's position; the overflow records
	// keep their positions (>= n).
	uint32 *order = (uint32 *) palloc_extended(sizeof(uint32) * (n ? n : 1), MCXT_ALLOC_HUGE);
	uint32 *pos_of = (uint32 *) palloc_extended(sizeof(uint32) * (n ? n : 1), MCXT_ALLOC_HUGE);
	if (span == 1 && per_page > 1 && n > 0) {
		uint32 *work = (uint32 *) palloc_extended(sizeof(uint32) * layout_work_words(n, per_page), MCXT_ALLOC_HUGE);
		GraphBuilder *b = bs->builder;
		graph_layout(
			n, builder_entry_point(b), per_page,
			[b](uint32 id, const uint32 **links) { return builder_links(b, id, 0, links); },
			[] { CHECK_FOR_INTERRUPTS(); }, order, work);
		pfree(work);
	} else {
		for (size_t p = 0; p < n; p++)
			order[p] = (uint32) p;
	}
	for (size_t p = 0; p < n; p++)
		pos_of[order[p]] = (uint32) p;
	// ids: the record at position p (a graph element's, or an overflow record) sits at block
	// 1 + p / per_page; record_id takes a graph internal id (< n) or an overflow position.
	auto record_id = [&](size_t k) -> uint32 {
		size_t p = k < n ? pos_of[k] : k;
		return span > 1 ? (uint32) (1 + p * span) : (uint32) (per_page + p);
	};
	BlockNumber element_blocks = span > 1 ? records * span : (records + per_page - 1) / per_page;
	BlockNumber first_upper = 1 + element_blocks;

	// Place upper items (levels >= 1): on their element's own page when it ends up full and
	// has room after its per_page records (no upper page to visit, fewer pages), else into
	// upper pages after the element pages.
	uint32 *upper_block = (uint32 *) palloc_extended(sizeof(uint32) * (n ? n : 1), MCXT_ALLOC_HUGE);
	uint16 *upper_off = (uint16 *) palloc_extended(sizeof(uint16) * (n ? n : 1), MCXT_ALLOC_HUGE);
	size_t full_pages = span == 1 ? records / per_page : 0;
	size_t page_room = span == 1 ? element_item_space() - per_page * (MAXALIGN(sh.record_size) + sizeof(ItemIdData)) : 0;
	uint16 *page_room_used = (uint16 *) palloc_extended(sizeof(uint16) * (full_pages ? full_pages : 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	uint16 *page_uppers = (uint16 *) palloc_extended(sizeof(uint16) * (full_pages ? full_pages : 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	BlockNumber ub = first_upper;
	size_t used = 0;
	OffsetNumber uo = 0;
	bool any_upper = false;
	for (size_t p = 0; p < n; p++) {  // in position order: offsets grow along a page
		size_t j = order[p];
		int level = builder_level(bs->builder, j);
		if (level > kMaxLevel)
			elog(ERROR, "hnsw element level %d exceeds the limit %d", level, kMaxLevel);
		if (level == 0) {
			upper_block[j] = kInvalidBlock;
			upper_off[j] = 0;
			continue;
		}
		size_t need = MAXALIGN(upper_item_size(sh.m, level)) + sizeof(ItemIdData);
		size_t home = p / per_page;	 // record j's page, less one (span == 1)
		if (home < full_pages && page_room_used[home] + need <= page_room) {
			page_room_used[home] += need;
			upper_block[j] = (uint32) (1 + home);
			upper_off[j] = (uint16) (per_page + 1 + page_uppers[home]++);
			continue;
		}
		if (!any_upper || used + need > element_item_space()) {
			if (any_upper)
				ub++;
			used = 0;
			uo = 0;
			any_upper = true;
		}
		used += need;
		upper_block[j] = ub;
		upper_off[j] = ++uo;
	}
	BlockNumber last_upper = any_upper ? ub : kInvalidBlock;

	// Sparse elements: their side items go on sparse pages after the upper pages; the records
	// hold the handles planned here.
	bool sparse = sh.element == ElementKind::Sparse;
	BlockNumber first_sparse = any_upper ? ub + 1 : first_upper;
	const float **sparse_elems = NULL;
	SparseHandle *sparse_handles = NULL;
	if (sparse) {
		sparse_elems = (const float **) palloc_extended(sizeof(float *) * (n ? n : 1), MCXT_ALLOC_HUGE);
		// packed in write order, so side items follow their records' graph-order pages
		for (size_t p = 0; p < n; p++)
			sparse_elems[p] = bs->vecs + builder_input_index(bs->builder, order[p]) * sh.words;
		sparse_handles = sparse_build_plan(sparse_elems, n, first_sparse);
	}

	// Metapage.
	Buffer mbuf = new_page(index, kPageMeta);
	if (BufferGetBlockNumber(mbuf) != kMetaBlock)
		elog(ERROR, "hnsw metapage is not block 0");
	MetaPageData *meta = init_meta(BufferGetPage(mbuf), sh);
	meta->entry_point = n > 0 ? record_id(builder_entry_point(bs->builder)) : kInvalidId;
	meta->entry_level = n > 0 ? builder_max_level(bs->builder) : -1;
	meta->last_element_block = element_blocks > 0 ? (span > 1 ? 1 + (records - 1) * span : element_blocks) : kInvalidBlock;
	meta->last_upper_block = last_upper;
	meta->inserted = records;
	MarkBufferDirty(mbuf);
	UnlockReleaseBuffer(mbuf);

	// The upper item of graph element j into `item`; returns its size.
	char *uitem = (char *) palloc0(upper_item_size(sh.m, kMaxLevel));
	auto fill_upper_item = [&](size_t j) -> size_t {
		int level = builder_level(bs->builder, j);
		size_t size = upper_item_size(sh.m, level);
		memset(uitem, 0, size);
		uint32 ids[kMaxM];
		for (int l = 1; l <= level; l++) {
			const uint32 *src;
			int nl = builder_links(bs->builder, j, l, &src);
			for (int i = 0; i < nl; i++)
				ids[i] = record_id(src[i]);
			upper_item_set(uitem, level, sh.m, l, ids, nl);
		}
		return size;
	};

	// Level-0 in-link counts of the graph elements.
	uint16 *in_links = (uint16 *) palloc_extended(sizeof(uint16) * (n ? n : 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (size_t k = 0; k < n; k++) {
		const uint32 *links;
		int nl = builder_links(bs->builder, k, 0, &links);
		for (int i = 0; i < nl; i++)
			if (links[i] < n && links[i] != k)
				in_links[links[i]] = in_links_step(in_links[links[i]], +1);
	}

	// Element pages.
	char *rec = (char *) palloc0(sh.record_size);
	RecordWriter record(rec);
	uint32 links0[2 * kMaxM];
	Buffer buf = InvalidBuffer;
	int32 *pending_extra = (int32 *) palloc(sizeof(int32) * (records ? records : 1));
	for (size_t k = 0; k < records; k++)
		pending_extra[k] = -1;
	for (size_t pos = 0; pos < records; pos++) {
		CHECK_FOR_INTERRUPTS();
		int32 extra;
		size_t k = pos < n ? order[pos] : pos;	// graph internal id, or overflow position
		if (pos < n) {
			size_t row = builder_input_index(bs->builder, k);
			const uint32 *links;
			int nl = builder_links(bs->builder, k, 0, &links);
			for (int i = 0; i < nl; i++)
				links0[i] = record_id(links[i]);
			const void *element = sparse ? (const void *) &sparse_handles[pos] : (const void *) (bs->vecs + row * sh.words);
			encode_element_record(rec, sh.m, sh.words, kElementLive, builder_level(bs->builder, k),
								  heap_tid_of(&bs->tids[row]), links0, nl, element, kInvalidId);
			record.set_upper(upper_block[k], upper_off[k]);
			record.set_in_links0(in_links[k]);
			extra = bs->extra_head[row];
			while (extra >= 0 && record.add_tid(heap_tid_of(&bs->extra_tid[extra])))
				extra = bs->extra_next[extra];
			if (extra >= 0) {
				record.set_dup_next(record_id(ovf_start[k]));
				pending_extra[ovf_start[k]] = extra;
			}
		} else {
			// overflow TIDs only; no vector, no links
			encode_element_record(rec, sh.m, sh.words, kElementDuplicate, 0, HeapTid{0, 0, 0}, nullptr, 0, nullptr,
								  kInvalidId);
			record.set_tids(nullptr, 0);
			extra = pending_extra[k];
			while (extra >= 0 && record.add_tid(heap_tid_of(&bs->extra_tid[extra])))
				extra = bs->extra_next[extra];
			if (extra >= 0) {
				record.set_dup_next(record_id(k + 1));
				pending_extra[k + 1] = extra;
			}
		}

		if (span == 1) {
			OffsetNumber slot = pos % per_page;
			if (slot == 0) {
				if (BufferIsValid(buf)) {
					MarkBufferDirty(buf);
					UnlockReleaseBuffer(buf);
				}
				buf = new_page(index, kPageElement);
			}
			add_item(index, BufferGetPage(buf), rec, sh.record_size, slot + 1);
			size_t home = pos / per_page;
			if (slot == per_page - 1 && home < full_pages && page_uppers[home] > 0) {
				// the page is full: its elements' upper items follow, in the order placed above
				for (size_t p = home * per_page; p < Min((home + 1) * per_page, n); p++)
					if (upper_block[order[p]] == 1 + home)
						add_item(index, BufferGetPage(buf), uitem, fill_upper_item(order[p]), upper_off[order[p]]);
			}
		} else {
			for (uint32 p = 0; p < span; p++) {
				Buffer b = new_page(index, p == 0 ? kPageElement : kPageContinuation);
				ChunkRange part = record_chunk(sh.record_size, sh.chunk, p);
				add_item(index, BufferGetPage(b), rec + part.offset, part.length, 1);
				MarkBufferDirty(b);
				UnlockReleaseBuffer(b);
			}
		}
	}
	if (BufferIsValid(buf)) {
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}

	// Upper pages.
	buf = InvalidBuffer;
	for (size_t p = 0; p < n; p++) {  // the placement order above
		size_t j = order[p];
		if (upper_block[j] == kInvalidBlock || upper_block[j] < first_upper)
			continue;  // level 0, or on its element's page
		size_t size = fill_upper_item(j);
		if (!BufferIsValid(buf) || BufferGetBlockNumber(buf) != upper_block[j]) {
			if (BufferIsValid(buf)) {
				MarkBufferDirty(buf);
				UnlockReleaseBuffer(buf);
			}
			buf = new_page(index, kPageUpper);
			if (BufferGetBlockNumber(buf) != upper_block[j])
				elog(ERROR, "hnsw build placed an upper page at an unexpected block");
		}
		add_item(index, BufferGetPage(buf), uitem, size, upper_off[j]);
	}
	if (BufferIsValid(buf)) {
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}

	// Sparse pages, then the metapage's hint of the last one.
	if (sparse) {
		if (RelationGetNumberOfBlocks(index) != first_sparse)
			elog(ERROR, "hnsw build wrote %u pages before the sparse pages, expected %u",
				 RelationGetNumberOfBlocks(index), first_sparse);
		BlockNumber last_sparse = sparse_build_write(index, sparse_elems, n, first_sparse);
		Buffer mb = ReadBuffer(index, kMetaBlock);
		LockBuffer(mb, BUFFER_LOCK_EXCLUSIVE);
		page_meta(BufferGetPage(mb))->last_sparse_block = last_sparse;
		MarkBufferDirty(mb);
		UnlockReleaseBuffer(mb);
	}
	bs->index_tuples += bs->rows;
}

static void write_empty_meta(Relation index, ForkNumber fork, const IndexShape &sh)
{
	Buffer buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	GenericXLogState *state = GenericXLogStart(index);
	Page page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	init_page(page, kPageMeta);
	init_meta(page, sh);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

static void flush_to_pages(BuildState *bs)
{
	build_graph(bs);
	write_graph(bs);
	bs->flushed_rows = bs->rows;
	builder_free(bs->builder);
	bs->builder = nullptr;
	bs->on_disk = true;
	// the remaining tuples are loaded and inserted one by one
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseLoad);
}

static void build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool alive, void *arg)
{
	BuildState *bs = (BuildState *) arg;
	bs->heap_tuples++;
	if (isnull[0])
		return;
	MemoryContext old = MemoryContextSwitchTo(bs->ctx);
	if (bs->on_disk) {
		float *v = (float *) palloc(sizeof(float) * bs->shape.words);
		if (prepare_vector(bs->shape, values[0], v)) {
			insert_element(index, v, tid);
			bs->index_tuples++;
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->index_tuples);
		}
		if (bs->shape.element == ElementKind::Sparse && sparse_handle(v).nnz > 0)
			pfree((void *) sparse_handle_pairs(sparse_handle(v)));
		pfree(v);
		MemoryContextSwitchTo(old);
		return;
	}
	if (bs->rows == bs->cap)
		grow_rows(bs);
	float *dst = bs->vecs + bs->rows * bs->shape.words;
	if (prepare_vector(bs->shape, values[0], dst)) {
		size_t slot;
		int64 dup = find_duplicate(bs, dst, &slot);
		if (dup >= 0) {
			if (bs->extras == bs->extra_cap) {
				bs->extra_cap *= 2;
				bs->extra_tid = (ItemPointerData *) repalloc_huge(bs->extra_tid, bs->extra_cap * sizeof(ItemPointerData));
				bs->extra_next = (int32 *) repalloc_huge(bs->extra_next, bs->extra_cap * sizeof(int32));
			}
			bs->extra_tid[bs->extras] = *tid;
			bs->extra_next[bs->extras] = bs->extra_head[dup];
			bs->extra_head[dup] = (int32) bs->extras;
			bs->extras++;
		} else {
			bs->tids[bs->rows] = *tid;
			bs->extra_head[bs->rows] = -1;
			bs->hash_slots[slot] = (uint32) bs->rows + 1;
			bs->rows++;
			if (bs->shape.element == ElementKind::Sparse)
				bs->sparse_bytes += (size_t) sparse_handle(dst).nnz * 8;
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, bs->rows);
			if (bs->rows * bs->row_bytes + bs->sparse_bytes > bs->budget) {
				ereport(NOTICE, (errmsg("hnsw graph no longer fits into maintenance_work_mem after %zu tuples",
										bs->rows),
								 errdetail("Building will take longer: the remaining tuples are inserted page by page."),
								 errhint("Increase maintenance_work_mem to speed up builds.")));
				flush_to_pages(bs);
			}
		}
	}
	MemoryContextSwitchTo(old);
}

}  // namespace hnsw
}  // namespace prism

using namespace prism::hnsw;

static IndexBuildResult *hnswbuild_impl(Relation heap, Relation index, IndexInfo *indexInfo)
{
	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	BuildState *bs = (BuildState *) palloc0(sizeof(BuildState));
	bs->heap = heap;
	bs->index = index;
	shape_from_index(index, &bs->shape);
	bs->ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build", ALLOCSET_DEFAULT_SIZES);
	MemoryContextCallback *cb = (MemoryContextCallback *) MemoryContextAlloc(bs->ctx, sizeof(MemoryContextCallback));
	cb->func = free_builder;
	cb->arg = bs;
	MemoryContextRegisterResetCallback(bs->ctx, cb);

	MemoryContext old = MemoryContextSwitchTo(bs->ctx);
	size_t dims = bs->shape.words;
	bs->budget = (size_t) maintenance_work_mem * 1024;
	bs->row_bytes = dims * sizeof(float) + sizeof(ItemPointerData) + sizeof(int32) + 2 * sizeof(uint32) +
					builder_memory_estimate(1, builder_stored_words(bs->shape.element, bs->shape.metric, bs->shape.dims),
											bs->shape.m);
	double est = heap->rd_rel->reltuples > 0 ? heap->rd_rel->reltuples : 1024;
	bs->cap = (size_t) Min(Max(est, 1024.0), (double) (bs->budget / bs->row_bytes + 1024));
	bs->vecs = (float *) palloc_extended(bs->cap * dims * sizeof(float), MCXT_ALLOC_HUGE);
	bs->tids = (ItemPointerData *) palloc_extended(bs->cap * sizeof(ItemPointerData), MCXT_ALLOC_HUGE);
	bs->extra_head = (int32 *) palloc_extended(bs->cap * sizeof(int32), MCXT_ALLOC_HUGE);
	bs->extra_cap = 64;
	bs->extra_tid = (ItemPointerData *) palloc(bs->extra_cap * sizeof(ItemPointerData));
	bs->extra_next = (int32 *) palloc(bs->extra_cap * sizeof(int32));
	rehash(bs, bs->cap * 2);
	MemoryContextSwitchTo(old);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseLoad);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) est);
	bs->heap_tuples = table_index_build_scan(heap, index, indexInfo, true, true, build_callback, (void *) bs, NULL);

	if (!bs->on_disk) {
		MemoryContextSwitchTo(bs->ctx);
		if (bs->rows > 0) {
			build_graph(bs);
			write_graph(bs);
		} else {
			write_empty_meta(index, MAIN_FORKNUM, bs->shape);
		}
		MemoryContextSwitchTo(old);
	} else {
		ereport(NOTICE, (errmsg("hnsw index build needed about %zu MB of maintenance_work_mem to run in memory",
								(size_t) (bs->heap_tuples * bs->row_bytes / (1024 * 1024)) + 1)));
	}
	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	IndexBuildResult *result = (IndexBuildResult *) palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs->heap_tuples;
	result->index_tuples = bs->index_tuples;
	MemoryContextDelete(bs->ctx);
	return result;
}

IndexBuildResult *hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	return prism::prism_guarded([&] { return hnswbuild_impl(heap, index, indexInfo); });
}

void hnswbuildempty(Relation index)
{
	prism::prism_guarded([&] {
		IndexShape sh;
		shape_from_index(index, &sh);
		write_empty_meta(index, INIT_FORKNUM, sh);
		return 0;
	});
}
