#!/usr/bin/env python3
"""Streamer benchmark: slot → Kafka with walstreamer, against pg_recvlogical.

usage: python3 bench/streamer.py [--build DIR] [--runs N] [--scale F] [--output FILE]

On the decoder benchmark's workload (a) in a fresh throwaway cluster, with
the slots created before the workload so that every run reads the same WAL
(each run streams a fresh pg_copy_logical_replication_slot copy):

- walstreamer → the dev broker, timed from process start until the slot's
  confirmed_flush_lsn reaches the end of the workload, i.e. until Kafka has
  acknowledged every message (walstreamer confirms nothing earlier); its
  peak RSS (VmHWM) is read just before it is stopped;
- pg_recvlogical with pgoutput (proto_version 1, the publication) writing to
  /dev/null: the anchor of the target, walstreamer ≥ 2× faster;
- pg_recvlogical with pgcdc to /dev/null, one record per message and with
  the batch-bytes walstreamer asks for: the decoder over the walsender
  alone, i.e. what Kafka adds on top of it.

CPU seconds (user + system, from /proc) of walstreamer (all its threads),
the walsender serving it and the dev broker are read at the end of each run.
One warm-up round, then --runs interleaved rounds; best and median.

Then, in the same cluster, one 1,000,000-row transaction (the issue's memory
target): walstreamer's time to have it all acknowledged and its peak RSS.

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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import decoder  # noqa: E402
import pgtemp  # noqa: E402
from devbroker import DevBroker  # noqa: E402

# The batch-bytes walstreamer asks the decoder for (streamer/stream.h).
STREAM_BATCH = 256 * 1024

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


def walstreamer(cluster, binary, devbroker, slot, end, n):
    """Seconds until Kafka acknowledged everything through end, peak RSS in
    kB, and CPU seconds of walstreamer, its walsender and the dev broker."""
    import psycopg2
    copy = f"ws_run_{n}"
    copy_slot(cluster, slot, copy)
    conn = psycopg2.connect(cluster.dsn())
    conn.autocommit = True
    cur = conn.cursor()
    with DevBroker(brokers=3, binary=devbroker) as broker:
        argv = [binary, f"--source={cluster.dsn()}", f"--slot.name={copy}",
                f"--kafka.bootstrap.servers={broker.bootstrap}", "--snapshot.mode=never",
                "--heartbeat.interval.ms=0", "--status.interval.ms=1000", "--log.level=warning"]
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
               "dev broker": cpu_seconds(broker.proc.pid)}
        proc.terminate()
        proc.wait(60)
    conn.close()
    cluster.psql(f"SELECT pg_drop_replication_slot('{copy}')")
    return elapsed, rss, cpu


def million_row_transaction(cluster, binary, devbroker):
    """(seconds, peak RSS kB) for one 1,000,000-row transaction."""
    cluster.psql("CREATE TABLE million (id int PRIMARY KEY, v text, n numeric)")
    cluster.psql("SELECT pg_create_logical_replication_slot('bench_million', 'pgcdc')")
    cluster.psql("INSERT INTO million SELECT g, 'row ' || g, g * 0.5 FROM generate_series(1, 1000000) g")
    decoder.wait_flushed(cluster)
    end = lsn(cluster.psql("SELECT pg_current_wal_lsn()"))
    t, rss, _ = walstreamer(cluster, binary, devbroker, "bench_million", end, "million")
    return t, rss


PATHS = ("walstreamer → Kafka (all acknowledged)", "pg_recvlogical pgoutput → /dev/null",
         "pg_recvlogical pgcdc → /dev/null",
         f"pg_recvlogical pgcdc batch-bytes={STREAM_BATCH} → /dev/null")


def main():
    args = parse_args()
    build = os.path.abspath(args.build)
    binary = os.path.join(build, "streamer", "walstreamer")
    devbroker = os.path.join(build, "tests", "devbroker")
    install = pgtemp.pgcdc_install(build)
    w = decoder.WORKLOADS["a"].scaled(args.scale)
    cluster = pgtemp.Cluster(install, "bench-streamer", settings=decoder.SETTINGS,
                             plugins="pgoutput, pgcdc").start()
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
        times = {k: [] for k in PATHS}
        rss, cpus = [], []
        for run in range(args.runs + 1):
            t, r, cpu = walstreamer(cluster, binary, devbroker, "bench_pgcdc", end, run)
            t2 = recvlogical(cluster, "bench_pgoutput", decoder.PGOUTPUT_OPTS, endpos)
            t3 = recvlogical(cluster, "bench_pgcdc", (), endpos)
            t4 = recvlogical(cluster, "bench_pgcdc", ("batch-bytes", str(STREAM_BATCH)), endpos)
            if run == 0:
                continue    # warm-up
            for k, v in zip(PATHS, (t, t2, t3, t4)):
                times[k].append(v)
            rss.append(r)
            cpus.append(cpu)
            print(f"run {run}: walstreamer {t:.2f} s ({r / 1024:.1f} MB), pg_recvlogical "
                  f"pgoutput {t2:.2f} s, pgcdc {t3:.2f} s, batched {t4:.2f} s", file=sys.stderr)
        big_t = big_rss = None
        if not args.no_million:
            big_t, big_rss = million_row_transaction(cluster, binary, devbroker)
            print(f"1M-row transaction: {big_t:.2f} s, {big_rss / 1024:.1f} MB", file=sys.stderr)
        machine = decoder.machine_info(cluster)
    finally:
        cluster.destroy()

    best = {k: min(v) for k, v in times.items()}
    ws = best[PATHS[0]]
    anchor = best[PATHS[1]]
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
           "- walstreamer: default settings, to the dev broker (3 brokers on loopback, same "
           "machine), timed from process start until the slot's confirmed_flush_lsn reaches "
           "the end of the workload; pg_recvlogical: `--start --endpos` to /dev/null; one "
           f"warm-up round, then best and median of {args.runs} interleaved runs", "",
           "| path | best s | median s | changes/s (best) |", "|---|--:|--:|--:|"]
    for k, v in times.items():
        out.append(f"| {k} | {min(v):.2f} | {statistics.median(v):.2f} | {w.changes / min(v):,.0f} |")
    speedup = anchor / ws
    med_cpu = {k: statistics.median(c[k] for c in cpus) for k in cpus[0]}
    out += ["",
            f"- walstreamer vs pg_recvlogical (pgoutput): **{speedup:.2f}×** faster "
            f"(target ≥ 2.0×: **{'PASS' if speedup >= 2.0 else 'MISS'}**)",
            f"- walstreamer vs pg_recvlogical (pgcdc batched, no Kafka): "
            f"{best[PATHS[3]] / ws:.2f}× its speed",
            "- CPU seconds per run (median): " +
            ", ".join(f"{k} {v:.2f}" for k, v in med_cpu.items()),
            f"- walstreamer peak RSS on this workload: {max(rss) / 1024:.1f} MB",
            (f"- one 1,000,000-row transaction: acknowledged in {big_t:.2f} s, walstreamer peak RSS "
             f"**{big_rss / 1024:.1f} MB** (target ≤ 50 MB: **{'PASS' if big_rss <= 50 * 1024 else 'MISS'}**)"
             if big_t is not None else "- one 1,000,000-row transaction: not run (--no-million)"),
            "", END]
    decoder.write_results(args.output, "\n".join(out) + "\n", START, END)
    print(f"wrote {args.output}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"changes": w.changes, "paths": best}, f)


if __name__ == "__main__":
    main()
