// Page validation of the hnsw index (see hnsw_page_check.h). Every read goes through memcpy at
// an offset proven to lie inside the block first, so no byte pattern makes it read outside the
// page or misaligned.
#include "core/hnsw_page_check.h"
#include "core/hnsw_sparse.h"

#include <cstdarg>
#include <cstdio>

#include "core/hnsw_element.h"

namespace prism {
namespace hnsw {

namespace {

using namespace pg_page;

struct Checker {
	const unsigned char *page;
	const PageShape *shape;
	uint32_t blkno;
	PageCheck *out;
};

bool fail(PageCheck *out, uint16_t item, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

bool fail(PageCheck *out, uint16_t item, const char *fmt, ...)
{
	out->ok = false;
	out->item = item;
	va_list args;
	va_start(args, fmt);
	vsnprintf(out->what, sizeof(out->what), fmt, args);
	va_end(args);
	return false;
}

PageCheck fresh()
{
	PageCheck c;
	c.ok = true;
	c.beyond_end = false;
	c.kind = 0;
	c.item = 0;
	c.what[0] = '\0';
	return c;
}

bool all_zero(const unsigned char *page)
{
	for (size_t i = 0; i < kBlockSize; i++)
		if (page[i] != 0)
			return false;
	return true;
}

// Header bounds as Postgres' PageInit leaves them with prism's special space.
bool check_header(const unsigned char *page, PageCheck *out)
{
	uint16_t lo = lower(page), up = upper(page), sp = special(page);
	uint16_t sv = u16(page, kSizeVersionOffset);
	if (sp != kSpecialStart)
		return fail(out, 0, "special space starts at %u, expected %zu", sp, kSpecialStart);
	if (sv != (kBlockSize | kLayoutVersion))
		return fail(out, 0, "page size and layout version word is 0x%04x, expected 0x%04zx", sv,
					kBlockSize | kLayoutVersion);
	if (lo < kHeaderSize || lo > up || up > sp)
		return fail(out, 0, "page header bounds are broken (lower %u, upper %u, special %u)", lo, up, sp);
	if ((lo - kHeaderSize) % kLinePointerSize != 0)
		return fail(out, 0, "pd_lower %u does not end on a line pointer", lo);
	return true;
}

// Line pointer `off` must be a normal item of exactly `len` bytes (any length when len is 0),
// 8-byte aligned, inside [pd_upper, pd_special). Returns its offset, 0 on failure.
uint32_t check_item(const unsigned char *page, uint32_t off, size_t len, PageCheck *out)
{
	LinePointer lp = line_pointer(page, off);
	if (item_at(page, off, lp.len) != nullptr && (len == 0 || lp.len == len) && lp.len != 0)
		return lp.off;	// the common case, with the same test the scan's per-visit check uses
	if (lp.flags != kLpNormal)
		return fail(out, off, "line pointer %u is not a normal item (flags %u)", off, lp.flags), 0;
	if (len != 0 && lp.len != len)
		return fail(out, off, "item %u is %u bytes, expected %zu", off, lp.len, len), 0;
	if (lp.len == 0)
		return fail(out, off, "item %u is empty", off), 0;
	if (lp.off % kMaxAlign != 0)
		return fail(out, off, "item %u starts at the unaligned offset %u", off, lp.off), 0;
	if (lp.off < upper(page) || (size_t) lp.off + lp.len > special(page))
		return fail(out, off, "item %u (offset %u, %u bytes) lies outside the item area [%u, %u)", off, lp.off,
					lp.len, upper(page), special(page)),
			   0;
	return fail(out, off, "item %u is unusable", off), 0;  // not reached: the tests above cover item_at
}

// `what`/`level`/`index` name the reference for the message: level < 0 is the duplicate chain.
bool check_id(const Checker &c, uint16_t item, uint32_t id, int level, int index)
{
	const PageShape &s = *c.shape;
	if (id_in_range(id, s.per_page, s.nblocks))
		return true;
	char what[48];
	if (level < 0)
		snprintf(what, sizeof(what), "the next duplicate record");
	else
		snprintf(what, sizeof(what), "level-%d link %d", level, index);
	c.out->beyond_end = id >= s.per_page && id != kInvalidId;
	if (id < s.per_page)
		return fail(c.out, item, "item %u: %s is element %u, which would lie on the metapage", item, what, id);
	return fail(c.out, item, "item %u: %s is element %u, beyond the %u blocks of the index", item, what, id,
				s.nblocks);
}

bool check_element_item(const Checker &c, uint16_t item, const unsigned char *rec)
{
	const PageShape &s = *c.shape;
	ElementHeader h;
	memcpy(&h, rec, sizeof(h));
	if (const char *why = element_header_fault(h, s.m))
		return fail(c.out, item, "item %u: %s (flags %u, level %u, %u heap tids, %u level-0 links; m is %d)", item, why,
					h.flags, h.level, h.n_tids, h.n_links0, s.m);
	if (h.flags == kElementFree)
		return true;
	uint32_t self = make_id(c.blkno, item - 1, s.per_page);
	for (int i = 0; i < h.n_tids; i++)
		if (h.tids[i].offset == 0 || h.tids[i].offset > kMaxOffsetNumber)
			return fail(c.out, item, "item %u: heap tid %d has the offset %u", item, i, h.tids[i].offset);
	if (h.dup_next != kInvalidId) {
		if (!check_id(c, item, h.dup_next, -1, 0))
			return false;
		if (h.dup_next == self)
			return fail(c.out, item, "item %u: the duplicate chain points to the record itself", item);
	}
	if (h.flags == kElementDuplicate)
		return true;
	// Live or deleted: a graph node (deleted ones stay traversable until vacuum frees them).
	uint32_t links[2 * kMaxM];
	memcpy(links, rec + links0_offset(), sizeof(uint32_t) * h.n_links0);
	bool bad = false;
	for (int i = 0; i < h.n_links0; i++)
		bad |= !id_in_range(links[i], s.per_page, s.nblocks);
	for (int i = 0; bad && i < h.n_links0; i++)
		if (!check_id(c, item, links[i], 0, i))
			return false;
	if (h.level > 0) {
		if (h.upper_block == 0 || h.upper_block >= s.nblocks || (h.upper_block == c.blkno && h.upper_offset <= s.per_page)) {
			c.out->beyond_end = h.upper_block != 0 && h.upper_block >= s.nblocks && h.upper_block != kInvalidBlock;
			return fail(c.out, item, "item %u: element of level %u has its upper links at block %u (the index has %u blocks)",
						item, h.level, h.upper_block, s.nblocks);
		}
		if (h.upper_offset == 0 || h.upper_offset > kMaxOffsetNumber)
			return fail(c.out, item, "item %u: upper links item number %u is out of range", item, h.upper_offset);
	}
	return true;
}

bool check_upper_item(const Checker &c, uint16_t item, const unsigned char *up, size_t len)
{
	const PageShape &s = *c.shape;
	int level = upper_item_level(s.m, len);
	if (level == 0)
		return fail(c.out, item, "item %u: %zu bytes is not the size of an upper links item for m %d", item, len, s.m);
	size_t links = (sizeof(uint16_t) * level + 3) & ~size_t(3);
	for (int l = 1; l <= level; l++) {
		uint16_t n;
		memcpy(&n, up + sizeof(uint16_t) * (l - 1), sizeof(n));
		if (n > s.m)
			return fail(c.out, item, "item %u: %u links at level %d, at most %d fit", item, n, l, s.m);
		for (int i = 0; i < n; i++) {
			uint32_t id;
			memcpy(&id, up + links + sizeof(uint32_t) * ((size_t) (l - 1) * s.m + i), sizeof(id));
			if (!check_id(c, item, id, l, i))
				return false;
		}
	}
	return true;
}

}  // namespace

PageShape page_shape_from_meta(const MetaPageData &meta, uint32_t nblocks)
{
	PageShape s;
	s.dims = meta.dims;
	s.m = meta.m;
	s.per_page = meta.per_page;
	s.span = meta.span;
	s.record_size = meta.record_size;
	ElementLayout l =
		compute_layout(meta.m, element_words((ElementKind) meta.element, meta.dims), kItemSpace, kLinePointerSize, kMaxItem);
	s.chunk = l.chunk;
	s.nblocks = nblocks;
	return s;
}

PageCheck check_meta_page(const void *page_, uint32_t nblocks, MetaPageData *meta_out, bool *version_mismatch)
{
	const unsigned char *page = (const unsigned char *) page_;
	PageCheck out = fresh();
	if (version_mismatch)
		*version_mismatch = false;
	if (is_new(page)) {
		fail(&out, 0, "the metapage is %s", all_zero(page) ? "all zeros" : "not initialized");
		return out;
	}
	if (!check_header(page, &out))
		return out;
	out.kind = kind(page);
	if (out.kind != kPageMeta) {
		fail(&out, 0, "block 0 has page kind 0x%04x, not the metapage kind", out.kind);
		return out;
	}
	if (lower(page) < kHeaderSize + kMetaRequiredSize) {
		fail(&out, 0, "pd_lower %u leaves no room for the metapage data", lower(page));
		return out;
	}
	MetaPageData m;
	memcpy(&m, page + kHeaderSize, sizeof(m));	// PageGetContents: MAXALIGN(24) = 24
	if (lower(page) < kHeaderSize + sizeof(MetaPageData))
		memset(&m.element, 0, sizeof(MetaPageData) - kMetaRequiredSize);  // written before `element` existed
	if (m.magic != kMagic) {
		fail(&out, 0, "magic number is 0x%08x, expected 0x%08x", m.magic, kMagic);
		return out;
	}
	if (m.version != kFormatVersion) {
		if (version_mismatch)
			*version_mismatch = true;
		fail(&out, 0, "format version is %u, this prism reads version %u", m.version, kFormatVersion);
		return out;
	}
	if (m.dims < 1 || m.dims > 1000000) {
		fail(&out, 0, "%u dimensions", m.dims);
		return out;
	}
	if (m.metric < (uint8_t) Metric::L2 || m.metric > kMetricLast) {
		fail(&out, 0, "unknown metric %u", m.metric);
		return out;
	}
	if (m.element > kElementKindLast || !element_metric_valid((ElementKind) m.element, (Metric) m.metric)) {
		fail(&out, 0, "unknown element type %u for metric %u", m.element, m.metric);
		return out;
	}
	if (m.dims > element_max_dims((ElementKind) m.element)) {
		fail(&out, 0, "%u dimensions", m.dims);
		return out;
	}
	if (m.m < kMinM || m.m > kMaxM || m.ef_construction < kMinEfConstruction || m.ef_construction > kMaxEfConstruction) {
		fail(&out, 0, "m %u or ef_construction %u out of range", m.m, m.ef_construction);
		return out;
	}
	ElementLayout l =
		compute_layout(m.m, element_words((ElementKind) m.element, m.dims), kItemSpace, kLinePointerSize, kMaxItem);
	if (m.per_page != l.per_page || m.span != l.span || m.record_size != l.record_size) {
		fail(&out, 0, "layout (%u per page, span %u, record %u bytes) does not match %u dimensions and m %u", m.per_page,
			 m.span, m.record_size, m.dims, m.m);
		return out;
	}
	if (m.entry_point == kInvalidId) {
		if (m.entry_level != -1) {
			fail(&out, 0, "empty graph with entry level %d", m.entry_level);
			return out;
		}
	} else {
		if (m.entry_level < 0 || m.entry_level > kMaxLevel) {
			fail(&out, 0, "entry level %d out of range", m.entry_level);
			return out;
		}
		if (!id_in_range(m.entry_point, m.per_page, nblocks)) {
			out.beyond_end = m.entry_point >= m.per_page;
			fail(&out, 0, "entry point %u lies outside the %u blocks of the index", m.entry_point, nblocks);
			return out;
		}
	}
	const uint32_t hints[3] = {m.free_hint_block, m.last_element_block, m.last_upper_block};
	const char *names[3] = {"free-slot hint", "last element block", "last upper block"};
	for (int i = 0; i < 3; i++)
		if (hints[i] != kInvalidBlock && (hints[i] == 0 || hints[i] >= nblocks)) {
			out.beyond_end = hints[i] != 0;
			fail(&out, 0, "%s %u lies outside the %u blocks of the index", names[i], hints[i], nblocks);
			return out;
		}
	if (meta_out)
		*meta_out = m;
	return out;
}

// A sparse chunk's own invariants (its place in its element is index_check's to verify):
// its size, a next chunk inside the index, ascending indices below dims, finite values.
bool check_sparse_chunk(const Checker &c, uint16_t item, const unsigned char *p, uint32_t len)
{
	SparseChunkHeader h;
	if (len < sizeof(h))
		return fail(c.out, item, "sparse chunk %u is shorter than its header", item), false;
	memcpy(&h, p, sizeof(h));
	if (h.count == 0 || h.count > kSparseMaxIndexNnz || sparse_chunk_size(h.count) != len)
		return fail(c.out, item, "sparse chunk %u holds %u non-zeros in %u bytes", item, h.count, len), false;
	if (h.next_block != kInvalidBlock && (h.next_block == 0 || h.next_block >= c.shape->nblocks)) {
		if (h.next_block >= c.shape->nblocks)
			c.out->beyond_end = true;
		return fail(c.out, item, "sparse chunk %u continues at block %u, outside the index", item, h.next_block), false;
	}
	int32_t last;
	const char *why = sparse_chunk_fault(p, len, h.first, h.first + h.count + (h.next_block != kInvalidBlock),
										 c.shape->dims, -1, &last);
	if (why)
		return fail(c.out, item, "item %u: %s", item, why), false;
	return true;
}

PageCheck check_page(const void *page_, uint32_t blkno, const PageShape &shape)
{
	const unsigned char *page = (const unsigned char *) page_;
	PageCheck out = fresh();
	if (blkno == 0) {
		fail(&out, 0, "block 0 is the metapage");
		return out;
	}
	if (is_new(page)) {
		if (!all_zero(page))
			fail(&out, 0, "page is not initialized but not all zeros");
		return out;
	}
	if (!check_header(page, &out))
		return out;
	out.kind = kind(page);
	Checker c{page, &shape, blkno, &out};
	uint32_t n = item_count(page);
	switch (out.kind) {
	case kPageElement: {
		// per_page element slots, then (full single-page-record pages only) upper items
		if (n > shape.per_page && shape.span > 1) {
			fail(&out, 0, "element page with %u items, at most %u fit", n, shape.per_page);
			return out;
		}
		size_t len = shape.span > 1 ? shape.chunk : shape.record_size;
		for (uint32_t off = 1; off <= n; off++) {
			if (off > shape.per_page) {
				uint32_t at = check_item(page, off, 0, &out);
				if (at == 0 || !check_upper_item(c, (uint16_t) off, page + at, line_pointer(page, off).len))
					return out;
				continue;
			}
			uint32_t at = check_item(page, off, len, &out);
			if (at == 0 || !check_element_item(c, (uint16_t) off, page + at))
				return out;
		}
		return out;
	}
	case kPageUpper:
		for (uint32_t off = 1; off <= n; off++) {
			uint32_t at = check_item(page, off, 0, &out);
			if (at == 0 || !check_upper_item(c, (uint16_t) off, page + at, line_pointer(page, off).len))
				return out;
		}
		return out;
	case kPageContinuation: {
		if (shape.span <= 1) {
			fail(&out, 0, "continuation page, but element records fit one page");
			return out;
		}
		if (n != 1) {
			fail(&out, 0, "continuation page with %u items, expected 1", n);
			return out;
		}
		// Every chunk but the last of a record is `chunk` bytes.
		size_t last = shape.record_size - (size_t) (shape.span - 1) * shape.chunk;
		LinePointer lp = line_pointer(page, 1);
		if (lp.len != shape.chunk && lp.len != last) {
			fail(&out, 1, "continuation item is %u bytes, expected %u or %zu", lp.len, shape.chunk, last);
			return out;
		}
		check_item(page, 1, lp.len, &out);
		return out;
	}
	case kPageSparse:
		// side items of sparse elements; unused line pointers are chunks VACUUM freed
		for (uint32_t off = 1; off <= n; off++) {
			if (line_pointer(page, off).flags == 0)
				continue;
			uint32_t at = check_item(page, off, 0, &out);
			if (at == 0 || !check_sparse_chunk(c, (uint16_t) off, page + at, line_pointer(page, off).len))
				return out;
		}
		return out;
	case kPageMeta:
		fail(&out, 0, "a second metapage");
		return out;
	default:
		fail(&out, 0, "unknown page kind 0x%04x", out.kind);
		return out;
	}
}

}  // namespace hnsw
}  // namespace prism
