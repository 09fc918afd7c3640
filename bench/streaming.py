#!/usr/bin/env python3
"""Streamed transactions: time from a big transaction's COMMIT to the target
holding it, source.streaming on against off, in the same run.

usage: python3 bench/streaming.py [--build DIR] [--rows N] [--runs N]

One real Kafka broker (bench/brokers.py), a source and a target cluster
(pgtemp) with logical_decoding_work_mem at PostgreSQL's default, 64 MB.  Per
round, for on and then off: a fresh slot, topic prefix, consumer group and
table; walstreamer and walsink running (the sink's partitions assigned)
before the transaction starts; then one transaction inserts --rows rows
(id int primary key, v text, n numeric) and commits.  Measured from the
COMMIT's return: until the broker holds the table's first message (negative:
before the commit), and until the target holds every row (count(*) polled
every 100 ms).  Each daemon's peak RSS (VmHWM) is read before it stops.
Medians over --runs rounds, and the ratio off / on.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

import prelude  # first: Debian's python3, tests/ on sys.path

import brokers
import psycopg2
from streamer import proc_status_kb
from support import daemonproc, pgtemp
from support.kafkaread import watermarks

ROOT = prelude.ROOT
PARTITIONS = 4
SETTINGS = {"logical_decoding_work_mem": "64MB", "max_wal_size": "4GB", "shared_buffers": "512MB",
            "max_replication_slots": "20", "max_wal_senders": "20"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    return p.parse_args()


class Daemon:
    def __init__(self, binary, log, keys):
        import subprocess
        self.proc = subprocess.Popen([binary] + [f"--{k}={v}" for k, v in keys.items()],
                                     stdout=subprocess.DEVNULL, stderr=open(log, "a"))
        self.log = log

    def rss_mb(self):
        kb = proc_status_kb(self.proc.pid, "VmHWM")
        return kb / 1024 if kb else float("nan")

    def stop(self):
        return daemonproc.terminate(self.proc)


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    sys.exit(f"streaming.py: timed out waiting for {what}")


def one(args, b, source, target, tmp, streaming, n):
    name = f"t_{streaming}_{n}"
    slot = f"s_{streaming}_{n}"
    rows = args.rows
    for c in (source, target):
        c.psql(f"CREATE TABLE {name} (id int PRIMARY KEY, v text, n numeric)")
    with b.run([name], PARTITIONS) as r:
        topic = r.topic(name)
        ws = Daemon(os.path.join(tmp, "walstreamer"), os.path.join(tmp, f"{slot}.walstreamer.log"),
                    {"source": source.dsn(), "slot.name": slot, "kafka.bootstrap.servers": r.bootstrap,
                     "topic.prefix": r.prefix, "snapshot.mode": "never", "heartbeat.interval.ms": "0",
                     "source.streaming": streaming, "table.include.list": f"public.{name}"})
        wk = Daemon(os.path.join(tmp, "walsink"), os.path.join(tmp, f"{slot}.walsink.log"),
                    {"target": target.dsn(), "kafka.bootstrap.servers": r.bootstrap, "topic.prefix": r.prefix,
                     "group.id": f"g_{slot}"})
        wait(lambda: source.psql(f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'") == "1",
             60, "the slot")
        # The sink ready: a first row through the whole pipeline.
        source.psql(f"INSERT INTO {name} VALUES (0, 'ready', 0)")
        wait(lambda: target.psql(f"SELECT count(*) FROM {name}") == "1", 120, "the first row")
        first = {}

        def watch():
            while "t" not in first:
                marks = watermarks(r.bootstrap, [topic])
                if sum(marks.values()) > 1:
                    first["t"] = time.perf_counter()
                    return
                time.sleep(0.05)
        t = threading.Thread(target=watch, daemon=True)
        t.start()
        conn = psycopg2.connect(source.dsn())
        cur = conn.cursor()
        cur.execute(f"INSERT INTO {name} SELECT g, 'row ' || g, g * 0.5 FROM generate_series(1, {rows}) g")
        conn.commit()
        committed = time.perf_counter()
        conn.close()
        wait(lambda: target.psql(f"SELECT count(*) FROM {name}") == str(rows + 1), 1800, "the rows")
        applied = time.perf_counter()
        t.join(60)
        out = {"applied": applied - committed, "first": first.get("t", applied) - committed,
               "walstreamer_mb": ws.rss_mb(), "walsink_mb": wk.rss_mb()}
        ws.stop()
        wk.stop()
    source.psql(f"SELECT pg_drop_replication_slot('{slot}')")
    for c in (source, target):
        c.psql(f"DROP TABLE {name}")
    return out


def main():
    args = parse_args()
    tmp = tempfile.mkdtemp(prefix="pgcdc-streamingbench-")
    for b, d in (("walstreamer", "streamer"), ("walsink", "sink")):
        shutil.copy2(os.path.join(args.build, d, b), tmp)
    install = pgtemp.pgcdc_install(args.build)
    source = pgtemp.Cluster(install, "streambench-src", settings=SETTINGS).start()
    target = pgtemp.Cluster(install, "streambench-dst", settings=SETTINGS).start()
    b = brokers.make("kafka", PARTITIONS, None)[0]
    results = {"on": [], "off": []}
    try:
        source.psql("CREATE EXTENSION pgcdc")
        for n in range(args.runs):
            for mode in ("on", "off"):
                r = one(args, b, source, target, tmp, mode, n)
                results[mode].append(r)
                print(f"round {n + 1} streaming {mode:3}: COMMIT → target {r['applied']:6.2f} s, first message "
                      f"{r['first']:+6.2f} s from COMMIT, walstreamer {r['walstreamer_mb']:.1f} MB, "
                      f"walsink {r['walsink_mb']:.1f} MB", flush=True)
    finally:
        b.close()
        source.destroy()
        target.destroy()
        shutil.rmtree(tmp, ignore_errors=True)
    med = {m: {k: statistics.median(r[k] for r in results[m]) for k in results[m][0]} for m in results}
    print(f"\n{args.rows:,}-row transaction, medians of {args.runs} (2 cores, one Kafka broker):")
    print("| streaming | COMMIT → target | first message vs COMMIT | walstreamer RSS | walsink RSS |")
    print("|---|---|---|---|---|")
    for m in ("on", "off"):
        x = med[m]
        print(f"| {m} | {x['applied']:.2f} s | {x['first']:+.2f} s | {x['walstreamer_mb']:.1f} MB | "
              f"{x['walsink_mb']:.1f} MB |")
    print(f"COMMIT → target, off / on: {med['off']['applied'] / med['on']['applied']:.2f}×")


if __name__ == "__main__":
    main()
