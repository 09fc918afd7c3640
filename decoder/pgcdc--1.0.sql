\echo Use "CREATE EXTENSION pgcdc" to load this file. \quit

-- Renders one record (as written by the output plugin) as JSON.
CREATE FUNCTION @extschema@.to_json(record bytea)
RETURNS json
AS 'MODULE_PATHNAME', 'pgcdc_to_json'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- Encodes one row of a table as an OP_READ record, exactly as the output
-- plugin would stream it: SELECT pgcdc.read_record(t, lsn) FROM tab t.
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
