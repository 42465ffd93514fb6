// index_check's pass 2 over the walk (hnsw_walk.h): links, upper items, heap TIDs, duplicate
// chains, vectors, in-link counts and the entry point of every element, each problem a row.
#include <cmath>

#include "pg/hnsw_sparse.h"
#include "pg/hnsw_walk.h"

namespace prism {
namespace hnsw {

// Checks one link of `id` at `level`.
static void check_link(Walk *w, uint32 id, int level, uint32 target)
{
	if (target >= w->capacity || w->flags[target] == kNoSlot) {
		report(w, "dangling link", id, "level %d link to element %u, which has no valid record", level, target);
		return;
	}
	if (target == id) {
		report(w, "link to itself", id, "level %d", level);
		return;
	}
	uint8 f = w->flags[target];
	if (f == kElementFree)
		report(w, "link to a free slot", id, "level %d link to element %u", level, target);
	else if (f == kElementDuplicate)
		report(w, "link to an overflow record", id, "level %d link to element %u", level, target);
	else if (w->level[target] < level)
		report(w, "neighbour level too low", id, "level %d link to element %u of level %u", level, target,
			   w->level[target]);
}

static void check_upper(Walk *w, uint32 id, const ElementHeader &h)
{
	const IndexShape &sh = w->sh;
	int level = Min((int) h.level, kMaxLevel);
	if (h.upper_block == kMetaBlock || h.upper_block >= w->nblocks) {
		report(w, "bad upper links", id, "upper item at block %u, the index has %u blocks", h.upper_block,
			   w->nblocks);
		return;
	}
	if (w->upper_block != h.upper_block) {
		copy_page(w, h.upper_block, w->upper_page, false);
		w->upper_block = h.upper_block;
	}
	const char *why = "";
	if (!upper_item_home(page_kind(w->upper_page, &why), h.upper_offset, sh.per_page)) {
		report(w, "bad upper links", id, "block %u item %u cannot hold upper links", h.upper_block, h.upper_offset);
		return;
	}
	const char *item = page_item(w->upper_page, h.upper_offset, upper_item_size(sh.m, level), &why);
	if (!item) {
		report(w, "bad upper links", id, "block %u item %u: %s", h.upper_block, h.upper_offset, why);
		return;
	}
	UpperView upper(item, level, sh.m);
	for (int l = 1; l <= level; l++) {
		int n = upper.count(l);
		if (n > sh.m) {
			report(w, "bad upper links", id, "%d links at level %d, at most %d fit", n, l, sh.m);
			n = sh.m;
		}
		for (int i = 0; i < n; i++)
			check_link(w, id, l, upper.link(l, i));
	}
}

// Copies the vector of the element whose first item is `item` (block b) into w->vec; false if a
// continuation page is missing or bad (reported).
static bool gather_vector(Walk *w, uint32 id, BlockNumber b, const char *item)
{
	const IndexShape &sh = w->sh;
	if (sh.span == 1) {
		memcpy(w->vec, RecordView(item).element(sh.m), sizeof(float) * sh.words);
		return true;
	}
	ElementGather gather(w->vec, sh.m, sh.words, sh.record_size, sh.chunk);
	gather.first(item);
	char *cont = w->upper_page;	 // borrowed; invalidate the upper-page cache
	w->upper_block = InvalidBlockNumber;
	for (uint32 p = 1; p < sh.span; p++) {
		size_t want = gather.chunk_length(p);
		const char *why = "";
		if (b + p >= w->nblocks) {
			report(w, "missing continuation page", id, "block %u is beyond the end of the index", b + p);
			return false;
		}
		copy_page(w, b + p, cont, false);
		if (page_kind(cont, &why) != kPageContinuation) {
			report(w, "missing continuation page", id, "block %u is not a continuation page", b + p);
			return false;
		}
		const char *part = page_item(cont, 1, want, &why);
		if (!part) {
			report(w, "missing continuation page", id, "block %u: %s", b + p, why);
			return false;
		}
		gather.add(p, part);
	}
	return true;
}

// Pass 2: links, upper items, vectors, heap TIDs and duplicate chains of every element.
static void check_elements(Walk *w)
{
	const IndexShape &sh = w->sh;
	for (BlockNumber b = 1; b < w->nblocks; b++) {
		copy_page(w, b, w->page, false);
		const char *why = "";
		if (page_kind(w->page, &why) != kPageElement)
			continue;
		OffsetNumber max = PageGetMaxOffsetNumber((Page) w->page);
		for (OffsetNumber off = 1; off <= max && off <= sh.per_page; off++) {
			uint32 id = make_id(b, off - 1, sh.per_page);
			uint8 f = w->flags[id];
			if (f == kNoSlot || f == kElementFree)
				continue;
			const char *item = page_item(w->page, off, w->item_len, &why);
			if (!item)
				continue;
			RecordView record(item);
			ElementHeader h = record.header();
			int n_tids = Min(h.n_tids, kHeapTidsPerElement);
			for (int i = 0; i < n_tids; i++)
				if (h.tids[i].offset == InvalidOffsetNumber || h.tids[i].offset > MaxOffsetNumber)
					report(w, "bad heap tid", id, "tid %d has offset %u", i, h.tids[i].offset);
			if (f == kElementDuplicate)
				continue;
			// Sparse elements (live or deleted: scans compute distances to both): the side item
			// the record names holds exactly its non-zeros, in order.
			char sparse_why[200];
			if (sh.element == ElementKind::Sparse &&
				!sparse_check_item(w->rel, sh, record.element(sh.m), sparse_why, sizeof(sparse_why)))
				report(w, "bad sparse element", id, "%s", sparse_why);
			// Chains: every record reached is an overflow record, reached once.
			uint32 steps = 0;
			for (uint32 cur = h.dup_next; cur != kInvalidId; cur = w->dup_next[cur]) {
				if (cur >= w->capacity || w->flags[cur] != kElementDuplicate) {
					report(w, "broken duplicate chain", id, "chain reaches element %u, which is not an overflow record",
						   cur);
					break;
				}
				if (w->in_chain[cur] || ++steps > w->capacity) {
					report(w, "broken duplicate chain", id, "overflow record %u is reached twice (a cycle or a shared record)",
						   cur);
					break;
				}
				w->in_chain[cur] = 1;
			}
			int n0 = Min((int) h.n_links0, max_links(sh.m, 0));
			for (int i = 0; i < n0; i++) {
				uint32 t = record.link0(i);
				if (t < w->capacity && t != id)
					w->in_found[t]++;
			}
			// Links matter for live elements and for the entry point (scans start there).
			if (f != kElementLive && id != w->meta.entry_point)
				continue;
			for (int i = 0; i < n0; i++)
				check_link(w, id, 0, record.link0(i));
			if (h.level > 0)
				check_upper(w, id, h);
			if (f != kElementLive)
				continue;
			if (!gather_vector(w, id, b, item))
				continue;
			bool nan;
			long bad = element_bad_value(sh.element, w->vec, sh.dims, &nan);
			if (bad >= 0)
				report(w, "bad vector", id, "dimension %ld is %s", bad + 1, nan ? "NaN" : "infinite");
		}
	}
}

// In-link counts never exceed the links that exist (a pruning trusts them to drop a link).
static void check_in_links(Walk *w)
{
	for (uint32 id = 0; id < w->capacity; id++) {
		uint8 f = w->flags[id];
		if ((f == kElementLive || f == kElementDeleted) && w->in_links[id] != kInLinksMany &&
			w->in_links[id] > w->in_found[id])
			report(w, "in-link count too high", id, "the record counts %u level-0 in-links, %u elements link to it",
				   w->in_links[id], w->in_found[id]);
	}
}

static void check_entry(Walk *w)
{
	const MetaPageData &m = w->meta;
	uint32 ep = m.entry_point;
	if (ep == kInvalidId) {
		if (w->live > 0)
			report(w, "bad entry point", -1, "no entry point but %llu live elements", (unsigned long long) w->live);
		else if (m.entry_level != -1)
			report(w, "bad entry point", -1, "empty graph with entry level %d", m.entry_level);
		return;
	}
	if (ep >= w->capacity || w->flags[ep] == kNoSlot) {
		report(w, "bad entry point", ep, "entry point does not exist");
		return;
	}
	// A deleted entry point is still traversable (vacuum replaces it before freeing it).
	if (w->flags[ep] != kElementLive && w->flags[ep] != kElementDeleted) {
		report(w, "bad entry point", ep, "entry point is a %s record",
			   w->flags[ep] == kElementFree ? "free" : "duplicate overflow");
		return;
	}
	if ((int) w->level[ep] != m.entry_level)
		report(w, "bad entry point", ep, "entry point has level %u, the metapage says %d", w->level[ep], m.entry_level);
	if (w->max_live_level > m.entry_level)
		report(w, "bad entry point", ep, "a live element has level %d, above the entry level %d", w->max_live_level,
			   m.entry_level);
	if (m.last_element_block != kInvalidBlock && m.last_element_block >= w->nblocks)
		report(w, "bad metapage", -1, "last element block %u is beyond the end of the index", m.last_element_block);
	if (m.last_upper_block != kInvalidBlock && m.last_upper_block >= w->nblocks)
		report(w, "bad metapage", -1, "last upper block %u is beyond the end of the index", m.last_upper_block);
}

void check_graph(Walk *w)
{
	check_elements(w);
	check_in_links(w);
	check_entry(w);
}

}  // namespace hnsw
}  // namespace prism
