// Page helpers of the ivfflat index: page init, metapage, shape, checked item access, the
// metric and element type of an index, and turning a heap value into the stored vector.
#include <cmath>

#include "pg/ivf.h"
#include "pg/vector.h"

extern "C" {
#include "utils/guc.h"
#include "utils/syscache.h"
#include "catalog/pg_type.h"
}

namespace prism {
namespace ivf {

void init_page(Page page, uint16 kind)
{
	PageInit(page, BLCKSZ, sizeof(PageSpecial));
	PageSpecial *sp = page_special(page);
	sp->kind = kind;
	sp->reserved = 0;
	sp->next = kInvalidBlock;
}

MetaPageData *page_meta(Page page) { return (MetaPageData *) PageGetContents(page); }

size_t page_item_space() { return BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(PageSpecial)); }

void fill_shape(Shape *sh)
{
	sh->tuple_size = (uint32) list_tuple_size(sh->type, sh->dims);
	sh->center_size = (uint32) center_item_size(sh->dims);
	sh->centers_per_page = items_per_page(sh->center_size, page_item_space(), sizeof(ItemIdData));
	sh->center_pages = center_pages_for(sh->lists, sh->centers_per_page);
	sh->kernels = best_kernels(sh->dims);
	sh->dims_param = sh->dims;
}

void report_corrupt(Relation index, BlockNumber blkno, const char *what)
{
	ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
					errmsg("index \"%s\" contains a corrupted page at block %u", RelationGetRelationName(index), blkno),
					errdetail("%s", what), errhint("REINDEX the index.")));
	pg_unreachable();
}

void read_shape(Relation index, Shape *sh)
{
	Buffer buf = ReadBuffer(index, kMetaBlock);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	Page page = BufferGetPage(buf);
	MetaPageData meta;
	bool kind_ok = !PageIsNew(page) && PageGetSpecialSize(page) == MAXALIGN(sizeof(PageSpecial)) &&
				   page_special(page)->kind == kPageMeta;
	if (kind_ok)
		memcpy(&meta, page_meta(page), sizeof(meta));
	UnlockReleaseBuffer(buf);
	if (!kind_ok)
		report_corrupt(index, kMetaBlock, "not an ivfflat metapage");
	if (meta.magic != kMagic)
		report_corrupt(index, kMetaBlock, "bad magic number in the metapage");
	if (meta.version != kFormatVersion)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("ivfflat index \"%s\" has format version %u, this prism reads version %u",
							   RelationGetRelationName(index), meta.version, kFormatVersion),
						errhint("REINDEX the index.")));
	if (meta.dims < 1 || meta.dims > (uint32) kMaxDims || !metric_valid(meta.metric) ||
		meta.element_type != (uint8) ElementType::Float32 || meta.lists < (uint32) kMinLists ||
		meta.lists > (uint32) kMaxLists)
		report_corrupt(index, kMetaBlock, "metapage values out of range");
	sh->dims = meta.dims;
	sh->metric = (Metric) meta.metric;
	sh->type = (ElementType) meta.element_type;
	sh->lists = meta.lists;
	fill_shape(sh);
	if (sh->center_pages != meta.center_pages || sh->centers_per_page != meta.centers_per_page)
		report_corrupt(index, kMetaBlock, "metapage center layout does not match its dimensions");
}

// The metric follows from the opclass' ordering operator (strategy 1).
static Metric index_metric(Relation index)
{
	Oid opfamily = index->rd_opfamily[0];
	Oid type = index->rd_opcintype[0];
	Oid op = get_opfamily_member(opfamily, type, type, 1);
	char *name = OidIsValid(op) ? get_opname(op) : NULL;
	if (name && strcmp(name, "<->") == 0)
		return Metric::L2;
	if (name && strcmp(name, "<#>") == 0)
		return Metric::InnerProduct;
	if (name && strcmp(name, "<=>") == 0)
		return Metric::Cosine;
	elog(ERROR, "ivfflat operator class has no supported ordering operator");
	pg_unreachable();
}

// The stored element type follows from the opclass' input type.
static ElementType index_element_type(Relation index)
{
	Oid type = index->rd_opcintype[0];
	HeapTuple tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for type %u", type);
	bool is_vector = strcmp(NameStr(((Form_pg_type) GETSTRUCT(tp))->typname), "vector") == 0;
	ReleaseSysCache(tp);
	if (!is_vector)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("type %s is not supported by ivfflat", format_type_be(type))));
	return ElementType::Float32;
}

void shape_for_build(Relation index, Shape *sh)
{
	int32 typmod = TupleDescAttr(index->rd_att, 0)->atttypmod;
	if (typmod < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("column does not have dimensions"),
						errhint("Declare the column with a dimension, for example vector(3), to index it with "
								"ivfflat.")));
	if (typmod > kMaxDims)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("column cannot have more than %d dimensions for ivfflat index", kMaxDims)));
	sh->dims = (uint32) typmod;
	sh->type = index_element_type(index);
	sh->metric = index_metric(index);
	IvfOptions *opts = (IvfOptions *) index->rd_options;
	sh->lists = (uint32) (opts ? opts->lists : kDefaultLists);
	fill_shape(sh);
}

static void normalize(float *v, uint32 dims, double norm_sq)
{
	double inv = 1.0 / sqrt(norm_sq);
	for (uint32 i = 0; i < dims; i++)
		v[i] = (float) (v[i] * inv);
}

bool prepare_vector(const Shape &sh, Datum value, float *out)
{
	Vector *v = DatumGetVector(value);
	if (v->dim != (int) sh.dims)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("expected %u dimensions, not %d", sh.dims, v->dim)));
	memcpy(out, v->x, sizeof(float) * sh.dims);
	if ((Pointer) v != DatumGetPointer(value))
		pfree(v);
	if (sh.metric == Metric::Cosine) {
		double norm = 0;
		for (uint32 i = 0; i < sh.dims; i++)
			norm += (double) out[i] * out[i];
		if (norm == 0)
			return false;  // cosine distance is undefined for zero vectors: not indexed
		normalize(out, sh.dims, norm);
	}
	return true;
}

void read_center(Relation index, const Shape &sh, Page page, BlockNumber blkno, uint32 list, CenterHeader *hdr,
				 float *vec)
{
	OffsetNumber off = center_offset(list, sh.centers_per_page);
	if (PageIsNew(page) || page_special(page)->kind != kPageCenter || off > PageGetMaxOffsetNumber(page))
		report_corrupt(index, blkno, "missing center item");
	ItemId iid = PageGetItemId(page, off);
	if (!ItemIdIsNormal(iid) || ItemIdGetLength(iid) != sh.center_size)
		report_corrupt(index, blkno, "center item of the wrong size");
	const char *item = (const char *) PageGetItem(page, iid);
	memcpy(hdr, item, sizeof(CenterHeader));
	if (vec)
		memcpy(vec, item + sizeof(CenterHeader), sizeof(float) * sh.dims);
}

const ListTupleHeader *list_tuple(Relation index, const Shape &sh, Page page, BlockNumber blkno, OffsetNumber off)
{
	ItemId iid = PageGetItemId(page, off);
	if (!ItemIdIsNormal(iid))
		return NULL;  // removed by vacuum
	if (ItemIdGetLength(iid) != sh.tuple_size)
		report_corrupt(index, blkno, "list tuple of the wrong size");
	return (const ListTupleHeader *) PageGetItem(page, iid);
}

void check_list_block(Relation index, const Shape &sh, BlockNumber from, BlockNumber blkno, BlockNumber steps,
					  BlockNumber *nblocks)
{
	if (blkno >= *nblocks)
		*nblocks = RelationGetNumberOfBlocks(index);
	if (blkno <= sh.center_pages || blkno >= *nblocks)
		report_corrupt(index, from, psprintf("list link to block %u, outside the list pages", blkno));
	if (steps > *nblocks)
		report_corrupt(index, from, "list chain has a cycle");
}

int build_threads()
{
	const char *v = GetConfigOption("prism.build_threads", true, false);
	int n = v ? atoi(v) : 1;
	return n < 1 ? 1 : (n > 64 ? 64 : n);
}

}  // namespace ivf
}  // namespace prism
