-- sparsevec text and binary I/O, typmod and input errors (pgvector 0.8's wording).
SELECT '{1:1.5,3:2}/5'::sparsevec;
SELECT '{}/5'::sparsevec;
SELECT ' { 1 : 1.5 , 3 : 2 } / 5 '::sparsevec;
-- input order does not matter; output is sorted; explicit zeros are dropped
SELECT '{3:2,1:1.5}/5'::sparsevec;
SELECT '{1:0,2:1,3:-0}/3'::sparsevec;
SELECT '{5:0}/3'::sparsevec;
SELECT '{1:-1,2:1e-3,3:1e30,4:1.5e-38}/4'::sparsevec;
SELECT '{1:1,1000000000:2}/1000000000'::sparsevec;
-- index errors
SELECT '{1:1,1:2}/3'::sparsevec;
SELECT '{2:1,1:2,2:3}/3'::sparsevec;
SELECT '{0:1}/3'::sparsevec;
SELECT '{4:1}/3'::sparsevec;
SELECT '{-1:1}/3'::sparsevec;
SELECT '{99999999999:1}/3'::sparsevec;
SELECT '{1:1,1:1,9:1}/3'::sparsevec;
SELECT '{1:1,2:1,3:1,4:1}/3'::sparsevec;
-- value errors
SELECT '{1:NaN}/3'::sparsevec;
SELECT '{1:Infinity}/3'::sparsevec;
SELECT '{1:-inf}/3'::sparsevec;
SELECT '{1:1e39}/3'::sparsevec;
SELECT '{1:1e-50}/3'::sparsevec;
-- dimensions
SELECT '{}/0'::sparsevec;
SELECT '{}/-1'::sparsevec;
SELECT '{}/1000000001'::sparsevec;
SELECT '{}/99999999999'::sparsevec;
-- syntax
SELECT ''::sparsevec;
SELECT '[1,2]'::sparsevec;
SELECT '{1:1}'::sparsevec;
SELECT '{1:1}/'::sparsevec;
SELECT '{1:1}/3x'::sparsevec;
SELECT '{1:1}/3/4'::sparsevec;
SELECT '{1}/3'::sparsevec;
SELECT '{1:}/3'::sparsevec;
SELECT '{:1}/3'::sparsevec;
SELECT '{1:1,}/3'::sparsevec;
SELECT '{1:1 2:2}/3'::sparsevec;
SELECT '{1:1'::sparsevec;
SELECT '{a:1}/3'::sparsevec;
SELECT '{1.5:1}/3'::sparsevec;
-- non-zero limit: 16,000, judged by the commas first
SELECT vector_dims(('{' || string_agg(i || ':1', ',') || '}/16000')::sparsevec::vector)
	FROM generate_series(1, 16000) i;
SELECT ('{' || string_agg(i || ':1', ',') || '}/20000')::sparsevec FROM generate_series(1, 16001) i;
SELECT ('{1:1' || repeat(',', 16000) || '}/3')::sparsevec;
-- typmod
SELECT '{1:1}/3'::sparsevec(3);
SELECT '{1:1}/3'::sparsevec(4);
SELECT '{1:1}/3'::sparsevec(3, 2);
SELECT '{1:1}/3'::sparsevec(0);
SELECT '{1:1}/3'::sparsevec(1000000001);
CREATE TABLE sio (v sparsevec(3));
INSERT INTO sio VALUES ('{1:1}/3');
INSERT INTO sio VALUES ('{1:1}/4');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'sio'::regclass AND attname = 'v';
DROP TABLE sio;
-- binary send: int32 dim, int32 nnz, int32 unused, 0-based int32 indices, float4 values
SELECT sparsevec_send('{1:1.5,3:-2}/5');
-- binary receive, through binary COPY of crafted payloads (recv takes `internal`)
CREATE TABLE sbin_src (id int, b bytea);
CREATE TABLE sbin_dst (id int, v sparsevec);
CREATE TABLE sbin_dst5 (id int, v sparsevec(5));
CREATE FUNCTION sbin_try(payload bytea) RETURNS void LANGUAGE sql AS $$
	TRUNCATE sbin_src; INSERT INTO sbin_src VALUES (1, payload);
$$;
-- well-formed: dim 5, nnz 2, indices 0 and 2, values 1.5 and -2
SELECT sbin_try('\x00000005000000020000000000000000000000023fc00000c0000000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst5 FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
SELECT * FROM sbin_dst UNION ALL SELECT * FROM sbin_dst5;
-- nnz 0
SELECT sbin_try('\x000000050000000000000000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
SELECT * FROM sbin_dst ORDER BY v;
-- typmod mismatch
SELECT sbin_try('\x000000040000000000000000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst5 FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
-- dim 0, dim 1000000001
SELECT sbin_try('\x000000000000000000000000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
SELECT sbin_try('\x3b9aca010000000000000000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
-- nnz negative, above 16000, above dim
SELECT sbin_try('\x00000005ffffffff00000000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
SELECT sbin_try('\x00004e2000003e8100000000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
SELECT sbin_try('\x00000001000000020000000000000000000000013f8000003f800000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
-- unused must be 0
SELECT sbin_try('\x000000050000000000000001');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
-- index out of bounds, not ascending, duplicate
SELECT sbin_try('\x000000050000000100000000000000053f800000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
SELECT sbin_try('\x00000005000000020000000000000002000000013f8000003f800000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
SELECT sbin_try('\x00000005000000020000000000000002000000023f8000003f800000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
-- zero, NaN, infinite value
SELECT sbin_try('\x0000000500000001000000000000000100000000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
SELECT sbin_try('\x000000050000000100000000000000017fc00000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
SELECT sbin_try('\x00000005000000010000000000000001ff800000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
-- truncated header, truncated values, trailing bytes
SELECT sbin_try('\x0000000500000001');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
SELECT sbin_try('\x00000005000000010000000000000001');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
SELECT sbin_try('\x000000050000000100000000000000013f80000000');
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
-- the sent form reads back
TRUNCATE sbin_src, sbin_dst;
INSERT INTO sbin_src VALUES (2, sparsevec_send('{2:0.1,7:-3e-20,100:65536}/100'));
\copy sbin_src TO 'results/sparsevec_io.bin' WITH (FORMAT binary)
\copy sbin_dst FROM 'results/sparsevec_io.bin' WITH (FORMAT binary)
SELECT v, v = '{2:0.1,7:-3e-20,100:65536}/100' AS same FROM sbin_dst;
DROP TABLE sbin_src, sbin_dst, sbin_dst5;
DROP FUNCTION sbin_try(bytea);
