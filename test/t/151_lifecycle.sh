#!/bin/bash
# Lifecycle of tables with hnsw indexes, on a throwaway server of its own:
#  - pg_dump / restore, plain (psql) and custom format (pg_restore): the restored database has
#    the same rows, the same index definitions, and index scans give the same (exact) answers;
#  - an unlogged table with an hnsw index: it has an init fork, and after a crash restart the
#    table and index are empty and the index takes inserts and answers queries; SET LOGGED (the
#    rows then survive a crash), SET UNLOGGED and TRUNCATE rebuild the index;
#  - CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY while another session inserts rows,
#    VACUUM FULL and CLUSTER (which rebuild the index): afterwards the index holds every row
#    (a full index scan returns them all) and prism.index_check finds no problem.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

W=$(mktemp -d "${TMPDIR:-/tmp}/prism-lifecycle.XXXXXX")
chmod 755 "$W"
BG=""
cleanup() {
	[ -n "$BG" ] && kill "$BG" 2>/dev/null
	cluster_destroy_all
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cluster_new lifecycle || { echo "FAIL lifecycle: could not start a cluster"; exit 1; }
D=$CLUSTER_DIR
P=$CLUSTER_PORT
DIMS=16
ROWS=3000

# rows with distinct vectors, the same every run
gen() { # gen FIRST LAST
	echo "SELECT g, (SELECT array_agg(sin(g * 12.9898 + i * 78.233) * 43758.5453 - floor(sin(g * 12.9898 + i * 78.233) * 43758.5453))
		FROM generate_series(1, $DIMS) i)::vector($DIMS) FROM generate_series($1, $2) g"
}

q "$D" "$P" postgres >/dev/null <<-EOF || { echo "FAIL lifecycle: setup"; exit 1; }
	CREATE DATABASE src;
	\c src
	CREATE EXTENSION prism;
	CREATE TABLE items (id int PRIMARY KEY, v vector($DIMS), note text);
	INSERT INTO items (id, v) $(gen 1 $ROWS);
	UPDATE items SET v = NULL WHERE id % 500 = 0;
	CREATE INDEX items_l2 ON items USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 40);
	CREATE INDEX items_cos ON items USING hnsw (v vector_cosine_ops);
	CREATE TABLE other (k text, e vector(3));
	INSERT INTO other VALUES ('a', '[1,2,3]'), ('b', '[0,0,0]'), ('c', NULL);
	CREATE INDEX ON other USING hnsw (e vector_ip_ops);
EOF

# answers DB: top 10 ids of several queries, through the index (ef_search large enough that
# they are exact at this size) and through a sequential scan; one line per query and operator.
answers() {
	local db=$1 mode=$2 op out=""
	for op in '<->' '<=>'; do
		out+=$(q "$D" "$P" "$db" <<-EOF
			SET hnsw.ef_search = 400;
			$([ "$mode" = index ] && echo "SET enable_seqscan = off;" || echo "SET enable_indexscan = off; SET enable_bitmapscan = off;")
			SELECT q.id || ': ' || (SELECT string_agg(id::text, ',') FROM
				(SELECT id FROM items ORDER BY v $op q.v LIMIT 10) s)
			FROM items q WHERE q.id IN (1, 17, 999, 2024, 2999) ORDER BY q.id;
		EOF
		)$'\n'
	done
	echo "$out"
}
index_defs() {
	q "$D" "$P" "$1" -c "SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'"
}
content() {
	q "$D" "$P" "$1" -c "SELECT md5(string_agg(id || ':' || coalesce(v::text, 'null'), ',' ORDER BY id)) FROM items" \
		-c "SELECT string_agg(k || ':' || coalesce(e::text, 'null'), ',' ORDER BY k) FROM other"
}

exact=$(answers src seq)
src_index=$(answers src index)
check "source: index answers equal the exact ones" "$exact" "$src_index"
src_defs=$(index_defs src)
src_content=$(content src)

# --- pg_dump / restore ---------------------------------------------------------------------------------
"$PG_BIN/pg_dump" -h "$D" -p "$P" -U postgres -f "$W/plain.sql" src &&
	"$PG_BIN/pg_dump" -h "$D" -p "$P" -U postgres -Fc -f "$W/custom.dump" src ||
	not_ok "pg_dump failed"
q "$D" "$P" postgres -c "CREATE DATABASE plain" -c "CREATE DATABASE custom" >/dev/null
out=$(q "$D" "$P" plain -f "$W/plain.sql" 2>&1 >/dev/null)
check "plain dump restores with psql without errors" "" "$out"
out=$("$PG_BIN/pg_restore" -h "$D" -p "$P" -U postgres -d custom --exit-on-error "$W/custom.dump" 2>&1)
check "custom dump restores with pg_restore without errors" "" "$out"
for db in plain custom; do
	check "$db: same rows" "$src_content" "$(content $db)"
	check "$db: same index definitions" "$src_defs" "$(index_defs $db)"
	plan=$(q "$D" "$P" $db -c "SET enable_seqscan = off" -c "EXPLAIN (costs off) SELECT id FROM items ORDER BY v <=> '[$(seq -s, 1 $DIMS)]' LIMIT 10")
	if grep -q "Index Scan using items_cos" <<<"$plan"; then ok "$db: restored hnsw index is used"; else not_ok "$db: restored hnsw index not used" "($plan)"; fi
	check "$db: index answers equal the source's" "$src_index" "$(answers $db index)"
	run_index_check "$D" "$P" $db items_l2 "$db: index_check items_l2"
	check "$db: ip index on the second table" "a" \
		"$(q "$D" "$P" $db -c "SET enable_seqscan = off" -c "SELECT string_agg(k, ',') FROM (SELECT k FROM other ORDER BY e <#> '[1,1,1]' LIMIT 1) s")"
done

# --- unlogged table: init fork, empty after a crash ----------------------------------------------------
q "$D" "$P" src >/dev/null <<-EOF || not_ok "unlogged: setup"
	CREATE UNLOGGED TABLE scratch (id int, v vector($DIMS));
	INSERT INTO scratch $(gen 1 500);
	CREATE INDEX scratch_v ON scratch USING hnsw (v vector_l2_ops);
EOF
path=$(q "$D" "$P" src -c "SELECT pg_relation_filepath('scratch_v')")
if [ -s "$D/data/${path}_init" ]; then ok "unlogged: the hnsw index has a non-empty init fork"; else not_ok "unlogged: no init fork at $D/data/${path}_init"; fi
check "unlogged: index scan before the crash" "42" \
	"$(q "$D" "$P" src -c "SET enable_seqscan = off" -c "SELECT id FROM scratch ORDER BY v <-> (SELECT v FROM scratch WHERE id = 42) LIMIT 1")"
q "$D" "$P" src -c "CHECKPOINT" >/dev/null
cluster_stop "$D" immediate
cluster_start "$D" "$P" && wait_ready "$D" "$P" || { not_ok "unlogged: restart after crash"; finish lifecycle; }
check "unlogged: table empty after the crash" "0" "$(q "$D" "$P" src -c "SELECT count(*) FROM scratch")"
check "unlogged: index empty after the crash" "0" "$(q "$D" "$P" src -c "SELECT elements FROM prism.index_info('scratch_v')")"
check "unlogged: empty index scan" "" "$(q "$D" "$P" src -c "SET enable_seqscan = off" -c "SELECT id FROM scratch ORDER BY v <-> '[$(seq -s, 1 $DIMS)]' LIMIT 1")"
q "$D" "$P" src -c "INSERT INTO scratch $(gen 1001 1300)" >/dev/null
check "unlogged: index takes inserts after the crash" "1234" \
	"$(q "$D" "$P" src -c "SET enable_seqscan = off" -c "SELECT id FROM scratch ORDER BY v <-> (SELECT v FROM scratch WHERE id = 1234) LIMIT 1")"
reachable "$D" "$P" src scratch '<->' "unlogged: after the crash"
run_index_check "$D" "$P" src scratch_v "unlogged: index_check after the crash"
check "logged table survived the crash" "$src_content" "$(content src)"
# SET LOGGED rewrites the table and rebuilds the index without an init fork: it survives a crash
q "$D" "$P" src -c "ALTER TABLE scratch SET LOGGED" >/dev/null || not_ok "SET LOGGED failed"
path=$(q "$D" "$P" src -c "SELECT pg_relation_filepath('scratch_v')")
if [ ! -e "$D/data/${path}_init" ]; then ok "SET LOGGED: the index has no init fork"; else not_ok "SET LOGGED: init fork left at ${path}_init"; fi
cluster_stop "$D" immediate
cluster_start "$D" "$P" && wait_ready "$D" "$P" || { not_ok "SET LOGGED: restart after crash"; finish lifecycle; }
check "SET LOGGED: rows survive a crash" "300" "$(q "$D" "$P" src -c "SELECT count(*) FROM scratch")"
check "SET LOGGED: index finds a row after the crash" "1234" \
	"$(q "$D" "$P" src -c "SET enable_seqscan = off" -c "SELECT id FROM scratch ORDER BY v <-> (SELECT v FROM scratch WHERE id = 1234) LIMIT 1")"
q "$D" "$P" src -c "ALTER TABLE scratch SET UNLOGGED" >/dev/null || not_ok "SET UNLOGGED failed"
path=$(q "$D" "$P" src -c "SELECT pg_relation_filepath('scratch_v')")
if [ -s "$D/data/${path}_init" ]; then ok "SET UNLOGGED: the rebuilt index has an init fork"; else not_ok "SET UNLOGGED: no init fork"; fi
run_index_check "$D" "$P" src scratch_v "SET UNLOGGED: index_check"
# TRUNCATE gives the table and the index new, empty files
q "$D" "$P" src -c "TRUNCATE scratch" -c "INSERT INTO scratch $(gen 2001 2100)" >/dev/null || not_ok "TRUNCATE + insert failed"
check "TRUNCATE: the index holds only the new rows" "100" "$(q "$D" "$P" src -c "SELECT elements FROM prism.index_info('scratch_v')")"
check "TRUNCATE: index finds a new row" "2050" \
	"$(q "$D" "$P" src -c "SET enable_seqscan = off" -c "SELECT id FROM scratch ORDER BY v <-> (SELECT v FROM scratch WHERE id = 2050) LIMIT 1")"

# --- CREATE INDEX CONCURRENTLY / REINDEX CONCURRENTLY under inserts ---------------------------------------
# inserts rows 100001.. in small transactions until stopped
(
	i=100001
	while true; do
		q "$D" "$P" src -c "INSERT INTO items (id, v) $(gen $i $((i + 9)))" >/dev/null 2>&1 || exit 0
		i=$((i + 10))
	done
) &
BG=$!
sleep 0.5
out=$(q "$D" "$P" src -c "CREATE INDEX CONCURRENTLY items_l2_cic ON items USING hnsw (v vector_l2_ops)" 2>&1)
check "CREATE INDEX CONCURRENTLY under inserts" "" "$out"
out=$(q "$D" "$P" src -c "REINDEX INDEX CONCURRENTLY items_cos" 2>&1)
check "REINDEX INDEX CONCURRENTLY under inserts" "" "$out"
sleep 0.5
kill "$BG" 2>/dev/null
wait "$BG" 2>/dev/null
BG=""
added=$(q "$D" "$P" src -c "SELECT count(*) FROM items WHERE id > 100000")
if [ "$added" -gt 0 ]; then ok "$added rows were inserted while the indexes were built"; else not_ok "no rows inserted during the concurrent builds"; fi
check "concurrently built indexes are valid" "true true" \
	"$(q "$D" "$P" src -c "SELECT string_agg(indisvalid::text, ' ' ORDER BY indexrelid::regclass::text) FROM pg_index WHERE indexrelid IN ('items_l2_cic'::regclass, 'items_cos'::regclass)")"
# only the concurrently built l2 index may serve the scans below
q "$D" "$P" src -c "DROP INDEX items_l2" >/dev/null
nonnull=$(q "$D" "$P" src -c "SELECT count(*) FROM items WHERE v IS NOT NULL")
check "CIC: index holds every non-null row" "$nonnull" "$(q "$D" "$P" src -c "SELECT elements FROM prism.index_info('items_l2_cic')")"
res=$(q "$D" "$P" src <<-'EOF'
	SET enable_seqscan = off;
	SET hnsw.iterative_scan = relaxed_order;
	SET hnsw.max_scan_tuples = 10000000;
	SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> (SELECT v FROM items WHERE id = 1)) s;
EOF
)
check "CIC: a full index scan returns every non-null row" "$nonnull" "$res"
res=$(q "$D" "$P" src <<-'EOF'
	SET enable_seqscan = off;
	SET hnsw.iterative_scan = relaxed_order;
	SET hnsw.max_scan_tuples = 10000000;
	SELECT count(*) FROM (SELECT id FROM items ORDER BY v <=> (SELECT v FROM items WHERE id = 1)) s;
EOF
)
check "REINDEX CONCURRENTLY: a full index scan returns every non-null row" "$nonnull" "$res"
run_index_check "$D" "$P" src items_l2_cic "CIC: index_check"
run_index_check "$D" "$P" src items_cos "REINDEX CONCURRENTLY: index_check"

# --- VACUUM FULL and CLUSTER rebuild the index --------------------------------------------------------
q "$D" "$P" src -c "DELETE FROM items WHERE id % 3 = 0" -c "VACUUM FULL items" >/dev/null || not_ok "VACUUM FULL failed"
nonnull=$(q "$D" "$P" src -c "SELECT count(*) FROM items WHERE v IS NOT NULL")
check "VACUUM FULL: index holds exactly the remaining rows" "$nonnull 0" "$(q "$D" "$P" src -c "SELECT elements || ' ' || deleted_elements FROM prism.index_info('items_l2_cic')")"
exact=$(answers src seq)
check "VACUUM FULL: index answers equal the exact ones" "$exact" "$(answers src index)"
run_index_check "$D" "$P" src items_l2_cic "VACUUM FULL: index_check"
out=$(q "$D" "$P" src -c "CLUSTER items USING items_l2_cic" 2>&1)
if grep -q "does not support clustering" <<<"$out"; then ok "CLUSTER on an hnsw index is refused: $out"; else not_ok "CLUSTER on an hnsw index" "($out)"; fi
q "$D" "$P" src -c "DELETE FROM items WHERE id % 7 = 0" -c "CLUSTER items USING items_pkey" >/dev/null || not_ok "CLUSTER failed"
nonnull=$(q "$D" "$P" src -c "SELECT count(*) FROM items WHERE v IS NOT NULL")
check "CLUSTER: index holds exactly the remaining rows" "$nonnull 0" "$(q "$D" "$P" src -c "SELECT elements || ' ' || deleted_elements FROM prism.index_info('items_cos')")"
exact=$(answers src seq)
check "CLUSTER: index answers equal the exact ones" "$exact" "$(answers src index)"
run_index_check "$D" "$P" src items_cos "CLUSTER: index_check"

finish lifecycle
