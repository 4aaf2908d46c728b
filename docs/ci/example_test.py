"""Example tests for docs/ci/pytest-conftest.py (copied beside them as conftest.py).

The code under test makes spans with the OpenTelemetry API. Both tests pass as pytest tests, but
the second one's telemetry breaks `count(status = error) == 0`: its card is declined once and the
charge retried. Under

    otelbox run --per-test --assert 'count(status = error) == 0' --assert 'name = "checkout" -> name = "charge"' \
        --junit otel.xml -- python -m pytest

the first test's suite passes both assertions (the other test's error span is not in its traces),
and the second test's suite fails the first.
"""
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

tracer = trace.get_tracer("shop")


def checkout(card):
    with tracer.start_as_current_span("checkout", kind=trace.SpanKind.SERVER, attributes={"payment.card": card}):
        for attempt in (1, 2):
            with tracer.start_as_current_span("charge", kind=trace.SpanKind.CLIENT, attributes={"attempt": attempt}) as charge:
                if card == "flaky" and attempt == 1:
                    charge.set_status(Status(StatusCode.ERROR, "card declined"))
                    continue
                return "paid"
    return "declined"


def test_checkout_pays():
    assert checkout("visa") == "paid"


def test_checkout_retries_a_declined_card():
    assert checkout("flaky") == "paid"
