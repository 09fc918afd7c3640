"""Every operation, the snapshot and truncates arrive in the target; a
replay from offset 0 changes nothing and is counted as skipped."""

import re

from confluent_kafka import Consumer, Producer
import psycopg2
import pytest

from support import pgcdcwire
from support.checks import confirmed, dead_letters, lsn, metric, query, wait_equal, wait_for
from support.kafkaread import read_all
from support.ports import free_port


def test_mixed_workload_and_snapshot(source, target, broker, streamer, sink):
    source.psql("""
        CREATE TABLE emp (id int PRIMARY KEY, name text NOT NULL, salary numeric(12,2),
                          born date, seen timestamptz, tags text[], doc jsonb, pic bytea,
                          u uuid, ok boolean, f float8);
        CREATE TABLE big (id int PRIMARY KEY, payload text, n int);
        ALTER TABLE big ALTER payload SET STORAGE EXTERNAL;
        -- A two-column key, text and negative or large integers.
        CREATE TABLE pair (region text, n bigint, v int, PRIMARY KEY (region, n));
        INSERT INTO pair SELECT r, n, 0 FROM unnest(ARRAY['north', 'south', '']) r,
            unnest(ARRAY[-9223372036854775808, -5, -1, 0, 1, 5, 1099511627776]) n;
        INSERT INTO emp SELECT g, 'n' || g, g * 1.5, date '2000-01-01' + g,
            timestamptz '2020-01-01 00:00:00.123456+00' + g * interval '1 hour', ARRAY['a', 'b\\tc'],
            jsonb_build_object('k', g), '\\x00ff'::bytea, gen_random_uuid(), g % 2 = 0, g / 3.0
            FROM generate_series(1, 50) g;
        INSERT INTO big SELECT g, repeat(md5(g::text), 300), 0 FROM generate_series(1, 5) g;""")
    s = streamer(heartbeat_interval_ms="0").start()
    w = sink().start()
    wait_equal(source, target, ["emp", "big", "pair"])
    # A row the source is about to insert, already in the target: the insert
    # of its batch conflicts and becomes an upsert, the rows with it applied too.
    target.psql("INSERT INTO emp (id, name) VALUES (305, 'already here')")
    source.psql("""
        INSERT INTO emp SELECT g, 'new ' || g FROM generate_series(300, 310) g;
        INSERT INTO emp VALUES (100, 'tab\\there', -1, '0044-03-15 BC', '-infinity', '{}', 'null',
            '', NULL, NULL, 'NaN');
        UPDATE emp SET salary = salary + 1 WHERE id <= 10;
        UPDATE emp SET id = id + 1000 WHERE id BETWEEN 11 AND 15;
        DELETE FROM emp WHERE id BETWEEN 20 AND 25;
        UPDATE big SET n = n + 1;
        BEGIN; INSERT INTO emp VALUES (200, 'x'); UPDATE emp SET name = 'y' WHERE id = 200;
               DELETE FROM emp WHERE id = 200; INSERT INTO emp VALUES (200, 'z'); COMMIT;
        BEGIN; UPDATE pair SET v = v + 1 WHERE n < 0; UPDATE pair SET v = v + 10 WHERE n <= 0;
               UPDATE pair SET region = 'east' WHERE region = 'north' AND n > 0;
               DELETE FROM pair WHERE region = '' AND n = -5; INSERT INTO pair VALUES ('', -5, 7);
               UPDATE pair SET n = n + 100 WHERE region = 'south' AND n IN (1, 5); COMMIT;""")
    wait_equal(source, target, ["emp", "big", "pair"])
    source.psql("TRUNCATE big; INSERT INTO big VALUES (7, 'after', 1)")
    wait_equal(source, target, ["emp", "big", "pair"])
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


def test_values_of_every_kind_in_binary_and_in_text(source, target, broker, streamer, sink):
    """Rows whose columns all have a binary form are copied in binary (the
    target's log shows it), inserted and staged alike; a value without one
    (a numeric infinity) sends its statement in text.  Either way the target
    holds exactly what the source does."""
    target.psql("ALTER SYSTEM SET log_statement = 'all'")
    target.psql("SELECT pg_reload_conf()")
    source.psql(r"""
        CREATE TABLE kinds (id int PRIMARY KEY, i2 smallint, i8 bigint, n numeric, n2 numeric(20,4),
            t text, vc varchar(10), c char(5), j json, jb jsonb, b bytea, u uuid, ok boolean,
            f4 real, f8 float8, d date, ts timestamp, tz timestamptz);
        INSERT INTO kinds VALUES
          (1, -32768, -9223372036854775808, 0, 1.23456, 'tab\there', 'x', 'ab', '{"a": [1, 2.50]}',
           '{"b": null, "a": "\u00e9"}', '\x00ff5c', gen_random_uuid(), true, 0.1, 0.1,
           '0044-03-15 BC', '0044-03-15 12:00:00.5 BC', '2024-02-29 23:59:59.999999+05:30'),
          (2, 32767, 9223372036854775807, -0.5, -99999, E'new\nline \\ back', '', '', '[]', '[]',
           '', gen_random_uuid(), false, 'NaN', 'NaN', 'infinity', 'infinity', '-infinity'),
          (3, 0, 0, 123456789012345678901234567890.000000000000000001, 0.0001, 'ünïcödé 🎉', 'yz', 'abcde',
           'null', '1.5', '\x5c6e', NULL, NULL, '-Infinity', '-0', '-infinity', '-infinity', 'infinity'),
          (4, NULL, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 3.4e38, 1e-300,
           '1999-12-31', '1999-12-31 23:59:59.999999', '2000-01-01 00:00:00+00'),
          (5, 7, 7, 0.00000000000000000001, 9999.9999, '', 'a', 'a', '{}', '{}', '\x', gen_random_uuid(),
           true, 1e-45, 5e-324, '1970-01-01', '1970-01-01 00:00:00', '1969-12-31 23:59:59.999999+00'),
          (6, 1, 10000, 10000, 100000000, 'six', 'six', 'six', '6', '6', '\x06', gen_random_uuid(),
           true, 6, 6, '2000-01-01', '2000-01-01 00:00:00', '1900-01-01 00:00:00+00');""")
    s = streamer(heartbeat_interval_ms="0").start()
    w = sink().start()
    wait_equal(source, target, ["kinds"])
    source.psql("""
        INSERT INTO kinds (id, n, t, tz, d, b) VALUES (9, 9.99, 'nine', now(), current_date, '\x09'), (10, -1, '', NULL, NULL, NULL);
        UPDATE kinds SET n = n * 3, f4 = f4 * 2, tz = tz + interval '1 day', t = t || '!' WHERE id IN (1, 5, 6);
        DELETE FROM kinds WHERE id = 2;""")
    wait_equal(source, target, ["kinds"])
    # Values without a binary form: a timestamp past year 294246 comes as
    # text, and numerics may be infinite.
    source.psql("UPDATE kinds SET d = '4713-11-24 BC', ts = '294276-12-31 23:59:59.999999' WHERE id = 4")
    source.psql("INSERT INTO kinds (id, n) VALUES (7, 'Infinity'), (8, 1)")
    wait_equal(source, target, ["kinds"])
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0
    # A COPY may follow the statements sent ahead of it (BEGIN; SAVEPOINT ...; COPY ...).
    copies = [line for line in open(target.logfile) if re.search(r"statement: (.*; )?COPY", line)]
    binary = [line for line in copies if "FORMAT binary" in line]
    assert any("pgcdc_stage" not in line for line in binary), copies
    assert any("pgcdc_stage" in line for line in binary), copies
    assert len(binary) < len(copies), copies
    # The binary COPY that met the infinity was abandoned, its rows sent again in text.
    assert any("binary COPY cannot carry" in line for line in open(target.logfile))


def test_statements_travel_together(source, target, broker, streamer, sink):
    """BEGIN and the savepoint go with the batch's next statement (a COPY, or
    one with parameters), and the release, the positions and COMMIT as one
    pipeline: none of them is a round trip of its own (a batch of inserts
    takes three: COPY, its data, the pipeline)."""
    target.psql("ALTER SYSTEM SET log_statement = 'all'")
    target.psql("ALTER SYSTEM SET log_line_prefix = '%a|'")
    target.psql("SELECT pg_reload_conf()")
    source.psql("CREATE TABLE t (id int PRIMARY KEY, v text)")
    s = streamer(heartbeat_interval_ms="0").start()
    w = sink(target=target.dsn() + " application_name=together").start()
    source.psql("INSERT INTO t VALUES (0, 'first')")
    wait_equal(source, target, ["t"])      # the table is created and prepared
    mark = len(open(target.logfile).readlines())
    for i in range(3):
        source.psql(f"INSERT INTO t SELECT g, 'v' || g FROM generate_series({i * 1000 + 1}, {i * 1000 + 1000}) g")
        wait_equal(source, target, ["t"])
    assert w.stop() == 0 and s.stop() == 0
    lines = [line.split("|", 1)[1].strip() for line in open(target.logfile).readlines()[mark:]
             if line.startswith("together|") and ("statement: " in line or "execute " in line)]
    simple = [line.split("statement: ", 1)[1] for line in lines if "statement: " in line]
    pipelined = [line.split(": ", 2)[2] for line in lines if "execute " in line]
    alone = {"BEGIN", "SAVEPOINT pgcdc_rows", "RELEASE SAVEPOINT pgcdc_rows", "COMMIT"}
    assert not alone & set(simple), simple
    # The batches' only simple queries: their COPYs, the savepoint (and BEGIN, unless a
    # statement with parameters took it along earlier) in front.
    copies = [q for q in simple if re.match(r"(BEGIN; )?SAVEPOINT pgcdc_rows; COPY ", q)]
    assert copies and copies == simple, simple
    commits = [k for k, q in enumerate(pipelined) if q == "COMMIT"]
    assert len(commits) >= len(copies), pipelined
    assert all(pipelined[k - 1].startswith("INSERT INTO pgcdc.sink_position") for k in commits), pipelined
    assert sum(q.startswith("RELEASE SAVEPOINT pgcdc_rows") for q in pipelined) == len(copies), pipelined


def test_unchanged_toast_after_a_change_in_the_same_batch(source, target, broker, streamer, sink):
    """Changes that set a TOASTed column, then an update leaving it unchanged,
    applied in one batch: the value set survives (only the key's last change
    is written, and it says "unchanged")."""
    source.psql("""
        CREATE TABLE doc (id int PRIMARY KEY, body text, n int);
        ALTER TABLE doc ALTER body SET STORAGE EXTERNAL;
        INSERT INTO doc SELECT g, repeat(md5(g::text), 100), 0 FROM generate_series(1, 3) g;""")
    s = streamer(heartbeat_interval_ms="0").start()
    # Batches gather for a second: one transaction's changes make one.
    w = sink(batch_max_ms="1000").start()
    wait_equal(source, target, ["doc"])
    # Each row's body set, then an update that leaves it alone (as unchanged TOAST).
    source.psql("""
        UPDATE doc SET body = repeat(md5('new' || id), 100) WHERE id = 1;
        INSERT INTO doc VALUES (4, repeat(md5('four'), 100), 0);
        UPDATE doc SET body = repeat(md5('x' || id), 100) WHERE id = 2;
        UPDATE doc SET body = repeat(md5('y' || id), 100) WHERE id = 2;
        UPDATE doc SET n = n + 1;
        UPDATE doc SET n = n + 1 WHERE id = 4;""")
    wait_equal(source, target, ["doc"])
    assert w.stop() == 0 and s.stop() == 0


def test_an_update_of_a_row_the_target_lacks_inserts_it(source, target, broker, streamer, sink):
    """Updates are applied by UPDATE; a row the target does not have (deleted
    there by hand, say) is inserted instead, in the same batch as updates of
    rows it has."""
    source.psql("""
        CREATE TABLE t (id int PRIMARY KEY, name text, n int);
        INSERT INTO t SELECT g, 'r' || g, 0 FROM generate_series(1, 6) g;""")
    s = streamer(heartbeat_interval_ms="0").start()
    # Batches gather for a second: one transaction's changes make one.
    w = sink(batch_max_ms="1000").start()
    wait_equal(source, target, ["t"])
    target.psql("DELETE FROM t WHERE id IN (2, 5)")
    source.psql("UPDATE t SET n = n + 1")
    wait_equal(source, target, ["t"])
    target.psql("DELETE FROM t")
    source.psql("UPDATE t SET n = n + 1, name = 'again' WHERE id <= 3")
    wait_for(lambda: query(target, "SELECT count(*) FROM t") == "3", what="rows 1-3 inserted")
    assert target.psql("SELECT * FROM t ORDER BY id") == source.psql("SELECT * FROM t WHERE id <= 3 ORDER BY id")
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


def test_the_last_change_of_a_key_decides_the_rest_count_as_superseded(source, target, broker, streamer,
                                                                          sink):
    """Within a batch only the last change per key is written: ten rows each
    inserted and updated three times in one transaction are ten rows
    applied, and thirty changes skipped as superseded."""
    source.psql("CREATE TABLE kv (k int PRIMARY KEY, v int)")
    port = free_port()
    # No snapshot: a chunk read after the transaction would add its own ten rows.
    s = streamer(heartbeat_interval_ms="0", snapshot_mode="never").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    # Batches gather for a second: one transaction's changes make one.
    w = sink(batch_max_ms="1000", metrics_listen=f"127.0.0.1:{port}").start()
    source.psql("""
        BEGIN;
        INSERT INTO kv SELECT g, 0 FROM generate_series(1, 10) g;
        UPDATE kv SET v = v + 1; UPDATE kv SET v = v + 1; UPDATE kv SET v = v * 10;
        COMMIT;""")
    wait_equal(source, target, ["kv"])
    assert target.psql("SELECT DISTINCT v FROM kv") == "20"
    wait_for(lambda: metric(port, "walsink_applied_total") == 10, what="ten rows applied")
    assert metric(port, 'walsink_skipped_total{reason="superseded"}') == 30
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


def test_a_split_batch_writes_each_row_once(source, target, broker, streamer, sink):
    """A batch the target rejects is applied in halves.  Rows of a half that
    went in are not written again with a later half's statements: one that
    left its TOASTed body unchanged would lose it."""
    source.psql("""
        CREATE TABLE doc (id int PRIMARY KEY, body text, n int);
        ALTER TABLE doc ALTER body SET STORAGE EXTERNAL;
        INSERT INTO doc SELECT g, repeat(md5(g::text), 100), 0 FROM generate_series(1, 8) g;""")
    target.psql("CREATE TABLE doc (id int PRIMARY KEY, body text, n int CHECK (n < 1000))")
    s = streamer(heartbeat_interval_ms="0").start()
    # Batches gather for a second: one transaction's changes make one.
    w = sink(batch_max_ms="1000").start()
    wait_equal(source, target, ["doc"])
    # One batch, by key: bodies unchanged and changed, in turn; row 8 refused.
    source.psql("""
        UPDATE doc SET n = 1 WHERE id IN (1, 3, 6);
        UPDATE doc SET body = repeat('x', 5000), n = 2 WHERE id IN (2, 4, 5);
        UPDATE doc SET n = 5000 WHERE id = 8;""")
    wait_for(lambda: dead_letters(target) != [], what="row 8 in dead letters")
    assert w.stop() == 0 and s.stop() == 0
    assert dead_letters(target) == ["rejected by the target"]
    rows = "SELECT * FROM doc WHERE id <> 8 ORDER BY id"
    assert target.psql(rows) == source.psql(rows)
    assert target.psql("SELECT n FROM doc WHERE id = 8") == "0"


def test_a_rule_sees_the_columns_an_update_left_unchanged(source, target, broker, streamer, sink):
    """A validation rule over a TOASTed column judges an update that left it
    unchanged by the value the row keeps, not by NULL."""
    source.psql("""
        CREATE TABLE doc (id int PRIMARY KEY, body text, n int);
        ALTER TABLE doc ALTER body SET STORAGE EXTERNAL;
        INSERT INTO doc SELECT g, repeat(md5(g::text), 100), 0 FROM generate_series(1, 4) g;
        INSERT INTO doc VALUES (5, 'short', 0);""")
    s = streamer(heartbeat_interval_ms="0").start()
    w = sink(**{"rule.public.doc.long": "length(body) > 100"}).start()
    rows = "SELECT * FROM doc WHERE id <> 5 ORDER BY id"
    wait_for(lambda: query(target, "SELECT count(*) FROM pgcdc.dead_letter") == "1", what="row 5 refused")
    source.psql("UPDATE doc SET n = n + 1")
    source.psql("INSERT INTO doc VALUES (6, repeat('x', 200), 0)")
    wait_for(lambda: "6|" in target.psql("SELECT * FROM doc"), what="row 6")
    assert target.psql(rows) == source.psql(rows)
    assert dead_letters(target) == ['validation rule "long" failed'] * 2
    assert w.stop() == 0 and s.stop() == 0


def test_replay_from_zero_changes_nothing(source, target, broker, streamer, sink, tmp_path):
    port = free_port()
    source.psql("CREATE TABLE kv (k int PRIMARY KEY, v int)")
    s = streamer(heartbeat_interval_ms="0").start()
    w = sink().start()
    for i in range(20):
        source.psql(f"INSERT INTO kv VALUES ({i}, 0) ON CONFLICT (k) DO UPDATE SET v = kv.v + 1")
        source.psql(f"UPDATE kv SET v = v + 10 WHERE k = {i % 5}")
    wait_equal(source, target, ["kv"])
    assert w.stop() == 0
    before = target.psql("SELECT * FROM kv ORDER BY k")
    # Rewind only the stored offsets: the stored source positions stay, so
    # every event read again is at or behind them and must be skipped.  How
    # many there are comes from the topics: changes made before the streamer's
    # snapshot was taken arrive folded into one snapshot row each.
    messages = int(target.psql('SELECT sum("offset" + 1) FROM pgcdc.sink_position'))
    target.psql("UPDATE pgcdc.sink_position SET \"offset\" = -1")
    w2 = sink(metrics_listen=f"127.0.0.1:{port}").start()
    assert messages >= 20
    wait_for(lambda: (metric(port, "walsink_skipped_total") or 0) >= messages,
             what=f"all {messages} replayed changes counted as skipped")
    assert metric(port, "walsink_skipped_total") == messages
    assert metric(port, 'walsink_skipped_total{reason="applied"}') == messages
    assert (metric(port, "walsink_applied_total") or 0) == 0
    assert target.psql("SELECT * FROM kv ORDER BY k") == before
    assert w2.stop() == 0 and s.stop() == 0


def test_tombstones_on_delete(source, target, broker, streamer, sink):
    """tombstones.on.delete = on with pgcdc's own format: after each delete,
    and after the old key's copy of a key change, a null value under that
    key, so that a compacted topic forgets it; walsink passes over them and
    the target equals the source."""
    source.psql("CREATE TABLE t (id int PRIMARY KEY, v text); "
                "INSERT INTO t SELECT g, 'v' FROM generate_series(1, 20) g")
    streamer(tombstones_on_delete="on").start()
    sink().start()
    wait_equal(source, target, ["t"])
    source.psql("DELETE FROM t WHERE id <= 5; UPDATE t SET id = 106 WHERE id = 6")
    wait_equal(source, target, ["t"])
    tombstones, forgotten = 0, set()
    for ms in read_all(broker.bootstrap, prefix="pgcdc.public.t").values():
        for prev, m in zip(ms, ms[1:]):
            if m.value is None:
                tombstones += 1
                assert m.key == prev.key and (prev.headers["pgcdc.op"] == "d" or
                                              prev.headers.get("pgcdc.key") == "old"), prev.headers
                forgotten.add(pgcdcwire.key(m.key)[0])
    assert tombstones == 6 and forgotten == {1, 2, 3, 4, 5, 6}, (tombstones, forgotten)


@pytest.mark.devbroker
def test_key_change_keeps_unchanged_toast(source, target, broker, streamer, sink):
    """An update that changes the key and leaves a TOASTed column alone:
    under its new key the row keeps the value.  Alone; in one batch with the
    old key's earlier changes; and when the new key's copy is consumed long
    before the old key's (another partition, far behind: the dev broker
    delays the old key's broker)."""
    source.psql("""
        CREATE TABLE doc (id int PRIMARY KEY, body text, n int);
        ALTER TABLE doc ALTER body SET STORAGE EXTERNAL;
        INSERT INTO doc SELECT g, repeat(md5(g::text), 100), 0 FROM generate_series(1, 40) g;""")
    # The table as earlier builds made it: tombstones need image nullable,
    # and walsink changes that at start.
    target.psql("""
        CREATE SCHEMA pgcdc;
        CREATE TABLE pgcdc.sink_key_move (group_id text NOT NULL, topic text NOT NULL,
            commit_lsn pg_lsn NOT NULL, seq bigint NOT NULL, image bytea NOT NULL,
            created timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (group_id, topic, commit_lsn, seq));""")
    port = free_port()
    s = streamer(heartbeat_interval_ms="0").start()
    # Batches gather for a second: one transaction's changes make one.
    w = sink(batch_max_ms="1000").start()
    wait_equal(source, target, ["doc"])
    source.psql("UPDATE doc SET id = id + 100 WHERE id = 1")
    wait_equal(source, target, ["doc"])

    # One batch: the old key's body set just before; a key changed twice; an
    # old key taken again; the new key updated after.
    source.psql("""
        UPDATE doc SET body = repeat('b', 5000) WHERE id = 2;
        UPDATE doc SET id = 202 WHERE id = 2;
        UPDATE doc SET id = 203 WHERE id = 3;
        UPDATE doc SET id = 303 WHERE id = 203;
        INSERT INTO doc VALUES (3, repeat('c', 5000), 1);
        UPDATE doc SET n = 7 WHERE id = 303;""")
    wait_equal(source, target, ["doc"])
    assert w.stop() == 0

    # Far behind: thousands of changes of the old key before its copy, on a
    # partition the new key does not share, led by a broker the new key's
    # does not share and that answers each fetch 5 ms late; one message per
    # record batch, small fetches (a few records: hundreds of round trips for
    # the old key's partition) and small batches, so the new key's copy comes
    # first.
    where = {pgcdcwire.key(m.key)[0]: m.partition
             for ms in read_all(broker.bootstrap, prefix="pgcdc.public.doc").values() for m in ms}
    # The old key's partition led by a broker of its own (the dev broker
    # spreads leaders at random, and once put them all on one).
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "leaders"})
    parts = c.list_topics("pgcdc.public.doc", timeout=10).topics["pgcdc.public.doc"].partitions
    c.close()
    old = 10
    leader = {p: 1 if p == where[old] else 2 for p in parts}
    for p, b in leader.items():
        broker.command(f"leader pgcdc.public.doc {p} {b}")
    new = next((k for k in range(11, 41) if where[k] != where[old]), None)
    assert new is not None, where
    assert s.stop() == 0
    s = streamer(heartbeat_interval_ms="0", **{"kafka.batch.num.messages": "1", "kafka.linger.ms": "0"}).start()
    source.psql(f"""
        DELETE FROM doc WHERE id = {new};
        UPDATE doc SET body = repeat('L', 5000) WHERE id = {old};
        DO $$ BEGIN FOR i IN 1..2000 LOOP UPDATE doc SET n = n + 1 WHERE id = {old}; END LOOP; END $$;
        UPDATE doc SET id = {new} WHERE id = {old};""")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: confirmed(source) >= end, what="the changes in Kafka")
    broker.command(f"rtt {leader[where[old]]} 5")
    w = sink(batch_max_rows="100", metrics_listen=f"127.0.0.1:{port}",
             **{"kafka.max.partition.fetch.bytes": "2000"}).start()
    wait_equal(source, target, ["doc"])
    broker.command(f"rtt {leader[where[old]]} 0")
    assert metric(port, "walsink_key_change_holds_total") >= 1
    assert dead_letters(target) == []
    assert target.psql("SELECT count(*) FROM pgcdc.sink_key_move") == "0"
    assert w.stop() == 0

    # A new key's copy whose old key's copy never comes (forged: a position no
    # change had): after key.change.wait.ms it is a dead letter, and the
    # changes behind it on its partition are applied.
    def copy_of(role, key):
        return [m for ms in read_all(broker.bootstrap, prefix="pgcdc.public.doc").values() for m in ms
                if m.headers.get("pgcdc.key") == role and pgcdcwire.key(m.key) == (key,)][-1]

    def resend(m, at):
        """m again, at source position (at, 1)."""
        p = Producer({"bootstrap.servers": broker.bootstrap})
        p.produce("pgcdc.public.doc", value=m.value + pgcdcwire.pack([(3, 0, at), (5, 0, 1)]), key=m.key,
                  partition=m.partition, headers=[(k, v.encode()) for k, v in m.headers.items()])
        assert p.flush(30) == 0

    w = sink(key_change_wait_ms="2000").start()
    at = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    resend(copy_of("new", new), at)
    same = next(k for k in range(11, 41) if where[k] == where[new] and k != new)
    wait_for(lambda: dead_letters(target) != [], timeout=30, what="the forged copy in dead letters")
    source.psql(f"UPDATE doc SET n = 99 WHERE id = {same}")
    wait_equal(source, target, ["doc"])
    assert len(dead_letters(target)) == 1 and "old key" in dead_letters(target)[0]
    assert target.psql("SELECT count(*) FROM pgcdc.sink_key_move WHERE image IS NULL") == "1"

    # Its old key's copy, coming after all (forged alike: a delete of a key no
    # row has), meets the tombstone the dead letter left, so the values it
    # hands on are not kept for a copy that will never come.
    resend(copy_of("old", old), at)
    behind = next(k for k in range(11, 41) if where[k] == where[old] and k != new)
    source.psql(f"UPDATE doc SET n = 98 WHERE id = {behind}")
    wait_equal(source, target, ["doc"])
    assert target.psql("SELECT count(*) FROM pgcdc.sink_key_move") == "0"
    assert len(dead_letters(target)) == 1

    # The same when the tombstone is written by another walsink of the group
    # (here a session standing in for it) in a transaction still open while
    # this one stores the values: it waits for that transaction, then
    # removes the tombstone.
    at = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    other = psycopg2.connect(target.dsn())
    other.cursor().execute(
        "INSERT INTO pgcdc.sink_key_move (group_id, topic, commit_lsn, seq, image) "
        "SELECT DISTINCT group_id, 'pgcdc.public.doc', %s::pg_lsn, 1, NULL::bytea FROM pgcdc.sink_position",
        (f"{at >> 32:X}/{at & 0xFFFFFFFF:X}",))
    resend(copy_of("old", old), at)
    wait_for(lambda: target.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                 "AND state = 'active'") == "1",
             what="walsink storing the values, waiting for the other transaction")
    other.commit()
    other.close()
    source.psql(f"UPDATE doc SET n = 97 WHERE id = {behind}")
    wait_equal(source, target, ["doc"])
    assert target.psql("SELECT count(*) FROM pgcdc.sink_key_move") == "0"
    assert len(dead_letters(target)) == 1
    assert w.stop() == 0 and s.stop() == 0
