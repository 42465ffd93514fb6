// The `halfvec` datum (pgvector's layout, so binary dumps and the wire format match): varlena
// header, int16 dim, int16 unused (0), then dim IEEE binary16 values as their bit patterns.
// Helpers shared by the halfvec type and operator files; error wording and SQLSTATEs follow
// pgvector so applications that match on them keep working.
#pragma once

// Core headers first: they refuse to be included after Postgres headers.
#include "core/half.h"

#include "pg/vector_internal.h"

#define HALFVEC_MAX_DIM 16000

struct HalfVector {
	int32 vl_len_;	// varlena header (do not touch directly)
	int16 dim;
	int16 unused;
	prism::half_bits x[FLEXIBLE_ARRAY_MEMBER];
};

#define HALFVEC_SIZE(dim) (offsetof(HalfVector, x) + sizeof(prism::half_bits) * (dim))
#define DatumGetHalfVector(d) ((HalfVector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_HALFVEC_P(n) DatumGetHalfVector(PG_GETARG_DATUM(n))
#define PG_RETURN_HALFVEC_P(v) PG_RETURN_POINTER(v)

// ERROR unless 1 <= dim <= HALFVEC_MAX_DIM.
inline void check_halfvec_dim(int dim)
{
	if (dim < 1)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("halfvec must have at least 1 dimension")));
	if (dim > HALFVEC_MAX_DIM)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("halfvec cannot have more than %d dimensions", HALFVEC_MAX_DIM)));
}

// ERROR for NaN or infinite elements: a halfvec only ever holds finite halves.
inline void check_halfvec_element(prism::half_bits h)
{
	if (prism::half_is_nan(h))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("NaN not allowed in halfvec")));
	if (prism::half_is_inf(h))
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("infinite value not allowed in halfvec")));
}

// Allocates a zeroed halfvec of `dim` elements (checked) in CurrentMemoryContext.
HalfVector *new_halfvec(int dim);

// Nearest half to a float; ERROR (22003) when a finite float is beyond the half range. NaN and
// infinity pass through (callers reject them with check_halfvec_element).
prism::half_bits float_to_half_checked(float f);
