"""A primary failover under walstreamer, on PostgreSQL 17 (failover slots):
a physical standby made with the low-level backup API keeps the slot in
step (sync_replication_slots); the primary dies mid-stream (immediate
stop, a writer going on), the standby is promoted, walstreamer finds the
new primary through its multi-host source (target_session_attrs=read-write)
and goes on from the synchronised slot; walsink takes the new timeline as
the same history (header pgcdc.source.history).  The target equals the new
primary: nothing lost, nothing applied twice (a table without a key would
show a double)."""

import threading
import time

import psycopg2
import pytest
from support import pgtemp, pgversions
from support.checks import confirmed, dead_letters, wait_equal, wait_for

TABLES = ["acct", "events"]
SETUP = """
    CREATE TABLE acct (id int PRIMARY KEY, v int);
    CREATE TABLE events (n int, note text);
    ALTER TABLE events REPLICA IDENTITY FULL;
"""


@pytest.fixture
def source(request):
    c = pgtemp.Cluster(pgversions.install(17), "failover_primary").start()
    yield c
    c.destroy()


class Writer(threading.Thread):
    """One small transaction after another on whichever server takes writes."""

    def __init__(self, dsn):
        super().__init__(daemon=True)
        self.dsn = dsn
        self.n = 0
        self.stop_flag = False

    def run(self):
        conn = None
        while not self.stop_flag:
            try:
                if conn is None:
                    conn = psycopg2.connect(self.dsn, connect_timeout=2)
                    conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO events VALUES (%s, 'w'); "
                                "INSERT INTO acct VALUES (%s, 0) ON CONFLICT (id) DO UPDATE SET v = acct.v + 1",
                                (self.n, self.n % 50))
                self.n += 1
            except psycopg2.Error:
                conn = None
                time.sleep(0.2)
            time.sleep(0.005)


def test_promotion_mid_stream(source, target, broker, streamer, sink):
    source.psql(SETUP)
    target.psql(SETUP)
    standby = pgtemp.Cluster.standby_of(source, "standby1", settings={"sync_replication_slots": "on"}).start()
    try:
        # Commits wait for the standby, and logical decoding never gets ahead of it.
        source.psql("ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        source.psql("ALTER SYSTEM SET synchronized_standby_slots = 'standby1'")
        source.psql("SELECT pg_reload_conf()")
        wait_for(lambda: source.psql("SELECT count(*) FROM pg_stat_replication WHERE application_name = "
                                     "'standby1' AND state = 'streaming' AND sync_state = 'sync'") == "1",
                 what="the standby")
        both = (f"host=127.0.0.1,127.0.0.1 port={source.port},{standby.port} user=postgres dbname=postgres "
                "target_session_attrs=read-write")
        s = streamer(source=both, source_plugin="pgoutput", reconnect_backoff_max_ms="1000").start()
        k = sink().start()
        w = Writer(both)
        w.start()
        wait_for(lambda: standby.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgcdc' "
                                      "AND synced AND failover AND NOT temporary") == "1", timeout=120,
                 what="the slot synchronised, persistent")
        wait_for(lambda: w.n > 300, what="writes")
        # The primary dies mid-stream; the standby takes over.
        source.stop("immediate")
        standby.promote()
        wait_for(lambda: w.n > 600, timeout=90, what="writes on the new primary")
        w.stop_flag = True
        w.join()
        wait_equal(standby, target, TABLES, timeout=180)
        assert standby.psql("SELECT count(*) FROM events") == str(w.n) or int(
            standby.psql("SELECT count(*) FROM events")) >= 600
        assert standby.psql("SELECT count(*) - count(DISTINCT n) FROM events") == "0"
        assert dead_letters(target) == []
        assert k.running() and s.running()
        text = s.text()
        assert "streaming from slot" in text
        assert k.stop() == 0 and s.stop() == 0
        assert "a promotion after the stored position" in k.text()
        assert confirmed(standby) is not None
    finally:
        standby.destroy()
