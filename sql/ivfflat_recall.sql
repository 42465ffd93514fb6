-- ivfflat recall against an exact sequential scan, on generated clustered data: 6,000 x 32-d
-- Gaussian mixture (30 clusters), 40 queries from the same distribution, exact top-10 per
-- operator. For each opclass, recall@10 is measured at ivfflat.probes 1, 3, 10 and 40 (= lists):
-- it must never fall as probes grow, must reach the bar at 10 probes, and must be exactly 1 when
-- every list is read. Both for a bulk-built index and for rows inserted after the build.
-- A passing check prints `ok`; a failing one prints the recalls.
SET client_min_messages = warning;
SET jit = off;
SELECT setseed(0.75);

CREATE TABLE centers (c int, ctr float8[]);
INSERT INTO centers SELECT c, (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 32) WHERE c >= 0)
	FROM generate_series(0, 29) c;
CREATE FUNCTION gauss_point(ctr float8[]) RETURNS vector LANGUAGE sql VOLATILE AS $$
	SELECT array_agg(ctr[d] + 0.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) ORDER BY d)::vector
	FROM generate_series(1, 32) d
$$;
CREATE TABLE items (id int PRIMARY KEY, v vector(32));
INSERT INTO items SELECT i, gauss_point(ctr) FROM generate_series(1, 6000) i JOIN centers ON c = i % 30 ORDER BY i;
CREATE TABLE items_unit (id int PRIMARY KEY, v vector(32));
INSERT INTO items_unit SELECT id, l2_normalize(v) FROM items ORDER BY id;
CREATE TABLE queries (qid int PRIMARY KEY, q vector(32));
INSERT INTO queries SELECT i, gauss_point(ctr) FROM generate_series(1, 40) i JOIN centers ON c = (i * 7) % 30;

CREATE TABLE truth (op text, qid int, id int);
INSERT INTO truth SELECT '<->', qid, x.id FROM queries,
	LATERAL (SELECT id FROM items ORDER BY l2_distance(v, q) LIMIT 10) x;
INSERT INTO truth SELECT '<#>', qid, x.id FROM queries,
	LATERAL (SELECT id FROM items_unit ORDER BY inner_product(v, q) DESC LIMIT 10) x;
INSERT INTO truth SELECT 'mips', qid, x.id FROM queries,
	LATERAL (SELECT id FROM items ORDER BY inner_product(v, q) DESC LIMIT 10) x;
INSERT INTO truth SELECT '<=>', qid, x.id FROM queries,
	LATERAL (SELECT id FROM items ORDER BY cosine_distance(v, q) LIMIT 10) x;
SELECT op, count(*) FROM truth GROUP BY op ORDER BY op;

-- recall@10 of the index on `tbl` for `op` at the current ivfflat.probes (the index must be used)
CREATE FUNCTION recall_at(tbl regclass, op text, truth_op text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	q text := format('SELECT count(t.id)::float8 / (10 * (SELECT count(*) FROM queries)) FROM queries, '
		'LATERAL (SELECT queries.qid, id FROM %s ORDER BY v %s queries.q LIMIT 10) r '
		'LEFT JOIN truth t ON t.op = %L AND t.qid = r.qid AND t.id = r.id', tbl, op, truth_op);
	plan text := '';
	line text;
	recall float8;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (costs off) ' || q LOOP
		plan := plan || line || E'\n';
	END LOOP;
	IF plan NOT LIKE '%Index Scan using%' THEN
		RAISE EXCEPTION 'no index scan: %', plan;
	END IF;
	EXECUTE q INTO recall;
	RETURN recall;
END $$;

-- recalls at probes 1, 3, 10, 40: ok when non-decreasing, >= bar at 10 and 1 at 40
CREATE FUNCTION recall_check(tbl regclass, op text, truth_op text DEFAULT NULL, bar float8 DEFAULT 0.9)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r float8[] := '{}';
	p int;
BEGIN
	FOREACH p IN ARRAY ARRAY[1, 3, 10, 40] LOOP
		PERFORM set_config('ivfflat.probes', p::text, true);
		r := r || recall_at(tbl, op, coalesce(truth_op, op));
	END LOOP;
	IF r[1] <= r[2] AND r[2] <= r[3] AND r[3] <= r[4] AND r[3] >= bar AND r[4] = 1 THEN
		RETURN 'ok';
	END IF;
	RETURN 'recall at probes 1, 3, 10, 40: ' || array_to_string(r, ', ');
END $$;

SET enable_seqscan = off;	-- reading every list costs about what a sequential scan does

CREATE INDEX items_l2 ON items USING ivfflat (v vector_l2_ops) WITH (lists = 40);
SELECT recall_check('items', '<->') AS l2_build;
DROP INDEX items_l2;
CREATE INDEX items_ip ON items_unit USING ivfflat (v vector_ip_ops) WITH (lists = 40);
SELECT recall_check('items_unit', '<#>') AS ip_build;
DROP INDEX items_ip;
CREATE INDEX items_mips ON items USING ivfflat (v vector_ip_ops) WITH (lists = 40);
SELECT recall_check('items', '<#>', 'mips', 0.8) AS mips_build;
DROP INDEX items_mips;
CREATE INDEX items_cos ON items USING ivfflat (v vector_cosine_ops) WITH (lists = 40);
SELECT recall_check('items', '<=>') AS cosine_build;
DROP INDEX items_cos;

-- a build on a third of the rows, the rest inserted afterwards (in id order)
CREATE TABLE items_l2 (id int, v vector(32));
INSERT INTO items_l2 SELECT id, v FROM items WHERE id <= 2000;
CREATE INDEX ON items_l2 USING ivfflat (v vector_l2_ops) WITH (lists = 40);
INSERT INTO items_l2 SELECT id, v FROM items WHERE id > 2000 ORDER BY id;
SELECT recall_check('items_l2', '<->') AS l2_insert;
CREATE TABLE items_cos (id int, v vector(32));
INSERT INTO items_cos SELECT id, v FROM items WHERE id <= 2000;
CREATE INDEX ON items_cos USING ivfflat (v vector_cosine_ops) WITH (lists = 40);
INSERT INTO items_cos SELECT id, v FROM items WHERE id > 2000 ORDER BY id;
SELECT recall_check('items_cos', '<=>') AS cosine_insert;
-- an index built on an empty table (random centers) still finds everything with all lists
CREATE TABLE items_empty (id int, v vector(32));
CREATE INDEX ON items_empty USING ivfflat (v vector_ip_ops) WITH (lists = 40);
INSERT INTO items_empty SELECT id, v FROM items_unit ORDER BY id;
SET ivfflat.probes = 40;
SELECT recall_at('items_empty', '<#>', '<#>') AS empty_build_all_lists;
RESET ivfflat.probes;

-- with real costs the planner picks the index for ORDER BY ... LIMIT at few probes, and a
-- sequential scan when the index cannot serve the query
RESET enable_seqscan;
ANALYZE items_l2;
EXPLAIN (costs off) SELECT id FROM items_l2 ORDER BY v <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 10;
EXPLAIN (costs off) SELECT id FROM items_l2 ORDER BY v <#> (SELECT q FROM queries WHERE qid = 1) LIMIT 10;
EXPLAIN (costs off) SELECT count(*) FROM items_l2 WHERE v <-> (SELECT q FROM queries WHERE qid = 1) < 1;

DROP TABLE items, items_unit, items_l2, items_cos, items_empty, queries, truth, centers;
DROP FUNCTION recall_check(regclass, text, text, float8);
DROP FUNCTION recall_at(regclass, text, text);
DROP FUNCTION gauss_point(float8[]);
