// ambuild for ivfflat.
//
// 1. Scan the heap into memory (vectors + heap TIDs) while they fit in maintenance_work_mem,
//    less the centers and the k-means sample. Past that, only a uniform sample (reservoir) is
//    kept and the rows are read again in step 4.
// 2. k-means over a sample of max(50 * lists, 10000) rows on prism.build_threads threads (its
//    distance bounds use what maintenance_work_mem has left). Rows are kept as the index stores
//    them (float4, half or bits); the sample and the centers as float4 (ivf_element.h), the
//    centers rounded to what the center items hold. The threads run core code only,
//    on memory prepared here; this backend waits on its latch, reports progress and checks for
//    cancel. A memory-context reset callback stops and joins the threads, so an ERROR (or
//    cancel) anywhere leaves no thread running over freed memory.
// 3. Assign every row to its nearest center (threads again) and sort the rows by list.
// 4. Write the metapage and center pages, then each list as a chain of list pages (in list
//    order; in the spilled case, the second heap scan collects rows in batches that are
//    assigned on threads and appended to their lists' last pages), then the lists' first and
//    last blocks into the center items. The pages go through shared buffers without WAL and
//    are WAL-logged in one bulk pass at the end (log_newpage_range).
#include <cmath>

#include "pg/ivf.h"

extern "C" {
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
}

namespace prism {
namespace ivf {

// Build phases shown in pg_stat_progress_create_index (ivfflatbuildphasename).
enum { kPhaseLoad = 2, kPhaseKmeans = 3, kPhaseAssign = 4, kPhaseWrite = 5 };

struct BuildState {
	Relation heap;
	Relation index;
	Shape sh;
	MemoryContext ctx;
	size_t vec_bytes;	 // one stored vector
	size_t float_bytes;	 // one float4 vector (sample, centers)
	size_t budget;	// maintenance_work_mem in bytes
	// rows in memory (until spilled), stored form
	char *vecs;
	ItemPointerData *tids;
	size_t rows, cap, max_rows;
	// sample (float4): reservoir once spilled, else drawn from the rows at the end
	float *sample;
	char *scratch;	// one stored vector
	float *scratch_f;  // one float4 vector
	size_t sample_cap, sample_rows;
	double seen;  // indexable rows seen
	bool spilled;
	pg_prng_state prng;
	float *centers;
	Job *job;
	// list writing
	// second heap scan of a spilled build: rows are assigned in batches on threads
	char *batch_vecs;
	ItemPointerData *batch_tids;
	uint32 *batch_assign;
	size_t batch_rows, batch_cap;
	BlockNumber *start, *tail;
	Buffer cur_buf;	 // last page of cur_list, pinned and locked, or InvalidBuffer
	uint32 cur_list;
	double heap_tuples, index_tuples;
};

static void free_job(void *arg)
{
	BuildState *bs = (BuildState *) arg;
	job_free(bs->job);
	bs->job = nullptr;
}

// Waits for bs->job, reporting its progress as tuples done when `tuples` is set.
static void wait_job(BuildState *bs, bool tuples, const char *what)
{
	for (;;) {
		size_t done, total;
		bool finished = job_poll(bs->job, &done, &total);
		if (tuples)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) done);
		if (finished)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		// Not every pending interrupt cancels; if this ERRORs, the reset callback joins the threads.
		CHECK_FOR_INTERRUPTS();
	}
	if (job_error(bs->job)[0]) {
		char *msg = pstrdup(job_error(bs->job));
		free_job(bs);
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("ivfflat %s failed: %s", what, msg)));
	}
	free_job(bs);
}

static void check_start(BuildState *bs, const char *what, const char *error)
{
	if (!bs->job)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("could not start ivfflat %s: %s", what, error)));
}

// Copies row `v` into the reservoir (Algorithm R) once rows no longer fit.
static void sample_row(BuildState *bs, const float *v)
{
	bs->seen += 1;
	if (bs->sample_rows < bs->sample_cap) {
		memcpy(bs->sample + bs->sample_rows * bs->sh.dims, v, bs->float_bytes);
		bs->sample_rows++;
		return;
	}
	uint64 j = pg_prng_uint64_range(&bs->prng, 0, (uint64) bs->seen - 1);
	if (j < bs->sample_cap)
		memcpy(bs->sample + j * bs->sh.dims, v, bs->float_bytes);
}

// Selection sampling (Knuth's algorithm S) of sample_cap rows out of the rows in memory.
static void sample_from_rows(BuildState *bs)
{
	size_t want = Min(bs->sample_cap, bs->rows);
	size_t got = 0;
	for (size_t r = 0; r < bs->rows && got < want; r++) {
		double p = (double) (want - got) / (double) (bs->rows - r);
		if (pg_prng_double(&bs->prng) < p) {
			element_decode(bs->sh.elem, bs->vecs + r * bs->vec_bytes, bs->sample + got * bs->sh.dims);
			got++;
		}
	}
	bs->sample_rows = got;
}

static void spill(BuildState *bs)
{
	sample_from_rows(bs);
	bs->seen = (double) bs->rows;
	pfree(bs->vecs);
	pfree(bs->tids);
	bs->vecs = NULL;
	bs->tids = NULL;
	bs->rows = 0;
	bs->spilled = true;
	ereport(NOTICE, (errmsg("ivfflat rows no longer fit into maintenance_work_mem after %zu tuples", bs->max_rows),
					 errdetail("Building will take longer: k-means runs on a sample and the table is read twice."),
					 errhint("Increase maintenance_work_mem to speed up builds.")));
}

static void load_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool alive, void *arg)
{
	BuildState *bs = (BuildState *) arg;
	bs->heap_tuples++;
	if (isnull[0])
		return;
	if (!bs->spilled && bs->rows == bs->cap) {
		if (bs->cap >= bs->max_rows) {
			spill(bs);
		} else {
			size_t cap = Min(bs->cap * 2, bs->max_rows);
			bs->vecs = (char *) repalloc_huge(bs->vecs, cap * bs->vec_bytes);
			bs->tids = (ItemPointerData *) repalloc_huge(bs->tids, cap * sizeof(ItemPointerData));
			bs->cap = cap;
		}
	}
	if (bs->spilled) {
		if (prepare_vector(bs->sh, values[0], bs->scratch)) {
			element_decode(bs->sh.elem, bs->scratch, bs->scratch_f);
			sample_row(bs, bs->scratch_f);
		}
		return;
	}
	if (prepare_vector(bs->sh, values[0], bs->vecs + bs->rows * bs->vec_bytes)) {
		bs->tids[bs->rows] = *tid;
		bs->rows++;
		if (bs->rows % 1024 == 0)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->rows);
	}
}

// The centers as the center items hold them, so that build and inserts assign alike.
static void round_centers(const Shape &sh, float *centers)
{
	char *scratch = (char *) palloc(sh.vec_bytes);
	for (uint32 l = 0; l < sh.lists; l++)
		element_round(sh.elem, centers + (size_t) l * sh.dims, scratch);
	pfree(scratch);
}

static void run_kmeans(BuildState *bs)
{
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseKmeans);
	if (bs->sh.metric == Metric::InnerProduct) {
		// spherical k-means works on directions: the sample (a copy) is normalized
		for (size_t r = 0; r < bs->sample_rows; r++) {
			float *v = bs->sample + r * bs->sh.dims;
			double s = 0;
			for (uint32 d = 0; d < bs->sh.dims; d++)
				s += (double) v[d] * v[d];
			if (s > 0)
				for (uint32 d = 0; d < bs->sh.dims; d++)
					v[d] = (float) (v[d] / sqrt(s));
		}
	}
	if (bs->sample_rows < bs->sh.lists)
		ereport(NOTICE, (errmsg("ivfflat index created with little data"), errdetail("This will cause low recall."),
						 errhint("Drop the index until the table has more data.")));
	KmeansParams p;
	p.data = bs->sample;
	p.n = bs->sample_rows;
	p.dims = bs->sh.dims;
	p.k = bs->sh.lists;
	p.spherical = spherical(bs->sh.metric);
	p.binary = bs->sh.type == ElementType::Bit;
	p.threads = build_threads();
	p.seed = 0x5eed;
	p.max_iterations = kKmeansIterations;
	// k-means' distance bounds get what maintenance_work_mem has left
	size_t used = (bs->spilled ? 0 : bs->cap * (bs->vec_bytes + sizeof(ItemPointerData))) +
				  bs->sample_cap * bs->float_bytes + (size_t) bs->sh.lists * bs->float_bytes;
	p.bound_memory = bs->budget > used ? bs->budget - used : 0;
	char error[256];
	bs->job = kmeans_start(p, bs->centers, error, sizeof(error));
	check_start(bs, "k-means", error);
	wait_job(bs, false, "k-means");
	round_centers(bs->sh, bs->centers);
}

static Buffer new_page(Relation index, ForkNumber fork, uint16 kind)
{
	Buffer buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	init_page(BufferGetPage(buf), kind);
	return buf;
}

// Metapage and center pages (lists' blocks from start/insert, or empty when NULL). Without WAL:
// the caller logs the whole fork.
static void write_meta_and_centers(Relation index, ForkNumber fork, const Shape &sh, const float *centers,
								   size_t samples, const BlockNumber *start, const BlockNumber *insert)
{
	Buffer mbuf = new_page(index, fork, kPageMeta);
	if (BufferGetBlockNumber(mbuf) != kMetaBlock)
		elog(ERROR, "ivfflat metapage is not block 0");
	Page page = BufferGetPage(mbuf);
	MetaPageData *meta = page_meta(page);
	memset(meta, 0, sizeof(*meta));
	meta->magic = kMagic;
	meta->version = kFormatVersion;
	meta->dims = sh.dims;
	meta->metric = (uint8) sh.metric;
	meta->element_type = (uint8) sh.type;
	meta->lists = sh.lists;
	meta->center_pages = sh.center_pages;
	meta->centers_per_page = sh.centers_per_page;
	meta->samples = (uint32) Min(samples, (size_t) PG_UINT32_MAX);
	((PageHeader) page)->pd_lower = (char *) meta + sizeof(MetaPageData) - (char *) page;
	MarkBufferDirty(mbuf);
	UnlockReleaseBuffer(mbuf);

	char *item = (char *) palloc0(sh.center_size);
	Buffer buf = InvalidBuffer;
	for (uint32 l = 0; l < sh.lists; l++) {
		if (l % sh.centers_per_page == 0) {
			if (BufferIsValid(buf)) {
				MarkBufferDirty(buf);
				UnlockReleaseBuffer(buf);
			}
			buf = new_page(index, fork, kPageCenter);
			if (BufferGetBlockNumber(buf) != center_block(l, sh.centers_per_page))
				elog(ERROR, "ivfflat center page at an unexpected block");
		}
		CenterHeader *h = (CenterHeader *) item;
		h->start_block = start ? start[l] : kInvalidBlock;
		h->insert_block = insert ? insert[l] : kInvalidBlock;
		element_encode(sh.elem, centers + (size_t) l * sh.dims, item + sizeof(CenterHeader));
		if (PageAddItem(BufferGetPage(buf), (Item) item, sh.center_size, InvalidOffsetNumber, false, false) !=
			center_offset(l, sh.centers_per_page))
			elog(ERROR, "failed to add center to ivfflat index \"%s\"", RelationGetRelationName(index));
	}
	if (BufferIsValid(buf)) {
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
	pfree(item);
}

static void release_current(BuildState *bs)
{
	if (BufferIsValid(bs->cur_buf)) {
		MarkBufferDirty(bs->cur_buf);
		UnlockReleaseBuffer(bs->cur_buf);
		bs->cur_buf = InvalidBuffer;
	}
}

// Appends a tuple to the last page of `list` (without WAL), chaining a new page when full.
static void build_append(BuildState *bs, uint32 list, const char *tuple)
{
	Relation index = bs->index;
	if (!BufferIsValid(bs->cur_buf) || bs->cur_list != list) {
		release_current(bs);
		if (bs->tail[list] != kInvalidBlock) {
			bs->cur_buf = ReadBuffer(index, bs->tail[list]);
			LockBuffer(bs->cur_buf, BUFFER_LOCK_EXCLUSIVE);
		}
		bs->cur_list = list;
	}
	if (!BufferIsValid(bs->cur_buf) || PageGetFreeSpace(BufferGetPage(bs->cur_buf)) < MAXALIGN(bs->sh.tuple_size)) {
		Buffer nbuf = new_page(index, MAIN_FORKNUM, kPageList);
		BlockNumber nblk = BufferGetBlockNumber(nbuf);
		if (BufferIsValid(bs->cur_buf))
			page_special(BufferGetPage(bs->cur_buf))->next = nblk;
		else
			bs->start[list] = nblk;
		release_current(bs);
		bs->cur_buf = nbuf;
		bs->tail[list] = nblk;
	}
	if (PageAddItem(BufferGetPage(bs->cur_buf), (Item) tuple, bs->sh.tuple_size, InvalidOffsetNumber, false, false) ==
		InvalidOffsetNumber)
		elog(ERROR, "failed to add tuple to ivfflat index \"%s\"", RelationGetRelationName(index));
	bs->index_tuples++;
}

// Writes the lists' first and last blocks into the center items (after the lists).
static void update_centers(BuildState *bs)
{
	const Shape &sh = bs->sh;
	for (uint32 p = 0; p < sh.center_pages; p++) {
		Buffer buf = ReadBuffer(bs->index, 1 + p);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		Page page = BufferGetPage(buf);
		for (uint32 l = p * sh.centers_per_page; l < Min(sh.lists, (p + 1) * sh.centers_per_page); l++) {
			CenterHeader *h = (CenterHeader *) PageGetItem(page, PageGetItemId(page, center_offset(l, sh.centers_per_page)));
			h->start_block = bs->start[l];
			h->insert_block = bs->tail[l];
		}
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
}

static void init_lists(BuildState *bs)
{
	bs->start = (BlockNumber *) palloc(sizeof(BlockNumber) * bs->sh.lists);
	bs->tail = (BlockNumber *) palloc(sizeof(BlockNumber) * bs->sh.lists);
	for (uint32 l = 0; l < bs->sh.lists; l++)
		bs->start[l] = bs->tail[l] = kInvalidBlock;
	bs->cur_buf = InvalidBuffer;
}

// All rows are in memory: assign them on threads, then write list by list.
static void write_from_memory(BuildState *bs)
{
	const Shape &sh = bs->sh;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseAssign);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) bs->rows);
	uint32 *assign = (uint32 *) palloc_extended(sizeof(uint32) * Max(bs->rows, (size_t) 1), MCXT_ALLOC_HUGE);
	if (bs->rows > 0) {
		AssignParams a;
		a.data = bs->vecs;
		a.type = sh.type;
		a.n = bs->rows;
		a.dims = sh.dims;
		a.centers = bs->centers;
		a.k = sh.lists;
		a.spherical = spherical(sh.metric);
		a.threads = build_threads();
		char error[256];
		bs->job = assign_start(a, assign, error, sizeof(error));
		check_start(bs, "assignment", error);
		wait_job(bs, true, "assignment");
	}
	// rows grouped by list, in heap order within a list
	size_t *first = (size_t *) palloc0(sizeof(size_t) * (sh.lists + 1));
	for (size_t r = 0; r < bs->rows; r++)
		first[assign[r] + 1]++;
	for (uint32 l = 0; l < sh.lists; l++)
		first[l + 1] += first[l];
	uint32 *order = (uint32 *) palloc_extended(sizeof(uint32) * Max(bs->rows, (size_t) 1), MCXT_ALLOC_HUGE);
	{
		size_t *pos = (size_t *) palloc(sizeof(size_t) * sh.lists);
		memcpy(pos, first, sizeof(size_t) * sh.lists);
		for (size_t r = 0; r < bs->rows; r++)
			order[pos[assign[r]]++] = (uint32) r;
		pfree(pos);
	}
	pfree(assign);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseWrite);
	write_meta_and_centers(bs->index, MAIN_FORKNUM, sh, bs->centers, bs->sample_rows, NULL, NULL);
	init_lists(bs);
	char *tuple = (char *) palloc0(sh.tuple_size);
	for (uint32 l = 0; l < sh.lists; l++) {
		for (size_t j = first[l]; j < first[l + 1]; j++) {
			size_t r = order[j];
			set_tuple_tid((ListTupleHeader *) tuple, &bs->tids[r]);
			memcpy(tuple + sizeof(ListTupleHeader), bs->vecs + r * bs->vec_bytes, bs->vec_bytes);
			build_append(bs, l, tuple);
			if ((j & 1023) == 0) {
				pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) j);
				CHECK_FOR_INTERRUPTS();
			}
		}
	}
	release_current(bs);
	update_centers(bs);
}

// Assigns the batched rows of a spilled build on threads and appends them to their lists.
static void flush_batch(BuildState *bs)
{
	const Shape &sh = bs->sh;
	if (bs->batch_rows == 0)
		return;
	AssignParams a;
	a.data = bs->batch_vecs;
	a.type = sh.type;
	a.n = bs->batch_rows;
	a.dims = sh.dims;
	a.centers = bs->centers;
	a.k = sh.lists;
	a.spherical = spherical(sh.metric);
	a.threads = build_threads();
	char error[256];
	bs->job = assign_start(a, bs->batch_assign, error, sizeof(error));
	check_start(bs, "assignment", error);
	wait_job(bs, false, "assignment");
	char *tuple = (char *) palloc0(sh.tuple_size);
	for (size_t r = 0; r < bs->batch_rows; r++) {
		set_tuple_tid((ListTupleHeader *) tuple, &bs->batch_tids[r]);
		memcpy(tuple + sizeof(ListTupleHeader), bs->batch_vecs + r * bs->vec_bytes, bs->vec_bytes);
		build_append(bs, bs->batch_assign[r], tuple);
	}
	pfree(tuple);
	release_current(bs);
	bs->batch_rows = 0;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->index_tuples);
}

// Second heap scan of a spilled build: rows are collected in batches (see flush_batch).
static void append_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool alive, void *arg)
{
	BuildState *bs = (BuildState *) arg;
	if (isnull[0])
		return;
	if (prepare_vector(bs->sh, values[0], bs->batch_vecs + bs->batch_rows * bs->vec_bytes)) {
		bs->batch_tids[bs->batch_rows++] = *tid;
		if (bs->batch_rows == bs->batch_cap)
			flush_batch(bs);
	}
}

static void write_from_heap(BuildState *bs, IndexInfo *indexInfo)
{
	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseAssign);
	write_meta_and_centers(bs->index, MAIN_FORKNUM, bs->sh, bs->centers, bs->sample_rows, NULL, NULL);
	init_lists(bs);
	bs->batch_cap = Max((size_t) 1, Min(bs->max_rows, (size_t) 16384));
	bs->batch_vecs = (char *) palloc_extended(bs->batch_cap * bs->vec_bytes, MCXT_ALLOC_HUGE);
	bs->batch_tids = (ItemPointerData *) palloc_extended(bs->batch_cap * sizeof(ItemPointerData), MCXT_ALLOC_HUGE);
	bs->batch_assign = (uint32 *) palloc_extended(bs->batch_cap * sizeof(uint32), MCXT_ALLOC_HUGE);
	(void) table_index_build_scan(bs->heap, bs->index, indexInfo, true, true, append_callback, (void *) bs, NULL);
	flush_batch(bs);
	release_current(bs);
	update_centers(bs);
}

}  // namespace ivf
}  // namespace prism

using namespace prism::ivf;

static IndexBuildResult *ivfflatbuild_impl(Relation heap, Relation index, IndexInfo *indexInfo)
{
	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	BuildState *bs = (BuildState *) palloc0(sizeof(BuildState));
	bs->heap = heap;
	bs->index = index;
	shape_for_build(index, &bs->sh);
	const Shape &sh = bs->sh;
	bs->vec_bytes = sh.vec_bytes;
	bs->float_bytes = sizeof(float) * (size_t) sh.dims;
	bs->ctx = AllocSetContextCreate(CurrentMemoryContext, "ivfflat build", ALLOCSET_DEFAULT_SIZES);
	MemoryContextCallback *cb = (MemoryContextCallback *) MemoryContextAlloc(bs->ctx, sizeof(MemoryContextCallback));
	cb->func = free_job;
	cb->arg = bs;
	MemoryContextRegisterResetCallback(bs->ctx, cb);
	pg_prng_seed(&bs->prng, 0x1f5eed);

	// Memory: the centers first, a quarter of the rest at most for the sample, then the rows.
	size_t budget = (size_t) maintenance_work_mem * 1024;
	bs->budget = budget;
	size_t centers_bytes = (size_t) sh.lists * bs->float_bytes;
	size_t row_bytes = bs->vec_bytes + sizeof(ItemPointerData) + 2 * sizeof(uint32);
	size_t least = centers_bytes + 2 * bs->float_bytes;
	if (least > budget)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("memory required is %zu MB, maintenance_work_mem is %d MB", least / (1024 * 1024) + 1,
							   maintenance_work_mem / 1024),
						errhint("Increase maintenance_work_mem or lower lists.")));
	size_t rest = budget - centers_bytes;
	bs->sample_cap = Max((size_t) 1, Min(wanted_samples(sh.lists), rest / 4 / bs->float_bytes));
	bs->max_rows = Max((size_t) 1, (rest - Min(rest, bs->sample_cap * bs->float_bytes)) / row_bytes);

	MemoryContext old = MemoryContextSwitchTo(bs->ctx);
	bs->centers = (float *) palloc_extended(Max(centers_bytes, (size_t) 1), MCXT_ALLOC_HUGE);
	bs->sample = (float *) palloc_extended(bs->sample_cap * bs->float_bytes, MCXT_ALLOC_HUGE);
	bs->scratch = (char *) palloc(bs->vec_bytes);
	bs->scratch_f = (float *) palloc(bs->float_bytes);
	double est = heap->rd_rel->reltuples > 0 ? heap->rd_rel->reltuples : 1024;
	bs->cap = (size_t) Min(Max(est, 1024.0), (double) bs->max_rows);
	bs->vecs = (char *) palloc_extended(bs->cap * bs->vec_bytes, MCXT_ALLOC_HUGE);
	bs->tids = (ItemPointerData *) palloc_extended(bs->cap * sizeof(ItemPointerData), MCXT_ALLOC_HUGE);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, kPhaseLoad);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) est);
	bs->heap_tuples = table_index_build_scan(heap, index, indexInfo, true, true, load_callback, (void *) bs, NULL);

	if (!bs->spilled) {
		sample_from_rows(bs);
		run_kmeans(bs);
		write_from_memory(bs);
	} else {
		run_kmeans(bs);
		write_from_heap(bs, indexInfo);
	}
	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);
	MemoryContextSwitchTo(old);

	IndexBuildResult *result = (IndexBuildResult *) palloc(sizeof(IndexBuildResult));
	result->heap_tuples = bs->heap_tuples;
	result->index_tuples = bs->index_tuples;
	MemoryContextDelete(bs->ctx);
	return result;
}

IndexBuildResult *ivfflatbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	return prism::prism_guarded([&] { return ivfflatbuild_impl(heap, index, indexInfo); });
}

// The init fork of an unlogged index: random centers, empty lists.
void ivfflatbuildempty(Relation index)
{
	prism::prism_guarded([&] {
		Shape sh;
		shape_for_build(index, &sh);
		float *centers = (float *) palloc_extended(Max((size_t) sh.lists * sh.dims * sizeof(float), (size_t) 1),
												   MCXT_ALLOC_HUGE);
		random_centers(sh.lists, sh.dims, spherical(sh.metric), 0x5eed, centers);
		round_centers(sh, centers);
		write_meta_and_centers(index, INIT_FORKNUM, sh, centers, 0, NULL, NULL);
		log_newpage_range(index, INIT_FORKNUM, 0, RelationGetNumberOfBlocksInFork(index, INIT_FORKNUM), true);
		pfree(centers);
		return 0;
	});
}
