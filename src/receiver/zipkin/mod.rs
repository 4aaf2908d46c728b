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
//!
//! The JSON decode (with each problem's place in the body) is in `decode.rs`, the mapping to OTLP
//! in `mapping.rs`.

mod decode;
mod mapping;

#[cfg(test)]
mod tests;

use super::answer::Refusal;
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
use serde_yaml_ng::Value;
use std::io::Read;
use std::net::SocketAddr;
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
                allowed_hosts: host.allowed_hosts.clone(),
            }) as Box<dyn crate::receiver::Receiver>)
        })
    }
}

struct ZipkinReceiver {
    endpoint: crate::receiver::Endpoint,
    listener: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    allowed_hosts: crate::net::AllowedHosts,
}

impl crate::receiver::Receiver for ZipkinReceiver {
    fn endpoints(&self) -> Vec<crate::receiver::Endpoint> {
        vec![self.endpoint.clone()]
    }
    fn start(self: Box<Self>, stop: &crate::net::Stop) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        Ok(vec![crate::net::serve(
            self.listener,
            self.tls,
            self.router,
            stop,
            &self.allowed_hosts,
            crate::net::ConnectionLimits::default(),
        )?])
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
    let state = Arc::new(ZipkinState {
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

struct ZipkinState {
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

async fn v1_spans(State(receiver): State<Arc<ZipkinState>>) -> Response {
    bad(&receiver.intake);
    answer(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Zipkin v1 spans are not supported; send Zipkin v2 JSON to /api/v2/spans",
    )
}

fn bad(intake: &Intake) {
    intake.stats.traces.bad_requests.fetch_add(1, Ordering::Relaxed);
}

async fn spans(State(receiver): State<Arc<ZipkinState>>, headers: HeaderMap, body: Body) -> Response {
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
    let refused = |refusal: Refusal| {
        if refusal.is_retryable() {
            intake.stats.traces.refused.fetch_add(1, Ordering::Relaxed);
        } else {
            bad(intake);
        }
        refusal.into_plain_text()
    };
    // Held until the answer: the body counts against the decoding budget as it arrives.
    let (raw, _room) = match intake.admission.read_body(body, limit).await {
        Ok(read) => read,
        Err(refusal) => return refused(refusal),
    };
    let content_encoding = crate::receiver::content_encoding(&headers);
    let parse_string_tags = receiver.parse_string_tags;
    let compressed = !matches!(content_encoding.as_str(), "" | "identity");
    let admission = intake.admission.clone();
    let decoded = intake
        .admission
        .decode(raw.len(), compressed, move || {
            decode_body(raw, &content_encoding, limit, parse_string_tags, &admission)
        })
        .await
        .unwrap_or_else(|| Err(Refusal::invalid("internal error while decoding the body")));
    // `_decoded_room` is held until the answer too: the decoded request's memory.
    let (request, _decoded_room) = match decoded {
        Ok(decoded) => decoded,
        Err(refusal) => return refused(refusal),
    };
    match ingest(intake, request).await {
        Ok(accepted) if accepted.rejected == 0 => StatusCode::ACCEPTED.into_response(),
        // Zipkin has no partial-success answer: the message says which spans were left out.
        Ok(accepted) => answer(StatusCode::ACCEPTED, accepted.message),
        Err(error) => refusal(error),
    }
}

/// Decompresses a raw body, estimates its decoded size before decoding (refusing what would not
/// fit the decoding budget) and decodes it: the OTLP request and its room, or the refusal to answer.
fn decode_body(
    raw: Bytes,
    content_encoding: &str,
    limit: usize,
    parse_string_tags: bool,
    admission: &crate::receiver::Admission,
) -> Result<(ExportTraceServiceRequest, tokio::sync::OwnedSemaphorePermit), Refusal> {
    let bad_request = |message: String| Refusal::invalid(message);
    let inflate = |reader: &mut dyn Read, name: &str| -> Result<Vec<u8>, Refusal> {
        let mut out = Vec::new();
        reader
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad_request(format!("corrupt {name} body: {e}")))?;
        if out.len() > limit {
            return Err(crate::receiver::body_too_large(limit));
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
    let room = admission.admit_decoded(crate::receiver::budget::json_decoded_bytes(&bytes))?;
    Ok((decode_spans(&bytes, parse_string_tags).map_err(bad_request)?, room))
}

/// Decodes a Zipkin v2 JSON list of spans into an OTLP request.
pub fn decode_spans(body: &[u8], parse_string_tags: bool) -> Result<ExportTraceServiceRequest, String> {
    Ok(mapping::to_otlp(decode::spans(body)?, parse_string_tags))
}
