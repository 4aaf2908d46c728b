//! The `zipkin` exporter (the Collector's contrib `zipkinexporter`): traces out as one Zipkin v2
//! JSON list per batch, POSTed to a Zipkin server through the shared sender (persistent queue,
//! retries; see `sender.rs`).
//!
//! ```yaml
//! exporters:
//!   zipkin:
//!     endpoint: http://zipkin:9411/api/v2/spans   # required; the spans are POSTed to exactly this URL
//!     format: json                                 # json only (the Collector's proto is refused)
//!     default_service_name: <missing service name> # for resources that name no service
//!     compression: none                            # none (default) | gzip | zstd
//!     headers: { x-tenant: team-a }
//!     timeout: 5s
//!     retry_on_failure: { initial_interval: 5s, max_interval: 30s, max_elapsed_time: 300s }
//!     sending_queue: { num_consumers: 10, queue_size: 1000 }
//! ```
//!
//! The mapping follows the Collector's `zipkinv2` translator, the reverse of otelbox's zipkin
//! receiver: lowercase hex ids (a trace id whose upper half is zero as 16 characters), microsecond
//! `timestamp`/`duration` (rounded to the nearest; a sub-microsecond duration is 1), the kind
//! (INTERNAL as the tag `span.kind: internal`), `localEndpoint.serviceName` from the resource's
//! `service.name` (else `faas.name`, `k8s.deployment.name` or `process.executable.name`, named in
//! `otlp.service.name.source`; else `default_service_name`), the endpoints' addresses and ports
//! from `net.host.*`/`net.peer.*` and the remote service from `peer.service` (those tags then
//! removed), tags from the resource, the scope (`otel.library.*`) and the span's attributes (as
//! text; arrays and maps as JSON), the status as `otel.status_code`/`otel.status_description` and
//! `error: "true"`, `w3c.tracestate`, events as annotations (`name|{attributes}|dropped` when they
//! have attributes) and links as `otlp.link.N` tags.
//!
//! Two things go beyond the Collector. A client or producer span without `peer.service` takes its
//! remote service name from `server.address`, `net.peer.name` and the other attributes the
//! OpenTelemetry specification ranks for Zipkin (and its address from `network.peer.address` & co.
//! without `net.peer.ip`), so Zipkin draws the dependency; those tags stay. And
//! `default_service_name` is used as documented (the Collector's translator writes
//! `OTLPResourceNoServiceName` instead).
//!
//! This build's HTTP client has no TLS, so the endpoint must be `http://`. A 2xx answer is
//! delivered; 429/502/503/504 and transport errors are retried (honouring `Retry-After`); any other
//! answer drops the batch.

use super::retry::{classify_http, SendError};
use super::sender::{
    error_chain, parse_compression, parse_headers, parse_sender, Compression, Delivered, Headers, Sender, SenderSettings, Transport,
    SENDER_KEYS,
};
use super::{ExporterContext, ExporterFactory};
use crate::config::{ComponentId, Parser, Settings};
use crate::extension::StorageDir;
use crate::pdata::json::{any_value_to_plain, attributes_to_plain};
use crate::pdata::{Signal, SpanId, TraceId};
use crate::pipeline::{SharedConsumer, SignalConsumers};
use crate::telemetry::PerSignal;
use bytes::Bytes;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Url;
use serde::Serialize;
use serde_json::Value as Json;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// The Collector's `default_service_name`.
pub const DEFAULT_SERVICE_NAME: &str = "<missing service name>";

#[derive(Clone, Debug, PartialEq)]
pub struct ZipkinExporterConfig {
    /// Where the spans are POSTed, exactly as written (the Zipkin v2 spans URL); None only in a
    /// config with errors, which starts nothing.
    pub endpoint: Option<Url>,
    /// The local service name of spans whose resource names none.
    pub default_service_name: String,
    pub compression: Compression,
    pub headers: Headers,
    pub sender: SenderSettings,
}

impl Default for ZipkinExporterConfig {
    fn default() -> Self {
        ZipkinExporterConfig {
            endpoint: None,
            default_service_name: DEFAULT_SERVICE_NAME.to_string(),
            // The Collector's HTTP client settings compress nothing unless told to.
            compression: Compression::None,
            headers: Headers::default(),
            sender: SenderSettings::default(),
        }
    }
}

/// The `zipkin` exporter type: traces only.
pub struct Factory;
crate::component_type!(Factory, "zipkin", &[Signal::Traces], parse, refs: storage_ref);

impl ExporterFactory for Factory {
    fn build(&self, context: &ExporterContext<'_>, settings: &Settings) -> anyhow::Result<SignalConsumers> {
        let sender = exporter(context.id, settings.get(), context.queue_dir, context.counters.clone())?;
        let traces: SharedConsumer<ExportTraceServiceRequest> = Arc::new(sender);
        Ok(SignalConsumers {
            traces: Some(traces),
            ..Default::default()
        })
    }
}

/// The storage extension its sending queue names, if any.
fn storage_ref(config: &ZipkinExporterConfig) -> Vec<(String, ComponentId)> {
    super::sender::storage_ref(&config.sender)
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> ZipkinExporterConfig {
    let mut config = ZipkinExporterConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let mut keys = vec!["endpoint", "format", "default_service_name", "compression", "headers", "tls"];
    keys.extend(SENDER_KEYS);
    p.only_keys(body, &keys, path);
    match body.get("endpoint") {
        Some(v) => config.endpoint = parse_url(p, v, &format!("{path}.endpoint")),
        None => p.error(
            path,
            "endpoint is required (the Zipkin v2 spans URL, e.g. http://zipkin:9411/api/v2/spans)",
        ),
    }
    if let Some(v) = body.get("format") {
        let at = format!("{path}.format");
        match p.string(v, &at).as_deref() {
            Some("json") | None => {}
            Some("proto") => p.error(
                &at,
                "proto is not supported: this otelbox's zipkin exporter sends Zipkin v2 JSON, which every Zipkin server accepts; use format: json (the default)",
            ),
            Some(other) => p.error(&at, format!("expected json, got '{other}'")),
        }
    }
    if let Some(v) = body.get("default_service_name") {
        let at = format!("{path}.default_service_name");
        match p.string(v, &at) {
            Some(name) if name.is_empty() => p.error(
                &at,
                format!("must not be empty: it names the service of spans whose resource has none (default '{DEFAULT_SERVICE_NAME}')"),
            ),
            Some(name) => config.default_service_name = name,
            None => {}
        }
    }
    if let Some(v) = body.get("compression") {
        config.compression = parse_compression(p, Some(v), &format!("{path}.compression"));
    }
    config.headers = parse_headers(p, body.get("headers"), &format!("{path}.headers"), false);
    if let Some(v) = body.get("tls") {
        parse_tls(p, v, &format!("{path}.tls"));
    }
    config.sender = parse_sender(p, body, path);
    config
}

/// `tls`: this build's HTTP client has none, so only `insecure` (which changes nothing for an
/// http:// endpoint, and which Collector configs often carry) is accepted.
fn parse_tls(p: &mut Parser, value: &Value, path: &str) {
    let Some(tls) = p.mapping(Some(value), path) else { return };
    for key in tls.keys() {
        let key = key.as_str().unwrap_or("?");
        if key != "insecure" {
            p.error(
                &format!("{path}.{key}"),
                "not supported: this otelbox's HTTP client has no TLS, so the zipkin exporter sends to http:// endpoints only (tls.insecure alone is accepted and changes nothing)",
            );
        }
    }
    if let Some(v) = tls.get("insecure") {
        let _ = p.boolean(v, &format!("{path}.insecure"));
    }
}

fn parse_url(p: &mut Parser, value: &Value, path: &str) -> Option<Url> {
    let text = p.string(value, path)?;
    match Url::parse(&text) {
        Ok(url) if url.scheme() == "http" && url.host_str().is_some_and(|h| !h.is_empty()) => Some(url),
        Ok(url) if url.scheme() == "https" => {
            p.error(
                path,
                "https is not supported by this otelbox's zipkin exporter (its HTTP client has no TLS); use an http:// URL",
            );
            None
        }
        _ => {
            p.error(
                path,
                format!("expected an http:// URL like http://zipkin:9411/api/v2/spans, got '{text}'"),
            );
            None
        }
    }
}

/// The `zipkin` exporter: the forwarding `Sender` over the Zipkin transport. `queue_dir` is where a
/// persistent sending queue lives (None: an in-memory box).
pub fn exporter(
    id: &ComponentId,
    config: &ZipkinExporterConfig,
    queue_dir: Option<StorageDir<'_>>,
    counters: PerSignal,
) -> anyhow::Result<Sender> {
    let transport = ZipkinTransport::new(config).map_err(|e| anyhow::anyhow!("exporter {id}: {e}"))?;
    Sender::start(id, Arc::new(transport), &config.sender, queue_dir, counters)
}

/// The most of an answer's body read (for error messages).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

struct ZipkinTransport {
    client: reqwest::Client,
    url: Url,
    headers: HeaderMap,
    compression: Compression,
    default_service_name: String,
}

impl ZipkinTransport {
    fn new(config: &ZipkinExporterConfig) -> anyhow::Result<ZipkinTransport> {
        let url = config
            .endpoint
            .clone()
            .ok_or_else(|| anyhow::anyhow!("no endpoint is configured (the Zipkin v2 spans URL)"))?;
        let client = reqwest::Client::builder()
            .connect_timeout(config.sender.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("otelbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers.0 {
            headers.append(name.clone(), value.clone());
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match config.compression {
            Compression::None => {}
            Compression::Gzip => {
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            Compression::Zstd => {
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("zstd"));
            }
        }
        Ok(ZipkinTransport {
            client,
            url,
            headers,
            compression: config.compression,
            default_service_name: config.default_service_name.clone(),
        })
    }

    async fn post(&self, body: Bytes) -> Result<Delivered, SendError> {
        let url = &self.url;
        let mut response = self
            .client
            .post(url.clone())
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::retryable(format!("cannot send to {url}: {}", error_chain(&e))))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut answer = Vec::new();
        while answer.len() < MAX_ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                // The status is what counts; a body cut short only loses detail.
                Ok(None) | Err(_) => break,
            }
        }
        match classify_http(status, retry_after.as_deref(), &error_detail(&answer), SystemTime::now()) {
            // Zipkin answers 202 with no body: it has no partial success.
            None => Ok(Delivered::default()),
            Some(error) => Err(error),
        }
    }
}

impl Transport for ZipkinTransport {
    fn encode(&self, signal: Signal, payload: Bytes) -> Result<Bytes, SendError> {
        if signal != Signal::Traces {
            return Err(SendError::permanent(format!(
                "the zipkin exporter takes traces only, got {}",
                signal.as_str()
            )));
        }
        let request = ExportTraceServiceRequest::decode(payload)
            .map_err(|e| SendError::permanent(format!("a queued batch is not valid OTLP protobuf: {e}")))?;
        let spans = zipkin_spans(&request, &self.default_service_name).map_err(SendError::permanent)?;
        let json = serde_json::to_vec(&spans).map_err(|e| SendError::permanent(format!("cannot write Zipkin JSON: {e}")))?;
        compress(self.compression, json)
    }

    fn export(&self, _signal: Signal, body: Bytes) -> BoxFuture<'_, Result<Delivered, SendError>> {
        Box::pin(self.post(body))
    }

    fn destination(&self, _signal: Signal) -> String {
        self.url.to_string()
    }
}

fn compress(compression: Compression, body: Vec<u8>) -> Result<Bytes, SendError> {
    let compressed = match compression {
        Compression::None => return Ok(Bytes::from(body)),
        Compression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&body).and_then(|_| encoder.finish())
        }
        Compression::Zstd => zstd::encode_all(body.as_slice(), 3),
    };
    compressed
        .map(Bytes::from)
        .map_err(|e| SendError::permanent(format!("cannot compress the request: {e}")))
}

/// The start of an error answer's text (Zipkin answers in plain text), for the log.
fn error_detail(answer: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(answer)
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    text.trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// OTLP to Zipkin v2 JSON.

/// One Zipkin v2 span, as the JSON has it; empty fields are left out.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ZipkinSpan {
    trace_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    /// Microseconds since the epoch; 0 (left out) for a span starting in the epoch's first second.
    #[serde(skip_serializing_if = "is_zero")]
    timestamp: u64,
    #[serde(skip_serializing_if = "is_zero")]
    duration: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_endpoint: Option<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_endpoint: Option<Endpoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<Annotation>,
    /// In key order.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    #[serde(skip_serializing_if = "String::is_empty")]
    service_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipv4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipv6: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    port: u16,
}

#[derive(Debug, Serialize)]
struct Annotation {
    timestamp: u64,
    value: String,
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

impl Endpoint {
    /// Sets the IPv4 or IPv6 address `text` names; false (nothing set) when it names none.
    fn set_ip(&mut self, text: &str) -> bool {
        match text.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => self.ipv4 = Some(ip.to_string()),
            Ok(IpAddr::V6(ip)) => self.ipv6 = Some(ip.to_string()),
            Err(_) => return false,
        }
        true
    }

    fn has_address(&self) -> bool {
        self.ipv4.is_some() || self.ipv6.is_some()
    }

    /// An endpoint with neither a service name nor an address is left out.
    fn known(self) -> Option<Endpoint> {
        (!self.service_name.is_empty() || self.has_address()).then_some(self)
    }
}

/// Where a resource's service name comes from when it has no `service.name`, in this order; the
/// key used is named in `SERVICE_NAME_SOURCE`.
const SERVICE_NAME_FALLBACKS: [&str; 3] = ["faas.name", "k8s.deployment.name", "process.executable.name"];
const SERVICE_NAME_SOURCE: &str = "otlp.service.name.source";
const LIBRARY_NAME: &str = "otel.library.name";
const LIBRARY_VERSION: &str = "otel.library.version";

/// Where a client or producer span without `peer.service` finds its remote service name, by the
/// OpenTelemetry specification's ranking for Zipkin (the Collector leaves the name empty).
const REMOTE_NAME_KEYS: [&str; 7] = [
    "server.address",
    "net.peer.name",
    "server.socket.domain",
    "net.sock.peer.name",
    "peer.hostname",
    "peer.address",
    "db.name",
];
/// Where such a span without `net.peer.ip` finds its remote address, with the port beside it.
const REMOTE_ADDRESS_KEYS: [(&str, &str); 3] = [
    ("network.peer.address", "network.peer.port"),
    ("server.socket.address", "server.socket.port"),
    ("net.sock.peer.addr", "net.sock.peer.port"),
];

/// The Zipkin spans of a request, in its order. An invalid trace or span id refuses the batch (as
/// in the Collector; otelbox's receivers never let one in).
fn zipkin_spans(request: &ExportTraceServiceRequest, default_service_name: &str) -> Result<Vec<ZipkinSpan>, String> {
    let mut spans = Vec::new();
    for resource_spans in &request.resource_spans {
        let resource_attributes = resource_spans
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let mut resource_tags = tag_map(resource_attributes);
        let local_service = local_service_name(&mut resource_tags, default_service_name);
        for scope_spans in &resource_spans.scope_spans {
            let mut scope_tags = resource_tags.clone();
            if let Some(scope) = &scope_spans.scope {
                if !scope.name.is_empty() {
                    scope_tags.insert(LIBRARY_NAME.to_string(), scope.name.clone());
                }
                if !scope.version.is_empty() {
                    scope_tags.insert(LIBRARY_VERSION.to_string(), scope.version.clone());
                }
            }
            for span in &scope_spans.spans {
                spans.push(zipkin_span(span, &local_service, &scope_tags)?);
            }
        }
    }
    Ok(spans)
}

/// The resource's service name, taken out of its tags: `service.name`, else the first of
/// `SERVICE_NAME_FALLBACKS` (named under `SERVICE_NAME_SOURCE`), else `default`.
fn local_service_name(tags: &mut BTreeMap<String, String>, default: &str) -> String {
    if let Some(name) = tags.remove("service.name").filter(|name| !name.is_empty()) {
        return name;
    }
    for key in SERVICE_NAME_FALLBACKS {
        if let Some(name) = tags.remove(key) {
            tags.insert(SERVICE_NAME_SOURCE.to_string(), key.to_string());
            return name;
        }
    }
    default.to_string()
}

fn zipkin_span(span: &Span, local_service: &str, scope_tags: &BTreeMap<String, String>) -> Result<ZipkinSpan, String> {
    let trace_id = TraceId::from_bytes(&span.trace_id).ok_or_else(|| {
        format!(
            "span '{}' has no valid trace id (16 bytes, not all zero; got {} bytes)",
            span.name,
            span.trace_id.len()
        )
    })?;
    let span_id = SpanId::from_bytes(&span.span_id).ok_or_else(|| {
        format!(
            "span '{}' has no valid span id (8 bytes, not all zero; got {} bytes)",
            span.name,
            span.span_id.len()
        )
    })?;
    let mut tags = scope_tags.clone();
    tags.extend(tag_map(&span.attributes));
    if !span.trace_state.is_empty() {
        tags.insert("w3c.tracestate".to_string(), span.trace_state.clone());
    }
    let kind = match span.kind {
        2 => Some("SERVER"),
        3 => Some("CLIENT"),
        4 => Some("PRODUCER"),
        5 => Some("CONSUMER"),
        _ => None,
    };
    if span.kind == 1 {
        tags.insert("span.kind".to_string(), "internal".to_string());
    }

    let local = endpoint_from_tags(&mut tags, local_service.to_string(), "net.host.ip", "net.host.port");
    let peer_service = tags.remove("peer.service").unwrap_or_default();
    let mut remote = endpoint_from_tags(&mut tags, peer_service, "net.peer.ip", "net.peer.port");
    if matches!(kind, Some("CLIENT" | "PRODUCER")) {
        complete_remote(&mut remote, &tags);
    }

    let code = span.status.as_ref().map_or(0, |s| s.code);
    if code == 2 {
        tags.insert("error".to_string(), "true".to_string());
    } else {
        // Zipkin reads any `error` tag as a failed span.
        tags.remove("error");
    }
    if let (Some(status), Some(name)) = (&span.status, status_code_name(code)) {
        tags.insert("otel.status_code".to_string(), name.to_string());
        if !status.message.is_empty() {
            tags.insert("otel.status_description".to_string(), status.message.clone());
        }
    }

    for (i, link) in span.links.iter().enumerate() {
        let trace = TraceId::from_bytes(&link.trace_id).map(|id| id.to_string()).unwrap_or_default();
        let linked_span = SpanId::from_bytes(&link.span_id).map(|id| id.to_string()).unwrap_or_default();
        let attributes = Json::Object(attributes_to_plain(&link.attributes));
        tags.insert(
            format!("otlp.link.{i}"),
            format!(
                "{trace}|{linked_span}|{}|{attributes}|{}",
                link.trace_state, link.dropped_attributes_count
            ),
        );
    }

    let annotations = span
        .events
        .iter()
        .map(|event| Annotation {
            timestamp: micros(event.time_unix_nano),
            value: if event.attributes.is_empty() && event.dropped_attributes_count == 0 {
                event.name.clone()
            } else {
                let attributes = Json::Object(attributes_to_plain(&event.attributes));
                format!("{}|{attributes}|{}", event.name, event.dropped_attributes_count)
            },
        })
        .collect();

    let start = span.start_time_unix_nano;
    Ok(ZipkinSpan {
        trace_id: zipkin_trace_id(&trace_id),
        parent_id: SpanId::from_bytes(&span.parent_span_id).map(|id| id.to_string()),
        id: span_id.to_string(),
        kind,
        name: span.name.clone(),
        timestamp: if start >= 1_000_000_000 { micros(start) } else { 0 },
        // An end before the start (which zipkin-go refuses, failing the batch) is no duration.
        duration: if span.end_time_unix_nano == 0 {
            0
        } else {
            duration_micros(span.end_time_unix_nano.saturating_sub(start))
        },
        local_endpoint: local.known(),
        remote_endpoint: remote.known(),
        annotations,
        tags,
    })
}

/// The endpoint the Collector reads from a span's tags: the service name given, the address under
/// `ip_key` and the port under `port_key`; both keys are taken out of the tags.
fn endpoint_from_tags(tags: &mut BTreeMap<String, String>, service_name: String, ip_key: &str, port_key: &str) -> Endpoint {
    let mut endpoint = Endpoint {
        service_name,
        ..Default::default()
    };
    if let Some(ip) = tags.remove(ip_key) {
        endpoint.set_ip(&ip);
    }
    if let Some(port) = tags.remove(port_key) {
        endpoint.port = port.parse().unwrap_or(0);
    }
    endpoint
}

/// Fills a client or producer span's remote service name and address from the attributes the
/// specification ranks, where the Collector's rule found none; those tags stay.
fn complete_remote(remote: &mut Endpoint, tags: &BTreeMap<String, String>) {
    if remote.service_name.is_empty() {
        if let Some(name) = REMOTE_NAME_KEYS
            .iter()
            .find_map(|key| tags.get(*key).filter(|name| !name.is_empty()))
        {
            remote.service_name = name.clone();
        }
    }
    if !remote.has_address() {
        for (ip_key, port_key) in REMOTE_ADDRESS_KEYS {
            if tags.get(ip_key).is_some_and(|ip| remote.set_ip(ip)) {
                if remote.port == 0 {
                    remote.port = tags.get(port_key).and_then(|port| port.parse().ok()).unwrap_or(0);
                }
                break;
            }
        }
    }
}

/// The Collector's names of the status codes (`traceutil.StatusCodeStr`); none for UNSET.
fn status_code_name(code: i32) -> Option<&'static str> {
    match code {
        1 => Some("STATUS_CODE_OK"),
        2 => Some("STATUS_CODE_ERROR"),
        _ => None,
    }
}

/// Hex of a trace id; one whose upper 64 bits are zero is written as 16 characters (zipkin-go's
/// form for 64-bit trace ids).
fn zipkin_trace_id(id: &TraceId) -> String {
    if id.0[..8] == [0; 8] {
        hex::encode(&id.0[8..])
    } else {
        id.to_string()
    }
}

/// Nanoseconds to the nearest microsecond (halves up), as zipkin-go rounds.
fn micros(nanos: u64) -> u64 {
    nanos / 1000 + u64::from(nanos % 1000 >= 500)
}

/// A duration in microseconds: rounded, but a positive one under a microsecond is 1, not 0.
fn duration_micros(nanos: u64) -> u64 {
    match nanos {
        0 => 0,
        1..=999 => 1,
        _ => micros(nanos),
    }
}

/// Attributes as tags: each value as text (pcommon's `AsString`), a repeated key keeping the last.
fn tag_map(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes.iter().map(|kv| (kv.key.clone(), tag_text(kv.value.as_ref()))).collect()
}

/// pcommon's `AsString`: strings as they are, numbers and booleans plain (doubles in Go's
/// shortest form, `+Inf`/`-Inf`/`NaN`), bytes as base64, arrays and maps as JSON, empty as "".
fn tag_text(value: Option<&AnyValue>) -> String {
    use any_value::Value as V;
    let Some(any) = value else { return String::new() };
    match &any.value {
        None => String::new(),
        Some(V::StringValue(s)) => s.clone(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) if d.is_nan() => "NaN".to_string(),
        Some(V::DoubleValue(d)) if d.is_infinite() => String::from(if *d > 0.0 { "+Inf" } else { "-Inf" }),
        Some(V::DoubleValue(d)) => format!("{d}"),
        Some(V::StringValueStrindex(i)) => i.to_string(),
        Some(V::BytesValue(_) | V::ArrayValue(_) | V::KvlistValue(_)) => match any_value_to_plain(any) {
            Json::String(s) => s,
            other => other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::sender::golden;
    use crate::pipeline::{Consumer, Envelope};
    use any_value::Value as V;
    use axum::http::{HeaderMap as AxumHeaders, StatusCode, Uri};
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};
    use serde_json::json;
    use std::io::Read;
    use std::net::SocketAddr;
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

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

    fn request(resource: Vec<KeyValue>, spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "shop".into(),
                        version: "1.0".into(),
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    const START: u64 = 1_700_000_000_000_000_000;

    /// A server span that failed, with two events, and the client span it made to a database
    /// named only by `net.peer.name` (in a 64-bit trace).
    fn golden_request() -> ExportTraceServiceRequest {
        let server = Span {
            trace_id: vec![0x5b; 16],
            span_id: vec![1; 8],
            trace_state: "vendor=1".into(),
            name: "GET /cart".into(),
            kind: 2,
            start_time_unix_nano: START + 600,
            end_time_unix_nano: START + 600 + 250_000_000,
            attributes: vec![
                kv("http.route", s("/cart")),
                kv("http.status_code", V::IntValue(500)),
                kv("net.host.ip", s("10.0.0.1")),
                kv("net.host.port", V::IntValue(8080)),
            ],
            events: vec![
                Event {
                    time_unix_nano: START + 1_000_000,
                    name: "retrying".into(),
                    attributes: vec![],
                    dropped_attributes_count: 0,
                },
                Event {
                    time_unix_nano: START + 2_000_000,
                    name: "exception".into(),
                    attributes: vec![kv("exception.type", s("Timeout")), kv("attempt", V::IntValue(2))],
                    dropped_attributes_count: 1,
                },
            ],
            status: Some(Status {
                code: 2,
                message: "card declined".into(),
            }),
            ..Default::default()
        };
        let mut sixty_four_bit = vec![0; 8];
        sixty_four_bit.extend([0x7a; 8]);
        let client = Span {
            trace_id: sixty_four_bit,
            span_id: vec![2; 8],
            parent_span_id: vec![1; 8],
            name: "SELECT cart".into(),
            kind: 3,
            start_time_unix_nano: START + 10_000_000,
            end_time_unix_nano: START + 10_000_400,
            attributes: vec![
                kv("db.system", s("postgresql")),
                kv("net.peer.name", s("db.internal")),
                kv("net.peer.port", V::IntValue(5432)),
                kv("error", V::BoolValue(false)),
            ],
            ..Default::default()
        };
        request(
            vec![kv("service.name", s("checkout")), kv("host.name", s("web-1"))],
            vec![server, client],
        )
    }

    fn golden_json() -> Json {
        json!([
            {
                "traceId": "5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b5b",
                "id": "0101010101010101",
                "kind": "SERVER",
                "name": "GET /cart",
                "timestamp": 1_700_000_000_000_001_u64,
                "duration": 250_000,
                "localEndpoint": { "serviceName": "checkout", "ipv4": "10.0.0.1", "port": 8080 },
                "annotations": [
                    { "timestamp": 1_700_000_000_001_000_u64, "value": "retrying" },
                    { "timestamp": 1_700_000_000_002_000_u64, "value": "exception|{\"attempt\":2,\"exception.type\":\"Timeout\"}|1" }
                ],
                "tags": {
                    "error": "true",
                    "host.name": "web-1",
                    "http.route": "/cart",
                    "http.status_code": "500",
                    "otel.library.name": "shop",
                    "otel.library.version": "1.0",
                    "otel.status_code": "STATUS_CODE_ERROR",
                    "otel.status_description": "card declined",
                    "w3c.tracestate": "vendor=1"
                }
            },
            {
                "traceId": "7a7a7a7a7a7a7a7a",
                "parentId": "0101010101010101",
                "id": "0202020202020202",
                "kind": "CLIENT",
                "name": "SELECT cart",
                "timestamp": 1_700_000_000_010_000_u64,
                "duration": 1,
                "localEndpoint": { "serviceName": "checkout" },
                "remoteEndpoint": { "serviceName": "db.internal", "port": 5432 },
                "tags": {
                    "db.system": "postgresql",
                    "host.name": "web-1",
                    "net.peer.name": "db.internal",
                    "otel.library.name": "shop",
                    "otel.library.version": "1.0"
                }
            }
        ])
    }

    fn to_json(request: &ExportTraceServiceRequest, default_service_name: &str) -> Json {
        serde_json::to_value(zipkin_spans(request, default_service_name).unwrap()).unwrap()
    }

    #[test]
    fn a_failed_server_span_and_a_client_span_map_like_the_collectors_translator() {
        assert_eq!(to_json(&golden_request(), DEFAULT_SERVICE_NAME), golden_json());
    }

    #[test]
    fn a_client_span_names_its_remote_endpoint_from_net_peer_name_and_peer_service_wins() {
        let client = |attributes: Vec<KeyValue>| {
            let span = Span {
                trace_id: vec![9; 16],
                span_id: vec![9; 8],
                kind: 3,
                attributes,
                ..Default::default()
            };
            to_json(&request(vec![], vec![span]), DEFAULT_SERVICE_NAME)[0].clone()
        };
        let named = client(vec![
            kv("net.peer.name", s("db.internal")),
            kv("network.peer.address", s("10.1.2.3")),
        ]);
        assert_eq!(named["remoteEndpoint"], json!({ "serviceName": "db.internal", "ipv4": "10.1.2.3" }));
        assert_eq!(named["tags"]["net.peer.name"], "db.internal", "the attribute stays a tag");
        let both = client(vec![
            kv("net.peer.name", s("db.internal")),
            kv("peer.service", s("postgres")),
            kv("net.peer.ip", s("2001:db8::7")),
        ]);
        assert_eq!(both["remoteEndpoint"], json!({ "serviceName": "postgres", "ipv6": "2001:db8::7" }));
        assert_eq!(both["tags"].get("peer.service"), None, "the endpoint says it");
        assert_eq!(both["tags"].get("net.peer.ip"), None);
        let server = Span {
            trace_id: vec![9; 16],
            span_id: vec![9; 8],
            kind: 2,
            attributes: vec![kv("net.peer.name", s("browser"))],
            ..Default::default()
        };
        let spans = to_json(&request(vec![], vec![server]), DEFAULT_SERVICE_NAME);
        assert_eq!(spans[0].get("remoteEndpoint"), None, "only client and producer spans look further");
    }

    #[test]
    fn service_names_fall_back_to_faas_name_then_default_service_name() {
        let span = |id: u8, kind: i32, start: u64| Span {
            trace_id: vec![id; 16],
            span_id: vec![id; 8],
            name: format!("span {id}"),
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: start,
            ..Default::default()
        };
        let mut input = request(
            vec![kv("faas.name", s("resize")), kv("cloud.region", s("eu-west-1"))],
            vec![span(1, 1, START)],
        );
        input.resource_spans.push(ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span(2, 0, 0)],
                ..Default::default()
            }],
            ..Default::default()
        });
        let spans = to_json(&input, "orphans");
        assert_eq!(spans[0]["localEndpoint"], json!({ "serviceName": "resize" }));
        assert_eq!(
            spans[0]["tags"],
            json!({
                "cloud.region": "eu-west-1",
                "otel.library.name": "shop",
                "otel.library.version": "1.0",
                "otlp.service.name.source": "faas.name",
                "span.kind": "internal"
            })
        );
        assert_eq!(spans[0].get("kind"), None, "INTERNAL has no Zipkin kind");
        assert_eq!(
            spans[1],
            json!({
                "traceId": "02020202020202020202020202020202",
                "id": "0202020202020202",
                "name": "span 2",
                "localEndpoint": { "serviceName": "orphans" }
            }),
            "no timestamp for a start at the epoch, no duration, no tags"
        );
    }

    #[test]
    fn attribute_values_become_text_as_pcommon_writes_them() {
        use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
        let array = V::ArrayValue(ArrayValue {
            values: vec![
                AnyValue { value: Some(s("a")) },
                AnyValue {
                    value: Some(V::IntValue(1)),
                },
            ],
        });
        let map = V::KvlistValue(KeyValueList {
            values: vec![kv("k", V::BoolValue(true))],
        });
        let text = |value: V| tag_text(Some(&AnyValue { value: Some(value) }));
        assert_eq!(text(V::DoubleValue(0.5)), "0.5");
        assert_eq!(text(V::DoubleValue(1e21)), "1000000000000000000000");
        assert_eq!(text(V::DoubleValue(f64::NEG_INFINITY)), "-Inf");
        assert_eq!(text(V::BoolValue(false)), "false");
        assert_eq!(text(V::BytesValue(b"hi".to_vec())), "aGk=");
        assert_eq!(text(array), r#"["a",1]"#);
        assert_eq!(text(map), r#"{"k":true}"#);
        assert_eq!(tag_text(None), "");
    }

    #[test]
    fn an_invalid_span_id_refuses_the_batch_with_the_span_named() {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![0; 8],
            name: "broken".into(),
            ..Default::default()
        };
        assert_eq!(
            zipkin_spans(&request(vec![], vec![span]), DEFAULT_SERVICE_NAME).unwrap_err(),
            "span 'broken' has no valid span id (8 bytes, not all zero; got 8 bytes)"
        );
    }

    fn sorted_attributes(mut request: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
        for resource_spans in &mut request.resource_spans {
            for scope_spans in &mut resource_spans.scope_spans {
                for span in &mut scope_spans.spans {
                    span.attributes.sort_by(|a, b| a.key.cmp(&b.key));
                }
            }
        }
        request
    }

    #[test]
    fn what_the_exporter_writes_the_zipkin_receiver_reads_back_unchanged() {
        let server = Span {
            trace_id: vec![0x5b; 16],
            span_id: vec![1; 8],
            trace_state: "vendor=1".into(),
            name: "GET /cart".into(),
            kind: 2,
            start_time_unix_nano: START,
            end_time_unix_nano: START + 250_000_000,
            attributes: vec![
                kv("http.route", s("/cart")),
                kv("http.status_code", V::IntValue(500)),
                kv("net.host.ip", s("10.0.0.1")),
                kv("net.host.port", V::IntValue(8080)),
            ],
            events: vec![
                Event {
                    time_unix_nano: START + 1_000_000,
                    name: "retrying".into(),
                    attributes: vec![],
                    dropped_attributes_count: 0,
                },
                Event {
                    time_unix_nano: START + 2_000_000,
                    name: "exception".into(),
                    attributes: vec![kv("attempt", V::IntValue(2)), kv("exception.type", s("Timeout"))],
                    dropped_attributes_count: 0,
                },
            ],
            status: Some(Status {
                code: 2,
                message: "card declined".into(),
            }),
            ..Default::default()
        };
        let client = Span {
            trace_id: vec![0x5b; 16],
            span_id: vec![2; 8],
            parent_span_id: vec![1; 8],
            name: "charge".into(),
            kind: 3,
            start_time_unix_nano: START + 10_000_000,
            end_time_unix_nano: START + 20_000_000,
            attributes: vec![
                kv("peer.service", s("payments")),
                kv("net.peer.ip", s("10.0.0.7")),
                kv("net.peer.port", V::IntValue(443)),
                kv("rpc.system", s("grpc")),
            ],
            links: vec![Link {
                trace_id: vec![0x6c; 16],
                span_id: vec![3; 8],
                attributes: vec![kv("why", s("retry"))],
                ..Default::default()
            }],
            ..Default::default()
        };
        let input = request(
            vec![kv("service.name", s("checkout")), kv("host.name", s("web-1"))],
            vec![server, client],
        );
        let body = serde_json::to_vec(&zipkin_spans(&input, DEFAULT_SERVICE_NAME).unwrap()).unwrap();
        let read_back = crate::receiver::zipkin::decode_spans(&body, true).unwrap();
        assert_eq!(sorted_attributes(read_back), sorted_attributes(input));
    }

    // -----------------------------------------------------------------------------------------
    // Settings.

    fn parsed(yaml: &str) -> (ZipkinExporterConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "exporters.zipkin");
        (config, errors)
    }

    fn settings(yaml: &str) -> ZipkinExporterConfig {
        let (config, errors) = parsed(yaml);
        assert_eq!(errors, Vec::<String>::new());
        config
    }

    fn errors(yaml: &str) -> Vec<String> {
        parsed(yaml).1
    }

    #[test]
    fn an_endpoint_alone_gets_the_collectors_defaults() {
        let config = settings("endpoint: http://zipkin:9411/api/v2/spans");
        assert_eq!(config.endpoint.as_ref().map(Url::as_str), Some("http://zipkin:9411/api/v2/spans"));
        assert_eq!(config.default_service_name, "<missing service name>");
        assert_eq!(config.compression, Compression::None);
        assert_eq!(config.headers, Headers::default());
        assert_eq!(config.sender, SenderSettings::default());
        let config = settings(
            "endpoint: http://zipkin:9411/api/v2/spans\nformat: json\ndefault_service_name: unknown-service\ncompression: gzip\ntls: { insecure: true }",
        );
        assert_eq!(config.default_service_name, "unknown-service");
        assert_eq!(config.compression, Compression::Gzip);
    }

    #[test]
    fn the_testdata_example_parses() {
        let value: Value = serde_yaml_ng::from_str(include_str!("testdata/zipkin.yaml")).unwrap();
        let mut errors = Vec::new();
        parse(
            &mut Parser::collecting(&mut errors),
            value.get("zipkin").unwrap(),
            "exporters.zipkin",
        );
        assert_eq!(errors, Vec::<String>::new());
    }

    #[test]
    fn config_errors_name_their_paths() {
        assert_eq!(
            errors("format: json"),
            ["exporters.zipkin: endpoint is required (the Zipkin v2 spans URL, e.g. http://zipkin:9411/api/v2/spans)"]
        );
        assert_eq!(
            errors("endpoint: http://zipkin:9411/api/v2/spans\nformat: proto"),
            ["exporters.zipkin.format: proto is not supported: this otelbox's zipkin exporter sends Zipkin v2 JSON, which every Zipkin server accepts; use format: json (the default)"]
        );
        assert_eq!(
            errors("endpoint: https://zipkin:9411/api/v2/spans\nformat: thrift\ndefault_service_name: ''\ncompression: lz4\nheaders: { 'x y': z }\ntls: { insecure: true, ca_file: ca.pem }\nencoding: json\nsending_queue: { queue_size: 0 }"),
            [
                "exporters.zipkin.encoding: unknown key (expected one of: endpoint, format, default_service_name, compression, headers, tls, timeout, retry_on_failure, sending_queue)",
                "exporters.zipkin.endpoint: https is not supported by this otelbox's zipkin exporter (its HTTP client has no TLS); use an http:// URL",
                "exporters.zipkin.format: expected json, got 'thrift'",
                "exporters.zipkin.default_service_name: must not be empty: it names the service of spans whose resource has none (default '<missing service name>')",
                "exporters.zipkin.compression: expected gzip, zstd or none, got 'lz4'",
                "exporters.zipkin.headers.x y: not a valid header name",
                "exporters.zipkin.tls.ca_file: not supported: this otelbox's HTTP client has no TLS, so the zipkin exporter sends to http:// endpoints only (tls.insecure alone is accepted and changes nothing)",
                "exporters.zipkin.sending_queue.queue_size: must be between 1 and 1000000",
            ]
        );
        assert_eq!(
            errors("endpoint: zipkin:9411"),
            ["exporters.zipkin.endpoint: expected an http:// URL like http://zipkin:9411/api/v2/spans, got 'zipkin:9411'"]
        );
    }

    // -----------------------------------------------------------------------------------------
    // Over HTTP.

    /// One request as the test server saw it.
    #[derive(Clone, Debug)]
    struct Seen {
        path: String,
        headers: AxumHeaders,
        body: Vec<u8>,
    }

    /// A Zipkin server that answers every POST with `status` and records what it got.
    async fn serve(status: u16) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let handler = move |uri: Uri, headers: AxumHeaders, body: axum::body::Bytes| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(Seen {
                    path: uri.path().to_string(),
                    headers,
                    body: body.to_vec(),
                });
                StatusCode::from_u16(status).unwrap()
            }
        };
        let router = axum::Router::new().fallback(axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (addr, seen)
    }

    async fn wait_until(what: &str, check: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn id() -> ComponentId {
        ComponentId {
            kind: "zipkin".into(),
            name: Some("tempo".into()),
        }
    }

    const QUICK_RETRIES: &str = "retry_on_failure: { initial_interval: 10ms, max_interval: 20ms, randomization_factor: 0 }\n";

    #[tokio::test]
    async fn a_batch_is_posted_as_one_gzipped_json_array_with_content_type_json() {
        let (addr, seen) = serve(202).await;
        let config = settings(&format!(
            "endpoint: http://{addr}/api/v2/spans\ncompression: gzip\nheaders: {{ x-tenant: team-a }}\n{QUICK_RETRIES}"
        ));
        let counters = PerSignal::detached("exporter/zipkin/tempo");
        let exporter = exporter(&id(), &config, None, counters.clone()).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden_request())).await.unwrap();
        wait_until("sent", || counters.traces.sent.load(Ordering::Relaxed) == 2).await;
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "one request for the batch");
        assert_eq!(seen[0].path, "/api/v2/spans");
        assert_eq!(seen[0].headers["content-type"], "application/json");
        assert_eq!(seen[0].headers["content-encoding"], "gzip");
        assert_eq!(seen[0].headers["x-tenant"], "team-a");
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(seen[0].body.as_slice())
            .read_to_end(&mut body)
            .unwrap();
        assert_eq!(serde_json::from_slice::<Json>(&body).unwrap(), golden_json());
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn a_400_answer_drops_the_batch_without_retrying() {
        let (addr, seen) = serve(400).await;
        let config = settings(&format!("endpoint: http://{addr}/api/v2/spans\n{QUICK_RETRIES}"));
        let counters = PerSignal::detached("exporter/zipkin/tempo");
        let exporter = exporter(&id(), &config, None, counters.clone()).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::traces())).await.unwrap();
        wait_until("dropped", || counters.traces.dropped.load(Ordering::Relaxed) == 2).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(seen.lock().unwrap().len(), 1, "not retried");
        assert!(
            seen.lock().unwrap()[0].headers.get("content-encoding").is_none(),
            "uncompressed by default"
        );
        assert_eq!(counters.traces.sent.load(Ordering::Relaxed), 0);
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }
}
