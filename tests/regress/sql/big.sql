-- A 100,000-row transaction decodes completely, in order, with seq counting
-- every change.
\pset format unaligned
\pset tuples_only on
SELECT 'init' FROM pg_create_logical_replication_slot('big', 'pgcdc');
CREATE TABLE big (id int PRIMARY KEY, v text);
INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, 100000) g;
SELECT count(*) FILTER (WHERE r->>'op' = 'insert') AS inserts,
       count(*) FILTER (WHERE r->>'op' = 'relation') AS relations,
       bool_and((r->'after'->0->>'int')::int = coalesce((r->>'seq')::int, 0) + 1) FILTER (WHERE r->>'op' = 'insert') AS seq_matches_id,
       max((r->>'seq')::int) FILTER (WHERE r->>'op' = 'commit') AS commit_seq,
       sum((r->'after'->0->>'int')::bigint) AS id_sum
FROM pg_logical_slot_peek_changes('big', NULL, NULL, 'format', 'json') c, stable_record(c.data::jsonb) r;
-- Cancelled halfway, decoding leaves nothing dangling in this session: it
-- decodes again after DDL whose invalidations reach the plugin's cache.
SET statement_timeout = '20ms';
SELECT count(*) FROM pg_logical_slot_peek_changes('big', NULL, NULL, 'format', 'json');
RESET statement_timeout;
ALTER TABLE big ADD COLUMN w int;
INSERT INTO big VALUES (0, 'zero', 0);
SELECT count(*) AS records, sum(length(data)) > 0 AS bytes
FROM pg_logical_slot_get_binary_changes('big', NULL, NULL);
SELECT 'done' FROM pg_drop_replication_slot('big');
DROP TABLE big;
