"""What real Kafka refuses or lacks: no broker at the address given, a
topic the brokers will not create, a topic deleted and created again under
walstreamer, a change larger than the topic takes.  Each is a clear error
that names what to fix; the slot never passes what Kafka has not
acknowledged, and once the cause is fixed everything arrives."""

import subprocess
import time

import pytest
from confluent_kafka.admin import ConfigResource
from conftest import WALSTREAMER, confirmed, lsn, read_all, wait_for


def wal_now(source):
    return lsn(source.psql("SELECT pg_current_wal_lsn()"))


def ids_in(bootstrap, topic):
    return sorted(m.record()["row"]["id"] for (t, _), ms in read_all(bootstrap, prefix=topic).items()
                  if t == topic for m in ms if m.record()["op"] in ("insert", "read"))


def test_no_broker_at_start_then_one(source, broker, streamer):
    """The broker is down when walstreamer starts: it says which addresses of
    kafka.bootstrap.servers it cannot reach, the slot stays where it was,
    and once the broker is up the waiting changes arrive."""
    source.psql("CREATE TABLE t (id int PRIMARY KEY)")
    broker.kill(1)
    s = streamer(snapshot_mode="never").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    start = confirmed(source)
    source.psql("INSERT INTO t SELECT generate_series(1, 50)")
    wait_for(lambda: "kafka.bootstrap.servers" in s.text(), what="the error naming the setting")
    time.sleep(3)
    assert confirmed(source) == start, "the slot moved while no broker was up"
    broker.start_node(1)
    wait_for(lambda: confirmed(source) >= wal_now(source), timeout=60, what="the changes to arrive")
    assert s.stop() == 0
    assert ids_in(broker.bootstrap, "pgcdc.public.t") == list(range(1, 51))


def test_wrong_bootstrap_address(source, broker, streamer):
    """An address nothing answers on, and a host name that does not resolve:
    --check fails naming kafka.bootstrap.servers; the daemon says the same
    while it waits, without moving the slot; restarted with the right
    address, nothing is lost."""
    source.psql("CREATE TABLE t (id int PRIMARY KEY)")
    for wrong in ("127.0.0.1:1", "no-such-host.invalid:9092"):
        check = subprocess.run([WALSTREAMER, f"--source={source.dsn()}", f"--kafka.bootstrap.servers={wrong}",
                                "--check"], capture_output=True, text=True, timeout=60)
        assert check.returncode != 0
        assert f"kafka.bootstrap.servers ({wrong})" in check.stdout + check.stderr, check.stdout + check.stderr
    s = streamer(snapshot_mode="never", shutdown_timeout_ms="2000",
                 kafka_bootstrap_servers="no-such-host.invalid:9092").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    start = confirmed(source)
    source.psql("INSERT INTO t SELECT generate_series(1, 50)")
    wait_for(lambda: "kafka.bootstrap.servers (no-such-host.invalid:9092)" in s.text(),
             what="the error naming the setting")
    assert confirmed(source) == start
    s.stop()
    assert confirmed(source) == start, "the slot moved although nothing reached Kafka"
    s.keys["kafka.bootstrap.servers"] = broker.bootstrap
    s.start()
    wait_for(lambda: confirmed(source) >= wal_now(source), timeout=60, what="the changes to arrive")
    assert s.stop() == 0
    assert ids_in(broker.bootstrap, "pgcdc.public.t") == list(range(1, 51))


@pytest.mark.kafka(auto_create_topics_enable="false")
def test_topic_the_brokers_will_not_create(source, broker, streamer):
    """auto.create.topics.enable=false and the table's topic not created:
    the error names the topic and the setting, walstreamer tries again from
    the slot, which stays; once the topic exists, everything arrives."""
    source.psql("CREATE TABLE t (id int PRIMARY KEY)")
    broker.create_topic(["pgcdc.heartbeat", "pgcdc.message"], 4)   # only the table's is missing
    s = streamer(snapshot_mode="never",
                 kafka_topic_metadata_propagation_max_ms="2000", reconnect_backoff_max_ms="1000").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    start = confirmed(source)
    source.psql("INSERT INTO t SELECT generate_series(1, 50)")
    wait_for(lambda: "pgcdc.public.t" in s.text() and "auto.create.topics.enable" in s.text(),
             what="the error naming the topic and the setting")
    time.sleep(2)
    assert confirmed(source) == start, "the slot moved although the topic does not exist"
    assert s.running(), "a missing topic is waited for, not fatal"
    broker.create_topic("pgcdc.public.t", 4)
    wait_for(lambda: confirmed(source) >= wal_now(source), timeout=60, what="the changes to arrive")
    assert s.stop() == 0
    assert ids_in(broker.bootstrap, "pgcdc.public.t") == list(range(1, 51))


def test_topic_deleted_and_created_again(source, broker, streamer):
    """An operator deletes a table's topic and creates it again (with more
    partitions) while walstreamer streams into it.  What Kafka held is gone
    with the topic (the operator's doing); every change committed after the
    topic is back arrives, and the slot never passes what Kafka holds."""
    source.psql("CREATE TABLE t (id int PRIMARY KEY)")
    s = streamer(snapshot_mode="never", reconnect_backoff_max_ms="1000").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    source.psql("INSERT INTO t SELECT generate_series(1, 20)")
    wait_for(lambda: confirmed(source) >= wal_now(source), what="the first changes")
    broker.delete_topic("pgcdc.public.t")
    wait_for(lambda: "pgcdc.public.t" not in broker.admin().list_topics(timeout=10).topics,
             what="the topic to go")
    broker.create_topic("pgcdc.public.t", 6)
    for i in range(21, 221):
        source.psql(f"INSERT INTO t VALUES ({i})")
    wait_for(lambda: confirmed(source) >= wal_now(source), timeout=90, what="the later changes")
    assert s.running()
    assert s.stop() == 0
    got = ids_in(broker.bootstrap, "pgcdc.public.t")
    assert set(range(21, 221)) <= set(got), sorted(set(range(21, 221)) - set(got))[:10]


def test_change_larger_than_the_topic_takes(source, broker, streamer):
    """A row above the topic's max.message.bytes: the error names the topic,
    the size and the limit; the slot stops before it (the changes before it
    arrive); once the topic takes bigger messages, it and what follows arrive."""
    source.psql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    broker.create_topic("pgcdc.public.t", 4, config={"max.message.bytes": "100000"})
    s = streamer(snapshot_mode="never", reconnect_backoff_max_ms="1000").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    source.psql("INSERT INTO t SELECT g, 'small' FROM generate_series(1, 10) g")
    before_big = wal_now(source)
    wait_for(lambda: confirmed(source) >= before_big, what="the small rows")
    source.psql("INSERT INTO t VALUES (11, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 8000) g))")
    source.psql("INSERT INTO t SELECT g, 'after' FROM generate_series(12, 20) g")
    wait_for(lambda: "too large" in s.text(), what="the error")
    text = s.text()
    assert "pgcdc.public.t" in text and "max.message.bytes" in text, text[-2000:]
    time.sleep(2)
    assert before_big <= confirmed(source) < wal_now(source), "the slot passed the big row"
    admin = broker.admin()
    for fut in admin.alter_configs([ConfigResource("topic", "pgcdc.public.t",
                                                   set_config={"max.message.bytes": "1000000"})]).values():
        fut.result()
    wait_for(lambda: confirmed(source) >= wal_now(source), timeout=60, what="the rest to arrive")
    assert s.stop() == 0
    assert set(ids_in(broker.bootstrap, "pgcdc.public.t")) == set(range(1, 21))
