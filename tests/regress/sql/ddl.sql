-- DDL between changes in one transaction: every record is described by the
-- schema in force at its change, so a RELATION record follows each change of
-- definition.
\pset format unaligned
\pset tuples_only on
SELECT 'init' FROM pg_create_logical_replication_slot('ddl', 'pgcdc');
CREATE TABLE evolving (id int PRIMARY KEY, a text, b int);
BEGIN;
INSERT INTO evolving VALUES (1, 'one', 1);
ALTER TABLE evolving ADD COLUMN c numeric(5,1) DEFAULT 2.5;
INSERT INTO evolving VALUES (2, 'two', 2);
ALTER TABLE evolving DROP COLUMN b;
INSERT INTO evolving VALUES (3, 'three');
ALTER TABLE evolving ALTER COLUMN c TYPE text;
INSERT INTO evolving VALUES (4, 'four', 'four point oh');
ALTER TABLE evolving RENAME COLUMN a TO label;
UPDATE evolving SET label = 'uno' WHERE id = 1;
ALTER TABLE evolving RENAME TO evolved;
DELETE FROM evolved WHERE id = 2;
COMMIT;
-- Outside the transaction too, and a renamed schema.
CREATE SCHEMA old_name;
ALTER TABLE evolved SET SCHEMA old_name;
ALTER SCHEMA old_name RENAME TO new_name;
INSERT INTO new_name.evolved VALUES (5, 'five', 'five');

SELECT CASE WHEN r->>'op' = 'relation'
            THEN 'relation ' || (r->>'schema') || '.' || (r->>'table') || ' (' ||
                 (SELECT string_agg((c->>'name') || ' ' || (c->>'type_name'), ', ') FROM jsonb_array_elements(r->'columns') c) || ')'
            ELSE (r->>'op') || ' ' || (r->>'schema') || '.' || (r->>'table') || ' ' ||
                 coalesce((r->'after')::text, '') || coalesce(' before ' || (r->'before')::text, '') END
FROM changes('ddl') r WHERE r->>'op' NOT IN ('begin', 'commit');
SELECT 'done' FROM pg_drop_replication_slot('ddl');
DROP SCHEMA new_name CASCADE;

-- Enum labels are read once per relation; a label added later is seen,
-- also within the transaction that adds it.
SELECT 'init' FROM pg_create_logical_replication_slot('ddl_enum', 'pgcdc');
CREATE TYPE size AS ENUM ('small', 'large');
CREATE TABLE sized (id int PRIMARY KEY, s size);
INSERT INTO sized VALUES (1, 'small'), (2, 'large');
ALTER TYPE size ADD VALUE 'medium' BEFORE 'large';
INSERT INTO sized VALUES (3, 'medium');
BEGIN;
ALTER TYPE size ADD VALUE 'huge';
COMMIT;
INSERT INTO sized VALUES (4, 'huge');
SELECT r->>'op' AS op, r->'after' AS after FROM changes('ddl_enum') r WHERE r->>'op' IN ('insert', 'relation');
SELECT 'done' FROM pg_drop_replication_slot('ddl_enum');
DROP TABLE sized;
DROP TYPE size;
