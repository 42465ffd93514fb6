// The hnsw metapage (block 0): read (through the page checker) and changed (one GenericXLog
// record) only here. The bulk build initializes it (hnsw_build.cpp, bulk WAL).
#include "pg/hnsw.h"

namespace prism {
namespace hnsw {

void read_shape(Relation index, IndexShape *shape)
{
	MetaPageData meta;
	// Ranges against the index length are left to the readers (they know it already).
	meta_read(index, InvalidBlockNumber, &meta);
	shape_from_meta(&meta, shape);
}

void meta_read(Relation index, BlockNumber nblocks, MetaPageData *meta)
{
	Buffer buf = ReadBuffer(index, kMetaBlock);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	verify_meta(index, BufferGetPage(buf), nblocks, meta);
	UnlockReleaseBuffer(buf);
}

bool meta_vacuum_pending(Relation index)
{
	// Not verified here: a bad metapage is reported by the cleanup that follows.
	Buffer buf = ReadBuffer(index, kMetaBlock);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	Page page = BufferGetPage(buf);
	bool pending = !PageIsNew(page) && page_opaque(page)->kind == kPageMeta && page_meta(page)->vacuum_pending != 0;
	UnlockReleaseBuffer(buf);
	return pending;
}

bool meta_change(Relation index, bool (*change)(MetaPageData *meta, void *arg), void *arg)
{
	// The metapage is exclusively locked from the read of the copy to the WAL record.
	Buffer buf = ReadBuffer(index, kMetaBlock);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	MetaPageData copy;
	memcpy(&copy, page_meta(BufferGetPage(buf)), sizeof(copy));
	if (!change(&copy, arg)) {
		UnlockReleaseBuffer(buf);
		return false;
	}
	GenericXLogState *state = GenericXLogStart(index);
	Page page = GenericXLogRegisterBuffer(state, buf, 0);
	memcpy(page_meta(page), &copy, sizeof(copy));
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	return true;
}

}  // namespace hnsw
}  // namespace prism
