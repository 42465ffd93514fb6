// On-disk format of the hnsw index (src/core/hnsw_format.h): struct sizes, record layout on
// 8 KiB pages, id <-> (block, slot). The sizes pinned here ARE the format: if one of these
// checks fails, the change must bump kFormatVersion (and the numbers here are updated with it).
#include <gtest/gtest.h>

#include <cstddef>
#include <random>

#include "core/hnsw_format.h"

namespace {

using namespace prism::hnsw;

// Format version 3. ElementHeader: flags, level (1+1), n_tids, n_links0, in_links0 (2+2+2),
// upper_block (4), upper_offset, reserved2 (2+2), dup_next (4), 8 heap TIDs of 6 bytes = 68.
static_assert(sizeof(HeapTid) == 6, "HeapTid is on-disk format: bump kFormatVersion");
static_assert(sizeof(ElementHeader) == 68, "ElementHeader is on-disk format: bump kFormatVersion");
static_assert(alignof(ElementHeader) == 4, "links and vector follow the header 4-byte aligned");
static_assert(offsetof(ElementHeader, in_links0) == 6, "on-disk format");
static_assert(offsetof(ElementHeader, upper_block) == 8, "on-disk format");
static_assert(offsetof(ElementHeader, dup_next) == 16, "on-disk format");
static_assert(offsetof(ElementHeader, tids) == 20, "on-disk format");
// MetaPageData: 12 x 4-byte-ish fields = 48 bytes, then the uint64 `inserted` = 56, then the
// element kind and 7 reserved bytes (zero in metapages written before they existed: float32).
static_assert(sizeof(MetaPageData) == 64, "MetaPageData is on-disk format: bump kFormatVersion");
static_assert(offsetof(MetaPageData, element) == 56, "on-disk format");
static_assert(offsetof(MetaPageData, entry_point) == 28, "on-disk format");
static_assert(offsetof(MetaPageData, inserted) == 48, "on-disk format");
static_assert(kFormatVersion == 3, "format changed: update the sizes pinned in this file");

// A Postgres 8 KiB page as src/pg/hnsw_pages.cpp sees it: 24-byte page header, 8-byte special
// space (PageOpaque), 4-byte line pointers; one item may take everything but its line pointer.
constexpr size_t kBlock = 8192;
constexpr size_t kItemSpace = kBlock - 24 - 8;	// 8160
constexpr size_t kLinePointer = 4;
constexpr size_t kMaxItem = kItemSpace - kLinePointer;	// 8156

ElementLayout
page_layout(int m, int dims)
{
	return compute_layout(m, dims, kItemSpace, kLinePointer, kMaxItem);
}

size_t
align8(size_t x)
{
	return (x + 7) & ~size_t(7);
}

TEST(HnswFormat, RecordOffsets)
{
	EXPECT_EQ(links0_offset(), 68u);
	EXPECT_EQ(vector_offset(16), 68u + 4 * 32);
	EXPECT_EQ(vector_offset(16) % 4, 0u);
	EXPECT_EQ(element_record_size(16, 784), 68u + 128 + 784 * 4);
	EXPECT_EQ(max_links(16, 0), 32);
	EXPECT_EQ(max_links(16, 1), 16);
	EXPECT_EQ(max_links(16, 5), 16);
}

TEST(HnswFormat, SmallDimsManyPerPage)
{
	// 3-d, m=16: 68 + 128 + 12 = 208 bytes (already 8-aligned) + 4 line pointer = 212.
	ElementLayout l = page_layout(16, 3);
	EXPECT_EQ(l.record_size, 208u);
	EXPECT_EQ(l.per_page, kItemSpace / 212);  // 38
	EXPECT_EQ(l.span, 1u);
	EXPECT_EQ(l.chunk, l.record_size);
	// 128-d, m=16: 708 -> 712 aligned, 716 with the pointer: 11 per page.
	l = page_layout(16, 128);
	EXPECT_EQ(l.record_size, 708u);
	EXPECT_EQ(l.per_page, 11u);
}

TEST(HnswFormat, FashionMnistTwoPerPage)
{
	// 784-d, m=16: 3332 bytes, 3336 aligned + 4 = 3340; two fit in 8160.
	ElementLayout l = page_layout(16, 784);
	EXPECT_EQ(l.record_size, 3332u);
	EXPECT_EQ(l.per_page, 2u);
	EXPECT_EQ(l.span, 1u);
	EXPECT_EQ(l.chunk, 3332u);
}

TEST(HnswFormat, LargeDimsSpanPages)
{
	// 3072-d, m=16: 12484 bytes, in chunks of 8152 (max item rounded down to 8): 2 pages.
	ElementLayout l = page_layout(16, 3072);
	EXPECT_EQ(l.record_size, 12484u);
	EXPECT_EQ(l.per_page, 1u);
	EXPECT_EQ(l.chunk, 8152u);
	EXPECT_LE(l.chunk, kMaxItem);
	EXPECT_EQ(l.span, 2u);
	EXPECT_GE((size_t) l.span * l.chunk, l.record_size);
	// 16,000-d (pgvector's limit), m=16: 64196 bytes over 8 pages.
	l = page_layout(16, 16000);
	EXPECT_EQ(l.record_size, 64196u);
	EXPECT_EQ(l.per_page, 1u);
	EXPECT_EQ(l.span, 8u);
	EXPECT_GE((size_t) l.span * l.chunk, l.record_size);
	EXPECT_LT((size_t) (l.span - 1) * l.chunk, l.record_size);
}

TEST(HnswFormat, SinglePageBoundary)
{
	// m=16: record = 196 + 4*dims. 1989-d is 8152 bytes: the largest record alone on a page.
	ElementLayout l = page_layout(16, 1989);
	EXPECT_EQ(l.record_size, 8152u);
	EXPECT_EQ(l.per_page, 1u);
	EXPECT_EQ(l.span, 1u);
	// 1990-d is 8156 bytes: within max_item, but Postgres MAXALIGNs items to 8160, which with its
	// line pointer no longer fits; it must span.
	l = page_layout(16, 1990);
	EXPECT_EQ(l.record_size, 8156u);
	EXPECT_EQ(l.per_page, 1u);
	EXPECT_EQ(l.span, 2u);
}

// Invariants over every dims up to pgvector's 16,000 and the m range.
TEST(HnswFormat, LayoutInvariantsSweep)
{
	for (int m : {kMinM, 8, kDefaultM, 48, kMaxM})
		for (int dims = 1; dims <= 16000; dims++) {
			ElementLayout l = page_layout(m, dims);
			ASSERT_EQ(l.record_size, element_record_size(m, dims));
			size_t slot = align8(l.record_size) + kLinePointer;
			if (l.span == 1) {
				ASSERT_GE(l.per_page, 1u);
				ASSERT_EQ(l.chunk, l.record_size);
				ASSERT_LE(l.per_page * slot, kItemSpace) << "m " << m << " dims " << dims;
				ASSERT_GT((l.per_page + 1) * slot, kItemSpace) << "not maximal: m " << m << " dims " << dims;
				ASSERT_LE(l.record_size, kMaxItem);
				ASSERT_LE(l.per_page, 0xffffu);	 // MetaPageData.per_page is uint16
			} else {
				ASSERT_EQ(l.per_page, 1u);
				ASSERT_EQ(l.chunk % 8, 0u);
				ASSERT_LE(l.chunk, kMaxItem);
				ASSERT_GE((size_t) l.span * l.chunk, l.record_size);
				ASSERT_LT((size_t) (l.span - 1) * l.chunk, l.record_size) << "one page too many";
				// The first chunk carries the header and all level-0 links (readers take them
				// from the first page).
				ASSERT_GE(l.chunk, vector_offset(m));
			}
		}
}

TEST(HnswFormat, UpperItemSize)
{
	// `level` uint16 counts padded to 4 bytes, then level * m links.
	EXPECT_EQ(upper_item_size(16, 1), 4u + 64);
	EXPECT_EQ(upper_item_size(16, 2), 4u + 128);
	EXPECT_EQ(upper_item_size(16, 3), 8u + 192);
	EXPECT_EQ(upper_item_size(2, 5), 12u + 40);
	for (int m = kMinM; m <= kMaxM; m++)
		for (int level = 1; level <= kMaxLevel; level++) {
			size_t s = upper_item_size(m, level);
			ASSERT_EQ(s % 4, 0u);
			ASSERT_GE(s, sizeof(uint16_t) * level + sizeof(uint32_t) * m * level);
			ASSERT_LT(s, sizeof(uint16_t) * level + sizeof(uint32_t) * m * level + 4);
		}
	// kMaxLevel is chosen so the largest upper item fits one page.
	EXPECT_LE(align8(upper_item_size(kMaxM, kMaxLevel)) + kLinePointer, kItemSpace);
}

TEST(HnswFormat, IdBlockSlotRoundTrip)
{
	std::mt19937 rng(3);
	for (uint32_t per_page : {1u, 2u, 11u, 38u, 88u}) {
		for (uint32_t block = 1; block < 200; block++)
			for (uint32_t slot = 0; slot < per_page; slot++) {
				uint32_t id = make_id(block, slot, per_page);
				ASSERT_EQ(id_block(id, per_page), block);
				ASSERT_EQ(id_slot(id, per_page), slot);
			}
		for (int i = 0; i < 10000; i++) {
			uint32_t id = rng() % (0xfffffffeu / per_page * per_page);
			ASSERT_EQ(make_id(id_block(id, per_page), id_slot(id, per_page), per_page), id);
		}
	}
	// Block 0 is the metapage: with per_page slots, ids 0..per_page-1 never name an element.
	EXPECT_EQ(id_block(1, 2), 0u);
	EXPECT_EQ(id_block(2, 2), 1u);
}

TEST(HnswFormat, Constants)
{
	EXPECT_EQ(kMagic, 0x5052534du);	 // "PRSM"
	EXPECT_LT(kMinM, kDefaultM);
	EXPECT_LE(kDefaultM, kMaxM);
	EXPECT_LE(kMinEfConstruction, kDefaultEfConstruction);
	EXPECT_LE(kDefaultEfConstruction, kMaxEfConstruction);
	EXPECT_LE(kMaxLevel, 255);	// ElementHeader.level is uint8
	EXPECT_LE(2 * kMaxM, 0xffff);  // n_links0 is uint16
	EXPECT_NE(kElementFree, kElementLive);
	EXPECT_NE(kElementDeleted, kElementDuplicate);
}

TEST(HnswFormat, InLinksStepSaturates)
{
	EXPECT_EQ(in_links_step(0, +1), 1);
	EXPECT_EQ(in_links_step(0, -1), 0);
	EXPECT_EQ(in_links_step(5, -2), 3);
	EXPECT_EQ(in_links_step(kInLinksMany - 1, +1), kInLinksMany);
	EXPECT_EQ(in_links_step(kInLinksMany - 1, +5), kInLinksMany);
	EXPECT_EQ(in_links_step(kInLinksMany, -1), kInLinksMany);  // an overflowed count stays
}

}  // namespace
