//! The OTLP/gRPC forwarding exporter (placeholder: parsing refuses it until it lands).

use crate::config::{ComponentId, Parser};
use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError};
use crate::telemetry::PerSignal;
use futures::future::BoxFuture;
use serde_yaml_ng::Value;
use std::path::Path;

#[derive(Clone, Debug, Default)]
pub struct OtlpExporterConfig;

pub fn parse(p: &mut Parser, _value: &Value, path: &str) -> OtlpExporterConfig {
    p.not_yet(path, "exporter", "otlp");
    OtlpExporterConfig
}

pub struct OtlpExporter;

impl OtlpExporter {
    /// `data_dir` is where a persistent sending queue lives (None: an in-memory box).
    pub fn new(_id: &ComponentId, _config: &OtlpExporterConfig, _data_dir: Option<&Path>, _counters: PerSignal) -> anyhow::Result<Self> {
        Ok(OtlpExporter)
    }
}

impl<T: PipelineData> Consumer<T> for OtlpExporter {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        envelope.commit();
        Box::pin(async { Ok(()) })
    }
}
