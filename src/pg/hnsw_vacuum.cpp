// ambulkdelete / amvacuumcleanup for hnsw.
//
// bulkdelete: walk every element page; drop heap TIDs the callback reports dead (from the
// element and its duplicate chain); an element left with no TIDs becomes kElementDeleted. A
// deleted element stays in the graph (scans traverse it but never return it) until repair.
// Runs under the writer lock so it never races an insert's link updates.
#include "pg/hnsw.h"

extern "C" {
#include "commands/vacuum.h"
#include "storage/lmgr.h"
}

using namespace prism::hnsw;

static IndexBulkDeleteResult *bulkdelete_impl(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation index = info->index;
	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
	IndexShape sh;
	read_shape(index, &sh);
	LockPage(index, kWriterLock, ExclusiveLock);
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber b = 1; b < nblocks; b++) {
		vacuum_delay_point();
		Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, b, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		Page page = BufferGetPage(buf);
		if (PageIsNew(page) || page_opaque(page)->kind != kPageElement) {
			UnlockReleaseBuffer(buf);
			continue;
		}
		GenericXLogState *state = GenericXLogStart(index);
		Page wpage = GenericXLogRegisterBuffer(state, buf, 0);
		bool changed = false;
		OffsetNumber max = PageGetMaxOffsetNumber(wpage);
		for (OffsetNumber off = 1; off <= max; off++) {
			ElementHeader *h = (ElementHeader *) PageGetItem(wpage, PageGetItemId(wpage, off));
			if (h->flags != kElementLive && h->flags != kElementDuplicate)
				continue;
			int kept = 0;
			for (int i = 0; i < h->n_tids; i++) {
				ItemPointerData tid;
				tid.ip_blkid.bi_hi = h->tids[i].block_hi;
				tid.ip_blkid.bi_lo = h->tids[i].block_lo;
				tid.ip_posid = h->tids[i].offset;
				if (callback(&tid, callback_state)) {
					stats->tuples_removed++;
					changed = true;
				} else {
					h->tids[kept++] = h->tids[i];
					stats->num_index_tuples++;
				}
			}
			h->n_tids = kept;
			// A live element with no TIDs left is deleted unless its duplicate chain still
			// holds some; chains are checked below once every page is processed.
		}
		if (changed)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
	}
	// Mark graph elements whose whole chain is empty as deleted.
	PgStore store;
	store_init(&store, index, &sh);
	for (BlockNumber b = 1; b < nblocks; b++) {
		Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, b, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		if (PageIsNew(page) || page_opaque(page)->kind != kPageElement) {
			UnlockReleaseBuffer(buf);
			continue;
		}
		OffsetNumber max = PageGetMaxOffsetNumber(page);
		uint32 *empty = (uint32 *) palloc(sizeof(uint32) * (max + 1));
		int n_empty = 0;
		for (OffsetNumber off = 1; off <= max; off++) {
			ElementHeader *h = (ElementHeader *) PageGetItem(page, PageGetItemId(page, off));
			if (h->flags == kElementLive && h->n_tids == 0)
				empty[n_empty++] = make_id(b, off - 1, sh.per_page);
		}
		UnlockReleaseBuffer(buf);
		for (int i = 0; i < n_empty; i++) {
			ElementHeader h;
			store_element(&store, empty[i], &h);
			bool any = false;
			for (uint32 next = h.dup_next; next != kInvalidId && !any;) {
				ElementHeader d;
				if (!store_element(&store, next, &d))
					break;
				any = d.n_tids > 0;
				next = d.dup_next;
			}
			if (any)
				continue;
			buf = ReadBuffer(index, id_block(empty[i], sh.per_page));
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			GenericXLogState *state = GenericXLogStart(index);
			Page wpage = GenericXLogRegisterBuffer(state, buf, 0);
			ElementHeader *wh =
				(ElementHeader *) PageGetItem(wpage, PageGetItemId(wpage, id_slot(empty[i], sh.per_page) + 1));
			wh->flags = kElementDeleted;
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
		}
		pfree(empty);
	}
	UnlockPage(index, kWriterLock, ExclusiveLock);
	return stats;
}

IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
									  IndexBulkDeleteCallback callback, void *callback_state)
{
	return prism::prism_guarded([&] { return bulkdelete_impl(info, stats, callback, callback_state); });
}

IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	return prism::prism_guarded([&] {
		if (info->analyze_only)
			return stats;
		if (stats == NULL)
			stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
		stats->num_pages = RelationGetNumberOfBlocks(info->index);
		return stats;
	});
}
