// WAL-logged changes of level-0 link lists, shared by insert and vacuum, with the in-link counts
// of the elements they link to (ElementHeader.in_links0).
//
// A count must never exceed the element's real number of level-0 in-links: a pruning trusts a
// count above 1 to mean "another list still links here" and drops the link. So a link's
// removal is counted in the WAL record that removes it or an earlier one, and a new link in
// that record or a later one. A crash between records leaves counts low (a pruning then keeps
// links it could drop: harmless) and never high. The caller holds kWriterLock, so no other
// writer changes the pages involved; each record registers at most MAX_GENERIC_XLOG_PAGES
// pages (exclusively locked while it is built).
#include "pg/hnsw.h"

namespace prism {
namespace hnsw {

namespace {

// One in-link count change.
struct CountChange {
	BlockNumber block;
	uint32 id;
	int delta;
	bool done;
};

// The record of element `id` in `page` (a page image registered with GenericXLog, or a locked
// buffer page), or NULL if the slot holds no readable record.
char *element_item(Page page, const IndexShape &sh, uint32 id)
{
	const unsigned char *raw = (const unsigned char *) page;
	OffsetNumber off = id_slot(id, sh.per_page) + 1;
	if (pg_page::is_new(raw) || pg_page::kind(raw) != kPageElement || off > pg_page::item_count(raw))
		return NULL;
	return (char *) pg_page::item_at(raw, off, sh.span > 1 ? sh.chunk : sh.record_size);
}

bool contains(const uint32 *ids, int n, uint32 id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

// Pages registered in one GenericXLog record.
struct Record {
	GenericXLogState *state;
	int n;
	Buffer bufs[MAX_GENERIC_XLOG_PAGES];
	BlockNumber blocks[MAX_GENERIC_XLOG_PAGES];
	Page pages[MAX_GENERIC_XLOG_PAGES];
};

void record_start(Relation index, Record *r)
{
	r->state = GenericXLogStart(index);
	r->n = 0;
}

bool record_has(const Record *r, BlockNumber block)
{
	for (int i = 0; i < r->n; i++)
		if (r->blocks[i] == block)
			return true;
	return false;
}

Page record_page(const Record *r, BlockNumber block)
{
	for (int i = 0; i < r->n; i++)
		if (r->blocks[i] == block)
			return r->pages[i];
	return NULL;
}

void record_add(Relation index, BufferAccessStrategy strategy, Record *r, BlockNumber block)
{
	Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, block, RBM_NORMAL, strategy);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	r->bufs[r->n] = buf;
	r->blocks[r->n] = block;
	r->pages[r->n] = GenericXLogRegisterBuffer(r->state, buf, 0);
	r->n++;
}

// Applies the pending changes of `changes` whose block the record holds (only decrements if
// `decrements_only`) to the registered page images.
void record_apply(const Record *r, const IndexShape &sh, CountChange *changes, int n, bool decrements_only)
{
	for (int i = 0; i < n; i++) {
		CountChange &c = changes[i];
		if (c.done || (decrements_only && c.delta > 0) || !record_has(r, c.block))
			continue;
		c.done = true;
		char *item = element_item(record_page(r, c.block), sh, c.id);
		if (item == NULL || !RecordView(item).in_graph())
			continue;  // not a graph element (a link that was wrong already): nothing to count
		RecordWriter(item).set_in_links0(in_links_step(RecordView(item).in_links0(), c.delta));
	}
}

void record_finish(Record *r)
{
	GenericXLogFinish(r->state);
	for (int i = 0; i < r->n; i++)
		UnlockReleaseBuffer(r->bufs[i]);
}

// Writes records for the pending changes (only decrements if `decrements_only`), up to
// MAX_GENERIC_XLOG_PAGES pages each, until at most `leave` blocks with such changes remain.
void flush_changes(Relation index, BufferAccessStrategy strategy, const IndexShape &sh, CountChange *changes, int n,
				   bool decrements_only, int leave)
{
	for (;;) {
		BlockNumber blocks[4 * kMaxM + 1];
		int n_blocks = 0;
		for (int i = 0; i < n; i++) {
			const CountChange &c = changes[i];
			if (c.done || (decrements_only && c.delta > 0))
				continue;
			bool seen = false;
			for (int j = 0; j < n_blocks && !seen; j++)
				seen = blocks[j] == c.block;
			if (!seen)
				blocks[n_blocks++] = c.block;
		}
		if (n_blocks <= leave)
			return;
		Record r;
		record_start(index, &r);
		for (int j = 0; j < n_blocks && j < MAX_GENERIC_XLOG_PAGES; j++)
			record_add(index, strategy, &r, blocks[j]);
		record_apply(&r, sh, changes, n, decrements_only);
		record_finish(&r);
	}
}

}  // namespace

void write_links0(Relation index, BufferAccessStrategy strategy, const IndexShape &sh, uint32 owner,
				  const uint32 *old_links, int n_old, const uint32 *links, int n, int owner_delta, uint32 counted_by_caller)
{
	BlockNumber owner_block = id_block(owner, sh.per_page);
	uint32 old_buf[2 * kMaxM];
	if (old_links == NULL && links != NULL) {
		// The old list (the caller's writer lock keeps it as read here).
		Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, owner_block, RBM_NORMAL, strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		const char *item = element_item(BufferGetPage(buf), sh, owner);
		if (item == NULL) {
			UnlockReleaseBuffer(buf);
			report_corrupt(index, "element slot missing while its links change", owner);
		}
		RecordView owner_record(item);
		n_old = Min(owner_record.n_links0(), max_links(sh.m, 0));
		for (int i = 0; i < n_old; i++)
			old_buf[i] = owner_record.link0(i);
		UnlockReleaseBuffer(buf);
		old_links = old_buf;
	}
	const uint32 *old = old_links;
	CountChange changes[4 * kMaxM + 1];
	int n_changes = 0;
	// Ids in lists were range-checked when read (links() and the page checker).
	auto change = [&](uint32 id, int delta) {
		BlockNumber b = id_block(id, sh.per_page);
		if (b != kMetaBlock && id != counted_by_caller)
			changes[n_changes++] = CountChange{b, id, delta, false};
	};
	if (links != NULL) {
		for (int i = 0; i < n_old; i++)
			if (old[i] != owner && !contains(links, n, old[i]) && !contains(old, i, old[i]))
				change(old[i], -1);
		for (int i = 0; i < n; i++)
			if (links[i] != owner && !contains(old, n_old, links[i]) && !contains(links, i, links[i]))
				change(links[i], +1);
	}
	if (owner_delta != 0)
		change(owner, owner_delta);

	// Decrements on other pages than the owner's beyond what fits the list's record go first.
	flush_changes(index, strategy, sh, changes, n_changes, true, MAX_GENERIC_XLOG_PAGES - 1);
	Record r;
	record_start(index, &r);
	record_add(index, strategy, &r, owner_block);
	for (int i = 0; i < n_changes && r.n < MAX_GENERIC_XLOG_PAGES; i++)
		if (!changes[i].done && changes[i].delta < 0 && !record_has(&r, changes[i].block))
			record_add(index, strategy, &r, changes[i].block);
	for (int i = 0; i < n_changes && r.n < MAX_GENERIC_XLOG_PAGES; i++)
		if (!changes[i].done && !record_has(&r, changes[i].block))
			record_add(index, strategy, &r, changes[i].block);
	char *item = element_item(r.pages[0], sh, owner);
	if (item == NULL) {
		GenericXLogAbort(r.state);
		for (int i = 0; i < r.n; i++)
			UnlockReleaseBuffer(r.bufs[i]);
		report_corrupt(index, "element slot missing while its links change", owner);
	}
	if (links != NULL)
		RecordWriter(item).set_links0(links, n);
	record_apply(&r, sh, changes, n_changes, false);
	record_finish(&r);
	// New links on pages that did not fit.
	flush_changes(index, strategy, sh, changes, n_changes, false, 0);
}

void add_in_links(Relation index, const IndexShape &sh, uint32 id, int delta)
{
	CountChange change{id_block(id, sh.per_page), id, delta, false};
	flush_changes(index, NULL, sh, &change, 1, false, 0);
}

void write_links(Relation index, BufferAccessStrategy strategy, const IndexShape &sh, uint32 id, int level,
				 const uint32 *old_links, int n_old, const uint32 *links, int n, int owner_delta, uint32 counted_by_caller)
{
	if (level == 0) {
		write_links0(index, strategy, sh, id, old_links, n_old, links, n, owner_delta, counted_by_caller);
		return;
	}
	if (links == NULL)
		return;
	// The upper links item's place, from the element's header (kWriterLock keeps it).
	Buffer buf = ReadBufferExtended(index, MAIN_FORKNUM, id_block(id, sh.per_page), RBM_NORMAL, strategy);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	const char *item = element_item(BufferGetPage(buf), sh, id);
	if (item == NULL) {
		UnlockReleaseBuffer(buf);
		report_corrupt(index, "element slot missing while its links change", id);
	}
	RecordView element(item);
	BlockNumber ub = element.upper_block();
	OffsetNumber uoff = element.upper_offset();
	int elevel = element.level();
	UnlockReleaseBuffer(buf);
	write_upper_links(index, strategy, id, ub, uoff, elevel, sh, level, links, n);
}

}  // namespace hnsw
}  // namespace prism
