// Record codec of the hnsw index (src/core/hnsw_record.h): element records, upper items and
// records spanning pages, written and read back; the bounds-checked decode of arbitrary bytes.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/hnsw_record.h"

namespace {

using namespace prism::hnsw;

std::vector<unsigned char> element_record(int m, size_t words, int level, int n_links, uint32_t seed,
										  std::vector<uint32_t> *links, std::vector<float> *vec)
{
	std::mt19937 rng(seed);
	links->resize(n_links);
	for (auto &l : *links)
		l = rng();
	vec->resize(words);
	for (auto &x : *vec)
		x = std::uniform_real_distribution<float>(-1, 1)(rng);
	std::vector<unsigned char> rec(element_record_size(m, words), 0xAB);
	encode_element_record(rec.data(), m, words, kElementLive, level, HeapTid{1, 2, 3}, links->data(), n_links,
						  vec->data(), kInvalidId);
	return rec;
}

TEST(HnswRecord, ElementRoundTrip)
{
	for (int m : {2, 16, kMaxM}) {
		size_t words = 37;
		std::vector<uint32_t> links;
		std::vector<float> vec;
		auto rec = element_record(m, words, 3, 2 * m - 1, m, &links, &vec);
		RecordView r(rec.data());
		EXPECT_EQ(r.flags(), kElementLive);
		EXPECT_TRUE(r.in_graph());
		EXPECT_EQ(r.level(), 3);
		EXPECT_EQ(r.n_tids(), 1);
		EXPECT_EQ(r.tid(0).block_hi, 1);
		EXPECT_EQ(r.tid(0).block_lo, 2);
		EXPECT_EQ(r.tid(0).offset, 3);
		EXPECT_EQ(r.upper_block(), kInvalidBlock);
		EXPECT_EQ(r.dup_next(), kInvalidId);
		EXPECT_EQ(r.in_links0(), 0);
		ASSERT_EQ(r.n_links0(), 2 * m - 1);
		std::vector<uint32_t> out(2 * m);
		EXPECT_EQ(r.copy_links0(out.data()), 2 * m - 1);
		for (int i = 0; i < 2 * m - 1; i++) {
			EXPECT_EQ(out[i], links[i]);
			EXPECT_EQ(r.link0(i), links[i]);
		}
		EXPECT_EQ(memcmp(r.element(m), vec.data(), sizeof(float) * words), 0);
		// the element words are the record's last bytes: nothing is written past them
		EXPECT_EQ(vector_offset(m) + sizeof(float) * words, rec.size());
		// the header copy agrees with the accessors and with the struct's layout
		ElementHeader h = r.header();
		EXPECT_EQ(h.n_links0, 2 * m - 1);
		EXPECT_EQ(h.level, 3);
	}
}

TEST(HnswRecord, WriterChangesOneFieldEach)
{
	std::vector<uint32_t> links;
	std::vector<float> vec;
	auto rec = element_record(16, 8, 1, 5, 7, &links, &vec);
	auto before = rec;
	RecordWriter w(rec.data());
	w.set_in_links0(9);
	w.set_upper(1234, 17);
	w.set_dup_next(55);
	RecordView r(rec.data());
	EXPECT_EQ(r.in_links0(), 9);
	EXPECT_EQ(r.upper_block(), 1234u);
	EXPECT_EQ(r.upper_offset(), 17);
	EXPECT_EQ(r.dup_next(), 55u);
	EXPECT_EQ(r.n_links0(), 5);
	EXPECT_EQ(memcmp(rec.data() + links0_offset(), before.data() + links0_offset(), rec.size() - links0_offset()), 0);
	uint32_t fresh[3] = {10, 20, 30};
	w.set_links0(fresh, 3);
	EXPECT_EQ(r.n_links0(), 3);
	EXPECT_EQ(r.link0(2), 30u);
	w.set_link0(1, 99);
	EXPECT_EQ(r.link0(1), 99u);
	EXPECT_EQ(memcmp(r.element(16), vec.data(), sizeof(float) * 8), 0);  // the element is untouched
}

TEST(HnswRecord, HeapTidsFillUpToTheLimit)
{
	std::vector<uint32_t> links;
	std::vector<float> vec;
	auto rec = element_record(4, 4, 0, 0, 1, &links, &vec);
	RecordWriter w(rec.data());
	for (int i = 1; i < kHeapTidsPerElement; i++)
		EXPECT_TRUE(w.add_tid(HeapTid{0, (uint16_t) i, (uint16_t) (i + 1)}));
	EXPECT_FALSE(w.add_tid(HeapTid{9, 9, 9}));
	RecordView r(rec.data());
	ASSERT_EQ(r.n_tids(), kHeapTidsPerElement);
	EXPECT_EQ(r.tid(kHeapTidsPerElement - 1).block_lo, kHeapTidsPerElement - 1);
	HeapTid kept[2] = {r.tid(3), r.tid(5)};
	w.set_tids(kept, 2);
	EXPECT_EQ(r.n_tids(), 2);
	EXPECT_EQ(r.tid(1).block_lo, 5);
	w.mark_free();
	EXPECT_EQ(r.flags(), kElementFree);
	EXPECT_FALSE(r.in_graph());
	EXPECT_EQ(r.n_tids(), 0);
	EXPECT_EQ(r.n_links0(), 0);
	EXPECT_EQ(r.upper_block(), kInvalidBlock);
	EXPECT_EQ(r.dup_next(), kInvalidId);
}

TEST(HnswRecord, DuplicateRecordCarriesNoLinksOrElement)
{
	std::vector<unsigned char> rec(element_record_size(8, 16), 0x5A);
	encode_element_record(rec.data(), 8, 16, kElementDuplicate, 0, HeapTid{0, 7, 1}, nullptr, 0, nullptr, 42);
	RecordView r(rec.data());
	EXPECT_EQ(r.flags(), kElementDuplicate);
	EXPECT_FALSE(r.in_graph());
	EXPECT_EQ(r.dup_next(), 42u);
	EXPECT_EQ(r.n_links0(), 0);
	for (size_t i = vector_offset(8); i < rec.size(); i++)
		ASSERT_EQ(rec[i], 0) << i;
}

TEST(HnswRecord, UpperItemRoundTrip)
{
	int m = 6;
	for (int elevel = 1; elevel <= kMaxLevel; elevel++) {
		std::vector<std::vector<uint32_t>> lists(elevel + 1);
		const uint32_t *ptrs[kMaxLevel + 1] = {nullptr};
		int counts[kMaxLevel + 1] = {0};
		for (int l = 1; l <= elevel; l++) {
			counts[l] = (l * 5 + elevel) % (m + 1);
			for (int i = 0; i < counts[l]; i++)
				lists[l].push_back(1000 * l + i);
			ptrs[l] = lists[l].data();
		}
		std::vector<unsigned char> item(upper_item_size(m, elevel));
		encode_upper_item(item.data(), elevel, m, ptrs, counts);
		// the links start 4-byte aligned after the counts, and the item ends with the last list
		EXPECT_EQ(upper_links_offset(elevel) % 4, 0u);
		EXPECT_EQ(upper_links_offset(elevel) + sizeof(uint32_t) * m * elevel, item.size());
		UpperView u(item.data(), elevel, m);
		for (int l = 1; l <= elevel; l++) {
			ASSERT_EQ(u.count(l), counts[l]);
			uint32_t out[kMaxM];
			u.copy_links(l, counts[l], out);
			for (int i = 0; i < counts[l]; i++) {
				EXPECT_EQ(out[i], lists[l][i]);
				EXPECT_EQ(u.link(l, i), lists[l][i]);
			}
		}
		DecodedUpper d;
		ASSERT_EQ(decode_upper_item(item.data(), item.size(), m, &d), nullptr);
		EXPECT_EQ(d.level, elevel);
		// changing one level leaves the others
		uint32_t one = 77;
		upper_item_set(item.data(), elevel, m, elevel, &one, 1);
		EXPECT_EQ(u.count(elevel), 1);
		EXPECT_EQ(u.link(elevel, 0), 77u);
		if (elevel > 1)
			EXPECT_EQ(u.count(1), counts[1]);
	}
}

// A record split into chunks as the pages hold it and gathered back gives the element words.
TEST(HnswRecord, SpanningRecordSplitAndGather)
{
	for (size_t words : {size_t(2100), size_t(4000), size_t(16000)}) {
		for (size_t chunk : {size_t(8152), size_t(1000), size_t(200)}) {
			int m = 16;
			std::vector<uint32_t> links;
			std::vector<float> vec;
			auto rec = element_record(m, words, 0, 4, (uint32_t) (words + chunk), &links, &vec);
			uint32_t parts = chunk_count(rec.size(), chunk);
			size_t total = 0;
			std::vector<std::vector<unsigned char>> pages;
			for (uint32_t p = 0; p < parts; p++) {
				ChunkRange r = record_chunk(rec.size(), chunk, p);
				EXPECT_EQ(r.offset, total);
				EXPECT_GT(r.length, 0u);
				EXPECT_LE(r.length, chunk);
				pages.emplace_back(rec.begin() + r.offset, rec.begin() + r.offset + r.length);
				total += r.length;
			}
			EXPECT_EQ(total, rec.size());
			EXPECT_EQ(record_chunk(rec.size(), chunk, parts).length, 0u);
			std::vector<float> got(words, -5);
			ElementGather g(got.data(), m, words, rec.size(), chunk);
			g.first(pages[0].data());
			uint32_t p = 1;
			for (; g.more(); p++) {
				ASSERT_LT(p, parts);
				ASSERT_EQ(g.chunk_length(p), pages[p].size());
				g.add(p, pages[p].data());
			}
			EXPECT_EQ(p, parts);
			EXPECT_EQ(memcmp(got.data(), vec.data(), sizeof(float) * words), 0) << words << " " << chunk;
		}
	}
}

TEST(HnswRecord, DecodeRejectsWhatReadersCannotTrust)
{
	int m = 8;
	size_t words = 10;
	std::vector<uint32_t> links;
	std::vector<float> vec;
	auto rec = element_record(m, words, 2, 2 * m, 3, &links, &vec);
	DecodedRecord d;
	ASSERT_EQ(decode_element_record(rec.data(), rec.size(), m, words, &d), nullptr);
	EXPECT_EQ(d.header.n_links0, 2 * m);
	EXPECT_EQ(d.links0[2 * m - 1], links[2 * m - 1]);
	EXPECT_EQ(d.element, rec.data() + vector_offset(m));
	// shorter than the whole record: the header and links decode, the element is not there
	EXPECT_EQ(decode_element_record(rec.data(), vector_offset(m), m, words, &d), nullptr);
	EXPECT_EQ(d.element, nullptr);
	EXPECT_NE(decode_element_record(rec.data(), vector_offset(m) - 1, m, words, &d), nullptr);
	EXPECT_NE(decode_element_record(rec.data(), sizeof(ElementHeader) - 1, m, words, &d), nullptr);
	auto bad = rec;
	RecordWriter(bad.data()).set_links0(links.data(), 2 * m);
	bad[offsetof(ElementHeader, n_links0)] = (unsigned char) (2 * m + 1);
	EXPECT_NE(decode_element_record(bad.data(), bad.size(), m, words, &d), nullptr);
	bad = rec;
	RecordWriter(bad.data()).set_flags(7);
	EXPECT_NE(decode_element_record(bad.data(), bad.size(), m, words, &d), nullptr);
	bad = rec;
	bad[offsetof(ElementHeader, level)] = kMaxLevel + 1;
	EXPECT_NE(decode_element_record(bad.data(), bad.size(), m, words, &d), nullptr);
	DecodedUpper u;
	EXPECT_NE(decode_upper_item(rec.data(), upper_item_size(m, 2) + 1, m, &u), nullptr);
	std::vector<unsigned char> up(upper_item_size(m, 2), 0);
	up[0] = (unsigned char) (m + 1);
	EXPECT_NE(decode_upper_item(up.data(), up.size(), m, &u), nullptr);
}

}  // namespace
