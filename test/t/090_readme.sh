#!/bin/bash
# Every SQL snippet in README.md runs. The ```sql blocks are executed in the order they appear,
# each as one psql script with ON_ERROR_STOP, in one fresh database (a later block may use what
# an earlier one created, as a reader following the README would). A block whose first line is
# `-- not run: <reason>` is skipped (for fragments that need a server setting or another host).
# Prints one check per block and an `N passed, N failed` line.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"

DB=prism_readme_test
H=${PGHOST:-/tmp}
P=${PGPORT:-5432}
export PGUSER=${PGUSER:-postgres} PGOPTIONS="-c client_min_messages=warning"
PSQL=("$PG_BIN/psql" -X -q -h "$H" -p "$P")
W=$(mktemp -d "${TMPDIR:-/tmp}/prism-readme.XXXXXX")
cleanup() {
	rm -rf "$W"
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
}
trap cleanup EXIT

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null ||
	die "could not create $DB"

# Split the README into blocks: W/NNN.sql with W/NNN.line holding the block's first line number.
awk -v dir="$W" '
	/^```sql[[:space:]]*$/ { n++; f = sprintf("%s/%03d.sql", dir, n); printf "%d\n", NR + 1 > (f ".line"); inblk = 1; next }
	/^```/ && inblk { inblk = 0; close(f); next }
	inblk { print > f }
' "$PRISM_ROOT/README.md"

pass=0 fail=0
for f in "$W"/*.sql; do
	[ -e "$f" ] || break
	line=$(cat "$f.line")
	if head -n 1 "$f" | grep -q '^-- not run:'; then
		echo "skip: README.md:$line ($(head -n 1 "$f" | sed 's/^-- not run: *//'))"
		continue
	fi
	if out=$("${PSQL[@]}" -d "$DB" -v ON_ERROR_STOP=1 -f "$f" 2>&1 >/dev/null); then
		echo "ok: README.md:$line runs"
		pass=$((pass + 1))
	else
		echo "not ok: README.md:$line fails: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
		fail=$((fail + 1))
	fi
done
[ $((pass + fail)) -gt 0 ] || { echo "not ok: README.md has no sql blocks"; fail=1; }
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
