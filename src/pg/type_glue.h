// Glue the vector, halfvec and sparsevec types share: reading a numeric array (the array casts)
// and reporting a failed binary decode (the recv functions), with pgvector's errors.
#pragma once

// Core headers first: they refuse to be included after Postgres headers.
#include "core/vector_binary.h"

#include "pg/vector_internal.h"

// The elements of `array` (ERROR unless it is 1-D without nulls), *n of them, of element type
// *elemtype; array_element_float converts each. The caller checks the dimensions first (the
// error order pgvector has) and pfrees the result.
Datum *numeric_array_elements(ArrayType *array, int *n, Oid *elemtype);

// An int4, float4, float8 or numeric array element as float4; ERROR for other element types.
float array_element_float(Datum element, Oid elemtype);

// ERROR for a binary decode that failed (any status but Ok and TrailingBytes): the protocol
// and header errors here, a bad dimension through the type's `check_dims`, a NaN (nan true) or
// infinite element through its `element_error`.
void binary_decode_error(const prism::BinaryResult &r, int32 typmod, const char *type_name, void (*check_dims)(int),
						 void (*element_error)(bool nan));
