//! Receivers: the `ReceiverFactory` each type registers (`crate::components`), what the box hands
//! every receiver (`ReceiverHost`), and what they share: admission before decoding and the ingest
//! step (validate, hand to the pipeline, wait for the commit).

pub mod answer;
pub mod budget;
pub mod filelog;
pub mod hostmetrics;
pub mod httpcheck;
pub mod jaeger;
pub mod nginx;
pub mod nop;
pub mod otlp;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod prometheus;
pub mod redis;
pub mod scraper;
pub mod zipkin;

use crate::auth::Tokens;
use crate::config::{ComponentId, ComponentType, Settings};
use crate::extension::{Extension, Extensions};
use crate::net::Stop;
use crate::pdata::SignalData;
use crate::pipeline::ack::AckToken;
use crate::pipeline::{Envelope, NoPipeline, PipelineError, SharedConsumer, SignalConsumers};
use crate::telemetry::IngestStats;
use answer::Refusal;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls::ServerConfig;

/// Default limit on a request body after decompression.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

/// Builds a receiver type's instances, one per configured id.
pub trait ReceiverFactory: ComponentType {
    /// Builds the instance and binds its listeners, so that a taken port stops start-up before
    /// anything serves. `heads`: the pipelines it feeds, per signal.
    fn build<'a>(
        &'a self,
        host: &'a ReceiverHost,
        id: &'a ComponentId,
        settings: &'a Settings,
        heads: SignalConsumers,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Receiver>>>;
}

/// A built receiver, its listeners bound.
pub trait Receiver: Send {
    fn endpoints(&self) -> Vec<Endpoint>;
    /// What a receiver that listens nowhere reads: a scraper's targets (URLs, `host:port`), a file
    /// reader's globs; for the status answer and the Setup page.
    fn targets(&self) -> Vec<String> {
        Vec::new()
    }
    /// Serves until `stop`; each handle ends once its in-flight requests are answered.
    fn start(self: Box<Self>, stop: &Stop) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>>;
}

/// Where a receiver listens.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub receiver: ComponentId,
    /// `grpc` or `http`.
    pub protocol: &'static str,
    pub address: SocketAddr,
}

/// What the box gives every receiver: its ingest counters and admission, the ingest tokens and
/// TLS that apply to every ingest port, and the running extensions (authenticators).
pub struct ReceiverHost {
    pub stats: Arc<IngestStats>,
    pub admission: Arc<Admission>,
    pub ingest_tokens: Tokens,
    pub tls: Option<IngestTls>,
    pub extensions: Arc<Extensions>,
    /// Host names loopback listeners serve besides the loopback ones (`net::serve`).
    pub allowed_hosts: crate::net::AllowedHosts,
}

/// The server TLS configs of ingest ports (client certificates checked when a CA is given).
#[derive(Clone)]
pub struct IngestTls {
    /// HTTP/1.1 and h2 (OTLP/HTTP, zipkin).
    pub http: Arc<ServerConfig>,
    /// h2 only (gRPC).
    pub grpc: Arc<ServerConfig>,
}

impl ReceiverHost {
    /// The intake of a receiver feeding `heads`; a signal no pipeline takes from it gets a
    /// permanent refusal that says so.
    pub fn intake(&self, heads: &SignalConsumers, max_request_bytes: usize) -> Intake {
        Intake {
            traces: heads.traces.clone().unwrap_or_else(|| Arc::new(NoPipeline)),
            metrics: heads.metrics.clone().unwrap_or_else(|| Arc::new(NoPipeline)),
            logs: heads.logs.clone().unwrap_or_else(|| Arc::new(NoPipeline)),
            stats: self.stats.clone(),
            max_request_bytes,
            admission: self.admission.clone(),
        }
    }
}

const INGEST_TOKEN_HINT: &str = "missing or wrong ingest token: send `Authorization: Bearer <token>` \
    (SDKs: OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer <token>\")";

/// The ingest check of a request's headers: the receiver protocol's authenticator extension when
/// it names one (as in the Collector, it decides alone: both read the same `Authorization`
/// header), else the box's ingest tokens (none set: open). `Err` is the reason to refuse with.
fn check_ingest(tokens: &Tokens, authenticator: Option<&Arc<dyn Extension>>, headers: &http::HeaderMap) -> Result<(), String> {
    if let Some(authenticator) = authenticator.and_then(|e| e.authenticator()) {
        return authenticator.authenticate(headers);
    }
    let authorization = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if tokens.enabled() && !authorization.is_some_and(|v| tokens.accepts_bearer(v)) {
        return Err(INGEST_TOKEN_HINT.to_string());
    }
    Ok(())
}

/// Wraps an HTTP ingest router in `check_ingest`, which runs before the body is read; a refusal is
/// 401 with a `google.rpc.Status` body in the request's encoding.
pub fn guard_http(router: axum::Router, tokens: Tokens, authenticator: Option<Arc<dyn Extension>>) -> axum::Router {
    router.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let verdict = check_ingest(&tokens, authenticator.as_ref(), request.headers());
            async move {
                match verdict {
                    Ok(()) => next.run(request).await,
                    Err(message) => answer::Refusal::unauthenticated(message).into_http(answer::Encoding::of_request(request.headers())),
                }
            }
        },
    ))
}

/// The gRPC interceptor running `check_ingest` before a message is decoded: UNAUTHENTICATED.
pub fn guard_grpc(
    tokens: Tokens,
    authenticator: Option<Arc<dyn Extension>>,
) -> impl Fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    move |request: tonic::Request<()>| {
        let headers = request.metadata().clone().into_headers();
        check_ingest(&tokens, authenticator.as_ref(), &headers).map_err(|message| {
            let message = message.replace("`Authorization: ", "the metadata `authorization: ");
            answer::Refusal::unauthenticated(message).into_grpc()
        })?;
        Ok(request)
    }
}

/// A request's `Content-Encoding`, trimmed and lower-case ("" when absent).
pub fn content_encoding(headers: &http::HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The heads of the three signal pipelines that receivers feed.
#[derive(Clone)]
pub struct Intake {
    pub traces: SharedConsumer<ExportTraceServiceRequest>,
    pub metrics: SharedConsumer<ExportMetricsServiceRequest>,
    pub logs: SharedConsumer<ExportLogsServiceRequest>,
    pub stats: Arc<IngestStats>,
    pub max_request_bytes: usize,
    pub admission: Arc<Admission>,
}

/// Plain bodies above this size are decoded on the blocking pool (`Admission::decode`).
const BLOCKING_DECODE_BYTES: usize = 64 * 1024;

/// Raw request bytes being read, decoded and ingested at once, at most. Bodies count as they
/// stream in, so unfinished uploads cannot hold more than this between them.
pub const MAX_DECODING_BYTES: usize = 32 * 1024 * 1024;
/// Memory one request may take once decoded, by `budget`'s estimate made before decoding. A valid
/// 16 MiB body of empty ResourceSpans decodes to about 850 MiB; real requests take 4 to 7 times
/// their size (16 MiB: about 110 MiB), JSON a little more.
pub const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;
/// Memory all requests being decoded and ingested take at once, by the same estimate: one request
/// at the per-request maximum leaves room for the usual small ones.
pub const MAX_DECODED_IN_FLIGHT: u64 = 384 * 1024 * 1024;
/// Longest a request body may take to arrive once its headers have (a stalled upload holds
/// memory and a connection): answered 503, which senders retry.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Checks made before a request body is decoded, so overload is refused while it is still cheap:
/// the memory limit, and a budget of request bytes in decoding and ingest at once.
pub struct Admission {
    memory: Option<Arc<crate::memory::MemoryGauge>>,
    decoding: Arc<tokio::sync::Semaphore>,
    /// KiB of estimated decoded memory (`MAX_DECODED_IN_FLIGHT`).
    decoded: Arc<tokio::sync::Semaphore>,
    /// One per core: large bodies decoded at once on the blocking pool. Decoding is CPU-bound, so
    /// more at once gains nothing, while each holds its decoded copy (a JSON tree is several times
    /// the body) and, on its own thread, an allocator arena of its own: 16 JSON senders peaked at
    /// 331 MiB (`scripts/bench ingest`).
    decoders: Arc<tokio::sync::Semaphore>,
}

impl Admission {
    pub fn new(memory: Option<Arc<crate::memory::MemoryGauge>>) -> Self {
        Admission {
            memory,
            decoding: Arc::new(tokio::sync::Semaphore::new(MAX_DECODING_BYTES / 1024)),
            decoded: Arc::new(tokio::sync::Semaphore::new((MAX_DECODED_IN_FLIGHT / 1024) as usize)),
            decoders: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
        }
    }

    /// Runs `decode` on a request body of `body_bytes` bytes, `compressed` or not. Inflating or
    /// decoding a large body takes milliseconds, so those go to the blocking pool, after waiting for
    /// a free decoder (the body is already read and counted against the decoding budget); small
    /// plain ones are decoded in place. `None` if the decoding task died.
    pub async fn decode<R: Send + 'static>(
        &self,
        body_bytes: usize,
        compressed: bool,
        decode: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        if body_bytes <= BLOCKING_DECODE_BYTES && !compressed {
            return Some(decode());
        }
        let _decoder = self.decoders.clone().acquire_owned().await.ok()?;
        tokio::task::spawn_blocking(decode).await.ok()
    }

    /// Refuse before reading the body when over the memory limit.
    pub fn check_memory(&self) -> Result<(), PipelineError> {
        match &self.memory {
            Some(gauge) if gauge.is_refusing() => Err(PipelineError::Retryable {
                message: "otelbox is over its memory limit (memory_limiter); retry later".into(),
                retry_after: Duration::from_secs(2),
            }),
            _ => Ok(()),
        }
    }

    /// Room to decode and ingest a body of this size, held until the answer; refused at once when
    /// the budget is spent (the sender retries), rather than queueing decoded copies in memory.
    pub fn reserve(&self, body_bytes: usize) -> Result<tokio::sync::OwnedSemaphorePermit, PipelineError> {
        let kib = (body_bytes / 1024 + 1).min(MAX_DECODING_BYTES / 1024) as u32;
        self.decoding.clone().try_acquire_many_owned(kib).map_err(|_| busy())
    }

    /// Reads a request body of at most `limit` bytes, counting it against the decoding budget as
    /// it arrives (refused retryably once the budget is spent, so unfinished uploads cannot pile
    /// up) and giving up after `BODY_READ_TIMEOUT`. The room is held until the answer.
    pub async fn read_body(
        &self,
        body: axum::body::Body,
        limit: usize,
    ) -> Result<(bytes::Bytes, tokio::sync::OwnedSemaphorePermit), Refusal> {
        use futures::StreamExt;
        let deadline = tokio::time::Instant::now() + BODY_READ_TIMEOUT;
        let mut stream = body.into_data_stream();
        let mut room = self.reserve(0)?;
        let mut held_kib = 1usize;
        let mut body = bytes::BytesMut::new();
        loop {
            let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
                // Retryable (503), not 408, which OTLP senders do not retry: the network may just be slow.
                Err(_) => {
                    return Err(PipelineError::retryable(format!(
                        "the request body did not arrive within {} s; retry",
                        BODY_READ_TIMEOUT.as_secs()
                    ))
                    .into())
                }
                Ok(None) => break,
                // A transport failure (a stalled or cut connection), not bad data: worth a retry.
                Ok(Some(Err(e))) => return Err(PipelineError::retryable(format!("the request body could not be read ({e}); retry")).into()),
                Ok(Some(Ok(chunk))) => chunk,
            };
            if body.len() + chunk.len() > limit {
                return Err(body_too_large(limit));
            }
            let need_kib = (body.len() + chunk.len()) / 1024 + 1;
            if need_kib > held_kib {
                let more = self
                    .decoding
                    .clone()
                    .try_acquire_many_owned((need_kib - held_kib) as u32)
                    .map_err(|_| busy())?;
                room.merge(more);
                held_kib = need_kib;
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body.freeze(), room))
    }

    /// Room for a request whose decoded form `budget` estimates at `estimate` bytes, held until
    /// the answer: refused for good over `MAX_DECODED_BYTES` (413 / RESOURCE_EXHAUSTED: smaller
    /// batches would do), retryably while other requests hold the in-flight budget.
    pub fn admit_decoded(&self, estimate: u64) -> Result<tokio::sync::OwnedSemaphorePermit, Refusal> {
        if estimate > MAX_DECODED_BYTES {
            return Err(Refusal::too_large(format!(
                "the request would take about {} MiB of memory once decoded, more than the {} MiB one request may; send smaller batches",
                estimate >> 20,
                MAX_DECODED_BYTES >> 20
            )));
        }
        let kib = (estimate / 1024 + 1) as u32;
        Ok(self.decoded.clone().try_acquire_many_owned(kib).map_err(|_| busy())?)
    }
}

fn busy() -> PipelineError {
    PipelineError::retryable("otelbox is busy decoding other requests; retry later")
}

/// The refusal of a body over `limit` bytes (after decompression).
pub fn body_too_large(limit: usize) -> Refusal {
    Refusal::too_large(format!(
        "request body is larger than the {limit}-byte limit after decompression; send smaller batches"
    ))
}

impl Admission {}

/// Pick the pipeline head for a payload type.
pub trait IntakeFor<T> {
    fn head(&self) -> &SharedConsumer<T>;
}
impl IntakeFor<ExportTraceServiceRequest> for Intake {
    fn head(&self) -> &SharedConsumer<ExportTraceServiceRequest> {
        &self.traces
    }
}
impl IntakeFor<ExportMetricsServiceRequest> for Intake {
    fn head(&self) -> &SharedConsumer<ExportMetricsServiceRequest> {
        &self.metrics
    }
}
impl IntakeFor<ExportLogsServiceRequest> for Intake {
    fn head(&self) -> &SharedConsumer<ExportLogsServiceRequest> {
        &self.logs
    }
}

/// A stored request; `rejected` items were invalid and dropped (an OTLP partial success).
#[derive(Debug, Default, PartialEq)]
pub struct Accepted {
    pub rejected: usize,
    pub message: String,
}

/// Validate, hand to the pipeline, and wait until the data is committed.
pub async fn ingest<T: SignalData>(intake: &Intake, mut data: T) -> Result<Accepted, PipelineError>
where
    Intake: IntakeFor<T>,
{
    let counters = intake.stats.signal(T::SIGNAL);
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let accepted = match data.remove_invalid() {
        Some((rejected, message)) => {
            counters.rejected.fetch_add(rejected as u64, Ordering::Relaxed);
            Accepted { rejected, message }
        }
        None => Accepted::default(),
    };
    let items = data.item_count();
    if items == 0 {
        return Ok(accepted);
    }
    let (ack, committed) = AckToken::new();
    let outcome = match intake.head().consume(Envelope::new(data, ack)).await {
        Err(err) => Err(err),
        // The answer is the write's outcome, however long it takes: a "retry later" for data that
        // is then committed would be stored twice by the retry (logs and points; spans are kept
        // once). Every ack is answered: by the commit, by a refusal, or, when the pipeline drops
        // it (shutting down), here. A sender that gives up first retries by its own timeout.
        Ok(()) => match committed.await {
            Ok(result) => result,
            Err(_) => Err(PipelineError::retryable("otelbox is shutting down; retry later")),
        },
    };
    match outcome {
        Ok(()) => {
            counters.accepted.fetch_add(items as u64, Ordering::Relaxed);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            counters.last_accepted_ns.fetch_max(now, Ordering::Relaxed);
            Ok(accepted)
        }
        Err(err) => {
            let counter = if err.is_retryable() {
                &counters.refused
            } else {
                &counters.rejected
            };
            counter.fetch_add(items as u64, Ordering::Relaxed);
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Acknowledges every envelope after `delay`, as a storage writer busy for that long would.
    struct SlowCommit(Duration);
    impl<T: Send + 'static> crate::pipeline::Consumer<T> for SlowCommit {
        fn consume(&self, envelope: Envelope<T>) -> futures::future::BoxFuture<'_, Result<(), PipelineError>> {
            let delay = self.0;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                for ack in envelope.acks {
                    ack.commit();
                }
            });
            Box::pin(async { Ok(()) })
        }
    }

    /// A commit that comes late (a writer stalled by a huge export) is still answered as success:
    /// answering "retry later" for data then committed makes the sender store it twice.
    #[tokio::test(start_paused = true)]
    async fn a_slow_commit_is_answered_with_its_outcome_never_retry_later() {
        let slow = Arc::new(SlowCommit(Duration::from_secs(600)));
        let intake = Intake {
            traces: slow.clone(),
            metrics: slow.clone(),
            logs: slow,
            stats: Default::default(),
            max_request_bytes: 1 << 20,
            admission: Arc::new(Admission::new(None)),
        };
        let request = crate::gen::Generator::new(5).logs_request(3);
        let answer = ingest(&intake, request).await;
        assert!(answer.is_ok(), "{answer:?}");
        assert_eq!(intake.stats.logs.refused.load(Ordering::Relaxed), 0);
    }

    /// A body fed through a channel, chunk by chunk, as a slow client sends it.
    fn streamed_body() -> (tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>, axum::body::Body) {
        let (send, receive) = tokio::sync::mpsc::channel(16);
        (
            send,
            axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(receive)),
        )
    }

    /// Bodies count against the decoding budget while they arrive: unfinished uploads hold at most
    /// `MAX_DECODING_BYTES` between them (120 of 15 MiB held 1.83 GiB before), and one that stops
    /// arriving is given up after `BODY_READ_TIMEOUT`; both answers are retryable.
    #[tokio::test(start_paused = true)]
    async fn unfinished_uploads_hold_at_most_the_decoding_budget_and_time_out() {
        let admission = Arc::new(Admission::new(None));
        let chunk = bytes::Bytes::from(vec![0u8; 1 << 20]);
        // An upload of 20 MiB that stops before its end.
        let (first, body) = streamed_body();
        let reading = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.read_body(body, 64 << 20).await.map(|(b, _)| b.len()) })
        };
        for _ in 0..20 {
            first.send(Ok(chunk.clone())).await.unwrap();
        }
        tokio::task::yield_now().await;
        // A second one gets as far as the budget's rest, then is refused.
        let (second, body) = streamed_body();
        let refused = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.read_body(body, 64 << 20).await.map(|(b, _)| b.len()) })
        };
        for _ in 0..20 {
            if second.send(Ok(chunk.clone())).await.is_err() {
                break;
            }
        }
        let refusal = refused.await.unwrap().unwrap_err();
        assert!(refusal.is_retryable() && refusal.message.contains("busy"), "{refusal:?}");
        // The first never finishes: after BODY_READ_TIMEOUT it is refused, retryably, and frees its room.
        let refusal = reading.await.unwrap().unwrap_err();
        assert!(refusal.is_retryable() && refusal.message.contains("did not arrive"), "{refusal:?}");
        drop(first);
        assert!(admission.reserve(MAX_DECODING_BYTES - 2048).is_ok(), "the budget is free again");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_bodies_are_decoded_at_most_one_per_core_at_once() {
        let admission = Arc::new(Admission::new(None));
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let decodes: Vec<_> = (0..16)
            .map(|_| {
                let (admission, now, most) = (admission.clone(), now.clone(), most.clone());
                tokio::spawn(async move {
                    admission
                        .decode(1024 * 1024, false, move || {
                            let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(at_once, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            now.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        for decode in decodes {
            assert!(decode.await.unwrap().is_some());
        }
        let cores = std::thread::available_parallelism().unwrap().get();
        assert!(
            most.load(Ordering::SeqCst) <= cores,
            "{} at once on {cores} cores",
            most.load(Ordering::SeqCst)
        );
        assert!(most.load(Ordering::SeqCst) >= 1);
    }
}
