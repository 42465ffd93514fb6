-- Bad input from issue 2: each gets a clear ERROR with pgvector's wording and SQLSTATE.
-- verr() shows an error's SQLSTATE, which psql's default output leaves out.
CREATE FUNCTION verr(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- empty vector
SELECT '[]'::vector;
SELECT '[ ]'::vector;
-- malformed text
SELECT '1,2'::vector;
SELECT ''::vector;
SELECT '[1,,2]'::vector;
SELECT '[1, ,2]'::vector;
SELECT '[1,2'::vector;
SELECT '[1 2]'::vector;
SELECT '[1,2]x'::vector;
SELECT '[1,2] ]'::vector;
SELECT '[1,2,3]9'::vector;
SELECT '[hello,1]'::vector;
SELECT '['::vector;
SELECT '[ '::vector;
SELECT '[,'::vector;
SELECT '[,]'::vector;
SELECT '[1,]'::vector;
SELECT '[1a]'::vector;
SELECT '[1;2]'::vector;
SELECT '(1,2)'::vector;
-- huge exponents
SELECT '[1e39]'::vector;
SELECT '[4e38,1]'::vector;
SELECT '[-4e38,1]'::vector;
SELECT '[1,1e99999]'::vector;
-- NaN and Infinity in text
SELECT '[NaN,1]'::vector;
SELECT '[1,nan]'::vector;
SELECT '[Infinity,1]'::vector;
SELECT '[-Infinity,1]'::vector;
SELECT '[1,inf]'::vector;
-- more than 16000 dimensions
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::vector;
SELECT array_fill(1, ARRAY[16001])::vector;
SELECT array_fill(0, ARRAY[16000])::vector || '[1]';
-- bad typmod
SELECT '[1]'::vector(0);
SELECT '[1]'::vector(16001);
SELECT '[1]'::vector(1, 2);
-- typmod mismatch on insert
CREATE TABLE verr_t (v vector(3));
INSERT INTO verr_t VALUES ('[1,2]');
INSERT INTO verr_t VALUES (ARRAY[1,2]);
INSERT INTO verr_t VALUES ('[1,2]'::vector);
UPDATE verr_t SET v = '[1,2,3,4]';
DROP TABLE verr_t;
-- dimension mismatch between operands
SELECT '[1,2]'::vector <-> '[1,2,3]';
SELECT '[1,2]'::vector + '[1]';
-- arithmetic overflow
SELECT '[3e38]'::vector + '[3e38]';
-- NaN / Infinity / nulls / shape in array casts
SELECT '{NaN}'::real[]::vector;
SELECT '{Infinity}'::float8[]::vector;
SELECT '{1,NULL}'::int[]::vector;
SELECT '{{1,2},{3,4}}'::real[]::vector;
-- SQLSTATEs
SELECT verr($$SELECT '[]'::vector$$);
SELECT verr($$SELECT '[1,,2]'::vector$$);
SELECT verr($$SELECT '[1,2]x'::vector$$);
SELECT verr($$SELECT '[1e39]'::vector$$);
SELECT verr($$SELECT '[NaN]'::vector$$);
SELECT verr($$SELECT '[Infinity]'::vector$$);
SELECT verr($$SELECT array_fill(1, ARRAY[16001])::vector$$);
SELECT verr($$SELECT '[1]'::vector(0)$$);
SELECT verr($$SELECT '[1,2]'::vector(3)$$);
SELECT verr($$SELECT '[1,2]'::vector <-> '[1]'$$);
SELECT verr($$SELECT '[3e38]'::vector * '[10]'$$);
SELECT verr($$SELECT '{1,NULL}'::real[]::vector$$);
SELECT verr($$SELECT '{{1}}'::real[]::vector$$);
DROP FUNCTION verr(text);
