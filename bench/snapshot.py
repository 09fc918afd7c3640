#!/usr/bin/env python3
"""Snapshot benchmark: walstreamer's initial snapshot of one big table into
Kafka, against COPY TO STDOUT of the same table (issue 19).

usage: python3 bench/snapshot.py [--build DIR] [--baseline-build DIR] [--runs N] [--quick]
                                 [--output FILE] [--json FILE] [--broker kafka|dev|both]

In a fresh throwaway cluster, one employee-shaped table of ROWS rows (~100
bytes a row; --quick: QUICK_ROWS), vacuumed and analyzed before anything is
timed.  Per round, interleaved:

- the anchor: psql running COPY (SELECT * FROM employee) TO STDOUT into
  /dev/null, wall time (psql's start and connection included);
- walstreamer (--build) on each broker of --broker, a fresh slot and topics
  of the run's own (bench/brokers.py), snapshot.mode=initial: with its
  defaults (snapshot.parallelism=2, snapshot.chunk.rows=8192) and with
  snapshot.parallelism=1; timed from process start until it logs "snapshot
  complete: N rows, all acknowledged", i.e. every chunk read and acknowledged
  by the broker, and pgcdc.snapshot_progress says done;
- with --baseline-build, the same with that build's walstreamer, e.g. one
  of commit a28411c, whose snapshot read each table with a cursor in one
  snapshot exported by a temporary slot (the path before incremental
  snapshots); it logs the same line.

walstreamer's peak RSS (VmHWM) is read when the line appears, before it is
stopped; CPU seconds of walstreamer and of the broker (over the run) too.
One warm-up round (none with --quick), then --runs rounds; best and median.

The dev broker keeps ~5 MB a partition and drops the oldest beyond that: the
full table (~300 MB of records) is measured on Kafka only, and a dev broker
asked for is left out, which the results say.  At --quick's size it runs
(what it acknowledges is timed; it may have dropped some of it by the end).

The snapshot section of the output file (between its markers) is rewritten.
Nothing is built here: ninja -C build first.
"""

import argparse
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

import prelude  # first: Debian's python3, tests/ on sys.path

import brokers
import confluent_kafka
import decoder
from streamer import cpu_seconds, proc_status_kb
from support import daemonproc, pgtemp

ROOT = prelude.ROOT

START = "<!-- snapshot-bench:start -->"
END = "<!-- snapshot-bench:end -->"

ROWS = 2_000_000
QUICK_ROWS = 100_000
# The most rows the dev broker is asked to take: ~200 bytes a record in 4
# partitions is ~5 MB a partition at QUICK_ROWS, about what it keeps.
DEV_MAX_ROWS = QUICK_ROWS
PARTITIONS = 4              # as in streamer.py: walstreamer → broker
TABLE = "employee"
COPY_TARGET = 0.8           # incremental snapshot with defaults ≥ 0.8× COPY's rows/s
RSS_TARGET_MB = 64
TIMEOUT = 1800              # s for one snapshot, at most

# Deterministic functions of the id g: ~13,000 distinct names, eight
# departments, unique e-mails, 2-decimal salaries, dates over 30 years, 10%
# inactive.  ~100 bytes a row on disk (reported by table_info).
COLUMNS = """
    id int PRIMARY KEY,
    name text NOT NULL,
    department text,
    salary numeric(12,2),
    hired date,
    email text,
    active boolean"""

VALUES = """
    g,
    (ARRAY['Ada','Ben','Chloe','Dmitri','Elena','Farid','Grace','Hiro','Ines','Jonas',
           'Kemal','Lena','Mateo','Nia','Oskar','Priya','Quentin','Rosa','Sven','Yuki'])[1 + g % 20]
      || ' ' || chr(65 + (g / 20) % 26) || '. ' ||
    (ARRAY['Smith','Garcia','Nguyen','Müller','Rossi','Kowalski','Tanaka','Okafor','Silva',
           'Dubois','Larsen','Novak','Haddad','Ivanova','Kim','Moreau','Patel','Berg',
           'Costa','Fischer','Lopez','Schmidt','Wong','Yilmaz','Zhang'])[1 + (g / 520) % 25],
    (ARRAY['Engineering','Sales','Support','Finance','Marketing','Operations','Legal',
           'Research'])[1 + g % 8],
    round(30000 + (g::bigint * 7919) % 120000 + (g % 97) / 100.0, 2),
    date '1995-01-01' + (g * 13) % 11000,
    'employee.' || g || '@example.com',
    g % 10 <> 0"""

COPY = "COPY (SELECT * FROM employee) TO STDOUT"
NO_BROKER = "—"


class Path:
    """One walstreamer configuration: its labels, its build, a copy of its
    binary and the keys it gets beyond the run's own."""

    def __init__(self, label, short, settings, build, binary, keys=None):
        self.label, self.short, self.settings = label, short, settings
        self.build, self.binary, self.keys = build, binary, keys or {}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--baseline-build", default=None,
                   help="also measure this build's walstreamer (e.g. commit a28411c: one exported "
                        "snapshot, a cursor per table)")
    p.add_argument("--runs", type=int, default=3, help="timed rounds (default 3; --quick 1)")
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_ROWS:,} rows, one round, no warm-up")
    p.add_argument("--output", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    p.add_argument("--json", default=None, help="also write the figures as JSON here")
    p.add_argument("--rows", type=int, default=None, help=f"rows of the table (default {ROWS:,})")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a walstreamer setting for the current build's runs (repeatable), to try one")
    brokers.add_option(p, default="kafka")
    args = p.parse_args()
    args.rows = args.rows or (QUICK_ROWS if args.quick else ROWS)
    args.extra = dict(kv.split("=", 1) for kv in args.set)
    if args.quick:
        args.runs = 1
    return args


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build_info(build, binary):
    """Which walstreamer: the commit of the build's source tree, local
    changes under streamer/ or daemon/, the binary's hash."""
    src = ROOT
    try:
        with open(os.path.join(build, "meson-info", "meson-info.json")) as f:
            src = json.load(f)["directories"]["source"]
    except (OSError, KeyError, ValueError):
        pass

    def git(*a):
        return subprocess.run(["git", "-C", src] + list(a), capture_output=True,
                              text=True).stdout.strip()
    with open(binary, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    dirty = git("status", "--porcelain", "--", "streamer", "daemon")
    return (f"commit {git('rev-parse', '--short', 'HEAD') or '?'}"
            f"{' + uncommitted changes in streamer/ or daemon/' if dirty else ''}, "
            f"walstreamer sha256 {digest}")


def copy_binary(build, tmp, name):
    """A copy of build's walstreamer: a rebuild during the run changes nothing."""
    path = os.path.join(build, "streamer", "walstreamer")
    if not os.path.exists(path):
        sys.exit(f"snapshot.py: {path} not found; build first: ninja -C {build}")
    return shutil.copy2(path, os.path.join(tmp, name))


def make_table(cluster, rows):
    """The table, its rows, hint bits set and statistics taken, so that no
    reader pays for the first visit."""
    cluster.psql(f"CREATE TABLE {TABLE} ({COLUMNS})")
    t0 = time.perf_counter()
    cluster.psql(f"INSERT INTO {TABLE} SELECT {VALUES} FROM generate_series(1, {rows}) g")
    cluster.psql(f"VACUUM (FREEZE, ANALYZE) {TABLE}")
    cluster.psql("CHECKPOINT")
    log(f"{rows:,} rows in {time.perf_counter() - t0:.1f} s")


def table_info(cluster):
    heap, avg = cluster.psql(
        f"SELECT pg_relation_size('{TABLE}'), (SELECT avg(pg_column_size(t.*)) FROM {TABLE} t)"
    ).split("|")
    return {"heap_mb": int(heap) / 2**20, "row_bytes": float(avg)}


def copy_anchor(cluster):
    """Seconds for psql to COPY the table to /dev/null."""
    argv = [cluster.install.prog("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
            "-d", cluster.dsn(), "-c", COPY]
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, start_new_session=True)
    return time.perf_counter() - t0


def topic_messages(bootstrap, topic):
    """Messages the broker holds or held in topic: the sum of its high watermarks."""
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "snapbench-count"})
    try:
        md = c.list_topics(topic, timeout=10)
        return sum(c.get_watermark_offsets(confluent_kafka.TopicPartition(topic, p),
                                           timeout=10)[1]
                   for p in md.topics[topic].partitions)
    finally:
        c.close()


COMPLETE = re.compile(r"snapshot complete: (\d+) rows")


def snapshot_run(cluster, path, broker, tmp, n, rows):
    """One walstreamer snapshot of the table, on a fresh slot and topics:
    {seconds, rss_kb, cpu, chunks, messages}."""
    slot = f"snapbench_{n}"
    logfile = os.path.join(tmp, f"{slot}.log")
    with broker.run([TABLE], PARTITIONS) as run:
        keys = {"source": cluster.dsn(), "slot.name": slot,
                "kafka.bootstrap.servers": run.bootstrap, "topic.prefix": run.prefix,
                "heartbeat.interval.ms": "0", "status.interval.ms": "1000",
                "log.level": "info", **path.keys}
        broker_cpu = cpu_seconds(run.pid)
        with open(logfile, "w") as logf:
            start = time.perf_counter()
            proc = subprocess.Popen([path.binary] + [f"--{k}={v}" for k, v in keys.items()],
                                    stdout=subprocess.DEVNULL, stderr=logf)
        try:
            got = wait_complete(proc, logfile, start)
            elapsed = time.perf_counter() - start
            rss = proc_status_kb(proc.pid, "VmHWM")
            cpu = {"walstreamer": cpu_seconds(proc.pid),
                   "broker": cpu_seconds(run.pid) - broker_cpu}
        finally:
            daemonproc.terminate(proc)
        if got != rows:
            sys.exit(f"snapshot.py: {path.label} sent {got:,} rows, the table has {rows:,}")
        # The current build's own account; the baseline has no such table.
        chunks, done = cluster.psql(
            "SELECT coalesce(sum(chunks), 0), coalesce(bool_and(done IS NOT NULL)::text, 'none') "
            f"FROM pgcdc.snapshot_progress WHERE slot_name = '{slot}'").split("|")
        if done == "false":
            sys.exit(f"snapshot.py: {path.label} logged completion, but "
                     "pgcdc.snapshot_progress has a table not done")
        messages = topic_messages(run.bootstrap, run.topic(TABLE))
        if messages < rows:
            sys.exit(f"snapshot.py: {run.topic(TABLE)} holds {messages:,} messages, fewer than "
                     f"the {rows:,} rows")
        if broker.kind == "kafka":
            broker.cluster.delete_topic(run.topic(TABLE))   # ~200 bytes a row on disk
    cluster.psql(f"SELECT pg_drop_replication_slot('{slot}')")
    return {"seconds": elapsed, "rss_kb": rss, "cpu": cpu,
            "chunks": int(chunks) if done == "true" else None, "messages": messages}


def wait_complete(proc, logfile, start):
    """Rows of the "snapshot complete" line, once walstreamer logs it."""
    seen = ""
    with open(logfile) as f:
        while True:
            seen = (seen + f.read())[-4096:]
            m = COMPLETE.search(seen)
            if m:
                return int(m.group(1))
            if proc.poll() is not None:
                sys.exit(f"snapshot.py: walstreamer exited with {proc.returncode}:\n{seen[-2000:]}")
            if time.perf_counter() - start > TIMEOUT:
                sys.exit(f"snapshot.py: no snapshot complete after {TIMEOUT} s:\n{seen[-2000:]}")
            time.sleep(0.01)


def paths(args, tmp):
    build = os.path.abspath(args.build)
    current = copy_binary(build, tmp, "walstreamer")
    extra = "".join(f", {k}={v}" for k, v in args.extra.items())
    out = [Path("walstreamer, incremental, defaults", "incremental, defaults",
                "snapshot.parallelism=2, snapshot.chunk.rows=8192 (defaults)" + extra, build, current,
                dict(args.extra)),
           Path("walstreamer, incremental, parallelism 1", "incremental, parallelism 1",
                "snapshot.parallelism=1, snapshot.chunk.rows=8192" + extra, build, current,
                {"snapshot.parallelism": "1", **args.extra})]
    if args.baseline_build:
        base = os.path.abspath(args.baseline_build)
        old = copy_binary(base, tmp, "walstreamer-baseline")
        out.append(Path("walstreamer, baseline build, defaults", "baseline, defaults",
                        "its defaults (snapshot.parallelism=2)", base, old))
    return out


def pick_brokers(args):
    """--broker's kinds; the dev broker only up to DEV_MAX_ROWS rows."""
    kinds = list(brokers.KINDS) if args.broker == "both" else [args.broker]
    if args.rows > DEV_MAX_ROWS and "dev" in kinds:
        kinds.remove("dev")
        why = (f"the dev broker keeps ~5 MB a partition: {args.rows:,} rows are measured on "
               "Kafka only")
        if not kinds:
            sys.exit(f"snapshot.py: {why} (--broker kafka, or --quick)")
        log(f"snapshot.py: {why}; dev broker left out")
        args.left_out = why
    return "both" if len(kinds) == 2 else kinds[0]


def main():
    args = parse_args()
    args.left_out = None
    choice = pick_brokers(args)
    build = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix="pgcdc-snapbench-")
    kinds, cluster = [], None
    try:
        todo = paths(args, tmp)
        info = {p.label: build_info(p.build, p.binary) for p in todo}
        cluster = pgtemp.Cluster(pgtemp.pgcdc_install(build), "bench-snapshot",
                                 settings=decoder.SETTINGS, plugins="pgcdc").start()
        cluster.psql("CREATE EXTENSION pgcdc")
        make_table(cluster, args.rows)
        table = table_info(cluster)
        kinds = brokers.make(choice, PARTITIONS, os.path.join(build, "tests", "devbroker"))
        copies = []
        runs = {(p.label, b.label): [] for p in todo for b in kinds}
        n = 0
        rounds = args.runs + (0 if args.quick else 1)
        for rnd in range(rounds):
            warm = rounds > args.runs and rnd == 0
            got = {"COPY": copy_anchor(cluster)}
            for p in todo:
                for b in kinds:
                    n += 1
                    r = snapshot_run(cluster, p, b, tmp, n, args.rows)
                    got[(p.label, b.label)] = r
            log(f"round {rnd}{' (warm-up)' if warm else ''}: COPY {got['COPY']:.2f} s, " +
                ", ".join(f"{p.short} [{b.label}] {got[(p.label, b.label)]['seconds']:.2f} s "
                          f"{got[(p.label, b.label)]['rss_kb'] / 1024:.1f} MB"
                          for p in todo for b in kinds))
            if warm:
                continue
            copies.append(got["COPY"])
            for k in runs:
                runs[k].append(got[k])
        machine = decoder.machine_info(cluster)
        load = os.getloadavg()[0]
        described = [b.describe(PARTITIONS) for b in kinds]
    finally:
        for b in kinds:
            b.close()
        if cluster:
            cluster.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    write(args, todo, kinds, copies, runs, table, machine, load, described, info)


def write(args, todo, kinds, copies, runs, table, machine, load, described, info):
    rows = args.rows
    copy_best = min(copies)
    copy_rate = rows / copy_best
    argv = shlex.join(["python3", os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    rounds = (f"{args.runs} timed round(s)" + ("" if args.quick else " after one warm-up round") +
              ", COPY and every walstreamer run interleaved; best and median")
    out = [START, "## Snapshot benchmark", "",
           "Generated by `bench/snapshot.py`; do not edit between the markers.", "",
           f"- command: `{argv}`",
           f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
           f"- machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM; "
           f"load average at the end {load:.2f}",
           f"- server: {machine['postgres']} (settings: {decoder.settings_text()})"]
    out += [f"- {p.short}: {info[p.label]}" for p in todo if "parallelism 1" not in p.label]
    out += [f"- table: `{TABLE}({' '.join(COLUMNS.split())})`, {rows:,} rows, "
            f"{table['row_bytes']:.0f} bytes a row (pg_column_size), heap {table['heap_mb']:.0f} MB, "
            "vacuumed (FREEZE, ANALYZE) before the first read",
           f"- anchor: `psql -c \"{COPY}\"` into /dev/null, wall time (psql's start included)",
           "- walstreamer: snapshot.mode=initial on a fresh slot and a fresh topic.prefix per "
           f"run (topic created in advance, {PARTITIONS} partitions), otherwise the settings of "
           "each row; timed from process start until it logs \"snapshot complete: N rows, all "
           "acknowledged\" (N checked against the table, the topic's messages too); peak RSS "
           "(VmHWM) read then, before it is stopped",
           f"- {rounds}",
           "- brokers:"] + [f"  - {d}" for d in described]
    if args.left_out:
        out.append(f"  - dev broker: not measured ({args.left_out})")
    out += ["", "| path | settings | broker | best s | median s | rows/s (best) | × COPY (best) "
            "| peak RSS MB (max) | CPU s walstreamer / broker (median) |",
            "|---|---|---|--:|--:|--:|--:|--:|--:|",
            f"| COPY TO STDOUT → /dev/null (anchor) | — | {NO_BROKER} | {copy_best:.2f} | "
            f"{statistics.median(copies):.2f} | {copy_rate:,.0f} | 1.00 | — | — |"]
    best = {}
    for p in todo:
        for b in kinds:
            rs = runs[(p.label, b.label)]
            t = min(r["seconds"] for r in rs)
            best[(p.label, b.label)] = t
            out.append(f"| {p.label} | {p.settings} | {b.label} | {t:.2f} | "
                       f"{statistics.median(r['seconds'] for r in rs):.2f} | {rows / t:,.0f} | "
                       f"{copy_best / t:.2f} | {max(r['rss_kb'] for r in rs) / 1024:.1f} | "
                       f"{statistics.median(r['cpu']['walstreamer'] for r in rs):.2f} / "
                       f"{statistics.median(r['cpu']['broker'] for r in rs):.2f} |")
    out.append("")
    default, single = todo[0], todo[1]
    base = todo[2] if len(todo) > 2 else None
    for b in kinds:
        t = best[(default.label, b.label)]
        ratio = copy_best / t
        rss = max(r["rss_kb"] for r in runs[(default.label, b.label)]) / 1024
        chunks = runs[(default.label, b.label)][-1]["chunks"]
        line = (f"- {b.label}: incremental snapshot, defaults: **{rows / t:,.0f} rows/s**, "
                f"**{ratio:.2f}×** COPY's rows/s (target ≥ {COPY_TARGET}×: "
                f"**{'PASS' if ratio >= COPY_TARGET else 'MISS'}**); peak RSS **{rss:.1f} MB** "
                f"(target ≤ {RSS_TARGET_MB} MB: **{'PASS' if rss <= RSS_TARGET_MB else 'MISS'}**); "
                f"{chunks} chunks; parallelism 1 takes "
                f"**{best[(single.label, b.label)] / t:.2f}×** the time of parallelism 2")
        if base:
            tb = best[(base.label, b.label)]
            line += (f"; baseline build / incremental time: **{tb / t:.2f}×** (target ≥ 1.00: "
                     f"**{'PASS' if tb / t >= 1.0 else 'MISS'}**), baseline "
                     f"{copy_best / tb:.2f}× COPY's rows/s")
        else:
            line += "; baseline build: not measured (no --baseline-build)"
        out.append(line)
    out.append("- one table: with snapshot.parallelism=2 two connections share its parts (key ranges "
               "from a sample of its keys); on a 2-CPU machine that the server's encoding, walstreamer and "
               "the broker already keep busy, the second connection adds contention, not speed")
    if args.quick:
        out.append(f"- --quick: {rows:,} rows, one round, no warm-up: fixed costs (connections, "
                   "slot creation, the first produce to new topics, a cold Kafka JIT) weigh "
                   "far more than at full size; these figures only show it runs")
    out += ["", END]
    decoder.write_results(args.output, "\n".join(out) + "\n", START, END)
    log(f"wrote {args.output}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "copy": {"best": copy_best, "times": copies},
                       "paths": [{"path": p.label, "short": p.short, "settings": p.settings,
                                  "broker": b.label, "best": best[(p.label, b.label)],
                                  "runs": runs[(p.label, b.label)]}
                                 for p in todo for b in kinds]}, f)


if __name__ == "__main__":
    main()
