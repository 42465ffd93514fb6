// VACUUM steps 4-5 (see hnsw_vacuum.cpp): unlinks empty overflow records from duplicate
// chains, recounts level-0 in-links and frees the slots of deleted elements.
#include "pg/hnsw_sparse.h"
#include "pg/hnsw_vacuum.h"

namespace prism {
namespace hnsw {

// Pins, exclusively locks and registers the (first) page of element `id`; returns its item in
// the GenericXLog copy, or NULL (nothing held) if the slot is not a readable record.
static char *begin_change(Cleanup *c, uint32 id, Buffer *buf, GenericXLogState **state)
{
	const IndexShape &sh = c->sh;
	*buf = ReadBufferExtended(c->index, MAIN_FORKNUM, id_block(id, sh.per_page), RBM_NORMAL, c->strategy);
	LockBuffer(*buf, BUFFER_LOCK_EXCLUSIVE);
	*state = GenericXLogStart(c->index);
	Page page = GenericXLogRegisterBuffer(*state, *buf, 0);
	OffsetNumber off = id_slot(id, sh.per_page) + 1;
	const unsigned char *raw = (const unsigned char *) page;
	const unsigned char *item = NULL;
	if (!pg_page::is_new(raw) && pg_page::kind(raw) == kPageElement && off <= pg_page::item_count(raw))
		item = pg_page::item_at(raw, off, sh.span > 1 ? sh.chunk : sh.record_size);
	if (item == NULL) {
		GenericXLogAbort(*state);
		UnlockReleaseBuffer(*buf);
		return NULL;
	}
	return (char *) item;
}

// Step 4: unlinks empty overflow records from live chains (one record per changed page).
void unlink_empty(Cleanup *c)
{
	for (uint32 id = 0; id < c->capacity; id++) {
		if (c->flags[id] != kElementLive)
			continue;
		uint32 prev = id;
		uint32 guard = 0;
		for (uint32 cur = c->dup_next[id]; cur < c->capacity && guard++ < c->capacity;) {
			if (c->flags[cur] != kElementDuplicate || c->chain[cur] == kUnreferenced)
				break;
			uint32 next = c->dup_next[cur];
			if (c->chain[cur] != kUnlink) {
				prev = cur;
				cur = next;
				continue;
			}
			Buffer buf;
			GenericXLogState *state;
			char *item = begin_change(c, prev, &buf, &state);
			if (!item)
				break;
			RecordWriter(item).set_dup_next(next);
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			c->dup_next[prev] = next;
			c->unlinked++;
			cur = next;
		}
	}
}

// Rewrites element headers page by page, one WAL record per page that changes: for each page
// holding an id `wanted` accepts, `change` is called on the header of every such id (in the
// page image, as a RecordWriter) and says whether it changed it. Returns how many headers changed.
template <class Wanted, class Change> static uint64 rewrite_headers(Cleanup *c, Wanted wanted, Change change)
{
	const IndexShape &sh = c->sh;
	size_t expect = sh.span > 1 ? sh.chunk : sh.record_size;
	uint64 changed = 0;
	for (BlockNumber b = 1; b < c->nblocks; b++) {
		uint32 first = make_id(b, 0, sh.per_page);
		bool any = false;
		for (uint32 s = 0; s < sh.per_page && !any; s++)
			any = wanted(first + s);
		if (!any)
			continue;
		vacuum_delay_point();
		Buffer buf = ReadBufferExtended(c->index, MAIN_FORKNUM, b, RBM_NORMAL, c->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		GenericXLogState *state = GenericXLogStart(c->index);
		Page page = GenericXLogRegisterBuffer(state, buf, 0);
		OffsetNumber max = PageGetMaxOffsetNumber(page);
		int n = 0;
		for (OffsetNumber off = 1; off <= max && off <= sh.per_page; off++) {
			uint32 id = first + off - 1;
			const unsigned char *item = pg_page::item_at((const unsigned char *) page, off, expect);
			if (item != NULL && wanted(id) && change(id, RecordWriter(const_cast<unsigned char *>(item))))
				n++;
		}
		if (n > 0)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		changed += n;
	}
	return changed;
}

// Step 5a: sets every element's in-link count to the level-0 links live elements hold, before
// the deleted elements, whose links leave with them, are freed: a count never exceeds the
// element's real in-links, and drift (a crash between an insert's records leaves counts low)
// is corrected.
void recount_in_links(Cleanup *c)
{
	uint16 *count = count_in_links(c);	// deleted elements get 0: they are freed next
	rewrite_headers(
		c, [c](uint32 id) { return c->flags[id] == kElementLive || c->flags[id] == kElementDeleted; },
		[count](uint32 id, RecordWriter element) {
			RecordView r = element.view();
			if (!r.in_graph() || r.in_links0() == count[id])
				return false;
			element.set_in_links0(count[id]);
			return true;
		});
	pfree(count);
}

// Step 5b: marks freeable records kElementFree, one WAL record per page; then frees the side
// items of sparse elements (after their records: a crash in between leaks the chunks' space,
// and no record ever names a freed chunk).
void free_slots(Cleanup *c)
{
	bool sparse = c->sh.element == ElementKind::Sparse;
	SparseHandle *handles = NULL;
	size_t n_handles = 0, cap_handles = 0;
	c->freed += rewrite_headers(
		c, [c](uint32 id) { return is_freeable(c, id); },
		[&](uint32 id, RecordWriter element) {
			RecordView record = element.view();
			if (record.flags() != c->flags[id])
				return false;
			if (sparse && (record.flags() == kElementLive || record.flags() == kElementDeleted)) {
				if (n_handles == cap_handles) {
					cap_handles = cap_handles ? cap_handles * 2 : 64;
					handles = (SparseHandle *) (handles ? repalloc_huge(handles, sizeof(SparseHandle) * cap_handles)
														: palloc(sizeof(SparseHandle) * cap_handles));
				}
				handles[n_handles++] = sparse_handle(record.element(c->sh.m));
			}
			element.mark_free();
			c->flags[id] = kElementFree;
			return true;
		});
	for (size_t i = 0; i < n_handles; i++) {
		vacuum_delay_point();
		sparse_free_item(c->index, c->strategy, &handles[i]);
	}
	if (handles) {
		pfree(handles);
		sparse_vacuum_done(c->index);
	}
}

}  // namespace hnsw
}  // namespace prism
