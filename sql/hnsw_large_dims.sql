-- Dimensions beyond one page (pgvector's hnsw stops at 2,000): records of 3,072-d vectors span
-- pages. Build on 800 rows, insert 200 more after the build, then recall@10 over 30 queries must
-- be >= 0.95 against the exact top-10 of a sequential scan, for each opclass. Also the largest
-- dimension the type allows (16,000) on a few rows. `ok` passes; a failure prints the figure.
SET client_min_messages = warning;
SET jit = off;
SELECT setseed(0.75);

-- 10 cluster centres in [-1, 1]^3072; points are a centre plus uniform noise in +-0.5
CREATE TABLE centers (c int, ctr real[]);
INSERT INTO centers SELECT c, (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 3072) WHERE c >= 0)
	FROM generate_series(0, 9) c;
-- (unnest rather than ctr[d]: a subscript would detoast the 12 kB array once per element)
CREATE FUNCTION noisy(ctr real[]) RETURNS vector LANGUAGE sql VOLATILE AS $$
	SELECT array_agg(x + random() - 0.5 ORDER BY d)::vector FROM unnest(ctr) WITH ORDINALITY AS u(x, d)
$$;
CREATE TABLE big (id int PRIMARY KEY, v vector(3072));
INSERT INTO big SELECT i, noisy(ctr) FROM generate_series(1, 800) i JOIN centers ON c = i % 10 ORDER BY i;
CREATE TABLE bigq (qid int PRIMARY KEY, q vector(3072));
INSERT INTO bigq SELECT i, noisy(ctr) FROM generate_series(1, 30) i JOIN centers ON c = (i * 3) % 10 ORDER BY i;

-- recall@10 of the index on big for `op` against the exact answer by `fn` (not indexable)
CREATE FUNCTION big_recall(op text, fn text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	q text := format('SELECT count(e.id)::float8 / (10 * (SELECT count(*) FROM bigq)) FROM bigq, '
		'LATERAL (SELECT id FROM big ORDER BY v %s bigq.q LIMIT 10) r '
		'LEFT JOIN LATERAL (SELECT id FROM big ORDER BY %s LIMIT 10) e ON e.id = r.id', op, fn);
	plan text := '';
	line text;
	recall float8;
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (costs off) ' || q LOOP
		plan := plan || line || E'\n';
	END LOOP;
	IF plan NOT LIKE '%Index Scan using big_%' THEN
		RETURN 'no index scan: ' || plan;
	END IF;
	EXECUTE q INTO recall;
	RETURN CASE WHEN recall >= 0.95 THEN 'ok' ELSE 'recall ' || round(recall::numeric, 3) END;
END $$;
-- 1,000 rows are few enough that the planner would rather sort; make it use the index
SET enable_seqscan = off;

CREATE INDEX big_l2 ON big USING hnsw (v vector_l2_ops);
SELECT dimensions, elements, pages >= 2 * 800 AS records_span_pages FROM prism.index_info('big_l2');
INSERT INTO big SELECT i, noisy(ctr) FROM generate_series(801, 1000) i JOIN centers ON c = i % 10 ORDER BY i;
SELECT elements FROM prism.index_info('big_l2');
SELECT prism.index_is_valid('big_l2');
EXPLAIN (costs off) SELECT id FROM big ORDER BY v <-> (SELECT q FROM bigq WHERE qid = 1) LIMIT 10;
SELECT big_recall('<->', 'l2_distance(v, bigq.q)') AS l2;
-- a row finds itself, and the found vector is the stored one, bit for bit
SELECT count(*) AS self_found FROM big b,
	LATERAL (SELECT id, v FROM big ORDER BY v <-> b.v LIMIT 1) s WHERE s.id = b.id AND s.v = b.v AND b.id % 50 = 0;
DROP INDEX big_l2;

CREATE INDEX big_ip ON big USING hnsw (v vector_ip_ops);
SELECT big_recall('<#>', '- inner_product(v, bigq.q)') AS ip;
DROP INDEX big_ip;
CREATE INDEX big_cos ON big USING hnsw (v vector_cosine_ops);
SELECT big_recall('<=>', 'cosine_distance(v, bigq.q)') AS cosine;
DROP INDEX big_cos;

-- 400 rows inserted one by one into an empty index
TRUNCATE big;
CREATE INDEX big_l2 ON big USING hnsw (v vector_l2_ops);
INSERT INTO big SELECT i, noisy(ctr) FROM generate_series(1, 400) i JOIN centers ON c = i % 10 ORDER BY i;
SELECT prism.index_is_valid('big_l2');
SELECT big_recall('<->', 'l2_distance(v, bigq.q)') AS l2_inserted;
DROP TABLE big, bigq, centers;
DROP FUNCTION big_recall(text, text);
DROP FUNCTION noisy(real[]);
RESET enable_seqscan;

-- 16,000 dimensions, the type's maximum: build, insert, exact answers on a tiny table
CREATE TABLE huge (id int, v vector(16000));
INSERT INTO huge SELECT i, (SELECT array_agg(sin(i * d)) FROM generate_series(1, 16000) d)::vector(16000)
	FROM generate_series(1, 12) i;
CREATE INDEX huge_idx ON huge USING hnsw (v vector_l2_ops);
INSERT INTO huge SELECT i, (SELECT array_agg(sin(i * d)) FROM generate_series(1, 16000) d)::vector(16000)
	FROM generate_series(13, 20) i;
SELECT dimensions, elements FROM prism.index_info('huge_idx');
SELECT prism.index_is_valid('huge_idx');
SET enable_seqscan = off;
EXPLAIN (costs off) SELECT id FROM huge ORDER BY v <-> (SELECT v FROM huge WHERE id = 3) LIMIT 5;
-- the index returns every row, in exact distance order for every row as the query (near-ties
-- between these almost equidistant vectors may swap: compare exact distances, not ids)
SELECT bool_and(a.ids = b.ids AND a.ordered) AS exact_order FROM huge h,
	LATERAL (SELECT array_agg(id ORDER BY id) AS ids,
			bool_and(prev IS NULL OR prev <= d * (1 + 1e-6)) AS ordered
		FROM (SELECT id, d, lag(d) OVER (ORDER BY rn) AS prev
			FROM (SELECT id, l2_distance(v, h.v) AS d, row_number() OVER () AS rn
				FROM (SELECT id, v FROM huge ORDER BY v <-> h.v) s0) s1) s2) a,
	LATERAL (SELECT array_agg(id ORDER BY id) AS ids FROM huge) b;
RESET enable_seqscan;
DROP TABLE huge;
