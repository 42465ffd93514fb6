#!/bin/bash
# WAL of the hnsw index through a streaming replica. A primary and a standby made with
# pg_basebackup -R run on loopback. The primary builds an index and inserts more rows; once the
# standby has replayed up to the primary's WAL position, both must return identical ids for a set
# of nearest-neighbour queries (for l2 and cosine indexes, and a sparsevec l2 expression index
# whose non-zeros live on sparse data pages). Then rounds of DELETE / VACUUM /
# INSERT on the primary, compared again after each, with prism.index_check on the standby. At
# last the standby is promoted: it must answer the same queries and accept inserts, which its
# index finds. Rounds: 10 (LONG=1: 20, or REPLICA_ROUNDS=n). Uses test/lib.sh; own clusters.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

ROUNDS=${REPLICA_ROUNDS:-$([ "${LONG:-0}" = 1 ] && echo 20 || echo 10)}
DIMS=24
DB=postgres

primary_and_standby replica
echo "# primary on port $PP, standby on port $SP, $ROUNDS rounds"
check "standby is in recovery" t "$(q "$SD" "$SP" $DB -c 'SELECT pg_is_in_recovery()')"

# answers DIR PORT: for each query and both indexes, the ids of the 10 nearest rows (index scans).
answers() {
	q "$1" "$2" $DB <<-EOF
		SET enable_seqscan = off;
		SET hnsw.ef_search = 40;
		SELECT 'l2 ' || qid || ': ' || (SELECT string_agg(id::text, ',') FROM
			(SELECT id FROM items ORDER BY v <-> q LIMIT 10) s) FROM queries ORDER BY qid;
		SELECT 'cos ' || qid || ': ' || (SELECT string_agg(id::text, ',') FROM
			(SELECT id FROM items ORDER BY v <=> q LIMIT 10) s) FROM queries ORDER BY qid;
		SELECT 'sparse ' || qid || ': ' || (SELECT string_agg(id::text, ',') FROM
			(SELECT id FROM items ORDER BY v::sparsevec($DIMS) <-> q::sparsevec($DIMS) LIMIT 10) s) FROM queries ORDER BY qid;
	EOF
}

# compare LABEL: the standby answers exactly like the primary (after replay).
compare() {
	local label=$1 a b
	if ! wait_replay; then
		not_ok "$label: standby replay"
		return
	fi
	a=$(answers "$PD" "$PP" 2>&1)
	b=$(answers "$SD" "$SP" 2>&1)
	if [ -z "$a" ] || ! grep -q '^l2 1: [0-9]' <<<"$a"; then
		not_ok "$label: primary answers" "($(head -3 <<<"$a"))"
	elif [ "$a" = "$b" ]; then
		ok "$label: standby returns the same ids as the primary for $(grep -c . <<<"$a") queries"
	else
		not_ok "$label: standby answers differ from the primary" "$(diff <(echo "$a") <(echo "$b") | head -10)"
	fi
}

# plan check: the compared queries really are index scans, on both servers
plan_check() {
	local dir=$1 port=$2 who=$3 plan
	plan=$(q "$dir" "$port" $DB -c "SET enable_seqscan = off" -c "EXPLAIN (costs off) SELECT id FROM items ORDER BY v <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 10")
	if grep -q 'Index Scan using items_l2' <<<"$plan"; then
		ok "$who uses the hnsw index"
	else
		not_ok "$who does not use the hnsw index" "$plan"
	fi
}

q "$PD" "$PP" $DB >/dev/null <<-EOF || { echo "FAIL replica: setup"; exit 1; }
	CREATE EXTENSION prism;
	SELECT setseed(0.3);
	CREATE TABLE items (id serial PRIMARY KEY, v vector($DIMS));
	INSERT INTO items (v) SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
		FROM generate_series(1, 4000) g;
	CREATE TABLE queries AS SELECT i AS qid, (SELECT array_agg(random() - 0.5) FROM generate_series(1, $DIMS) WHERE i > 0)::vector($DIMS) AS q
		FROM generate_series(1, 30) i;
	CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops);
	CREATE INDEX items_cos ON items USING hnsw (v vector_cosine_ops) WITH (m = 8, ef_construction = 32);
	CREATE INDEX items_sp ON items USING hnsw ((v::sparsevec($DIMS)) sparsevec_l2_ops) WITH (m = 8, ef_construction = 32);
EOF
compare "after the build"
plan_check "$PD" "$PP" "primary"
plan_check "$SD" "$SP" "standby"

q "$PD" "$PP" $DB -c "INSERT INTO items (v) SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS) FROM generate_series(1, 1000) g" >/dev/null
compare "after 1000 inserts"
run_index_check "$SD" "$SP" $DB items_l2 "standby index_check after inserts"

for round in $(seq 1 "$ROUNDS"); do
	q "$PD" "$PP" $DB >/dev/null <<-EOF
		DELETE FROM items WHERE id IN (SELECT id FROM items ORDER BY random() LIMIT 400);
		VACUUM items;
		INSERT INTO items (v) SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
			FROM generate_series(1, 300) g;
		-- and an exact duplicate of an existing row
		INSERT INTO items (v) SELECT v FROM items ORDER BY id LIMIT 1;
	EOF
	compare "round $round (delete 400, vacuum, insert 301)"
done
run_index_check "$SD" "$SP" $DB items_l2 "standby index_check (l2) after the rounds"
run_index_check "$SD" "$SP" $DB items_cos "standby index_check (cosine) after the rounds"
run_index_check "$SD" "$SP" $DB items_sp "standby index_check (sparsevec) after the rounds"
primary_answers=$(answers "$PD" "$PP")

# Promote the standby: same answers, then it takes inserts of its own.
if as_pg "$PG_BIN/pg_ctl" -D "$SD/data" -w -t 60 promote >/dev/null; then
	ok "standby promoted"
else
	not_ok "pg_ctl promote"
fi
check "promoted server is out of recovery" f "$(q "$SD" "$SP" $DB -c 'SELECT pg_is_in_recovery()')"
if [ "$(answers "$SD" "$SP")" = "$primary_answers" ]; then
	ok "promoted server answers like the primary did"
else
	not_ok "promoted server answers differ from the primary's"
fi
res=$(q "$SD" "$SP" $DB 2>&1 <<-EOF
	INSERT INTO items (v) SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
		FROM generate_series(1, 500) g;
	SELECT count(*) FROM items;
EOF
)
if [[ "$res" =~ ^[0-9]+$ ]]; then
	ok "promoted server accepts inserts ($res rows)"
else
	not_ok "insert on the promoted server" "($res)"
fi
self_find "$SD" "$SP" $DB items '<->' "promoted server"
reachable "$SD" "$SP" $DB items '<->' "promoted server"
run_index_check "$SD" "$SP" $DB items_l2 "promoted server index_check"
finish replica
