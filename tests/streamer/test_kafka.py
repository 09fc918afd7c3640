"""What real Kafka refuses or lacks: no broker at the address given, a
topic the brokers will not create, a topic deleted and created again under
walstreamer, a change larger than Kafka takes.  Each is a clear error
that names what to fix; the slot never passes what Kafka has not
acknowledged, and once the cause is fixed everything arrives.  A change
larger than Kafka takes goes as oversized.mode says: a stand-in in its
place (the default), or walstreamer stops before it (fail).  A truncate of
a table nothing was written of yet creates its topic."""

import json
import subprocess
import time

import pytest
from confluent_kafka.admin import ConfigResource
from support import pgcdcwire
from support.binaries import WALSTREAMER
from support.checks import confirmed, lsn, wait_for
from support.kafkaread import read_all


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
    wait_for(lambda: source.psql("SELECT count(*) FROM pgcdc.streamer_slot") == "1", what="the slot's row")
    start = wal_now(source)     # past walstreamer's own bookkeeping, before the changes
    source.psql("INSERT INTO t SELECT generate_series(1, 50)")
    wait_for(lambda: "kafka.bootstrap.servers" in s.text(), what="the error naming the setting")
    time.sleep(3)
    assert confirmed(source) <= start, "the slot moved while no broker was up"
    broker.start_node(1)
    wait_for(lambda: confirmed(source) >= wal_now(source), timeout=60, what="the changes to arrive")
    assert s.stop() == 0
    assert ids_in(broker.bootstrap, "pgcdc.public.t") == list(range(1, 51))


def test_no_configuration_warning_at_start(source, broker, streamer):
    """walstreamer's own producer settings draw no warning from librdkafka
    at start (enable.gapless.guarantee, set on purpose, is "experimental"
    to it): an operator's log holds only what asks for action."""
    source.psql("CREATE TABLE t (id int PRIMARY KEY)")
    s = streamer(snapshot_mode="never", log_level="info").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    source.psql("INSERT INTO t SELECT generate_series(1, 5)")
    wait_for(lambda: confirmed(source) >= wal_now(source), timeout=60, what="the changes to arrive")
    assert s.stop() == 0
    assert [line for line in s.text().splitlines() if "CONFWARN" in line] == []


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
    # walstreamer's own bookkeeping (its slot's row in pgcdc.streamer_slot,
    # written after the slot) has nothing for Kafka and may be confirmed;
    # nothing after it may.
    wait_for(lambda: source.psql("SELECT count(*) FROM pgcdc.streamer_slot") == "1", what="the slot's row")
    start = wal_now(source)
    source.psql("INSERT INTO t SELECT generate_series(1, 50)")
    wait_for(lambda: "kafka.bootstrap.servers (no-such-host.invalid:9092)" in s.text(),
             what="the error naming the setting")
    assert confirmed(source) <= start
    s.stop()
    assert confirmed(source) <= start, "the slot moved although nothing reached Kafka"
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
    # What came before the insert may be confirmed (heartbeats, keepalives
    # inside its WAL before its commit); never its commit.
    source.psql("INSERT INTO t SELECT generate_series(1, 50)")
    after = wal_now(source)
    wait_for(lambda: "pgcdc.public.t" in s.text() and "auto.create.topics.enable" in s.text(),
             what="the error naming the topic and the setting")
    time.sleep(2)
    assert confirmed(source) < after, "the slot moved although the topic does not exist"
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


# Text values of 2,097,152 bytes (above the producer's message.max.bytes of
# 1,000,000) and 256,000 (under it, above a topic's 100,000).  The source
# compresses them, the decoder sends them whole.
TWO_MB = "repeat('x', 2097152)"
QUARTER_MB = "repeat('y', 256000)"


def messages(bootstrap, topic):
    return [m for (t, _), ms in read_all(bootstrap, prefix=topic).items() if t == topic for m in ms]


def stand_in(m):
    """A message's Oversized (field 25) as a dict, None when it is not a stand-in."""
    fields = pgcdcwire.fields(m.value)
    if not any(n == 2 and v == 10 for n, _, v in fields):
        return None
    o = dict((n, v) for n, _, v in pgcdcwire.fields(next(v for n, _, v in fields if n == 25)))
    return {"op": o.get(1), "size": o.get(2), "limit": o.get(3), "limit_name": o.get(4, b"").decode()}


def check_stand_in(msgs, table, key, op, limit, limit_name, since, until):
    """Exactly one stand-in, for key: what it says, where it went; the ids of
    the other rows (inserts and reads)."""
    ins = [m for m in msgs if stand_in(m)]
    assert len(ins) == 1, [(m.key, stand_in(m)) for m in ins]
    m = ins[0]
    o, r = stand_in(m), m.record()
    assert o["op"] == op and o["limit"] == limit and o["limit_name"] == limit_name, o
    assert o["size"] > limit and m.headers["pgcdc.oversized"] == str(o["size"]), (o, m.headers)
    assert pgcdcwire.key(m.key) == (key,) and r["table"] == table and r["schema"] == "public", r
    # The key column's value is kept, the others are left out (empty).
    assert r["row"] == {"id": key, "v": "unset"}, r["row"]
    assert since <= r["commit_lsn"] <= until and r["lsn"] <= r["commit_lsn"], (since, r, until)
    return m, sorted(x.record()["row"]["id"] for x in msgs if x.record()["op"] in ("insert", "read"))


def test_oversized_changes_go_as_stand_ins(source, broker, streamer):
    """Two changes larger than Kafka takes, each between small rows, with the
    default oversized.mode.  A 2 MB row, above the producer's
    message.max.bytes (1,000,000): refused when produced.  A 256 kB row, in
    one transaction with small rows, on a topic whose max.message.bytes is
    100,000: refused by the broker, with the small rows batched with it, in
    delivery reports after later messages were sent; walstreamer restarts
    from the slot, asks the topic's limit, and meets the row (alone) as
    oversized before sending it again.  Each time a stand-in with its table, key, positions and
    size goes in its place, on its key's partition; the slot moves past both,
    walstreamer keeps running and every other row arrives."""
    source.psql("CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE u (LIKE t INCLUDING ALL)")
    broker.create_topic("pgcdc.public.u", 4, config={"max.message.bytes": "100000"})
    s = streamer(snapshot_mode="never", reconnect_backoff_max_ms="1000").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")

    since = wal_now(source)
    source.psql("INSERT INTO t SELECT g, 'small' FROM generate_series(1, 10) g")
    source.psql(f"INSERT INTO t VALUES (11, {TWO_MB})")
    source.psql("INSERT INTO t SELECT g, 'after' FROM generate_series(12, 20) g")
    # The same key later: the stand-in went to its partition.
    source.psql("UPDATE t SET v = 'small now' WHERE id = 11")
    until = wal_now(source)
    wait_for(lambda: confirmed(source) >= until, what="the slot to pass the 2 MB row")
    assert "restarting from the slot" not in s.text(), "the producer's own refusal needs no restart"

    source.psql(f"INSERT INTO u SELECT g, CASE g WHEN 11 THEN {QUARTER_MB} ELSE 'small' END "
                "FROM generate_series(1, 20) g")
    end = wal_now(source)
    wait_for(lambda: confirmed(source) >= end, timeout=90, what="the slot to pass the 256 kB row")
    assert s.running()
    text = s.text()
    assert "restarting from the slot" in text and "takes messages of at most 100,000 bytes" in text, text[-3000:]
    assert "oversized: insert of public.t (id)=(11)" in text and "oversized: insert of public.u (id)=(11)" in text
    assert s.stop() == 0

    msgs = messages(broker.bootstrap, "pgcdc.public.t")
    m, ids = check_stand_in(msgs, "t", 11, 3, 1000000, "message.max.bytes", since, until)
    assert ids == [i for i in range(1, 21) if i != 11], ids          # once each: no restart
    update = next(x for x in msgs if x.record()["op"] == "update")
    assert m.partition == update.partition and m.offset < update.offset
    msgs = messages(broker.bootstrap, "pgcdc.public.u")
    m, ids = check_stand_in(msgs, "u", 11, 3, 100000, "max.message.bytes", until, end)
    # Rows sent before the restart may be there twice (at least once; walsink skips them).
    assert sorted(set(ids)) == [i for i in range(1, 21) if i != 11], ids


def test_oversized_row_in_the_snapshot(source, broker, streamer):
    """A 2 MB row in the initial snapshot: a stand-in (op READ) takes its place,
    the snapshot completes once, and streaming starts after it."""
    source.psql(f"""CREATE TABLE t (id int PRIMARY KEY, v text);
        INSERT INTO t SELECT g, 'small' FROM generate_series(1, 10) g;
        INSERT INTO t VALUES (11, {TWO_MB});
        INSERT INTO t SELECT g, 'after' FROM generate_series(12, 20) g;""")
    since = wal_now(source)
    s = streamer().start()
    wait_for(lambda: "snapshot complete" in s.text(), timeout=60, what="the snapshot")
    source.psql("INSERT INTO t VALUES (21, 'streamed')")
    end = wal_now(source)
    wait_for(lambda: confirmed(source) >= end, what="the slot to pass the streamed row")
    assert s.running() and s.text().count("snapshot complete") == 1, s.text()[-3000:]
    assert s.stop() == 0
    _, ids = check_stand_in(messages(broker.bootstrap, "pgcdc.public.t"), "t", 11, 8, 1000000,
                            "message.max.bytes", since, end)
    assert ids == [i for i in range(1, 22) if i != 11], ids


def small_big_after(source):
    """Once the slot exists: rows 1-10 (streamed, awaited), row 11 of 2 MB,
    rows 12-20; the WAL position before row 11."""
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    source.psql("INSERT INTO t SELECT g, 'small' FROM generate_series(1, 10) g")
    before_big = wal_now(source)
    wait_for(lambda: confirmed(source) >= before_big, what="the small rows")
    source.psql(f"INSERT INTO t VALUES (11, {TWO_MB})")
    source.psql("INSERT INTO t SELECT g, 'after' FROM generate_series(12, 20) g")
    return before_big


def raise_topic_limit(broker, topic):
    """The topic's max.message.bytes raised to 5 MB."""
    admin = broker.admin()
    for fut in admin.alter_configs([ConfigResource("topic", topic,
                                                   set_config={"max.message.bytes": "5000000"})]).values():
        fut.result()


def test_oversized_mode_fail(source, broker, streamer):
    """oversized.mode = fail: walstreamer stops before a change larger than
    Kafka takes, exit status 1, with an error naming the table, key, size,
    the limit and what to raise; the slot holds it.  First the producer's
    limit, then (raised) the topic's; with both raised, it and what follows
    arrive."""
    source.psql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    broker.create_topic("pgcdc.public.t", 4, config={"max.message.bytes": "100000"})
    s = streamer(snapshot_mode="never", oversized_mode="fail", reconnect_backoff_max_ms="1000").start()
    before_big = small_big_after(source)
    assert s.wait(60) == 1
    text = s.text()
    assert "insert of public.t (id)=(11)" in text and "above Kafka's limit of 1,000,000" in text and \
        "raise kafka.message.max.bytes" in text, text[-2000:]
    assert before_big <= confirmed(source) < wal_now(source), "the slot passed the big row"

    # The producer takes it now, the topic does not: refused by the broker, then met before sending.
    s.keys["kafka.message.max.bytes"] = "5000000"
    s.start()
    assert s.wait(90) == 1
    text = s.text()
    assert "max.message.bytes of topic pgcdc.public.t" in text and "above Kafka's limit of 100,000" in text, \
        text[-2000:]
    assert before_big <= confirmed(source) < wal_now(source), "the slot passed the big row"

    raise_topic_limit(broker, "pgcdc.public.t")
    s.start()
    wait_for(lambda: confirmed(source) >= wal_now(source), timeout=60, what="the rest to arrive")
    assert s.stop() == 0
    assert set(ids_in(broker.bootstrap, "pgcdc.public.t")) == set(range(1, 21))


def test_oversized_in_debezium_json_stops_before_it(source, broker, streamer):
    """value.format = debezium-json has no stand-in (oversized.mode follows
    the format: fail): a change larger than the topic takes stops
    walstreamer with the change and the limit named, the slot holding it;
    with the limit raised, it and what follows arrive."""
    source.psql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    broker.create_topic("pgcdc.public.t", 4, config={"max.message.bytes": "100000"})
    s = streamer(snapshot_mode="never", value_format="debezium-json", reconnect_backoff_max_ms="1000",
                 **{"kafka.message.max.bytes": "5000000"}).start()
    before_big = small_big_after(source)
    assert s.wait(90) == 1
    text = s.text()
    assert "an insert on topic pgcdc.public.t" in text and "above Kafka's limit of 100,000" in text and \
        "oversized.mode = fail stops here" in text, text[-2000:]
    assert before_big <= confirmed(source) < wal_now(source), "the slot passed the big row"

    raise_topic_limit(broker, "pgcdc.public.t")
    s.start()
    wait_for(lambda: confirmed(source) >= wal_now(source), timeout=60, what="the rest to arrive")
    assert s.stop() == 0
    keys = {json.loads(m.key)["payload"]["id"] for ms in read_all(broker.bootstrap).values() for m in ms
            if m.topic == "pgcdc.public.t" and m.value}
    assert keys == set(range(1, 21))


def test_truncate_of_a_table_never_written(source, broker, streamer):
    """A TRUNCATE is the first change of a table: its topic does not exist yet.
    Asking its partitions creates it, as a produce would; the truncate goes
    to every partition (a target filled by other means, e.g. a copy made
    before streaming, still has rows to truncate), and the stream goes on."""
    source.psql("CREATE TABLE t (id int PRIMARY KEY); CREATE TABLE u (id int PRIMARY KEY)")
    s = streamer(snapshot_mode="never").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    source.psql("TRUNCATE t")
    source.psql("INSERT INTO u SELECT generate_series(1, 10)")
    end = wal_now(source)
    wait_for(lambda: confirmed(source) >= end, what="the slot to pass the truncate")
    assert s.running()
    assert s.stop() == 0
    got = read_all(broker.bootstrap, prefix="pgcdc.public.t")
    truncates = {p for (t, p), ms in got.items() if t == "pgcdc.public.t"
                 for m in ms if m.record()["op"] == "truncate"}
    assert truncates == {0, 1, 2, 3}, got
    assert ids_in(broker.bootstrap, "pgcdc.public.u") == list(range(1, 11))
