//! The debug exporter (to stderr) (placeholder: parsing refuses it until it lands).

use crate::config::{ComponentId, Parser};
use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError};
use crate::telemetry::PerSignal;
use futures::future::BoxFuture;
use serde_yaml_ng::Value;
use std::path::Path;

#[derive(Clone, Debug, Default)]
pub struct DebugExporterConfig;

pub fn parse(p: &mut Parser, _value: &Value, path: &str) -> DebugExporterConfig {
    p.not_yet(path, "exporter", "debug");
    DebugExporterConfig
}

pub struct DebugExporter;

impl DebugExporter {
    /// `data_dir` is where a persistent sending queue lives (None: an in-memory box).
    pub fn new(_id: &ComponentId, _config: &DebugExporterConfig, _data_dir: Option<&Path>, _counters: PerSignal) -> anyhow::Result<Self> {
        Ok(DebugExporter)
    }
}

impl<T: PipelineData> Consumer<T> for DebugExporter {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        envelope.commit();
        Box::pin(async { Ok(()) })
    }
}
