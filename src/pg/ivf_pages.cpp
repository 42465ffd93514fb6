// Page helpers of the ivfflat index: page init, metapage, shape, checked item access, the
// metric and element type of an index, and turning a heap value into the stored vector.
#include <cmath>

#include "pg/halfvec.h"
#include "pg/ivf.h"
#include "pg/vector.h"

extern "C" {
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "catalog/pg_type.h"
#include "utils/varbit.h"
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
	sh->center_size = (uint32) center_item_size(sh->type, sh->dims);
	sh->elem = element_ops(sh->type, sh->dims);
	sh->vec_bytes = (uint32) sh->elem.bytes;
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
	if (!element_type_valid(meta.element_type) || !metric_valid(meta.metric) ||
		!metric_fits((ElementType) meta.element_type, (Metric) meta.metric) || meta.dims < 1 ||
		meta.dims > (uint32) max_dims((ElementType) meta.element_type) || meta.lists < (uint32) kMinLists ||
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
	if (name && strcmp(name, "<~>") == 0)
		return Metric::Hamming;
	elog(ERROR, "ivfflat operator class has no supported ordering operator");
	pg_unreachable();
}

// The stored element type follows from the indexed column's type, or its domain's base type
// (not the opclass' input type: a varbit column is binary-coercible to bit_hamming_ops but has
// no fixed length).
static ElementType index_element_type(Relation index)
{
	Oid type = getBaseType(TupleDescAttr(index->rd_att, 0)->atttypid);
	if (type == BITOID)
		return ElementType::Bit;
	HeapTuple tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for type %u", type);
	const char *name = NameStr(((Form_pg_type) GETSTRUCT(tp))->typname);
	int kind = strcmp(name, "vector") == 0 ? 1 : strcmp(name, "halfvec") == 0 ? 2 : 0;
	ReleaseSysCache(tp);
	if (kind == 0)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("type not supported for ivfflat index")));
	return kind == 1 ? ElementType::Float32 : ElementType::Half;
}

void shape_for_build(Relation index, Shape *sh)
{
	sh->type = index_element_type(index);
	int32 typmod = TupleDescAttr(index->rd_att, 0)->atttypmod;
	if (typmod < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("column does not have dimensions"),
						errhint("Declare the column with a dimension, for example vector(3), to index it with "
								"ivfflat.")));
	if (typmod > max_dims(sh->type))
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("column cannot have more than %d dimensions for ivfflat index", max_dims(sh->type))));
	sh->dims = (uint32) typmod;
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

static double norm_sq(const float *v, uint32 dims)
{
	double s = 0;
	for (uint32 i = 0; i < dims; i++)
		s += (double) v[i] * v[i];
	return s;
}

// Copies the elements of a heap or query value into `out` in stored form (sh.vec_bytes);
// `query` picks the error wording for a dimension mismatch.
static void copy_elements(const Shape &sh, Datum value, char *out, bool query)
{
	struct varlena *detoasted = PG_DETOAST_DATUM(value);
	int dim;
	const void *src;
	switch (sh.type) {
	case ElementType::Half: {
		HalfVector *h = (HalfVector *) detoasted;
		dim = h->dim;
		src = h->x;
		if (dim != (int) sh.dims && query)
			ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
							errmsg("different halfvec dimensions %u and %d", sh.dims, dim)));
		break;
	}
	case ElementType::Bit: {
		VarBit *b = (VarBit *) detoasted;
		dim = VARBITLEN(b);
		src = VARBITS(b);
		if (dim != (int) sh.dims && query)
			ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("different bit lengths %u and %d", sh.dims, dim)));
		break;
	}
	case ElementType::Float32:
	default: {
		Vector *v = (Vector *) detoasted;
		dim = v->dim;
		src = v->x;
		if (dim != (int) sh.dims && query)
			ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
							errmsg("different vector dimensions %u and %d", sh.dims, dim)));
		break;
	}
	}
	if (dim != (int) sh.dims)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("expected %u dimensions, not %d", sh.dims, dim)));
	memcpy(out, src, sh.vec_bytes);
	if ((Pointer) detoasted != DatumGetPointer(value))
		pfree(detoasted);
}

// Normalizes a stored vector in place (cosine); false for a zero vector (left as it is).
static bool normalize_stored(const Shape &sh, char *v)
{
	if (sh.type == ElementType::Float32) {
		double n = norm_sq((const float *) v, sh.dims);
		if (n == 0)
			return false;
		normalize((float *) v, sh.dims, n);
		return true;
	}
	float *f = (float *) palloc(sizeof(float) * sh.dims);
	element_decode(sh.elem, v, f);
	double n = norm_sq(f, sh.dims);
	if (n > 0) {
		normalize(f, sh.dims, n);
		element_encode(sh.elem, f, v);
	}
	pfree(f);
	return n > 0;
}

bool prepare_vector(const Shape &sh, Datum value, char *out)
{
	copy_elements(sh, value, out, false);
	if (sh.metric == Metric::Cosine)
		return normalize_stored(sh, out);  // cosine distance is undefined for zero vectors: not indexed
	return true;
}

void prepare_query(const Shape &sh, Datum value, char *out, float *ranked)
{
	copy_elements(sh, value, out, true);
	element_decode(sh.elem, out, ranked);
	if (sh.metric == Metric::Cosine)
		(void) normalize_stored(sh, out);
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
		element_decode(sh.elem, item + sizeof(CenterHeader), vec);
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
