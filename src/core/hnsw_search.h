// HNSW search and insertion, written once against a small "graph store" interface so the same
// code runs over an in-memory store (unit tests) and over Postgres buffers (the extension).
//
// Nothing here allocates: every array comes from the caller (palloc'd in the extension), and
// every type is trivially destructible, so a Postgres ERROR raised inside a store callback can
// longjmp through these frames safely.
//
// Store interface (duck-typed):
//   float distance(uint32_t id, const float *q, uint8_t *flags)  distance query->element, flags out
//   int   links(uint32_t id, int level, uint32_t *out)            copy neighbour ids, return count
//   void  vector(uint32_t id, float *out)                          copy the stored vector
//   float pair_distance(const float *a, const float *b)            metric distance of two vectors
//   void  prefetch(uint32_t id)                                    hint: id will be read soon
//   bool  grow(Array &a, size_t need)                              make room in a growable array
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/core_only.h"
#include "core/hnsw_format.h"

namespace prism {
namespace hnsw {

struct Candidate {
	float dist;
	uint32_t id;
};

struct CloserFirst {  // comparator for a min-heap via std::*_heap (which builds max-heaps)
	bool operator()(const Candidate &a, const Candidate &b) const { return a.dist > b.dist; }
};
struct FartherFirst {
	bool operator()(const Candidate &a, const Candidate &b) const { return a.dist < b.dist; }
};

// A growable array of candidates whose memory the caller owns (grown through the store).
struct CandidateArray {
	Candidate *items;
	size_t size;
	size_t capacity;
};

// Visited marks per element id, reset in O(1) by bumping the epoch (as hnswlib's VisitedList).
struct VisitedSet {
	uint32_t *marks;
	size_t capacity;  // ids < capacity can be marked
	uint32_t epoch;
};

inline void visited_reset(VisitedSet &v)
{
	if (++v.epoch == 0) {  // wrapped: clear once every 4 billion queries
		memset(v.marks, 0, v.capacity * sizeof(uint32_t));
		v.epoch = 1;
	}
}
// Returns true if `id` was not yet visited, and marks it. Ids beyond capacity are treated as
// visited (the caller sizes the set from the index length before the search).
inline bool visited_insert(VisitedSet &v, uint32_t id)
{
	if (id >= v.capacity || v.marks[id] == v.epoch)
		return false;
	v.marks[id] = v.epoch;
	return true;
}

template <class Store> inline bool push_candidate(Store &s, CandidateArray &a, Candidate c)
{
	if (a.size == a.capacity && !s.grow(a, a.size + 1))
		return false;
	a.items[a.size++] = c;
	return true;
}

// Scores the neighbours of `id` on `level` not visited yet, marking them visited: drops the
// visited ids first, then prefetches the rest before computing any distance, so the memory
// loads overlap (as hnswlib's _mm_prefetch of the next neighbour does). Hands each to take(nc),
// which returns false to stop (then this returns false).
template <class Store, class Take>
inline bool score_neighbors(Store &s, const float *q, uint32_t id, int level, VisitedSet &visited, uint32_t *link_buf,
							uint64_t *distance_count, Take take)
{
	int n = s.links(id, level, link_buf);
	int fresh = 0;
	for (int i = 0; i < n; i++)
		if (visited_insert(visited, link_buf[i]))
			link_buf[fresh++] = link_buf[i];
	for (int i = 0; i < fresh; i++)
		s.prefetch(link_buf[i]);
	for (int i = 0; i < fresh; i++) {
		uint8_t flags;
		Candidate nc{s.distance(link_buf[i], q, &flags), link_buf[i]};
		if (distance_count)
			(*distance_count)++;
		if (!take(nc))
			return false;
	}
	return true;
}

// Greedy descent from `ep` through levels [from_level .. to_level+1]; returns the closest
// element found and its distance in `ep`. Adds the distances computed to *distance_count.
template <class Store>
void greedy_descend(Store &s, const float *q, Candidate &ep, int from_level, int to_level, uint32_t *link_buf,
					uint64_t *distance_count = nullptr)
{
	for (int level = from_level; level > to_level; level--) {
		bool changed = true;
		while (changed) {
			changed = false;
			int n = s.links(ep.id, level, link_buf);
			for (int i = 0; i < n; i++)	 // overlap the memory loads, as in search_layer
				s.prefetch(link_buf[i]);
			for (int i = 0; i < n; i++) {
				uint8_t flags;
				float d = s.distance(link_buf[i], q, &flags);
				if (distance_count)
					(*distance_count)++;
				if (d < ep.dist) {
					ep = Candidate{d, link_buf[i]};
					changed = true;
				}
			}
		}
	}
}

// Beam search on one level. `eps` are entry points (already visited, distances known).
// Leaves the ef best in `result` (a max-heap by distance; sort it to read in order) and the
// unexpanded frontier in `frontier` (a min-heap). Every newly discovered element is also pushed
// to `discovered` (a min-heap) when it is non-null: the scan uses it to continue past ef.
template <class Store>
void search_layer(Store &s, const float *q, const Candidate *eps, int n_eps, int ef, int level, VisitedSet &visited,
				  CandidateArray &frontier, CandidateArray &result, CandidateArray *discovered, uint32_t *link_buf,
				  uint64_t *distance_count)
{
	frontier.size = 0;
	result.size = 0;
	for (int i = 0; i < n_eps; i++) {
		push_candidate(s, frontier, eps[i]);
		std::push_heap(frontier.items, frontier.items + frontier.size, CloserFirst());
		push_candidate(s, result, eps[i]);
		std::push_heap(result.items, result.items + result.size, FartherFirst());
	}
	while (result.size > (size_t) ef) {
		std::pop_heap(result.items, result.items + result.size, FartherFirst());
		result.size--;
	}
	while (frontier.size > 0) {
		Candidate c = frontier.items[0];
		if (result.size >= (size_t) ef && c.dist > result.items[0].dist)
			break;
		std::pop_heap(frontier.items, frontier.items + frontier.size, CloserFirst());
		frontier.size--;
		score_neighbors(s, q, c.id, level, visited, link_buf, distance_count, [&](Candidate nc) {
			float d = nc.dist;
			if (discovered) {
				push_candidate(s, *discovered, nc);
				std::push_heap(discovered->items, discovered->items + discovered->size, CloserFirst());
			}
			if (result.size < (size_t) ef || d < result.items[0].dist) {
				push_candidate(s, frontier, nc);
				std::push_heap(frontier.items, frontier.items + frontier.size, CloserFirst());
				push_candidate(s, result, nc);
				std::push_heap(result.items, result.items + result.size, FartherFirst());
				if (result.size > (size_t) ef) {
					std::pop_heap(result.items, result.items + result.size, FartherFirst());
					result.size--;
				}
			} else if (discovered) {
				// Not in the beam, but the scan may come back for it: keep it expandable.
				push_candidate(s, frontier, nc);
				std::push_heap(frontier.items, frontier.items + frontier.size, CloserFirst());
			}
			return true;
		});
	}
}

// The arrays of one search, owned by the caller: visited set, frontier and result heaps,
// `discovered` (optional: every element the search scores, for a scan's continuation), a link
// buffer (2m + 1 ids) and a distance counter (optional).
struct SearchSpace {
	VisitedSet *visited;
	CandidateArray *frontier;
	CandidateArray *result;
	CandidateArray *discovered;
	uint32_t *link_buf;
	uint64_t *distance_count;
};

// Beam search of `ef` on `level` from eps[0..n_eps) (distances known) with a fresh visited set:
// the entry points count as visited (and as discovered).
template <class Store>
void search_layer_from(Store &s, const float *q, const Candidate *eps, int n_eps, int ef, int level, SearchSpace &sp)
{
	visited_reset(*sp.visited);
	for (int i = 0; i < n_eps; i++) {
		visited_insert(*sp.visited, eps[i].id);
		if (sp.discovered) {
			push_candidate(s, *sp.discovered, eps[i]);
			std::push_heap(sp.discovered->items, sp.discovered->items + sp.discovered->size, CloserFirst());
		}
	}
	search_layer(s, q, eps, n_eps, ef, level, *sp.visited, *sp.frontier, *sp.result, sp.discovered, sp.link_buf,
				 sp.distance_count);
}

// How every search starts (scans, inserts, VACUUM's repair): the entry point's distance, a
// greedy descent from entry_level to `level`, then a beam of `ef` on the lower of `level` and
// entry_level (the result heap then holds that level's nearest). Returns that level, or -1
// without searching when the entry point is a free slot: a concurrent VACUUM freed it after the
// caller read the metapage, which the caller reads again before retrying.
template <class Store>
int search_from_entry(Store &s, const float *q, uint32_t entry, int entry_level, int level, int ef, SearchSpace &sp)
{
	uint8_t flags;
	Candidate ep{s.distance(entry, q, &flags), entry};
	if (flags == kElementFree)
		return -1;
	greedy_descend(s, q, ep, entry_level, level, sp.link_buf, sp.distance_count);
	int top = level < entry_level ? level : entry_level;
	search_layer_from(s, q, &ep, 1, ef, top, sp);
	return top;
}

// A beam search that can be widened after it stopped, so a scan asked for more rows than its
// first beam held goes on as a fresh search with a wider beam would have gone (a beam of width
// W stops when every unexpanded candidate is farther than the W-th nearest element found; a
// beam stopped at width w < W satisfies that fixpoint only for w, and widening resumes it).
//   top       max-heap: the `width` nearest elements discovered so far
//   rest      min-heap: every other discovered element (what `top` takes back when widened)
//   frontier  min-heap: every discovered element not yet expanded (search_layer with a
//             `discovered` heap leaves the elements outside its beam there too)
//   discovered (optional) min-heap: each newly discovered element is pushed there as well
// Start from search_layer's state: top = its result, rest = the discovered elements not in it.
struct Widening {
	CandidateArray top;
	CandidateArray rest;
};

enum class WidenStatus {
	Done,	  // fixpoint reached for this width (or the graph is exhausted)
	Paused,	  // max_expansions expansions done: call again (the caller checks for interrupts)
	Budget,	  // *discovered_count reached max_discovered: the search cannot go on
	OutOfMemory,
};

// Sets the width, then expands the nearest unexpanded candidate while it is not farther than
// the width-th nearest element discovered. Counts distances into *distance_count and newly
// discovered elements into *discovered_count (stopping at max_discovered).
template <class Store>
WidenStatus widen_search(Store &s, const float *q, size_t width, int level, VisitedSet &visited, CandidateArray &frontier,
						 Widening &w, CandidateArray *discovered, uint32_t *link_buf, uint64_t *distance_count,
						 uint64_t *discovered_count, uint64_t max_discovered, size_t max_expansions)
{
	if (width == 0)
		width = 1;
	while (w.top.size < width && w.rest.size > 0) {
		Candidate c = w.rest.items[0];
		std::pop_heap(w.rest.items, w.rest.items + w.rest.size, CloserFirst());
		w.rest.size--;
		if (!push_candidate(s, w.top, c))
			return WidenStatus::OutOfMemory;
		std::push_heap(w.top.items, w.top.items + w.top.size, FartherFirst());
	}
	while (w.top.size > width) {  // narrowed: give the farthest back
		std::pop_heap(w.top.items, w.top.items + w.top.size, FartherFirst());
		w.top.size--;
		if (!push_candidate(s, w.rest, w.top.items[w.top.size]))
			return WidenStatus::OutOfMemory;
		std::push_heap(w.rest.items, w.rest.items + w.rest.size, CloserFirst());
	}
	size_t expansions = 0;
	while (frontier.size > 0) {
		Candidate c = frontier.items[0];
		if (w.top.size >= width && c.dist > w.top.items[0].dist)
			return WidenStatus::Done;
		if (expansions == max_expansions)
			return WidenStatus::Paused;
		if (*discovered_count >= max_discovered)
			return WidenStatus::Budget;
		expansions++;
		std::pop_heap(frontier.items, frontier.items + frontier.size, CloserFirst());
		frontier.size--;
		bool stored = score_neighbors(s, q, c.id, level, visited, link_buf, distance_count, [&](Candidate nc) {
			(*discovered_count)++;
			if (!push_candidate(s, frontier, nc))
				return false;
			std::push_heap(frontier.items, frontier.items + frontier.size, CloserFirst());
			if (discovered) {
				if (!push_candidate(s, *discovered, nc))
					return false;
				std::push_heap(discovered->items, discovered->items + discovered->size, CloserFirst());
			}
			Candidate out = nc;	 // what leaves `top` for `rest`
			if (w.top.size < width || nc.dist < w.top.items[0].dist) {
				if (!push_candidate(s, w.top, nc))
					return false;
				std::push_heap(w.top.items, w.top.items + w.top.size, FartherFirst());
				if (w.top.size <= width)
					return true;
				std::pop_heap(w.top.items, w.top.items + w.top.size, FartherFirst());
				out = w.top.items[--w.top.size];
			}
			if (!push_candidate(s, w.rest, out))
				return false;
			std::push_heap(w.rest.items, w.rest.items + w.rest.size, CloserFirst());
			return true;
		});
		if (!stored)
			return WidenStatus::OutOfMemory;
	}
	return WidenStatus::Done;
}

// How many rows a beam of ef_search elements is taken to serve: the k of recall@k that
// ef_search is tuned for (LIMIT 10), so rows up to this many come from the first beam alone
// (or, past a beam narrower than that, from one twice as wide as the rows handed out).
constexpr uint64_t kRowsPerBeam = 10;
// Past that, each row handed out widens the beam by ef_search / kRowsPerBeam twice over (twice a
// top-10 query's beam per row) up to the kSteepRows-th row, then once: deeper rows lie in a
// denser neighbourhood and need less.
constexpr uint64_t kSteepRows = 30;
// The widening rate never uses an ef_search below this: a tiny ef_search is a speed setting for
// top-k queries, and rows past it at that rate would come from a beam narrower than the rows.
constexpr uint64_t kMinWideningEf = 20;

// The width a scan's beam must have been widened to before it hands out its next element, once
// `handed_out` elements are out (see the constants above): the next element is the nearest not
// yet handed out of what a fresh search that wide would find. Never below ef_search.
inline size_t continued_width(uint64_t handed_out, int ef)
{
	uint64_t e = (uint64_t) (ef > 0 ? ef : 1);
	uint64_t next = handed_out + 1;
	uint64_t w;
	if (next <= kRowsPerBeam)
		w = 2 * next;
	else
		w = std::max(e, kMinWideningEf) * (next + std::min(next, kSteepRows)) / kRowsPerBeam;
	return (size_t) std::max(e, w);
}

// A pruned level-0 list keeps its link to an element that has fewer than this many other
// in-links (by the element's count, a lower bound). One keeps every element reachable; more
// also keep the weakly linked ones within reach of a beam searching for their own vector (an
// element whose only path in is long is as good as lost to a search). The elements at risk are
// outliers, above all rows inserted early in a region that fills later: the lists that took them
// in are far from them, the rows that came near them later did not find them to link them, and
// each of their few in-links that a pruning drops leaves fewer paths in from near their vector.
// Much larger values keep so many weak links that lists lose the heuristic's spread.
constexpr int kKeptInLinks = 5;

// hnswlib's neighbour-selection heuristic: walk candidates from nearest to farthest and keep
// one only if it is closer to the base than to every neighbour kept so far. `cands` must be
// sorted by distance to the base; `vecs[i]` is the vector of cands[i] (dims floats each).
// `must_keep` (optional): candidates kept whatever the heuristic says (a pruned list must not
// drop the last in-link of an element, or no search reaches it); they count as kept neighbours
// for the others, and when there are more than max_n of them the nearest win.
// Writes up to max_n chosen indexes into `chosen`, nearest first; returns how many.
template <class Store>
int select_neighbors(Store &s, const Candidate *cands, const float *vecs, size_t dims, int n, int max_n, int *chosen,
					 const bool *must_keep = nullptr)
{
	int kept = 0;
	if (n <= max_n) {
		for (int i = 0; i < n; i++)
			chosen[kept++] = i;
		return kept;
	}
	int must_left = 0;	// must-keep candidates not reached yet
	if (must_keep)
		for (int i = 0; i < n; i++)
			must_left += must_keep[i] ? 1 : 0;
	for (int i = 0; i < n && kept < max_n; i++) {
		if (must_keep && must_keep[i]) {
			chosen[kept++] = i;
			must_left--;
			continue;
		}
		if (kept + must_left >= max_n)
			continue;  // the rest of the room belongs to must-keep candidates
		bool good = true;
		for (int j = 0; j < kept; j++) {
			float d = s.pair_distance(vecs + i * dims, vecs + chosen[j] * dims);
			if (d < cands[i].dist) {
				good = false;
				break;
			}
		}
		if (good)
			chosen[kept++] = i;
	}
	return kept;
}

// Whether the elements a level-0 walk from the entry point misses are holes worth connecting
// (the build and VACUUM do): they are rare (1-5 in 10,000 under l2, cosine and inner product on
// unit vectors). Inner product on vectors of unequal norms leaves about half the elements
// without in-links (links lead to the long vectors): that is the metric, not a hole, and
// rewiring 1,316 links there took recall@10 from 0.98 to 0.69, so past 1% nothing is rewired.
inline bool worth_connecting(size_t unreached, size_t elements)
{
	return unreached > 0 && unreached * 100 <= elements;
}

inline void sort_ascending(CandidateArray &a)
{
	std::sort(a.items, a.items + a.size, [](const Candidate &x, const Candidate &y) {
		return x.dist < y.dist || (x.dist == y.dist && x.id < y.id);
	});
}

}  // namespace hnsw
}  // namespace prism
