//! The jaeger receiver: spans from Jaeger clients and agents, with the Collector's
//! `jaegerreceiver` keys, translated to OTLP as its `pkg/translator/jaeger` does (`model.rs`).
//!
//! ```yaml
//! receivers:
//!   jaeger:
//!     protocols:
//!       grpc:            # 127.0.0.1:14250, jaeger.api_v2.CollectorService/PostSpans (protobuf)
//!       thrift_http:     # 127.0.0.1:14268, POST /api/traces with a thrift binary Batch
//!       thrift_compact:  # 127.0.0.1:6831/udp, the agent's emitBatch, compact protocol
//!       thrift_binary:   # 127.0.0.1:6832/udp, the same in the binary protocol
//! ```
//!
//! A protocol listens only when its key is present. `grpc` and `thrift_http` are ingest ports like
//! OTLP's: the same TLS, ingest tokens and `auth` authenticators, admission and decoding budgets;
//! HTTP answers 202 once committed, 400 for a body that is not a Jaeger batch, 503 with Retry-After
//! when refused retryably. The UDP ports cannot answer or authenticate (the agent protocol has no
//! reply): a datagram is decoded and ingested by one of `workers` tasks from a queue of
//! `queue_size`; one that arrives while the queue is full, or that does not decode, is dropped and
//! counted (the Collector does the same). `remote_sampling` was removed from the Collector (v0.61)
//! and is refused, naming the extension that replaced it.

mod model;
pub(crate) mod proto;
mod thrift;

#[cfg(test)]
mod tests;

pub use model::{to_otlp, Format};

use super::answer::Refusal;
use super::otlp::{parse_protocol, ProtocolConfig};
use super::{guard_grpc, guard_http, ingest, Endpoint, Intake, Receiver, ReceiverFactory, ReceiverHost, DEFAULT_MAX_REQUEST_BYTES};
use crate::config::{ComponentId, Parser, Settings};
use crate::pdata::Signal;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_yaml_ng::Value;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const DEFAULT_GRPC: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 14250);
const DEFAULT_THRIFT_HTTP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 14268);
const DEFAULT_THRIFT_COMPACT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 6831);
const DEFAULT_THRIFT_BINARY: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 6832);

/// The path of the thrift HTTP collector endpoint.
pub const THRIFT_HTTP_PATH: &str = "/api/traces";

#[derive(Clone, Debug, PartialEq, Default)]
pub struct JaegerConfig {
    pub grpc: Option<ProtocolConfig>,
    pub thrift_http: Option<ProtocolConfig>,
    pub thrift_compact: Option<UdpConfig>,
    pub thrift_binary: Option<UdpConfig>,
}

/// An agent port: the Collector's keys and defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpConfig {
    pub endpoint: SocketAddr,
    /// Datagrams waiting for a worker; more are dropped.
    pub queue_size: usize,
    /// Longer datagrams arrive cut and fail to decode.
    pub max_packet_size: usize,
    pub workers: usize,
    /// SO_RCVBUF in bytes; 0 keeps the system's.
    pub socket_buffer_size: usize,
}

impl UdpConfig {
    fn new(endpoint: SocketAddr) -> Self {
        UdpConfig {
            endpoint,
            queue_size: 1000,
            max_packet_size: 65_000,
            workers: 10,
            socket_buffer_size: 0,
        }
    }
}

pub struct Factory;
crate::component_type!(Factory, "jaeger", &[Signal::Traces], parse, refs: extension_refs);

fn extension_refs(config: &JaegerConfig) -> Vec<(String, ComponentId)> {
    [("grpc", &config.grpc), ("thrift_http", &config.thrift_http)]
        .into_iter()
        .filter_map(|(name, protocol)| {
            let authenticator = protocol.as_ref()?.authenticator.clone()?;
            Some((format!("protocols.{name}.auth.authenticator"), authenticator))
        })
        .collect()
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> JaegerConfig {
    let mut config = JaegerConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["protocols", "remote_sampling"], path);
    if body.contains_key("remote_sampling") {
        p.error(
            &format!("{path}.remote_sampling"),
            "was removed from the Collector's jaeger receiver (v0.61); use the jaegerremotesampling extension, which otelbox does not have",
        );
    }
    let protocols_path = format!("{path}.protocols");
    let Some(protocols) = p.mapping(body.get("protocols"), &protocols_path) else {
        return config;
    };
    p.only_keys(
        protocols,
        &["grpc", "thrift_http", "thrift_compact", "thrift_binary"],
        &protocols_path,
    );
    if protocols.is_empty() {
        p.error(
            &protocols_path,
            "must specify at least one protocol (grpc, thrift_http, thrift_compact, thrift_binary)",
        );
    }
    let at = |name: &str| format!("{protocols_path}.{name}");
    if let Some(v) = protocols.get("grpc") {
        config.grpc = parse_protocol(p, v, &at("grpc"), "grpc", DEFAULT_GRPC);
    }
    if let Some(v) = protocols.get("thrift_http") {
        config.thrift_http = parse_protocol(p, v, &at("thrift_http"), "http", DEFAULT_THRIFT_HTTP);
    }
    if let Some(v) = protocols.get("thrift_compact") {
        config.thrift_compact = parse_udp(p, v, &at("thrift_compact"), DEFAULT_THRIFT_COMPACT);
    }
    if let Some(v) = protocols.get("thrift_binary") {
        config.thrift_binary = parse_udp(p, v, &at("thrift_binary"), DEFAULT_THRIFT_BINARY);
    }
    config
}

fn parse_udp(p: &mut Parser, value: &Value, path: &str, default: SocketAddr) -> Option<UdpConfig> {
    let mut config = UdpConfig::new(default);
    if value.is_null() {
        return Some(config);
    }
    let body = p.mapping(Some(value), path)?;
    p.only_keys(
        body,
        &["endpoint", "queue_size", "max_packet_size", "workers", "socket_buffer_size"],
        path,
    );
    if let Some(v) = body.get("endpoint") {
        config.endpoint = p.endpoint(v, &format!("{path}.endpoint")).unwrap_or(default);
    }
    let mut count = |key: &str, slot: &mut usize, at_least: u64| {
        let Some(v) = body.get(key) else { return };
        let at = format!("{path}.{key}");
        match p.unsigned(v, &at) {
            Some(n) if n < at_least => p.error(&at, format!("must be at least {at_least}")),
            Some(n) => *slot = usize::try_from(n).unwrap_or(usize::MAX),
            None => {}
        }
    };
    count("queue_size", &mut config.queue_size, 1);
    count("max_packet_size", &mut config.max_packet_size, 1);
    count("workers", &mut config.workers, 1);
    count("socket_buffer_size", &mut config.socket_buffer_size, 0);
    // A datagram is at most 65,507 bytes of payload.
    config.max_packet_size = config.max_packet_size.min(65_535);
    config.workers = config.workers.min(1024);
    Some(config)
}

impl ReceiverFactory for Factory {
    fn build<'a>(
        &'a self,
        host: &'a ReceiverHost,
        id: &'a ComponentId,
        settings: &'a Settings,
        heads: crate::pipeline::SignalConsumers,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Receiver>>> {
        Box::pin(async move {
            let config: &JaegerConfig = settings.get();
            let mut tcp = Vec::new();
            for (name, protocol) in [("grpc", &config.grpc), ("thrift_http", &config.thrift_http)] {
                let Some(protocol) = protocol else { continue };
                let listener = crate::net::bind(protocol.endpoint, &format!("receivers.{id}.protocols.{name}.endpoint")).await?;
                let authenticator = match &protocol.authenticator {
                    Some(ext) => Some(host.extensions.authenticator(ext)?),
                    None => None,
                };
                tcp.push(TcpListener {
                    grpc: name == "grpc",
                    address: listener.local_addr()?,
                    listener,
                    intake: host.intake(&heads, protocol.max_request_bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES)),
                    authenticator,
                    limits: protocol.connections.limits(),
                });
            }
            let mut udp = Vec::new();
            for (name, protocol, wire) in [
                ("thrift_compact", &config.thrift_compact, thrift::Protocol::Compact),
                ("thrift_binary", &config.thrift_binary, thrift::Protocol::Binary),
            ] {
                let Some(protocol) = protocol else { continue };
                let socket = bind_udp(protocol, &format!("receivers.{id}.protocols.{name}.endpoint"))?;
                udp.push(UdpListener {
                    address: socket.local_addr()?,
                    socket,
                    wire,
                    config: protocol.clone(),
                    intake: host.intake(&heads, DEFAULT_MAX_REQUEST_BYTES),
                });
            }
            Ok(Box::new(JaegerReceiver {
                id: id.clone(),
                tcp,
                udp,
                tokens: host.ingest_tokens.clone(),
                tls: host.tls.clone(),
                allowed_hosts: host.allowed_hosts.clone(),
            }) as Box<dyn Receiver>)
        })
    }
}

/// Binds an agent port, with its receive buffer when one is set.
fn bind_udp(config: &UdpConfig, setting: &str) -> anyhow::Result<tokio::net::UdpSocket> {
    let socket = std::net::UdpSocket::bind(config.endpoint).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AddrInUse {
            "the address is already in use".to_string()
        } else {
            e.to_string()
        };
        anyhow::anyhow!("cannot listen on udp {} ({setting}): {why}", config.endpoint)
    })?;
    if config.socket_buffer_size > 0 {
        set_receive_buffer(&socket, config.socket_buffer_size);
    }
    socket.set_nonblocking(true)?;
    Ok(tokio::net::UdpSocket::from_std(socket)?)
}

#[cfg(unix)]
fn set_receive_buffer(socket: &std::net::UdpSocket, bytes: usize) {
    use std::os::fd::AsRawFd;
    let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: a valid socket descriptor and a c_int option value of the right length.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result != 0 {
        tracing::warn!(
            "could not set the jaeger receiver's socket_buffer_size: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(unix))]
fn set_receive_buffer(_socket: &std::net::UdpSocket, _bytes: usize) {}

struct TcpListener {
    grpc: bool,
    listener: tokio::net::TcpListener,
    address: SocketAddr,
    intake: Intake,
    authenticator: Option<Arc<dyn crate::extension::Extension>>,
    limits: crate::net::ConnectionLimits,
}

struct UdpListener {
    socket: tokio::net::UdpSocket,
    address: SocketAddr,
    wire: thrift::Protocol,
    config: UdpConfig,
    intake: Intake,
}

struct JaegerReceiver {
    id: ComponentId,
    tcp: Vec<TcpListener>,
    udp: Vec<UdpListener>,
    tokens: crate::auth::Tokens,
    tls: Option<super::IngestTls>,
    allowed_hosts: crate::net::AllowedHosts,
}

impl Receiver for JaegerReceiver {
    fn endpoints(&self) -> Vec<Endpoint> {
        let tcp = self.tcp.iter().map(|l| Endpoint {
            receiver: self.id.clone(),
            protocol: if l.grpc { "grpc" } else { "http" },
            address: l.address,
        });
        let udp = self.udp.iter().map(|l| Endpoint {
            receiver: self.id.clone(),
            protocol: "udp",
            address: l.address,
        });
        tcp.chain(udp).collect()
    }

    fn start(self: Box<Self>, stop: &crate::net::Stop) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        let mut servers = Vec::new();
        for l in self.tcp {
            let server = if l.grpc {
                let check = guard_grpc(self.tokens.clone(), l.authenticator);
                let intake = l.intake.clone();
                let router = tonic::service::Routes::new(grpc::CollectorServer::new(l.intake))
                    .prepare()
                    .into_axum_router()
                    .layer(axum::middleware::from_fn_with_state(intake, super::otlp_grpc::admit))
                    .layer(tonic::service::InterceptorLayer::new(check));
                crate::net::serve(
                    l.listener,
                    self.tls.as_ref().map(|t| t.grpc.clone()),
                    router,
                    stop,
                    &self.allowed_hosts,
                    l.limits,
                )?
            } else {
                let router = guard_http(thrift_http_router(l.intake), self.tokens.clone(), l.authenticator);
                crate::net::serve(
                    l.listener,
                    self.tls.as_ref().map(|t| t.http.clone()),
                    router,
                    stop,
                    &self.allowed_hosts,
                    l.limits,
                )?
            };
            servers.push(server);
        }
        for l in self.udp {
            servers.push(tokio::spawn(serve_udp(l, stop.clone())));
        }
        Ok(servers)
    }
}

// ---------------------------------------------------------------------------------------------
// The agent ports (UDP)

/// Reads datagrams into a queue that `workers` tasks decode and ingest, until `stop`; a datagram
/// finding the queue full is dropped, as the Collector's agent server drops it.
async fn serve_udp(listener: UdpListener, stop: crate::net::Stop) {
    let UdpListener {
        socket,
        wire,
        config,
        intake,
        ..
    } = listener;
    let (queue, packets) = async_channel(config.queue_size);
    let mut workers = Vec::new();
    for _ in 0..config.workers {
        let packets = packets.clone();
        let intake = intake.clone();
        workers.push(tokio::spawn(async move {
            while let Ok(packet) = packets.recv().await {
                ingest_datagram(&intake, &packet, wire).await;
            }
        }));
    }
    drop(packets);
    let mut buffer = vec![0u8; config.max_packet_size];
    let stopped = stop.wait();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            received = socket.recv_from(&mut buffer) => match received {
                Ok((length, _)) => {
                    if queue.try_send(buffer[..length].to_vec()).is_err() {
                        intake.stats.traces.refused.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("jaeger agent queue full: a datagram was dropped");
                    }
                }
                Err(error) => {
                    tracing::debug!("jaeger agent port: {error}");
                }
            },
        }
    }
    // What is queued is still ingested before the workers end.
    queue.close();
    for worker in workers {
        let _ = worker.await;
    }
}

fn async_channel(capacity: usize) -> (async_queue::Sender, async_queue::Receiver) {
    async_queue::bounded(capacity)
}

/// A bounded multi-consumer queue of datagrams over tokio's primitives.
mod async_queue {
    use std::sync::Arc;
    use tokio::sync::{mpsc, Mutex};

    pub struct Sender(mpsc::Sender<Vec<u8>>);
    #[derive(Clone)]
    pub struct Receiver(Arc<Mutex<mpsc::Receiver<Vec<u8>>>>);

    pub fn bounded(capacity: usize) -> (Sender, Receiver) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Sender(tx), Receiver(Arc::new(Mutex::new(rx))))
    }

    impl Sender {
        pub fn try_send(&self, packet: Vec<u8>) -> Result<(), ()> {
            self.0.try_send(packet).map_err(|_| ())
        }
        /// Ends the queue: receivers get what is left, then `Err`.
        pub fn close(self) {
            drop(self);
        }
    }

    impl Receiver {
        pub async fn recv(&self) -> Result<Vec<u8>, ()> {
            self.0.lock().await.recv().await.ok_or(())
        }
    }
}

async fn ingest_datagram(intake: &Intake, packet: &[u8], wire: thrift::Protocol) {
    let decoded = thrift::decode_agent_message(packet, wire, crate::receiver::MAX_DECODED_BYTES)
        .and_then(|(batch, cost)| admit(intake, cost).map(|room| (batch, room)).map_err(|refusal| refusal.message));
    let (batch, _room) = match decoded {
        Ok(decoded) => decoded,
        Err(message) => {
            intake.stats.traces.bad_requests.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("jaeger agent port: a datagram was dropped: {message}");
            return;
        }
    };
    let request = to_otlp(vec![batch], Format::Thrift);
    if let Err(error) = ingest(intake, request).await {
        // No one to answer: the agent protocol is one-way.
        tracing::debug!("jaeger agent port: spans refused: {error}");
    }
}

/// Room in the decoded-memory budget for a batch that took `cost` bytes decoded; its OTLP form
/// takes about as much again.
fn admit(intake: &Intake, cost: u64) -> Result<tokio::sync::OwnedSemaphorePermit, Refusal> {
    intake.admission.admit_decoded(cost.saturating_mul(2))
}

// ---------------------------------------------------------------------------------------------
// thrift_http

fn thrift_http_router(intake: Intake) -> axum::Router {
    let limit = intake.max_request_bytes;
    axum::Router::new()
        .route(THRIFT_HTTP_PATH, post(thrift_http).fallback(method_not_allowed))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit.saturating_add(1)))
        .with_state(Arc::new(intake))
}

/// A plain-text answer, as the Collector's thrift HTTP endpoint gives.
fn answer(status: StatusCode, message: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message.into()).into_response()
}

async fn method_not_allowed() -> Response {
    answer(StatusCode::METHOD_NOT_ALLOWED, "use POST to send Jaeger thrift batches")
}

async fn not_found() -> Response {
    answer(
        StatusCode::NOT_FOUND,
        format!("unknown path; the Jaeger thrift receiver takes POST {THRIFT_HTTP_PATH}"),
    )
}

async fn thrift_http(State(intake): State<Arc<Intake>>, headers: HeaderMap, body: Body) -> Response {
    let bad = |message: String| {
        intake.stats.traces.bad_requests.fetch_add(1, Ordering::Relaxed);
        answer(StatusCode::BAD_REQUEST, message)
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match media_type.as_str() {
        "application/x-thrift" | "application/vnd.apache.thrift.binary" => {}
        "" => return bad("Cannot parse content type: send Content-Type: application/x-thrift".into()),
        _ => {
            return bad(format!(
                "Unsupported content type: {content_type}; send a thrift binary Batch as application/x-thrift"
            ))
        }
    }
    if let Err(error) = intake.admission.check_memory() {
        intake.stats.traces.refused.fetch_add(1, Ordering::Relaxed);
        return Refusal::from(error).into_plain_text();
    }
    let refused = |refusal: Refusal| {
        let counter = if refusal.is_retryable() {
            &intake.stats.traces.refused
        } else {
            &intake.stats.traces.bad_requests
        };
        counter.fetch_add(1, Ordering::Relaxed);
        refusal.into_plain_text()
    };
    let limit = intake.max_request_bytes;
    let (raw, _room) = match intake.admission.read_body(body, limit).await {
        Ok(read) => read,
        Err(refusal) => return refused(refusal),
    };
    let body = match decompress(&raw, &crate::receiver::content_encoding(&headers), limit) {
        Ok(body) => body,
        Err(refusal) => return refused(refusal),
    };
    let admission_intake = intake.clone();
    let decoded = intake
        .admission
        .decode(body.len(), false, move || {
            let (batch, cost) = thrift::decode_batch(&body, crate::receiver::MAX_DECODED_BYTES)
                .map_err(|e| Refusal::invalid(format!("Unable to process request body: {e}")))?;
            let room = admit(&admission_intake, cost)?;
            Ok::<_, Refusal>((to_otlp(vec![batch], Format::Thrift), room))
        })
        .await
        .unwrap_or_else(|| Err(Refusal::invalid("internal error while decoding the body")));
    let (request, _decoded_room) = match decoded {
        Ok(decoded) => decoded,
        Err(refusal) => return refused(refusal),
    };
    match ingest(&intake, request).await {
        Ok(accepted) if accepted.rejected == 0 => StatusCode::ACCEPTED.into_response(),
        Ok(accepted) => answer(StatusCode::ACCEPTED, accepted.message),
        Err(error) => Refusal::from(error).into_plain_text(),
    }
}

/// The body as sent, or inflated from gzip or deflate (the Collector's HTTP servers take both).
fn decompress(raw: &[u8], encoding: &str, limit: usize) -> Result<Vec<u8>, Refusal> {
    use std::io::Read;
    let inflate = |reader: &mut dyn Read, name: &str| -> Result<Vec<u8>, Refusal> {
        let mut out = Vec::new();
        reader
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| Refusal::invalid(format!("corrupt {name} body: {e}")))?;
        if out.len() > limit {
            return Err(crate::receiver::body_too_large(limit));
        }
        Ok(out)
    };
    match encoding {
        "" | "identity" => Ok(raw.to_vec()),
        "gzip" | "x-gzip" => inflate(&mut flate2::read::MultiGzDecoder::new(raw), "gzip"),
        "deflate" => inflate(&mut flate2::read::ZlibDecoder::new(raw), "deflate"),
        other => Err(Refusal::invalid(format!(
            "unsupported content encoding '{other}'; use gzip, deflate or none"
        ))),
    }
}

/// Decodes a thrift binary `Batch` body into an OTLP request (tests, fuzzing).
pub fn decode_thrift_http_body(body: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    let (batch, _) = thrift::decode_batch(body, crate::receiver::MAX_DECODED_BYTES)?;
    Ok(to_otlp(vec![batch], Format::Thrift))
}

// ---------------------------------------------------------------------------------------------
// grpc

/// `jaeger.api_v2.CollectorService`, written as tonic's generated servers are (one unary method).
mod grpc {
    use super::proto::{PostSpansRequest, PostSpansResponse, POST_SPANS_PATH};
    use super::{ingest, to_otlp, Format, Intake};
    use std::convert::Infallible;
    use std::task::{Context, Poll};
    use tonic::codec::CompressionEncoding;
    use tonic::codegen::{BoxFuture, EnabledCompressionEncodings};

    #[derive(Clone)]
    pub struct CollectorServer {
        intake: Intake,
    }

    impl CollectorServer {
        pub fn new(intake: Intake) -> Self {
            CollectorServer { intake }
        }
    }

    impl tonic::server::NamedService for CollectorServer {
        const NAME: &'static str = "jaeger.api_v2.CollectorService";
    }

    struct PostSpans(Intake);

    impl tonic::server::UnaryService<PostSpansRequest> for PostSpans {
        type Response = PostSpansResponse;
        type Future = BoxFuture<tonic::Response<PostSpansResponse>, tonic::Status>;

        fn call(&mut self, request: tonic::Request<PostSpansRequest>) -> Self::Future {
            let intake = self.0.clone();
            Box::pin(async move {
                let batch = super::proto::to_model(request.into_inner()).map_err(tonic::Status::invalid_argument)?;
                let request = to_otlp(vec![batch], Format::Proto);
                ingest(&intake, request).await.map_err(super::super::otlp_grpc::status_for)?;
                Ok(tonic::Response::new(PostSpansResponse {}))
            })
        }
    }

    impl<B> tower::Service<http::Request<B>> for CollectorServer
    where
        B: tonic::codegen::Body + Send + 'static,
        B::Error: Into<tonic::codegen::StdError> + Send + 'static,
    {
        type Response = http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = BoxFuture<Self::Response, Infallible>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<B>) -> Self::Future {
            let intake = self.intake.clone();
            if request.uri().path() != POST_SPANS_PATH {
                return Box::pin(async move { Ok(tonic::Status::unimplemented("unknown method").into_http()) });
            }
            let limit = intake.max_request_bytes;
            Box::pin(async move {
                let mut accept = EnabledCompressionEncodings::default();
                accept.enable(CompressionEncoding::Gzip);
                accept.enable(CompressionEncoding::Zstd);
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default())
                    .apply_compression_config(accept, EnabledCompressionEncodings::default())
                    .apply_max_message_size_config(Some(limit), None);
                Ok(grpc.unary(PostSpans(intake), request).await)
            })
        }
    }
}
