"""The demo (demo/demo.py, the README's main command) runs, stops on Ctrl-C,
and its consistency check passes: the target equals the source's valid rows,
every rule failure and every injected malformed message is a dead letter."""

import os
import re
import signal
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("PGCDC_BUILD", os.path.join(REPO, "build"))


def test_demo_runs_and_checks_out():
    # Its own process group, which gets the SIGINT, as a terminal's Ctrl-C
    # reaches every process in the foreground group.
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, "demo", "demo.py"), "--build", BUILD,
                             "--orders-rate", "200"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    deadline = time.monotonic() + 180
    # Ctrl-C at the first progress line 15 s into the writing (the injection
    # is at 3 s; every kind of rule failure comes around within 2 s).
    for line in proc.stdout:
        lines.append(line)
        m = re.match(r"\s*(\d+) s  streamed", line)
        if (m and int(m.group(1)) >= 15) or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGINT)
            break
    out = "".join(lines) + proc.communicate(timeout=300)[0]
    print(out)
    assert proc.returncode == 0, out
    assert "consistent: the target matches the source" in out
    assert re.search(r"public\.employee\s+public\.employee\s+([\d,]+)\s+\1\s+equal", out)
    assert re.search(r"public\.orders\s+analytics\.fct_orders\s+([\d,]+)\s+\1\s+equal", out)
    # Every kind of dead letter the demo makes is there.
    for reason in ("empty value", "undecodable value", "record version 99",
                   'validation rule "valid_role" failed', 'validation rule "has_email" failed',
                   'validation rule "sane_timestamp" failed'):
        assert reason in out, reason
    assert "malformed messages injected: 4; dead letters other than rule failures: 4" in out
