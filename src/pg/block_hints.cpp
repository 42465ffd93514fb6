// Buffer hints shared by the index scans (hnsw_store.cpp, ivf_scan.cpp): see block_hints.h.
#include "pg/block_hints.h"

extern "C" {
#include "pgstat.h"
}

namespace prism {

// Backend-local hints: which shared buffer last held each block of the indexes searched most
// recently. ReadRecentBuffer re-pins it without the buffer-mapping hash lookup and its partition
// lock, which dominate a search over cached pages. A stale hint just falls back to ReadBuffer.
// Several indexes keep their hints (the partitions of a Merge Append scan take turns; one set
// of hints would be reallocated at every switch); the least recently used set is replaced.
struct BlockHints {
	RelFileNode node;
	Buffer *buffers;  // NULL: slot unused
	uint32 capacity;
	uint64 last_use;
};
static BlockHints hint_sets[4];
static BlockHints *current_hints;  // the set read_hinted used last
static uint64 hint_clock;

// The hints of `index`, with room for `block` (and the index's current length); NULL if the
// block lies far beyond the length the caller knows.
static BlockHints *hints_for(Relation index, BlockNumber block, BlockNumber nblocks)
{
	if (block >= nblocks + 1024)
		return NULL;
	BlockHints *h = NULL, *victim = &hint_sets[0];
	for (BlockHints &c : hint_sets) {
		if (c.buffers && RelFileNodeEquals(c.node, index->rd_node)) {
			h = &c;
			break;
		}
		if (!c.buffers || (victim->buffers && c.last_use < victim->last_use))
			victim = &c;
	}
	if (h != NULL && block < h->capacity) {
		h->last_use = ++hint_clock;
		current_hints = h;
		return h;
	}
	// Allocated before the old array is freed: an out-of-memory ERROR leaves every set valid.
	uint32 need = Max((uint32) nblocks, block + 1) + 1024;
	Buffer *fresh = (Buffer *) MemoryContextAllocExtended(TopMemoryContext, sizeof(Buffer) * need,
														  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	if (h != NULL)
		memcpy(fresh, h->buffers, sizeof(Buffer) * h->capacity);  // grown index: keep its hints
	else
		h = victim;
	if (h->buffers)
		pfree(h->buffers);
	h->buffers = fresh;
	h->capacity = need;
	h->node = index->rd_node;
	h->last_use = ++hint_clock;
	current_hints = h;
	return h;
}

Buffer read_hinted(Relation index, BlockNumber block, BlockNumber nblocks)
{
	if (RelationUsesLocalBuffers(index))
		return ReadBuffer(index, block);  // hints are for shared buffers only
	BlockHints *h = current_hints;
	if (h == NULL || block >= h->capacity || !RelFileNodeEquals(h->node, index->rd_node)) {
		h = hints_for(index, block, nblocks);
		if (h == NULL)
			return ReadBuffer(index, block);
	}
	Buffer hint = h->buffers[block];
	if (hint != InvalidBuffer && ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, block, hint)) {
		// ReadRecentBuffer leaves the relation's block counters alone (ReadBuffer counts a
		// fetch and, when the page was cached, a hit): count it as ReadBuffer would, so
		// pg_statio_user_indexes shows the scan's reads.
		pgstat_count_buffer_read(index);
		pgstat_count_buffer_hit(index);
		return hint;
	}
	Buffer buf = ReadBuffer(index, block);
	h->buffers[block] = buf;
	return buf;
}

Buffer hinted_buffer(Relation index, BlockNumber block)
{
	const BlockHints *h = current_hints;
	if (h == NULL || block >= h->capacity || !RelFileNodeEquals(h->node, index->rd_node) ||
		RelationUsesLocalBuffers(index))
		return InvalidBuffer;
	return h->buffers[block];
}

}  // namespace prism
