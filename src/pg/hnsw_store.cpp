// The buffer-backed graph store: reads element records and link lists from index pages.
// Every access pins the page, takes a shared content lock, copies or computes what it needs,
// and releases both before returning, so a scan never holds more than one buffer lock.
#include <cmath>

#include "pg/block_hints.h"
#include "pg/hnsw.h"
#include "pg/hnsw_sparse.h"

extern "C" {
#include "pgstat.h"
#include "storage/buf_internals.h"	// GetBufferDescriptor, to prefetch buffer headers
}

namespace prism {
namespace hnsw {

void store_init(PgStore *s, Relation index, const IndexShape *shape)
{
	s->index = index;
	s->shape = shape;
	s->nblocks = RelationGetNumberOfBlocks(index);
	s->scratch = shape->span > 1 ? (float *) palloc(sizeof(float) * shape->words) : NULL;
	s->pages_read = 0;
	s->writer = false;
	s->sparse = shape->element == ElementKind::Sparse ? sparse_reads_new() : NULL;
}

// Pins `block` for one access. A store keeps no pins between accesses: holding hundreds sends
// every pin and unpin through the backend's private refcount hash (its array holds 8), which
// measured 10-25% more CPU per search than re-pinning through the buffer hints.
static Buffer pin_block(PgStore *s, BlockNumber block)
{
	s->pages_read++;
	return read_hinted(s->index, block, s->nblocks);
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
	// cache lines the visit needs anyway): the invariants of the page checker for this record.
	// The page-kind word at the end of the page is consulted only when they fail, to word the
	// error (from the whole page, under the lock: the ERROR releases it).
	const unsigned char *page = (const unsigned char *) BufferGetPage(l->buf);
	uint32 off = id_slot(id, sh->per_page) + 1;
	if (pg_page::is_new(page) || off > pg_page::item_count(page)) {
		if (!pg_page::is_new(page) && pg_page::kind(page) == kPageElement)
			return NULL;  // slot not written yet
		report_bad_record(s->index, *sh, block, (Page) page, id, "element id points to a page that holds no elements");
	}
	const unsigned char *rec = pg_page::item_at(page, off, sh->span > 1 ? sh->chunk : sh->record_size);
	if (rec == NULL || element_header_fault(RecordView(rec), sh->m) != NULL)
		report_bad_record(s->index, *sh, block, (Page) page, id, "element record is invalid");
	return (const char *) rec;
}

// Copies the vector of a record that spans pages into s->scratch (first chunk is locked).
static const float *gather_vector(PgStore *s, uint32 id, const char *item)
{
	const IndexShape *sh = s->shape;
	ElementGather gather(s->scratch, sh->m, sh->words, sh->record_size, sh->chunk);
	gather.first(item);
	for (uint32 p = 1; gather.more(); p++) {
		Locked l;
		if (id_block(id, sh->per_page) + p >= s->nblocks &&
			(s->nblocks = RelationGetNumberOfBlocks(s->index)) <= id_block(id, sh->per_page) + p) {
			char what[100];
			snprintf(what, sizeof(what), "the record of element %u continues past the end of the index", id);
			report_corrupt_page(s->index, id_block(id, sh->per_page), what);
		}
		l.buf = pin_block(s, id_block(id, sh->per_page) + p);
		lock_shared(s, &l);
		BlockNumber b = id_block(id, sh->per_page) + p;
		const unsigned char *page = (const unsigned char *) BufferGetPage(l.buf);
		size_t want = gather.chunk_length(p);
		const unsigned char *part = NULL;
		if (!pg_page::is_new(page) && pg_page::kind(page) == kPageContinuation && pg_page::item_count(page) == 1)
			part = pg_page::item_at(page, 1, want);
		if (part == NULL) {
			BlockNumber nblocks = RelationGetNumberOfBlocks(s->index);
			verify_page(s->index, *sh, b, (Page) page, &nblocks, kPageContinuation);
			report_bad_record(s->index, *sh, b, (Page) page, id, "continuation item has the wrong size");
		}
		gather.add(p, part);
		unlock(l);
	}
	return s->scratch;
}

// Starts loading the cache lines of element `id` if its page is (probably) in the buffer the
// hint names. Touches no locks or pins: a stale hint only wastes the prefetch.
void PgStore::prefetch(uint32_t id)
{
	BlockNumber block = id_block(id, shape->per_page);
	Buffer b = hinted_buffer(index, block);
	if (b <= 0)
		return;
	// The buffer header too: pinning and share-locking the page touch it first, and on a large
	// shared_buffers it is a cache miss of its own (measured ~12% of a search in LockBufHdr).
	__builtin_prefetch(GetBufferDescriptor(b - 1), 1);
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
	RecordView r(item);
	*flags = r.flags();
	float d;
	if (!r.in_graph())
		d = INFINITY;
	else if (sparse) {
		// the record holds a handle to its side item: read that after releasing the record
		SparseHandle elem = sparse_handle(r.element(shape->m));
		unlock(l);
		return sparse_distance(this, id, elem, q);
	}
	else if (shape->span == 1)
		d = metric_distance(*shape, q, r.element(shape->m));
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
		memcpy(out, RecordView(item).element(shape->m), sizeof(float) * shape->words);
	else
		memcpy(out, gather_vector(this, id, item), sizeof(float) * shape->words);
	unlock(l);
}

uint8_t PgStore::vector_flags(uint32_t id, float *out, uint16_t *in_links0)
{
	Locked l;
	const char *item = lock_element(this, id, &l);
	if (!item) {
		unlock(l);
		return kElementFree;
	}
	RecordView r(item);
	uint8_t flags = r.flags();
	if (in_links0)
		*in_links0 = r.in_links0();
	if (r.in_graph()) {
		if (shape->span == 1)
			memcpy(out, r.element(shape->m), sizeof(float) * shape->words);
		else
			memcpy(out, gather_vector(this, id, item), sizeof(float) * shape->words);
	}
	unlock(l);
	return flags;
}

// Ids handed out by links() lie inside the index (searches index visited sets with them).
// id_in_range as one unsigned compare per id (ids below per_page wrap around), four ids at a
// time (SSE2 through GCC vector types): about ten instructions per list on the scan's hot path.
static inline bool link_ids_in_range(const PgStore *s, const uint32 *ids, int n)
{
	typedef uint32 V4 __attribute__((vector_size(16)));
	uint32 pp = s->shape->per_page;
	uint32 span = (uint32) Min((uint64) s->nblocks * pp, (uint64) kInvalidId) - pp;
	V4 vpp = {pp, pp, pp, pp}, vspan = {span, span, span, span}, acc = {0, 0, 0, 0};
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		V4 x;
		memcpy(&x, ids + i, sizeof(x));
		acc |= (V4) ((x - vpp) >= vspan);
	}
	uint32 bad = acc[0] | acc[1] | acc[2] | acc[3];
	for (; i < n; i++)
		bad |= (uint32) (ids[i] - pp) >= span;
	return bad == 0;
}

// An id of the list is past the known length: re-checked against a fresh one, then the page
// holding the list is reported.
static void __attribute__((cold, noinline)) check_link_ids(PgStore *s, BlockNumber block, Page page, const uint32 *ids,
														   int n)
{
	const IndexShape *sh = s->shape;
	s->nblocks = RelationGetNumberOfBlocks(s->index);
	for (int i = 0; i < n; i++)
		if (!id_in_range(ids[i], sh->per_page, s->nblocks)) {
			PageCheck c;
			BlockNumber nblocks = s->nblocks;
			if (!check_index_page(s->index, *sh, block, page, &nblocks, &c))
				report_corrupt_page(s->index, block, c.what);
			char what[120];
			snprintf(what, sizeof(what), "a link to element %u, beyond the %u blocks of the index", ids[i], s->nblocks);
			report_corrupt_page(s->index, block, what);
		}
}

int PgStore::links(uint32_t id, int level, uint32_t *out)
{
	Locked l;
	const char *item = lock_element(this, id, &l);
	if (!item) {
		unlock(l);
		return 0;
	}
	RecordView r(item);
	int n = 0;
	if (!r.in_graph() || level > r.level()) {
		n = 0;
	} else if (level == 0) {
		n = r.copy_links0(out);	 // <= 2 * m: lock_element checked the header
		if (unlikely(!link_ids_in_range(this, out, n)))
			check_link_ids(this, id_block(id, shape->per_page), BufferGetPage(l.buf), out, n);
	} else {
		BlockNumber ub = r.upper_block();
		OffsetNumber uoff = r.upper_offset();
		int elevel = r.level();
		// Upper links on the element's own page (the bulk build puts them there when they fit)
		// are read under the lock already held.
		if (ub != id_block(id, shape->per_page)) {
			unlock(l);
			if (ub == kMetaBlock || (ub >= nblocks && (nblocks = RelationGetNumberOfBlocks(index)) <= ub)) {
				char what[120];
				snprintf(what, sizeof(what), "element %u has its upper links at block %u, the index has %u blocks", id,
						 ub, nblocks);
				report_corrupt_page(index, id_block(id, shape->per_page), what);
			}
			l.buf = pin_block(this, ub);
			lock_shared(this, &l);
		}
		const unsigned char *page = (const unsigned char *) BufferGetPage(l.buf);
		const unsigned char *up = NULL;
		uint16 kind = pg_page::is_new(page) ? 0 : pg_page::kind(page);
		if (upper_item_home(kind, uoff, shape->per_page) && uoff >= 1 && uoff <= pg_page::item_count(page))
			up = pg_page::item_at(page, uoff, upper_item_size(shape->m, elevel));
		int count = up != NULL ? UpperView(up, elevel, shape->m).count(level) : 0;
		if (up == NULL || count > shape->m) {
			BlockNumber nb = nblocks;
			verify_page(index, *shape, ub, (Page) page, &nb, kind == kPageElement ? kPageElement : kPageUpper);
			report_bad_record(index, *shape, ub, (Page) page, id, "upper links item does not match its element");
		}
		n = count;
		UpperView(up, elevel, shape->m).copy_links(level, n, out);
		if (unlikely(!link_ids_in_range(this, out, n)))
			check_link_ids(this, ub, (Page) page, out, n);
	}
	unlock(l);
	return n;
}

void count_chain_step(PgStore *s, uint64 *steps, uint32 head)
{
	if (++*steps <= (uint64) s->nblocks * s->shape->per_page)
		return;
	s->nblocks = RelationGetNumberOfBlocks(s->index);  // the index may have grown meanwhile
	if (*steps > (uint64) s->nblocks * s->shape->per_page)
		report_corrupt(s->index, "broken duplicate chain (a cycle)", head);
}

uint16 PgGraphReads::stored_in_links(uint32 id)
{
	ElementHeader h;
	return store_element(store, id, &h) ? h.in_links0 : 0;
}

bool store_element(PgStore *s, uint32 id, ElementHeader *hdr)
{
	Locked l;
	const char *item = lock_element(s, id, &l);
	if (item)
		*hdr = RecordView(item).header();
	unlock(l);
	return item != NULL;
}

}  // namespace hnsw
}  // namespace prism
