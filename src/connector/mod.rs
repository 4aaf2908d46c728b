//! Connectors: exporters of one pipeline that are receivers of another, and the
//! `ConnectorFactory` each type registers (`crate::components`).

pub mod spanmetrics;

use crate::config::{ComponentId, ComponentType, Settings};
use crate::pipeline::SignalConsumers;
use crate::telemetry::ComponentCounters;
use std::sync::Arc;

/// Builds a connector type's one instance, shared by every pipeline using it.
pub trait ConnectorFactory: ComponentType {
    /// `output`: the heads of the pipelines it is a receiver in, per signal it emits. Returns its
    /// inputs, one per signal it takes.
    fn build(
        &self,
        id: &ComponentId,
        settings: &Settings,
        output: SignalConsumers,
        counters: Arc<ComponentCounters>,
    ) -> anyhow::Result<SignalConsumers>;
}
