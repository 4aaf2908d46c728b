//! The service: builds what a validated `Config` describes from the registry's factories and runs
//! it in order. Start-up: extensions (in `service.extensions` order; an exporter whose settings name
//! a storage extension keeps its queue in that extension's directory, and one whose `auth` names a
//! client authenticator sends the `Authorization` value it makes), then the pipelines (a chain
//! per pipeline: its own processor instances, then its exporters; exporters and connectors built
//! once and shared; a connector after every pipeline it feeds and before every pipeline feeding
//! it), then every receiver, each feeding the pipelines that list it. Every stage is wrapped in
//! counting taps for the per-component counters.
//!
//! Shutdown runs in data-flow order: receivers stop taking data (the app), then pipelines and
//! connectors upstream first (a traces pipeline flushes into span metrics, which flush into a
//! metrics pipeline), then the shared exporters, and the extensions last.

use crate::components::{find, REGISTRY};
use crate::config::{ComponentId, ComponentType, Config, Kind, Pipeline, Settings};
use crate::connector::ConnectorOutput;
use crate::exporter::{ExporterContext, AUTHENTICATOR_REF};
use crate::extension::Extensions;
use crate::extension::StorageDir;
use crate::memory::{MemoryGauge, MemoryGauges};
use crate::pdata::Signal;
use crate::pipeline::{FanOut, Inline, NoPipeline, PipelineData, Shared, SharedConsumer, SignalConsumers, Tap};
use crate::processor::{ProcessorContext, Stage};
use crate::receiver::{Receiver, ReceiverHost};
use crate::store::Store;
use crate::telemetry::{ComponentCounters, Components, PerSignal};
use anyhow::Context;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What the builder needs besides the config.
pub struct Resources<'a> {
    pub store: &'a Arc<Store>,
    /// Where persistent sending queues live; None for an in-memory box.
    pub data_dir: Option<PathBuf>,
    pub components: &'a Components,
    /// The running extensions (storage directories for exporters).
    pub extensions: &'a Extensions,
}

/// The built pipelines.
pub struct Topology {
    /// The consumers each receiver (by id) hands its data to, per signal.
    heads: BTreeMap<ComponentId, SignalConsumers>,
    gauges: MemoryGauges,
    /// Pipelines' chains and connectors, upstream first (the order they shut down in).
    stages: Vec<SignalConsumers>,
    exporters: Vec<SignalConsumers>,
}

struct Builder<'a> {
    config: &'a Config,
    resources: &'a Resources<'a>,
    gauges: MemoryGauges,
    /// Exporters' consumers and their counters, by id.
    exporters: BTreeMap<ComponentId, (SignalConsumers, PerSignal)>,
    /// Connectors' input consumers, by id.
    connectors: BTreeMap<ComponentId, SignalConsumers>,
}

impl Topology {
    pub fn build(config: &Config, resources: &Resources<'_>) -> anyhow::Result<Topology> {
        let mut builder = Builder {
            config,
            resources,
            gauges: MemoryGauges::default(),
            exporters: BTreeMap::new(),
            connectors: BTreeMap::new(),
        };
        for id in config.used(Kind::Exporter) {
            let (factory, settings) = lookup(REGISTRY.exporters, config, Kind::Exporter, id)?;
            let counters = PerSignal::register(resources.components, "*", &format!("exporter/{id}"));
            // A storage extension its settings name holds its files instead of the data directory;
            // the client authenticator its `auth` names makes the Authorization value it sends.
            let mut storage = None;
            let mut authorization = None;
            for (at, ext) in factory.extension_refs(settings) {
                if at == AUTHENTICATOR_REF {
                    let value = resources
                        .extensions
                        .client_authorization(&ext)
                        .map_err(|e| anyhow::anyhow!("exporters.{id}.{at}: {e}"))?;
                    authorization = Some(value);
                    continue;
                }
                match resources.extensions.storage(&ext) {
                    Some(dir) => storage = Some(dir),
                    None => anyhow::bail!("exporters.{id}.{at}: extension \"{ext}\" is not a storage extension (such as file_storage)"),
                }
            }
            let context = ExporterContext {
                id,
                store: resources.store,
                queue_dir: storage.or_else(|| resources.data_dir.as_deref().map(StorageDir::new)),
                counters: counters.clone(),
                authorization,
            };
            let consumers = factory.build(&context, settings).with_context(|| format!("exporter {id}"))?;
            builder.exporters.insert(id.clone(), (consumers, counters));
        }
        // A connector is built after every pipeline it feeds and before every pipeline feeding it
        // (the config refuses cycles): pipelines and connectors in dependency order, downstream first.
        let mut pipelines: BTreeMap<&str, SignalConsumers> = BTreeMap::new();
        let mut stages: Vec<SignalConsumers> = Vec::new();
        let mut pending_pipelines: Vec<&Pipeline> = config.pipelines.iter().collect();
        let mut pending_connectors: Vec<&ComponentId> = config.used(Kind::Connector);
        while !pending_pipelines.is_empty() || !pending_connectors.is_empty() {
            let before = pending_pipelines.len() + pending_connectors.len();
            let mut waiting = Vec::new();
            for pipeline in pending_pipelines {
                let ready = pipeline
                    .exporters
                    .iter()
                    .all(|id| config.component(Kind::Connector, id).is_none() || builder.connectors.contains_key(id));
                if !ready {
                    waiting.push(pipeline);
                    continue;
                }
                let chain = match pipeline.signal {
                    Signal::Traces => SignalConsumers {
                        traces: Some(builder.chain::<ExportTraceServiceRequest>(pipeline)?),
                        ..Default::default()
                    },
                    Signal::Metrics => SignalConsumers {
                        metrics: Some(builder.chain::<ExportMetricsServiceRequest>(pipeline)?),
                        ..Default::default()
                    },
                    Signal::Logs => SignalConsumers {
                        logs: Some(builder.chain::<ExportLogsServiceRequest>(pipeline)?),
                        ..Default::default()
                    },
                };
                stages.push(chain.clone());
                pipelines.insert(&pipeline.id, chain);
            }
            pending_pipelines = waiting;
            let mut waiting = Vec::new();
            for id in pending_connectors {
                let feeds: Vec<&Pipeline> = config.pipelines.iter().filter(|p| p.receivers.contains(id)).collect();
                if !feeds.iter().all(|p| pipelines.contains_key(p.id.as_str())) {
                    waiting.push(id);
                    continue;
                }
                let output = ConnectorOutput {
                    pipelines: feeds.iter().map(|p| (p.id.clone(), pipelines[p.id.as_str()].clone())).collect(),
                };
                let connector = builder.connector(id, &output)?;
                stages.push(connector.clone());
                builder.connectors.insert(id.clone(), connector);
            }
            pending_connectors = waiting;
            if pending_pipelines.len() + pending_connectors.len() == before {
                anyhow::bail!("the pipelines and connectors form a cycle");
            }
        }
        let heads = config
            .used(Kind::Receiver)
            .into_iter()
            .map(|id| {
                let mine = |signal: Signal| {
                    config
                        .pipelines
                        .iter()
                        .filter(move |p| p.signal == signal && p.receivers.contains(id))
                };
                let heads = SignalConsumers {
                    traces: fan_in(mine(Signal::Traces).filter_map(|p| pipelines[p.id.as_str()].traces.clone())),
                    metrics: fan_in(mine(Signal::Metrics).filter_map(|p| pipelines[p.id.as_str()].metrics.clone())),
                    logs: fan_in(mine(Signal::Logs).filter_map(|p| pipelines[p.id.as_str()].logs.clone())),
                };
                (id.clone(), heads)
            })
            .collect();
        // Shut down upstream first: the reverse of the build order.
        stages.reverse();
        Ok(Topology {
            heads,
            gauges: builder.gauges,
            stages,
            exporters: builder.exporters.into_values().map(|(consumers, _)| consumers).collect(),
        })
    }

    /// The consumers receiver `id` feeds (none for a receiver no pipeline lists).
    pub fn heads(&self, id: &ComponentId) -> SignalConsumers {
        self.heads.get(id).cloned().unwrap_or_default()
    }

    /// The first memory_limiter's gauge, which receivers check before decoding.
    pub fn memory_gauge(&self) -> Option<Arc<MemoryGauge>> {
        self.gauges.first()
    }

    /// Flushes everything in data-flow order (see the module docs).
    pub async fn shutdown(&self) {
        for stage in &self.stages {
            stage.shutdown().await;
        }
        for exporter in &self.exporters {
            exporter.shutdown().await;
        }
    }
}

/// Builds and starts the extensions `service.extensions` enables, in its order.
pub async fn start_extensions(config: &Config) -> anyhow::Result<Extensions> {
    let mut built = Vec::new();
    for id in &config.extensions {
        let (factory, settings) = lookup(REGISTRY.extensions, config, Kind::Extension, id)?;
        built.push((id.clone(), factory.build(id, settings).with_context(|| format!("extension {id}"))?));
    }
    Extensions::start(built).await
}

/// Builds every receiver a pipeline lists, binding its listeners. The extensions they name are
/// checked first, so a wrong one stops start-up before any port is bound.
pub async fn build_receivers(config: &Config, topology: &Topology, host: &ReceiverHost) -> anyhow::Result<Vec<Box<dyn Receiver>>> {
    let used: Vec<_> = config
        .used(Kind::Receiver)
        .into_iter()
        .map(|id| lookup(REGISTRY.receivers, config, Kind::Receiver, id).map(|(factory, settings)| (id, factory, settings)))
        .collect::<anyhow::Result<_>>()?;
    for (id, factory, settings) in &used {
        for (at, ext) in factory.extension_refs(settings) {
            host.extensions
                .authenticator(&ext)
                .with_context(|| format!("receivers.{id}.{at}"))?;
        }
    }
    let mut receivers = Vec::new();
    for (id, factory, settings) in used {
        receivers.push(factory.build(host, id, settings, topology.heads(id)).await?);
    }
    Ok(receivers)
}

/// The factory of a configured component and its settings (validation made sure both exist).
fn lookup<'c, F: ?Sized + ComponentType>(
    list: &'static [&'static F],
    config: &'c Config,
    kind: Kind,
    id: &ComponentId,
) -> anyhow::Result<(&'static F, &'c Settings)> {
    let factory = find(list, &id.kind).with_context(|| format!("no {} type {}", kind.as_str(), id.kind))?;
    let component = config
        .component(kind, id)
        .with_context(|| format!("{} {id} is not configured", kind.as_str()))?;
    Ok((factory, &component.settings))
}

/// The head for a receiver: the chains of the pipelines listing it, fanned out; None when none does.
fn fan_in<T: PipelineData>(chains: impl Iterator<Item = SharedConsumer<T>>) -> Option<SharedConsumer<T>> {
    let mut mine: Vec<SharedConsumer<T>> = chains.map(|chain| Arc::new(Shared(chain)) as SharedConsumer<T>).collect();
    match mine.len() {
        0 => None,
        1 => mine.pop(),
        _ => Some(Arc::new(FanOut::new(mine))),
    }
}

impl<'a> Builder<'a> {
    /// Builds connector `id` feeding `output`, each input it takes counted under its own signal.
    fn connector(&self, id: &ComponentId, output: &ConnectorOutput) -> anyhow::Result<SignalConsumers> {
        let config = self.config;
        let (factory, settings) = lookup(REGISTRY.connectors, config, Kind::Connector, id)?;
        let takes: Vec<Signal> = Signal::ALL
            .into_iter()
            .filter(|s| config.pipelines.iter().any(|p| p.signal == *s && p.exporters.contains(id)))
            .collect();
        // Counters for the signals it takes; the others stay unregistered (nothing to show).
        let counters_of = |signal: Signal| {
            if takes.contains(&signal) {
                self.resources.components.register("*", &format!("connector/{id}"), signal)
            } else {
                Arc::new(ComponentCounters::new("*", &format!("connector/{id}"), signal))
            }
        };
        let counters = PerSignal {
            traces: counters_of(Signal::Traces),
            metrics: counters_of(Signal::Metrics),
            logs: counters_of(Signal::Logs),
        };
        let consumers = factory
            .build(id, settings, output, &counters)
            .with_context(|| format!("connector {id}"))?;
        let tap = |signal: Signal| takes.contains(&signal).then(|| counters.get(signal).clone());
        Ok(SignalConsumers {
            traces: consumers
                .traces
                .zip(tap(Signal::Traces))
                .map(|(c, n)| Arc::new(Tap::entry(c, n)) as SharedConsumer<_>),
            metrics: consumers
                .metrics
                .zip(tap(Signal::Metrics))
                .map(|(c, n)| Arc::new(Tap::entry(c, n)) as SharedConsumer<_>),
            logs: consumers
                .logs
                .zip(tap(Signal::Logs))
                .map(|(c, n)| Arc::new(Tap::entry(c, n)) as SharedConsumer<_>),
        })
    }

    fn chain<T: PipelineData>(&mut self, pipeline: &Pipeline) -> anyhow::Result<SharedConsumer<T>> {
        let mut exporters: Vec<SharedConsumer<T>> = Vec::new();
        for id in &pipeline.exporters {
            let consumer = if let Some((consumers, counters)) = self.exporters.get(id) {
                let consumer = consumers.get::<T>().cloned();
                consumer.map(|c| Arc::new(Tap::entry(c, counters.get(T::SIGNAL).clone())) as SharedConsumer<T>)
            } else {
                self.connectors.get(id).and_then(|c| c.get::<T>().cloned())
            };
            let consumer = consumer.with_context(|| format!("pipeline {}: {id} does not take {}", pipeline.id, T::SIGNAL.as_str()))?;
            exporters.push(Arc::new(Shared(consumer)));
        }
        let mut next: SharedConsumer<T> = match exporters.len() {
            0 => Arc::new(NoPipeline),
            1 => exporters.pop().expect("one exporter"),
            _ => Arc::new(FanOut::new(exporters)),
        };
        for id in pipeline.processors.iter().rev() {
            let (factory, settings) = lookup(REGISTRY.processors, self.config, Kind::Processor, id)?;
            let counters = self
                .resources
                .components
                .register(&pipeline.id, &format!("processor/{id}"), T::SIGNAL);
            let out: SharedConsumer<T> = Arc::new(Tap::exit(next, counters.clone()));
            let context = ProcessorContext {
                id,
                counters: &counters,
                gauges: &self.gauges,
            };
            let stage: SharedConsumer<T> = match factory
                .build(&context, settings, T::into_any(out.clone()))
                .with_context(|| format!("processor {id} in pipeline {}", pipeline.id))?
            {
                Stage::Items(processor) => Arc::new(Inline::new(processor, out, counters.clone())),
                Stage::Consumer(consumer) => {
                    T::from_any(consumer).with_context(|| format!("processor {id} built a stage of another signal"))?
                }
            };
            next = Arc::new(Tap::entry(stage, counters));
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod compliance;
