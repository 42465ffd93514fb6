// Operators and functions on `sparsevec`: the four distances (merges over the sorted non-zeros
// in core/sparsevec.cpp), the norm, normalization, and comparisons with the btree support
// function.
#include "core/sparsevec.h"

#include "pg/boundary.h"
#include "pg/sparsevec.h"

#define GET_TWO_SPARSEVECS(a, b)                                                               \
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);                                                \
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);                                                \
	if (a->dim != b->dim)                                                                      \
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),                                       \
						errmsg("different sparsevec dimensions %d and %d", a->dim, b->dim)));  \
	prism::SparseView a##_view = sparse_view(a), b##_view = sparse_view(b)

// Distances accumulate in float (as pgvector does) and are returned as float8.

PRISM_FUNCTION(sparsevec_l2_distance)
{
	GET_TWO_SPARSEVECS(a, b);
	PG_RETURN_FLOAT8(sqrt((double) prism::sparse_l2sq(a_view, b_view)));
}

PRISM_FUNCTION(sparsevec_l2_squared_distance)
{
	GET_TWO_SPARSEVECS(a, b);
	PG_RETURN_FLOAT8((double) prism::sparse_l2sq(a_view, b_view));
}

PRISM_FUNCTION(sparsevec_inner_product)
{
	GET_TWO_SPARSEVECS(a, b);
	PG_RETURN_FLOAT8((double) prism::sparse_dot(a_view, b_view));
}

PRISM_FUNCTION(sparsevec_negative_inner_product)
{
	GET_TWO_SPARSEVECS(a, b);
	PG_RETURN_FLOAT8(-(double) prism::sparse_dot(a_view, b_view));
}

// 1 - cos(a, b). A zero vector gives NaN (0/0), as in pgvector.
PRISM_FUNCTION(sparsevec_cosine_distance)
{
	GET_TWO_SPARSEVECS(a, b);
	double similarity = (double) prism::sparse_dot(a_view, b_view) /
						sqrt((double) prism::sparse_norm_sq(a_view) * (double) prism::sparse_norm_sq(b_view));

	if (similarity > 1)
		similarity = 1;
	else if (similarity < -1)
		similarity = -1;
	PG_RETURN_FLOAT8(1 - similarity);
}

PRISM_FUNCTION(sparsevec_l1_distance)
{
	GET_TWO_SPARSEVECS(a, b);
	PG_RETURN_FLOAT8((double) prism::sparse_l1(a_view, b_view));
}

static double sparsevec_norm(SparseVector *a)
{
	float *x = sparsevec_values(a);
	double sum = 0;
	for (int i = 0; i < a->nnz; i++)
		sum += (double) x[i] * (double) x[i];
	return sqrt(sum);
}

PRISM_FUNCTION(sparsevec_l2_norm)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	PG_RETURN_FLOAT8(sparsevec_norm(a));
}

// Unit vector in a's direction; a zero vector stays zero, and values that underflow to zero
// are dropped (a sparsevec stores only non-zeros).
PRISM_FUNCTION(sparsevec_l2_normalize)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	float *ax = sparsevec_values(a);
	double norm = sparsevec_norm(a);

	if (norm == 0)
		PG_RETURN_SPARSEVEC_P(new_sparsevec(a->dim, 0));

	float *scaled = (float *) palloc(sizeof(float) * (a->nnz + 1));
	int nnz = 0;
	for (int i = 0; i < a->nnz; i++) {
		scaled[i] = (float) ((double) ax[i] / norm);
		if (std::isinf(scaled[i]))
			float_overflow_error();
		nnz += scaled[i] != 0;
	}
	SparseVector *r = new_sparsevec(a->dim, nnz);
	float *rx = sparsevec_values(r);
	int j = 0;
	for (int i = 0; i < a->nnz; i++) {
		if (scaled[i] != 0) {
			r->indices[j] = a->indices[i];
			rx[j] = scaled[i];
			j++;
		}
	}
	pfree(scaled);
	PG_RETURN_SPARSEVEC_P(r);
}

// Dense order: element by element, then the shorter vector first (pgvector's order).
#define SPARSEVEC_CMP_FUNCTION(name, expr)                                  \
	PRISM_FUNCTION(name)                                                    \
	{                                                                       \
		SparseVector *a = PG_GETARG_SPARSEVEC_P(0);                         \
		SparseVector *b = PG_GETARG_SPARSEVEC_P(1);                         \
		int c = prism::sparse_compare(sparse_view(a), sparse_view(b));      \
		PG_FREE_IF_COPY(a, 0);                                              \
		PG_FREE_IF_COPY(b, 1);                                              \
		return (expr);                                                      \
	}

SPARSEVEC_CMP_FUNCTION(sparsevec_lt, BoolGetDatum(c < 0))
SPARSEVEC_CMP_FUNCTION(sparsevec_le, BoolGetDatum(c <= 0))
SPARSEVEC_CMP_FUNCTION(sparsevec_eq, BoolGetDatum(c == 0))
SPARSEVEC_CMP_FUNCTION(sparsevec_ne, BoolGetDatum(c != 0))
SPARSEVEC_CMP_FUNCTION(sparsevec_ge, BoolGetDatum(c >= 0))
SPARSEVEC_CMP_FUNCTION(sparsevec_gt, BoolGetDatum(c > 0))
SPARSEVEC_CMP_FUNCTION(sparsevec_cmp, Int32GetDatum(c))
