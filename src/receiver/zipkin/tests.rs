//! Tests of the zipkin receiver: the Zipkin docs example and the Collector's mapping, refused
//! bodies with their place, and the HTTP answers (202, 400, 413, 415, 503) and config.

use super::mapping::{key_value, START_TIME_ABSENT};
use super::*;
use crate::pipeline::{Consumer, Envelope, SharedConsumer};
use crate::receiver::Admission;
use crate::telemetry::IngestStats;
use any_value::Value as V;
use axum::http::Request;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use std::io::Write;
use std::sync::Mutex;
use tower::ServiceExt;

/// The example from the Zipkin v2 API documentation (zipkin.io quickstart).
const ZIPKIN_DOCS_EXAMPLE: &str = r#"[
  {
    "id": "352bff9a74ca9ad2",
    "traceId": "5af7183fb1d4cf5f",
    "parentId": "6b221d5bc9e6496c",
    "name": "get /api",
    "timestamp": 1556604172355737,
    "duration": 1431,
    "kind": "SERVER",
    "localEndpoint": { "serviceName": "backend", "ipv4": "192.168.99.1", "port": 3306 },
    "remoteEndpoint": { "ipv4": "172.19.0.2", "port": 58648 },
    "tags": { "http.method": "GET", "http.path": "/api" }
  }
]"#;

fn kv(key: &str, value: V) -> KeyValue {
    key_value(key, value)
}

fn s(text: &str) -> V {
    V::StringValue(text.into())
}

fn id(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

fn group(resource: Vec<KeyValue>, scope: (&str, &str), spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: resource,
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: scope.0.into(),
                version: scope.1.into(),
                ..Default::default()
            }),
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn the_zipkin_docs_example_maps_like_the_collector() {
    let request = decode_spans(ZIPKIN_DOCS_EXAMPLE.as_bytes(), false).unwrap();
    let expected = ExportTraceServiceRequest {
        resource_spans: vec![group(
            vec![kv("service.name", s("backend"))],
            ("", ""),
            vec![Span {
                trace_id: id("00000000000000005af7183fb1d4cf5f"),
                span_id: id("352bff9a74ca9ad2"),
                parent_span_id: id("6b221d5bc9e6496c"),
                name: "get /api".into(),
                kind: 2,
                start_time_unix_nano: 1_556_604_172_355_737_000,
                end_time_unix_nano: 1_556_604_172_357_168_000,
                attributes: vec![
                    kv("http.method", s("GET")),
                    kv("http.path", s("/api")),
                    kv("net.host.ip", s("192.168.99.1")),
                    kv("net.host.port", V::IntValue(3306)),
                    kv("net.peer.ip", s("172.19.0.2")),
                    kv("net.peer.port", V::IntValue(58648)),
                ],
                ..Default::default()
            }],
        )],
    };
    assert_eq!(request, expected);
}

#[test]
fn services_tags_status_annotations_and_links_map_to_otlp() {
    let body = r#"[
      {"traceId": "463ac35c9f6413ad48485a3953bb6124", "id": "a2fb4a1d1a96d312", "name": "checkout",
       "kind": "CLIENT", "timestamp": 1000, "duration": 20, "shared": true, "debug": true,
       "localEndpoint": {"serviceName": "frontend", "ipv4": "10.0.0.1", "ipv6": "2001:db8::1"},
       "remoteEndpoint": {"serviceName": "payments", "ipv6": "2001:db8::2", "port": 443},
       "annotations": [{"timestamp": 1005, "value": "retrying"},
                       {"timestamp": 1010, "value": "exception|{\"exception.type\":\"Timeout\",\"attempt\":2}|1"}],
       "tags": {"error": "card declined", "host.name": "web-1", "otel.library.name": "shop", "otel.library.version": "1.0",
                "w3c.tracestate": "vendor=1", "retries": "3", "ratio": "0.5", "cached": "false",
                "otlp.link.0": "463ac35c9f6413ad48485a3953bb6124|00f067aa0ba902b7||{\"why\":\"retry\"}|0"}},
      {"traceId": "463ac35c9f6413ad48485a3953bb6124", "id": "b7ad6b7169203331", "parentId": "a2fb4a1d1a96d312",
       "name": "charge", "kind": "SERVER", "timestamp": 1002, "duration": 10,
       "localEndpoint": {"serviceName": "payments"},
       "tags": {"otel.status_code": "ERROR", "otel.status_description": "insufficient funds", "error": "true"}},
      {"traceId": "463ac35c9f6413ad48485a3953bb6124", "id": "c7ad6b7169203331", "parentId": "c7ad6b7169203331",
       "name": "render", "duration": 5, "localEndpoint": {"serviceName": "frontend"},
       "tags": {"span.kind": "internal", "otel.status_code": "STATUS_CODE_OK"}},
      {"traceId": "463ac35c9f6413ad48485a3953bb6124", "id": "d7ad6b7169203331", "name": "publish", "kind": "PRODUCER",
       "timestamp": 1001, "localEndpoint": {"serviceName": "frontend"}},
      {"traceId": "463ac35c9f6413ad48485a3953bb6124", "id": "e7ad6b7169203331", "name": "consume", "kind": "consumer",
       "timestamp": 1003}
    ]"#;
    let request = decode_spans(body.as_bytes(), true).unwrap();
    let trace_id = id("463ac35c9f6413ad48485a3953bb6124");
    let checkout = Span {
        trace_id: trace_id.clone(),
        span_id: id("a2fb4a1d1a96d312"),
        trace_state: "vendor=1".into(),
        name: "checkout".into(),
        kind: 3,
        start_time_unix_nano: 1_000_000,
        end_time_unix_nano: 1_020_000,
        attributes: vec![
            kv("cached", V::BoolValue(false)),
            kv("error", s("card declined")),
            kv("ratio", V::DoubleValue(0.5)),
            kv("retries", V::IntValue(3)),
            kv("net.host.ip", s("2001:db8::1")),
            kv("peer.service", s("payments")),
            kv("net.peer.ip", s("2001:db8::2")),
            kv("net.peer.port", V::IntValue(443)),
            kv("zipkin.shared", V::BoolValue(true)),
            kv("zipkin.debug", V::BoolValue(true)),
        ],
        events: vec![
            Event {
                time_unix_nano: 1_005_000,
                name: "retrying".into(),
                ..Default::default()
            },
            Event {
                time_unix_nano: 1_010_000,
                name: "exception".into(),
                attributes: vec![kv("attempt", V::IntValue(2)), kv("exception.type", s("Timeout"))],
                dropped_attributes_count: 1,
            },
        ],
        links: vec![Link {
            trace_id: trace_id.clone(),
            span_id: id("00f067aa0ba902b7"),
            attributes: vec![kv("why", s("retry"))],
            ..Default::default()
        }],
        status: Some(Status {
            code: 2,
            message: "card declined".into(),
        }),
        ..Default::default()
    };
    let charge = Span {
        trace_id: trace_id.clone(),
        span_id: id("b7ad6b7169203331"),
        parent_span_id: id("a2fb4a1d1a96d312"),
        name: "charge".into(),
        kind: 2,
        start_time_unix_nano: 1_002_000,
        end_time_unix_nano: 1_012_000,
        status: Some(Status {
            code: 2,
            message: "insufficient funds".into(),
        }),
        ..Default::default()
    };
    let render = Span {
        trace_id: trace_id.clone(),
        span_id: id("c7ad6b7169203331"),
        name: "render".into(),
        kind: 1,
        start_time_unix_nano: 0,
        end_time_unix_nano: 5_000,
        attributes: vec![kv(START_TIME_ABSENT, V::BoolValue(true))],
        status: Some(Status {
            code: 1,
            message: String::new(),
        }),
        ..Default::default()
    };
    let publish = Span {
        trace_id: trace_id.clone(),
        span_id: id("d7ad6b7169203331"),
        name: "publish".into(),
        kind: 4,
        start_time_unix_nano: 1_001_000,
        end_time_unix_nano: 1_001_000,
        ..Default::default()
    };
    let consume = Span {
        trace_id: trace_id.clone(),
        span_id: id("e7ad6b7169203331"),
        name: "consume".into(),
        kind: 5,
        start_time_unix_nano: 1_003_000,
        end_time_unix_nano: 1_003_000,
        ..Default::default()
    };
    let frontend = vec![kv("service.name", s("frontend"))];
    let mut first = group(
        vec![kv("service.name", s("frontend")), kv("host.name", s("web-1"))],
        ("shop", "1.0"),
        vec![checkout],
    );
    first.resource = Some(Resource {
        attributes: vec![kv("service.name", s("frontend")), kv("host.name", s("web-1"))],
        ..Default::default()
    });
    let expected = ExportTraceServiceRequest {
        resource_spans: vec![
            first,
            group(vec![kv("service.name", s("payments"))], ("", ""), vec![charge]),
            group(frontend, ("", ""), vec![render, publish]),
            group(vec![], ("", ""), vec![consume]),
        ],
    };
    assert_eq!(request, expected);
}

#[test]
fn string_tags_stay_strings_unless_parse_string_tags() {
    let body =
        r#"[{"traceId": "1", "id": "2", "timestamp": 1, "tags": {"n": "42", "f": "1.5", "b": "true", "v": "1.2.3", "e": "-7", "x": 5}}]"#;
    let attributes = |parse| {
        decode_spans(body.as_bytes(), parse).unwrap().resource_spans[0].scope_spans[0].spans[0]
            .attributes
            .clone()
    };
    assert_eq!(
        attributes(false),
        [
            kv("b", s("true")),
            kv("e", s("-7")),
            kv("f", s("1.5")),
            kv("n", s("42")),
            kv("v", s("1.2.3")),
            kv("x", s("5"))
        ]
    );
    assert_eq!(
        attributes(true),
        [
            kv("b", V::BoolValue(true)),
            kv("e", V::IntValue(-7)),
            kv("f", V::DoubleValue(1.5)),
            kv("n", V::IntValue(42)),
            kv("v", s("1.2.3")),
            kv("x", V::IntValue(5))
        ]
    );
    let span = &decode_spans(body.as_bytes(), false).unwrap().resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.trace_id, id("00000000000000000000000000000001"), "short ids are left-padded");
    assert_eq!(span.span_id, id("0000000000000002"));
}

#[test]
fn bodies_that_are_not_zipkin_v2_json_are_refused_with_their_place() {
    let error = |body: &str| decode_spans(body.as_bytes(), false).unwrap_err();
    assert!(error("{not json").starts_with("body is not valid JSON: "));
    assert_eq!(
        error(r#"{"traceId": "1"}"#),
        "expected a JSON list of Zipkin v2 spans, got an object"
    );
    assert_eq!(error("[1]"), "spans[0]: expected a span object, got a number");
    assert_eq!(
        error(r#"[{"traceId": "1", "id": "2"}, {"traceId": "xyz", "id": "2"}]"#),
        "spans[1].traceId: expected 16 or 32 hex characters, got 'xyz'"
    );
    assert_eq!(
        error(r#"[{"traceId": "1", "id": "00000000000000001"}]"#),
        "spans[0].id: expected 16 hex characters, got '00000000000000001'"
    );
    assert_eq!(error(r#"[{"traceId": 5}]"#), "spans[0].traceId: expected a string, got a number");
    assert_eq!(
        error(r#"[{"id": "1", "timestamp": -3}]"#),
        "spans[0].timestamp: expected a non-negative whole number of microseconds, got -3"
    );
    assert_eq!(
        error(r#"[{"id": "1", "tags": ["a"]}]"#),
        "spans[0].tags: expected an object, got a list"
    );
    assert_eq!(
        error(r#"[{"id": "1", "annotations": [{"timestamp": 1}]}]"#),
        "spans[0].annotations[0]: missing field `value`"
    );
    assert_eq!(
        error(r#"[{"traceId": "1", "id": "2", "binaryAnnotations": []}]"#),
        "spans[0]: this is a Zipkin v1 span (binaryAnnotations or annotation endpoints); send Zipkin v2 JSON to /api/v2/spans"
    );
    // Empty lists are fine; missing ids are left to the ingest step's validation.
    assert_eq!(decode_spans(b"[]", false).unwrap(), ExportTraceServiceRequest::default());
    let span = &decode_spans(br#"[{"name": "no ids"}]"#, false).unwrap().resource_spans[0].scope_spans[0].spans[0];
    assert!(span.trace_id.is_empty() && span.span_id.is_empty());
}

/// Keeps what reaches it and commits, or refuses everything retryably.
struct Pipeline {
    received: Mutex<Vec<ExportTraceServiceRequest>>,
    refuse: bool,
}

impl Consumer<ExportTraceServiceRequest> for Pipeline {
    fn consume(&self, envelope: Envelope<ExportTraceServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
        if self.refuse {
            let error = PipelineError::retryable("storage is busy; retry later");
            envelope.fail(&error);
            return Box::pin(async move { Err(error) });
        }
        self.received.lock().unwrap().push(envelope.data.clone());
        envelope.commit();
        Box::pin(async { Ok(()) })
    }
}

struct Unused;
impl<T: Send + 'static> Consumer<T> for Unused {
    fn consume(&self, _: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        unreachable!("the zipkin receiver only sends traces")
    }
}

fn receiver(refuse: bool, max_request_bytes: usize) -> (Router, Arc<Pipeline>, Arc<IngestStats>) {
    let pipeline = Arc::new(Pipeline {
        received: Mutex::new(Vec::new()),
        refuse,
    });
    let stats = Arc::new(IngestStats::default());
    let intake = Intake {
        traces: pipeline.clone(),
        metrics: Arc::new(Unused) as SharedConsumer<ExportMetricsServiceRequest>,
        logs: Arc::new(Unused) as SharedConsumer<ExportLogsServiceRequest>,
        stats: stats.clone(),
        max_request_bytes,
        admission: Arc::new(Admission::new(None)),
    };
    (router(intake), pipeline, stats)
}

async fn call(router: &Router, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn spans_are_accepted_with_202_once_committed() {
    let (router, pipeline, stats) = receiver(false, 1 << 20);
    let (status, _, body) = call(&router, "POST", "/api/v2/spans", &[JSON], ZIPKIN_DOCS_EXAMPLE.into()).await;
    assert_eq!((status, body.as_str()), (StatusCode::ACCEPTED, ""));
    assert_eq!(
        *pipeline.received.lock().unwrap(),
        [decode_spans(ZIPKIN_DOCS_EXAMPLE.as_bytes(), false).unwrap()]
    );
    assert_eq!(stats.traces.accepted.load(Ordering::Relaxed), 1);

    // gzip, and no content type at all (read as JSON, like Zipkin's server does).
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(ZIPKIN_DOCS_EXAMPLE.as_bytes()).unwrap();
    let (status, _, _) = call(
        &router,
        "POST",
        "/api/v2/spans",
        &[("content-encoding", "gzip")],
        gzip.finish().unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(pipeline.received.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn spans_with_invalid_ids_are_left_out_and_reported() {
    let (router, pipeline, stats) = receiver(false, 1 << 20);
    let body = r#"[{"traceId": "0000000000000000", "id": "1", "name": "zero"}, {"traceId": "1", "id": "2", "name": "fine"}]"#;
    let (status, _, message) = call(&router, "POST", "/api/v2/spans", &[JSON], body.into()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        message,
        "1 span(s) rejected; first: span 'zero': trace id must be 16 non-zero bytes, got 16"
    );
    let received = pipeline.received.lock().unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].resource_spans[0].scope_spans[0].spans[0].name, "fine");
    assert_eq!(stats.traces.rejected.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn bad_bodies_get_400_and_change_nothing() {
    let (router, pipeline, stats) = receiver(false, 1 << 20);
    let (status, headers, message) = call(&router, "POST", "/api/v2/spans", &[JSON], br#"[{"traceId": "zz"}]"#.to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(message, "spans[0].traceId: expected 16 or 32 hex characters, got 'zz'");
    let (status, _, message) = call(
        &router,
        "POST",
        "/api/v2/spans",
        &[("content-encoding", "gzip")],
        b"not gzip".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("corrupt gzip body: "), "{message}");
    let (status, _, message) = call(&router, "POST", "/api/v2/spans", &[("content-encoding", "br")], b"[]".to_vec()).await;
    assert_eq!(
        (status, message.as_str()),
        (
            StatusCode::BAD_REQUEST,
            "unsupported content encoding 'br'; use gzip, deflate or none"
        )
    );
    assert!(pipeline.received.lock().unwrap().is_empty());
    assert_eq!(stats.traces.bad_requests.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn v1_protobuf_and_other_encodings_are_refused_with_what_to_send() {
    let (router, pipeline, _) = receiver(false, 1 << 20);
    let (status, _, message) = call(
        &router,
        "POST",
        "/api/v2/spans",
        &[("content-type", "application/x-protobuf")],
        vec![1, 2],
    )
    .await;
    assert_eq!(
        (status, message.as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Zipkin protobuf spans are not supported; send Zipkin v2 JSON (Content-Type: application/json)"
        )
    );
    let (status, _, message) = call(&router, "POST", "/api/v1/spans", &[JSON], b"[]".to_vec()).await;
    assert_eq!(
        (status, message.as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Zipkin v1 spans are not supported; send Zipkin v2 JSON to /api/v2/spans"
        )
    );
    let (status, _, message) = call(&router, "POST", "/api/v2/spans", &[("content-type", "text/csv")], b"a".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        message,
        "unsupported content type 'text/csv'; send Zipkin v2 JSON (Content-Type: application/json)"
    );
    let (status, headers, _) = call(&router, "GET", "/api/v2/spans", &[], Vec::new()).await;
    assert_eq!(
        (status, &headers[header::ALLOW]),
        (StatusCode::METHOD_NOT_ALLOWED, &HeaderValue::from_static("POST"))
    );
    let (status, _, _) = call(&router, "POST", "/v1/traces", &[JSON], b"[]".to_vec()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(pipeline.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_also_after_decompression() {
    let (router, pipeline, _) = receiver(false, 256);
    let big = format!(r#"[{{"traceId": "1", "id": "2", "name": "{}"}}]"#, "x".repeat(1000));
    let (status, _, message) = call(&router, "POST", "/api/v2/spans", &[JSON], big.clone().into()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        message,
        "request body is larger than the 256-byte limit after decompression; send smaller batches"
    );
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(big.as_bytes()).unwrap();
    let compressed = gzip.finish().unwrap();
    assert!(compressed.len() <= 256);
    let (status, _, _) = call(&router, "POST", "/api/v2/spans", &[JSON, ("content-encoding", "gzip")], compressed).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(pipeline.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn retryable_refusals_get_503_with_retry_after() {
    let (router, _, stats) = receiver(true, 1 << 20);
    let (status, headers, message) = call(&router, "POST", "/api/v2/spans", &[JSON], ZIPKIN_DOCS_EXAMPLE.into()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "1");
    assert_eq!(message, "storage is busy; retry later");
    assert_eq!(stats.traces.refused.load(Ordering::Relaxed), 1);
}

#[test]
fn the_collector_example_config_and_its_errors() {
    let full = |receiver: &str| {
        format!("receivers:\n{receiver}\nexporters: {{otelbox: {{}}}}\nservice: {{pipelines: {{traces: {{receivers: [zipkin], exporters: [otelbox]}}}}}}\n")
    };
    let config = crate::components::parse_config(&full("  zipkin:\n    endpoint: 127.0.0.1:19411\n    parse_string_tags: true")).unwrap();
    assert_eq!(
        config
            .settings_of::<ZipkinConfig>(crate::config::Kind::Receiver, "zipkin")
            .first()
            .map(|(_, c)| (*c).clone()),
        Some(ZipkinConfig {
            endpoint: "127.0.0.1:19411".parse().unwrap(),
            parse_string_tags: true
        })
    );
    let config = crate::components::parse_config(&full("  zipkin:")).unwrap();
    assert_eq!(
        config.settings_of::<ZipkinConfig>(crate::config::Kind::Receiver, "zipkin")[0].1,
        &ZipkinConfig::default()
    );
    let errors = crate::components::parse_config(&full(
        "  zipkin:\n    endpoint: localhost\n    parse_string_tags: yes please\n    cors: {}",
    ))
    .unwrap_err();
    assert_eq!(
        errors.0,
        [
            "receivers.zipkin.cors: unknown key (expected one of: endpoint, parse_string_tags)",
            "receivers.zipkin.endpoint: expected host:port with an IP address or localhost, got 'localhost'",
            "receivers.zipkin.parse_string_tags: expected true or false, got a string",
        ]
    );
}
