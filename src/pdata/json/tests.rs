//! Tests of the OTLP/JSON codec through its public API: round trips of every signal, the Collector
//! file format, the decoder's leniencies, errors with their paths, and plain attribute values.

use super::{
    any_value_to_plain, attributes_to_plain, decode_logs, decode_metrics, decode_traces, encode_logs, encode_metrics, encode_traces,
    JsonError,
};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, exponential_histogram_data_point, metric, number_data_point, summary_data_point, AggregationTemporality, Exemplar,
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{json, Value};

const TID: [u8; 16] = [
    0x5b, 0x8e, 0xfb, 0xf7, 0x8b, 0x1c, 0x4d, 0x2a, 0x91, 0x0a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56,
];
const SID: [u8; 8] = [0xeb, 0xa2, 0x3f, 0x10, 0x00, 0xab, 0xcd, 0xef];
const PSID: [u8; 8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];

fn av(v: any_value::Value) -> AnyValue {
    AnyValue { value: Some(v) }
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(av(v)),
        key_strindex: 0,
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.to_owned())
}

/// One attribute of every AnyValue type, nested ones included.
fn all_attrs() -> Vec<KeyValue> {
    use any_value::Value as V;
    vec![
        kv("str", s("hello \"world\" ✓")),
        kv("empty.str", s("")),
        kv("bool", V::BoolValue(true)),
        kv("bool.false", V::BoolValue(false)),
        kv("int", V::IntValue(-9_223_372_036_854_775_808)),
        kv("int.zero", V::IntValue(0)),
        kv("double", V::DoubleValue(1234.5678e-3)),
        kv("double.tiny", V::DoubleValue(-1.0e-300)),
        kv("double.zero", V::DoubleValue(0.0)),
        kv("bytes", V::BytesValue(vec![0, 1, 2, 254, 255])),
        kv("bytes.empty", V::BytesValue(vec![])),
        kv(
            "array",
            V::ArrayValue(ArrayValue {
                values: vec![
                    av(s("a")),
                    av(V::IntValue(7)),
                    AnyValue { value: None },
                    av(V::ArrayValue(ArrayValue { values: vec![] })),
                ],
            }),
        ),
        kv(
            "kvlist",
            V::KvlistValue(KeyValueList {
                values: vec![
                    kv("inner", V::DoubleValue(1.5)),
                    kv(
                        "deeper",
                        V::KvlistValue(KeyValueList {
                            values: vec![kv("x", V::BoolValue(true))],
                        }),
                    ),
                ],
            }),
        ),
        KeyValue {
            key: "empty.value".to_owned(),
            value: Some(AnyValue { value: None }),
            key_strindex: 0,
        },
        KeyValue {
            key: "no.value".to_owned(),
            value: None,
            key_strindex: 0,
        },
    ]
}

fn resource() -> Resource {
    let mut attributes = all_attrs();
    // Profiles-only string table references, carried through untouched.
    attributes.push(KeyValue {
        key: String::new(),
        value: Some(av(any_value::Value::StringValueStrindex(3))),
        key_strindex: 5,
    });
    Resource {
        attributes,
        dropped_attributes_count: 3,
        entity_refs: vec![EntityRef {
            schema_url: "https://opentelemetry.io/schemas/1.30.0".to_owned(),
            r#type: "service".to_owned(),
            id_keys: vec!["service.name".to_owned(), "service.namespace".to_owned()],
            description_keys: vec!["service.version".to_owned()],
        }],
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "my.library".to_owned(),
        version: "1.2.3".to_owned(),
        attributes: vec![kv("scope.attr", s("v"))],
        dropped_attributes_count: 1,
    }
}

fn traces_fixture() -> ExportTraceServiceRequest {
    let span = Span {
        trace_id: TID.to_vec(),
        span_id: SID.to_vec(),
        trace_state: "vendor=value".to_owned(),
        parent_span_id: PSID.to_vec(),
        flags: 0x301,
        name: "GET /users/{id}".to_owned(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: 1_700_000_000_123_456_789,
        end_time_unix_nano: u64::MAX,
        attributes: all_attrs(),
        dropped_attributes_count: 4,
        events: vec![
            span::Event {
                time_unix_nano: 1_700_000_000_200_000_000,
                name: "exception".to_owned(),
                attributes: vec![kv("exception.message", s("boom"))],
                dropped_attributes_count: 2,
            },
            span::Event::default(),
        ],
        dropped_events_count: 5,
        links: vec![
            span::Link {
                trace_id: TID.to_vec(),
                span_id: PSID.to_vec(),
                trace_state: "a=b".to_owned(),
                attributes: vec![kv("link.attr", any_value::Value::IntValue(1))],
                dropped_attributes_count: 6,
                flags: 0x100,
            },
            span::Link::default(),
        ],
        dropped_links_count: 7,
        status: Some(Status {
            message: "it failed".to_owned(),
            code: status::StatusCode::Error as i32,
        }),
    };
    let minimal = Span {
        trace_id: TID.to_vec(),
        span_id: PSID.to_vec(),
        status: Some(Status::default()),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(resource()),
                scope_spans: vec![
                    ScopeSpans {
                        scope: Some(scope()),
                        spans: vec![span, minimal, Span::default()],
                        schema_url: "https://opentelemetry.io/schemas/1.21.0".to_owned(),
                    },
                    ScopeSpans::default(),
                ],
                schema_url: "https://opentelemetry.io/schemas/1.20.0".to_owned(),
            },
            ResourceSpans::default(),
        ],
    }
}

fn exemplars() -> Vec<Exemplar> {
    vec![
        Exemplar {
            filtered_attributes: vec![kv("user", s("alice"))],
            time_unix_nano: 1_700_000_000_000_000_001,
            span_id: SID.to_vec(),
            trace_id: TID.to_vec(),
            value: Some(exemplar::Value::AsDouble(0.25)),
        },
        Exemplar {
            filtered_attributes: vec![],
            time_unix_nano: 2,
            span_id: vec![],
            trace_id: vec![],
            value: Some(exemplar::Value::AsInt(i64::MIN)),
        },
        Exemplar::default(),
    ]
}

fn metrics_fixture() -> ExportMetricsServiceRequest {
    use metric::Data;
    let point_attrs = vec![kv("host", s("a")), kv("cpu", any_value::Value::IntValue(3))];
    let gauge = Metric {
        name: "temperature".to_owned(),
        description: "the temperature".to_owned(),
        unit: "Cel".to_owned(),
        metadata: vec![kv("meta", s("data"))],
        data: Some(Data::Gauge(Gauge {
            data_points: vec![
                NumberDataPoint {
                    attributes: point_attrs.clone(),
                    start_time_unix_nano: 1,
                    time_unix_nano: 1_700_000_000_000_000_000,
                    exemplars: exemplars(),
                    flags: 1,
                    value: Some(number_data_point::Value::AsDouble(-12.5)),
                },
                NumberDataPoint {
                    value: Some(number_data_point::Value::AsInt(i64::MAX)),
                    ..Default::default()
                },
                NumberDataPoint {
                    value: Some(number_data_point::Value::AsDouble(0.0)),
                    ..Default::default()
                },
                NumberDataPoint::default(),
            ],
        })),
    };
    let sum = Metric {
        name: "requests".to_owned(),
        data: Some(Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                attributes: point_attrs.clone(),
                start_time_unix_nano: 10,
                time_unix_nano: 20,
                exemplars: vec![],
                flags: 0,
                value: Some(number_data_point::Value::AsInt(0)),
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    };
    let histogram = Metric {
        name: "latency".to_owned(),
        unit: "ms".to_owned(),
        data: Some(Data::Histogram(Histogram {
            data_points: vec![
                HistogramDataPoint {
                    attributes: point_attrs.clone(),
                    start_time_unix_nano: 100,
                    time_unix_nano: 200,
                    count: 10,
                    sum: Some(123.75),
                    bucket_counts: vec![1, 0, 4, u64::MAX],
                    explicit_bounds: vec![-1.5, 0.0, 10.0],
                    exemplars: exemplars(),
                    flags: 1,
                    min: Some(0.0),
                    max: Some(99.5),
                },
                HistogramDataPoint {
                    count: 0,
                    sum: None,
                    min: None,
                    max: None,
                    ..Default::default()
                },
            ],
            aggregation_temporality: AggregationTemporality::Delta as i32,
        })),
        ..Default::default()
    };
    let exp_histogram = Metric {
        name: "exp".to_owned(),
        data: Some(Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![
                ExponentialHistogramDataPoint {
                    attributes: point_attrs.clone(),
                    start_time_unix_nano: 5,
                    time_unix_nano: 6,
                    count: 17,
                    sum: Some(-3.5),
                    scale: -3,
                    zero_count: 2,
                    positive: Some(exponential_histogram_data_point::Buckets {
                        offset: -2,
                        bucket_counts: vec![1, 2, 0, 5],
                    }),
                    negative: Some(exponential_histogram_data_point::Buckets {
                        offset: 0,
                        bucket_counts: vec![],
                    }),
                    flags: 1,
                    exemplars: exemplars(),
                    min: Some(-10.0),
                    max: Some(1e10),
                    zero_threshold: 1e-9,
                },
                ExponentialHistogramDataPoint::default(),
            ],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Default::default()
    };
    let summary = Metric {
        name: "summary".to_owned(),
        data: Some(Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                attributes: point_attrs,
                start_time_unix_nano: 7,
                time_unix_nano: 8,
                count: 3,
                sum: 42.0,
                quantile_values: vec![
                    summary_data_point::ValueAtQuantile { quantile: 0.0, value: 1.0 },
                    summary_data_point::ValueAtQuantile {
                        quantile: 0.99,
                        value: 41.5,
                    },
                ],
                flags: 1,
            }],
        })),
        ..Default::default()
    };
    let no_data = Metric {
        name: "empty".to_owned(),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics: vec![gauge, sum, histogram, exp_histogram, summary, no_data],
                schema_url: "https://example.com/s".to_owned(),
            }],
            schema_url: "https://example.com/r".to_owned(),
        }],
    }
}

fn logs_fixture() -> ExportLogsServiceRequest {
    let string_body = LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        observed_time_unix_nano: 1_700_000_000_000_000_500,
        severity_number: SeverityNumber::Warn as i32,
        severity_text: "WARN".to_owned(),
        body: Some(av(s("disk almost full"))),
        attributes: all_attrs(),
        dropped_attributes_count: 2,
        flags: 1,
        trace_id: TID.to_vec(),
        span_id: SID.to_vec(),
        event_name: "disk.warning".to_owned(),
    };
    let kvlist_body = LogRecord {
        severity_number: SeverityNumber::Error2 as i32,
        body: Some(av(any_value::Value::KvlistValue(KeyValueList { values: all_attrs() }))),
        ..Default::default()
    };
    let empty_body = LogRecord {
        body: Some(AnyValue { value: None }),
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource::default()),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records: vec![string_body, kvlist_body, empty_body, LogRecord::default()],
                schema_url: "https://example.com/s".to_owned(),
            }],
            schema_url: "https://example.com/r".to_owned(),
        }],
    }
}

fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("a Value always serializes")
}

fn invalid(e: JsonError) -> (String, String) {
    match e {
        JsonError::Invalid { path, message } => (path, message),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn trace_err(body: Value) -> (String, String) {
    invalid(decode_traces(&to_bytes(&body)).expect_err("should fail"))
}

fn span_json(span: Value) -> Value {
    json!({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
}

fn only_span(req: &ExportTraceServiceRequest) -> &Span {
    &req.resource_spans[0].scope_spans[0].spans[0]
}

fn logs_body(record: Value) -> Vec<u8> {
    to_bytes(&json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}))
}

fn only_record(req: &ExportLogsServiceRequest) -> &LogRecord {
    &req.resource_logs[0].scope_logs[0].log_records[0]
}

fn metric_body(metric: Value) -> Vec<u8> {
    to_bytes(&json!({"resourceMetrics": [{"scopeMetrics": [{"metrics": [metric]}]}]}))
}

fn only_metric(req: &ExportMetricsServiceRequest) -> &Metric {
    &req.resource_metrics[0].scope_metrics[0].metrics[0]
}

// --- round trips -------------------------------------------------------------------------

#[test]
fn traces_round_trip() {
    let req = traces_fixture();
    let back = decode_traces(&to_bytes(&encode_traces(&req))).expect("decodes");
    assert_eq!(back, req);
}

#[test]
fn metrics_round_trip() {
    let req = metrics_fixture();
    let back = decode_metrics(&to_bytes(&encode_metrics(&req))).expect("decodes");
    assert_eq!(back, req);
}

#[test]
fn logs_round_trip() {
    let req = logs_fixture();
    let back = decode_logs(&to_bytes(&encode_logs(&req))).expect("decodes");
    assert_eq!(back, req);
}

#[test]
fn empty_requests_round_trip() {
    let t = ExportTraceServiceRequest::default();
    assert_eq!(decode_traces(&to_bytes(&encode_traces(&t))).unwrap(), t);
    let m = ExportMetricsServiceRequest::default();
    assert_eq!(decode_metrics(&to_bytes(&encode_metrics(&m))).unwrap(), m);
    let l = ExportLogsServiceRequest::default();
    assert_eq!(decode_logs(&to_bytes(&encode_logs(&l))).unwrap(), l);
}

#[test]
fn non_finite_doubles_round_trip() {
    let mut req = metrics_fixture();
    let Some(metric::Data::Histogram(h)) = &mut req.resource_metrics[0].scope_metrics[0].metrics[2].data else {
        panic!("fixture order changed");
    };
    h.data_points[0].sum = Some(f64::NAN);
    h.data_points[0].min = Some(f64::NEG_INFINITY);
    h.data_points[0].max = Some(f64::INFINITY);
    let json = encode_metrics(&req);
    let p = &json["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][2]["histogram"]["dataPoints"][0];
    assert_eq!(p["sum"], "NaN");
    assert_eq!(p["min"], "-Infinity");
    assert_eq!(p["max"], "Infinity");
    let back = decode_metrics(&to_bytes(&json)).unwrap();
    let Some(metric::Data::Histogram(h)) = &back.resource_metrics[0].scope_metrics[0].metrics[2].data else {
        panic!("histogram expected");
    };
    assert!(h.data_points[0].sum.is_some_and(f64::is_nan));
    assert_eq!(h.data_points[0].min, Some(f64::NEG_INFINITY));
    assert_eq!(h.data_points[0].max, Some(f64::INFINITY));
}

// --- encoder format ----------------------------------------------------------------------

#[test]
fn encoder_writes_collector_format() {
    let json = encode_traces(&traces_fixture());
    let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], "5b8efbf78b1c4d2a910abcdef0123456");
    assert_eq!(span["spanId"], "eba23f1000abcdef");
    assert_eq!(span["parentSpanId"], "0102030405060708");
    assert_eq!(span["kind"], 2);
    assert_eq!(span["flags"], 0x301);
    assert_eq!(span["startTimeUnixNano"], "1700000000123456789");
    assert_eq!(span["endTimeUnixNano"], "18446744073709551615");
    assert_eq!(span["status"], json!({"message": "it failed", "code": 2}));
    assert_eq!(span["droppedAttributesCount"], 4);
    let attrs = span["attributes"].as_array().unwrap();
    assert_eq!(attrs[4]["value"], json!({"intValue": "-9223372036854775808"}));
    assert_eq!(attrs[9]["value"], json!({"bytesValue": "AAEC/v8="}));
    assert_eq!(attrs[13], json!({"key": "empty.value", "value": {}}));
    assert_eq!(attrs[14], json!({"key": "no.value"}));

    // Defaults are omitted, except the span fields the Collector always writes.
    let empty = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][2];
    assert_eq!(empty, &json!({"name": "", "startTimeUnixNano": "0", "endTimeUnixNano": "0"}));
    assert_eq!(json["resourceSpans"][1], json!({}));
    assert_eq!(encode_traces(&ExportTraceServiceRequest::default()), json!({"resourceSpans": []}));
}

#[test]
fn encoder_metric_and_log_fields() {
    let json = encode_metrics(&metrics_fixture());
    let metrics = &json["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
    let sum = &metrics[1]["sum"];
    assert_eq!(sum["aggregationTemporality"], 2);
    assert_eq!(sum["isMonotonic"], true);
    assert_eq!(sum["dataPoints"][0]["asInt"], "0");
    let hist = &metrics[2]["histogram"]["dataPoints"][0];
    assert_eq!(hist["bucketCounts"], json!(["1", "0", "4", "18446744073709551615"]));
    assert_eq!(hist["explicitBounds"], json!([-1.5, 0.0, 10.0]));
    assert_eq!(hist["count"], "10");
    assert_eq!(hist["min"], json!(0.0));
    let bare = &metrics[2]["histogram"]["dataPoints"][1];
    assert_eq!(bare, &json!({}));
    let exemplar = &metrics[0]["gauge"]["dataPoints"][0]["exemplars"][0];
    assert_eq!(exemplar["traceId"], "5b8efbf78b1c4d2a910abcdef0123456");
    assert_eq!(exemplar["asDouble"], 0.25);
    let exp = &metrics[3]["exponentialHistogram"]["dataPoints"][0];
    assert_eq!(exp["scale"], -3);
    assert_eq!(exp["zeroCount"], "2");
    assert_eq!(exp["positive"], json!({"offset": -2, "bucketCounts": ["1", "2", "0", "5"]}));
    assert_eq!(exp["negative"], json!({}));

    let json = encode_logs(&logs_fixture());
    let rec = &json["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(rec["severityNumber"], 13);
    assert_eq!(rec["body"], json!({"stringValue": "disk almost full"}));
    assert_eq!(rec["observedTimeUnixNano"], "1700000000000000500");
    assert_eq!(rec["eventName"], "disk.warning");
    assert_eq!(rec["spanId"], "eba23f1000abcdef");
}

// --- decoder quirks ----------------------------------------------------------------------

#[test]
fn decodes_spec_example() {
    // Shape of opentelemetry-proto's examples/trace.json.
    let body = br#"{
      "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
        "scopeSpans": [{
          "scope": {"name": "my.library", "version": "1.0.0",
                    "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
          "spans": [{
            "traceId": "5B8EFFF798038103D269B633813FC60C",
            "spanId": "EEE19B7EC3C1B174",
            "parentSpanId": "EEE19B7EC3C1B173",
            "name": "I'm a server span",
            "startTimeUnixNano": "1544712660000000000",
            "endTimeUnixNano": "1544712661000000000",
            "kind": 2,
            "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}]
          }]
        }]
      }]
    }"#;
    let req = decode_traces(body).unwrap();
    let span = only_span(&req);
    assert_eq!(span.trace_id, hex::decode("5b8efff798038103d269b633813fc60c").unwrap());
    assert_eq!(span.span_id, hex::decode("eee19b7ec3c1b174").unwrap());
    assert_eq!(span.parent_span_id, hex::decode("eee19b7ec3c1b173").unwrap());
    assert_eq!(span.kind, 2);
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
    let scope = req.resource_spans[0].scope_spans[0].scope.as_ref().unwrap();
    assert_eq!(scope.version, "1.0.0");
}

#[test]
fn hex_ids_are_case_insensitive() {
    let req = decode_traces(&to_bytes(&span_json(json!({
        "traceId": "5B8EFBF78B1C4D2A910ABCDEF0123456",
        "spanId": "EBA23f1000ABcdef",
        "links": [{"traceId": "5b8efbf78b1c4d2a910abcdef0123456", "spanId": "EBA23F1000ABCDEF"}]
    }))))
    .unwrap();
    let span = only_span(&req);
    assert_eq!(span.trace_id, TID);
    assert_eq!(span.span_id, SID);
    assert_eq!(span.links[0].trace_id, TID);
    assert_eq!(span.links[0].span_id, SID);
}

#[test]
fn empty_or_absent_ids_are_empty_bytes() {
    let req = decode_traces(&to_bytes(&span_json(json!({"traceId": "", "spanId": null, "parentSpanId": ""})))).unwrap();
    let span = only_span(&req);
    assert!(span.trace_id.is_empty() && span.span_id.is_empty());
    assert!(span.parent_span_id.is_empty());
}

#[test]
fn snake_case_keys_are_accepted() {
    let body = json!({"resource_spans": [{
        "resource": {"attributes": [{"key": "k", "value": {"string_value": "v"}}],
                     "dropped_attributes_count": 1},
        "schema_url": "r",
        "scope_spans": [{
            "scope": {"name": "s", "dropped_attributes_count": 2},
            "schema_url": "s",
            "spans": [{
                "trace_id": "5b8efbf78b1c4d2a910abcdef0123456",
                "span_id": "eba23f1000abcdef",
                "parent_span_id": "0102030405060708",
                "trace_state": "t=1",
                "start_time_unix_nano": "5",
                "end_time_unix_nano": 6,
                "dropped_attributes_count": 1,
                "dropped_events_count": 2,
                "dropped_links_count": 3,
                "events": [{"time_unix_nano": "9", "name": "e"}],
                "links": [{"trace_id": "5b8efbf78b1c4d2a910abcdef0123456", "dropped_attributes_count": 4}],
                "attributes": [
                    {"key": "a", "value": {"int_value": "1"}},
                    {"key": "b", "value": {"kvlist_value": {"values": [{"key": "c", "value": {"bool_value": true}}]}}},
                    {"key": "d", "value": {"array_value": {"values": [{"double_value": 1.5}, {"bytes_value": "AQI="}]}}}
                ]
            }]
        }]
    }]});
    let req = decode_traces(&to_bytes(&body)).unwrap();
    let rs = &req.resource_spans[0];
    assert_eq!(rs.schema_url, "r");
    assert_eq!(rs.resource.as_ref().unwrap().dropped_attributes_count, 1);
    assert_eq!(rs.scope_spans[0].schema_url, "s");
    let span = only_span(&req);
    assert_eq!(span.trace_id, TID);
    assert_eq!(span.parent_span_id, PSID);
    assert_eq!(span.trace_state, "t=1");
    assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (5, 6));
    assert_eq!(
        (span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count),
        (1, 2, 3)
    );
    assert_eq!(span.events[0].time_unix_nano, 9);
    assert_eq!(span.links[0].dropped_attributes_count, 4);
    let plain = attributes_to_plain(&span.attributes);
    assert_eq!(Value::Object(plain), json!({"a": 1, "b": {"c": true}, "d": [1.5, "AQI="]}));

    let metrics = decode_metrics(&to_bytes(&json!({"resource_metrics": [{"scope_metrics": [{"metrics": [
        {"name": "h", "exponential_histogram": {"aggregation_temporality": 1, "data_points": [
            {"zero_count": "3", "zero_threshold": 0.5, "start_time_unix_nano": "1", "time_unix_nano": "2",
             "positive": {"offset": 1, "bucket_counts": ["1", 2]}}]}},
        {"name": "s", "summary": {"data_points": [{"quantile_values": [{"quantile": 0.5, "value": 3}]}]}},
        {"name": "g", "gauge": {"data_points": [{"as_int": "4", "exemplars": [
            {"as_double": 1, "filtered_attributes": [{"key": "x"}], "span_id": "eba23f1000abcdef"}]}]}},
        {"name": "hist", "histogram": {"data_points": [{"bucket_counts": ["1"], "explicit_bounds": [], "min": 1}]}},
        {"name": "sum", "sum": {"is_monotonic": true, "data_points": []}}
    ]}]}]})))
    .unwrap();
    let ms = &metrics.resource_metrics[0].scope_metrics[0].metrics;
    let Some(metric::Data::ExponentialHistogram(e)) = &ms[0].data else {
        panic!("exp histogram expected")
    };
    assert_eq!(e.aggregation_temporality, 1);
    let p = &e.data_points[0];
    assert_eq!((p.zero_count, p.zero_threshold), (3, 0.5));
    assert_eq!(p.positive.as_ref().unwrap().bucket_counts, vec![1, 2]);
    let Some(metric::Data::Summary(sm)) = &ms[1].data else {
        panic!("summary expected")
    };
    assert_eq!(sm.data_points[0].quantile_values[0].value, 3.0);
    let Some(metric::Data::Gauge(g)) = &ms[2].data else {
        panic!("gauge expected")
    };
    assert_eq!(g.data_points[0].value, Some(number_data_point::Value::AsInt(4)));
    assert_eq!(g.data_points[0].exemplars[0].span_id, SID);
    assert_eq!(g.data_points[0].exemplars[0].filtered_attributes[0].key, "x");
    let Some(metric::Data::Histogram(h)) = &ms[3].data else {
        panic!("histogram expected")
    };
    assert_eq!(h.data_points[0].min, Some(1.0));
    let Some(metric::Data::Sum(su)) = &ms[4].data else {
        panic!("sum expected")
    };
    assert!(su.is_monotonic);

    let logs = decode_logs(&to_bytes(&json!({"resource_logs": [{"scope_logs": [{"log_records": [{
        "time_unix_nano": "1", "observed_time_unix_nano": 2, "severity_number": "SEVERITY_NUMBER_INFO",
        "severity_text": "info", "event_name": "ev", "trace_id": "5b8efbf78b1c4d2a910abcdef0123456"
    }]}]}]})))
    .unwrap();
    let rec = only_record(&logs);
    assert_eq!((rec.time_unix_nano, rec.observed_time_unix_nano), (1, 2));
    assert_eq!(rec.severity_number, 9);
    assert_eq!((rec.severity_text.as_str(), rec.event_name.as_str()), ("info", "ev"));
    assert_eq!(rec.trace_id, TID);
}

#[test]
fn camel_case_wins_over_snake_case() {
    let req = decode_traces(&to_bytes(&span_json(
        json!({"name": "x", "traceState": "camel", "trace_state": "snake"}),
    )))
    .unwrap();
    assert_eq!(only_span(&req).trace_state, "camel");
    let req = decode_traces(&to_bytes(&span_json(json!({"trace_state": "snake", "traceState": "camel"})))).unwrap();
    assert_eq!(only_span(&req).trace_state, "camel");
    // A null camelCase key falls through to the snake_case one.
    let req = decode_traces(&to_bytes(&span_json(json!({"traceState": null, "trace_state": "snake"})))).unwrap();
    assert_eq!(only_span(&req).trace_state, "snake");
}

#[test]
fn enum_names_are_accepted() {
    let req = decode_traces(&to_bytes(&span_json(json!({
        "kind": "SPAN_KIND_SERVER",
        "status": {"code": "STATUS_CODE_ERROR", "message": "m"}
    }))))
    .unwrap();
    let span = only_span(&req);
    assert_eq!(span.kind, span::SpanKind::Server as i32);
    assert_eq!(span.status.as_ref().unwrap().code, status::StatusCode::Error as i32);

    let req = decode_logs(&logs_body(json!({"severityNumber": "SEVERITY_NUMBER_WARN"}))).unwrap();
    assert_eq!(only_record(&req).severity_number, SeverityNumber::Warn as i32);

    for (name, want) in [
        ("AGGREGATION_TEMPORALITY_CUMULATIVE", AggregationTemporality::Cumulative),
        ("AGGREGATION_TEMPORALITY_DELTA", AggregationTemporality::Delta),
    ] {
        let req = decode_metrics(&metric_body(json!({
            "name": "m", "sum": {"aggregationTemporality": name, "dataPoints": [{"asInt": 1}]}
        })))
        .unwrap();
        let Some(metric::Data::Sum(sum)) = &only_metric(&req).data else {
            panic!("sum expected")
        };
        assert_eq!(sum.aggregation_temporality, want as i32);
    }
    // Plain integers, including ones the enum does not know (proto3 enums are open).
    let req = decode_traces(&to_bytes(&span_json(json!({"kind": 3, "status": {"code": 7}})))).unwrap();
    assert_eq!(only_span(&req).kind, 3);
    assert_eq!(only_span(&req).status.as_ref().unwrap().code, 7);
}

#[test]
fn int64_fields_accept_strings_and_numbers() {
    let req = decode_traces(&to_bytes(&span_json(json!({
        "startTimeUnixNano": "1700000000123456789",
        "endTimeUnixNano": 18_446_744_073_709_551_615u64,
        "events": [{"timeUnixNano": 1e3}],
        "attributes": [
            {"key": "a", "value": {"intValue": "-42"}},
            {"key": "b", "value": {"intValue": -9_223_372_036_854_775_808i64}},
            {"key": "c", "value": {"intValue": 7}}
        ],
        "droppedAttributesCount": "3",
        "flags": 1
    }))))
    .unwrap();
    let span = only_span(&req);
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_123_456_789);
    assert_eq!(span.end_time_unix_nano, u64::MAX);
    assert_eq!(span.events[0].time_unix_nano, 1000);
    assert_eq!(span.dropped_attributes_count, 3);
    let ints: Vec<_> = span.attributes.iter().map(|kv| kv.value.clone().unwrap().value).collect();
    assert_eq!(
        ints,
        vec![
            Some(any_value::Value::IntValue(-42)),
            Some(any_value::Value::IntValue(i64::MIN)),
            Some(any_value::Value::IntValue(7)),
        ]
    );

    let req = decode_metrics(&metric_body(json!({"name": "h", "histogram": {"dataPoints": [{
        "count": 5, "bucketCounts": ["1", 2, "0", 2], "timeUnixNano": "10",
        "exemplars": [{"asInt": "-5"}, {"asInt": 6}]
    }]}})))
    .unwrap();
    let Some(metric::Data::Histogram(h)) = &only_metric(&req).data else {
        panic!("histogram expected")
    };
    let p = &h.data_points[0];
    assert_eq!((p.count, p.time_unix_nano), (5, 10));
    assert_eq!(p.bucket_counts, vec![1, 2, 0, 2]);
    assert_eq!(p.exemplars[0].value, Some(exemplar::Value::AsInt(-5)));
    assert_eq!(p.exemplars[1].value, Some(exemplar::Value::AsInt(6)));
}

#[test]
fn bad_integers_are_rejected() {
    let cases = [
        (json!({"startTimeUnixNano": 1.5}), "expected an integer, got 1.5"),
        (json!({"startTimeUnixNano": "1.5"}), "expected an integer, got \"1.5\""),
        (json!({"startTimeUnixNano": -1}), "-1 is out of range for uint64"),
        (
            json!({"startTimeUnixNano": "18446744073709551616"}),
            "18446744073709551616 is out of range for uint64",
        ),
        (json!({"startTimeUnixNano": "abc"}), "expected an integer, got \"abc\""),
        (
            json!({"startTimeUnixNano": true}),
            "expected an integer (number or string), got a boolean",
        ),
        (
            json!({"droppedAttributesCount": 4_294_967_296u64}),
            "4294967296 is out of range for uint32",
        ),
    ];
    for (span, want) in cases {
        let field = span.as_object().unwrap().keys().next().unwrap().clone();
        let (path, message) = trace_err(span_json(span));
        assert_eq!(path, format!("resourceSpans[0].scopeSpans[0].spans[0].{field}"));
        assert_eq!(message, want);
    }
    let (path, message) = trace_err(span_json(
        json!({"attributes": [{"key": "a", "value": {"intValue": "9223372036854775808"}}]}),
    ));
    assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.intValue");
    assert_eq!(message, "9223372036854775808 is out of range for int64");
}

#[test]
fn doubles_accept_special_strings() {
    let req = decode_metrics(&metric_body(json!({"name": "g", "gauge": {"dataPoints": [
        {"asDouble": "NaN"},
        {"asDouble": "Infinity"},
        {"asDouble": "-Infinity"},
        {"asDouble": "2.5"},
        {"asDouble": 3},
        {"asDouble": -0.125}
    ]}})))
    .unwrap();
    let Some(metric::Data::Gauge(g)) = &only_metric(&req).data else {
        panic!("gauge expected")
    };
    let vals: Vec<f64> = g
        .data_points
        .iter()
        .map(|p| match p.value {
            Some(number_data_point::Value::AsDouble(d)) => d,
            other => panic!("double expected, got {other:?}"),
        })
        .collect();
    assert!(vals[0].is_nan());
    assert_eq!(&vals[1..], &[f64::INFINITY, f64::NEG_INFINITY, 2.5, 3.0, -0.125]);

    let req = decode_traces(&to_bytes(&span_json(
        json!({"attributes": [{"key": "d", "value": {"doubleValue": "NaN"}}]}),
    )))
    .unwrap();
    let v = only_span(&req).attributes[0].value.clone().unwrap();
    assert!(matches!(v.value, Some(any_value::Value::DoubleValue(d)) if d.is_nan()));
    assert_eq!(any_value_to_plain(&v), json!("NaN"));

    for bad in ["nan", "inf", "1e999", "x"] {
        let (path, message) = invalid(decode_metrics(&metric_body(json!({"gauge": {"dataPoints": [{"asDouble": bad}]}}))).unwrap_err());
        assert!(path.ends_with("gauge.dataPoints[0].asDouble"), "{path}");
        assert!(message.starts_with("expected a double"), "{message}");
    }
}

#[test]
fn bytes_value_is_base64_with_or_without_padding() {
    for text in ["AAEC/v8=", "AAEC/v8", "AAEC_v8"] {
        let req = decode_logs(&logs_body(json!({"body": {"bytesValue": text}}))).unwrap();
        assert_eq!(
            only_record(&req).body,
            Some(av(any_value::Value::BytesValue(vec![0, 1, 2, 254, 255]))),
            "{text}"
        );
    }
    let (path, message) = invalid(decode_logs(&logs_body(json!({"body": {"bytesValue": "!!!"}}))).unwrap_err());
    assert_eq!(path, "resourceLogs[0].scopeLogs[0].logRecords[0].body.bytesValue");
    assert!(message.starts_with("invalid base64"), "{message}");
}

#[test]
fn unknown_fields_ignored_and_null_is_absent() {
    let req = decode_traces(&to_bytes(&json!({
        "resourceSpans": [{
            "futureField": {"anything": [1, 2, 3]},
            "resource": null,
            "scopeSpans": [{"scope": null, "spans": [{
                "name": "n", "status": null, "kind": null, "events": null, "whatever": 1
            }]}]
        }],
        "extra": true
    })))
    .unwrap();
    assert_eq!(req.resource_spans[0].resource, None);
    assert_eq!(req.resource_spans[0].scope_spans[0].scope, None);
    let span = only_span(&req);
    assert_eq!(span.name, "n");
    assert_eq!((span.status.clone(), span.kind), (None, 0));
}

#[test]
fn empty_object_is_an_empty_request() {
    assert_eq!(decode_traces(b"{}").unwrap(), ExportTraceServiceRequest::default());
    assert_eq!(decode_metrics(b"{}").unwrap(), ExportMetricsServiceRequest::default());
    assert_eq!(decode_logs(b" {} ").unwrap(), ExportLogsServiceRequest::default());
}

#[test]
fn any_value_variants_decode() {
    let req = decode_logs(&logs_body(json!({"body": {}}))).unwrap();
    assert_eq!(only_record(&req).body, Some(AnyValue { value: None }));
    let req = decode_logs(&logs_body(json!({"body": {"stringValue": "x", "intValue": null}}))).unwrap();
    assert_eq!(only_record(&req).body, Some(av(s("x"))));
    let req = decode_logs(&logs_body(json!({"body": {"kvlistValue": {
        "values": [{"key": "a", "value": {"arrayValue": {"values": [{"boolValue": false}, {}]}}}]
    }}})))
    .unwrap();
    let want = av(any_value::Value::KvlistValue(KeyValueList {
        values: vec![kv(
            "a",
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![av(any_value::Value::BoolValue(false)), AnyValue { value: None }],
            }),
        )],
    }));
    assert_eq!(only_record(&req).body, Some(want));
}

// --- errors ------------------------------------------------------------------------------

#[test]
fn wrong_id_length_is_invalid_with_path() {
    let body = json!({"resourceSpans": [{"scopeSpans": [
        {"spans": []},
        {"spans": [{}, {}, {}, {"traceId": "5b8efbf78b1c4d2a910abcdef01234"}]}
    ]}]});
    let (path, message) = trace_err(body);
    assert_eq!(path, "resourceSpans[0].scopeSpans[1].spans[3].traceId");
    assert_eq!(message, "expected 32 hex characters for a trace id, got 30");

    let (path, message) = trace_err(span_json(json!({"links": [{"spanId": "abc"}]})));
    assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].links[0].spanId");
    assert_eq!(message, "expected 16 hex characters for a span id, got 3");

    // A base64 trace id (24 chars) is not hex.
    let (_, message) = trace_err(span_json(json!({"traceId": "W4779/+LHE0qkQq83vASNFY="})));
    assert_eq!(message, "expected 32 hex characters for a trace id, got 24");

    let err = decode_metrics(&metric_body(json!({"gauge": {"dataPoints": [{"exemplars": [{"traceId": "00"}]}]}}))).unwrap_err();
    let (path, _) = invalid(err);
    assert_eq!(
        path,
        "resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].exemplars[0].traceId"
    );
}

#[test]
fn non_hex_id_is_invalid() {
    let (path, message) = trace_err(span_json(json!({"spanId": "zz23f1000abcdefg"})));
    assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].spanId");
    assert_eq!(message, "invalid hex in span id: \"zz23f1000abcdefg\"");
    let (path, message) = invalid(decode_logs(&logs_body(json!({"traceId": "5b8efbf78b1c4d2a910abcdef012345é"}))).unwrap_err());
    assert_eq!(path, "resourceLogs[0].scopeLogs[0].logRecords[0].traceId");
    assert!(message.starts_with("invalid hex in trace id"), "{message}");
    let (_, message) = trace_err(span_json(json!({"parentSpanId": 12})));
    assert_eq!(message, "expected a hex string, got a number");
}

#[test]
fn bad_enum_name_is_invalid() {
    let (path, message) = trace_err(span_json(json!({"kind": "SPAN_KIND_SEVER"})));
    assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].kind");
    assert_eq!(message, "unknown span kind \"SPAN_KIND_SEVER\"");
    let (path, message) = trace_err(span_json(json!({"status": {"code": "ERROR"}})));
    assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].status.code");
    assert_eq!(message, "unknown status code \"ERROR\"");
    let (path, _) = invalid(decode_logs(&logs_body(json!({"severityNumber": "WARN"}))).unwrap_err());
    assert_eq!(path, "resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber");
    let (path, message) = invalid(decode_metrics(&metric_body(json!({"sum": {"aggregationTemporality": "CUMULATIVE"}}))).unwrap_err());
    assert_eq!(path, "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.aggregationTemporality");
    assert_eq!(message, "unknown aggregation temporality \"CUMULATIVE\"");
    // Long garbage is not echoed in full.
    let long = "X".repeat(10_000);
    let (_, message) = trace_err(span_json(json!({"kind": long})));
    assert!(message.len() < 200, "{message}");
}

#[test]
fn wrong_json_type_is_invalid_with_path() {
    let (path, message) = trace_err(json!({"resourceSpans": [{"scopeSpans": [{"spans": 5}]}]}));
    assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans");
    assert_eq!(message, "expected an array, got a number");
    let (path, message) = trace_err(json!({"resourceSpans": {}}));
    assert_eq!(path, "resourceSpans");
    assert_eq!(message, "expected an array, got an object");
    let (path, message) = trace_err(json!({"resourceSpans": ["x"]}));
    assert_eq!(path, "resourceSpans[0]");
    assert_eq!(message, "expected an object, got a string");
    let (path, message) = trace_err(span_json(json!({"name": 1})));
    assert_eq!(path, "resourceSpans[0].scopeSpans[0].spans[0].name");
    assert_eq!(message, "expected a string, got a number");
    let (path, message) = invalid(decode_metrics(&metric_body(json!({"sum": {"isMonotonic": "true"}}))).unwrap_err());
    assert_eq!(path, "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.isMonotonic");
    assert_eq!(message, "expected a boolean, got a string");
    let (path, message) = invalid(decode_logs(b"[]").unwrap_err());
    assert_eq!((path.as_str(), message.as_str()), ("$", "expected an object, got an array"));
    let (path, _) = invalid(decode_logs(&logs_body(json!({"body": {"arrayValue": {"values": [{}, 3]}}}))).unwrap_err());
    assert_eq!(path, "resourceLogs[0].scopeLogs[0].logRecords[0].body.arrayValue.values[1]");
}

#[test]
fn two_oneof_members_are_invalid() {
    let (path, message) = invalid(decode_logs(&logs_body(json!({"body": {"stringValue": "a", "intValue": 1}}))).unwrap_err());
    assert_eq!(path, "resourceLogs[0].scopeLogs[0].logRecords[0].body");
    assert_eq!(message, "both stringValue and intValue are set, expected only one");
    let (path, message) = invalid(decode_metrics(&metric_body(json!({"gauge": {}, "sum": {}}))).unwrap_err());
    assert_eq!(path, "resourceMetrics[0].scopeMetrics[0].metrics[0]");
    assert_eq!(message, "both gauge and sum are set, expected only one");
    let (_, message) = invalid(decode_metrics(&metric_body(json!({"gauge": {"dataPoints": [{"asInt": 1, "asDouble": 1}]}}))).unwrap_err());
    assert_eq!(message, "both asDouble and asInt are set, expected only one");
}

#[test]
fn syntax_errors_are_syntax() {
    for body in [&b"{"[..], b"", b"{\"resourceSpans\": [}", b"{} x", b"nul"] {
        assert!(matches!(decode_traces(body), Err(JsonError::Syntax(_))), "{body:?}");
    }
    // Invalid UTF-8 inside a string.
    let body = b"{\"resourceLogs\": [{\"schemaUrl\": \"\xff\xfe\"}]}";
    assert!(matches!(decode_logs(body), Err(JsonError::Syntax(_))));
    let err = decode_metrics(b"{,}").unwrap_err();
    assert!(err.to_string().starts_with("invalid JSON: "), "{err}");
}

/// Nesting far deeper than the stack could take if decoding recursed into it: refused at the
/// first level where an object was due, skipped by a loop in an unknown member, and cut at
/// serde_json's recursion limit (128) where a known member nests.
#[test]
fn deep_nesting_costs_no_stack() {
    let depth = 100_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let (path, message) = invalid(decode_traces(arrays.as_bytes()).unwrap_err());
    assert_eq!((path.as_str(), message.as_str()), ("$", "expected an object, got an array"));
    let body = format!(r#"{{"resourceSpans": {arrays}}}"#);
    let (path, message) = invalid(decode_traces(body.as_bytes()).unwrap_err());
    assert_eq!(
        (path.as_str(), message.as_str()),
        ("resourceSpans[0]", "expected an object, got an array")
    );
    let body = format!(r#"{{"future": {arrays}, "resourceSpans": [{{"schemaUrl": "s"}}]}}"#);
    assert_eq!(decode_traces(body.as_bytes()).unwrap().resource_spans[0].schema_url, "s");
    assert!(matches!(
        decode_traces(&body.as_bytes()[..body.len() - 40]),
        Err(JsonError::Syntax(_))
    ));

    // AnyValue nesting past 128 JSON levels inside a real log body.
    let mut body = String::from(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":"#);
    for _ in 0..200 {
        body.push_str(r#"{"arrayValue":{"values":["#);
    }
    body.push_str(r#"{"intValue":"1"}"#);
    for _ in 0..200 {
        body.push_str("]}}");
    }
    body.push_str("}]}]}]}");
    let err = decode_logs(body.as_bytes()).unwrap_err();
    assert!(matches!(&err, JsonError::Syntax(m) if m.contains("recursion limit")), "{err}");

    // Nesting within the limit decodes.
    let mut body = String::from(r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":"#);
    for _ in 0..30 {
        body.push_str(r#"{"arrayValue":{"values":["#);
    }
    body.push_str("{}");
    for _ in 0..30 {
        body.push_str("]}}");
    }
    body.push_str("}]}]}]}");
    let req = decode_logs(body.as_bytes()).unwrap();
    assert_eq!(decode_logs(&to_bytes(&encode_logs(&req))).unwrap(), req);
}

#[test]
fn error_display() {
    let err = decode_traces(&to_bytes(&span_json(json!({"spanId": "12"})))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "resourceSpans[0].scopeSpans[0].spans[0].spanId: expected 16 hex characters for a span id, got 2"
    );
}

#[test]
fn snake_case_aliases_match_camel_case_names() {
    fn snake(camel: &str) -> String {
        let mut out = String::new();
        for c in camel.chars() {
            if c.is_ascii_uppercase() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }
    let mut checked = 0;
    for line in include_str!("common.rs").lines() {
        let Some(rest) = line.trim().strip_prefix("pub const ") else {
            continue;
        };
        let Some((_, names)) = rest.split_once(": F = F(") else {
            continue;
        };
        let names: Vec<&str> = names.split('"').collect();
        assert_eq!(names.len(), 5, "{line}");
        assert_eq!(snake(names[1]), names[3], "{line}");
        checked += 1;
    }
    assert!(checked > 80, "only {checked} field names found");
}

// --- plain values ------------------------------------------------------------------------

#[test]
fn any_value_to_plain_maps_every_type() {
    use any_value::Value as V;
    assert_eq!(any_value_to_plain(&av(s("x"))), json!("x"));
    assert_eq!(any_value_to_plain(&av(V::BoolValue(true))), json!(true));
    assert_eq!(any_value_to_plain(&av(V::IntValue(i64::MIN))), json!(i64::MIN));
    assert_eq!(any_value_to_plain(&av(V::DoubleValue(0.5))), json!(0.5));
    assert_eq!(any_value_to_plain(&av(V::DoubleValue(f64::NAN))), json!("NaN"));
    assert_eq!(any_value_to_plain(&av(V::DoubleValue(f64::INFINITY))), json!("Infinity"));
    assert_eq!(any_value_to_plain(&av(V::DoubleValue(f64::NEG_INFINITY))), json!("-Infinity"));
    assert_eq!(any_value_to_plain(&av(V::BytesValue(vec![0, 1, 2, 254, 255]))), json!("AAEC/v8="));
    assert_eq!(any_value_to_plain(&AnyValue { value: None }), Value::Null);
    assert_eq!(
        any_value_to_plain(&av(V::ArrayValue(ArrayValue {
            values: vec![av(V::IntValue(1)), av(s("two")), AnyValue { value: None }],
        }))),
        json!([1, "two", null])
    );
    assert_eq!(
        any_value_to_plain(&av(V::KvlistValue(KeyValueList {
            values: vec![kv("a", V::BoolValue(false)), kv("b", V::DoubleValue(2.0))],
        }))),
        json!({"a": false, "b": 2.0})
    );
}

#[test]
fn attributes_to_plain_builds_an_object() {
    let plain = attributes_to_plain(&all_attrs());
    assert_eq!(plain["str"], json!("hello \"world\" ✓"));
    assert_eq!(plain["int"], json!(i64::MIN));
    assert_eq!(plain["bytes"], json!("AAEC/v8="));
    assert_eq!(plain["array"], json!(["a", 7, null, []]));
    assert_eq!(plain["kvlist"], json!({"inner": 1.5, "deeper": {"x": true}}));
    assert_eq!(plain["empty.value"], Value::Null);
    assert_eq!(plain["no.value"], Value::Null);
    assert_eq!(plain.len(), all_attrs().len());
    let dup = vec![kv("k", s("first")), kv("k", s("second"))];
    assert_eq!(attributes_to_plain(&dup)["k"], json!("second"));
}

/// A field given twice takes its last value, as serde_json's map did, and escapes in keys and
/// strings are decoded.
#[test]
fn the_last_of_duplicate_fields_wins_and_escapes_are_decoded() {
    let body = br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
        "name": "first", "n\u0061me": "second \u2192 \"quoted\"", "kind": 2}]}]}]}"#;
    let request = decode_traces(body).unwrap();
    let span = only_span(&request);
    assert_eq!(span.name, "second \u{2192} \"quoted\"");
    assert_eq!(span.kind, 2);
}
