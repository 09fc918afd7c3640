"""What the end-to-end tests read back to assert on: WAL positions and a
slot's confirmed position, a table's rows in source and target, dead
letters, a daemon's metrics; and wait_for, the one polling loop."""

import subprocess
import time
import urllib.request


def lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def confirmed(source, slot="pgcdc"):
    out = source.psql(f"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'")
    return lsn(out) if out else None


def snapshot_done(source, slot="pgcdc"):
    """The slot's snapshot has read and had acknowledged every table it
    scheduled (and scheduled at least one)."""
    out = source.psql("SELECT count(*), count(done) FROM pgcdc.snapshot_progress "
                      f"WHERE slot_name = '{slot}'") if source.psql(
        "SELECT to_regclass('pgcdc.snapshot_progress') IS NOT NULL") == "t" else "0|0"
    scheduled, done = map(int, out.split("|"))
    return scheduled > 0 and done == scheduled


def wait_for(cond, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


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
