-- What the planner puts in place of a qual `<->` / `<#>` `<` or `<=` bound (or the commuted
-- `bound >` / `>=`) on an hnsw index scan whose ORDER BY is the same distance: the qual's value
-- (the distance as prism.scan_l2_distance / prism.scan_negative_inner_product give it, compared
-- with the bound; the last argument says whether equality passes). Under
-- hnsw.iterative_scan = strict_order the scan returns rows in non-decreasing distance, so when
-- the row it just returned fails the bound no later row can pass: the scan then ends. Internal:
-- a call that is not the planner's may end the scan that just returned the row it names.
-- IMMUTABLE like prism.scan_l2_distance: the values they return are; the planner puts them in
-- place after planning, so no estimate or constant folding depends on the marking.
CREATE FUNCTION prism.scan_l2_distance_within(oid, tid, vector, vector, float8, boolean) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prism_scan_l2_distance_within' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION prism.scan_negative_inner_product_within(oid, tid, vector, vector, float8, boolean) RETURNS boolean
	AS 'MODULE_PATHNAME', 'prism_scan_negative_inner_product_within' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
