-- Every type family with edge values.  The records must not depend on the
-- session's TimeZone, DateStyle, IntervalStyle, extra_float_digits,
-- bytea_output or lc_monetary: decoding under odd settings and under the
-- defaults gives identical output.
\pset format unaligned
\pset tuples_only on
SELECT 'init' FROM pg_create_logical_replication_slot('types', 'pgcdc');

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive_amount AS numeric(10,2) CHECK (VALUE > 0);
CREATE TABLE types (
    id serial PRIMARY KEY,
    b bool, i2 int2, i4 int4, i8 int8, o oid,
    f4 float4, f8 float8, n numeric, n2 numeric(12,2),
    ts timestamp(6), tstz timestamptz, d date, t time, ttz timetz, iv interval,
    tx text, vc varchar(5), ch char(3), js json, jb jsonb, x xml,
    u uuid, by bytea, e mood, dm positive_amount,
    ai int[], at text[], atz timestamptz[], af float8[],
    r tstzrange, m money, p point, net inet, bits bit(4)
);

INSERT INTO types (b, i2, i4, i8, o, f4, f8, n, n2, ts, tstz, d, t, ttz, iv,
                   tx, vc, ch, js, jb, x, u, by, e, dm, ai, at, atz, af, r, m, p, net, bits)
VALUES
  (true, -32768, 2147483647, -9223372036854775808, 4294967295,
   1.1, 0.1, 'NaN', 12345.67,
   '2026-06-01 12:34:56.789012', '2026-06-01 12:34:56.789012+05:30', '2026-06-01', '23:59:59.999999', '12:00:00+03',
   '1 year 2 months 3 days 04:05:06.789',
   E'quote " backslash \\ newline \n tab \t unicode ü € 😀', 'abc', 'ab', ' {"x" : 1} ', '{"b": 1, "a": [true, null]}', '<a>1</a>',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff10', 'happy', 10.5,
   '{1,NULL,3}', '{"a b","c\"d",NULL}', '{"2026-01-01 00:00:00+00","infinity"}', '{0.1,1e300}',
   '[2026-01-01 00:00+00,2026-02-01 00:00+00)', 1234.56, '(1.5,-2)', '192.168.0.1/24', B'1010'),
  (false, 0, 0, 9223372036854775807, 0,
   'NaN', 'Infinity', 'Infinity', -0.01,
   'infinity', '-infinity', 'infinity', '00:00', '00:00+00', '-1 day +02:00:00',
   '', '', '', 'null', '[]', '<b/>',
   '00000000-0000-0000-0000-000000000000', '', 'sad', 0.01,
   '{}', '{}', '{}', '{}', 'empty', -1, '(0,0)', '::1', B'0000'),
  (NULL, 1, -1, 1, 1,
   '-Infinity', '-Infinity', '-Infinity', 0,
   '-infinity', '0044-03-15 12:00:00 BC', '-infinity', '12:00', '12:00-09:30', '0',
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (NULL, NULL, NULL, NULL, NULL,
   -0.0, 1e-300, repeat('9', 1000)::numeric, 0.1,
   '10000-01-01 00:00:00', '12345-06-07 08:09:10+00', '0001-01-01 BC', NULL, NULL, '178000000 years',
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, '-0.000000000000000000001', NULL,
   '294270-01-01 00:00:00', '1970-01-01 00:00:00+00', '1970-01-01', NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- Decode under settings that change every type's text output...
SET TimeZone = 'America/St_Johns';
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = 'sql_standard';
SET extra_float_digits = -3;
SET bytea_output = 'escape';
SET lc_monetary = 'C.UTF-8';
CREATE TEMP TABLE odd AS
  SELECT row_number() OVER () AS n, data FROM pg_logical_slot_peek_changes('types', NULL, NULL, 'format', 'json');
-- ...and the session keeps its own settings afterwards.
SHOW TimeZone;
SHOW DateStyle;
SHOW IntervalStyle;
SHOW extra_float_digits;
SHOW bytea_output;
RESET ALL;

-- Identical under the defaults, in JSON and in protobuf.
SELECT count(*) AS records, bool_and(o.data = d.data) AS same_json,
       bool_and(o.data::jsonb = pgcdc.to_json(bin.data)::jsonb) AS same_protobuf
FROM odd o
JOIN (SELECT row_number() OVER () AS n, data FROM pg_logical_slot_peek_changes('types', NULL, NULL, 'format', 'json')) d USING (n)
JOIN (SELECT row_number() OVER () AS n, data FROM pg_logical_slot_peek_binary_changes('types', NULL, NULL)) bin USING (n);

-- The records: each inserted value beside its column.
CREATE TEMP TABLE recs AS SELECT row_number() OVER () AS n, r FROM changes('types') AS r;
SELECT r->>'op' AS op, r->>'replica_identity' AS identity FROM recs ORDER BY n;
SELECT c->>'name' AS name, c->>'type_name' AS type_name, c->>'type_oid' AS type_oid, c->'key' AS key
FROM recs, jsonb_array_elements(r->'columns') c WHERE r->>'op' = 'relation';
SELECT ins.r->'after'->0->>'int' AS id, c->>'name' AS name, v AS value
FROM recs rel, recs ins,
     jsonb_array_elements(rel.r->'columns') WITH ORDINALITY AS cols(c, i),
     jsonb_array_elements(ins.r->'after') WITH ORDINALITY AS vals(v, j)
WHERE rel.r->>'op' = 'relation' AND ins.r->>'op' = 'insert' AND i = j
ORDER BY ins.n, i;
SELECT 'done' FROM pg_drop_replication_slot('types');

-- What a consumer needs to map domains and enums without the catalog: a
-- domain's base type (through domains of domains, with the typmod of the
-- domain over it) and an enum's labels in their sort order, which a label
-- placed BEFORE another makes differ from their OIDs'.  Not for arrays of
-- them, nor for other types.  The same in JSON and in protobuf.
SELECT 'init' FROM pg_create_logical_replication_slot('type_meta', 'pgcdc');
CREATE DOMAIN counter AS integer CHECK (VALUE >= 0);
CREATE DOMAIN amount AS positive_amount;
CREATE DOMAIN mood_d AS mood;
ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok';
CREATE TABLE type_meta (i int, c counter, dm positive_amount, dm2 amount, e mood, de mood_d,
                        ae mood[], ai int[]);
INSERT INTO type_meta VALUES (1, 2, 3.5, 4.25, 'meh', 'happy', '{sad,meh}', '{1}');
SELECT count(*) AS records, bool_and(j.data::jsonb = pgcdc.to_json(b.data)::jsonb) AS same_protobuf
FROM (SELECT row_number() OVER () AS n, data FROM pg_logical_slot_peek_changes('type_meta', NULL, NULL, 'format', 'json')) j
JOIN (SELECT row_number() OVER () AS n, data FROM pg_logical_slot_peek_binary_changes('type_meta', NULL, NULL)) b USING (n);
SELECT c FROM changes('type_meta') r, jsonb_array_elements(r->'columns') c WHERE r->>'op' = 'relation';
SELECT 'done' FROM pg_drop_replication_slot('type_meta');
DROP TABLE type_meta;
DROP DOMAIN counter;
DROP DOMAIN amount;
DROP DOMAIN mood_d;

DROP TABLE types;
DROP DOMAIN positive_amount;
DROP TYPE mood;
