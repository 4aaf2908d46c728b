# Real-SDK interoperability tests for otelbox.
#
# Starts one `otelbox up --memory` for the module, then for each
# (sender, protocol) - Python SDK over gRPC, Python SDK over HTTP/protobuf,
# JS SDK over HTTP/JSON - runs the sender script with a unique run marker and
# checks through otelbox's JSON query API that the traces, metrics and logs
# arrived intact (names, kinds, ids, parent/child, typed attributes, events,
# links, status, resource, scope, metric types and series, log bodies,
# severities and trace correlation).
#
# Nothing here skips: a missing binary, node, npm packages or pip packages is
# a failure. Install the dependencies with tests/interop/setup.sh and build
# the binary (target/debug/otelbox, or set OTELBOX_BIN) first.

import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OTELBOX_BIN = Path(os.environ.get("OTELBOX_BIN", REPO / "target" / "debug" / "otelbox"))
NODE = os.environ.get("NODE", "node")

READY_TIMEOUT_S = 20
POLL_TIMEOUT_S = 10  # data should be queryable at once; poll to be robust
SENDER_TIMEOUT_S = 120
# Slack around the [sender start, sender end] window that every timestamp must
# fall in: the JS SDK rounds some times to milliseconds and its clock is
# performance.timeOrigin-based. Still catches unit errors (ms/us vs ns).
CLOCK_SLACK_NS = 1_000_000_000

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
BYTES_B64 = base64.b64encode(b"\x00\x01\xfebin").decode()  # "AAH+Ymlu"

# Attributes every sender puts on its root span (JS cannot send bytes or
# maps as span attributes, the Python SDK can).
COMMON_ROOT_ATTRS = {
    "attr.string": "hello",
    "attr.bool": True,
    "attr.int": 42,
    "attr.int_big": 1099511627776,
    "attr.int_negative": -7,
    "attr.double": 3.25,
    "attr.string_array": ["a", "b", "c"],
    "attr.int_array": [1, 2, 3],
    "attr.double_array": [1.5, 2.5],
    "attr.bool_array": [True, False],
}
PY_ROOT_ATTRS = {
    **COMMON_ROOT_ATTRS,
    "attr.bytes": BYTES_B64,
    "attr.map": {"inner.string": "v", "inner.int": 1},
}
EVENT_ATTRS = {"event.string": "something happened", "event.int": 7, "event.bool": False}
CHILD_ATTRS = {"peer.service": "downstream", "http.response.status_code": 503}
LINK_ATTRS = {"link.reason": "retry-of"}
MAP_BODY = {
    "event": "checkout",
    "items": 3,
    "total": 12.5,
    "ok": True,
    "tags": ["x", "y"],
    "nested": {"k": "v"},
}

SENDERS = {
    # id: (span/log name prefix, telemetry.sdk.language, root span attributes)
    "py-grpc": ("py", "python", PY_ROOT_ATTRS),
    "py-http-protobuf": ("py", "python", PY_ROOT_ATTRS),
    "js-http-json": ("js", "nodejs", COMMON_ROOT_ATTRS),
}


# --------------------------------------------------------------------------
# otelbox process
# --------------------------------------------------------------------------


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (all held open until chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Otelbox:
    def __init__(self, proc, log_path, grpc_port, http_port, ui_port):
        self.proc = proc
        self.log_path = log_path
        self.grpc_port = grpc_port
        self.http_port = http_port
        self.ui_port = ui_port
        self.api = f"http://127.0.0.1:{ui_port}"
        self.grpc_endpoint = f"http://127.0.0.1:{grpc_port}"
        self.http_endpoint = f"http://127.0.0.1:{http_port}"

    def log_tail(self, n=60):
        try:
            lines = Path(self.log_path).read_text(errors="replace").splitlines()
        except OSError as exc:
            return f"(no otelbox log: {exc})"
        return "\n".join(lines[-n:])

    def get(self, path, **params):
        r = requests.get(self.api + path, params=params, timeout=10)
        assert r.status_code == 200, f"GET {r.url} -> {r.status_code}: {r.text[:500]}"
        return r.json()


@pytest.fixture(scope="module")
def otelbox(tmp_path_factory):
    if not OTELBOX_BIN.is_file() or not os.access(OTELBOX_BIN, os.X_OK):
        pytest.fail(
            f"otelbox binary not found at {OTELBOX_BIN}: build it (cargo build) or set OTELBOX_BIN",
            pytrace=False,
        )
    grpc_port, http_port, ui_port = free_ports(3)
    log_path = tmp_path_factory.mktemp("otelbox") / "otelbox.log"
    cmd = [
        str(OTELBOX_BIN),
        "up",
        "--memory",
        "--listen",
        "127.0.0.1",
        "--grpc-port",
        str(grpc_port),
        "--http-port",
        str(http_port),
        "--ui-port",
        str(ui_port),
    ]
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    box = Otelbox(proc, log_path, grpc_port, http_port, ui_port)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = None
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"otelbox exited with {proc.returncode} before becoming ready\n"
                    f"command: {' '.join(cmd)}\n--- otelbox log ---\n{box.log_tail()}",
                    pytrace=False,
                )
            try:
                r = requests.get(f"{box.api}/readyz", timeout=1)
                if r.status_code == 200:
                    break
                last = f"HTTP {r.status_code}"
            except requests.RequestException as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                pytest.fail(
                    f"otelbox not ready after {READY_TIMEOUT_S}s (last: {last})\n"
                    f"command: {' '.join(cmd)}\n--- otelbox log ---\n{box.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.1)
        yield box
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def run_sender(box, cmd):
    """Run a sender script; return its SUMMARY dict or fail with its output."""
    # OTEL_* settings from the environment (endpoints, compression, temporality,
    # resource attributes, ...) must not change what the senders send.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    try:
        p = subprocess.run(
            cmd,
            cwd=HERE,
            env=env,
            capture_output=True,
            text=True,
            timeout=SENDER_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        pytest.fail(f"cannot run {cmd[0]!r}: {exc} (run tests/interop/setup.sh)", pytrace=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"sender timed out after {SENDER_TIMEOUT_S}s: {cmd}\nstdout:\n{exc.stdout}\nstderr:\n{exc.stderr}"
            f"\n--- otelbox log ---\n{box.log_tail()}",
            pytrace=False,
        )
    summary = None
    for line in p.stdout.splitlines():
        if line.startswith("SUMMARY "):
            summary = json.loads(line[len("SUMMARY "):])
    if p.returncode != 0 or summary is None:
        pytest.fail(
            f"sender failed (exit {p.returncode}): {' '.join(map(str, cmd))}\n"
            f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}\n--- otelbox log ---\n{box.log_tail()}",
            pytrace=False,
        )
    return summary


def poll(fn, timeout=POLL_TIMEOUT_S, interval=0.2):
    """Call fn until it returns without AssertionError; re-raise the last one."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(interval)


def check_value(path, actual, expected):
    """actual (from the API's JSON) equals expected with the same JSON type."""
    if isinstance(expected, bool):
        assert type(actual) is bool and actual == expected, (
            f"{path}: expected bool {expected!r}, got {actual!r} ({type(actual).__name__})"
        )
    elif isinstance(expected, int):
        assert type(actual) is int and actual == expected, (
            f"{path}: expected int {expected!r}, got {actual!r} ({type(actual).__name__})"
        )
    elif isinstance(expected, float):
        assert type(actual) is float and actual == expected, (
            f"{path}: expected float {expected!r}, got {actual!r} ({type(actual).__name__})"
        )
    elif isinstance(expected, str):
        assert type(actual) is str and actual == expected, (
            f"{path}: expected string {expected!r}, got {actual!r} ({type(actual).__name__})"
        )
    elif isinstance(expected, (list, tuple)):
        assert type(actual) is list, f"{path}: expected a list {expected!r}, got {actual!r}"
        assert len(actual) == len(expected), f"{path}: expected {expected!r}, got {actual!r}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            check_value(f"{path}[{i}]", a, e)
    elif isinstance(expected, dict):
        assert type(actual) is dict, f"{path}: expected an object {expected!r}, got {actual!r}"
        assert set(actual) == set(expected), f"{path}: expected keys {sorted(expected)}, got {sorted(actual)}"
        for k, e in expected.items():
            check_value(f"{path}.{k}", actual[k], e)
    else:
        raise TypeError(f"unsupported expected value at {path}: {expected!r}")


def check_attrs(path, actual, expected):
    """Every expected attribute is present in actual with its value and type
    (actual may hold more, e.g. SDK-added ones)."""
    assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
    for k, e in expected.items():
        assert k in actual, f"{path}: attribute {k!r} missing; have {sorted(actual)}"
        check_value(f"{path}[{k!r}]", actual[k], e)


def check_int(path, v, minimum=None):
    assert type(v) is int, f"{path}: expected an int, got {v!r} ({type(v).__name__})"
    if minimum is not None:
        assert v >= minimum, f"{path}: expected >= {minimum}, got {v}"


def mentions(obj, value):
    """True if value occurs anywhere in a (nested) JSON value."""
    if obj == value:
        return True
    if isinstance(obj, dict):
        return any(mentions(v, value) for v in obj.values())
    if isinstance(obj, list):
        return any(mentions(v, value) for v in obj)
    return False


def q_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Checks:
    """Runs groups of checks, collecting failures so one report shows all."""

    def __init__(self, box):
        self.box = box
        self.failures = []

    def run(self, name, fn):
        try:
            fn()
        except AssertionError as exc:
            self.failures.append(f"[{name}] {exc}")
        except requests.RequestException as exc:
            self.failures.append(f"[{name}] request failed: {exc!r}")

    def finish(self):
        if self.failures:
            pytest.fail(
                "\n\n".join(self.failures) + f"\n\n--- otelbox log (tail) ---\n{self.box.log_tail()}",
                pytrace=False,
            )


# --------------------------------------------------------------------------
# the checks, shared by all senders
# --------------------------------------------------------------------------


def check_span_common(path, span, s, service, lang, window):
    check_value(f"{path}.trace_id", span["trace_id"], s["trace_id"])
    assert HEX32.match(span["trace_id"]), f"{path}.trace_id not 32 lowercase hex: {span['trace_id']!r}"
    assert HEX16.match(span["span_id"]), f"{path}.span_id not 16 lowercase hex: {span['span_id']!r}"
    check_value(f"{path}.service", span["service"], service)
    check_int(f"{path}.start_unix_nano", span["start_unix_nano"], window[0])
    check_int(f"{path}.end_unix_nano", span["end_unix_nano"], span["start_unix_nano"])
    assert span["end_unix_nano"] <= window[1], f"{path}.end_unix_nano {span['end_unix_nano']} after the send window"
    check_int(f"{path}.duration_ns", span["duration_ns"], 0)
    assert span["duration_ns"] == span["end_unix_nano"] - span["start_unix_nano"], (
        f"{path}.duration_ns {span['duration_ns']} != end - start"
    )
    check_attrs(
        f"{path}.resource",
        span["resource"],
        {
            "service.name": service,
            "run.marker": s["marker"],
            "deployment.environment": "test",
            "telemetry.sdk.language": lang,
        },
    )
    check_value(f"{path}.scope", {k: span["scope"].get(k) for k in ("name", "version")},
                {"name": "interop.scope", "version": "1.2.3"})


def check_traces(box, s, prefix, lang, root_attrs, window):
    service, marker = s["service"], s["marker"]

    # -- trace search by a resource attribute found through a bare key
    def listed():
        traces = box.get("/api/v1/traces", q=f"run.marker = {q_str(marker)}", limit=50)["traces"]
        by_id = {t["trace_id"]: t for t in traces}
        assert s["trace_id"] in by_id, f"trace {s['trace_id']} not in /api/v1/traces?q=run.marker: {traces!r}"
        assert s["link_trace_id"] in by_id, f"link target trace {s['link_trace_id']} not listed: {traces!r}"
        assert set(by_id) == {s["trace_id"], s["link_trace_id"]}, (
            f"run.marker filter returned foreign traces: {sorted(by_id)}"
        )
        return by_id

    by_id = poll(listed)
    t = by_id[s["trace_id"]]
    check_value("trace.root_service", t["root_service"], service)
    check_value("trace.root_name", t["root_name"], f"{prefix}-root")
    check_value("trace.span_count", t["span_count"], 2)
    check_value("trace.error_count", t["error_count"], 1)
    check_value("trace.services", t["services"], [service])
    check_int("trace.start_unix_nano", t["start_unix_nano"], window[0])
    check_int("trace.duration_ns", t["duration_ns"], 0)
    check_value("link trace.root_name", by_id[s["link_trace_id"]]["root_name"], f"{prefix}-link-target")

    # -- the full trace
    def full():
        tr = box.get(f"/api/v1/traces/{s['trace_id']}")
        assert len(tr["spans"]) == 2, f"expected 2 spans in trace, got {len(tr['spans'])}: {tr!r}"
        return tr

    tr = poll(full)
    check_value("trace.trace_id", tr["trace_id"], s["trace_id"])
    spans = {sp["name"]: sp for sp in tr["spans"]}
    assert set(spans) == {f"{prefix}-root", f"{prefix}-child"}, f"span names: {sorted(spans)}"
    root, child = spans[f"{prefix}-root"], spans[f"{prefix}-child"]

    check_span_common("root", root, s, service, lang, window)
    check_value("root.span_id", root["span_id"], s["root_span_id"])
    check_value("root.parent_span_id", root["parent_span_id"], "")
    check_value("root.kind", root["kind"], "server")
    check_value("root.status.code", root["status"]["code"], "unset")
    check_attrs("root.attributes", root["attributes"], root_attrs)
    assert len(root["events"]) == 1, f"root.events: {root['events']!r}"
    ev = root["events"][0]
    check_value("root.events[0].name", ev["name"], f"{prefix}-event")
    check_value("root.events[0].attributes", ev["attributes"], EVENT_ATTRS)
    check_int("root.events[0].time_unix_nano", ev["time_unix_nano"], root["start_unix_nano"])
    assert ev["time_unix_nano"] <= root["end_unix_nano"], "event time after root end"
    check_value("root.links", root["links"], [])

    check_span_common("child", child, s, service, lang, window)
    check_value("child.trace_id == root.trace_id", child["trace_id"], root["trace_id"])
    check_value("child.span_id", child["span_id"], s["child_span_id"])
    check_value("child.parent_span_id", child["parent_span_id"], root["span_id"])
    check_value("child.kind", child["kind"], "client")
    check_value("child.status", {k: child["status"].get(k) for k in ("code", "message")},
                {"code": "error", "message": f"{prefix} child failed"})
    check_attrs("child.attributes", child["attributes"], CHILD_ATTRS)
    assert len(child["links"]) == 1, f"child.links: {child['links']!r}"
    link = child["links"][0]
    check_value("child.links[0].trace_id", link["trace_id"], s["link_trace_id"])
    check_value("child.links[0].span_id", link["span_id"], s["link_span_id"])
    assert HEX32.match(link["trace_id"]) and HEX16.match(link["span_id"]), f"link ids not hex: {link!r}"
    check_value("child.links[0].attributes", link["attributes"], LINK_ATTRS)
    check_value("child.events", child["events"], [])
    assert child["start_unix_nano"] >= root["start_unix_nano"], "child starts before root"

    # -- the link target is a real stored span
    lt = box.get(f"/api/v1/traces/{s['link_trace_id']}")
    assert [sp["span_id"] for sp in lt["spans"]] == [s["link_span_id"]], f"link target trace: {lt!r}"
    check_value("link target.name", lt["spans"][0]["name"], f"{prefix}-link-target")
    check_value("link target.kind", lt["spans"][0]["kind"], "internal")
    check_value("link target.parent_span_id", lt["spans"][0]["parent_span_id"], "")


def check_span_queries(box, s, prefix):
    service, marker = s["service"], s["marker"]

    # bare key: span attribute run.marker on the link target, resource attribute on the others
    spans = box.get("/api/v1/spans", q=f"run.marker = {q_str(marker)}", limit=100)["spans"]
    check_value("spans?q=run.marker names", sorted(sp["name"] for sp in spans),
                sorted([f"{prefix}-child", f"{prefix}-link-target", f"{prefix}-root"]))

    # explicit resource attribute
    spans = box.get("/api/v1/spans", q=f"resource.run.marker = {q_str(marker)}", limit=100)["spans"]
    check_value("spans?q=resource.run.marker names", sorted(sp["name"] for sp in spans),
                sorted([f"{prefix}-child", f"{prefix}-link-target", f"{prefix}-root"]))

    # service + status
    spans = box.get("/api/v1/spans", q=f"service = {q_str(service)} and status = error", limit=100)["spans"]
    check_value("spans?q=service and status=error names", [sp["name"] for sp in spans], [f"{prefix}-child"])
    check_value("error span status", spans[0]["status"]["code"], "error")

    # name
    spans = box.get("/api/v1/spans", q=f"name = {q_str(prefix + '-root')} and run.marker = {q_str(marker)}",
                    limit=100)["spans"]
    check_value("spans?q=name ids", [sp["span_id"] for sp in spans], [s["root_span_id"]])

    # services overview
    services = {x["name"]: x for x in box.get("/api/v1/services")["services"]}
    assert service in services, f"{service} not in /api/v1/services: {sorted(services)}"
    svc = services[service]
    check_int("services.spans", svc["spans"], 3)
    check_int("services.errors", svc["errors"], 1)
    check_int("services.last_seen_unix_nano", svc["last_seen_unix_nano"], 1)


def check_metrics(box, s):
    prefix = s["metric_prefix"]
    expected = {
        f"{prefix}.requests": ("sum", "1", "requests served", 7),
        f"{prefix}.queue_depth": ("sum", "1", "queue depth", 3),
        f"{prefix}.latency": ("histogram", "ms", "request latency", None),
        f"{prefix}.temperature": ("gauge", "Cel", "room temperature", 21.5),
    }

    def listed():
        metrics = {m["name"]: m for m in box.get("/api/v1/metrics")["metrics"]}
        missing = sorted(set(expected) - set(metrics))
        assert not missing, f"metrics missing from /api/v1/metrics: {missing}; have {sorted(metrics)}"
        return metrics

    metrics = poll(listed)
    for name, (mtype, unit, desc, _) in expected.items():
        m = metrics[name]
        check_value(f"{name}.type", m["type"], mtype)
        check_value(f"{name}.unit", m["unit"], unit)
        check_value(f"{name}.description", m["description"], desc)

    def series_of(name, **params):
        path = f"/api/v1/metrics/{quote(name, safe='')}/series"
        series = box.get(path, since="1h", **params)["series"]
        assert series, f"no series for {name} {params}"
        ours = [x for x in series if mentions(x["labels"], s["marker"])]
        assert len(ours) == 1, f"{name}: expected one series labelled with the run marker, got {series!r}"
        ser = ours[0]
        assert mentions(ser["labels"], "/checkout"), f"{name}: data point attribute route missing: {ser['labels']!r}"
        assert ser["points"], f"{name} {params}: series has no points"
        for p in ser["points"]:
            assert isinstance(p, list) and len(p) == 2, f"{name}: bad point {p!r}"
            check_int(f"{name} point time", p[0], 1)
            assert isinstance(p[1], (int, float)) and not isinstance(p[1], bool), f"{name}: bad value {p!r}"
        return ser

    for name, (mtype, _, _, last) in expected.items():
        if mtype == "histogram":
            ser = series_of(name, agg="count")
            assert ser["points"][-1][1] == 4, f"{name} agg=count last point {ser['points'][-1]}, expected 4"
            ser = series_of(name, agg="p50")
            p50 = ser["points"][-1][1]
            assert 5 <= p50 <= 50, f"{name} agg=p50 = {p50}, expected within [5, 50] for 5, 12.5, 40, 250"
        else:
            ser = series_of(name, agg="last")
            assert ser["points"][-1][1] == last, f"{name}: last point {ser['points'][-1]}, expected value {last}"


def check_logs(box, s, prefix, lang, window):
    service, marker = s["service"], s["marker"]

    def listed():
        logs = box.get("/api/v1/logs", q=f"run.marker = {q_str(marker)}", service=service, limit=50)["logs"]
        assert len(logs) == 2, f"expected 2 logs for the run marker, got {len(logs)}: {logs!r}"
        return logs

    logs = poll(listed)
    by_kind = {lg["attributes"].get("log.kind"): lg for lg in logs}
    assert set(by_kind) == {"string", "map"}, f"log.kind attributes: {sorted(map(str, by_kind))}"
    for kind, lg in by_kind.items():
        path = f"log[{kind}]"
        check_value(f"{path}.service", lg["service"], service)
        check_int(f"{path}.time_unix_nano", lg["time_unix_nano"], window[0])
        assert lg["time_unix_nano"] <= window[1], f"{path}.time_unix_nano after the send window"
        check_int(f"{path}.observed_time_unix_nano", lg["observed_time_unix_nano"], 1)
        check_attrs(
            f"{path}.resource",
            lg["resource"],
            {
                "service.name": service,
                "run.marker": marker,
                "deployment.environment": "test",
                "telemetry.sdk.language": lang,
            },
        )

    sl = by_kind["string"]
    check_value("log[string].body", sl["body"], f"{prefix} string body {marker}")
    check_value("log[string].severity_number", sl["severity_number"], 13)
    check_value("log[string].severity_text", sl["severity_text"], "WARN")
    check_value("log[string].trace_id", sl["trace_id"], s["trace_id"])
    check_value("log[string].span_id", sl["span_id"], s["root_span_id"])
    check_attrs("log[string].attributes", sl["attributes"], {"log.kind": "string", "log.int": 5})

    ml = by_kind["map"]
    check_value("log[map].body", ml["body"], MAP_BODY)
    check_value("log[map].severity_number", ml["severity_number"], 9)
    check_value("log[map].severity_text", ml["severity_text"], "INFO")
    assert not ml["trace_id"] and not ml["span_id"], f"log[map] was emitted outside any span: {ml!r}"
    check_attrs("log[map].attributes", ml["attributes"], {"log.kind": "map", "user.id": 42, "log.bytes": BYTES_B64})

    # trace correlation filter
    logs = box.get("/api/v1/logs", trace_id=s["trace_id"], limit=50)["logs"]
    check_value("logs?trace_id= bodies", [lg["body"] for lg in logs], [f"{prefix} string body {marker}"])


def check_everything(box, sender_id, summary, window):
    prefix, lang, root_attrs = SENDERS[sender_id]
    window = (window[0] - CLOCK_SLACK_NS, window[1] + CLOCK_SLACK_NS)
    check_value("summary.service", summary["service"], sender_id)
    checks = Checks(box)
    checks.run("traces", lambda: check_traces(box, summary, prefix, lang, root_attrs, window))
    checks.run("span queries", lambda: check_span_queries(box, summary, prefix))
    checks.run("metrics", lambda: check_metrics(box, summary))
    checks.run("logs", lambda: check_logs(box, summary, prefix, lang, window))
    checks.finish()


def new_marker(sender_id):
    return f"{sender_id}-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------
# one test per (sender, protocol)
# --------------------------------------------------------------------------


def test_python_grpc(otelbox):
    marker = new_marker("py-grpc")
    t0 = time.time_ns()
    summary = run_sender(otelbox, [sys.executable, str(HERE / "send_python.py"), "grpc", otelbox.grpc_endpoint, marker])
    check_everything(otelbox, "py-grpc", summary, (t0, time.time_ns()))


def test_python_http_protobuf(otelbox):
    marker = new_marker("py-http-protobuf")
    t0 = time.time_ns()
    summary = run_sender(
        otelbox, [sys.executable, str(HERE / "send_python.py"), "http/protobuf", otelbox.http_endpoint, marker]
    )
    check_everything(otelbox, "py-http-protobuf", summary, (t0, time.time_ns()))


def test_js_http_json(otelbox):
    if not (HERE / "node_modules" / "@opentelemetry" / "sdk-trace-base").is_dir():
        pytest.fail("tests/interop/node_modules is missing: run tests/interop/setup.sh", pytrace=False)
    marker = new_marker("js-http-json")
    t0 = time.time_ns()
    summary = run_sender(otelbox, [NODE, str(HERE / "send_js.mjs"), otelbox.http_endpoint, marker])
    check_everything(otelbox, "js-http-json", summary, (t0, time.time_ns()))
