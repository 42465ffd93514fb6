# prism — PGXS build. `make && make install`, `make installcheck` against a running server.
EXTENSION = prism
EXTVERSION = 0.2.0
MODULE_big = prism

CORE_SRCS = $(sort $(wildcard src/core/*.cpp))
PG_SRCS = $(sort $(wildcard src/pg/*.cpp))
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

# The install script of the current version is assembled from src/sql/*.sql so each feature
# keeps its own SQL file. Released versions' install scripts are frozen, as shipped, in
# src/sql/released/ and installed as they are, so `CREATE EXTENSION prism VERSION '0.1.0'` and
# `ALTER EXTENSION prism UPDATE` work.
SQL_PARTS = $(sort $(wildcard src/sql/*.sql))
RELEASED_SQL = $(sort $(wildcard src/sql/released/$(EXTENSION)--*.sql))

# The upgrade script from the last release: the hand-written statements for objects that
# changed (src/sql/upgrade/), then every src/sql part that is new since that release, in name
# order. A new src/sql/NN_topic.sql file must be listed here, or updated installs lack it
# (test/t/150_upgrade.sh compares an updated install with a fresh one).
PREV_VERSION = 0.1.0
SQL_NEW_IN_0_2_0 = src/sql/12_halfvec.sql src/sql/13_sparsevec.sql src/sql/14_bit.sql src/sql/21_hnsw_bound.sql src/sql/22_hnsw_types.sql src/sql/23_hnsw_sparsevec.sql \
	src/sql/40_collections.sql src/sql/41_collections_query.sql src/sql/50_ivfflat.sql src/sql/51_ivfflat_info.sql \
	src/sql/52_ivfflat_types.sql
SQL_NEW = $(SQL_NEW_IN_0_2_0)
UPGRADE_SCRIPT = $(EXTENSION)--$(PREV_VERSION)--$(EXTVERSION).sql

DATA = $(RELEASED_SQL)
DATA_built = $(EXTENSION)--$(EXTVERSION).sql $(UPGRADE_SCRIPT)
EXTRA_CLEAN = $(DATA_built) $(OBJS:.o=.d)

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

PG_CONFIG ?= pg_config

# Shipped build targets baseline x86-64; faster kernels are compiled per ISA (below) and
# chosen at load time, so no -march=native here.
# -MMD -MP: rebuild objects when a header they include changes (PGXS does not track them).
PG_CXXFLAGS = -MMD -MP -std=c++17 -O2 -fno-strict-aliasing -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare -Wno-register -Isrc -isystem /usr/include/hnswlib
SHLIB_LINK = -lstdc++ -lpthread

# Debian's PostgreSQL is built --with-llvm, so PGXS would also emit LLVM bitcode for every
# source file; prism's C++ (hnswlib, per-ISA intrinsics) gains nothing from JIT inlining, so
# bitcode is turned off rather than requiring a matching clang/llvm toolchain.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

-include $(OBJS:.o=.d)

# Per-ISA distance kernels (see src/core/distance.h).
src/core/distance_avx2.o: override CXXFLAGS += -mavx2 -mfma
src/core/distance_avx512.o: override CXXFLAGS += -mavx512f -mavx512dq -mavx2 -mfma
# Half-precision kernels (src/core/half.h).
src/core/half_f16c.o: override CXXFLAGS += -mavx -mf16c -mfma
# Bit-distance kernels (src/core/bit_distance.h).
src/core/bit_popcnt.o: override CXXFLAGS += -mpopcnt

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

$(UPGRADE_SCRIPT): src/sql/upgrade/$(PREV_VERSION)--$(EXTVERSION).sql $(sort $(SQL_NEW)) Makefile
	@for f in $(SQL_NEW); do case " $(SQL_PARTS) " in *" $$f "*) ;; \
		*) echo "SQL_NEW_IN_0_2_0 lists $$f, which is not one of src/sql/*.sql" >&2; exit 1;; esac; done
	cat $(filter-out Makefile,$^) > $@

.PHONY: unittest
unittest:
	cmake -S . -B build/core -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build/core -j2 && \
	cd build/core && ctest --output-on-failure

# Optional: prism also under pgvector's extension name, so applications that run
# `CREATE EXTENSION IF NOT EXISTS vector` work unchanged on a server without pgvector. Installs
# vector.control and a vector--*.sql copy of every install and upgrade script; refuses to
# overwrite a vector.control that is not prism's (pgvector's).
EXTDIR = $(DESTDIR)$(datadir)/extension
ALIAS_MARK = \# prism under the extension name vector (make install-vector-alias)

.PHONY: install-vector-alias uninstall-vector-alias
install-vector-alias: $(DATA_built)
	@if [ -f '$(EXTDIR)/vector.control' ] && ! grep -qF '$(ALIAS_MARK)' '$(EXTDIR)/vector.control'; then \
		echo "$(EXTDIR)/vector.control exists and is not prism's (pgvector is installed): not replacing it" >&2; exit 1; fi
	$(MKDIR_P) '$(EXTDIR)'
	{ echo '$(ALIAS_MARK)'; grep -v '^#' $(EXTENSION).control; } > '$(EXTDIR)/vector.control'
	chmod 644 '$(EXTDIR)/vector.control'
	for f in $(RELEASED_SQL) $(DATA_built); do \
		b=$$(basename $$f); $(INSTALL_DATA) $$f '$(EXTDIR)/vector--'$${b#$(EXTENSION)--} || exit 1; done

uninstall-vector-alias:
	@if [ -f '$(EXTDIR)/vector.control' ] && ! grep -qF '$(ALIAS_MARK)' '$(EXTDIR)/vector.control'; then \
		echo "$(EXTDIR)/vector.control is not prism's: leaving it" >&2; exit 1; fi
	rm -f '$(EXTDIR)/vector.control' $(addprefix '$(EXTDIR)/vector--,$(addsuffix ',$(patsubst $(EXTENSION)--%,%,$(notdir $(RELEASED_SQL) $(DATA_built)))))
