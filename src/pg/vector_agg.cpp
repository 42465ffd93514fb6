// avg(vector) and the pieces of its aggregate: a float8[] state {n, sum_1, ..., sum_dim} (the
// layout pgvector uses, so the functions interoperate), a transition function, a combine
// function for parallel aggregation and the final function. sum(vector) needs no code of its
// own: its transition and combine function is vector_add.
#include "pg/boundary.h"
#include "pg/vector_internal.h"

extern "C" {
#include "catalog/pg_type.h"
}

float8 *agg_state_values(ArrayType *a, const char *caller, int *len)
{
	if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] < 1 || ARR_HASNULL(a) || ARR_ELEMTYPE(a) != FLOAT8OID)
		elog(ERROR, "%s: expected state array", caller);
	*len = ARR_DIMS(a)[0];
	return (float8 *) ARR_DATA_PTR(a);
}

ArrayType *agg_make_state(const float8 *values, int len)
{
	Datum *d = (Datum *) palloc(sizeof(Datum) * len);
	for (int i = 0; i < len; i++)
		d[i] = Float8GetDatum(values[i]);
	ArrayType *r = construct_array(d, len, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(d);
	return r;
}

PRISM_FUNCTION(vector_accum)
{
	Vector *v = PG_GETARG_VECTOR_P(1);
	PG_RETURN_ARRAYTYPE_P(agg_accum(fcinfo, PG_GETARG_ARRAYTYPE_P(0), v->dim, "vector_accum",
									[v](int i) { return (double) v->x[i]; }));
}

PRISM_FUNCTION(vector_combine)
{
	ArrayType *a = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType *b = PG_GETARG_ARRAYTYPE_P(1);
	int len_a, len_b;
	float8 *sa = agg_state_values(a, "vector_combine", &len_a);
	float8 *sb = agg_state_values(b, "vector_combine", &len_b);

	if (len_a - 1 > VECTOR_MAX_DIM || len_b - 1 > VECTOR_MAX_DIM)
		check_dim(VECTOR_MAX_DIM + 1);
	// An empty partial state (n = 0) contributes nothing.
	if (sa[0] == 0)
		PG_RETURN_ARRAYTYPE_P(agg_make_state(sb, len_b));
	if (sb[0] == 0)
		PG_RETURN_ARRAYTYPE_P(agg_make_state(sa, len_a));

	check_expected_dim(len_a - 1, len_b - 1);
	float8 *r = (float8 *) palloc(sizeof(float8) * len_a);
	for (int i = 0; i < len_a; i++) {
		r[i] = sa[i] + sb[i];
		if (std::isinf(r[i]))
			float_overflow_error();
	}
	ArrayType *result = agg_make_state(r, len_a);
	pfree(r);
	PG_RETURN_ARRAYTYPE_P(result);
}

// avg of no rows is NULL.
PRISM_FUNCTION(vector_avg)
{
	ArrayType *state = PG_GETARG_ARRAYTYPE_P(0);
	int len;
	float8 *s = agg_state_values(state, "vector_avg", &len);
	float8 n = s[0];

	if (n == 0)
		PG_RETURN_NULL();
	check_dim(len - 1);

	Vector *v = new_vector(len - 1);
	for (int i = 0; i < v->dim; i++) {
		v->x[i] = (float) (s[i + 1] / n);
		if (std::isinf(v->x[i]))
			float_overflow_error();
	}
	PG_RETURN_VECTOR_P(v);
}
