//! The spanmetrics connector: R.E.D. metrics (call counts and a duration histogram per service, span
//! name, kind and status, plus configured dimensions) aggregated from a traces pipeline and flushed
//! into the metrics pipelines that list it as a receiver, as the Collector's spanmetricsconnector does.
//! The duration histogram has explicit buckets (`histogram.explicit.buckets`, the Collector's 16 by
//! default) or, with `histogram.exponential`, base-2 exponential buckets (OTLP's exponential histogram,
//! same name and unit), at most `max_size` (160 by default) per series: each series starts at scale 20
//! and lowers its scale just enough to hold every duration it has counted, as the Collector's library
//! does; points carry count, sum, min and max, and zero durations go to the zero bucket.
//! With `events.enabled` an events counter counts span events per series and per configured event
//! attribute; with `exemplars.enabled` every data point carries up to `max_per_data_point` of the
//! spans it counted this interval (trace id, span id, duration), cleared at each flush as in the Collector.
//!
//! Spans are aggregated when they arrive and their envelope is committed at once: the metrics are
//! derived data, so holding the traces' acks until a flush would only delay the senders. A timer task
//! flushes every `metrics_flush_interval` (and `shutdown` a final time) as unacknowledged envelopes; a
//! refused flush is logged and its data points counted as dropped.
//!
//! Memory is bounded: at most `resource_metrics_cache_size` resources (the least recently used one is
//! evicted, as in the Collector) and per resource at most `aggregation_cardinality_limit` series (or
//! `dimensions_cache_size` when no limit is set) for the calls and duration metrics and as many for the
//! events metric; spans beyond that are counted in one overflow series whose only attribute is
//! `otel.metric.overflow: true`. Exemplars are at most `max_per_data_point` per series.

use crate::config::{ComponentId, ComponentType, Parser, Settings};
use crate::connector::exponential::{self, ExponentialBuckets};
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
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_yaml_ng::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The Collector's default duration buckets, in milliseconds.
pub const DEFAULT_BUCKETS_MS: [f64; 16] = [
    2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0, 10_000.0, 15_000.0,
];
/// The Collector's default namespace: metrics are `traces.span.metrics.calls` and `...duration`.
pub const DEFAULT_NAMESPACE: &str = "traces.span.metrics";
/// The instrumentation scope of the emitted metrics (the Collector's).
pub const SCOPE_NAME: &str = "spanmetricsconnector";
/// The attribute of the one series that counts what exceeded the cardinality limit.
pub const OVERFLOW_ATTRIBUTE: &str = "otel.metric.overflow";

const SERVICE_NAME: &str = "service.name";
const SPAN_NAME: &str = "span.name";
const SPAN_KIND: &str = "span.kind";
const STATUS_CODE: &str = "status.code";
const SCOPE_NAME_ATTRIBUTE: &str = "span.instrumentation.scope.name";
const SCOPE_VERSION_ATTRIBUTE: &str = "span.instrumentation.scope.version";
/// The dimensions every series has unless `exclude_dimensions` removes them.
const DEFAULT_DIMENSIONS: [&str; 4] = [SERVICE_NAME, SPAN_NAME, SPAN_KIND, STATUS_CODE];

const DEFAULT_DIMENSIONS_CACHE_SIZE: usize = 1000;
const DEFAULT_RESOURCE_METRICS_CACHE_SIZE: usize = 1000;
/// The Collector's default `exemplars.max_per_data_point`.
pub const DEFAULT_EXEMPLARS_PER_DATA_POINT: usize = 5;
/// The Collector's default `histogram.exponential.max_size` (its library's default, also what 0 means).
pub const DEFAULT_EXPONENTIAL_MAX_SIZE: usize = exponential::DEFAULT_MAX_SIZE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Temporality {
    Cumulative,
    Delta,
}

impl Temporality {
    fn otlp(self) -> i32 {
        match self {
            Temporality::Cumulative => AggregationTemporality::Cumulative as i32,
            Temporality::Delta => AggregationTemporality::Delta as i32,
        }
    }
}

/// The unit durations are recorded in (`histogram.unit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurationUnit {
    Milliseconds,
    Seconds,
}

impl DurationUnit {
    fn nanos(self) -> f64 {
        match self {
            DurationUnit::Milliseconds => 1e6,
            DurationUnit::Seconds => 1e9,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            DurationUnit::Milliseconds => "ms",
            DurationUnit::Seconds => "s",
        }
    }
}

/// An extra dimension: looked up in the span's attributes, then the resource's; without a `default`
/// it is left out of a series whose spans lack it.
#[derive(Clone, Debug, PartialEq)]
pub struct Dimension {
    pub name: String,
    pub default: Option<String>,
}

/// `exemplars`: the spans behind each data point of the calls, duration and events metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExemplarsConfig {
    pub enabled: bool,
    /// Exemplars kept per data point and flush interval: the first spans of the interval, as in the Collector.
    pub max_per_data_point: usize,
}

impl Default for ExemplarsConfig {
    fn default() -> Self {
        ExemplarsConfig {
            enabled: false,
            max_per_data_point: DEFAULT_EXEMPLARS_PER_DATA_POINT,
        }
    }
}

/// `events`: the `{namespace}.events` counter of span events, per span series and per value of the
/// event attributes named in `dimensions` (at least one when enabled, as in the Collector).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventsConfig {
    pub enabled: bool,
    pub dimensions: Vec<Dimension>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SpanMetricsConfig {
    /// Prefix of the metric names (`{namespace}.calls`); empty means bare `calls` and `duration`.
    pub namespace: String,
    pub flush_interval: Duration,
    pub temporality: Temporality,
    /// False with `histogram.disable: true`: only the calls metric is emitted.
    pub histogram_enabled: bool,
    pub unit: DurationUnit,
    /// Explicit bucket bounds in `unit`, strictly increasing (unused with `exponential_max_size`).
    pub bounds: Vec<f64>,
    /// `histogram.exponential`: durations go into a base-2 exponential histogram of at most this many
    /// buckets per series instead of the explicit buckets. None: explicit buckets.
    pub exponential_max_size: Option<usize>,
    pub dimensions: Vec<Dimension>,
    /// Which of service.name, span.name, span.kind, status.code are left out.
    pub exclude_dimensions: Vec<String>,
    /// Series per resource before spans go to the overflow series: `aggregation_cardinality_limit`,
    /// or `dimensions_cache_size` when that is 0 or absent (so there is always a bound).
    pub series_limit: usize,
    /// Resources held at once (`resource_metrics_cache_size`); the least recently used is evicted.
    pub resource_limit: usize,
    /// The resource attributes that tell resources apart (`resource_metrics_key_attributes`); empty
    /// means all of them.
    pub resource_key_attributes: Vec<String>,
    /// `metrics_expiration`: cumulative series of a resource not seen for this long stop being sent.
    pub expiration: Option<Duration>,
    /// Scope names whose name and version become the `span.instrumentation.scope.*` dimensions.
    pub include_instrumentation_scope: Vec<String>,
    pub exemplars: ExemplarsConfig,
    pub events: EventsConfig,
}

impl Default for SpanMetricsConfig {
    /// The Collector's defaults, with the spec's 60 s flush interval.
    fn default() -> Self {
        SpanMetricsConfig {
            namespace: DEFAULT_NAMESPACE.to_string(),
            flush_interval: Duration::from_secs(60),
            temporality: Temporality::Cumulative,
            histogram_enabled: true,
            unit: DurationUnit::Milliseconds,
            bounds: DEFAULT_BUCKETS_MS.to_vec(),
            exponential_max_size: None,
            dimensions: Vec::new(),
            exclude_dimensions: Vec::new(),
            series_limit: DEFAULT_DIMENSIONS_CACHE_SIZE,
            resource_limit: DEFAULT_RESOURCE_METRICS_CACHE_SIZE,
            resource_key_attributes: Vec::new(),
            expiration: None,
            include_instrumentation_scope: Vec::new(),
            exemplars: ExemplarsConfig::default(),
            events: EventsConfig::default(),
        }
    }
}

const KEYS: [&str; 15] = [
    "namespace",
    "metrics_flush_interval",
    "aggregation_temporality",
    "histogram",
    "dimensions",
    "exclude_dimensions",
    "dimensions_cache_size",
    "aggregation_cardinality_limit",
    "resource_metrics_cache_size",
    "resource_metrics_key_attributes",
    "metrics_expiration",
    "include_instrumentation_scope",
    "metric_timestamp_cache_size",
    "exemplars",
    "events",
];
/// Collector keys this connector does not implement: named, so a Collector config fails precisely.
const UNSUPPORTED_KEYS: [&str; 1] = ["calls_dimensions"];

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> SpanMetricsConfig {
    let mut config = SpanMetricsConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let mut known = body.clone();
    for key in UNSUPPORTED_KEYS {
        if known.remove(key).is_some() {
            p.error(
                &format!("{path}.{key}"),
                "is not supported by this otelbox's spanmetrics connector yet",
            );
        }
    }
    p.only_keys(&known, &KEYS, path);
    let at = |key: &str| format!("{path}.{key}");

    if let Some(v) = body.get("namespace") {
        config.namespace = p.string(v, &at("namespace")).unwrap_or(config.namespace);
    }
    if let Some(v) = body.get("metrics_flush_interval") {
        match p.duration(v, &at("metrics_flush_interval")) {
            Some(d) if d.is_zero() => p.error(&at("metrics_flush_interval"), "must be greater than 0"),
            Some(d) => config.flush_interval = d,
            None => {}
        }
    }
    if let Some(v) = body.get("aggregation_temporality") {
        match p.string(v, &at("aggregation_temporality")).as_deref() {
            Some("AGGREGATION_TEMPORALITY_CUMULATIVE") => config.temporality = Temporality::Cumulative,
            Some("AGGREGATION_TEMPORALITY_DELTA") => config.temporality = Temporality::Delta,
            Some(other) => p.error(
                &at("aggregation_temporality"),
                format!("expected AGGREGATION_TEMPORALITY_CUMULATIVE or AGGREGATION_TEMPORALITY_DELTA, got '{other}'"),
            ),
            None => {}
        }
    }
    if let Some(v) = body.get("histogram") {
        histogram(p, v, &at("histogram"), &mut config);
    }
    config.dimensions = dimensions(p, body.get("dimensions"), &at("dimensions"));
    config.exclude_dimensions = p.string_list(body.get("exclude_dimensions"), &at("exclude_dimensions"));
    for (i, name) in config.exclude_dimensions.iter().enumerate() {
        if !DEFAULT_DIMENSIONS.contains(&name.as_str()) {
            p.error(
                &format!("{path}.exclude_dimensions[{i}]"),
                format!("'{name}' is not a default dimension (service.name, span.name, span.kind or status.code)"),
            );
        }
    }
    let positive = |p: &mut Parser, key: &str| -> Option<usize> {
        let n = p.unsigned(body.get(key)?, &at(key))?;
        if n == 0 {
            p.error(&at(key), "must be greater than 0");
            return None;
        }
        Some(usize::try_from(n).unwrap_or(usize::MAX))
    };
    let dimensions_cache_size = positive(p, "dimensions_cache_size").unwrap_or(DEFAULT_DIMENSIONS_CACHE_SIZE);
    let cardinality_limit = match body.get("aggregation_cardinality_limit") {
        Some(v) => p.unsigned(v, &at("aggregation_cardinality_limit")).unwrap_or(0),
        None => 0,
    };
    config.series_limit = match cardinality_limit {
        0 => dimensions_cache_size,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    };
    config.resource_limit = positive(p, "resource_metrics_cache_size").unwrap_or(DEFAULT_RESOURCE_METRICS_CACHE_SIZE);
    // Delta start times here are the previous flush's time, which needs no per-series cache; the key
    // is accepted (and checked) so Collector configs load.
    let _ = positive(p, "metric_timestamp_cache_size");
    config.resource_key_attributes = p.string_list(body.get("resource_metrics_key_attributes"), &at("resource_metrics_key_attributes"));
    if let Some(v) = body.get("metrics_expiration") {
        config.expiration = p.duration(v, &at("metrics_expiration")).filter(|d| !d.is_zero());
    }
    config.include_instrumentation_scope = p.string_list(body.get("include_instrumentation_scope"), &at("include_instrumentation_scope"));
    if let Some(v) = body.get("exemplars") {
        config.exemplars = exemplars(p, v, &at("exemplars"));
    }
    if let Some(v) = body.get("events") {
        config.events = events(p, v, &at("events"));
    }
    config
}

fn exemplars(p: &mut Parser, value: &Value, path: &str) -> ExemplarsConfig {
    let mut config = ExemplarsConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["enabled", "max_per_data_point"], path);
    if let Some(v) = body.get("enabled") {
        config.enabled = p.boolean(v, &format!("{path}.enabled")).unwrap_or(false);
    }
    if let Some(v) = body.get("max_per_data_point") {
        let at = format!("{path}.max_per_data_point");
        match p.unsigned(v, &at) {
            Some(0) => p.error(&at, "must be greater than 0 (turn exemplars off with enabled: false)"),
            Some(n) => config.max_per_data_point = usize::try_from(n).unwrap_or(usize::MAX),
            None => {}
        }
    }
    config
}

fn events(p: &mut Parser, value: &Value, path: &str) -> EventsConfig {
    let mut config = EventsConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["enabled", "dimensions"], path);
    if let Some(v) = body.get("enabled") {
        config.enabled = p.boolean(v, &format!("{path}.enabled")).unwrap_or(false);
    }
    let missing = match body.get("dimensions") {
        None | Some(Value::Null) => true,
        Some(Value::Sequence(items)) => items.is_empty(),
        Some(_) => false,
    };
    config.dimensions = dimensions(p, body.get("dimensions"), &format!("{path}.dimensions"));
    if config.enabled && missing {
        p.error(
            &format!("{path}.dimensions"),
            "name at least one event attribute to count events by, e.g. [ { name: exception.type } ] (required when events are enabled, as in the Collector)",
        );
    }
    config
}

fn histogram(p: &mut Parser, value: &Value, path: &str, config: &mut SpanMetricsConfig) {
    let Some(body) = p.mapping(Some(value), path) else { return };
    let mut known = body.clone();
    if known.remove("dimensions").is_some() {
        p.error(
            &format!("{path}.dimensions"),
            "is not supported by this otelbox's spanmetrics connector yet",
        );
    }
    p.only_keys(&known, &["disable", "unit", "explicit", "exponential"], path);
    if let Some(v) = body.get("disable") {
        config.histogram_enabled = !p.boolean(v, &format!("{path}.disable")).unwrap_or(false);
    }
    if let Some(v) = body.get("unit") {
        match p.string(v, &format!("{path}.unit")).as_deref() {
            Some("ms") => config.unit = DurationUnit::Milliseconds,
            Some("s") => config.unit = DurationUnit::Seconds,
            Some(other) => p.error(&format!("{path}.unit"), format!("expected ms or s, got '{other}'")),
            None => {}
        }
    }
    let unit = config.unit;
    config.bounds = DEFAULT_BUCKETS_MS.iter().map(|ms| ms * 1e6 / unit.nanos()).collect();
    // A null section is an absent one, as the Collector reads it: a bare `exponential:` leaves the
    // explicit buckets (write `exponential: {}` for the default size).
    let exponential = body.get("exponential").filter(|v| !v.is_null());
    if exponential.is_some() && body.get("explicit").is_some_and(|v| !v.is_null()) {
        p.error(path, "use either `explicit` or `exponential` buckets histogram, not both");
    }
    if let Some(exponential) = exponential {
        config.exponential_max_size = Some(exponential_max_size(p, exponential, &format!("{path}.exponential")));
    }
    let explicit_path = format!("{path}.explicit");
    let Some(explicit) = body.get("explicit") else { return };
    let Some(explicit) = p.mapping(Some(explicit), &explicit_path) else {
        return;
    };
    p.only_keys(explicit, &["buckets"], &explicit_path);
    let Some(buckets) = explicit.get("buckets") else { return };
    let buckets_path = format!("{explicit_path}.buckets");
    let mut bounds = Vec::new();
    for (at, bucket) in p.list(Some(buckets), &buckets_path) {
        let Some(duration) = p.duration(bucket, &at) else { continue };
        let bound = duration.as_nanos() as f64 / unit.nanos();
        if bounds.last().is_some_and(|previous| *previous >= bound) {
            p.error(&at, "buckets must be in increasing order");
        }
        bounds.push(bound);
    }
    config.bounds = bounds;
}

/// `histogram.exponential.max_size`: 0 or absent is the Collector's default (160); otherwise from 2 to
/// 16384, the bounds of the Collector's library (which would quietly clamp what is outside them).
fn exponential_max_size(p: &mut Parser, value: &Value, path: &str) -> usize {
    let Some(body) = p.mapping(Some(value), path) else {
        return DEFAULT_EXPONENTIAL_MAX_SIZE;
    };
    p.only_keys(body, &["max_size"], path);
    let at = format!("{path}.max_size");
    let Some(v) = body.get("max_size").filter(|v| !v.is_null()) else {
        return DEFAULT_EXPONENTIAL_MAX_SIZE;
    };
    match p.unsigned(v, &at) {
        Some(0) | None => DEFAULT_EXPONENTIAL_MAX_SIZE,
        Some(n) if (exponential::MIN_MAX_SIZE..=exponential::MAX_MAX_SIZE).contains(&n) => usize::try_from(n).unwrap_or(usize::MAX),
        Some(n) => {
            p.error(
                &at,
                format!(
                    "must be 0 (the default, {DEFAULT_EXPONENTIAL_MAX_SIZE}) or from {} to {}, got {n}",
                    exponential::MIN_MAX_SIZE,
                    exponential::MAX_MAX_SIZE
                ),
            );
            DEFAULT_EXPONENTIAL_MAX_SIZE
        }
    }
}

fn dimensions(p: &mut Parser, value: Option<&Value>, path: &str) -> Vec<Dimension> {
    let mut out: Vec<Dimension> = Vec::new();
    for (at, item) in p.list(value, path) {
        let Some(body) = p.mapping(Some(item), &at) else { continue };
        p.only_keys(body, &["name", "default"], &at);
        let name = match body.get("name") {
            Some(v) => p.string(v, &format!("{at}.name")),
            None => {
                p.error(&at, "name is required");
                None
            }
        };
        let default = body.get("default").filter(|v| !v.is_null()).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => {
                p.error(&format!("{at}.default"), "expected a string");
                None
            }
        });
        let Some(name) = name else { continue };
        if name.is_empty() {
            p.error(&format!("{at}.name"), "must not be empty");
        } else if DEFAULT_DIMENSIONS.contains(&name.as_str()) || out.iter().any(|d| d.name == name) {
            p.error(&format!("{at}.name"), format!("duplicate dimension name \"{name}\""));
        } else {
            out.push(Dimension { name, default });
        }
    }
    out
}

pub struct Factory;

impl ComponentType for Factory {
    fn type_name(&self) -> &'static str {
        "spanmetrics"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["span_metrics"]
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
            traces: Some(Arc::new(SpanMetricsConnector::new(
                id,
                settings.get(),
                metrics,
                counters.traces.clone(),
            ))),
            ..SignalConsumers::default()
        })
    }
}

pub struct SpanMetricsConnector {
    aggregator: Arc<Aggregator>,
    /// Tells the flush timer to stop (also when dropped).
    stop: watch::Sender<bool>,
    timer: Mutex<Option<JoinHandle<()>>>,
}

impl SpanMetricsConnector {
    /// Starts the flush timer, so this must run inside a tokio runtime.
    pub fn new(
        id: &ComponentId,
        config: &SpanMetricsConfig,
        metrics: SharedConsumer<ExportMetricsServiceRequest>,
        counters: Arc<ComponentCounters>,
    ) -> Self {
        let aggregator = Arc::new(Aggregator::new(id, config, metrics, counters));
        let (stop, mut stopped) = watch::channel(false);
        let period = config.flush_interval.max(Duration::from_millis(1));
        let timer_aggregator = aggregator.clone();
        let timer = tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => timer_aggregator.flush(now_ns()).await,
                    _ = stopped.changed() => break,
                }
            }
        });
        SpanMetricsConnector {
            aggregator,
            stop,
            timer: Mutex::new(Some(timer)),
        }
    }

    /// Sends what has been aggregated now, as the timer does.
    pub async fn flush(&self) {
        self.aggregator.flush(now_ns()).await;
    }
}

impl Consumer<ExportTraceServiceRequest> for SpanMetricsConnector {
    fn consume(&self, envelope: Envelope<ExportTraceServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
        self.aggregator.aggregate(&envelope.data, now_ns());
        envelope.commit();
        Box::pin(async { Ok(()) })
    }

    /// Stops the timer (letting a flush in progress finish), then flushes a final time.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.stop.send(true);
            let timer = self.timer.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(timer) = timer {
                let _ = timer.await;
            }
            self.flush().await;
        })
    }
}

/// The aggregation state shared by the connector and its flush timer.
struct Aggregator {
    id: String,
    config: SpanMetricsConfig,
    /// Each configured dimension's default as the attribute value it becomes.
    defaults: Vec<Option<AnyValue>>,
    /// The events metric's dimensions: the configured ones, then the events' own.
    event_dimensions: Vec<Dimension>,
    /// Each of `event_dimensions`' default as the attribute value it becomes.
    event_defaults: Vec<Option<AnyValue>>,
    calls_name: String,
    duration_name: String,
    events_name: String,
    metrics: SharedConsumer<ExportMetricsServiceRequest>,
    counters: Arc<ComponentCounters>,
    state: Mutex<State>,
}

struct State {
    resources: HashMap<Vec<u8>, ResourceSeries>,
    /// Bumped on every use of a resource, to find the least recently used one.
    uses: u64,
    /// Numbers resources in order of first sight, so output order is stable.
    created: u64,
    /// The start of the current delta interval: the previous flush (or the connector's start).
    interval_start_ns: u64,
}

/// The series of one resource.
struct ResourceSeries {
    attributes: Vec<KeyValue>,
    /// The series of the calls and duration metrics.
    spans: SeriesTable,
    /// The series of the events metric (empty unless `events.enabled`).
    events: SeriesTable,
    created: u64,
    last_used: u64,
    last_seen_ns: u64,
}

/// At most `limit` series told apart by their key, in order of first sight; what comes beyond the
/// limit is counted in one overflow series.
#[derive(Default)]
struct SeriesTable {
    series: Vec<Series>,
    index: HashMap<Vec<u8>, usize>,
    overflow: Option<Series>,
}

impl SeriesTable {
    /// The series of `key`, created with `attributes()` if new and under the limit, else the overflow series.
    fn entry(
        &mut self,
        key: Vec<u8>,
        limit: usize,
        now: u64,
        durations: DurationHistogram,
        attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> &mut Series {
        if let Some(&i) = self.index.get(&key) {
            return &mut self.series[i];
        }
        if self.series.len() >= limit {
            return self
                .overflow
                .get_or_insert_with(|| Series::new(vec![bool_attribute(OVERFLOW_ATTRIBUTE, true)], now, durations));
        }
        self.index.insert(key, self.series.len());
        self.series.push(Series::new(attributes(), now, durations));
        self.series.last_mut().expect("just pushed")
    }

    /// Every series, the overflow series last.
    fn all(&self) -> Vec<&Series> {
        self.series.iter().chain(&self.overflow).collect()
    }

    fn clear_exemplars(&mut self) {
        for series in self.series.iter_mut().chain(&mut self.overflow) {
            series.exemplars.clear();
        }
    }
}

/// How a new series records span durations (the connector's configuration decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DurationHistogram {
    /// Not at all: `histogram.disable`, and the events metric's series.
    Off,
    /// In explicit buckets: one more count than the bounds.
    Explicit(usize),
    /// In base-2 exponential buckets, at most this many.
    Exponential(usize),
}

struct Series {
    attributes: Vec<KeyValue>,
    /// When the series was first seen: the start time of its cumulative points.
    start_ns: u64,
    calls: u64,
    /// One more than the bounds (the last counts durations above the last bound); empty when the
    /// histogram is disabled or exponential (and for events).
    bucket_counts: Vec<u64>,
    duration_sum: f64,
    /// The durations with `histogram.exponential` (which keeps its own sum).
    exponential: Option<ExponentialBuckets>,
    /// The first spans counted since the last flush (their time is set when they are sent).
    exemplars: Vec<Exemplar>,
}

impl Series {
    fn new(attributes: Vec<KeyValue>, start_ns: u64, durations: DurationHistogram) -> Series {
        let (buckets, exponential) = match durations {
            DurationHistogram::Off => (0, None),
            DurationHistogram::Explicit(buckets) => (buckets, None),
            DurationHistogram::Exponential(max_size) => (0, Some(ExponentialBuckets::new(max_size))),
        };
        Series {
            attributes,
            start_ns,
            calls: 0,
            bucket_counts: vec![0; buckets],
            duration_sum: 0.0,
            exponential,
            exemplars: Vec::new(),
        }
    }

    /// Keeps the span as an exemplar with its duration as the value, unless `max` are held already
    /// or the span has no trace id (as in the Collector).
    fn add_exemplar(&mut self, span: &Span, duration: f64, max: usize) {
        if self.exemplars.len() >= max || span.trace_id.iter().all(|b| *b == 0) {
            return;
        }
        self.exemplars.push(Exemplar {
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
            value: Some(exemplar::Value::AsDouble(duration)),
            ..Default::default()
        });
    }

    /// The exemplars as sent in a data point at `now`.
    fn exemplars_at(&self, now: u64) -> Vec<Exemplar> {
        self.exemplars
            .iter()
            .map(|e| Exemplar {
                time_unix_nano: now,
                ..e.clone()
            })
            .collect()
    }

    fn observe(&mut self, duration: f64, bounds: &[f64]) {
        self.calls += 1;
        if let Some(histogram) = &mut self.exponential {
            histogram.observe(duration);
        }
        if !self.bucket_counts.is_empty() {
            // Buckets are upper-inclusive: (bounds[i-1], bounds[i]].
            let index = bounds.partition_point(|bound| *bound < duration);
            if let Some(count) = self.bucket_counts.get_mut(index) {
                *count += 1;
            }
            self.duration_sum += duration;
        }
    }
}

impl Aggregator {
    fn new(
        id: &ComponentId,
        config: &SpanMetricsConfig,
        metrics: SharedConsumer<ExportMetricsServiceRequest>,
        counters: Arc<ComponentCounters>,
    ) -> Aggregator {
        let name = |metric: &str| match config.namespace.as_str() {
            "" => metric.to_string(),
            namespace => format!("{namespace}.{metric}"),
        };
        let defaults = |dimensions: &[Dimension]| -> Vec<Option<AnyValue>> {
            dimensions.iter().map(|d| d.default.as_deref().map(string_value)).collect()
        };
        let event_dimensions: Vec<Dimension> = config.dimensions.iter().chain(&config.events.dimensions).cloned().collect();
        Aggregator {
            id: id.to_string(),
            defaults: defaults(&config.dimensions),
            event_defaults: defaults(&event_dimensions),
            event_dimensions,
            calls_name: name("calls"),
            duration_name: name("duration"),
            events_name: name("events"),
            config: config.clone(),
            metrics,
            counters,
            state: Mutex::new(State {
                resources: HashMap::new(),
                uses: 0,
                created: 0,
                interval_start_ns: now_ns(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn includes(&self, dimension: &str) -> bool {
        !self.config.exclude_dimensions.iter().any(|d| d == dimension)
    }

    /// Adds every span to its series. Resources without a `service.name` are skipped (as in the Collector).
    fn aggregate(&self, traces: &ExportTraceServiceRequest, now: u64) {
        let durations = match (self.config.histogram_enabled, self.config.exponential_max_size) {
            (false, _) => DurationHistogram::Off,
            (true, Some(max_size)) => DurationHistogram::Exponential(max_size),
            (true, None) => DurationHistogram::Explicit(self.config.bounds.len() + 1),
        };
        let exemplars = self.config.exemplars;
        let mut state = self.lock();
        for resource_spans in &traces.resource_spans {
            let resource_attributes = resource_spans.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            let Some(service) = find_attribute(resource_attributes, SERVICE_NAME).and_then(as_string) else {
                continue;
            };
            if resource_spans.scope_spans.iter().all(|s| s.spans.is_empty()) {
                continue;
            }
            let resource = state.resource(
                self.resource_key(resource_attributes),
                resource_attributes,
                now,
                self.config.resource_limit,
            );
            for scope_spans in &resource_spans.scope_spans {
                let scope = scope_spans
                    .scope
                    .as_ref()
                    .filter(|s| !s.name.is_empty() && self.config.include_instrumentation_scope.contains(&s.name));
                for span in &scope_spans.spans {
                    let duration = span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano) as f64 / self.config.unit.nanos();
                    let dimensions = self.dimension_values(span, resource_attributes);
                    let key = self.series_key(service, span, scope, &dimensions);
                    let series = resource.spans.entry(key, self.config.series_limit, now, durations, || {
                        self.series_attributes(service, span, scope, &self.config.dimensions, &dimensions)
                    });
                    series.observe(duration, &self.config.bounds);
                    if exemplars.enabled {
                        series.add_exemplar(span, duration, exemplars.max_per_data_point);
                    }
                    if !self.config.events.enabled {
                        continue;
                    }
                    for event in &span.events {
                        let dimensions = self.event_dimension_values(span, event, resource_attributes);
                        let key = self.series_key(service, span, scope, &dimensions);
                        let series = resource
                            .events
                            .entry(key, self.config.series_limit, now, DurationHistogram::Off, || {
                                self.series_attributes(service, span, scope, &self.event_dimensions, &dimensions)
                            });
                        series.observe(duration, &[]);
                        if exemplars.enabled {
                            series.add_exemplar(span, duration, exemplars.max_per_data_point);
                        }
                    }
                }
            }
        }
    }

    /// The value of each configured dimension for this span: its attribute, else the resource's,
    /// else the default; None leaves the dimension out.
    fn dimension_values<'a>(&'a self, span: &'a Span, resource_attributes: &'a [KeyValue]) -> Vec<Option<&'a AnyValue>> {
        self.config
            .dimensions
            .iter()
            .zip(&self.defaults)
            .map(|(d, default)| {
                find_attribute(&span.attributes, &d.name)
                    .or_else(|| find_attribute(resource_attributes, &d.name))
                    .or(default.as_ref())
            })
            .collect()
    }

    /// The value of each of the events metric's dimensions for this event, looked up as the Collector
    /// does: the span's attribute, else the event's, else the resource's, else the default.
    fn event_dimension_values<'a>(
        &'a self,
        span: &'a Span,
        event: &'a Event,
        resource_attributes: &'a [KeyValue],
    ) -> Vec<Option<&'a AnyValue>> {
        self.event_dimensions
            .iter()
            .zip(&self.event_defaults)
            .map(|(d, default)| {
                find_attribute(&span.attributes, &d.name)
                    .or_else(|| find_attribute(&event.attributes, &d.name))
                    .or_else(|| find_attribute(resource_attributes, &d.name))
                    .or(default.as_ref())
            })
            .collect()
    }

    /// Identifies a series within its resource: the default dimensions' texts and the encoded
    /// values of the others, each length-prefixed so no two different series share a key.
    fn series_key(&self, service: &str, span: &Span, scope: Option<&InstrumentationScope>, dimensions: &[Option<&AnyValue>]) -> Vec<u8> {
        let mut key = Vec::with_capacity(64);
        let mut push = |text: &str| {
            key.extend_from_slice(&(text.len() as u64).to_le_bytes());
            key.extend_from_slice(text.as_bytes());
        };
        for (dimension, text) in [
            (SERVICE_NAME, service),
            (SPAN_NAME, span.name.as_str()),
            (SPAN_KIND, span_kind(span.kind)),
            (STATUS_CODE, status_code(span)),
        ] {
            if self.includes(dimension) {
                push(text);
            }
        }
        if let Some(scope) = scope {
            push(&scope.name);
            push(&scope.version);
        }
        for value in dimensions {
            match value {
                Some(value) => {
                    key.push(1);
                    value.encode_length_delimited(&mut key).expect("a Vec grows as needed");
                }
                None => key.push(0),
            }
        }
        key
    }

    /// The attributes of a new series; `dimensions` are the values of `names`.
    fn series_attributes(
        &self,
        service: &str,
        span: &Span,
        scope: Option<&InstrumentationScope>,
        names: &[Dimension],
        dimensions: &[Option<&AnyValue>],
    ) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(6 + dimensions.len());
        for (dimension, text) in [
            (SERVICE_NAME, service),
            (SPAN_NAME, span.name.as_str()),
            (SPAN_KIND, span_kind(span.kind)),
            (STATUS_CODE, status_code(span)),
        ] {
            if self.includes(dimension) {
                attributes.push(attribute(dimension, string_value(text)));
            }
        }
        if let Some(scope) = scope {
            attributes.push(attribute(SCOPE_NAME_ATTRIBUTE, string_value(&scope.name)));
            if !scope.version.is_empty() {
                attributes.push(attribute(SCOPE_VERSION_ATTRIBUTE, string_value(&scope.version)));
            }
        }
        for (d, value) in names.iter().zip(dimensions) {
            let Some(value) = value else { continue };
            // An events dimension named like a configured dimension sets its value, as in the Collector.
            match attributes.iter_mut().find(|kv| kv.key == d.name) {
                Some(existing) => existing.value = Some((*value).clone()),
                None => attributes.push(attribute(&d.name, (*value).clone())),
            }
        }
        attributes
    }

    /// Resources are told apart by their attributes (or the configured key attributes), in any order.
    fn resource_key(&self, attributes: &[KeyValue]) -> Vec<u8> {
        let keys = &self.config.resource_key_attributes;
        let mut chosen: Vec<&KeyValue> = attributes.iter().filter(|kv| keys.is_empty() || keys.contains(&kv.key)).collect();
        chosen.sort_by(|a, b| a.key.cmp(&b.key));
        let mut key = Vec::new();
        for kv in chosen {
            kv.encode_length_delimited(&mut key).expect("a Vec grows as needed");
        }
        key
    }

    /// Sends the current metrics on; a refusal is logged and its data points counted as dropped.
    async fn flush(&self, now: u64) {
        let payload = self.collect(now);
        let points = payload.item_count();
        if points == 0 {
            return;
        }
        match self.metrics.consume(Envelope::unacked(payload)).await {
            Ok(()) => self.counters.record_sent(points),
            Err(error) => {
                tracing::warn!(connector = %self.id, points, %error, "span metrics were refused by the metrics pipeline and are dropped");
                self.counters.record_dropped(points);
            }
        }
    }

    /// Builds the metrics at `now` and resets for the next interval: delta forgets everything,
    /// cumulative forgets only resources unseen for `metrics_expiration`, and exemplars (which
    /// belong to one interval, as in the Collector).
    fn collect(&self, now: u64) -> ExportMetricsServiceRequest {
        let mut state = self.lock();
        let interval_start = state.interval_start_ns;
        let mut resources: Vec<&ResourceSeries> = state.resources.values().collect();
        resources.sort_by_key(|r| r.created);
        let resource_metrics = resources
            .into_iter()
            .map(|resource| self.resource_metrics(resource, interval_start, now))
            .collect();
        match (self.config.temporality, self.config.expiration) {
            (Temporality::Delta, _) => state.resources.clear(),
            (Temporality::Cumulative, Some(expiration)) => {
                let expiration = u64::try_from(expiration.as_nanos()).unwrap_or(u64::MAX);
                state.resources.retain(|_, r| now.saturating_sub(r.last_seen_ns) < expiration);
            }
            (Temporality::Cumulative, None) => {}
        }
        if self.config.exemplars.enabled {
            for resource in state.resources.values_mut() {
                resource.spans.clear_exemplars();
                resource.events.clear_exemplars();
            }
        }
        state.interval_start_ns = now;
        ExportMetricsServiceRequest { resource_metrics }
    }

    fn resource_metrics(&self, resource: &ResourceSeries, interval_start: u64, now: u64) -> ResourceMetrics {
        let all = resource.spans.all();
        let start = |series: &Series| match self.config.temporality {
            Temporality::Cumulative => series.start_ns,
            Temporality::Delta => interval_start,
        };
        let temporality = self.config.temporality.otlp();
        // A monotonic counter of each series' `calls` (the spans, or the events, it counted).
        let counter = |name: &str, series: &[&Series]| Metric {
            name: name.to_string(),
            data: Some(metric::Data::Sum(Sum {
                data_points: series
                    .iter()
                    .map(|series| NumberDataPoint {
                        attributes: series.attributes.clone(),
                        start_time_unix_nano: start(series),
                        time_unix_nano: now,
                        value: Some(number_data_point::Value::AsInt(i64::try_from(series.calls).unwrap_or(i64::MAX))),
                        exemplars: series.exemplars_at(now),
                        ..Default::default()
                    })
                    .collect(),
                aggregation_temporality: temporality,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let mut metrics = vec![counter(self.calls_name.as_str(), all.as_slice())];
        if self.config.histogram_enabled {
            let data = match self.config.exponential_max_size {
                None => metric::Data::Histogram(Histogram {
                    data_points: all
                        .iter()
                        .map(|series| HistogramDataPoint {
                            attributes: series.attributes.clone(),
                            start_time_unix_nano: start(series),
                            time_unix_nano: now,
                            count: series.calls,
                            sum: Some(series.duration_sum),
                            bucket_counts: series.bucket_counts.clone(),
                            explicit_bounds: self.config.bounds.clone(),
                            exemplars: series.exemplars_at(now),
                            ..Default::default()
                        })
                        .collect(),
                    aggregation_temporality: temporality,
                }),
                // Same name and unit as the explicit one, as in the Collector; its points carry the
                // series' exemplars too.
                Some(_) => metric::Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: all
                        .iter()
                        .filter_map(|series| {
                            let histogram = series.exponential.as_ref()?;
                            Some(ExponentialHistogramDataPoint {
                                exemplars: series.exemplars_at(now),
                                ..histogram.point(series.attributes.clone(), start(series), now)
                            })
                        })
                        .collect(),
                    aggregation_temporality: temporality,
                }),
            };
            metrics.push(Metric {
                name: self.duration_name.clone(),
                unit: self.config.unit.as_str().to_string(),
                data: Some(data),
                ..Default::default()
            });
        }
        // Only a resource whose spans had events this interval (or, cumulative, ever) has the events
        // metric: the Collector sends an empty one, which says nothing.
        let events = resource.events.all();
        if self.config.events.enabled && !events.is_empty() {
            metrics.push(counter(self.events_name.as_str(), events.as_slice()));
        }
        ResourceMetrics {
            resource: Some(Resource {
                attributes: resource.attributes.clone(),
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: SCOPE_NAME.to_string(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }
    }
}

impl State {
    /// The resource's series, created if new; when `limit` resources are held, the least recently
    /// used one is evicted first (its series start over if it comes back).
    fn resource(&mut self, key: Vec<u8>, attributes: &[KeyValue], now: u64, limit: usize) -> &mut ResourceSeries {
        self.uses += 1;
        let uses = self.uses;
        if !self.resources.contains_key(&key) {
            if self.resources.len() >= limit.max(1) {
                let oldest = self.resources.iter().min_by_key(|(_, r)| r.last_used).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.resources.remove(&oldest);
                }
            }
            self.created += 1;
            let created = self.created;
            self.resources.insert(
                key.clone(),
                ResourceSeries {
                    attributes: attributes.to_vec(),
                    spans: SeriesTable::default(),
                    events: SeriesTable::default(),
                    created,
                    last_used: uses,
                    last_seen_ns: now,
                },
            );
        }
        let resource = self.resources.get_mut(&key).expect("present or just inserted");
        resource.last_used = uses;
        resource.last_seen_ns = now;
        resource
    }
}

/// `SPAN_KIND_SERVER` style, as the Collector writes span kinds ("" for a value OTLP does not define).
fn span_kind(kind: i32) -> &'static str {
    SpanKind::try_from(kind).map_or("", |k| k.as_str_name())
}

/// `STATUS_CODE_ERROR` style.
fn status_code(span: &Span) -> &'static str {
    let code = span.status.as_ref().map_or(0, |s| s.code);
    StatusCode::try_from(code).map_or("", |c| c.as_str_name())
}

fn as_string(value: &AnyValue) -> Option<&str> {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn string_value(text: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text.to_string())),
    }
}

fn attribute(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(value),
        ..Default::default()
    }
}

fn bool_attribute(key: &str, value: bool) -> KeyValue {
    attribute(
        key,
        AnyValue {
            value: Some(any_value::Value::BoolValue(value)),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Kind;
    use crate::pipeline::ack::AckToken;
    use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

    /// Keeps every flushed payload (or refuses them all) and says when one arrived.
    #[derive(Default)]
    struct Capture {
        batches: Mutex<Vec<ExportMetricsServiceRequest>>,
        refuse: bool,
        arrived: tokio::sync::Notify,
    }

    impl Consumer<ExportMetricsServiceRequest> for Capture {
        fn consume(&self, envelope: Envelope<ExportMetricsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            if self.refuse {
                let error = PipelineError::retryable("the metrics pipeline is full");
                envelope.fail(&error);
                return Box::pin(async move { Err(error) });
            }
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

    /// A full config with a traces pipeline exporting to the connector and a metrics pipeline
    /// receiving from it; `body` is the connector's settings, indented by four spaces.
    fn full_config(body: &str) -> String {
        format!(
            "receivers:\n  otlp: {{ protocols: {{ http: {{}} }} }}\nexporters:\n  otelbox: {{}}\nconnectors:\n  spanmetrics:\n{body}\nservice:\n  pipelines:\n    traces: {{ receivers: [otlp], exporters: [otelbox, spanmetrics] }}\n    metrics: {{ receivers: [otlp, spanmetrics], exporters: [otelbox] }}\n"
        )
    }

    fn settings(body: &str) -> SpanMetricsConfig {
        let config = crate::components::parse_config(&full_config(body)).unwrap_or_else(|e| panic!("{e}"));
        let (_, settings) = config.settings_of::<SpanMetricsConfig>(Kind::Connector, "spanmetrics")[0];
        settings.clone()
    }

    fn errors(body: &str) -> Vec<String> {
        crate::components::parse_config(&full_config(body)).map(|_| ()).unwrap_err().0
    }

    fn connector_with(settings: &SpanMetricsConfig, capture: &Arc<Capture>) -> (SpanMetricsConnector, Arc<ComponentCounters>) {
        let counters = ComponentCounters::detached("connector/spanmetrics");
        let id = ComponentId {
            kind: "spanmetrics".into(),
            name: None,
        };
        let connector = SpanMetricsConnector::new(&id, settings, capture.clone(), counters.clone());
        (connector, counters)
    }

    fn text(key: &str, value: &str) -> KeyValue {
        attribute(key, string_value(value))
    }

    fn int(key: &str, value: i64) -> KeyValue {
        attribute(
            key,
            AnyValue {
                value: Some(any_value::Value::IntValue(value)),
            },
        )
    }

    const START: u64 = 1_700_000_000_000_000_000;

    fn span(name: &str, kind: SpanKind, code: StatusCode, duration_ns: i64, attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: name.into(),
            kind: kind as i32,
            start_time_unix_nano: START,
            end_time_unix_nano: START.saturating_add_signed(duration_ns),
            attributes,
            status: Some(Status {
                code: code as i32,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn resource_spans(resource: Vec<KeyValue>, scope: &str, spans: Vec<Span>) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.into(),
                    version: "1.2.0".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn traces(resource_spans: Vec<ResourceSpans>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest { resource_spans }
    }

    fn render_value(value: Option<&AnyValue>) -> String {
        match value.and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s.clone(),
            Some(any_value::Value::IntValue(i)) => format!("{i}i"),
            Some(any_value::Value::BoolValue(b)) => b.to_string(),
            other => format!("{other:?}"),
        }
    }

    fn render_attributes(attributes: &[KeyValue]) -> String {
        let pairs: Vec<String> = attributes
            .iter()
            .map(|kv| format!("{}={}", kv.key, render_value(kv.value.as_ref())))
            .collect();
        format!("{{{}}}", pairs.join(", "))
    }

    /// An exponential point as `count 3 sum 7 min 1 max 4 scale 6 zero 0 offset -1 len 129 [-1:1 63:1
    /// 127:1]`: its positive buckets' offset and length, then each non-empty bucket as `index:count`.
    fn render_exponential(p: &ExponentialHistogramDataPoint) -> String {
        let positive = p.positive.clone().unwrap_or_default();
        let buckets: Vec<String> = positive
            .bucket_counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| format!("{}:{n}", positive.offset + i as i32))
            .collect();
        format!(
            "count {} sum {} min {} max {} scale {} zero {} offset {} len {} [{}]",
            p.count,
            p.sum.unwrap(),
            p.min.unwrap(),
            p.max.unwrap(),
            p.scale,
            p.zero_count,
            positive.offset,
            positive.bucket_counts.len(),
            buckets.join(" ")
        )
    }

    /// One line per resource and per data point, in output order: `calls {attrs} = 4`, or
    /// `duration {attrs} = count 4 sum 26 [le2:2 le4:1 le50:1]` (only non-empty buckets, `inf` last),
    /// or for exponential histograms `duration {attrs} = ` and `render_exponential`'s line.
    fn lines(request: &ExportMetricsServiceRequest) -> Vec<String> {
        let mut out = Vec::new();
        for rm in &request.resource_metrics {
            out.push(format!("resource {}", render_attributes(&rm.resource.as_ref().unwrap().attributes)));
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    match m.data.as_ref().unwrap() {
                        metric::Data::Sum(sum) => {
                            for p in &sum.data_points {
                                let Some(number_data_point::Value::AsInt(v)) = p.value else {
                                    panic!("calls are integers")
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
                                out.push(format!(
                                    "{} {} = {}",
                                    m.name,
                                    render_attributes(&p.attributes),
                                    render_exponential(p)
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

    const EXAMPLE: &str = "    histogram: { explicit: { buckets: [2ms, 4ms, 6ms, 8ms, 10ms, 50ms, 100ms, 200ms, 400ms, 800ms, 1s, 1400ms, 2s, 5s, 10s, 15s] } }
    dimensions: [ { name: http.method, default: GET }, { name: gen_ai.request.model } ]
    metrics_flush_interval: 15s";

    fn golden_spans() -> ExportTraceServiceRequest {
        use SpanKind::{Client, Internal, Server};
        use StatusCode::{Error, Ok as StatusOk, Unset};
        let ms = 1_000_000;
        traces(vec![
            resource_spans(
                vec![text("service.name", "checkout"), text("deployment.environment", "prod")],
                "shop",
                vec![
                    span("GET /cart", Server, Unset, ms, vec![]),
                    // On a bound: buckets are upper-inclusive. An explicit GET joins the default's series.
                    span("GET /cart", Server, Unset, 2 * ms, vec![text("http.method", "GET")]),
                    span("GET /cart", Server, Unset, 3 * ms, vec![]),
                    span("GET /cart", Server, Unset, 20 * ms, vec![]),
                    span("GET /cart", Server, Error, 450 * ms, vec![text("http.method", "POST")]),
                    span("charge", Client, Error, 1500 * ms, vec![text("gen_ai.request.model", "gpt-4o")]),
                    // An end before the start counts as 0 ms, as in the Collector.
                    span("clock skew", Internal, StatusOk, -5 * ms, vec![]),
                ],
            ),
            resource_spans(
                vec![text("service.name", "llm-gateway"), text("gen_ai.request.model", "claude-sonnet-4")],
                "llm",
                vec![
                    span("chat", Client, Unset, 16_000 * ms, vec![]),
                    span("chat", Client, Unset, 9_000 * ms, vec![text("gen_ai.request.model", "gpt-4o")]),
                ],
            ),
            // No service.name: skipped, as in the Collector.
            resource_spans(vec![text("host.name", "box")], "x", vec![span("orphan", Server, Unset, ms, vec![])]),
        ])
    }

    #[tokio::test]
    async fn the_yaml_example_turns_golden_spans_into_red_metrics() {
        let settings = settings(EXAMPLE);
        assert_eq!(settings.flush_interval, Duration::from_secs(15));
        assert_eq!(settings.bounds, DEFAULT_BUCKETS_MS.to_vec());
        let capture = Arc::new(Capture::default());
        let (connector, counters) = connector_with(&settings, &capture);

        let (ack, receiver) = AckToken::new();
        let before = now_ns();
        connector.consume(Envelope::new(golden_spans(), ack)).await.unwrap();
        assert_eq!(receiver.await.unwrap(), Ok(()), "the spans' acks are committed at once");
        assert!(capture.taken().is_empty(), "nothing is sent before a flush");
        connector.flush().await;
        let after = now_ns();

        let batches = capture.taken();
        assert_eq!(batches.len(), 1);
        let output = &batches[0];
        let checkout = "service.name=checkout";
        let gateway = "service.name=llm-gateway";
        let server = "span.kind=SPAN_KIND_SERVER";
        let client = "span.kind=SPAN_KIND_CLIENT";
        let expected = [
            "resource {service.name=checkout, deployment.environment=prod}".to_string(),
            format!("traces.span.metrics.calls {{{checkout}, span.name=GET /cart, {server}, status.code=STATUS_CODE_UNSET, http.method=GET}} = 4"),
            format!("traces.span.metrics.calls {{{checkout}, span.name=GET /cart, {server}, status.code=STATUS_CODE_ERROR, http.method=POST}} = 1"),
            format!("traces.span.metrics.calls {{{checkout}, span.name=charge, {client}, status.code=STATUS_CODE_ERROR, http.method=GET, gen_ai.request.model=gpt-4o}} = 1"),
            format!("traces.span.metrics.calls {{{checkout}, span.name=clock skew, span.kind=SPAN_KIND_INTERNAL, status.code=STATUS_CODE_OK, http.method=GET}} = 1"),
            format!("traces.span.metrics.duration {{{checkout}, span.name=GET /cart, {server}, status.code=STATUS_CODE_UNSET, http.method=GET}} = count 4 sum 26 [le2:2 le4:1 le50:1]"),
            format!("traces.span.metrics.duration {{{checkout}, span.name=GET /cart, {server}, status.code=STATUS_CODE_ERROR, http.method=POST}} = count 1 sum 450 [le800:1]"),
            format!("traces.span.metrics.duration {{{checkout}, span.name=charge, {client}, status.code=STATUS_CODE_ERROR, http.method=GET, gen_ai.request.model=gpt-4o}} = count 1 sum 1500 [le2000:1]"),
            format!("traces.span.metrics.duration {{{checkout}, span.name=clock skew, span.kind=SPAN_KIND_INTERNAL, status.code=STATUS_CODE_OK, http.method=GET}} = count 1 sum 0 [le2:1]"),
            "resource {service.name=llm-gateway, gen_ai.request.model=claude-sonnet-4}".to_string(),
            format!("traces.span.metrics.calls {{{gateway}, span.name=chat, {client}, status.code=STATUS_CODE_UNSET, http.method=GET, gen_ai.request.model=claude-sonnet-4}} = 1"),
            format!("traces.span.metrics.calls {{{gateway}, span.name=chat, {client}, status.code=STATUS_CODE_UNSET, http.method=GET, gen_ai.request.model=gpt-4o}} = 1"),
            format!("traces.span.metrics.duration {{{gateway}, span.name=chat, {client}, status.code=STATUS_CODE_UNSET, http.method=GET, gen_ai.request.model=claude-sonnet-4}} = count 1 sum 16000 [inf:1]"),
            format!("traces.span.metrics.duration {{{gateway}, span.name=chat, {client}, status.code=STATUS_CODE_UNSET, http.method=GET, gen_ai.request.model=gpt-4o}} = count 1 sum 9000 [le10000:1]"),
        ];
        assert_eq!(lines(output), expected);

        for rm in &output.resource_metrics {
            let sm = &rm.scope_metrics[0];
            assert_eq!(sm.scope.as_ref().unwrap().name, "spanmetricsconnector");
            let [calls, duration] = &sm.metrics[..] else {
                panic!("two metrics")
            };
            assert_eq!((calls.unit.as_str(), duration.unit.as_str()), ("", "ms"));
            let Some(metric::Data::Sum(sum)) = &calls.data else { panic!() };
            assert!(sum.is_monotonic);
            assert_eq!(sum.aggregation_temporality, AggregationTemporality::Cumulative as i32);
            let Some(metric::Data::Histogram(histogram)) = &duration.data else {
                panic!()
            };
            assert_eq!(histogram.aggregation_temporality, AggregationTemporality::Cumulative as i32);
            for p in &histogram.data_points {
                assert_eq!(p.explicit_bounds, DEFAULT_BUCKETS_MS.to_vec());
                assert_eq!(p.bucket_counts.len(), 17);
                assert!(before <= p.start_time_unix_nano && p.start_time_unix_nano <= p.time_unix_nano && p.time_unix_nano <= after);
            }
        }
        assert_eq!(output.item_count(), 12);
        assert_eq!(counters.sent.load(std::sync::atomic::Ordering::Relaxed), 12, "data points sent");
    }

    /// Each series' calls value by span name, for the temporality tests.
    fn calls_by_name(request: &ExportMetricsServiceRequest) -> Vec<(String, i64, u64, u64)> {
        let mut out = Vec::new();
        for rm in &request.resource_metrics {
            let Some(metric::Data::Sum(sum)) = &rm.scope_metrics[0].metrics[0].data else {
                panic!()
            };
            for p in &sum.data_points {
                let name = render_value(find_attribute(&p.attributes, "span.name"));
                let Some(number_data_point::Value::AsInt(v)) = p.value else {
                    panic!()
                };
                out.push((name, v, p.start_time_unix_nano, p.time_unix_nano));
            }
        }
        out
    }

    fn one_span(service: &str, name: &str) -> ExportTraceServiceRequest {
        traces(vec![resource_spans(
            vec![text("service.name", service)],
            "s",
            vec![span(name, SpanKind::Server, StatusCode::Unset, 5_000_000, vec![])],
        )])
    }

    #[tokio::test]
    async fn cumulative_series_keep_their_start_and_totals_across_flushes() {
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings("    {}"), &capture);
        let aggregator = &connector.aggregator;
        let t = now_ns() + 1_000_000_000;
        aggregator.aggregate(&one_span("api", "a"), t);
        aggregator.flush(t + 1000).await;
        aggregator.aggregate(&one_span("api", "a"), t + 2000);
        aggregator.aggregate(&one_span("api", "b"), t + 2000);
        aggregator.flush(t + 3000).await;
        aggregator.flush(t + 4000).await;
        let batches = capture.taken();
        assert_eq!(calls_by_name(&batches[0]), [("a".to_string(), 1, t, t + 1000)]);
        assert_eq!(
            calls_by_name(&batches[1]),
            [("a".to_string(), 2, t, t + 3000), ("b".to_string(), 1, t + 2000, t + 3000)]
        );
        assert_eq!(
            calls_by_name(&batches[2]),
            [("a".to_string(), 2, t, t + 4000), ("b".to_string(), 1, t + 2000, t + 4000)],
            "unchanged series are sent again"
        );
        let Some(metric::Data::Histogram(h)) = &batches[1].resource_metrics[0].scope_metrics[0].metrics[1].data else {
            panic!()
        };
        assert_eq!((h.data_points[0].count, h.data_points[0].sum), (2, Some(10.0)));
    }

    #[tokio::test]
    async fn delta_series_count_only_their_interval_and_start_at_the_previous_flush() {
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings("    aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA"), &capture);
        let aggregator = &connector.aggregator;
        let created = aggregator.lock().interval_start_ns;
        let t = now_ns() + 1_000_000_000;
        aggregator.aggregate(&one_span("api", "a"), t);
        aggregator.flush(t + 1000).await;
        aggregator.aggregate(&one_span("api", "a"), t + 2000);
        aggregator.aggregate(&one_span("api", "b"), t + 2000);
        aggregator.flush(t + 3000).await;
        aggregator.flush(t + 4000).await;
        let batches = capture.taken();
        assert_eq!(batches.len(), 2, "an interval without spans sends nothing");
        assert_eq!(calls_by_name(&batches[0]), [("a".to_string(), 1, created, t + 1000)]);
        assert_eq!(
            calls_by_name(&batches[1]),
            [("a".to_string(), 1, t + 1000, t + 3000), ("b".to_string(), 1, t + 1000, t + 3000)]
        );
        let metrics = &batches[1].resource_metrics[0].scope_metrics[0].metrics;
        let Some(metric::Data::Sum(sum)) = &metrics[0].data else { panic!() };
        assert_eq!(sum.aggregation_temporality, AggregationTemporality::Delta as i32);
        let Some(metric::Data::Histogram(h)) = &metrics[1].data else {
            panic!()
        };
        assert_eq!(h.aggregation_temporality, AggregationTemporality::Delta as i32);
        assert_eq!((h.data_points[0].count, h.data_points[0].sum), (1, Some(5.0)));
    }

    #[test]
    fn histogram_exponential_takes_the_collectors_default_max_size_and_its_limits() {
        let exponential = |body: &str| settings(body).exponential_max_size;
        assert_eq!(exponential("    {}"), None, "explicit buckets by default");
        assert_eq!(exponential("    histogram: { exponential: { max_size: 10 } }"), Some(10));
        assert_eq!(
            exponential("    histogram: { exponential: {} }"),
            Some(DEFAULT_EXPONENTIAL_MAX_SIZE)
        );
        assert_eq!(DEFAULT_EXPONENTIAL_MAX_SIZE, 160);
        assert_eq!(
            exponential("    histogram: { exponential: { max_size: 0 } }"),
            Some(160),
            "0 is the default, as in the Collector"
        );
        assert_eq!(exponential("    histogram: { exponential: { max_size: 2 } }"), Some(2));
        assert_eq!(exponential("    histogram: { exponential: { max_size: 16384 } }"), Some(16_384));
        let config = settings("    histogram: { unit: s, exponential: { max_size: 20 } }");
        assert_eq!(
            (config.unit, config.exponential_max_size, config.histogram_enabled),
            (DurationUnit::Seconds, Some(20), true)
        );
        // As the Collector reads it, a bare `exponential:` is no exponential section at all.
        let config = settings("    histogram:\n      exponential:\n      explicit: { buckets: [1s] }");
        assert_eq!((config.exponential_max_size, config.bounds.clone()), (None, vec![1000.0]));

        let at = "connectors.spanmetrics.histogram";
        assert_eq!(
            errors("    histogram: { exponential: { max_size: 10 }, explicit: { buckets: [10ms, 100ms, 250ms] } }"),
            [format!("{at}: use either `explicit` or `exponential` buckets histogram, not both")],
            "the Collector's exponential_and_explicit_histogram testdata"
        );
        assert_eq!(
            errors("    histogram: { exponential: {}, explicit: {} }"),
            [format!("{at}: use either `explicit` or `exponential` buckets histogram, not both")],
            "two sections, even empty ones, are both"
        );
        for size in [1, 16_385] {
            assert_eq!(
                errors(&format!("    histogram: {{ exponential: {{ max_size: {size} }} }}")),
                [format!(
                    "{at}.exponential.max_size: must be 0 (the default, 160) or from 2 to 16384, got {size}"
                )]
            );
        }
        assert_eq!(
            errors("    histogram: { exponential: { max_size: -3, scale: 2 } }"),
            [
                format!("{at}.exponential.scale: unknown key (expected one of: max_size)"),
                format!("{at}.exponential.max_size: expected a non-negative integer, got a number"),
            ]
        );
        assert_eq!(
            errors("    histogram: { exponential: 160 }"),
            [format!("{at}.exponential: expected a mapping, got a number")]
        );
    }

    #[tokio::test]
    async fn exponential_histograms_hold_golden_durations_at_the_collectors_scales_with_exemplars() {
        let config = settings("    histogram: { exponential: {} }\n    exemplars: { enabled: true, max_per_data_point: 2 }");
        let capture = Arc::new(Capture::default());
        let (connector, counters) = connector_with(&config, &capture);
        let aggregator = &connector.aggregator;
        let ms = 1_000_000;
        let cart = |duration_ns: i64, id: u8| traced(span("GET /cart", SpanKind::Server, StatusCode::Unset, duration_ns, vec![]), id, id);
        let spans = vec![
            // Powers of two are the upper bounds of their buckets, at every scale.
            cart(ms, 1),
            cart(2 * ms, 2),
            cart(4 * ms, 3),
            traced(span("charge", SpanKind::Client, StatusCode::Error, 3 * ms, vec![]), 4, 4),
            // An end before the start counts as 0 ms: the zero bucket.
            traced(span("clock skew", SpanKind::Internal, StatusCode::Ok, -5 * ms, vec![]), 5, 5),
        ];
        let t = now_ns() + 1_000_000_000;
        aggregator.aggregate(&traces(vec![resource_spans(vec![text("service.name", "api")], "s", spans)]), t);
        aggregator.flush(t + 1000).await;
        let output = &capture.taken()[0];
        let cart = "service.name=api, span.name=GET /cart, span.kind=SPAN_KIND_SERVER, status.code=STATUS_CODE_UNSET";
        let charge = "service.name=api, span.name=charge, span.kind=SPAN_KIND_CLIENT, status.code=STATUS_CODE_ERROR";
        let skew = "service.name=api, span.name=clock skew, span.kind=SPAN_KIND_INTERNAL, status.code=STATUS_CODE_OK";
        assert_eq!(
            lines(output),
            [
                "resource {service.name=api}".to_string(),
                format!("traces.span.metrics.calls {{{cart}}} = 3"),
                format!("traces.span.metrics.calls {{{charge}}} = 1"),
                format!("traces.span.metrics.calls {{{skew}}} = 1"),
                // 1 ms and 2 ms need scale 7 in 160 buckets (indices -1 to 127), 4 ms one scale less.
                format!("traces.span.metrics.duration {{{cart}}} = count 3 sum 7 min 1 max 4 scale 6 zero 0 offset -1 len 129 [-1:1 63:1 127:1]"),
                // One duration keeps the finest scale: 3 ms is in (2^(1661953/2^20), 2^(1661954/2^20)].
                format!("traces.span.metrics.duration {{{charge}}} = count 1 sum 3 min 3 max 3 scale 20 zero 0 offset 1661953 len 1 [1661953:1]"),
                // Only zeros: no bucket in use, and scale 0 as the Collector's library reports.
                format!("traces.span.metrics.duration {{{skew}}} = count 1 sum 0 min 0 max 0 scale 0 zero 1 offset 0 len 0 []"),
            ]
        );
        let duration = &output.resource_metrics[0].scope_metrics[0].metrics[1];
        assert_eq!(
            (duration.name.as_str(), duration.unit.as_str()),
            ("traces.span.metrics.duration", "ms")
        );
        let Some(metric::Data::ExponentialHistogram(h)) = &duration.data else {
            panic!("an exponential histogram")
        };
        assert_eq!(h.aggregation_temporality, AggregationTemporality::Cumulative as i32);
        for p in &h.data_points {
            assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (t, t + 1000));
            assert_eq!(p.negative, Some(Buckets::default()), "durations are never negative");
        }
        assert_eq!(
            h.data_points[0].exemplars,
            [exemplar(1, 1, 1.0, t + 1000), exemplar(2, 2, 2.0, t + 1000)],
            "the first spans of the interval, as on the calls point"
        );
        assert_eq!(h.data_points[2].exemplars, [exemplar(5, 5, 0.0, t + 1000)]);
        assert_eq!(output.item_count(), 6);
        assert_eq!(counters.sent.load(std::sync::atomic::Ordering::Relaxed), 6, "data points sent");

        // In seconds, with two buckets: 250 ms and 1 s are (1/16, 1/4] and (1/4, 1] at scale -1.
        let config = settings("    namespace: red\n    histogram: { unit: s, exponential: { max_size: 2 } }");
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&config, &capture);
        let spans = vec![
            span("a", SpanKind::Server, StatusCode::Unset, 250 * ms, vec![]),
            span("a", SpanKind::Server, StatusCode::Unset, 1000 * ms, vec![]),
        ];
        connector
            .consume(Envelope::unacked(traces(vec![resource_spans(
                vec![text("service.name", "api")],
                "s",
                spans,
            )])))
            .await
            .unwrap();
        connector.flush().await;
        let output = &capture.taken()[0];
        assert_eq!(
            lines(output)[2],
            "red.duration {service.name=api, span.name=a, span.kind=SPAN_KIND_SERVER, status.code=STATUS_CODE_UNSET} = count 2 sum 1.25 min 0.25 max 1 scale -1 zero 0 offset -2 len 2 [-2:1 -1:1]"
        );
        assert_eq!(output.resource_metrics[0].scope_metrics[0].metrics[1].unit, "s");
    }

    /// Each exponential duration point's temporality, start, time and `render_exponential` line.
    fn exponential_points(request: &ExportMetricsServiceRequest) -> Vec<(i32, u64, u64, String)> {
        let mut out = Vec::new();
        for rm in &request.resource_metrics {
            let Some(metric::Data::ExponentialHistogram(h)) = &rm.scope_metrics[0].metrics[1].data else {
                panic!("an exponential duration histogram")
            };
            for p in &h.data_points {
                out.push((
                    h.aggregation_temporality,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                    render_exponential(p),
                ));
            }
        }
        out
    }

    #[tokio::test]
    async fn exponential_histograms_accumulate_when_cumulative_and_start_afresh_each_interval_when_delta() {
        let ms = 1_000_000;
        let api = |duration_ns: i64| {
            traces(vec![resource_spans(
                vec![text("service.name", "api")],
                "s",
                vec![span("a", SpanKind::Server, StatusCode::Unset, duration_ns, vec![])],
            )])
        };
        let one_ms = "count 1 sum 1 min 1 max 1 scale 20 zero 0 offset -1 len 1 [-1:1]".to_string();

        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings("    histogram: { exponential: {} }"), &capture);
        let aggregator = &connector.aggregator;
        let t = now_ns() + 1_000_000_000;
        aggregator.aggregate(&api(ms), t);
        aggregator.flush(t + 1000).await;
        aggregator.aggregate(&api(4 * ms), t + 2000);
        aggregator.flush(t + 3000).await;
        aggregator.flush(t + 4000).await;
        let batches = capture.taken();
        let cumulative = AggregationTemporality::Cumulative as i32;
        let both = "count 2 sum 5 min 1 max 4 scale 6 zero 0 offset -1 len 129 [-1:1 127:1]".to_string();
        assert_eq!(exponential_points(&batches[0]), [(cumulative, t, t + 1000, one_ms.clone())]);
        assert_eq!(
            exponential_points(&batches[1]),
            [(cumulative, t, t + 3000, both.clone())],
            "the series' histogram goes on from its first span, its scale lowered to hold both"
        );
        assert_eq!(
            exponential_points(&batches[2]),
            [(cumulative, t, t + 4000, both)],
            "sent again unchanged"
        );

        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(
            &settings("    histogram: { exponential: {} }\n    aggregation_temporality: AGGREGATION_TEMPORALITY_DELTA"),
            &capture,
        );
        let aggregator = &connector.aggregator;
        let created = aggregator.lock().interval_start_ns;
        let t = now_ns() + 1_000_000_000;
        aggregator.aggregate(&api(ms), t);
        aggregator.flush(t + 1000).await;
        aggregator.aggregate(&api(4 * ms), t + 2000);
        aggregator.flush(t + 3000).await;
        aggregator.flush(t + 4000).await;
        let batches = capture.taken();
        assert_eq!(batches.len(), 2, "an interval without spans sends nothing");
        let delta = AggregationTemporality::Delta as i32;
        assert_eq!(exponential_points(&batches[0]), [(delta, created, t + 1000, one_ms)]);
        assert_eq!(
            exponential_points(&batches[1]),
            [(
                delta,
                t + 1000,
                t + 3000,
                "count 1 sum 4 min 4 max 4 scale 20 zero 0 offset 2097151 len 1 [2097151:1]".to_string()
            )],
            "only this interval's span, in a fresh histogram at the finest scale"
        );
    }

    #[tokio::test]
    async fn dimensions_come_from_the_span_then_the_resource_then_the_default() {
        let settings = settings(
            "    dimensions: [ { name: http.method, default: GET }, { name: http.status_code }, { name: region, default: 7 } ]
    exclude_dimensions: [status.code, span.kind]
    include_instrumentation_scope: [shop]",
        );
        assert_eq!(
            settings.dimensions[2],
            Dimension {
                name: "region".into(),
                default: Some("7".into())
            }
        );
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings, &capture);
        let spans = vec![
            span("a", SpanKind::Server, StatusCode::Ok, 1, vec![int("http.status_code", 200)]),
            // Status and kind are excluded, so this joins the first series.
            span("a", SpanKind::Client, StatusCode::Error, 1, vec![int("http.status_code", 200)]),
            span(
                "a",
                SpanKind::Server,
                StatusCode::Unset,
                1,
                vec![text("http.method", "PUT"), text("region", "us")],
            ),
        ];
        let request = traces(vec![
            resource_spans(vec![text("service.name", "api"), text("region", "eu")], "shop", spans.clone()),
            resource_spans(vec![text("service.name", "worker")], "other", spans[..1].to_vec()),
        ]);
        connector.consume(Envelope::unacked(request)).await.unwrap();
        connector.flush().await;
        let output = lines(&capture.taken()[0]);
        let calls: Vec<&String> = output.iter().filter(|l| l.contains(".calls ")).collect();
        assert_eq!(
            calls,
            [
                "traces.span.metrics.calls {service.name=api, span.name=a, span.instrumentation.scope.name=shop, span.instrumentation.scope.version=1.2.0, http.method=GET, http.status_code=200i, region=eu} = 2",
                "traces.span.metrics.calls {service.name=api, span.name=a, span.instrumentation.scope.name=shop, span.instrumentation.scope.version=1.2.0, http.method=PUT, region=us} = 1",
                "traces.span.metrics.calls {service.name=worker, span.name=a, http.method=GET, http.status_code=200i, region=7} = 1",
            ]
        );
    }

    #[tokio::test]
    async fn series_beyond_the_cardinality_limit_go_to_one_overflow_series() {
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(
            &settings("    aggregation_cardinality_limit: 2\n    dimensions_cache_size: 50"),
            &capture,
        );
        let names = ["a", "b", "c", "d", "a", "c"];
        let spans = names
            .iter()
            .map(|name| span(name, SpanKind::Server, StatusCode::Unset, 3_000_000, vec![]))
            .collect();
        connector
            .consume(Envelope::unacked(traces(vec![resource_spans(
                vec![text("service.name", "api")],
                "s",
                spans,
            )])))
            .await
            .unwrap();
        connector.flush().await;
        assert_eq!(
            lines(&capture.taken()[0]),
            [
                "resource {service.name=api}",
                "traces.span.metrics.calls {service.name=api, span.name=a, span.kind=SPAN_KIND_SERVER, status.code=STATUS_CODE_UNSET} = 2",
                "traces.span.metrics.calls {service.name=api, span.name=b, span.kind=SPAN_KIND_SERVER, status.code=STATUS_CODE_UNSET} = 1",
                "traces.span.metrics.calls {otel.metric.overflow=true} = 3",
                "traces.span.metrics.duration {service.name=api, span.name=a, span.kind=SPAN_KIND_SERVER, status.code=STATUS_CODE_UNSET} = count 2 sum 6 [le4:2]",
                "traces.span.metrics.duration {service.name=api, span.name=b, span.kind=SPAN_KIND_SERVER, status.code=STATUS_CODE_UNSET} = count 1 sum 3 [le4:1]",
                "traces.span.metrics.duration {otel.metric.overflow=true} = count 3 sum 9 [le4:3]",
            ]
        );
    }

    #[tokio::test]
    async fn dimensions_cache_size_bounds_series_without_a_cardinality_limit_and_resources_are_bounded_too() {
        let settings = settings("    dimensions_cache_size: 1\n    resource_metrics_cache_size: 2\n    histogram: { disable: true }");
        assert_eq!((settings.series_limit, settings.resource_limit), (1, 2));
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings, &capture);
        let aggregator = &connector.aggregator;
        let t = now_ns();
        aggregator.aggregate(&one_span("one", "a"), t);
        aggregator.aggregate(&one_span("one", "b"), t);
        aggregator.aggregate(&one_span("two", "a"), t);
        aggregator.aggregate(&one_span("one", "a"), t);
        // A third resource evicts the least recently used one ("two").
        aggregator.aggregate(&one_span("three", "a"), t);
        aggregator.flush(t + 1).await;
        assert_eq!(
            lines(&capture.taken()[0]),
            [
                "resource {service.name=one}",
                "traces.span.metrics.calls {service.name=one, span.name=a, span.kind=SPAN_KIND_SERVER, status.code=STATUS_CODE_UNSET} = 2",
                "traces.span.metrics.calls {otel.metric.overflow=true} = 1",
                "resource {service.name=three}",
                "traces.span.metrics.calls {service.name=three, span.name=a, span.kind=SPAN_KIND_SERVER, status.code=STATUS_CODE_UNSET} = 1",
            ]
        );
    }

    #[tokio::test]
    async fn namespace_unit_and_key_attributes_shape_the_output() {
        let settings = settings("    namespace: \"\"\n    histogram: { unit: s }\n    resource_metrics_key_attributes: [service.name]");
        assert_eq!(settings.bounds[0], 0.002);
        assert_eq!(settings.bounds[15], 15.0);
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings, &capture);
        // Two resources of one service (different pids) share one resource of metrics: the first's.
        let request = traces(vec![
            resource_spans(
                vec![text("service.name", "api"), int("process.pid", 1)],
                "s",
                vec![span("a", SpanKind::Server, StatusCode::Unset, 3_000_000_000, vec![])],
            ),
            resource_spans(
                vec![int("process.pid", 2), text("service.name", "api")],
                "s",
                vec![span("a", SpanKind::Server, StatusCode::Unset, 1_000_000, vec![])],
            ),
        ]);
        connector.consume(Envelope::unacked(request)).await.unwrap();
        connector.flush().await;
        let output = capture.taken();
        assert_eq!(
            lines(&output[0]),
            [
                "resource {service.name=api, process.pid=1i}",
                "calls {service.name=api, span.name=a, span.kind=SPAN_KIND_SERVER, status.code=STATUS_CODE_UNSET} = 2",
                "duration {service.name=api, span.name=a, span.kind=SPAN_KIND_SERVER, status.code=STATUS_CODE_UNSET} = count 2 sum 3.001 [le0.002:1 le5:1]",
            ]
        );
        assert_eq!(output[0].resource_metrics[0].scope_metrics[0].metrics[1].unit, "s");
    }

    #[tokio::test]
    async fn cumulative_resources_unseen_for_metrics_expiration_stop_being_sent() {
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings("    metrics_expiration: 5m"), &capture);
        let aggregator = &connector.aggregator;
        let minute = 60_000_000_000;
        let t = now_ns();
        aggregator.aggregate(&one_span("old", "a"), t);
        aggregator.aggregate(&one_span("new", "a"), t + 4 * minute);
        aggregator.flush(t + 6 * minute).await;
        aggregator.flush(t + 7 * minute).await;
        let batches = capture.taken();
        assert_eq!(batches[0].resource_metrics.len(), 2, "the flush that finds it stale still sends it");
        assert_eq!(lines(&batches[1])[0], "resource {service.name=new}");
        assert_eq!(batches[1].resource_metrics.len(), 1);
    }

    #[tokio::test]
    async fn a_refused_flush_is_counted_as_dropped_data_points() {
        let capture = Arc::new(Capture {
            refuse: true,
            ..Default::default()
        });
        let (connector, counters) = connector_with(&settings("    {}"), &capture);
        let (ack, receiver) = AckToken::new();
        connector.consume(Envelope::new(one_span("api", "a"), ack)).await.unwrap();
        assert_eq!(
            receiver.await.unwrap(),
            Ok(()),
            "the traces were accepted whatever becomes of the metrics"
        );
        connector.flush().await;
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            (load(&counters.dropped), load(&counters.sent)),
            (2, 0),
            "one calls and one duration point"
        );
    }

    #[tokio::test]
    async fn the_timer_flushes_every_interval_and_shutdown_flushes_a_final_time() {
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings("    metrics_flush_interval: 20ms"), &capture);
        connector.consume(Envelope::unacked(one_span("api", "a"))).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), capture.arrived.notified())
            .await
            .expect("the timer flushed");
        assert_eq!(calls_by_name(&capture.taken()[0])[0].1, 1);

        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings("    {}"), &capture);
        assert_eq!(
            connector.aggregator.config.flush_interval,
            Duration::from_secs(60),
            "the spec's default"
        );
        connector.consume(Envelope::unacked(one_span("api", "a"))).await.unwrap();
        connector.shutdown().await;
        let batches = capture.taken();
        assert_eq!(batches.len(), 1, "shutdown flushed");
        assert_eq!(calls_by_name(&batches[0])[0].1, 1);
        assert!(connector.timer.lock().unwrap().is_none(), "the timer has stopped");
    }

    fn traced(mut span: Span, trace: u8, span_id: u8) -> Span {
        span.trace_id = vec![trace; 16];
        span.span_id = vec![span_id; 8];
        span
    }

    fn with_events(mut span: Span, events: Vec<Event>) -> Span {
        span.events = events;
        span
    }

    fn event(name: &str, attributes: Vec<KeyValue>) -> Event {
        Event {
            time_unix_nano: START,
            name: name.into(),
            attributes,
            ..Default::default()
        }
    }

    fn exemplar(trace: u8, span_id: u8, value: f64, time: u64) -> Exemplar {
        Exemplar {
            trace_id: vec![trace; 16],
            span_id: vec![span_id; 8],
            value: Some(exemplar::Value::AsDouble(value)),
            time_unix_nano: time,
            ..Default::default()
        }
    }

    /// Each data point's exemplars with its metric's name and its series' span name, in output order.
    fn exemplars_by_series(request: &ExportMetricsServiceRequest) -> Vec<(String, String, Vec<Exemplar>)> {
        let mut out = Vec::new();
        for rm in &request.resource_metrics {
            for m in &rm.scope_metrics[0].metrics {
                let points: Vec<(&[KeyValue], &[Exemplar])> = match m.data.as_ref().unwrap() {
                    metric::Data::Sum(sum) => sum.data_points.iter().map(|p| (&p.attributes[..], &p.exemplars[..])).collect(),
                    metric::Data::Histogram(h) => h.data_points.iter().map(|p| (&p.attributes[..], &p.exemplars[..])).collect(),
                    metric::Data::ExponentialHistogram(h) => h.data_points.iter().map(|p| (&p.attributes[..], &p.exemplars[..])).collect(),
                    other => panic!("unexpected metric data {other:?}"),
                };
                for (attributes, exemplars) in points {
                    let span_name = render_value(find_attribute(attributes, "span.name"));
                    out.push((m.name.clone(), span_name, exemplars.to_vec()));
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn exemplars_and_the_events_metric_are_off_by_default() {
        let settings = settings("    {}");
        assert_eq!(
            settings.exemplars,
            ExemplarsConfig {
                enabled: false,
                max_per_data_point: 5
            },
            "the Collector's defaults"
        );
        assert_eq!(settings.events, EventsConfig::default());
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings, &capture);
        let spans = vec![with_events(
            span("a", SpanKind::Server, StatusCode::Error, 1_000_000, vec![]),
            vec![event("exception", vec![text("exception.type", "Timeout")])],
        )];
        connector
            .consume(Envelope::unacked(traces(vec![resource_spans(
                vec![text("service.name", "api")],
                "s",
                spans,
            )])))
            .await
            .unwrap();
        connector.flush().await;
        let output = &capture.taken()[0];
        let names: Vec<&str> = output.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(names, ["traces.span.metrics.calls", "traces.span.metrics.duration"]);
        assert!(exemplars_by_series(output).iter().all(|(_, _, exemplars)| exemplars.is_empty()));
    }

    #[tokio::test]
    async fn exemplars_carry_the_spans_trace_and_span_ids_bounded_per_data_point_and_cleared_each_flush() {
        let settings = settings(
            "    exemplars: { enabled: true, max_per_data_point: 2 }
    events: { enabled: true, dimensions: [ { name: exception.type } ] }",
        );
        assert_eq!(settings.exemplars.max_per_data_point, 2);
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings, &capture);
        let aggregator = &connector.aggregator;
        let ms = 1_000_000;
        let a = |duration_ns: i64, trace: u8, span_id: u8| {
            let timeout = event("exception", vec![text("exception.type", "Timeout")]);
            traced(
                with_events(span("a", SpanKind::Server, StatusCode::Unset, duration_ns, vec![]), vec![timeout]),
                trace,
                span_id,
            )
        };
        let api = |spans: Vec<Span>| traces(vec![resource_spans(vec![text("service.name", "api")], "s", spans)]);
        // Three spans of one series: only the first two become exemplars. A span without a trace
        // id is counted but gives no exemplar, as in the Collector.
        let untraced = traced(span("b", SpanKind::Server, StatusCode::Unset, 4 * ms, vec![]), 0, 0);
        let t = now_ns() + 1_000_000_000;
        aggregator.aggregate(&api(vec![a(ms, 1, 11), a(2 * ms, 2, 12), a(3 * ms, 3, 13), untraced]), t);
        aggregator.flush(t + 1000).await;
        let mut later = a(5 * ms, 4, 14);
        later.events.clear();
        aggregator.aggregate(&api(vec![later]), t + 2000);
        aggregator.flush(t + 3000).await;
        aggregator.flush(t + 4000).await;

        let batches = capture.taken();
        let (calls, duration, events) = (
            "traces.span.metrics.calls".to_string(),
            "traces.span.metrics.duration".to_string(),
            "traces.span.metrics.events".to_string(),
        );
        let first_two = vec![exemplar(1, 11, 1.0, t + 1000), exemplar(2, 12, 2.0, t + 1000)];
        assert_eq!(
            exemplars_by_series(&batches[0]),
            [
                (calls.clone(), "a".to_string(), first_two.clone()),
                (calls.clone(), "b".to_string(), vec![]),
                (duration.clone(), "a".to_string(), first_two.clone()),
                (duration.clone(), "b".to_string(), vec![]),
                (events.clone(), "a".to_string(), first_two),
            ]
        );
        assert_eq!(calls_by_name(&batches[0])[0].1, 3, "every span is counted, exemplar or not");
        assert_eq!(
            exemplars_by_series(&batches[1]),
            [
                (calls.clone(), "a".to_string(), vec![exemplar(4, 14, 5.0, t + 3000)]),
                (calls, "b".to_string(), vec![]),
                (duration.clone(), "a".to_string(), vec![exemplar(4, 14, 5.0, t + 3000)]),
                (duration, "b".to_string(), vec![]),
                (events, "a".to_string(), vec![]),
            ],
            "cumulative series are sent again with only this interval's exemplars"
        );
        assert!(
            exemplars_by_series(&batches[2])
                .iter()
                .all(|(_, _, exemplars)| exemplars.is_empty()),
            "an interval without spans has no exemplars"
        );
    }

    #[tokio::test]
    async fn events_are_counted_per_span_series_and_event_attribute_within_the_series_limit() {
        let settings = settings(
            "    dimensions: [ { name: http.method, default: GET } ]
    events: { enabled: true, dimensions: [ { name: exception.type }, { name: level, default: info } ] }
    aggregation_cardinality_limit: 2
    histogram: { disable: true }",
        );
        assert_eq!(
            settings.events.dimensions,
            [
                Dimension {
                    name: "exception.type".into(),
                    default: None
                },
                Dimension {
                    name: "level".into(),
                    default: Some("info".into())
                },
            ]
        );
        let capture = Arc::new(Capture::default());
        let (connector, _) = connector_with(&settings, &capture);
        let timeout = || event("exception", vec![text("exception.type", "Timeout")]);
        let spans = vec![
            with_events(
                span("GET /a", SpanKind::Server, StatusCode::Error, 1_000_000, vec![]),
                vec![timeout(), timeout(), event("retry", vec![])],
            ),
            // The events table is full (two series), so this event goes to its overflow series.
            with_events(
                span(
                    "GET /a",
                    SpanKind::Server,
                    StatusCode::Error,
                    1_000_000,
                    vec![text("http.method", "POST")],
                ),
                vec![event("exception", vec![text("exception.type", "Timeout"), text("level", "error")])],
            ),
            span("GET /b", SpanKind::Server, StatusCode::Unset, 1_000_000, vec![]),
        ];
        let request = traces(vec![
            resource_spans(vec![text("service.name", "api")], "s", spans),
            resource_spans(
                vec![text("service.name", "worker")],
                "s",
                vec![span("c", SpanKind::Server, StatusCode::Unset, 1_000_000, vec![])],
            ),
        ]);
        connector.consume(Envelope::unacked(request)).await.unwrap();
        connector.flush().await;
        let output = capture.taken();
        let a = "service.name=api, span.name=GET /a, span.kind=SPAN_KIND_SERVER, status.code=STATUS_CODE_ERROR";
        assert_eq!(
            lines(&output[0]),
            [
                "resource {service.name=api}".to_string(),
                format!("traces.span.metrics.calls {{{a}, http.method=GET}} = 1"),
                format!("traces.span.metrics.calls {{{a}, http.method=POST}} = 1"),
                "traces.span.metrics.calls {otel.metric.overflow=true} = 1".to_string(),
                format!("traces.span.metrics.events {{{a}, http.method=GET, exception.type=Timeout, level=info}} = 2"),
                format!("traces.span.metrics.events {{{a}, http.method=GET, level=info}} = 1"),
                "traces.span.metrics.events {otel.metric.overflow=true} = 1".to_string(),
                "resource {service.name=worker}".to_string(),
                "traces.span.metrics.calls {service.name=worker, span.name=c, span.kind=SPAN_KIND_SERVER, status.code=STATUS_CODE_UNSET, http.method=GET} = 1".to_string(),
            ]
        );
        let Some(metric::Data::Sum(events)) = &output[0].resource_metrics[0].scope_metrics[0].metrics[1].data else {
            panic!("the events metric is a sum")
        };
        assert!(events.is_monotonic);
        assert_eq!(events.aggregation_temporality, AggregationTemporality::Cumulative as i32);
    }

    #[test]
    fn the_testdata_examples_load_with_exemplars_events_and_an_exponential_histogram() {
        let root: Value = serde_yaml_ng::from_str(include_str!("testdata/spanmetrics.yaml")).unwrap();
        let section = root.get("spanmetrics").expect("a spanmetrics section");
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), section, "connectors.spanmetrics");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.flush_interval, Duration::from_millis(20));
        assert_eq!(
            config.exemplars,
            ExemplarsConfig {
                enabled: true,
                max_per_data_point: 3
            }
        );
        assert!(config.events.enabled);
        assert_eq!(config.events.dimensions[0].name, "exception.type");
        assert_eq!(config.exponential_max_size, None);

        let section = root.get("spanmetrics/exponential").expect("an exponential example");
        let config = parse(&mut Parser::collecting(&mut errors), section, "connectors.spanmetrics/exponential");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.exponential_max_size, Some(80));
        assert_eq!(config.unit, DurationUnit::Seconds);
        assert_eq!(config.temporality, Temporality::Delta);
    }

    #[test]
    fn config_errors_name_their_paths() {
        let body = "    namespace: 5
    metrics_flush_interval: 0s
    aggregation_temporality: AGGREGATION_TEMPORALITY_SOMETIMES
    histogram: { unit: us, exponential: { max_size: 10 }, explicit: { buckets: [10ms, 5ms, soon] } }
    dimensions: [ { name: span.kind }, { name: region }, { name: region }, { default: x }, { name: zone, colour: red } ]
    exclude_dimensions: [ http.method ]
    dimensions_cache_size: 0
    aggregation_cardinality_limit: -1
    exemplars: { enabled: sometimes, max_per_data_point: 0, max: 3 }
    calls_dimensions: []
    flush: 1s";
        let at = "connectors.spanmetrics";
        assert_eq!(
            errors(body),
            [
                format!("{at}.calls_dimensions: is not supported by this otelbox's spanmetrics connector yet"),
                format!("{at}.flush: unknown key (expected one of: {})", KEYS.join(", ")),
                format!("{at}.namespace: expected a string, got a number"),
                format!("{at}.metrics_flush_interval: must be greater than 0"),
                format!("{at}.aggregation_temporality: expected AGGREGATION_TEMPORALITY_CUMULATIVE or AGGREGATION_TEMPORALITY_DELTA, got 'AGGREGATION_TEMPORALITY_SOMETIMES'"),
                format!("{at}.histogram.unit: expected ms or s, got 'us'"),
                format!("{at}.histogram: use either `explicit` or `exponential` buckets histogram, not both"),
                format!("{at}.histogram.explicit.buckets[1]: buckets must be in increasing order"),
                format!("{at}.histogram.explicit.buckets[2]: expected a duration like 250ms, 15m, 12h or 7d, got 'soon'"),
                format!("{at}.dimensions[0].name: duplicate dimension name \"span.kind\""),
                format!("{at}.dimensions[2].name: duplicate dimension name \"region\""),
                format!("{at}.dimensions[3]: name is required"),
                format!("{at}.dimensions[4].colour: unknown key (expected one of: name, default)"),
                format!("{at}.exclude_dimensions[0]: 'http.method' is not a default dimension (service.name, span.name, span.kind or status.code)"),
                format!("{at}.dimensions_cache_size: must be greater than 0"),
                format!("{at}.aggregation_cardinality_limit: expected a non-negative integer, got a number"),
                format!("{at}.exemplars.max: unknown key (expected one of: enabled, max_per_data_point)"),
                format!("{at}.exemplars.enabled: expected true or false, got a string"),
                format!("{at}.exemplars.max_per_data_point: must be greater than 0 (turn exemplars off with enabled: false)"),
            ]
        );
        assert_eq!(
            errors(
                "    histogram: { dimensions: [], explicit: { buckets: 5ms, bins: 3 } }
    resource_metrics_cache_size: 0
    events: { enabled: true, dimensions: [ { name: status.code }, { name: exception.type }, { name: exception.type } ], by: x }"
            ),
            [
                format!("{at}.histogram.dimensions: is not supported by this otelbox's spanmetrics connector yet"),
                format!("{at}.histogram.explicit.bins: unknown key (expected one of: buckets)"),
                format!("{at}.histogram.explicit.buckets: expected a list, got a string"),
                format!("{at}.resource_metrics_cache_size: must be greater than 0"),
                format!("{at}.events.by: unknown key (expected one of: enabled, dimensions)"),
                format!("{at}.events.dimensions[0].name: duplicate dimension name \"status.code\""),
                format!("{at}.events.dimensions[2].name: duplicate dimension name \"exception.type\""),
            ]
        );
        assert_eq!(
            errors("    events: { enabled: true }"),
            [format!("{at}.events.dimensions: name at least one event attribute to count events by, e.g. [ {{ name: exception.type }} ] (required when events are enabled, as in the Collector)")],
            "the Collector refuses enabled events without dimensions"
        );
        assert_eq!(errors("    [1, 2]"), [format!("{at}: expected a mapping, got a list")]);
    }

    #[test]
    fn the_alias_and_defaults_load() {
        let config = crate::components::parse_config(
            &full_config("    {}")
                .replace("  spanmetrics:\n", "  span_metrics/red:\n")
                .replace("spanmetrics]", "span_metrics/red]"),
        )
        .unwrap();
        let (id, settings) = config.settings_of::<SpanMetricsConfig>(Kind::Connector, "spanmetrics")[0];
        assert_eq!(id.to_string(), "spanmetrics/red");
        assert_eq!(*settings, SpanMetricsConfig::default());
    }
}
