-- sparsevec casts, distances, functions, comparisons and btree.
-- casts
SELECT '[0,1.5,0,-2]'::vector::sparsevec, '{2:1.5,4:-2}/4'::sparsevec::vector;
SELECT '[0,0,0]'::vector::sparsevec, '[-0,1]'::vector::sparsevec;
SELECT '[0,1.5,0,-2]'::halfvec::sparsevec, '{2:1.5,4:-2}/4'::sparsevec::halfvec;
SELECT '{1:0.1}/2'::sparsevec::halfvec;
SELECT '{1:70000}/2'::sparsevec::halfvec;
SELECT '{1:1}/16001'::sparsevec::vector;
SELECT '{1:1}/16001'::sparsevec::halfvec;
SELECT '[1,2,3]'::vector::sparsevec(3);
SELECT '[1,2,3]'::vector::sparsevec(4);
SELECT '{1:1}/3'::sparsevec::vector(4);
SELECT '{1:1}/3'::sparsevec::halfvec(4);
SELECT ARRAY[0,2,0,3]::sparsevec, ARRAY[0,2.5,0]::real[]::sparsevec, ARRAY[1e-50,1]::float8[]::sparsevec,
	ARRAY[0.0,1.25]::numeric[]::sparsevec;
SELECT ARRAY[1,2]::sparsevec(3);
SELECT ARRAY['NaN',1]::real[]::sparsevec;
SELECT ARRAY[1,'Infinity']::float8[]::sparsevec;
SELECT ARRAY[1e40]::float8[]::sparsevec;
SELECT ARRAY[1,NULL]::integer[]::sparsevec;
SELECT ARRAY[[1,2],[3,4]]::integer[]::sparsevec;
SELECT '{}'::integer[]::sparsevec;
SELECT vector_dims(array_fill(1, ARRAY[16000])::sparsevec::vector);
CREATE TABLE scast (s sparsevec(3), v vector(3), h halfvec(3));
INSERT INTO scast VALUES ('[1,0,2]'::vector, '{1:1}/3'::sparsevec, '{2:2}/3'::sparsevec),
	('[0,5,0]'::halfvec, ARRAY[1,2,3], ARRAY[4,0,0]);
SELECT * FROM scast;
DROP TABLE scast;
-- distances
SELECT '{1:1,2:2}/3'::sparsevec <-> '{1:4,3:6}/3', l2_distance('{1:1,2:2}/3'::sparsevec, '{1:4,3:6}/3');
SELECT '{1:1,2:2}/3'::sparsevec <#> '{1:3,2:4}/3', inner_product('{1:1,2:2}/3'::sparsevec, '{1:3,2:4}/3');
SELECT '{1:1,2:2}/3'::sparsevec <=> '{1:2,2:4}/3', cosine_distance('{1:1,3:2}/3'::sparsevec, '{2:1}/3');
SELECT '{1:1}/3'::sparsevec <=> '{}/3';
SELECT '{1:1,2:2}/3'::sparsevec <+> '{2:-1,3:6}/3', l1_distance('{1:1,2:2}/3'::sparsevec, '{2:-1,3:6}/3');
SELECT sparsevec_l2_squared_distance('{1:1}/2', '{2:1}/2'), sparsevec_negative_inner_product('{1:2}/2', '{1:3}/2');
SELECT '{}/3'::sparsevec <-> '{}/3', '{}/3'::sparsevec <#> '{1:1}/3', '{}/3'::sparsevec <+> '{2:-2}/3';
SELECT '{1:1}/3'::sparsevec <-> '{1:1}/4';
SELECT '{1:1}/3'::sparsevec <#> '{1:1}/4';
SELECT '{1:1}/3'::sparsevec <=> '{1:1}/4';
SELECT '{1:1}/3'::sparsevec <+> '{1:1}/4';
-- the sparse merges give the dense distances (exactly, on small integers)
SELECT bool_and(s1 <-> s2 = s1::vector <-> s2::vector) AS l2, bool_and(s1 <#> s2 = s1::vector <#> s2::vector) AS ip,
	bool_and(s1 <+> s2 = s1::vector <+> s2::vector) AS l1,
	bool_and(abs((s1 <=> s2) - (s1::vector <=> s2::vector)) < 1e-6 OR (s1 <=> s2)::text = 'NaN') AS cosine
	FROM (SELECT n, array_agg(CASE WHEN (i * n) % 5 = 0 THEN (i % 7) - 3 ELSE 0 END ORDER BY i)::sparsevec AS s1,
		array_agg(CASE WHEN (i + n) % 3 = 0 THEN (i % 4) + 1 ELSE 0 END ORDER BY i)::sparsevec AS s2
		FROM generate_series(1, 20) n, generate_series(1, 200) i GROUP BY n) t;
-- functions
SELECT l2_norm('{1:3,5:4}/5'::sparsevec), l2_norm('{}/5'::sparsevec);
SELECT l2_normalize('{1:3,5:4}/5'::sparsevec), l2_normalize('{}/5'::sparsevec);
SELECT l2_normalize('{1:1e30,2:1e-30}/2'::sparsevec);
SELECT l2_normalize('{1:3.4e38,2:3.4e38}/2'::sparsevec);
-- comparisons and btree: the order of the dense vectors
SELECT '{1:1}/3'::sparsevec < '{1:2}/3', '{1:1}/3'::sparsevec < '{2:1}/3', '{2:-1}/3'::sparsevec < '{}/3';
SELECT '{1:1}/3'::sparsevec = '{1:1}/3', '{1:1}/3'::sparsevec = '{1:1}/4', '{1:1}/3'::sparsevec <> '{1:1}/4';
SELECT '{1:1}/3'::sparsevec <= '{1:1}/3', '{}/3'::sparsevec >= '{3:1}/3', '{}/4'::sparsevec > '{3:1}/3';
SELECT sparsevec_cmp('{1:1}/2', '{1:1}/2'), sparsevec_cmp('{2:1}/2', '{1:1}/2'), sparsevec_cmp('{1:1}/2', '{1:1,3:5}/3'),
	sparsevec_cmp('{1:1,3:5}/3', '{1:1}/2');
CREATE TABLE sbt (id int, v sparsevec);
INSERT INTO sbt VALUES (1, '{}/3'), (2, '{1:1}/3'), (3, '{2:1}/3'), (4, NULL), (5, '{1:1}/2'), (6, '{1:1}/3'),
	(7, '{1:-1,2:5}/2'), (8, '{3:-1}/3'), (9, '{1:1,4:1}/4'), (10, '{1:2}/1');
SELECT id, v FROM sbt ORDER BY v, id;
-- the same order as the dense vectors'
SELECT array_agg(id ORDER BY v, id) = array_agg(id ORDER BY v::vector, id) AS same_order FROM sbt WHERE v IS NOT NULL;
CREATE INDEX sbt_v ON sbt (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM sbt WHERE v = '{1:1}/3';
SELECT id FROM sbt WHERE v = '{1:1}/3' ORDER BY id;
SELECT id FROM sbt WHERE v < '{}/3' ORDER BY v, id;
RESET enable_seqscan;
DROP TABLE sbt;
