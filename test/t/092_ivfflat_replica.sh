#!/bin/bash
# WAL of the ivfflat index through a streaming replica. A primary and a standby made with
# pg_basebackup -R run on loopback. The primary builds l2 and cosine ivfflat indexes and inserts
# more rows; once the standby has replayed up to the primary's WAL position, both must return
# identical ids for a set of nearest-neighbour queries (ivfflat.probes 3) and, reading every
# list, exactly the table's rows. Then rounds of DELETE / VACUUM / INSERT on the primary,
# compared again after each, then prism.ivfflat_check on the standby. At last the standby is promoted: it must answer the same queries
# and accept inserts, which its index finds. Rounds: 6 (LONG=1: 20, or REPLICA_ROUNDS=n).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

ROUNDS=${REPLICA_ROUNDS:-$([ "${LONG:-0}" = 1 ] && echo 20 || echo 6)}
DIMS=24
LISTS=25
DB=postgres

primary_and_standby ivfflat_replica
echo "# primary on port $PP, standby on port $SP, $ROUNDS rounds"
check "standby is in recovery" t "$(q "$SD" "$SP" $DB -c 'SELECT pg_is_in_recovery()')"

# answers DIR PORT: ids of the 10 nearest rows per query and index, then the rows every list holds
answers() {
	q "$1" "$2" $DB <<-EOF
		SET enable_seqscan = off;
		SET ivfflat.probes = 3;
		SELECT 'l2 ' || qid || ': ' || (SELECT string_agg(id::text, ',') FROM
			(SELECT id FROM items ORDER BY v <-> q LIMIT 10) s) FROM queries ORDER BY qid;
		SELECT 'cos ' || qid || ': ' || (SELECT string_agg(id::text, ',') FROM
			(SELECT id FROM items ORDER BY v <=> q LIMIT 10) s) FROM queries ORDER BY qid;
		SET ivfflat.probes = $LISTS;
		SELECT 'all lists: ' || count(*) || ' rows, ' || sum(id) FROM
			(SELECT id FROM items ORDER BY v <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 1000000) s;
		SELECT 'table: ' || count(*) || ' rows, ' || sum(id) FROM items;
	EOF
}

compare() {
	local label=$1 a b
	if ! wait_replay; then
		not_ok "$label: standby replay"
		return
	fi
	a=$(answers "$PD" "$PP" 2>&1)
	b=$(answers "$SD" "$SP" 2>&1)
	local all table
	all=$(grep '^all lists: ' <<<"$b" | sed 's/^all lists: //')
	table=$(grep '^table: ' <<<"$b" | sed 's/^table: //')
	if [ -z "$a" ] || ! grep -q '^l2 1: [0-9]' <<<"$a"; then
		not_ok "$label: primary answers" "($(head -3 <<<"$a"))"
	elif [ "$a" != "$b" ]; then
		not_ok "$label: standby answers differ from the primary" "$(diff <(echo "$a") <(echo "$b") | head -10)"
	elif [ -z "$all" ] || [ "$all" != "$table" ]; then
		not_ok "$label: every list on the standby holds the table's rows" "(lists: $all, table: $table)"
	else
		ok "$label: standby returns the same ids as the primary ($(grep -c . <<<"$a") lines; all lists = table: $table)"
	fi
}

q "$PD" "$PP" $DB >/dev/null <<-EOF || { echo "FAIL ivfflat_replica: setup"; exit 1; }
	CREATE EXTENSION prism;
	SELECT setseed(0.3);
	CREATE TABLE items (id serial PRIMARY KEY, v vector($DIMS));
	INSERT INTO items (v) SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
		FROM generate_series(1, 4000) g;
	CREATE TABLE queries AS SELECT i AS qid, (SELECT array_agg(random() - 0.5) FROM generate_series(1, $DIMS) WHERE i > 0)::vector($DIMS) AS q
		FROM generate_series(1, 30) i;
	CREATE INDEX items_l2 ON items USING ivfflat (v vector_l2_ops) WITH (lists = $LISTS);
	CREATE INDEX items_cos ON items USING ivfflat (v vector_cosine_ops) WITH (lists = $LISTS);
EOF
compare "after the build"
plan=$(q "$SD" "$SP" $DB -c "SET enable_seqscan = off" -c "EXPLAIN (costs off) SELECT id FROM items ORDER BY v <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 10")
if grep -q 'Index Scan using items_l2' <<<"$plan"; then
	ok "standby uses the ivfflat index"
else
	not_ok "standby does not use the ivfflat index" "$plan"
fi

q "$PD" "$PP" $DB -c "INSERT INTO items (v) SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS) FROM generate_series(1, 3000) g" >/dev/null
compare "after 3000 inserts"

for round in $(seq 1 "$ROUNDS"); do
	q "$PD" "$PP" $DB >/dev/null <<-EOF
		DELETE FROM items WHERE id IN (SELECT id FROM items ORDER BY random() LIMIT 1500);
		VACUUM items;
		INSERT INTO items (v) SELECT (SELECT array_agg(random() - 0.5) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
			FROM generate_series(1, 1200) g;
	EOF
	compare "round $round (delete 1500, vacuum, insert 1200)"
done
for idx in items_l2 items_cos; do
	check "standby: prism.ivfflat_check($idx) finds no problem" 0 "$(q "$SD" "$SP" $DB -c "SELECT count(*) FROM prism.ivfflat_check('$idx')" 2>&1)"
done
primary_answers=$(answers "$PD" "$PP")

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
	SET enable_seqscan = off;
	SET ivfflat.probes = $LISTS;
	SELECT (SELECT count(*) FROM (SELECT id FROM items ORDER BY v <=> (SELECT q FROM queries WHERE qid = 2) LIMIT 1000000) s)
		= (SELECT count(*) FROM items);
EOF
)
check "promoted server takes inserts and its index finds every row" t "$res"
finish ivfflat_replica
