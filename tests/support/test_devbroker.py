"""The dev broker behaves as a Kafka cluster to an ordinary client, and its
fault commands take effect."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer

from support.devbroker import DevBroker


@pytest.fixture
def broker():
    with DevBroker(brokers=3) as b:
        yield b


def produce(bootstrap, topic, count, **conf):
    """Produce count keyed messages; return the delivery errors (None = delivered)."""
    results = []
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 5, **conf})
    for i in range(count):
        p.produce(topic, key=str(i % 7), value=f"message {i}",
                  on_delivery=lambda err, msg: results.append(err))
    p.flush(60)
    return results


def consume_all(bootstrap, topic, expected, timeout=30):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-" + uuid.uuid4().hex,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < expected and time.monotonic() < deadline:
            msg = c.poll(0.1)
            if msg is None:
                continue
            assert msg.error() is None or msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
            if msg.error() is None:
                got.append((msg.key().decode(), msg.value().decode()))
    finally:
        c.close()
    return got


def test_produce_and_consume_through_a_group(broker):
    broker.command("topic orders 3")
    assert produce(broker.bootstrap, "orders", 300) == [None] * 300
    got = consume_all(broker.bootstrap, "orders", 300)
    assert sorted(v for _, v in got) == sorted(f"message {i}" for i in range(300))
    # Per key, the order produced is the order consumed.
    for key in map(str, range(7)):
        seq = [int(v.split()[1]) for k, v in got if k == key]
        assert seq == sorted(seq)


def test_commands_refuse_bad_input(broker):
    for bad, why in [("down 9", "broker id"), ("rtt 1 x", "malformed"), ("errors bogus X", "usage"),
                     ("errors produce NO_SUCH_ERROR", "unknown error name"), ("nonsense", "unknown"),
                     ("topic t 0", "malformed"), ("topic t 1 9", "replication factor")]:
        with pytest.raises(RuntimeError, match=why):
            broker.command(bad)
    broker.command("rtt 1 10")      # still answering after refusals


def test_injected_produce_errors_reach_delivery_reports(broker):
    broker.command("topic errs 1 3")
    # Without retries the first deliveries fail with the injected error.
    broker.command("errors produce NOT_ENOUGH_REPLICAS NOT_ENOUGH_REPLICAS")
    results = produce(broker.bootstrap, "errs", 5, retries=0, **{"enable.idempotence": False,
                                                                "batch.num.messages": 1,
                                                                "max.in.flight": 1})
    codes = [e.code() for e in results if e is not None]
    assert KafkaError.NOT_ENOUGH_REPLICAS in codes
    # With retries (the idempotent producer's default) they are ridden out.
    broker.command("errors produce NOT_ENOUGH_REPLICAS NOT_ENOUGH_REPLICAS")
    assert produce(broker.bootstrap, "errs", 5) == [None] * 5


def test_brokers_down_then_up(broker):
    broker.command("topic downs 3")
    assert produce(broker.bootstrap, "downs", 3) == [None] * 3
    for b in range(1, broker.brokers + 1):
        broker.command(f"down {b}")
    failed = produce(broker.bootstrap, "downs", 3, **{"message.timeout.ms": 2000})
    assert all(e is not None for e in failed)
    for b in range(1, broker.brokers + 1):
        broker.command(f"up {b}")
    assert produce(broker.bootstrap, "downs", 3) == [None] * 3
