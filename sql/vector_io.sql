-- vector text and binary I/O, typmod, output format
SELECT '[1,2,3]'::vector;
SELECT '[-1,-2,-3]'::vector;
SELECT '[1.,2.,3.]'::vector;
SELECT ' [ 1,  2 ,    3  ] '::vector;
SELECT E'\t[\n1,\r2\f,3 ]\n'::vector;
SELECT '[+1,2.5,-3e-2]'::vector;
SELECT '[1.23456]'::vector;
SELECT '[1.5e38,-1.5e38]'::vector;
SELECT '[1.5e+38,-1.5e+38]'::vector;
SELECT '[1.5e-38,-1.5e-38]'::vector;
SELECT '[3.4028235e38]'::vector;
-- underflow reads as zero (keeps its sign), as in pgvector
SELECT '[1e-46,1]'::vector;
SELECT '[-1e-46,1]'::vector;
SELECT '[1e-45,-1e-45]'::vector;
-- shortest round-trip output, float4out layout
SELECT '[0.1,0.2,0.3]'::vector;
SELECT '[0.0001,0.00001,100000,1000000,1234567,123456.7]'::vector;
SELECT '[1e-7,0.33333334,-0,0]'::vector;
SELECT '[0.1234567891234]'::vector;
-- output matches Postgres' float4 output for many values
SELECT setseed(0.42);
CREATE TABLE vio_floats AS
	SELECT ((random() * 2 - 1) * 10 ^ (random() * 76 - 38))::float4 AS f
	FROM generate_series(1, 20000);
INSERT INTO vio_floats VALUES (0), ('-0'), (1), (-1), (0.1), (1e-45), (3.4028235e38), (1.1754944e-38);
SELECT count(*) AS mismatches FROM vio_floats
	WHERE ARRAY[f]::vector::text <> '[' || f::text || ']';
-- and reads back to the same value
SELECT count(*) AS mismatches FROM vio_floats
	WHERE (ARRAY[f]::vector)::text::vector::real[] <> ARRAY[f];
DROP TABLE vio_floats;
-- typmod
SELECT '[1,2,3]'::vector(3);
SELECT '[1,2,3]'::vector(2);
SELECT '[1,2,3]'::vector(3, 2);
SELECT '[1,2,3]'::vector('a');
SELECT '[1,2,3]'::vector(0);
SELECT '[1,2,3]'::vector(16001);
SELECT '[1,2,3]'::vector(-1);
CREATE TABLE vio_t (v vector(3));
INSERT INTO vio_t VALUES ('[1,2,3]');
INSERT INTO vio_t VALUES ('[1,2]');
INSERT INTO vio_t VALUES ('[1,2,3,4]');
COPY vio_t FROM STDIN;
[4,5,6]
\.
COPY vio_t FROM STDIN;
[4,5]
\.
SELECT * FROM vio_t ORDER BY v;
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'vio_t'::regclass AND attname = 'v';
CREATE TABLE vio_bad (v vector(0));
CREATE TABLE vio_bad (v vector(16001));
CREATE TABLE vio_max (v vector(16000));
INSERT INTO vio_max SELECT array_fill(1.5, ARRAY[16000])::vector;
SELECT vector_dims(v), v = array_fill(1.5, ARRAY[16000])::real[]::vector FROM vio_max;
DROP TABLE vio_max;
SELECT unnest('{"[1,2,3]", "[4,5,6]"}'::vector[]);
SELECT '{"[1,2,3]"}'::vector(2)[];
-- binary: send layout (int16 dim, int16 unused, big-endian float4s)
SELECT vector_send('[1,2,-0.5]');
SELECT vector_send('[-0]');
-- binary COPY round trip
INSERT INTO vio_t VALUES (NULL), ('[1e-45,-3.4028235e38,0.1]');
CREATE TABLE vio_t2 (v vector(3));
\copy vio_t TO 'results/vector_io.bin' WITH (FORMAT binary)
\copy vio_t2 FROM 'results/vector_io.bin' WITH (FORMAT binary)
SELECT * FROM vio_t2 ORDER BY v;
SELECT count(*) FROM vio_t JOIN vio_t2 USING (v);
-- binary into a vector(2) column: typmod checked by recv
CREATE TABLE vio_t3 (v vector(2));
\copy vio_t3 FROM 'results/vector_io.bin' WITH (FORMAT binary)
DROP TABLE vio_t, vio_t2, vio_t3;
-- storage main: a 784-d vector of incompressible floats stays inline and uncompressed (no TOAST
-- read per returned row); a 4,000-d one goes out of line; both read back intact
SELECT typstorage FROM pg_type WHERE typname = 'vector';
CREATE TABLE vio_wide (id int, v vector);
CREATE FUNCTION pg_temp.wave(d int) RETURNS vector LANGUAGE sql
	AS $$ SELECT array_agg(sin(i * 7.1 + d))::real[]::vector FROM generate_series(1, d) i $$;
INSERT INTO vio_wide VALUES (784, pg_temp.wave(784));
SELECT pg_column_size(v) AS stored_bytes, pg_relation_size(reltoastrelid) AS toast_heap_bytes
	FROM vio_wide, pg_class WHERE relname = 'vio_wide';
INSERT INTO vio_wide VALUES (4000, pg_temp.wave(4000));
SELECT pg_relation_size(reltoastrelid) > 0 AS toasted FROM pg_class WHERE relname = 'vio_wide';
SELECT id, vector_dims(v), v = pg_temp.wave(id) AS intact FROM vio_wide ORDER BY id;
DROP TABLE vio_wide;
