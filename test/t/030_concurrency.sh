#!/bin/bash
# Concurrent use of the hnsw index. pgbench clients insert rows (some exact duplicates),
# update vectors, delete rows and run nearest-neighbour queries at once for a bounded time
# (20 s; LONG=1: 120 s; or SOAK_SECONDS=n) while VACUUM runs every second. pgbench must report
# no failed or aborted transaction, the server log no crash; afterwards every row is found first
# by an index scan for its own vector, prism.index_check is clean, and recall@10 is sane.
# Runs in its own database on the server given by PGHOST/PGPORT/PGUSER (test/run's cluster).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

SECS=${SOAK_SECONDS:-$([ "${LONG:-0}" = 1 ] && echo 120 || echo 20)}
CLIENTS=6
DIMS=32
DB=prism_concurrency_test
H=${PGHOST:-/tmp}
P=${PGPORT:-5432}
export PGUSER=${PGUSER:-postgres}

W=$(mktemp -d "${TMPDIR:-/tmp}/prism-conc.XXXXXX")
chmod 755 "$W"
VAC=""
cleanup() {
	[ -n "$VAC" ] && kill "$VAC" 2>/dev/null
	# KEEP_DB=1 keeps the database for a post-mortem
	[ "${KEEP_DB:-0}" = 1 ] || "$PG_BIN/psql" -X -q -h "$H" -p "$P" -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$PG_BIN/psql" -X -q -h "$H" -p "$P" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null ||
	{ echo "FAIL concurrency: cannot create database $DB on $H:$P"; exit 1; }
q "$H" "$P" $DB >/dev/null <<-EOF || { echo "FAIL concurrency: setup"; exit 1; }
	CREATE EXTENSION prism;
	CREATE TABLE items (id bigserial PRIMARY KEY, v vector($DIMS));
	SELECT setseed(0.7);
	INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
		FROM generate_series(1, 2000) g;
	CREATE INDEX items_v_idx ON items USING hnsw (v vector_l2_ops);
	CREATE INDEX items_cos_idx ON items USING hnsw (v vector_cosine_ops);
EOF

RV="(SELECT array_agg(random()) FROM generate_series(1, $DIMS))::vector($DIMS)"
cat >"$W/insert.sql" <<-EOF
	INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
		FROM generate_series(1, 2) g;
EOF
cat >"$W/duplicate.sql" <<-EOF
	INSERT INTO items (v) SELECT v FROM items WHERE id >= (random() * (SELECT max(id) FROM items))::bigint ORDER BY id LIMIT 1;
EOF
cat >"$W/update.sql" <<-EOF
	UPDATE items SET v = $RV WHERE id = (SELECT id FROM items WHERE id >= (random() * (SELECT max(id) FROM items))::bigint ORDER BY id LIMIT 1);
EOF
cat >"$W/delete.sql" <<-EOF
	DELETE FROM items WHERE id = (SELECT id FROM items WHERE id >= (random() * (SELECT max(id) FROM items))::bigint ORDER BY id LIMIT 1);
EOF
# queries: k-NN under both operators, and one with a filter that makes the scan go on past
# ef_search; each must return its LIMIT in distance order
cat >"$W/query.sql" <<-EOF
	SET enable_seqscan = off;
	SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> $RV LIMIT 10) s;
	SELECT count(*) FROM (SELECT id FROM items ORDER BY v <=> $RV LIMIT 10) s;
	SELECT count(*) FROM (SELECT id FROM items WHERE id % 7 = 0 ORDER BY v <-> $RV LIMIT 10) s;
EOF
chmod 644 "$W"/*.sql

(
	while true; do
		sleep 1
		"$PG_BIN/psql" -X -q -h "$H" -p "$P" -d $DB -c "VACUUM items" >>"$W/vacuum.log" 2>&1
	done
) &
VAC=$!
start=$SECONDS
"$PG_BIN/pgbench" -n -h "$H" -p "$P" -c $CLIENTS -j 2 -T "$SECS" \
	-f "$W/insert.sql@5" -f "$W/duplicate.sql@1" -f "$W/update.sql@1" -f "$W/delete.sql@1" -f "$W/query.sql@4" \
	$DB >"$W/pgbench.log" 2>&1
rc=$?
kill "$VAC" 2>/dev/null
wait "$VAC" 2>/dev/null
VAC=""
echo "# pgbench ran $((SECONDS - start)) s with $CLIENTS clients:"
grep -E 'number of (transactions actually processed|failed transactions)|^tps|aborted' "$W/pgbench.log" | sed 's/^/#   /'
if [ $rc = 0 ] && grep -q 'number of transactions actually processed' "$W/pgbench.log" &&
	! grep -qE 'aborted|ERROR|FATAL' "$W/pgbench.log"; then
	ok "pgbench: every client ran to the end"
else
	not_ok "pgbench exit $rc" "$(grep -E 'aborted|ERROR|FATAL|error' "$W/pgbench.log" | head -10)"
fi
failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' "$W/pgbench.log")
check "pgbench: no failed transactions" 0 "${failed:-0}"
if grep -qE 'ERROR|FATAL|PANIC' "$W/vacuum.log" 2>/dev/null; then
	not_ok "VACUUM during the run" "$(grep -E 'ERROR|FATAL|PANIC' "$W/vacuum.log" | head -5)"
else
	ok "VACUUM ran without errors during the run"
fi
check "server still accepts queries" 1 "$(q "$H" "$P" $DB -c 'SELECT 1' 2>&1)"

rows=$(q "$H" "$P" $DB -c "VACUUM items" -c "SELECT count(*) FROM items")
plan=$(q "$H" "$P" $DB <<<"$(self_find_plan_sql items)")
if grep -q 'Index Scan using items_v_idx' <<<"$plan"; then
	ok "the self-find query uses the hnsw index"
else
	not_ok "the self-find query does not use the hnsw index" "$plan"
fi
self_find "$H" "$P" $DB items '<->' "l2 index"
self_find "$H" "$P" $DB items '<=>' "cosine index"
reachable "$H" "$P" $DB items '<->' "l2 index"
reachable "$H" "$P" $DB items '<=>' "cosine index"
run_index_check "$H" "$P" $DB items_v_idx "index_check (l2)"
run_index_check "$H" "$P" $DB items_cos_idx "index_check (cosine)"

# recall@10 at ef_search 100 on 50 random queries, against an exact sequential scan
recall=$(q "$H" "$P" $DB 2>&1 <<-EOF
	SET jit = off;
	SET hnsw.ef_search = 100;
	CREATE TABLE queries AS SELECT i AS qid, (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE i > 0)::vector($DIMS) AS q
		FROM generate_series(1, 50) i;
	CREATE TABLE truth AS SELECT qid, x.id FROM queries, LATERAL (SELECT id FROM items ORDER BY l2_distance(v, q) LIMIT 10) x;
	SET enable_seqscan = off;
	SELECT round(count(t.id)::numeric / 500, 3) FROM queries,
		LATERAL (SELECT queries.qid, id FROM items ORDER BY v <-> queries.q LIMIT 10) x
		LEFT JOIN truth t ON t.qid = x.qid AND t.id = x.id;
EOF
)
if [[ "$recall" =~ ^[0-9.]+$ ]] && awk -v r="$recall" 'BEGIN { exit !(r >= 0.95) }'; then
	ok "recall@10 at ef_search 100 after the run: $recall"
else
	not_ok "recall@10 at ef_search 100 after the run" "($recall)"
fi
finish concurrency
