# otelbox between real Prometheus components (Debian's packages, installed by scripts/test):
# its `prometheus` receiver scrapes prometheus-node-exporter, the samples are stored and served by
# the metrics API, its `prometheus` exporter is scraped in turn by a real Prometheus server, and its
# `prometheusremotewrite` exporter writes into the same server's remote-write receiver; Prometheus's
# own query API must answer with node-exporter's series both ways.

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from test_interop import OTELBOX_BIN, free_ports

NODE_EXPORTER = shutil.which("prometheus-node-exporter")
PROMETHEUS = shutil.which("prometheus")
TIMEOUT_S = 30


def wait_for(what, check, timeout=TIMEOUT_S, log=lambda: ""):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except requests.RequestException as exc:
            last = repr(exc)
        time.sleep(0.25)
    pytest.fail(f"{what} within {timeout}s (last error: {last})\n{log()}", pytrace=False)


class Process:
    def __init__(self, cmd, log_path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def tail(self, n=40):
        return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-n:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    assert NODE_EXPORTER and PROMETHEUS, "Debian's prometheus and prometheus-node-exporter are needed (scripts/test installs them)"
    tmp = tmp_path_factory.mktemp("prometheus")
    node_port, exporter_port, ui_port, prometheus_port = free_ports(4)
    # Remote writes may arrive before Prometheus listens: the exporter's queue retries them.
    started = []
    try:
        node = Process([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{node_port}"], tmp / "node.log")
        started.append(node)
        wait_for("node-exporter answers", lambda: requests.get(f"http://127.0.0.1:{node_port}/metrics", timeout=2).ok, log=node.tail)

        config = tmp / "otelbox.yaml"
        config.write_text(
            f"""
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: node
          scrape_interval: 1s
          static_configs: [{{ targets: ["127.0.0.1:{node_port}"] }}]
exporters:
  otelbox: {{}}
  prometheus: {{ endpoint: "127.0.0.1:{exporter_port}" }}
  prometheusremotewrite: {{ endpoint: "http://127.0.0.1:{prometheus_port}/api/v1/write" }}
service:
  pipelines:
    metrics: {{ receivers: [prometheus], exporters: [otelbox, prometheus, prometheusremotewrite] }}
"""
        )
        box = Process([str(OTELBOX_BIN), "up", "--memory", "--config", str(config), "--ui-port", str(ui_port)], tmp / "otelbox.log")
        started.append(box)
        api = f"http://127.0.0.1:{ui_port}"
        wait_for("otelbox is ready", lambda: requests.get(f"{api}/readyz", timeout=2).ok, log=box.tail)

        prometheus_config = tmp / "prometheus.yml"
        prometheus_config.write_text(
            f"""
global: {{ scrape_interval: 1s, evaluation_interval: 1s }}
scrape_configs:
  - job_name: otelbox
    static_configs: [{{ targets: ["127.0.0.1:{exporter_port}"] }}]
"""
        )
        prometheus = Process(
            [
                PROMETHEUS,
                f"--config.file={prometheus_config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
                "--web.enable-remote-write-receiver",
            ],
            tmp / "prometheus.log",
        )
        started.append(prometheus)
        yield {"api": api, "box": box, "prometheus": f"http://127.0.0.1:{prometheus_port}", "prometheus_log": prometheus}
    finally:
        for process in reversed(started):
            process.stop()


def test_node_exporter_samples_scraped_by_the_prometheus_receiver_are_stored_and_served(stack):
    api, box = stack["api"], stack["box"]

    def names():
        body = requests.get(f"{api}/api/v1/metrics", timeout=5).json()
        return {m["name"] for m in body["metrics"]}

    seen = wait_for("node-exporter's metrics in the store", lambda: {"node_cpu_seconds_total", "node_memory_MemTotal_bytes", "up"} <= names() and names(), log=box.tail)
    assert "scrape_duration_seconds" in seen, sorted(seen)[:50]
    series = requests.get(f"{api}/api/v1/metrics/up/series", params={"since": "5m", "agg": "last"}, timeout=5).json()["series"]
    assert series and series[0]["points"][-1][1] == 1.0, f"the target is up: {series}"
    memory = requests.get(f"{api}/api/v1/metrics/node_memory_MemTotal_bytes/series", params={"since": "5m", "agg": "last"}, timeout=5).json()["series"]
    assert memory and memory[0]["points"][-1][1] > 1e6, f"MemTotal as node-exporter reports it: {memory}"


def test_a_real_prometheus_scrapes_the_prometheus_exporter_and_answers_queries_on_it(stack):
    prometheus = stack["prometheus"]

    def query(expr):
        body = requests.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
        return body["data"]["result"] if body.get("status") == "success" else []

    up = wait_for("Prometheus sees otelbox's exporter up", lambda: query('up{job="otelbox"} == 1'), log=stack["prometheus_log"].tail)
    assert up[0]["metric"]["job"] == "otelbox"
    memory = wait_for("node-exporter's MemTotal through otelbox into Prometheus", lambda: query("node_memory_MemTotal_bytes"), log=stack["box"].tail)
    assert float(memory[0]["value"][1]) > 1e6, memory
    cpu = wait_for("a counter through otelbox into Prometheus", lambda: query("node_cpu_seconds_total"), log=stack["box"].tail)
    assert all(float(sample["value"][1]) >= 0 for sample in cpu)


def test_the_prometheusremotewrite_exporter_writes_into_a_real_prometheus(stack):
    prometheus = stack["prometheus"]

    def query(expr):
        body = requests.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
        return body["data"]["result"] if body.get("status") == "success" else []

    # Remote-written series carry the scrape's own job ("node", from service.name); the series
    # Prometheus scraped from the prometheus exporter carry job="otelbox".
    memory = wait_for("MemTotal remote-written with job=node", lambda: query('node_memory_MemTotal_bytes{job="node"}'), log=stack["box"].tail)
    assert float(memory[0]["value"][1]) > 1e6, memory
    assert memory[0]["metric"].get("instance", "").startswith("127.0.0.1:"), memory
    cpu = wait_for("a counter remote-written", lambda: query('node_cpu_seconds_total{job="node"}'), log=stack["box"].tail)
    assert all(float(sample["value"][1]) >= 0 for sample in cpu)
