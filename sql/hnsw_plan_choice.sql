-- Plan choice with default costs: the planner takes the hnsw index where it answers faster and
-- the exact plan (scan + sort) where that is faster. Shapes and the latencies measured for both
-- plans are in test/bench/README.md ("Plan choice"). 3,000 x 16-d uniform rows, cat = id % 100.
SET client_min_messages = warning;
SET jit = off;
SET prism.build_threads = 1;
SELECT setseed(0.8);
CREATE TABLE pc (id int PRIMARY KEY, cat int, v vector(16)) WITH (autovacuum_enabled = off);
INSERT INTO pc SELECT i, i % 100, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::vector(16)
	FROM generate_series(1, 3000) i;
CREATE INDEX pc_v ON pc USING hnsw (v vector_l2_ops);

-- right after CREATE INDEX, before any ANALYZE: the index (0.2 ms against 0.7 ms for the sort)
SELECT reltuples FROM pg_class WHERE oid = 'pc'::regclass;
EXPLAIN (COSTS OFF) SELECT id FROM pc ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10;
ANALYZE pc;
EXPLAIN (COSTS OFF) SELECT id FROM pc ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10;

-- a bound on the ORDER BY distance: `< r` keeps the first rows the index returns (index),
-- `> r` only rows after every rejected one (the exact plan is faster)
EXPLAIN (COSTS OFF) SELECT id FROM pc WHERE v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' < 1.2
	ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM pc WHERE v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' > 1.2
	ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10;
-- the same with the bound written the other way round, and as a prepared statement
EXPLAIN (COSTS OFF) SELECT id FROM pc WHERE 1.2 >= v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]'
	ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10;
PREPARE near(vector, float8) AS SELECT id FROM pc WHERE v <-> $1 < $2 ORDER BY v <-> $1 LIMIT 10;
EXPLAIN (COSTS OFF) EXECUTE near('[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]', 1.2);
DEALLOCATE near;
-- and the answer is the exact one (10 rows within the bound, in distance order)
SELECT count(*) AS n, bool_and(d < 1.2) AS within FROM (SELECT v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' AS d FROM pc
	WHERE v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' < 1.2
	ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10) s;

-- a join whose other side carries the filter: half the categories (index), one (exact plan)
CREATE TABLE pc_cats (id int PRIMARY KEY, grp int);
INSERT INTO pc_cats SELECT i, CASE WHEN i = 0 THEN 1 WHEN i < 50 THEN 50 ELSE 100 END FROM generate_series(0, 99) i;
ANALYZE pc_cats;
EXPLAIN (COSTS OFF) SELECT p.id FROM pc p JOIN pc_cats c ON c.id = p.cat WHERE c.grp = 50
	ORDER BY p.v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT p.id FROM pc p JOIN pc_cats c ON c.id = p.cat WHERE c.grp = 1
	ORDER BY p.v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10;

-- a 1% filter on the table: the exact plan
EXPLAIN (COSTS OFF) SELECT id FROM pc WHERE cat = 7 ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10;

-- a partial hnsw index whose predicate the query implies: it answers without a filter, or with
-- one that keeps half its rows
CREATE INDEX pc_v_low ON pc USING hnsw (v vector_l2_ops) WHERE cat < 10;
EXPLAIN (COSTS OFF) SELECT id FROM pc WHERE cat < 10 ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10;
EXPLAIN (COSTS OFF) SELECT id FROM pc WHERE cat < 5 ORDER BY v <-> '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]' LIMIT 10;
DROP TABLE pc, pc_cats;
