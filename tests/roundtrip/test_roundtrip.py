#!/usr/bin/env python3
"""Round trip outside the server: binary records from a real slot, unpacked
with libprotobuf-c by roundtrip-dump, must agree field by field with the
plugin's own JSON rendering of the same WAL.

usage: test_roundtrip.py BUILD_DIR ROUNDTRIP_DUMP

Two pgcdc slots are created at the same point; a workload touching every
record kind and every Value kind runs; one slot is peeked in protobuf (fed
to roundtrip-dump), the other in format=json, with and without
inline-schema; pgcdc.read_record() and relation_record() bytes are checked
against pgcdc.to_json() the same way.  On top of agreement, the decoded
values of known rows are checked against values worked out here, so a value
that is wrong in both renderings fails too.  Exits 0 when all holds.
"""

import copy
import json
import math
import os
import re
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import psycopg2  # noqa: E402

from support import pgtemp  # noqa: E402

# A UTF-8 database; tests/decoder/test_encoding.py covers the others.
DBNAME = "roundtrip_ü"
WEIRD = '"we""ird"."tåble ""q"""'  # schema.table names that need quoting and escaping
MIN_RECORDS = 1100  # per stream; the workload makes about 1140
ALL_OPS = {"begin", "commit", "insert", "update", "delete", "truncate", "message",
           "read", "relation"}
ALL_KINDS = {"null", "unchanged_toast", "bool", "int", "float", "numeric", "timestamp",
             "date", "time", "infinity", "text", "uuid", "bytes", "<not in image>"}

# Decoding sessions run with these; records must not depend on them.  A
# small logical_decoding_work_mem makes the bigger transactions spill to disk.
SERVER_SETTINGS = {"logical_decoding_work_mem": "'64kB'",
                   "timezone": "'America/St_Johns'", "datestyle": "'SQL, DMY'",
                   "intervalstyle": "'sql_standard'", "extra_float_digits": "-3",
                   "bytea_output": "'escape'", "lc_monetary": "'C.UTF-8'"}


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------
# Expected values, worked out without the server.

def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date; year 0 is 1 BC."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def usecs(y, mo, d, h=0, mi=0, s=0, us=0, offset_minutes=0):
    secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_minutes * 60
    return secs * 1000000 + us


def float4(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


NASTY = 'quote " backslash \\ newline \n tab \t cr \r ctrl \x01\x1f del \x7f ü € 😀 \u2028'
BIG_NUMERIC = "1234567890" * 100 + ".5"

# The types table: column -> SQL type, and rows of column -> (literal, expected Value).
VALS_TYPES = [
    ("id", "int PRIMARY KEY"), ("b", "bool"), ("i2", "int2"), ("i4", "int4"), ("i8", "int8"),
    ("o", "oid"), ("f4", "float4"), ("f8", "float8"), ("n", "numeric"), ("ts", "timestamp"),
    ("tstz", "timestamptz"), ("d", "date"), ("t", "time"), ("ttz", "timetz"), ("iv", "interval"),
    ("tx", "text"), ("vc", "varchar(12)"), ("ch", "char(5)"), ("js", "json"), ("jb", "jsonb"),
    ("x", "xml"), ("u", "uuid"), ("by", "bytea"), ("e", "mood"), ("dm", "posnum"),
    ("ia", "int[]"), ("ta", "text[]"), ("fa", "float8[]"), ("r", "int4range"), ("m", "money"),
    ("nul", "text"),
]


def v(kind, value=True):
    return {kind: value}


VALS_ROWS = [
    {"id": ("1", v("int", 1)), "b": ("true", v("bool")), "i2": ("-32768", v("int", -32768)),
     "i4": ("2147483647", v("int", 2147483647)),
     "i8": ("-9223372036854775808", v("int", -9223372036854775808)),
     "o": ("4294967295", v("int", 4294967295)), "f4": ("3.14", v("float", float4(3.14))),
     "f8": ("0.1", v("float", 0.1)), "n": ("12345.678900", v("numeric", "12345.678900")),
     "ts": ("2024-02-29 12:34:56.789012", v("timestamp", usecs(2024, 2, 29, 12, 34, 56, 789012))),
     "tstz": ("2024-02-29 12:34:56.789012+05:30",
              v("timestamp", usecs(2024, 2, 29, 12, 34, 56, 789012, 330))),
     "d": ("2024-02-29", v("date", days_from_civil(2024, 2, 29))),
     "t": ("23:59:59.999999", v("time", 86399999999)),
     "ttz": ("12:34:56.5+05:30", v("text", "12:34:56.5+05:30")),
     "iv": ("1 year 2 months 3 days 04:05:06.789",
            v("text", "1 year 2 mons 3 days 04:05:06.789")),
     "tx": (NASTY, v("text", NASTY)), "vc": ('it\'s "q"', v("text", 'it\'s "q"')),
     "ch": ("ab", v("text", "ab   ")),
     "js": (' {"a": [1, 2.50], "u": "\\u00e9"} ', v("text", ' {"a": [1, 2.50], "u": "\\u00e9"} ')),
     "jb": ('{"b": 1, "a": [1, 2.50]}', v("text", '{"a": [1, 2.50], "b": 1}')),
     "x": ("<a>x &amp; y</a>", v("text", "<a>x &amp; y</a>")),
     "u": ("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
           v("uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
     "by": ("\\x00ff10", v("bytes", "00ff10")), "e": ("happy", v("text", "happy")),
     "dm": ("42.5", v("numeric", "42.50")), "ia": ("{1,2,NULL,-3}", v("text", "{1,2,NULL,-3}")),
     "ta": ('{"a b","c\\"d",NULL,""}', v("text", '{"a b","c\\"d",NULL,""}')),
     "fa": ("{0.30000000000000004,-0,NaN,1e300}", v("text", "{0.30000000000000004,-0,NaN,1e+300}")),
     "r": ("(1,10]", v("text", "[2,11)")), "m": ("1234.5", v("text", "$1,234.50")),
     "nul": (None, v("null"))},
    {"id": ("2", v("int", 2)), "b": ("false", v("bool", False)), "i2": ("0", v("int", 0)),
     "i8": ("9223372036854775807", v("int", 9223372036854775807)), "o": ("0", v("int", 0)),
     "f4": ("NaN", v("float", "NaN")), "f8": ("Infinity", v("float", "Infinity")),
     "n": ("NaN", v("numeric", "NaN")), "ts": ("infinity", v("infinity", "positive")),
     "tstz": ("-infinity", v("infinity", "negative")), "d": ("infinity", v("infinity", "positive")),
     "t": ("00:00", v("time", 0)), "ttz": ("00:00-12", v("text", "00:00:00-12")),
     "iv": ("-1 days +02:00:00", v("text", "-1 days +02:00:00")), "tx": ("", v("text", "")),
     "vc": ("", v("text", "")), "js": ("null", v("text", "null")), "jb": ('"s"', v("text", '"s"')),
     "u": ("00000000-0000-0000-0000-000000000000",
           v("uuid", "00000000-0000-0000-0000-000000000000")),
     "by": ("", v("bytes", "")), "e": ("sad", v("text", "sad")),
     "dm": ("0.01", v("numeric", "0.01")), "ia": ("{}", v("text", "{}")),
     "ta": ("{}", v("text", "{}")), "r": ("empty", v("text", "empty")),
     "m": ("-1", v("text", "-$1.00"))},
    {"id": ("3", v("int", 3)), "f4": ("-Infinity", v("float", "-Infinity")),
     "f8": ("-0", v("float", -0.0)), "n": (BIG_NUMERIC, v("numeric", BIG_NUMERIC)),
     "ts": ("0044-03-15 12:00:00 BC", v("timestamp", usecs(-43, 3, 15, 12))),
     "tstz": ("10000-01-01 00:00:00+00", v("timestamp", usecs(10000, 1, 1))),
     "d": ("0001-01-01 BC", v("date", days_from_civil(0, 1, 1))),
     "t": ("12:00:00.000001", v("time", 43200000001))},
    {"id": ("4", v("int", 4)), "f4": ("Infinity", v("float", "Infinity")),
     "f8": ("5e-324", v("float", 5e-324)), "n": ("Infinity", v("numeric", "Infinity")),
     "ts": ("294270-01-01 00:00:00", v("text", "294270-01-01 00:00:00")),
     "tstz": ("294270-06-01 00:00:00+00", v("text", "294270-06-01 00:00:00+00")),
     "d": ("-infinity", v("infinity", "negative"))},
    {"id": ("5", v("int", 5)), "f8": ("NaN", v("float", "NaN")),
     "n": ("-Infinity", v("numeric", "-Infinity")),
     "ts": ("-infinity", v("infinity", "negative")),
     "tstz": ("1970-01-01 00:00:00+00", v("timestamp", 0)),
     "d": ("5874897-12-31", v("date", days_from_civil(5874897, 12, 31)))},
    {"id": ("7", v("int", 7)), "ts": ("10000-12-31 23:59:59.999999",
                                      v("timestamp", usecs(10000, 12, 31, 23, 59, 59, 999999))),
     "tstz": ("0001-01-01 00:00:00+00 BC", v("timestamp", usecs(0, 1, 1))),
     "d": ("1970-01-01", v("date", 0)), "t": ("24:00:00", v("time", 86400000000))},
]

# A text value too big to stay inline and, with random digits and storage
# EXTERNAL, stored out of line uncompressed.
BIG_TEXT_SQL = "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 400))"

SETUP_SQL = f"""
CREATE EXTENSION pgcdc;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posnum AS numeric(10,2) CHECK (VALUE > 0);
CREATE TABLE vals ({", ".join(f"{name} {typ}" for name, typ in VALS_TYPES)});
CREATE TABLE full_t (id int PRIMARY KEY, v text, big text);
ALTER TABLE full_t REPLICA IDENTITY FULL;
ALTER TABLE full_t ALTER big SET STORAGE EXTERNAL;
CREATE TABLE toasty (id int PRIMARY KEY, n int, big text);
ALTER TABLE toasty ALTER big SET STORAGE EXTERNAL;
CREATE TABLE nopk (a int, b text);
CREATE TABLE idx_t (a int NOT NULL, b text, c int);
CREATE UNIQUE INDEX idx_t_a ON idx_t (a);
ALTER TABLE idx_t REPLICA IDENTITY USING INDEX idx_t_a;
CREATE SCHEMA "we""ird";
CREATE TABLE {WEIRD} (k text PRIMARY KEY, v int);
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, pid int REFERENCES parent);
CREATE TABLE seqtab (id serial PRIMARY KEY, v text);
CREATE TABLE ddl_t (id int PRIMARY KEY, a text, gone int);
CREATE TABLE bulk (id int PRIMARY KEY, v text);
CREATE TABLE gen_t (id int PRIMARY KEY, a int, g int GENERATED ALWAYS AS (a * 2) STORED, b text);
"""

# One transaction per entry (autocommit; explicit BEGIN where several).
WORKLOAD = [
    # vals rows are inserted by insert_vals()
    "UPDATE vals SET i4 = 7 WHERE id = 1",
    "UPDATE vals SET id = 100 WHERE id = 2",
    "DELETE FROM vals WHERE id = 3",
    # Enum labels are cached per relation: a new label and a renamed one.
    "ALTER TYPE mood ADD VALUE 'ecstatic'",
    "INSERT INTO vals (id, e) VALUES (6, 'ecstatic')",
    "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'",
    "UPDATE vals SET i2 = 1 WHERE id = 100",
    # ...and renamed twice within the transaction that uses it.
    """BEGIN;
       ALTER TYPE mood RENAME VALUE 'ok' TO 'fine';
       UPDATE vals SET e = 'fine' WHERE id = 5;
       ALTER TYPE mood RENAME VALUE 'fine' TO 'okay';
       UPDATE vals SET i2 = 2 WHERE id = 5;
       COMMIT""",
    # Big enough to spill to disk, with TOAST values reassembled after restore.
    f"""BEGIN;
        INSERT INTO bulk SELECT g, repeat('x', g % 100) FROM generate_series(1, 1000) g;
        INSERT INTO full_t VALUES (1, 'a', {BIG_TEXT_SQL}), (2, NULL, 'small');
        UPDATE full_t SET v = 'b' WHERE id = 1;
        UPDATE full_t SET id = 3 WHERE id = 2;
        DELETE FROM full_t WHERE id = 1;
        COMMIT""",
    f"INSERT INTO toasty VALUES (1, 0, {BIG_TEXT_SQL}), (2, 0, 'short')",
    "UPDATE toasty SET n = n + 1",
    """BEGIN;
       INSERT INTO nopk VALUES (1, 'x'), (2, NULL);
       UPDATE nopk SET b = 'y' WHERE a = 1;
       DELETE FROM nopk WHERE a = 2;
       COMMIT""",
    """BEGIN;
       INSERT INTO idx_t VALUES (1, 'one', 10), (2, 'two', 20);
       UPDATE idx_t SET c = 11 WHERE a = 1;
       UPDATE idx_t SET a = 3 WHERE a = 2;
       DELETE FROM idx_t WHERE a = 1;
       COMMIT""",
    f"INSERT INTO {WEIRD} VALUES (E'k\\\\\"\\n', 1)",
    f"UPDATE {WEIRD} SET k = 'k2', v = 2",
    """BEGIN;
       SELECT pg_logical_emit_message(true, 'rt', 'héllo "text" \\ ☃');
       SELECT pg_logical_emit_message(true, 'rt-bin', '\\x00ff01'::bytea);
       SELECT pg_logical_emit_message(false, 'rt-nt', '\\x00ff'::bytea);
       SELECT pg_logical_emit_message(true, 'rt-empty', '');
       INSERT INTO nopk VALUES (3, 'in a transaction with messages');
       COMMIT""",
    "SELECT pg_logical_emit_message(false, 'prefix \"q\" ü', 'outside any transaction')",
    "TRUNCATE full_t, toasty",
    "INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (1, 1)",
    "TRUNCATE parent CASCADE",
    "INSERT INTO seqtab (v) VALUES ('x'), ('y')",
    "TRUNCATE seqtab RESTART IDENTITY",
    "INSERT INTO ddl_t VALUES (1, 'before', 0)",
    """BEGIN;
       ALTER TABLE ddl_t DROP COLUMN gone;
       ALTER TABLE ddl_t ADD COLUMN added numeric(12,2) NOT NULL DEFAULT 1.5;
       INSERT INTO ddl_t VALUES (2, 'after');
       COMMIT""",
    "UPDATE ddl_t SET a = 'again' WHERE id = 1",
    "INSERT INTO gen_t (id, a, b) VALUES (1, 5, 'x')",
    """BEGIN;
       INSERT INTO nopk VALUES (10, 'kept');
       SAVEPOINT s;
       INSERT INTO nopk VALUES (11, 'rolled back');
       ROLLBACK TO s;
       INSERT INTO nopk VALUES (12, 'kept too');
       COMMIT""",
    "BEGIN; INSERT INTO nopk VALUES (99, 'aborted'); ROLLBACK",
    f"INSERT INTO toasty VALUES (3, 0, {BIG_TEXT_SQL})",
]


def insert_vals(cur):
    for row in VALS_ROWS:
        names = list(row)
        types = dict(VALS_TYPES)
        casts = ", ".join(f"%s::{types[n].split()[0]}" for n in names)
        cur.execute(f"INSERT INTO vals ({', '.join(names)}) VALUES ({casts})",
                    [row[n][0] for n in names])


# ---------------------------------------------------------------------------
# Fetching and decoding records.

def load_json(text):
    # "-0" stays a negative zero, so that -0.0 and 0.0 differ.
    return json.loads(text, parse_int=lambda s: -0.0 if s == "-0" else int(s))


def dump(dump_prog, records):
    """The records through roundtrip-dump: one parsed object per record."""
    framed = b"".join(struct.pack(">I", len(r)) + bytes(r) for r in records)
    proc = subprocess.run([dump_prog], input=framed, capture_output=True)
    if proc.returncode != 0:
        raise Failure(f"roundtrip-dump failed ({proc.returncode}): "
                      f"{proc.stderr.decode(errors='replace').strip()}")
    # Not splitlines(): U+2028 and U+0085 are line breaks to it and may be in a string.
    lines = proc.stdout.decode("utf-8").split("\n")[:-1]
    if len(lines) != len(records):
        raise Failure(f"roundtrip-dump printed {len(lines)} lines for {len(records)} records")
    return [load_json(line) for line in lines]


def peek(cur, slot, binary, options):
    args = [slot]
    for k, val in options.items():
        args += [k, val]
    func = "pg_logical_slot_peek_binary_changes" if binary else "pg_logical_slot_peek_changes"
    cur.execute(f"SELECT data FROM {func}(%s, NULL, NULL{', %s' * (len(args) - 1)})", args)
    return [row[0] for row in cur.fetchall()]


# ---------------------------------------------------------------------------
# Comparison.

BINARY_VS_JSON = ("the binary record", "the JSON")
RECORD_VS_EXPECTED = ("the record", "expected")


def same_number(a, b):
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


def difference(a, b, path, sides=BINARY_VS_JSON):
    """The first place where a and b differ, described, or None."""
    left, right = sides
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in b:
                return f"{path}.{k}: {short(a[k])} in {left}, absent from {right}"
            if k not in a:
                return f"{path}.{k}: absent from {left}, {short(b[k])} in {right}"
            d = difference(a[k], b[k], f"{path}.{k}", sides)
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = difference(x, y, f"{path}[{i}]", sides)
            if d:
                return d
        if len(a) != len(b):
            return f"{path}: {len(a)} elements in {left}, {len(b)} in {right}"
        return None
    numeric = (int, float)
    if (isinstance(a, numeric) and isinstance(b, numeric)
            and not isinstance(a, bool) and not isinstance(b, bool)):
        return None if same_number(a, b) else f"{path}: {a!r} in {left}, {b!r} in {right}"
    if type(a) is not type(b) or a != b:
        return f"{path}: {short(a)} in {left}, {short(b)} in {right}"
    return None


def expect(got, want, what):
    d = difference(got, want, what, RECORD_VS_EXPECTED)
    if d:
        raise Failure(d)


def short(x):
    s = json.dumps(x, ensure_ascii=False)
    return s if len(s) <= 120 else s[:117] + "..."


def name_columns(path, names):
    """record[3].after[15].text -> record[3].after[15:tx].text, when column 15 is tx."""
    def named(m):
        i = int(m.group(2))
        return f".{m.group(1)}[{i}:{names[i]}]" if i < len(names) else m.group(0)
    return re.sub(r"\.(before|after)\[(\d+)\]", named, path, count=1)


def compare(label, binary, rendered):
    if len(binary) != len(rendered):
        raise Failure(f"{label}: {len(binary)} binary records, {len(rendered)} JSON records")
    columns = {}
    for i, (a, b) in enumerate(zip(binary, rendered)):
        names = [c.get("name") for c in a.get("columns", [])]
        if a.get("op") == "relation":
            columns[a.get("relid")] = names
        d = difference(a, b, f"record[{i}]")
        if d:
            d = name_columns(d, names or columns.get(a.get("relid"), []))
            raise Failure(f"{label}: {d}\n  record {i} (op {a.get('op')}, lsn {a.get('lsn')}):"
                          f"\n  binary {short(a)}\n  json   {short(b)}")


# ---------------------------------------------------------------------------
# Checks on what the records say.

def coverage(records):
    ops, kinds, flags = set(), set(), set()
    for r in records:
        ops.add(r.get("op"))
        for image in ("before", "after"):
            for val in r.get(image, []):
                kinds.update(val.keys() or ["<not in image>"])
                if image == "before" and not val:
                    flags.add("key-only before")
        if "columns" in r and r.get("op") != "relation":
            flags.add("inline columns")
        if "replica_identity" in r:
            flags.add("identity " + r["replica_identity"])
        for key in ("cascade", "restart_identity", "snapshot"):
            if r.get(key):
                flags.add(key)
        if len(r.get("truncated", [])) >= 2:
            flags.add("multi-table truncate")
        if r.get("op") == "message":
            flags.add("transactional message" if r.get("transactional") else "plain message")
    return ops, kinds, flags


def check_coverage(records):
    ops, kinds, flags = coverage(records)
    wanted = {"key-only before", "inline columns", "identity default", "identity index",
              "identity full", "identity nothing", "cascade", "restart_identity", "snapshot",
              "multi-table truncate", "transactional message", "plain message"}
    for what, want, got in (("ops", ALL_OPS, ops), ("value kinds", ALL_KINDS, kinds),
                            ("features", wanted, flags)):
        if want - got:
            raise Failure(f"the workload never produced {what} {sorted(want - got)}")
    return ops, kinds


def images(records):
    """(record, before, after) per change or read record, images as {column name: Value}."""
    relations, result = {}, []
    for r in records:
        if r["op"] == "relation":
            relations[r["relid"]] = r["columns"]
        elif r["op"] in ("insert", "update", "delete", "read"):
            names = [c["name"] for c in r.get("columns") or relations[r["relid"]]]
            result.append((r, dict(zip(names, r.get("before", []))),
                           dict(zip(names, r.get("after", [])))))
    return result


VALS_ROW_6 = {**{n: v("null") for n, _ in VALS_TYPES},
              "id": v("int", 6), "e": v("text", "ecstatic")}


def vals_image(index, **changed):
    """The Value of every vals column for VALS_ROWS[index], with changed columns."""
    row = VALS_ROWS[index]
    image = {name: row[name][1] if name in row else v("null") for name, _ in VALS_TYPES}
    image.update(changed)
    return image


def check_stream_values(records, window):
    """Values against what they must be, so a value wrong in both renderings fails too."""
    changes = images(records)

    def find(table, op, key=None):
        for r, b, a in changes:
            if r["table"] == table and r["op"] == op and (key is None or key(b, a)):
                return b, a
        raise Failure(f"no {op} record of {table} as the workload made it")

    def row_id(n):
        return lambda b, a: a.get("id") == v("int", n)

    for i, row in enumerate(VALS_ROWS):
        rid = row["id"][1]["int"]
        expect(find("vals", "insert", row_id(rid))[1], vals_image(i), f"vals insert id {rid}")
    expect(find("vals", "update", lambda b, a: b)[0],
           {"id": v("int", 2), **{n: {} for n, _ in VALS_TYPES[1:]}},
           "vals key change: old image, key only")
    expect(find("vals", "update", row_id(1)), ({}, vals_image(0, i4=v("int", 7))),
           "vals update without key change")
    expect(find("vals", "delete")[0]["id"], v("int", 3), "vals delete: old key")
    expect(find("vals", "insert", row_id(6))[1], VALS_ROW_6, "vals insert of a new enum label")
    expect(find("vals", "update", lambda b, a: a["i2"] == v("int", 1))[1],
           vals_image(1, id=v("int", 100), i2=v("int", 1), e=v("text", "blue")),
           "vals update after an enum label was renamed")
    expect(find("vals", "update", lambda b, a: a["id"] == v("int", 5) and "null" in a["i2"])[1],
           vals_image(4, e=v("text", "fine")), "vals update after a rename in its transaction")
    expect(find("vals", "update", lambda b, a: a["i2"] == v("int", 2))[1],
           vals_image(4, e=v("text", "okay"), i2=v("int", 2)),
           "vals update after a second rename in its transaction")
    expect(find("toasty", "update", row_id(1))[1],
           {"id": v("int", 1), "n": v("int", 1), "big": v("unchanged_toast")},
           "toasty update: unchanged TOAST value")
    before, after = find("full_t", "update", row_id(1))
    expect(after, {"id": v("int", 1), "v": v("text", "b"), "big": v("unchanged_toast")},
           "full_t update: unchanged TOAST value")
    if len(before["big"].get("text", "")) != 32 * 400:
        raise Failure(f"full_t update: old big is {short(before['big'])}, "
                      "not the 12800-character value")
    expect(find("gen_t", "insert")[1], {"id": v("int", 1), "a": v("int", 5), "b": v("text", "x")},
           "gen_t insert: generated column left out")
    expect(find("ddl_t", "insert", row_id(2))[1],
           {"id": v("int", 2), "a": v("text", "after"), "added": v("numeric", "1.50")},
           "ddl_t insert after DROP and ADD COLUMN")
    expect(find("nopk", "delete"), ({}, {}), "nopk delete: nothing logged")
    expect([a for r, _, a in changes if r["table"] == "bulk"],
           [{"id": v("int", g), "v": v("text", "x" * (g % 100))} for g in range(1, 1001)],
           "bulk inserts of the spilled transaction")
    expect(sorted(a["a"]["int"] for r, _, a in changes
                  if r["table"] == "nopk" and r["op"] == "insert"),
           [1, 2, 3, 10, 12], "nopk rows decoded (savepoint and abort)")

    msgs = {r["prefix"]: r for r in records if r["op"] == "message"}
    for prefix, content, transactional in (
            ("rt", 'héllo "text" \\ ☃'.encode().hex(), True), ("rt-bin", "00ff01", True),
            ("rt-nt", "00ff", False), ("rt-empty", None, True),
            ('prefix "q" ü', b"outside any transaction".hex(), False)):
        m = msgs.get(prefix, {})
        expect([m.get("content"), m.get("transactional", False)], [content, transactional],
               f"message {prefix!r}: [content, transactional]")

    cascade = [r for r in records if r["op"] == "truncate" and r.get("cascade")]
    expect(sorted(t["table"] for t in cascade[0]["truncated"]) if cascade else None,
           ["child", "parent"], "TRUNCATE parent CASCADE: truncated tables")

    lo, hi = window
    for r in records:
        if "commit_ts" in r and not lo <= r["commit_ts"] <= hi:
            raise Failure(f"commit_ts {r['commit_ts']} of {r['op']} at {r.get('lsn')} is not "
                          f"within the workload's run, {lo}..{hi} µs since the epoch")


def check_read_values(records):
    got = {a["id"]["int"]: a for r, _, a in images(records) if r["table"] == "vals"}
    want = {1: vals_image(0, i4=v("int", 7)), 4: vals_image(3), 7: vals_image(5),
            5: vals_image(4, e=v("text", "okay"), i2=v("int", 2)),
            100: vals_image(1, id=v("int", 100), i2=v("int", 1), e=v("text", "blue")),
            6: VALS_ROW_6}
    expect(sorted(got), sorted(want), "read_record: vals ids")
    for rid in want:
        expect(got[rid], want[rid], f"read_record: vals id {rid}")


# A domain's base type: domains followed down, the typmod the last one gives its base.
CATALOG_COLUMNS = """
    SELECT a.attname, a.atttypid::int, format_type(a.atttypid, a.atttypmod), a.attnotnull,
           coalesce(a.attnum = ANY (i.indkey::int2[]), false),
           CASE WHEN base.oid <> a.atttypid THEN base.oid::int END,
           CASE WHEN base.oid <> a.atttypid THEN format_type(base.oid, base.typmod) END,
           (SELECT array_agg(enumlabel::text ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = base.oid)
    FROM pg_attribute a
    LEFT JOIN LATERAL (SELECT indkey FROM pg_index
                       WHERE indrelid = a.attrelid AND (indisreplident OR indisprimary)
                       ORDER BY indisreplident DESC LIMIT 1) i ON true
    LEFT JOIN LATERAL (WITH RECURSIVE d(oid, typmod, typtype) AS (
                         SELECT t.oid, -1, t.typtype FROM pg_type t WHERE t.oid = a.atttypid
                         UNION ALL SELECT b.oid, t.typtypmod, b.typtype FROM d
                           JOIN pg_type t ON t.oid = d.oid JOIN pg_type b ON b.oid = t.typbasetype
                           WHERE d.typtype = 'd')
                       SELECT oid, typmod FROM d WHERE typtype <> 'd') base ON true
    WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attgenerated = ''
    ORDER BY a.attnum"""


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def check_relations(cur, records):
    """Every table's last relation record against the catalogs, read here with SQL."""
    last = {}
    for r in records:
        if r["op"] == "relation":
            last[(r["schema"], r["table"])] = r
    identities = {"vals": "default", "full_t": "full", "idx_t": "index", "nopk": "nothing",
                  "gen_t": "default", "ddl_t": "default"}
    # An empty search_path makes format_type() qualify every type outside pg_catalog.
    cur.execute("SET search_path = ''")
    for (schema, table), r in last.items():
        cur.execute(CATALOG_COLUMNS, [f"{quote_ident(schema)}.{quote_ident(table)}"])
        columns = [{k: val for k, val in (("name", name), ("type_oid", oid), ("type_name", typ),
                                          ("key", key), ("not_null", notnull), ("base_type_oid", boid),
                                          ("base_type_name", btyp), ("enum_labels", labels)) if val}
                   for name, oid, typ, notnull, key, boid, btyp, labels in cur.fetchall()]
        expect(r["columns"], columns, f"relation {schema}.{table}: columns")
        expect(r.get("replica_identity"), identities.get(table, "default"),
               f"relation {schema}.{table}: replica_identity")
    cur.execute("RESET search_path")
    return len(last)


# ---------------------------------------------------------------------------
# Negative controls: a comparison or a dump that cannot fail proves nothing.

def self_check(dump_prog, raw, parsed):
    i = next(i for i, r in enumerate(parsed) if r["op"] == "commit")
    flipped = bytearray(raw[i])
    flipped[-1] ^= 1  # the last byte of end_lsn, packed last: still a valid varint
    if difference(dump(dump_prog, [bytes(flipped)])[0], parsed[i], "r") is None:
        raise Failure("self-check: a flipped bit in a record went unnoticed")
    for broken, what in ((bytes(raw[i]) + b"\xff", "a record with a stray byte"),
                         (bytes(raw[i])[:-1], "a truncated record")):
        try:
            dump(dump_prog, [broken])
        except Failure:
            continue
        raise Failure(f"self-check: roundtrip-dump accepted {what}")

    def finite_float(val):
        return isinstance(val.get("float"), float) and math.isfinite(val["float"])

    r = next(r for r in parsed if any(finite_float(val) for val in r.get("after", [])))
    col = next(c for c, val in enumerate(r["after"]) if finite_float(val))
    for change, what in ((lambda x: x.update(version=2), "a changed version"),
                         (lambda x: x["after"][col].update(
                             float=math.nextafter(x["after"][col]["float"], math.inf)),
                          "a float one ulp off"),
                         (lambda x: x["after"].__setitem__(col, {}), "a value left out"),
                         (lambda x: x.pop("after"), "an image left out")):
        other = copy.deepcopy(r)
        change(other)
        if difference(r, other, "r") is None:
            raise Failure(f"self-check: {what} went unnoticed")
    print("self-check: corrupted and truncated records, a float one ulp off and missing "
          "fields are all caught")


# ---------------------------------------------------------------------------

def run_workload(cur):
    """Runs the workload; returns the µs since the epoch just before and after it."""
    begin = int(time.time() * 1e6) - 1000000
    cur.execute("SET datestyle = 'ISO, YMD'")
    insert_vals(cur)
    for sql in WORKLOAD:
        cur.execute(sql)
    cur.execute("RESET datestyle")
    return begin, int(time.time() * 1e6) + 1000000


def check_merge(dump_prog, raw, parsed, inline):
    """The contract's promise to consumers such as walstreamer: the bytes of a
    relation's latest RELATION record followed by a change record's bytes
    unpack as that change with its columns, exactly the record inline-schema
    writes.  Checked on every change of the stream."""
    latest, merged, changes = {}, [], 0
    for record, parsed_record in zip(raw, parsed):
        op = parsed_record["op"]
        if op == "relation":
            latest[parsed_record["relid"]] = bytes(record)
            continue
        if op in ("insert", "update", "delete"):
            record = latest[parsed_record["relid"]] + bytes(record)
            changes += 1
        merged.append(record)
    compare("relation record + change record", dump(dump_prog, merged), inline)
    return changes


def check_streams(cur, dump_prog, window):
    """The slots' records, with and without inline-schema; returns them and the raw stream."""
    records, raw_stream, streams = [], None, {}
    for label, options in (("stream", {}), ("stream inline-schema", {"inline-schema": "true"})):
        raw = peek(cur, "rt_bin", True, options)
        binary = dump(dump_prog, raw)
        streams[label] = (raw, binary)
        rendered = [load_json(t) for t in peek(cur, "rt_json", False, dict(options, format="json"))]
        compare(label, binary, rendered)
        if len(binary) < MIN_RECORDS:
            raise Failure(f"{label}: only {len(binary)} records, want at least {MIN_RECORDS}")
        check_stream_values(binary, window)
        print(f"{label}: {len(binary)} binary records agree with the JSON ones")
        records += binary
        raw_stream = raw_stream or raw
    merged = check_merge(dump_prog, *streams["stream"], streams["stream inline-schema"][1])
    print(f"merge: {merged} change records prefixed with their RELATION record equal the "
          f"inline-schema ones")
    print(f"relations: {check_relations(cur, records)} tables' columns agree with the catalogs")
    cur.execute("SELECT spill_txns FROM pg_stat_replication_slots WHERE slot_name = 'rt_bin'")
    spilled = cur.fetchone()
    if not spilled or spilled[0] == 0:
        raise Failure(f"no transaction spilled to disk (spill_txns {spilled})")
    print(f"spilled to disk while decoding: {spilled[0]} transactions")
    return records, raw_stream


# Record bytes, and the LSN each READ record must carry; the largest LSN
# takes the longest varints.
READ_SQL = f"""
    WITH recs AS MATERIALIZED (
        SELECT pgcdc.read_record(tab, '0/1234'::pg_lsn) AS b, '0/1234' AS lsn FROM vals tab
        UNION ALL SELECT pgcdc.read_record(tab, 'FFFFFFFF/FFFFFFFF'::pg_lsn, true),
                         'FFFFFFFF/FFFFFFFF' FROM vals tab
        UNION ALL SELECT pgcdc.read_record(tab, '0/1234'::pg_lsn, true), '0/1234' FROM toasty tab
        UNION ALL SELECT pgcdc.read_record(tab, '1/0'::pg_lsn), '1/0' FROM {WEIRD} tab
        UNION ALL SELECT pgcdc.relation_record(c::regclass), NULL
          FROM unnest(ARRAY['vals', 'full_t', 'idx_t', 'nopk', 'gen_t', %s]) c)
    SELECT b, pgcdc.to_json(b)::text, lsn FROM recs"""


def check_reads(cur, dump_prog):
    """pgcdc.read_record() and relation_record() bytes against pgcdc.to_json() of them."""
    cur.execute(READ_SQL, [WEIRD])
    rows = cur.fetchall()
    binary = dump(dump_prog, [b for b, _, _ in rows])
    compare("read_record/relation_record", binary, [load_json(t) for _, t, _ in rows])
    for r, (_, _, lsn) in zip(binary, rows):
        want = (lsn, lsn, True) if lsn else (None, None, None)
        expect((r.get("lsn"), r.get("commit_lsn"), r.get("snapshot")), want,
               f"{r['op']} record of {r['table']}: lsn, commit_lsn, snapshot")
    check_read_values([r for r in binary if r["op"] == "read" and "columns" in r])
    print(f"read_record/relation_record: {len(binary)} binary records agree with to_json()")
    return binary


def run(cluster, dump_prog):
    cluster.psql(f'CREATE DATABASE "{DBNAME}"')
    cluster.psql(SETUP_SQL, DBNAME)
    # Separate calls: psql -c runs several statements in one transaction.
    cluster.psql("SELECT 'ok' FROM pg_create_logical_replication_slot('rt_bin', 'pgcdc')", DBNAME)
    cluster.psql("SELECT 'ok' FROM pg_create_logical_replication_slot('rt_json', 'pgcdc')", DBNAME)

    conn = psycopg2.connect(cluster.dsn(DBNAME))
    conn.autocommit = True
    try:
        cur = conn.cursor()
        window = run_workload(cur)
        streamed, raw_stream = check_streams(cur, dump_prog, window)
        read = check_reads(cur, dump_prog)
        ops, kinds = check_coverage(streamed + read)
        self_check(dump_prog, raw_stream, streamed[:len(raw_stream)])
        print(f"ops covered: {', '.join(sorted(ops))}")
        print(f"value kinds covered: {', '.join(sorted(kinds))}")
        print(f"ok: {len(streamed) + len(read)} records, binary and JSON agree field by field")
    finally:
        conn.close()


def main():
    build = os.path.abspath(sys.argv[1])
    dump_prog = os.path.abspath(sys.argv[2])
    install = pgtemp.pgcdc_install(build)
    cluster = pgtemp.Cluster(install, "roundtrip", settings=SERVER_SETTINGS)
    try:
        cluster.start()
        run(cluster, dump_prog)
    except (Failure, psycopg2.Error, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", None)
        print(f"FAIL: {e}" + (f"\n{detail.strip()}" if isinstance(detail, str) else ""))
        return 1
    finally:
        cluster.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
