-- ivfflat over halfvec: halfvec_l2_ops, halfvec_ip_ops, halfvec_cosine_ops. Lists and centers
-- hold halves (2 bytes a dimension). Recall against an exact sequential scan at several probes,
-- rows inserted after the build, VACUUM, a filtered query with iterative scan, an expression
-- index on vector::halfvec(n), introspection and the error cases.
SET client_min_messages = warning;
SET jit = off;
SELECT setseed(0.41);

-- small tables: exact order with one list, NULLs and (under cosine) zero vectors not indexed
SET enable_seqscan = off;
CREATE TABLE t (val halfvec(3));
INSERT INTO t (val) VALUES ('[0,0,0]'), ('[1,2,3]'), ('[1,1,1]'), (NULL);
CREATE INDEX ON t USING ivfflat (val halfvec_l2_ops) WITH (lists = 1);
INSERT INTO t (val) VALUES ('[1,2,4]');
SELECT val, val <-> '[3,3,3]' AS d FROM t ORDER BY val <-> '[3,3,3]';
SELECT count(*) FROM (SELECT * FROM t ORDER BY val <-> (SELECT NULL::halfvec)) t2;
DROP INDEX t_val_idx;
CREATE INDEX ON t USING ivfflat (val halfvec_ip_ops) WITH (lists = 1);
SELECT val FROM t ORDER BY val <#> '[3,3,3]';
DROP INDEX t_val_idx;
CREATE INDEX ON t USING ivfflat (val halfvec_cosine_ops) WITH (lists = 1);
SELECT val FROM t ORDER BY val <=> '[3,3,3]';
SELECT count(*) FROM (SELECT * FROM t ORDER BY val <=> '[0,0,0]') t2;
SELECT * FROM prism.ivfflat_check('t_val_idx');
DROP TABLE t;
RESET enable_seqscan;

-- 4,000 x 24-d Gaussian mixture (20 clusters) as vector, and the same rows as halfvec
CREATE TABLE centers (c int, ctr float8[]);
INSERT INTO centers SELECT c, (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 24) WHERE c >= 0)
	FROM generate_series(0, 19) c;
CREATE FUNCTION gauss_point(ctr float8[]) RETURNS vector LANGUAGE sql VOLATILE AS $$
	SELECT array_agg(ctr[d] + 0.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) ORDER BY d)::vector
	FROM generate_series(1, 24) d
$$;
CREATE TABLE src (id int PRIMARY KEY, cat int, v vector(24));
INSERT INTO src SELECT i, i % 10, gauss_point(ctr) FROM generate_series(1, 4000) i JOIN centers ON c = i % 20 ORDER BY i;
CREATE TABLE items (id int PRIMARY KEY, cat int, v halfvec(24));
INSERT INTO items SELECT id, cat, v::halfvec(24) FROM src WHERE id <= 3000 ORDER BY id;
CREATE TABLE items_unit (id int PRIMARY KEY, cat int, v halfvec(24));
INSERT INTO items_unit SELECT id, cat, l2_normalize(v)::halfvec(24) FROM src WHERE id <= 3000 ORDER BY id;
CREATE TABLE queries (qid int PRIMARY KEY, q halfvec(24));
INSERT INTO queries SELECT i, gauss_point(ctr)::halfvec(24) FROM generate_series(1, 30) i JOIN centers ON c = (i * 7) % 20;

-- exact top 10 per query and operator, from sequential scans (no index exists yet)
CREATE TABLE truth (op text, qid int, id int);
INSERT INTO truth SELECT '<->', qid, x.id FROM queries, LATERAL (SELECT id FROM items ORDER BY v <-> q LIMIT 10) x;
INSERT INTO truth SELECT '<#>', qid, x.id FROM queries, LATERAL (SELECT id FROM items_unit ORDER BY v <#> q LIMIT 10) x;
INSERT INTO truth SELECT '<=>', qid, x.id FROM queries, LATERAL (SELECT id FROM items ORDER BY v <=> q LIMIT 10) x;
SELECT op, count(*) FROM truth GROUP BY op ORDER BY op;

-- recall@10 of the index on `tbl` for `op` at the current ivfflat.probes (the index must be used)
CREATE FUNCTION recall_at(tbl regclass, op text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	q text := format('SELECT count(t.id)::float8 / (10 * (SELECT count(*) FROM queries)) FROM queries, '
		'LATERAL (SELECT queries.qid, id FROM %s ORDER BY v %s queries.q LIMIT 10) r '
		'LEFT JOIN truth t ON t.op = %L AND t.qid = r.qid AND t.id = r.id', tbl, op, op);
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
CREATE FUNCTION recall_check(tbl regclass, op text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r float8[] := '{}';
	p int;
BEGIN
	FOREACH p IN ARRAY ARRAY[1, 3, 10, 30] LOOP
		PERFORM set_config('ivfflat.probes', p::text, true);
		r := r || recall_at(tbl, op);
	END LOOP;
	IF r[1] <= r[2] AND r[2] <= r[3] AND r[3] <= r[4] AND r[3] >= 0.9 AND r[4] = 1 THEN
		RETURN 'ok';
	END IF;
	RETURN 'recall at probes 1, 3, 10, 30: ' || array_to_string(r, ', ');
END $$;

SET enable_seqscan = off;
CREATE INDEX items_l2 ON items USING ivfflat (v halfvec_l2_ops) WITH (lists = 30);
SELECT recall_check('items', '<->') AS l2_build;
-- introspection: tuples, lists, metric; the lists hold 2 bytes a dimension
SELECT lists, dimensions, metric, tuples, empty_lists FROM prism.ivfflat_info('items_l2');
SELECT elements, deleted_elements, dimensions, metric FROM prism.index_info('items_l2');
SELECT * FROM prism.ivfflat_check('items_l2');
SELECT prism.index_is_valid('items_l2');
CREATE TABLE items_vec AS SELECT id, v::vector(24) AS v FROM items;
CREATE INDEX items_vec_l2 ON items_vec USING ivfflat (v vector_l2_ops) WITH (lists = 30);
SELECT h.pages < v.pages AND h.bytes - 31 * 8192 < 0.6 * (v.bytes - 31 * 8192) AS half_the_list_bytes
	FROM prism.ivfflat_info('items_l2') h, prism.ivfflat_info('items_vec_l2') v;
DROP TABLE items_vec;
DROP INDEX items_l2;
CREATE INDEX items_ip ON items_unit USING ivfflat (v halfvec_ip_ops) WITH (lists = 30);
SELECT recall_check('items_unit', '<#>') AS ip_build;
SELECT metric FROM prism.ivfflat_info('items_ip');
DROP INDEX items_ip;
CREATE INDEX items_cos ON items USING ivfflat (v halfvec_cosine_ops) WITH (lists = 30);
SELECT recall_check('items', '<=>') AS cosine_build;
SELECT metric, tuples FROM prism.ivfflat_info('items_cos');
SELECT * FROM prism.index_check('items_cos');
DROP INDEX items_cos;

-- rows inserted after the build (the index built on the first 1,000 rows)
RESET enable_seqscan;
CREATE TABLE late (LIKE items);
INSERT INTO late SELECT * FROM items WHERE id <= 1000 ORDER BY id;
CREATE INDEX late_l2 ON late USING ivfflat (v halfvec_l2_ops) WITH (lists = 30);
CREATE INDEX late_cos ON late USING ivfflat (v halfvec_cosine_ops) WITH (lists = 30);
INSERT INTO late SELECT * FROM items WHERE id > 1000 ORDER BY id;
SET enable_seqscan = off;
SELECT tuples FROM prism.ivfflat_info('late_l2');
SELECT recall_check('late', '<->') AS l2_insert;
DROP INDEX late_l2;
SELECT recall_check('late', '<=>') AS cosine_insert;
SELECT * FROM prism.ivfflat_check('late_cos');

-- VACUUM: deleted rows leave the lists, the index stays sound and keeps finding the rest
RESET enable_seqscan;
CREATE TEMP TABLE vac AS SELECT * FROM items;
CREATE INDEX vac_l2 ON vac USING ivfflat (v halfvec_l2_ops) WITH (lists = 30);
DELETE FROM vac WHERE id % 2 = 0;
VACUUM vac;
SELECT tuples FROM prism.ivfflat_info('vac_l2');
SELECT * FROM prism.ivfflat_check('vac_l2');
SET enable_seqscan = off;
SET ivfflat.probes = 30;
SELECT count(*) AS wrong FROM queries, LATERAL (SELECT id FROM vac ORDER BY v <-> q LIMIT 10) x WHERE x.id % 2 = 0;
SELECT bool_and(a = b) AS exact_when_all_lists_read FROM queries,
	LATERAL (SELECT array_agg(id) AS a FROM (SELECT id FROM vac ORDER BY v <-> q LIMIT 10) s) x,
	LATERAL (SELECT array_agg(id ORDER BY d, id) AS b FROM (SELECT id, l2_distance(v, q) AS d FROM vac ORDER BY 2, 1 LIMIT 10) s) y;
RESET ivfflat.probes;

-- filtered: with iterative scan the index keeps probing until LIMIT rows pass the WHERE
RESET enable_seqscan;
CREATE INDEX items_l2 ON items USING ivfflat (v halfvec_l2_ops) WITH (lists = 30);
ANALYZE items;
SET enable_seqscan = off;
SET ivfflat.probes = 1;
CREATE FUNCTION filtered_rows() RETURNS bigint LANGUAGE sql AS $$
	SELECT min(n) FROM queries, LATERAL (SELECT count(*) AS n FROM (SELECT id FROM items WHERE cat = 3 ORDER BY v <-> q LIMIT 10) s) x
$$;
SELECT filtered_rows() < 10 AS off_returns_fewer;
SET ivfflat.iterative_scan = relaxed_order;
SET ivfflat.max_probes = 30;
SELECT filtered_rows() AS relaxed_order_rows;
SELECT count(*) AS wrong_category FROM queries, LATERAL (SELECT cat FROM items WHERE cat = 3 ORDER BY v <-> q LIMIT 10) x WHERE cat <> 3;
RESET ivfflat.iterative_scan;
RESET ivfflat.max_probes;
RESET ivfflat.probes;
DROP INDEX items_l2;

-- an expression index on vector::halfvec(24) serves the matching ORDER BY
RESET enable_seqscan;
CREATE INDEX src_half ON src USING ivfflat ((v::halfvec(24)) halfvec_l2_ops) WITH (lists = 30);
SET enable_seqscan = off;
EXPLAIN (costs off) SELECT id FROM src ORDER BY v::halfvec(24) <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24]' LIMIT 5;
SET ivfflat.probes = 30;
SELECT bool_and(a = b) AS expression_index_exact FROM queries,
	LATERAL (SELECT array_agg(id) AS a FROM (SELECT id FROM src ORDER BY v::halfvec(24) <-> q LIMIT 10) s) x,
	LATERAL (SELECT array_agg(id ORDER BY d, id) AS b FROM (SELECT id, l2_distance(v::halfvec(24), q) AS d FROM src ORDER BY 2, 1 LIMIT 10) s) y;
RESET ivfflat.probes;
SELECT tuples FROM prism.ivfflat_info('src_half');
RESET enable_seqscan;

-- errors
SET client_min_messages = notice;
CREATE TABLE e (val halfvec(4001));
CREATE INDEX ON e USING ivfflat (val halfvec_l2_ops);
DROP TABLE e;
CREATE TABLE e (val halfvec);
CREATE INDEX ON e USING ivfflat (val halfvec_l2_ops);
DROP TABLE e;
CREATE TABLE e (val halfvec(4000));
INSERT INTO e SELECT array_fill(i, ARRAY[4000])::halfvec FROM generate_series(1, 3) i;
CREATE INDEX e_idx ON e USING ivfflat (val halfvec_l2_ops) WITH (lists = 2);
SELECT lists, dimensions, tuples FROM prism.ivfflat_info('e_idx');
SELECT * FROM prism.ivfflat_check('e_idx');
DROP TABLE e;
SET enable_seqscan = off;
SELECT id FROM items_unit ORDER BY v <#> '[1,2,3]' LIMIT 1;
CREATE INDEX ON items USING ivfflat (v halfvec_l2_ops) WITH (lists = 0);

-- clean up for the tests after this one
RESET enable_seqscan;
DROP TABLE centers, src, items, items_unit, queries, truth, late;
DROP FUNCTION gauss_point, recall_at, recall_check, filtered_rows;
