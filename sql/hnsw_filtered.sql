-- Filtered nearest-neighbour queries at several selectivities, with the default scan settings
-- (hnsw.ef_search 40, hnsw.iterative_scan strict_order): `WHERE category = X ORDER BY v <-> q
-- LIMIT 10` must return 10 rows in distance order, with recall@10 >= 0.95 against the exact
-- answer (l2_distance is not indexable, so that one is a sequential scan). Then the planner's
-- choice between the hnsw scan and the exact plan (btree on category + sort) by selectivity.
-- hnsw_iterative covers the iterative_scan modes on uniform data; this file uses clustered data,
-- a correlated filter and realistic selectivities.
--
-- 20,000 x 32-d rows: 19,800 from 20 Gaussian clusters and 200 from a far cluster (category 4).
-- Categories are disjoint values, each its own selectivity over the whole table:
--   0: 50% (10,000 rows)  1: 10% (2,000)  2: 1% (200)  3: 0.1% (20)  4: 1%, far cluster only
--   9: the rest of the main clusters (7,580)
SET client_min_messages = notice;
SET jit = off;
SELECT setseed(0.4);

-- 20 cluster centres uniform in [-1, 1]^32, and centre 20 at (4, ..., 4), far from all of them
CREATE TABLE centers (c int PRIMARY KEY, ctr float8[]);
INSERT INTO centers SELECT c, (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 32) WHERE c >= 0)
	FROM generate_series(0, 19) c;
INSERT INTO centers VALUES (20, array_fill(4.0::float8, ARRAY[32]));
-- each row: its centre plus Gaussian noise (Box-Muller), sd 0.3 per coordinate; one grouped
-- pass over 20,000 x 32 (row, dimension) pairs instead of a subquery per row
CREATE TABLE items (id int PRIMARY KEY, category int NOT NULL, v vector(32));
INSERT INTO items (id, category, v)
	SELECT i, 0, array_agg(ctr[d] + 0.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) ORDER BY d)::vector(32)
	FROM generate_series(1, 20000) i
	JOIN centers ON c = CASE WHEN i > 19800 THEN 20 ELSE i % 20 END
	CROSS JOIN generate_series(1, 32) d
	GROUP BY i ORDER BY i;
-- categories of the main rows by a random permutation, so they are independent of the clusters
UPDATE items SET category = CASE WHEN r <= 10000 THEN 0 WHEN r <= 12000 THEN 1 WHEN r <= 12200 THEN 2
		WHEN r <= 12220 THEN 3 ELSE 9 END
	FROM (SELECT id AS rid, row_number() OVER (ORDER BY random(), id) AS r FROM items WHERE id <= 19800) p
	WHERE id = rid;
UPDATE items SET category = 4 WHERE id > 19800;
SELECT category, count(*) FROM items GROUP BY category ORDER BY category;
-- 20 queries from the main clusters
CREATE TABLE queries (qid int PRIMARY KEY, q vector(32));
INSERT INTO queries
	SELECT i, array_agg(ctr[d] + 0.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) ORDER BY d)::vector(32)
	FROM generate_series(1, 20) i JOIN centers ON c = (i * 7) % 20 CROSS JOIN generate_series(1, 32) d
	GROUP BY i ORDER BY i;
-- exact filtered top-10 per category and query
CREATE TABLE truth (category int, qid int, id int);
INSERT INTO truth SELECT c.category, qid, x.id FROM (VALUES (0), (1), (2), (3), (4)) c(category), queries,
	LATERAL (SELECT id FROM items WHERE items.category = c.category ORDER BY l2_distance(v, q) LIMIT 10) x;
SELECT category, count(*) FROM truth GROUP BY category ORDER BY category;

-- one build thread: the graph (and so every figure below) is the same on every run
SET prism.build_threads = 1;
CREATE INDEX items_v ON items USING hnsw (v vector_l2_ops);
RESET prism.build_threads;
VACUUM ANALYZE items;

-- filtered_check(cat): over all queries, whether each `category = cat ... LIMIT 10` returned
-- exactly 10 rows, all in non-decreasing distance order, total rows, and recall@10 (`ok` when
-- >= 0.95, else the figure). The plan must be the hnsw index scan (index `<tbl>_v`). `tbl`,
-- `op` and `truth_tbl` default to the l2 case.
CREATE FUNCTION filtered_check(cat int, tbl text DEFAULT 'items', op text DEFAULT '<->', truth_tbl text DEFAULT 'truth',
	OUT all_ten bool, OUT in_order bool, OUT rows_returned bigint, OUT recall_ok text)
LANGUAGE plpgsql AS $$
DECLARE
	plan text := '';
	line text;
	recall float8;
BEGIN
	FOR line IN EXECUTE format('EXPLAIN (costs off) SELECT id FROM %I WHERE category = %s '
			'ORDER BY v %s (SELECT q FROM queries WHERE qid = 1) LIMIT 10', tbl, cat, op) LOOP
		plan := plan || line || E'\n';
	END LOOP;
	IF plan NOT LIKE '%Index Scan using ' || tbl || '_v on ' || tbl || E'\n%' THEN
		RAISE EXCEPTION 'no hnsw index scan: %', plan;
	END IF;
	EXECUTE format('CREATE TEMP TABLE got ON COMMIT DROP AS '
		'SELECT qid, r.id, r.d, r.rn FROM queries, '
		'LATERAL (SELECT id, d, row_number() OVER () AS rn FROM '
		'(SELECT id, v %s q AS d FROM %I WHERE category = %s ORDER BY v %s q LIMIT 10) s) r', op, tbl, cat, op);
	SELECT bool_and(n = 10), sum(n) INTO all_ten, rows_returned FROM queries,
		LATERAL (SELECT count(*) AS n FROM got WHERE got.qid = queries.qid) x;
	SELECT coalesce(bool_and(a.d <= b.d), true) INTO in_order FROM got a JOIN got b ON b.qid = a.qid AND b.rn = a.rn + 1;
	EXECUTE format('SELECT count(t.id)::float8 / (10 * (SELECT count(*) FROM queries)) FROM got '
		'LEFT JOIN %I t ON t.category = %s AND t.qid = got.qid AND t.id = got.id', truth_tbl, cat) INTO recall;
	recall_ok := CASE WHEN recall >= 0.95 THEN 'ok' ELSE 'recall ' || round(recall::numeric, 3) END;
	DROP TABLE got;
END $$;

-- Default settings; only the plan is forced (no other index exists yet, so disabling the
-- sequential scan leaves the hnsw scan). 50%, 10%, 1%, 0.1%, then the far cluster.
SHOW hnsw.ef_search;
SHOW hnsw.iterative_scan;
-- Rows past the first beam come from a beam widened row by row (a fresh search that wide would
-- find them), so strict_order, which drops an element found after a farther one was handed out,
-- rarely has anything to drop.
SET enable_seqscan = off;
SELECT 0 AS category, * FROM filtered_check(0);
SELECT 1 AS category, * FROM filtered_check(1);
SELECT 2 AS category, * FROM filtered_check(2);
SELECT 3 AS category, * FROM filtered_check(3);
-- correlated filter: every row of category 4 is farther from every query than any main row;
-- the scan walks past the whole main graph and still finds the right 10
SELECT 4 AS category, * FROM filtered_check(4);
SELECT nodes_visited > 19800 AS passed_main_rows, bound_reached FROM prism.last_scan_stats();

-- A filtered query is at least as good as an unfiltered one at the same ef_search: mean
-- recall@10 at ef_search 12 and 16 with the 50% filter against the unfiltered query (exact
-- unfiltered top-10 as category -1): rows 11..20 must come from a search at least as good as the
-- one that found rows 1..10.
INSERT INTO truth SELECT -1, qid, x.id FROM queries, LATERAL (SELECT id FROM items ORDER BY l2_distance(v, q) LIMIT 10) x;
CREATE FUNCTION recall_at(cat int) RETURNS float8 LANGUAGE sql AS $$
	SELECT count(t.id)::float8 / (10 * (SELECT count(*) FROM queries))
	FROM (SELECT qid, r.id FROM queries,
		LATERAL (SELECT id FROM items WHERE cat < 0 OR category = cat ORDER BY v <-> q LIMIT 10) r) got
	LEFT JOIN truth t ON t.category = cat AND t.qid = got.qid AND t.id = got.id $$;
CREATE TEMP TABLE recalls (ef int, unfiltered float8, filtered float8);
SET hnsw.ef_search = 12;
INSERT INTO recalls SELECT 12, recall_at(-1), recall_at(0);
SET hnsw.ef_search = 16;
INSERT INTO recalls SELECT 16, recall_at(-1), recall_at(0);
RESET hnsw.ef_search;
SELECT avg(filtered) >= avg(unfiltered) AS filtered_as_good,
	CASE WHEN avg(filtered) >= avg(unfiltered) THEN 'ok'
		ELSE round(avg(filtered)::numeric, 3) || ' < ' || round(avg(unfiltered)::numeric, 3) END AS recall
	FROM recalls;
DROP TABLE recalls;
DROP FUNCTION recall_at(int);
DELETE FROM truth WHERE category = -1;

-- hnsw.iterative_scan = off stops after ef_search candidates: at 0.1% almost nothing passes
SET hnsw.iterative_scan = off;
SELECT all_ten, rows_returned < 20 AS few_rows FROM filtered_check(3);
-- relaxed_order keeps searching like strict_order
SET hnsw.iterative_scan = relaxed_order;
SELECT all_ten, rows_returned, recall_ok FROM filtered_check(3);
SELECT all_ten, rows_returned, recall_ok FROM filtered_check(4);
RESET hnsw.iterative_scan;

-- Inner product on the same rows, normalized (as embeddings are): the exact top 10 of the rarer
-- categories reach -dot > 0 and the far cluster's lie around 0 (distances of both signs: the
-- widening must not depend on their scale).
CREATE TABLE items_unit AS SELECT id, category, l2_normalize(v)::vector(32) AS v FROM items;
CREATE TABLE truth_ip AS SELECT c.category, qid, x.id FROM (VALUES (2), (3), (4)) c(category), queries,
	LATERAL (SELECT id FROM items_unit WHERE items_unit.category = c.category ORDER BY inner_product(v, q) DESC LIMIT 10) x;
SET prism.build_threads = 1;
CREATE INDEX items_unit_v ON items_unit USING hnsw (v vector_ip_ops);
RESET prism.build_threads;
VACUUM ANALYZE items_unit;
SELECT 2 AS category, * FROM filtered_check(2, 'items_unit', '<#>', 'truth_ip');
SELECT 3 AS category, * FROM filtered_check(3, 'items_unit', '<#>', 'truth_ip');
SELECT 4 AS category, * FROM filtered_check(4, 'items_unit', '<#>', 'truth_ip');
DROP TABLE items_unit, truth_ip;

-- a small hnsw.max_scan_tuples stops the scan, visibly: NOTICE and bound_reached
SET hnsw.max_scan_tuples = 1000;
SELECT count(*) < 10 AS stopped_early
	FROM (SELECT id FROM items WHERE category = 4 ORDER BY v <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 10) s;
SELECT bound_reached, nodes_visited <= 1000 + 32 AS within_bound FROM prism.last_scan_stats();
RESET hnsw.max_scan_tuples;
RESET enable_seqscan;

-- Planner, default costs, with a btree on category and fresh statistics: the exact plan for the
-- 0.1% filter (20 rows to sort), the hnsw scan for the 50% filter (10 rows from the graph).
CREATE INDEX items_category ON items (category);
ANALYZE items;
EXPLAIN (costs off) SELECT id FROM items WHERE category = 3 ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 10;
EXPLAIN (costs off) SELECT id FROM items WHERE category = 2 ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 10;
EXPLAIN (costs off) SELECT id FROM items WHERE category = 1 ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 10;
EXPLAIN (costs off) SELECT id FROM items WHERE category = 0 ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 10;
-- the exact plan's answer is the truth
SELECT bool_and(ok) AS exact_plan_matches FROM queries,
	LATERAL (SELECT array_agg(id ORDER BY id) = (SELECT array_agg(id ORDER BY id) FROM truth t WHERE t.category = 3 AND t.qid = queries.qid) AS ok
		FROM (SELECT id FROM items WHERE category = 3 ORDER BY v <-> q LIMIT 10) s) x;

DROP FUNCTION filtered_check(int, text, text, text);
DROP TABLE items, queries, truth, centers;
