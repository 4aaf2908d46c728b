//! Inline item processing: the `ItemProcessor` trait (edit or drop items of a payload in place) and
//! `Inline`, which runs one in a pipeline and counts what it drops.

use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError, SharedConsumer};
use crate::telemetry::ComponentCounters;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::marker::PhantomData;
use std::sync::Arc;

/// A processor that edits or drops items of a payload in place, without waiting. A signal it does
/// not handle passes unchanged. Removing items is dropping them (the `Inline` wrapper counts them);
/// an `Err` refuses the whole payload (the `propagate` error mode).
pub trait ItemProcessor: Send + Sync + 'static {
    fn process_traces(&self, _data: &mut ExportTraceServiceRequest) -> Result<(), PipelineError> {
        Ok(())
    }
    fn process_metrics(&self, _data: &mut ExportMetricsServiceRequest) -> Result<(), PipelineError> {
        Ok(())
    }
    fn process_logs(&self, _data: &mut ExportLogsServiceRequest) -> Result<(), PipelineError> {
        Ok(())
    }
}

/// A processor that edits only resources (`resource`, `resourcedetection`): implementing this gives
/// it `ItemProcessor` for every signal. An absent resource is handed over as `None`.
pub trait ResourceEditor: Send + Sync + 'static {
    fn edit(&self, resource: &mut Option<Resource>);
}

impl<E: ResourceEditor> ItemProcessor for E {
    fn process_traces(&self, data: &mut ExportTraceServiceRequest) -> Result<(), PipelineError> {
        data.resource_spans.iter_mut().for_each(|r| self.edit(&mut r.resource));
        Ok(())
    }

    fn process_metrics(&self, data: &mut ExportMetricsServiceRequest) -> Result<(), PipelineError> {
        data.resource_metrics.iter_mut().for_each(|r| self.edit(&mut r.resource));
        Ok(())
    }

    fn process_logs(&self, data: &mut ExportLogsServiceRequest) -> Result<(), PipelineError> {
        data.resource_logs.iter_mut().for_each(|r| self.edit(&mut r.resource));
        Ok(())
    }
}

/// Runs an `ItemProcessor` in a pipeline: counts what it drops, settles the acks of a payload it
/// emptied (dropping on purpose is a deliberate discard, so the sender is told success), and
/// passes the rest on.
pub struct Inline<T> {
    processor: Arc<dyn ItemProcessor>,
    next: SharedConsumer<T>,
    counters: Arc<ComponentCounters>,
    signal: PhantomData<fn(T)>,
}

impl<T> Inline<T> {
    pub fn new(processor: Arc<dyn ItemProcessor>, next: SharedConsumer<T>, counters: Arc<ComponentCounters>) -> Self {
        Inline {
            processor,
            next,
            counters,
            signal: PhantomData,
        }
    }
}

impl<T: PipelineData> Consumer<T> for Inline<T> {
    fn consume(&self, mut envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(async move {
            let before = envelope.item_count();
            if let Err(error) = T::apply(&*self.processor, &mut envelope.data) {
                envelope.fail(&error);
                return Err(error);
            }
            let after = envelope.item_count();
            self.counters.record_dropped(before.saturating_sub(after));
            if after == 0 {
                envelope.commit();
                return Ok(());
            }
            self.next.consume(envelope).await
        })
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.next.shutdown()
    }
}
