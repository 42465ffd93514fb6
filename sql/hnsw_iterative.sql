-- Filtered nearest-neighbour queries: when a WHERE clause drops rows, the scan keeps searching
-- past hnsw.ef_search (hnsw.iterative_scan, default strict_order) until LIMIT is satisfied, up to
-- hnsw.max_scan_tuples elements. Results are compared with the exact filtered answer of a
-- sequential scan. 10,000 x 16-d uniform rows, category = id % 100 (1% per category).
SET client_min_messages = notice;
SET jit = off;
SELECT setseed(0.6);
CREATE TABLE f (id int PRIMARY KEY, cat int, v vector(16));
INSERT INTO f SELECT i, i % 100, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::vector(16)
	FROM generate_series(1, 10000) i ORDER BY i;
CREATE INDEX f_v ON f USING hnsw (v vector_l2_ops);
CREATE TABLE fq (qid int PRIMARY KEY, q vector(16));
INSERT INTO fq SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::vector(16)
	FROM generate_series(1, 20) i;
-- exact filtered top-10 (l2_distance is not indexable)
CREATE TABLE ftruth AS SELECT qid, x.id FROM fq,
	LATERAL (SELECT id FROM f WHERE cat = 0 ORDER BY l2_distance(v, fq.q) LIMIT 10) x;
ANALYZE f;

-- For a 1% filter the planner sorts the filtered rows itself; for a 50% filter it uses the index.
EXPLAIN (costs off) SELECT id FROM f WHERE cat = 0 ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 10;
EXPLAIN (costs off) SELECT id FROM f WHERE cat < 50 ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 10;
SET enable_seqscan = off;
EXPLAIN (costs off) SELECT id FROM f WHERE cat = 0 ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 10;

-- filtered_check(): per query, rows returned for LIMIT 10 with cat = 0, whether they come in
-- distance order, and recall against the exact filtered top-10
CREATE FUNCTION filtered_check(OUT all_ten bool, OUT rows_returned bigint, OUT in_order bool, OUT recall_ok text)
LANGUAGE plpgsql AS $$
DECLARE
	recall float8;
BEGIN
	SELECT bool_and(n = 10), sum(n), bool_and(ordered) INTO all_ten, rows_returned, in_order FROM fq,
		LATERAL (SELECT count(*) AS n, coalesce(bool_and(d >= prev), true) AS ordered FROM
			(SELECT d, lag(d, 1, '-Infinity') OVER (ORDER BY rn) AS prev FROM
				(SELECT v <-> fq.q AS d, row_number() OVER () AS rn FROM
					(SELECT v FROM f WHERE cat = 0 ORDER BY v <-> fq.q LIMIT 10) s0) s1) s2) x;
	SELECT count(t.id)::float8 / 200 INTO recall FROM fq,
		LATERAL (SELECT fq.qid, id FROM f WHERE cat = 0 ORDER BY v <-> fq.q LIMIT 10) r
		LEFT JOIN ftruth t ON t.qid = r.qid AND t.id = r.id;
	recall_ok := CASE WHEN recall >= 0.95 THEN 'ok' ELSE 'recall ' || round(recall::numeric, 3) END;
END $$;

-- strict_order (default): every query gets its 10 rows, in order, close to the exact answer
SHOW hnsw.iterative_scan;
SET hnsw.ef_search = 40;
SELECT * FROM filtered_check();
-- the scan went far past ef_search to find them
SELECT nodes_visited > 1000 AS searched_past_ef, bound_reached FROM prism.last_scan_stats();
-- relaxed_order: also every row (order may be slightly off, so only the count and recall)
SET hnsw.iterative_scan = relaxed_order;
SELECT all_ten, rows_returned, recall_ok FROM filtered_check();
-- off (pgvector's default): the scan ends after ef_search candidates, most filtered out
SET hnsw.iterative_scan = off;
SELECT all_ten, rows_returned < 100 AS few_rows FROM filtered_check();
RESET hnsw.iterative_scan;

-- hnsw.max_scan_tuples bounds the search, with a NOTICE
SET hnsw.max_scan_tuples = 200;
SELECT count(*) < 10 AS stopped_early FROM (SELECT id FROM f WHERE cat = 0 ORDER BY v <-> (SELECT q FROM fq WHERE qid = 1) LIMIT 10) s;
SELECT bound_reached FROM prism.last_scan_stats();
RESET hnsw.max_scan_tuples;
-- a filter nothing passes: the scan visits the whole graph and ends without rows or NOTICE
SELECT count(*) FROM (SELECT id FROM f WHERE cat = 1000 ORDER BY v <-> (SELECT q FROM fq WHERE qid = 1) LIMIT 10) s;
SELECT nodes_visited = 10000 AS whole_graph, bound_reached FROM prism.last_scan_stats();
-- without LIMIT, a relaxed_order scan returns every matching row (strict_order drops the few
-- elements found only after farther ones were returned, about 0.3% of rows on data like this)
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM f WHERE cat = 7 ORDER BY v <-> (SELECT q FROM fq WHERE qid = 2)) s;
RESET hnsw.iterative_scan;
RESET enable_seqscan;
DROP TABLE f, fq, ftruth;
DROP FUNCTION filtered_check();

-- Exact duplicates under iterative_scan = off: the scan hands out its first ef_search candidates,
-- each up to 10 rows of one vector (pgvector's count: 20 identical rows at ef_search 1 give 10).
-- The other modes return every copy. Same for a built index and one filled row by row.
SET enable_seqscan = off;
CREATE TABLE dup (id int, v vector(3));
INSERT INTO dup SELECT i, '[1,1,1]' FROM generate_series(1, 20) i;
CREATE INDEX dup_v ON dup USING hnsw (v vector_l2_ops);
CREATE FUNCTION dup_counts(OUT mode text, OUT ef int, OUT n bigint) RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN
	FOREACH mode IN ARRAY ARRAY['off', 'strict_order', 'relaxed_order'] LOOP
		FOREACH ef IN ARRAY ARRAY[1, 2, 3] LOOP
			PERFORM set_config('hnsw.iterative_scan', mode, true);
			PERFORM set_config('hnsw.ef_search', ef::text, true);
			SELECT count(*) INTO n FROM (SELECT * FROM dup ORDER BY v <-> '[1,1,1]') s;
			RETURN NEXT;
		END LOOP;
	END LOOP;
END $$;
SELECT * FROM dup_counts();
TRUNCATE dup;
DO $$ BEGIN FOR i IN 1..20 LOOP INSERT INTO dup VALUES (i, '[1,1,1]'); END LOOP; END $$;
SELECT * FROM dup_counts() WHERE ef = 1;
-- with other vectors: ef_search 3 candidates are the 20 copies (2) and the nearest other row
INSERT INTO dup VALUES (21, '[1,1,2]'), (22, '[1,1,3]'), (23, '[1,1,4]');
SET hnsw.iterative_scan = off;
SET hnsw.ef_search = 3;
SELECT array_agg(id ORDER BY id) FILTER (WHERE id > 20) AS others, count(*) FROM (SELECT id FROM dup ORDER BY v <-> '[1,1,1]') s;
SELECT count(*) FROM (SELECT id FROM dup ORDER BY v <-> '[1,1,1]' LIMIT 5) s;
RESET hnsw.iterative_scan;
RESET hnsw.ef_search;
RESET enable_seqscan;
DROP TABLE dup;
DROP FUNCTION dup_counts();
