// Introspection and integrity check of ivfflat indexes: prism.ivfflat_info() and
// prism.ivfflat_check(). The check never ERRORs on a bad page: every broken invariant becomes a
// row (problem, block, detail). It reads one page at a time under a shared lock, so it runs
// alongside inserts and VACUUM; pages added while it runs are followed but not checked for
// being reachable.
#include <cmath>

#include "pg/ivf.h"

extern "C" {
#include "access/relation.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "utils/syscache.h"
#include "funcapi.h"
#include "utils/acl.h"
#include "utils/tuplestore.h"
}

namespace prism {
namespace ivf {

constexpr uint64 kMaxProblemRows = 1000;  // a wrecked index is summarized, not listed in full

static Relation open_ivf_index(Oid relid)
{
	Relation rel = relation_open(relid, AccessShareLock);
	char kind = rel->rd_rel->relkind;
	if (kind == RELKIND_INDEX || kind == RELKIND_PARTITIONED_INDEX) {
		Oid heap = rel->rd_index->indrelid;
		AclResult acl = pg_class_aclcheck(heap, GetUserId(), ACL_SELECT);
		if (acl != ACLCHECK_OK)
			aclcheck_error(acl, OBJECT_TABLE, get_rel_name(heap));
	}
	if (kind != RELKIND_INDEX || rel->rd_indam == NULL || rel->rd_indam->ambuild != ivfflatbuild)
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
						errmsg("\"%s\" is not an ivfflat index", RelationGetRelationName(rel)),
						kind == RELKIND_PARTITIONED_INDEX
							? errdetail("A partitioned index has no storage; inspect the index of each partition.")
							: 0));
	return rel;
}

// What one walk over the index found.
struct Walk {
	Relation index;
	Tuplestorestate *out;  // NULL: count only
	TupleDesc desc;
	uint64 problems;
	BlockNumber nblocks;
	Shape sh;
	MetaPageData meta;
	uint32 *owner;	// per block below nblocks: list + 1 whose chain holds it, 0 if none
	uint64 tuples;
	uint32 empty_lists;
	uint64 min_list, max_list;
};

static void problem(Walk *w, const char *what, BlockNumber blkno, const char *detail)
{
	w->problems++;
	if (!w->out || w->problems > kMaxProblemRows)
		return;
	Datum values[3] = {CStringGetTextDatum(what), Int64GetDatum((int64) blkno), CStringGetTextDatum(detail)};
	bool nulls[3] = {false, blkno == InvalidBlockNumber, false};
	tuplestore_putvalues(w->out, w->desc, values, nulls);
}

static bool page_kind_is(Page page, uint16 kind)
{
	return !PageIsNew(page) && PageGetSpecialSize(page) == MAXALIGN(sizeof(PageSpecial)) &&
		   page_special(page)->kind == kind;
}

// The metapage: false (with a row) when it cannot be used.
static bool walk_meta(Walk *w)
{
	if (w->nblocks == 0) {
		problem(w, "empty index", InvalidBlockNumber, "the index has no metapage");
		return false;
	}
	Buffer buf = ReadBuffer(w->index, kMetaBlock);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	Page page = BufferGetPage(buf);
	bool ok = page_kind_is(page, kPageMeta);
	if (ok)
		memcpy(&w->meta, page_meta(page), sizeof(MetaPageData));
	UnlockReleaseBuffer(buf);
	const MetaPageData &m = w->meta;
	if (!ok)
		problem(w, "bad metapage", kMetaBlock, "not an ivfflat metapage");
	else if (m.magic != kMagic)
		problem(w, "bad metapage", kMetaBlock, psprintf("magic number %08x", m.magic));
	else if (m.version != kFormatVersion)
		problem(w, "bad metapage", kMetaBlock, psprintf("format version %u (this prism reads %u)", m.version, kFormatVersion));
	else if (!element_type_valid(m.element_type) || !metric_valid(m.metric) ||
			 !metric_fits((ElementType) m.element_type, (Metric) m.metric) || m.dims < 1 ||
			 m.dims > (uint32) max_dims((ElementType) m.element_type) || m.lists < (uint32) kMinLists ||
			 m.lists > (uint32) kMaxLists)
		problem(w, "bad metapage", kMetaBlock,
				psprintf("dimensions %u, metric %u, element type %u, lists %u", m.dims, m.metric, m.element_type, m.lists));
	else {
		w->sh.dims = m.dims;
		w->sh.metric = (Metric) m.metric;
		w->sh.type = (ElementType) m.element_type;
		w->sh.lists = m.lists;
		fill_shape(&w->sh);
		if (w->sh.center_pages != m.center_pages || w->sh.centers_per_page != m.centers_per_page)
			problem(w, "bad metapage", kMetaBlock,
					psprintf("%u center pages of %u centers; %u dimensions need %u of %u", m.center_pages,
							 m.centers_per_page, m.dims, w->sh.center_pages, w->sh.centers_per_page));
		else if (1 + w->sh.center_pages > w->nblocks)
			problem(w, "bad metapage", kMetaBlock, psprintf("%u center pages, the index has %u blocks",
															w->sh.center_pages, w->nblocks));
		else
			return true;
	}
	return false;
}

static double norm_of(const float *v, uint32 dims)
{
	double s = 0;
	for (uint32 i = 0; i < dims; i++)
		s += (double) v[i] * v[i];
	return sqrt(s);
}

// One list: its center item, then its chain of pages.
static void walk_list(Walk *w, uint32 list, Page cpage, BlockNumber cblk)
{
	const Shape &sh = w->sh;
	OffsetNumber off = center_offset(list, sh.centers_per_page);
	if (off > PageGetMaxOffsetNumber(cpage)) {
		problem(w, "missing center", cblk, psprintf("list %u has no center item", list));
		return;
	}
	ItemId iid = PageGetItemId(cpage, off);
	if (!ItemIdIsNormal(iid) || ItemIdGetLength(iid) != sh.center_size ||
		ItemIdGetOffset(iid) + ItemIdGetLength(iid) > BLCKSZ) {
		problem(w, "bad center item", cblk, psprintf("list %u: item of %u bytes, expected %u", list, ItemIdGetLength(iid), sh.center_size));
		return;
	}
	CenterHeader h;
	const char *item = (const char *) PageGetItem(cpage, iid);
	memcpy(&h, item, sizeof(h));
	float *center = (float *) palloc(sizeof(float) * sh.dims);
	element_decode(sh.elem, item + sizeof(CenterHeader), center);
	double cn = norm_of(center, sh.dims);
	// halves keep 11 significant bits: a unit vector stored as halves is off by up to ~1e-3
	const double tolerance = sh.type == ElementType::Half ? 4e-3 : 1e-3;
	if (!std::isfinite(cn))
		problem(w, "bad center", cblk, psprintf("list %u: the center is not finite", list));
	else if (spherical(sh.metric) && fabs(cn - 1.0) > tolerance)
		problem(w, "bad center", cblk, psprintf("list %u: center of length %g, expected 1", list, cn));
	pfree(center);
	if ((h.start_block == kInvalidBlock) != (h.insert_block == kInvalidBlock)) {
		problem(w, "bad center item", cblk, psprintf("list %u: start block %u but insert block %u", list, h.start_block, h.insert_block));
		return;
	}
	uint64 count = 0;
	bool insert_seen = h.insert_block == kInvalidBlock;
	BlockNumber blkno = h.start_block, from = cblk;
	float *vec = (float *) palloc(sizeof(float) * sh.dims);
	for (BlockNumber steps = 0; blkno != kInvalidBlock; steps++) {
		CHECK_FOR_INTERRUPTS();
		BlockNumber now = RelationGetNumberOfBlocks(w->index);
		if (blkno <= sh.center_pages || blkno >= now) {
			problem(w, "bad list link", from, psprintf("list %u: link to block %u, outside the list pages", list, blkno));
			break;
		}
		if (blkno < w->nblocks) {
			if (w->owner[blkno] != 0) {
				problem(w, "bad list link", from,
						w->owner[blkno] == list + 1
							? psprintf("list %u: link back to block %u (a cycle)", list, blkno)
							: psprintf("list %u: link to block %u of list %u", list, blkno, w->owner[blkno] - 1));
				break;
			}
			w->owner[blkno] = list + 1;
		} else if (steps > now) {
			problem(w, "bad list link", from, psprintf("list %u: chain longer than the index", list));
			break;
		}
		if (blkno == h.insert_block)
			insert_seen = true;
		Buffer buf = ReadBuffer(w->index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		if (!page_kind_is(page, kPageList)) {
			UnlockReleaseBuffer(buf);
			problem(w, "not a list page", blkno, psprintf("list %u links to it", list));
			break;
		}
		OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
		for (OffsetNumber o = FirstOffsetNumber; o <= maxoff; o++) {
			ItemId tid = PageGetItemId(page, o);
			if (!ItemIdIsNormal(tid))
				continue;
			if (ItemIdGetLength(tid) != sh.tuple_size || ItemIdGetOffset(tid) + ItemIdGetLength(tid) > BLCKSZ) {
				problem(w, "bad list tuple", blkno, psprintf("item %u of %u bytes, expected %u", o, ItemIdGetLength(tid), sh.tuple_size));
				continue;
			}
			count++;
			element_decode(sh.elem, (const char *) PageGetItem(page, tid) + sizeof(ListTupleHeader), vec);
			double n = norm_of(vec, sh.dims);
			if (!std::isfinite(n))
				problem(w, "bad list tuple", blkno, psprintf("item %u: the vector is not finite", o));
			else if (sh.metric == Metric::Cosine && fabs(n - 1.0) > tolerance)
				problem(w, "bad list tuple", blkno, psprintf("item %u: vector of length %g under cosine, expected 1", o, n));
		}
		from = blkno;
		blkno = page_special(page)->next;
		UnlockReleaseBuffer(buf);
	}
	pfree(vec);
	if (!insert_seen)
		problem(w, "bad insert block", cblk, psprintf("list %u: insert block %u is not in its chain", list, h.insert_block));
	w->tuples += count;
	if (count == 0)
		w->empty_lists++;
	w->min_list = Min(w->min_list, count);
	w->max_list = Max(w->max_list, count);
}

static void walk(Walk *w)
{
	w->nblocks = RelationGetNumberOfBlocks(w->index);
	w->min_list = PG_UINT64_MAX;
	if (!walk_meta(w))
		return;
	const Shape &sh = w->sh;
	w->owner = (uint32 *) palloc_extended(sizeof(uint32) * (size_t) Max(w->nblocks, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (uint32 p = 0; p < sh.center_pages; p++) {
		BlockNumber cblk = 1 + p;
		Buffer buf = ReadBuffer(w->index, cblk);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		// a copy: the lists are walked without holding the center page
		Page copy = (Page) palloc(BLCKSZ);
		memcpy(copy, BufferGetPage(buf), BLCKSZ);
		UnlockReleaseBuffer(buf);
		if (!page_kind_is(copy, kPageCenter)) {
			problem(w, "not a center page", cblk, "the metapage counts it as one");
			pfree(copy);
			continue;
		}
		for (uint32 l = p * sh.centers_per_page; l < Min(sh.lists, (p + 1) * sh.centers_per_page); l++)
			walk_list(w, l, copy, cblk);
		pfree(copy);
	}
	// a list page no chain reaches holds rows no scan returns (zeroed pages are left by a crash
	// between extending the index and the WAL record that links the page: harmless)
	for (BlockNumber b = 1 + sh.center_pages; b < w->nblocks; b++) {
		if (w->owner[b] != 0)
			continue;
		Buffer buf = ReadBuffer(w->index, b);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		bool list_page = page_kind_is(page, kPageList);
		bool is_new = PageIsNew(page);
		uint32 items = is_new ? 0 : PageGetMaxOffsetNumber(page);
		UnlockReleaseBuffer(buf);
		if (list_page && items > 0)
			problem(w, "unreachable list page", b, psprintf("%u items that no list links to", items));
		else if (!list_page && !is_new)
			problem(w, "unknown page", b, "neither a list page nor an unused one");
	}
	if (w->min_list == PG_UINT64_MAX)
		w->min_list = 0;
}

static const char *metric_name(Metric m)
{
	switch (m) {
	case Metric::L2:
		return "l2";
	case Metric::InnerProduct:
		return "inner_product";
	case Metric::Cosine:
		return "cosine";
	case Metric::Hamming:
		return "hamming";
	}
	return "unknown";
}

}  // namespace ivf
}  // namespace prism

namespace prism {
namespace ivf {

bool is_ivfflat_index(Oid relid)
{
	HeapTuple tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tp))
		return false;
	Oid am = ((Form_pg_class) GETSTRUCT(tp))->relam;
	ReleaseSysCache(tp);
	return OidIsValid(am) && am == get_index_am_oid("ivfflat", true);
}

// Walks the index for its info row; ERRORs if the walk found a problem.
static Relation info_walk(Oid relid, Walk *w)
{
	Relation rel = open_ivf_index(relid);
	memset(w, 0, sizeof(*w));
	w->index = rel;
	walk(w);
	if (w->problems > 0)
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
						errmsg("ivfflat index \"%s\" is corrupted", RelationGetRelationName(rel)),
						errhint("Run prism.ivfflat_check() for details, then REINDEX the index.")));
	return rel;
}

static TupleDesc result_desc(FunctionCallInfo fcinfo)
{
	TupleDesc desc;
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	return BlessTupleDesc(desc);
}

Datum ivfflat_index_info(FunctionCallInfo fcinfo)
{
	TupleDesc desc = result_desc(fcinfo);
	Walk w;
	Relation rel = info_walk(PG_GETARG_OID(0), &w);
	// prism.index_info's columns: elements, deleted_elements, free_slots, duplicate_tids,
	// levels, pages, bytes, m, ef_construction, dimensions, metric, element_type, sparse_pages;
	// NULL where hnsw-only
	Datum values[13] = {0};
	bool nulls[13] = {false, true, true, true, true, false, false, true, true, false, false, false, true};
	values[0] = Int64GetDatum((int64) w.tuples);
	values[5] = Int64GetDatum((int64) w.nblocks);
	values[6] = Int64GetDatum((int64) w.nblocks * BLCKSZ);
	values[9] = Int32GetDatum((int32) w.sh.dims);
	values[10] = CStringGetTextDatum(metric_name(w.sh.metric));
	values[11] = CStringGetTextDatum(w.sh.type == ElementType::Half  ? "halfvec"
									 : w.sh.type == ElementType::Bit ? "bit"
																	 : "vector");
	relation_close(rel, AccessShareLock);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

Datum ivfflat_index_check(FunctionCallInfo fcinfo)
{
	Oid relid = PG_GETARG_OID(0);
	InitMaterializedSRF(fcinfo, 0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation rel = open_ivf_index(relid);
	Walk w;
	memset(&w, 0, sizeof(w));
	w.index = rel;
	w.out = rsinfo->setResult;
	w.desc = rsinfo->setDesc;
	walk(&w);
	if (w.problems > kMaxProblemRows) {
		w.out = rsinfo->setResult;
		uint64 more = w.problems - kMaxProblemRows;
		w.problems = 0;	 // so this summary row is written
		problem(&w, "more problems", InvalidBlockNumber, psprintf("%llu more not listed", (unsigned long long) more));
	}
	relation_close(rel, AccessShareLock);
	return (Datum) 0;
}

}  // namespace ivf
}  // namespace prism

using namespace prism::ivf;

PRISM_FUNCTION(prism_ivfflat_info)
{
	TupleDesc desc = result_desc(fcinfo);
	Walk w;
	Relation rel = info_walk(PG_GETARG_OID(0), &w);
	Datum values[10];
	bool nulls[10] = {false};
	values[0] = Int32GetDatum((int32) w.sh.lists);
	values[1] = Int32GetDatum((int32) w.sh.dims);
	values[2] = CStringGetTextDatum(metric_name(w.sh.metric));
	values[3] = Int64GetDatum((int64) w.tuples);
	values[4] = Int32GetDatum((int32) w.empty_lists);
	values[5] = Int64GetDatum((int64) w.min_list);
	values[6] = Int64GetDatum((int64) w.max_list);
	values[7] = Int64GetDatum((int64) w.meta.samples);
	values[8] = Int64GetDatum((int64) w.nblocks);
	values[9] = Int64GetDatum((int64) w.nblocks * BLCKSZ);
	relation_close(rel, AccessShareLock);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

PRISM_FUNCTION(prism_ivfflat_check) { return ivfflat_index_check(fcinfo); }
