#!/bin/bash
# Crash safety of the hnsw index. A throwaway cluster runs pgbench clients that insert random
# vectors (some exact duplicates of existing rows) and delete rows while VACUUM runs in a loop;
# at a random moment the server is killed: either `pg_ctl stop -m immediate` or SIGKILL of one
# pgbench backend (the postmaster then kills the others and runs crash recovery). After
# recovery: the index answers queries, prism.index_check finds no problem, and every committed
# row is found first by an index scan for its own vector. At the end, recall@10 of the crashed
# index is within 0.02 of a fresh build on the same rows.
# Kill points: 5 (LONG=1: 12, or CRASH_ROUNDS=n). Uses test/lib.sh (PG_BIN); makes its own cluster.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

ROUNDS=${CRASH_ROUNDS:-$([ "${LONG:-0}" = 1 ] && echo 12 || echo 5)}
CLIENTS=4
DIMS=32
DB=postgres

work_cluster crash crash
echo "# cluster in $D on port $P, $ROUNDS kill points"

q "$D" "$P" $DB >/dev/null <<-EOF || { echo "FAIL crash: setup"; exit 1; }
	CREATE EXTENSION prism;
	CREATE TABLE items (id bigserial PRIMARY KEY, v vector($DIMS));
	SELECT setseed(0.1);
	INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
		FROM generate_series(1, 3000) g;
	CREATE INDEX items_v_idx ON items USING hnsw (v vector_l2_ops);
EOF

cat >"$W/insert.sql" <<-EOF
	INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
		FROM generate_series(1, 3) g;
EOF
cat >"$W/duplicate.sql" <<-EOF
	INSERT INTO items (v) SELECT v FROM items WHERE id >= (random() * (SELECT max(id) FROM items))::bigint ORDER BY id LIMIT 1;
EOF
cat >"$W/delete.sql" <<-EOF
	DELETE FROM items WHERE id = (SELECT id FROM items WHERE id >= (random() * (SELECT max(id) FROM items))::bigint ORDER BY id LIMIT 1);
EOF

for round in $(seq 1 "$ROUNDS"); do
	before=$(q "$D" "$P" $DB -c "SELECT count(*) FROM items")
	"$PG_BIN/pgbench" -n -h "$D" -p "$P" -U postgres -c $CLIENTS -j 2 -T 120 \
		-f "$W/insert.sql@8" -f "$W/duplicate.sql@1" -f "$W/delete.sql@1" $DB >"$W/pgbench.$round.log" 2>&1 &
	bench=$!
	vacuum_loop items
	# kill somewhere between 2 and 6 s into the run
	sleep "$((2 + RANDOM % 4)).$((RANDOM % 10))"
	if ! crash_and_recover "$round" "$bench"; then
		not_ok "round $round: server did not come back after $how"
		break
	fi
	after=$(q "$D" "$P" $DB -c "SELECT count(*) FROM items")
	echo "# round $round: $how; rows $before -> $after"

	plan=$(q "$D" "$P" $DB <<<"$(self_find_plan_sql items)")
	if grep -q 'Index Scan using items_v_idx' <<<"$plan"; then
		ok "round $round: the self-find query uses the hnsw index"
	else
		not_ok "round $round: the self-find query does not use the hnsw index" "$plan"
	fi
	if out=$(q "$D" "$P" $DB -c "SET enable_seqscan = off" -c "SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items ORDER BY id DESC LIMIT 1) LIMIT 10) s" 2>&1) && [ "$out" = 10 ]; then
		ok "round $round: index query works after $how"
	else
		not_ok "round $round: index query after $how" "($out)"
	fi
	run_index_check "$D" "$P" $DB items_v_idx "round $round: index_check"
	self_find "$D" "$P" $DB items '<->' "round $round"
	reachable "$D" "$P" $DB items '<->' "round $round"
done

# Recall of the crashed-and-recovered index vs a fresh build on the same rows.
res=$(q "$D" "$P" $DB 2>&1 <<-EOF
	SET jit = off;
	SET enable_seqscan = off;
	SET hnsw.ef_search = 40;
	CREATE TABLE queries AS SELECT i AS qid, (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE i > 0)::vector($DIMS) AS q
		FROM generate_series(1, 300) i;
	CREATE TABLE truth AS SELECT qid, x.id FROM queries, LATERAL (SELECT id FROM items ORDER BY l2_distance(v, q) LIMIT 10) x;
	CREATE TABLE fresh AS SELECT * FROM items;
	CREATE INDEX fresh_v_idx ON fresh USING hnsw (v vector_l2_ops);
	CREATE FUNCTION recall(tbl regclass) RETURNS float8 LANGUAGE plpgsql AS \$\$
	DECLARE r float8;
	BEGIN
		EXECUTE format('SELECT count(t.id)::float8 / 3000 FROM queries, LATERAL (SELECT queries.qid, id FROM %s '
			'ORDER BY v <-> queries.q LIMIT 10) x LEFT JOIN truth t ON t.qid = x.qid AND t.id = x.id', tbl) INTO r;
		RETURN r;
	END \$\$;
	SELECT round(recall('items')::numeric, 3) || ' ' || round(recall('fresh')::numeric, 3);
EOF
)
crashed=${res%% *}
fresh=${res##* }
if [[ "$crashed" =~ ^[0-9.]+$ && "$fresh" =~ ^[0-9.]+$ ]] && awk -v c="$crashed" -v f="$fresh" 'BEGIN { exit !(c >= f - 0.02) }'; then
	ok "recall@10 at ef_search 40: recovered index $crashed, fresh build $fresh"
else
	not_ok "recall@10 of the recovered index" "(recovered $crashed, fresh $fresh: $res)"
fi
# kill -9 of a backend is logged as "terminated by signal 9"; anything else is a real crash
bad=$(grep -E 'PANIC|TRAP:|terminated by signal [0-8]|terminated by signal 1[0-9]' "$D/server.log" | head -5)
if [ -n "$bad" ]; then
	not_ok "server log shows a PANIC or a crashed backend" "$bad"
else
	ok "no PANIC or unexpected backend crash in the server log"
fi
finish crash
