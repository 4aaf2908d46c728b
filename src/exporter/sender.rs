//! What the forwarding exporters (`otlp`, `otlphttp`, `zipkin`) share, after the Collector's
//! exporterhelper: the settings every one of them has (`timeout`, `retry_on_failure`,
//! `sending_queue`, `headers`, `compression`), and the `Sender` that takes a pipeline's envelopes,
//! queues them (acknowledging only once a batch is durably queued) and delivers them with
//! `num_consumers` workers, each retrying a batch with backoff until it is delivered, refused for
//! good, or out of time.
//!
//! With `sending_queue.batch` (the Collector's exporter-side batching) the sender cuts envelopes
//! larger than `max_size` into several queued batches, and a worker merges the oldest queued batch
//! with the following ones of its signal until `min_size` or `flush_timeout` (see `take_batch`).
//!
//! A batch that cannot be delivered is dropped only for a permanent refusal (the destination will
//! never take it) or after `max_elapsed_time`; both are counted (`dropped`) and logged with the
//! reason. Without a queue (`sending_queue.enabled: false`) the pipeline waits for the delivery and
//! the envelope's acks carry its outcome back to the sender of the data (and nothing is batched,
//! as in the Collector, where `batch` is part of the queue).
//!
//! The transport (gRPC or HTTP) is a `Transport`: one attempt at one batch. The HTTP exporters
//! send through `HttpClient` and read their `tls` with `parse_client_tls`.

use super::queue::{parse_queue, QueueError, QueueSettings, QueuedBatch, SendingQueue, Sizer};
use super::retry::{parse_retry, Backoff, GiveUp, RetrySettings, SendError};
use crate::config::{ComponentId, Parser};
use crate::extension::StorageDir;
use crate::pdata::Signal;
use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError};
use crate::telemetry::PerSignal;
use bytes::Bytes;
use futures::future::BoxFuture;
use serde_yaml_ng::{Mapping, Value};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The settings of the sending side, shared by both forwarding exporters.
#[derive(Clone, Debug, PartialEq)]
pub struct SenderSettings {
    /// Longest one export attempt may take.
    pub timeout: Duration,
    pub retry: RetrySettings,
    pub queue: QueueSettings,
}

impl Default for SenderSettings {
    fn default() -> Self {
        SenderSettings {
            timeout: Duration::from_secs(5),
            retry: RetrySettings::default(),
            queue: QueueSettings::default(),
        }
    }
}

/// The keys `parse_sender` reads, for the exporters' `only_keys`.
pub const SENDER_KEYS: [&str; 3] = ["timeout", "retry_on_failure", "sending_queue"];

/// The storage extension a sender's `sending_queue.storage` names, with its path, for validation.
pub fn storage_ref(settings: &SenderSettings) -> Vec<(String, ComponentId)> {
    settings
        .queue
        .storage
        .iter()
        .map(|id| ("sending_queue.storage".to_string(), id.clone()))
        .collect()
}

pub fn parse_sender(p: &mut Parser, body: &Mapping, path: &str) -> SenderSettings {
    let mut settings = SenderSettings::default();
    if let Some(v) = body.get("timeout") {
        match p.duration(v, &format!("{path}.timeout")) {
            Some(d) if d.is_zero() => p.error(&format!("{path}.timeout"), "must be greater than 0"),
            Some(d) => settings.timeout = d,
            None => {}
        }
    }
    settings.retry = parse_retry(p, body.get("retry_on_failure"), &format!("{path}.retry_on_failure"));
    settings.queue = parse_queue(p, body.get("sending_queue"), &format!("{path}.sending_queue"));
    settings
}

/// `compression`: how request bodies are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// `compression` at `path` (absent: gzip, the Collector's default).
pub fn parse_compression(p: &mut Parser, value: Option<&Value>, path: &str) -> Compression {
    let Some(value) = value else {
        return Compression::Gzip;
    };
    match p.string(value, path).as_deref() {
        Some("gzip") => Compression::Gzip,
        Some("zstd") => Compression::Zstd,
        Some("none" | "") => Compression::None,
        Some(other) => {
            p.error(path, format!("expected gzip, zstd or none, got '{other}'"));
            Compression::Gzip
        }
        None => Compression::Gzip,
    }
}

/// `headers` sent with every request. Values often hold credentials (`${env:API_KEY}`), so Debug
/// shows only the names.
#[derive(Clone, Default, PartialEq)]
pub struct Headers(pub Vec<(http::HeaderName, http::HeaderValue)>);

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name.as_str(), "<redacted>")))
            .finish()
    }
}

/// `headers` at `path`: a mapping of header names to string values, each checked here so a bad
/// one is a start-up error. `grpc` also refuses binary (`-bin`) metadata keys.
pub fn parse_headers(p: &mut Parser, value: Option<&Value>, path: &str, grpc: bool) -> Headers {
    let mut headers = Vec::new();
    for (name, value) in p.entries(value, path) {
        let at = format!("{path}.{name}");
        let Some(text) = p.string(value, &at) else { continue };
        let Ok(header) = http::HeaderName::from_bytes(name.as_bytes()) else {
            p.error(&at, "not a valid header name");
            continue;
        };
        if grpc && header.as_str().ends_with("-bin") {
            p.error(&at, "binary (-bin) gRPC metadata is not supported; use a text header");
            continue;
        }
        match http::HeaderValue::from_str(&text) {
            Ok(value) => headers.push((header, value)),
            Err(_) => p.error(&at, "not a valid header value (visible ASCII only)"),
        }
    }
    Headers(headers)
}

/// `auth` in an exporter's `body` (the Collector's client `configauth`): `{ authenticator: <id> }`,
/// the client authenticator extension whose `Authorization` value every request carries. With
/// `headers.authorization` too it is an error, as one of the two would silently win.
pub fn parse_auth(p: &mut Parser, body: &Mapping, path: &str, headers: &Headers) -> Option<ComponentId> {
    let value = body.get("auth")?;
    let auth_path = format!("{path}.auth");
    let auth = p.mapping(Some(value), &auth_path)?;
    p.only_keys(auth, &["authenticator"], &auth_path);
    let Some(v) = auth.get("authenticator") else {
        p.error(
            &auth_path,
            "authenticator is required (the id of a bearertokenauth or basicauth extension)",
        );
        return None;
    };
    let at = format!("{auth_path}.authenticator");
    let authenticator = p
        .string(v, &at)
        .and_then(|text| ComponentId::parse(&text).map_err(|e| p.error(&at, e)).ok())?;
    if headers.0.iter().any(|(name, _)| *name == http::header::AUTHORIZATION) {
        p.error(
            &format!("{path}.headers.authorization"),
            "conflicts with auth.authenticator, which sets the Authorization header; remove one of the two",
        );
    }
    Some(authenticator)
}

/// The client authenticator `auth` names, at `auth.authenticator`, for validation and for the
/// service, which asks it for the `Authorization` value.
pub fn auth_ref(authenticator: Option<&ComponentId>) -> Vec<(String, ComponentId)> {
    authenticator
        .into_iter()
        .map(|id| (super::AUTHENTICATOR_REF.to_string(), id.clone()))
        .collect()
}

/// Splits what `auth` gives an HTTP exporter: a fixed `Authorization` goes into `headers` once; a
/// changing one (an OAuth2 token) is returned, to be asked for before each request
/// (`request_headers`).
pub fn set_authorization(
    headers: &mut http::HeaderMap,
    authorization: Option<&crate::extension::ClientAuthorization>,
) -> Option<crate::extension::ClientAuthorization> {
    let authorization = authorization?;
    match authorization.fixed_value() {
        Some(value) => {
            let mut value = value.clone();
            value.set_sensitive(true);
            headers.insert(http::header::AUTHORIZATION, value);
            None
        }
        None => Some(authorization.clone()),
    }
}

/// The headers of one HTTP request: `headers`, with the current `Authorization` of a changing
/// authenticator when there is one. No value now (no token yet) fails the attempt retryably, so the
/// batch waits in the queue.
pub fn request_headers<'h>(
    headers: &'h http::HeaderMap,
    live: Option<&crate::extension::ClientAuthorization>,
) -> Result<std::borrow::Cow<'h, http::HeaderMap>, SendError> {
    let Some(live) = live else {
        return Ok(std::borrow::Cow::Borrowed(headers));
    };
    let value = live
        .current()
        .map_err(|e| SendError::retryable(format!("no Authorization to send: {e}")))?;
    let mut headers = headers.clone();
    headers.insert(http::header::AUTHORIZATION, value);
    Ok(std::borrow::Cow::Owned(headers))
}

pub use crate::config::client_tls::{parse_client_tls, CLIENT_TLS_KEYS};
pub use crate::net::{HttpAnswer, HttpClient};

/// A successful answer; `rejected` items were refused by the destination (an OTLP partial success).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Delivered {
    pub rejected: u64,
    pub message: String,
}

/// One way of sending a batch somewhere: the gRPC or the HTTP flavour of OTLP.
pub trait Transport: Send + Sync + 'static {
    /// The request body for a queued payload (encoded OTLP protobuf): converted, compressed. Runs
    /// once per batch, on a blocking worker; an error is permanent (the payload is unusable).
    fn encode(&self, signal: Signal, payload: Bytes) -> Result<Bytes, SendError>;
    /// One attempt to deliver a body.
    fn export(&self, signal: Signal, body: Bytes) -> BoxFuture<'_, Result<Delivered, SendError>>;
    /// Where a signal's data goes, for messages.
    fn destination(&self, signal: Signal) -> String;
}

/// Why a batch was not delivered.
#[derive(Debug, PartialEq)]
enum Undelivered {
    Permanent(String),
    /// Retries were spent (or disabled).
    GaveUp(String),
    /// otelbox is stopping; the batch stays queued.
    Stopping,
}

/// How long an in-memory queue may keep delivering at shutdown before what is left is lost.
const MEMORY_DRAIN: Duration = Duration::from_secs(5);
/// How long a full-queue refusal asks the sender to wait: the queue drains only as fast as the
/// destination takes data.
const FULL_QUEUE_RETRY_AFTER: Duration = Duration::from_secs(5);

struct Shared {
    id: String,
    transport: Arc<dyn Transport>,
    settings: SenderSettings,
    counters: PerSignal,
    queue: Option<Arc<SendingQueue>>,
    stop: watch::Sender<bool>,
    /// Whether the last attempt got an answer, so an outage is logged once, not per retry.
    reachable: AtomicBool,
    /// Held by the worker putting a batch together (`take_batch`), so data arriving meanwhile
    /// joins that batch instead of being taken by an idle worker for a batch of its own.
    assembling: tokio::sync::Mutex<()>,
}

/// The forwarding exporter itself: `otlp` and `otlphttp` are this over their transports.
pub struct Sender {
    shared: Arc<Shared>,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// How long an in-memory queue may keep delivering at shutdown (`MEMORY_DRAIN`).
    memory_drain: Duration,
}

impl<T: PipelineData> Consumer<T> for Sender {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(self.accept(envelope))
    }
    /// Signal-independent: the topology calls it once.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(Sender::shutdown(self))
    }
}

impl Sender {
    /// Opens the queue (persistent under `queue_dir`, else in memory) and starts its workers, which
    /// begin with whatever an earlier run left queued. Must run inside the tokio runtime.
    pub fn start(
        id: &ComponentId,
        transport: Arc<dyn Transport>,
        settings: &SenderSettings,
        queue_dir: Option<StorageDir<'_>>,
        counters: PerSignal,
    ) -> anyhow::Result<Sender> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| anyhow::anyhow!("exporter {id}: needs the tokio runtime"))?;
        let queue = match (settings.queue.enabled, queue_dir) {
            (false, _) => None,
            (true, None) => Some(Arc::new(
                SendingQueue::in_memory(settings.queue.queue_size, counters.clone()).measured_in(settings.queue.sizer),
            )),
            (true, Some(dir)) => {
                let path = super::queue::queue_path(dir.directory, &id.to_string());
                let mut queue = SendingQueue::open(&path, settings.queue.queue_size, counters.clone())
                    .map_err(|e| anyhow::anyhow!("exporter {id}: {e}"))?
                    .measured_in(settings.queue.sizer);
                if dir.fsync {
                    queue = queue.syncing_each_write().map_err(|e| anyhow::anyhow!("exporter {id}: {e}"))?;
                }
                if !queue.is_empty() {
                    tracing::info!(exporter = %id, batches = queue.len(), path = %path.display(), "sending what the last run left queued");
                }
                Some(Arc::new(queue))
            }
        };
        let shared = Arc::new(Shared {
            id: id.to_string(),
            transport,
            settings: settings.clone(),
            counters,
            queue: queue.clone(),
            stop: watch::channel(false).0,
            reachable: AtomicBool::new(true),
            assembling: tokio::sync::Mutex::new(()),
        });
        let workers = match &queue {
            Some(queue) => (0..settings.queue.num_consumers)
                .map(|_| runtime.spawn(work(shared.clone(), queue.clone())))
                .collect(),
            None => Vec::new(),
        };
        Ok(Sender {
            shared,
            workers: Mutex::new(workers),
            memory_drain: MEMORY_DRAIN,
        })
    }

    /// Takes an envelope: queues it (acks commit once it is queued), or without a queue delivers it
    /// now (acks carry the outcome). `Err` has failed the acks with the same error.
    pub async fn accept<T: PipelineData>(&self, envelope: Envelope<T>) -> Result<(), PipelineError> {
        let items = envelope.item_count();
        if items == 0 {
            envelope.commit();
            return Ok(());
        }
        let Envelope { data, acks } = envelope;
        let envelope_of = |acks| Envelope::<T> { data: T::default(), acks };
        let shared = &self.shared;
        // Only a queue batches, as in the Collector (`batch` is part of `sending_queue`).
        let cut_at = shared
            .queue
            .as_ref()
            .and(shared.settings.queue.batch.as_ref())
            .filter(|batch| batch.max_size > 0)
            .map(|batch| (batch.sizer, batch.max_size));
        let encoded = tokio::task::spawn_blocking(move || match cut_at {
            Some((sizer, max_size)) => cut(data, sizer, max_size)
                .into_iter()
                .map(|part| (part.item_count(), Bytes::from(part.encode_to_vec())))
                .collect(),
            None => vec![(items, Bytes::from(data.encode_to_vec()))],
        })
        .await;
        let mut parts: Vec<(usize, Bytes)> = match encoded {
            Ok(parts) => parts,
            Err(_) => {
                let err = PipelineError::retryable("internal error while encoding for the exporter; retry later");
                envelope_of(acks).fail(&err);
                return Err(err);
            }
        };
        let outcome = match &shared.queue {
            Some(queue) => queue.push_all(T::SIGNAL, parts).await.map_err(|e| match e {
                QueueError::Full { .. } => PipelineError::Retryable {
                    message: format!("exporter {}: {e}", shared.id),
                    retry_after: FULL_QUEUE_RETRY_AFTER,
                },
                QueueError::TooLarge { .. } => PipelineError::permanent(format!("exporter {}: {e}", shared.id)),
                other => PipelineError::retryable(format!("exporter {}: {other}", shared.id)),
            }),
            None => {
                let payload = parts.pop().map(|(_, payload)| payload).unwrap_or_default();
                shared.deliver(T::SIGNAL, items, payload).await.map_err(|undelivered| {
                    let destination = shared.transport.destination(T::SIGNAL);
                    match undelivered {
                        Undelivered::Permanent(message) => {
                            tracing::warn!(exporter = %shared.id, signal = T::SIGNAL.as_str(), items, %destination, error = %message,
                                "not delivered: the destination refused the data (not retryable); the sender is told");
                            PipelineError::permanent(format!("exporter {}: {destination} refused the data: {message}", shared.id))
                        }
                        Undelivered::GaveUp(message) => {
                            tracing::warn!(exporter = %shared.id, signal = T::SIGNAL.as_str(), items, %destination, error = %message,
                                "not delivered: retries exhausted; the sender is told to retry");
                            PipelineError::retryable(format!("exporter {}: cannot deliver to {destination}: {message}", shared.id))
                        }
                        Undelivered::Stopping => PipelineError::retryable("otelbox is shutting down; retry later"),
                    }
                })
            }
        };
        match outcome {
            Ok(()) => {
                envelope_of(acks).commit();
                Ok(())
            }
            Err(err) => {
                envelope_of(acks).fail(&err);
                Err(err)
            }
        }
    }

    /// Stops the workers promptly. A persistent queue keeps what it holds for the next start; an
    /// in-memory queue first gets a few seconds to drain, and what is left is counted and logged.
    pub async fn shutdown(&self) {
        let shared = &self.shared;
        if let Some(queue) = shared.queue.as_ref().filter(|q| !q.is_persistent()) {
            let deadline = Instant::now() + self.memory_drain;
            while !queue.is_empty() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        shared.stop.send_replace(true);
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|p| p.into_inner()));
        for worker in workers {
            let abort = worker.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), worker).await.is_err() {
                abort.abort();
            }
        }
        let Some(queue) = &shared.queue else { return };
        let lost = queue.abandon();
        if !lost.is_empty() {
            let items: usize = lost.iter().map(|(_, items)| items).sum();
            for (signal, items) in &lost {
                shared.counters.get(*signal).record_dropped(*items);
            }
            tracing::warn!(exporter = %shared.id, batches = lost.len(), items,
                "dropped at shutdown: the in-memory sending queue was not delivered in time (a box with a data directory keeps its queue on disk)");
        } else if let (Some(path), false) = (queue.path(), queue.is_empty()) {
            tracing::info!(exporter = %shared.id, batches = queue.len(), path = %path.display(), "still queued; sent at the next start");
        }
    }
}

/// One queue worker: takes the oldest batch (merged with more under `sending_queue.batch`),
/// delivers it (retrying), then removes what it sent from the queue.
async fn work(shared: Arc<Shared>, queue: Arc<SendingQueue>) {
    let mut stop = shared.stop.subscribe();
    loop {
        let parts = tokio::select! {
            biased;
            _ = stop.wait_for(|stopping| *stopping) => return,
            parts = take_batch(&shared, &queue) => parts,
        };
        let parts = match parts {
            Ok(parts) => parts,
            Err(e) => {
                tracing::warn!(exporter = %shared.id, error = %e, "cannot read the sending queue; the batch stays for the next start");
                tokio::select! {
                    _ = stop.wait_for(|stopping| *stopping) => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let signal = parts[0].signal;
        let items: usize = parts.iter().map(|batch| batch.items).sum();
        let reason = match shared.deliver(signal, items, merged_payload(&parts)).await {
            Ok(()) => None,
            Err(Undelivered::Stopping) => return,
            Err(Undelivered::Permanent(message)) => Some(format!("the destination refused it (not retryable): {message}")),
            Err(Undelivered::GaveUp(message)) => Some(format!("retries exhausted: {message}")),
        };
        if let Some(reason) = reason {
            shared.counters.get(signal).record_dropped(items);
            tracing::warn!(exporter = %shared.id, signal = signal.as_str(), items, destination = %shared.transport.destination(signal),
                %reason, "dropped a batch");
        }
        for batch in &parts {
            if let Err(e) = queue.remove(batch.id).await {
                tracing::warn!(exporter = %shared.id, error = %e, "cannot remove a finished batch from the sending queue; it may be sent again at the next start");
            }
        }
    }
}

/// The next batch to deliver, as the queued batches it is made of (never empty, one signal). Without
/// `sending_queue.batch`: the oldest queued batch. With it, as the Collector's exporter batching: the
/// oldest queued batch, then the following ones of its signal as they are queued, until the batch
/// holds `min_size` or `flush_timeout` has passed since it began (batches already waiting join at
/// once, even past the timeout), never beyond `max_size` (a batch that would overflow it waits for
/// the next one; `accept` cut larger envelopes at `max_size`). One worker puts a batch together at a
/// time, so under light load data joins the batch in the making rather than each worker starting its
/// own; the others meanwhile deliver the batches already made.
async fn take_batch(shared: &Shared, queue: &SendingQueue) -> Result<Vec<QueuedBatch>, QueueError> {
    let Some(batching) = &shared.settings.queue.batch else {
        return Ok(vec![queue.next().await?]);
    };
    let _assembling = shared.assembling.lock().await;
    let first = queue.next().await?;
    let deadline = tokio::time::Instant::now() + batching.flush_timeout;
    let signal = first.signal;
    let mut size = batching.sizer.measure(first.items, first.payload.len());
    let mut parts = vec![first];
    while size < batching.min_size {
        let room = match batching.max_size {
            0 => u64::MAX,
            max_size => max_size.saturating_sub(size),
        };
        let fits = |items: usize, bytes: usize| batching.sizer.measure(items, bytes) <= room;
        match queue.next_of(signal, fits, deadline).await {
            Ok(Some(batch)) => {
                size += batching.sizer.measure(batch.items, batch.payload.len());
                parts.push(batch);
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(exporter = %shared.id, error = %e,
                    "cannot read the sending queue; sending the batch put together so far (the unread one stays for the next start)");
                break;
            }
        }
    }
    Ok(parts)
}

/// The payload of a batch made of several queued ones. Each is an encoded `Export*ServiceRequest`,
/// whose only field is a repeated one, and protobuf reads concatenated messages as one with their
/// repeated fields appended: the concatenation is the merged request, without decoding anything.
fn merged_payload(parts: &[QueuedBatch]) -> Bytes {
    if let [only] = parts {
        return only.payload.clone();
    }
    let mut merged = Vec::with_capacity(parts.iter().map(|batch| batch.payload.len()).sum());
    for batch in parts {
        merged.extend_from_slice(&batch.payload);
    }
    Bytes::from(merged)
}

/// `data` cut into parts of at most `max_size` by `sizer` (`sending_queue.batch.max_size`), in order.
/// By bytes the cut is made by item counts estimated from the encoded size and halved until a part
/// fits; a single item larger than `max_size` is a part of its own.
fn cut<T: PipelineData>(mut data: T, sizer: Sizer, max_size: u64) -> Vec<T> {
    let max_size = max_size.max(1);
    let mut parts = Vec::new();
    match sizer {
        Sizer::Bytes => {
            while data.encoded_len() as u64 > max_size && data.item_count() > 1 {
                let estimate = (data.item_count() as u128 * max_size as u128 / data.encoded_len().max(1) as u128) as usize;
                let mut take = estimate.clamp(1, data.item_count() - 1);
                loop {
                    let mut part = data.split_off_items(take);
                    if part.encoded_len() as u64 <= max_size || take == 1 {
                        parts.push(part);
                        break;
                    }
                    // Too large after all: put it back in front and take fewer.
                    crate::pdata::SignalData::merge(&mut part, std::mem::take(&mut data));
                    data = part;
                    take /= 2;
                }
            }
        }
        Sizer::Items => {
            let max_items = usize::try_from(max_size).unwrap_or(usize::MAX);
            while data.item_count() > max_items {
                parts.push(data.split_off_items(max_items));
            }
        }
        // A request is one whatever its size (a batch is never measured so: see `parse_batch`).
        Sizer::Requests => {}
    }
    parts.push(data);
    parts
}

impl Shared {
    /// Delivers one batch, retrying by `retry_on_failure`, each attempt limited to `timeout`.
    async fn deliver(&self, signal: Signal, items: usize, payload: Bytes) -> Result<(), Undelivered> {
        let transport = self.transport.clone();
        let body = tokio::task::spawn_blocking(move || transport.encode(signal, payload))
            .await
            .map_err(|e| Undelivered::Permanent(format!("internal error while encoding: {e}")))?
            .map_err(|e| Undelivered::Permanent(e.message().to_string()))?;
        let mut backoff = Backoff::new(&self.settings.retry);
        let mut stop = self.stop.subscribe();
        let timeout = self.settings.timeout;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let attempt = tokio::time::timeout(timeout, self.transport.export(signal, body.clone()));
            let outcome = tokio::select! {
                biased;
                _ = stop.wait_for(|stopping| *stopping) => return Err(Undelivered::Stopping),
                outcome = attempt => outcome.unwrap_or_else(|_| Err(SendError::retryable(format!("no answer within {} (timeout)", seconds(timeout))))),
            };
            let (message, requested) = match outcome {
                Ok(delivered) => {
                    self.answered(signal);
                    self.count_delivered(signal, items, delivered);
                    return Ok(());
                }
                Err(SendError::Permanent { message }) => {
                    self.answered(signal);
                    return Err(Undelivered::Permanent(message));
                }
                Err(SendError::Retryable { message, delay }) => (message, delay),
            };
            let wait = backoff.next_delay(requested, &mut rand::rng());
            let wait = match wait {
                Ok(wait) => wait,
                Err(GiveUp::Disabled) => return Err(Undelivered::GaveUp(format!("{message} (retry_on_failure is disabled)"))),
                Err(GiveUp::OutOfTime(elapsed)) => {
                    return Err(Undelivered::GaveUp(format!(
                        "{message}; still failing after {attempts} attempts in {} (retry_on_failure.max_elapsed_time)",
                        seconds(elapsed)
                    )))
                }
            };
            if self.reachable.swap(false, Ordering::Relaxed) {
                tracing::warn!(exporter = %self.id, destination = %self.transport.destination(signal), error = %message,
                    "cannot deliver; retrying with backoff (queued data waits)");
            } else {
                tracing::debug!(exporter = %self.id, error = %message, wait_ms = wait.as_millis() as u64, "retrying");
            }
            tokio::select! {
                biased;
                _ = stop.wait_for(|stopping| *stopping) => return Err(Undelivered::Stopping),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn answered(&self, signal: Signal) {
        if !self.reachable.swap(true, Ordering::Relaxed) {
            tracing::info!(exporter = %self.id, destination = %self.transport.destination(signal), "the destination answers again");
        }
    }

    fn count_delivered(&self, signal: Signal, items: usize, delivered: Delivered) {
        let counters = self.counters.get(signal);
        let rejected = usize::try_from(delivered.rejected).unwrap_or(usize::MAX).min(items);
        counters.record_sent(items - rejected);
        if rejected > 0 {
            counters.record_dropped(rejected);
            tracing::warn!(exporter = %self.id, signal = signal.as_str(), rejected, items, error = %delivered.message,
                "the destination rejected part of a batch (partial success); those items are dropped");
        } else if !delivered.message.is_empty() {
            tracing::warn!(exporter = %self.id, signal = signal.as_str(), message = %delivered.message, "the destination accepted the batch with a warning");
        }
    }
}

pub use crate::net::error_chain;

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdata::SignalData;
    use crate::pipeline::ack::AckToken;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use prost::Message;
    use std::collections::VecDeque;

    /// Answers from a script (then `fallback`), recording every attempt.
    struct Scripted {
        script: Mutex<VecDeque<Result<Delivered, SendError>>>,
        fallback: Mutex<Result<Delivered, SendError>>,
        attempts: Mutex<Vec<(Signal, Bytes, Instant)>>,
    }

    impl Scripted {
        fn new(script: Vec<Result<Delivered, SendError>>, fallback: Result<Delivered, SendError>) -> Arc<Scripted> {
            Arc::new(Scripted {
                script: Mutex::new(script.into()),
                fallback: Mutex::new(fallback),
                attempts: Mutex::new(Vec::new()),
            })
        }
        fn attempts(&self) -> Vec<(Signal, Bytes, Instant)> {
            self.attempts.lock().unwrap().clone()
        }
        async fn wait_for_attempts(&self, n: usize) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.attempts.lock().unwrap().len() < n {
                assert!(Instant::now() < deadline, "only {} attempts", self.attempts.lock().unwrap().len());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }

    impl Transport for Scripted {
        fn encode(&self, _signal: Signal, payload: Bytes) -> Result<Bytes, SendError> {
            Ok(payload)
        }
        fn export(&self, signal: Signal, body: Bytes) -> BoxFuture<'_, Result<Delivered, SendError>> {
            self.attempts.lock().unwrap().push((signal, body, Instant::now()));
            let answer = self
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| self.fallback.lock().unwrap().clone());
            Box::pin(async move { answer })
        }
        fn destination(&self, _signal: Signal) -> String {
            "http://upstream:4318/v1/logs".into()
        }
    }

    fn logs(n: usize) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: (0..n)
                        .map(|i| LogRecord {
                            time_unix_nano: i as u64 + 1,
                            severity_number: 9,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn settings(queue_enabled: bool, queue_size: usize, max_elapsed: Option<Duration>) -> SenderSettings {
        SenderSettings {
            timeout: Duration::from_secs(1),
            retry: RetrySettings {
                enabled: true,
                initial_interval: Duration::from_millis(10),
                max_interval: Duration::from_millis(20),
                max_elapsed_time: max_elapsed,
                multiplier: 1.5,
                randomization_factor: 0.0,
            },
            queue: QueueSettings {
                enabled: queue_enabled,
                num_consumers: 1,
                queue_size,
                ..QueueSettings::default()
            },
        }
    }

    /// A sender whose in-memory queue is not waited for at shutdown.
    fn start(
        id: &ComponentId,
        transport: Arc<dyn Transport>,
        settings: &SenderSettings,
        queue_dir: Option<StorageDir<'_>>,
        counters: PerSignal,
    ) -> anyhow::Result<Sender> {
        let mut sender = Sender::start(id, transport, settings, queue_dir, counters)?;
        sender.memory_drain = Duration::from_millis(100);
        Ok(sender)
    }

    fn id() -> ComponentId {
        ComponentId {
            kind: "otlphttp".into(),
            name: Some("up".into()),
        }
    }

    fn count(counters: &PerSignal, field: fn(&crate::telemetry::ComponentCounters) -> &std::sync::atomic::AtomicU64) -> u64 {
        field(counters.get(Signal::Logs)).load(Ordering::Relaxed)
    }

    async fn wait_until(what: &str, check: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn acks_commit_once_queued_and_the_batch_is_delivered_later() {
        let transport = Scripted::new(vec![], Ok(Delivered::default()));
        let counters = PerSignal::detached("exporter/otlphttp/up");
        let sender = start(&id(), transport.clone(), &settings(true, 10, None), None, counters.clone()).unwrap();
        let (ack, committed) = AckToken::new();
        sender.accept(Envelope::new(logs(3), ack)).await.unwrap();
        assert_eq!(committed.await.unwrap(), Ok(()));
        transport.wait_for_attempts(1).await;
        assert_eq!(
            transport.attempts()[0].1,
            Bytes::from(logs(3).encode_to_vec()),
            "the exact protobuf goes out"
        );
        wait_until("sent", || count(&counters, |c| &c.sent) == 3).await;
        assert_eq!((count(&counters, |c| &c.queued), count(&counters, |c| &c.dropped)), (0, 0));
        sender.shutdown().await;
    }

    #[tokio::test]
    async fn retryable_failures_are_retried_after_the_servers_delay() {
        let busy = || {
            Err(SendError::Retryable {
                message: "HTTP 503".into(),
                delay: Some(Duration::from_millis(150)),
            })
        };
        let transport = Scripted::new(vec![busy(), busy()], Ok(Delivered::default()));
        let counters = PerSignal::detached("x");
        let sender = start(&id(), transport.clone(), &settings(true, 10, None), None, counters.clone()).unwrap();
        sender.accept(Envelope::unacked(logs(2))).await.unwrap();
        wait_until("sent", || count(&counters, |c| &c.sent) == 2).await;
        let times: Vec<Instant> = transport.attempts().iter().map(|a| a.2).collect();
        assert_eq!(times.len(), 3);
        for pair in times.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(150), "waited {:?}", pair[1] - pair[0]);
        }
        sender.shutdown().await;
    }

    #[tokio::test]
    async fn a_permanent_refusal_is_dropped_counted_and_not_retried() {
        let transport = Scripted::new(vec![], Err(SendError::permanent("HTTP 400: bad data")));
        let counters = PerSignal::detached("x");
        let sender = start(&id(), transport.clone(), &settings(true, 10, None), None, counters.clone()).unwrap();
        sender.accept(Envelope::unacked(logs(4))).await.unwrap();
        wait_until("dropped", || count(&counters, |c| &c.dropped) == 4).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(transport.attempts().len(), 1);
        assert_eq!((count(&counters, |c| &c.sent), count(&counters, |c| &c.queued)), (0, 0));
        sender.shutdown().await;
    }

    #[tokio::test]
    async fn a_batch_is_dropped_and_counted_after_max_elapsed_time() {
        let transport = Scripted::new(vec![], Err(SendError::retryable("connection refused")));
        let counters = PerSignal::detached("x");
        let budget = Some(Duration::from_millis(200));
        let sender = start(&id(), transport.clone(), &settings(true, 10, budget), None, counters.clone()).unwrap();
        let started = Instant::now();
        sender.accept(Envelope::unacked(logs(5))).await.unwrap();
        wait_until("dropped", || count(&counters, |c| &c.dropped) == 5).await;
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(transport.attempts().len() >= 5, "retried meanwhile: {}", transport.attempts().len());
        assert_eq!(count(&counters, |c| &c.queued), 0);
        sender.shutdown().await;
    }

    #[tokio::test]
    async fn partial_success_counts_the_rejected_items_as_dropped() {
        let rejected = Delivered {
            rejected: 2,
            message: "2 log records had invalid trace ids".into(),
        };
        let transport = Scripted::new(vec![Ok(rejected)], Ok(Delivered::default()));
        let counters = PerSignal::detached("x");
        let sender = start(&id(), transport.clone(), &settings(true, 10, None), None, counters.clone()).unwrap();
        sender.accept(Envelope::unacked(logs(5))).await.unwrap();
        wait_until("sent", || count(&counters, |c| &c.sent) == 3).await;
        assert_eq!(count(&counters, |c| &c.dropped), 2);
        assert_eq!(transport.attempts().len(), 1, "a partial success is not retried");
        sender.shutdown().await;
    }

    #[tokio::test]
    async fn a_full_queue_is_a_retryable_refusal_that_fails_the_acks() {
        let transport = Scripted::new(vec![], Err(SendError::retryable("down")));
        let counters = PerSignal::detached("x");
        let sender = start(&id(), transport.clone(), &settings(true, 1, None), None, counters.clone()).unwrap();
        sender.accept(Envelope::unacked(logs(1))).await.unwrap();
        let (ack, outcome) = AckToken::new();
        let err = sender.accept(Envelope::new(logs(1), ack)).await.unwrap_err();
        assert_eq!(
            err,
            PipelineError::Retryable {
                message: "exporter otlphttp/up: the sending queue is full (1 logs batches waiting); retry later".into(),
                retry_after: FULL_QUEUE_RETRY_AFTER,
            }
        );
        assert_eq!(outcome.await.unwrap(), Err(err));
        assert_eq!(count(&counters, |c| &c.queued), 1);
        sender.shutdown().await;
    }

    #[tokio::test]
    async fn shutdown_is_prompt_and_the_persistent_queue_is_sent_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let down = Scripted::new(vec![], Err(SendError::retryable("connection refused")));
        let counters = PerSignal::detached("x");
        let mut settings = settings(true, 10, None);
        settings.retry.initial_interval = Duration::from_secs(30);
        settings.retry.max_interval = Duration::from_secs(30);
        let sender = start(&id(), down.clone(), &settings, Some(StorageDir::new(dir.path())), counters.clone()).unwrap();
        for n in [1, 2, 3] {
            let (ack, committed) = AckToken::new();
            sender.accept(Envelope::new(logs(n), ack)).await.unwrap();
            assert_eq!(committed.await.unwrap(), Ok(()), "committed to the queue file");
        }
        down.wait_for_attempts(1).await;
        let started = Instant::now();
        sender.shutdown().await;
        assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
        assert_eq!(count(&counters, |c| &c.dropped), 0, "nothing is lost");
        drop(sender);

        let up = Scripted::new(vec![], Ok(Delivered::default()));
        let counters = PerSignal::detached("x");
        assert_eq!(count(&counters, |c| &c.queued), 0);
        let sender = start(&id(), up.clone(), &settings, Some(StorageDir::new(dir.path())), counters.clone()).unwrap();
        wait_until("sent", || count(&counters, |c| &c.sent) == 6).await;
        let mut sent: Vec<Bytes> = up.attempts().into_iter().map(|a| a.1).collect();
        sent.sort_by_key(|b| b.len());
        assert_eq!(sent, [1, 2, 3].map(|n| Bytes::from(logs(n).encode_to_vec())).to_vec());
        wait_until("empty", || count(&counters, |c| &c.queued) == 0).await;
        sender.shutdown().await;
    }

    #[tokio::test]
    async fn an_in_memory_queue_drains_at_shutdown_and_counts_what_is_left() {
        let transport = Scripted::new(vec![], Err(SendError::retryable("down")));
        let counters = PerSignal::detached("x");
        let sender = start(&id(), transport.clone(), &settings(true, 10, None), None, counters.clone()).unwrap();
        sender.accept(Envelope::unacked(logs(2))).await.unwrap();
        sender.accept(Envelope::unacked(logs(3))).await.unwrap();
        sender.shutdown().await;
        assert_eq!(count(&counters, |c| &c.dropped), 5);
        assert_eq!(count(&counters, |c| &c.queued), 0);
    }

    #[tokio::test]
    async fn without_a_queue_the_acks_carry_the_delivery_outcome() {
        let transport = Scripted::new(
            vec![
                Err(SendError::retryable("HTTP 503")),
                Ok(Delivered::default()),
                Err(SendError::permanent("HTTP 400: bad")),
            ],
            Ok(Delivered::default()),
        );
        let counters = PerSignal::detached("x");
        let sender = start(&id(), transport.clone(), &settings(false, 10, None), None, counters.clone()).unwrap();
        let (ack, outcome) = AckToken::new();
        sender.accept(Envelope::new(logs(2), ack)).await.unwrap();
        assert_eq!(outcome.await.unwrap(), Ok(()));
        assert_eq!(
            (transport.attempts().len(), count(&counters, |c| &c.sent)),
            (2, 2),
            "retried, then delivered"
        );

        let (ack, outcome) = AckToken::new();
        let err = sender.accept(Envelope::new(logs(1), ack)).await.unwrap_err();
        assert_eq!(
            err,
            PipelineError::permanent("exporter otlphttp/up: http://upstream:4318/v1/logs refused the data: HTTP 400: bad")
        );
        assert_eq!(outcome.await.unwrap(), Err(err));
        assert_eq!(count(&counters, |c| &c.dropped), 0, "the sender was told; nothing dropped here");

        *transport.fallback.lock().unwrap() = Err(SendError::retryable("HTTP 503"));
        let mut no_retry = settings(false, 10, None);
        no_retry.retry.enabled = false;
        let sender = start(&id(), transport.clone(), &no_retry, None, counters.clone()).unwrap();
        let err = sender.accept(Envelope::unacked(logs(1))).await.unwrap_err();
        assert_eq!(
            err,
            PipelineError::retryable(
                "exporter otlphttp/up: cannot deliver to http://upstream:4318/v1/logs: HTTP 503 (retry_on_failure is disabled)"
            )
        );
    }

    fn batching(min_size: u64, max_size: u64, flush_timeout: Duration) -> SenderSettings {
        let mut settings = settings(true, 100, None);
        settings.queue.batch = Some(crate::exporter::queue::BatchSettings {
            flush_timeout,
            sizer: Sizer::Items,
            min_size,
            max_size,
        });
        settings
    }

    fn items_in(body: &Bytes) -> usize {
        ExportLogsServiceRequest::decode(body.as_ref()).unwrap().item_count()
    }

    #[tokio::test]
    async fn batching_merges_the_queued_batches_of_a_signal_until_min_size() {
        let transport = Scripted::new(vec![], Ok(Delivered::default()));
        let counters = PerSignal::detached("x");
        let sender = start(
            &id(),
            transport.clone(),
            &batching(6, 0, Duration::from_secs(10)),
            None,
            counters.clone(),
        )
        .unwrap();
        for n in [2, 1, 3] {
            sender.accept(Envelope::unacked(logs(n))).await.unwrap();
        }
        wait_until("sent", || count(&counters, |c| &c.sent) == 6).await;
        let attempts = transport.attempts();
        assert_eq!(attempts.len(), 1, "one request for the three batches");
        let mut expected = logs(2);
        SignalData::merge(&mut expected, logs(1));
        SignalData::merge(&mut expected, logs(3));
        assert_eq!(
            ExportLogsServiceRequest::decode(attempts[0].1.as_ref()).unwrap(),
            expected,
            "the concatenated payloads are the merged request"
        );
        wait_until("every part left the queue", || count(&counters, |c| &c.queued) == 0).await;
        sender.shutdown().await;
    }

    #[tokio::test]
    async fn a_batch_short_of_min_size_goes_at_flush_timeout() {
        let transport = Scripted::new(vec![], Ok(Delivered::default()));
        let counters = PerSignal::detached("x");
        let sender = start(
            &id(),
            transport.clone(),
            &batching(100, 0, Duration::from_millis(150)),
            None,
            counters.clone(),
        )
        .unwrap();
        let accepted = Instant::now();
        sender.accept(Envelope::unacked(logs(3))).await.unwrap();
        transport.wait_for_attempts(1).await;
        let attempt = transport.attempts()[0].clone();
        assert!(
            attempt.2 - accepted >= Duration::from_millis(140),
            "sent after {:?}, before flush_timeout",
            attempt.2 - accepted
        );
        assert_eq!(attempt.1, Bytes::from(logs(3).encode_to_vec()));
        wait_until("sent", || count(&counters, |c| &c.sent) == 3).await;
        sender.shutdown().await;
    }

    #[tokio::test]
    async fn max_size_cuts_large_envelopes_and_caps_what_a_batch_takes_in() {
        let transport = Scripted::new(vec![], Ok(Delivered::default()));
        let counters = PerSignal::detached("x");
        let sender = start(
            &id(),
            transport.clone(),
            &batching(4, 4, Duration::from_millis(50)),
            None,
            counters.clone(),
        )
        .unwrap();
        sender.accept(Envelope::unacked(logs(10))).await.unwrap();
        wait_until("sent", || count(&counters, |c| &c.sent) == 10).await;
        let sizes: Vec<usize> = transport.attempts().iter().map(|a| items_in(&a.1)).collect();
        assert_eq!(sizes, [4, 4, 2], "cut at 4 when queued; the rest went at flush_timeout");
        sender.shutdown().await;

        let transport = Scripted::new(vec![], Ok(Delivered::default()));
        let counters = PerSignal::detached("x");
        let sender = start(
            &id(),
            transport.clone(),
            &batching(5, 5, Duration::from_millis(50)),
            None,
            counters.clone(),
        )
        .unwrap();
        sender.accept(Envelope::unacked(logs(3))).await.unwrap();
        sender.accept(Envelope::unacked(logs(3))).await.unwrap();
        wait_until("sent", || count(&counters, |c| &c.sent) == 6).await;
        let sizes: Vec<usize> = transport.attempts().iter().map(|a| items_in(&a.1)).collect();
        assert_eq!(sizes, [3, 3], "3 + 3 would pass max_size 5: the second waits for its own batch");
        sender.shutdown().await;
    }

    #[tokio::test]
    async fn without_a_queue_nothing_is_batched_or_cut() {
        let transport = Scripted::new(vec![], Ok(Delivered::default()));
        let mut unqueued = batching(4, 4, Duration::from_secs(10));
        unqueued.queue.enabled = false;
        let sender = start(&id(), transport.clone(), &unqueued, None, PerSignal::detached("x")).unwrap();
        sender.accept(Envelope::unacked(logs(10))).await.unwrap();
        let sizes: Vec<usize> = transport.attempts().iter().map(|a| items_in(&a.1)).collect();
        assert_eq!(sizes, [10]);
    }

    #[test]
    fn cut_keeps_every_item_and_each_part_within_max_size() {
        let by_items: Vec<usize> = cut(logs(10), Sizer::Items, 4).iter().map(|p| p.item_count()).collect();
        assert_eq!(by_items, [4, 4, 2]);
        assert_eq!(cut(logs(3), Sizer::Items, 4).len(), 1);

        let data = logs(50);
        let max_size = (data.encoded_len() / 4) as u64;
        let parts = cut(data, Sizer::Bytes, max_size);
        assert!(parts.len() >= 4, "{} parts", parts.len());
        for part in &parts {
            assert!(part.encoded_len() as u64 <= max_size, "{} > {max_size}", part.encoded_len());
        }
        let times: Vec<u64> = parts
            .iter()
            .flat_map(|p| p.resource_logs.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records))
            .map(|r| r.time_unix_nano)
            .collect();
        assert_eq!(times, (1..=50).collect::<Vec<u64>>(), "every record, in order");
    }

    #[tokio::test]
    async fn headers_and_compression_parse_with_errors_at_their_paths() {
        let value: Value =
            serde_yaml_ng::from_str("{Authorization: 'Bearer abc', 'bad name': x, x-bin: y, x-ok: \"caf\\u00e9\\n\"}").unwrap();
        let mut errors = Vec::new();
        let headers = parse_headers(&mut Parser::collecting(&mut errors), Some(&value), "exporters.otlp.headers", true);
        assert_eq!(format!("{headers:?}"), r#"{"authorization": "<redacted>"}"#, "values never printed");
        assert_eq!(headers.0[0].1, "Bearer abc");
        assert_eq!(
            errors,
            vec![
                "exporters.otlp.headers.bad name: not a valid header name",
                "exporters.otlp.headers.x-bin: binary (-bin) gRPC metadata is not supported; use a text header",
                "exporters.otlp.headers.x-ok: not a valid header value (visible ASCII only)",
            ]
        );
        let mut errors = Vec::new();
        let mut p = Parser::collecting(&mut errors);
        assert_eq!(parse_compression(&mut p, None, "c"), Compression::Gzip);
        assert_eq!(parse_compression(&mut p, Some(&Value::from("none")), "c"), Compression::None);
        assert_eq!(parse_compression(&mut p, Some(&Value::from("zstd")), "c"), Compression::Zstd);
        parse_compression(&mut p, Some(&Value::from("snappy")), "exporters.otlp.compression");
        assert_eq!(
            errors,
            vec!["exporters.otlp.compression: expected gzip, zstd or none, got 'snappy'"]
        );
    }
}

/// Golden OTLP input for the forwarding exporters' tests: one request of each signal.
#[cfg(test)]
pub(crate) mod golden {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn resource() -> Option<Resource> {
        Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("checkout".into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    fn scope() -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: "golden".into(),
            version: "1.0".into(),
            ..Default::default()
        })
    }

    /// Two spans of one trace.
    pub fn traces() -> ExportTraceServiceRequest {
        let span = |id: u8, parent: Option<u8>, name: &str| Span {
            trace_id: vec![0x5b; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: name.into(),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_250_000_000,
            attributes: vec![KeyValue {
                key: "http.route".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("/cart".into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(),
                scope_spans: vec![ScopeSpans {
                    scope: scope(),
                    spans: vec![span(1, None, "GET /cart"), span(2, Some(1), "SELECT cart")],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// One gauge with one data point.
    pub fn metrics() -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource(),
                scope_metrics: vec![ScopeMetrics {
                    scope: scope(),
                    metrics: vec![Metric {
                        name: "queue.depth".into(),
                        unit: "{item}".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                time_unix_nano: 1_700_000_000_000_000_000,
                                value: Some(number_data_point::Value::AsInt(42)),
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// Three log records.
    pub fn logs() -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(),
                scope_logs: vec![ScopeLogs {
                    scope: scope(),
                    log_records: (1..=3)
                        .map(|i| LogRecord {
                            time_unix_nano: 1_700_000_000_000_000_000 + i,
                            severity_number: 13,
                            severity_text: "WARN".into(),
                            body: Some(AnyValue {
                                value: Some(any_value::Value::StringValue(format!("cart {i} is slow"))),
                            }),
                            trace_id: vec![0x5b; 16],
                            span_id: vec![1; 8],
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }
}
