// Text form of the `vector` type: parsing `[1,2.5,-3e-2]` and printing floats in the shortest
// form that reads back to the same float, laid out exactly as Postgres' float4out (and so
// pgvector) prints them. Pure C++17; the Postgres layer turns a ParseResult into an ereport.
#pragma once

#include "core/core_only.h"

#include <cstddef>

namespace prism {

enum class ParseStatus {
	Ok,
	Syntax,			   // malformed text, no detail
	MissingBracket,	   // does not start with "["
	JunkAfter,		   // something after the closing "]"
	Empty,			   // "[]": no elements
	TooManyDims,	   // more than max_dim elements
	OutOfRange,		   // an element overflows float (e.g. 1e39); token names it
	NotANumber,		   // NaN element
	Infinite,		   // Infinity element
};

struct ParseResult {
	ParseStatus status;
	size_t dim;				 // elements stored in out (valid when status == Ok)
	const char *token;		 // offending element text (OutOfRange only)
	size_t token_len;
};

// Upper bound on the number of elements a valid `text` holds (half its length, plus one), so
// the caller can size the output buffer before parsing.
size_t vector_text_max_elements(const char *text);

// Parses a NUL-terminated vector literal into out[0..capacity). Elements beyond max_dim give
// TooManyDims; capacity must be at least min(vector_text_max_elements(text), max_dim).
// Whitespace is allowed around the brackets and the elements. Underflow (1e-46) reads as 0,
// as pgvector does; overflow is an error.
ParseResult parse_vector_text(const char *text, float *out, size_t capacity, size_t max_dim);

// Longest output of format_float, without the terminating NUL ("-1.2345678e-38").
constexpr size_t kFloatTextMax = 15;

// Writes the shortest round-trip decimal form of a finite float into buf (at least
// kFloatTextMax + 1 bytes), NUL-terminated; returns its length. Fixed notation for decimal
// exponents -4..5, otherwise d.ddde+XX, as Postgres' float4out does.
size_t format_float(float value, char *buf);

// Bytes needed to print n elements with format_vector, including "[", "]" and the NUL.
constexpr size_t vector_text_size(size_t n) { return 2 + n * (kFloatTextMax + 1) + 1; }

// Writes "[x1,x2,...]" into buf (at least vector_text_size(n) bytes); returns its length.
size_t format_vector(const float *x, size_t n, char *buf);

}  // namespace prism
