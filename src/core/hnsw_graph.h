// HNSW graph changes written once, over a writable graph store: choosing a neighbour list and
// adding a back-link (insert and vacuum), connecting elements no level-0 walk reaches (the
// build over hnswlib's graph, and vacuum). The search they build on is in hnsw_search.h.
//
// As there, nothing here allocates: every array comes from the caller (GraphScratch), and every
// type is trivially destructible, so a Postgres ERROR raised in a store callback can longjmp
// through these frames.
//
// Graph store interface (duck-typed), beyond the search store's:
//   size_t dimensions()                                  32-bit words per stored element
//                                                        (floats for float32; hnsw_element.h)
//   bool   load(uint32_t id, int level, float *vec, uint16_t *in_links)
//          false unless id is a live element present on `level`; else copies its vector and
//          level-0 in-link count (a lower bound of its real in-links)
//   uint16_t in_links(uint32_t id)                       level-0 in-link count of id
//   void   set_links(uint32_t id, int level, const uint32_t *old, int n_old, const uint32_t *links, int n)
//          replaces the list old[0..n_old) of id at `level` by links[0..n) (links null: the list
//          stays, but the store may have counts to settle) and keeps in-link counts right
// and, for connect_unreachable:
//   size_t capacity()                                    every element id is below this
//   bool   node(uint32_t id)                             a live element, as far as the walk knows
//   bool   usable(uint32_t id)                           a live element now (checked before a change)
//   int    search_near(const float *vec, Candidate *out, int max)
//          the elements a level-0 beam search (ef_construction) from the entry point finds
//          nearest `vec`, nearest first; returns how many (at most max)
//   void   walk_step()                                   called once per element a walk visits
//   void   begin_repairs()                               called before the first change
//   void   pause()                                       called between changes
// and, for repair_list:
//   bool   usable(uint32_t id, int level)                a live element on `level` (a valid link)
//   bool   deleted(uint32_t id, int level)               a deleted element on `level` whose links
//                                                        may still be followed (2-hop candidates)
//   float  distance(uint32_t id, const float *q, uint8_t *flags)   as the search store's
//   int    search_level(const float *vec, int level, Candidate *out, int max)
//          like search_near, on `level` (greedy descent above it)
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/core_only.h"
#include "core/hnsw_format.h"
#include "core/hnsw_search.h"

namespace prism {
namespace hnsw {

// Work space of one graph change, sized for `cap` candidates of `dims` floats (cap at least
// max(ef_construction, 2m) + 1) by the caller.
struct GraphScratch {
	size_t cap;
	uint32_t *links;	  // 2 * kMaxM + 1
	uint32_t *out;		  // 2 * kMaxM + 1
	float *base;		  // dims
	Candidate *cands;	  // cap
	float *vecs;		  // cap * dims
	bool *keep;			  // cap
	int *order;			  // cap
	Candidate *sorted;	  // cap
	float *sorted_vecs;	  // cap * dims
	bool *sorted_keep;	  // cap
	int *chosen;		  // cap
};

// Bytes GraphScratch needs past its struct (for one allocation the caller carves up).
inline size_t graph_scratch_bytes(size_t cap, size_t dims)
{
	return sizeof(uint32_t) * 2 * (2 * kMaxM + 1) + sizeof(float) * dims +
		   cap * (2 * sizeof(Candidate) + 2 * sizeof(float) * dims + 2 * sizeof(bool) + 2 * sizeof(int)) + 64;
}

// Points the arrays of `sc` into `mem` (graph_scratch_bytes(cap, dims) bytes).
inline void graph_scratch_init(GraphScratch &sc, void *mem, size_t cap, size_t dims)
{
	char *p = static_cast<char *>(mem);
	auto take = [&p](size_t bytes) {
		char *at = p;
		p += (bytes + 7) & ~size_t(7);
		return at;
	};
	sc.cap = cap;
	sc.cands = reinterpret_cast<Candidate *>(take(sizeof(Candidate) * cap));
	sc.sorted = reinterpret_cast<Candidate *>(take(sizeof(Candidate) * cap));
	sc.vecs = reinterpret_cast<float *>(take(sizeof(float) * cap * dims));
	sc.sorted_vecs = reinterpret_cast<float *>(take(sizeof(float) * cap * dims));
	sc.base = reinterpret_cast<float *>(take(sizeof(float) * dims));
	sc.links = reinterpret_cast<uint32_t *>(take(sizeof(uint32_t) * (2 * kMaxM + 1)));
	sc.out = reinterpret_cast<uint32_t *>(take(sizeof(uint32_t) * (2 * kMaxM + 1)));
	sc.order = reinterpret_cast<int *>(take(sizeof(int) * cap));
	sc.chosen = reinterpret_cast<int *>(take(sizeof(int) * cap));
	sc.keep = reinterpret_cast<bool *>(take(sizeof(bool) * cap));
	sc.sorted_keep = reinterpret_cast<bool *>(take(sizeof(bool) * cap));
}

// Whether a store's lists are topped up with the nearest candidates the heuristic pruned (as
// pgvector keeps them): a store says so with `bool top_up_lists()`; the insert store does under
// inner product, where the heuristic alone keeps a few long vectors per list and most elements,
// some of them rows that answer queries, end up with no in-link. Stores without it do not.
template <class Graph> auto tops_up_lists(Graph &g, int) -> decltype(g.top_up_lists())
{
	return g.top_up_lists();
}
template <class Graph> bool tops_up_lists(Graph &, long)
{
	return false;
}

// Chooses up to max_n of the n candidates in sc.cands (distances to the base set, vectors in
// sc.vecs, must-keep flags in sc.keep) with hnswlib's heuristic; writes their ids to `out`,
// nearest first, and returns how many.
template <class Graph> int choose_neighbors(Graph &g, GraphScratch &sc, int n, int max_n, uint32_t *out)
{
	size_t dims = g.dimensions();
	for (int i = 0; i < n; i++)
		sc.order[i] = i;
	std::sort(sc.order, sc.order + n, [&sc](int a, int b) {
		return sc.cands[a].dist < sc.cands[b].dist || (sc.cands[a].dist == sc.cands[b].dist && sc.cands[a].id < sc.cands[b].id);
	});
	for (int i = 0; i < n; i++) {
		sc.sorted[i] = sc.cands[sc.order[i]];
		sc.sorted_keep[i] = sc.keep[sc.order[i]];
		memcpy(sc.sorted_vecs + i * dims, sc.vecs + sc.order[i] * dims, sizeof(float) * dims);
	}
	int k = select_neighbors(g, sc.sorted, sc.sorted_vecs, dims, n, max_n, sc.chosen, sc.sorted_keep);
	if (k < max_n && k < n && tops_up_lists(g, 0)) {
		// sc.keep is free now (copied to sc.sorted_keep): it marks the chosen sorted positions
		for (int i = 0; i < n; i++)
			sc.keep[i] = false;
		for (int i = 0; i < k; i++)
			sc.keep[sc.chosen[i]] = true;
		for (int i = 0; i < n && k < max_n; i++)
			if (!sc.keep[i])
				sc.chosen[k++] = i;
	}
	for (int i = 0; i < k; i++)
		out[i] = sc.sorted[sc.chosen[i]].id;
	return k;
}

// Adds the link nb -> id at `level` (id's vector: id_vec), the one rule for build, insert and
// vacuum: appended while nb's list has room, else the list is chosen again among its usable
// links and id with the heuristic, keeping every element whose in-link count shows fewer than
// kKeptInLinks other in-links at level 0. Returns whether nb now links to id.
template <class Graph>
bool add_backlink(Graph &g, GraphScratch &sc, uint32_t nb, uint32_t id, const float *id_vec, int level, int m)
{
	size_t dims = g.dimensions();
	int max_n = max_links(m, level);
	int n = g.links(nb, level, sc.links);
	for (int i = 0; i < n; i++)
		if (sc.links[i] == id) {
			g.set_links(nb, level, sc.links, n, nullptr, 0);
			return true;
		}
	if (n < max_n) {
		memcpy(sc.out, sc.links, sizeof(uint32_t) * n);
		sc.out[n] = id;
		g.set_links(nb, level, sc.links, n, sc.out, n + 1);
		return true;
	}
	g.vector(nb, sc.base);
	// Lists that are topped up keep no weak element by force: they fill to the bound anyway,
	// and under inner product forced short vectors crowd out the links that answer queries.
	bool keep_weak = level == 0 && !tops_up_lists(g, 0);
	int c = 0;
	for (int i = 0; i < n && (size_t) c + 1 < sc.cap; i++) {
		uint16_t in_links = 0;
		if (sc.links[i] == nb || !g.load(sc.links[i], level, sc.vecs + c * dims, &in_links))
			continue;  // deleted (or otherwise unusable) links go
		sc.cands[c] = Candidate{g.pair_distance(sc.vecs + c * dims, sc.base), sc.links[i]};
		sc.keep[c] = keep_weak && in_links <= kKeptInLinks;	 // nb's link is one of them
		c++;
	}
	memcpy(sc.vecs + c * dims, id_vec, sizeof(float) * dims);
	sc.cands[c] = Candidate{g.pair_distance(id_vec, sc.base), id};
	sc.keep[c] = keep_weak && g.in_links(id) < kKeptInLinks;
	c++;
	int k = choose_neighbors(g, sc, c, max_n, sc.out);
	g.set_links(nb, level, sc.links, n, sc.out, k);
	for (int i = 0; i < k; i++)
		if (sc.out[i] == id)
			return true;
	return false;
}

// Work space of connect_unreachable: one entry per element id (`capacity` of them).
struct ReachScratch {
	size_t capacity;
	uint8_t *reached;
	uint32_t *stack;
	uint16_t *in_links;	 // level-0 links to each element from the walk's elements
};

// Marks the elements a level-0 walk from `start` reaches (stopping at reached ones).
template <class Graph> void mark_reached(Graph &g, ReachScratch &rs, uint32_t start, uint32_t *link_buf)
{
	size_t top = 0;
	rs.reached[start] = 1;
	rs.stack[top++] = start;
	while (top > 0) {
		uint32_t id = rs.stack[--top];
		g.walk_step();
		int n = g.links(id, 0, link_buf);
		for (int i = 0; i < n; i++) {
			uint32_t nb = link_buf[i];
			if (nb < rs.capacity && !rs.reached[nb] && g.node(nb)) {
				rs.reached[nb] = 1;
				rs.stack[top++] = nb;
			}
		}
	}
}

// Gives unreached element `id` a level-0 in-link from the nearest reached element a search
// finds: appended where a list has room, else in place of that list's farthest link whose
// target keeps another in-link. False if no such list was found.
template <class Graph>
bool link_from_reached(Graph &g, ReachScratch &rs, GraphScratch &sc, uint32_t id, int m, bool *replaced)
{
	size_t dims = g.dimensions();
	g.vector(id, sc.base);
	int n_near = g.search_near(sc.base, sc.cands, (int) sc.cap);
	int max_n = max_links(m, 0);
	for (int pass = 0; pass < 2; pass++)
		for (int r = 0; r < n_near; r++) {
			uint32_t nb = sc.cands[r].id;
			if (nb == id || nb >= rs.capacity || !rs.reached[nb] || !g.usable(nb))
				continue;
			int n = g.links(nb, 0, sc.links);
			memcpy(sc.out, sc.links, sizeof(uint32_t) * n);
			int slot = -1, n_new = n;
			if (pass == 0) {
				if (n < max_n)
					slot = n_new++;
			} else {
				float *nb_vec = sc.vecs, *other = sc.vecs + dims;
				g.vector(nb, nb_vec);
				float farthest = 0;
				for (int i = 0; i < n; i++) {
					uint32_t t = sc.links[i];
					if (t == id || t >= rs.capacity || rs.in_links[t] < 2)
						continue;
					g.vector(t, other);
					float d = g.pair_distance(other, nb_vec);
					if (slot < 0 || d > farthest) {
						farthest = d;
						slot = i;
					}
				}
				if (slot >= 0)
					rs.in_links[sc.links[slot]]--;
			}
			if (slot < 0)
				continue;
			if (pass == 1)
				*replaced = true;
			sc.out[slot] = id;
			g.set_links(nb, 0, sc.links, n, sc.out, n_new);
			rs.in_links[id] = in_links_step(rs.in_links[id], +1);
			return true;
		}
	return false;
}

// Connects the live elements a level-0 walk from `entry` misses (nothing links to them, or only
// other such elements do: no scan returns them) when worth_connecting says so: each gets an
// in-link from a reached element, and what it leads to then counts as reached. A replaced link
// can cut off what only it led to, so the walk is redone after a round that replaced links (in
// practice one round). Sets *unreached to what the first walk missed; adds to *connected.
template <class Graph>
void connect_unreachable(Graph &g, ReachScratch &rs, GraphScratch &sc, uint32_t entry, int m, size_t *unreached,
						 size_t *connected)
{
	*unreached = 0;
	if (entry >= rs.capacity)
		return;
	bool counted = false;
	for (int round = 0; round < 3; round++) {
		memset(rs.reached, 0, rs.capacity);
		mark_reached(g, rs, entry, sc.links);
		size_t live = 0, missed = 0;
		for (uint32_t id = 0; id < rs.capacity; id++)
			if (g.node(id)) {
				live++;
				missed += rs.reached[id] ? 0 : 1;
			}
		if (round == 0)
			*unreached = missed;
		if (!worth_connecting(missed, live))
			return;
		if (!counted) {
			memset(rs.in_links, 0, sizeof(uint16_t) * rs.capacity);
			for (uint32_t id = 0; id < rs.capacity; id++) {
				if (!g.node(id))
					continue;
				int n = g.links(id, 0, sc.links);
				for (int i = 0; i < n; i++)
					if (sc.links[i] < rs.capacity && g.node(sc.links[i]))
						rs.in_links[sc.links[i]] = in_links_step(rs.in_links[sc.links[i]], +1);
			}
			counted = true;
		}
		g.begin_repairs();
		bool replaced = false;
		for (uint32_t id = 0; id < rs.capacity; id++) {
			if (!g.node(id) || rs.reached[id])
				continue;
			g.pause();
			if (!g.usable(id) || !link_from_reached(g, rs, sc, id, m, &replaced))
				continue;
			(*connected)++;
			mark_reached(g, rs, id, sc.links);
		}
		if (!replaced)
			return;
	}
}

// Work space of repair_list: room for every candidate a repair can gather (the usable links,
// the links of the deleted ones, one search's results) and a visited set over element ids.
struct RepairScratch {
	Candidate *cands;
	size_t cap;		  // at least repair_candidates(m, ef_construction)
	VisitedSet seen;  // capacity: every element id
	uint32_t *links2;  // 2 * kMaxM + 1
};

inline size_t repair_candidates(int m, int ef_construction)
{
	return (size_t) 4 * m * m + 2 * (size_t) m + (size_t) ef_construction + 1;
}

inline void add_repair_candidate(RepairScratch &rp, size_t *n, uint32_t id)
{
	if (*n < rp.cap && visited_insert(rp.seen, id))
		rp.cands[(*n)++] = Candidate{0, id};
}

// Chooses up to max_n of rp.cands[0..nc) for the element whose vector is `base` (distances are
// computed here) into `out`; returns how many. Of the ef_construction nearest, the heuristic
// picks first; the list is then topped up with the nearest candidates it pruned: a repaired list
// lost neighbours, and full lists recover more of the recall deletions took.
template <class Graph>
int choose_topped_up(Graph &g, GraphScratch &sc, RepairScratch &rp, size_t nc, const float *base, int max_n,
					 int ef_construction, uint32_t *out)
{
	size_t dims = g.dimensions();
	for (size_t i = 0; i < nc; i++) {
		uint8_t f;
		rp.cands[i].dist = g.distance(rp.cands[i].id, base, &f);
	}
	std::sort(rp.cands, rp.cands + nc, [](const Candidate &x, const Candidate &y) {
		return x.dist < y.dist || (x.dist == y.dist && x.id < y.id);
	});
	int keep = (int) std::min(nc, std::min(sc.cap, (size_t) std::max(ef_construction, max_n)));
	if (keep <= max_n) {
		for (int i = 0; i < keep; i++)
			out[i] = rp.cands[i].id;
		return keep;
	}
	for (int i = 0; i < keep; i++) {
		g.vector(rp.cands[i].id, sc.vecs + (size_t) i * dims);
		sc.keep[i] = false;
	}
	int k = select_neighbors(g, rp.cands, sc.vecs, dims, keep, max_n, sc.chosen);
	for (int i = 0; i < keep; i++)
		sc.keep[i] = false;
	for (int i = 0; i < k; i++)
		sc.keep[sc.chosen[i]] = true;  // taken
	for (int i = 0; i < keep && k < max_n; i++)
		if (!sc.keep[i])
			sc.chosen[k++] = i;
	for (int i = 0; i < k; i++)
		out[i] = rp.cands[sc.chosen[i]].id;
	return k;
}

// Repairs the level-`level` list of `id` if it names an element that is not usable (deleted,
// freed, not on that level, or id itself): chosen again among its usable links, the usable
// links of its deleted neighbours (2-hop) and, when those are fewer than a full list (a whole
// neighbourhood was deleted), the results of a search as an insert would run. Returns the new
// length with the list in `out`, or -1 if the list was fine; the usable old links are left in
// prev[0..*n_prev) (so the caller knows which neighbours are new).
template <class Graph>
int repair_list(Graph &g, GraphScratch &sc, RepairScratch &rp, uint32_t id, int level, int m, int ef_construction,
				uint32_t *prev, int *n_prev, uint32_t *out)
{
	int max_n = max_links(m, level);
	int n = g.links(id, level, sc.links);
	bool bad = false;
	for (int i = 0; i < n && !bad; i++)
		bad = sc.links[i] == id || !g.usable(sc.links[i], level);
	*n_prev = 0;
	if (!bad)
		return -1;
	visited_reset(rp.seen);
	visited_insert(rp.seen, id);
	size_t nc = 0;
	for (int i = 0; i < n; i++)
		if (sc.links[i] != id && g.usable(sc.links[i], level)) {
			add_repair_candidate(rp, &nc, sc.links[i]);
			prev[(*n_prev)++] = sc.links[i];
		}
	for (int i = 0; i < n; i++) {
		if (!g.deleted(sc.links[i], level))
			continue;
		int n2 = g.links(sc.links[i], level, rp.links2);
		for (int j = 0; j < n2; j++)
			if (g.usable(rp.links2[j], level))
				add_repair_candidate(rp, &nc, rp.links2[j]);
	}
	g.vector(id, sc.base);
	if (nc < (size_t) max_n) {
		int found = g.search_level(sc.base, level, sc.cands, (int) sc.cap);
		for (int i = 0; i < found; i++)
			if (g.usable(sc.cands[i].id, level))
				add_repair_candidate(rp, &nc, sc.cands[i].id);
	}
	int k = choose_topped_up(g, sc, rp, nc, sc.base, max_n, ef_construction, out);
	g.set_links(id, level, sc.links, n, out, k);
	return k;
}

}  // namespace hnsw
}  // namespace prism
