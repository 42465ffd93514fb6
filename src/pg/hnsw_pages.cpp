// Page helpers of the hnsw index: page init, metapage decoding, layout, metric, options.
#include <cmath>

#include "pg/halfvec.h"
#include "pg/hnsw.h"
#include "pg/hnsw_sparse.h"
#include "pg/vector.h"

extern "C" {
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "utils/lsyscache.h"
#include "utils/varbit.h"
#include "utils/syscache.h"
}

namespace prism {
namespace hnsw {

void init_page(Page page, uint16 kind)
{
	PageInit(page, BLCKSZ, sizeof(PageOpaque));
	PageOpaque *op = page_opaque(page);
	op->kind = kind;
	op->reserved = 0;
	op->next = InvalidBlockNumber;
}

MetaPageData *page_meta(Page page) { return (MetaPageData *) PageGetContents(page); }

// Usable bytes for items (with their line pointers) on an element page.
size_t element_item_space()
{
	return BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(PageOpaque));
}

size_t element_max_item() { return element_item_space() - sizeof(ItemIdData); }

ElementLayout layout_for(int m, size_t words)
{
	return compute_layout(m, words, element_item_space(), sizeof(ItemIdData), element_max_item());
}

// Derives the layout and the kernels from dims, metric, element and m.
void fill_shape_layout(IndexShape *shape)
{
	shape->words = element_words(shape->element, shape->dims);
	ElementLayout l = layout_for(shape->m, shape->words);
	shape->per_page = l.per_page;
	shape->span = l.span;
	shape->record_size = l.record_size;
	shape->chunk = l.chunk;
	if (!element_metric_valid(shape->element, shape->metric))
		elog(ERROR, "hnsw element type %u cannot use metric %u", (unsigned) shape->element, (unsigned) shape->metric);
	shape->space = element_space(shape->element, shape->metric, shape->dims);
}

void shape_from_index(Relation index, IndexShape *shape)
{
	shape->metric = index_metric(index);
	shape->element = index_element(index, shape->metric);
	shape->dims = index_dimensions(index, shape->element);
	index_options(index, &shape->m, &shape->ef_construction);
	fill_shape_layout(shape);
}

void shape_from_meta(const MetaPageData *meta, IndexShape *shape)
{
	shape->dims = meta->dims;
	shape->metric = (Metric) meta->metric;
	shape->element = (ElementKind) meta->element;
	shape->m = meta->m;
	shape->ef_construction = meta->ef_construction;
	shape->entry_point = meta->entry_point;
	shape->entry_level = meta->entry_level;
	fill_shape_layout(shape);
}

void report_corrupt(Relation index, const char *what, uint32 id)
{
	ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
					errmsg("hnsw index \"%s\" is corrupted: %s (element %u)", RelationGetRelationName(index), what, id),
					errhint("REINDEX the index.")));
	pg_unreachable();
}

// Replaces the level-`level` (>= 1) links of element `id`, whose upper item (for an element of
// `elevel` levels) is at (ub, uoff): one GenericXLog record on the upper page. The caller holds
// the writer lock. Used by insert and vacuum.
void write_upper_links(Relation index, BufferAccessStrategy strategy, uint32 id, BlockNumber ub,
					   OffsetNumber uoff, int elevel, const IndexShape &sh, int level, const uint32 *links, int n)
{
	if (ub == kMetaBlock || ub >= RelationGetNumberOfBlocks(index))
		report_corrupt(index, "upper links beyond the end of the index", id);
	Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, ub, RBM_NORMAL, strategy);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	GenericXLogState *state = GenericXLogStart(index);
	Page page = GenericXLogRegisterBuffer(state, buf, 0);
	const unsigned char *raw = (const unsigned char *) page;
	char *up = NULL;
	if (!pg_page::is_new(raw) && upper_item_home(pg_page::kind(raw), uoff, sh.per_page) && uoff >= 1 &&
		uoff <= pg_page::item_count(raw))
		up = (char *) pg_page::item_at(raw, uoff, upper_item_size(sh.m, elevel));
	if (up == NULL) {
		GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		report_corrupt(index, "bad upper link item", id);
	}
	upper_item_set(up, elevel, sh.m, level, links, n);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

// hnswlib's level distribution: floor(-ln(U) / ln(m)), capped so upper links fit one item.
int random_level(int m)
{
	double u = pg_prng_double(&pg_global_prng_state);
	if (u <= 0)
		u = 1e-300;
	int level = (int) floor(-log(u) / log((double) m));
	return level > kMaxLevel ? kMaxLevel : level;
}

int index_dimensions(Relation index, ElementKind element)
{
	int32 typmod = TupleDescAttr(index->rd_att, 0)->atttypmod;
	if (typmod < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("column does not have dimensions"),
						errhint("Declare the column with a dimension, for example %s(3), to index it with hnsw.",
								element_kind_name(element))));
	if ((uint32) typmod > element_max_dims(element))
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("column cannot have more than %u dimensions for hnsw index", element_max_dims(element))));
	return typmod;
}

// The metric follows from the opclass' ordering operator (strategy 1).
Metric index_metric(Relation index)
{
	Oid opfamily = index->rd_opfamily[0];
	Oid type = index->rd_opcintype[0];
	Oid op = get_opfamily_member(opfamily, type, type, 1);
	char *name = OidIsValid(op) ? get_opname(op) : NULL;
	static const struct {
		const char *op;
		Metric metric;
	} ops[] = {{"<->", Metric::L2},	 {"<#>", Metric::InnerProduct}, {"<=>", Metric::Cosine},
			   {"<+>", Metric::L1},	 {"<~>", Metric::Hamming},		{"<%>", Metric::Jaccard}};
	for (const auto &o : ops)
		if (name && strcmp(name, o.op) == 0)
			return o.metric;
	elog(ERROR, "hnsw operator class has no supported ordering operator");
	pg_unreachable();
}

ElementKind index_element(Relation index, Metric metric)
{
	Oid type = index->rd_opcintype[0];
	ElementKind kind = ElementKind::Float32;
	// bit varying is binary-coercible to bit, but its values differ in length: cast it to bit(n)
	bool known = type == BITOID && TupleDescAttr(index->rd_att, 0)->atttypid == BITOID;
	if (known) {
		kind = ElementKind::Bit;
	} else if (type != BITOID) {
		HeapTuple tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
		if (!HeapTupleIsValid(tp))
			elog(ERROR, "cache lookup failed for type %u", type);
		const char *name = NameStr(((Form_pg_type) GETSTRUCT(tp))->typname);
		known = strcmp(name, "vector") == 0 || strcmp(name, "halfvec") == 0 || strcmp(name, "sparsevec") == 0;
		kind = strcmp(name, "halfvec") == 0	  ? ElementKind::Half
			   : strcmp(name, "sparsevec") == 0 ? ElementKind::Sparse
											   : ElementKind::Float32;
		ReleaseSysCache(tp);
	}
	if (!known)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("type not supported for hnsw index")));
	if (!element_metric_valid(kind, metric))
		elog(ERROR, "hnsw operator class for %s has an unsupported ordering operator", element_kind_name(kind));
	return kind;
}

void index_options(Relation index, int *m, int *ef_construction)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;
	*m = opts ? opts->m : kDefaultM;
	*ef_construction = opts ? opts->ef_construction : kDefaultEfConstruction;
	if (*ef_construction < 2 * *m)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("ef_construction must be greater than or equal to 2 * m"),
						errdetail("m is %d and ef_construction is %d.", *m, *ef_construction)));
}

// Encodes `value` (the opclass' input type) as the stored element; for a query, `query` words the
// dimension error as the operators do and keeps a zero vector under cosine.
static bool encode_datum(const IndexShape &sh, Datum value, float *out, bool query)
{
	bool ok = true;
	switch (sh.element) {
	case ElementKind::Float32: {
		Vector *v = DatumGetVector(value);
		if (v->dim != (int) sh.dims)
			ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
							query ? errmsg("different vector dimensions %u and %d", sh.dims, v->dim)
								  : errmsg("expected %u dimensions, not %d", sh.dims, v->dim)));
		ok = encode_float_element(sh.element, sh.metric, v->x, sh.dims, out);
		if ((Pointer) v != DatumGetPointer(value))
			pfree(v);
		break;
	}
	case ElementKind::Half: {
		HalfVector *v = DatumGetHalfVector(value);
		if (v->dim != (int) sh.dims)
			ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
							query ? errmsg("different halfvec dimensions %u and %d", sh.dims, v->dim)
								  : errmsg("expected %u dimensions, not %d", sh.dims, v->dim)));
		ok = encode_half_element(sh.metric, v->x, sh.dims, out);
		if ((Pointer) v != DatumGetPointer(value))
			pfree(v);
		break;
	}
	case ElementKind::Bit: {
		VarBit *v = DatumGetVarBitP(value);
		if ((uint32) VARBITLEN(v) != sh.dims)
			ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
							query ? errmsg("different bit lengths %u and %u", sh.dims, (uint32) VARBITLEN(v))
								  : errmsg("expected %u dimensions, not %u", sh.dims, (uint32) VARBITLEN(v))));
		encode_bit_element(VARBITS(v), sh.dims, out);
		if ((Pointer) v != DatumGetPointer(value))
			pfree(v);
		break;
	}
	case ElementKind::Sparse:
		ok = encode_sparse_datum(sh, value, out, query);
		break;
	}
	if (!ok && query)
		memset(out, 0, sizeof(uint32) * sh.words);
	return ok;
}

bool prepare_vector(const IndexShape &sh, Datum value, float *out) { return encode_datum(sh, value, out, false); }

void prepare_query(const IndexShape &sh, Datum value, float *out) { encode_datum(sh, value, out, true); }

}  // namespace hnsw
}  // namespace prism
