-- pgcdc.read_record() encodes table rows exactly as the plugin streams them:
-- the same values, the same RELATION record, only op, snapshot flag and
-- position differ.
\pset format unaligned
\pset tuples_only on
SELECT 'init' FROM pg_create_logical_replication_slot('snap', 'pgcdc');
CREATE TYPE colour AS ENUM ('red', 'green');
CREATE TABLE snap (id bigint PRIMARY KEY, name text NOT NULL, salary numeric(12,2),
                   at timestamptz, c colour, tags text[], dropped int, payload bytea);
ALTER TABLE snap DROP COLUMN dropped;
INSERT INTO snap VALUES (1, 'ann', 1000.5, '2026-01-01 10:00+00', 'red', '{a,b}', '\xdead'),
                        (2, 'bob', NULL, 'infinity', NULL, NULL, NULL);
SET TimeZone = 'Asia/Kolkata';
SET DateStyle = 'German';

CREATE TEMP TABLE streamed AS
  SELECT stable_record(data::jsonb) AS r FROM pg_logical_slot_get_changes('snap', NULL, NULL, 'format', 'json');
CREATE TEMP TABLE snapshotted AS
  SELECT stable_record(pgcdc.to_json(pgcdc.read_record(s, '0/ABCDEF'))::jsonb) AS r FROM snap s;
SELECT r FROM snapshotted ORDER BY r->'after'->0->>'int';
-- Apart from op, seq, commit time and the snapshot flag, identical.
SELECT count(*) AS rows, bool_and(a.r - ARRAY['op', 'seq', 'snapshot'] = b.r - ARRAY['op', 'seq', 'snapshot']) AS same
FROM (SELECT r FROM streamed WHERE r->>'op' = 'insert') a
JOIN snapshotted b ON a.r->'after'->0 = b.r->'after'->0;
-- The relation record too, and the position is the consistent point given.
SELECT (SELECT r FROM streamed WHERE r->>'op' = 'relation') = stable_record(pgcdc.to_json(pgcdc.relation_record('snap'))::jsonb) AS same_relation;
SELECT pgcdc.to_json(pgcdc.read_record(s, '0/ABCDEF'))::jsonb->>'lsn' AS lsn FROM snap s LIMIT 1;
SELECT jsonb_array_length(pgcdc.to_json(pgcdc.read_record(s, '0/1', true))::jsonb->'columns') AS inline_columns FROM snap s LIMIT 1;
RESET ALL;

-- Bad input.
SELECT pgcdc.read_record(ROW(1, 'x'));
CREATE TYPE pair AS (a int, b text);
SELECT pgcdc.read_record(ROW(1, 'x')::pair);
SELECT pgcdc.relation_record('pair');
SELECT pgcdc.to_json('\x0a05ffff'::bytea);
SELECT pgcdc.to_json('\xff'::bytea);
SELECT pgcdc.to_json(''::bytea);
SELECT pgcdc.to_json('\x0802'::bytea);
-- Enum numbers this version does not know render as numbers, zero not at all.
SELECT pgcdc.to_json('\x0801'::bytea);
SELECT pgcdc.to_json('\x080110637801'::bytea);
SELECT pgcdc.to_json('\x08016a025000'::bytea);
SELECT 'done' FROM pg_drop_replication_slot('snap');
DROP TABLE snap;
DROP TYPE colour, pair;
