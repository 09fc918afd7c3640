"""walsink's end-to-end suites: a real source with walstreamer, the dev
broker, walsink and a real target cluster; tables compared both ways."""

import importlib.util
import os
import subprocess
import time
import urllib.request

import pytest

_spec = importlib.util.spec_from_file_location(
    "streamer_conftest", os.path.join(os.path.dirname(__file__), "..", "streamer", "conftest.py"))
streamer_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(streamer_conftest)

# The streamer suite's fixtures and helpers, shared.
install = streamer_conftest.install
source = streamer_conftest.source
broker = streamer_conftest.broker
pytest_configure = streamer_conftest.pytest_configure
streamer = streamer_conftest.streamer
confirmed = streamer_conftest.confirmed
wait_for = streamer_conftest.wait_for
read_all = streamer_conftest.read_all
Workload = streamer_conftest.Workload
watermarks = streamer_conftest.watermarks
lsn = streamer_conftest.lsn
pgtemp = streamer_conftest.pgtemp
free_port = pgtemp.free_port
daemonproc = streamer_conftest.daemonproc
BUILD = streamer_conftest.BUILD
WALSINK = os.path.join(BUILD, "sink", "walsink")


@pytest.fixture
def target(install, request):
    c = pgtemp.Cluster(install, "t_" + request.node.name[:18]).start()
    yield c
    c.destroy()


@pytest.fixture
def sink(target, broker, tmp_path):
    """make(**keys): a walsink from broker into target, keys as keyword arguments."""
    # A short session: a killed sink's partitions move on within seconds.
    defaults = {"target": target.dsn(), "kafka.bootstrap.servers": broker.bootstrap,
                "batch.max.ms": "20", "kafka.session.timeout.ms": "6000",
                "kafka.heartbeat.interval.ms": "1000"}
    yield from daemonproc.factory(lambda **keys: daemonproc.Daemon(
        WALSINK, os.path.join(tmp_path, "walsink.log"), daemonproc.keys_from(defaults, keys)))


def table_rows(cluster, table):
    """The rows as text lines, sorted: equal lists mean EXCEPT ALL finds
    nothing either way.  Each row as its composite text, "(1,x,)": a value's
    trailing blanks (char(n)) survive psql's output being stripped."""
    return "\n".join(sorted(cluster.psql(f"SELECT r::text FROM {table} r").splitlines()))


def wait_equal(source, target, tables, timeout=120):
    """Until every table holds the same rows in source and target (the same
    multiset: nothing missing either way, nothing twice)."""
    deadline = time.monotonic() + timeout
    while True:
        diff = {}
        for t in tables:
            try:
                a = table_rows(source, t)
                b = table_rows(target, t)
            except subprocess.CalledProcessError:
                a, b = "source", "missing in target"
            if a != b:
                diff[t] = (a[:300], b[:300])
        if not diff:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"tables differ: {diff}")
        time.sleep(0.3)


def metric(port, name):
    """A metric's value from a daemon's /metrics, None when absent or
    unreachable.  A name without labels sums the metric over all of them;
    name{label="value"} is that one series."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return None
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name + " ") or ("{" not in name and line.startswith(name + "{"))]
    return int(sum(values)) if values else None


def query(cluster, sql):
    """sql's output, or None while what it reads does not exist yet."""
    try:
        return cluster.psql(sql)
    except subprocess.CalledProcessError:
        return None


def dead_letters(target):
    out = target.psql("SELECT reason FROM pgcdc.dead_letter ORDER BY id")
    return out.splitlines() if out else []


# A trigger in the target records every update of kv (the workload's
# counters, which only grow): a change applied twice, or an older state
# after a newer one, shows as new v <= old v.
HISTORY = """
    CREATE TABLE kv (k int PRIMARY KEY, v bigint NOT NULL);
    CREATE TABLE kv_history (k int, old_v bigint, new_v bigint);
    CREATE FUNCTION kv_note() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO kv_history VALUES (NEW.k, OLD.v, NEW.v); RETURN NEW; END $$;
    CREATE TRIGGER kv_note AFTER UPDATE ON kv FOR EACH ROW EXECUTE FUNCTION kv_note();"""


def no_double_apply(target):
    """Every recorded update moved v forward (the snapshot's v = 0 rows may be read twice)."""
    bad = target.psql("SELECT k, old_v, new_v FROM kv_history "
                      "WHERE new_v <= old_v AND NOT (old_v = 0 AND new_v = 0) LIMIT 10")
    assert bad == "", f"changes applied twice or out of order (k|old|new): {bad}"
    return int(target.psql("SELECT count(*) FROM kv_history"))


def settle(work, source, target, committed):
    """Ends the workload; once the streamer and walsink have caught up, the
    tables are equal and nothing was applied twice (more than committed
    transactions, more than 100 updates seen)."""
    end = work.finish()
    wait_for(lambda: (confirmed(source) or 0) >= end, timeout=120, what="the streamer to catch up")
    wait_equal(source, target, ["ledger", "kv"], timeout=180)
    updates = no_double_apply(target)
    assert len(work.committed) > committed and updates > 100, (len(work.committed), updates)
