//! `otelbox up`: run a box in the foreground until Ctrl-C or SIGTERM.

use crate::app::{self, BoundAddrs, BoxOptions, Security};
use crate::auth::Tokens;
use crate::components::REGISTRY;
use crate::config::{Config, Kind};
use crate::exporter::storage::StorageSettings;
use crate::store::retention::Retention;
use crate::store::{db_file, Location};
use crate::tls::TlsFiles;
use anyhow::Context;
use clap::Args;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  otelbox up\n  otelbox up --memory --listen 0.0.0.0\n  otelbox up --data-dir ./telemetry --retention 24h --max-db-size 512MiB"
)]
pub struct UpArgs {
    /// Data directory (default: the user data dir, e.g. ~/.local/share/otelbox); the database is <dir>/otelbox.db
    #[arg(long, env = "OTELBOX_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep everything in memory: nothing is written to disk and nothing survives a restart
    #[arg(long, conflicts_with = "data_dir")]
    pub memory: bool,
    /// Collector-style YAML config (pipelines, processors, auth, tls); without it, /etc/otelbox/config.yaml
    /// or ~/.config/otelbox/config.yaml if present, else the built-in pipeline (`otelbox config default`)
    #[arg(long, env = "OTELBOX_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address the UI port and the config's main otlp receiver bind to (0.0.0.0 opens them to the
    /// network; other receivers keep their configured endpoints) [default: 127.0.0.1]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<IpAddr>,
    /// OTLP/gRPC port [default: 4317]
    #[arg(long)]
    pub grpc_port: Option<u16>,
    /// OTLP/HTTP port (protobuf and JSON) [default: 4318]
    #[arg(long)]
    pub http_port: Option<u16>,
    /// UI and query API port [default: 4319]
    #[arg(long)]
    pub ui_port: Option<u16>,
    /// Delete data older than this (e.g. 12h, 7d; 0 keeps everything) [default: 7d]
    #[arg(long, value_parser = parse_duration)]
    pub retention: Option<std::time::Duration>,
    /// Keep the database under this size by deleting the oldest data (e.g. 512MiB, 2GiB; 0 = no cap) [default: 1GiB]
    #[arg(long, value_parser = parse_size)]
    pub max_db_size: Option<u64>,
    /// Also survive power loss, not only crashes (SQLite synchronous=FULL; slower commits)
    #[arg(long)]
    pub durable_sync: bool,
    /// Open the UI in a browser once ready
    #[arg(long)]
    pub open: bool,
    /// Require this bearer token from OTLP senders (repeatable); SDKs send it with
    /// OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer <token>"
    #[arg(long = "ingest-token", env = "OTELBOX_INGEST_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub ingest_tokens: Vec<String>,
    /// Read ingest tokens from a file, one per line
    #[arg(long, value_name = "FILE")]
    pub ingest_token_file: Option<PathBuf>,
    /// Require this bearer token for the UI and the query API (repeatable); the CLI sends OTELBOX_API_TOKEN
    #[arg(long = "api-token", env = "OTELBOX_API_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub api_tokens: Vec<String>,
    /// Read API tokens from a file, one per line
    #[arg(long, value_name = "FILE")]
    pub api_token_file: Option<PathBuf>,
    /// Serve TLS on all three ports with this PEM certificate (chain)
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Require OTLP senders to present a client certificate signed by this PEM CA (mTLS on the ingest ports)
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// A host name loopback listeners also answer to (repeatable); by default only localhost and
    /// loopback addresses, so a web page rebinding its name to 127.0.0.1 cannot reach otelbox
    #[arg(long = "allowed-host", env = "OTELBOX_ALLOWED_HOSTS", value_delimiter = ',', value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
}

/// A config file with errors: reported with all its errors; the process exits 2 and starts nothing.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigRefused(pub String);

/// Tokens from the flags (and their env vars) and the token file. An empty token is refused: it
/// would silently leave that side open (typically an unset variable in `--api-token "$TOKEN"`).
fn tokens(listed: &[String], file: &Option<PathBuf>) -> anyhow::Result<Tokens> {
    if listed.iter().any(|t| t.trim().is_empty()) {
        return Err(ConfigRefused(
            "an empty token was given (--ingest-token, --api-token or their environment variables); \
             an empty token would leave that side open"
                .into(),
        )
        .into());
    }
    let mut all = listed.to_vec();
    if let Some(path) = file {
        all.extend(crate::auth::read_token_file(path)?);
    }
    Ok(Tokens::new(all))
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::units::parse_duration(text)
}

fn parse_size(text: &str) -> Result<u64, String> {
    crate::units::parse_size(text)
}

pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("", "", "otelbox")
        .map(|d| d.data_dir().to_path_buf())
        .context("cannot find a home directory for the default data directory; pass --data-dir or --memory")
}

pub fn run(args: UpArgs) -> anyhow::Result<i32> {
    let location = if args.memory {
        Location::Memory
    } else {
        let dir = match &args.data_dir {
            Some(d) => d.clone(),
            None => default_data_dir()?,
        };
        Location::Disk(db_file(&dir))
    };
    // The config file sets the pipelines and defaults; flags given on the command line win over it.
    let config_path = args.config.clone().or_else(Config::find_standard);
    let config = match &config_path {
        Some(path) => Config::load(path, &REGISTRY).map_err(|e| ConfigRefused(format!("{}: {e}", path.display())))?,
        None => Config::builtin(&REGISTRY),
    };
    let mut config = config;
    let storage = storage_settings(&config);
    let builtin = storage_settings(&Config::builtin(&REGISTRY));
    let age = args.retention.or(storage.retention).or(builtin.retention).unwrap_or_default();
    let size = args.max_db_size.or(storage.max_db_size).or(builtin.max_db_size).unwrap_or(0);
    let retention = Retention {
        max_age: (!age.is_zero()).then_some(age),
        max_bytes: (size > 0).then_some(size),
    };
    let flags_given = args.listen.is_some() || args.grpc_port.is_some() || args.http_port.is_some();
    if !crate::receiver::otlp::override_endpoints(&mut config, args.listen, args.grpc_port, args.http_port) && flags_given {
        eprintln!("warning: the config has no otlp receiver, so --listen, --grpc-port and --http-port apply to nothing but the UI port");
    }
    let listen = args.listen.unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let mut ingest_tokens = args.ingest_tokens.clone();
    ingest_tokens.extend(config.ingest_tokens.iter().cloned());
    let mut api_tokens = args.api_tokens.clone();
    api_tokens.extend(config.api_tokens.iter().cloned());
    let tls = match (args.tls_cert.clone().zip(args.tls_key.clone()), &config.tls) {
        // Flags replace the file's certificate, but never silently drop its client CA (mTLS).
        (Some((cert, key)), file) => Some(TlsFiles {
            cert,
            key,
            client_ca: args.tls_client_ca.clone().or(file.as_ref().and_then(|t| t.client_ca_file.clone())),
        }),
        (None, Some(files)) => Some(TlsFiles {
            cert: files.cert_file.clone(),
            key: files.key_file.clone(),
            client_ca: args.tls_client_ca.clone().or(files.client_ca_file.clone()),
        }),
        (None, None) => None,
    };
    let options = BoxOptions {
        location: location.clone(),
        ui: SocketAddr::new(listen, args.ui_port.unwrap_or(4319)),
        config,
        retention: retention.clone(),
        durable_sync: args.durable_sync,
        security: Security {
            ingest_tokens: tokens(&ingest_tokens, &args.ingest_token_file)?,
            api_tokens: tokens(&api_tokens, &args.api_token_file)?,
            tls,
            allowed_hosts: crate::net::AllowedHosts::new(args.allowed_hosts.clone()),
        },
    };
    let guarded = options.security.ingest_tokens.enabled() && options.security.api_tokens.enabled();
    let exposed = crate::receiver::otlp::configured_endpoints(&options.config)
        .into_iter()
        .chain([options.ui])
        .find(|a| !a.ip().is_loopback());
    if let (Some(addr), false) = (exposed, guarded) {
        eprintln!("warning: listening on {addr} without both ingest and API tokens: anyone who can reach it can send or read telemetry");
    }
    let open = args.open;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(app::run(options, app::shutdown_signal(), |addrs| {
        print_banner(addrs, &location, &retention);
        if open {
            open_browser(&format!("{}://{}", addrs.scheme, addrs.ui));
        }
    }))?;
    Ok(0)
}

/// The `otelbox` storage exporter's settings (retention, size cap), which apply to the store.
fn storage_settings(config: &Config) -> StorageSettings {
    config
        .of_kind(Kind::Exporter)
        .find(|(id, _)| id.kind == "otelbox")
        .map(|(_, c)| c.settings.get::<StorageSettings>().clone())
        .unwrap_or_default()
}

fn print_banner(addrs: &BoundAddrs, location: &Location, retention: &Retention) {
    let storage = match location {
        Location::Memory => "in memory (nothing is written to disk)".to_string(),
        Location::Disk(path) => path.display().to_string(),
    };
    let age = retention
        .max_age
        .map(|d| format!("{}h", d.as_secs() / 3600))
        .unwrap_or_else(|| "none".into());
    let cap = retention
        .max_bytes
        .map(|b| format!("{} MiB", b >> 20))
        .unwrap_or_else(|| "none".into());
    let scheme = addrs.scheme;
    let mut lines = format!("otelbox {} is up\n", env!("CARGO_PKG_VERSION"));
    if let Some(grpc) = addrs.grpc {
        lines += &format!("  OTLP gRPC   {scheme}://{grpc}\n");
    }
    if let Some(http) = addrs.http {
        lines += &format!("  OTLP HTTP   {scheme}://{http}\n");
    }
    for endpoint in &addrs.receivers {
        if Some(endpoint.address) != addrs.grpc && Some(endpoint.address) != addrs.http {
            let name = format!("{} {}", endpoint.receiver, endpoint.protocol);
            lines += &format!("  {name:<11} {scheme}://{}\n", endpoint.address);
        }
    }
    lines += &format!(
        "  UI + API    {scheme}://{}\n  storage     {storage} (retention {age}, size cap {cap})\n",
        addrs.ui
    );
    if let (Some(http), Some(grpc)) = (addrs.http, addrs.grpc) {
        lines += &format!(
            "\nPoint an SDK at it:\n  export OTEL_EXPORTER_OTLP_ENDPOINT={scheme}://{http}\n  export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n\
             or, for gRPC:\n  export OTEL_EXPORTER_OTLP_ENDPOINT={scheme}://{grpc} OTEL_EXPORTER_OTLP_PROTOCOL=grpc\n"
        );
    }
    println!("{lines}\nCtrl-C stops it (data is flushed first).");
    if !crate::api::ui::is_embedded() {
        println!("\nThis binary was built without the web UI (the API works): run scripts/build-ui, then rebuild.");
    }
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    if let Err(e) = std::process::Command::new(opener).arg(url).spawn() {
        eprintln!("could not open a browser ({opener}: {e}); visit {url}");
    }
}
