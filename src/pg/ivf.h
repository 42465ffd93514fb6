// Shared declarations of the ivfflat access method (src/pg/ivf_*.cpp).
//
// Element types: the indexed column's type gives Shape::type (index_element_type in
// ivf_pages.cpp) and the metapage records it. k-means, the in-memory centers and list ranking
// work on float4 (core/ivf_element.h decodes stored vectors and stores centers); list tuples
// and the query are compared in the stored form with the element's kernels (Shape::elem). A
// new type needs: its ElementType, vector_bytes() and max_dims() in core/ivf_format.h, its codec
// and kernels in core/ivf_element.cpp, its datum in prepare_vector() / prepare_query(), and
// its opclasses in a SQL file. Build, insert, vacuum, scan and the check handle pages and
// lists only through those.
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
#include "core/ivf_element.h"
#include "core/ivf_format.h"
#include "core/ivf_kmeans.h"
#include "pg/ivf_inspect.h"

namespace prism {
namespace ivf {

enum ScanMode { kIterativeOff = 0, kIterativeRelaxed = 1 };

extern int guc_probes;
extern int guc_iterative_scan;
extern int guc_max_probes;

// Reloptions (varlena, stored in rd_options).
struct IvfOptions {
	int32 vl_len_;
	int lists;
};

// What an index is: from the catalog (build) or the metapage (everything else). Plain struct.
struct Shape {
	uint32 dims;
	Metric metric;
	ElementType type;
	uint32 lists;
	uint32 center_pages;
	uint32 centers_per_page;
	uint32 tuple_size;	 // bytes of one list tuple
	uint32 center_size;	 // bytes of one center item
	Kernels kernels;	 // float4 kernels: centers and decoded vectors
	size_t dims_param;	// the float4 kernels take a pointer to the dimension
	ElementOps elem;	// stored vectors: codec and kernels
	uint32 vec_bytes;	// bytes of one stored vector
};

constexpr BlockNumber kMetaBlock = 0;

inline PageSpecial *page_special(Page page) { return (PageSpecial *) PageGetSpecialPointer(page); }

// ivf_pages.cpp
void init_page(Page page, uint16 kind);
MetaPageData *page_meta(Page page);
size_t page_item_space();
void fill_shape(Shape *sh);	 // derived fields from dims/metric/type/lists
void read_shape(Relation index, Shape *sh);	 // from the metapage; ERRORs if it is not sound
// Shape of a new index from its definition (dimensions, opclass, lists).
void shape_for_build(Relation index, Shape *sh);
[[noreturn]] void report_corrupt(Relation index, BlockNumber blkno, const char *what);
// Copies a heap value into `out` (sh.vec_bytes) as the index stores it; false if it is not
// indexed (a zero vector under cosine). ERRORs on a dimension mismatch.
bool prepare_vector(const Shape &sh, Datum value, char *out);
// The query of a scan: `out` as prepare_vector stores it (a zero vector stays zero), `ranked`
// (sh.dims floats) the raw query as float4 to rank the centers with. ERRORs on a dimension
// mismatch with pgvector's wording for the type.
void prepare_query(const Shape &sh, Datum value, char *out, float *ranked);
// Index distance between a query and a stored vector (squared L2, -dot, 1 - dot, Hamming):
// orders like the opclass operator.
inline float tuple_distance(const Shape &sh, const void *q, const void *v)
{
	switch (sh.metric) {
	case Metric::L2:
	case Metric::Hamming:
		return sh.elem.l2sq(q, v, &sh.elem.param);
	case Metric::InnerProduct:
		return -sh.elem.dot(q, v, &sh.elem.param);
	case Metric::Cosine:
	default:
		return 1.0f - sh.elem.dot(q, v, &sh.elem.param);
	}
}
// Reads the center item `list`: checks it; decodes the vector into `vec` (if given, sh.dims
// floats) and copies the blocks.
void read_center(Relation index, const Shape &sh, Page page, BlockNumber blkno, uint32 list, CenterHeader *hdr,
				 float *vec);
// Item `off` of a list page as a list tuple, checked for size; ERRORs on a corrupt page.
const ListTupleHeader *list_tuple(Relation index, const Shape &sh, Page page, BlockNumber blkno, OffsetNumber off);
// Heap TID stored in a list tuple.
inline void tuple_tid(const ListTupleHeader *t, ItemPointer tid)
{
	tid->ip_blkid.bi_hi = t->block_hi;
	tid->ip_blkid.bi_lo = t->block_lo;
	tid->ip_posid = t->offset;
}
inline void set_tuple_tid(ListTupleHeader *t, ItemPointer tid)
{
	t->block_hi = tid->ip_blkid.bi_hi;
	t->block_lo = tid->ip_blkid.bi_lo;
	t->offset = tid->ip_posid;
	t->reserved = 0;
}
// ERRORs unless `blkno`, reached from page `from` (a center page or the previous list page)
// after `steps` steps along a list chain, can be a list page; the error names `from`, the page
// holding the bad link. *nblocks is the caller's idea of the index length, refreshed when the
// chain leads past it (another backend may have extended the list since).
void check_list_block(Relation index, const Shape &sh, BlockNumber from, BlockNumber blkno, BlockNumber steps,
					  BlockNumber *nblocks);
// Threads for k-means and assignment (prism.build_threads).
int build_threads();

// The centers of an index never change (inserts and VACUUM only touch the lists' blocks; a
// REINDEX makes a new relfilenode and so a new relcache entry), so a backend keeps a copy in
// rd_amcache: scans and inserts rank the lists without reading the center pages and read only
// the center items of the lists they use. Only used within one call (a relcache rebuild
// between calls frees it). ivf_scan.cpp; NULL when the centers are too big to cache.
struct CenterCache {
	Shape sh;
	float centers[FLEXIBLE_ARRAY_MEMBER];  // lists * dims
};
const CenterCache *center_cache(Relation index);

// ivf_insert.cpp: adds a prepared vector (`vec`, stored form; `decoded`, its float4 form) with
// its heap TID to the list of its nearest center (WAL-logged).
void insert_tuple(Relation index, const Shape &sh, const char *vec, const float *decoded, ItemPointer heap_tid);

}  // namespace ivf
}  // namespace prism

// AM callbacks.
IndexBuildResult *ivfflatbuild(Relation heap, Relation index, IndexInfo *indexInfo);
void ivfflatbuildempty(Relation index);
bool ivfflatinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
				   IndexUniqueCheck checkUnique, bool indexUnchanged, IndexInfo *indexInfo);
IndexBulkDeleteResult *ivfflatbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
										 IndexBulkDeleteCallback callback, void *callback_state);
IndexBulkDeleteResult *ivfflatvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);
IndexScanDesc ivfflatbeginscan(Relation index, int nkeys, int norderbys);
void ivfflatrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
bool ivfflatgettuple(IndexScanDesc scan, ScanDirection dir);
void ivfflatendscan(IndexScanDesc scan);
