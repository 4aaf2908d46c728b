//! Assembles and runs a box: binds the three listeners (failing clearly when a port is taken),
//! opens the store, builds the default pipelines, serves, and shuts down in order: stop intake,
//! flush the pipelines, close the store, stop the API.

use crate::api::{self, wire, ApiState};
use crate::auth::{self, Tokens};
use crate::config::Config;
use crate::pipeline::build::{Resources, Topology};
use crate::receiver::otlp_grpc::GrpcReceiver;
use crate::receiver::{otlp_http, Intake, DEFAULT_MAX_REQUEST_BYTES};
use crate::store::retention::Retention;
use crate::store::{Location, Store, StoreConfig};
use crate::telemetry::{Components, IngestStats};
use crate::tls::{TlsFiles, TlsListener};
use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct BoxOptions {
    pub location: Location,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub ui: SocketAddr,
    /// The pipelines (processors and their settings) to run; `Config::builtin()` without a file.
    pub config: Config,
    pub retention: Retention,
    pub durable_sync: bool,
    pub security: Security,
}

/// Who may send and who may read: bearer tokens per side, and TLS on every listener.
#[derive(Clone, Debug, Default)]
pub struct Security {
    pub ingest_tokens: Tokens,
    pub api_tokens: Tokens,
    pub tls: Option<TlsFiles>,
}

/// The addresses a running box actually listens on (ports may have been 0).
#[derive(Clone, Debug)]
pub struct BoundAddrs {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub ui: SocketAddr,
    /// `https` when TLS is on, else `http`.
    pub scheme: &'static str,
}

async fn bind(addr: SocketAddr, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AddrInUse {
            "the address is already in use".to_string()
        } else {
            e.to_string()
        };
        anyhow::anyhow!("cannot listen on {addr}: {why}; stop the other process or choose another port with {flag}")
    })
}

/// Run until `shutdown` resolves; `on_ready` gets the bound addresses once everything serves.
pub async fn run(options: BoxOptions, shutdown: impl Future<Output = ()>, on_ready: impl FnOnce(&BoundAddrs)) -> anyhow::Result<()> {
    let started = Instant::now();
    let grpc_listener = bind(options.grpc, "--grpc-port (or receivers.otlp.protocols.grpc.endpoint)").await?;
    let http_listener = bind(options.http, "--http-port (or receivers.otlp.protocols.http.endpoint)").await?;
    let ui_listener = bind(options.ui, "--ui-port").await?;
    // The zipkin receiver listens only when a pipeline uses it; bound with the others so a taken
    // port stops the start before anything else has begun.
    let zipkin_listener = match &options.config.zipkin {
        Some(settings)
            if options
                .config
                .pipelines
                .iter()
                .any(|p| p.receivers.iter().any(|r| r.kind == "zipkin")) =>
        {
            Some(bind(settings.endpoint, "receivers.zipkin.endpoint").await?)
        }
        _ => None,
    };
    // Certificates are read before anything else starts, so a bad file is an error at start-up.
    let tls = match &options.security.tls {
        Some(files) => Some((
            crate::tls::server_config(files, true, &[b"h2", b"http/1.1"])?,
            crate::tls::server_config(files, true, &[b"h2"])?,
            crate::tls::server_config(files, false, &[b"h2", b"http/1.1"])?,
        )),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let addrs = BoundAddrs {
        grpc: grpc_listener.local_addr()?,
        http: http_listener.local_addr()?,
        ui: ui_listener.local_addr()?,
        scheme: if options.security.tls.is_some() { "https" } else { "http" },
    };

    if let Location::Disk(path) = &options.location {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the data directory {}; choose another with --data-dir", dir.display()))?;
        }
    }
    let store = Store::open(StoreConfig {
        location: options.location.clone(),
        retention: options.retention.clone(),
        durable_sync: options.durable_sync,
    })?;

    // The pipelines; the receivers' admission check (refuse before decoding) watches the first
    // memory_limiter's gauge.
    let config = &options.config;
    let components = Arc::new(Components::default());
    let data_dir = match &options.location {
        Location::Disk(path) => path.parent().map(|dir| dir.to_path_buf()),
        Location::Memory => None,
    };
    let topology = Topology::build(
        config,
        &Resources {
            store: &store,
            data_dir,
            components: &components,
        },
    )?;
    let stats = Arc::new(IngestStats::default());
    let intake = Intake {
        traces: topology.otlp.traces.clone(),
        metrics: topology.otlp.metrics.clone(),
        logs: topology.otlp.logs.clone(),
        stats: stats.clone(),
        max_request_bytes: config.otlp.http_max_request_bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES),
        admission: Arc::new(crate::receiver::Admission::new(topology.gauges.values().next().cloned())),
    };
    // The zipkin receiver listens only when a pipeline uses it.
    let zipkin = match (&config.zipkin, &topology.zipkin, zipkin_listener) {
        (Some(settings), Some(head), Some(listener)) => {
            let router = crate::receiver::zipkin::router_with(
                settings,
                Intake {
                    traces: head.clone(),
                    ..intake.clone()
                },
            )
            .layer(axum::middleware::from_fn_with_state(
                options.security.ingest_tokens.clone(),
                auth::require_ingest_token,
            ));
            Some((listener, router))
        }
        _ => None,
    };

    let api_state = Arc::new(ApiState {
        store: store.clone(),
        ingest: stats,
        started,
        endpoints: wire::Endpoints {
            otlp_grpc: format!("{scheme}://{}", addrs.grpc),
            otlp_http: format!("{scheme}://{}", addrs.http),
            ui: format!("{scheme}://{}", addrs.ui),
        },
        retention: options.retention.clone(),
        pipelines: config.describe(),
        components: components.clone(),
        ready: Default::default(),
        api_tokens: options.security.api_tokens.clone(),
        tls: tls.is_some(),
        sessions: Default::default(),
    });

    // Phase 1 signal stops intake; phase 2 stops the API after the store is closed.
    let (stop_intake, intake_stopped) = watch::channel(false);
    let (stop_api, api_stopped) = watch::channel(false);
    let wait = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let ingest_tokens = options.security.ingest_tokens.clone();
    let http_router = otlp_http::router(intake.clone()).layer(axum::middleware::from_fn_with_state(
        ingest_tokens.clone(),
        auth::require_ingest_token,
    ));
    let grpc = tonic::transport::Server::builder()
        .layer(tonic::service::InterceptorLayer::new(auth::grpc_check(ingest_tokens)))
        .add_routes(
            GrpcReceiver::new(Intake {
                max_request_bytes: config.otlp.grpc_max_request_bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES),
                ..intake.clone()
            })
            .routes(),
        );
    let api_router = api::router(api_state.clone());
    // Zipkin is an ingest port like OTLP/HTTP: the same TLS (and client-certificate) settings.
    let zipkin_server = match (zipkin, &tls) {
        (None, _) => None,
        (Some((listener, router)), None) => Some(serve(listener, router, wait(intake_stopped.clone()))),
        (Some((listener, router)), Some((http_tls, _, _))) => Some(serve(
            TlsListener::new(listener, http_tls.clone())?,
            router,
            wait(intake_stopped.clone()),
        )),
    };
    let (http_server, grpc_server, api_server) = match tls {
        None => (
            serve(http_listener, http_router, wait(intake_stopped.clone())),
            tokio::spawn(grpc.serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(grpc_listener),
                wait(intake_stopped.clone()),
            )),
            serve(ui_listener, api_router, wait(api_stopped)),
        ),
        Some((http_tls, grpc_tls, ui_tls)) => (
            serve(
                TlsListener::new(http_listener, http_tls)?,
                http_router,
                wait(intake_stopped.clone()),
            ),
            tokio::spawn(grpc.serve_with_incoming_shutdown(
                TlsListener::new(grpc_listener, grpc_tls)?.into_stream(),
                wait(intake_stopped.clone()),
            )),
            serve(TlsListener::new(ui_listener, ui_tls)?, api_router, wait(api_stopped)),
        ),
    };

    api_state.ready.store(true, Ordering::Relaxed);
    on_ready(&addrs);
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "ready");

    shutdown.await;
    tracing::info!("shutting down: stopping intake");
    api_state.ready.store(false, Ordering::Relaxed);
    let _ = stop_intake.send(true);
    // In-flight exports finish (they wait for their commits) before the servers return.
    let drain = async {
        let _ = http_server.await;
        let _ = grpc_server.await;
        if let Some(server) = zipkin_server {
            let _ = server.await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(35), drain).await.is_err() {
        tracing::warn!("receivers did not drain in 35 s; closing anyway");
    }
    tracing::info!("flushing pipelines");
    // Bounded: an exporter without a sending queue could otherwise retry a flush for minutes.
    if tokio::time::timeout(Duration::from_secs(30), topology.shutdown()).await.is_err() {
        tracing::warn!("pipelines did not flush in 30 s; stopping anyway");
    }
    store.close().await;
    let _ = stop_api.send(true);
    // Live tails never end by themselves: give the API a moment, then stop it regardless.
    let _ = tokio::time::timeout(Duration::from_secs(1), api_server).await;
    tracing::info!("stopped");
    Ok(())
}

/// Serves an axum router on a plain or TLS listener until `shutdown` resolves.
fn serve<L>(
    listener: L,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<std::io::Result<()>>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let server = axum::serve(listener, router.into_make_service()).with_graceful_shutdown(shutdown);
    tokio::spawn(async move { server.await })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
