// The `sparsevec` type's pure parts (pgvector 0.8's formats and semantics): the text form
// `{1:1.5,3:2}/5` (1-based indices, zeros dropped, any order on input, sorted on output), the
// binary wire form (int32 dim, int32 nnz, int32 unused, nnz 0-based int32 indices, nnz float4
// values, all big-endian), and merge-based distances and ordering over sorted non-zeros.
// Pure C++17; the Postgres layer maps statuses to ereports with pgvector's wording.
#pragma once

#include "core/core_only.h"

#include <cstddef>
#include <cstdint>

namespace prism {

constexpr int32_t kSparsevecMaxDim = 1000000000;
constexpr int32_t kSparsevecMaxNnz = 16000;

// A sparse vector's contents: strictly ascending 0-based indices below dim, non-zero values.
struct SparseView {
	int32_t dim;
	int32_t nnz;
	const int32_t *indices;
	const float *values;
};

// --- text ---------------------------------------------------------------------------------

enum class SparseParseStatus {
	Ok,
	TooManyNnz,		// more than kSparsevecMaxNnz elements (judged by the commas, first of all)
	MissingBrace,	// does not start with "{"
	Syntax,			// malformed text, no detail
	UnexpectedEnd,	// no "/" after the closing "}"
	JunkAfter,		// something after the dimensions
	OutOfRange,		// a value overflows or underflows float; token names it
	NotANumber,
	Infinite,
};

struct SparseEntry {
	int32_t index;	// 0-based
	float value;
};

struct SparseParseResult {
	SparseParseStatus status;
	size_t nnz;			// entries stored (valid when Ok)
	int32_t dim;		// as written, clamped to the int32 range (valid when Ok)
	const char *token;	// OutOfRange only
	size_t token_len;
};

// Entries buffer a text needs: one more than its commas (callers reject more than
// kSparsevecMaxNnz before parsing, as pgvector does).
size_t sparsevec_text_max_entries(const char *text);

// Parses a NUL-terminated sparsevec literal into out[0..capacity) (capacity at least
// sparsevec_text_max_entries(text)), in pgvector's order of checks. Zero values are dropped; the
// entries come back sorted by index but NOT yet checked against dim or for duplicates: the
// caller checks dim, then the typmod, then check_sparse_indices (pgvector's order).
SparseParseResult parse_sparsevec_text(const char *text, SparseEntry *out, size_t capacity);

enum class SparseIndexStatus { Ok, OutOfBounds, NotAscending, Duplicate };

// Checks indices[0..nnz) in order: each within [0, dim), above the previous one.
SparseIndexStatus check_sparse_indices(const int32_t *indices, size_t nnz, int32_t dim);

// Bytes format_sparsevec may write for nnz entries, including the NUL.
constexpr size_t sparsevec_text_size(size_t nnz) { return nnz * (11 + 1 + 15 + 1) + 2 + 1 + 11 + 1; }

// Writes "{i:v,...}/dim" (1-based indices) into buf; returns its length.
size_t format_sparsevec(const SparseView &v, char *buf);

// --- binary -------------------------------------------------------------------------------

enum class SparseBinaryStatus {
	Ok,
	Truncated,		 // the message ends before a field
	BadDim,			 // dim < 1 or > kSparsevecMaxDim
	NegativeNnz,
	TooManyNnz,		 // nnz > kSparsevecMaxNnz (or > capacity)
	NnzAboveDim,	 // nnz > dim
	DimMismatch,	 // typmod given and != dim
	UnusedNotZero,
	IndexOutOfBounds,
	NotAscending,
	Duplicate,
	NotANumber,
	Infinite,
	ZeroValue,		 // the binary form stores only non-zeros
	TrailingBytes,
};

struct SparseBinaryResult {
	SparseBinaryStatus status;
	int32_t dim;	 // header fields (valid from BadDim on)
	int32_t nnz;
	int32_t unused;
};

constexpr size_t kSparsevecBinaryHeader = 12;
constexpr size_t sparsevec_binary_size(size_t nnz) { return kSparsevecBinaryHeader + 8 * nnz; }

// Decodes the wire form into indices/values[0..capacity), checking in sparsevec_recv's order
// (header, dim, nnz, typmod, unused, each index, each value); typmod -1 means any dim.
SparseBinaryResult decode_sparsevec_binary(const uint8_t *buf, size_t len, int32_t typmod,
										   int32_t *indices, float *values, size_t capacity);

// Writes the wire form into buf (sparsevec_binary_size(v.nnz) bytes); returns its size.
size_t encode_sparsevec_binary(const SparseView &v, uint8_t *buf);

// --- distances and order (float accumulation in ascending index order, as pgvector) ---------

float sparse_l2sq(const SparseView &a, const SparseView &b);
float sparse_dot(const SparseView &a, const SparseView &b);
float sparse_l1(const SparseView &a, const SparseView &b);
float sparse_norm_sq(const SparseView &a);	// float sum of squares (cosine's norms)

// Compares as the dense vectors would: element by element over the shorter length, then the
// shorter vector first. -1, 0 or 1.
int sparse_compare(const SparseView &a, const SparseView &b);

}  // namespace prism
