"""walstreamer reading a standby, on PostgreSQL 16 (logical decoding on a
standby): the slot is the standby's, the snapshot reads the standby, and
what walstreamer writes (its tables, the publication, snapshot watermarks,
heartbeats, a keyless table's snapshot lock) goes to the primary named by
source.primary.  A writer goes on throughout, on a table with a key and
one without (whose snapshot chunk, changed under its reads, is read under
the primary's lock); walstreamer is killed mid-stream.  The target equals
the primary: nothing lost, nothing applied twice."""

import subprocess
import threading
import time

import psycopg2
import pytest
from support import pgtemp, pgversions
from support.binaries import WALSTREAMER
from support.checks import dead_letters, snapshot_done, wait_equal, wait_for

TABLES = ["acct", "events"]
SETUP = """
    CREATE TABLE acct (id int PRIMARY KEY, v int);
    CREATE TABLE events (n int, note text);
    ALTER TABLE events REPLICA IDENTITY FULL;
    INSERT INTO acct SELECT g, 0 FROM generate_series(1, 20000) g;
    INSERT INTO events SELECT g, 'before' FROM generate_series(1, 20000) g;
"""


@pytest.fixture
def source(request):
    c = pgtemp.Cluster(pgversions.install(16), "standby_primary").start()
    yield c
    c.destroy()


class Writer(threading.Thread):
    def __init__(self, dsn):
        super().__init__(daemon=True)
        self.dsn = dsn
        self.n = 100000
        self.stop_flag = False

    def run(self):
        conn = psycopg2.connect(self.dsn)
        conn.autocommit = True
        while not self.stop_flag:
            with conn.cursor() as cur:
                cur.execute("INSERT INTO events VALUES (%s, 'w'); UPDATE acct SET v = v + 1 WHERE id = %s",
                            (self.n, self.n % 20000 + 1))
            self.n += 1
            time.sleep(0.003)
        conn.close()


def test_reading_a_standby(source, target, broker, streamer, sink, tmp_path):
    source.psql(SETUP)
    target.psql("CREATE TABLE acct (id int PRIMARY KEY, v int); CREATE TABLE events (n int, note text)")
    standby = pgtemp.Cluster.standby_of(source, "standby1", settings={"hot_standby_feedback": "on"}).start()
    try:
        wait_for(lambda: source.psql("SELECT count(*) FROM pg_stat_replication WHERE application_name = "
                                     "'standby1' AND state = 'streaming'") == "1", what="the standby")
        # Without source.primary: a clear refusal, at --check and at start.
        alone = subprocess.run([WALSTREAMER, f"--source={standby.dsn()}", "--source.plugin=pgoutput",
                                f"--kafka.bootstrap.servers={broker.bootstrap}", "--check"],
                               capture_output=True, text=True, timeout=120)
        assert alone.returncode != 0 and "set source.primary" in alone.stdout + alone.stderr, alone.stdout
        checked = subprocess.run([WALSTREAMER, f"--source={standby.dsn()}", f"--source.primary={source.dsn()}",
                                  "--source.plugin=pgoutput", f"--kafka.bootstrap.servers={broker.bootstrap}",
                                  "--check"], capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        keys = dict(source=standby.dsn(), source_primary=source.dsn(), source_plugin="pgoutput",
                    snapshot_chunk_rows="500")
        w = Writer(source.dsn())
        w.start()
        s = streamer(**keys).start()
        k = sink().start()
        wait_for(lambda: standby.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgcdc'")
                 == "1", timeout=120, what="the standby's slot")
        wait_for(lambda: snapshot_done(source), timeout=300, what="the snapshot")
        s.kill()
        time.sleep(1)
        s = streamer(**keys).start()
        time.sleep(2)
        w.stop_flag = True
        w.join()
        wait_equal(source, target, TABLES, timeout=300)
        assert dead_letters(target) == []
        assert s.stop() == 0 and k.stop() == 0
        assert "read under a SHARE lock on source.primary" in open(tmp_path / "walstreamer.log").read()
        assert source.psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'pgcdc'") == "0"
    finally:
        standby.destroy()
