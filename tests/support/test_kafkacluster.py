"""tests/support/kafkacluster.py from the command line, as the README shows
it: `run` prints the bootstrap address of a working broker, takes the fault
commands (a bad one answered with the reason), and `quit` stops it."""

import os
import subprocess
import sys
import uuid

from confluent_kafka import Consumer, Producer

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kafkacluster.py")


def round_trip(bootstrap):
    """One message produced (idempotent, acks=all) and read back."""
    topic = "t-" + uuid.uuid4().hex
    errors = []
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    p.produce(topic, key=b"k", value=b"hello", on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(60) == 0 and errors == [None], errors
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "g-" + topic,
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    try:
        for _ in range(60):
            m = c.poll(1)
            if m is not None and not m.error():
                return m.value()
    finally:
        c.close()
    return None


def test_run_commands_and_quit(tmp_path):
    proc = subprocess.Popen([sys.executable, SCRIPT, "run", "--brokers", "1", "--dir", str(tmp_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def command(line):
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        return proc.stdout.readline().strip()

    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("bootstrap.servers=127.0.0.1:"), first
        bootstrap = first.split("=", 1)[1]
        assert round_trip(bootstrap) == b"hello"
        assert command("kill 1") == "ok"
        assert command("start 1") == "ok"
        assert round_trip(bootstrap) == b"hello"
        assert command("pause 1") == "ok" and command("resume 1") == "ok"
        assert command("kill 7").startswith("error: no broker '7'")
        assert command("reboot 1").startswith("error: unknown command")
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(60) == 0
        # Stopped cleanly: the broker logged its own shutdown.
        with open(os.path.join(tmp_path, "node-1", "server.log")) as f:
            assert "shut down completed" in f.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
