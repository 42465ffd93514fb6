-- Introspection and integrity check of hnsw indexes (src/pg/hnsw_info.cpp). Both need SELECT
-- on the indexed table.
CREATE FUNCTION prism.index_info(index regclass,
	OUT elements bigint, OUT deleted_elements bigint, OUT free_slots bigint, OUT duplicate_tids bigint,
	OUT levels integer, OUT pages bigint, OUT bytes bigint, OUT m integer, OUT ef_construction integer,
	OUT dimensions integer, OUT metric text, OUT element_type text, OUT sparse_pages bigint)
	AS 'MODULE_PATHNAME', 'prism_index_info' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION prism.index_info(regclass) IS
	'size and shape of an hnsw index: live and deleted elements, free slots, heap TIDs sharing an element, levels, pages, stored element type, pages of sparse elements'' non-zeros';

CREATE FUNCTION prism.index_check(index regclass)
	RETURNS TABLE (problem text, element bigint, detail text)
	AS 'MODULE_PATHNAME', 'prism_index_check' LANGUAGE C STRICT VOLATILE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION prism.index_check(regclass) IS
	'walks an hnsw index and returns one row per broken invariant (no rows: the index is sound)';

-- A SQL-standard body: parsed once here, bound to prism.index_check by OID, so the caller's
-- search_path cannot redirect it (a string body would be parsed again at every call).
CREATE FUNCTION prism.index_is_valid(index regclass) RETURNS boolean
	LANGUAGE sql STRICT VOLATILE PARALLEL SAFE
	RETURN NOT EXISTS (SELECT 1 FROM prism.index_check(index));
COMMENT ON FUNCTION prism.index_is_valid(regclass) IS 'true when prism.index_check() finds no problem';
