// The `halfvec` type itself: text and binary I/O, the typmod, and the casts to and from
// `vector` and arrays. Parsing, printing and the wire codec live in src/core/halfvec_codec.cpp;
// this file maps their results onto Postgres errors with pgvector's wording and SQLSTATEs.
// Core headers come first: they refuse to be included after Postgres headers.
#include "core/halfvec_codec.h"

#include "pg/boundary.h"
#include "pg/halfvec.h"
#include "pg/type_glue.h"

extern "C" {
#include "catalog/pg_type.h"
}

HalfVector *new_halfvec(int dim)
{
	check_halfvec_dim(dim);
	Size size = HALFVEC_SIZE(dim);
	HalfVector *v = (HalfVector *) palloc0(size);
	SET_VARSIZE(v, size);
	v->dim = (int16) dim;
	return v;
}

prism::half_bits float_to_half_checked(float f)
{
	prism::half_bits h = prism::float_to_half(f);
	if (prism::half_is_inf(h) && !std::isinf(f)) {
		char text[prism::kFloatTextMax + 1];
		prism::format_float(f, text);
		ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						errmsg("\"%s\" is out of range for type halfvec", text)));
	}
	return h;
}

static void report_parse_error(const prism::ParseResult &r, const char *text)
{
	switch (r.status) {
	case prism::ParseStatus::Ok:
		return;
	case prism::ParseStatus::MissingBracket:
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						errmsg("invalid input syntax for type halfvec: \"%s\"", text),
						errdetail("Vector contents must start with \"[\".")));
		break;
	case prism::ParseStatus::JunkAfter:
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						errmsg("invalid input syntax for type halfvec: \"%s\"", text),
						errdetail("Junk after closing right brace.")));
		break;
	case prism::ParseStatus::Syntax:
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						errmsg("invalid input syntax for type halfvec: \"%s\"", text)));
		break;
	case prism::ParseStatus::Empty:
		check_halfvec_dim(0);
		break;
	case prism::ParseStatus::TooManyDims:
		check_halfvec_dim(HALFVEC_MAX_DIM + 1);
		break;
	case prism::ParseStatus::OutOfRange:
		ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						errmsg("\"%s\" is out of range for type halfvec", pnstrdup(r.token, r.token_len))));
		break;
	case prism::ParseStatus::NotANumber:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("NaN not allowed in halfvec")));
		break;
	case prism::ParseStatus::Infinite:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("infinite value not allowed in halfvec")));
		break;
	}
	elog(ERROR, "unexpected halfvec parse status %d", (int) r.status);
}

PRISM_FUNCTION(halfvec_in)
{
	char *text = PG_GETARG_CSTRING(0);
	int32 typmod = PG_GETARG_INT32(2);

	size_t cap = prism::vector_text_max_elements(text);
	if (cap > HALFVEC_MAX_DIM)
		cap = HALFVEC_MAX_DIM;
	prism::half_bits *x = (prism::half_bits *) palloc(sizeof(prism::half_bits) * cap);
	prism::ParseResult r = prism::parse_halfvec_text(text, x, cap, HALFVEC_MAX_DIM);
	report_parse_error(r, text);

	int dim = (int) r.dim;
	check_expected_dim(typmod, dim);
	HalfVector *v = new_halfvec(dim);
	memcpy(v->x, x, sizeof(prism::half_bits) * dim);
	pfree(x);
	PG_RETURN_HALFVEC_P(v);
}

PRISM_FUNCTION(halfvec_out)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	char *buf = (char *) palloc(prism::vector_text_size(v->dim));
	prism::format_halfvec(v->x, v->dim, buf);
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf);
}

PRISM_FUNCTION(halfvec_typmod_in)
{
	PG_RETURN_INT32(dims_typmod_in(PG_GETARG_ARRAYTYPE_P(0), "halfvec", HALFVEC_MAX_DIM));
}

// Wire format (pgvector's): int16 dim, int16 unused (0), dim halves, all big-endian.
PRISM_FUNCTION(halfvec_recv)
{
	StringInfo buf = (StringInfo) PG_GETARG_POINTER(0);
	int32 typmod = PG_GETARG_INT32(2);

	// The decoder gets exactly the bytes the header's dim claims; bytes after them are left
	// for Postgres to reject.
	const uint8_t *bytes = (const uint8_t *) buf->data + buf->cursor;
	size_t left = (size_t) (buf->len - buf->cursor);
	int dim = left >= 2 ? (int16) ((bytes[0] << 8) | bytes[1]) : 0;
	bool sane = dim >= 1 && dim <= HALFVEC_MAX_DIM;
	HalfVector *v = sane ? new_halfvec(dim) : NULL;
	size_t want = sane ? Min(left, prism::halfvec_binary_size(dim)) : left;
	prism::BinaryResult r =
		prism::decode_halfvec_binary(bytes, want, typmod, HALFVEC_MAX_DIM, v ? v->x : NULL, v ? (size_t) dim : 0);
	if (r.status == prism::BinaryStatus::Ok) {
		buf->cursor += (int) prism::halfvec_binary_size(dim);
		PG_RETURN_HALFVEC_P(v);
	}
	binary_decode_error(r, typmod, "halfvec", check_halfvec_dim,
						[](bool nan) { check_halfvec_element(nan ? 0x7e00 : prism::kHalfPositiveInfinity); });
	PG_RETURN_NULL();
}

PRISM_FUNCTION(halfvec_send)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, v->unused);
	for (int i = 0; i < v->dim; i++)
		pq_sendint16(&buf, v->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

// halfvec(halfvec, typmod, explicit): the length coercion behind halfvec(n) columns and casts.
PRISM_FUNCTION(halfvec)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	check_expected_dim(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_HALFVEC_P(v);
}

// array_to_halfvec(int4/float4/float8/numeric array, typmod, explicit). As in pgvector, every
// element is rounded first (a finite value beyond the half range is an error), then NaN and
// infinity are rejected.
PRISM_FUNCTION(array_to_halfvec)
{
	int32 typmod = PG_GETARG_INT32(1);
	int n;
	Oid elemtype;
	Datum *elems = numeric_array_elements(PG_GETARG_ARRAYTYPE_P(0), &n, &elemtype);

	check_halfvec_dim(n);
	check_expected_dim(typmod, n);
	HalfVector *v = new_halfvec(n);
	for (int i = 0; i < n; i++)
		v->x[i] = float_to_half_checked(array_element_float(elems[i], elemtype));
	for (int i = 0; i < n; i++)
		check_halfvec_element(v->x[i]);
	pfree(elems);
	PG_RETURN_HALFVEC_P(v);
}

PRISM_FUNCTION(halfvec_to_float4)
{
	HalfVector *v = PG_GETARG_HALFVEC_P(0);
	Datum *d = (Datum *) palloc(sizeof(Datum) * v->dim);

	for (int i = 0; i < v->dim; i++)
		d[i] = Float4GetDatum(prism::half_to_float(v->x[i]));
	ArrayType *result = construct_array(d, v->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
	pfree(d);
	PG_RETURN_POINTER(result);
}

PRISM_FUNCTION(vector_to_halfvec)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	int32 typmod = PG_GETARG_INT32(1);

	check_halfvec_dim(a->dim);
	check_expected_dim(typmod, a->dim);
	HalfVector *v = new_halfvec(a->dim);
	for (int i = 0; i < a->dim; i++)
		v->x[i] = float_to_half_checked(a->x[i]);
	PG_RETURN_HALFVEC_P(v);
}

// Exact: every half is a float.
PRISM_FUNCTION(halfvec_to_vector)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	int32 typmod = PG_GETARG_INT32(1);

	check_dim(a->dim);
	check_expected_dim(typmod, a->dim);
	Vector *v = new_vector(a->dim);
	prism::best_half_kernels().to_float(a->x, v->x, (size_t) a->dim);
	PG_RETURN_VECTOR_P(v);
}
