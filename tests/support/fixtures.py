"""The end-to-end suites' pytest plugin (tests/conftest.py loads it): a real
source cluster with the extension, a broker, walstreamer, a target cluster
and walsink, each a fixture.

The broker fixture is one real Apache Kafka broker (KRaft) of the test's
own (booted while the test before ran); @pytest.mark.kafka(brokers=3, **settings) asks for three, or for other
broker settings.  @pytest.mark.devbroker gives the dev broker instead
(librdkafka's mock cluster), for the faults only it can inject: produce or
offset-commit errors, uneven round trips.  Both have .bootstrap.

streamer and sink are factories: make(**keys) starts a daemon with those
keys over the defaults (status_interval_ms is status.interval.ms); whatever
still runs at the end of the test is killed."""

import atexit
import os

import pytest

from . import daemonproc, pgtemp
from .binaries import WALSINK, WALSTREAMER
from .devbroker import DevBroker
from .kafkacluster import KafkaCluster


def pytest_configure(config):
    config.addinivalue_line("markers", "kafka(brokers=1, **settings): real Kafka brokers for the test")
    config.addinivalue_line("markers", "devbroker: the dev broker, for faults only it can inject")


@pytest.fixture(scope="session")
def install():
    return pgtemp.pgcdc_install()


@pytest.fixture
def source(install, request):
    c = pgtemp.Cluster(install, request.node.name[:20]).start()
    c.psql("CREATE EXTENSION pgcdc")
    yield c
    c.destroy()


@pytest.fixture
def target(install, request):
    c = pgtemp.Cluster(install, "t_" + request.node.name[:18]).start()
    yield c
    c.destroy()


# The next test's broker (one node, default settings: what most tests ask
# for) boots while the current test runs, so that a test does not wait the
# JVM's seconds; each test still gets a broker of its own.
_spare = []


def _spare_broker():
    """The broker booted during the last test (ready), and the next one spawned."""
    k = _spare.pop() if _spare else None
    try:
        if k is not None:
            k.wait()
    except RuntimeError:
        k.destroy()
        k = None
    _spare.append(KafkaCluster(1).spawn())
    return k or KafkaCluster(1).start()


@atexit.register
def _drop_spare():
    while _spare:
        _spare.pop().destroy()


@pytest.fixture
def broker(request, tmp_path):
    if request.node.get_closest_marker("devbroker"):
        with DevBroker(brokers=3) as b:
            yield b
        return
    mark = request.node.get_closest_marker("kafka")
    kw = dict(mark.kwargs) if mark else {}
    brokers = kw.pop("brokers", 1)
    if brokers == 1 and not kw:
        k = _spare_broker()
        try:
            yield k
        finally:
            k.destroy()
        return
    with KafkaCluster(brokers, root=os.path.join(tmp_path, "kafka"),
                      settings={k.replace("_", "."): str(v) for k, v in kw.items()}) as k:
        yield k


@pytest.fixture
def streamer(source, broker, tmp_path):
    """make(**keys): a walstreamer on source and broker, keys as keyword arguments."""
    defaults = {"source": source.dsn(), "kafka.bootstrap.servers": broker.bootstrap,
                "status.interval.ms": "200", "heartbeat.interval.ms": "1000",
                "snapshot.parallelism": "2"}
    yield from daemonproc.factory(WALSTREAMER, os.path.join(tmp_path, "walstreamer.log"), defaults)


@pytest.fixture
def sink(target, broker, tmp_path):
    """make(**keys): a walsink from broker into target, keys as keyword arguments."""
    # A short session: a killed sink's partitions move on within seconds.
    defaults = {"target": target.dsn(), "kafka.bootstrap.servers": broker.bootstrap,
                "batch.max.ms": "20", "kafka.session.timeout.ms": "6000",
                "kafka.heartbeat.interval.ms": "1000"}
    yield from daemonproc.factory(WALSINK, os.path.join(tmp_path, "walsink.log"), defaults)
