//! OTLP/HTTP receiver: `POST /v1/{traces,metrics,logs}` with protobuf or JSON bodies, optionally
//! gzip/deflate/zstd compressed. Answers in the request's encoding, with a `google.rpc.Status`
//! body on errors; the size limit is checked after decompression.

use super::answer::Refusal;
use super::{ingest, Accepted, Intake, IntakeFor};
use crate::pdata::{json, SignalData};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use std::io::Read;
use std::sync::atomic::Ordering;

pub use super::answer::Encoding;

pub fn router(intake: Intake) -> Router {
    let limit = intake.max_request_bytes;
    Router::new()
        .route("/v1/traces", post(export::<ExportTraceServiceRequest>).fallback(method_not_allowed))
        .route(
            "/v1/metrics",
            post(export::<ExportMetricsServiceRequest>).fallback(method_not_allowed),
        )
        .route("/v1/logs", post(export::<ExportLogsServiceRequest>).fallback(method_not_allowed))
        .fallback(not_found)
        // Our own limit applies after decompression; this one only stops absurd compressed bodies.
        .layer(DefaultBodyLimit::max(limit.saturating_add(1)))
        .with_state(intake)
}

async fn method_not_allowed() -> Response {
    let mut response = Refusal::method_not_allowed("use POST to export OTLP data").into_http(Encoding::Json);
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

async fn not_found() -> Response {
    Refusal::not_found("unknown path; OTLP/HTTP uses /v1/traces, /v1/metrics and /v1/logs").into_http(Encoding::Json)
}

/// What an HTTP payload type needs beyond the pipeline: JSON decoding and the answer messages.
pub trait HttpSignal: SignalData + Message + Default + Send + 'static {
    fn decode_json(body: &[u8]) -> Result<Self, json::JsonError>;
    fn response(accepted: &Accepted) -> (Vec<u8>, serde_json::Value);
}

macro_rules! http_signal {
    ($req:ty, $resp:ident, $partial:ident, $decode:path, $field:ident, $json_field:literal) => {
        impl HttpSignal for $req {
            fn decode_json(body: &[u8]) -> Result<Self, json::JsonError> {
                $decode(body)
            }
            fn response(accepted: &Accepted) -> (Vec<u8>, serde_json::Value) {
                if accepted.rejected == 0 {
                    return ($resp::default().encode_to_vec(), serde_json::json!({}));
                }
                let partial = $partial { $field: accepted.rejected as i64, error_message: accepted.message.clone() };
                let json = serde_json::json!({ "partialSuccess": { $json_field: accepted.rejected.to_string(), "errorMessage": accepted.message } });
                ($resp { partial_success: Some(partial) }.encode_to_vec(), json)
            }
        }
    };
}
http_signal!(
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
    ExportTracePartialSuccess,
    json::decode_traces,
    rejected_spans,
    "rejectedSpans"
);
http_signal!(
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
    ExportMetricsPartialSuccess,
    json::decode_metrics,
    rejected_data_points,
    "rejectedDataPoints"
);
http_signal!(
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
    ExportLogsPartialSuccess,
    json::decode_logs,
    rejected_log_records,
    "rejectedLogRecords"
);

async fn export<T: HttpSignal>(State(intake): State<Intake>, headers: HeaderMap, body: Body) -> Response
where
    Intake: IntakeFor<T>,
{
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let encoding = match media_type.as_str() {
        "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        _ => {
            bad(&intake, T::SIGNAL);
            let shown = if content_type.is_empty() { "none" } else { content_type };
            return Refusal::unsupported_media_type(format!(
                "unsupported content type '{shown}'; send application/x-protobuf or application/json"
            ))
            .into_http(Encoding::Json);
        }
    };
    match decode_body::<T>(&intake, &headers, body, encoding).await {
        Err(refusal) => {
            if refusal.is_retryable() {
                intake.stats.signal(T::SIGNAL).refused.fetch_add(1, Ordering::Relaxed);
            } else {
                bad(&intake, T::SIGNAL);
            }
            refusal.into_http(encoding)
        }
        // `_room` is held until the answer: the decoded request counts against the budget.
        Ok((request, _room)) => match ingest(&intake, request).await {
            Ok(accepted) => {
                let (proto, json) = T::response(&accepted);
                let body = match encoding {
                    Encoding::Protobuf => proto,
                    Encoding::Json => json.to_string().into_bytes(),
                };
                (StatusCode::OK, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
            }
            Err(err) => Refusal::from(err).into_http(encoding),
        },
    }
}

fn bad(intake: &Intake, signal: crate::pdata::Signal) {
    intake.stats.signal(signal).bad_requests.fetch_add(1, Ordering::Relaxed);
}

async fn decode_body<T: HttpSignal>(intake: &Intake, headers: &HeaderMap, body: Body, encoding: Encoding) -> Result<(T, Room), Refusal> {
    let limit = intake.max_request_bytes;
    intake.admission.check_memory()?;
    let (raw, room) = intake.admission.read_body(body, limit).await?;
    let content_encoding = super::content_encoding(headers);
    let compressed = !matches!(content_encoding.as_str(), "" | "identity");
    let admission = intake.admission.clone();
    let decoded = intake
        .admission
        .decode(raw.len(), compressed, move || {
            decode_admitted::<T>(raw, &content_encoding, encoding, limit, &admission)
        })
        .await
        .unwrap_or_else(|| Err(Refusal::invalid("internal error while decoding the body")));
    decoded.map(|(request, decoded_room)| (request, (room, decoded_room)))
}

/// The decoding budgets a request holds until its answer: its raw bytes, and its decoded memory.
type Room = (tokio::sync::OwnedSemaphorePermit, tokio::sync::OwnedSemaphorePermit);

/// The protobuf schema `budget` walks for a signal's request.
pub fn schema_of(signal: crate::pdata::Signal) -> super::budget::Schema {
    match signal {
        crate::pdata::Signal::Traces => super::budget::Schema::Traces,
        crate::pdata::Signal::Metrics => super::budget::Schema::Metrics,
        crate::pdata::Signal::Logs => super::budget::Schema::Logs,
    }
}

/// Decompresses, estimates the decoded size before decoding (refusing what would not fit), and decodes.
fn decode_admitted<T: HttpSignal>(
    raw: Bytes,
    content_encoding: &str,
    encoding: Encoding,
    limit: usize,
    admission: &super::Admission,
) -> Result<(T, tokio::sync::OwnedSemaphorePermit), Refusal> {
    let bytes = decompress(raw, content_encoding, limit)?;
    let estimate = match encoding {
        // A body the walk finds malformed is left to the decoder, which refuses it with its own words.
        Encoding::Protobuf => super::budget::protobuf_decoded_bytes(schema_of(T::SIGNAL), &bytes).unwrap_or(0),
        Encoding::Json => super::budget::json_decoded_bytes(&bytes),
    };
    let room = admission.admit_decoded(estimate)?;
    decode_plain::<T>(bytes, encoding).map(|request| (request, room))
}

/// Decompresses and decodes a raw body exactly as `POST /v1/{traces,metrics,logs}` does, without the
/// admission checks and the read limit of the HTTP layer. `content_encoding` is the trimmed, lower-case
/// `Content-Encoding` ("" or identity, gzip, x-gzip, deflate, zstd); `limit` applies after decompression.
/// `Err` is the HTTP status (400 or 413) and message the receiver answers. Invalid items are removed
/// later, by `SignalData::remove_invalid` in `ingest`. Public for the fuzz tests (`tests/fuzz.rs`).
pub fn decode_request<T: HttpSignal>(
    raw: Bytes,
    content_encoding: &str,
    encoding: Encoding,
    limit: usize,
) -> Result<T, (StatusCode, String)> {
    decode_bytes(raw, content_encoding, encoding, limit).map_err(|r| (r.http, r.message))
}

fn decode_bytes<T: HttpSignal>(raw: Bytes, content_encoding: &str, encoding: Encoding, limit: usize) -> Result<T, Refusal> {
    decode_plain(decompress(raw, content_encoding, limit)?, encoding)
}

/// The body after its `Content-Encoding`, at most `limit` bytes.
fn decompress(raw: Bytes, content_encoding: &str, limit: usize) -> Result<Bytes, Refusal> {
    let too_large = || super::body_too_large(limit);
    Ok(match content_encoding {
        "" | "identity" => raw,
        "gzip" | "x-gzip" => {
            inflate(flate2::read::MultiGzDecoder::new(&raw[..]), limit, "gzip").map_err(|e| e.unwrap_or_else(too_large))?
        }
        "deflate" => inflate(flate2::read::ZlibDecoder::new(&raw[..]), limit, "deflate").map_err(|e| e.unwrap_or_else(too_large))?,
        "zstd" => {
            let decoder = zstd::stream::read::Decoder::new(&raw[..]).map_err(|e| Refusal::invalid(format!("corrupt zstd body: {e}")))?;
            inflate(decoder, limit, "zstd").map_err(|e| e.unwrap_or_else(too_large))?
        }
        other => {
            return Err(Refusal::invalid(format!(
                "unsupported content encoding '{other}'; use gzip, deflate, zstd or none"
            )))
        }
    })
}

fn decode_plain<T: HttpSignal>(bytes: Bytes, encoding: Encoding) -> Result<T, Refusal> {
    match encoding {
        Encoding::Protobuf => {
            T::decode(bytes).map_err(|e| Refusal::invalid(format!("body is not a valid OTLP protobuf {}: {e}", signal_message::<T>())))
        }
        Encoding::Json => T::decode_json(&bytes).map_err(|e| Refusal::invalid(format!("body is not valid OTLP/JSON: {e}"))),
    }
}

fn signal_message<T: SignalData>() -> &'static str {
    match T::SIGNAL {
        crate::pdata::Signal::Traces => "ExportTraceServiceRequest",
        crate::pdata::Signal::Metrics => "ExportMetricsServiceRequest",
        crate::pdata::Signal::Logs => "ExportLogsServiceRequest",
    }
}

/// Decompress at most `limit` bytes: `Err(None)` when the output would exceed it (a zip bomb).
fn inflate(reader: impl Read, limit: usize, name: &str) -> Result<Bytes, Option<Refusal>> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Some(Refusal::invalid(format!("corrupt {name} body: {e}"))))?;
    if out.len() > limit {
        return Err(None);
    }
    Ok(Bytes::from(out))
}
