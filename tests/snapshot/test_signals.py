"""Snapshots on demand and after the slot was lost: a signal table read from
the stream (execute, pause, resume and stop, each executed once, a bad one
skipped), a table added to the include list read alone, and
snapshot.mode = when_needed after the slot was dropped while rows were
deleted; the target ends equal to the source every time."""

import threading
import time

import psycopg2

from support.checks import confirmed, metric, wait_equal, wait_for
from support.ports import free_port

SIGNALS = "CREATE TABLE signals (id text PRIMARY KEY, type text NOT NULL, data text)"


def progress(source, table):
    """(rows, chunks, done) of the table's snapshot, None when it has no row."""
    out = source.psql("SELECT rows, chunks, done IS NOT NULL FROM pgcdc.snapshot_progress "
                      f"WHERE table_name = '{table}'")
    if not out:
        return None
    rows, chunks, done = out.split("|")
    return int(rows), int(chunks), done == "t"


def signal(source, sid, kind, data=None):
    value = "NULL" if data is None else "'" + data.replace("'", "''") + "'"
    source.psql(f"INSERT INTO signals VALUES ('{sid}', '{kind}', {value})")


def done(source, table):
    p = progress(source, table)
    return p is not None and p[2]


def test_a_signal_reads_one_table_again_while_the_others_stream(source, target, broker, streamer, sink):
    source.psql(SIGNALS + """;
        CREATE TABLE a (id int PRIMARY KEY, v int NOT NULL);
        CREATE TABLE b (id int PRIMARY KEY, v int NOT NULL);
        INSERT INTO a SELECT g, 0 FROM generate_series(1, 5000) g;
        INSERT INTO b SELECT g, 0 FROM generate_series(1, 5000) g;""")
    port = free_port()
    s = streamer(snapshot_chunk_rows="300", signal_data_collection="public.signals",
                 heartbeat_interval_ms="0").start()
    w = sink(metrics_listen=f"127.0.0.1:{port}").start()
    wait_for(lambda: done(source, "a") and done(source, "b"), timeout=120, what="the initial snapshot")
    wait_equal(source, target, ["a", "b"])
    b_chunks = progress(source, "b")[1]
    # The target drifts from the source behind walsink's back: a re-read mends it.
    target.psql("DELETE FROM a WHERE id <= 10; UPDATE a SET v = -1 WHERE id BETWEEN 100 AND 110; "
                "INSERT INTO a VALUES (7000, -1), (-3, -1)")
    stop = threading.Event()

    def write():
        conn = psycopg2.connect(source.dsn())
        conn.autocommit = True
        i = 0
        with conn.cursor() as cur:
            while not stop.is_set():
                i += 1
                cur.execute("UPDATE b SET v = v + 1 WHERE id = %s", (i % 5000 + 1,))
                cur.execute("UPDATE a SET v = v + 1 WHERE id = %s", (i * 7 % 5000 + 1,))
                time.sleep(0.002)
        conn.close()

    t = threading.Thread(target=write, daemon=True)
    t.start()
    signal(source, "s1", "execute-snapshot", '{"data-collections": ["public.a"], "type": "incremental"}')
    wait_for(lambda: "signal s1 (execute-snapshot)" in s.text(), what="the signal")
    wait_for(lambda: done(source, "a"), timeout=120, what="a read again")
    stop.set()
    t.join()
    wait_equal(source, target, ["a", "b"])
    assert progress(source, "b")[1] == b_chunks, "b was read again"
    assert metric(port, "walsink_snapshot_removed_total") == 2
    # Not a topic's: the signal table's rows stay walstreamer's.
    assert "pgcdc.public.signals" not in broker.admin().list_topics(timeout=10).topics
    # A bad signal is said and skipped; the stream goes on.
    signal(source, "bad", "execute-snapshot", "not json")
    signal(source, "odd", "reticulate-splines")
    source.psql("INSERT INTO b VALUES (9001, 1)")
    wait_equal(source, target, ["b"])
    assert "signal bad (execute-snapshot)" in s.text() and "ignored" in s.text()
    assert 'unknown type "reticulate-splines"' in s.text()
    # kill -9 and a restart from the slot: no signal is executed twice.
    s.kill()
    s.start()
    source.psql("INSERT INTO b VALUES (9002, 1)")
    wait_equal(source, target, ["b"])
    assert s.text().count("signal s1 (execute-snapshot)") == 1
    assert w.stop() == 0 and s.stop() == 0


def test_pause_resume_and_stop(source, broker, streamer):
    source.psql(SIGNALS + """;
        CREATE TABLE big (id int PRIMARY KEY, pad text);
        INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 100000) g;""")
    s = streamer(snapshot_mode="never", snapshot_chunk_rows="200", snapshot_parallelism="1",
                 signal_data_collection="public.signals", heartbeat_interval_ms="0").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    signal(source, "go", "execute-snapshot", '{"data-collections": ["public.big"]}')
    wait_for(lambda: (progress(source, "big") or (0,))[0] >= 2000, what="chunks read")
    signal(source, "p", "pause-snapshot")
    wait_for(lambda: "signal p (pause-snapshot)" in s.text(), what="the pause")
    paused_at = progress(source, "big")[0]
    time.sleep(2)
    assert progress(source, "big")[0] == paused_at, "read while paused"
    signal(source, "r", "resume-snapshot")
    wait_for(lambda: progress(source, "big")[0] > paused_at, what="reading again")
    signal(source, "x", "stop-snapshot", '{"data-collections": ["public.big"]}')
    wait_for(lambda: progress(source, "big") is None, what="the table's reading to stop")
    assert "signal x (stop-snapshot) at" in s.text() and "public.big" in s.text()
    assert "snapshot complete" not in s.text()
    assert s.stop() == 0


def test_a_table_added_to_the_include_list_is_read_alone(source, target, broker, streamer, sink):
    source.psql("""
        CREATE TABLE a (id int PRIMARY KEY, v int NOT NULL);
        CREATE TABLE b (id int PRIMARY KEY, v int NOT NULL);
        INSERT INTO a SELECT g, 0 FROM generate_series(1, 3000) g;
        INSERT INTO b SELECT g, 0 FROM generate_series(1, 3000) g;""")
    s = streamer(table_include_list="public.a", snapshot_chunk_rows="500", heartbeat_interval_ms="0").start()
    w = sink().start()
    wait_for(lambda: done(source, "a"), what="a read")
    wait_equal(source, target, ["a"])
    a_chunks = progress(source, "a")[1]
    assert progress(source, "b") is None
    assert s.stop() == 0
    source.psql("UPDATE b SET v = 5 WHERE id < 100; UPDATE a SET v = 1 WHERE id < 10")
    s = streamer(table_include_list="public.a,public.b", snapshot_chunk_rows="500",
                 heartbeat_interval_ms="0").start()
    wait_for(lambda: done(source, "b"), what="b read")
    wait_equal(source, target, ["a", "b"])
    assert progress(source, "a")[1] == a_chunks, "a was read again"
    assert "the table lists changed: reads public.b" in s.text()
    assert w.stop() == 0 and s.stop() == 0


def test_when_needed_reads_everything_again_after_the_slot_was_dropped(source, target, broker, streamer, sink):
    source.psql("CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); "
                "INSERT INTO t SELECT g, 0 FROM generate_series(1, 20000) g")
    s = streamer(snapshot_mode="when_needed", snapshot_chunk_rows="1000", heartbeat_interval_ms="0").start()
    w = sink().start()
    wait_for(lambda: done(source, "t"), what="the snapshot")
    wait_equal(source, target, ["t"])
    assert s.stop() == 0
    # Lost: changes while there was no slot, deletes among them.
    source.psql("SELECT pg_drop_replication_slot('pgcdc')")
    source.psql("DELETE FROM t WHERE id % 97 = 0; UPDATE t SET v = 2 WHERE id % 89 = 0; "
                "INSERT INTO t VALUES (30000, 3)")
    s.start()
    wait_for(lambda: "snapshot.mode=when_needed: a new slot" in s.text(), what="the new slot")
    wait_for(lambda: done(source, "t"), what="the snapshot again")
    source.psql("UPDATE t SET v = 4 WHERE id = 1")
    wait_equal(source, target, ["t"])
    assert w.stop() == 0 and s.stop() == 0
