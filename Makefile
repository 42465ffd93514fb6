# prism — PGXS build. `make && make install`, `make installcheck` against a running server.
EXTENSION = prism
EXTVERSION = 0.1.0
MODULE_big = prism

CORE_SRCS = $(sort $(wildcard src/core/*.cpp))
PG_SRCS = $(sort $(wildcard src/pg/*.cpp))
OBJS = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

# The install script is assembled from src/sql/*.sql so each feature keeps its own SQL file.
SQL_PARTS = $(sort $(wildcard src/sql/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
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

.PHONY: unittest
unittest:
	cmake -S . -B build/core -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build/core -j2 && \
	cd build/core && ctest --output-on-failure
