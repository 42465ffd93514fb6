-- VACUUM of hnsw indexes: deleted elements leave the graph, their neighbours' links are
-- repaired (recall stays high), their slots are reused by later inserts.
-- Temporary tables: their vacuum horizon is this session alone, so concurrent activity (autovacuum
-- analyzing other tables) cannot keep deleted rows alive and change the output.
CREATE TEMP TABLE vac (id int PRIMARY KEY, v vector(8));
SELECT setseed(0.25);
INSERT INTO vac SELECT i, ARRAY(SELECT random()::real FROM generate_series(1, 8) WHERE i > 0)::vector
	FROM generate_series(1, 2000) i;
CREATE INDEX vac_v ON vac USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 40);
CREATE TEMP TABLE vac_q AS SELECT i AS qid, ARRAY(SELECT random()::real FROM generate_series(1, 8) WHERE i > 0)::vector AS v
	FROM generate_series(1, 20) i;

-- recall@10 of the index against an exact scan, over the 20 queries
CREATE FUNCTION vac_recall() RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	r float8;
BEGIN
	PERFORM set_config('enable_seqscan', 'off', true);
	CREATE TEMP TABLE vac_approx AS
		SELECT q.qid, a.id FROM vac_q q, LATERAL (SELECT id FROM vac ORDER BY v <-> q.v LIMIT 10) a;
	PERFORM set_config('enable_seqscan', 'on', true);
	PERFORM set_config('enable_indexscan', 'off', true);
	CREATE TEMP TABLE vac_exact AS
		SELECT q.qid, a.id FROM vac_q q, LATERAL (SELECT id FROM vac ORDER BY v <-> q.v LIMIT 10) a;
	PERFORM set_config('enable_indexscan', 'on', true);
	SELECT count(a.id)::float8 / greatest(count(*), 1) INTO r FROM vac_exact e LEFT JOIN vac_approx a USING (qid, id);
	DROP TABLE vac_approx, vac_exact;
	RETURN r;
END $$;

SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT q.qid, a.id FROM vac_q q, LATERAL (SELECT id FROM vac ORDER BY v <-> q.v LIMIT 10) a;
RESET enable_seqscan;
SELECT vac_recall() >= 0.95 AS recall_ok;

-- VACUUM with nothing deleted leaves the index alone
VACUUM vac;
SELECT elements, deleted_elements, free_slots FROM prism.index_info('vac_v');

-- delete half, vacuum: no deleted elements remain, their slots are free, the graph is sound
DELETE FROM vac WHERE id % 2 = 0;
SELECT elements, deleted_elements, free_slots FROM prism.index_info('vac_v');
VACUUM vac;
SELECT elements, deleted_elements, free_slots FROM prism.index_info('vac_v');
SELECT * FROM prism.index_check('vac_v');
SELECT vac_recall() >= 0.95 AS recall_ok;
SELECT pages AS pages_before FROM prism.index_info('vac_v') \gset

-- inserts reuse the freed slots: no new element pages
INSERT INTO vac SELECT i, ARRAY(SELECT random()::real FROM generate_series(1, 8) WHERE i > 0)::vector
	FROM generate_series(2001, 2500) i;
SELECT elements, deleted_elements, free_slots, pages - :pages_before <= 1 AS no_growth FROM prism.index_info('vac_v');
SELECT prism.index_is_valid('vac_v');
SELECT vac_recall() >= 0.95 AS recall_ok;
-- every row is found by its own vector
SET enable_seqscan = off;
SELECT count(*) AS not_found FROM vac t
	WHERE t.id <> (SELECT id FROM vac ORDER BY v <-> t.v LIMIT 1);
RESET enable_seqscan;

-- delete all but one row: the entry point moves to the survivor
DELETE FROM vac WHERE id <> 1;
VACUUM vac;
SELECT elements, deleted_elements, free_slots FROM prism.index_info('vac_v');
SELECT prism.index_is_valid('vac_v');
SET enable_seqscan = off;
SELECT id FROM vac ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 5;
RESET enable_seqscan;

-- delete everything: the graph is empty, queries return nothing, inserts start over
DELETE FROM vac;
VACUUM vac;
SELECT elements, deleted_elements, free_slots, levels FROM prism.index_info('vac_v');
SELECT prism.index_is_valid('vac_v');
SET enable_seqscan = off;
SELECT id FROM vac ORDER BY v <-> '[0,0,0,0,0,0,0,0]' LIMIT 5;
RESET enable_seqscan;
INSERT INTO vac SELECT i, ARRAY(SELECT random()::real FROM generate_series(1, 8) WHERE i > 0)::vector
	FROM generate_series(1, 300) i;
SELECT elements, deleted_elements, free_slots, levels > 0 AS has_levels FROM prism.index_info('vac_v');
SELECT prism.index_is_valid('vac_v');
SELECT vac_recall() >= 0.95 AS recall_ok;

-- exact duplicates: 100 copies share one element and its overflow records
CREATE TEMP TABLE vac_dup (id int PRIMARY KEY, v vector(8));
INSERT INTO vac_dup SELECT i, '[1,1,1,1,1,1,1,1]' FROM generate_series(1, 100) i;
INSERT INTO vac_dup SELECT i, ARRAY(SELECT random()::real FROM generate_series(1, 8) WHERE i > 0)::vector
	FROM generate_series(101, 300) i;
CREATE INDEX vac_dup_v ON vac_dup USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 40);
SELECT elements, duplicate_tids FROM prism.index_info('vac_dup_v');
DELETE FROM vac_dup WHERE id <= 50;
VACUUM vac_dup;
SELECT elements, deleted_elements, duplicate_tids, free_slots > 0 AS overflow_freed FROM prism.index_info('vac_dup_v');
SELECT prism.index_is_valid('vac_dup_v');
SET enable_seqscan = off;
SELECT count(*) AS copies_found FROM (SELECT id FROM vac_dup ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 60) s
	WHERE id <= 100;
RESET enable_seqscan;
-- more copies go into the chain again
INSERT INTO vac_dup SELECT i, '[1,1,1,1,1,1,1,1]' FROM generate_series(301, 320) i;
SELECT elements, duplicate_tids FROM prism.index_info('vac_dup_v');
-- all copies gone: the element and its whole chain are freed
DELETE FROM vac_dup WHERE v = '[1,1,1,1,1,1,1,1]';
VACUUM vac_dup;
SELECT elements, deleted_elements, duplicate_tids FROM prism.index_info('vac_dup_v');
SELECT prism.index_is_valid('vac_dup_v');
-- every remaining element is reachable (relaxed order: strict order may drop late finds)
SET enable_seqscan = off;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) AS rows_found FROM (SELECT id FROM vac_dup ORDER BY v <-> '[1,1,1,1,1,1,1,1]' LIMIT 500) s;
RESET hnsw.iterative_scan;
RESET enable_seqscan;

DROP TABLE vac, vac_q, vac_dup;
DROP FUNCTION vac_recall();
