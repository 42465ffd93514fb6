// prism.index_info(regclass) and prism.index_check(regclass): introspection and integrity check
// of hnsw indexes.
//
// Both walk every page, copying it under a short share lock and decoding only the copy after
// validating the page header, the special space, each line pointer and each item length, so a
// corrupted page yields a report row (index_check) or is skipped (index_info), never a read
// outside the page and never an ERROR. Records are read with memcpy (items may be misaligned
// on a corrupted page).
//
// index_check holds the writer lock in share mode for the whole walk, so inserts and vacuum
// wait and it sees one consistent graph; scans are not affected. index_info takes no such lock:
// its counts are a page-by-page snapshot. Both need SELECT on the indexed table, so the
// functions reveal nothing a user could not read through the table itself.
#include <cmath>

#include "pg/hnsw_walk.h"
#include "pg/ivf_inspect.h"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_class.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufpage.h"
#include "storage/lmgr.h"
#include "storage/smgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
}

namespace prism {
namespace hnsw {

// Opens an hnsw index for inspection (AccessShareLock); requires SELECT on its table.
static Relation open_for_inspection(Oid relid)
{
	Relation rel = relation_open(relid, AccessShareLock);
	char kind = rel->rd_rel->relkind;
	if (kind == RELKIND_INDEX || kind == RELKIND_PARTITIONED_INDEX) {
		Oid heap = rel->rd_index->indrelid;
		AclResult acl = pg_class_aclcheck(heap, GetUserId(), ACL_SELECT);
		if (acl != ACLCHECK_OK)
			aclcheck_error(acl, OBJECT_TABLE, get_rel_name(heap));
	}
	if (kind != RELKIND_INDEX || rel->rd_indam == NULL || rel->rd_indam->ambuild != hnswbuild)
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
						errmsg("\"%s\" is not an hnsw index", RelationGetRelationName(rel)),
						kind == RELKIND_PARTITIONED_INDEX
							? errdetail("A partitioned index has no storage; inspect the index of each partition.")
							: 0));
	return rel;
}

void report(Walk *w, const char *problem, int64 element, const char *fmt, ...)
{
	if (w->out == NULL)
		return;
	w->rows++;
	if (w->rows > kMaxProblemRows) {
		if (w->rows == kMaxProblemRows + 1) {
			Datum values[3] = {CStringGetTextDatum("too many problems"), 0,
							   CStringGetTextDatum("the check stopped listing problems; REINDEX the index")};
			bool nulls[3] = {false, true, false};
			tuplestore_putvalues(w->out, w->desc, values, nulls);
		}
		return;
	}
	char detail[512];
	va_list args;
	va_start(args, fmt);
	vsnprintf(detail, sizeof(detail), fmt, args);
	va_end(args);
	Datum values[3] = {CStringGetTextDatum(problem), Int64GetDatum(element), CStringGetTextDatum(detail)};
	bool nulls[3] = {false, element < 0, false};
	tuplestore_putvalues(w->out, w->desc, values, nulls);
}

// Copies block b. A page Postgres would refuse to read (a broken header or checksum: ReadBuffer
// ERRORs with "invalid page") is copied as zeros instead, and listed when `list` is set, so
// the walk goes on. Only a page not in shared buffers is read from disk, so only then is the
// disk copy checked first, the way ReadBuffer would.
void copy_page(Walk *w, BlockNumber b, char *dst, bool list)
{
	CHECK_FOR_INTERRUPTS();
	// A buffer that holds the page is valid (ReadRecentBuffer checks); one left by a failed
	// read is not, and ReadBuffer would read the disk again.
	Buffer buf = PrefetchBuffer(w->rel, MAIN_FORKNUM, b).recent_buffer;
	if (!BufferIsValid(buf) || !ReadRecentBuffer(w->rel->rd_node, MAIN_FORKNUM, b, buf)) {
		smgrread(RelationGetSmgr(w->rel), MAIN_FORKNUM, b, dst);
		if (!PageIsVerifiedExtended((Page) dst, b, 0)) {
			if (list)
				report(w, "unreadable page", -1, "block %u: the page header or checksum is invalid (Postgres refuses to read it)", b);
			memset(dst, 0, BLCKSZ);
			return;
		}
		buf = ReadBufferExtended(w->rel, MAIN_FORKNUM, b, RBM_NORMAL, w->strategy);
	}
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	memcpy(dst, BufferGetPage(buf), BLCKSZ);
	UnlockReleaseBuffer(buf);
}

// Page kind of a copy, 0 for a new (all-zero) page, -1 with *why when the header is unusable.
int page_kind(const char *page, const char **why)
{
	PageHeader ph = (PageHeader) page;
	if (PageIsNew((Page) page))
		return 0;
	if (ph->pd_special != BLCKSZ - MAXALIGN(sizeof(PageOpaque))) {
		*why = "bad special space";
		return -1;
	}
	if (ph->pd_lower < SizeOfPageHeaderData || ph->pd_lower > ph->pd_upper || ph->pd_upper > ph->pd_special) {
		*why = "bad page header bounds";
		return -1;
	}
	PageOpaque op;
	memcpy(&op, page + ph->pd_special, sizeof(op));
	if (op.kind != kPageMeta && op.kind != kPageElement && op.kind != kPageUpper && op.kind != kPageContinuation &&
		op.kind != kPageSparse) {
		*why = "unknown page kind";
		return -1;
	}
	return op.kind;
}

// Item `off` of a validated page copy if it is a normal item of `len` bytes (any length when
// len is 0) lying inside the item area; else NULL and *why.
const char *page_item(const char *page, OffsetNumber off, size_t len, const char **why)
{
	PageHeader ph = (PageHeader) page;
	if (off < 1 || off > PageGetMaxOffsetNumber((Page) page)) {
		*why = "line pointer out of range";
		return NULL;
	}
	ItemId iid = PageGetItemId((Page) page, off);
	if (!ItemIdIsNormal(iid)) {
		*why = "line pointer not in use";
		return NULL;
	}
	if (len != 0 && ItemIdGetLength(iid) != len) {
		*why = "item has the wrong size";
		return NULL;
	}
	if (ItemIdGetOffset(iid) < ph->pd_upper || ItemIdGetOffset(iid) + ItemIdGetLength(iid) > ph->pd_special) {
		*why = "item lies outside the page";
		return NULL;
	}
	return page + ItemIdGetOffset(iid);
}

static const char *metric_name(uint8 metric)
{
	switch ((Metric) metric) {
	case Metric::L2:
		return "l2";
	case Metric::InnerProduct:
		return "ip";
	case Metric::Cosine:
		return "cosine";
	case Metric::L1:
		return "l1";
	case Metric::Hamming:
		return "hamming";
	case Metric::Jaccard:
		return "jaccard";
	}
	return "unknown";
}

// Reads and checks the metapage; false if the rest of the index cannot be decoded.
static bool check_meta(Walk *w)
{
	w->nblocks = RelationGetNumberOfBlocks(w->rel);
	if (w->nblocks == 0) {
		report(w, "missing metapage", -1, "the index has no pages");
		return false;
	}
	copy_page(w, kMetaBlock, w->page, true);
	const char *why = "";
	int kind = page_kind(w->page, &why);
	if (kind != kPageMeta) {
		report(w, "bad metapage", -1, "block 0 is not a metapage: %s",
			   kind < 0 ? why : kind == 0 ? "page is all zeros" : "wrong page kind");
		return false;
	}
	memcpy(&w->meta, PageGetContents((Page) w->page), sizeof(MetaPageData));
	const MetaPageData &m = w->meta;
	if (m.magic != kMagic) {
		report(w, "bad metapage", -1, "magic number is 0x%08x, expected 0x%08x", m.magic, kMagic);
		return false;
	}
	if (m.version != kFormatVersion) {
		report(w, "bad metapage", -1, "format version is %u, this prism reads version %u", m.version, kFormatVersion);
		return false;
	}
	int32 typmod = TupleDescAttr(w->rel->rd_att, 0)->atttypmod;
	if (m.dims < 1 || (typmod > 0 && m.dims != (uint32) typmod)) {
		report(w, "bad metapage", -1, "metapage says %u dimensions, the indexed column has %d", m.dims, typmod);
		return false;
	}
	if (m.metric < (uint8) Metric::L2 || m.metric > kMetricLast || m.element > kElementKindLast ||
		!element_metric_valid((ElementKind) m.element, (Metric) m.metric)) {
		report(w, "bad metapage", -1, "unknown metric %u for element type %u", m.metric, m.element);
		return false;
	}
	if (m.m < kMinM || m.m > kMaxM || m.ef_construction < kMinEfConstruction ||
		m.ef_construction > kMaxEfConstruction) {
		report(w, "bad metapage", -1, "m %u or ef_construction %u out of range", m.m, m.ef_construction);
		return false;
	}
	shape_from_meta(&m, &w->sh);
	if (m.per_page != w->sh.per_page || m.span != w->sh.span || m.record_size != w->sh.record_size) {
		report(w, "bad metapage", -1,
			   "layout (%u per page, span %u, record %u bytes) does not match %u dimensions and m %u "
			   "(%u per page, span %u, record %u bytes)",
			   m.per_page, m.span, m.record_size, m.dims, m.m, w->sh.per_page, w->sh.span, w->sh.record_size);
		return false;
	}
	w->item_len = w->sh.span > 1 ? w->sh.chunk : w->sh.record_size;
	// The readers' metapage checker (entry point and block hints against the length, header).
	PageCheck c = check_meta_page(w->page, w->nblocks, NULL, NULL);
	if (!c.ok)
		report(w, "corrupted page", -1, "block 0: %s", c.what);
	w->meta_ok = true;
	return true;
}

// Pass 1: every element record's header; fills the per-id arrays and the counts.
static void scan_headers(Walk *w)
{
	const IndexShape &sh = w->sh;
	PageShape ps = page_shape(sh, w->nblocks);
	for (BlockNumber b = 1; b < w->nblocks; b++) {
		copy_page(w, b, w->page, true);
		// The readers' page checker first: what it finds makes scans, inserts and vacuum ERROR.
		// The finer checks below still run (they read the copy safely) and may list more.
		if (w->out) {
			PageCheck c = check_page(w->page, b, ps);
			if (!c.ok) {
				int64 element = -1;
				if (c.item > 0 && c.kind == kPageElement && c.item <= sh.per_page)
					element = make_id(b, c.item - 1, sh.per_page);
				report(w, "corrupted page", element, "block %u: %s", b, c.what);
			}
		}
		const char *why = "";
		int kind = page_kind(w->page, &why);
		if (kind < 0) {
			report(w, "bad page", -1, "block %u: %s", b, why);
			continue;
		}
		if (kind == kPageMeta)
			report(w, "bad page", -1, "block %u is a second metapage", b);
		if (kind == kPageContinuation && sh.span == 1)
			report(w, "bad page", -1, "block %u is a continuation page but records fit one page", b);
		if (kind == kPageSparse) {
			w->sparse_pages++;
			if (sh.element != ElementKind::Sparse)
				report(w, "bad page", -1, "block %u is a sparse data page of an index of %s elements", b,
					   element_kind_name(sh.element));
		}
		if (kind != kPageElement)
			continue;
		OffsetNumber max = PageGetMaxOffsetNumber((Page) w->page);
		if (max > sh.per_page && sh.span > 1)  // single-page records' pages hold upper items past per_page
			report(w, "bad page", -1, "element page %u has %u items, at most %u fit", b, max, sh.per_page);
		for (OffsetNumber off = 1; off <= max && off <= sh.per_page; off++) {
			uint32 id = make_id(b, off - 1, sh.per_page);
			const char *item = page_item(w->page, off, w->item_len, &why);
			if (!item) {
				report(w, "bad element item", id, "block %u item %u: %s", b, off, why);
				continue;
			}
			ElementHeader h = RecordView(item).header();
			if (h.flags > kElementDuplicate) {
				report(w, "bad element flags", id, "flags %u", h.flags);
				continue;
			}
			w->flags[id] = h.flags;
			w->level[id] = h.level;
			w->n_tids[id] = (uint8) Min(h.n_tids, 255);
			w->dup_next[id] = h.dup_next;
			w->in_links[id] = h.in_links0;
			if (h.flags == kElementFree) {
				w->free_slots++;
				continue;
			}
			if (h.n_tids > kHeapTidsPerElement)
				report(w, "bad element header", id, "%u heap tids, at most %d fit", h.n_tids, kHeapTidsPerElement);
			if (h.flags == kElementDuplicate) {
				w->dup_records++;
				w->dup_tids += Min(h.n_tids, kHeapTidsPerElement);
				continue;
			}
			if (h.level > kMaxLevel)
				report(w, "bad element header", id, "level %u exceeds the limit %d", h.level, kMaxLevel);
			if (h.n_links0 > max_links(sh.m, 0))
				report(w, "bad element header", id, "%u level-0 links, at most %d fit", h.n_links0,
					   max_links(sh.m, 0));
			if (h.flags == kElementLive) {
				w->live++;
				if (h.n_tids > 1)
					w->dup_tids += Min(h.n_tids, kHeapTidsPerElement) - 1;
				if ((int) h.level > w->max_live_level)
					w->max_live_level = h.level;
			} else {
				w->deleted++;
			}
		}
	}
}

static void walk_init(Walk *w, Relation rel, Tuplestorestate *out, TupleDesc desc)
{
	memset(w, 0, sizeof(*w));
	w->rel = rel;
	w->strategy = GetAccessStrategy(BAS_BULKREAD);
	w->out = out;
	w->desc = desc;
	w->page = (char *) palloc(BLCKSZ);
	w->upper_page = (char *) palloc(BLCKSZ);
	w->upper_block = InvalidBlockNumber;
	w->max_live_level = -1;
}

// Reads the metapage and pass 1; false if the metapage is unusable.
static bool walk_headers(Walk *w)
{
	if (!check_meta(w))
		return false;
	w->capacity = (uint32) Min((uint64) w->nblocks * w->sh.per_page, (uint64) kInvalidId);
	size_t cap = w->capacity;
	w->flags = (uint8 *) palloc_extended(cap + 1, MCXT_ALLOC_HUGE);
	memset(w->flags, kNoSlot, cap + 1);
	w->level = (uint8 *) palloc_extended(cap + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	w->n_tids = (uint8 *) palloc_extended(cap + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	w->in_chain = (uint8 *) palloc_extended(cap + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	w->dup_next = (uint32 *) palloc_extended(sizeof(uint32) * (cap + 1), MCXT_ALLOC_HUGE);
	w->in_links = (uint16 *) palloc_extended(sizeof(uint16) * (cap + 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	w->in_found = (uint32 *) palloc_extended(sizeof(uint32) * (cap + 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	w->vec = (float *) palloc(sizeof(float) * w->sh.words);
	scan_headers(w);
	return true;
}

}  // namespace hnsw
}  // namespace prism

using namespace prism::hnsw;

PRISM_FUNCTION(prism_index_info)
{
	Oid relid = PG_GETARG_OID(0);
	if (prism::ivf::is_ivfflat_index(relid))
		return prism::ivf::ivfflat_index_info(fcinfo);
	TupleDesc desc;
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	Relation rel = open_for_inspection(relid);
	Walk w;
	walk_init(&w, rel, NULL, NULL);
	if (!walk_headers(&w))
		ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
						errmsg("hnsw index \"%s\" has an unreadable metapage", RelationGetRelationName(rel)),
						errhint("Run prism.index_check() for details, then REINDEX the index.")));
	Datum values[13];
	bool nulls[13] = {false};
	values[0] = Int64GetDatum((int64) w.live);
	values[1] = Int64GetDatum((int64) w.deleted);
	values[2] = Int64GetDatum((int64) w.free_slots);
	values[3] = Int64GetDatum((int64) w.dup_tids);
	values[4] = Int32GetDatum(w.meta.entry_level + 1);
	values[5] = Int64GetDatum((int64) w.nblocks);
	values[6] = Int64GetDatum((int64) w.nblocks * BLCKSZ);
	values[7] = Int32GetDatum(w.meta.m);
	values[8] = Int32GetDatum(w.meta.ef_construction);
	values[9] = Int32GetDatum((int32) w.meta.dims);
	values[10] = CStringGetTextDatum(metric_name(w.meta.metric));
	values[11] = CStringGetTextDatum(element_kind_name((ElementKind) w.meta.element));
	values[12] = Int64GetDatum((int64) w.sparse_pages);
	FreeAccessStrategy(w.strategy);
	relation_close(rel, AccessShareLock);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

PRISM_FUNCTION(prism_index_check)
{
	Oid relid = PG_GETARG_OID(0);
	if (prism::ivf::is_ivfflat_index(relid))
		return prism::ivf::ivfflat_index_check(fcinfo);
	InitMaterializedSRF(fcinfo, 0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation rel = open_for_inspection(relid);
	// Writers wait while the walk runs, so it sees one consistent graph.
	LockPage(rel, kWriterLock, ShareLock);
	Walk w;
	walk_init(&w, rel, rsinfo->setResult, rsinfo->setDesc);
	if (walk_headers(&w))
		check_graph(&w);
	UnlockPage(rel, kWriterLock, ShareLock);
	FreeAccessStrategy(w.strategy);
	relation_close(rel, AccessShareLock);
	return (Datum) 0;
}
