"""A long-lived walsender's memory under table churn.

The decoder keeps what it knows of each relation in a cache for the whole
session; a table that is dropped must leave it, or a walsender streaming a
database that creates and drops tables (staging tables, partitions rolled
off, tests) grows without end.  10,000 tables are created, written and
dropped, one transaction each, while one walsender streams them; the
backend's memory, as PostgreSQL itself counts it
(pg_log_backend_memory_contexts), must not grow with them.
"""

import re
import select
import threading
import time

import psycopg2
import psycopg2.extras

WARMUP = 200
CYCLES = 10_000
# Before the fix the cache kept a 4 kB context per dropped table: 44 MB here.
MAX_GROWTH = 1 << 20


class Consumer(threading.Thread):
    """Streams a slot over the replication protocol, remembering which
    markers (non-transactional messages) it has seen."""

    def __init__(self, cluster, slot):
        super().__init__(daemon=True)
        self.conn = psycopg2.connect(cluster.dsn(),
                                     connection_factory=psycopg2.extras.LogicalReplicationConnection)
        self.slot = slot
        self.seen = set()
        self.records = 0
        self.error = None
        self.stopping = False

    def run(self):
        try:
            cur = self.conn.cursor()
            cur.start_replication(slot_name=self.slot, decode=False)
            while not self.stopping:
                msg = cur.read_message()
                if msg is None:
                    select.select([self.conn], [], [], 0.2)
                    cur.send_feedback()
                    continue
                self.records += 1
                for m in re.findall(rb"churn-marker-[a-z]+", msg.payload):
                    self.seen.add(m.decode())
                cur.send_feedback(flush_lsn=msg.data_start)
        except Exception as e:  # reported by wait_for
            self.error = e

    def wait_for(self, marker, timeout=600):
        deadline = time.monotonic() + timeout
        while marker not in self.seen:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, f"{marker} not streamed after {self.records} records"
            time.sleep(0.1)


def churn(conn, first, count):
    """count tables created, written and dropped, one transaction each."""
    with conn.cursor() as cur:
        for i in range(first, first + count):
            cur.execute(f"CREATE TABLE churn_{i} (id int, note text, at timestamptz);"
                        f"INSERT INTO churn_{i} VALUES ({i}, 'x', now());"
                        f"DROP TABLE churn_{i}")
        cur.execute("SELECT pg_logical_emit_message(false, 'churn', %s)", (marker_of(first),))


def marker_of(first):
    return "churn-marker-" + ("warm" if first == 0 else "done")


def backend_memory(cluster, conn, pid):
    """The backend's memory in bytes: the grand total that
    pg_log_backend_memory_contexts writes to the server log."""
    with open(cluster.logfile, "rb") as f:
        f.seek(0, 2)
        start = f.tell()
    with conn.cursor() as cur:
        cur.execute("SELECT pg_log_backend_memory_contexts(%s)", (pid,))
        assert cur.fetchone()[0]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(cluster.logfile, "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        m = re.search(r"Grand total: (\d+) bytes", text)
        if m:
            return int(m.group(1)), text
        time.sleep(0.2)
    raise AssertionError("no memory context dump in the server log")


def test_dropped_tables_leave_the_relation_cache(cluster):
    cluster.psql("SELECT 'x' FROM pg_create_logical_replication_slot('churn', 'pgcdc')")
    writer = psycopg2.connect(cluster.dsn())
    writer.autocommit = True
    consumer = Consumer(cluster, "churn")
    consumer.start()
    try:
        with writer.cursor() as cur:
            cur.execute("SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'churn'")
            deadline = time.monotonic() + 30
            while (pid := cur.fetchone()[0]) is None and time.monotonic() < deadline:
                time.sleep(0.1)
                cur.execute("SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'churn'")
        assert pid is not None, "the walsender did not start"

        churn(writer, 0, WARMUP)
        consumer.wait_for(marker_of(0))
        before, _ = backend_memory(cluster, writer, pid)
        churn(writer, WARMUP, CYCLES)
        consumer.wait_for(marker_of(WARMUP))
        after, dump = backend_memory(cluster, writer, pid)
        # Every table's insert came through: the cache was used for each.
        assert consumer.records >= 3 * (WARMUP + CYCLES), consumer.records
        print(f"walsender memory: {before} bytes after {WARMUP} tables, "
              f"{after} after {WARMUP + CYCLES}")
        relations = dump.count("pgcdc relation:")
        assert after - before < MAX_GROWTH, (
            f"the walsender grew by {after - before} bytes over {CYCLES} dropped tables "
            f"({before} -> {after}), {relations} pgcdc relation contexts listed")
    finally:
        consumer.stopping = True
        consumer.join(10)
        consumer.conn.close()
        writer.close()
