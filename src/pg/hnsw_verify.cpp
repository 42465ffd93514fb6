// Corrupted pages: the core page checker (src/core/hnsw_page_check.h) applied to index buffers,
// and the one ERROR every reader raises for a page that breaks the format, naming the index and
// the block. Readers that visit single records (the scan) test the same invariants inline and
// call in here only when a test fails, to word the error.
#include <cctype>

#include "pg/hnsw.h"

namespace prism {
namespace hnsw {

// The page geometry core restates must be Postgres' own.
static_assert(pg_page::kBlockSize == BLCKSZ, "core assumes BLCKSZ 8192");
static_assert(pg_page::kHeaderSize == SizeOfPageHeaderData, "page header size");
static_assert(pg_page::kLowerOffset == offsetof(PageHeaderData, pd_lower), "pd_lower");
static_assert(pg_page::kUpperOffset == offsetof(PageHeaderData, pd_upper), "pd_upper");
static_assert(pg_page::kSpecialOffset == offsetof(PageHeaderData, pd_special), "pd_special");
static_assert(pg_page::kSizeVersionOffset == offsetof(PageHeaderData, pd_pagesize_version), "pd_pagesize_version");
static_assert(pg_page::kLayoutVersion == PG_PAGE_LAYOUT_VERSION, "page layout version");
static_assert(pg_page::kLinePointerSize == sizeof(ItemIdData), "line pointer size");
static_assert(pg_page::kSpecialSize == MAXALIGN(sizeof(PageOpaque)), "special space size");
static_assert(pg_page::kMaxAlign == MAXIMUM_ALIGNOF, "MAXALIGN");
static_assert(pg_page::kLpNormal == LP_NORMAL, "LP_NORMAL");
static_assert(pg_page::kMaxOffsetNumber == MaxOffsetNumber, "MaxOffsetNumber");
static_assert(offsetof(PageOpaque, kind) == 0, "page kind word starts the special space");

PageShape page_shape(const IndexShape &sh, BlockNumber nblocks)
{
	PageShape s;
	s.dims = sh.dims;
	s.m = sh.m;
	s.per_page = sh.per_page;
	s.span = sh.span;
	s.record_size = sh.record_size;
	s.chunk = sh.chunk;
	s.nblocks = nblocks;
	return s;
}

void report_corrupt_page(Relation index, BlockNumber blkno, const char *detail)
{
	// The checker words faults in lower case without a period; a detail is a sentence.
	char sentence[256];
	snprintf(sentence, sizeof(sentence), "%s.", detail);
	sentence[0] = (char) toupper((unsigned char) sentence[0]);
	ereport(ERROR, (errcode(ERRCODE_INDEX_CORRUPTED),
					errmsg("index \"%s\" contains a corrupted page at block %u", RelationGetRelationName(index), blkno),
					errdetail("%s", sentence), errhint("REINDEX the index.")));
	pg_unreachable();
}

bool check_index_page(Relation index, const IndexShape &sh, BlockNumber blkno, Page page, BlockNumber *nblocks,
					  PageCheck *out)
{
	*out = check_page(page, blkno, page_shape(sh, *nblocks));
	if (!out->ok && out->beyond_end) {
		// An id past a stale length may be a concurrent insert's: look again with a fresh one.
		BlockNumber now = RelationGetNumberOfBlocks(index);
		if (now != *nblocks) {
			*nblocks = now;
			*out = check_page(page, blkno, page_shape(sh, now));
		}
	}
	return out->ok;
}

void verify_page(Relation index, const IndexShape &sh, BlockNumber blkno, Page page, BlockNumber *nblocks,
				 uint16 want_kind)
{
	PageCheck c;
	if (!check_index_page(index, sh, blkno, page, nblocks, &c))
		report_corrupt_page(index, blkno, c.what);
	if (want_kind != 0 && c.kind != want_kind) {
		char what[128];
		snprintf(what, sizeof(what), "%s page where %s page was expected",
				 c.kind == 0 ? "an uninitialized" : c.kind == kPageUpper ? "an upper-links" :
				 c.kind == kPageContinuation ? "a continuation" : "an element",
				 want_kind == kPageElement ? "an element" : want_kind == kPageUpper ? "an upper-links" : "a continuation");
		report_corrupt_page(index, blkno, what);
	}
}

void report_bad_record(Relation index, const IndexShape &sh, BlockNumber blkno, Page page, uint32 id,
					   const char *fallback)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	PageCheck c;
	if (!check_index_page(index, sh, blkno, page, &nblocks, &c))
		report_corrupt_page(index, blkno, c.what);
	// The page itself is well-formed: the id that led here (from another page) is wrong.
	char what[200];
	snprintf(what, sizeof(what), "%s (element %u)", fallback, id);
	report_corrupt_page(index, blkno, what);
}

void corrupt_read_context(void *arg)
{
	if (geterrcode() == ERRCODE_DATA_CORRUPTED)
		errcontext("reading hnsw index \"%s\"", RelationGetRelationName((Relation) arg));
}

void verify_meta(Relation index, Page page, BlockNumber nblocks, MetaPageData *meta)
{
	bool version_mismatch = false;
	PageCheck c = check_meta_page(page, nblocks, meta, &version_mismatch);
	if (c.ok)
		return;
	if (version_mismatch) {
		uint32 version;
		memcpy(&version, (const char *) page + pg_page::kHeaderSize + offsetof(MetaPageData, version), sizeof(version));
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("hnsw index \"%s\" has on-disk format version %u, this prism reads version %u",
							   RelationGetRelationName(index), version, kFormatVersion),
						errhint("REINDEX the index.")));
	}
	report_corrupt_page(index, kMetaBlock, c.what);
}

}  // namespace hnsw
}  // namespace prism
