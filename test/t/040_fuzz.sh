#!/bin/bash
# Bad input never crashes: the libFuzzer targets over the vector, halfvec and sparsevec text
# parsers/printers, their binary receive checks, the hnsw page checker and record codec
# (test/fuzz/run_fuzz), FUZZ_SECONDS=15 each, two at once. Fails on any
# crash, sanitizer report, hang or broken round trip. Needs no server. Longer by hand:
#   FUZZ_SECONDS=600 test/fuzz/run_fuzz
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"

FUZZ_SECONDS=${FUZZ_SECONDS:-15} "$PRISM_ROOT/test/fuzz/run_fuzz"
rc=$?
if [ "$rc" = 0 ]; then
	echo "PASS: fuzz (${FUZZ_SECONDS:-15} s per target)"
else
	echo "FAIL: fuzz (exit $rc)"
fi
exit "$rc"
