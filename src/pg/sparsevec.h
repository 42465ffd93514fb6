// The `sparsevec` datum (pgvector's layout, so binary dumps and the wire format match):
// varlena header, int32 dim, int32 nnz, int32 unused (0), nnz ascending 0-based int32 indices,
// then nnz non-zero float4 values. Helpers shared by the sparsevec type and operator files;
// error wording and SQLSTATEs follow pgvector.
#pragma once

// Core headers first: they refuse to be included after Postgres headers.
#include "core/sparsevec.h"

#include "pg/halfvec.h"

#define SPARSEVEC_MAX_DIM 1000000000
#define SPARSEVEC_MAX_NNZ 16000
static_assert(SPARSEVEC_MAX_DIM == prism::kSparsevecMaxDim && SPARSEVEC_MAX_NNZ == prism::kSparsevecMaxNnz,
			  "sparsevec limits disagree with core");

struct SparseVector {
	int32 vl_len_;	// varlena header (do not touch directly)
	int32 dim;
	int32 nnz;
	int32 unused;
	int32 indices[FLEXIBLE_ARRAY_MEMBER];
};

inline Size sparsevec_size(int nnz)
{
	return offsetof(SparseVector, indices) + (Size) nnz * (sizeof(int32) + sizeof(float));
}

inline float *sparsevec_values(SparseVector *v) { return (float *) (v->indices + v->nnz); }

inline prism::SparseView sparse_view(SparseVector *v)
{
	return prism::SparseView{v->dim, v->nnz, v->indices, sparsevec_values(v)};
}

#define DatumGetSparseVector(d) ((SparseVector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_SPARSEVEC_P(n) DatumGetSparseVector(PG_GETARG_DATUM(n))
#define PG_RETURN_SPARSEVEC_P(v) PG_RETURN_POINTER(v)

// ERROR unless 1 <= dim <= SPARSEVEC_MAX_DIM.
inline void check_sparsevec_dim(int64 dim)
{
	if (dim < 1)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("sparsevec must have at least 1 dimension")));
	if (dim > SPARSEVEC_MAX_DIM)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("sparsevec cannot have more than %d dimensions", SPARSEVEC_MAX_DIM)));
}

// ERROR unless 0 <= nnz <= min(SPARSEVEC_MAX_NNZ, dim).
inline void check_sparsevec_nnz(int64 nnz, int64 dim)
{
	if (nnz < 0)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
						errmsg("sparsevec cannot have negative number of elements")));
	if (nnz > SPARSEVEC_MAX_NNZ)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("sparsevec cannot have more than %d non-zero elements", SPARSEVEC_MAX_NNZ)));
	if (nnz > dim)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("sparsevec cannot have more elements than dimensions")));
}

// ERROR for NaN or infinite values.
inline void check_sparsevec_element(float value)
{
	if (std::isnan(value))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("NaN not allowed in sparsevec")));
	if (std::isinf(value))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("infinite value not allowed in sparsevec")));
}

// Allocates a zeroed sparsevec (dim and nnz checked) in CurrentMemoryContext.
SparseVector *new_sparsevec(int dim, int nnz);
