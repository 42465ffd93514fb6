-- ivfflat under a WHERE clause: with ivfflat.iterative_scan = off the scan stops after
-- ivfflat.probes lists (fewer rows than LIMIT when the filter is selective); with relaxed_order
-- it reads more lists until LIMIT rows pass the filter, bounded by ivfflat.max_probes.
-- Results are compared with the exact filtered answer of a sequential scan.
SET jit = off;
SET client_min_messages = warning;
SELECT setseed(0.6);
CREATE TABLE centers (c int, ctr float8[]);
INSERT INTO centers SELECT c, (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 16) WHERE c >= 0)
	FROM generate_series(0, 19) c;
CREATE TABLE items (id int PRIMARY KEY, cat int, v vector(16));
-- 5,000 rows in 20 clusters; 100 categories, 3 rows of each in every cluster
INSERT INTO items SELECT i, (i / 20) % 100, (SELECT array_agg(ctr[d] + 0.2 * (random() - 0.5)) FROM generate_series(1, 16) d)::vector
	FROM generate_series(1, 5000) i JOIN centers ON c = i % 20;
CREATE INDEX items_idx ON items USING ivfflat (v vector_l2_ops) WITH (lists = 20);
ANALYZE items;
CREATE TABLE queries AS SELECT qid, (SELECT v FROM items WHERE id = qid * 97) AS q FROM generate_series(1, 20) qid;

SET enable_seqscan = off;
EXPLAIN (costs off) SELECT id FROM items WHERE cat = 7 ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 10;

-- rows returned for category 7 per query, and their overlap with the exact top 10
CREATE FUNCTION filtered(OUT min_rows bigint, OUT max_rows bigint, OUT recall float8, OUT wrong_category bigint)
LANGUAGE sql AS $$
	WITH r AS (SELECT qid, x.id, x.cat FROM queries,
		LATERAL (SELECT id, cat FROM items WHERE cat = 7 ORDER BY v <-> q LIMIT 10) x),
	t AS (SELECT qid, x.id FROM queries,
		LATERAL (SELECT id FROM items WHERE cat = 7 ORDER BY l2_distance(v, q) LIMIT 10) x),
	n AS (SELECT qid, count(r.id) AS c FROM queries LEFT JOIN r USING (qid) GROUP BY qid)
	SELECT (SELECT min(c) FROM n), (SELECT max(c) FROM n),
		(SELECT count(*) FROM r JOIN t USING (qid, id))::float8 / 200,
		(SELECT count(*) FROM r WHERE cat <> 7)
$$;

SET ivfflat.probes = 1;
SET ivfflat.iterative_scan = off;
SELECT max_rows < 10 AS off_stops_short, wrong_category FROM filtered();
SET ivfflat.iterative_scan = relaxed_order;
SELECT min_rows = 10 AS relaxed_finds_10, recall >= 0.9 AS relaxed_recall_ok, wrong_category FROM filtered();
-- every row of the category, nearest batches first
SELECT count(*) = (SELECT count(*) FROM items WHERE cat = 7) AS all_of_category FROM (SELECT id FROM items WHERE cat = 7
	ORDER BY v <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 1000) s;
-- max_probes bounds the lists read: one list holds a few rows of category 7
SET ivfflat.max_probes = 1;
SELECT max_rows < 10 AS max_probes_stops_short FROM filtered();
-- below probes, probes wins
SET ivfflat.probes = 20;
SET ivfflat.max_probes = 2;
SELECT min_rows = 10 AS probes_over_max_probes, recall = 1 AS exact_with_all_lists FROM filtered();
RESET ivfflat.max_probes;
RESET ivfflat.probes;
RESET ivfflat.iterative_scan;

DROP TABLE items, centers, queries;
DROP FUNCTION filtered();
