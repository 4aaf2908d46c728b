//! Listening: binding a port with an error that says what to do, and serving an axum router on a
//! plain or TLS listener until a stop signal, refusing foreign host names on loopback listeners
//! (DNS rebinding). Each connection runs under `ConnectionLimits` (header, body-stall and idle
//! timeouts, a cap per listener, a bounded graceful shutdown; for the gRPC receiver's `keepalive`
//! also HTTP/2 pings, a stream cap and a maximum connection age), so slow, idle or abandoned clients
//! cannot hold file descriptors or delay a stop. Shared by the receivers, the extensions and the API. Also the outgoing HTTP client
//! (`HttpClient`) of the exporters and client authenticators.

use crate::tls::ClientTlsSettings;
use axum::body::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use reqwest::Url;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Binds `addr`; `setting` names where the address comes from, for the error.
pub async fn bind(addr: SocketAddr, setting: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AddrInUse {
            "the address is already in use".to_string()
        } else {
            e.to_string()
        };
        anyhow::anyhow!("cannot listen on {addr}: {why}; stop the other process or choose another port with {setting}")
    })
}

/// The stop signal of a group of servers: resolves once `true` is sent.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    pub fn new() -> (watch::Sender<bool>, Stop) {
        let (tx, rx) = watch::channel(false);
        (tx, Stop(rx))
    }

    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// Host names a loopback listener accepts besides the loopback ones (`--allowed-host`).
#[derive(Clone, Debug, Default)]
pub struct AllowedHosts(Arc<Vec<String>>);

impl AllowedHosts {
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        AllowedHosts(Arc::new(names.into_iter().map(|n| n.trim().to_ascii_lowercase()).collect()))
    }

    /// Whether a request's host (`name[:port]`, `[v6]:port`) may reach a loopback listener:
    /// `localhost` and its subdomains, loopback addresses, and the configured names. A web page
    /// that rebinds its own name to 127.0.0.1 still sends its own name, so it is refused.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.rsplit_once(':').map_or(host.as_str(), |(name, port)| {
                if port.chars().all(|c| c.is_ascii_digit()) {
                    name
                } else {
                    host.as_str()
                }
            }),
        };
        name == "localhost"
            || name.ends_with(".localhost")
            || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            || self.0.iter().any(|allowed| allowed == name)
    }
}

/// Refuses a request whose host a loopback listener does not serve, before the handler runs.
async fn loopback_host_guard(
    axum::extract::State(allowed): axum::extract::State<AllowedHosts>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    // HTTP/2 carries the host as the URI's authority, HTTP/1.1 in the Host header.
    let host = request.uri().authority().map(|a| a.as_str().to_string()).or_else(|| {
        request
            .headers()
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
    });
    match host {
        Some(host) if !allowed.allows(&host) => (
            axum::http::StatusCode::FORBIDDEN,
            [(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "otelbox listens on loopback and answers only to localhost and loopback addresses, not to the host \
                 name '{host}' (a protection against DNS rebinding); if that name is this machine's, start otelbox \
                 with --allowed-host {}\n",
                host.split(':').next().unwrap_or_default()
            ),
        )
            .into_response(),
        _ => next.run(request).await,
    }
}

/// Until a request's headers are complete: long enough for a TLS handshake and headers over a slow
/// mobile link (a well-behaved client sends its headers right after connecting), short enough that a
/// slowloris client holds its slot for seconds rather than the Collector's default minute (the same
/// bound Go services commonly set as `ReadHeaderTimeout`).
pub const DEFAULT_READ_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body that sends nothing for this long fails: generous for TCP retransmissions on a
/// lossy link, yet an upload abandoned halfway frees its connection and buffers in half a minute
/// (nginx's `client_body_timeout` is the same kind of limit, at 60 s).
pub const DEFAULT_BODY_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The Collector's default: SDKs export every few seconds (spans, logs) or every minute (metrics),
/// and their connection stays open between exports.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Descriptors kept for everything but client connections: SQLite (three per connection: the
/// database, its WAL and its shared memory), the exporters' queues and connections, the health
/// check port and the runtime.
const RESERVED_FILE_DESCRIPTORS: u64 = 256;

/// Open connections per listener by default: a quarter of the open-file limit beyond
/// `RESERVED_FILE_DESCRIPTORS`, so four listeners (OTLP/gRPC, OTLP/HTTP, UI, Zipkin) at their limit
/// still leave those; between 64 and 4,096. With the common soft limit of 1,024 that is 192 (an SDK
/// keeps one or two connections); `otelbox up` first raises the soft limit to the hard one
/// (`raise_open_file_limit`), as Go programs do, which usually gives 4,096.
pub fn default_max_connections() -> usize {
    (open_file_limit().saturating_sub(RESERVED_FILE_DESCRIPTORS) / 4).clamp(64, 4096) as usize
}

/// This process's soft limit on open files (1,024 when it cannot be read).
fn open_file_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the properly sized struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur
    } else {
        1024
    }
}

/// Raise the soft limit on open files to the hard limit: every client connection takes a
/// descriptor, and a soft limit of 1,024 would make a few hundred idle connections enough to keep
/// new ones out. Returns the limit now in force.
pub fn raise_open_file_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read and write the properly sized struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
    }
    limit.rlim_cur
}
/// Requests in flight at a stop (exports waiting for their commit take milliseconds) finish within it;
/// after it their connections are dropped, so a stuck client cannot hold the shutdown.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long a client may take and how many connections a listener holds, named after the
/// Collector's confighttp settings where it has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A connection is closed when a request's headers are not complete this long after it was
    /// accepted (the TLS handshake included) or, between HTTP/1 requests, after the next request's
    /// first byte.
    pub read_header_timeout: Duration,
    /// A request body that sends nothing for this long fails: the handler sees an error, the client
    /// a 400, and the connection closes.
    pub body_stall_timeout: Duration,
    /// A connection with no request in flight for this long is closed (HTTP/2 with a GOAWAY, so a
    /// client starts its next call on a new connection instead of failing it).
    pub idle_timeout: Duration,
    /// Open connections per listener, TLS handshakes included. Beyond it a new connection is reset
    /// at once, which clients treat as retryable, so the connections already open keep being served
    /// and the other listeners keep their file descriptors.
    pub max_connections: usize,
    /// After the stop signal, idle connections close at once and requests in flight get this long to
    /// finish before their connections are dropped.
    pub shutdown_grace: Duration,
    /// HTTP/2: a ping after this long without data from the client (None: no pings), as gRPC's
    /// keepalive `time`.
    pub http2_keepalive_interval: Option<Duration>,
    /// HTTP/2: a ping not answered within this closes the connection (gRPC's keepalive `timeout`).
    pub http2_keepalive_timeout: Duration,
    /// HTTP/2: requests one connection may have open at once (None: hyper's default, 200).
    pub http2_max_concurrent_streams: Option<u32>,
    /// A connection open this long (give or take 10%, so that clients connected together do not
    /// all reconnect together) is closed gracefully, as gRPC's `max_connection_age`: HTTP/2 with a
    /// GOAWAY, HTTP/1 after its current response. None: connections may live as long as they are used.
    pub max_connection_age: Option<Duration>,
    /// How long the requests in flight on a connection closed for its age get to finish (None: as
    /// long as they take; a stop still bounds it by `shutdown_grace`).
    pub max_connection_age_grace: Option<Duration>,
}

/// gRPC's default keepalive `timeout`, and hyper's.
pub const DEFAULT_HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            read_header_timeout: DEFAULT_READ_HEADER_TIMEOUT,
            body_stall_timeout: DEFAULT_BODY_STALL_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: default_max_connections(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            http2_keepalive_interval: None,
            http2_keepalive_timeout: DEFAULT_HTTP2_KEEPALIVE_TIMEOUT,
            http2_max_concurrent_streams: None,
            max_connection_age: None,
            max_connection_age_grace: None,
        }
    }
}

/// A warning that repeats under load (a full listener, failing accepts) is logged at most this often.
const LIMIT_WARNING_INTERVAL: Duration = Duration::from_secs(30);
/// After a failed accept (out of file descriptors, most likely) the connection stays in the
/// backlog; pausing keeps the accept loop from spinning on it.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` (TLS when `tls` is given) until `stop`, each connection under
/// `limits`; the handle ends once every connection has closed, at most `limits.shutdown_grace`
/// after the stop. On a loopback listener only loopback host names (and `allowed`) are served.
pub fn serve(
    listener: TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    router: axum::Router,
    stop: &Stop,
    allowed: &AllowedHosts,
    limits: ConnectionLimits,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let local = listener.local_addr()?;
    let router = if local.ip().is_loopback() {
        router.layer(axum::middleware::from_fn_with_state(allowed.clone(), loopback_host_guard))
    } else {
        router
    };
    let server = Server {
        router,
        tls: tls.map(tokio_rustls::TlsAcceptor::from),
        limits,
        http: connection_builder(&limits),
        stop: stop.clone(),
        local,
    };
    Ok(tokio::spawn(Arc::new(server).accept_until_stopped(listener)))
}

/// HTTP/1 and HTTP/2 (by the client's first bytes: gRPC sends the HTTP/2 preface, with or without
/// TLS) on every listener, with the HTTP/2 settings of `limits`.
fn connection_builder(limits: &ConnectionLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Each connection's own clock enforces the header timeout: hyper's also runs while a keep-alive
    // connection waits for its next request, which would cut idle_timeout down to it.
    builder.http1().header_read_timeout(None::<Duration>);
    if let Some(interval) = limits.http2_keepalive_interval {
        // hyper's pings run on this timer; it resets the interval whenever the client sends data.
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(interval)
            .keep_alive_timeout(limits.http2_keepalive_timeout);
    }
    if let Some(streams) = limits.http2_max_concurrent_streams {
        builder.http2().max_concurrent_streams(streams);
    }
    builder
}

/// `age` give or take 10%.
fn jittered(age: Duration) -> Duration {
    age.mul_f64(rand::random_range(0.9..1.1))
}

/// The earlier of two deadlines, None being never.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One listener's accept loop and what its connections share.
struct Server {
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ConnectionLimits,
    http: auto::Builder<TokioExecutor>,
    stop: Stop,
    local: SocketAddr,
}

impl Server {
    async fn accept_until_stopped(self: Arc<Self>, listener: TcpListener) {
        let capacity = self.limits.max_connections.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        let slots = Arc::new(Semaphore::new(capacity));
        let mut refusals = ThrottledWarning::default();
        let mut accept_failures = ThrottledWarning::default();
        let mut stopped = std::pin::pin!(self.stop.wait());
        loop {
            let accepted = tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    if let Some(failures) = accept_failures.count() {
                        tracing::warn!(
                            listener = %self.local,
                            error = %e,
                            failures,
                            "cannot accept connections; if it says too many open files, raise the limit (ulimit -n, LimitNOFILE=)"
                        );
                    }
                    tokio::time::sleep(ACCEPT_RETRY_PAUSE).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                // A reset (not a close) frees the descriptor at once and tells the client plainly.
                let _ = tcp.set_zero_linger();
                drop(tcp);
                if let Some(refused) = refusals.count() {
                    tracing::warn!(
                        listener = %self.local,
                        max_connections = capacity,
                        refused,
                        "connection limit reached; new connections are reset until one closes (clients retry)"
                    );
                }
                continue;
            };
            let _ = tcp.set_nodelay(true);
            tokio::spawn(self.clone().serve_connection(tcp, peer, slot));
        }
        // New clients are refused by the kernel from here on.
        drop(listener);
        // Each connection holds its slot until it ends, at most shutdown_grace after the stop.
        let _ = slots.acquire_many(capacity as u32).await;
    }

    /// Completes the TLS handshake, if any, within the header timeout, then serves HTTP.
    async fn serve_connection(self: Arc<Self>, tcp: TcpStream, peer: SocketAddr, _slot: OwnedSemaphorePermit) {
        let accepted_at = Instant::now();
        let activity = Arc::new(ConnectionActivity::new(accepted_at));
        match &self.tls {
            None => self.serve_http(tcp, peer, activity, accepted_at).await,
            Some(acceptor) => {
                let handshake = tokio::select! {
                    finished = finish_by(accepted_at.checked_add(self.limits.read_header_timeout), acceptor.accept(tcp)) => finished,
                    _ = self.stop.wait() => return,
                };
                match handshake {
                    Some(Ok(stream)) => self.serve_http(stream, peer, activity, accepted_at).await,
                    Some(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    None => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            }
        }
    }

    /// Serves HTTP on one connection until the client closes it, a limit closes it (its age among
    /// them), or the stop (then requests in flight get `shutdown_grace` to finish).
    async fn serve_http<I>(&self, io: I, peer: SocketAddr, activity: Arc<ConnectionActivity>, accepted_at: Instant)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = {
            let (router, activity, body_stall_timeout) = (self.router.clone(), activity.clone(), self.limits.body_stall_timeout);
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let in_flight = InFlight::begin(activity.clone(), request.version());
                let request = request.map(|body| StallLimitedBody::new(body, body_stall_timeout));
                let answer = router.clone().oneshot(request);
                async move {
                    let response = answer.await?;
                    Ok::<_, Infallible>(response.map(|body| ResponseInFlight {
                        body,
                        _in_flight: in_flight,
                    }))
                }
            })
        };
        let watched = Watched {
            io,
            activity: activity.clone(),
        };
        let mut connection = std::pin::pin!(self.http.serve_connection(TokioIo::new(watched), service));
        let mut stopped = std::pin::pin!(self.stop.wait());
        let too_old_at = self
            .limits
            .max_connection_age
            .and_then(|age| accepted_at.checked_add(jittered(age)));
        // Set once a graceful shutdown began (stop, idle or age): the connection is dropped at
        // `give_up_at` (None: once its requests are answered).
        let mut closing = false;
        let mut stopping = false;
        let mut give_up_at = None;
        loop {
            let changed = activity.changed.notified();
            let wake_at = if closing {
                give_up_at
            } else {
                activity.next_expiry(&self.limits).map(|(at, _)| at)
            };
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = &mut stopped, if !stopping => {
                    stopping = true;
                    if !closing {
                        if matches!(activity.awaiting(), Some((_, Expiry::Headers))) {
                            // Nothing to finish; and hyper's graceful shutdown would wait for the
                            // request a new HTTP/1 connection has begun to send.
                            return;
                        }
                        // HTTP/1: closes an idle connection now, a busy one after its response;
                        // HTTP/2: GOAWAY, then closes once the open streams are answered.
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    // A connection already closing for its age keeps an earlier deadline it has.
                    give_up_at = earliest(give_up_at, Instant::now().checked_add(self.limits.shutdown_grace));
                }
                _ = sleep_until_some(too_old_at), if !closing => {
                    tracing::debug!(%peer, "closing a connection that reached max_connection_age");
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                    give_up_at = self
                        .limits
                        .max_connection_age_grace
                        .and_then(|grace| Instant::now().checked_add(grace));
                }
                _ = changed, if !closing => {}
                _ = sleep_until_some(wake_at) => {
                    if closing {
                        tracing::debug!(%peer, "connection still busy when its grace ran out; dropping it");
                        return;
                    }
                    // Requests may have started since `wake_at` was computed: look again.
                    match activity.next_expiry(&self.limits) {
                        Some((at, Expiry::Headers)) if at <= Instant::now() => {
                            tracing::debug!(%peer, "closing a connection that sent no complete request headers in time");
                            return;
                        }
                        Some((at, Expiry::Idle)) if at <= Instant::now() => {
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                            give_up_at = Instant::now().checked_add(self.limits.shutdown_grace);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// `work`'s output, or None when `deadline` (None: never) comes first.
async fn finish_by<F: Future>(deadline: Option<Instant>, work: F) -> Option<F::Output> {
    tokio::select! {
        output = work => Some(output),
        _ = sleep_until_some(deadline) => None,
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Counts an event that repeats under load and says when to log it: at most once per
/// `LIMIT_WARNING_INTERVAL`, with how many happened since the last time.
#[derive(Default)]
struct ThrottledWarning {
    last_logged: Option<Instant>,
    since_last_logged: u64,
}

impl ThrottledWarning {
    fn count(&mut self) -> Option<u64> {
        self.since_last_logged += 1;
        let now = Instant::now();
        if self.last_logged.is_some_and(|at| now.duration_since(at) < LIMIT_WARNING_INTERVAL) {
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.since_last_logged))
    }
}

/// Which limit a quiet connection runs into next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    Headers,
    Idle,
}

/// What a connection's clock needs to know, shared by its reader (`Watched`), its requests
/// (`InFlight`) and its task (`Server::serve_http`).
struct ConnectionActivity {
    state: Mutex<ActivityState>,
    /// Wakes the task when a deadline may have moved earlier.
    changed: Notify,
}

struct ActivityState {
    /// Requests whose headers have arrived and whose response has not been sent in full.
    requests_in_flight: usize,
    /// Since the connection was accepted, or its last request in flight ended.
    quiet_since: Instant,
    /// The first byte read while no request was in flight: a request's headers have begun.
    headers_started: Option<Instant>,
    served_a_request: bool,
    http2: bool,
}

impl ConnectionActivity {
    fn new(accepted_at: Instant) -> Self {
        ConnectionActivity {
            state: Mutex::new(ActivityState {
                requests_in_flight: 0,
                quiet_since: accepted_at,
                headers_started: None,
                served_a_request: false,
                http2: false,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bytes_arrived(&self) {
        let mut state = self.lock();
        if state.requests_in_flight == 0 && state.headers_started.is_none() {
            state.headers_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    fn request_started(&self, version: hyper::Version) {
        let mut state = self.lock();
        state.requests_in_flight += 1;
        state.served_a_request = true;
        state.http2 = version == hyper::Version::HTTP_2;
        state.headers_started = None;
    }

    fn request_ended(&self) {
        let mut state = self.lock();
        state.requests_in_flight = state.requests_in_flight.saturating_sub(1);
        if state.requests_in_flight == 0 {
            state.quiet_since = Instant::now();
            state.headers_started = None;
            drop(state);
            self.changed.notify_one();
        }
    }

    /// What a quiet connection waits for, and since when; None while a request is in flight.
    fn awaiting(&self) -> Option<(Instant, Expiry)> {
        let state = self.lock();
        if state.requests_in_flight > 0 {
            return None;
        }
        Some(match (state.served_a_request, state.headers_started) {
            // A new connection owes its first request's headers (TLS handshake and HTTP/2 preface included).
            (false, _) => (state.quiet_since, Expiry::Headers),
            // Between HTTP/1 requests, bytes are the next request's headers. HTTP/2 exchanges
            // frames (pings, window updates) without requests, and h2 bounds its header frames.
            (true, Some(started)) if !state.http2 => (started, Expiry::Headers),
            (true, _) => (state.quiet_since, Expiry::Idle),
        })
    }

    /// When the connection is due to close, and why; None while a request is in flight (or when a
    /// limit is too large to reach).
    fn next_expiry(&self, limits: &ConnectionLimits) -> Option<(Instant, Expiry)> {
        let (since, expiry) = self.awaiting()?;
        let wait = match expiry {
            Expiry::Headers => limits.read_header_timeout,
            Expiry::Idle => limits.idle_timeout,
        };
        since.checked_add(wait).map(|at| (at, expiry))
    }
}

/// A request from its headers until its response has been sent (or abandoned): holds the
/// connection's idle clock.
struct InFlight(Arc<ConnectionActivity>);

impl InFlight {
    fn begin(activity: Arc<ConnectionActivity>, version: hyper::Version) -> Self {
        activity.request_started(version);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// A connection's stream that tells its clock when bytes arrive (decrypted ones, under TLS).
struct Watched<I> {
    io: I,
    activity: Arc<ConnectionActivity>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_arrived();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A request body that fails once it has sent nothing for `stall_timeout` while the handler waits
/// for it; the time the handler spends elsewhere does not count.
struct StallLimitedBody {
    body: Incoming,
    stall_timeout: Duration,
    /// Armed while the handler waits for the next frame.
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl StallLimitedBody {
    fn new(body: Incoming, stall_timeout: Duration) -> Self {
        StallLimitedBody {
            body,
            stall_timeout,
            stall: None,
        }
    }
}

impl HttpBody for StallLimitedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.stall = None;
                Poll::Ready(frame.map(|frame| frame.map_err(BoxError::from)))
            }
            Poll::Pending => {
                let stall_timeout = this.stall_timeout;
                let stall = this.stall.get_or_insert_with(|| Box::pin(tokio::time::sleep(stall_timeout)));
                if stall.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let stalled = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the request body sent nothing for {} s", stall_timeout.as_secs_f64()),
                );
                Poll::Ready(Some(Err(stalled.into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A response body that keeps its request in flight until hyper has sent it (or dropped it), so
/// a long response such as a live tail is not taken for an idle connection.
struct ResponseInFlight {
    body: axum::body::Body,
    _in_flight: InFlight,
}

impl HttpBody for ResponseInFlight {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

// ---------------------------------------------------------------------------------------------
// The outgoing HTTP client

/// What the HTTP client sends as its `User-Agent`.
const USER_AGENT: &str = concat!("otelbox/", env!("CARGO_PKG_VERSION"));

/// An HTTP answer: its status, its headers and the start of its body.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

/// The HTTP client of exporters and client authenticators: reqwest for http:// URLs (it honours `HTTP_PROXY`), and for https://
/// ones hyper-util's pooled client over rustls with the exporter's `tls` (this build's reqwest has
/// no TLS). Neither follows redirects: an OTLP answer is the destination's own.
pub struct HttpClient {
    plain: reqwest::Client,
    tls: Option<crate::tls::HttpsClient>,
}

impl HttpClient {
    /// `https`: whether some URL of the exporter is https://; only then is `tls` set up (its
    /// certificate files read, so a missing one is a start-up error naming it).
    pub fn new(tls: &ClientTlsSettings, https: bool, connect_timeout: Duration) -> anyhow::Result<HttpClient> {
        let plain = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?;
        let tls = if https {
            Some(crate::tls::https_client(tls, connect_timeout)?)
        } else {
            None
        };
        Ok(HttpClient { plain, tls })
    }

    /// POSTs `body` with `headers`; reads at most about `max_answer` bytes of the answer's body (a
    /// body cut short only loses detail: the status is what counts). `Err` says why nothing was
    /// answered.
    pub async fn post(&self, url: &Url, headers: &http::HeaderMap, body: Bytes, max_answer: usize) -> Result<HttpAnswer, String> {
        match (url.scheme(), &self.tls) {
            ("https", Some(client)) => post_tls(client, url, headers, body, max_answer).await,
            ("https", None) => Err("no TLS client was set up for this https:// URL".into()),
            _ => self.post_plain(url, headers, body, max_answer).await,
        }
    }

    async fn post_plain(&self, url: &Url, headers: &http::HeaderMap, body: Bytes, max_answer: usize) -> Result<HttpAnswer, String> {
        let mut response = self
            .plain
            .post(url.clone())
            .headers(headers.clone())
            .body(body)
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut answer = Vec::new();
        while answer.len() < max_answer {
            match response.chunk().await {
                Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(HttpAnswer {
            status,
            headers,
            body: answer,
        })
    }
}

async fn post_tls(
    client: &crate::tls::HttpsClient,
    url: &Url,
    headers: &http::HeaderMap,
    body: Bytes,
    max_answer: usize,
) -> Result<HttpAnswer, String> {
    let uri: http::Uri = url.as_str().parse().map_err(|e| format!("{url} is not a usable URI: {e}"))?;
    let mut request = http::Request::new(axum::body::Body::from(body));
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers.clone();
    request
        .headers_mut()
        .insert(http::header::USER_AGENT, http::HeaderValue::from_static(USER_AGENT));
    let response = client.request(request).await.map_err(|e| error_chain(&e))?;
    let (parts, incoming) = response.into_parts();
    let mut incoming = std::pin::pin!(incoming);
    let mut answer = Vec::new();
    while answer.len() < max_answer {
        match std::future::poll_fn(|cx| incoming.as_mut().poll_frame(cx)).await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    answer.extend_from_slice(&data);
                }
            }
            Some(Err(_)) | None => break,
        }
    }
    Ok(HttpAnswer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: answer,
    })
}

/// The body of a streamed answer, chunk by chunk.
pub type BodyChunks = Pin<Box<dyn futures::Stream<Item = Result<Bytes, String>> + Send>>;

/// A streamed HTTP answer: its status and headers now, its body as it arrives.
pub struct StreamedAnswer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: BodyChunks,
}

impl HttpClient {
    /// GETs `url` with `headers` (the CLI's requests to a box's API, on http:// or https://); the body
    /// streams, so a large export never sits in memory whole. `Err` says why nothing was answered.
    pub async fn get(&self, url: &Url, headers: &http::HeaderMap) -> Result<StreamedAnswer, String> {
        match (url.scheme(), &self.tls) {
            ("https", Some(client)) => {
                let uri: http::Uri = url.as_str().parse().map_err(|e| format!("{url} is not a usable URI: {e}"))?;
                let mut request = http::Request::new(axum::body::Body::empty());
                *request.uri_mut() = uri;
                *request.headers_mut() = headers.clone();
                request
                    .headers_mut()
                    .insert(http::header::USER_AGENT, http::HeaderValue::from_static(USER_AGENT));
                let response = client.request(request).await.map_err(|e| error_chain(&e))?;
                let (parts, incoming) = response.into_parts();
                let body = futures::stream::unfold(Some(Box::pin(incoming)), next_tls_chunk);
                Ok(StreamedAnswer {
                    status: parts.status.as_u16(),
                    headers: parts.headers,
                    body: Box::pin(body),
                })
            }
            ("https", None) => Err("no TLS client was set up for this https:// URL".into()),
            _ => {
                let response = self
                    .plain
                    .get(url.clone())
                    .headers(headers.clone())
                    .send()
                    .await
                    .map_err(|e| error_chain(&e))?;
                let (status, headers) = (response.status().as_u16(), response.headers().clone());
                let body = futures::stream::unfold(Some(response), next_plain_chunk);
                Ok(StreamedAnswer {
                    status,
                    headers,
                    body: Box::pin(body),
                })
            }
        }
    }
}

/// A TLS answer's body being read.
type TlsBody = Pin<Box<Incoming>>;

/// The next data chunk of a TLS answer's body, and what is left of the body (None after an error).
async fn next_tls_chunk(body: Option<TlsBody>) -> Option<(Result<Bytes, String>, Option<TlsBody>)> {
    let mut body = body?;
    loop {
        match std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await? {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    return Some((Ok(data), Some(body)));
                }
            }
            Err(e) => return Some((Err(error_chain(&e)), None)),
        }
    }
}

/// The next chunk of a plain answer's body, and what is left of it (None after an error).
async fn next_plain_chunk(response: Option<reqwest::Response>) -> Option<(Result<Bytes, String>, Option<reqwest::Response>)> {
    let mut response = response?;
    match response.chunk().await {
        Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
        Ok(None) => None,
        Err(e) => Some((Err(error_chain(&e)), None)),
    }
}

/// An error with its causes, `a: b: c` (transport errors keep the useful part in their sources).
/// A cause whose text the chain already holds (libraries often repeat their source's message) is
/// left out, as Go's wrapped error text reads (`...: connection refused`).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{serve, AllowedHosts, ConnectionLimits, Stop};
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::time::Instant;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    /// Limits far from every test's timing; each test shortens the one it is about.
    fn relaxed() -> ConnectionLimits {
        ConnectionLimits {
            read_header_timeout: Duration::from_secs(10),
            body_stall_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            max_connections: 16,
            shutdown_grace: Duration::from_secs(5),
            ..ConnectionLimits::default()
        }
    }

    struct TestServer {
        addr: SocketAddr,
        stop: tokio::sync::watch::Sender<bool>,
        handle: tokio::task::JoinHandle<()>,
    }

    async fn start(limits: ConnectionLimits) -> TestServer {
        start_with_tls(limits, None).await
    }

    /// Serves on 127.0.0.1: `/` answers at once, `/slow` after 300 ms, `/never` never, and
    /// `/upload` with the size of the body it read.
    async fn start_with_tls(limits: ConnectionLimits, tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>) -> TestServer {
        let router = axum::Router::new()
            .route("/", axum::routing::get(|| async { "ok" }))
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(ms(300)).await;
                    "done"
                }),
            )
            .route(
                "/never",
                axum::routing::get(|| async {
                    std::future::pending::<()>().await;
                    "unreachable"
                }),
            )
            .route(
                "/upload",
                axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stop_signal) = Stop::new();
        let handle = serve(listener, tls, router, &stop_signal, &AllowedHosts::default(), limits).unwrap();
        TestServer { addr, stop, handle }
    }

    fn get(path: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
    }

    /// One whole response (head and Content-Length body), or None if the connection closes first
    /// or nothing complete arrives within 5 s.
    async fn read_response(stream: &mut TcpStream) -> Option<String> {
        let mut received: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(head_end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |value| value.trim().parse().unwrap());
                let end = head_end + 4 + length;
                if received.len() >= end {
                    return Some(String::from_utf8_lossy(&received[..end]).into_owned());
                }
            }
            match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => received.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    async fn exchange(stream: &mut TcpStream, path: &str) -> Option<String> {
        stream.write_all(get(path).as_bytes()).await.ok()?;
        read_response(stream).await
    }

    async fn fetch(stream: &mut TcpStream, path: &str) -> String {
        let response = exchange(stream, path).await.expect("a whole response");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        response
    }

    /// How long the server took to close `stream` (None: still open after `limit`).
    async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let mut chunk = [0u8; 4096];
        loop {
            match tokio::time::timeout_at(started + limit, stream.read(&mut chunk)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
                // An answer before the close (an error response) is read past.
                Ok(Ok(_)) => {}
            }
        }
    }

    #[tokio::test]
    async fn a_connection_stopping_midway_through_its_request_headers_is_closed_after_the_header_timeout() {
        let server = start(ConnectionLimits {
            read_header_timeout: ms(300),
            ..relaxed()
        })
        .await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: loc").await.unwrap();
        let closed = closed_within(&mut stream, Duration::from_secs(3))
            .await
            .expect("closed by the header timeout");
        assert!(closed >= ms(200), "closed after {closed:?}, before the header timeout");
    }

    #[tokio::test]
    async fn a_connection_that_never_sends_a_byte_is_closed_after_the_header_timeout() {
        let server = start(ConnectionLimits {
            read_header_timeout: ms(300),
            ..relaxed()
        })
        .await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let closed = closed_within(&mut stream, Duration::from_secs(3))
            .await
            .expect("closed by the header timeout");
        assert!(closed >= ms(200), "closed after {closed:?}, before the header timeout");
    }

    #[tokio::test]
    async fn a_tls_client_that_never_finishes_its_handshake_is_closed_after_the_header_timeout() {
        use tokio_rustls::rustls;
        // The handshake never gets as far as choosing a certificate, so none is needed.
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(rustls::server::ResolvesServerCertUsingSni::new()));
        let server = start_with_tls(
            ConnectionLimits {
                read_header_timeout: ms(300),
                ..relaxed()
            },
            Some(Arc::new(tls)),
        )
        .await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        // The first bytes of a TLS record header, then silence.
        stream.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
        let closed = closed_within(&mut stream, Duration::from_secs(3))
            .await
            .expect("closed by the header timeout");
        assert!(closed >= ms(200), "closed after {closed:?}, before the header timeout");
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
        let server = start(ConnectionLimits {
            idle_timeout: ms(300),
            ..relaxed()
        })
        .await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        assert!(fetch(&mut stream, "/").await.ends_with("ok"));
        let closed = closed_within(&mut stream, Duration::from_secs(3))
            .await
            .expect("closed by the idle timeout");
        assert!(closed >= ms(200), "closed after {closed:?}, before the idle timeout");
    }

    #[tokio::test]
    async fn a_keep_alive_connection_may_wait_longer_than_the_header_timeout_between_requests() {
        let server = start(ConnectionLimits {
            read_header_timeout: ms(200),
            ..relaxed()
        })
        .await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        assert!(fetch(&mut stream, "/").await.ends_with("ok"));
        tokio::time::sleep(ms(600)).await;
        assert!(fetch(&mut stream, "/").await.ends_with("ok"));
    }

    #[tokio::test]
    async fn a_request_body_that_stalls_fails_after_the_body_stall_timeout() {
        let server = start(ConnectionLimits {
            body_stall_timeout: ms(300),
            ..relaxed()
        })
        .await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc")
            .await
            .unwrap();
        let response = read_response(&mut stream).await.expect("an answer once the body stalls");
        assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    }

    #[tokio::test]
    async fn at_the_connection_limit_new_connections_are_reset_while_open_ones_are_served() {
        let server = start(ConnectionLimits {
            max_connections: 2,
            ..relaxed()
        })
        .await;
        let mut first = TcpStream::connect(server.addr).await.unwrap();
        assert!(fetch(&mut first, "/").await.ends_with("ok"));
        let mut second = TcpStream::connect(server.addr).await.unwrap();
        assert!(fetch(&mut second, "/").await.ends_with("ok"));

        // The kernel completes the handshake; otelbox then resets the connection unanswered.
        let mut third = TcpStream::connect(server.addr).await.unwrap();
        assert!(
            exchange(&mut third, "/").await.is_none(),
            "a connection beyond the limit was served"
        );
        assert!(closed_within(&mut third, Duration::from_secs(2)).await.is_some());

        assert!(fetch(&mut first, "/").await.ends_with("ok"), "an open connection is still served");
        drop(second);
        // The slot frees once the server has seen the close.
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let mut next = TcpStream::connect(server.addr).await.unwrap();
            if exchange(&mut next, "/").await.is_some_and(|r| r.ends_with("ok")) {
                break;
            }
            assert!(Instant::now() < deadline, "no slot freed after a connection closed");
            tokio::time::sleep(ms(50)).await;
        }
    }

    #[tokio::test]
    async fn shutdown_closes_idle_and_half_sent_connections_at_once() {
        let server = start(relaxed()).await;
        let mut idle = TcpStream::connect(server.addr).await.unwrap();
        assert!(fetch(&mut idle, "/").await.ends_with("ok"));
        let mut half_sent = TcpStream::connect(server.addr).await.unwrap();
        half_sent.write_all(b"GET / HTTP/1.1\r\nHost: loc").await.unwrap();
        tokio::time::sleep(ms(50)).await;

        let started = Instant::now();
        server.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(1), server.handle)
            .await
            .expect("stopped within 1 s")
            .unwrap();
        assert!(started.elapsed() < ms(500), "stopping took {:?}", started.elapsed());
        assert!(closed_within(&mut idle, ms(500)).await.is_some());
        assert!(closed_within(&mut half_sent, ms(500)).await.is_some());
    }

    #[tokio::test]
    async fn a_request_in_flight_at_shutdown_still_gets_its_answer() {
        let server = start(relaxed()).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(get("/slow").as_bytes()).await.unwrap();
        tokio::time::sleep(ms(100)).await;
        server.stop.send(true).unwrap();
        let response = read_response(&mut stream).await.expect("the answer");
        assert!(response.starts_with("HTTP/1.1 200") && response.ends_with("done"), "{response}");
        tokio::time::timeout(Duration::from_secs(2), server.handle)
            .await
            .expect("stopped once the answer was sent")
            .unwrap();
    }

    #[tokio::test]
    async fn shutdown_gives_up_on_a_request_still_running_after_the_grace() {
        let server = start(ConnectionLimits {
            shutdown_grace: ms(300),
            ..relaxed()
        })
        .await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(get("/never").as_bytes()).await.unwrap();
        tokio::time::sleep(ms(100)).await;
        let started = Instant::now();
        server.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(2), server.handle)
            .await
            .expect("stopped once the grace ran out")
            .unwrap();
        assert!(
            started.elapsed() >= ms(200),
            "gave up after {:?}, before the grace",
            started.elapsed()
        );
        assert!(closed_within(&mut stream, ms(500)).await.is_some());
    }

    #[tokio::test]
    async fn a_connection_that_reaches_max_connection_age_is_closed_though_it_is_in_use() {
        let server = start(ConnectionLimits {
            max_connection_age: Some(ms(400)),
            ..relaxed()
        })
        .await;
        let connected = Instant::now();
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        // Busier than the idle timeout would ever allow, and still closed at its age.
        while let Some(response) = exchange(&mut stream, "/").await {
            assert!(response.ends_with("ok"), "{response}");
            assert!(connected.elapsed() < Duration::from_secs(3), "still open after 3 s");
            tokio::time::sleep(ms(50)).await;
        }
        let age = connected.elapsed();
        assert!(age >= ms(350), "closed after {age:?}, before max_connection_age less its jitter");
    }

    #[tokio::test]
    async fn a_request_in_flight_when_its_connection_ages_out_still_gets_its_answer() {
        let server = start(ConnectionLimits {
            max_connection_age: Some(ms(100)),
            max_connection_age_grace: Some(Duration::from_secs(2)),
            ..relaxed()
        })
        .await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(get("/slow").as_bytes()).await.unwrap();
        let response = read_response(&mut stream).await.expect("the answer");
        assert!(response.starts_with("HTTP/1.1 200") && response.ends_with("done"), "{response}");
        assert!(closed_within(&mut stream, Duration::from_secs(1)).await.is_some());
    }

    #[tokio::test]
    async fn max_connection_age_grace_and_the_stop_bound_a_request_that_never_ends() {
        let server = start(ConnectionLimits {
            max_connection_age: Some(ms(100)),
            max_connection_age_grace: Some(ms(300)),
            ..relaxed()
        })
        .await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(get("/never").as_bytes()).await.unwrap();
        let closed = closed_within(&mut stream, Duration::from_secs(3))
            .await
            .expect("closed after the grace");
        assert!(closed >= ms(300), "closed after {closed:?}");

        // Without a grace the request may run on, but a stop still ends it within shutdown_grace.
        let server = start(ConnectionLimits {
            max_connection_age: Some(ms(100)),
            shutdown_grace: ms(300),
            ..relaxed()
        })
        .await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(get("/never").as_bytes()).await.unwrap();
        assert_eq!(closed_within(&mut stream, ms(600)).await, None, "no grace: it runs on");
        server.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(2), server.handle)
            .await
            .expect("stopped once the shutdown grace ran out")
            .unwrap();
        assert!(closed_within(&mut stream, ms(500)).await.is_some());
    }

    #[test]
    fn http2_settings_build_and_deadlines_combine() {
        // hyper panics at the first HTTP/2 connection when pings are on and no timer is set; the
        // builder is made at every start, so build one with every HTTP/2 setting.
        let _ = super::connection_builder(&ConnectionLimits {
            http2_keepalive_interval: Some(Duration::from_secs(30)),
            http2_keepalive_timeout: Duration::from_secs(5),
            http2_max_concurrent_streams: Some(16),
            ..relaxed()
        });
        let (soon, later) = (Instant::now() + ms(5), Instant::now() + ms(50));
        assert_eq!(super::earliest(Some(later), Some(soon)), Some(soon));
        assert_eq!(super::earliest(None, Some(later)), Some(later), "a deadline beats never");
        assert_eq!(super::earliest(None, None), None);
    }

    #[test]
    fn loopback_listeners_serve_loopback_names_and_the_allowed_ones_only() {
        let allowed = AllowedHosts::new(["otelbox.internal".to_string()]);
        for host in [
            "localhost",
            "localhost:4319",
            "LOCALHOST:4318",
            "ui.localhost:4319",
            "127.0.0.1:4319",
            "127.3.2.1",
            "[::1]:4319",
            "otelbox.internal:4319",
        ] {
            assert!(allowed.allows(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:4319",
            "localhost.evil.example",
            "10.0.0.5:4319",
            "[2001:db8::1]:4319",
            "0.0.0.0:4319",
        ] {
            assert!(!allowed.allows(host), "{host}");
        }
    }
}
