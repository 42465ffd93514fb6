// Shared declarations of the hnsw access method (src/pg/hnsw_*.cpp).
#pragma once

#include "pg/boundary.h"

extern "C" {
#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"
}

#include "core/distance.h"
#include "core/hnsw_element.h"
#include "core/hnsw_format.h"
#include "core/hnsw_page_check.h"
#include "core/hnsw_record.h"
#include "core/hnsw_search.h"

namespace prism {
namespace hnsw {

// Scan ordering when the executor asks for more rows than ef_search produced.
enum ScanMode { kIterativeOff = 0, kIterativeRelaxed = 1, kIterativeStrict = 2 };

extern int guc_ef_search;
extern int guc_iterative_scan;
extern int guc_max_scan_tuples;
extern double guc_scan_mem_multiplier;
extern int guc_build_threads;

// Reloptions (varlena, stored in rd_options).
struct HnswOptions {
	int32 vl_len_;
	int m;
	int ef_construction;
};

// A decoded copy of the metapage plus derived constants. Plain struct, trivially destructible.
struct IndexShape {
	uint32 dims;
	Metric metric;
	int m;
	int ef_construction;
	uint32 per_page;
	uint32 span;
	uint32 record_size;
	uint32 chunk;
	uint32 entry_point;
	int entry_level;
	ElementKind element;  // what the opclass stores per row (float32, half, bit, sparse)
	size_t words;		  // 32-bit words of one stored element (element_words)
	ElementSpace space;	  // its kernel under `metric`
};

// Heavyweight lock tag that serializes graph writers (inserts and vacuum repair). Scans never
// take it: they read each record under a shared buffer lock.
constexpr BlockNumber kWriterLock = 0;

// A heap TID as element records store it.
inline HeapTid heap_tid_of(const ItemPointerData *src)
{
	return HeapTid{src->ip_blkid.bi_hi, src->ip_blkid.bi_lo, src->ip_posid};
}
// The heap TID stored as `t`.
inline void item_pointer_of(HeapTid t, ItemPointerData *out)
{
	out->ip_blkid.bi_hi = t.block_hi;
	out->ip_blkid.bi_lo = t.block_lo;
	out->ip_posid = t.offset;
}

inline PageOpaque *page_opaque(Page page) { return (PageOpaque *) PageGetSpecialPointer(page); }

// hnsw_meta.cpp: the metapage is read and changed only through these.
void read_shape(Relation index, IndexShape *shape);	 // copies the metapage, ERRORs if bad
// Copies the metapage into *meta once the page checker passed it (ranges against nblocks;
// InvalidBlockNumber skips them); ERRORs otherwise.
void meta_read(Relation index, BlockNumber nblocks, MetaPageData *meta);
// Whether a VACUUM left deleted elements to free (false on an unreadable metapage).
bool meta_vacuum_pending(Relation index);
// Changes the metapage under an exclusive lock: `change` edits a copy and says whether it
// changed anything; if so, one WAL record (the metapage) writes the copy back.
bool meta_change(Relation index, bool (*change)(MetaPageData *meta, void *arg), void *arg);
template <class F> bool meta_update(Relation index, F change)
{
	return meta_change(
		index, [](MetaPageData *meta, void *arg) { return (*static_cast<F *>(arg))(meta); }, &change);
}

// hnsw_pages.cpp
void init_page(Page page, uint16 kind);
void shape_from_meta(const MetaPageData *meta, IndexShape *shape);
MetaPageData *page_meta(Page page);
size_t element_item_space();
size_t element_max_item();
ElementLayout layout_for(int m, size_t words);
void fill_shape_layout(IndexShape *shape);
[[noreturn]] void report_corrupt(Relation index, const char *what, uint32 id);
// Graph distance between two stored elements (words as float pointers, see hnsw_element.h).
inline float metric_distance(const IndexShape &shape, const float *a, const float *b)
{
	return element_distance(shape.space, a, b);
}
void write_upper_links(Relation index, BufferAccessStrategy strategy, uint32 id, BlockNumber ub,
					   OffsetNumber uoff, int elevel, const IndexShape &sh, int level, const uint32 *links, int n);
// Encodes a heap datum of the indexed type as the stored element in out[0..sh.words) (normalized
// for cosine); false if it is not indexed (a zero vector under cosine).
bool prepare_vector(const IndexShape &sh, Datum value, float *out);
// The same for a scan's query (a zero vector under cosine stays zero).
void prepare_query(const IndexShape &sh, Datum value, float *out);
int random_level(int m);
// The indexed column's dimensions (typmod; bits for bit), checked against the element's limit.
int index_dimensions(Relation index, ElementKind element);
Metric index_metric(Relation index);
// The stored element of the index's opclass (its input type) and metric: ERRORs for a type the
// hnsw index cannot store.
ElementKind index_element(Relation index, Metric metric);
// Fills the shape of a new index from its definition (dims, metric, element, options, layout).
void shape_from_index(Relation index, IndexShape *shape);
void index_options(Relation index, int *m, int *ef_construction);

// hnsw_verify.cpp: corrupted pages ERROR with errmsg "index \"%s\" contains a corrupted page at
// block %u" and the checker's finding as detail. The caller may hold buffer locks and pins
// (the ERROR releases them).
PageShape page_shape(const IndexShape &sh, BlockNumber nblocks);
[[noreturn]] void report_corrupt_page(Relation index, BlockNumber blkno, const char *detail);
// Runs the page checker (re-checking with a fresh index length if an id lies past *nblocks).
bool check_index_page(Relation index, const IndexShape &sh, BlockNumber blkno, Page page, BlockNumber *nblocks,
					  PageCheck *out);
// ERRORs unless the page passes the checker and (want_kind != 0) is of that kind.
void verify_page(Relation index, const IndexShape &sh, BlockNumber blkno, Page page, BlockNumber *nblocks,
				 uint16 want_kind);
// A record of block `blkno` failed a per-visit check: ERRORs with the checker's finding, or with
// `fallback` if the page is sound (then the id that led to it was wrong).
[[noreturn]] void report_bad_record(Relation index, const IndexShape &sh, BlockNumber blkno, Page page, uint32 id,
									const char *fallback) __attribute__((cold, noinline));
// Error context callback (arg: the index Relation) for scans and inserts: Postgres' own error
// for a page it refuses to read ("invalid page in block N of relation base/...", SQLSTATE
// XX001) names only the file, so this adds the index name to errors of that SQLSTATE.
void corrupt_read_context(void *arg);
// ERRORs unless the metapage passes the checker (ranges against nblocks; InvalidBlockNumber
// skips them); fills *meta.
void verify_meta(Relation index, Page page, BlockNumber nblocks, MetaPageData *meta);

struct SparseReads;
float sparse_store_pair_distance(struct PgStore *s, const float *a, const float *b);

// The buffer-backed graph store used by search and insert (hnsw_store.cpp).
struct PgStore {
	Relation index;
	const IndexShape *shape;
	BlockNumber nblocks;
	float *scratch;	 // one stored element (shape->words), for records spanning pages
	uint64 pages_read;
	bool writer;  // this backend holds kWriterLock: reads need no buffer content locks
	SparseReads *sparse;  // sparse elements: buffers for their side items (hnsw_sparse.h)

	float distance(uint32_t id, const float *q, uint8_t *flags);
	void prefetch(uint32_t id);
	int links(uint32_t id, int level, uint32_t *out);
	void vector(uint32_t id, float *out);
	// Copies the vector of live/deleted elements and (in_links0 non-null) their in-link count.
	uint8_t vector_flags(uint32_t id, float *out, uint16_t *in_links0 = nullptr);
	float pair_distance(const float *a, const float *b)
	{
		return sparse ? sparse_store_pair_distance(this, a, b) : metric_distance(*shape, a, b);
	}
	bool grow(CandidateArray &a, size_t need);
};
void store_init(PgStore *s, Relation index, const IndexShape *shape);

// The reads of the core graph operations (src/core/hnsw_graph.h) over a PgStore; insert and
// vacuum add what differs between them (which elements are usable, how a list is written).
struct PgGraphReads {
	PgStore *store;

	size_t dimensions() const { return store->shape->words; }
	float pair_distance(const float *a, const float *b) const { return store->pair_distance(a, b); }
	int links(uint32 id, int level, uint32 *out) { return store->links(id, level, out); }
	void vector(uint32 id, float *out) { store->vector(id, out); }
	uint16 stored_in_links(uint32 id);
};
// Reads the element header (copy) and its heap TIDs; returns false if id is not a valid slot.
bool store_element(PgStore *s, uint32 id, ElementHeader *hdr);
// Counts one step along the duplicate chain of element `head`: a chain longer than the index has
// slots is a cycle, reported as corruption (walks would otherwise never end).
void count_chain_step(PgStore *s, uint64 *steps, uint32 head);

// Per-backend visited set sized for the index (hnsw_scan.cpp).
VisitedSet *acquire_visited(size_t capacity, bool *shared);
void release_visited(VisitedSet *v, bool shared);

// hnsw_links.cpp: replaces the level-0 links of element `owner` (old_links[0..n_old), as the
// caller read them; NULL: read here) by links[0..n) (links NULL: the list stays) and keeps the
// in-link counts of the elements gained or lost right, adding owner_delta to the owner's own
// count (for a link to it made elsewhere: +1); a gain or loss of `counted_by_caller` is left to
// the caller (an insert counts its new element's in-links once). The caller holds kWriterLock. Writes one WAL
// record, more if the counts touch more than 4 pages.
void write_links0(Relation index, BufferAccessStrategy strategy, const IndexShape &sh, uint32 owner,
				  const uint32 *old_links, int n_old, const uint32 *links, int n, int owner_delta,
				  uint32 counted_by_caller = kInvalidId);
// The same at any level (upper levels keep no counts: owner_delta and counted_by_caller apply at
// level 0 only).
void write_links(Relation index, BufferAccessStrategy strategy, const IndexShape &sh, uint32 id, int level,
				 const uint32 *old_links, int n_old, const uint32 *links, int n, int owner_delta = 0,
				 uint32 counted_by_caller = kInvalidId);
// Adds `delta` to the level-0 in-link count of element `id` (one WAL record).
void add_in_links(Relation index, const IndexShape &sh, uint32 id, int delta);

// hnsw_insert.cpp: inserts one vector (already validated) with its heap TID.
void insert_element(Relation index, const float *vec, ItemPointer heap_tid);

void init_candidates(CandidateArray *a, size_t capacity);

// The distance an hnsw scan computed for the heap row it returned last, so the executor's
// evaluation of the ORDER BY expression for that row can reuse it (hnsw_plan.cpp). Set by
// hnswgettuple, cleared when that scan's memory goes; `query` points into the scan's memory.
struct ReturnedDistance {
	const void *scan;  // the scan that set it; NULL when empty
	Oid heap;
	RelFileNode heap_node;
	TupleDesc heap_desc;	 // the heap's, valid while the scan is
	AttrNumber column;		 // the indexed heap column
	ItemPointerData tid;
	Metric metric;
	const float *query;
	uint32 dims;
	double value;  // the ORDER BY operator's value for this row
	uint64 *reused;	 // the scan's count of values taken
	// Set by a distance-bound qual this row failed (hnsw_plan.cpp): the scan then ends, as no
	// later row can pass. NULL unless the scan returns rows in non-decreasing distance
	// (hnsw.iterative_scan = strict_order).
	bool *bound_passed;
};
extern ReturnedDistance last_returned;
extern bool guc_reuse_scan_distances;
void define_planner_hook();

}  // namespace hnsw
}  // namespace prism

// AM callbacks (C linkage not needed: reached through the IndexAmRoutine pointers).
IndexBuildResult *hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo);
void hnswbuildempty(Relation index);
bool hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
				IndexUniqueCheck checkUnique, bool indexUnchanged, IndexInfo *indexInfo);
IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
									  IndexBulkDeleteCallback callback, void *callback_state);
IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);
IndexScanDesc hnswbeginscan(Relation index, int nkeys, int norderbys);
void hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
bool hnswgettuple(IndexScanDesc scan, ScanDirection dir);
void hnswendscan(IndexScanDesc scan);
