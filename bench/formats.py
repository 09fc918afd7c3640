#!/usr/bin/env python3
"""Formats benchmark: walstreamer's protobuf against its Debezium JSON, with
and without schemas, slot → Kafka and Kafka → walsink (issue 21).

usage: python3 bench/formats.py [--build DIR] [--runs N] [--scale F] [--output FILE]

One source and one target cluster and one real Kafka broker (sink.py's
Bench: pgtemp clusters, bench/brokers.py's Kafka, the daemons copied out of
the build), all on this machine.  The decoder benchmark's workload (a) runs
once in the source, after the slot every run copies is created, so that
every run streams the same WAL.

1. Slot → Kafka: per round, interleaved, walstreamer with each FORMATS
   entry's value.format (streamer.py's walstreamer(): a fresh copy of the
   slot, a topic of the run's own with streamer.PARTITIONS partitions
   created in advance, timed from process start until the copy's
   confirmed_flush_lsn reaches the end of the workload, i.e. until Kafka
   acknowledged every message; peak RSS (VmHWM) read just before it is
   stopped; CPU seconds of walstreamer, its walsender and the broker).  The
   latest run's topic of each format is kept, the earlier ones deleted.
   Then each kept topic is read back whole with confluent_kafka: messages,
   tombstones, and key, value and header bytes; bytes per change are the
   sums ÷ the workload's row changes (a delete's tombstone counts with it).

2. Kafka → walsink: per round, interleaved, walsink (sink.py's
   run_walsink_apply: default settings, a fresh group.id, a fresh target
   database holding an empty copy of the table) reading each kept topic
   from offset 0, with topic.prefix the one walstreamer wrote under and
   input.format debezium-json for the JSON topics (protobuf: walsink's
   default, auto, as sink.py runs it); timed from process start until its
   positions stored in the target cover every message; the target checked
   against the source after each run.

One warm-up round, then --runs rounds of each part; best and median.  The
target: debezium-json without schemas ≥ TARGET × protobuf's changes/s,
slot → Kafka.  The formats section of the output file (between its markers)
is rewritten.  Nothing is built here: ninja -C build first.
"""

import argparse
import collections
import contextlib
import datetime
import os
import re
import shlex
import statistics
import sys

import prelude  # first: Debian's python3, tests/ on sys.path

import confluent_kafka
import decoder
import sink
import streamer

ROOT = prelude.ROOT

START = "<!-- formats-bench:start -->"
END = "<!-- formats-bench:end -->"

# sink.fill_source creates it, one per broker kind, before the workload.
SLOT = "bench_fill_kafka"
TABLE = sink.TABLE
# Debezium JSON without schemas, slot → Kafka, against protobuf's changes/s.
TARGET = 0.6

Format = collections.namedtuple("Format", "key label streamer_flags sink_keys")
FORMATS = (
    Format("protobuf", "protobuf (default)", (), {}),
    Format("json", "debezium-json, schemas.enable=off",
           ("--value.format=debezium-json", "--schemas.enable=off"),
           {"input.format": "debezium-json"}),
    Format("json_schemas", "debezium-json, schemas.enable=on",
           ("--value.format=debezium-json", "--schemas.enable=on"),
           {"input.format": "debezium-json"}),
)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"),
                   help="meson build directory (default: build)")
    p.add_argument("--runs", type=int, default=3, help="timed rounds of each part (default 3)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply workload (a)'s row counts (e.g. 0.05 while developing)")
    p.add_argument("--output", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    args = p.parse_args()
    args.broker = "kafka"       # sink.Bench's brokers: the real one only
    return args


class Bench(sink.Bench):
    """sink.py's clusters, broker and daemons; walsink started with the
    keys of the format it is to read (run_walsink_apply takes none)."""

    sink_keys = {}

    def sink(self, db, run, group, metrics_port=None, extra=None):
        return super().sink(db, run, group, metrics_port, {**self.sink_keys, **(extra or {})})


class Keeping:
    """A broker for streamer.walstreamer() that keeps the run it opened: its
    prefix names the topic walstreamer wrote, which part 2 reads."""

    def __init__(self, broker):
        self.broker, self.last = broker, None

    @contextlib.contextmanager
    def run(self, tables, partitions):
        with self.broker.run(tables, partitions) as r:
            self.last = r
            yield r


def topic_sizes(bootstrap, topic):
    """Every message of topic read back: how many, tombstones among them,
    and their key, value and header bytes."""
    marks = sink.watermarks(bootstrap, topic)
    if any(lo for lo, _ in marks.values()):
        sys.exit(f"formats.py: {topic} was trimmed: {marks}")
    total = sum(hi for _, hi in marks.values())
    out = dict.fromkeys(("messages", "tombstones", "key", "value", "headers"), 0)
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "bench_formats_size",
                                  "enable.auto.commit": False})
    try:
        c.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in marks])
        idle = 0
        while out["messages"] < total:
            batch = c.consume(10000, 1.0)
            idle = 0 if batch else idle + 1
            if idle > 30:
                sys.exit(f"formats.py: read {out['messages']} of {total} messages of {topic}")
            for m in batch:
                if m.error():
                    sys.exit(f"formats.py: reading {topic}: {m.error()}")
                value = m.value()
                out["messages"] += 1
                out["tombstones"] += value is None
                out["key"] += len(m.key() or b"")
                out["value"] += len(value or b"")
                out["headers"] += sum(len(k) + len(v or b"") for k, v in m.headers() or ())
    finally:
        c.close()
    return out


def part_stream(bench, db, end, args):
    """Part 1: {format key: [run, ...]} and {format key: the Run of its
    latest run, whose topic is kept}."""
    broker = bench.brokers[0]
    runs = {f.key: [] for f in FORMATS}
    kept = {}
    for rnd in range(args.runs + 1):
        got = []
        for f in FORMATS:
            k = Keeping(broker)
            t, rss, cpu = streamer.walstreamer(db, bench.walstreamer, k, TABLE, SLOT, end,
                                               f"{rnd}_{f.key}", f.streamer_flags)
            if f.key in kept:
                broker.cluster.delete_topic(kept[f.key].topic(TABLE))
            kept[f.key] = k.last
            got.append(f"{f.label} {t:.2f} s, {rss / 1024:.0f} MB")
            if rnd:
                runs[f.key].append({"time": t, "rss": rss / 1024, "cpu": cpu})
        sink.log(f"slot → Kafka, round {rnd}{' (warm-up)' if not rnd else ''}: " + "; ".join(got))
    return runs, kept


def part_apply(bench, kept, sizes, expect, args):
    """Part 2: {format key: [run_walsink_apply's result, ...]}."""
    broker = bench.brokers[0]
    runs = {f.key: [] for f in FORMATS}
    for rnd in range(args.runs + 1):
        got = []
        for f in FORMATS:
            bench.sink_keys = f.sink_keys
            s = sink.run_walsink_apply(bench, broker, kept[f.key], sizes[f.key]["messages"], expect)
            got.append(f"{f.label} {s['wall']:.2f} s, {s['rss']:.0f} MB")
            if rnd:
                runs[f.key].append(s)
        sink.log(f"Kafka → walsink, round {rnd}{' (warm-up)' if not rnd else ''}: " + "; ".join(got))
    bench.sink_keys = {}
    return runs


def median_cpu(runs):
    return {k: statistics.median(r["cpu"][k] for r in runs) for k in runs[0]["cpu"]}


def cpu_text(cpu):
    return ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())


def render(argv, bench, machine, vers, wal, stream, sizes, applied, args):
    w = bench.w
    broker = bench.brokers[0]
    so = os.path.join(os.path.abspath(args.build), "decoder", "pgcdc.so")
    out = [START, "## Formats benchmark: pgcdc protobuf against Debezium JSON", "",
           "Generated by `bench/formats.py`; do not edit between the markers.", "",
           f"- command: `{argv}`",
           f"- date: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
           f"- machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory']} RAM; "
           f"load average at the end {os.getloadavg()[0]:.2f}",
           f"- server: {machine['postgres']} (source and target clusters, "
           f"settings: {decoder.settings_text()})",
           f"- pgcdc: {decoder.source_info(so)}; {vers['walstreamer']}; {vers['walsink']}",
           f"- workload (a): {decoder.describe(w).split(chr(10))[-1]}, {wal / 2**20:.0f} MB of "
           "WAL; every walstreamer run streams a fresh copy of a slot created before the "
           "workload",
           f"- broker: {broker.describe(streamer.PARTITIONS)}",
           f"- one warm-up round, then {args.runs} round(s) of each part, the formats interleaved "
           "in each; best and median", ""]

    out += ["### 1. Slot → Kafka: walstreamer", "",
            "walstreamer with default settings but `value.format` (and `schemas.enable`), "
            "`snapshot.mode=never`, `heartbeat.interval.ms=0` (bench/streamer.py's runs), timed "
            "from process start until the slot copy's confirmed_flush_lsn reaches the end of the "
            "workload: everything produced and acknowledged by Kafka. CPU seconds (user + system, "
            "/proc) of walstreamer, of the walsender serving it, and of the broker over the run; "
            "peak RSS (VmHWM) read just before walstreamer is stopped. With debezium-json, "
            "`tombstones.on.delete` is on (its default there): a delete is two messages.", "",
            "| value.format | best s | median s | changes/s best | changes/s median | "
            "× protobuf (best) | × protobuf (median) | CPU s walstreamer | CPU s walsender | "
            "CPU s broker | peak RSS MB |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    best = {k: min(x["time"] for x in v) for k, v in stream.items()}
    med = {k: statistics.median(x["time"] for x in v) for k, v in stream.items()}
    for f in FORMATS:
        r = stream[f.key]
        cpu = median_cpu(r)
        out.append(f"| {f.label} | {best[f.key]:.2f} | {med[f.key]:.2f} | "
                   f"{w.changes / best[f.key]:,.0f} | {w.changes / med[f.key]:,.0f} | "
                   f"{best['protobuf'] / best[f.key]:.2f}× | {med['protobuf'] / med[f.key]:.2f}× | "
                   f"{cpu['walstreamer']:.2f} | {cpu['walsender']:.2f} | {cpu['broker']:.2f} | "
                   f"{max(x['rss'] for x in r):.1f} |")
    out += ["", "CPU seconds: medians; peak RSS: the maximum over the rounds.", "",
            "Bytes on the wire: each format's topic (its last round's) read back whole with "
            "confluent_kafka; per change = the sum over its messages ÷ the workload's "
            f"{w.changes:,} row changes.", "",
            "| value.format | messages | of them tombstones | key B/change | value B/change | "
            "**key + value B/change** | × protobuf | headers B/change |",
            "|---|--:|--:|--:|--:|--:|--:|--:|"]
    per = {k: (s["key"] + s["value"]) / w.changes for k, s in sizes.items()}
    for f in FORMATS:
        s = sizes[f.key]
        out.append(f"| {f.label} | {s['messages']:,} | {s['tombstones']:,} | "
                   f"{s['key'] / w.changes:,.1f} | {s['value'] / w.changes:,.1f} | "
                   f"**{per[f.key]:,.1f}** | {per[f.key] / per['protobuf']:.2f}× | "
                   f"{s['headers'] / w.changes:,.1f} |")
    json_ratio = best["protobuf"] / best["json"]
    out += ["",
            f"- debezium-json without schemas: **{json_ratio:.2f}×** protobuf's changes/s (best), "
            f"{med['protobuf'] / med['json']:.2f}× (median) (target ≥ {TARGET}×: "
            f"**{sink.verdict(json_ratio >= TARGET)}**); with schemas "
            f"**{best['protobuf'] / best['json_schemas']:.2f}×** (best), "
            f"{med['protobuf'] / med['json_schemas']:.2f}× (median), no target",
            f"- bytes per change (key + value): protobuf {per['protobuf']:,.0f} B; debezium-json "
            f"{per['json']:,.0f} B ({per['json'] / per['protobuf']:.1f}×), with schemas "
            f"{per['json_schemas']:,.0f} B ({per['json_schemas'] / per['protobuf']:.1f}×)", ""]

    out += ["### 2. Kafka → walsink", "",
            "walsink (sink.py's apply runs: default settings, a fresh group.id, a fresh target "
            "database with an empty copy of the table) reading from offset 0 the topic part 1's "
            "last round wrote in each format, with that round's `topic.prefix`; `input.format` "
            "debezium-json for the JSON topics, its default (auto) for protobuf. Timed from "
            "process start until the positions walsink stores in the target (with the rows) "
            "cover every message, tombstones included; changes/s = the workload's row changes ÷ "
            "that time. The target is checked against the source after every run. "
            f"The topics have {streamer.PARTITIONS} partitions, bench/streamer.py's (bench/sink.py "
            f"fills {sink.PARTITIONS}).", "",
            "| topic's value.format | walsink input.format | best s | median s | changes/s best | "
            "changes/s median | × protobuf (best) | × protobuf (median) | first commit at s "
            "(median) | CPU s walsink | CPU s its backend | peak RSS MB |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    best = {k: min(x["wall"] for x in v) for k, v in applied.items()}
    med = {k: statistics.median(x["wall"] for x in v) for k, v in applied.items()}
    for f in FORMATS:
        r = applied[f.key]
        cpu = median_cpu(r)
        out.append(f"| {f.label} | {f.sink_keys.get('input.format', 'auto (default)')} | "
                   f"{best[f.key]:.2f} | {med[f.key]:.2f} | {w.changes / best[f.key]:,.0f} | "
                   f"{w.changes / med[f.key]:,.0f} | {best['protobuf'] / best[f.key]:.2f}× | "
                   f"{med['protobuf'] / med[f.key]:.2f}× | "
                   f"{statistics.median(x['first'] for x in r):.2f} | {cpu['walsink']:.2f} | "
                   f"{cpu['its backend']:.2f} | {max(x['rss'] for x in r):.1f} |")
    out += ["", "CPU seconds: medians; peak RSS: the maximum over the rounds.", ""]
    for f in FORMATS:
        mt = applied[f.key][-1]["metrics"]
        batches = mt.get("walsink_batches_total", 0)
        out.append(f"- {f.label}: walsink's counters at the end of the last run (those not 0): " +
                   ", ".join(f"{k.replace('walsink_', '').replace('_total', '')} {v:,.0f}"
                             for k, v in mt.items() if "_total" in k and v) +
                   (f" ({sizes[f.key]['messages'] / batches:,.0f} messages per target "
                    "transaction)" if batches else ""))
    out.append("")

    if bench.complaints:
        seen = {}
        for what, line in bench.complaints:
            key = re.sub(r"^\S+ \S+ \S+ \w+\[\d+\] ", "", line)[:300]
            seen.setdefault(key, []).append(what)
        out += ["Warnings and errors in walsink's logs (walstreamer's are not kept):", ""]
        for line, whats in list(seen.items())[:20]:
            out.append(f"- ×{len(whats)}: `{line}`")
        out.append("")
    else:
        out += ["No warnings or errors in walsink's logs (walstreamer's are not kept).", ""]
    out.append(END)
    return "\n".join(out) + "\n"


def main():
    args = parse_args()
    bench = Bench(args)
    try:
        db, end, wal = sink.fill_source(bench, bench.brokers)
        expect = db.checksum()
        stream, kept = part_stream(bench, db, end, args)
        bootstrap = bench.brokers[0].cluster.bootstrap
        sizes = {}
        for f in FORMATS:
            sizes[f.key] = s = topic_sizes(bootstrap, kept[f.key].topic(TABLE))
            sink.log(f"{f.label}: {s}")
            if s["messages"] - s["tombstones"] != bench.w.changes:
                sys.exit(f"formats.py: {f.label}: {s['messages']} messages, {s['tombstones']} "
                         f"of them tombstones, for {bench.w.changes} changes")
        applied = part_apply(bench, kept, sizes, expect, args)
        machine = decoder.machine_info(bench.source)
        vers = sink.versions(bench)
    finally:
        bench.close()
    argv = shlex.join(["python3", os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    section = render(argv, bench, machine, vers, wal, stream, sizes, applied, args)
    decoder.write_results(args.output, section, START, END)
    sink.log(f"wrote {args.output}")


if __name__ == "__main__":
    main()
