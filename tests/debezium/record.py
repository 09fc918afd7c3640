#!/usr/bin/env python3
"""Record Debezium's own messages as fixtures: the reference that pgcdc's
Debezium-compatible format is written and tested against.

usage: python3 tests/debezium/record.py [--out DIR]     (default: fixtures/ beside this file)

Starts a PostgreSQL 15 server, one Apache Kafka broker (one partition a
topic, so each topic's order is the order Debezium wrote) and a Kafka
Connect worker with the real Debezium PostgreSQL connector
(tests/support/debezium.py: 3.6.1.Final, plugin.name=pgoutput), all on
loopback.  Then:

1. setup.sql creates tables covering every column type pgcdc maps, with
   rows;
2. one connector per VARIANT below starts, each with its own slot,
   publication and topic prefix (the variant's name), and reads those rows
   in its snapshot (op "r");
3. once every connector streams, changes.sql runs: inserts, updates
   (REPLICA IDENTITY DEFAULT and FULL, unchanged TOASTed values, a key
   change), deletes, a transaction of several statements, logical messages
   and a truncate;
4. when every variant has written the truncate, each variant's topics are
   read back whole into <out>/<variant>.jsonl, one message a line in topic
   and offset order: {"topic", "offset", "headers": [[name, value]...],
   "key", "value"}, key and value the exact text Debezium wrote (null for a
   tombstone).  Of the heartbeats, which come every second, only the
   first is kept.  <out>/manifest.json holds the versions, each variant's
   settings and the SHA-256 of setup.sql and changes.sql that were run.

Fixtures are files in the repository: rerun this only to record a new
Debezium version or new statements, and commit the result.
"""

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))

try:
    from confluent_kafka import Consumer, TopicPartition
except ImportError:     # Debian's python3 has python3-confluent-kafka; pyenv's may not
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

from support import debezium, kafkacluster, pgtemp  # noqa: E402

SETUP = os.path.join(HERE, "setup.sql")
CHANGES = os.path.join(HERE, "changes.sql")

# Every variant: each event kind on (truncates are skipped by default,
# transaction metadata and heartbeats are off by default).
COMMON = {
    "skipped.operations": "none",
    "provide.transaction.metadata": "true",
    "heartbeat.interval.ms": "1000",
}
# The converter settings and the type mapping modes users choose between.
VARIANTS = {
    # Debezium's and Kafka Connect's defaults: JSON with schemas.
    "schemas": {},
    # JSON without schemas, the other common setting.
    "plain": {"key.converter.schemas.enable": "false",
              "value.converter.schemas.enable": "false"},
    # The other modes of the type mappings, with schemas (the schema names them).
    "modes": {"decimal.handling.mode": "string", "time.precision.mode": "connect",
              "binary.handling.mode": "hex", "hstore.handling.mode": "map",
              "interval.handling.mode": "string"},
    "modes2": {"decimal.handling.mode": "double",
               "time.precision.mode": "adaptive_time_microseconds",
               "binary.handling.mode": "base64-url-safe",
               "unavailable.value.placeholder": "__unchanged__"},
    # The column settings: columns left out, masked (stars, both hash
    # strategies) and another Kafka key.
    "columns": {"column.exclude.list": "public.types.c_money,public.doc.blob",
                "column.mask.with.6.chars": "public.types.c_char,public.pair.v,public.doc.body",
                "column.mask.hash.SHA-256.with.salt.CzQMA0cB5K": "public.types.c_varchar,public.doc_full.body",
                "column.mask.hash.v2.SHA-256.with.salt.pgcdc": "public.types.c_text,public.full_ident.name",
                "message.key.columns": "public.keyless:n;public.pair:b"},
    # Topic routing: Debezium's ByLogicalTableRouter merging two tables' topics.
    "routing": {"transforms": "Reroute",
                "transforms.Reroute.type": "io.debezium.transforms.ByLogicalTableRouter",
                "transforms.Reroute.topic.regex": r"routing\.(public)\.(pair|full_ident)",
                "transforms.Reroute.topic.replacement": "routing.$1.merged"},
    # A partitioned table's changes under its root.
    "viaroot": {"publish.via.partition.root": "true"},
    # The outbox pattern: Debezium's EventRouter on the outbox table, its defaults.
    "outbox": {"table.include.list": "public.outbox",
               "transforms": "outbox",
               "transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter"},
}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def psql_file(cluster, path):
    subprocess.run([cluster.install.prog("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                    "-d", cluster.dsn(), "-f", path], check=True, stdout=subprocess.DEVNULL,
                   start_new_session=True)


def topics_of(consumer, prefix):
    names = consumer.list_topics(timeout=30).topics
    return sorted(t for t in names
                  if t.startswith(prefix + ".") or t == f"__debezium-heartbeat.{prefix}")


def read_topic(consumer, topic):
    """Every message of a one-partition topic, in offset order."""
    lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
    out = []
    if hi <= lo:
        return out
    consumer.assign([TopicPartition(topic, 0, lo)])
    while len(out) < hi - lo:
        m = consumer.poll(10)
        if m is None:
            raise RuntimeError(f"{topic}: {len(out)} of {hi - lo} messages read")
        if m.error():
            raise RuntimeError(f"{topic}: {m.error()}")
        out.append(m)
    consumer.unassign()
    return out


def settled(consumer, prefixes, quiet=10, timeout=180):
    """Until the variants' topics and their high watermarks (the heartbeats'
    aside, which never stop) stay the same for quiet seconds: the last
    statement's messages may reach Kafka after the last table's."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        marks = {t: consumer.get_watermark_offsets(TopicPartition(t, 0), timeout=30)[1]
                 for p in prefixes for t in topics_of(consumer, p) if not t.startswith("__debezium-heartbeat.")}
        if marks != last:
            last, since = marks, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(1)
    raise RuntimeError("the variants' topics kept growing")


def wait_for(consumer, topic, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if topic in consumer.list_topics(timeout=30).topics:
            lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
            if hi > lo:
                return
        time.sleep(0.5)
    raise RuntimeError(f"no message on {topic} in {timeout} s")


def text(b):
    return None if b is None else b.decode()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(HERE, "fixtures"))
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--only", action="append", choices=sorted(VARIANTS),
                   help="record this variant only (repeatable), keeping the others' files and manifest entries")
    args = p.parse_args()
    variants = {name: VARIANTS[name] for name in (args.only or VARIANTS)}
    os.makedirs(args.out, exist_ok=True)

    install = pgtemp.pgcdc_install(args.build)
    cluster = pgtemp.Cluster(install, "dbz-record").start()
    kafka = kafkacluster.KafkaCluster(partitions=1).start()
    connect = debezium.Connect(kafka.bootstrap).start()
    try:
        psql_file(cluster, SETUP)
        configs = {}
        for name, settings in variants.items():
            configs[name] = debezium.postgres_connector(
                cluster, name, slot=f"dbz_{name}", **{**COMMON, **settings})
            since = connect.log_size()
            connect.add(name, configs[name])
            connect.wait_streaming(name, name, since=since)
            print(f"{name}: streaming", file=sys.stderr)
        psql_file(cluster, CHANGES)
        consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": "record",
                             "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        for name in variants:
            # The last statement's topic (the outbox variant reads only the outbox table).
            wait_for(consumer, "outbox.event.order" if name == "outbox" else f"{name}.public.scratch")
            wait_for(consumer, f"__debezium-heartbeat.{name}")
        settled(consumer, list(variants))
        for name in variants:
            lines = []
            for topic in topics_of(consumer, name):
                messages = read_topic(consumer, topic)
                if topic.startswith("__debezium-heartbeat."):
                    messages = messages[:1]
                for m in messages:
                    lines.append({"topic": topic, "offset": m.offset(),
                                  "headers": [[k, text(v)] for k, v in (m.headers() or [])],
                                  "key": text(m.key()), "value": text(m.value())})
            with open(os.path.join(args.out, f"{name}.jsonl"), "w") as f:
                for line in lines:
                    f.write(json.dumps(line, ensure_ascii=False) + "\n")
            print(f"{name}: {len(lines)} messages", file=sys.stderr)
        consumer.close()
        versions = debezium.version()
        today = datetime.date.today().isoformat()
        manifest = {
            "recorded": today,
            "debezium": versions.get("debezium"),
            "kafka_connect": versions.get("connect"),
            "kafka_broker": kafkacluster.version(),
            "postgresql": cluster.psql("SHOW server_version"),
            "setup.sql": sha256(SETUP),
            "changes.sql": sha256(CHANGES),
            "variants": {name: {k: v for k, v in c.items()
                                if not k.startswith("database.")}
                         for name, c in configs.items()},
            "recorded_variants": {name: today for name in configs},
        }
        if args.only:
            # The other variants' entries stay, recorded by the same versions from the same statements.
            with open(os.path.join(args.out, "manifest.json")) as f:
                kept = json.load(f)
            for k in ("debezium", "kafka_connect", "kafka_broker", "postgresql", "setup.sql", "changes.sql"):
                if kept[k] != manifest[k]:
                    raise SystemExit(f"{k} is {manifest[k]} now, {kept[k]} in the recording: record every variant")
            kept["variants"].update(manifest["variants"])
            kept.setdefault("recorded_variants", {}).update(manifest["recorded_variants"])
            manifest = kept
        with open(os.path.join(args.out, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
    finally:
        connect.stop()
        kafka.stop()
        cluster.destroy()


if __name__ == "__main__":
    main()
