"""Deployment files: docker-compose.yml, its configs and scripts, meson
install, the example configs and systemd units.  Shares the sink suite's
fixtures (real source, dev broker, real target)."""

import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "sink_conftest", os.path.join(os.path.dirname(__file__), "..", "sink", "conftest.py"))
sink_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sink_conftest)

install = sink_conftest.install
source = sink_conftest.source
broker = sink_conftest.broker
pytest_configure = sink_conftest.pytest_configure
target = sink_conftest.target
wait_for = sink_conftest.wait_for
pgtemp = sink_conftest.pgtemp
BUILD = sink_conftest.BUILD
WALSINK = sink_conftest.WALSINK
WALSTREAMER = os.path.join(BUILD, "streamer", "walstreamer")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
