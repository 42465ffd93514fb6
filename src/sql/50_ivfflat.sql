-- ivfflat index access method and its operator classes for vector (pgvector's names and
-- semantics; new in 0.2.0). The metric follows from the ordering operator, the stored element
-- type from the opclass' type.
CREATE FUNCTION ivfflat_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD ivfflat TYPE INDEX HANDLER ivfflat_handler;
COMMENT ON ACCESS METHOD ivfflat IS 'ivfflat index access method (k-means lists stored in pages)';

CREATE OPERATOR CLASS vector_l2_ops
	FOR TYPE vector USING ivfflat AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY pg_catalog.float_ops;

CREATE OPERATOR CLASS vector_ip_ops
	FOR TYPE vector USING ivfflat AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY pg_catalog.float_ops;

CREATE OPERATOR CLASS vector_cosine_ops
	FOR TYPE vector USING ivfflat AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY pg_catalog.float_ops;
