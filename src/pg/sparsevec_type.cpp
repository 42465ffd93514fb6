// The `sparsevec` type itself: text and binary I/O, the typmod, and the casts to and from
// `vector`, `halfvec` and arrays. Parsing, printing and the wire codec live in
// src/core/sparsevec.cpp; this file maps their results onto Postgres errors with pgvector's
// wording and SQLSTATEs.
// Core headers come first: they refuse to be included after Postgres headers.
#include "core/sparsevec.h"

#include "pg/boundary.h"
#include "pg/sparsevec.h"
#include "pg/type_glue.h"

extern "C" {
#include "catalog/pg_type.h"
}

SparseVector *new_sparsevec(int dim, int nnz)
{
	check_sparsevec_dim(dim);
	check_sparsevec_nnz(nnz, dim);
	Size size = sparsevec_size(nnz);
	SparseVector *v = (SparseVector *) palloc0(size);
	SET_VARSIZE(v, size);
	v->dim = dim;
	v->nnz = nnz;
	return v;
}

static void report_index_status(prism::SparseIndexStatus s)
{
	switch (s) {
	case prism::SparseIndexStatus::Ok:
		return;
	case prism::SparseIndexStatus::OutOfBounds:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("sparsevec index out of bounds")));
		break;
	case prism::SparseIndexStatus::NotAscending:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("sparsevec indices must be in ascending order")));
		break;
	case prism::SparseIndexStatus::Duplicate:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("sparsevec indices must not contain duplicates")));
		break;
	}
}

static void report_parse_error(const prism::SparseParseResult &r, const char *text)
{
	using S = prism::SparseParseStatus;
	switch (r.status) {
	case S::Ok:
		return;
	case S::TooManyNnz:
		check_sparsevec_nnz(SPARSEVEC_MAX_NNZ + 1, INT_MAX);
		break;
	case S::MissingBrace:
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						errmsg("invalid input syntax for type sparsevec: \"%s\"", text),
						errdetail("Vector contents must start with \"{\".")));
		break;
	case S::Syntax:
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						errmsg("invalid input syntax for type sparsevec: \"%s\"", text)));
		break;
	case S::UnexpectedEnd:
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						errmsg("invalid input syntax for type sparsevec: \"%s\"", text),
						errdetail("Unexpected end of input.")));
		break;
	case S::JunkAfter:
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						errmsg("invalid input syntax for type sparsevec: \"%s\"", text),
						errdetail("Junk after closing.")));
		break;
	case S::OutOfRange:
		ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						errmsg("\"%s\" is out of range for type sparsevec", pnstrdup(r.token, r.token_len))));
		break;
	case S::NotANumber:
		check_sparsevec_element(NAN);
		break;
	case S::Infinite:
		check_sparsevec_element(INFINITY);
		break;
	}
	elog(ERROR, "unexpected sparsevec parse status %d", (int) r.status);
}

PRISM_FUNCTION(sparsevec_in)
{
	char *text = PG_GETARG_CSTRING(0);
	int32 typmod = PG_GETARG_INT32(2);

	size_t cap = prism::sparsevec_text_max_entries(text);
	if (cap > SPARSEVEC_MAX_NNZ)
		cap = SPARSEVEC_MAX_NNZ;
	prism::SparseEntry *entries = (prism::SparseEntry *) palloc(sizeof(prism::SparseEntry) * cap);
	prism::SparseParseResult r = prism::parse_sparsevec_text(text, entries, cap);
	report_parse_error(r, text);

	// pgvector's order: dimensions, typmod, then the indices.
	check_sparsevec_dim(r.dim);
	check_expected_dim(typmod, r.dim);
	int nnz = (int) r.nnz;
	if (nnz > r.dim) {
		// More distinct non-zeros than dimensions: some index is out of bounds or repeated;
		// the check below names which.
		int32 *idx = (int32 *) palloc(sizeof(int32) * nnz);
		for (int i = 0; i < nnz; i++)
			idx[i] = entries[i].index;
		report_index_status(prism::check_sparse_indices(idx, nnz, r.dim));
	}
	SparseVector *v = new_sparsevec(r.dim, nnz);
	float *values = sparsevec_values(v);
	for (int i = 0; i < nnz; i++) {
		v->indices[i] = entries[i].index;
		values[i] = entries[i].value;
	}
	report_index_status(prism::check_sparse_indices(v->indices, nnz, r.dim));
	pfree(entries);
	PG_RETURN_SPARSEVEC_P(v);
}

PRISM_FUNCTION(sparsevec_out)
{
	SparseVector *v = PG_GETARG_SPARSEVEC_P(0);
	char *buf = (char *) palloc(prism::sparsevec_text_size(v->nnz));
	prism::format_sparsevec(sparse_view(v), buf);
	PG_FREE_IF_COPY(v, 0);
	PG_RETURN_CSTRING(buf);
}

PRISM_FUNCTION(sparsevec_typmod_in)
{
	PG_RETURN_INT32(dims_typmod_in(PG_GETARG_ARRAYTYPE_P(0), "sparsevec", SPARSEVEC_MAX_DIM));
}

// Wire format (pgvector's): int32 dim, int32 nnz, int32 unused (0), nnz 0-based int32 indices,
// nnz float4 values, all big-endian.
PRISM_FUNCTION(sparsevec_recv)
{
	StringInfo buf = (StringInfo) PG_GETARG_POINTER(0);
	int32 typmod = PG_GETARG_INT32(2);
	using S = prism::SparseBinaryStatus;

	// Size the output from the header's nnz when it is sane; otherwise the decoder reports the
	// header's problem before it needs room. It gets exactly the bytes nnz claims, so bytes
	// after them are left for Postgres to reject.
	const uint8_t *bytes = (const uint8_t *) buf->data + buf->cursor;
	size_t left = (size_t) (buf->len - buf->cursor);
	int64 nnz = left >= 8 ? (int32) (((uint32) bytes[4] << 24) | ((uint32) bytes[5] << 16) |
									  ((uint32) bytes[6] << 8) | (uint32) bytes[7])
						   : -1;
	bool sane = nnz >= 0 && nnz <= SPARSEVEC_MAX_NNZ;
	int32 *indices = sane ? (int32 *) palloc(sizeof(int32) * (nnz + 1)) : NULL;
	float *values = sane ? (float *) palloc(sizeof(float) * (nnz + 1)) : NULL;
	size_t want = sane ? Min(left, prism::sparsevec_binary_size(nnz)) : left;
	prism::SparseBinaryResult r =
		prism::decode_sparsevec_binary(bytes, want, typmod, indices, values, sane ? (size_t) nnz : 0);

	switch (r.status) {
	case S::Ok: {
		buf->cursor += (int) prism::sparsevec_binary_size(r.nnz);
		SparseVector *v = new_sparsevec(r.dim, r.nnz);
		memcpy(v->indices, indices, sizeof(int32) * r.nnz);
		memcpy(sparsevec_values(v), values, sizeof(float) * r.nnz);
		PG_RETURN_SPARSEVEC_P(v);
	}
	case S::Truncated:
		ereport(ERROR, (errcode(ERRCODE_PROTOCOL_VIOLATION), errmsg("insufficient data left in message")));
		break;
	case S::BadDim:
		check_sparsevec_dim(r.dim);
		break;
	case S::NegativeNnz:
	case S::TooManyNnz:
	case S::NnzAboveDim:
		check_sparsevec_nnz(r.nnz, r.dim);
		break;
	case S::DimMismatch:
		check_expected_dim(typmod, r.dim);
		break;
	case S::UnusedNotZero:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION), errmsg("expected unused to be 0, not %d", r.unused)));
		break;
	case S::IndexOutOfBounds:
		report_index_status(prism::SparseIndexStatus::OutOfBounds);
		break;
	case S::NotAscending:
		report_index_status(prism::SparseIndexStatus::NotAscending);
		break;
	case S::Duplicate:
		report_index_status(prism::SparseIndexStatus::Duplicate);
		break;
	case S::NotANumber:
		check_sparsevec_element(NAN);
		break;
	case S::Infinite:
		check_sparsevec_element(INFINITY);
		break;
	case S::ZeroValue:
		ereport(ERROR, (errcode(ERRCODE_DATA_EXCEPTION),
						errmsg("binary representation of sparsevec cannot contain zero values")));
		break;
	case S::TrailingBytes:
		break;	// not reached: `want` ends at the last value
	}
	ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
					errmsg("unexpected sparsevec binary decoder status %d", (int) r.status)));
	PG_RETURN_NULL();
}

PRISM_FUNCTION(sparsevec_send)
{
	SparseVector *v = PG_GETARG_SPARSEVEC_P(0);
	float *values = sparsevec_values(v);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, v->dim);
	pq_sendint32(&buf, v->nnz);
	pq_sendint32(&buf, v->unused);
	for (int i = 0; i < v->nnz; i++)
		pq_sendint32(&buf, v->indices[i]);
	for (int i = 0; i < v->nnz; i++)
		pq_sendfloat4(&buf, values[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

// sparsevec(sparsevec, typmod, explicit): the length coercion behind sparsevec(n).
PRISM_FUNCTION(sparsevec)
{
	SparseVector *v = PG_GETARG_SPARSEVEC_P(0);
	check_expected_dim(PG_GETARG_INT32(1), v->dim);
	PG_RETURN_SPARSEVEC_P(v);
}

// Dense -> sparse: keeps the non-zero elements (-0 counts as zero).
static SparseVector *from_dense(const float *x, int dim, int32 typmod)
{
	check_sparsevec_dim(dim);
	check_expected_dim(typmod, dim);
	int nnz = 0;
	for (int i = 0; i < dim; i++)
		nnz += x[i] != 0;
	SparseVector *v = new_sparsevec(dim, nnz);
	float *values = sparsevec_values(v);
	int j = 0;
	for (int i = 0; i < dim; i++) {
		if (x[i] != 0) {
			v->indices[j] = i;
			values[j] = x[i];
			j++;
		}
	}
	return v;
}

PRISM_FUNCTION(vector_to_sparsevec)
{
	Vector *a = PG_GETARG_VECTOR_P(0);
	PG_RETURN_SPARSEVEC_P(from_dense(a->x, a->dim, PG_GETARG_INT32(1)));
}

PRISM_FUNCTION(halfvec_to_sparsevec)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	float *x = (float *) palloc(sizeof(float) * a->dim);
	prism::best_half_kernels().to_float(a->x, x, (size_t) a->dim);
	SparseVector *v = from_dense(x, a->dim, PG_GETARG_INT32(1));
	pfree(x);
	PG_RETURN_SPARSEVEC_P(v);
}

PRISM_FUNCTION(sparsevec_to_vector)
{
	SparseVector *s = PG_GETARG_SPARSEVEC_P(0);
	int32 typmod = PG_GETARG_INT32(1);
	float *values = sparsevec_values(s);

	check_dim(s->dim);
	check_expected_dim(typmod, s->dim);
	Vector *v = new_vector(s->dim);
	for (int i = 0; i < s->nnz; i++)
		v->x[s->indices[i]] = values[i];
	PG_RETURN_VECTOR_P(v);
}

PRISM_FUNCTION(sparsevec_to_halfvec)
{
	SparseVector *s = PG_GETARG_SPARSEVEC_P(0);
	int32 typmod = PG_GETARG_INT32(1);
	float *values = sparsevec_values(s);

	check_halfvec_dim(s->dim);
	check_expected_dim(typmod, s->dim);
	HalfVector *v = new_halfvec(s->dim);
	for (int i = 0; i < s->nnz; i++)
		v->x[s->indices[i]] = float_to_half_checked(values[i]);
	PG_RETURN_HALFVEC_P(v);
}

// array_to_sparsevec(int4/float4/float8/numeric array, typmod, explicit): the non-zero
// elements (after conversion to float4); NaN and infinity are rejected.
PRISM_FUNCTION(array_to_sparsevec)
{
	int32 typmod = PG_GETARG_INT32(1);
	int n;
	Oid elemtype;
	Datum *elems = numeric_array_elements(PG_GETARG_ARRAYTYPE_P(0), &n, &elemtype);

	check_sparsevec_dim(n);
	check_expected_dim(typmod, n);
	float *x = (float *) palloc(sizeof(float) * n);
	for (int i = 0; i < n; i++)
		x[i] = array_element_float(elems[i], elemtype);
	SparseVector *v = from_dense(x, n, -1);
	float *values = sparsevec_values(v);
	for (int i = 0; i < v->nnz; i++)
		check_sparsevec_element(values[i]);
	pfree(x);
	pfree(elems);
	PG_RETURN_SPARSEVEC_P(v);
}
