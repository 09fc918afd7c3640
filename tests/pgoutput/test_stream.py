"""walstreamer with source.plugin = pgoutput, end to end on a real broker
into walsink: every operation, a key change, an unchanged TOASTed value, a
truncate, a schema change; kill -9 of walstreamer mid-stream; the target
equals the source, exactly once.  The source has no pgcdc extension:
walstreamer makes its own tables and the publication."""

import signal

import pytest
from support import pgtemp
from support.checks import confirmed, lsn, snapshot_done, wait_equal, wait_for
from support.everyop import SETUP, TABLES, changes


@pytest.fixture
def source(install, request):
    """A source without the pgcdc extension, as a managed service's."""
    c = pgtemp.Cluster(install, request.node.name[:20]).start()
    yield c
    c.destroy()


def test_all_operations_and_a_kill(source, target, broker, streamer, sink):
    source.psql(SETUP)
    target.psql(SETUP)
    s = streamer(source_plugin="pgoutput", snapshot_mode="never").start()
    k = sink().start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    changes(source, 1000)
    source.psql("TRUNCATE full_row")
    source.psql("INSERT INTO full_row VALUES (1, 'after truncate')")
    wait_equal(source, target, TABLES)
    # walstreamer killed while it streams: from its slot again, nothing lost or doubled.
    changes(source, 2000)
    s.stop(signal.SIGKILL)
    changes(source, 3000)
    s = streamer(source_plugin="pgoutput", snapshot_mode="never").start()
    # A schema change of a published table.
    source.psql("ALTER TABLE acct ADD COLUMN note text")
    target.psql("ALTER TABLE acct ADD COLUMN note text")
    source.psql("INSERT INTO acct VALUES (9, 'nine', 9, now(), '2026-02-03', 'noted')")
    wait_equal(source, target, TABLES)
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: confirmed(source) >= end, what="the slot to confirm everything")
    assert s.stop() == 0 and k.stop() == 0
    assert source.psql("SELECT count(*) FROM pg_publication_tables WHERE pubname = 'pgcdc'") == "4"
    assert source.psql("SELECT count(*) FROM pg_extension WHERE extname = 'pgcdc'") == "0"
    assert source.psql("SELECT slot_name, plugin FROM pg_replication_slots") == "pgcdc|pgoutput"


def test_snapshot_without_the_extension(source, target, broker, streamer, sink):
    """The initial snapshot read by walstreamer itself: parts of a big table
    read side by side while a writer goes on, a composite key, a table
    without a key, values of every kind; kill -9 mid-snapshot."""
    setup = """
        CREATE TYPE mood AS ENUM ('sad', 'ok');
        CREATE TABLE big (id int PRIMARY KEY, v int, pad text);
        CREATE TABLE pairs (a int, b text, v int, PRIMARY KEY (a, b));
        CREATE TABLE keyless (x int, y text);
        ALTER TABLE keyless REPLICA IDENTITY FULL;
        CREATE TABLE kinds (id int PRIMARY KEY, ts timestamptz, d date, n numeric, f float8, u uuid,
                            by bytea, j jsonb, m mood, a int[], iv interval);
    """
    source.psql(setup)
    target.psql(setup)
    source.psql("INSERT INTO big SELECT g, 0, repeat('p', 50) FROM generate_series(1, 60000) g; "
                "INSERT INTO pairs SELECT g % 100, 'k' || g, g FROM generate_series(1, 3000) g; "
                "INSERT INTO keyless SELECT g, 'y' || g FROM generate_series(1, 500) g; "
                "INSERT INTO kinds VALUES (1, '2026-01-02 03:04:05.678+02', '2026-01-02', 1.50, 'NaN', "
                "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff', '{\"a\": [1, null]}', 'ok', '{1,2}', "
                "'1 day 02:00:00'), (2, 'infinity', '-infinity', -0.001, 1e300, NULL, '', 'null', 'sad', "
                "'{}', '-3 mons')")
    source.psql("ANALYZE")
    keys = {"source_plugin": "pgoutput", "snapshot_chunk_rows": "2000", "snapshot_parallelism": "2"}
    s = streamer(**keys).start()
    k = sink().start()
    wait_for(lambda: source.psql("SELECT to_regclass('pgcdc.snapshot_progress') IS NOT NULL") == "t" and
             source.psql("SELECT coalesce(sum(chunks), 0) FROM pgcdc.snapshot_progress") != "0",
             what="a first chunk")
    s.stop(signal.SIGKILL)
    source.psql("UPDATE big SET v = v + 1 WHERE id % 97 = 0; DELETE FROM big WHERE id % 89 = 0; "
                "INSERT INTO big SELECT g, 1, 'new' FROM generate_series(60001, 61000) g")
    s = streamer(**keys).start()
    wait_for(lambda: snapshot_done(source), timeout=180, what="the snapshot")
    source.psql("UPDATE kinds SET n = n + 1; DELETE FROM pairs WHERE a = 3")
    wait_equal(source, target, ["big", "pairs", "keyless", "kinds"], timeout=180)
    assert int(source.psql("SELECT count(*) FROM pgcdc.snapshot_part WHERE relid = 'big'::regclass")) >= 2
    assert s.stop() == 0 and k.stop() == 0
