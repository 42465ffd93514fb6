// aminsert for ivfflat: a new row goes to the list of its nearest center.
//
// The nearest center comes from the backend's copy of the centers (CenterCache), else from the
// center pages read under shared locks, one at a time. The tuple is then added
// to the list's insert page (the center's insert_block hint), walking the chain forward past full
// pages; at the end of the chain a new page is appended. Locks are taken list page -> center
// page (never the other way round while a list page another backend can reach is held), which
// is the order vacuum uses too; scans hold one page at a time. WAL (GenericXLog), per record:
//   - tuple added to a page with room: that list page;
//   - chain extended: the old last page (next link), the new page, the center page (insert
//     block) -- one record, so a crash never leaves an unlinked page behind a linked one;
//   - first page of an empty list: the center page (start and insert block) and the new page;
//   - insert hint moved forward after walking past full pages: the center page.
#include <cmath>

#include "pg/ivf.h"

extern "C" {
#include "storage/lmgr.h"
#include "utils/memutils.h"
}

namespace prism {
namespace ivf {

// The list nearest to `vec` and its center's blocks, from the center pages.
static uint32 nearest_list(Relation index, const Shape &sh, const float *vec, CenterHeader *hdr)
{
	uint32 best = 0;
	float best_d = INFINITY;
	float *c = (float *) palloc(sizeof(float) * sh.dims);
	for (uint32 p = 0; p < sh.center_pages; p++) {
		BlockNumber blkno = 1 + p;
		Buffer buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		uint32 first = p * sh.centers_per_page;
		uint32 last = Min(sh.lists, first + sh.centers_per_page);
		for (uint32 l = first; l < last; l++) {
			CenterHeader h;
			read_center(index, sh, page, blkno, l, &h, c);
			// as nearest_center: squared L2 to the decoded centers
			float d = sh.kernels.l2sq(vec, c, &sh.dims_param);
			if (d < best_d) {
				best_d = d;
				best = l;
				*hdr = h;
			}
		}
		UnlockReleaseBuffer(buf);
	}
	pfree(c);
	return best;
}

static Buffer new_list_page(Relation index)
{
	LockRelationForExtension(index, ExclusiveLock);
	Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
	UnlockRelationForExtension(index, ExclusiveLock);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	return buf;
}

static void add_tuple(Relation index, Page page, const char *tuple, Size size)
{
	if (PageAddItem(page, (Item) tuple, size, InvalidOffsetNumber, false, false) == InvalidOffsetNumber)
		elog(ERROR, "failed to add tuple to ivfflat index \"%s\"", RelationGetRelationName(index));
}

// Sets the center's insert block (and start block when `start` is valid) inside a GenericXLog
// page copy of its center page.
static void set_center_blocks(Relation index, const Shape &sh, Page cpage, BlockNumber cblk, uint32 list,
							  BlockNumber start, BlockNumber insert)
{
	CenterHeader h;
	read_center(index, sh, cpage, cblk, list, &h, NULL);
	ItemId iid = PageGetItemId(cpage, center_offset(list, sh.centers_per_page));
	CenterHeader *dst = (CenterHeader *) PageGetItem(cpage, iid);
	if (start != InvalidBlockNumber)
		dst->start_block = start;
	dst->insert_block = insert;
}

// Moves the insert hint of `list` from `from` to `to` unless someone else moved it already.
static void advance_hint(Relation index, const Shape &sh, uint32 list, BlockNumber from, BlockNumber to)
{
	BlockNumber cblk = center_block(list, sh.centers_per_page);
	Buffer cbuf = ReadBuffer(index, cblk);
	LockBuffer(cbuf, BUFFER_LOCK_EXCLUSIVE);
	CenterHeader h;
	read_center(index, sh, BufferGetPage(cbuf), cblk, list, &h, NULL);
	if (h.insert_block == from) {
		GenericXLogState *state = GenericXLogStart(index);
		Page cpage = GenericXLogRegisterBuffer(state, cbuf, 0);
		set_center_blocks(index, sh, cpage, cblk, list, InvalidBlockNumber, to);
		GenericXLogFinish(state);
	}
	UnlockReleaseBuffer(cbuf);
}

void insert_tuple(Relation index, const Shape &sh, const char *vec, const float *decoded, ItemPointer heap_tid)
{
	CenterHeader hdr;
	uint32 list;
	BlockNumber cblk;
	const CenterCache *cache = center_cache(index);
	if (cache) {
		list = nearest_center(decoded, cache->centers, sh.lists, sh.dims, spherical(sh.metric), sh.kernels);
		cblk = center_block(list, sh.centers_per_page);
		Buffer buf = ReadBuffer(index, cblk);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		read_center(index, sh, BufferGetPage(buf), cblk, list, &hdr, NULL);
		UnlockReleaseBuffer(buf);
	} else {
		list = nearest_list(index, sh, decoded, &hdr);
		cblk = center_block(list, sh.centers_per_page);
	}

	char *tuple = (char *) palloc0(sh.tuple_size);
	set_tuple_tid((ListTupleHeader *) tuple, heap_tid);
	memcpy(tuple + sizeof(ListTupleHeader), vec, sh.vec_bytes);
	Size need = MAXALIGN(sh.tuple_size);

	if (hdr.start_block == kInvalidBlock) {
		// First page of an empty list: decided under the center page's exclusive lock.
		Buffer cbuf = ReadBuffer(index, cblk);
		LockBuffer(cbuf, BUFFER_LOCK_EXCLUSIVE);
		read_center(index, sh, BufferGetPage(cbuf), cblk, list, &hdr, NULL);
		if (hdr.start_block == kInvalidBlock) {
			// Nobody can wait for the new page's lock while we hold the center page.
			Buffer nbuf = new_list_page(index);
			GenericXLogState *state = GenericXLogStart(index);
			Page cpage = GenericXLogRegisterBuffer(state, cbuf, 0);
			Page npage = GenericXLogRegisterBuffer(state, nbuf, GENERIC_XLOG_FULL_IMAGE);
			init_page(npage, kPageList);
			add_tuple(index, npage, tuple, sh.tuple_size);
			BlockNumber nblk = BufferGetBlockNumber(nbuf);
			set_center_blocks(index, sh, cpage, cblk, list, nblk, nblk);
			GenericXLogFinish(state);
			UnlockReleaseBuffer(nbuf);
			UnlockReleaseBuffer(cbuf);
			pfree(tuple);
			return;
		}
		UnlockReleaseBuffer(cbuf);
	}

	BlockNumber hint = hdr.insert_block != kInvalidBlock ? hdr.insert_block : hdr.start_block;
	BlockNumber blkno = hint, from = cblk;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber steps = 0;; steps++) {
		check_list_block(index, sh, from, blkno, steps, &nblocks);
		Buffer buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		Page page = BufferGetPage(buf);
		if (PageIsNew(page) || page_special(page)->kind != kPageList) {
			UnlockReleaseBuffer(buf);
			report_corrupt(index, blkno, "list chain leads to a page that is not a list page");
		}
		if (PageGetFreeSpace(page) >= need) {
			GenericXLogState *state = GenericXLogStart(index);
			Page wpage = GenericXLogRegisterBuffer(state, buf, 0);
			add_tuple(index, wpage, tuple, sh.tuple_size);
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			if (blkno != hint)
				advance_hint(index, sh, list, hint, blkno);
			break;
		}
		BlockNumber next = page_special(page)->next;
		if (next != kInvalidBlock) {
			UnlockReleaseBuffer(buf);
			from = blkno;
			blkno = next;
			continue;
		}
		// Last page of the list and full: append a page (this one stays locked meanwhile).
		Buffer nbuf = new_list_page(index);
		Buffer cbuf = ReadBuffer(index, cblk);
		LockBuffer(cbuf, BUFFER_LOCK_EXCLUSIVE);
		GenericXLogState *state = GenericXLogStart(index);
		Page tail = GenericXLogRegisterBuffer(state, buf, 0);
		Page npage = GenericXLogRegisterBuffer(state, nbuf, GENERIC_XLOG_FULL_IMAGE);
		Page cpage = GenericXLogRegisterBuffer(state, cbuf, 0);
		init_page(npage, kPageList);
		add_tuple(index, npage, tuple, sh.tuple_size);
		BlockNumber nblk = BufferGetBlockNumber(nbuf);
		page_special(tail)->next = nblk;
		set_center_blocks(index, sh, cpage, cblk, list, InvalidBlockNumber, nblk);
		GenericXLogFinish(state);
		UnlockReleaseBuffer(cbuf);
		UnlockReleaseBuffer(nbuf);
		UnlockReleaseBuffer(buf);
		break;
	}
	pfree(tuple);
}

}  // namespace ivf
}  // namespace prism

using namespace prism::ivf;

bool ivfflatinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid, Relation heap,
				   IndexUniqueCheck checkUnique, bool indexUnchanged, IndexInfo *indexInfo)
{
	return prism::prism_guarded([&] {
		if (isnull[0])
			return false;
		MemoryContext ctx = AllocSetContextCreate(CurrentMemoryContext, "ivfflat insert", ALLOCSET_SMALL_SIZES);
		MemoryContext old = MemoryContextSwitchTo(ctx);
		Shape sh;
		read_shape(index, &sh);
		char *vec = (char *) palloc(sh.vec_bytes);
		if (prepare_vector(sh, values[0], vec)) {
			float *decoded = (float *) palloc(sizeof(float) * sh.dims);
			element_decode(sh.elem, vec, decoded);
			insert_tuple(index, sh, vec, decoded, heap_tid);
		}
		MemoryContextSwitchTo(old);
		MemoryContextDelete(ctx);
		return false;
	});
}
