-- Collections, part 1: Chroma's data model (records of id, embedding, document, metadata grouped in
-- named collections) as ordinary tables plus a catalog, managed by functions in schema prism.
--
-- Every function here runs with the caller's rights (SECURITY INVOKER): reading or changing a
-- collection needs the privileges on its backing table that the same plain SQL would need.
-- Functions are either SQL-standard bodies (bound at creation) or pin search_path to
-- pg_catalog, pg_temp and qualify every extension object; the only code run under the caller's
-- search_path is the user's own embedding function (prism._embed). Identifiers and values reach
-- dynamic SQL only through format('%I' / '%L'), regclass output, or EXECUTE ... USING parameters.
-- The public functions that need the caller's context (current schema, search_path) are
-- SQL-standard wrappers that pass it to the PL/pgSQL function doing the work.

-- The catalog. One row per collection; rows are the users' data (pg_dump keeps them).
CREATE TABLE prism.collections (
	id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
	name text NOT NULL UNIQUE,
	dimension integer CHECK (dimension BETWEEN 1 AND 16000),
	metric text NOT NULL CHECK (metric IN ('l2', 'cosine', 'ip')),
	configuration jsonb NOT NULL,
	metadata jsonb,
	backing_table regclass NOT NULL,
	embedding_function text,
	owner regrole NOT NULL DEFAULT (CURRENT_USER)::regrole,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE prism.collections IS 'collections (Chroma''s data model): one row per collection, one table per collection';
SELECT pg_catalog.pg_extension_config_dump('prism.collections', '');

-- Privilege model: everyone may create collections (insert catalog rows for tables they own)
-- and sees the collections whose backing table it has any privilege on; only the owner's role
-- (and its members) may change or delete a catalog row.
GRANT SELECT, INSERT, UPDATE, DELETE ON prism.collections TO PUBLIC;
ALTER TABLE prism.collections ENABLE ROW LEVEL SECURITY;
CREATE POLICY collections_visible ON prism.collections FOR SELECT
	USING (pg_catalog.pg_has_role(owner, 'USAGE')
		OR pg_catalog.has_table_privilege(backing_table, 'SELECT, INSERT, UPDATE, DELETE'));
CREATE POLICY collections_insert ON prism.collections FOR INSERT
	WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE') AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c
		WHERE c.oid = backing_table AND c.relowner = owner));
CREATE POLICY collections_update ON prism.collections FOR UPDATE
	USING (pg_catalog.pg_has_role(owner, 'USAGE'))
	WITH CHECK (pg_catalog.pg_has_role(owner, 'USAGE') AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c
		WHERE c.oid = backing_table AND c.relowner = owner));
CREATE POLICY collections_delete ON prism.collections FOR DELETE
	USING (pg_catalog.pg_has_role(owner, 'USAGE'));

-- m and ef_construction for an expected number of rows (the `auto` setting).
CREATE FUNCTION prism.auto_hnsw_parameters(expected_rows bigint, OUT m integer, OUT ef_construction integer)
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	BEGIN ATOMIC
		SELECT CASE WHEN expected_rows <= 10000 THEN 16 WHEN expected_rows <= 100000 THEN 32
				WHEN expected_rows <= 1000000 THEN 48 ELSE 64 END,
			CASE WHEN expected_rows <= 10000 THEN 200 WHEN expected_rows <= 100000 THEN 400
				WHEN expected_rows <= 1000000 THEN 600 ELSE 800 END;
	END;
COMMENT ON FUNCTION prism.auto_hnsw_parameters(bigint) IS
	'm and ef_construction chosen by the `auto` collection setting for an expected number of rows';

-- Resolves a collection's configuration: Chroma's `hnsw` object, the legacy `hnsw:*` metadata
-- keys (the object wins when both are given), defaults for the rest. Returns the stored form.
CREATE FUNCTION prism._resolve_configuration(configuration jsonb, metadata jsonb)
	RETURNS jsonb LANGUAGE plpgsql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	legacy constant jsonb := '{"hnsw:space": "space", "hnsw:construction_ef": "ef_construction",
		"hnsw:M": "max_neighbors", "hnsw:search_ef": "ef_search", "hnsw:num_threads": "num_threads",
		"hnsw:batch_size": "batch_size", "hnsw:sync_threshold": "sync_threshold",
		"hnsw:resize_factor": "resize_factor"}';
	h jsonb := '{"space": "l2", "ef_construction": 100, "max_neighbors": 16, "ef_search": 100,
		"batch_size": 100, "sync_threshold": 1000, "resize_factor": 1.2}';
	k text;
	v jsonb;
	tsconfig text := 'pg_catalog.english';
BEGIN
	IF configuration IS NOT NULL AND jsonb_typeof(configuration) <> 'object' THEN
		RAISE EXCEPTION 'configuration must be a JSON object' USING ERRCODE = '22023';
	END IF;
	IF metadata IS NOT NULL AND jsonb_typeof(metadata) <> 'object' THEN
		RAISE EXCEPTION 'collection metadata must be a JSON object' USING ERRCODE = '22023';
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each(coalesce(metadata, '{}')) WHERE key LIKE 'hnsw:%' LOOP
		IF NOT legacy ? k THEN
			RAISE EXCEPTION 'unknown configuration key "%" in collection metadata', k USING ERRCODE = '22023',
				HINT = 'The legacy keys are ' || (SELECT string_agg(x, ', ' ORDER BY x) FROM jsonb_object_keys(legacy) x) || '.';
		END IF;
		h := jsonb_set(h, ARRAY[legacy ->> k], v);
	END LOOP;
	FOR k, v IN SELECT * FROM jsonb_each(coalesce(configuration, '{}')) LOOP
		CASE k
		WHEN 'hnsw' THEN
			IF jsonb_typeof(v) <> 'object' THEN
				RAISE EXCEPTION 'configuration key "hnsw" must be a JSON object' USING ERRCODE = '22023';
			END IF;
			h := h || v;
		WHEN 'text_search_config' THEN
			IF jsonb_typeof(v) <> 'string' THEN
				RAISE EXCEPTION 'configuration key "text_search_config" must be a string' USING ERRCODE = '22023';
			END IF;
			SELECT format('%I.%I', n.nspname, c.cfgname) INTO tsconfig FROM pg_ts_config c
				JOIN pg_namespace n ON n.oid = c.cfgnamespace WHERE c.oid = (v #>> '{}')::regconfig;
		WHEN 'spann' THEN
			RAISE EXCEPTION 'the spann index is not supported' USING ERRCODE = '0A000',
				HINT = 'Collections use an hnsw index; configure it with the "hnsw" key.';
		WHEN 'embedding_function' THEN
			RAISE EXCEPTION 'the embedding function is not part of the configuration' USING ERRCODE = '22023',
				HINT = 'Pass embedding_function => ''my_function(text)'' to create_collection.';
		ELSE
			RAISE EXCEPTION 'unknown configuration key "%"', k USING ERRCODE = '22023',
				HINT = 'Known keys: hnsw, text_search_config.';
		END CASE;
	END LOOP;
	FOR k, v IN SELECT * FROM jsonb_each(h) LOOP
		CASE k
		WHEN 'space' THEN
			IF v NOT IN ('"l2"', '"cosine"', '"ip"') THEN
				RAISE EXCEPTION 'invalid hnsw space %', v USING ERRCODE = '22023', HINT = 'Use "l2", "cosine" or "ip".';
			END IF;
		WHEN 'max_neighbors', 'ef_construction' THEN
			IF v <> '"auto"' AND NOT (jsonb_typeof(v) = 'number' AND v::numeric = trunc(v::numeric)
					AND v::numeric BETWEEN CASE k WHEN 'max_neighbors' THEN 2 ELSE 4 END
					AND CASE k WHEN 'max_neighbors' THEN 100 ELSE 1000 END) THEN
				RAISE EXCEPTION 'invalid hnsw % %', k, v USING ERRCODE = '22023',
					HINT = CASE k WHEN 'max_neighbors' THEN 'Use an integer from 2 to 100, or "auto".'
						ELSE 'Use an integer from 4 to 1000, or "auto".' END;
			END IF;
		WHEN 'ef_search' THEN
			IF NOT (jsonb_typeof(v) = 'number' AND v::numeric = trunc(v::numeric) AND v::numeric BETWEEN 1 AND 1000) THEN
				RAISE EXCEPTION 'invalid hnsw ef_search %', v USING ERRCODE = '22023', HINT = 'Use an integer from 1 to 1000.';
			END IF;
		WHEN 'num_threads', 'batch_size', 'sync_threshold', 'expected_size' THEN
			IF NOT (jsonb_typeof(v) = 'number' AND v::numeric = trunc(v::numeric)
					AND v::numeric >= CASE k WHEN 'num_threads' THEN 1 WHEN 'expected_size' THEN 0 ELSE 2 END
					AND v::numeric <= CASE k WHEN 'num_threads' THEN 64 ELSE 9.2e18 END) THEN
				RAISE EXCEPTION 'invalid hnsw % %', k, v USING ERRCODE = '22023',
					HINT = CASE k WHEN 'num_threads' THEN 'Use an integer from 1 to 64.'
						WHEN 'expected_size' THEN 'Use a non-negative integer.' ELSE 'Use an integer of at least 2.' END;
			END IF;
		WHEN 'resize_factor' THEN
			IF NOT (jsonb_typeof(v) = 'number' AND v::numeric > 0) THEN
				RAISE EXCEPTION 'invalid hnsw resize_factor %', v USING ERRCODE = '22023', HINT = 'Use a positive number.';
			END IF;
		ELSE
			RAISE EXCEPTION 'unknown hnsw configuration key "%"', k USING ERRCODE = '22023',
				HINT = 'Known keys: space, ef_construction, max_neighbors, ef_search, num_threads, batch_size, '
					'sync_threshold, resize_factor, expected_size.';
		END CASE;
	END LOOP;
	IF jsonb_typeof(h -> 'max_neighbors') = 'number' AND jsonb_typeof(h -> 'ef_construction') = 'number'
			AND (h ->> 'ef_construction')::int < 2 * (h ->> 'max_neighbors')::int THEN
		RAISE EXCEPTION 'hnsw ef_construction % is less than twice max_neighbors %', h -> 'ef_construction',
			h -> 'max_neighbors' USING ERRCODE = '22023';
	END IF;
	RETURN jsonb_build_object('hnsw', h, 'text_search_config', tsconfig);
END $$;

-- The visible catalog row of a collection, or an error naming it.
CREATE FUNCTION prism._collection(collection text, for_update boolean DEFAULT false)
	RETURNS prism.collections LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c prism.collections;
BEGIN
	IF for_update THEN
		SELECT * INTO c FROM prism.collections WHERE name = collection FOR UPDATE;
	ELSE
		SELECT * INTO c FROM prism.collections WHERE name = collection;
	END IF;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'collection "%" does not exist', collection USING ERRCODE = '42704',
			HINT = 'prism.list_collections() lists the collections you can use.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = c.backing_table) THEN
		RAISE EXCEPTION 'the table of collection "%" no longer exists', collection USING ERRCODE = '42P01',
			HINT = 'prism.delete_collection() removes the catalog entry.';
	END IF;
	RETURN c;
END $$;

-- Creates the hnsw index of a collection whose dimension is known (opclass from the metric,
-- m / ef_construction from the configuration, sized from expected_size or the row count when
-- set to "auto"); num_threads sets the build's threads.
CREATE FUNCTION prism._create_hnsw_index(c prism.collections)
	RETURNS void LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	h jsonb := c.configuration -> 'hnsw';
	m text := h ->> 'max_neighbors';
	efc text := h ->> 'ef_construction';
	expected bigint;
	auto record;
	old_threads text := current_setting('prism.build_threads', true);
BEGIN
	IF m = 'auto' OR efc = 'auto' THEN
		expected := (h ->> 'expected_size')::bigint;
		IF expected IS NULL THEN
			EXECUTE format('SELECT count(*) FROM %s', c.backing_table) INTO expected;
		END IF;
		auto := prism.auto_hnsw_parameters(expected);
		IF m = 'auto' THEN m := auto.m; END IF;
		IF efc = 'auto' THEN efc := greatest(auto.ef_construction, 2 * m::int); END IF;
	END IF;
	IF h ? 'num_threads' THEN
		PERFORM set_config('prism.build_threads', h ->> 'num_threads', true);
	END IF;
	EXECUTE format('CREATE INDEX ON %s USING hnsw (embedding @extschema@.%I) WITH (m = %s, ef_construction = %s)',
		c.backing_table, 'vector_' || (c.metric) || '_ops', m::int, efc::int);
	IF h ? 'num_threads' THEN
		PERFORM set_config('prism.build_threads', old_threads, true);
	END IF;
END $$;

-- Chroma's collection names: 3 to 512 characters from [a-zA-Z0-9._-], starting and ending with a
-- letter or digit, without two consecutive periods.
CREATE FUNCTION prism._valid_name(name text) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN coalesce(length(name) BETWEEN 3 AND 512 AND name ~ '^[a-zA-Z0-9]([a-zA-Z0-9._-]*[a-zA-Z0-9])?$'
		AND strpos(name, '..') = 0, false);

CREATE FUNCTION prism._create_collection(name text, configuration jsonb, metadata jsonb,
	embedding_function regprocedure, dimension integer, get_or_create boolean, backing_table text, caller_schema text)
	RETURNS prism.collections LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	c prism.collections;
	conf jsonb;
	ident text[];
	tbl text;
	fn text;
BEGIN
	IF NOT prism._valid_name(name) THEN
		RAISE EXCEPTION 'invalid collection name %', coalesce(quote_literal(name), 'NULL') USING ERRCODE = '42602',
			HINT = 'A name has 3 to 512 characters from [a-zA-Z0-9._-], starts and ends with a letter or digit '
				'and has no two consecutive periods.';
	END IF;
	SELECT * INTO c FROM prism.collections x WHERE x.name = name;
	IF FOUND THEN
		IF get_or_create THEN
			RETURN c;
		END IF;
		RAISE EXCEPTION 'collection "%" already exists', name USING ERRCODE = '42710',
			HINT = 'Use prism.get_or_create_collection() to reuse it.';
	END IF;
	conf := prism._resolve_configuration(configuration, metadata);
	IF dimension IS NOT NULL AND dimension NOT BETWEEN 1 AND 16000 THEN
		RAISE EXCEPTION 'invalid dimension %', dimension USING ERRCODE = '22023', HINT = 'Use 1 to 16000.';
	END IF;
	IF embedding_function IS NOT NULL THEN
		SELECT format('%I.%I(text)', n.nspname, p.proname) INTO fn FROM pg_proc p
			JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE p.oid = embedding_function AND p.proargtypes = '25'::oidvector
			AND p.prorettype = '@extschema@.vector'::regtype AND NOT p.proretset;
		IF fn IS NULL THEN
			RAISE EXCEPTION 'embedding function % must take text and return vector', embedding_function
				USING ERRCODE = '42883';
		END IF;
	END IF;
	-- The table: the given name (optionally schema-qualified), else the collection's name in
	-- the current schema.
	IF backing_table IS NOT NULL THEN
		ident := parse_ident(backing_table);
		IF cardinality(ident) > 2 THEN
			RAISE EXCEPTION 'invalid table name %', quote_literal(backing_table) USING ERRCODE = '42602';
		END IF;
	ELSE
		IF octet_length(name) > 63 THEN
			RAISE EXCEPTION 'collection name "%" is too long for a table name', name USING ERRCODE = '42622',
				HINT = 'Pass backing_table => ''a_shorter_name''.';
		END IF;
		ident := ARRAY[name];
	END IF;
	IF cardinality(ident) = 1 THEN
		IF caller_schema IS NULL THEN
			RAISE EXCEPTION 'no schema has been selected to create the table of collection "%" in', name
				USING ERRCODE = '3F000', HINT = 'Set search_path, or pass backing_table => ''schema.table''.';
		END IF;
		ident := ARRAY[caller_schema] || ident;
	END IF;
	tbl := format('%I.%I', ident[1], ident[2]);
	EXECUTE format('CREATE TABLE %s (id text PRIMARY KEY, embedding @extschema@.vector%s, document text, metadata jsonb)',
		tbl, CASE WHEN dimension IS NULL THEN '' ELSE '(' || dimension || ')' END);
	EXECUTE format('CREATE INDEX ON %s USING gin (metadata jsonb_path_ops)', tbl);
	EXECUTE format('CREATE INDEX ON %s USING gin (to_tsvector(%L::regconfig, document))', tbl,
		conf ->> 'text_search_config');
	BEGIN
		INSERT INTO prism.collections (name, dimension, metric, configuration, metadata, backing_table, embedding_function)
			VALUES (name, dimension, conf #>> '{hnsw,space}', conf, metadata, tbl::regclass, fn)
			RETURNING * INTO c;
	EXCEPTION WHEN unique_violation THEN
		RAISE EXCEPTION 'collection "%" already exists', name USING ERRCODE = '42710',
			HINT = 'Another role owns it, or it was created concurrently.';
	END;
	IF dimension IS NOT NULL THEN
		PERFORM prism._create_hnsw_index(c);
	END IF;
	RETURN c;
END $$;
-- The table goes to the caller's current schema unless backing_table names one.
CREATE FUNCTION prism.create_collection(name text, configuration jsonb DEFAULT NULL, metadata jsonb DEFAULT NULL,
	embedding_function regprocedure DEFAULT NULL, dimension integer DEFAULT NULL,
	get_or_create boolean DEFAULT false, backing_table text DEFAULT NULL)
	RETURNS prism.collections LANGUAGE sql VOLATILE
	BEGIN ATOMIC
		SELECT prism._create_collection(name, configuration, metadata, embedding_function, dimension, get_or_create,
			backing_table, current_schema());
	END;
COMMENT ON FUNCTION prism.create_collection(text, jsonb, jsonb, regprocedure, integer, boolean, text) IS
	'creates a collection: a catalog row and a table (id, embedding, document, metadata) with its indexes';

CREATE FUNCTION prism.get_collection(name text) RETURNS prism.collections
	LANGUAGE sql STABLE STRICT
	BEGIN ATOMIC
		SELECT prism._collection(name);
	END;

CREATE FUNCTION prism.get_or_create_collection(name text, configuration jsonb DEFAULT NULL, metadata jsonb DEFAULT NULL,
	embedding_function regprocedure DEFAULT NULL, dimension integer DEFAULT NULL, backing_table text DEFAULT NULL)
	RETURNS prism.collections LANGUAGE sql VOLATILE
	BEGIN ATOMIC
		SELECT prism.create_collection(name, configuration, metadata, embedding_function, dimension, true, backing_table);
	END;

CREATE FUNCTION prism.list_collections("limit" integer DEFAULT NULL, "offset" integer DEFAULT 0)
	RETURNS SETOF prism.collections LANGUAGE sql STABLE
	BEGIN ATOMIC
		SELECT * FROM prism.collections ORDER BY created_at, name LIMIT "limit" OFFSET coalesce("offset", 0);
	END;

CREATE FUNCTION prism.count_collections() RETURNS bigint LANGUAGE sql STABLE
	BEGIN ATOMIC
		SELECT count(*) FROM prism.collections;
	END;

-- Renames a collection (its table keeps its name), replaces its metadata, changes the
-- settings Chroma lets change after creation, or names a new embedding function.
CREATE FUNCTION prism.modify_collection(collection text, new_name text DEFAULT NULL, metadata jsonb DEFAULT NULL,
	configuration jsonb DEFAULT NULL, embedding_function regprocedure DEFAULT NULL)
	RETURNS prism.collections LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	c prism.collections := prism._collection(collection, false);
	h jsonb;
	k text;
	fn text;
BEGIN
	IF NOT pg_has_role(c.owner, 'USAGE') THEN
		RAISE EXCEPTION 'permission denied for collection "%"', collection USING ERRCODE = '42501',
			HINT = format('Only role %s and its members may modify it.', c.owner);
	END IF;
	c := prism._collection(collection, true);
	IF new_name IS NOT NULL AND new_name <> c.name THEN
		IF NOT prism._valid_name(new_name) THEN
			RAISE EXCEPTION 'invalid collection name %', quote_literal(new_name) USING ERRCODE = '42602';
		END IF;
		IF EXISTS (SELECT 1 FROM prism.collections x WHERE x.name = new_name) THEN
			RAISE EXCEPTION 'collection "%" already exists', new_name USING ERRCODE = '42710';
		END IF;
		c.name := new_name;
	END IF;
	IF metadata IS NOT NULL THEN
		IF jsonb_typeof(metadata) <> 'object' THEN
			RAISE EXCEPTION 'collection metadata must be a JSON object' USING ERRCODE = '22023';
		END IF;
		IF EXISTS (SELECT 1 FROM jsonb_object_keys(metadata) x WHERE x LIKE 'hnsw:%') THEN
			RAISE EXCEPTION 'cannot change hnsw settings through metadata' USING ERRCODE = '22023',
				HINT = 'Pass configuration => ''{"hnsw": {"ef_search": 200}}''.';
		END IF;
		c.metadata := metadata || coalesce((SELECT jsonb_object_agg(key, value) FROM jsonb_each(c.metadata)
			WHERE key LIKE 'hnsw:%'), '{}');
	END IF;
	IF configuration IS NOT NULL THEN
		IF jsonb_typeof(configuration) <> 'object' OR EXISTS (SELECT 1 FROM jsonb_object_keys(configuration) x WHERE x <> 'hnsw')
				OR jsonb_typeof(configuration -> 'hnsw') IS DISTINCT FROM 'object' THEN
			RAISE EXCEPTION 'only the "hnsw" object of a configuration can be modified' USING ERRCODE = '22023';
		END IF;
		FOR k IN SELECT jsonb_object_keys(configuration -> 'hnsw') LOOP
			IF k NOT IN ('ef_search', 'num_threads', 'batch_size', 'sync_threshold', 'resize_factor') THEN
				RAISE EXCEPTION 'hnsw % cannot be changed after the collection is created', k USING ERRCODE = '0A000',
					HINT = 'ef_search, num_threads, batch_size, sync_threshold and resize_factor can.';
			END IF;
		END LOOP;
		h := (c.configuration -> 'hnsw') || (configuration -> 'hnsw');
		PERFORM prism._resolve_configuration(jsonb_build_object('hnsw', h), NULL);
		c.configuration := jsonb_set(c.configuration, '{hnsw}', h);
	END IF;
	IF embedding_function IS NOT NULL THEN
		SELECT format('%I.%I(text)', n.nspname, p.proname) INTO fn FROM pg_proc p
			JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE p.oid = embedding_function AND p.proargtypes = '25'::oidvector
			AND p.prorettype = '@extschema@.vector'::regtype AND NOT p.proretset;
		IF fn IS NULL THEN
			RAISE EXCEPTION 'embedding function % must take text and return vector', embedding_function
				USING ERRCODE = '42883';
		END IF;
		c.embedding_function := fn;
	END IF;
	UPDATE prism.collections x SET name = c.name, metadata = c.metadata, configuration = c.configuration,
		embedding_function = c.embedding_function WHERE x.id = c.id RETURNING * INTO c;
	RETURN c;
END $$;

-- Drops the collection's table and its catalog row.
CREATE FUNCTION prism.delete_collection(name text) RETURNS void LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	c prism.collections;
BEGIN
	SELECT * INTO c FROM prism.collections x WHERE x.name = name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'collection "%" does not exist', name USING ERRCODE = '42704';
	END IF;
	IF NOT pg_has_role(c.owner, 'USAGE') THEN
		RAISE EXCEPTION 'permission denied for collection "%"', name USING ERRCODE = '42501',
			HINT = format('Only role %s and its members may delete it.', c.owner);
	END IF;
	PERFORM FROM prism.collections x WHERE x.id = c.id FOR UPDATE;
	IF EXISTS (SELECT 1 FROM pg_class WHERE oid = c.backing_table) THEN
		EXECUTE format('DROP TABLE %s', c.backing_table);
	END IF;
	DELETE FROM prism.collections x WHERE x.id = c.id;
END $$;

-- Checks one record's metadata: a JSON object (or NULL) whose values are strings, numbers,
-- booleans, non-empty lists of one of those types, or null (which removes the key in update).
CREATE FUNCTION prism._check_metadata(metadata jsonb, entry integer) RETURNS void
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k text;
	v jsonb;
BEGIN
	IF metadata IS NULL THEN
		RETURN;
	END IF;
	IF jsonb_typeof(metadata) <> 'object' THEN
		RAISE EXCEPTION 'metadata % is not a JSON object', entry USING ERRCODE = '22023';
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each(metadata) LOOP
		IF k LIKE '$%' OR k LIKE '#%' OR k = '' THEN
			RAISE EXCEPTION 'invalid metadata key "%" in metadata %', k, entry USING ERRCODE = '22023',
				HINT = 'Keys may not be empty or start with $ or #.';
		END IF;
		IF jsonb_typeof(v) = 'object'
				OR (jsonb_typeof(v) = 'array' AND (jsonb_array_length(v) = 0
					OR (SELECT count(DISTINCT jsonb_typeof(e)) <> 1 OR bool_or(jsonb_typeof(e) IN ('object', 'array', 'null'))
						FROM jsonb_array_elements(v) e))) THEN
			RAISE EXCEPTION 'invalid value for metadata key "%" in metadata %', k, entry USING ERRCODE = '42804',
				HINT = 'Values are strings, numbers, booleans or non-empty lists of one of those types.';
		END IF;
	END LOOP;
END $$;

-- Embeds texts with the collection's embedding function (NULL stays NULL).
CREATE FUNCTION prism._embed(c prism.collections, texts text[], what text, caller_path text)
	RETURNS @extschema@.vector[] LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	fn text;
	result @extschema@.vector[];
BEGIN
	IF c.embedding_function IS NULL THEN
		RAISE EXCEPTION 'collection "%" has no embedding function to embed %', c.name, what USING ERRCODE = '22023',
			HINT = CASE what WHEN 'query_texts' THEN 'Pass query_embeddings, or name a function text -> vector '
				'with prism.modify_collection(..., embedding_function => ''my_embed(text)'').'
				ELSE 'Pass embeddings, or name a function text -> vector with '
				'prism.modify_collection(..., embedding_function => ''my_embed(text)'').' END;
	END IF;
	SELECT format('%I.%I', n.nspname, p.proname) INTO fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE p.oid = to_regprocedure(c.embedding_function);
	IF fn IS NULL THEN
		RAISE EXCEPTION 'embedding function % of collection "%" does not exist', c.embedding_function, c.name
			USING ERRCODE = '42883';
	END IF;
	-- The user's function runs under the caller's search_path (it may be an SQL function whose
	-- body is resolved at each call); this statement's own names are all qualified.
	PERFORM set_config('search_path', caller_path, true);
	EXECUTE format('SELECT pg_catalog.array_agg(CASE WHEN t IS NULL THEN NULL ELSE %s(t)::@extschema@.vector END ORDER BY o) '
		'FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY AS u(t, o)', fn) INTO result USING texts;
	PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
	RETURN result;
END $$;

-- add / upsert / update: checks the batch, embeds documents if needed, fixes the dimension on
-- the first embeddings (and builds the hnsw index after writing them), writes in one statement.
CREATE FUNCTION prism._write(mode text, collection text, ids text[], embeddings @extschema@.vector[],
	documents text[], metadatas jsonb[], caller_path text) RETURNS bigint LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c prism.collections := prism._collection(collection);
	n integer := cardinality(ids);
	dup text;
	d integer;
	i integer;
	new_index boolean := false;
	written bigint := 0;
	more bigint;
BEGIN
	IF n IS NULL OR n = 0 OR array_ndims(ids) <> 1 THEN
		RAISE EXCEPTION 'ids must be a non-empty one-dimensional array' USING ERRCODE = '22023';
	END IF;
	IF array_position(ids, NULL) IS NOT NULL OR array_position(ids, '') IS NOT NULL THEN
		RAISE EXCEPTION 'id % is empty', coalesce(array_position(ids, NULL), array_position(ids, '')) USING ERRCODE = '22023';
	END IF;
	SELECT x INTO dup FROM unnest(ids) x GROUP BY x HAVING count(*) > 1 ORDER BY x LIMIT 1;
	IF dup IS NOT NULL THEN
		RAISE EXCEPTION 'duplicate id "%" in one %', dup, mode USING ERRCODE = '23505',
			HINT = 'Each id may appear once per call.';
	END IF;
	IF (embeddings IS NOT NULL AND (array_ndims(embeddings) <> 1 OR cardinality(embeddings) <> n))
			OR (documents IS NOT NULL AND (array_ndims(documents) <> 1 OR cardinality(documents) <> n))
			OR (metadatas IS NOT NULL AND (array_ndims(metadatas) <> 1 OR cardinality(metadatas) <> n)) THEN
		RAISE EXCEPTION '% ids but % embeddings, % documents, % metadatas', n, coalesce(cardinality(embeddings)::text, 'no'),
			coalesce(cardinality(documents)::text, 'no'), coalesce(cardinality(metadatas)::text, 'no')
			USING ERRCODE = '22023', HINT = 'Each given list needs one entry per id.';
	END IF;
	IF embeddings IS NULL AND documents IS NOT NULL AND (mode <> 'update' OR c.embedding_function IS NOT NULL) THEN
		embeddings := prism._embed(c, documents, 'documents', caller_path);
	END IF;
	IF mode <> 'update' THEN
		IF embeddings IS NULL THEN
			RAISE EXCEPTION '% needs embeddings or documents', mode USING ERRCODE = '22023';
		END IF;
		i := array_position(embeddings, NULL);
		IF i IS NOT NULL THEN
			RAISE EXCEPTION 'record "%" has no embedding', ids[i] USING ERRCODE = '22023',
				HINT = 'Give each record an embedding, or a document and an embedding function.';
		END IF;
	END IF;
	IF embeddings IS NOT NULL THEN
		d := coalesce(c.dimension, (SELECT @extschema@.vector_dims(e) FROM unnest(embeddings) e WHERE e IS NOT NULL LIMIT 1));
		SELECT o INTO i FROM unnest(embeddings) WITH ORDINALITY AS u(e, o)
			WHERE @extschema@.vector_dims(e) <> d ORDER BY o LIMIT 1;
		IF i IS NOT NULL THEN
			RAISE EXCEPTION 'embedding of record "%" has % dimensions, collection "%" has %', ids[i],
				@extschema@.vector_dims(embeddings[i]), c.name, d USING ERRCODE = '22000',
				HINT = 'A collection''s dimension is given at creation or fixed by its first embeddings.';
		END IF;
	END IF;
	FOR i IN 1 .. coalesce(cardinality(metadatas), 0) LOOP
		PERFORM prism._check_metadata(metadatas[i], i);
	END LOOP;
	IF c.dimension IS NULL AND d IS NOT NULL THEN
		IF NOT pg_has_role(c.owner, 'USAGE') THEN
			RAISE EXCEPTION 'only the owner of collection "%" can make its first add', c.name USING ERRCODE = '42501',
				HINT = 'The first embeddings fix the dimension and build the index, which needs the table''s owner.';
		END IF;
		c := prism._collection(collection, true);
		IF c.dimension IS NULL THEN
			EXECUTE format('ALTER TABLE %s ALTER COLUMN embedding TYPE @extschema@.vector(%s)', c.backing_table, d);
			UPDATE prism.collections SET dimension = d WHERE id = c.id RETURNING * INTO c;
			new_index := true;
		ELSIF c.dimension <> d THEN
			RAISE EXCEPTION 'embeddings have % dimensions, collection "%" has %', d, c.name, c.dimension USING ERRCODE = '22000';
		END IF;
	END IF;
	IF mode IN ('update', 'upsert') THEN
		EXECUTE format('UPDATE %s t SET embedding = coalesce(u.e, t.embedding), document = coalesce(u.d, t.document), '
			'metadata = CASE WHEN u.m IS NULL THEN t.metadata '
			'ELSE nullif(jsonb_strip_nulls(coalesce(t.metadata, ''{}'') || u.m), ''{}'') END '
			'FROM unnest($1::text[], $2::@extschema@.vector[], $3::text[], $4::jsonb[]) AS u(id, e, d, m) WHERE t.id = u.id',
			c.backing_table) USING ids, embeddings, documents, metadatas;
		GET DIAGNOSTICS written = ROW_COUNT;
	END IF;
	IF mode IN ('add', 'upsert') THEN
		EXECUTE format('INSERT INTO %s AS t (id, embedding, document, metadata) '
			'SELECT u.id, u.e, u.d, nullif(jsonb_strip_nulls(u.m), ''{}'') '
			'FROM unnest($1::text[], $2::@extschema@.vector[], $3::text[], $4::jsonb[]) AS u(id, e, d, m) '
			'ON CONFLICT (id) DO NOTHING', c.backing_table) USING ids, embeddings, documents, metadatas;
		GET DIAGNOSTICS more = ROW_COUNT;
		written := written + more;
	END IF;
	IF new_index THEN
		PERFORM prism._create_hnsw_index(c);
	END IF;
	RETURN written;
END $$;

CREATE FUNCTION prism.add(collection text, ids text[], embeddings @extschema@.vector[] DEFAULT NULL,
	documents text[] DEFAULT NULL, metadatas jsonb[] DEFAULT NULL) RETURNS bigint
	LANGUAGE sql VOLATILE
	BEGIN ATOMIC
		SELECT prism._write('add', collection, ids, embeddings, documents, metadatas, current_setting('search_path'));
	END;
COMMENT ON FUNCTION prism.add(text, text[], @extschema@.vector[], text[], jsonb[]) IS
	'adds records to a collection (ids already present are left unchanged); returns the number added';

CREATE FUNCTION prism.upsert(collection text, ids text[], embeddings @extschema@.vector[] DEFAULT NULL,
	documents text[] DEFAULT NULL, metadatas jsonb[] DEFAULT NULL) RETURNS bigint
	LANGUAGE sql VOLATILE
	BEGIN ATOMIC
		SELECT prism._write('upsert', collection, ids, embeddings, documents, metadatas, current_setting('search_path'));
	END;
COMMENT ON FUNCTION prism.upsert(text, text[], @extschema@.vector[], text[], jsonb[]) IS
	'updates the records whose id exists and adds the others; returns the number written';

CREATE FUNCTION prism.update(collection text, ids text[], embeddings @extschema@.vector[] DEFAULT NULL,
	documents text[] DEFAULT NULL, metadatas jsonb[] DEFAULT NULL) RETURNS bigint
	LANGUAGE sql VOLATILE
	BEGIN ATOMIC
		SELECT prism._write('update', collection, ids, embeddings, documents, metadatas, current_setting('search_path'));
	END;
COMMENT ON FUNCTION prism.update(text, text[], @extschema@.vector[], text[], jsonb[]) IS
	'updates existing records (metadata keys are merged, a null value removes a key); returns the number updated';
