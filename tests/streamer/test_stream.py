"""Every operation and the snapshot arrive on the right topics with the right
keys, in per-key order, and decode to what the source holds."""

import json
import signal
import subprocess
import threading
import urllib.request

import pytest
from support import pgcdcwire
from support.binaries import WALSTREAMER
from support.checks import confirmed, lsn, snapshot_done, wait_for
from support.kafkaread import read_all


def by_topic(got):
    out = {}
    for (topic, _), msgs in got.items():
        out.setdefault(topic, []).extend(msgs)
    return out


def test_operations_snapshot_and_transactions(source, broker, streamer):
    source.psql("""
        CREATE TABLE acct (id int PRIMARY KEY, owner text, balance numeric(12,2), note text);
        CREATE TABLE pairs (a int, b text, v int, PRIMARY KEY (a, b));
        CREATE TABLE nokey (x int, y text);
        INSERT INTO acct SELECT g, 'o' || g, g * 1.5, NULL FROM generate_series(1, 50) g;
        INSERT INTO pairs VALUES (1, 'x', 1), (2, 'y', 2);
        INSERT INTO nokey VALUES (1, 'one');
    """)
    s = streamer(provide_transaction_metadata="on").start()
    # The changes after the snapshot: each row read once, as it was.
    wait_for(lambda: snapshot_done(source), what="the snapshot")
    source.psql("INSERT INTO acct VALUES (100, 'new', 1.00, 'n')")
    source.psql("UPDATE acct SET balance = balance + 1 WHERE id <= 3")
    source.psql("UPDATE acct SET id = 101 WHERE id = 100")
    source.psql("DELETE FROM acct WHERE id = 50")
    source.psql("UPDATE pairs SET v = 20 WHERE a = 2")
    source.psql("INSERT INTO nokey VALUES (2, 'two')")
    source.psql("TRUNCATE nokey")
    source.psql("SELECT pg_logical_emit_message(true, 'app', 'hello')")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: confirmed(source) >= end, what="the slot to confirm everything")
    assert s.stop() == 0

    topics = by_topic(read_all(broker.bootstrap))
    acct = topics["pgcdc.public.acct"]
    recs = [(m, m.record()) for m in acct]
    reads = [r for m, r in recs if r["op"] == "read"]
    assert sorted(r["row"]["id"] for r in reads) == list(range(1, 51))
    assert all(m.headers["pgcdc.op"] == "r" for m, r in recs if r["op"] == "read")
    # Records describe themselves: columns, keys and values from one message.
    first = reads[0]
    assert [c["name"] for c in first["columns"]] == ["id", "owner", "balance", "note"]
    assert [c["key"] for c in first["columns"]] == [True, False, False, False]
    assert first["schema"] == "public" and first["table"] == "acct"
    # Keys: the key column values, equal to the row's.
    for m, r in recs:
        if r["op"] in ("read", "insert"):
            assert pgcdc_key(m) == (r["row"]["id"],)
    row3 = [r["row"] for m, r in recs if r["op"] == "update" and r["row"]["id"] == 3]
    assert row3 and row3[0]["balance"] == "5.50"
    # Key change: once under the old key (marked), once under the new one.
    change = sorted((m.headers.get("pgcdc.key"), pgcdc_key(m)) for m, r in recs
                    if r["op"] == "update" and r["row"]["id"] == 101)
    assert change == [("new", (101,)), ("old", (100,))]
    deletes = [(pgcdc_key(m), r["old"]["id"]) for m, r in recs if r["op"] == "delete"]
    assert deletes == [((50,), 50)]

    # Per key, the messages of a partition are in source order.
    for (topic, part), msgs in read_all(broker.bootstrap).items():
        seen = {}
        for m in msgs:
            r = m.record()
            if "commit_lsn" in r and m.key is not None:
                assert seen.get(m.key, 0) <= r["commit_lsn"], (topic, part)
                seen[m.key] = r["commit_lsn"]

    pairs = [(pgcdc_key(m), m.record()["op"]) for m in topics["pgcdc.public.pairs"]]
    assert ((2, "y"), "update") in pairs and ((1, "x"), "read") in pairs

    # No key: null Kafka key; a truncate lands on every partition of the topic.
    nokey = topics["pgcdc.public.nokey"]
    assert all(m.key is None for m in nokey)
    truncs = [m for m in nokey if m.headers["pgcdc.op"] == "t"]
    parts = {p for (t, p) in read_all(broker.bootstrap, "pgcdc.public.nokey")}
    assert sorted(m.partition for m in truncs) == sorted(parts) and len(truncs) >= 1

    msgs = topics["pgcdc.message"]
    assert [(m.key, m.record()["prefix"]) for m in msgs] == [(b"app", "app")]

    # Transaction topic: BEGIN and COMMIT, the COMMIT with per-table counts.
    tx = sorted((m.record() for m in topics["pgcdc.transaction"]),
                key=lambda r: (r["commit_lsn"], r["op"] == "commit"))
    commits = [r for r in tx if r["op"] == "commit" and "event_counts" in r]
    # Changes, not messages: the key change counts once.
    assert [r["event_counts"] for r in commits] == [
        {"public.acct": 1}, {"public.acct": 3}, {"public.acct": 1}, {"public.acct": 1},
        {"public.pairs": 1}, {"public.nokey": 1}, {"public.nokey": 1}]
    assert sum(1 for r in tx if r["op"] == "begin") == sum(1 for r in tx if r["op"] == "commit")


def pgcdc_key(m):
    return pgcdcwire.key(m.key)


def test_graceful_stop_metrics_and_health(source, broker, streamer, tmp_path):
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    source.psql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    s = streamer(metrics_listen=f"127.0.0.1:{port}", status_interval_ms="60000").start()
    # Once the snapshot is done: a chunk still in flight at the stop holds the slot behind it.
    wait_for(lambda: snapshot_done(source), what="the snapshot")
    source.psql("INSERT INTO t SELECT g, 'v' FROM generate_series(1, 1000) g")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))

    def scrape():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        except OSError:
            return None
    wait_for(lambda: (scrape() or "").count('walstreamer_events_total{table="public.t",op="c"} 1000'),
             what="metrics")
    text = scrape()
    for name in ("walstreamer_received_lsn", "walstreamer_acknowledged_lsn", "walstreamer_lag_bytes",
                 "walstreamer_produced_bytes_total", "walstreamer_delivery_errors_total 0",
                 "walstreamer_snapshot_rows_total"):
        assert name in text
    health = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert health.status == 200 and health.read() == b"ok\n"
    # status.interval.ms is a minute, yet the stop confirms everything acknowledged.
    assert s.stop(signal.SIGTERM) == 0
    assert confirmed(source) >= end
    assert "stopped; confirmed" in s.text()


@pytest.mark.devbroker
def test_confirms_soon_after_the_last_acknowledgement(source, broker, streamer):
    """The slot learns of an acknowledgement within moments, not at the next
    status interval or loop timeout, even when the previous status went out
    just before.  The dev broker: its acknowledgements come 30 ms late."""
    import time
    import psycopg2
    source.psql("CREATE TABLE t (id int PRIMARY KEY)")
    broker.command("rtt 1 30")
    s = streamer(status_interval_ms="60000", heartbeat_interval_ms="0").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    conn = psycopg2.connect(source.dsn())
    conn.autocommit = True
    cur = conn.cursor()

    def slot():
        cur.execute("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'pgcdc'")
        return lsn(cur.fetchone()[0])
    delays = []
    for burst in range(10):
        for i in range(20):     # transactions, so acknowledgements, a few ms apart
            cur.execute("INSERT INTO t VALUES (%s)", (burst * 100 + i,))
            time.sleep(0.005)
        cur.execute("SELECT pg_current_wal_lsn()")
        end = lsn(cur.fetchone()[0])
        started = time.monotonic()
        while slot() < end and time.monotonic() - started < 30:
            time.sleep(0.01)
        delays.append(time.monotonic() - started)
    conn.close()
    assert s.stop() == 0
    assert max(delays) < 0.7, f"confirmed late: {[round(d, 2) for d in delays]}"


def test_stdout_output_and_check(source, broker, streamer):
    source.psql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    s = streamer(snapshot_mode="never").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    s.stop()
    before = confirmed(source)
    source.psql("INSERT INTO t VALUES (1, 'json')")
    p = subprocess.Popen([WALSTREAMER, f"--source={source.dsn()}", "--output", "stdout"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    killer = threading.Timer(30, p.kill)
    killer.start()
    while len(lines) < 3:
        line = p.stdout.readline()
        assert line, p.stderr.read()
        lines.append(json.loads(line))
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 0
    killer.cancel()
    assert [r["op"] for r in lines][-2:] in (["relation", "insert"], ["insert", "commit"]) or \
        any(r["op"] == "insert" and r["after"][1] == "json" for r in lines)
    assert confirmed(source) == before, "stdout output must never advance the slot"

    check = subprocess.run([WALSTREAMER, f"--source={source.dsn()}",
                            f"--kafka.bootstrap.servers={broker.bootstrap}", "--check"],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ok: wal_level = logical" in check.stdout
    assert "ok: output_plugin_libraries allows pgcdc" in check.stdout
    assert 'ok: slot "pgcdc" (pgcdc) confirmed up to' in check.stdout
    assert f"ok: kafka: {len(broker.bootstrap.split(','))} broker(s)" in check.stdout


def test_a_table_without_a_key_keeps_to_one_partition(source, broker, streamer):
    """A keyless table's changes, first copies and resends after kill -9
    alike, all go to one partition of its topic (the one its name hashes
    to), so walsink's position of that partition recognises every resend."""
    import time
    source.psql("CREATE TABLE nokey (v int); CREATE TABLE nokey2 (v int)")
    s = streamer(heartbeat_interval_ms="0").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    for burst in range(3):
        for i in range(40):
            if i == 20:
                # The rest reach the broker, but walstreamer dies before it
                # answers: the next one sends them again.
                broker.pause(1)
            source.psql(f"INSERT INTO nokey VALUES ({burst * 100 + i}); INSERT INTO nokey2 VALUES ({i})")
        time.sleep(0.5)
        s.kill()
        broker.resume(1)
        s.start()
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: confirmed(source) >= end, what="the slot to confirm everything")
    assert s.stop() == 0
    got = read_all(broker.bootstrap, prefix="pgcdc.public.nokey")
    for topic in ("pgcdc.public.nokey", "pgcdc.public.nokey2"):
        parts = {p for (t, p), ms in got.items() if t == topic and ms}
        assert len(parts) == 1, f"{topic} spread over partitions {sorted(parts)}"
    values = sorted(m.record()["row"]["v"] for (t, _), ms in got.items() if t == "pgcdc.public.nokey"
                    for m in ms)
    assert set(values) == {b * 100 + i for b in range(3) for i in range(40)}
    assert len(values) > 120, "no resends: the kills came after the slot had confirmed everything"
