-- The ORDER BY distance of rows an hnsw scan returns is taken from the scan
-- (prism.reuse_scan_distances): the planner puts prism.scan_l2_distance /
-- prism.scan_negative_inner_product in place of <-> / <#> in the index scan's target list and
-- quals. Checked here: where the rewrite happens and where not, that the values are bit for bit
-- the operator's (float8send) for several dimensions and plan shapes, that they are really taken
-- from the scan (distances_reused), and the cases that must fall back to computing.
SET client_min_messages = warning;
SET jit = off;
SELECT '[1]'::vector IS NOT NULL AS prism_loaded;  -- the planner hook is installed on load

-- Compressible rows (small integers) in 16-, 17- and 20-d tables, one l2 and one ip index each;
-- fillfactor 30 leaves room for every row's HOT update below.
CREATE FUNCTION make_table(name text, dims int, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, note text, v vector(%s)) WITH (fillfactor = 30)', name, dims);
	EXECUTE format('INSERT INTO %I SELECT i, NULL, (SELECT array_agg(((i * (j + 3) + j * j * 13 + i / 7) %% 17)::float4 + (j %% 3) * 0.25)
		FROM generate_series(1, %s) j)::vector FROM generate_series(1, %s) i', name, dims, n);
	EXECUTE format('CREATE INDEX %I ON %I USING hnsw (v vector_l2_ops)', name || '_l2', name);
	EXECUTE format('CREATE INDEX %I ON %I USING hnsw (v vector_ip_ops)', name || '_ip', name);
	EXECUTE format('ANALYZE %I', name);
END $$;
SELECT make_table('t16', 16, 2000), make_table('t17', 17, 2000), make_table('t20', 20, 2000);
CREATE TABLE queries AS SELECT i AS qid, (SELECT array_agg(((i * 5 + j * 3) % 13)::float4 * 0.5)
	FROM generate_series(1, 20) j) AS a FROM generate_series(1, 25) i;

SET enable_seqscan = off;
SET enable_bitmapscan = off;

-- Where the rewrite happens: target list (also a distance selected twice) and quals.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, v <-> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6]' AS d FROM t16
	ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6]' LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM t16 WHERE v <#> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6]' < -100
	ORDER BY v <#> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6]' LIMIT 3;
-- Not for cosine (the index works on normalized vectors) nor for another expression.
CREATE INDEX t16_cos ON t16 USING hnsw (v vector_cosine_ops);
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, v <=> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6]' FROM t16 ORDER BY v <=> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6]' LIMIT 3;
DROP INDEX t16_cos;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, v <-> '[0,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6]' FROM t16 ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6]' LIMIT 3;
-- Off: the operator stays.
SET prism.reuse_scan_distances = off;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM t16 ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6]' LIMIT 3;
RESET prism.reuse_scan_distances;

-- compare(table, op): for every query, the index's top 10 (id, distance) through LATERAL, each
-- distance compared bit for bit with the operator evaluated on a sequential scan; returns
-- 'rows/equal/reused' with reused = distances the executor took from the scans.
CREATE FUNCTION compare(tab text, op text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	dims int := CASE tab WHEN 't16' THEN 16 WHEN 't17' THEN 17 ELSE 20 END;
	result text;
	reused bigint := 0;
	r record;
BEGIN
	CREATE TEMP TABLE got (qid int, id int, d float8);
	FOR r IN SELECT qid, a[1:dims]::vector AS q FROM queries LOOP
		EXECUTE format('INSERT INTO got SELECT $1, id, v %s $2 FROM %I ORDER BY v %s $2 LIMIT 10', op, tab, op)
			USING r.qid, r.q;
		reused := reused + (SELECT distances_reused FROM prism.last_scan_stats());
	END LOOP;
	SET LOCAL enable_seqscan = on;
	SET LOCAL enable_indexscan = off;
	EXECUTE format('SELECT count(*) || ''/'' || count(*) FILTER (WHERE float8send(g.d) = float8send(t.v %s q.a[1:%s]::vector))
		FROM got g JOIN %I t USING (id) JOIN queries q USING (qid)', op, dims, tab) INTO result;
	DROP TABLE got;
	RETURN result || '/' || reused;
END $$;
SELECT tab, compare(tab, '<->') AS l2, compare(tab, '<#>') AS ip FROM (VALUES ('t16'), ('t17'), ('t20')) x(tab);

-- LATERAL: the inner scan is rescanned per query; values equal the operator's.
SELECT count(*) AS rows, count(*) FILTER (WHERE float8send(r.d) = float8send(r.v <-> q.a::vector)) AS equal
FROM queries q, LATERAL (SELECT v, v <-> q.a::vector AS d FROM t20 ORDER BY v <-> q.a::vector LIMIT 10) r;
SELECT distances_reused FROM prism.last_scan_stats();

-- A generic plan of a prepared statement ($1 stays a Param).
SET plan_cache_mode = force_generic_plan;
PREPARE knn(vector) AS SELECT id, v <-> $1 AS d FROM t20 ORDER BY v <-> $1 LIMIT 10;
CREATE TEMP TABLE prepared_got AS EXECUTE knn('[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]');
SELECT distances_reused FROM prism.last_scan_stats();
SELECT count(*) AS rows, count(*) FILTER (WHERE float8send(g.d) =
	float8send(t.v <-> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]')) AS equal
FROM prepared_got g JOIN t20 t USING (id);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE knn('[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]');
RESET plan_cache_mode;
DEALLOCATE knn;

-- A distance bound in WHERE: the qual takes the scan's value too; same rows as the exact query.
SELECT array_agg(id ORDER BY id) AS ids, (SELECT distances_reused >= 5 FROM prism.last_scan_stats()) AS reused
FROM (SELECT id FROM t20 WHERE v <-> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]' < 21
	ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]' LIMIT 5) s;
SET enable_indexscan = off;
SELECT array_agg(id ORDER BY id) AS exact_ids
FROM (SELECT id FROM t20 WHERE v <-> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]' < 21
	ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]' LIMIT 5) s;
RESET enable_indexscan;

-- HOT updates: the index holds the chain's root TID, the row read is a newer version at another
-- TID, so the value is computed (none reused); it is still the operator's.
UPDATE t20 SET note = 'hot';
SELECT count(*) AS rows, count(*) FILTER (WHERE float8send(r.d) = float8send(r.v <-> q.a::vector)) AS equal,
	count(*) FILTER (WHERE r.note = 'hot') AS updated_rows
FROM queries q, LATERAL (SELECT v, note, v <-> q.a::vector AS d FROM t20 ORDER BY v <-> q.a::vector LIMIT 10) r;
SELECT distances_reused, tuples_returned FROM prism.last_scan_stats();

-- A partitioned table: Merge Append orders the partitions' rows by the values from their scans.
CREATE TABLE parts (id int, v vector(20)) PARTITION BY RANGE (id);
CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (1000);
CREATE TABLE parts_2 PARTITION OF parts FOR VALUES FROM (1000) TO (3000);
INSERT INTO parts SELECT id, v FROM t20;
CREATE INDEX ON parts USING hnsw (v vector_l2_ops);
ANALYZE parts;
EXPLAIN (COSTS OFF) SELECT id FROM parts ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]' LIMIT 10;
SELECT count(*) AS rows, array_agg(d) = (SELECT array_agg(x ORDER BY x) FROM unnest(array_agg(d)) x) AS in_order,
	bool_and(float8send(d) = float8send(l2_distance(v, '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]'))) AS values_exact
FROM (SELECT id, v, v <-> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]' AS d FROM parts
	ORDER BY v <-> '[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]' LIMIT 10) s;

-- In the projection of the very scan, with the scan's row and query but another vector (a
-- constant, another row's column, another column of the same row): the operator's own value.
CREATE TABLE two (id int PRIMARY KEY, v vector(3), w vector(3));
INSERT INTO two SELECT i, ARRAY[i % 7, i % 5, i % 3]::vector, ARRAY[i % 3, 1, i % 11]::vector FROM generate_series(1, 500) i;
CREATE INDEX ON two USING hnsw (v vector_l2_ops);
ANALYZE two;
SELECT count(*) AS rows,
	count(*) FILTER (WHERE prism.scan_l2_distance(tableoid, ctid, '[10,10,10]', '[1,2,3]') = '[10,10,10]'::vector <-> '[1,2,3]') AS constant,
	count(*) FILTER (WHERE prism.scan_l2_distance(tableoid, ctid, w, '[1,2,3]') = w <-> '[1,2,3]') AS other_column,
	count(*) FILTER (WHERE prism.scan_l2_distance(tableoid, ctid, v, '[1,2,3]') = v <-> '[1,2,3]') AS own_column
FROM (SELECT tableoid, ctid, v, w FROM two ORDER BY v <-> '[1,2,3]' LIMIT 20) s;
SELECT count(*) AS rows, count(*) FILTER (WHERE prism.scan_l2_distance(a.tableoid, a.ctid, b.v, '[1,2,3]') = b.v <-> '[1,2,3]') AS other_row
FROM (SELECT tableoid, ctid, id, v FROM two ORDER BY v <-> '[1,2,3]' LIMIT 20) a JOIN two b ON b.id = a.id % 500 + 1;
DROP TABLE two;

-- Called directly the functions are the operators, errors included.
SELECT prism.scan_l2_distance('t20'::regclass, '(0,1)', '[1,2]', '[4,6]') AS l2,
	prism.scan_negative_inner_product('t20'::regclass, '(0,1)', '[1,2]', '[4,6]') AS negative_ip;
SELECT prism.scan_l2_distance(0, '(0,1)', '[1,2]', '[1,2,3]');
SELECT prism.scan_l2_distance(0, '(0,1)', NULL, '[1,2,3]') IS NULL AS strict;

DROP TABLE t16, t17, t20, queries, parts;
DROP FUNCTION make_table, compare;
