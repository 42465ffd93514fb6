-- A qual bounding the ORDER BY distance of an hnsw index scan (`v <-> q < r`, `<=`, `r > v <-> q`,
-- `r >= ...`; also `<#>`) ends a strict_order scan at the first returned row beyond the bound
-- (hnsw_plan.cpp): no later row can pass. Checked here: which quals are rewritten, that every
-- answer equals the exact plan's (sequential scan + sort), and through prism.last_scan_stats()
-- that the scan stopped right after the rows within the bound (tuples_returned = rows within
-- r + 1) where it would otherwise return every row of the table.
SET client_min_messages = warning;
SET jit = off;
SET prism.build_threads = 1;
SELECT setseed(0.3);
CREATE TABLE db (id int PRIMARY KEY, cat int, v vector(8)) WITH (autovacuum_enabled = off);
INSERT INTO db SELECT i, i % 4, (SELECT array_agg(random()) FROM generate_series(1, 8) WHERE i > 0)::vector(8)
	FROM generate_series(1, 3000) i;
-- ties: four copies of one vector (rows 3001-3004), at the same distance from the query
INSERT INTO db SELECT 3000 + i, i % 4, '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' FROM generate_series(1, 4) i;
CREATE INDEX db_l2 ON db USING hnsw (v vector_l2_ops);
CREATE INDEX db_ip ON db USING hnsw (v vector_ip_ops);
CREATE INDEX db_cos ON db USING hnsw (v vector_cosine_ops);
ANALYZE db;

-- run(query returning (id, d) in answer order): the answer under the index plan and under the
-- exact plan; the rows, whether both answers are equal (the same ids, the same sequence of
-- distances: rows at equal distance may come in either order), whether the index plan used an
-- hnsw index scan, and that scan's tuples_returned (the last scan's, for a LATERAL join).
CREATE FUNCTION run(q text, OUT n int, OUT equal boolean, OUT index_scan boolean, OUT tuples_returned bigint)
LANGUAGE plpgsql AS $$
DECLARE
	ids int[];
	ds float8[];
	exact_ids int[];
	exact_ds float8[];
	line text;
BEGIN
	SET LOCAL enable_seqscan = off;
	SET LOCAL enable_bitmapscan = off;
	SET LOCAL enable_sort = off;
	index_scan := false;
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		index_scan := index_scan OR line LIKE '%Index Scan using db_%';
	END LOOP;
	EXECUTE 'SELECT array_agg(id ORDER BY id), array_agg(d) FROM (' || q || ') s' INTO ids, ds;
	SELECT s.tuples_returned INTO tuples_returned FROM prism.last_scan_stats() s;
	SET LOCAL enable_seqscan = on;
	SET LOCAL enable_sort = on;
	SET LOCAL enable_indexscan = off;
	EXECUTE 'SELECT array_agg(id ORDER BY id), array_agg(d) FROM (' || q || ') s' INTO exact_ids, exact_ds;
	n := coalesce(cardinality(exact_ids), 0);
	equal := ids IS NOT DISTINCT FROM exact_ids AND ds IS NOT DISTINCT FROM exact_ds;
	RESET enable_indexscan;
END $$;

-- The query point, and how many rows lie within the radii used below.
CREATE TABLE qp AS SELECT '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]'::vector(8) AS q,
	'[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]'::vector(8) <-> '[0.55,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS tie;
SELECT count(*) FILTER (WHERE v <-> q < 0.3) AS within_03, count(*) FILTER (WHERE v <-> q < 0.45) AS within_045,
	count(*) FILTER (WHERE v <-> q < 0.6) AS within_06 FROM db, qp;

-- Rewritten: < and <= ; the commuted forms; a prepared statement's parameter.
EXPLAIN (COSTS OFF) SELECT id FROM db WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.3
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM db WHERE 0.3 >= v <#> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AND cat = 1
	ORDER BY v <#> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10;
SET plan_cache_mode = force_generic_plan;
PREPARE near(vector, float8) AS SELECT id FROM db WHERE v <-> $1 <= $2 ORDER BY v <-> $1 LIMIT 10;
EXPLAIN (COSTS OFF) EXECUTE near('[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]', 0.3);
-- Not rewritten: another query vector, inside an OR, a bound that depends on the row, `>`,
-- cosine (the index works on normalized vectors).
EXPLAIN (COSTS OFF) SELECT id FROM db WHERE v <-> '[0.5,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.3
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM db WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.3 OR cat = 1
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM db WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < id * 0.0001
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM db WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' > 0.3
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM db WHERE v <=> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.01
	ORDER BY v <=> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10;

-- Fewer rows within r than LIMIT: the scan stops after them (+ the first row beyond).
SELECT * FROM run($$SELECT id, v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.3
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$);
SELECT * FROM run($$SELECT id, v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db WHERE 0.3 > v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]'
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$);
-- more rows within r than LIMIT: LIMIT ends the scan
SELECT * FROM run($$SELECT id, v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.6
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$);
-- combined with a filter: the bound is checked first, so the scan stops at the first row beyond
-- it (rows within r that fail the filter count as returned by the scan)
SELECT * FROM run($$SELECT id, v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.45 AND cat = 2
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$);
-- no row within r: one row returned
SELECT * FROM run($$SELECT id, v <-> '[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1]' AS d FROM db WHERE v <-> '[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1]' < 0.05
	ORDER BY v <-> '[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1]' LIMIT 10$$);

-- Bounds no row or every row passes: -Infinity ends the scan at its first row, NaN (greater
-- than every float8) never.
SELECT * FROM run($$SELECT id, v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < '-Infinity'
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$);
SELECT * FROM run($$SELECT id, v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 'NaN'
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$);

-- Ties: r is exactly the distance of the four copies; `<=` keeps all four, `<` none of them.
SELECT * FROM run(format($$SELECT id, v <-> '[0.55,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db WHERE v <-> '[0.55,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' <= %s
	ORDER BY v <-> '[0.55,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$, (SELECT tie FROM qp)));
SELECT * FROM run(format($$SELECT id, v <-> '[0.55,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db WHERE v <-> '[0.55,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < %s
	ORDER BY v <-> '[0.55,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$, (SELECT tie FROM qp)));
SELECT * FROM run(format($$SELECT id, v <-> '[0.55,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db WHERE %s >= v <-> '[0.55,0.6,0.6,0.4,0.4,0.4,0.5,0.5]'
	ORDER BY v <-> '[0.55,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$, (SELECT tie FROM qp)));

-- The prepared statement's generic plan (the bound is a parameter) and the exact answer.
SET enable_seqscan = off;
EXECUTE near('[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]', 0.3);
SELECT tuples_returned FROM prism.last_scan_stats();
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT id FROM db WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' <= 0.3 ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]', id;
RESET enable_indexscan;
DEALLOCATE near;
RESET plan_cache_mode;

-- Inner product: the same, on <#>.
SELECT count(*) FILTER (WHERE v <#> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < -3.3) AS within FROM db;
SELECT * FROM run($$SELECT id, v <#> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db WHERE v <#> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < -3.3
	ORDER BY v <#> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$);

-- Cosine: not rewritten, so the scan goes on; the answer is still the exact one.
SELECT count(*) FILTER (WHERE v <=> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.01) AS within FROM db;
SELECT n, equal, index_scan, tuples_returned > 1000 AS scanned_on FROM run($$SELECT id, v <=> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db
	WHERE v <=> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.01 ORDER BY v <=> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$);

-- relaxed_order may return a closer row after a farther one: no early stop there.
SET hnsw.iterative_scan = relaxed_order;
SELECT n, equal, index_scan, tuples_returned > 1000 AS scanned_on FROM run($$SELECT id, v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db
	WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.3 ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$);
RESET hnsw.iterative_scan;
-- nor without the rewrite
SET prism.reuse_scan_distances = off;
SELECT n, equal, index_scan, tuples_returned > 1000 AS scanned_on FROM run($$SELECT id, v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM db
	WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.3 ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$);
RESET prism.reuse_scan_distances;

-- Each rescan starts unbounded: one query per outer row (LATERAL), each stopping at its bound.
CREATE TABLE outer_q (qid int, q vector(8));
INSERT INTO outer_q VALUES (1, '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]'), (2, '[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1]'),
	(3, '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]');
SELECT * FROM run($$SELECT o.qid * 10000 + s.id AS id, s.d FROM outer_q o CROSS JOIN LATERAL
	(SELECT id, v <-> o.q AS d FROM db WHERE v <-> o.q < 0.35 ORDER BY v <-> o.q LIMIT 10) s$$);

-- A partitioned table: each partition's scan stops at the bound, the merged answer is exact.
CREATE TABLE dbp (id int, v vector(8)) PARTITION BY RANGE (id);
CREATE TABLE dbp_a PARTITION OF dbp FOR VALUES FROM (0) TO (1500);
CREATE TABLE dbp_b PARTITION OF dbp FOR VALUES FROM (1500) TO (4000);
INSERT INTO dbp SELECT id, v FROM db;
CREATE INDEX db_p ON dbp USING hnsw (v vector_l2_ops);
ANALYZE dbp;
EXPLAIN (COSTS OFF) SELECT id FROM dbp WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.3
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10;
SELECT * FROM run($$SELECT id, v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' AS d FROM dbp WHERE v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' < 0.3
	ORDER BY v <-> '[0.6,0.6,0.6,0.4,0.4,0.4,0.5,0.5]' LIMIT 10$$);
DROP TABLE dbp;

-- A direct call computes the comparison for rows no scan returned.
SELECT prism.scan_l2_distance_within('db'::regclass, '(0,1)', '[0,0]', '[3,4]', 5, true) AS le,
	prism.scan_l2_distance_within('db'::regclass, '(0,1)', '[0,0]', '[3,4]', 5, false) AS lt,
	prism.scan_negative_inner_product_within('db'::regclass, '(0,1)', '[1,2]', '[3,4]', -11, true) AS ip_le;
DROP TABLE db, qp, outer_q;
DROP FUNCTION run;
