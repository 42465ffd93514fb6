// Included by every src/core header: src/core must stay free of Postgres headers so it builds
// and unit-tests without a server.
#pragma once
#if defined(POSTGRES_H) && !defined(PRISM_PG_SIDE)
#error "src/core must not include Postgres headers"
#endif
