// Text and binary forms of the `halfvec` type (pgvector's): text `[1,2.5,-3]` like vector, each
// element read as a float (strtof) and rounded to the nearest half; binary int16 dim, int16
// unused (0), then dim half bit patterns, all big-endian. Printing writes each half as the
// shortest float text that reads back to it as a float (what pgvector prints). Pure C++17; the
// Postgres layer maps the statuses to ereports with pgvector's wording.
#pragma once

#include "core/core_only.h"
#include "core/half.h"
#include "core/vector_binary.h"
#include "core/vector_text.h"

#include <cstddef>
#include <cstdint>

namespace prism {

// Parses a NUL-terminated halfvec literal into out[0..capacity), checking element by element in
// pgvector's order: a malformed element, an element out of float or half range (OutOfRange,
// token names it: "1e39", "65520"), NaN, infinity; the first failure is returned. "[]" gives
// Empty; more than max_dim elements TooManyDims. capacity must be at least
// min(vector_text_max_elements(text), max_dim).
ParseResult parse_halfvec_text(const char *text, half_bits *out, size_t capacity, size_t max_dim);

// Writes "[x1,x2,...]" into buf (at least vector_text_size(n) bytes); returns its length.
size_t format_halfvec(const half_bits *x, size_t n, char *buf);

constexpr size_t halfvec_binary_size(size_t n) { return kVectorBinaryHeader + 2 * n; }

// Decodes pgvector's halfvec wire form; same checks, order and statuses as
// decode_vector_binary (NaN and infinite halves are rejected).
BinaryResult decode_halfvec_binary(const uint8_t *buf, size_t len, int32_t typmod, size_t max_dim,
								   half_bits *out, size_t capacity);

// Writes the wire form of x[0..n) into buf (halfvec_binary_size(n) bytes); returns its size.
size_t encode_halfvec_binary(const half_bits *x, size_t n, uint8_t *buf);

}  // namespace prism
