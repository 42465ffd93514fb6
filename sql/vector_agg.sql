-- avg and sum aggregates
SELECT avg(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]']) v;
SELECT avg(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]', NULL]) v;
SELECT avg(v) FROM unnest(ARRAY[]::vector[]) v;
SELECT avg(v) FROM unnest(ARRAY[NULL]::vector[]) v;
SELECT avg(v) FROM unnest(ARRAY['[1,2]'::vector, '[3]']) v;
SELECT avg(v) FROM unnest(ARRAY['[3e38]'::vector, '[3e38]']) v;
SELECT avg(v) FROM unnest(ARRAY['[0.1]'::vector, '[0.2]', '[0.3]']) v;
SELECT sum(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]']) v;
SELECT sum(v) FROM unnest(ARRAY['[1,2,3]'::vector, '[3,5,7]', NULL]) v;
SELECT sum(v) FROM unnest(ARRAY[]::vector[]) v;
SELECT sum(v) FROM unnest(ARRAY['[1,2]'::vector, '[3]']) v;
SELECT sum(v) FROM unnest(ARRAY['[3e38]'::vector, '[3e38]']) v;
-- grouped
SELECT g, avg(v), sum(v) FROM (VALUES (1, '[1,1]'::vector), (1, '[3,5]'), (2, '[2,2]')) t(g, v)
	GROUP BY g ORDER BY g;
-- the state functions ({n, sum_1, ..., sum_dim})
SELECT vector_avg('{2,2,4,6}');
SELECT vector_avg('{0}');
SELECT vector_avg('{1}');
SELECT vector_avg('{{2,2,4,6}}');
SELECT vector_avg('{NULL,2,4,6}');
SELECT vector_avg('{}');
SELECT vector_avg(array_agg(n)) FROM generate_series(1, 16002) n;
SELECT vector_accum('{0}', '[1,2,3]');
SELECT vector_accum('{0,0,0,0}', '[1,2,3]');
SELECT vector_accum('{1,1,2,3}', '[1,2,3]');
SELECT vector_accum('{{0}}', '[1,2,3]');
SELECT vector_accum('{NULL}', '[1,2,3]');
SELECT vector_accum('{}', '[1,2,3]');
SELECT vector_accum('{0,0}', '[1,2,3]');
SELECT vector_combine('{1,2}', '{3,4}');
SELECT vector_combine('{1,2}', '{3,4,5}');
SELECT vector_combine('{{1,2}}', '{3,4}');
SELECT vector_combine('{1,2}', '{{3,4}}');
SELECT vector_combine('{NULL,2}', '{3,4}');
SELECT vector_combine('{1,2}', '{3,NULL}');
SELECT vector_combine('{}', '{0}');
SELECT vector_combine('{0}', '{}');
SELECT vector_combine('{0}', '{0}');
SELECT vector_combine('{0}', '{2,4,6}');
SELECT vector_combine('{2,4,6}', '{0}');
SELECT vector_combine('{0}', (SELECT array_agg(n) FROM generate_series(1, 16002) n));
SELECT vector_combine((SELECT array_agg(n) FROM generate_series(1, 16002) n), '{0}');
-- direct calls do not modify their arguments
WITH s AS (SELECT '{1,1,2,3}'::float8[] AS st) SELECT vector_accum(st, '[1,1,1]'), st FROM s;
-- parallel aggregation (partial + combine + final) gives the serial answer (sums stay
-- exact in float4, so the order of additions does not matter)
CREATE TABLE vagg (v vector(3));
INSERT INTO vagg SELECT ARRAY[i % 100, i % 10, -(i % 7)]::vector FROM generate_series(1, 50000) i;
ANALYZE vagg;
SELECT avg(v), sum(v) FROM vagg;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM vagg;
SELECT avg(v), sum(v) FROM vagg;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT aggfnoid::regprocedure, aggtransfn, aggcombinefn, aggfinalfn, aggtranstype::regtype, agginitval
	FROM pg_aggregate WHERE aggfnoid::regprocedure::text IN ('avg(vector)', 'sum(vector)') ORDER BY aggfnoid::regprocedure::text;
SELECT proname, proparallel FROM pg_proc WHERE proname IN ('avg', 'sum') AND proargtypes[0] = 'vector'::regtype ORDER BY 1;
DROP TABLE vagg;
