-- include-transaction and skip-empty-xacts; the COMMIT record counts the
-- transaction's changes; origin=none drops replicated changes.
\pset format unaligned
\pset tuples_only on
SELECT 'init' FROM pg_create_logical_replication_slot('txn', 'pgcdc');
CREATE TABLE t (id int PRIMARY KEY);
INSERT INTO t VALUES (1), (2);
CREATE TABLE empty_ddl_only (id int);
SELECT r->>'op' AS op, r->>'seq' AS seq FROM pg_logical_slot_peek_changes('txn', NULL, NULL, 'format', 'json') c, stable_record(c.data::jsonb) r;
SELECT r->>'op' AS op FROM pg_logical_slot_peek_changes('txn', NULL, NULL, 'format', 'json', 'skip-empty-xacts', 'on') c, stable_record(c.data::jsonb) r;
SELECT r->>'op' AS op FROM pg_logical_slot_peek_changes('txn', NULL, NULL, 'format', 'json', 'include-transaction', 'off') c, stable_record(c.data::jsonb) r;
SELECT 'consumed' FROM pg_logical_slot_get_changes('txn', NULL, NULL, 'format', 'json');

-- Changes made under a replication origin (as a subscriber applies them).
SELECT 'origin' FROM pg_replication_origin_create('upstream');
SELECT 'setup' FROM pg_replication_origin_session_setup('upstream');
INSERT INTO t VALUES (3);
SELECT 'reset' FROM pg_replication_origin_session_reset();
INSERT INTO t VALUES (4);
SELECT r->'after' AS after_any FROM changes('txn', 'origin', 'any') r WHERE r->>'op' = 'insert';
SELECT 'done' FROM pg_drop_replication_slot('txn');
SELECT 'init' FROM pg_create_logical_replication_slot('txn', 'pgcdc');
SELECT 'setup' FROM pg_replication_origin_session_setup('upstream');
INSERT INTO t VALUES (5);
SELECT 'reset' FROM pg_replication_origin_session_reset();
INSERT INTO t VALUES (6);
SELECT r->'after' AS after_none FROM changes('txn', 'origin', 'none') r WHERE r->>'op' = 'insert';
SELECT 'done' FROM pg_drop_replication_slot('txn');
SELECT pg_replication_origin_drop('upstream');
DROP TABLE t, empty_ddl_only;
