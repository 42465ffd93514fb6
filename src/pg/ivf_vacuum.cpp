// ambulkdelete / amvacuumcleanup for ivfflat.
//
// Each list is walked from its first page; on each page (exclusively locked, one at a time)
// the tuples whose heap rows are dead are removed in one GenericXLog record (that page only).
// Scans copy what they need out of a page under its shared lock and keep no pins, so removing
// and compacting items under the exclusive lock is safe. Pages are never unlinked: the list
// keeps its chain and the freed space is reused by inserts, because the center's insert block
// is moved back to the first page of the list with room for a tuple (one GenericXLog record on
// the center page, taken after the list pages are released: the list page -> center page lock
// order of inserts is kept).
#include <cmath>

#include "pg/ivf.h"

extern "C" {
#include "commands/vacuum.h"
#include "storage/indexfsm.h"
}

namespace prism {
namespace ivf {

static void set_insert_block(Relation index, const Shape &sh, uint32 list, BlockNumber blkno)
{
	BlockNumber cblk = center_block(list, sh.centers_per_page);
	Buffer cbuf = ReadBuffer(index, cblk);
	LockBuffer(cbuf, BUFFER_LOCK_EXCLUSIVE);
	CenterHeader h;
	read_center(index, sh, BufferGetPage(cbuf), cblk, list, &h, NULL);
	if (h.insert_block != blkno) {
		GenericXLogState *state = GenericXLogStart(index);
		Page page = GenericXLogRegisterBuffer(state, cbuf, 0);
		CenterHeader *dst = (CenterHeader *) PageGetItem(page, PageGetItemId(page, center_offset(list, sh.centers_per_page)));
		dst->insert_block = blkno;
		GenericXLogFinish(state);
	}
	UnlockReleaseBuffer(cbuf);
}

static void bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, IndexBulkDeleteCallback callback,
					   void *callback_state)
{
	Relation index = info->index;
	Shape sh;
	read_shape(index, &sh);
	BlockNumber *start = (BlockNumber *) palloc(sizeof(BlockNumber) * sh.lists);
	for (uint32 p = 0; p < sh.center_pages; p++) {
		Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, 1 + p, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		for (uint32 l = p * sh.centers_per_page; l < Min(sh.lists, (p + 1) * sh.centers_per_page); l++) {
			CenterHeader h;
			read_center(index, sh, BufferGetPage(buf), 1 + p, l, &h, NULL);
			start[l] = h.start_block;
		}
		UnlockReleaseBuffer(buf);
	}
	OffsetNumber *dead = (OffsetNumber *) palloc(sizeof(OffsetNumber) * MaxOffsetNumber);
	Size need = MAXALIGN(sh.tuple_size);
	for (uint32 l = 0; l < sh.lists; l++) {
		BlockNumber first_room = kInvalidBlock;
		BlockNumber blkno = start[l], from = center_block(l, sh.centers_per_page);
		BlockNumber nblocks = RelationGetNumberOfBlocks(index);
		for (BlockNumber steps = 0; blkno != kInvalidBlock; steps++) {
			check_list_block(index, sh, from, blkno, steps, &nblocks);
			vacuum_delay_point();
			Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			Page page = BufferGetPage(buf);
			if (PageIsNew(page) || page_special(page)->kind != kPageList) {
				UnlockReleaseBuffer(buf);
				report_corrupt(index, blkno, "list chain leads to a page that is not a list page");
			}
			int ndead = 0;
			OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++) {
				const ListTupleHeader *t = list_tuple(index, sh, page, blkno, off);
				if (t == NULL)
					continue;
				ItemPointerData tid;
				tuple_tid(t, &tid);
				if (callback(&tid, callback_state))
					dead[ndead++] = off;
				else
					stats->num_index_tuples++;
			}
			if (ndead > 0) {
				GenericXLogState *state = GenericXLogStart(index);
				Page wpage = GenericXLogRegisterBuffer(state, buf, 0);
				PageIndexMultiDelete(wpage, dead, ndead);
				GenericXLogFinish(state);
				stats->tuples_removed += ndead;
			}
			if (first_room == kInvalidBlock && PageGetFreeSpace(BufferGetPage(buf)) >= need)
				first_room = blkno;
			from = blkno;
			blkno = page_special(BufferGetPage(buf))->next;
			UnlockReleaseBuffer(buf);
		}
		if (first_room != kInvalidBlock)
			set_insert_block(index, sh, l, first_room);
	}
	stats->num_pages = RelationGetNumberOfBlocks(index);
}

}  // namespace ivf
}  // namespace prism

using namespace prism::ivf;

IndexBulkDeleteResult *ivfflatbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
										 IndexBulkDeleteCallback callback, void *callback_state)
{
	return prism::prism_guarded([&] {
		if (stats == NULL)
			stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
		stats->num_index_tuples = 0;
		bulkdelete(info, stats, callback, callback_state);
		return stats;
	});
}

IndexBulkDeleteResult *ivfflatvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	return prism::prism_guarded([&] {
		if (info->analyze_only)
			return stats;
		if (stats == NULL) {
			// no bulkdelete ran: nothing changed; report the heap's count
			stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
			stats->num_index_tuples = info->num_heap_tuples;
			stats->estimated_count = info->estimated_count;
		}
		stats->num_pages = RelationGetNumberOfBlocks(info->index);
		return stats;
	});
}
