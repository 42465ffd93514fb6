-- Collections (issue 13): lifecycle, configuration, records, errors. Filters, query and
-- hybrid search are in collections_query; roles and privileges in collections_security.
\set SHOW_CONTEXT never
SET client_min_messages = warning;

-- create: the catalog row and a table with its three indexes
SELECT name, dimension, metric, configuration, metadata, backing_table, embedding_function, owner
	FROM prism.create_collection('docs');
\d docs
SELECT prism.count_collections();
-- the catalog is an extension configuration table: pg_dump keeps its rows
-- (test/t/095_collections_dump.sh restores a dump)
SELECT extconfig::regclass[] FROM pg_extension WHERE extname = 'prism';

-- Chroma's defaults; the `hnsw` object, legacy `hnsw:*` metadata keys, `auto` sizing
SELECT name, dimension, metric, configuration -> 'hnsw' AS hnsw FROM prism.create_collection('cfg-new',
	configuration => '{"hnsw": {"space": "cosine", "max_neighbors": 8, "ef_construction": 40, "ef_search": 20, "num_threads": 1}}',
	dimension => 2);
SELECT m, ef_construction, metric FROM prism.index_info((SELECT indexrelid FROM pg_index WHERE indrelid = '"cfg-new"'::regclass
	AND indexrelid::regclass::text LIKE '%embedding%'));
SELECT name, metric, configuration -> 'hnsw' AS hnsw, metadata FROM prism.create_collection('cfg.legacy',
	metadata => '{"hnsw:space": "ip", "hnsw:M": 12, "hnsw:construction_ef": 50, "hnsw:search_ef": 30, "topic": "x"}');
-- the hnsw object wins over a legacy key
SELECT metric FROM prism.create_collection('cfg_both', configuration => '{"hnsw": {"space": "l2"}}',
	metadata => '{"hnsw:space": "cosine"}');
-- auto: sized by expected_size when given, else by the rows of the first add
SELECT * FROM prism.auto_hnsw_parameters(10000), prism.auto_hnsw_parameters(10001) b,
	prism.auto_hnsw_parameters(1000000) c, prism.auto_hnsw_parameters(1000001) d;
SELECT configuration -> 'hnsw' -> 'max_neighbors' FROM prism.create_collection('cfg_auto', dimension => 2,
	configuration => '{"hnsw": {"max_neighbors": "auto", "ef_construction": "auto", "expected_size": 50000}}');
SELECT m, ef_construction FROM prism.index_info((SELECT indexrelid FROM pg_index WHERE indrelid = 'cfg_auto'::regclass
	AND indexrelid::regclass::text LIKE '%embedding%'));
SELECT metric FROM prism.create_collection('cfg_auto_small', configuration => '{"hnsw": {"max_neighbors": "auto", "ef_construction": "auto"}}');
SELECT prism.add('cfg_auto_small', '{a,b}', '{"[1,2]","[3,4]"}');
SELECT m, ef_construction, dimensions FROM prism.index_info((SELECT indexrelid FROM pg_index WHERE indrelid = 'cfg_auto_small'::regclass
	AND indexrelid::regclass::text LIKE '%embedding%'));
-- configuration errors
SELECT prism.create_collection('bad1', configuration => '{"hnsw": {"space": "l1"}}');
SELECT prism.create_collection('bad1', configuration => '{"hnsw": {"max_neighbors": 1}}');
SELECT prism.create_collection('bad1', configuration => '{"hnsw": {"ef_search": 0}}');
SELECT prism.create_collection('bad1', configuration => '{"hnsw": {"ef_construction": 10, "max_neighbors": 16}}');
SELECT prism.create_collection('bad1', configuration => '{"hnsw": {"m": 16}}');
SELECT prism.create_collection('bad1', configuration => '{"hnsw": {"resize_factor": 0}}');
SELECT prism.create_collection('bad1', configuration => '{"hnsw": {"batch_size": 1}}');
SELECT prism.create_collection('bad1', configuration => '{"spann": {}}');
SELECT prism.create_collection('bad1', configuration => '{"colour": 1}');
SELECT prism.create_collection('bad1', configuration => '{"text_search_config": "no_such_config"}');
SELECT prism.create_collection('bad1', metadata => '{"hnsw:foo": 1}');
SELECT prism.create_collection('bad1', metadata => '[1]');
SELECT prism.create_collection('bad1', dimension => 0);
SELECT count(*) AS nothing_left_behind FROM pg_class WHERE relname = 'bad1';

-- names: Chroma's rules; duplicate; get_or_create; long names need backing_table
SELECT prism.create_collection('ab');
SELECT prism.create_collection('-abc');
SELECT prism.create_collection('a..b');
SELECT prism.create_collection('a b c');
SELECT prism.create_collection(NULL);
SELECT prism.create_collection('docs');
SELECT name, (SELECT count(*) FROM prism.collections) AS collections FROM prism.get_or_create_collection('docs');
SELECT name FROM prism.create_collection('docs', get_or_create => true);
SELECT prism.create_collection(repeat('x', 64));
SELECT backing_table FROM prism.create_collection(repeat('x', 64), backing_table => 'long_name_table');
CREATE SCHEMA coll_other;
SELECT backing_table FROM prism.create_collection('in-schema', backing_table => 'coll_other."In Schema"');
SELECT backing_table FROM prism.create_collection('in.schema2', backing_table => 'a.b.c');
-- a table of that name exists already: nothing is created
CREATE TABLE taken (x int);
SELECT prism.create_collection('taken');
SELECT count(*) FROM prism.collections WHERE name = 'taken';

-- get, list, count
SELECT name, metric FROM prism.get_collection('docs');
SELECT prism.get_collection('nope');
SELECT name FROM prism.list_collections() ORDER BY name;
SELECT name FROM prism.list_collections(2, 1);
SELECT prism.count_collections();

-- add: the first add fixes the dimension and builds the hnsw index
SELECT prism.add('docs', ARRAY['a', 'b', 'c'], ARRAY['[1,0,0]', '[0,1,0]', '[0,0,1]']::vector[],
	ARRAY['the cat sat', 'a dog ran', NULL],
	ARRAY['{"k": 1, "tags": ["x", "y"]}', '{"k": 2, "gone": null}', NULL]::jsonb[]);
SELECT dimension FROM prism.get_collection('docs');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'docs'::regclass AND attname = 'embedding';
SELECT indexrelid::regclass, am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	JOIN pg_am am ON am.oid = c.relam WHERE indrelid = 'docs'::regclass ORDER BY 2, 1;
SELECT * FROM docs ORDER BY id;
-- an id already present is left as it is (Chroma ignores it); the count says what was added
SELECT prism.add('docs', '{a,d}', '{"[9,9,9]","[1,1,0]"}', '{changed,"a fourth doc"}');
SELECT id, embedding, document FROM docs WHERE id IN ('a', 'd') ORDER BY id;

-- errors of add; a failing batch changes nothing
SELECT prism.add('docs', '{e,f,e}', '{"[1,1,1]","[1,1,1]","[1,1,1]"}');
SELECT prism.add('docs', '{e,f}', '{"[1,1,1]","[1,1,1,1]"}');
SELECT prism.add('docs', '{e}', '{"[1,1]"}');
SELECT prism.add('docs', '{e,f}', '{"[1,1,1]"}');
SELECT prism.add('docs', '{e,NULL}', '{"[1,1,1]","[1,1,1]"}');
SELECT prism.add('docs', '{}', '{}');
SELECT prism.add('docs', '{e,f}', ARRAY['[1,1,1]', NULL]::vector[]);
SELECT prism.add('docs', '{e}');
SELECT prism.add('docs', '{e}', '{"[1,1,1]"}', metadatas => '{"[1]"}');
SELECT prism.add('docs', '{e}', '{"[1,1,1]"}', metadatas => ARRAY['{"a": {"nested": 1}}']::jsonb[]);
SELECT prism.add('docs', '{e}', '{"[1,1,1]"}', metadatas => ARRAY['{"a": [1, "x"]}']::jsonb[]);
SELECT prism.add('docs', '{e}', '{"[1,1,1]"}', metadatas => ARRAY['{"a": []}']::jsonb[]);
SELECT prism.add('docs', '{e}', '{"[1,1,1]"}', metadatas => ARRAY['{"$a": 1}']::jsonb[]);
SELECT prism.add('nope', '{e}', '{"[1,1,1]"}');
SELECT prism.count('docs');
-- documents without embeddings need an embedding function
SELECT prism.add('docs', '{e}', documents => '{"some text"}');
SELECT prism.count('docs');

-- update merges metadata (null removes a key) and keeps what is not given; unknown ids are skipped
SELECT prism.update('docs', '{a,zz}', metadatas => ARRAY['{"k": null, "z": 3}', '{"k": 1}']::jsonb[]);
SELECT prism.update('docs', '{b}', documents => '{"a dog barked"}');
SELECT prism.update('docs', '{c}', '{"[0,0,2]"}');
SELECT id, embedding, document, metadata FROM docs ORDER BY id;
SELECT prism.update('docs', '{a}', '{"[1,2]"}');
-- upsert: updates a, adds e
SELECT prism.upsert('docs', '{a,e}', '{"[1,0,0.5]","[0.5,0.5,0.5]"}', '{"the cat sat down","a fifth"}',
	ARRAY['{"new": true}', '{"k": 5}']::jsonb[]);
SELECT id, embedding, document, metadata FROM docs ORDER BY id;

-- get: ids, limit/offset (in id order), include
SELECT * FROM prism.get('docs');
SELECT * FROM prism.get('docs', ids => '{c,a,zz}');
SELECT * FROM prism.get('docs', "limit" => 2, "offset" => 1, include => '{embeddings}');
SELECT * FROM prism.get('docs', include => '{}');
SELECT * FROM prism.get('docs', include => '{distances}');
SELECT * FROM prism.peek('docs', 2);
SELECT prism.count('docs');

-- delete: by ids, by where, both; nothing given is an error
SELECT prism.delete('docs', ids => '{e}');
SELECT prism.delete('docs', "where" => '{"k": 2}');
SELECT prism.delete('docs', ids => '{a,c}', "where" => '{"new": true}');
SELECT prism.delete('docs');
SELECT id FROM docs ORDER BY id;

-- modify: rename (the table keeps its name), replace metadata, change ef_search only
SELECT name, metadata, configuration #> '{hnsw,ef_search}' AS ef_search, backing_table
	FROM prism.modify_collection('cfg.legacy', new_name => 'cfg-renamed', metadata => '{"topic": "y"}',
		configuration => '{"hnsw": {"ef_search": 64}}');
SELECT prism.modify_collection('cfg-renamed', configuration => '{"hnsw": {"space": "l2"}}');
SELECT prism.modify_collection('cfg-renamed', configuration => '{"hnsw": {"ef_search": 5000}}');
SELECT prism.modify_collection('cfg-renamed', metadata => '{"hnsw:space": "l2"}');
SELECT prism.modify_collection('cfg-renamed', new_name => 'docs');
SELECT prism.modify_collection('cfg-renamed', new_name => 'x');
SELECT prism.modify_collection('nope', new_name => 'xyz');

-- embedding functions: a toy function text -> vector (letter counts of a, b, c)
CREATE FUNCTION toy_embed(t text) RETURNS vector LANGUAGE sql IMMUTABLE
	AS $$ SELECT ARRAY[length(t) - length(replace(t, 'a', '')), length(t) - length(replace(t, 'b', '')),
		length(t) - length(replace(t, 'c', '')) + 1]::real[]::vector $$;
CREATE FUNCTION not_an_embedder(t text) RETURNS text LANGUAGE sql AS 'SELECT t';
SELECT embedding_function FROM prism.create_collection('embedded', embedding_function => 'toy_embed(text)');
SELECT prism.create_collection('embedded2', embedding_function => 'not_an_embedder(text)');
SELECT prism.add('embedded', '{x,y,z}', documents => '{aaa,bbc,ccc}');
SELECT id, embedding, embedding = toy_embed(document) AS embedded_by_function FROM embedded ORDER BY id;
-- explicit embeddings win over the function
SELECT prism.add('embedded', '{w}', '{"[9,9,9]"}', '{aaa}');
SELECT embedding FROM embedded WHERE id = 'w';
-- update of a document re-embeds it
SELECT prism.update('embedded', '{x}', documents => '{bbbb}');
SELECT embedding FROM embedded WHERE id = 'x';
SELECT query_index, rank, id FROM prism.query('embedded', query_texts => '{bbbb,cc}', n_results => 2, include => '{}');
SELECT prism.query('docs', query_texts => '{abc}');
-- name one later
SELECT embedding_function FROM prism.modify_collection('docs', embedding_function => 'toy_embed(text)');
SELECT prism.add('docs', '{t}', documents => '{abc}');
SELECT embedding FROM docs WHERE id = 't';

-- delete_collection drops the table
SELECT prism.delete_collection('embedded');
SELECT to_regclass('embedded');
SELECT prism.delete_collection('embedded');
-- a collection whose table was dropped by hand can still be deleted
DROP TABLE cfg_both;
SELECT prism.count('cfg_both');
SELECT prism.delete_collection('cfg_both');

-- clean up
SELECT prism.delete_collection(name) FROM prism.collections;
SELECT prism.count_collections();
DROP TABLE taken;
DROP SCHEMA coll_other;
DROP FUNCTION toy_embed, not_an_embedder;
