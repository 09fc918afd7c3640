#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (tests/fuzz/corpus) from real records.

usage: make_corpus.py BUILD_DIR   (a build with the decoder, e.g. build)

A temporary server runs the decoder round-trip test's schema and workload
(tests/roundtrip/test_roundtrip.py: every record kind, every Value kind, at
their extremes), and its records become Kafka values as walstreamer makes
them: a change record with its relation's RELATION record in front.  Kept:
two records of each operation and table (the smallest and the largest
under 4 kB, and one large TOAST value), snapshot reads, the distinct values of those records, some
forged values past PostgreSQL's ranges, and hand-written option lists for
the decoder's parser.  The old corpus is replaced; run it again when
cdc.proto or the workload changes, and commit the result.
"""

import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "roundtrip"))

import psycopg2  # noqa: E402
import test_roundtrip as rt  # noqa: E402

from support import pgcdcwire, pgtemp  # noqa: E402

SMALL = 4096           # bytes: records above this are left out, but for one
VALUES_PER_KIND = 4

OPTIONS = {
    "none": "",
    "json": "format=json\ninclude-transaction=off",
    "tables": 'include-tables=public.t, "We""ird".*,s.tab\nexclude-tables=public.*',
    "prefixes": "messages=on\nmessage-prefixes= a, b ,c",
    "batch": "batch-bytes=67108864\nversion=1\norigin=NONE",
    "bools": "skip-empty-xacts\ninline-schema=TRUE\nmessages=0",
    "bad-int": "batch-bytes=-1",
    "bad-list": "include-tables=public.",
    "quoted": 'include-tables="unterminated',
    "duplicate": "format=protobuf\nformat=json",
    "unknown": "colour=blue",
    "conflict": "messages=off\nmessage-prefixes=x",
}


def zigzag(v):
    return (v << 1) ^ (v >> 63)


def forged_values():
    """Values past PostgreSQL's ranges and lengths, packed as a Value."""
    u64 = lambda v: v & (2**64 - 1)  # noqa: E731  int64 time_value: two's complement varint
    return {
        "time-negative": pgcdcwire.pack([(9, 0, u64(-1))]),
        "time-int64-min": pgcdcwire.pack([(9, 0, u64(-2**63))]),
        "time-past-24h": pgcdcwire.pack([(9, 0, 86400000001)]),
        "date-int32-min": pgcdcwire.pack([(8, 0, zigzag(-2**31) & 0xFFFFFFFF)]),
        "timestamp-int64-min": pgcdcwire.pack([(7, 0, zigzag(-2**63) & (2**64 - 1))]),
        "infinity-unknown": pgcdcwire.pack([(10, 0, 3)]),
        "numeric-garbage": pgcdcwire.pack([(6, 2, b"1e5")]),
        "numeric-scale": pgcdcwire.pack([(6, 2, b"0." + b"1" * 16384)]),
        "uuid-short": pgcdcwire.pack([(12, 2, b"\x01\x02\x03")]),
        "bytes-claims-1gb": bytes([0x6a, 0x80, 0x80, 0x80, 0x80, 0x04]) + b"abc",
    }


def as_kafka_values(raw):
    """(op, table, bytes) of each record, changes with their RELATION record in front."""
    latest, out = {}, []
    for rec in raw:
        rec = bytes(rec)
        r = pgcdcwire.record(rec)
        relid = next((v for n, _, v in pgcdcwire.fields(rec) if n == 11), None)
        if r.get("op") == "relation":
            latest[relid] = rec
        if r.get("op") in ("insert", "update", "delete"):
            rec = latest[relid] + rec
        out.append((r.get("op"), r.get("table", ""), rec))
    return out


def choose(records):
    """The smallest and largest small record of each (operation, table), and one big one."""
    groups, kept = {}, []
    for op, table, rec in records:
        groups.setdefault((op, table), []).append(rec)
    for (op, table), recs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        small = sorted({r for r in recs if len(r) <= SMALL}, key=len)
        for i, rec in enumerate(small[:1] + small[-1:] if len(small) > 1 else small):
            kept.append((f"{op}-{table}-{i}" if table else f"{op}-{i}", rec))
    big = min((r for _, _, r in records if len(r) > SMALL), key=len, default=None)
    if big:
        kept.append(("toast-big", big))
    return kept


def values_of(records):
    """The distinct Values of the records, the smallest few of each kind."""
    by_kind = {}
    for _, _, rec in records:
        for num, _, v in pgcdcwire.fields(rec):
            if num in (12, 13) and len(v) <= 1024:
                kind = pgcdcwire.fields(v)[0][0] if v else 0
                by_kind.setdefault(kind, set()).add(v)
    return {f"kind{kind}-{i}": v for kind, vs in by_kind.items()
            for i, v in enumerate(sorted(vs, key=lambda x: (len(x), x))[:VALUES_PER_KIND])}


def debezium_seeds():
    """Debezium's own messages (tests/debezium/fixtures): per variant, the
    first value of each op under 4 kB, for walsink's Debezium reader."""
    import json
    seeds = {}
    fixtures = os.path.join(HERE, "..", "debezium", "fixtures")
    for variant in ("schemas", "plain", "modes", "modes2"):
        seen = set()
        with open(os.path.join(fixtures, f"{variant}.jsonl")) as f:
            for line in f:
                m = json.loads(line)
                value = m["value"]
                if value is None or len(value) > 4096:
                    continue
                doc = json.loads(value)
                op = doc.get("payload", doc).get("op", "other")
                if op not in seen:
                    seen.add(op)
                    seeds[f"dbz-{variant}-{op}"] = value.encode()
    return seeds


def write(dirname, files, suffix):
    path = os.path.join(HERE, "corpus", dirname)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    for name, data in files.items():
        safe = "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "_" for c in name)
        with open(os.path.join(path, safe + suffix), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
    print(f"corpus/{dirname}: {len(files)} files, {sum(len(d) for d in files.values())} bytes")


def main():
    install = pgtemp.pgcdc_install(os.path.abspath(sys.argv[1]))
    cluster = pgtemp.Cluster(install, "corpus", settings=rt.SERVER_SETTINGS)
    try:
        cluster.start()
        cluster.psql(f'CREATE DATABASE "{rt.DBNAME}"')
        cluster.psql(rt.SETUP_SQL, rt.DBNAME)
        cluster.psql("SELECT 'ok' FROM pg_create_logical_replication_slot('fz', 'pgcdc')", rt.DBNAME)
        conn = psycopg2.connect(cluster.dsn(rt.DBNAME))
        conn.autocommit = True
        cur = conn.cursor()
        rt.run_workload(cur)
        records = as_kafka_values(rt.peek(cur, "fz", True, {}))
        cur.execute("SELECT pgcdc.read_record(tab, '0/1234'::pg_lsn, true) FROM vals tab")
        records += [("read", "vals", bytes(row[0])) for row in cur.fetchall()]
        conn.close()
    finally:
        cluster.destroy()
    kept = choose(records)
    write("event", {**dict(kept), **debezium_seeds()}, ".pb")
    write("value", {**values_of(records), **forged_values()}, ".pb")
    write("options", OPTIONS, ".txt")


if __name__ == "__main__":
    main()
