-- ivfflat over bit: bit_hamming_ops (lists and centers hold the bits; k-means rounds each center
-- to its members' majority bits). Recall against an exact sequential scan at several probes
-- (ties in Hamming distance are common, so a returned row counts when it is no farther than
-- the exact 10th nearest), rows inserted after the build, VACUUM, a filtered query with
-- iterative scan, an expression index on binary_quantize(v)::bit(n) with a re-rank query,
-- introspection and the error cases.
SET client_min_messages = warning;
SET jit = off;
SELECT setseed(0.29);

-- small table: exact order with one list, NULLs not indexed
SET enable_seqscan = off;
CREATE TABLE t (val bit(3));
INSERT INTO t (val) VALUES (B'000'), (B'100'), (B'111'), (NULL);
CREATE INDEX ON t USING ivfflat (val bit_hamming_ops) WITH (lists = 1);
INSERT INTO t (val) VALUES (B'110');
SELECT val, val <~> B'111' AS d FROM t ORDER BY val <~> B'111';
SELECT count(*) FROM (SELECT * FROM t ORDER BY val <~> (SELECT NULL::bit)) t2;
SELECT lists, dimensions, metric, tuples FROM prism.ivfflat_info('t_val_idx');
DROP TABLE t;
RESET enable_seqscan;

-- 4,000 x 128-d Gaussian mixture (20 clusters) as vector; its sign bits as bit(128)
CREATE TABLE centers (c int, ctr float8[]);
INSERT INTO centers SELECT c, (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 128) WHERE c >= 0)
	FROM generate_series(0, 19) c;
CREATE FUNCTION gauss_point(ctr float8[]) RETURNS vector LANGUAGE sql VOLATILE AS $$
	SELECT array_agg(ctr[d] + 0.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) ORDER BY d)::vector
	FROM generate_series(1, 128) d
$$;
CREATE TABLE src (id int PRIMARY KEY, cat int, v vector(128));
INSERT INTO src SELECT i, i % 10, gauss_point(ctr) FROM generate_series(1, 4000) i JOIN centers ON c = i % 20 ORDER BY i;
CREATE TABLE items (id int PRIMARY KEY, cat int, v bit(128));
INSERT INTO items SELECT id, cat, binary_quantize(v)::bit(128) FROM src WHERE id <= 3000 ORDER BY id;
CREATE TABLE queries (qid int PRIMARY KEY, qv vector(128), q bit(128));
INSERT INTO queries SELECT i, p, binary_quantize(p)::bit(128)
	FROM (SELECT i, gauss_point(ctr) AS p FROM generate_series(1, 30) i JOIN centers ON c = (i * 7) % 20) s;

-- the exact 10th nearest Hamming distance per query (sequential scan, no index yet)
CREATE TABLE kth (qid int, d float8);
INSERT INTO kth SELECT qid, (SELECT max(d) FROM (SELECT v <~> q AS d FROM items ORDER BY 1 LIMIT 10) s) FROM queries;

-- recall@10 of the index on `tbl` at the current ivfflat.probes (the index must be used)
CREATE FUNCTION recall_at(tbl regclass) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	q text := format('SELECT count(*) FILTER (WHERE r.d <= k.d)::float8 / (10 * (SELECT count(*) FROM queries)) '
		'FROM queries JOIN kth k USING (qid), '
		'LATERAL (SELECT v <~> queries.q AS d FROM %s ORDER BY v <~> queries.q LIMIT 10) r', tbl);
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

-- recalls at probes 1, 3, 10, 30 (= lists): ok when non-decreasing, >= 0.9 at 10 and 1 at 30
CREATE FUNCTION recall_check(tbl regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r float8[] := '{}';
	p int;
BEGIN
	FOREACH p IN ARRAY ARRAY[1, 3, 10, 30] LOOP
		PERFORM set_config('ivfflat.probes', p::text, true);
		r := r || recall_at(tbl);
	END LOOP;
	IF r[1] <= r[2] AND r[2] <= r[3] AND r[3] <= r[4] AND r[3] >= 0.9 AND r[4] = 1 THEN
		RETURN 'ok';
	END IF;
	RETURN 'recall at probes 1, 3, 10, 30: ' || array_to_string(r, ', ');
END $$;

SET enable_seqscan = off;
CREATE INDEX items_ham ON items USING ivfflat (v bit_hamming_ops) WITH (lists = 30);
SELECT recall_check('items') AS hamming_build;
SELECT lists, dimensions, metric, tuples, empty_lists FROM prism.ivfflat_info('items_ham');
SELECT elements, dimensions, metric FROM prism.index_info('items_ham');
SELECT * FROM prism.ivfflat_check('items_ham');
SELECT prism.index_is_valid('items_ham');
-- probes 1 reads fewer rows than every list holds: the centers split the rows
SET ivfflat.probes = 1;
SELECT max(n) < 1000 AS one_list_is_a_part FROM queries,
	LATERAL (SELECT count(*) AS n FROM (SELECT id FROM items ORDER BY v <~> q) s) x;
RESET ivfflat.probes;
DROP INDEX items_ham;

-- rows inserted after the build (the index built on the first 1,000 rows)
RESET enable_seqscan;
CREATE TABLE late (LIKE items);
INSERT INTO late SELECT * FROM items WHERE id <= 1000 ORDER BY id;
CREATE INDEX late_ham ON late USING ivfflat (v bit_hamming_ops) WITH (lists = 30);
INSERT INTO late SELECT * FROM items WHERE id > 1000 ORDER BY id;
SET enable_seqscan = off;
SELECT tuples FROM prism.ivfflat_info('late_ham');
SELECT recall_check('late') AS hamming_insert;
SELECT * FROM prism.index_check('late_ham');

-- VACUUM: deleted rows leave the lists, the index stays sound and keeps finding the rest
RESET enable_seqscan;
CREATE TEMP TABLE vac AS SELECT * FROM items;
CREATE INDEX vac_ham ON vac USING ivfflat (v bit_hamming_ops) WITH (lists = 30);
DELETE FROM vac WHERE id % 2 = 0;
VACUUM vac;
SELECT tuples FROM prism.ivfflat_info('vac_ham');
SELECT * FROM prism.ivfflat_check('vac_ham');
SET enable_seqscan = off;
SET ivfflat.probes = 30;
SELECT count(*) AS wrong FROM queries, LATERAL (SELECT id FROM vac ORDER BY v <~> q LIMIT 10) x WHERE x.id % 2 = 0;
SELECT bool_and(a = b) AS exact_when_all_lists_read FROM queries,
	LATERAL (SELECT array_agg(d) AS a FROM (SELECT v <~> q AS d FROM vac ORDER BY v <~> q LIMIT 10) s) x,
	LATERAL (SELECT array_agg(d ORDER BY d) AS b FROM (SELECT hamming_distance(v, q) AS d FROM vac ORDER BY 1 LIMIT 10) s) y;
RESET ivfflat.probes;

-- filtered: with iterative scan the index keeps probing until LIMIT rows pass the WHERE
RESET enable_seqscan;
CREATE INDEX items_ham ON items USING ivfflat (v bit_hamming_ops) WITH (lists = 30);
ANALYZE items;
SET enable_seqscan = off;
SET ivfflat.probes = 1;
CREATE FUNCTION filtered_rows() RETURNS bigint LANGUAGE sql AS $$
	SELECT min(n) FROM queries, LATERAL (SELECT count(*) AS n FROM (SELECT id FROM items WHERE cat = 3 ORDER BY v <~> q LIMIT 10) s) x
$$;
SELECT filtered_rows() < 10 AS off_returns_fewer;
SET ivfflat.iterative_scan = relaxed_order;
SET ivfflat.max_probes = 30;
SELECT filtered_rows() AS relaxed_order_rows;
SELECT count(*) AS wrong_category FROM queries, LATERAL (SELECT cat FROM items WHERE cat = 3 ORDER BY v <~> q LIMIT 10) x WHERE cat <> 3;
RESET ivfflat.iterative_scan;
RESET ivfflat.max_probes;
RESET ivfflat.probes;
DROP INDEX items_ham;

-- binary quantization: an expression index on binary_quantize(v)::bit(128) serves the
-- matching ORDER BY; the nearest 100 by Hamming distance re-ranked by exact L2 distance
RESET enable_seqscan;
CREATE INDEX src_bq ON src USING ivfflat ((binary_quantize(v)::bit(128)) bit_hamming_ops) WITH (lists = 30);
SET enable_seqscan = off;
EXPLAIN (costs off) SELECT id FROM src ORDER BY binary_quantize(v)::bit(128) <~> (SELECT q FROM queries WHERE qid = 1) LIMIT 5;
SET ivfflat.probes = 10;
CREATE TABLE l2_truth AS SELECT qid, x.id FROM queries, LATERAL (SELECT id FROM src ORDER BY l2_distance(v, qv) LIMIT 10) x;
SELECT count(t.id)::float8 / 300 >= 0.8 AS rerank_recall_at_least_08 FROM queries,
	LATERAL (SELECT queries.qid, id FROM (SELECT id, v FROM src ORDER BY binary_quantize(v)::bit(128) <~> binary_quantize(qv) LIMIT 100) c
		ORDER BY v <-> qv LIMIT 10) r
	LEFT JOIN l2_truth t ON t.qid = r.qid AND t.id = r.id;
RESET ivfflat.probes;
SELECT tuples FROM prism.ivfflat_info('src_bq');
RESET enable_seqscan;

-- errors and limits
SET client_min_messages = notice;
CREATE TABLE e (val varbit(3));
CREATE INDEX ON e USING ivfflat (val bit_hamming_ops) WITH (lists = 1);
CREATE INDEX ON e USING ivfflat ((val::bit(64001)) bit_hamming_ops) WITH (lists = 1);
DROP TABLE e;
CREATE TABLE e (val bit(64000));
INSERT INTO e SELECT (repeat('1', i * 1000) || repeat('0', 64000 - i * 1000))::bit(64000) FROM generate_series(1, 4) i;
CREATE INDEX e_idx ON e USING ivfflat (val bit_hamming_ops) WITH (lists = 2);
SELECT lists, dimensions, tuples FROM prism.ivfflat_info('e_idx');
SELECT * FROM prism.ivfflat_check('e_idx');
SET enable_seqscan = off;
SELECT val <~> repeat('1', 64000)::bit(64000) AS d FROM e ORDER BY val <~> repeat('1', 64000)::bit(64000) LIMIT 2;
DROP TABLE e;
SELECT id FROM items ORDER BY v <~> B'101' LIMIT 1;

-- clean up for the tests after this one
RESET enable_seqscan;
DROP TABLE centers, src, items, queries, kth, l2_truth, late;
DROP FUNCTION gauss_point, recall_at, recall_check, filtered_rows;
