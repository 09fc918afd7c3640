-- The SQL functions open a table only for a role that may SELECT it:
-- EXECUTE is granted to PUBLIC, so without the check any role with USAGE on
-- the schema could lock any table, or read a row through its row type.
\pset format unaligned
\pset tuples_only on
CREATE ROLE pgcdc_nobody;
GRANT USAGE ON SCHEMA pgcdc TO pgcdc_nobody;
CREATE TABLE secret (id int PRIMARY KEY, pin text);
INSERT INTO secret VALUES (1, '1234');
CREATE TABLE open_to_all (id int PRIMARY KEY);
GRANT SELECT ON open_to_all TO pgcdc_nobody;
CREATE TABLE one_column (id int PRIMARY KEY, pin text);
GRANT SELECT (id) ON one_column TO pgcdc_nobody;
SET ROLE pgcdc_nobody;
-- Refused before any lock, with the privilege error.
SELECT pgcdc.relation_record('secret');
SELECT pgcdc.read_record(ROW(1, 'x')::secret);
-- A grant on some columns is not enough: the record holds them all.
SELECT pgcdc.relation_record('one_column');
-- An OID that names no table says so, for this role too.
SELECT pgcdc.relation_record(4294967000::oid::regclass);
-- With SELECT on the table, both work.
SELECT pgcdc.to_json(pgcdc.relation_record('open_to_all'))::jsonb->'columns'->0->>'name' AS first_column;
SELECT pgcdc.to_json(pgcdc.read_record(ROW(7)::open_to_all))::jsonb->'after' AS after;
-- table_included reads only names (as pg_class shows everyone) and locks nothing.
SELECT pgcdc.table_included('secret', 'public.*', NULL) AS included;
RESET ROLE;
-- The privilege checks leave the superuser's reads as they were.
SELECT pgcdc.to_json(pgcdc.read_record(s))::jsonb->'after' AS after FROM secret s;
DROP TABLE secret, open_to_all, one_column;
REVOKE USAGE ON SCHEMA pgcdc FROM pgcdc_nobody;
DROP ROLE pgcdc_nobody;
