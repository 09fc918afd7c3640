"""docker-compose.yml: valid for docker-compose, every service the stack
needs with its healthcheck and start order, and its files (init SQL, daemon
configs, orders writer) working against real servers here: the
least-privilege role streams the snapshot and changes, walsink applies them
through the stack's table mapping and rules."""

import os
import re
import subprocess
import time

import yaml

from support.binaries import REPO, WALSINK, WALSTREAMER
from support.checks import wait_for
from support.ports import free_port

COMPOSE = os.path.join(REPO, "docker-compose.yml")


def compose_config():
    out = subprocess.run(["docker-compose", "-f", COMPOSE, "config"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def rows(cluster, table):
    """Rows in table, or None while it does not exist."""
    try:
        return int(cluster.psql(f"SELECT count(*) FROM {table}"))
    except subprocess.CalledProcessError:
        return None


def test_compose_file_is_valid_and_complete():
    services = compose_config()["services"]
    assert set(services) == {"source", "kafka", "target", "walstreamer", "walsink", "orders-writer"}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"   # KRaft
    for name in ("source", "kafka", "target", "walstreamer", "walsink"):
        assert "healthcheck" in services[name], name

    def waits_for(name):
        return {k: v["condition"] for k, v in services[name]["depends_on"].items()}
    assert waits_for("walstreamer") == {"source": "service_healthy", "kafka": "service_healthy"}
    assert waits_for("walsink")["target"] == "service_healthy"
    assert waits_for("walsink")["kafka"] == "service_healthy"
    assert waits_for("orders-writer")["source"] == "service_healthy"

    # Metrics are published on the host's loopback only, and the daemons
    # listen where the publishing reaches them.
    def published(port):
        if isinstance(port, dict):      # docker compose v2's long form
            return port.get("host_ip"), str(port["published"]), str(port["target"])
        host_ip, published_port, target_port = port.rsplit(":", 2) if port.count(":") == 2 \
            else (None,) + tuple(port.split(":"))
        return host_ip, published_port, target_port.split("/")[0]
    for name, metrics_port, conf in (("walstreamer", "9187", "walstreamer.conf"),
                                     ("walsink", "9188", "walsink.conf")):
        assert [published(p) for p in services[name]["ports"]] == \
            [("127.0.0.1", metrics_port, metrics_port)], services[name]["ports"]
        with open(os.path.join(REPO, "docker", conf)) as f:
            assert re.search(rf"^metrics\.listen = 0\.0\.0\.0:{metrics_port}$", f.read(), re.M), conf
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert published(port)[0] == "127.0.0.1", (name, port)

    # Build targets exist in the Dockerfile; mounted files exist in the repo.
    with open(os.path.join(REPO, "docker", "Dockerfile")) as f:
        stages = set(re.findall(r"^FROM \S+ AS (\S+)$", f.read(), re.M))
    for name, svc in services.items():
        if "build" in svc:
            assert svc["build"]["target"] in stages, name
        for vol in svc.get("volumes", []):
            src = vol["source"] if isinstance(vol, dict) else vol.split(":")[0]
            if src.startswith(("/", ".")):
                assert os.path.exists(os.path.join(REPO, src)), (name, src)


def test_stack_configs_work(source, target, broker, tmp_path):
    """The stack's own files, with only addresses changed: the init SQL on the
    source and the target, walstreamer as the pgcdc role, walsink as the
    walsink role (no superuser) with its table map and rules,
    the orders writer; the target's analytics.fct_orders equals the source."""
    source.psql("DROP EXTENSION pgcdc")
    with open(os.path.join(REPO, "docker", "source-init.sql")) as f:
        source.psql(f.read())
    with open(os.path.join(REPO, "docker", "target-init.sql")) as f:
        target.psql(f.read())
    source.psql("INSERT INTO orders (customer, amount, status) "
                "SELECT 'before ' || g, g, 'new' FROM generate_series(1, 50) g")
    procs = []
    env = dict(os.environ)
    env.update({
        "WALSTREAMER_SOURCE": f"host={source.host} port={source.port} user=pgcdc dbname=postgres",
        "WALSTREAMER_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "WALSTREAMER_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "WALSTREAMER_HEARTBEAT_INTERVAL_MS": "500",     # the role may emit heartbeats
        "WALSINK_TARGET": target.dsn().replace("user=postgres", "user=walsink"),
        "WALSINK_METRICS_LISTEN": f"127.0.0.1:{free_port()}",
        "WALSINK_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
    })
    try:
        for binary, conf in ((WALSTREAMER, "walstreamer.conf"), (WALSINK, "walsink.conf")):
            procs.append(subprocess.Popen(
                [binary, "--config", os.path.join(REPO, "docker", conf)], env=env,
                stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{conf}.log", "w")))
        logs = lambda: "".join((tmp_path / f"{c}.log").read_text()  # noqa: E731
                               for c in ("walstreamer.conf", "walsink.conf"))
        try:
            wait_for(lambda: rows(target, "analytics.fct_orders") == 50,
                     what="the snapshot in analytics.fct_orders", timeout=60)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{logs()}")
        writer = subprocess.Popen(["/bin/sh", os.path.join(REPO, "docker", "orders-writer.sh")],
                                  env={**os.environ, "RATE": "100", "PGHOST": source.host,
                                       "PGPORT": str(source.port), "PGUSER": "postgres",
                                       "PGDATABASE": "postgres"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(4)
        writer.terminate()
        assert "ERROR" not in writer.communicate(timeout=10)[1]
        for p in procs:
            assert p.poll() is None, logs()
        cols = "id, customer, amount, status, created_at, updated_at"
        q = "SELECT {} FROM {} ORDER BY id"
        want = source.psql(q.format(cols, "orders"))
        assert want.count("\n") > 100, "the writer wrote little"
        wait_for(lambda: target.psql(q.format(cols, "analytics.fct_orders")) == want,
                 what="analytics.fct_orders equal to orders", timeout=60)
        assert target.psql("SELECT count(*) FROM analytics.failed_events") == "0"
        assert " ERROR: " not in logs(), logs()
        assert "superuser" not in logs(), logs()
    finally:
        for p in procs:
            p.terminate()
            p.wait(30)
