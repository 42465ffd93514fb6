#!/bin/bash
# ivfflat benchmark: prism against pgvector (or any databases) on an fvecs data set, from SQL
# only. For each database given (a conninfo; prism or pgvector is detected from pg_extension):
# load base/query/ground truth (once; --reuse keeps an earlier load), time CREATE INDEX ...
# USING ivfflat (lists = L) under maintenance_work_mem M, then for each ivfflat.probes in the
# sweep run the first Q queries in the server (one LATERAL index scan per query, so no client
# round trips) and print recall@10 and queries/s. Builds and sweeps are interleaved across the
# databases, ROUNDS times, so the VM's drift hits every system alike.
#   test/bench/ivfflat_bench.sh DATA_DIR "dbname=pr host=..." "dbname=pv host=..."
# Environment: LISTS (245), MWM (512MB), QUERIES (2000), PROBES ("1 2 4 8 16"), ROUNDS (2),
# REUSE=1 (skip the load), TYPE (vector; halfvec: the rows as halfvec in table items_half,
# halfvec_l2_ops; bit: an expression index on binary_quantize(v)::bit(dims), bit_hamming_ops,
# its RERANK (100) nearest re-ranked by exact L2 distance). Creates tables items, queries,
# truth (items_half) and function ivf_bench.
# DATA_DIR holds base.fvecs, query.fvecs, groundtruth.ivecs (see README.md); the server must be
# able to read the converted files in $WORK (default /tmp/ivfflat-bench).
set -euo pipefail
DATA=$1
shift
LISTS=${LISTS:-245}
MWM=${MWM:-512MB}
QUERIES=${QUERIES:-2000}
PROBES=${PROBES:-1 2 4 8 16}
ROUNDS=${ROUNDS:-2}
TYPE=${TYPE:-vector}
RERANK=${RERANK:-100}
WORK=${WORK:-/tmp}/ivfflat-bench
PSQL=${PG_BIN:+$PG_BIN/}psql
mkdir -p "$WORK"
chmod 755 "$WORK"

if [ "${REUSE:-0}" != 1 ]; then
	python3 - "$DATA" "$WORK" <<-'EOF'
		import array, struct, sys
		src, dst = sys.argv[1], sys.argv[2]
		def vecs(path, typ):
		    data = open(path, 'rb').read()
		    pos = 0
		    while pos < len(data):
		        d = struct.unpack_from('<i', data, pos)[0]
		        a = array.array(typ)
		        a.frombytes(data[pos + 4:pos + 4 + 4 * d])
		        pos += 4 + 4 * d
		        yield a
		def text(v):
		    return '[' + ','.join(('%d' % x) if x == int(x) else repr(x) for x in v) + ']'
		for name in ('base', 'query'):
		    with open('%s/%s.txt' % (dst, name), 'w') as f:
		        for i, v in enumerate(vecs('%s/%s.fvecs' % (src, name), 'f')):
		            f.write('%d\t%s\n' % (i, text(v)))
		with open('%s/truth.txt' % dst, 'w') as f:
		    for i, v in enumerate(vecs('%s/groundtruth.ivecs' % src, 'i')):
		        for j in v[:10]:
		            f.write('%d\t%d\n' % (i, j))
	EOF
	dims=$(head -1 "$WORK/base.txt" | tr -cd ',' | wc -c)
	dims=$((dims + 1))
	for db in "$@"; do
		"$PSQL" -X -q -v ON_ERROR_STOP=1 "$db" <<-EOF
			SET client_min_messages = warning;
			DROP TABLE IF EXISTS items, queries, truth;
			CREATE TABLE items (id int PRIMARY KEY, v vector($dims));
			COPY items FROM '$WORK/base.txt';
			CREATE TABLE queries (qid int PRIMARY KEY, q vector($dims));
			COPY queries FROM '$WORK/query.txt';
			CREATE TABLE truth (qid int, id int);
			COPY truth FROM '$WORK/truth.txt';
			CREATE INDEX ON truth (qid, id);
			VACUUM ANALYZE items;
			VACUUM ANALYZE queries;
			VACUUM ANALYZE truth;
		EOF
	done
fi
dims=$("$PSQL" -X -At "$1" -c "SELECT vector_dims(v) FROM items LIMIT 1")
case $TYPE in
vector)
	index="items USING ivfflat (v vector_l2_ops)"
	knn="SELECT id FROM items ORDER BY v <-> qs.q LIMIT 10" ;;
halfvec)
	index="items_half USING ivfflat (v halfvec_l2_ops)"
	knn="SELECT id FROM items_half ORDER BY v <-> qs.q::halfvec LIMIT 10"
	for db in "$@"; do
		"$PSQL" -X -q -v ON_ERROR_STOP=1 "$db" -c "SET client_min_messages = warning" \
			-c "CREATE TABLE IF NOT EXISTS items_half AS SELECT id, v::halfvec($dims) AS v FROM items" \
			-c "VACUUM ANALYZE items_half"
	done ;;
bit)
	index="items USING ivfflat ((binary_quantize(v)::bit($dims)) bit_hamming_ops)"
	knn="SELECT id FROM (SELECT id, v FROM items ORDER BY binary_quantize(v)::bit($dims) <~> binary_quantize(qs.q) LIMIT $RERANK) c ORDER BY v <-> qs.q LIMIT 10" ;;
*)
	echo "TYPE must be vector, halfvec or bit" >&2
	exit 1 ;;
esac
for db in "$@"; do
	"$PSQL" -X -q -v ON_ERROR_STOP=1 "$db" <<-EOF
		CREATE OR REPLACE FUNCTION ivf_bench(p int, nq int) RETURNS text LANGUAGE plpgsql AS \$\$
		DECLARE t0 timestamptz; r float8; el float8;
		BEGIN
			PERFORM set_config('ivfflat.probes', p::text, true);
			t0 := clock_timestamp();
			SELECT count(t.id)::float8 / (10 * nq) INTO r FROM (SELECT qs.qid, x.id FROM
				(SELECT qid, q FROM queries WHERE qid < nq) qs,
				LATERAL ($knn) x) y
				LEFT JOIN truth t ON t.qid = y.qid AND t.id = y.id;
			el := extract(epoch FROM clock_timestamp() - t0);
			RETURN format('probes %s: recall %s, %s q/s', p, round(r::numeric, 3), round((nq / el)::numeric));
		END \$\$;
	EOF
done
name() { "$PSQL" -X -At "$1" -c "SELECT string_agg(extname || ' ' || extversion, ',') FROM pg_extension WHERE extname IN ('prism', 'vector')"; }
for round in $(seq 1 "$ROUNDS"); do
	for db in "$@"; do
		ms=$("$PSQL" -X -At -q "$db" -c "SET client_min_messages = warning" -c "DROP INDEX IF EXISTS items_ivf" -c "CHECKPOINT" \
			-c "SET maintenance_work_mem = '$MWM'" -c "\\timing on" \
			-c "CREATE INDEX items_ivf ON $index WITH (lists = $LISTS)" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
		mib=$("$PSQL" -X -At "$db" -c "SELECT round(pg_relation_size('items_ivf') / 1048576.0, 1)")
		echo "round $round $(name "$db"): $TYPE build $ms ms, $mib MiB (lists $LISTS, maintenance_work_mem $MWM)"
	done
	for p in $PROBES; do
		for db in "$@"; do
			echo "round $round $(name "$db"): $TYPE $("$PSQL" -X -At -q "$db" -c "SET enable_seqscan = off" -c "SET jit = off" \
				-c "SELECT ivf_bench($p, $QUERIES)" 2>&1 | tail -1)"
		done
	done
done
