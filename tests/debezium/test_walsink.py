"""walsink applying Debezium's own messages (fixtures/, recorded by
record.py from the real connector): the fixture topics produced to a real
Kafka broker as Debezium wrote them (keys, values, headers, in order), and
walsink with input.format = debezium-json applies them to a target that
has the tables setup.sql makes (empty).  The target then equals what
setup.sql and changes.sql leave in a fresh PostgreSQL, every column of
every type; replayed from the start, nothing changes."""

import json
import os
import subprocess
import time

import pytest
from confluent_kafka import Producer

from support.checks import dead_letters, wait_equal, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")

# The tables compared: all that setup.sql makes but the partitioned one's root
# (its leaves hold its rows).
TABLES = ["types", "full_ident", "pair", "keyless", "keyless_full", "doc", "doc_full",
          "measure_2024", "measure_2025", "scratch"]


def psql_file(cluster, name):
    subprocess.run([cluster.install.prog("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                    "-d", cluster.dsn(), "-f", os.path.join(HERE, name)], check=True,
                   stdout=subprocess.DEVNULL)


def produce_fixture(bootstrap, variant):
    """Every recorded message of the variant, on partition 0 of its topic, in order."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    n = 0
    with open(os.path.join(FIXTURES, f"{variant}.jsonl")) as f:
        for line in f:
            m = json.loads(line)
            p.produce(m["topic"], key=m["key"] and m["key"].encode(),
                      value=m["value"] and m["value"].encode(), partition=0,
                      headers=[(k, v.encode()) for k, v in m["headers"]])
            n += 1
    assert p.flush(60) == 0
    return n


# What Debezium's messages cannot carry, which the comparison allows for:
# timetz comes in UTC (the offset written is lost: compared at UTC); an
# interval comes as µs with a month as 30.4375 days (compared as the µs
# Debezium wrote); its snapshot reads a BC date as the AD one
# (tests/debezium/README.md).
TYPES = """SELECT id, c_bool, c_int2, c_int4, c_int8, c_float4, c_float8, c_numeric, c_num_10_2,
    c_num_5_0, c_money, c_char, c_varchar, c_text, c_bytea, c_uuid, c_json, c_jsonb, c_xml,
    CASE WHEN id = 2 AND %(snapshot_bc)s THEN to_char(c_date, 'YYYY-MM-DD')::date - 'epoch'::date
    ELSE c_date - 'epoch'::date END,
    %(time)s, c_time3, c_timetz AT TIME ZONE 'UTC', %(ts)s, c_ts3, c_tstz, %(interval)s,
    c_int_arr, c_text_arr, c_mood, c_posint, c_email, c_hstore, c_inet, c_cidr, c_macaddr, c_bit,
    c_varbit, c_point, c_int4range, c_tstzrange FROM types ORDER BY id"""

# Debezium's µs of each interval of the types table (its MicroDuration, default mode).
INTERVAL_US = """CASE c_interval WHEN '1 year 2 mons 3 days 04:05:06.789' THEN 37091106789000
    WHEN '-178000000 years' THEN -9223372036854775808 END"""


def types_rows(cluster, source_side, variant="schemas"):
    connect = variant == "modes"    # time.precision.mode = connect: ms; interval.handling.mode = string: exact
    return cluster.psql(TYPES % {
        # The source's row 2 date is BC; the snapshot Debezium took wrote it as the AD date's days.
        "snapshot_bc": "true" if source_side else "false",
        "interval": "c_interval" if connect else INTERVAL_US if source_side else
        "round(extract(epoch FROM c_interval) * 1000000)::bigint",
        "time": "to_char(c_time, 'HH24:MI:SS.MS')" if connect else "c_time",
        "ts": "CASE WHEN isfinite(c_ts) THEN date_trunc('milliseconds', c_ts) ELSE c_ts END" if connect else "c_ts"})


def wait_applied(source, target, variant, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        try:
            want, got = types_rows(source, True, variant), types_rows(target, False, variant)
            wait_equal(source, target, [t for t in TABLES if t != "types"], timeout=1)
            if want == got:
                return
        except (AssertionError, subprocess.CalledProcessError):
            pass
        if time.monotonic() > deadline:
            assert dead_letters(target) == []
            for line_w, line_g in zip(want.splitlines(), got.splitlines()):
                assert line_g == line_w
            wait_equal(source, target, [t for t in TABLES if t != "types"], timeout=1)
            assert got == want
        time.sleep(0.5)


def sink_settings(variant):
    """What walsink is told of a variant: modes' binary.handling.mode, routing's topic.routing."""
    if variant == "modes":
        return {"binary_handling_mode": "hex"}
    if variant == "routing":
        dbz = json.load(open(os.path.join(FIXTURES, "manifest.json")))["variants"]["routing"]
        return {"topic_routing_regex": dbz["transforms.Reroute.topic.regex"],
                "topic_routing_replacement": dbz["transforms.Reroute.topic.replacement"]}
    return {}


# modes: Debezium's other type modes (decimal string, time connect, binary hex,
# hstore map, interval string): walsink told its binary.handling.mode.
# routing: two tables' topics merged by Debezium's ByLogicalTableRouter.
@pytest.mark.parametrize("variant", ["schemas", "plain", "modes", "routing"])
def test_debezium_topics_applied_to_the_target(source, target, broker, sink, variant):
    # The expected state, and the target's empty tables of the same definitions.
    psql_file(source, "setup.sql")
    psql_file(source, "changes.sql")
    psql_file(target, "setup.sql")
    target.psql("TRUNCATE " + ", ".join(TABLES) + ", measure")
    produce_fixture(broker.bootstrap, variant)
    hex_bytes = sink_settings(variant)
    w = sink(topic_prefix=variant, input_format="debezium-json", **hex_bytes).start()
    wait_applied(source, target, variant)
    assert dead_letters(target) == []
    assert w.stop() == 0
    # Debezium's at-least-once: after a crash it sends again what Kafka had
    # not acknowledged to it, at new offsets.  Here all of it, the worst
    # case: every change at or behind the positions applied.  Tables with a
    # key stay as they are; a table without one may get its last change
    # (at the very position applied) once more, and nothing else.
    n = produce_fixture(broker.bootstrap, variant)
    data = sum(1 for line in open(os.path.join(FIXTURES, f"{variant}.jsonl"))
               if json.loads(line)["topic"].startswith(variant + "."))
    w = sink(topic_prefix=variant, input_format="debezium-json", **hex_bytes).start()
    wait_for(lambda: target.psql('SELECT sum("offset" + 1) FROM pgcdc.sink_position') == str(2 * data),
             what="the messages sent again consumed")
    assert w.stop() == 0 and n > data
    assert dead_letters(target) == []
    wait_equal(source, target, [t for t in TABLES if t != "types" and not t.startswith("keyless")], timeout=5)
    assert types_rows(source, True, variant) == types_rows(target, False, variant)
    for t, last in (("keyless", "(3,c)"), ("keyless_full", "(3,c)")):
        want = sorted(source.psql(f"SELECT ({t}.*)::text FROM {t}").splitlines())
        got = sorted(target.psql(f"SELECT ({t}.*)::text FROM {t}").splitlines())
        extra = list(got)
        for row in want:
            extra.remove(row)
        assert set(extra) <= {last}, (t, extra)


def test_walstreamer_to_walsink_in_debezium_json_exactly_once(source, target, broker, streamer, sink):
    """walstreamer writing Debezium's format, killed (-9) while it produces,
    and walsink reading that format: walstreamer's headers place each change
    exactly (pgcdc.commit_lsn, pgcdc.seq), so what it produces again after a
    kill is skipped; a table without a key, where a change applied twice
    would show, ends equal to the source.  First while its snapshot reads
    the tables (a table without a key is read whole, after a truncate of it
    at the chunk's place), then streaming only, with updates and deletes."""
    source.psql("CREATE TABLE kv (k int PRIMARY KEY, v int, t text); CREATE TABLE log (n int, s text); "
                "ALTER TABLE log REPLICA IDENTITY FULL")
    s = streamer(value_format="debezium-json", heartbeat_interval_ms="0").start()
    w = sink(input_format="debezium-json").start()
    for r in range(6):
        source.psql(f"INSERT INTO kv SELECT g, {r}, 'x' FROM generate_series(1, 20000) g "
                    f"ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v; "
                    f"INSERT INTO log SELECT g, 'r{r}' FROM generate_series(1, 5000) g; "
                    f"DELETE FROM kv WHERE k % 7 = {r}")
        if r in (2, 4):
            s.kill()
            s.start()
    wait_for(lambda: "snapshot complete" in s.text(), timeout=120, what="the snapshot")
    wait_equal(source, target, ["kv", "log"])
    for r in range(6, 10):
        source.psql(f"INSERT INTO log SELECT g, 'r{r}' FROM generate_series(1, 5000) g; "
                    f"UPDATE log SET s = s || '!' WHERE n = {r}; DELETE FROM log WHERE n = {r + 100}; "
                    f"UPDATE kv SET v = v + 1 WHERE k % 3 = {r % 3}")
        if r == 7:
            s.kill()
            s.start()
    wait_equal(source, target, ["kv", "log"])
    assert dead_letters(target) == []
    assert w.stop() == 0 and s.stop() == 0
