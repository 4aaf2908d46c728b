// node:test and OpenTelemetry for `otelbox run --per-test`: every test runs inside a span named
// after it.
//
// Import `test` from this module instead of from 'node:test' (same signature). Each test then runs
// inside a span named after it, with the attribute `test.name` set ("FILE > TEST", suites included)
// and made current for the test's duration, awaits included, so what the test does lands in that
// test's trace. Then
//
//   otelbox run --per-test --assert 'count(status = error) == 0' --junit otel.xml -- node --test test/
//
// checks every assertion once per test, over that test's traces only: a JUnit testsuite per test,
// cases named "TEST :: ASSERTION". The span also records `test.outcome` (passed or failed).
//
// Needs @opentelemetry/api, @opentelemetry/context-async-hooks (the context that follows awaits),
// and, unless the process has an SDK registered already (say, by
// --import @opentelemetry/auto-instrumentations-node/register), @opentelemetry/sdk-trace-base,
// @opentelemetry/resources and @opentelemetry/exporter-trace-otlp-http. It then registers one
// that reads the OTEL_* environment `otelbox run` gives the command (the endpoint, short export
// delays), and shuts it down, which exports what is left, after the file's tests.

import { after, test as nodeTest } from 'node:test';
import path from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

// The attribute `otelbox run --per-test` groups by (its default).
export const TEST_NAME = 'test.name';

function setUpSdk() {
  // Without a context manager, the active span is lost at the first await. One registered already
  // (by auto-instrumentation) stays.
  const contextManager = new AsyncLocalStorageContextManager().enable();
  if (!context.setGlobalContextManager(contextManager)) contextManager.disable();
  if ((process.env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return undefined;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME || 'node-test' }),
    // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT, the processor OTEL_BSP_SCHEDULE_DELAY.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // False when an SDK is registered already: that one is used.
  if (trace.setGlobalTracerProvider(provider)) return provider;
  provider.shutdown();
  return undefined;
}

const provider = setUpSdk();
// A failed export is not the tests' failure: it is said, and the tests' outcome stands.
if (provider) after(() => provider.shutdown().catch((err) => console.error(`OpenTelemetry: the last export failed: ${err?.message ?? err}`)));

const tracer = trace.getTracer('otelbox.node-test');
const file = path.relative(process.cwd(), process.argv[1] ?? '') || 'test';

/** `node:test`'s `test([name][, options][, fn])`, each run inside a span named after the test. */
export function test(...args) {
  const index = args.findIndex((a) => typeof a === 'function');
  if (index < 0) return nodeTest(...args);
  const fn = args[index];
  // The test's own function keeps its arity: node:test passes `done` to functions of two parameters.
  const traced = fn.length >= 2
    ? (t, done) => inSpan(t, () => new Promise((resolve, reject) => fn(t, (err) => (err ? reject(err) : resolve()))), done)
    : (t) => inSpan(t, () => fn(t));
  args[index] = traced;
  return nodeTest(...args);
}

function inSpan(t, body, done) {
  const name = `${file} > ${t.fullName ?? t.name}`;
  const run = tracer.startActiveSpan(t.name, { attributes: { [TEST_NAME]: name, 'code.filepath': file } }, async (span) => {
    try {
      await body();
      span.setAttribute('test.outcome', 'passed');
    } catch (err) {
      // The test runner reports the failure; the span records it without an error status, so an
      // assertion on errors counts the code's errors, not the test's.
      span.setAttribute('test.outcome', 'failed');
      span.recordException(err);
      throw err;
    } finally {
      span.end();
    }
  });
  if (!done) return run;
  run.then(() => done(), done);
  return undefined;
}
