#!/bin/bash
# ivfflat build progress and cancel. A CREATE INDEX runs in a background session while a second
# session samples pg_stat_progress_create_index: the phases go loading tuples -> performing
# k-means -> assigning tuples -> writing pages. A build cancelled with pg_cancel_backend during
# k-means (prism.build_threads = 2: the backend shows its k-means threads in /proc/<pid>/task)
# ends with SQLSTATE 57014 within a bounded time and leaves no index behind; statement_timeout
# cancels a build too, and the next build works.
# Runs in its own database on the server given by PGHOST/PGPORT/PGUSER; ~30 s.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

ROWS=${CANCEL_ROWS:-60000}
DIMS=48
LISTS=1000
DB=prism_ivf_cancel_test
H=${PGHOST:-/tmp}
P=${PGPORT:-5432}
export PGUSER=${PGUSER:-postgres}
CANCEL_MAX_MS=3000
W=$(mktemp -d "${TMPDIR:-/tmp}/prism-ivfcancel.XXXXXX")
cleanup() {
	[ -n "${BG:-}" ] && kill "$BG" 2>/dev/null
	"$PG_BIN/psql" -X -q -h "$H" -p "$P" -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
Q() { q "$H" "$P" $DB "$@"; }
now_ms() { date +%s%3N; }

"$PG_BIN/psql" -X -q -h "$H" -p "$P" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null ||
	{ echo "FAIL ivfflat_cancel: cannot create database $DB"; exit 1; }
Q >/dev/null <<-EOF || { echo "FAIL ivfflat_cancel: setup"; exit 1; }
	CREATE EXTENSION prism;
	SELECT setseed(0.3);
	CREATE TABLE items (id int PRIMARY KEY, v vector($DIMS));
	INSERT INTO items SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, $DIMS) WHERE i > 0)::vector($DIMS)
		FROM generate_series(1, $ROWS) i;
	VACUUM ANALYZE items;
EOF
BUILD="SET prism.build_threads = 2; SET maintenance_work_mem = '256MB'; CREATE INDEX items_ivf ON items USING ivfflat (v vector_l2_ops) WITH (lists = $LISTS);"

# start_build [SETTINGS]: CREATE INDEX in a background session; sets BG and BPID
start_build() {
	"$PG_BIN/psql" -X -v VERBOSITY=verbose -h "$H" -p "$P" -d $DB -c "${1:-}" -c "$BUILD" >"$W/build.out" 2>&1 &
	BG=$!
	BPID=""
	local i
	for i in $(seq 1 200); do
		BPID=$(Q -c "SELECT pid FROM pg_stat_progress_create_index WHERE datname = '$DB' LIMIT 1")
		[ -n "$BPID" ] && return 0
		sleep 0.02
	done
	return 1
}
# phase: the build's current phase
phase() { Q -c "SELECT phase FROM pg_stat_progress_create_index WHERE pid = $BPID"; }

# --- a build watched to its end: the phases in order -------------------------------------------
t0=$(now_ms)
start_build || { not_ok "build did not show up in pg_stat_progress_create_index"; finish ivfflat_cancel; }
seen=""
while kill -0 "$BG" 2>/dev/null; do
	p=$(phase)
	[ -n "$p" ] && [ "${seen##*|}" != "$p" ] && seen="$seen|$p"
	sleep 0.02
done
wait "$BG"
rc=$?
BG=""
build_ms=$(($(now_ms) - t0))
echo "# full build: $build_ms ms; phases seen: $seen"
check "the build succeeds" 0 "$rc"
if grep -q 'performing k-means' <<<"$seen" && grep -q 'assigning tuples' <<<"$seen"; then
	ok "progress shows performing k-means and assigning tuples ($seen)"
else
	not_ok "progress phases" "($seen)"
fi
res=$(Q -c "SET enable_seqscan = off" -c "SET ivfflat.probes = $LISTS" -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 1) LIMIT 1000000) s")
check "the built index holds every row" "$ROWS" "$res"
Q -c "DROP INDEX items_ivf" >/dev/null

# --- cancel during k-means ----------------------------------------------------------------------
start_build || { not_ok "second build did not start"; finish ivfflat_cancel; }
for i in $(seq 1 500); do
	[[ "$(phase)" == *"performing k-means" ]] && break
	sleep 0.01
done
sleep 0.3
ph=$(phase)
tasks=0
[ -r "/proc/$BPID/task" ] && tasks=$(ls "/proc/$BPID/task" | wc -l)
echo "# cancelling in phase '$ph' with $tasks tasks in the backend"
if [[ "$ph" == *"performing k-means" ]]; then
	ok "cancelling during k-means"
else
	not_ok "the build was not in k-means when cancelled" "($ph)"
fi
[ -r "/proc/$BPID/task" ] && { [ "$tasks" -ge 3 ] && ok "k-means runs on threads ($tasks tasks)" || not_ok "k-means threads" "($tasks tasks)"; }
t0=$(now_ms)
Q -c "SELECT pg_cancel_backend($BPID)" >/dev/null
wait "$BG"
BG=""
ms=$(($(now_ms) - t0))
if grep -q '57014' "$W/build.out" && [ $ms -lt $CANCEL_MAX_MS ]; then
	ok "pg_cancel_backend ends the build with 57014 within $ms ms"
else
	not_ok "cancelled build" "(after $ms ms: $(cat "$W/build.out"))"
fi
check "no index is left" 0 "$(Q -c "SELECT count(*) FROM pg_class WHERE relname = 'items_ivf'")"
grep -qi 'terminated by signal\|PANIC' "$H/server.log" 2>/dev/null && not_ok "server log shows a crash" || ok "no crash in the server log"

# --- statement_timeout ---------------------------------------------------------------------------
t0=$(now_ms)
out=$("$PG_BIN/psql" -X -v VERBOSITY=verbose -h "$H" -p "$P" -d $DB -c "SET statement_timeout = '700ms'" -c "$BUILD" 2>&1)
ms=$(($(now_ms) - t0))
if grep -q '57014' <<<"$out" && [ $ms -lt $((700 + CANCEL_MAX_MS)) ]; then
	ok "statement_timeout 700 ms ends the build with 57014 after $ms ms"
else
	not_ok "statement_timeout during a build" "(after $ms ms: $out)"
fi
# the next build works
out=$(Q -c "$BUILD" 2>&1)
res=$(Q -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 10" -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 1) LIMIT 10) s")
check "a build after the cancels works" 10 "$res"
finish ivfflat_cancel
