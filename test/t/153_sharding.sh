#!/bin/bash
# A vector table sharded over three Postgres servers with declarative partitioning and
# postgres_fdw (the README's "Scaling out" setup). Three throwaway servers on loopback each hold
# one shard, a table `items` with its own hnsw index; the coordinator (a database on the first
# server) has `items` partitioned by hash of id into three foreign partitions, one per server,
# whose foreign server has `extensions 'prism'` so the distance operator can be shipped.
# 30,000 vectors are inserted through the coordinator. Checks:
#  - the rows are spread over the three servers and each shard's query uses its hnsw index;
#  - for several queries the coordinator's top 10 equals the exact answer merged from the
#    shards' sequential scans;
#  - EXPLAIN VERBOSE on the parent: a Merge Append over the foreign scans whose remote SQL has
#    ORDER BY v <-> q; on the per-shard form (UNION ALL of the foreign partitions, each with
#    ORDER BY ... LIMIT) the remote SQL has ORDER BY ... LIMIT, and the answer is the same;
#  - without `extensions 'prism'` nothing about the distance is shipped (the reason for it).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

trap cluster_destroy_all EXIT
trap 'exit 1' INT TERM
DIMS=16
ROWS=30000
K=10
# settings of the coordinator's sessions on the shards: a wider search, and cursors planned for
# their first rows (a query on the partitioned parent reaches each shard as a cursor without
# LIMIT, which the default cursor_tuple_fraction of 0.1 plans as a sort of the whole shard)
SHARD_OPTIONS="-c hnsw.ef_search=100 -c cursor_tuple_fraction=0.001"
DIRS=() PORTS=()
for i in 0 1 2; do
	cluster_new "shard$i" || { echo "FAIL sharding: could not start server $i"; exit 1; }
	DIRS+=("$CLUSTER_DIR") PORTS+=("$CLUSTER_PORT")
done
echo "# servers on ports ${PORTS[*]}"
C="${DIRS[0]} ${PORTS[0]} coord"
qc() { q ${DIRS[0]} ${PORTS[0]} coord "$@"; }

for i in 0 1 2; do
	q "${DIRS[$i]}" "${PORTS[$i]}" postgres >/dev/null <<-EOF || { echo "FAIL sharding: shard $i setup"; exit 1; }
		CREATE DATABASE shard;
		\c shard
		CREATE EXTENSION prism;
		CREATE TABLE items (id bigint PRIMARY KEY, v vector($DIMS));
	EOF
done

q "${DIRS[0]}" "${PORTS[0]}" postgres -c "CREATE DATABASE coord" >/dev/null
qc >/dev/null <<-EOF || { echo "FAIL sharding: coordinator setup"; exit 1; }
	CREATE EXTENSION prism;
	CREATE EXTENSION postgres_fdw;
	$(for i in 0 1 2; do cat <<-EOS
		CREATE SERVER shard$i FOREIGN DATA WRAPPER postgres_fdw
			OPTIONS (host '127.0.0.1', port '${PORTS[$i]}', dbname 'shard', extensions 'prism',
				fetch_size '$K', batch_size '1000', options '$SHARD_OPTIONS');
		CREATE USER MAPPING FOR postgres SERVER shard$i OPTIONS (user 'postgres');
	EOS
	done)
	CREATE TABLE items (id bigint NOT NULL, v vector($DIMS)) PARTITION BY HASH (id);
	$(for i in 0 1 2; do
		echo "CREATE FOREIGN TABLE items_$i PARTITION OF items FOR VALUES WITH (modulus 3, remainder $i)
			SERVER shard$i OPTIONS (table_name 'items');"
	done)
	SELECT setseed(0.16);
	INSERT INTO items SELECT g, (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE g > 0)::vector($DIMS)
		FROM generate_series(1, $ROWS) g;
	CREATE TABLE queries AS SELECT q, (SELECT array_agg(random()) FROM generate_series(1, $DIMS) WHERE q > 0)::vector($DIMS) AS v
		FROM generate_series(1, 5) q;
EOF

counts=""
for i in 0 1 2; do
	q "${DIRS[$i]}" "${PORTS[$i]}" shard -c "CREATE INDEX items_v_idx ON items USING hnsw (v vector_l2_ops)" -c "ANALYZE items" >/dev/null ||
		not_ok "shard $i: index build"
	counts+="$(q "${DIRS[$i]}" "${PORTS[$i]}" shard -c "SELECT count(*) FROM items") "
done
set -- $counts
if [ $(($1 + $2 + $3)) = $ROWS ] && [ "$1" -gt $((ROWS / 4)) ] && [ "$2" -gt $((ROWS / 4)) ] && [ "$3" -gt $((ROWS / 4)) ]; then
	ok "the $ROWS rows inserted through the coordinator are spread over the three servers ($counts)"
else
	not_ok "rows per shard" "($counts)"
fi
qc -c "ANALYZE items" >/dev/null

# the shards answer the shipped query with their hnsw index
shipped="SELECT id, v FROM public.items ORDER BY (v OPERATOR(public.<->) '$(qc -c "SELECT v FROM queries WHERE q = 1")'::public.vector) ASC NULLS LAST LIMIT $K"
plan=$(q "${DIRS[1]}" "${PORTS[1]}" shard -c "EXPLAIN (costs off) $shipped")
if grep -q "Index Scan using items_v_idx" <<<"$plan"; then ok "a shard runs the shipped query with its hnsw index"; else not_ok "shard plan" "($plan)"; fi
# without LIMIT (what a query on the partitioned parent ships) postgres_fdw reads a cursor
cursor_plan() {
	PGOPTIONS="$1" q "${DIRS[1]}" "${PORTS[1]}" shard -c "BEGIN" -c "EXPLAIN (costs off) DECLARE c CURSOR FOR ${shipped% LIMIT*}" -c "COMMIT"
}
plan=$(cursor_plan "$SHARD_OPTIONS")
if grep -q "Index Scan using items_v_idx" <<<"$plan"; then ok "with the server's options a shard runs the shipped cursor (no LIMIT) with its hnsw index"; else not_ok "shard cursor plan" "($plan)"; fi
grep -q "Seq Scan" <<<"$(cursor_plan "")" && echo "# with the default cursor_tuple_fraction the shard would sort all its rows"

# exact top K of query N merged from the shards' sequential scans: "id,id,..."
exact_merged() {
	local n=$1 qv i
	qv=$(qc -c "SELECT v FROM queries WHERE q = $n")
	for i in 0 1 2; do
		q "${DIRS[$i]}" "${PORTS[$i]}" shard -F ' ' -c "SET enable_indexscan = off" -c "SET enable_bitmapscan = off" \
			-c "SELECT v <-> '$qv', id FROM items ORDER BY 1 LIMIT $K"
	done | sort -g -k1,1 | head -n $K | awk '{ print $2 }' | paste -sd,
}

parent_sql() { echo "SELECT id FROM items ORDER BY v <-> (SELECT v FROM queries WHERE q = $1) LIMIT $K"; }
# the per-shard form: each foreign partition with its own ORDER BY ... LIMIT, merged
per_shard_sql() {
	local n=$1 i sep=""
	echo "WITH q AS MATERIALIZED (SELECT v FROM queries WHERE q = $n) SELECT id FROM ("
	for i in 0 1 2; do
		echo "$sep(SELECT id, v <-> (SELECT v FROM q) AS d FROM items_$i ORDER BY v <-> (SELECT v FROM q) LIMIT $K)"
		sep="UNION ALL "
	done
	echo ") s ORDER BY d LIMIT $K"
}

for n in 1 2 3 4 5; do
	exact=$(exact_merged $n)
	got=$(qc -c "SELECT string_agg(id::text, ',') FROM ($(parent_sql $n)) s")
	check "query $n: coordinator top $K over the partitioned table equals the exact merged answer" "$exact" "$got"
	got=$(qc -c "SELECT string_agg(id::text, ',') FROM ($(per_shard_sql $n)) s")
	check "query $n: per-shard ORDER BY ... LIMIT form equals the exact merged answer" "$exact" "$got"
done

plan=$(qc -c "EXPLAIN (VERBOSE, costs off) $(parent_sql 1)")
remote=$(grep -cE "Remote SQL: SELECT id, v FROM public.items ORDER BY \(v OPERATOR\(public.<->\) \\\$[0-9]+::public.vector(\($DIMS\))?\) ASC NULLS LAST$" <<<"$plan")
if grep -q "Merge Append" <<<"$plan" && [ "$remote" = 3 ]; then
	ok "parent: Merge Append of three foreign scans, each shipping ORDER BY v <-> q"
else
	not_ok "parent: plan does not ship ORDER BY to the three shards" "($plan)"
fi
plan=$(qc -c "EXPLAIN (VERBOSE, costs off) $(per_shard_sql 1)")
remote=$(grep -cE "Remote SQL: SELECT id, v FROM public.items ORDER BY \(v OPERATOR\(public.<->\) \\\$[0-9]+::public.vector(\($DIMS\))?\) ASC NULLS LAST LIMIT $K::bigint" <<<"$plan")
if [ "$remote" = 3 ]; then
	ok "per-shard form: each shard's remote SQL has ORDER BY v <-> q ... LIMIT $K"
else
	not_ok "per-shard form: remote ORDER BY ... LIMIT not shipped to the three shards" "($plan)"
fi
echo "$plan" | grep "Remote SQL" | head -n 1 | sed 's/^ */# /'

# without extensions 'prism' postgres_fdw cannot ship prism's operator: the shard sends all rows
qc >/dev/null <<-EOF
	CREATE SERVER shard0_plain FOREIGN DATA WRAPPER postgres_fdw
		OPTIONS (host '127.0.0.1', port '${PORTS[0]}', dbname 'shard');
	CREATE USER MAPPING FOR postgres SERVER shard0_plain OPTIONS (user 'postgres');
	CREATE FOREIGN TABLE items_0_plain (id bigint, v vector($DIMS)) SERVER shard0_plain OPTIONS (table_name 'items');
EOF
plan=$(qc -c "EXPLAIN (VERBOSE, costs off) SELECT id FROM items_0_plain ORDER BY v <-> '[$(seq -s, 1 $DIMS)]' LIMIT $K")
if grep -q "Remote SQL: SELECT id, v FROM public.items$" <<<"$plan"; then
	ok "without extensions 'prism' the whole shard is fetched and sorted locally"
else
	not_ok "plain foreign server plan" "($plan)"
fi

finish sharding
