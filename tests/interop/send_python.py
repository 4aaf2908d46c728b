#!/usr/bin/env python3
# Interop sender: emits one trace (3 spans), four metrics and two log records
# with the official OpenTelemetry Python SDK + OTLP exporters, to an OTLP
# endpoint over gRPC or HTTP/protobuf. Used by test_interop.py against otelbox.
#
# Usage: send_python.py PROTOCOL ENDPOINT MARKER
#   PROTOCOL  grpc | http/protobuf
#   ENDPOINT  base URL, e.g. http://127.0.0.1:4317 (grpc) or
#             http://127.0.0.1:4318 (http/protobuf; /v1/{traces,metrics,logs}
#             is appended)
#   MARKER    unique string put in the resource attribute run.marker
#
# On success prints one JSON line (prefixed "SUMMARY ") with the ids the test
# needs (trace id, span ids, link target) and exits 0. Exits non-zero if any
# export reported a failure or if anything was not exported.

import json
import sys
import time

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

EXPORT_TIMEOUT_S = 10

# Every export call's outcome: (signal, result name, item count).
RESULTS = []


def recording(cls, signal, count):
    """Subclass an exporter class so every export() outcome is recorded."""

    class Recording(cls):
        def export(self, batch, *args, **kwargs):
            try:
                result = super().export(batch, *args, **kwargs)
            except Exception as exc:  # an exporter should not raise, but be sure
                RESULTS.append((signal, f"EXCEPTION {exc!r}", 0))
                raise
            RESULTS.append((signal, getattr(result, "name", str(result)), count(batch)))
            return result

    Recording.__name__ = f"Recording{cls.__name__}"
    return Recording


def count_metric_points(metrics_data):
    n = 0
    for rm in metrics_data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                n += len(m.data.data_points)
    return n


def metric_names(metrics_data):
    return {
        m.name
        for rm in metrics_data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }


def make_exporters(protocol, endpoint):
    endpoint = endpoint.rstrip("/")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        common = dict(endpoint=endpoint, insecure=True, timeout=EXPORT_TIMEOUT_S)
        span_kw, metric_kw, log_kw = common, common, common
    elif protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_kw = dict(endpoint=f"{endpoint}/v1/traces", timeout=EXPORT_TIMEOUT_S)
        metric_kw = dict(endpoint=f"{endpoint}/v1/metrics", timeout=EXPORT_TIMEOUT_S)
        log_kw = dict(endpoint=f"{endpoint}/v1/logs", timeout=EXPORT_TIMEOUT_S)
    else:
        raise SystemExit(f"unknown protocol {protocol!r} (expected grpc or http/protobuf)")

    # Cumulative everywhere (the OTLP default), set explicitly so that an
    # OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE in the environment
    # cannot change the values the test expects.
    cumulative = {
        k: AggregationTemporality.CUMULATIVE
        for k in (
            Counter,
            UpDownCounter,
            Histogram,
            ObservableCounter,
            ObservableUpDownCounter,
            ObservableGauge,
        )
    }
    span_exporter = recording(OTLPSpanExporter, "traces", len)(**span_kw)
    metric_exporter = recording(OTLPMetricExporter, "metrics", count_metric_points)(
        preferred_temporality=cumulative, **metric_kw
    )
    log_exporter = recording(OTLPLogExporter, "logs", len)(**log_kw)
    return span_exporter, metric_exporter, log_exporter


def hex_trace(ctx):
    return format(ctx.trace_id, "032x")


def hex_span(ctx):
    return format(ctx.span_id, "016x")


def main(argv):
    if len(argv) != 4:
        print("usage: send_python.py grpc|http/protobuf ENDPOINT MARKER", file=sys.stderr)
        return 2
    protocol, endpoint, marker = argv[1], argv[2], argv[3]
    slug = protocol.replace("/", "-")  # grpc -> grpc, http/protobuf -> http-protobuf
    service = f"py-{slug}"
    metric_prefix = f"interop.py_{slug.replace('-', '_')}"

    resource = Resource.create(
        {
            "service.name": service,
            "run.marker": marker,
            "deployment.environment": "test",
        }
    )
    span_exporter, metric_exporter, log_exporter = make_exporters(protocol, endpoint)

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    reader = PeriodicExportingMetricReader(
        metric_exporter, export_interval_millis=3_600_000, export_timeout_millis=EXPORT_TIMEOUT_S * 1000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))

    tracer = tracer_provider.get_tracer("interop.scope", "1.2.3")
    logger = logger_provider.get_logger("interop.logs", "0.1.0")
    meter = meter_provider.get_meter("interop.meter", "0.9.0")

    # ---- trace -------------------------------------------------------------
    # A span in a trace of its own, only so the child can link to it.
    with tracer.start_as_current_span(
        "py-link-target", context=trace.set_span_in_context(trace.INVALID_SPAN), kind=SpanKind.INTERNAL
    ) as target:
        target.set_attribute("run.marker", marker)
    target_ctx = target.get_span_context()

    root_attributes = {
        "attr.string": "hello",
        "attr.bool": True,
        "attr.int": 42,
        "attr.int_big": 1099511627776,  # 2**40, beyond 32 bits
        "attr.int_negative": -7,
        "attr.double": 3.25,
        "attr.string_array": ["a", "b", "c"],
        "attr.int_array": [1, 2, 3],
        "attr.double_array": [1.5, 2.5],
        "attr.bool_array": [True, False],
        # The Python SDK (>= 1.3x) keeps bytes and maps as OTLP bytes_value /
        # kvlist_value in span attributes.
        "attr.bytes": b"\x00\x01\xfebin",
        "attr.map": {"inner.string": "v", "inner.int": 1},
    }
    with tracer.start_as_current_span("py-root", kind=SpanKind.SERVER, attributes=root_attributes) as root:
        root.add_event(
            "py-event",
            attributes={"event.string": "something happened", "event.int": 7, "event.bool": False},
        )
        with tracer.start_as_current_span(
            "py-child",
            kind=SpanKind.CLIENT,
            links=[Link(target_ctx, attributes={"link.reason": "retry-of"})],
            attributes={"peer.service": "downstream", "http.response.status_code": 503},
        ) as child:
            child.set_status(Status(StatusCode.ERROR, "py child failed"))
            child_ctx = child.get_span_context()

        # ---- logs (inside the root span: trace/span ids come from context) --
        logger.emit(
            timestamp=time.time_ns(),
            body=f"py string body {marker}",
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            attributes={"log.kind": "string", "log.int": 5},
        )
        root_ctx = root.get_span_context()

    logger.emit(
        timestamp=time.time_ns(),
        body={
            "event": "checkout",
            "items": 3,
            "total": 12.5,
            "ok": True,
            "tags": ["x", "y"],
            "nested": {"k": "v"},
        },
        severity_number=SeverityNumber.INFO,
        severity_text="INFO",
        attributes={"log.kind": "map", "user.id": 42, "log.bytes": b"\x00\x01\xfebin"},
    )

    # ---- metrics -----------------------------------------------------------
    point_attrs = {"run.marker": marker, "route": "/checkout"}
    counter = meter.create_counter(f"{metric_prefix}.requests", unit="1", description="requests served")
    counter.add(3, point_attrs)
    counter.add(4, point_attrs)
    updown = meter.create_up_down_counter(f"{metric_prefix}.queue_depth", unit="1", description="queue depth")
    updown.add(5, point_attrs)
    updown.add(-2, point_attrs)
    histogram = meter.create_histogram(f"{metric_prefix}.latency", unit="ms", description="request latency")
    for v in (5.0, 12.5, 40.0, 250.0):
        histogram.record(v, point_attrs)

    def observe(_options: CallbackOptions):
        yield Observation(21.5, point_attrs)

    meter.create_observable_gauge(
        f"{metric_prefix}.temperature", callbacks=[observe], unit="Cel", description="room temperature"
    )

    # ---- flush everything ---------------------------------------------------
    ok = True
    ok &= bool(tracer_provider.force_flush(EXPORT_TIMEOUT_S * 1000 * 2))
    ok &= bool(logger_provider.force_flush(EXPORT_TIMEOUT_S * 1000 * 2))
    ok &= bool(meter_provider.force_flush(EXPORT_TIMEOUT_S * 1000 * 2))
    if not ok:
        print("a force_flush returned False", file=sys.stderr)
    tracer_provider.shutdown()
    logger_provider.shutdown()
    meter_provider.shutdown()

    exported = {"traces": 0, "metrics": 0, "logs": 0}
    for signal, result, n in RESULTS:
        print(f"export {signal}: {result} ({n} items)", file=sys.stderr)
        if result != "SUCCESS":
            ok = False
        else:
            exported[signal] += n
    expected_min = {"traces": 3, "metrics": 4, "logs": 2}
    for signal, n in expected_min.items():
        if exported[signal] < n:
            print(f"only {exported[signal]} {signal} items exported successfully, expected >= {n}", file=sys.stderr)
            ok = False
    if not ok:
        print("EXPORT FAILED", file=sys.stderr)
        return 1

    summary = {
        "service": service,
        "marker": marker,
        "metric_prefix": metric_prefix,
        "trace_id": hex_trace(root_ctx),
        "root_span_id": hex_span(root_ctx),
        "child_span_id": hex_span(child_ctx),
        "child_trace_id": hex_trace(child_ctx),
        "link_trace_id": hex_trace(target_ctx),
        "link_span_id": hex_span(target_ctx),
    }
    print("SUMMARY " + json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
