"""Authentication and TLS with the official Python SDK: ingest and API tokens (HTTP 401 and gRPC
UNAUTHENTICATED, nothing stored), TLS on every port with a CA file, and mTLS for ingest.

Certificates are made per test session with the openssl command line (a throwaway CA, a server
certificate for 127.0.0.1, a client certificate)."""
import os
import socket
import subprocess
import time
from pathlib import Path

import grpc
import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OTELBOX = str(Path(os.environ.get("OTELBOX_BIN", REPO / "target" / "debug" / "otelbox")))
INGEST_TOKEN = "ingest-7f3c9a"
API_TOKEN = "api-51d2e0"


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=otelbox test CA", cwd=d)
    for name, usage, san in [("server", "serverAuth", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "clientAuth", "subjectAltName=DNS:sender")]:
        (d / f"{name}.ext").write_text(f"{san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", f"{name}.pem",
                "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    return d


@pytest.fixture(autouse=True)
def own_ca_only(monkeypatch):
    """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`, which would
    make the SDK's HTTP exporter ignore the CA file it is given."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


class Box:
    def __init__(self, tmp_path, *flags, tls=None):
        self.grpc_port, self.http_port, self.ui_port = free_ports(3)
        self.scheme = "https" if tls else "http"
        self.verify = str(tls / "ca.pem") if tls else True
        self.log = open(tmp_path / "otelbox.log", "w")
        cmd = [OTELBOX, "up", "--memory", "--grpc-port", str(self.grpc_port), "--http-port", str(self.http_port),
               "--ui-port", str(self.ui_port), *flags]
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTELBOX_")}
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if requests.get(self.url("/readyz"), verify=self.verify, timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"otelbox not ready: {(tmp_path / 'otelbox.log').read_text()}")

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.ui_port}{path}"

    def api(self, path, token=API_TOKEN):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url(path), headers=headers, verify=self.verify, timeout=5)

    def stored_spans(self, token=API_TOKEN):
        return self.api("/api/v1/status", token).json()["storage"]["spans"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


def export_one(exporter, name):
    """Sends one span through `exporter` with the SDK; returns the SpanExportResult."""
    results = []

    class Recording(SpanExporter):
        def export(self, spans):
            result = exporter.export(spans)
            results.append(result)
            return result

        def shutdown(self):
            exporter.shutdown()

    provider = TracerProvider(resource=Resource.create({"service.name": "secure-svc"}))
    provider.add_span_processor(SimpleSpanProcessor(Recording()))
    with provider.get_tracer("security-test").start_as_current_span(name):
        pass
    provider.shutdown()
    return results[0]


def http_exporter(box, token=None, tls=None, client=False):
    kwargs = dict(endpoint=f"{box.scheme}://127.0.0.1:{box.http_port}/v1/traces", timeout=5)
    if token:
        kwargs["headers"] = {"Authorization": f"Bearer {token}"}
    if tls:
        kwargs["certificate_file"] = str(tls / "ca.pem")
        if client:
            kwargs["client_certificate_file"] = str(tls / "client.pem")
            kwargs["client_key_file"] = str(tls / "client.key")
    return HttpSpanExporter(**kwargs)


def grpc_exporter(box, token=None, tls=None):
    kwargs = dict(endpoint=f"{box.scheme}://127.0.0.1:{box.grpc_port}", timeout=5)
    if token:
        kwargs["headers"] = (("authorization", f"Bearer {token}"),)
    if tls:
        kwargs["credentials"] = grpc.ssl_channel_credentials(root_certificates=(tls / "ca.pem").read_bytes())
    else:
        kwargs["insecure"] = True
    return GrpcSpanExporter(**kwargs)


def test_ingest_and_api_tokens(tmp_path):
    box = Box(tmp_path, "--ingest-token", INGEST_TOKEN, "--api-token", API_TOKEN)
    try:
        for make in (http_exporter, grpc_exporter):
            assert export_one(make(box), "no token") == SpanExportResult.FAILURE, make.__name__
            assert export_one(make(box, token="wrong"), "wrong token") == SpanExportResult.FAILURE, make.__name__
            assert export_one(make(box, token=INGEST_TOKEN), "right token") == SpanExportResult.SUCCESS, make.__name__
        assert box.stored_spans() == 2, "only the two sends with the right token were stored"

        # The gRPC status itself, without the SDK in between: UNAUTHENTICATED with a message that says what to send.
        channel = grpc.insecure_channel(f"127.0.0.1:{box.grpc_port}")
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        for metadata in ((), (("authorization", "Bearer wrong"),)):
            with pytest.raises(grpc.RpcError) as refused:
                stub.Export(trace_service_pb2.ExportTraceServiceRequest(), metadata=metadata, timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, refused.value
            assert "ingest token" in refused.value.details()
        stub.Export(trace_service_pb2.ExportTraceServiceRequest(), metadata=(("authorization", f"Bearer {INGEST_TOKEN}"),), timeout=5)
        channel.close()

        raw = requests.post(f"http://127.0.0.1:{box.http_port}/v1/traces", data=b"{}", headers={"content-type": "application/json"}, timeout=5)
        assert raw.status_code == 401 and raw.json()["code"] == 16 and "Bearer" in raw.json()["message"], raw.text
        assert raw.headers["www-authenticate"] == "Bearer"

        for token in (None, "wrong", INGEST_TOKEN):
            r = box.api("/api/v1/status", token)
            assert r.status_code == 401, (token, r.text)
            assert r.json()["error"]["code"] == "unauthorized"
        assert box.api("/metrics", None).status_code == 401, "Prometheus text needs the token too"
        assert box.api("/metrics").status_code == 200
        assert box.api("/healthz", None).status_code == 200, "health checks stay open"
        cross_origin = requests.get(box.url("/api/v1/status"), headers={"Origin": "https://evil.example", "Authorization": f"Bearer {API_TOKEN}"}, timeout=5)
        assert "access-control-allow-origin" not in cross_origin.headers, "no CORS: other origins cannot read the API"
        assert box.api("/traces", None).status_code == 200, "the UI's page loads, to show its login"

        session = requests.Session()
        assert session.post(box.url("/api/v1/login"), json={"token": "wrong"}, timeout=5).status_code == 401
        login = session.post(box.url("/api/v1/login"), json={"token": API_TOKEN}, timeout=5)
        assert login.status_code == 200 and login.json() == {"required": True}
        assert "HttpOnly" in login.headers["set-cookie"] and "SameSite=Strict" in login.headers["set-cookie"]
        assert session.get(box.url("/api/v1/traces"), timeout=5).status_code == 200, "the login cookie opens the API"
        session.post(box.url("/api/v1/logout"), timeout=5)
        assert session.get(box.url("/api/v1/traces"), timeout=5).status_code == 401

        cli = [OTELBOX, "query", "spans", "--server", box.url(""), "--format", "json"]
        denied = subprocess.run(cli, capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
        assert denied.returncode != 0 and "token" in denied.stderr, denied.stderr
        allowed = subprocess.run(cli, capture_output=True, text=True, env={"PATH": os.environ["PATH"], "OTELBOX_API_TOKEN": API_TOKEN})
        assert allowed.returncode == 0 and "right token" in allowed.stdout, allowed.stderr
    finally:
        box.stop()
    assert INGEST_TOKEN not in (tmp_path / "otelbox.log").read_text(), "tokens are never logged"
    shown = subprocess.run([OTELBOX, "up", "--help"], capture_output=True, text=True, env={"PATH": os.environ["PATH"], "OTELBOX_API_TOKEN": API_TOKEN})
    assert API_TOKEN not in shown.stdout, "--help does not print the token from the environment"


def test_tls_on_every_port_with_a_ca_file(tmp_path, certs):
    box = Box(tmp_path, "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"), "--api-token", API_TOKEN, tls=certs)
    try:
        assert export_one(http_exporter(box, tls=certs), "over https") == SpanExportResult.SUCCESS
        assert export_one(grpc_exporter(box, tls=certs), "over grpc+tls") == SpanExportResult.SUCCESS
        assert box.stored_spans() == 2
        status = box.api("/api/v1/status").json()
        assert status["endpoints"]["otlp_http"].startswith("https://"), status["endpoints"]
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(box.url("/healthz"), timeout=5)  # not trusted without the CA file
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{box.ui_port}/healthz", timeout=5)  # no plain HTTP on a TLS port
    finally:
        box.stop()


def test_mtls_requires_a_client_certificate_for_ingest(tmp_path, certs):
    box = Box(tmp_path, "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
              "--tls-client-ca", str(certs / "ca.pem"), tls=certs)
    try:
        assert export_one(http_exporter(box, tls=certs), "no client cert") == SpanExportResult.FAILURE
        assert export_one(http_exporter(box, tls=certs, client=True), "with client cert") == SpanExportResult.SUCCESS
        assert box.api("/api/v1/status", None).status_code == 200, "the UI port does not ask for client certificates"
        assert box.stored_spans(None) == 1
    finally:
        box.stop()


def test_the_cli_reaches_a_tls_box_trusting_its_cacert(tmp_path, certs):
    """query, assert, wait, lint and export over https://, with --cacert or OTELBOX_CACERT and the API token."""
    box = Box(tmp_path, "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"), "--api-token", API_TOKEN, tls=certs)
    base_env = {"PATH": os.environ["PATH"], "OTELBOX_API_TOKEN": API_TOKEN}

    def cli(*args, cacert=True, env=None):
        flags = ["--server", box.url("")] + (["--cacert", str(certs / "ca.pem")] if cacert else [])
        return subprocess.run([OTELBOX, *args, *flags], capture_output=True, text=True, env=env or base_env, timeout=60)

    try:
        assert export_one(http_exporter(box, tls=certs), "over-https-cli") == SpanExportResult.SUCCESS
        q = cli("query", "spans", "--format", "json")
        assert q.returncode == 0 and "over-https-cli" in q.stdout, q.stderr
        a = cli("assert", 'name = "over-https-cli"', "--since", "1h")
        assert a.returncode == 0 and "PASS" in a.stderr, a.stderr
        w = cli("wait", "--spans", "1", "--where", 'name = "over-https-cli"', "--complete", "--idle", "200ms", "--timeout", "20s")
        assert w.returncode == 0, w.stderr
        lint = cli("lint", "--since", "1h")
        assert lint.returncode == 0 and "no instrumentation problems found" in lint.stdout, lint.stdout + lint.stderr
        e = cli("export", "--signal", "traces")
        assert e.returncode == 0 and "over-https-cli" in e.stdout, e.stderr
        # OTELBOX_CACERT stands for --cacert.
        via_env = cli("assert", 'name = "over-https-cli"', cacert=False, env={**base_env, "OTELBOX_CACERT": str(certs / "ca.pem")})
        assert via_env.returncode == 0, via_env.stderr
        # Without the CA the box's certificate is not trusted: a connection error (2), saying why.
        untrusted = cli("assert", 'name = "over-https-cli"', cacert=False)
        assert untrusted.returncode == 2 and ("certificate" in untrusted.stderr or "CA" in untrusted.stderr), untrusted.stderr
        # The token goes over TLS too: without it, the API refuses.
        no_token = cli("query", "spans", env={"PATH": os.environ["PATH"]})
        assert no_token.returncode != 0 and "token" in no_token.stderr, no_token.stderr
        missing = cli("query", "spans", cacert=False, env={**base_env, "OTELBOX_CACERT": str(tmp_path / "nope.pem")})
        assert missing.returncode == 2 and "nope.pem" in missing.stderr, missing.stderr
    finally:
        box.stop()
