-- hash operator class: hash aggregation, hash joins, hash indexes
SELECT prism.vector_hash('[1,2,3]') = prism.vector_hash('[1,2,3]');
SELECT prism.vector_hash('[0]') = prism.vector_hash('[-0]');
SELECT prism.vector_hash('[0,-0,1]') = prism.vector_hash('[-0,0,1]');
SELECT prism.vector_hash('[1,2]') = prism.vector_hash('[2,1]');
SELECT prism.vector_hash_extended('[0,1]', 42) = prism.vector_hash_extended('[-0,1]', 42);
SELECT prism.vector_hash_extended('[0,1]', 0) = prism.vector_hash_extended('[0,1]', 1);
CREATE TABLE vh (id int, v vector);
INSERT INTO vh SELECT i, ARRAY[i % 7, (i % 3) * 0.5]::vector FROM generate_series(1, 210) i;
INSERT INTO vh VALUES (1000, '[-0,0]'), (1001, '[0,0,0]'), (1002, NULL);
ANALYZE vh;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT v, count(*) FROM vh GROUP BY v;
SELECT v, count(*) FROM vh GROUP BY v ORDER BY v;
SELECT count(*) FROM (SELECT DISTINCT v FROM vh) s;
RESET enable_sort;
-- hash join
CREATE TABLE vh2 (v vector, label text);
INSERT INTO vh2 VALUES ('[0,0]', 'origin'), ('[6,1]', 'corner'), ('[9,9]', 'none'), ('[1,2]', 'short');
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT * FROM vh JOIN vh2 USING (v);
SELECT vh2.label, count(*) FROM vh JOIN vh2 USING (v) GROUP BY vh2.label ORDER BY 1;
RESET enable_mergejoin;
RESET enable_nestloop;
-- hash index
CREATE INDEX vh_hash ON vh USING hash (v);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM vh WHERE v = '[0,0]';
SELECT count(*) FROM vh WHERE v = '[0,0]';
SELECT count(*) FROM vh WHERE v = '[-0,-0]';
SELECT id FROM vh WHERE v = '[0,0,0]';
RESET enable_seqscan;
RESET enable_bitmapscan;
-- IN lists and UNION use the hash opclass too
SELECT count(*) FROM vh WHERE v IN ('[1,0.5]', '[2,1]');
SELECT v FROM (SELECT v FROM vh UNION SELECT v FROM vh2) u WHERE v IS NOT NULL ORDER BY v LIMIT 5;
DROP TABLE vh, vh2;
