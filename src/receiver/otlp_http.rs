//! OTLP/HTTP receiver: `POST /v1/{traces,metrics,logs}` with protobuf or JSON bodies, optionally
//! gzip/deflate/zstd compressed. Answers in the request's encoding, with a `google.rpc.Status`
//! body on errors; the size limit is checked after decompression.

use super::{ingest, Accepted, Intake, IntakeFor};
use crate::pdata::{json, SignalData};
use crate::pipeline::PipelineError;
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

/// `google.rpc.Status` (code, message); details are never needed for our answers over HTTP.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// How a request body is encoded, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// An answer that is not a success: HTTP status, gRPC code for the body, message.
struct Failure {
    status: StatusCode,
    grpc_code: i32,
    message: String,
    retry_after: Option<u64>,
}

impl Failure {
    fn bad_request(message: impl Into<String>) -> Self {
        Failure {
            status: StatusCode::BAD_REQUEST,
            grpc_code: 3,
            message: message.into(),
            retry_after: None,
        }
    }
    fn from_pipeline(err: PipelineError) -> Self {
        match err {
            PipelineError::Retryable { message, retry_after } => Failure {
                status: StatusCode::SERVICE_UNAVAILABLE,
                grpc_code: 14,
                message,
                retry_after: Some(retry_after.as_secs().max(1)),
            },
            PipelineError::Permanent { message } => Failure::bad_request(message),
        }
    }
    fn into_response(self, encoding: Encoding) -> Response {
        let body = match encoding {
            Encoding::Protobuf => RpcStatus {
                code: self.grpc_code,
                message: self.message,
            }
            .encode_to_vec(),
            Encoding::Json => serde_json::json!({ "code": self.grpc_code, "message": self.message })
                .to_string()
                .into_bytes(),
        };
        let mut response = (self.status, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

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
    let mut response = Failure {
        status: StatusCode::METHOD_NOT_ALLOWED,
        grpc_code: 12,
        message: "use POST to export OTLP data".into(),
        retry_after: None,
    }
    .into_response(Encoding::Json);
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

async fn not_found() -> Response {
    Failure {
        status: StatusCode::NOT_FOUND,
        grpc_code: 5,
        message: "unknown path; OTLP/HTTP uses /v1/traces, /v1/metrics and /v1/logs".into(),
        retry_after: None,
    }
    .into_response(Encoding::Json)
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
            return Failure {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                grpc_code: 3,
                message: format!("unsupported content type '{shown}'; send application/x-protobuf or application/json"),
                retry_after: None,
            }
            .into_response(Encoding::Json);
        }
    };
    match decode_body::<T>(&intake, &headers, body, encoding).await {
        Err(failure) => {
            if failure.retry_after.is_some() {
                intake.stats.signal(T::SIGNAL).refused.fetch_add(1, Ordering::Relaxed);
            } else {
                bad(&intake, T::SIGNAL);
            }
            failure.into_response(encoding)
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
            Err(err) => Failure::from_pipeline(err).into_response(encoding),
        },
    }
}

fn bad(intake: &Intake, signal: crate::pdata::Signal) {
    intake.stats.signal(signal).bad_requests.fetch_add(1, Ordering::Relaxed);
}

async fn decode_body<T: HttpSignal>(
    intake: &Intake,
    headers: &HeaderMap,
    body: Body,
    encoding: Encoding,
) -> Result<(T, tokio::sync::OwnedSemaphorePermit), Failure> {
    let limit = intake.max_request_bytes;
    let too_large = || Failure {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        grpc_code: 8,
        message: format!("request body is larger than the {limit}-byte limit after decompression; send smaller batches"),
        retry_after: None,
    };
    intake.admission.check_memory().map_err(Failure::from_pipeline)?;
    let raw = axum::body::to_bytes(body, limit).await.map_err(|_| too_large())?;
    let room = intake.admission.reserve(raw.len()).map_err(Failure::from_pipeline)?;
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let compressed = !matches!(content_encoding.as_str(), "" | "identity");
    let decoded = intake
        .admission
        .decode(raw.len(), compressed, move || {
            decode_bytes::<T>(raw, &content_encoding, encoding, limit)
        })
        .await
        .unwrap_or_else(|| Err(Failure::bad_request("internal error while decoding the body")));
    decoded.map(|request| (request, room))
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
    decode_bytes(raw, content_encoding, encoding, limit).map_err(|f| (f.status, f.message))
}

fn decode_bytes<T: HttpSignal>(raw: Bytes, content_encoding: &str, encoding: Encoding, limit: usize) -> Result<T, Failure> {
    let too_large = || Failure {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        grpc_code: 8,
        message: format!("request body is larger than the {limit}-byte limit after decompression; send smaller batches"),
        retry_after: None,
    };
    let bytes = match content_encoding {
        "" | "identity" => raw,
        "gzip" | "x-gzip" => {
            inflate(flate2::read::MultiGzDecoder::new(&raw[..]), limit, "gzip").map_err(|e| e.unwrap_or_else(too_large))?
        }
        "deflate" => inflate(flate2::read::ZlibDecoder::new(&raw[..]), limit, "deflate").map_err(|e| e.unwrap_or_else(too_large))?,
        "zstd" => {
            let decoder =
                zstd::stream::read::Decoder::new(&raw[..]).map_err(|e| Failure::bad_request(format!("corrupt zstd body: {e}")))?;
            inflate(decoder, limit, "zstd").map_err(|e| e.unwrap_or_else(too_large))?
        }
        other => {
            return Err(Failure::bad_request(format!(
                "unsupported content encoding '{other}'; use gzip, deflate, zstd or none"
            )))
        }
    };
    match encoding {
        Encoding::Protobuf => {
            T::decode(bytes).map_err(|e| Failure::bad_request(format!("body is not a valid OTLP protobuf {}: {e}", signal_message::<T>())))
        }
        Encoding::Json => T::decode_json(&bytes).map_err(|e| Failure::bad_request(format!("body is not valid OTLP/JSON: {e}"))),
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
fn inflate(reader: impl Read, limit: usize, name: &str) -> Result<Bytes, Option<Failure>> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Some(Failure::bad_request(format!("corrupt {name} body: {e}"))))?;
    if out.len() > limit {
        return Err(None);
    }
    Ok(Bytes::from(out))
}
