#!/usr/bin/env python3
"""walstreamer against Debezium: the same source, workloads and Kafka broker,
one system after the other, in one invocation.

usage: python3 bench/debezium.py [--build DIR] [--scale F] [--runs N] [--output FILE]
                                 [--json FILE] [--plot DIR]

One throwaway PostgreSQL 15 cluster (pgtemp, pgcdc installed, plugins
pgoutput and pgcdc, decoder.SETTINGS), one real Kafka broker (kafkacluster,
profile "bench": Kafka's own JVM settings) started once for the script, and
Kafka Connect standalone with the Debezium PostgreSQL connector
(tests/support/debezium.py: plugin.name=pgoutput, JsonConverter with
schemas, Kafka Connect's launcher JVM settings), a fresh worker for each
workload, shared by that workload's rounds, so that its peak RSS is that
workload's.  Each workload has a database of its own, so that Debezium's
publication FOR ALL TABLES and its snapshot see that workload's tables only.

Every run: a fresh topic prefix, and so a fresh slot (named after it),
publication (Debezium's) and topics.  The data topics are created before the
system starts, PARTITIONS partitions each, with
message.timestamp.type=LogAppendTime, so that every message carries the time
the broker appended it.  "In Kafka" is measured alike for both systems: the
topics' high watermarks are polled until they hold at least as many messages
as there were changes and have stopped growing for STABLE seconds; then the
last message of every partition is read: the latest append time is when the
last change was in Kafka.  After a run the system is stopped (Debezium: its
connector removed), its slot dropped once inactive, Debezium's publication
dropped, and the run's topics deleted.

1. One 1,000,000-row transaction (INSERT ... generate_series into
   million(id int primary key, v text, n numeric)), emptied before each
   run; the systems start without a snapshot (walstreamer
   snapshot.mode=never, Debezium snapshot.mode=no_data) and stream before it
   starts: from the client's clock right after COMMIT returns to the last
   append.
2. pgbench TPC-B at full speed: pgbench -i (scale PGBENCH_SCALE) once before
   the systems run; before each run pgbench_history is emptied and the other
   tables vacuumed (before the slot exists: neither is decoded); then
   pgbench -n -c 4 -j 2 -t N, N such that about PGBENCH_CHANGES changes (four
   a transaction: three updates, one insert into pgbench_history, which has
   no key: a null Kafka key for both): from pgbench's start to the last
   append across the four topics.
2b. pgbench backlog: the same pgbench run, at full speed, while the system
   is stopped (SIGSTOP, after it streams: walstreamer's process, the
   Connect JVM), then SIGCONT: from the SIGCONT to the last append.  Part 2
   is paced by pgbench (on two cores both systems keep up with it); this is
   each system's own speed through the same changes, with no generator
   beside it.
3. Latency at LAT_RATE changes/s for LAT_SECONDS: a server-side writer
   commits LAT_TX_ROWS-row transactions on a fixed schedule into lat(id
   bigint primary key, written_us bigint, note text), written_us =
   clock_timestamp() in microseconds since the epoch; after PRIME_SECONDS of
   the same writer (ids below zero, in Kafka before the measured rows start,
   not counted), each message's latency is its append time minus
   written_us (pgcdc records read with tests/support/pgcdcwire.py,
   Debezium's JSON with json); p50, p99, max.
4. Peak RSS (VmHWM) and CPU seconds (user + system) of walstreamer and of
   the Connect JVM per run of 1-3 and 6: walstreamer's VmHWM is read before
   it stops, the worker's at the end of each run (its peak so far in the
   workload); CPU seconds from just before the workload until the first
   poll that saw the final message count, of the process, of the walsender
   serving its slot and of the broker.
5. Bytes on the wire per change (key + value of every message, Debezium's
   tombstones included) on decoder.py's workload (a) scaled to MIX_CHANGES
   changes (inserts, updates, deletes in 1,000-row transactions): pgcdc's
   protobuf, Debezium's JSON with schemas (the default) and without
   (key.converter.schemas.enable=false, value.converter.schemas.enable=false).
6. Initial snapshot of a SNAPSHOT_ROWS-row table (snapshot.py's employee
   rows), once per system: walstreamer with its default snapshot settings
   (incremental chunks), Debezium snapshot.mode=initial; from the system's
   start (walstreamer's process, Debezium's connector added to the running
   worker) to the last append, and peak RSS.
7. Debezium's JDBC sink connector is not served by Maven Central at
   3.6.1.Final: walsink is not compared (see JDBC_SINK).

--scale multiplies every workload; --runs rounds, each running both systems
in turn, after one warm-up round (1-3; 5 and 6 run once).  --parts runs
only some parts; with --reuse FILE (an earlier run's --json) the others'
figures are taken from there, so that one part can be measured again and
the section still shows them all, each with the command that measured it.  The section of
the output file between its markers is rewritten, a PNG with one panel a
measure is drawn with gnuplot into --plot.  Nothing is built here: ninja -C
build first.
"""

import argparse
import contextlib
import datetime
import json
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import prelude  # first: Debian's python3, tests/ on sys.path

import brokers
import confluent_kafka
import decoder
import psycopg2
import snapshot
from sink import Database
from streamer import cpu_seconds, proc_status_kb
from support import daemonproc, debezium, pgcdcwire, pgtemp
from support.kafkaread import watermark

ROOT = prelude.ROOT

START = "<!-- debezium-bench:start -->"
END = "<!-- debezium-bench:end -->"

PARTITIONS = 4              # every data topic, as in streamer.py
LOG_APPEND = {"message.timestamp.type": "LogAppendTime"}
POLL = 0.1                  # s between polls of the watermarks
STABLE = 2.0                # s without a new message: the topics are complete
TIMEOUT = 3600              # s for one run's changes to be in Kafka, at most

MILLION = 1_000_000
PGBENCH_SCALE = 10
PGBENCH_CHANGES = 200_000
PGBENCH_CLIENTS = 4
PGBENCH_JOBS = 2
PGBENCH_TABLES = ("pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history")
LAT_RATE = 2000             # changes/s
LAT_TX_ROWS = 10
LAT_SECONDS = 60
PRIME_SECONDS = 1
MIX_CHANGES = 100_000
SNAPSHOT_ROWS = 5_000_000

WS, DBZ = "walstreamer", "Debezium"
SYSTEMS = (WS, DBZ)
# walstreamer's flags in every run, as bench/streamer.py sets them; beside
# them only the run's own (source, slot.name, topic.prefix, the bootstrap).
WS_FLAGS = {"heartbeat.interval.ms": "0", "status.interval.ms": "1000", "log.level": "warning"}
NO_SCHEMAS = {"key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false"}
# The goals, walstreamer / Debezium.
THROUGHPUT_GOAL = 10.0      # at least
RSS_GOAL = 1 / 20           # at most
CPU_GOAL = 1 / 5            # at most
WHY = "why: not known yet (see Notes below the section)"
JDBC_SINK = ("Debezium's JDBC sink connector (`io.debezium:debezium-connector-jdbc`) is not served "
             "by Maven Central at 3.6.1.Final, the version every Debezium module is pinned to "
             "(checked 2026-12-06: the newest there is 3.6.0.Final), so walsink was not compared "
             "with it.")

# The parts, in the order they run (main): name, function, and the JSON key.
PARTS = ("million", "pgbench", "backlog", "latency", "bytes", "snapshot")

MILLION_DDL = "CREATE TABLE million (id int PRIMARY KEY, v text, n numeric)"
MILLION_SQL = "INSERT INTO million SELECT g, 'row ' || g, g * 0.5 FROM generate_series(1, {rows}) g"
LAT_DDL = "CREATE TABLE lat (id bigint PRIMARY KEY, written_us bigint NOT NULL, note text)"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--scale", type=float, default=1.0, help="multiply every workload (default 1.0)")
    p.add_argument("--runs", type=int, default=3,
                   help="timed rounds after one warm-up round (default 3)")
    p.add_argument("--output", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    p.add_argument("--json", default=None, help="also write the figures as JSON here")
    p.add_argument("--plot", default=os.path.join(ROOT, "bench", "plots"),
                   help="directory of the plot, debezium.png (default bench/plots)")
    p.add_argument("--parts", default=",".join(PARTS),
                   help=f"the parts to run, comma-separated (default all: {','.join(PARTS)})")
    p.add_argument("--reuse", default=None,
                   help="the other parts' figures from this earlier --json output")
    args = p.parse_args()
    args.parts = [x for x in args.parts.split(",") if x]
    if set(args.parts) - set(PARTS):
        p.error(f"--parts: unknown {sorted(set(args.parts) - set(PARTS))}; known: {', '.join(PARTS)}")
    if set(args.parts) != set(PARTS) and not args.reuse:
        p.error("--parts without every part needs --reuse (the section shows them all)")
    if args.runs < 1:
        p.error("--runs: at least 1")
    return args


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def scaled(n, scale, least=1000):
    return max(least, round(n * scale))


# ----------------------------------------------------------------------------
# The broker's side: topics with LogAppendTime, their watermarks and messages

def create_topics(cluster, names):
    """The topics, with append times, once the broker leads every partition."""
    cluster.create_topic(names, PARTITIONS, config=LOG_APPEND)
    brokers.wait_leaders(cluster, names, PARTITIONS)


def delete_topics(cluster, prefix):
    """Every topic of a run, those the systems created on first use too:
    a million rows of Debezium's JSON are ~2 GB on disk."""
    admin = cluster.admin()
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix + ".")]
    if names:
        for fut in admin.delete_topics(names, operation_timeout=30).values():
            fut.result()


def consumer(bootstrap):
    return confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "dbzbench",
                                     "enable.auto.commit": False, "log_level": 3,
                                     "fetch.message.max.bytes": 10485760})


class Watermarks:
    """The high watermarks of a run's data topics, through one consumer kept
    open for the run (a consumer per poll costs a connection and metadata)."""

    def __init__(self, bootstrap, topics):
        self.c = consumer(bootstrap)
        self.tps = [confluent_kafka.TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]

    def marks(self):
        # kafkaread.watermark asks again on the errors of a moment: once
        # (2026-12-06, scale 0.1) the broker answered "not leader" for a
        # topic it had led for seconds, under a snapshot's load.
        return {(tp.topic, tp.partition): watermark(self.c, tp.topic, tp.partition)[1]
                for tp in self.tps}

    def close(self):
        self.c.close()


def fetch(bootstrap, starts, ends):
    """Messages of every partition in starts from its offset there up to its
    end in ends: {(topic, partition): [message]}."""
    want = {tp: (starts[tp], ends[tp]) for tp in ends if ends[tp] > starts[tp]}
    got = {tp: [] for tp in want}
    if not want:
        return got
    c = consumer(bootstrap)
    errors = []
    try:
        c.assign([confluent_kafka.TopicPartition(t, p, lo) for (t, p), (lo, _) in want.items()])
        left = set(want)
        deadline = time.monotonic() + 300
        while left:
            if time.monotonic() > deadline:
                sys.exit(f"debezium.py: could not read {sorted(left)}: {errors[-3:]}")
            for m in c.consume(10000, 0.5):
                if m.error():
                    errors.append(str(m.error()))
                    continue
                tp = (m.topic(), m.partition())
                if tp in left and m.offset() < want[tp][1]:
                    got[tp].append(m)
                    if m.offset() + 1 >= want[tp][1]:
                        left.discard(tp)
    finally:
        c.close()
    return got


def last_append(bootstrap, marks):
    """The latest append time (epoch seconds) of the last messages of the
    partitions: when the last of them was in Kafka."""
    last = fetch(bootstrap, {tp: max(0, hw - 1) for tp, hw in marks.items()}, marks)
    times = []
    for (topic, _), msgs in last.items():
        kind, ms = msgs[-1].timestamp()
        if kind != confluent_kafka.TIMESTAMP_LOG_APPEND_TIME:
            sys.exit(f"debezium.py: {topic} has no LogAppendTime timestamps (type {kind})")
        times.append(ms / 1000)
    return max(times)


def everything(bootstrap, marks):
    """Every message up to marks, partition after partition."""
    for msgs in fetch(bootstrap, {tp: 0 for tp in marks}, marks).values():
        yield from msgs


class Landed:
    """A run's changes in Kafka: messages, the last append time, the CPU
    sample taken at the first poll that saw the final count."""

    def __init__(self, count, marks, appended, cpu):
        self.count, self.marks, self.appended, self.cpu = count, marks, appended, cpu


def wait_in_kafka(bench, run, tables, expect):
    """Until the run's topics of tables hold at least expect messages and
    have stopped growing for STABLE s.  CPU is sampled whenever the count
    changes, so that the idle STABLE seconds after the last message (and a
    Connect offset flush in them) are not in the CPU figures."""
    w = Watermarks(bench.bootstrap, [run.topic(t) for t in tables])
    count, since, sample = -1, None, None
    deadline = time.monotonic() + TIMEOUT
    try:
        while True:
            marks = w.marks()
            n = sum(marks.values())
            now = time.monotonic()
            if n != count:
                count, since, sample = n, now, run.cpu()
            elif n >= expect and now - since >= STABLE:
                break
            run.check()
            if now > deadline:
                sys.exit(f"debezium.py: {run.label}: {n:,} of {expect:,} messages after {TIMEOUT} s")
            time.sleep(POLL)
    finally:
        w.close()
    return Landed(count, marks, last_append(bench.bootstrap, marks), sample)


# ----------------------------------------------------------------------------
# The two systems: one run each, from start to slot dropped

def wait_slot(db, slot, active, timeout=120, check=None):
    """Until the slot exists and is active (returns its walsender's pid), or
    is inactive."""
    deadline = time.monotonic() + timeout
    while True:
        row = db.psql(f"SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = '{slot}'")
        if active and row.startswith("t|"):
            return int(row.split("|")[1])
        if not active and not row.startswith("t|"):
            return None
        if check:
            check()
        if time.monotonic() > deadline:
            sys.exit(f"debezium.py: slot {slot} not {'active' if active else 'inactive'} "
                     f"after {timeout} s")
        time.sleep(0.05)


def drop_slot(db, slot):
    wait_slot(db, slot, active=False)
    db.psql(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            f"WHERE slot_name = '{slot}'")


class Run:
    """One system streaming one database into topics of its own prefix."""

    label = ""

    def __init__(self, bench, db, prefix):
        self.bench, self.db, self.prefix, self.slot = bench, db, prefix, prefix
        self.walsender = None
        self.started = None

    def topic(self, table):
        return f"{self.prefix}.public.{table}"

    def wait_ready(self):
        """Until the system streams its slot."""
        self.walsender = wait_slot(self.db, self.slot, active=True, check=self.check)

    def cpu(self):
        """CPU seconds so far: the system's process, the walsender serving
        its slot, the broker."""
        def of(pid):
            try:
                return cpu_seconds(pid) if pid else float("nan")
            except OSError:
                return float("nan")
        return {"process": of(self.pid), "walsender": of(self.walsender),
                "broker": of(self.bench.broker_pid)}

    def rss_kb(self):
        return proc_status_kb(self.pid, "VmHWM")


class WalstreamerRun(Run):
    label = WS

    def __init__(self, bench, db, prefix, snapshot):
        super().__init__(bench, db, prefix)
        self.keys = {"source": db.dsn(), "slot.name": self.slot,
                     "kafka.bootstrap.servers": bench.bootstrap, "topic.prefix": prefix,
                     **({} if snapshot else {"snapshot.mode": "never"}), **WS_FLAGS}
        self.logfile = os.path.join(bench.tmp, f"{prefix}.walstreamer.log")
        with open(self.logfile, "w") as logf:
            self.started = time.time()
            self.proc = subprocess.Popen([bench.walstreamer] + [f"--{k}={v}" for k, v in self.keys.items()],
                                         stdout=subprocess.DEVNULL, stderr=logf)
        bench.procs.append(self.proc)

    @property
    def pid(self):
        return self.proc.pid

    def check(self):
        if self.proc.poll() is not None:
            with open(self.logfile, errors="replace") as f:
                sys.exit(f"debezium.py: walstreamer exited with {self.proc.returncode}:\n{f.read()[-2000:]}")

    def stop(self):
        daemonproc.terminate(self.proc)
        with open(self.logfile, errors="replace") as f:
            for line in f.read().splitlines():
                # Without its time and pid, so that every run's alike count as one.
                said = re.sub(r"^\S+ \S+ \S+ walstreamer\[\d+\] ", "", line)
                self.bench.complaints[said] = self.bench.complaints.get(said, 0) + 1
        drop_slot(self.db, self.slot)
        # Its bookkeeping, which Debezium's snapshot of every table would read too.
        for table in ("snapshot_part", "snapshot_progress", "streamer_slot"):
            self.db.psql(f"DELETE FROM pgcdc.{table} WHERE slot_name = '{self.slot}'")


class DebeziumRun(Run):
    label = DBZ

    def __init__(self, bench, db, prefix, snapshot, extra=None):
        super().__init__(bench, db, prefix)
        self.connect = bench.connect
        self.name = prefix
        self.config = debezium.postgres_connector(
            bench.cluster, prefix, self.slot, dbname=db.name,
            **{"snapshot.mode": "initial" if snapshot else "no_data", **(extra or {})})
        self.since = self.connect.log_size()
        self.checked = 0
        self.started = time.time()
        self.connect.add(self.name, self.config)

    @property
    def pid(self):
        return self.connect.pid

    def wait_ready(self):
        # Debezium's own "Processing messages": its schema snapshot is done
        # and it reads the stream; the slot is active by then.
        self.connect.wait_streaming(self.name, self.prefix, since=self.since)
        super().wait_ready()

    def check(self):
        if self.connect.proc.poll() is not None:
            sys.exit(f"debezium.py: Kafka Connect exited:\n{self.connect.tail()}")
        if time.monotonic() - self.checked < 2:     # a REST request: not at every poll
            return
        self.checked = time.monotonic()
        try:
            status = self.connect.status(self.name)
        except OSError:         # urllib's errors too: asked again at the next check
            return
        for task in status.get("tasks", []):
            if task.get("state") == "FAILED":
                sys.exit(f"debezium.py: connector {self.name} failed:\n{task.get('trace', '')[:3000]}")

    def stop(self):
        self.connect.remove(self.name)
        drop_slot(self.db, self.slot)
        self.db.psql(f"DROP PUBLICATION IF EXISTS {self.config['publication.name']}")


@contextlib.contextmanager
def running(bench, system, db, tables, snapshot=False, extra=None):
    """A run of system on db with a fresh prefix, its data topics (of
    tables) created first; stopped, its slot dropped and its topics deleted
    afterwards.  Not after a failure: the script ends, Bench.close() stops
    everything, and a failing stop would hide the first error."""
    bench.seq += 1
    prefix = f"{'ws' if system == WS else 'dbz'}{bench.seq}"
    create_topics(bench.kafka, [f"{prefix}.public.{t}" for t in tables])
    run = (WalstreamerRun(bench, db, prefix, snapshot) if system == WS
           else DebeziumRun(bench, db, prefix, snapshot, extra))
    yield run
    run.stop()
    delete_topics(bench.kafka, prefix)


def figures(run, landed, base, t0, changes):
    """One run's figures: seconds from t0 to the last append, the peak RSS
    (read now, before the system stops), CPU seconds since base."""
    return {"seconds": landed.appended - t0, "changes": changes, "messages": landed.count,
            "rss_kb": run.rss_kb(), "cpu": {k: landed.cpu[k] - base[k] for k in base}}


# ----------------------------------------------------------------------------
# The workloads

class Bench:
    """The cluster, the broker, the walstreamer binary, the current Connect
    worker and what has to be stopped at the end."""

    def __init__(self, args):
        build = os.path.abspath(args.build)
        path = os.path.join(build, "streamer", "walstreamer")
        if not os.path.exists(path):
            sys.exit(f"debezium.py: {path} not found; build first: ninja -C {args.build}")
        self.tmp = tempfile.mkdtemp(prefix="pgcdc-dbzbench-")
        # A copy: a rebuild while the benchmark runs changes nothing.
        self.walstreamer = shutil.copy2(path, self.tmp)
        self.walstreamer_info = snapshot.build_info(build, self.walstreamer)
        self.procs = []
        self.complaints = {}        # walstreamer's log lines (log.level=warning): runs
        self.seq = 0
        self.cluster = self.broker = self.connect = None
        self.worker_settings = {}
        try:
            self.cluster = pgtemp.Cluster(pgtemp.pgcdc_install(build), "dbzbench",
                                          settings=decoder.SETTINGS, plugins="pgoutput, pgcdc").start()
            self.broker = brokers.Kafka(PARTITIONS)
        except BaseException:
            self.close()
            raise
        self.kafka = self.broker.cluster
        self.bootstrap = self.kafka.bootstrap
        self.broker_pid = self.kafka.nodes[1].proc.pid

    def database(self, name, ddl=()):
        return Database(self.cluster, name, ["CREATE EXTENSION pgcdc", *ddl])

    @contextlib.contextmanager
    def worker(self):
        """A fresh Kafka Connect worker for one workload, so that its peak
        RSS is that workload's."""
        t0 = time.monotonic()
        self.connect = debezium.Connect(self.bootstrap).start()
        self.worker_settings = dict(self.connect.settings)
        log(f"Kafka Connect worker (pid {self.connect.pid}) serving in {time.monotonic() - t0:.1f} s")
        try:
            yield self.connect
        finally:
            self.connect.stop()
            self.connect = None

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.connect:
            self.connect.stop()
        if self.broker:
            self.broker.close()
        if self.cluster:
            self.cluster.destroy()
        shutil.rmtree(self.tmp, ignore_errors=True)


def rounds(args):
    """(round, warm-up?) of the workloads run in rounds."""
    return [(n, n == 0) for n in range(args.runs + 1)]


def note(part, rnd, warm, system, r):
    log(f"{part}, round {rnd}{' (warm-up)' if warm else ''}, {system}: {r['seconds']:.2f} s, "
        f"{r['changes'] / r['seconds']:,.0f} changes/s, {r['messages']:,} messages, "
        f"RSS {r['rss_kb'] / 1024:.0f} MB, CPU {r['cpu']['process']:.2f} s")


def part_million(bench, args):
    """1: one big transaction, from COMMIT to the last change in Kafka."""
    rows = scaled(MILLION, args.scale)
    db = bench.database("million", [MILLION_DDL])
    out = {s: [] for s in SYSTEMS}
    with bench.worker():
        for rnd, warm in rounds(args):
            for system in SYSTEMS:
                db.psql("TRUNCATE million")
                with running(bench, system, db, ["million"]) as run:
                    run.wait_ready()
                    base = run.cpu()
                    conn = psycopg2.connect(db.dsn())
                    conn.cursor().execute(MILLION_SQL.format(rows=rows))
                    conn.commit()
                    committed = time.time()
                    conn.close()
                    landed = wait_in_kafka(bench, run, ["million"], rows)
                    r = figures(run, landed, base, committed, rows)
                note("1M-row transaction", rnd, warm, system, r)
                if not warm:
                    out[system].append(r)
    db.drop()
    return {"rows": rows, "runs": out}


def pgbench(db, *argv):
    cluster = db.cluster
    return subprocess.run([cluster.install.prog("pgbench"), "-h", cluster.host, "-p", str(cluster.port),
                           "-U", cluster.user, *argv, db.name],
                          check=True, capture_output=True, text=True, start_new_session=True)


def pgbench_runs(bench, args, dbname, label, backlog):
    """TPC-B, from pgbench's start (backlog: the system stopped while it
    runs, from its SIGCONT) to the last change in Kafka."""
    scale = max(1, round(PGBENCH_SCALE * args.scale))
    per_client = max(1, round(scaled(PGBENCH_CHANGES, args.scale) / 4 / PGBENCH_CLIENTS))
    txs = per_client * PGBENCH_CLIENTS
    changes = 4 * txs
    db = bench.database(dbname)
    t0 = time.monotonic()
    pgbench(db, "-i", "-s", str(scale))
    log(f"pgbench -i -s {scale}: {time.monotonic() - t0:.1f} s")
    out = {s: [] for s in SYSTEMS}
    with bench.worker():
        for rnd, warm in rounds(args):
            for system in SYSTEMS:
                # pgbench's own vacuum (-n: none) truncates pgbench_history,
                # a change either system would stream; done here, before the slot.
                db.psql("TRUNCATE pgbench_history")
                db.psql("VACUUM pgbench_accounts, pgbench_branches, pgbench_tellers")
                with running(bench, system, db, PGBENCH_TABLES) as run:
                    run.wait_ready()
                    base = run.cpu()
                    if backlog:
                        os.kill(run.pid, signal.SIGSTOP)
                    try:
                        started = time.time()
                        pgbench(db, "-n", "-c", str(PGBENCH_CLIENTS), "-j", str(PGBENCH_JOBS),
                                "-t", str(per_client))
                        generated = time.time() - started
                    finally:
                        if backlog:
                            started = time.time()
                            os.kill(run.pid, signal.SIGCONT)
                    landed = wait_in_kafka(bench, run, PGBENCH_TABLES, changes)
                    r = figures(run, landed, base, started, changes)
                    r["generated"] = generated
                made = int(db.psql("SELECT count(*) FROM pgbench_history"))
                if made != txs:
                    sys.exit(f"debezium.py: pgbench made {made} transactions, not {txs}")
                note(label, rnd, warm, system, r)
                if not warm:
                    out[system].append(r)
    db.drop()
    return {"scale": scale, "clients": PGBENCH_CLIENTS, "jobs": PGBENCH_JOBS,
            "per_client": per_client, "transactions": txs, "changes": changes, "runs": out}


def part_pgbench(bench, args):
    """2: TPC-B at full speed, the system streaming beside it."""
    return pgbench_runs(bench, args, "tpcb", "pgbench", backlog=False)


def part_backlog(bench, args):
    """2b: part 2's changes made while the system is stopped."""
    return pgbench_runs(bench, args, "backlog", "pgbench backlog", backlog=True)


def steady_writer(rows, first_id=1):
    """A DO block committing LAT_TX_ROWS-row transactions on a fixed
    schedule (LAT_RATE rows/s), ids from first_id on (sink.py's, with the
    time written as microseconds, which both formats carry as an integer)."""
    interval_us = round(LAT_TX_ROWS * 1e6 / LAT_RATE)
    return f"""DO $$
DECLARE
  t0 timestamptz := clock_timestamp();
BEGIN
  FOR i IN 0..{rows // LAT_TX_ROWS - 1} LOOP
    PERFORM pg_sleep(greatest(0, extract(epoch FROM
        t0 + i * interval '{interval_us} microseconds' - clock_timestamp())));
    INSERT INTO lat SELECT g, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, 'row ' || g
      FROM generate_series({first_id} + i * {LAT_TX_ROWS}, {first_id - 1} + (i + 1) * {LAT_TX_ROWS}) g;
    COMMIT;
  END LOOP;
END $$"""


def inserted_row(system, value):
    """The new row of an insert message, or None for any other."""
    if value is None:
        return None
    if system == WS:
        r = pgcdcwire.record(value)
        return r["row"] if r.get("op") == "insert" else None
    v = json.loads(value)
    p = v["payload"] if "schema" in v else v
    return p["after"] if p and p.get("op") == "c" else None


def latency_stats(bench, system, marks, rows):
    """p50, p99, max of append time − written_us over the measured rows."""
    ms, written = [], []
    for m in everything(bench.bootstrap, marks):
        row = inserted_row(system, m.value())
        if row is None or row["id"] <= 0:
            continue
        ms.append(m.timestamp()[1] - row["written_us"] / 1000)
        written.append(row["written_us"])
    if len(ms) != rows:
        sys.exit(f"debezium.py: {system}: {len(ms)} measured rows in Kafka, not {rows}")
    ms.sort()
    span = (max(written) - min(written)) / 1e6
    return {"p50": statistics.median(ms), "p99": ms[min(len(ms) - 1, math.ceil(0.99 * len(ms)) - 1)],
            "max": ms[-1], "rate": len(ms) / span if span else float("nan")}


def part_latency(bench, args):
    """3: a steady rate; the latency of every message."""
    seconds = LAT_SECONDS * args.scale
    rows = max(10, int(LAT_RATE * seconds) // LAT_TX_ROWS) * LAT_TX_ROWS
    prime = LAT_RATE * PRIME_SECONDS
    db = bench.database("latency", [LAT_DDL])
    out = {s: [] for s in SYSTEMS}
    with bench.worker():
        for rnd, warm in rounds(args):
            for system in SYSTEMS:
                db.psql("TRUNCATE lat")
                with running(bench, system, db, ["lat"]) as run:
                    run.wait_ready()
                    db.psql(steady_writer(prime, first_id=-prime))
                    wait_in_kafka(bench, run, ["lat"], prime)
                    base = run.cpu()
                    started = time.time()
                    db.psql(steady_writer(rows))
                    landed = wait_in_kafka(bench, run, ["lat"], prime + rows)
                    r = figures(run, landed, base, started, rows)
                    r.update(latency_stats(bench, system, landed.marks, rows))
                log(f"latency, round {rnd}{' (warm-up)' if warm else ''}, {system}: {rows:,} rows at "
                    f"{r['rate']:,.0f}/s, p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, "
                    f"max {r['max']:.1f} ms, RSS {r['rss_kb'] / 1024:.0f} MB, "
                    f"CPU {r['cpu']['process']:.2f} s")
                if not warm:
                    out[system].append(r)
    db.drop()
    return {"rate": LAT_RATE, "seconds": seconds, "rows": rows, "runs": out}


# Part 5's formats: (label, system, Debezium's settings beyond the defaults).
FORMATS = (("pgcdc protobuf (walstreamer)", WS, None),
           ("Debezium JSON with schemas (default)", DBZ, None),
           ("Debezium JSON without schemas", DBZ, NO_SCHEMAS))


def part_bytes(bench, args):
    """5: bytes per change of each format on the same mixed workload."""
    a = decoder.WORKLOADS["a"]
    w = decoder.Workload("mix", "mixed", a.columns, a.values, a.inserts, a.updates,
                         a.deletes).scaled(scaled(MIX_CHANGES, args.scale) / a.changes)
    db = bench.database("bytes", [f"CREATE TABLE mixed ({w.columns})"])
    out = []
    with bench.worker():
        for label, system, extra in FORMATS:
            db.psql("TRUNCATE mixed")
            with running(bench, system, db, ["mixed"], extra=extra) as run:
                run.wait_ready()
                decoder.run_workload(db, w)
                landed = wait_in_kafka(bench, run, ["mixed"], w.changes)
                keys = values = tombstones = 0
                for m in everything(bench.bootstrap, landed.marks):
                    keys += len(m.key() or b"")
                    values += len(m.value() or b"")
                    tombstones += m.value() is None
            r = {"format": label, "messages": landed.count, "tombstones": tombstones,
                 "key_bytes": keys, "value_bytes": values, "per_change": (keys + values) / w.changes}
            log(f"bytes, {label}: {r['messages']:,} messages, {r['per_change']:.0f} bytes a change")
            out.append(r)
    db.drop()
    return {"inserts": w.inserts, "updates": w.updates, "deletes": w.deletes,
            "changes": w.changes, "formats": out}


def check_snapshot(db, slot, rows, timeout=30):
    """walstreamer's own account of its snapshot: every table done, rows
    read.  Its topic holds a range record per chunk and partition beside
    the rows, so a count at least the rows does not alone say all rows are
    there."""
    deadline = time.monotonic() + timeout
    while True:
        done, got = db.psql("SELECT bool_and(done IS NOT NULL), sum(rows) FILTER (WHERE "
                            f"table_name = '{snapshot.TABLE}') FROM pgcdc.snapshot_progress "
                            f"WHERE slot_name = '{slot}'").split("|")
        if done == "t" and int(got or 0) == rows:
            return
        if time.monotonic() > deadline:
            sys.exit(f"debezium.py: walstreamer's snapshot: done {done!r}, {got} of {rows:,} rows")
        time.sleep(0.2)


def part_snapshot(bench, args):
    """6: the initial snapshot of one big table, once per system."""
    rows = scaled(SNAPSHOT_ROWS, args.scale)
    db = bench.database("snap")
    snapshot.make_table(db, rows)
    out = {}
    with bench.worker():
        for system in SYSTEMS:
            with running(bench, system, db, [snapshot.TABLE], snapshot=True) as run:
                base = run.cpu()
                landed = wait_in_kafka(bench, run, [snapshot.TABLE], rows)
                r = figures(run, landed, base, run.started, rows)
                if system == WS:
                    check_snapshot(db, run.slot, rows)
            note("snapshot", 0, False, system, r)
            out[system] = r
    db.drop()
    return {"rows": rows, "runs": out}


# ----------------------------------------------------------------------------
# Results

def best(runs, key="seconds"):
    return min(r[key] for r in runs)


def med(runs, key="seconds"):
    return statistics.median(r[key] for r in runs)


def med_cpu(runs, what="process"):
    """Median CPU seconds per million changes."""
    return statistics.median(r["cpu"][what] / r["changes"] * 1e6 for r in runs)


def peak_mb(runs):
    return max(r["rss_kb"] for r in runs) / 1024


def num(v, fmt=".2f"):
    return "—" if math.isnan(v) else format(v, fmt)


def verdict(ok):
    return "PASS" if ok else "MISS"


def settings_text(d):
    return ", ".join(f"`{k}={v}`" for k, v in d.items())


def throughput_table(runs, extra_head="", extra=lambda rs: ""):
    out = [f"| system | best s | median s | changes/s (best) | peak RSS MB | CPU s / 1M changes: "
           f"process, walsender, broker (median) |{extra_head}",
           "|---|--:|--:|--:|--:|--:|" + ("--:|" if extra_head else "")]
    for s in SYSTEMS:
        rs = runs[s]
        out.append(f"| {s} | {best(rs):.2f} | {med(rs):.2f} | {rs[0]['changes'] / best(rs):,.0f} | "
                   f"{peak_mb(rs):.0f} | {med_cpu(rs):.2f}, {med_cpu(rs, 'walsender'):.2f}, "
                   f"{med_cpu(rs, 'broker'):.2f} |{extra(rs)}")
    return out


def goal_line(what, value, goal, at_most, figures_text, why=WHY):
    ok = value <= goal if at_most else value >= goal
    sign = "≤" if at_most else "≥"
    shown = f"1/{1 / goal:.0f}" if at_most and goal < 1 else f"{goal:g}×"
    lines = [f"- {what}: {figures_text}: walstreamer / Debezium **{value:.3g}×** "
             f"(goal {sign} {shown}): **{verdict(ok)}**"]
    if not ok:
        lines.append(f"  - {why}")
    return lines


def why_paced(runs):
    """A throughput miss where pgbench set the pace."""
    return ("why: pgbench set the pace: it took "
            f"{med(runs[WS], 'generated'):.1f} s and {med(runs[DBZ], 'generated'):.1f} s "
            f"(median) in the two systems' runs, which ended {med(runs[WS]):.1f} s and "
            f"{med(runs[DBZ]):.1f} s after its start: on two cores both keep up with it, and the "
            "ratio is of pgbench's speeds; part 2b measures the systems' own")


def why_shared(runs, small=False):
    """A throughput miss where walstreamer is not what takes the time
    (small: the workload's transactions are small)."""
    own = med_cpu(runs[WS]) / med_cpu(runs[DBZ])
    return ("why: walstreamer is not what takes the time: its own CPU per change is "
            f"{own:.3g}× Debezium's, but on two cores it runs beside the broker and the "
            "walsender, which spend "
            f"{med_cpu(runs[WS], 'broker'):.1f} and {med_cpu(runs[WS], 'walsender'):.1f} CPU s "
            f"per million changes to walstreamer's {med_cpu(runs[WS]):.1f}" +
            ("; small transactions (4 changes) cost the walsender and the broker per "
             "transaction, where part 1's one transaction does not" if small else ""))


def why_cpu_steady(runs, bulk):
    """A CPU miss at a steady rate of small transactions."""
    return ("why: at a steady rate walstreamer sends each small transaction within "
            "`linger.ms=5` (its p50 latency in part 3 is milliseconds), so every transaction "
            "costs it wake-ups, a produce request and a delivery report, where Debezium's task "
            "waits for `poll.interval.ms=500` or 2,048 records and sends batches (p50 hundreds of "
            f"ms): per change here {med_cpu(runs[WS]):.1f} against {med_cpu(runs[DBZ]):.1f} CPU s "
            f"per million; with a backlog or big transactions (parts 1, 2b, 6) it is {bulk}")


def goals(res):
    m, p, lat, snap = res["million"]["runs"], res["pgbench"]["runs"], res["latency"]["runs"], \
        res["snapshot"]["runs"]
    b = res["backlog"]["runs"]
    out = ["### Goals", ""]
    big = f"{res['million']['rows']:,}-row transaction"
    for name, runs, why in ((big, m, why_shared(m)), ("pgbench TPC-B", p, why_paced(p)),
                            ("pgbench backlog", b, why_shared(b, small=True))):
        ws, dbz = runs[WS][0]["changes"] / best(runs[WS]), runs[DBZ][0]["changes"] / best(runs[DBZ])
        out += goal_line(f"throughput, {name}", ws / dbz, THROUGHPUT_GOAL, False,
                         f"{ws:,.0f} vs {dbz:,.0f} changes/s (best)", why)
    peaks = [(big, m), ("pgbench TPC-B", p), ("pgbench backlog", b), ("latency", lat),
             ("snapshot", {s: [snap[s]] for s in SYSTEMS})]
    for name, runs in peaks:
        ws, dbz = peak_mb(runs[WS]), peak_mb(runs[DBZ])
        out += goal_line(f"memory (peak RSS), {name}", ws / dbz, RSS_GOAL, True,
                         f"{ws:.0f} MB vs {dbz:.0f} MB (the Connect JVM)")
    bulk = ", ".join(f"{med_cpu(runs[WS]) / med_cpu(runs[DBZ]):.3g}×" for _, runs in
                     (peaks[0], peaks[2], peaks[4]))
    for name, runs in peaks:
        ws, dbz = med_cpu(runs[WS]), med_cpu(runs[DBZ])
        out += goal_line(f"CPU per change, {name}", ws / dbz, CPU_GOAL, True,
                         f"{ws:.2f} vs {dbz:.2f} CPU s per million changes (process; median)",
                         why_cpu_steady(runs, bulk))
    ws, dbz = med(lat[WS], "p99"), med(lat[DBZ], "p99")
    out += [f"- latency p99 at {res['latency']['rate']:,} changes/s: {ws:.1f} ms vs {dbz:.1f} ms "
            f"(median of the runs): walstreamer / Debezium **{ws / dbz:.3g}×** (goal: lower): "
            f"**{verdict(ws < dbz)}**"] + ([] if ws < dbz else [f"  - {WHY}"])
    return out


def commands_text(res):
    """Each command that measured parts of the section, with its parts."""
    by = {}
    for part in PARTS:
        by.setdefault(res["commands"].get(part, "(not recorded)"), []).append(part)
    return [f"- command: `{cmd}`" + ("" if len(by) == 1 else f" (parts: {', '.join(parts)})")
            for cmd, parts in by.items()]


def rounds_text(res):
    """Scale and rounds, per part when they differ."""
    each = {part: (res[part].get("scale", res.get("scale")), res[part].get("rounds", res.get("runs")))
            for part in PARTS}
    if len(set(each.values())) == 1:
        scale, n = next(iter(each.values()))
        return f"- scale {scale:g}; {n} round{'s' if n > 1 else ''} after the warm-up"
    return "- scale and rounds after the warm-up: " + ", ".join(
        f"{part} {scale:g} / {n}" for part, (scale, n) in each.items())


def render(args, bench, res, info, plot_rel):
    machine, vers = info["machine"], info["versions"]
    m, p, lat, by, snap = (res[k] for k in ("million", "pgbench", "latency", "bytes", "snapshot"))
    sample = {k: v for k, v in info["connector"].items() if not k.startswith("database.")}
    out = [START, "## walstreamer vs Debezium", "",
           "Generated by `bench/debezium.py`; do not edit between the markers.", ""] + \
        commands_text(res) + [
           f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
           f"- machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM; "
           f"load average at the end {info['load']:.2f}",
           f"- server: {machine['postgres']} (settings: {decoder.settings_text()}; fsync off)",
           f"- broker: {info['broker']}; the data topics also have "
           "`message.timestamp.type=LogAppendTime`, and are deleted after their run",
           f"- walstreamer: {bench.walstreamer_info}; flags: "
           f"{settings_text(WS_FLAGS)}, `snapshot.mode=never` (part 6: its default, "
           "`initial`, with `snapshot.parallelism=2`, `snapshot.chunk.rows=8192`), and the run's "
           "`source`, `slot.name`, `topic.prefix`, `kafka.bootstrap.servers`; everything else its "
           "defaults (producer: `linger.ms=5`, idempotent, `acks=all`)",
           f"- Debezium: debezium-connector-postgres {vers['debezium']} on Kafka Connect "
           f"{vers['connect']} standalone, {info['java']}, JVM options `{' '.join(debezium.JVM_OPTS)}` "
           "(Kafka Connect's launcher defaults: what `connect-distributed.sh` gives without "
           "`KAFKA_HEAP_OPTS`); a fresh worker for "
           "each workload (1, 2, 3, 5, 6), shared by its rounds: its peak RSS in a workload is its "
           "VmHWM at the end of that workload's runs; worker settings "
           f"{settings_text(info['worker'])}; connector settings (a run's, e.g.) "
           f"{settings_text(sample)}, `database.*` naming the workload's database; everything "
           "else its defaults (snapshot.mode: `no_data`, part 6 `initial`; part 5's second run "
           f"also {settings_text(NO_SCHEMAS)})",
           "- method: every run a fresh topic prefix, slot and (Debezium) publication, the system "
           "streaming before the workload starts; \"in Kafka\" for both: the topics' high "
           f"watermarks polled every {POLL} s until they hold at least one message a change and "
           f"have not grown for {STABLE:g} s, then the latest LogAppendTime of the partitions' "
           "last messages is when the last change was in Kafka (broker and client on one "
           "machine, one clock); CPU seconds (user + system, /proc) from just before the workload "
           "to the first poll that saw the final count; peak RSS = VmHWM",
           "- rounds: parts 1-3: one warm-up round, then the rounds below, walstreamer then "
           "Debezium in each; best and median; parts 5 and 6 once per system",
           rounds_text(res), ""]

    out += [f"### 1. Throughput: one {m['rows']:,}-row transaction", "",
            "`INSERT INTO million(id int primary key, v text, n numeric) SELECT ... "
            "generate_series`, from the client's clock right after COMMIT returned to the last "
            "append. With `logical_decoding_work_mem=1GB` the transaction is decoded in memory "
            "at its commit for both (no spill, and walstreamer's `source.streaming` does not "
            "start).", ""]
    out += throughput_table(m["runs"]) + [""]

    out += [f"### 2. Throughput: pgbench TPC-B, {p['changes']:,} changes", "",
            f"`pgbench -i -s {p['scale']}` before the systems ran; each run `pgbench -n -c "
            f"{p['clients']} -j {p['jobs']} -t {p['per_client']:,}` ({p['transactions']:,} "
            "transactions of 3 updates and 1 insert into the keyless `pgbench_history`), from "
            "pgbench's start to the last append across the four topics; before each run "
            "`pgbench_history` emptied and the other tables vacuumed (before the slot exists).", ""]
    out += throughput_table(p["runs"], " pgbench's own s (median) |",
                            lambda rs: f" {med(rs, 'generated'):.2f} |") + [""]

    b = res["backlog"]
    out += [f"### 2b. Throughput: the same pgbench changes as a backlog", "",
            "As part 2, but pgbench runs while the system, streaming, is stopped (SIGSTOP of "
            "walstreamer's process, of the Connect JVM); from its SIGCONT to the last append. "
            "Part 2's times follow pgbench's pace when a system keeps up with it; this one is "
            "each system's own speed through the same changes.", ""]
    out += throughput_table(b["runs"], " pgbench's own s (median) |",
                            lambda rs: f" {med(rs, 'generated'):.2f} |") + [""]

    out += [f"### 3. Latency at {lat['rate']:,} changes/s", "",
            f"{lat['rows']:,} rows in {LAT_TX_ROWS}-row transactions on a fixed schedule "
            f"({lat['seconds']:g} s) into `lat(id bigint primary key, written_us bigint, note text)`, "
            f"after {PRIME_SECONDS} s of the same (not measured); a message's latency is its "
            "LogAppendTime (ms) minus `written_us` (clock_timestamp() in the writer's "
            "transaction, before its COMMIT).", "",
            "| system | p50 ms best / median | p99 ms best / median | max ms best / median | "
            "rate/s | peak RSS MB | CPU s / 1M changes: process, walsender, broker (median) |",
            "|---|--:|--:|--:|--:|--:|--:|"]
    for s in SYSTEMS:
        rs = lat["runs"][s]
        out.append(f"| {s} | {best(rs, 'p50'):.1f} / {med(rs, 'p50'):.1f} | "
                   f"{best(rs, 'p99'):.1f} / {med(rs, 'p99'):.1f} | {best(rs, 'max'):.1f} / "
                   f"{med(rs, 'max'):.1f} | {med(rs, 'rate'):,.0f} | {peak_mb(rs):.0f} | "
                   f"{med_cpu(rs):.2f}, {med_cpu(rs, 'walsender'):.2f}, {med_cpu(rs, 'broker'):.2f} |")
    out.append("")

    out += ["### 4. Memory and CPU", "",
            "Peak RSS (max over the runs; the Connect worker's over its workload) and CPU seconds "
            "per million changes (median), walstreamer against the Connect JVM, from parts 1-3 "
            "and 6:", "",
            "| workload | walstreamer MB | Connect JVM MB | RSS ratio | walstreamer CPU s/1M | "
            "Connect CPU s/1M | CPU ratio | walsender CPU s/1M, walstreamer / Debezium |",
            "|---|--:|--:|--:|--:|--:|--:|--:|"]
    snap_runs = {s: [snap["runs"][s]] for s in SYSTEMS}
    for name, runs in ((f"{m['rows']:,}-row transaction", m["runs"]), ("pgbench TPC-B", p["runs"]),
                       ("pgbench backlog", b["runs"]), ("latency", lat["runs"]),
                       ("snapshot", snap_runs)):
        ws_mb, dbz_mb = peak_mb(runs[WS]), peak_mb(runs[DBZ])
        ws_cpu, dbz_cpu = med_cpu(runs[WS]), med_cpu(runs[DBZ])
        out.append(f"| {name} | {ws_mb:.1f} | {dbz_mb:.0f} | {ws_mb / dbz_mb:.3f} | {ws_cpu:.2f} | "
                   f"{dbz_cpu:.2f} | {ws_cpu / dbz_cpu:.3f} | "
                   f"{num(med_cpu(runs[WS], 'walsender'))} / {num(med_cpu(runs[DBZ], 'walsender'))} |")
    out += ["", "(Part 6: the walsenders' CPU was not measured; the snapshots read through "
            "ordinary connections.)", ""]

    out += ["### 5. Bytes per change on the wire", "",
            f"decoder.py's workload (a) row, {by['inserts']:,} inserts, {by['updates']:,} updates, "
            f"{by['deletes']:,} deletes in 1,000-row transactions ({by['changes']:,} changes); key + "
            "value bytes of every message the run wrote (Debezium's tombstones after deletes "
            "included, its default), divided by the changes.", "",
            "| format | messages | tombstones | key bytes | value bytes | bytes per change |",
            "|---|--:|--:|--:|--:|--:|"]
    for f in by["formats"]:
        out.append(f"| {f['format']} | {f['messages']:,} | {f['tombstones']:,} | {f['key_bytes']:,} | "
                   f"{f['value_bytes']:,} | {f['per_change']:.1f} |")
    out += ["| pgcdc debezium-json | not yet (issue #21) | | | | |", ""]

    out += [f"### 6. Initial snapshot of {snap['rows']:,} rows", "",
            f"snapshot.py's `{snapshot.TABLE}` table, vacuumed (FREEZE, ANALYZE) and checkpointed "
            "first; once per system, from its start (walstreamer's process; Debezium's connector "
            "added to the running worker) until every row is in Kafka.", "",
            "| system | s | rows/s | peak RSS MB | CPU s: process, broker |", "|---|--:|--:|--:|--:|"]
    for s in SYSTEMS:
        r = snap["runs"][s]
        out.append(f"| {s} | {r['seconds']:.2f} | {r['changes'] / r['seconds']:,.0f} | "
                   f"{r['rss_kb'] / 1024:.0f} | {r['cpu']['process']:.2f}, {r['cpu']['broker']:.2f} |")
    ws, dbz = snap["runs"][WS]["seconds"], snap["runs"][DBZ]["seconds"]
    out += ["", f"- walstreamer / Debezium time: {ws / dbz:.3f}× ({dbz / ws:.1f}× faster)", ""]

    out += ["### 7. Sink", "", JDBC_SINK, ""]
    out += goals(res) + [""]
    if res.get("walstreamer_log"):
        out += ["walstreamer's log (`log.level=warning`), with the number of runs that logged each "
                "line:", ""] + \
            [f"- {n}× `` {line} ``" for line, n in list(res["walstreamer_log"].items())[:20]] + [""]
    if plot_rel:
        out += [f"![walstreamer and Debezium side by side]({plot_rel})", ""]
    out.append(END)
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------
# Plot

COLOURS = ("#4477aa", "#cc6677", "#ddaa33")

GNUPLOT = """
set terminal pngcairo size 1800,1050 font ",10" noenhanced
set output "{out}"
set multiplot layout 2,3 title "walstreamer (blue) and Debezium (red), same source, workloads and Kafka broker"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set grid ytics
set key top left
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set tmargin 4
"""


def panel(path, title, ylabel, categories, series, values, fmt="%.0f", log_y=False):
    """One clustered bar chart: a row per category, a bar per series, each
    labelled with its value."""
    with open(path + ".dat", "w") as f:
        for cat, row in zip(categories, values):
            f.write(f'"{cat}" ' + " ".join(f"{v:.6g}" for v in row) + "\n")
    n = len(series)
    width = 1 / (n + 1)
    plots = [f'"{path}.dat" using {i + 2}:xtic(1) title "{s}" lc rgb "{COLOURS[i]}"'
             for i, s in enumerate(series)]
    plots += [f'"{path}.dat" using ($0 + {(i - (n - 1) / 2) * width:.4f}):{i + 2}:'
              f'(sprintf("{fmt}", ${i + 2})) with labels offset 0,0.7 notitle'
              for i in range(n)]
    scale = "set logscale y\nset yrange [*:*]\n" if log_y else "unset logscale y\nset yrange [0:*]\n"
    return f'{scale}set title "{title}"\nset ylabel "{ylabel}"\nplot ' + ", ".join(plots) + "\n"


def plot(res, path):
    """One PNG, six panels: throughput, latency, peak RSS, CPU per million
    changes, bytes per change, snapshot time."""
    data = tempfile.mkdtemp(prefix="pgcdc-dbzplot-")
    try:
        m, p, b, lat, by, snap = (res[k] for k in PARTS)
        snap_runs = {s: [snap["runs"][s]] for s in SYSTEMS}
        # Short names: five bars pairs share a panel's width.
        big = f"{m['rows'] / 1e6:g}M-row tx" if m["rows"] >= 1e6 else f"{m['rows']:,}-row tx"
        work = ((big, m["runs"]), ("pgbench", p["runs"]), ("backlog", b["runs"]),
                ("latency", lat["runs"]), ("snapshot", snap_runs))
        script = GNUPLOT.format(out=path)
        script += panel(os.path.join(data, "tput"), "throughput, changes/s (best; log scale)",
                        "changes/s", [w for w, _ in work[:3]], SYSTEMS,
                        [[runs[s][0]["changes"] / best(runs[s]) for s in SYSTEMS]
                         for runs in (m["runs"], p["runs"], b["runs"])], log_y=True)
        script += panel(os.path.join(data, "lat"),
                        f"latency at {lat['rate']:,} changes/s, ms (median of the runs)", "ms",
                        ["p50", "p99"], SYSTEMS,
                        [[med(lat["runs"][s], k) for s in SYSTEMS] for k in ("p50", "p99")],
                        fmt="%.1f")
        script += panel(os.path.join(data, "rss"), "peak RSS, MB (log scale)", "MB",
                        [w for w, _ in work], SYSTEMS,
                        [[peak_mb(runs[s]) for s in SYSTEMS] for _, runs in work], log_y=True)
        script += panel(os.path.join(data, "cpu"),
                        "CPU s per million changes, process (median; log scale)", "CPU s",
                        [w for w, _ in work], SYSTEMS,
                        [[med_cpu(runs[s]) for s in SYSTEMS] for _, runs in work], fmt="%.1f",
                        log_y=True)
        script += panel(os.path.join(data, "bytes"),
                        f"bytes per change on the wire, key + value ({by['changes']:,} mixed changes)",
                        "bytes", ["bytes per change"], [f["format"] for f in by["formats"]],
                        [[f["per_change"] for f in by["formats"]]])
        script += panel(os.path.join(data, "snap"),
                        f"initial snapshot of {snap['rows']:,} rows, s", "s", ["snapshot"], SYSTEMS,
                        [[snap["runs"][s]["seconds"] for s in SYSTEMS]], fmt="%.1f")
        script += "unset multiplot\n"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    finally:
        shutil.rmtree(data, ignore_errors=True)


# ----------------------------------------------------------------------------

def main():
    args = parse_args()
    if shutil.which("gnuplot") is None:
        sys.exit("debezium.py: gnuplot not found (apt-get install gnuplot-nox)")
    t0 = time.monotonic()
    bench = Bench(args)
    try:
        res = {"commands": {}}
        if args.reuse:
            with open(args.reuse) as f:
                res = json.load(f)
            res.setdefault("commands", {})
        argv = shlex.join(["python3", os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
        functions = {"million": part_million, "pgbench": part_pgbench, "backlog": part_backlog,
                     "latency": part_latency, "bytes": part_bytes, "snapshot": part_snapshot}
        for name in PARTS:
            if name not in args.parts:
                if name not in res:
                    sys.exit(f"debezium.py: {args.reuse} has no figures of part {name}")
                continue
            t = time.monotonic()
            res[name] = functions[name](bench, args)
            res[name]["scale"], res[name]["rounds"] = args.scale, args.runs
            res["commands"][name] = argv
            log(f"== {name}: {time.monotonic() - t:.0f} s")
        info = {"machine": decoder.machine_info(bench.cluster), "load": os.getloadavg()[0],
                "versions": debezium.version(), "java": brokers.java_version(),
                "broker": bench.broker.describe(PARTITIONS),
                "connector": debezium.postgres_connector(bench.cluster, "<run>", "<run>")}
        res["versions"] = {"kafka": bench.broker.version, **info["versions"]}
        # What a rendering from --reuse figures shows too: the worker's
        # settings (without this run's ports and files), walstreamer's log.
        if bench.worker_settings:
            res["worker"] = {k: v for k, v in bench.worker_settings.items()
                             if k not in ("offset.storage.file.filename", "listeners",
                                          "bootstrap.servers")}
        log_lines = res.setdefault("walstreamer_log", {})
        for line, n in bench.complaints.items():
            log_lines[line] = log_lines.get(line, 0) + n
        info["worker"] = res.get("worker", {})
    finally:
        bench.close()
    png = os.path.join(os.path.abspath(args.plot), "debezium.png")
    plot(res, png)
    rel = os.path.relpath(png, os.path.dirname(os.path.abspath(args.output)))
    decoder.write_results(args.output, render(args, bench, res, info, rel), START, END)
    log(f"wrote {args.output} and {png} in {time.monotonic() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
