// Page checker of the hnsw index (src/core/hnsw_page_check.h): valid pages pass; random pages,
// random byte flips and targeted corruptions (ids out of range, bad item lengths and offsets,
// header fields out of range, broken metapages) never make it crash or read outside the page
// (this binary also runs under ASan + UBSan in test/t/050_asan_unit.sh), and the corruptions
// that matter are flagged. Pages are built by a small Postgres-like page builder below (the
// index writes its pages with Postgres' PageInit/PageAddItem, which core cannot call).
#include <gtest/gtest.h>

#include <algorithm>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/hnsw_element.h"
#include "core/hnsw_page_check.h"
#include "core/hnsw_sparse.h"

namespace {

using namespace prism::hnsw;
namespace pp = prism::hnsw::pg_page;

struct alignas(8) Block {
	unsigned char b[pp::kBlockSize];
};

void put16(unsigned char *p, size_t at, uint16_t v) { memcpy(p + at, &v, sizeof(v)); }

// PageInit(page, BLCKSZ, sizeof(PageOpaque)) plus the page kind word.
void page_init(Block &pg, uint16_t kind)
{
	memset(pg.b, 0, sizeof(pg.b));
	put16(pg.b, pp::kLowerOffset, (uint16_t) pp::kHeaderSize);
	put16(pg.b, pp::kUpperOffset, (uint16_t) pp::kSpecialStart);
	put16(pg.b, pp::kSpecialOffset, (uint16_t) pp::kSpecialStart);
	put16(pg.b, pp::kSizeVersionOffset, (uint16_t) (pp::kBlockSize | pp::kLayoutVersion));
	put16(pg.b, pp::kSpecialStart, kind);
}

void set_line_pointer(Block &pg, uint32_t off, uint32_t item_off, uint32_t flags, uint32_t len)
{
	uint32_t w = item_off | (flags << 15) | (len << 17);
	memcpy(pg.b + pp::kHeaderSize + (off - 1) * pp::kLinePointerSize, &w, sizeof(w));
}

// PageAddItem at the next offset: item placed MAXALIGNed below pd_upper. Returns its number.
uint32_t page_add(Block &pg, const void *item, size_t len)
{
	uint16_t lo = pp::lower(pg.b), up = pp::upper(pg.b);
	size_t aligned = (len + 7) & ~size_t(7);
	EXPECT_GE((size_t) up, lo + pp::kLinePointerSize + aligned) << "test page overflow";
	uint32_t off = (lo - pp::kHeaderSize) / pp::kLinePointerSize + 1;
	up = (uint16_t) (up - aligned);
	set_line_pointer(pg, off, up, pp::kLpNormal, (uint32_t) len);
	memcpy(pg.b + up, item, len);
	put16(pg.b, pp::kLowerOffset, (uint16_t) (lo + pp::kLinePointerSize));
	put16(pg.b, pp::kUpperOffset, up);
	return off;
}

// An index shape: layout from the real format code, as the metapage records it.
struct Shape {
	MetaPageData meta;
	PageShape ps;
};

Shape make_shape(int m, int dims, uint32_t nblocks)
{
	Shape s;
	memset(&s.meta, 0, sizeof(s.meta));
	ElementLayout l = compute_layout(m, dims, pp::kItemSpace, pp::kLinePointerSize, pp::kMaxItem);
	s.meta.magic = kMagic;
	s.meta.version = kFormatVersion;
	s.meta.dims = dims;
	s.meta.metric = (uint8_t) Metric::L2;
	s.meta.m = m;
	s.meta.ef_construction = 64;
	s.meta.per_page = l.per_page;
	s.meta.span = l.span;
	s.meta.record_size = l.record_size;
	s.meta.entry_point = l.per_page;  // first slot of block 1
	s.meta.entry_level = 2;
	s.meta.free_hint_block = kInvalidBlock;
	s.meta.last_element_block = 1;
	s.meta.last_upper_block = nblocks - 1;
	s.ps = page_shape_from_meta(s.meta, nblocks);
	return s;
}

void meta_page(Block &pg, const MetaPageData &meta)
{
	page_init(pg, kPageMeta);
	memcpy(pg.b + pp::kHeaderSize, &meta, sizeof(meta));
	put16(pg.b, pp::kLowerOffset, (uint16_t) (pp::kHeaderSize + sizeof(meta)));
}

void fill_random(std::mt19937 &rng, unsigned char *p, size_t n)
{
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		uint32_t r = rng();
		memcpy(p + i, &r, 4);
	}
	for (; i < n; i++)
		p[i] = rng() & 0xff;
}

uint32_t random_id(std::mt19937 &rng, const PageShape &s)
{
	return std::uniform_int_distribution<uint32_t>(s.per_page, s.nblocks * s.per_page - 1)(rng);
}

// A valid element record (the first chunk when records span pages) for slot `id`.
std::vector<unsigned char> element_record(std::mt19937 &rng, const PageShape &s, uint32_t id, uint32_t upper_block)
{
	size_t len = s.span > 1 ? s.chunk : s.record_size;
	std::vector<unsigned char> rec(len, 0);
	ElementHeader h;
	memset(&h, 0, sizeof(h));
	int kind = rng() % 8;
	h.flags = kind == 0 ? kElementFree : kind == 1 ? kElementDeleted : kind == 2 ? kElementDuplicate : kElementLive;
	h.upper_block = kInvalidBlock;
	h.dup_next = kInvalidId;
	if (h.flags != kElementFree) {
		h.n_tids = 1 + rng() % kHeapTidsPerElement;
		for (int i = 0; i < h.n_tids; i++) {
			h.tids[i].block_hi = rng() & 0xffff;
			h.tids[i].block_lo = rng() & 0xffff;
			h.tids[i].offset = 1 + rng() % 291;
		}
		if (rng() % 4 == 0) {
			h.dup_next = random_id(rng, s);
			if (h.dup_next == id)
				h.dup_next = kInvalidId;
		}
	}
	if (h.flags == kElementLive || h.flags == kElementDeleted) {
		h.n_links0 = rng() % (2 * s.m + 1);
		for (int i = 0; i < h.n_links0; i++) {
			uint32_t t = random_id(rng, s);
			memcpy(rec.data() + links0_offset() + 4 * i, &t, 4);
		}
		if (rng() % 3 == 0) {
			h.level = 1 + rng() % 3;
			h.upper_block = upper_block;
			h.upper_offset = 1 + rng() % 20;
		}
	}
	memcpy(rec.data(), &h, sizeof(h));
	// vector bytes: anything (NaNs included) is safe to read
	fill_random(rng, rec.data() + vector_offset(s.m), len - vector_offset(s.m));
	return rec;
}

void add_upper_items(Block &pg, std::mt19937 &rng, const PageShape &s);

// Half of the full single-page-record element pages also carry upper items after their slots.
void element_page(Block &pg, std::mt19937 &rng, const PageShape &s, uint32_t blkno, uint32_t upper_block)
{
	page_init(pg, kPageElement);
	bool with_upper = s.span == 1 && rng() % 2 == 0;
	uint32_t n = s.span > 1 ? 1 : with_upper ? s.per_page : 1 + rng() % s.per_page;
	for (uint32_t slot = 0; slot < n; slot++) {
		std::vector<unsigned char> rec = element_record(rng, s, make_id(blkno, slot, s.per_page), upper_block);
		page_add(pg, rec.data(), rec.size());
	}
	if (with_upper)
		add_upper_items(pg, rng, s);
}

void upper_page(Block &pg, std::mt19937 &rng, const PageShape &s)
{
	page_init(pg, kPageUpper);
	add_upper_items(pg, rng, s);
}

// Random valid upper items while they fit (possibly none).
void add_upper_items(Block &pg, std::mt19937 &rng, const PageShape &s)
{
	for (;;) {
		int level = 1 + rng() % 4;
		size_t size = upper_item_size(s.m, level);
		if ((size_t) pp::upper(pg.b) < pp::lower(pg.b) + pp::kLinePointerSize + ((size + 7) & ~size_t(7)))
			break;
		std::vector<unsigned char> item(size, 0);
		size_t links = (2 * level + 3) & ~size_t(3);
		for (int l = 1; l <= level; l++) {
			uint16_t n = rng() % (s.m + 1);
			memcpy(item.data() + 2 * (l - 1), &n, 2);
			for (int i = 0; i < n; i++) {
				uint32_t t = random_id(rng, s);
				memcpy(item.data() + links + 4 * ((l - 1) * s.m + i), &t, 4);
			}
		}
		page_add(pg, item.data(), size);
		if (rng() % 8 == 0)
			break;
	}
}

void continuation_page(Block &pg, std::mt19937 &rng, const PageShape &s, bool last)
{
	page_init(pg, kPageContinuation);
	size_t len = last ? s.record_size - (size_t) (s.span - 1) * s.chunk : s.chunk;
	std::vector<unsigned char> data(len);
	fill_random(rng, data.data(), len);
	page_add(pg, data.data(), len);
}

// Shapes: many tiny records, the common 128-d, two per page (784-d), records spanning 2 and 3 pages.
const int kShapes[][2] = {{2, 1}, {4, 3}, {16, 128}, {16, 784}, {16, 3000}, {8, 5000}};
constexpr uint32_t kBlocks = 40;
constexpr uint32_t kUpperBlock = kBlocks - 1;

// One valid page of some kind for `seed`; returns its block number.
uint32_t valid_page(Block &pg, const Shape &sh, uint32_t seed, int *kind_out = nullptr)
{
	std::mt19937 rng(seed);
	const PageShape &s = sh.ps;
	int kind = rng() % (s.span > 1 ? 3 : 2);
	if (kind_out)
		*kind_out = kind;
	if (kind == 1) {
		upper_page(pg, rng, s);
		return kUpperBlock;
	}
	if (kind == 2) {
		continuation_page(pg, rng, s, rng() % 2 == 0);
		return 2;
	}
	uint32_t blkno = 1 + rng() % (kBlocks - 2);
	element_page(pg, rng, s, blkno, kUpperBlock);
	return blkno;
}

// Seed counts are sized for CI (the ASan build runs them too); LONG=1 runs ten times as many.
uint32_t long_factor()
{
	const char *l = getenv("LONG");
	return l && strcmp(l, "1") == 0 ? 10 : 1;
}

std::string describe(const PageCheck &c) { return c.ok ? "ok" : std::string(c.what); }

TEST(HnswPageCheck, GeometryMatchesFormat)
{
	// The same numbers test_hnsw_format.cpp pins for an 8 KiB page.
	EXPECT_EQ(pp::kItemSpace, 8160u);
	EXPECT_EQ(pp::kMaxItem, 8156u);
	EXPECT_EQ(pp::kMaxOffsetNumber, 2048);
	Block pg;
	page_init(pg, kPageElement);
	uint32_t rec = 0x11223344;
	EXPECT_EQ(page_add(pg, &rec, 4), 1u);
	pp::LinePointer lp = pp::line_pointer(pg.b, 1);
	EXPECT_EQ(lp.off, pp::kSpecialStart - 8);
	EXPECT_EQ(lp.flags, pp::kLpNormal);
	EXPECT_EQ(lp.len, 4u);
	EXPECT_EQ(pp::item_count(pg.b), 1u);
	EXPECT_EQ(pp::kind(pg.b), kPageElement);
}

// Sparse data pages: chunks of sparse elements (any order of elements, a freed chunk's unused
// line pointer) pass; a chunk whose size, next chunk, indices or values are wrong does not.
TEST(HnswPageCheck, SparsePages)
{
	Shape sh = make_shape(16, 1000, kBlocks);
	std::vector<int32_t> pairs;
	auto element = [&](uint32_t nnz, int32_t step) {
		pairs.assign(2 * nnz, 0);
		for (uint32_t i = 0; i < nnz; i++) {
			pairs[i] = (int32_t) (i * step);
			float v = 0.5f + (float) i;
			memcpy(&pairs[nnz + i], &v, 4);
		}
	};
	auto chunk_page = [&](Block &pg) {
		page_init(pg, kPageSparse);
		std::vector<char> item;
		element(30, 7);	 // a whole element
		item.resize(sparse_chunk_size(30));
		sparse_chunk_write(pairs.data(), 30, 0, 30, kInvalidBlock, 0, item.data());
		page_add(pg, item.data(), item.size());
		element(100, 3);  // the middle chunk of an element: continues at block 5, item 2
		item.resize(sparse_chunk_size(40));
		sparse_chunk_write(pairs.data(), 100, 20, 40, 5, 2, item.data());
		page_add(pg, item.data(), item.size());
		element(8, 100);
		item.resize(sparse_chunk_size(8));
		sparse_chunk_write(pairs.data(), 8, 0, 8, kInvalidBlock, 0, item.data());
		page_add(pg, item.data(), item.size());
	};
	Block pg;
	chunk_page(pg);
	PageCheck c = check_page(pg.b, 3, sh.ps);
	ASSERT_TRUE(c.ok) << c.what;
	EXPECT_EQ(c.kind, kPageSparse);
	// VACUUM freed the first chunk: its line pointer is unused
	uint32_t w;
	memcpy(&w, pg.b + pp::kHeaderSize, 4);
	w &= ~(3u << 15);
	memcpy(pg.b + pp::kHeaderSize, &w, 4);
	EXPECT_TRUE(check_page(pg.b, 3, sh.ps).ok);

	auto item1 = [&](Block &b) { return b.b + pp::line_pointer(b.b, 2).off; };
	struct {
		const char *want;
		void (*hurt)(unsigned char *item);
	} cases[] = {
		{"non-zeros in", [](unsigned char *it) { uint32_t n = 41; memcpy(it + 8, &n, 4); }},
		{"outside the index", [](unsigned char *it) { uint32_t b = kBlocks + 3; memcpy(it, &b, 4); }},
		{"outside the index", [](unsigned char *it) { uint32_t b = 0; memcpy(it, &b, 4); }},
		{"not ascending", [](unsigned char *it) { int32_t k = 1000000; memcpy(it + 16 + 4, &k, 4); }},
		{"not ascending", [](unsigned char *it) { int32_t k = -1; memcpy(it + 16, &k, 4); }},
		{"not finite", [](unsigned char *it) { float f = NAN; memcpy(it + 16 + 4 * 40 + 8, &f, 4); }},
	};
	for (auto &cs : cases) {
		chunk_page(pg);
		cs.hurt(item1(pg));
		PageCheck bad = check_page(pg.b, 3, sh.ps);
		EXPECT_FALSE(bad.ok) << cs.want;
		EXPECT_NE(strstr(bad.what, cs.want), nullptr) << bad.what;
		EXPECT_EQ(bad.item, 2) << bad.what;
	}
	// a next block past the end is marked, so a caller with a stale length looks again
	chunk_page(pg);
	uint32_t far = kBlocks + 1;
	memcpy(item1(pg), &far, 4);
	EXPECT_TRUE(check_page(pg.b, 3, sh.ps).beyond_end);
}

TEST(HnswPageCheck, ValidPagesPass)
{
	int pages = 0;
	for (auto &d : kShapes) {
		Shape sh = make_shape(d[0], d[1], kBlocks);
		Block pg;
		meta_page(pg, sh.meta);
		MetaPageData back;
		bool version = true;
		PageCheck mc = check_meta_page(pg.b, kBlocks, &back, &version);
		ASSERT_TRUE(mc.ok) << mc.what;
		EXPECT_FALSE(version);
		EXPECT_EQ(memcmp(&back, &sh.meta, sizeof(back)), 0);
		for (uint32_t seed = 0; seed < 300; seed++) {
			uint32_t blkno = valid_page(pg, sh, seed);
			PageCheck c = check_page(pg.b, blkno, sh.ps);
			ASSERT_TRUE(c.ok) << "m " << d[0] << " dims " << d[1] << " seed " << seed << ": " << c.what;
			pages++;
		}
		// A new (all-zero) page is fine; one with a stray byte is not.
		memset(pg.b, 0, sizeof(pg.b));
		EXPECT_TRUE(check_page(pg.b, 5, sh.ps).ok);
		EXPECT_EQ(check_page(pg.b, 5, sh.ps).kind, 0);
		pg.b[4000] = 1;
		EXPECT_FALSE(check_page(pg.b, 5, sh.ps).ok);
	}
	EXPECT_EQ(pages, 300 * (int) (sizeof(kShapes) / sizeof(kShapes[0])));
}

// Upper items after the element slots: fine on a full single-page-record element page (and an
// element may point at its own page's upper item), never on pages of spanning records, and an
// element's upper links may not point at its own page's element slots.
TEST(HnswPageCheck, UpperItemsOnElementPages)
{
	std::mt19937 rng(7);
	Shape sh = make_shape(16, 784, kBlocks);
	const PageShape &s = sh.ps;
	ASSERT_EQ(s.per_page, 2u);
	const uint32_t blkno = 3;
	Block pg;
	page_init(pg, kPageElement);
	for (uint32_t slot = 0; slot < s.per_page; slot++) {
		std::vector<unsigned char> rec = element_record(rng, s, make_id(blkno, slot, s.per_page), kUpperBlock);
		ElementHeader h;
		memcpy(&h, rec.data(), sizeof(h));
		h.flags = kElementLive;
		h.n_tids = 1;
		h.tids[0].offset = 1;
		h.dup_next = kInvalidId;
		h.level = 1;
		h.upper_block = blkno;
		h.upper_offset = s.per_page + 1 + slot;
		memcpy(rec.data(), &h, sizeof(h));
		page_add(pg, rec.data(), rec.size());
	}
	std::vector<unsigned char> up(upper_item_size(s.m, 1), 0);
	page_add(pg, up.data(), up.size());
	page_add(pg, up.data(), up.size());
	PageCheck c = check_page(pg.b, blkno, s);
	EXPECT_TRUE(c.ok) << c.what;

	// an upper item whose size fits no level
	Block bad = pg;
	std::vector<unsigned char> odd(upper_item_size(s.m, 1) + 4, 0);
	page_add(bad, odd.data(), odd.size());
	EXPECT_FALSE(check_page(bad.b, blkno, s).ok);

	// an upper link pointing at the page's own element slot
	bad = pg;
	pp::LinePointer lp = pp::line_pointer(bad.b, 1);
	ElementHeader h;
	memcpy(&h, bad.b + lp.off, sizeof(h));
	h.upper_offset = 2;
	memcpy(bad.b + lp.off, &h, sizeof(h));
	c = check_page(bad.b, blkno, s);
	EXPECT_FALSE(c.ok);
	EXPECT_NE(std::string(c.what).find("upper links"), std::string::npos) << c.what;

	// spanning records: a page holds one chunk and nothing else
	Shape wide = make_shape(16, 3000, kBlocks);
	Block span;
	page_init(span, kPageElement);
	std::vector<unsigned char> rec = element_record(rng, wide.ps, make_id(blkno, 0, 1), kUpperBlock);
	page_add(span, rec.data(), rec.size());
	ASSERT_TRUE(check_page(span.b, blkno, wide.ps).ok);
	// the chunk fills the page: a second line pointer (to the same bytes) is all that fits
	pp::LinePointer first = pp::line_pointer(span.b, 1);
	set_line_pointer(span, 2, first.off, pp::kLpNormal, first.len);
	put16(span.b, pp::kLowerOffset, (uint16_t) (pp::lower(span.b) + pp::kLinePointerSize));
	ASSERT_LE(pp::lower(span.b), pp::upper(span.b));
	EXPECT_FALSE(check_page(span.b, blkno, wide.ps).ok);
}

TEST(HnswPageCheck, HeaderFaultMatchesLimits)
{
	ElementHeader h;
	memset(&h, 0, sizeof(h));
	h.flags = kElementLive;
	h.n_links0 = 32;
	h.level = kMaxLevel;
	h.n_tids = kHeapTidsPerElement;
	EXPECT_EQ(element_header_fault(h, 16), nullptr);
	h.n_links0 = 33;
	EXPECT_STREQ(element_header_fault(h, 16), "too many level-0 links");
	h.n_links0 = 0;
	h.level = kMaxLevel + 1;
	EXPECT_STREQ(element_header_fault(h, 16), "element level above the limit");
	h.level = 0;
	h.n_tids = kHeapTidsPerElement + 1;
	EXPECT_STREQ(element_header_fault(h, 16), "too many heap tids");
	h.flags = 7;
	EXPECT_STREQ(element_header_fault(h, 16), "unknown element flags");
	h.flags = kElementFree;	 // free slots: nothing but the flags matters
	EXPECT_EQ(element_header_fault(h, 16), nullptr);
	EXPECT_TRUE(id_in_range(16, 16, 2));
	EXPECT_FALSE(id_in_range(15, 16, 2));
	EXPECT_FALSE(id_in_range(32, 16, 2));
	EXPECT_FALSE(id_in_range(kInvalidId, 16, 0xffffffffu));
	EXPECT_EQ(upper_item_level(16, upper_item_size(16, 3)), 3);
	EXPECT_EQ(upper_item_level(16, upper_item_size(16, 3) + 4), 0);
}

// Fully random bytes: never valid, never a crash, with every shape and block number.
TEST(HnswPageCheck, RandomBytes)
{
	const uint32_t seeds = 10000 * long_factor();
	Block pg;
	int flagged = 0;
	for (uint32_t seed = 0; seed < seeds; seed++) {
		std::mt19937 rng(seed);
		fill_random(rng, pg.b, sizeof(pg.b));
		const int *d = kShapes[seed % (sizeof(kShapes) / sizeof(kShapes[0]))];
		Shape sh = make_shape(d[0], d[1], 1 + rng() % 100000);
		PageCheck c = check_page(pg.b, 1 + rng() % sh.ps.nblocks, sh.ps);
		PageCheck mc = check_meta_page(pg.b, sh.ps.nblocks, nullptr, nullptr);
		EXPECT_FALSE(c.ok);
		EXPECT_FALSE(mc.ok);
		EXPECT_GT(strlen(c.what), 0u);
		flagged += !c.ok;
	}
	EXPECT_EQ(flagged, (int) seeds);
}

// Random bytes behind a valid page header (so the checker gets past it): items, line pointers
// and records are garbage. Random line pointers are almost never valid items.
TEST(HnswPageCheck, RandomBytesBehindValidHeader)
{
	const uint32_t seeds = 10000 * long_factor();
	Block pg;
	int flagged = 0;
	for (uint32_t seed = 0; seed < seeds; seed++) {
		std::mt19937 rng(seed);
		const int *d = kShapes[seed % (sizeof(kShapes) / sizeof(kShapes[0]))];
		Shape sh = make_shape(d[0], d[1], kBlocks);
		fill_random(rng, pg.b, sizeof(pg.b));
		static const uint16_t kinds[] = {kPageElement, kPageUpper, kPageContinuation};
		uint16_t kind = kinds[seed % 3];
		uint16_t lo = pp::kHeaderSize + pp::kLinePointerSize * (1 + rng() % 8);
		uint16_t up = lo + rng() % (pp::kSpecialStart - lo);
		put16(pg.b, pp::kLowerOffset, lo);
		put16(pg.b, pp::kUpperOffset, up);
		put16(pg.b, pp::kSpecialOffset, pp::kSpecialStart);
		put16(pg.b, pp::kSizeVersionOffset, pp::kBlockSize | pp::kLayoutVersion);
		put16(pg.b, pp::kSpecialStart, kind);
		PageCheck c = check_page(pg.b, 1 + rng() % (kBlocks - 1), sh.ps);
		flagged += !c.ok;
		EXPECT_TRUE(c.ok || strlen(c.what) > 0);
	}
	EXPECT_GT(flagged, (int) seeds * 99 / 100);
}

// Independent of the checker: everything the index's readers (PgStore, vacuum, index_check)
// take from an accepted page lies inside the page and names ids inside the index.
void assert_safe_for_readers(const Block &pg, uint32_t blkno, const PageShape &s)
{
	uint16_t kind = pp::kind(pg.b);
	uint32_t n = pp::item_count(pg.b);
	for (uint32_t off = 1; off <= n; off++) {
		pp::LinePointer lp = pp::line_pointer(pg.b, off);
		ASSERT_EQ(lp.flags, pp::kLpNormal);
		ASSERT_GE(lp.off, pp::upper(pg.b));
		ASSERT_LE(lp.off + lp.len, pp::kSpecialStart);
		ASSERT_EQ(lp.off % 8, 0u);
		const unsigned char *item = pg.b + lp.off;
		if (kind == kPageElement && off > s.per_page) {
			ASSERT_EQ(s.span, 1u);	// upper items follow the slots of single-page records only
		}
		if (kind == kPageElement && off <= s.per_page) {
			ASSERT_EQ(lp.len, s.span > 1 ? s.chunk : s.record_size);
			const ElementHeader *h = (const ElementHeader *) item;
			ASSERT_LE(h->flags, kElementDuplicate);
			if (h->flags == kElementFree)
				continue;
			ASSERT_LE(h->n_tids, kHeapTidsPerElement);
			if (h->dup_next != kInvalidId) {
				ASSERT_TRUE(id_in_range(h->dup_next, s.per_page, s.nblocks));
			}
			if (h->flags == kElementDuplicate)
				continue;
			ASSERT_LE(h->n_links0, 2 * s.m);
			ASSERT_LE(h->level, kMaxLevel);
			const uint32_t *links = (const uint32_t *) (item + links0_offset());
			for (int i = 0; i < h->n_links0; i++) {
				ASSERT_TRUE(id_in_range(links[i], s.per_page, s.nblocks)) << links[i];
			}
			if (h->level > 0) {
				ASSERT_TRUE(h->upper_block > 0 && h->upper_block < s.nblocks &&
							(h->upper_block != blkno || h->upper_offset > s.per_page));
			}
		} else if (upper_item_home(kind, off, s.per_page)) {
			int level = upper_item_level(s.m, lp.len);
			ASSERT_GT(level, 0);
			const uint16_t *counts = (const uint16_t *) item;
			const uint32_t *links = (const uint32_t *) (item + ((2 * level + 3) & ~3));
			for (int l = 1; l <= level; l++) {
				ASSERT_LE(counts[l - 1], s.m);
				for (int i = 0; i < counts[l - 1]; i++) {
					ASSERT_TRUE(id_in_range(links[(l - 1) * s.m + i], s.per_page, s.nblocks));
				}
			}
		} else {
			ASSERT_EQ(kind, kPageContinuation);
			ASSERT_EQ(n, 1u);
			ASSERT_LE(lp.len, s.chunk);
		}
	}
}

// Valid pages with 1-16 random byte flips anywhere: the checker never crashes; a page it
// accepts is safe for the readers (flips in vector bytes or unused space are harmless).
TEST(HnswPageCheck, RandomByteFlips)
{
	const uint32_t seeds = 20000 * long_factor();
	Block pg;
	int flagged = 0, accepted = 0;
	for (uint32_t seed = 0; seed < seeds; seed++) {
		const int *d = kShapes[seed % (sizeof(kShapes) / sizeof(kShapes[0]))];
		Shape sh = make_shape(d[0], d[1], kBlocks);
		uint32_t blkno = valid_page(pg, sh, seed);
		std::mt19937 rng(seed ^ 0x9e3779b9u);
		int flips = 1 + rng() % 16;
		// Half of the flips land in the header and line pointers, where they matter most.
		for (int i = 0; i < flips; i++) {
			size_t at = rng() % 2 ? rng() % (pp::lower(pg.b) + 8) : rng() % pp::kBlockSize;
			pg.b[at % pp::kBlockSize] ^= (unsigned char) (1 + rng() % 255);
		}
		PageCheck c = check_page(pg.b, blkno, sh.ps);
		if (c.ok) {
			accepted++;
			assert_safe_for_readers(pg, blkno, sh.ps);
		} else {
			flagged++;
			EXPECT_GT(strlen(c.what), 0u);
		}
	}
	EXPECT_GT(flagged, 0);
	EXPECT_GT(accepted, 0);
	printf("byte flips: %d pages flagged, %d accepted (and safe)\n", flagged, accepted);
}

// Targeted corruptions of valid pages, each must be flagged with a fitting description.
struct Corruption {
	const char *name;
	const char *expect;	 // substring of PageCheck::what
	// returns false if this page has nothing to corrupt this way
	bool (*apply)(Block &pg, const PageShape &s, std::mt19937 &rng);
};

// A random element item whose header satisfies `pred`, or 0.
template <class Pred> uint32_t pick_element(Block &pg, const PageShape &s, std::mt19937 &rng, Pred pred)
{
	if (pp::kind(pg.b) != kPageElement)
		return 0;
	uint32_t n = std::min(pp::item_count(pg.b), s.per_page);	// past per_page: upper items
	for (uint32_t tries = 0; tries < 2 * n + 2 && n > 0; tries++) {
		uint32_t off = 1 + rng() % n;
		ElementHeader *h = (ElementHeader *) (pg.b + pp::line_pointer(pg.b, off).off);
		if (pred(*h))
			return off;
	}
	return 0;
}

ElementHeader *header_of(Block &pg, uint32_t off) { return (ElementHeader *) (pg.b + pp::line_pointer(pg.b, off).off); }

bool is_node(const ElementHeader &h) { return h.flags == kElementLive || h.flags == kElementDeleted; }

const Corruption kCorruptions[] = {
	{"level-0 link beyond the end", "beyond the", [](Block &pg, const PageShape &s, std::mt19937 &rng) {
		 uint32_t off = pick_element(pg, s, rng, [](const ElementHeader &h) { return is_node(h) && h.n_links0 > 0; });
		 if (!off)
			 return false;
		 ElementHeader *h = header_of(pg, off);
		 uint32_t *links = (uint32_t *) ((char *) h + links0_offset());
		 links[rng() % h->n_links0] = s.nblocks * s.per_page + rng() % 1000000;
		 return true;
	 }},
	{"level-0 link to the metapage", "metapage", [](Block &pg, const PageShape &s, std::mt19937 &rng) {
		 uint32_t off = pick_element(pg, s, rng, [](const ElementHeader &h) { return is_node(h) && h.n_links0 > 0; });
		 if (!off)
			 return false;
		 ElementHeader *h = header_of(pg, off);
		 ((uint32_t *) ((char *) h + links0_offset()))[rng() % h->n_links0] = rng() % s.per_page;
		 return true;
	 }},
	{"too many level-0 links", "too many level-0 links", [](Block &pg, const PageShape &s, std::mt19937 &rng) {
		 uint32_t off = pick_element(pg, s, rng, is_node);
		 if (!off)
			 return false;
		 header_of(pg, off)->n_links0 = 2 * s.m + 1 + rng() % 1000;
		 return true;
	 }},
	{"level above the limit", "level above", [](Block &pg, const PageShape &s, std::mt19937 &rng) {
		 uint32_t off = pick_element(pg, s, rng, is_node);
		 if (!off)
			 return false;
		 header_of(pg, off)->level = kMaxLevel + 1 + rng() % 200;
		 return true;
	 }},
	{"bad flags", "unknown element flags", [](Block &pg, const PageShape &s, std::mt19937 &rng) {
		 uint32_t off = pick_element(pg, s, rng, [](const ElementHeader &) { return true; });
		 if (!off)
			 return false;
		 header_of(pg, off)->flags = 4 + rng() % 250;
		 return true;
	 }},
	{"too many heap tids", "too many heap tids", [](Block &pg, const PageShape &s, std::mt19937 &rng) {
		 uint32_t off = pick_element(pg, s, rng, [](const ElementHeader &h) { return h.flags != kElementFree; });
		 if (!off)
			 return false;
		 header_of(pg, off)->n_tids = kHeapTidsPerElement + 1 + rng() % 100;
		 return true;
	 }},
	{"heap tid offset 0", "heap tid", [](Block &pg, const PageShape &s, std::mt19937 &rng) {
		 uint32_t off = pick_element(pg, s, rng, [](const ElementHeader &h) { return h.flags != kElementFree && h.n_tids > 0; });
		 if (!off)
			 return false;
		 ElementHeader *h = header_of(pg, off);
		 h->tids[rng() % h->n_tids].offset = 0;
		 return true;
	 }},
	{"duplicate chain beyond the end", "next duplicate record", [](Block &pg, const PageShape &s, std::mt19937 &rng) {
		 uint32_t off = pick_element(pg, s, rng, [](const ElementHeader &h) { return h.flags != kElementFree; });
		 if (!off)
			 return false;
		 header_of(pg, off)->dup_next = s.nblocks * s.per_page + rng() % 1000;
		 return true;
	 }},
	{"upper links beyond the end", "upper links at block", [](Block &pg, const PageShape &s, std::mt19937 &rng) {
		 uint32_t off = pick_element(pg, s, rng, is_node);
		 if (!off)
			 return false;
		 ElementHeader *h = header_of(pg, off);
		 h->level = 1 + rng() % kMaxLevel;
		 h->upper_block = s.nblocks + rng() % 1000;
		 return true;
	 }},
	{"truncated item", "bytes, expected", [](Block &pg, const PageShape &s, std::mt19937 &rng) {
		 // element records and continuation chunks (upper items have a size check of their own)
		 uint32_t n = pp::kind(pg.b) == kPageElement ? std::min(pp::item_count(pg.b), s.per_page) : pp::item_count(pg.b);
		 if (n == 0 || pp::kind(pg.b) == kPageUpper)
			 return false;
		 uint32_t off = 1 + rng() % n;
		 pp::LinePointer lp = pp::line_pointer(pg.b, off);
		 set_line_pointer(pg, off, lp.off, lp.flags, lp.len - 1 - rng() % (lp.len / 2));
		 return true;
	 }},
	{"item past the special space", "outside the item area", [](Block &pg, const PageShape &, std::mt19937 &rng) {
		 uint32_t n = pp::item_count(pg.b);
		 if (n == 0)
			 return false;
		 uint32_t off = 1 + rng() % n;
		 pp::LinePointer lp = pp::line_pointer(pg.b, off);
		 uint32_t past = (uint32_t) (pp::kSpecialStart - lp.len + 8 + 8 * (rng() % 8)) & ~7u;
		 set_line_pointer(pg, off, past & 0x7fff, lp.flags, lp.len);
		 return true;
	 }},
	{"unaligned item", "unaligned", [](Block &pg, const PageShape &, std::mt19937 &rng) {
		 uint32_t n = pp::item_count(pg.b);
		 if (n == 0)
			 return false;
		 uint32_t off = 1 + rng() % n;
		 pp::LinePointer lp = pp::line_pointer(pg.b, off);
		 set_line_pointer(pg, off, lp.off - 1 - rng() % 7, lp.flags, lp.len);
		 return true;
	 }},
	{"unused line pointer", "not a normal item", [](Block &pg, const PageShape &, std::mt19937 &rng) {
		 uint32_t n = pp::item_count(pg.b);
		 if (n == 0)
			 return false;
		 uint32_t off = 1 + rng() % n;
		 pp::LinePointer lp = pp::line_pointer(pg.b, off);
		 set_line_pointer(pg, off, lp.off, rng() % 2 ? 0 : 3, lp.len);
		 return true;
	 }},
	{"pd_lower past pd_upper", "header bounds", [](Block &pg, const PageShape &, std::mt19937 &rng) {
		 put16(pg.b, pp::kLowerOffset, (uint16_t) (pp::upper(pg.b) + 4 * (1 + rng() % 100)));
		 return true;
	 }},
	{"bad special space", "special space", [](Block &pg, const PageShape &, std::mt19937 &rng) {
		 put16(pg.b, pp::kSpecialOffset, (uint16_t) (rng() % 8184));
		 return true;
	 }},
	{"unknown page kind", "page kind", [](Block &pg, const PageShape &, std::mt19937 &rng) {
		 put16(pg.b, pp::kSpecialStart, (uint16_t) (0x6000 + rng() % 100));
		 return true;
	 }},
	{"too many items on an element page", "at most", [](Block &pg, const PageShape &s, std::mt19937 &) {
		 // pages of spanning records hold one chunk only (past per_page, single-page records'
		 // pages hold upper items: the extra line pointers are then checked as those)
		 if (pp::kind(pg.b) != kPageElement || s.span == 1)
			 return false;
		 // claim more line pointers than fit (the extra ones point at garbage)
		 uint16_t lo = (uint16_t) (pp::kHeaderSize + 4 * (s.per_page + 1));
		 if (lo > pp::upper(pg.b))
			 put16(pg.b, pp::kUpperOffset, lo);
		 put16(pg.b, pp::kLowerOffset, lo);
		 return true;
	 }},
	{"upper count above m", "links at level", [](Block &pg, const PageShape &s, std::mt19937 &rng) {
		 if (pp::kind(pg.b) != kPageUpper || pp::item_count(pg.b) == 0)
			 return false;
		 uint32_t off = 1 + rng() % pp::item_count(pg.b);
		 uint16_t n = (uint16_t) (s.m + 1 + rng() % 60000);
		 memcpy(pg.b + pp::line_pointer(pg.b, off).off, &n, 2);
		 return true;
	 }},
	{"upper link beyond the end", "beyond the", [](Block &pg, const PageShape &s, std::mt19937 &rng) {
		 if (pp::kind(pg.b) != kPageUpper || pp::item_count(pg.b) == 0)
			 return false;
		 uint32_t off = 1 + rng() % pp::item_count(pg.b);
		 pp::LinePointer lp = pp::line_pointer(pg.b, off);
		 unsigned char *item = pg.b + lp.off;
		 int level = upper_item_level(s.m, lp.len);
		 uint16_t n = 1 + rng() % s.m;
		 memcpy(item, &n, 2);  // level 1: n valid links, one of them replaced
		 unsigned char *links = item + ((2 * level + 3) & ~3);
		 for (int i = 0; i < n; i++) {
			 uint32_t good = random_id(rng, s);
			 memcpy(links + 4 * i, &good, 4);
		 }
		 uint32_t bad = s.nblocks * s.per_page + rng() % 1000;
		 memcpy(links + 4 * (rng() % n), &bad, 4);
		 return true;
	 }},
	{"upper item of no level's size", "not the size of an upper", [](Block &pg, const PageShape &, std::mt19937 &rng) {
		 if (pp::kind(pg.b) != kPageUpper || pp::item_count(pg.b) == 0)
			 return false;
		 uint32_t off = 1 + rng() % pp::item_count(pg.b);
		 pp::LinePointer lp = pp::line_pointer(pg.b, off);
		 set_line_pointer(pg, off, lp.off, lp.flags, lp.len - 4);
		 return true;
	 }},
	{"continuation length", "continuation item is", [](Block &pg, const PageShape &, std::mt19937 &rng) {
		 if (pp::kind(pg.b) != kPageContinuation)
			 return false;
		 pp::LinePointer lp = pp::line_pointer(pg.b, 1);
		 set_line_pointer(pg, 1, lp.off, lp.flags, lp.len - 8 - 8 * (rng() % 10));
		 return true;
	 }},
};

TEST(HnswPageCheck, TargetedCorruptionsAreFlagged)
{
	const uint32_t seeds = 1000 * long_factor();
	Block pg;
	for (const Corruption &k : kCorruptions) {
		int applied = 0;
		for (uint32_t seed = 0; seed < seeds; seed++) {
			const int *d = kShapes[seed % (sizeof(kShapes) / sizeof(kShapes[0]))];
			Shape sh = make_shape(d[0], d[1], kBlocks);
			uint32_t blkno = valid_page(pg, sh, seed);
			std::mt19937 rng(seed * 7919u + 17);
			if (!k.apply(pg, sh.ps, rng))
				continue;
			applied++;
			PageCheck c = check_page(pg.b, blkno, sh.ps);
			ASSERT_FALSE(c.ok) << k.name << ", seed " << seed;
			ASSERT_NE(std::string(c.what).find(k.expect), std::string::npos)
				<< k.name << ", seed " << seed << ": " << c.what;
		}
		EXPECT_GT(applied, 20) << k.name;
	}
}

// An id beyond the end is marked so a caller with a stale index length re-checks.
TEST(HnswPageCheck, BeyondEndIsMarked)
{
	Shape sh = make_shape(16, 128, kBlocks);
	Block pg;
	std::mt19937 rng(1);
	page_init(pg, kPageElement);
	std::vector<unsigned char> rec(sh.ps.record_size, 0);
	ElementHeader h;
	memset(&h, 0, sizeof(h));
	h.flags = kElementLive;
	h.n_links0 = 2;
	h.upper_block = kInvalidBlock;
	h.dup_next = kInvalidId;
	memcpy(rec.data(), &h, sizeof(h));
	uint32_t links[2] = {sh.ps.per_page, kBlocks * sh.ps.per_page + 5};	 // id on a block not yet counted
	memcpy(rec.data() + links0_offset(), links, sizeof(links));
	page_add(pg, rec.data(), rec.size());
	PageCheck c = check_page(pg.b, 3, sh.ps);
	EXPECT_FALSE(c.ok);
	EXPECT_TRUE(c.beyond_end);
	EXPECT_EQ(c.item, 1);
	EXPECT_EQ(c.kind, kPageElement);
	PageShape longer = sh.ps;
	longer.nblocks = kBlocks + 1;  // the index grew meanwhile: fine
	EXPECT_TRUE(check_page(pg.b, 3, longer).ok) << describe(check_page(pg.b, 3, longer));
}

TEST(HnswPageCheck, MetapageFaults)
{
	Shape sh = make_shape(16, 128, kBlocks);
	Block pg;
	struct Case {
		const char *expect;
		void (*apply)(MetaPageData &m);
	};
	const Case cases[] = {
		{"magic number", [](MetaPageData &m) { m.magic ^= 1; }},
		{"format version", [](MetaPageData &m) { m.version = 99; }},
		{"unknown metric", [](MetaPageData &m) { m.metric = 9; }},
		{"out of range", [](MetaPageData &m) { m.m = 1; }},
		{"does not match", [](MetaPageData &m) { m.per_page++; }},
		{"does not match", [](MetaPageData &m) { m.dims++; }},
		{"entry point", [](MetaPageData &m) { m.entry_point = kBlocks * m.per_page; }},
		{"entry point", [](MetaPageData &m) { m.entry_point = 0; }},
		{"entry level", [](MetaPageData &m) { m.entry_level = kMaxLevel + 1; }},
		{"empty graph", [](MetaPageData &m) {
			 m.entry_point = kInvalidId;
			 m.entry_level = 3;
		 }},
		{"last element block", [](MetaPageData &m) { m.last_element_block = 0; }},
		{"last upper block", [](MetaPageData &m) { m.last_upper_block = kBlocks; }},
		{"free-slot hint", [](MetaPageData &m) { m.free_hint_block = kBlocks + 7; }},
		{"unknown element type", [](MetaPageData &m) { m.element = kElementKindLast + 1; }},
		{"unknown element type", [](MetaPageData &m) { m.element = (uint8_t) ElementKind::Bit; }},  // bit under l2
		{"does not match", [](MetaPageData &m) { m.element = (uint8_t) ElementKind::Half; }},	 // float32 layout
	};
	for (const Case &k : cases) {
		MetaPageData m = sh.meta;
		k.apply(m);
		meta_page(pg, m);
		bool version = false;
		PageCheck c = check_meta_page(pg.b, kBlocks, nullptr, &version);
		EXPECT_FALSE(c.ok) << k.expect;
		EXPECT_NE(std::string(c.what).find(k.expect), std::string::npos) << c.what;
		EXPECT_EQ(version, std::string(k.expect) == "format version");
	}
	meta_page(pg, sh.meta);
	put16(pg.b, pp::kSpecialStart, kPageElement);
	EXPECT_NE(std::string(check_meta_page(pg.b, kBlocks, nullptr, nullptr).what).find("not the metapage"),
			  std::string::npos);
	memset(pg.b, 0, sizeof(pg.b));
	EXPECT_STREQ(check_meta_page(pg.b, kBlocks, nullptr, nullptr).what, "the metapage is all zeros");
	// A metapage written before `element` existed (pd_lower ends before it) is float32, whatever
	// lies past pd_lower.
	MetaPageData old = sh.meta;
	old.element = (uint8_t) ElementKind::Half;
	meta_page(pg, old);
	put16(pg.b, pp::kLowerOffset, (uint16_t) (pp::kHeaderSize + kMetaRequiredSize));
	MetaPageData back;
	PageCheck oc = check_meta_page(pg.b, kBlocks, &back, nullptr);
	EXPECT_TRUE(oc.ok) << oc.what;
	EXPECT_EQ(back.element, (uint8_t) ElementKind::Float32);
	put16(pg.b, pp::kLowerOffset, (uint16_t) (pp::kHeaderSize + kMetaRequiredSize - 1));
	EXPECT_NE(std::string(check_meta_page(pg.b, kBlocks, nullptr, nullptr).what).find("pd_lower"), std::string::npos);
	// A half-precision index: its layout follows from the element's words.
	MetaPageData half = sh.meta;
	ElementLayout hl = compute_layout(half.m, element_words(ElementKind::Half, half.dims), pp::kItemSpace,
									  pp::kLinePointerSize, pp::kMaxItem);
	half.element = (uint8_t) ElementKind::Half;
	half.per_page = hl.per_page;
	half.span = hl.span;
	half.record_size = hl.record_size;
	half.entry_point = hl.per_page;
	meta_page(pg, half);
	PageCheck hc = check_meta_page(pg.b, kBlocks, &back, nullptr);
	EXPECT_TRUE(hc.ok) << hc.what;
	EXPECT_EQ(back.element, (uint8_t) ElementKind::Half);
	// A metapage is not an index page and vice versa.
	meta_page(pg, sh.meta);
	EXPECT_FALSE(check_page(pg.b, 4, sh.ps).ok);
	EXPECT_FALSE(check_page(pg.b, 0, sh.ps).ok);
}

// Metapages with random byte flips: never a crash; an accepted one has a usable layout.
TEST(HnswPageCheck, MetapageByteFlips)
{
	Block pg;
	int flagged = 0;
	for (uint32_t seed = 0; seed < 10000 * long_factor(); seed++) {
		const int *d = kShapes[seed % (sizeof(kShapes) / sizeof(kShapes[0]))];
		Shape sh = make_shape(d[0], d[1], kBlocks);
		meta_page(pg, sh.meta);
		std::mt19937 rng(seed);
		int flips = 1 + rng() % 4;
		for (int i = 0; i < flips; i++)
			pg.b[rng() % (pp::kHeaderSize + sizeof(MetaPageData) + 8)] ^= (unsigned char) (1 + rng() % 255);
		if (rng() % 8 == 0)
			pg.b[pp::kSpecialStart + rng() % 8] ^= (unsigned char) (1 + rng() % 255);
		MetaPageData m;
		PageCheck c = check_meta_page(pg.b, kBlocks, &m, nullptr);
		if (!c.ok) {
			flagged++;
			continue;
		}
		ElementLayout l = compute_layout(m.m, element_words((ElementKind) m.element, m.dims), pp::kItemSpace,
										 pp::kLinePointerSize, pp::kMaxItem);
		ASSERT_EQ(m.per_page, l.per_page);
		ASSERT_EQ(m.record_size, l.record_size);
		ASSERT_TRUE(m.entry_point == kInvalidId || id_in_range(m.entry_point, m.per_page, kBlocks));
	}
	EXPECT_GT(flagged, (int) (5000 * long_factor()));
}

}  // namespace
