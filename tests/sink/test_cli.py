"""walsink's command line: --help lists every key, --version, --check
against the target and Kafka, configuration errors exit 1 with one clear
line and no secret."""

import os
import subprocess
import time

from support.binaries import WALSINK
from support.checks import confirmed, dead_letters, wait_for
from support.kafkaread import watermarks


def run(*args):
    p = subprocess.run([WALSINK, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_help_version_and_bad_configuration():
    rc, out, _ = run("--help")
    assert rc == 0
    for key in ("target", "topics", "group.id", "table.map", "target.schema", "batch.max.rows",
                "batch.max.ms", "auto.create", "auto.evolve", "delete.mode", "delete.soft.column",
                "truncate.mode", "dead.letter.table", "dead.letter.topic", "max.value.bytes",
                "shutdown.timeout.ms", "metrics.listen", "rule.<schema>.<table>.<name>",
                "kafka.<property>", "WALSINK_DEAD_LETTER_TABLE"):
        assert key in out, key
    rc, out, _ = run("--version")
    assert rc == 0 and out.startswith("walsink ")
    for args, says in ((["--delete.mode=sometimes"], "delete.mode"),
                       (["--table.map=orders"], "table.map"),
                       (["--dead.letter.table=nodot"], "dead.letter.table"),
                       (["--batch.max.rows=0"], "batch.max.rows"),
                       (["--no.such.key=1"], "no.such.key"),
                       # Never a target, whatever the configuration says.
                       (["--target.schema=pgcdc"], 'target.schema: "pgcdc" is walsink\'s own schema'),
                       (["--target.schema=pg_catalog"], 'target.schema: "pg_catalog" is a system schema'),
                       (["--table.map=public.a=pgcdc.sink_position"],
                        "table.map: pgcdc.sink_position is walsink's own schema"),
                       (["--table.map=public.a=information_schema.t"],
                        "table.map: information_schema.t is a system schema"),
                       (["--table.map=public.a=audit.dead", "--dead.letter.table=audit.dead"],
                        "table.map: audit.dead is walsink's dead-letter table")):
        rc, out, err = run("--target=dbname=x", *args)
        assert rc == 1 and says in err and err.count("\n") == 1, (args, err)
    rc, out, err = run("--target=host=127.0.0.1 port=1 user=x dbname=x password=hunter2",
                       "--kafka.bootstrap.servers=127.0.0.1:1", "--log.level=debug")
    assert rc == 1 and "hunter2" not in out + err, err


def test_check(source, target, broker, streamer):
    source.psql("CREATE TABLE c (id int PRIMARY KEY); INSERT INTO c VALUES (1)")
    s = streamer(heartbeat_interval_ms="0").start()
    wait_for(lambda: ("pgcdc.public.c", 0) in watermarks(broker.bootstrap), what="the topic")
    rc, out, err = run(f"--target={target.dsn()}", f"--kafka.bootstrap.servers={broker.bootstrap}", "--check")
    assert rc == 0, out + err
    assert "target: connected" in out and f"kafka: {len(broker.bootstrap.split(','))} brokers" in out, out
    assert "pgcdc.public.c (4 partitions)" in out, out
    assert 'warning: walsink\'s role is a superuser' in out, out
    # The least privilege walsink needs: its own schema and its target's; no warning.
    target.psql("DROP SCHEMA pgcdc CASCADE; CREATE ROLE sinker LOGIN; CREATE SCHEMA pgcdc AUTHORIZATION sinker;"
                "CREATE SCHEMA analytics AUTHORIZATION sinker")
    sinker = target.dsn().replace("user=postgres", "user=sinker")
    rc, out, err = run(f"--target={sinker}", f"--kafka.bootstrap.servers={broker.bootstrap}",
                       "--target.schema=analytics", "--check")
    assert rc == 0 and "target: connected" in out and "superuser" not in out, out + err
    rc, out, err = run(f"--target={target.dsn()}", "--kafka.bootstrap.servers=127.0.0.1:1",
                       "--kafka.socket.timeout.ms=2000", "--check")
    assert rc == 1 and "no broker of kafka.bootstrap.servers (127.0.0.1:1) answered" in out, out + err
    # A rule that cannot work on its (existing) table: an error at start, not dead letters.
    target.psql("CREATE TABLE acct (id int PRIMARY KEY, note text)")
    bad_rule = "--rule.public.acct.noted=nosuchcol IS NOT NULL"
    rc, out, err = run(f"--target={target.dsn()}", f"--kafka.bootstrap.servers={broker.bootstrap}",
                       bad_rule, "--check")
    assert rc == 1 and 'rule.public.acct.noted does not work on "public"."acct"' in out, out + err
    assert "nosuchcol" in out, out
    rc, out, err = run(f"--target={target.dsn()}", f"--kafka.bootstrap.servers={broker.bootstrap}", bad_rule)
    assert rc == 1 and "rule.public.acct.noted does not work" in err, err
    rc, out, err = run(f"--target={target.dsn()}", f"--kafka.bootstrap.servers={broker.bootstrap}",
                       "--rule.public.acct.noted=note IS NOT NULL", "--check")
    assert rc == 0, out + err
    assert s.stop() == 0



def test_heap_on_huge_pages(target, broker):
    """walsink runs with glibc's malloc on transparent huge pages: it starts
    itself again, same process and name, with GLIBC_TUNABLES set; one set
    already (even empty) is left as it is."""

    def environ_of(env):
        p = subprocess.Popen([WALSINK, f"--target={target.dsn()}", f"--kafka.bootstrap.servers={broker.bootstrap}"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            assert p.poll() is None
            with open(f"/proc/{p.pid}/comm") as f:
                assert f.read() == "walsink\n"     # what ps and pkill see
            with open(f"/proc/{p.pid}/environ", "rb") as f:
                return [v.decode() for v in f.read().split(b"\0") if v.startswith(b"GLIBC_TUNABLES=")]
        finally:
            p.kill()
            p.wait()

    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    assert environ_of(env) == ["GLIBC_TUNABLES=glibc.malloc.hugetlb=1"]
    assert environ_of({**env, "GLIBC_TUNABLES": ""}) == ["GLIBC_TUNABLES="]


def test_fetch_ahead_defaults_and_override(target, broker, sink):
    """walsink bounds what librdkafka fetches ahead, in bytes and messages
    (sink/fetchahead.h); kafka.* keys override that."""
    w = sink().start()
    wait_for(lambda: "fetching ahead" in w.text(), what="walsink's start")
    assert "fetching ahead up to 4096 kB or 12500 messages" in w.text(), w.text()
    assert w.stop() == 0
    seen = len(w.text())
    w = sink(kafka_queued_max_messages_kbytes="65536", kafka_queued_min_messages="100000").start()
    wait_for(lambda: "fetching ahead" in w.text()[seen:], what="walsink's second start")
    assert "fetching ahead up to 65536 kB or 100000 messages" in w.text()[seen:], w.text()[seen:]
    assert w.stop() == 0


def test_synchronous_commit_of_the_target_session(source, target, broker, streamer, sink):
    """walsink's target session runs with synchronous_commit off unless
    synchronous.commit says otherwise: a validation rule, evaluated in that
    session, sees the setting."""
    for db in (source, target):
        db.psql("CREATE TABLE sc (id int PRIMARY KEY)")
    s = streamer(heartbeat_interval_ms="0").start()
    wait_for(lambda: confirmed(source) is not None, what="the slot")
    for value, ids in (("off", (1, 2)), ("remote_apply", (3, 4))):
        w = sink(**{"rule.public.sc.session": f"current_setting('synchronous_commit') = '{value}'"},
                 **({} if value == "off" else {"synchronous.commit": value})).start()
        source.psql(f"INSERT INTO sc VALUES {', '.join(f'({i})' for i in ids)}")
        # Stop early on a dead letter; walsink creates its table once it is connected.
        wait_for(lambda: target.psql("SELECT count(*) FROM sc") == str(ids[-1]) or
                 (target.psql("SELECT to_regclass('pgcdc.dead_letter') IS NOT NULL") == "t" and
                  dead_letters(target)), what=f"rows {ids} applied")
        assert dead_letters(target) == [], dead_letters(target)
        assert w.stop() == 0
    assert target.psql("SELECT string_agg(id::text, ',' ORDER BY id) FROM sc") == "1,2,3,4"
    rc, out, err = run(f"--target={target.dsn()}", "--synchronous.commit=sometimes", "--check")
    assert rc == 1 and "synchronous.commit" in err, err
    assert s.stop() == 0
