// Interop sender: emits one trace (3 spans), four metrics and two log records
// with the official OpenTelemetry JS SDK and its OTLP HTTP exporters, which
// send OTLP/JSON (Content-Type: application/json). Used by test_interop.py
// against otelbox.
//
// Usage: node send_js.mjs ENDPOINT MARKER
//   ENDPOINT  base URL of the OTLP/HTTP receiver, e.g. http://127.0.0.1:4318
//             (/v1/traces, /v1/metrics and /v1/logs are appended)
//   MARKER    unique string put in the resource attribute run.marker
//
// On success prints one JSON line (prefixed "SUMMARY ") with the ids the test
// needs and exits 0. Exits non-zero if any export failed or if anything was
// not exported.

import { trace, SpanKind, SpanStatusCode, ROOT_CONTEXT, diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { ExportResultCode } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPMetricExporter, AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';

const EXPORT_TIMEOUT_MS = 10_000;

const [endpointArg, marker] = process.argv.slice(2);
if (!endpointArg || !marker) {
  console.error('usage: node send_js.mjs ENDPOINT MARKER');
  process.exit(2);
}
const endpoint = endpointArg.replace(/\/+$/, '');
const service = 'js-http-json';
const metricPrefix = 'interop.js_http_json';

// SDK-internal warnings (e.g. a rejected attribute, a failed export) go to stderr.
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

// Every export call's outcome.
const results = [];

function countMetricPoints(resourceMetrics) {
  let n = 0;
  for (const sm of resourceMetrics.scopeMetrics) {
    for (const m of sm.metrics) n += m.dataPoints.length;
  }
  return n;
}

// Wrap an exporter's export() so that every result is recorded.
function recording(exporter, signal, count) {
  const original = exporter.export.bind(exporter);
  exporter.export = (items, resultCallback) => {
    original(items, (result) => {
      results.push({
        signal,
        ok: result.code === ExportResultCode.SUCCESS,
        error: result.error ? String(result.error) : undefined,
        n: count(items),
      });
      resultCallback(result);
    });
  };
  return exporter;
}

const common = { timeoutMillis: EXPORT_TIMEOUT_MS, compression: 'none', headers: {} };
const spanExporter = recording(
  new OTLPTraceExporter({ ...common, url: `${endpoint}/v1/traces` }),
  'traces',
  (spans) => spans.length,
);
const metricExporter = recording(
  new OTLPMetricExporter({
    ...common,
    url: `${endpoint}/v1/metrics`,
    temporalityPreference: AggregationTemporalityPreference.CUMULATIVE,
  }),
  'metrics',
  countMetricPoints,
);
const logExporter = recording(
  new OTLPLogExporter({ ...common, url: `${endpoint}/v1/logs` }),
  'logs',
  (logs) => logs.length,
);

// defaultResource() adds telemetry.sdk.*; ours overrides its service.name.
const resource = defaultResource().merge(
  resourceFromAttributes({
    'service.name': service,
    'run.marker': marker,
    'deployment.environment': 'test',
  }),
);

const tracerProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor(spanExporter)],
});
const meterProvider = new MeterProvider({
  resource,
  readers: [
    new PeriodicExportingMetricReader({
      exporter: metricExporter,
      exportIntervalMillis: 3_600_000,
      exportTimeoutMillis: EXPORT_TIMEOUT_MS,
    }),
  ],
});
const loggerProvider = new LoggerProvider({
  resource,
  processors: [new BatchLogRecordProcessor({ exporter: logExporter })],
});

const tracer = tracerProvider.getTracer('interop.scope', '1.2.3');
const logger = loggerProvider.getLogger('interop.logs', '0.1.0');
const meter = meterProvider.getMeter('interop.meter', '0.9.0');

// JS span contexts already hold the ids as lowercase hex strings.
const hex = (s) => s.toLowerCase();

// ---- trace ------------------------------------------------------------------
// A span in a trace of its own, only so the child can link to it.
const target = tracer.startSpan('js-link-target', { kind: SpanKind.INTERNAL, root: true }, ROOT_CONTEXT);
target.setAttribute('run.marker', marker);
target.end();
const targetCtx = target.spanContext();

// JS span attributes accept only string, number, boolean and homogeneous
// arrays of those: Uint8Array (bytes) and plain objects (maps) are rejected,
// so they are not sent as span attributes here (the log records carry them).
const root = tracer.startSpan(
  'js-root',
  {
    kind: SpanKind.SERVER,
    attributes: {
      'attr.string': 'hello',
      'attr.bool': true,
      'attr.int': 42,
      'attr.int_big': 1099511627776, // 2**40, beyond 32 bits
      'attr.int_negative': -7,
      'attr.double': 3.25,
      'attr.string_array': ['a', 'b', 'c'],
      'attr.int_array': [1, 2, 3],
      'attr.double_array': [1.5, 2.5],
      'attr.bool_array': [true, false],
    },
  },
  ROOT_CONTEXT,
);
root.addEvent('js-event', { 'event.string': 'something happened', 'event.int': 7, 'event.bool': false });
const rootCtx = trace.setSpan(ROOT_CONTEXT, root);

const child = tracer.startSpan(
  'js-child',
  {
    kind: SpanKind.CLIENT,
    links: [{ context: targetCtx, attributes: { 'link.reason': 'retry-of' } }],
    attributes: { 'peer.service': 'downstream', 'http.response.status_code': 503 },
  },
  rootCtx,
);
child.setStatus({ code: SpanStatusCode.ERROR, message: 'js child failed' });
child.end();

// ---- logs -------------------------------------------------------------------
// Inside the root span: trace/span ids come from the context.
logger.emit({
  timestamp: Date.now(),
  severityNumber: SeverityNumber.WARN,
  severityText: 'WARN',
  body: `js string body ${marker}`,
  attributes: { 'log.kind': 'string', 'log.int': 5 },
  context: rootCtx,
});
root.end();

// Log attributes (unlike span attributes) may hold bytes and maps.
logger.emit({
  timestamp: Date.now(),
  severityNumber: SeverityNumber.INFO,
  severityText: 'INFO',
  body: {
    event: 'checkout',
    items: 3,
    total: 12.5,
    ok: true,
    tags: ['x', 'y'],
    nested: { k: 'v' },
  },
  attributes: {
    'log.kind': 'map',
    'user.id': 42,
    'log.bytes': new Uint8Array([0x00, 0x01, 0xfe, 0x62, 0x69, 0x6e]),
  },
  context: ROOT_CONTEXT,
});

// ---- metrics ----------------------------------------------------------------
const pointAttrs = { 'run.marker': marker, route: '/checkout' };
const counter = meter.createCounter(`${metricPrefix}.requests`, { unit: '1', description: 'requests served' });
counter.add(3, pointAttrs);
counter.add(4, pointAttrs);
const updown = meter.createUpDownCounter(`${metricPrefix}.queue_depth`, { unit: '1', description: 'queue depth' });
updown.add(5, pointAttrs);
updown.add(-2, pointAttrs);
const histogram = meter.createHistogram(`${metricPrefix}.latency`, { unit: 'ms', description: 'request latency' });
for (const v of [5.0, 12.5, 40.0, 250.0]) histogram.record(v, pointAttrs);
const gauge = meter.createObservableGauge(`${metricPrefix}.temperature`, {
  unit: 'Cel',
  description: 'room temperature',
});
gauge.addCallback((result) => result.observe(21.5, pointAttrs));

// ---- flush everything -------------------------------------------------------
let ok = true;
async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    ok = false;
    console.error(`${name} failed: ${err && err.stack ? err.stack : err}`);
  }
}
await step('tracerProvider.forceFlush', () => tracerProvider.forceFlush());
await step('loggerProvider.forceFlush', () => loggerProvider.forceFlush());
await step('meterProvider.forceFlush', () => meterProvider.forceFlush({ timeoutMillis: EXPORT_TIMEOUT_MS * 2 }));
await step('tracerProvider.shutdown', () => tracerProvider.shutdown());
await step('loggerProvider.shutdown', () => loggerProvider.shutdown());
await step('meterProvider.shutdown', () => meterProvider.shutdown());

const exported = { traces: 0, metrics: 0, logs: 0 };
for (const r of results) {
  console.error(`export ${r.signal}: ${r.ok ? 'SUCCESS' : 'FAILURE'} (${r.n} items)${r.error ? ' ' + r.error : ''}`);
  if (!r.ok) ok = false;
  else exported[r.signal] += r.n;
}
const expectedMin = { traces: 3, metrics: 4, logs: 2 };
for (const [signal, n] of Object.entries(expectedMin)) {
  if (exported[signal] < n) {
    console.error(`only ${exported[signal]} ${signal} items exported successfully, expected >= ${n}`);
    ok = false;
  }
}
if (!ok) {
  console.error('EXPORT FAILED');
  process.exit(1);
}

const summary = {
  service,
  marker,
  metric_prefix: metricPrefix,
  trace_id: hex(root.spanContext().traceId),
  root_span_id: hex(root.spanContext().spanId),
  child_span_id: hex(child.spanContext().spanId),
  child_trace_id: hex(child.spanContext().traceId),
  link_trace_id: hex(targetCtx.traceId),
  link_span_id: hex(targetCtx.spanId),
};
console.log('SUMMARY ' + JSON.stringify(summary));
process.exit(0);
