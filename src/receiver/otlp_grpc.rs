//! OTLP/gRPC receiver: the three collector `Export` services (tonic), gzip/zstd accepted, with
//! retryable refusals as UNAVAILABLE carrying a `google.rpc.RetryInfo` delay.

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
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// The one mapping from pipeline errors to gRPC statuses.
pub fn status_for(err: PipelineError) -> Status {
    match err {
        PipelineError::Permanent { message } => Status::invalid_argument(message),
        PipelineError::Retryable { message, retry_after } => {
            let retry = RetryInfo {
                retry_delay: Some(ProtoDuration {
                    seconds: retry_after.as_secs() as i64,
                    nanos: retry_after.subsec_nanos() as i32,
                }),
            };
            let details = RpcStatus {
                code: tonic::Code::Unavailable as i32,
                message: message.clone(),
                details: vec![ProtoAny {
                    type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                    value: retry.encode_to_vec(),
                }],
            };
            Status::with_details(tonic::Code::Unavailable, message, details.encode_to_vec().into())
        }
    }
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
