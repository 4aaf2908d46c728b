//! The tail_sampling processor: holds each trace's spans for `decision_wait` after its first span,
//! then keeps or drops the whole trace by its policies (the Collector's tailsamplingprocessor).
//!
//! Acknowledgement: a sender cannot wait `decision_wait` (30 s by default) for its answer, so an
//! envelope's acks are committed as soon as its spans are held in memory. This is the one place
//! where otelbox holds data after acknowledging it, as the Collector does: a crash loses the traces
//! still waiting for their decision. A clean shutdown decides every waiting trace at once and
//! forwards the kept ones. Kept traces go on unacknowledged (`Envelope::unacked`); if the next
//! stage refuses them, that is logged and counted as dropped, like every span not kept.
//!
//! Late spans (arriving after their trace was decided) follow the decision immediately: while the
//! trace is among the `num_traces` held, or while a `decision_cache` remembers it. Otherwise they
//! start a new trace, as in the Collector. Memory bounds are described in `buffer.rs`.
//!
//! Timing uses tokio's clock (a background task sleeps until the earliest deadline), so tests can
//! pause and advance time.

mod buffer;
mod policy;

#[cfg(test)]
mod tests;

pub use policy::{probabilistic_threshold, trace_id_hash, Decision, Policy, PolicySet, Rule, TraceView, DEFAULT_HASH_SALT};

use crate::config::{ComponentId, Parser, Settings};
use crate::pdata::{Signal, SignalData};
use crate::pipeline::{AnyConsumer, Consumer, Envelope, PipelineError, SharedConsumer};
use crate::processor::{ProcessorContext, ProcessorFactory, Stage};
use crate::telemetry::ComponentCounters;
use buffer::{Limits, Refusal, Released, TraceBuffer};
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_yaml_ng::Value;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Spans waiting for decisions, at most (all traces together). Around 0.5 KiB to 2 KiB per span in
/// memory, so a few hundred MiB at worst; see `buffer.rs` for what happens at the limit.
pub const MAX_BUFFERED_SPANS: usize = 262_144;
/// Spans of one trace waiting, at most: a trace reaching it is decided at once.
pub const MAX_SPANS_PER_TRACE: usize = 16_384;
/// Kept traces are sent on in requests of about this many spans (whole traces, never split).
const FORWARD_BATCH_SPANS: usize = 8_192;
/// Traces decided per hold of the lock, so senders never wait long behind a big round of decisions.
const DECISIONS_PER_LOCK: usize = 512;

#[derive(Clone, Debug)]
pub struct TailSamplingConfig {
    pub decision_wait: Duration,
    pub num_traces: usize,
    /// Only sizes the initial tables (as in the Collector).
    pub expected_new_traces_per_sec: u64,
    /// LRU sizes of the remembered keep and drop decisions; 0 = off.
    pub sampled_cache_size: usize,
    pub non_sampled_cache_size: usize,
    pub policies: Vec<Policy>,
}

impl Default for TailSamplingConfig {
    /// The Collector's defaults (with no policies: the config requires at least one).
    fn default() -> Self {
        TailSamplingConfig {
            decision_wait: Duration::from_secs(30),
            num_traces: 50_000,
            expected_new_traces_per_sec: 0,
            sampled_cache_size: 0,
            non_sampled_cache_size: 0,
            policies: Vec::new(),
        }
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> TailSamplingConfig {
    let mut config = TailSamplingConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(
        body,
        &[
            "decision_wait",
            "num_traces",
            "expected_new_traces_per_sec",
            "decision_cache",
            "policies",
        ],
        path,
    );
    if let Some(v) = body.get("decision_wait") {
        let at = format!("{path}.decision_wait");
        match p.duration(v, &at) {
            Some(d) if d.is_zero() => p.error(&at, "must be greater than 0"),
            Some(d) => config.decision_wait = d,
            None => {}
        }
    }
    let mut count = |key: &str, body: &serde_yaml_ng::Mapping, at: &str| -> Option<usize> {
        let value = body.get(key)?;
        let at = format!("{at}.{key}");
        let n = p.unsigned(value, &at)?;
        usize::try_from(n).map_err(|_| p.error(&at, "is too large")).ok()
    };
    if let Some(n) = count("num_traces", body, path) {
        config.num_traces = n;
    }
    if let Some(n) = count("expected_new_traces_per_sec", body, path) {
        config.expected_new_traces_per_sec = n as u64;
    }
    if let Some(cache) = body.get("decision_cache") {
        let at = format!("{path}.decision_cache");
        if let Some(cache) = p.mapping(Some(cache), &at) {
            p.only_keys(cache, &["sampled_cache_size", "non_sampled_cache_size"], &at);
            let mut count = |key: &str| -> Option<usize> {
                let value = cache.get(key)?;
                let key_at = format!("{at}.{key}");
                let n = p.unsigned(value, &key_at)?;
                usize::try_from(n).map_err(|_| p.error(&key_at, "is too large")).ok()
            };
            config.sampled_cache_size = count("sampled_cache_size").unwrap_or(0);
            config.non_sampled_cache_size = count("non_sampled_cache_size").unwrap_or(0);
        }
    }
    if config.num_traces == 0 {
        p.error(&format!("{path}.num_traces"), "must be greater than 0");
    }
    config.policies = policy::parse_policies(p, body.get("policies"), &format!("{path}.policies"));
    config
}

/// The state shared by the sampler and its decision task.
struct Inner {
    component: String,
    buffer: Mutex<TraceBuffer>,
    next: SharedConsumer<ExportTraceServiceRequest>,
    counters: Arc<ComponentCounters>,
    /// Wakes the decision task: a first deadline appeared, or the processor is shutting down.
    wake: Notify,
}

impl Inner {
    /// The buffer; a panic elsewhere while holding it must not stop the pipeline.
    fn buffer(&self) -> MutexGuard<'_, TraceBuffer> {
        self.buffer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends kept traces on, in requests of whole traces, and counts what was not kept.
    async fn release(&self, released: Released) {
        self.counters.record_dropped(released.dropped_spans);
        let mut request = ExportTraceServiceRequest::default();
        let mut spans = 0;
        let mut sampled = released.sampled.into_iter().peekable();
        while let Some((batches, count)) = sampled.next() {
            request.resource_spans.extend(batches);
            spans += count;
            if spans >= FORWARD_BATCH_SPANS || sampled.peek().is_none() {
                self.forward(std::mem::take(&mut request), spans).await;
                spans = 0;
            }
        }
        let waiting = self.buffer().waiting_spans();
        self.counters.set_queued(waiting);
    }

    async fn forward(&self, request: ExportTraceServiceRequest, spans: usize) {
        if let Err(error) = self.next.consume(Envelope::unacked(request)).await {
            tracing::warn!(component = %self.component, %error, spans, "tail_sampling: the next stage refused kept traces; they are dropped");
            self.counters.record_dropped(spans);
        }
    }

    /// Decides what is due (or, at shutdown, everything), a bounded number of traces per lock.
    async fn decide(&self, everything: bool) {
        loop {
            let (released, more) = self.buffer().decide_due(Instant::now(), DECISIONS_PER_LOCK, everything);
            self.release(released).await;
            if !more {
                return;
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Sleeps until the earliest deadline, decides what is due, and repeats until the buffer closes.
async fn run_decisions(inner: Arc<Inner>) {
    loop {
        let deadline = {
            let buffer = inner.buffer();
            if buffer.is_closed() {
                return;
            }
            buffer.next_deadline()
        };
        match deadline {
            Some(deadline) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => inner.decide(false).await,
                    _ = inner.wake.notified() => {}
                }
            }
            None => inner.wake.notified().await,
        }
    }
}

pub struct Factory;
// Tail sampling decides per trace, so it has no place in a metrics or logs pipeline.
crate::component_type!(Factory, "tail_sampling", &[Signal::Traces], parse);

impl ProcessorFactory for Factory {
    fn build(&self, context: &ProcessorContext<'_>, settings: &Settings, next: AnyConsumer) -> anyhow::Result<Stage> {
        let AnyConsumer::Traces(next) = next else {
            anyhow::bail!("{}: tail_sampling only runs in traces pipelines", context.id);
        };
        let sampler = TailSampler::new(context.id, settings.get(), next, context.counters.clone());
        Ok(Stage::Consumer(AnyConsumer::Traces(Arc::new(sampler))))
    }
}

pub struct TailSampler {
    inner: Arc<Inner>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Held (read) by each forward of decided traces started from a request.
    forwarding: Arc<tokio::sync::RwLock<()>>,
}

impl TailSampler {
    pub fn new(
        id: &ComponentId,
        config: &TailSamplingConfig,
        next: SharedConsumer<ExportTraceServiceRequest>,
        counters: Arc<ComponentCounters>,
    ) -> Self {
        let limits = Limits {
            num_traces: config.num_traces.max(1),
            max_buffered_spans: MAX_BUFFERED_SPANS,
            max_spans_per_trace: MAX_SPANS_PER_TRACE,
        };
        Self::with_limits(id, config, limits, next, counters)
    }

    fn with_limits(
        id: &ComponentId,
        config: &TailSamplingConfig,
        limits: Limits,
        next: SharedConsumer<ExportTraceServiceRequest>,
        counters: Arc<ComponentCounters>,
    ) -> Self {
        let expected = config
            .expected_new_traces_per_sec
            .saturating_mul(config.decision_wait.as_secs().max(1));
        let buffer = TraceBuffer::new(
            PolicySet::new(&config.policies),
            config.decision_wait,
            limits,
            (config.sampled_cache_size, config.non_sampled_cache_size),
            usize::try_from(expected).unwrap_or(usize::MAX),
        );
        let inner = Arc::new(Inner {
            component: format!("processor/{id}"),
            buffer: Mutex::new(buffer),
            next,
            counters,
            wake: Notify::new(),
        });
        // Without a runtime (never the case in otelbox) traces are decided only when pushed out or at shutdown.
        let task = tokio::runtime::Handle::try_current()
            .ok()
            .map(|runtime| runtime.spawn(run_decisions(inner.clone())));
        TailSampler {
            inner,
            task: Mutex::new(task),
            forwarding: Arc::new(tokio::sync::RwLock::new(())),
        }
    }

    #[cfg(test)]
    fn buffer(&self) -> MutexGuard<'_, TraceBuffer> {
        self.inner.buffer()
    }
}

impl Drop for TailSampler {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().ok().and_then(|t| t.take()) {
            task.abort();
        }
    }
}

impl Consumer<ExportTraceServiceRequest> for TailSampler {
    fn consume(&self, envelope: Envelope<ExportTraceServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(async move {
            let Envelope { data, acks } = envelope;
            let spans = data.item_count();
            let (parts, invalid) = buffer::split_by_trace(data);
            let admitted = self.inner.buffer().admit(parts, Instant::now());
            let mut released = match admitted {
                Ok(released) => released,
                Err(refusal) => {
                    let error = match refusal {
                        Refusal::Full { waiting, limit } => PipelineError::retryable(format!(
                            "otelbox is busy: tail_sampling would hold {waiting} spans awaiting decisions, more than its limit of {limit}; retry later"
                        )),
                        Refusal::Closed => PipelineError::retryable("otelbox is shutting down; retry later"),
                    };
                    tracing::debug!(component = %self.inner.component, spans, %error, "tail_sampling refused a request");
                    for ack in acks {
                        ack.fail(error.clone());
                    }
                    return Err(error);
                }
            };
            // Held (or decided): the sender's part is done. See the module docs.
            for ack in acks {
                ack.commit();
            }
            if released.new_deadline {
                self.inner.wake.notify_one();
            }
            if invalid > 0 {
                tracing::debug!(component = %self.inner.component, spans = invalid, "tail_sampling dropped spans without a valid trace id");
                released.dropped_spans += invalid;
            }
            // Forwarded off the request: the acks are committed, so a sender that hangs up now must not
            // cancel the forwarding of traces decided here (they may be other senders' traces). The
            // read guard lets shutdown wait for forwards in flight before shutting `next` down.
            let inner = self.inner.clone();
            let in_flight = self.forwarding.clone().read_owned().await;
            let forward = tokio::spawn(async move {
                inner.release(released).await;
                drop(in_flight);
            });
            // Awaited so a sender sees the forward done; if the sender goes away, the task goes on.
            let _ = forward.await;
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.inner.buffer().close();
            self.inner.wake.notify_one();
            let task = self.task.lock().ok().and_then(|mut t| t.take());
            if let Some(task) = task {
                // The task stops at its next look at the buffer; whatever it is sending finishes first.
                let _ = task.await;
            }
            self.inner.decide(true).await;
            let _no_forward_in_flight = self.forwarding.write().await;
            self.inner.next.shutdown().await;
        })
    }
}
