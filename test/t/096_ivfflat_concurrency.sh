#!/bin/bash
# ivfflat under concurrent writers and readers. pgbench runs 4 clients for 15 s (DURATION=n)
# mixing single-row inserts (so lists grow page by page while others read them), deletes,
# scans reading every list and scans at probes 2, while VACUUM runs in a loop. Checked: no
# client error (pgbench aborts a client on its first ERROR), no "corrupted page" or crash in the
# server log, then an index scan reading every list returns exactly the table's rows and
# prism.ivfflat_check finds no problem. Uses test/lib.sh (PG_BIN); makes its own cluster.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

DURATION=${DURATION:-15}
DIMS=16
LISTS=20
DB=postgres
work_cluster ivfconc ivfflat_concurrency

q "$D" "$P" $DB >/dev/null <<-EOF || { echo "FAIL ivfflat_concurrency: setup"; exit 1; }
	CREATE EXTENSION prism;
	CREATE TABLE items (id bigserial PRIMARY KEY, v vector($DIMS));
	SELECT setseed(0.2);
	INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
		FROM generate_series(1, 2000) g;
	CREATE INDEX items_v_idx ON items USING ivfflat (v vector_l2_ops) WITH (lists = $LISTS);
EOF
cat >"$W/insert.sql" <<-EOF
	INSERT INTO items (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
		FROM generate_series(1, 1) g;
EOF
cat >"$W/delete.sql" <<-EOF
	DELETE FROM items WHERE id = (SELECT id FROM items WHERE id >= (random() * (SELECT max(id) FROM items))::bigint ORDER BY id LIMIT 1);
EOF
cat >"$W/scan_all.sql" <<-EOF
	SET enable_seqscan = off;
	SET ivfflat.probes = $LISTS;
	SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT array_fill(random()::real, ARRAY[$DIMS])::vector) LIMIT 100000) s;
EOF
cat >"$W/scan.sql" <<-EOF
	SET enable_seqscan = off;
	SET ivfflat.probes = 2;
	SELECT id FROM items ORDER BY v <-> (SELECT array_fill(random()::real, ARRAY[$DIMS])::vector) LIMIT 10;
EOF
vacuum_loop items 0.2
"$PG_BIN/pgbench" -n -h "$D" -p "$P" -U postgres -c 4 -j 2 -T "$DURATION" \
	-f "$W/insert.sql@10" -f "$W/delete.sql@3" -f "$W/scan_all.sql@1" -f "$W/scan.sql@4" $DB >"$W/pgbench.log" 2>&1
rc=$?
vacuum_stop
tx=$(grep -E '^number of transactions actually processed' "$W/pgbench.log")
if [ $rc = 0 ] && ! grep -q 'ERROR\|aborted' "$W/pgbench.log"; then
	ok "pgbench: 4 clients for $DURATION s without an error ($tx)"
else
	not_ok "pgbench" "(rc $rc: $(grep -E 'ERROR|aborted' "$W/pgbench.log" | head -3))"
fi
bad=$(grep -E 'PANIC|TRAP:|terminated by signal|corrupted page' "$D/server.log" | head -3)
[ -z "$bad" ] && ok "no crash or corrupted page in the server log" || not_ok "server log" "$bad"
res=$(q "$D" "$P" $DB 2>&1 <<-EOF
	SET enable_seqscan = off;
	SET ivfflat.probes = $LISTS;
	WITH idx AS (SELECT id FROM items ORDER BY v <-> (SELECT array_fill(0.5, ARRAY[$DIMS])::vector) LIMIT 10000000)
	SELECT (SELECT count(*) FROM items) || ' rows, missing ' ||
		(SELECT count(*) FROM (SELECT id FROM items EXCEPT SELECT id FROM idx) m) || ', extra ' ||
		(SELECT count(*) FROM (SELECT id FROM idx EXCEPT SELECT id FROM items) e);
EOF
)
if [[ "$res" =~ ^[0-9]+\ rows,\ missing\ 0,\ extra\ 0$ ]]; then
	ok "every list read returns exactly the table ($res)"
else
	not_ok "index vs table" "($res)"
fi
check "prism.ivfflat_check finds no problem" 0 "$(q "$D" "$P" $DB -c "SELECT count(*) FROM prism.ivfflat_check('items_v_idx')" 2>&1)"
finish ivfflat_concurrency
