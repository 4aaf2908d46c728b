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
