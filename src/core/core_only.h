// Included by every src/core header: src/core must stay free of Postgres headers so it builds
// and unit-tests without a server.
#pragma once
#ifdef POSTGRES_H
#error "src/core must not include Postgres headers"
#endif
