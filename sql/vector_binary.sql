-- Malformed binary input. recv cannot be called from SQL (it takes `internal`), so each case
-- writes a crafted payload as a bytea column with binary COPY, then reads the same file into
-- a vector column: binary COPY hands each field's raw bytes to vector_recv.
CREATE TABLE vbin_src (id int, b bytea);
CREATE TABLE vbin_dst (id int, v vector);
CREATE TABLE vbin_dst3 (id int, v vector(3));
CREATE FUNCTION vbin_try(payload bytea) RETURNS void LANGUAGE sql AS $$
	TRUNCATE vbin_src; INSERT INTO vbin_src VALUES (1, payload);
$$;
-- well-formed: dim 2, unused 0, 1.0, 2.0
SELECT vbin_try('\x000200003f80000040000000');
\copy vbin_src TO 'results/vector_binary.bin' WITH (FORMAT binary)
\copy vbin_dst FROM 'results/vector_binary.bin' WITH (FORMAT binary)
SELECT * FROM vbin_dst;
-- dim 0
SELECT vbin_try('\x00000000');
\copy vbin_src TO 'results/vector_binary.bin' WITH (FORMAT binary)
\copy vbin_dst FROM 'results/vector_binary.bin' WITH (FORMAT binary)
-- negative dim (0xffff)
SELECT vbin_try('\xffff00003f800000');
\copy vbin_src TO 'results/vector_binary.bin' WITH (FORMAT binary)
\copy vbin_dst FROM 'results/vector_binary.bin' WITH (FORMAT binary)
-- dim 16001
SELECT vbin_try('\x3e8100003f800000');
\copy vbin_src TO 'results/vector_binary.bin' WITH (FORMAT binary)
\copy vbin_dst FROM 'results/vector_binary.bin' WITH (FORMAT binary)
-- unused must be 0
SELECT vbin_try('\x000100013f800000');
\copy vbin_src TO 'results/vector_binary.bin' WITH (FORMAT binary)
\copy vbin_dst FROM 'results/vector_binary.bin' WITH (FORMAT binary)
-- NaN element
SELECT vbin_try('\x000200003f8000007fc00000');
\copy vbin_src TO 'results/vector_binary.bin' WITH (FORMAT binary)
\copy vbin_dst FROM 'results/vector_binary.bin' WITH (FORMAT binary)
-- +Infinity and -Infinity elements
SELECT vbin_try('\x000100007f800000');
\copy vbin_src TO 'results/vector_binary.bin' WITH (FORMAT binary)
\copy vbin_dst FROM 'results/vector_binary.bin' WITH (FORMAT binary)
SELECT vbin_try('\x00010000ff800000');
\copy vbin_src TO 'results/vector_binary.bin' WITH (FORMAT binary)
\copy vbin_dst FROM 'results/vector_binary.bin' WITH (FORMAT binary)
-- truncated: dim 2 but one float
SELECT vbin_try('\x000200003f800000');
\copy vbin_src TO 'results/vector_binary.bin' WITH (FORMAT binary)
\copy vbin_dst FROM 'results/vector_binary.bin' WITH (FORMAT binary)
-- truncated header
SELECT vbin_try('\x0001');
\copy vbin_src TO 'results/vector_binary.bin' WITH (FORMAT binary)
\copy vbin_dst FROM 'results/vector_binary.bin' WITH (FORMAT binary)
-- trailing bytes after the last float
SELECT vbin_try('\x000100003f80000000');
\copy vbin_src TO 'results/vector_binary.bin' WITH (FORMAT binary)
\copy vbin_dst FROM 'results/vector_binary.bin' WITH (FORMAT binary)
-- typmod mismatch: dim 2 into vector(3)
SELECT vbin_try('\x000200003f80000040000000');
\copy vbin_src TO 'results/vector_binary.bin' WITH (FORMAT binary)
\copy vbin_dst3 FROM 'results/vector_binary.bin' WITH (FORMAT binary)
-- only the first, well-formed row arrived
SELECT * FROM vbin_dst;
SELECT count(*) FROM vbin_dst3;
DROP FUNCTION vbin_try(bytea);
DROP TABLE vbin_src, vbin_dst, vbin_dst3;
