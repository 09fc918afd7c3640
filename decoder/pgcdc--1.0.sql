\echo Use "CREATE EXTENSION pgcdc" to load this file. \quit

-- Renders one record (as written by the output plugin) as JSON.
CREATE FUNCTION @extschema@.to_json(record bytea)
RETURNS json
AS 'MODULE_PATHNAME', 'pgcdc_to_json'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- Encodes one row of a table as an OP_READ record, exactly as the output
-- plugin would stream it: SELECT pgcdc.read_record(t.*, lsn) FROM tab t.
CREATE FUNCTION @extschema@.read_record(row_value record,
                                        consistent_lsn pg_lsn DEFAULT '0/0',
                                        inline_schema boolean DEFAULT false)
RETURNS bytea
AS 'MODULE_PATHNAME', 'pgcdc_read_record'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- The OP_RELATION record describing a table's columns.
CREATE FUNCTION @extschema@.relation_record(rel regclass)
RETURNS bytea
AS 'MODULE_PATHNAME', 'pgcdc_relation_record'
LANGUAGE C STRICT STABLE PARALLEL SAFE;

-- Whether the output plugin, with these include-tables / exclude-tables
-- options, streams rel: walstreamer's list of tables to snapshot.
CREATE FUNCTION @extschema@.table_included(rel regclass,
                                           include_tables text DEFAULT NULL,
                                           exclude_tables text DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgcdc_table_included'
LANGUAGE C STABLE PARALLEL SAFE;

-- walstreamer's memory of the slots it created: a slot listed here but gone
-- from pg_replication_slots was dropped, and changes since are lost, so
-- walstreamer refuses to recreate it silently.  Its changes are never
-- streamed.  The replication role needs SELECT, INSERT, UPDATE on it.
CREATE TABLE @extschema@.streamer_slot (
    slot_name name PRIMARY KEY,
    system_identifier text NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    snapshot_lsn pg_lsn,        -- where it was created (its snapshot reads after it)
    last_seen timestamptz NOT NULL DEFAULT now(),
    snapshot_paused boolean NOT NULL DEFAULT false,  -- by a pause-snapshot signal
    last_signal_lsn pg_lsn,     -- the last signal executed: one at or behind it is not again
    include_list text,          -- table.include.list and table.exclude.list at the last start:
    exclude_list text           -- a table they newly include is read, one they drop stops being read
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.streamer_slot', '');

-- walstreamer's snapshot progress, one row per table being read (or read)
-- for a slot, written when a snapshot of the table is asked for (the slot's
-- first start, a signal), counted up after every acknowledged chunk, and
-- done when the table is read.  Where each part of the table is, is in
-- snapshot_part.  Their changes are never streamed.  The replication role
-- needs SELECT, INSERT, UPDATE, DELETE on both.
CREATE TABLE @extschema@.snapshot_progress (
    slot_name name NOT NULL,
    relid oid NOT NULL,
    schema_name name NOT NULL,
    table_name name NOT NULL,
    requested timestamptz NOT NULL DEFAULT now(),
    filter text,                -- a condition on the rows to read (execute-snapshot's)
    rows bigint NOT NULL DEFAULT 0,
    chunks bigint NOT NULL DEFAULT 0,
    estimated_rows bigint,
    done timestamptz,           -- when its last chunk was acknowledged
    PRIMARY KEY (slot_name, relid)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.snapshot_progress', '');

-- The parts of a table being read: key ranges that snapshot.parallelism
-- connections share, chosen from a sample of its keys when the table is
-- first taken (a table without a key, or a small one, is one part).  Part n
-- holds the keys after part n - 1's upto, up to its own (the last part to
-- the table's end).  After every acknowledged chunk last_key is its last
-- row's key, so that a restart, even after kill -9, goes on from the next
-- chunk.  Parts belong to one request of the table (requested): a new
-- request splits it anew.
CREATE TABLE @extschema@.snapshot_part (
    slot_name name NOT NULL,
    relid oid NOT NULL,
    part int NOT NULL,
    requested timestamptz NOT NULL,  -- snapshot_progress.requested when it was split
    upto text[],                -- the key columns' values of its last key; NULL: to the table's end
    upto_bytes bytea,           -- the same key as walstreamer's Kafka key (proto Key)
    last_key text[],            -- of the last row sent (at first part n - 1's upto); NULL: none
    last_key_bytes bytea,
    rows bigint NOT NULL DEFAULT 0,
    done timestamptz,
    PRIMARY KEY (slot_name, relid, part),
    FOREIGN KEY (slot_name, relid) REFERENCES @extschema@.snapshot_progress ON DELETE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.snapshot_part', '');
