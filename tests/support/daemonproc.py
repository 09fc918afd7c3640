"""One daemon process (walstreamer, walsink) at a time: started from
--KEY=VALUE flags, restartable, stopped by signal, its log kept in a file."""

import signal
import subprocess


class Daemon:
    def __init__(self, binary, log, keys):
        self.binary = binary
        self.log = log
        self.keys = dict(keys)
        self.proc = None

    def argv(self):
        return [self.binary] + [f"--{k}={v}" for k, v in self.keys.items()]

    def start(self):
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "a"))
        return self

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def wait(self, timeout=60):
        rc = self.proc.wait(timeout)
        self.proc = None
        return rc

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def text(self):
        with open(self.log) as f:
            return f.read()


def keys_from(defaults, overrides):
    """Test keyword arguments as keys: status_interval_ms -> status.interval.ms."""
    keys = dict(defaults)
    keys.update({k.replace("_", "."): v for k, v in overrides.items()})
    return keys


def factory(binary, log, defaults):
    """A fixture body: yields make(**keys), a Daemon of binary (not started)
    with keys over defaults; kills what is still running at the end."""
    made = []

    def make(**keys):
        d = Daemon(binary, log, keys_from(defaults, keys))
        made.append(d)
        return d
    yield make
    for d in made:
        if d.running():
            d.stop(signal.SIGKILL)



def terminate(proc, timeout=60):
    """SIGTERM, then SIGKILL if proc has not exited within timeout: for the
    benchmark and the demo, which go on either way (a test's Daemon.stop
    waits and fails instead)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
