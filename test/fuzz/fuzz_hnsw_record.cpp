// libFuzzer target over the hnsw record codec (src/core/hnsw_record.h). Input: m (1 byte), words
// (2 bytes), chunk (2 bytes), then the record bytes. Any bytes must be decoded or rejected
// without a crash, a sanitizer report or a read outside them; what the decode accepts must be
// readable through the views within the bytes (the input buffer is exactly that long, so ASan
// reports any read past it); the chunks of a record of that size must gather its element words
// exactly. Built and run by test/fuzz/run_fuzz.
#include "core/hnsw_record.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using namespace prism::hnsw;

[[noreturn]] void fail(const char *what)
{
	std::fprintf(stderr, "fuzz_hnsw_record: %s\n", what);
	std::abort();
}

void element(const unsigned char *bytes, size_t len, int m, size_t words)
{
	DecodedRecord d;
	if (decode_element_record(bytes, len, m, words, &d) != nullptr)
		return;
	RecordView r(bytes);
	if (r.flags() != d.header.flags || r.level() != d.header.level)
		fail("view and decode disagree");
	if (r.in_graph()) {
		uint32_t out[2 * kMaxM];
		int n = r.copy_links0(out);
		if (n > 2 * m)
			fail("accepted more level-0 links than 2m");
		for (int i = 0; i < n; i++)
			if (out[i] != d.links0[i] || r.link0(i) != out[i])
				fail("links differ");
	}
	if (d.element != nullptr) {
		if (d.element + sizeof(uint32_t) * words > bytes + len)
			fail("element past the record");
		volatile float sum = 0;
		const float *e = r.element(m);
		for (size_t i = 0; i < words; i++) {
			float x;
			memcpy(&x, e + i, sizeof(x));
			sum = sum + x;
		}
	}
}

void upper(const unsigned char *bytes, size_t len, int m)
{
	DecodedUpper d;
	if (decode_upper_item(bytes, len, m, &d) != nullptr)
		return;
	if (upper_item_size(m, d.level) != len)
		fail("accepted an upper item of the wrong size");
	UpperView u(bytes, d.level, m);
	uint32_t out[kMaxM];
	for (int l = 1; l <= d.level; l++) {
		if (d.counts[l] > m)
			fail("accepted more upper links than m");
		u.copy_links(l, d.counts[l], out);
	}
}

// The bytes as a spanning record of `words` element words cut in `chunk`-byte chunks.
void gather(const unsigned char *bytes, size_t len, int m, size_t words, size_t chunk)
{
	size_t record = element_record_size(m, words);
	if (chunk <= vector_offset(m) || record > len)
		return;
	std::vector<float> dst(words + 1, 0.0f);
	const float guard = 12345.0f;
	dst[words] = guard;
	ElementGather g(dst.data(), m, words, record, chunk);
	std::vector<unsigned char> first(bytes, bytes + record_chunk(record, chunk, 0).length);
	g.first(first.data());
	uint32_t p = 1;
	for (; g.more(); p++) {
		ChunkRange r = record_chunk(record, chunk, p);
		if (r.length == 0 || r.length != g.chunk_length(p))
			fail("chunk lengths disagree");
		std::vector<unsigned char> part(bytes + r.offset, bytes + r.offset + r.length);  // exact size
		g.add(p, part.data());
	}
	if (p != chunk_count(record, chunk))
		fail("gather stopped before the last chunk");
	if (dst[words] != guard || memcmp(dst.data(), bytes + vector_offset(m), sizeof(float) * words) != 0)
		fail("gathered element differs from the record's");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	int m = kMinM + data[0] % (kMaxM - kMinM + 1);
	size_t words = (size_t) (data[1] | (data[2] << 8)) % 4096;
	size_t chunk = 64 + (size_t) (data[3] | (data[4] << 8)) % 8192;
	std::vector<unsigned char> bytes(data + 5, data + size);  // exactly the record's length
	element(bytes.data(), bytes.size(), m, words);
	upper(bytes.data(), bytes.size(), m);
	gather(bytes.data(), bytes.size(), m, words, chunk);
	return 0;
}
