"""The recorded Debezium messages (fixtures/, made by record.py) are a
faithful reference: recorded from setup.sql and changes.sql as they are
now, by the Debezium the pinned pom names, holding every event kind and
every column, and complete: a consumer written from Debezium's documented
envelope alone (upsert `after` for c/u/r, delete by `before` for d, skip
tombstones, empty the table at t), fed each variant's messages, ends with
the rows that the same two files leave in a fresh PostgreSQL.

Runs without Java: what it reads is files.  The tests of pgcdc's own
Debezium-compatible output and of walsink applying these topics use the
same fixtures."""

import base64
import datetime
import decimal
import hashlib
import json
import os
import re
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
POM = os.path.join(os.path.dirname(HERE), "support", "debezium", "pom.xml")
VARIANTS = ("schemas", "plain", "modes", "modes2", "columns", "routing", "viaroot", "outbox")
# The variants of every table's changes (outbox: the outbox table's events only).
CHANGES = tuple(v for v in VARIANTS if v != "outbox")
# The variants whose values are the source's (columns masks some and leaves some out).
REBUILT = ("schemas", "plain", "modes", "modes2", "routing", "viaroot")


def manifest():
    with open(os.path.join(FIXTURES, "manifest.json")) as f:
        return json.load(f)


def parsed(m):
    """A message ({"topic", "key", "value", ...} as text) with its key and
    value parsed (None for a tombstone) and, with schemas, each payload as
    key_doc/value_doc and its schema aside."""
    for part in ("key", "value"):
        raw = m[part]
        doc = None if raw is None else json.loads(raw)
        if isinstance(doc, dict) and set(doc) == {"schema", "payload"}:
            m[part + "_schema"] = doc["schema"]
            doc = doc["payload"]
        m[part + "_doc"] = doc
    return m


def messages(variant):
    """Each recorded message of a variant, parsed."""
    with open(os.path.join(FIXTURES, f"{variant}.jsonl")) as f:
        return [parsed(json.loads(line)) for line in f]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_recorded_from_these_statements_by_the_pinned_debezium():
    man = manifest()
    assert man["setup.sql"] == sha256(os.path.join(HERE, "setup.sql")), \
        "setup.sql changed since the recording: run tests/debezium/record.py"
    assert man["changes.sql"] == sha256(os.path.join(HERE, "changes.sql")), \
        "changes.sql changed since the recording: run tests/debezium/record.py"
    with open(POM) as f:
        pom = f.read()
    assert f"<version>{man['debezium']}</version>" in pom
    assert f"<version>{man['kafka_connect']}</version>" in pom
    assert sorted(man["variants"]) == sorted(VARIANTS)


@pytest.mark.parametrize("variant", CHANGES)
def test_every_event_kind_and_column(variant):
    ms = messages(variant)
    data = [m for m in ms if re.fullmatch(rf"{variant}\.public\.\w+", m["topic"])]
    ops = {m["value_doc"]["op"] for m in data if m["value_doc"] is not None}
    assert ops == {"r", "c", "u", "d", "t"}
    assert [m for m in data if m["value_doc"] is None], "no tombstone"
    headers = {h[0] for m in data for h in m["headers"]}
    assert {"__debezium.oldkey", "__debezium.newkey"} <= headers, "no key change"
    assert {m["value_doc"]["op"] for m in ms if m["topic"] == f"{variant}.message"} == {"m"}
    assert {m["value_doc"]["status"] for m in ms if m["topic"] == f"{variant}.transaction"} == \
        {"BEGIN", "END"}
    assert [m for m in ms if m["topic"] == f"__debezium-heartbeat.{variant}"], "no heartbeat"
    # Every column of the types table, in a snapshot read and an insert.
    with open(os.path.join(HERE, "setup.sql")) as f:
        ddl = f.read().split("CREATE TABLE types (", 1)[1].split(");", 1)[0]
    columns = {line.split()[0] for line in ddl.strip().splitlines()}
    columns -= {c.rsplit(".", 1)[1] for c in
                manifest()["variants"][variant].get("column.exclude.list", "").split(",") if ".types." in c}
    for op in ("r", "c"):
        seen = [set(m["value_doc"]["after"]) for m in data
                if m["topic"].endswith(".types") and m["value_doc"] and m["value_doc"]["op"] == op]
        assert seen and all(s == columns for s in seen), op
    # The unchanged TOASTed text, in its placeholder (masked with stars: stars, as every value).
    placeholder = man_placeholder(variant) if variant != "columns" else "******"
    assert any(m["value_doc"] and m["value_doc"]["op"] == "u" and
               m["value_doc"]["after"]["body"] == placeholder
               for m in data if m["topic"].endswith(".doc"))


def man_placeholder(variant):
    return manifest()["variants"][variant].get("unavailable.value.placeholder",
                                                "__debezium_unavailable_value")


# -- an independent consumer ---------------------------------------------

# The tables whose final rows are compared, and how each Debezium value of
# theirs is read back into PostgreSQL's text: only what the consumer of the
# issue needs (ints, text, numerics, text arrays).
COMPARED = {
    "full_ident": "SELECT id, name, qty, tags FROM full_ident",
    "pair": "SELECT a, b, v FROM pair",
    "keyless": "SELECT n, s FROM keyless",
    "keyless_full": "SELECT n, s FROM keyless_full",
    "measure_2024": "SELECT id, at, v FROM measure_2024",
    "measure_2025": "SELECT id, at, v FROM measure_2025",
    "scratch": "SELECT id, v FROM scratch",
}
# publish.via.partition.root: the partitioned table under its root.
COMPARED_VIAROOT = {**{t: q for t, q in COMPARED.items() if not t.startswith("measure_")},
                    "measure": "SELECT id, at, v FROM measure"}


def compared(variant):
    return COMPARED_VIAROOT if variant == "viaroot" else COMPARED


def numeric(value, schema, mode, scale=None):
    """A Debezium numeric as a Decimal.  A fixed-scale numeric is its
    unscaled bytes: the scale is in the schema, or, without schemas, only
    in the table's definition (scale)."""
    if value is None:
        return None
    if mode == "string":
        return decimal.Decimal(value)
    if mode == "double":
        return decimal.Decimal(repr(value))
    if isinstance(value, dict):     # variable scale: {"scale": s, "value": base64}
        scale, raw = value["scale"], value["value"]
    else:
        raw = value
        if schema:
            scale = int(schema["parameters"]["scale"])
    n = int.from_bytes(base64.b64decode(raw), "big", signed=True)
    return decimal.Decimal(n).scaleb(-scale)


def field_schemas(m):
    """{column: its schema} of the value's "after" (with schemas), else {}."""
    schema = m.get("value_schema")
    if not schema:
        return {}
    after = next(f for f in schema["fields"] if f["field"] == "after")
    return {f["field"]: f for f in after["fields"]}


def row_text(table, row, schemas, mode):
    """A row as tuples of str, like psql's output, for the compared tables."""
    if table == "full_ident":
        q = numeric(row["qty"], schemas.get("qty"), mode, scale=3)
        return (str(row["id"]), row["name"], None if q is None else f"{q:.3f}",
                "{" + ",".join(row["tags"]) + "}")
    if table.startswith("measure"):
        at = row["at"]
        if isinstance(at, int):     # days since the epoch
            at = (datetime.date(1970, 1, 1) + datetime.timedelta(days=at)).isoformat()
        return (str(row["id"]), at, str(numeric(row["v"], schemas.get("v"), mode).normalize()))
    return tuple(None if v is None else str(v) for v in row.values())


def consume(variant, ms=None):
    """The Spark-style consumer: {table: {key: row}} from a variant's
    messages (or ms, parsed messages in each topic's order)."""
    mode = manifest()["variants"][variant].get("decimal.handling.mode", "precise")
    tables = {t: {} for t in compared(variant)}
    for m in (messages(variant) if ms is None else ms):
        topic = m["topic"].split(".")
        if len(topic) != 3 or m["value_doc"] is None:
            continue    # other topics, tombstones
        # The table is the source block's: a routed topic holds several.
        table = m["value_doc"]["source"]["table"] if "source" in m["value_doc"] else topic[2]
        if table not in tables:
            continue
        v, rows = m["value_doc"], tables[table]
        if v["op"] == "t":
            rows.clear()
            continue
        old = v["before"]
        key = json.dumps(m["key_doc"], sort_keys=True) if m["key_doc"] is not None else None
        if v["op"] == "d" or (v["op"] == "u" and key is None):
            # Without a key, a row is named by all its old values (REPLICA IDENTITY FULL).
            drop = key if key is not None else json.dumps(old, sort_keys=True)
            rows.pop(drop, None)
        if v["op"] in ("c", "r", "u"):
            new = v["after"]
            rows[key if key is not None else json.dumps(new, sort_keys=True)] = \
                row_text(table, new, field_schemas(m), mode)
    return tables


def assert_rebuilt(source, got, variant):
    """The consumer's tables equal the source's."""
    for table, sql in compared(variant).items():
        out = source.psql(sql)
        want = sorted(tuple(None if c == "" else c for c in line.split("|"))
                      for line in out.splitlines()) if out else []
        if table.startswith("measure"):
            want = [(i, at, str(decimal.Decimal(v).normalize())) for i, at, v in want]
        assert sorted(got[table].values()) == want, table


@pytest.mark.parametrize("variant", REBUILT)
def test_an_independent_consumer_rebuilds_the_source(source, variant):
    for name in ("setup.sql", "changes.sql"):
        subprocess.run([source.install.prog("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                        "-d", source.dsn(), "-f", os.path.join(HERE, name)],
                       check=True, stdout=subprocess.DEVNULL)
    assert_rebuilt(source, consume(variant), variant)
