-- NULL versus an unchanged TOASTed value: an UPDATE that leaves an
-- out-of-line value alone marks it unchanged_toast, never null, and never
-- fetches it; an UPDATE that sets it to NULL says null.
\pset format unaligned
\pset tuples_only on
SELECT 'init' FROM pg_create_logical_replication_slot('toast', 'pgcdc');
CREATE TABLE toasty (id int PRIMARY KEY, big text, note text);
ALTER TABLE toasty ALTER COLUMN big SET STORAGE EXTERNAL;
INSERT INTO toasty SELECT 1, string_agg(md5(g::text), '') FROM generate_series(1, 400) g;
UPDATE toasty SET note = 'big untouched' WHERE id = 1;
UPDATE toasty SET big = NULL, note = 'big set to null' WHERE id = 1;
UPDATE toasty SET big = 'small again' WHERE id = 1;
DELETE FROM toasty WHERE id = 1;

SELECT r->>'op' AS op,
       CASE WHEN r->'after'->1 ? 'text' THEN 'text of ' || length(r->'after'->1->>'text') || ' chars'
            ELSE (r->'after'->1)::text END AS big,
       r->'after'->2 AS note, r->'before' AS before
FROM changes('toast') r WHERE r->>'op' NOT IN ('begin', 'commit', 'relation');

-- Under REPLICA IDENTITY FULL the old row carries the whole value.
ALTER TABLE toasty REPLICA IDENTITY FULL;
INSERT INTO toasty SELECT 2, string_agg(md5(g::text), '') FROM generate_series(1, 400) g;
UPDATE toasty SET note = 'full identity' WHERE id = 2;
SELECT r->>'op' AS op,
       CASE WHEN r->'after'->1 ? 'text' THEN 'text of ' || length(r->'after'->1->>'text') || ' chars'
            ELSE (r->'after'->1)::text END AS big_after,
       CASE WHEN r->'before'->1 ? 'text' THEN 'text of ' || length(r->'before'->1->>'text') || ' chars'
            ELSE (r->'before'->1)::text END AS big_before
FROM changes('toast') r WHERE r->>'op' IN ('insert', 'update');
SELECT 'done' FROM pg_drop_replication_slot('toast');
DROP TABLE toasty;
