-- Collections (issue 13): where / where_document filters (every operator, checked against the
-- same question in plain SQL), injection attempts, query (nearest neighbours, batches,
-- metrics, max_distance, per-collection ef_search, plans) and hybrid search.
\set SHOW_CONTEXT never
SET client_min_messages = warning;

SELECT name FROM prism.create_collection('fcol', dimension => 4);
SELECT prism.add('fcol', array_agg('r' || i ORDER BY i),
	array_agg(ARRAY[sin(i), cos(i * 1.3), sin(i * 0.7 + 1), cos(i * 2.1)]::real[]::vector ORDER BY i),
	array_agg(CASE WHEN i % 17 = 0 THEN NULL ELSE (ARRAY['red apple pie', 'green apple tart', 'blue berry muffin',
		'Red Wine', 'the quick brown fox'])[i % 5 + 1] || ' ' || i END ORDER BY i),
	array_agg(CASE WHEN i % 10 = 0 THEN NULL ELSE jsonb_strip_nulls(jsonb_build_object('n', i,
		'cat', (ARRAY['a', 'b', 'c'])[i % 3 + 1], 'even', i % 2 = 0, 'score', i / 10.0,
		'tags', CASE WHEN i % 4 = 0 THEN NULL ELSE to_jsonb(ARRAY['t' || (i % 5), 'u' || (i % 7)]) END,
		'mixed', CASE WHEN i % 6 = 0 THEN to_jsonb('s' || i) ELSE to_jsonb(i) END)) END ORDER BY i))
	FROM generate_series(1, 300) i;
ANALYZE fcol;

-- ids matching a hand-written condition
CREATE FUNCTION ids_where(cond text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE r text[];
BEGIN
	EXECUTE 'SELECT coalesce(array_agg(id ORDER BY id), ''{}'') FROM fcol WHERE ' || cond INTO r;
	RETURN r;
END $$;

-- every where operator, against the same question written with ->> and casts
SELECT label, cardinality(got) AS matches, got = ids_where(cond) AS same_as_sql
FROM (VALUES
	('bare string', '{"cat": "a"}', $$metadata ->> 'cat' = 'a'$$),
	('bare number', '{"n": 42}', $$(metadata ->> 'n')::numeric = 42$$),
	('bare bool', '{"even": false}', $$metadata -> 'even' = 'false'$$),
	('bare float', '{"score": 4.2}', $$(metadata ->> 'score')::numeric = 4.2$$),
	('scalar vs list', '{"tags": "t1"}', 'false'),
	('$eq string', '{"cat": {"$eq": "b"}}', $$metadata ->> 'cat' = 'b'$$),
	('$eq int as float', '{"n": {"$eq": 42.0}}', $$(metadata ->> 'n')::numeric = 42$$),
	('$eq bool', '{"even": {"$eq": true}}', $$metadata -> 'even' = 'true'$$),
	('$ne string', '{"cat": {"$ne": "a"}}', $$metadata ->> 'cat' IS DISTINCT FROM 'a'$$),
	('$ne number', '{"n": {"$ne": 5}}', $$(metadata ->> 'n')::numeric IS DISTINCT FROM 5$$),
	('$gt', '{"n": {"$gt": 251}}', $$(metadata ->> 'n')::numeric > 251$$),
	('$gte', '{"n": {"$gte": 251}}', $$(metadata ->> 'n')::numeric >= 251$$),
	('$lt float', '{"score": {"$lt": 2.5}}', $$(metadata ->> 'score')::numeric < 2.5$$),
	('$lte float', '{"score": {"$lte": 2.5}}', $$(metadata ->> 'score')::numeric <= 2.5$$),
	('$gt on mixed types', '{"mixed": {"$gt": 200}}', $$metadata ->> 'mixed' !~ '^s' AND (metadata ->> 'mixed')::numeric > 200$$),
	('range $and', '{"$and": [{"n": {"$gt": 10}}, {"n": {"$lt": 20}}]}', $$(metadata ->> 'n')::int BETWEEN 11 AND 19$$),
	('two operators', '{"n": {"$gt": 10, "$lt": 20}}', $$(metadata ->> 'n')::int BETWEEN 11 AND 19$$),
	('$in strings', '{"cat": {"$in": ["a", "c"]}}', $$metadata ->> 'cat' IN ('a', 'c')$$),
	('$in numbers', '{"n": {"$in": [1, 2, 3, 250, 1000]}}', $$(metadata ->> 'n')::int IN (1, 2, 3, 250)$$),
	('$in empty', '{"n": {"$in": []}}', 'false'),
	('$nin', '{"cat": {"$nin": ["a", "c"]}}', $$coalesce(metadata ->> 'cat' NOT IN ('a', 'c'), true)$$),
	('$contains', '{"tags": {"$contains": "t3"}}', $$metadata -> 'tags' ? 't3'$$),
	('$not_contains', '{"tags": {"$not_contains": "t3"}}', $$NOT coalesce(metadata -> 'tags' ? 't3', false)$$),
	('$contains on scalar', '{"cat": {"$contains": "a"}}', 'false'),
	('$and', '{"$and": [{"cat": "a"}, {"even": true}]}', $$metadata ->> 'cat' = 'a' AND metadata ->> 'even' = 'true'$$),
	('$or', '{"$or": [{"cat": "a"}, {"n": {"$lt": 30}}]}', $$metadata ->> 'cat' = 'a' OR (metadata ->> 'n')::int < 30$$),
	('nested', '{"$or": [{"$and": [{"cat": "b"}, {"tags": {"$contains": "u2"}}]}, {"n": 7}]}',
		$$(metadata ->> 'cat' = 'b' AND metadata -> 'tags' ? 'u2') OR metadata ->> 'n' = '7'$$),
	('implicit and', '{"cat": "c", "even": true}', $$metadata ->> 'cat' = 'c' AND metadata ->> 'even' = 'true'$$),
	('empty filter', '{}', 'true')
) v(label, f, cond), LATERAL (SELECT coalesce(array_agg(id ORDER BY id), '{}') AS got
	FROM prism.get('fcol', "where" => f::jsonb, include => '{}')) g;

-- every where_document operator
SELECT label, cardinality(got) AS matches, got = ids_where(cond) AS same_as_sql
FROM (VALUES
	('$contains', '{"$contains": "apple"}', $$document LIKE '%apple%'$$),
	('$contains is case-sensitive', '{"$contains": "Red"}', $$document LIKE '%Red%'$$),
	('$contains spans words', '{"$contains": "e pie 1"}', $$document LIKE '%e pie 1%'$$),
	('$not_contains', '{"$not_contains": "apple"}', $$document IS NULL OR document NOT LIKE '%apple%'$$),
	('$regex', '{"$regex": "^(red|blue) .* 1[0-9]$"}', $$document SIMILAR TO '(red|blue) % 1[0-9]'$$),
	('$not_regex', '{"$not_regex": "[0-9]{3}$"}', $$document IS NULL OR document NOT SIMILAR TO '%[0-9][0-9][0-9]'$$),
	('$match (full text)', '{"$match": "apples"}', $$document LIKE '%apple%'$$),
	('$and', '{"$and": [{"$contains": "apple"}, {"$not_contains": "green"}]}', $$document LIKE 'red apple%'$$),
	('$or', '{"$or": [{"$contains": "fox"}, {"$contains": "Wine"}]}', $$document LIKE '%fox%' OR document LIKE '%Wine%'$$)
) v(label, f, cond), LATERAL (SELECT coalesce(array_agg(id ORDER BY id), '{}') AS got
	FROM prism.get('fcol', where_document => f::jsonb, include => '{}')) g;

-- ids, where and where_document together; limit and offset apply after filtering
SELECT id, document, metadata ->> 'cat' AS cat FROM prism.get('fcol', ids => '{r1,r2,r3,r4,r5,r6,r7,r8,r9,r11}',
	"where" => '{"cat": {"$ne": "c"}}', where_document => '{"$contains": "apple"}');
SELECT id FROM prism.get('fcol', "where" => '{"n": {"$lt": 50}}', "limit" => 3, "offset" => 2, include => '{}');

-- filter errors
SELECT prism.get('fcol', "where" => '{"n": {"$like": 1}}');
SELECT prism.get('fcol', "where" => '{"$not": {"n": 1}}');
SELECT prism.get('fcol', "where" => '{"n": {"$gt": "5"}}');
SELECT prism.get('fcol', "where" => '{"n": {"$lte": true}}');
SELECT prism.get('fcol', "where" => '{"n": {"$in": [1, "a"]}}');
SELECT prism.get('fcol', "where" => '{"n": {"$in": 1}}');
SELECT prism.get('fcol', "where" => '{"n": {"$nin": [[1]]}}');
SELECT prism.get('fcol', "where" => '{"tags": {"$contains": ["t1"]}}');
SELECT prism.get('fcol', "where" => '{"n": {"$eq": null}}');
SELECT prism.get('fcol', "where" => '{"n": null}');
SELECT prism.get('fcol', "where" => '{"n": [1, 2]}');
SELECT prism.get('fcol', "where" => '{"n": {}}');
SELECT prism.get('fcol', "where" => '{"$and": []}');
SELECT prism.get('fcol', "where" => '{"$or": []}');
SELECT prism.get('fcol', "where" => '{"$and": {"n": 1}}');
SELECT prism.get('fcol', "where" => '{"$or": [{"n": 1}, {"n": {"$bad": 1}}]}');
SELECT prism.get('fcol', "where" => '[{"n": 1}]');
SELECT prism.get('fcol', where_document => '{"$like": "x"}');
SELECT prism.get('fcol', where_document => '{"$contains": 5}');
SELECT prism.get('fcol', where_document => '{"$and": []}');
SELECT prism.get('fcol', where_document => '"apple"');
SELECT prism.get('fcol', where_document => '{"$regex": "("}');

-- injection attempts: names, keys, values and ids are data, never SQL
SELECT prism.get('fcol; DROP TABLE fcol; --');
SELECT prism.get('fcol'' OR ''1''=''1');
SELECT prism.create_collection('x"; DROP TABLE fcol; --');
SELECT prism.create_collection('inj', backing_table => 'fc2; DROP TABLE fcol');
SELECT count(*) FROM prism.get('fcol', "where" => $${"cat') OR true OR ('": "a"}$$);
SELECT count(*) FROM prism.get('fcol', "where" => $${"cat": "a' OR '1'='1"}$$);
SELECT count(*) FROM prism.get('fcol', "where" => $${"n": {"$in": ["1') OR true --"]}}$$);
SELECT count(*) FROM prism.get('fcol', where_document => $${"$contains": "'); DROP TABLE fcol; --"}$$);
SELECT count(*) FROM prism.get('fcol', where_document => $${"$regex": "' OR true --"}$$);
SELECT count(*) FROM prism.get('fcol', ids => ARRAY['r1'' OR ''1''=''1']);
SELECT count(*) FROM prism.query('fcol', '{"[0,0,0,0]"}', 5, text_query => $$apple' OR 1=1; --$$);
SELECT prism.where_sql($${"k'\"ey": {"$gt": 1}, "a": {"$in": ["x'y"]}}$$);
SELECT prism.where_document_sql($${"$or": [{"$contains": "it's"}, {"$match": "a' b"}]}$$);
SELECT count(*) AS rows_still_there FROM fcol;

-- query: a batch of query embeddings, one row per (query, rank), equal to exact search in SQL
SET enable_seqscan = off;
CREATE TEMP TABLE qs AS SELECT o::int AS qi, v FROM unnest(ARRAY['[0.1,0.9,-0.3,0.5]', '[-0.8,0.2,0.4,0]',
	'[0.5,0.5,0.5,0.5]']::vector[]) WITH ORDINALITY AS u(v, o);
SELECT qi, count(*) AS results, max(rank) AS last_rank,
	array_agg(id ORDER BY rank) = (SELECT array_agg(id ORDER BY l2_distance(embedding, qs.v)) FROM
		(SELECT id, embedding FROM fcol ORDER BY l2_distance(embedding, qs.v) LIMIT 10) s) AS same_as_sql,
	bool_and(abs(distance - (SELECT l2_distance(embedding, qs.v) ^ 2 FROM fcol WHERE fcol.id = r.id)) < 1e-6) AS squared_l2
	FROM prism.query('fcol', (SELECT array_agg(v ORDER BY qi) FROM qs), 10) r JOIN qs ON qs.qi = r.query_index
	GROUP BY qi, qs.v ORDER BY qi;
-- with filters: sets equal to the filtered exact search
SELECT f, qi, count(*) AS results, array_agg(id ORDER BY id) = (SELECT array_agg(id ORDER BY id) FROM
		(SELECT id FROM fcol WHERE id = ANY (w.ids) ORDER BY l2_distance(embedding, qs.v) LIMIT 7) s) AS same_as_sql
	FROM (VALUES ('{"cat": "a"}', NULL, $$metadata ->> 'cat' = 'a'$$),
		('{"n": {"$gte": 280}}', NULL, $$(metadata ->> 'n')::int >= 280$$),
		('{"tags": {"$contains": "u3"}}', '{"$contains": "apple"}', $$metadata -> 'tags' ? 'u3' AND document LIKE '%apple%'$$))
		AS v(f, wd, cond),
	LATERAL (SELECT ids_where(cond) AS ids) w,
	LATERAL prism.query('fcol', (SELECT array_agg(v ORDER BY qi) FROM qs), 7, "where" => f::jsonb,
		where_document => wd::jsonb) r JOIN qs ON qs.qi = r.query_index
	GROUP BY f, qi, w.ids, qs.v ORDER BY f, qi;
-- ids restrict the search, with the filters
SELECT rank, id FROM prism.query('fcol', '{"[0,0,0,1]"}', 3, ids => '{r1,r2,r3,r4,r5,r6}', "where" => '{"n": {"$ne": 2}}',
	include => '{}');
SELECT array_agg(id ORDER BY rank) = (SELECT array_agg(id) FROM (SELECT id FROM fcol WHERE id IN ('r1', 'r3', 'r4', 'r5', 'r6')
	ORDER BY l2_distance(embedding, '[0,0,0,1]') LIMIT 3) s) AS same_as_sql
	FROM prism.query('fcol', '{"[0,0,0,1]"}', 3, ids => '{r1,r2,r3,r4,r5,r6}', "where" => '{"n": {"$ne": 2}}');
-- fewer matches than n_results: all of them
SELECT count(*) FROM prism.query('fcol', '{"[0,0,0,1]"}', 50, "where" => '{"n": {"$in": [5, 6, 7]}}');
-- include
SELECT query_index, rank, id, distance IS NOT NULL AS has_distance, document IS NOT NULL AS has_document,
	metadata IS NOT NULL AS has_metadata, embedding IS NOT NULL AS has_embedding
	FROM prism.query('fcol', '{"[0,0,0,1]"}', 2, include => '{embeddings}');
SELECT query_index, rank, id, distance IS NOT NULL AS has_distance, document IS NOT NULL AS has_document
	FROM prism.query('fcol', '{"[0,0,0,1]"}', 2);
-- max_distance: the top n_results cut at the threshold (Chroma's units: squared L2)
SELECT count(*) AS within, bool_and(distance <= 0.5) AS all_within,
	count(*) = (SELECT count(*) FROM (SELECT l2_distance(embedding, '[0,0,0,1]') ^ 2 AS d FROM fcol
		ORDER BY 1 LIMIT 40) s WHERE d <= 0.5) AS same_as_sql
	FROM prism.query('fcol', '{"[0,0,0,1]"}', 40, max_distance => 0.5);
-- the plans: ORDER BY embedding <-> q LIMIT k with the filter in WHERE, so the planner can
-- use the hnsw index scan (which keeps searching until k rows pass the filter) or, for a
-- selective filter, the GIN index and a sort
SELECT * FROM prism.query_plan('fcol', '{"[0,0,0,1]"}', 5);
SELECT * FROM prism.query_plan('fcol', '{"[0,0,0,1]"}', 5, '{"$and": [{"cat": "a"}, {"n": {"$gt": 3}}]}', '{"$contains": "pie"}');
SET enable_bitmapscan = off;
SELECT * FROM prism.query_plan('fcol', '{"[0,0,0,1]"}', 5, '{"$and": [{"cat": "a"}, {"n": {"$gt": 3}}]}', '{"$contains": "pie"}');
SELECT count(*) AS results, array_agg(id ORDER BY rank) = (SELECT array_agg(id) FROM (SELECT id FROM fcol
		WHERE metadata ->> 'cat' = 'a' AND (metadata ->> 'n')::int > 3 AND document LIKE '%pie%'
		ORDER BY l2_distance(embedding, '[0,0,0,1]') LIMIT 5) s) AS same_as_sql
	FROM prism.query('fcol', '{"[0,0,0,1]"}', 5, "where" => '{"$and": [{"cat": "a"}, {"n": {"$gt": 3}}]}',
		where_document => '{"$contains": "pie"}');
RESET enable_bitmapscan;
RESET enable_seqscan;
-- query errors
SELECT prism.query('fcol', '{"[1,2,3]"}');
SELECT prism.query('fcol', '{"[1,2,3,4]","[1,2,3,4,5]"}');
SELECT prism.query('fcol', '{"[1,2,3,4]"}', 0);
SELECT prism.query('fcol');
SELECT prism.query('fcol', '{"[1,2,3,4]"}', query_texts => '{a}');
SELECT prism.query('fcol', '{"[1,2,3,4]"}', include => '{uris}');
SELECT prism.query('nope', '{"[1,2,3,4]"}');
-- an empty collection without a dimension answers nothing
SELECT name FROM prism.create_collection('empty-one');
SELECT count(*) FROM prism.query('empty-one', '{"[1,2]"}');

-- other metrics: distances in Chroma's units (1 - inner product, cosine distance)
SELECT name FROM prism.create_collection('fcol_ip', configuration => '{"hnsw": {"space": "ip"}}');
SELECT name FROM prism.create_collection('fcol_cos', metadata => '{"hnsw:space": "cosine"}');
SELECT prism.add('fcol_ip', array_agg(id), array_agg(embedding)), prism.add('fcol_cos', array_agg(id), array_agg(embedding)) FROM fcol;
SET enable_seqscan = off;
SELECT 'ip' AS metric, array_agg(id ORDER BY rank) = (SELECT array_agg(id) FROM (SELECT id FROM fcol
		ORDER BY inner_product(embedding, '[0.3,-0.2,0.9,0.1]') DESC LIMIT 8) s) AS same_as_sql,
	bool_and(abs(distance - (1 - (SELECT inner_product(embedding, '[0.3,-0.2,0.9,0.1]') FROM fcol WHERE fcol.id = r.id))) < 1e-6) AS distances
	FROM prism.query('fcol_ip', '{"[0.3,-0.2,0.9,0.1]"}', 8) r
UNION ALL
SELECT 'cosine', array_agg(id ORDER BY rank) = (SELECT array_agg(id) FROM (SELECT id FROM fcol
		ORDER BY cosine_distance(embedding, '[0.3,-0.2,0.9,0.1]') LIMIT 8) s),
	bool_and(abs(distance - (SELECT cosine_distance(embedding, '[0.3,-0.2,0.9,0.1]') FROM fcol WHERE fcol.id = r.id)) < 1e-6)
	FROM prism.query('fcol_cos', '{"[0.3,-0.2,0.9,0.1]"}', 8) r;
RESET enable_seqscan;

-- the collection's ef_search applies inside its queries only: the session's value is unchanged
-- after, and a larger ef_search makes the same query examine more of the graph
SET hnsw.ef_search = 7;
SELECT name FROM prism.modify_collection('fcol', configuration => '{"hnsw": {"ef_search": 1}}');
SET enable_seqscan = off;
SELECT count(*) FROM prism.query('fcol', '{"[0.1,0.2,0.3,0.4]"}', 1);
CREATE TEMP TABLE ef_small AS SELECT * FROM prism.last_scan_stats();
SELECT name FROM prism.modify_collection('fcol', configuration => '{"hnsw": {"ef_search": 200}}');
SELECT count(*) FROM prism.query('fcol', '{"[0.1,0.2,0.3,0.4]"}', 1);
SELECT s.distances > e.distances AS larger_ef_examines_more FROM prism.last_scan_stats() s, ef_small e;
SHOW hnsw.ef_search;
BEGIN;
SET LOCAL hnsw.ef_search = 9;
SELECT count(*) FROM prism.query('fcol', '{"[0.1,0.2,0.3,0.4]"}', 1);
SHOW hnsw.ef_search;
COMMIT;
RESET hnsw.ef_search;
RESET enable_seqscan;

-- hybrid search on a corpus with a known answer. For the query vector [1,0] the nearest record
-- is A (no "solar" in it); the best full-text match for "solar" is B (farthest vector). C is
-- second in both rankings: reciprocal rank fusion puts it first.
SELECT name FROM prism.create_collection('hyb');
SELECT prism.add('hyb', '{A,B,C,D,E,F}', '{"[1,0]","[0,1]","[0.95,0.05]","[0.8,0.2]","[0.6,0.4]","[0.1,0.9]"}',
	'{"pasta recipes","solar solar solar farm solar","solar panels and solar roofs","wind power","hydro dams",
	"a note on solar"}', ARRAY['{"kind": "food"}', '{"kind": "energy"}', '{"kind": "energy"}', '{"kind": "energy"}',
	'{"kind": "energy"}', '{"kind": "note"}']::jsonb[]);
SELECT rank, id, round(score::numeric, 6) AS score FROM prism.query('hyb', '{"[1,0]"}', 4, text_query => 'solar');
-- the weights move it to either ranking; the text ranking alone with no query vector
SELECT rank, id FROM prism.query('hyb', '{"[1,0]"}', 2, text_query => 'solar', text_weight => 0);
SELECT rank, id FROM prism.query('hyb', '{"[1,0]"}', 2, text_query => 'solar', vector_weight => 0);
SELECT rank, id, distance FROM prism.query('hyb', text_query => 'solar');
-- the fused scores equal reciprocal rank fusion written out in SQL
SELECT count(*) AS results, bool_and(abs(r.score - s.score) < 1e-12 AND r.rank = s.rank) AS same_as_sql
FROM prism.query('hyb', '{"[0.7,0.3]"}', 6, text_query => 'solar power', vector_weight => 2, text_weight => 0.5, rrf_k => 10) r
JOIN (SELECT id, score, row_number() OVER (ORDER BY score DESC, id) AS rank FROM (
	SELECT coalesce(v.id, t.id) AS id, coalesce(2.0 / (10 + v.r), 0) + coalesce(0.5 / (10 + t.r), 0) AS score
	FROM (SELECT id, row_number() OVER (ORDER BY l2_distance(embedding, '[0.7,0.3]')) AS r FROM hyb) v
	FULL JOIN (SELECT id, row_number() OVER (ORDER BY ts_rank_cd(to_tsvector('english', document),
		websearch_to_tsquery('english', 'solar power')) DESC, id) AS r FROM hyb
		WHERE to_tsvector('english', document) @@ websearch_to_tsquery('english', 'solar power')) t ON v.id = t.id) f) s
	ON s.id = r.id;
-- filters apply to both rankings; max_distance to the vector ranking
SELECT rank, id FROM prism.query('hyb', '{"[1,0]"}', 4, text_query => 'solar', "where" => '{"kind": "energy"}');
SELECT rank, id FROM prism.query('hyb', '{"[1,0]"}', 4, text_query => 'solar', max_distance => 0.01);
SELECT rank, id FROM prism.query('hyb', '{"[1,0]"}', 4, text_query => 'solar', rank_window => 1);
SELECT prism.query('hyb', '{"[1,0]"}', text_query => 'solar', rrf_k => -1);
SELECT prism.query('hyb', '{"[1,0]"}', text_query => 'solar', text_weight => -1);

SELECT prism.delete_collection(name) FROM prism.collections ORDER BY name;
DROP FUNCTION ids_where;
