// VACUUM step 3 (see hnsw_vacuum.cpp): repairs the link lists that name deleted elements,
// reconnects weakly linked elements and connects unreached ones, with the graph operations of
// src/core/hnsw_graph.h over the index pages.
#include "pg/hnsw_vacuum.h"

namespace prism {
namespace hnsw {

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
	bool ok = item != NULL && element_header_fault(RecordView(item), sh.m) == NULL;
	if (ok)
		*h = RecordView(item).header();
	UnlockReleaseBuffer(buf);
	return ok;
}

// A valid neighbour at `level`: live and present on that level. Once inserts may have run
// (the lock was yielded), ids the read pass did not see live are looked up on disk.
bool usable(Cleanup *c, uint32 id, int level)
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
bool live_id(Cleanup *c, uint32 id) { return usable(c, id, 0); }

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
		SearchSpace sp{&c->visited, &c->frontier, &c->result, nullptr, c->links2, nullptr};
		if (search_from_entry(c->store, vec, sh.entry_point, sh.entry_level, level, sh.ef_construction, sp) != level)
			return 0;  // the entry point is gone or below `level`: no element there to find
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
uint16 *count_in_links(Cleanup *c)
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
void reconnect_weak(Cleanup *c)
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
void connect_unreachable(Cleanup *c, bool take_lock)
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
void repair_element(Cleanup *c, uint32 id)
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

}  // namespace hnsw
}  // namespace prism
