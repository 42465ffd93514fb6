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

# work_cluster NAME LABEL: a throwaway cluster NAME (its directory D, port P) and a scratch
# directory W, both removed on exit together with a VACUUM loop left running; prints
# `FAIL LABEL` and exits if the cluster does not start. Queries go to database $DB.
work_cluster() {
	W=$(mktemp -d "${TMPDIR:-/tmp}/prism-$1-wl.XXXXXX")
	VAC=""
	trap work_cleanup EXIT
	trap 'exit 1' INT TERM
	cluster_new "$1" || { echo "FAIL $2: could not start a cluster"; exit 1; }
	D=$CLUSTER_DIR
	P=$CLUSTER_PORT
}

work_cleanup() {
	[ -n "${VAC:-}" ] && kill "$VAC" 2>/dev/null
	cluster_destroy_all
	[ -n "${W:-}" ] && rm -rf "$W"
}

# vacuum_loop TABLE [PAUSE]: VACUUM TABLE on D/P every PAUSE seconds (0.3) in the background
# until vacuum_stop.
vacuum_loop() {
	(
		while true; do
			"$PG_BIN/psql" -X -q -h "$D" -p "$P" -U postgres -d "$DB" -c "VACUUM $1" >/dev/null 2>&1
			sleep "${2:-0.3}"
		done
	) &
	VAC=$!
}

vacuum_stop() {
	kill "$VAC" 2>/dev/null
	wait "$VAC" 2>/dev/null
	VAC=""
}

# crash_and_recover ROUND BENCH_PID: kills the server on D/P — in even rounds by SIGKILL of an
# active pgbench backend (the postmaster then resets every backend and runs crash recovery),
# else (or with no backend) by `pg_ctl stop -m immediate` — stops the VACUUM loop, waits for
# pgbench, restarts the server if it is down and waits for recovery. Sets `how` to the kill
# used; false (with the server log's tail) if the server does not come back.
crash_and_recover() {
	local round=$1 bench=$2 pid=""
	if [ $((round % 2)) = 0 ]; then
		pid=$(q "$D" "$P" "$DB" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND state = 'active' ORDER BY random() LIMIT 1")
		[ -n "$pid" ] || pid=$(q "$D" "$P" "$DB" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' ORDER BY random() LIMIT 1")
	fi
	if [ -n "$pid" ]; then
		how="kill -9 of backend $pid"
		kill -9 "$pid"
	else
		how="pg_ctl stop -m immediate"
		as_pg "$PG_BIN/pg_ctl" -D "$D/data" -m immediate -w stop >/dev/null 2>&1
	fi
	vacuum_stop
	wait "$bench" 2>/dev/null
	sleep 0.5
	[ -f "$D/data/postmaster.pid" ] || cluster_start "$D" "$P"
	if ! wait_ready "$D" "$P"; then
		tail -n 30 "$D/server.log"
		return 1
	fi
}

# primary_and_standby LABEL: a primary (cluster_new, directory PD, port PP) and a standby made
# from it with pg_basebackup -R (directory SD, port SP), both removed on exit; prints
# `FAIL LABEL` and exits if either does not start.
primary_and_standby() {
	trap cluster_destroy_all EXIT
	trap 'exit 1' INT TERM
	cluster_new "$1primary" || { echo "FAIL $1: could not start the primary"; exit 1; }
	PD=$CLUSTER_DIR
	PP=$CLUSTER_PORT
	SD=$(pg_tempdir "$1standby") || exit 1
	PRISM_CLUSTERS+=("$SD")
	if ! as_pg "$PG_BIN/pg_basebackup" -D "$SD/data" -R -X stream -c fast -h 127.0.0.1 -p "$PP" -U postgres \
		>"$SD/basebackup.log" 2>&1; then
		cat "$SD/basebackup.log"
		echo "FAIL $1: pg_basebackup"
		exit 1
	fi
	echo "unix_socket_directories = '$SD'" >>"$SD/data/postgresql.conf"
	local try
	SP=""
	for try in 1 2 3; do
		SP=$(free_port)
		[ "$SP" != "$PP" ] && cluster_start "$SD" "$SP" && break
		SP=""
		sleep 1
	done
	[ -n "$SP" ] || { echo "FAIL $1: could not start the standby"; exit 1; }
}

# wait_replay: waits (up to 60 s) until the standby has replayed all the primary has written.
wait_replay() {
	local lsn i
	lsn=$(q "$PD" "$PP" "$DB" -c "SELECT pg_current_wal_lsn()")
	for i in $(seq 1 240); do
		[ "$(q "$SD" "$SP" "$DB" -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" = t ] && return 0
		sleep 0.25
	done
	echo "# standby did not replay up to $lsn within 60 s"
	return 1
}
