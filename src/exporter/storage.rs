//! The `otelbox` storage exporter: flattens payloads into rows on a blocking worker, then queues
//! them for the single writer thread. The acks travel with the rows and settle after the commit.

use crate::pdata::SignalData;
use crate::pipeline::{Consumer, Envelope, PipelineError};
use crate::store::rows::{self, RowBatch};
use crate::store::Store;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
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

pub struct StorageExporter {
    store: Arc<Store>,
}

impl StorageExporter {
    pub fn new(store: Arc<Store>) -> Self {
        StorageExporter { store }
    }
}

impl<T: Storable> Consumer<T> for StorageExporter {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(async move {
            let Envelope { data, acks } = envelope;
            let rows = match tokio::task::spawn_blocking(move || data.into_rows()).await {
                Ok(rows) => rows,
                Err(_) => {
                    let err = PipelineError::retryable("internal error while preparing rows; retry later");
                    Envelope::<T> { data: T::default(), acks }.fail(&err);
                    return Err(err);
                }
            };
            self.store.write(rows, acks).await
        })
    }
}
