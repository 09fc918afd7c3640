-- inline-schema: every change record carries its columns and no RELATION
-- records are written; the default writes one per relation per session and
-- again after each change of definition.
\pset format unaligned
\pset tuples_only on
SELECT 'init' FROM pg_create_logical_replication_slot('inl', 'pgcdc');
CREATE TABLE a (id int PRIMARY KEY, v text);
CREATE TABLE b (id int PRIMARY KEY);
INSERT INTO a VALUES (1, 'x');
INSERT INTO b VALUES (1);
INSERT INTO a VALUES (2, 'y');
SELECT r->>'op' AS op, r->>'table' AS "table", jsonb_array_length(r->'columns') AS columns
FROM pg_logical_slot_peek_changes('inl', NULL, NULL, 'format', 'json', 'inline-schema', 'on') c, stable_record(c.data::jsonb) r
WHERE r->>'op' NOT IN ('begin', 'commit');
SELECT r->>'op' AS op, r->>'table' AS "table", jsonb_array_length(r->'columns') AS columns
FROM changes('inl') r WHERE r->>'op' NOT IN ('begin', 'commit');
SELECT 'done' FROM pg_drop_replication_slot('inl');
DROP TABLE a, b;
