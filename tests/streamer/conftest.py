"""walstreamer's end-to-end suites: a real source cluster, the dev broker and
the real binary, with helpers to run it and to read back what Kafka holds."""

import os
import signal
import subprocess
import sys
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import pgcdcwire  # noqa: E402
import pgtemp  # noqa: E402
from devbroker import DevBroker  # noqa: E402

BUILD = os.environ.get("PGCDC_BUILD", os.path.join(pgtemp.REPO, "build"))
WALSTREAMER = os.path.join(BUILD, "streamer", "walstreamer")


def lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


@pytest.fixture(scope="session")
def install():
    return pgtemp.pgcdc_install()


@pytest.fixture
def source(install, request):
    c = pgtemp.Cluster(install, request.node.name[:20]).start()
    c.psql("CREATE EXTENSION pgcdc")
    yield c
    c.destroy()


@pytest.fixture
def broker():
    with DevBroker(brokers=3) as b:
        yield b


class Streamer:
    """One walstreamer process at a time, restartable, its log kept."""

    def __init__(self, source, broker, tmp_path, **keys):
        self.source = source
        self.broker = broker
        self.log = os.path.join(tmp_path, "walstreamer.log")
        self.keys = {"source": source.dsn(), "kafka.bootstrap.servers": broker.bootstrap,
                     "status.interval.ms": "200", "heartbeat.interval.ms": "1000",
                     "snapshot.parallelism": "2"}
        self.keys.update({k.replace("_", "."): v for k, v in keys.items()})
        self.proc = None

    def argv(self):
        return [WALSTREAMER] + [f"--{k}={v}" for k, v in self.keys.items()]

    def start(self):
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "a"))
        return self

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def wait(self, timeout=60):
        rc = self.proc.wait(timeout)
        self.proc = None
        return rc

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def text(self):
        with open(self.log) as f:
            return f.read()


@pytest.fixture
def streamer(source, broker, tmp_path):
    made = []

    def make(**keys):
        s = Streamer(source, broker, str(tmp_path), **keys)
        made.append(s)
        return s
    yield make
    for s in made:
        if s.running():
            s.stop(signal.SIGKILL)


def confirmed(source, slot="pgcdc"):
    out = source.psql(f"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'")
    return lsn(out) if out else None


def wait_for(cond, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Message:
    __slots__ = ("topic", "partition", "offset", "key", "value", "headers")

    def __init__(self, m):
        self.topic, self.partition, self.offset = m.topic(), m.partition(), m.offset()
        self.key, self.value = m.key(), m.value()
        self.headers = {k: v.decode() for k, v in (m.headers() or [])}

    def record(self):
        return pgcdcwire.record(self.value)


def watermarks(bootstrap, topics=None):
    """{(topic, partition): high watermark} for every topic (or those given)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        md = c.list_topics(timeout=10)
        out = {}
        for name, t in md.topics.items():
            if topics is not None and name not in topics:
                continue
            for p in t.partitions:
                out[(name, p)] = c.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1]
        return out
    finally:
        c.close()


def read_all(bootstrap, prefix="pgcdc.", upto=None):
    """Every message of the topics starting with prefix, per partition in offset
    order, up to the current high watermarks (or those given)."""
    marks = upto or watermarks(bootstrap)
    marks = {tp: hw for tp, hw in marks.items() if tp[0].startswith(prefix) and hw > 0}
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader",
                  "enable.auto.commit": False, "fetch.message.max.bytes": 10485760})
    got = {tp: [] for tp in marks}
    try:
        c.assign([TopicPartition(t, p, 0) for t, p in marks])
        left = {tp for tp in marks}
        deadline = time.monotonic() + 120
        while left and time.monotonic() < deadline:
            for m in c.consume(10000, 0.5):
                if m.error():
                    continue
                tp = (m.topic(), m.partition())
                if tp in left and m.offset() < marks[tp]:
                    got[tp].append(Message(m))
                    if m.offset() + 1 >= marks[tp]:
                        left.discard(tp)
        assert not left, f"could not read {left}"
    finally:
        c.close()
    return got
