// The on-disk/in-memory `vector` datum. Same layout as pgvector's so binary dumps and the
// wire format match: varlena header, int16 dim, int16 unused (0), then dim float4.
#pragma once

#include "pg/pg_includes.h"

#define VECTOR_MAX_DIM 16000

struct Vector {
	int32 vl_len_;	// varlena header (do not touch directly)
	int16 dim;
	int16 unused;
	float x[FLEXIBLE_ARRAY_MEMBER];
};

#define VECTOR_SIZE(dim) (offsetof(Vector, x) + sizeof(float) * (dim))
#define DatumGetVector(d) ((Vector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_VECTOR_P(n) DatumGetVector(PG_GETARG_DATUM(n))
#define PG_RETURN_VECTOR_P(v) PG_RETURN_POINTER(v)

// Allocates a zeroed vector of `dim` elements in CurrentMemoryContext.
Vector *new_vector(int dim);
// ERROR (22000 data_exception) if dims differ; used by every binary operator.
void check_same_dims(const Vector *a, const Vector *b);
