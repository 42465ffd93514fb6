// Postgres headers for C++ translation units: they are C, so they go inside extern "C".
#pragma once

#define PRISM_PG_SIDE 1  // src/pg may include core headers after Postgres ones

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "funcapi.h"
#include "access/htup_details.h"
}

// Postgres defines these as macros; they break C++ standard headers included afterwards.
#undef printf
#undef sprintf
#undef snprintf
#undef vsnprintf
#undef fprintf
#undef vfprintf
