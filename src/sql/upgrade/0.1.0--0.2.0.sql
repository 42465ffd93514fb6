-- prism upgrade script 0.1.0 -> 0.2.0, assembled by the Makefile: this file, then the
-- src/sql parts new in 0.2.0 (Makefile SQL_NEW_IN_0_2_0).
\echo Use "ALTER EXTENSION prism UPDATE TO '0.2.0'" to load this file. \quit

-- Statements for objects of 0.1.0 whose definition changed in 0.2.0 go here (ALTER ...,
-- CREATE OR REPLACE FUNCTION ... with the new definition). The same safe-script rules as
-- src/sql/00_header.sql apply. None so far.
