-- Every row inserted one at a time into an existing index is found by an index scan for its own
-- vector, before any VACUUM. An insert prunes its neighbours' full link lists; a pruning must
-- not drop the last in-link of an element (nor leave a weakly linked one to a long detour), or
-- no search reaches that row until VACUUM reconnects it. Small m and ef_construction make lists
-- fill and get pruned often: without the in-link counts, 12-15 of these 5,000 rows were not
-- found at ef_search 400 (and as many unreached by a scan that runs to the end). A pruning keeps
-- the links to elements with few other in-links (kKeptInLinks); then every row is found in 99 of
-- 100 runs and one row is missed in the other (the data is random, the levels too): at most one
-- miss is allowed.
SET client_min_messages = warning;
SET jit = off;
CREATE TABLE found (id serial PRIMARY KEY, v vector(24)) WITH (autovacuum_enabled = off);
CREATE INDEX found_l2 ON found USING hnsw (v vector_l2_ops) WITH (m = 6, ef_construction = 24);
INSERT INTO found (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 24) WHERE g > 0)::vector(24)
	FROM generate_series(1, 5000) g;
SET enable_seqscan = off;
-- a scan that runs to the end reaches every row
SET hnsw.iterative_scan = relaxed_order;
SET hnsw.max_scan_tuples = 1000000;
SELECT count(*) AS rows_reached FROM (SELECT id FROM found ORDER BY v <-> (SELECT v FROM found WHERE id = 1)) s;
RESET hnsw.iterative_scan;
-- each row (from first_id on) is brought back first by its own vector (distance 0) at ef_search
-- 400; rows a beam of 40 finds need no second look (a wider beam from the same entry finds them)
CREATE FUNCTION not_found_first(first_id int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	missed int[];
	n bigint;
BEGIN
	SET LOCAL hnsw.ef_search = 40;
	SELECT array_agg(r.id) INTO missed FROM found r
		LEFT JOIN LATERAL (SELECT v <-> r.v AS d FROM found ORDER BY v <-> r.v LIMIT 1) x ON true
		WHERE r.id >= first_id AND x.d IS DISTINCT FROM 0;
	SET LOCAL hnsw.ef_search = 400;
	SELECT count(*) INTO n FROM found r
		LEFT JOIN LATERAL (SELECT v <-> r.v AS d FROM found ORDER BY v <-> r.v LIMIT 1) x ON true
		WHERE r.id = ANY (coalesce(missed, '{}')) AND x.d IS DISTINCT FROM 0;
	RETURN n;
END $$;
SELECT not_found_first(1) <= 1 AS all_but_at_most_one_found_first;
-- the in-link counts never exceed the links that exist (index_check compares them)
SELECT count(*) AS index_check_problems FROM prism.index_check('found_l2');
-- after deletes and VACUUM (which recounts in-links before freeing slots) rows inserted into
-- the freed slots are findable at once too
DELETE FROM found WHERE id % 4 = 0;
VACUUM found;
SELECT count(*) AS index_check_problems FROM prism.index_check('found_l2');
INSERT INTO found (v) SELECT (SELECT array_agg(random()) FROM generate_series(1, 24) WHERE g > 0)::vector(24)
	FROM generate_series(1, 1250) g;
SELECT not_found_first(5001) <= 1 AS all_but_at_most_one_found_first;
SELECT count(*) AS index_check_problems FROM prism.index_check('found_l2');
DROP TABLE found;
DROP FUNCTION not_found_first(int);
