-- Aborted transactions and rolled-back subtransactions never appear; the
-- index of each change within its transaction (seq) counts only what was
-- decoded, so it is stable.
\pset format unaligned
\pset tuples_only on
SELECT 'init' FROM pg_create_logical_replication_slot('abort', 'pgcdc');
CREATE TABLE ab (id int PRIMARY KEY, v text);
BEGIN;
INSERT INTO ab VALUES (1, 'aborted');
ROLLBACK;
BEGIN;
INSERT INTO ab VALUES (2, 'kept');
SAVEPOINT s1;
INSERT INTO ab VALUES (3, 'rolled back to savepoint');
UPDATE ab SET v = 'rolled back too' WHERE id = 2;
ROLLBACK TO SAVEPOINT s1;
SAVEPOINT s2;
INSERT INTO ab VALUES (4, 'released savepoint');
RELEASE SAVEPOINT s2;
UPDATE ab SET v = 'kept, updated' WHERE id = 2;
COMMIT;
SELECT r->>'op' AS op, r->>'seq' AS seq, r->'after' AS after FROM changes('abort') r WHERE r->>'op' <> 'relation';
-- seq is the same in every decoding of the same WAL.
SELECT 'emitted' FROM pg_logical_emit_message(true, 'x', 'y');
SELECT array_agg(r->>'seq') = array_agg(r2->>'seq') AS stable
FROM (SELECT row_number() OVER () n, stable_record(data::jsonb) r FROM pg_logical_slot_peek_changes('abort', NULL, NULL, 'format', 'json')) a
JOIN (SELECT row_number() OVER () n, stable_record(data::jsonb) r2 FROM pg_logical_slot_peek_changes('abort', NULL, NULL, 'format', 'json')) b USING (n);
SELECT 'done' FROM pg_drop_replication_slot('abort');
DROP TABLE ab;
