"""The pgoutput path's smoke test on PostgreSQL 14, 16, 17 and 18 (15 has
the full suite): official server binaries (tests/support/pgversions.py), no
extension.  Per version: the initial snapshot, every operation, a key
change, an unchanged TOASTed value, a truncate, kill -9 of walstreamer
mid-stream, and the target equal to the source, exactly once.  PostgreSQL
14's pgoutput sends transactions it has nothing of (walstreamer's own
bookkeeping among them), which make no record."""

import signal

import pytest
from support import pgtemp, pgversions
from support.checks import confirmed, lsn, snapshot_done, wait_equal, wait_for

TABLES = ["acct", "pairs", "toasty", "full_row"]

SETUP = """
    CREATE TABLE acct (id int PRIMARY KEY, owner text, balance numeric(12,2), at timestamptz, d date);
    CREATE TABLE pairs (a int, b text, v int, PRIMARY KEY (a, b));
    CREATE TABLE toasty (id int PRIMARY KEY, big text, n int);
    ALTER TABLE toasty ALTER big SET STORAGE EXTERNAL;
    CREATE TABLE full_row (a int, b text);
    ALTER TABLE full_row REPLICA IDENTITY FULL;
"""


@pytest.fixture(params=[14, 16, 17, 18], ids=lambda m: f"pg{m}")
def source(request):
    c = pgtemp.Cluster(pgversions.install(request.param), f"v{request.param}_{request.node.name[:12]}").start()
    yield c
    c.destroy()


def changes(source, base):
    source.psql(f"INSERT INTO acct SELECT g, 'o' || g, g * 1.5, '2026-01-01 00:00+00'::timestamptz + g * interval '1 s', "
                f"'2026-01-01'::date + g FROM generate_series({base}, {base + 199}) g")
    source.psql(f"UPDATE acct SET balance = balance + 1 WHERE id < {base + 20}")
    source.psql(f"UPDATE acct SET id = id + 100000 WHERE id = {base + 5}")
    source.psql(f"DELETE FROM acct WHERE id = {base + 6}")
    source.psql(f"INSERT INTO pairs VALUES ({base}, 'x', 1), ({base}, 'y', 2)")
    source.psql(f"UPDATE pairs SET b = 'z' WHERE a = {base} AND b = 'y'")
    source.psql(f"INSERT INTO toasty VALUES ({base}, repeat('t', 20000), 1)")
    source.psql(f"UPDATE toasty SET n = n + 1 WHERE id = {base}")
    source.psql(f"INSERT INTO full_row VALUES ({base}, 'a'); UPDATE full_row SET b = 'b' WHERE a = {base}")


def test_pgoutput_on_each_version(source, target, broker, streamer, sink):
    source.psql(SETUP)
    target.psql(SETUP)
    changes(source, 1)                           # read by the snapshot
    s = streamer(source_plugin="pgoutput").start()
    k = sink().start()
    wait_for(lambda: snapshot_done(source), what="the snapshot")
    changes(source, 1000)
    source.psql("TRUNCATE full_row; INSERT INTO full_row VALUES (1, 'after truncate')")
    wait_equal(source, target, TABLES)
    changes(source, 2000)
    s.stop(signal.SIGKILL)
    changes(source, 3000)
    s = streamer(source_plugin="pgoutput").start()
    wait_equal(source, target, TABLES)
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: confirmed(source) >= end, what="the slot to confirm everything")
    assert s.stop() == 0 and k.stop() == 0
