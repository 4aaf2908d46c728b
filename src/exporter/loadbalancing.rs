//! The `loadbalancing` exporter (the Collector's contrib `loadbalancingexporter`) with the static
//! resolver: every span of a trace goes to the same one of several OTLP/gRPC backends, so a
//! backend running tail sampling or span metrics sees whole traces. Each backend is an `otlp`
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
//!     resolver:
//!       static:
//!         hostnames: [backend-1:4317, backend-2:4317, backend-3]   # no port: 4317
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
//! Each backend's sending queue is named by the exporter id and the endpoint:
//! `<data dir>/queues/loadbalancing%2F<name>%2F<endpoint>.db` (`backend_id`), so backends never
//! share a file and a backend's leftovers are sent where they were meant to go.
//!
//! The `dns`, `k8s` and `aws_cloud_map` resolvers and the `resource`, `metric`, `streamID` and
//! `attributes` routing keys are refused by name.

use super::otlp::{self, OtlpExporterConfig};
use super::sender::{auth_ref, storage_ref, SENDER_KEYS};
use super::{ExporterContext, ExporterFactory};
use crate::config::{ComponentId, Parser, Settings};
use crate::hash::fnv1a_64;
use crate::pdata::{service_name, Signal};
use crate::pipeline::ack::AckToken;
use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError, SharedConsumer, SignalConsumers};
use crate::telemetry::PerSignal;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use serde_yaml_ng::{Mapping, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The port a hostname without one gets, as in the Collector (OTLP/gRPC's).
const DEFAULT_PORT: u16 = 4317;

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
    /// In the order `resolver.static.hostnames` lists them (the ring does not depend on it).
    pub backends: Vec<Backend>,
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
            context.data_dir,
            context.counters.clone(),
        )
    }
}

/// The extensions it names: every backend has the same sending queue and authenticator, so the
/// first backend's are all of them.
fn extension_refs(config: &LoadBalancingConfig) -> Vec<(String, ComponentId)> {
    let Some(backend) = config.backends.first() else {
        return Vec::new();
    };
    let mut refs = storage_ref(&backend.otlp.sender);
    refs.extend(auth_ref(backend.otlp.auth.as_ref()));
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

/// Starts one otlp exporter per backend (each counting into the load balancer's counters) and
/// puts a `Balancer` of each signal in front of them.
pub fn exporter(
    id: &ComponentId,
    config: &LoadBalancingConfig,
    authorization: Option<&crate::extension::ClientAuthorization>,
    data_dir: Option<&Path>,
    counters: PerSignal,
) -> anyhow::Result<SignalConsumers> {
    let mut traces: Vec<(String, SharedConsumer<ExportTraceServiceRequest>)> = Vec::new();
    let mut metrics: Vec<(String, SharedConsumer<ExportMetricsServiceRequest>)> = Vec::new();
    let mut logs: Vec<(String, SharedConsumer<ExportLogsServiceRequest>)> = Vec::new();
    for backend in &config.backends {
        let sender = Arc::new(otlp::exporter(
            &backend_id(id, &backend.endpoint),
            &backend.otlp,
            authorization,
            data_dir,
            counters.clone(),
        )?);
        traces.push((
            backend.endpoint.clone(),
            sender.clone() as SharedConsumer<ExportTraceServiceRequest>,
        ));
        metrics.push((
            backend.endpoint.clone(),
            sender.clone() as SharedConsumer<ExportMetricsServiceRequest>,
        ));
        logs.push((backend.endpoint.clone(), sender as SharedConsumer<ExportLogsServiceRequest>));
    }
    Ok(SignalConsumers {
        traces: Some(Arc::new(Balancer::new(config.routing_key, traces))),
        metrics: Some(Arc::new(Balancer::new(config.routing_key, metrics))),
        logs: Some(Arc::new(Balancer::new(config.routing_key, logs))),
    })
}

// ---------------------------------------------------------------------------------------------
// Configuration

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> LoadBalancingConfig {
    let mut config = LoadBalancingConfig {
        routing_key: RoutingKey::TraceId,
        backends: Vec::new(),
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
    let hostnames = parse_resolver(p, body.get("resolver"), &format!("{path}.resolver"));
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
    // The settings every backend shares, reported once however many backends repeat them.
    let mut reported: Vec<String> = Vec::new();
    for (endpoint, hostname_path) in hostnames {
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
        config.backends.push(Backend { endpoint, otlp });
    }
    config
}

/// `error` (`path: message`) with its path moved from under `from` to under `to`, if it is there.
fn reparent(error: &str, from: &str, to: &str) -> Option<String> {
    let rest = error.strip_prefix(from)?;
    rest.starts_with([':', '.', '[']).then(|| format!("{to}{rest}"))
}

/// The backends of `resolver.static.hostnames`: each endpoint (with the default port when it has
/// none) and the path it was listed at.
fn parse_resolver(p: &mut Parser, value: Option<&Value>, path: &str) -> Vec<(String, String)> {
    let Some(body) = p.mapping(value, path) else {
        return Vec::new();
    };
    p.only_keys(body, &["static", "dns", "k8s", "aws_cloud_map"], path);
    let mut others = false;
    for resolver in ["dns", "k8s", "aws_cloud_map"] {
        if body.get(resolver).is_some() {
            others = true;
            p.error(
                &format!("{path}.{resolver}"),
                format!("the {resolver} resolver is not supported by this otelbox yet; list the backends under resolver.static.hostnames"),
            );
        }
    }
    let Some(static_value) = body.get("static") else {
        if !others {
            p.error(path, "a resolver is required: list the backends under resolver.static.hostnames");
        }
        return Vec::new();
    };
    if others {
        p.error(path, "give one resolver, not several");
    }
    let static_path = format!("{path}.static");
    let Some(resolver) = p.mapping(Some(static_value), &static_path) else {
        return Vec::new();
    };
    p.only_keys(resolver, &["hostnames"], &static_path);
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

/// One signal's load balancer: splits each envelope between the backends' consumers; its acks
/// complete once every part has settled (each part carries a split of them).
pub struct Balancer<T> {
    routing: RoutingKey,
    ring: Ring,
    backends: Vec<SharedConsumer<T>>,
    /// Picks the backend of the next request's keyless items, in turn.
    next: AtomicUsize,
}

impl<T> Balancer<T> {
    /// Backends as (endpoint, consumer): the ring places each by its endpoint.
    pub fn new(routing: RoutingKey, backends: Vec<(String, SharedConsumer<T>)>) -> Balancer<T> {
        let (endpoints, backends): (Vec<String>, Vec<SharedConsumer<T>>) = backends.into_iter().unzip();
        Balancer {
            routing,
            ring: Ring::new(&endpoints),
            backends,
            next: AtomicUsize::new(0),
        }
    }
}

impl<T: Balanced> Consumer<T> for Balancer<T> {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(async move {
            let Envelope { data, acks } = envelope;
            if self.backends.is_empty() {
                let error = PipelineError::permanent("the loadbalancing exporter has no backends");
                for ack in acks {
                    ack.fail(error.clone());
                }
                return Err(error);
            }
            let fallback = self.next.fetch_add(1, Ordering::Relaxed) % self.backends.len();
            let parts = data.partition(&self.ring, self.routing, fallback);
            let mut first_error = None;
            for (backend, part) in self.backends.iter().zip(parts) {
                if part.item_count() == 0 {
                    continue;
                }
                let part = Envelope {
                    data: part,
                    acks: acks.iter().map(AckToken::split).collect(),
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

    /// Stops every backend: the three signals' balancers share them, and the topology shuts an
    /// exporter down through one of its consumers.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            for backend in &self.backends {
                backend.shutdown().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdata::SignalData;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::metrics::v1::{metric, Gauge, NumberDataPoint};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Mutex;

    /// Keeps what it receives, unsettled, until told to commit.
    struct Holding<T>(Mutex<Vec<Envelope<T>>>);

    impl<T> Holding<T> {
        fn new() -> Arc<Holding<T>> {
            Arc::new(Holding(Mutex::new(Vec::new())))
        }
        fn take(&self) -> Vec<Envelope<T>> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    impl<T: SignalData> Consumer<T> for Holding<T> {
        fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
            self.0.lock().unwrap().push(envelope);
            Box::pin(async { Ok(()) })
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
            errors("routing_key: streamID\nrouting_attributes: [a]\nresolver: { dns: { hostname: lb } }\nbalance: true"),
            vec![
                "exporters.loadbalancing/lb.balance: unknown key (expected one of: routing_key, routing_attributes, protocol, resolver, timeout, retry_on_failure, sending_queue)",
                "exporters.loadbalancing/lb.routing_key: routing by streamID is not supported by this otelbox yet; use traceID or service",
                "exporters.loadbalancing/lb.routing_attributes: goes with routing_key: attributes, which this otelbox does not support yet",
                "exporters.loadbalancing/lb.resolver.dns: the dns resolver is not supported by this otelbox yet; list the backends under resolver.static.hostnames",
            ]
        );
        assert_eq!(
            errors("routing_key: spanID\nresolver: {}"),
            vec![
                "exporters.loadbalancing/lb.routing_key: expected traceID, service, resource, metric, streamID or attributes, got 'spanID'",
                "exporters.loadbalancing/lb.resolver: a resolver is required: list the backends under resolver.static.hostnames",
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
        let consumers = exporter(&id, &config, None, Some(dir.path()), PerSignal::detached("x")).unwrap();
        for endpoint in ["127.0.0.1%3A1", "127.0.0.1%3A2"] {
            let file = dir.path().join(format!("queues/loadbalancing%2Flb%2F{endpoint}.db"));
            assert!(file.is_file(), "{} exists", file.display());
        }
        consumers.shutdown().await;
    }
}
