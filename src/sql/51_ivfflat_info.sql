-- Introspection and integrity check of ivfflat indexes (src/pg/ivf_info.cpp; new in 0.2.0).
-- Both need SELECT on the indexed table.
CREATE FUNCTION prism.ivfflat_info(index regclass,
	OUT lists integer, OUT dimensions integer, OUT metric text, OUT tuples bigint, OUT empty_lists integer,
	OUT min_list_tuples bigint, OUT max_list_tuples bigint, OUT sample_rows bigint, OUT pages bigint,
	OUT bytes bigint)
	AS 'MODULE_PATHNAME', 'prism_ivfflat_info' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION prism.ivfflat_info(regclass) IS
	'size and shape of an ivfflat index: lists, tuples, smallest and largest list, k-means sample, pages';

CREATE FUNCTION prism.ivfflat_check(index regclass)
	RETURNS TABLE (problem text, block bigint, detail text)
	AS 'MODULE_PATHNAME', 'prism_ivfflat_check' LANGUAGE C STRICT VOLATILE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION prism.ivfflat_check(regclass) IS
	'walks an ivfflat index and returns one row per broken invariant (no rows: the index is sound)';
