-- ivfflat and VACUUM: dead rows leave the lists, the survivors are all still found, the freed
-- space is reused by later inserts (the index barely grows), and an index emptied by VACUUM
-- takes rows again.
-- A temporary table: its vacuum horizon is this session alone, so concurrent activity (an
-- autovacuum ANALYZE of another table holding a snapshot) cannot keep dead rows in the index.
SET jit = off;
SET client_min_messages = warning;
SELECT setseed(0.3);
CREATE TEMP TABLE items (id int PRIMARY KEY, v vector(16));
INSERT INTO items SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::vector
	FROM generate_series(1, 3000) i;
CREATE INDEX items_idx ON items USING ivfflat (v vector_l2_ops) WITH (lists = 20);
SET enable_seqscan = off;
SET ivfflat.probes = 20;

-- ids the index returns when every list is read, against the table; prism.ivfflat_check's
-- problems and prism.ivfflat_info's tuple count
CREATE FUNCTION index_vs_table() RETURNS text LANGUAGE sql AS $$
	WITH idx AS (SELECT id FROM items ORDER BY v <-> (SELECT array_fill(0.5, ARRAY[16])::vector) LIMIT 100000),
	tbl AS (SELECT id FROM items)
	SELECT format('index %s rows, table %s rows, missing %s, extra %s; check %s problems, info %s tuples',
		(SELECT count(*) FROM idx), (SELECT count(*) FROM tbl),
		(SELECT count(*) FROM (SELECT id FROM tbl EXCEPT SELECT id FROM idx) m),
		(SELECT count(*) FROM (SELECT id FROM idx EXCEPT SELECT id FROM tbl) e),
		(SELECT count(*) FROM prism.ivfflat_check('items_idx')),
		(SELECT tuples FROM prism.ivfflat_info('items_idx')))
$$;

SELECT index_vs_table() AS built;
DELETE FROM items WHERE id % 3 <> 0;
VACUUM items;
SELECT index_vs_table() AS after_vacuum;
CREATE TABLE sizes AS SELECT pg_relation_size('items_idx') AS before_inserts;
-- as many rows as were deleted, from the same distribution
INSERT INTO items SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::vector
	FROM generate_series(3001, 5000) i;
SELECT index_vs_table() AS after_inserts;
-- without reuse the index would grow by about two thirds
SELECT pg_relation_size('items_idx') <= before_inserts * 1.1 AS space_reused FROM sizes;

-- an update is a delete plus an insert
UPDATE items SET v = (SELECT array_fill(0.5, ARRAY[16])::vector) WHERE id = 3;
VACUUM items;
SELECT id FROM items ORDER BY v <-> (SELECT array_fill(0.5, ARRAY[16])::vector) LIMIT 1;
SELECT index_vs_table() AS after_update;

-- everything deleted, then rows again
DELETE FROM items;
VACUUM items;
SELECT index_vs_table() AS emptied;
INSERT INTO items SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::vector
	FROM generate_series(1, 500) i;
SELECT index_vs_table() AS refilled;
SELECT pg_relation_size('items_idx') <= before_inserts * 1.1 AS still_reused FROM sizes;

SELECT lists, dimensions, metric, tuples, empty_lists, min_list_tuples <= max_list_tuples AS min_le_max,
	sample_rows, pages * 8192 = bytes AS bytes_ok FROM prism.ivfflat_info('items_idx');
-- only ivfflat indexes
CREATE INDEX items_hnsw ON items USING hnsw (v vector_l2_ops);
SELECT * FROM prism.ivfflat_info('items_hnsw');
SELECT * FROM prism.ivfflat_check('items');

DROP TABLE items, sizes;
DROP FUNCTION index_vs_table();
