#!/bin/bash
# Moving from pgvector to prism (README "Migrating from pgvector"), on a throwaway server of its
# own. test/t/data/pgvector-dump.sql is a plain pg_dump of a pgvector database as pg_dump 15
# writes it (CREATE EXTENSION vector, tables with vector(n) columns and NULLs, a view using
# OPERATOR(public.<->) and vector_dims, a sequence, hnsw indexes with options and an ivfflat one).
#  1. Without the alias: the README's sed recipe turns the dump into a prism restore; rows,
#     view and sequence come back, the hnsw indexes and the ivfflat one are prism hnsw indexes
#     that answer exactly.
#  2. `make install-vector-alias` (into $PG_CONFIG's share dir; skipped when a pgvector
#     vector.control is there, removed again when this test installed it): an application's
#     `CREATE EXTENSION IF NOT EXISTS vector` installs prism; the unchanged dump restores without
#     errors, its ivfflat index as a prism ivfflat index that answers exactly at full probes.
#  3. A custom-format dump of that database (extension named vector, as pgvector's) restores
#     into prism both through `pg_restore -f - | sed | psql` and through a `pg_restore -l` list
#     without the extension's entries after `CREATE EXTENSION prism`.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

DUMP=$HERE/data/pgvector-dump.sql
W=$(mktemp -d "${TMPDIR:-/tmp}/prism-migrate.XXXXXX")
chmod 755 "$W"
ALIAS_INSTALLED=no
EXTDIR=$("$PG_CONFIG" --sharedir)/extension
cleanup() {
	cluster_destroy_all
	if [ $ALIAS_INSTALLED = yes ]; then
		as_root make -s -C "$PRISM_ROOT" uninstall-vector-alias PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cluster_new migrate || { echo "FAIL migrate: could not start a cluster"; exit 1; }
D=$CLUSTER_DIR
P=$CLUSTER_PORT
psql_db() { "$PG_BIN/psql" -X -q -h "$D" -p "$P" -U postgres -d "$@"; }

# The README's recipe for a plain dump (pg_restore -f - turns a custom one into the same text).
to_prism() {
	sed -e 's/^CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;$/CREATE EXTENSION IF NOT EXISTS prism WITH SCHEMA public;/' \
		-e '/^COMMENT ON EXTENSION vector IS /d' \
		-e 's/ USING ivfflat (\(.*\)) WITH (lists=[^)]*);$/ USING hnsw (\1);/'
}

# the rows of the dump's COPY block for TABLE, as COPY ... TO STDOUT prints them
dump_rows() {
	sed -n "/^COPY public.$1 /,/^\\\\\\.\$/p" "$DUMP" | sed '1d;$d'
}

# check_db DB LABEL: rows, view, sequence and indexes of a restored database
check_db() {
	local db=$1 label=$2 got want plan
	for t in items docs; do
		want=$(dump_rows $t | md5sum)
		got=$(q "$D" "$P" "$db" -c "COPY (SELECT * FROM $t ORDER BY id) TO STDOUT" | md5sum)
		check "$label: $t rows equal the dump's" "$want" "$got"
	done
	check "$label: sequence value" "200 true" "$(q "$D" "$P" "$db" -c "SELECT last_value || ' ' || is_called FROM items_id_seq")"
	got=$(q "$D" "$P" "$db" -c "SELECT string_agg(id || ':' || dims, ',') FROM nearest_to_origin")
	want=$(q "$D" "$P" "$db" -c "SET enable_indexscan = off" -c "SELECT string_agg(id || ':3', ',') FROM (SELECT id FROM items ORDER BY embedding <-> '[0,0,0]', id LIMIT 5) s")
	# ties at equal distance may come in either order: compare as sets
	[ -n "$want" ] || not_ok "$label: no exact answer to compare with"
	check "$label: the view over <-> and vector_dims works" "$(tr , '\n' <<<"$want" | sort | paste -sd,)" "$(tr , '\n' <<<"$got" | sort | paste -sd,)"
	got=$(q "$D" "$P" "$db" -c "SELECT string_agg(c.relname || ' ' || am.amname || ' ' || coalesce(array_to_string(c.reloptions, ' '), ''), '; ' ORDER BY c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam WHERE am.amname <> 'btree'")
	check "$label: the vector indexes are prism's hnsw (options kept)" \
		"docs_embedding_idx hnsw ; items_embedding_cos_idx hnsw ; items_embedding_idx hnsw m=8 ef_construction=32" "$got"
	for spec in "items <-> items_embedding_idx [1,2,3]" "items <=> items_embedding_cos_idx [1,-2,0.5]" "docs <#> docs_embedding_idx [1,1,1,1,-1,-1,-1,-1]"; do
		set -- $spec
		plan=$(q "$D" "$P" "$db" -c "SET enable_seqscan = off" -c "EXPLAIN (costs off) SELECT id FROM $1 ORDER BY embedding $2 '$4' LIMIT 10")
		if grep -q "Index Scan using $3" <<<"$plan"; then ok "$label: $3 serves ORDER BY embedding $2"; else not_ok "$label: $3 not used" "($plan)"; fi
		# distances of the top 10 (ties make ids ambiguous), index vs exact
		want=$(q "$D" "$P" "$db" -c "SET enable_indexscan = off" -c "SELECT string_agg(round((embedding $2 '$4')::numeric, 6)::text, ',') FROM (SELECT embedding FROM $1 ORDER BY embedding $2 '$4' LIMIT 10) s")
		got=$(q "$D" "$P" "$db" -c "SET enable_seqscan = off" -c "SET hnsw.ef_search = 200" -c "SELECT string_agg(round((embedding $2 '$4')::numeric, 6)::text, ',') FROM (SELECT embedding FROM $1 ORDER BY embedding $2 '$4' LIMIT 10) s")
		[ -n "$want" ] || not_ok "$label: no exact answer to compare with"
		check "$label: $3 answers exactly" "$want" "$got"
	done
}

# --- 1. plain dump, sed recipe, no alias -------------------------------------------------------------
q "$D" "$P" postgres -c "CREATE DATABASE plain_sed" >/dev/null
out=$(to_prism <"$DUMP" | psql_db plain_sed -v ON_ERROR_STOP=1 2>&1 >/dev/null)
check "plain dump through the sed recipe restores without errors" "" "$out"
check "plain_sed: extension is prism" "prism" "$(q "$D" "$P" plain_sed -c "SELECT string_agg(extname, ',') FROM pg_extension WHERE extname <> 'plpgsql'")"
check_db plain_sed "plain_sed"

# --- 2. the vector alias -------------------------------------------------------------------------------------
if [ -f "$EXTDIR/vector.control" ] && ! grep -q "make install-vector-alias" "$EXTDIR/vector.control"; then
	echo "# skip the alias checks: $EXTDIR/vector.control is pgvector's"
else
	if [ ! -f "$EXTDIR/vector.control" ]; then
		as_root make -s -C "$PRISM_ROOT" install-vector-alias PG_CONFIG="$PG_CONFIG" >/dev/null || not_ok "make install-vector-alias failed"
		ALIAS_INSTALLED=yes
	fi
	# the alias refuses to replace a vector.control that is not prism's
	mkdir -p "$W/share/extension"
	echo "comment = 'someone else'" >"$W/share/extension/vector.control"
	if out=$(make -s -C "$PRISM_ROOT" install-vector-alias PG_CONFIG="$PG_CONFIG" datadir="$W/share" 2>&1); then
		not_ok "install-vector-alias overwrote a foreign vector.control"
	else
		check "install-vector-alias leaves a foreign vector.control alone" "comment = 'someone else'" "$(cat "$W/share/extension/vector.control")"
	fi

	q "$D" "$P" postgres -c "CREATE DATABASE app" >/dev/null
	out=$(q "$D" "$P" app -c "CREATE EXTENSION IF NOT EXISTS vector" -c "CREATE EXTENSION IF NOT EXISTS vector" 2>&1)
	check "an application's CREATE EXTENSION IF NOT EXISTS vector runs (twice)" "" "$(grep -v 'already exists, skipping' <<<"$out")"
	check "the alias installs prism's objects under the name vector" "vector 0.2.0 true" \
		"$(q "$D" "$P" app -c "SELECT extname || ' ' || extversion || ' ' || (to_regprocedure('prism.index_info(regclass)') IS NOT NULL) FROM pg_extension WHERE extname <> 'plpgsql'")"
	plan=$(q "$D" "$P" app <<-'EOF'
		CREATE TABLE t (id int, v vector(3));
		INSERT INTO t SELECT g, ARRAY[g, g % 7, g % 11]::real[]::vector FROM generate_series(1, 500) g;
		CREATE INDEX ON t USING hnsw (v vector_l2_ops);
		SET enable_seqscan = off;
		SELECT 1;
		EXPLAIN (VERBOSE, costs off) SELECT id, v <-> '[3,3,3]' FROM t ORDER BY v <-> '[3,3,3]' LIMIT 3;
	EOF
	)
	if grep -q "prism.scan_l2_distance" <<<"$plan"; then
		ok "under the alias the hnsw scan still hands its distances to the executor"
	else
		not_ok "under the alias the scan distances are not reused" "($plan)"
	fi
	check "prism cannot be installed beside the alias" "1" \
		"$(q "$D" "$P" app -c "CREATE EXTENSION prism" 2>&1 | grep -c ERROR)"

	q "$D" "$P" postgres -c "CREATE DATABASE alias_restore" >/dev/null
	out=$(psql_db alias_restore -f "$DUMP" 2>&1 >/dev/null)
	check "the unchanged dump restores onto the alias without errors (its ivfflat index too)" "" "$(grep ERROR <<<"$out")"
	check "alias_restore: the ivfflat index is a prism ivfflat index (options kept)" "ivfflat lists=10" \
		"$(q "$D" "$P" alias_restore -c "SELECT am.amname || ' ' || array_to_string(c.reloptions, ' ') FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'docs_embedding_idx'")"
	want=$(q "$D" "$P" alias_restore -c "SET enable_indexscan = off" -c "SELECT string_agg(round((embedding <#> '[1,1,1,1,-1,-1,-1,-1]')::numeric, 6)::text, ',') FROM (SELECT embedding FROM docs ORDER BY embedding <#> '[1,1,1,1,-1,-1,-1,-1]' LIMIT 10) s")
	got=$(q "$D" "$P" alias_restore -c "SET enable_seqscan = off" -c "SET ivfflat.probes = 10" -c "SELECT string_agg(round((embedding <#> '[1,1,1,1,-1,-1,-1,-1]')::numeric, 6)::text, ',') FROM (SELECT embedding FROM docs ORDER BY embedding <#> '[1,1,1,1,-1,-1,-1,-1]' LIMIT 10) s")
	check "alias_restore: the ivfflat index answers exactly reading all its lists" "$want" "$got"
	# the checks below (and the dumps of section 3) expect an hnsw index there
	q "$D" "$P" alias_restore -c "DROP INDEX docs_embedding_idx" -c "CREATE INDEX docs_embedding_idx ON docs USING hnsw (embedding vector_ip_ops)" >/dev/null
	check_db alias_restore "alias_restore"

	# --- 3. a custom-format dump of a database whose extension is named vector ----------------------
	"$PG_BIN/pg_dump" -h "$D" -p "$P" -U postgres -Fc -f "$W/vector.dump" alias_restore || not_ok "pg_dump -Fc failed"
	q "$D" "$P" postgres -c "CREATE DATABASE custom_sed" -c "CREATE DATABASE custom_list" >/dev/null
	out=$("$PG_BIN/pg_restore" -f - "$W/vector.dump" | to_prism | psql_db custom_sed -v ON_ERROR_STOP=1 2>&1 >/dev/null)
	check "custom dump through pg_restore -f - and the sed recipe restores without errors" "" "$out"
	check "custom_sed: extension is prism" "prism" "$(q "$D" "$P" custom_sed -c "SELECT string_agg(extname, ',') FROM pg_extension WHERE extname <> 'plpgsql'")"
	check_db custom_sed "custom_sed"

	"$PG_BIN/pg_restore" -l "$W/vector.dump" | grep -vE ' (EXTENSION|COMMENT) - (EXTENSION )?vector *$' >"$W/list"
	q "$D" "$P" custom_list -c "CREATE EXTENSION prism" >/dev/null
	out=$("$PG_BIN/pg_restore" -h "$D" -p "$P" -U postgres -d custom_list -L "$W/list" --exit-on-error "$W/vector.dump" 2>&1)
	check "custom dump restores with pg_restore -L (extension entries left out) onto CREATE EXTENSION prism" "" "$out"
	check_db custom_list "custom_list"

	if [ $ALIAS_INSTALLED = yes ]; then
		as_root make -s -C "$PRISM_ROOT" uninstall-vector-alias PG_CONFIG="$PG_CONFIG" >/dev/null
		ALIAS_INSTALLED=no
		check "uninstall-vector-alias removes it" "0" \
			"$(q "$D" "$P" postgres -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")"
	fi
fi

finish migrate
