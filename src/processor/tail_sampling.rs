//! The tail_sampling processor (placeholder: parsing refuses it until it lands).

use crate::config::{ComponentId, Parser};
use crate::pipeline::{Consumer, Envelope, PipelineError, SharedConsumer};
use crate::telemetry::ComponentCounters;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_yaml_ng::Value;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct TailSamplingConfig;

pub fn parse(p: &mut Parser, _value: &Value, path: &str) -> TailSamplingConfig {
    p.not_yet(path, "processor", "tail_sampling");
    TailSamplingConfig
}

pub struct TailSampler {
    next: SharedConsumer<ExportTraceServiceRequest>,
}

impl TailSampler {
    pub fn new(
        _id: &ComponentId,
        _config: &TailSamplingConfig,
        next: SharedConsumer<ExportTraceServiceRequest>,
        _counters: Arc<ComponentCounters>,
    ) -> Self {
        TailSampler { next }
    }
}

impl Consumer<ExportTraceServiceRequest> for TailSampler {
    fn consume(&self, envelope: Envelope<ExportTraceServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
        self.next.consume(envelope)
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.next.shutdown()
    }
}
