//! OTLP/gRPC receiver: the three collector `Export` services (tonic), gzip/zstd accepted; refusals
//! answered through `answer::Refusal` (retryable ones as UNAVAILABLE with a `RetryInfo` delay).

use super::answer::Refusal;
use super::{ingest, Accepted, Intake, DEFAULT_MAX_REQUEST_BYTES};
use crate::pipeline::PipelineError;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{MetricsService, MetricsServiceServer};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

/// The gRPC status of a pipeline refusal (`answer::Refusal`).
pub fn status_for(err: PipelineError) -> Status {
    Refusal::from(err).into_grpc()
}

#[derive(Clone)]
pub struct GrpcReceiver {
    intake: Intake,
}

impl GrpcReceiver {
    pub fn new(intake: Intake) -> Self {
        GrpcReceiver { intake }
    }

    /// The tonic router with all three services, compression and the message size limit.
    pub fn routes(self) -> tonic::service::Routes {
        let limit = self
            .intake
            .max_request_bytes
            .max(DEFAULT_MAX_REQUEST_BYTES.min(self.intake.max_request_bytes));
        let traces = TraceServiceServer::new(self.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(limit);
        let metrics = MetricsServiceServer::new(self.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(limit);
        let logs = LogsServiceServer::new(self)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(limit);
        tonic::service::Routes::new(traces).add_service(metrics).add_service(logs)
    }
}

fn partial<P>(accepted: &Accepted, make: impl FnOnce(i64, String) -> P) -> Option<P> {
    (accepted.rejected > 0).then(|| make(accepted.rejected as i64, accepted.message.clone()))
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(&self, request: Request<ExportTraceServiceRequest>) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let accepted = ingest(&self.intake, request.into_inner()).await.map_err(status_for)?;
        let partial_success = partial(&accepted, |rejected_spans, error_message| ExportTracePartialSuccess {
            rejected_spans,
            error_message,
        });
        Ok(Response::new(ExportTraceServiceResponse { partial_success }))
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcReceiver {
    async fn export(&self, request: Request<ExportMetricsServiceRequest>) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let accepted = ingest(&self.intake, request.into_inner()).await.map_err(status_for)?;
        let partial_success = partial(&accepted, |rejected_data_points, error_message| ExportMetricsPartialSuccess {
            rejected_data_points,
            error_message,
        });
        Ok(Response::new(ExportMetricsServiceResponse { partial_success }))
    }
}

#[tonic::async_trait]
impl LogsService for GrpcReceiver {
    async fn export(&self, request: Request<ExportLogsServiceRequest>) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let accepted = ingest(&self.intake, request.into_inner()).await.map_err(status_for)?;
        let partial_success = partial(&accepted, |rejected_log_records, error_message| ExportLogsPartialSuccess {
            rejected_log_records,
            error_message,
        });
        Ok(Response::new(ExportLogsServiceResponse { partial_success }))
    }
}

/// Admission before tonic decodes a message, as the HTTP receiver does before its decoder: the
/// memory limit, the body counted against the decoding budget as it arrives (with its read
/// timeout), and the decoded size estimated (`budget`) before decoding, refused over
/// `MAX_DECODED_BYTES` (RESOURCE_EXHAUSTED) or while the in-flight budget is spent (UNAVAILABLE
/// with RetryInfo). Compressed messages are inflated here, once: they go on uncompressed.
pub async fn admit(
    axum::extract::State(intake): axum::extract::State<Intake>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = request.uri().path();
    use super::budget::Schema;
    let (signal, schema) = if path.starts_with("/opentelemetry.proto.collector.trace.") {
        (crate::pdata::Signal::Traces, Schema::Traces)
    } else if path.starts_with("/opentelemetry.proto.collector.metrics.") {
        (crate::pdata::Signal::Metrics, Schema::Metrics)
    } else if path.starts_with("/opentelemetry.proto.collector.logs.") {
        (crate::pdata::Signal::Logs, Schema::Logs)
    } else if path.starts_with("/jaeger.api_v2.") {
        (crate::pdata::Signal::Traces, Schema::JaegerSpans)
    } else {
        return next.run(request).await;
    };
    let refuse = |refusal: Refusal| {
        let counters = intake.stats.signal(signal);
        if refusal.is_retryable() {
            counters.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        } else {
            counters.bad_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        refusal.into_grpc().into_http::<axum::body::Body>()
    };
    if let Err(error) = intake.admission.check_memory() {
        return refuse(error.into());
    }
    let limit = intake.max_request_bytes;
    let (mut parts, body) = request.into_parts();
    // The gRPC framing adds 5 bytes a message; a request is one message.
    let (raw, room) = match intake.admission.read_body(body, limit.saturating_add(64)).await {
        Ok(read) => read,
        Err(refusal) => return refuse(refusal),
    };
    let encoding = parts
        .headers
        .get("grpc-encoding")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .to_ascii_lowercase();
    let admission = intake.admission.clone();
    let compressed = encoding != "identity";
    let unframed = intake
        .admission
        .decode(raw.len(), compressed, move || {
            plain_frames(raw, &encoding, limit, schema, &admission)
        })
        .await
        .unwrap_or_else(|| Err(Refusal::invalid("internal error while decoding the message")));
    match unframed {
        Err(refusal) => refuse(refusal),
        Ok((body, decoded_room)) => {
            parts.headers.remove("grpc-encoding");
            let response = next
                .run(axum::extract::Request::from_parts(parts, axum::body::Body::from(body)))
                .await;
            // Held until the answer: the request counts against the decoding budgets meanwhile.
            drop((room, decoded_room));
            response
        }
    }
}

/// The body's gRPC messages inflated (compressed flag cleared) and their decoded size admitted. A
/// body whose framing is broken goes on as it came, for tonic to refuse in its own words.
fn plain_frames(
    raw: bytes::Bytes,
    encoding: &str,
    limit: usize,
    schema: super::budget::Schema,
    admission: &super::Admission,
) -> Result<(bytes::Bytes, Option<tokio::sync::OwnedSemaphorePermit>), Refusal> {
    use std::io::Read;
    // Rebuilt only when some message was compressed: a plain body goes on as it came, uncopied.
    let mut out = Vec::new();
    let mut any_compressed = false;
    let mut estimate = 0u64;
    let mut rest = &raw[..];
    while !rest.is_empty() {
        if rest.len() < 5 {
            return Ok((raw, None));
        }
        let compressed = rest[0] == 1;
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        if rest.len() < 5 + len || rest[0] > 1 {
            return Ok((raw, None));
        }
        let frame_start = raw.len() - rest.len();
        let message = &rest[5..5 + len];
        rest = &rest[5 + len..];
        let plain: std::borrow::Cow<[u8]> = if compressed {
            let mut inflated = Vec::new();
            let read = match encoding {
                "gzip" => flate2::read::GzDecoder::new(message)
                    .take(limit as u64 + 1)
                    .read_to_end(&mut inflated),
                "zstd" => match zstd::stream::read::Decoder::new(message) {
                    Ok(decoder) => decoder.take(limit as u64 + 1).read_to_end(&mut inflated),
                    Err(e) => Err(e),
                },
                // An encoding tonic does not accept either: it answers UNIMPLEMENTED.
                _ => return Ok((raw, None)),
            };
            if let Err(e) = read {
                return Err(Refusal::invalid(format!("corrupt {encoding} message: {e}")));
            }
            if inflated.len() > limit {
                return Err(Refusal::too_large(format!(
                    "the message is larger than the {limit}-byte limit after decompression; send smaller batches"
                )));
            }
            if !any_compressed {
                // The plain frames before this one, as they came.
                any_compressed = true;
                out.extend_from_slice(&raw[..frame_start]);
            }
            std::borrow::Cow::Owned(inflated)
        } else {
            std::borrow::Cow::Borrowed(message)
        };
        // A message the walk finds malformed is left to tonic's decoder, which refuses it.
        estimate += super::budget::protobuf_decoded_bytes(schema, &plain).unwrap_or(0);
        if any_compressed {
            out.push(0);
            out.extend_from_slice(&(plain.len() as u32).to_be_bytes());
            out.extend_from_slice(&plain);
        }
    }
    let room = admission.admit_decoded(estimate)?;
    Ok((if any_compressed { bytes::Bytes::from(out) } else { raw }, Some(room)))
}
