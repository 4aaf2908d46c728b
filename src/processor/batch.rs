//! The batch processor: groups envelopes until `send_batch_size` items or `timeout`, splits
//! oversized batches at `send_batch_max_size`, sends up to `SENDS_IN_FLIGHT` batches on at once,
//! and flushes what it holds at shutdown.
//!
//! otelbox extension `flush_when_idle`: also send as soon as no more input is queued. Senders wait
//! for the commit, so holding data while storage is idle only adds latency and caps a sender with
//! one request in flight at `send_batch_size / timeout`; under load the queue is never empty and
//! batches still fill up (and the writer's group commit coalesces further).

use crate::config::{Parser, Settings};
use crate::pdata::{Signal, SignalData};
use crate::pipeline::{AnyConsumer, Consumer, Envelope, PipelineError, SharedConsumer};
use crate::processor::{ProcessorContext, ProcessorFactory, Stage};
use futures::future::BoxFuture;
use serde_yaml_ng::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

#[derive(Clone, Debug, PartialEq)]
pub struct BatchConfig {
    pub send_batch_size: usize,
    pub timeout: Duration,
    /// 0 = no upper bound; otherwise batches are cut to at most this many items.
    pub send_batch_max_size: usize,
    /// Send whatever is pending whenever the input queue is empty (see the module docs).
    pub flush_when_idle: bool,
}

impl Default for BatchConfig {
    /// The Collector's defaults.
    fn default() -> Self {
        BatchConfig {
            send_batch_size: 8192,
            timeout: Duration::from_millis(200),
            send_batch_max_size: 0,
            flush_when_idle: false,
        }
    }
}

impl BatchConfig {
    /// The built-in pipeline's batch: Collector defaults plus `flush_when_idle`.
    pub fn builtin() -> Self {
        // A cap on batch size keeps one merged batch (and its rows) from growing without bound.
        BatchConfig {
            flush_when_idle: true,
            send_batch_max_size: 16_384,
            ..BatchConfig::default()
        }
    }
}

pub struct Factory;
crate::component_type!(Factory, "batch", &Signal::ALL, parse);

impl ProcessorFactory for Factory {
    fn build(&self, _: &ProcessorContext<'_>, settings: &Settings, next: AnyConsumer) -> anyhow::Result<Stage> {
        let config: &BatchConfig = settings.get();
        Ok(Stage::Consumer(
            crate::map_any_consumer!(next, n => Arc::new(BatchProcessor::new(config.clone(), n))),
        ))
    }
}

/// The settings at `path`, starting from the built-in batch (Collector defaults plus
/// `flush_when_idle` and a 16,384-item cap), which a config's keys override.
pub fn parse(p: &mut Parser, value: &Value, path: &str) -> BatchConfig {
    let mut batch = BatchConfig::builtin();
    let Some(body) = p.mapping(Some(value), path) else {
        return batch;
    };
    p.only_keys(body, &["send_batch_size", "timeout", "send_batch_max_size"], path);
    if let Some(v) = body.get("send_batch_size") {
        batch.send_batch_size = p.unsigned(v, &format!("{path}.send_batch_size")).unwrap_or(8192) as usize;
    }
    if let Some(v) = body.get("timeout") {
        batch.timeout = p.duration(v, &format!("{path}.timeout")).unwrap_or(batch.timeout);
    }
    match body.get("send_batch_max_size") {
        Some(v) => {
            batch.send_batch_max_size = p.unsigned(v, &format!("{path}.send_batch_max_size")).unwrap_or(0) as usize;
        }
        // The built-in cap never refuses a larger send_batch_size the config asks for (the
        // Collector has no cap by default).
        None => batch.send_batch_max_size = batch.send_batch_max_size.max(batch.send_batch_size),
    }
    if batch.send_batch_max_size != 0 && batch.send_batch_max_size < batch.send_batch_size {
        p.error(
            &format!("{path}.send_batch_max_size"),
            "must be 0 (no limit) or at least send_batch_size",
        );
    }
    batch
}

/// How long a sender waits for room in the batch queue before the request is refused retryably.
const QUEUE_WAIT: Duration = Duration::from_secs(5);
const QUEUE_CAPACITY: usize = 256;
/// Items held by the processor (queued or pending) at most: the queue is bounded by what it holds,
/// not by how many requests, so a few huge requests cannot pile up memory.
pub const MAX_HELD_ITEMS: usize = 65_536;

enum Message<T> {
    /// An envelope and the room it takes, given back once it has been sent on.
    Data(Envelope<T>, OwnedSemaphorePermit),
    Flush(oneshot::Sender<()>),
}

pub struct BatchProcessor<T> {
    queue: mpsc::Sender<Message<T>>,
    room: Arc<Semaphore>,
    items: usize,
    wait: Duration,
    next: SharedConsumer<T>,
    worker: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl<T: SignalData> BatchProcessor<T> {
    pub fn new(config: BatchConfig, next: SharedConsumer<T>) -> Self {
        Self::with_room(config, next, MAX_HELD_ITEMS, QUEUE_WAIT)
    }

    /// With an explicit bound on held items and on how long a sender waits for room.
    fn with_room(config: BatchConfig, next: SharedConsumer<T>, items: usize, wait: Duration) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
        let worker = tokio::spawn(run(config, rx, next.clone()));
        BatchProcessor {
            queue,
            room: Arc::new(Semaphore::new(items)),
            items,
            wait,
            next,
            worker: Mutex::new(Some(worker)),
        }
    }
}

/// Batches being sent on at once, at most. A consumer that does slow work before it returns (a
/// forwarding exporter encodes each batch and writes it to its durable queue) would otherwise hold
/// up the next batch; with a few in flight, the next one is merged and encoded meanwhile
/// (scripts/bench forward). Acks are unaffected: each envelope's acks settle when its parts are
/// committed, whichever order that happens in.
const SENDS_IN_FLIGHT: usize = 4;

/// The batches being sent on, and the room each holds until it has been.
struct Sends<T> {
    next: SharedConsumer<T>,
    tasks: tokio::task::JoinSet<()>,
}

impl<T: SignalData> Sends<T> {
    /// Sends `envelope` on once fewer than `SENDS_IN_FLIGHT` are under way; `room` is given back
    /// when it has been.
    async fn send(&mut self, envelope: Envelope<T>, room: Arc<Vec<OwnedSemaphorePermit>>) {
        while self.tasks.len() >= SENDS_IN_FLIGHT {
            self.tasks.join_next().await;
        }
        let next = self.next.clone();
        self.tasks.spawn(async move {
            // Errors have already failed the envelope's acks.
            let _ = next.consume(envelope).await;
            drop(room);
        });
    }

    /// Sends everything pending, cut at `chunk` items; the room it held is given back once every
    /// part has been consumed.
    async fn flush(&mut self, pending: &mut Option<Envelope<T>>, held: &mut Vec<OwnedSemaphorePermit>, chunk: usize) {
        let Some(mut envelope) = pending.take() else {
            return;
        };
        let room = Arc::new(std::mem::take(held));
        while envelope.item_count() > chunk {
            let part = envelope.split_off(chunk);
            self.send(part, room.clone()).await;
        }
        self.send(envelope, room).await;
    }

    /// Waits until everything sent has been consumed.
    async fn settle(&mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn run<T: SignalData>(config: BatchConfig, mut rx: mpsc::Receiver<Message<T>>, next: SharedConsumer<T>) {
    let mut pending: Option<Envelope<T>> = None;
    // Room held by what is pending; handed over with the last part of each flush.
    let mut held: Vec<OwnedSemaphorePermit> = Vec::new();
    let mut sends = Sends {
        next,
        tasks: tokio::task::JoinSet::new(),
    };
    let mut deadline = Instant::now();
    let chunk = if config.send_batch_max_size > 0 {
        config.send_batch_max_size
    } else {
        usize::MAX
    };
    loop {
        let message = if pending.is_some() {
            tokio::select! {
                m = rx.recv() => m,
                _ = tokio::time::sleep_until(deadline) => {
                    sends.flush(&mut pending, &mut held, chunk).await;
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        match message {
            Some(Message::Data(envelope, permit)) => {
                held.push(permit);
                match &mut pending {
                    Some(p) => p.merge(envelope),
                    None => {
                        deadline = Instant::now() + config.timeout;
                        pending = Some(envelope);
                    }
                }
                // Full batches go now; a remainder below send_batch_size waits for more or the timer.
                while let Some(p) = pending.as_mut().filter(|p| p.item_count() >= config.send_batch_size) {
                    if p.item_count() <= chunk {
                        sends.flush(&mut pending, &mut held, chunk).await;
                        break;
                    }
                    // Its room stays held with the rest until the flush of what remains.
                    let part = p.split_off(chunk);
                    sends.send(part, Arc::default()).await;
                    deadline = Instant::now() + config.timeout;
                }
                if config.flush_when_idle && rx.is_empty() {
                    sends.flush(&mut pending, &mut held, chunk).await;
                }
            }
            Some(Message::Flush(done)) => {
                sends.flush(&mut pending, &mut held, chunk).await;
                sends.settle().await;
                let _ = done.send(());
            }
            None => {
                sends.flush(&mut pending, &mut held, chunk).await;
                sends.settle().await;
                break;
            }
        }
    }
}

impl<T: SignalData> Consumer<T> for BatchProcessor<T> {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(async move {
            let refusal = || PipelineError::retryable("otelbox is busy: the batch queue is full; retry later");
            let needed = envelope.item_count().clamp(1, self.items) as u32;
            let permit = match tokio::time::timeout(self.wait, self.room.clone().acquire_many_owned(needed)).await {
                Ok(Ok(permit)) => permit,
                _ => {
                    let err = refusal();
                    envelope.fail(&err);
                    return Err(err);
                }
            };
            match self.queue.send_timeout(Message::Data(envelope, permit), self.wait).await {
                Ok(()) => Ok(()),
                Err(err) => {
                    let err_value = refusal();
                    if let Message::Data(envelope, _) = err.into_inner() {
                        envelope.fail(&err_value);
                    }
                    Err(err_value)
                }
            }
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let (done, wait) = oneshot::channel();
            if self.queue.send(Message::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
            if let Some(worker) = self.worker.lock().await.take() {
                worker.abort();
            }
            self.next.shutdown().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ack::AckToken;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use std::sync::Arc;

    struct Recorder(std::sync::Mutex<Vec<usize>>);
    impl Consumer<ExportLogsServiceRequest> for Recorder {
        fn consume(&self, envelope: Envelope<ExportLogsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            self.0.lock().unwrap().push(envelope.item_count());
            envelope.commit();
            Box::pin(async { Ok(()) })
        }
    }

    fn logs(n: usize) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default(); n],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[tokio::test]
    async fn sends_at_size_and_splits_at_max_size() {
        let recorder = Arc::new(Recorder(Default::default()));
        let config = BatchConfig {
            send_batch_size: 10,
            timeout: Duration::from_secs(60),
            send_batch_max_size: 10,
            flush_when_idle: false,
        };
        let batch = BatchProcessor::new(config, recorder.clone());
        let (ack, rx) = AckToken::new();
        batch.consume(Envelope::new(logs(25), ack)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(*recorder.0.lock().unwrap(), vec![10, 10]);
        batch.shutdown().await;
        assert_eq!(*recorder.0.lock().unwrap(), vec![10, 10, 5]);
        assert!(rx.await.unwrap().is_ok(), "acked only once all three parts were committed");
    }

    fn batch_of(yaml_body: &str) -> Result<BatchConfig, String> {
        let text = format!(
            "receivers: {{ otlp: {{ protocols: {{ http: {{}} }} }} }}\nprocessors:\n  batch: {yaml_body}\nexporters: {{ debug: {{}} }}\n\
             service: {{ pipelines: {{ traces: {{ receivers: [otlp], processors: [batch], exporters: [debug] }} }} }}\n"
        );
        let config = crate::components::parse_config(&text).map_err(|e| e.to_string())?;
        let id = crate::config::ComponentId::parse("batch").unwrap();
        Ok(config.components[&crate::config::Kind::Processor][&id]
            .settings
            .get::<BatchConfig>()
            .clone())
    }

    #[test]
    fn a_send_batch_size_above_the_built_in_cap_is_taken_and_an_explicit_smaller_max_is_refused() {
        let big = batch_of("{ send_batch_size: 20000 }").unwrap();
        assert_eq!((big.send_batch_size, big.send_batch_max_size), (20000, 20000));
        let default = batch_of("{}").unwrap();
        assert_eq!((default.send_batch_size, default.send_batch_max_size), (8192, 16_384));
        let err = batch_of("{ send_batch_size: 20000, send_batch_max_size: 10000 }").unwrap_err();
        assert!(err.contains("send_batch_max_size"), "{err}");
    }

    /// Commits a batch only once another batch has reached it too: a processor that waits for each
    /// send before starting the next would never get there.
    struct NeedsCompany(std::sync::atomic::AtomicUsize);
    impl Consumer<ExportLogsServiceRequest> for NeedsCompany {
        fn consume(&self, envelope: Envelope<ExportLogsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            Box::pin(async move {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(5);
                while self.0.load(std::sync::atomic::Ordering::SeqCst) < 2 && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                envelope.commit();
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn a_slow_send_does_not_hold_up_the_next_batch() {
        let consumer = Arc::new(NeedsCompany(Default::default()));
        let config = BatchConfig {
            send_batch_size: 10,
            timeout: Duration::from_secs(60),
            send_batch_max_size: 0,
            flush_when_idle: false,
        };
        let batch = BatchProcessor::new(config, consumer.clone());
        let started = Instant::now();
        let (first, first_done) = AckToken::new();
        let (second, second_done) = AckToken::new();
        batch.consume(Envelope::new(logs(10), first)).await.unwrap();
        batch.consume(Envelope::new(logs(10), second)).await.unwrap();
        assert!(first_done.await.unwrap().is_ok() && second_done.await.unwrap().is_ok());
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the second batch was sent only after the first one's send finished"
        );
        batch.shutdown().await;
    }

    #[tokio::test]
    async fn flush_when_idle_sends_without_waiting_for_the_timeout() {
        let recorder = Arc::new(Recorder(Default::default()));
        let config = BatchConfig {
            send_batch_size: 1000,
            timeout: Duration::from_secs(3600),
            send_batch_max_size: 0,
            flush_when_idle: true,
        };
        let batch = BatchProcessor::new(config, recorder.clone());
        let (ack, rx) = AckToken::new();
        batch.consume(Envelope::new(logs(3), ack)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .expect("not held for the hour-long timeout")
            .unwrap()
            .unwrap();
        assert_eq!(*recorder.0.lock().unwrap(), vec![3]);
    }

    /// Never returns: data sent to it stays held upstream.
    struct Stuck;
    impl Consumer<ExportLogsServiceRequest> for Stuck {
        fn consume(&self, envelope: Envelope<ExportLogsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            Box::pin(async move {
                std::future::pending::<()>().await;
                envelope.commit();
                Ok(())
            })
        }
    }

    #[tokio::test]
    async fn holds_a_bounded_number_of_items_then_refuses_retryably() {
        let config = BatchConfig {
            send_batch_size: 10,
            timeout: Duration::from_millis(1),
            send_batch_max_size: 0,
            flush_when_idle: true,
        };
        let batch = BatchProcessor::with_room(config, Arc::new(Stuck), 100, Duration::from_millis(50));
        // 100 items fit (held while the stuck consumer never returns)...
        let (ack, _rx1) = AckToken::new();
        batch.consume(Envelope::new(logs(100), ack)).await.unwrap();
        // ...one more does not: refused retryably after the wait, and its ack says so.
        let (ack, rx) = AckToken::new();
        let err = batch.consume(Envelope::new(logs(1), ack)).await.unwrap_err();
        assert!(err.is_retryable() && err.to_string().contains("busy"), "{err}");
        assert!(rx.await.unwrap().is_err());
    }

    #[tokio::test]
    async fn sends_on_timeout() {
        let recorder = Arc::new(Recorder(Default::default()));
        let config = BatchConfig {
            send_batch_size: 1000,
            timeout: Duration::from_millis(30),
            send_batch_max_size: 0,
            flush_when_idle: false,
        };
        let batch = BatchProcessor::new(config, recorder.clone());
        let (ack, rx) = AckToken::new();
        batch.consume(Envelope::new(logs(3), ack)).await.unwrap();
        assert!(rx.await.unwrap().is_ok());
        assert_eq!(*recorder.0.lock().unwrap(), vec![3]);
    }
}
