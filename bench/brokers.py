"""The Kafka brokers the benchmarks measure on, behind one interface: real
Apache Kafka (tests/support/kafkacluster.py) and the dev broker (librdkafka's
mock cluster, tests/support/devbroker.py).

A script makes one broker per kind it measures (--broker kafka|dev|both, see
add_option and make) and opens a run for each measurement:

    with broker.run(["employee"], 32) as r:
        r.bootstrap, r.prefix (walstreamer's and walsink's topic.prefix),
        r.topic("employee"), r.pid (the broker's process, for its CPU time)

The run's topics exist, with the partitions asked for, before it starts, on
either kind, so that both measure the same layout.

- kafka: one broker (KRaft, broker and controller in one JVM) with the
  "bench" profile, Kafka's own JVM settings (1 GB heap, G1), started when it
  is made and stopped by close(): a start takes seconds and warms the JIT, so
  it is not paid per run.  Runs are kept apart by their topics: each run has
  a prefix of its own, so none reads what an earlier one wrote, and walsink's
  groups are per run anyway.
- dev: a fresh dev broker (3 brokers in one process) for every run, as before
  real Kafka was here: it keeps every message in memory and drops a
  partition's oldest beyond ~5 MB, so one shared by many runs would grow and
  trim.
"""

import contextlib
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from support import kafkacluster  # noqa: E402
from support.devbroker import DevBroker  # noqa: E402

# --broker both measures in this order, every round.
KINDS = ("kafka", "dev")


def add_option(parser, default="both"):
    parser.add_argument("--broker", choices=KINDS + ("both",), default=default,
                        help=f"measure on real Kafka (one broker, started once), the dev "
                             f"broker (a fresh one per run), or both, side by side (default {default})")


def make(choice, partitions, devbroker):
    """The brokers --broker asks for, Kafka's started; close() each when done.
    partitions: what a topic created on first use gets (every topic a run
    knows of is created in advance anyway); devbroker: its binary."""
    out = []
    try:
        for kind in (KINDS if choice == "both" else (choice,)):
            out.append(Kafka(partitions) if kind == "kafka" else Dev(devbroker))
    except BaseException:
        for b in out:
            b.close()
        raise
    return out


class Run:
    """One measurement's view of a broker."""

    def __init__(self, bootstrap, prefix, pid):
        self.bootstrap, self.prefix, self.pid = bootstrap, prefix, pid

    def topic(self, table, schema="public"):
        return f"{self.prefix}.{schema}.{table}"


class Dev:
    kind = "dev"
    label = "dev broker"
    BROKERS = 3

    def __init__(self, binary):
        if not os.path.exists(binary):
            sys.exit(f"{binary} not found; build first (ninja -C build)")
        self.binary = binary
        self.seq = 0

    @contextlib.contextmanager
    def run(self, tables, partitions):
        self.seq += 1
        prefix = f"bench{self.seq}"
        with DevBroker(brokers=self.BROKERS, binary=self.binary) as b:
            for t in tables:
                b.command(f"topic {prefix}.public.{t} {partitions}")
            yield Run(b.bootstrap, prefix, b.proc.pid)

    def describe(self, partitions):
        return (f"{self.label}: librdkafka's mock cluster (`tests/devbroker`), {self.BROKERS} "
                f"brokers in one process on loopback, a fresh one for every run; topics created "
                f"in advance with {partitions} partitions, replication {self.BROKERS}; keeps "
                "messages in memory, ~5 MB a partition, and holds a fetch that finds no data "
                "for the consumer's whole `fetch.wait.max.ms`")

    def close(self):
        pass


def wait_leaders(cluster, topics, partitions, timeout=30):
    """Until the broker leads every partition of topics: created means the
    controller has a topic; a run starts once it can be written, as the dev
    broker's topics can at once."""
    deadline = time.monotonic() + timeout
    for t in topics:
        while True:
            try:
                leaders = cluster.leaders(t)
            except KeyError:
                leaders = {}
            if len(leaders) == partitions and all(v >= 0 for v in leaders.values()):
                break
            if time.monotonic() > deadline:
                sys.exit(f"{t} has no leader for every partition after {timeout} s")
            time.sleep(0.05)


class Kafka:
    kind = "kafka"

    def __init__(self, partitions):
        try:
            self.cluster = kafkacluster.KafkaCluster(brokers=1, profile="bench",
                                                     partitions=partitions)
        except RuntimeError as e:
            sys.exit(f"{e}\n(--broker dev measures on the dev broker alone, without Java)")
        self.version = kafkacluster.version(self.cluster.jars)
        self.label = f"Kafka {self.version}, 1 broker"
        self.seq = 0
        try:
            t0 = time.monotonic()
            self.cluster.start()
            print(f"{self.label} at {self.cluster.bootstrap}, started in "
                  f"{time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
        except BaseException:
            self.cluster.destroy()
            raise

    @contextlib.contextmanager
    def run(self, tables, partitions):
        self.seq += 1
        prefix = f"bench{self.seq}"
        topics = [f"{prefix}.public.{t}" for t in tables]
        self.cluster.create_topic(topics, partitions)
        wait_leaders(self.cluster, topics, partitions)
        yield Run(self.cluster.bootstrap, prefix, self.cluster.nodes[1].proc.pid)

    def describe(self, partitions):
        jvm = " ".join(o.format(heap=self.cluster.heap)
                       for o in kafkacluster.PROFILES[self.cluster.profile])
        return (f"{self.label}: Apache Kafka {self.version} (KRaft, broker and controller in one "
                f"JVM) on loopback, {java_version()}, `{jvm}` (Kafka's own "
                "`kafka-server-start.sh` settings), broker settings at Kafka's defaults otherwise "
                "(no flush per message; group.initial.rebalance.delay.ms=0); started once for "
                f"the whole script, each run on topics of its own (a fresh topic.prefix) created "
                f"in advance with {partitions} partitions, replication 1")

    def close(self):
        self.cluster.destroy()


def java_version():
    r = subprocess.run(["java", "-version"], capture_output=True, text=True)
    lines = (r.stderr or r.stdout).splitlines()
    # 'openjdk version "17.0.15" 2025-04-15' -> 'OpenJDK 17.0.15'
    m = re.search(r'(\w+) version "([^"]+)"', lines[0]) if lines else None
    return f"{'OpenJDK' if m.group(1) == 'openjdk' else 'Java'} {m.group(2)}" if m else "Java"
