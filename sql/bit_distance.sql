-- hamming_distance and jaccard_distance on bit strings, their operators, and binary_quantize.
SELECT hamming_distance(B'111', B'111'), hamming_distance(B'111', B'110'), hamming_distance(B'111', B'000');
SELECT B'111' <~> B'101', B'000' <~> B'000';
SELECT jaccard_distance(B'1111', B'1111'), jaccard_distance(B'1111', B'1100'), jaccard_distance(B'1100', B'0011');
SELECT B'1110' <%> B'0111', B'0000' <%> B'0000', B'0000' <%> B'1000';
SELECT hamming_distance(B'111', B'11');
SELECT jaccard_distance(B'111', B'1111');
SELECT B'1' <~> B'10';
SELECT hamming_distance(NULL, B'1'), jaccard_distance(B'1', NULL);
-- varbit arguments are accepted through the implicit cast to bit
SELECT '1010'::varbit <~> '0110'::varbit;
-- lengths that are not multiples of 8 or 64, and long strings, against a per-bit count
CREATE TABLE bits (id int, a bit varying, b bit varying);
INSERT INTO bits SELECT n, string_agg(CASE WHEN (i * 7 + n) % 3 = 0 THEN '1' ELSE '0' END, '' ORDER BY i)::varbit,
	string_agg(CASE WHEN (i * 5 + n) % 4 = 1 THEN '1' ELSE '0' END, '' ORDER BY i)::varbit
	FROM (VALUES (1), (7), (8), (9), (63), (64), (65), (127), (300), (1000), (64000)) d(n),
		generate_series(1, n) i GROUP BY n;
SELECT id,
	hamming_distance(a, b) = (SELECT count(*) FROM generate_series(0, id - 1) k WHERE get_bit(a, k) <> get_bit(b, k)) AS hamming_ok,
	jaccard_distance(a, b) = CASE WHEN bit_count(a & b) = 0 THEN 1
		ELSE 1 - bit_count(a & b)::float8 / bit_count(a | b) END AS jaccard_ok,
	a <~> b = b <~> a AND a <%> b = b <%> a AS symmetric,
	a <~> a = 0 AND a <%> a = CASE WHEN bit_count(a) = 0 THEN 1 ELSE 0 END AS self
	FROM bits ORDER BY id;
-- shifting and substring keep the pad bits zero, so whole-byte counting stays exact
SELECT hamming_distance(B'111111111' >> 3, B'000000000'), hamming_distance(substring(B'1111111111' from 2 for 5), B'00000');
DROP TABLE bits;
-- ORDER BY a bit distance, and binary quantization with re-ranking by the exact distance
CREATE TABLE bq (id int, v vector(4));
INSERT INTO bq VALUES (1, '[1,1,1,1]'), (2, '[1,-1,1,-1]'), (3, '[-1,-1,-1,-1]'), (4, '[1,1,1,-0.5]'), (5, '[0,2,2,2]');
SELECT id, binary_quantize(v), binary_quantize(v) <~> binary_quantize('[1,1,1,1]'::vector) AS hamming
	FROM bq ORDER BY hamming, id;
SELECT id FROM (SELECT id, v FROM bq ORDER BY binary_quantize(v)::bit(4) <~> binary_quantize('[1,1,1,0.9]'::vector) LIMIT 3) t
	ORDER BY v <-> '[1,1,1,0.9]' LIMIT 2;
SELECT binary_quantize(v::halfvec) = binary_quantize(v) AS same_as_halfvec FROM bq ORDER BY id;
DROP TABLE bq;
