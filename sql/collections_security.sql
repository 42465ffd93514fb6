-- Collections (issue 13): functions run with the caller's rights; the catalog shows a
-- collection to roles with a privilege on its table and lets only its owner change it.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE ROLE regress_coll_alice;
CREATE ROLE regress_coll_bob;
CREATE ROLE regress_coll_carol;
CREATE SCHEMA coll_sec;
GRANT USAGE, CREATE ON SCHEMA coll_sec TO regress_coll_alice, regress_coll_bob, regress_coll_carol;
SET search_path = coll_sec, public;

-- every collection function is SECURITY INVOKER
SELECT count(*) AS security_definer FROM pg_proc WHERE pronamespace = 'prism'::regnamespace AND prosecdef;

-- alice, an ordinary role, creates a collection
SET ROLE regress_coll_alice;
SELECT name, backing_table, owner FROM prism.create_collection('alice-docs', dimension => 2);
SELECT prism.add('alice-docs', '{a1,a2}', '{"[1,0]","[0,1]"}', '{"alice one","alice two"}');
RESET ROLE;

-- bob has no privilege on alice's table: the collection does not exist for him, and neither
-- the functions nor direct statements on the catalog reach it
SET ROLE regress_coll_bob;
SELECT prism.count_collections(), (SELECT count(*) FROM prism.list_collections()) AS listed;
SELECT prism.get_collection('alice-docs');
SELECT * FROM prism.get('alice-docs');
SELECT * FROM prism.query('alice-docs', '{"[1,0]"}');
SELECT prism.add('alice-docs', '{b1}', '{"[1,1]"}');
SELECT prism.delete('alice-docs', ids => '{a1}');
SELECT prism.modify_collection('alice-docs', new_name => 'bobs-now');
SELECT prism.delete_collection('alice-docs');
SELECT * FROM "alice-docs";
UPDATE prism.collections SET name = 'bobs-now';
DELETE FROM prism.collections;
-- nor can he register alice's table as his collection, or a row in alice's name
INSERT INTO prism.collections (name, metric, configuration, backing_table)
	VALUES ('stolen', 'l2', '{}', 'coll_sec."alice-docs"'::regclass);
CREATE TABLE bob_table (id text PRIMARY KEY, embedding vector(2), document text, metadata jsonb);
INSERT INTO prism.collections (name, metric, configuration, backing_table, owner)
	VALUES ('fake-alice', 'l2', '{}', 'bob_table'::regclass, 'regress_coll_alice');
-- his own collection works; the name alice uses is taken
SELECT name, owner FROM prism.create_collection('bob-docs');
SELECT prism.create_collection('alice-docs', backing_table => 'bob_other');
SELECT to_regclass('bob_other') AS no_table_left;
RESET ROLE;

-- carol may read alice's table: she can get and query, but not write or change the catalog
GRANT SELECT ON coll_sec."alice-docs" TO regress_coll_carol;
SET ROLE regress_coll_carol;
SELECT name FROM prism.list_collections();
SELECT id, document FROM prism.get('alice-docs');
SELECT rank, id FROM prism.query('alice-docs', '{"[1,0.1]"}', 1, include => '{}');
SELECT prism.add('alice-docs', '{c1}', '{"[1,1]"}');
SELECT prism.upsert('alice-docs', '{a1}', '{"[1,1]"}');
SELECT prism.update('alice-docs', '{a1}', documents => '{changed}');
SELECT prism.delete('alice-docs', ids => '{a1}');
SELECT prism.modify_collection('alice-docs', metadata => '{"owner": "carol"}');
SELECT prism.delete_collection('alice-docs');
UPDATE prism.collections SET metadata = '{"owner": "carol"}';
RESET ROLE;
SELECT name, metadata, (SELECT count(*) FROM coll_sec."alice-docs") AS records FROM prism.collections ORDER BY name;

-- a role allowed to insert cannot make the first add, which fixes the dimension
SET ROLE regress_coll_alice;
SELECT name FROM prism.create_collection('alice-empty');
GRANT SELECT, INSERT ON coll_sec."alice-empty" TO regress_coll_carol;
SET ROLE regress_coll_carol;
SELECT prism.add('alice-empty', '{c1}', '{"[1,1]"}');
SET ROLE regress_coll_alice;
SELECT prism.add('alice-empty', '{a1}', '{"[1,0]"}');
SET ROLE regress_coll_carol;
SELECT prism.add('alice-empty', '{c1}', '{"[1,1]"}');
SELECT id FROM prism.get('alice-empty');
SET ROLE regress_coll_alice;
SELECT prism.delete_collection('alice-empty');
RESET ROLE;

-- alice changes and deletes her own collection
SET ROLE regress_coll_alice;
SELECT name FROM prism.modify_collection('alice-docs', new_name => 'alice-renamed');
SELECT prism.delete_collection('alice-renamed');
RESET ROLE;
SET ROLE regress_coll_bob;
SELECT prism.delete_collection('bob-docs');
DROP TABLE bob_table;
RESET ROLE;
SELECT count(*) FROM prism.collections;
RESET search_path;
DROP SCHEMA coll_sec;
DROP ROLE regress_coll_alice, regress_coll_bob, regress_coll_carol;
