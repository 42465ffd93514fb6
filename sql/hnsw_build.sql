-- hnsw build paths: the in-memory hnswlib build, the page-by-page fallback past
-- maintenance_work_mem, build threads, and cancellation.
SELECT setseed(0.42);
CREATE TABLE b (id int PRIMARY KEY, v vector(64));
INSERT INTO b SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 64) WHERE i > 0)::vector(64)
	FROM generate_series(1, 4000) i;
CREATE TABLE bq AS SELECT id AS qid, v FROM b WHERE id % 200 = 0;

-- exact answers to compare with
CREATE TABLE bexact AS SELECT q.qid, x.id FROM bq q,
	LATERAL (SELECT id FROM b ORDER BY l2_distance(v, q.v) LIMIT 10) x;
CREATE FUNCTION build_recall() RETURNS float8 LANGUAGE sql AS $$
	SELECT count(*)::float8 / (SELECT count(*) FROM bexact) FROM bq q
		CROSS JOIN LATERAL (SELECT id FROM b ORDER BY v <-> q.v LIMIT 10) x
		JOIN bexact e ON e.qid = q.qid AND e.id = x.id
$$;
SET enable_seqscan = off;
SET hnsw.ef_search = 200;  -- uniform random 64-d data is hard: check recall with a wide beam

-- build threads: validated; one thread gives a working index too
SET prism.build_threads = 0;
SET prism.build_threads = 65;
SET prism.build_threads = 1;
CREATE INDEX b_idx ON b USING hnsw (v vector_l2_ops);
SELECT build_recall() >= 0.95 AS recall_one_thread;
DROP INDEX b_idx;
RESET prism.build_threads;

-- past maintenance_work_mem the rest is inserted page by page, with a NOTICE
SET maintenance_work_mem = '1MB';
CREATE INDEX b_idx ON b USING hnsw (v vector_l2_ops);
RESET maintenance_work_mem;
SELECT elements = 4000 AS all_indexed FROM prism.index_info('b_idx');
SELECT prism.index_is_valid('b_idx');
SELECT build_recall() >= 0.95 AS recall_fallback;
DROP INDEX b_idx;

-- a cancelled build leaves no index behind, and the next build works
SET statement_timeout = '5ms';
CREATE INDEX b_idx ON b USING hnsw (v vector_l2_ops) WITH (ef_construction = 400);
RESET statement_timeout;
SELECT count(*) AS leftover_indexes FROM pg_class WHERE relname = 'b_idx';
CREATE INDEX b_idx ON b USING hnsw (v vector_l2_ops);
SELECT build_recall() >= 0.95 AS recall_after_cancel;

DROP TABLE b, bq, bexact;
DROP FUNCTION build_recall();
