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
//      get a back-link. Then live elements with few level-0 in-links are reconnected as if
//      inserted again. One WAL record per list;
//   4. (lock held from here on, every page read again) empty overflow records are unlinked
//      from live duplicate chains;
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

#include "core/hnsw_graph.h"
#include "pg/hnsw.h"

extern "C" {
#include "commands/vacuum.h"
#include "storage/lmgr.h"
}

using namespace prism::hnsw;

// Sets or clears MetaPageData.vacuum_pending (one WAL record, the metapage). bulkdelete sets it
// before it marks the first element deleted; cleanup clears it once every deleted element is
// freed, so a VACUUM that stops in between (crash, cancel, or a later VACUUM that skips index
// vacuuming) is finished by the next VACUUM's cleanup.
static void set_vacuum_pending(Relation index, bool pending)
{
	Buffer buf = ReadBuffer(index, kMetaBlock);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	MetaPageData *m = page_meta(BufferGetPage(buf));
	if (m->vacuum_pending == (uint8) pending) {
		UnlockReleaseBuffer(buf);
		return;
	}
	GenericXLogState *state = GenericXLogStart(index);
	Page page = GenericXLogRegisterBuffer(state, buf, 0);
	page_meta(page)->vacuum_pending = pending ? 1 : 0;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

static bool vacuum_pending(Relation index)
{
	Buffer buf = ReadBuffer(index, kMetaBlock);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	Page page = BufferGetPage(buf);
	bool pending = !PageIsNew(page) && page_opaque(page)->kind == kPageMeta && page_meta(page)->vacuum_pending != 0;
	UnlockReleaseBuffer(buf);
	return pending;
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
			ElementHeader *h = (ElementHeader *) PageGetItem(wpage, PageGetItemId(wpage, off));
			if (h->flags != kElementLive && h->flags != kElementDuplicate)
				continue;
			int kept = 0;
			for (int i = 0; i < h->n_tids; i++) {
				ItemPointerData tid;
				tid.ip_blkid.bi_hi = h->tids[i].block_hi;
				tid.ip_blkid.bi_lo = h->tids[i].block_lo;
				tid.ip_posid = h->tids[i].offset;
				if (callback(&tid, callback_state)) {
					stats->tuples_removed++;
					changed = true;
				} else {
					h->tids[kept++] = h->tids[i];
					stats->num_index_tuples++;
				}
			}
			h->n_tids = kept;
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
			ElementHeader *h = (ElementHeader *) PageGetItem(page, PageGetItemId(page, off));
			if (h->flags == kElementLive && h->n_tids == 0)
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
			ElementHeader *wh =
				(ElementHeader *) PageGetItem(wpage, PageGetItemId(wpage, id_slot(empty[i], sh.per_page) + 1));
			wh->flags = kElementDeleted;
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

constexpr uint8 kNoSlot = 0xff;	 // id has no element record (or an unreadable one)

// Chain state of an overflow record, from walking the duplicate chains of live elements.
enum ChainState : uint8 { kUnreferenced = 0, kReferenced = 1, kUnlink = 2 };

struct Cleanup {
	Relation index;
	BufferAccessStrategy strategy;
	IndexShape sh;
	PgStore store;
	MetaPageData meta;
	BlockNumber nblocks;
	uint32 capacity;  // every id known to the read pass is below this
	bool relocked;	   // the writer lock was released since the read pass: inserts may have run
	uint32 since_relock;
	// Per id, from the read pass.
	uint8 *flags;
	uint8 *level;
	uint8 *n_tids;
	uint8 *chain;
	uint32 *dup_next;
	// Work space for repairs.
	VisitedSet visited;	 // beam search
	CandidateArray frontier, result;
	uint32 *links, *links2;
	float *idvec;			// vector of the element that gets back-links
	GraphScratch graph;		// work space of the core graph operations
	RepairScratch repair;	// candidates of one list repair
	uint32 *out;
	uint32 *prev;  // usable links of the list being repaired
	int n_prev;
	uint64 walk_steps;	// elements visited by reachability walks
	bool lock_taken;	// connect_unreachable took the writer lock
	// Statistics.
	uint64 live, deleted, tids, lists_repaired, searches, backlinks, reconnected, unlinked, freed;
	uint64 unreached, connected;
};

static void init_visited(VisitedSet *v, size_t capacity)
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
			const ElementHeader *h = (const ElementHeader *) pg_page::item_at((const unsigned char *) page, off, expect);
			if (h == NULL)
				continue;  // not reached: verify_page checked every item
			uint32 id = make_id(b, off - 1, sh.per_page);
			c->flags[id] = h->flags;
			c->level[id] = h->level;
			c->n_tids[id] = Min(h->n_tids, kHeapTidsPerElement);
			c->dup_next[id] = h->dup_next;
			if (h->flags == kElementLive) {
				c->live++;
				c->tids += c->n_tids[id];
			} else if (h->flags == kElementDeleted) {
				c->deleted++;
			} else if (h->flags == kElementDuplicate) {
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
static void yield_writer_lock(Cleanup *c)
{
	if (++c->since_relock < 64)
		return;
	c->since_relock = 0;
	UnlockPage(c->index, kWriterLock, ExclusiveLock);
	vacuum_delay_point();
	LockPage(c->index, kWriterLock, ExclusiveLock);
	c->relocked = true;
}

static bool is_freeable(const Cleanup *c, uint32 id)
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
	// Only the metapage is registered.
	Buffer buf = ReadBuffer(c->index, kMetaBlock);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	GenericXLogState *state = GenericXLogStart(c->index);
	Page page = GenericXLogRegisterBuffer(state, buf, 0);
	MetaPageData *m = page_meta(page);
	m->entry_point = c->meta.entry_point;
	m->entry_level = c->meta.entry_level;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	c->sh.entry_point = c->meta.entry_point;
	c->sh.entry_level = c->meta.entry_level;
}

// Pins, exclusively locks and registers the (first) page of element `id`; returns its item in
// the GenericXLog copy, or NULL (nothing held) if the slot is not a readable record.
static char *begin_change(Cleanup *c, uint32 id, Buffer *buf, GenericXLogState **state)
{
	const IndexShape &sh = c->sh;
	*buf = ReadBufferExtended(c->index, MAIN_FORKNUM, id_block(id, sh.per_page), RBM_NORMAL, c->strategy);
	LockBuffer(*buf, BUFFER_LOCK_EXCLUSIVE);
	*state = GenericXLogStart(c->index);
	Page page = GenericXLogRegisterBuffer(*state, *buf, 0);
	OffsetNumber off = id_slot(id, sh.per_page) + 1;
	const unsigned char *raw = (const unsigned char *) page;
	const unsigned char *item = NULL;
	if (!pg_page::is_new(raw) && pg_page::kind(raw) == kPageElement && off <= pg_page::item_count(raw))
		item = pg_page::item_at(raw, off, sh.span > 1 ? sh.chunk : sh.record_size);
	if (item == NULL) {
		GenericXLogAbort(*state);
		UnlockReleaseBuffer(*buf);
		return NULL;
	}
	return (char *) item;
}

// Replaces the level-`level` list of element `id` (write_links: WAL-logged, in-link counts
// kept at level 0).
static void write_list(Cleanup *c, uint32 id, int level, const uint32 *links, int n)
{
	write_links(c->index, c->strategy, c->sh, id, level, NULL, 0, links, n);
}

// Copies the header of element `id` from its page; false if there is no valid record there.
static bool read_header(Cleanup *c, uint32 id, ElementHeader *h)
{
	const IndexShape &sh = c->sh;
	BlockNumber b = id_block(id, sh.per_page);
	if (b == kMetaBlock || b >= RelationGetNumberOfBlocks(c->index))
		return false;
	Buffer buf = ReadBufferExtended(c->index, MAIN_FORKNUM, b, RBM_NORMAL, c->strategy);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	Page page = BufferGetPage(buf);
	OffsetNumber off = id_slot(id, sh.per_page) + 1;
	const unsigned char *raw = (const unsigned char *) page;
	const unsigned char *item = NULL;
	if (!pg_page::is_new(raw) && pg_page::kind(raw) == kPageElement && off <= pg_page::item_count(raw))
		item = pg_page::item_at(raw, off, sh.span > 1 ? sh.chunk : sh.record_size);
	bool ok = item != NULL && element_header_fault(*(const ElementHeader *) item, sh.m) == NULL;
	if (ok)
		memcpy(h, item, sizeof(ElementHeader));
	UnlockReleaseBuffer(buf);
	return ok;
}

// A valid neighbour at `level`: live and present on that level. Once inserts may have run
// (the lock was yielded), ids the read pass did not see live are looked up on disk.
static bool usable(Cleanup *c, uint32 id, int level)
{
	if (id < c->capacity && c->flags[id] != kElementFree && c->flags[id] != kNoSlot)
		return c->flags[id] == kElementLive && c->level[id] >= level;
	if (!c->relocked)
		return false;
	ElementHeader h;
	if (!read_header(c, id, &h))
		return false;
	if (id < c->capacity) {
		c->flags[id] = h.flags;
		c->level[id] = h.level;
	}
	return h.flags == kElementLive && h.level >= level;
}
static bool live_id(Cleanup *c, uint32 id) { return usable(c, id, 0); }

// The graph store of the core graph operations during vacuum (src/core/hnsw_graph.h): a usable
// element is live and on the level as the read pass saw it (or, once inserts may have run, as
// its record says); list changes are WAL-logged by write_list.
struct CleanupGraph : PgGraphReads {
	Cleanup *c;

	bool usable(uint32 id, int level) { return prism::hnsw::usable(c, id, level); }
	bool deleted(uint32 id, int level) const
	{
		return id < c->capacity && c->flags[id] == kElementDeleted && c->level[id] >= level;
	}
	float distance(uint32 id, const float *q, uint8_t *flags) { return c->store.distance(id, q, flags); }
	int search_level(const float *vec, int level, Candidate *out, int max)
	{
		const IndexShape &sh = c->sh;
		if (sh.entry_point == kInvalidId)
			return 0;
		c->searches++;
		uint8_t f;
		Candidate ep{c->store.distance(sh.entry_point, vec, &f), sh.entry_point};
		greedy_descend(c->store, vec, ep, sh.entry_level, level, c->links2);
		visited_reset(c->visited);
		visited_insert(c->visited, ep.id);
		search_layer(c->store, vec, &ep, 1, sh.ef_construction, level, c->visited, c->frontier, c->result, nullptr,
					 c->links2, nullptr);
		sort_ascending(c->result);
		int n = (int) Min(c->result.size, (size_t) max);
		memcpy(out, c->result.items, sizeof(Candidate) * n);
		return n;
	}
	bool load(uint32 id, int level, float *vec, uint16 *in_links)
	{
		return prism::hnsw::usable(c, id, level) && c->store.vector_flags(id, vec, in_links) == kElementLive;
	}
	uint16 in_links(uint32 id) { return stored_in_links(id); }
	void set_links(uint32 id, int level, const uint32 *old, int n_old, const uint32 *links, int n)
	{
		if (links != NULL)
			write_list(c, id, level, links, n);
	}
};

// Step 3 for one list (repair_list): rewrites it if it names a non-live element; returns the
// new length (list in c->out), or -1 if the list was fine. The usable old links are left in
// c->prev[0..c->n_prev).
static int repair_list(Cleanup *c, uint32 id, int level)
{
	CleanupGraph g{{&c->store}, c};
	int k = repair_list(g, c->graph, c->repair, id, level, c->sh.m, c->sh.ef_construction, c->prev, &c->n_prev, c->out);
	if (k >= 0)
		c->lists_repaired++;
	return k;
}

// Adds `id` (vector id_vec) to the level-`level` list of its new neighbour `nb`, repaired
// first if needed, by the one back-link rule of build, insert and vacuum.
static void add_backlink(Cleanup *c, uint32 nb, uint32 id, const float *id_vec, int level)
{
	repair_list(c, nb, level);
	CleanupGraph g{{&c->store}, c};
	if (add_backlink(g, c->graph, nb, id, id_vec, level, c->sh.m))
		c->backlinks++;
}

// Level-0 in-links of every slot from the live elements the read pass saw.
static uint16 *count_in_links(Cleanup *c)
{
	uint16 *indeg = (uint16 *) palloc_extended(sizeof(uint16) * c->capacity, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (uint32 id = 0; id < c->capacity; id++) {
		if (c->flags[id] != kElementLive)
			continue;
		int n = c->store.links(id, 0, c->links);
		for (int i = 0; i < n; i++)
			if (c->links[i] < c->capacity && c->links[i] != id && live_id(c, c->links[i]))
				indeg[c->links[i]] = in_links_step(indeg[c->links[i]], +1);
	}
	return indeg;
}

// Step 3b: live elements that few live elements link to at level 0 (deletion took their
// in-links; hard or impossible to reach) get back-links from their nearest live elements, found
// by a search as an insert would. The threshold (a third of a full level-0 list) took recall
// after deleting half of a 20k x 32-d set from 0.969 to 0.994 at ef_search 40 (fresh build:
// 0.997) for about 60% more vacuum time.
static void reconnect_weak(Cleanup *c)
{
	const IndexShape &sh = c->sh;
	uint16 *indeg = count_in_links(c);
	int threshold = Max(1, 2 * sh.m / 3);
	for (uint32 id = 0; id < c->capacity; id++) {
		if (c->flags[id] != kElementLive || indeg[id] >= threshold || id == sh.entry_point)
			continue;
		yield_writer_lock(c);
		c->reconnected++;
		c->store.vector(id, c->idvec);
		CleanupGraph g{{&c->store}, c};
		int found = g.search_level(c->idvec, 0, c->graph.cands, (int) c->graph.cap);
		visited_reset(c->repair.seen);
		visited_insert(c->repair.seen, id);
		size_t nc = 0;
		for (int i = 0; i < found; i++)
			if (live_id(c, c->graph.cands[i].id))
				add_repair_candidate(c->repair, &nc, c->graph.cands[i].id);
		int k = choose_topped_up(g, c->graph, c->repair, nc, c->idvec, sh.m, sh.ef_construction, c->out);
		uint32 nbs[kMaxM];
		memcpy(nbs, c->out, sizeof(uint32) * k);
		for (int i = 0; i < k; i++)
			add_backlink(c, nbs[i], id, c->idvec, 0);
	}
	pfree(indeg);
}

// CleanupGraph with what connect_unreachable needs: the walk follows the live elements the read
// pass saw; a change is made only to an element still live, under the writer lock (taken
// before the first change if the walk ran without it), yielding it now and then.
struct ReachGraph : CleanupGraph {
	bool take_lock;

	size_t capacity() const { return c->capacity; }
	bool node(uint32 id) const { return c->flags[id] == kElementLive; }
	bool usable(uint32 id) { return live_id(c, id); }
	int search_near(const float *vec, Candidate *out, int max) { return search_level(vec, 0, out, max); }
	void walk_step()
	{
		if ((++c->walk_steps & 1023) == 0)
			vacuum_delay_point();
	}
	void begin_repairs()
	{
		if (take_lock) {
			LockPage(c->index, kWriterLock, ExclusiveLock);
			take_lock = false;
			c->lock_taken = true;
		}
	}
	void pause() { yield_writer_lock(c); }
};

// Step 3c: live elements a level-0 walk from the entry point misses, which no scan can return,
// get an in-link from a reached element (connect_unreachable, the build's code too). In-link
// counts keep inserts from leaving such elements, but a crash between an insert's records, or
// deletions, can. With take_lock, the walk runs without the writer lock (inserts go on;
// reached[] may miss what they link, which costs at most a link) and the repairs take it.
static void connect_unreachable(Cleanup *c, bool take_lock)
{
	if (c->sh.entry_point == kInvalidId || c->sh.entry_point >= c->capacity)
		return;
	ReachScratch rs;
	rs.capacity = c->capacity;
	rs.reached = (uint8 *) palloc_extended(c->capacity, MCXT_ALLOC_HUGE);
	rs.stack = (uint32 *) palloc_extended(sizeof(uint32) * c->capacity, MCXT_ALLOC_HUGE);
	rs.in_links = (uint16 *) palloc_extended(sizeof(uint16) * c->capacity, MCXT_ALLOC_HUGE);
	ReachGraph g{{{&c->store}, c}, take_lock};
	size_t unreached = 0, connected = 0;
	c->lock_taken = false;
	connect_unreachable(g, rs, c->graph, c->sh.entry_point, c->sh.m, &unreached, &connected);
	c->unreached = unreached;
	c->connected += connected;
	if (c->lock_taken)
		UnlockPage(c->index, kWriterLock, ExclusiveLock);
	pfree(rs.in_links);
	pfree(rs.stack);
	pfree(rs.reached);
}

// Step 3 for one element: every level, then back-links from its new neighbours.
static void repair_element(Cleanup *c, uint32 id)
{
	for (int l = 0; l <= c->level[id] && l <= kMaxLevel; l++) {
		int k = repair_list(c, id, l);
		if (k < 0)
			continue;
		uint32 fresh[2 * kMaxM];
		int n_fresh = 0;
		for (int i = 0; i < k; i++) {
			bool old = false;
			for (int j = 0; j < c->n_prev && !old; j++)
				old = c->prev[j] == c->out[i];
			if (!old)
				fresh[n_fresh++] = c->out[i];
		}
		if (n_fresh > 0)
			c->store.vector(id, c->idvec);
		for (int i = 0; i < n_fresh; i++)
			add_backlink(c, fresh[i], id, c->idvec, l);
	}
}

// Step 4: unlinks empty overflow records from live chains (one record per changed page).
static void unlink_empty(Cleanup *c)
{
	for (uint32 id = 0; id < c->capacity; id++) {
		if (c->flags[id] != kElementLive)
			continue;
		uint32 prev = id;
		uint32 guard = 0;
		for (uint32 cur = c->dup_next[id]; cur < c->capacity && guard++ < c->capacity;) {
			if (c->flags[cur] != kElementDuplicate || c->chain[cur] == kUnreferenced)
				break;
			uint32 next = c->dup_next[cur];
			if (c->chain[cur] != kUnlink) {
				prev = cur;
				cur = next;
				continue;
			}
			Buffer buf;
			GenericXLogState *state;
			char *item = begin_change(c, prev, &buf, &state);
			if (!item)
				break;
			((ElementHeader *) item)->dup_next = next;
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			c->dup_next[prev] = next;
			c->unlinked++;
			cur = next;
		}
	}
}

// Rewrites element headers page by page, one WAL record per page that changes: for each page
// holding an id `wanted` accepts, `change` is called on the header of every such id (in the
// page image) and says whether it changed it. Returns how many headers changed.
template <class Wanted, class Change> static uint64 rewrite_headers(Cleanup *c, Wanted wanted, Change change)
{
	const IndexShape &sh = c->sh;
	size_t expect = sh.span > 1 ? sh.chunk : sh.record_size;
	uint64 changed = 0;
	for (BlockNumber b = 1; b < c->nblocks; b++) {
		uint32 first = make_id(b, 0, sh.per_page);
		bool any = false;
		for (uint32 s = 0; s < sh.per_page && !any; s++)
			any = wanted(first + s);
		if (!any)
			continue;
		vacuum_delay_point();
		Buffer buf = ReadBufferExtended(c->index, MAIN_FORKNUM, b, RBM_NORMAL, c->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		GenericXLogState *state = GenericXLogStart(c->index);
		Page page = GenericXLogRegisterBuffer(state, buf, 0);
		OffsetNumber max = PageGetMaxOffsetNumber(page);
		int n = 0;
		for (OffsetNumber off = 1; off <= max && off <= sh.per_page; off++) {
			uint32 id = first + off - 1;
			ElementHeader *h = (ElementHeader *) pg_page::item_at((const unsigned char *) page, off, expect);
			if (h != NULL && wanted(id) && change(id, h))
				n++;
		}
		if (n > 0)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		changed += n;
	}
	return changed;
}

// Step 5a: sets every element's in-link count to the level-0 links live elements hold, before
// the deleted elements, whose links leave with them, are freed: a count never exceeds the
// element's real in-links, and drift (a crash between an insert's records leaves counts low)
// is corrected.
static void recount_in_links(Cleanup *c)
{
	uint16 *count = count_in_links(c);	// deleted elements get 0: they are freed next
	rewrite_headers(
		c, [c](uint32 id) { return c->flags[id] == kElementLive || c->flags[id] == kElementDeleted; },
		[count](uint32 id, ElementHeader *h) {
			if ((h->flags != kElementLive && h->flags != kElementDeleted) || h->in_links0 == count[id])
				return false;
			h->in_links0 = count[id];
			return true;
		});
	pfree(count);
}

// Step 5b: marks freeable records kElementFree, one WAL record per page.
static void free_slots(Cleanup *c)
{
	c->freed += rewrite_headers(
		c, [c](uint32 id) { return is_freeable(c, id); },
		[c](uint32 id, ElementHeader *h) {
			if (h->flags != c->flags[id])
				return false;
			h->flags = kElementFree;
			h->level = 0;
			h->n_tids = 0;
			h->n_links0 = 0;
			h->in_links0 = 0;
			h->upper_block = kInvalidBlock;
			h->upper_offset = 0;
			h->dup_next = kInvalidId;
			c->flags[id] = kElementFree;
			return true;
		});
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
	Buffer buf = ReadBuffer(c->index, kMetaBlock);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	MetaPageData *m = page_meta(BufferGetPage(buf));
	bool hint = first_free != kInvalidBlock && (m->free_hint_block == kInvalidBlock || first_free < m->free_hint_block);
	if (!hint && m->vacuum_pending == 0) {
		UnlockReleaseBuffer(buf);
		return;
	}
	GenericXLogState *state = GenericXLogStart(c->index);
	Page page = GenericXLogRegisterBuffer(state, buf, 0);
	m = page_meta(page);
	if (hint)
		m->free_hint_block = first_free;
	m->vacuum_pending = 0;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
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
	c->idvec = (float *) palloc(sizeof(float) * c->sh.dims);
	size_t graph_cap = Max(c->sh.ef_construction, 2 * m) + 1;
	graph_scratch_init(c->graph, palloc_extended(graph_scratch_bytes(graph_cap, c->sh.dims), MCXT_ALLOC_HUGE), graph_cap,
					   c->sh.dims);
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
	Buffer mbuf = ReadBuffer(index, kMetaBlock);
	LockBuffer(mbuf, BUFFER_LOCK_SHARE);
	memcpy(&c->meta, page_meta(BufferGetPage(mbuf)), sizeof(MetaPageData));
	UnlockReleaseBuffer(mbuf);
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
			if (!vacuum_pending(info->index)) {
				prism::hnsw::connect_impl(info);
				return stats;
			}
			stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
		}
		prism::hnsw::cleanup_impl(info, stats);
		return stats;
	});
}
