-- TRUNCATE of several tables, with CASCADE and RESTART IDENTITY, is one
-- record naming every truncated table that passes the filters.
\pset format unaligned
\pset tuples_only on
SELECT 'init' FROM pg_create_logical_replication_slot('trunc', 'pgcdc');
CREATE TABLE parent (id serial PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
CREATE TABLE other (id int PRIMARY KEY);
INSERT INTO parent DEFAULT VALUES;
INSERT INTO child VALUES (1, 1);
INSERT INTO other VALUES (1);
TRUNCATE parent, other RESTART IDENTITY CASCADE;
TRUNCATE other;
SELECT r FROM changes('trunc') r WHERE r->>'op' = 'truncate';

-- Excluded tables are left out; a truncate of only excluded tables vanishes.
TRUNCATE parent, other CASCADE;
TRUNCATE other;
SELECT r FROM changes('trunc', 'exclude-tables', 'public.other', 'skip-empty-xacts', 'on') r;
SELECT 'done' FROM pg_drop_replication_slot('trunc');
DROP TABLE child, parent, other;
