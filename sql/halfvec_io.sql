-- halfvec text and binary I/O, typmod and input errors (pgvector 0.8's wording).
SELECT '[1,2,3]'::halfvec;
SELECT '[-1,-2,-3]'::halfvec;
SELECT '[1.,2.,3.]'::halfvec;
SELECT ' [ 1,  2 ,    3  ] '::halfvec;
SELECT '[1.23456]'::halfvec;
-- rounded to the nearest half, printed as the float the half is
SELECT '[0.1,0.2,0.3]'::halfvec;
SELECT '[65504,-65504,65519]'::halfvec;
SELECT '[6e-8,5.9e-8,3e-8,1e-8,-1e-8]'::halfvec;
SELECT '[0.000061035156,0.00006097555]'::halfvec;
SELECT '[2049,2051,4097]'::halfvec;
SELECT '[1e-46,-0]'::halfvec;
-- out of range, not a number, infinite
SELECT '[65520]'::halfvec;
SELECT '[-65520]'::halfvec;
SELECT '[1e39]'::halfvec;
SELECT '[-1e39]'::halfvec;
SELECT '[1,65520,x]'::halfvec;
SELECT '[NaN]'::halfvec;
SELECT '[Infinity]'::halfvec;
SELECT '[-Infinity]'::halfvec;
-- syntax
SELECT '[]'::halfvec;
SELECT '[ ]'::halfvec;
SELECT ''::halfvec;
SELECT '1,2,3'::halfvec;
SELECT '[1,2,3'::halfvec;
SELECT '[1,2,3]9'::halfvec;
SELECT '[1a]'::halfvec;
SELECT '[1,]'::halfvec;
SELECT '[,1]'::halfvec;
SELECT '[1,,2]'::halfvec;
SELECT '[1 2]'::halfvec;
SELECT '[hello]'::halfvec;
-- dimensions and typmod
SELECT array_fill(1, ARRAY[16000])::halfvec IS NOT NULL AS max_dims_ok;
SELECT ('[' || repeat('1,', 16000) || '1]')::halfvec;
SELECT '[1,2,3]'::halfvec(3);
SELECT '[1,2,3]'::halfvec(2);
SELECT '[1,2,3]'::halfvec(3, 2);
SELECT '[1,2,3]'::halfvec(0);
SELECT '[1,2,3]'::halfvec(16001);
CREATE TABLE hio (v halfvec(3));
INSERT INTO hio VALUES ('[1,2,3]');
INSERT INTO hio VALUES ('[1,2]');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'hio'::regclass AND attname = 'v';
DROP TABLE hio;
-- binary send: int16 dim, int16 unused, big-endian halves
SELECT halfvec_send('[1,-2,0.5]');
-- binary receive, through binary COPY of crafted payloads (recv takes `internal`)
CREATE TABLE hbin_src (id int, b bytea);
CREATE TABLE hbin_dst (id int, v halfvec);
CREATE TABLE hbin_dst2 (id int, v halfvec(2));
CREATE FUNCTION hbin_try(payload bytea) RETURNS void LANGUAGE sql AS $$
	TRUNCATE hbin_src; INSERT INTO hbin_src VALUES (1, payload);
$$;
-- well-formed: dim 2, unused 0, 1.0, -2.0
SELECT hbin_try('\x000200003c00c000');
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst2 FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
SELECT * FROM hbin_dst UNION ALL SELECT * FROM hbin_dst2;
-- sent form reads back
TRUNCATE hbin_src;
INSERT INTO hbin_src VALUES (2, halfvec_send('[0.1,65504,-0.00006]'));
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
SELECT id, v, v = '[0.1,65504,-0.00006]' AS same FROM hbin_dst WHERE id = 2;
-- typmod mismatch
SELECT hbin_try('\x000300003c003c003c00');
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst2 FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
-- dim 0, negative dim, dim 16001
SELECT hbin_try('\x00000000');
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
SELECT hbin_try('\xffff00003c00');
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
SELECT hbin_try('\x3e8100003c00');
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
-- unused must be 0
SELECT hbin_try('\x000100013c00');
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
-- NaN, +Infinity, -Infinity
SELECT hbin_try('\x000200003c007e00');
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
SELECT hbin_try('\x000100007c00');
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
SELECT hbin_try('\x00010000fc00');
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
-- truncated element, truncated header, trailing bytes
SELECT hbin_try('\x000200003c00');
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
SELECT hbin_try('\x0001');
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
SELECT hbin_try('\x000100003c0000');
\copy hbin_src TO 'results/halfvec_io.bin' WITH (FORMAT binary)
\copy hbin_dst FROM 'results/halfvec_io.bin' WITH (FORMAT binary)
SELECT count(*) FROM hbin_dst;
DROP TABLE hbin_src, hbin_dst, hbin_dst2;
DROP FUNCTION hbin_try(bytea);
