// Shared state of the hnsw vacuum modules: hnsw_vacuum.cpp (bulk delete, the read pass, the
// metapage, the cleanup entry points), hnsw_vacuum_repair.cpp (link repair and reconnection)
// and hnsw_vacuum_free.cpp (overflow chains, in-link counts, freeing slots). The algorithm and
// its locking are described at the top of hnsw_vacuum.cpp.
#pragma once

#include "core/hnsw_graph.h"
#include "pg/hnsw.h"

extern "C" {
#include "commands/vacuum.h"
#include "storage/lmgr.h"
}

namespace prism {
namespace hnsw {


constexpr uint8 kNoSlot = 0xff;	 // id has no element record (or an unreadable one)

// Chain state of an overflow record, from walking the duplicate chains of live elements.
enum ChainState : uint8 { kUnreferenced = 0, kReferenced = 1, kUnlink = 2 };

struct Cleanup {
	Relation index;
	BufferAccessStrategy strategy;
	IndexShape sh;
	PgStore store;
	MetaPageData meta;
	BlockNumber nblocks;
	uint32 capacity;  // every id known to the read pass is below this
	bool relocked;	   // the writer lock was released since the read pass: inserts may have run
	uint32 since_relock;
	// Per id, from the read pass.
	uint8 *flags;
	uint8 *level;
	uint8 *n_tids;
	uint8 *chain;
	uint32 *dup_next;
	// Work space for repairs.
	VisitedSet visited;	 // beam search
	CandidateArray frontier, result;
	uint32 *links, *links2;
	float *idvec;			// vector of the element that gets back-links
	GraphScratch graph;		// work space of the core graph operations
	RepairScratch repair;	// candidates of one list repair
	uint32 *out;
	uint32 *prev;  // usable links of the list being repaired
	int n_prev;
	uint64 walk_steps;	// elements visited by reachability walks
	bool lock_taken;	// connect_unreachable took the writer lock
	// Statistics.
	uint64 live, deleted, tids, lists_repaired, searches, backlinks, reconnected, unlinked, freed;
	uint64 unreached, connected;
};

// hnsw_vacuum.cpp
void init_visited(VisitedSet *v, size_t capacity);
// Lets waiting inserts run: releases and retakes the writer lock every 64 calls.
void yield_writer_lock(Cleanup *c);
bool is_freeable(const Cleanup *c, uint32 id);

// hnsw_vacuum_repair.cpp (step 3)
// A valid neighbour at `level`: live and present on that level.
bool usable(Cleanup *c, uint32 id, int level);
bool live_id(Cleanup *c, uint32 id);
// Level-0 in-links of every slot from the live elements the read pass saw (palloc'd).
uint16 *count_in_links(Cleanup *c);
void repair_element(Cleanup *c, uint32 id);
void reconnect_weak(Cleanup *c);
void connect_unreachable(Cleanup *c, bool take_lock);

// hnsw_vacuum_free.cpp (steps 4-5)
void unlink_empty(Cleanup *c);
void recount_in_links(Cleanup *c);
void free_slots(Cleanup *c);

}  // namespace hnsw
}  // namespace prism
