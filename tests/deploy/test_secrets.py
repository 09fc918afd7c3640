"""A password in a malformed connection string never reaches the log.

libpq's message for a conninfo it cannot parse quotes the token it stopped
at ('missing "=" after "..."'), and for a URI the whole URI: with a password
that holds a space, or an unescaped character in a URI, that is the
password.  Both daemons, every way a value comes in (command line,
environment, --config file with log.file set), with --check and without.
"""

import os
import subprocess

import pytest

from support.binaries import WALSINK, WALSTREAMER

SECRET = "S3CRET"
BAD = [
    # password with a space: libpq stops at its second half
    f"host=127.0.0.1 port=1 dbname=postgres password=pw-{SECRET} tail-{SECRET}",
    # quoted, then a stray word after it
    f"host=127.0.0.1 port=1 password='pw {SECRET}' tail-{SECRET}",
    # a URI libpq cannot parse: it quotes the whole URI
    f"postgresql://pgcdc:pw-{SECRET}@[::1/postgres",
    f"postgresql://pgcdc:pw%zz{SECRET}@127.0.0.1:1/postgres",
]
DAEMONS = [(WALSTREAMER, "source", "WALSTREAMER"), (WALSINK, "target", "WALSINK")]


def run(argv, env=None, check=True):
    out = subprocess.run(argv + (["--check"] if check else []), capture_output=True, text=True,
                         timeout=60, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    return out.returncode, out.stdout + out.stderr


@pytest.mark.parametrize("daemon,key,prefix", DAEMONS, ids=["walstreamer", "walsink"])
@pytest.mark.parametrize("conninfo", BAD, ids=["space", "quoted", "uri", "uri-escape"])
def test_password_never_echoed(daemon, key, prefix, conninfo, tmp_path):
    conf = tmp_path / "daemon.conf"
    logfile = tmp_path / "daemon.log"
    # In the file as a double-quoted value: taken as it is, #, quotes and all.
    escaped = conninfo.replace("\\", "\\\\").replace('"', '\\"')
    conf.write_text(f'{key} = "{escaped}"\nlog.file = {logfile}\n')
    ways = [
        ("command line", [daemon, f"--{key}={conninfo}"], None, True),
        ("command line, no --check", [daemon, f"--{key}={conninfo}"], None, False),
        ("environment", [daemon], {f"{prefix}_{key.upper()}": conninfo}, True),
        ("config file", [daemon, "--config", str(conf)], None, True),
    ]
    for what, argv, env, check in ways:
        rc, output = run(argv, env, check)
        assert rc != 0, (what, output)
        assert "is not a connection string" in output, (what, output)
        assert SECRET not in output, (what, output)
        if logfile.exists():
            assert SECRET not in logfile.read_text(), what
