# Helpers shared by the hnsw shell tests (test/t/0*_*.sh); source it after test/lib.sh.
# Each test counts its checks with ok/not_ok and ends with `finish NAME`, which prints the
# `NAME: N passed, N failed` line test/run reads, then PASS/FAIL, and exits non-zero on failure.

T_PASSED=0
T_FAILED=0
T_FAILURES=()

ok() {
	T_PASSED=$((T_PASSED + 1))
	echo "ok - $*"
}

not_ok() {
	T_FAILED=$((T_FAILED + 1))
	T_FAILURES+=("$1")
	echo "not ok - $*"
}

# check NAME EXPECTED ACTUAL: ok when equal, else not ok showing both.
check() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "(expected: $2, got: $3)"
	fi
}

finish() {
	local name=$1
	echo "$name: $T_PASSED passed, $T_FAILED failed"
	if [ "$T_FAILED" = 0 ] && [ "$T_PASSED" -gt 0 ]; then
		echo "PASS $name"
		exit 0
	fi
	echo "FAIL $name: ${T_FAILURES[*]:-no checks ran}"
	exit 1
}

# q DIR PORT DB SQL...: run SQL (several -c allowed via extra args), unaligned tuples only.
q() {
	local dir=$1 port=$2 db=$3
	shift 3
	"$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -Atq -h "$dir" -p "$port" -U postgres -d "$db" "$@"
}

# wait_ready DIR PORT: wait (up to 120 s) until the server accepts queries (crash recovery done).
wait_ready() {
	local i
	for i in $(seq 1 240); do
		"$PG_BIN/psql" -X -Atq -h "$1" -p "$2" -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

# The set-based "every row finds itself" query: for each row of TABLE (id, v), an index scan
# ordered by the distance to its own vector must return a row at distance 0 first. HNSW graphs
# (hnswlib's too) have a few elements per ten thousand that a beam of 100 does not reach from
# the entry point, so rows missed at ef_search 100 are retried at ef_search 1000. Prints
# "<missed at 1000> <missed at 100> <first ids missed at 1000>". The inner scan must use the
# hnsw index (checked by the caller with self_find_plan_sql).
self_find_sql() {
	local table=$1 op=${2:-<->}
	cat <<-EOF
		SET enable_seqscan = off;
		SET enable_bitmapscan = off;
		SET jit = off;
		SET hnsw.ef_search = 100;
		CREATE TEMP TABLE miss100 AS SELECT r.id FROM $table r
			LEFT JOIN LATERAL (SELECT v $op r.v AS d FROM $table ORDER BY v $op r.v LIMIT 1) x ON true
			WHERE x.d IS DISTINCT FROM 0;
		SET hnsw.ef_search = 1000;
		CREATE TEMP TABLE miss1000 AS SELECT r.id FROM miss100 m JOIN $table r USING (id)
			LEFT JOIN LATERAL (SELECT v $op r.v AS d FROM $table ORDER BY v $op r.v LIMIT 1) x ON true
			WHERE x.d IS DISTINCT FROM 0;
		SELECT (SELECT count(*) FROM miss1000) || ' ' || (SELECT count(*) FROM miss100) || ' ' ||
			coalesce((SELECT string_agg(id::text, ',') FROM (SELECT id FROM miss1000 ORDER BY id LIMIT 5) s), '');
	EOF
}

# self_find DIR PORT DB TABLE OP LABEL: records the self-find check.
self_find() {
	local dir=$1 port=$2 db=$3 table=$4 op=$5 label=$6 res rows
	rows=$(q "$dir" "$port" "$db" -c "SELECT count(*) FROM $table" 2>&1)
	res=$(q "$dir" "$port" "$db" <<<"$(self_find_sql "$table" "$op")" 2>&1)
	set -- $res
	if [ "${1:-x}" = 0 ]; then
		ok "$label: all $rows rows found first by their own vector (${2} needed ef_search 1000)"
	else
		not_ok "$label: rows not found by their own vector even at ef_search 1000" "($res)"
	fi
}

# reachable DIR PORT DB TABLE OP LABEL: a scan that runs to the end (relaxed_order keeps
# late-found elements) returns every row of TABLE: no element is cut off from the graph.
reachable() {
	local dir=$1 port=$2 db=$3 table=$4 op=$5 label=$6 res
	res=$(q "$dir" "$port" "$db" 2>&1 <<-EOF
		SET enable_seqscan = off;
		SET hnsw.iterative_scan = relaxed_order;
		SET hnsw.max_scan_tuples = 10000000;
		SELECT (SELECT count(*) FROM $table) || ' ' || count(*) FROM
			(SELECT id FROM $table ORDER BY v $op (SELECT v FROM $table ORDER BY id LIMIT 1)) s;
	EOF
	)
	set -- $res
	if [ "$#" = 2 ] && [ "$1" = "$2" ]; then
		ok "$label: a full index scan reaches all $1 rows"
	else
		not_ok "$label: a full index scan does not reach every row" "(rows, reached: $res)"
	fi
}

self_find_plan_sql() {
	local table=$1 op=${2:-<->}
	cat <<-EOF
		SET enable_seqscan = off;
		SET enable_bitmapscan = off;
		EXPLAIN (costs off) SELECT r.id FROM $table r
			LEFT JOIN LATERAL (SELECT v $op r.v AS d FROM $table ORDER BY v $op r.v LIMIT 1) x ON true;
	EOF
}

# run_index_check DIR PORT DB INDEX: records one check (or a skip message).
run_index_check() {
	local dir=$1 port=$2 db=$3 index=$4 label=${5:-index_check} have out
	have=$(q "$dir" "$port" "$db" -c "SELECT to_regprocedure('prism.index_check(regclass)') IS NOT NULL") || {
		not_ok "$label" "(could not query the server)"
		return
	}
	if [ "$have" != t ]; then
		echo "# skip $label: prism.index_check is not in this build"
		return
	fi
	if ! out=$(q "$dir" "$port" "$db" -c "SELECT problem || ' element ' || coalesce(element::text, '-') || ': ' || coalesce(detail, '') FROM prism.index_check('$index'::regclass) LIMIT 20" 2>&1); then
		not_ok "$label" "(index_check failed: $out)"
	elif [ -n "$out" ]; then
		not_ok "$label" "(problems in $index:"$'\n'"$out)"
	else
		ok "$label: prism.index_check($index) finds no problem"
	fi
}
