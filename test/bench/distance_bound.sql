-- The `WHERE v <-> q < r ORDER BY v <-> q LIMIT 10` shape against both plans (test/bench/README.md,
-- "Distance bounds end the scan"). Run in an empty database with prism installed:
--     psql -X -f test/bench/distance_bound.sql
-- 16-d uniform rows at 3k, 10k and 100k; 10 random queries; r the frac-quantile of each query's
-- distances. Columns: before = the hnsw index with prism.reuse_scan_distances off (no bound
-- rewrite: the scan runs on past r), index = the hnsw index, exact = enable_indexscan off,
-- chosen = the default plan. Mean ms per query, 2 timed rounds after a warm-up.
SET jit = off;
SET client_min_messages = warning;
SELECT setseed(0.8);
CREATE TABLE b3k (id int PRIMARY KEY, v vector(16));
INSERT INTO b3k SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::vector(16) FROM generate_series(1, 3000) i;
CREATE TABLE b10k (id int PRIMARY KEY, v vector(16));
INSERT INTO b10k SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::vector(16) FROM generate_series(1, 10000) i;
CREATE TABLE b100k (id int PRIMARY KEY, v vector(16));
INSERT INTO b100k SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::vector(16) FROM generate_series(1, 100000) i;
CREATE INDEX ON b3k USING hnsw (v vector_l2_ops);
CREATE INDEX ON b10k USING hnsw (v vector_l2_ops);
CREATE INDEX ON b100k USING hnsw (v vector_l2_ops);
VACUUM ANALYZE b3k;
VACUUM ANALYZE b10k;
VACUUM ANALYZE b100k;
CREATE TABLE bq AS SELECT i AS qid, (SELECT array_agg(random()) FROM generate_series(1, 16) WHERE i > 0)::vector(16) AS q
	FROM generate_series(1, 10) i;
CREATE FUNCTION bench(tab text, frac float8, mode text, OUT ms float8, OUT plan text, OUT rows_avg float8) LANGUAGE plpgsql AS $$
DECLARE
	rq record; t0 timestamptz; total float8 := 0; nrows bigint := 0; n int; line text; sql text;
BEGIN
	PERFORM set_config('enable_seqscan', CASE WHEN mode IN ('index', 'before') THEN 'off' ELSE 'on' END, true);
	PERFORM set_config('enable_bitmapscan', CASE WHEN mode IN ('index', 'before') THEN 'off' ELSE 'on' END, true);
	PERFORM set_config('prism.reuse_scan_distances', CASE WHEN mode = 'before' THEN 'off' ELSE 'on' END, true);
	PERFORM set_config('enable_indexscan', CASE WHEN mode = 'exact' THEN 'off' ELSE 'on' END, true);
	FOR rq IN EXECUTE format('SELECT q, (SELECT percentile_disc(%s) WITHIN GROUP (ORDER BY v <-> q) FROM %I) AS r FROM bq', frac, tab) LOOP
		sql := format('SELECT id, v <-> %L::vector AS d FROM %I WHERE v <-> %L::vector < %s ORDER BY v <-> %L::vector LIMIT 10', rq.q, tab, rq.q, rq.r, rq.q);
		FOR round IN 1..3 LOOP
			t0 := clock_timestamp();
			EXECUTE 'SELECT count(*) FROM (' || sql || ') s' INTO n;
			IF round > 1 THEN total := total + extract(epoch FROM clock_timestamp() - t0) * 1000; nrows := nrows + n; END IF;
		END LOOP;
		plan := '';
		FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || sql LOOP
			IF line LIKE '%Index Scan%' THEN plan := 'index'; END IF;
			IF line LIKE '%Seq Scan%' THEN plan := 'exact'; END IF;
		END LOOP;
	END LOOP;
	ms := total / 20; rows_avg := nrows / 20.0;
END $$;
SELECT t AS table, f AS within, round(b.ms::numeric, 3) AS before_ms, round(i.ms::numeric, 3) AS index_ms,
	round(e.ms::numeric, 3) AS exact_ms, d.plan AS chosen, round(d.ms::numeric, 3) AS chosen_ms,
	b.rows_avg AS before_rows, i.rows_avg AS index_rows, e.rows_avg AS exact_rows
FROM (VALUES ('b3k', 0.001), ('b3k', 0.01), ('b3k', 0.1), ('b10k', 0.001), ('b10k', 0.01), ('b10k', 0.1),
	('b100k', 0.00005), ('b100k', 0.001), ('b100k', 0.01), ('b100k', 0.1)) x(t, f),
	bench(t, f, 'before') b, bench(t, f, 'index') i, bench(t, f, 'exact') e, bench(t, f, 'default') d;
