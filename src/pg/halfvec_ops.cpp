// Operators and functions on `halfvec`: distances (through the half kernels of core/half.h,
// F16C when the CPU has it), norms, element-wise arithmetic, concatenation, subvector, binary
// quantization, comparisons with the btree support function, and avg's transition and final
// functions (its combine function is vector_combine: the state is the same float8[]).
#include "core/half.h"

#include "pg/boundary.h"
#include "pg/halfvec.h"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/varbit.h"
}

static void check_same_halfvec_dims(const HalfVector *a, const HalfVector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
						errmsg("different halfvec dimensions %d and %d", a->dim, b->dim)));
}

#define GET_TWO_HALFVECS(a, b)                 \
	HalfVector *a = PG_GETARG_HALFVEC_P(0);    \
	HalfVector *b = PG_GETARG_HALFVEC_P(1);    \
	check_same_halfvec_dims(a, b);             \
	size_t dim_##a = (size_t) a->dim

using prism::half_to_float;

// Distances accumulate in float (as pgvector does) and are returned as float8.

PRISM_FUNCTION(halfvec_l2_distance)
{
	GET_TWO_HALFVECS(a, b);
	PG_RETURN_FLOAT8(sqrt((double) prism::best_half_kernels().l2sq(a->x, b->x, &dim_a)));
}

PRISM_FUNCTION(halfvec_l2_squared_distance)
{
	GET_TWO_HALFVECS(a, b);
	PG_RETURN_FLOAT8((double) prism::best_half_kernels().l2sq(a->x, b->x, &dim_a));
}

PRISM_FUNCTION(halfvec_inner_product)
{
	GET_TWO_HALFVECS(a, b);
	PG_RETURN_FLOAT8((double) prism::best_half_kernels().dot(a->x, b->x, &dim_a));
}

PRISM_FUNCTION(halfvec_negative_inner_product)
{
	GET_TWO_HALFVECS(a, b);
	PG_RETURN_FLOAT8(-(double) prism::best_half_kernels().dot(a->x, b->x, &dim_a));
}

// 1 - cos(a, b). A zero vector gives NaN (0/0), as in pgvector.
PRISM_FUNCTION(halfvec_cosine_distance)
{
	GET_TWO_HALFVECS(a, b);
	const prism::HalfKernels &k = prism::best_half_kernels();
	float dot = k.dot(a->x, b->x, &dim_a);
	float na = k.dot(a->x, a->x, &dim_a);
	float nb = k.dot(b->x, b->x, &dim_a);
	double similarity = (double) dot / sqrt((double) na * (double) nb);

	// Rounding can push |similarity| just past 1.
	if (similarity > 1)
		similarity = 1;
	else if (similarity < -1)
		similarity = -1;
	PG_RETURN_FLOAT8(1 - similarity);
}

// acos(a . b) / pi for unit vectors (pgvector's spherical distance, for ivfflat support).
PRISM_FUNCTION(halfvec_spherical_distance)
{
	GET_TWO_HALFVECS(a, b);
	double dp = (double) prism::best_half_kernels().dot(a->x, b->x, &dim_a);

	if (dp > 1)
		dp = 1;
	else if (dp < -1)
		dp = -1;
	PG_RETURN_FLOAT8(acos(dp) / M_PI);
}

PRISM_FUNCTION(halfvec_l1_distance)
{
	GET_TWO_HALFVECS(a, b);
	PG_RETURN_FLOAT8((double) prism::best_half_kernels().l1(a->x, b->x, &dim_a));
}

PRISM_FUNCTION(halfvec_vector_dims)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	PG_RETURN_INT32(a->dim);
}

static double halfvec_norm(const HalfVector *a)
{
	double sum = 0;
	for (int i = 0; i < a->dim; i++) {
		double x = (double) half_to_float(a->x[i]);
		sum += x * x;
	}
	return sqrt(sum);
}

PRISM_FUNCTION(halfvec_l2_norm)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	PG_RETURN_FLOAT8(halfvec_norm(a));
}

// Unit vector in a's direction, rounded to halves; a zero vector stays zero.
PRISM_FUNCTION(halfvec_l2_normalize)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *r = new_halfvec(a->dim);
	double norm = halfvec_norm(a);

	if (norm > 0) {
		for (int i = 0; i < a->dim; i++)
			r->x[i] = prism::float_to_half((float) ((double) half_to_float(a->x[i]) / norm));
		for (int i = 0; i < a->dim; i++)
			if (prism::half_is_inf(r->x[i]))
				float_overflow_error();
	}
	PG_RETURN_HALFVEC_P(r);
}

// subvector(a, start, count): elements start .. start+count-1 (1-based), clipped to a.
PRISM_FUNCTION(halfvec_subvector)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	int64 start = PG_GETARG_INT32(1);
	int64 end = start + (int64) PG_GETARG_INT32(2);

	if (start < 1)
		start = 1;
	if (end > (int64) a->dim + 1)
		end = (int64) a->dim + 1;
	int64 dim = end - start;
	if (dim < 1)
		check_halfvec_dim(0);

	HalfVector *r = new_halfvec((int) dim);
	memcpy(r->x, a->x + (start - 1), sizeof(prism::half_bits) * dim);
	PG_RETURN_HALFVEC_P(r);
}

// 1 for each element > 0, else 0.
PRISM_FUNCTION(halfvec_binary_quantize)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	int len = VARBITTOTALLEN(a->dim);
	VarBit *r = (VarBit *) palloc0(len);

	SET_VARSIZE(r, len);
	VARBITLEN(r) = a->dim;
	for (int i = 0; i < a->dim; i++)
		if (half_to_float(a->x[i]) > 0)
			VARBITS(r)[i / 8] |= (bits8) (0x80 >> (i % 8));
	PG_RETURN_VARBIT_P(r);
}

// Element-wise arithmetic in float, rounded to halves. A result beyond the half range is a
// 22003 overflow error (as for float4); a product of non-zero halves that rounds to zero an
// underflow error.
enum class HalfOp { Add, Sub, Mul };

static Datum halfvec_arith(FunctionCallInfo fcinfo, HalfOp op)
{
	GET_TWO_HALFVECS(a, b);
	HalfVector *r = new_halfvec(a->dim);

	for (size_t i = 0; i < dim_a; i++) {
		float x = half_to_float(a->x[i]), y = half_to_float(b->x[i]);
		float z = op == HalfOp::Add ? x + y : op == HalfOp::Sub ? x - y : x * y;
		r->x[i] = prism::float_to_half(z);
	}
	for (size_t i = 0; i < dim_a; i++) {
		if (prism::half_is_inf(r->x[i]))
			float_overflow_error();
		if (op == HalfOp::Mul && prism::half_is_zero(r->x[i]) && !prism::half_is_zero(a->x[i]) &&
			!prism::half_is_zero(b->x[i]))
			float_underflow_error();
	}
	PG_RETURN_HALFVEC_P(r);
}

PRISM_FUNCTION(halfvec_add) { return halfvec_arith(fcinfo, HalfOp::Add); }
PRISM_FUNCTION(halfvec_sub) { return halfvec_arith(fcinfo, HalfOp::Sub); }
PRISM_FUNCTION(halfvec_mul) { return halfvec_arith(fcinfo, HalfOp::Mul); }

PRISM_FUNCTION(halfvec_concat)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	HalfVector *r = new_halfvec(a->dim + b->dim);

	memcpy(r->x, a->x, sizeof(prism::half_bits) * a->dim);
	memcpy(r->x + a->dim, b->x, sizeof(prism::half_bits) * b->dim);
	PG_RETURN_HALFVEC_P(r);
}

// Lexicographic by element value, then the shorter vector first (pgvector's order). -0 = 0.
static int halfvec_cmp_internal(const HalfVector *a, const HalfVector *b)
{
	int dim = a->dim < b->dim ? a->dim : b->dim;

	for (int i = 0; i < dim; i++) {
		float x = half_to_float(a->x[i]), y = half_to_float(b->x[i]);
		if (x < y)
			return -1;
		if (x > y)
			return 1;
	}
	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

#define HALFVEC_CMP_FUNCTION(name, expr)                \
	PRISM_FUNCTION(name)                                \
	{                                                   \
		HalfVector *a = PG_GETARG_HALFVEC_P(0);         \
		HalfVector *b = PG_GETARG_HALFVEC_P(1);         \
		int c = halfvec_cmp_internal(a, b);             \
		PG_FREE_IF_COPY(a, 0);                          \
		PG_FREE_IF_COPY(b, 1);                          \
		return (expr);                                  \
	}

HALFVEC_CMP_FUNCTION(halfvec_lt, BoolGetDatum(c < 0))
HALFVEC_CMP_FUNCTION(halfvec_le, BoolGetDatum(c <= 0))
HALFVEC_CMP_FUNCTION(halfvec_eq, BoolGetDatum(c == 0))
HALFVEC_CMP_FUNCTION(halfvec_ne, BoolGetDatum(c != 0))
HALFVEC_CMP_FUNCTION(halfvec_ge, BoolGetDatum(c >= 0))
HALFVEC_CMP_FUNCTION(halfvec_gt, BoolGetDatum(c > 0))
HALFVEC_CMP_FUNCTION(halfvec_cmp, Int32GetDatum(c))

// avg(halfvec): the float8[] state {n, sum_1, ..., sum_dim} of avg(vector).

PRISM_FUNCTION(halfvec_accum)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(1);
	PG_RETURN_ARRAYTYPE_P(agg_accum(fcinfo, PG_GETARG_ARRAYTYPE_P(0), v->dim, "halfvec_accum",
									[v](int i) { return (double) half_to_float(v->x[i]); }));
}

// avg of no rows is NULL; a mean beyond the half range is an error (22003).
PRISM_FUNCTION(halfvec_avg)
{
	ArrayType *state = PG_GETARG_ARRAYTYPE_P(0);
	int len;
	float8 *s = agg_state_values(state, "halfvec_avg", &len);
	float8 n = s[0];

	if (n == 0)
		PG_RETURN_NULL();
	check_halfvec_dim(len - 1);

	HalfVector *v = new_halfvec(len - 1);
	for (int i = 0; i < v->dim; i++) {
		v->x[i] = float_to_half_checked((float) (s[i + 1] / n));
		check_halfvec_element(v->x[i]);
	}
	PG_RETURN_HALFVEC_P(v);
}
