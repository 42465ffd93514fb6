// The `vector` type itself: text and binary I/O, the typmod, and the casts to and from arrays.
// Text parsing and float printing live in src/core/vector_text.cpp; this file maps their
// results onto Postgres errors with pgvector's wording and SQLSTATEs.
// Core headers come first: they refuse to be included after Postgres headers.
#include "core/vector_binary.h"
#include "core/vector_text.h"

#include "pg/boundary.h"
#include "pg/type_glue.h"

extern "C" {
#include "catalog/pg_type.h"
}

Vector *new_vector(int dim)
{
	check_dim(dim);
	Size size = VECTOR_SIZE(dim);
	Vector *v = (Vector *) palloc0(size);
	SET_VARSIZE(v, size);
	v->dim = (int16) dim;
	return v;
}

static void report_parse_error(const prism::ParseResult &r, const char *text)
{
	switch (r.status) {
	case prism::ParseStatus::Ok:
		return;
	case prism::ParseStatus::MissingBracket:
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						errmsg("invalid input syntax for type vector: \"%s\"", text),
						errdetail("Vector contents must start with \"[\".")));
		break;
	case prism::ParseStatus::JunkAfter:
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						errmsg("invalid input syntax for type vector: \"%s\"", text),
						errdetail("Junk after closing right brace.")));
		break;
	case prism::ParseStatus::Syntax:
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						errmsg("invalid input syntax for type vector: \"%s\"", text)));
		break;
	case prism::ParseStatus::Empty:
		check_dim(0);
		break;
	case prism::ParseStatus::TooManyDims:
		check_dim(VECTOR_MAX_DIM + 1);
		break;
	case prism::ParseStatus::OutOfRange:
		ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						errmsg("\"%s\" is out of range for type vector", pnstrdup(r.token, r.token_len))));
		break;
	case prism::ParseStatus::NotANumber:
		check_element(NAN);
		break;
	case prism::ParseStatus::Infinite:
		check_element(INFINITY);
		break;
	}
	elog(ERROR, "unexpected vector parse status %d", (int) r.status);
}

PRISM_FUNCTION(vector_in)
{
	char *text = PG_GETARG_CSTRING(0);
	int32 typmod = PG_GETARG_INT32(2);

	size_t cap = prism::vector_text_max_elements(text);
	if (cap > VECTOR_MAX_DIM)
		cap = VECTOR_MAX_DIM;
	float *x = (float *) palloc(sizeof(float) * cap);
	prism::ParseResult r = prism::parse_vector_text(text, x, cap, VECTOR_MAX_DIM);
	report_parse_error(r, text);

	int dim = (int) r.dim;
	check_expected_dim(typmod, dim);
	Vector *v = new_vector(dim);
	memcpy(v->x, x, sizeof(float) * dim);
	pfree(x);
	PG_RETURN_VECTOR_P(v);
}

PRISM_FUNCTION(vector_out)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	char *buf = (char *) palloc(prism::vector_text_size(v->dim));
	prism::format_vector(v->x, v->dim, buf);
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf);
}

PRISM_FUNCTION(vector_typmod_in)
{
	PG_RETURN_INT32(dims_typmod_in(PG_GETARG_ARRAYTYPE_P(0), "vector", VECTOR_MAX_DIM));
}

// Wire format (pgvector's): int16 dim, int16 unused (0), dim float4, all big-endian.
PRISM_FUNCTION(vector_recv)
{
	StringInfo buf = (StringInfo) PG_GETARG_POINTER(0);
	int32 typmod = PG_GETARG_INT32(2);

	// The core decoder (the code the fuzz target runs) checks the bytes; it gets exactly the
	// bytes the header's dim claims, so bytes after them are left for Postgres to reject.
	const uint8_t *bytes = (const uint8_t *) buf->data + buf->cursor;
	size_t left = (size_t) (buf->len - buf->cursor);
	int dim = left >= 2 ? (int16) ((bytes[0] << 8) | bytes[1]) : 0;
	bool sane = dim >= 1 && dim <= VECTOR_MAX_DIM;
	Vector *v = sane ? new_vector(dim) : NULL;
	size_t want = sane ? Min(left, prism::vector_binary_size(dim)) : left;
	prism::BinaryResult r =
		prism::decode_vector_binary(bytes, want, typmod, VECTOR_MAX_DIM, v ? v->x : NULL, v ? (size_t) dim : 0);
	if (r.status == prism::BinaryStatus::Ok) {
		buf->cursor += (int) prism::vector_binary_size(dim);
		PG_RETURN_VECTOR_P(v);
	}
	binary_decode_error(r, typmod, "vector", check_dim, [](bool nan) { check_element(nan ? NAN : INFINITY); });
	PG_RETURN_NULL();
}

PRISM_FUNCTION(vector_send)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, v->unused);
	for (int i = 0; i < v->dim; i++)
		pq_sendfloat4(&buf, v->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

// vector(vector, typmod, explicit): the length coercion behind vector(n) columns and casts.
PRISM_FUNCTION(vector)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	check_expected_dim(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_VECTOR_P(v);
}

// array_to_vector(anyarray of int4/float4/float8/numeric, typmod, explicit).
PRISM_FUNCTION(array_to_vector)
{
	int32 typmod = PG_GETARG_INT32(1);
	int n;
	Oid elemtype;
	Datum *elems = numeric_array_elements(PG_GETARG_ARRAYTYPE_P(0), &n, &elemtype);

	check_dim(n);
	check_expected_dim(typmod, n);
	Vector *v = new_vector(n);
	for (int i = 0; i < n; i++) {
		v->x[i] = array_element_float(elems[i], elemtype);
		check_element(v->x[i]);
	}
	pfree(elems);
	PG_RETURN_VECTOR_P(v);
}

PRISM_FUNCTION(vector_to_float4)
{
	Vector *v = PG_GETARG_VECTOR_P(0);
	Datum *d = (Datum *) palloc(sizeof(Datum) * v->dim);

	for (int i = 0; i < v->dim; i++)
		d[i] = Float4GetDatum(v->x[i]);
	ArrayType *result = construct_array(d, v->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
	pfree(d);
	PG_RETURN_POINTER(result);
}

Datum *numeric_array_elements(ArrayType *array, int *n, Oid *elemtype)
{
	int16 typlen;
	bool typbyval;
	char typalign;
	Datum *elems;
	bool *nulls;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("array must be 1-D")));
	if (array_contains_nulls(array))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("array must not contain nulls")));
	*elemtype = ARR_ELEMTYPE(array);
	get_typlenbyvalalign(*elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, *elemtype, typlen, typbyval, typalign, &elems, &nulls, n);
	pfree(nulls);
	return elems;
}

float array_element_float(Datum element, Oid elemtype)
{
	switch (elemtype) {
	case INT4OID:
		return (float) DatumGetInt32(element);
	case FLOAT4OID:
		return DatumGetFloat4(element);
	case FLOAT8OID:
		return (float) DatumGetFloat8(element);
	case NUMERICOID:
		return DatumGetFloat4(DirectFunctionCall1(numeric_float4, element));
	default:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("unsupported array type")));
	}
	return 0;
}

void binary_decode_error(const prism::BinaryResult &r, int32 typmod, const char *type_name, void (*check_dims)(int),
						 void (*element_error)(bool nan))
{
	switch (r.status) {
	case prism::BinaryStatus::Truncated:
		ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION), errmsg("insufficient data left in message")));
		break;
	case prism::BinaryStatus::BadDim:
		check_dims(r.dim);
		break;
	case prism::BinaryStatus::DimMismatch:
		check_expected_dim(typmod, r.dim);
		break;
	case prism::BinaryStatus::UnusedNotZero:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("expected unused to be 0, not %d", r.unused)));
		break;
	case prism::BinaryStatus::NotANumber:
		element_error(true);
		break;
	case prism::BinaryStatus::Infinite:
		element_error(false);
		break;
	case prism::BinaryStatus::Ok:
	case prism::BinaryStatus::TrailingBytes:
		break;	// not errors here: callers pass only the exact bytes of the elements
	}
	ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
					errmsg("unexpected %s binary decoder status %d", type_name, (int) r.status)));
}
