// amgettuple for ivfflat: rank the lists by their center's distance to the query, read every
// tuple of the nearest ivfflat.probes lists, and return them nearest first.
//
// With ivfflat.iterative_scan = relaxed_order, when the executor asks for more rows than those
// lists held (a WHERE clause dropped rows), the next ivfflat.probes lists are read, and so on
// until ivfflat.max_probes lists have been read in all: each batch comes out in distance order,
// but a row of a later batch may be nearer than one already returned. With off (the default,
// as in pgvector) the scan ends after the first batch.
//
// Locking: one page at a time under a shared lock, no pin kept between pages; distances and
// heap TIDs are copied out. Each list is read in one pass, so a row is returned at most once.
#include <algorithm>
#include <cmath>

#include "pg/block_hints.h"
#include "pg/ivf.h"

extern "C" {
#include "access/relscan.h"
#include "utils/memutils.h"
}

namespace prism {
namespace ivf {

struct Candidate {
	float dist;
	ItemPointerData tid;
};

// Heap order: the nearest on top.
static bool farther(const Candidate &a, const Candidate &b) { return a.dist > b.dist; }

struct ListRank {
	float dist;
	uint32 list;
};

static bool rank_less(const ListRank &a, const ListRank &b)
{
	return a.dist < b.dist || (a.dist == b.dist && a.list < b.list);
}

struct ScanOpaque {
	MemoryContext ctx;
	Shape sh;
	bool started;
	bool done;
	bool null_query;
	char *query;   // stored form (normalized for cosine)
	float *ranked;	// float4, to rank the centers with
	ListRank *ranks;  // all lists; [0, probed) already read
	uint32 probed;
	uint32 probes, max_probes;
	int mode;
	Candidate *cands;  // a binary heap of [0, ncands)
	size_t ncands, cap;
	BlockNumber nblocks;
};

// See CenterCache in ivf.h. Indexes whose centers exceed kMaxCachedCenters bytes are ranked
// from the pages each time.
constexpr size_t kMaxCachedCenters = size_t(64) << 20;

const CenterCache *center_cache(Relation index)
{
	if (index->rd_amcache)
		return (const CenterCache *) index->rd_amcache;
	Shape sh;
	read_shape(index, &sh);
	size_t bytes = (size_t) sh.lists * sh.dims * sizeof(float);	// decoded centers
	if (bytes > kMaxCachedCenters)
		return NULL;
	CenterCache *cache = (CenterCache *) MemoryContextAllocHuge(index->rd_indexcxt, offsetof(CenterCache, centers) + bytes);
	cache->sh = sh;
	for (uint32 p = 0; p < sh.center_pages; p++) {
		BlockNumber blkno = 1 + p;
		Buffer buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		for (uint32 l = p * sh.centers_per_page; l < Min(sh.lists, (p + 1) * sh.centers_per_page); l++) {
			CenterHeader h;
			read_center(index, sh, page, blkno, l, &h, cache->centers + (size_t) l * sh.dims);
		}
		UnlockReleaseBuffer(buf);
	}
	index->rd_amcache = cache;
	return cache;
}

// Ranks every list by its center's distance to the query (all 0 for a NULL query): squared L2
// to the decoded centers, which for unit-length centers orders like the inner product and for
// bit centers is the Hamming distance.
static void rank_lists(IndexScanDesc scan, ScanOpaque *so, const CenterCache *cache)
{
	Relation index = scan->indexRelation;
	const Shape &sh = so->sh;
	so->ranks = (ListRank *) palloc(sizeof(ListRank) * sh.lists);
	float *dist = (float *) palloc0(sizeof(float) * sh.lists);
	if (cache && !so->null_query)
		center_distances(so->ranked, cache->centers, sh.lists, sh.dims, sh.kernels, dist);
	else if (!so->null_query) {
		float *c = (float *) palloc(sizeof(float) * sh.dims);
		for (uint32 p = 0; p < sh.center_pages; p++) {
			BlockNumber blkno = 1 + p;
			Buffer buf = ReadBuffer(index, blkno);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			Page page = BufferGetPage(buf);
			for (uint32 l = p * sh.centers_per_page; l < Min(sh.lists, (p + 1) * sh.centers_per_page); l++) {
				CenterHeader h;
				read_center(index, sh, page, blkno, l, &h, c);
				dist[l] = sh.kernels.l2sq(so->ranked, c, &sh.dims_param);
			}
			UnlockReleaseBuffer(buf);
		}
		pfree(c);
	}
	for (uint32 l = 0; l < sh.lists; l++) {
		so->ranks[l].dist = dist[l];
		so->ranks[l].list = l;
	}
	pfree(dist);
}

// The first block of `list`, from its center item.
static BlockNumber list_start(IndexScanDesc scan, ScanOpaque *so, uint32 list)
{
	const Shape &sh = so->sh;
	BlockNumber cblk = center_block(list, sh.centers_per_page);
	Buffer buf = ReadBuffer(scan->indexRelation, cblk);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	CenterHeader h;
	read_center(scan->indexRelation, sh, BufferGetPage(buf), cblk, list, &h, NULL);
	UnlockReleaseBuffer(buf);
	return h.start_block;
}

static void add_candidate(ScanOpaque *so, float dist, const ListTupleHeader *t)
{
	if (so->ncands == so->cap) {
		so->cap = Max(so->cap * 2, (size_t) 1024);
		so->cands = so->cands ? (Candidate *) repalloc_huge(so->cands, so->cap * sizeof(Candidate))
							  : (Candidate *) MemoryContextAllocHuge(so->ctx, so->cap * sizeof(Candidate));
	}
	Candidate &c = so->cands[so->ncands++];
	c.dist = dist;
	tuple_tid(t, &c.tid);
}

// Reads every tuple of `list` into the candidates.
static void read_list(IndexScanDesc scan, ScanOpaque *so, uint32 list)
{
	Relation index = scan->indexRelation;
	const Shape &sh = so->sh;
	BlockNumber blkno = list_start(scan, so, list), from = center_block(list, sh.centers_per_page);
	for (BlockNumber steps = 0; blkno != kInvalidBlock; steps++) {
		check_list_block(index, sh, from, blkno, steps, &so->nblocks);
		CHECK_FOR_INTERRUPTS();
		Buffer buf = read_hinted(index, blkno, so->nblocks);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		if (PageIsNew(page) || PageGetSpecialSize(page) != MAXALIGN(sizeof(PageSpecial)) ||
			page_special(page)->kind != kPageList) {
			UnlockReleaseBuffer(buf);
			report_corrupt(index, blkno, "list chain leads to a page that is not a list page");
		}
		OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++) {
			const ListTupleHeader *t = list_tuple(index, sh, page, blkno, off);
			if (t == NULL)
				continue;
			float d = so->null_query ? 0 : tuple_distance(sh, so->query, t + 1);
			add_candidate(so, d, t);
		}
		from = blkno;
		blkno = page_special(page)->next;
		UnlockReleaseBuffer(buf);
	}
}

// Reads the next batch of lists; false when none is left to read.
static bool probe_more(IndexScanDesc scan, ScanOpaque *so)
{
	const Shape &sh = so->sh;
	uint32 limit = Min(sh.lists, so->probed == 0 ? so->probes : so->max_probes);
	if (so->probed >= limit)
		return false;
	uint32 batch = Min(so->probes, limit - so->probed);
	ListRank *from = so->ranks + so->probed;
	std::partial_sort(from, from + batch, so->ranks + sh.lists, rank_less);
	so->ncands = 0;
	for (uint32 i = 0; i < batch; i++)
		read_list(scan, so, from[i].list);
	so->probed += batch;
	std::make_heap(so->cands, so->cands + so->ncands, farther);
	return true;
}

static void start_scan(IndexScanDesc scan, ScanOpaque *so)
{
	Relation index = scan->indexRelation;
	uint32 dims = (uint32) TupleDescAttr(index->rd_att, 0)->atttypmod;
	so->nblocks = RelationGetNumberOfBlocks(index);
	so->null_query = !scan->orderByData || (scan->orderByData[0].sk_flags & SK_ISNULL);
	const CenterCache *cache = center_cache(index);
	if (cache)
		so->sh = cache->sh;
	else
		read_shape(index, &so->sh);
	const Shape &sh = so->sh;
	if (sh.dims != dims)
		report_corrupt(index, kMetaBlock, "metapage dimensions differ from the column's");
	so->query = (char *) palloc0(sh.vec_bytes);
	so->ranked = (float *) palloc0(sizeof(float) * sh.dims);
	// the centers are ranked with the raw query: for unit centers the order is the same
	if (!so->null_query)
		prepare_query(sh, scan->orderByData[0].sk_argument, so->query, so->ranked);
	rank_lists(scan, so, cache);
	so->mode = guc_iterative_scan;
	so->probes = (uint32) Max(guc_probes, 1);
	so->max_probes = so->mode == kIterativeOff ? so->probes : (uint32) Max(guc_max_probes, guc_probes);
	if (so->null_query) {
		// no order to follow: every row, list by list
		so->probes = sh.lists;
		so->max_probes = sh.lists;
	}
	if (!probe_more(scan, so))
		so->done = true;
}

}  // namespace ivf
}  // namespace prism

using namespace prism::ivf;

IndexScanDesc ivfflatbeginscan(Relation index, int nkeys, int norderbys)
{
	return prism::prism_guarded([&] {
		IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
		MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext, "ivfflat scan", ALLOCSET_DEFAULT_SIZES);
		ScanOpaque *so = (ScanOpaque *) MemoryContextAllocZero(ctx, sizeof(ScanOpaque));
		so->ctx = ctx;
		scan->opaque = so;
		return scan;
	});
}

void ivfflatrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	prism::prism_guarded([&] {
		ScanOpaque *so = (ScanOpaque *) scan->opaque;
		MemoryContext ctx = so->ctx;
		MemoryContextReset(ctx);
		ScanOpaque *fresh = (ScanOpaque *) MemoryContextAllocZero(ctx, sizeof(ScanOpaque));
		fresh->ctx = ctx;
		scan->opaque = fresh;
		if (keys && scan->numberOfKeys > 0)
			memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
		if (orderbys && scan->numberOfOrderBys > 0)
			memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
		return 0;
	});
}

bool ivfflatgettuple(IndexScanDesc scan, ScanDirection dir)
{
	return prism::prism_guarded([&] {
		ScanOpaque *so = (ScanOpaque *) scan->opaque;
		MemoryContext old = MemoryContextSwitchTo(so->ctx);
		if (!so->started) {
			so->started = true;
			start_scan(scan, so);
		}
		bool found = false;
		while (!so->done) {
			if (so->ncands > 0) {
				std::pop_heap(so->cands, so->cands + so->ncands, farther);
				so->ncands--;
				scan->xs_heaptid = so->cands[so->ncands].tid;
				scan->xs_recheck = false;
				scan->xs_recheckorderby = false;
				found = true;
				break;
			}
			if (!probe_more(scan, so))
				so->done = true;
		}
		MemoryContextSwitchTo(old);
		return found;
	});
}

void ivfflatendscan(IndexScanDesc scan)
{
	prism::prism_guarded([&] {
		ScanOpaque *so = (ScanOpaque *) scan->opaque;
		MemoryContextDelete(so->ctx);
		scan->opaque = NULL;
		return 0;
	});
}
