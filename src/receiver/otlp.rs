//! The `otlp` receiver component: OTLP over gRPC (`otlp_grpc`) and HTTP (`otlp_http`) on the
//! protocols its settings enable, each on its own endpoint with its own size limit and optional
//! authenticator extension. Several instances (`otlp`, `otlp/edge`) listen side by side.
//!
//! ```yaml
//! receivers:
//!   otlp:
//!     protocols:
//!       grpc:
//!         endpoint: localhost:4317         # also :4317 (every interface), 0.0.0.0:4317, [::]:4317, my-host:4317
//!         max_recv_msg_size_mib: 16
//!         max_concurrent_streams: 100      # HTTP/2 streams per connection (default 200)
//!         keepalive:
//!           server_parameters:
//!             max_connection_idle: 60s     # no call in flight this long: GOAWAY (default 60s)
//!             max_connection_age: 30m      # GOAWAY after this long (±10%), then the grace below
//!             max_connection_age_grace: 10s
//!             time: 2h                     # ping a client quiet this long...
//!             timeout: 20s                 # ...and close the connection if it does not answer
//!           enforcement_policy: { min_time: 5m, permit_without_stream: false }   # accepted, not enforced
//!         read_buffer_size: 524288         # accepted; hyper sizes its own buffers
//!         write_buffer_size: 0
//!       http: { endpoint: localhost:4318, max_request_body_size: 16MiB }
//! ```
//!
//! A host name is resolved once, as the config is loaded (`Parser::endpoint`). otelbox serves gRPC
//! on hyper's HTTP/2 (`net::serve`), not on grpc-go, so of `keepalive` what hyper has is applied:
//! `time`/`timeout` are HTTP/2 pings, `max_connection_idle` is the listener's idle timeout and
//! `max_connection_age(_grace)` a graceful close of older connections; a zero duration keeps the
//! default, as in gRPC. `enforcement_policy` (closing clients that ping too often) has no
//! counterpart in hyper, which answers every ping, and is checked but not enforced.

use crate::auth::Tokens;
use crate::config::{ComponentId, ComponentType, Config, Kind, Parser, Settings};
use crate::extension::Extension;
use crate::net::Stop;
use crate::pdata::Signal;
use crate::pipeline::SignalConsumers;
use crate::receiver::answer::final_decode_errors;
use crate::receiver::otlp_grpc::GrpcReceiver;
use crate::receiver::{
    guard_grpc, guard_http, otlp_http, Endpoint, IngestTls, Intake, Receiver, ReceiverFactory, ReceiverHost, DEFAULT_MAX_REQUEST_BYTES,
};
use futures::future::BoxFuture;
use serde_yaml_ng::{Mapping, Value};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub const DEFAULT_GRPC_ENDPOINT: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4317);
pub const DEFAULT_HTTP_ENDPOINT: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4318);

/// The protocols an `otlp` receiver listens on; one left out of its settings does not listen.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OtlpReceiverConfig {
    pub grpc: Option<ProtocolConfig>,
    pub http: Option<ProtocolConfig>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolConfig {
    pub endpoint: SocketAddr,
    /// `grpc.max_recv_msg_size_mib` or `http.max_request_body_size`, in bytes.
    pub max_request_bytes: Option<usize>,
    /// `auth.authenticator`: an authenticator extension every request must pass.
    pub authenticator: Option<ComponentId>,
    /// HTTP only: `cors`, for browsers sending OTLP from web pages of other origins.
    pub cors: Option<CorsConfig>,
    /// gRPC only: `keepalive` and `max_concurrent_streams`.
    pub connections: GrpcConnections,
}

/// The Collector's gRPC server settings for connections (`keepalive.server_parameters`,
/// `max_concurrent_streams`) as they apply to otelbox's HTTP/2 connections; None keeps otelbox's
/// default (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrpcConnections {
    pub max_connection_idle: Option<Duration>,
    pub max_connection_age: Option<Duration>,
    pub max_connection_age_grace: Option<Duration>,
    /// `time`: an HTTP/2 ping after this long without data from the client.
    pub keepalive_time: Option<Duration>,
    /// `timeout`: an unanswered ping closes the connection after this long.
    pub keepalive_timeout: Option<Duration>,
    pub max_concurrent_streams: Option<u32>,
}

impl GrpcConnections {
    /// The listener's connection limits: otelbox's defaults with these settings applied.
    pub fn limits(&self) -> crate::net::ConnectionLimits {
        let mut limits = crate::net::ConnectionLimits::default();
        if let Some(idle) = self.max_connection_idle {
            limits.idle_timeout = idle;
        }
        limits.max_connection_age = self.max_connection_age;
        limits.max_connection_age_grace = self.max_connection_age_grace;
        // As gRPC: pings no more often than once a second.
        limits.http2_keepalive_interval = self.keepalive_time.map(|time| time.max(Duration::from_secs(1)));
        if let Some(timeout) = self.keepalive_timeout {
            limits.http2_keepalive_timeout = timeout;
        }
        limits.http2_max_concurrent_streams = self.max_concurrent_streams;
        limits
    }
}

/// The Collector's `cors` settings of an HTTP server.
#[derive(Clone, Debug, PartialEq)]
pub struct CorsConfig {
    /// Origins allowed, `*` matching any characters (`https://*.example.com`, or `*` for any).
    pub allowed_origins: Vec<String>,
    /// Request headers allowed besides the ones OTLP needs; `*` allows any.
    pub allowed_headers: Vec<String>,
    /// How long a browser may cache a preflight answer, in seconds.
    pub max_age: Option<u64>,
}

impl CorsConfig {
    /// The layer answering preflights and marking answers for the allowed origins. An origin not
    /// allowed gets no CORS headers, so its browser refuses the answer (the request itself is served as
    /// any other: CORS protects browsers' users, not the receiver).
    pub fn layer(&self) -> tower_http::cors::CorsLayer {
        use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
        let patterns: Vec<regex::Regex> = self
            .allowed_origins
            .iter()
            .filter_map(|origin| {
                let pattern = regex::escape(origin).replace(r"\*", ".*");
                regex::Regex::new(&format!("^{pattern}$")).ok()
            })
            .collect();
        let origins = AllowOrigin::predicate(move |origin, _| {
            origin
                .to_str()
                .is_ok_and(|origin| patterns.iter().any(|pattern| pattern.is_match(origin)))
        });
        let headers = if self.allowed_headers.iter().any(|h| h == "*") {
            AllowHeaders::mirror_request()
        } else {
            let mut names: Vec<http::HeaderName> = CORS_ALWAYS_ALLOWED_HEADERS
                .iter()
                .map(|h| http::HeaderName::from_static(h))
                .collect();
            names.extend(
                self.allowed_headers
                    .iter()
                    .filter_map(|h| http::HeaderName::try_from(h.as_str()).ok()),
            );
            AllowHeaders::list(names)
        };
        let layer = CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([http::Method::POST, http::Method::OPTIONS])
            .allow_headers(headers);
        match self.max_age {
            Some(seconds) => layer.max_age(std::time::Duration::from_secs(seconds)),
            None => layer,
        }
    }
}

/// Headers an OTLP/HTTP request from a browser carries, always allowed (as the Collector does).
const CORS_ALWAYS_ALLOWED_HEADERS: &[&str] = &["accept", "content-type", "content-length", "content-encoding", "x-requested-with"];

impl ProtocolConfig {
    fn new(endpoint: SocketAddr) -> Self {
        ProtocolConfig {
            endpoint,
            max_request_bytes: None,
            authenticator: None,
            cors: None,
            connections: GrpcConnections::default(),
        }
    }
}

pub struct Factory;

impl ComponentType for Factory {
    fn type_name(&self) -> &'static str {
        "otlp"
    }
    fn signals(&self) -> &'static [Signal] {
        &Signal::ALL
    }
    fn parse(&self, p: &mut Parser, value: &Value, path: &str) -> Settings {
        Settings::new(parse(p, value, path))
    }
    fn extension_refs(&self, settings: &Settings) -> Vec<(String, ComponentId)> {
        let config: &OtlpReceiverConfig = settings.get();
        [("grpc", &config.grpc), ("http", &config.http)]
            .into_iter()
            .filter_map(|(name, protocol)| {
                let authenticator = protocol.as_ref()?.authenticator.clone()?;
                Some((format!("protocols.{name}.auth.authenticator"), authenticator))
            })
            .collect()
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> OtlpReceiverConfig {
    let mut otlp = OtlpReceiverConfig::default();
    let Some(body) = p.mapping(Some(value), path) else { return otlp };
    p.only_keys(body, &["protocols"], path);
    let protocols_path = format!("{path}.protocols");
    let Some(protocols) = p.mapping(body.get("protocols"), &protocols_path) else {
        return otlp;
    };
    p.only_keys(protocols, &["grpc", "http"], &protocols_path);
    if protocols.is_empty() {
        p.error(&protocols_path, "must enable grpc, http or both");
    }
    for (protocol, default) in [("grpc", DEFAULT_GRPC_ENDPOINT), ("http", DEFAULT_HTTP_ENDPOINT)] {
        let Some(settings) = protocols.get(protocol) else { continue };
        let config = parse_protocol(p, settings, &format!("{protocols_path}.{protocol}"), protocol, default);
        match protocol {
            "grpc" => otlp.grpc = config,
            _ => otlp.http = config,
        }
    }
    otlp
}

/// A gRPC (`protocol` "grpc") or HTTP ("http") server's settings at `at`, as the Collector's
/// `configgrpc` / `confighttp` server configs have them (also the jaeger receiver's `grpc` and
/// `thrift_http`); an empty value listens on `default`.
pub fn parse_protocol(p: &mut Parser, settings: &Value, at: &str, protocol: &str, default: SocketAddr) -> Option<ProtocolConfig> {
    if settings.is_null() {
        return Some(ProtocolConfig::new(default));
    }
    let settings = p.mapping(Some(settings), at)?;
    let size_key = if protocol == "grpc" {
        "max_recv_msg_size_mib"
    } else {
        "max_request_body_size"
    };
    // Accepted as in the Collector; otelbox passes no client metadata on, so it changes nothing.
    let keys: &[&str] = if protocol == "grpc" {
        &[
            "endpoint",
            "transport",
            "auth",
            size_key,
            "include_metadata",
            "max_concurrent_streams",
            "read_buffer_size",
            "write_buffer_size",
            "keepalive",
        ]
    } else {
        &["endpoint", "auth", size_key, "include_metadata", "cors"]
    };
    p.only_keys(settings, keys, at);
    if let Some(v) = settings.get("include_metadata") {
        p.boolean(v, &format!("{at}.include_metadata"));
    }
    let mut config = ProtocolConfig::new(default);
    if let Some(v) = settings.get("endpoint") {
        config.endpoint = p.endpoint(v, &format!("{at}.endpoint")).unwrap_or(default);
    }
    if let Some(limit) = settings.get(size_key) {
        let limit_path = format!("{at}.{size_key}");
        let bytes = if protocol == "grpc" {
            p.unsigned(limit, &limit_path).and_then(|mib| {
                let bytes = mib.checked_mul(1024 * 1024).filter(|b| *b <= usize::MAX as u64);
                if bytes.is_none() {
                    p.error(&limit_path, "is too large");
                }
                bytes
            })
        } else {
            p.size(limit, &limit_path)
        };
        config.max_request_bytes = bytes.map(|b| b as usize);
    }
    let auth_path = format!("{at}.auth");
    if let Some(auth) = settings.get("auth").and_then(|v| p.mapping(Some(v), &auth_path)) {
        p.only_keys(auth, &["authenticator"], &auth_path);
        match auth.get("authenticator") {
            Some(v) => {
                let at = format!("{auth_path}.authenticator");
                config.authenticator = p
                    .string(v, &at)
                    .and_then(|text| ComponentId::parse(&text).map_err(|e| p.error(&at, e)).ok());
            }
            None => p.error(&auth_path, "authenticator is required"),
        }
    }
    if let Some(v) = settings.get("cors") {
        config.cors = parse_cors(p, v, &format!("{at}.cors"));
    }
    if protocol == "grpc" {
        config.connections = parse_grpc_connections(p, settings, at);
    }
    Some(config)
}

/// The gRPC server keys beyond the endpoint, size limit and auth, at `path` (the `grpc` mapping).
fn parse_grpc_connections(p: &mut Parser, grpc: &Mapping, path: &str) -> GrpcConnections {
    let mut connections = GrpcConnections::default();
    let at = |key: &str| format!("{path}.{key}");
    if let Some(v) = grpc.get("transport") {
        if let Some(transport) = p.string(v, &at("transport")) {
            if transport != "tcp" {
                p.error(&at("transport"), format!("only tcp is supported, got '{transport}'"));
            }
        }
    }
    if let Some(v) = grpc.get("max_concurrent_streams") {
        match p.unsigned(v, &at("max_concurrent_streams")) {
            // As in gRPC: 0 keeps the default.
            Some(0) | None => {}
            Some(n) => match u32::try_from(n) {
                Ok(n) => connections.max_concurrent_streams = Some(n),
                Err(_) => p.error(&at("max_concurrent_streams"), format!("must be at most {}", u32::MAX)),
            },
        }
    }
    // Buffer sizes tune grpc-go's transport; hyper sizes its buffers itself.
    for key in ["read_buffer_size", "write_buffer_size"] {
        if let Some(v) = grpc.get(key) {
            p.size(v, &at(key));
        }
    }
    let keepalive_path = at("keepalive");
    let Some(keepalive) = grpc.get("keepalive").and_then(|v| p.mapping(Some(v), &keepalive_path)) else {
        return connections;
    };
    p.only_keys(keepalive, &["server_parameters", "enforcement_policy"], &keepalive_path);
    let server_path = format!("{keepalive_path}.server_parameters");
    if let Some(server) = keepalive.get("server_parameters").and_then(|v| p.mapping(Some(v), &server_path)) {
        p.only_keys(
            server,
            &[
                "max_connection_idle",
                "max_connection_age",
                "max_connection_age_grace",
                "time",
                "timeout",
            ],
            &server_path,
        );
        let mut duration = |key: &str| {
            let value = server.get(key)?;
            // A zero duration keeps the default, as in gRPC.
            p.duration(value, &format!("{server_path}.{key}")).filter(|d| !d.is_zero())
        };
        connections.max_connection_idle = duration("max_connection_idle");
        connections.max_connection_age = duration("max_connection_age");
        connections.max_connection_age_grace = duration("max_connection_age_grace");
        connections.keepalive_time = duration("time");
        connections.keepalive_timeout = duration("timeout");
    }
    let policy_path = format!("{keepalive_path}.enforcement_policy");
    if let Some(policy) = keepalive.get("enforcement_policy").and_then(|v| p.mapping(Some(v), &policy_path)) {
        p.only_keys(policy, &["min_time", "permit_without_stream"], &policy_path);
        if let Some(v) = policy.get("min_time") {
            p.duration(v, &format!("{policy_path}.min_time"));
        }
        if let Some(v) = policy.get("permit_without_stream") {
            p.boolean(v, &format!("{policy_path}.permit_without_stream"));
        }
    }
    connections
}

fn parse_cors(p: &mut Parser, value: &Value, path: &str) -> Option<CorsConfig> {
    let body = p.mapping(Some(value), path)?;
    p.only_keys(body, &["allowed_origins", "allowed_headers", "max_age"], path);
    let allowed_origins = p.string_list(body.get("allowed_origins"), &format!("{path}.allowed_origins"));
    let allowed_headers = p.string_list(body.get("allowed_headers"), &format!("{path}.allowed_headers"));
    for (index, header) in allowed_headers.iter().enumerate() {
        if header != "*" && http::HeaderName::try_from(header.as_str()).is_err() {
            p.error(
                &format!("{path}.allowed_headers[{index}]"),
                format!("'{header}' is not a header name"),
            );
        }
    }
    let max_age = body.get("max_age").and_then(|v| p.unsigned(v, &format!("{path}.max_age")));
    // As in the Collector: no allowed origin, no CORS.
    (!allowed_origins.is_empty()).then_some(CorsConfig {
        allowed_origins,
        allowed_headers,
        max_age,
    })
}

/// Applies the command line's `--listen`, `--grpc-port` and `--http-port` to the config's main
/// `otlp` receiver (the one named `otlp`, else the first): a port flag also enables its protocol.
/// False when the config has no `otlp` receiver to apply them to.
pub fn override_endpoints(config: &mut Config, listen: Option<IpAddr>, grpc_port: Option<u16>, http_port: Option<u16>) -> bool {
    let main = config
        .of_kind(Kind::Receiver)
        .map(|(id, _)| id)
        .filter(|id| id.kind == "otlp")
        .min_by_key(|id| id.name.is_some())
        .cloned();
    let Some(component) = main.and_then(|id| config.component_mut(Kind::Receiver, &id)) else {
        return false;
    };
    component.settings.update(|otlp: &mut OtlpReceiverConfig| {
        for (protocol, port, default) in [
            (&mut otlp.grpc, grpc_port, DEFAULT_GRPC_ENDPOINT),
            (&mut otlp.http, http_port, DEFAULT_HTTP_ENDPOINT),
        ] {
            if protocol.is_none() && port.is_some() {
                *protocol = Some(ProtocolConfig::new(default));
            }
            if let Some(protocol) = protocol {
                if let Some(ip) = listen {
                    protocol.endpoint.set_ip(ip);
                }
                if let Some(port) = port {
                    protocol.endpoint.set_port(port);
                }
            }
        }
    });
    true
}

/// Every address the config's `otlp` receivers listen on.
pub fn configured_endpoints(config: &Config) -> Vec<SocketAddr> {
    config
        .of_kind(Kind::Receiver)
        .filter(|(id, _)| id.kind == "otlp")
        .flat_map(|(_, c)| {
            let otlp: &OtlpReceiverConfig = c.settings.get();
            [&otlp.grpc, &otlp.http]
                .into_iter()
                .flatten()
                .map(|p| p.endpoint)
                .collect::<Vec<_>>()
        })
        .collect()
}

impl ReceiverFactory for Factory {
    fn build<'a>(
        &'a self,
        host: &'a ReceiverHost,
        id: &'a ComponentId,
        settings: &'a Settings,
        heads: SignalConsumers,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Receiver>>> {
        Box::pin(async move {
            let config: &OtlpReceiverConfig = settings.get();
            let mut listeners = Vec::new();
            for (name, protocol) in [("grpc", &config.grpc), ("http", &config.http)] {
                let Some(protocol) = protocol else { continue };
                let setting = format!("receivers.{id}.protocols.{name}.endpoint (or --{name}-port)");
                let listener = crate::net::bind(protocol.endpoint, &setting).await?;
                let authenticator = match &protocol.authenticator {
                    Some(ext) => Some(host.extensions.authenticator(ext)?),
                    None => None,
                };
                listeners.push(Listener {
                    protocol: name,
                    address: listener.local_addr()?,
                    listener,
                    intake: host.intake(&heads, protocol.max_request_bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES)),
                    authenticator,
                    cors: protocol.cors.clone(),
                    limits: protocol.connections.limits(),
                });
            }
            Ok(Box::new(OtlpReceiver {
                id: id.clone(),
                listeners,
                tokens: host.ingest_tokens.clone(),
                tls: host.tls.clone(),
                allowed_hosts: host.allowed_hosts.clone(),
            }) as Box<dyn Receiver>)
        })
    }
}

struct Listener {
    protocol: &'static str,
    listener: TcpListener,
    address: SocketAddr,
    intake: Intake,
    authenticator: Option<Arc<dyn Extension>>,
    cors: Option<CorsConfig>,
    limits: crate::net::ConnectionLimits,
}

struct OtlpReceiver {
    id: ComponentId,
    listeners: Vec<Listener>,
    tokens: Tokens,
    tls: Option<IngestTls>,
    allowed_hosts: crate::net::AllowedHosts,
}

impl Receiver for OtlpReceiver {
    fn endpoints(&self) -> Vec<Endpoint> {
        self.listeners
            .iter()
            .map(|l| Endpoint {
                receiver: self.id.clone(),
                protocol: l.protocol,
                address: l.address,
            })
            .collect()
    }

    fn start(self: Box<Self>, stop: &Stop) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        let mut servers = Vec::new();
        for l in self.listeners {
            let server = if l.protocol == "grpc" {
                // Served as an axum router by `net::serve`, like every other port: the same
                // connection limits and timeouts, and admission before tonic decodes.
                let check = guard_grpc(self.tokens.clone(), l.authenticator);
                let intake = l.intake.clone();
                let router = GrpcReceiver::new(l.intake)
                    .routes()
                    .prepare()
                    .into_axum_router()
                    // The last layer is the outermost: the token check comes before the body is read.
                    .layer(axum::middleware::from_fn_with_state(intake, crate::receiver::otlp_grpc::admit))
                    .layer(tonic::service::InterceptorLayer::new(check))
                    .layer(tower::util::MapResponseLayer::new(final_decode_errors));
                crate::net::serve(
                    l.listener,
                    self.tls.as_ref().map(|t| t.grpc.clone()),
                    router,
                    stop,
                    &self.allowed_hosts,
                    l.limits,
                )?
            } else {
                let mut router = guard_http(otlp_http::router(l.intake), self.tokens.clone(), l.authenticator);
                if let Some(cors) = &l.cors {
                    // Outermost: a preflight carries no token and is answered before the token check.
                    router = router.layer(cors.layer());
                }
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
        Ok(servers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(yaml: &str) -> (OtlpReceiverConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "receivers.otlp");
        (config, errors)
    }

    /// The `grpc` protocol of a receiver with this `grpc` body, which must parse without errors.
    fn grpc(body: &str) -> ProtocolConfig {
        let (config, errors) = parsed(&format!("{{ protocols: {{ grpc: {body} }} }}"));
        assert_eq!(errors, Vec::<String>::new(), "{body}");
        config.grpc.unwrap()
    }

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn endpoints_take_the_addresses_and_host_names_the_collector_takes() {
        for (endpoint, address) in [
            ("localhost:4317", "127.0.0.1:4317"),
            (":4317", "0.0.0.0:4317"),
            ("0.0.0.0:4317", "0.0.0.0:4317"),
            ("[::]:4317", "[::]:4317"),
            ("10.1.2.3:4317", "10.1.2.3:4317"),
            // A name the system resolves at start (this one needs no DNS: the resolver reads the
            // shorthand 127.1 as 127.0.0.1, which Rust's address parser does not).
            ("127.1:4317", "127.0.0.1:4317"),
        ] {
            assert_eq!(
                grpc(&format!("{{ endpoint: '{endpoint}' }}")).endpoint,
                address.parse::<SocketAddr>().unwrap(),
                "{endpoint}"
            );
        }
        let (_, errors) = parsed("{ protocols: { grpc: { endpoint: collector }, http: { endpoint: 'bad host!:4318' } } }");
        assert_eq!(
            errors,
            vec![
                "receivers.otlp.protocols.grpc.endpoint: expected host:port with an IP address or localhost, got 'collector'",
                "receivers.otlp.protocols.http.endpoint: expected host:port with an IP address or localhost, got 'bad host!:4318'",
            ]
        );
    }

    #[test]
    fn grpc_keepalive_and_stream_settings_shape_the_listeners_connections() {
        let tuned = grpc(
            "{ endpoint: 'localhost:4317', transport: tcp, max_recv_msg_size_mib: 8, max_concurrent_streams: 50, \
             read_buffer_size: 524288, write_buffer_size: 512KiB, include_metadata: true, \
             keepalive: { server_parameters: { max_connection_idle: 11s, max_connection_age: 12s, max_connection_age_grace: 13s, time: 30s, timeout: 5s }, \
             enforcement_policy: { min_time: 10s, permit_without_stream: true } } }",
        );
        assert_eq!(tuned.max_request_bytes, Some(8 << 20));
        assert_eq!(
            tuned.connections,
            GrpcConnections {
                max_connection_idle: Some(ms(11_000)),
                max_connection_age: Some(ms(12_000)),
                max_connection_age_grace: Some(ms(13_000)),
                keepalive_time: Some(ms(30_000)),
                keepalive_timeout: Some(ms(5_000)),
                max_concurrent_streams: Some(50),
            }
        );
        let limits = tuned.connections.limits();
        assert_eq!(
            (
                limits.idle_timeout,
                limits.max_connection_age,
                limits.max_connection_age_grace,
                limits.http2_keepalive_interval,
                limits.http2_keepalive_timeout,
                limits.http2_max_concurrent_streams,
            ),
            (
                ms(11_000),
                Some(ms(12_000)),
                Some(ms(13_000)),
                Some(ms(30_000)),
                ms(5_000),
                Some(50)
            )
        );

        // Zero keeps the default, as in gRPC; pings come at most once a second.
        let zeros = grpc("{ max_concurrent_streams: 0, keepalive: { server_parameters: { max_connection_idle: 0s, time: 0s } } }");
        assert_eq!(zeros.connections, GrpcConnections::default());
        let defaults = GrpcConnections::default().limits();
        let otelbox = crate::net::ConnectionLimits::default();
        assert_eq!(
            (
                defaults.idle_timeout,
                defaults.http2_keepalive_interval,
                defaults.max_connection_age,
                defaults.http2_max_concurrent_streams
            ),
            (otelbox.idle_timeout, None, None, None)
        );
        let eager = grpc("{ keepalive: { server_parameters: { time: 100ms } } }");
        assert_eq!(eager.connections.limits().http2_keepalive_interval, Some(ms(1_000)));
        assert_eq!(
            grpc("{ keepalive: {}, endpoint: '127.0.0.1:0' }").connections,
            GrpcConnections::default()
        );
    }

    #[test]
    fn grpc_server_settings_errors_name_their_paths() {
        let (_, errors) = parsed(
            "{ protocols: { grpc: { transport: unix, max_concurrent_streams: 5000000000, read_buffer_size: lots, \
             keepalive: { client: {}, server_parameters: { time: soon, max_conn_idle: 1s }, \
             enforcement_policy: { min_time: 5, permit_without_stream: 'no' } } }, \
             http: { keepalive: {} } } }",
        );
        assert_eq!(
            errors,
            vec![
                "receivers.otlp.protocols.grpc.transport: only tcp is supported, got 'unix'",
                "receivers.otlp.protocols.grpc.max_concurrent_streams: must be at most 4294967295",
                "receivers.otlp.protocols.grpc.read_buffer_size: expected a size like 512MiB or 2GiB, got 'lots'",
                "receivers.otlp.protocols.grpc.keepalive.client: unknown key (expected one of: server_parameters, enforcement_policy)",
                "receivers.otlp.protocols.grpc.keepalive.server_parameters.max_conn_idle: unknown key (expected one of: max_connection_idle, max_connection_age, max_connection_age_grace, time, timeout)",
                "receivers.otlp.protocols.grpc.keepalive.server_parameters.time: expected a duration like 250ms, 15m, 12h or 7d, got 'soon'",
                "receivers.otlp.protocols.grpc.keepalive.enforcement_policy.min_time: expected a duration like 200ms or 5s, got a number",
                "receivers.otlp.protocols.grpc.keepalive.enforcement_policy.permit_without_stream: expected true or false, got a string",
                "receivers.otlp.protocols.http.keepalive: unknown key (expected one of: endpoint, auth, max_request_body_size, include_metadata, cors)",
            ]
        );
    }
}
