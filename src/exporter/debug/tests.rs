//! Tests of the debug exporter: its settings, sampling, and the text it prints at each verbosity.

use super::render::{go_float_f, go_float_v, severity_name, typed_value};
use super::*;
use crate::config::Kind;
use crate::pipeline::ack::AckToken;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, Metric, NumberDataPoint};
use opentelemetry_proto::tonic::metrics::v1::{Gauge, Histogram, HistogramDataPoint, ResourceMetrics, ScopeMetrics, Sum};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

/// Collects what the exporter prints.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);
impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn kv(key: &str, value: V) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", V::StringValue("checkout".into()))],
        ..Default::default()
    })
}

const T0: u64 = 1_581_452_772_000_000_000; // 2020-02-11 20:26:12 UTC

fn golden_traces() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "io.opentelemetry.http".into(),
                    version: "1.2.0".into(),
                    ..Default::default()
                }),
                spans: vec![
                    Span {
                        trace_id: (1..=16).collect(),
                        span_id: (0x11..=0x18).collect(),
                        parent_span_id: vec![0xaa; 8],
                        name: "GET /cart".into(),
                        kind: 2,
                        start_time_unix_nano: T0 + 321,
                        end_time_unix_nano: T0 + 1_000_000_789,
                        attributes: vec![
                            kv("http.method", V::StringValue("GET".into())),
                            kv("http.status_code", V::IntValue(500)),
                        ],
                        events: vec![Event {
                            time_unix_nano: T0 + 500_000_000,
                            name: "exception".into(),
                            attributes: vec![kv("exception.message", V::StringValue("out of stock".into()))],
                            dropped_attributes_count: 0,
                        }],
                        status: Some(Status {
                            code: 2,
                            message: "boom".into(),
                        }),
                        ..Default::default()
                    },
                    Span {
                        trace_id: (1..=16).collect(),
                        span_id: (0x21..=0x28).collect(),
                        parent_span_id: (0x11..=0x18).collect(),
                        name: "SELECT cart".into(),
                        kind: 3,
                        start_time_unix_nano: T0 + 100_000_000,
                        end_time_unix_nano: T0 + 200_000_000,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
        }],
    }
}

fn golden_metrics() -> ExportMetricsServiceRequest {
    let number = |value, attributes| NumberDataPoint {
        attributes,
        time_unix_nano: T0,
        value: Some(value),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "meter".into(),
                    ..Default::default()
                }),
                metrics: vec![
                    Metric {
                        name: "queue.depth".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![number(
                                number_data_point::Value::AsInt(7),
                                vec![kv("queue", V::StringValue("orders".into()))],
                            )],
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "requests".into(),
                        unit: "1".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![number(number_data_point::Value::AsDouble(12.5), vec![])],
                            aggregation_temporality: 2,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "latency".into(),
                        unit: "ms".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                time_unix_nano: T0,
                                count: 3,
                                sum: Some(60.0),
                                min: Some(5.0),
                                max: Some(40.0),
                                bucket_counts: vec![1, 2, 0],
                                explicit_bounds: vec![10.0, 50.0],
                                ..Default::default()
                            }],
                            aggregation_temporality: 1,
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn golden_logs() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: T0,
                    severity_number: 17,
                    severity_text: "ERROR".into(),
                    body: Some(AnyValue {
                        value: Some(V::StringValue("payment failed".into())),
                    }),
                    attributes: vec![kv("order.id", V::IntValue(42))],
                    flags: 1,
                    trace_id: (1..=16).collect(),
                    span_id: (0x11..=0x18).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn exporter(config: &DebugExporterConfig) -> (DebugExporter, Captured, PerSignal) {
    let captured = Captured::default();
    let counters = PerSignal::detached("exporter/debug");
    let id = ComponentId {
        kind: "debug".into(),
        name: None,
    };
    let exporter = DebugExporter::with_output(&id, config, counters.clone(), Box::new(captured.clone()));
    (exporter, captured, counters)
}

/// Sends one batch and checks that its ack was committed.
async fn send<T: PipelineData>(exporter: &DebugExporter, data: T) {
    let (ack, committed) = AckToken::new();
    exporter.consume(Envelope::new(data, ack)).await.unwrap();
    assert_eq!(committed.await.unwrap(), Ok(()));
}

fn lines(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn config_of(yaml: &str) -> DebugExporterConfig {
    let config = crate::components::parse_config(yaml).unwrap();
    config.settings_of::<DebugExporterConfig>(Kind::Exporter, "debug")[0].1.clone()
}

const TRACES_SUMMARY: &str = "Traces\t{\"otelcol.component.id\": \"debug\", \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"traces\", \"resource spans\": 1, \"spans\": 2}";

#[tokio::test]
async fn the_collector_example_prints_a_detailed_dump() {
    let config = config_of(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:4318
exporters:
  debug:
    verbosity: detailed
    sampling_initial: 5
    sampling_thereafter: 200
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
"#,
    );
    assert_eq!(
        config,
        DebugExporterConfig {
            verbosity: Verbosity::Detailed,
            sampling_initial: 5,
            sampling_thereafter: 200
        }
    );
    let (exporter, captured, counters) = exporter(&config);
    send(&exporter, golden_traces()).await;
    let expected = lines(&[
        TRACES_SUMMARY,
        "ResourceSpans #0",
        "Resource SchemaURL: https://opentelemetry.io/schemas/1.21.0",
        "Resource attributes:",
        "     -> service.name: Str(checkout)",
        "ScopeSpans #0",
        "ScopeSpans SchemaURL: ",
        "InstrumentationScope io.opentelemetry.http 1.2.0",
        "Span #0",
        "    Trace ID       : 0102030405060708090a0b0c0d0e0f10",
        "    Parent ID      : aaaaaaaaaaaaaaaa",
        "    ID             : 1112131415161718",
        "    Name           : GET /cart",
        "    Kind           : Server",
        "    Start time     : 2020-02-11 20:26:12.000000321 +0000 UTC",
        "    End time       : 2020-02-11 20:26:13.000000789 +0000 UTC",
        "    Status code    : Error",
        "    Status message : boom",
        "    DroppedAttributesCount: 0",
        "    DroppedEventsCount: 0",
        "    DroppedLinksCount: 0",
        "Attributes:",
        "     -> http.method: Str(GET)",
        "     -> http.status_code: Int(500)",
        "Events:",
        "SpanEvent #0",
        "     -> Name: exception",
        "     -> Timestamp: 2020-02-11 20:26:12.5 +0000 UTC",
        "     -> DroppedAttributesCount: 0",
        "     -> Attributes::",
        "          -> exception.message: Str(out of stock)",
        "Span #1",
        "    Trace ID       : 0102030405060708090a0b0c0d0e0f10",
        "    Parent ID      : 1112131415161718",
        "    ID             : 2122232425262728",
        "    Name           : SELECT cart",
        "    Kind           : Client",
        "    Start time     : 2020-02-11 20:26:12.1 +0000 UTC",
        "    End time       : 2020-02-11 20:26:12.2 +0000 UTC",
        "    Status code    : Unset",
        "    Status message : ",
        "    DroppedAttributesCount: 0",
        "    DroppedEventsCount: 0",
        "    DroppedLinksCount: 0",
    ]);
    assert_eq!(captured.text(), expected);
    assert_eq!(counters.traces.sent.load(Ordering::Relaxed), 2);
}

use std::sync::atomic::Ordering;

#[tokio::test]
async fn basic_prints_one_line_per_batch_by_default() {
    let config = config_of(
        "receivers: {otlp: {protocols: {http: {}}}}\nexporters: {debug/quiet: {}}\nservice: {pipelines: {logs: {receivers: [otlp], exporters: [debug/quiet]}}}",
    );
    assert_eq!(config, DebugExporterConfig::default());
    let (exporter, captured, counters) = exporter(&config);
    send(&exporter, golden_traces()).await;
    send(&exporter, golden_metrics()).await;
    send(&exporter, golden_logs()).await;
    let expected = lines(&[
        TRACES_SUMMARY,
        "Metrics\t{\"otelcol.component.id\": \"debug\", \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"metrics\", \"resource metrics\": 1, \"metrics\": 3, \"data points\": 3}",
        "Logs\t{\"otelcol.component.id\": \"debug\", \"otelcol.component.kind\": \"exporter\", \"otelcol.signal\": \"logs\", \"resource logs\": 1, \"log records\": 1}",
    ]);
    assert_eq!(captured.text(), expected);
    assert_eq!(counters.traces.sent.load(Ordering::Relaxed), 2);
    assert_eq!(counters.metrics.sent.load(Ordering::Relaxed), 3);
    assert_eq!(counters.logs.sent.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn normal_prints_one_line_per_item() {
    let config = DebugExporterConfig {
        verbosity: Verbosity::Normal,
        ..Default::default()
    };
    let (exporter, captured, _) = exporter(&config);
    send(&exporter, golden_traces()).await;
    send(&exporter, golden_metrics()).await;
    send(&exporter, golden_logs()).await;
    let text = captured.text();
    let body: Vec<&str> = text.lines().filter(|l| !l.contains("otelcol.component.id")).collect();
    assert_eq!(
        body,
        [
            "ResourceTraces #0 [https://opentelemetry.io/schemas/1.21.0] service.name=checkout",
            "ScopeTraces #0 io.opentelemetry.http@1.2.0",
            "GET /cart 0102030405060708090a0b0c0d0e0f10 1112131415161718 http.method=GET http.status_code=500",
            "SELECT cart 0102030405060708090a0b0c0d0e0f10 2122232425262728",
            "ResourceMetrics #0 service.name=checkout",
            "ScopeMetrics #0 meter",
            "queue.depth{queue=orders} 7",
            "requests{} 12.5",
            "latency{} count=3 sum=60 min=5 max=40 le10=1 le50=2 0",
            "ResourceLog #0 service.name=checkout",
            "ScopeLog #0",
            "payment failed order.id=42",
        ]
    );
}

#[tokio::test]
async fn detailed_dumps_metrics_and_logs() {
    let config = DebugExporterConfig {
        verbosity: Verbosity::Detailed,
        ..Default::default()
    };
    let (exporter, captured, _) = exporter(&config);
    send(&exporter, golden_logs()).await;
    let text = captured.text();
    let expected = lines(&[
        "ResourceLog #0",
        "Resource SchemaURL: ",
        "Resource attributes:",
        "     -> service.name: Str(checkout)",
        "ScopeLogs #0",
        "ScopeLogs SchemaURL: ",
        "InstrumentationScope  ",
        "LogRecord #0",
        "ObservedTimestamp: 1970-01-01 00:00:00 +0000 UTC",
        "Timestamp: 2020-02-11 20:26:12 +0000 UTC",
        "SeverityText: ERROR",
        "SeverityNumber: Error(17)",
        "Body: Str(payment failed)",
        "Attributes:",
        "     -> order.id: Int(42)",
        "Trace ID: 0102030405060708090a0b0c0d0e0f10",
        "Span ID: 1112131415161718",
        "Flags: 1",
    ]);
    assert_eq!(text.split_once('\n').unwrap().1, expected);

    let (exporter, captured, _) = self::exporter(&config);
    send(&exporter, golden_metrics()).await;
    let text = captured.text();
    let expected = lines(&[
        "ResourceMetrics #0",
        "Resource SchemaURL: ",
        "Resource attributes:",
        "     -> service.name: Str(checkout)",
        "ScopeMetrics #0",
        "ScopeMetrics SchemaURL: ",
        "InstrumentationScope meter ",
        "Metric #0",
        "Descriptor:",
        "     -> Name: queue.depth",
        "     -> Description: ",
        "     -> Unit: ",
        "     -> DataType: Gauge",
        "NumberDataPoints #0",
        "Data point attributes:",
        "     -> queue: Str(orders)",
        "StartTimestamp: 1970-01-01 00:00:00 +0000 UTC",
        "Timestamp: 2020-02-11 20:26:12 +0000 UTC",
        "Value: 7",
        "Metric #1",
        "Descriptor:",
        "     -> Name: requests",
        "     -> Description: ",
        "     -> Unit: 1",
        "     -> DataType: Sum",
        "     -> IsMonotonic: true",
        "     -> AggregationTemporality: Cumulative",
        "NumberDataPoints #0",
        "StartTimestamp: 1970-01-01 00:00:00 +0000 UTC",
        "Timestamp: 2020-02-11 20:26:12 +0000 UTC",
        "Value: 12.500000",
        "Metric #2",
        "Descriptor:",
        "     -> Name: latency",
        "     -> Description: ",
        "     -> Unit: ms",
        "     -> DataType: Histogram",
        "     -> AggregationTemporality: Delta",
        "HistogramDataPoints #0",
        "StartTimestamp: 1970-01-01 00:00:00 +0000 UTC",
        "Timestamp: 2020-02-11 20:26:12 +0000 UTC",
        "Count: 3",
        "Sum: 60.000000",
        "Min: 5.000000",
        "Max: 40.000000",
        "ExplicitBounds #0: 10.000000",
        "ExplicitBounds #1: 50.000000",
        "Buckets #0, Count: 1",
        "Buckets #1, Count: 2",
        "Buckets #2, Count: 0",
    ]);
    assert_eq!(text.split_once('\n').unwrap().1, expected);
}

#[test]
fn sampling_prints_the_initial_batches_then_every_nth_each_second() {
    let config = DebugExporterConfig {
        sampling_initial: 1,
        sampling_thereafter: 2,
        ..Default::default()
    };
    let (exporter, _, _) = exporter(&config);
    let t0 = Instant::now();
    let printed: Vec<bool> = (0..5).map(|_| exporter.printer.sample(Signal::Traces, t0)).collect();
    assert_eq!(printed, [true, false, true, false, true]);
    assert!(exporter.printer.sample(Signal::Logs, t0), "each signal has its own window");
    assert!(
        exporter.printer.sample(Signal::Traces, t0 + Duration::from_secs(1)),
        "a new second starts over"
    );
}

#[tokio::test]
async fn sampled_out_batches_are_still_acknowledged_and_counted() {
    let config = DebugExporterConfig {
        sampling_initial: 0,
        sampling_thereafter: 0,
        ..Default::default()
    };
    let (exporter, captured, counters) = exporter(&config);
    send(&exporter, golden_traces()).await;
    assert_eq!(captured.text(), "");
    assert_eq!(counters.traces.sent.load(Ordering::Relaxed), 2);
}

#[test]
fn values_print_as_the_collector_prints_them() {
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    let typed = |v: V| typed_value(Some(&AnyValue { value: Some(v) }));
    assert_eq!(typed(V::DoubleValue(1.5)), "Double(1.5)");
    assert_eq!(typed(V::BoolValue(true)), "Bool(true)");
    assert_eq!(typed(V::BytesValue(vec![1, 2, 3])), "Bytes(AQID)");
    assert_eq!(
        typed(V::ArrayValue(ArrayValue {
            values: vec![AnyValue {
                value: Some(V::IntValue(1))
            }]
        })),
        "Slice([1])"
    );
    assert_eq!(
        typed(V::KvlistValue(KeyValueList {
            values: vec![kv("b", V::StringValue("x".into())), kv("a", V::IntValue(2))]
        })),
        "Map({\"a\":2,\"b\":\"x\"})"
    );
    assert_eq!(typed_value(None), "Empty()");
    assert_eq!(go_float_v(1e21), "1e+21");
    assert_eq!(go_float_v(0.00001), "1e-05");
    assert_eq!(go_float_v(100.1), "100.1");
    assert_eq!(go_float_f(f64::INFINITY), "+Inf");
    assert_eq!(severity_name(9), "Info");
    assert_eq!(severity_name(10), "Info2");
    assert_eq!(severity_name(24), "Fatal4");
}

#[test]
fn config_errors_name_their_paths() {
    let errors = crate::components::parse_config(
        r#"
receivers: {otlp: {protocols: {http: {}}}}
exporters:
  debug:
    verbosity: loud
    sampling_initial: -1
    use_internal_logger: true
service: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}
"#,
    )
    .unwrap_err();
    assert_eq!(
        errors.0,
        [
            "exporters.debug.use_internal_logger: unknown key (expected one of: verbosity, sampling_initial, sampling_thereafter)",
            "exporters.debug.verbosity: expected basic, normal or detailed, got 'loud'",
            "exporters.debug.sampling_initial: expected a non-negative integer, got a number",
        ]
    );
    let errors = crate::components::parse_config(
        "receivers: {otlp: {protocols: {http: {}}}}\nexporters: {debug: [basic]}\nservice: {pipelines: {traces: {receivers: [otlp], exporters: [debug]}}}",
    )
    .unwrap_err();
    assert_eq!(errors.0, ["exporters.debug: expected a mapping, got a list"]);
}
