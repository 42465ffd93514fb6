// The walk over every page of an hnsw index that prism.index_info and prism.index_check share
// (hnsw_info.cpp reads the metapage and the element headers; hnsw_check.cpp checks links, upper
// items, records and the entry point). Pages are decoded from private copies only.
#pragma once

#include "pg/hnsw.h"

extern "C" {
#include "utils/tuplestore.h"
}

namespace prism {
namespace hnsw {

constexpr uint8 kNoSlot = 0xff;		   // no (readable) element record at this id
constexpr uint64 kMaxProblemRows = 1000;  // a wrecked index is summarized, not listed in full

// What one walk over the index found.
struct Walk {
	Relation rel;
	BufferAccessStrategy strategy;
	Tuplestorestate *out;  // NULL: count only (index_info)
	TupleDesc desc;
	uint64 rows;
	bool meta_ok;
	MetaPageData meta;
	IndexShape sh;
	size_t item_len;  // bytes of an element item (a chunk when records span pages)
	BlockNumber nblocks;
	uint32 capacity;  // every valid id is below this
	uint8 *flags;
	uint8 *level;
	uint8 *n_tids;
	uint8 *in_chain;
	uint32 *dup_next;
	uint16 *in_links;  // stored level-0 in-link counts
	uint32 *in_found;  // level-0 links to each element from live and deleted elements
	char *page;		   // private page copies
	char *upper_page;
	BlockNumber upper_block;  // block held in upper_page
	float *vec;
	// Counts.
	uint64 live, deleted, free_slots, dup_records, dup_tids, sparse_pages;
	int max_live_level;
};

// Adds a problem row (index_check; nothing for index_info); element -1 when none applies.
void report(Walk *w, const char *problem, int64 element, const char *fmt, ...) pg_attribute_printf(4, 5);
// Copies block b into dst (zeros for a page Postgres would refuse to read; listed when `list`).
void copy_page(Walk *w, BlockNumber b, char *dst, bool list);
// The kind of a copied page, or 0 with *why set when its header or special space is invalid.
int page_kind(const char *page, const char **why);
// Item `off` of a copied page if it exists and holds at least len bytes, else NULL with *why set.
const char *page_item(const char *page, OffsetNumber off, size_t len, const char **why);

// index_check's pass 2 after walk_headers: every element's links, upper item, TIDs, duplicate
// chain and vector, the in-link counts, and the entry point.
void check_graph(Walk *w);

}  // namespace hnsw
}  // namespace prism
