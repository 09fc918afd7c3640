"""A single 1,000,000-row transaction is delivered completely, with the
producer's queue bounding the daemon's memory.  It is larger than the
source's logical_decoding_work_mem, so it comes streamed (source.streaming):
its changes, then its commit record on each partition they went to."""

import os

import psycopg2

from support.checks import confirmed, lsn, wait_for
from support.kafkaread import read_all, watermarks

ROWS = 1_000_000


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def test_million_row_transaction(source, broker, streamer):
    source.psql("CREATE TABLE million (id int PRIMARY KEY, v text, n numeric)")
    s = streamer(snapshot_mode="never").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    # In Kafka long before its commit: streamed while it is open.
    conn = psycopg2.connect(source.dsn())
    conn.cursor().execute(f"INSERT INTO million SELECT g, 'row ' || g, g * 0.5 FROM generate_series(1, {ROWS}) g")
    wait_for(lambda: sum(watermarks(broker.bootstrap, ["pgcdc.public.million"]).values()) > ROWS // 10,
             timeout=300, what="the open transaction's changes in Kafka")
    conn.commit()
    conn.close()
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: confirmed(source) >= end, timeout=600, what="the transaction to be confirmed")
    rss = peak_rss_kb(s.proc.pid)
    assert s.stop() == 0
    # Every row once: as many changes as rows, and as many distinct keys;
    # one commit record per partition, after its changes.
    got = read_all(broker.bootstrap, prefix="pgcdc.public.million")
    changes = [m for ms in got.values() for m in ms if m.headers.get("pgcdc.op") != "e"]
    assert len(changes) == ROWS
    assert len({m.key for m in changes}) == ROWS
    assert [[m.headers.get("pgcdc.op") for m in ms].index("e") for ms in got.values()] == \
        [len(ms) - 1 for ms in got.values()]
    print(f"walstreamer peak RSS through a {ROWS}-row transaction: {rss / 1024:.1f} MB")
    out = os.environ.get("PGCDC_RSS_FILE")
    if out:
        with open(out, "w") as f:
            f.write(f"{rss}\n")
