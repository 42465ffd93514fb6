-- hnsw index access method and its operator classes (pgvector's names and semantics).
CREATE FUNCTION hnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD hnsw TYPE INDEX HANDLER hnsw_handler;
COMMENT ON ACCESS METHOD hnsw IS 'hnsw index access method (graph built with hnswlib, stored in pages)';

CREATE OPERATOR CLASS vector_l2_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY pg_catalog.float_ops;

CREATE OPERATOR CLASS vector_ip_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY pg_catalog.float_ops;

CREATE OPERATOR CLASS vector_cosine_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY pg_catalog.float_ops;

CREATE FUNCTION prism.last_scan_stats(
	OUT distances bigint, OUT nodes_visited bigint, OUT pages_read bigint,
	OUT tuples_returned bigint, OUT dropped_out_of_order bigint, OUT bound_reached boolean,
	OUT distances_reused bigint)
	AS 'MODULE_PATHNAME', 'prism_last_scan_stats' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION prism.last_scan_stats() IS 'statistics of the last hnsw index scan in this session';

-- What the planner puts in place of `<->` / `<#>` in the rows of an hnsw index scan: the same
-- value, taken from the scan when (tableoid, ctid, query) are the row it just returned and the
-- vector is that row's indexed column as stored (prism.reuse_scan_distances). Called with
-- anything else they compute the operator: they always equal it.
CREATE FUNCTION prism.scan_l2_distance(oid, tid, vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'prism_scan_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION prism.scan_negative_inner_product(oid, tid, vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME', 'prism_scan_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
