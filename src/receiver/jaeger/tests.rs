//! Tests of the jaeger receiver: the thrift wire formats on byte vectors made by Apache Thrift's
//! Python library, refused messages, the Collector's translation rules (resource, kind, status,
//! parent and links, events, scope), the protobuf ids, the HTTP answers and the config.

use super::model::{Batch, JaegerSpan, Log, Process, RefKind, SpanRef, Tag, TagValue};
use super::*;
use crate::pipeline::{Consumer, Envelope, SharedConsumer};
use crate::receiver::Admission;
use crate::telemetry::IngestStats;
use axum::http::Request;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value as V, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::sync::Mutex;
use tower::ServiceExt;

/// One batch (process "svc" with tag k=v; one span: trace id high 1 low 2, span 3, "op", sampled,
/// start 1000 µs, 5 µs long) as an agent datagram in each protocol and as the HTTP body.
const COMPACT_PACKET: &str =
    "82810009656d697442617463681c1c1803737663191c18016b15001801760000191c160416021606160018026f70250216d00f160a000000";
const BINARY_PACKET: &str = "8001000400000009656d69744261746368000000000c00010c00010b0001000000037376630f00020c000000010b0001000000016b080002000000000b0003000000017600000f00020c000000010a000100000000000000020a000200000000000000010a00030000000000000003\
0a000400000000000000000b0005000000026f70080007000000010a000800000000000003e80a00090000000000000005000000";
const HTTP_BODY: &str = "0c00010b0001000000037376630f00020c000000010b0001000000016b080002000000000b0003000000017600000f00020c000000010a000100000000000000020a000200000000000000010a000300000000000000030a000400000000000000000b0005000000026f70080007000000010a000800000000000003e80a000900000000000000050000";

const LIMIT: u64 = 1 << 20;

fn bytes(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text).unwrap()
}

fn kv(key: &str, value: V) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(text: &str) -> V {
    V::StringValue(text.into())
}

fn tag(key: &str, value: TagValue) -> Tag {
    Tag { key: key.into(), value }
}

fn text(value: &str) -> TagValue {
    TagValue::Str(value.into())
}

fn only_span(request: &ExportTraceServiceRequest) -> &Span {
    let spans: Vec<&Span> = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    assert_eq!(spans.len(), 1, "{request:?}");
    spans[0]
}

fn expected_vector_batch() -> Batch {
    Batch {
        process: Some(Process {
            service_name: "svc".into(),
            tags: Some(vec![tag("k", text("v"))]),
        }),
        spans: vec![JaegerSpan {
            trace_id: [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2],
            span_id: 3,
            operation_name: "op".into(),
            flags: 1,
            start_unix_nano: 1_000_000,
            end_unix_nano: 1_005_000,
            ..Default::default()
        }],
    }
}

#[test]
fn agent_datagrams_in_both_protocols_and_the_http_body_decode_to_the_same_batch() {
    let (compact, _) = thrift::decode_agent_message(&bytes(COMPACT_PACKET), thrift::Protocol::Compact, LIMIT).unwrap();
    let (binary, _) = thrift::decode_agent_message(&bytes(BINARY_PACKET), thrift::Protocol::Binary, LIMIT).unwrap();
    let (body, cost) = thrift::decode_batch(&bytes(HTTP_BODY), LIMIT).unwrap();
    assert_eq!(compact, expected_vector_batch());
    assert_eq!(binary, expected_vector_batch());
    assert_eq!(body, expected_vector_batch());
    assert!(cost > 0);

    let request = decode_thrift_http_body(&bytes(HTTP_BODY)).unwrap();
    let group = &request.resource_spans[0];
    assert_eq!(
        group.resource.as_ref().unwrap().attributes,
        [kv("service.name", s("svc")), kv("k", s("v"))]
    );
    let span = only_span(&request);
    assert_eq!(hex::encode(&span.trace_id), "00000000000000010000000000000002");
    assert_eq!(hex::encode(&span.span_id), "0000000000000003");
    assert_eq!((span.name.as_str(), span.flags), ("op", 1));
    assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (1_000_000, 1_005_000));
    assert!(span.parent_span_id.is_empty());
}

#[test]
fn broken_messages_are_refused_and_say_why() {
    let body = bytes(HTTP_BODY);
    // Every cut of a valid body fails (no partial batch is taken).
    for end in 0..body.len() - 1 {
        assert!(thrift::decode_batch(&body[..end], LIMIT).is_err(), "a body cut at {end} decoded");
    }
    // The span's operationName (field 5, a string) turned into field 15: required, so missing.
    let renamed = HTTP_BODY.replacen("0b0005000000026f70", "0b000f000000026f70", 1);
    assert_eq!(
        thrift::decode_batch(&bytes(&renamed), LIMIT).unwrap_err(),
        "Span.operationName is required but missing"
    );
    // Zipkin's agent method and unknown ones.
    let zipkin = COMPACT_PACKET.replacen("0009656d69744261746368", "000f656d69745a69706b696e4261746368", 1);
    assert!(thrift::decode_agent_message(&bytes(&zipkin), thrift::Protocol::Compact, LIMIT)
        .unwrap_err()
        .contains("Zipkin spans over the Jaeger agent protocol are not supported"));
    // The binary packet read as compact.
    assert!(thrift::decode_agent_message(&bytes(BINARY_PACKET), thrift::Protocol::Compact, LIMIT).is_err());
}

#[test]
fn counts_and_lengths_on_the_wire_cannot_claim_more_than_the_message_holds() {
    // A Batch whose span list claims 2^31-1 structs, in 20 bytes.
    let huge_list = bytes("0c00010b00010000000161000f00020c7fffffff00");
    let started = std::time::Instant::now();
    assert!(thrift::decode_batch(&huge_list, LIMIT).is_err());
    // A service name claiming 2 GiB.
    assert!(thrift::decode_batch(&bytes("0c00010b00017fffffff"), LIMIT).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // What decoding takes is bounded: the vector batch costs more than 100 bytes decoded.
    assert!(thrift::decode_batch(&bytes(HTTP_BODY), 100)
        .unwrap_err()
        .contains("send smaller batches"));
}

fn translate(span: JaegerSpan, format: Format) -> Span {
    let request = to_otlp(
        vec![Batch {
            process: Some(Process {
                service_name: "svc".into(),
                tags: None,
            }),
            spans: vec![span],
        }],
        format,
    );
    only_span(&request).clone()
}

fn span_with(tags: Vec<Tag>) -> JaegerSpan {
    JaegerSpan {
        trace_id: [7; 16],
        span_id: 9,
        operation_name: "call".into(),
        tags,
        ..Default::default()
    }
}

#[test]
fn kind_and_status_come_from_the_tags_in_the_collectors_order() {
    let status = |tags: Vec<Tag>| {
        let span = translate(span_with(tags), Format::Thrift);
        let status = span.status.clone().unwrap_or_default();
        (span.kind, status.code, status.message, span.attributes)
    };
    // error=true wins over otel.status_code, and takes otel.status_description as its message.
    let (kind, code, message, attributes) = status(vec![
        tag("span.kind", text("client")),
        tag("error", TagValue::Bool(true)),
        tag("otel.status_code", text("OK")),
        tag("otel.status_description", text("boom")),
        tag("http.method", text("GET")),
    ]);
    assert_eq!((kind, code, message.as_str()), (3, 2, "boom"));
    assert_eq!(attributes, [kv("http.method", s("GET"))], "the mapped tags are removed");
    // otel.status_code alone, any case.
    assert_eq!(status(vec![tag("otel.status_code", text("ok"))]).1, 1);
    // error=false and a string "true" are only attributes.
    let (_, code, _, attributes) = status(vec![tag("error", TagValue::Bool(false)), tag("span.kind", text("SERVER"))]);
    assert_eq!(code, 0);
    assert_eq!(attributes, [kv("error", V::BoolValue(false))]);
    // HTTP codes: 404 is an error for a client, not for a server; 500 for both; 399 is.
    let http = |kind: &str, code: i64| status(vec![tag("span.kind", text(kind)), tag("http.status_code", TagValue::Long(code))]).1;
    assert_eq!(
        (
            http("client", 404),
            http("server", 404),
            http("server", 500),
            http("server", 200),
            http("server", 399)
        ),
        (2, 0, 2, 0, 2)
    );
}

#[test]
fn parents_links_events_and_tag_types_follow_the_collector() {
    let other_trace = [1; 16];
    let span = JaegerSpan {
        references: vec![
            SpanRef {
                kind: RefKind::FollowsFrom,
                trace_id: [7; 16],
                span_id: 4,
            },
            SpanRef {
                kind: RefKind::ChildOf,
                trace_id: other_trace,
                span_id: 5,
            },
            SpanRef {
                kind: RefKind::ChildOf,
                trace_id: [7; 16],
                span_id: 6,
            },
        ],
        logs: vec![
            Log {
                unix_nano: 42_000,
                fields: vec![tag("event", text("retry")), tag("attempt", TagValue::Long(2))],
            },
            Log {
                unix_nano: 43_000,
                fields: vec![tag("message", text("no event field"))],
            },
        ],
        ..span_with(vec![
            tag("bytes", TagValue::Binary(vec![1, 2])),
            tag("ratio", TagValue::Double(0.5)),
            tag("odd", TagValue::Unknown("<UNSET>".into())),
        ])
    };
    let otlp = translate(span, Format::Thrift);
    // The first CHILD_OF in the same trace is the parent; every other reference is a link.
    assert_eq!(otlp.parent_span_id, 6u64.to_be_bytes());
    let links: Vec<(u64, &str)> = otlp
        .links
        .iter()
        .map(|l| {
            let kind = match &l.attributes[0].value.as_ref().unwrap().value {
                Some(V::StringValue(kind)) => kind.as_str(),
                _ => "",
            };
            (u64::from_be_bytes(l.span_id.clone().try_into().unwrap()), kind)
        })
        .collect();
    assert_eq!(links, [(4, "follows_from"), (5, "child_of")]);
    assert_eq!(otlp.events[0].name, "retry");
    assert_eq!(otlp.events[0].attributes, [kv("attempt", V::IntValue(2))]);
    assert_eq!((otlp.events[1].name.as_str(), otlp.events[1].time_unix_nano), ("", 43_000));
    assert_eq!(
        otlp.attributes,
        [
            kv("bytes", V::BytesValue(vec![1, 2])),
            kv("ratio", V::DoubleValue(0.5)),
            kv("odd", s("<Unknown Jaeger TagType \"<UNSET>\">")),
        ]
    );
}

#[test]
fn the_process_becomes_the_resource_with_the_collectors_renames() {
    let request = to_otlp(
        vec![Batch {
            process: Some(Process {
                service_name: "checkout".into(),
                tags: Some(vec![
                    tag("hostname", text("box-1")),
                    tag("jaeger.version", text("Python-4.8.0")),
                    tag("ip", text("10.0.0.7")),
                ]),
            }),
            spans: vec![span_with(vec![])],
        }],
        Format::Thrift,
    );
    assert_eq!(
        request.resource_spans[0].resource.as_ref().unwrap().attributes,
        [
            kv("service.name", s("checkout")),
            kv("ip", s("10.0.0.7")),
            kv("host.name", s("box-1")),
            kv("opencensus.exporterversion", s("Jaeger-Python-4.8.0")),
        ]
    );
}

/// The shape the OpenTelemetry Python exporter sends over gRPC: no batch process, a process on
/// every span, the parent as a CHILD_OF reference, scope tags.
#[test]
fn protobuf_spans_group_by_their_process_and_carry_their_scope() {
    let process = |name: &str| proto::Process {
        service_name: name.into(),
        tags: vec![proto::KeyValue {
            key: "deployment.environment".into(),
            v_str: "test".into(),
            ..Default::default()
        }],
    };
    let string = |key: &str, value: &str| proto::KeyValue {
        key: key.into(),
        v_str: value.into(),
        ..Default::default()
    };
    let span = |id: u8, service: &str, parent: Option<u8>| proto::Span {
        trace_id: vec![5; 16],
        span_id: vec![id; 8],
        operation_name: format!("op-{id}"),
        references: parent
            .map(|p| proto::SpanRef {
                trace_id: vec![5; 16],
                span_id: vec![p; 8],
                ref_type: 0,
            })
            .into_iter()
            .collect(),
        start_time: Some(proto::Timestamp { seconds: 2, nanos: 5 }),
        duration: Some(proto::Timestamp { seconds: 0, nanos: 1000 }),
        tags: vec![
            string("otel.scope.name", "lib"),
            string("otel.scope.version", "1.2"),
            string("w3c.tracestate", "k=v"),
            proto::KeyValue {
                key: "n".into(),
                v_type: 2,
                v_int64: 7,
                ..Default::default()
            },
        ],
        process: Some(process(service)),
        ..Default::default()
    };
    let request = proto::PostSpansRequest {
        batch: Some(proto::Batch {
            spans: vec![span(1, "api", None), span(2, "api", Some(1)), span(3, "db", Some(2))],
            process: None,
        }),
    };
    // Through the wire, as a client sends it.
    let decoded = proto::PostSpansRequest::decode(request.encode_to_vec().as_slice()).unwrap();
    let otlp = to_otlp(vec![proto::to_model(decoded).unwrap()], Format::Proto);
    let services: Vec<(String, usize)> = otlp
        .resource_spans
        .iter()
        .map(|r| {
            let name = match &r.resource.as_ref().unwrap().attributes[0].value.as_ref().unwrap().value {
                Some(V::StringValue(name)) => name.clone(),
                _ => String::new(),
            };
            (name, r.scope_spans.iter().map(|s| s.spans.len()).sum())
        })
        .collect();
    assert_eq!(services, [("api".to_string(), 2), ("db".to_string(), 1)]);
    let scope = otlp.resource_spans[0].scope_spans[0].scope.as_ref().unwrap();
    assert_eq!((scope.name.as_str(), scope.version.as_str()), ("lib", "1.2"));
    let child = &otlp.resource_spans[0].scope_spans[0].spans[1];
    assert_eq!(child.parent_span_id, vec![1; 8]);
    assert!(child.links.is_empty(), "the CHILD_OF parent is not also a link");
    assert_eq!(child.trace_state, "k=v");
    assert_eq!(child.attributes, [kv("n", V::IntValue(7))]);
    assert_eq!(
        (child.start_time_unix_nano, child.end_time_unix_nano),
        (2_000_000_005, 2_000_001_005)
    );

    // An 8-byte trace id is the low half; a span id of another length refuses the request.
    let mut short = span(1, "api", None);
    short.trace_id = vec![9; 8];
    let model = proto::to_model(proto::PostSpansRequest {
        batch: Some(proto::Batch {
            spans: vec![short.clone()],
            process: None,
        }),
    })
    .unwrap();
    assert_eq!(model.spans[0].trace_id, [0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9]);
    short.span_id = vec![1; 4];
    let refused = proto::to_model(proto::PostSpansRequest {
        batch: Some(proto::Batch {
            spans: vec![short],
            process: None,
        }),
    });
    assert_eq!(refused.unwrap_err(), "invalid length for a span id: 4 bytes (expected 8)");
}

#[test]
fn the_budget_walk_bounds_what_a_jaeger_request_takes_decoded() {
    // 100,000 empty spans in 200 KB: each costs a whole decoded span, three times over.
    let mut batch = Vec::new();
    for _ in 0..100_000 {
        batch.extend_from_slice(&[0x0a, 0x00]);
    }
    let mut body = vec![0x0a];
    prost::encoding::encode_varint(batch.len() as u64, &mut body);
    body.extend_from_slice(&batch);
    let estimate = crate::receiver::budget::protobuf_decoded_bytes(crate::receiver::budget::Schema::JaegerSpans, &body).unwrap();
    assert!(estimate >= 3 * 100_000 * size_of::<proto::Span>() as u64, "{estimate}");
}

// ---------------------------------------------------------------------------------------------
// The HTTP endpoint

struct Pipeline {
    received: Mutex<Vec<ExportTraceServiceRequest>>,
}

impl Consumer<ExportTraceServiceRequest> for Pipeline {
    fn consume(&self, envelope: Envelope<ExportTraceServiceRequest>) -> BoxFuture<'_, Result<(), crate::pipeline::PipelineError>> {
        self.received.lock().unwrap().push(envelope.data.clone());
        envelope.commit();
        Box::pin(async { Ok(()) })
    }
}

struct Unused;
impl<T: Send + 'static> Consumer<T> for Unused {
    fn consume(&self, _: Envelope<T>) -> BoxFuture<'_, Result<(), crate::pipeline::PipelineError>> {
        unreachable!("the jaeger receiver only sends traces")
    }
}

fn intake() -> (Intake, Arc<Pipeline>, Arc<IngestStats>) {
    let pipeline = Arc::new(Pipeline {
        received: Mutex::new(Vec::new()),
    });
    let stats = Arc::new(IngestStats::default());
    let intake = Intake {
        traces: pipeline.clone(),
        metrics: Arc::new(Unused) as SharedConsumer<ExportMetricsServiceRequest>,
        logs: Arc::new(Unused) as SharedConsumer<ExportLogsServiceRequest>,
        stats: stats.clone(),
        max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        admission: Arc::new(Admission::new(None)),
    };
    (intake, pipeline, stats)
}

async fn post_body(router: &axum::Router, path: &str, content_type: Option<&str>, body: Vec<u8>) -> (StatusCode, String) {
    let mut request = Request::builder().method("POST").uri(path);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = router.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn thrift_http_answers_202_once_committed_and_400_for_what_is_not_a_batch() {
    let (intake, pipeline, stats) = intake();
    let router = thrift_http_router(intake);
    let (status, _) = post_body(
        &router,
        "/api/traces?format=jaeger.thrift",
        Some("application/x-thrift"),
        bytes(HTTP_BODY),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(pipeline.received.lock().unwrap().len(), 1);

    let (status, message) = post_body(&router, "/api/traces", Some("application/json"), b"[]".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("Unsupported content type: application/json"), "{message}");
    let (status, message) = post_body(&router, "/api/traces", None, bytes(HTTP_BODY)).await;
    assert_eq!(
        (status, message.starts_with("Cannot parse content type")),
        (StatusCode::BAD_REQUEST, true)
    );
    let (status, message) = post_body(
        &router,
        "/api/traces",
        Some("application/vnd.apache.thrift.binary"),
        b"nonsense".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.starts_with("Unable to process request body"), "{message}");
    let (status, _) = post_body(&router, "/api/v2/spans", Some("application/x-thrift"), bytes(HTTP_BODY)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(pipeline.received.lock().unwrap().len(), 1, "nothing of the bad requests was taken");
    assert_eq!(stats.traces.bad_requests.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn agent_datagrams_are_ingested_and_bad_ones_counted() {
    let (intake, pipeline, stats) = intake();
    ingest_datagram(&intake, &bytes(COMPACT_PACKET), thrift::Protocol::Compact).await;
    ingest_datagram(&intake, &bytes(BINARY_PACKET), thrift::Protocol::Binary).await;
    ingest_datagram(&intake, b"\x82\x81garbage", thrift::Protocol::Compact).await;
    assert_eq!(pipeline.received.lock().unwrap().len(), 2);
    assert_eq!(stats.traces.bad_requests.load(Ordering::Relaxed), 1);
}

// ---------------------------------------------------------------------------------------------
// Config

fn parsed(yaml: &str) -> (JaegerConfig, Vec<String>) {
    let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let mut errors = Vec::new();
    let config = parse(&mut Parser::collecting(&mut errors), &value, "receivers.jaeger");
    (config, errors)
}

#[test]
fn protocols_listen_only_when_named_with_the_collectors_defaults() {
    let (config, errors) = parsed("protocols: { grpc: , thrift_compact: }");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(config.grpc.unwrap().endpoint, DEFAULT_GRPC);
    assert_eq!(config.thrift_compact, Some(UdpConfig::new(DEFAULT_THRIFT_COMPACT)));
    assert!(config.thrift_http.is_none() && config.thrift_binary.is_none());

    let (config, errors) = parsed(
        "protocols:\n  thrift_http: { endpoint: 127.0.0.1:0, auth: { authenticator: basicauth } }\n  thrift_binary: { workers: 2, queue_size: 5 }",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(extension_refs(&config).len(), 1);
    let binary = config.thrift_binary.unwrap();
    assert_eq!((binary.workers, binary.queue_size, binary.endpoint), (2, 5, DEFAULT_THRIFT_BINARY));
}

#[test]
fn config_errors_name_their_paths() {
    let (_, errors) = parsed("protocols: {}\nremote_sampling: { host_endpoint: 0.0.0.0:5778 }");
    assert_eq!(
        errors,
        [
            "receivers.jaeger.remote_sampling: was removed from the Collector's jaeger receiver (v0.61); use the jaegerremotesampling extension, which otelbox does not have",
            "receivers.jaeger.protocols: must specify at least one protocol (grpc, thrift_http, thrift_compact, thrift_binary)",
        ]
    );
    let (_, errors) = parsed("protocols: { thrift_htttp: {}, thrift_compact: { workers: 0, port: 1 } }");
    assert_eq!(
        errors,
        [
            "receivers.jaeger.protocols.thrift_htttp: unknown key (expected one of: grpc, thrift_http, thrift_compact, thrift_binary)",
            "receivers.jaeger.protocols.thrift_compact.port: unknown key (expected one of: endpoint, queue_size, max_packet_size, workers, socket_buffer_size)",
            "receivers.jaeger.protocols.thrift_compact.workers: must be at least 1",
        ]
    );
}
