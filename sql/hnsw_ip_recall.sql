-- Inner-product recall on vectors of unequal norms (pgvector reaches >= 0.97 here): 10,000 3-d
-- rows with components random() * random(), 20 queries, ORDER BY v <#> q LIMIT 20 at the default
-- hnsw.ef_search, for an index built on the filled table and one filled row by row (its first
-- 3,000 rows: inserts under inner product fill every neighbour list and cost ~1.3 ms a row),
-- against the exact top-20 of a sequential scan. l2 and cosine on the same data, and <#> on the same vectors
-- normalized, must not lose recall either.
SET client_min_messages = warning;
SET jit = off;
SET prism.build_threads = 1;  -- the same graph every run
SELECT setseed(0.14);
CREATE TABLE ipr (id int PRIMARY KEY, v vector(3));
INSERT INTO ipr SELECT i, ARRAY[random() * random(), random() * random(), random() * random()]::vector(3)
	FROM generate_series(1, 10000) i;
CREATE TABLE iprq (qid int PRIMARY KEY, q vector(3));
INSERT INTO iprq SELECT i, ARRAY[random() * random(), random() * random(), random() * random()]::vector(3)
	FROM generate_series(1, 20) i;
CREATE TABLE ipr_rows (id int PRIMARY KEY, v vector(3));
CREATE INDEX ipr_rows_v ON ipr_rows USING hnsw (v vector_ip_ops);
INSERT INTO ipr_rows SELECT * FROM ipr WHERE id <= 3000 ORDER BY id;
CREATE TABLE ipr_unit AS SELECT id, l2_normalize(v)::vector(3) AS v FROM ipr;

-- recall@20 of the index on tbl for operator op, against the exact order of fn (not indexable)
CREATE FUNCTION ipr_recall(tbl regclass, op text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	fn text := CASE op WHEN '<->' THEN 'l2_distance(v, q)' WHEN '<#>' THEN '(- inner_product(v, q))'
		WHEN '<=>' THEN 'cosine_distance(v, q)' END;
	recall float8;
BEGIN
	SET LOCAL enable_seqscan = off;
	EXECUTE format('SELECT avg(hits) / 20 FROM iprq, '
		'LATERAL (SELECT array_agg(id) AS exact FROM (SELECT id FROM %1$s ORDER BY %3$s LIMIT 20) e) e, '
		'LATERAL (SELECT count(*) AS hits FROM (SELECT id FROM %1$s ORDER BY v %2$s iprq.q LIMIT 20) i '
		'WHERE id = ANY (e.exact)) h', tbl, op, fn) INTO recall;
	RETURN CASE WHEN recall >= 0.97 THEN 'ok' ELSE 'recall ' || round(recall::numeric, 3) END;
END $$;

SHOW hnsw.ef_search;
CREATE INDEX ipr_ip ON ipr USING hnsw (v vector_ip_ops);
EXPLAIN (COSTS OFF) SELECT id FROM ipr ORDER BY v <#> '[1,1,1]' LIMIT 20;
SELECT ipr_recall('ipr', '<#>') AS built, ipr_recall('ipr_rows', '<#>') AS row_by_row;
-- every row is reached: a scan that runs to the end returns all 10,000
SET enable_seqscan = off;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM ipr ORDER BY v <#> '[0.5,0.2,0.1]') s;
RESET hnsw.iterative_scan;
RESET enable_seqscan;
DROP INDEX ipr_ip;
CREATE INDEX ipr_l2 ON ipr USING hnsw (v vector_l2_ops);
CREATE INDEX ipr_cos ON ipr USING hnsw (v vector_cosine_ops);
CREATE INDEX ipr_unit_ip ON ipr_unit USING hnsw (v vector_ip_ops);
SELECT ipr_recall('ipr', '<->') AS l2, ipr_recall('ipr', '<=>') AS cosine, ipr_recall('ipr_unit', '<#>') AS unit_ip;
DROP TABLE ipr, iprq, ipr_rows, ipr_unit;
DROP FUNCTION ipr_recall(regclass, text);
