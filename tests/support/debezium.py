"""Debezium, the system pgcdc replaces, run the way most of its users run
it: the PostgreSQL connector (io.debezium:debezium-connector-postgres,
plugin.name=pgoutput) on a Kafka Connect worker, producing to a real Kafka
broker.  For the benchmarks that compare the two (bench/debezium.py) and for
the script that records Debezium's own messages as fixtures
(tests/debezium/record.py).

    connect = Connect(bootstrap).start()
    connect.add("dbz", postgres_connector(cluster, "dbz", slot="dbz_slot"))
    connect.wait_streaming("dbz", "dbz")       # snapshot done, streaming begun
    ...
    connect.stop()

Nothing of Debezium is copied here: its jars and Kafka Connect's are the
dependencies of the pinned pom beside this file (debezium/pom.xml), fetched
by Maven into its local repository on first use (tests/support/maven.py).
The worker is a standalone one (offsets in a file, connectors added through
its REST interface), with Kafka Connect's own JVM settings
(connect-distributed.sh and kafka-run-class.sh: -Xms256M -Xmx2G, G1), what
a user who sets no KAFKA_HEAP_OPTS runs with.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from . import maven
from .kafkacluster import _die_with_parent
from .ports import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
POM = os.path.join(HERE, "debezium", "pom.xml")
CONNECTOR = "io.debezium.connector.postgresql.PostgresConnector"
JSON = "org.apache.kafka.connect.json.JsonConverter"

# Kafka Connect's launcher defaults (KAFKA_HEAP_OPTS of connect-*.sh,
# KAFKA_JVM_PERFORMANCE_OPTS of kafka-run-class.sh).
JVM_OPTS = ["-Xms256M", "-Xmx2G", "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent"]


def classpath():
    return maven.classpath(POM, "debezium-connect")


def version(jars=None):
    """Debezium's and Kafka Connect's versions, from their jars' names."""
    found = {}
    for jar in jars or classpath():
        name = os.path.basename(jar)
        m = re.fullmatch(r"debezium-connector-postgres-(.+)\.jar", name)
        if m:
            found["debezium"] = m.group(1)
        m = re.fullmatch(r"connect-runtime-(.+)\.jar", name)
        if m:
            found["connect"] = m.group(1)
    return found


def postgres_connector(cluster, prefix, slot, dbname="postgres", **settings):
    """The PostgreSQL connector's settings for a pgtemp.Cluster: pgoutput,
    topics <prefix>.<schema>.<table>, slot and publication of its own, JSON
    with schemas (Kafka Connect's default converter settings).  settings,
    Debezium's own dotted names (pass them as **{"snapshot.mode": ...}),
    override or add.  The password is never checked: pgtemp's servers
    trust loopback connections."""
    config = {
        "connector.class": CONNECTOR,
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": cluster.host,
        "database.port": str(cluster.port),
        "database.user": cluster.user,
        "database.password": "unused",
        "database.dbname": dbname,
        "topic.prefix": prefix,
        "slot.name": slot,
        "publication.name": f"{slot}_pub",
        "publication.autocreate.mode": "all_tables",
        "key.converter": JSON,
        "value.converter": JSON,
        "key.converter.schemas.enable": "true",
        "value.converter.schemas.enable": "true",
    }
    config.update(settings)
    return config


class Connect:
    """One standalone Kafka Connect worker on loopback producing to
    bootstrap.  worker overrides its properties; stop() or the context
    manager ends it."""

    def __init__(self, bootstrap, root=None, jvm_opts=None, worker=None):
        self.java = shutil.which("java")
        if self.java is None:
            raise RuntimeError("java is needed to run Kafka Connect: apt-get install default-jre-headless")
        self.jars = classpath()
        self.owned = root is None
        self.root = root or tempfile.mkdtemp(prefix="pgcdc-connect-")
        os.makedirs(self.root, exist_ok=True)
        self.port = free_port()
        self.log = os.path.join(self.root, "connect.log")
        self.jvm_opts = jvm_opts or JVM_OPTS
        self.proc = None
        self.settings = {
            "bootstrap.servers": bootstrap,
            "key.converter": JSON,
            "value.converter": JSON,
            "offset.storage.file.filename": os.path.join(self.root, "offsets"),
            "offset.flush.interval.ms": "10000",
            "listeners": f"http://127.0.0.1:{self.port}",
            "plugin.discovery": "only_scan",
        }
        self.settings.update(worker or {})

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=120):
        props = os.path.join(self.root, "worker.properties")
        with open(props, "w") as f:
            for k, v in self.settings.items():
                f.write(f"{k}={v}\n")
        log4j = os.path.join(self.root, "log4j2.properties")
        # The connector's name and task context on every line (Debezium's MDC
        # keys), so that a wait can tell one connector's lines from another's.
        with open(log4j, "w") as f:
            f.write(f"""status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {self.log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p [%X{{dbz.connectorLogicalName}}|%X{{dbz.connectorContext}}] %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
logger.rest.name = org.apache.kafka.connect.runtime.rest.RestServer
logger.rest.level = WARN
""")
        out = open(os.path.join(self.root, "stdout.log"), "a")
        self.proc = subprocess.Popen(
            [self.java, *self.jvm_opts, "-Djava.awt.headless=true",
             "-Dlog4j2.shutdownHookEnabled=false", f"-Dlog4j2.configurationFile={log4j}",
             "-cp", ":".join(self.jars), "org.apache.kafka.connect.cli.ConnectStandalone", props],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent)
        out.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.request("GET", "/connectors")
                return self
            except (OSError, urllib.error.URLError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"Kafka Connect exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kafka Connect did not serve in {timeout} s:\n{self.tail()}")
            time.sleep(0.2)

    def tail(self, n=4000):
        for path in (self.log, os.path.join(self.root, "stdout.log")):
            try:
                with open(path, errors="replace") as f:
                    text = f.read()
                if text:
                    return text[-n:]
            except OSError:
                pass
        return "(no log)"

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
            return json.loads(text) if text else None

    def add(self, name, config):
        try:
            return self.request("POST", "/connectors", {"name": name, "config": config})
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"Kafka Connect refused connector {name}: {e.read().decode(errors='replace')}")

    def remove(self, name):
        self.request("DELETE", f"/connectors/{name}")

    def status(self, name):
        return self.request("GET", f"/connectors/{name}/status")

    def _lines(self, since=0):
        try:
            with open(self.log, errors="replace") as f:
                f.seek(since)
                return f.read()
        except OSError:
            return ""

    def wait_streaming(self, name, prefix, timeout=600, since=0):
        """Until connector name (topic.prefix prefix) has finished its
        snapshot (if any) and reads the replication stream: Debezium's own
        log line "Processing messages", with the connector's logical name,
        after byte offset since of the log (log_size() before add()).
        Raises if its task failed."""
        deadline = time.monotonic() + timeout
        mark = re.compile(rf"\[{re.escape(prefix)}\|streaming\] Processing messages")
        while True:
            if mark.search(self._lines(since)):
                return
            st = None
            try:
                st = self.status(name)
            except (OSError, urllib.error.URLError):
                pass
            for task in (st or {}).get("tasks", []):
                if task.get("state") == "FAILED":
                    raise RuntimeError(f"Debezium connector {name} failed:\n{task.get('trace', '')[:3000]}")
            if self.proc.poll() is not None:
                raise RuntimeError(f"Kafka Connect exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"connector {name} did not start streaming in {timeout} s:\n{self.tail()}")
            time.sleep(0.2)

    def log_size(self):
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0

    def stop(self, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.owned:
            shutil.rmtree(self.root, ignore_errors=True)
