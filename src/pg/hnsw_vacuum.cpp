// ambulkdelete / amvacuumcleanup for hnsw.
//
// bulkdelete: walk every element page; drop heap TIDs the callback reports dead (from the
// element and its duplicate chain); an element left with no TIDs becomes kElementDeleted. A
// deleted element stays in the graph (scans traverse it but never return it) until repair.
// Runs under the writer lock so it never races an insert's link updates.
//
// vacuumcleanup (after a bulkdelete, or when an earlier cleanup did not finish) repairs the
// graph and frees slots under the writer lock; it yields the lock every 64 repairs so waiting
// inserts run (they never link to a deleted element, and ids they add are looked up on disk).
// Scans run throughout: they read one record at a time under a share lock and tolerate every
// intermediate state below.
//   1. read pass: flags, level, TID count and duplicate link of every slot; the duplicate
//      chains of live elements are walked to find empty overflow records;
//   2. metapage: if the entry point is deleted, the highest-level live element replaces it
//      (no live element: the graph becomes empty);
//   3. repair: each link list (every level) of a live element that names a deleted (or
//      otherwise non-live) element is rebuilt from its live links plus the deleted neighbours'
//      live neighbours (2-hop), plus a beam search when that leaves too few; chosen with the
//      insert heuristic and topped up with the nearest pruned candidates; the new neighbours
//      get a back-link by the insert's rule. Then live elements with few level-0 in-links are
//      reconnected as if inserted again, and those a walk from the entry point misses get an
//      in-link (hnsw_vacuum_repair.cpp, over the core graph operations of hnsw_graph.h). One
//      WAL record per list, more when in-link counts of other pages change;
//   4. (hnsw_vacuum_free.cpp; lock held from here on, every page read again) empty overflow
//      records are unlinked from live duplicate chains;
//   5. every element's level-0 in-link count is set to the links live elements hold; then
//      deleted elements and overflow records no live chain references become kElementFree
//      (one WAL record per page); the metapage's free-slot hint moves back to the first block
//      with a free slot, so inserts reuse them.
// Crash safety: every WAL record leaves a valid graph. Lists hold only live ids before any
// slot is freed, and the entry point moves before its slot is freed. A crash part-way leaves
// deleted elements in place (traversable, never returned); the metapage's vacuum_pending flag
// (set by bulkdelete, cleared with the hint update at the end) makes the next VACUUM finish the
// job even if it finds no dead tuples (then Postgres calls cleanup without a bulkdelete).
#include <cmath>

#include "pg/hnsw_vacuum.h"

using namespace prism::hnsw;

// Sets or clears MetaPageData.vacuum_pending (one WAL record, the metapage). bulkdelete sets it
// before it marks the first element deleted; cleanup clears it once every deleted element is
// freed, so a VACUUM that stops in between (crash, cancel, or a later VACUUM that skips index
// vacuuming) is finished by the next VACUUM's cleanup.
static void set_vacuum_pending(Relation index, bool pending)
{
	meta_update(index, [pending](MetaPageData *m) {
		if (m->vacuum_pending == (uint8) pending)
			return false;
		m->vacuum_pending = pending ? 1 : 0;
		return true;
	});
}

static IndexBulkDeleteResult *bulkdelete_impl(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation index = info->index;
	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
	IndexShape sh;
	read_shape(index, &sh);
	LockPage(index, kWriterLock, ExclusiveLock);
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber b = 1; b < nblocks; b++) {
		vacuum_delay_point();
		Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, b, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		Page page = BufferGetPage(buf);
		// Every page once, before its records are read and rewritten (the second pass below
		// reads the same pages, unchanged but for this pass's own writes: we hold the writer lock).
		verify_page(index, sh, b, page, &nblocks, 0);
		if (PageIsNew(page) || page_opaque(page)->kind != kPageElement) {
			UnlockReleaseBuffer(buf);
			continue;
		}
		GenericXLogState *state = GenericXLogStart(index);
		Page wpage = GenericXLogRegisterBuffer(state, buf, 0);
		bool changed = false;
		OffsetNumber max = PageGetMaxOffsetNumber(wpage);
		for (OffsetNumber off = 1; off <= max && off <= sh.per_page; off++) {
			RecordWriter element(PageGetItem(wpage, PageGetItemId(wpage, off)));
			RecordView r = element.view();
			if (r.flags() != kElementLive && r.flags() != kElementDuplicate)
				continue;
			HeapTid kept_tids[kHeapTidsPerElement];
			int kept = 0;
			for (int i = 0; i < r.n_tids(); i++) {
				ItemPointerData tid;
				item_pointer_of(r.tid(i), &tid);
				if (callback(&tid, callback_state)) {
					stats->tuples_removed++;
					changed = true;
				} else {
					kept_tids[kept++] = r.tid(i);
					stats->num_index_tuples++;
				}
			}
			element.set_tids(kept_tids, kept);
			// A live element with no TIDs left is deleted unless its duplicate chain still
			// holds some; chains are checked below once every page is processed.
		}
		if (changed)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
	}
	// Mark graph elements whose whole chain is empty as deleted.
	bool flagged = false;
	PgStore store;
	store_init(&store, index, &sh);
	for (BlockNumber b = 1; b < nblocks; b++) {
		vacuum_delay_point();
		Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, b, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		if (PageIsNew(page) || page_opaque(page)->kind != kPageElement) {
			UnlockReleaseBuffer(buf);
			continue;
		}
		OffsetNumber max = PageGetMaxOffsetNumber(page);
		uint32 *empty = (uint32 *) palloc(sizeof(uint32) * (max + 1));
		int n_empty = 0;
		for (OffsetNumber off = 1; off <= max && off <= sh.per_page; off++) {
			RecordView r(PageGetItem(page, PageGetItemId(page, off)));
			if (r.flags() == kElementLive && r.n_tids() == 0)
				empty[n_empty++] = make_id(b, off - 1, sh.per_page);
		}
		UnlockReleaseBuffer(buf);
		for (int i = 0; i < n_empty; i++) {
			ElementHeader h;
			store_element(&store, empty[i], &h);
			bool any = false;
			uint64 steps = 0;
			for (uint32 next = h.dup_next; next != kInvalidId && !any;) {
				count_chain_step(&store, &steps, empty[i]);
				ElementHeader d;
				if (!store_element(&store, next, &d))
					break;
				any = d.n_tids > 0;
				next = d.dup_next;
			}
			if (any)
				continue;
			if (!flagged) {
				set_vacuum_pending(index, true);
				flagged = true;
			}
			buf = ReadBuffer(index, id_block(empty[i], sh.per_page));
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			GenericXLogState *state = GenericXLogStart(index);
			Page wpage = GenericXLogRegisterBuffer(state, buf, 0);
			RecordWriter(PageGetItem(wpage, PageGetItemId(wpage, id_slot(empty[i], sh.per_page) + 1)))
				.set_flags(kElementDeleted);
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
		}
		pfree(empty);
	}
	UnlockPage(index, kWriterLock, ExclusiveLock);
	return stats;
}

IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
									  IndexBulkDeleteCallback callback, void *callback_state)
{
	return prism::prism_guarded([&] { return bulkdelete_impl(info, stats, callback, callback_state); });
}

namespace prism {
namespace hnsw {

void init_visited(VisitedSet *v, size_t capacity)
{
	v->marks = (uint32 *) palloc_extended(capacity * sizeof(uint32), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	v->capacity = capacity;
	v->epoch = 0;
}

// Step 1: per-id flags, levels, TID counts, chain links; chain states of overflow records.
static void read_pass(Cleanup *c)
{
	c->nblocks = RelationGetNumberOfBlocks(c->index);
	c->store.nblocks = c->nblocks;
	c->capacity = c->nblocks * c->sh.per_page;
	size_t cap = c->capacity;
	if (c->flags) {
		pfree(c->flags);
		pfree(c->level);
		pfree(c->n_tids);
		pfree(c->chain);
		pfree(c->dup_next);
	}
	c->flags = (uint8 *) palloc_extended(cap + 1, MCXT_ALLOC_HUGE);
	memset(c->flags, kNoSlot, cap + 1);
	c->level = (uint8 *) palloc_extended(cap + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	c->n_tids = (uint8 *) palloc_extended(cap + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	c->chain = (uint8 *) palloc_extended(cap + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	c->dup_next = (uint32 *) palloc_extended((cap + 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	c->live = c->deleted = c->tids = 0;
	c->relocked = false;

	const IndexShape &sh = c->sh;
	size_t expect = sh.span > 1 ? sh.chunk : sh.record_size;
	for (BlockNumber b = 1; b < c->nblocks; b++) {
		vacuum_delay_point();
		Buffer buf = ReadBufferExtended(c->index, MAIN_FORKNUM, b, RBM_NORMAL, c->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		// Every page once per pass: repair and freeing trust what this pass read.
		BlockNumber nblocks = c->nblocks;
		verify_page(c->index, sh, b, page, &nblocks, 0);
		if (PageIsNew(page) || page_opaque(page)->kind != kPageElement) {
			UnlockReleaseBuffer(buf);
			continue;
		}
		OffsetNumber max = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = 1; off <= max && off <= sh.per_page; off++) {
			const unsigned char *item = pg_page::item_at((const unsigned char *) page, off, expect);
			if (item == NULL)
				continue;  // not reached: verify_page checked every item
			RecordView r(item);
			uint32 id = make_id(b, off - 1, sh.per_page);
			c->flags[id] = r.flags();
			c->level[id] = r.level();
			c->n_tids[id] = Min(r.n_tids(), kHeapTidsPerElement);
			c->dup_next[id] = r.dup_next();
			if (r.flags() == kElementLive) {
				c->live++;
				c->tids += c->n_tids[id];
			} else if (r.flags() == kElementDeleted) {
				c->deleted++;
			} else if (r.flags() == kElementDuplicate) {
				c->tids += c->n_tids[id];
			}
		}
		UnlockReleaseBuffer(buf);
	}
	// Walk the chains of live elements; a revisit (cycle or shared record) or a record that is
	// not an overflow record ends a walk (index_check reports those).
	for (uint32 id = 0; id < c->capacity; id++) {
		if (c->flags[id] != kElementLive)
			continue;
		for (uint32 cur = c->dup_next[id]; cur < c->capacity;) {
			if (c->flags[cur] != kElementDuplicate || c->chain[cur] != kUnreferenced)
				break;
			c->chain[cur] = c->n_tids[cur] > 0 ? kReferenced : kUnlink;
			cur = c->dup_next[cur];
		}
	}
}

// Lets waiting inserts run between repairs: releases and retakes the writer lock every 64 calls.
// Safe because the deleted set is fixed once bulkdelete is done and inserts never create a
// link to a deleted element; what inserts add (new ids, reused free slots) is looked up on disk
// by usable(), and steps 4-5 re-read every page under the lock.
void yield_writer_lock(Cleanup *c)
{
	if (++c->since_relock < 64)
		return;
	c->since_relock = 0;
	UnlockPage(c->index, kWriterLock, ExclusiveLock);
	vacuum_delay_point();
	LockPage(c->index, kWriterLock, ExclusiveLock);
	c->relocked = true;
}

bool is_freeable(const Cleanup *c, uint32 id)
{
	return c->flags[id] == kElementDeleted || (c->flags[id] == kElementDuplicate && c->chain[id] != kReferenced);
}

// Step 2: a live entry point (one metapage record).
static void update_meta(Cleanup *c)
{
	uint32 ep = c->meta.entry_point;
	bool ep_ok = ep != kInvalidId && ep < c->capacity && c->flags[ep] == kElementLive &&
				 c->level[ep] == c->meta.entry_level;
	bool changed = false;
	if (!ep_ok) {
		uint32 best = kInvalidId;
		int best_level = -1;
		for (uint32 id = 0; id < c->capacity; id++)
			if (c->flags[id] == kElementLive && (int) c->level[id] > best_level) {
				best = id;
				best_level = c->level[id];
			}
		c->meta.entry_point = best;
		c->meta.entry_level = best_level;
		changed = true;
	}
	if (!changed)
		return;
	meta_update(c->index, [c](MetaPageData *m) {
		m->entry_point = c->meta.entry_point;
		m->entry_level = c->meta.entry_level;
		return true;
	});
	c->sh.entry_point = c->meta.entry_point;
	c->sh.entry_level = c->meta.entry_level;
}

// Clears vacuum_pending and points the free-slot hint at the first block with a free slot (one
// WAL record, the metapage). Reads the metapage afresh: inserts may have changed it.
static void finish_meta(Cleanup *c)
{
	BlockNumber first_free = kInvalidBlock;
	if (c->sh.span == 1)
		for (uint32 id = 0; id < c->capacity && first_free == kInvalidBlock; id++)
			if (c->flags[id] == kElementFree)
				first_free = id_block(id, c->sh.per_page);
	meta_update(c->index, [first_free](MetaPageData *m) {
		bool hint =
			first_free != kInvalidBlock && (m->free_hint_block == kInvalidBlock || first_free < m->free_hint_block);
		if (!hint && m->vacuum_pending == 0)
			return false;
		if (hint)
			m->free_hint_block = first_free;
		m->vacuum_pending = 0;
		return true;
	});
}

// Working memory of step 3.
static void prepare_repair(Cleanup *c)
{
	size_t cap = c->capacity;
	int m = c->sh.m;
	init_visited(&c->repair.seen, cap);
	init_visited(&c->visited, cap);
	init_candidates(&c->frontier, c->sh.ef_construction * 2);
	init_candidates(&c->result, c->sh.ef_construction + 1);
	c->links = (uint32 *) palloc(sizeof(uint32) * (2 * m + 1));
	c->links2 = (uint32 *) palloc(sizeof(uint32) * (2 * m + 1));
	c->repair.cap = repair_candidates(m, c->sh.ef_construction);
	c->repair.cands = (Candidate *) palloc(sizeof(Candidate) * c->repair.cap);
	c->repair.links2 = (uint32 *) palloc(sizeof(uint32) * (2 * kMaxM + 1));
	c->idvec = (float *) palloc(sizeof(float) * c->sh.words);
	size_t graph_cap = Max(c->sh.ef_construction, 2 * m) + 1;
	graph_scratch_init(c->graph, palloc_extended(graph_scratch_bytes(graph_cap, c->sh.words), MCXT_ALLOC_HUGE), graph_cap,
					   c->sh.words);
	c->out = (uint32 *) palloc(sizeof(uint32) * 2 * m);
	c->prev = (uint32 *) palloc(sizeof(uint32) * 2 * m);
}

// A Cleanup of the index being vacuumed, with its shape and store (in the current context).
static Cleanup *new_cleanup(IndexVacuumInfo *info)
{
	Cleanup *c = (Cleanup *) palloc0(sizeof(Cleanup));
	c->index = info->index;
	c->strategy = info->strategy;
	read_shape(c->index, &c->sh);
	store_init(&c->store, c->index, &c->sh);
	return c;
}

static void cleanup_impl(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation index = info->index;
	MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw vacuum", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(ctx);
	LockPage(index, kWriterLock, ExclusiveLock);

	Cleanup *c = new_cleanup(info);
	meta_read(index, InvalidBlockNumber, &c->meta);
	read_pass(c);

	bool any_freeable = false;
	for (uint32 id = 0; id < c->capacity && !any_freeable; id++)
		any_freeable = is_freeable(c, id);
	bool ep_deleted = c->meta.entry_point != kInvalidId && !live_id(c, c->meta.entry_point);
	if (any_freeable || ep_deleted) {
		update_meta(c);

		// Step 3 needs the deleted elements intact: they are still traversable until step 5.
		prepare_repair(c);
		for (uint32 id = 0; id < c->capacity; id++) {
			if (c->flags[id] != kElementLive)
				continue;
			repair_element(c, id);
			yield_writer_lock(c);
		}
		reconnect_weak(c);
		connect_unreachable(c, false);
		// Steps 4-5 under one lock hold, from a fresh read of every page.
		read_pass(c);
		unlink_empty(c);
		recount_in_links(c);
		free_slots(c);
	}
	finish_meta(c);

	UnlockPage(index, kWriterLock, ExclusiveLock);
	stats->num_pages = c->nblocks;
	stats->num_index_tuples = (double) c->tids;
	stats->estimated_count = false;
	elog(DEBUG1,
		 "hnsw vacuum of \"%s\": %llu live, %llu deleted, %llu lists repaired (%llu by search), %llu back-links, %llu weakly linked reconnected, "
		 "%llu unreachable (%llu connected), %llu overflow records unlinked, %llu slots freed",
		 RelationGetRelationName(index), (unsigned long long) c->live, (unsigned long long) c->deleted,
		 (unsigned long long) c->lists_repaired, (unsigned long long) c->searches, (unsigned long long) c->backlinks, (unsigned long long) c->reconnected,
		 (unsigned long long) c->unreached, (unsigned long long) c->connected, (unsigned long long) c->unlinked, (unsigned long long) c->freed);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
}

// A VACUUM that removed nothing from the index (e.g. of an insert-only table) still connects
// unreachable elements, which inserts leave behind. The read pass and the walk run without the
// writer lock, so inserts are held up only while repairs are made, if any.
static void connect_impl(IndexVacuumInfo *info)
{
	Relation index = info->index;
	MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw vacuum", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(ctx);
	Cleanup *c = new_cleanup(info);
	read_pass(c);
	c->relocked = true;	 // inserts run meanwhile: ids the read pass did not see are looked up
	prepare_repair(c);
	connect_unreachable(c, true);
	elog(DEBUG1, "hnsw vacuum of \"%s\": %llu live, %llu unreachable (%llu connected)", RelationGetRelationName(index),
		 (unsigned long long) c->live, (unsigned long long) c->unreached, (unsigned long long) c->connected);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
}

}  // namespace hnsw
}  // namespace prism

IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	return prism::prism_guarded([&] {
		if (info->analyze_only)
			return stats;
		// NULL when no bulkdelete ran: only unreachable elements to connect, unless an earlier
		// VACUUM left deleted elements behind.
		if (stats == NULL) {
			if (!meta_vacuum_pending(info->index)) {
				prism::hnsw::connect_impl(info);
				return stats;
			}
			stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
		}
		prism::hnsw::cleanup_impl(info, stats);
		return stats;
	});
}
