// Operators and functions on `vector`: distances (through the SIMD kernels of
// core/distance.h), norms, element-wise arithmetic, concatenation, subvector, comparisons with
// the btree support function, and the hash support functions.
#include "core/distance.h"

#include "pg/boundary.h"
#include "pg/vector_internal.h"

extern "C" {
#include "common/hashfn.h"
#include "utils/varbit.h"
}

void check_same_dims(const Vector *a, const Vector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
						errmsg("different vector dimensions %d and %d", a->dim, b->dim)));
}

// Both arguments detoasted and checked for equal dimensions.
#define GET_TWO_VECTORS(a, b)              \
	Vector *a = PG_GETARG_VECTOR_P(0);     \
	Vector *b = PG_GETARG_VECTOR_P(1);     \
	check_same_dims(a, b)

// Distances are accumulated in float (as the kernels and pgvector do) and returned as float8.

PRISM_FUNCTION(l2_distance)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8(sqrt((double) prism::l2sq_distance(a->x, b->x, a->dim)));
}

PRISM_FUNCTION(vector_l2_squared_distance)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8((double) prism::l2sq_distance(a->x, b->x, a->dim));
}

PRISM_FUNCTION(inner_product)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8((double) prism::dot_product(a->x, b->x, a->dim));
}

PRISM_FUNCTION(vector_negative_inner_product)
{
	GET_TWO_VECTORS(a, b);
	PG_RETURN_FLOAT8(-(double) prism::dot_product(a->x, b->x, a->dim));
}

// 1 - cos(a, b). A zero vector gives NaN (0/0), as in pgvector.
PRISM_FUNCTION(cosine_distance)
{
	GET_TWO_VECTORS(a, b);
	prism::Kernels k = prism::best_kernels(a->dim);
	size_t dim = a->dim;
	float dot = k.dot(a->x, b->x, &dim);
	float na = k.dot(a->x, a->x, &dim);
	float nb = k.dot(b->x, b->x, &dim);
	double similarity = (double) dot / sqrt((double) na * (double) nb);

	// Rounding can push |similarity| just past 1.
	if (similarity > 1)
		similarity = 1;
	else if (similarity < -1)
		similarity = -1;
	PG_RETURN_FLOAT8(1 - similarity);
}

// acos(a . b) / pi for unit vectors: pgvector's spherical distance (used by ivfflat support).
PRISM_FUNCTION(vector_spherical_distance)
{
	GET_TWO_VECTORS(a, b);
	double dp = (double) prism::dot_product(a->x, b->x, a->dim);

	if (dp > 1)
		dp = 1;
	else if (dp < -1)
		dp = -1;
	PG_RETURN_FLOAT8(acos(dp) / M_PI);
}

PRISM_FUNCTION(l1_distance)
{
	GET_TWO_VECTORS(a, b);
	float distance = 0;

	for (int i = 0; i < a->dim; i++)
		distance += fabsf(a->x[i] - b->x[i]);
	PG_RETURN_FLOAT8((double) distance);
}

PRISM_FUNCTION(vector_dims)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	PG_RETURN_INT32(a->dim);
}

static double norm_of(const Vector *a)
{
	double sum = 0;
	for (int i = 0; i < a->dim; i++)
		sum += (double) a->x[i] * (double) a->x[i];
	return sqrt(sum);
}

PRISM_FUNCTION(vector_norm)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	PG_RETURN_FLOAT8(norm_of(a));
}

// Unit vector in a's direction; a zero vector stays zero.
PRISM_FUNCTION(l2_normalize)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	Vector *r = new_vector(a->dim);
	double norm = norm_of(a);

	if (norm > 0) {
		for (int i = 0; i < a->dim; i++)
			r->x[i] = (float) ((double) a->x[i] / norm);
		for (int i = 0; i < a->dim; i++)
			if (std::isinf(r->x[i]))
				float_overflow_error();
	}
	PG_RETURN_VECTOR_P(r);
}

// subvector(a, start, count): elements start .. start+count-1 (1-based), clipped to a.
PRISM_FUNCTION(subvector)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	int64 start = PG_GETARG_INT32(1);
	int64 end = start + (int64) PG_GETARG_INT32(2);

	if (start < 1)
		start = 1;
	if (end > (int64) a->dim + 1)
		end = (int64) a->dim + 1;
	int64 dim = end - start;
	if (dim < 1)
		check_dim(0);

	Vector *r = new_vector((int) dim);
	memcpy(r->x, a->x + (start - 1), sizeof(float) * dim);
	PG_RETURN_VECTOR_P(r);
}

// 1 for each element > 0, else 0.
PRISM_FUNCTION(binary_quantize)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	int len = VARBITTOTALLEN(a->dim);
	VarBit *r = (VarBit *) palloc0(len);

	SET_VARSIZE(r, len);
	VARBITLEN(r) = a->dim;
	for (int i = 0; i < a->dim; i++)
		if (a->x[i] > 0)
			VARBITS(r)[i / 8] |= (bits8) (0x80 >> (i % 8));
	PG_RETURN_VARBIT_P(r);
}

// Element-wise arithmetic. Finite inputs can still overflow to infinity, which a vector
// cannot hold: that is a 22003 error, as for float4.
PRISM_FUNCTION(vector_add)
{
	GET_TWO_VECTORS(a, b);
	Vector *r = new_vector(a->dim);

	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] + b->x[i];
	for (int i = 0; i < a->dim; i++)
		if (std::isinf(r->x[i]))
			float_overflow_error();
	PG_RETURN_VECTOR_P(r);
}

PRISM_FUNCTION(vector_sub)
{
	GET_TWO_VECTORS(a, b);
	Vector *r = new_vector(a->dim);

	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] - b->x[i];
	for (int i = 0; i < a->dim; i++)
		if (std::isinf(r->x[i]))
			float_overflow_error();
	PG_RETURN_VECTOR_P(r);
}

PRISM_FUNCTION(vector_mul)
{
	GET_TWO_VECTORS(a, b);
	Vector *r = new_vector(a->dim);

	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] * b->x[i];
	for (int i = 0; i < a->dim; i++) {
		if (std::isinf(r->x[i]))
			float_overflow_error();
		// A product of non-zero floats that rounds to zero lost all its digits.
		if (r->x[i] == 0 && a->x[i] != 0 && b->x[i] != 0)
			float_underflow_error();
	}
	PG_RETURN_VECTOR_P(r);
}

PRISM_FUNCTION(vector_concat)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	Vector *b = PG_GETARG_VECTOR_P(1);
	Vector *r = new_vector(a->dim + b->dim);

	memcpy(r->x, a->x, sizeof(float) * a->dim);
	memcpy(r->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_VECTOR_P(r);
}

// Lexicographic by element, then the shorter vector first (pgvector's order). -0 equals 0.
static int vector_cmp_internal(const Vector *a, const Vector *b)
{
	int dim = a->dim < b->dim ? a->dim : b->dim;

	for (int i = 0; i < dim; i++) {
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

#define VECTOR_CMP_FUNCTION(name, expr)                 \
	PRISM_FUNCTION(name)                                \
	{                                                   \
		Vector *a = PG_GETARG_VECTOR_P(0);              \
		Vector *b = PG_GETARG_VECTOR_P(1);              \
		int c = vector_cmp_internal(a, b);              \
		PG_FREE_IF_COPY(a, 0);                          \
		PG_FREE_IF_COPY(b, 1);                          \
		return (expr);                                  \
	}

VECTOR_CMP_FUNCTION(vector_lt, BoolGetDatum(c < 0))
VECTOR_CMP_FUNCTION(vector_le, BoolGetDatum(c <= 0))
VECTOR_CMP_FUNCTION(vector_eq, BoolGetDatum(c == 0))
VECTOR_CMP_FUNCTION(vector_ne, BoolGetDatum(c != 0))
VECTOR_CMP_FUNCTION(vector_ge, BoolGetDatum(c >= 0))
VECTOR_CMP_FUNCTION(vector_gt, BoolGetDatum(c > 0))
VECTOR_CMP_FUNCTION(vector_cmp, Int32GetDatum(c))

// Bits of an element with -0 folded into 0, so values that compare equal hash equal
// (vectors never hold NaN).
static inline uint32 element_bits(float f)
{
	uint32 u;
	if (f == 0)
		f = 0;
	memcpy(&u, &f, sizeof(u));
	return u;
}

PRISM_FUNCTION(vector_hash)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	uint32 h = hash_bytes_uint32((uint32) a->dim);

	for (int i = 0; i < a->dim; i++)
		h = hash_combine(h, hash_bytes_uint32(element_bits(a->x[i])));
	PG_FREE_IF_COPY(a, 0);
	PG_RETURN_UINT32(h);
}

PRISM_FUNCTION(vector_hash_extended)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	uint64 seed = (uint64) PG_GETARG_INT64(1);
	uint64 h = hash_bytes_uint32_extended((uint32) a->dim, seed);

	for (int i = 0; i < a->dim; i++)
		h = hash_combine64(h, hash_bytes_uint32_extended(element_bits(a->x[i]), seed));
	PG_FREE_IF_COPY(a, 0);
	PG_RETURN_UINT64(h);
}
