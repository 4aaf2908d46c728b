//! The `otelbox` storage exporter: flattens payloads into rows on a blocking worker, then queues
//! them for the single writer thread. The acks travel with the rows and settle after the commit.

use crate::config::{ComponentType, Parser, Settings};
use crate::exporter::{ExporterContext, ExporterFactory};
use crate::llm::prices::{ModelPrice, PriceTable};
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

/// How a signal's payload becomes rows (LLM spans costed from `prices`).
pub trait Storable: SignalData {
    fn into_rows(self, prices: &PriceTable) -> RowBatch;
}
impl Storable for ExportTraceServiceRequest {
    fn into_rows(self, prices: &PriceTable) -> RowBatch {
        rows::flatten_traces_priced(self, prices)
    }
}
impl Storable for ExportLogsServiceRequest {
    fn into_rows(self, _: &PriceTable) -> RowBatch {
        rows::flatten_logs(self)
    }
}
impl Storable for ExportMetricsServiceRequest {
    fn into_rows(self, _: &PriceTable) -> RowBatch {
        rows::flatten_metrics(self)
    }
}

/// The `otelbox` exporter's settings, which are the store's: they apply to the whole box.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StorageSettings {
    pub retention: Option<std::time::Duration>,
    pub max_db_size: Option<u64>,
    /// Model prices added to or replacing the shipped table's (`llm_prices`), for computed LLM costs.
    pub llm_prices: Vec<ModelPrice>,
}

impl StorageSettings {
    /// The shipped price table with this config's entries.
    pub fn price_table(&self) -> PriceTable {
        PriceTable::builtin()
            .with_overrides(self.llm_prices.clone())
            .expect("prices were checked when the config was parsed")
    }
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
    fn build(&self, context: &ExporterContext<'_>, settings: &Settings) -> anyhow::Result<SignalConsumers> {
        let prices = Arc::new(settings.get::<StorageSettings>().price_table());
        let exporter = StorageExporter::counted(context.store.clone(), context.counters.clone()).with_prices(prices);
        Ok(SignalConsumers::all(Arc::new(exporter)))
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> StorageSettings {
    let mut storage = StorageSettings::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return storage;
    };
    p.only_keys(body, &["retention", "max_db_size", "llm_prices"], path);
    if let Some(v) = body.get("retention") {
        storage.retention = p.duration(v, &format!("{path}.retention"));
    }
    if let Some(v) = body.get("max_db_size") {
        storage.max_db_size = p.size(v, &format!("{path}.max_db_size"));
    }
    if let Some(v) = body.get("llm_prices") {
        storage.llm_prices = llm_prices(p, v, &format!("{path}.llm_prices"));
    }
    storage
}

/// `llm_prices`: a list of `{model, provider, input, output, cache_read, cache_creation}`, in USD per
/// million tokens.
fn llm_prices(p: &mut Parser, value: &Value, path: &str) -> Vec<ModelPrice> {
    let Some(items) = value.as_sequence() else {
        p.error(
            path,
            "expected a list of {model, input, output, cache_read, cache_creation} prices (USD per 1M tokens)",
        );
        return Vec::new();
    };
    let mut prices = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let path = format!("{path}[{index}]");
        let Some(entry) = p.mapping(Some(item), &path) else { continue };
        p.only_keys(
            entry,
            &["model", "provider", "input", "output", "cache_read", "cache_creation"],
            &path,
        );
        let price = |key: &str, p: &mut Parser| {
            let value = entry.get(key)?;
            let number = p.float(value, &format!("{path}.{key}"))?;
            if number < 0.0 || !number.is_finite() {
                p.error(&format!("{path}.{key}"), "a price is a non-negative number of USD per 1M tokens");
                return None;
            }
            Some(number)
        };
        let (input, output) = (price("input", p), price("output", p));
        let (cache_read, cache_creation) = (price("cache_read", p), price("cache_creation", p));
        let model = entry.get("model").and_then(|v| p.string(v, &format!("{path}.model")));
        let provider = entry.get("provider").and_then(|v| p.string(v, &format!("{path}.provider")));
        match (model.filter(|m| !m.trim().is_empty()), input, output) {
            (Some(model), Some(input), Some(output)) => prices.push(ModelPrice {
                model,
                provider,
                input,
                output,
                cache_read,
                cache_creation,
            }),
            _ => p.error(&path, "a price needs model, input and output (USD per 1M tokens)"),
        }
    }
    prices
}

pub struct StorageExporter {
    store: Arc<Store>,
    counters: Option<crate::telemetry::PerSignal>,
    prices: Arc<PriceTable>,
}

impl StorageExporter {
    pub fn new(store: Arc<Store>) -> Self {
        StorageExporter {
            store,
            counters: None,
            prices: Arc::new(PriceTable::builtin().clone()),
        }
    }

    /// Counting what it hands to the writer as `sent` (the commit then settles the acks).
    pub fn counted(store: Arc<Store>, counters: crate::telemetry::PerSignal) -> Self {
        StorageExporter {
            counters: Some(counters),
            ..StorageExporter::new(store)
        }
    }

    /// Costing LLM calls from `prices` instead of the shipped table.
    pub fn with_prices(self, prices: Arc<PriceTable>) -> Self {
        StorageExporter { prices, ..self }
    }
}

impl<T: Storable> Consumer<T> for StorageExporter {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(async move {
            let Envelope { data, acks } = envelope;
            let items = data.item_count();
            let prices = self.prices.clone();
            let store = self.store.clone();
            let flatten = move || {
                let mut rows = data.into_rows(&prices);
                store.codec().compress_batch(&mut rows);
                rows
            };
            let rows = match tokio::task::spawn_blocking(flatten).await {
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
