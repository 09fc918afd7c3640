"""Snapshots read in chunks by key while the stream goes on (streamer/
snapshot.c, snapwatch.c): walstreamer killed at random moments while a
writer inserts, updates and deletes (deletes of rows already sent among
them) goes on from its last acknowledged chunk, and the target ends equal
to the source; the source's xmin horizon is held for one chunk read at
most; composite, text and uuid keys; a table without a key."""

import random
import threading
import time

import psycopg2
import pytest

from support.checks import confirmed, metric, snapshot_done, wait_equal, wait_for
from support.kafkaread import read_all
from support.ports import free_port


class Writer:
    """Small transactions against big(id, v, pad) until stopped: inserts of
    new ids, increments of v, deletes of existing ids, some of them low ids
    the snapshot has already sent."""

    def __init__(self, source, first_new, seed, pause=0.002, table="big"):
        self.source = source
        self.next_id = first_new
        self.rng = random.Random(seed)
        self.pause = pause
        self.table = table
        self.stop_flag = False
        self.inserted = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def run(self):
        conn = None
        while not self.stop_flag:
            try:
                if conn is None:
                    conn = psycopg2.connect(self.source.dsn())
                    conn.autocommit = True
                self.step(conn.cursor())
            except psycopg2.Error:
                # The source restarting: the statement's outcome is whatever
                # the source says it is; the tables are compared, not a log.
                conn = None
                time.sleep(0.2)
            time.sleep(self.pause)
        if conn is not None:
            conn.close()

    def step(self, cur):
        pick = self.rng.random()
        low = self.rng.randint(1, self.next_id)
        if pick < 0.3:
            cur.execute(f"INSERT INTO {self.table} VALUES (%s, 0, 'new')", (self.next_id,))
            self.next_id += 1
            self.inserted += 1
        elif pick < 0.7:
            cur.execute(f"UPDATE {self.table} SET v = v + 1 WHERE id IN (%s, %s)",
                        (low, self.rng.randint(1, self.next_id)))
        else:
            cur.execute(f"DELETE FROM {self.table} WHERE id = %s", (low,))

    def stop(self):
        self.stop_flag = True
        self.thread.join()


def progress(source, table="big"):
    """The table's snapshot progress: (rows, chunks, done)."""
    out = source.psql("SELECT rows, chunks, done IS NOT NULL FROM pgcdc.snapshot_progress "
                      f"WHERE table_name = '{table}'")
    if not out:
        return 0, 0, False
    rows, chunks, done = out.split("|")
    return int(rows), int(chunks), done == "t"


def snapshot_reads(bootstrap, topic):
    """The snapshot records (op r) in a topic."""
    return sum(1 for msgs in read_all(bootstrap, topic).values() for m in msgs if m.record()["op"] == "read")


def parts(source, table="big"):
    """The table's parts: [(rows, done)] in key order."""
    out = source.psql("SELECT rows, done IS NOT NULL FROM pgcdc.snapshot_part "
                      f"WHERE relid = '{table}'::regclass ORDER BY part")
    return [(int(r), d == "t") for r, d in (line.split("|") for line in out.splitlines())]


def test_kill9_during_the_snapshot_goes_on_and_the_target_ends_equal(source, target, broker, streamer, sink):
    """Two connections share the table's parts (key ranges from a sample);
    each kill -9 loses at most the chunks in flight on each."""
    rows, chunk, workers = 200000, 50, 2
    source.psql("CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text); "
                f"INSERT INTO big SELECT g, 0, md5(g::text) FROM generate_series(1, {rows}) g")
    s = streamer(snapshot_chunk_rows=str(chunk), snapshot_parallelism=str(workers),
                 heartbeat_interval_ms="0").start()
    w = sink().start()
    writer = Writer(source, rows + 1, seed=23).start()
    rng = random.Random(29)
    kills, seen, busy = 0, [], 0
    while kills < 10:
        # Somewhere in the middle of reading: once a chunk of this run was acknowledged.
        start = progress(source)[0]
        wait_for(lambda: progress(source)[0] > start or progress(source)[2], timeout=60,
                 what="a chunk acknowledged")
        time.sleep(rng.uniform(0.0, 0.5))
        read, _, done = progress(source)
        assert not done, f"the snapshot ended after {kills} kills: too fast for this test"
        seen.append(read)
        # Parts begun and not done: read side by side.
        busy = max(busy, sum(1 for r, d in parts(source) if r > 0 and not d))
        s.kill()
        kills += 1
        s.start()
    wait_for(lambda: progress(source)[2], timeout=300, what="the snapshot to complete")
    writer.stop()
    wait_equal(source, target, ["big"], timeout=300)
    assert seen == sorted(seen), f"the progress went back: {seen}"
    # Every start found the snapshot under way (the last may find it done).
    assert s.text().count("goes on:") >= kills - 1
    split = parts(source)
    assert len(split) >= 2 * workers and all(d for _, d in split), split
    assert busy >= 2, "the parts were not read side by side"
    # Read again: only the chunks in flight at each kill, not the table from zero.
    reads = snapshot_reads(broker.bootstrap, "pgcdc.public.big")
    assert reads <= rows + writer.inserted + kills * workers * 6 * chunk, (reads, kills)
    assert w.stop() == 0 and s.stop() == 0


def test_a_kafka_outage_and_a_source_restart_mid_snapshot(source, target, broker, streamer, sink):
    """The only broker killed mid-snapshot: no chunk is acknowledged while it
    is down, and the snapshot goes on when it is back, without a restart.
    Then the source restarted (fast shutdown): walstreamer restarts and goes
    on from each part's last acknowledged chunk.  The writer never stops."""
    rows, chunk, workers = 120000, 200, 2
    source.psql("CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text); "
                f"INSERT INTO big SELECT g, 0, md5(g::text) FROM generate_series(1, {rows}) g")
    s = streamer(snapshot_chunk_rows=str(chunk), snapshot_parallelism=str(workers),
                 heartbeat_interval_ms="0").start()
    w = sink(reconnect_backoff_max_ms="1000").start()
    writer = Writer(source, rows + 1, seed=31).start()
    wait_for(lambda: progress(source)[0] > rows // 10, timeout=120, what="a tenth of the table")
    broker.kill(1)
    time.sleep(3)               # what was in flight settles
    held = progress(source)
    time.sleep(5)
    assert progress(source) == held, "a chunk was acknowledged while Kafka was down"
    broker.start_node(1)
    wait_for(lambda: progress(source)[0] > held[0] + rows // 10, timeout=120, what="the snapshot to go on")
    read, _, done = progress(source)
    assert not done, "the snapshot ended before the source restarted: too fast for this test"
    assert "restarting from the slot" not in s.text(), "an outage of brokers needs no restart"
    source.stop("fast")
    time.sleep(1)
    source.start()
    wait_for(lambda: progress(source)[2], timeout=300, what="the snapshot to complete")
    assert progress(source)[0] >= read, "the progress went back"
    assert "restarting from the slot" in s.text() and "goes on:" in s.text()
    writer.stop()
    wait_equal(source, target, ["big"], timeout=300)
    # Read again: the chunks in flight at the restart, not the table from zero.
    reads = snapshot_reads(broker.bootstrap, "pgcdc.public.big")
    assert reads <= rows + writer.inserted + workers * 6 * chunk, reads
    assert w.stop() == 0 and s.stop() == 0


def test_the_xmin_horizon_is_held_for_one_chunk_read_at_most(source, broker, streamer):
    rows = 100000
    source.psql("CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text); "
                f"INSERT INTO big SELECT g, 0, md5(g::text) FROM generate_series(1, {rows}) g")
    s = streamer(snapshot_chunk_rows="1000", heartbeat_interval_ms="0").start()
    watch = psycopg2.connect(source.dsn())
    watch.autocommit = True
    held = {}                   # (pid, backend_xmin) -> first seen
    longest = 0.0
    with watch.cursor() as cur:
        while not progress(source)[2]:
            cur.execute("SELECT pid, backend_xmin::text FROM pg_stat_activity "
                        "WHERE application_name = 'walstreamer snapshot' AND backend_xmin IS NOT NULL")
            now = time.monotonic()
            current = set(cur.fetchall())
            for key in current:
                held.setdefault(key, now)
                longest = max(longest, now - held[key])
            held = {k: v for k, v in held.items() if k in current}
            cur.execute("SELECT count(*) FROM pg_replication_slots WHERE xmin IS NOT NULL")
            assert cur.fetchone()[0] == 0, "a slot holds the xmin horizon"
            time.sleep(0.01)
    # One chunk of 1,000 rows is read in milliseconds; the old exported
    # snapshot held one transaction for the whole table.
    assert longest < 1.0, f"an xmin held for {longest:.1f} s"
    assert s.stop() == 0


def test_composite_text_and_uuid_keys_under_writes(source, target, broker, streamer, sink):
    source.psql("""
        CREATE TABLE pair (region text, n bigint, v int NOT NULL DEFAULT 0, PRIMARY KEY (region, n));
        INSERT INTO pair SELECT r, g, 0 FROM unnest(ARRAY['', 'a b', 'Z', 'é', 'north']) r,
            generate_series(-1500, 1500) g;
        CREATE TABLE named (name text PRIMARY KEY, v int NOT NULL DEFAULT 0);
        INSERT INTO named SELECT md5(g::text) || chr(32 + g % 90), 0 FROM generate_series(1, 8000) g;
        CREATE TABLE ids (id uuid PRIMARY KEY, v int NOT NULL DEFAULT 0);
        INSERT INTO ids SELECT md5(g::text)::uuid, 0 FROM generate_series(1, 8000) g;""")
    stop = threading.Event()

    def write():
        conn = psycopg2.connect(source.dsn())
        conn.autocommit = True
        rng = random.Random(5)
        with conn.cursor() as cur:
            while not stop.is_set():
                g = rng.randint(-1500, 1500)
                cur.execute("UPDATE pair SET v = v + 1 WHERE n = %s", (g,))
                cur.execute("DELETE FROM pair WHERE region = 'Z' AND n = %s", (g,))
                cur.execute("UPDATE named SET v = v + 1 WHERE name = (SELECT name FROM named "
                            "OFFSET %s LIMIT 1)", (rng.randint(0, 7000),))
                cur.execute("DELETE FROM ids WHERE id = md5(%s::text)::uuid", (rng.randint(1, 8000),))
                cur.execute("INSERT INTO ids VALUES (gen_random_uuid(), 1)")
                time.sleep(0.002)
        conn.close()

    t = threading.Thread(target=write, daemon=True)
    t.start()
    # Two connections, each table in up to eight parts: their bounds are
    # composite, text (ordered by the column's collation) and uuid keys.
    port = free_port()
    s = streamer(snapshot_chunk_rows="250", snapshot_parallelism="2", heartbeat_interval_ms="0",
                 metrics_listen=f"127.0.0.1:{port}").start()
    w = sink().start()
    wait_for(lambda: snapshot_done(source), timeout=240, what="the snapshot to complete")
    # Per table: rows and chunks done as the progress rows say, the chunks to expect.
    for table in ("pair", "named", "ids"):
        rows, chunks, _ = progress(source, table)
        label = f'{{table="public.{table}"}}'
        assert metric(port, "walstreamer_snapshot_table_rows" + label) == rows
        assert metric(port, "walstreamer_snapshot_table_chunks" + label) == chunks
        assert metric(port, "walstreamer_snapshot_table_estimated_chunks" + label) == \
            metric(port, "walstreamer_snapshot_table_estimated_rows" + label) // 250 + 1
    stop.set()
    t.join()
    wait_equal(source, target, ["pair", "named", "ids"], timeout=180)
    assert int(source.psql("SELECT sum(chunks) FROM pgcdc.snapshot_progress")) > 3 * 20
    for table in ("pair", "named", "ids"):
        assert len(parts(source, table)) > 2, table
    assert w.stop() == 0 and s.stop() == 0


def test_a_table_without_a_key(source, target, broker, streamer, sink):
    """Read in one piece, again when it changed meanwhile; a table too large
    to be read in one piece stops walstreamer saying why."""
    source.psql("CREATE TABLE loose (a int, b text); ALTER TABLE loose REPLICA IDENTITY FULL; "
                "INSERT INTO loose SELECT g % 100, 'x' FROM generate_series(1, 30000) g")
    stop, writing = threading.Event(), threading.Event()

    def write():
        conn = psycopg2.connect(source.dsn())
        conn.autocommit = True
        i = 0
        with conn.cursor() as cur:
            while not stop.is_set():
                i += 1
                cur.execute("INSERT INTO loose VALUES (%s, 'new')", (i,))
                if i % 3 == 0:
                    cur.execute("DELETE FROM loose WHERE ctid = (SELECT min(ctid) FROM loose WHERE a = %s)",
                                (i % 100,))
                if i == 20:
                    writing.set()
                time.sleep(0.002)
        conn.close()

    t = threading.Thread(target=write, daemon=True)
    t.start()
    # A read takes a good part of a second, and the writer writes every few ms.
    writing.wait(30)
    s = streamer(heartbeat_interval_ms="0").start()
    w = sink().start()
    # Changed under every read, it is read under a lock in the end.
    wait_for(lambda: progress(source, "loose")[2], timeout=120, what="the snapshot to complete")
    stop.set()
    t.join()
    assert "read again" in s.text()
    wait_equal(source, target, ["loose"], timeout=120)
    assert w.stop() == 0 and s.stop() == 0

    source.psql("CREATE TABLE wide (a int, b text); ALTER TABLE wide ALTER b SET STORAGE PLAIN; "
                "INSERT INTO wide SELECT g, repeat('w', 1500) FROM generate_series(1, 30000) g")
    source.psql("SELECT pg_drop_replication_slot('pgcdc'); DELETE FROM pgcdc.streamer_slot")
    s = streamer(heartbeat_interval_ms="0", table_include_list="public.wide").start()
    wait_for(lambda: not s.running(), timeout=120, what="walstreamer to stop")
    assert "has no key" in s.text() and "public.wide" in s.text()


def test_a_watermark_of_a_killed_run_is_not_taken_for_a_new_chunk(source, target, broker, streamer, sink):
    """walstreamer killed (-9) twice while its snapshot reads a table without
    a key and inserts stream.  A killed run may leave a chunk's watermark
    in the WAL that the stream has not reached yet; the next run, starting
    from the slot, meets it.  Chunk ids are new in every run, so that
    watermark is not taken for the new run's chunk of the same number,
    which would be placed there, before inserts its read saw (applied twice
    then: the table ended with rows doubled)."""
    source.psql("CREATE TABLE kv (k int PRIMARY KEY, v int); CREATE TABLE log (n int, s text)")
    s = streamer(heartbeat_interval_ms="0").start()
    w = sink().start()
    for r in range(6):
        source.psql(f"INSERT INTO kv SELECT g, {r} FROM generate_series(1, 20000) g "
                    f"ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v; "
                    f"INSERT INTO log SELECT g, 'r{r}' FROM generate_series(1, 5000) g")
        if r in (2, 4):
            s.kill()
            s.start()
    wait_for(lambda: "snapshot complete" in s.text(), timeout=120, what="the snapshot")
    wait_equal(source, target, ["kv", "log"])
    assert w.stop() == 0 and s.stop() == 0


def test_a_snapshot_leaves_no_ghost_rows(source, target, broker, streamer, sink):
    """The target holds rows the source does not (deleted while nothing
    streamed): before the first key, between chunks, after the last, in a
    table the source has emptied, under a text key; the snapshot deletes
    exactly those, while a writer changes the source, and counts them."""
    source.psql("""
        CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text);
        INSERT INTO big SELECT g, 0, 'p' FROM generate_series(1, 20000) g WHERE g % 1000 <> 7;
        CREATE TABLE named (name text PRIMARY KEY, v int);
        INSERT INTO named SELECT 'n' || g, g FROM generate_series(1, 3000) g WHERE g % 500 <> 3;
        CREATE TABLE emptied (id int PRIMARY KEY);""")
    target.psql("""
        CREATE TABLE big (id int PRIMARY KEY, v int NOT NULL, pad text);
        INSERT INTO big SELECT g, -1, 'ghost' FROM generate_series(1, 20000) g WHERE g % 1000 = 7;
        INSERT INTO big VALUES (-5, -1, 'ghost'), (0, -1, 'ghost'), (20001, -1, 'ghost'), (99999, -1, 'ghost');
        INSERT INTO big VALUES (1, 99, 'stale'), (2000, 99, 'stale');
        CREATE TABLE named (name text PRIMARY KEY, v int);
        INSERT INTO named SELECT 'n' || g, -1 FROM generate_series(1, 3000) g WHERE g % 500 = 3;
        INSERT INTO named VALUES (' before', -1), ('zzz after', -1), ('n1', 77);
        CREATE TABLE emptied (id int PRIMARY KEY);
        INSERT INTO emptied SELECT generate_series(1, 10);""")
    ghosts = 20 + 4 + 6 + 2 + 10
    writer = Writer(source, 30000, seed=41, pause=0.003).start()
    port = free_port()
    s = streamer(snapshot_chunk_rows="700", heartbeat_interval_ms="0").start()
    w = sink(metrics_listen=f"127.0.0.1:{port}").start()
    wait_for(lambda: snapshot_done(source), timeout=180, what="the snapshot to complete")
    writer.stop()
    wait_equal(source, target, ["big", "named", "emptied"], timeout=180)
    removed = metric(port, "walsink_snapshot_removed_total")
    # The writer's deletes of ghost-free rows are streamed, not removed by ranges; its
    # deletes may also hit rows only a range would have deleted: at most the ghosts.
    assert removed == ghosts, (removed, ghosts)
    assert metric(port, 'walsink_snapshot_ranges_total{outcome="skipped"}') in (None, 0)
    assert w.stop() == 0 and s.stop() == 0


def test_the_first_range_of_a_table_the_target_does_not_have_yet(source, target, broker, streamer, sink):
    """The first copy of a range finds no target table (auto.create makes
    it from the rows in the same batch): it is claimed all the same, so a
    later copy on another partition does not delete what that batch wrote
    after it."""
    source.psql("CREATE TABLE fresh (id int PRIMARY KEY, v int NOT NULL)")
    stop = threading.Event()

    def write():
        conn = psycopg2.connect(source.dsn())
        conn.autocommit = True
        i = 0
        with conn.cursor() as cur:
            while not stop.is_set():
                i += 1
                cur.execute("INSERT INTO fresh VALUES (%s, 0)", (i,))
                time.sleep(0.002)
        conn.close()

    t = threading.Thread(target=write, daemon=True)
    t.start()
    s = streamer(heartbeat_interval_ms="0").start()
    # Small batches: the range's copies on the four partitions land in different ones.
    w = sink(batch_max_rows="10").start()
    wait_for(lambda: progress(source, "fresh")[2], timeout=120, what="the snapshot to complete")
    time.sleep(2)
    stop.set()
    t.join()
    wait_equal(source, target, ["fresh"], timeout=120)
    assert "no longer had deleted" not in w.text(), w.text()[-2000:]
    assert w.stop() == 0 and s.stop() == 0
