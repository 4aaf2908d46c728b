# Sends one small known trace to otelbox's `jaeger` receiver over one transport, with a real Jaeger
# client from PyPI (run it with the jaeger venv's python, tests/interop/.venvs/jaeger):
#
#   thrift_compact  jaeger-client (Uber's Python client): agent emitBatch, compact protocol, over UDP
#   thrift_binary   jaeger-client whose reporter speaks the binary protocol (as Jaeger's Node and Go
#                   clients do towards port 6832): agent emitBatch, binary protocol, over UDP
#   thrift_http     opentelemetry-exporter-jaeger-thrift, collector_endpoint mode: a binary-protocol
#                   Batch POSTed to /api/traces (application/x-thrift)
#   grpc            opentelemetry-exporter-jaeger-proto-grpc: jaeger.api_v2.CollectorService/PostSpans
#
# Usage: send_jaeger.py TRANSPORT HOST:PORT RUN_ID. Each trace: a server root span with typed tags and
# one log/event, and a client child span that fails and links (FOLLOWS_FROM) to a span of another
# trace. Prints `SUMMARY {json}` (service, ids, the send window) and exits 0 once the client says the
# data left; exits 1 if the client reported a failure. Also importable (the libraries load lazily) for
# the constants below, which tests/interop/test_jaeger.py checks against.

import json
import logging
import random
import sys
import time

ROOT_TAGS = {
    "attr.string": "hello",
    "attr.bool": True,
    "attr.int": 42,
    "attr.int_big": 1099511627776,
    "attr.int_negative": -7,
    "attr.double": 3.25,
}
CHILD_TAGS = {"peer.service": "downstream", "retry.count": 2}
EVENT_FIELDS = {"event.string": "something happened", "event.int": 7, "event.bool": False, "event.double": 0.5}
PROCESS_TAGS = {"deployment.environment": "test"}  # process tags (jaeger-client) / resource (OTel SDK)
SCOPE = ("interop.jaeger", "1.2.3")  # the OTel tracer's instrumentation scope
TRANSPORTS = ("thrift_compact", "thrift_binary", "thrift_http", "grpc")
UDP_SETTLE_S = 0.5  # UDP is fire-and-forget: give the datagram time to be read before exiting


def service_name(transport, run_id):
    return f"jaeger-{transport.replace('_', '-')}-{run_id}"


def names(transport):
    """Span and event names of one transport's trace: (root, child, event)."""
    return f"{transport}-root", f"{transport}-child", f"{transport}-event"


def random_link_target():
    """A span of another trace, for the child's FOLLOWS_FROM reference / link: (trace_id, span_id)."""
    return random.getrandbits(128) | 1, random.getrandbits(64) | 1


# --------------------------------------------------------------------------
# jaeger-client over UDP (compact or binary protocol)
# --------------------------------------------------------------------------


def send_jaeger_client(transport, host, port, service):
    import opentracing
    from jaeger_client import Config, ConstSampler, SpanContext
    from jaeger_client.local_agent_net import LocalAgentSender
    from jaeger_client.metrics import MetricsFactory
    from jaeger_client.reporter import Reporter
    from thrift.protocol import TBinaryProtocol

    class BinaryReporter(Reporter):
        """jaeger-client's reporter, writing the binary protocol instead of compact."""

        def getProtocol(self, transport):
            return TBinaryProtocol.TBinaryProtocol(transport)

    class SpanCounts(MetricsFactory):
        """Counts the reporter's results: jaeger-client tells of a failed send only in its metrics."""

        def __init__(self):
            super().__init__()
            self.counts = {}

        def create_counter(self, name, tags=None):
            key = ",".join([name, *(f"{k}={v}" for k, v in sorted((tags or {}).items()))])
            return lambda value=1: self.counts.__setitem__(key, self.counts.get(key, 0) + value)

    metrics = SpanCounts()

    # thrift_compact keeps jaeger-client's default 64-bit trace ids; thrift_binary uses 128-bit ones.
    config = Config(
        config={
            "sampler": {"type": "const", "param": 1},
            "local_agent": {"reporting_host": host, "reporting_port": port},
            "generate_128bit_trace_id": transport == "thrift_binary",
            "reporter_flush_interval": 0.1,
            "tags": dict(PROCESS_TAGS),  # the tracer's tags, sent as the process's tags
        },
        service_name=service,
        metrics_factory=metrics,
        validate=True,
    )
    if transport == "thrift_compact":
        tracer = config.new_tracer()
    else:
        channel = LocalAgentSender(host=host, sampling_port=0, reporting_port=port)
        reporter = BinaryReporter(channel=channel, flush_interval=config.reporter_flush_interval,
                                  metrics_factory=metrics)
        tracer = config.create_tracer(reporter=reporter, sampler=ConstSampler(True))

    root_name, child_name, event_name = names(transport)
    link_trace_id, link_span_id = random_link_target()
    link_ctx = SpanContext(trace_id=link_trace_id, span_id=link_span_id, parent_id=None, flags=1)
    root = tracer.start_span(root_name, tags={"span.kind": "server", **ROOT_TAGS})
    root.log_kv({"event": event_name, **EVENT_FIELDS})
    child = tracer.start_span(child_name, child_of=root, references=[opentracing.follows_from(link_ctx)],
                              tags={"span.kind": "client", **CHILD_TAGS})
    child.set_tag("error", True)
    child.finish()
    root.finish()

    # close() flushes the reporter's queue on its IO loop thread: the batch is written when it is done.
    done = tracer.close()
    deadline = time.monotonic() + 10
    while not done.done():
        if time.monotonic() > deadline:
            raise SystemExit("jaeger-client: tracer.close() did not finish within 10s")
        time.sleep(0.02)
    if done.exception():
        raise SystemExit(f"jaeger-client: flush failed: {done.exception()!r}")
    if metrics.counts.get("jaeger:reporter_spans,result=ok") != 2:
        raise SystemExit(f"jaeger-client: expected 2 spans reported ok, its counters say {metrics.counts}")
    time.sleep(UDP_SETTLE_S)
    return {
        "trace_id": f"{root.trace_id:032x}",
        "root_span_id": f"{root.span_id:016x}",
        "child_span_id": f"{child.span_id:016x}",
        "link_trace_id": f"{link_trace_id:032x}",
        "link_span_id": f"{link_span_id:016x}",
    }


# --------------------------------------------------------------------------
# OpenTelemetry SDK with the Jaeger exporters (thrift over HTTP, proto over gRPC)
# --------------------------------------------------------------------------


def send_otel(transport, host, port, service):
    import warnings

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

    with warnings.catch_warnings():  # both exporters are deprecated ("Jaeger supports OTLP natively")
        warnings.simplefilter("ignore", DeprecationWarning)
        if transport == "thrift_http":
            from opentelemetry.exporter.jaeger.thrift import JaegerExporter

            exporter = JaegerExporter(collector_endpoint=f"http://{host}:{port}/api/traces")
        else:
            from opentelemetry.exporter.jaeger.proto.grpc import JaegerExporter

            exporter = JaegerExporter(collector_endpoint=f"{host}:{port}", insecure=True)

    provider = TracerProvider(resource=Resource.create({"service.name": service, **PROCESS_TAGS}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer(*SCOPE)

    root_name, child_name, event_name = names(transport)
    link_trace_id, link_span_id = random_link_target()
    link_ctx = SpanContext(link_trace_id, link_span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    with tracer.start_as_current_span(root_name, kind=SpanKind.SERVER, attributes=ROOT_TAGS) as root:
        root.add_event(event_name, attributes=EVENT_FIELDS)
        with tracer.start_as_current_span(child_name, kind=SpanKind.CLIENT, attributes=CHILD_TAGS,
                                          links=[Link(link_ctx)], record_exception=False,
                                          set_status_on_exception=False) as child:
            child.set_status(Status(StatusCode.ERROR, f"{child_name} failed"))
    provider.shutdown()  # exports the batch (one request) and waits for it
    ctx, child_ctx = root.get_span_context(), child.get_span_context()
    return {
        "trace_id": f"{ctx.trace_id:032x}",
        "root_span_id": f"{ctx.span_id:016x}",
        "child_span_id": f"{child_ctx.span_id:016x}",
        "link_trace_id": f"{link_trace_id:032x}",
        "link_span_id": f"{link_span_id:016x}",
    }


class FailureLog(logging.Handler):
    """Collects the warnings and errors the clients log: how they report a failed send (the OTel
    exporters log a non-2xx HTTP status or a gRPC error; jaeger-client's error reporter logs too)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(f"{record.name}: {record.getMessage()}")


def main(argv):
    if len(argv) != 4 or argv[1] not in TRANSPORTS:
        raise SystemExit(f"usage: {argv[0]} {{{','.join(TRANSPORTS)}}} HOST:PORT RUN_ID")
    transport, endpoint, run_id = argv[1:]
    host, port = endpoint.rsplit(":", 1)
    failures = FailureLog()
    logging.getLogger().addHandler(failures)
    service = service_name(transport, run_id)
    start_ns = time.time_ns()
    send = send_jaeger_client if transport in ("thrift_compact", "thrift_binary") else send_otel
    ids = send(transport, host, int(port), service)
    end_ns = time.time_ns()
    if failures.messages:
        print("\n".join(failures.messages), file=sys.stderr)
        return 1
    print("SUMMARY " + json.dumps({"transport": transport, "service": service, "window": [start_ns, end_ns], **ids}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
