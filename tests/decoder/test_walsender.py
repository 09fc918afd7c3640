"""The decoder over the replication protocol (walsender), via pg_recvlogical.

pg_regress only reaches the SQL interface; these cover what differs in a
walsender: options without a value, callbacks outside a transaction, and the
slot advancing when every change is filtered out.
"""

import json
import subprocess

import pytest


def recvlogical(cluster, slot, endpos, *options):
    argv = [cluster.install.prog("pg_recvlogical"), "-d", cluster.dsn(), "--slot", slot,
            "--start", "--endpos", endpos, "-f", "-", "--no-loop"]
    for opt in options:
        argv += ["-o", opt]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def confirmed_flush(cluster, slot):
    return cluster.psql(f"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'")


def lsn_ge(a, b):
    ah, al = (int(x, 16) for x in a.split("/"))
    bh, bl = (int(x, 16) for x in b.split("/"))
    return (ah, al) >= (bh, bl)


def test_stream_over_walsender(cluster):
    cluster.psql("SELECT 'x' FROM pg_create_logical_replication_slot('ws_stream', 'pgcdc')")
    cluster.psql("SELECT pg_logical_emit_message(false, 'early', 'before any transaction')")
    cluster.psql("CREATE TABLE ws (id int PRIMARY KEY, v text)")
    cluster.psql("INSERT INTO ws VALUES (1, 'a'), (2, 'b')")
    cluster.psql("UPDATE ws SET v = 'c' WHERE id = 2")
    end = cluster.psql("SELECT pg_current_wal_lsn()")

    # "-o skip-empty-xacts" has no value: a boolean option reads it as on.
    records = recvlogical(cluster, "ws_stream", end, "format=json", "skip-empty-xacts")
    ops = [r["op"] for r in records]
    assert ops == ["message", "begin", "relation", "insert", "insert", "commit",
                   "begin", "update", "commit"], ops
    # The first record comes before any transaction: still names its database.
    assert records[0]["database"] == "postgres"
    assert all(r["database"] == "postgres" for r in records)
    assert [r["after"][0]["int"] for r in records if r["op"] == "insert"] == [1, 2]
    assert records[7]["after"] == [{"int": 2}, {"text": "c"}]
    assert lsn_ge(confirmed_flush(cluster, "ws_stream"), records[-1]["end_lsn"])


def test_binary_over_walsender(cluster):
    """Protobuf output passes through the walsender unchanged: the same records
    as pgcdc.to_json renders from the SQL interface."""
    cluster.psql("CREATE EXTENSION IF NOT EXISTS pgcdc")
    cluster.psql("SELECT 'x' FROM pg_create_logical_replication_slot('ws_bin', 'pgcdc')")
    cluster.psql("CREATE TABLE wsb (id bigint PRIMARY KEY, n numeric, t timestamptz)")
    cluster.psql("INSERT INTO wsb VALUES (1, 1.5, '2026-01-01 00:00+00')")
    end = cluster.psql("SELECT pg_current_wal_lsn()")
    sql_side = cluster.psql("SELECT string_agg(pgcdc.to_json(data)::text, E'\\n') "
                            "FROM pg_logical_slot_peek_binary_changes('ws_bin', NULL, NULL)")
    expected = [json.loads(line) for line in sql_side.splitlines()]
    records = recvlogical(cluster, "ws_bin", end, "format=json")
    assert records == expected


def test_filtered_transactions_advance_the_slot(cluster):
    cluster.psql("SELECT 'x' FROM pg_create_logical_replication_slot('ws_filtered', 'pgcdc')")
    cluster.psql("CREATE TABLE noisy (id int)")
    start = confirmed_flush(cluster, "ws_filtered")
    for _ in range(5):
        cluster.psql("INSERT INTO noisy SELECT g FROM generate_series(1, 500) g")
    end = cluster.psql("SELECT pg_current_wal_lsn()")
    records = recvlogical(cluster, "ws_filtered", end, "format=json", "skip-empty-xacts=on",
                          "exclude-tables=public.noisy")
    assert records == []
    flushed = confirmed_flush(cluster, "ws_filtered")
    assert lsn_ge(flushed, end) and flushed != start


def test_plugin_must_be_allowed(cluster):
    """Without pgcdc in output_plugin_libraries the server refuses the slot."""
    cluster.psql("ALTER SYSTEM SET output_plugin_libraries = pgoutput")
    cluster.psql("SELECT pg_reload_conf()")
    try:
        with pytest.raises(subprocess.CalledProcessError) as err:
            cluster.psql("SELECT 'x' FROM pg_create_logical_replication_slot('ws_refused', 'pgcdc')")
        assert 'may not be used as an output plugin' in err.value.stderr
    finally:
        cluster.psql("ALTER SYSTEM RESET output_plugin_libraries")
        cluster.psql("SELECT pg_reload_conf()")


def test_batches_frame_the_same_records(cluster):
    """batch-bytes: every message is whole records, each preceded by its
    length; a transaction's records are split only once a batch is full and
    the batch ends at COMMIT; a non-transactional message goes out at once.
    Through the SQL interface each message is one row."""
    import psycopg2
    from support import pgcdcwire

    cluster.psql("SELECT 'x' FROM pg_create_logical_replication_slot('ws_batch', 'pgcdc')")
    cluster.psql("CREATE TABLE wbatch (id int PRIMARY KEY, v text)")
    cluster.psql("INSERT INTO wbatch SELECT g, repeat('v', g % 50) FROM generate_series(1, 3000) g")
    cluster.psql("SELECT pg_logical_emit_message(false, 'alone', 'x')")
    cluster.psql("BEGIN; INSERT INTO wbatch VALUES (0, 'z'); "
                 "SELECT pg_logical_emit_message(true, 'inside', 'y'); COMMIT;")
    conn = psycopg2.connect(cluster.dsn())
    cur = conn.cursor()
    cur.execute("SELECT data FROM pg_logical_slot_peek_binary_changes('ws_batch', NULL, NULL)")
    single = [bytes(r[0]) for r in cur.fetchall()]
    cur.execute("SELECT data FROM pg_logical_slot_peek_binary_changes('ws_batch', NULL, NULL, "
                "'batch-bytes', '4096')")
    rows = [bytes(r[0]) for r in cur.fetchall()]
    batches = [pgcdcwire.frames(row) for row in rows]
    conn.close()

    assert [rec for b in batches for rec in b] == single
    ops = [[pgcdcwire.record(rec)["op"] for rec in b] for b in batches]
    # The 3000-row transaction: full batches, the last one ending at its COMMIT.
    big = [i for i, b in enumerate(ops) if "insert" in b and "message" not in b]
    assert len(big) > 10 and ops[big[0]][0] == "begin" and ops[big[-1]][-1] == "commit"
    for i in big[:-1]:
        assert 4096 <= len(rows[i]) < 4096 + 200, f"batch {i}: {len(rows[i])} bytes"
    # The lone message on its own; the small transaction in one batch.
    assert ops[big[-1] + 1] == ["message"]
    assert ops[big[-1] + 2] == ["begin", "insert", "message", "commit"]
    assert len(ops) == big[-1] + 3
