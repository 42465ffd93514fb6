-- Index statistics: an hnsw index scan counts in pg_stat_user_indexes (idx_scan once per search,
-- idx_tup_read / idx_tup_fetch per row) and its page accesses in pg_statio_user_indexes, as
-- btree's do. A backend sends its counters when it goes idle after a statement:
-- pg_stat_force_next_flush() makes that immediate, and stats_now() clears the snapshot before
-- reading.
SET client_min_messages = warning;
SET jit = off;
SELECT setseed(0.3);
CREATE TABLE st (id int PRIMARY KEY, v vector(8));
INSERT INTO st SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 8) WHERE i > 0)::vector(8)
	FROM generate_series(1, 3000) i;
CREATE INDEX st_v ON st USING hnsw (v vector_l2_ops);
CREATE TABLE stq (qid int PRIMARY KEY, q vector(8));
INSERT INTO stq SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 8) WHERE i > 0)::vector(8)
	FROM generate_series(1, 3) i;
ANALYZE st, stq;
SET enable_seqscan = off;

-- counters of st_v as seen now, and the pages the scans below read (from prism.last_scan_stats)
CREATE TEMP TABLE seen (scans bigint, tup_read bigint, tup_fetch bigint, blks bigint);
CREATE FUNCTION stats_now() RETURNS seen LANGUAGE plpgsql AS $$
DECLARE
	r seen;
BEGIN
	PERFORM pg_stat_clear_snapshot();
	SELECT idx_scan, idx_tup_read, idx_tup_fetch INTO r.scans, r.tup_read, r.tup_fetch
		FROM pg_stat_user_indexes WHERE indexrelid = 'st_v'::regclass;
	SELECT idx_blks_read + idx_blks_hit INTO r.blks FROM pg_statio_user_indexes WHERE indexrelid = 'st_v'::regclass;
	RETURN r;
END $$;
CREATE TEMP TABLE pages_read (n bigint);
SELECT pg_stat_force_next_flush();
INSERT INTO seen SELECT * FROM stats_now();
SELECT * FROM seen;  -- the build is no scan

-- three plain scans of 5, 7 and 11 rows
EXPLAIN (COSTS OFF) SELECT id FROM st ORDER BY v <-> (SELECT q FROM stq WHERE qid = 1) LIMIT 5;
SELECT count(*) FROM (SELECT id FROM st ORDER BY v <-> (SELECT q FROM stq WHERE qid = 1) LIMIT 5) s;
INSERT INTO pages_read SELECT pages_read FROM prism.last_scan_stats();
SELECT count(*) FROM (SELECT id FROM st ORDER BY v <-> (SELECT q FROM stq WHERE qid = 2) LIMIT 7) s;
INSERT INTO pages_read SELECT pages_read FROM prism.last_scan_stats();
SELECT count(*) FROM (SELECT id FROM st ORDER BY v <-> (SELECT q FROM stq WHERE qid = 3) LIMIT 11) s;
INSERT INTO pages_read SELECT pages_read FROM prism.last_scan_stats();
-- idx_scan grew by the 3 scans, idx_tup_read and idx_tup_fetch by the 23 rows; every page the
-- scans read counts as a block read or hit (plus one metapage read per scan)
SELECT pg_stat_force_next_flush();
SELECT n.scans - o.scans AS scans, n.tup_read - o.tup_read AS tup_read, n.tup_fetch - o.tup_fetch AS tup_fetch,
	n.blks - o.blks = (SELECT sum(n) FROM pages_read) + 3 AS blocks_counted
	FROM stats_now() n, seen o;

-- a rescanned index scan (the inner side of a LATERAL join) counts each search: 3 more
TRUNCATE seen;
SELECT pg_stat_force_next_flush();
INSERT INTO seen SELECT * FROM stats_now();
EXPLAIN (COSTS OFF) SELECT stq.qid, s.id FROM stq, LATERAL (SELECT id FROM st ORDER BY v <-> stq.q LIMIT 4) s;
SELECT count(*) FROM stq, LATERAL (SELECT id FROM st ORDER BY v <-> stq.q LIMIT 4) s;
SELECT pg_stat_force_next_flush();
SELECT n.scans - o.scans AS scans, n.tup_read - o.tup_read AS tup_read, n.tup_fetch - o.tup_fetch AS tup_fetch
	FROM stats_now() n, seen o;

-- a scan of an empty index counts too (as btree's does)
CREATE TABLE st_empty (v vector(8));
CREATE INDEX st_empty_v ON st_empty USING hnsw (v vector_l2_ops);
SELECT count(*) FROM (SELECT * FROM st_empty ORDER BY v <-> (SELECT q FROM stq WHERE qid = 1) LIMIT 5) s;
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
SELECT idx_scan, idx_tup_read FROM pg_stat_user_indexes WHERE indexrelid = 'st_empty_v'::regclass;

RESET enable_seqscan;
DROP TABLE st, stq, st_empty, seen, pages_read CASCADE;
