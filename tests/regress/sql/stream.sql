-- Option streaming: a transaction larger than logical_decoding_work_mem comes
-- while in progress, its changes marked streamed, without commit_lsn; then
-- its stream_commit, or its stream_abort.  A rolled-back subtransaction's
-- streamed changes are voided by a stream_abort naming their seq range, and
-- the seq of every surviving change, less the voided seqs before it, is its
-- seq when the transaction is decoded whole.
\pset format unaligned
\pset tuples_only on
SET logical_decoding_work_mem = '64kB';
SELECT 'init' FROM pg_create_logical_replication_slot('stream', 'pgcdc');
CREATE TABLE st (id int PRIMARY KEY, v text);
CREATE TABLE st_skip (id int);
BEGIN;
INSERT INTO st SELECT g, 'first ' || g FROM generate_series(1, 2000) g;
SAVEPOINT a;
INSERT INTO st SELECT g, 'rolled back ' || g FROM generate_series(2001, 3000) g;
INSERT INTO st_skip SELECT generate_series(1, 500);
SAVEPOINT b;
UPDATE st SET v = 'rolled back too' WHERE id <= 100;
RELEASE SAVEPOINT b;
ROLLBACK TO SAVEPOINT a;
SAVEPOINT c;
UPDATE st SET v = 'kept ' || id WHERE id <= 300;
RELEASE SAVEPOINT c;
DELETE FROM st WHERE id > 1900;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'stream', 'in the middle');
TRUNCATE st_skip;
INSERT INTO st SELECT g, 'last ' || g FROM generate_series(3001, 4000) g;
COMMIT;
-- An aborted transaction, large enough to stream.
BEGIN;
INSERT INTO st SELECT g, 'aborted' FROM generate_series(5001, 7000) g;
ROLLBACK;
INSERT INTO st VALUES (9999, 'small, after');

-- Streamed: blocks, one subtransaction range voided, one aborted transaction.
CREATE TEMP TABLE streamed AS
SELECT row_number() OVER () AS n, stable_record(data::jsonb) AS r, data::jsonb AS raw
FROM pg_logical_slot_peek_changes('stream', NULL, NULL, 'format', 'json', 'streaming', 'on',
                                  'exclude-tables', 'public.st_skip');
SELECT r->>'op' AS op, count(*), bool_and(r ? 'streamed') AS all_streamed,
       bool_and(NOT raw ? 'commit_lsn') AS no_commit_lsn
FROM streamed GROUP BY 1 ORDER BY 1;
-- The aborts: one per rolled-back subtransaction that streamed changes (a, b,
-- and the skipped table's are all a's range or inside it), one for the
-- aborted transaction.
SELECT (raw->>'xid') = (raw->>'subxid') AS top_level, raw->'stream'->'aborted' IS NOT NULL AS has_range
FROM streamed WHERE r->>'op' = 'stream_abort' ORDER BY n;
-- The commit comes after every change of its transaction.
SELECT max(n) FILTER (WHERE raw->>'xid' = c.xid AND r->>'op' <> 'stream_commit') < min(n) FILTER (WHERE r->>'op' = 'stream_commit')
FROM streamed, (SELECT raw->>'xid' AS xid FROM streamed WHERE r->>'op' = 'stream_commit') c;

-- Whole: the same transaction decoded at its commit.
CREATE TEMP TABLE whole AS
SELECT row_number() OVER () AS n, stable_record(data::jsonb) AS r, data::jsonb AS raw
FROM pg_logical_slot_peek_changes('stream', NULL, NULL, 'format', 'json',
                                  'exclude-tables', 'public.st_skip');
-- Surviving streamed changes, their seq less the voided seqs before it, are
-- the whole decoding's changes with their seqs, in the same order.
WITH c AS (SELECT raw->>'xid' AS xid FROM streamed WHERE r->>'op' = 'stream_commit'),
ranges AS (
  SELECT (a->>0)::int AS first, (a->>1)::int AS cnt
  FROM streamed s, c, LATERAL (SELECT jsonb_build_array(s.raw->'stream'->'aborted'->0, s.raw->'stream'->'aborted'->1)) x(a)
  WHERE s.r->>'op' = 'stream_abort' AND s.raw->>'xid' = c.xid AND s.raw->>'subxid' <> c.xid),
merged AS (SELECT DISTINCT g AS seq FROM ranges, generate_series(first, first + cnt - 1) g),
survivors AS (
  SELECT row_number() OVER (ORDER BY s.n) AS k, s.r->>'op' AS op, s.r->'after' AS after, s.r->'before' AS before,
         coalesce((s.raw->>'seq')::int, 0) - (SELECT count(*) FROM merged m WHERE m.seq < coalesce((s.raw->>'seq')::int, 0)) AS seq
  FROM streamed s, c
  WHERE s.raw->>'xid' = c.xid AND s.raw ? 'streamed' AND s.r->>'op' <> 'relation'
    AND coalesce((s.raw->>'seq')::int, 0) NOT IN (SELECT seq FROM merged)),
plain AS (
  SELECT row_number() OVER (ORDER BY w.n) AS k, w.r->>'op' AS op, w.r->'after' AS after, w.r->'before' AS before,
         coalesce((w.raw->>'seq')::int, 0) AS seq
  FROM whole w
  WHERE w.r->>'op' NOT IN ('relation', 'begin', 'commit')
    AND w.raw->>'xid' = (SELECT xid FROM c))
SELECT (SELECT count(*) FROM plain) AS changes,
       (SELECT count(*) FROM survivors) = (SELECT count(*) FROM plain) AS same_count,
       NOT EXISTS (SELECT FROM survivors s FULL JOIN plain p USING (k)
                   WHERE s.op IS DISTINCT FROM p.op OR s.seq IS DISTINCT FROM p.seq
                      OR s.after IS DISTINCT FROM p.after OR s.before IS DISTINCT FROM p.before) AS same_changes;
-- Without the option nothing is streamed, however large.
SELECT count(*) FILTER (WHERE raw ? 'streamed') AS streamed FROM whole;
SELECT 'done' FROM pg_drop_replication_slot('stream');
DROP TABLE st, st_skip;
RESET logical_decoding_work_mem;
