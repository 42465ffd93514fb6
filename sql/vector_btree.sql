-- comparison operators and the btree operator class
SELECT '[1,2,3]'::vector < '[1,2,3]';
SELECT '[1,2,3]'::vector < '[1,2]';
SELECT '[1,2,3]'::vector <= '[1,2,3]';
SELECT '[1,2,3]'::vector <= '[1,2]';
SELECT '[1,2,3]'::vector = '[1,2,3]';
SELECT '[1,2,3]'::vector = '[1,2]';
SELECT '[1,2,3]'::vector != '[1,2,3]';
SELECT '[1,2,3]'::vector != '[1,2]';
SELECT '[1,2,3]'::vector <> '[1,2,4]';
SELECT '[1,2,3]'::vector >= '[1,2,3]';
SELECT '[1,2,3]'::vector >= '[1,2]';
SELECT '[1,2,3]'::vector > '[1,2,3]';
SELECT '[1,2,3]'::vector > '[1,2]';
SELECT '[-0]'::vector = '[0]', '[-0]'::vector < '[0]';
SELECT vector_cmp('[1,2,3]', '[1,2,3]');
SELECT vector_cmp('[1,2,3]', '[0,0,0]');
SELECT vector_cmp('[0,0,0]', '[1,2,3]');
SELECT vector_cmp('[1,2]', '[1,2,3]');
SELECT vector_cmp('[1,2,3]', '[1,2]');
SELECT vector_cmp('[1,2]', '[2,3,4]');
SELECT vector_cmp('[2,3]', '[1,2,3]');
SELECT vector_lt('[1]', '[2]'), vector_le('[1]', '[1]'), vector_eq('[1]', '[1]'),
	vector_ne('[1]', '[1]'), vector_ge('[1]', '[2]'), vector_gt('[2]', '[1]');
-- ORDER BY, DISTINCT, btree index
CREATE TABLE vbt (id int, v vector);
INSERT INTO vbt VALUES (1, '[0,0,0]'), (2, '[1,2,3]'), (3, '[1,1,1]'), (4, NULL), (5, '[1,2]'),
	(6, '[1,2,3]'), (7, '[-1,5]'), (8, '[-0,0,0]'), (9, '[1,2,3,0]'), (10, '[2]');
SELECT id, v FROM vbt ORDER BY v, id;
SELECT id, v FROM vbt ORDER BY v DESC NULLS LAST, id;
-- [0,0,0] and [-0,0,0] are equal: DISTINCT keeps one of them
SELECT DISTINCT v FROM vbt WHERE id <> 8 ORDER BY v;
SELECT DISTINCT ON (v) id, v FROM vbt ORDER BY v, id;
SELECT count(DISTINCT v) FROM vbt;
CREATE INDEX vbt_v ON vbt (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM vbt WHERE v = '[1,2,3]';
SELECT id FROM vbt WHERE v = '[1,2,3]' ORDER BY id;
SELECT id FROM vbt WHERE v = '[0,0,0]' ORDER BY id;
SELECT id FROM vbt WHERE v < '[1,1,1]' ORDER BY id;
SELECT id FROM vbt WHERE v >= '[1,2]' AND v <= '[1,2,3]' ORDER BY id;
EXPLAIN (COSTS OFF) SELECT v FROM vbt ORDER BY v;
SELECT v FROM vbt ORDER BY v;
RESET enable_seqscan;
-- unique index: -0 and 0 collide, different lengths do not
CREATE TABLE vbt_u (v vector);
CREATE UNIQUE INDEX ON vbt_u (v);
INSERT INTO vbt_u VALUES ('[1,2,3]'), ('[1,2]'), ('[0]');
INSERT INTO vbt_u VALUES ('[1,2,3]');
INSERT INTO vbt_u VALUES ('[-0]');
INSERT INTO vbt_u VALUES ('[1,2,3]') ON CONFLICT (v) DO NOTHING;
SELECT * FROM vbt_u ORDER BY v;
-- merge join (the = operator MERGES)
SET enable_hashjoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT a.id FROM vbt a JOIN vbt_u b ON a.v = b.v;
SELECT a.id, b.v FROM vbt a JOIN vbt_u b ON a.v = b.v ORDER BY a.id;
RESET enable_hashjoin;
RESET enable_nestloop;
DROP TABLE vbt, vbt_u;
