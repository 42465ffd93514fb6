// GUCs of the hnsw index (placeholder until the index lands).
#include "pg/pg_includes.h"

void prism_hnsw_define_gucs(void) {}
