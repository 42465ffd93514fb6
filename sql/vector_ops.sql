-- distance operators, functions and arithmetic
-- l2
SELECT l2_distance('[0,0]'::vector, '[3,4]');
SELECT l2_distance('[0,0]'::vector, '[0,1]');
SELECT l2_distance('[1,2]'::vector, '[3]');
SELECT l2_distance('[3e38]'::vector, '[-3e38]');
SELECT l2_distance('[1,1,1,1,1,1,1,1,1]'::vector, '[1,1,1,1,1,1,1,4,5]');
SELECT '[0,0]'::vector <-> '[3,4]';
SELECT '[1,2,3]'::vector <-> '[1,2,3]';
SELECT vector_l2_squared_distance('[0,0]', '[3,4]');
SELECT vector_l2_squared_distance('[0,0]', '[3]');
-- inner product
SELECT inner_product('[1,2]'::vector, '[3,4]');
SELECT inner_product('[1,2]'::vector, '[3]');
SELECT inner_product('[3e38]'::vector, '[3e38]');
SELECT inner_product('[1,1,1,1,1,1,1,1,1]'::vector, '[1,2,3,4,5,6,7,8,9]');
SELECT '[1,2]'::vector <#> '[3,4]';
SELECT vector_negative_inner_product('[1,2]', '[3,4]');
SELECT '[1,2]'::vector <#> '[3]';
-- cosine
SELECT cosine_distance('[1,2]'::vector, '[2,4]');
SELECT cosine_distance('[1,2]'::vector, '[0,0]');
SELECT cosine_distance('[0,0]'::vector, '[0,0]');
SELECT cosine_distance('[1,1]'::vector, '[1,1]');
SELECT cosine_distance('[1,0]'::vector, '[0,2]');
SELECT cosine_distance('[1,1]'::vector, '[-1,-1]');
SELECT cosine_distance('[1,2]'::vector, '[3]');
SELECT cosine_distance('[1,1]'::vector, '[1.1,1.1]');
SELECT cosine_distance('[1,1]'::vector, '[-1.1,-1.1]');
SELECT cosine_distance('[3e38]'::vector, '[3e38]');
SELECT cosine_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[1,2,3,4,5,6,7,8,9]');
SELECT cosine_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[-1,-2,-3,-4,-5,-6,-7,-8,-9]');
SELECT '[1,2]'::vector <=> '[2,4]';
SELECT round(('[1,2]'::vector <=> '[2,1]')::numeric, 6);
-- spherical distance (ivfflat support function in pgvector)
SELECT vector_spherical_distance('[1,0]', '[0,1]');
SELECT vector_spherical_distance('[1,0]', '[-1,0]');
SELECT vector_spherical_distance('[1,0]', '[1,0]');
-- l1
SELECT l1_distance('[0,0]'::vector, '[3,4]');
SELECT l1_distance('[0,0]'::vector, '[0,1]');
SELECT l1_distance('[1,2]'::vector, '[3]');
SELECT l1_distance('[3e38]'::vector, '[-3e38]');
SELECT l1_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[1,2,3,4,5,6,7,8,9]');
SELECT l1_distance('[1,2,3,4,5,6,7,8,9]'::vector, '[0,3,2,5,4,7,6,9,8]');
SELECT '[0,0]'::vector <+> '[3,4]';
-- operators commute
SELECT '[1,2,3]'::vector <-> '[4,5,7]' = '[4,5,7]'::vector <-> '[1,2,3]',
	'[1,2,3]'::vector <#> '[4,5,7]' = '[4,5,7]'::vector <#> '[1,2,3]',
	'[1,2,3]'::vector <=> '[4,5,7]' = '[4,5,7]'::vector <=> '[1,2,3]',
	'[1,2,3]'::vector <+> '[4,5,7]' = '[4,5,7]'::vector <+> '[1,2,3]';
-- SIMD kernels agree with a plain SQL computation on long vectors (dims not multiples of 16)
SELECT setseed(0.7);
CREATE TABLE vops_long AS
	SELECT d, array_agg(round((random() * 2 - 1)::numeric, 3)::float4) AS a,
		array_agg(round((random() * 2 - 1)::numeric, 3)::float4) AS b
	FROM (VALUES (1), (3), (15), (16), (17), (127), (128), (768), (1536), (2000)) dims(d),
		generate_series(1, 2000) i
	WHERE i <= d GROUP BY d;
SELECT d,
	abs((a::vector <-> b::vector) - sqrt((SELECT sum((x - y)::float8 ^ 2) FROM unnest(a, b) u(x, y)))) < 1e-5 * greatest(1, (a::vector <-> b::vector)) AS l2,
	abs(inner_product(a::vector, b::vector) - (SELECT sum(x::float8 * y) FROM unnest(a, b) u(x, y))) < 1e-3 AS ip,
	abs((a::vector <+> b::vector) - (SELECT sum(abs(x::float8 - y)) FROM unnest(a, b) u(x, y))) < 1e-5 * greatest(1, (a::vector <+> b::vector)) AS l1,
	abs(vector_norm(a::vector) - sqrt((SELECT sum(x::float8 ^ 2) FROM unnest(a) u(x)))) < 1e-9 AS norm
	FROM vops_long ORDER BY d;
DROP TABLE vops_long;
-- dims and norm
SELECT vector_dims('[1,2,3]'::vector);
SELECT vector_dims(array_fill(1, ARRAY[16000])::vector);
SELECT round(vector_norm('[1,1]')::numeric, 5);
SELECT vector_norm('[3,4]');
SELECT vector_norm('[0,1]');
SELECT vector_norm('[3e37,4e37]')::real;
SELECT vector_norm('[0,0]');
SELECT vector_norm('[2]');
-- l2_normalize
SELECT l2_normalize('[3,4]'::vector);
SELECT l2_normalize('[3,0]'::vector);
SELECT l2_normalize('[0,0.1]'::vector);
SELECT l2_normalize('[0,0]'::vector);
SELECT l2_normalize('[3e38]'::vector);
SELECT l2_normalize('[3e38,3e38]'::vector);
SELECT round(vector_norm(l2_normalize('[1,2,3,4,5]'::vector))::numeric, 6);
-- binary_quantize
SELECT binary_quantize('[1,0,-1]'::vector);
SELECT binary_quantize('[0,0.1,-0.2,-0.3,0.4,0.5,0.6,-0.7,0.8,-0.9,1]'::vector);
SELECT binary_quantize('[1,2,3,-4,5,6,-7,8,1,-2,-3,4,5,-6,7,8,-1,2,3]'::vector);
-- subvector (1-based start, count)
SELECT subvector('[1,2,3,4,5]'::vector, 1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 2);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 9);
SELECT subvector('[1,2,3,4,5]'::vector, 1, 0);
SELECT subvector('[1,2,3,4,5]'::vector, 3, -1);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 2);
SELECT subvector('[1,2,3,4,5]'::vector, 6, 1);
SELECT subvector('[1,2,3,4,5]'::vector, 2147483647, 10);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 2147483647);
SELECT subvector('[1,2,3,4,5]'::vector, -2147483644, 2147483647);
SELECT subvector('[1,2,3,4,5]'::vector, -2147483648, -2147483648);
-- arithmetic
SELECT '[1,2,3]'::vector + '[4,5,6]';
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[1,2]'::vector + '[3]';
SELECT '[1,2,3]'::vector - '[4,5,6]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[1,2]'::vector - '[3]';
SELECT '[1,2,3]'::vector * '[4,5,6]';
SELECT '[1e37]'::vector * '[1e37]';
SELECT '[1e-37]'::vector * '[1e-37]';
SELECT '[0,-2]'::vector * '[1e-37,0]';
SELECT '[1,2]'::vector * '[3]';
SELECT '[0.1,0.2]'::vector + '[0.2,0.1]';
SELECT '[1,2,3]'::vector || '[4,5]';
SELECT vector_dims(array_fill(0, ARRAY[15999])::vector || '[1]');
SELECT array_fill(0, ARRAY[16000])::vector || '[1]';
-- the implementation functions
SELECT vector_add('[1,2]', '[3,4]'), vector_sub('[1,2]', '[3,4]'), vector_mul('[1,2]', '[3,4]'),
	vector_concat('[1]', '[2]');
-- NULLs (all STRICT)
SELECT '[1,2]'::vector <-> NULL, NULL::vector + '[1]', vector_dims(NULL::vector), l2_normalize(NULL::vector);
-- function properties: every vector function is immutable, strict and parallel safe
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel
	FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'prism'
	WHERE p.prokind = 'f' AND (p.prorettype = 'vector'::regtype OR 'vector'::regtype = ANY (p.proargtypes::oid[]))
	GROUP BY 1, 2, 3, 4 HAVING NOT (p.provolatile = 'i' AND p.proisstrict AND p.proparallel = 's')
	ORDER BY 1;
SELECT count(*) AS vector_functions
	FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'prism'
	WHERE p.prorettype = 'vector'::regtype OR 'vector'::regtype = ANY (p.proargtypes::oid[]);
SELECT oprname, oprleft::regtype, oprright::regtype, oprresult::regtype, oprcode, oprcom::regoperator
	FROM pg_operator WHERE oprleft = 'vector'::regtype ORDER BY oprname;
