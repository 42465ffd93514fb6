-- Security properties of the installed extension (issue 5): nothing runs as its owner, the
-- extension is trusted, functions carry the markings the planner and parallel query rely on.
SELECT trusted FROM pg_available_extension_versions WHERE name = 'prism' AND version = '0.1.0';

-- extension members
CREATE TEMP VIEW prism_functions AS
	SELECT p.oid, p.proname, p.prosecdef, p.provolatile, p.proparallel, p.proisstrict, p.prokind
	FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
	WHERE e.extname = 'prism' AND d.deptype = 'e';

-- no SECURITY DEFINER function
SELECT count(*) AS security_definer FROM prism_functions WHERE prosecdef;
-- every function is PARALLEL SAFE except these (they read session state or index pages)
SELECT proname, proparallel FROM prism_functions WHERE proparallel <> 's' ORDER BY 1;
-- every non-aggregate function is STRICT except these
SELECT proname FROM prism_functions WHERE NOT proisstrict AND prokind = 'f' ORDER BY 1;
-- volatile functions (everything else is IMMUTABLE or STABLE)
SELECT proname FROM prism_functions WHERE provolatile = 'v' ORDER BY 1;

-- a role without special rights can use the type, the operators and the index
CREATE ROLE regress_prism_plain_user;
CREATE TABLE sec_items (id int, v vector(3));
INSERT INTO sec_items SELECT i, ARRAY[i, i * 2, i % 7]::vector(3) FROM generate_series(1, 100) i;
CREATE INDEX ON sec_items USING hnsw (v vector_l2_ops);
GRANT SELECT ON sec_items TO regress_prism_plain_user;
SET ROLE regress_prism_plain_user;
SET enable_seqscan = off;
SELECT id FROM sec_items ORDER BY v <-> '[1,2,1]' LIMIT 3;
SELECT count(*) FROM prism.index_info('sec_items_v_idx');
RESET enable_seqscan;
RESET ROLE;
-- without SELECT on the table it cannot read it through the index or prism's functions
REVOKE SELECT ON sec_items FROM regress_prism_plain_user;
SET ROLE regress_prism_plain_user;
SELECT id FROM sec_items ORDER BY v <-> '[1,2,1]' LIMIT 3;
SELECT count(*) FROM prism.index_check('sec_items_v_idx');
RESET ROLE;
DROP TABLE sec_items;
DROP ROLE regress_prism_plain_user;

-- Safe install script (PostgreSQL docs, "Security Considerations for Extension Scripts").
-- Functions in other languages than C run with the caller's search_path: each must be bound
-- at creation (SQL-standard body) or pin its own search_path.
SELECT p.proname, l.lanname, p.prosqlbody IS NOT NULL AS standard_body, p.proconfig
	FROM prism_functions f JOIN pg_proc p ON p.oid = f.oid JOIN pg_language l ON l.oid = p.prolang
	WHERE l.lanname NOT IN ('c', 'internal') ORDER BY 1;
SELECT count(*) AS search_path_dependent FROM prism_functions f JOIN pg_proc p ON p.oid = f.oid
	WHERE p.prolang NOT IN (SELECT oid FROM pg_language WHERE lanname IN ('c', 'internal'))
	AND p.prosqlbody IS NULL AND NOT coalesce(p.proconfig::text LIKE '%search_path=%', false);
-- every member lives in the extension's schema or in schema prism
SELECT DISTINCT n.nspname = 'prism' AS in_prism_schema, n.oid = e.extnamespace AS in_extension_schema
	FROM pg_depend d JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
	JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
	JOIN pg_namespace n ON n.oid = p.pronamespace
	WHERE e.extname = 'prism' AND d.deptype = 'e' ORDER BY 1;

-- The rest runs in a fresh database, where the extension can be installed again.
\set regress_db :DBNAME
CREATE DATABASE regress_prism_install;
\c regress_prism_install
SET client_min_messages = warning;
CREATE ROLE regress_prism_installer;
CREATE ROLE regress_prism_attacker;
GRANT CREATE ON DATABASE regress_prism_install TO regress_prism_installer, regress_prism_attacker;

-- The script creates and never replaces (no OR REPLACE, no IF NOT EXISTS): an object placed
-- beforehand under a name the script uses makes CREATE EXTENSION fail, instead of the object
-- being kept, used or taken over. First the schema prism:
CREATE SCHEMA prism AUTHORIZATION regress_prism_attacker;
CREATE EXTENSION prism;
DROP SCHEMA prism;
-- then the type, in the target schema:
CREATE SCHEMA regress_prism_target AUTHORIZATION regress_prism_attacker;
CREATE TYPE regress_prism_target.vector AS (x int);
CREATE EXTENSION prism SCHEMA regress_prism_target;
DROP TYPE regress_prism_target.vector;
-- then each function whose argument types exist before the script runs: install once to
-- list them, then pre-create each in turn (where a non-superuser could: SQL functions cannot
-- take cstring or internal, so those need a superuser) and try to install.
CREATE SCHEMA regress_prism_probe;
CREATE EXTENSION prism SCHEMA regress_prism_probe;
CREATE TABLE probe_sigs AS
	SELECT p.proname::text AS name, pg_get_function_identity_arguments(p.oid) AS args
	FROM pg_proc p WHERE p.pronamespace = 'regress_prism_probe'::regnamespace
	AND NOT EXISTS (SELECT 1 FROM unnest(p.proargtypes::oid[]) t JOIN pg_type ty ON ty.oid = t
		WHERE ty.typnamespace = 'regress_prism_probe'::regnamespace);
DROP EXTENSION prism;
DROP SCHEMA regress_prism_probe;
CREATE TABLE attempts (fn text, outcome text);
DO $$
DECLARE
	r record;
	msg text;
BEGIN
	FOR r IN SELECT * FROM probe_sigs LOOP
		BEGIN
			EXECUTE format('CREATE FUNCTION regress_prism_target.%I(%s) RETURNS int LANGUAGE sql AS ''SELECT 1''',
				r.name, r.args);
		EXCEPTION WHEN others THEN
			INSERT INTO attempts VALUES (r.name || '(' || r.args || ')', 'cannot be pre-created: ' || SQLERRM);
			CONTINUE;
		END;
		BEGIN
			CREATE EXTENSION prism SCHEMA regress_prism_target;
			msg := 'installed over it';
			DROP EXTENSION prism;
		EXCEPTION WHEN others THEN
			msg := SQLERRM;
		END;
		INSERT INTO attempts VALUES (r.name || '(' || r.args || ')', msg);
		EXECUTE format('DROP FUNCTION regress_prism_target.%I(%s)', r.name, r.args);
	END LOOP;
END $$;
SELECT fn, outcome FROM attempts ORDER BY fn;
DROP TABLE probe_sigs, attempts;
DROP SCHEMA regress_prism_target;

-- A non-superuser installs the trusted extension into its own schema; its members belong to
-- the bootstrap superuser, so the installer cannot redefine them.
SET ROLE regress_prism_installer;
CREATE SCHEMA regress_prism_ext;
GRANT USAGE ON SCHEMA regress_prism_ext TO PUBLIC;
CREATE EXTENSION prism SCHEMA regress_prism_ext;
SELECT extowner::regrole, extnamespace::regnamespace FROM pg_extension WHERE extname = 'prism';
SELECT count(*) AS members_owned_by_installer FROM pg_proc
	WHERE pronamespace IN ('regress_prism_ext'::regnamespace, 'prism'::regnamespace)
	AND proowner = 'regress_prism_installer'::regrole;
CREATE OR REPLACE FUNCTION regress_prism_ext.l2_distance(regress_prism_ext.vector, regress_prism_ext.vector)
	RETURNS float8 LANGUAGE sql AS 'SELECT 42::float8';
RESET ROLE;

-- Shadows in a schema searched first do not change what prism's operators, aggregates, casts,
-- operator classes and functions do: they are bound to prism's functions by OID.
SET ROLE regress_prism_attacker;
CREATE SCHEMA regress_prism_evil;
GRANT USAGE ON SCHEMA regress_prism_evil TO PUBLIC;
SET search_path = regress_prism_evil, regress_prism_ext;
CREATE FUNCTION regress_prism_evil.l2_distance(vector, vector) RETURNS float8 LANGUAGE sql AS 'SELECT 42::float8';
CREATE FUNCTION regress_prism_evil.vector_add(vector, vector) RETURNS vector LANGUAGE sql AS $$ SELECT '[42,42]'::vector $$;
CREATE OPERATOR regress_prism_evil.+ (LEFTARG = vector, RIGHTARG = vector, PROCEDURE = regress_prism_evil.vector_add);
CREATE FUNCTION regress_prism_evil.vector_accum(float8[], vector) RETURNS float8[] LANGUAGE sql AS 'SELECT ARRAY[1, 42, 42]::float8[]';
CREATE FUNCTION regress_prism_evil.vector_avg(float8[]) RETURNS vector LANGUAGE sql AS $$ SELECT '[42,42]'::vector $$;
CREATE FUNCTION regress_prism_evil.array_to_vector(integer[], integer, boolean) RETURNS vector LANGUAGE sql AS $$ SELECT '[42,42]'::vector $$;
CREATE FUNCTION regress_prism_evil.vector_eq(vector, vector) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION regress_prism_evil.vector_cmp(vector, vector) RETURNS int LANGUAGE sql AS 'SELECT 0';
CREATE FUNCTION regress_prism_evil.index_check(index regclass) RETURNS TABLE (problem text, element bigint, detail text)
	LANGUAGE sql AS $$ SELECT 'shadowed'::text, 0::bigint, ''::text $$;
RESET ROLE;
SET ROLE regress_prism_installer;
SET search_path = regress_prism_evil, regress_prism_ext;
SET enable_seqscan = off;
CREATE TABLE regress_prism_ext.shadow_items (id int, v vector(2));
INSERT INTO regress_prism_ext.shadow_items SELECT i, ARRAY[i, i % 5]::real[]::vector(2) FROM generate_series(1, 50) i;
CREATE INDEX shadow_items_v ON regress_prism_ext.shadow_items USING hnsw (v vector_l2_ops);
SELECT '[0,0]'::vector OPERATOR(regress_prism_ext.<->) '[3,4]' AS l2;
SELECT sum(v) AS sum, avg(v) AS avg FROM (VALUES ('[1,2]'::vector), ('[3,4]'::vector)) t(v);
SELECT ARRAY[3,4]::vector AS cast_from_int_array;
SELECT count(DISTINCT v) AS distinct_vectors, (SELECT count(*) FROM regress_prism_ext.shadow_items a
	JOIN regress_prism_ext.shadow_items b ON a.v OPERATOR(regress_prism_ext.=) b.v) AS equal_pairs
	FROM regress_prism_ext.shadow_items;
EXPLAIN (costs off) SELECT id FROM regress_prism_ext.shadow_items ORDER BY v OPERATOR(regress_prism_ext.<->) '[3,2.9]' LIMIT 3;
SELECT id FROM regress_prism_ext.shadow_items ORDER BY v OPERATOR(regress_prism_ext.<->) '[3,2.9]' LIMIT 3;
SELECT prism.index_is_valid('regress_prism_ext.shadow_items_v');
RESET enable_seqscan;
RESET search_path;
RESET ROLE;

\c :regress_db
DROP DATABASE regress_prism_install;
DROP ROLE regress_prism_installer, regress_prism_attacker;
