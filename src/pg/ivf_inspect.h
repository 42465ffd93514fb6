// prism.index_info() and prism.index_check() on an ivfflat index (ivf_info.cpp): the hnsw
// functions (hnsw_info.cpp) hand ivfflat indexes over to these. Postgres types only, so both
// sides can include it.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

namespace prism {
namespace ivf {

bool is_ivfflat_index(Oid relid);
// prism.index_info's row for an ivfflat index: tuples as elements, pages, bytes, dimensions,
// metric; NULL in the hnsw-only columns.
Datum ivfflat_index_info(FunctionCallInfo fcinfo);
// prism.index_check's rows (problem, block, detail), as prism.ivfflat_check() returns them.
Datum ivfflat_index_check(FunctionCallInfo fcinfo);

}  // namespace ivf
}  // namespace prism
