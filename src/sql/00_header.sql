-- prism install script, assembled from src/sql/*.sql by the Makefile.
\echo Use "CREATE EXTENSION prism" to load this file. \quit

-- Safe-script rules (PostgreSQL docs, "Security Considerations for Extension Scripts"; pinned by
-- sql/security.sql). The script may run as the bootstrap superuser in a schema a less
-- privileged user controls, with search_path = pg_catalog (implicitly first), the target schema,
-- pg_temp. So: objects are only created, never CREATE OR REPLACE / IF NOT EXISTS (a name taken
-- beforehand makes CREATE EXTENSION fail); unqualified names refer only to objects this script
-- created or to pg_catalog, and are bound by exact signature at creation (operators, casts,
-- aggregates, operator classes keep OIDs); no expression is evaluated while installing; SQL
-- function bodies use the SQL-standard form (bound at creation), never a string body that the
-- caller's search_path would resolve.
CREATE SCHEMA prism;
-- Functions in schema prism check privileges themselves (e.g. SELECT on the indexed table).
GRANT USAGE ON SCHEMA prism TO PUBLIC;
