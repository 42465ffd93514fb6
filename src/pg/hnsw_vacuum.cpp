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
	// Work space for one list repair.
	VisitedSet seen;		// candidate de-duplication
	VisitedSet visited;		// beam search
	CandidateArray frontier, result;
	uint32 *links, *links2;
	Candidate *cands;
	size_t cands_cap;
	float *evec, *vecs;
	int *chosen;
	bool *taken;
	uint32 *out;
	uint32 *prev;  // usable links of the list being repaired
	int n_prev;
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

// Replaces the level-`level` list of element `id` (one WAL record: the element page for level
// 0, the upper page otherwise).
static void write_list(Cleanup *c, uint32 id, int level, const uint32 *links, int n)
{
	if (level == 0) {
		write_links0(c->index, c->strategy, c->sh, id, NULL, 0, links, n, 0);
		return;
	}
	Buffer buf;
	GenericXLogState *state;
	char *item = begin_change(c, id, &buf, &state);
	if (!item)
		report_corrupt(c->index, "element slot missing during vacuum", id);
	ElementHeader *h = (ElementHeader *) item;
	BlockNumber ub = h->upper_block;
	OffsetNumber uoff = h->upper_offset;
	int elevel = h->level;
	GenericXLogAbort(state);
	UnlockReleaseBuffer(buf);
	write_upper_links(c->index, c->strategy, id, ub, uoff, elevel, c->sh, level, links, n);
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

static void add_candidate(Cleanup *c, size_t *n, uint32 id)
{
	if (!visited_insert(c->seen, id))
		return;
	if (*n == c->cands_cap) {
		c->cands_cap *= 2;
		c->cands = (Candidate *) repalloc_huge(c->cands, c->cands_cap * sizeof(Candidate));
	}
	c->cands[(*n)++] = Candidate{0, id};
}

// Chooses up to max_n neighbours among c->cands[0..nc) for the element whose vector is `base`
// (distances are computed here); writes them to c->out and returns how many. The insert
// heuristic picks first; the list is then topped up with the nearest candidates it pruned
// (as pgvector does): repaired lists lost neighbours, and full lists measured 0.02-0.06 higher
// recall at ef_search 10-40 after deleting half of a 20k x 32-d set.
static int choose_list(Cleanup *c, const float *base, size_t nc, int max_n)
{
	const IndexShape &sh = c->sh;
	for (size_t i = 0; i < nc; i++) {
		uint8_t f;
		c->cands[i].dist = c->store.distance(c->cands[i].id, base, &f);
	}
	CandidateArray arr{c->cands, nc, c->cands_cap};
	sort_ascending(arr);
	// Keep the ef_construction nearest, as an insert's search would.
	int keep = (int) Min(nc, (size_t) Max(sh.ef_construction, max_n));
	int k;
	if (keep > max_n) {
		for (int i = 0; i < keep; i++)
			c->store.vector(c->cands[i].id, c->vecs + (size_t) i * sh.dims);
		k = select_neighbors(c->store, c->cands, c->vecs, sh.dims, keep, max_n, c->chosen);
		bool *taken = c->taken;
		for (int i = 0; i < keep; i++)
			taken[i] = false;
		for (int i = 0; i < k; i++)
			taken[c->chosen[i]] = true;
		for (int i = 0; i < keep && k < max_n; i++)
			if (!taken[i])
				c->chosen[k++] = i;
	} else {
		k = keep;
		for (int i = 0; i < k; i++)
			c->chosen[i] = i;
	}
	for (int i = 0; i < k; i++)
		c->out[i] = c->cands[c->chosen[i]].id;
	return k;
}

// Step 3 for one list: rewrites it if it names a non-live element; returns the new length, or
// -1 if the list was fine. The usable old links are left in c->prev[0..c->n_prev).
static int repair_list(Cleanup *c, uint32 id, int level, bool *have_vec)
{
	const IndexShape &sh = c->sh;
	int max_n = max_links(sh.m, level);
	int n = c->store.links(id, level, c->links);
	bool bad = false;
	for (int i = 0; i < n && !bad; i++)
		bad = !usable(c, c->links[i], level) || c->links[i] == id;
	if (!bad)
		return -1;

	visited_reset(c->seen);
	visited_insert(c->seen, id);
	size_t nc = 0;
	c->n_prev = 0;
	for (int i = 0; i < n; i++)
		if (usable(c, c->links[i], level)) {
			add_candidate(c, &nc, c->links[i]);
			c->prev[c->n_prev++] = c->links[i];
		}
	for (int i = 0; i < n; i++) {
		uint32 d = c->links[i];
		if (d >= c->capacity || c->flags[d] != kElementDeleted || c->level[d] < level)
			continue;
		int n2 = c->store.links(d, level, c->links2);
		for (int j = 0; j < n2; j++)
			if (usable(c, c->links2[j], level))
				add_candidate(c, &nc, c->links2[j]);
	}
	if (!*have_vec) {
		c->store.vector(id, c->evec);
		*have_vec = true;
	}
	// Too few 2-hop candidates (a whole neighbourhood was deleted): search as an insert would.
	if (nc < (size_t) max_n && c->sh.entry_point != kInvalidId && c->sh.entry_point != id) {
		c->searches++;
		uint8_t f;
		Candidate ep{c->store.distance(sh.entry_point, c->evec, &f), sh.entry_point};
		greedy_descend(c->store, c->evec, ep, sh.entry_level, level, c->links2);
		visited_reset(c->visited);
		visited_insert(c->visited, ep.id);
		search_layer(c->store, c->evec, &ep, 1, sh.ef_construction, level, c->visited, c->frontier, c->result,
					 nullptr, c->links2, nullptr);
		for (size_t i = 0; i < c->result.size; i++) {
			uint32 r = c->result.items[i].id;
			if (usable(c, r, level))
				add_candidate(c, &nc, r);
		}
	}
	int k = choose_list(c, c->evec, nc, max_n);
	write_list(c, id, level, c->out, k);
	c->lists_repaired++;
	return k;
}

// Adds `id` to the level-`level` list of its new neighbour `nb` (repaired first if needed), as an
// insert adds back-links: appended if there is room, else chosen with the heuristic.
static void add_backlink(Cleanup *c, uint32 nb, uint32 id, int level)
{
	int max_n = max_links(c->sh.m, level);
	bool have_vec = false;
	repair_list(c, nb, level, &have_vec);
	int n = c->store.links(nb, level, c->links);
	for (int i = 0; i < n; i++)
		if (c->links[i] == id)
			return;
	if (n < max_n) {
		c->links[n++] = id;
		write_list(c, nb, level, c->links, n);
		c->backlinks++;
		return;
	}
	if (!have_vec)
		c->store.vector(nb, c->evec);
	visited_reset(c->seen);
	visited_insert(c->seen, nb);
	size_t nc = 0;
	for (int i = 0; i < n; i++)
		add_candidate(c, &nc, c->links[i]);
	add_candidate(c, &nc, id);
	int k = choose_list(c, c->evec, nc, max_n);
	for (int i = 0; i < k; i++)
		if (c->out[i] == id) {
			write_list(c, nb, level, c->out, k);
			c->backlinks++;
			return;
		}
}

// Beam search (ef_construction) at level 0 from the entry point for `vec`; leaves c->result.
static void search_near(Cleanup *c, const float *vec)
{
	const IndexShape &sh = c->sh;
	uint8_t f;
	Candidate ep{c->store.distance(sh.entry_point, vec, &f), sh.entry_point};
	greedy_descend(c->store, vec, ep, sh.entry_level, 0, c->links2);
	visited_reset(c->visited);
	visited_insert(c->visited, ep.id);
	search_layer(c->store, vec, &ep, 1, sh.ef_construction, 0, c->visited, c->frontier, c->result, nullptr,
				 c->links2, nullptr);
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
			if (c->links[i] < c->capacity && live_id(c, c->links[i]) && indeg[c->links[i]] < UINT16_MAX)
				indeg[c->links[i]]++;
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
		c->store.vector(id, c->evec);
		search_near(c, c->evec);
		visited_reset(c->seen);
		visited_insert(c->seen, id);
		size_t nc = 0;
		for (size_t i = 0; i < c->result.size; i++)
			if (live_id(c, c->result.items[i].id))
				add_candidate(c, &nc, c->result.items[i].id);
		int k = choose_list(c, c->evec, nc, sh.m);
		uint32 nbs[kMaxM];
		memcpy(nbs, c->out, sizeof(uint32) * k);
		for (int i = 0; i < k; i++)
			add_backlink(c, nbs[i], id, 0);
	}
	pfree(indeg);
}

// Marks the live elements (as the read pass saw them) a level-0 walk from `start` reaches.
static void mark_reached(Cleanup *c, uint32 start, uint8 *reached, uint32 *stack)
{
	size_t top = 0;
	reached[start] = 1;
	stack[top++] = start;
	uint32 steps = 0;
	while (top > 0) {
		if ((++steps & 1023) == 0)
			vacuum_delay_point();
		uint32 id = stack[--top];
		int n = c->store.links(id, 0, c->links);
		for (int i = 0; i < n; i++) {
			uint32 nb = c->links[i];
			if (nb < c->capacity && c->flags[nb] == kElementLive && !reached[nb]) {
				reached[nb] = 1;
				stack[top++] = nb;
			}
		}
	}
}

// Gives unreachable element `id` a level-0 in-link from the nearest reached element a search
// finds: appended where a list has room, else in place of that list's farthest link whose
// target keeps another in-link. False if no such list was found.
static bool link_from_reached(Cleanup *c, uint32 id, const uint8 *reached, uint16 *indeg, bool *replaced)
{
	const IndexShape &sh = c->sh;
	size_t dims = sh.dims;
	c->store.vector(id, c->evec);
	search_near(c, c->evec);
	sort_ascending(c->result);
	int max_n = max_links(sh.m, 0);
	for (int pass = 0; pass < 2; pass++)
		for (size_t r = 0; r < c->result.size; r++) {
			uint32 nb = c->result.items[r].id;
			if (nb == id || nb >= c->capacity || !reached[nb] || !live_id(c, nb))
				continue;
			int n = c->store.links(nb, 0, c->links);
			int slot = -1;
			if (pass == 0) {
				if (n < max_n)
					slot = n++;
			} else {
				float *nb_vec = c->vecs, *other = c->vecs + dims;
				c->store.vector(nb, nb_vec);
				float farthest = -INFINITY;
				for (int i = 0; i < n; i++) {
					uint32 t = c->links[i];
					if (t == id || t >= c->capacity || indeg[t] < 2)
						continue;
					c->store.vector(t, other);
					float d = metric_distance(sh, other, nb_vec);
					if (d > farthest) {
						farthest = d;
						slot = i;
					}
				}
				if (slot >= 0)
					indeg[c->links[slot]]--;
			}
			if (slot < 0)
				continue;
			if (pass == 1)
				*replaced = true;
			c->links[slot] = id;
			write_list(c, nb, 0, c->links, n);
			indeg[id]++;
			return true;
		}
	return false;
}

// Step 3c: live elements a level-0 walk from the entry point misses (their in-links are gone or
// come only from other such elements), which no scan can return, get an in-link from a reached
// element; what they lead to then counts as reached. Insertion and deletion leave such elements
// (inserting Fashion-MNIST row by row left 233 of 60,000); as at build time, worth_connecting
// decides. With take_lock, the walk runs without the writer lock (inserts go on; reached[] may
// miss what they link, which costs at most a link) and the repairs take it.
static void connect_unreachable(Cleanup *c, bool take_lock)
{
	if (c->sh.entry_point == kInvalidId || c->sh.entry_point >= c->capacity)
		return;
	uint8 *reached = (uint8 *) palloc_extended(c->capacity, MCXT_ALLOC_HUGE);
	uint32 *stack = (uint32 *) palloc_extended(sizeof(uint32) * c->capacity, MCXT_ALLOC_HUGE);
	uint16 *indeg = NULL;
	bool locked = !take_lock;
	// A replaced link can cut off what only it led to, so the walk is redone after a round that
	// replaced links (in practice one round).
	for (int round = 0; round < 3; round++) {
		memset(reached, 0, c->capacity);
		mark_reached(c, c->sh.entry_point, reached, stack);
		uint64 live = 0, missed = 0;
		for (uint32 id = 0; id < c->capacity; id++)
			if (c->flags[id] == kElementLive) {
				live++;
				if (!reached[id])
					missed++;
			}
		if (round == 0)
			c->unreached = missed;
		if (!worth_connecting(missed, live))
			break;
		if (indeg == NULL)
			indeg = count_in_links(c);
		if (!locked) {
			LockPage(c->index, kWriterLock, ExclusiveLock);
			locked = true;
		}
		bool replaced = false;
		for (uint32 id = 0; id < c->capacity; id++) {
			if (c->flags[id] != kElementLive || reached[id])
				continue;
			yield_writer_lock(c);
			if (!live_id(c, id) || !link_from_reached(c, id, reached, indeg, &replaced))
				continue;
			c->connected++;
			mark_reached(c, id, reached, stack);
		}
		if (!replaced)
			break;
	}
	if (take_lock && locked)
		UnlockPage(c->index, kWriterLock, ExclusiveLock);
	if (indeg)
		pfree(indeg);
	pfree(stack);
	pfree(reached);
}

// Step 3 for one element: every level, then back-links from its new neighbours.
static void repair_element(Cleanup *c, uint32 id)
{
	bool have_vec = false;
	for (int l = 0; l <= c->level[id] && l <= kMaxLevel; l++) {
		int k = repair_list(c, id, l, &have_vec);
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
		for (int i = 0; i < n_fresh; i++)
			add_backlink(c, fresh[i], id, l);
		have_vec = false;  // evec was reused for the neighbours
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

// Step 5a: sets every element's in-link count to the level-0 links live elements hold (one WAL
// record per page that changes), before the deleted elements, whose links leave with them,
// are freed: a count never exceeds the element's real in-links, and drift (a crash between an
// insert's records leaves counts low) is corrected.
static void recount_in_links(Cleanup *c)
{
	const IndexShape &sh = c->sh;
	uint16 *count = (uint16 *) palloc_extended(sizeof(uint16) * c->capacity, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (uint32 id = 0; id < c->capacity; id++) {
		if (c->flags[id] != kElementLive)
			continue;
		int n = c->store.links(id, 0, c->links);
		for (int i = 0; i < n; i++)
			if (c->links[i] < c->capacity && c->links[i] != id)
				count[c->links[i]] = in_links_step(count[c->links[i]], +1);
	}
	size_t expect = sh.span > 1 ? sh.chunk : sh.record_size;
	for (BlockNumber b = 1; b < c->nblocks; b++) {
		uint32 first = make_id(b, 0, sh.per_page);
		bool any = false;
		for (uint32 s = 0; s < sh.per_page && !any; s++)
			any = c->flags[first + s] == kElementLive || c->flags[first + s] == kElementDeleted;
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
			if (h == NULL || (h->flags != kElementLive && h->flags != kElementDeleted) || h->in_links0 == count[id])
				continue;
			h->in_links0 = count[id];
			n++;
		}
		if (n > 0)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
	}
	pfree(count);
}

// Step 5b: marks freeable records kElementFree, one WAL record per page.
static void free_slots(Cleanup *c)
{
	const IndexShape &sh = c->sh;
	for (BlockNumber b = 1; b < c->nblocks; b++) {
		uint32 first = make_id(b, 0, sh.per_page);
		bool any = false;
		for (uint32 s = 0; s < sh.per_page && !any; s++)
			any = is_freeable(c, first + s);
		if (!any)
			continue;
		vacuum_delay_point();
		Buffer buf = ReadBufferExtended(c->index, MAIN_FORKNUM, b, RBM_NORMAL, c->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		GenericXLogState *state = GenericXLogStart(c->index);
		Page page = GenericXLogRegisterBuffer(state, buf, 0);
		OffsetNumber max = PageGetMaxOffsetNumber(page);
		size_t expect = sh.span > 1 ? sh.chunk : sh.record_size;
		int n = 0;
		for (OffsetNumber off = 1; off <= max && off <= sh.per_page; off++) {
			uint32 id = first + off - 1;
			ElementHeader *h = (ElementHeader *) pg_page::item_at((const unsigned char *) page, off, expect);
			if (!is_freeable(c, id) || h == NULL)
				continue;
			if (h->flags != c->flags[id])
				continue;
			h->flags = kElementFree;
			h->level = 0;
			h->n_tids = 0;
			h->n_links0 = 0;
			h->upper_block = kInvalidBlock;
			h->upper_offset = 0;
			h->dup_next = kInvalidId;
			c->flags[id] = kElementFree;
			n++;
		}
		if (n > 0)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		c->freed += n;
	}
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
	init_visited(&c->seen, cap);
	init_visited(&c->visited, cap);
	init_candidates(&c->frontier, c->sh.ef_construction * 2);
	init_candidates(&c->result, c->sh.ef_construction + 1);
	c->links = (uint32 *) palloc(sizeof(uint32) * (2 * m + 1));
	c->links2 = (uint32 *) palloc(sizeof(uint32) * (2 * m + 1));
	c->cands_cap = 4 * m * m + 2 * m + c->sh.ef_construction;
	c->cands = (Candidate *) palloc(sizeof(Candidate) * c->cands_cap);
	c->evec = (float *) palloc(sizeof(float) * c->sh.dims);
	size_t max_keep = Max(c->sh.ef_construction, 2 * m);
	c->vecs = (float *) palloc_extended(sizeof(float) * c->sh.dims * max_keep, MCXT_ALLOC_HUGE);
	c->chosen = (int *) palloc(sizeof(int) * max_keep);
	c->taken = (bool *) palloc(sizeof(bool) * max_keep);
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
