// libFuzzer target over the halfvec text parser/printer and wire decoder
// (src/core/halfvec_codec.h). Each input is tried as text and as a binary message. Anything
// must parse or be rejected without a crash, hang or sanitizer report; whatever parses must
// print within the advertised size and read back to the same halves, bit for bit, and a decoded
// message must encode back to the same bytes. Built and run by test/fuzz/run_fuzz.
#include "core/halfvec_codec.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr size_t kMaxDim = 16000;  // HALFVEC_MAX_DIM

[[noreturn]] void fail(const char *what, const char *text)
{
	std::fprintf(stderr, "fuzz_halfvec: %s\ninput: %.200s\n", what, text);
	std::abort();
}

// Parses as halfvec_in does: buffer sized from the text, capped at kMaxDim.
prism::ParseResult parse(const char *text, std::vector<prism::half_bits> &out)
{
	size_t cap = prism::vector_text_max_elements(text);
	if (cap > kMaxDim)
		cap = kMaxDim;
	out.assign(cap, 0);
	return prism::parse_halfvec_text(text, out.data(), cap, kMaxDim);
}

void check_text(const uint8_t *data, size_t size)
{
	// The server hands halfvec_in a NUL-terminated cstring; an embedded NUL ends it early.
	std::vector<char> text(data, data + size);
	text.push_back('\0');

	std::vector<prism::half_bits> x;
	prism::ParseResult r = parse(text.data(), x);
	if (r.status != prism::ParseStatus::Ok) {
		if (r.status == prism::ParseStatus::OutOfRange &&
			(r.token < text.data() || r.token + r.token_len > text.data() + size || r.token_len == 0))
			fail("OutOfRange token outside the input", text.data());
		return;
	}
	if (r.dim < 1 || r.dim > kMaxDim)
		fail("Ok with a dim out of range", text.data());
	for (size_t i = 0; i < r.dim; i++)
		if (prism::half_is_nan(x[i]) || prism::half_is_inf(x[i]))
			fail("Ok with a NaN or infinite element", text.data());

	size_t need = prism::vector_text_size(r.dim);
	std::vector<char> out(need);
	size_t len = prism::format_halfvec(x.data(), r.dim, out.data());
	if (len + 1 > need || std::strlen(out.data()) != len)
		fail("format_halfvec length disagrees with vector_text_size", text.data());

	std::vector<prism::half_bits> y;
	prism::ParseResult r2 = parse(out.data(), y);
	if (r2.status != prism::ParseStatus::Ok || r2.dim != r.dim ||
		std::memcmp(x.data(), y.data(), r.dim * sizeof(prism::half_bits)) != 0)
		fail("printed form does not read back to the same halves", out.data());
}

void check_binary(const uint8_t *data, size_t size)
{
	static std::vector<prism::half_bits> x(kMaxDim);  // reused: allocating it per input dominated
	prism::BinaryResult r = prism::decode_halfvec_binary(data, size, -1, kMaxDim, x.data(), x.size());
	if (r.status != prism::BinaryStatus::Ok)
		return;
	std::vector<uint8_t> again(prism::halfvec_binary_size(r.dim));
	size_t n = prism::encode_halfvec_binary(x.data(), r.dim, again.data());
	if (n != size || std::memcmp(again.data(), data, size) != 0)
		fail("decoded message does not encode back to the same bytes", "(binary)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_text(data, size);
	check_binary(data, size);
	return 0;
}
