"""walstreamer with source.plugin = pgoutput, end to end on a real broker
into walsink: every operation, a key change, an unchanged TOASTed value, a
truncate, a schema change; kill -9 of walstreamer mid-stream; the target
equals the source, exactly once.  The source has no pgcdc extension:
walstreamer makes its own tables and the publication."""

import signal

import pytest
from support import pgtemp
from support.checks import confirmed, lsn, wait_equal, wait_for


@pytest.fixture
def source(install, request):
    """A source without the pgcdc extension, as a managed service's."""
    c = pgtemp.Cluster(install, request.node.name[:20]).start()
    yield c
    c.destroy()

TABLES = ["acct", "pairs", "toasty", "full_row"]

SETUP = """
    CREATE TABLE acct (id int PRIMARY KEY, owner text, balance numeric(12,2), at timestamptz);
    CREATE TABLE pairs (a int, b text, v int, PRIMARY KEY (a, b));
    CREATE TABLE toasty (id int PRIMARY KEY, big text, n int);
    ALTER TABLE toasty ALTER big SET STORAGE EXTERNAL;
    CREATE TABLE full_row (a int, b text);
    ALTER TABLE full_row REPLICA IDENTITY FULL;
"""


def workload(source, base):
    source.psql(f"INSERT INTO acct SELECT g, 'o' || g, g * 1.5, '2026-01-01 00:00+00'::timestamptz + g * interval '1 s' "
                f"FROM generate_series({base}, {base + 199}) g")
    source.psql(f"UPDATE acct SET balance = balance + 1 WHERE id < {base + 20}")
    source.psql(f"UPDATE acct SET id = id + 100000 WHERE id = {base + 5}")
    source.psql(f"DELETE FROM acct WHERE id = {base + 6}")
    source.psql(f"INSERT INTO pairs VALUES ({base}, 'x', 1), ({base}, 'y', 2)")
    source.psql(f"UPDATE pairs SET b = 'z' WHERE a = {base} AND b = 'y'")
    source.psql(f"INSERT INTO toasty VALUES ({base}, repeat('t', 20000), 1)")
    source.psql(f"UPDATE toasty SET n = n + 1 WHERE id = {base}")
    source.psql(f"INSERT INTO full_row VALUES ({base}, 'a'); UPDATE full_row SET b = 'b' WHERE a = {base}")


def test_all_operations_and_a_kill(source, target, broker, streamer, sink):
    source.psql(SETUP)
    target.psql(SETUP)
    s = streamer(source_plugin="pgoutput", snapshot_mode="never").start()
    k = sink().start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    workload(source, 1000)
    source.psql("TRUNCATE full_row")
    source.psql("INSERT INTO full_row VALUES (1, 'after truncate')")
    wait_equal(source, target, TABLES)
    # walstreamer killed while it streams: from its slot again, nothing lost or doubled.
    workload(source, 2000)
    s.stop(signal.SIGKILL)
    workload(source, 3000)
    s = streamer(source_plugin="pgoutput", snapshot_mode="never").start()
    # A schema change of a published table.
    source.psql("ALTER TABLE acct ADD COLUMN note text")
    target.psql("ALTER TABLE acct ADD COLUMN note text")
    source.psql("INSERT INTO acct VALUES (9, 'nine', 9, now(), 'noted')")
    wait_equal(source, target, TABLES)
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: confirmed(source) >= end, what="the slot to confirm everything")
    assert s.stop() == 0 and k.stop() == 0
    assert source.psql("SELECT count(*) FROM pg_publication_tables WHERE pubname = 'pgcdc'") == "4"
    assert source.psql("SELECT count(*) FROM pg_extension WHERE extname = 'pgcdc'") == "0"
    assert source.psql("SELECT slot_name, plugin FROM pg_replication_slots") == "pgcdc|pgoutput"
