"""Where and how changes land: columns added on the source mid-stream,
table.map and target.schema, soft deletes, truncate modes, routed topics,
partitions under their root."""

import pytest
from support.checks import confirmed, dead_letters, metric, query, snapshot_done, wait_equal, wait_for
from support.kafkaread import watermarks
from support.ports import free_port


@pytest.mark.parametrize("value_format", ["protobuf", "debezium-json"])
def test_add_column_mid_stream(source, target, broker, streamer, sink, value_format):
    source.psql("CREATE TABLE emp (id int PRIMARY KEY, name text)")
    s = streamer(heartbeat_interval_ms="0", value_format=value_format).start()
    w = sink().start()
    source.psql("INSERT INTO emp SELECT g, 'n' || g FROM generate_series(1, 20) g")
    wait_equal(source, target, ["emp"])
    source.psql("""
        ALTER TABLE emp ADD COLUMN dept text, ADD COLUMN pay numeric(10,2);
        INSERT INTO emp VALUES (21, 'new', 'eng', 10.5);
        UPDATE emp SET dept = 'ops' WHERE id < 21;
        UPDATE emp SET pay = id * 2 WHERE id % 2 = 0;
        UPDATE emp SET name = 'renamed' WHERE id = 3;""")
    wait_equal(source, target, ["emp"])
    assert target.psql("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                       "WHERE attrelid = 'emp'::regclass AND attname = 'pay'") == "numeric(10,2)"
    # A dropped source column stays in the target: rows inserted after the
    # drop get NULL there, rows updated keep their value (as the README says).
    source.psql("ALTER TABLE emp DROP COLUMN name; INSERT INTO emp VALUES (22, 'eng', 1); "
                "UPDATE emp SET pay = 0 WHERE id = 4")
    wait_for(lambda: target.psql("SELECT id, dept, pay FROM emp ORDER BY 1") ==
             source.psql("SELECT id, dept, pay FROM emp ORDER BY 1"), what="changes after DROP COLUMN")
    assert target.psql("SELECT name IS NULL FROM emp WHERE id = 22") == "t"
    assert target.psql("SELECT name FROM emp WHERE id = 4") == "n4"
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


HOSTILE = 'x"; DROP TABLE t; --'


def ident(name):
    return '"' + name.replace('"', '""') + '"'


def test_hostile_names_are_created_and_evolved_quoted(source, target, broker, streamer, sink):
    """Schema, table and column names that would end the statement if spliced
    unquoted: auto.create and auto.evolve make exactly those objects, and
    nothing else runs.  A type whose name is not a plain type name is never
    written into DDL: its table's events are dead letters."""
    schema, table, col, added = (ident(HOSTILE + sfx) for sfx in ("", " t", " c", " w"))
    qt = f"{schema}.{table}"
    ddl = f"""
        CREATE SCHEMA {schema};
        CREATE TABLE {qt} (id int PRIMARY KEY, {col} text, "Mixed Case" int);
        CREATE DOMAIN {ident(HOSTILE + " d")} AS int;
        CREATE TABLE odd (id int PRIMARY KEY, v {ident(HOSTILE + " d")});"""
    source.psql(ddl)
    target.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (42)")
    # No snapshot: a chunk read after the inserts would dead-letter odd's rows a second time.
    s = streamer(heartbeat_interval_ms="0", snapshot_mode="never").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    w = sink().start()
    source.psql(f"""
        INSERT INTO {qt} SELECT g, 'v' || g, g FROM generate_series(1, 10) g;
        UPDATE {qt} SET {col} = 'u' WHERE id <= 3;
        DELETE FROM {qt} WHERE id = 10;
        INSERT INTO odd VALUES (1, 1), (2, 2);""")
    wait_equal(source, target, [qt])
    source.psql(f"""
        ALTER TABLE {qt} ADD COLUMN {added} int;
        INSERT INTO {qt} VALUES (11, 'new', 11, 111);
        UPDATE {qt} SET {added} = id WHERE id < 5;""")
    wait_equal(source, target, [qt])
    columns = f"SELECT string_agg(attname, '|' ORDER BY attnum) FROM pg_attribute " \
              f"WHERE attrelid = '{qt.replace(chr(39), chr(39) * 2)}'::regclass AND attnum > 0 AND NOT attisdropped"
    assert target.psql(columns) == source.psql(columns) == f"id|{HOSTILE} c|Mixed Case|{HOSTILE} w"
    assert target.psql("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'x%'") == HOSTILE
    assert target.psql("SELECT * FROM t") == "42"
    wait_for(lambda: len(dead_letters(target)) == 2, what="odd's two rows in dead letters")
    assert all(f'type "public.{ident(HOSTILE + " d")}" does not exist in the target' in r
               for r in dead_letters(target)), dead_letters(target)
    assert target.psql("SELECT to_regclass('odd') IS NULL") == "t"
    assert w.stop() == 0 and s.stop() == 0


def test_map_soft_delete_truncate_ignore(source, target, broker, streamer, sink):
    source.psql("""
        CREATE TABLE orders (id int PRIMARY KEY, amount int);
        CREATE TABLE items (id int PRIMARY KEY, sku text);
        CREATE TABLE kept (id int PRIMARY KEY);""")
    target.psql("CREATE SCHEMA mirror; CREATE TABLE mirror.kept (id int PRIMARY KEY, extra text)")
    s = streamer(heartbeat_interval_ms="0").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    w = sink(delete_mode="soft", truncate_mode="ignore", target_schema="mirror",
             **{"table.map": "public.orders=analytics.fct_orders"}).start()
    source.psql("""
        INSERT INTO orders SELECT g, g * 10 FROM generate_series(1, 10) g;
        INSERT INTO items SELECT g, 's' || g FROM generate_series(1, 5) g;
        INSERT INTO kept VALUES (1), (2);
        DELETE FROM orders WHERE id IN (3, 4);
        UPDATE orders SET amount = 0 WHERE id = 5;
        DELETE FROM kept WHERE id = 2;
        TRUNCATE items;
        INSERT INTO items VALUES (6, 'after');""")
    live = "SELECT id, amount FROM analytics.fct_orders WHERE NOT __deleted ORDER BY 1"
    wait_for(lambda: query(target, live) == source.psql("SELECT * FROM orders ORDER BY 1"),
             what="orders in analytics.fct_orders")
    assert target.psql("SELECT id FROM analytics.fct_orders WHERE __deleted ORDER BY 1") == "3\n4"
    # truncate.mode ignore: the rows from before the TRUNCATE stay.
    wait_for(lambda: query(target, "SELECT id FROM mirror.items ORDER BY 1") == "1\n2\n3\n4\n5\n6",
             what="items in mirror.items")
    # An existing target table gains the soft-delete column (auto.evolve).
    wait_for(lambda: query(target, "SELECT id, __deleted FROM mirror.kept ORDER BY 1") == "1|f\n2|t",
             what="kept soft-deleted")
    assert target.psql("SELECT to_regclass('public.orders') IS NULL AND to_regclass('public.items') IS NULL") == "t"
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


def test_truncate_dead_letter(source, target, broker, streamer, sink):
    source.psql("CREATE TABLE t1 (id int PRIMARY KEY)")
    # No snapshot: one read after the truncate would rightly delete 1 to 5 by its range.
    s = streamer(heartbeat_interval_ms="0", snapshot_mode="never").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    w = sink(truncate_mode="dead-letter").start()
    source.psql("INSERT INTO t1 SELECT generate_series(1, 5); TRUNCATE t1; INSERT INTO t1 VALUES (9)")
    wait_for(lambda: query(target, "SELECT count(*) FROM t1") == "6", what="t1 applied")
    # One TRUNCATE, a copy on each of the topic's partitions: each a dead letter.
    wait_for(lambda: len(dead_letters(target)) == 4, what="the truncate's four copies as dead letters")
    assert set(dead_letters(target)) == {"truncate (truncate.mode is dead-letter)"}
    assert w.stop() == 0 and s.stop() == 0


def test_truncate_the_target_refuses(source, target, broker, streamer, sink):
    """A target table a foreign key points at cannot be truncated: each copy of
    the TRUNCATE is a dead letter, the changes after it are applied."""
    source.psql("CREATE TABLE parent (id int PRIMARY KEY)")
    target.psql("CREATE TABLE parent (id int PRIMARY KEY); "
                "CREATE TABLE child (pid int REFERENCES parent); ")
    s = streamer(heartbeat_interval_ms="0").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    w = sink().start()
    source.psql("INSERT INTO parent SELECT generate_series(1, 5)")
    wait_equal(source, target, ["parent"])
    source.psql("TRUNCATE parent; INSERT INTO parent VALUES (7)")
    wait_for(lambda: len(dead_letters(target)) == 4, what="the truncate's four copies as dead letters")
    assert set(dead_letters(target)) == {"truncate of public.parent rejected by the target"}
    wait_for(lambda: target.psql("SELECT string_agg(id::text, ',' ORDER BY id) FROM parent") == "1,2,3,4,5,7",
             what="the insert after the truncate")
    assert w.stop() == 0 and s.stop() == 0


# Each table's source key changes mid-stream, in the transaction that then
# writes 3,000 rows: a primary key dropped (REPLICA IDENTITY FULL after it),
# one added to a keyless table, a replica identity index on another column.
# Updates and deletes touch rows from before the change only, inserts add
# new keys: no change supersedes another, so none may be counted so.
KEY_CHANGES = {
    "a": ("id int PRIMARY KEY, v int",
          "ALTER TABLE a DROP CONSTRAINT a_pkey; ALTER TABLE a REPLICA IDENTITY FULL;"),
    "b": ("id int, v int", "ALTER TABLE b ADD PRIMARY KEY (id);"),
    "c": ("id int PRIMARY KEY, u int NOT NULL UNIQUE, v int",
          "ALTER TABLE c REPLICA IDENTITY USING INDEX c_u_key;"),
}


def test_source_key_changes_mid_stream(source, target, broker, streamer, sink):
    port = free_port()
    for t, (cols, _) in KEY_CHANGES.items():
        source.psql(f"CREATE TABLE {t} ({cols})")
    # No snapshot: its rows and the first inserts would supersede each other.
    s = streamer(heartbeat_interval_ms="0", snapshot_mode="never").start()
    w = sink(metrics_listen=f"127.0.0.1:{port}").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    for t, (cols, change) in KEY_CHANGES.items():
        u = ", g + 100000" if t == "c" else ""
        source.psql(f"INSERT INTO {t} SELECT g{u}, g FROM generate_series(1, 1000) g")
    wait_equal(source, target, list(KEY_CHANGES))
    for t, (cols, change) in KEY_CHANGES.items():
        u = ", g + 100000" if t == "c" else ""
        source.psql(f"""BEGIN; {change}
            INSERT INTO {t} SELECT g{u}, g FROM generate_series(1001, 3400) g;
            UPDATE {t} SET v = -v WHERE id <= 400;
            DELETE FROM {t} WHERE id > 800 AND id <= 1000;
            COMMIT""")
    wait_equal(source, target, list(KEY_CHANGES))
    assert dead_letters(target) == []
    assert (metric(port, 'walsink_skipped_total{reason="superseded"}') or 0) == 0
    # The target follows: b got its primary key, c a unique index on u (auto.evolve).
    assert target.psql("SELECT count(*) FROM pg_index WHERE indrelid = 'b'::regclass AND indisprimary") == "1"
    assert target.psql("SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                       "AND a.attnum = ANY (i.indkey) WHERE i.indrelid = 'c'::regclass AND i.indisunique "
                       "AND a.attname = 'u' AND i.indnatts = 1") == "1"
    assert w.stop() == 0 and s.stop() == 0


def test_source_key_changes_without_auto_evolve(source, target, broker, streamer, sink):
    """Without auto.evolve the target's key stays: the changes that need the
    new one are dead letters that say what changed; a keyless table's
    updates and deletes need REPLICA IDENTITY FULL."""
    source.psql("CREATE TABLE b (id int, v int); CREATE TABLE d (id int PRIMARY KEY, v int)")
    s = streamer(heartbeat_interval_ms="0").start()
    w = sink(auto_evolve="off").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    source.psql("INSERT INTO b SELECT g, g FROM generate_series(1, 10) g; "
                "INSERT INTO d SELECT g, g FROM generate_series(1, 10) g")
    wait_equal(source, target, ["b", "d"])
    source.psql("ALTER TABLE b ADD PRIMARY KEY (id); UPDATE b SET v = 0 WHERE id = 1;"
                "ALTER TABLE d DROP CONSTRAINT d_pkey; INSERT INTO d VALUES (11, 11), (12, 12);"
                "UPDATE d SET v = 0 WHERE id = 2")
    wait_for(lambda: len(dead_letters(target)) == 2, what="two dead letters")
    assert sorted(dead_letters(target)) == [
        'the source\'s key of public.b is ("id") (was none): the target has no primary key or unique '
        'index on it (auto.evolve is off)',
        "update without a key: public.d has no primary key or replica identity index, and no "
        "REPLICA IDENTITY FULL to match its old row by"]
    wait_for(lambda: target.psql("SELECT count(*) FROM d") == "12", what="d's inserts after the key went")
    assert target.psql("SELECT v FROM d WHERE id = 2") == "2"
    assert w.stop() == 0 and s.stop() == 0


ROUTING = {"topic_routing_regex": r"pgcdc\.public\.(orders)_[0-9]+",
           "topic_routing_replacement": "pgcdc.public.$1_all"}


def shards(source):
    source.psql("""
        CREATE TABLE orders_1 (id int PRIMARY KEY, amount int);
        CREATE TABLE orders_2 (id int PRIMARY KEY, amount int);
        CREATE TABLE other (id int PRIMARY KEY);
        INSERT INTO orders_1 SELECT g, g FROM generate_series(1, 30) g;
        INSERT INTO orders_2 SELECT g, -g FROM generate_series(1, 20) g;
        INSERT INTO other VALUES (1);""")


def test_routed_topics_merge_shards_and_walsink_applies_each_to_its_table(source, target, broker, streamer, sink):
    """topic.routing (Debezium's ByLogicalTableRouter): two shards' changes
    share one topic; walsink, given the same settings, applies each record
    to its own table."""
    shards(source)
    s = streamer(**ROUTING).start()
    w = sink(**ROUTING).start()
    source.psql("UPDATE orders_1 SET amount = amount + 100 WHERE id % 3 = 0; DELETE FROM orders_2 WHERE id > 15; "
                "INSERT INTO orders_2 VALUES (100, 7); TRUNCATE orders_1; INSERT INTO orders_1 VALUES (5, 5)")
    wait_equal(source, target, ["orders_1", "orders_2", "other"])
    topics = {t for t, _ in watermarks(broker.bootstrap)}
    assert "pgcdc.public.orders_all" in topics and "pgcdc.public.other" in topics
    assert not {"pgcdc.public.orders_1", "pgcdc.public.orders_2"} & topics
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


def test_a_routed_topic_read_without_the_routing_settings_is_dead_letters(source, target, broker, streamer, sink):
    """A record applies only to its topic's tables: a walsink not told of
    the routing takes the shared topic's records for forgeries."""
    shards(source)
    s = streamer(**ROUTING).start()
    wait_for(lambda: snapshot_done(source), what="the snapshot")
    w = sink(topics="pgcdc.public.orders_all").start()
    wait_for(lambda: target.psql("SELECT to_regclass('pgcdc.dead_letter') IS NOT NULL") == "t" and
             len(dead_letters(target)) >= 50, what="the shared topic's records as dead letters")
    assert all("not on its table's topic" in r for r in dead_letters(target))
    assert target.psql("SELECT count(*) FROM pg_tables WHERE tablename IN ('orders_1', 'orders_2')") == "0"
    assert w.stop() == 0 and s.stop() == 0


@pytest.mark.parametrize("plugin", ["pgcdc", "pgoutput"])
def test_partitions_stream_under_their_root(source, target, broker, streamer, sink, plugin):
    """publish.via.partition.root: a partitioned table's snapshot and
    changes are its root's (one topic, the root's columns and key), whichever
    partition holds a row, whatever the partition's own column order; a row
    moved to another partition is a delete and an insert of the root."""
    source.psql("""
        CREATE TABLE measure (id int, at date, v numeric, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE measure_2024 PARTITION OF measure FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE measure_2025 (v numeric, at date NOT NULL, id int NOT NULL);
        ALTER TABLE measure ATTACH PARTITION measure_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        INSERT INTO measure SELECT g, date '2024-01-01' + g, g FROM generate_series(1, 600) g;""")
    s = streamer(publish_via_partition_root="on", source_plugin=plugin).start()
    w = sink().start()
    wait_for(lambda: snapshot_done(source), what="the snapshot")
    source.psql("""
        UPDATE measure SET v = v * 10 WHERE id % 7 = 0;
        UPDATE measure SET at = at + 200 WHERE id BETWEEN 300 AND 320;
        DELETE FROM measure WHERE id % 11 = 0;
        INSERT INTO measure_2025 (id, at, v) VALUES (1000, '2025-06-01', 1);""")
    wait_equal(source, target, ["measure"])
    source.psql("TRUNCATE measure; INSERT INTO measure VALUES (1, '2024-02-02', 2), (2, '2025-02-02', 3)")
    wait_equal(source, target, ["measure"])
    topics = {t for t, _ in watermarks(broker.bootstrap) if t.startswith("pgcdc.public.")}
    assert topics == {"pgcdc.public.measure"}
    assert target.psql("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute "
                       "WHERE attrelid = 'measure'::regclass AND attnum > 0") == "id,at,v"
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0
