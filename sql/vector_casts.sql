-- casts between vector and arrays
SELECT ARRAY[1,2,3]::vector;
SELECT ARRAY[1.0,2.0,3.0]::vector;
SELECT ARRAY[1,2,3]::real[]::vector;
SELECT ARRAY[1,2,3]::double precision[]::vector;
SELECT ARRAY[1,2,3]::numeric[]::vector;
SELECT '{1,2,3}'::real[]::vector;
SELECT '{1,2,3}'::real[]::vector(3);
SELECT '{1,2,3}'::real[]::vector(2);
SELECT '{1,2,3}'::double precision[]::vector(3);
SELECT '{1,2,3}'::double precision[]::vector(2);
SELECT '{1,2,3}'::int[]::vector(2);
SELECT '{1,2,3}'::numeric[]::vector(2);
SELECT '{0.1,-2.5,1e-40}'::numeric[]::vector;
SELECT '{16777217,-2147483648}'::int[]::vector;
SELECT '{0.1,1e-46,-1e-46}'::double precision[]::vector;
-- nulls, shape, empty
SELECT '{NULL}'::real[]::vector;
SELECT '{1,NULL,3}'::int[]::vector;
SELECT '{1,NULL}'::numeric[]::vector;
SELECT '{1,NULL}'::double precision[]::vector;
SELECT '{}'::real[]::vector;
SELECT '{}'::int[]::vector;
SELECT '{{1}}'::real[]::vector;
SELECT '{{1,2},{3,4}}'::int[]::vector;
-- NaN and infinity
SELECT '{NaN}'::real[]::vector;
SELECT '{Infinity}'::real[]::vector;
SELECT '{-Infinity}'::real[]::vector;
SELECT '{1,NaN}'::double precision[]::vector;
SELECT '{Infinity}'::double precision[]::vector;
SELECT '{NaN}'::numeric[]::vector;
-- out of float range
SELECT '{4e38,-4e38}'::double precision[]::vector;
SELECT '{4e38}'::numeric[]::vector;
-- limits
SELECT vector_dims(array_agg(n)::vector) FROM generate_series(1, 16000) n;
SELECT array_agg(n)::vector FROM generate_series(1, 16001) n;
SELECT array_to_vector(array_agg(n), 16001, false) FROM generate_series(1, 16001) n;
-- the cast functions directly
SELECT array_to_vector('{1,2}'::int[], -1, false);
SELECT array_to_vector('{1,2}'::real[], 2, true);
SELECT array_to_vector('{1,2}'::double precision[], 3, true);
SELECT vector('[1,2]'::vector, 2, true);
SELECT vector('[1,2]'::vector, 3, true);
SELECT vector_to_float4('[1,2]'::vector, -1, false);
-- vector to real[] (implicit, as in pgvector)
SELECT '[1,2,3]'::vector::real[];
SELECT '[0.1,-0,1e-45]'::vector::real[];
CREATE FUNCTION vcast_total(a real[]) RETURNS real LANGUAGE sql AS 'SELECT sum(x) FROM unnest(a) x';
SELECT vcast_total('[1,2,3.5]'::vector);
DROP FUNCTION vcast_total(real[]);
-- vector(n) to vector(m)
SELECT '[1,2,3]'::vector::vector(3);
SELECT '[1,2,3]'::vector::vector(2);
-- assignment casts into a vector column
CREATE TABLE vcast_t (v vector(3));
INSERT INTO vcast_t VALUES (ARRAY[1,2,3]), (ARRAY[1.5,2.5,3.5]), ('{4,5,6}'::real[]), ('{7,8,9}'::float8[]);
INSERT INTO vcast_t VALUES (ARRAY[1,2]);
INSERT INTO vcast_t VALUES ('{1,NULL,3}'::real[]);
SELECT * FROM vcast_t ORDER BY v;
DROP TABLE vcast_t;
-- casts are assignment-only from arrays: no implicit array -> vector
SELECT ARRAY[1,2,3] <-> '[1,2,3]'::vector;
-- registered casts and contexts
SELECT castsource::regtype, casttarget::regtype, castfunc::regprocedure, castcontext
	FROM pg_cast WHERE castsource = 'vector'::regtype OR casttarget = 'vector'::regtype
	ORDER BY castsource::regtype::text, casttarget::regtype::text;
