// libFuzzer target over the sparsevec text parser/printer and wire decoder
// (src/core/sparsevec.h). Each input is tried as text and as a binary message. Anything must
// parse or be rejected without a crash, hang or sanitizer report; a text that passes every check
// sparsevec_in makes must print within the advertised size and read back to the same entries,
// and a decoded message must encode back to the same bytes. Built and run by test/fuzz/run_fuzz.
#include "core/sparsevec.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

[[noreturn]] void fail(const char *what, const char *text)
{
	std::fprintf(stderr, "fuzz_sparsevec: %s\ninput: %.200s\n", what, text);
	std::abort();
}

// Parses and checks as sparsevec_in does; true when the server would accept the text.
bool parse(const char *text, std::vector<prism::SparseEntry> &e, std::vector<int32_t> &idx,
		   std::vector<float> &val, int32_t *dim)
{
	size_t cap = prism::sparsevec_text_max_entries(text);
	if (cap > size_t(prism::kSparsevecMaxNnz))
		cap = prism::kSparsevecMaxNnz;
	e.assign(cap, prism::SparseEntry{0, 0});
	prism::SparseParseResult r = prism::parse_sparsevec_text(text, e.data(), cap);
	if (r.status != prism::SparseParseStatus::Ok)
		return false;
	if (r.nnz > cap)
		fail("more entries than the buffer holds", text);
	if (r.dim < 1 || r.dim > prism::kSparsevecMaxDim)
		return false;
	idx.clear();
	val.clear();
	for (size_t i = 0; i < r.nnz; i++) {
		if (e[i].value == 0 || e[i].value != e[i].value)
			fail("zero or NaN value kept", text);
		idx.push_back(e[i].index);
		val.push_back(e[i].value);
	}
	if (prism::check_sparse_indices(idx.data(), idx.size(), r.dim) != prism::SparseIndexStatus::Ok)
		return false;
	*dim = r.dim;
	return true;
}

void check_text(const uint8_t *data, size_t size)
{
	std::vector<char> text(data, data + size);
	text.push_back('\0');

	std::vector<prism::SparseEntry> e;
	std::vector<int32_t> idx, idx2;
	std::vector<float> val, val2;
	int32_t dim, dim2;
	if (!parse(text.data(), e, idx, val, &dim))
		return;
	prism::SparseView v{dim, int32_t(idx.size()), idx.data(), val.data()};
	size_t need = prism::sparsevec_text_size(idx.size());
	std::vector<char> out(need);
	size_t len = prism::format_sparsevec(v, out.data());
	if (len + 1 > need || std::strlen(out.data()) != len)
		fail("format_sparsevec length disagrees with sparsevec_text_size", text.data());
	if (!parse(out.data(), e, idx2, val2, &dim2) || dim2 != dim || idx2 != idx || val2.size() != val.size() ||
		(!val.empty() && std::memcmp(val.data(), val2.data(), val.size() * sizeof(float)) != 0))
		fail("printed form does not read back to the same entries", out.data());
}

void check_binary(const uint8_t *data, size_t size)
{
	static std::vector<int32_t> idx(prism::kSparsevecMaxNnz);  // reused across inputs
	static std::vector<float> val(prism::kSparsevecMaxNnz);
	prism::SparseBinaryResult r =
		prism::decode_sparsevec_binary(data, size, -1, idx.data(), val.data(), idx.size());
	if (r.status != prism::SparseBinaryStatus::Ok)
		return;
	prism::SparseView v{r.dim, r.nnz, idx.data(), val.data()};
	std::vector<uint8_t> again(prism::sparsevec_binary_size(r.nnz));
	size_t n = prism::encode_sparsevec_binary(v, again.data());
	if (n != size || std::memcmp(again.data(), data, size) != 0)
		fail("decoded message does not encode back to the same bytes", "(binary)");
	// distances of a valid vector with itself are finite and self-consistent
	if (prism::sparse_l2sq(v, v) != 0 || prism::sparse_compare(v, v) != 0)
		fail("a vector is not at distance 0 from itself", "(binary)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_text(data, size);
	check_binary(data, size);
	return 0;
}
