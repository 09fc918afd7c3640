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
from support.everyop import SETUP, TABLES, changes


@pytest.fixture(params=[14, 16, 17, 18], ids=lambda m: f"pg{m}")
def source(request):
    c = pgtemp.Cluster(pgversions.install(request.param), f"v{request.param}_{request.node.name[:12]}").start()
    yield c
    c.destroy()


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
