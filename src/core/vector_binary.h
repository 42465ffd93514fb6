// Binary (send/recv) form of the `vector` type, pgvector's wire format: int16 dim, int16 unused
// (must be 0), then dim float4, all big-endian. Decoding is pure byte-span code so it can be
// unit-tested and fuzzed without a server; the Postgres layer maps a BinaryResult to an ereport.
#pragma once

#include "core/core_only.h"

#include <cstddef>
#include <cstdint>

namespace prism {

enum class BinaryStatus {
	Ok,
	Truncated,		// fewer bytes than the header or than dim elements need
	BadDim,			// dim < 1 or dim > max_dim
	DimMismatch,	// typmod given (not -1) and differs from dim
	UnusedNotZero,	// the reserved int16 is not 0
	NotANumber,		// a NaN element
	Infinite,		// an infinite element
	TrailingBytes,	// bytes left after the last element
};

struct BinaryResult {
	BinaryStatus status;
	int dim;		// header dim (valid from BadDim on; elements in out when status == Ok)
	int unused;		// header unused field (valid from UnusedNotZero on)
};

// Header bytes before the elements.
constexpr size_t kVectorBinaryHeader = 4;

// Bytes of the binary form of an n-element vector.
constexpr size_t vector_binary_size(size_t n) { return kVectorBinaryHeader + 4 * n; }

// Decodes buf[0..len) into out[0..capacity). Checks run in the order vector_recv performs them
// (header, dim range, typmod, unused, then each element: present, finite), so the first failure
// is the one a server reports; bytes after the last element give TrailingBytes. dim > capacity
// gives BadDim too, so out can never overflow. typmod -1 means "any dim".
BinaryResult decode_vector_binary(const uint8_t *buf, size_t len, int32_t typmod, size_t max_dim,
								  float *out, size_t capacity);

// Writes the binary form of x[0..n) into buf (at least vector_binary_size(n) bytes); returns
// the bytes written. n must fit in int16.
size_t encode_vector_binary(const float *x, size_t n, uint8_t *buf);

}  // namespace prism
