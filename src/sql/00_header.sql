-- prism install script, assembled from src/sql/*.sql by the Makefile.
\echo Use "CREATE EXTENSION prism" to load this file. \quit

CREATE SCHEMA IF NOT EXISTS prism;
