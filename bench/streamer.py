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
- pg_recvlogical with pgcdc to /dev/null: the decoder over the walsender
  alone, i.e. what Kafka adds on top of it.

One warm-up round, then --runs interleaved rounds; best and median.  The
streamer section of the output file (between its markers) is rewritten.
Nothing is built here: ninja -C build first.
"""

import argparse
import datetime
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

START = "<!-- streamer-bench:start -->"
END = "<!-- streamer-bench:end -->"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--output", default=os.path.join(ROOT, "bench", "RESULTS.md"))
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


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def walstreamer(cluster, binary, devbroker, slot, end, n):
    """Seconds until Kafka acknowledged everything, and peak RSS in kB."""
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
            cur.execute("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = %s",
                        (copy,))
            row = cur.fetchone()
            if row and lsn(row[0]) >= end:
                break
            if proc.poll() is not None:
                sys.exit(f"streamer.py: walstreamer exited with {proc.returncode}")
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        rss = peak_rss_kb(proc.pid)
        proc.terminate()
        proc.wait(60)
    conn.close()
    cluster.psql(f"SELECT pg_drop_replication_slot('{copy}')")
    return elapsed, rss


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
        times = {"walstreamer → Kafka (all acknowledged)": [], "pg_recvlogical pgoutput → /dev/null": [],
                 "pg_recvlogical pgcdc → /dev/null": []}
        rss = []
        for run in range(args.runs + 1):
            t, r = walstreamer(cluster, binary, devbroker, "bench_pgcdc", end, run)
            t2 = recvlogical(cluster, "bench_pgoutput", decoder.PGOUTPUT_OPTS, endpos)
            t3 = recvlogical(cluster, "bench_pgcdc", (), endpos)
            if run == 0:
                continue    # warm-up
            times["walstreamer → Kafka (all acknowledged)"].append(t)
            times["pg_recvlogical pgoutput → /dev/null"].append(t2)
            times["pg_recvlogical pgcdc → /dev/null"].append(t3)
            rss.append(r)
            print(f"run {run}: walstreamer {t:.2f} s ({r / 1024:.1f} MB), "
                  f"pg_recvlogical pgoutput {t2:.2f} s, pgcdc {t3:.2f} s", file=sys.stderr)
        machine = decoder.machine_info(cluster)
    finally:
        cluster.destroy()

    best = {k: min(v) for k, v in times.items()}
    ws = best["walstreamer → Kafka (all acknowledged)"]
    anchor = best["pg_recvlogical pgoutput → /dev/null"]
    argv = shlex.join(["python3", os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    out = [START, "## Streamer benchmark", "",
           "Generated by `bench/streamer.py`; do not edit between the markers.", "",
           f"- command: `{argv}`",
           f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
           f"- machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM",
           f"- server: {machine['postgres']}",
           f"- workload: {decoder.describe(w)}, {wal / 2**20:.0f} MB of WAL; every run streams "
           "a fresh copy of a slot created before the workload",
           "- walstreamer: to the dev broker (3 brokers on loopback), from process start until "
           "the slot's confirmed_flush_lsn reaches the end of the workload; one warm-up round, "
           f"then best and median of {args.runs} interleaved runs", "",
           "| path | best s | median s | changes/s (best) |", "|---|--:|--:|--:|"]
    for k, v in times.items():
        out.append(f"| {k} | {min(v):.2f} | {statistics.median(v):.2f} | {w.changes / min(v):,.0f} |")
    speedup = anchor / ws
    out += ["",
            f"- walstreamer vs pg_recvlogical (pgoutput): {speedup:.2f}× faster "
            f"(target ≥ 2.0×: {'PASS' if speedup >= 2.0 else 'MISS'})",
            f"- walstreamer vs pg_recvlogical (pgcdc, no Kafka): "
            f"{best['pg_recvlogical pgcdc → /dev/null'] / ws:.2f}× its speed",
            f"- walstreamer peak RSS: {max(rss) / 1024:.1f} MB (target ≤ 50 MB through the 1M-row "
            "transaction: see `tests/streamer/test_big.py`)", "", END]
    decoder.write_results(args.output, "\n".join(out) + "\n", START, END)
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
