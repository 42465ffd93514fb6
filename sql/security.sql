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
