"""The column settings Debezium's users rely on (colpolicy.h): columns left
out, character columns masked with stars or a salted hash, another Kafka
key.  What is left out or masked never reaches Kafka: every byte of every
message (key, value, headers) is scanned for the clear values, in both
formats, through the snapshot and the stream, and through walsink into a
target, which never holds them either."""

import hashlib
import json
import subprocess

import pytest
from support import pgcdcwire
from support.binaries import WALSTREAMER
from support.checks import confirmed, dead_letters, lsn, snapshot_done, wait_for
from support.kafkaread import read_all

BIO = "BIO-SECRET-é😀-" + "0123456789" * 600      # TOASTed, non-ASCII (a surrogate pair in Java)
SECRETS = {
    "email": ["alice.secret@example.com", "bob.secret@example.com", "carol.secret@example.com",
              "dave.secret@example.com", "eve.changed@example.com"],
    "ssn": ["111-22-3333", "444-55-6666", "777-88-9999", "123-45-6789"],
    "card": ["4111111111111111", "5500000000000004", "340000000000009", "6011000000000004"],
    "note": ["private note of alice", "private note of bob", "private note of carol", "private note of dave"],
}
SETTINGS = {
    "column.exclude.list": r"public\.people\.note",
    "column.mask.with.8.chars": "public.people.card",
    "column.mask.hash.SHA-256.with.salt.s4lt": "public.people.email,public.people.bio",
    "column.mask.hash.v2.SHA-512.with.salt.pepper": r"public\.people\.ssn",
}


def keys(settings):
    return {k.replace(".", "_"): v for k, v in settings.items()}


def java_serialized(text):
    """A String as Java's ObjectOutputStream writes it (modified UTF-8)."""
    out = bytearray()
    for ch in text:
        cp = ord(ch)
        units = [cp] if cp < 0x10000 else [0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF)]
        for u in units:
            if u == 0:
                out += b"\xc0\x80"
            elif u < 0x80:
                out.append(u)
            elif u < 0x800:
                out += bytes([0xC0 | (u >> 6), 0x80 | (u & 0x3F)])
            else:
                out += bytes([0xE0 | (u >> 12), 0x80 | ((u >> 6) & 0x3F), 0x80 | (u & 0x3F)])
    head = b"\x74" + len(out).to_bytes(2, "big") if len(out) <= 0xFFFF else b"\x7c" + len(out).to_bytes(8, "big")
    return b"\xac\xed\x00\x05" + head + bytes(out)


def hash_v1(salt, text):
    return hashlib.sha256(salt.encode() + java_serialized(text)).hexdigest()


def ssn_mask(text):
    return hashlib.sha512(b"pepper" + text.encode()).hexdigest()[:11]


MASKED = {"card": lambda v: "********", "email": lambda v: hash_v1("s4lt", v),
          "bio": lambda v: hash_v1("s4lt", v), "ssn": ssn_mask}


def people(source):
    source.psql(f"""
        CREATE TABLE people (id int PRIMARY KEY, email text, ssn varchar(11), card char(16),
                             note text, bio text, age int);
        ALTER TABLE people REPLICA IDENTITY FULL, ALTER bio SET STORAGE EXTERNAL;
        INSERT INTO people VALUES
            (1, '{SECRETS["email"][0]}', '{SECRETS["ssn"][0]}', '{SECRETS["card"][0]}', '{SECRETS["note"][0]}',
             '{BIO}', 30),
            (2, '{SECRETS["email"][1]}', '{SECRETS["ssn"][1]}', '{SECRETS["card"][1]}', '{SECRETS["note"][1]}',
             NULL, 40),
            (3, '{SECRETS["email"][2]}', '{SECRETS["ssn"][2]}', '{SECRETS["card"][2]}', '{SECRETS["note"][2]}',
             'short bio', NULL);""")


def change_people(source):
    source.psql(f"""
        INSERT INTO people VALUES (4, '{SECRETS["email"][3]}', '{SECRETS["ssn"][3]}', '{SECRETS["card"][3]}',
                                   '{SECRETS["note"][3]}', NULL, 50);
        UPDATE people SET email = '{SECRETS["email"][4]}' WHERE id = 2;
        UPDATE people SET age = 31 WHERE id = 1;
        UPDATE people SET id = 5 WHERE id = 3;
        DELETE FROM people WHERE id = 4;""")


def clear_values():
    return [v.encode() for vs in SECRETS.values() for v in vs] + [BIO[:40].encode(), "BIO-SECRET".encode()]


def assert_nothing_clear(got):
    seen = 0
    for msgs in got.values():
        for m in msgs:
            seen += 1
            blob = b"".join([m.key or b"", m.value or b""] + [f"{k}={v}".encode() for k, v in m.headers.items()])
            for secret in clear_values():
                assert secret not in blob, f"{secret!r} reached Kafka in {m.topic} at offset {m.offset}"
    assert seen > 0


def run(source, streamer, **extra):
    s = streamer(**keys(SETTINGS), **extra).start()
    wait_for(lambda: snapshot_done(source), what="the snapshot")
    change_people(source)
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: (confirmed(source) or 0) >= end, what="the slot to pass the changes")
    assert "ERROR" not in s.text(), s.text()[-3000:]
    assert s.stop() == 0
    return s


def test_masked_and_left_out_values_never_reach_kafka_in_pgcdc_records(source, broker, streamer):
    people(source)
    run(source, streamer)
    got = read_all(broker.bootstrap, ranges=True)
    assert_nothing_clear(got)
    recs = [r for (t, _), ms in got.items() if t == "pgcdc.public.people" for r in (m.record() for m in ms)
            if r["op"] in ("read", "insert", "update", "delete")]
    assert {c["name"] for r in recs for c in r["columns"]} == {"id", "email", "ssn", "card", "bio", "age"}
    assert [c["key"] for c in recs[0]["columns"]] == [True, False, False, False, False, False]
    rows = {}
    for r in recs:
        for image in (r["row"], r["old"]):
            if image:
                rows.setdefault(image["id"], []).append(image)
    want = {1: (0, BIO), 2: (1, None), 3: (2, "short bio"), 4: (3, None)}
    for id_, (i, bio) in want.items():
        for image in rows[id_]:
            assert image["ssn"] == ssn_mask(SECRETS["ssn"][i]) and image["card"] == "********"
            assert image["bio"] in (None if bio is None else hash_v1("s4lt", bio), "unchanged-toast")
            assert image["email"] in (hash_v1("s4lt", SECRETS["email"][i]), hash_v1("s4lt", SECRETS["email"][4]))
    assert any(i["bio"] == "unchanged-toast" for i in rows[1]), "the unchanged TOASTed bio stays unchanged"


def test_masked_and_left_out_values_never_reach_kafka_in_debezium_json(source, broker, streamer):
    people(source)
    run(source, streamer, value_format="debezium-json", tombstones_on_delete="on")
    got = read_all(broker.bootstrap, prefix="pgcdc.")
    assert_nothing_clear(got)
    values = [json.loads(m.value) for (t, _), ms in got.items() if t == "pgcdc.public.people"
              for m in ms if m.value]
    fields = {f["field"]: f for f in values[0]["schema"]["fields"][0]["fields"]}
    assert list(fields) == ["id", "email", "ssn", "card", "bio", "age"]
    assert {f for f in fields if fields[f].get("parameters") == {"masked": "true"}} == {"email", "ssn", "card", "bio"}
    after = {v["payload"]["after"]["id"]: v["payload"]["after"] for v in values if v["payload"]["after"]}
    assert after[4]["card"] == "********" and after[4]["ssn"] == ssn_mask(SECRETS["ssn"][3])
    assert after[2]["email"] == hash_v1("s4lt", SECRETS["email"][4])
    assert after[5]["bio"] == hash_v1("s4lt", "short bio")


def test_the_target_never_holds_what_was_masked_or_left_out(source, target, broker, streamer, sink):
    people(source)
    s = streamer(**keys(SETTINGS)).start()
    w = sink().start()
    wait_for(lambda: snapshot_done(source), what="the snapshot")
    change_people(source)
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: (confirmed(source) or 0) >= end, what="the slot to pass the changes")
    want = [(1, hash_v1("s4lt", SECRETS["email"][0]), ssn_mask(SECRETS["ssn"][0]), "********",
             hash_v1("s4lt", BIO), "31"),
            (2, hash_v1("s4lt", SECRETS["email"][4]), ssn_mask(SECRETS["ssn"][1]), "********", "", "40"),
            (5, hash_v1("s4lt", SECRETS["email"][2]), ssn_mask(SECRETS["ssn"][2]), "********",
             hash_v1("s4lt", "short bio"), "")]
    query = "SELECT id, email, ssn, card::text, coalesce(bio, ''), coalesce(age::text, '') FROM people ORDER BY id"

    def rows():
        if target.psql("SELECT to_regclass('people') IS NOT NULL") != "t":
            return None
        return [tuple([int(x[0])] + x[1:]) for x in (line.split("|") for line in target.psql(query).splitlines())]
    try:
        wait_for(lambda: rows() == want, what="the target to hold the masked rows")
    finally:
        print("the target holds", rows())
    assert target.psql("SELECT count(*) FROM information_schema.columns "
                       "WHERE table_name = 'people' AND column_name = 'note'") == "0"
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0


@pytest.mark.parametrize("value_format", ["protobuf", "debezium-json"])
def test_message_key_columns_give_a_keyless_table_its_key(source, broker, streamer, value_format):
    source.psql("""
        CREATE TABLE events (n int, kind text, at int);
        ALTER TABLE events REPLICA IDENTITY FULL;
        INSERT INTO events VALUES (1, 'a', 10), (2, 'b', 20);""")
    s = streamer(message_key_columns="public.events:kind,n;public.other:x", value_format=value_format,
                 tombstones_on_delete="on").start()
    wait_for(lambda: snapshot_done(source), what="the snapshot")
    source.psql("INSERT INTO events VALUES (3, 'c', 30); UPDATE events SET at = 21 WHERE n = 2; "
                "UPDATE events SET kind = 'z' WHERE n = 1; DELETE FROM events WHERE n = 3")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: (confirmed(source) or 0) >= end, what="the slot to pass the changes")
    assert s.stop() == 0
    msgs = [m for (t, _), ms in read_all(broker.bootstrap).items() if t == "pgcdc.public.events" for m in ms]
    if value_format == "protobuf":
        got = [(pgcdcwire.key(m.key), m.headers.get("pgcdc.op")) for m in msgs if m.headers.get("pgcdc.op") != "g"]
        # In table column order: n, kind.  The records keep the table's own (no) key.
        assert all(not c["key"] for m in msgs if m.value for c in m.record()["columns"])
    else:
        # The snapshot's reset of a table without a key of its own: a truncate, keyless.
        assert [m.headers.get("pgcdc.op") for m in msgs if not m.key] == ["t"]
        got = [(tuple(json.loads(m.key)["payload"].values()), m.headers.get("pgcdc.op")) for m in msgs if m.key]
        assert [f["field"] for f in json.loads(next(m for m in msgs if m.key).key)["schema"]["fields"]] == \
            ["n", "kind"]
    # One partition, whatever the keys: the table has no key of its own.
    assert len({m.partition for m in msgs}) == 1
    assert sorted(got, key=repr) == sorted([
        ((1, "a"), "r"), ((2, "b"), "r"), ((3, "c"), "c"), ((2, "b"), "u"),
        # A key change: the old key's delete (and its tombstone), then the new key's.
        ((1, "a"), "u"), ((1, "a"), "u"), ((1, "z"), "u"), ((3, "c"), "d"), ((3, "c"), "d")], key=repr)


def refused(args, source, what):
    p = subprocess.run([WALSTREAMER, f"--source={source.dsn()}", "--kafka.bootstrap.servers=127.0.0.1:1"] + args,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and what in p.stderr, p.stderr


@pytest.mark.parametrize("args,what", [
    (["--column.include.list=a", "--column.exclude.list=b"], "cannot both be set"),
    (["--column.exclude.list=public.(x"], "is not a regular expression"),
    (["--column.mask.with.0.chars=public.t.x"], "column.mask.with.<N>.chars"),
    (["--column.mask.hash.SHA-999.with.salt.x=public.t.x"], "no hash algorithm \"SHA-999\""),
    (["--column.mask.foo=public.t.x"], "not a mask setting"),
    (["--message.key.columns=public.t"], "is not <table regex>:<column>"),
    (["--outbox.table=public.outbox", "--source.streaming=on"], "which outbox.table's events cannot mark"),
    (["--outbox.table=outbox"], "outbox.table \"outbox\" must be schema.table"),
])
def test_settings_that_are_not_valid_are_refused_at_start(source, args, what):
    refused(args, source, what)


@pytest.mark.parametrize("settings,what", [
    ({"column.exclude.list": "public.people.id"}, "public.people.id is a column of the table's key"),
    ({"column.mask.with.3.chars": "public.people.id"}, "cannot be masked"),
    ({"column.mask.with.3.chars": "public.people.age"}, "is of type integer: masks apply to character columns"),
    ({"message.key.columns": "public.people:nope"}, "table public.people has no column \"nope\""),
    ({"message.key.columns": "public.people:note", "column.exclude.list": "public.people.note"},
     "is left out by the column lists"),
])
def test_settings_that_cannot_hold_for_a_table_stop_walstreamer_before_it_sends(source, broker, streamer,
                                                                                settings, what):
    people(source)
    s = streamer(**keys(settings)).start()
    assert s.wait(timeout=60) != 0
    assert what in s.text(), s.text()[-2000:]
    assert "restarting" not in s.text()
    assert not any(ms for (t, _), ms in read_all(broker.bootstrap).items() if t == "pgcdc.public.people")


def test_outbox_events_in_either_format_from_the_snapshot_and_the_stream(source, broker, streamer):
    """outbox.table with value.format = protobuf: the outbox's rows are
    events as Debezium's EventRouter writes them (rows the snapshot reads
    too), the other tables' changes pgcdc's records; an update of the
    outbox is no event, and says so."""
    source.psql("""
        CREATE SCHEMA app;
        CREATE TABLE app.outbox (id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text,
                                 type text, payload jsonb);
        CREATE TABLE app.orders (id int PRIMARY KEY, total numeric);
        INSERT INTO app.outbox VALUES ('00000000-0000-0000-0000-000000000001', 'order', 'o-1', 'Created',
                                       '{"n": 1}');""")
    s = streamer(outbox_table="app.outbox", schemas_enable="off").start()
    wait_for(lambda: snapshot_done(source), what="the snapshot")
    source.psql("""
        BEGIN;
        INSERT INTO app.orders VALUES (1, 9.5);
        INSERT INTO app.outbox VALUES ('00000000-0000-0000-0000-000000000002', 'order', 'o-1', 'Paid', '{"n": 2}'),
                                      ('00000000-0000-0000-0000-000000000003', 'bad/name!', NULL, 'X', NULL);
        DELETE FROM app.outbox WHERE id <> '00000000-0000-0000-0000-000000000001';
        COMMIT;
        UPDATE app.outbox SET type = 'changed';""")
    end = lsn(source.psql("SELECT pg_current_wal_lsn()"))
    wait_for(lambda: (confirmed(source) or 0) >= end, what="the slot to pass the changes")
    assert s.stop() == 0
    got = {t: [(m.key, m.value, m.headers.get("id"), m.headers.get("pgcdc.op")) for m in ms]
           for (t, _), ms in read_all(broker.bootstrap, prefix="").items() if ms and not t.startswith("__")}
    assert got["outbox.event.order"] == [
        (b'"o-1"', b'"{\\"n\\": 1}"', "00000000-0000-0000-0000-000000000001", "r"),
        (b'"o-1"', b'"{\\"n\\": 2}"', "00000000-0000-0000-0000-000000000002", "c")]
    # A route value outside a topic name's characters: those made '_'; a NULL key and payload: JSON nulls.
    assert got["outbox.event.bad_name_"] == [(b"null", b"null", "00000000-0000-0000-0000-000000000003", "c")]
    assert "pgcdc.app.outbox" not in got
    assert [pgcdcwire.record(v)["row"]["id"] for _, v, _, _ in got["pgcdc.app.orders"]] == [1]
    assert "outbox.table app.outbox: an update at" in s.text() and "is no event" in s.text()
