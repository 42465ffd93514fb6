// On-disk format of the hnsw index: every struct, limit and magic number in one place.
//
// Block 0 is the metapage. Other pages are element pages (fixed-size element items, one per
// slot), upper pages (link lists for levels >= 1) or continuation pages (the tail of an element
// record too big for one page). Element ids are dense-ish 32-bit numbers derived from the
// position: id = block * per_page + slot, so an id locates its record without a directory.
// Records larger than a page (about > 2000 dims) use per_page = 1 and occupy `span`
// consecutive blocks starting at block = id.
//
// Element item: ElementHeader, heap TIDs, 2*m level-0 links, then the stored element: `words`
// 32-bit words (hnsw_element.h: float4 per dimension, half per dimension, or bits, padded to a
// word; for cosine the stored vector is normalized). Upper item: `level` uint16 counts then
// level * m links.
// Upper items live in upper pages or, since version 2, after the per_page element slots of a
// full element page (line pointers per_page+1...): the bulk build puts an element's upper links
// on its own page when they fit, inserts on the last full element page with room: no upper
// pages while those have space, and (bulk) no second buffer visit per upper hop.
// Sparse elements (MetaPageData::element 3, sparsevec classes) store a 16-byte handle as their
// element words; the non-zeros are chunk items on sparse data pages (kPageSparse), which only
// such indexes have (hnsw_sparse.h). Added without a version bump: older indexes have neither.
// Changing any of this requires bumping kFormatVersion.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/core_only.h"

namespace prism {
namespace hnsw {

constexpr uint32_t kMagic = 0x5052534d;	 // "PRSM"
constexpr uint32_t kFormatVersion = 3;
constexpr uint32_t kInvalidId = 0xffffffffu;
constexpr uint32_t kInvalidBlock = 0xffffffffu;
constexpr int kMaxLevel = 16;		   // levels are capped so upper links fit one item
constexpr int kHeapTidsPerElement = 8;  // exact duplicates share an element (up to this many)
constexpr int kMinM = 2;
constexpr int kMaxM = 100;
constexpr int kMinEfConstruction = 4;
constexpr int kMaxEfConstruction = 1000;
constexpr int kDefaultM = 16;
constexpr int kDefaultEfConstruction = 64;

// L1, Hamming and Jaccard: the vector_l1_ops / halfvec_l1_ops, bit_hamming_ops and
// bit_jaccard_ops classes (the stored element kind is MetaPageData::element).
enum class Metric : uint8_t { L2 = 1, InnerProduct = 2, Cosine = 3, L1 = 4, Hamming = 5, Jaccard = 6 };
constexpr uint8_t kMetricLast = (uint8_t) Metric::Jaccard;

// kPageSparse: side items of sparse elements (hnsw_sparse.h); pages of other kinds never hold them.
enum PageKind : uint16_t {
	kPageMeta = 0x5001,
	kPageElement = 0x5002,
	kPageUpper = 0x5003,
	kPageContinuation = 0x5004,
	kPageSparse = 0x5005
};

// Block numbers of the index that carry no element.
constexpr uint32_t kMetaBlock = 0;

// Page special space (every page but a new one): identifies the page kind.
struct PageOpaque {
	uint16_t kind;	// PageKind
	uint16_t reserved;
	uint32_t next;	// unused for now; keeps the struct 8 bytes
};
static_assert(sizeof(PageOpaque) == 8, "special space size");

// Element flags.
constexpr uint8_t kElementFree = 0;		  // slot unused (never written or reclaimed by vacuum)
constexpr uint8_t kElementLive = 1;		  // a graph node
constexpr uint8_t kElementDeleted = 2;	  // dead: still traversable, never returned; vacuum frees it
constexpr uint8_t kElementDuplicate = 3;  // overflow TIDs of an exact duplicate; not in the graph

struct HeapTid {
	uint16_t block_hi;
	uint16_t block_lo;
	uint16_t offset;
};

struct ElementHeader {
	uint8_t flags;
	uint8_t level;
	uint16_t n_tids;
	uint16_t n_links0;
	// Level-0 links to this element from other element records (version 3): a lower bound, as
	// a link's removal is counted no later than the WAL record that removes it and its
	// creation no earlier; kInLinksMany once it overflows (then never decremented). A pruning
	// keeps a link whose target this count does not show to have another in-link.
	uint16_t in_links0;
	uint32_t upper_block;	 // upper links item (kInvalidBlock when level == 0)
	uint16_t upper_offset;	 // line pointer number of the upper item
	uint16_t reserved2;
	uint32_t dup_next;		 // next kElementDuplicate record holding more TIDs of this vector
	HeapTid tids[kHeapTidsPerElement];
	// followed by: uint32_t links0[2*m]; uint32_t element[words];
};

struct MetaPageData {
	uint32_t magic;
	uint32_t version;
	uint32_t dims;
	uint8_t metric;	 // Metric
	uint8_t vacuum_pending;  // 1: bulkdelete marked elements deleted and cleanup has not finished
	uint16_t m;
	uint16_t ef_construction;
	uint16_t per_page;		// element slots per element page (1 when a record spans pages)
	uint32_t span;			// pages per element record (1 unless dims are large)
	uint32_t record_size;	// bytes of one full element record (all chunks)
	uint32_t entry_point;	// element id or kInvalidId for an empty graph
	int32_t entry_level;
	uint32_t free_hint_block;	  // first element page that may hold a free slot, or kInvalidBlock
	uint32_t last_element_block;  // element page new elements are appended to
	uint32_t last_upper_block;	  // upper page new upper items are appended to
	uint64_t inserted;			  // elements ever written (statistics)
	// Added after format 3 was first written, in bytes that were zero before: ElementKind
	// (hnsw_element.h), 0 = float32. pd_lower of older metapages ends before it.
	uint8_t element;
	uint8_t reserved3[3];
	// Sparse data page new side items go to (sparse elements only); 0 (never a sparse page: the
	// metapage) when there is none yet, as in metapages written before the field existed.
	uint32_t last_sparse_block;
};
// Metapage bytes every format-3 metapage covers with pd_lower (the fields before `element`).
constexpr size_t kMetaRequiredSize = 56;
static_assert(offsetof(MetaPageData, element) == kMetaRequiredSize, "metapage fields before element");

inline size_t links0_offset() { return sizeof(ElementHeader); }
inline size_t vector_offset(int m) { return sizeof(ElementHeader) + sizeof(uint32_t) * 2 * m; }
// `words`: 32-bit words of the stored element (element_words; one per float32 dimension).
inline size_t element_record_size(int m, size_t words) { return vector_offset(m) + sizeof(uint32_t) * words; }
inline size_t upper_item_size(int m, int level)
{
	return ((sizeof(uint16_t) * level + 3) & ~size_t(3)) + sizeof(uint32_t) * m * level;
}
constexpr uint16_t kInLinksMany = 0xffff;
// `count` moved by `delta`, saturating: kInLinksMany sticks, 0 does not go below.
inline uint16_t in_links_step(uint16_t count, int delta)
{
	if (count == kInLinksMany)
		return count;
	int v = (int) count + delta;
	return (uint16_t) (v < 0 ? 0 : v > kInLinksMany ? kInLinksMany : v);
}
inline int max_links(int m, int level) { return level == 0 ? 2 * m : m; }
// Item `off` (1-based) of a page of `kind` may hold an upper links item.
inline bool upper_item_home(uint16_t kind, uint32_t off, uint32_t per_page)
{
	return kind == kPageUpper || (kind == kPageElement && off > per_page);
}

// Layout of element records for a given usable item space per page.
struct ElementLayout {
	uint32_t per_page;	  // slots per element page
	uint32_t span;		  // pages per record
	uint32_t record_size;
	uint32_t chunk;		  // bytes of the record stored per page when spanning
};

// `words`: 32-bit words of the stored element. `item_space`: usable bytes per page for items
// including their line pointers (`line_pointer` bytes each), `max_item`: largest single item a
// page accepts.
inline ElementLayout compute_layout(int m, size_t words, size_t item_space, size_t line_pointer, size_t max_item)
{
	ElementLayout l;
	l.record_size = (uint32_t) element_record_size(m, words);
	size_t aligned = (l.record_size + 7) & ~size_t(7);
	if (aligned + line_pointer <= item_space && l.record_size <= max_item) {
		l.per_page = (uint32_t) (item_space / (aligned + line_pointer));
		l.span = 1;
		l.chunk = l.record_size;
	} else {
		l.per_page = 1;
		l.chunk = (uint32_t) (max_item & ~size_t(7));
		l.span = (uint32_t) ((l.record_size + l.chunk - 1) / l.chunk);
	}
	return l;
}

inline uint32_t id_block(uint32_t id, uint32_t per_page) { return id / per_page; }
inline uint32_t id_slot(uint32_t id, uint32_t per_page) { return id % per_page; }
inline uint32_t make_id(uint32_t block, uint32_t slot, uint32_t per_page) { return block * per_page + slot; }

}  // namespace hnsw
}  // namespace prism
