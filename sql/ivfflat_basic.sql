-- ivfflat basics: each opclass, exact answers when every list is read, inserts after build,
-- NULL / zero / empty / little-data cases, duplicates, unlogged tables, REINDEX, a build that
-- outgrows maintenance_work_mem, and every bad option, column and setting.
-- Index answers are compared with a sequential scan of the distance functions (not indexable).
SET jit = off;

-- 300 deterministic 8-d points without distance ties, and 6 query points
CREATE TABLE t (id int PRIMARY KEY, v vector(8));
INSERT INTO t SELECT i, ARRAY[sin(i), cos(i * 1.3), sin(i * 0.7) * 2, cos(i * 0.3), sin(i * 2.1),
	cos(i * 0.11) * 3, sin(i * 0.05), cos(i * 1.7)]::vector(8) FROM generate_series(1, 300) i;
CREATE TABLE tq (qid int, q vector(8));
INSERT INTO tq SELECT i, ARRAY[cos(i * 2.1), sin(i * 0.9), cos(i), sin(i * 0.4), cos(i * 3.3), sin(i),
	cos(i * 0.2), sin(i * 1.1)]::vector(8) FROM generate_series(1, 6) i;

-- for every query: the index's first k rows (ids, in order) equal the exact first k
CREATE FUNCTION index_matches_exact(tbl text, k int, op text) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
	fn text := CASE op WHEN '<->' THEN 'l2_distance(v, q)' WHEN '<#>' THEN '(- inner_product(v, q))'
		WHEN '<=>' THEN 'cosine_distance(v, q)' END;
	r record;
	idx int[];
	ex int[];
	plan text := '';
	line text;
BEGIN
	FOR line IN EXECUTE format('EXPLAIN (costs off) SELECT id FROM %I ORDER BY v %s %L LIMIT %s', tbl, op, '[1,2,3,4,5,6,7,8]', k) LOOP
		plan := plan || line;
	END LOOP;
	IF plan NOT LIKE '%Index Scan%' THEN
		RAISE EXCEPTION 'no index scan: %', plan;
	END IF;
	FOR r IN SELECT qid, q FROM tq LOOP
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I ORDER BY v %s $1 LIMIT %s) s', tbl, op, k)
			INTO idx USING r.q;
		EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I, (SELECT $1 AS q) x WHERE %s IS NOT NULL '
			'ORDER BY %s LIMIT %s) s', tbl, fn, fn, k) INTO ex USING r.q;
		IF idx IS DISTINCT FROM ex THEN
			RAISE WARNING 'query % op %: index % exact %', r.qid, op, idx, ex;
			RETURN false;
		END IF;
	END LOOP;
	RETURN true;
END $$;

SET enable_seqscan = off;
CREATE INDEX t_l2 ON t USING ivfflat (v vector_l2_ops) WITH (lists = 10);
SET ivfflat.probes = 10;
SELECT index_matches_exact('t', 20, '<->') AS l2_all_lists, index_matches_exact('t', 300, '<->') AS l2_every_row;
-- one list: its rows come out in exact distance order, and fewer than the table holds
SET ivfflat.probes = 1;
SELECT count(*) < 300 AS one_list_is_part, count(*) > 0 AS one_list_has_rows
	FROM (SELECT id FROM t ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 300) s;
SELECT bool_and(d >= prev) AS one_list_in_order FROM (
	SELECT v <-> '[1,1,1,1,1,1,1,1]' AS d, lag(v <-> '[1,1,1,1,1,1,1,1]', 1, 0::float8) OVER () AS prev
	FROM (SELECT v FROM t ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 300) s) x;
-- rows inserted after the build are found
INSERT INTO t SELECT i, ARRAY[sin(i), cos(i * 1.3), sin(i * 0.7) * 2, cos(i * 0.3), sin(i * 2.1),
	cos(i * 0.11) * 3, sin(i * 0.05), cos(i * 1.7)]::vector(8) FROM generate_series(301, 600) i;
SET ivfflat.probes = 10;
SELECT index_matches_exact('t', 20, '<->') AS l2_after_inserts, index_matches_exact('t', 600, '<->') AS l2_every_row_after_inserts;
DROP INDEX t_l2;
CREATE INDEX t_ip ON t USING ivfflat (v vector_ip_ops) WITH (lists = 10);
SELECT index_matches_exact('t', 20, '<#>') AS ip_all_lists;
DROP INDEX t_ip;
CREATE INDEX t_cos ON t USING ivfflat (v vector_cosine_ops) WITH (lists = 10);
SELECT index_matches_exact('t', 20, '<=>') AS cosine_all_lists;
-- a NULL query returns every row (no order); NULL and, under cosine, zero vectors are not indexed
SELECT count(*) AS null_query_rows FROM (SELECT id FROM t ORDER BY v <=> NULL LIMIT 1000) s;
INSERT INTO t VALUES (1001, NULL), (1002, '[0,0,0,0,0,0,0,0]');
SELECT count(*) AS cosine_rows FROM (SELECT id FROM t ORDER BY v <=> '[1,1,1,1,1,1,1,1]' LIMIT 1000) s;
CREATE INDEX t_l2 ON t USING ivfflat (v vector_l2_ops) WITH (lists = 10);
SELECT count(*) AS l2_rows FROM (SELECT id FROM t ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 1000) s;
SELECT id FROM t ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 1;
-- a query of other dimensions
SELECT id FROM t ORDER BY v <-> '[1,2,3]' LIMIT 1;
DROP INDEX t_l2, t_cos;

-- exact duplicates: each copy is its own row
CREATE TABLE dup (id serial, v vector(3));
INSERT INTO dup (v) SELECT '[1,2,3]' FROM generate_series(1, 500);
INSERT INTO dup (v) SELECT ARRAY[i, i, i]::vector FROM generate_series(10, 59) i;
CREATE INDEX ON dup USING ivfflat (v vector_l2_ops) WITH (lists = 5);
SELECT count(*) FROM (SELECT id FROM dup ORDER BY v <-> '[1,2,3]' LIMIT 510) s WHERE id <= 500;

-- little data: fewer rows than lists (pgvector's notice); an empty table too
CREATE TABLE small (id int, v vector(3));
INSERT INTO small VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]');
CREATE INDEX small_idx ON small USING ivfflat (v vector_l2_ops);
SET ivfflat.probes = 100;
SELECT id FROM small ORDER BY v <-> '[0.9,0.1,0]' LIMIT 3;
CREATE TABLE empty (id int, v vector(3));
CREATE INDEX empty_idx ON empty USING ivfflat (v vector_cosine_ops) WITH (lists = 4);
SET client_min_messages = warning;
SELECT id FROM empty ORDER BY v <=> '[1,0,0]' LIMIT 3;
INSERT INTO empty VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[-1,0,0]');
SET ivfflat.probes = 4;
SELECT id FROM empty ORDER BY v <=> '[1,0.1,0]' LIMIT 3;
REINDEX INDEX empty_idx;
SELECT id FROM empty ORDER BY v <=> '[1,0.1,0]' LIMIT 3;

-- unlogged table: the init fork holds an empty index
CREATE UNLOGGED TABLE ul (id int, v vector(3));
CREATE INDEX ON ul USING ivfflat (v vector_l2_ops) WITH (lists = 2);
INSERT INTO ul SELECT i, ARRAY[i, 0, 0]::vector FROM generate_series(1, 50) i;
SET ivfflat.probes = 2;
SELECT id FROM ul ORDER BY v <-> '[7.2,0,0]' LIMIT 3;

-- a build whose rows do not fit in maintenance_work_mem: k-means on a sample, the heap read
-- twice; the answers stay exact when every list is read
CREATE TABLE big (id int PRIMARY KEY, v vector(128));
INSERT INTO big SELECT i, (SELECT array_agg(sin(i * 0.37 + d * 1.91)) FROM generate_series(1, 128) d)::vector
	FROM generate_series(1, 5000) i;
SET maintenance_work_mem = '1MB';
SET client_min_messages = notice;
CREATE INDEX big_idx ON big USING ivfflat (v vector_l2_ops) WITH (lists = 20);
SET client_min_messages = warning;
RESET maintenance_work_mem;
SET ivfflat.probes = 20;
SELECT count(*) AS big_rows FROM (SELECT id FROM big ORDER BY v <-> (SELECT v FROM big WHERE id = 77) LIMIT 6000) s;
SELECT (SELECT array_agg(id) FROM (SELECT id FROM big ORDER BY v <-> (SELECT v FROM big WHERE id = 77) LIMIT 10) s) =
	(SELECT array_agg(id) FROM (SELECT id FROM big ORDER BY l2_distance(v, (SELECT v FROM big WHERE id = 77)) LIMIT 10) s)
	AS big_exact;
-- the centers alone do not fit
SET maintenance_work_mem = '1MB';
CREATE INDEX ON big USING ivfflat (v vector_l2_ops) WITH (lists = 4000);
RESET maintenance_work_mem;

-- bad options, columns and settings
\set VERBOSITY default
CREATE INDEX ON t USING ivfflat (v vector_l2_ops) WITH (lists = 0);
CREATE INDEX ON t USING ivfflat (v vector_l2_ops) WITH (lists = 32769);
CREATE INDEX ON t USING ivfflat (v vector_l2_ops) WITH (lists = 'many');
CREATE INDEX ON t USING ivfflat (v vector_l2_ops) WITH (m = 16);
CREATE TABLE nodim (v vector);
INSERT INTO nodim VALUES ('[1,2,3]');
CREATE INDEX ON nodim USING ivfflat (v vector_l2_ops);
CREATE TABLE wide (v vector(2001));
CREATE INDEX ON wide USING ivfflat (v vector_l2_ops);
CREATE INDEX ON t USING ivfflat (v vector_l2_ops, v vector_ip_ops);
CREATE INDEX ON t USING ivfflat (id);
CREATE UNIQUE INDEX ON t USING ivfflat (v vector_l2_ops);
CREATE INDEX ON t USING ivfflat (v vector_l2_ops) INCLUDE (id);
SET ivfflat.probes = 0;
SET ivfflat.probes = 32769;
SET ivfflat.max_probes = 0;
SET ivfflat.iterative_scan = strict_order;
SET ivfflat.nonexistent = 1;
SHOW ivfflat.probes;
RESET ivfflat.probes;
SHOW ivfflat.probes;
SHOW ivfflat.iterative_scan;
SHOW ivfflat.max_probes;

DROP TABLE t, tq, dup, small, empty, ul, big, nodim, wide;
DROP FUNCTION index_matches_exact(text, int, text);
