#!/usr/bin/env python3
"""A trace whose root span arrives late, or never, for the trace-complete waits (`otelbox wait
--complete`, `otelbox run --complete`) and the lint's orphans, with the official Python SDK.

It exports the child span `child-op` at once, then its parent, the root `root-op`, --root-after
SECONDS later (never with a negative value). With --detach it does all that in a detached process
and exits at once, like a worker that outlives the command. Configured through the OTEL_*
environment (the endpoint); RUN_MARKER goes in the resource attribute run.marker.
"""
import argparse
import os
import subprocess
import sys
import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root-after", type=float, default=2.0)
    parser.add_argument("--detach", action="store_true")
    args = parser.parse_args()
    if args.detach:
        subprocess.Popen([sys.executable, __file__, "--root-after", str(args.root_after)], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return 0
    provider = TracerProvider(resource=Resource.create({"service.name": "slow-root", "run.marker": os.environ.get("RUN_MARKER", "")}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))  # each span exported as it ends
    tracer = provider.get_tracer("incomplete")
    root = tracer.start_span("root-op", kind=trace.SpanKind.SERVER)
    with tracer.start_as_current_span("child-op", context=trace.set_span_in_context(root)):
        pass
    if args.root_after >= 0:
        time.sleep(args.root_after)
        root.end()
    provider.shutdown()  # an unended root is never exported
    return 0


if __name__ == "__main__":
    sys.exit(main())
