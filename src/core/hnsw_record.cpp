// Bounds-checked decode of hnsw records (hnsw_record.h) for bytes no checker has passed yet.
#include "core/hnsw_record.h"

#include "core/hnsw_page_check.h"

namespace prism {
namespace hnsw {

const char *decode_element_record(const void *bytes, size_t len, int m, size_t words, DecodedRecord *out)
{
	if (m < kMinM || m > kMaxM)
		return "m out of range";
	if (len < sizeof(ElementHeader))
		return "record shorter than its header";
	RecordView r(bytes);
	out->header = r.header();
	out->element = nullptr;
	if (const char *fault = element_header_fault(out->header, m))
		return fault;
	int n = out->header.flags == kElementLive || out->header.flags == kElementDeleted ? r.n_links0() : 0;
	if (links0_offset() + sizeof(uint32_t) * n > len)
		return "level-0 links past the end of the record";
	for (int i = 0; i < n; i++)
		out->links0[i] = r.link0(i);
	if (element_record_size(m, words) <= len)
		out->element = r.bytes() + vector_offset(m);
	return nullptr;
}

const char *decode_upper_item(const void *bytes, size_t len, int m, DecodedUpper *out)
{
	if (m < kMinM || m > kMaxM)
		return "m out of range";
	out->level = upper_item_level(m, len);
	if (out->level == 0)
		return "upper item size fits no level";
	UpperView u(bytes, out->level, m);
	for (int l = 1; l <= out->level; l++) {
		out->counts[l] = u.count(l);
		if (out->counts[l] > m)
			return "more upper links than m";
	}
	return nullptr;
}

}  // namespace hnsw
}  // namespace prism
