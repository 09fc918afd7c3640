-- The changes Debezium streams for the fixtures (record.py), after the
-- snapshot of setup.sql.  One statement a transaction unless BEGIN says
-- otherwise.  Change it only together with a new recording.

-- Inserts of every type (the same cases as the snapshot's rows, new keys).
INSERT INTO types SELECT id + 10, c_bool, c_int2, c_int4, c_int8, c_float4, c_float8, c_numeric,
    c_num_10_2, c_num_5_0, c_money, c_char, c_varchar, c_text, c_bytea, c_uuid, c_json, c_jsonb,
    c_xml, c_date, c_time, c_time3, c_timetz, c_ts, c_ts3, c_tstz, c_interval, c_int_arr,
    c_text_arr, c_mood, c_posint, c_email, c_hstore, c_inet, c_cidr, c_macaddr, c_bit, c_varbit,
    c_point, c_int4range, c_tstzrange
  FROM types WHERE id <= 3;

-- Update, REPLICA IDENTITY DEFAULT: "before" holds the key only.
UPDATE types SET c_text = 'changed', c_numeric = 1e-20, c_mood = 'ok' WHERE id = 11;

-- Update that changes the key: a delete (and its tombstone) under the old
-- key, a create under the new one.
UPDATE types SET id = 21 WHERE id = 12;

-- Delete, and its tombstone.
DELETE FROM types WHERE id = 13;

-- REPLICA IDENTITY FULL: update and delete with the whole old row.
UPDATE full_ident SET qty = qty * 2, tags = tags || 'w'::text WHERE id = 1;
DELETE FROM full_ident WHERE id = 2;

-- Composite key: update in place, then a key change.
UPDATE pair SET v = 'updated' WHERE a = 1;
UPDATE pair SET b = 'z' WHERE a = 2;

-- No key: only inserts (PostgreSQL refuses to update or delete rows of a
-- published table without a replica identity).  With REPLICA IDENTITY FULL,
-- all three.
INSERT INTO keyless VALUES (3, 'c');
INSERT INTO keyless_full VALUES (3, 'c');
UPDATE keyless_full SET s = 'B' WHERE n = 2;
DELETE FROM keyless_full WHERE n = 1;

-- Unchanged TOASTed columns: the update touches only the title.
UPDATE doc SET title = 'second' WHERE id = 1;
UPDATE doc_full SET title = 'second' WHERE id = 1;
-- Then one that rewrites a TOASTed column (its new value is present).
UPDATE doc SET body = repeat('9876543210', 250) WHERE id = 1;

-- Partitioned table: a row in each leaf.
INSERT INTO measure VALUES (2, '2024-07-01', 2.5), (3, '2025-02-01', 3.5);

-- A multi-statement transaction (one transaction topic BEGIN/END with
-- per-table counts), with a transactional logical message inside.
BEGIN;
INSERT INTO full_ident VALUES (3, 'three', 3.125, '{}');
UPDATE full_ident SET name = 'THREE' WHERE id = 3;
INSERT INTO pair VALUES (3, 'w', 'in tx');
SELECT pg_logical_emit_message(true, 'pgcdc-fixture', 'inside a transaction');
COMMIT;

-- A logical message outside any transaction.
SELECT pg_logical_emit_message(false, 'pgcdc-fixture', 'not transactional');

-- Truncate (Debezium skips truncates unless skipped.operations says otherwise).
TRUNCATE scratch;

-- The outbox pattern: events inserted with the business change, then
-- deleted in the same transaction (the table stays empty).
BEGIN;
UPDATE scratch SET v = v;
INSERT INTO outbox VALUES
  ('8b1e9e6e-0d4c-4c86-9a4c-2f6f0f1d7a01', 'order', 'o-1', 'OrderCreated', '{"order": "o-1", "total": 12.5}'),
  ('8b1e9e6e-0d4c-4c86-9a4c-2f6f0f1d7a02', 'customer', 'c-7', 'CustomerMoved', '{"city": "Zürich"}');
DELETE FROM outbox;
COMMIT;
INSERT INTO outbox VALUES
  ('8b1e9e6e-0d4c-4c86-9a4c-2f6f0f1d7a03', 'order', 'o-1', 'OrderPaid', NULL);
