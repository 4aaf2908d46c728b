"""conftest.py for `otelbox run --per-test`: every pytest test runs inside a span named after it.

Copy this file into your tests directory as conftest.py (or merge it into yours). Each test then
runs inside a span named after the test, with the attribute `test.name` set to its node id
(`tests/test_shop.py::test_refund`) and made current for the test's duration, so what the test
does lands in that test's trace: the spans of your code, those of services it calls over HTTP when
they propagate the context, and log records emitted inside it. Then

    otelbox run --per-test --assert 'count(status = error) == 0' --junit otel.xml -- python -m pytest tests

checks every assertion once per test, over that test's traces only: a JUnit testsuite per test,
cases named "TEST :: ASSERTION". The span also records `test.outcome` (passed, failed, skipped).

It needs the OpenTelemetry Python API and, unless the process already has an SDK set up (by
opentelemetry-instrument, or by your own code), the SDK and the OTLP exporter:
`pip install opentelemetry-sdk opentelemetry-exporter-otlp`. It then sets one up from the OTEL_*
environment `otelbox run` gives the command (the endpoint, the protocol, short export delays), and
shuts it down, which exports what is left, when the session ends.
"""
import os

import pytest
from opentelemetry import trace

# The attribute `otelbox run --per-test` groups by (its default).
TEST_NAME = "test.name"

_provider = None


def _set_up_sdk():
    """A TracerProvider exporting OTLP as the environment says, unless one is set up already."""
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return None  # opentelemetry-instrument's, or the project's own
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        if os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "").strip() == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        return None  # the API alone: spans are no-ops
    # The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT, the processor OTEL_BSP_SCHEDULE_DELAY, and the
    # resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "pytest")}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def pytest_configure(config):
    global _provider
    _provider = _set_up_sdk()


def pytest_unconfigure(config):
    if _provider is not None:
        _provider.shutdown()  # exports the spans still batched


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, for the fixture's test.outcome."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_otel_report_{report.when}", report)


@pytest.fixture(autouse=True)
def otel_test_span(request):
    """Runs the test inside a span named after it, with test.name set: its trace is the test's."""
    tracer = trace.get_tracer("otelbox.pytest")
    attributes = {TEST_NAME: request.node.nodeid, "code.function": request.node.name}
    path = getattr(request.node, "path", None)  # pytest >= 7
    if path is not None:
        attributes["code.filepath"] = str(path)
    with tracer.start_as_current_span(request.node.name, kind=trace.SpanKind.INTERNAL, attributes=attributes) as span:
        yield span
        report = getattr(request.node, "_otel_report_call", None)
        if report is not None:
            span.set_attribute("test.outcome", report.outcome)
