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
