-- Collections, part 2: Chroma's where / where_document filters compiled to SQL, and the reading
-- functions (get, peek, count, delete, query with hybrid search). Part 1 (40_collections.sql)
-- has the catalog and the rules every function here follows (caller's rights, pinned
-- search_path, quoting).

-- Compiles a Chroma `where` metadata filter to an SQL condition on column `metadata`.
-- Equality, $in and $contains become jsonb containment (@>), which the collection's GIN index
-- answers; range operators compare numbers only. Negations ($ne, $nin, $not_contains) also
-- match records without the key. Keys and values appear only as quoted literals.
CREATE FUNCTION prism.where_sql("where" jsonb) RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k text;
	v jsonb;
	op text;
	arg jsonb;
	parts text[] := '{}';
	sub text[];
	t text;
BEGIN
	IF "where" IS NULL THEN
		RETURN 'true';
	END IF;
	IF jsonb_typeof("where") <> 'object' THEN
		RAISE EXCEPTION 'a where filter must be a JSON object, not %', jsonb_typeof("where") USING ERRCODE = '22023';
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each("where") LOOP
		IF k IN ('$and', '$or') THEN
			IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) = 0 THEN
				RAISE EXCEPTION '% needs a non-empty list of filters', k USING ERRCODE = '22023';
			END IF;
			SELECT array_agg(prism.where_sql(e) ORDER BY o) INTO sub FROM jsonb_array_elements(v) WITH ORDINALITY AS x(e, o);
			parts := parts || ('(' || array_to_string(sub, CASE k WHEN '$and' THEN ' AND ' ELSE ' OR ' END) || ')');
		ELSIF k LIKE '$%' THEN
			RAISE EXCEPTION 'unknown filter operator "%"', k USING ERRCODE = '22023',
				HINT = 'A where filter is {"key": value}, {"key": {"$op": value}}, {"$and": [...]} or {"$or": [...]}.';
		ELSIF jsonb_typeof(v) IN ('string', 'number', 'boolean') THEN
			parts := parts || format('metadata @> %L::jsonb', jsonb_build_object(k, v));
		ELSIF jsonb_typeof(v) = 'object' AND v <> '{}' THEN
			FOR op, arg IN SELECT * FROM jsonb_each(v) LOOP
				CASE op
				WHEN '$eq', '$ne', '$contains', '$not_contains' THEN
					IF jsonb_typeof(arg) NOT IN ('string', 'number', 'boolean') THEN
						RAISE EXCEPTION 'operator % on key "%" needs a string, number or boolean, not %', op, k, jsonb_typeof(arg)
							USING ERRCODE = '42804';
					END IF;
					t := format('metadata @> %L::jsonb', jsonb_build_object(k, CASE WHEN op LIKE '%contains'
						THEN jsonb_build_array(arg) ELSE arg END));
					parts := parts || CASE WHEN op IN ('$eq', '$contains') THEN t ELSE 'NOT coalesce(' || t || ', false)' END;
				WHEN '$gt', '$gte', '$lt', '$lte' THEN
					IF jsonb_typeof(arg) <> 'number' THEN
						RAISE EXCEPTION 'operator % on key "%" needs a number, not %', op, k, jsonb_typeof(arg)
							USING ERRCODE = '42804';
					END IF;
					parts := parts || format('(jsonb_typeof(metadata -> %L) = ''number'' AND (metadata -> %L) %s %L::jsonb)',
						k, k, CASE op WHEN '$gt' THEN '>' WHEN '$gte' THEN '>=' WHEN '$lt' THEN '<' ELSE '<=' END, arg);
				WHEN '$in', '$nin' THEN
					IF jsonb_typeof(arg) <> 'array' OR (SELECT count(DISTINCT jsonb_typeof(e)) > 1
							OR bool_or(jsonb_typeof(e) NOT IN ('string', 'number', 'boolean')) FROM jsonb_array_elements(arg) e) THEN
						RAISE EXCEPTION 'operator % on key "%" needs a list of strings, numbers or booleans of one type', op, k
							USING ERRCODE = '42804';
					END IF;
					t := format('metadata @> ANY (%L::jsonb[])',
						(SELECT coalesce(array_agg(jsonb_build_object(k, e)), '{}') FROM jsonb_array_elements(arg) e));
					parts := parts || CASE op WHEN '$in' THEN t ELSE 'NOT coalesce(' || t || ', false)' END;
				ELSE
					RAISE EXCEPTION 'unknown filter operator "%"', op USING ERRCODE = '22023',
						HINT = 'Operators: $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $contains, $not_contains.';
				END CASE;
			END LOOP;
		ELSE
			RAISE EXCEPTION 'filter on key "%" needs a string, number, boolean or {"$operator": value}, not %', k,
				CASE WHEN v = '{}' THEN 'an empty object' ELSE jsonb_typeof(v) END USING ERRCODE = '42804';
		END IF;
	END LOOP;
	IF cardinality(parts) = 0 THEN
		RETURN 'true';
	END IF;
	RETURN '(' || array_to_string(parts, ' AND ') || ')';
END $$;
COMMENT ON FUNCTION prism.where_sql(jsonb) IS 'the SQL condition a Chroma where filter compiles to';

-- Compiles a Chroma `where_document` filter to an SQL condition on column `document`.
-- $contains / $not_contains are case-sensitive substring tests, $regex / $not_regex POSIX
-- regular expressions (Postgres' ~); prism's $match is a full-text query (websearch syntax)
-- answered by the collection's full-text index.
CREATE FUNCTION prism.where_document_sql(where_document jsonb, text_search_config text DEFAULT 'pg_catalog.english')
	RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k text;
	v jsonb;
	parts text[] := '{}';
	sub text[];
BEGIN
	IF where_document IS NULL THEN
		RETURN 'true';
	END IF;
	IF jsonb_typeof(where_document) <> 'object' THEN
		RAISE EXCEPTION 'a where_document filter must be a JSON object, not %', jsonb_typeof(where_document)
			USING ERRCODE = '22023';
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each(where_document) LOOP
		IF k IN ('$and', '$or') THEN
			IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) = 0 THEN
				RAISE EXCEPTION '% needs a non-empty list of filters', k USING ERRCODE = '22023';
			END IF;
			SELECT array_agg(prism.where_document_sql(e, text_search_config) ORDER BY o) INTO sub
				FROM jsonb_array_elements(v) WITH ORDINALITY AS x(e, o);
			parts := parts || ('(' || array_to_string(sub, CASE k WHEN '$and' THEN ' AND ' ELSE ' OR ' END) || ')');
		ELSIF k IN ('$contains', '$not_contains', '$regex', '$not_regex', '$match') THEN
			IF jsonb_typeof(v) <> 'string' THEN
				RAISE EXCEPTION 'operator % needs a string, not %', k, jsonb_typeof(v) USING ERRCODE = '42804';
			END IF;
			parts := parts || CASE k
				WHEN '$contains' THEN format('coalesce(strpos(document, %L) > 0, false)', v #>> '{}')
				WHEN '$not_contains' THEN format('NOT coalesce(strpos(document, %L) > 0, false)', v #>> '{}')
				WHEN '$regex' THEN format('coalesce(document ~ %L, false)', v #>> '{}')
				WHEN '$not_regex' THEN format('NOT coalesce(document ~ %L, false)', v #>> '{}')
				ELSE format('to_tsvector(%L::regconfig, document) @@ websearch_to_tsquery(%L::regconfig, %L)',
					text_search_config, text_search_config, v #>> '{}') END;
		ELSE
			RAISE EXCEPTION 'unknown where_document operator "%"', k USING ERRCODE = '22023',
				HINT = 'Operators: $contains, $not_contains, $regex, $not_regex, $match, $and, $or.';
		END IF;
	END LOOP;
	IF cardinality(parts) = 0 THEN
		RETURN 'true';
	END IF;
	RETURN '(' || array_to_string(parts, ' AND ') || ')';
END $$;
COMMENT ON FUNCTION prism.where_document_sql(jsonb, text) IS 'the SQL condition a Chroma where_document filter compiles to';

-- The WHERE condition of get/delete/query: ids, where and where_document together.
CREATE FUNCTION prism._filter_sql(c prism.collections, ids text[], "where" jsonb, where_document jsonb)
	RETURNS text LANGUAGE sql STABLE
	BEGIN ATOMIC
		SELECT concat_ws(' AND ', CASE WHEN ids IS NOT NULL THEN format('id = ANY (%L::text[])', ids) END,
			prism.where_sql("where"),
			prism.where_document_sql(where_document, c.configuration ->> 'text_search_config'));
	END;

CREATE FUNCTION prism._check_include(include text[], allowed text[]) RETURNS void
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	bad text;
BEGIN
	SELECT x INTO bad FROM unnest(include) x WHERE x IS NULL OR x <> ALL (allowed) LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'invalid include value %', coalesce(quote_literal(bad), 'NULL') USING ERRCODE = '22023',
			HINT = 'Include any of ' || array_to_string(allowed, ', ') || '.';
	END IF;
END $$;

-- Deletes the records matching ids and/or the filters; returns how many.
CREATE FUNCTION prism.delete(collection text, ids text[] DEFAULT NULL, "where" jsonb DEFAULT NULL,
	where_document jsonb DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c prism.collections := prism._collection(collection);
	n bigint;
BEGIN
	IF ids IS NULL AND "where" IS NULL AND where_document IS NULL THEN
		RAISE EXCEPTION 'delete needs ids, where or where_document' USING ERRCODE = '22023',
			HINT = 'prism.delete_collection() removes a whole collection.';
	END IF;
	EXECUTE format('DELETE FROM %s WHERE %s', c.backing_table, prism._filter_sql(c, ids, "where", where_document));
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END $$;

-- Records matching ids and/or the filters, in id order; the columns include does not name are NULL.
CREATE FUNCTION prism.get(collection text, ids text[] DEFAULT NULL, "where" jsonb DEFAULT NULL,
	"limit" integer DEFAULT NULL, "offset" integer DEFAULT NULL, where_document jsonb DEFAULT NULL,
	include text[] DEFAULT '{metadatas,documents}')
	RETURNS TABLE (id text, document text, metadata jsonb, embedding @extschema@.vector)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c prism.collections := prism._collection(collection);
BEGIN
	PERFORM prism._check_include(include, '{documents,metadatas,embeddings}');
	RETURN QUERY EXECUTE format('SELECT id, %s, %s, %s FROM %s WHERE %s ORDER BY id LIMIT $1 OFFSET $2',
		CASE WHEN 'documents' = ANY (include) THEN 'document' ELSE 'NULL::text' END,
		CASE WHEN 'metadatas' = ANY (include) THEN 'metadata' ELSE 'NULL::jsonb' END,
		CASE WHEN 'embeddings' = ANY (include) THEN 'embedding' ELSE 'NULL::@extschema@.vector' END,
		c.backing_table, prism._filter_sql(c, ids, "where", where_document)) USING "limit", coalesce("offset", 0);
END $$;

CREATE FUNCTION prism.peek(collection text, "limit" integer DEFAULT 10)
	RETURNS TABLE (id text, document text, metadata jsonb, embedding @extschema@.vector)
	LANGUAGE sql STABLE
	BEGIN ATOMIC
		SELECT * FROM prism.get(collection, "limit" => "limit", include => '{documents,metadatas,embeddings}');
	END;

CREATE FUNCTION prism.count(collection text) RETURNS bigint LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c prism.collections := prism._collection(collection);
	n bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM %s', c.backing_table) INTO n;
	RETURN n;
END $$;

-- The statement answering one query of prism.query, with parameters $1 query vector, $2
-- n_results, $3 query index, $4 max_distance, $5 rank window, $6 text query, $7 vector weight,
-- $8 text weight, $9 RRF constant. Without a text query it is the nearest-neighbour search
-- ORDER BY embedding <op> $1 LIMIT $2 with the filters in WHERE (an hnsw index scan that
-- keeps searching until it has n_results matching rows). With one, the vector ranking and the
-- full-text ranking (ts_rank_cd), each cut at the rank window, are fused by reciprocal rank
-- fusion: score = vector_weight / (k + vector rank) + text_weight / (k + text rank).
CREATE FUNCTION prism._query_sql(c prism.collections, filter text, include text[], has_vector boolean, hybrid boolean)
	RETURNS text LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	op text := CASE c.metric WHEN 'l2' THEN '<->' WHEN 'ip' THEN '<#>' ELSE '<=>' END;
	dist text;
	cols text;
	cfg text := quote_literal(c.configuration ->> 'text_search_config') || '::regconfig';
	v text;
BEGIN
	-- Chroma's distances: squared L2, 1 - inner product, 1 - cosine similarity.
	dist := CASE c.metric WHEN 'l2' THEN '((t.embedding OPERATOR(@extschema@.<->) $1) ^ 2)'
		WHEN 'ip' THEN '(1 + (t.embedding OPERATOR(@extschema@.<#>) $1))'
		ELSE '(t.embedding OPERATOR(@extschema@.<=>) $1)' END;
	cols := concat_ws(', ', CASE WHEN 'documents' = ANY (include) THEN 't.document' ELSE 'NULL::text AS document' END,
		CASE WHEN 'metadatas' = ANY (include) THEN 't.metadata' ELSE 'NULL::jsonb AS metadata' END,
		CASE WHEN 'embeddings' = ANY (include) THEN 't.embedding' ELSE 'NULL::@extschema@.vector AS embedding' END);
	IF NOT hybrid THEN
		-- rows (id, distance, document, metadata, embedding) in rank order; the caller numbers
		-- them and applies max_distance
		RETURN format('SELECT t.id, %s AS distance, %s FROM %s t WHERE %s ORDER BY t.embedding OPERATOR(@extschema@.%s) $1 LIMIT $2',
			dist, cols, c.backing_table, filter, op);
	END IF;
	IF has_vector THEN
		v := format('SELECT s.id, row_number() OVER () AS r FROM (SELECT t.id, %s AS distance FROM %s t WHERE %s '
			'ORDER BY t.embedding OPERATOR(@extschema@.%s) $1 LIMIT $5) s WHERE $4::float8 IS NULL OR s.distance <= $4',
			dist, c.backing_table, filter, op);
	ELSE
		v := 'SELECT NULL::text AS id, NULL::bigint AS r WHERE $1 IS NULL AND false';
	END IF;
	RETURN format('WITH v AS (%s), '
		'x AS (SELECT s.id, row_number() OVER () AS r FROM (SELECT t.id FROM %s t, websearch_to_tsquery(%s, $6) AS q '
			'WHERE to_tsvector(%s, t.document) @@ q AND %s ORDER BY ts_rank_cd(to_tsvector(%s, t.document), q) DESC, t.id '
			'LIMIT $5) s), '
		'f AS (SELECT coalesce(v.id, x.id) AS id, coalesce($7 / ($9 + v.r), 0) + coalesce($8 / ($9 + x.r), 0) AS score '
			'FROM v FULL JOIN x ON v.id = x.id) '
		'SELECT $3, (row_number() OVER (ORDER BY f.score DESC, f.id))::int, f.id, %s, %s, f.score '
		'FROM f JOIN %s t ON t.id = f.id ORDER BY f.score DESC, f.id LIMIT $2',
		v, c.backing_table, cfg, cfg, filter, cfg,
		CASE WHEN has_vector AND 'distances' = ANY (include) THEN dist ELSE 'NULL::float8' END, cols,
		c.backing_table);
END $$;

-- Nearest neighbours of each query embedding (or embedded query text), one row per (query,
-- rank); with text_query, hybrid vector + full-text ranking. The collection's hnsw ef_search
-- applies to its queries only.
CREATE FUNCTION prism._query(collection text, query_embeddings @extschema@.vector[],
	n_results integer, "where" jsonb, where_document jsonb, include text[], query_texts text[],
	text_query text, max_distance float8, vector_weight float8, text_weight float8, rrf_k integer,
	rank_window integer, ids text[], caller_path text)
	RETURNS TABLE (query_index integer, rank integer, id text, distance float8, document text, metadata jsonb,
		embedding @extschema@.vector, score float8)
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c prism.collections := prism._collection(collection);
	sql text;
	q @extschema@.vector;
	i integer;
	old_ef text := current_setting('hnsw.ef_search', true);
	hybrid boolean := text_query IS NOT NULL;
	win integer := coalesce(rank_window, greatest(n_results, 100));
	with_distances boolean := 'distances' = ANY (include);
	r record;
BEGIN
	PERFORM prism._check_include(include, '{documents,metadatas,embeddings,distances}');
	IF n_results IS NULL OR n_results < 1 THEN
		RAISE EXCEPTION 'n_results must be at least 1' USING ERRCODE = '22023';
	END IF;
	IF query_embeddings IS NOT NULL AND query_texts IS NOT NULL THEN
		RAISE EXCEPTION 'pass query_embeddings or query_texts, not both' USING ERRCODE = '22023';
	END IF;
	IF hybrid AND (vector_weight IS NULL OR text_weight IS NULL OR vector_weight < 0 OR text_weight < 0
			OR rrf_k IS NULL OR rrf_k < 0 OR win < 1) THEN
		RAISE EXCEPTION 'hybrid search needs non-negative weights, rrf_k >= 0 and rank_window >= 1' USING ERRCODE = '22023';
	END IF;
	IF query_texts IS NOT NULL THEN
		query_embeddings := prism._embed(c, query_texts, 'query_texts', caller_path);
	END IF;
	IF query_embeddings IS NULL AND NOT hybrid THEN
		RAISE EXCEPTION 'query needs query_embeddings, query_texts or text_query' USING ERRCODE = '22023';
	END IF;
	IF query_embeddings IS NOT NULL THEN
		IF array_ndims(query_embeddings) <> 1 OR array_position(query_embeddings, NULL) IS NOT NULL THEN
			RAISE EXCEPTION 'query_embeddings must be a one-dimensional array without NULLs' USING ERRCODE = '22023';
		END IF;
		SELECT o INTO i FROM unnest(query_embeddings) WITH ORDINALITY AS u(e, o)
			WHERE @extschema@.vector_dims(e) <> coalesce(c.dimension, @extschema@.vector_dims(e)) ORDER BY o LIMIT 1;
		IF i IS NOT NULL THEN
			RAISE EXCEPTION 'query embedding % has % dimensions, collection "%" has %', i,
				@extschema@.vector_dims(query_embeddings[i]), c.name, c.dimension USING ERRCODE = '22000';
		END IF;
		IF c.dimension IS NULL AND NOT hybrid THEN
			RETURN;		-- nothing added yet
		END IF;
	END IF;
	sql := prism._query_sql(c, prism._filter_sql(c, ids, "where", where_document), include,
		query_embeddings IS NOT NULL AND c.dimension IS NOT NULL, hybrid);
	PERFORM set_config('hnsw.ef_search', c.configuration #>> '{hnsw,ef_search}', true);
	IF query_embeddings IS NULL OR c.dimension IS NULL THEN
		RETURN QUERY EXECUTE sql USING NULL::@extschema@.vector, n_results, 1, max_distance, win, text_query,
			vector_weight, text_weight, rrf_k;
	ELSE
		i := 0;
		FOREACH q IN ARRAY query_embeddings LOOP
			i := i + 1;
			IF hybrid THEN
				RETURN QUERY EXECUTE sql USING q, n_results, i, max_distance, win, text_query, vector_weight, text_weight, rrf_k;
				CONTINUE;
			END IF;
			query_index := i;
			rank := 0;
			score := NULL;
			FOR r IN EXECUTE sql USING q, n_results LOOP
				EXIT WHEN r.distance > max_distance;
				rank := rank + 1;
				id := r.id;
				distance := CASE WHEN with_distances THEN r.distance END;
				document := r.document;
				metadata := r.metadata;
				embedding := r.embedding;
				RETURN NEXT;
			END LOOP;
		END LOOP;
	END IF;
	PERFORM set_config('hnsw.ef_search', old_ef, true);
END $$;

CREATE FUNCTION prism.query(collection text, query_embeddings @extschema@.vector[] DEFAULT NULL,
	n_results integer DEFAULT 10, "where" jsonb DEFAULT NULL, where_document jsonb DEFAULT NULL,
	include text[] DEFAULT '{metadatas,documents,distances}', query_texts text[] DEFAULT NULL,
	text_query text DEFAULT NULL, max_distance float8 DEFAULT NULL, vector_weight float8 DEFAULT 1,
	text_weight float8 DEFAULT 1, rrf_k integer DEFAULT 60, rank_window integer DEFAULT NULL,
	ids text[] DEFAULT NULL)
	RETURNS TABLE (query_index integer, rank integer, id text, distance float8, document text, metadata jsonb,
		embedding @extschema@.vector, score float8)
	LANGUAGE sql VOLATILE
	BEGIN ATOMIC
		SELECT * FROM prism._query(collection, query_embeddings, n_results, "where", where_document, include,
			query_texts, text_query, max_distance, vector_weight, text_weight, rrf_k, rank_window, ids,
			current_setting('search_path'));
	END;

-- The plan of the statement prism.query runs for the first of query_embeddings (EXPLAIN, costs off).
CREATE FUNCTION prism.query_plan(collection text, query_embeddings @extschema@.vector[], n_results integer DEFAULT 10,
	"where" jsonb DEFAULT NULL, where_document jsonb DEFAULT NULL, text_query text DEFAULT NULL)
	RETURNS SETOF text LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c prism.collections := prism._collection(collection);
BEGIN
	RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || prism._query_sql(c, prism._filter_sql(c, NULL, "where", where_document),
		'{distances}', true, text_query IS NOT NULL)
		USING query_embeddings[1], n_results, 1, NULL::float8, greatest(n_results, 100), text_query, 1::float8, 1::float8, 60;
END $$;
