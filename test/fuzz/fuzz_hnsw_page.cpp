// libFuzzer target over the hnsw page checker (src/core/hnsw_page_check.h), which every reader
// of index pages relies on. Input: 8 bytes of index shape (m, dims, number of blocks, block
// number) then the page (zero-padded to 8 KiB). Any page must be accepted or rejected without a
// crash or sanitizer report, and a page the checker accepts must be safe for the readers: every
// item inside the item area with the length its kind needs, every id and block in range. Seeds
// (test/fuzz/corpus/hnsw_page) are real pages of small format-2 indexes: metapage, element
// pages (some carrying upper items after their slots), upper and continuation pages. Built and run by test/fuzz/run_fuzz.
#include "core/hnsw_element.h"
#include "core/hnsw_page_check.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using namespace prism::hnsw;
namespace pp = prism::hnsw::pg_page;

[[noreturn]] void fail(const char *what, uint32_t item)
{
	std::fprintf(stderr, "fuzz_hnsw_page: accepted page breaks the readers' assumption: %s (item %u)\n", what, item);
	std::abort();
}

template <class T> T at(const unsigned char *p, size_t off)
{
	T v;
	memcpy(&v, p + off, sizeof(v));
	return v;
}

// What the readers take from an accepted page, re-derived without the checker.
void check_accepted(const unsigned char *page, uint32_t blkno, const PageShape &s)
{
	uint16_t kind = pp::kind(page);
	uint32_t n = pp::item_count(page);
	if (pp::is_new(page))
		return;
	// Element pages: per_page element slots, then (single-page records only) upper items.
	if (kind == kPageElement && n > s.per_page && s.span > 1)
		fail("items after a record chunk", 0);
	for (uint32_t off = 1; off <= n; off++) {
		pp::LinePointer lp = pp::line_pointer(page, off);
		// a sparse data page's unused line pointer is a chunk VACUUM freed: readers check the
		// flags before following a handle to it
		if (kind == kPageSparse && lp.flags == 0)
			continue;
		if (lp.flags != pp::kLpNormal || lp.off % 8 != 0 || lp.off < pp::upper(page) || lp.off + lp.len > pp::kSpecialStart)
			fail("item outside the item area", off);
		const unsigned char *item = page + lp.off;
		if (kind == kPageElement && off <= s.per_page) {
			if (lp.len != (s.span > 1 ? s.chunk : s.record_size))
				fail("element item length", off);
			ElementHeader h = at<ElementHeader>(item, 0);
			if (h.flags > kElementDuplicate)
				fail("flags", off);
			if (h.flags == kElementFree)
				continue;
			if (h.n_tids > kHeapTidsPerElement)
				fail("heap tids", off);
			if (h.dup_next != kInvalidId && !id_in_range(h.dup_next, s.per_page, s.nblocks))
				fail("duplicate chain id", off);
			if (h.flags == kElementDuplicate)
				continue;
			if (h.level > kMaxLevel || h.n_links0 > 2 * s.m)
				fail("level or link count", off);
			for (int i = 0; i < h.n_links0; i++)
				if (!id_in_range(at<uint32_t>(item, links0_offset() + 4 * i), s.per_page, s.nblocks))
					fail("level-0 link", off);
			if (h.level > 0 && (h.upper_block == 0 || h.upper_block >= s.nblocks ||
								(h.upper_block == blkno && h.upper_offset <= s.per_page)))
				fail("upper block", off);
		} else if (upper_item_home(kind, off, s.per_page)) {
			int level = upper_item_level(s.m, lp.len);
			if (level == 0)
				fail("upper item size", off);
			size_t links = (2 * level + 3) & ~3;
			for (int l = 1; l <= level; l++) {
				uint16_t count = at<uint16_t>(item, 2 * (l - 1));
				if (count > s.m)
					fail("upper count", off);
				for (int i = 0; i < count; i++)
					if (!id_in_range(at<uint32_t>(item, links + 4 * ((l - 1) * s.m + i)), s.per_page, s.nblocks))
						fail("upper link", off);
			}
		} else if (kind == kPageContinuation) {
			if (s.span < 2 || n != 1 || lp.len > s.chunk)
				fail("continuation item", off);
		} else {
			fail("page kind", off);
		}
	}
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	int m = 2 + data[0] % (kMaxM - 1);
	uint32_t dims = 1 + (uint32_t) (data[1] | data[2] << 8) % 4000;
	uint32_t nblocks = 1 + (uint32_t) (data[3] | data[4] << 8 | data[5] << 16);
	uint32_t blkno = (uint32_t) (data[6] | data[7] << 8) % nblocks;
	alignas(8) static unsigned char page[pp::kBlockSize];
	size_t n = size - 8 < sizeof(page) ? size - 8 : sizeof(page);
	memcpy(page, data + 8, n);
	memset(page + n, 0, sizeof(page) - n);

	MetaPageData meta;
	memset(&meta, 0, sizeof(meta));
	ElementLayout l = compute_layout(m, dims, pp::kItemSpace, pp::kLinePointerSize, pp::kMaxItem);
	meta.m = m;
	meta.dims = dims;
	meta.per_page = l.per_page;
	meta.span = l.span;
	meta.record_size = l.record_size;
	PageShape s = page_shape_from_meta(meta, nblocks);

	if (blkno == 0) {
		MetaPageData out;
		bool version = false;
		PageCheck c = check_meta_page(page, nblocks, &out, &version);
		if (c.ok) {
			ElementLayout ol = compute_layout(out.m, element_words((ElementKind) out.element, out.dims), pp::kItemSpace, pp::kLinePointerSize, pp::kMaxItem);
			if (out.per_page != ol.per_page || out.span != ol.span || out.record_size != ol.record_size)
				fail("metapage layout", 0);
			if (out.entry_point != kInvalidId && !id_in_range(out.entry_point, out.per_page, nblocks))
				fail("entry point", 0);
		} else if (c.what[0] == '\0') {
			fail("rejected without a reason", 0);
		}
		return 0;
	}
	PageCheck c = check_page(page, blkno, s);
	if (c.ok)
		check_accepted(page, blkno, s);
	else if (c.what[0] == '\0')
		fail("rejected without a reason", c.item);
	return 0;
}
