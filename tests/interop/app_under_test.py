#!/usr/bin/env python3
"""A tiny program instrumented with the official OpenTelemetry Python SDK, for `otelbox run` tests.

It exports a `checkout` server span with a `charge` client child (configured only through the
OTEL_* environment variables that `otelbox run` sets), then exits with --exit N.
With --late, it also starts a detached helper that exports `late-child` 1.5 s after its parent
`late-parent`, and exits at once: telemetry that arrives after the command has finished.
With --metrics, it also records metrics through the SDK's periodic OTLP reader (flushed at exit):
a counter `orders.created` (3, attribute order.kind = web), a histogram `checkout.duration` in ms
(120, 180, 250) and an observable gauge `queue.depth` (2 for queue = orders, 0 for queue = refunds).
For golden-trace tests: --charge-error sets charge's status to ERROR, --refund adds an internal
`refund` span under checkout, and --charge-seconds S makes charge take S seconds (0.01).
With --hostile, checkout also gets a child span whose name, attribute, status message and event are
markup (HOSTILE), and a log record in its trace with markup for a body: for the HTML report's tests.
"""
import argparse
import os
import subprocess
import sys
import time

from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def provider(service):
    p = TracerProvider(resource=Resource.create({"service.name": service, "run.marker": os.environ.get("RUN_MARKER", "")}))
    # The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT itself, as any app would.
    p.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return p


def record_metrics():
    """The metrics of --metrics; returns the provider, to shut down (which exports them)."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    reader = PeriodicExportingMetricReader(OTLPMetricExporter())  # the interval: OTEL_METRIC_EXPORT_INTERVAL
    mp = MeterProvider(resource=Resource.create({"service.name": "shop"}), metric_readers=[reader])
    meter = mp.get_meter("shop.checkout", "1.0.0")
    orders = meter.create_counter("orders.created", unit="{order}", description="Orders placed")
    duration = meter.create_histogram("checkout.duration", unit="ms", description="Checkout time")
    depths = {"orders": 2, "refunds": 0}
    meter.create_observable_gauge(
        "queue.depth", unit="{message}",
        callbacks=[lambda _options: [metrics.Observation(v, {"queue": q}) for q, v in depths.items()]])
    for ms in (120, 180, 250):
        orders.add(1, {"order.kind": "web"})
        duration.record(ms, {"http.route": "/checkout"})
    return mp


# Telemetry is untrusted: a report must show this as text and never run it.
HOSTILE = "</script><img src=x onerror=alert(1)>"


def send_hostile(tracer):
    """The span and log record of --hostile, inside the current span."""
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    lp = LoggerProvider(resource=Resource.create({"service.name": "shop"}))
    lp.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    with tracer.start_as_current_span(HOSTILE, attributes={"note": "<img src=x onerror=\"document.title='pwned'\">"}) as span:
        span.add_event("<b>event</b>", {"html": "<script>document.title='pwned'</script>"})
        span.set_status(trace.Status(trace.StatusCode.ERROR, "</script><script>document.title='pwned'</script>"))
        lp.get_logger("shop.checkout").emit(timestamp=time.time_ns(), body="<!--</script><svg onload=alert(1)>",
                                            severity_number=SeverityNumber.ERROR, severity_text="ERROR")
    lp.shutdown()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--exit", type=int, default=0)
    parser.add_argument("--late", action="store_true")
    parser.add_argument("--send-late", metavar="TRACEPARENT")
    parser.add_argument("--metrics", action="store_true")
    parser.add_argument("--charge-error", action="store_true")
    parser.add_argument("--refund", action="store_true")
    parser.add_argument("--charge-seconds", type=float, default=0.01)
    parser.add_argument("--hostile", action="store_true")
    args = parser.parse_args()

    if args.send_late:
        time.sleep(1.5)
        p = provider("late-helper")
        with p.get_tracer("late").start_as_current_span("late-child", context=extract({"traceparent": args.send_late})):
            pass
        p.shutdown()
        return 0

    mp = record_metrics() if args.metrics else None
    p = provider("shop")
    tracer = p.get_tracer("shop.checkout", "1.0.0")
    with tracer.start_as_current_span("checkout", kind=trace.SpanKind.SERVER, attributes={"order.id": "A-17", "cart.items": 3}):
        with tracer.start_as_current_span("charge", kind=trace.SpanKind.CLIENT, attributes={"payment.provider": "acme"}) as charge:
            time.sleep(args.charge_seconds)
            if args.charge_error:
                charge.set_status(trace.Status(trace.StatusCode.ERROR, "card declined"))
        if args.refund:
            with tracer.start_as_current_span("refund", attributes={"refund.reason": "declined"}):
                pass
        if args.hostile:
            send_hostile(tracer)
    if args.late:
        with tracer.start_as_current_span("late-parent") as parent:
            carrier = {}
            inject(carrier)
        # Detached: it outlives this process, like a worker that flushes late.
        subprocess.Popen([sys.executable, __file__, "--send-late", carrier["traceparent"]], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p.shutdown()
    if mp is not None:
        mp.shutdown()
    return args.exit


if __name__ == "__main__":
    sys.exit(main())
