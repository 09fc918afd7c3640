-- Replica identity decides the old image: key columns under DEFAULT and
-- USING INDEX (only when the key changed, for updates), the whole row under
-- FULL, nothing under NOTHING or without a primary key.  The RELATION record
-- says which.
\pset format unaligned
\pset tuples_only on
SELECT 'init' FROM pg_create_logical_replication_slot('ident', 'pgcdc');
CREATE TABLE id_default (id int PRIMARY KEY, code text NOT NULL, v text);
CREATE TABLE id_index (id int, code text NOT NULL, v text);
CREATE UNIQUE INDEX id_index_code ON id_index (code);
ALTER TABLE id_index REPLICA IDENTITY USING INDEX id_index_code;
CREATE TABLE id_full (id int PRIMARY KEY, code text, v text);
ALTER TABLE id_full REPLICA IDENTITY FULL;
CREATE TABLE id_nothing (id int PRIMARY KEY, code text, v text);
ALTER TABLE id_nothing REPLICA IDENTITY NOTHING;
CREATE TABLE no_pk (id int, code text, v text);

INSERT INTO id_default VALUES (1, 'a', 'x');
INSERT INTO id_index VALUES (1, 'a', 'x');
INSERT INTO id_full VALUES (1, 'a', 'x');
INSERT INTO id_nothing VALUES (1, 'a', 'x');
INSERT INTO no_pk VALUES (1, 'a', 'x');
-- A non-key update, a key update, a delete on each.
UPDATE id_default SET v = 'y';   UPDATE id_default SET id = 2;   DELETE FROM id_default;
UPDATE id_index SET v = 'y';     UPDATE id_index SET code = 'b'; DELETE FROM id_index;
UPDATE id_full SET v = 'y';      UPDATE id_full SET id = 2;      DELETE FROM id_full;
UPDATE id_nothing SET v = 'y';   UPDATE id_nothing SET id = 2;   DELETE FROM id_nothing;
UPDATE no_pk SET v = 'y';        DELETE FROM no_pk;

CREATE TEMP TABLE recs AS SELECT row_number() OVER () AS n, r FROM changes('ident') r;
SELECT r->>'table' AS "table", r->>'replica_identity' AS identity,
       (SELECT string_agg(c->>'name' || CASE WHEN (c->>'key')::bool THEN '(key)' ELSE '' END, ', ')
        FROM jsonb_array_elements(r->'columns') c) AS columns
FROM recs WHERE r->>'op' = 'relation' ORDER BY n;
SELECT r->>'table' AS "table", r->>'op' AS op, r->'before' AS before, r->'after' AS after
FROM recs WHERE r->>'op' IN ('insert', 'update', 'delete') ORDER BY n;

SELECT 'done' FROM pg_drop_replication_slot('ident');
DROP TABLE id_default, id_index, id_full, id_nothing, no_pk;
