// libFuzzer target over the vector binary receive checks (src/core/vector_binary.h), the same
// checks vector_recv applies to pgvector's wire format. Any input must be accepted or rejected
// without a crash or sanitizer report; whatever is accepted must re-encode to the identical
// bytes, satisfy the typmod it claims, and survive the text form (print, parse) bit for bit.
// Built and run by test/fuzz/run_fuzz.
#include "core/vector_binary.h"
#include "core/vector_text.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr size_t kMaxDim = 16000;  // VECTOR_MAX_DIM

[[noreturn]] void fail(const char *what, size_t size)
{
	std::fprintf(stderr, "fuzz_vector_binary: %s (input of %zu bytes)\n", what, size);
	std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	// Copy so ASan sees the exact extent (libFuzzer's buffer is exact too, but be explicit).
	std::vector<uint8_t> buf(data, data + size);
	// Output sized exactly as vector_recv sizes it, from the header's dim, so ASan flags any
	// write past it (a bad dim gets a 1-element buffer: it must not be written past either).
	int header_dim = size >= 2 ? static_cast<int16_t>((buf[0] << 8) | buf[1]) : 0;
	size_t cap = header_dim >= 1 && static_cast<size_t>(header_dim) <= kMaxDim ? header_dim : 1;
	std::vector<float> x(cap);
	prism::BinaryResult r = prism::decode_vector_binary(buf.data(), size, -1, kMaxDim, x.data(), x.size());
	if (r.status != prism::BinaryStatus::Truncated && r.dim != header_dim)
		fail("dim differs from the header", size);

	// A too-small output buffer must be refused, never overrun: capacity dim-1 on exact bytes.
	if (r.dim >= 1 && static_cast<size_t>(r.dim) <= kMaxDim) {
		std::vector<float> small(static_cast<size_t>(r.dim) - 1);
		prism::BinaryResult s = prism::decode_vector_binary(buf.data(), size, -1, kMaxDim, small.data(),
															small.size());
		if (s.status == prism::BinaryStatus::Ok)
			fail("accepted more elements than the capacity", size);
	}

	if (r.status != prism::BinaryStatus::Ok) {
		// A typmod never turns a rejected input into an accepted one.
		prism::BinaryResult t =
			prism::decode_vector_binary(buf.data(), size, r.dim, kMaxDim, x.data(), x.size());
		if (t.status == prism::BinaryStatus::Ok)
			fail("typmod made a rejected input acceptable", size);
		return 0;
	}

	size_t dim = static_cast<size_t>(r.dim);
	if (r.dim < 1 || dim > kMaxDim || size != prism::vector_binary_size(dim) || r.unused != 0)
		fail("accepted a malformed header or length", size);
	for (size_t i = 0; i < dim; i++)
		if (!std::isfinite(x[i]))
			fail("accepted a non-finite element", size);

	// The typmod it claims is accepted, any other is refused.
	std::vector<float> z(dim);
	if (prism::decode_vector_binary(buf.data(), size, r.dim, kMaxDim, z.data(), z.size()).status !=
		prism::BinaryStatus::Ok)
		fail("own typmod refused", size);
	if (prism::decode_vector_binary(buf.data(), size, r.dim + 1, kMaxDim, z.data(), z.size()).status !=
		prism::BinaryStatus::DimMismatch)
		fail("other typmod accepted", size);

	// send(recv(bytes)) == bytes.
	std::vector<uint8_t> again(prism::vector_binary_size(dim));
	if (prism::encode_vector_binary(x.data(), dim, again.data()) != size ||
		std::memcmp(again.data(), buf.data(), size) != 0)
		fail("re-encoding differs from the input", size);

	// Text form of a received vector reads back to the same floats.
	std::vector<char> text(prism::vector_text_size(dim));
	prism::format_vector(x.data(), dim, text.data());
	std::vector<float> y(dim);
	prism::ParseResult p = prism::parse_vector_text(text.data(), y.data(), dim, kMaxDim);
	if (p.status != prism::ParseStatus::Ok || p.dim != dim ||
		std::memcmp(x.data(), y.data(), dim * sizeof(float)) != 0)
		fail("text form of a received vector does not read back", size);
	return 0;
}
