-- Logical messages: transactional ones are changes of their transaction,
-- non-transactional ones come at once; both can be filtered by prefix or
-- turned off.
\pset format unaligned
\pset tuples_only on
SELECT 'init' FROM pg_create_logical_replication_slot('msgs', 'pgcdc');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'audit', 'outside any transaction');
BEGIN;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'audit', 'committed with its transaction');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'heartbeat', '\x00ff'::bytea);
SELECT 'emitted' FROM pg_logical_emit_message(false, 'audit', 'even from a transaction that rolls back');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'audit', 'rolled back with its transaction');
ROLLBACK;
BEGIN;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'audit', 'second');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'heartbeat', '');
COMMIT;

SELECT r->>'op' AS op, r->>'seq' AS seq, r->>'prefix' AS prefix, r->'transactional' AS transactional,
       convert_from(decode(coalesce(r->>'content', ''), 'hex'), 'SQL_ASCII') AS content
FROM pg_logical_slot_peek_changes('msgs', NULL, NULL, 'format', 'json') c, stable_record(c.data::jsonb) r;
-- Prefix filter.
SELECT r->>'op' AS op, r->>'prefix' AS prefix
FROM pg_logical_slot_peek_changes('msgs', NULL, NULL, 'format', 'json', 'message-prefixes', 'heartbeat, other') c,
     stable_record(c.data::jsonb) r;
-- Messages off.
SELECT r->>'op' AS op FROM changes('msgs', 'messages', 'off') r;
SELECT 'done' FROM pg_drop_replication_slot('msgs');
