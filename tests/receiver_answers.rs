//! The one mapping from pipeline outcomes to OTLP answers, checked through the HTTP router (no
//! socket) and the gRPC status: overload is retryable with a delay, bad data is final.

use axum::body::Body;
use axum::http::Request;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otelbox::pipeline::{Consumer, Envelope, PipelineError};
use otelbox::receiver::otlp_http::router;
use otelbox::receiver::Intake;
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tonic_types::pb::Status as RpcStatus;
use tower::ServiceExt;

/// A pipeline head that refuses everything the way an overloaded box does.
struct Overloaded;
impl<T: Send + 'static> Consumer<T> for Overloaded {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        let err = PipelineError::Retryable {
            message: "over the memory limit".into(),
            retry_after: Duration::from_secs(2),
        };
        for ack in envelope.acks {
            ack.fail(err.clone());
        }
        Box::pin(async move { Err(err) })
    }
}

fn overloaded_intake() -> Intake {
    Intake {
        traces: Arc::new(Overloaded) as Arc<dyn Consumer<ExportTraceServiceRequest>>,
        metrics: Arc::new(Overloaded) as Arc<dyn Consumer<ExportMetricsServiceRequest>>,
        logs: Arc::new(Overloaded) as Arc<dyn Consumer<ExportLogsServiceRequest>>,
        stats: Default::default(),
        max_request_bytes: 1 << 20,
        admission: Arc::new(otelbox::receiver::Admission::new(None)),
    }
}

fn one_span() -> Vec<u8> {
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    name: "x".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[tokio::test]
async fn overload_is_503_with_retry_after_over_http() {
    let intake = overloaded_intake();
    let stats = intake.stats.clone();
    let response = router(intake)
        .oneshot(
            Request::post("/v1/traces")
                .header("content-type", "application/x-protobuf")
                .body(Body::from(one_span()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let status = RpcStatus::decode(body).unwrap();
    assert_eq!(status.code, 14, "UNAVAILABLE");
    assert!(status.message.contains("memory limit"));
    assert_eq!(
        stats.traces.refused.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "refusals are counted"
    );
}

#[tokio::test]
async fn overload_is_unavailable_with_retry_info_over_grpc() {
    let status = otelbox::receiver::otlp_grpc::status_for(PipelineError::Retryable {
        message: "busy".into(),
        retry_after: Duration::from_secs(3),
    });
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(status
        .details()
        .windows(b"google.rpc.RetryInfo".len())
        .any(|w| w == b"google.rpc.RetryInfo"));
    let status = otelbox::receiver::otlp_grpc::status_for(PipelineError::permanent("bad"));
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn json_requests_get_json_answers() {
    let response = router(overloaded_intake())
        .oneshot(
            Request::post("/v1/logs")
                .header("content-type", "application/json")
                .body(Body::from(
                    r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]}"#,
                ))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap()).unwrap();
    assert_eq!(body["code"], 14);
}
