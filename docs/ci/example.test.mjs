// Example tests for docs/ci/node-test-example.mjs. The code under test makes spans with the
// OpenTelemetry API, across awaits. Both tests pass as tests, but the second one's telemetry breaks
// `count(status = error) == 0`: its card is declined once and the charge retried. Under
//
//   otelbox run --per-test --assert 'count(status = error) == 0' --assert 'name = "checkout" -> name = "charge"' \
//       --junit otel.xml -- node --test docs/ci/example.test.mjs
//
// the first test's suite passes both assertions, and the second test's suite fails the first.

import assert from 'node:assert/strict';
import { trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { test } from './node-test-example.mjs';

const tracer = trace.getTracer('shop');

async function charge(card, attempt) {
  return tracer.startActiveSpan('charge', { kind: SpanKind.CLIENT, attributes: { attempt } }, async (span) => {
    await new Promise((resolve) => setTimeout(resolve, 5)); // the context survives the await
    const declined = card === 'flaky' && attempt === 1;
    if (declined) span.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
    span.end();
    return !declined;
  });
}

async function checkout(card) {
  return tracer.startActiveSpan('checkout', { kind: SpanKind.SERVER, attributes: { 'payment.card': card } }, async (span) => {
    try {
      for (const attempt of [1, 2]) {
        if (await charge(card, attempt)) return 'paid';
      }
      return 'declined';
    } finally {
      span.end();
    }
  });
}

test('checkout pays', async () => {
  assert.equal(await checkout('visa'), 'paid');
});

test('checkout retries a declined card', async () => {
  assert.equal(await checkout('flaky'), 'paid');
});
