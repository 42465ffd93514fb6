// Sparse hnsw elements: encoding, kernels over handles, side-item chunks (see hnsw_sparse.h).
#include "core/hnsw_sparse.h"

#include <cmath>

namespace prism {
namespace hnsw {

bool encode_sparse_element(Metric metric, const SparseView &v, int32_t *pairs)
{
	float *vals = (float *) (pairs + v.nnz);
	if (v.nnz == 0)
		return metric != Metric::Cosine;  // (an empty view may hold null pointers)
	memcpy(pairs, v.indices, sizeof(int32_t) * (size_t) v.nnz);
	if (metric != Metric::Cosine) {
		memcpy(vals, v.values, sizeof(float) * (size_t) v.nnz);
		return true;
	}
	double sq = 0;
	for (int32_t i = 0; i < v.nnz; i++)
		sq += (double) v.values[i] * v.values[i];
	double norm = std::sqrt(sq);
	if (norm == 0)
		return false;
	for (int32_t i = 0; i < v.nnz; i++)
		vals[i] = (float) (v.values[i] / norm);
	return true;
}

static inline SparseView view_of(const void *words)
{
	SparseHandle h = sparse_handle(words);
	if (h.tag != kSparseHandleMemory || h.nnz == 0)
		return SparseView{0, 0, nullptr, nullptr};
	return sparse_handle_view(h);
}

float sparse_handle_l2sq(const void *a, const void *b, const void *)
{
	return sparse_l2sq(view_of(a), view_of(b));
}

float sparse_handle_dot(const void *a, const void *b, const void *)
{
	return sparse_dot(view_of(a), view_of(b));
}

float sparse_handle_l1(const void *a, const void *b, const void *)
{
	return sparse_l1(view_of(a), view_of(b));
}

int sparse_place(SparsePacker &p, uint32_t nnz, SparseChunkPlace *out, int max)
{
	const size_t lp = 4;  // a line pointer
	int n = 0;
	for (uint32_t first = 0; first < nnz && n < max;) {
		uint32_t count = sparse_chunk_pairs(p.pages > 0 && p.space >= lp ? p.space - lp : 0, nnz - first);
		if (count == 0) {
			p.pages++;
			p.items = 0;
			p.space = p.fresh_space;
			count = sparse_chunk_pairs(p.space - lp, nnz - first);
			if (count == 0)
				return n;  // cannot happen with a page's space; the caller checks the total
		}
		out[n++] = SparseChunkPlace{p.pages - 1, (uint16_t) (p.items + 1), first, count};
		p.items++;
		p.space -= sparse_chunk_size(count) + lp;
		first += count;
	}
	return n;
}

void sparse_chunk_write(const int32_t *pairs, uint32_t nnz, uint32_t first, uint32_t count, uint32_t next_block,
						uint16_t next_offset, void *out)
{
	SparseChunkHeader h{next_block, next_offset, 0, count, first};
	char *p = static_cast<char *>(out);
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), pairs + first, sizeof(int32_t) * count);
	memcpy(p + sizeof(h) + sizeof(int32_t) * count, pairs + nnz + first, sizeof(float) * count);
}

const char *sparse_chunk_header_fault(const void *item, size_t size, uint32_t first, uint32_t nnz)
{
	if (size < sizeof(SparseChunkHeader))
		return "sparse chunk is shorter than its header";
	SparseChunkHeader h;
	memcpy(&h, item, sizeof(h));
	if (h.first != first)
		return "sparse chunk is not the one its element continues with";
	if (h.count == 0 || first >= nnz || h.count > nnz - first)
		return "sparse chunk holds more non-zeros than its element";
	if (sparse_chunk_size(h.count) != size)
		return "sparse chunk size does not match its non-zeros";
	if ((first + h.count == nnz) != (h.next_block == kInvalidBlock))
		return "sparse chunk chain does not end with the element's last non-zero";
	return nullptr;
}

const char *sparse_chunk_fault(const void *item, size_t size, uint32_t first, uint32_t nnz, uint32_t dims,
							   int32_t prev, int32_t *last)
{
	const char *why = sparse_chunk_header_fault(item, size, first, nnz);
	if (why)
		return why;
	SparseChunkHeader h;
	memcpy(&h, item, sizeof(h));
	const char *p = static_cast<const char *>(item) + sizeof(h);
	for (uint32_t i = 0; i < h.count; i++) {
		int32_t ix;
		float v;
		memcpy(&ix, p + 4 * i, 4);
		memcpy(&v, p + 4 * ((size_t) h.count + i), 4);
		if (ix <= prev || ix < 0 || (uint32_t) ix >= dims)
			return "sparse element indices are not ascending within the dimensions";
		if (!std::isfinite(v))	// zero is possible: a tiny value normalized (cosine)
			return "sparse element value is not finite";
		prev = ix;
	}
	*last = prev;
	return nullptr;
}

void sparse_chunk_gather(const void *item, int32_t *idx, float *vals)
{
	SparseChunkHeader h;
	memcpy(&h, item, sizeof(h));
	const char *p = static_cast<const char *>(item) + sizeof(h);
	memcpy(idx + h.first, p, sizeof(int32_t) * h.count);
	memcpy(vals + h.first, p + sizeof(int32_t) * h.count, sizeof(float) * h.count);
}

}  // namespace hnsw
}  // namespace prism
