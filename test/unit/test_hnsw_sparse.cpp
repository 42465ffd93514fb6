// Sparse hnsw elements (src/core/hnsw_sparse.h): handles, encoding, the kernels against dense
// computations, chunk placement (the build's and an insert's rule) and the chunk codec with its
// checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/hnsw_element.h"
#include "core/hnsw_sparse.h"

namespace {

using namespace prism::hnsw;
using prism::SparseView;

struct Sparse {
	std::vector<int32_t> idx;
	std::vector<float> val;
	SparseView view(uint32_t dims) const { return SparseView{(int32_t) dims, (int32_t) idx.size(), idx.data(), val.data()}; }
	std::vector<float> dense(uint32_t dims) const
	{
		std::vector<float> d(dims, 0.0f);
		for (size_t i = 0; i < idx.size(); i++)
			d[idx[i]] = val[i];
		return d;
	}
};

Sparse random_sparse(std::mt19937 &rng, uint32_t dims, size_t nnz)
{
	Sparse s;
	std::vector<bool> used(dims, false);
	while (s.idx.size() < nnz) {
		int32_t k = (int32_t) (rng() % dims);
		if (!used[k]) {
			used[k] = true;
			s.idx.push_back(k);
		}
	}
	std::sort(s.idx.begin(), s.idx.end());
	std::uniform_real_distribution<float> v(-1.0f, 1.0f);
	for (size_t i = 0; i < nnz; i++) {
		float x = v(rng);
		s.val.push_back(x == 0 ? 0.5f : x);
	}
	return s;
}

// The element words of s encoded under metric (pairs kept alive by the caller).
SparseHandle encode(const Sparse &s, uint32_t dims, Metric metric, std::vector<int32_t> &pairs)
{
	pairs.assign(2 * s.idx.size() + 1, 0);
	EXPECT_TRUE(encode_sparse_element(metric, s.view(dims), pairs.data()));
	return sparse_memory_handle((uint32_t) s.idx.size(), pairs.data());
}

TEST(HnswSparse, WordsAndKind)
{
	EXPECT_EQ(element_words(ElementKind::Sparse, 1), kSparseHandleWords);
	EXPECT_EQ(element_words(ElementKind::Sparse, 1000000000), kSparseHandleWords);
	EXPECT_EQ(element_max_dims(ElementKind::Sparse), 1000000000u);
	EXPECT_STREQ(element_kind_name(ElementKind::Sparse), "sparsevec");
	EXPECT_EQ((int) kElementKindLast, 3);
	for (Metric m : {Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1})
		EXPECT_TRUE(element_metric_valid(ElementKind::Sparse, m));
	EXPECT_FALSE(element_metric_valid(ElementKind::Sparse, Metric::Hamming));
	int x = 5;
	SparseHandle h = sparse_memory_handle(7, &x);
	EXPECT_EQ(sparse_handle_pairs(h), (const int32_t *) &x);
	SparseHandle d = sparse_disk_handle(9, 1234567, 17);
	float words[4];
	memcpy(words, &d, sizeof(d));
	SparseHandle back = sparse_handle(words);
	EXPECT_EQ(back.tag, (uint32_t) kSparseHandleDisk);
	EXPECT_EQ(back.nnz, 9u);
	EXPECT_EQ(back.lo, 1234567u);
	EXPECT_EQ(back.hi, 17u);
}

// The graph distance of two encoded sparse elements equals the dense computation (l2 squared,
// -dot, 1 - cosine, l1), including elements with no common index and an empty one.
TEST(HnswSparse, KernelsMatchDense)
{
	std::mt19937 rng(5);
	const uint32_t dims = 300;
	for (int trial = 0; trial < 200; trial++) {
		Sparse a = random_sparse(rng, dims, 1 + rng() % 60), b = random_sparse(rng, dims, trial % 10 == 0 ? 0 : 1 + rng() % 60);
		std::vector<float> da = a.dense(dims), db = b.dense(dims);
		double l2 = 0, dot = 0, l1 = 0, na = 0, nb = 0;
		for (uint32_t i = 0; i < dims; i++) {
			l2 += (double) (da[i] - db[i]) * (da[i] - db[i]);
			dot += (double) da[i] * db[i];
			l1 += std::fabs((double) da[i] - db[i]);
			na += (double) da[i] * da[i];
			nb += (double) db[i] * db[i];
		}
		std::vector<int32_t> pa, pb;
		struct {
			Metric m;
			double want;
		} cases[] = {{Metric::L2, l2}, {Metric::InnerProduct, -dot}, {Metric::L1, l1}};
		for (auto &c : cases) {
			ElementSpace s = element_space(ElementKind::Sparse, c.m, dims);
			SparseHandle ha = encode(a, dims, c.m, pa), hb = encode(b, dims, c.m, pb);
			EXPECT_NEAR(element_distance(s, &ha, &hb), c.want, 1e-4 * (1 + std::fabs(c.want))) << "metric " << (int) c.m;
			EXPECT_FLOAT_EQ(element_distance(s, &ha, &hb), element_distance(s, &hb, &ha));
		}
		if (nb > 0) {
			ElementSpace s = element_space(ElementKind::Sparse, Metric::Cosine, dims);
			SparseHandle ha = encode(a, dims, Metric::Cosine, pa), hb = encode(b, dims, Metric::Cosine, pb);
			EXPECT_NEAR(element_distance(s, &ha, &hb), 1 - dot / std::sqrt(na * nb), 1e-5);
		}
	}
}

TEST(HnswSparse, ZeroUnderCosine)
{
	Sparse z;
	std::vector<int32_t> pairs(2);
	EXPECT_FALSE(encode_sparse_element(Metric::Cosine, z.view(10), pairs.data()));
	EXPECT_TRUE(encode_sparse_element(Metric::L2, z.view(10), pairs.data()));
	// an empty handle (a zero query) is at cosine distance 1 from everything, l2 = |x|^2
	std::mt19937 rng(1);
	Sparse a = random_sparse(rng, 50, 5);
	std::vector<int32_t> pa;
	SparseHandle ha = encode(a, 50, Metric::Cosine, pa);
	SparseHandle empty{0, 0, 0, 0};
	EXPECT_FLOAT_EQ(element_distance(element_space(ElementKind::Sparse, Metric::Cosine, 50), &empty, &ha), 1.0f);
	SparseHandle hl = encode(a, 50, Metric::L2, pa);
	float sq = 0;
	for (float v : a.val)
		sq += v * v;
	EXPECT_NEAR(element_distance(element_space(ElementKind::Sparse, Metric::L2, 50), &empty, &hl), sq, 1e-5);
}

// A page of Postgres' geometry: 8,160 bytes between pd_lower and pd_upper when new.
constexpr size_t kFresh = 8160;

// Places elements of many sizes as the build does: chunks cover each element in order, every
// page's items fit its space, line pointers count up from 1 per page, and only elements too big
// for what is left of a page are split, never into slivers.
TEST(HnswSparse, PlacementFitsPages)
{
	std::mt19937 rng(9);
	SparsePacker p = sparse_packer(false, 0, 0, kFresh);
	std::vector<size_t> used;	// bytes (items + line pointers) per page
	std::vector<uint32_t> items;
	for (int e = 0; e < 2000; e++) {
		uint32_t nnz = e % 100 == 0 ? kSparseMaxIndexNnz : 1 + rng() % 400;
		SparseChunkPlace pl[kSparseMaxChunks];
		int n = sparse_place(p, nnz, pl, kSparseMaxChunks);
		ASSERT_GT(n, 0);
		uint32_t next_first = 0;
		for (int i = 0; i < n; i++) {
			EXPECT_EQ(pl[i].first, next_first);
			next_first += pl[i].count;
			if (pl[i].page >= used.size()) {
				EXPECT_EQ(pl[i].page, used.size());	 // pages open in order
				used.push_back(0);
				items.push_back(0);
			}
			EXPECT_EQ(pl[i].offset, items[pl[i].page] + 1);
			items[pl[i].page]++;
			used[pl[i].page] += sparse_chunk_size(pl[i].count) + 4;
			EXPECT_LE(used[pl[i].page], kFresh);
			if (i + 1 < n) {
				EXPECT_GE(pl[i].count, kSparseMinChunkPairs);
			}
			if (i > 0) {
				EXPECT_EQ(pl[i].page, pl[i - 1].page + 1);
			}
		}
		EXPECT_EQ(next_first, nnz);
		if (nnz == kSparseMaxIndexNnz) {
			EXPECT_LE(n, 17);
		}
	}
	// an existing page with no room left: the next chunk opens page 1 (not 0 again)
	SparsePacker full = sparse_packer(true, 32, 0, kFresh);
	SparseChunkPlace pl[kSparseMaxChunks];
	ASSERT_EQ(sparse_place(full, 10, pl, kSparseMaxChunks), 1);
	EXPECT_EQ(pl[0].page, 1u);
	EXPECT_EQ(pl[0].offset, 1);
	// room for 40 of 100 non-zeros: split there; room for 10: the element starts a new page
	SparsePacker some = sparse_packer(true, 3, sparse_chunk_size(40) + 4, kFresh);
	ASSERT_EQ(sparse_place(some, 100, pl, kSparseMaxChunks), 2);
	EXPECT_EQ(pl[0].page, 0u);
	EXPECT_EQ(pl[0].offset, 4);
	EXPECT_EQ(pl[0].count, 40u);
	EXPECT_EQ(pl[1].count, 60u);
	SparsePacker little = sparse_packer(true, 3, sparse_chunk_size(10) + 4, kFresh);
	ASSERT_EQ(sparse_place(little, 100, pl, kSparseMaxChunks), 1);
	EXPECT_EQ(pl[0].page, 1u);
}

// Chunks written and gathered give back the element; the checks catch what a damaged chunk
// would make a read do wrong.
TEST(HnswSparse, ChunkCodecAndChecks)
{
	std::mt19937 rng(3);
	const uint32_t dims = 100000;
	Sparse s = random_sparse(rng, dims, 2500);
	std::vector<int32_t> pairs;
	SparseHandle h = encode(s, dims, Metric::L2, pairs);
	SparsePacker p = sparse_packer(false, 0, 0, kFresh);
	SparseChunkPlace pl[kSparseMaxChunks];
	int n = sparse_place(p, h.nnz, pl, kSparseMaxChunks);
	ASSERT_EQ(n, 3);
	std::vector<std::vector<char>> chunks(n);
	std::vector<int32_t> idx(h.nnz);
	std::vector<float> val(h.nnz);
	int32_t prev = -1;
	for (int i = 0; i < n; i++) {
		chunks[i].resize(sparse_chunk_size(pl[i].count));
		sparse_chunk_write(pairs.data(), h.nnz, pl[i].first, pl[i].count, i + 1 < n ? 7u + i : kInvalidBlock, i + 1 < n ? 1 : 0,
						   chunks[i].data());
		int32_t last;
		EXPECT_EQ(sparse_chunk_fault(chunks[i].data(), chunks[i].size(), pl[i].first, h.nnz, dims, prev, &last), nullptr);
		EXPECT_EQ(sparse_chunk_header_fault(chunks[i].data(), chunks[i].size(), pl[i].first, h.nnz), nullptr);
		prev = last;
		sparse_chunk_gather(chunks[i].data(), idx.data(), val.data());
	}
	EXPECT_EQ(idx, s.idx);
	EXPECT_EQ(val, s.val);

	std::vector<char> c = chunks[1];
	int32_t last;
	int32_t end_of_first = s.idx[pl[0].count - 1];
	EXPECT_NE(sparse_chunk_header_fault(c.data(), c.size(), 0, h.nnz), nullptr);				// not the first chunk
	EXPECT_NE(sparse_chunk_header_fault(c.data(), c.size() - 8, pl[1].first, h.nnz), nullptr);	// size
	EXPECT_NE(sparse_chunk_header_fault(c.data(), c.size(), pl[1].first, pl[1].first + pl[1].count), nullptr);	 // chain
	EXPECT_NE(sparse_chunk_header_fault(c.data(), 8, pl[1].first, h.nnz), nullptr);
	EXPECT_NE(sparse_chunk_fault(c.data(), c.size(), pl[1].first, h.nnz, dims, s.idx.back(), &last), nullptr);  // order
	EXPECT_NE(sparse_chunk_fault(c.data(), c.size(), pl[1].first, h.nnz, 10, end_of_first, &last), nullptr);	  // dims
	int32_t swapped[2];
	memcpy(swapped, c.data() + sizeof(SparseChunkHeader), 8);
	std::swap(swapped[0], swapped[1]);
	memcpy(c.data() + sizeof(SparseChunkHeader), swapped, 8);
	EXPECT_NE(sparse_chunk_fault(c.data(), c.size(), pl[1].first, h.nnz, dims, end_of_first, &last), nullptr);
	c = chunks[1];
	float inf = INFINITY;
	memcpy(c.data() + sizeof(SparseChunkHeader) + 4 * pl[1].count, &inf, 4);
	EXPECT_NE(sparse_chunk_fault(c.data(), c.size(), pl[1].first, h.nnz, dims, end_of_first, &last), nullptr);
}

}  // namespace
