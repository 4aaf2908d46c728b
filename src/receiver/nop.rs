//! The `nop` receiver: receives nothing. The Collector has it for pipelines that must exist but are
//! fed only by connectors or are switched off by config (Grafana's otel-lgtm examples use the `nop`
//! exporter beside it); it takes no settings.

use crate::config::{ComponentId, Parser, Settings};
use crate::pdata::Signal;
use crate::pipeline::SignalConsumers;
use crate::receiver::{Endpoint, Receiver, ReceiverFactory, ReceiverHost};
use futures::future::BoxFuture;
use serde_yaml_ng::Value;

pub struct Factory;
crate::component_type!(Factory, "nop", &Signal::ALL, parse);

/// No settings: an empty or null body.
pub fn parse(p: &mut Parser, value: &Value, path: &str) {
    if let Some(body) = p.mapping(Some(value), path) {
        p.only_keys(body, &[], path);
    }
}

impl ReceiverFactory for Factory {
    fn build<'a>(
        &'a self,
        _host: &'a ReceiverHost,
        _id: &'a ComponentId,
        _settings: &'a Settings,
        _heads: SignalConsumers,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Receiver>>> {
        Box::pin(async { Ok(Box::new(NopReceiver) as Box<dyn Receiver>) })
    }
}

struct NopReceiver;

impl Receiver for NopReceiver {
    fn endpoints(&self) -> Vec<Endpoint> {
        Vec::new()
    }
    fn start(self: Box<Self>, _stop: &crate::net::Stop) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        Ok(Vec::new())
    }
}
