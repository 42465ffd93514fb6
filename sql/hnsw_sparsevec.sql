-- hnsw operator classes of sparsevec: sparsevec_{l2,ip,cosine,l1}_ops and an expression index
-- on a vector column (::sparsevec(n)). The index stores only the non-zeros, in side items on
-- sparse data pages (index_info's sparse_pages), up to 16,000 of them per row. Each case: the
-- planner uses its index for the matching ORDER BY; recall@10 against the exact order of a
-- sequential scan (ties counted: a returned row at or below the 10th exact distance is a hit);
-- rows inserted after the build found by their own value; a filtered scan; VACUUM after
-- deletes; prism.index_check / index_info / last_scan_stats.
SET client_min_messages = warning;
SET jit = off;
SET prism.build_threads = 1;  -- the same graphs every run
SELECT setseed(0.5);
-- a random sparsevec of `dims` dimensions with about n non-zeros, most of them from the 60
-- dimensions of one of 40 topics, with values near the topic's (as learned sparse embeddings
-- cluster)
CREATE FUNCTION hs_random(dims int, n int) RETURNS sparsevec LANGUAGE sql VOLATILE AS $$
	SELECT ('{' || string_agg(k || ':' || round((0.2 + (hashint4(topic * 7 + k) & 1023) / 1024.0 + 0.3 * random())::numeric, 3),
		',' ORDER BY k) || '}/' || dims)::sparsevec
	FROM (SELECT DISTINCT topic, 1 + CASE WHEN random() < 0.8
			THEN (hashint4(topic * 1000 + floor(random() * 60)::int) & 2147483647) % dims
			ELSE floor(random() * dims)::int END AS k
		FROM (SELECT floor(random() * 40)::int AS topic) t, generate_series(1, n)) t $$;
-- 3,000 rows of 1,000 dimensions with 10-50 non-zeros indexed by the build, 200 inserted later
CREATE TABLE hs_sp (id int PRIMARY KEY, category int, v sparsevec(1000));
INSERT INTO hs_sp SELECT i, i % 5, hs_random(1000, 10 + (i * 7) % 41) FROM generate_series(1, 3200) i;
CREATE TABLE hs_vec (id int PRIMARY KEY, category int, v vector(200));
INSERT INTO hs_vec SELECT i, i % 5, hs_random(200, 12)::vector(200) FROM generate_series(1, 2200) i;
CREATE TABLE hs_more_sp AS SELECT * FROM hs_sp WHERE id > 3000;
DELETE FROM hs_sp WHERE id > 3000;
CREATE TABLE hs_more_vec AS SELECT * FROM hs_vec WHERE id > 2000;
DELETE FROM hs_vec WHERE id > 2000;
-- queries: 20 fresh values of each
CREATE TABLE hs_q_sp AS SELECT i AS qid, hs_random(1000, 30) AS v FROM generate_series(1, 20) i;
CREATE TABLE hs_q_vec AS SELECT i AS qid, hs_random(200, 12)::vector(200) AS v FROM generate_series(1, 20) i;

-- the cases: table (and its query table hs_q_<type>), indexed expression of v, operator, class
CREATE TABLE hs_case (name text PRIMARY KEY, tbl text, type text, expr text, op text, opclass text);
INSERT INTO hs_case VALUES
	('sparsevec_l2', 'hs_sp', 'sp', 'v', '<->', 'sparsevec_l2_ops'),
	('sparsevec_ip', 'hs_sp', 'sp', 'v', '<#>', 'sparsevec_ip_ops'),
	('sparsevec_cosine', 'hs_sp', 'sp', 'v', '<=>', 'sparsevec_cosine_ops'),
	('sparsevec_l1', 'hs_sp', 'sp', 'v', '<+>', 'sparsevec_l1_ops'),
	('expr_sparsevec', 'hs_vec', 'vec', 'v::sparsevec(200)', '<=>', 'sparsevec_cosine_ops');

-- recall@10 of case c's index over the queries (rows passing `filter` only)
CREATE FUNCTION hs_recall(c hs_case, filter text DEFAULT 'true') RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	recall float8;
BEGIN
	SET LOCAL enable_seqscan = off;
	EXECUTE format('SELECT avg(hits) / 10 FROM (SELECT (%2$s) AS q FROM hs_q_%5$s) qs, '
		'LATERAL (SELECT max(d) AS kth FROM (SELECT ((%2$s) %3$s qs.q) + 0 AS d FROM %1$s WHERE %4$s ORDER BY 1 LIMIT 10) e) e, '
		'LATERAL (SELECT count(*) FILTER (WHERE d <= e.kth) AS hits FROM '
		'(SELECT (%2$s) %3$s qs.q AS d FROM %1$s WHERE %4$s ORDER BY (%2$s) %3$s qs.q LIMIT 10) i) h',
		c.tbl, c.expr, c.op, filter, c.type) INTO recall;
	RETURN recall;
END $$;
CREATE FUNCTION hs_ok(recall float8) RETURNS text LANGUAGE sql
	RETURN CASE WHEN recall >= 0.9 THEN 'ok' ELSE 'recall ' || round(recall::numeric, 3) END;

-- the index the planner picks for case c's ORDER BY
CREATE FUNCTION hs_plan(c hs_case) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	plan json;
BEGIN
	SET LOCAL enable_seqscan = off;
	EXECUTE format('EXPLAIN (FORMAT JSON) SELECT id FROM %1$s ORDER BY (%2$s) %3$s (SELECT (%2$s) FROM hs_q_%4$s LIMIT 1) LIMIT 10',
		c.tbl, c.expr, c.op, c.type) INTO plan;
	RETURN plan->0->'Plan'->'Plans'->1->>'Index Name';
END $$;

-- rows of hs_more_<type> that an index scan for their own value does not return among its 3
-- nearest: 'ok' when at most 4 of the 200 (the insert's levels are random; l2 and l1 on sparse
-- rows leave a few hard to reach, as they do for the same rows as dense vectors); under inner product only rows among the exact 3 nearest of their
-- own value count (a longer vector is nearer than the row itself)
CREATE FUNCTION hs_lost(c hs_case) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	lost bigint;
BEGIN
	SET LOCAL enable_seqscan = off;
	EXECUTE format('SELECT count(*) FROM hs_more_%4$s r, LATERAL (SELECT (%2$s) AS q FROM hs_more_%4$s r2 WHERE r2.id = r.id) q '
		'WHERE %5$s AND r.id NOT IN (SELECT id FROM %1$s ORDER BY (%2$s) %3$s q.q LIMIT 3)',
		c.tbl, c.expr, c.op, c.type,
		CASE WHEN c.op = '<#>' THEN format('r.id IN (SELECT id FROM %1$s ORDER BY ((%2$s) %3$s q.q) + 0, id LIMIT 3)',
			c.tbl, c.expr, c.op) ELSE 'true' END) INTO lost;
	RETURN lost;
END $$;
CREATE FUNCTION hs_found(c hs_case) RETURNS text LANGUAGE sql
	RETURN CASE WHEN hs_lost(c) <= 4 THEN 'ok' ELSE hs_lost(c) || ' not found' END;

-- a filtered scan (WHERE category = 3: 1 row in 5): rows returned and recall against the exact
-- filtered order, then what prism.last_scan_stats says of that scan
CREATE FUNCTION hs_filtered(c hs_case) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
	s record;
BEGIN
	SET LOCAL enable_seqscan = off;
	EXECUTE format('SELECT count(*) FROM (SELECT id FROM %1$s WHERE category = 3 ORDER BY (%2$s) %3$s '
		'(SELECT (%2$s) FROM hs_q_%4$s WHERE qid = 1) LIMIT 10) s', c.tbl, c.expr, c.op, c.type) INTO n;
	SELECT * INTO s FROM prism.last_scan_stats();
	RETURN format('%s rows, %s, stats %s', n, hs_ok(hs_recall(c, 'category = 3')),
		CASE WHEN s.tuples_returned >= 10 AND s.distances > 0 AND s.nodes_visited > 0 AND s.pages_read > 0
			THEN 'ok' ELSE s::text END);
END $$;

SELECT format('CREATE INDEX hs_%s ON %s USING hnsw ((%s) %s)', name, tbl, expr, opclass) FROM hs_case ORDER BY name \gexec
SHOW hnsw.ef_search;
SELECT name, hs_plan(c) AS index_used, hs_ok(hs_recall(c)) AS recall FROM hs_case c ORDER BY name;
SELECT name, i.elements, i.dimensions, i.metric, i.element_type, i.sparse_pages > 0 AS has_sparse_pages,
	(SELECT count(*) FROM prism.index_check(('hs_' || name)::regclass)) AS problems
	FROM hs_case c, prism.index_info(('hs_' || name)::regclass) i ORDER BY name;

-- inserts after the build
INSERT INTO hs_sp SELECT * FROM hs_more_sp;
INSERT INTO hs_vec SELECT * FROM hs_more_vec;
SET hnsw.iterative_scan = strict_order;
SELECT name, hs_found(c) AS inserted_found, hs_ok(hs_recall(c)) AS recall, hs_filtered(c) AS filtered
	FROM hs_case c ORDER BY name;
RESET hnsw.iterative_scan;

-- VACUUM after deleting 10% of the rows: no dead element left, their side items freed, the
-- graphs sound, recall kept
CREATE TABLE hs_before AS SELECT name, (SELECT count(*) FROM prism.index_check(('hs_' || name)::regclass)) AS problems
	FROM hs_case;
DELETE FROM hs_sp WHERE id % 10 = 0;
DELETE FROM hs_vec WHERE id % 10 = 0;
VACUUM hs_sp, hs_vec;
CREATE TABLE hs_free AS SELECT name, i.free_slots FROM hs_case c, prism.index_info(('hs_' || name)::regclass) i;
SELECT name, i.elements, i.deleted_elements, i.free_slots > 0 AS slots_freed,
	(SELECT count(*) FROM prism.index_check(('hs_' || name)::regclass)) AS problems, hs_ok(hs_recall(c)) AS recall
	FROM hs_case c, prism.index_info(('hs_' || name)::regclass) i ORDER BY name;
-- inserts reuse the freed slots and stay findable
INSERT INTO hs_sp SELECT * FROM hs_more_sp WHERE id % 10 = 0 ON CONFLICT DO NOTHING;
INSERT INTO hs_vec SELECT * FROM hs_more_vec WHERE id % 10 = 0 ON CONFLICT DO NOTHING;
SELECT name, hs_found(c) AS inserted_found,
	i.free_slots = (SELECT f.free_slots FROM hs_free f WHERE f.name = c.name) - 20 AS slots_reused,
	(SELECT count(*) FROM prism.index_check(('hs_' || name)::regclass)) AS problems
	FROM hs_case c, prism.index_info(('hs_' || name)::regclass) i ORDER BY name;

-- VACUUM frees the side items: a table whose rows are all deleted and vacuumed, then filled
-- again, reuses the space instead of growing by the same amount
CREATE TABLE hs_churn (id int, v sparsevec(5000));
CREATE INDEX hs_churn_idx ON hs_churn USING hnsw (v sparsevec_l2_ops);
INSERT INTO hs_churn SELECT i, hs_random(5000, 400) FROM generate_series(1, 200) i;
CREATE TABLE hs_churn_size AS SELECT pg_relation_size('hs_churn_idx') AS first;
DELETE FROM hs_churn;
VACUUM hs_churn;
INSERT INTO hs_churn SELECT i, hs_random(5000, 400) FROM generate_series(1, 200) i;
SELECT pg_relation_size('hs_churn_idx') < 1.5 * first AS side_space_reused,
	(SELECT count(*) FROM prism.index_check('hs_churn_idx')) AS problems FROM hs_churn_size;

-- up to 16,000 non-zeros per indexed row (pgvector's hnsw: 1,000); the side item spans pages.
-- Built, inserted, found, checked; one more non-zero is rejected (by the type: its limit is
-- the same)
CREATE TABLE hs_big (id int, v sparsevec(100000));
INSERT INTO hs_big SELECT i, hs_random(100000, 20) FROM generate_series(1, 50) i;
INSERT INTO hs_big SELECT 1000, ('{' || string_agg(k || ':' || (k % 7 + 1), ',') || '}/100000')::sparsevec
	FROM generate_series(1, 16000) k;
CREATE INDEX hs_big_idx ON hs_big USING hnsw (v sparsevec_cosine_ops);
INSERT INTO hs_big SELECT 1001, ('{' || string_agg(k || ':' || (k % 5 + 1), ',') || '}/100000')::sparsevec
	FROM generate_series(50001, 66000) k;
SET enable_seqscan = off;
SELECT (SELECT id FROM hs_big ORDER BY v <=> q.v LIMIT 1) AS nearest, q.id
	FROM hs_big q WHERE id IN (7, 1000, 1001) ORDER BY q.id;
RESET enable_seqscan;
SELECT i.elements, i.sparse_pages >= 32 AS spans_pages, (SELECT count(*) FROM prism.index_check('hs_big_idx')) AS problems
	FROM prism.index_info('hs_big_idx') i;

-- a NULL query returns every row; zero vectors are not indexed under cosine (no direction),
-- as with the other classes; a zero query is answered
SET enable_seqscan = off;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) = (SELECT count(*) FROM hs_sp) AS null_query_all_rows
	FROM (SELECT id FROM hs_sp ORDER BY v <-> (SELECT NULL::sparsevec)) s;
INSERT INTO hs_sp VALUES (0, 0, '{}/1000');
SELECT count(*) = (SELECT count(*) - 1 FROM hs_sp) AS zero_not_indexed_cosine
	FROM (SELECT id FROM hs_sp ORDER BY v <=> '{1:1,2:1}/1000') s;
SELECT count(*) = (SELECT count(*) FROM hs_sp) AS zero_indexed_l2
	FROM (SELECT id FROM hs_sp ORDER BY v <-> '{1:1,2:1}/1000') s;
SELECT (SELECT id FROM hs_sp ORDER BY v <-> '{}/1000' LIMIT 1) AS nearest_to_zero_l2;
SELECT count(*) FROM (SELECT id FROM hs_sp ORDER BY v <=> '{}/1000' LIMIT 5) s;
RESET hnsw.iterative_scan;
RESET enable_seqscan;

-- errors (SQLSTATE and message)
CREATE FUNCTION hs_error(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TABLE hs_err (s sparsevec);
SET enable_seqscan = off;
SELECT hs_error(s) FROM (VALUES
	('SELECT id FROM hs_sp ORDER BY v <-> ''{1:1}/3'' LIMIT 1'),
	('INSERT INTO hs_sp VALUES (-1, 0, ''{1:1}/3'')'),
	('CREATE INDEX ON hs_err USING hnsw (s sparsevec_l2_ops)'),
	('INSERT INTO hs_big SELECT 1002, (''{'' || string_agg(k || '':1'', '','') || ''}/100000'')::sparsevec FROM generate_series(1, 16001) k')) t(s);
RESET enable_seqscan;

DROP TABLE hs_sp, hs_vec, hs_more_sp, hs_more_vec, hs_q_sp, hs_q_vec, hs_before, hs_free, hs_churn, hs_churn_size, hs_big, hs_err;
DROP FUNCTION hs_error(text), hs_recall(hs_case, text), hs_ok(float8), hs_plan(hs_case), hs_found(hs_case), hs_lost(hs_case), hs_filtered(hs_case),
	hs_random(int, int);
DROP TABLE hs_case;
