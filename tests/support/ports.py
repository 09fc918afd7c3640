"""Loopback ports for the test and benchmark servers (PostgreSQL, Kafka,
walsink's metrics)."""

import socket

_handed_out = set()


def free_port():
    """A loopback port free now and not handed out before by this process:
    the kernel may give a port just closed again, and a Kafka broker whose
    two listeners got the same one fails to start."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
