// The buffer-backed graph store: reads element records and link lists from index pages.
// Every access pins the page, takes a shared content lock, copies or computes what it needs,
// and releases both before returning, so a scan never holds more than one buffer lock.
#include <cmath>

#include "pg/hnsw.h"

namespace prism {
namespace hnsw {

void store_init(PgStore *s, Relation index, const IndexShape *shape)
{
	s->index = index;
	s->shape = shape;
	s->nblocks = RelationGetNumberOfBlocks(index);
	s->scratch = shape->span > 1 ? (float *) palloc(sizeof(float) * shape->dims) : NULL;
	s->pages_read = 0;
	s->writer = false;
}

// Backend-local hint: which shared buffer last held each block of the most recently searched
// index. ReadRecentBuffer re-pins it without the buffer-mapping hash lookup and its partition
// lock, which dominate a search over cached pages. A stale hint just falls back to ReadBuffer.
static RelFileNode hint_node;
static Buffer *hint_buffers;
static uint32 hint_capacity;

static Buffer read_block(PgStore *s, BlockNumber block)
{
	Relation index = s->index;
	if (RelationUsesLocalBuffers(index))
		return ReadBuffer(index, block);  // hints are for shared buffers only
	if (!RelFileNodeEquals(hint_node, index->rd_node) || block >= hint_capacity) {
		if (!RelFileNodeEquals(hint_node, index->rd_node) || hint_capacity < s->nblocks + 1) {
			uint32 cap = Max((uint32) s->nblocks + 1024, block + 1024);
			if (hint_buffers)
				pfree(hint_buffers);
			hint_buffers = (Buffer *) MemoryContextAllocExtended(TopMemoryContext, sizeof(Buffer) * cap,
																 MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
			hint_capacity = cap;
			hint_node = index->rd_node;
		}
		if (block >= hint_capacity)
			return ReadBuffer(index, block);
	}
	Buffer hint = hint_buffers[block];
	if (hint != InvalidBuffer && ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, block, hint))
		return hint;
	Buffer buf = ReadBuffer(index, block);
	hint_buffers[block] = buf;
	return buf;
}

// Pins `block` for one access. A store keeps no pins between accesses: holding hundreds sends
// every pin and unpin through the backend's private refcount hash (its array holds 8), which
// measured 10-25% more CPU per search than re-pinning through the buffer hints.
static Buffer pin_block(PgStore *s, BlockNumber block)
{
	s->pages_read++;
	return read_block(s, block);
}

static void unlock_block(Buffer buf, bool locked)
{
	if (locked)
		LockBuffer(buf, BUFFER_LOCK_UNLOCK);
	ReleaseBuffer(buf);
}

bool PgStore::grow(CandidateArray &a, size_t need)
{
	size_t cap = a.capacity * 2 > need ? a.capacity * 2 : need;
	a.items = (Candidate *) repalloc_huge(a.items, cap * sizeof(Candidate));
	a.capacity = cap;
	return true;
}

void init_candidates(CandidateArray *a, size_t capacity)
{
	a->items = (Candidate *) palloc(capacity * sizeof(Candidate));
	a->size = 0;
	a->capacity = capacity;
}

struct Locked {
	Buffer buf;
	bool locked;
};

static void unlock(const Locked &l) { unlock_block(l.buf, l.locked); }

// Share-locks a pinned page unless this backend holds the writer lock: then no one else can
// change index pages, and a pin alone keeps the page in place.
static void lock_shared(PgStore *s, Locked *l)
{
	l->locked = !s->writer;
	if (l->locked)
		LockBuffer(l->buf, BUFFER_LOCK_SHARE);
}

// Share-locks the first page of element `id`; returns the item or NULL if the slot does not
// exist (yet). The caller calls unlock(*l) in both cases.
static const char *lock_element(PgStore *s, uint32 id, Locked *l)
{
	const IndexShape *sh = s->shape;
	BlockNumber block = id_block(id, sh->per_page);
	if (block == kMetaBlock || block >= s->nblocks) {
		s->nblocks = RelationGetNumberOfBlocks(s->index);
		if (block == kMetaBlock || block >= s->nblocks)
			report_corrupt(s->index, "neighbour id beyond the end of the index", id);
	}
	l->buf = pin_block(s, block);
	lock_shared(s, l);
	// The checks below read only the page header, the line pointer and the record header (the
	// cache lines the visit needs anyway); the page-kind word at the end of the page is
	// consulted only when they fail, to word the error.
	Page page = BufferGetPage(l->buf);
	OffsetNumber off = id_slot(id, sh->per_page) + 1;
	if (PageIsNew(page) || off > PageGetMaxOffsetNumber(page)) {
		if (!PageIsNew(page) && page_opaque(page)->kind == kPageElement)
			return NULL;  // slot not written yet
		unlock(*l);
		report_corrupt(s->index, "element id points to a page that holds no elements", id);
	}
	ItemId iid = PageGetItemId(page, off);
	size_t expect = sh->span > 1 ? sh->chunk : sh->record_size;
	if (!ItemIdIsUsed(iid) || ItemIdGetLength(iid) != expect || ItemIdGetOffset(iid) + expect > BLCKSZ) {
		unlock(*l);
		report_corrupt(s->index, "element item has the wrong size", id);
	}
	const ElementHeader *h = (const ElementHeader *) PageGetItem(page, iid);
	if (h->flags > kElementDuplicate || h->level > kMaxLevel || h->n_links0 > 2 * sh->m ||
		h->n_tids > kHeapTidsPerElement) {
		unlock(*l);
		report_corrupt(s->index, "element header is invalid", id);
	}
	return (const char *) h;
}

// Copies the vector of a record that spans pages into s->scratch (first chunk is locked).
static const float *gather_vector(PgStore *s, uint32 id, const char *item)
{
	const IndexShape *sh = s->shape;
	size_t voff = vector_offset(sh->m);
	size_t total = sizeof(float) * sh->dims;
	size_t first = sh->chunk - voff;
	char *dst = (char *) s->scratch;
	memcpy(dst, item + voff, first);
	size_t copied = first;
	for (uint32 p = 1; copied < total; p++) {
		Locked l;
		l.buf = pin_block(s, id_block(id, sh->per_page) + p);
		lock_shared(s, &l);
		Page page = BufferGetPage(l.buf);
		if (PageIsNew(page) || page_opaque(page)->kind != kPageContinuation || PageGetMaxOffsetNumber(page) < 1) {
			unlock(l);
			report_corrupt(s->index, "missing continuation page", id);
		}
		ItemId iid = PageGetItemId(page, 1);
		size_t n = Min(total - copied, (size_t) ItemIdGetLength(iid));
		memcpy(dst + copied, PageGetItem(page, iid), n);
		copied += n;
		unlock(l);
	}
	return s->scratch;
}

// Starts loading the cache lines of element `id` if its page is (probably) in the buffer the
// hint names. Touches no locks or pins: a stale hint only wastes the prefetch.
void PgStore::prefetch(uint32_t id)
{
	BlockNumber block = id_block(id, shape->per_page);
	if (block >= hint_capacity || !RelFileNodeEquals(hint_node, index->rd_node))
		return;
	Buffer b = hint_buffers[block];
	if (b <= 0 || RelationUsesLocalBuffers(index))
		return;
	const char *page = (const char *) BufferGetBlock(b);
	__builtin_prefetch(page);
	// Element pages are filled from the end: slot k sits below k earlier records.
	uint32 slot = id_slot(id, shape->per_page);
	size_t rec = MAXALIGN(shape->span > 1 ? shape->chunk : shape->record_size);
	size_t end = BLCKSZ - MAXALIGN(sizeof(PageOpaque));
	if ((slot + 1) * rec > end)
		return;
	const char *r = page + end - (slot + 1) * rec;
	for (size_t off = 0; off < Min(rec, (size_t) 512); off += 64)
		__builtin_prefetch(r + off);
}

float PgStore::distance(uint32_t id, const float *q, uint8_t *flags)
{
	Locked l;
	const char *item = lock_element(this, id, &l);
	if (!item) {
		unlock(l);
		*flags = kElementFree;
		return INFINITY;
	}
	const ElementHeader *h = (const ElementHeader *) item;
	*flags = h->flags;
	float d;
	if (h->flags == kElementFree || h->flags == kElementDuplicate)
		d = INFINITY;
	else if (shape->span == 1)
		d = metric_distance(*shape, q, (const float *) (item + vector_offset(shape->m)));
	else
		d = metric_distance(*shape, q, gather_vector(this, id, item));
	unlock(l);
	return d;
}

void PgStore::vector(uint32_t id, float *out)
{
	Locked l;
	const char *item = lock_element(this, id, &l);
	if (!item) {
		unlock(l);
		report_corrupt(index, "element slot does not exist", id);
	}
	if (shape->span == 1)
		memcpy(out, item + vector_offset(shape->m), sizeof(float) * shape->dims);
	else
		memcpy(out, gather_vector(this, id, item), sizeof(float) * shape->dims);
	unlock(l);
}

uint8_t PgStore::vector_flags(uint32_t id, float *out)
{
	Locked l;
	const char *item = lock_element(this, id, &l);
	if (!item) {
		unlock(l);
		return kElementFree;
	}
	uint8_t flags = ((const ElementHeader *) item)->flags;
	if (flags == kElementLive || flags == kElementDeleted) {
		if (shape->span == 1)
			memcpy(out, item + vector_offset(shape->m), sizeof(float) * shape->dims);
		else
			memcpy(out, gather_vector(this, id, item), sizeof(float) * shape->dims);
	}
	unlock(l);
	return flags;
}

int PgStore::links(uint32_t id, int level, uint32_t *out)
{
	Locked l;
	const char *item = lock_element(this, id, &l);
	if (!item) {
		unlock(l);
		return 0;
	}
	const ElementHeader *h = (const ElementHeader *) item;
	int n = 0;
	if (h->flags == kElementFree || h->flags == kElementDuplicate || level > h->level) {
		n = 0;
	} else if (level == 0) {
		n = Min((int) h->n_links0, max_links(shape->m, 0));
		memcpy(out, item + links0_offset(), sizeof(uint32) * n);
	} else {
		BlockNumber ub = h->upper_block;
		OffsetNumber uoff = h->upper_offset;
		int elevel = h->level;
		unlock(l);
		if (ub >= nblocks && (nblocks = RelationGetNumberOfBlocks(index)) <= ub)
			report_corrupt(index, "upper links beyond the end of the index", id);
		l.buf = pin_block(this, ub);
		lock_shared(this, &l);
		Page page = BufferGetPage(l.buf);
		if (PageIsNew(page) || page_opaque(page)->kind != kPageUpper || uoff < 1 || uoff > PageGetMaxOffsetNumber(page) ||
			ItemIdGetLength(PageGetItemId(page, uoff)) != upper_item_size(shape->m, elevel)) {
			unlock(l);
			report_corrupt(index, "bad upper link item", id);
		}
		const char *up = (const char *) PageGetItem(page, PageGetItemId(page, uoff));
		const uint16 *counts = (const uint16 *) up;
		const uint32 *links = (const uint32 *) (up + ((sizeof(uint16) * elevel + 3) & ~size_t(3)));
		n = Min((int) counts[level - 1], shape->m);
		memcpy(out, links + (size_t) (level - 1) * shape->m, sizeof(uint32) * n);
	}
	unlock(l);
	return n;
}

bool store_element(PgStore *s, uint32 id, ElementHeader *hdr)
{
	Locked l;
	const char *item = lock_element(s, id, &l);
	if (item)
		memcpy(hdr, item, sizeof(ElementHeader));
	unlock(l);
	return item != NULL;
}

}  // namespace hnsw
}  // namespace prism
