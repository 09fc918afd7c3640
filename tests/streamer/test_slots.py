"""The slot: it advances on an idle or filtered source, and a slot that was
dropped, invalidated or made by another plugin stops walstreamer with a
clear error instead of being recreated silently."""

import subprocess
import time

from support.binaries import WALSTREAMER
from support.checks import confirmed, lsn, wait_for
from support.kafkaread import read_all


def test_idle_source_with_only_excluded_writes_advances(source, broker, streamer):
    source.psql("CREATE TABLE noise (id serial PRIMARY KEY, v text); CREATE TABLE kept (id int)")
    s = streamer(table_exclude_list="public.noise", heartbeat_interval_ms="500").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    for _ in range(5):
        source.psql("INSERT INTO noise (v) SELECT 'x' FROM generate_series(1, 100)")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: confirmed(source) >= end, timeout=30, what="the slot to pass the excluded writes")
    assert s.stop() == 0


def test_heartbeat_advances_a_slot_whose_database_is_idle(source, broker, streamer):
    # WAL from another database: nothing of ours to stream, only heartbeats.
    source.psql("CREATE DATABASE other")
    s = streamer(heartbeat_interval_ms="300").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    source.psql("CREATE TABLE busy (v text); INSERT INTO busy SELECT 'x' FROM generate_series(1, 10000)",
                dbname="other")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: confirmed(source) >= end, timeout=30, what="heartbeats to move the slot")
    assert s.stop() == 0


def test_heartbeat_action_query_runs_with_each_heartbeat(source, broker, streamer):
    """heartbeat.action.query, as Debezium's: the user's statement after
    each heartbeat; its rows stream like any other table's.  A statement
    that fails, or leaves a transaction open, is logged with the reason,
    and the heartbeats go on."""
    source.psql("CREATE TABLE hb (id serial PRIMARY KEY, at timestamptz)")
    s = streamer(heartbeat_interval_ms="300",
                 heartbeat_action_query="INSERT INTO hb (at) VALUES (now())").start()
    wait_for(lambda: int(source.psql("SELECT count(*) FROM hb")) >= 3, what="the action query's rows")
    n = int(source.psql("SELECT max(id) FROM hb"))
    wait_for(lambda: any(m.record()["op"] == "insert" and m.record()["row"]["id"] == n
                         for ms in read_all(broker.bootstrap).values() for m in ms if m.topic == "pgcdc.public.hb"),
             what="the action query's rows in Kafka")
    assert s.stop() == 0
    assert "heartbeat" not in "".join(l for l in s.text().splitlines(True) if "WARNING" in l), s.text()

    for query, said in (("INSERT INTO no_such_table VALUES (1)", 'relation "no_such_table" does not exist'),
                        ("BEGIN; INSERT INTO hb (at) VALUES (now())", "left a transaction open: rolled back")):
        s = streamer(heartbeat_interval_ms="300", heartbeat_action_query=query).start()
        wait_for(lambda: said in s.text(), what=f"the failure of {query!r} logged")
        # The heartbeats themselves go on: the slot moves past WAL written now.
        end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
        wait_for(lambda: confirmed(source) >= end, timeout=30, what="heartbeats to move the slot")
        assert s.running() and s.text().count(said) == 1, "logged once while it keeps failing"
        assert s.stop() == 0
    assert source.psql("SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'") == "0"
    rc, text = run_once(streamer(heartbeat_interval_ms="0", heartbeat_action_query="SELECT 1"))
    assert rc != 0 and "heartbeat.action.query runs with each heartbeat" in text


def run_once(s, timeout=60):
    s.start()
    rc = s.wait(timeout)
    return rc, s.text()


def test_slot_dropped_while_stopped(source, broker, streamer):
    s = streamer().start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    assert s.stop() == 0
    source.psql("SELECT pg_drop_replication_slot('pgcdc')")
    rc, text = run_once(s)
    assert rc == 1
    assert 'replication slot "pgcdc" was dropped' in text and "DELETE FROM pgcdc.streamer_slot" in text
    assert source.psql("SELECT count(*) FROM pg_replication_slots") == "0", "never recreated silently"
    # Following the advice starts over with a new snapshot.
    source.psql("DELETE FROM pgcdc.streamer_slot WHERE slot_name = 'pgcdc'")
    s.start()
    wait_for(lambda: confirmed(source) is not None, what="a new slot")
    assert s.stop() == 0


def test_slot_of_another_plugin_or_missing(source, broker, streamer):
    source.psql("SELECT pg_create_logical_replication_slot('theirs', 'test_decoding')")
    rc, text = run_once(streamer(slot_name="theirs"))
    assert rc == 1 and 'uses plugin "test_decoding", not pgcdc' in text
    assert source.psql("SELECT plugin FROM pg_replication_slots") == "test_decoding"
    rc, text = run_once(streamer(slot_name="absent", slot_create="off"))
    assert rc == 1 and 'replication slot "absent" does not exist, and slot.create is off' in text


def test_slot_invalidated(source, broker, streamer):
    source.psql("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'")
    source.psql("SELECT pg_reload_conf()")
    source.psql("CREATE TABLE filler (v text)")
    s = streamer().start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    assert s.stop() == 0
    for _ in range(4):
        source.psql("INSERT INTO filler SELECT repeat('w', 1000) FROM generate_series(1, 20000); "
                    "SELECT pg_switch_wal()")
        source.psql("CHECKPOINT")
    wait_for(lambda: source.psql("SELECT wal_status FROM pg_replication_slots") == "lost",
             what="the slot to be invalidated")
    rc, text = run_once(s)
    assert rc == 1 and 'replication slot "pgcdc" was invalidated (max_slot_wal_keep_size)' in text


def test_configuration_errors(tmp_path):
    def run(*args, env=None):
        p = subprocess.run([WALSTREAMER, *args], capture_output=True, text=True, timeout=60, env=env)
        return p.returncode, p.stderr.strip()

    rc, err = run("--source=dbname=x", "--slot.nmae=x")
    assert rc == 1 and err.count("\n") == 0 and 'unknown key "slot.nmae"' in err, err
    rc, err = run("--source=dbname=x", "--snapshot.mode=sometimes")
    assert rc == 1 and err.count("\n") == 0 and "sometimes" in err and "initial" in err, err
    rc, err = run("--source=dbname=x", "--status.interval.ms=fast")
    assert rc == 1 and err.count("\n") == 0 and "status.interval.ms" in err, err
    rc, err = run("--config", str(tmp_path / "missing.conf"))
    assert rc == 1 and err.count("\n") == 0 and "missing.conf" in err, err
    conf = tmp_path / "w.conf"
    conf.write_text("# walstreamer\nsource = dbname=x\n\nslot.name = ok\nbogus line\n")
    rc, err = run("--config", str(conf))
    assert rc == 1 and err.count("\n") == 0 and "w.conf:5" in err, err
    rc, err = run()
    assert rc == 1 and "source" in err, err
    rc, err = run("--source=host=127.0.0.1 port=1 user=x dbname=x password=hunter2",
                  "--kafka.bootstrap.servers=127.0.0.1:1")
    assert rc == 1 and "cannot connect to the source" in err and "hunter2" not in err, err
    assert err.count("\n") == 0, err
    rc, err = run("--source=dbname=x", "--kafka.acks=1")
    assert rc == 1 and "kafka.acks must stay" in err, err
    rc, err = run("--source=dbname=x", "--kafka.no.such.property=1")
    assert rc == 1 and "no.such.property" in err, err
    out = subprocess.run([WALSTREAMER, "--help"], capture_output=True, text=True).stdout
    for key in ("slot.name", "slot.create", "topic.prefix", "table.include.list", "snapshot.mode",
                "snapshot.parallelism", "heartbeat.interval.ms", "status.interval.ms",
                "metrics.listen", "log.level", "kafka.<property>", "WALSTREAMER_SLOT_NAME"):
        assert key in out, key
    assert subprocess.run([WALSTREAMER, "--version"], capture_output=True, text=True).stdout \
        .startswith("walstreamer ")
