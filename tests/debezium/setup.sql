-- The source of Debezium's recorded messages (record.py): tables covering
-- every column type pgcdc maps, and the rows present before the connector
-- starts, which it reads in its snapshot (op "r").  changes.sql then runs
-- while it streams.  Tests that compare pgcdc with the fixtures run these
-- same two files: change them only together with a new recording.

CREATE EXTENSION IF NOT EXISTS hstore;

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');

-- One row per case of every type; REPLICA IDENTITY DEFAULT (the key only in "before").
CREATE TABLE types (
    id          integer PRIMARY KEY,
    c_bool      boolean,
    c_int2      smallint,
    c_int4      integer,
    c_int8      bigint,
    c_float4    real,
    c_float8    double precision,
    c_numeric   numeric,
    c_num_10_2  numeric(10, 2),
    c_num_5_0   numeric(5, 0),
    c_money     money,
    c_char      char(4),
    c_varchar   varchar(20),
    c_text      text,
    c_bytea     bytea,
    c_uuid      uuid,
    c_json      json,
    c_jsonb     jsonb,
    c_xml       xml,
    c_date      date,
    c_time      time,
    c_time3     time(3),
    c_timetz    timetz,
    c_ts        timestamp,
    c_ts3       timestamp(3),
    c_tstz      timestamptz,
    c_interval  interval,
    c_int_arr   integer[],
    c_text_arr  text[],
    c_mood      mood,
    c_posint    posint,
    c_email     email,
    c_hstore    hstore,
    c_inet      inet,
    c_cidr      cidr,
    c_macaddr   macaddr,
    c_bit       bit(4),
    c_varbit    bit varying(8),
    c_point     point,
    c_int4range int4range,
    c_tstzrange tstzrange
);

INSERT INTO types VALUES
  (1, true, 1, 2, 3, 1.5, 2.25, 12345.6789, 12.34, 99999, 12.34, 'ab', 'varchar', 'text',
   '\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1, "b": [1, 2]}', '{"b": [1, 2], "a": 1}',
   '<r><a>1</a></r>', '2024-02-29', '13:14:15.123456', '13:14:15.123', '13:14:15.123456+02',
   '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123', '2024-02-29 13:14:15.123456+02',
   '1 year 2 mons 3 days 04:05:06.789', '{1,2,3}', '{a,"b c",NULL}', 'happy', 7, 'x@example.com',
   'a=>1, b=>NULL', '192.168.1.1', '10.0.0.0/8', '08:00:2b:01:02:03', B'1010', B'101',
   '(1.5,-2.25)', '[1,10)', '[2024-01-01 00:00:00+00,2024-12-31 00:00:00+00)'),
  -- Extremes: infinity, negative and huge numerics, NaN, BC dates, empty values.
  (2, false, -32768, -2147483648, -9223372036854775808, 'NaN', '-Infinity', -0.000001,
   -99999999.99, -1, -92233720368547758.08, '', '', '', '\x', '00000000-0000-0000-0000-000000000000',
   '[]', '{}', '<e/>', '0044-03-15 BC', '00:00:00', '23:59:59.999', '00:00:00-14:00',
   'infinity', '-infinity', 'infinity', '-178000000 years', '{}', '{}', 'sad', 1, 'a@b',
   '', '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', B'0000', B'', '(0,0)', 'empty', 'empty'),
  -- Every column null but the key.
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- REPLICA IDENTITY FULL: updates and deletes carry the whole old row.
CREATE TABLE full_ident (id integer PRIMARY KEY, name text, qty numeric(8, 3), tags text[]);
ALTER TABLE full_ident REPLICA IDENTITY FULL;
INSERT INTO full_ident VALUES (1, 'one', 1.5, '{x}'), (2, 'two', 2.25, '{y,z}');

-- A composite key (key change moves a row between keys).
CREATE TABLE pair (a integer, b text, v text, PRIMARY KEY (a, b));
INSERT INTO pair VALUES (1, 'x', 'first'), (2, 'y', 'second');

-- No key: Debezium's key is null.
CREATE TABLE keyless (n integer, s text);
INSERT INTO keyless VALUES (1, 'a'), (2, 'b');

-- No key, REPLICA IDENTITY FULL: updates and deletes name the row by all its values.
CREATE TABLE keyless_full (n integer, s text);
ALTER TABLE keyless_full REPLICA IDENTITY FULL;
INSERT INTO keyless_full VALUES (1, 'a'), (2, 'b');

-- TOASTed values that an update leaves unchanged reach the decoder as
-- "unchanged" (REPLICA IDENTITY DEFAULT): Debezium writes a placeholder.
-- STORAGE EXTERNAL: stored out of line, never compressed.
CREATE TABLE doc (id integer PRIMARY KEY, title text, body text, blob bytea, meta jsonb, nums integer[]);
ALTER TABLE doc ALTER body SET STORAGE EXTERNAL, ALTER blob SET STORAGE EXTERNAL,
    ALTER meta SET STORAGE EXTERNAL, ALTER nums SET STORAGE EXTERNAL;
INSERT INTO doc
SELECT 1, 'first', repeat('0123456789', 250), decode(repeat('ab', 2500), 'hex'),
       jsonb_build_object('pad', repeat('z', 2500)), array(SELECT generate_series(1, 700));
-- The same with REPLICA IDENTITY FULL: the old row is whole, the new one
-- still says "unchanged" for its TOASTed columns.
CREATE TABLE doc_full (LIKE doc INCLUDING ALL);
ALTER TABLE doc_full REPLICA IDENTITY FULL;
INSERT INTO doc_full SELECT * FROM doc;

-- A partitioned table (Debezium publishes the leaves unless told otherwise).
CREATE TABLE measure (id integer, at date, v numeric, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE measure_2024 PARTITION OF measure FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE measure_2025 PARTITION OF measure FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO measure VALUES (1, '2024-06-01', 1.5);

-- Emptied by TRUNCATE in changes.sql.
CREATE TABLE scratch (id integer PRIMARY KEY, v text);
INSERT INTO scratch VALUES (1, 'a'), (2, 'b');

-- An outbox table, with the columns Debezium's EventRouter reads by default.
CREATE TABLE outbox (id uuid PRIMARY KEY, aggregatetype varchar(255) NOT NULL,
                     aggregateid varchar(255) NOT NULL, type varchar(255) NOT NULL, payload jsonb);
