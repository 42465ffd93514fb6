#!/bin/bash
# Versions and upgrades. Installs the released 0.1.0 (`CREATE EXTENSION prism VERSION '0.1.0'`),
# creates a table with an hnsw index, runs `ALTER EXTENSION prism UPDATE` and checks that the
# updated extension has exactly the objects of a fresh install of the current version, with the
# same definitions (functions, operators, types, casts, operator class members, comments), and
# that the index built under 0.1.0 still answers queries. Then `DROP EXTENSION prism` must leave
# nothing behind: none of its objects, no schema prism, no function bound to prism's library.
# Runs against the suite's server (PGHOST/PGPORT/PGUSER, PG_BIN), in databases of its own.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/hnsw_lib.bash"

D=$PGHOST
P=$PGPORT
OLD=prism_upgrade_old
NEW=prism_upgrade_new
trap 'q "$D" "$P" postgres -c "DROP DATABASE IF EXISTS $OLD" -c "DROP DATABASE IF EXISTS $NEW" >/dev/null 2>&1' EXIT

CURRENT=$(sed -nE "s/^default_version = '([^']+)'.*/\1/p" "$PRISM_ROOT/prism.control")
for db in $OLD $NEW; do
	q "$D" "$P" postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null 2>&1 ||
		{ echo "FAIL upgrade: cannot create database $db"; exit 1; }
done

# One line per member object of the extension: its description and what defines it, in text
# forms that do not depend on OIDs, so two databases can be compared.
objects_sql() {
	cat <<-'EOF'
		WITH m AS (
			SELECT d.classid, d.objid, d.objsubid FROM pg_depend d
			WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
				AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'prism'))
		SELECT pg_describe_object(m.classid, m.objid, m.objsubid) || ' | ' || coalesce(
			CASE m.classid
			WHEN 'pg_proc'::regclass THEN (SELECT CASE WHEN p.prokind = 'a'
				THEN concat_ws(' ', a.aggtransfn::regprocedure, a.aggfinalfn::regprocedure,
					a.aggcombinefn::regprocedure, a.aggserialfn::regprocedure,
					a.aggdeserialfn::regprocedure, a.aggtranstype::regtype, a.agginitval)
				ELSE replace(pg_get_functiondef(p.oid), E'\n', ' ') END
				FROM pg_proc p LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid WHERE p.oid = m.objid)
			WHEN 'pg_operator'::regclass THEN (SELECT concat_ws(' ', o.oprcode::regprocedure,
				o.oprrest, o.oprjoin, o.oprcom::regoperator, o.oprnegate::regoperator,
				o.oprcanmerge, o.oprcanhash) FROM pg_operator o WHERE o.oid = m.objid)
			WHEN 'pg_type'::regclass THEN (SELECT concat_ws(' ', t.typlen, t.typalign, t.typstorage,
				t.typinput, t.typoutput, t.typreceive, t.typsend, t.typmodin, t.typmodout,
				t.typanalyze, t.typsubscript, t.typcategory, t.typispreferred)
				FROM pg_type t WHERE t.oid = m.objid)
			WHEN 'pg_cast'::regclass THEN (SELECT concat_ws(' ', c.castfunc::regprocedure,
				c.castcontext, c.castmethod) FROM pg_cast c WHERE c.oid = m.objid)
			WHEN 'pg_opclass'::regclass THEN (SELECT concat_ws(' ', c.opcdefault,
				c.opckeytype::regtype, (SELECT string_agg(concat_ws(' ', 'op', o.amopstrategy,
					o.amopopr::regoperator, o.amoppurpose, o.amopsortfamily), ', ' ORDER BY o.amopstrategy)
					FROM pg_amop o WHERE o.amopfamily = c.opcfamily),
				(SELECT string_agg(concat_ws(' ', 'proc', p.amprocnum, p.amproc::regprocedure), ', '
					ORDER BY p.amprocnum) FROM pg_amproc p WHERE p.amprocfamily = c.opcfamily))
				FROM pg_opclass c WHERE c.oid = m.objid)
			WHEN 'pg_am'::regclass THEN (SELECT a.amhandler::regprocedure::text FROM pg_am a WHERE a.oid = m.objid)
			END, '') || ' | ' || coalesce(obj_description(m.objid, m.classid::regclass::name), '')
		FROM m ORDER BY 1;
	EOF
}

# --- 0.1.0, with data and an index, updated --------------------------------------------------------
q "$D" "$P" $OLD >/dev/null <<-'EOF' || { echo "FAIL upgrade: setup under 0.1.0"; exit 1; }
	CREATE EXTENSION prism VERSION '0.1.0';
	CREATE TABLE items (id int PRIMARY KEY, v vector(8));
	INSERT INTO items SELECT g, (SELECT array_agg(((g * 7919 + i * 104729) % 100003) / 100003.0)
		FROM generate_series(1, 8) i)::vector(8) FROM generate_series(1, 2000) g;
	CREATE INDEX items_v_idx ON items USING hnsw (v vector_l2_ops);
EOF
check "0.1.0 installs" "0.1.0" "$(q "$D" "$P" $OLD -c "SELECT extversion FROM pg_extension WHERE extname = 'prism'")"

# the exact top 5 of one query, computed before the update without the index
query="(SELECT v FROM items WHERE id = 77)"
exact=$(q "$D" "$P" $OLD -c "SET enable_indexscan = off" -c "SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <-> $query, id LIMIT 5) s")

out=$(q "$D" "$P" $OLD -c "ALTER EXTENSION prism UPDATE" 2>&1)
check "ALTER EXTENSION prism UPDATE runs" "" "$out"
check "updated to the current version" "$CURRENT" "$(q "$D" "$P" $OLD -c "SELECT extversion FROM pg_extension WHERE extname = 'prism'")"

q "$D" "$P" $NEW -c "CREATE EXTENSION prism" >/dev/null
check "fresh install is the current version" "$CURRENT" "$(q "$D" "$P" $NEW -c "SELECT extversion FROM pg_extension WHERE extname = 'prism'")"

objects_sql >"${TMPDIR:-/tmp}/prism-upgrade-objects.$$.sql"
old_objs=$(q "$D" "$P" $OLD -f "${TMPDIR:-/tmp}/prism-upgrade-objects.$$.sql")
new_objs=$(q "$D" "$P" $NEW -f "${TMPDIR:-/tmp}/prism-upgrade-objects.$$.sql")
rm -f "${TMPDIR:-/tmp}/prism-upgrade-objects.$$.sql"
n=$(wc -l <<<"$new_objs")
if [ "$n" -gt 50 ] && [ "$old_objs" = "$new_objs" ]; then
	ok "updated install has the same $n objects, defined the same, as a fresh install"
else
	not_ok "updated install differs from a fresh install" \
		"(< updated, > fresh; $n objects in the fresh install)"$'\n'"$(diff <(echo "$old_objs") <(echo "$new_objs") | head -n 40)"
fi

plan=$(q "$D" "$P" $OLD -c "SET enable_seqscan = off" -c "EXPLAIN (costs off) SELECT id FROM items ORDER BY v <-> $query LIMIT 5")
if grep -q "Index Scan using items_v_idx" <<<"$plan"; then
	ok "the index built under 0.1.0 is used after the update"
else
	not_ok "the index built under 0.1.0 is not used after the update" "($plan)"
fi
got=$(q "$D" "$P" $OLD -c "SET enable_seqscan = off" -c "SET hnsw.ef_search = 200" -c "SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY v <-> $query LIMIT 5) s")
check "index scan after the update returns the exact top 5" "$exact" "$got"
q "$D" "$P" $OLD -c "INSERT INTO items SELECT 5000, v FROM items WHERE id = 77" >/dev/null
got=$(q "$D" "$P" $OLD -c "SET enable_seqscan = off" -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM (SELECT id FROM items ORDER BY v <-> $query LIMIT 2) s")
check "inserts into the 0.1.0 index after the update are found" "77,5000" "$got"
run_index_check "$D" "$P" $OLD items_v_idx "index_check after the update"

# --- DROP EXTENSION leaves nothing ------------------------------------------------------------------
q "$D" "$P" $NEW >/dev/null <<-'EOF' || not_ok "drop: setup"
	CREATE TABLE members AS SELECT d.classid, d.objid, d.objsubid FROM pg_depend d
		WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
			AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'prism');
	CREATE TABLE t (v vector(3));
	INSERT INTO t VALUES ('[1,2,3]');
	CREATE INDEX ON t USING hnsw (v vector_cosine_ops);
	DROP EXTENSION prism CASCADE;
EOF
left=$(q "$D" "$P" $NEW <<-'EOF'
	SELECT string_agg(x, '; ') FROM (
		SELECT pg_describe_object(classid, objid, objsubid) AS x FROM members
			WHERE pg_describe_object(classid, objid, objsubid) IS NOT NULL
		UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = 'prism'
		UNION ALL SELECT 'function ' || oid::regprocedure FROM pg_proc WHERE probin LIKE '%prism%'
		UNION ALL SELECT 'type ' || typname FROM pg_type WHERE typname IN ('vector', '_vector')
		UNION ALL SELECT 'access method ' || amname FROM pg_am WHERE amname = 'hnsw'
		UNION ALL SELECT 'extension ' || extname FROM pg_extension WHERE extname = 'prism') s;
EOF
)
members=$(q "$D" "$P" $NEW -c "SELECT count(*) FROM members")
if [ "$members" -gt 50 ] && [ -z "$left" ]; then
	ok "DROP EXTENSION removes all $members objects, the schema and the index's column type"
else
	not_ok "DROP EXTENSION leaves objects behind" "($members members; left: $left)"
fi
check "the table stays, its vector column with it gone" "0" \
	"$(q "$D" "$P" $NEW -c "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND NOT attisdropped AND attnum > 0")"

finish upgrade
