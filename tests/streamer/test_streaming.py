"""Transactions streamed while in progress (source.streaming = on): a
transaction larger than the source's logical_decoding_work_mem reaches
Kafka before it commits, and walsink applies it only at its commit, without
what its rolled-back subtransactions did, and never an aborted one.  Kills
of either daemon mid-way leave the target equal to the source, with no row
twice (a table without a key shows doubles).  Both plugins: pgcdc's stream
callbacks and pgoutput's streaming (protocol 2).

The source decodes with logical_decoding_work_mem = 64kB, so that a few
thousand rows make a transaction stream."""

import threading

import psycopg2
import pytest

from support.checks import confirmed, dead_letters, query, snapshot_done, wait_equal, wait_for
from support.kafkaread import read_all, watermarks

TABLES = ["big", "nokey", "small"]


def prepare(source):
    source.psql("ALTER SYSTEM SET logical_decoding_work_mem = '64kB'")
    source.psql("SELECT pg_reload_conf()")
    source.psql("CREATE TABLE big (id int PRIMARY KEY, v text);"
                "CREATE TABLE nokey (n int, v text); ALTER TABLE nokey REPLICA IDENTITY FULL;"
                "CREATE TABLE small (id int PRIMARY KEY, v text)")


def in_kafka(bootstrap, topic):
    """Messages in topic so far (all partitions)."""
    return sum(hw for (t, _), hw in watermarks(bootstrap).items() if t == topic)


def target_count(target, table):
    out = query(target, f"SELECT count(*) FROM {table}")
    return int(out) if out else 0


def open_big(source, rows):
    """A connection in a transaction that inserted rows into big and nokey, not committed."""
    conn = psycopg2.connect(source.dsn())
    cur = conn.cursor()
    cur.execute("INSERT INTO big SELECT g, 'first ' || g FROM generate_series(1, %s) g", (rows,))
    cur.execute("INSERT INTO nokey SELECT g, 'n' || g FROM generate_series(1, %s) g", (rows // 5,))
    return conn


def finish_big(conn, rows):
    """A rolled-back savepoint, changes that stay, the commit."""
    cur = conn.cursor()
    cur.execute("SAVEPOINT s")
    cur.execute("INSERT INTO big SELECT g, 'rolled back' FROM generate_series(%s, %s) g", (rows + 1, rows + 20000))
    cur.execute("UPDATE big SET v = 'rolled back too' WHERE id <= 2000")
    cur.execute("INSERT INTO nokey SELECT g, 'rolled back' FROM generate_series(1, 3000) g")
    cur.execute("ROLLBACK TO SAVEPOINT s")
    cur.execute("SAVEPOINT t")
    cur.execute("UPDATE big SET v = 'kept ' || id WHERE id <= 1000")
    cur.execute("RELEASE SAVEPOINT t")
    cur.execute("DELETE FROM big WHERE id > %s", (rows - 1000,))
    cur.execute("UPDATE nokey SET v = 'updated' WHERE n <= 100")
    cur.execute("INSERT INTO big SELECT g, 'last' FROM generate_series(%s, %s) g", (rows + 50001, rows + 60000))
    conn.commit()
    conn.close()


def aborted_big(source):
    conn = psycopg2.connect(source.dsn())
    cur = conn.cursor()
    cur.execute("INSERT INTO big SELECT g, 'aborted' FROM generate_series(900001, 950000) g")
    cur.execute("INSERT INTO nokey SELECT g, 'aborted' FROM generate_series(1, 5000) g")
    conn.rollback()
    conn.close()


@pytest.mark.parametrize("plugin", ["pgcdc", "pgoutput"])
def test_streamed_transaction_applies_at_its_commit(source, target, broker, streamer, sink, plugin):
    rows = 200_000
    prepare(source)
    s = streamer(snapshot_mode="never", source_streaming="on", source_plugin=plugin,
                 provide_transaction_metadata="on").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    # Small batches: a batch fills with rolled-back changes alone, read back and dropped.
    w = sink(batch_max_bytes="65536").start()
    source.psql("INSERT INTO small VALUES (1, 'before')")
    wait_equal(source, target, ["small"])
    conn = open_big(source, rows)
    # In Kafka while in progress; nothing applied.
    wait_for(lambda: in_kafka(broker.bootstrap, "pgcdc.public.big") >= rows // 2, timeout=120,
             what="the open transaction's changes in Kafka")
    source.psql("INSERT INTO small VALUES (2, 'committed meanwhile')")
    aborted_big(source)
    wait_equal(source, target, ["small"])
    assert target_count(target, "big") == 0 and target_count(target, "nokey") == 0
    finish_big(conn, rows)
    source.psql("INSERT INTO small VALUES (3, 'after')")
    wait_equal(source, target, TABLES, timeout=300)
    assert dead_letters(target) == []
    assert s.stop() == 0 and w.stop() == 0
    # The transaction topic: BEGIN and COMMIT, counts without the rolled-back subtransaction's changes.
    tx = [m.record() for ms in read_all(broker.bootstrap, prefix="pgcdc.transaction").values() for m in ms]
    counts = [r["event_counts"] for r in tx if r["op"] == "commit" and r.get("event_counts", {}).get("public.big")]
    assert counts == [{"public.big": rows + 1000 + 1000 + 10000, "public.nokey": rows // 5 + 100}], counts
    big_xid = next(r["xid"] for r in tx if r["op"] == "commit" and "public.big" in r.get("event_counts", {}))
    assert sorted(r["op"] for r in tx if r["xid"] == big_xid) == ["begin", "commit"]


@pytest.mark.parametrize("victim", ["walstreamer", "walsink"])
def test_kill9_mid_stream(source, target, broker, streamer, sink, victim):
    rows = 150_000
    prepare(source)
    s = streamer(snapshot_mode="never", source_streaming="on").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    w = sink().start()
    conn = open_big(source, rows)
    wait_for(lambda: in_kafka(broker.bootstrap, "pgcdc.public.big") >= rows // 3, timeout=120,
             what="the open transaction's changes in Kafka")
    if victim == "walstreamer":
        # Mid-stream: the transaction is streamed again, under a new run, after the restart.
        s.kill()
        s.start()
        finish_big(conn, rows)
    else:
        finish_big(conn, rows)
        # Mid-way through applying it.
        wait_for(lambda: target_count(target, "big") > 0, timeout=300, what="the transaction being applied")
        w.kill()
        w.start()
    wait_equal(source, target, TABLES[:2], timeout=300)
    assert dead_letters(target) == []
    assert s.stop() == 0 and w.stop() == 0


def test_streamed_transactions_during_a_snapshot(source, target, broker, streamer, sink):
    """A snapshot reads the table while streamed transactions change it: one
    commits, one rolls back, one rolls a subtransaction back.  A chunk
    learns what a streamed transaction changed only at its commit, so the
    rows the rolled-back ones touched are never dropped from a chunk."""
    rows = 400_000
    prepare(source)
    source.psql(f"INSERT INTO big SELECT g, 'initial ' || g FROM generate_series(1, {rows}) g")
    s = streamer(snapshot_mode="initial", source_streaming="on", snapshot_chunk_rows="1000").start()
    w = sink().start()
    wait_for(lambda: query(source, "SELECT count(*) FROM pgcdc.snapshot_part WHERE rows > 0") not in
             (None, "0"), timeout=120, what="the snapshot to read its first chunks")
    kept = psycopg2.connect(source.dsn())
    cur = kept.cursor()
    cur.execute("UPDATE big SET v = 'streamed ' || id WHERE id % 3 = 0")
    cur.execute("SAVEPOINT s")
    cur.execute("UPDATE big SET v = 'rolled back' WHERE id % 3 = 2")
    cur.execute("ROLLBACK TO SAVEPOINT s")
    gone = psycopg2.connect(source.dsn())
    gone.cursor().execute("UPDATE big SET v = 'aborted' WHERE id % 3 = 1")
    gone.rollback()
    gone.close()
    cur.execute("DELETE FROM big WHERE id % 1000 = 0")
    reading = not snapshot_done(source)
    kept.commit()
    kept.close()
    assert reading, "the snapshot ended before the streamed transactions: make the table larger"
    wait_for(lambda: snapshot_done(source), timeout=300, what="the snapshot")
    wait_equal(source, target, ["big"], timeout=300)
    assert dead_letters(target) == []
    assert s.stop() == 0 and w.stop() == 0
