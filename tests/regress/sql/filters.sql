-- include-tables / exclude-tables: schema.table or schema.*, identifiers
-- quoted or folded as SQL does.  A transaction whose changes are all
-- filtered out still lets the slot advance.
\pset format unaligned
\pset tuples_only on
SELECT 'init' FROM pg_create_logical_replication_slot('filt', 'pgcdc');
CREATE SCHEMA app;
CREATE SCHEMA "Audit";
CREATE TABLE app.users (id int PRIMARY KEY);
CREATE TABLE app.orders (id int PRIMARY KEY);
CREATE TABLE "Audit"."Log Entries" (id int PRIMARY KEY);
CREATE TABLE public.misc (id int PRIMARY KEY);
INSERT INTO app.users VALUES (1);
INSERT INTO app.orders VALUES (1);
INSERT INTO "Audit"."Log Entries" VALUES (1);
INSERT INTO public.misc VALUES (1);

CREATE FUNCTION tables_seen(VARIADIC options text[]) RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(DISTINCT (r->>'schema') || '.' || (r->>'table'), ', '), '(none)')
  FROM pg_logical_slot_peek_changes('filt', NULL, NULL, VARIADIC ARRAY['format', 'json'] || options) c,
       stable_record(c.data::jsonb) r
  WHERE r->>'op' = 'insert'
$$;
SELECT tables_seen('include-tables', 'app.users');
SELECT tables_seen('include-tables', 'app.*');
SELECT tables_seen('include-tables', 'APP.Users, "Audit"."Log Entries"');
SELECT tables_seen('exclude-tables', 'app.*');
SELECT tables_seen('include-tables', 'app.*', 'exclude-tables', 'app.orders');
SELECT tables_seen('include-tables', ' app . users ');
SELECT tables_seen('include-tables', 'nosuch.*');
SELECT tables_seen('exclude-tables', 'public.misc,app.users,app.orders,"Audit".*');

-- Fully filtered transactions: no records at all with skip-empty-xacts...
SELECT count(*) AS records FROM pg_logical_slot_peek_changes('filt', NULL, NULL,
    'format', 'json', 'include-tables', 'nosuch.*', 'skip-empty-xacts', 'on');
-- ...and the slot advances past them all the same.
SELECT pg_current_wal_lsn() AS before_get \gset
SELECT count(*) AS records FROM pg_logical_slot_get_changes('filt', NULL, NULL,
    'format', 'json', 'include-tables', 'nosuch.*', 'skip-empty-xacts', 'on');
SELECT confirmed_flush_lsn >= :'before_get'::pg_lsn AS advanced FROM pg_replication_slots WHERE slot_name = 'filt';
SELECT 'done' FROM pg_drop_replication_slot('filt');
DROP FUNCTION tables_seen;
DROP SCHEMA app, "Audit" CASCADE;
DROP TABLE misc;
