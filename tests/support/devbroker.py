"""Drive the dev broker (tests/support/devbroker.c) from tests, bench and demo."""

import os
import subprocess

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def default_binary():
    return os.environ.get("PGCDC_DEVBROKER", os.path.join(REPO, "build", "tests", "devbroker"))


class DevBroker:
    """A mock Kafka cluster on loopback, in its own process."""

    def __init__(self, brokers=3, binary=None):
        # Its own session: a terminal's Ctrl-C is for the program that started it.
        self.proc = subprocess.Popen([binary or default_binary(), "--brokers", str(brokers)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)
        first = self.proc.stdout.readline().strip()
        if not first.startswith("bootstrap.servers="):
            self.stop()
            raise RuntimeError(f"devbroker did not start: {first!r}")
        self.bootstrap = first.split("=", 1)[1]
        self.brokers = brokers

    def command(self, line):
        """Send one command; raise with the broker's reason when it refuses."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().strip()
        if reply != "ok":
            raise RuntimeError(f"devbroker {line!r}: {reply or 'no reply'}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
