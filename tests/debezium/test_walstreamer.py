"""walstreamer's value.format = debezium-json against Debezium's own
messages (fixtures/, recorded by record.py from the same setup.sql and
changes.sql): field by field, per topic and per key in order.

Fields that cannot match by nature are checked for type and plausibility
instead of equality: the event's and the commit's times (ts_ms, ts_us,
ts_ns), source.version, source.sequence, source.lsn, source.txId (null
for pgcdc's snapshot reads, whose read-only chunks have no xid) and the
transaction id (other LSNs and xids on another server), and the
snapshot marker (Debezium's first/last; pgcdc's chunked snapshot says
"true" for every read).  Two of Debezium's values are knowingly not
matched, as tests/debezium/README.md records: a BC date read by its
snapshot (Debezium's Julian-calendar -703383; pgcdc writes PostgreSQL's day
count, -735160, which Debezium itself streams), and the name it gives a
transaction's logical messages in the END record (a Java object's
identity).  Two of its messages pgcdc does not write: a tombstone with a
null key (keyed_tombstones_only) and the snapshot's second copy of a
partition's rows under the partitioned table's own topic; one it writes
that Debezium does not: a truncate before the snapshot reads of a table
without a key (without_snapshot_truncates)."""

import json
import os
import re
import subprocess

import pytest

from support.binaries import WALSTREAMER
from support.checks import confirmed, lsn, wait_for
from support.kafkaread import read_all
from test_fixtures import REBUILT, assert_rebuilt, consume, parsed

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")

# The variants walstreamer writes, with the settings that match the recording's.
VARIANTS = {
    "schemas": {"schemas.enable": "on"},
    "plain": {"schemas.enable": "off"},
    "modes": {"decimal.handling.mode": "string", "time.precision.mode": "connect",
              "binary.handling.mode": "hex", "hstore.handling.mode": "map",
              "interval.handling.mode": "string"},
    "modes2": {"decimal.handling.mode": "double", "time.precision.mode": "adaptive_time_microseconds",
               "binary.handling.mode": "base64-url-safe", "unavailable.value.placeholder": "__unchanged__"},
    "columns": {k: v for k, v in json.load(open(os.path.join(FIXTURES, "manifest.json")))["variants"]["columns"].items()
                if k.startswith(("column.", "message.key."))},
    "routing": {"topic.routing.regex": r"routing\.(public)\.(pair|full_ident)",
                "topic.routing.replacement": "routing.$1.merged"},
    "viaroot": {"publish.via.partition.root": "on"},
}
# Each through the pgcdc plugin; without schemas, also through PostgreSQL's
# own pgoutput (managed servers), whose records walstreamer builds itself.
RUNS = [("schemas", "pgcdc"), ("plain", "pgcdc"), ("plain", "pgoutput"), ("modes", "pgcdc"),
        ("modes2", "pgcdc"), ("columns", "pgcdc"), ("routing", "pgcdc"),
        ("viaroot", "pgcdc"), ("viaroot", "pgoutput")]


def psql_file(cluster, name):
    subprocess.run([cluster.install.prog("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                    "-d", cluster.dsn(), "-f", os.path.join(HERE, name)], check=True,
                   stdout=subprocess.DEVNULL)


def doc(raw):
    """A key or value as (payload, schema); (None, None) for a null."""
    if raw is None:
        return None, None
    d = json.loads(raw)
    if isinstance(d, dict) and set(d) == {"schema", "payload"}:
        return d["payload"], d["schema"]
    return d, None


def plausible_source(src, variant):
    """The source block's fields that cannot match, checked and dropped."""
    src = dict(src)
    assert isinstance(src.pop("version"), str)
    for f in ("ts_ms", "ts_us", "ts_ns", "lsn"):
        assert isinstance(src.pop(f), int) and src.get(f) is None, f
    seq = json.loads(src.pop("sequence"))
    assert len(seq) == 2 and all(s is None or re.fullmatch(r"\d+", s) for s in seq), seq
    tx = src.pop("txId")
    assert tx is None or isinstance(tx, int)
    src["txId"] = "null" if tx is None else "an xid"
    assert src["name"] == variant
    src["snapshot"] = src["snapshot"] != "false"
    if src["snapshot"]:
        # Debezium's snapshot runs in one transaction that has an xid; pgcdc's
        # chunks are read-only transactions, which have none: null.
        src["txId"] = "a snapshot's"
    return src


def normal_value(payload, topic, variant):
    """A change or message value with what cannot match made comparable."""
    if payload is None:
        return None
    v = dict(payload)
    for f in ("ts_ms", "ts_us", "ts_ns"):
        assert isinstance(v.pop(f, 0), int)
    v["source"] = plausible_source(v["source"], variant)
    if v.get("transaction") is not None:
        t = dict(v["transaction"])
        assert re.fullmatch(r"\d+:\d+", t.pop("id"))
        v["transaction"] = t
    return v


def fixture(variant):
    with open(os.path.join(FIXTURES, f"{variant}.jsonl")) as f:
        return [json.loads(line) for line in f]


def debezium_exceptions(topic, key, value):
    """Debezium's values that pgcdc knowingly writes otherwise (the module's docstring)."""
    if value is not None and topic.endswith(".public.types") and value["op"] == "r" and \
            value["after"]["c_date"] == -703383:
        value["after"]["c_date"] = -735160


def keyed_tombstones_only(messages):
    """Debezium writes a tombstone after a delete even when the table has no
    key: a null key, which a compacted topic (what tombstones are for)
    refuses.  pgcdc writes none there."""
    return [m for m in messages if not (m["key"] is None and m["value"] is None)]


def without_snapshot_truncates(messages):
    """pgcdc reads a table without a key whole while its changes stream, and
    puts a truncate of it (source.snapshot "true") before the rows, so that
    a consumer holds the table as read; Debezium's snapshot runs before its
    stream and needs none."""
    out = []
    for m in messages:
        value, _ = doc(m["value"])
        if value is not None and value.get("op") == "t" and value["source"]["snapshot"] == "true":
            continue
        out.append(m)
    return out


def by_key(messages, variant):
    """{topic: {key text: [(headers, value, value schema)...] in order}} of a
    table's messages; keys compare as their payloads."""
    out = {}
    for m in messages:
        key, key_schema = doc(m["key"])
        value, value_schema = doc(m["value"])
        value = normal_value(value, m["topic"], variant)
        debezium_exceptions(m["topic"], key, value)
        headers = sorted((k, v) for k, v in m["headers"] if k.startswith("__debezium.") and
                         not k.startswith("__debezium.context."))
        entry = (headers, value, value_schema, key_schema)
        seq = out.setdefault(m["topic"], {}).setdefault(json.dumps(key, sort_keys=True), [])
        # pgcdc writes a truncate on every partition of the table's topic, so
        # that each partition has it in order with its keys' changes; Debezium
        # on one.  Equal copies count once.
        if value is not None and value["op"] == "t" and seq and seq[-1] == entry:
            continue
        seq.append(entry)
    return out


def transactions(messages, variant):
    """The transaction topic as a sorted list of (status, count, {collection: count})."""
    out = []
    for m in messages:
        key, _ = doc(m["key"])
        value, _ = doc(m["value"])
        assert re.fullmatch(r"\d+:\d+", key["id"]) and value["id"] == key["id"]
        assert isinstance(value["ts_ms"], int)
        colls = {c["data_collection"]: c["event_count"] for c in value["data_collections"] or []}
        colls = {("(messages)" if not re.fullmatch(r"public\.\w+", k) else k): n for k, n in colls.items()}
        out.append((value["status"], value["event_count"], sorted(colls.items())))
    return sorted(out, key=repr)


def ours(bootstrap, variant):
    """walstreamer's messages of a variant in the fixtures' form, per partition in order."""
    got = read_all(bootstrap, prefix=f"{variant}.")
    got.update(read_all(bootstrap, prefix=f"__debezium-heartbeat.{variant}"))
    out = []
    for (topic, _), msgs in sorted(got.items()):
        for m in msgs:
            out.append({"topic": topic, "offset": m.offset, "key": m.key and m.key.decode(),
                        "value": m.value and m.value.decode(),
                        "headers": sorted(m.headers.items())})
    return out


@pytest.fixture(params=RUNS, ids=[f"{v}-{p}" for v, p in RUNS])
def streamed(request, source, broker, streamer):
    """setup.sql read by a variant's walstreamer in its snapshot, then
    changes.sql streamed: (variant, its messages, the source)."""
    variant, plugin = request.param
    psql_file(source, "setup.sql")
    keys = {k.replace(".", "_"): v for k, v in VARIANTS[variant].items()}
    if plugin == "pgoutput":
        # As Debezium's publication: every table, the keyless one too (its inserts only are streamed).
        keys["publication_autocreate"] = "all_tables"
    s = streamer(topic_prefix=variant, value_format="debezium-json", source_plugin=plugin,
                 provide_transaction_metadata="on", **keys).start()
    wait_for(lambda: "snapshot complete" in s.text(), timeout=120, what="the snapshot")
    psql_file(source, "changes.sql")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: (confirmed(source) or 0) >= end, timeout=60, what="the slot to pass the changes")
    assert s.running(), s.text()[-3000:]
    assert "ERROR" not in s.text(), s.text()[-3000:]
    return variant, ours(broker.bootstrap, variant), source


def test_field_by_field_as_debezium_writes(streamed):
    variant, got, source = streamed
    expected = fixture(variant)
    table = re.compile(rf"{variant}\.public\.\w+")
    want_tables = by_key(keyed_tombstones_only([m for m in expected if table.fullmatch(m["topic"])]),
                         variant)
    got_tables = by_key(without_snapshot_truncates([m for m in got if table.fullmatch(m["topic"])]), variant)
    # Debezium's snapshot reads a partitioned table's rows twice, from its
    # leaf and from its root (whose topic then holds only those reads); pgcdc
    # reads the leaves, where the rows are, as its stream writes them.
    # With publish.via.partition.root its snapshot reads the leaves' rows under
    # the leaves too (and the root's under the root), walstreamer the root's.
    for leaf in ("measure_2024", "measure_2025") if variant == "viaroot" else ("measure",):
        want_tables.pop(f"{variant}.public.{leaf}", None)
    assert sorted(got_tables) == sorted(want_tables)
    for topic, keys in want_tables.items():
        assert sorted(got_tables[topic]) == sorted(keys), topic
        for key, want in keys.items():
            have = got_tables[topic][key]
            assert len(have) == len(want), (topic, key, [w[1] and w[1]["op"] for w in want],
                                            [h[1] and h[1]["op"] for h in have])
            for i, (w, h) in enumerate(zip(want, have)):
                where = f"{topic} key {key} message {i + 1}"
                assert h[0] == w[0], f"{where}: headers"
                assert h[3] == w[3], f"{where}: key schema"
                if h[2] != w[2] and h[2] and w[2]:
                    for hf, wf in zip(h[2]["fields"], w[2]["fields"]):
                        for hc, wc in zip(hf.get("fields", [hf]), wf.get("fields", [wf])):
                            assert hc == wc, f"{where}: value schema of {wf['field']}"
                assert h[2] == w[2], f"{where}: value schema"
                if w[1] is None or h[1] is None:
                    assert h[1] == w[1], f"{where}: tombstone"
                    continue
                for field in sorted(set(w[1]) | set(h[1])):
                    if field in ("before", "after") and w[1][field] and h[1][field]:
                        for col in w[1][field]:
                            assert h[1][field].get(col) == w[1][field][col], f"{where}: {field}.{col}"
                    assert h[1].get(field) == w[1].get(field), f"{where}: {field}"

    tx = f"{variant}.transaction"
    assert transactions([m for m in got if m["topic"] == tx], variant) == \
        transactions([m for m in expected if m["topic"] == tx], variant)

    def messages(ms):
        out = []
        for m in ms:
            if m["topic"] != f"{variant}.message":
                continue
            key, key_schema = doc(m["key"])
            value, value_schema = doc(m["value"])
            out.append((json.dumps(key), key_schema, value_schema,
                        json.dumps(normal_value(value, m["topic"], variant), sort_keys=True)))
        return sorted(out)
    assert messages(got) == messages(expected)

    hb = f"__debezium-heartbeat.{variant}"
    want_hb = [m for m in expected if m["topic"] == hb][0]
    have_hb = [m for m in got if m["topic"] == hb]
    assert have_hb, "no heartbeat"
    assert have_hb[0]["key"] == want_hb["key"]
    (w, ws), (h, hs) = doc(want_hb["value"]), doc(have_hb[0]["value"])
    assert hs == ws and set(h) == set(w) and isinstance(h["ts_ms"], int)

    # The consumer test_fixtures.py wrote from Debezium's documentation alone,
    # fed walstreamer's topics (each partition in order), rebuilds the source
    # (whose values the columns variant masks or leaves out).
    if variant in REBUILT:
        assert_rebuilt(source, consume(variant, [parsed(dict(m)) for m in got]), variant)


def test_outbox_events_as_debezium_writes_them(source, broker, streamer):
    """outbox.table: the outbox table's inserts as Debezium's EventRouter
    (its defaults) writes them through JsonConverter, field for field:
    topic, key, value, the "id" header; its deletes make nothing."""
    psql_file(source, "setup.sql")
    s = streamer(topic_prefix="outbox", value_format="debezium-json", outbox_table="public.outbox",
                 table_include_list="public.outbox").start()
    wait_for(lambda: "snapshot complete" in s.text(), timeout=120, what="the snapshot")
    psql_file(source, "changes.sql")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: (confirmed(source) or 0) >= end, timeout=60, what="the slot to pass the changes")
    assert "ERROR" not in s.text(), s.text()[-3000:]
    assert s.stop() == 0

    def events(ms):
        return [(m["topic"], m["key"], json.loads(m["value"]) if m["value"] else None,
                 [v for k, v in m["headers"] if k == "id"]) for m in ms]
    want = [m for m in fixture("outbox") if m["topic"].startswith("outbox.event.")]
    got = [{"topic": m.topic, "key": m.key.decode() if m.key else None, "value": m.value and m.value.decode(),
            "headers": list(m.headers.items())}
           for ms in read_all(broker.bootstrap, prefix="outbox.event.").values() for m in ms]
    assert sorted(events(got), key=repr) == sorted(events(want), key=repr)
    assert len(want) == 3
    # Per aggregate, in the order of the inserts.
    order = [e for e in events(got) if e[0] == "outbox.event.order"]
    assert [e[3] for e in order] == [["8b1e9e6e-0d4c-4c86-9a4c-2f6f0f1d7a01"], ["8b1e9e6e-0d4c-4c86-9a4c-2f6f0f1d7a03"]]


def test_what_debezium_json_cannot_carry_is_refused():
    """A streamed transaction's changes (void until its commit) and a pgcdc
    stand-in record have no place in Debezium's format: left unset, they
    follow the format; asked for, walstreamer refuses at start, naming
    the setting."""
    def run(*args):
        p = subprocess.run([WALSTREAMER, "--source=dbname=x", "--value.format=debezium-json", *args],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stderr.strip()

    rc, err = run("--source.streaming=on")
    assert rc == 1 and "source.streaming" in err and err.count("\n") == 0, err
    rc, err = run("--oversized.mode=dead-letter")
    assert rc == 1 and "oversized.mode" in err and "fail" in err, err
    rc, err = run("--output=stdout")
    assert rc == 1 and "output" in err, err
    rc, err = run("--value.format=avro")
    assert rc == 1 and "avro" in err and "debezium-json" in err, err
