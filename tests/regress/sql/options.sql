-- Every option's errors: unknown names, bad values, repeated options.
SELECT 'init' FROM pg_create_logical_replication_slot('opts', 'pgcdc');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'nonsense', '1');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'xml');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'format', 'json');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'include-transaction', 'maybe');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'skip-empty-xacts', 'yes please');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'messages', '2');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'messages', 'off', 'message-prefixes', 'a');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'message-prefixes', ' , ');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'include-tables', 'users');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'include-tables', 'public.');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'include-tables', 'public.a,');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'include-tables', '"unterminated.a');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'exclude-tables', 'a.b', 'exclude-tables', 'c.d');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'inline-schema', 'sometimes');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'origin', 'local');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'version', '2');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'version', '1', 'version', '1');
SELECT data FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'batch-bytes', '-1');
SELECT data FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'batch-bytes', '64k');
SELECT data FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'batch-bytes', '67108865');
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json', 'batch-bytes', '4096');
-- Protobuf is binary: the text interface refuses it, as for pgoutput.
SELECT data FROM pg_logical_slot_peek_changes('opts', NULL, NULL);
-- Valid spellings are accepted.
SELECT count(*) FROM pg_logical_slot_peek_changes('opts', NULL, NULL, 'format', 'json',
    'include-transaction', 'off', 'skip-empty-xacts', 'true', 'messages', '1',
    'message-prefixes', 'a,b', 'include-tables', 'public.*', 'exclude-tables', 'public.x',
    'inline-schema', 'false', 'origin', 'NONE', 'version', '1');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opts', NULL, NULL, 'format', 'protobuf',
    'batch-bytes', '67108864');
SELECT 'done' FROM pg_drop_replication_slot('opts');
