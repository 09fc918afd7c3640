#!/usr/bin/env python3
"""pgcdc's local demo: a source and a target PostgreSQL, a Kafka broker,
walstreamer and walsink, and two writers, on this machine alone.

Kafka is one real Apache Kafka broker in KRaft mode, run by
tests/support/kafkacluster.py (Java; the jars come from Maven Central on
first use).  --broker=dev runs the dev broker instead, librdkafka's mock
cluster, for a machine without Java: a stand-in that silently drops the
oldest data past 5 MiB per partition.

Employee: public.employee starts with rows that arrive through the snapshot;
then inserts, partial updates that leave the TOASTed bio alone, deletes and
repeated updates of the same rows.  Validation rules send rows with an
invalid role, a missing email or an impossible timestamp to dead letters, and
a few malformed messages produced straight onto the topic land there too.
Six seconds in, a row in the signal table (public.pgcdc_signal) asks for
employee to be read again while the writers go on: the progress line shows
its chunks, and the invalid rows it reads are dead letters once more.

Orders: a writer keeps inserting and updating public.orders (--orders-rate);
the target holds the latest state in analytics.fct_orders (table.map), and
every dead letter is in analytics.failed_events.

--plugin=pgoutput shows the managed-service path: the source has no pgcdc
extension and loads no plugin of ours; walstreamer reads PostgreSQL's own
pgoutput through a publication it creates, and the snapshot itself.  The
records, and so everything after walstreamer, are the same.

Progress every second; on Ctrl-C or after --duration, a summary with a
consistency check: per table, source and target row counts and checksums
(the source's rows that pass the validation rules), dead letters by reason.
Exit status 0 when everything matches.  Run it through demo/run.sh, which
installs what is missing and builds first.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tests"))

import psycopg2                                     # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

from support import daemonproc, kafkacluster, pgcdcwire, pgtemp  # noqa: E402
from support.devbroker import DevBroker             # noqa: E402
from support.ports import free_port                 # noqa: E402

SOURCE_DB = "shop"
TARGET_DB = "warehouse"

SOURCE_DDL = """
CREATE TABLE employee (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    email text,
    role text,
    salary numeric(12,2),
    updated_ts timestamptz NOT NULL DEFAULT now(),
    bio text);
-- Debezium's signal table: a row in it asks walstreamer for a snapshot.
CREATE TABLE pgcdc_signal (id text PRIMARY KEY, type text NOT NULL, data text);
-- Out of line and uncompressed: an update that leaves bio alone carries it
-- as an unchanged TOAST value, which walsink must leave as it is.
ALTER TABLE employee ALTER COLUMN bio SET STORAGE EXTERNAL;
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer text NOT NULL,
    amount numeric(12,2) NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
INSERT INTO employee
    SELECT g, 'employee ' || g, 'e' || g || '@example.com',
           (ARRAY['engineer','manager','analyst'])[1 + g % 3], 50000 + g * 10, now(),
           CASE WHEN g % 3 = 0 THEN repeat(md5(g::text), 100) END
    FROM generate_series(1, 300) g;
INSERT INTO orders (id, customer, amount, status)
    SELECT g, 'customer ' || (g % 97), 10 + g % 500, 'delivered' FROM generate_series(1, 500) g;
"""

ROLES = ("engineer", "manager", "analyst")
STATUSES = ("new", "paid", "shipped", "delivered", "cancelled")

# walsink's validation rules, by target table; the consistency check applies
# the same conditions to the source's rows.
RULES = {
    "public.employee": {
        "valid_role": "role IN ('engineer','manager','analyst')",
        "has_email": "email IS NOT NULL AND email LIKE '%@%'",
        "sane_timestamp": "updated_ts <= now() + interval '1 minute'",
    },
    "analytics.fct_orders": {
        "known_status": "status IN ('new','paid','shipped','delivered','cancelled')",
    },
}

# Every topic walstreamer writes, made before walsink subscribes (see
# Demo.start_broker).
TOPICS = ["pgcdc." + t for t in ("public.employee", "public.orders", "heartbeat", "message", "transaction")]

# (source table, target table, columns compared; bio by its md5)
TABLES = [
    ("public.employee", "public.employee",
     "id, name, email, role, salary, updated_ts, md5(bio) AS bio"),
    ("public.orders", "analytics.fct_orders",
     "id, customer, amount, status, created_at, updated_at"),
]


def malformed(record, fmt):
    """Malformed messages produced straight onto the employee topic, made from
    a real record (of the format walstreamer writes): [(kind, value)].  Each
    becomes a dead letter."""
    if fmt == "debezium-json":
        return [
            ("random bytes", random.Random(7).randbytes(200)),
            ("empty value", b""),
            ("truncated JSON", record[:len(record) // 2]),
            ("unknown op", record.replace(b'"op":"r"', b'"op":"x"')),
        ]
    return [
        ("random bytes", random.Random(7).randbytes(200)),
        ("empty value", b""),
        ("truncated record", record[:len(record) // 2]),
        ("unknown record version", record + pgcdcwire.pack([(1, 0, 99)])),
    ]


def snapshot_row_id(value):
    """The id of the row a dead letter's message value holds when a snapshot
    read it, else None; the value in either format walstreamer writes."""
    if value[:1] == b"{":
        doc = json.loads(value)
        payload = doc.get("payload", doc)
        after = payload.get("after") or {}
        return after.get("id") if payload.get("op") == "r" else None
    r = pgcdcwire.record(value)
    return r["row"]["id"] if r.get("op") == "read" and r.get("row") else None


def log(msg):
    print(msg, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(REPO, "build"),
                   help="meson build directory with the daemons and the decoder (default build/)")
    p.add_argument("--duration", type=float, default=0,
                   help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--orders-rate", type=float, default=300,
                   help="order inserts and updates per second (default 300)")
    p.add_argument("--employee-rate", type=float, default=40,
                   help="employee changes per second (default 40)")
    p.add_argument("--broker", choices=("kafka", "dev"), default="kafka",
                   help="kafka: one real Apache Kafka broker, which needs Java (default); "
                        "dev: the dev broker (librdkafka's mock cluster), without Java")
    p.add_argument("--plugin", choices=("pgcdc", "pgoutput"), default="pgcdc",
                   help="pgoutput: PostgreSQL's own plugin and no extension, as on a managed service")
    p.add_argument("--format", choices=("protobuf", "debezium-json"), default="protobuf",
                   help="debezium-json: walstreamer writes Debezium's format (value.format), "
                        "which walsink reads as well")
    p.add_argument("--keep", action="store_true",
                   help="keep the logs' directory after the run")
    return p.parse_args()


class Metrics:
    """A daemon's Prometheus endpoint, read as {name: sum over its labels}."""

    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}/metrics"

    def read(self):
        out = {}
        try:
            text = urllib.request.urlopen(self.url, timeout=2).read().decode()
        except OSError:
            return out
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                name = name.split("{", 1)[0]
                out[name] = out.get(name, 0) + float(value)
        return out


class Daemon:
    def __init__(self, binary, logfile, keys):
        self.logfile = logfile
        self.name = os.path.basename(binary)
        # Its own session: Ctrl-C reaches the demo only, which stops the
        # daemons in order.
        self.proc = subprocess.Popen([binary] + [f"--{k}={v}" for k, v in keys.items()],
                                     stdout=subprocess.DEVNULL, stderr=open(logfile, "a"),
                                     start_new_session=True)

    def check(self):
        if self.proc.poll() is not None:
            with open(self.logfile) as f:
                tail = f.read()[-3000:]
            raise RuntimeError(f"{self.name} exited with status {self.proc.returncode}:\n{tail}")

    def stop(self):
        daemonproc.terminate(self.proc)


class Writer(threading.Thread):
    """Changes at a steady rate, one transaction per 100 ms tick, until stopped.
    Rows it makes invalid are never touched again, so that the source's rows
    that pass the rules are exactly what the target must hold."""

    def __init__(self, dsn, rate, stop):
        super().__init__(daemon=True)
        self.conn = psycopg2.connect(dsn)
        self.rate = rate
        self.stop = stop
        self.rng = random.Random(os.getpid())
        self.changes = 0
        self.invalid = {}           # expected dead letters: reason -> count
        self.final_lsn = None       # WAL position just before the last commit
        self.error = None

    def run(self):
        cur = self.conn.cursor()
        due = 0.0
        tick = time.monotonic()
        try:
            while not self.stop.is_set():
                due += self.rate / 10
                for _ in range(int(due)):
                    self.change(cur)
                    self.changes += 1
                due -= int(due)
                self.conn.commit()
                tick += 0.1
                time.sleep(max(0.0, tick - time.monotonic()))
            # A last change, and where WAL was just before its commit: once
            # walsink stored a commit position at or past it, all is applied.
            self.last(cur)
            cur.execute("SELECT pg_current_wal_insert_lsn()")
            self.final_lsn = cur.fetchone()[0]
            self.conn.commit()
        except Exception as e:      # reported by the main thread
            self.error = e
        finally:
            self.conn.close()

    def reject(self, rule):
        reason = f'validation rule "{rule}" failed'
        self.invalid[reason] = self.invalid.get(reason, 0) + 1


class EmployeeWriter(Writer):
    def __init__(self, dsn, rate, stop):
        super().__init__(dsn, rate, stop)
        self.live = list(range(1, 301))
        self.next_id = 1001
        self.next_bad = 900001

    def change(self, cur):
        r = self.rng.random()
        if r < 0.30 or len(self.live) < 50:
            i, self.next_id = self.next_id, self.next_id + 1
            cur.execute("INSERT INTO employee VALUES (%s, %s, %s, %s, %s, now(), %s)",
                        (i, f"employee {i}", f"e{i}@example.com", self.rng.choice(ROLES),
                         40000 + self.rng.randrange(60000),
                         md5_text(i) * 100 if i % 2 else None))
            self.live.append(i)
        elif r < 0.65:
            # Partial: bio, if any, stays in TOAST untouched.
            cur.execute("UPDATE employee SET salary = salary + 100, updated_ts = now() WHERE id = %s",
                        (self.rng.choice(self.live),))
        elif r < 0.80:
            # The same few rows again and again: the last change decides.
            cur.execute("UPDATE employee SET salary = salary + 1, updated_ts = now() WHERE id = %s",
                        (self.rng.randrange(1, 11),))
        elif r < 0.85:
            i = self.rng.choice(self.live)
            cur.execute("UPDATE employee SET bio = %s, role = %s WHERE id = %s",
                        (md5_text(self.rng.random()) * 90, self.rng.choice(ROLES), i))
        elif r < 0.95:
            i = self.rng.choice(self.live[10:])
            self.live.remove(i)
            cur.execute("DELETE FROM employee WHERE id = %s", (i,))
        else:
            self.bad(cur)

    def bad(self, cur):
        i, self.next_bad = self.next_bad, self.next_bad + 1
        kind = i % 3
        role, email, ts = "engineer", f"e{i}@example.com", "now()"
        if kind == 0:
            role = "wizard"
            self.reject("valid_role")
        elif kind == 1:
            email = None
            self.reject("has_email")
        else:
            ts = "'2999-01-01'"
            self.reject("sane_timestamp")
        cur.execute(f"INSERT INTO employee VALUES (%s, %s, %s, %s, 1, {ts}, NULL)",
                    (i, f"bad {i}", email, role))

    def last(self, cur):
        cur.execute("UPDATE employee SET updated_ts = now() WHERE id = 1")


class OrdersWriter(Writer):
    def __init__(self, dsn, rate, stop):
        super().__init__(dsn, rate, stop)
        self.open = []              # orders not yet delivered or cancelled
        self.next_id = 501

    def change(self, cur):
        if not self.open or self.rng.random() < 0.6:
            i, self.next_id = self.next_id, self.next_id + 1
            status = "new"
            if self.rng.random() < 0.002:
                status = "lost"         # refused by rule known_status; never touched again
                self.reject("known_status")
            cur.execute("INSERT INTO orders (id, customer, amount, status) VALUES (%s, %s, %s, %s)",
                        (i, f"customer {self.rng.randrange(97)}",
                         round(self.rng.uniform(5, 500), 2), status))
            if status == "new":
                self.open.append(i)
            return
        k = self.rng.randrange(len(self.open))
        i = self.open[k]
        cur.execute("""UPDATE orders SET updated_at = clock_timestamp(),
                           status = CASE status WHEN 'new' THEN (CASE WHEN random() < 0.1
                                    THEN 'cancelled' ELSE 'paid' END)
                                    WHEN 'paid' THEN 'shipped' ELSE 'delivered' END
                       WHERE id = %s RETURNING status""", (i,))
        if cur.fetchone()[0] in ("delivered", "cancelled"):
            self.open[k] = self.open[-1]
            self.open.pop()

    def last(self, cur):
        cur.execute("UPDATE orders SET updated_at = clock_timestamp() WHERE id = 1")


def md5_text(x):
    return hashlib.md5(str(x).encode()).hexdigest()


def kafka_jars():
    """The Kafka broker's jars, which Maven fetches on first use.  What is
    missing is missing on this machine: the error names the way round it."""
    try:
        if shutil.which("java") is None:
            raise RuntimeError("java is needed to run the Kafka broker: apt-get install default-jre-headless")
        return kafkacluster.classpath()
    except RuntimeError as e:
        raise RuntimeError(f"{e}\n(demo/run.sh installs Java and Maven; --broker=dev runs the demo "
                           "on the dev broker, without Java)") from None


class Demo:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="pgcdc-demo-")
        self.stop = threading.Event()      # set by Ctrl-C, --duration or a failure
        self.interrupts = 0
        self.writers = []
        self.writers_stop = threading.Event()
        self.daemons = []
        self.broker = None
        self.broker_name = None
        self.source = self.target = None
        self.injected = {}

    # -- setting up ---------------------------------------------------------

    def start(self):
        build = self.args.build
        pgcdc = self.args.plugin == "pgcdc"
        needed = ["sink/walsink", "streamer/walstreamer"] + (["decoder/pgcdc.so"] if pgcdc else [])
        if self.args.broker == "dev":
            needed.append("tests/devbroker")
            self.broker_name = "dev broker (librdkafka mock)"
        else:
            self.broker_name = f"Kafka {kafkacluster.version(kafka_jars())} (1 broker, KRaft)"
        for path in needed:
            if not os.path.exists(os.path.join(build, path)):
                raise RuntimeError(f"{os.path.join(build, path)} not found: build first (demo/run.sh does)")
        log(f"pgcdc demo: logs in {self.tmp}")
        install = pgtemp.pgcdc_install(build)
        self.source = pgtemp.Cluster(install, "demo-source",
                                     plugins="pgoutput, pgcdc" if pgcdc else "pgoutput").start()
        self.target = pgtemp.Cluster(install, "demo-target").start()
        self.source.psql(f"CREATE DATABASE {SOURCE_DB}")
        self.target.psql(f"CREATE DATABASE {TARGET_DB}")
        self.source.psql(SOURCE_DDL, SOURCE_DB)
        if pgcdc:
            self.source.psql("CREATE EXTENSION pgcdc", SOURCE_DB)
        self.target.psql("CREATE SCHEMA analytics", TARGET_DB)
        log(f"source PostgreSQL on port {self.source.port} (database {SOURCE_DB}: employee 300 rows, "
            f"orders 500 rows), target on port {self.target.port} (database {TARGET_DB})")
        log("walstreamer reads the pgcdc plugin" if pgcdc else
            "walstreamer reads pgoutput through a publication (source.plugin=pgoutput), no extension")
        if self.args.format == "debezium-json":
            log("walstreamer writes Debezium's format (value.format=debezium-json), "
                "walsink reads it (input.format=auto)")

        self.start_broker()
        log(f"{self.broker_name} at {self.broker.bootstrap}")
        self.streamer_metrics = Metrics(free_port())
        self.sink_metrics = Metrics(free_port())
        self.daemons.append(Daemon(os.path.join(build, "streamer", "walstreamer"),
                                   os.path.join(self.tmp, "walstreamer.log"), {
            "source": self.source.dsn(SOURCE_DB),
            "source.plugin": self.args.plugin,
            "value.format": self.args.format,
            "slot.name": "demo",
            "snapshot.mode": "initial",
            "signal.data.collection": "public.pgcdc_signal",
            "kafka.bootstrap.servers": self.broker.bootstrap,
            "status.interval.ms": "1000",
            "metrics.listen": self.streamer_metrics.url.split("/")[2],
        }))
        rules = {f"rule.{table}.{name}": cond for table, named in RULES.items()
                 for name, cond in named.items()}
        self.daemons.append(Daemon(os.path.join(build, "sink", "walsink"),
                                   os.path.join(self.tmp, "walsink.log"), {
            "target": self.target.dsn(TARGET_DB),
            "group.id": "demo",
            "table.map": "public.orders=analytics.fct_orders",
            "dead.letter.table": "analytics.failed_events",
            "metrics.listen": self.sink_metrics.url.split("/")[2],
            "kafka.bootstrap.servers": self.broker.bootstrap,
            # The dev broker holds an empty fetch for the whole wait, where
            # Kafka answers as soon as data arrives: keep it short there.
            **({"kafka.fetch.wait.max.ms": "10"} if self.args.broker == "dev" else {}),
            **rules,
        }))
        log("walstreamer and walsink started; waiting for the snapshot to arrive in the target")
        self.wait(lambda: self.target_count("public.employee") >= 300
                  and self.target_count("analytics.fct_orders") >= 500, 120, "the snapshot")

    def start_broker(self):
        """The broker and every topic walstreamer will write, 4 partitions
        each, before walsink subscribes: a topic that appears later makes the
        consumer group rebalance (on the dev broker that has at times held
        walsink up for a session timeout, 45 s), and walsink's pattern
        subscription would see it only at its next metadata refresh."""
        if self.args.broker == "dev":
            self.broker = DevBroker(brokers=3, binary=os.path.join(self.args.build, "tests", "devbroker"))
            for topic in TOPICS:
                self.broker.command(f"topic {topic} 4")
            return
        log(f"starting {self.broker_name}")
        # Under the demo's directory: each node's server.log stays with the others' logs.
        self.broker = kafkacluster.KafkaCluster(brokers=1, root=os.path.join(self.tmp, "kafka"),
                                                profile="test")
        self.broker.start()
        self.broker.create_topic(TOPICS, 4)

    def target_count(self, table):
        try:
            return int(self.target.psql(f"SELECT count(*) FROM {table}", TARGET_DB))
        except Exception:
            return -1

    def wait(self, cond, timeout, what, interrupts=0):
        """Until cond(); raises KeyboardInterrupt after more than interrupts Ctrl-Cs."""
        deadline = time.monotonic() + timeout
        while not cond():
            for d in self.daemons:
                d.check()
            if self.interrupts > interrupts:
                raise KeyboardInterrupt
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.2)

    def inject(self):
        """Malformed messages onto the employee topic, made from a real record:
        the first row walstreamer wrote there."""
        consumer = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "demo-inject",
                             "enable.auto.commit": False})
        consumer.assign([TopicPartition("pgcdc.public.employee", p, 0) for p in range(4)])
        record = None
        deadline = time.monotonic() + 30
        while record is None and time.monotonic() < deadline:
            msg = consumer.poll(1)
            if msg is not None and not msg.error() and ("pgcdc.op", b"r") in (msg.headers() or []):
                record = msg.value()
        consumer.close()
        if record is None:
            raise RuntimeError("no row of employee in Kafka to damage")
        producer = Producer({"bootstrap.servers": self.broker.bootstrap})
        for kind, value in malformed(record, self.args.format):
            producer.produce("pgcdc.public.employee", value=value, key=b"injected")
            self.injected[kind] = self.injected.get(kind, 0) + 1
        if producer.flush(30) != 0:
            raise RuntimeError("the broker did not take the malformed messages")
        log(f"injected {sum(self.injected.values())} malformed messages onto pgcdc.public.employee: "
            + ", ".join(self.injected))

    def signal_snapshot(self):
        """Asks for employee to be read again, through the signal table; notes
        the invalid rows already committed: the snapshot reads them all."""
        self.source.psql("INSERT INTO pgcdc_signal VALUES ('demo-resnapshot', 'execute-snapshot', "
                         "'{\"data-collections\": [\"public.employee\"]}')", SOURCE_DB)
        self.bad_before_signal = int(self.source.psql(
            "SELECT coalesce(max(id), 0) FROM employee WHERE id >= 900001", SOURCE_DB))
        log("signal: execute-snapshot of public.employee (read again while the writers go on)")

    # -- running ------------------------------------------------------------

    def run(self):
        dsn = self.source.dsn(SOURCE_DB)
        self.writers = [EmployeeWriter(dsn, self.args.employee_rate, self.writers_stop),
                        OrdersWriter(dsn, self.args.orders_rate, self.writers_stop)]
        for w in self.writers:
            w.start()
        log(f"writers running: employee {self.args.employee_rate:g} changes/s, "
            f"orders {self.args.orders_rate:g} changes/s; "
            + ("Ctrl-C to stop" if not self.args.duration else f"stopping after {self.args.duration:g} s"))
        started = time.monotonic()
        injected = signalled = False
        prev = (started, self.streamer_metrics.read(), self.sink_metrics.read())
        tty = sys.stdout.isatty()
        printed = started
        while not self.stop.is_set():
            time.sleep(1)
            now = time.monotonic()
            for d in self.daemons:
                d.check()
            for w in self.writers:
                if w.error:
                    raise RuntimeError(f"{type(w).__name__}: {w.error}")
            if not injected and now - started >= 3:
                self.inject()
                injected = True
            if not signalled and now - started >= 6:
                self.signal_snapshot()
                signalled = True
            cur = (now, self.streamer_metrics.read(), self.sink_metrics.read())
            line = self.progress(now - started, prev, cur)
            prev = cur
            if tty:
                print("\r" + line + "\033[K", end="", flush=True)
            elif now - printed >= 5:       # a log, not a terminal: a line every 5 s
                log(line)
                printed = now
            if self.args.duration and now - started >= self.args.duration:
                break
        if tty:
            print()

    def progress(self, elapsed, prev, cur):
        dt = cur[0] - prev[0]
        streamed = (cur[1].get("walstreamer_events_total", 0) - prev[1].get("walstreamer_events_total", 0)) / dt
        applied = (cur[2].get("walsink_applied_total", 0) - prev[2].get("walsink_applied_total", 0)) / dt
        try:
            slot_lag = int(self.source.psql(
                "SELECT pg_current_wal_lsn() - confirmed_flush_lsn FROM pg_replication_slots "
                "WHERE slot_name = 'demo'", SOURCE_DB) or 0)
            behind = float(self.target.psql(
                "SELECT coalesce(extract(epoch FROM clock_timestamp() - max(updated_at)), 0) "
                "FROM analytics.fct_orders", TARGET_DB))
        except Exception:
            slot_lag, behind = 0, 0.0
        tables, done = cur[1].get("walstreamer_snapshot_tables", 0), cur[1].get("walstreamer_snapshot_tables_done", 0)
        snapshot = (f"  snapshot {cur[1].get('walstreamer_snapshot_table_chunks', 0):,.0f}/"
                    f"{cur[1].get('walstreamer_snapshot_table_estimated_chunks', 0):,.0f} chunks"
                    if done < tables else "")
        return (f"{elapsed:5.0f} s  streamed {streamed:6,.0f} ev/s  slot lag {slot_lag / 1024:7,.1f} kB  "
                f"applied {cur[2].get('walsink_applied_total', 0):9,.0f} ({applied:5,.0f}/s)  "
                f"dead letters {cur[2].get('walsink_dead_letters_total', 0):4,.0f}  "
                f"newest order {behind:5.2f} s old{snapshot}")

    # -- stopping and checking ----------------------------------------------

    def finish(self):
        """Stops the writers, waits for the target to catch up; the summary.
        True when the target matches the source."""
        self.writers_stop.set()
        for w in self.writers:
            w.join(30)
            if w.error or w.is_alive():
                raise RuntimeError(f"{type(w).__name__}: {w.error or 'did not stop'}")
        final = max(w.final_lsn for w in self.writers)
        log("writers stopped; waiting for the target to catch up (Ctrl-C again to skip the check)")
        # Every change in Kafka (the slot confirmed past the writers' last
        # commits), then every message in Kafka applied (each partition's
        # stored offset at its end).
        self.wait(lambda: self.source.psql(
            f"SELECT confirmed_flush_lsn >= '{final}' FROM pg_replication_slots WHERE slot_name = 'demo'",
            SOURCE_DB) == "t", 120, "walstreamer to deliver the last changes", interrupts=1)
        self.wait(self.all_applied, 120, "the target to catch up", interrupts=1)
        return self.summary()

    def all_applied(self):
        """Whether walsink stored, for every partition of the two tables'
        topics, the offset of its last message."""
        stored = {}
        for line in self.target.psql("SELECT topic, partition, \"offset\" FROM pgcdc.sink_position "
                                     "WHERE group_id = 'demo'", TARGET_DB).splitlines():
            topic, part, offset = line.split("|")
            stored[(topic, int(part))] = int(offset)
        consumer = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "demo-check"})
        try:
            for topic in ("pgcdc.public.employee", "pgcdc.public.orders"):
                for part in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                    _, high = consumer.get_watermark_offsets(TopicPartition(topic, part), timeout=10)
                    if high > 0 and stored.get((topic, part), -1) + 1 < high:
                        return False
            return True
        finally:
            consumer.close()

    def summary(self):
        ok = True
        log(f"\nwritten: {self.writers[0].changes:,} employee changes, {self.writers[1].changes:,} "
            f"order changes; walsink applied {self.sink_metrics.read().get('walsink_applied_total', 0):,.0f} "
            f"(snapshot rows included) through {self.broker_name}")
        log("\nconsistency check (source rows that pass the validation rules against the target):")
        log(f"  {'source table':<18} {'target table':<22} {'source rows':>11} {'target rows':>11}  checksums")
        for src, dst, cols in TABLES:
            where = " AND ".join(f"({c})" for c in RULES.get(dst, {}).values()) or "true"
            q = (f"SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.id), '')) "
                 f"FROM (SELECT {cols} FROM {{}} WHERE {where}) x")
            sset = "SET TimeZone = 'UTC'; "
            s_n, s_sum = self.source.psql(sset + q.format(src), SOURCE_DB).split()
            t_n, t_sum = self.target.psql(sset + q.format(dst), TARGET_DB).split()
            same = s_n == t_n and s_sum == t_sum
            ok &= same
            log(f"  {src:<18} {dst:<22} {int(s_n):>11,} {int(t_n):>11,}  {'equal' if same else 'DIFFERENT'}")

        expected = {}
        for w in self.writers:
            for reason, n in w.invalid.items():
                expected[reason] = expected.get(reason, 0) + n
        got, reread = {}, []
        for line in self.target.psql("SELECT reason, encode(value, 'hex') FROM analytics.failed_events",
                                     TARGET_DB).splitlines():
            reason, value = line.rsplit("|", 1)
            got[reason] = got.get(reason, 0) + 1
            if reason.startswith("validation rule") and value:
                read_id = snapshot_row_id(bytes.fromhex(value))
                if read_id is not None:
                    reread.append((read_id, reason))
        ok &= self.check_reread(reread)
        for _, reason in reread:
            expected[reason] = expected.get(reason, 0) + 1
        log("\ndead letters in analytics.failed_events, by reason:")
        log(f"  {'reason':<58} {'count':>6} {'expected':>8}")
        for reason in sorted(set(got) | set(expected)):
            if reason in expected:
                exp = str(expected[reason])
                ok &= got.get(reason, 0) == expected[reason]
            else:
                exp = ""
            log(f"  {reason[:58]:<58} {got.get(reason, 0):>6} {exp:>8}")
        injected = sum(self.injected.values())
        forged = sum(n for r, n in got.items() if r not in expected)
        log(f"  malformed messages injected: {injected}; dead letters other than rule failures: {forged}")
        ok &= forged == injected
        log("\nconsistent: the target matches the source" if ok else "\nNOT CONSISTENT")
        return ok

    def check_reread(self, reread):
        """The invalid rows the signalled snapshot read, [(id, reason)]: each a
        dead letter once, with its rule, and exactly the invalid rows
        committed before its chunk was read (the writer adds them in id
        order and never touches them again): all of those before the signal,
        and no gap."""
        invalid = {}
        for rule, cond in RULES["public.employee"].items():
            for i in self.source.psql(f"SELECT id FROM employee WHERE id >= 900001 AND NOT ({cond})",
                                      SOURCE_DB).split():
                invalid[int(i)] = f'validation rule "{rule}" failed'
        ids = [i for i, _ in reread]
        before = getattr(self, "bad_before_signal", None)
        ok = (len(set(ids)) == len(ids) and all(invalid.get(i) == reason for i, reason in reread)
              and set(ids) == {i for i in invalid if ids and i <= max(ids)}
              and (before is None or all(i in ids for i in invalid if i <= before)))
        if before is None:
            ok = not reread
        log(f"  invalid rows the signalled snapshot read again: {len(reread)} "
            f"({'each once, all those committed before it' if ok else 'NOT as committed'})")
        return ok

    def close(self, keep):
        self.writers_stop.set()
        for d in reversed(self.daemons):
            d.stop()
        if self.broker:
            self.broker.stop()
            if isinstance(self.broker, kafkacluster.KafkaCluster):
                self.broker.destroy()       # its data; its server.log stays, for --keep
        for c in (self.source, self.target):
            if c:
                c.destroy()
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    args = parse_args()
    demo = Demo(args)

    def interrupt(*_):
        demo.interrupts += 1
        demo.stop.set()
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    ok = False
    try:
        demo.start()
        demo.run()
        ok = demo.finish()
    except KeyboardInterrupt:
        log("\ninterrupted: no consistency check")
    except RuntimeError as e:
        log(f"\npgcdc demo: {e}")
    finally:
        demo.close(args.keep or not ok)
        if args.keep or not ok:
            kafka_log = (" (the broker's: kafka/node-1/server.log)"
                         if isinstance(demo.broker, kafkacluster.KafkaCluster) else "")
            log(f"logs kept in {demo.tmp}{kafka_log}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
