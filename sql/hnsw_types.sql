-- hnsw operator classes of the other element types: vector_l1_ops, halfvec_{l2,ip,cosine,l1}_ops,
-- bit_{hamming,jaccard}_ops, and expression indexes on a vector column (::halfvec(n),
-- binary_quantize(..)::bit(n), subvector(..)::vector(n)). Each case: the planner uses its index
-- for the matching ORDER BY; recall@10 at the default hnsw.ef_search against the exact order of
-- a sequential scan (ties counted: a returned row at or below the 10th exact distance is a hit);
-- rows inserted after the build found by their own value; a filtered iterative scan; VACUUM
-- after deletes; prism.index_check / index_info / last_scan_stats.
SET client_min_messages = warning;
SET jit = off;
SET prism.build_threads = 1;  -- the same graphs every run
SELECT setseed(0.25);
-- 2,000 rows indexed by the build, 200 more inserted afterwards
CREATE TABLE hx_vec (id int PRIMARY KEY, v vector(32));
INSERT INTO hx_vec SELECT i, (SELECT array_agg(random() * random() - 0.25) FROM generate_series(1, 32) WHERE i > 0)::vector(32)
	FROM generate_series(1, 2200) i;
CREATE TABLE hx_half (id int PRIMARY KEY, v halfvec(32));
INSERT INTO hx_half SELECT i, (SELECT array_agg(random() * random()) FROM generate_series(1, 32) WHERE i > 0)::halfvec(32)
	FROM generate_series(1, 2200) i;
CREATE TABLE hx_bit (id int PRIMARY KEY, v bit(64));
INSERT INTO hx_bit SELECT i, (SELECT string_agg(CASE WHEN random() < 0.4 THEN '1' ELSE '0' END, '')
	FROM generate_series(1, 64) WHERE i > 0)::bit(64) FROM generate_series(1, 2200) i;
CREATE TABLE hx_more_vec AS SELECT * FROM hx_vec WHERE id > 2000;
DELETE FROM hx_vec WHERE id > 2000;
CREATE TABLE hx_more_half AS SELECT * FROM hx_half WHERE id > 2000;
DELETE FROM hx_half WHERE id > 2000;
CREATE TABLE hx_more_bit AS SELECT * FROM hx_bit WHERE id > 2000;
DELETE FROM hx_bit WHERE id > 2000;
-- queries: 20 fresh values of each type
CREATE TABLE hx_q_vec AS SELECT i AS qid, (SELECT array_agg(random() * random() - 0.25) FROM generate_series(1, 32) WHERE i > 0)::vector(32) AS v
	FROM generate_series(1, 20) i;
CREATE TABLE hx_q_half AS SELECT i AS qid, (SELECT array_agg(random() * random()) FROM generate_series(1, 32) WHERE i > 0)::halfvec(32) AS v
	FROM generate_series(1, 20) i;
CREATE TABLE hx_q_bit AS SELECT i AS qid, (SELECT string_agg(CASE WHEN random() < 0.4 THEN '1' ELSE '0' END, '')
	FROM generate_series(1, 64) WHERE i > 0)::bit(64) AS v FROM generate_series(1, 20) i;

-- the cases: table (and its query table hx_q_<type>), indexed expression of v, operator, class
CREATE TABLE hx_case (name text PRIMARY KEY, tbl text, type text, expr text, op text, opclass text);
INSERT INTO hx_case VALUES
	('vector_l1', 'hx_vec', 'vec', 'v', '<+>', 'vector_l1_ops'),
	('halfvec_l2', 'hx_half', 'half', 'v', '<->', 'halfvec_l2_ops'),
	('halfvec_ip', 'hx_half', 'half', 'v', '<#>', 'halfvec_ip_ops'),
	('halfvec_cosine', 'hx_half', 'half', 'v', '<=>', 'halfvec_cosine_ops'),
	('halfvec_l1', 'hx_half', 'half', 'v', '<+>', 'halfvec_l1_ops'),
	('bit_hamming', 'hx_bit', 'bit', 'v', '<~>', 'bit_hamming_ops'),
	('bit_jaccard', 'hx_bit', 'bit', 'v', '<%>', 'bit_jaccard_ops'),
	('expr_halfvec', 'hx_vec', 'vec', 'v::halfvec(32)', '<->', 'halfvec_l2_ops'),
	('expr_bit', 'hx_vec', 'vec', 'binary_quantize(v)::bit(32)', '<~>', 'bit_hamming_ops'),
	('expr_subvector', 'hx_vec', 'vec', 'subvector(v, 1, 16)::vector(16)', '<->', 'vector_l2_ops');

-- recall@10 of case c's index over the queries (rows passing `filter` only)
CREATE FUNCTION hx_recall(c hx_case, filter text DEFAULT 'true') RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	recall float8;
BEGIN
	SET LOCAL enable_seqscan = off;
	EXECUTE format('SELECT avg(hits) / 10 FROM (SELECT (%2$s) AS q FROM hx_q_%5$s) qs, '
		'LATERAL (SELECT max(d) AS kth FROM (SELECT ((%2$s) %3$s qs.q) + 0 AS d FROM %1$s WHERE %4$s ORDER BY 1 LIMIT 10) e) e, '
		'LATERAL (SELECT count(*) FILTER (WHERE d <= e.kth) AS hits FROM '
		'(SELECT (%2$s) %3$s qs.q AS d FROM %1$s WHERE %4$s ORDER BY (%2$s) %3$s qs.q LIMIT 10) i) h',
		c.tbl, c.expr, c.op, filter, c.type) INTO recall;
	RETURN recall;
END $$;
CREATE FUNCTION hx_ok(recall float8) RETURNS text LANGUAGE sql
	RETURN CASE WHEN recall >= 0.9 THEN 'ok' ELSE 'recall ' || round(recall::numeric, 3) END;

-- the index the planner picks for case c's ORDER BY
CREATE FUNCTION hx_plan(c hx_case) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	SET LOCAL enable_seqscan = off;
	EXECUTE format('EXPLAIN (FORMAT JSON) SELECT id FROM %1$s ORDER BY (%2$s) %3$s (SELECT (%2$s) FROM hx_q_%4$s LIMIT 1) LIMIT 10',
		c.tbl, c.expr, c.op, c.type) INTO plan;
	RETURN plan->0->'Plan'->'Plans'->1->>'Index Name';
END $$;

-- rows of hx_more_<type> that an index scan for their own value does not return among its 3
-- nearest (expected: none); under inner product only rows among the exact 3 nearest of their
-- own value count (a longer vector is nearer than the row itself)
CREATE FUNCTION hx_lost(c hx_case) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	lost bigint;
BEGIN
	SET LOCAL enable_seqscan = off;
	EXECUTE format('SELECT count(*) FROM hx_more_%4$s r, LATERAL (SELECT (%2$s) AS q FROM hx_more_%4$s r2 WHERE r2.id = r.id) q '
		'WHERE %5$s AND r.id NOT IN (SELECT id FROM %1$s ORDER BY (%2$s) %3$s q.q LIMIT 3)',
		c.tbl, c.expr, c.op, c.type,
		CASE WHEN c.op = '<#>' THEN format('r.id IN (SELECT id FROM %1$s ORDER BY ((%2$s) %3$s q.q) + 0, id LIMIT 3)',
			c.tbl, c.expr, c.op) ELSE 'true' END) INTO lost;
	RETURN lost;
END $$;

-- a filtered scan (1 row in 7 passes): rows returned and recall against the exact filtered
-- order, then what prism.last_scan_stats says of that scan
CREATE FUNCTION hx_filtered(c hx_case) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
	s record;
BEGIN
	SET LOCAL enable_seqscan = off;
	EXECUTE format('SELECT count(*) FROM (SELECT id FROM %1$s WHERE id %% 7 = 0 ORDER BY (%2$s) %3$s '
		'(SELECT (%2$s) FROM hx_q_%4$s WHERE qid = 1) LIMIT 10) s', c.tbl, c.expr, c.op, c.type) INTO n;
	SELECT * INTO s FROM prism.last_scan_stats();
	RETURN format('%s rows, %s, stats %s', n, hx_ok(hx_recall(c, 'id % 7 = 0')),
		CASE WHEN s.tuples_returned >= 10 AND s.distances > 0 AND s.nodes_visited > 0 AND s.pages_read > 0
			THEN 'ok' ELSE s::text END);
END $$;

SELECT format('CREATE INDEX hx_%s ON %s USING hnsw ((%s) %s)', name, tbl, expr, opclass) FROM hx_case ORDER BY name \gexec
SHOW hnsw.ef_search;
SELECT name, hx_plan(c) AS index_used, hx_ok(hx_recall(c)) AS recall FROM hx_case c ORDER BY name;

-- inserts after the build
INSERT INTO hx_vec SELECT * FROM hx_more_vec;
INSERT INTO hx_half SELECT * FROM hx_more_half;
INSERT INTO hx_bit SELECT * FROM hx_more_bit;
SET hnsw.iterative_scan = strict_order;
SELECT name, hx_lost(c) AS inserted_not_found, hx_ok(hx_recall(c)) AS recall, hx_filtered(c) AS filtered
	FROM hx_case c ORDER BY name;
RESET hnsw.iterative_scan;

-- VACUUM after deleting 10% of the rows: no dead element left, the graphs sound, recall kept
DELETE FROM hx_vec WHERE id % 10 = 0;
DELETE FROM hx_half WHERE id % 10 = 0;
DELETE FROM hx_bit WHERE id % 10 = 0;
VACUUM hx_vec, hx_half, hx_bit;
CREATE TABLE hx_free AS SELECT name, i.free_slots FROM hx_case c, prism.index_info(('hx_' || name)::regclass) i;
SELECT name, i.elements, i.deleted_elements, i.free_slots > 0 AS slots_freed, i.dimensions, i.metric,
	(SELECT count(*) FROM prism.index_check(('hx_' || name)::regclass)) AS problems, hx_ok(hx_recall(c)) AS recall
	FROM hx_case c, prism.index_info(('hx_' || name)::regclass) i ORDER BY name;
-- inserts reuse the freed slots and stay findable
INSERT INTO hx_vec SELECT * FROM hx_more_vec WHERE id % 10 = 0 ON CONFLICT DO NOTHING;
INSERT INTO hx_half SELECT * FROM hx_more_half WHERE id % 10 = 0 ON CONFLICT DO NOTHING;
INSERT INTO hx_bit SELECT * FROM hx_more_bit WHERE id % 10 = 0 ON CONFLICT DO NOTHING;
SELECT name, hx_lost(c) AS inserted_not_found,
	i.free_slots = (SELECT f.free_slots FROM hx_free f WHERE f.name = c.name) - 20 AS slots_reused,
	(SELECT count(*) FROM prism.index_check(('hx_' || name)::regclass)) AS problems
	FROM hx_case c, prism.index_info(('hx_' || name)::regclass) i ORDER BY name;

-- binary quantization with re-ranking (pgvector's README pattern): the 100 nearest by Hamming
-- distance of the quantized vectors, re-ordered by exact cosine distance; its recall@10 against
-- the exact cosine order is what the same query without the index gets (32 bits quantize 32
-- dimensions coarsely: both are ~0.7 here)
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM (SELECT * FROM hx_vec ORDER BY binary_quantize(v)::bit(32) <~> binary_quantize('[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32]'::vector(32)) LIMIT 100) s
	ORDER BY v <=> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32]' LIMIT 10;
SELECT CASE WHEN avg(hits) >= avg(hits_exact) - 0.5 AND avg(hits) >= 6 THEN 'ok'
	ELSE format('recall %s, without the index %s', avg(hits) / 10, avg(hits_exact) / 10) END AS rerank_recall
	FROM hx_q_vec q,
	LATERAL (SELECT array_agg(id) AS exact FROM (SELECT id FROM hx_vec ORDER BY (v <=> q.v) + 0 LIMIT 10) e) e,
	LATERAL (SELECT count(*) AS hits FROM (SELECT id FROM (SELECT id, v FROM hx_vec
		ORDER BY binary_quantize(v)::bit(32) <~> binary_quantize(q.v) LIMIT 100) c ORDER BY v <=> q.v LIMIT 10) r
		WHERE id = ANY (e.exact)) h,
	LATERAL (SELECT count(*) AS hits_exact FROM (SELECT id FROM (SELECT id, v FROM hx_vec
		ORDER BY (binary_quantize(v)::bit(32) <~> binary_quantize(q.v)) + 0, id LIMIT 100) c ORDER BY v <=> q.v LIMIT 10) r
		WHERE id = ANY (e.exact)) hx;

-- a NULL query returns every row, in no particular order (as pgvector)
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM hx_bit ORDER BY v <~> (SELECT NULL::bit)) s;
SELECT count(*) FROM (SELECT id FROM hx_half ORDER BY v <-> (SELECT NULL::halfvec)) s;
-- zero vectors are not indexed under cosine (no direction), as pgvector; a zero query is answered
INSERT INTO hx_half VALUES (0, array_fill(0, ARRAY[32])::halfvec(32));
SELECT count(*) = (SELECT count(*) - 1 FROM hx_half) AS zero_not_indexed
	FROM (SELECT id FROM hx_half ORDER BY v <=> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]') s;
SELECT count(*) FROM (SELECT id FROM hx_half ORDER BY v <=> array_fill(0, ARRAY[32])::halfvec(32) LIMIT 5) s;
RESET hnsw.iterative_scan;
RESET enable_seqscan;

-- errors (SQLSTATE and message)
CREATE FUNCTION hx_error(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TABLE hx_err (h halfvec, b bit(64001), vb varbit(8), v vector(3));
SET enable_seqscan = off;
SELECT hx_error(s) FROM (VALUES
	('SELECT id FROM hx_half ORDER BY v <-> ''[1,2,3]'' LIMIT 1'),
	('SELECT id FROM hx_bit ORDER BY v <~> B''101'' LIMIT 1'),
	('SELECT id FROM hx_vec ORDER BY v <+> ''[1,2,3]'' LIMIT 1'),
	('CREATE INDEX ON hx_err USING hnsw (h halfvec_l2_ops)'),
	('CREATE INDEX ON hx_err USING hnsw (b bit_hamming_ops)'),
	('CREATE INDEX ON hx_err USING hnsw (vb bit_hamming_ops)'),
	('CREATE INDEX ON hx_err USING hnsw ((vb::bit(8)) bit_jaccard_ops)'),
	('INSERT INTO hx_err (vb) VALUES (B''101'')'),
	('CREATE INDEX ON hx_err USING hnsw (v bit_hamming_ops)'),
	('CREATE INDEX ON hx_err USING hnsw ((h::halfvec(3)) halfvec_l2_ops) WITH (m = 1)'),
	('INSERT INTO hx_half VALUES (-1, ''[1,2,3]'')')) t(s);
RESET enable_seqscan;

-- size: 2 bytes a dimension for halfvec, 1 bit for bit (768-d, 300 rows)
CREATE TABLE hx_size (id int, v vector(768));
INSERT INTO hx_size SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 768) WHERE i > 0)::vector(768)
	FROM generate_series(1, 300) i;
CREATE INDEX hx_size_vec ON hx_size USING hnsw (v vector_l2_ops);
CREATE INDEX hx_size_half ON hx_size USING hnsw ((v::halfvec(768)) halfvec_l2_ops);
CREATE INDEX hx_size_bit ON hx_size USING hnsw ((binary_quantize(v)::bit(768)) bit_hamming_ops);
SELECT round(pg_relation_size('hx_size_half') / pg_relation_size('hx_size_vec')::numeric, 1) AS half_to_vector,
	round(pg_relation_size('hx_size_bit') / pg_relation_size('hx_size_vec')::numeric, 2) AS bit_to_vector,
	(SELECT count(*) FROM prism.index_check('hx_size_half')) + (SELECT count(*) FROM prism.index_check('hx_size_bit')) AS problems;

-- records larger than a page (halfvec(16000): 32,000 bytes, the most the index takes; bit(64000):
-- 8,000 bytes) span pages:
-- built, inserted into, searched (the exact top 5) and checked
CREATE TABLE hx_big (id int, h halfvec(16000), b bit(64000));
INSERT INTO hx_big SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16000) WHERE i > 0)::halfvec(16000),
	(SELECT string_agg(CASE WHEN random() < 0.5 THEN '1' ELSE '0' END, '') FROM generate_series(1, 64000) WHERE i > 0)::bit(64000)
	FROM generate_series(1, 40) i;
CREATE INDEX hx_big_h ON hx_big USING hnsw (h halfvec_l2_ops);
CREATE INDEX hx_big_b ON hx_big USING hnsw (b bit_jaccard_ops);
INSERT INTO hx_big SELECT id + 40, h, b FROM hx_big WHERE id <= 10;
INSERT INTO hx_big SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16000) WHERE i > 0)::halfvec(16000),
	(SELECT string_agg(CASE WHEN random() < 0.5 THEN '1' ELSE '0' END, '') FROM generate_series(1, 64000) WHERE i > 0)::bit(64000)
	FROM generate_series(51, 60) i;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT (SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM hx_big ORDER BY b <%> q.b LIMIT 5) s)
	FROM hx_big q WHERE id = 3;
SELECT (SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM hx_big ORDER BY h <-> q.h LIMIT 5) s) =
	(SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM hx_big ORDER BY (h <-> q.h) + 0, id LIMIT 5) s) AS halfvec_exact,
	(SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM hx_big ORDER BY b <%> q.b LIMIT 5) s) =
	(SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM hx_big ORDER BY (b <%> q.b) + 0, id LIMIT 5) s) AS bit_exact
	FROM hx_big q WHERE id IN (3, 55) ORDER BY id;
RESET enable_seqscan;
SELECT i.elements, i.duplicate_tids, i.dimensions, i.metric, (SELECT count(*) FROM prism.index_check(x)) AS problems
	FROM unnest(ARRAY['hx_big_h', 'hx_big_b']::regclass[]) x, prism.index_info(x) i;

-- 3,072-d embeddings indexed as halfvec (pgvector's answer past 2,000 dimensions), in the form
-- pg_dump writes for a pgvector database (schema-qualified class, options as strings)
CREATE TABLE hx_3072 (id int, embedding vector(3072));
INSERT INTO hx_3072 SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 3072) WHERE i > 0)::vector(3072)
	FROM generate_series(1, 30) i;
CREATE INDEX hx_3072_idx ON public.hx_3072 USING hnsw (((embedding)::public.halfvec(3072)) public.halfvec_cosine_ops)
	WITH (m='16', ef_construction='64');
SET enable_seqscan = off;
SELECT (SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM hx_3072
		ORDER BY embedding::halfvec(3072) <=> q.embedding::halfvec(3072) LIMIT 3) s) =
	(SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM hx_3072 ORDER BY (embedding <=> q.embedding) + 0, id LIMIT 3) s)
	AS exact_top3
	FROM hx_3072 q WHERE id = 7;
EXPLAIN (COSTS OFF) SELECT id FROM hx_3072 ORDER BY embedding::halfvec(3072) <=> (SELECT embedding FROM hx_3072 WHERE id = 7)::halfvec(3072) LIMIT 3;
RESET enable_seqscan;
SELECT elements, pages, dimensions, metric FROM prism.index_info('hx_3072_idx');

DROP TABLE hx_vec, hx_half, hx_bit, hx_free, hx_more_vec, hx_more_half, hx_more_bit, hx_q_vec, hx_q_half, hx_q_bit, hx_err, hx_size, hx_big, hx_3072;
DROP FUNCTION hx_error(text), hx_recall(hx_case, text), hx_ok(float8), hx_plan(hx_case), hx_lost(hx_case), hx_filtered(hx_case);
DROP TABLE hx_case;
