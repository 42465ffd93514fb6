// Private to the per-ISA kernel files. hnswlib picks SSE/AVX/AVX-512 code by compile-time macros
// and defines non-inline globals (cpuid, xgetbv, AVXCapable, L2SqrSIMD16Ext, ...). Each ISA file
// therefore includes hnswlib inside its own namespace; the system headers hnswlib needs are
// included here first, at global scope, so their include guards make hnswlib's own #includes
// no-ops inside that namespace.
//
// Usage (one ISA namespace per translation unit):
//	#include "core/distance_hnswlib.h"
//	namespace prism_isa_xxx {
//	#include <hnswlib/hnswlib.h>
//	}
#pragma once

#include <algorithm>
#include <assert.h>
#include <atomic>
#include <cassert>
#include <cmath>
#include <cpuid.h>
#include <deque>
#include <fstream>
#include <immintrin.h>
#include <iostream>
#include <list>
#include <mutex>
#include <queue>
#include <random>
#include <stdexcept>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unordered_map>
#include <unordered_set>
#include <vector>
#include <x86intrin.h>
