"""Kafka's brokers fail under the whole pipeline (source, walstreamer, real
Kafka, walsink, target) while a workload runs: the only broker killed and
restarted; with three brokers (replication factor 3, min.insync.replicas=2)
the leader of the busiest partition killed, a broker stopped past its
session, two brokers down at once.

Each ends with what the pipeline promises: every committed change in Kafka
in per-key order, no sample of the slot's confirmed position ahead of what
Kafka held at that moment, the target equal to the source, and (a trigger in
the target records every update of kv, whose values only grow) no change
applied twice or out of order."""

import time

import pytest
from support.checks import confirmed, dead_letters, lsn, snapshot_done, wait_for
from support.kafkaread import watermarks
from support.workload import HISTORY, Sampler, Workload, settle, verify


class Pipeline:
    """The workload flowing from source to target, sampled."""

    def __init__(self, source, target, broker, streamer, sink, **streamer_keys):
        target.psql(HISTORY)
        self.source, self.target, self.broker = source, target, broker
        self.work = Workload(source, pause=0.004)
        self.s = streamer(**streamer_keys).start()
        wait_for(lambda: snapshot_done(source), what="the snapshot")  # see HISTORY
        self.w = sink(reconnect_backoff_max_ms="1000").start()
        self.work.start()
        self.sampler = Sampler(source, broker.bootstrap).start()
        wait_for(lambda: target.psql("SELECT to_regclass('ledger') IS NOT NULL") == "t", what="ledger created")
        time.sleep(2)
        # Where the outage begins in walstreamer's log: no restart may follow.
        self.outage_from = len(self.s.text())

    def busiest_leader(self):
        """(topic, partition, leader) of the partition holding the most."""
        marks = watermarks(self.broker.bootstrap)
        topic, part = max((tp for tp in marks if tp[0].startswith("pgcdc.public.")), key=marks.get)
        return topic, part, self.broker.leaders(topic)[part]

    def moves_on(self, what, timeout=60):
        """The slot passes what was written now: the stream goes on."""
        mark = lsn(self.source.psql("SELECT pg_current_wal_lsn()"))
        wait_for(lambda: confirmed(self.source) >= mark, timeout=timeout, what=what)

    def held(self, seconds):
        """The slot stays where it is for that long (once what was in
        flight settled), while the writes go on."""
        time.sleep(2)
        at, written = confirmed(self.source), len(self.work.committed)
        time.sleep(seconds - 2)
        assert confirmed(self.source) == at, "the slot advanced while Kafka could not take the changes"
        assert len(self.work.committed) > written, "the workload kept committing"

    def finish(self):
        time.sleep(2)
        settle(self.work, self.source, self.target, committed=300)
        self.sampler.finish()
        verify(self.source, self.broker.bootstrap, self.work, self.sampler)
        text = self.s.text()[self.outage_from:]
        if "restarting from the slot" in text:
            lines = text[:text.index("restarting from the slot")].splitlines()[-12:]
            pytest.fail("an outage of brokers needs no restart; what came before it:\n" + "\n".join(lines))
        assert dead_letters(self.target) == []
        assert self.w.stop() == 0 and self.s.stop() == 0


def test_single_broker_killed_and_restarted(source, target, broker, streamer, sink):
    """kill -9 of the only broker mid-stream, started again 5 s later: the
    producer waits, the slot holds, walsink waits; the idempotent producer's
    state survives in the broker's log, and everything arrives once."""
    p = Pipeline(source, target, broker, streamer, sink)
    broker.kill(1)
    p.held(5)
    broker.start_node(1)
    p.finish()


@pytest.mark.kafka(brokers=3)
def test_leader_of_the_busiest_partition_killed(source, target, broker, streamer, sink):
    """kill -9 of the leader of the busiest partition: once the controller
    fences it (broker.session.timeout.ms, 9 s), another replica leads and the
    stream goes on with two brokers; the third comes back and catches up."""
    p = Pipeline(source, target, broker, streamer, sink)
    topic, part, victim = p.busiest_leader()
    broker.kill(victim)
    p.moves_on("the stream to go on with two brokers")
    assert broker.leaders(topic)[part] not in (victim, -1)
    broker.start_node(victim)
    p.finish()


@pytest.mark.kafka(brokers=3)
def test_broker_paused_past_its_session(source, target, broker, streamer, sink):
    """SIGSTOP of the busiest partition's leader for longer than its session
    with the controller: it is fenced and others lead; the producer's
    requests to the sleeper time out (kafka.socket.timeout.ms, shortened
    here from librdkafka's 60 s) and go to the new leaders, so the stream
    goes on while it sleeps.  SIGCONT: it finds its leadership gone to a
    later epoch, and catches up."""
    p = Pipeline(source, target, broker, streamer, sink, kafka_socket_timeout_ms="15000")
    _, _, sleeper = p.busiest_leader()
    broker.pause(sleeper)
    try:
        p.moves_on("the stream to go on without it")
    finally:
        broker.resume(sleeper)
    p.finish()


@pytest.mark.kafka(brokers=3)
def test_two_brokers_down_at_once(source, target, broker, streamer, sink):
    """Two of three brokers killed: no partition can reach
    min.insync.replicas (and no controller quorum is left), so the producer
    waits and the slot holds; both come back and nothing is lost."""
    p = Pipeline(source, target, broker, streamer, sink)
    broker.kill(2)
    broker.kill(3)
    p.held(15)
    broker.start_node(2)
    broker.start_node(3)
    p.finish()
