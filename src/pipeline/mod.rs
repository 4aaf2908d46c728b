//! The pipeline skeleton shared by every signal: the data envelope, typed errors, the `Consumer`
//! trait that processors and exporters implement, fan-out, counting taps, and the signal-erased
//! consumer types component factories exchange. Processors run inline (so refusals reach the OTLP
//! answer); exporters sit behind bounded queues. The topology that wires them is `crate::service`.

pub mod ack;
pub mod item;

pub use item::{Inline, ItemProcessor, ResourceEditor};

use crate::pdata::SignalData;
use ack::AckToken;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// Data plus the acknowledgement tokens of the requests it came from.
pub struct Envelope<T> {
    pub data: T,
    pub acks: Vec<AckToken>,
}

impl<T: SignalData> Envelope<T> {
    pub fn new(data: T, ack: AckToken) -> Self {
        Envelope { data, acks: vec![ack] }
    }
    pub fn unacked(data: T) -> Self {
        Envelope { data, acks: Vec::new() }
    }
    pub fn item_count(&self) -> usize {
        self.data.item_count()
    }
    /// Settle every token with this error (the rule: whoever returns Err fails the acks first).
    pub fn fail(self, error: &PipelineError) {
        for ack in self.acks {
            ack.fail(error.clone());
        }
    }
    pub fn commit(self) {
        for ack in self.acks {
            ack.commit();
        }
    }
    pub fn merge(&mut self, other: Envelope<T>) {
        self.data.merge(other.data);
        self.acks.extend(other.acks);
    }
    /// Move up to `max_items` items into a new envelope that shares this one's acks.
    pub fn split_off(&mut self, max_items: usize) -> Envelope<T> {
        let data = self.data.split_off_items(max_items);
        let acks = self.acks.iter().map(AckToken::split).collect();
        Envelope { data, acks }
    }
}

/// Why data could not be accepted. Retryable errors become 503/UNAVAILABLE; permanent ones 400.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PipelineError {
    #[error("{message}")]
    Retryable { message: String, retry_after: Duration },
    #[error("{message}")]
    Permanent { message: String },
}

impl PipelineError {
    pub fn retryable(message: impl Into<String>) -> Self {
        PipelineError::Retryable {
            message: message.into(),
            retry_after: Duration::from_secs(1),
        }
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        PipelineError::Permanent { message: message.into() }
    }
    pub fn is_retryable(&self) -> bool {
        matches!(self, PipelineError::Retryable { .. })
    }
}

/// Anything data can be handed to: a processor (which forwards to its next consumer) or an exporter.
pub trait Consumer<T>: Send + Sync {
    /// Take the envelope. `Err` means refused now (and the envelope's acks have been failed);
    /// `Ok` means accepted into the pipeline, with the final outcome reported through the acks.
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>>;
    /// Flush and stop, in pipeline order; called once at shutdown.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

pub type SharedConsumer<T> = Arc<dyn Consumer<T>>;

/// Sends every envelope to several consumers; the acks complete when all of them have settled.
pub struct FanOut<T> {
    consumers: Vec<SharedConsumer<T>>,
}

impl<T> FanOut<T> {
    pub fn new(consumers: Vec<SharedConsumer<T>>) -> Self {
        FanOut { consumers }
    }
}

impl<T: SignalData> Consumer<T> for FanOut<T> {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(async move {
            let Some((last, rest)) = self.consumers.split_last() else {
                envelope.commit();
                return Ok(());
            };
            let mut first_error = None;
            for consumer in rest {
                let copy = Envelope {
                    data: envelope.data.clone(),
                    acks: envelope.acks.iter().map(AckToken::split).collect(),
                };
                if let Err(e) = consumer.consume(copy).await {
                    first_error.get_or_insert(e);
                }
            }
            if let Err(e) = last.consume(envelope).await {
                first_error.get_or_insert(e);
            }
            first_error.map_or(Ok(()), Err)
        })
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            for consumer in &self.consumers {
                consumer.shutdown().await;
            }
        })
    }
}

/// A signal's payload as the configurable pipeline handles it: encodable as OTLP protobuf and
/// JSON, processable by inline processors, and convertible to and from the signal-erased consumer
/// types the component factories deal in (`AnyConsumer`, `SignalConsumers`).
pub trait PipelineData: SignalData + prost::Message {
    /// The OTLP/JSON form (the file exporter's lines, `otlphttp` with `encoding: json`).
    fn to_otlp_json(&self) -> serde_json::Value;
    /// Runs an inline processor on this signal's payload.
    fn apply(processor: &dyn ItemProcessor, data: &mut Self) -> Result<(), PipelineError>;
    fn into_any(consumer: SharedConsumer<Self>) -> AnyConsumer;
    /// `Some` when `consumer` takes this signal.
    fn from_any(consumer: AnyConsumer) -> Option<SharedConsumer<Self>>;
    /// This signal's consumer of a set, if it has one.
    fn select(set: &SignalConsumers) -> Option<&SharedConsumer<Self>>;
}

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

/// A consumer of one signal, the signal known only at run time: what a processor factory is given
/// to forward to and returns.
#[derive(Clone)]
pub enum AnyConsumer {
    Traces(SharedConsumer<ExportTraceServiceRequest>),
    Metrics(SharedConsumer<ExportMetricsServiceRequest>),
    Logs(SharedConsumer<ExportLogsServiceRequest>),
}

/// Wraps a consumer of whichever signal `$next` carries with the same generic stage:
/// `map_any_consumer!(next, n => Arc::new(BatchProcessor::new(settings.clone(), n)))`.
#[macro_export]
macro_rules! map_any_consumer {
    ($next:expr, $n:ident => $wrap:expr) => {
        match $next {
            $crate::pipeline::AnyConsumer::Traces($n) => $crate::pipeline::AnyConsumer::Traces($wrap),
            $crate::pipeline::AnyConsumer::Metrics($n) => $crate::pipeline::AnyConsumer::Metrics($wrap),
            $crate::pipeline::AnyConsumer::Logs($n) => $crate::pipeline::AnyConsumer::Logs($wrap),
        }
    };
}

/// A component's consumers, one per signal it takes: an exporter's or a connector's inputs, a
/// receiver's or a connector's outputs (the heads of the pipelines it feeds).
#[derive(Clone, Default)]
pub struct SignalConsumers {
    pub traces: Option<SharedConsumer<ExportTraceServiceRequest>>,
    pub metrics: Option<SharedConsumer<ExportMetricsServiceRequest>>,
    pub logs: Option<SharedConsumer<ExportLogsServiceRequest>>,
}

impl SignalConsumers {
    /// One component that takes every signal.
    pub fn all<C>(component: Arc<C>) -> SignalConsumers
    where
        C: Consumer<ExportTraceServiceRequest> + Consumer<ExportMetricsServiceRequest> + Consumer<ExportLogsServiceRequest> + 'static,
    {
        SignalConsumers {
            traces: Some(component.clone()),
            metrics: Some(component.clone()),
            logs: Some(component),
        }
    }

    pub fn get<T: PipelineData>(&self) -> Option<&SharedConsumer<T>> {
        T::select(self)
    }

    /// Shuts the component down once, through any one of its consumers (they are one component).
    pub async fn shutdown(&self) {
        if let Some(c) = &self.traces {
            c.shutdown().await
        } else if let Some(c) = &self.metrics {
            c.shutdown().await
        } else if let Some(c) = &self.logs {
            c.shutdown().await
        }
    }
}

macro_rules! pipeline_data {
    ($type:ty, $variant:ident, $field:ident, $encode:path, $process:ident) => {
        impl PipelineData for $type {
            fn to_otlp_json(&self) -> serde_json::Value {
                $encode(self)
            }
            fn apply(processor: &dyn ItemProcessor, data: &mut Self) -> Result<(), PipelineError> {
                processor.$process(data)
            }
            fn into_any(consumer: SharedConsumer<Self>) -> AnyConsumer {
                AnyConsumer::$variant(consumer)
            }
            fn from_any(consumer: AnyConsumer) -> Option<SharedConsumer<Self>> {
                match consumer {
                    AnyConsumer::$variant(c) => Some(c),
                    _ => None,
                }
            }
            fn select(set: &SignalConsumers) -> Option<&SharedConsumer<Self>> {
                set.$field.as_ref()
            }
        }
    };
}

pipeline_data!(
    ExportTraceServiceRequest,
    Traces,
    traces,
    crate::pdata::json::encode_traces,
    process_traces
);
pipeline_data!(
    ExportMetricsServiceRequest,
    Metrics,
    metrics,
    crate::pdata::json::encode_metrics,
    process_metrics
);
pipeline_data!(ExportLogsServiceRequest, Logs, logs, crate::pdata::json::encode_logs, process_logs);

/// Counts what enters a stage (`received`, and `refused` when it says no) or what a stage passes
/// on (`sent`), for the per-component counters.
pub struct Tap<T> {
    inner: SharedConsumer<T>,
    counters: Arc<crate::telemetry::ComponentCounters>,
    entry: bool,
}

impl<T> Tap<T> {
    /// Wraps a component: counts items it receives and refuses.
    pub fn entry(inner: SharedConsumer<T>, counters: Arc<crate::telemetry::ComponentCounters>) -> Self {
        Tap {
            inner,
            counters,
            entry: true,
        }
    }
    /// Wraps a component's next consumer: counts items the component sends on.
    pub fn exit(inner: SharedConsumer<T>, counters: Arc<crate::telemetry::ComponentCounters>) -> Self {
        Tap {
            inner,
            counters,
            entry: false,
        }
    }
}

impl<T: SignalData> Consumer<T> for Tap<T> {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        let items = envelope.item_count();
        Box::pin(async move {
            if self.entry {
                self.counters.record_received(items);
            }
            let result = self.inner.consume(envelope).await;
            match (&result, self.entry) {
                (Err(_), true) => self.counters.record_refused(items),
                (Ok(()), false) => self.counters.record_sent(items),
                _ => {}
            }
            result
        })
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.inner.shutdown()
    }
}

/// The consumer of a signal no pipeline takes from a receiver: senders get a permanent error.
pub struct NoPipeline;

impl<T: SignalData> Consumer<T> for NoPipeline {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        let signal = T::SIGNAL.as_str();
        let error = PipelineError::permanent(format!(
            "this otelbox's config has no {signal} pipeline for this receiver, so it does not accept {signal}"
        ));
        envelope.fail(&error);
        Box::pin(async move { Err(error) })
    }
}

/// Hides a shared stage's shutdown from one of its users: shared exporters and connectors are shut
/// down once, by the topology, after every pipeline feeding them has flushed.
pub struct Shared<T>(pub SharedConsumer<T>);

impl<T: SignalData> Consumer<T> for Shared<T> {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        self.0.consume(envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use std::sync::Mutex;

    /// Keeps what it receives, unsettled, until told to commit.
    #[derive(Default)]
    struct Holding(Mutex<Vec<Envelope<ExportLogsServiceRequest>>>);
    impl Consumer<ExportLogsServiceRequest> for Holding {
        fn consume(&self, envelope: Envelope<ExportLogsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            self.0.lock().unwrap().push(envelope);
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn fan_out_acks_only_when_every_consumer_has_settled() {
        let a = Arc::new(Holding::default());
        let b = Arc::new(Holding::default());
        let fan_out = FanOut::new(vec![a.clone() as SharedConsumer<_>, b.clone()]);
        let (ack, mut rx) = AckToken::new();
        fan_out
            .consume(Envelope::new(ExportLogsServiceRequest::default(), ack))
            .await
            .unwrap();
        a.0.lock().unwrap().pop().unwrap().commit();
        assert!(rx.try_recv().is_err(), "b has not committed yet");
        b.0.lock().unwrap().pop().unwrap().commit();
        assert!(rx.await.unwrap().is_ok());
    }
}
