-- prism install script, assembled from src/sql/*.sql by the Makefile.
\echo Use "CREATE EXTENSION prism" to load this file. \quit

CREATE SCHEMA prism;
-- Functions in schema prism check privileges themselves (e.g. SELECT on the indexed table).
GRANT USAGE ON SCHEMA prism TO PUBLIC;
