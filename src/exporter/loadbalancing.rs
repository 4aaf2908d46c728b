//! The `loadbalancing` exporter (the Collector's contrib `loadbalancingexporter`) with the static
//! and DNS resolvers: every span of a trace goes to the same one of several OTLP/gRPC backends, so
//! a backend running tail sampling or span metrics sees whole traces. Each backend is an `otlp`
//! exporter of its own (see `otlp.rs`), with its own persistent queue.
//!
//! ```yaml
//! exporters:
//!   loadbalancing:
//!     routing_key: traceID             # traceID (default) | service
//!     protocol:
//!       otlp:                          # the otlp exporter's settings; its endpoint is ignored
//!         tls: { insecure: true }
//!         compression: gzip
//!     resolver:                        # one of:
//!       static:
//!         hostnames: [backend-1:4317, backend-2:4317, backend-3]   # no port: 4317
//!       # dns:
//!       #   hostname: collectors.example.com   # every address it resolves to is a backend
//!       #   port: 5317                         # default 4317
//!       #   interval: 5s                       # how often it is looked up again (default 5s)
//!       #   timeout: 1s                        # how long a lookup may take (default 1s)
//!     timeout: 5s                      # these three, when given, replace protocol.otlp's own
//!     retry_on_failure: { max_elapsed_time: 300s }
//!     sending_queue: { queue_size: 1000 }
//! ```
//!
//! Routing, as in the Collector: a consistent hash ring over the backends (`Ring`, 100 points per
//! endpoint), so a key always maps to the same backend and adding or removing one moves only the
//! keys it takes or gave. Traces go by trace id (each span on its own, so a request is split into
//! one request per backend, each keeping its spans' resource and scope) or, with
//! `routing_key: service`, a whole resource by its `service.name`. Metrics always go by service.
//! Log records go by their trace id when they have one; the records of a request without one go
//! to the next backend in turn.
//!
//! A request is acknowledged once every backend's part has been accepted (queued, with a queue);
//! a part a backend refuses fails the request, whose sender retries it whole.
//!
//! The DNS resolver, as the Collector's (`resolver_dns.go`, `loadbalancer.go`): the name is looked
//! up when the exporter starts (waiting at most `timeout`) and then every `interval`; each address
//! is a backend `ip:port` (`[ip]:port` for IPv6), the list sorted as the Collector sorts it (this
//! ring does not depend on the order anyway, so every instance builds the same one). When the
//! answer changes, the backends of new addresses are started, the three signals'
//! balancers switch to the new ring at once (`BackendSet`, swapped whole; a request keeps the set
//! it started with), and then the backends of addresses that went away are shut down, once the
//! requests still handing them parts are done (waiting at most `HANDOVER`). A failed lookup keeps
//! the backends there are, and is logged. Without any backend (no lookup has succeeded yet, or the
//! name resolves to no address) requests are refused retryably: the name may resolve again.
//!
//! Each backend's sending queue is named by the exporter id and the endpoint:
//! `<data dir>/queues/loadbalancing%2F<name>%2F<endpoint>.db` (`backend_id`), so backends never
//! share a file and a backend's leftovers are sent where they were meant to go: with the DNS
//! resolver, when its address comes back (in this run or a later one).
//!
//! The `k8s` and `aws_cloud_map` resolvers and the `resource`, `metric`, `streamID` and
//! `attributes` routing keys are refused by name.

use super::otlp::{self, OtlpExporterConfig};
use super::sender::{auth_ref, storage_ref, SENDER_KEYS};
use super::{ExporterContext, ExporterFactory};
use crate::config::{ComponentId, Parser, Settings};
use crate::extension::StorageDir;
use crate::hash::fnv1a_64;
use crate::pdata::{service_name, Signal};
use crate::pipeline::ack::AckToken;
use crate::pipeline::{AnyConsumer, Consumer, Envelope, PipelineData, PipelineError, SharedConsumer, SignalConsumers};
use crate::telemetry::PerSignal;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use serde_yaml_ng::{Mapping, Value};
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// The port a hostname without one gets, as in the Collector (OTLP/gRPC's).
const DEFAULT_PORT: u16 = 4317;

/// How often the DNS resolver looks its name up again, and how long a lookup may take, unless
/// `interval` and `timeout` say otherwise (the Collector's defaults, which a zero also means).
const DEFAULT_DNS_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_DNS_TIMEOUT: Duration = Duration::from_secs(1);

/// How long the DNS resolver waits, after switching to a new backend set, for the requests that
/// started on the old one before it shuts down the backends that left (a request still under way
/// then fails, retryably, on the stopped backend, and its sender sends it again to the new set).
const HANDOVER: Duration = Duration::from_secs(5);

/// Points each backend has on the ring: enough for an even spread over a few backends.
const POINTS_PER_BACKEND: usize = 100;

/// What decides a trace's backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoutingKey {
    /// Each span by its trace id (the default).
    TraceId,
    /// Each resource by its `service.name`.
    Service,
}

/// One backend: its endpoint as listed and the otlp exporter settings that reach it.
#[derive(Clone, Debug, PartialEq)]
pub struct Backend {
    pub endpoint: String,
    pub otlp: OtlpExporterConfig,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoadBalancingConfig {
    pub routing_key: RoutingKey,
    /// `resolver.static.hostnames`, in the order listed (the ring does not depend on it); empty
    /// with the DNS resolver.
    pub backends: Vec<Backend>,
    /// `resolver.dns`, when it is the resolver.
    pub dns: Option<DnsResolverConfig>,
}

/// `resolver.dns`: the backends are the addresses `hostname` resolves to, each at `port`.
#[derive(Clone, Debug, PartialEq)]
pub struct DnsResolverConfig {
    pub hostname: String,
    pub port: u16,
    pub interval: Duration,
    pub timeout: Duration,
    /// The otlp exporter settings every backend gets; its `uri` names `hostname:port` until an
    /// address takes its place (`otlp_at`).
    pub otlp: OtlpExporterConfig,
}

/// The `loadbalancing` exporter type: every signal.
pub struct Factory;
crate::component_type!(Factory, "loadbalancing", &Signal::ALL, parse, refs: extension_refs);

impl ExporterFactory for Factory {
    fn build(&self, context: &ExporterContext<'_>, settings: &Settings) -> anyhow::Result<SignalConsumers> {
        exporter(
            context.id,
            settings.get(),
            context.authorization.as_ref(),
            context.queue_dir,
            context.counters.clone(),
        )
    }
}

/// The extensions it names: every backend has the same sending queue and authenticator, so the
/// first backend's (or the DNS resolver's template's) are all of them.
fn extension_refs(config: &LoadBalancingConfig) -> Vec<(String, ComponentId)> {
    let otlp = config.backends.first().map(|b| &b.otlp).or(config.dns.as_ref().map(|d| &d.otlp));
    let Some(otlp) = otlp else {
        return Vec::new();
    };
    let mut refs = storage_ref(&otlp.sender);
    refs.extend(auth_ref(otlp.auth.as_ref()));
    refs
}

/// The id a backend's otlp exporter runs as (in its logs and its queue file's name):
/// `loadbalancing/<name>/<endpoint>`, or `loadbalancing/<endpoint>` for an unnamed exporter.
pub fn backend_id(exporter: &ComponentId, endpoint: &str) -> ComponentId {
    ComponentId {
        kind: exporter.kind.clone(),
        name: Some(match &exporter.name {
            Some(name) => format!("{name}/{endpoint}"),
            None => endpoint.to_string(),
        }),
    }
}

/// The DNS resolver's otlp settings for one address: the template's, reaching `endpoint` with
/// the template's scheme (so its TLS choice).
fn otlp_at(template: &OtlpExporterConfig, endpoint: &str) -> OtlpExporterConfig {
    let scheme = template.uri.split_once("://").map_or("https", |(scheme, _)| scheme);
    OtlpExporterConfig {
        uri: format!("{scheme}://{endpoint}"),
        ..template.clone()
    }
}

/// Starts one otlp exporter per backend (each counting into the load balancer's counters) and
/// puts a `Balancer` of each signal in front of them. With the DNS resolver, the backends are
/// those of the name's addresses now, and a task keeps them current until the exporter shuts down.
pub fn exporter(
    id: &ComponentId,
    config: &LoadBalancingConfig,
    authorization: Option<&crate::extension::ClientAuthorization>,
    queue_dir: Option<StorageDir<'_>>,
    counters: PerSignal,
) -> anyhow::Result<SignalConsumers> {
    let start = {
        let id = id.clone();
        let authorization = authorization.cloned();
        let queue_dir = queue_dir.map(|dir| (dir.directory.to_path_buf(), dir.fsync));
        move |endpoint: &str, otlp: &OtlpExporterConfig| -> anyhow::Result<SignalConsumers> {
            let sender = otlp::exporter(
                &backend_id(&id, endpoint),
                otlp,
                authorization.as_ref(),
                queue_dir.as_ref().map(|(directory, fsync)| StorageDir { directory, fsync: *fsync }),
                counters.clone(),
            )?;
            Ok(SignalConsumers::all(Arc::new(sender)))
        }
    };
    match &config.dns {
        None => {
            let backends = config
                .backends
                .iter()
                .map(|backend| Ok((backend.endpoint.clone(), start(backend.endpoint.as_str(), &backend.otlp)?)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let set = BackendSet::new(backends, format!("the loadbalancing exporter {id} has no backends"));
            Ok(balancers(config.routing_key, Backends::fixed(set)))
        }
        Some(dns) => {
            let template = dns.otlp.clone();
            let factory: BackendFactory = Arc::new(move |endpoint: &str| start(endpoint, &otlp_at(&template, endpoint)));
            let resolver = DnsResolver::new(id, dns, Arc::new(SystemLookup), factory);
            dns_balancers(config.routing_key, resolver, dns.interval)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> LoadBalancingConfig {
    let mut config = LoadBalancingConfig {
        routing_key: RoutingKey::TraceId,
        backends: Vec::new(),
        dns: None,
    };
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let mut keys = vec!["routing_key", "routing_attributes", "protocol", "resolver"];
    keys.extend(SENDER_KEYS);
    p.only_keys(body, &keys, path);
    if let Some(v) = body.get("routing_key") {
        let at = format!("{path}.routing_key");
        if let Some(key) = p.string(v, &at) {
            match key.as_str() {
                "traceID" => config.routing_key = RoutingKey::TraceId,
                "service" => config.routing_key = RoutingKey::Service,
                "resource" | "metric" | "streamID" | "attributes" => p.error(
                    &at,
                    format!("routing by {key} is not supported by this otelbox yet; use traceID or service"),
                ),
                other => p.error(
                    &at,
                    format!("expected traceID, service, resource, metric, streamID or attributes, got '{other}'"),
                ),
            }
        }
    }
    if body.get("routing_attributes").is_some() {
        p.error(
            &format!("{path}.routing_attributes"),
            "goes with routing_key: attributes, which this otelbox does not support yet",
        );
    }
    let resolver = parse_resolver(p, body.get("resolver"), &format!("{path}.resolver"));
    let protocol_path = format!("{path}.protocol");
    let otlp_path = format!("{protocol_path}.otlp");
    let otlp_body: Mapping = match p.mapping(body.get("protocol"), &protocol_path) {
        Some(protocol) => {
            p.only_keys(protocol, &["otlp"], &protocol_path);
            match p.mapping(protocol.get("otlp"), &otlp_path) {
                Some(otlp) => otlp.clone(),
                None => return config,
            }
        }
        None => return config,
    };
    // The endpoints the otlp settings are parsed for, each with the path an error about it belongs
    // at: the static resolver's hostnames, or the DNS resolver's `hostname:port`, which stands for
    // the addresses it will resolve to.
    let targets: Vec<(String, String)> = match &resolver {
        Some(Resolver::Static(hostnames)) => hostnames.clone(),
        Some(Resolver::Dns(dns)) => vec![(dns.endpoint(), dns.hostname_path.clone())],
        None => Vec::new(),
    };
    // The settings every backend shares, reported once however many backends repeat them.
    let mut reported: Vec<String> = Vec::new();
    let mut backends = Vec::new();
    for (endpoint, hostname_path) in targets {
        let mut backend_body = otlp_body.clone();
        // The endpoint under protocol.otlp is ignored, as in the Collector: the resolver's wins.
        backend_body.insert(Value::String("endpoint".into()), Value::String(endpoint.clone()));
        let mut moved = vec![(format!("{otlp_path}.endpoint"), hostname_path)];
        for key in SENDER_KEYS {
            if let Some(v) = body.get(key) {
                backend_body.insert(Value::String(key.into()), v.clone());
                moved.push((format!("{otlp_path}.{key}"), format!("{path}.{key}")));
            }
        }
        let mut errors = Vec::new();
        let otlp = otlp::parse(&mut Parser::collecting(&mut errors), &Value::Mapping(backend_body), &otlp_path);
        for error in errors {
            let error = moved.iter().find_map(|(from, to)| reparent(&error, from, to)).unwrap_or(error);
            if !reported.contains(&error) {
                match error.split_once(": ") {
                    Some((at, message)) => p.error(at, message),
                    None => p.error(path, &error),
                }
                reported.push(error);
            }
        }
        backends.push(Backend { endpoint, otlp });
    }
    match resolver {
        Some(Resolver::Dns(dns)) => {
            config.dns = backends.pop().map(|template| DnsResolverConfig {
                hostname: dns.hostname,
                port: dns.port,
                interval: dns.interval,
                timeout: dns.timeout,
                otlp: template.otlp,
            })
        }
        _ => config.backends = backends,
    }
    config
}

/// `error` (`path: message`) with its path moved from under `from` to under `to`, if it is there.
fn reparent(error: &str, from: &str, to: &str) -> Option<String> {
    let rest = error.strip_prefix(from)?;
    rest.starts_with([':', '.', '[']).then(|| format!("{to}{rest}"))
}

/// The resolver `resolver` names.
enum Resolver {
    /// `static.hostnames`: each endpoint (with the default port when it has none) and the path it
    /// was listed at.
    Static(Vec<(String, String)>),
    Dns(DnsSection),
}

/// `resolver.dns`, read.
struct DnsSection {
    hostname: String,
    port: u16,
    interval: Duration,
    timeout: Duration,
    /// Where `hostname` is, for the errors about the endpoint it makes.
    hostname_path: String,
}

impl DnsSection {
    /// `hostname:port` (`[hostname]:port` for an IPv6 address).
    fn endpoint(&self) -> String {
        if self.hostname.contains(':') {
            format!("[{}]:{}", self.hostname, self.port)
        } else {
            format!("{}:{}", self.hostname, self.port)
        }
    }
}

const RESOLVERS: [&str; 4] = ["static", "dns", "k8s", "aws_cloud_map"];

fn parse_resolver(p: &mut Parser, value: Option<&Value>, path: &str) -> Option<Resolver> {
    let body = p.mapping(value, path)?;
    p.only_keys(body, &RESOLVERS, path);
    for resolver in ["k8s", "aws_cloud_map"] {
        if body.get(resolver).is_some() {
            p.error(
                &format!("{path}.{resolver}"),
                format!("the {resolver} resolver is not supported by this otelbox yet; list the backends under resolver.static.hostnames or name them with resolver.dns.hostname"),
            );
        }
    }
    let given: Vec<&str> = RESOLVERS.into_iter().filter(|r| body.get(*r).is_some()).collect();
    match given.as_slice() {
        [] => {
            p.error(
                path,
                "a resolver is required: list the backends under resolver.static.hostnames, or name them with resolver.dns.hostname",
            );
            None
        }
        ["static"] => Some(Resolver::Static(parse_static(p, body.get("static"), &format!("{path}.static")))),
        ["dns"] => parse_dns(p, body.get("dns"), &format!("{path}.dns")).map(Resolver::Dns),
        // k8s or aws_cloud_map, refused above.
        [_] => None,
        _ => {
            p.error(path, "give one resolver, not several");
            None
        }
    }
}

/// The backends of `resolver.static.hostnames`: each endpoint (with the default port when it has
/// none) and the path it was listed at.
fn parse_static(p: &mut Parser, value: Option<&Value>, static_path: &str) -> Vec<(String, String)> {
    let Some(resolver) = p.mapping(value, static_path) else {
        return Vec::new();
    };
    p.only_keys(resolver, &["hostnames"], static_path);
    let list_path = format!("{static_path}.hostnames");
    let listed = resolver.get("hostnames");
    let items = p.list(listed, &list_path);
    if items.is_empty() && matches!(listed, None | Some(Value::Null) | Some(Value::Sequence(_))) {
        p.error(&list_path, "at least one backend is required (host:port of an OTLP/gRPC receiver)");
    }
    let mut hostnames: Vec<(String, String)> = Vec::new();
    for (at, v) in items {
        let Some(hostname) = p.string(v, &at) else { continue };
        if hostname.trim().is_empty() {
            p.error(&at, "is empty (an unset environment variable?); expected host:port");
            continue;
        }
        let endpoint = if hostname.contains(':') {
            hostname
        } else {
            format!("{hostname}:{DEFAULT_PORT}")
        };
        if let Some((_, first)) = hostnames.iter().find(|(e, _)| *e == endpoint) {
            p.error(&at, format!("'{endpoint}' is already listed at {first}"));
            continue;
        }
        hostnames.push((endpoint, at));
    }
    hostnames
}

/// `resolver.dns`: `hostname` (required), `port`, `interval` and `timeout`, as in the Collector
/// (whose `port` is a string: a number or a string of digits; an empty one is the default).
fn parse_dns(p: &mut Parser, value: Option<&Value>, path: &str) -> Option<DnsSection> {
    let body = p.mapping(value, path)?;
    p.only_keys(body, &["hostname", "port", "interval", "timeout"], path);
    let hostname_path = format!("{path}.hostname");
    let hostname = match body.get("hostname") {
        None | Some(Value::Null) => {
            p.error(&hostname_path, "is required: the DNS name whose addresses are the backends");
            None
        }
        Some(v) => p.string(v, &hostname_path),
    };
    let hostname = hostname.and_then(|hostname| {
        let name_like = !hostname.is_empty()
            && hostname.len() <= 253
            && hostname.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if hostname.trim().is_empty() {
            p.error(
                &hostname_path,
                "is empty (an unset environment variable?); expected the DNS name whose addresses are the backends",
            );
            None
        } else if !name_like && hostname.parse::<Ipv6Addr>().is_err() {
            p.error(
                &hostname_path,
                format!("expected a host name (the port goes under port), got '{hostname}'"),
            );
            None
        } else {
            Some(hostname)
        }
    });
    let port = match body.get("port") {
        None | Some(Value::Null) => Some(DEFAULT_PORT),
        Some(v) => parse_port(p, v, &format!("{path}.port")),
    };
    let interval = duration_or(p, body.get("interval"), &format!("{path}.interval"), DEFAULT_DNS_INTERVAL);
    let timeout = duration_or(p, body.get("timeout"), &format!("{path}.timeout"), DEFAULT_DNS_TIMEOUT);
    Some(DnsSection {
        hostname: hostname?,
        port: port?,
        interval: interval?,
        timeout: timeout?,
        hostname_path,
    })
}

/// A port, 1 to 65535, written as a number or a string of digits; an empty string is the default
/// port (the Collector then adds 4317).
fn parse_port(p: &mut Parser, value: &Value, path: &str) -> Option<u16> {
    let number = match value {
        Value::String(text) if text.trim().is_empty() => return Some(DEFAULT_PORT),
        Value::String(text) => match text.trim().parse::<u64>() {
            Ok(number) => number,
            Err(_) => {
                p.error(path, format!("expected a port number, 1 to 65535, got '{text}'"));
                return None;
            }
        },
        other => p.unsigned(other, path)?,
    };
    match u16::try_from(number) {
        Ok(port) if port > 0 => Some(port),
        _ => {
            p.error(path, format!("expected a port number, 1 to 65535, got {number}"));
            None
        }
    }
}

/// A duration, `default` when absent or zero (the Collector's DNS resolver takes 0 for its default).
fn duration_or(p: &mut Parser, value: Option<&Value>, path: &str, default: Duration) -> Option<Duration> {
    match value {
        None | Some(Value::Null) => Some(default),
        Some(v) => p.duration(v, path).map(|d| if d.is_zero() { default } else { d }),
    }
}

// ---------------------------------------------------------------------------------------------
// The ring

/// A consistent hash ring: `POINTS_PER_BACKEND` points per backend, each at the hash of
/// `endpoint#i`; a key belongs to the backend of the first point at or after its own hash
/// (wrapping around). Depends only on the set of endpoints, not their order.
#[derive(Debug)]
pub struct Ring {
    /// (position, backend index), sorted by position.
    points: Vec<(u64, usize)>,
    backends: usize,
}

impl Ring {
    pub fn new<S: AsRef<str>>(endpoints: &[S]) -> Ring {
        let mut points: Vec<(u64, usize)> = endpoints
            .iter()
            .enumerate()
            .flat_map(|(backend, endpoint)| {
                (0..POINTS_PER_BACKEND).map(move |i| (position(format!("{}#{i}", endpoint.as_ref()).as_bytes()), backend))
            })
            .collect();
        // Ties (improbable) are broken by endpoint, not by list order.
        points.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| endpoints[a.1].as_ref().cmp(endpoints[b.1].as_ref())));
        Ring {
            points,
            backends: endpoints.len(),
        }
    }

    /// The index of the backend a key belongs to; 0 for a ring without backends.
    pub fn backend(&self, key: &[u8]) -> usize {
        let hash = position(key);
        let at = self.points.partition_point(|&(p, _)| p < hash);
        self.points
            .get(at)
            .or_else(|| self.points.first())
            .map_or(0, |&(_, backend)| backend)
    }

    pub fn backends(&self) -> usize {
        self.backends
    }
}

/// Where a key sits on the ring: FNV-1a, then a 64-bit finalizer (MurmurHash3's `fmix64`), since
/// FNV alone leaves the high bits of keys that differ only at the end (`b#1`, `b#2`) close together.
fn position(key: &[u8]) -> u64 {
    let mut h = fnv1a_64(&[key]);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

// ---------------------------------------------------------------------------------------------
// Routing

/// A signal's payload the load balancer can split by backend.
pub trait Balanced: PipelineData {
    /// One payload per backend of `ring` (most of them empty, usually), each holding the items that
    /// backend takes under the resource and scope they came with. `fallback` is the backend of
    /// items without a key (log records without a trace id).
    fn partition(self, ring: &Ring, routing: RoutingKey, fallback: usize) -> Vec<Self>;
}

impl Balanced for ExportTraceServiceRequest {
    fn partition(self, ring: &Ring, routing: RoutingKey, _fallback: usize) -> Vec<Self> {
        let by_service = routing == RoutingKey::Service;
        regroup(
            self.resource_spans,
            ring.backends(),
            scope_spans,
            spans,
            |resource| by_service.then(|| ring.backend(service_name(resource.resource.as_ref()).as_bytes())),
            |span| ring.backend(&span.trace_id),
        )
        .into_iter()
        .map(|resource_spans| ExportTraceServiceRequest { resource_spans })
        .collect()
    }
}

impl Balanced for ExportLogsServiceRequest {
    fn partition(self, ring: &Ring, _routing: RoutingKey, fallback: usize) -> Vec<Self> {
        regroup(
            self.resource_logs,
            ring.backends(),
            scope_logs,
            log_records,
            |_| None,
            |record| {
                if record.trace_id.iter().any(|b| *b != 0) {
                    ring.backend(&record.trace_id)
                } else {
                    fallback
                }
            },
        )
        .into_iter()
        .map(|resource_logs| ExportLogsServiceRequest { resource_logs })
        .collect()
    }
}

impl Balanced for ExportMetricsServiceRequest {
    /// By service whatever the routing key: metrics have no trace id (the Collector's default too).
    fn partition(self, ring: &Ring, _routing: RoutingKey, fallback: usize) -> Vec<Self> {
        regroup(
            self.resource_metrics,
            ring.backends(),
            scope_metrics,
            metrics,
            |resource| Some(ring.backend(service_name(resource.resource.as_ref()).as_bytes())),
            |_| fallback,
        )
        .into_iter()
        .map(|resource_metrics| ExportMetricsServiceRequest { resource_metrics })
        .collect()
    }
}

fn scope_spans(resource: &mut ResourceSpans) -> &mut Vec<ScopeSpans> {
    &mut resource.scope_spans
}
fn spans(scope: &mut ScopeSpans) -> &mut Vec<Span> {
    &mut scope.spans
}
fn scope_logs(resource: &mut ResourceLogs) -> &mut Vec<ScopeLogs> {
    &mut resource.scope_logs
}
fn log_records(scope: &mut ScopeLogs) -> &mut Vec<LogRecord> {
    &mut scope.log_records
}
fn scope_metrics(resource: &mut ResourceMetrics) -> &mut Vec<ScopeMetrics> {
    &mut resource.scope_metrics
}
fn metrics(scope: &mut ScopeMetrics) -> &mut Vec<Metric> {
    &mut scope.metrics
}

/// Splits resource groups between `backends`: a whole resource where `whole` names its backend,
/// else each item where `each` says, under copies of its resource and scope (one per backend that
/// gets any of their items). Resources and scopes left without items are dropped.
fn regroup<R: Clone, S: Clone, I>(
    resources: Vec<R>,
    backends: usize,
    scopes_of: fn(&mut R) -> &mut Vec<S>,
    items_of: fn(&mut S) -> &mut Vec<I>,
    whole: impl Fn(&R) -> Option<usize>,
    mut each: impl FnMut(&I) -> usize,
) -> Vec<Vec<R>> {
    let last = backends.saturating_sub(1);
    let mut parts: Vec<Vec<R>> = (0..backends).map(|_| Vec::new()).collect();
    if backends == 0 {
        return parts;
    }
    for mut resource in resources {
        if let Some(backend) = whole(&resource) {
            parts[backend.min(last)].push(resource);
            continue;
        }
        let scopes = std::mem::take(scopes_of(&mut resource));
        let mut resource_parts: Vec<Option<R>> = vec![None; backends];
        for mut scope in scopes {
            let items = std::mem::take(items_of(&mut scope));
            let mut scope_parts: Vec<Option<S>> = vec![None; backends];
            for item in items {
                let backend = each(&item).min(last);
                items_of(scope_parts[backend].get_or_insert_with(|| scope.clone())).push(item);
            }
            for (backend, part) in scope_parts.into_iter().enumerate() {
                if let Some(part) = part {
                    scopes_of(resource_parts[backend].get_or_insert_with(|| resource.clone())).push(part);
                }
            }
        }
        for (backend, part) in resource_parts.into_iter().enumerate() {
            if let Some(part) = part {
                parts[backend].push(part);
            }
        }
    }
    parts
}

// ---------------------------------------------------------------------------------------------
// The backends

/// The backends of the moment: the ring over their endpoints and each one's consumers (its otlp
/// exporter's), by the ring's index. Never changed: a new answer of the resolver is a new set.
struct BackendSet {
    ring: Ring,
    backends: Vec<(String, SignalConsumers)>,
    /// The refusal's message when there are no backends.
    none_because: String,
}

impl BackendSet {
    fn new(backends: Vec<(String, SignalConsumers)>, none_because: String) -> BackendSet {
        let endpoints: Vec<&str> = backends.iter().map(|(endpoint, _)| endpoint.as_str()).collect();
        BackendSet {
            ring: Ring::new(&endpoints),
            backends,
            none_because,
        }
    }

    fn endpoints(&self) -> impl Iterator<Item = &str> {
        self.backends.iter().map(|(endpoint, _)| endpoint.as_str())
    }

    fn consumers_of(&self, endpoint: &str) -> Option<&SignalConsumers> {
        self.backends.iter().find(|(e, _)| e == endpoint).map(|(_, consumers)| consumers)
    }
}

/// The set the three signals' balancers read at the start of each request, which the DNS
/// resolver replaces whole.
type SharedSet = Arc<RwLock<Arc<BackendSet>>>;

/// A backend's endpoint and its running exporter's consumers.
type RunningBackend = (String, SignalConsumers);

fn current(set: &SharedSet) -> Arc<BackendSet> {
    set.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// What the three signals' balancers share: the backend set and, with the DNS resolver, the task
/// that keeps it current.
struct Backends {
    set: SharedSet,
    resolver: Mutex<Option<ResolverTask>>,
}

struct ResolverTask {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Backends {
    fn fixed(set: BackendSet) -> Backends {
        Backends {
            set: Arc::new(RwLock::new(Arc::new(set))),
            resolver: Mutex::new(None),
        }
    }

    fn current(&self) -> Arc<BackendSet> {
        current(&self.set)
    }

    /// Stops the resolver's task (letting a lookup and switch under way finish), then every
    /// backend of the last set.
    async fn shutdown(&self) {
        let resolver = self.resolver.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(ResolverTask { stop, task }) = resolver {
            stop.send_replace(true);
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "the loadbalancing exporter's DNS resolver task ended abnormally");
            }
        }
        let set = self.current();
        futures::future::join_all(set.backends.iter().map(|(_, consumers)| consumers.shutdown())).await;
    }
}

/// The three signals' balancers over `backends`.
fn balancers(routing: RoutingKey, backends: Backends) -> SignalConsumers {
    let backends = Arc::new(backends);
    SignalConsumers {
        traces: Some(Arc::new(Balancer::<ExportTraceServiceRequest>::sharing(routing, backends.clone()))),
        metrics: Some(Arc::new(Balancer::<ExportMetricsServiceRequest>::sharing(
            routing,
            backends.clone(),
        ))),
        logs: Some(Arc::new(Balancer::<ExportLogsServiceRequest>::sharing(routing, backends))),
    }
}

/// One backend's consumers, started for an endpoint (`ip:port`): its otlp exporter, or a test's.
type BackendFactory = Arc<dyn Fn(&str) -> anyhow::Result<SignalConsumers> + Send + Sync>;

/// Looks a host name's addresses up: the system's resolver (`SystemLookup`), or a test's script.
/// Blocking; the resolver runs it on a thread of its own and waits at most its `timeout`.
trait Lookup: Send + Sync {
    fn lookup(&self, hostname: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The system's resolver (`getaddrinfo`: `/etc/hosts`, then DNS), IPv4 and IPv6 addresses.
struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, hostname: &str) -> std::io::Result<Vec<IpAddr>> {
        use std::net::ToSocketAddrs;
        Ok((hostname, 0u16).to_socket_addrs()?.map(|address| address.ip()).collect())
    }
}

/// `lookup` of `hostname` on a thread of its own, waited for at most `timeout` (a lookup that takes
/// longer is left to finish, unread), for the first lookup, made while the exporter is built.
fn lookup_blocking(lookup: Arc<dyn Lookup>, hostname: &str, timeout: Duration) -> Result<Vec<IpAddr>, String> {
    let (answer, answered) = std::sync::mpsc::channel();
    let host = hostname.to_string();
    std::thread::Builder::new()
        .name("loadbalancing-dns".into())
        .spawn(move || {
            let _ = answer.send(lookup.lookup(&host));
        })
        .map_err(|e| format!("cannot start the lookup: {e}"))?;
    match answered.recv_timeout(timeout) {
        Ok(Ok(addresses)) => Ok(addresses),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// The same from the resolver's task, on the runtime's blocking threads.
async fn lookup_async(lookup: Arc<dyn Lookup>, hostname: &str, timeout: Duration) -> Result<Vec<IpAddr>, String> {
    let host = hostname.to_string();
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(move || lookup.lookup(&host))).await {
        Ok(Ok(Ok(addresses))) => Ok(addresses),
        Ok(Ok(Err(e))) => Err(e.to_string()),
        Ok(Err(e)) => Err(format!("the lookup failed: {e}")),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// The backends' endpoints for a lookup's addresses: `ip:port` (`[ip]:port` for IPv6; an
/// IPv4-mapped address as IPv4, as the Collector writes it), sorted as text, as the Collector sorts
/// them, and each once.
fn endpoints_of(addresses: &[IpAddr], port: u16) -> Vec<String> {
    let mut endpoints: Vec<String> = addresses
        .iter()
        .map(|ip| SocketAddr::new(ip.to_canonical(), port).to_string())
        .collect();
    endpoints.sort();
    endpoints.dedup();
    endpoints
}

/// Why a DNS resolver's exporter refuses data without backends.
fn no_backends(exporter: &str, hostname: &str, why: &str) -> String {
    format!("the loadbalancing exporter {exporter} has no backend to send to: the DNS name '{hostname}' {why}; retry later")
}

/// The DNS resolver: looks `hostname` up and makes the backend set follow the answer.
struct DnsResolver {
    /// The exporter's id, for the logs and the refusals.
    exporter: String,
    hostname: String,
    port: u16,
    timeout: Duration,
    lookup: Arc<dyn Lookup>,
    factory: BackendFactory,
    set: SharedSet,
}

impl DnsResolver {
    fn new(exporter: &ComponentId, config: &DnsResolverConfig, lookup: Arc<dyn Lookup>, factory: BackendFactory) -> DnsResolver {
        let exporter = exporter.to_string();
        let none = no_backends(&exporter, &config.hostname, "has not been looked up yet");
        DnsResolver {
            exporter,
            hostname: config.hostname.clone(),
            port: config.port,
            timeout: config.timeout,
            lookup,
            factory,
            set: Arc::new(RwLock::new(Arc::new(BackendSet::new(Vec::new(), none)))),
        }
    }

    fn current(&self) -> Arc<BackendSet> {
        current(&self.set)
    }

    /// The refusal's message without backends.
    fn no_backends(&self, why: &str) -> String {
        no_backends(&self.exporter, &self.hostname, why)
    }

    /// The first lookup, as the exporter is built: waits for it (at most `timeout`); without an
    /// answer the exporter starts without backends.
    fn start(&self) {
        match lookup_blocking(self.lookup.clone(), &self.hostname, self.timeout) {
            // Nothing to retire: the set was empty.
            Ok(addresses) => drop(self.switch(endpoints_of(&addresses, self.port))),
            Err(e) => self.failed(&e),
        }
    }

    /// One periodic lookup: on an answer, the set follows it; a failure keeps it.
    async fn refresh(&self) {
        match lookup_async(self.lookup.clone(), &self.hostname, self.timeout).await {
            Ok(addresses) => {
                if let Some((old, removed)) = self.switch(endpoints_of(&addresses, self.port)) {
                    retire(old, removed).await;
                }
            }
            Err(e) => self.failed(&e),
        }
    }

    /// Until `stop` says so (or the exporter is gone), a lookup every `interval`.
    async fn run(self, interval: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            self.refresh().await;
        }
    }

    /// A failed lookup keeps the backends there are, as in the Collector; without any, the refusal
    /// says why.
    fn failed(&self, error: &str) {
        let set = self.current();
        tracing::warn!(exporter = %self.exporter, hostname = %self.hostname, error = %error, backends = set.backends.len(),
            "cannot look up the loadbalancing exporter's DNS name; the backends stay as they are");
        if set.backends.is_empty() {
            let none = self.no_backends(&format!("could not be looked up ({error})"));
            *self.set.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(BackendSet::new(Vec::new(), none));
        }
    }

    /// Makes the set that of `endpoints` (sorted): starts the backends of new endpoints, keeps
    /// those of the others, and swaps the set, so that every request from now on uses it. Returns
    /// the old set and the backends that left it, for `retire`; None when nothing changed.
    fn switch(&self, endpoints: Vec<String>) -> Option<(Arc<BackendSet>, Vec<RunningBackend>)> {
        let old = self.current();
        let mut backends = Vec::new();
        let mut added = Vec::new();
        for endpoint in &endpoints {
            if let Some(consumers) = old.consumers_of(endpoint) {
                backends.push((endpoint.clone(), consumers.clone()));
                continue;
            }
            match (self.factory)(endpoint.as_str()) {
                Ok(consumers) => {
                    backends.push((endpoint.clone(), consumers));
                    added.push(endpoint.clone());
                }
                // Out of the ring for now; the next lookup tries again.
                Err(e) => {
                    let error = format!("{e:#}");
                    tracing::error!(exporter = %self.exporter, endpoint = %endpoint, error = %error,
                        "cannot start the backend of a resolved address; it stays out of the ring until the next lookup");
                }
            }
        }
        let none = if endpoints.is_empty() {
            self.no_backends("resolves to no address")
        } else {
            self.no_backends("resolves to addresses whose backends could not be started (see the log)")
        };
        // The same backends (an address only ever joins by starting its backend): nothing to do.
        let unchanged = old.endpoints().eq(backends.iter().map(|(endpoint, _)| endpoint.as_str()));
        if unchanged && (!backends.is_empty() || old.none_because == none) {
            return None;
        }
        let removed: Vec<(String, SignalConsumers)> = old
            .backends
            .iter()
            .filter(|(endpoint, _)| !endpoints.contains(endpoint))
            .cloned()
            .collect();
        let next = Arc::new(BackendSet::new(backends, none));
        let now: Vec<&str> = next.endpoints().collect();
        let gone: Vec<&str> = removed.iter().map(|(endpoint, _)| endpoint.as_str()).collect();
        tracing::info!(exporter = %self.exporter, hostname = %self.hostname, backends = ?now, added = ?added, removed = ?gone,
            "the loadbalancing exporter's DNS name resolves to other addresses; the ring follows");
        *self.set.write().unwrap_or_else(PoisonError::into_inner) = next;
        Some((old, removed))
    }
}

/// Shuts down the backends that left `old` (swapped out already, so no new request reaches them),
/// once the requests that started on it are done (at most `HANDOVER`). Their persistent queues
/// stay on disk under their endpoint, and are sent if it comes back.
async fn retire(old: Arc<BackendSet>, removed: Vec<(String, SignalConsumers)>) {
    if removed.is_empty() {
        return;
    }
    // Each request holds the set it started with until it has handed out every part.
    let deadline = tokio::time::Instant::now() + HANDOVER;
    while Arc::strong_count(&old) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(old);
    futures::future::join_all(removed.iter().map(|(_, consumers)| consumers.shutdown())).await;
}

/// The balancers over a DNS resolver's backends: the name is looked up now (waiting at most the
/// resolver's `timeout`), then every `interval` by a task that the exporter's shutdown stops.
fn dns_balancers(routing: RoutingKey, resolver: DnsResolver, interval: Duration) -> anyhow::Result<SignalConsumers> {
    let runtime =
        tokio::runtime::Handle::try_current().map_err(|_| anyhow::anyhow!("exporter {}: needs the tokio runtime", resolver.exporter))?;
    resolver.start();
    let set = resolver.set.clone();
    let (stop, stopped) = watch::channel(false);
    let task = runtime.spawn(resolver.run(interval, stopped));
    Ok(balancers(
        routing,
        Backends {
            set,
            resolver: Mutex::new(Some(ResolverTask { stop, task })),
        },
    ))
}

/// One signal's load balancer: splits each envelope between the backends' consumers; its acks
/// complete once every part has settled (each part carries a split of them).
pub struct Balancer<T> {
    routing: RoutingKey,
    backends: Arc<Backends>,
    /// Picks the backend of the next request's keyless items, in turn.
    next: AtomicUsize,
    signal: PhantomData<fn(T)>,
}

impl<T: PipelineData> Balancer<T> {
    /// Over fixed backends as (endpoint, consumer): the ring places each by its endpoint.
    pub fn new(routing: RoutingKey, backends: Vec<(String, SharedConsumer<T>)>) -> Balancer<T> {
        let backends = backends
            .into_iter()
            .map(|(endpoint, consumer)| (endpoint, of_one_signal(T::into_any(consumer))))
            .collect();
        let set = BackendSet::new(backends, "the loadbalancing exporter has no backends".into());
        Balancer::sharing(routing, Arc::new(Backends::fixed(set)))
    }
}

impl<T> Balancer<T> {
    fn sharing(routing: RoutingKey, backends: Arc<Backends>) -> Balancer<T> {
        Balancer {
            routing,
            backends,
            next: AtomicUsize::new(0),
            signal: PhantomData,
        }
    }
}

/// A set of consumers holding one signal's.
fn of_one_signal(consumer: AnyConsumer) -> SignalConsumers {
    match consumer {
        AnyConsumer::Traces(c) => SignalConsumers {
            traces: Some(c),
            ..Default::default()
        },
        AnyConsumer::Metrics(c) => SignalConsumers {
            metrics: Some(c),
            ..Default::default()
        },
        AnyConsumer::Logs(c) => SignalConsumers {
            logs: Some(c),
            ..Default::default()
        },
    }
}

impl<T: Balanced> Consumer<T> for Balancer<T> {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(async move {
            // This request's backends, to its end: a swap from now on does not concern it, and the
            // resolver waits for it before it shuts down a backend that left.
            let set = self.backends.current();
            if set.backends.is_empty() {
                if envelope.item_count() == 0 {
                    envelope.commit();
                    return Ok(());
                }
                // Retryable: a DNS name may resolve again.
                let error = PipelineError::retryable(set.none_because.clone());
                envelope.fail(&error);
                return Err(error);
            }
            let Envelope { data, acks } = envelope;
            let fallback = self.next.fetch_add(1, Ordering::Relaxed) % set.backends.len();
            let parts = data.partition(&set.ring, self.routing, fallback);
            let mut first_error = None;
            for ((endpoint, consumers), part) in set.backends.iter().zip(parts) {
                if part.item_count() == 0 {
                    continue;
                }
                let part = Envelope {
                    data: part,
                    acks: acks.iter().map(AckToken::split).collect(),
                };
                let Some(backend) = T::select(consumers) else {
                    let error = PipelineError::permanent(format!(
                        "the loadbalancing exporter's backend {endpoint} takes no {}",
                        T::SIGNAL.as_str()
                    ));
                    part.fail(&error);
                    first_error.get_or_insert(error);
                    continue;
                };
                // A refusing backend has failed its part's acks, and so the request.
                if let Err(e) = backend.consume(part).await {
                    first_error.get_or_insert(e);
                }
            }
            // The parts hold the request's acks now; the originals have nothing left to wait for.
            for ack in acks {
                ack.commit();
            }
            first_error.map_or(Ok(()), Err)
        })
    }

    /// Stops the resolver and every backend: the three signals' balancers share them, and the
    /// topology shuts an exporter down through one of its consumers.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.backends.shutdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdata::SignalData;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::metrics::v1::{metric, Gauge, NumberDataPoint};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use std::collections::{BTreeMap, BTreeSet, VecDeque};
    use std::net::Ipv4Addr;
    use std::path::Path;
    use std::sync::atomic::AtomicBool;

    /// Keeps what it receives, unsettled, until told to commit; remembers being shut down.
    struct Holding<T> {
        held: Mutex<Vec<Envelope<T>>>,
        shut_down: AtomicBool,
    }

    impl<T> Holding<T> {
        fn new() -> Arc<Holding<T>> {
            Arc::new(Holding {
                held: Mutex::new(Vec::new()),
                shut_down: AtomicBool::new(false),
            })
        }
        fn take(&self) -> Vec<Envelope<T>> {
            std::mem::take(&mut *self.held.lock().unwrap())
        }
        fn is_shut_down(&self) -> bool {
            self.shut_down.load(Ordering::SeqCst)
        }
    }

    impl<T: SignalData> Consumer<T> for Holding<T> {
        fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
            self.held.lock().unwrap().push(envelope);
            Box::pin(async { Ok(()) })
        }
        fn shutdown(&self) -> BoxFuture<'_, ()> {
            self.shut_down.store(true, Ordering::SeqCst);
            Box::pin(async {})
        }
    }

    fn endpoints(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("backend-{i}:4317")).collect()
    }

    /// A balancer over `n` holding consumers, which it returns too.
    fn balancer<T: Balanced>(n: usize, routing: RoutingKey) -> (Balancer<T>, Vec<Arc<Holding<T>>>) {
        let holders: Vec<Arc<Holding<T>>> = (0..n).map(|_| Holding::new()).collect();
        let backends = endpoints(n)
            .into_iter()
            .zip(&holders)
            .map(|(e, h)| (e, h.clone() as SharedConsumer<T>))
            .collect();
        (Balancer::new(routing, backends), holders)
    }

    /// A well-spread 16-byte trace id, different for each `n`.
    fn trace_id(n: u64) -> Vec<u8> {
        let a = position(&n.to_be_bytes());
        let b = position(&a.to_be_bytes());
        [a.to_be_bytes(), b.to_be_bytes()].concat()
    }

    fn resource(service: &str) -> Option<Resource> {
        Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(service.into())),
                }),
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    fn scope(name: &str) -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: name.into(),
            ..Default::default()
        })
    }

    /// Two services, two scopes each, and 20 traces whose spans are spread over all four groups;
    /// each span is named `service/scope/trace/n` so where it lands can be checked.
    fn mixed_traces() -> ExportTraceServiceRequest {
        let services = ["checkout", "cart"];
        let scopes = ["http", "db"];
        ExportTraceServiceRequest {
            resource_spans: services
                .iter()
                .map(|service| ResourceSpans {
                    resource: resource(service),
                    scope_spans: scopes
                        .iter()
                        .map(|scope_name| ScopeSpans {
                            scope: scope(scope_name),
                            spans: (0..20u64)
                                .flat_map(|t| (0..2).map(move |n| (t, n)))
                                .map(|(t, n)| Span {
                                    trace_id: trace_id(t),
                                    span_id: vec![n as u8 + 1; 8],
                                    name: format!("{service}/{scope_name}/{t}/{n}"),
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn service_of(resource: &Option<Resource>) -> String {
        service_name(resource.as_ref())
    }

    #[test]
    fn the_ring_is_stable_and_spreads_trace_ids_evenly() {
        let ring = Ring::new(&endpoints(3));
        let again = Ring::new(&["backend-3:4317", "backend-1:4317", "backend-2:4317"]);
        let names = endpoints(3);
        let mut counts = [0usize; 3];
        let keys = 30_000u64;
        for n in 0..keys {
            let id = trace_id(n);
            let backend = ring.backend(&id);
            counts[backend] += 1;
            assert_eq!(ring.backend(&id), backend, "the same key, the same backend");
            // The ring depends on the endpoints, not the order they are listed in.
            let other = again.backend(&id);
            assert_eq!(["backend-3:4317", "backend-1:4317", "backend-2:4317"][other], names[backend]);
        }
        for (backend, count) in counts.iter().enumerate() {
            let share = *count as f64 / keys as f64;
            assert!(
                (0.2..0.47).contains(&share),
                "backend {backend} took {share:.3} of the keys ({counts:?})"
            );
        }
    }

    #[test]
    fn adding_a_backend_moves_only_the_keys_the_new_one_takes() {
        let three = Ring::new(&endpoints(3));
        let four = Ring::new(&endpoints(4));
        let keys = 10_000u64;
        let mut moved = 0;
        for n in 0..keys {
            let id = trace_id(n);
            let (before, after) = (three.backend(&id), four.backend(&id));
            if before != after {
                assert_eq!(after, 3, "a key that moved went to the new backend");
                moved += 1;
            }
        }
        let share = moved as f64 / keys as f64;
        assert!(
            (0.1..0.4).contains(&share),
            "moved {share:.3} of the keys, expected about a quarter"
        );
    }

    #[test]
    fn a_ring_without_backends_answers_zero_rather_than_panicking() {
        let ring = Ring::new::<String>(&[]);
        assert_eq!(ring.backend(b"anything"), 0);
    }

    #[tokio::test]
    async fn each_trace_lands_whole_on_one_backend_under_its_own_resource_and_scope() {
        let (balancer, holders) = balancer::<ExportTraceServiceRequest>(3, RoutingKey::TraceId);
        let request = mixed_traces();
        let total = request.item_count();
        let (ack, mut committed) = AckToken::new();
        balancer.consume(Envelope::new(request, ack)).await.unwrap();

        let mut backends_of_trace: BTreeMap<Vec<u8>, BTreeSet<usize>> = BTreeMap::new();
        let mut received = 0;
        let mut envelopes = Vec::new();
        for (backend, holder) in holders.iter().enumerate() {
            let mine = holder.take();
            assert!(mine.len() <= 1, "one request per backend per incoming request");
            for envelope in &mine {
                received += envelope.item_count();
                for rs in &envelope.data.resource_spans {
                    for ss in &rs.scope_spans {
                        assert!(!ss.spans.is_empty(), "no empty scopes are sent");
                        for span in &ss.spans {
                            let expected = format!("{}/{}/", service_of(&rs.resource), ss.scope.as_ref().unwrap().name);
                            assert!(span.name.starts_with(&expected), "{} kept its resource and scope", span.name);
                            backends_of_trace.entry(span.trace_id.clone()).or_default().insert(backend);
                        }
                    }
                }
            }
            envelopes.extend(mine);
        }
        assert_eq!(received, total, "every span sent once");
        assert_eq!(backends_of_trace.len(), 20);
        for (trace, backends) in &backends_of_trace {
            assert_eq!(backends.len(), 1, "trace {} split over {backends:?}", hex::encode(trace));
        }
        let used: BTreeSet<usize> = backends_of_trace.values().flatten().copied().collect();
        assert!(used.len() > 1, "20 traces spread over more than one of 3 backends");

        // The request is acknowledged only when every part is.
        let last = envelopes.pop().unwrap();
        for envelope in envelopes {
            envelope.commit();
        }
        assert!(committed.try_recv().is_err(), "one part is still unsettled");
        last.commit();
        assert_eq!(committed.await.unwrap(), Ok(()));
    }

    #[tokio::test]
    async fn a_part_refused_by_its_backend_fails_the_request() {
        let (balancer, holders) = balancer::<ExportTraceServiceRequest>(2, RoutingKey::TraceId);
        let (ack, committed) = AckToken::new();
        balancer.consume(Envelope::new(mixed_traces(), ack)).await.unwrap();
        let mut parts: Vec<_> = holders.iter().flat_map(|h| h.take()).collect();
        assert_eq!(parts.len(), 2);
        parts.pop().unwrap().fail(&PipelineError::retryable("backend down"));
        parts.pop().unwrap().commit();
        assert_eq!(committed.await.unwrap(), Err(PipelineError::retryable("backend down")));
    }

    #[tokio::test]
    async fn routing_by_service_keeps_each_resource_whole() {
        let (balancer, holders) = balancer::<ExportTraceServiceRequest>(3, RoutingKey::Service);
        let ring = Ring::new(&endpoints(3));
        balancer.consume(Envelope::unacked(mixed_traces())).await.unwrap();
        for (backend, holder) in holders.iter().enumerate() {
            for envelope in holder.take() {
                for rs in &envelope.data.resource_spans {
                    let service = service_of(&rs.resource);
                    assert_eq!(ring.backend(service.as_bytes()), backend, "{service} where the ring puts it");
                    assert_eq!(rs.scope_spans.len(), 2, "{service}: every scope");
                    assert_eq!(
                        rs.scope_spans.iter().map(|s| s.spans.len()).sum::<usize>(),
                        80,
                        "{service}: every span"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn log_records_follow_their_trace_and_untraced_requests_take_turns() {
        let (traces, trace_holders) = balancer::<ExportTraceServiceRequest>(3, RoutingKey::TraceId);
        let (logs, log_holders) = balancer::<ExportLogsServiceRequest>(3, RoutingKey::TraceId);
        let record = |trace: Option<u64>, body: &str| LogRecord {
            trace_id: trace.map(trace_id).unwrap_or_default(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(body.into())),
            }),
            ..Default::default()
        };
        let request = |records: Vec<LogRecord>| ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource("checkout"),
                scope_logs: vec![ScopeLogs {
                    scope: scope("app"),
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        traces.consume(Envelope::unacked(mixed_traces())).await.unwrap();
        let backend_of_trace: BTreeMap<Vec<u8>, usize> = trace_holders
            .iter()
            .enumerate()
            .flat_map(|(backend, h)| {
                h.take()
                    .into_iter()
                    .flat_map(|e| e.data.resource_spans)
                    .flat_map(|rs| rs.scope_spans)
                    .flat_map(|ss| ss.spans)
                    .map(move |span| (span.trace_id, backend))
            })
            .collect();

        let traced: Vec<LogRecord> = (0..20).map(|t| record(Some(t), "traced")).collect();
        logs.consume(Envelope::unacked(request(traced))).await.unwrap();
        for (backend, holder) in log_holders.iter().enumerate() {
            for envelope in holder.take() {
                for record in envelope
                    .data
                    .resource_logs
                    .iter()
                    .flat_map(|r| &r.scope_logs)
                    .flat_map(|s| &s.log_records)
                {
                    assert_eq!(
                        backend_of_trace[&record.trace_id], backend,
                        "a log record goes where its trace's spans went"
                    );
                }
            }
        }

        let mut turns = Vec::new();
        for _ in 0..3 {
            let untraced = vec![record(None, "a"), record(None, "b")];
            logs.consume(Envelope::unacked(request(untraced))).await.unwrap();
            let got: Vec<(usize, usize)> = log_holders
                .iter()
                .enumerate()
                .flat_map(|(backend, h)| h.take().into_iter().map(move |e| (backend, e.item_count())))
                .collect();
            assert_eq!(got.len(), 1, "an untraced request's records stay together: {got:?}");
            assert_eq!(got[0].1, 2);
            turns.push(got[0].0);
        }
        assert_eq!(
            turns,
            [1, 2, 0],
            "the next backend each time (the traced request had the first turn)"
        );
    }

    #[tokio::test]
    async fn metrics_are_routed_by_service_whatever_the_routing_key() {
        let (balancer, holders) = balancer::<ExportMetricsServiceRequest>(3, RoutingKey::TraceId);
        let ring = Ring::new(&endpoints(3));
        let services: Vec<String> = (0..12).map(|i| format!("service-{i}")).collect();
        let request = ExportMetricsServiceRequest {
            resource_metrics: services
                .iter()
                .map(|s| ResourceMetrics {
                    resource: resource(s),
                    scope_metrics: vec![ScopeMetrics {
                        scope: scope("m"),
                        metrics: vec![Metric {
                            name: "requests".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: vec![NumberDataPoint::default()],
                            })),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        };
        balancer.consume(Envelope::unacked(request)).await.unwrap();
        let mut seen = 0;
        for (backend, holder) in holders.iter().enumerate() {
            for envelope in holder.take() {
                for rm in &envelope.data.resource_metrics {
                    let service = service_of(&rm.resource);
                    assert_eq!(ring.backend(service.as_bytes()), backend, "{service}");
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, services.len());
    }

    #[tokio::test]
    async fn an_empty_request_is_acknowledged_without_reaching_any_backend() {
        let (balancer, holders) = balancer::<ExportTraceServiceRequest>(2, RoutingKey::TraceId);
        let (ack, committed) = AckToken::new();
        balancer
            .consume(Envelope::new(ExportTraceServiceRequest::default(), ack))
            .await
            .unwrap();
        assert_eq!(committed.await.unwrap(), Ok(()));
        assert!(holders.iter().all(|h| h.take().is_empty()));
    }

    const PATH: &str = "exporters.loadbalancing/lb";

    fn parsed(yaml: &str) -> (LoadBalancingConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, PATH);
        (config, errors)
    }

    fn errors(yaml: &str) -> Vec<String> {
        parsed(yaml).1
    }

    #[test]
    fn every_hostname_becomes_an_otlp_backend_with_the_shared_protocol_settings() {
        let (config, errors) = parsed(
            "routing_key: service\n\
             protocol: { otlp: { endpoint: 'ignored:1', tls: { insecure: true }, compression: zstd, timeout: 9s } }\n\
             resolver: { static: { hostnames: ['backend-1:4317', backend-2] } }\n\
             timeout: 2s\n\
             sending_queue: { queue_size: 50 }\n",
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(config.routing_key, RoutingKey::Service);
        let endpoints: Vec<(&str, &str)> = config.backends.iter().map(|b| (b.endpoint.as_str(), b.otlp.uri.as_str())).collect();
        assert_eq!(
            endpoints,
            [
                ("backend-1:4317", "http://backend-1:4317"),
                ("backend-2:4317", "http://backend-2:4317")
            ],
            "the resolver's endpoints, the default port added, protocol.otlp.endpoint ignored"
        );
        for backend in &config.backends {
            assert_eq!(backend.otlp.compression, crate::exporter::sender::Compression::Zstd);
            assert_eq!(
                backend.otlp.sender.timeout,
                std::time::Duration::from_secs(2),
                "the top-level timeout wins"
            );
            assert_eq!(backend.otlp.sender.queue.queue_size, 50);
        }
        assert_eq!(
            parsed("resolver: { static: { hostnames: ['a:1'] } }").0.routing_key,
            RoutingKey::TraceId
        );
    }

    #[test]
    fn config_errors_name_their_paths() {
        assert_eq!(
            errors("routing_key: streamID\nrouting_attributes: [a]\nresolver: { k8s: { service: lb } }\nbalance: true"),
            vec![
                "exporters.loadbalancing/lb.balance: unknown key (expected one of: routing_key, routing_attributes, protocol, resolver, timeout, retry_on_failure, sending_queue)",
                "exporters.loadbalancing/lb.routing_key: routing by streamID is not supported by this otelbox yet; use traceID or service",
                "exporters.loadbalancing/lb.routing_attributes: goes with routing_key: attributes, which this otelbox does not support yet",
                "exporters.loadbalancing/lb.resolver.k8s: the k8s resolver is not supported by this otelbox yet; list the backends under resolver.static.hostnames or name them with resolver.dns.hostname",
            ]
        );
        assert_eq!(
            errors("routing_key: spanID\nresolver: {}"),
            vec![
                "exporters.loadbalancing/lb.routing_key: expected traceID, service, resource, metric, streamID or attributes, got 'spanID'",
                "exporters.loadbalancing/lb.resolver: a resolver is required: list the backends under resolver.static.hostnames, or name them with resolver.dns.hostname",
            ]
        );
        assert_eq!(
            errors("resolver: { static: { hostnames: [] } }"),
            vec!["exporters.loadbalancing/lb.resolver.static.hostnames: at least one backend is required (host:port of an OTLP/gRPC receiver)"]
        );
        assert_eq!(
            errors(
                "protocol: { otlp: { tls: { insecure: true }, compression: br } }\n\
                 resolver: { static: { hostnames: ['a:1', 'ftp://b:2', 'a:1', 'c:3'] } }\n\
                 timeout: 0s\n"
            ),
            vec![
                "exporters.loadbalancing/lb.resolver.static.hostnames[2]: 'a:1' is already listed at exporters.loadbalancing/lb.resolver.static.hostnames[0]",
                "exporters.loadbalancing/lb.protocol.otlp.compression: expected gzip, zstd or none, got 'br'",
                "exporters.loadbalancing/lb.timeout: must be greater than 0",
                "exporters.loadbalancing/lb.resolver.static.hostnames[1]: expected host:port, http://host:port or https://host:port, got 'ftp://b:2'",
            ],
            "the protocol's errors once, however many backends share them; an endpoint's at its hostname"
        );
        assert_eq!(
            errors("protocol: { otlphttp: {} }\nresolver: { static: { hostnames: ['a:1'] } }"),
            vec!["exporters.loadbalancing/lb.protocol.otlphttp: unknown key (expected one of: otlp)"]
        );
    }

    #[test]
    fn each_backend_has_its_own_queue_file_named_by_exporter_and_endpoint() {
        let named = ComponentId::parse("loadbalancing/lb").unwrap();
        let unnamed = ComponentId::parse("loadbalancing").unwrap();
        assert_eq!(backend_id(&named, "backend-1:4317").to_string(), "loadbalancing/lb/backend-1:4317");
        assert_eq!(backend_id(&unnamed, "backend-1:4317").to_string(), "loadbalancing/backend-1:4317");
        let dir = Path::new("/data");
        let file = |id: &ComponentId| crate::exporter::queue::queue_path(dir, &id.to_string());
        assert_eq!(
            file(&backend_id(&named, "backend-1:4317")),
            std::path::PathBuf::from("/data/queues/loadbalancing%2Flb%2Fbackend-1%3A4317.db")
        );
        assert_ne!(
            file(&backend_id(&named, "backend-1:4317")),
            file(&backend_id(&named, "backend-2:4317"))
        );
    }

    #[tokio::test]
    async fn building_starts_one_persistent_otlp_exporter_per_backend() {
        let dir = tempfile::tempdir().unwrap();
        let (config, errors) = parsed(
            "protocol: { otlp: { tls: { insecure: true } } }\n\
             resolver: { static: { hostnames: ['127.0.0.1:1', '127.0.0.1:2'] } }\n\
             retry_on_failure: { enabled: false }\n",
        );
        assert_eq!(errors, Vec::<String>::new());
        let id = ComponentId::parse("loadbalancing/lb").unwrap();
        let consumers = exporter(&id, &config, None, Some(StorageDir::new(dir.path())), PerSignal::detached("x")).unwrap();
        for endpoint in ["127.0.0.1%3A1", "127.0.0.1%3A2"] {
            let file = dir.path().join(format!("queues/loadbalancing%2Flb%2F{endpoint}.db"));
            assert!(file.is_file(), "{} exists", file.display());
        }
        consumers.shutdown().await;
    }

    // -----------------------------------------------------------------------------------------
    // The DNS resolver

    /// The corpus's config (`27-otelio-loadbalancing-dns.yaml`), as it is.
    const CORPUS_DNS: &str = "receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317

exporters:
  loadbalancing:
    routing_key: service
    protocol:
      otlp:
        tls:
          insecure: true
    resolver:
      dns:
        hostname: collectors.example.com
        port: 5317

service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [loadbalancing]
";

    #[test]
    fn the_corpus_dns_config_loads_with_the_collectors_defaults() {
        let config = crate::components::parse_config(CORPUS_DNS).unwrap_or_else(|e| panic!("{e}"));
        let settings = config.settings_of::<LoadBalancingConfig>(crate::config::Kind::Exporter, "loadbalancing");
        let (_, lb) = settings[0];
        assert_eq!(lb.routing_key, RoutingKey::Service);
        assert!(lb.backends.is_empty(), "the backends come from the name");
        let dns = lb.dns.as_ref().expect("the DNS resolver");
        assert_eq!(
            (dns.hostname.as_str(), dns.port, dns.interval, dns.timeout),
            ("collectors.example.com", 5317, Duration::from_secs(5), Duration::from_secs(1)),
            "interval 5s and timeout 1s by default, as in the Collector"
        );
        assert_eq!(dns.otlp.uri, "http://collectors.example.com:5317", "tls.insecure: plaintext");
        assert_eq!(otlp_at(&dns.otlp, "10.0.0.7:5317").uri, "http://10.0.0.7:5317");
        assert_eq!(otlp_at(&dns.otlp, "[fd00::7]:5317").uri, "http://[fd00::7]:5317");
        assert_eq!(otlp_at(&dns.otlp, "10.0.0.7:5317").tls, None);
    }

    #[test]
    fn dns_resolver_settings() {
        let (config, parse_errors) = parsed(
            "protocol: { otlp: { tls: { insecure: true }, compression: zstd } }\n\
             resolver: { dns: { hostname: collectors.example.com, port: 5317, interval: 30s, timeout: 2s } }\n\
             sending_queue: { queue_size: 50 }\n",
        );
        assert_eq!(parse_errors, Vec::<String>::new());
        let dns = config.dns.unwrap();
        assert_eq!(
            (dns.port, dns.interval, dns.timeout),
            (5317, Duration::from_secs(30), Duration::from_secs(2))
        );
        assert_eq!(dns.otlp.compression, crate::exporter::sender::Compression::Zstd);
        assert_eq!(
            dns.otlp.sender.queue.queue_size, 50,
            "the top-level sender settings apply to every backend"
        );

        let (config, parse_errors) = parsed("resolver: { dns: { hostname: lb.internal } }");
        assert_eq!(parse_errors, Vec::<String>::new());
        let dns = config.dns.unwrap();
        assert_eq!(
            (dns.port, dns.interval, dns.timeout),
            (4317, Duration::from_secs(5), Duration::from_secs(1))
        );
        assert_eq!(dns.otlp.uri, "https://lb.internal:4317", "TLS unless tls.insecure, as for otlp");

        // The Collector's port is a string; zero durations are its defaults.
        let dns = parsed("resolver: { dns: { hostname: lb, port: '5317', interval: 0s, timeout: 0s } }")
            .0
            .dns
            .unwrap();
        assert_eq!(
            (dns.port, dns.interval, dns.timeout),
            (5317, Duration::from_secs(5), Duration::from_secs(1))
        );
        assert_eq!(parsed("resolver: { dns: { hostname: lb, port: '' } }").0.dns.unwrap().port, 4317);
        let dns = parsed("resolver: { dns: { hostname: 'fd00::1' } }").0.dns.unwrap();
        assert_eq!(dns.otlp.uri, "https://[fd00::1]:4317");

        // Not a setting of the Collector's DNS resolver (proposed, not merged).
        assert_eq!(
            errors("resolver: { dns: { hostname: lb, quarantine: { enabled: false } } }"),
            vec!["exporters.loadbalancing/lb.resolver.dns.quarantine: unknown key (expected one of: hostname, port, interval, timeout)"]
        );
    }

    #[test]
    fn dns_resolver_config_errors_name_their_paths() {
        assert_eq!(
            errors("resolver: { dns: { port: 0 } }"),
            vec![
                "exporters.loadbalancing/lb.resolver.dns.hostname: is required: the DNS name whose addresses are the backends",
                "exporters.loadbalancing/lb.resolver.dns.port: expected a port number, 1 to 65535, got 0",
            ]
        );
        assert_eq!(
            errors("resolver: { dns: { hostname: 'lb:4317', port: 70000, interval: soon, timeout: 1s } }"),
            vec![
                "exporters.loadbalancing/lb.resolver.dns.hostname: expected a host name (the port goes under port), got 'lb:4317'",
                "exporters.loadbalancing/lb.resolver.dns.port: expected a port number, 1 to 65535, got 70000",
                "exporters.loadbalancing/lb.resolver.dns.interval: expected a duration like 250ms, 15m, 12h or 7d, got 'soon'",
            ]
        );
        assert_eq!(
            errors("resolver: { dns: { hostname: '', port: abc } }"),
            vec![
                "exporters.loadbalancing/lb.resolver.dns.hostname: is empty (an unset environment variable?); expected the DNS name whose addresses are the backends",
                "exporters.loadbalancing/lb.resolver.dns.port: expected a port number, 1 to 65535, got 'abc'",
            ]
        );
        assert_eq!(
            errors("resolver: { static: { hostnames: ['a:1'] }, dns: { hostname: lb } }"),
            vec!["exporters.loadbalancing/lb.resolver: give one resolver, not several"]
        );
        assert_eq!(
            errors("resolver: { aws_cloud_map: { namespace: n, service_name: s } }"),
            vec!["exporters.loadbalancing/lb.resolver.aws_cloud_map: the aws_cloud_map resolver is not supported by this otelbox yet; list the backends under resolver.static.hostnames or name them with resolver.dns.hostname"]
        );
    }

    #[test]
    fn the_testdata_examples_parse_without_errors() {
        let file: Value = serde_yaml_ng::from_str(include_str!("testdata/loadbalancing.yaml")).unwrap();
        for (id, section) in file.as_mapping().unwrap() {
            let id = id.as_str().unwrap();
            let mut errors = Vec::new();
            let config = parse(&mut Parser::collecting(&mut errors), section, &format!("exporters.{id}"));
            assert_eq!(errors, Vec::<String>::new(), "{id}");
            assert!(!config.backends.is_empty() || config.dns.is_some(), "{id} has backends");
        }
    }

    #[test]
    fn resolved_addresses_become_sorted_endpoints_each_once() {
        let addresses: Vec<IpAddr> = ["10.0.0.10", "10.0.0.2", "::1", "10.0.0.2", "::ffff:10.0.0.3"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(
            endpoints_of(&addresses, 4317),
            ["10.0.0.10:4317", "10.0.0.2:4317", "10.0.0.3:4317", "[::1]:4317"],
            "sorted as text, IPv6 in brackets, an IPv4-mapped address as IPv4"
        );
        // Each address's queue file is named by its endpoint, so a returning address finds its own.
        let id = ComponentId::parse("loadbalancing/lb").unwrap();
        let file = |endpoint: &str| crate::exporter::queue::queue_path(Path::new("/data"), &backend_id(&id, endpoint).to_string());
        assert_eq!(
            file("[fd00::1]:4317"),
            std::path::PathBuf::from("/data/queues/loadbalancing%2Flb%2F%5Bfd00%3A%3A1%5D%3A4317.db")
        );
        assert_eq!(file("10.0.0.2:4317"), file("10.0.0.2:4317"));
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
    }

    /// Answers lookups from a script, in order; then fails.
    struct Scripted(Mutex<VecDeque<std::io::Result<Vec<IpAddr>>>>);

    impl Scripted {
        fn new(answers: Vec<std::io::Result<Vec<IpAddr>>>) -> Arc<Scripted> {
            Arc::new(Scripted(Mutex::new(answers.into())))
        }
    }

    impl Lookup for Scripted {
        fn lookup(&self, _hostname: &str) -> std::io::Result<Vec<IpAddr>> {
            self.0
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| Err(std::io::Error::other("the script has ended")))
        }
    }

    /// The trace consumers a test resolver's factory started, in the order it started them.
    type Started = Arc<Mutex<Vec<(String, Arc<Holding<ExportTraceServiceRequest>>)>>>;

    /// A factory of holding trace consumers, and what it started.
    fn holding_backends() -> (BackendFactory, Started) {
        let started: Started = Arc::default();
        let record = started.clone();
        let factory: BackendFactory = Arc::new(move |endpoint: &str| {
            let holder = Holding::new();
            record.lock().unwrap().push((endpoint.to_string(), holder.clone()));
            Ok(of_one_signal(AnyConsumer::Traces(
                holder as SharedConsumer<ExportTraceServiceRequest>,
            )))
        });
        (factory, started)
    }

    fn started_endpoints(started: &Started) -> Vec<String> {
        started.lock().unwrap().iter().map(|(endpoint, _)| endpoint.clone()).collect()
    }

    /// The consumer last started for `endpoint`.
    fn holder_of(started: &Started, endpoint: &str) -> Arc<Holding<ExportTraceServiceRequest>> {
        let started = started.lock().unwrap();
        let found = started.iter().rev().find(|(e, _)| e == endpoint);
        found.unwrap_or_else(|| panic!("{endpoint} was started")).1.clone()
    }

    fn dns_settings() -> DnsResolverConfig {
        parsed("protocol: { otlp: { tls: { insecure: true } } }\nresolver: { dns: { hostname: collectors.example.com } }")
            .0
            .dns
            .unwrap()
    }

    fn dns_resolver(lookup: Arc<dyn Lookup>, factory: BackendFactory) -> DnsResolver {
        DnsResolver::new(&ComponentId::parse("loadbalancing/lb").unwrap(), &dns_settings(), lookup, factory)
    }

    /// A trace balancer over the resolver's set, the resolver driven by the test.
    fn trace_balancer(resolver: &DnsResolver) -> Balancer<ExportTraceServiceRequest> {
        Balancer::sharing(
            RoutingKey::TraceId,
            Arc::new(Backends {
                set: resolver.set.clone(),
                resolver: Mutex::new(None),
            }),
        )
    }

    fn endpoints_now(resolver: &DnsResolver) -> Vec<String> {
        resolver.current().endpoints().map(str::to_string).collect()
    }

    /// One span of each of `traces`.
    fn spans_of(traces: impl IntoIterator<Item = u64>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource("checkout"),
                scope_spans: vec![ScopeSpans {
                    scope: scope("http"),
                    spans: traces
                        .into_iter()
                        .map(|t| Span {
                            trace_id: trace_id(t),
                            span_id: vec![1; 8],
                            name: format!("{t}"),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn trace_ids(envelopes: &[Envelope<ExportTraceServiceRequest>]) -> Vec<Vec<u8>> {
        envelopes
            .iter()
            .flat_map(|e| &e.data.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|span| span.trace_id.clone())
            .collect()
    }

    /// Sends one span of each of 300 traces through `balancer`: the endpoint each trace went to.
    async fn route(balancer: &Balancer<ExportTraceServiceRequest>, started: &Started) -> BTreeMap<Vec<u8>, String> {
        balancer.consume(Envelope::unacked(spans_of(0..300))).await.unwrap();
        let mut went = BTreeMap::new();
        for (endpoint, holder) in started.lock().unwrap().iter() {
            for key in trace_ids(&holder.take()) {
                assert!(went.insert(key, endpoint.clone()).is_none(), "each trace to one backend");
            }
        }
        went
    }

    #[tokio::test]
    async fn the_ring_follows_the_dns_answers_and_a_failed_lookup_keeps_it() {
        let (a, b, c) = ("10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317");
        let lookup = Scripted::new(vec![
            Ok(vec![ip(2), ip(1)]),
            Ok(vec![ip(3), ip(2), ip(3)]),
            Err(std::io::Error::other("SERVFAIL")),
            Ok(vec![]),
        ]);
        let (factory, started) = holding_backends();
        let resolver = dns_resolver(lookup, factory);
        let traces = trace_balancer(&resolver);

        resolver.start();
        assert_eq!(endpoints_now(&resolver), [a, b]);
        let before = route(&traces, &started).await;
        assert_eq!(before.len(), 300);
        assert_eq!(before.values().collect::<BTreeSet<_>>().len(), 2, "both backends take traces");

        // [a, b] -> [b, c]: c's backend is started, b's kept, and a's shut down after the switch.
        resolver.refresh().await;
        assert_eq!(endpoints_now(&resolver), [b, c]);
        assert_eq!(started_endpoints(&started), [a, b, c], "b's backend is kept, not started again");
        assert!(
            holder_of(&started, a).is_shut_down(),
            "the backend of the address that left is shut down"
        );
        assert!(!holder_of(&started, b).is_shut_down() && !holder_of(&started, c).is_shut_down());
        let after = route(&traces, &started).await;
        assert_eq!(after.len(), 300);
        let two = Ring::new(&[b, c]);
        let three = Ring::new(&[a, b, c]);
        let mut stayed = 0;
        for (key, was) in &before {
            let now = &after[key];
            assert_eq!(now, [b, c][two.backend(key)], "the ring of the new set");
            // Consistent hashing: a key of b's stays on b unless c, on a ring of all three, takes it.
            if was == b {
                if three.backend(key) == 2 {
                    assert_eq!(now, c);
                } else {
                    assert_eq!(now, b, "b keeps its key");
                    stayed += 1;
                }
            }
        }
        assert!(stayed > 20, "most of b's keys stay on b ({stayed})");

        // A failed lookup keeps the set as it is.
        let kept = Arc::as_ptr(&resolver.current());
        resolver.refresh().await;
        assert!(std::ptr::eq(kept, Arc::as_ptr(&resolver.current())), "the same set");
        assert_eq!(started_endpoints(&started), [a, b, c]);
        assert!(!holder_of(&started, b).is_shut_down() && !holder_of(&started, c).is_shut_down());

        // No address: no backends, and requests are refused retryably.
        resolver.refresh().await;
        assert!(endpoints_now(&resolver).is_empty());
        assert!(holder_of(&started, b).is_shut_down() && holder_of(&started, c).is_shut_down());
        let (ack, committed) = AckToken::new();
        let refused = traces.consume(Envelope::new(spans_of(0..3), ack)).await.unwrap_err();
        assert!(refused.is_retryable(), "{refused}");
        assert_eq!(
            refused.to_string(),
            "the loadbalancing exporter loadbalancing/lb has no backend to send to: the DNS name 'collectors.example.com' resolves to no address; retry later"
        );
        assert_eq!(committed.await.unwrap(), Err(refused));
        traces
            .consume(Envelope::unacked(ExportTraceServiceRequest::default()))
            .await
            .expect("an empty request has nothing to refuse");
    }

    /// Lets requests through once the test opens it, and says when one is waiting.
    struct Gate {
        reached: tokio::sync::Notify,
        open: tokio::sync::Semaphore,
    }

    struct Gated<T> {
        inner: Arc<Holding<T>>,
        gate: Arc<Gate>,
    }

    impl<T: SignalData> Consumer<T> for Gated<T> {
        fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
            Box::pin(async move {
                self.gate.reached.notify_one();
                let _pass = self.gate.open.acquire().await.expect("the gate stays");
                self.inner.consume(envelope).await
            })
        }
        fn shutdown(&self) -> BoxFuture<'_, ()> {
            self.inner.shutdown()
        }
    }

    #[tokio::test]
    async fn a_request_under_way_during_a_switch_ends_on_its_set_before_a_leaving_backend_stops() {
        let (a, b, c) = ("10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317");
        let gate = Arc::new(Gate {
            reached: tokio::sync::Notify::new(),
            open: tokio::sync::Semaphore::new(0),
        });
        let started: Started = Arc::default();
        let factory: BackendFactory = {
            let (started, gate) = (started.clone(), gate.clone());
            Arc::new(move |endpoint: &str| {
                let holder = Holding::new();
                started.lock().unwrap().push((endpoint.to_string(), holder.clone()));
                let consumer: SharedConsumer<ExportTraceServiceRequest> = if endpoint == a {
                    Arc::new(Gated {
                        inner: holder,
                        gate: gate.clone(),
                    })
                } else {
                    holder
                };
                Ok(of_one_signal(AnyConsumer::Traces(consumer)))
            })
        };
        let lookup = Scripted::new(vec![Ok(vec![ip(1), ip(2)]), Ok(vec![ip(2), ip(3)])]);
        let resolver = Arc::new(dns_resolver(lookup, factory));
        let traces = Arc::new(trace_balancer(&resolver));
        resolver.start();

        // A request with a trace for a and one for b: it waits at a's gate.
        let ring = Ring::new(&[a, b]);
        let for_a = (0u64..).find(|t| ring.backend(&trace_id(*t)) == 0).unwrap();
        let for_b = (0u64..).find(|t| ring.backend(&trace_id(*t)) == 1).unwrap();
        let (ack, committed) = AckToken::new();
        let first = tokio::spawn({
            let traces = traces.clone();
            async move { traces.consume(Envelope::new(spans_of([for_a, for_b]), ack)).await }
        });
        tokio::time::timeout(Duration::from_secs(5), gate.reached.notified())
            .await
            .expect("the request reaches a");

        // The switch to [b, c] happens at once; a is shut down only once that request is done.
        let switch = tokio::spawn({
            let resolver = resolver.clone();
            async move { resolver.refresh().await }
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while endpoints_now(&resolver) != [b, c] {
            assert!(tokio::time::Instant::now() < deadline, "the set switches to b and c");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !holder_of(&started, a).is_shut_down(),
            "a request that started before the switch still uses a"
        );
        assert!(!switch.is_finished(), "the resolver waits for it");

        // A request from now on goes to the new set only.
        tokio::time::timeout(Duration::from_secs(5), traces.consume(Envelope::unacked(spans_of(0..50))))
            .await
            .expect("not held at a's gate")
            .unwrap();
        let new_set: usize = [b, c].iter().map(|e| trace_ids(&holder_of(&started, e).take()).len()).sum();
        assert_eq!(new_set, 50, "every trace to b or c");

        // The first request ends on its own set: a's part to a, b's to b; then a is shut down.
        gate.open.add_permits(1);
        first.await.unwrap().unwrap();
        let at_a = holder_of(&started, a).take();
        let at_b = holder_of(&started, b).take();
        assert_eq!(trace_ids(&at_a), [trace_id(for_a)]);
        assert_eq!(trace_ids(&at_b), [trace_id(for_b)]);
        for part in at_a.into_iter().chain(at_b) {
            part.commit();
        }
        assert_eq!(committed.await.unwrap(), Ok(()));
        tokio::time::timeout(Duration::from_secs(5), switch)
            .await
            .expect("the switch completes")
            .unwrap();
        assert!(holder_of(&started, a).is_shut_down(), "then a is shut down");
        assert!(!holder_of(&started, b).is_shut_down());
    }

    #[tokio::test]
    async fn without_a_first_answer_the_exporter_starts_without_backends_and_refuses_retryably() {
        struct Slow;
        impl Lookup for Slow {
            fn lookup(&self, _hostname: &str) -> std::io::Result<Vec<IpAddr>> {
                std::thread::sleep(Duration::from_millis(500));
                Ok(vec![ip(1)])
            }
        }
        let (factory, started) = holding_backends();
        let mut settings = dns_settings();
        settings.timeout = Duration::from_millis(50);
        let id = ComponentId::parse("loadbalancing/lb").unwrap();
        let slow = DnsResolver::new(&id, &settings, Arc::new(Slow), factory.clone());
        slow.start();
        assert!(endpoints_now(&slow).is_empty());
        assert!(
            slow.current()
                .none_because
                .contains("could not be looked up (no answer within 50ms)"),
            "{}",
            slow.current().none_because
        );

        let failing = dns_resolver(Scripted::new(vec![Err(std::io::Error::other("NXDOMAIN"))]), factory);
        failing.start();
        let (ack, committed) = AckToken::new();
        let refused = trace_balancer(&failing)
            .consume(Envelope::new(spans_of(0..3), ack))
            .await
            .unwrap_err();
        assert_eq!(
            refused,
            PipelineError::retryable(
                "the loadbalancing exporter loadbalancing/lb has no backend to send to: the DNS name 'collectors.example.com' could not be looked up (NXDOMAIN); retry later"
            )
        );
        assert_eq!(committed.await.unwrap(), Err(refused));
        assert!(started_endpoints(&started).is_empty());
    }

    #[tokio::test]
    async fn the_resolver_task_looks_up_every_interval_until_the_exporter_shuts_down() {
        let (factory, started) = holding_backends();
        let lookup = Scripted::new(vec![Ok(vec![ip(1)]), Ok(vec![ip(1), ip(2)])]);
        let consumers = dns_balancers(RoutingKey::TraceId, dns_resolver(lookup, factory), Duration::from_millis(20)).unwrap();
        assert_eq!(
            started_endpoints(&started),
            ["10.0.0.1:4317"],
            "the first lookup, as the exporter is built"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while started_endpoints(&started).len() < 2 {
            assert!(tokio::time::Instant::now() < deadline, "a later lookup adds 10.0.0.2");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Lookups fail from now on (the script has ended): the two backends stay.
        tokio::time::sleep(Duration::from_millis(60)).await;
        let traces = consumers.traces.as_ref().unwrap();
        traces.consume(Envelope::unacked(spans_of(0..50))).await.unwrap();
        for endpoint in ["10.0.0.1:4317", "10.0.0.2:4317"] {
            assert!(!holder_of(&started, endpoint).take().is_empty(), "{endpoint} takes traces");
        }
        consumers.shutdown().await;
        assert!(
            started.lock().unwrap().iter().all(|(_, holder)| holder.is_shut_down()),
            "the last set's backends are shut down"
        );
        assert_eq!(started_endpoints(&started).len(), 2);
    }

    #[tokio::test]
    async fn building_with_the_dns_resolver_starts_an_otlp_exporter_per_address() {
        let dir = tempfile::tempdir().unwrap();
        let (config, errors) = parsed(
            "protocol: { otlp: { tls: { insecure: true } } }\n\
             resolver: { dns: { hostname: localhost, port: 1 } }\n\
             retry_on_failure: { enabled: false }\n",
        );
        assert_eq!(errors, Vec::<String>::new());
        let id = ComponentId::parse("loadbalancing/lb").unwrap();
        let consumers = exporter(&id, &config, None, Some(StorageDir::new(dir.path())), PerSignal::detached("x")).unwrap();
        let queues: Vec<String> = std::fs::read_dir(dir.path().join("queues"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            queues
                .iter()
                .any(|q| q == "loadbalancing%2Flb%2F127.0.0.1%3A1.db" || q == "loadbalancing%2Flb%2F%5B%3A%3A1%5D%3A1.db"),
            "a queue per address localhost resolves to: {queues:?}"
        );
        consumers.shutdown().await;
    }
}
