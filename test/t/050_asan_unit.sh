#!/bin/bash
# Sanitizers: the core unit tests (CMake/GoogleTest) built with -DPRISM_SANITIZE=ON (ASan +
# UBSan) in their own build dir, build/asan, and run under ctest. Any sanitizer report fails it:
# reports halt the test (halt_on_error), and the verbose ctest log is also searched for report
# lines, so a report from a process that still exits 0 is caught too. Needs no server.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
cd "$PRISM_ROOT" || exit 1

B=$PRISM_ROOT/build/asan
mkdir -p "$B"

fail() {
	echo "FAIL: asan_unit ($*)"
	exit 1
}

start=$SECONDS
# Only the unit test binary (the benchmarks are not run here); -O1 -g1 builds in a third of
# the time of -O2 -g and still gives sanitizer reports with file:line stacks.
cmake -S . -B "$B" -DPRISM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
	"-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" >"$B/cmake.log" 2>&1 ||
	{ cat "$B/cmake.log"; fail "cmake configure"; }
# gtest_discover_tests runs the binary at build time (to list the tests), sanitized too.
ASAN_OPTIONS=halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	cmake --build "$B" -j2 --target prism_unit_tests >"$B/build.log" 2>&1 ||
	{ tail -n 60 "$B/build.log"; fail "build"; }
log "sanitizer build took $((SECONDS - start)) s"

export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
(cd "$B" && ctest -V -j2) >"$B/ctest.log" 2>&1
rc=$?
tail -n 8 "$B/ctest.log"
# the first lines of every ASan/LSan/UBSan report
pattern='ERROR: (Address|Leak)Sanitizer|runtime error:'
reports=$(grep -cE "$pattern" "$B/ctest.log")
if [ "$reports" != 0 ]; then
	echo "--- sanitizer reports (full log: $B/ctest.log):"
	grep -E -A 30 "$pattern" "$B/ctest.log" | head -n 120
fi
[ "$rc" = 0 ] || { grep -E '\*\*\*|Failed' "$B/ctest.log" | head -n 30; fail "ctest exit $rc"; }
[ "$reports" = 0 ] || fail "$reports sanitizer report(s)"
grep -qE '100% tests passed' "$B/ctest.log" || fail "no ctest summary"
echo "PASS: asan_unit ($(grep -oE 'tests passed.*' "$B/ctest.log" | tail -n 1); $((SECONDS - start)) s)"
