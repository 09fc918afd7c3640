#!/usr/bin/env python3
"""Sink benchmark: Kafka → PostgreSQL with walsink, against a row-by-row consumer
and against PostgreSQL's native logical replication.

usage: python3 bench/sink.py [--build DIR] [--runs N] [--scale F] [--output FILE]
                             [--anchor-limit N] [--latency-seconds S] [--quick]
                             [--broker kafka|dev|both] [--big-updates N]

Two throwaway clusters (source and target, pgtemp) and the brokers of
--broker (bench/brokers.py: one real Kafka broker started once for the
script, each run on topics of its own; a fresh dev broker per run), all on
this machine.  The decoder benchmark's workload (a) in parts 1-3, each with
its anchor measured in the same run, interleaved per round; every
pgcdc measurement runs on each broker, the same code with the broker as a
parameter:

1. Apply throughput from a pre-filled topic.  walstreamer fills the topic
   <prefix>.public.employee of each broker (pre-created with PARTITIONS
   partitions, so that the dev broker, which keeps ~5 MB per partition, trims
   nothing) once, from a slot of its own created before the workload, and is
   stopped.  Per round, into a fresh target database holding an empty copy of
   the table: walsink (fresh group.id), timed from process start until its
   positions stored in the target (pgcdc.sink_position, committed with the
   rows) cover every message; and the anchor, a row-by-row consumer in this
   process (confluent_kafka + psycopg2, records read with
   tests/support/pgcdcwire.py): one prepared INSERT ... ON CONFLICT DO UPDATE
   or DELETE round trip per message, a commit every ANCHOR_COMMIT messages,
   the way trigger- and Spark-style pipelines apply; it reads the same
   broker's topic.  Rate = rows applied after the first commit / time since
   it: the consumer-group join (3 s on the dev broker; the Kafka broker has
   group.initial.rebalance.delay.ms=0) is reported in the wall time only.
   walsink's peak RSS (VmHWM, a high-water mark) is read just before it is
   stopped.

2. Whole pipeline, source commit → target applied: walstreamer + walsink
   running (ready, partitions assigned) before the workload is generated;
   timed from the start of the generation until walsink's stored positions
   cover every message.  Anchor: CREATE PUBLICATION / CREATE SUBSCRIPTION
   (copy_data = false) between the two clusters, timed until the subscriber
   holds the last transaction (two index probes, see completion_probes).  The
   target's final state is compared with the source's after each run.

3. Commit → applied latency at a steady rate: a server-side writer commits
   LATENCY_TX_ROWS-row transactions on a fixed schedule (LATENCY_RATE row
   changes/s) into lat(id, written_at = clock_timestamp(), note); the target's
   copy of the table has one more column, applied_at DEFAULT
   clock_timestamp(), filled in when the row is inserted there (walsink and
   the native apply worker both insert only the columns they receive).  Both
   clusters share the machine's clock; percentiles of applied_at − written_at,
   after PRIME_SECONDS of the same writer, applied first and not measured.
   walsink runs twice per broker: with its defaults, and with
   kafka.fetch.wait.max.ms lowered (see SHORT_FETCH: the dev broker holds
   empty fetches, Kafka does not).

4. Big values, on Kafka only (the dev broker keeps ~5 MB a partition):
   walsink's memory through updates of 1 MB values.  In the source,
   doc(id int primary key, body text), body STORAGE EXTERNAL (never
   compressed), DOC_ROWS documents inserted empty and then updated round after
   round, one update per transaction, each a new 1 MB slice of random md5 hex;
   BIG_UPDATES updates (--big-updates; --quick: BIG_UPDATES_QUICK).
   walstreamer streams them while they are written into a topic taking
   messages up to BIG_MESSAGE_MAX (Kafka's default is ~1 MB).  Then one
   walsink run, default settings, into a fresh target: peak RSS (VmHWM), wall
   time, target checked against the source.  walsink is stopped if its RSS
   passes BIG_RSS_CAP_MB.

CPU seconds (user + system, /proc) per process are read at the end of each
run (the broker's: over the run).  The sink section of the output file (between its
markers) is rewritten; with --quick and no --output it is printed instead.
Nothing is built here: ninja -C build first.
"""

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import prelude  # first: Debian's python3, tests/ on sys.path

import brokers
import confluent_kafka
import decoder
import psycopg2
from streamer import cpu_seconds, lsn, proc_status_kb
from support import daemonproc, pgcdcwire, pgtemp
from support.ports import free_port

ROOT = prelude.ROOT

START = "<!-- sink-bench:start -->"
END = "<!-- sink-bench:end -->"

# The tables, and so the topics: <prefix>.public.<table>, a prefix per run.
TABLE = "employee"
LAT_TABLE = "lat"
# ~335 bytes a message: 320,000 messages are ~107 MB, and the dev broker (librdkafka's
# mock) drops a partition's oldest messages beyond 5 MB.  32 partitions hold 160 MB;
# fill_topic checks that nothing was dropped.  Kafka's topics get as many, so both
# brokers run the same layout.
PARTITIONS = 32
ANCHOR_COMMIT = 1000        # anchor: messages per target transaction
POLL = 0.01                 # s between progress polls (one small query on the target)
LATENCY_RATE = 5000         # row changes/s
LATENCY_TX_ROWS = 10        # rows per transaction: 500 transactions/s
LATENCY_SECONDS = 20
# Written at the same rate before the measured rows (ids below zero) and
# applied before they start, not measured: a run's topics are new, and on
# Kafka the first half second of a run waited for each partition's first
# produce and fetch (p50 100-400 ms in the first quarter second, ~20 ms from
# the second on, on a warm broker), which is start-up, not the steady rate.
# Every pipeline of part 3 is primed alike.
PRIME_SECONDS = 1
SINK_APP = "bench_walsink"
# The dev broker (librdkafka's mock) holds a fetch that finds no data for the
# consumer's whole fetch.wait.max.ms (500 ms by default) even when data arrives
# meanwhile; a Kafka broker answers as soon as fetch.min.bytes are there.  Parts
# 2 and 3 run walsink both ways on each broker: defaults, and with a short wait,
# which on the dev broker stands in for a broker that answers early.
SHORT_FETCH = {"kafka.fetch.wait.max.ms": "10"}
# walsink's configurations in parts 2 and 3: (label, extra keys)
SINK_CONFIGS = (("defaults", None),
                (", ".join(f"{k[6:]}={v}" for k, v in SHORT_FETCH.items()), SHORT_FETCH))
# Part 4: DOC_ROWS documents in DOC_TABLE, updated in rounds, each update a
# new DOC_BYTES value.  Kafka's default limit on a message (broker and topic
# max.message.bytes, producer message.max.bytes) is ~1 MB, below one such
# record: the part's topic and walstreamer take up to BIG_MESSAGE_MAX.  The
# dev broker keeps ~5 MB a partition: the part runs on Kafka only.
DOC_TABLE = "doc"
DOC_ROWS = 100
DOC_BYTES = 1 << 20
BIG_UPDATES = 10_000
BIG_UPDATES_QUICK = 1_000
VACUUM_ROUNDS = 10          # rounds between VACUUMs of the source (autovacuum is off)
BIG_MESSAGE_MAX = 4 << 20
# walsink is stopped once its RSS passes this, the part reported as a MISS:
# today's batches are bounded in rows, not bytes, and 10,000 such updates in
# memory would be ~10 GB on a machine that runs other work too.
BIG_RSS_CAP_MB = 4096
# Issue 17, section 7: walsink's peak RSS (VmHWM) on part 1 with default
# settings, and through the updates of part 4.
APPLY_RSS_MB = 64
BIG_RSS_MB = 128
NATIVE = "native logical replication"
NO_BROKER = "—"
ANCHOR_APP = "bench_anchor"

EMPLOYEE_DDL = f"CREATE TABLE {decoder.WORKLOADS['a'].table} ({decoder.WORKLOADS['a'].columns})"
LAT_SOURCE_DDL = "CREATE TABLE lat (id bigint PRIMARY KEY, written_at timestamptz NOT NULL, note text)"
LAT_TARGET_DDL = ("CREATE TABLE lat (id bigint PRIMARY KEY, written_at timestamptz, note text, "
                  "applied_at timestamptz DEFAULT clock_timestamp())")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"),
                   help="meson build directory (default: build)")
    p.add_argument("--runs", type=int, default=3, help="timed rounds of parts 1 and 2 (default 3; part 3 runs once)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply workload (a)'s row counts and the latency run's length")
    p.add_argument("--anchor-limit", type=int, default=0,
                   help="apply only the first N messages with the row-by-row anchor "
                        "(default 0: all of them)")
    p.add_argument("--latency-seconds", type=float, default=None,
                   help=f"length of the steady-rate run (default {LATENCY_SECONDS} × scale, "
                        "at least 5)")
    p.add_argument("--big-updates", type=int, default=None,
                   help=f"part 4: updates of {DOC_BYTES >> 20} MB values, a multiple of "
                        f"{DOC_ROWS} (default {BIG_UPDATES:,}, --quick {BIG_UPDATES_QUICK:,}; "
                        "0: skip the part)")
    p.add_argument("--quick", action="store_true",
                   help="scale 0.1, 1 round, 5 s latency runs, no warm-up round, "
                        f"{BIG_UPDATES_QUICK:,} big updates; prints "
                        "the section instead of writing it unless --output is given")
    p.add_argument("--json", default=None,
                   help="also write the figures as JSON here (bench/run.py plots them)")
    p.add_argument("--output", default=None,
                   help="results file (default bench/RESULTS.md)")
    brokers.add_option(p)
    args = p.parse_args()
    if args.quick:
        args.scale = min(args.scale, 0.1)
        args.runs = 1
        if args.latency_seconds is None:
            args.latency_seconds = 5
    if args.latency_seconds is None:
        args.latency_seconds = max(5.0, LATENCY_SECONDS * args.scale)
    if args.big_updates is None:
        args.big_updates = BIG_UPDATES_QUICK if args.quick else BIG_UPDATES
    if args.big_updates < 0 or args.big_updates % DOC_ROWS:
        p.error(f"--big-updates: a multiple of {DOC_ROWS} (every document updated alike)")
    if args.output is None and not args.quick:
        args.output = os.path.join(ROOT, "bench", "RESULTS.md")
    return args


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Database:
    """One database of a cluster, with the cluster's psql and dsn bound to it
    (decoder.run_workload only needs psql)."""

    def __init__(self, cluster, name, ddl=()):
        self.cluster, self.name = cluster, name
        cluster.psql(f"CREATE DATABASE {name}")
        for sql in ddl:
            self.psql(sql)

    def psql(self, sql):
        return self.cluster.psql(sql, self.name)

    def dsn(self):
        return self.cluster.dsn(self.name)

    def connect(self, app=None):
        conn = psycopg2.connect(self.dsn() + (f" application_name={app}" if app else ""))
        conn.autocommit = True
        return conn

    def drop(self):
        self.cluster.psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")

    def checksum(self, table="employee"):
        return self.psql(f"SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, ',' "
                         f"ORDER BY id), '')) FROM {table} t")


class Daemon:
    """walstreamer or walsink from --KEY=VALUE flags, its log in a file."""

    def __init__(self, binary, logfile, keys, procs):
        self.logfile = logfile
        argv = [binary] + [f"--{k}={v}" for k, v in keys.items()]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                     stderr=open(logfile, "a"))
        procs.append(self.proc)

    def check(self, what):
        if self.proc.poll() is not None:
            sys.exit(f"sink.py: {what} exited with {self.proc.returncode}:\n{self.text()[-2000:]}")

    def stop(self):
        return daemonproc.terminate(self.proc)

    def text(self):
        with open(self.logfile) as f:
            return f.read()

    def complaints(self):
        """WARNING and ERROR lines of its log."""
        return [line for line in self.text().splitlines()
                if re.search(r"\b(WARNING|ERROR|FATAL)\b", line)]


class Bench:
    """The clusters, binaries and bookkeeping shared by the three parts."""

    def __init__(self, args):
        build = os.path.abspath(args.build)
        binaries = {"walsink": "sink", "walstreamer": "streamer"}
        if args.broker != "kafka":
            binaries["devbroker"] = "tests"
        for path in [os.path.join(build, d, b) for b, d in binaries.items()] + \
                [os.path.join(build, "decoder", "pgcdc.so")]:
            if not os.path.exists(path):
                sys.exit(f"sink.py: {path} not found; build first: ninja -C {args.build}")
        self.w = decoder.WORKLOADS["a"].scaled(args.scale)
        self.tmp = tempfile.mkdtemp(prefix="pgcdc-sinkbench-")
        self.procs = []
        self.complaints = []        # (daemon, line) from every log
        self.seq = 0
        self.source = self.target = None
        self.brokers = []
        self.devbroker = None
        # Copies, so that a rebuild while the benchmark runs changes nothing
        # (pgtemp copies pgcdc.so alike).
        os.mkdir(os.path.join(self.tmp, "bin"))
        for b, d in binaries.items():
            setattr(self, b, shutil.copy2(os.path.join(build, d, b), os.path.join(self.tmp, "bin")))
        self.source_info = source_info(self.walsink)
        try:
            install = pgtemp.pgcdc_install(build)
            self.source = pgtemp.Cluster(install, "sinkbench-src", settings=decoder.SETTINGS,
                                         plugins="pgoutput, pgcdc").start()
            self.target = pgtemp.Cluster(install, "sinkbench-dst",
                                         settings=decoder.SETTINGS).start()
            self.brokers = brokers.make(args.broker, PARTITIONS, self.devbroker)
        except BaseException:
            self.close()
            raise

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for b in self.brokers:
            b.close()
        for c in (self.source, self.target):
            if c:
                c.destroy()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def name(self, prefix):
        self.seq += 1
        return f"{prefix}_{self.seq}"

    def streamer(self, db, run, slot, create=True, extra=None):
        keys = {"source": db.dsn(), "slot.name": slot, "slot.create": "on" if create else "off",
                "kafka.bootstrap.servers": run.bootstrap, "topic.prefix": run.prefix,
                "snapshot.mode": "never", "heartbeat.interval.ms": "0",
                "status.interval.ms": "1000", "log.level": "info", **(extra or {})}
        return Daemon(self.walstreamer, os.path.join(self.tmp, f"{slot}.walstreamer.log"), keys,
                      self.procs)

    def sink(self, db, run, group, metrics_port=None, extra=None):
        keys = {"target": db.dsn() + f" application_name={SINK_APP}",
                "kafka.bootstrap.servers": run.bootstrap, "topic.prefix": run.prefix,
                "group.id": group,
                "log.level": os.environ.get("BENCH_SINK_LOG_LEVEL", "info"), **(extra or {})}
        if metrics_port:
            keys["metrics.listen"] = f"127.0.0.1:{metrics_port}"
        return Daemon(self.walsink, os.path.join(self.tmp, f"{group}.walsink.log"), keys,
                      self.procs)

    def note_complaints(self, daemon, what):
        for line in daemon.complaints():
            self.complaints.append((what, line))


# ----------------------------------------------------------------------------
# Polling helpers

def stored_messages(cur, group):
    """Messages walsink has applied and committed: per partition, the stored
    offset + 1 (every partition's log starts at 0)."""
    try:
        cur.execute('SELECT coalesce(sum("offset" + 1), 0) FROM pgcdc.sink_position '
                    'WHERE group_id = %s', (group,))
        return int(cur.fetchone()[0])
    except psycopg2.errors.UndefinedTable:
        return 0


def backend_pid(cur, app):
    cur.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s "
                "AND backend_type = 'client backend'", (app,))
    row = cur.fetchone()
    return row[0] if row else None


def proc_cpu(pid):
    try:
        return cpu_seconds(pid) if pid else float("nan")
    except OSError:
        return float("nan")


def wait_assigned(sink, topic, timeout=60):
    """Until walsink logged the assignment of every partition of topic."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sink.check("walsink")
        if sink.text().count(f"assigned {topic} [") >= PARTITIONS:
            return
        time.sleep(0.05)
    sys.exit(f"sink.py: walsink did not get its partitions in {timeout} s:\n{sink.text()[-2000:]}")


def wait_streaming(db, slot, streamer, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        streamer.check("walstreamer")
        if db.psql(f"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'") == "t":
            return
        time.sleep(0.05)
    sys.exit(f"sink.py: walstreamer not streaming slot {slot} after {timeout} s")


def drop_slot(db, slot, timeout=30):
    """Drop a slot once its walsender has gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.psql(f"SELECT pg_drop_replication_slot('{slot}')")
            return
        except subprocess.CalledProcessError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wait_stored(cur, group, total, daemon, timeout=600, watch=None):
    """Poll until walsink's stored positions cover total messages.  Returns
    (first time any were stored, how many then, time all were).  watch, if
    given, is called at every poll (it may raise to end the wait)."""
    first = None
    deadline = time.monotonic() + timeout
    while True:
        n = stored_messages(cur, group)
        now = time.perf_counter()
        if n and first is None:
            first = (now, n)
        if n >= total:
            first = first or (now, n)
            return first[0], first[1], now
        daemon.check("walsink")
        if watch:
            watch()
        if time.monotonic() > deadline:
            sys.exit(f"sink.py: walsink stored {n} of {total} messages after {timeout} s")
        time.sleep(POLL)


# ----------------------------------------------------------------------------
# Part 1: apply throughput from a pre-filled topic

def fill_source(bench, kinds):
    """Workload (a) in the source, with a slot per broker created before it.
    Returns the source database, its end LSN and the WAL bytes."""
    w = bench.w
    db = Database(bench.source, "fill", ["CREATE EXTENSION pgcdc", EMPLOYEE_DDL])
    for b in kinds:
        db.psql(f"SELECT pg_create_logical_replication_slot('bench_fill_{b.kind}', 'pgcdc')")
    t0 = time.monotonic()
    wal = decoder.run_workload(db, w)
    log(f"workload a: {w.changes:,} changes, {wal / 2**20:.0f} MB WAL in "
        f"{time.monotonic() - t0:.1f} s")
    decoder.wait_flushed(db)
    return db, lsn(db.psql("SELECT pg_current_wal_lsn()")), wal


def fill_topic(bench, db, end, broker, run):
    """The workload streamed once into run's topic, from broker's slot.
    Returns the number of messages and their mean size."""
    w = bench.w
    slot = f"bench_fill_{broker.kind}"
    topic = run.topic(TABLE)
    s = bench.streamer(db, run, slot, create=False)
    t0 = time.perf_counter()
    while True:
        out = db.psql("SELECT confirmed_flush_lsn FROM pg_replication_slots "
                      f"WHERE slot_name = '{slot}'")
        if out and lsn(out) >= end:
            break
        s.check("walstreamer")
        time.sleep(0.05)
    log(f"{broker.label}: topic filled in {time.perf_counter() - t0:.1f} s")
    if s.stop() != 0:
        sys.exit(f"sink.py: walstreamer exited with {s.proc.returncode}")
    bench.note_complaints(s, f"walstreamer (fill on {broker.label})")
    marks = watermarks(run.bootstrap, topic)
    trimmed = {p: lo for p, (lo, hi) in marks.items() if lo != 0}
    if trimmed:
        sys.exit(f"sink.py: the {broker.label} trimmed partitions {trimmed}; raise PARTITIONS")
    messages = sum(hi for lo, hi in marks.values())
    if messages != w.changes:
        sys.exit(f"sink.py: {messages} messages in {topic} for {w.changes} changes")
    nbytes = topic_bytes(run.bootstrap, topic, 200)
    log(f"{broker.label}: {topic}: {messages:,} messages in {len(marks)} partitions, "
        f"~{nbytes:.0f} bytes a message (key + value)")
    drop_slot(db, slot)
    return messages, nbytes


def watermarks(bootstrap, topic):
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "bench_marks"})
    try:
        md = c.list_topics(topic, timeout=10)
        return {p: c.get_watermark_offsets(confluent_kafka.TopicPartition(topic, p), timeout=10)
                for p in md.topics[topic].partitions}
    finally:
        c.close()


def topic_bytes(bootstrap, topic, n):
    """Mean key + value size of the first n messages of partition 0."""
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "bench_size",
                                  "enable.auto.commit": False})
    try:
        c.assign([confluent_kafka.TopicPartition(topic, 0, 0)])
        sizes = []
        deadline = time.monotonic() + 30
        while len(sizes) < n and time.monotonic() < deadline:
            for m in c.consume(n - len(sizes), 1.0):
                if not m.error():
                    sizes.append(len(m.key() or b"") + len(m.value() or b""))
        return statistics.mean(sizes)
    finally:
        c.close()


def run_walsink_apply(bench, broker, run, messages, expect):
    """One walsink run from offset 0 of run's topic into a fresh database."""
    db = Database(bench.target, bench.name("apply_walsink"), [EMPLOYEE_DDL])
    group = db.name
    port = free_port()
    conn = db.connect()
    cur = conn.cursor()
    broker_cpu = proc_cpu(run.pid)
    sink = bench.sink(db, run, group, metrics_port=port)
    try:
        first, n_first, done = wait_stored(cur, group, messages, sink)
        # A high-water mark: read once, just before walsink is stopped.
        rss = proc_status_kb(sink.proc.pid, "VmHWM") / 1024
        cpu = {"walsink": proc_cpu(sink.proc.pid),
               "its backend": proc_cpu(backend_pid(cur, SINK_APP)),
               "broker": proc_cpu(run.pid) - broker_cpu}
        m = metrics(port)
    finally:
        rc = sink.stop()
        conn.close()
    bench.note_complaints(sink, f"walsink (apply on {broker.label})")
    if rc != 0:
        sys.exit(f"sink.py: walsink exited with {rc}")
    got = db.checksum()
    db.drop()
    if got != expect:
        sys.exit(f"sink.py: walsink's target differs from the source: {got} != {expect}")
    rate = (messages - n_first) / (done - first) if done > first else float("nan")
    return {"rate": rate, "wall": done - sink.started, "first": first - sink.started,
            "cpu": cpu, "metrics": m, "rss": rss}


def metrics(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("walsink_") and " " in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


# The anchor.  Values as Python objects psycopg2 passes on as literals.
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def py_value(buf):
    for num, wire, v in pgcdcwire.fields(buf):
        if num == 7:
            return EPOCH + datetime.timedelta(microseconds=pgcdcwire.zigzag(v))
        if num == 8:
            return datetime.date(1970, 1, 1) + datetime.timedelta(days=pgcdcwire.zigzag(v))
        if num == 2:
            raise ValueError("unchanged TOAST value: not in this workload")
        return pgcdcwire.value(buf)
    return None


def decode(buf):
    """op, qualified table, column names, key flags, before, after of one record."""
    op, schema, table, names, keys, before, after = None, None, None, [], [], [], []
    for num, wire, v in pgcdcwire.fields(buf):
        if num == 2:
            op = pgcdcwire.OPS.get(v, v)
        elif num == 9:
            schema = v.decode()
        elif num == 10:
            table = v.decode()
        elif num == 12:
            before.append(py_value(v))
        elif num == 13:
            after.append(py_value(v))
        elif num == 16:
            col = {n: x for n, _, x in pgcdcwire.fields(v)}
            names.append(col.get(1, b"").decode())
            keys.append(bool(col.get(4, 0)))
    return op, f'"{schema}"."{table}"', names, keys, before, after


class RowByRow:
    """One prepared statement per (table, operation, columns), one EXECUTE
    round trip per message."""

    def __init__(self, cur):
        self.cur = cur
        self.prepared = {}

    def statement(self, op, table, names, keys):
        k = (op, table, tuple(names), tuple(keys))
        name = self.prepared.get(k)
        if name:
            return name
        name = f"s{len(self.prepared)}"
        q = [f'"{c}"' for c in names]
        keycols = [c for c, key in zip(q, keys) if key]
        if op == "delete":
            where = " AND ".join(f"{c} = ${i + 1}" for i, c in enumerate(keycols))
            sql = f"DELETE FROM {table} WHERE {where}"
        else:
            sets = ", ".join(f"{c} = EXCLUDED.{c}" for c, key in zip(q, keys) if not key)
            sql = (f"INSERT INTO {table} ({', '.join(q)}) VALUES "
                   f"({', '.join(f'${i + 1}' for i in range(len(q)))}) "
                   f"ON CONFLICT ({', '.join(keycols)}) DO "
                   + (f"UPDATE SET {sets}" if sets else "NOTHING"))
        self.cur.execute(f"PREPARE {name} AS {sql}")
        self.prepared[k] = name
        return name

    def apply(self, record):
        op, table, names, keys, before, after = record
        if op in ("insert", "update", "read"):
            args = after
        elif op == "delete":
            args = [v for v, key in zip(before, keys) if key]
        else:
            return False
        name = self.statement(op, table, names, keys)
        self.cur.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(args))})", args)
        return True


def run_anchor(bench, run, limit, expect):
    """The row-by-row consumer, in this process, over the first `limit`
    messages of run's topic."""
    db = Database(bench.target, bench.name("apply_anchor"), [EMPLOYEE_DDL])
    broker_cpu = proc_cpu(run.pid)
    cpu0 = os.times()
    start = time.perf_counter()
    conn = psycopg2.connect(db.dsn() + f" application_name={ANCHOR_APP}")
    cur = conn.cursor()
    rbr = RowByRow(cur)
    c = confluent_kafka.Consumer({"bootstrap.servers": run.bootstrap, "group.id": db.name,
                                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    n = pending = 0
    first = n_first = None
    ops = {}
    decode_s = 0.0
    try:
        c.subscribe([run.topic(TABLE)])
        while n < limit:
            for m in c.consume(min(1000, limit - n), 1.0):
                if m.error():
                    raise RuntimeError(f"anchor: {m.error()}")
                t = time.perf_counter()
                record = decode(m.value())
                decode_s += time.perf_counter() - t
                ops[record[0]] = ops.get(record[0], 0) + 1
                rbr.apply(record)
                n += 1
                pending += 1
                if pending == ANCHOR_COMMIT or n == limit:
                    conn.commit()
                    c.commit(asynchronous=True)
                    pending = 0
                    if first is None:
                        first, n_first = time.perf_counter(), n
                if n == limit:
                    break
        done = time.perf_counter()
        cpu1 = os.times()
        cpu = {"anchor (python)": cpu1.user + cpu1.system - cpu0.user - cpu0.system,
               "of which decoding": decode_s,
               "its backend": proc_cpu(conn.get_backend_pid()),
               "broker": proc_cpu(run.pid) - broker_cpu}
    finally:
        c.close()
        conn.close()
    got = db.checksum() if limit == bench.w.changes else None
    db.drop()
    if got is not None and got != expect:
        sys.exit(f"sink.py: the anchor's target differs from the source: {got} != {expect}")
    rate = (n - n_first) / (done - first) if done > first else float("nan")
    return {"rate": rate, "wall": done - start, "first": first - start, "cpu": cpu, "ops": ops}


def part_apply(bench, args):
    """Per round, on each broker: walsink, then the anchor, from the topic
    filled once on that broker."""
    w = bench.w
    src, end, wal = fill_source(bench, bench.brokers)
    expect = src.checksum()
    probes = completion_probes(src, w)
    runs = {}
    with contextlib.ExitStack() as stack:
        for b in bench.brokers:
            run = stack.enter_context(b.run([TABLE], PARTITIONS))
            messages, nbytes = fill_topic(bench, src, end, b, run)
            runs[b.label] = {"run": run, "walsink": [], "anchor": []}
        limit = min(messages, args.anchor_limit) if args.anchor_limit else messages
        rounds = args.runs + (0 if args.quick else 1)
        for rnd in range(rounds):
            warm = rounds > args.runs and rnd == 0
            for b in bench.brokers:
                r = runs[b.label]
                s = run_walsink_apply(bench, b, r["run"], messages, expect)
                a = run_anchor(bench, r["run"], limit, expect)
                log(f"apply round {rnd}{' (warm-up)' if warm else ''}, {b.label}: walsink "
                    f"{s['rate']:,.0f} rows/s (wall {s['wall']:.2f} s, first commit at "
                    f"{s['first']:.2f} s, peak RSS {s['rss']:.0f} MB), anchor {a['rate']:,.0f} "
                    f"rows/s (wall {a['wall']:.2f} s)")
                if not warm:
                    r["walsink"].append(s)
                    r["anchor"].append(a)
    src.drop()
    return {"wal": wal, "messages": messages, "bytes": nbytes, "limit": limit,
            "brokers": {label: {k: r[k] for k in ("walsink", "anchor")} for label, r in runs.items()},
            "probes": probes, "expect": expect}


def completion_probes(src, w):
    """Two ids whose state tells the native subscriber has applied the last
    transaction: `present` (the highest surviving id, inserted last) is there
    and `gone` (the highest deleted id, deleted by the last transaction) is
    not.  Valid because native replication applies whole transactions in
    commit order."""
    present = int(src.psql("SELECT max(id) FROM employee"))
    gone = int(src.psql(f"SELECT max(g) FROM generate_series(1, {w.inserts}) g "
                        "WHERE NOT EXISTS (SELECT 1 FROM employee WHERE id = g)"))
    if gone > present:
        sys.exit("sink.py: the completion probes need a surviving id above the last deleted one")
    return present, gone


# ----------------------------------------------------------------------------
# Part 2: the whole pipeline against native logical replication

def run_pipeline(bench, broker, messages, expect, extra=None):
    w = bench.w
    src = Database(bench.source, bench.name("pipe_src"), ["CREATE EXTENSION pgcdc", EMPLOYEE_DDL])
    dst = Database(bench.target, bench.name("pipe_dst"), [EMPLOYEE_DDL])
    slot = src.name
    with broker.run([TABLE], PARTITIONS) as run:
        broker_cpu = proc_cpu(run.pid)
        streamer = bench.streamer(src, run, slot)
        sink = None
        try:
            wait_streaming(src, slot, streamer)
            sink = bench.sink(dst, run, dst.name, extra=extra)
            wait_assigned(sink, run.topic(TABLE))
            conn = dst.connect()
            cur = conn.cursor()
            t0 = time.perf_counter()
            decoder.run_workload(src, w)
            gen = time.perf_counter() - t0
            _, _, done = wait_stored(cur, dst.name, messages, sink)
            cpu = pgcdc_cpu(src, slot, run, broker_cpu, streamer, sink, cur)
            conn.close()
        finally:
            if sink:
                sink.stop()
                bench.note_complaints(sink, f"walsink (pipeline on {broker.label})")
            streamer.stop()
            bench.note_complaints(streamer, f"walstreamer (pipeline on {broker.label})")
    got = dst.checksum()
    drop_slot(src, slot)
    src.drop()
    dst.drop()
    if got != expect:
        sys.exit(f"sink.py: pipeline target differs from the source: {got} != {expect}")
    return {"time": done - t0, "gen": gen, "cpu": cpu}


def pgcdc_cpu(src, slot, run, broker_cpu, streamer, sink, cur):
    """CPU seconds so far of every process of a running pgcdc pipeline; the
    broker's since broker_cpu (a Kafka broker serves many runs)."""
    slot_pid = src.psql(f"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}'")
    return {"walstreamer": proc_cpu(streamer.proc.pid),
            "walsender": proc_cpu(int(slot_pid) if slot_pid else None),
            "broker": proc_cpu(run.pid) - broker_cpu,
            "walsink": proc_cpu(sink.proc.pid),
            "walsink's backend": proc_cpu(backend_pid(cur, SINK_APP))}


def native_cpu(src, dst, sub):
    sender = src.psql(f"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{sub}'")
    worker = dst.psql(f"SELECT pid FROM pg_stat_subscription WHERE subname = '{sub}'")
    return {"walsender (pgoutput)": proc_cpu(int(sender) if sender else None),
            "apply worker": proc_cpu(int(worker) if worker else None)}


def subscribe(bench, src, dst, table):
    sub = dst.name
    src.psql(f"CREATE PUBLICATION {sub} FOR TABLE {table}")
    dst.psql(f"CREATE SUBSCRIPTION {sub} CONNECTION '{src.dsn()}' PUBLICATION {sub} "
             "WITH (copy_data = false)")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if dst.psql(f"SELECT pid IS NOT NULL FROM pg_stat_subscription "
                    f"WHERE subname = '{sub}'") == "t" and \
                src.psql(f"SELECT active FROM pg_replication_slots WHERE slot_name = '{sub}'") == "t":
            return sub
        time.sleep(0.05)
    sys.exit(f"sink.py: subscription {sub} did not start in 60 s")


def unsubscribe(src, dst, sub):
    dst.psql(f"DROP SUBSCRIPTION {sub}")


def native_done(cur, probes):
    present, gone = probes
    cur.execute("SELECT EXISTS (SELECT 1 FROM employee WHERE id = %s) "
                "AND NOT EXISTS (SELECT 1 FROM employee WHERE id = %s)", (present, gone))
    return cur.fetchone()[0]


def run_native(bench, probes, expect):
    w = bench.w
    src = Database(bench.source, bench.name("native_src"), [EMPLOYEE_DDL])
    dst = Database(bench.target, bench.name("native_dst"), [EMPLOYEE_DDL])
    sub = subscribe(bench, src, dst, "employee")
    try:
        conn = dst.connect()
        cur = conn.cursor()
        t0 = time.perf_counter()
        decoder.run_workload(src, w)
        gen = time.perf_counter() - t0
        deadline = time.monotonic() + 600
        while not native_done(cur, probes):
            if time.monotonic() > deadline:
                sys.exit("sink.py: native subscriber not caught up after 600 s")
            time.sleep(POLL)
        done = time.perf_counter()
        cpu = native_cpu(src, dst, sub)
        conn.close()
    finally:
        unsubscribe(src, dst, sub)
    got = dst.checksum()
    src.drop()
    dst.drop()
    if got != expect:
        sys.exit(f"sink.py: native subscriber differs from the source: {got} != {expect}")
    return {"time": done - t0, "gen": gen, "cpu": cpu}


def part_pipeline(bench, args, applied):
    """Per round: on each broker walsink twice, as in part 3, with its
    defaults and with SHORT_FETCH (once caught up, each of its fetches waits
    out the dev broker's hold); then native replication.  Returns
    {(pipeline, broker label): runs}."""
    out = {(config, b.label): [] for b in bench.brokers for config, _ in SINK_CONFIGS}
    out[(NATIVE, NO_BROKER)] = []
    rounds = args.runs + (0 if args.quick else 1)
    for rnd in range(rounds):
        warm = rounds > args.runs and rnd == 0
        got = {}
        for b in bench.brokers:
            for config, extra in SINK_CONFIGS:
                got[(config, b.label)] = run_pipeline(bench, b, applied["messages"],
                                                      applied["expect"], extra)
        got[(NATIVE, NO_BROKER)] = run_native(bench, applied["probes"], applied["expect"])
        log(f"pipeline round {rnd}{' (warm-up)' if warm else ''}: " + "; ".join(
            f"{row_name(k)} {r['time']:.2f} s (generation {r['gen']:.2f} s)" for k, r in got.items()))
        if not warm:
            for k, r in got.items():
                out[k].append(r)
    return out


def row_name(key):
    """A row of parts 2 and 3 in a sentence: pipeline and broker."""
    config, broker = key
    return config if broker == NO_BROKER else f"pgcdc on {broker}, {config}"


def table_name(key):
    """A row of parts 2 and 3 in a table, beside its broker column."""
    config, broker = key
    return config if broker == NO_BROKER else f"walstreamer → broker → walsink, {config}"


# ----------------------------------------------------------------------------
# Part 3: commit → applied latency at a steady rate

def steady_writer(rows, first_id=1, rate=LATENCY_RATE, tx_rows=LATENCY_TX_ROWS):
    """A DO block committing tx_rows-row transactions on a fixed schedule,
    ids from first_id on."""
    ntx = rows // tx_rows
    interval_us = round(tx_rows * 1e6 / rate)
    return f"""DO $$
DECLARE
  t0 timestamptz := clock_timestamp();
BEGIN
  FOR i IN 0..{ntx - 1} LOOP
    PERFORM pg_sleep(greatest(0, extract(epoch FROM
        t0 + i * interval '{interval_us} microseconds' - clock_timestamp())));
    INSERT INTO lat SELECT g, clock_timestamp(), 'row ' || g
      FROM generate_series({first_id} + i * {tx_rows}, {first_id - 1} + (i + 1) * {tx_rows}) g;
    COMMIT;
  END LOOP;
END $$"""


LATENCY_SQL = """
SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY ms),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY ms), max(ms),
       count(*) / nullif(extract(epoch FROM max(written_at) - min(written_at)), 0),
       array_to_string(percentile_cont((SELECT array_agg(p / 1000.0) FROM generate_series(0, 1000, 5) p))
                       WITHIN GROUP (ORDER BY ms), ' ')
FROM (SELECT written_at, extract(epoch FROM applied_at - written_at) * 1000 AS ms FROM lat
      WHERE id > 0) s"""


def latency_stats(dst):
    """Percentiles of commit -> applied; cdf: the latency at every 0.5%."""
    n, p50, p99, mx, rate, cdf = dst.psql(LATENCY_SQL).split("|")
    return {"rows": int(n), "p50": float(p50), "p99": float(p99), "max": float(mx),
            "rate": float(rate), "cdf": [float(x) for x in cdf.split()]}


def run_latency_pgcdc(bench, broker, rows, extra=None):
    src = Database(bench.source, bench.name("lat_src"), ["CREATE EXTENSION pgcdc", LAT_SOURCE_DDL])
    dst = Database(bench.target, bench.name("lat_dst"), [LAT_TARGET_DDL])
    slot = src.name
    with broker.run([LAT_TABLE], PARTITIONS) as run:
        broker_cpu = proc_cpu(run.pid)
        streamer = bench.streamer(src, run, slot)
        sink = None
        try:
            wait_streaming(src, slot, streamer)
            sink = bench.sink(dst, run, dst.name, extra=extra)
            wait_assigned(sink, run.topic(LAT_TABLE))
            conn = dst.connect()
            cur = conn.cursor()
            prime = LATENCY_RATE * PRIME_SECONDS
            src.psql(steady_writer(prime, first_id=-prime))
            wait_stored(cur, dst.name, prime, sink)
            src.psql(steady_writer(rows))
            wait_stored(cur, dst.name, prime + rows, sink)
            cpu = pgcdc_cpu(src, slot, run, broker_cpu, streamer, sink, cur)
            conn.close()
        finally:
            if sink:
                sink.stop()
                bench.note_complaints(sink, f"walsink (latency on {broker.label})")
            streamer.stop()
            bench.note_complaints(streamer, f"walstreamer (latency on {broker.label})")
    stats = latency_stats(dst)
    stats["cpu"] = cpu
    drop_slot(src, slot)
    src.drop()
    dst.drop()
    return stats


def run_latency_native(bench, rows):
    src = Database(bench.source, bench.name("latn_src"), [LAT_SOURCE_DDL])
    dst = Database(bench.target, bench.name("latn_dst"), [LAT_TARGET_DDL])
    sub = subscribe(bench, src, dst, "lat")
    try:
        prime = LATENCY_RATE * PRIME_SECONDS
        for sql, total in ((steady_writer(prime, first_id=-prime), prime),
                           (steady_writer(rows), prime + rows)):
            src.psql(sql)
            deadline = time.monotonic() + 120
            while int(dst.psql("SELECT count(*) FROM lat")) < total:
                if time.monotonic() > deadline:
                    sys.exit("sink.py: native subscriber did not catch up on lat in 120 s")
                time.sleep(0.1)
        cpu = native_cpu(src, dst, sub)
    finally:
        unsubscribe(src, dst, sub)
    stats = latency_stats(dst)
    stats["cpu"] = cpu
    src.drop()
    dst.drop()
    return stats


def part_latency(bench, args):
    """Once: on each broker walsink with its defaults and with SHORT_FETCH,
    then native replication.  Returns the rows, the seconds and
    {(pipeline, broker label): stats}."""
    rows = int(LATENCY_RATE * args.latency_seconds) // LATENCY_TX_ROWS * LATENCY_TX_ROWS
    out = {}
    for b in bench.brokers:
        for config, extra in SINK_CONFIGS:
            out[(config, b.label)] = run_latency_pgcdc(bench, b, rows, extra)
    out[(NATIVE, NO_BROKER)] = run_latency_native(bench, rows)
    for k, s in out.items():
        log(f"latency, {row_name(k)}: {s['rows']:,} rows at {s['rate']:,.0f}/s, p50 {s['p50']:.1f} ms, "
            f"p99 {s['p99']:.1f} ms, max {s['max']:.1f} ms")
    return {"rows": rows, "seconds": args.latency_seconds, "stats": out}


# ----------------------------------------------------------------------------
# Part 4: big values, walsink's memory through updates of 1 MB values

# STORAGE EXTERNAL: out of line and never compressed, so that what the WAL,
# the topic and the target hold is the full megabyte of every value.
DOC_DDL = (f"CREATE TABLE {DOC_TABLE} (id int PRIMARY KEY, body text)",
           f"ALTER TABLE {DOC_TABLE} ALTER COLUMN body SET STORAGE EXTERNAL")


class RssCap(Exception):
    pass


def doc_writer(first_round, rounds):
    """A DO block: rounds of updates from first_round on, each round setting
    every document's body to a new DOC_BYTES value, one update per
    transaction (an application saving a document).  The values are slices of
    a pool of random md5 hex twice their size, at offsets 7919 × the update's
    number modulo DOC_BYTES: distinct for every update of a block (7919 is
    prime, so coprime with 2^20), and a new pool per block.  Hex is what
    pglz and lz4 cannot shrink much; STORAGE EXTERNAL keeps them from trying."""
    return f"""DO $$
DECLARE
  pool text;
BEGIN
  SELECT string_agg(md5(random()::text || g), '') INTO pool
    FROM generate_series(1, {2 * DOC_BYTES // 32}) g;
  FOR r IN {first_round}..{first_round + rounds - 1} LOOP
    FOR d IN 1..{DOC_ROWS} LOOP
      UPDATE {DOC_TABLE} SET body = substr(pool, 1 + ((r * {DOC_ROWS} + d) * 7919) % {DOC_BYTES},
                                         {DOC_BYTES})
        WHERE id = d;
      COMMIT;
    END LOOP;
  END LOOP;
END $$"""


def doc_checksum(db):
    """Rows, bytes and an md5 over every document's md5: the documents
    together (~10 GB at full size) are too long for one text value."""
    return db.psql(f"SELECT count(*) || ' ' || coalesce(sum(octet_length(body)), 0) || ' ' || "
                   f"md5(coalesce(string_agg(id || ':' || md5(body), ',' ORDER BY id), '')) "
                   f"FROM {DOC_TABLE}")


def allow_big_messages(broker, topic):
    """Raise the topic's max.message.bytes to BIG_MESSAGE_MAX, and wait until
    the broker answers with it.  (brokers.Kafka.run creates its topics with
    no settings; alter_configs replaces the topic's whole dynamic config,
    which is only this one.)"""
    from confluent_kafka.admin import ConfigResource
    admin = broker.cluster.admin()
    want = str(BIG_MESSAGE_MAX)
    res = ConfigResource("topic", topic, set_config={"max.message.bytes": want})
    for fut in admin.alter_configs([res]).values():
        fut.result()
    deadline = time.monotonic() + 30
    while True:
        got = admin.describe_configs([ConfigResource("topic", topic)])
        entries = list(got.values())[0].result()
        if entries["max.message.bytes"].value == want:
            return
        if time.monotonic() > deadline:
            sys.exit(f"sink.py: {topic}'s max.message.bytes is still "
                     f"{entries['max.message.bytes'].value} after 30 s")
        time.sleep(0.1)


def last_sizes(bootstrap, topic, partition, n):
    """Key + value sizes of the last n messages of a partition: updates, as
    every insert came first."""
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "bench_size",
                                  "enable.auto.commit": False})
    try:
        tp = confluent_kafka.TopicPartition(topic, partition)
        lo, hi = c.get_watermark_offsets(tp, timeout=10)
        c.assign([confluent_kafka.TopicPartition(topic, partition, max(lo, hi - n))])
        sizes = []
        deadline = time.monotonic() + 30
        while len(sizes) < min(n, hi - lo) and time.monotonic() < deadline:
            for m in c.consume(n - len(sizes), 1.0):
                if not m.error():
                    sizes.append(len(m.key() or b"") + len(m.value() or b""))
        return sizes
    finally:
        c.close()


def fill_big(bench, broker, run, updates):
    """DOC_ROWS empty documents, then `updates` updates of DOC_BYTES values,
    streamed by walstreamer into run's doc topic while they are written (a
    slot holding 10 GB of WAL until the end would be no fairer a fill).
    Returns the source's checksum, the messages, a message's size and the
    seconds the fill took."""
    src = Database(bench.source, bench.name("big_src"), ["CREATE EXTENSION pgcdc", *DOC_DDL])
    slot = src.name
    topic = run.topic(DOC_TABLE)
    # fail: an oversized change stops walstreamer, where the default would
    # put a small stand-in in its place and the part would measure nothing.
    s = bench.streamer(src, run, slot, extra={"kafka.message.max.bytes": str(BIG_MESSAGE_MAX),
                                              "oversized.mode": "fail"})
    try:
        wait_streaming(src, slot, s)
        t0 = time.perf_counter()
        src.psql(f"INSERT INTO {DOC_TABLE} SELECT g, '' FROM generate_series(1, {DOC_ROWS}) g")
        rounds = updates // DOC_ROWS
        for first in range(0, rounds, VACUUM_ROUNDS):
            if first:
                src.psql(f"VACUUM {DOC_TABLE}")
            src.psql(doc_writer(first, min(VACUUM_ROUNDS, rounds - first)))
            s.check("walstreamer")
        decoder.wait_flushed(src)
        end = lsn(src.psql("SELECT pg_current_wal_lsn()"))
        while True:
            out = src.psql("SELECT confirmed_flush_lsn FROM pg_replication_slots "
                           f"WHERE slot_name = '{slot}'")
            if out and lsn(out) >= end:
                break
            s.check("walstreamer")
            time.sleep(0.05)
        fill_s = time.perf_counter() - t0
    finally:
        rc = s.stop()
        bench.note_complaints(s, f"walstreamer (big values on {broker.label})")
    if rc != 0:
        sys.exit(f"sink.py: walstreamer exited with {rc}")
    expect = doc_checksum(src)
    drop_slot(src, slot)
    src.drop()
    marks = watermarks(run.bootstrap, topic)
    messages = sum(hi for lo, hi in marks.values())
    if any(lo for lo, hi in marks.values()) or messages != DOC_ROWS + updates:
        sys.exit(f"sink.py: {topic} holds {marks} for {DOC_ROWS} inserts and {updates} updates")
    # 100 keys leave some of the 32 partitions empty: the fullest one.
    sizes = last_sizes(run.bootstrap, topic, max(marks, key=lambda p: marks[p][1]), 5)
    if not sizes or min(sizes) < DOC_BYTES:
        sys.exit(f"sink.py: {topic}: updates of {DOC_BYTES} bytes in messages of {sizes} bytes")
    log(f"{broker.label}: {topic}: {messages:,} messages in {fill_s:.1f} s, "
        f"~{statistics.mean(sizes):,.0f} bytes an update (key + value)")
    return expect, messages, statistics.mean(sizes), fill_s


def run_big_walsink(bench, broker, run, messages, expect):
    """walsink with its defaults from offset 0 into a fresh target: peak RSS,
    wall time, whether the target equals the source.  Stopped (RSS None,
    capped True) once its RSS passes BIG_RSS_CAP_MB."""
    db = Database(bench.target, bench.name("big_dst"), DOC_DDL)
    group = db.name
    conn = db.connect()
    cur = conn.cursor()
    sink = bench.sink(db, run, group)

    def watch():
        if proc_status_kb(sink.proc.pid, "VmHWM") > BIG_RSS_CAP_MB * 1024:
            raise RssCap()

    capped, applied = False, messages
    try:
        _, _, done = wait_stored(cur, group, messages, sink, timeout=3600, watch=watch)
        rss = proc_status_kb(sink.proc.pid, "VmHWM") / 1024
    except RssCap:
        capped, rss, done, applied = True, None, None, stored_messages(cur, group)
        log(f"{broker.label}: walsink's RSS passed {BIG_RSS_CAP_MB:,} MB with "
            f"{applied:,} of {messages:,} messages applied: stopping it")
    finally:
        rc = sink.stop()
        conn.close()
    bench.note_complaints(sink, f"walsink (big values on {broker.label})")
    if rc != 0 and not capped:
        sys.exit(f"sink.py: walsink exited with {rc}")
    got = None if capped else doc_checksum(db)
    db.drop()
    if got is not None and got != expect:
        sys.exit(f"sink.py: walsink's target differs from the source: {got} != {expect}")
    return {"rss": rss, "capped": capped, "applied": applied,
            "wall": None if capped else done - sink.started}


def part_big(bench, args):
    """Once, on the Kafka broker only: fill the doc topic, apply it with
    walsink.  None when skipped (no Kafka broker, or --big-updates 0)."""
    kafka = [b for b in bench.brokers if b.kind == "kafka"]
    if not kafka or not args.big_updates:
        return None
    b = kafka[0]
    with b.run([DOC_TABLE], PARTITIONS) as run:
        topic = run.topic(DOC_TABLE)
        try:
            allow_big_messages(b, topic)
            expect, messages, size, fill_s = fill_big(bench, b, run, args.big_updates)
            r = run_big_walsink(bench, b, run, messages, expect)
        finally:
            b.cluster.delete_topic(topic)      # ~1 GB of log per 1,000 updates
    log(f"big values, {b.label}: walsink " +
        (f"passed {BIG_RSS_CAP_MB:,} MB of RSS, stopped" if r["capped"] else
         f"peak RSS {r['rss']:.0f} MB, {messages:,} messages applied in {r['wall']:.1f} s"))
    return {"broker": b.label, "updates": args.big_updates, "messages": messages,
            "size": size, "fill": fill_s, **r}


# ----------------------------------------------------------------------------
# Report

def versions(bench):
    def first_line(argv):
        return subprocess.run(argv, capture_output=True, text=True).stdout.strip()
    return {"walsink": first_line([bench.walsink, "--version"]),
            "walstreamer": first_line([bench.walstreamer, "--version"]),
            "anchor": f"Python {sys.version.split()[0]}, confluent_kafka "
                      f"{confluent_kafka.version()[0]} (librdkafka {confluent_kafka.libversion()[0]}), "
                      f"psycopg2 {psycopg2.__version__.split()[0]}"}


def source_info(walsink):
    """Which code was measured: commit, local changes, the walsink binary's hash."""
    def git(*a):
        return subprocess.run(["git", "-C", ROOT] + list(a), capture_output=True,
                              text=True).stdout.strip()
    with open(walsink, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    dirty = git("status", "--porcelain", "--", "sink", "streamer", "daemon", "decoder", "proto")
    return (f"commit {git('rev-parse', '--short', 'HEAD') or '?'}"
            f"{' + uncommitted changes in sink/, streamer/, daemon/, decoder/ or proto/' if dirty else ''}, "
            f"walsink sha256 {digest}")


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def med_cpu(runs):
    return {k: statistics.median(r["cpu"][k] for r in runs) for k in runs[0]["cpu"]}


def cpu_text(cpu):
    return ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())


def verdict(ok):
    return "PASS" if ok else "MISS"


def size_text(nbytes):
    return f"{nbytes / 2**30:,.0f} GB" if nbytes >= 2**30 else f"{nbytes / 2**20:,.0f} MB"


def render_big(big, args):
    out = [f"### 4. Big values: updates of {DOC_BYTES >> 20} MB values", ""]
    if big is None:
        why = ("`--big-updates 0`" if not args.big_updates else
               "it runs on Kafka only (`--broker kafka` or `both`): the dev broker keeps ~5 MB a "
               "partition and would trim a topic of 1 MB messages")
        return out + [f"Not run: {why}.", ""]
    per_doc = big["updates"] // DOC_ROWS
    out += [f"In the source, `{DOC_DDL[0][len('CREATE TABLE '):]}` with `body` in STORAGE "
            f"EXTERNAL (out of line, never compressed): {DOC_ROWS} documents inserted empty, then "
            f"updated {per_doc:,} times each, round after round, one update per transaction, each "
            f"setting a new {DOC_BYTES:,}-byte body (a slice of random md5 hex), "
            f"{big['updates']:,} updates in all. A working set of documents edited over and over, "
            f"as an application saving them does: ~{DOC_ROWS * DOC_BYTES >> 20} MB live in the "
            f"source and the target, where {big['updates']:,} documents updated once would be "
            f"~{size_text(big['updates'] * DOC_BYTES)} each. "
            "walstreamer, running while they are written, streamed them into "
            f"`<prefix>.public.{DOC_TABLE}` ({PARTITIONS} partitions; the topic's "
            f"`max.message.bytes` and walstreamer's `kafka.message.max.bytes` "
            f"{BIG_MESSAGE_MAX >> 20} MB, above Kafka's 1 MB default; `oversized.mode=fail`, so "
            f"no update can be replaced by a stand-in): {big['messages']:,} messages, "
            f"~{big['size']:,.0f} bytes (key + value) an update, in {big['fill']:.1f} s. Then one "
            "walsink run with its default settings from offset 0 into a fresh target holding an "
            "empty copy of the table: wall time from process start until its stored positions "
            "cover every message, peak RSS (VmHWM) read just before it is stopped, and the "
            "target's documents checked against the source's (count, bytes and the md5 of each "
            f"body). Stopped once its RSS passes {BIG_RSS_CAP_MB:,} MB (the machine runs other "
            "work). A benchmark case, not a timed test: the wall time is for reference.", ""]
    ok = not big["capped"] and big["rss"] <= BIG_RSS_MB
    if big["capped"]:
        got = (f"walsink peak RSS **over {BIG_RSS_CAP_MB:,} MB**: stopped there, with "
               f"{big['applied']:,} of {big['messages']:,} messages applied")
    else:
        total = big["updates"] * big["size"] / 2**20
        got = (f"walsink peak RSS **{big['rss']:,.0f} MB**; {big['messages']:,} messages "
               f"({big['updates']:,} updates, ~{total:,.0f} MB) applied in {big['wall']:.1f} s "
               f"({total / big['wall']:,.0f} MB/s), the target equal to the source")
    return out + [f"- {big['broker']}: {got} (target ≤ {BIG_RSS_MB} MB through "
                  f"{big['updates']:,} updates: **{verdict(ok)}**)", ""]


def render(argv, bench, machine, vers, applied, pipe, lat, big, args):
    w = bench.w
    short = SINK_CONFIGS[1][0]
    out = [START, "## Sink benchmark", "",
           "Generated by `bench/sink.py`; do not edit between the markers.", "",
           f"- command: `{argv}`",
           f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
           f"- machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM; "
           f"load average at the end {os.getloadavg()[0]:.2f}",
           f"- server: {machine['postgres']} (source and target clusters, fsync off, "
           f"settings: {decoder.settings_text()})",
           f"- {vers['walsink']}; {vers['walstreamer']}",
           f"- pgcdc: {bench.source_info}",
           f"- anchor: {vers['anchor']}",
           f"- workload (a): {decoder.describe(w).split(chr(10))[-1]}, "
           f"{applied['wal'] / 2**20:.0f} MB of WAL; in Kafka {applied['messages']:,} messages "
           f"(one per change, ~{applied['bytes']:.0f} bytes of key + value each) in "
           f"{PARTITIONS} partitions of `<prefix>.public.{TABLE}` on each broker",
           "- brokers (every pgcdc row below names its own):"] + \
        [f"  - {b.describe(PARTITIONS)}" for b in bench.brokers] + \
        [f"- {args.runs} timed round(s)" + ("" if args.quick else " after one warm-up round") +
         ", walsink and its anchor interleaved, the brokers in turn; best and median", ""]

    subset = applied["limit"] < applied["messages"]
    out += ["### 1. Apply throughput from a pre-filled topic", "",
            "Fresh target database per run with an empty `employee` table (same DDL); walsink "
            "with default settings and a fresh group.id, timed from process start until "
            "`pgcdc.sink_position` (committed with the rows) covers every message; the anchor, "
            "on the same broker's topic, timed from consumer creation until its last commit. "
            "Rows/s = rows committed after the first commit ÷ time since that commit: the "
            "consumer-group join (~3 s on the dev broker) is only in the wall time. The "
            "target's final state is checked against the source's after each walsink run" +
            (" and each anchor run." if not subset else "."), "",
            "| consumer | broker | rows/s best | rows/s median | wall s best | wall s median | "
            "first commit at s (median) |",
            "|---|---|--:|--:|--:|--:|--:|"]
    for broker, r in applied["brokers"].items():
        s, a = r["walsink"], r["anchor"]
        ops = ", ".join(f"{v:,} {k}s" for k, v in sorted(a[0]["ops"].items()))
        for name, x in (("walsink (batch.max.rows 10000, COPY + upsert per batch)", s),
                        (f"anchor: row-by-row prepared upsert/delete, commit every {ANCHOR_COMMIT:,} "
                         f"({applied['limit']:,} messages{': ' + ops if subset else ''})", a)):
            out.append(f"| {name} | {broker} | {max(v['rate'] for v in x):,.0f} | "
                       f"{med(x, 'rate'):,.0f} | {min(v['wall'] for v in x):.2f} | "
                       f"{med(x, 'wall'):.2f} | {med(x, 'first'):.2f} |")
    out.append("")
    for broker, r in applied["brokers"].items():
        s, a = r["walsink"], r["anchor"]
        best_s, best_a = max(v["rate"] for v in s), max(v["rate"] for v in a)
        mt = s[-1]["metrics"]
        batches = mt.get("walsink_batches_total", 0)
        out += [f"- {broker}: walsink **{best_s:,.0f} row changes/s** (target ≥ 200,000: "
                f"**{verdict(best_s >= 200_000)}**), **{best_s / best_a:.1f}×** the row-by-row "
                f"anchor (best), {med(s, 'rate') / med(a, 'rate'):.1f}× (median); CPU seconds "
                f"per run (median): walsink: {cpu_text(med_cpu(s))}; anchor: "
                f"{cpu_text(med_cpu(a))} (decoding = wall time in pgcdcwire)",
                f"- {broker}: walsink's counters at the end of the last run: "
                + ", ".join(f"{k.replace('walsink_', '').replace('_total', '')} {v:,.0f}"
                            for k, v in mt.items() if "_total" in k)
                + (f" ({applied['messages'] / batches:,.0f} messages per target transaction)"
                   if batches else ""),
                f"- {broker}: walsink peak RSS (VmHWM, read just before it is stopped) "
                f"**{max(v['rss'] for v in s):,.0f} MB** (max over the runs), "
                f"{med(s, 'rss'):,.0f} MB (median) (target ≤ {APPLY_RSS_MB} MB, default settings: "
                f"**{verdict(max(v['rss'] for v in s) <= APPLY_RSS_MB)}**)"]
    out.append("")

    native = pipe[(NATIVE, NO_BROKER)]
    best_n = min(r["time"] for r in native)
    out += ["### 2. Whole pipeline: source commit → target applied", "",
            "Both pipelines running and idle before the workload; timed from the start of its "
            "generation (the decoder benchmark's DO blocks, 1,000-row transactions) until the "
            "target holds the final state: walsink's stored positions cover every message "
            "(walstreamer's default settings, fresh slot, snapshot.mode never, topics of the "
            "run's own), or for native logical replication (publication + subscription with "
            "copy_data = false, text protocol, one apply worker) until the subscriber holds "
            "the last transaction. Final state checked against the source after each run. "
            f"walsink runs with its defaults and, as in part 3, with `{short}`: once walsink "
            "has caught up, each fetch of the defaults' waits out the dev broker's 500 ms "
            "hold, where Kafka answers as soon as data arrives.", "",
            "| pipeline | broker | best s | median s | generation s (median) | changes/s (best) |",
            "|---|---|--:|--:|--:|--:|"]
    for k, r in pipe.items():
        best = min(x["time"] for x in r)
        out.append(f"| {table_name(k)} | {k[1]} | {best:.2f} | {med(r, 'time'):.2f} | "
                   f"{med(r, 'gen'):.2f} | {w.changes / best:,.0f} |")
    out.append("")
    for k, r in pipe.items():
        if k[1] == NO_BROKER:
            continue
        best = min(x["time"] for x in r)
        out.append(f"- native / pgcdc time, {row_name(k)}: **{best_n / best:.2f}×** (best), "
                   f"{med(native, 'time') / med(r, 'time'):.2f}× (median) (target ≥ 2.0×: "
                   f"**{verdict(best_n / best >= 2.0)}**)")
    out += ["- after the generation ended (medians): " + ", ".join(
                f"{row_name(k)} {max(0, med(r, 'time') - med(r, 'gen')):.2f} s"
                for k, r in pipe.items()) + " more",
            "- CPU seconds per run (median): " + "; ".join(
                f"{row_name(k)}: {cpu_text(med_cpu(r))}" for k, r in pipe.items()), ""]

    stats = lat["stats"]
    out += ["### 3. Commit → applied latency at a steady rate", "",
            f"A server-side writer commits {LATENCY_TX_ROWS}-row transactions on a fixed "
            f"schedule, {LATENCY_RATE:,} rows/s for {lat['seconds']:g} s ({lat['rows']:,} rows), "
            "each row carrying `written_at = clock_timestamp()`; the target's copy of the table "
            "adds `applied_at timestamptz DEFAULT clock_timestamp()`, filled when the row is "
            "inserted there (inside the applying transaction, a few ms before its commit). "
            "Same machine, same clock. Before them, every pipeline is primed with "
            f"{PRIME_SECONDS:g} s of rows at the same rate (not measured) and has applied them: "
            "a run's topics are new, and on Kafka a topic's first half second is start-up "
            "(first produce and fetch of each partition). Default settings for walstreamer and walsink "
            "(batch.max.ms 20). The dev broker holds a fetch that finds no new data for the "
            "consumer's whole `fetch.wait.max.ms` (librdkafka's default 500 ms), even when data "
            "arrives meanwhile; Kafka answers as soon as there is data, so its defaults row is "
            f"what a deployment gets. The `{short}` rows on the dev broker stand in for a "
            "broker that answers early; on Kafka they show what the setting changes there.", "",
            "| pipeline | broker | rows | written rows/s | p50 ms | p99 ms | max ms |",
            "|---|---|--:|--:|--:|--:|--:|"]
    for k, r in stats.items():
        out.append(f"| {table_name(k)} | {k[1]} | {r['rows']:,} | {r['rate']:,.0f} | "
                   f"{r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} |")
    out.append("")
    for b in bench.brokers:
        out.append(f"- {b.label}: walsink p99 (target ≤ 100 ms): " + "; ".join(
            f"{config} **{stats[(config, b.label)]['p99']:.1f} ms: "
            f"{verdict(stats[(config, b.label)]['p99'] <= 100)}**" for config, _ in SINK_CONFIGS))
    out += [f"- CPU seconds over each run (~{lat['seconds']:g} s of writing after "
            f"{PRIME_SECONDS:g} s of priming, processes started a few seconds earlier; the "
            "broker's over the run): " + "; ".join(
                f"{row_name(k)}: {cpu_text(r['cpu'])}" for k, r in stats.items()), ""]

    out += render_big(big, args)

    if bench.complaints:
        seen = {}
        for what, line in bench.complaints:
            daemon, part = what.split(" ", 1)
            key = (daemon, re.sub(r"^\S+ \S+ \S+ \w+\[\d+\] ", "", line)[:300])
            seen.setdefault(key, []).append(part.strip("()"))
        out += ["Warnings and errors in the daemons' logs:", ""]
        for (daemon, line), parts in list(seen.items())[:20]:
            where = ", ".join(f"{p} ×{parts.count(p)}" for p in dict.fromkeys(parts))
            out.append(f"- {daemon} ({where}): `{line}`")
        out.append("")
    else:
        out += ["No warnings or errors in the daemons' logs.", ""]
    out.append(END)
    return "\n".join(out) + "\n"


def main():
    args = parse_args()
    bench = Bench(args)
    try:
        applied = part_apply(bench, args)
        pipe = part_pipeline(bench, args, applied)
        lat = part_latency(bench, args)
        big = part_big(bench, args)
        machine = decoder.machine_info(bench.source)
        vers = versions(bench)
    finally:
        bench.close()
    argv = shlex.join(["python3", os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    section = render(argv, bench, machine, vers, applied, pipe, lat, big, args)
    if args.json:
        with open(args.json, "w") as f:
            # broker: its label, None for native replication.
            json.dump({"changes": bench.w.changes, "messages": applied["messages"],
                       "apply": [{"consumer": c, "broker": broker, "rates": [x["rate"] for x in r[c]],
                                  **({"peak_rss_mb": [x["rss"] for x in r[c]]} if c == "walsink" else {})}
                                 for broker, r in applied["brokers"].items()
                                 for c in ("walsink", "anchor")],
                       "pipeline": [{"pipeline": k[0], "broker": None if k[1] == NO_BROKER else k[1],
                                     "times": [x["time"] for x in r]} for k, r in pipe.items()],
                       "latency": [{"pipeline": k[0], "broker": None if k[1] == NO_BROKER else k[1], **r}
                                   for k, r in lat["stats"].items()],
                       # peak_rss_mb None: stopped at BIG_RSS_CAP_MB
                       "big": big and {"broker": big["broker"], "updates": big["updates"],
                                       "peak_rss_mb": big["rss"], "wall": big["wall"]}}, f)
    if args.output:
        decoder.write_results(args.output, section, START, END)
        log(f"wrote {args.output}")
    else:
        print(section)


if __name__ == "__main__":
    main()
