// Checks shared by the vector type, operator and aggregate files (not part of the public
// vector.h interface). Error wording and SQLSTATEs follow pgvector so applications that match
// on them keep working.
#pragma once

#include "pg/vector.h"

extern "C" {
#include "utils/float.h"
}

#include <cmath>

// ERROR unless 1 <= dim <= VECTOR_MAX_DIM.
inline void check_dim(int dim)
{
	if (dim < 1)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("vector must have at least 1 dimension")));
	if (dim > VECTOR_MAX_DIM)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("vector cannot have more than %d dimensions", VECTOR_MAX_DIM)));
}

// The typmod of a column typed with a dimension (vector(n), halfvec(n), sparsevec(n)): exactly
// one integer in 1..max_dim, else pgvector's errors naming the type.
inline int32 dims_typmod_in(ArrayType *ta, const char *type_name, int max_dim)
{
	int n;
	int32 *tl = ArrayGetIntegerTypmods(ta, &n);

	if (n != 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid type modifier")));
	if (*tl < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("dimensions for type %s must be at least 1", type_name)));
	if (*tl > max_dim)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("dimensions for type %s cannot exceed %d", type_name, max_dim)));
	return *tl;
}

// ERROR if a typmod is given and differs from dim.
inline void check_expected_dim(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("expected %d dimensions, not %d", typmod, dim)));
}

// ERROR for NaN or infinite elements: a vector only ever holds finite floats.
inline void check_element(float value)
{
	if (std::isnan(value))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("NaN not allowed in vector")));
	if (std::isinf(value))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("infinite value not allowed in vector")));
}

// The avg aggregates' state, a float8[] {n, sum_1, ..., sum_dim} (pgvector's layout, so the
// functions interoperate): its values (ERROR unless it is one; *len its length, >= 1), and a
// new state holding `values`.
float8 *agg_state_values(ArrayType *a, const char *caller, int *len);
ArrayType *agg_make_state(const float8 *values, int len);

// The avg transition: adds one input of `dim` elements (element(i) the i-th as a double) to
// `state`. The initial state {0} takes its dimensions from the first input; a sum that
// overflows is an error.
template <class Element>
ArrayType *agg_accum(FunctionCallInfo fcinfo, ArrayType *state, int dim, const char *caller, Element element)
{
	int len;
	float8 *s = agg_state_values(state, caller, &len);

	if (len == 1) {
		float8 *nv = (float8 *) palloc(sizeof(float8) * (dim + 1));
		nv[0] = s[0] + 1;
		for (int i = 0; i < dim; i++)
			nv[i + 1] = element(i);
		ArrayType *r = agg_make_state(nv, dim + 1);
		pfree(nv);
		return r;
	}
	check_expected_dim(len - 1, dim);
	// Inside an aggregate the state belongs to the aggregate and may be updated in place (as
	// float8_accum does); called directly, work on a copy.
	if (!AggCheckCallContext(fcinfo, NULL)) {
		state = agg_make_state(s, len);
		s = (float8 *) ARR_DATA_PTR(state);
	}
	s[0] += 1;
	for (int i = 0; i < dim; i++) {
		s[i + 1] += element(i);
		if (std::isinf(s[i + 1]))
			float_overflow_error();
	}
	return state;
}
