"""Faults under a continuous workload: walsink killed with SIGKILL at random
moments and right after a target commit (the dev broker, which can refuse
offset commits), the target restarted, Kafka killed, retention (real Kafka).
Afterwards source and target are equal, and no change was applied twice.

The workload (the streamer suite's) increments kv rows many times; in the
target a trigger records every update of kv as (old v, new v).  The source
only ever increments, so an applied change replayed (a double apply, or an
older state applied after a newer one) shows as new v <= old v."""

import collections
import os
import random
import signal
import subprocess
import time

import psycopg2
import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from support import pgcdcwire, pgtemp
from support.checks import (confirmed, dead_letters, lsn, metric, snapshot_done, table_rows, wait_equal,
                            wait_for)
from support.kafkaread import read_all
from support.ports import free_port
from support.workload import HISTORY, Workload, settle


def last_commit(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT max(updated) FROM pgcdc.sink_position")
        return cur.fetchone()[0]


def kafka_behind(conn, bootstrap, group="walsink"):
    """The partitions whose offset committed to Kafka is behind the one
    stored in the target with the rows (next offset to read)."""
    with conn.cursor() as cur:
        cur.execute('SELECT topic, partition, "offset" + 1 FROM pgcdc.sink_position WHERE group_id = %s '
                    'AND "offset" >= 0',
                    (group,))
        stored = {(t, p): o for t, p, o in cur.fetchall()}
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        got = c.committed([TopicPartition(t, p) for t, p in stored], timeout=10)
    finally:
        c.close()
    return [(tp.topic, tp.partition) for tp in got if tp.offset < stored[(tp.topic, tp.partition)]]


@pytest.mark.devbroker
def test_kill9_at_random_moments(source, target, broker, streamer, sink):
    target.psql(HISTORY)
    work = Workload(source, pause=0.004)
    s = streamer(heartbeat_interval_ms="0").start()
    wait_for(lambda: snapshot_done(source), what="the snapshot")  # see HISTORY
    # A short session (below real Kafka's 6 s minimum): the killed member's
    # partitions move on within seconds.
    w = sink(kafka_session_timeout_ms="3000", kafka_heartbeat_interval_ms="1000").start()
    work.start()
    wait_for(lambda: target.psql("SELECT to_regclass('pgcdc.sink_position') IS NOT NULL") == "t",
             what="walsink's tables")
    watch = psycopg2.connect(target.dsn())
    watch.autocommit = True
    rng = random.Random(11)
    # Fewer under the sanitizers, which run every suite a second time, slower.
    kills = 6 if os.environ.get("PGCDC_SANITIZED") == "1" else 12
    between = 0
    for i in range(kills):
        # Every fourth kill falls between a target commit and the offset
        # commit to Kafka that follows it: Kafka refuses those commits until
        # the kill, so its committed offsets stay behind the stored ones.
        held = i % 4 == 3
        if held:
            broker.command("errors offsetcommit " + " ".join(["INVALID_COMMIT_OFFSET_SIZE"] * 30))
        # Each kill while applying: once a batch has committed since the start...
        seen = last_commit(watch)
        deadline = time.monotonic() + 60
        while last_commit(watch) == seen and time.monotonic() < deadline:
            time.sleep(0.001)
        assert last_commit(watch) != seen, "walsink applied nothing for 60 s"
        # ...then at once (before, or while, the informational offset commit
        # reaches Kafka), or at a random moment of the batches that follow.
        if i % 2 and not held:
            time.sleep(rng.uniform(0, 0.4))
        w.kill()
        if held:
            assert kafka_behind(watch, broker.bootstrap), "Kafka's offsets caught up before the kill"
            broker.command("clear offsetcommit")
            between += 1
        w.start()
    assert between >= 1
    watch.close()
    settle(work, source, target, committed=300)
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


def test_walstreamer_resends_and_a_member_that_dies(source, target, broker, streamer, sink, tmp_path):
    """walstreamer killed under load sends again what Kafka acknowledged after
    the slot's last confirmed position: walsink skips those resends and counts
    them (reason "applied").  A second walsink joins the group, takes
    partitions, and is killed: they come back and resume from the positions
    stored in the target."""
    target.psql(HISTORY)
    work = Workload(source, pause=0.004)
    # Confirmed positions reach the slot every few seconds: a kill resends the rest.
    s = streamer(heartbeat_interval_ms="0", status_interval_ms="5000").start()
    wait_for(lambda: snapshot_done(source), what="the snapshot")  # see HISTORY
    port = free_port()
    w = sink(metrics_listen=f"127.0.0.1:{port}", kafka_session_timeout_ms="6000",
             kafka_heartbeat_interval_ms="1000").start()
    work.start()
    wait_for(lambda: target.psql("SELECT to_regclass('ledger') IS NOT NULL") == "t", what="ledger created")
    for _ in range(3):
        time.sleep(2)
        s.kill()
        s.start()
    resent = lambda: metric(port, 'walsink_skipped_total{reason="applied"}') or 0  # noqa: E731
    wait_for(lambda: resent() > 0, what="walstreamer's resends skipped")

    w2 = sink(kafka_session_timeout_ms="6000", kafka_heartbeat_interval_ms="1000")
    w2.log = os.path.join(tmp_path, "walsink-2.log")
    w2.start()
    wait_for(lambda: "assigned" in w2.text(), what="the second walsink's partitions")
    time.sleep(2)
    w2.kill()
    settle(work, source, target, committed=300)
    # Every resend in the topics was met by the first walsink or by the second:
    # the first one's count is at most what was sent twice.
    copies = collections.Counter()
    for (topic, _), ms in read_all(broker.bootstrap).items():
        for m in ms:
            r = m.record()
            if r["op"] in ("insert", "update", "delete"):
                copies[(topic, r["commit_lsn"], r["lsn"], m.key)] += 1
    twice = sum(n - 1 for n in copies.values())
    assert 0 < resent() <= twice, (resent(), twice)
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


def test_target_restarts_and_kafka_down(source, target, broker, streamer, sink):
    target.psql(HISTORY)
    work = Workload(source, pause=0.004)
    s = streamer(heartbeat_interval_ms="0").start()
    wait_for(lambda: snapshot_done(source), what="the snapshot")  # see HISTORY
    w = sink(reconnect_backoff_max_ms="1000").start()
    work.start()
    wait_for(lambda: target.psql("SELECT to_regclass('ledger') IS NOT NULL") == "t", what="ledger created")
    for mode in ("immediate", "fast", "immediate"):
        time.sleep(1.5)
        if mode == "fast":
            target.stop(mode=mode)      # a batch commits every few ms: between or during one
        else:
            # Surely mid-batch: walsink's transaction waits on a lock of kv
            # when the target goes down.
            hold = psycopg2.connect(target.dsn())
            hold.cursor().execute("LOCK TABLE kv IN ACCESS EXCLUSIVE MODE")
            wait_for(lambda: target.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                         "AND state = 'active' AND xact_start IS NOT NULL") == "1",
                     what="a batch of walsink waiting on kv")
            target.stop(mode=mode)
            hold.close()
        time.sleep(2)
        target.start()
    assert w.running(), "walsink gave up on the target"
    # Kafka gone (kill -9): walsink waits, then goes on from where it was.
    time.sleep(1)
    broker.kill(1)
    time.sleep(8)
    broker.start_node(1)
    time.sleep(2)
    settle(work, source, target, committed=500)
    assert "restarting from the target's positions" in w.text()
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


# Retention by size, as small as Kafka allows: the oldest 1 MB segments go
# once a partition holds more than 1 MB (checked every second).
SMALL_RETENTION = {"segment.bytes": "1048576", "retention.bytes": "1048576"}


def test_changes_gone_from_kafka_stop_walsink(source, target, broker, streamer, sink):
    """Retention removed changes walsink had not applied: it stops with an
    error (exit 1) instead of skipping to what Kafka still has."""
    source.psql("CREATE TABLE r (id int PRIMARY KEY, v text)")
    broker.create_topic("pgcdc.public.r", 4, config=SMALL_RETENTION)
    # No snapshot: its range records would be the first messages, the ones retention removes.
    s = streamer(heartbeat_interval_ms="0", snapshot_mode="never").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    w = sink().start()
    source.psql("INSERT INTO r SELECT g, 'v' FROM generate_series(1, 8) g")
    wait_equal(source, target, ["r"])
    assert w.stop() == 0
    # More than retention keeps after them.
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 2000000})
    for part in range(4):
        for _ in range(80):
            p.produce("pgcdc.public.r", value=b"j" * 100000, partition=part)
        p.flush(60)
    del p
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "marks"})
    low = lambda: {part: c.get_watermark_offsets(TopicPartition("pgcdc.public.r", part), timeout=10)[0]  # noqa: E731
                   for part in range(4)}
    wait_for(lambda: all(v > 8 for v in low().values()), what="retention to remove the first changes")
    c.close()
    w.start()
    assert w.wait(60) == 1
    assert "is gone from Kafka" in w.text()
    # (A partition that had no change of r is read from its start: junk there is dead letters.)
    assert target.psql("SELECT count(*) FROM r") == "8"
    assert s.stop() == 0


def held_by_kafka(bootstrap, topic):
    """({partition: earliest offset Kafka holds}, ids of the rows inserted by
    what it holds).  Read again when retention removes more while it reads."""
    for attempt in range(5):
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "held", "enable.auto.commit": False,
                      "fetch.message.max.bytes": 10485760, "auto.offset.reset": "error"})
        try:
            marks = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                     for p in c.list_topics(topic, timeout=10).topics[topic].partitions}
            c.assign([TopicPartition(topic, p, low) for p, (low, high) in marks.items() if high > low])
            left = sum(high - low for low, high in marks.values())
            ids = []
            gone = False
            deadline = time.monotonic() + 60
            while left and not gone and time.monotonic() < deadline:
                for m in c.consume(1000, 0.5):
                    if not m.error():
                        ids.append(pgcdcwire.record(m.value())["row"]["id"])
                        left -= 1
                    elif m.error().code() == KafkaError._AUTO_OFFSET_RESET:
                        gone = True
        finally:
            c.close()
        if not gone:
            break
    assert left == 0, f"{left} messages of {topic} not read"
    return {p: low for p, (low, _) in marks.items()}, sorted(ids)


def test_a_partition_with_nothing_stored_starts_where_kafka_log_starts(source, target, broker,
                                                                         streamer, sink):
    """Retention removed a topic's first changes before walsink ever ran: each
    partition with nothing stored in the target starts at the earliest offset
    Kafka holds, looked up when it is assigned (and logged), and what Kafka
    holds is applied."""
    for db in (source, target):
        db.psql("CREATE TABLE r (id int PRIMARY KEY, v text)")
    broker.create_topic("pgcdc.public.r", 4, config=SMALL_RETENTION)
    # No snapshot: its range records would be the first messages, the ones retention removes.
    s = streamer(heartbeat_interval_ms="0", snapshot_mode="never").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    source.psql("INSERT INTO r SELECT g, 'v' FROM generate_series(1, 8) g")
    # Then 32 MB of hex text in 100 kB values: more than retention keeps after them.
    for i in range(8):
        source.psql(f"""INSERT INTO r SELECT g, (SELECT string_agg(md5(random()::text || g || x), '')
                                                FROM generate_series(1, 3200) x)
                        FROM generate_series({100 + 40 * i}, {139 + 40 * i}) g""")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: (confirmed(source) or 0) >= end, timeout=120, what="the streamer to catch up")
    wait_for(lambda: all(v > 0 for v in held_by_kafka(broker.bootstrap, "pgcdc.public.r")[0].values()),
             what="retention to remove the first changes")
    time.sleep(2)                   # a second look of the cleaner finds nothing more
    low, ids = held_by_kafka(broker.bootstrap, "pgcdc.public.r")
    assert ids and min(ids) >= 100

    w = sink().start()
    wait_for(lambda: target.psql("SELECT count(*) FROM r") == str(len(ids)), timeout=120,
             what=f"the {len(ids)} rows Kafka holds applied")
    assert [int(i) for i in target.psql("SELECT id FROM r ORDER BY id").split()] == ids
    assert target.psql("SELECT count(*) FROM r t WHERE length(v) <> 102400") == "0"
    for p, offset in low.items():
        assert f"assigned pgcdc.public.r [{p}] from offset {offset}\n" in w.text(), (p, offset)
    assert "from its earliest offset" not in w.text()
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


def test_shutdown_timeout_bounds_a_stuck_batch(source, target, broker, streamer, sink):
    """SIGTERM while the target holds the batch (a lock): walsink exits 1
    after shutdown.timeout.ms, and the batch is applied by the next run."""
    import signal
    source.psql("CREATE TABLE q (id int PRIMARY KEY)")
    s = streamer(heartbeat_interval_ms="0").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    w = sink(shutdown_timeout_ms="2000").start()
    source.psql("INSERT INTO q VALUES (1)")
    wait_equal(source, target, ["q"])
    locker = psycopg2.connect(target.dsn())
    with locker.cursor() as cur:
        cur.execute("LOCK TABLE q IN ACCESS EXCLUSIVE MODE")
    source.psql("INSERT INTO q VALUES (2)")
    wait_for(lambda: target.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == "1",
             what="walsink's batch waiting for the lock")
    started = time.monotonic()
    w.proc.send_signal(signal.SIGTERM)
    assert w.wait(30) == 1
    assert 1.5 < time.monotonic() - started < 10
    assert "shutdown.timeout.ms passed" in w.text()
    locker.rollback()
    locker.close()
    w.start()
    wait_equal(source, target, ["q"])
    assert w.stop() == 0 and s.stop() == 0


def test_a_group_of_three_loses_one_member_and_gains_one(source, target, broker, streamer, sink, tmp_path):
    """Three walsinks in one group on Kafka's own group coordinator, changes
    flowing: one is killed (its partitions move to the others once its
    session ends), a fourth joins (partitions move again).  Each move
    resumes from the positions stored in the target: tables equal, nothing
    applied twice or out of order."""
    target.psql(HISTORY)
    work = Workload(source, pause=0.004)
    s = streamer(heartbeat_interval_ms="0").start()
    wait_for(lambda: snapshot_done(source), what="the snapshot")  # see HISTORY
    members = []
    for i in range(4):
        w = sink(kafka_session_timeout_ms="6000", kafka_heartbeat_interval_ms="1000")
        w.log = os.path.join(tmp_path, f"walsink-{i}.log")
        members.append(w)
    for w in members[:3]:
        w.start()
    work.start()
    wait_for(lambda: target.psql("SELECT to_regclass('ledger') IS NOT NULL") == "t", what="ledger created")
    # Eight partitions (ledger and kv, four each) among three members.
    wait_for(lambda: all("assigned" in w.text() for w in members[:3]), timeout=60,
             what="every member's partitions")
    time.sleep(2)
    members[1].kill()
    time.sleep(8)                   # past its session: the other two take its partitions
    members[3].start()
    wait_for(lambda: "assigned" in members[3].text(), timeout=60, what="the new member's partitions")
    time.sleep(3)
    settle(work, source, target, committed=500)
    assert dead_letters(target) == []
    for w in (members[0], members[2], members[3]):
        assert w.stop() == 0
    assert s.stop() == 0


@pytest.mark.kafka(num_partitions=16)
def test_pgbench_with_kills_leaves_every_table_equal(install, source, target, broker, streamer, sink):
    """TPC-B as pgbench runs it (scale 4, 4 clients), on 16 partitions, with
    three kill -9 of walstreamer, three of walsink and one immediate stop of
    the target: all four tables equal, pgbench_history (no key: its changes
    go to one partition, so walsink recognises every resend) included, row
    for row and column for column, nothing lost, nothing twice."""
    pgbench = os.path.join(pgtemp.pg_config("--bindir"), "pgbench")
    subprocess.run([pgbench, "-i", "-s", "4", "-q", source.dsn()], check=True, capture_output=True)
    s = streamer(heartbeat_interval_ms="0").start()
    wait_for(lambda: confirmed(source) is not None, timeout=120, what="the snapshot")
    w = sink(reconnect_backoff_max_ms="1000").start()
    run = subprocess.Popen([pgbench, "-n", "-c", "4", "-j", "2", "-T", "36", source.dsn()],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    faults = [(4, s.kill), (4, s.start), (3, w.kill), (0, w.start),
              (5, s.kill), (0, s.start), (3, w.kill), (0, w.start),
              (5, lambda: target.stop(mode="immediate")), (2, target.start),
              (3, s.kill), (0, s.start), (3, w.kill), (0, w.start)]
    for pause, act in faults:
        time.sleep(pause)
        act()
    out = run.communicate(timeout=120)[0]
    assert run.returncode == 0, out
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: (confirmed(source) or 0) >= end, timeout=180, what="the streamer to catch up")
    tables = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]
    wait_equal(source, target, tables, timeout=300)
    history = int(source.psql("SELECT count(*) FROM pgbench_history"))
    assert history > 1000, out
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


POSITION_HISTORY = """
    CREATE TABLE position_history (topic text, partition int, old_offset bigint, new_offset bigint);
    CREATE FUNCTION position_note() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO public.position_history VALUES (NEW.topic, NEW.partition, OLD."offset", NEW."offset");
        RETURN NEW; END $$;
    CREATE TRIGGER position_note AFTER UPDATE ON pgcdc.sink_position FOR EACH ROW EXECUTE FUNCTION position_note();"""


def test_a_member_that_lost_its_partitions_cannot_write(source, target, broker, streamer, sink, tmp_path):
    """A member whose batch is stuck in the target (its backend stopped) is
    dropped from the group (the member itself stopped past its session);
    the other takes its partitions and applies on.  When the first one's
    batch goes through at last, its position write is fenced: the batch
    rolls back, it rejoins, and no row or position ever goes back."""
    target.psql(HISTORY)
    work = Workload(source, pause=0.004)
    s = streamer(heartbeat_interval_ms="0").start()
    wait_for(lambda: snapshot_done(source), what="the snapshot")  # see HISTORY
    members = {}
    for name in ("a", "b"):
        w = sink(target=target.dsn() + f" application_name=member_{name}", batch_max_rows="50")
        w.log = os.path.join(tmp_path, f"walsink-{name}.log")
        members[name] = w
    a, b = members["a"], members["b"]
    a.start()
    wait_for(lambda: target.psql("SELECT to_regclass('pgcdc.sink_position') IS NOT NULL") == "t",
             what="walsink's tables")
    target.psql(POSITION_HISTORY)
    work.start()
    wait_for(lambda: target.psql("SELECT to_regclass('ledger') IS NOT NULL") == "t", what="ledger created")
    b.start()
    wait_for(lambda: "assigned" in b.text(), timeout=60, what="b's partitions")
    time.sleep(3)
    backend = int(target.psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'member_a'"))
    os.kill(backend, signal.SIGSTOP)        # a's next batch hangs in the target
    time.sleep(1)
    os.kill(a.proc.pid, signal.SIGSTOP)     # and a misses its session: b takes every partition
    try:
        time.sleep(12)
        assert target.psql("SELECT count(*) FROM pgcdc.sink_position WHERE owner LIKE '%/" +
                            str(b.proc.pid) + "/%' AND \"offset\" >= 0") != "0"
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)
        os.kill(backend, signal.SIGCONT)
    wait_for(lambda: "fenced: partition " in a.text(), timeout=60, what="a's batch fenced")
    wait_for(lambda: a.text().count("assigned") > 1, timeout=60, what="a back in the group")
    settle(work, source, target, committed=500)
    assert dead_letters(target) == []
    assert target.psql("SELECT count(*) FROM position_history WHERE new_offset < old_offset") == "0"
    assert int(target.psql("SELECT count(*) FROM position_history")) > 50
    assert a.stop() == 0 and b.stop() == 0 and s.stop() == 0


def test_a_new_source_cluster_on_the_same_topics(install, source, target, broker, streamer, sink, tmp_path):
    """Another cluster (a restore, a new primary) writes under the same
    topic.prefix: its positions are of another history.  walsink stops and
    says so (source.change = fail); with resync it applies the new history
    from its first change on, snapshot included."""
    source.psql("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, g FROM generate_series(1, 100) g")
    first = streamer(heartbeat_interval_ms="0").start()
    w = sink().start()
    wait_equal(source, target, ["t"])
    # More WAL on the first source than the second will have: its positions are ahead.
    source.psql("UPDATE t SET v = v + 1; UPDATE t SET v = v - 1")
    wait_equal(source, target, ["t"])
    assert first.stop() == 0
    before = table_rows(target, "t")
    other = pgtemp.Cluster(install, "other_source", own_system=True).start()
    try:
        other.psql("CREATE EXTENSION pgcdc; CREATE TABLE t (id int PRIMARY KEY, v int);"
                   "INSERT INTO t SELECT g, -g FROM generate_series(1, 50) g")
        second = streamer(source=other.dsn(), heartbeat_interval_ms="0")
        second.log = os.path.join(tmp_path, "walstreamer-2.log")
        second.start()
        assert w.wait(90) == 1
        assert "a change from source " in w.text() and "source.change = resync" in w.text(), w.text()
        assert table_rows(target, "t") == before
        w = sink(source_change="resync")
        w.log = os.path.join(tmp_path, "walsink-2.log")
        w.start()
        wait_for(lambda: target.psql("SELECT * FROM t WHERE id <= 50 ORDER BY 1") ==
                 other.psql("SELECT * FROM t ORDER BY 1"), what="the second source's snapshot applied")
        other.psql("INSERT INTO t VALUES (500, 500); UPDATE t SET v = 7 WHERE id = 1; DELETE FROM t WHERE id = 2")
        wait_for(lambda: target.psql("SELECT * FROM t WHERE id <= 50 OR id = 500 ORDER BY 1") ==
                 other.psql("SELECT * FROM t ORDER BY 1"), what="the second source's changes")
        assert "replaces" in w.text() and " ERROR: " not in w.text()
        assert w.stop() == 0 and second.stop() == 0
    finally:
        other.destroy()


def test_two_databases_under_one_prefix(source, target, broker, streamer, sink, tmp_path):
    """Two walstreamers, on two databases, write under one topic.prefix: two
    histories taking turns on each partition, a configuration error walsink
    stops on at once, even with source.change = resync."""
    source.psql("CREATE DATABASE second")
    source.psql("CREATE EXTENSION pgcdc", dbname="second")
    for db in ("postgres", "second"):
        source.psql("CREATE TABLE t (id int PRIMARY KEY, v int)", dbname=db)
    one = streamer(slot_name="first", heartbeat_interval_ms="0").start()
    two = streamer(source=source.dsn("second"), slot_name="second", heartbeat_interval_ms="0")
    two.log = os.path.join(tmp_path, "walstreamer-2.log")
    two.start()
    w = sink(source_change="resync").start()
    wait_for(lambda: source.psql("SELECT count(*) FROM pg_replication_slots WHERE confirmed_flush_lsn "
                                 "IS NOT NULL") == "2", what="both slots")
    for i in range(6):
        for db in ("postgres", "second"):
            source.psql(f"INSERT INTO t SELECT g, g FROM generate_series({i * 100}, {i * 100 + 99}) g", dbname=db)
        time.sleep(0.5)
    assert w.wait(90) == 1
    assert "two sources take turns" in w.text() and "its own topic.prefix" in w.text(), w.text()
    assert one.stop() == 0 and two.stop() == 0


def test_batches_bounded_in_bytes_and_a_long_apply_keeps_the_member(source, target, broker, streamer, sink,
                                                                    tmp_path):
    """batch.max.bytes bounds a batch whatever its rows; while the target
    holds a batch up past kafka.max.poll.interval.ms, walsink keeps polling
    (fetching paused): it stays in the group, nothing moves, and every row
    is applied once the target lets go."""
    port = free_port()
    source.psql("CREATE TABLE wide (id int PRIMARY KEY, body text)")
    target.psql("CREATE TABLE wide (id int PRIMARY KEY, body text)")
    s = streamer(heartbeat_interval_ms="0").start()
    w = sink(metrics_listen=f"127.0.0.1:{port}", batch_max_bytes="65536").start()
    wait_for(lambda: confirmed(source) is not None and "assigned" in w.text(), what="the slot and walsink")
    # 200 rows of 10 kB, one transaction: 2 MB, some 30 batches at 64 kB (one without the bound).
    source.psql("INSERT INTO wide SELECT g, repeat(md5(g::text), 320) FROM generate_series(1, 200) g")
    wait_equal(source, target, ["wide"])
    assert metric(port, "walsink_batches_total") >= 20, metric(port, "walsink_batches_total")
    assert w.stop() == 0
    # Batches of 5 rows: the one being filled is full while the target holds the other.
    w = sink(batch_max_rows="5", kafka_max_poll_interval_ms="8000", kafka_session_timeout_ms="6000")
    w.log = os.path.join(tmp_path, "walsink-2.log")
    w.start()
    wait_for(lambda: "assigned" in w.text(), what="walsink again")
    time.sleep(3)
    assigned = w.text().count("assigned")
    # The target holds the next batch up for 15 s: past the poll interval.
    locker = psycopg2.connect(target.dsn())
    cur = locker.cursor()
    cur.execute("LOCK TABLE wide IN ACCESS EXCLUSIVE MODE")
    source.psql("UPDATE wide SET body = 'x' || id")
    time.sleep(15)
    locker.rollback()
    locker.close()
    wait_equal(source, target, ["wide"])
    assert w.text().count("assigned") == assigned, w.text()
    assert "max.poll" not in w.text() and "revoked" not in w.text(), w.text()
    assert w.stop() == 0 and s.stop() == 0
