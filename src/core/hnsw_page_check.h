// Validation of raw hnsw index pages (one 8 KiB block as it lies in a buffer or on disk), without
// Postgres: the few page-header and line-pointer facts it needs are restated below, and
// src/pg/hnsw_info.cpp static_asserts that they match bufpage.h / itemid.h.
//
// check_page() walks a whole page and returns the first broken invariant as a short sentence;
// it reads nothing outside the block whatever the bytes are (unit-tested with random pages
// under ASan). The inline per-record checks below are the same invariants, cheap enough for the
// scan's per-visit path; when one fails the caller runs check_page() to word the error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/core_only.h"
#include "core/hnsw_format.h"

namespace prism {
namespace hnsw {

// Postgres' page geometry (bufpage.h, itemid.h) for BLCKSZ 8192 and prism's 8-byte special space.
namespace pg_page {
constexpr size_t kBlockSize = 8192;
constexpr size_t kHeaderSize = 24;		   // SizeOfPageHeaderData (pd_linp follows)
constexpr size_t kLowerOffset = 12;		   // offsetof(PageHeaderData, pd_lower), uint16
constexpr size_t kUpperOffset = 14;		   // pd_upper
constexpr size_t kSpecialOffset = 16;	   // pd_special
constexpr size_t kSizeVersionOffset = 18;  // pd_pagesize_version
constexpr uint16_t kLayoutVersion = 4;	   // PG_PAGE_LAYOUT_VERSION
constexpr size_t kLinePointerSize = 4;	   // sizeof(ItemIdData)
constexpr size_t kSpecialSize = sizeof(PageOpaque);  // MAXALIGNed already (hnsw_format.h)
constexpr size_t kSpecialStart = kBlockSize - kSpecialSize;
constexpr size_t kMaxAlign = 8;
constexpr unsigned kLpNormal = 1;  // LP_NORMAL
constexpr uint16_t kMaxOffsetNumber = kBlockSize / kLinePointerSize;
constexpr size_t kItemSpace = kBlockSize - kHeaderSize - kSpecialSize;	// element_item_space()
constexpr size_t kMaxItem = kItemSpace - kLinePointerSize;				// element_max_item()

// ItemIdData is the bit-field { lp_off:15, lp_flags:2, lp_len:15 } in one little-endian word.
struct LinePointer {
	uint32_t off;
	uint32_t flags;
	uint32_t len;
};
inline uint16_t u16(const unsigned char *page, size_t at)
{
	uint16_t v;
	memcpy(&v, page + at, sizeof(v));
	return v;
}
inline uint16_t lower(const unsigned char *page) { return u16(page, kLowerOffset); }
inline uint16_t upper(const unsigned char *page) { return u16(page, kUpperOffset); }
inline uint16_t special(const unsigned char *page) { return u16(page, kSpecialOffset); }
// Number of line pointers pd_lower claims (0 when pd_lower is below the header).
inline uint32_t item_count(const unsigned char *page)
{
	uint16_t l = lower(page);
	return l <= kHeaderSize ? 0 : (l - kHeaderSize) / kLinePointerSize;
}
// Line pointer `off` (1-based); the caller makes sure off <= item_count() or off is small
// enough that the pointer lies in the block.
inline LinePointer line_pointer(const unsigned char *page, uint32_t off)
{
	uint32_t w;
	memcpy(&w, page + kHeaderSize + (size_t) (off - 1) * kLinePointerSize, sizeof(w));
	return LinePointer{w & 0x7fffu, (w >> 15) & 3u, w >> 17};
}
// The item of line pointer `off` (<= item_count()) if it is a normal item of exactly `len` bytes,
// 8-byte aligned, inside [pd_upper, pd_special); else nullptr. Reads only the page header and
// the line pointer: cheap enough for every record a scan visits.
inline const unsigned char *item_at(const unsigned char *page, uint32_t off, uint32_t len)
{
	LinePointer lp = line_pointer(page, off);
	if (lp.flags != kLpNormal || lp.len != len || lp.off % kMaxAlign != 0 || lp.off < upper(page) ||
		lp.off + len > special(page))
		return nullptr;
	return page + lp.off;
}
// Page kind word at the start of the special space.
inline uint16_t kind(const unsigned char *page) { return u16(page, kSpecialStart); }
// Postgres' PageIsNew: pd_upper == 0.
inline bool is_new(const unsigned char *page) { return upper(page) == 0; }
}  // namespace pg_page

// What the checker must know about the index (from the metapage) and its current length.
struct PageShape {
	uint32_t dims;
	int m;
	uint32_t per_page;
	uint32_t span;
	uint32_t record_size;
	uint32_t chunk;
	uint32_t nblocks;  // every id lies below nblocks * per_page, every block below nblocks
};

// Result of a check: ok, or the first broken invariant. `item` is the line pointer it concerns
// (0: the page itself); `beyond_end` tells that the fault is an id or block at or past
// `nblocks`, which a caller with a stale length should re-check with a fresh one.
struct PageCheck {
	bool ok;
	bool beyond_end;
	uint16_t kind;	// page kind from the special space (0: a new, all-zero page)
	uint16_t item;
	char what[200];
};

// Whether an element id can name a record of an index of `nblocks` blocks (block 0 is the
// metapage). Works for ids of spanning records too (per_page 1: the id is the first block).
inline bool id_in_range(uint32_t id, uint32_t per_page, uint32_t nblocks)
{
	return id >= per_page && id != kInvalidId && (uint64_t) id < (uint64_t) nblocks * per_page;
}

// Element header fields that need no page context; nullptr when they are fine. Free slots
// carry no meaning (their bytes are rewritten when reused), so only their flags are checked.
inline const char *element_header_fault(uint8_t flags, int n_tids, int level, int n_links0, int m)
{
	if (flags > kElementDuplicate)
		return "unknown element flags";
	if (flags == kElementFree)
		return nullptr;
	if (n_tids > kHeapTidsPerElement)
		return "too many heap tids";
	if (flags == kElementDuplicate)
		return nullptr;
	if (level > kMaxLevel)
		return "element level above the limit";
	if (n_links0 > 2 * m)
		return "too many level-0 links";
	return nullptr;
}
inline const char *element_header_fault(const ElementHeader &h, int m)
{
	return element_header_fault(h.flags, h.n_tids, h.level, h.n_links0, m);
}

// The level of an upper item of `len` bytes, or 0 if no level has that size.
inline int upper_item_level(int m, size_t len)
{
	for (int l = 1; l <= kMaxLevel; l++)
		if (upper_item_size(m, l) == len)
			return l;
	return 0;
}

// Shape of the index as the checker needs it, from a metapage already checked.
PageShape page_shape_from_meta(const MetaPageData &meta, uint32_t nblocks);

// Checks block 0: page header, kind, magic, version, parameters, layout, entry point and the
// block hints against `nblocks`. On success *meta (if non-null) holds a copy of the metapage.
// A version mismatch sets *version_mismatch (if non-null) so the caller can say so.
PageCheck check_meta_page(const void *page, uint32_t nblocks, MetaPageData *meta, bool *version_mismatch);

// Checks any block (`blkno` > 0) of the index whose shape is `shape`: header bounds, kind,
// line pointers (in range, normal, aligned, lying in the item area, the right length), element
// headers, link and chain ids, upper items (size of some level, counts <= m, ids), continuation
// items. A new (all-zero) page is fine (kind 0). Block 0 is checked with check_meta_page().
PageCheck check_page(const void *page, uint32_t blkno, const PageShape &shape);

}  // namespace hnsw
}  // namespace prism
