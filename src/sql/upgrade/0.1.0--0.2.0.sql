-- prism upgrade script 0.1.0 -> 0.2.0, assembled by the Makefile: this file, then the
-- src/sql parts new in 0.2.0 (Makefile SQL_NEW_IN_0_2_0).
\echo Use "ALTER EXTENSION prism UPDATE TO '0.2.0'" to load this file. \quit

-- Statements for objects of 0.1.0 whose definition changed in 0.2.0 go here (ALTER ...,
-- CREATE OR REPLACE FUNCTION ... with the new definition). The same safe-script rules as
-- src/sql/00_header.sql apply.

-- index_info gained the columns element_type and sparse_pages (its result type changes, so
-- CREATE OR REPLACE cannot do it; nothing in the extension depends on the function).
DROP FUNCTION prism.index_info(regclass);
CREATE FUNCTION prism.index_info(index regclass,
	OUT elements bigint, OUT deleted_elements bigint, OUT free_slots bigint, OUT duplicate_tids bigint,
	OUT levels integer, OUT pages bigint, OUT bytes bigint, OUT m integer, OUT ef_construction integer,
	OUT dimensions integer, OUT metric text, OUT element_type text, OUT sparse_pages bigint)
	AS 'MODULE_PATHNAME', 'prism_index_info' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION prism.index_info(regclass) IS
	'size and shape of an hnsw index: live and deleted elements, free slots, heap TIDs sharing an element, levels, pages, stored element type, pages of sparse elements'' non-zeros';
