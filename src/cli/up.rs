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
    // What the banner tells SDKs and the CLI to set: where the tokens are (never the tokens), the CA.
    let banner_security = BannerSecurity {
        ingest_tokens: options.security.ingest_tokens.enabled().then(|| {
            token_places(
                "--ingest-token or OTELBOX_INGEST_TOKEN",
                !args.ingest_tokens.is_empty(),
                args.ingest_token_file.as_deref(),
                (!options.config.ingest_tokens.is_empty()).then_some("auth.ingest_tokens"),
                config_path.as_deref(),
            )
        }),
        api_tokens: options.security.api_tokens.enabled().then(|| {
            token_places(
                "--api-token or OTELBOX_API_TOKEN",
                !args.api_tokens.is_empty(),
                args.api_token_file.as_deref(),
                (!options.config.api_tokens.is_empty()).then_some("auth.api_tokens"),
                config_path.as_deref(),
            )
        }),
        tls: options.security.tls.as_ref().map(|files| BannerTls {
            cert: files.cert.clone(),
            cert_is_ca: holds_self_signed(&files.cert),
            client_ca: files.client_ca.clone(),
        }),
    };
    let open = args.open;
    // Every runtime thread feeds the store's writer, which this thread starts (app::run opens the
    // store here, not on a runtime thread): they run below it (`priority`). Not for `otelbox
    // run`, whose command would inherit the lowered priority from the thread that starts it, nor
    // for a box whose pipelines do not store (a forwarder): there is no writer to make way for,
    // and lowered threads only lost the CPU to the programs the box serves.
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if stores_data(&options.config) {
        runtime.on_thread_start(crate::priority::below_this_thread());
    }
    let runtime = runtime.build()?;
    runtime.block_on(app::run(options, app::shutdown_signal(), |addrs| {
        print_banner(addrs, &location, &retention, &banner_security);
        if open {
            open_browser(&format!("{}://{}", addrs.scheme, addrs.ui));
        }
    }))?;
    Ok(0)
}

/// Whether a pipeline exports to the store (the `otelbox` exporter).
fn stores_data(config: &Config) -> bool {
    config.pipelines.iter().any(|p| p.exporters.iter().any(|e| e.kind == "otelbox"))
}

/// The `otelbox` storage exporter's settings (retention, size cap), which apply to the store.
fn storage_settings(config: &Config) -> StorageSettings {
    config
        .of_kind(Kind::Exporter)
        .find(|(id, _)| id.kind == "otelbox")
        .map(|(_, c)| c.settings.get::<StorageSettings>().clone())
        .unwrap_or_default()
}

/// What the banner says about tokens and TLS.
#[derive(Clone, Debug, Default)]
pub struct BannerSecurity {
    /// Where the ingest tokens are configured, when senders need one.
    pub ingest_tokens: Option<String>,
    /// Where the API tokens are configured, when the UI and the CLI need one.
    pub api_tokens: Option<String>,
    pub tls: Option<BannerTls>,
}

#[derive(Clone, Debug)]
pub struct BannerTls {
    /// The server's certificate file.
    pub cert: PathBuf,
    /// Whether that file can be the clients' CA file: it holds a self-signed certificate (a
    /// self-signed server certificate, or the root of its chain).
    pub cert_is_ca: bool,
    /// With mTLS: the CA the clients' certificates must be signed by.
    pub client_ca: Option<PathBuf>,
}

/// Where tokens came from, for the banner: `given` (the flag or its variable), a token file, the
/// config file's `auth` key.
fn token_places(
    flag: &str,
    given: bool,
    file: Option<&std::path::Path>,
    config_key: Option<&str>,
    config: Option<&std::path::Path>,
) -> String {
    let mut places = Vec::new();
    if given {
        places.push(flag.to_string());
    }
    if let Some(file) = file {
        places.push(file.display().to_string());
    }
    if let Some(key) = config_key {
        places.push(match config {
            Some(path) => format!("{key} in {}", path.display()),
            None => key.to_string(),
        });
    }
    places.join("; ")
}

/// Whether a PEM file holds a self-signed certificate, so that SDKs can trust the file itself.
fn holds_self_signed(path: &std::path::Path) -> bool {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::CertificateDer;
    CertificateDer::pem_file_iter(path)
        .map(|certs| certs.filter_map(Result::ok).any(|cert| is_self_signed(&cert)))
        .unwrap_or(false)
}

/// Whether a DER certificate names itself as its issuer (its issuer and subject names are equal).
fn is_self_signed(der: &[u8]) -> bool {
    /// One DER element: its tag, its content and what follows it.
    fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            first as usize
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n].iter().fold(0usize, |len, b| (len << 8) | *b as usize);
            rest = &rest[n..];
            len
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    const SEQUENCE: u8 = 0x30;
    let Some((SEQUENCE, certificate, _)) = element(der) else {
        return false;
    };
    let Some((SEQUENCE, tbs, _)) = element(certificate) else {
        return false;
    };
    // version [0] (optional), serialNumber, signature, issuer, validity, subject
    let mut rest = tbs;
    if let Some((0xa0, _, after)) = element(rest) {
        rest = after;
    }
    for _ in 0..2 {
        match element(rest) {
            Some((_, _, after)) => rest = after,
            None => return false,
        }
    }
    let Some((SEQUENCE, issuer, rest)) = element(rest) else {
        return false;
    };
    let Some((SEQUENCE, _validity, rest)) = element(rest) else {
        return false;
    };
    matches!(element(rest), Some((SEQUENCE, subject, _)) if subject == issuer)
}

fn print_banner(addrs: &BoundAddrs, location: &Location, retention: &Retention, security: &BannerSecurity) {
    print!("{}", banner(addrs, location, retention, security));
    if !crate::api::ui::is_embedded() {
        println!("\nThis binary was built without the web UI (the API works): run scripts/build-ui, then rebuild.");
    }
}

/// The lines `otelbox up` prints once it serves: the endpoints, the storage, and what to export in
/// an SDK's shell (and the CLI's, when tokens or TLS are on). Tokens are never shown: placeholders,
/// and where they are configured.
pub fn banner(addrs: &BoundAddrs, location: &Location, retention: &Retention, security: &BannerSecurity) -> String {
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
    if addrs.http.is_some() || addrs.grpc.is_some() {
        lines += "\nPoint an SDK at it:\n";
        if let Some(http) = addrs.http {
            lines +=
                &format!("  export OTEL_EXPORTER_OTLP_ENDPOINT={scheme}://{http}\n  export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n");
        }
        if let Some(grpc) = addrs.grpc {
            if addrs.http.is_some() {
                lines += "or, for gRPC:\n";
            }
            lines += &format!("  export OTEL_EXPORTER_OTLP_ENDPOINT={scheme}://{grpc} OTEL_EXPORTER_OTLP_PROTOCOL=grpc\n");
        }
        let mut also = String::new();
        if let Some(places) = &security.ingest_tokens {
            also += &format!("  export OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer <ingest token>\"   # a token of: {places}\n");
        }
        if let Some(tls) = &security.tls {
            also += &ca_line("OTEL_EXPORTER_OTLP_CERTIFICATE", tls);
            if let Some(client_ca) = &tls.client_ca {
                also += &format!(
                    "  export OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=<client certificate> OTEL_EXPORTER_OTLP_CLIENT_KEY=<its key>   # signed by {}\n",
                    client_ca.display()
                );
            }
        }
        if !also.is_empty() {
            lines += if addrs.http.is_some() && addrs.grpc.is_some() {
                "and, either way:\n"
            } else {
                "and:\n"
            };
            lines += &also;
        }
    }
    if security.api_tokens.is_some() || security.tls.is_some() {
        lines += &format!(
            "\nThe CLI (otelbox query, assert, export, ...):\n  export OTELBOX_SERVER={scheme}://{}\n",
            addrs.ui
        );
        if let Some(tls) = &security.tls {
            lines += &ca_line("OTELBOX_CACERT", tls);
        }
        if let Some(places) = &security.api_tokens {
            lines += &format!("  export OTELBOX_API_TOKEN=<api token>   # a token of: {places}; the UI asks for one too\n");
        }
    }
    lines + "\nCtrl-C stops it (data is flushed first).\n"
}

/// `export VARIABLE=<the CA file>`: the certificate file itself when it is self-signed.
fn ca_line(variable: &str, tls: &BannerTls) -> String {
    let cert = tls.cert.display();
    if tls.cert_is_ca {
        format!("  export {variable}={cert}   # self-signed: trust the certificate itself\n")
    } else {
        format!("  export {variable}=<CA file>   # the CA that signed {cert}\n")
    }
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    if let Err(e) = std::process::Command::new(opener).arg(url).spawn() {
        eprintln!("could not open a browser ({opener}: {e}); visit {url}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::CertificateDer;

    /// `openssl req -x509 -newkey ec ... -subj /CN=localhost`
    const SELF_SIGNED: &str = "-----BEGIN CERTIFICATE-----
MIIBgDCCASWgAwIBAgIUN1qNr+fO8ETU1CoZhRKAfglm7E0wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNTA5MjUyNloYDzIxMjYxMTEx
MDkyNTI2WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQs+5pk+hEDgo8INtuQ9YvtcFYgkD7ert2r6i61uaDTvMtNBvqsp37L
VVFUssu8l5UkvCn1fyW5EBk4HfT00Cd8o1MwUTAdBgNVHQ4EFgQUZzD2oshSKDQg
WpSLQUYSTDZBI6EwHwYDVR0jBBgwFoAUZzD2oshSKDQgWpSLQUYSTDZBI6EwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEA2kvzZXEwYH5sv47Z0cRF
sPS8Ae/e1qizWMqbrWij6oACIQCLXjvpDCDDhL8Am8tzOoLWOWTjXlL4qXOYby/1
VgUUvg==
-----END CERTIFICATE-----
";
    /// A v1 certificate for CN=localhost signed by a CA named "test ca".
    const CA_SIGNED: &str = "-----BEGIN CERTIFICATE-----
MIIBIjCByQIUfRY4HIbpvRxOGHLYK7jqTtAkLmswCgYIKoZIzj0EAwIwEjEQMA4G
A1UEAwwHdGVzdCBjYTAgFw0yNjEyMDUwOTI1MjZaGA8yMTI2MTExMTA5MjUyNlow
FDESMBAGA1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
R5KPFvsYGJHxq3G1YYovf483fDKpPLQictfoLGrP1ar9dl45kk7FUX4LYzU5+lWM
s95YZh3ypq3h0BT+IjQX/DAKBggqhkjOPQQDAgNIADBFAiBd48VDsPJlR0gJqbje
8PuUbm2ANQuO9LiqrHcVQo/FbQIhALEDzAsaur5gg+aABwfNY31IQ3fg7sX3DFko
1N7g/Tzi
-----END CERTIFICATE-----
";

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::pem_slice_iter(pem.as_bytes()).next().unwrap().unwrap().to_vec()
    }

    #[test]
    fn a_self_signed_certificate_is_told_from_a_ca_signed_one() {
        assert!(is_self_signed(&der(SELF_SIGNED)));
        assert!(!is_self_signed(&der(CA_SIGNED)));
        assert!(!is_self_signed(b"\x30\x03\x02\x01"), "cut short: not self-signed, no panic");
        assert!(!is_self_signed(b""));
    }

    fn addrs(scheme: &'static str) -> BoundAddrs {
        BoundAddrs {
            grpc: Some("127.0.0.1:4317".parse().unwrap()),
            http: Some("127.0.0.1:4318".parse().unwrap()),
            ui: "127.0.0.1:4319".parse().unwrap(),
            receivers: Vec::new(),
            scheme,
        }
    }

    #[test]
    fn the_banner_says_what_to_export_without_showing_a_token() {
        let retention = Retention {
            max_age: Some(std::time::Duration::from_secs(7 * 86_400)),
            max_bytes: Some(1 << 30),
        };
        let plain = banner(&addrs("http"), &Location::Memory, &retention, &BannerSecurity::default());
        assert!(plain
            .contains("  export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318\n  export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n"));
        assert!(
            !plain.contains("HEADERS") && !plain.contains("CERTIFICATE") && !plain.contains("OTELBOX_"),
            "{plain}"
        );

        let guarded = BannerSecurity {
            ingest_tokens: Some(token_places(
                "--ingest-token or OTELBOX_INGEST_TOKEN",
                false,
                Some(std::path::Path::new("/etc/otelbox/ingest.tokens")),
                None,
                None,
            )),
            api_tokens: Some(token_places(
                "--api-token or OTELBOX_API_TOKEN",
                true,
                None,
                Some("auth.api_tokens"),
                Some(std::path::Path::new("/etc/otelbox/config.yaml")),
            )),
            tls: Some(BannerTls {
                cert: "/etc/otelbox/tls.pem".into(),
                cert_is_ca: false,
                client_ca: Some("/etc/otelbox/clients-ca.pem".into()),
            }),
        };
        let text = banner(&addrs("https"), &Location::Memory, &retention, &guarded);
        for expected in [
            "export OTEL_EXPORTER_OTLP_ENDPOINT=https://127.0.0.1:4318\n",
            "and, either way:\n",
            "export OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer <ingest token>\"   # a token of: /etc/otelbox/ingest.tokens\n",
            "export OTEL_EXPORTER_OTLP_CERTIFICATE=<CA file>   # the CA that signed /etc/otelbox/tls.pem\n",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY=<its key>   # signed by /etc/otelbox/clients-ca.pem\n",
            "export OTELBOX_SERVER=https://127.0.0.1:4319\n",
            "export OTELBOX_CACERT=<CA file>",
            "export OTELBOX_API_TOKEN=<api token>   # a token of: --api-token or OTELBOX_API_TOKEN; auth.api_tokens in /etc/otelbox/config.yaml",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
        let self_signed = BannerSecurity {
            tls: Some(BannerTls {
                cert: "/srv/box.pem".into(),
                cert_is_ca: true,
                client_ca: None,
            }),
            ..Default::default()
        };
        let text = banner(&addrs("https"), &Location::Memory, &retention, &self_signed);
        assert!(
            text.contains("export OTEL_EXPORTER_OTLP_CERTIFICATE=/srv/box.pem   # self-signed"),
            "{text}"
        );
        assert!(text.contains("export OTELBOX_CACERT=/srv/box.pem"), "{text}");
    }
}
