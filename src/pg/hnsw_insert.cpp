// aminsert for hnsw: HNSW insertion over index pages.
//
// Writers (inserts, and vacuum's repair pass) are serialized by a heavyweight page lock on
// kWriterLock; scans never take it and read each record under a shared buffer lock, so they
// run concurrently with a writer. Each page change is its own GenericXLog record, in an
// order that keeps the graph valid if a crash lands between them:
//   1. the new element (and its upper link item) is written with its outgoing links,
//   2. each chosen neighbour gets a back-link (one record per neighbour page),
//   3. the metapage (entry point, hints) is updated.
// A crash after 1 leaves an element nobody links to (unreachable, harmless: its transaction
// did not commit); no step ever stores an id whose record is not already on disk.
//
// Exact duplicates of an indexed vector do not enter the graph: their heap TID is added to the
// existing element (or its chain of overflow records), so thousands of copies cost nothing.
#include <cmath>

#include "core/hnsw_graph.h"
#include "pg/hnsw.h"
#include "pg/hnsw_sparse.h"
#include "pg/vector.h"

extern "C" {
#include "storage/lmgr.h"
#include "utils/memutils.h"
}

namespace prism {
namespace hnsw {

struct Inserter {
	Relation index;
	IndexShape sh;
	PgStore store;
	MetaPageData meta;
	bool meta_dirty;
	uint32 *link_buf;
	CandidateArray frontier, result;
	VisitedSet *visited;
	bool visited_shared;
	uint32 new_id;		 // the element being inserted, once written
	int new_in_links;	 // level-0 back-links it got so far (written at the end)
};

static void read_meta(Inserter *ins)
{
	// Inserts follow the metapage's block hints: they must lie inside the index.
	meta_read(ins->index, RelationGetNumberOfBlocks(ins->index), &ins->meta);
}

static void write_meta(Inserter *ins)
{
	meta_update(ins->index, [ins](MetaPageData *m) {
		*m = ins->meta;
		return true;
	});
}

// Pins, exclusively locks and registers the page of element `id`; returns its item pointer
// inside the GenericXLog page copy.
static char *begin_element_change(Inserter *ins, uint32 id, Buffer *buf, GenericXLogState **state)
{
	*buf = ReadBuffer(ins->index, id_block(id, ins->sh.per_page));
	LockBuffer(*buf, BUFFER_LOCK_EXCLUSIVE);
	*state = GenericXLogStart(ins->index);
	Page page = GenericXLogRegisterBuffer(*state, *buf, 0);
	OffsetNumber off = id_slot(id, ins->sh.per_page) + 1;
	const unsigned char *raw = (const unsigned char *) page;
	const unsigned char *item = NULL;
	if (!pg_page::is_new(raw) && pg_page::kind(raw) == kPageElement && off <= pg_page::item_count(raw))
		item = pg_page::item_at(raw, off, ins->sh.span > 1 ? ins->sh.chunk : ins->sh.record_size);
	if (item == NULL) {
		GenericXLogAbort(*state);
		UnlockReleaseBuffer(*buf);
		report_corrupt(ins->index, "element slot missing during insert", id);
	}
	return (char *) item;
}

static void finish_change(GenericXLogState *state, Buffer buf)
{
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

// Appends a fresh page of `kind` (exclusively locked, initialized inside `state`).
static Buffer extend_index(Relation index, GenericXLogState *state, uint16 kind, Page *page)
{
	LockRelationForExtension(index, ExclusiveLock);
	Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	*page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	init_page(*page, kind);
	return buf;
}

// Adds `item` to `page` (registered in `state`, its buffer exclusively locked) as the next line
// pointer, finishes the WAL record and releases the buffer; returns the item's number. Ids and
// upper links are line pointer numbers, so an item Postgres puts anywhere else is an ERROR.
static OffsetNumber append_item(Relation index, GenericXLogState *state, Buffer buf, Page page, const void *item,
								size_t size)
{
	OffsetNumber expect = PageGetMaxOffsetNumber(page) + 1;
	OffsetNumber off = PageAddItem(page, (Item) item, size, InvalidOffsetNumber, false, false);
	if (off != expect) {
		GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		elog(ERROR, "failed to add an item to hnsw index \"%s\"", RelationGetRelationName(index));
	}
	finish_change(state, buf);
	return off;
}

// Adds `item` to the exclusively locked page of `buf` (see append_item).
static OffsetNumber append_item(Relation index, Buffer buf, const void *item, size_t size)
{
	GenericXLogState *state = GenericXLogStart(index);
	Page page = GenericXLogRegisterBuffer(state, buf, 0);
	return append_item(index, state, buf, page, item, size);
}

// Writes a complete element record into a free or new slot; returns its id.
static uint32 place_record(Inserter *ins, const char *rec)
{
	const IndexShape &sh = ins->sh;
	Relation index = ins->index;
	if (sh.span == 1) {
		// 1. a slot freed by vacuum
		BlockNumber nblocks = RelationGetNumberOfBlocks(index);
		for (BlockNumber b = ins->meta.free_hint_block; b != kInvalidBlock && b < nblocks; b++) {
			Buffer buf = ReadBuffer(index, b);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			Page page = BufferGetPage(buf);
			verify_page(index, sh, b, page, &nblocks, 0);  // its records are read and rewritten below
			if (!PageIsNew(page) && page_opaque(page)->kind == kPageElement) {
				OffsetNumber max = PageGetMaxOffsetNumber(page);
				for (OffsetNumber off = 1; off <= max && off <= sh.per_page; off++) {
					if (RecordView(PageGetItem(page, PageGetItemId(page, off))).flags() != kElementFree)
						continue;
					GenericXLogState *state = GenericXLogStart(index);
					Page wpage = GenericXLogRegisterBuffer(state, buf, 0);
					memcpy(PageGetItem(wpage, PageGetItemId(wpage, off)), rec, sh.record_size);
					finish_change(state, buf);
					ins->meta.free_hint_block = b;
					ins->meta_dirty = true;
					return make_id(b, off - 1, sh.per_page);
				}
			}
			UnlockReleaseBuffer(buf);
		}
		if (ins->meta.free_hint_block != kInvalidBlock) {
			ins->meta.free_hint_block = kInvalidBlock;
			ins->meta_dirty = true;
		}
		// 2. room on the last element page
		BlockNumber last = ins->meta.last_element_block;
		if (last != kInvalidBlock) {
			Buffer buf = ReadBuffer(index, last);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			Page page = BufferGetPage(buf);
			BlockNumber nblocks = RelationGetNumberOfBlocks(index);
			verify_page(index, sh, last, page, &nblocks, kPageElement);
			OffsetNumber max = PageGetMaxOffsetNumber(page);
			if (max < sh.per_page && PageGetFreeSpace(page) >= MAXALIGN(sh.record_size)) {
				OffsetNumber off = append_item(index, buf, rec, sh.record_size);
				return make_id(last, off - 1, sh.per_page);
			}
			UnlockReleaseBuffer(buf);
		}
		// 3. a new page
		GenericXLogState *state = GenericXLogStart(index);
		Page page;
		Buffer buf = extend_index(index, state, kPageElement, &page);
		BlockNumber b = BufferGetBlockNumber(buf);
		append_item(index, state, buf, page, rec, sh.record_size);
		ins->meta.last_element_block = b;
		ins->meta_dirty = true;
		return make_id(b, 0, sh.per_page);
	}
	// Records spanning pages: always appended (continuation pages first, so the first page,
	// which makes the id reachable, is complete when it appears). Blocks are contiguous
	// because writers are serialized.
	BlockNumber first = RelationGetNumberOfBlocks(index);
	for (uint32 p = 0; p < sh.span; p++) {
		GenericXLogState *state = GenericXLogStart(index);
		Page page;
		Buffer buf = extend_index(index, state, p == 0 ? kPageElement : kPageContinuation, &page);
		if (BufferGetBlockNumber(buf) != first + p) {
			GenericXLogAbort(state);
			UnlockReleaseBuffer(buf);
			elog(ERROR, "hnsw index \"%s\" was extended concurrently", RelationGetRelationName(index));
		}
		ChunkRange part = record_chunk(sh.record_size, sh.chunk, p);
		append_item(index, state, buf, page, rec + part.offset, part.length);
	}
	ins->meta.last_element_block = first;
	ins->meta_dirty = true;
	return first;
}

// Puts an upper links item after the element slots of a full element page near the end of the
// index (the last one, or the one before it: the last is usually still filling), as the bulk
// build does, so inserts need no upper pages while those pages have room.
static bool place_upper_on_element_page(Inserter *ins, const char *item, size_t size, BlockNumber *block,
										OffsetNumber *off)
{
	Relation index = ins->index;
	const IndexShape &sh = ins->sh;
	BlockNumber last = ins->meta.last_element_block;
	if (sh.span != 1 || last == kInvalidBlock)
		return false;
	for (BlockNumber host = last; host >= 1 && host + 1 >= last; host--) {
		Buffer buf = ReadBuffer(index, host);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		Page page = BufferGetPage(buf);
		BlockNumber nblocks = RelationGetNumberOfBlocks(index);
		verify_page(index, sh, host, page, &nblocks, 0);
		if (!PageIsNew(page) && page_opaque(page)->kind == kPageElement &&
			PageGetMaxOffsetNumber(page) >= sh.per_page && PageGetFreeSpace(page) >= MAXALIGN(size)) {
			*off = append_item(index, buf, item, size);
			*block = host;
			return true;
		}
		UnlockReleaseBuffer(buf);
	}
	return false;
}

// Writes the upper link item of a new element; returns its location.
static void place_upper(Inserter *ins, const char *item, size_t size, BlockNumber *block, OffsetNumber *off)
{
	Relation index = ins->index;
	if (place_upper_on_element_page(ins, item, size, block, off))
		return;
	BlockNumber last = ins->meta.last_upper_block;
	if (last != kInvalidBlock) {
		Buffer buf = ReadBuffer(index, last);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		BlockNumber nblocks = RelationGetNumberOfBlocks(index);
		verify_page(index, ins->sh, last, BufferGetPage(buf), &nblocks, kPageUpper);
		if (PageGetFreeSpace(BufferGetPage(buf)) >= MAXALIGN(size)) {
			*off = append_item(index, buf, item, size);
			*block = last;
			return;
		}
		UnlockReleaseBuffer(buf);
	}
	GenericXLogState *state = GenericXLogStart(index);
	Page page;
	Buffer buf = extend_index(index, state, kPageUpper, &page);
	*block = BufferGetBlockNumber(buf);
	*off = append_item(index, state, buf, page, item, size);
	ins->meta.last_upper_block = *block;
	ins->meta_dirty = true;
}

// Backend-lifetime work space of the graph operations (an insert needs room for up to
// ef_construction candidate vectors, ~400 KB at 784-d): fresh palloc'd chunks that size are
// malloc'd and freed per insert, and the page faults on touching them again measured ~9% of an
// insert's CPU.
static GraphScratch *graph_scratch(size_t cap, size_t dims)
{
	static GraphScratch scratch;
	static void *mem;
	static size_t mem_size;
	size_t need = graph_scratch_bytes(cap, dims);
	if (mem_size < need) {
		void *grown = MemoryContextAllocHuge(TopMemoryContext, need);
		if (mem)
			pfree(mem);
		mem = grown;
		mem_size = need;
	}
	graph_scratch_init(scratch, mem, cap, dims);
	return &scratch;
}

// The graph store of the core graph operations during an insert (src/core/hnsw_graph.h).
// Reads go through the inserter's PgStore (no content locks: the writer lock is held); list
// changes are WAL-logged by write_links, which at level 0 also counts the new element's link
// to the list's owner (every list an insert changes belongs to one of its chosen neighbours).
struct InsertGraph : PgGraphReads {
	Inserter *ins;

	// see tops_up_lists() in core/hnsw_graph.h
	bool top_up_lists() const { return ins->sh.metric == Metric::InnerProduct; }

	bool load(uint32 id, int level, float *vec, uint16 *in_links)
	{
		return ins->store.vector_flags(id, vec, in_links) == kElementLive;
	}
	uint16 in_links(uint32 id)
	{
		return id == ins->new_id ? (uint16) Min(ins->new_in_links, (int) kInLinksMany) : stored_in_links(id);
	}
	void set_links(uint32 id, int level, const uint32 *old, int n_old, const uint32 *links, int n)
	{
		// every list an insert changes is a chosen neighbour's: the new element links to it
		write_links(ins->index, NULL, ins->sh, id, level, old, n_old, links, n, 1, ins->new_id);
	}
};

// Chooses up to `m` neighbours for the new element among the n candidates `cands` (distances
// to it known), skipping elements that are not live; returns how many, ids in `out`.
static int choose_new_neighbors(Inserter *ins, const Candidate *cands, int n, int m, uint32 *out)
{
	size_t dims = ins->sh.words;
	GraphScratch *sc = graph_scratch(Max(n, 2 * m) + 1, dims);
	int live = 0;
	for (int i = 0; i < n; i++) {
		if (ins->store.vector_flags(cands[i].id, sc->vecs + live * dims) != kElementLive)
			continue;
		sc->cands[live] = cands[i];
		sc->keep[live] = false;
		live++;
	}
	InsertGraph g{{&ins->store}, ins};
	return choose_neighbors(g, *sc, live, m, out);
}

// Adds heap_tid to the duplicate element `id`: into the element itself or the newest overflow
// record (always first in the chain) if either has room, else into a new overflow record
// linked in at the head of the chain, so the cost does not grow with the number of copies.
// Returns false if the element is not live (then the caller inserts a new element).
static bool add_duplicate_tid(Inserter *ins, uint32 id, ItemPointer heap_tid)
{
	Buffer buf;
	GenericXLogState *state;
	RecordWriter element(begin_element_change(ins, id, &buf, &state));
	if (element.view().flags() != kElementLive) {
		GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		return false;
	}
	if (element.add_tid(heap_tid_of(heap_tid))) {
		finish_change(state, buf);
		return true;
	}
	uint32 first = element.view().dup_next();
	GenericXLogAbort(state);
	UnlockReleaseBuffer(buf);
	if (first != kInvalidId) {
		RecordWriter overflow(begin_element_change(ins, first, &buf, &state));
		if (overflow.view().flags() == kElementDuplicate && overflow.add_tid(heap_tid_of(heap_tid))) {
			finish_change(state, buf);
			return true;
		}
		GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
	}
	// Write the new overflow record (pointing at the old head of the chain), then link it.
	char *rec = (char *) palloc(ins->sh.record_size);
	encode_element_record(rec, ins->sh.m, ins->sh.words, kElementDuplicate, 0, heap_tid_of(heap_tid), nullptr, 0,
						  nullptr, first);
	uint32 new_id = place_record(ins, rec);
	RecordWriter(begin_element_change(ins, id, &buf, &state)).set_dup_next(new_id);
	finish_change(state, buf);
	return true;
}

void insert_element(Relation index, const float *vec, ItemPointer heap_tid)
{
	MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw insert", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(ctx);
	LockPage(index, kWriterLock, ExclusiveLock);

	Inserter *ins = (Inserter *) palloc0(sizeof(Inserter));
	ins->index = index;
	read_shape(index, &ins->sh);
	read_meta(ins);
	store_init(&ins->store, index, &ins->sh);
	ins->store.writer = true;
	const IndexShape &sh = ins->sh;
	int m = sh.m;
	ins->new_id = kInvalidId;
	ins->link_buf = (uint32 *) palloc(sizeof(uint32) * (2 * m + 1));

	int level = random_level(m);
	uint32 *chosen[kMaxLevel + 1];
	int n_chosen[kMaxLevel + 1];
	for (int l = 0; l <= kMaxLevel; l++) {
		n_chosen[l] = 0;
		chosen[l] = nullptr;
	}

	uint32 entry = ins->meta.entry_point;
	if (entry != kInvalidId) {
		size_t capacity = (size_t) ins->store.nblocks * sh.per_page;
		ins->visited = acquire_visited(capacity, &ins->visited_shared);
		init_candidates(&ins->frontier, sh.ef_construction * 2);
		init_candidates(&ins->result, sh.ef_construction + 1);
		Candidate *eps = (Candidate *) palloc(sizeof(Candidate) * (sh.ef_construction + 1));
		int n_eps = 0;
		SearchSpace sp{ins->visited, &ins->frontier, &ins->result, nullptr, ins->link_buf, nullptr};
		// The writer lock keeps VACUUM from freeing the entry point the metapage names.
		int top = search_from_entry(ins->store, vec, entry, ins->meta.entry_level, level, sh.ef_construction, sp);
		if (top < 0)
			report_corrupt(index, "the entry point is a free slot", entry);
		for (int l = top; l >= 0; l--) {
			if (l < top)
				search_layer_from(ins->store, vec, eps, n_eps, sh.ef_construction, l, sp);
			sort_ascending(ins->result);
			int n = (int) ins->result.size;
			if (l == 0 && n > 0 && ins->result.items[0].dist <= 0) {
				// Possible exact duplicate: compare the stored vector bit for bit.
				float *other = (float *) palloc(sizeof(float) * sh.words);
				ins->store.vector(ins->result.items[0].id, other);
				if (memcmp(other, vec, sizeof(float) * sh.words) == 0 &&
					add_duplicate_tid(ins, ins->result.items[0].id, heap_tid)) {
					release_visited(ins->visited, ins->visited_shared);
					UnlockPage(index, kWriterLock, ExclusiveLock);
					MemoryContextSwitchTo(old);
					MemoryContextDelete(ctx);
					return;
				}
			}
			memcpy(eps, ins->result.items, sizeof(Candidate) * n);
			n_eps = n;
			// Deleted elements are never chosen as neighbours.
			chosen[l] = (uint32 *) palloc(sizeof(uint32) * m);
			n_chosen[l] = choose_new_neighbors(ins, ins->result.items, n, m, chosen[l]);
		}
		release_visited(ins->visited, ins->visited_shared);
	}

	// 1. the element itself
	// a sparse element's record holds the handle of its side item, written first
	const void *element = vec;
	SparseHandle handle;
	if (sh.element == ElementKind::Sparse) {
		if (sparse_insert_item(index, sh, vec, &ins->meta.last_sparse_block, &handle))
			ins->meta_dirty = true;
		element = &handle;
	}
	char *rec = (char *) palloc(sh.record_size);
	encode_element_record(rec, m, sh.words, kElementLive, level, heap_tid_of(heap_tid), chosen[0], n_chosen[0],
						  element, kInvalidId);
	if (level > 0) {
		size_t usize = upper_item_size(m, level);
		char *up = (char *) palloc(usize);
		encode_upper_item(up, level, m, chosen, n_chosen);
		BlockNumber ub;
		OffsetNumber uo;
		place_upper(ins, up, usize, &ub, &uo);
		RecordWriter(rec).set_upper(ub, uo);
	}
	uint32 id = place_record(ins, rec);
	ins->new_id = id;

	// 2. back-links
	{
		InsertGraph g{{&ins->store}, ins};
		GraphScratch *sc = graph_scratch(2 * m + 1, sh.words);
		for (int l = Min(level, ins->meta.entry_level); l >= 0; l--)
			for (int i = 0; i < n_chosen[l]; i++)
				if (add_backlink(g, *sc, chosen[l][i], id, vec, l, m) && l == 0)
					ins->new_in_links++;
	}

	// 3. the element's level-0 in-link count, then the metapage
	if (ins->new_in_links > 0)
		add_in_links(index, sh, id, ins->new_in_links);
	if (entry == kInvalidId || level > ins->meta.entry_level) {
		ins->meta.entry_point = id;
		ins->meta.entry_level = level;
		ins->meta_dirty = true;
	}
	ins->meta.inserted++;
	write_meta(ins);

	UnlockPage(index, kWriterLock, ExclusiveLock);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
}

}  // namespace hnsw
}  // namespace prism

using namespace prism::hnsw;

bool hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
				IndexUniqueCheck checkUnique, bool indexUnchanged, IndexInfo *indexInfo)
{
	ErrorContextCallback ctx{error_context_stack, corrupt_read_context, index};
	error_context_stack = &ctx;
	prism::prism_guarded([&] {
		if (isnull[0])
			return false;
		IndexShape sh;
		read_shape(index, &sh);
		float *vec = (float *) palloc(sizeof(float) * sh.words);
		if (prepare_vector(sh, values[0], vec))
			insert_element(index, vec, heap_tid);
		pfree(vec);
		return false;
	});
	error_context_stack = ctx.previous;
	return false;
}
