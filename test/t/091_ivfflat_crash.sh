#!/bin/bash
# Crash safety of the ivfflat index. A throwaway cluster runs pgbench clients that insert random
# vectors and delete rows while VACUUM runs in a loop; at a random moment the server is killed:
# either `pg_ctl stop -m immediate` or SIGKILL of one pgbench backend (the postmaster then kills
# the others and runs crash recovery). After recovery: an index scan reading every list returns
# exactly the committed rows (no corrupted page, no missing row, nothing extra),
# prism.ivfflat_check finds no problem, and rows
# inserted after recovery are found. At the end, recall@10 at ivfflat.probes 3 of the crashed
# index is within 0.1 of a fresh build on the same rows. Two expression indexes on the same rows,
# (v::halfvec) halfvec_l2_ops and (binary_quantize(v - 0.5)::bit) bit_hamming_ops, go through the
# same crashes and checks (every list read returns the table, ivfflat_check finds nothing).
# Kill points: 4 (LONG=1: 10, or CRASH_ROUNDS=n). Uses test/lib.sh (PG_BIN); makes its own cluster.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

ROUNDS=${CRASH_ROUNDS:-$([ "${LONG:-0}" = 1 ] && echo 10 || echo 4)}
CLIENTS=4
DIMS=32
LISTS=30
DB=postgres
HALF="'[$(printf '0.5%.0s,' $(seq 2 $DIMS))0.5]'::vector"
BITS="binary_quantize(v - $HALF)::bit($DIMS)"

work_cluster ivfcrash ivfflat_crash
echo "# cluster in $D on port $P, $ROUNDS kill points"

q "$D" "$P" $DB >/dev/null <<-EOF || { echo "FAIL ivfflat_crash: setup"; exit 1; }
	CREATE EXTENSION prism;
	CREATE TABLE items (id bigserial PRIMARY KEY, v vector($DIMS));
	SELECT setseed(0.1);
	INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
		FROM generate_series(1, 3000) g;
	CREATE INDEX items_v_idx ON items USING ivfflat (v vector_l2_ops) WITH (lists = $LISTS);
	CREATE INDEX items_h_idx ON items USING ivfflat ((v::halfvec($DIMS)) halfvec_l2_ops) WITH (lists = $LISTS);
	CREATE INDEX items_b_idx ON items USING ivfflat (($BITS) bit_hamming_ops) WITH (lists = $LISTS);
EOF

cat >"$W/insert.sql" <<-EOF
	INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
		FROM generate_series(1, 3) g;
EOF
cat >"$W/delete.sql" <<-EOF
	DELETE FROM items WHERE id = (SELECT id FROM items WHERE id >= (random() * (SELECT max(id) FROM items))::bigint ORDER BY id LIMIT 1);
EOF

# index_vs_table LABEL [ORDER BY expression]: reading every list returns exactly the table's rows
index_vs_table() {
	local out order=${2:-"v <-> $HALF"}
	out=$(q "$D" "$P" $DB 2>&1 <<-EOF
		SET enable_seqscan = off;
		SET ivfflat.probes = $LISTS;
		WITH idx AS (SELECT id FROM items ORDER BY $order LIMIT 10000000)
		SELECT (SELECT count(*) FROM items) || ' rows, missing ' ||
			(SELECT count(*) FROM (SELECT id FROM items EXCEPT SELECT id FROM idx) m) || ', extra ' ||
			(SELECT count(*) FROM (SELECT id FROM idx EXCEPT SELECT id FROM items) e);
	EOF
	)
	if [[ "$out" =~ ^[0-9]+\ rows,\ missing\ 0,\ extra\ 0$ ]]; then
		ok "$1: every list read returns exactly the table ($out)"
	else
		not_ok "$1: index vs table" "($out)"
	fi
}

for round in $(seq 1 "$ROUNDS"); do
	before=$(q "$D" "$P" $DB -c "SELECT count(*) FROM items")
	"$PG_BIN/pgbench" -n -h "$D" -p "$P" -U postgres -c $CLIENTS -j 2 -T 120 \
		-f "$W/insert.sql@8" -f "$W/delete.sql@2" $DB >"$W/pgbench.$round.log" 2>&1 &
	bench=$!
	vacuum_loop items
	sleep "$((2 + RANDOM % 4)).$((RANDOM % 10))"
	if ! crash_and_recover "$round" "$bench"; then
		not_ok "round $round: server did not come back after $how"
		break
	fi
	after=$(q "$D" "$P" $DB -c "SELECT count(*) FROM items")
	echo "# round $round: $how; rows $before -> $after"
	plan=$(q "$D" "$P" $DB -c "SET enable_seqscan = off" -c "EXPLAIN (costs off) SELECT id FROM items ORDER BY v <-> (SELECT v FROM items LIMIT 1) LIMIT 10")
	if grep -q 'Index Scan using items_v_idx' <<<"$plan"; then
		ok "round $round: queries use the ivfflat index"
	else
		not_ok "round $round: queries do not use the ivfflat index" "$plan"
	fi
	index_vs_table "round $round after $how"
	plan=$(q "$D" "$P" $DB -c "SET enable_seqscan = off" \
		-c "EXPLAIN (costs off) SELECT id FROM items ORDER BY v::halfvec($DIMS) <-> $HALF::halfvec($DIMS) LIMIT 10" \
		-c "EXPLAIN (costs off) SELECT id FROM items ORDER BY $BITS <~> repeat('1', $DIMS)::bit($DIMS) LIMIT 10")
	if grep -q 'Index Scan using items_h_idx' <<<"$plan" && grep -q 'Index Scan using items_b_idx' <<<"$plan"; then
		ok "round $round: the halfvec and bit expression indexes serve their queries"
	else
		not_ok "round $round: expression indexes not used" "$plan"
	fi
	index_vs_table "round $round after $how, halfvec index" "v::halfvec($DIMS) <-> $HALF::halfvec($DIMS)"
	index_vs_table "round $round after $how, bit index" "$BITS <~> repeat('1', $DIMS)::bit($DIMS)"
	for idx in items_v_idx items_h_idx items_b_idx; do
		res=$(q "$D" "$P" $DB -c "SELECT count(*) || ' ' || coalesce(string_agg(problem || ' at ' || block || ': ' || detail, '; '), '') FROM prism.ivfflat_check('$idx')" 2>&1)
		check "round $round: prism.ivfflat_check finds no problem in $idx" "0 " "$res"
	done
	# a row inserted now is its own nearest neighbour when every list is read
	res=$(q "$D" "$P" $DB 2>&1 <<-EOF
		INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS) FROM generate_series(1, 1) g;
		SET enable_seqscan = off;
		SET ivfflat.probes = $LISTS;
		SELECT (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items ORDER BY id DESC LIMIT 1) LIMIT 1) = (SELECT max(id) FROM items);
	EOF
	)
	check "round $round: a row inserted after recovery is found" t "$res"
done

res=$(q "$D" "$P" $DB 2>&1 <<-EOF
	SET jit = off;
	SET enable_seqscan = off;
	SET ivfflat.probes = 3;
	CREATE TABLE queries AS SELECT i AS qid, (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE i > 0)::vector($DIMS) AS q
		FROM generate_series(1, 200) i;
	CREATE TABLE truth AS SELECT qid, x.id FROM queries, LATERAL (SELECT id FROM items ORDER BY l2_distance(v, q) LIMIT 10) x;
	CREATE TABLE fresh AS SELECT * FROM items;
	CREATE INDEX fresh_v_idx ON fresh USING ivfflat (v vector_l2_ops) WITH (lists = $LISTS);
	CREATE FUNCTION recall(tbl regclass) RETURNS float8 LANGUAGE plpgsql AS \$\$
	DECLARE r float8;
	BEGIN
		EXECUTE format('SELECT count(t.id)::float8 / 2000 FROM queries, LATERAL (SELECT queries.qid, id FROM %s '
			'ORDER BY v <-> queries.q LIMIT 10) x LEFT JOIN truth t ON t.qid = x.qid AND t.id = x.id', tbl) INTO r;
		RETURN r;
	END \$\$;
	SELECT round(recall('items')::numeric, 3) || ' ' || round(recall('fresh')::numeric, 3);
EOF
)
crashed=${res%% *}
fresh=${res##* }
if [[ "$crashed" =~ ^[0-9.]+$ && "$fresh" =~ ^[0-9.]+$ ]] && awk -v c="$crashed" -v f="$fresh" 'BEGIN { exit !(c >= f - 0.1) }'; then
	ok "recall@10 at probes 3: recovered index $crashed, fresh build $fresh"
else
	not_ok "recall@10 of the recovered index" "(recovered $crashed, fresh $fresh: $res)"
fi
bad=$(grep -E 'PANIC|TRAP:|terminated by signal [0-8]|terminated by signal 1[0-9]|corrupted page' "$D/server.log" | head -5)
if [ -n "$bad" ]; then
	not_ok "server log shows a PANIC, a crashed backend or a corrupted page" "$bad"
else
	ok "no PANIC, unexpected backend crash or corrupted page in the server log"
fi
finish ivfflat_crash
