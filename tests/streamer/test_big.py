"""A single 1,000,000-row transaction is delivered completely, with the
producer's queue bounding the daemon's memory."""

import os

from conftest import confirmed, lsn, wait_for, watermarks

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
    source.psql(f"INSERT INTO million SELECT g, 'row ' || g, g * 0.5 FROM generate_series(1, {ROWS}) g")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: confirmed(source) >= end, timeout=600, what="the transaction to be confirmed")
    rss = peak_rss_kb(s.proc.pid)
    assert s.stop() == 0
    # The dev broker keeps only the newest messages of a partition, but its
    # offsets count every message appended.
    marks = watermarks(broker.bootstrap, topics={"pgcdc.public.million"})
    delivered = sum(hw for (t, _), hw in marks.items() if t == "pgcdc.public.million")
    assert delivered == ROWS
    print(f"walstreamer peak RSS through a {ROWS}-row transaction: {rss / 1024:.1f} MB")
    out = os.environ.get("PGCDC_RSS_FILE")
    if out:
        with open(out, "w") as f:
            f.write(f"{rss}\n")
