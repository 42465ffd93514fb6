// Per-backend statistics of the last hnsw scan (prism.last_scan_stats()).
#pragma once

#include "pg/pg_includes.h"

namespace prism {
namespace hnsw {

struct ScanStats {
	uint64 distances;		   // distance computations
	uint64 nodes_visited;	   // elements discovered
	uint64 pages_read;		   // index buffer accesses
	uint64 tuples_returned;	   // heap TIDs handed to the executor
	uint64 dropped_out_of_order;
	bool bound_reached;	 // hnsw.max_scan_tuples stopped the scan
	uint64 distances_reused;  // ORDER BY distances the executor took from the scan (hnsw_plan.cpp)
	bool bound_noticed;
};

extern ScanStats last_scan_stats;
// Emits the once-per-statement NOTICE that hnsw.max_scan_tuples cut a scan short.
void note_bound_reached(Relation index);

}  // namespace hnsw
}  // namespace prism
