//! Connectors: exporters of one pipeline that are receivers of others, and the `ConnectorFactory`
//! each type registers (`crate::components`). The topology builds a connector after every pipeline
//! it feeds and before every pipeline feeding it (`service::Topology::build`); cycles are refused
//! by the config's validation.

pub mod count;
mod exponential;
pub mod forward;
pub mod otlpjson;
pub mod routing;
pub mod servicegraph;
pub mod spanmetrics;

use crate::config::{ComponentId, ComponentType, Settings};
use crate::pipeline::{FanOut, PipelineData, Shared, SharedConsumer, SignalConsumers};
use crate::telemetry::PerSignal;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use std::sync::Arc;

/// Builds a connector type's one instance, shared by every pipeline using it.
pub trait ConnectorFactory: ComponentType {
    /// `output`: the pipelines it is a receiver in. `counters`: one set per signal it takes, which
    /// the topology counts received and refused on; the connector counts what it sends and drops
    /// of what it took of that signal. Returns its inputs, one per signal it takes.
    fn build(
        &self,
        id: &ComponentId,
        settings: &Settings,
        output: &ConnectorOutput,
        counters: &PerSignal,
    ) -> anyhow::Result<SignalConsumers>;
}

/// The pipelines a connector feeds, each with its id and head (the field of its signal set).
#[derive(Clone, Default)]
pub struct ConnectorOutput {
    pub pipelines: Vec<(String, SignalConsumers)>,
}

impl ConnectorOutput {
    /// Every pipeline's head per signal, fanned out (a field is None when no pipeline has that signal).
    pub fn all(&self) -> SignalConsumers {
        SignalConsumers {
            traces: self.fan_out(self.pipelines.iter().map(|(_, p)| p)),
            metrics: self.fan_out(self.pipelines.iter().map(|(_, p)| p)),
            logs: self.fan_out(self.pipelines.iter().map(|(_, p)| p)),
        }
    }

    /// The heads of the named pipelines of signal `T`, fanned out; None when none of them has it.
    pub fn pipelines<T: PipelineData>(&self, ids: &[String]) -> Option<SharedConsumer<T>> {
        self.fan_out(self.pipelines.iter().filter(|(id, _)| ids.contains(id)).map(|(_, p)| p))
    }

    /// Every metrics pipeline's head, fanned out: what a connector making metrics emits into; an
    /// error naming connector `id` when no metrics pipeline receives from it.
    pub fn metrics(&self, id: &ComponentId) -> anyhow::Result<SharedConsumer<ExportMetricsServiceRequest>> {
        self.all()
            .metrics
            .ok_or_else(|| anyhow::anyhow!("{id}: no metrics pipeline receives from this connector"))
    }

    /// Whether a pipeline of this id is one the connector feeds.
    pub fn has_pipeline(&self, id: &str) -> bool {
        self.pipelines.iter().any(|(p, _)| p == id)
    }

    fn fan_out<'o, T: PipelineData>(&self, pipelines: impl Iterator<Item = &'o SignalConsumers>) -> Option<SharedConsumer<T>> {
        // Shared: a pipeline's chain is shut down by the topology, not through each connector feeding it.
        let mut heads: Vec<SharedConsumer<T>> = pipelines
            .filter_map(|p| p.get::<T>())
            .map(|head| Arc::new(Shared(head.clone())) as SharedConsumer<T>)
            .collect();
        match heads.len() {
            0 => None,
            1 => heads.pop(),
            _ => Some(Arc::new(FanOut::new(heads))),
        }
    }
}
