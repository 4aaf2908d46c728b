# otelbox's `nginx` and `redis` receivers against the real servers (Debian's nginx-light and
# redis-server, installed by scripts/test): nginx serves stub_status on a free port, redis-server
# runs with an ACL user on another, otelbox scrapes both every second, and the metrics API must
# serve the Collector's metrics with the servers' own figures. A redis receiver without the password
# fails every scrape (the default user is off): those failures are counted on /metrics.

import shutil
import socket
import time
from pathlib import Path

import pytest
import requests

from test_interop import OTELBOX_BIN, free_ports
from test_prometheus import Process, wait_for

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
REDIS_SERVER = shutil.which("redis-server")
PASSWORD = "s3cret"


def resp_command(port, *commands):
    """Sends RESP commands on one connection (after AUTH as the ACL user); returns the raw replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        replies = []
        for args in (("AUTH", "valkey", PASSWORD),) + commands:
            s.sendall(f"*{len(args)}\r\n".encode() + b"".join(f"${len(a)}\r\n{a}\r\n".encode() for a in args))
            replies.append(s.recv(4096))
        return replies


def redis_answers(port):
    try:
        return resp_command(port, ("PING",))[1].startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    assert NGINX and REDIS_SERVER, "Debian's nginx-light and redis-server are needed (scripts/test installs them)"
    tmp = tmp_path_factory.mktemp("scrapers")
    nginx_port, redis_port, ui_port = free_ports(3)
    started = []
    try:
        (tmp / "nginx").mkdir()
        nginx_conf = tmp / "nginx.conf"
        nginx_conf.write_text(
            f"""
daemon off;
worker_processes 1;
pid {tmp}/nginx/nginx.pid;
error_log {tmp}/nginx/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/nginx/body;
  proxy_temp_path {tmp}/nginx/proxy;
  fastcgi_temp_path {tmp}/nginx/fastcgi;
  uwsgi_temp_path {tmp}/nginx/uwsgi;
  scgi_temp_path {tmp}/nginx/scgi;
  server {{
    listen 127.0.0.1:{nginx_port};
    location /status {{ stub_status; }}
    location / {{ return 200 "hello\\n"; }}
  }}
}}
"""
        )
        nginx = Process([NGINX, "-c", str(nginx_conf), "-p", str(tmp / "nginx")], tmp / "nginx.log")
        started.append(nginx)
        wait_for("nginx answers", lambda: requests.get(f"http://127.0.0.1:{nginx_port}/status", timeout=2).ok, log=nginx.tail)

        acl = tmp / "users.acl"
        acl.write_text(f"user default off\nuser valkey on >{PASSWORD} ~* &* +@all\n")
        redis = Process(
            [
                REDIS_SERVER,
                "--port", str(redis_port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(tmp),
                "--aclfile", str(acl),
            ],
            tmp / "redis.log",
        )
        started.append(redis)
        wait_for("redis-server answers", lambda: redis_answers(redis_port), log=redis.tail)

        config = tmp / "otelbox.yaml"
        config.write_text(
            f"""
receivers:
  nginx:
    endpoint: http://127.0.0.1:{nginx_port}/status
    collection_interval: 1s
    initial_delay: 0s
  redis:
    endpoint: "127.0.0.1:{redis_port}"
    username: valkey
    password: {PASSWORD}
    collection_interval: 1s
    initial_delay: 0s
    resource_attributes:
      server.port: {{ enabled: true }}
  redis/nopassword:
    endpoint: "127.0.0.1:{redis_port}"
    username: valkey
    collection_interval: 1s
    initial_delay: 0s
exporters:
  otelbox: {{}}
service:
  pipelines:
    metrics: {{ receivers: [nginx, redis, redis/nopassword], exporters: [otelbox] }}
"""
        )
        box = Process([str(OTELBOX_BIN), "up", "--memory", "--config", str(config), "--ui-port", str(ui_port)], tmp / "otelbox.log")
        started.append(box)
        api = f"http://127.0.0.1:{ui_port}"
        wait_for("otelbox is ready", lambda: requests.get(f"{api}/readyz", timeout=2).ok, log=box.tail)
        yield {"api": api, "box": box, "nginx_port": nginx_port, "redis_port": redis_port}
    finally:
        for process in reversed(started):
            process.stop()


def names(api):
    return {m["name"] for m in requests.get(f"{api}/api/v1/metrics", timeout=5).json()["metrics"]}


def last_values(api, name, group_by=None):
    """{labels as a sorted tuple: the last value} of a metric over the last 5 minutes."""
    params = {"since": "5m", "agg": "last"}
    if group_by:
        params["group_by"] = group_by
    response = requests.get(f"{api}/api/v1/metrics/{name}/series", params=params, timeout=5)
    if response.status_code == 404:
        return {}
    series = response.json()["series"]
    return {tuple(sorted((k, str(v)) for k, v in s["labels"].items())): s["points"][-1][1] for s in series if s["points"]}


def test_nginx_stub_status_is_scraped_into_the_collectors_metrics(stack):
    api, box, port = stack["api"], stack["box"], stack["nginx_port"]
    for _ in range(5):
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    expected = {"nginx.requests", "nginx.connections_accepted", "nginx.connections_handled", "nginx.connections_current"}
    wait_for("nginx's metrics in the store", lambda: expected <= names(api), log=box.tail)
    # nginx counted the 5 requests above, the readiness probe and otelbox's own scrapes.
    requests_total = wait_for(
        "nginx.requests counts the requests nginx served",
        lambda: (v := last_values(api, "nginx.requests")) and max(v.values()) >= 6 and v,
        log=box.tail,
    )
    assert len(requests_total) == 1, requests_total
    states = wait_for(
        "nginx.connections_current by state",
        lambda: (v := last_values(api, "nginx.connections_current", "state")) and len(v) == 4 and v,
        log=box.tail,
    )
    by_state = {dict(labels)["state"]: value for labels, value in states.items()}
    assert set(by_state) == {"active", "reading", "writing", "waiting"}, by_state
    assert by_state["active"] >= 1, f"the scrape's own connection is active: {by_state}"
    accepted = max(last_values(api, "nginx.connections_accepted").values())
    handled = max(last_values(api, "nginx.connections_handled").values())
    assert accepted >= 1 and handled >= 1, (accepted, handled)


def test_redis_info_is_scraped_into_the_collectors_metrics(stack):
    api, box, port = stack["api"], stack["box"], stack["redis_port"]
    replies = resp_command(port, ("SET", "a", "1"), ("SET", "b", "2"), ("SELECT", "2"), ("SETEX", "c", "1000", "3"))
    assert all(reply.startswith(b"+OK") for reply in replies), replies
    expected = {"redis.uptime", "redis.memory.used", "redis.clients.connected", "redis.commands.processed", "redis.cpu.time", "redis.db.keys"}
    wait_for("redis's metrics in the store", lambda: expected <= names(api), log=box.tail)
    keys = wait_for(
        "redis.db.keys for databases 0 and 2",
        lambda: (v := last_values(api, "redis.db.keys", "db")) and {dict(k).get("db") for k in v} >= {"0", "2"} and v,
        log=box.tail,
    )
    by_db = {dict(labels)["db"]: value for labels, value in keys.items()}
    assert by_db["0"] == 2 and by_db["2"] == 1, by_db
    expires = {dict(labels)["db"]: value for labels, value in last_values(api, "redis.db.expires", "db").items()}
    assert expires.get("2") == 1, expires
    assert max(last_values(api, "redis.memory.used").values()) > 100_000
    cpu = last_values(api, "redis.cpu.time", "state")
    assert {dict(labels)["state"] for labels in cpu} >= {"sys", "user", "sys_children", "user_children"}, cpu
    assert "redis.cmd.calls" not in names(api), "optional metrics stay off by default"


def test_failed_scrapes_are_counted(stack):
    api, box = stack["api"], stack["box"]

    def scrape_errors():
        text = requests.get(f"{api}/metrics", timeout=5).text
        for line in text.splitlines():
            if line.startswith('otelbox_receiver_scrape_errors_total{signal="metrics"}'):
                return float(line.split()[-1])
        return 0.0

    # redis/nopassword connects as the default user, which is off: every INFO is refused.
    wait_for("the refused scrapes are counted", lambda: scrape_errors() >= 2, log=box.tail)
    assert "NOAUTH" in box.tail(200) or "nothing is sent" in box.tail(200), box.tail(200)
