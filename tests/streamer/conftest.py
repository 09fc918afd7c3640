"""walstreamer's end-to-end suites: a real source cluster, real Kafka and the
real binary, with helpers to run it and to read back what Kafka holds.

The broker fixture is one real Apache Kafka broker (KRaft) of the test's
own; @pytest.mark.kafka(brokers=3, **settings) asks for three, or for other
broker settings.  @pytest.mark.devbroker gives the dev broker instead
(librdkafka's mock cluster), for the faults only it can inject: produce or
offset-commit errors, uneven round trips.  Both have .bootstrap."""

import os
import sys
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import daemonproc  # noqa: E402
import pgcdcwire  # noqa: E402
import pgtemp  # noqa: E402
from devbroker import DevBroker  # noqa: E402
from kafkacluster import KafkaCluster  # noqa: E402

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


def pytest_configure(config):
    config.addinivalue_line("markers", "kafka(brokers=1, **settings): real Kafka brokers for the test")
    config.addinivalue_line("markers", "devbroker: the dev broker, for faults only it can inject")


@pytest.fixture
def broker(request, tmp_path):
    if request.node.get_closest_marker("devbroker"):
        with DevBroker(brokers=3) as b:
            yield b
        return
    mark = request.node.get_closest_marker("kafka")
    kw = dict(mark.kwargs) if mark else {}
    brokers = kw.pop("brokers", 1)
    with KafkaCluster(brokers, root=os.path.join(tmp_path, "kafka"),
                      settings={k.replace("_", "."): str(v) for k, v in kw.items()}) as k:
        yield k


@pytest.fixture
def streamer(source, broker, tmp_path):
    """make(**keys): a walstreamer on source and broker, keys as keyword arguments."""
    defaults = {"source": source.dsn(), "kafka.bootstrap.servers": broker.bootstrap,
                "status.interval.ms": "200", "heartbeat.interval.ms": "1000",
                "snapshot.parallelism": "2"}
    yield from daemonproc.factory(lambda **keys: daemonproc.Daemon(
        WALSTREAMER, os.path.join(tmp_path, "walstreamer.log"), daemonproc.keys_from(defaults, keys)))


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
                low, high = watermark(c, name, p)
                # A trimmed log (retention; the dev broker keeps about 5 MB a
                # partition) cannot be checked for completeness.
                assert low == 0 or not name.startswith("pgcdc.public.") or topics is not None, \
                    f"{name} [{p}] was trimmed (its log starts at {low}): test data too large"
                out[(name, p)] = high
        return out
    finally:
        c.close()


def watermark(consumer, topic, partition, timeout=30):
    """(low, high) of a partition, asked again while it has no leader (a
    topic just created, a leader moving)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        except KafkaException as e:
            if not e.args[0].retriable() and e.args[0].code() not in (
                    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                    KafkaError.UNKNOWN_TOPIC_OR_PART) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


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


class Workload:
    """A writer thread: each transaction inserts ledger row i and increments
    kv row i % KEYS, then notes the WAL position after its commit (an upper
    bound of the commit's end).  Transactions whose commit outcome is unknown
    (connection lost during COMMIT) are noted as uncertain."""

    KEYS = 20

    def __init__(self, source, pause=0.002):
        import psycopg2
        self.psycopg2 = psycopg2
        self.source = source
        self.pause = pause
        self.committed = []         # (i, lsn after commit)
        self.uncertain = set()
        self.stop_flag = False
        source.psql(f"""
            CREATE TABLE IF NOT EXISTS ledger (id bigint PRIMARY KEY, k int, note text);
            CREATE TABLE IF NOT EXISTS kv (k int PRIMARY KEY, v bigint NOT NULL);
            INSERT INTO kv SELECT g, 0 FROM generate_series(0, {self.KEYS - 1}) g
                ON CONFLICT DO NOTHING;""")
        import threading
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def connect(self):
        while not self.stop_flag:
            try:
                conn = self.psycopg2.connect(self.source.dsn())
                conn.autocommit = False
                return conn
            except self.psycopg2.OperationalError:
                time.sleep(0.2)
        return None

    def run(self):
        conn = self.connect()
        i = 0
        while not self.stop_flag and conn is not None:
            i += 1
            try:
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO ledger VALUES (%s, %s, repeat('x', %s))",
                                (i, i % self.KEYS, i % 30))
                    cur.execute("UPDATE kv SET v = v + 1 WHERE k = %s", (i % self.KEYS,))
                    if i % 10 == 0 and i > 50:
                        cur.execute("DELETE FROM ledger WHERE id = %s", (i - 50,))
                try:
                    conn.commit()
                except self.psycopg2.Error:
                    self.uncertain.add(i)
                    raise
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_current_wal_lsn()")
                    self.committed.append((i, lsn(cur.fetchone()[0])))
            except self.psycopg2.Error:
                try:
                    conn.close()
                except self.psycopg2.Error:
                    pass
                conn = self.connect()
            time.sleep(self.pause)
        if conn is not None:
            conn.close()

    def finish(self):
        self.stop_flag = True
        self.thread.join(60)
        return lsn(self.source.psql("SELECT pg_current_wal_lsn()"))


class Sampler:
    """Samples the slot's confirmed position, then Kafka's high watermarks:
    anything confirmed must already be below those watermarks."""

    def __init__(self, source, bootstrap, every=0.5):
        import threading
        self.source, self.bootstrap, self.every = source, bootstrap, every
        self.samples = []
        self.stop_flag = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def sample(self):
        c = confirmed(self.source)
        if c is not None:
            self.samples.append((c, watermarks(self.bootstrap)))

    def run(self):
        while not self.stop_flag:
            try:
                self.sample()
            except Exception:       # a source restart: sample again later
                pass
            time.sleep(self.every)

    def start(self):
        self.thread.start()
        return self

    def finish(self):
        self.stop_flag = True
        self.thread.join(60)


def verify(source, bootstrap, work, sampler=None):
    """No committed change missing, per-key order, nothing confirmed early."""
    got = read_all(bootstrap)
    where = {}                      # ledger id -> (topic, partition, first offset)
    for (topic, part), msgs in got.items():
        if topic == "pgcdc.public.kv":
            per_key = {}
            for m in msgs:
                r = m.record()
                if r["op"] in ("update", "read", "insert"):
                    per_key.setdefault(r["row"]["k"], []).append(r["row"]["v"])
            for k, seq in per_key.items():
                firsts = []
                for v in seq:
                    if v not in firsts:
                        firsts.append(v)
                assert firsts == sorted(firsts), f"kv key {k} out of order: {seq[:50]}"
                # A resend repeats a suffix already seen, never goes further back.
                for a, b in zip(seq, seq[1:]):
                    assert b > a or b in seq[:seq.index(a) + 1], f"key {k}: {a} then {b}"
        if topic == "pgcdc.public.ledger":
            for m in msgs:
                r = m.record()
                if r["op"] in ("insert", "read"):
                    where.setdefault(r["row"]["id"], (topic, part, m.offset))
    missing = [i for i, _ in work.committed if i not in where]
    assert not missing, f"{len(missing)} committed transactions missing from Kafka, e.g. {missing[:10]}"
    final = dict(tuple(map(int, line.split("|"))) for line in
                 source.psql("SELECT k, v FROM kv").splitlines())
    kv_last = {}
    for (topic, part), msgs in got.items():
        if topic == "pgcdc.public.kv":
            for m in msgs:
                r = m.record()
                if r.get("row"):
                    kv_last[r["row"]["k"]] = max(kv_last.get(r["row"]["k"], 0), r["row"]["v"])
    assert kv_last == final, "the last value per key in Kafka differs from the source"
    early = 0
    for c, marks in (sampler.samples if sampler else []):
        for i, after in work.committed:
            if after <= c:
                topic, part, off = where[i]
                if off >= marks.get((topic, part), 0):
                    early += 1
    assert early == 0, f"{early} transactions were confirmed to the slot before Kafka held them"
    return got
