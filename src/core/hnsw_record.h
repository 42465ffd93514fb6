// Codec of the hnsw index's records (layout in hnsw_format.h): the element record (header
// fields, heap TIDs, level-0 links, the stored element words), the upper links item and the
// chunks of a record that spans pages. Every reader and writer of index records goes through
// these; nothing else casts page memory to ElementHeader or computes an offset inside a record.
//
// The accessors are inline reads over the bytes where they lie (a page in a shared buffer or a
// record being built): no copies, so the scan's per-visit path is the same loads it would be
// with a cast. They trust what the caller already checked (an element header passed
// element_header_fault, an upper item of the size of its level): the bounds-checked decode for
// bytes nothing checked yet is decode_element_record / decode_upper_item.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/core_only.h"
#include "core/hnsw_format.h"
#include "core/hnsw_page_check.h"

namespace prism {
namespace hnsw {

// ---- element records -------------------------------------------------------------------------

// A read-only view of an element record (its first chunk when it spans pages).
class RecordView {
public:
	explicit RecordView(const void *rec) : p_(static_cast<const unsigned char *>(rec)) {}

	uint8_t flags() const { return field<uint8_t>(offsetof(ElementHeader, flags)); }
	int level() const { return field<uint8_t>(offsetof(ElementHeader, level)); }
	int n_tids() const { return field<uint16_t>(offsetof(ElementHeader, n_tids)); }
	int n_links0() const { return field<uint16_t>(offsetof(ElementHeader, n_links0)); }
	uint16_t in_links0() const { return field<uint16_t>(offsetof(ElementHeader, in_links0)); }
	uint32_t upper_block() const { return field<uint32_t>(offsetof(ElementHeader, upper_block)); }
	uint16_t upper_offset() const { return field<uint16_t>(offsetof(ElementHeader, upper_offset)); }
	uint32_t dup_next() const { return field<uint32_t>(offsetof(ElementHeader, dup_next)); }
	HeapTid tid(int i) const
	{
		HeapTid t;
		memcpy(&t, p_ + offsetof(ElementHeader, tids) + sizeof(HeapTid) * i, sizeof(t));
		return t;
	}
	// A copy of the whole header (for the checkers).
	ElementHeader header() const
	{
		ElementHeader h;
		memcpy(&h, p_, sizeof(h));
		return h;
	}
	bool in_graph() const { return flags() == kElementLive || flags() == kElementDeleted; }
	// Level-0 link i (i < n_links0()).
	uint32_t link0(int i) const { return field<uint32_t>(links0_offset() + sizeof(uint32_t) * i); }
	// Copies the n_links0() level-0 links to out; returns how many.
	int copy_links0(uint32_t *out) const
	{
		int n = n_links0();
		memcpy(out, p_ + links0_offset(), sizeof(uint32_t) * n);
		return n;
	}
	// The stored element words in place (a record on one page; see ElementChunks otherwise).
	const float *element(int m) const { return reinterpret_cast<const float *>(p_ + vector_offset(m)); }
	const unsigned char *bytes() const { return p_; }

private:
	template <class T> T field(size_t off) const
	{
		T v;
		memcpy(&v, p_ + off, sizeof(v));
		return v;
	}
	const unsigned char *p_;
};

// element_header_fault (hnsw_page_check.h) of a record where it lies: reads only the fields checked.
inline const char *element_header_fault(const RecordView &r, int m)
{
	return element_header_fault(r.flags(), r.n_tids(), r.level(), r.n_links0(), m);
}

// A writable view of an element record (a page copy registered for WAL, or a new record).
class RecordWriter {
public:
	explicit RecordWriter(void *rec) : p_(static_cast<unsigned char *>(rec)) {}

	RecordView view() const { return RecordView(p_); }
	void set_flags(uint8_t v) { put(offsetof(ElementHeader, flags), v); }
	void set_in_links0(uint16_t v) { put(offsetof(ElementHeader, in_links0), v); }
	void set_dup_next(uint32_t v) { put(offsetof(ElementHeader, dup_next), v); }
	void set_upper(uint32_t block, uint16_t offset)
	{
		put(offsetof(ElementHeader, upper_block), block);
		put(offsetof(ElementHeader, upper_offset), offset);
	}
	// Appends a heap TID; false when the record holds kHeapTidsPerElement already.
	bool add_tid(HeapTid t)
	{
		int n = view().n_tids();
		if (n >= kHeapTidsPerElement)
			return false;
		memcpy(p_ + offsetof(ElementHeader, tids) + sizeof(HeapTid) * n, &t, sizeof(t));
		put(offsetof(ElementHeader, n_tids), (uint16_t) (n + 1));
		return true;
	}
	// Replaces the heap TIDs by t[0..n) (n <= kHeapTidsPerElement).
	void set_tids(const HeapTid *t, int n)
	{
		if (n > 0)
			memcpy(p_ + offsetof(ElementHeader, tids), t, sizeof(HeapTid) * n);
		put(offsetof(ElementHeader, n_tids), (uint16_t) n);
	}
	// Replaces the level-0 links by links[0..n) (n <= 2m).
	void set_links0(const uint32_t *links, int n)
	{
		if (n > 0)
			memcpy(p_ + links0_offset(), links, sizeof(uint32_t) * n);
		put(offsetof(ElementHeader, n_links0), (uint16_t) n);
	}
	void set_link0(int i, uint32_t id) { put(links0_offset() + sizeof(uint32_t) * i, id); }
	// Turns the record into a free slot: no TIDs, links, level, upper item or chain (the element
	// words stay; a free slot's bytes carry no meaning until it is written again).
	void mark_free()
	{
		set_flags(kElementFree);
		put(offsetof(ElementHeader, level), (uint8_t) 0);
		put(offsetof(ElementHeader, n_tids), (uint16_t) 0);
		put(offsetof(ElementHeader, n_links0), (uint16_t) 0);
		set_in_links0(0);
		set_upper(kInvalidBlock, 0);
		set_dup_next(kInvalidId);
	}
	unsigned char *bytes() const { return p_; }

private:
	template <class T> void put(size_t off, T v) { memcpy(p_ + off, &v, sizeof(v)); }
	unsigned char *p_;
};

// Writes a complete element record into rec[0..element_record_size(m, words)): a graph element
// (flags live) of `level` with one heap TID, links0[0..n_links0) and the element words, or a
// duplicate overflow record (kElementDuplicate, element == nullptr, no links) whose chain
// continues at dup_next. The upper item's place is set later (set_upper).
inline void encode_element_record(void *rec, int m, size_t words, uint8_t flags, int level, HeapTid tid,
								  const uint32_t *links0, int n_links0, const void *element, uint32_t dup_next)
{
	memset(rec, 0, element_record_size(m, words));
	ElementHeader h;
	memset(&h, 0, sizeof(h));
	h.flags = flags;
	h.level = (uint8_t) level;
	h.upper_block = kInvalidBlock;
	h.dup_next = dup_next;
	h.n_tids = 1;
	h.tids[0] = tid;
	memcpy(rec, &h, sizeof(h));
	RecordWriter w(rec);
	w.set_links0(links0, n_links0);
	if (element)
		memcpy(static_cast<unsigned char *>(rec) + vector_offset(m), element, sizeof(uint32_t) * words);
}

// ---- upper links items -----------------------------------------------------------------------

// Offset of the link lists inside an upper item of an element of `level`: its counts, padded.
inline size_t upper_links_offset(int level) { return (sizeof(uint16_t) * level + 3) & ~size_t(3); }

// A read-only view of the upper item of an element of level `elevel` (item size checked).
class UpperView {
public:
	UpperView(const void *item, int elevel, int m) : p_(static_cast<const unsigned char *>(item)), elevel_(elevel), m_(m)
	{
	}
	// Links stored for `level` (1 <= level <= elevel): not checked against m here.
	int count(int level) const
	{
		uint16_t c;
		memcpy(&c, p_ + sizeof(uint16_t) * (level - 1), sizeof(c));
		return c;
	}
	const unsigned char *links_at(int level) const
	{
		return p_ + upper_links_offset(elevel_) + sizeof(uint32_t) * (size_t) m_ * (level - 1);
	}
	uint32_t link(int level, int i) const
	{
		uint32_t v;
		memcpy(&v, links_at(level) + sizeof(uint32_t) * i, sizeof(v));
		return v;
	}
	// Copies the `n` (count(level), checked <= m by the caller) links of `level` to out.
	void copy_links(int level, int n, uint32_t *out) const { memcpy(out, links_at(level), sizeof(uint32_t) * n); }

private:
	const unsigned char *p_;
	int elevel_;
	int m_;
};

// Sets the list of `level` in the upper item (elevel, m) at `item` to links[0..n) (n <= m).
inline void upper_item_set(void *item, int elevel, int m, int level, const uint32_t *links, int n)
{
	unsigned char *p = static_cast<unsigned char *>(item);
	uint16_t c = (uint16_t) n;
	memcpy(p + sizeof(uint16_t) * (level - 1), &c, sizeof(c));
	if (n > 0)
		memcpy(p + upper_links_offset(elevel) + sizeof(uint32_t) * (size_t) m * (level - 1), links, sizeof(uint32_t) * n);
}

// Writes a whole upper item of `elevel` into item[0..upper_item_size(m, elevel)): the list of
// level l (1..elevel) is lists[l][0..counts[l]) (lists[l] may be null when counts[l] is 0).
inline void encode_upper_item(void *item, int elevel, int m, const uint32_t *const *lists, const int *counts)
{
	memset(item, 0, upper_item_size(m, elevel));
	for (int l = 1; l <= elevel; l++)
		upper_item_set(item, elevel, m, l, lists[l], counts[l]);
}

// ---- records spanning pages ------------------------------------------------------------------

// Chunk p of a record of record_size bytes cut in `chunk`-byte pieces (the last one shorter).
struct ChunkRange {
	size_t offset;	// in the record
	size_t length;
};
inline uint32_t chunk_count(size_t record_size, size_t chunk) { return (uint32_t) ((record_size + chunk - 1) / chunk); }
inline ChunkRange record_chunk(size_t record_size, size_t chunk, uint32_t p)
{
	size_t off = (size_t) p * chunk;
	size_t len = off >= record_size ? 0 : (record_size - off < chunk ? record_size - off : chunk);
	return ChunkRange{off, len};
}

// The stored element of a spanning record, gathered chunk by chunk into `dst` (words 32-bit
// words): first(chunk0) takes what the first chunk holds, then add(p, bytes) for p = 1, 2, ...
// while more() (each `bytes` the whole chunk p, record_chunk(...).length long).
class ElementGather {
public:
	ElementGather(void *dst, int m, size_t words, size_t record_size, size_t chunk)
		: dst_(static_cast<unsigned char *>(dst)),
		  voff_(vector_offset(m)),
		  total_(sizeof(uint32_t) * words),
		  record_size_(record_size),
		  chunk_(chunk),
		  copied_(0)
	{
	}
	void first(const void *chunk0)
	{
		size_t n = chunk_ > voff_ ? chunk_ - voff_ : 0;
		n = n < total_ ? n : total_;
		memcpy(dst_, static_cast<const unsigned char *>(chunk0) + voff_, n);
		copied_ = n;
	}
	bool more() const { return copied_ < total_; }
	// Bytes chunk p must have.
	size_t chunk_length(uint32_t p) const { return record_chunk(record_size_, chunk_, p).length; }
	void add(uint32_t p, const void *bytes)
	{
		ChunkRange r = record_chunk(record_size_, chunk_, p);
		// the element's bytes in chunk p: from max(r.offset, voff) to the chunk's end
		size_t from = r.offset > voff_ ? r.offset : voff_;
		size_t end = r.offset + r.length;
		if (end <= from)
			return;
		size_t dst_at = from - voff_;
		size_t n = end - from;
		if (dst_at >= total_)
			return;
		if (dst_at + n > total_)
			n = total_ - dst_at;
		memcpy(dst_ + dst_at, static_cast<const unsigned char *>(bytes) + (from - r.offset), n);
		if (dst_at + n > copied_)
			copied_ = dst_at + n;
	}

private:
	unsigned char *dst_;
	size_t voff_, total_, record_size_, chunk_, copied_;
};

// ---- bounds-checked decode (bytes nothing checked yet) ---------------------------------------

// An element record decoded from len bytes: nullptr from the decode when it is sound (then
// `links0` holds n_links0 ids and `element` points at `words` words inside the bytes, or is
// nullptr when the bytes are only the first chunk of a spanning record); else what is wrong.
struct DecodedRecord {
	ElementHeader header;
	uint32_t links0[2 * kMaxM];
	const unsigned char *element;
};
const char *decode_element_record(const void *bytes, size_t len, int m, size_t words, DecodedRecord *out);

// An upper item of len bytes: its level (from its size) and per-level counts (<= m).
struct DecodedUpper {
	int level;
	int counts[kMaxLevel + 1];
};
const char *decode_upper_item(const void *bytes, size_t len, int m, DecodedUpper *out);

}  // namespace hnsw
}  // namespace prism
