// Module entry: magic block, _PG_init (GUCs), and the C++ failure -> ereport translation.
#include "pg/boundary.h"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

void prism_hnsw_define_gucs(void);
void prism_ivf_define_gucs(void);

void _PG_init(void)
{
	prism_hnsw_define_gucs();
	prism_ivf_define_gucs();
}

namespace prism {

void raise_cxx_failure(CxxFailure kind, const char *what)
{
	if (kind == CxxFailure::OutOfMemory)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory in prism")));
	ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
					errmsg("prism internal error: %s", kind == CxxFailure::Exception ? what : "unknown C++ exception")));
	pg_unreachable();
}

}  // namespace prism
