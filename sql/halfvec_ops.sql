-- halfvec casts, distances, functions, arithmetic, comparisons, btree and aggregates.
-- casts
SELECT '[1,2,3]'::vector::halfvec, '[1,2,3]'::halfvec::vector;
SELECT '[0.1,1e-8,65504]'::vector::halfvec;
SELECT '[65520]'::vector::halfvec;
SELECT '[1e10]'::vector::halfvec;
SELECT '[1,2,3]'::vector::halfvec(2);
SELECT '[1,2,3]'::halfvec::vector(2);
SELECT '[0.1]'::halfvec::vector;
SELECT ARRAY[1,2,3]::halfvec, ARRAY[1,2,3]::real[]::halfvec, ARRAY[1,2,3]::float8[]::halfvec,
	ARRAY[1.5,2.25]::numeric[]::halfvec;
SELECT ARRAY[1,2,3]::halfvec(3);
SELECT ARRAY[1,2,3]::halfvec(2);
SELECT ARRAY[70000]::halfvec;
SELECT ARRAY[70000]::float8[]::halfvec;
SELECT ARRAY[1e40]::float8[]::halfvec;
SELECT ARRAY['NaN']::real[]::halfvec;
SELECT ARRAY['Infinity']::real[]::halfvec;
SELECT ARRAY['-Infinity']::float8[]::halfvec;
SELECT ARRAY[1,NULL]::real[]::halfvec;
SELECT ARRAY[[1,2],[3,4]]::real[]::halfvec;
SELECT '{}'::real[]::halfvec;
SELECT ARRAY[1,2]::smallint[]::halfvec;
SELECT '[1,-2,0.1]'::halfvec::real[];
SELECT array_length(array_fill(1.5::real, ARRAY[16000])::halfvec::real[], 1);
SELECT array_fill(1::real, ARRAY[16001])::halfvec;
-- assignment casts into halfvec and vector columns
CREATE TABLE hcast (h halfvec(2), v vector(2));
INSERT INTO hcast VALUES ('[1,2]'::vector, '[3,4]'::halfvec), (ARRAY[5,6], ARRAY[7,8]);
SELECT * FROM hcast;
DROP TABLE hcast;
-- distances (operators and functions)
SELECT '[1,2]'::halfvec <-> '[4,6]', l2_distance('[1,2]'::halfvec, '[4,6]');
SELECT '[1,2]'::halfvec <#> '[3,4]', inner_product('[1,2]'::halfvec, '[3,4]');
SELECT '[1,2]'::halfvec <=> '[2,4]', cosine_distance('[1,2]'::halfvec, '[2,4]');
SELECT '[1,2]'::halfvec <=> '[-1,-2]', '[1,0]'::halfvec <=> '[0,1]';
SELECT '[1,2]'::halfvec <=> '[0,0]';
SELECT '[1,2]'::halfvec <+> '[4,-6]', l1_distance('[1,2]'::halfvec, '[4,-6]');
SELECT halfvec_l2_squared_distance('[1,2]', '[4,6]'), halfvec_negative_inner_product('[1,2]', '[3,4]');
SELECT round(halfvec_spherical_distance('[1,0]', '[0,1]')::numeric, 6);
SELECT '[1,2]'::halfvec <-> '[1,2,3]';
SELECT '[1,2]'::halfvec <#> '[1,2,3]';
SELECT '[1,2]'::halfvec <=> '[1,2,3]';
SELECT '[1,2]'::halfvec <+> '[1,2,3]';
-- a halfvec distance agrees with the vector distance of the same (exactly representable) values
SELECT h1 <-> h2 = h1::vector <-> h2::vector AS l2, h1 <#> h2 = h1::vector <#> h2::vector AS ip,
	h1 <+> h2 = h1::vector <+> h2::vector AS l1,
	abs((h1 <=> h2) - (h1::vector <=> h2::vector)) < 1e-6 AS cosine
	FROM (SELECT array_agg((i % 13) - 6)::halfvec AS h1, array_agg((i % 7) * 0.5)::halfvec AS h2
		FROM generate_series(1, 1000) i) t;
-- functions
SELECT vector_dims('[1,2,3]'::halfvec);
SELECT l2_norm('[3,4]'::halfvec), l2_norm('[0,0]'::halfvec), l2_norm('[65504,65504]'::halfvec);
SELECT l2_normalize('[3,4]'::halfvec), l2_normalize('[0,0]'::halfvec), l2_normalize('[65504,0]'::halfvec);
SELECT binary_quantize('[1,0,-1,0.5,-0,2,3,-4,5]'::halfvec);
SELECT binary_quantize('[1,0,-1,0.5,-0,2,3,-4,5]'::halfvec) = binary_quantize('[1,0,-1,0.5,-0,2,3,-4,5]'::vector);
SELECT subvector('[1,2,3,4,5]'::halfvec, 1, 3), subvector('[1,2,3,4,5]'::halfvec, 3, 2),
	subvector('[1,2,3,4,5]'::halfvec, -1, 3), subvector('[1,2,3,4,5]'::halfvec, 3, 9);
SELECT subvector('[1,2,3,4,5]'::halfvec, 6, 1);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, 0);
SELECT subvector('[1,2,3,4,5]'::halfvec, 2147483647, 10);
-- arithmetic
SELECT '[1,2,3]'::halfvec + '[4,5,6]', '[1,2,3]'::halfvec - '[4,5,6]', '[1,2,3]'::halfvec * '[4,5,6]';
SELECT '[0.1]'::halfvec + '[0.2]';
SELECT '[65504]'::halfvec + '[65504]';
SELECT '[-65504]'::halfvec - '[65504]';
SELECT '[300]'::halfvec * '[300]';
SELECT '[1e-4]'::halfvec * '[1e-4]';
SELECT '[0]'::halfvec * '[1e-4]';
SELECT '[1,2]'::halfvec + '[3]';
SELECT '[1,2]'::halfvec || '[3,4]';
SELECT vector_dims(array_fill(1::real, ARRAY[8000])::halfvec || array_fill(1::real, ARRAY[8000])::halfvec);
SELECT array_fill(1::real, ARRAY[8000])::halfvec || array_fill(1::real, ARRAY[8001])::halfvec;
-- comparisons and btree
SELECT '[1,2,3]'::halfvec < '[1,2,3]', '[1,2,3]'::halfvec < '[1,2]', '[1,2]'::halfvec < '[1,2,3]';
SELECT '[1,2,3]'::halfvec <= '[1,2,3]', '[1,2,3]'::halfvec = '[1,2,3]', '[1,2,3]'::halfvec <> '[1,2,4]';
SELECT '[1,2,3]'::halfvec >= '[1,2]', '[1,2,3]'::halfvec > '[1,2,3]', '[-0]'::halfvec = '[0]';
-- equal after rounding to halves
SELECT '[0.1]'::halfvec = '[0.09998]'::halfvec;
SELECT halfvec_cmp('[1,2]', '[1,2]'), halfvec_cmp('[1,2]', '[0,5]'), halfvec_cmp('[1]', '[1,0]'),
	halfvec_cmp('[2]', '[1,5]');
CREATE TABLE hbt (id int, v halfvec);
INSERT INTO hbt VALUES (1, '[0,0,0]'), (2, '[1,2,3]'), (3, '[1,1,1]'), (4, NULL), (5, '[1,2]'),
	(6, '[1,2,3]'), (7, '[-1,5]'), (8, '[-0,0,0]'), (9, '[1,2,3,0]'), (10, '[2]');
SELECT id, v FROM hbt ORDER BY v, id;
SELECT DISTINCT v FROM hbt ORDER BY v;
CREATE INDEX hbt_v ON hbt (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hbt WHERE v = '[1,2,3]';
SELECT id FROM hbt WHERE v = '[1,2,3]' ORDER BY id;
SELECT id FROM hbt WHERE v < '[1,1,1]' ORDER BY v, id;
RESET enable_seqscan;
DROP TABLE hbt;
-- aggregates
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::halfvec), ('[3,5,7]'), (NULL)) t(v);
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::halfvec)) t(v);
SELECT avg(v), sum(v) FROM (SELECT '[1]'::halfvec v WHERE false) t;
SELECT avg(v) FROM (VALUES ('[1,2]'::halfvec), ('[1,2,3]')) t(v);
SELECT sum(v) FROM (VALUES ('[1,2]'::halfvec), ('[1,2,3]')) t(v);
-- the average of large halves stays in range; their sum does not
SELECT avg(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t(v);
SELECT sum(v) FROM (VALUES ('[65504]'::halfvec), ('[65504]')) t(v);
-- parallel aggregation (combine function) gives the serial result (sum is left out: a half sum
-- of many rows saturates, so its value depends on how the rows are split)
CREATE TABLE hagg AS SELECT ARRAY[i % 10, i % 3, 1]::halfvec AS v FROM generate_series(1, 30000) i;
SELECT avg(v) FROM hagg;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT avg(v) FROM hagg;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE hagg;
