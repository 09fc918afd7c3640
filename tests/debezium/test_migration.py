"""Migrating from Debezium, one half at a time (README): walsink first,
behind the running connector; then walstreamer in the connector's place,
on the connector's own slot and publication, writing Debezium's format to
the same topics.  Nothing is lost across the hand-over (the changes made
while neither runs included), and both a consumer that reads the topics as
Debezium's documentation describes them and walsink's target end equal to
the source, but for what the hand-over sends twice (at least once, as
Debezium's own restarts) to a table without a key.  Runs the real
connector (Java)."""

import json
from collections import Counter

from support import debezium
from support.checks import confirmed, dead_letters, lsn, table_rows, wait_equal, wait_for
from support.kafkaread import read_all

TABLES = """
    CREATE TABLE orders (id int PRIMARY KEY, status text, total numeric(10,2));
    CREATE TABLE notes (n int, body text);
    ALTER TABLE notes REPLICA IDENTITY FULL;
    INSERT INTO orders SELECT g, 'new', g * 1.25 FROM generate_series(1, 50) g;
    INSERT INTO notes VALUES (1, 'first');"""


def batch(source, first, last, status):
    """Inserts of ids first..last, and updates and deletes of the rows before them."""
    source.psql(f"""
        INSERT INTO orders SELECT g, '{status}', g FROM generate_series({first}, {last}) g;
        UPDATE orders SET status = '{status}-u' WHERE id BETWEEN {first - 10} AND {first - 6};
        DELETE FROM orders WHERE id BETWEEN {first - 5} AND {first - 3};
        INSERT INTO notes VALUES ({first}, '{status}');
        UPDATE notes SET body = body || '!' WHERE n = 1;""")


def rows(cluster):
    return table_rows(cluster, "notes").splitlines()


def rebuilt(bootstrap):
    """The topics read as Debezium's documentation describes them: c, r and
    u upsert `after` by the key (a keyless row by all its values), d deletes
    (by `before` without a key), tombstones skipped."""
    tables = {"orders": {}, "notes": {}}
    for (topic, _), msgs in sorted(read_all(bootstrap, prefix="shop.public.").items()):
        rows = tables[topic.rsplit(".", 1)[1]]
        for m in msgs:
            if m.value is None:
                continue
            v = json.loads(m.value)["payload"]
            key = json.dumps(json.loads(m.key)["payload"], sort_keys=True) if m.key else None
            if v["op"] == "d" or (v["op"] == "u" and key is None):
                rows.pop(key or json.dumps(v["before"], sort_keys=True), None)
            if v["op"] in ("c", "r", "u"):
                rows[key or json.dumps(v["after"], sort_keys=True)] = v["after"]
    return tables


def test_walsink_behind_debezium_then_walstreamer_on_its_slot(source, target, broker, streamer, sink):
    source.psql(TABLES)
    connect = debezium.Connect(broker.bootstrap).start()
    try:
        # 1. Debezium runs; walsink applies its topics (at least once).
        config = debezium.postgres_connector(source, "shop", slot="dbz", **{"decimal.handling.mode": "string"})
        since = connect.log_size()
        connect.add("shop", config)
        connect.wait_streaming("shop", "shop", since=since)
        w = sink(topic_prefix="shop", input_format="debezium-json").start()
        batch(source, 100, 120, "a")
        wait_equal(source, target, ["orders", "notes"])
        # 2. The connector stops (its offsets flushed, or not: its slot holds what it had not confirmed).
    finally:
        connect.stop()
    batch(source, 200, 220, "b")        # while neither runs
    # 3. walstreamer on the connector's slot and publication, Debezium's format, the same topics.
    s = streamer(source_plugin="pgoutput", slot_name="dbz", publication_name="dbz_pub",
                 publication_autocreate="disabled", snapshot_mode="never", topic_prefix="shop",
                 value_format="debezium-json", decimal_handling_mode="string").start()
    batch(source, 300, 320, "c")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: (confirmed(source, "dbz") or 0) >= end, what="walstreamer to pass the changes")
    wait_equal(source, target, ["orders"])
    # The hand-over is at least once: what the connector had delivered but not
    # yet confirmed to its slot comes again from walstreamer. A table with a
    # key is unchanged by it; a table without one may get those inserts twice
    # (batch a's, delivered before the connector stopped), and nothing else.
    wait_for(lambda: not Counter(rows(source)) - Counter(rows(target)), what="every note in the target")
    extra = Counter(rows(target)) - Counter(rows(source))
    assert set(extra) <= {"(100,a)"}, extra
    # An update of it applied before comes again with an old row the target no longer has.
    assert set(dead_letters(target)) <= {"update of public.notes, a table without a key: no row of the target "
                                         "is equal to its old row (REPLICA IDENTITY FULL)"}
    assert s.stop() == 0 and w.stop() == 0
    assert source.psql("SELECT count(*) FROM pg_replication_slots") == "1", "no second slot"

    # A consumer of the topics, as Debezium's documentation reads them, ends equal to the source.
    got = rebuilt(broker.bootstrap)
    orders = sorted((r["id"], r["status"], r["total"]) for r in got["orders"].values())
    want = [(int(i), st, t) for i, st, t in (line.split("|") for line in source.psql(
        "SELECT id, status, total FROM orders ORDER BY id").splitlines())]
    assert orders == sorted(want)
    notes = sorted((r["n"], r["body"]) for r in got["notes"].values())
    assert notes == sorted(set((int(n), b) for n, b in (line.split("|") for line in source.psql(
        "SELECT n, body FROM notes").splitlines())))
