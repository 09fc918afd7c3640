"""meson install puts the decoder, the extension files, both daemons and the
example configs and systemd units where they belong; the installed daemons
answer --version; the example configs pass --check against real servers
(only addresses and TLS changed, as an operator would)."""

import json
import os
import re
import subprocess

import pytest

from support import pgtemp
from support.binaries import BUILD, REPO
from support.ports import free_port


def meson_option(name):
    options = json.loads(subprocess.check_output(["meson", "introspect", "--buildoptions", BUILD]))
    return next(o["value"] for o in options if o["name"] == name)


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    d = tmp_path_factory.mktemp("dest")
    subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir", str(d)],
                   check=True, capture_output=True)
    return str(d)


def test_installed_files(dest):
    prefix = meson_option("prefix")
    bindir = os.path.join(prefix, meson_option("bindir"))
    examples = os.path.join(prefix, meson_option("datadir"), "doc", "pgcdc", "examples")
    want = [os.path.join(pgtemp.pg_config("--pkglibdir"), "pgcdc.so"),
            os.path.join(pgtemp.pg_config("--sharedir"), "extension", "pgcdc.control"),
            os.path.join(pgtemp.pg_config("--sharedir"), "extension", "pgcdc--1.0.sql"),
            os.path.join(bindir, "walstreamer"), os.path.join(bindir, "walsink")] + \
        [os.path.join(examples, f) for f in ("walstreamer.conf", "walsink.conf",
                                             "walstreamer.service", "walsink.service")]
    missing = [f for f in want if not os.path.isfile(dest + f)]
    assert not missing, missing
    for daemon in ("walstreamer", "walsink"):
        out = subprocess.run([dest + os.path.join(bindir, daemon), "--version"],
                             capture_output=True, text=True, check=True).stdout
        assert re.match(rf"{daemon} \d+\.\d+\.\d+", out), out
        # The unit starts the installed binary with the example config's path.
        with open(dest + os.path.join(examples, f"{daemon}.service")) as f:
            unit = f.read()
        exec_start = re.search(r"^ExecStart=(\S+) --config (\S+)$", unit, re.M)
        assert exec_start and exec_start.group(1) == os.path.join(bindir, daemon), unit
        assert exec_start.group(2) == f"/etc/pgcdc/{daemon}.conf"


def example(name, replace):
    """An example config with some keys replaced, as the operator would."""
    out = []
    with open(os.path.join(REPO, "packaging", name)) as f:
        for line in f:
            key = line.split("=", 1)[0].strip()
            out.append(f"{key} = {replace[key]}\n" if key in replace else line)
    return "".join(out)


def test_example_configs_check_out(source, target, broker, tmp_path):
    source.psql("CREATE TABLE orders (id bigint PRIMARY KEY, status text)")
    confs = {
        "walstreamer": example("walstreamer.conf", {
            "source": source.dsn(), "kafka.bootstrap.servers": broker.bootstrap,
            "metrics.listen": f"127.0.0.1:{free_port()}"}),
        "walsink": example("walsink.conf", {
            "target": target.dsn(), "kafka.bootstrap.servers": broker.bootstrap,
            "metrics.listen": f"127.0.0.1:{free_port()}"}),
    }
    for daemon, text in confs.items():
        path = tmp_path / f"{daemon}.conf"
        path.write_text(text)
        binary = os.path.join(BUILD, "streamer" if daemon == "walstreamer" else "sink", daemon)
        out = subprocess.run([binary, "--config", str(path), "--check"], capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        print(out.stdout + out.stderr)
