// amgettuple for hnsw: greedy descent, level-0 beam search with hnsw.ef_search, then (when the
// executor keeps asking, e.g. a WHERE clause dropped rows) the beam is widened, row by row, until
// the graph is exhausted or hnsw.max_scan_tuples elements have been discovered.
//
// Order: the first ef_search results come out in distance order. Past the first kRowsPerBeam
// rows, each row is handed out only once the beam has been widened to continued_width() of the
// rows handed out so far (widen_search in src/core/hnsw_search.h), so the rows past the first
// beam are what a fresh search with that wider beam returns, in distance order. An element the
// wider beam finds closer than one already returned is dropped under strict_order (prism's
// default: LIMIT k answers are in true order) and returned late under relaxed_order.
// With hnsw.iterative_scan = off the scan ends after the beam's ef_search candidates, like
// pgvector's (see kRowsPerCandidate for exact duplicates).
// Under strict_order a qual bounding the ORDER BY distance ends the scan at the first returned
// row beyond the bound (bound_passed, set from hnsw_plan.cpp): no later row can pass.
#include <cmath>

#include "pg/hnsw.h"
#include "pg/hnsw_stats.h"
#include "pg/vector.h"

extern "C" {
#include "access/relscan.h"
#include "access/xact.h"
#include "pgstat.h"
#include "utils/memutils.h"
}

namespace prism {
namespace hnsw {

ScanStats last_scan_stats;
ReturnedDistance last_returned;

struct ScanOpaque {
	MemoryContext ctx;
	IndexShape shape;
	PgStore store;
	bool started;
	bool done;
	float *query;
	VisitedSet *visited;
	bool visited_shared;
	uint32 *link_buf;
	CandidateArray frontier, result, discovered;
	size_t beam_left;
	float last_dist;
	uint64 discovered_count;
	ItemPointerData *pending;
	int n_pending, pos_pending;
	int mode;
	int candidates_left;  // under iterative_scan = off: candidates still to hand out
	uint64 max_discovered;
	bool share_distances;  // set last_returned for each row (not for cosine: see below)
	double pending_value;  // the ORDER BY operator's value for the rows in `pending`
	bool bound_passed;	   // a returned row failed the query's distance bound: no later row passes
	ScanStats stats;
	int ef;
	bool widening;	   // the beam is being widened (rows past the first beam)
	Widening widen;	   // its state: see widen_search
	uint64 popped;	   // elements taken from `discovered` (handed out or dropped)
};

// One visited set per backend, reused by every scan (the usual case: one hnsw scan at a time,
// including the inner side of a LATERAL batch). A second concurrent scan gets its own.
static VisitedSet backend_visited;
static bool backend_visited_busy;

VisitedSet *acquire_visited(size_t capacity, bool *shared)
{
	capacity += 64;	 // room for elements added while we scan
	if (!backend_visited_busy) {
		if (backend_visited.capacity < capacity) {
			if (backend_visited.marks)
				pfree(backend_visited.marks);
			size_t cap = Max(capacity, backend_visited.capacity * 2);
			backend_visited.marks =
				(uint32 *) MemoryContextAllocExtended(TopMemoryContext, cap * sizeof(uint32), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
			backend_visited.capacity = cap;
			backend_visited.epoch = 0;
		}
		backend_visited_busy = true;
		*shared = true;
		visited_reset(backend_visited);
		return &backend_visited;
	}
	VisitedSet *v = (VisitedSet *) palloc(sizeof(VisitedSet));
	v->marks = (uint32 *) palloc_extended(capacity * sizeof(uint32), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	v->capacity = capacity;
	v->epoch = 0;
	visited_reset(*v);
	*shared = false;
	return v;
}

void release_visited(VisitedSet *v, bool shared)
{
	if (shared)
		backend_visited_busy = false;
}

// Releases the backend visited set if the scan's memory goes away without endscan (ERROR).
static void scan_reset_callback(void *arg)
{
	ScanOpaque *so = (ScanOpaque *) arg;
	if (last_returned.scan == so)
		last_returned.scan = NULL;
	if (so->visited && so->visited_shared) {
		release_visited(so->visited, true);
		so->visited = NULL;
	}
}

static void start_search(IndexScanDesc scan)
{
	ScanOpaque *so = (ScanOpaque *) scan->opaque;
	IndexShape &sh = so->shape;
	// One index scan per search, as btree counts one per _bt_first: pg_stat_user_indexes.idx_scan
	// (idx_tup_read and idx_tup_fetch are counted by indexam.c for every TID returned / fetched).
	pgstat_count_index_scan(scan->indexRelation);
	read_shape(scan->indexRelation, &sh);
	store_init(&so->store, scan->indexRelation, &sh);
	so->query = (float *) palloc0(sizeof(float) * sh.words);
	if (scan->orderByData && !(scan->orderByData[0].sk_flags & SK_ISNULL)) {
		prepare_query(sh, scan->orderByData[0].sk_argument, so->query);
		// The cosine operator works on the raw vectors, the index on normalized ones: their
		// values differ in the last bits, so only l2 and inner product share theirs.
		// The reader checks that its vector argument is the indexed column of the returned row
		// as it lies in a shared buffer (hnsw_plan.cpp): not for an expression index, nor for a
		// temporary table (local buffers).
		so->share_distances = sh.element == ElementKind::Float32 &&
							  (sh.metric == Metric::L2 || sh.metric == Metric::InnerProduct) && scan->heapRelation != NULL &&
							  !RelationUsesLocalBuffers(scan->heapRelation) &&
							  scan->indexRelation->rd_index->indkey.values[0] != 0;
	}
	so->mode = guc_iterative_scan;
	so->max_discovered = (uint64) guc_max_scan_tuples;
	so->last_dist = -INFINITY;
	memset(&so->stats, 0, sizeof(so->stats));
	if (sh.entry_point == kInvalidId) {
		so->done = true;
		return;
	}
	so->link_buf = (uint32 *) palloc(sizeof(uint32) * (2 * sh.m + 1));
	so->visited = acquire_visited((size_t) so->store.nblocks * sh.per_page, &so->visited_shared);
	int ef = Max(guc_ef_search, 1);
	so->ef = ef;
	so->candidates_left = ef;
	init_candidates(&so->frontier, ef * 4);
	init_candidates(&so->result, ef + 1);
	init_candidates(&so->discovered, ef * 4);
	SearchSpace sp{so->visited, &so->frontier, &so->result, &so->discovered, so->link_buf, &so->stats.distances};
	if (search_from_entry(so->store, so->query, sh.entry_point, sh.entry_level, 0, ef, sp) < 0) {
		// Vacuum moved the entry point and freed it after we read the metapage: read it again.
		read_shape(scan->indexRelation, &sh);
		if (sh.entry_point == kInvalidId ||
			search_from_entry(so->store, so->query, sh.entry_point, sh.entry_level, 0, ef, sp) < 0) {
			so->done = true;
			return;
		}
	}
	so->discovered_count = so->discovered.size;
	so->beam_left = so->result.size;
}

static Candidate pop_discovered(ScanOpaque *so)
{
	so->popped++;
	Candidate c = so->discovered.items[0];
	std::pop_heap(so->discovered.items, so->discovered.items + so->discovered.size, CloserFirst());
	so->discovered.size--;
	return c;
}

// Rows past the first beam: widens the beam (widen_search) to the width the next row needs, so
// the next element taken from `discovered` is what a fresh search that wide would return there.
static void widen_for_next(ScanOpaque *so)
{
	if (!so->widening) {
		// The beam's result is the first `top`; the first `rest` is what is left in `discovered`
		// without the beam elements not handed out yet (beam_left of them, its nearest: under
		// the beam nothing new is discovered and nothing is dropped).
		so->widening = true;
		so->widen.top = so->result;
		init_candidates(&so->widen.rest, Max(so->discovered.size * 2, 16));
		memcpy(so->widen.rest.items, so->discovered.items, so->discovered.size * sizeof(Candidate));
		so->widen.rest.size = so->discovered.size;
		// Sorted ascending, an array is a valid min-heap.
		sort_ascending(so->widen.rest);
		size_t skip = Min(so->beam_left, so->widen.rest.size);
		memmove(so->widen.rest.items, so->widen.rest.items + skip, (so->widen.rest.size - skip) * sizeof(Candidate));
		so->widen.rest.size -= skip;
		so->beam_left = 0;
	}
	size_t width = continued_width(so->popped, so->ef);
	for (;;) {
		CHECK_FOR_INTERRUPTS();
		WidenStatus st = widen_search(so->store, so->query, width, 0, *so->visited, so->frontier, so->widen,
									  &so->discovered, so->link_buf, &so->stats.distances, &so->discovered_count,
									  so->max_discovered, 64);
		if (st == WidenStatus::Paused)
			continue;
		if (st == WidenStatus::Budget) {
			so->stats.bound_reached = true;
			so->frontier.size = 0;
		} else if (st == WidenStatus::OutOfMemory)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		return;
	}
}

// Under iterative_scan = off a scan hands out its first ef_search candidates, as pgvector's does.
// pgvector keeps up to 10 heap TIDs of exact duplicates in one element and further copies in
// further elements, so each 10 rows of a set of duplicates is one candidate there: 20 identical
// rows at ef_search 1 give 10 rows. prism keeps all copies in one element; counting its rows in
// tens keeps both the bound (at most 10 * ef_search rows) and pgvector's row counts.
static const int kRowsPerCandidate = 10;

// Cuts the rows just loaded for one element to the candidates left under iterative_scan = off.
static void take_candidates(ScanOpaque *so)
{
	int allowed = so->candidates_left * kRowsPerCandidate;
	if (so->n_pending > allowed)
		so->n_pending = allowed;
	so->candidates_left -= (so->n_pending + kRowsPerCandidate - 1) / kRowsPerCandidate;
}

// Next element in distance order, or false when the scan is over.
static bool next_element(ScanOpaque *so, Candidate *out)
{
	for (;;) {
		if (so->mode == kIterativeOff && so->candidates_left <= 0)
			return false;
		// The beam's own elements serve the first rows; past kRowsPerBeam rows the beam widens
		// (off: never, it stops with the beam).
		bool widen = so->mode != kIterativeOff && continued_width(so->popped, so->ef) > (size_t) so->ef;
		if (so->beam_left > 0 && !widen) {
			so->beam_left--;
		} else {
			if (so->mode == kIterativeOff)
				return false;
			widen_for_next(so);
		}
		if (so->discovered.size == 0)
			return false;
		Candidate c = pop_discovered(so);
		if (c.dist < so->last_dist && so->mode == kIterativeStrict) {
			so->stats.dropped_out_of_order++;
			continue;
		}
		if (c.dist > so->last_dist)
			so->last_dist = c.dist;
		*out = c;
		return true;
	}
}

// What the ORDER BY operator returns for internal distance d (l2: squared; ip: -dot).
static double operator_value(Metric metric, float d) { return element_operator_value(metric, d); }

// Under the scan's MVCC snapshot a visible row at the returned TID is the one whose vector the
// element held when the scan read it: a TID is reused only after vacuum removed its element.
static void share_distance(IndexScanDesc scan, ScanOpaque *so)
{
	last_returned.scan = so;
	last_returned.heap = RelationGetRelid(scan->heapRelation);
	last_returned.heap_node = scan->heapRelation->rd_node;
	last_returned.heap_desc = RelationGetDescr(scan->heapRelation);
	last_returned.column = scan->indexRelation->rd_index->indkey.values[0];
	last_returned.tid = scan->xs_heaptid;
	last_returned.metric = so->shape.metric;
	last_returned.query = so->query;
	last_returned.dims = so->shape.dims;
	last_returned.value = so->pending_value;
	last_returned.reused = &so->stats.distances_reused;
	// Only strict_order hands rows out in non-decreasing distance (next_element drops the rest),
	// which is what makes ending the scan at the first row beyond the bound exact.
	last_returned.bound_passed = so->mode == kIterativeStrict ? &so->bound_passed : NULL;
}

// Loads the heap TIDs of a live element (and its duplicate chain) into so->pending.
static bool load_tids(ScanOpaque *so, uint32 id)
{
	ElementHeader h;
	if (!store_element(&so->store, id, &h) || h.flags != kElementLive)
		return false;
	so->n_pending = 0;
	so->pos_pending = 0;
	uint64 steps = 0;
	for (;;) {
		for (int i = 0; i < h.n_tids && i < kHeapTidsPerElement; i++) {
			if (so->n_pending % kHeapTidsPerElement == 0)
				so->pending = (ItemPointerData *) (so->n_pending == 0
														? palloc(sizeof(ItemPointerData) * kHeapTidsPerElement)
														: repalloc(so->pending, sizeof(ItemPointerData) *
																					(so->n_pending + kHeapTidsPerElement)));
			item_pointer_of(h.tids[i], &so->pending[so->n_pending++]);
		}
		if (h.dup_next == kInvalidId)
			break;
		uint32 next = h.dup_next;
		count_chain_step(&so->store, &steps, id);
		if (!store_element(&so->store, next, &h) || h.flags != kElementDuplicate)
			report_corrupt(so->store.index, "broken duplicate chain", id);
	}
	return so->n_pending > 0;
}

}  // namespace hnsw
}  // namespace prism

using namespace prism::hnsw;

IndexScanDesc hnswbeginscan(Relation index, int nkeys, int norderbys)
{
	return prism::prism_guarded([&] {
		IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
		MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext, "hnsw scan", ALLOCSET_DEFAULT_SIZES);
		ScanOpaque *so = (ScanOpaque *) MemoryContextAllocZero(ctx, sizeof(ScanOpaque));
		so->ctx = ctx;
		MemoryContextCallback *cb = (MemoryContextCallback *) MemoryContextAlloc(ctx, sizeof(MemoryContextCallback));
		cb->func = scan_reset_callback;
		cb->arg = so;
		MemoryContextRegisterResetCallback(ctx, cb);
		scan->opaque = so;
		return scan;
	});
}

void hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	prism::prism_guarded([&] {
		ScanOpaque *so = (ScanOpaque *) scan->opaque;
		if (so->started)
			last_scan_stats = so->stats;
		MemoryContext ctx = so->ctx;
		MemoryContextReset(ctx);  // runs scan_reset_callback: releases the visited set
		ScanOpaque *fresh = (ScanOpaque *) MemoryContextAllocZero(ctx, sizeof(ScanOpaque));
		fresh->ctx = ctx;
		MemoryContextCallback *cb = (MemoryContextCallback *) MemoryContextAlloc(ctx, sizeof(MemoryContextCallback));
		cb->func = scan_reset_callback;
		cb->arg = fresh;
		MemoryContextRegisterResetCallback(ctx, cb);
		scan->opaque = fresh;
		if (keys && scan->numberOfKeys > 0)
			memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
		if (orderbys && scan->numberOfOrderBys > 0)
			memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
		return 0;
	});
}

bool hnswgettuple(IndexScanDesc scan, ScanDirection dir)
{
	// Outside the guarded body, so the frame outlives an ERROR raised from a caught exception.
	ErrorContextCallback ctx{error_context_stack, corrupt_read_context, scan->indexRelation};
	error_context_stack = &ctx;
	bool found = prism::prism_guarded([&] {
		ScanOpaque *so = (ScanOpaque *) scan->opaque;
		MemoryContext old = MemoryContextSwitchTo(so->ctx);
		if (!so->started) {
			so->started = true;
			start_search(scan);
		}
		bool found = false;
		while (!so->done) {
			if (so->bound_passed) {
				so->done = true;
				break;
			}
			if (so->pos_pending < so->n_pending) {
				scan->xs_heaptid = so->pending[so->pos_pending++];
				scan->xs_recheck = false;
				scan->xs_recheckorderby = false;
				so->stats.tuples_returned++;
				if (so->share_distances)
					share_distance(scan, so);
				else
					// This row's quals must not find another scan's row there (the same row of
					// the same table, through another index), nor end that scan at a bound.
					last_returned.scan = NULL;
				found = true;
				break;
			}
			Candidate c;
			if (!next_element(so, &c)) {
				so->done = true;
				break;
			}
			// The index holds each row's vector as inserted and the operator runs the same
			// kernel on the same floats, so this is bit for bit what the operator returns.
			so->pending_value = operator_value(so->shape.metric, c.dist);
			if (load_tids(so, c.id) && so->mode == kIterativeOff)
				take_candidates(so);
		}
		so->stats.pages_read = so->store.pages_read;
		so->stats.nodes_visited = so->discovered_count;
		last_scan_stats = so->stats;
		if (so->done && so->stats.bound_reached && !so->stats.bound_noticed) {
			so->stats.bound_noticed = true;
			// Once per statement, not once per rescan of a LATERAL batch.
			static TimestampTz noticed_statement = 0;
			if (noticed_statement != GetCurrentStatementStartTimestamp()) {
				noticed_statement = GetCurrentStatementStartTimestamp();
				note_bound_reached(scan->indexRelation);
			}
		}
		MemoryContextSwitchTo(old);
		return found;
	});
	error_context_stack = ctx.previous;
	return found;
}

void hnswendscan(IndexScanDesc scan)
{
	prism::prism_guarded([&] {
		ScanOpaque *so = (ScanOpaque *) scan->opaque;
		if (so->started)
			last_scan_stats = so->stats;
		MemoryContextDelete(so->ctx);  // the reset callback releases the visited set
		scan->opaque = NULL;
		return 0;
	});
}
