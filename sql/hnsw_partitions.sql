-- hnsw on a partitioned table: an index on the parent creates one per partition (and on
-- partitions attached later), a top-k over the parent merges the partitions' index scans in
-- distance order (Merge Append), a filter on the partition key prunes partitions, and a detached
-- partition keeps its index. Answers are checked against the exact ones of a sequential scan.
SET jit = off;
CREATE TABLE docs (id int, cat int NOT NULL, v vector(4)) PARTITION BY LIST (cat);
CREATE TABLE docs_1 PARTITION OF docs FOR VALUES IN (1);
CREATE TABLE docs_2 PARTITION OF docs FOR VALUES IN (2);
CREATE TABLE docs_3 PARTITION OF docs FOR VALUES IN (3);
-- 1,200 distinct rows spread over the three partitions, the same every run
INSERT INTO docs SELECT g, 1 + g % 3,
	(SELECT array_agg(sin(g * 12.9898 + i * 78.233) * 43758.5453 - floor(sin(g * 12.9898 + i * 78.233) * 43758.5453))
		FROM generate_series(1, 4) i)::vector(4)
	FROM generate_series(1, 1200) g;
CREATE INDEX docs_v_idx ON docs USING hnsw (v vector_l2_ops);
-- one index per partition, attached to the parent's
SELECT c.relname AS partition, i.relname AS index, pi.relname AS parent_index
	FROM pg_inherits h JOIN pg_class i ON i.oid = h.inhrelid JOIN pg_class pi ON pi.oid = h.inhparent
	JOIN pg_index x ON x.indexrelid = i.oid JOIN pg_class c ON c.oid = x.indrelid
	WHERE pi.relname = 'docs_v_idx' ORDER BY 1;
SELECT relname, (prism.index_info(oid)).elements FROM pg_class
	WHERE relname IN ('docs_1_v_idx', 'docs_2_v_idx', 'docs_3_v_idx') ORDER BY 1;

-- the exact answers of a few queries, without any index
SET enable_indexscan = off;
SET enable_bitmapscan = off;
CREATE TABLE queries AS SELECT id AS qid, v AS q FROM docs WHERE id IN (5, 100, 777, 1111);
CREATE TABLE exact AS SELECT qid, array_agg(id ORDER BY d, id) AS ids FROM queries,
	LATERAL (SELECT id, v <-> q AS d FROM docs ORDER BY v <-> q LIMIT 10) s GROUP BY qid;
CREATE TABLE exact_cat2 AS SELECT qid, array_agg(id ORDER BY d, id) AS ids FROM queries,
	LATERAL (SELECT id, v <-> q AS d FROM docs WHERE cat = 2 ORDER BY v <-> q LIMIT 10) s GROUP BY qid;
RESET enable_indexscan;
RESET enable_bitmapscan;
SET enable_seqscan = off;

-- top 10 over all partitions: Merge Append of the three index scans in distance order
EXPLAIN (costs off) SELECT id FROM docs ORDER BY v <-> '[0.5,0.5,0.5,0.5]' LIMIT 10;
SELECT qid, s.ids = e.ids AS exact, s.ids[1] = qid AS finds_itself FROM queries JOIN exact e USING (qid),
	LATERAL (SELECT array_agg(id) AS ids FROM (SELECT id FROM docs ORDER BY v <-> q LIMIT 10) t) s
	ORDER BY qid;
-- rows come back in distance order across partitions
SELECT bool_and(d >= lag_d) AS ordered, count(DISTINCT cat) AS partitions FROM (
	SELECT cat, v <-> '[0.5,0.5,0.5,0.5]' AS d, lag(v <-> '[0.5,0.5,0.5,0.5]') OVER () AS lag_d
	FROM (SELECT * FROM docs ORDER BY v <-> '[0.5,0.5,0.5,0.5]' LIMIT 30) t) s;

-- a filter on the partition key: only that partition's index is scanned
EXPLAIN (costs off) SELECT id FROM docs WHERE cat = 2 ORDER BY v <-> '[0.5,0.5,0.5,0.5]' LIMIT 10;
SELECT qid, s.ids = e.ids AS exact FROM queries JOIN exact_cat2 e USING (qid),
	LATERAL (SELECT array_agg(id) AS ids FROM (SELECT id FROM docs WHERE cat = 2 ORDER BY v <-> q LIMIT 10) t) s
	ORDER BY qid;
-- runtime pruning with a parameter
PREPARE by_cat(int, vector) AS SELECT id FROM docs WHERE cat = $1 ORDER BY v <-> $2 LIMIT 3;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (costs off) EXECUTE by_cat(3, '[0.5,0.5,0.5,0.5]');
EXECUTE by_cat(3, '[0.5,0.5,0.5,0.5]');
-- the same, exact
SET enable_indexscan = off;
RESET enable_seqscan;
SELECT id FROM docs_3 ORDER BY v <-> '[0.5,0.5,0.5,0.5]' LIMIT 3;
RESET enable_indexscan;
SET enable_seqscan = off;
RESET plan_cache_mode;

-- attach: a table without an index gets one built; a table with a matching index keeps it
CREATE TABLE docs_4 (id int, cat int NOT NULL, v vector(4));
INSERT INTO docs_4 SELECT 2000 + g, 4, ('[' || g || ',0,0,0]')::vector(4) FROM generate_series(1, 50) g;
ALTER TABLE docs ATTACH PARTITION docs_4 FOR VALUES IN (4);
CREATE TABLE docs_5 (id int, cat int NOT NULL, v vector(4));
INSERT INTO docs_5 SELECT 3000 + g, 5, ('[0,' || g || ',0,0]')::vector(4) FROM generate_series(1, 50) g;
CREATE INDEX docs_5_own_idx ON docs_5 USING hnsw (v vector_l2_ops);
ALTER TABLE docs ATTACH PARTITION docs_5 FOR VALUES IN (5);
SELECT c.relname AS partition, i.relname AS index FROM pg_inherits h
	JOIN pg_class i ON i.oid = h.inhrelid JOIN pg_index x ON x.indexrelid = i.oid
	JOIN pg_class c ON c.oid = x.indrelid
	WHERE h.inhparent = 'docs_v_idx'::regclass ORDER BY 1;
SELECT id FROM docs ORDER BY v <-> '[30.2,0,0,0]' LIMIT 3;
SELECT id FROM docs ORDER BY v <-> '[0,40.2,0,0]' LIMIT 3;
-- a partition index is a part of the parent's: it cannot be dropped alone
DROP INDEX docs_5_own_idx;

-- detach: the rows leave the parent's answers; the detached table keeps its index
ALTER TABLE docs DETACH PARTITION docs_1;
SELECT count(*) FILTER (WHERE cat = 1) AS cat_1_rows, count(*) AS rows FROM
	(SELECT cat FROM docs ORDER BY v <-> '[0.5,0.5,0.5,0.5]' LIMIT 100) s;
EXPLAIN (costs off) SELECT id FROM docs_1 ORDER BY v <-> '[0.5,0.5,0.5,0.5]' LIMIT 3;
SELECT (SELECT id FROM docs_1 ORDER BY v <-> q LIMIT 1) = qid AS finds_itself FROM queries WHERE qid = 777;
DROP INDEX docs_1_v_idx;
DROP TABLE docs, docs_1, queries, exact, exact_cat2;
