//! The `otelbox` storage exporter: flattens payloads into rows on a blocking worker, then queues
//! them for the single writer thread. The acks travel with the rows and settle after the commit.

use crate::config::{ComponentType, Parser, Settings};
use crate::exporter::{ExporterContext, ExporterFactory};
use crate::pdata::{Signal, SignalData};
use crate::pipeline::ack::AckToken;
use crate::pipeline::{Consumer, Envelope, PipelineError, SignalConsumers};
use crate::store::rows::{self, RowBatch};
use crate::store::{Store, WriteDone, WriteRefused};
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_yaml_ng::Value;
use std::sync::Arc;

/// How a signal's payload becomes rows.
pub trait Storable: SignalData {
    fn into_rows(self) -> RowBatch;
}
impl Storable for ExportTraceServiceRequest {
    fn into_rows(self) -> RowBatch {
        rows::flatten_traces(self)
    }
}
impl Storable for ExportLogsServiceRequest {
    fn into_rows(self) -> RowBatch {
        rows::flatten_logs(self)
    }
}
impl Storable for ExportMetricsServiceRequest {
    fn into_rows(self) -> RowBatch {
        rows::flatten_metrics(self)
    }
}

/// The `otelbox` exporter's settings, which are the store's: they apply to the whole box.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StorageSettings {
    pub retention: Option<std::time::Duration>,
    pub max_db_size: Option<u64>,
}

pub struct Factory;

impl ComponentType for Factory {
    fn type_name(&self) -> &'static str {
        "otelbox"
    }
    fn signals(&self) -> &'static [Signal] {
        &Signal::ALL
    }
    /// otelbox has one store.
    fn unnamed_only(&self) -> bool {
        true
    }
    fn parse(&self, p: &mut Parser, value: &Value, path: &str) -> Settings {
        Settings::new(parse(p, value, path))
    }
}

impl ExporterFactory for Factory {
    fn build(&self, context: &ExporterContext<'_>, _settings: &Settings) -> anyhow::Result<SignalConsumers> {
        let exporter = StorageExporter::counted(context.store.clone(), context.counters.clone());
        Ok(SignalConsumers::all(Arc::new(exporter)))
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> StorageSettings {
    let mut storage = StorageSettings::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return storage;
    };
    p.only_keys(body, &["retention", "max_db_size"], path);
    if let Some(v) = body.get("retention") {
        storage.retention = p.duration(v, &format!("{path}.retention"));
    }
    if let Some(v) = body.get("max_db_size") {
        storage.max_db_size = p.size(v, &format!("{path}.max_db_size"));
    }
    storage
}

pub struct StorageExporter {
    store: Arc<Store>,
    counters: Option<crate::telemetry::PerSignal>,
}

impl StorageExporter {
    pub fn new(store: Arc<Store>) -> Self {
        StorageExporter { store, counters: None }
    }

    /// Counting what it hands to the writer as `sent` (the commit then settles the acks).
    pub fn counted(store: Arc<Store>, counters: crate::telemetry::PerSignal) -> Self {
        StorageExporter {
            store,
            counters: Some(counters),
        }
    }
}

impl<T: Storable> Consumer<T> for StorageExporter {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(async move {
            let Envelope { data, acks } = envelope;
            let items = data.item_count();
            let rows = match tokio::task::spawn_blocking(move || data.into_rows()).await {
                Ok(rows) => rows,
                Err(_) => {
                    let err = PipelineError::retryable("internal error while preparing rows; retry later");
                    Envelope::<T> { data: T::default(), acks }.fail(&err);
                    return Err(err);
                }
            };
            // The acks settle when the writer has committed (or refused) the rows.
            let done: WriteDone = Box::new(move |outcome| match outcome {
                Ok(()) => acks.into_iter().for_each(AckToken::commit),
                Err(refusal) => {
                    let error = retryable(refusal);
                    acks.into_iter().for_each(|ack| ack.fail(error.clone()));
                }
            });
            self.store.write(rows, done).await.map_err(retryable)?;
            if let Some(counters) = &self.counters {
                counters.get(T::SIGNAL).record_sent(items);
            }
            Ok(())
        })
    }
}

/// The store's refusals are all worth retrying.
fn retryable(refusal: WriteRefused) -> PipelineError {
    PipelineError::Retryable {
        message: refusal.message,
        retry_after: refusal.retry_after,
    }
}
