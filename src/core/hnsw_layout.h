// Where the bulk build writes each element: an order of the graph's elements in which linked
// elements share pages, so the pages one query touches are fewer and lie closer together (fewer
// buffer headers, hint slots and TLB entries per query). Only which id an element gets changes;
// the graph is the same.
//
// Pages are filled greedily: each next element is the unplaced one most linked with the current
// page (links from page members to it, and from it to page members); a full page hands its best
// kLayoutCarried candidates, at half their score, to the next page, so pages follow a region
// until it is used up; then (or when nothing is linked) a breadth-first walk of level 0 from
// the entry point gives the next element not placed yet.
//
// hnswlib's neighbour selection keeps a list's elements apart from each other (a candidate
// closer to a kept neighbour than to the element is dropped), so a list rarely has many ids on
// one page (a list of ~21 links lies on ~19 pages at 13 records a page), but a query's pages are
// ~35% fewer (test/bench/README.md).
//
// Like hnsw_search.h this allocates nothing (the caller passes every array) and holds only
// trivially destructible state, so a Postgres ERROR raised inside `interrupt` can longjmp out.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/core_only.h"
#include "core/hnsw_format.h"

namespace prism {
namespace hnsw {

// Candidates a page hands on to the next one.
constexpr size_t kLayoutCarried = 256;

// Words of scratch graph_layout needs for n elements and per_page elements a page.
inline size_t layout_work_words(size_t n, uint32_t per_page)
{
	return 3 * n + kLayoutCarried + (size_t) per_page * (2 * kMaxM + 1) + 1;
}

// Fills order[0..n) with the elements of the graph (ids 0..n-1) in the order to write them, each
// once. links(id, const uint32_t **out) returns the level-0 list of `id` (ids >= n are ignored).
// `entry` starts the walk (kInvalidId or >= n: element 0); an element the walk does not reach
// restarts it (in id order). interrupt() is called every few thousand elements (to check for
// cancel). `work`: layout_work_words(n, per_page) words. `carried`: candidates handed from a
// page to the next (at most kLayoutCarried; 0: each page starts afresh from the walk).
template <class Links, class Interrupt>
void graph_layout(size_t n, uint32_t entry, uint32_t per_page, Links links, Interrupt interrupt, uint32_t *order,
				  uint32_t *work, size_t carried = kLayoutCarried)
{
	if (n == 0)
		return;
	if (per_page == 0)
		per_page = 1;
	const uint32_t kUnplaced = UINT32_MAX;
	uint32_t *pos = work;			 // pos[id]: position in order, or kUnplaced
	uint32_t *walk = work + n;		 // breadth-first queue of ids (each enqueued once)
	uint32_t *score = work + 2 * n;	 // links between an unplaced element and the current page
	uint32_t *cands = work + 3 * n;	 // the candidates for the current page (score > 0)
	size_t cand_cap = kLayoutCarried + (size_t) per_page * (2 * kMaxM + 1);
	if (carried > kLayoutCarried)
		carried = kLayoutCarried;
	for (size_t i = 0; i < n; i++) {
		pos[i] = kUnplaced;
		score[i] = 0;
	}
	// order[] holds the walk's "enqueued" marks until it is filled at the end.
	uint32_t *queued = order;
	memset(queued, 0, sizeof(uint32_t) * n);
	size_t walk_head = 0, walk_tail = 0, next_unreached = 0;
	uint32_t start = entry < n ? entry : 0;
	walk[walk_tail++] = start;
	queued[start] = 1;
	// The next element of the walk not placed yet (an unreached element restarts the walk), or
	// kUnplaced when every element is placed.
	auto next_seed = [&]() -> uint32_t {
		for (;;) {
			while (walk_head < walk_tail) {
				uint32_t id = walk[walk_head++];
				const uint32_t *l;
				int nl = links(id, &l);
				for (int i = 0; i < nl; i++)
					if (l[i] < n && !queued[l[i]]) {
						queued[l[i]] = 1;
						walk[walk_tail++] = l[i];
					}
				if (pos[id] == kUnplaced)
					return id;
			}
			while (next_unreached < n && queued[next_unreached])
				next_unreached++;
			if (next_unreached == n)
				return kUnplaced;
			queued[next_unreached] = 1;
			walk[walk_tail++] = (uint32_t) next_unreached;
		}
	};
	// The most linked candidate (ties: the first found), dropping placed ones; kUnplaced if none.
	size_t ncand = 0;
	auto best_candidate = [&]() -> uint32_t {
		uint32_t best = kUnplaced, best_score = 0;
		size_t keep = 0;
		for (size_t c = 0; c < ncand; c++) {
			uint32_t v = cands[c];
			if (pos[v] != kUnplaced)
				continue;
			cands[keep++] = v;
			if (score[v] > best_score) {
				best_score = score[v];
				best = v;
			}
		}
		ncand = keep;
		return best;
	};
	size_t placed = 0;
	while (placed < n) {
		if (placed % 4096 < per_page)
			interrupt();
		size_t page_start = placed;
		uint32_t id = best_candidate();
		if (id == kUnplaced)
			id = next_seed();
		while (id != kUnplaced) {
			pos[id] = (uint32_t) placed++;
			if (placed - page_start == per_page || placed == n)
				break;
			// Links from the new member to unplaced elements (first seen: with their links to
			// the members placed so far).
			const uint32_t *l;
			int nl = links(id, &l);
			for (int i = 0; i < nl; i++) {
				uint32_t v = l[i];
				if (v >= n || pos[v] != kUnplaced)
					continue;
				if (score[v] == 0) {
					if (ncand == cand_cap)
						continue;
					cands[ncand++] = v;
					const uint32_t *lv;
					int nv = links(v, &lv);
					for (int j = 0; j < nv; j++)
						if (lv[j] < n && pos[lv[j]] != kUnplaced && pos[lv[j]] >= page_start)
							score[v]++;
				}
				score[v]++;
			}
			// No unplaced element linked with the page: the walk goes on on the same page.
			uint32_t best = best_candidate();
			id = best != kUnplaced ? best : next_seed();
		}
		// The next page continues the region: the best `carried` candidates stay, at half
		// their score (the page they were linked with is no longer the current one).
		best_candidate();
		if (ncand > carried) {
			std::nth_element(cands, cands + carried, cands + ncand,
							 [&](uint32_t a, uint32_t b) { return score[a] > score[b]; });
			for (size_t c = carried; c < ncand; c++)
				score[cands[c]] = 0;
			ncand = carried;
		}
		size_t keep = 0;
		for (size_t c = 0; c < ncand; c++) {
			uint32_t v = cands[c];
			score[v] /= 2;
			if (score[v] > 0)
				cands[keep++] = v;
		}
		ncand = keep;
		if (id == kUnplaced)
			break;	// cannot happen: the walk reaches every element
	}
	for (size_t i = 0; i < n; i++)
		order[pos[i]] = (uint32_t) i;
}

}  // namespace hnsw
}  // namespace prism
