"""One workload decoded twice, by the pgcdc plugin and by pgoutput made into
records by walstreamer's code (streamer/pgorecords.c and pgcatalog.c, through
tests/unit/pgoutput_records.c): the records are the same, field by field and
every Value byte for byte (so a key hashes to the same partition), for every
type the decoder's suite covers, every replica identity, key changes,
unchanged TOASTed values, truncates, logical messages, a dropped and a
generated column, a partition and a schema change.  The one field pgoutput
cannot give: a non-transactional message's xid, and the transaction's first
WAL position as BEGIN's lsn.  (Tables without a replica
identity are published for inserts and truncates only: PostgreSQL refuses
their UPDATE and DELETE once a publication publishes those.)"""

import os
import subprocess

from support import pgcdcwire, pgtemp

BUILD = os.environ.get("PGCDC_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
TOOL = os.path.join(BUILD, "tests", "pgoutput-records")

# The settings walstreamer gives its replication session (streamer/pgoinput.c).
SESSION = ("SET DateStyle = 'ISO, YMD'; SET IntervalStyle = postgres; SET TimeZone = 'UTC'; "
           "SET extra_float_digits = 1; SET bytea_output = hex; SET lc_monetary = 'C'; ")

SETUP = """
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE DOMAIN positive_amount AS numeric(10,2) CHECK (VALUE > 0);
    CREATE DOMAIN pos2 AS positive_amount;
    CREATE DOMAIN counter AS integer CHECK (VALUE >= 0);
    -- Labels that a list of them could confuse, one placed before another (sort order is not OID order).
    CREATE TYPE tricky AS ENUM ('1:x', 'a,b"c', 'ü € 😀', ' pad ', '');
    ALTER TYPE tricky ADD VALUE 'first' BEFORE '1:x';
    CREATE DOMAIN tricky_d AS tricky;
    CREATE SCHEMA "Odd Schema";
    CREATE TABLE types (
        id serial PRIMARY KEY,
        b bool, i2 int2, i4 int4, i8 int8, o oid,
        f4 float4, f8 float8, n numeric, n2 numeric(12,2),
        ts timestamp(6), tstz timestamptz, d date, t time, ttz timetz, iv interval,
        tx text, vc varchar(5), ch char(3), js json, jb jsonb, x xml,
        u uuid, by bytea, e mood, dm positive_amount, dm2 pos2, dc counter, de tricky_d,
        ai int[], at text[], atz timestamptz[], af float8[], ae mood[],
        r tstzrange, m money, p point, net inet, bits bit(4));
    CREATE TABLE "Odd Schema"."Mixed Case" (k text PRIMARY KEY, big text, other int NOT NULL,
        gen int GENERATED ALWAYS AS (other * 2) STORED);
    ALTER TABLE "Odd Schema"."Mixed Case" ALTER big SET STORAGE EXTERNAL;
    CREATE TABLE full_row (a int, b text, c int PRIMARY KEY);
    ALTER TABLE full_row REPLICA IDENTITY FULL;
    CREATE TABLE by_index (a int NOT NULL, b int NOT NULL, v text, UNIQUE (a, b));
    ALTER TABLE by_index REPLICA IDENTITY USING INDEX by_index_a_b_key;
    CREATE TABLE nothing_id (id int PRIMARY KEY, v text);
    ALTER TABLE nothing_id REPLICA IDENTITY NOTHING;
    CREATE TABLE keyless (x int, y text);
    CREATE TABLE dropped (id int PRIMARY KEY, gone text, kept text);
    ALTER TABLE dropped DROP COLUMN gone;
    CREATE TABLE parted (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
    CREATE TABLE parted_2026 PARTITION OF parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
    CREATE TABLE parent_t (id int PRIMARY KEY);
    CREATE TABLE child_t (id int PRIMARY KEY, p int REFERENCES parent_t);
    -- PostgreSQL refuses UPDATE and DELETE on a table without a replica identity once a publication
    -- publishes them: such tables are published for inserts and truncates only.
    CREATE PUBLICATION p FOR TABLE types, "Odd Schema"."Mixed Case", full_row, by_index, dropped, parted,
        parent_t, child_t;
    CREATE PUBLICATION p_ins FOR TABLE nothing_id, keyless WITH (publish = 'insert, truncate');
"""

TYPES_ROWS = r"""
INSERT INTO types (b, i2, i4, i8, o, f4, f8, n, n2, ts, tstz, d, t, ttz, iv,
                   tx, vc, ch, js, jb, x, u, by, e, dm, dm2, dc, de, ai, at, atz, af, ae, r, m, p, net, bits)
VALUES
  (true, -32768, 2147483647, -9223372036854775808, 4294967295,
   1.1, 0.1, 'NaN', 12345.67,
   '2026-06-01 12:34:56.789012', '2026-06-01 12:34:56.789012+05:30', '2026-06-01', '23:59:59.999999', '12:00:00+03',
   '1 year 2 months 3 days 04:05:06.789',
   E'quote " backslash \\ newline \n tab \t unicode ü € 😀', 'abc', 'ab', ' {"x" : 1} ', '{"b": 1, "a": [true, null]}', '<a>1</a>',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff10', 'happy', 10.5, 7.25, 2147483647, 'a,b"c',
   '{1,NULL,3}', '{"a b","c\"d",NULL}', '{"2026-01-01 00:00:00+00","infinity"}', '{0.1,1e300}', '{sad,ok}',
   '[2026-01-01 00:00+00,2026-02-01 00:00+00)', 1234.56, '(1.5,-2)', '192.168.0.1/24', B'1010'),
  (false, 0, 0, 9223372036854775807, 0,
   'NaN', 'Infinity', 'Infinity', -0.01,
   'infinity', '-infinity', 'infinity', '00:00', '00:00+00', '-1 day +02:00:00',
   '', '', '', 'null', '[]', '<b/>',
   '00000000-0000-0000-0000-000000000000', '', 'sad', 0.01, 0.01, 0, 'first',
   '{}', '{}', '{}', '{}', '{}', 'empty', -1, '(0,0)', '::1', B'0000'),
  (NULL, 1, -1, 1, 1,
   '-Infinity', '-Infinity', '-Infinity', 0,
   '-infinity', '0044-03-15 12:00:00 BC', '-infinity', '12:00', '12:00-09:30', '0',
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (NULL, NULL, NULL, NULL, NULL,
   -0.0, 1e-300, repeat('9', 1000)::numeric, 0.1,
   '10000-01-01 00:00:00', '12345-06-07 08:09:10+00', '0001-01-01 BC', NULL, NULL, '178000000 years',
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, '-0.000000000000000000001', NULL,
   '294270-01-01 00:00:00', '1970-01-01 00:00:00+00', '1970-01-01', NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"""

WORKLOAD = [
    TYPES_ROWS,
    "UPDATE types SET tx = 'changed', n = 1.5 WHERE id = 2",
    "UPDATE types SET id = 10 WHERE id = 3",                         # key change: old key 'K'
    "DELETE FROM types WHERE id = 4",
    """INSERT INTO "Odd Schema"."Mixed Case" (k, big, other) VALUES ('a', repeat('z', 10000), 1), ('b', NULL, 2)""",
    """UPDATE "Odd Schema"."Mixed Case" SET other = 5 WHERE k = 'a'""",   # big unchanged: 'u'
    """UPDATE "Odd Schema"."Mixed Case" SET k = 'c' WHERE k = 'b'""",
    "INSERT INTO full_row VALUES (1, 'a', 1), (2, NULL, 2); UPDATE full_row SET b = 'b' WHERE c = 1; "
    "UPDATE full_row SET c = 3 WHERE c = 2; DELETE FROM full_row WHERE c = 1",
    "INSERT INTO by_index VALUES (1, 1, 'x'), (1, 2, 'y'); UPDATE by_index SET v = 'z' WHERE b = 1; "
    "UPDATE by_index SET b = 3 WHERE b = 2; DELETE FROM by_index WHERE b = 1",
    "INSERT INTO nothing_id VALUES (1, 'a')",
    "INSERT INTO keyless VALUES (1, 'one'), (2, NULL)",
    "INSERT INTO dropped VALUES (1, 'k'); UPDATE dropped SET kept = 'l'",
    "INSERT INTO parted VALUES (1, '2026-03-01', 'p'); UPDATE parted SET v = 'q'",
    # A transaction of several tables and messages, a subtransaction rolled back.
    "BEGIN; INSERT INTO keyless VALUES (3, 'three'); SAVEPOINT s; INSERT INTO keyless VALUES (4, 'gone'); "
    "ROLLBACK TO s; SELECT pg_logical_emit_message(true, 'app', 'in txn'); "
    "INSERT INTO nothing_id VALUES (2, 'b'); COMMIT",
    "SELECT pg_logical_emit_message(false, 'app', 'outside')",
    "SELECT pg_logical_emit_message(true, 'bin', '\\x00ff'::bytea)",
    "INSERT INTO parent_t VALUES (1); INSERT INTO child_t VALUES (1, 1)",
    "TRUNCATE parent_t, child_t RESTART IDENTITY",
    "TRUNCATE keyless",
    # A schema change: both describe the relation again.
    "ALTER TABLE nothing_id ADD COLUMN added timestamptz DEFAULT '2026-01-01'; "
    "INSERT INTO nothing_id VALUES (3, 'c')",
    "ALTER TABLE keyless ALTER y TYPE varchar(9); INSERT INTO keyless VALUES (5, 'five')",
    "ALTER TABLE full_row ALTER b TYPE varchar(20); UPDATE full_row SET b = 'after ddl'",
]

REPEATED = (12, 13, 16, 17, 24)


def normal(rec):
    """A record as {field: value}, repeated fields as lists; lsn kept apart for RELATION records."""
    out = {}
    for num, _, v in pgcdcwire.fields(rec):
        if num in REPEATED:
            out.setdefault(num, []).append(v)
        else:
            out[num] = v
    return out


def peek(cluster, sql):
    return [line for line in cluster.psql(sql).splitlines() if line]


def test_pgoutput_records_equal_the_plugins(install):
    c = pgtemp.Cluster(install, "conformance").start()
    try:
        c.psql("CREATE EXTENSION pgcdc")
        c.psql(SETUP)
        c.psql("SELECT pg_create_logical_replication_slot('plugin', 'pgcdc')")
        c.psql("SELECT pg_create_logical_replication_slot('pgo', 'pgoutput')")
        for sql in WORKLOAD:
            c.psql(sql)
        plugin = []
        for line in peek(c, "SELECT lsn, data FROM pg_logical_slot_peek_binary_changes('plugin', NULL, NULL, "
                            "'include-transaction', 'on', 'skip-empty-xacts', 'on')"):
            plugin.append(bytes.fromhex(line.split("|", 1)[1][2:]))
        raw = "\n".join(peek(c, SESSION + "SELECT lsn, data FROM pg_logical_slot_peek_binary_changes('pgo', "
                              "NULL, NULL, 'proto_version', '1', 'publication_names', 'p,p_ins', 'messages', 'true')"))
        r = subprocess.run([TOOL, c.dsn()], input=raw, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        ours = [bytes.fromhex(line) for line in r.stdout.splitlines() if not line.startswith("skip")]

        def split(recs):
            changes, relations = [], {}
            for rec in recs:
                n = normal(rec)
                if n[2] == 9:                      # RELATION: compared per relation, its lsn aside
                    n.pop(4, None)
                    relations.setdefault(n[11], []).append(n)
                else:
                    if n[2] == 7 and not n.get(22):
                        n.pop(6, None)             # a non-transactional message's xid: pgoutput does not say
                    changes.append(n)
            return changes, relations

        want_changes, want_rels = split(plugin)
        got_changes, got_rels = split(ours)
        ops = sorted({n[2] for n in want_changes})
        assert ops == [1, 2, 3, 4, 5, 6, 7], ops
        assert len(want_changes) > 60 and len(got_changes) == len(want_changes)
        for i, (got, want) in enumerate(zip(got_changes, want_changes)):
            if want[2] == 1:
                # BEGIN's own lsn: the plugin's is the transaction's first WAL record, pgoutput's
                # (15+, which sends BEGIN with the first change) that change's, or the first.
                assert want[4] <= got[4] <= got_changes[i + 1].get(4, got[4])
                got, want = dict(got), dict(want)
                del got[4], want[4]
            assert got == want, f"record {i}: {got} != {want}"
        assert got_rels.keys() == want_rels.keys()
        for relid in want_rels:
            # Each distinct description the plugin gave, pgoutput's gave too (in the same order).
            dedup = lambda rs: [r for i, r in enumerate(rs) if i == 0 or r != rs[i - 1]]
            assert dedup(got_rels[relid]) == dedup(want_rels[relid]), relid
        assert len(want_rels) >= 9

        # A snapshot's rows, read in text without the extension, are the extension's READ records
        # (but commit_ts, the reading transaction's start).
        for table, order in [("types", "t.id"), ('"Odd Schema"."Mixed Case"', "t.k"), ("dropped", "t.id"),
                             ("full_row", "t.c"), ("parted_2026", "t.id")]:
            relid = c.psql(f"SELECT '{table}'::regclass::oid")
            want = [bytes.fromhex(line[2:]) for line in peek(
                c, f"SELECT pgcdc.read_record(t.*) FROM ONLY {table} t ORDER BY {order}")]
            r = subprocess.run([TOOL, c.dsn(), "--read", relid, order], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            got = [bytes.fromhex(line) for line in r.stdout.splitlines()]
            assert want and len(got) == len(want), table
            for g, w in zip(got, want):
                g, w = normal(g), normal(w)
                g.pop(7, None)
                w.pop(7, None)
                assert g == w, table
    finally:
        c.destroy()
