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

// Pins and share-locks the first page of element `id`; returns the item or NULL if the slot
// does not exist (yet). The caller unlocks and releases *buf.
static const char *lock_element(PgStore *s, uint32 id, Buffer *buf)
{
	const IndexShape *sh = s->shape;
	BlockNumber block = id_block(id, sh->per_page);
	if (block == kMetaBlock || block >= s->nblocks) {
		s->nblocks = RelationGetNumberOfBlocks(s->index);
		if (block == kMetaBlock || block >= s->nblocks)
			report_corrupt(s->index, "neighbour id beyond the end of the index", id);
	}
	*buf = ReadBuffer(s->index, block);
	s->pages_read++;
	LockBuffer(*buf, BUFFER_LOCK_SHARE);
	Page page = BufferGetPage(*buf);
	if (PageIsNew(page) || page_opaque(page)->kind != kPageElement) {
		UnlockReleaseBuffer(*buf);
		report_corrupt(s->index, "element id points to a page that holds no elements", id);
	}
	OffsetNumber off = id_slot(id, sh->per_page) + 1;
	if (off > PageGetMaxOffsetNumber(page))
		return NULL;
	ItemId iid = PageGetItemId(page, off);
	size_t expect = sh->span > 1 ? sh->chunk : sh->record_size;
	if (!ItemIdIsUsed(iid) || ItemIdGetLength(iid) != expect) {
		UnlockReleaseBuffer(*buf);
		report_corrupt(s->index, "element item has the wrong size", id);
	}
	return (const char *) PageGetItem(page, iid);
}

// Copies the vector of a record that spans pages into s->scratch (first chunk is locked in buf).
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
		Buffer b = ReadBuffer(s->index, id_block(id, sh->per_page) + p);
		s->pages_read++;
		LockBuffer(b, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(b);
		if (PageIsNew(page) || page_opaque(page)->kind != kPageContinuation || PageGetMaxOffsetNumber(page) < 1) {
			UnlockReleaseBuffer(b);
			report_corrupt(s->index, "missing continuation page", id);
		}
		ItemId iid = PageGetItemId(page, 1);
		size_t n = Min(total - copied, (size_t) ItemIdGetLength(iid));
		memcpy(dst + copied, PageGetItem(page, iid), n);
		copied += n;
		UnlockReleaseBuffer(b);
	}
	return s->scratch;
}

float PgStore::distance(uint32_t id, const float *q, uint8_t *flags)
{
	Buffer buf;
	const char *item = lock_element(this, id, &buf);
	if (!item) {
		UnlockReleaseBuffer(buf);
		*flags = kElementFree;
		return INFINITY;
	}
	const ElementHeader *h = (const ElementHeader *) item;
	*flags = h->flags;
	float d;
	if (h->flags == kElementFree)
		d = INFINITY;
	else if (shape->span == 1)
		d = metric_distance(*shape, q, (const float *) (item + vector_offset(shape->m)));
	else
		d = metric_distance(*shape, q, gather_vector(this, id, item));
	UnlockReleaseBuffer(buf);
	return d;
}

void PgStore::vector(uint32_t id, float *out)
{
	Buffer buf;
	const char *item = lock_element(this, id, &buf);
	if (!item) {
		UnlockReleaseBuffer(buf);
		report_corrupt(index, "element slot does not exist", id);
	}
	if (shape->span == 1)
		memcpy(out, item + vector_offset(shape->m), sizeof(float) * shape->dims);
	else
		memcpy(out, gather_vector(this, id, item), sizeof(float) * shape->dims);
	UnlockReleaseBuffer(buf);
}

int PgStore::links(uint32_t id, int level, uint32_t *out)
{
	Buffer buf;
	const char *item = lock_element(this, id, &buf);
	if (!item) {
		UnlockReleaseBuffer(buf);
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
		UnlockReleaseBuffer(buf);
		if (ub >= nblocks && (nblocks = RelationGetNumberOfBlocks(index)) <= ub)
			report_corrupt(index, "upper links beyond the end of the index", id);
		buf = ReadBuffer(index, ub);
		pages_read++;
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		Page page = BufferGetPage(buf);
		if (PageIsNew(page) || page_opaque(page)->kind != kPageUpper || uoff < 1 || uoff > PageGetMaxOffsetNumber(page) ||
			ItemIdGetLength(PageGetItemId(page, uoff)) != upper_item_size(shape->m, elevel)) {
			UnlockReleaseBuffer(buf);
			report_corrupt(index, "bad upper link item", id);
		}
		const char *up = (const char *) PageGetItem(page, PageGetItemId(page, uoff));
		const uint16 *counts = (const uint16 *) up;
		const uint32 *links = (const uint32 *) (up + ((sizeof(uint16) * elevel + 3) & ~size_t(3)));
		n = Min((int) counts[level - 1], shape->m);
		memcpy(out, links + (size_t) (level - 1) * shape->m, sizeof(uint32) * n);
	}
	UnlockReleaseBuffer(buf);
	return n;
}

bool store_element(PgStore *s, uint32 id, ElementHeader *hdr)
{
	Buffer buf;
	const char *item = lock_element(s, id, &buf);
	if (item)
		memcpy(hdr, item, sizeof(ElementHeader));
	UnlockReleaseBuffer(buf);
	return item != NULL;
}

}  // namespace hnsw
}  // namespace prism
