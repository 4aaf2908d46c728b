//! The zipkin receiver: `POST /api/v2/spans` with a Zipkin v2 JSON list of spans (optionally
//! gzip or deflate compressed), translated to OTLP the way the Collector's zipkin receiver does
//! (`zipkinv2` -> `ptrace`) and ingested like an OTLP export: answered 202 Accepted once committed,
//! 503 with Retry-After when refused retryably, 400 for a body that is not Zipkin v2 JSON (nothing
//! of it is stored). Zipkin v1 and protobuf bodies are refused with a message saying what to send.
//!
//! The mapping: hex ids (64-bit trace ids left-padded to 128 bits), `kind`, microsecond
//! `timestamp`/`duration` to start and end nanoseconds, `localEndpoint.serviceName` to the
//! resource's `service.name` (spans grouped by service), endpoints to `net.host.*`/`net.peer.*`
//! and `peer.service`, tags to attributes (resource conventions to the resource, `otel.library.*`
//! to the scope, `otel.status_code`/`error` to the status, `w3c.tracestate`, `otlp.link.N`),
//! annotations to events.

use super::{ingest, Intake};
use crate::config::Parser;
use crate::pipeline::PipelineError;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Value as Json};
use serde_yaml_ng::Value;
use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub struct ZipkinConfig {
    pub endpoint: SocketAddr,
    /// Tag values that look like integers, decimals or booleans become typed attributes.
    pub parse_string_tags: bool,
}

impl Default for ZipkinConfig {
    fn default() -> Self {
        ZipkinConfig {
            endpoint: SocketAddr::from(([127, 0, 0, 1], 9411)),
            parse_string_tags: false,
        }
    }
}

pub struct Factory;
crate::component_type!(Factory, "zipkin", &[crate::pdata::Signal::Traces], parse);

impl crate::receiver::ReceiverFactory for Factory {
    fn build<'a>(
        &'a self,
        host: &'a crate::receiver::ReceiverHost,
        id: &'a crate::config::ComponentId,
        settings: &'a crate::config::Settings,
        heads: crate::pipeline::SignalConsumers,
    ) -> futures::future::BoxFuture<'a, anyhow::Result<Box<dyn crate::receiver::Receiver>>> {
        Box::pin(async move {
            let config: &ZipkinConfig = settings.get();
            let listener = crate::net::bind(config.endpoint, &format!("receivers.{id}.endpoint")).await?;
            let intake = host.intake(&heads, crate::receiver::DEFAULT_MAX_REQUEST_BYTES);
            // Zipkin is an ingest port like OTLP/HTTP: the same tokens and TLS.
            let router = crate::receiver::guard_http(router_with(config, intake), host.ingest_tokens.clone(), None);
            Ok(Box::new(ZipkinReceiver {
                endpoint: crate::receiver::Endpoint {
                    receiver: id.clone(),
                    protocol: "http",
                    address: listener.local_addr()?,
                },
                listener,
                router,
                tls: host.tls.as_ref().map(|t| t.http.clone()),
            }) as Box<dyn crate::receiver::Receiver>)
        })
    }
}

struct ZipkinReceiver {
    endpoint: crate::receiver::Endpoint,
    listener: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl crate::receiver::Receiver for ZipkinReceiver {
    fn endpoints(&self) -> Vec<crate::receiver::Endpoint> {
        vec![self.endpoint.clone()]
    }
    fn start(self: Box<Self>, stop: &crate::net::Stop) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        Ok(vec![crate::net::serve(self.listener, self.tls, self.router, stop)?])
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> ZipkinConfig {
    let mut config = ZipkinConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["endpoint", "parse_string_tags"], path);
    if let Some(v) = body.get("endpoint") {
        config.endpoint = p.endpoint(v, &format!("{path}.endpoint")).unwrap_or(config.endpoint);
    }
    if let Some(v) = body.get("parse_string_tags") {
        config.parse_string_tags = p.boolean(v, &format!("{path}.parse_string_tags")).unwrap_or(false);
    }
    config
}

/// The HTTP routes of the receiver with the default settings; spans go to `intake.traces`.
pub fn router(intake: Intake) -> axum::Router {
    router_with(&ZipkinConfig::default(), intake)
}

/// The HTTP routes of the receiver configured by `config`; spans go to `intake.traces`.
pub fn router_with(config: &ZipkinConfig, intake: Intake) -> axum::Router {
    let limit = intake.max_request_bytes;
    let state = Arc::new(Receiver {
        intake,
        parse_string_tags: config.parse_string_tags,
    });
    Router::new()
        .route("/api/v2/spans", post(spans).fallback(method_not_allowed))
        .route("/api/v1/spans", post(v1_spans).fallback(method_not_allowed))
        .fallback(not_found)
        // Our own limit applies after decompression; this one only stops absurd compressed bodies.
        .layer(DefaultBodyLimit::max(limit.saturating_add(1)))
        .with_state(state)
}

struct Receiver {
    intake: Intake,
    parse_string_tags: bool,
}

/// A plain-text answer, as Zipkin servers give.
fn answer(status: StatusCode, message: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message.into()).into_response()
}

fn refusal(error: PipelineError) -> Response {
    crate::receiver::answer::Refusal::from(error).into_plain_text()
}

async fn method_not_allowed() -> Response {
    let mut response = answer(StatusCode::METHOD_NOT_ALLOWED, "use POST to send Zipkin spans");
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

async fn not_found() -> Response {
    answer(StatusCode::NOT_FOUND, "unknown path; the Zipkin receiver takes POST /api/v2/spans")
}

async fn v1_spans(State(receiver): State<Arc<Receiver>>) -> Response {
    bad(&receiver.intake);
    answer(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Zipkin v1 spans are not supported; send Zipkin v2 JSON to /api/v2/spans",
    )
}

fn bad(intake: &Intake) {
    intake.stats.traces.bad_requests.fetch_add(1, Ordering::Relaxed);
}

async fn spans(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: Body) -> Response {
    let intake = &receiver.intake;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let unsupported = match media_type.as_str() {
        // Zipkin's own server reads a body without a content type as JSON.
        "" | "application/json" => None,
        "application/x-protobuf" | "application/protobuf" => {
            Some("Zipkin protobuf spans are not supported; send Zipkin v2 JSON (Content-Type: application/json)".to_string())
        }
        "application/x-thrift" => {
            Some("Zipkin v1 thrift spans are not supported; send Zipkin v2 JSON (Content-Type: application/json)".to_string())
        }
        _ => Some(format!(
            "unsupported content type '{content_type}'; send Zipkin v2 JSON (Content-Type: application/json)"
        )),
    };
    if let Some(message) = unsupported {
        bad(intake);
        return answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, message);
    }
    if let Err(error) = intake.admission.check_memory() {
        intake.stats.traces.refused.fetch_add(1, Ordering::Relaxed);
        return refusal(error);
    }
    let limit = intake.max_request_bytes;
    let Ok(raw) = axum::body::to_bytes(body, limit).await else {
        bad(intake);
        return answer(StatusCode::PAYLOAD_TOO_LARGE, too_large(limit));
    };
    // Held until the answer: the decoded request counts against the decoding budget.
    let _room = match intake.admission.reserve(raw.len()) {
        Ok(room) => room,
        Err(error) => {
            intake.stats.traces.refused.fetch_add(1, Ordering::Relaxed);
            return refusal(error);
        }
    };
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let parse_string_tags = receiver.parse_string_tags;
    let compressed = !matches!(content_encoding.as_str(), "" | "identity");
    let decoded = intake
        .admission
        .decode(raw.len(), compressed, move || {
            decode_body(raw, &content_encoding, limit, parse_string_tags)
        })
        .await
        .unwrap_or_else(|| Err((StatusCode::BAD_REQUEST, "internal error while decoding the body".into())));
    let request = match decoded {
        Ok(request) => request,
        Err((status, message)) => {
            bad(intake);
            return answer(status, message);
        }
    };
    match ingest(intake, request).await {
        Ok(accepted) if accepted.rejected == 0 => StatusCode::ACCEPTED.into_response(),
        // Zipkin has no partial-success answer: the message says which spans were left out.
        Ok(accepted) => answer(StatusCode::ACCEPTED, accepted.message),
        Err(error) => refusal(error),
    }
}

fn too_large(limit: usize) -> String {
    format!("request body is larger than the {limit}-byte limit after decompression; send smaller batches")
}

/// Decompresses and decodes a raw body: the OTLP request, or the HTTP status and message to answer.
fn decode_body(
    raw: Bytes,
    content_encoding: &str,
    limit: usize,
    parse_string_tags: bool,
) -> Result<ExportTraceServiceRequest, (StatusCode, String)> {
    let bad_request = |message: String| (StatusCode::BAD_REQUEST, message);
    let inflate = |reader: &mut dyn Read, name: &str| -> Result<Vec<u8>, (StatusCode, String)> {
        let mut out = Vec::new();
        reader
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad_request(format!("corrupt {name} body: {e}")))?;
        if out.len() > limit {
            return Err((StatusCode::PAYLOAD_TOO_LARGE, too_large(limit)));
        }
        Ok(out)
    };
    let bytes = match content_encoding {
        "" | "identity" => raw.to_vec(),
        "gzip" | "x-gzip" => inflate(&mut flate2::read::MultiGzDecoder::new(&raw[..]), "gzip")?,
        "deflate" => inflate(&mut flate2::read::ZlibDecoder::new(&raw[..]), "deflate")?,
        other => {
            return Err(bad_request(format!(
                "unsupported content encoding '{other}'; use gzip, deflate or none"
            )))
        }
    };
    decode_spans(&bytes, parse_string_tags).map_err(bad_request)
}

// ---------------------------------------------------------------------------------------------
// Zipkin v2 JSON -> a typed span, with every problem named by its place in the body.

/// One Zipkin v2 span, validated.
#[derive(Debug, Default)]
struct ZipkinSpan {
    /// Empty when absent (removed later as invalid, like an OTLP span without ids).
    trace_id: Vec<u8>,
    id: Vec<u8>,
    parent_id: Option<[u8; 8]>,
    name: String,
    kind: Option<String>,
    timestamp_micros: Option<u64>,
    duration_micros: u64,
    local: Endpoint,
    remote: Endpoint,
    annotations: Vec<(u64, String)>,
    /// In key order.
    tags: Vec<(String, String)>,
    debug: bool,
    shared: bool,
}

#[derive(Debug, Default)]
struct Endpoint {
    service_name: Option<String>,
    ipv4: Option<IpAddr>,
    ipv6: Option<IpAddr>,
    port: Option<u64>,
}

/// Decodes a Zipkin v2 JSON list of spans into an OTLP request.
pub fn decode_spans(body: &[u8], parse_string_tags: bool) -> Result<ExportTraceServiceRequest, String> {
    let json: Json = serde_json::from_slice(body).map_err(|e| format!("body is not valid JSON: {e}"))?;
    let Json::Array(items) = json else {
        return Err(format!("expected a JSON list of Zipkin v2 spans, got {}", json_kind(&json)));
    };
    let spans = items
        .iter()
        .enumerate()
        .map(|(i, item)| zipkin_span(item, &format!("spans[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(to_otlp(spans, parse_string_tags))
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

fn zipkin_span(item: &Json, at: &str) -> Result<ZipkinSpan, String> {
    let Json::Object(fields) = item else {
        return Err(format!("{at}: expected a span object, got {}", json_kind(item)));
    };
    let looks_v1 = fields.contains_key("binaryAnnotations")
        || fields
            .get("annotations")
            .and_then(Json::as_array)
            .is_some_and(|a| a.iter().any(|an| an.get("endpoint").is_some()));
    if looks_v1 {
        return Err(format!(
            "{at}: this is a Zipkin v1 span (binaryAnnotations or annotation endpoints); send Zipkin v2 JSON to /api/v2/spans"
        ));
    }
    let string = |key: &str| -> Result<Option<&str>, String> {
        match fields.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(format!("{at}.{key}: expected a string, got {}", json_kind(other))),
        }
    };
    let mut span = ZipkinSpan {
        trace_id: hex_id(string("traceId")?, 16, &format!("{at}.traceId"))?,
        id: hex_id(string("id")?, 8, &format!("{at}.id"))?,
        name: string("name")?.unwrap_or_default().to_string(),
        kind: string("kind")?.map(str::to_ascii_uppercase),
        timestamp_micros: micros(fields.get("timestamp"), &format!("{at}.timestamp"))?,
        duration_micros: micros(fields.get("duration"), &format!("{at}.duration"))?.unwrap_or(0),
        local: endpoint(fields.get("localEndpoint"), &format!("{at}.localEndpoint"))?,
        remote: endpoint(fields.get("remoteEndpoint"), &format!("{at}.remoteEndpoint"))?,
        debug: flag(fields.get("debug"), &format!("{at}.debug"))?,
        shared: flag(fields.get("shared"), &format!("{at}.shared"))?,
        ..Default::default()
    };
    let parent = hex_id(string("parentId")?, 8, &format!("{at}.parentId"))?;
    // A parent equal to the span itself or all zeros means none (as the Collector reads it).
    if parent.iter().any(|b| *b != 0) && parent != span.id {
        span.parent_id = parent.try_into().ok();
    }
    match fields.get("annotations") {
        None | Some(Json::Null) => {}
        Some(Json::Array(annotations)) => {
            for (i, annotation) in annotations.iter().enumerate() {
                let here = format!("{at}.annotations[{i}]");
                let timestamp = micros(annotation.get("timestamp"), &format!("{here}.timestamp"))?.unwrap_or(0);
                let value = match annotation.get("value") {
                    Some(Json::String(s)) => s.clone(),
                    other => {
                        return Err(format!(
                            "{here}.value: expected a string, got {}",
                            other.map_or("nothing", json_kind)
                        ))
                    }
                };
                span.annotations.push((timestamp, value));
            }
        }
        Some(other) => return Err(format!("{at}.annotations: expected a list, got {}", json_kind(other))),
    }
    match fields.get("tags") {
        None | Some(Json::Null) => {}
        Some(Json::Object(tags)) => {
            for (key, value) in tags {
                // Zipkin tags are strings; numbers and booleans some clients send are kept as text.
                let text = match value {
                    Json::String(s) => s.clone(),
                    Json::Number(n) => n.to_string(),
                    Json::Bool(b) => b.to_string(),
                    Json::Null => continue,
                    other => return Err(format!("{at}.tags.{key}: expected a string, got {}", json_kind(other))),
                };
                span.tags.push((key.clone(), text));
            }
        }
        Some(other) => return Err(format!("{at}.tags: expected an object, got {}", json_kind(other))),
    }
    Ok(span)
}

/// Up to `2 * bytes` hex digits, left-padded with zeros (zipkin-go reads 64-bit trace ids and
/// shorter ids this way); absent or "" is an empty id.
fn hex_id(text: Option<&str>, bytes: usize, at: &str) -> Result<Vec<u8>, String> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let expected = if bytes == 16 {
        "16 or 32 hex characters"
    } else {
        "16 hex characters"
    };
    if text.len() > bytes * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{at}: expected {expected}, got '{}'", shorten(text)));
    }
    let padded = format!("{text:0>width$}", width = bytes * 2);
    hex::decode(padded).map_err(|e| format!("{at}: {e}"))
}

/// At most 40 characters of user text in an error message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Microseconds: a non-negative integer (a whole-valued float is accepted too).
fn micros(value: Option<&Json>, at: &str) -> Result<Option<u64>, String> {
    match value {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) => Ok(Some(v)),
            (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 => Ok(Some(f as u64)),
            _ => Err(format!("{at}: expected a non-negative whole number of microseconds, got {n}")),
        },
        Some(other) => Err(format!("{at}: expected a number of microseconds, got {}", json_kind(other))),
    }
}

fn flag(value: Option<&Json>, at: &str) -> Result<bool, String> {
    match value {
        None | Some(Json::Null) => Ok(false),
        Some(Json::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("{at}: expected true or false, got {}", json_kind(other))),
    }
}

fn endpoint(value: Option<&Json>, at: &str) -> Result<Endpoint, String> {
    let fields = match value {
        None | Some(Json::Null) => return Ok(Endpoint::default()),
        Some(Json::Object(fields)) => fields,
        Some(other) => return Err(format!("{at}: expected an object, got {}", json_kind(other))),
    };
    let string = |key: &str| -> Result<Option<&str>, String> {
        match fields.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(format!("{at}.{key}: expected a string, got {}", json_kind(other))),
        }
    };
    let port = match fields.get("port") {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) => n.as_u64().filter(|p| *p > 0 && *p <= 65_535),
        Some(other) => return Err(format!("{at}.port: expected a number, got {}", json_kind(other))),
    };
    Ok(Endpoint {
        service_name: string("serviceName")?.filter(|s| !s.is_empty()).map(str::to_string),
        // An address that does not parse is left out, as zipkin-go does.
        ipv4: string("ipv4")?.and_then(|s| s.parse().ok()),
        ipv6: string("ipv6")?.and_then(|s| s.parse().ok()),
        port,
    })
}

// ---------------------------------------------------------------------------------------------
// Typed spans -> OTLP, following the Collector's zipkinv2 translator.

/// Tags that describe the resource rather than the span (semantic conventions v1.6.1, as the
/// Collector's translator lists them): moved to the resource.
const RESOURCE_TAGS: &[&str] = &[
    "cloud.provider",
    "cloud.account.id",
    "cloud.region",
    "cloud.availability_zone",
    "cloud.platform",
    "aws.ecs.container.arn",
    "aws.ecs.cluster.arn",
    "aws.ecs.launchtype",
    "aws.ecs.task.arn",
    "aws.ecs.task.family",
    "aws.ecs.task.revision",
    "aws.eks.cluster.arn",
    "aws.log.group.names",
    "aws.log.group.arns",
    "aws.log.stream.names",
    "aws.log.stream.arns",
    "container.name",
    "container.id",
    "container.runtime",
    "container.image.name",
    "container.image.tag",
    "deployment.environment",
    "device.id",
    "device.model.identifier",
    "device.model.name",
    "device.manufacturer",
    "faas.name",
    "faas.id",
    "faas.version",
    "faas.instance",
    "faas.max_memory",
    "host.id",
    "host.name",
    "host.type",
    "host.arch",
    "host.image.name",
    "host.image.id",
    "host.image.version",
    "k8s.cluster.name",
    "k8s.node.name",
    "k8s.node.uid",
    "k8s.namespace.name",
    "k8s.pod.uid",
    "k8s.pod.name",
    "k8s.container.name",
    "k8s.container.restart_count",
    "k8s.replicaset.uid",
    "k8s.replicaset.name",
    "k8s.deployment.uid",
    "k8s.deployment.name",
    "k8s.statefulset.uid",
    "k8s.statefulset.name",
    "k8s.daemonset.uid",
    "k8s.daemonset.name",
    "k8s.job.uid",
    "k8s.job.name",
    "k8s.cronjob.uid",
    "k8s.cronjob.name",
    "os.type",
    "os.description",
    "os.name",
    "os.version",
    "process.pid",
    "process.executable.name",
    "process.executable.path",
    "process.command",
    "process.command_line",
    "process.command_args",
    "process.owner",
    "process.runtime.name",
    "process.runtime.version",
    "process.runtime.description",
    "service.name",
    "service.namespace",
    "service.instance.id",
    "service.version",
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "telemetry.auto.version",
    "webengine.name",
    "webengine.version",
    "webengine.description",
    // OpenCensus-era resource tags the Collector also lifts.
    "opencensus.starttime",
    "opencensus.exporterversion",
    "opencensus.resourcetype",
];

/// Names the key `localEndpoint.serviceName` is stored under, when not `service.name`.
const SERVICE_NAME_SOURCE: &str = "otlp.service.name.source";
/// Set on spans that had no `timestamp` (their start is then the Unix epoch, as in the Collector).
const START_TIME_ABSENT: &str = "otel.zipkin.absentField.startTime";
const SCOPE_NAME_TAGS: [&str; 2] = ["otel.library.name", "otel.scope.name"];
const SCOPE_VERSION_TAGS: [&str; 2] = ["otel.library.version", "otel.scope.version"];

fn key_value(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// Sets `key`, replacing an earlier value in place (as pcommon's `Put*` does).
fn put(attributes: &mut Vec<KeyValue>, key: &str, value: any_value::Value) {
    match attributes.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = Some(AnyValue { value: Some(value) }),
        None => attributes.push(key_value(key, value)),
    }
}

/// With `parse_string_tags`, what a tag value becomes: the Collector's patterns for integers,
/// decimals and booleans; anything else stays a string.
fn typed_tag(text: &str, parse_string_tags: bool) -> any_value::Value {
    use any_value::Value as V;
    if parse_string_tags {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if all_digits(digits) {
            if let Ok(i) = text.parse::<i64>() {
                return V::IntValue(i);
            }
        }
        if let Some((whole, fraction)) = digits.split_once('.') {
            if all_digits(whole) && all_digits(fraction) {
                if let Ok(f) = text.parse::<f64>() {
                    return V::DoubleValue(f);
                }
            }
        }
        match text {
            "true" => return V::BoolValue(true),
            "false" => return V::BoolValue(false),
            _ => {}
        }
    }
    V::StringValue(text.to_string())
}

fn to_otlp(spans: Vec<ZipkinSpan>, parse_string_tags: bool) -> ExportTraceServiceRequest {
    let mut request = ExportTraceServiceRequest::default();
    // (resource, scope) groups in order of first appearance.
    let mut groups: HashMap<(Vec<u8>, String, String), (usize, usize)> = HashMap::new();
    let mut resource_index: HashMap<Vec<u8>, usize> = HashMap::new();
    for mut zipkin in spans {
        let mut tags = std::mem::take(&mut zipkin.tags);
        let mut take = |key: &str| -> Option<String> {
            let i = tags.iter().position(|(k, _)| k == key)?;
            Some(tags.remove(i).1)
        };
        let resource = resource_of(&zipkin, &mut take);
        let scope_name = SCOPE_NAME_TAGS.iter().find_map(|k| take(k)).unwrap_or_default();
        let scope_version = SCOPE_VERSION_TAGS.iter().find_map(|k| take(k)).unwrap_or_default();
        let span = span_of(zipkin, tags, parse_string_tags);
        let resource_key = prost::Message::encode_to_vec(&resource);
        let key = (resource_key.clone(), scope_name.clone(), scope_version.clone());
        let (r, s) = match groups.get(&key) {
            Some(place) => *place,
            None => {
                let r = *resource_index.entry(resource_key).or_insert_with(|| {
                    request.resource_spans.push(ResourceSpans {
                        resource: Some(resource),
                        ..Default::default()
                    });
                    request.resource_spans.len() - 1
                });
                let scopes = &mut request.resource_spans[r].scope_spans;
                scopes.push(ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: scope_name,
                        version: scope_version,
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                let place = (r, scopes.len() - 1);
                groups.insert(key, place);
                place
            }
        };
        request.resource_spans[r].scope_spans[s].spans.push(span);
    }
    request
}

/// The resource: the local service name (under `otlp.service.name.source` when given) and the
/// tags that are resource conventions, which `take` removes from the span's tags.
fn resource_of(zipkin: &ZipkinSpan, take: &mut impl FnMut(&str) -> Option<String>) -> Resource {
    let mut attributes = Vec::new();
    let source = take(SERVICE_NAME_SOURCE).filter(|s| !s.is_empty());
    if let Some(service) = &zipkin.local.service_name {
        let key = source.as_deref().unwrap_or("service.name");
        attributes.push(key_value(key, any_value::Value::StringValue(service.clone())));
    }
    for key in RESOURCE_TAGS {
        if let Some(value) = take(key) {
            put(&mut attributes, key, any_value::Value::StringValue(value));
        }
    }
    Resource {
        attributes,
        ..Default::default()
    }
}

fn span_of(zipkin: ZipkinSpan, mut tags: Vec<(String, String)>, parse_string_tags: bool) -> Span {
    use any_value::Value as V;
    let mut take = |key: &str| -> Option<String> {
        let i = tags.iter().position(|(k, _)| k == key)?;
        Some(tags.remove(i).1)
    };
    let trace_state = take("w3c.tracestate").unwrap_or_default();
    let kind = match zipkin.kind.as_deref() {
        Some("CLIENT") => 3,
        Some("SERVER") => 2,
        Some("PRODUCER") => 4,
        Some("CONSUMER") => 5,
        _ => match take("span.kind").as_deref() {
            Some("internal") => 1,
            _ => 0,
        },
    };
    let status = status_of(&mut tags);
    let links = links_of(&mut tags);
    let mut attributes: Vec<KeyValue> = tags
        .iter()
        .map(|(key, value)| key_value(key, typed_tag(value, parse_string_tags)))
        .collect();
    let local = &zipkin.local;
    if let Some(ip) = local.ipv4 {
        put(&mut attributes, "net.host.ip", V::StringValue(ip.to_string()));
    }
    if let Some(ip) = local.ipv6 {
        put(&mut attributes, "net.host.ip", V::StringValue(ip.to_string()));
    }
    if let Some(port) = local.port {
        put(&mut attributes, "net.host.port", V::IntValue(port as i64));
    }
    let remote = &zipkin.remote;
    if let Some(service) = &remote.service_name {
        put(&mut attributes, "peer.service", V::StringValue(service.clone()));
    }
    if let Some(ip) = remote.ipv4 {
        put(&mut attributes, "net.peer.ip", V::StringValue(ip.to_string()));
    }
    if let Some(ip) = remote.ipv6 {
        put(&mut attributes, "net.peer.ip", V::StringValue(ip.to_string()));
    }
    if let Some(port) = remote.port {
        put(&mut attributes, "net.peer.port", V::IntValue(port as i64));
    }
    if zipkin.shared {
        put(&mut attributes, "zipkin.shared", V::BoolValue(true));
    }
    if zipkin.debug {
        put(&mut attributes, "zipkin.debug", V::BoolValue(true));
    }
    let duration_nanos = zipkin.duration_micros.saturating_mul(1000);
    let start = match zipkin.timestamp_micros {
        Some(micros) => micros.saturating_mul(1000),
        None => {
            put(&mut attributes, START_TIME_ABSENT, V::BoolValue(true));
            0
        }
    };
    Span {
        trace_id: zipkin.trace_id,
        span_id: zipkin.id,
        trace_state,
        parent_span_id: zipkin.parent_id.map(|p| p.to_vec()).unwrap_or_default(),
        name: zipkin.name,
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(duration_nanos),
        attributes,
        events: zipkin.annotations.iter().map(|(micros, value)| event_of(*micros, value)).collect(),
        links,
        status,
        ..Default::default()
    }
}

/// `otel.status_code` (+ `otel.status_description`), then the Zipkin `error` tag: present means
/// an error, its value (unless just "true") is the message, and it stays an attribute.
fn status_of(tags: &mut Vec<(String, String)>) -> Option<Status> {
    let position = |tags: &Vec<(String, String)>, key: &str| tags.iter().position(|(k, _)| k == key);
    let mut status: Option<Status> = None;
    if let Some(i) = position(tags, "otel.status_code") {
        let code = match tags[i].1.to_ascii_uppercase().trim_start_matches("STATUS_CODE_") {
            "OK" => Some(1),
            "ERROR" => Some(2),
            "UNSET" => Some(0),
            _ => None,
        };
        // An unknown code stays an attribute, so nothing the sender said is lost.
        if let Some(code) = code {
            tags.remove(i);
            let message = position(tags, "otel.status_description")
                .map(|i| tags.remove(i).1)
                .unwrap_or_default();
            status = Some(Status { code, message });
        }
    }
    if let Some(i) = position(tags, "error") {
        let status = status.get_or_insert_with(Status::default);
        status.code = 2;
        let value = tags[i].1.clone();
        if value == "true" {
            tags.remove(i);
        } else if status.message.is_empty() {
            status.message = value;
        }
    }
    status
}

/// `otlp.link.0`, `otlp.link.1`, ...: `traceId|spanId|traceState|{attributes}|droppedCount`, the
/// encoding of the Collector's zipkin exporter. A tag that does not parse stays an attribute.
fn links_of(tags: &mut Vec<(String, String)>) -> Vec<Link> {
    let mut links = Vec::new();
    for n in 0..128 {
        let key = format!("otlp.link.{n}");
        let Some(i) = tags.iter().position(|(k, _)| *k == key) else {
            break;
        };
        if let Some(link) = parse_link(&tags[i].1) {
            tags.remove(i);
            links.push(link);
        }
    }
    links
}

fn parse_link(text: &str) -> Option<Link> {
    let parts: Vec<&str> = text.split('|').collect();
    if parts.len() < 5 {
        return None;
    }
    let id = |part: &str, bytes: usize| -> Option<Vec<u8>> {
        let part = part.trim_matches('"');
        if part.is_empty() {
            return Some(Vec::new());
        }
        hex::decode(part).ok().filter(|id| id.len() == bytes)
    };
    let last = parts.len() - 1;
    Some(Link {
        trace_id: id(parts[0], 16)?,
        span_id: id(parts[1], 8)?,
        trace_state: parts[2].to_string(),
        attributes: json_attributes(&parts[3..last].join("|"))?,
        dropped_attributes_count: parts[last].parse().ok()?,
        ..Default::default()
    })
}

/// An annotation's value is the event name, or `name|{attributes}|droppedCount` as the
/// Collector's zipkin exporter encodes events (used only when it parses as such).
fn event_of(micros: u64, value: &str) -> Event {
    let time_unix_nano = micros.saturating_mul(1000);
    let parts: Vec<&str> = value.split('|').collect();
    if parts.len() >= 3 {
        let last = parts.len() - 1;
        if let (Some(attributes), Ok(dropped)) = (json_attributes(&parts[1..last].join("|")), parts[last].parse()) {
            return Event {
                time_unix_nano,
                name: parts[0].to_string(),
                attributes,
                dropped_attributes_count: dropped,
            };
        }
    }
    Event {
        time_unix_nano,
        name: value.to_string(),
        ..Default::default()
    }
}

/// A JSON object of scalars as attributes (whole numbers as integers), in key order.
fn json_attributes(text: &str) -> Option<Vec<KeyValue>> {
    use any_value::Value as V;
    let object: Map<String, Json> = serde_json::from_str(text).ok()?;
    Some(
        object
            .into_iter()
            .filter_map(|(key, value)| {
                let value = match value {
                    Json::String(s) => V::StringValue(s),
                    Json::Bool(b) => V::BoolValue(b),
                    Json::Number(n) => match (n.as_i64(), n.as_f64()) {
                        (Some(i), _) => V::IntValue(i),
                        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => V::IntValue(f as i64),
                        (None, Some(f)) => V::DoubleValue(f),
                        _ => return None,
                    },
                    _ => return None,
                };
                Some(key_value(&key, value))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Consumer, Envelope, SharedConsumer};
    use crate::receiver::Admission;
    use crate::telemetry::IngestStats;
    use any_value::Value as V;
    use axum::http::Request;
    use futures::future::BoxFuture;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
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
        let body = r#"[{"traceId": "1", "id": "2", "timestamp": 1, "tags": {"n": "42", "f": "1.5", "b": "true", "v": "1.2.3", "e": "-7", "x": 5}}]"#;
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
            "spans[0].annotations[0].value: expected a string, got nothing"
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
        let config =
            crate::components::parse_config(&full("  zipkin:\n    endpoint: 127.0.0.1:19411\n    parse_string_tags: true")).unwrap();
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
}
