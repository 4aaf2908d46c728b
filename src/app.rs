//! Assembles and runs a box: binds the UI port, opens the store, starts the extensions, builds the
//! pipelines, starts the receivers (failing clearly when a port is taken), serves, and shuts down
//! in order: stop intake, flush the pipelines, stop the extensions, close the store, stop the API.

use crate::api::{self, wire, ApiState};
use crate::auth::Tokens;
use crate::config::Config;
use crate::extension::Extensions;
use crate::net::{AllowedHosts, Stop};
use crate::receiver::{Endpoint, IngestTls, ReceiverHost};
use crate::service::{self, Resources, Topology};
use crate::store::retention::Retention;
use crate::store::{Location, Store, StoreConfig};
use crate::telemetry::{Components, IngestStats};
use crate::tls::TlsFiles;
use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct BoxOptions {
    pub location: Location,
    pub ui: SocketAddr,
    /// The components and pipelines to run (`Config::builtin` without a file); the receivers'
    /// endpoints already carry the command line's overrides (`receiver::otlp::override_endpoints`).
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
    /// Host names loopback listeners serve besides the loopback ones (DNS rebinding protection).
    pub allowed_hosts: AllowedHosts,
}

/// The addresses a running box actually listens on (ports may have been 0).
#[derive(Clone, Debug)]
pub struct BoundAddrs {
    /// The main `otlp` receiver's protocols (the one named `otlp`, else the first), if it has them.
    pub grpc: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub ui: SocketAddr,
    /// Every receiver's listeners.
    pub receivers: Vec<Endpoint>,
    /// `https` when TLS is on, else `http`.
    pub scheme: &'static str,
}

/// Run until `shutdown` resolves; `on_ready` gets the bound addresses once everything serves.
pub async fn run(options: BoxOptions, shutdown: impl Future<Output = ()>, on_ready: impl FnOnce(&BoundAddrs)) -> anyhow::Result<()> {
    let started = Instant::now();
    // Before any listener sizes its connection limit from it (`net::default_max_connections`).
    crate::net::raise_open_file_limit();
    let ui_listener = crate::net::bind(options.ui, "--ui-port").await?;
    // Certificates are read before anything else starts, so a bad file is an error at start-up.
    let tls = match &options.security.tls {
        Some(files) => Some((
            IngestTls {
                http: crate::tls::server_config(files, true, &[b"h2", b"http/1.1"])?,
                grpc: crate::tls::server_config(files, true, &[b"h2"])?,
            },
            crate::tls::server_config(files, false, &[b"h2", b"http/1.1"])?,
        )),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };

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

    let config = &options.config;
    let components = Arc::new(Components::default());
    let data_dir = match &options.location {
        Location::Disk(path) => path.parent().map(|dir| dir.to_path_buf()),
        Location::Memory => None,
    };
    // Extensions start first (exporters keep queues in storage extensions, receivers check
    // authenticators) and stop last.
    let extensions = match service::start_extensions(config).await {
        Ok(extensions) => Arc::new(extensions),
        Err(e) => {
            store.close().await;
            return Err(e);
        }
    };
    let topology = match Topology::build(
        config,
        &Resources {
            store: &store,
            data_dir,
            components: &components,
            extensions: &extensions,
        },
    ) {
        Ok(topology) => topology,
        Err(e) => {
            extensions.shutdown().await;
            store.close().await;
            return Err(e);
        }
    };
    let stats = Arc::new(IngestStats::default());
    let host = ReceiverHost {
        stats: stats.clone(),
        // The receivers' admission check (refuse before decoding) watches the first memory_limiter's gauge.
        admission: Arc::new(crate::receiver::Admission::new(topology.memory_gauge())),
        ingest_tokens: options.security.ingest_tokens.clone(),
        tls: tls.as_ref().map(|(ingest, _)| ingest.clone()),
        extensions: extensions.clone(),
        allowed_hosts: options.security.allowed_hosts.clone(),
    };
    let receivers = match service::build_receivers(config, &topology, &host).await {
        Ok(receivers) => receivers,
        Err(e) => {
            abandon(&topology, &extensions, &store).await;
            return Err(e);
        }
    };
    let endpoints: Vec<Endpoint> = receivers.iter().flat_map(|r| r.endpoints()).collect();
    let receiver_list = receiver_status(config, &receivers, scheme);
    let main_otlp = |protocol: &str| {
        endpoints
            .iter()
            .filter(|e| e.receiver.kind == "otlp" && e.protocol == protocol)
            .min_by_key(|e| e.receiver.name.is_some())
            .map(|e| e.address)
    };
    let addrs = BoundAddrs {
        grpc: main_otlp("grpc"),
        http: main_otlp("http"),
        ui: ui_listener.local_addr()?,
        receivers: endpoints.clone(),
        scheme,
    };
    let url = |address: Option<SocketAddr>| address.map(|a| format!("{scheme}://{a}")).unwrap_or_default();

    for pipeline in &config.ignored_pipelines {
        tracing::warn!(%pipeline, "this pipeline is not run: otelbox does not handle the profiles signal (the other pipelines run)");
    }
    let api_state = Arc::new(ApiState {
        store: store.clone(),
        ingest: stats,
        started,
        endpoints: wire::Endpoints {
            otlp_grpc: url(addrs.grpc),
            otlp_http: url(addrs.http),
            ui: url(Some(addrs.ui)),
        },
        retention: options.retention.clone(),
        pipelines: config.describe(),
        stage_order: stage_order(config),
        receivers: receiver_list,
        components: components.clone(),
        ready: Default::default(),
        api_tokens: options.security.api_tokens.clone(),
        tls: tls.is_some(),
        sessions: Default::default(),
        tails: Default::default(),
    });

    // Phase 1 stops intake; phase 2 stops the API after the store is closed.
    let (stop_intake, intake_stop) = Stop::new();
    let (stop_api, api_stop) = Stop::new();
    let mut receiver_servers = Vec::new();
    let serve_all = || -> anyhow::Result<tokio::task::JoinHandle<()>> {
        for receiver in receivers {
            receiver_servers.extend(receiver.start(&intake_stop)?);
        }
        crate::net::serve(
            ui_listener,
            tls.map(|(_, ui)| ui),
            api::router(api_state.clone()),
            &api_stop,
            &options.security.allowed_hosts,
            crate::net::ConnectionLimits::default(),
        )
    };
    let api_server = match serve_all() {
        Ok(server) => server,
        Err(e) => {
            // What already serves stops; the pipelines flush and the store closes as at shutdown.
            receiver_servers.iter().for_each(tokio::task::JoinHandle::abort);
            abandon(&topology, &extensions, &store).await;
            return Err(e);
        }
    };

    api_state.ready.store(true, Ordering::Relaxed);
    extensions.set_ready(true);
    on_ready(&addrs);
    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "ready");

    shutdown.await;
    tracing::info!("shutting down: stopping intake");
    api_state.ready.store(false, Ordering::Relaxed);
    extensions.set_ready(false);
    let _ = stop_intake.send(true);
    // In-flight exports finish (they wait for their commits) before the servers return.
    let drain = futures::future::join_all(receiver_servers);
    if tokio::time::timeout(Duration::from_secs(35), drain).await.is_err() {
        tracing::warn!("receivers did not drain in 35 s; closing anyway");
    }
    tracing::info!("flushing pipelines");
    // Bounded: an exporter without a sending queue could otherwise retry a flush for minutes.
    if tokio::time::timeout(Duration::from_secs(30), topology.shutdown()).await.is_err() {
        tracing::warn!("pipelines did not flush in 30 s; stopping anyway");
    }
    extensions.shutdown().await;
    store.close().await;
    let _ = stop_api.send(true);
    // Live tails never end by themselves: give the API a moment, then stop it regardless.
    let _ = tokio::time::timeout(Duration::from_secs(1), api_server).await;
    tracing::info!("stopped");
    Ok(())
}

/// Every configured receiver for the status answer: those the pipelines list, with where they
/// listen or what they read (`receivers` is built from `config.used(Kind::Receiver)`, in its order),
/// then those no pipeline lists (configured, not run).
fn receiver_status(config: &Config, receivers: &[Box<dyn crate::receiver::Receiver>], scheme: &str) -> Vec<wire::ReceiverStatus> {
    use crate::config::Kind;
    let pipelines_of = |id: &crate::config::ComponentId| -> Vec<String> {
        config
            .pipelines
            .iter()
            .filter(|p| p.receivers.contains(id))
            .map(|p| p.id.clone())
            .collect()
    };
    let used = config.used(Kind::Receiver);
    let mut out: Vec<wire::ReceiverStatus> = used
        .iter()
        .zip(receivers)
        .map(|(id, receiver)| wire::ReceiverStatus {
            id: id.to_string(),
            pipelines: pipelines_of(id),
            endpoints: receiver
                .endpoints()
                .into_iter()
                .map(|e| wire::ReceiverEndpoint {
                    protocol: e.protocol.to_string(),
                    url: match e.protocol {
                        "udp" => format!("udp://{}", e.address),
                        _ => format!("{scheme}://{}", e.address),
                    },
                })
                .collect(),
            targets: receiver.targets(),
        })
        .collect();
    out.extend(
        config
            .of_kind(Kind::Receiver)
            .filter(|(id, _)| !used.contains(id))
            .map(|(id, _)| wire::ReceiverStatus {
                id: id.to_string(),
                ..Default::default()
            }),
    );
    out
}

/// The pipeline stages in order, as `(pipeline, component)` the component counters use: each
/// pipeline's processors as it lists them, then the exporters and connectors (shared, pipeline `*`)
/// in the order the pipelines first name them.
fn stage_order(config: &Config) -> Vec<(String, String)> {
    use crate::config::Kind;
    let mut order: Vec<(String, String)> = config
        .pipelines
        .iter()
        .flat_map(|p| p.processors.iter().map(move |id| (p.id.clone(), format!("processor/{id}"))))
        .collect();
    for pipeline in &config.pipelines {
        for id in &pipeline.exporters {
            let kind = if config.component(Kind::Connector, id).is_some() {
                "connector"
            } else {
                "exporter"
            };
            let stage = ("*".to_string(), format!("{kind}/{id}"));
            if !order.contains(&stage) {
                order.push(stage);
            }
        }
    }
    order
}

/// Undoes a start-up that failed after the pipelines were built (a receiver's port taken): what
/// started stops, and the store closes cleanly.
async fn abandon(topology: &Topology, extensions: &Extensions, store: &Store) {
    topology.shutdown().await;
    extensions.shutdown().await;
    store.close().await;
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
