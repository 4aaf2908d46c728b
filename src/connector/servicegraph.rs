//! The servicegraph connector: service graph metrics (requests, failed requests and latency as seen
//! from both sides, per client and server service) derived from a traces pipeline and flushed into
//! the metrics pipelines that list it as a receiver, as the Collector's servicegraphconnector does.
//!
//! A request is an edge between two spans: a CLIENT (or PRODUCER) span and its SERVER (or CONSUMER)
//! child. Each span waits in a bounded store under (trace id, client span id) — a server span under
//! its parent span id — until its pair arrives (the edge is complete and counted) or `store.ttl`
//! passes. A client span carrying one of `database_name_attributes` is a database call and completes
//! at once, the database being the server. Expired edges become edges to virtual nodes, as in the
//! Collector: a client span without a server to the value of its first `virtual_node_peer_attributes`
//! (or `unknown`), a root server span from `user`; other expired edges are dropped and counted, as are
//! spans finding the store full (`store.max_items`) and edges of series beyond `MAX_SERIES`.
//!
//! Spans are taken when they arrive and their envelope is committed at once (the metrics are
//! derived data). A timer task expires the store every `store_expiration_loop`, forgets series not
//! updated for 15 minutes every `cache_loop`, and flushes every `metrics_flush_interval` (0: after
//! every batch of spans) as unacknowledged envelopes; a refused flush is logged and its data points
//! counted as dropped. `shutdown` expires every edge still waiting and flushes a final time.
//!
//! The metrics are cumulative from the connector's start, in seconds, in one resource without
//! attributes and the scope `traces_service_graph`; their attributes are `client`, `server`,
//! `connection_type` (empty, `messaging_system`, `database` or `virtual_node`), `failed`, then each
//! of `dimensions` found as `client_<name>` and `server_<name>` (looked up in the resource's
//! attributes, then the span's), then `virtual_node` with `virtual_node_extra_label`.

use crate::config::{ComponentId, ComponentType, Parser, Settings};
use crate::connector::exponential::ExponentialBuckets;
use crate::connector::{ConnectorFactory, ConnectorOutput};
use crate::pdata::now_ns;
use crate::pdata::{find_attribute, Signal, SignalData};
use crate::pipeline::{Consumer, Envelope, PipelineError, SharedConsumer, SignalConsumers};
use crate::telemetry::{ComponentCounters, PerSignal};
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, ExponentialHistogram, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The Collector's default latency buckets, in seconds.
pub const DEFAULT_BUCKETS_SECONDS: [f64; 16] = [
    0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.4, 2.0, 5.0, 10.0, 15.0,
];
/// The Collector's default `virtual_node_peer_attributes`, highest priority first.
pub const DEFAULT_PEER_ATTRIBUTES: [&str; 3] = ["peer.service", "db.name", "db.system"];
/// The Collector's default `database_name_attributes`.
pub const DEFAULT_DATABASE_NAME_ATTRIBUTES: [&str; 1] = ["db.name"];
/// The instrumentation scope of the emitted metrics (the Collector's).
pub const SCOPE_NAME: &str = "traces_service_graph";
pub const REQUEST_TOTAL: &str = "traces_service_graph_request_total";
pub const REQUEST_FAILED_TOTAL: &str = "traces_service_graph_request_failed_total";
/// Latency histograms, unit `s` (Prometheus exporters add the `_seconds` suffix).
pub const REQUEST_SERVER: &str = "traces_service_graph_request_server";
pub const REQUEST_CLIENT: &str = "traces_service_graph_request_client";
/// Series held at once; edges of a new series beyond this are dropped and counted.
pub const MAX_SERIES: usize = 10_000;
/// The largest `exponential_histogram_max_size`: its buckets are held per series and side.
pub const MAX_EXPONENTIAL_SIZE: u64 = 4096;

const SERVICE_NAME: &str = "service.name";
/// The client of a root server span's expired edge.
const USER_NODE: &str = "user";
/// The server of an expired client span without any peer attribute.
const UNKNOWN_NODE: &str = "unknown";
/// Series not updated for this long are forgotten by the cache loop (the Collector's 15 minutes).
const STALE_SERIES: Duration = Duration::from_secs(15 * 60);
const DEFAULT_TTL: Duration = Duration::from_secs(2);
const DEFAULT_MAX_ITEMS: usize = 1000;
const DEFAULT_CACHE_LOOP: Duration = Duration::from_secs(60);
const DEFAULT_STORE_EXPIRATION_LOOP: Duration = Duration::from_secs(2);
const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(60);

/// How latencies are bucketed: explicit bounds in seconds, or base-2 exponential buckets.
#[derive(Clone, Debug, PartialEq)]
pub enum LatencyHistogram {
    Explicit(Vec<f64>),
    Exponential { max_size: usize },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceGraphConfig {
    /// `latency_histogram_buckets` (increasing), or `exponential_histogram_max_size`.
    pub histogram: LatencyHistogram,
    /// Span or resource attributes that become `client_<name>` and `server_<name>` attributes.
    pub dimensions: Vec<String>,
    /// `store.ttl`: how long a span waits for its pair.
    pub store_ttl: Duration,
    /// `store.max_items`: edges waiting at once.
    pub store_max_items: usize,
    /// How often series not updated for 15 minutes are forgotten.
    pub cache_loop: Duration,
    /// How often expired edges leave the store.
    pub store_expiration_loop: Duration,
    /// Span attributes naming the server of an expired client span, highest priority first; empty
    /// turns virtual nodes off (expired edges are then dropped).
    pub virtual_node_peer_attributes: Vec<String>,
    /// Adds the `virtual_node` attribute (`client`, `server` or empty).
    pub virtual_node_extra_label: bool,
    /// Zero: flush after every batch of spans.
    pub flush_interval: Duration,
    /// Attributes naming the database of a client span, highest priority first.
    pub database_name_attributes: Vec<String>,
    /// `metrics_timestamp_offset`: subtracted from the data points' timestamps.
    pub timestamp_offset: Duration,
}

impl Default for ServiceGraphConfig {
    /// The Collector's defaults.
    fn default() -> Self {
        ServiceGraphConfig {
            histogram: LatencyHistogram::Explicit(DEFAULT_BUCKETS_SECONDS.to_vec()),
            dimensions: Vec::new(),
            store_ttl: DEFAULT_TTL,
            store_max_items: DEFAULT_MAX_ITEMS,
            cache_loop: DEFAULT_CACHE_LOOP,
            store_expiration_loop: DEFAULT_STORE_EXPIRATION_LOOP,
            virtual_node_peer_attributes: DEFAULT_PEER_ATTRIBUTES.iter().map(|s| s.to_string()).collect(),
            virtual_node_extra_label: false,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            database_name_attributes: DEFAULT_DATABASE_NAME_ATTRIBUTES.iter().map(|s| s.to_string()).collect(),
            timestamp_offset: Duration::ZERO,
        }
    }
}

const KEYS: [&str; 13] = [
    "latency_histogram_buckets",
    "exponential_histogram_max_size",
    "dimensions",
    "store",
    "cache_loop",
    "store_expiration_loop",
    "virtual_node_peer_attributes",
    "virtual_node_extra_label",
    "metrics_flush_interval",
    "database_name_attributes",
    "database_name_attribute",
    "metrics_timestamp_offset",
    "metrics_exporter",
];

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> ServiceGraphConfig {
    let mut config = ServiceGraphConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let at = |key: &str| format!("{path}.{key}");
    p.only_keys(body, &KEYS, path);

    histogram(p, body, path, &mut config);
    config.dimensions = p.string_list(body.get("dimensions"), &at("dimensions"));
    for (i, name) in config.dimensions.iter().enumerate() {
        if name.is_empty() {
            p.error(&format!("{path}.dimensions[{i}]"), "must not be empty");
        } else if config.dimensions[..i].contains(name) {
            p.error(&format!("{path}.dimensions[{i}]"), format!("duplicate dimension \"{name}\""));
        }
    }
    if let Some(store) = body.get("store") {
        let store_path = at("store");
        if let Some(store) = p.mapping(Some(store), &store_path) {
            p.only_keys(store, &["ttl", "max_items"], &store_path);
            if let Some(v) = store.get("ttl") {
                config.store_ttl = p.duration(v, &format!("{store_path}.ttl")).unwrap_or(config.store_ttl);
            }
            if let Some(v) = store.get("max_items") {
                match p.unsigned(v, &format!("{store_path}.max_items")) {
                    Some(0) => p.error(&format!("{store_path}.max_items"), "must be greater than 0"),
                    Some(n) => config.store_max_items = usize::try_from(n).unwrap_or(usize::MAX),
                    None => {}
                }
            }
        }
    }
    // As in the Collector, 0 means the default for the loops, and flushing after every batch.
    if let Some(v) = body.get("cache_loop") {
        if let Some(d) = p.duration(v, &at("cache_loop")).filter(|d| !d.is_zero()) {
            config.cache_loop = d;
        }
    }
    if let Some(v) = body.get("store_expiration_loop") {
        if let Some(d) = p.duration(v, &at("store_expiration_loop")).filter(|d| !d.is_zero()) {
            config.store_expiration_loop = d;
        }
    }
    if let Some(v) = body.get("metrics_flush_interval") {
        config.flush_interval = p.duration(v, &at("metrics_flush_interval")).unwrap_or(config.flush_interval);
    }
    // Absent keeps the defaults; an explicit empty list turns virtual nodes off.
    if let Some(v) = body.get("virtual_node_peer_attributes").filter(|v| !v.is_null()) {
        config.virtual_node_peer_attributes = p.string_list(Some(v), &at("virtual_node_peer_attributes"));
    }
    if let Some(v) = body.get("virtual_node_extra_label") {
        config.virtual_node_extra_label = p.boolean(v, &at("virtual_node_extra_label")).unwrap_or(false);
    }
    let mut database_names = p.string_list(body.get("database_name_attributes"), &at("database_name_attributes"));
    // The Collector's deprecated singular key (v0.124), still read: it goes first when both are given.
    if let Some(v) = body.get("database_name_attribute").filter(|v| !v.is_null()) {
        if let Some(name) = p.string(v, &at("database_name_attribute")) {
            tracing::warn!("{path}.database_name_attribute is deprecated in the Collector; write database_name_attributes: [{name}]");
            if !database_names.contains(&name) {
                database_names.insert(0, name);
            }
        }
    }
    if !database_names.is_empty() {
        config.database_name_attributes = database_names;
    }
    if let Some(v) = body.get("metrics_timestamp_offset") {
        config.timestamp_offset = p.duration(v, &at("metrics_timestamp_offset")).unwrap_or_default();
    }
    // Deprecated and a no-op in the Collector too (the pipelines say where metrics go).
    if let Some(v) = body.get("metrics_exporter") {
        let _ = p.string(v, &at("metrics_exporter"));
    }
    config
}

fn histogram(p: &mut Parser, body: &serde_yaml_ng::Mapping, path: &str, config: &mut ServiceGraphConfig) {
    let size_path = format!("{path}.exponential_histogram_max_size");
    let max_size = match body.get("exponential_histogram_max_size") {
        Some(v) => p.unsigned(v, &size_path).unwrap_or(0),
        None => 0,
    };
    let buckets = body.get("latency_histogram_buckets").filter(|v| !v.is_null());
    if buckets.is_some() && max_size > 0 {
        p.error(
            path,
            "use either latency_histogram_buckets or exponential_histogram_max_size, not both",
        );
        return;
    }
    if max_size == 1 || max_size > MAX_EXPONENTIAL_SIZE {
        p.error(
            &size_path,
            format!("must be 0 (explicit buckets) or from 2 to {MAX_EXPONENTIAL_SIZE}, got {max_size}"),
        );
        return;
    }
    if max_size > 0 {
        config.histogram = LatencyHistogram::Exponential {
            max_size: usize::try_from(max_size).unwrap_or(usize::MAX),
        };
        return;
    }
    let Some(buckets) = buckets else { return };
    let buckets_path = format!("{path}.latency_histogram_buckets");
    let mut bounds: Vec<f64> = Vec::new();
    for (at, bucket) in p.list(Some(buckets), &buckets_path) {
        // A bare number is nanoseconds, as Go decodes a number into a time.Duration (the Collector's
        // own testdata writes `[1,2,3,4,5]`).
        let duration = match bucket.as_u64() {
            Some(nanos) => std::time::Duration::from_nanos(nanos),
            None => match p.duration(bucket, &at) {
                Some(duration) => duration,
                None => continue,
            },
        };
        let bound = duration.as_secs_f64();
        if bounds.last().is_some_and(|previous| *previous >= bound) {
            p.error(&at, "buckets must be in increasing order");
        }
        bounds.push(bound);
    }
    config.histogram = LatencyHistogram::Explicit(bounds);
}

pub struct Factory;

impl ComponentType for Factory {
    fn type_name(&self) -> &'static str {
        "servicegraph"
    }
    fn signals(&self) -> &'static [Signal] {
        &[Signal::Traces]
    }
    fn output_signals(&self) -> &'static [Signal] {
        &[Signal::Metrics]
    }
    fn parse(&self, p: &mut Parser, value: &Value, path: &str) -> Settings {
        Settings::new(parse(p, value, path))
    }
}

impl ConnectorFactory for Factory {
    fn build(
        &self,
        id: &ComponentId,
        settings: &Settings,
        output: &ConnectorOutput,
        counters: &PerSignal,
    ) -> anyhow::Result<SignalConsumers> {
        let metrics = output.metrics(id)?;
        Ok(SignalConsumers {
            traces: Some(Arc::new(ServiceGraphConnector::new(
                id,
                settings.get(),
                metrics,
                counters.traces.clone(),
            ))),
            ..SignalConsumers::default()
        })
    }
}

pub struct ServiceGraphConnector {
    graph: Arc<Graph>,
    /// Tells the timer task to stop (also when dropped).
    stop: watch::Sender<bool>,
    timer: Mutex<Option<JoinHandle<()>>>,
}

impl ServiceGraphConnector {
    /// Starts the timer task, so this must run inside a tokio runtime.
    pub fn new(
        id: &ComponentId,
        config: &ServiceGraphConfig,
        metrics: SharedConsumer<ExportMetricsServiceRequest>,
        counters: Arc<ComponentCounters>,
    ) -> Self {
        let graph = Arc::new(Graph::new(id, config, metrics, counters));
        let (stop, stopped) = watch::channel(false);
        let timer = tokio::spawn(run_timers(graph.clone(), stopped));
        ServiceGraphConnector {
            graph,
            stop,
            timer: Mutex::new(Some(timer)),
        }
    }

    /// Sends the metrics now, as the timer does.
    pub async fn flush(&self) {
        self.graph.flush(now_ns()).await;
    }
}

/// The store expiration, cache cleaning and flush loops, until `stopped` changes.
async fn run_timers(graph: Arc<Graph>, mut stopped: watch::Receiver<bool>) {
    let every = |period: Duration| {
        let period = period.max(Duration::from_millis(1));
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    };
    let mut expire = every(graph.config.store_expiration_loop);
    let mut clean = every(graph.config.cache_loop);
    let mut flush = (!graph.config.flush_interval.is_zero()).then(|| every(graph.config.flush_interval));
    loop {
        tokio::select! {
            _ = expire.tick() => graph.expire(Instant::now()),
            _ = clean.tick() => graph.clean(Instant::now()),
            _ = tick(&mut flush) => graph.flush(now_ns()).await,
            _ = stopped.changed() => break,
        }
    }
}

/// The next tick of an optional interval; never without one.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending::<()>().await,
    }
}

impl Consumer<ExportTraceServiceRequest> for ServiceGraphConnector {
    fn consume(&self, envelope: Envelope<ExportTraceServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
        self.graph.aggregate(&envelope.data, Instant::now());
        envelope.commit();
        Box::pin(async move {
            if self.graph.config.flush_interval.is_zero() {
                self.flush().await;
            }
            Ok(())
        })
    }

    /// Stops the timer (letting a flush in progress finish), expires every edge still waiting,
    /// then flushes a final time.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.stop.send(true);
            let timer = self.timer.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(timer) = timer {
                let _ = timer.await;
            }
            self.graph.expire_all(Instant::now());
            self.flush().await;
        })
    }
}

/// The kind of request an edge is (the `connection_type` attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnectionType {
    Unset,
    MessagingSystem,
    Database,
    VirtualNode,
}

impl ConnectionType {
    fn as_str(self) -> &'static str {
        match self {
            ConnectionType::Unset => "",
            ConnectionType::MessagingSystem => "messaging_system",
            ConnectionType::Database => "database",
            ConnectionType::VirtualNode => "virtual_node",
        }
    }
}

/// Which side of an expired edge was made up (the `virtual_node` attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VirtualNode {
    Neither,
    Client,
    Server,
}

impl VirtualNode {
    fn as_str(self) -> &'static str {
        match self {
            VirtualNode::Neither => "",
            VirtualNode::Client => "client",
            VirtualNode::Server => "server",
        }
    }
}

/// Where the two spans of a request meet: the trace and the client span's id (all zeros for a
/// server span without a parent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct EdgeKey {
    trace_id: [u8; 16],
    span_id: [u8; 8],
}

/// A request between two services, as far as its spans have told.
#[derive(Debug)]
struct Edge {
    key: EdgeKey,
    /// Insertion order in the store.
    seq: u64,
    expires: Instant,
    connection_type: ConnectionType,
    client: Option<String>,
    server: Option<String>,
    client_seconds: f64,
    server_seconds: f64,
    /// Either span had an error status.
    failed: bool,
    /// Each configured dimension's value on each side, by the dimension's position.
    client_dimensions: Vec<Option<String>>,
    server_dimensions: Vec<Option<String>>,
    /// The client span's peer: the position of the attribute among the peer attributes, and its value.
    peer: Option<(usize, String)>,
    virtual_node: VirtualNode,
}

impl Edge {
    fn new(key: EdgeKey, seq: u64, expires: Instant) -> Edge {
        Edge {
            key,
            seq,
            expires,
            connection_type: ConnectionType::Unset,
            client: None,
            server: None,
            client_seconds: 0.0,
            server_seconds: 0.0,
            failed: false,
            client_dimensions: Vec::new(),
            server_dimensions: Vec::new(),
            peer: None,
            virtual_node: VirtualNode::Neither,
        }
    }

    fn is_complete(&self) -> bool {
        self.client.is_some() && self.server.is_some()
    }
}

/// The store was full when a span needed a new edge.
struct StoreFull;

/// Edges waiting for their second span: at most `max_items`, each for `ttl`.
struct EdgeStore {
    ttl: Duration,
    max_items: usize,
    edges: HashMap<EdgeKey, Edge>,
    /// The keys in insertion order, which is expiry order (every edge lives `ttl`).
    order: BTreeMap<u64, EdgeKey>,
    next_seq: u64,
}

impl EdgeStore {
    fn new(ttl: Duration, max_items: usize) -> EdgeStore {
        EdgeStore {
            ttl,
            max_items,
            edges: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Applies `update` to the edge of `key`, created if new. Returns the edge once both of its
    /// sides are known (it leaves the store); `StoreFull` when a new edge finds no room.
    fn upsert(&mut self, key: EdgeKey, now: Instant, update: impl FnOnce(&mut Edge)) -> Result<Option<Edge>, StoreFull> {
        if let Some(edge) = self.edges.get_mut(&key) {
            update(edge);
            let complete = edge.is_complete();
            return Ok(if complete { self.remove(&key) } else { None });
        }
        let expires = now.checked_add(self.ttl).unwrap_or(now);
        let mut edge = Edge::new(key, self.next_seq, expires);
        update(&mut edge);
        if edge.is_complete() {
            // A database call: its one span is both sides.
            return Ok(Some(edge));
        }
        if self.edges.len() >= self.max_items {
            return Err(StoreFull);
        }
        self.next_seq += 1;
        self.order.insert(edge.seq, key);
        self.edges.insert(key, edge);
        Ok(None)
    }

    /// Whether a new edge for `key` would find the store full.
    fn needs_room(&self, key: &EdgeKey) -> bool {
        self.edges.len() >= self.max_items && !self.edges.contains_key(key)
    }

    /// Removes and returns the oldest edge if it has expired at `now`.
    fn pop_expired(&mut self, now: Instant) -> Option<Edge> {
        let (_, key) = self.order.first_key_value()?;
        if self.edges.get(key)?.expires > now {
            return None;
        }
        let key = *key;
        self.remove(&key)
    }

    /// Every edge, oldest first, leaving the store empty.
    fn drain(&mut self) -> Vec<Edge> {
        let order = std::mem::take(&mut self.order);
        order.into_values().filter_map(|key| self.edges.remove(&key)).collect()
    }

    fn remove(&mut self, key: &EdgeKey) -> Option<Edge> {
        let edge = self.edges.remove(key)?;
        self.order.remove(&edge.seq);
        Some(edge)
    }
}

/// Latencies of one side of a series.
#[derive(Clone, Debug, PartialEq)]
enum Latency {
    Explicit(ExplicitHistogram),
    Exponential(ExponentialBuckets),
}

impl Latency {
    fn new(histogram: &LatencyHistogram) -> Latency {
        match histogram {
            LatencyHistogram::Explicit(bounds) => Latency::Explicit(ExplicitHistogram {
                bucket_counts: vec![0; bounds.len() + 1],
                count: 0,
                sum: 0.0,
            }),
            LatencyHistogram::Exponential { max_size } => Latency::Exponential(ExponentialBuckets::new(*max_size)),
        }
    }

    fn observe(&mut self, seconds: f64, histogram: &LatencyHistogram) {
        match (self, histogram) {
            (Latency::Explicit(h), LatencyHistogram::Explicit(bounds)) => h.observe(seconds, bounds),
            (Latency::Exponential(h), _) => h.observe(seconds),
            // Series are made with the connector's one histogram kind.
            (Latency::Explicit(_), LatencyHistogram::Exponential { .. }) => {}
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct ExplicitHistogram {
    /// One more than the bounds: the last counts latencies above the last bound.
    bucket_counts: Vec<u64>,
    count: u64,
    sum: f64,
}

impl ExplicitHistogram {
    fn observe(&mut self, seconds: f64, bounds: &[f64]) {
        // Buckets are upper-inclusive: (bounds[i-1], bounds[i]].
        let index = bounds.partition_point(|bound| *bound < seconds);
        if let Some(count) = self.bucket_counts.get_mut(index) {
            *count += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// One series: the edges of one client, server, connection type, failure and dimension values.
struct Series {
    /// Its attributes encoded, its key in the table's index.
    key: Vec<u8>,
    attributes: Vec<KeyValue>,
    failed: bool,
    requests: u64,
    server: Latency,
    client: Latency,
    last_updated: Instant,
}

#[derive(Default)]
struct SeriesTable {
    /// In order of first sight, so the output order is stable.
    series: Vec<Series>,
    index: HashMap<Vec<u8>, usize>,
}

impl SeriesTable {
    fn retain(&mut self, keep: impl Fn(&Series) -> bool) {
        let before = self.series.len();
        self.series.retain(keep);
        if self.series.len() != before {
            self.index = self.series.iter().enumerate().map(|(i, s)| (s.key.clone(), i)).collect();
        }
    }
}

struct State {
    store: EdgeStore,
    series: SeriesTable,
}

/// The store and the series, shared by the connector and its timer task.
struct Graph {
    id: String,
    config: ServiceGraphConfig,
    metrics: SharedConsumer<ExportMetricsServiceRequest>,
    counters: Arc<ComponentCounters>,
    /// When the connector started: the start of every cumulative point (as in the Collector).
    start_ns: u64,
    /// A full store and the series limit are each logged once.
    warned_store_full: AtomicBool,
    warned_series_limit: AtomicBool,
    state: Mutex<State>,
}

impl Graph {
    fn new(
        id: &ComponentId,
        config: &ServiceGraphConfig,
        metrics: SharedConsumer<ExportMetricsServiceRequest>,
        counters: Arc<ComponentCounters>,
    ) -> Graph {
        Graph {
            id: id.to_string(),
            config: config.clone(),
            metrics,
            counters,
            start_ns: now_ns(),
            warned_store_full: AtomicBool::new(false),
            warned_series_limit: AtomicBool::new(false),
            state: Mutex::new(State {
                store: EdgeStore::new(config.store_ttl, config.store_max_items),
                series: SeriesTable::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds every client, producer, server and consumer span to its edge. Resources without a
    /// `service.name` are skipped (as in the Collector), as are spans with malformed ids.
    fn aggregate(&self, traces: &ExportTraceServiceRequest, now: Instant) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut refused = 0;
        for resource_spans in &traces.resource_spans {
            let resource = resource_spans.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            let Some(service) = find_attribute(resource, SERVICE_NAME).map(text).filter(|s| !s.is_empty()) else {
                continue;
            };
            for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
                let (is_client, connection_type) = match SpanKind::try_from(span.kind) {
                    Ok(SpanKind::Client) => (true, ConnectionType::Unset),
                    Ok(SpanKind::Producer) => (true, ConnectionType::MessagingSystem),
                    Ok(SpanKind::Server) => (false, ConnectionType::Unset),
                    Ok(SpanKind::Consumer) => (false, ConnectionType::MessagingSystem),
                    _ => continue,
                };
                let Ok(trace_id) = <[u8; 16]>::try_from(span.trace_id.as_slice()) else {
                    continue;
                };
                let span_id = if is_client {
                    <[u8; 8]>::try_from(span.span_id.as_slice()).ok()
                } else if span.parent_span_id.is_empty() {
                    Some([0; 8])
                } else {
                    <[u8; 8]>::try_from(span.parent_span_id.as_slice()).ok()
                };
                let Some(span_id) = span_id else { continue };
                let key = EdgeKey { trace_id, span_id };
                if state.store.needs_room(&key) {
                    if let Some(expired) = state.store.pop_expired(now) {
                        self.expired(&mut state.series, expired, now);
                    }
                }
                let update = |edge: &mut Edge| self.update(edge, is_client, connection_type, &service, span, resource);
                match state.store.upsert(key, now, update) {
                    Ok(Some(edge)) => self.record(&mut state.series, &edge, now),
                    Ok(None) => {}
                    Err(StoreFull) => refused += 1,
                }
            }
        }
        drop(guard);
        if refused > 0 {
            self.counters.record_dropped(refused);
            if !self.warned_store_full.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    connector = %self.id,
                    max_items = self.config.store_max_items,
                    "the service graph store is full: spans that cannot wait for their pair are dropped (raise store.max_items or lower store.ttl)"
                );
            }
        }
    }

    /// What one span tells its edge.
    fn update(&self, edge: &mut Edge, is_client: bool, connection_type: ConnectionType, service: &str, span: &Span, resource: &[KeyValue]) {
        let seconds = span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano) as f64 / 1e9;
        edge.connection_type = connection_type;
        edge.failed |= span.status.as_ref().is_some_and(|s| s.code == StatusCode::Error as i32);
        if !is_client {
            edge.server = Some(service.to_string());
            edge.server_seconds = seconds;
            self.set_dimensions(&mut edge.server_dimensions, resource, &span.attributes);
            return;
        }
        edge.client = Some(service.to_string());
        edge.client_seconds = seconds;
        self.set_dimensions(&mut edge.client_dimensions, resource, &span.attributes);
        let peer = self
            .config
            .virtual_node_peer_attributes
            .iter()
            .enumerate()
            .find_map(|(rank, key)| find_attribute(&span.attributes, key).map(|v| (rank, text(v))));
        if let Some((rank, value)) = peer {
            if edge.peer.as_ref().is_none_or(|(held, _)| rank <= *held) {
                edge.peer = Some((rank, value));
            }
        }
        let database = self
            .config
            .database_name_attributes
            .iter()
            .find_map(|key| find_attribute(resource, key).or_else(|| find_attribute(&span.attributes, key)));
        if let Some(database) = database {
            edge.connection_type = ConnectionType::Database;
            edge.server = Some(text(database));
            edge.server_seconds = seconds;
        }
    }

    /// The configured dimensions found in the resource's attributes, else the span's.
    fn set_dimensions(&self, slots: &mut Vec<Option<String>>, resource: &[KeyValue], span: &[KeyValue]) {
        slots.resize(self.config.dimensions.len(), None);
        for (slot, name) in slots.iter_mut().zip(&self.config.dimensions) {
            if let Some(value) = find_attribute(resource, name).or_else(|| find_attribute(span, name)) {
                *slot = Some(text(value));
            }
        }
    }

    /// An edge that waited `store.ttl` for its other side: with peer attributes configured, a
    /// client without a server becomes an edge to its peer (or `unknown`) and a root server span
    /// one from `user`; anything else is dropped.
    fn expired(&self, table: &mut SeriesTable, mut edge: Edge, now: Instant) {
        if self.config.virtual_node_peer_attributes.is_empty() {
            self.counters.record_dropped(1);
            return;
        }
        if edge.client.is_none() && edge.key.span_id == [0; 8] {
            edge.client = Some(USER_NODE.to_string());
            edge.virtual_node = VirtualNode::Client;
        } else if edge.server.is_none() {
            edge.server = Some(edge.peer.take().map_or_else(|| UNKNOWN_NODE.to_string(), |(_, peer)| peer));
            edge.virtual_node = VirtualNode::Server;
        } else {
            // A server span whose client span never came.
            self.counters.record_dropped(1);
            return;
        }
        edge.connection_type = ConnectionType::VirtualNode;
        self.record(table, &edge, now);
    }

    /// Counts a complete edge in its series.
    fn record(&self, table: &mut SeriesTable, edge: &Edge, now: Instant) {
        let attributes = self.series_attributes(edge);
        let mut key = Vec::with_capacity(128);
        for kv in &attributes {
            kv.encode_length_delimited(&mut key).expect("a Vec grows as needed");
        }
        let index = match table.index.get(&key) {
            Some(&i) => i,
            None if table.series.len() >= MAX_SERIES => {
                self.counters.record_dropped(1);
                if !self.warned_series_limit.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        connector = %self.id,
                        limit = MAX_SERIES,
                        "the service graph has as many series as it holds: edges of new ones are dropped until old ones go stale (fewer dimensions?)"
                    );
                }
                return;
            }
            None => {
                table.index.insert(key.clone(), table.series.len());
                table.series.push(Series {
                    key,
                    attributes,
                    failed: edge.failed,
                    requests: 0,
                    server: Latency::new(&self.config.histogram),
                    client: Latency::new(&self.config.histogram),
                    last_updated: now,
                });
                table.series.len() - 1
            }
        };
        let series = &mut table.series[index];
        series.requests += 1;
        series.server.observe(edge.server_seconds, &self.config.histogram);
        series.client.observe(edge.client_seconds, &self.config.histogram);
        series.last_updated = now;
    }

    fn series_attributes(&self, edge: &Edge) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(5 + 2 * self.config.dimensions.len());
        attributes.push(string_attribute("client", edge.client.as_deref().unwrap_or_default()));
        attributes.push(string_attribute("server", edge.server.as_deref().unwrap_or_default()));
        attributes.push(string_attribute("connection_type", edge.connection_type.as_str()));
        attributes.push(bool_attribute("failed", edge.failed));
        for (i, name) in self.config.dimensions.iter().enumerate() {
            for (side, values) in [("client", &edge.client_dimensions), ("server", &edge.server_dimensions)] {
                if let Some(Some(value)) = values.get(i) {
                    attributes.push(string_attribute(&format!("{side}_{name}"), value));
                }
            }
        }
        if self.config.virtual_node_extra_label {
            attributes.push(string_attribute("virtual_node", edge.virtual_node.as_str()));
        }
        attributes
    }

    /// Moves every expired edge out of the store.
    fn expire(&self, now: Instant) {
        let mut guard = self.lock();
        let state = &mut *guard;
        while let Some(edge) = state.store.pop_expired(now) {
            self.expired(&mut state.series, edge, now);
        }
    }

    /// Expires every edge, whatever its age (at shutdown no span can pair with it any more).
    fn expire_all(&self, now: Instant) {
        let mut guard = self.lock();
        let state = &mut *guard;
        for edge in state.store.drain() {
            self.expired(&mut state.series, edge, now);
        }
    }

    /// Forgets series not updated for 15 minutes.
    fn clean(&self, now: Instant) {
        self.lock()
            .series
            .retain(|s| now.saturating_duration_since(s.last_updated) <= STALE_SERIES);
    }

    /// Sends the metrics on; a refusal is logged and its data points counted as dropped.
    async fn flush(&self, now: u64) {
        let payload = self.collect(now);
        let points = payload.item_count();
        if points == 0 {
            return;
        }
        match self.metrics.consume(Envelope::unacked(payload)).await {
            Ok(()) => self.counters.record_sent(points),
            Err(error) => {
                tracing::warn!(connector = %self.id, points, %error, "service graph metrics were refused by the metrics pipeline and are dropped");
                self.counters.record_dropped(points);
            }
        }
    }

    /// The cumulative metrics of every series at `now` (nothing without series).
    fn collect(&self, now: u64) -> ExportMetricsServiceRequest {
        let offset = u64::try_from(self.config.timestamp_offset.as_nanos()).unwrap_or(u64::MAX);
        let time = now.saturating_sub(offset);
        let start = self.start_ns.min(time);
        let state = self.lock();
        let all = &state.series.series;
        if all.is_empty() {
            return ExportMetricsServiceRequest::default();
        }
        let count_point = |series: &Series| NumberDataPoint {
            attributes: series.attributes.clone(),
            start_time_unix_nano: start,
            time_unix_nano: time,
            value: Some(number_data_point::Value::AsInt(i64::try_from(series.requests).unwrap_or(i64::MAX))),
            ..Default::default()
        };
        let mut metrics = vec![counter(REQUEST_TOTAL, all.iter().map(count_point).collect())];
        let failed: Vec<NumberDataPoint> = all.iter().filter(|s| s.failed).map(count_point).collect();
        if !failed.is_empty() {
            metrics.push(counter(REQUEST_FAILED_TOTAL, failed));
        }
        let bounds: &[f64] = match &self.config.histogram {
            LatencyHistogram::Explicit(bounds) => bounds,
            LatencyHistogram::Exponential { .. } => &[],
        };
        metrics.push(latency_metric(
            REQUEST_SERVER,
            all.iter().map(|s| (s, &s.server)),
            bounds,
            start,
            time,
        ));
        metrics.push(latency_metric(
            REQUEST_CLIENT,
            all.iter().map(|s| (s, &s.client)),
            bounds,
            start,
            time,
        ));
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource::default()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: SCOPE_NAME.to_string(),
                        ..Default::default()
                    }),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }
}

fn counter(name: &str, data_points: Vec<NumberDataPoint>) -> Metric {
    Metric {
        name: name.to_string(),
        data: Some(metric::Data::Sum(Sum {
            data_points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

/// One side's latency histogram of every series (all of the connector's one histogram kind).
fn latency_metric<'a>(name: &str, sides: impl Iterator<Item = (&'a Series, &'a Latency)>, bounds: &[f64], start: u64, time: u64) -> Metric {
    let mut explicit = Vec::new();
    let mut exponential = Vec::new();
    for (series, latency) in sides {
        match latency {
            Latency::Explicit(h) => explicit.push(HistogramDataPoint {
                attributes: series.attributes.clone(),
                start_time_unix_nano: start,
                time_unix_nano: time,
                count: h.count,
                sum: Some(h.sum),
                bucket_counts: h.bucket_counts.clone(),
                explicit_bounds: bounds.to_vec(),
                ..Default::default()
            }),
            Latency::Exponential(h) => exponential.push(h.point(series.attributes.clone(), start, time)),
        }
    }
    let temporality = AggregationTemporality::Cumulative as i32;
    let data = if exponential.is_empty() {
        metric::Data::Histogram(Histogram {
            data_points: explicit,
            aggregation_temporality: temporality,
        })
    } else {
        metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: exponential,
            aggregation_temporality: temporality,
        })
    };
    Metric {
        name: name.to_string(),
        unit: "s".to_string(),
        data: Some(data),
        ..Default::default()
    }
}

/// An attribute value as text, as the Collector's `AsString`: strings as they are, other values as
/// JSON (bytes as base64).
fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        _ => match crate::pdata::json::any_value_to_plain(value) {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        },
    }
}

fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn bool_attribute(key: &str, value: bool) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BoolValue(value)),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ack::AckToken;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

    /// Keeps every flushed payload and says when one arrived.
    #[derive(Default)]
    struct Capture {
        batches: Mutex<Vec<ExportMetricsServiceRequest>>,
        arrived: tokio::sync::Notify,
    }

    impl Consumer<ExportMetricsServiceRequest> for Capture {
        fn consume(&self, envelope: Envelope<ExportMetricsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            assert!(envelope.acks.is_empty(), "derived metrics carry no acks");
            self.batches.lock().unwrap().push(envelope.data.clone());
            envelope.commit();
            self.arrived.notify_one();
            Box::pin(async { Ok(()) })
        }
    }

    impl Capture {
        fn taken(&self) -> Vec<ExportMetricsServiceRequest> {
            std::mem::take(&mut *self.batches.lock().unwrap())
        }
    }

    const PATH: &str = "connectors.servicegraph";

    fn parse_body(body: &str) -> (ServiceGraphConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(body).expect("YAML");
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, PATH);
        (config, errors)
    }

    fn settings(body: &str) -> ServiceGraphConfig {
        let (config, errors) = parse_body(body);
        assert!(errors.is_empty(), "{errors:?}");
        config
    }

    fn errors(body: &str) -> Vec<String> {
        parse_body(body).1
    }

    fn connector_with(config: &ServiceGraphConfig, capture: &Arc<Capture>) -> (ServiceGraphConnector, Arc<ComponentCounters>) {
        let counters = ComponentCounters::detached("connector/servicegraph");
        let id = ComponentId {
            kind: "servicegraph".into(),
            name: None,
        };
        let connector = ServiceGraphConnector::new(&id, config, capture.clone(), counters.clone());
        (connector, counters)
    }

    fn kv(key: &str, value: &str) -> KeyValue {
        string_attribute(key, value)
    }

    fn int_kv(key: &str, value: i64) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Some(AnyValue {
                value: Some(any_value::Value::IntValue(value)),
            }),
            ..Default::default()
        }
    }

    const START: u64 = 1_700_000_000_000_000_000;

    /// A span of one trace; `id` and `parent` are repeated into 8-byte span ids.
    fn span(kind: SpanKind, id: u8, parent: Option<u8>, millis: u64) -> Span {
        Span {
            trace_id: vec![7; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: format!("span {id}"),
            kind: kind as i32,
            start_time_unix_nano: START,
            end_time_unix_nano: START + millis * 1_000_000,
            ..Default::default()
        }
    }

    fn failed(mut span: Span) -> Span {
        span.status = Some(Status {
            code: StatusCode::Error as i32,
            ..Default::default()
        });
        span
    }

    fn with(mut span: Span, attributes: Vec<KeyValue>) -> Span {
        span.attributes = attributes;
        span
    }

    fn resource_spans(attributes: Vec<KeyValue>, spans: Vec<Span>) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn service(name: &str, spans: Vec<Span>) -> ResourceSpans {
        resource_spans(vec![kv("service.name", name)], spans)
    }

    fn traces(resource_spans: Vec<ResourceSpans>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest { resource_spans }
    }

    fn render_attributes(attributes: &[KeyValue]) -> String {
        let pairs: Vec<String> = attributes
            .iter()
            .map(|kv| {
                let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    Some(any_value::Value::BoolValue(b)) => b.to_string(),
                    other => format!("{other:?}"),
                };
                format!("{}={value}", kv.key)
            })
            .collect();
        format!("{{{}}}", pairs.join(", "))
    }

    /// One line per data point in output order: `name {attrs} = 2` for counters, `name {attrs} =
    /// count 2 sum 0.5 [le0.4:2]` for explicit histograms (non-empty buckets only, `inf` last) and
    /// `name {attrs} = count 1 sum 0.5 scale 20 zero 0 offset -1048577 [1]` for exponential ones.
    fn lines(request: &ExportMetricsServiceRequest) -> Vec<String> {
        let mut out = Vec::new();
        for rm in &request.resource_metrics {
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    match m.data.as_ref().unwrap() {
                        metric::Data::Sum(sum) => {
                            for p in &sum.data_points {
                                let Some(number_data_point::Value::AsInt(v)) = p.value else {
                                    panic!("counts are integers")
                                };
                                out.push(format!("{} {} = {v}", m.name, render_attributes(&p.attributes)));
                            }
                        }
                        metric::Data::Histogram(h) => {
                            for p in &h.data_points {
                                let buckets: Vec<String> = p
                                    .bucket_counts
                                    .iter()
                                    .enumerate()
                                    .filter(|(_, n)| **n > 0)
                                    .map(|(i, n)| match p.explicit_bounds.get(i) {
                                        Some(bound) => format!("le{bound}:{n}"),
                                        None => format!("inf:{n}"),
                                    })
                                    .collect();
                                out.push(format!(
                                    "{} {} = count {} sum {} [{}]",
                                    m.name,
                                    render_attributes(&p.attributes),
                                    p.count,
                                    p.sum.unwrap(),
                                    buckets.join(" ")
                                ));
                            }
                        }
                        metric::Data::ExponentialHistogram(h) => {
                            for p in &h.data_points {
                                let positive = p.positive.clone().unwrap_or_default();
                                out.push(format!(
                                    "{} {} = count {} sum {} scale {} zero {} offset {} {:?}",
                                    m.name,
                                    render_attributes(&p.attributes),
                                    p.count,
                                    p.sum.unwrap(),
                                    p.scale,
                                    p.zero_count,
                                    positive.offset,
                                    positive.bucket_counts
                                ));
                            }
                        }
                        other => panic!("unexpected metric data {other:?}"),
                    }
                }
            }
        }
        out
    }

    fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn a_client_span_and_its_server_child_make_one_edge_with_both_latencies() {
        let capture = Arc::new(Capture::default());
        let (connector, counters) = connector_with(&settings("{}"), &capture);
        // The server span comes first: either side may open the edge. Internal spans are no side.
        let request = traces(vec![
            service("api", vec![span(SpanKind::Server, 2, Some(1), 250)]),
            service(
                "frontend",
                vec![span(SpanKind::Client, 1, None, 300), span(SpanKind::Internal, 3, Some(1), 5)],
            ),
        ]);
        let (ack, receiver) = AckToken::new();
        let before = now_ns();
        connector.consume(Envelope::new(request, ack)).await.unwrap();
        assert_eq!(receiver.await.unwrap(), Ok(()), "the spans' acks are committed at once");
        assert!(connector.graph.lock().store.edges.is_empty(), "the pair left the store");
        assert!(capture.taken().is_empty(), "nothing is sent before a flush");
        connector.flush().await;
        let after = now_ns();

        let batches = capture.taken();
        assert_eq!(batches.len(), 1);
        let edge = "{client=frontend, server=api, connection_type=, failed=false}";
        assert_eq!(
            lines(&batches[0]),
            [
                format!("traces_service_graph_request_total {edge} = 1"),
                format!("traces_service_graph_request_server {edge} = count 1 sum 0.25 [le0.4:1]"),
                format!("traces_service_graph_request_client {edge} = count 1 sum 0.3 [le0.4:1]"),
            ]
        );
        let rm = &batches[0].resource_metrics[0];
        assert_eq!(rm.resource, Some(Resource::default()), "one resource without attributes");
        let sm = &rm.scope_metrics[0];
        assert_eq!(sm.scope.as_ref().unwrap().name, "traces_service_graph");
        let Some(metric::Data::Sum(total)) = &sm.metrics[0].data else {
            panic!("the request count is a sum")
        };
        assert!(total.is_monotonic);
        assert_eq!(total.aggregation_temporality, AggregationTemporality::Cumulative as i32);
        for latency in &sm.metrics[1..] {
            assert_eq!(latency.unit, "s");
            let Some(metric::Data::Histogram(h)) = &latency.data else {
                panic!("explicit histograms by default")
            };
            assert_eq!(h.aggregation_temporality, AggregationTemporality::Cumulative as i32);
            let p = &h.data_points[0];
            assert_eq!(p.explicit_bounds, DEFAULT_BUCKETS_SECONDS.to_vec());
            assert_eq!(p.bucket_counts.len(), 17);
            assert!(p.start_time_unix_nano <= before, "cumulative from the connector's start");
            assert!(before <= p.time_unix_nano);
            assert!(p.time_unix_nano <= after);
        }
        assert_eq!((load(&counters.sent), load(&counters.dropped)), (3, 0), "data points sent");

        // Cumulative: a second edge of the series adds to the first.
        let again = traces(vec![
            service("frontend", vec![span(SpanKind::Client, 4, None, 100)]),
            service("api", vec![span(SpanKind::Server, 5, Some(4), 50)]),
        ]);
        connector.consume(Envelope::unacked(again)).await.unwrap();
        connector.flush().await;
        assert_eq!(
            lines(&capture.taken()[0])[0],
            format!("traces_service_graph_request_total {edge} = 2")
        );
    }

    #[tokio::test]
    async fn an_error_on_either_side_counts_the_request_as_failed() {
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings("{}"), &capture);
        let request = traces(vec![
            service(
                "frontend",
                vec![
                    span(SpanKind::Client, 1, None, 10),
                    failed(span(SpanKind::Client, 3, None, 10)),
                    span(SpanKind::Client, 5, None, 10),
                ],
            ),
            service(
                "api",
                vec![
                    failed(span(SpanKind::Server, 2, Some(1), 10)),
                    span(SpanKind::Server, 4, Some(3), 10),
                    span(SpanKind::Server, 6, Some(5), 10),
                ],
            ),
        ]);
        connector.consume(Envelope::unacked(request)).await.unwrap();
        connector.flush().await;
        let failed = "{client=frontend, server=api, connection_type=, failed=true}";
        let ok = "{client=frontend, server=api, connection_type=, failed=false}";
        assert_eq!(
            lines(&capture.taken()[0]),
            [
                format!("traces_service_graph_request_total {failed} = 2"),
                format!("traces_service_graph_request_total {ok} = 1"),
                format!("traces_service_graph_request_failed_total {failed} = 2"),
                format!("traces_service_graph_request_server {failed} = count 2 sum 0.02 [le0.01:2]"),
                format!("traces_service_graph_request_server {ok} = count 1 sum 0.01 [le0.01:1]"),
                format!("traces_service_graph_request_client {failed} = count 2 sum 0.02 [le0.01:2]"),
                format!("traces_service_graph_request_client {ok} = count 1 sum 0.01 [le0.01:1]"),
            ]
        );
    }

    #[tokio::test]
    async fn expired_edges_become_edges_to_virtual_nodes_and_the_rest_are_dropped_and_counted() {
        let capture = Arc::new(Capture::default());
        let (connector, counters) = connector_with(&settings("virtual_node_extra_label: true"), &capture);
        let graph = &connector.graph;
        let t = Instant::now();
        let request = traces(vec![
            service(
                "frontend",
                vec![
                    // peer.service comes before db.system among the default peer attributes.
                    with(
                        span(SpanKind::Client, 1, None, 100),
                        vec![kv("db.system", "redis"), kv("peer.service", "payments")],
                    ),
                    span(SpanKind::Client, 2, None, 100),
                ],
            ),
            service(
                "api",
                vec![
                    // A root server span: its client is the user.
                    span(SpanKind::Server, 3, None, 50),
                    // Its client span never comes: dropped.
                    span(SpanKind::Server, 4, Some(9), 50),
                ],
            ),
        ]);
        graph.aggregate(&request, t);
        graph.expire(t + Duration::from_secs(1));
        assert_eq!(graph.lock().store.edges.len(), 4, "nothing expires before store.ttl (2s)");
        graph.expire(t + Duration::from_secs(3));
        assert!(graph.lock().store.edges.is_empty());
        assert_eq!(load(&counters.dropped), 1);
        connector.flush().await;
        let to_payments = "{client=frontend, server=payments, connection_type=virtual_node, failed=false, virtual_node=server}";
        let to_unknown = "{client=frontend, server=unknown, connection_type=virtual_node, failed=false, virtual_node=server}";
        let from_user = "{client=user, server=api, connection_type=virtual_node, failed=false, virtual_node=client}";
        assert_eq!(
            lines(&capture.taken()[0]),
            [
                format!("traces_service_graph_request_total {to_payments} = 1"),
                format!("traces_service_graph_request_total {to_unknown} = 1"),
                format!("traces_service_graph_request_total {from_user} = 1"),
                format!("traces_service_graph_request_server {to_payments} = count 1 sum 0 [le0.002:1]"),
                format!("traces_service_graph_request_server {to_unknown} = count 1 sum 0 [le0.002:1]"),
                format!("traces_service_graph_request_server {from_user} = count 1 sum 0.05 [le0.05:1]"),
                format!("traces_service_graph_request_client {to_payments} = count 1 sum 0.1 [le0.1:1]"),
                format!("traces_service_graph_request_client {to_unknown} = count 1 sum 0.1 [le0.1:1]"),
                format!("traces_service_graph_request_client {from_user} = count 1 sum 0 [le0.002:1]"),
            ]
        );

        // An empty peer attribute list turns virtual nodes off: every expired edge is dropped.
        let capture = Arc::new(Capture::default());
        let (connector, counters) = connector_with(&settings("virtual_node_peer_attributes: []"), &capture);
        connector.graph.aggregate(&request, t);
        connector.graph.expire(t + Duration::from_secs(3));
        connector.flush().await;
        assert!(capture.taken().is_empty());
        assert_eq!(load(&counters.dropped), 4);
    }

    #[tokio::test]
    async fn the_store_holds_at_most_max_items_edges_and_drops_spans_finding_it_full() {
        let capture = Arc::new(Capture::default());
        let (connector, counters) = connector_with(&settings("store: { ttl: 2s, max_items: 2 }"), &capture);
        let graph = &connector.graph;
        let t = Instant::now();
        let clients = |ids: &[u8]| {
            traces(vec![service(
                "frontend",
                ids.iter().map(|id| span(SpanKind::Client, *id, None, 10)).collect(),
            )])
        };
        let held = || graph.lock().store.edges.len();
        graph.aggregate(&clients(&[1, 2, 3]), t);
        assert_eq!((held(), load(&counters.dropped)), (2, 1), "the third span found the store full");
        let servers = traces(vec![service(
            "api",
            vec![span(SpanKind::Server, 11, Some(3), 10), span(SpanKind::Server, 12, Some(1), 10)],
        )]);
        graph.aggregate(&servers, t);
        assert_eq!(
            (held(), load(&counters.dropped)),
            (1, 2),
            "the refused span's pair finds no room either; a pair completes without needing any"
        );

        // Once the oldest edge has expired, a new one takes its place, the expired one becoming an edge
        // to a virtual node.
        graph.aggregate(&clients(&[4, 5]), t + Duration::from_secs(3));
        let mut waiting: Vec<u8> = graph.lock().store.edges.keys().map(|k| k.span_id[0]).collect();
        waiting.sort_unstable();
        assert_eq!(waiting, [4, 5]);
        assert_eq!(load(&counters.dropped), 2);
        connector.flush().await;
        let totals: Vec<String> = lines(&capture.taken()[0])
            .into_iter()
            .filter(|l| l.starts_with(REQUEST_TOTAL))
            .collect();
        assert_eq!(
            totals,
            [
                "traces_service_graph_request_total {client=frontend, server=api, connection_type=, failed=false} = 1",
                "traces_service_graph_request_total {client=frontend, server=unknown, connection_type=virtual_node, failed=false} = 1",
            ]
        );
    }

    #[tokio::test]
    async fn database_calls_complete_at_once_and_producers_pair_with_consumers_as_messaging() {
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings("database_name_attributes: [db.namespace, db.name]"), &capture);
        let request = traces(vec![
            service(
                "api",
                vec![
                    with(
                        span(SpanKind::Client, 1, None, 20),
                        vec![kv("db.system", "postgresql"), kv("db.name", "orders")],
                    ),
                    // The first listed attribute wins.
                    with(
                        span(SpanKind::Client, 2, None, 20),
                        vec![kv("db.name", "ignored"), kv("db.namespace", "users")],
                    ),
                    span(SpanKind::Producer, 3, None, 10),
                ],
            ),
            service("billing", vec![span(SpanKind::Consumer, 4, Some(3), 20)]),
        ]);
        connector.graph.aggregate(&request, Instant::now());
        assert!(connector.graph.lock().store.edges.is_empty(), "nothing waits");
        connector.flush().await;
        let orders = "{client=api, server=orders, connection_type=database, failed=false}";
        let users = "{client=api, server=users, connection_type=database, failed=false}";
        let queue = "{client=api, server=billing, connection_type=messaging_system, failed=false}";
        assert_eq!(
            lines(&capture.taken()[0]),
            [
                format!("traces_service_graph_request_total {orders} = 1"),
                format!("traces_service_graph_request_total {users} = 1"),
                format!("traces_service_graph_request_total {queue} = 1"),
                format!("traces_service_graph_request_server {orders} = count 1 sum 0.02 [le0.05:1]"),
                format!("traces_service_graph_request_server {users} = count 1 sum 0.02 [le0.05:1]"),
                format!("traces_service_graph_request_server {queue} = count 1 sum 0.02 [le0.05:1]"),
                format!("traces_service_graph_request_client {orders} = count 1 sum 0.02 [le0.05:1]"),
                format!("traces_service_graph_request_client {users} = count 1 sum 0.02 [le0.05:1]"),
                format!("traces_service_graph_request_client {queue} = count 1 sum 0.01 [le0.01:1]"),
            ]
        );
    }

    #[tokio::test]
    async fn dimensions_are_prefixed_with_their_side_and_the_resource_wins_over_the_span() {
        let config = settings("dimensions: [deployment.environment, http.request.method, http.response.status_code]");
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&config, &capture);
        let request = traces(vec![
            resource_spans(
                vec![kv("service.name", "frontend"), kv("deployment.environment", "prod")],
                vec![with(
                    span(SpanKind::Client, 1, None, 10),
                    vec![kv("deployment.environment", "ignored"), kv("http.request.method", "GET")],
                )],
            ),
            service(
                "api",
                vec![with(
                    span(SpanKind::Server, 2, Some(1), 10),
                    vec![
                        kv("deployment.environment", "canary"),
                        kv("http.request.method", "GET"),
                        int_kv("http.response.status_code", 200),
                    ],
                )],
            ),
        ]);
        connector.consume(Envelope::unacked(request)).await.unwrap();
        connector.flush().await;
        assert_eq!(
            lines(&capture.taken()[0])[0],
            "traces_service_graph_request_total {client=frontend, server=api, connection_type=, failed=false, \
             client_deployment.environment=prod, server_deployment.environment=canary, client_http.request.method=GET, \
             server_http.request.method=GET, server_http.response.status_code=200} = 1"
        );
    }

    #[tokio::test]
    async fn exponential_histogram_max_size_makes_the_latencies_exponential_histograms() {
        let config = settings("exponential_histogram_max_size: 10");
        assert_eq!(config.histogram, LatencyHistogram::Exponential { max_size: 10 });
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&config, &capture);
        let request = traces(vec![
            service("frontend", vec![span(SpanKind::Client, 1, None, 500)]),
            service("api", vec![span(SpanKind::Server, 2, Some(1), 250)]),
        ]);
        connector.consume(Envelope::unacked(request)).await.unwrap();
        connector.flush().await;
        let output = capture.taken();
        let edge = "{client=frontend, server=api, connection_type=, failed=false}";
        assert_eq!(
            lines(&output[0]),
            [
                format!("traces_service_graph_request_total {edge} = 1"),
                format!("traces_service_graph_request_server {edge} = count 1 sum 0.25 scale 20 zero 0 offset -2097153 [1]"),
                format!("traces_service_graph_request_client {edge} = count 1 sum 0.5 scale 20 zero 0 offset -1048577 [1]"),
            ]
        );
        let Some(metric::Data::ExponentialHistogram(h)) = &output[0].resource_metrics[0].scope_metrics[0].metrics[1].data else {
            panic!("an exponential histogram")
        };
        assert_eq!(h.aggregation_temporality, AggregationTemporality::Cumulative as i32);
        assert_eq!((h.data_points[0].min, h.data_points[0].max), (Some(0.25), Some(0.25)));
    }

    #[tokio::test]
    async fn series_not_updated_for_15_minutes_are_forgotten_by_the_cache_loop() {
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings("{}"), &capture);
        let graph = &connector.graph;
        let t = Instant::now();
        let pair = |client: &str, server: &str| {
            traces(vec![
                service(client, vec![span(SpanKind::Client, 1, None, 10)]),
                service(server, vec![span(SpanKind::Server, 2, Some(1), 10)]),
            ])
        };
        graph.aggregate(&pair("frontend", "api"), t);
        graph.aggregate(&pair("api", "auth"), t + Duration::from_secs(600));
        graph.clean(t + Duration::from_secs(14 * 60));
        assert_eq!(graph.lock().series.series.len(), 2);
        graph.clean(t + Duration::from_secs(16 * 60));
        connector.flush().await;
        assert_eq!(
            lines(&capture.taken()[0])[0],
            "traces_service_graph_request_total {client=api, server=auth, connection_type=, failed=false} = 1"
        );
        assert_eq!(graph.lock().series.index.len(), 1, "the index follows");
        graph.aggregate(&pair("api", "auth"), t + Duration::from_secs(17 * 60));
        assert_eq!(graph.lock().series.series[0].requests, 2, "the kept series is still found");
    }

    #[tokio::test]
    async fn the_timer_flushes_every_interval_and_shutdown_expires_waiting_edges_then_flushes() {
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings("metrics_flush_interval: 20ms"), &capture);
        let request = traces(vec![
            service("frontend", vec![span(SpanKind::Client, 1, None, 10)]),
            service("api", vec![span(SpanKind::Server, 2, Some(1), 10)]),
        ]);
        connector.consume(Envelope::unacked(request)).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), capture.arrived.notified())
            .await
            .expect("the timer flushed");
        assert_eq!(
            lines(&capture.taken()[0])[0],
            "traces_service_graph_request_total {client=frontend, server=api, connection_type=, failed=false} = 1"
        );

        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings("{}"), &capture);
        assert_eq!(connector.graph.config.flush_interval, Duration::from_secs(60));
        let root = traces(vec![service("api", vec![span(SpanKind::Server, 1, None, 10)])]);
        connector.consume(Envelope::unacked(root)).await.unwrap();
        connector.shutdown().await;
        let batches = capture.taken();
        assert_eq!(batches.len(), 1, "shutdown flushed");
        assert_eq!(
            lines(&batches[0])[0],
            "traces_service_graph_request_total {client=user, server=api, connection_type=virtual_node, failed=false} = 1",
            "the waiting root span expired at shutdown"
        );
        assert!(connector.timer.lock().unwrap().is_none(), "the timer has stopped");
    }

    #[tokio::test]
    async fn a_zero_metrics_flush_interval_flushes_after_every_batch() {
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings("metrics_flush_interval: 0s"), &capture);
        let request = traces(vec![
            service("frontend", vec![span(SpanKind::Client, 1, None, 10)]),
            service("api", vec![span(SpanKind::Server, 2, Some(1), 10)]),
        ]);
        connector.consume(Envelope::unacked(request)).await.unwrap();
        assert_eq!(capture.taken().len(), 1);
        let unpaired = traces(vec![service("frontend", vec![span(SpanKind::Client, 3, None, 10)])]);
        connector.consume(Envelope::unacked(unpaired)).await.unwrap();
        assert_eq!(capture.taken().len(), 1, "the cumulative series again");
    }

    #[test]
    fn the_defaults_are_the_collectors() {
        let config = settings("{}");
        assert_eq!(config, ServiceGraphConfig::default());
        assert_eq!(config.histogram, LatencyHistogram::Explicit(DEFAULT_BUCKETS_SECONDS.to_vec()));
        assert_eq!((config.store_ttl, config.store_max_items), (Duration::from_secs(2), 1000));
        assert_eq!(
            (config.cache_loop, config.store_expiration_loop, config.flush_interval),
            (Duration::from_secs(60), Duration::from_secs(2), Duration::from_secs(60))
        );
        assert_eq!(config.virtual_node_peer_attributes, ["peer.service", "db.name", "db.system"]);
        assert_eq!(config.database_name_attributes, ["db.name"]);
        assert!(!config.virtual_node_extra_label);
        assert_eq!(settings("~"), ServiceGraphConfig::default(), "an empty section");

        let zeros = settings(
            "cache_loop: 0s\nstore_expiration_loop: 0s\nmetrics_flush_interval: 0s\nvirtual_node_peer_attributes: []\ndatabase_name_attributes: []\nmetrics_exporter: prometheus",
        );
        assert_eq!(
            (zeros.cache_loop, zeros.store_expiration_loop, zeros.flush_interval),
            (Duration::from_secs(60), Duration::from_secs(2), Duration::ZERO),
            "0 means the default for the loops, and flushing after every batch"
        );
        assert!(
            zeros.virtual_node_peer_attributes.is_empty(),
            "an explicit empty list turns virtual nodes off"
        );
        assert_eq!(zeros.database_name_attributes, ["db.name"], "an empty list is the default");
    }

    #[test]
    fn the_testdata_example_loads() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/connector/testdata/servicegraph.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let root: Value = serde_yaml_ng::from_str(&text).unwrap();
        let section = root.get("servicegraph").expect("a servicegraph section");
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), section, PATH);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            config.histogram,
            LatencyHistogram::Explicit(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
        );
        assert_eq!(config.dimensions, ["deployment.environment.name", "http.request.method"]);
        assert_eq!((config.store_ttl, config.store_max_items), (Duration::from_millis(500), 5000));
        assert_eq!(config.flush_interval, Duration::from_millis(20));
        assert!(config.virtual_node_extra_label);
    }

    #[test]
    fn the_collectors_older_keys_load_as_the_collector_reads_them() {
        // The shape of the Collector's own testdata: bare bucket numbers are nanoseconds (Go's
        // time.Duration), and the deprecated singular database_name_attribute is still read.
        let root: Value = serde_yaml_ng::from_str(
            "latency_histogram_buckets: [1,2,3]\ndatabase_name_attribute: peer.db\ndatabase_name_attributes: [db.name]",
        )
        .unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &root, PATH);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.histogram, LatencyHistogram::Explicit(vec![1e-9, 2e-9, 3e-9]));
        assert_eq!(config.database_name_attributes, ["peer.db", "db.name"]);
    }

    #[test]
    fn config_errors_name_their_paths() {
        let at = PATH;
        assert_eq!(
            errors(
                "latency_histogram_buckets: [100ms, 50ms, 1]
dimensions: [http.method, \"\", http.method]
store: { ttl: soon, max_items: 0, size: 3 }
cache_loop: 5
virtual_node_extra_label: yes
database_name_attribute: db.name
flush: 1s"
            ),
            [
                format!("{at}.flush: unknown key (expected one of: {})", KEYS.join(", ")),
                format!("{at}.latency_histogram_buckets[1]: buckets must be in increasing order"),
                format!("{at}.latency_histogram_buckets[2]: buckets must be in increasing order"),
                format!("{at}.dimensions[1]: must not be empty"),
                format!("{at}.dimensions[2]: duplicate dimension \"http.method\""),
                format!("{at}.store.size: unknown key (expected one of: ttl, max_items)"),
                format!("{at}.store.ttl: expected a duration like 250ms, 15m, 12h or 7d, got 'soon'"),
                format!("{at}.store.max_items: must be greater than 0"),
                format!("{at}.cache_loop: expected a duration like 200ms or 5s, got a number"),
                format!("{at}.virtual_node_extra_label: expected true or false, got a string"),
            ]
        );
        assert_eq!(
            errors("latency_histogram_buckets: [1s]\nexponential_histogram_max_size: 160"),
            [format!(
                "{at}: use either latency_histogram_buckets or exponential_histogram_max_size, not both"
            )]
        );
        assert_eq!(
            errors("exponential_histogram_max_size: 1"),
            [format!(
                "{at}.exponential_histogram_max_size: must be 0 (explicit buckets) or from 2 to 4096, got 1"
            )]
        );
        assert_eq!(
            errors("exponential_histogram_max_size: -3"),
            [format!(
                "{at}.exponential_histogram_max_size: expected a non-negative integer, got a number"
            )]
        );
        assert_eq!(errors("[1, 2]"), [format!("{at}: expected a mapping, got a list")]);
    }
}
