#!/usr/bin/env python3
"""Streamer benchmark: slot → Kafka with walstreamer, against pg_recvlogical.

usage: python3 bench/streamer.py [--build DIR] [--runs N] [--scale F] [--output FILE]
                                 [--broker kafka|dev|both]

On the decoder benchmark's workload (a) in a fresh throwaway cluster, with
the slots created before the workload so that every run reads the same WAL
(each run streams a fresh pg_copy_logical_replication_slot copy):

- walstreamer → each broker of --broker, reading the pgcdc plugin and,
  the same WAL, pgoutput (source.plugin = pgoutput, through the
  publication: the managed-service path) (bench/brokers.py: one real Kafka
  broker started once, topics of its own per run; a fresh dev broker per
  run), timed from process start until the slot's confirmed_flush_lsn
  reaches the end of the workload, i.e. until the broker has acknowledged
  every message (walstreamer confirms nothing earlier); its peak RSS (VmHWM)
  is read just before it is stopped;
- pg_recvlogical with pgoutput (proto_version 1, the publication) writing to
  /dev/null: the anchor of the target, walstreamer ≥ 2× faster;
- pg_recvlogical with pgcdc to /dev/null, one record per message and with
  the batch-bytes walstreamer asks for: the decoder over the walsender
  alone, i.e. what Kafka adds on top of it.

CPU seconds (user + system, from /proc) of walstreamer (all its threads),
the walsender serving it and the broker (over the run) are read at the end of
each run.  One warm-up round, then --runs interleaved rounds; best and median.

Then, in the same cluster, one 1,000,000-row transaction (the issue's memory
target), on each broker: walstreamer's time to have it all acknowledged and
its peak RSS.

The streamer section of the output file (between its markers) is rewritten.
Nothing is built here: ninja -C build first.
"""

import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

import prelude  # first: Debian's python3, tests/ on sys.path

import brokers
import decoder
import psycopg2
from support import pgtemp

ROOT = prelude.ROOT

# The batch-bytes walstreamer asks the decoder for (streamer/stream.h).
STREAM_BATCH = 256 * 1024
# Partitions of every topic, created in advance on either broker: what the
# dev broker gives a topic it creates on first use, which this benchmark
# relied on before topics were created here.
PARTITIONS = 4

START = "<!-- streamer-bench:start -->"
END = "<!-- streamer-bench:end -->"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--output", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    p.add_argument("--json", default=None,
                   help="also write the figures as JSON here (bench/run.py plots them)")
    p.add_argument("--no-million", action="store_true",
                   help="skip the 1,000,000-row transaction (bench/run.py --quick)")
    brokers.add_option(p)
    return p.parse_args()


def lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def copy_slot(cluster, src, dst):
    cluster.psql(f"SELECT pg_copy_logical_replication_slot('{src}', '{dst}')")


def recvlogical(cluster, slot, plugin_opts, endpos):
    copy = slot + "_copy"
    copy_slot(cluster, slot, copy)
    argv = [cluster.install.prog("pg_recvlogical"), "-d", cluster.dsn(), "--slot", copy,
            "--start", "--endpos", endpos, "--no-loop", "-f", "/dev/null"]
    for name, value in zip(plugin_opts[::2], plugin_opts[1::2]):
        argv += ["-o", f"{name}={value}"]
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    cluster.psql(f"SELECT pg_drop_replication_slot('{copy}')")
    return elapsed


def proc_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User + system CPU of a process, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def walstreamer(cluster, binary, broker, table, slot, end, n, extra=()):
    """Seconds until the broker acknowledged everything through end, peak RSS
    in kB, and CPU seconds of walstreamer, its walsender and the broker (over
    the run).  extra: more --KEY=VALUE flags."""
    copy = f"ws_run_{n}"
    copy_slot(cluster, slot, copy)
    conn = psycopg2.connect(cluster.dsn())
    conn.autocommit = True
    cur = conn.cursor()
    with broker.run([table], PARTITIONS) as run:
        argv = [binary, f"--source={cluster.dsn()}", f"--slot.name={copy}",
                f"--kafka.bootstrap.servers={run.bootstrap}", f"--topic.prefix={run.prefix}",
                "--snapshot.mode=never", "--heartbeat.interval.ms=0",
                "--status.interval.ms=1000", "--log.level=warning", *extra]
        broker_cpu = cpu_seconds(run.pid)
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        while True:
            cur.execute("SELECT confirmed_flush_lsn, active_pid FROM pg_replication_slots "
                        "WHERE slot_name = %s", (copy,))
            row = cur.fetchone()
            if row and row[0] and lsn(row[0]) >= end:
                break
            if proc.poll() is not None:
                sys.exit(f"streamer.py: walstreamer exited with {proc.returncode}")
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        rss = proc_status_kb(proc.pid, "VmHWM")
        cpu = {"walstreamer": cpu_seconds(proc.pid), "walsender": cpu_seconds(row[1]),
               "broker": cpu_seconds(run.pid) - broker_cpu}
        proc.terminate()
        proc.wait(60)
    conn.close()
    cluster.psql(f"SELECT pg_drop_replication_slot('{copy}')")
    return elapsed, rss, cpu


MILLION = 1_000_000


def million_row_transaction(cluster, binary, kinds):
    """{broker label: (seconds, peak RSS kB)} for one 1,000,000-row
    transaction, streamed once to each broker."""
    cluster.psql("CREATE TABLE million (id int PRIMARY KEY, v text, n numeric)")
    cluster.psql("SELECT pg_create_logical_replication_slot('bench_million', 'pgcdc')")
    cluster.psql(f"INSERT INTO million SELECT g, 'row ' || g, g * 0.5 "
                 f"FROM generate_series(1, {MILLION}) g")
    decoder.wait_flushed(cluster)
    end = lsn(cluster.psql("SELECT pg_current_wal_lsn()"))
    out = {}
    for b in kinds:
        t, rss, _ = walstreamer(cluster, binary, b, "million", "bench_million", end,
                                f"million_{b.kind}")
        out[b.label] = (t, rss)
        print(f"1M-row transaction, {b.label}: {t:.2f} s, {rss / 1024:.1f} MB", file=sys.stderr)
    return out


WALSTREAMER = "walstreamer → broker (all acknowledged)"
WALSTREAMER_PGO = "walstreamer, source.plugin=pgoutput → broker (all acknowledged)"
PGO_FLAGS = ("--source.plugin=pgoutput", f"--publication.name={decoder.PUBLICATION}",
             "--publication.autocreate=disabled")
# pg_recvlogical into /dev/null: (path, short label for the plot, slot, plugin options).
RECVLOGICAL = (
    ("pg_recvlogical pgoutput → /dev/null", "pg_recvlogical pgoutput", "bench_pgoutput",
     decoder.PGOUTPUT_OPTS),
    ("pg_recvlogical pgcdc → /dev/null", "pg_recvlogical pgcdc", "bench_pgcdc", ()),
    (f"pg_recvlogical pgcdc batch-bytes={STREAM_BATCH} → /dev/null", "pg_recvlogical pgcdc batched",
     "bench_pgcdc", ("batch-bytes", str(STREAM_BATCH))),
)
NO_BROKER = "—"


def main():
    args = parse_args()
    build = os.path.abspath(args.build)
    binary = os.path.join(build, "streamer", "walstreamer")
    install = pgtemp.pgcdc_install(build)
    w = decoder.WORKLOADS["a"].scaled(args.scale)
    cluster = pgtemp.Cluster(install, "bench-streamer", settings=decoder.SETTINGS,
                             plugins="pgoutput, pgcdc").start()
    kinds = []
    try:
        cluster.psql("CREATE EXTENSION pgcdc")
        cluster.psql(f"CREATE TABLE {w.table} ({w.columns})")
        cluster.psql(f"CREATE PUBLICATION {decoder.PUBLICATION} FOR ALL TABLES")
        cluster.psql("SELECT pg_create_logical_replication_slot('bench_pgcdc', 'pgcdc')")
        cluster.psql("SELECT pg_create_logical_replication_slot('bench_pgoutput', 'pgoutput')")
        wal = decoder.run_workload(cluster, w)
        decoder.wait_flushed(cluster)
        endpos = cluster.psql("SELECT pg_current_wal_lsn()")
        end = lsn(endpos)
        kinds = brokers.make(args.broker, PARTITIONS, os.path.join(build, "tests", "devbroker"))
        # (path, broker label): seconds of every timed run
        times = {(path, b.label): [] for b in kinds for path in (WALSTREAMER, WALSTREAMER_PGO)}
        times.update({(path, NO_BROKER): [] for path, _, _, _ in RECVLOGICAL})
        rss = {(path, b.label): [] for b in kinds for path in (WALSTREAMER, WALSTREAMER_PGO)}
        cpus = {(path, b.label): [] for b in kinds for path in (WALSTREAMER, WALSTREAMER_PGO)}
        for run in range(args.runs + 1):
            got = {}
            for b in kinds:
                for path, slot, extra in ((WALSTREAMER, "bench_pgcdc", ()),
                                          (WALSTREAMER_PGO, "bench_pgoutput", PGO_FLAGS)):
                    t, r, cpu = walstreamer(cluster, binary, b, w.table, slot, end,
                                            f"{run}_{b.kind}_{slot}", extra)
                    got[(path, b.label)] = t
                    if run:
                        rss[(path, b.label)].append(r)
                        cpus[(path, b.label)].append(cpu)
            for path, _, slot, opts in RECVLOGICAL:
                got[(path, NO_BROKER)] = recvlogical(cluster, slot, opts, endpos)
            print(f"run {run}{' (warm-up)' if run == 0 else ''}: " + ", ".join(
                f"walstreamer → {b.label} {got[(WALSTREAMER, b.label)]:.2f} s, "
                f"with pgoutput {got[(WALSTREAMER_PGO, b.label)]:.2f} s" for b in kinds) +
                ", pg_recvlogical " + ", ".join(
                f"{short.replace('pg_recvlogical ', '')} {got[(path, NO_BROKER)]:.2f} s" for path, short, _, _ in RECVLOGICAL),
                file=sys.stderr)
            if run == 0:
                continue    # warm-up
            for k, v in got.items():
                times[k].append(v)
        big = {} if args.no_million else million_row_transaction(cluster, binary, kinds)
        machine = decoder.machine_info(cluster)
        described = [b.describe(PARTITIONS) for b in kinds]
    finally:
        for b in kinds:
            b.close()
        cluster.destroy()

    best = {k: min(v) for k, v in times.items()}
    anchor = best[(RECVLOGICAL[0][0], NO_BROKER)]
    batched = best[(RECVLOGICAL[2][0], NO_BROKER)]
    argv = shlex.join(["python3", os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    out = [START, "## Streamer benchmark", "",
           "Generated by `bench/streamer.py`; do not edit between the markers.", "",
           f"- command: `{argv}`",
           f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
           f"- machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM",
           f"- server: {machine['postgres']}",
           f"- pgcdc: {decoder.source_info(os.path.join(build, 'decoder', 'pgcdc.so'))}",
           f"- workload: {decoder.describe(w).split(chr(10))[-1]}, {wal / 2**20:.0f} MB of WAL; "
           "every run streams a fresh copy of a slot created before the workload",
           "- walstreamer: default settings, to each broker below (same machine), timed from "
           "process start until the slot's confirmed_flush_lsn reaches the end of the "
           "workload; pg_recvlogical: `--start --endpos` to /dev/null; one warm-up round, then "
           f"best and median of {args.runs} interleaved runs",
           "- brokers:"] + [f"  - {d}" for d in described] + ["",
           "| path | broker | best s | median s | changes/s (best) |", "|---|---|--:|--:|--:|"]
    for (path, broker), v in times.items():
        out.append(f"| {path} | {broker} | {min(v):.2f} | {statistics.median(v):.2f} | "
                   f"{w.changes / min(v):,.0f} |")
    out.append("")
    for b in kinds:
        ws = best[(WALSTREAMER, b.label)]
        speedup = anchor / ws
        med_cpu = {k: statistics.median(c[k] for c in cpus[(WALSTREAMER, b.label)])
                   for k in cpus[(WALSTREAMER, b.label)][0]}
        out += [f"- {b.label}: walstreamer vs pg_recvlogical (pgoutput): **{speedup:.2f}×** "
                f"faster (target ≥ 2.0×: **{'PASS' if speedup >= 2.0 else 'MISS'}**); "
                f"{batched / ws:.2f}× the speed of pg_recvlogical (pgcdc batched, no Kafka); "
                "CPU seconds per run (median): " +
                ", ".join(f"{k} {v:.2f}" for k, v in med_cpu.items()) +
                f"; walstreamer peak RSS {max(rss[(WALSTREAMER, b.label)]) / 1024:.1f} MB"]
        pgo = best[(WALSTREAMER_PGO, b.label)]
        pgo_rss = max(rss[(WALSTREAMER_PGO, b.label)]) / 1024
        med_cpu = {k: statistics.median(c[k] for c in cpus[(WALSTREAMER_PGO, b.label)])
                   for k in cpus[(WALSTREAMER_PGO, b.label)][0]}
        out += [f"- {b.label}, source.plugin=pgoutput: vs pg_recvlogical (pgoutput) **{anchor / pgo:.2f}×** "
                f"faster (target ≥ 2.0×: **{'PASS' if anchor / pgo >= 2.0 else 'MISS'}**); "
                f"**{ws / pgo:.2f}×** the speed of the pgcdc plugin's path (target ≥ 0.8×: "
                f"**{'PASS' if ws / pgo >= 0.8 else 'MISS'}**); CPU seconds per run (median): " +
                ", ".join(f"{k} {v:.2f}" for k, v in med_cpu.items()) +
                f"; walstreamer peak RSS **{pgo_rss:.1f} MB** (target ≤ 50 MB: "
                f"**{'PASS' if pgo_rss <= 50 else 'MISS'}**)"]
    for label, (t, r) in big.items():
        out.append(f"- {label}: one {MILLION:,}-row transaction acknowledged in {t:.2f} s "
                   f"(**{MILLION / t:,.0f} changes/s**), walstreamer peak RSS "
                   f"**{r / 1024:.1f} MB** (target ≤ 50 MB: **{'PASS' if r <= 50 * 1024 else 'MISS'}**)")
    if not big:
        out.append(f"- one {MILLION:,}-row transaction: not run (--no-million)")
    out += ["", END]
    decoder.write_results(args.output, "\n".join(out) + "\n", START, END)
    print(f"wrote {args.output}", file=sys.stderr)
    if args.json:
        shorts = {path: short for path, short, _, _ in RECVLOGICAL}
        shorts[WALSTREAMER] = "walstreamer -> broker"
        shorts[WALSTREAMER_PGO] = "walstreamer pgoutput -> broker"
        with open(args.json, "w") as f:
            json.dump({"changes": w.changes,
                       "paths": [{"path": path, "short": shorts[path],
                                  "broker": None if broker == NO_BROKER else broker, "best": t}
                                 for (path, broker), t in best.items()],
                       "million": {label: {"seconds": t, "rss_kb": r}
                                   for label, (t, r) in big.items()}}, f)


if __name__ == "__main__":
    main()
