#!/usr/bin/env bash
# Filtered-search sweep: recall@10 and q/s of `WHERE category = C ORDER BY embedding <=> q LIMIT 10`
# per selectivity and hnsw.ef_search, beside the unfiltered query at the same ef, through the hnsw
# index (sequential and bitmap scans off). Works on prism and pgvector alike.
#
# Expects the `items` table that `run_bench DATA --filtered` leaves (categories 1, 2, 3 hold 50%,
# 10%, 1% of the rows; drop its btree on category first, e.g. `DROP INDEX items_category_idx`).
#   setup:  filtered_sweep.sh setup QUERIES.txt N   -- table fq(qid, v) from "qid<TAB>[...]" lines
#           (the first N), and the exact top-10 per query and category (index scans off)
#   run:    filtered_sweep.sh run LABEL [EF...]      -- one line per category and ef:
#           LABEL category ef recall q/s
# Connection from PGHOST/PGPORT/PGUSER/PGDATABASE; extra settings through SWEEP_SETTINGS (e.g.
# "-c hnsw.iterative_scan=relaxed_order"); SWEEP_SECONDS (default 8) per q/s measurement;
# SWEEP_METRIC_OP (default <=>); SWEEP_CATS (default "0 1 2 3"; 0 = no filter).
set -euo pipefail
OP=${SWEEP_METRIC_OP:-<=>}
SECS=${SWEEP_SECONDS:-8}
CATS=${SWEEP_CATS:-0 1 2 3}
where() { [ "$1" = 0 ] && echo "" || echo "WHERE category = $1"; }

case "${1:-}" in
setup)
	file=$2 n=$3
	psql -qX -v ON_ERROR_STOP=1 <<SQL
DROP TABLE IF EXISTS fq, ftruth;
CREATE TABLE fq (qid int PRIMARY KEY, v vector);
\copy fq FROM program 'head -n $n $file'
CREATE TABLE ftruth (qid int, cat int, ids int[], PRIMARY KEY (qid, cat));
SET enable_indexscan = off;
INSERT INTO ftruth SELECT q.qid, 0, ARRAY(SELECT id FROM items ORDER BY embedding $OP q.v LIMIT 10) FROM fq q;
INSERT INTO ftruth SELECT q.qid, c, ARRAY(SELECT id FROM items WHERE category = c ORDER BY embedding $OP q.v LIMIT 10)
  FROM fq q, generate_series(1, 3) c;
ANALYZE fq, ftruth;
SQL
	;;
run)
	label=$2
	shift 2
	efs=${*:-40 80 160}
	n=$(psql -XAtc "SELECT count(*) FROM fq")
	for c in $CATS; do
		for ef in $efs; do
			opts="-c enable_seqscan=off -c enable_bitmapscan=off -c hnsw.ef_search=$ef ${SWEEP_SETTINGS:-}"
			recall=$(PGOPTIONS="$opts" psql -XAtc "SELECT round(avg((SELECT count(*) FROM (SELECT id FROM items $(where $c)
				ORDER BY embedding $OP q.v LIMIT 10) r WHERE r.id = ANY (t.ids)) / 10.0), 4)
				FROM fq q JOIN ftruth t ON t.qid = q.qid AND t.cat = $c")
			script=$(mktemp)
			printf '\\set q random(1, %s)\nSELECT id FROM items %s ORDER BY embedding %s (SELECT v FROM fq WHERE qid = :q) LIMIT 10;\n' \
				"$n" "$(where $c)" "$OP" >"$script"
			qps=$(PGOPTIONS="$opts" pgbench -n -M prepared -T "$SECS" -f "$script" 2>/dev/null |
				sed -n 's/^tps = \([0-9.]*\).*/\1/p' | cut -d. -f1)
			rm -f "$script"
			echo "$label $c $ef $recall $qps"
		done
	done
	;;
*)
	sed -n 2,16p "$0"
	exit 2
	;;
esac
