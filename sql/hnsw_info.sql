-- prism.index_info / index_check / index_is_valid: output, errors, privileges.
CREATE TABLE vinfo (id int PRIMARY KEY, v vector(3));
INSERT INTO vinfo VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]'), (4, '[1,1,0]'), (5, '[0,1,1]'),
	(6, '[1,0,1]'), (7, '[1,1,1]'), (8, '[2,0,0]'), (9, '[0,2,0]'), (10, '[0,0,2]'), (11, '[1,1,1]'), (12, '[1,1,1]');
CREATE INDEX vinfo_l2 ON vinfo USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 10);
CREATE INDEX vinfo_ip ON vinfo USING hnsw (v vector_ip_ops);
CREATE INDEX vinfo_cos ON vinfo USING hnsw (v vector_cosine_ops) WITH (m = 6);

SELECT elements, deleted_elements, free_slots, duplicate_tids, levels >= 1 AS has_levels,
	bytes = pages * current_setting('block_size')::bigint AS bytes_ok, m, ef_construction, dimensions, metric
	FROM prism.index_info('vinfo_l2');
SELECT elements, duplicate_tids, m, ef_construction, dimensions, metric FROM prism.index_info('vinfo_ip');
SELECT elements, duplicate_tids, m, ef_construction, dimensions, metric FROM prism.index_info('vinfo_cos');
SELECT * FROM prism.index_check('vinfo_l2');
SELECT prism.index_is_valid('vinfo_l2'), prism.index_is_valid('vinfo_ip'), prism.index_is_valid('vinfo_cos');

-- an empty index
CREATE TABLE vinfo_empty (v vector(5));
CREATE INDEX vinfo_empty_v ON vinfo_empty USING hnsw (v vector_l2_ops);
SELECT * FROM prism.index_info('vinfo_empty_v');
SELECT * FROM prism.index_check('vinfo_empty_v');

-- STRICT
SELECT prism.index_info(NULL) IS NULL AS is_null;
SELECT count(*) FROM prism.index_check(NULL);

-- not an hnsw index
SELECT * FROM prism.index_info('vinfo_pkey');
SELECT * FROM prism.index_info('vinfo');
SELECT * FROM prism.index_check('vinfo_pkey');
SELECT prism.index_is_valid('vinfo');
CREATE SEQUENCE vinfo_seq;
SELECT * FROM prism.index_info('vinfo_seq');
CREATE TABLE vinfo_part (id int, v vector(3)) PARTITION BY RANGE (id);
CREATE INDEX vinfo_part_v ON vinfo_part USING btree (id);
SELECT * FROM prism.index_info('vinfo_part_v');
SELECT * FROM prism.index_info('no_such_index');

-- privileges: SELECT on the indexed table is required
CREATE ROLE regress_prism_info;
GRANT USAGE ON SCHEMA prism TO regress_prism_info;
SET ROLE regress_prism_info;
SELECT elements FROM prism.index_info('vinfo_l2');
SELECT * FROM prism.index_check('vinfo_l2');
SELECT prism.index_is_valid('vinfo_l2');
RESET ROLE;
GRANT SELECT ON vinfo TO regress_prism_info;
SET ROLE regress_prism_info;
SELECT elements FROM prism.index_info('vinfo_l2');
SELECT prism.index_is_valid('vinfo_l2');
RESET ROLE;

-- function properties
SELECT proname, provolatile, proisstrict, proparallel, prosecdef FROM pg_proc
	WHERE pronamespace = 'prism'::regnamespace AND proname IN ('index_info', 'index_check', 'index_is_valid')
	ORDER BY proname;

DROP TABLE vinfo, vinfo_empty, vinfo_part;
DROP SEQUENCE vinfo_seq;
REVOKE ALL ON SCHEMA prism FROM regress_prism_info;
DROP ROLE regress_prism_info;

-- upper-level links live after the element records of full element pages (format 2): at 784-d
-- (two records per page) neither the bulk build nor later inserts need pages of their own for
-- them, so the index is the metapage plus one page per two rows; index_check stays clean
CREATE TABLE vinfo_wide (id int, v vector(784));
INSERT INTO vinfo_wide SELECT i, (SELECT array_agg(random())::real[]::vector FROM generate_series(1, 784) WHERE i > 0)
	FROM generate_series(1, 400) i;
CREATE INDEX vinfo_wide_v ON vinfo_wide USING hnsw (v vector_l2_ops);
SELECT elements, levels > 1 AS has_upper_levels, pages, pages = 1 + 400 / 2 AS no_upper_pages FROM prism.index_info('vinfo_wide_v');
INSERT INTO vinfo_wide SELECT i, (SELECT array_agg(random())::real[]::vector FROM generate_series(1, 784) WHERE i > 0)
	FROM generate_series(401, 600) i;
SELECT elements, pages, pages = 1 + 600 / 2 AS no_upper_pages FROM prism.index_info('vinfo_wide_v');
SELECT prism.index_is_valid('vinfo_wide_v');
DROP TABLE vinfo_wide;
