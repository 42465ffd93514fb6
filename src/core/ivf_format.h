// On-disk format of the ivfflat index: every struct, limit and magic number in one place.
//
// Block 0 is the metapage. Blocks 1 .. center_pages hold the list centers, `centers_per_page`
// center items per page in list order (list l is item l % centers_per_page + 1 of block
// 1 + l / centers_per_page). A center item holds the center vector (float4, unit length for the
// spherical metrics) and the first and the insert block of its list. A list is a chain of list
// pages linked through the page special space (`next`); each list page holds list tuples: a
// heap TID and the indexed vector (normalized for cosine). Centers and list tuples hold their
// vectors in the element type of the opclass, recorded in the metapage: float4 (`vector`),
// IEEE half (`halfvec`, 2 bytes a dimension) or bits (`bit`, 1 bit a dimension, the last byte
// zero-padded); only the bytes of the stored vector differ (core/ivf_element.h converts).
// Changing any of this requires bumping kFormatVersion.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/core_only.h"

namespace prism {
namespace ivf {

constexpr uint32_t kMagic = 0x49564646;	 // "IVFF"
constexpr uint32_t kFormatVersion = 1;
constexpr uint32_t kInvalidBlock = 0xffffffffu;
constexpr int kMinLists = 1;
constexpr int kMaxLists = 32768;
constexpr int kDefaultLists = 100;
constexpr int kDefaultProbes = 1;
// Dimensions an index takes, per element type (pgvector's limits): a center item must fit a page.
constexpr int kMaxDims = 2000;		   // vector
constexpr int kMaxHalfDims = 4000;	   // halfvec
constexpr int kMaxBitDims = 64000;	   // bit
// k-means runs over a sample of max(kSamplesPerList * lists, kMinSamples) rows (fewer when
// maintenance_work_mem is small); below one row per list the build says so with a NOTICE.
constexpr int kSamplesPerList = 50;
constexpr int kMinSamples = 10000;
constexpr int kKmeansIterations = 10;

// Metric of the opclass. Cosine indexes store normalized vectors; the spherical metrics
// (inner product, cosine) rank lists by inner product with unit-length centers. Hamming (bit)
// centers are bit strings too: the squared L2 distance between 0/1 vectors is their Hamming
// distance, so lists rank as under L2.
enum class Metric : uint8_t { L2 = 1, InnerProduct = 2, Cosine = 3, Hamming = 4 };
// Stored element type.
enum class ElementType : uint8_t { Float32 = 1, Half = 2, Bit = 3 };

enum PageKind : uint16_t { kPageMeta = 0x4901, kPageCenter = 0x4902, kPageList = 0x4903 };

// Page special space of every ivfflat page.
struct PageSpecial {
	uint16_t kind;
	uint16_t reserved;
	uint32_t next;	// list pages: next page of the list or kInvalidBlock
};

struct MetaPageData {
	uint32_t magic;
	uint32_t version;
	uint32_t dims;
	uint8_t metric;		   // Metric
	uint8_t element_type;  // ElementType
	uint16_t reserved;
	uint32_t lists;
	uint32_t center_pages;		// center pages follow the metapage
	uint32_t centers_per_page;
	uint32_t samples;	// rows k-means ran on (statistics)
};

struct CenterHeader {
	uint32_t start_block;	// first page of the list, kInvalidBlock while the list is empty
	uint32_t insert_block;	// page inserts try first (the last page, or one vacuum freed space on)
	// followed by: float center[dims]
};

struct ListTupleHeader {
	uint16_t block_hi;	// heap TID
	uint16_t block_lo;
	uint16_t offset;
	uint16_t reserved;
	// followed by the vector (element_type, dims)
};

inline bool metric_valid(uint8_t m) { return m >= 1 && m <= 4; }
inline bool element_type_valid(uint8_t t) { return t >= 1 && t <= 3; }
inline bool spherical(Metric m) { return m == Metric::InnerProduct || m == Metric::Cosine; }
// The metrics an element type has opclasses for.
inline bool metric_fits(ElementType t, Metric m) { return (t == ElementType::Bit) == (m == Metric::Hamming); }

inline int max_dims(ElementType t)
{
	return t == ElementType::Half ? kMaxHalfDims : t == ElementType::Bit ? kMaxBitDims : kMaxDims;
}
inline size_t vector_bytes(ElementType t, uint32_t dims)
{
	switch (t) {
	case ElementType::Half:
		return 2 * (size_t) dims;
	case ElementType::Bit:
		return ((size_t) dims + 7) / 8;
	case ElementType::Float32:
	default:
		return sizeof(float) * (size_t) dims;
	}
}
inline size_t center_item_size(ElementType t, uint32_t dims) { return sizeof(CenterHeader) + vector_bytes(t, dims); }
inline size_t list_tuple_size(ElementType t, uint32_t dims) { return sizeof(ListTupleHeader) + vector_bytes(t, dims); }

// Items of `item_size` bytes (MAXALIGNed to 8, plus a `line_pointer` each) fitting `item_space`.
inline uint32_t items_per_page(size_t item_size, size_t item_space, size_t line_pointer)
{
	size_t aligned = (item_size + 7) & ~size_t(7);
	return (uint32_t) (item_space / (aligned + line_pointer));
}

// Where the center of list `list` lives.
inline uint32_t center_block(uint32_t list, uint32_t per_page) { return 1 + list / per_page; }
inline uint16_t center_offset(uint32_t list, uint32_t per_page) { return (uint16_t) (list % per_page + 1); }
inline uint32_t center_pages_for(uint32_t lists, uint32_t per_page) { return (lists + per_page - 1) / per_page; }

// Rows k-means samples for `lists` lists.
inline size_t wanted_samples(uint32_t lists)
{
	size_t s = (size_t) lists * kSamplesPerList;
	return s < (size_t) kMinSamples ? (size_t) kMinSamples : s;
}

}  // namespace ivf
}  // namespace prism
