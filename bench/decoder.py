#!/usr/bin/env python3
"""Decoder benchmark: pgcdc against pgoutput, decoderbufs, wal2json and test_decoding.

usage: python3 bench/decoder.py [--build DIR] [--runs N] [--workload a|b|all]
                                [--scale F] [--output FILE]

For each workload: a fresh throwaway cluster, one slot per plugin configuration
created before the workload, the workload generated server-side in 1,000-row
transactions, then pg_logical_slot_peek_binary_changes timed for every slot.
Peeking does not consume, so every run decodes the same WAL.  Runs are
interleaved (A B C ... A B C ...) so drift hits every plugin alike; one untimed
warm-up round precedes them.  The decoder section of the output file (between
the decoder-bench markers) is rewritten; everything else in it is kept.

Nothing is built here: build the plugin first (ninja -C build).
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from support import pgtemp  # noqa: E402

BATCH = 1000
START = "<!-- decoder-bench:start -->"
END = "<!-- decoder-bench:end -->"
PUBLICATION = "bench_pub"
PGOUTPUT_OPTS = ("proto_version", "1", "publication_names", PUBLICATION)
FLOOR = "floor (pgcdc, every table excluded)"

# Decoding, not I/O, is what we measure: no checkpoints during the run, no
# autovacuum competing for the CPUs, transactions decoded in memory (1,000-row
# transactions are far below either limit).  synchronous_commit stays on:
# peek reads only up to the flushed WAL, and an unflushed tail would shorten
# whichever plugin happened to be peeked first.
# XXX work_mem is the minimum on purpose.  peek stores every message in a
# tuplestore, a cost the walsender path does not have.  Held in memory
# (work_mem = 1GB) each message is a fresh palloc, and page faults on new
# memory added ~190 ms per peek of workload a for pgcdc and ~390 ms for
# decoderbufs, more than pgcdc's own encoding.  Spilled to a temp file it
# costs far less, and at 64kB every plugin spills from the first messages on,
# whatever its output size (at 4MB small runs would spill for some plugins only).
SETTINGS = {
    "shared_buffers": "'512MB'",
    "logical_decoding_work_mem": "'1GB'",
    "work_mem": "'64kB'",
    "max_wal_size": "'4GB'",
    "checkpoint_timeout": "'1d'",
    "autovacuum": "off",
}


@dataclass(frozen=True)
class Plugin:
    label: str
    plugin: str
    options: tuple = ()
    writes: bool = True     # False for the floor, which filters everything out

    @property
    def slot(self):
        return "bench_" + re.sub(r"\W", "_", self.label)


PLUGINS = (
    Plugin("pgcdc", "pgcdc"),
    Plugin("pgcdc inline-schema", "pgcdc", ("inline-schema", "true")),
    Plugin("pgoutput", "pgoutput", PGOUTPUT_OPTS),
    Plugin("pgoutput-binary", "pgoutput", PGOUTPUT_OPTS + ("binary", "true")),
    Plugin("decoderbufs", "decoderbufs"),
    Plugin("wal2json v2", "wal2json", ("format-version", "2")),
    Plugin("test_decoding", "test_decoding"),
    # What every plugin pays before writing anything: WAL reading, reorder
    # buffer, snapshot building, change callbacks.
    Plugin(FLOOR, "pgcdc", ("exclude-tables", "public.*", "skip-empty-xacts", "true"),
           writes=False),
)

# Workload (a): the row the targets are set on.  Values are deterministic
# functions of the id g, with a realistic mix: ~13,000 distinct names, unique
# emails (2% NULL), five roles, 2-decimal salaries, distinct timestamps.
EMPLOYEE_COLUMNS = """
    id bigint PRIMARY KEY,
    name text NOT NULL,
    email text,
    role text,
    salary numeric(12,2),
    updated_ts timestamptz"""

EMPLOYEE_VALUES = """
    g,
    (ARRAY['Ada','Ben','Chloe','Dmitri','Elena','Farid','Grace','Hiro','Ines','Jonas',
           'Kemal','Lena','Mateo','Nia','Oskar','Priya','Quentin','Rosa','Sven','Yuki'])[1 + g % 20]
      || ' ' || chr(65 + (g / 20) % 26) || '. ' ||
    (ARRAY['Smith','Garcia','Nguyen','Müller','Rossi','Kowalski','Tanaka','Okafor','Silva',
           'Dubois','Larsen','Novak','Haddad','Ivanova','Kim','Moreau','Patel','Berg',
           'Costa','Fischer','Lopez','Schmidt','Wong','Yilmaz','Zhang'])[1 + (g / 520) % 25],
    CASE WHEN g % 50 = 0 THEN NULL ELSE 'employee' || g || '@example.com' END,
    (ARRAY['engineer','engineer','analyst','manager','support','sales'])[1 + g % 6],
    round(30000 + (g * 7919) % 120000 + (g % 97) / 100.0, 2),
    timestamptz '2024-01-01 00:00:00+00' + g * interval '17 seconds'
      + (g % 1000) * interval '1 ms'"""

# Workload (b) adds ~4 KB of text and a dozen-key jsonb document.  The text is
# 124 md5 digests: varying per row, and too random for pglz, so it goes to
# the TOAST table out of line (reported by storage_note).
WIDE_COLUMNS = EMPLOYEE_COLUMNS + """,
    bio text,
    profile jsonb"""

WIDE_VALUES = EMPLOYEE_VALUES + """,
    (SELECT string_agg(md5((g * 131 + i)::text), ' ') FROM generate_series(1, 124) i),
    jsonb_build_object(
        'employee_id', g, 'department', (ARRAY['R&D','Ops','Finance','Sales'])[1 + g % 4],
        'level', 1 + g % 7, 'remote', g % 3 = 0, 'manager_id', g / 10,
        'start_date', date '2010-01-01' + (g % 5000)::int,
        'location', (ARRAY['Berlin','Lisbon','Toronto','Osaka','Nairobi'])[1 + g % 5],
        'phone', '+1-555-' || lpad((g % 10000)::text, 4, '0'),
        'skills', jsonb_build_array('sql', 'c', CASE WHEN g % 2 = 0 THEN 'go' ELSE 'rust' END),
        'rating', round((g % 50) / 10.0, 1), 'active', g % 11 <> 0,
        'tags', jsonb_build_array('t' || g % 13, 't' || g % 17))"""


@dataclass(frozen=True)
class Workload:
    key: str
    table: str
    columns: str
    values: str
    inserts: int
    updates: int
    deletes: int

    @property
    def changes(self):
        return self.inserts + self.updates + self.deletes

    def scaled(self, factor):
        return Workload(self.key, self.table, self.columns, self.values,
                        *(max(BATCH, round(n * factor))
                          for n in (self.inserts, self.updates, self.deletes)))


# (b) has (a)'s row counts: at ~4.5 KB a row that is ~1 GB of WAL and up to
# ~1 GB of output (and of temp file) per peek; the whole bench still takes
# about five minutes.
WORKLOADS = {
    "a": Workload("a", "employee", EMPLOYEE_COLUMNS, EMPLOYEE_VALUES,
                  200_000, 100_000, 20_000),
    "b": Workload("b", "employee_wide", WIDE_COLUMNS, WIDE_VALUES,
                  200_000, 100_000, 20_000),
}


@dataclass
class Result:
    plugin: Plugin
    times: list = field(default_factory=list)           # peek, ms
    stream_times: list = field(default_factory=list)    # walsender, ms
    messages: int = 0
    bytes: int = 0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"),
                   help="meson build directory holding decoder/pgcdc.so (default: build)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per plugin (default 5)")
    p.add_argument("--workload", choices=("a", "b", "all"), default="all")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply row counts (e.g. 0.1 while developing)")
    p.add_argument("--output", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    p.add_argument("--json", default=None,
                   help="also write the figures as JSON here (bench/run.py plots them)")
    return p.parse_args()


def module_path(build):
    path = os.path.join(os.path.abspath(build), "decoder", "pgcdc.so")
    if not os.path.exists(path):
        sys.exit(f"decoder.py: {path} not found; build the plugin first: "
                 f"ninja -C {build}")
    return path


def start_cluster(install, workload):
    plugins = ", ".join(sorted({p.plugin for p in PLUGINS}))
    return pgtemp.Cluster(install, f"bench-{workload.key}", settings=SETTINGS,
                          plugins=plugins).start()


def sql_literal(s):
    return "'" + s.replace("'", "''") + "'"


def create_slots(cluster, workload):
    """Table, publication and slots, each in its own call: a slot cannot be
    created in a transaction that has already written."""
    cluster.psql(f"CREATE TABLE {workload.table} ({workload.columns})")
    cluster.psql(f"CREATE PUBLICATION {PUBLICATION} FOR ALL TABLES")
    for p in PLUGINS:
        cluster.psql(f"SELECT pg_create_logical_replication_slot("
                     f"{sql_literal(p.slot)}, {sql_literal(p.plugin)})")


def batched(count, statement):
    """A DO block running `statement` once per 1,000-row batch, committing
    each; the statement sees the batch number as b (0-based)."""
    batches = -(-count // BATCH)
    return f"""DO $$
BEGIN
  FOR b IN 0..{batches - 1} LOOP
    {statement};
    COMMIT;
  END LOOP;
END $$"""


def every_nth(workload, count, remainder):
    """The WHERE clause picking every n-th id (n = inserts / count) in batch b,
    so each batch touches BATCH rows spread over the table."""
    n = workload.inserts // count
    span = n * BATCH
    return (f"id % {n} = {remainder % n} AND id > b * {span} "
            f"AND id <= least((b + 1) * {span}, {workload.inserts})")


def run_workload(cluster, w):
    """Inserts, then updates of non-key columns, then deletes; returns WAL bytes."""
    start = cluster.psql("SELECT pg_current_wal_lsn()")
    cluster.psql(batched(w.inserts, f"""INSERT INTO {w.table} SELECT {w.values}
        FROM generate_series(b * {BATCH} + 1, least((b + 1) * {BATCH}, {w.inserts})) g"""))
    cluster.psql(batched(w.updates, f"""UPDATE {w.table}
        SET salary = salary * 1.03, updated_ts = updated_ts + interval '90 days'
        WHERE {every_nth(w, w.updates, 0)}"""))
    cluster.psql(batched(w.deletes, f"DELETE FROM {w.table} WHERE {every_nth(w, w.deletes, 5)}"))
    return int(cluster.psql(f"SELECT pg_current_wal_lsn() - '{start}'::pg_lsn"))


def check_counts(cluster, w):
    counts = cluster.psql(f"SELECT count(*) FROM {w.table}")
    if int(counts) != w.inserts - w.deletes:
        sys.exit(f"decoder.py: workload {w.key} left {counts} rows, "
                 f"expected {w.inserts - w.deletes}")


def wait_flushed(cluster):
    """Every peek must see the whole workload: wait for WAL flush to catch up."""
    for _ in range(100):
        if cluster.psql("SELECT pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn()") == "t":
            return
        time.sleep(0.1)
    sys.exit("decoder.py: WAL not flushed after 10 s")


def storage_note(cluster, w):
    """How the wide column is stored, for the report: inline, compressed or TOASTed."""
    if "bio" not in w.columns:
        return None
    avg_raw, avg_stored, toast = cluster.psql(f"""
        SELECT round(avg(octet_length(bio))), round(avg(pg_column_size(bio))),
               pg_size_pretty(pg_relation_size(reltoastrelid))
        FROM {w.table}, pg_class WHERE pg_class.oid = '{w.table}'::regclass
        GROUP BY reltoastrelid""").split("|")
    jsonb = cluster.psql(f"SELECT round(avg(pg_column_size(profile))) FROM {w.table}")
    return (f"`bio` averages {avg_raw} bytes of text and takes {avg_stored} bytes in the "
            f"row (TOAST table {toast}): "
            + ("stored out of line, uncompressed" if int(avg_stored) >= int(avg_raw)
               else "compressed") +
            f". `profile` jsonb averages {jsonb} bytes, inline. Updates leave `bio` "
            "untouched, so their new tuples carry it as an unchanged TOAST pointer, "
            "which the plugins either omit or mark as unchanged rather than send.")


def peek(cluster, plugin):
    """Time one peek of the whole slot with psql's \\timing (query round trip,
    not connection set-up); returns (ms, messages, bytes)."""
    args = "".join(", " + sql_literal(o) for o in plugin.options)
    sql = (f"SELECT count(*), coalesce(sum(length(data)), 0) FROM "
           f"pg_logical_slot_peek_binary_changes({sql_literal(plugin.slot)}, NULL, NULL{args})")
    out = subprocess.run([cluster.install.prog("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                          "-d", cluster.dsn(), "-c", "\\timing on", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    counts = re.search(r"^(\d+)\|(\d+)$", out, re.M)
    ms = re.search(r"^Time: ([\d.]+) ms", out, re.M)
    if not counts or not ms:
        sys.exit(f"decoder.py: unexpected psql output for {plugin.label}: {out!r}")
    return float(ms.group(1)), int(counts.group(1)), int(counts.group(2))


def stream(cluster, plugin, endpos):
    """Time the walsender path, the one walstreamer uses: pg_recvlogical
    streams a fresh copy of the slot (same position, so every run decodes
    the same WAL) to /dev/null up to endpos.  Wall time of the whole program,
    connection included; no result tuplestore, unlike peek.  Returns ms."""
    copy = plugin.slot + "_copy"
    cluster.psql(f"SELECT pg_copy_logical_replication_slot({sql_literal(plugin.slot)}, "
                 f"{sql_literal(copy)})")
    argv = [cluster.install.prog("pg_recvlogical"), "-d", cluster.dsn(), "--slot", copy,
            "--start", "--endpos", endpos, "--no-loop", "-f", "/dev/null"]
    for name, value in zip(plugin.options[::2], plugin.options[1::2]):
        argv += ["-o", f"{name}={value}"]
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = (time.perf_counter() - start) * 1000
    cluster.psql(f"SELECT pg_drop_replication_slot({sql_literal(copy)})")
    return elapsed


def measure(cluster, w, runs):
    """Round 0 warms up and fixes the counts; rounds 1..runs are timed."""
    results = {p.label: Result(p) for p in PLUGINS}
    endpos = cluster.psql("SELECT pg_current_wal_flush_lsn()")
    for rnd in range(runs + 1):
        times = []
        for p in PLUGINS:
            streamed_ms = stream(cluster, p, endpos)
            ms, messages, nbytes = peek(cluster, p)
            times.append(f"{p.label} {ms:.0f}")
            r = results[p.label]
            if rnd == 0:
                if p.writes and messages < w.changes:
                    sys.exit(f"decoder.py: {p.label} returned {messages} messages "
                             f"for {w.changes} changes")
                r.messages, r.bytes = messages, nbytes
                continue
            if (messages, nbytes) != (r.messages, r.bytes):
                sys.exit(f"decoder.py: {p.label} output changed between runs")
            r.times.append(ms)
            r.stream_times.append(streamed_ms)
        print(f"  round {rnd}{' (warm-up)' if rnd == 0 else ''} ms: " + ", ".join(times),
              file=sys.stderr)
    return results


def bench_workload(install, w, runs):
    cluster = start_cluster(install, w)
    try:
        create_slots(cluster, w)
        t0 = time.monotonic()
        wal = run_workload(cluster, w)
        print(f"workload {w.key}: {w.changes:,} changes, {wal / 2**20:.0f} MB WAL "
              f"in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        check_counts(cluster, w)
        wait_flushed(cluster)
        note = storage_note(cluster, w)
        return measure(cluster, w, runs), wal, note, machine_info(cluster)
    finally:
        cluster.destroy()


def machine_info(cluster):
    def first(path, key):
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        return "?"
    mem_kb = int(first("/proc/meminfo", "MemTotal").split()[0])
    return {"nproc": os.cpu_count(), "memory": f"{mem_kb / 2**20:.1f} GiB",
            "cpu": first("/proc/cpuinfo", "model name"),
            "postgres": cluster.psql("SELECT version()")}


def source_info(module):
    """Which pgcdc was measured: commit, local changes under decoder/, module hash."""
    def git(*args):
        return subprocess.run(["git", "-C", ROOT] + list(args),
                              capture_output=True, text=True).stdout.strip()
    with open(module, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    dirty = git("status", "--porcelain", "--", "decoder", "proto")
    return (f"commit {git('rev-parse', '--short', 'HEAD') or '?'}"
            f"{' + uncommitted changes in decoder/ or proto/' if dirty else ''}, "
            f"pgcdc.so sha256 {digest}")


def ratio(num, den):
    return num / den if den else float("nan")


def verdict(value, target, at_most):
    ok = value <= target if at_most else value >= target
    return "PASS" if ok else "MISS"


def render_table(w, results):
    lines = ["| plugin | peek best ms | peek median ms | walsender best ms | walsender median ms "
             "| messages | bytes | bytes/change |",
             "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for r in results.values():
        lines.append(f"| {r.plugin.label} | {min(r.times):.0f} | {statistics.median(r.times):.0f} "
                     f"| {min(r.stream_times):.0f} | {statistics.median(r.stream_times):.0f} "
                     f"| {r.messages:,} | {r.bytes:,} | {r.bytes / w.changes:.1f} |")
    return lines


def render_ratios(results, targets):
    """The three target ratios, for peek and for the walsender; PASS/MISS
    only where the targets apply (a)."""
    best = {label: min(r.times) for label, r in results.items()}
    wal = {label: min(r.stream_times) for label, r in results.items()}
    size = {label: r.bytes for label, r in results.items()}
    rows = [
        ("peek: pgcdc / pgoutput-binary time", ratio(best["pgcdc"], best["pgoutput-binary"]),
         1.0, True),
        ("peek: decoderbufs / pgcdc time (speed-up)", ratio(best["decoderbufs"], best["pgcdc"]),
         2.8, False),
        ("walsender: pgcdc / pgoutput-binary time",
         ratio(wal["pgcdc"], wal["pgoutput-binary"]), 1.0, True),
        ("walsender: decoderbufs / pgcdc time (speed-up)",
         ratio(wal["decoderbufs"], wal["pgcdc"]), 2.8, False),
        ("pgcdc / decoderbufs bytes", ratio(size["pgcdc"], size["decoderbufs"]), 0.75, True),
    ]
    lines = []
    for name, value, target, at_most in rows:
        goal = f"{'≤' if at_most else '≥'} {target:.2f}"
        tail = f"target {goal}: **{verdict(value, target, at_most)}**" if targets \
            else f"(target {goal} applies to workload a)"
        lines.append(f"- {name}: **{value:.2f}×** — {tail}")
    inline, floor = "pgcdc inline-schema", best[FLOOR]
    lines.append(f"- {inline} / pgcdc: time {ratio(best[inline], best['pgcdc']):.2f}×, "
                 f"bytes {ratio(size[inline], size['pgcdc']):.2f}× (informational)")
    lines.append(f"- above the floor ({floor:.0f} ms): decoderbufs / pgcdc time "
                 f"{ratio(best['decoderbufs'] - floor, best['pgcdc'] - floor):.2f}×, "
                 f"pgcdc / pgoutput-binary time "
                 f"{ratio(best['pgcdc'] - floor, best['pgoutput-binary'] - floor):.2f}× "
                 "(informational)")
    return lines


def describe(w):
    what = {"a": "narrow `employee` row", "b": "`employee` plus ~4 KB `bio` text and "
            "a 12-key `profile` jsonb"}[w.key]
    return (f"### Workload {w.key}: {what}\n\n"
            f"{w.inserts:,} inserts, {w.updates:,} updates (salary, updated_ts), "
            f"{w.deletes:,} deletes, in {BATCH:,}-row transactions "
            f"({w.changes:,} changes)")


def settings_text():
    return ", ".join(k + "=" + v.strip("'") for k, v in SETTINGS.items())


def render_section(argv, runs, done, source, machine):
    out = [START, "## Decoder benchmark", "",
           "Generated by `bench/decoder.py`; do not edit between the markers.", "",
           f"- command: `{argv}`",
           f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
           f"- machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM",
           f"- server: {machine['postgres']}",
           f"- pgcdc: {source}",
           f"- method: peek = `SELECT count(*), sum(length(data)) FROM "
           f"pg_logical_slot_peek_binary_changes(slot, NULL, NULL, ...)`, psql `\\timing`; "
           f"walsender = wall time of `pg_recvlogical --start --endpos` streaming a fresh "
           f"copy of the slot to /dev/null (process start and connection included); "
           f"one warm-up round, then best and median of {runs} interleaved runs; "
           f"bytes/change = bytes ÷ row changes (BEGIN/COMMIT/RELATION messages included "
           f"in bytes); settings: {settings_text()}", ""]
    for w, results, wal, note in done:
        out += [describe(w) + f", {wal / 2**20:.0f} MB of WAL.", ""]
        if note:
            out += [note, ""]
        out += render_table(w, results) + [""] + render_ratios(results, w.key == "a") + [""]
    out.append(END)
    return "\n".join(out) + "\n"


def write_results(path, section, start=START, end=END):
    """Replace the marked section, keeping the rest of the file; a new file
    gets the section followed by an empty notes heading."""
    START, END = start, end     # noqa: N806 (the markers of the caller's section)
    old = open(path).read() if os.path.exists(path) else None
    if old is None:
        text = "# pgcdc benchmarks\n\n" + section + "\n## Notes\n"
    elif START in old and END in old:
        head, rest = old.split(START, 1)
        text = head + section.rstrip("\n") + rest.split(END, 1)[1]
    elif "\n## Notes" in old:
        head, notes = old.split("\n## Notes", 1)
        text = head.rstrip("\n") + "\n\n" + section + "\n## Notes" + notes
    else:
        text = old.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def main():
    args = parse_args()
    module = module_path(args.build)
    install = pgtemp.pgcdc_install(os.path.abspath(args.build))
    keys = ("a", "b") if args.workload == "all" else (args.workload,)
    done, machine = [], None
    for key in keys:
        w = WORKLOADS[key].scaled(args.scale)
        results, wal, note, machine = bench_workload(install, w, args.runs)
        done.append((w, results, wal, note))
    argv = shlex.join(["python3", os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    write_results(args.output, render_section(argv, args.runs, done,
                                              source_info(module), machine))
    print(f"wrote {args.output}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({w.key: {"changes": w.changes, "plugins": {
                label: {"peek_ms": min(r.times), "walsender_ms": min(r.stream_times), "bytes": r.bytes}
                for label, r in results.items()}} for w, results, _, _ in done}, f)


if __name__ == "__main__":
    main()
