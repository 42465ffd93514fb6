// Backend-local hints of the shared buffer that last held each block of the indexes read most
// recently, so an index scan re-pins a cached page with ReadRecentBuffer instead of the
// buffer-mapping hash lookup (and its partition lock) of ReadBuffer, which dominate a scan over
// cached pages. Used by the hnsw store and the ivfflat list reads.
#pragma once

#include "pg/pg_includes.h"

extern "C" {
#include "storage/bufmgr.h"
#include "utils/rel.h"
}

namespace prism {

// Pins `block` of `index` (no content lock), through its hint when the hinted buffer still
// holds the block, else with ReadBuffer (then hinted). `nblocks`: the index length the caller
// knows, to size the hints. Counts the read in pg_statio as ReadBuffer does.
Buffer read_hinted(Relation index, BlockNumber block, BlockNumber nblocks);

// The buffer the hints last saw holding `block` of `index`, or InvalidBuffer: possibly stale,
// for prefetching only (no pin, no lock).
Buffer hinted_buffer(Relation index, BlockNumber block);

}  // namespace prism
