//! Builds the running topology from a `Config`: one chain per pipeline (its own processor instances,
//! in order, then its exporters), exporters and connectors shared between pipelines, and for each
//! receiver and signal the head that fans out to the pipelines listing that receiver. Every stage is
//! wrapped in counting taps for the per-component counters.
//!
//! Shutdown runs in data-flow order: traces pipelines flush first, then connectors (span metrics
//! flush into metrics pipelines), then metrics and logs pipelines, and the shared exporters last.

use crate::config::{ComponentId, Config, ConnectorSettings, ExporterSettings, Pipeline, ProcessorSettings};
use crate::connector::spanmetrics::SpanMetricsConnector;
use crate::exporter::storage::StorageExporter;
use crate::exporter::{debug, file, otlp, otlphttp};
use crate::pdata::{Signal, SignalData};
use crate::pipeline::{Consumer, Envelope, FanOut, PipelineData, PipelineError, Shared, SharedConsumer, Tap};
use crate::processor::batch::BatchProcessor;
use crate::processor::memory_limiter::{MemoryGauge, MemoryLimiter};
use crate::processor::tail_sampling::TailSampler;
use crate::processor::{attributes, filter, probabilistic_sampler, redaction, transform, Inline, ItemProcessor};
use crate::store::Store;
use crate::telemetry::{Components, PerSignal};
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The consumers one receiver hands its data to, one per signal.
#[derive(Clone)]
pub struct Heads {
    pub traces: SharedConsumer<ExportTraceServiceRequest>,
    pub metrics: SharedConsumer<ExportMetricsServiceRequest>,
    pub logs: SharedConsumer<ExportLogsServiceRequest>,
}

pub struct Topology {
    pub otlp: Heads,
    /// Present when a pipeline lists the zipkin receiver.
    pub zipkin: Option<SharedConsumer<ExportTraceServiceRequest>>,
    /// One gauge per configured memory_limiter, by id.
    pub gauges: BTreeMap<String, Arc<MemoryGauge>>,
    traces: Vec<SharedConsumer<ExportTraceServiceRequest>>,
    connectors: Vec<SharedConsumer<ExportTraceServiceRequest>>,
    metrics: Vec<SharedConsumer<ExportMetricsServiceRequest>>,
    logs: Vec<SharedConsumer<ExportLogsServiceRequest>>,
    exporters: Vec<ExporterInstance>,
}

/// What the builder needs besides the config.
pub struct Resources<'a> {
    pub store: &'a Arc<Store>,
    /// Where persistent sending queues live; None for an in-memory box.
    pub data_dir: Option<PathBuf>,
    pub components: &'a Components,
}

enum ExporterInstance {
    Storage(Arc<StorageExporter>),
    Otlp(Arc<otlp::OtlpExporter>),
    OtlpHttp(Arc<otlphttp::OtlpHttpExporter>),
    Debug(Arc<debug::DebugExporter>),
    File(Arc<file::FileExporter>),
}

impl ExporterInstance {
    fn consumer<T: PipelineData>(&self) -> SharedConsumer<T> {
        match self {
            ExporterInstance::Storage(e) => e.clone(),
            ExporterInstance::Otlp(e) => e.clone(),
            ExporterInstance::OtlpHttp(e) => e.clone(),
            ExporterInstance::Debug(e) => e.clone(),
            ExporterInstance::File(e) => e.clone(),
        }
    }
}

struct Builder<'a> {
    config: &'a Config,
    resources: &'a Resources<'a>,
    gauges: BTreeMap<String, Arc<MemoryGauge>>,
    exporters: BTreeMap<ComponentId, (ExporterInstance, PerSignal)>,
    connectors: BTreeMap<ComponentId, SharedConsumer<ExportTraceServiceRequest>>,
}

impl Topology {
    pub fn build(config: &Config, resources: &Resources<'_>) -> anyhow::Result<Topology> {
        let gauges = config
            .processors
            .iter()
            .filter_map(|(id, settings)| match settings {
                ProcessorSettings::MemoryLimiter(limits) => Some((id.to_string(), MemoryGauge::start(limits))),
                _ => None,
            })
            .collect();
        let mut builder = Builder {
            config,
            resources,
            gauges,
            exporters: BTreeMap::new(),
            connectors: BTreeMap::new(),
        };
        for (id, settings) in &config.exporters {
            if config.pipelines.iter().any(|p| p.exporters.contains(id)) {
                let counters = PerSignal::register(resources.components, "*", &format!("exporter/{id}"));
                let instance = builder.exporter(id, settings, counters.clone())?;
                builder.exporters.insert(id.clone(), (instance, counters));
            }
        }
        // Connectors feed metrics pipelines, so those are built before the traces pipelines.
        let metrics = builder.chains::<ExportMetricsServiceRequest>();
        let logs = builder.chains::<ExportLogsServiceRequest>();
        for (id, connector) in &config.connectors {
            let ConnectorSettings::SpanMetrics(settings) = connector;
            let output = heads_for(id, &metrics);
            let counters = resources.components.register("*", &format!("connector/{id}"), Signal::Traces);
            let instance: SharedConsumer<ExportTraceServiceRequest> =
                Arc::new(SpanMetricsConnector::new(id, settings, output, counters.clone()));
            builder.connectors.insert(id.clone(), Arc::new(Tap::entry(instance, counters)));
        }
        let traces = builder.chains::<ExportTraceServiceRequest>();
        // The one otlp receiver, whatever its name (`otlp` or `otlp/in`).
        let otlp_id = config
            .pipelines
            .iter()
            .flat_map(|p| &p.receivers)
            .find(|r| r.kind == "otlp")
            .cloned()
            .unwrap_or(ComponentId {
                kind: "otlp".into(),
                name: None,
            });
        let zipkin_id = config
            .pipelines
            .iter()
            .flat_map(|p| &p.receivers)
            .find(|r| r.kind == "zipkin")
            .cloned();
        Ok(Topology {
            otlp: Heads {
                traces: heads_for(&otlp_id, &traces),
                metrics: heads_for(&otlp_id, &metrics),
                logs: heads_for(&otlp_id, &logs),
            },
            zipkin: zipkin_id.map(|id| heads_for(&id, &traces)),
            gauges: builder.gauges,
            traces: traces.into_iter().map(|(_, chain)| chain).collect(),
            connectors: builder.connectors.into_values().collect(),
            metrics: metrics.into_iter().map(|(_, chain)| chain).collect(),
            logs: logs.into_iter().map(|(_, chain)| chain).collect(),
            exporters: builder.exporters.into_values().map(|(instance, _)| instance).collect(),
        })
    }

    /// Flushes everything in data-flow order (see the module docs).
    pub async fn shutdown(&self) {
        for chain in &self.traces {
            chain.shutdown().await;
        }
        for connector in &self.connectors {
            connector.shutdown().await;
        }
        for chain in &self.metrics {
            chain.shutdown().await;
        }
        for chain in &self.logs {
            chain.shutdown().await;
        }
        for exporter in &self.exporters {
            // Shared exporters are shut down once, through their traces side.
            exporter.consumer::<ExportTraceServiceRequest>().shutdown().await;
        }
    }
}

/// The head for a receiver: the chains of the pipelines listing it, fanned out.
fn heads_for<T: PipelineData>(receiver: &ComponentId, chains: &[(&Pipeline, SharedConsumer<T>)]) -> SharedConsumer<T> {
    let mine: Vec<SharedConsumer<T>> = chains
        .iter()
        .filter(|(pipeline, _)| pipeline.receivers.contains(receiver))
        .map(|(_, chain)| Arc::new(Shared(chain.clone())) as SharedConsumer<T>)
        .collect();
    fan_out(mine, T::SIGNAL)
}

fn fan_out<T: SignalData>(mut consumers: Vec<SharedConsumer<T>>, signal: Signal) -> SharedConsumer<T> {
    match consumers.len() {
        0 => Arc::new(NoPipeline(signal)),
        1 => consumers.pop().expect("one consumer"),
        _ => Arc::new(FanOut::new(consumers)),
    }
}

impl<'a> Builder<'a> {
    fn exporter(&self, id: &ComponentId, settings: &ExporterSettings, counters: PerSignal) -> anyhow::Result<ExporterInstance> {
        let dir = self.resources.data_dir.as_deref();
        Ok(match settings {
            ExporterSettings::Otelbox => {
                ExporterInstance::Storage(Arc::new(StorageExporter::counted(self.resources.store.clone(), counters)))
            }
            ExporterSettings::Otlp(c) => ExporterInstance::Otlp(Arc::new(otlp::OtlpExporter::new(id, c, dir, counters)?)),
            ExporterSettings::OtlpHttp(c) => ExporterInstance::OtlpHttp(Arc::new(otlphttp::OtlpHttpExporter::new(id, c, dir, counters)?)),
            ExporterSettings::Debug(c) => ExporterInstance::Debug(Arc::new(debug::DebugExporter::new(id, c, dir, counters)?)),
            ExporterSettings::File(c) => ExporterInstance::File(Arc::new(file::FileExporter::new(id, c, dir, counters)?)),
        })
    }

    /// The chains of every pipeline of signal `T`, with the pipeline each belongs to.
    fn chains<T: PipelineData>(&mut self) -> Vec<(&'a Pipeline, SharedConsumer<T>)> {
        let config = self.config;
        config
            .pipelines
            .iter()
            .filter(|p| p.signal == T::SIGNAL)
            .map(|pipeline| (pipeline, self.chain::<T>(pipeline)))
            .collect()
    }

    fn chain<T: PipelineData>(&mut self, pipeline: &Pipeline) -> SharedConsumer<T> {
        let exporters: Vec<SharedConsumer<T>> = pipeline
            .exporters
            .iter()
            .map(|id| -> SharedConsumer<T> {
                if let Some((instance, counters)) = self.exporters.get(id) {
                    let tapped = Tap::entry(instance.consumer::<T>(), counters.get(T::SIGNAL).clone());
                    Arc::new(Shared(Arc::new(tapped)))
                } else {
                    let connector = self.connectors[id].clone();
                    T::from_traces_consumer(Arc::new(Shared(connector))).expect("validated: connectors take traces")
                }
            })
            .collect();
        let mut next = fan_out(exporters, T::SIGNAL);
        for id in pipeline.processors.iter().rev() {
            let counters = self
                .resources
                .components
                .register(&pipeline.id, &format!("processor/{id}"), T::SIGNAL);
            let out: SharedConsumer<T> = Arc::new(Tap::exit(next, counters.clone()));
            let inline = |processor: Arc<dyn ItemProcessor>| -> SharedConsumer<T> {
                Arc::new(Inline::new(processor, out.clone(), counters.clone()))
            };
            let stage: SharedConsumer<T> = match &self.config.processors[id] {
                ProcessorSettings::Batch(s) => Arc::new(BatchProcessor::new(s.clone(), out.clone())),
                ProcessorSettings::MemoryLimiter(_) => Arc::new(MemoryLimiter::new(self.gauges[&id.to_string()].clone(), out.clone())),
                ProcessorSettings::Attributes(s) => inline(Arc::new(attributes::AttributesProcessor::new(id, s))),
                ProcessorSettings::Resource(s) => inline(Arc::new(attributes::ResourceProcessor::new(id, s))),
                ProcessorSettings::Filter(s) => inline(Arc::new(filter::FilterProcessor::new(id, s))),
                ProcessorSettings::Transform(s) => inline(Arc::new(transform::TransformProcessor::new(id, s))),
                ProcessorSettings::Redaction(s) => inline(Arc::new(redaction::RedactionProcessor::new(id, s))),
                ProcessorSettings::ProbabilisticSampler(s) => inline(Arc::new(probabilistic_sampler::ProbabilisticSampler::new(id, s))),
                ProcessorSettings::TailSampling(s) => {
                    let out = T::as_traces_consumer(out.clone()).expect("validated: tail_sampling only in traces pipelines");
                    let sampler = Arc::new(TailSampler::new(id, s, out, counters.clone()));
                    T::from_traces_consumer(sampler).expect("validated: tail_sampling only in traces pipelines")
                }
            };
            next = Arc::new(Tap::entry(stage, counters));
        }
        next
    }
}

/// The consumer of a signal no pipeline takes from a receiver: senders get a permanent error.
struct NoPipeline(Signal);

impl<T: SignalData> Consumer<T> for NoPipeline {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        let error = PipelineError::permanent(format!(
            "this otelbox's config has no {} pipeline for this receiver, so it does not accept {}",
            self.0.as_str(),
            self.0.as_str()
        ));
        envelope.fail(&error);
        Box::pin(async move { Err(error) })
    }
}
