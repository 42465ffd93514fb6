#!/bin/bash
# Collections survive pg_dump / restore (issue 13): prism.collections is an extension
# configuration table, so its rows are dumped with the collections' tables; after restoring
# into a new database the collection answers the same query and its indexes are back.
# Runs on the server given by PGHOST/PGPORT/PGUSER, in two databases of its own. ~5 s.
set -uo pipefail
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SRC=prism_coll_dump_src
DST=prism_coll_dump_dst
PSQL="$PG_BIN/psql -X -q -v ON_ERROR_STOP=1 -At"
DUMP=$(mktemp)
cleanup() { $PSQL -d postgres -c "DROP DATABASE IF EXISTS $SRC" -c "DROP DATABASE IF EXISTS $DST" >/dev/null 2>&1; rm -f "$DUMP"; }
trap cleanup EXIT
cleanup
$PSQL -d postgres -c "CREATE DATABASE $SRC" -c "CREATE DATABASE $DST" || exit 1
$PSQL -d $SRC >/dev/null <<'SQL' || exit 1
CREATE EXTENSION prism;
CREATE SCHEMA s1;
SELECT prism.create_collection('dumped', metadata => '{"topic": "t"}', backing_table => 's1.dumped_tbl',
	configuration => '{"hnsw": {"space": "cosine", "ef_search": 33}}') IS NOT NULL;
SELECT prism.add('dumped', array_agg('r' || i), array_agg(ARRAY[sin(i), cos(i), i % 3]::real[]::vector),
	array_agg('doc ' || i), array_agg(jsonb_build_object('n', i))) FROM generate_series(1, 200) i;
SQL
Q="SELECT string_agg(id || ':' || round(distance::numeric, 6), ',' ORDER BY rank) FROM prism.query('dumped', '{\"[0.5,0.5,1]\"}', 5, \"where\" => '{\"n\": {\"\$gt\": 20}}')"
C="SELECT name, dimension, metric, configuration, metadata, backing_table FROM prism.collections"
I="SELECT string_agg(pg_get_indexdef(indexrelid), '; ' ORDER BY pg_get_indexdef(indexrelid)) FROM pg_index WHERE indrelid = 's1.dumped_tbl'::regclass"
before=$($PSQL -d $SRC -c "$Q"; $PSQL -d $SRC -c "$C"; $PSQL -d $SRC -c "$I")
"$PG_BIN/pg_dump" -d $SRC -f "$DUMP" || exit 1
$PSQL -d $DST -f "$DUMP" >/dev/null || exit 1
after=$($PSQL -d $DST -c "$Q"; $PSQL -d $DST -c "$C"; $PSQL -d $DST -c "$I")
echo "$before"
if [ -n "$before" ] && [ "$before" = "$after" ] && echo "$before" | grep -q 'dumped|3|cosine'; then
	echo "collections dump/restore: ok"
else
	echo "collections dump/restore: FAILED"; echo "after restore:"; echo "$after"; exit 1
fi
