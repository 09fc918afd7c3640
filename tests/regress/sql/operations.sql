-- Each operation, in JSON and in protobuf: the binary records rendered by
-- pgcdc.to_json() equal the JSON format's records.
SELECT 'init' FROM pg_create_logical_replication_slot('ops', 'pgcdc');

CREATE TABLE ops (id int PRIMARY KEY, name text, score float8);
INSERT INTO ops VALUES (1, 'one', 1.5), (2, 'two', NULL);
UPDATE ops SET name = 'uno' WHERE id = 1;
UPDATE ops SET id = 3 WHERE id = 2;
DELETE FROM ops WHERE id = 1;
BEGIN;
INSERT INTO ops VALUES (10, 'ten', -0.25);
SELECT 'msg' FROM pg_logical_emit_message(true, 'app', 'in transaction');
COMMIT;

-- Protobuf and JSON agree record for record.
SELECT count(*) AS records,
       bool_and(b.data = j.data) AS identical
FROM (SELECT row_number() OVER () AS n, pgcdc.to_json(data)::jsonb AS data
      FROM pg_logical_slot_peek_binary_changes('ops', NULL, NULL)) b
FULL JOIN (SELECT row_number() OVER () AS n, data::jsonb AS data
      FROM pg_logical_slot_peek_changes('ops', NULL, NULL, 'format', 'json')) j USING (n);

SELECT * FROM changes('ops');
SELECT pg_drop_replication_slot('ops');
DROP TABLE ops;
