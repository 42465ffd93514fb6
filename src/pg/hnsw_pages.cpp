// Page helpers of the hnsw index: page init, metapage decoding, layout, metric, options.
#include <cmath>

#include "pg/hnsw.h"
#include "pg/vector.h"

extern "C" {
#include "catalog/pg_opclass.h"
#include "common/pg_prng.h"
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

ElementLayout layout_for(int m, int dims)
{
	return compute_layout(m, dims, element_item_space(), sizeof(ItemIdData), element_max_item());
}

void fill_shape_layout(IndexShape *shape)
{
	ElementLayout l = layout_for(shape->m, shape->dims);
	shape->per_page = l.per_page;
	shape->span = l.span;
	shape->record_size = l.record_size;
	shape->chunk = l.chunk;
	shape->kernels = best_kernels(shape->dims);
	shape->dims_param = shape->dims;
}

void shape_from_meta(const MetaPageData *meta, IndexShape *shape)
{
	shape->dims = meta->dims;
	shape->metric = (Metric) meta->metric;
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
	uint16 *counts = (uint16 *) up;
	uint32 *dst = (uint32 *) (up + ((sizeof(uint16) * elevel + 3) & ~size_t(3)));
	memcpy(dst + (size_t) (level - 1) * sh.m, links, sizeof(uint32) * n);
	counts[level - 1] = n;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

float metric_distance(const IndexShape &shape, const float *a, const float *b)
{
	switch (shape.metric) {
	case Metric::L2:
		return shape.kernels.l2sq(a, b, &shape.dims_param);
	case Metric::InnerProduct:
		return -shape.kernels.dot(a, b, &shape.dims_param);
	case Metric::Cosine:
	default:
		return 1.0f - shape.kernels.dot(a, b, &shape.dims_param);
	}
}

void normalize_vector(float *v, int dims)
{
	double norm = 0;
	for (int i = 0; i < dims; i++)
		norm += (double) v[i] * v[i];
	norm = sqrt(norm);
	if (norm > 0)
		for (int i = 0; i < dims; i++)
			v[i] = (float) (v[i] / norm);
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

int index_dimensions(Relation index)
{
	int32 typmod = TupleDescAttr(index->rd_att, 0)->atttypmod;
	if (typmod < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("column does not have dimensions"),
						errhint("Declare the column with a dimension, for example vector(3), to index it with hnsw.")));
	return typmod;
}

// The metric follows from the opclass' ordering operator (strategy 1): <->, <#> or <=>.
Metric index_metric(Relation index)
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
	elog(ERROR, "hnsw operator class has no supported ordering operator");
	pg_unreachable();
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

// Copies a heap vector into `out` (normalized for cosine); false if it cannot be indexed.
bool prepare_vector(const IndexShape &sh, Datum value, float *out)
{
	Vector *v = DatumGetVector(value);
	if (v->dim != (int) sh.dims)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
						errmsg("expected %u dimensions, not %d", sh.dims, v->dim)));
	memcpy(out, v->x, sizeof(float) * sh.dims);
	if ((Pointer) v != DatumGetPointer(value))
		pfree(v);
	if (sh.metric == Metric::Cosine) {
		double norm = 0;
		for (uint32 i = 0; i < sh.dims; i++)
			norm += (double) out[i] * out[i];
		if (norm == 0)
			return false;  // cosine distance is undefined for zero vectors: not indexed
		normalize_vector(out, sh.dims);
	}
	return true;
}

}  // namespace hnsw
}  // namespace prism
