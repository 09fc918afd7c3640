"""Faults under a continuous workload: kill -9, the source restarted and
its walsender killed, a kill mid-snapshot, on real Kafka; produce errors,
uneven round trips and a fatal idempotence error on the dev broker, which
alone can inject them (brokers that fail: tests/sink/test_brokers.py, under
the whole pipeline).
Afterwards every committed change is in Kafka, per-key order holds, and the
slot never confirmed what Kafka did not hold."""

import random
import time

import pytest
from support.checks import confirmed, lsn, wait_for
from support.kafkaread import read_all
from support.workload import Sampler, Workload, verify


def settle(source, s, end):
    wait_for(lambda: (confirmed(source) or 0) >= end, timeout=120,
             what="the slot to confirm the workload")
    assert s.stop() == 0


def test_kill9_at_random_moments(source, broker, streamer):
    work = Workload(source)
    s = streamer().start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    work.start()
    sampler = Sampler(source, broker.bootstrap, every=0.3).start()
    rng = random.Random(7)
    for _ in range(20):
        time.sleep(rng.uniform(0.2, 1.2))
        s.kill()
        sampler.sample()
        s.start()
    time.sleep(1)
    end = work.finish()
    settle(source, s, end)
    sampler.finish()
    verify(source, broker.bootstrap, work, sampler)
    assert len(work.committed) > 200 and len(sampler.samples) > 20


# The dev broker (librdkafka 2.0.2's mock) checks idempotent sequence numbers
# only for transactional producers.  With requests pipelined, an injected error
# on one batch lets a later batch of the same partition be appended; Kafka would
# refuse that one (OUT_OF_ORDER_SEQUENCE_NUMBER), so the producer rightly takes
# its success as proof the earlier batch was persisted too, and on the dev
# broker that batch is lost.  One request in flight per connection keeps the
# dev broker as strict as Kafka; replies still arrive out of order across brokers.
STRICT = {"kafka_max_in_flight_requests_per_connection": "1"}


@pytest.mark.devbroker
def test_produce_errors_and_uneven_round_trips(source, broker, streamer):
    work = Workload(source)
    for b, ms in ((1, 400), (2, 0), (3, 60)):
        broker.command(f"rtt {b} {ms}")
    s = streamer(**STRICT).start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    work.start()
    sampler = Sampler(source, broker.bootstrap, every=0.3).start()
    for _ in range(4):
        time.sleep(1)
        broker.command("errors produce " + " ".join(["NOT_ENOUGH_REPLICAS"] * 4 +
                                                    ["REQUEST_TIMED_OUT"] * 2))
        time.sleep(1)
        broker.command("down 2")    # connections drop: transport errors
        time.sleep(0.5)
        broker.command("up 2")
    time.sleep(1)
    end = work.finish()
    settle(source, s, end)
    sampler.finish()
    assert "restarting from the slot" not in s.text(), "retriable errors need no restart"
    verify(source, broker.bootstrap, work, sampler)


@pytest.mark.devbroker
def test_permanent_error_restarts_from_the_slot(source, broker, streamer):
    work = Workload(source)
    broker.command("rtt 1 100")
    s = streamer(**STRICT).start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    work.start()
    sampler = Sampler(source, broker.bootstrap, every=0.3).start()
    time.sleep(2)
    broker.command("errors produce TOPIC_AUTHORIZATION_FAILED")
    time.sleep(3)
    end = work.finish()
    settle(source, s, end)
    sampler.finish()
    text = s.text()
    # Failed for good: a delivery error, or (gapless) the producer's fatal error.
    assert ("delivery to" in text or "fatal error" in text) and \
        "restarting from the slot" in text, text[-2000:]
    verify(source, broker.bootstrap, work, sampler)


def test_source_restart_and_walsender_terminated(source, broker, streamer):
    work = Workload(source)
    s = streamer().start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    work.start()
    time.sleep(2)
    source.psql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                "WHERE slot_name = 'pgcdc'")
    time.sleep(2)
    source.stop("fast")
    time.sleep(1)
    source.start()
    time.sleep(3)
    before = confirmed(source)
    end = work.finish()
    settle(source, s, end)
    assert confirmed(source) > before
    assert s.text().count("restarting from the slot") >= 2
    verify(source, broker.bootstrap, work)


def test_killed_mid_snapshot_goes_on(source, broker, streamer):
    rows = 100000
    source.psql("CREATE TABLE big (id int PRIMARY KEY, pad text); "
                f"INSERT INTO big SELECT g, 'p' FROM generate_series(1, {rows}) g")
    s = streamer(snapshot_fetch_size="100", snapshot_chunk_rows="1000", snapshot_parallelism="1",
                 kafka_queue_buffering_max_messages="500").start()
    wait_for(lambda: int(source.psql("SELECT coalesce(sum(chunks), 0) FROM pgcdc.snapshot_progress")) >= 3,
             what="chunks acknowledged")
    # Surely mid-snapshot: the broker stops answering, the producer's queue fills.
    broker.pause(1)
    time.sleep(1)
    s.kill()
    broker.resume(1)
    assert "snapshot complete" not in s.text()
    # The slot stays, streaming went on: the next start goes on after the last acknowledged chunk.
    assert source.psql("SELECT count(*) FROM pg_replication_slots") == "1"
    s.start()
    wait_for(lambda: "snapshot complete" in s.text(), timeout=180, what="the snapshot")
    assert "goes on:" in s.text()
    source.psql("UPDATE big SET pad = 'after' WHERE id = 1")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    settle(source, s, end)
    ids, reads, updates = set(), 0, 0
    for (topic, _), msgs in read_all(broker.bootstrap, "pgcdc.public.big").items():
        for m in msgs:
            r = m.record()
            if r["op"] == "read":
                ids.add(r["row"]["id"])
                reads += 1
            elif r["op"] == "update":
                updates += 1
    assert ids == set(range(1, rows + 1)) and updates == 1
    # Read again: the chunks in flight at the kill, not the table.
    assert reads < rows + 10000, reads
    assert s.text().count("snapshot complete") == 1


@pytest.mark.devbroker
def test_fatal_idempotence_error_restarts_in_process(source, broker, streamer):
    """The idempotent producer fails for good while a large transaction is
    being produced: the broker answers the first batch in flight with
    OUT_OF_ORDER_SEQUENCE_NUMBER (producer and broker disagree on the
    sequence), which librdkafka makes a fatal error, and every produce after
    it is refused at once.  walstreamer drops the producer and restarts from
    the slot in-process, as the README says of fatal errors: it keeps
    running, and every row arrives."""
    source.psql("CREATE TABLE bulk (id int PRIMARY KEY, pad text)")
    s = streamer(snapshot_mode="never", reconnect_backoff_max_ms="500", **STRICT).start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    rows = 5000
    for r in range(3):
        broker.command("errors produce OUT_OF_ORDER_SEQUENCE_NUMBER")
        source.psql(f"INSERT INTO bulk SELECT g, 'p' FROM generate_series({r * rows + 1}, {(r + 1) * rows}) g")
        end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
        wait_for(lambda: not s.running() or (confirmed(source) or 0) >= end, timeout=60,
                 what="the slot to pass the transaction")
        assert s.running(), s.text()[-3000:]
    text = s.text()
    # librdkafka's fatal error is logged as "kafka FATAL" each time; which of
    # walstreamer's two paths notices it first (the fatal-error check or a
    # failed delivery report) is a race, so only the restart is counted.
    assert text.count("kafka FATAL") >= 3 and text.count("restarting from the slot") >= 3, text[-3000:]
    assert s.stop() == 0
    ids = {m.record()["row"]["id"] for (t, _), ms in read_all(broker.bootstrap, "pgcdc.public.bulk").items()
           for m in ms if m.record()["op"] == "insert"}
    assert ids == set(range(1, 3 * rows + 1)), sorted(set(range(1, 3 * rows + 1)) - ids)[:10]
