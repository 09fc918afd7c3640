#!/usr/bin/env python3
"""Real Apache Kafka brokers on loopback, for the tests, the demo and the
benchmarks: fetched from Maven Central, started in KRaft mode, stopped.

    kafkacluster.py fetch                       resolve the broker (Maven), print its classpath file
    kafkacluster.py run [--brokers N] [--dir D] [--heap SIZE] [--profile test|bench]
                                                start N brokers (1 or 3), print
                                                "bootstrap.servers=HOST:PORT,...", then read
                                                commands from standard input, one a line,
                                                answering each "ok" or "error: <why>":
        kill ID      SIGKILL broker ID              pause ID   SIGSTOP it
        stop ID      SIGTERM it, wait until gone    resume ID  SIGCONT it
        start ID     start it again (same data, same ports), wait until it serves
        quit         stop every broker and exit
    At end of input it keeps serving until SIGINT or SIGTERM, then stops the
    brokers cleanly.

The broker is org.apache.kafka:kafka_2.13 from the pinned pom beside this
file (tests/support/kafka/pom.xml), resolved by Maven into its local
repository; the classpath is kept in a cache file, so only the first fetch
needs the network.  Each broker is a combined broker and KRaft controller
(one node, or three voters), with its own data directory and log, free
loopback ports and a capped heap.  From Python, KafkaCluster does the same
and more (topics, leaders).
"""

import argparse
import atexit
import base64
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

try:
    from . import maven
    from .ports import free_port
except ImportError:     # run as a script (kafkacluster.py run): this directory is on sys.path
    import maven
    from ports import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
POM = os.path.join(HERE, "kafka", "pom.xml")


def classpath():
    """The broker's classpath (tests/support/kafka/pom.xml), resolved by Maven on first use."""
    return maven.classpath(POM, "kafka-broker")


def version(jars=None):
    """The broker's version, from its jar's name (kafka_2.13-4.3.0.jar)."""
    for jar in jars or classpath():
        m = re.fullmatch(r"kafka_[\d.]+-([\d.]+)\.jar", os.path.basename(jar))
        if m:
            return m.group(1)
    return "(unknown version)"


def _answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    # A broker outlives nothing that started it: a test process killed by a
    # timeout would otherwise leave JVMs holding gigabytes.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# JVM settings.  test: small heap, serial GC and the C1 compiler only (a
# broker starts in about two seconds on two cores and uses little CPU);
# bench: Kafka's own defaults (kafka-server-start.sh): 1 GB heap, G1.
PROFILES = {
    "test": ["-Xms64m", "-Xmx{heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-XX:-UsePerfData"],
    "bench": ["-Xms{heap}", "-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
              "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent"],
}
DEFAULT_HEAP = {"test": "512m", "bench": "1g"}

# Storage formatted once per process and number of brokers (a JVM run of
# seconds): {brokers: (cluster id, {node id: formatted data directory})}.
# The format holds the cluster and node ids, not the ports (the voters are
# static), so each later cluster of that size starts from a copy.
_formatted = {}


class Node:
    """One broker process: its id, ports, directory, log and process."""

    def __init__(self, node_id, root):
        self.id = node_id
        self.port = free_port()
        self.controller_port = free_port()
        self.dir = os.path.join(root, f"node-{node_id}")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.proc = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"


class KafkaCluster:
    """brokers (1 or 3) real Kafka brokers on loopback, each a KRaft
    controller too.  settings override the broker properties (e.g.
    auto.create.topics.enable=false); stop() or the context manager ends them."""

    def __init__(self, brokers=1, root=None, heap=None, profile="test", settings=None,
                 partitions=4):
        if brokers not in (1, 3):
            raise ValueError("1 or 3 brokers")
        self.java = shutil.which("java")
        if self.java is None:
            raise RuntimeError("java is needed to run the Kafka broker: apt-get install default-jre-headless")
        self.jars = classpath()
        self.owned = root is None
        self.root = root or tempfile.mkdtemp(prefix="pgcdc-kafka-")
        os.makedirs(self.root, exist_ok=True)
        self.profile = profile
        self.heap = heap or DEFAULT_HEAP[profile]
        self.nodes = {i: Node(i, self.root) for i in range(1, brokers + 1)}
        # As Kafka's own ids: URL-safe base64, never starting with "-" (an option to the tools).
        self.cluster_id = "-"
        while self.cluster_id.startswith("-"):
            self.cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # Three: what a production cluster for pgcdc has (README, "Running
        # against a real Kafka"); one: no replication to speak of.
        rf, isr = (3, 2) if brokers == 3 else (1, 1)
        self.settings = {
            "process.roles": "broker,controller",
            "controller.quorum.voters": ",".join(
                f"{n.id}@127.0.0.1:{n.controller_port}" for n in self.nodes.values()),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "num.partitions": str(partitions),
            "default.replication.factor": str(rf),
            "min.insync.replicas": str(isr),
            "offsets.topic.replication.factor": str(rf),
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": str(rf),
            "transaction.state.log.min.isr": str(isr),
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": str(rf),
            "share.coordinator.state.topic.min.isr": str(isr),
            "auto.create.topics.enable": "true",
            "unclean.leader.election.enable": "false",
            # A consumer group forms at once (the default waits 3 s for more members).
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.check.interval.ms": "1000",
            "controlled.shutdown.enable": "true",
        }
        self.settings.update(settings or {})
        for n in self.nodes.values():
            self._configure(n)
        self._format()

    # -- set-up ------------------------------------------------------------

    def _configure(self, n):
        os.makedirs(n.data, exist_ok=True)
        props = dict(self.settings)
        props.update({
            "node.id": str(n.id),
            "listeners": f"PLAINTEXT://127.0.0.1:{n.port},CONTROLLER://127.0.0.1:{n.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{n.port}",
            "log.dirs": n.data,
        })
        with open(os.path.join(n.dir, "server.properties"), "w") as f:
            for k, v in props.items():
                f.write(f"{k}={v}\n")
        with open(os.path.join(n.dir, "log4j2.properties"), "w") as f:
            f.write(f"""status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {n.log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka.request.logger
logger.kafka.level = WARN
""")

    def _jvm(self, n, main, *args):
        opts = [o.format(heap=self.heap) for o in PROFILES[self.profile]]
        # log4j's own shutdown hook would close the log before Kafka's hook
        # has logged its shutdown; the file appender flushes every line.
        return [self.java, *opts, "-Djava.awt.headless=true", "-Dlog4j2.shutdownHookEnabled=false",
                f"-Dlog4j2.configurationFile={os.path.join(n.dir, 'log4j2.properties')}",
                "-cp", ":".join(self.jars), main, *args]

    def _format(self):
        size = len(self.nodes)
        if size in _formatted:
            self.cluster_id, dirs = _formatted[size]
            for n in self.nodes.values():
                shutil.copytree(dirs[n.id], n.data, dirs_exist_ok=True)
            return
        self._run_format()
        template = tempfile.mkdtemp(prefix="pgcdc-kafka-formatted-")
        atexit.register(shutil.rmtree, template, True)
        dirs = {}
        for n in self.nodes.values():
            dirs[n.id] = os.path.join(template, str(n.id))
            shutil.copytree(n.data, dirs[n.id])
        _formatted[size] = (self.cluster_id, dirs)

    def _run_format(self):
        procs = []
        for n in self.nodes.values():
            procs.append((n, subprocess.Popen(
                self._jvm(n, "kafka.tools.StorageTool", "format", "--ignore-formatted",
                          "-t", self.cluster_id, "-c", os.path.join(n.dir, "server.properties")),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)))
        for n, p in procs:
            out = p.communicate(timeout=120)[0]
            if p.returncode != 0:
                raise RuntimeError(f"formatting Kafka storage of node {n.id} failed:\n{out[-2000:]}")

    # -- processes ---------------------------------------------------------

    @property
    def bootstrap(self):
        return ",".join(n.address for n in self.nodes.values())

    def start(self, timeout=90):
        return self.spawn().wait(timeout)

    def spawn(self):
        """Start every broker's JVM without waiting for it (from the thread
        that will live longest: a broker dies with the thread that spawned it)."""
        for n in self.nodes.values():
            self._spawn(n)
        return self

    def wait(self, timeout=90):
        """Until every spawned broker serves."""
        for n in self.nodes.values():
            self._wait_serving(n, timeout)
        return self

    def _spawn(self, n):
        out = open(os.path.join(n.dir, "stdout.log"), "a")
        n.proc = subprocess.Popen(self._jvm(n, "kafka.Kafka", os.path.join(n.dir, "server.properties")),
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True, preexec_fn=_die_with_parent)
        out.close()

    def _wait_serving(self, n, timeout):
        """Until the broker accepts connections and its metadata lists every
        broker that is running."""
        deadline = time.monotonic() + timeout
        while not _answers(n.port):
            if n.proc.poll() is not None:
                raise RuntimeError(f"Kafka node {n.id} exited ({n.proc.returncode}); see {n.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kafka node {n.id} did not start in {timeout}s; see {n.log}")
            time.sleep(0.1)
        want = {m.id for m in self.nodes.values() if m.proc is not None and m.proc.poll() is None}
        while True:
            try:
                if want <= set(self._metadata(n.address, 2).brokers):
                    return
            except Exception:       # noqa: BLE001 — not answering yet
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kafka node {n.id} does not list brokers {sorted(want)}; see {n.log}")
            time.sleep(0.2)

    @staticmethod
    def _metadata(bootstrap, timeout, topic=None):
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        return admin.list_topics(topic=topic, timeout=timeout)

    def node(self, node_id):
        try:
            return self.nodes[int(node_id)]
        except (KeyError, ValueError):
            raise ValueError(f"no broker {node_id!r}: brokers are {sorted(self.nodes)}") from None

    def kill(self, node_id):
        """kill -9: no controlled shutdown, unflushed log tail as the OS left it."""
        n = self.node(node_id)
        if n.proc is not None and n.proc.poll() is None:
            n.proc.send_signal(signal.SIGCONT)
            n.proc.kill()
            n.proc.wait()

    def pause(self, node_id):
        self.node(node_id).proc.send_signal(signal.SIGSTOP)

    def resume(self, node_id):
        self.node(node_id).proc.send_signal(signal.SIGCONT)

    def stop_node(self, node_id, timeout=60):
        """A clean stop (SIGTERM: controlled shutdown, leadership handed over)."""
        n = self.node(node_id)
        if n.proc is None or n.proc.poll() is not None:
            return
        n.proc.send_signal(signal.SIGCONT)
        n.proc.terminate()
        try:
            n.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            n.proc.kill()
            n.proc.wait()

    def start_node(self, node_id, timeout=90):
        """Start a stopped or killed broker again, on its data and ports."""
        n = self.node(node_id)
        if n.proc is not None and n.proc.poll() is None:
            raise RuntimeError(f"broker {n.id} is running")
        self._spawn(n)
        self._wait_serving(n, timeout)

    def running(self, node_id):
        n = self.node(node_id)
        return n.proc is not None and n.proc.poll() is None

    def stop(self, clean=True, timeout=30):
        """Every broker: SIGTERM all at once and wait (a controller quorum
        shuts down together), SIGKILL what is left; clean=False kills at once
        (throwaway data)."""
        live = [n for n in self.nodes.values() if n.proc is not None and n.proc.poll() is None]
        for n in live:
            n.proc.send_signal(signal.SIGCONT)
            if clean:
                n.proc.terminate()
            else:
                n.proc.kill()
        deadline = time.monotonic() + timeout
        for n in live:
            try:
                n.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                n.proc.kill()
                n.proc.wait()

    def destroy(self):
        """Stop at once and remove the data, keeping each node's logs."""
        self.stop(clean=False)
        for n in self.nodes.values():
            shutil.rmtree(n.data, ignore_errors=True)
        if self.owned:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()

    # -- topics ------------------------------------------------------------

    def admin(self):
        """An AdminClient; quiet, as one destroyed right after its answer
        logs the events it left unread."""
        from confluent_kafka.admin import AdminClient
        return AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 4})

    def create_topic(self, names, partitions=None, replication=None, config=None):
        """One topic, or a list of them, in one request."""
        from confluent_kafka.admin import NewTopic
        topics = [NewTopic(name, num_partitions=partitions or int(self.settings["num.partitions"]),
                           replication_factor=replication or int(self.settings["default.replication.factor"]),
                           config=config or {})
                  for name in ([names] if isinstance(names, str) else names)]
        admin = self.admin()        # alive until the answer: its futures die with it
        for fut in admin.create_topics(topics, operation_timeout=30).values():
            fut.result()

    def delete_topic(self, name):
        admin = self.admin()
        for fut in admin.delete_topics([name], operation_timeout=30).values():
            fut.result()

    def leaders(self, topic):
        """{partition: leader broker id} of a topic."""
        md = self._metadata(self.bootstrap, 10, topic)
        return {p.id: p.leader for p in md.topics[topic].partitions.values()}


# -- command line -------------------------------------------------------------

def _serve(cluster):
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    actions = {"kill": cluster.kill, "stop": cluster.stop_node, "start": cluster.start_node,
               "pause": cluster.pause, "resume": cluster.resume}
    while not stop:
        try:
            line = sys.stdin.readline()
        except InterruptedError:
            continue
        if not line:
            break
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            return
        try:
            if words[0] not in actions or len(words) != 2:
                raise ValueError(f"unknown command {line.strip()!r}: kill|stop|start|pause|resume ID, quit")
            actions[words[0]](words[1])
            print("ok", flush=True)
        except Exception as e:      # noqa: BLE001 — reported to the caller
            print(f"error: {e}".replace("\n", " "), flush=True)
    while not stop:
        signal.pause()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("fetch", help="resolve the broker with Maven and print its classpath file")
    run = sub.add_parser("run", help="start brokers, print bootstrap.servers, take commands")
    run.add_argument("--brokers", type=int, default=1, choices=(1, 3))
    run.add_argument("--dir", help="data and logs here (default: a temporary directory, removed)")
    run.add_argument("--heap", help="maximum heap of each broker (default 512m; 1g with --profile bench)")
    run.add_argument("--profile", choices=sorted(PROFILES), default="test")
    args = ap.parse_args(argv)
    if args.cmd == "fetch":
        print(f"{len(classpath())} jars for {POM}")
        return 0
    cluster = KafkaCluster(args.brokers, root=args.dir, heap=args.heap, profile=args.profile)
    try:
        cluster.start()
        print(f"bootstrap.servers={cluster.bootstrap}", flush=True)
        _serve(cluster)
    finally:
        cluster.stop()
        if cluster.owned:
            shutil.rmtree(cluster.root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
