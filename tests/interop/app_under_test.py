#!/usr/bin/env python3
"""A tiny program instrumented with the official OpenTelemetry Python SDK, for `otelbox run` tests.

It exports a `checkout` server span with a `charge` client child (configured only through the
OTEL_* environment variables that `otelbox run` sets), then exits with --exit N.
With --late, it also starts a detached helper that exports `late-child` 1.5 s after its parent
`late-parent`, and exits at once: telemetry that arrives after the command has finished.
"""
import argparse
import os
import subprocess
import sys
import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def provider(service):
    p = TracerProvider(resource=Resource.create({"service.name": service, "run.marker": os.environ.get("RUN_MARKER", "")}))
    # The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT itself, as any app would.
    p.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return p


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--exit", type=int, default=0)
    parser.add_argument("--late", action="store_true")
    parser.add_argument("--send-late", metavar="TRACEPARENT")
    args = parser.parse_args()

    if args.send_late:
        time.sleep(1.5)
        p = provider("late-helper")
        with p.get_tracer("late").start_as_current_span("late-child", context=extract({"traceparent": args.send_late})):
            pass
        p.shutdown()
        return 0

    p = provider("shop")
    tracer = p.get_tracer("shop.checkout", "1.0.0")
    with tracer.start_as_current_span("checkout", kind=trace.SpanKind.SERVER, attributes={"order.id": "A-17", "cart.items": 3}):
        with tracer.start_as_current_span("charge", kind=trace.SpanKind.CLIENT, attributes={"payment.provider": "acme"}):
            time.sleep(0.01)
    if args.late:
        with tracer.start_as_current_span("late-parent") as parent:
            carrier = {}
            inject(carrier)
        # Detached: it outlives this process, like a worker that flushes late.
        subprocess.Popen([sys.executable, __file__, "--send-late", carrier["traceparent"]], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    p.shutdown()
    return args.exit


if __name__ == "__main__":
    sys.exit(main())
