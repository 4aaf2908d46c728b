//! The `otlp` receiver component: OTLP over gRPC (`otlp_grpc`) and HTTP (`otlp_http`) on the
//! protocols its settings enable, each on its own endpoint with its own size limit and optional
//! authenticator extension. Several instances (`otlp`, `otlp/edge`) listen side by side.

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
use serde_yaml_ng::Value;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
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
        let at = format!("{protocols_path}.{protocol}");
        let Some(settings) = p.mapping(Some(settings), &at) else {
            continue;
        };
        let size_key = if protocol == "grpc" {
            "max_recv_msg_size_mib"
        } else {
            "max_request_body_size"
        };
        // Accepted as in the Collector; otelbox passes no client metadata on, so it changes nothing.
        let keys: &[&str] = if protocol == "grpc" {
            &["endpoint", "auth", size_key, "include_metadata"]
        } else {
            &["endpoint", "auth", size_key, "include_metadata", "cors"]
        };
        p.only_keys(settings, keys, &at);
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
        match protocol {
            "grpc" => otlp.grpc = Some(config),
            _ => otlp.http = Some(config),
        }
    }
    otlp
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
                    crate::net::ConnectionLimits::default(),
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
                    crate::net::ConnectionLimits::default(),
                )?
            };
            servers.push(server);
        }
        Ok(servers)
    }
}
