"""Reading back what Kafka holds: high watermarks, and every message of the
pgcdc topics up to them, per partition in offset order."""

import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from . import pgcdcwire


class Message:
    __slots__ = ("topic", "partition", "offset", "key", "value", "headers")

    def __init__(self, m):
        self.topic, self.partition, self.offset = m.topic(), m.partition(), m.offset()
        self.key, self.value = m.key(), m.value()
        self.headers = {k: v.decode() for k, v in (m.headers() or [])}

    def record(self):
        return pgcdcwire.record(self.value)


def watermarks(bootstrap, topics=None):
    """{(topic, partition): high watermark} for every topic (or those given)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    try:
        md = c.list_topics(timeout=10)
        out = {}
        for name, t in md.topics.items():
            if topics is not None and name not in topics:
                continue
            for p in t.partitions:
                low, high = watermark(c, name, p)
                # A trimmed log (retention; the dev broker keeps about 5 MB a
                # partition) cannot be checked for completeness.
                assert low == 0 or not name.startswith("pgcdc.public.") or topics is not None, \
                    f"{name} [{p}] was trimmed (its log starts at {low}): test data too large"
                out[(name, p)] = high
        return out
    finally:
        c.close()


def watermark(consumer, topic, partition, timeout=30):
    """(low, high) of a partition, asked again while it has no leader (a
    topic just created, a leader moving)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        except KafkaException as e:
            if not e.args[0].retriable() and e.args[0].code() not in (
                    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                    KafkaError.UNKNOWN_TOPIC_OR_PART) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def read_all(bootstrap, prefix="pgcdc.", upto=None, ranges=False):
    """Every message of the topics starting with prefix, per partition in offset
    order, up to the current high watermarks (or those given); a snapshot
    chunk's range records (header pgcdc.op g) only when ranges is true."""
    marks = upto or watermarks(bootstrap)
    marks = {tp: hw for tp, hw in marks.items() if tp[0].startswith(prefix) and hw > 0}
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader",
                  "enable.auto.commit": False, "fetch.message.max.bytes": 10485760})
    got = {tp: [] for tp in marks}
    try:
        c.assign([TopicPartition(t, p, 0) for t, p in marks])
        left = {tp for tp in marks}
        deadline = time.monotonic() + 120
        while left and time.monotonic() < deadline:
            for m in c.consume(10000, 0.5):
                if m.error():
                    continue
                tp = (m.topic(), m.partition())
                if tp in left and m.offset() < marks[tp]:
                    msg = Message(m)
                    if ranges or msg.headers.get("pgcdc.op") != "g":
                        got[tp].append(msg)
                    if m.offset() + 1 >= marks[tp]:
                        left.discard(tp)
        assert not left, f"could not read {left}"
    finally:
        c.close()
    return got
