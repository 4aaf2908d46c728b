# Interop test of otelbox's `jaeger` receiver with real Jaeger clients from PyPI.
#
# Starts one `otelbox up --memory` whose config has the `jaeger` receiver with all four protocols
# (grpc, thrift_http, thrift_compact, thrift_binary) on free ports, then for each protocol runs
# jaeger/send_jaeger.py in the jaeger venv (tests/interop/.venvs/jaeger): jaeger-client over UDP
# (compact, and binary through a binary-protocol reporter), and the OpenTelemetry SDK's Jaeger
# exporters (thrift over HTTP, proto over gRPC). Each sends a server root span with typed tags and a
# log, and a failing client child span with a FOLLOWS_FROM reference. Checks through the query API
# that otelbox translated them as the Collector's jaeger translator does: service.name and resource
# from the process (hostname -> host.name, jaeger.version -> opencensus.exporterversion), parent
# from parentSpanId / the CHILD_OF reference, other references as links, span.kind -> kind,
# error / otel.status_code / otel.status_description -> status, typed tags as typed attributes,
# logs as events named by their `event` field, otel.scope.* tags as the scope (proto only).
#
# Skips only when the jaeger venv is missing (tests/interop/setup.sh makes it); a missing binary
# is a failure, as in test_interop.py.

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from test_interop import (
    CLOCK_SLACK_NS,
    HEX16,
    HEX32,
    OTELBOX_BIN,
    READY_TIMEOUT_S,
    Checks,
    Otelbox,
    check_attrs,
    check_int,
    check_value,
    free_ports,
    poll,
    run_sender,
)

HERE = Path(__file__).resolve().parent
JAEGER_DIR = HERE / "jaeger"
VENV_PYTHON = HERE / ".venvs" / "jaeger" / "bin" / "python"
SENDER = JAEGER_DIR / "send_jaeger.py"

sys.path.insert(0, str(JAEGER_DIR))
import send_jaeger as sent  # noqa: E402  (its constants only: the client libraries load lazily)

pytestmark = pytest.mark.skipif(
    not VENV_PYTHON.is_file(),
    reason=f"the Jaeger clients' venv {VENV_PYTHON.parent.parent} is missing: make it with "
    "`bash tests/interop/setup.sh` (or `bash tests/interop/make_venv.sh jaeger tests/interop/jaeger/requirements.txt`)",
)

JAEGER_CLIENT_VERSION = "4.8.0"
OTEL_SDK_VERSION = "1.21.0"


def otel_resource(service):
    """The OTel SDK's resource, which its Jaeger exporters copy onto every span as tags (and the
    proto exporter into each span's process too)."""
    return {"service.name": service, **sent.PROCESS_TAGS, "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.version": OTEL_SDK_VERSION}


LINK_ATTRS = {"opentracing.ref_type": "follows_from"}  # the Collector's attribute on links from references
RUN_ID = uuid.uuid4().hex[:8]  # in every service name: jaeger-<transport>-<run id>


def free_udp_ports(n):
    """n distinct free UDP ports on 127.0.0.1 (all held open until chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def status_of(span):
    return {k: span["status"].get(k) for k in ("code", "message")}


@pytest.fixture(scope="module")
def jaeger_box(tmp_path_factory):
    """otelbox with the jaeger receiver on all four protocols; .endpoints maps protocol -> host:port."""
    if not OTELBOX_BIN.is_file() or not os.access(OTELBOX_BIN, os.X_OK):
        pytest.fail(f"otelbox binary not found at {OTELBOX_BIN}: build it (cargo build) or set OTELBOX_BIN", pytrace=False)
    grpc_port, http_port, ui_port = free_ports(3)
    compact_port, binary_port = free_udp_ports(2)
    endpoints = {
        "grpc": f"127.0.0.1:{grpc_port}",
        "thrift_http": f"127.0.0.1:{http_port}",
        "thrift_compact": f"127.0.0.1:{compact_port}",
        "thrift_binary": f"127.0.0.1:{binary_port}",
    }
    tmp = tmp_path_factory.mktemp("jaeger")
    config = tmp / "otelbox.yaml"
    config.write_text(
        f"""
receivers:
  jaeger:
    protocols:
      grpc: {{ endpoint: "{endpoints['grpc']}" }}
      thrift_http: {{ endpoint: "{endpoints['thrift_http']}" }}
      thrift_compact: {{ endpoint: "{endpoints['thrift_compact']}" }}
      thrift_binary: {{ endpoint: "{endpoints['thrift_binary']}" }}
exporters:
  otelbox: {{}}
service:
  pipelines:
    traces: {{ receivers: [jaeger], exporters: [otelbox] }}
"""
    )
    log_path = tmp / "otelbox.log"
    cmd = [str(OTELBOX_BIN), "up", "--memory", "--config", str(config), "--ui-port", str(ui_port)]
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    box = Otelbox(proc, log_path, grpc_port, http_port, ui_port)
    box.endpoints = endpoints
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = None
        while True:
            if proc.poll() is not None:
                pytest.fail(f"otelbox exited with {proc.returncode} before becoming ready\ncommand: {' '.join(cmd)}\n"
                            f"--- config ---\n{config.read_text()}\n--- otelbox log ---\n{box.log_tail()}", pytrace=False)
            try:
                r = requests.get(f"{box.api}/readyz", timeout=1)
                if r.status_code == 200:
                    break
                last = f"HTTP {r.status_code}"
            except requests.RequestException as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                pytest.fail(f"otelbox not ready after {READY_TIMEOUT_S}s (last: {last})\n--- otelbox log ---\n{box.log_tail()}",
                            pytrace=False)
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


@pytest.mark.parametrize("transport", sent.TRANSPORTS)
def test_a_real_jaeger_client_trace_arrives_translated(jaeger_box, transport, monkeypatch):
    box = jaeger_box
    for key in [k for k in os.environ if k.startswith("JAEGER_")]:  # jaeger-client's own settings
        monkeypatch.delenv(key)
    s = run_sender(box, [str(VENV_PYTHON), str(SENDER), transport, box.endpoints[transport], RUN_ID])
    service = s["service"]
    root_name, child_name, event_name = sent.names(transport)

    def listed():
        traces = box.get("/api/v1/traces", service=service, limit=10)["traces"]
        assert [t["trace_id"] for t in traces] == [s["trace_id"]], f"traces of service {service}: {traces!r}"
        return traces[0]

    def full():
        tr = box.get(f"/api/v1/traces/{s['trace_id']}")
        assert len(tr["spans"]) == 2, f"expected 2 spans, got {tr!r}"
        return tr

    try:
        spans = {sp["name"]: sp for sp in poll(full)["spans"]}
        summary = poll(listed)
        missing = None
    except AssertionError as exc:
        missing = str(exc)
    if missing:
        pytest.fail(f"{transport}: the trace did not arrive: {missing}\nsender summary: {s}\n--- otelbox log ---\n{box.log_tail()}",
                    pytrace=False)
    assert set(spans) == {root_name, child_name}, f"span names: {sorted(spans)}"
    root, child = spans[root_name], spans[child_name]
    otel = transport in ("thrift_http", "grpc")  # the OTel SDK's exporters, else jaeger-client
    checks = Checks(box)

    def trace_summary():
        check_value("trace.root_service", summary["root_service"], service)
        check_value("trace.root_name", summary["root_name"], root_name)
        check_value("trace.span_count", summary["span_count"], 2)
        check_value("trace.error_count", summary["error_count"], 1)
        check_value("trace.services", summary["services"], [service])

    def ids_and_times():
        assert HEX32.match(s["trace_id"]), s
        if transport == "thrift_compact":  # jaeger-client's default 64-bit trace ids: traceIdHigh = 0
            assert s["trace_id"].startswith("0" * 16), f"expected a 64-bit trace id: {s['trace_id']}"
        for path, span, span_id in (("root", root, s["root_span_id"]), ("child", child, s["child_span_id"])):
            check_value(f"{path}.trace_id", span["trace_id"], s["trace_id"])
            check_value(f"{path}.span_id", span["span_id"], span_id)
            assert HEX16.match(span["span_id"]), f"{path}.span_id not 16 lowercase hex: {span['span_id']!r}"
            check_value(f"{path}.service", span["service"], service)
            check_int(f"{path}.start_unix_nano", span["start_unix_nano"], s["window"][0] - CLOCK_SLACK_NS)
            check_int(f"{path}.end_unix_nano", span["end_unix_nano"], span["start_unix_nano"])
            assert span["end_unix_nano"] <= s["window"][1] + CLOCK_SLACK_NS, f"{path} ends after the send window"
            if transport != "grpc":  # thrift carries microseconds: whole microseconds in nanoseconds
                assert span["start_unix_nano"] % 1000 == 0 and span["end_unix_nano"] % 1000 == 0, (
                    f"{path}: thrift times are microseconds, got {span['start_unix_nano']}..{span['end_unix_nano']}")
        assert child["start_unix_nano"] >= root["start_unix_nano"], "child starts before root"

    def parent_kind_status():
        check_value("root.parent_span_id", root["parent_span_id"], "")
        check_value("child.parent_span_id", child["parent_span_id"], root["span_id"])
        check_value("root.kind", root["kind"], "server")
        check_value("child.kind", child["kind"], "client")
        check_value("root.status.code", root["status"]["code"], "unset")
        # jaeger-client's error=true carries no message; the OTel exporters' otel.status_description does.
        check_value("child.status", status_of(child), {"code": "error", "message": f"{child_name} failed" if otel else ""})
        for path, span in (("root", root), ("child", child)):
            consumed = {"span.kind", "error", "otel.status_code", "otel.status_description"} & set(span["attributes"])
            assert not consumed, f"{path}: tags that became kind/status are still attributes: {sorted(consumed)}"

    def attributes():
        root_expected, child_expected = dict(sent.ROOT_TAGS), dict(sent.CHILD_TAGS)
        if otel:  # the exporters copy the resource and the scope (as otel.library.*) onto every span
            copied = {**otel_resource(service), "otel.library.name": sent.SCOPE[0], "otel.library.version": sent.SCOPE[1]}
            root_expected.update(copied)
            child_expected.update(copied)
        else:  # jaeger-client's sampler tags, on the root span only
            root_expected.update({"sampler.type": "const", "sampler.param": True})
        check_attrs("root.attributes", root["attributes"], root_expected)
        check_attrs("child.attributes", child["attributes"], child_expected)

    def resource_and_scope():
        for path, span in (("root", root), ("child", child)):
            res = span["resource"]
            if not otel:  # jaeger-client's process tags: jaeger.version, hostname, ip and the tracer's tags
                check_attrs(f"{path}.resource", res, {
                    "service.name": service, **sent.PROCESS_TAGS,
                    "opencensus.exporterversion": f"Jaeger-Python-{JAEGER_CLIENT_VERSION}"})
                assert isinstance(res.get("host.name"), str) and res["host.name"], f"{path}: hostname -> host.name: {res!r}"
                assert isinstance(res.get("ip"), str) and res["ip"], f"{path}: the ip process tag: {res!r}"
                assert not {"hostname", "jaeger.version"} & set(res), f"{path}: untranslated process tags: {res!r}"
            elif transport == "grpc":  # each span's own process carries the resource
                check_attrs(f"{path}.resource", res, otel_resource(service))
            else:  # thrift_http: the exporter's Process has a service name and no tags
                check_attrs(f"{path}.resource", res, {"service.name": service})
            scope = {k: span["scope"].get(k) for k in ("name", "version")}
            if transport == "grpc":  # the Collector reads otel.scope.name/version into the scope (proto only)
                check_value(f"{path}.scope", scope, {"name": sent.SCOPE[0], "version": sent.SCOPE[1]})
                assert not {"otel.scope.name", "otel.scope.version"} & set(span["attributes"]), (
                    f"{path}: otel.scope.* should have become the scope: {sorted(span['attributes'])}")
            else:  # its thrift path leaves the scope empty and the tags as attributes
                check_value(f"{path}.scope", scope, {"name": "", "version": ""})
                if otel:
                    check_attrs(f"{path}.attributes", span["attributes"],
                                {"otel.scope.name": sent.SCOPE[0], "otel.scope.version": sent.SCOPE[1]})

    def events():
        assert len(root["events"]) == 1, f"root.events: {root['events']!r}"
        ev = root["events"][0]
        if otel:  # the OTel exporters write the event's name as a `message` field, not `event`
            check_value("root.events[0].name", ev["name"], "")
            check_value("root.events[0].attributes", ev["attributes"], {**sent.EVENT_FIELDS, "message": event_name})
        else:
            check_value("root.events[0].name", ev["name"], event_name)
            check_value("root.events[0].attributes", ev["attributes"], sent.EVENT_FIELDS)
        check_int("root.events[0].time_unix_nano", ev["time_unix_nano"], root["start_unix_nano"] - 1000)
        assert ev["time_unix_nano"] <= root["end_unix_nano"] + 1000, "the event is after the root's end"
        check_value("child.events", child["events"], [])

    def links():
        check_value("root.links", root["links"], [])
        check_value("child.links", child["links"],
                    [{"trace_id": s["link_trace_id"], "span_id": s["link_span_id"], "attributes": LINK_ATTRS}])

    for name, fn in (("trace summary", trace_summary), ("ids and times", ids_and_times),
                     ("parent, kind, status", parent_kind_status), ("attributes", attributes),
                     ("resource and scope", resource_and_scope), ("events", events), ("links", links)):
        checks.run(f"{transport}: {name}", fn)
    checks.finish()
