// libFuzzer target over the vector text parser and printer (src/core/vector_text.h). Any input
// must parse or be rejected without a crash, hang or sanitizer report; whatever parses must
// print within the advertised buffer size and read back to bit-identical floats (and then print
// the same text again). Built and run by test/fuzz/run_fuzz.
#include "core/vector_text.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr size_t kMaxDim = 16000;  // VECTOR_MAX_DIM

[[noreturn]] void fail(const char *what, const char *text)
{
	std::fprintf(stderr, "fuzz_vector_text: %s\ninput: %.200s\n", what, text);
	std::abort();
}

// Parses as vector_in does: buffer sized from the comma count, capped at kMaxDim.
prism::ParseResult parse(const char *text, std::vector<float> &out)
{
	size_t cap = prism::vector_text_max_elements(text);
	if (cap > kMaxDim)
		cap = kMaxDim;
	out.assign(cap, 0.0f);
	return prism::parse_vector_text(text, out.data(), cap, kMaxDim);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	// The server hands vector_in a NUL-terminated cstring; an embedded NUL ends it early.
	std::vector<char> text(data, data + size);
	text.push_back('\0');

	std::vector<float> x;
	prism::ParseResult r = parse(text.data(), x);
	if (r.status != prism::ParseStatus::Ok) {
		if (r.status == prism::ParseStatus::OutOfRange) {
			const char *lo = text.data(), *hi = text.data() + size;
			if (r.token < lo || r.token + r.token_len > hi || r.token_len == 0)
				fail("OutOfRange token outside the input", text.data());
		}
		return 0;
	}
	if (r.dim < 1 || r.dim > kMaxDim || r.dim > x.size())
		fail("Ok with a dim out of range", text.data());

	// Print into a buffer of exactly the advertised size; ASan catches any overrun.
	size_t need = prism::vector_text_size(r.dim);
	std::vector<char> out(need);
	size_t len = prism::format_vector(x.data(), r.dim, out.data());
	if (len + 1 > need || std::strlen(out.data()) != len)
		fail("format_vector length disagrees with vector_text_size", text.data());
	for (size_t i = 0; i < r.dim; i++) {
		char one[prism::kFloatTextMax + 1];
		if (prism::format_float(x[i], one) > prism::kFloatTextMax)
			fail("format_float longer than kFloatTextMax", text.data());
	}

	// Whatever parses must print and re-parse to the same floats, bit for bit (-0 included).
	std::vector<float> y;
	prism::ParseResult r2 = parse(out.data(), y);
	if (r2.status != prism::ParseStatus::Ok)
		fail("printed form does not parse", out.data());
	if (r2.dim != r.dim || std::memcmp(x.data(), y.data(), r.dim * sizeof(float)) != 0)
		fail("printed form reads back to different floats", out.data());

	// And print the same text again: the printed form is canonical.
	std::vector<char> out2(need);
	size_t len2 = prism::format_vector(y.data(), r2.dim, out2.data());
	if (len2 != len || std::memcmp(out.data(), out2.data(), len) != 0)
		fail("printed form is not stable", out.data());
	return 0;
}
