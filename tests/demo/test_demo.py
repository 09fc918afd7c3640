"""The demo (demo/demo.py, the README's main command) runs, stops on Ctrl-C
or after --duration, and its consistency check passes: the target equals the
source's valid rows, every rule failure and every injected malformed message
is a dead letter, and a signal reads employee again mid-run.  By default on
a real Kafka broker with the pgcdc plugin; --broker=dev, the fallback
without Java, on the dev broker, here with --plugin=pgoutput, the
managed-service path."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("PGCDC_BUILD", os.path.join(REPO, "build"))


def run_demo(*args, interrupt_at=None):
    """The demo's output and exit status; with interrupt_at, Ctrl-C at the
    first progress line that many seconds into the writing."""
    # Its own process group, which gets the SIGINT, as a terminal's Ctrl-C
    # reaches every process in the foreground group.
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, "demo", "demo.py"), "--build", BUILD,
                             "--orders-rate", "200", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    deadline = time.monotonic() + 180
    for line in proc.stdout:
        lines.append(line)
        m = re.match(r"\s*(\d+) s  streamed", line)
        if interrupt_at is not None and ((m and int(m.group(1)) >= interrupt_at)
                                         or time.monotonic() > deadline):
            os.killpg(proc.pid, signal.SIGINT)
            break
    out = "".join(lines) + proc.communicate(timeout=300)[0]
    print(out)
    return out, proc.returncode


def assert_consistent(out, status, debezium=False):
    assert status == 0, out
    assert "consistent: the target matches the source" in out
    assert re.search(r"public\.employee\s+public\.employee\s+([\d,]+)\s+\1\s+equal", out)
    assert re.search(r"public\.orders\s+analytics\.fct_orders\s+([\d,]+)\s+\1\s+equal", out)
    # Every kind of dead letter the demo makes is there (the forged ones in the format walstreamer writes).
    forged = ("Debezium message: not JSON", 'Debezium message: unknown op "x"') if debezium \
        else ("undecodable value", "record version 99")
    for reason in ("empty value", *forged,
                   'validation rule "valid_role" failed', 'validation rule "has_email" failed',
                   'validation rule "sane_timestamp" failed'):
        assert reason in out, reason
    assert "malformed messages injected: 4; dead letters other than rule failures: 4" in out
    # The signal 6 s in: employee read again, its invalid rows dead letters once more.
    assert "signal: execute-snapshot of public.employee" in out
    assert re.search(r"invalid rows the signalled snapshot read again: [1-9]\d* \(each once", out)


def test_demo_runs_and_checks_out():
    # Ctrl-C 15 s into the writing (the injection is at 3 s; every kind of
    # rule failure comes around within 2 s).  --keep: the broker's log stays.
    out, status = run_demo("--keep", interrupt_at=15)
    logs = re.search(r"logs in (\S+)", out).group(1)
    try:
        assert_consistent(out, status)
        assert re.search(r"through Kafka \d+\.\d+\.\d+ \(1 broker, KRaft\)", out)
        node = os.path.join(logs, "kafka", "node-1")
        with open(os.path.join(node, "server.log")) as f:
            assert "Kafka Server started" in f.read()
        assert not os.path.exists(os.path.join(node, "data"))
    finally:
        shutil.rmtree(logs, ignore_errors=True)


def test_demo_on_the_dev_broker_through_pgoutput_in_debezium_json():
    # The managed-service path too: no extension, PostgreSQL's own plugin;
    # and Debezium's format, written by walstreamer and read by walsink.
    out, status = run_demo("--broker=dev", "--plugin=pgoutput", "--format=debezium-json", "--duration", "8")
    assert_consistent(out, status, debezium=True)
    assert "through dev broker (librdkafka mock)" in out
    assert "walstreamer reads pgoutput through a publication" in out
    assert "walstreamer writes Debezium's format" in out
    # Without --keep, nothing left behind when all is well.
    assert not os.path.exists(re.search(r"logs in (\S+)", out).group(1))
