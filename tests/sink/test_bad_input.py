"""Bad input never stops the stream: each kind lands in the dead-letter table
(and topic) with its reason, the good changes around it are applied, and
nothing else in the target changes.

Some bad records come from the source itself (a keyless table's update and
delete, a row the target's CHECK refuses, a row failing a validation rule);
the rest are forged from a real record and produced straight onto the
table's topic, between two rounds of good changes."""

import hashlib
import random
import re
import time
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition

from support import pgcdcwire
from support.checks import confirmed, lsn, metric, query, wait_for
from support.kafkaread import read_all, watermarks
from support.ports import free_port

INJECTION = b'x"; DROP TABLE t; --'
DEAD_TOPIC = "walsink_dead_letters"


# 63 bytes: the longest name PostgreSQL keeps.
LONG_NAME = b"t" * 63


def topic_of(schema, table, prefix="pgcdc"):
    """walstreamer's topic of a table (daemon/topicname.c)."""
    return re.sub(rb"[^A-Za-z0-9._-]", b"_", b"%s.%s.%s" % (prefix.encode(), schema, table))[:249].decode()


def columns_of(items):
    """The column names of a record's fields, in order."""
    return [dict((n, v) for n, _, v in pgcdcwire.fields(c))[1].decode()
            for num, _, c in items if num == 16]


def replace_nth(items, field, index, value):
    """items with the index-th occurrence of field's value replaced."""
    out, seen = [], 0
    for num, wire, v in items:
        if num == field:
            if seen == index:
                v = value
            seen += 1
        out.append((num, wire, v))
    return out


def forge(insert, delete):
    """[(kind, expected reason fragment, value)]: the bad records to inject.
    insert and delete are real acct records (relation fields first)."""
    ins = pgcdcwire.fields(insert)
    cols = columns_of(ins)
    value = lambda num, wire, v: pgcdcwire.pack([(num, wire, v)])  # noqa: E731
    renamed = []
    for num, wire, v in ins:
        if num == 16:
            col = pgcdcwire.fields(v)
            if col[0][2] == b"note":
                v = pgcdcwire.pack([(1, 2, b'note"; DROP TABLE t; --')] + col[1:])
        renamed.append((num, wire, v))
    # A text value for the integer column, under a key of its own.
    wrong_type = replace_nth(ins, 13, cols.index("v"), value(11, 2, b"abc"))
    wrong_type = replace_nth(wrong_type, 13, cols.index("id"), value(4, 0, 2 * 1009))
    return [
        ("random bytes", "undecodable value", random.Random(7).randbytes(300)),
        ("empty value", "empty value", b""),
        ("truncated record", "undecodable value: not a pgcdc ChangeEvent: field 16 at byte",
         insert[:len(insert) // 2]),
        ("wrong wire type", "undecodable value: not a pgcdc ChangeEvent: ChangeEvent.schema (field 9) "
         "has wire type 0 at byte",
         pgcdcwire.pack([(n, 0, 5) if n == 9 else (n, w, v) for n, w, v in ins])),
        ("oversized value", "oversized value", insert + pgcdcwire.pack([(99, 2, b"x" * 100000)])),
        ("unknown version", "record version 99", insert + pgcdcwire.pack([(1, 0, 99)])),
        ("unknown table", "table public.ghost does not exist in the target (auto.create is off)",
         insert + pgcdcwire.pack([(10, 2, b"ghost")])),
        ("injected table name", 'table public.x"; DROP TABLE t; -- does not exist',
         insert + pgcdcwire.pack([(10, 2, INJECTION)])),
        # Before a record whose table cannot be prepared, in the same batch:
        # that failure must not cost this row its (reloaded) table.
        ("wrong value type", "rejected by the target", pgcdcwire.pack(wrong_type)),
        ("injected column name", 'column "note"; DROP TABLE t; --" is not in',
         pgcdcwire.pack(renamed)),
        ("invalid UTF-8 table name", "table name is not valid UTF-8",
         insert + pgcdcwire.pack([(10, 2, b"\xff\xfebad")])),
        ("overlong table name", "table name is longer than 63 bytes",
         insert + pgcdcwire.pack([(10, 2, LONG_NAME + b"t")])),
        # PostgreSQL would cut the name to the 63 bytes of another table, and truncate it.
        ("overlong truncated table", "TRUNCATE: a table name is longer than 63 bytes",
         pgcdcwire.pack([(1, 0, 1), (2, 0, 6),
                         (17, 2, pgcdcwire.pack([(1, 2, b"public"), (2, 2, LONG_NAME + b"t")]))])),
        ("delete without key values", "delete without the old key's values",
         pgcdcwire.pack([(n, w, v) for n, w, v in pgcdcwire.fields(delete) if n != 12])),
    ]


def test_bad_input_goes_to_dead_letters(source, target, broker, streamer, sink):
    source.psql("""
        CREATE TABLE acct (id int PRIMARY KEY, v int, note text);
        CREATE TABLE nokey (a int, b int);""")
    target.psql("""
        CREATE TABLE acct (id int PRIMARY KEY, v int CONSTRAINT v_small CHECK (v < 1000000), note text);
        CREATE TABLE nokey (a int, b int);
        CREATE TABLE t (x int); INSERT INTO t VALUES (42);
        CREATE TABLE %s (x int); INSERT INTO %s VALUES (63);""" % (LONG_NAME.decode(), LONG_NAME.decode()))
    port = free_port()
    # No snapshot: it would read the round below, a keyless table's rows with it, in one piece.
    s = streamer(heartbeat_interval_ms="0", snapshot_mode="never").start()
    keys = {"auto.create": "off", "auto.evolve": "off", "max.value.bytes": "65536",
            "dead.letter.topic": DEAD_TOPIC, "rule.public.acct.goodnote": "note IS NULL OR note NOT LIKE 'bad%'"}
    w = sink(metrics_listen=f"127.0.0.1:{port}", **keys).start()

    # Round 1, once the slot exists: good changes, and the source's own bad ones.
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    source.psql("""
        INSERT INTO acct SELECT g, g, 'n' || g FROM generate_series(1, 8) g;
        DELETE FROM acct WHERE id = 8;
        INSERT INTO nokey VALUES (1, 1), (2, 2);
        UPDATE nokey SET b = 20 WHERE a = 2;
        DELETE FROM nokey WHERE a = 1;
        INSERT INTO acct VALUES (50, 5000000, 'too big for the target');
        INSERT INTO acct VALUES (52, 1, 'bad note');""")
    source.psql("INSERT INTO acct VALUES (9, 9, 'last of round 1')")
    expected = "SELECT * FROM acct WHERE v < 1000000 AND (note IS NULL OR note NOT LIKE 'bad%') ORDER BY 1"
    wait_for(lambda: target.psql("SELECT count(*) FROM acct WHERE id = 9") == "1", what="round 1 applied")

    # Templates: the insert of row 9 (the last message of its partition) and a delete.
    msgs = [m for ms in read_all(broker.bootstrap, prefix="pgcdc.public.acct").values() for m in ms]
    last = next(m for m in msgs if m.record()["op"] == "insert" and m.record()["row"]["id"] == 9)
    delete = next(m for m in msgs if m.record()["op"] == "delete")
    rec = last.record()
    bad = forge(last.value, delete.value)
    # Each bad record followed by a good one (a new row), all in one burst:
    # the good rows around the bad ones are applied.  A record of another
    # table goes on that table's topic, or it is refused for that alone.
    own_topic = {"unknown table": topic_of(b"public", b"ghost"),
                 "injected table name": topic_of(b"public", INJECTION)}
    ins = pgcdcwire.fields(last.value)
    cols = columns_of(ins)
    good_ids = [3000 + i for i in range(len(bad))]
    p = Producer({"bootstrap.servers": broker.bootstrap})
    # A tombstone (null value), as Debezium writes after a delete: passed
    # over, not a dead letter.
    p.produce("pgcdc.public.acct", value=None, key=b"forged", partition=last.partition)
    for i, (kind, _, value) in enumerate(bad):
        # Positions after row 9's, in order: admitted, never "already applied".
        value = value + pgcdcwire.pack([(3, 0, rec["commit_lsn"]), (5, 0, 1000 + 2 * i)]) \
            if kind not in ("oversized value", "empty value", "truncated record") else value
        p.produce(own_topic.get(kind, "pgcdc.public.acct"), value=value, key=b"forged", partition=last.partition)
        good = replace_nth(ins, 13, cols.index("id"), pgcdcwire.pack([(4, 0, 2 * good_ids[i])]))
        good = replace_nth(good, 13, cols.index("note"), pgcdcwire.pack([(11, 2, b"forged")]))
        good = pgcdcwire.pack(good) + pgcdcwire.pack([(3, 0, rec["commit_lsn"]), (5, 0, 1001 + 2 * i)])
        p.produce("pgcdc.public.acct", value=good, key=b"forged", partition=last.partition)
    assert p.flush(30) == 0
    del p
    # All of them dead letters before round 2, so that no later change of acct
    # in the same batch reloads the table behind "injected column name".
    wait_for(lambda: target.psql("SELECT count(*) FROM pgcdc.dead_letter") == str(len(bad) + 4),
             what="the forged records in dead letters")
    assert target.psql("SELECT count(*) FROM pgcdc.dead_letter WHERE value IS NULL") == "0"
    assert target.psql("SELECT string_agg(id || ':' || note, ',' ORDER BY id) FROM acct WHERE id >= 3000") == \
        ",".join(f"{i}:forged" for i in good_ids)
    # The source gets the same rows, so that both sides end equal.
    source.psql(f"INSERT INTO acct SELECT g, 9, 'forged' FROM unnest(ARRAY{good_ids}) g")

    # Round 2: good changes after the forged records, on every partition.
    source.psql("""
        INSERT INTO acct SELECT g, g, 'n' || g FROM generate_series(10, 30) g;
        UPDATE acct SET v = v + 100 WHERE id % 3 = 0;
        DELETE FROM acct WHERE id IN (2, 12);""")
    wait_for(lambda: target.psql("SELECT * FROM acct ORDER BY 1") == source.psql(expected),
             what="round 2 applied")

    # A detail is never empty here: psql's output is stripped, and a last row
    # ending in "| " would lose its separator.
    reasons = target.psql("SELECT reason || ' | ' || coalesce(nullif(detail, ''), '-') "
                          "FROM pgcdc.dead_letter ORDER BY id")
    reasons = reasons.splitlines()
    want = [fragment for _, fragment, _ in bad] + [
        "update without a key", "delete without a key",
        "rejected by the target", 'validation rule "goodnote" failed']
    missing = list(reasons)
    for fragment in want:
        hit = next((r for r in missing if fragment in r), None)
        assert hit is not None, f"no dead letter for {fragment!r}; dead letters: {reasons}"
        missing.remove(hit)
    assert missing == [], f"unexpected dead letters: {missing}"
    assert any("v_small" in r for r in reasons), reasons
    assert any('invalid input syntax for type integer: "abc"' in r for r in reasons), reasons
    # The dead letters keep the original bytes and where they came from.
    assert target.psql("SELECT count(*) FROM pgcdc.dead_letter WHERE value = ''::bytea") == "1"
    assert target.psql("SELECT count(*) FROM pgcdc.dead_letter WHERE topic IN "
                       "('pgcdc.public.acct', 'pgcdc.public.nokey', '%s', '%s') AND \"offset\" >= 0 "
                       "AND partition >= 0" % tuple(own_topic.values())) == str(len(want))

    # Nothing else changed: acct as the source minus what was refused, nokey
    # without the keyless update and delete, t untouched, no table created.
    assert target.psql("SELECT * FROM acct ORDER BY 1") == source.psql(expected)
    assert target.psql("SELECT * FROM nokey ORDER BY 1") == "1|1\n2|2"
    assert target.psql("SELECT * FROM t") == "42"
    assert target.psql(f"SELECT * FROM {LONG_NAME.decode()}") == "63"
    assert target.psql("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class "
                       "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'") == \
        "acct,nokey,t," + LONG_NAME.decode()
    wait_for(lambda: metric(port, "walsink_dead_letters_total") == len(want),
             what=f"{len(want)} dead letters in the metrics")

    # The dead-letter topic has each of them, with the reason and origin.
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "dl-reader",
                  "enable.auto.commit": False, "fetch.message.max.bytes": 10485760})
    got = []
    try:
        md = c.list_topics(DEAD_TOPIC, timeout=10).topics[DEAD_TOPIC]
        c.assign([TopicPartition(DEAD_TOPIC, p, 0) for p in md.partitions])
        deadline = time.monotonic() + 30
        while len(got) < len(want) and time.monotonic() < deadline:
            got += [m for m in c.consume(100, 0.5) if not m.error()]
    finally:
        c.close()
    headers = [dict(m.headers()) for m in got]
    assert len(got) == len(want)
    assert sorted(h["pgcdc.dl.reason"].decode() for h in headers) == \
        sorted(r.split(" | ")[0] for r in reasons)
    assert sorted(h["pgcdc.dl.topic"] for h in headers) == \
        sorted(t.encode() for t in target.psql("SELECT topic FROM pgcdc.dead_letter").splitlines())
    assert sorted(m.value() or b"" for m in got) == \
        sorted(bytes.fromhex(v[2:]) for v in target.psql("SELECT value FROM pgcdc.dead_letter").splitlines())
    assert w.stop() == 0

    # Everything consumed again from offset 0 (the stored offsets rewound, the
    # source positions kept): the bad records are in dead letters already and
    # the rest is at or behind the positions, so nothing in the target
    # changes, no dead letter is added, and each message counts as skipped
    # (or ignored: BEGIN, COMMIT).
    state = {t: target.psql(f"SELECT * FROM {t} ORDER BY 1") for t in ("acct", "nokey")}
    dead = target.psql("SELECT * FROM pgcdc.dead_letter ORDER BY id")
    messages = int(target.psql('SELECT sum("offset" + 1) FROM pgcdc.sink_position'))
    target.psql('UPDATE pgcdc.sink_position SET "offset" = -1')
    port = free_port()
    w = sink(metrics_listen=f"127.0.0.1:{port}", **keys).start()
    seen = lambda: (metric(port, "walsink_skipped_total") or 0) + \
        (metric(port, "walsink_ignored_total") or 0)  # noqa: E731
    wait_for(lambda: seen() >= messages, what=f"all {messages} messages consumed again")
    assert seen() == messages
    # Bad records that never had a position to skip by are known by their dead letter.
    assert 0 < metric(port, 'walsink_skipped_total{reason="dead_letter"}') <= len(want)
    assert (metric(port, "walsink_dead_letters_total") or 0) == 0
    assert (metric(port, "walsink_applied_total") or 0) == 0
    assert "already a dead letter" in w.text()
    assert {t: target.psql(f"SELECT * FROM {t} ORDER BY 1") for t in ("acct", "nokey")} == state
    assert target.psql("SELECT * FROM pgcdc.dead_letter ORDER BY id") == dead
    assert w.stop() == 0 and s.stop() == 0
    assert sum(watermarks(broker.bootstrap, [DEAD_TOPIC]).values()) == len(want)


HUGE_LSN = 0xFFFFFFFF00000000


def test_a_record_decides_nothing_outside_its_table(source, target, broker, streamer, sink):
    """Records forged onto consumed topics (any Kafka client with write
    access can) reach only the table of the topic they are on, never
    walsink's own tables or the system's; a dead letter never moves the
    stored position, so the genuine changes after them are applied."""
    source.psql("CREATE TABLE acct (id int PRIMARY KEY, v int); CREATE TABLE other (id int PRIMARY KEY, v int)")
    target.psql("CREATE TABLE acct (id int PRIMARY KEY, v int); CREATE TABLE other (id int PRIMARY KEY, v int);"
                "INSERT INTO other VALUES (1, 1)")
    # No snapshot: it would make the target's other equal to the source's (empty).
    s = streamer(heartbeat_interval_ms="0", snapshot_mode="never").start()
    w = sink(dead_letter_topic=DEAD_TOPIC).start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    source.psql("INSERT INTO acct SELECT g, g FROM generate_series(1, 20) g")
    wait_for(lambda: target.psql("SELECT count(*) FROM acct") == "20", what="round 1 applied")

    msgs = [m for ms in read_all(broker.bootstrap, prefix="pgcdc.public.acct").values() for m in ms]
    last = max((m for m in msgs if m.record()["op"] == "insert"), key=lambda m: m.record()["row"]["id"])
    ins = pgcdcwire.fields(last.value)
    huge = pgcdcwire.pack([(3, 0, HUGE_LSN), (5, 0, 1)])

    def renamed(schema, table):
        return pgcdcwire.pack([(n, w, schema if n == 9 else table if n == 10 else v) for n, w, v in ins]) + huge

    def truncate(schema, table):
        return pgcdcwire.pack([(1, 0, 1), (2, 0, 6), (3, 0, HUGE_LSN), (5, 0, 1),
                               (17, 2, pgcdcwire.pack([(1, 2, schema), (2, 2, table)]))])

    # (topic, value, expected reason fragment): each lands on a partition of
    # acct's topic that genuine changes use, or on a topic an attacker made.
    forged = [
        ("pgcdc.public.acct", truncate(b"pgcdc", b"sink_position"), "names none of its tables"),
        (topic_of(b"pgcdc", b"sink_position"), truncate(b"pgcdc", b"sink_position"),
         "target pgcdc.sink_position is walsink's own schema"),
        (topic_of(b"pgcdc", b"sink_truncate"), renamed(b"pgcdc", b"sink_truncate"),
         "target pgcdc.sink_truncate is walsink's own schema"),
        (topic_of(b"pgcdc", b"dead_letter"), renamed(b"pgcdc", b"dead_letter"),
         "target pgcdc.dead_letter is walsink's own schema"),
        (topic_of(b"pg_catalog", b"pg_authid"), renamed(b"pg_catalog", b"pg_authid"),
         "target pg_catalog.pg_authid is a system schema"),
        (topic_of(b"information_schema", b"sql_features"), truncate(b"information_schema", b"sql_features"),
         "target information_schema.sql_features is a system schema"),
        ("pgcdc.public.acct", renamed(b"public", b"other"), "change of public.other on topic pgcdc.public.acct"),
        ("pgcdc.public.acct", truncate(b"public", b"other"), "names none of its tables"),
    ]
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for topic, value, _ in forged:
        for partition in range(4):
            p.produce(topic, value=value, key=b"forged", partition=partition)
    assert p.flush(30) == 0
    del p
    want = [why for _, _, why in forged for _ in range(4)]
    wait_for(lambda: int(target.psql("SELECT count(*) FROM pgcdc.dead_letter")) >= len(want),
             timeout=90, what="the forged records in dead letters")

    # Genuine changes after them, on every partition: all applied.
    source.psql("INSERT INTO acct SELECT g, g FROM generate_series(21, 60) g; UPDATE acct SET v = -v WHERE id % 2 = 0")
    wait_for(lambda: target.psql("SELECT * FROM acct ORDER BY 1") == source.psql("SELECT * FROM acct ORDER BY 1"),
             what="the genuine changes after the forged ones")

    reasons = target.psql("SELECT reason FROM pgcdc.dead_letter ORDER BY id").splitlines()
    missing = list(reasons)
    for fragment in want:
        hit = next((r for r in missing if fragment in r), None)
        assert hit is not None, f"no dead letter for {fragment!r}; dead letters: {reasons}"
        missing.remove(hit)
    assert missing == [], f"unexpected dead letters: {missing}"
    # Bookkeeping and everything else untouched; no position at the forged LSN.
    assert target.psql("SELECT count(*) FROM pgcdc.sink_truncate") == "0"
    assert target.psql("SELECT count(*) FROM pgcdc.sink_position WHERE commit_lsn >= 'FFFFFFFF/0'") == "0"
    assert target.psql("SELECT topic, partition, commit_lsn FROM pgcdc.sink_position "
                       "WHERE topic <> 'pgcdc.public.acct' AND commit_lsn IS NOT NULL") == ""
    assert target.psql("SELECT count(*) FROM pgcdc.sink_position WHERE topic = 'pgcdc.public.acct' "
                       "AND commit_lsn IS NOT NULL") != "0"
    assert target.psql("SELECT * FROM other") == "1|1"
    assert target.psql("SELECT count(*) FROM pg_authid WHERE rolname = 'postgres'") == "1"
    # auto.create (on by default) made nothing anywhere.
    assert target.psql("SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c "
                       "WHERE c.relkind = 'r' AND c.relnamespace IN ('pgcdc'::regnamespace, "
                       "'public'::regnamespace)") == \
        "acct,dead_letter,other,sink_key_move,sink_position,sink_snapshot_range,sink_truncate"
    assert target.psql("SELECT count(*) FROM pg_class WHERE relname IN ('pg_authid', 'sql_features')") == "2"
    assert w.stop() == 0 and s.stop() == 0


def test_oversized_changes_are_dead_letters(source, target, broker, streamer, sink):
    """Changes larger than Kafka takes, end to end, with walstreamer's default
    oversized.mode: a 2 MB row in the initial snapshot and one streamed
    (above the producer's message.max.bytes, 1,000,000), and a 256 kB row on
    a topic whose max.message.bytes is 100,000 (refused by the broker; met as
    oversized after walstreamer's restart).  Each becomes exactly one dead
    letter naming the table, the key, the size and the limit, with the
    change's position; the slot moves past them; every other row is applied
    once: the target is the source less those three rows."""
    big = "repeat('x', 2097152)"
    source.psql(f"""
        CREATE TABLE t (id int PRIMARY KEY, v text);
        CREATE TABLE u (id int PRIMARY KEY, v text);
        INSERT INTO t SELECT g, 'snap' FROM generate_series(1, 5) g;
        INSERT INTO t VALUES (6, {big});
        INSERT INTO t SELECT g, 'snap' FROM generate_series(7, 10) g;""")
    broker.create_topic("pgcdc.public.u", 4, config={"max.message.bytes": "100000"})
    s = streamer(reconnect_backoff_max_ms="1000").start()
    w = sink().start()
    wait_for(lambda: "snapshot complete" in s.text(), timeout=90, what="the snapshot")

    wal = lambda: lsn(source.psql("SELECT pg_current_wal_lsn()"))  # noqa: E731
    source.psql("INSERT INTO t SELECT g, 'streamed' FROM generate_series(11, 15) g")
    source.psql(f"INSERT INTO t VALUES (16, {big})")
    source.psql("INSERT INTO t SELECT g, 'streamed' FROM generate_series(17, 20) g")
    mid = wal()
    # Confirmed before the restart below: it resends none of t's stand-ins.
    wait_for(lambda: confirmed(source) >= mid, what="the slot to pass the streamed 2 MB row")
    source.psql("INSERT INTO u SELECT g, 'small' FROM generate_series(1, 10) g")
    source.psql("INSERT INTO u VALUES (11, repeat('y', 256000))")
    source.psql("INSERT INTO u SELECT g, 'after' FROM generate_series(12, 20) g")
    source.psql("UPDATE t SET v = 'updated' WHERE id IN (2, 12)")
    end = wal()
    wait_for(lambda: confirmed(source) >= end, timeout=90, what="the slot to pass the 256 kB row")
    assert s.running() and "restarting from the slot" in s.text()

    expected = {"t": "SELECT * FROM t WHERE id NOT IN (6, 16) ORDER BY 1",
                "u": "SELECT * FROM u WHERE id <> 11 ORDER BY 1"}
    for table, sql in expected.items():
        wait_for(lambda: target.psql(f"SELECT count(*) FROM {table}") == source.psql(
            f"SELECT count(*) FROM ({sql}) x") and target.psql(sql) == source.psql(sql),
            what=f"{table} applied")
    dead = target.psql("SELECT topic, commit_lsn, reason FROM pgcdc.dead_letter ORDER BY commit_lsn, id")
    rows = [line.split("|", 2) for line in dead.splitlines()]
    want = [("pgcdc.public.t", "2,09", "1,000,000", "message.max.bytes", "public.t (id)=(6)"),
            ("pgcdc.public.t", "2,09", "1,000,000", "message.max.bytes", "public.t (id)=(16)"),
            ("pgcdc.public.u", "256,", "100,000", "max.message.bytes", "public.u (id)=(11)")]
    assert len(rows) == len(want), dead
    for (topic, _, reason), (t, size, limit, name, row) in zip(rows, want):
        assert topic == t and re.fullmatch(
            rf"change of {size}[\d,]+ bytes above Kafka's limit of {limit} \({name}\): not applied; "
            rf"resync {re.escape(row)}", reason), (topic, reason)
    positions = [lsn(p) for _, p, _ in rows]
    assert positions[0] < positions[1] <= mid < positions[2] <= end, (positions, mid, end)
    assert w.stop() == 0 and s.stop() == 0


def test_forged_values_are_dead_letters(source, target, broker, streamer, sink):
    """Values PostgreSQL has no form for (a negative time crashed walsink
    once), forged onto a table's topic between good rows: each a dead letter
    naming the column and the value, the good rows applied, walsink running."""
    source.psql("CREATE TABLE tv (id int PRIMARY KEY, t time, d date, ts timestamptz, n numeric)")
    target.psql("CREATE TABLE tv (id int PRIMARY KEY, t time, d date, ts timestamptz, n numeric)")
    # No snapshot: a chunk placed after row 1 would put the forged positions behind it.
    s = streamer(heartbeat_interval_ms="0", snapshot_mode="never").start()
    w = sink(auto_create="off").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    source.psql("INSERT INTO tv VALUES (1, '12:00', '2020-01-01', '2020-01-01 00:00+00', 1.5)")
    wait_for(lambda: target.psql("SELECT count(*) FROM tv") == "1", what="row 1")
    msgs = [m for ms in read_all(broker.bootstrap, prefix="pgcdc.public.tv").values() for m in ms]
    ins = next(m for m in msgs if m.record()["op"] == "insert")
    rec = ins.record()
    items = pgcdcwire.fields(ins.value)
    cols = [dict((n, v) for n, _, v in pgcdcwire.fields(c))[1].decode() for num, _, c in items if num == 16]

    def with_value(col, value, row_id, seq):
        out, seen = [], 0
        for num, wire, v in items:
            if num == 13:
                if seen == cols.index(col):
                    v = value
                elif seen == cols.index("id"):
                    v = pgcdcwire.pack([(4, 0, 2 * row_id)])
                seen += 1
            out.append((num, wire, v))
        return pgcdcwire.pack(out) + pgcdcwire.pack([(3, 0, rec["commit_lsn"]), (5, 0, seq)])

    u64 = lambda v: v & (2**64 - 1)  # noqa: E731
    forged = [("t", pgcdcwire.pack([(9, 0, u64(-3661000001))]), "time value -3661000001"),
              ("t", pgcdcwire.pack([(9, 0, u64(-1))]), "time value -1"),
              ("t", pgcdcwire.pack([(9, 0, u64(-2**63))]), "time value -9223372036854775808"),
              ("d", pgcdcwire.pack([(8, 0, 2**32 - 1)]), "date value -2147483648"),
              ("ts", pgcdcwire.pack([(7, 0, 2**64 - 1)]), "timestamp value -9223372036854775808"),
              ("ts", pgcdcwire.pack([(10, 0, 3)]), "infinity of unknown sign 3"),
              ("n", pgcdcwire.pack([(6, 2, b"1e5")]), "not a decimal number")]
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i, (col, value, _) in enumerate(forged):
        p.produce("pgcdc.public.tv", value=with_value(col, value, 100 + i, 1000 + 2 * i), partition=ins.partition)
        p.produce("pgcdc.public.tv", value=with_value("t", pgcdcwire.pack([(9, 0, 0)]), 200 + i, 1001 + 2 * i),
                  partition=ins.partition)
    assert p.flush(30) == 0
    wait_for(lambda: target.psql("SELECT count(*) FROM pgcdc.dead_letter") == str(len(forged)),
             what="dead letters")
    wait_for(lambda: target.psql("SELECT count(*) FROM tv") == str(1 + len(forged)), what="good rows")
    reasons = target.psql("SELECT reason FROM pgcdc.dead_letter ORDER BY id").splitlines()
    for (_, _, want), got in zip(forged, reasons):
        assert want in got, (want, got)
    assert w.stop() == 0 and s.stop() == 0


def test_a_huge_dead_letter_is_kept_in_part(target, broker, sink):
    """A dead letter keeps 512 KiB of its value, in the table and on the
    dead-letter topic (which takes 1 MB by default), with its size: a forged
    3 MB message neither stops walsink nor costs more."""
    broker.create_topic("pgcdc.public.big", partitions=1, config={"max.message.bytes": "4000000"})
    w = sink(dead_letter_topic=DEAD_TOPIC).start()
    value = random.Random(11).randbytes(3 * 1024 * 1024)
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 4000000})
    p.produce("pgcdc.public.big", value=value, key=b"k")
    assert p.flush(30) == 0
    wait_for(lambda: query(target, "SELECT count(*) FROM pgcdc.dead_letter") == "1", what="the dead letter")
    assert target.psql("SELECT value_bytes, length(value), md5(value) FROM pgcdc.dead_letter") == \
        f"{len(value)}|524288|{hashlib.md5(value[:512 * 1024]).hexdigest()}"
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "dl-reader", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(DEAD_TOPIC, p, 0) for p in c.list_topics(DEAD_TOPIC, timeout=10)
                  .topics[DEAD_TOPIC].partitions])
        got = wait_for(lambda: [m for m in c.consume(10, 0.5) if not m.error()], what="the dead-letter message")
    finally:
        c.close()
    assert got[0].value() == value[:512 * 1024]
    assert dict(got[0].headers())["pgcdc.dl.value_bytes"] == str(len(value)).encode()
    assert w.stop() == 0
