//! The `cumulativetodelta` processor: turns monotonic cumulative sums and cumulative explicit-bucket
//! histograms into deltas, as the Collector's cumulativetodeltaprocessor does. Metrics only.
//!
//! ```yaml
//! cumulativetodelta:
//!   include:                     # convert only these (absent: every metric)
//!     match_type: strict         # strict | regexp; required with `metrics`
//!     metrics: [http.server.request.count]
//!     metric_types: [sum, histogram]   # case-insensitive
//!   exclude:                     # never convert these; wins over include
//!     match_type: regexp
//!     metrics: ['\.debug\.']
//!   max_staleness: 10m           # forget a series unseen this long (default 0: never)
//!   initial_value: auto          # auto (default) | keep | drop
//! ```
//!
//! A series is one metric name and unit, of one kind (integer sum, floating-point sum, histogram),
//! under one resource (its attributes) and scope (name and version), with one set of point
//! attributes and one start time: a counter that restarts with a new start time is a new series.
//! Each converted point's value becomes the change since the series' previous point, and its start
//! time that point's time; the metric's temporality becomes delta.
//!
//! The Collector's rules, kept here:
//! - the first point of a series has nothing to subtract from: `keep` sends its value, `drop` only
//!   remembers it, `auto` sends it only when its start time is at or after the processor started and
//!   differs from its time (a counter born since, whose whole count is new);
//! - a sum that decreases (same start time) was reset: that point is dropped, and the next delta
//!   counts from it; a histogram whose count decreases sends its own totals as the delta;
//! - a histogram whose bucket layout changed is dropped (and remembered as the new layout);
//!   converted histograms lose `min` and `max`, which a difference cannot give;
//! - a point flagged "no recorded value" is dropped; a NaN sum (a staleness marker) passes as it
//!   is; a NaN or absent histogram sum stays so, and the next sum is subtracted from the last real one;
//! - non-monotonic sums, delta metrics, gauges, summaries and exponential histograms pass unchanged;
//! - a converted metric left without points is removed, then empty scope and resource groups.
//!
//! Where otelbox differs: `keep` leaves the first point's own start time (the Collector zeroes it);
//! `max_staleness` counts from when this processor last saw the series, not from the point's
//! timestamp (a source's clock cannot age series early or late); exponential histograms are not
//! converted, so `exponentialhistogram` is refused in `include.metric_types` (it is accepted, and
//! changes nothing, in `exclude`); the `regexp` cache settings are accepted and ignored.
//!
//! Memory is bounded: at most `MAX_TRACKED_SERIES` series per processor instance. Points of new
//! series beyond that pass unconverted, in a copy of their metric that stays cumulative, and a
//! warning is logged once each time the limit is reached; set `max_staleness` to let series go.

use crate::config::{ComponentId, Parser, Settings};
use crate::pdata::{metric_point_count, Signal};
use crate::pipeline::{AnyConsumer, ItemProcessor, PipelineError};
use crate::processor::{ProcessorContext, ProcessorFactory, Stage};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    number_data_point, AggregationTemporality, DataPointFlags, Histogram, HistogramDataPoint, Metric, NumberDataPoint, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_yaml_ng::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The most series one processor instance remembers (about 100 bytes each, more for histograms with
/// many buckets): enough for a large scrape target set, small enough that a cardinality explosion
/// upstream cannot exhaust memory here.
pub const MAX_TRACKED_SERIES: usize = 100_000;

const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;
const DELTA: i32 = AggregationTemporality::Delta as i32;
const NO_RECORDED_VALUE: u32 = DataPointFlags::NoRecordedValueMask as u32;

pub struct Factory;
crate::component_type!(Factory, "cumulativetodelta", &[Signal::Metrics], parse);

impl ProcessorFactory for Factory {
    fn build(&self, context: &ProcessorContext<'_>, settings: &Settings, _next: AnyConsumer) -> anyhow::Result<Stage> {
        Ok(Stage::Items(Arc::new(CumulativeToDeltaProcessor::new(context.id, settings.get()))))
    }
}

/// What to do with the first point of a series, which has no previous value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InitialValue {
    /// Send it only for a counter that started after the processor did.
    #[default]
    Auto,
    /// Send its value as the delta.
    Keep,
    /// Remember it without sending it.
    Drop,
}

/// The metric types `metric_types` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Sum,
    Histogram,
    ExponentialHistogram,
}

/// Metric names to match, exactly or by (unanchored) regular expressions.
#[derive(Clone, Debug)]
pub enum NameMatch {
    Strict(Vec<String>),
    Regexp(Vec<regex::Regex>),
}

impl NameMatch {
    fn matches(&self, name: &str) -> bool {
        match self {
            NameMatch::Strict(names) => names.iter().any(|n| n == name),
            NameMatch::Regexp(patterns) => patterns.iter().any(|p| p.is_match(name)),
        }
    }
}

/// One side of the filter, `include` or `exclude`: names and types, each optional.
#[derive(Clone, Debug, Default)]
pub struct MetricMatch {
    pub names: Option<NameMatch>,
    pub metric_types: Vec<MetricType>,
}

impl MetricMatch {
    /// As `include`: every criterion given holds (none given: every metric).
    pub fn admits(&self, name: &str, metric_type: MetricType) -> bool {
        self.names.as_ref().is_none_or(|n| n.matches(name)) && (self.metric_types.is_empty() || self.metric_types.contains(&metric_type))
    }

    /// As `exclude`: any criterion given holds.
    pub fn rejects(&self, name: &str, metric_type: MetricType) -> bool {
        self.names.as_ref().is_some_and(|n| n.matches(name)) || self.metric_types.contains(&metric_type)
    }
}

/// The parsed settings, defaulting as the Collector's do.
#[derive(Clone, Debug, Default)]
pub struct CumulativeToDeltaConfig {
    pub include: MetricMatch,
    pub exclude: MetricMatch,
    /// Zero: series are never forgotten.
    pub max_staleness: Duration,
    pub initial_value: InitialValue,
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> CumulativeToDeltaConfig {
    let mut config = CumulativeToDeltaConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["include", "exclude", "max_staleness", "initial_value"], path);
    config.include = parse_match(p, body.get("include"), &format!("{path}.include"), true);
    config.exclude = parse_match(p, body.get("exclude"), &format!("{path}.exclude"), false);
    if let Some(v) = body.get("max_staleness") {
        config.max_staleness = parse_max_staleness(p, v, &format!("{path}.max_staleness")).unwrap_or_default();
    }
    if let Some(v) = body.get("initial_value") {
        let at = format!("{path}.initial_value");
        match p.string(v, &at).as_deref() {
            Some("auto") => config.initial_value = InitialValue::Auto,
            Some("keep") => config.initial_value = InitialValue::Keep,
            Some("drop") => config.initial_value = InitialValue::Drop,
            Some(other) => p.error(&at, format!("expected auto, keep or drop, got '{other}'")),
            None => {}
        }
    }
    config
}

/// `include` or `exclude`: `metrics` and `match_type` go together (the Collector's rule);
/// `metric_types` stands alone.
fn parse_match(p: &mut Parser, value: Option<&Value>, path: &str, include: bool) -> MetricMatch {
    let mut matching = MetricMatch::default();
    let Some(body) = p.mapping(value, path) else {
        return matching;
    };
    p.only_keys(body, &["match_type", "metrics", "metric_types", "regexp"], path);

    let match_type_path = format!("{path}.match_type");
    let mut regexp = None;
    if let Some(v) = body.get("match_type") {
        match p.string(v, &match_type_path).as_deref() {
            Some("strict") => regexp = Some(false),
            Some("regexp") => regexp = Some(true),
            Some(other) => p.error(&match_type_path, format!("expected strict or regexp, got '{other}'")),
            None => {}
        }
    }
    let metrics_path = format!("{path}.metrics");
    let items = p.list(body.get("metrics"), &metrics_path);
    if !items.is_empty() && body.get("match_type").is_none() {
        p.error(
            path,
            "lists metrics without a match_type; add match_type: strict or match_type: regexp",
        );
    }
    if items.is_empty() && body.get("match_type").is_some() {
        p.error(
            &metrics_path,
            "lists no metrics, but match_type is set; list the metric names or patterns to match",
        );
    }
    if !items.is_empty() {
        matching.names = match regexp {
            Some(false) => Some(NameMatch::Strict(items.iter().filter_map(|(at, v)| p.string(v, at)).collect())),
            Some(true) => Some(NameMatch::Regexp(items.iter().filter_map(|(at, v)| p.regex(v, at)).collect())),
            None => None,
        };
    }

    for (at, item) in p.list(body.get("metric_types"), &format!("{path}.metric_types")) {
        let Some(text) = p.string(item, &at) else { continue };
        match text.to_ascii_lowercase().as_str() {
            "sum" => matching.metric_types.push(MetricType::Sum),
            "histogram" => matching.metric_types.push(MetricType::Histogram),
            "exponentialhistogram" if include => p.error(
                &at,
                "otelbox does not convert exponential histograms yet (they pass unchanged); include only sum and histogram",
            ),
            "exponentialhistogram" => matching.metric_types.push(MetricType::ExponentialHistogram),
            _ => p.error(
                &at,
                format!("unknown metric type '{text}' (expected sum, histogram or exponentialhistogram, in any case)"),
            ),
        }
    }

    // The Collector's regexp cache knobs: accepted for compatibility, not needed here.
    let regexp_path = format!("{path}.regexp");
    if let Some(cache) = body.get("regexp").and_then(|v| p.mapping(Some(v), &regexp_path)) {
        p.only_keys(cache, &["cacheenabled", "cachemaxnumentries"], &regexp_path);
        if let Some(v) = cache.get("cacheenabled") {
            p.boolean(v, &format!("{regexp_path}.cacheenabled"));
        }
        if let Some(v) = cache.get("cachemaxnumentries") {
            p.unsigned(v, &format!("{regexp_path}.cachemaxnumentries"));
        }
    }
    matching
}

/// A duration with a unit; the bare number 0 is accepted too, as the Collector's docs write it.
fn parse_max_staleness(p: &mut Parser, value: &Value, path: &str) -> Option<Duration> {
    match value {
        Value::Number(n) if n.as_u64() == Some(0) => Some(Duration::ZERO),
        Value::Number(n) => {
            p.error(
                path,
                format!("expected a duration with a unit, like 5m or 1h (0 keeps series forever), got {n}"),
            );
            None
        }
        other => p.duration(other, path),
    }
}

/// A series' identity: 128 bits of the SHA-256 of its identifying parts, so every tracked series
/// costs the same few bytes of key whatever its attributes.
type SeriesKey = [u8; 16];

/// What a series' previous point left behind.
#[derive(Clone, Debug, PartialEq)]
enum Previous {
    Int(i64),
    Double(f64),
    Histogram(HistogramTotals),
}

#[derive(Clone, Debug, PartialEq)]
struct HistogramTotals {
    count: u64,
    /// The last real sum (a NaN or absent sum carries the one before forward; 0 before any).
    sum: f64,
    bucket_counts: Vec<u64>,
    explicit_bounds: Vec<f64>,
}

struct Series {
    /// When this processor last saw a point of the series (for `max_staleness`).
    last_seen: Instant,
    /// The previous point's time: the next delta's start time.
    time_unix_nano: u64,
    previous: Previous,
}

/// The series one processor instance remembers, bounded by `limit`.
struct Tracker {
    component: String,
    series: HashMap<SeriesKey, Series>,
    max_staleness: Duration,
    limit: usize,
    last_sweep: Instant,
    warned_full: bool,
    warned_layout: bool,
}

impl Tracker {
    fn new(component: String, max_staleness: Duration, limit: usize, now: Instant) -> Self {
        Tracker {
            component,
            series: HashMap::new(),
            max_staleness,
            limit,
            last_sweep: now,
            warned_full: false,
            warned_layout: false,
        }
    }

    fn is_stale(&self, last_seen: Instant, now: Instant) -> bool {
        !self.max_staleness.is_zero() && now.saturating_duration_since(last_seen) > self.max_staleness
    }

    /// Forgets the series unseen for `max_staleness`, at most once per `max_staleness`.
    fn sweep(&mut self, now: Instant) {
        if self.max_staleness.is_zero() || now.saturating_duration_since(self.last_sweep) < self.max_staleness {
            return;
        }
        self.last_sweep = now;
        let max_staleness = self.max_staleness;
        self.series
            .retain(|_, s| now.saturating_duration_since(s.last_seen) <= max_staleness);
        if self.series.len() < self.limit {
            self.warned_full = false;
        }
    }

    /// The series' state; `None` for a series not tracked, or stale (then forgotten here).
    fn get(&mut self, key: &SeriesKey, now: Instant) -> Option<&mut Series> {
        let stale = self.series.get(key).is_some_and(|s| self.is_stale(s.last_seen, now));
        if stale {
            self.series.remove(key);
        }
        self.series.get_mut(key)
    }

    /// Starts tracking a series; false when the limit is reached (logged once each time it is).
    fn insert(&mut self, key: SeriesKey, series: Series) -> bool {
        if self.series.len() >= self.limit {
            if !self.warned_full {
                self.warned_full = true;
                tracing::warn!(
                    component = %self.component,
                    limit = self.limit,
                    "cumulativetodelta: tracking as many series as it may; points of new series pass unconverted (cumulative) \
                     until tracked ones go stale (set max_staleness to let them)"
                );
            }
            return false;
        }
        self.series.insert(key, series);
        true
    }
}

/// What becomes of one point.
enum Fate {
    /// Converted (or left as it is) in its metric.
    Keep,
    Drop,
    /// Its series cannot be tracked: it passes unconverted in a cumulative copy of its metric.
    Untracked,
}

pub struct CumulativeToDeltaProcessor {
    config: CumulativeToDeltaConfig,
    /// When the processor started, for `initial_value: auto`.
    started_unix_nano: u64,
    tracker: Mutex<Tracker>,
}

impl CumulativeToDeltaProcessor {
    pub fn new(id: &ComponentId, config: &CumulativeToDeltaConfig) -> Self {
        let started_unix_nano = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        Self::starting_at(id, config, started_unix_nano, Instant::now(), MAX_TRACKED_SERIES)
    }

    fn starting_at(id: &ComponentId, config: &CumulativeToDeltaConfig, started_unix_nano: u64, now: Instant, limit: usize) -> Self {
        CumulativeToDeltaProcessor {
            config: config.clone(),
            started_unix_nano,
            tracker: Mutex::new(Tracker::new(id.to_string(), config.max_staleness, limit, now)),
        }
    }

    fn process_at(&self, data: &mut ExportMetricsServiceRequest, now: Instant) {
        let mut tracker = self.tracker.lock().unwrap_or_else(|e| e.into_inner());
        tracker.sweep(now);
        for resource_metrics in &mut data.resource_metrics {
            let resource_key = resource_key(resource_metrics.resource.as_ref());
            for scope_metrics in &mut resource_metrics.scope_metrics {
                let scope_key = scope_key(&resource_key, scope_metrics.scope.as_ref());
                let metrics = std::mem::take(&mut scope_metrics.metrics);
                let mut kept = Vec::with_capacity(metrics.len());
                for mut metric in metrics {
                    match self.convert_metric(&mut tracker, &scope_key, &mut metric, now) {
                        None => kept.push(metric),
                        Some(untracked) => {
                            if metric_point_count(&metric) > 0 {
                                kept.push(metric);
                            }
                            kept.extend(untracked);
                        }
                    }
                }
                scope_metrics.metrics = kept;
            }
            resource_metrics.scope_metrics.retain(|s| !s.metrics.is_empty());
        }
        data.resource_metrics.retain(|r| !r.scope_metrics.is_empty());
    }

    /// `None` when the metric is not one to convert; otherwise it was converted in place, with the
    /// cumulative copy holding its untracked points, if it has any.
    fn convert_metric(&self, tracker: &mut Tracker, scope_key: &[u8], metric: &mut Metric, now: Instant) -> Option<Option<Metric>> {
        let metric_type = match &metric.data {
            Some(Data::Sum(sum)) if sum.aggregation_temporality == CUMULATIVE && sum.is_monotonic && !sum.data_points.is_empty() => {
                MetricType::Sum
            }
            Some(Data::Histogram(histogram)) if histogram.aggregation_temporality == CUMULATIVE && !histogram.data_points.is_empty() => {
                MetricType::Histogram
            }
            _ => return None,
        };
        if !self.config.include.admits(&metric.name, metric_type) || self.config.exclude.rejects(&metric.name, metric_type) {
            return None;
        }
        let mut prefix = scope_key.to_vec();
        push_text(&mut prefix, &metric.name);
        push_text(&mut prefix, &metric.unit);

        let untracked = match &mut metric.data {
            Some(Data::Sum(sum)) => {
                let untracked = partition(&mut sum.data_points, |point| self.convert_number(tracker, &prefix, point, now));
                sum.aggregation_temporality = DELTA;
                (!untracked.is_empty()).then_some(Data::Sum(Sum {
                    data_points: untracked,
                    aggregation_temporality: CUMULATIVE,
                    is_monotonic: true,
                }))
            }
            Some(Data::Histogram(histogram)) => {
                let untracked = partition(&mut histogram.data_points, |point| {
                    self.convert_histogram(tracker, &prefix, point, now)
                });
                histogram.aggregation_temporality = DELTA;
                (!untracked.is_empty()).then_some(Data::Histogram(Histogram {
                    data_points: untracked,
                    aggregation_temporality: CUMULATIVE,
                }))
            }
            _ => None,
        };
        Some(untracked.map(|data| {
            let converted = metric.data.take();
            let mut copy = metric.clone();
            metric.data = converted;
            copy.data = Some(data);
            copy
        }))
    }

    fn convert_number(&self, tracker: &mut Tracker, prefix: &[u8], point: &mut NumberDataPoint, now: Instant) -> Fate {
        if point.flags & NO_RECORDED_VALUE != 0 {
            return Fate::Drop;
        }
        let (kind, current) = match point.value {
            Some(number_data_point::Value::AsInt(value)) => (b'i', Previous::Int(value)),
            Some(number_data_point::Value::AsDouble(value)) if !value.is_nan() => (b'd', Previous::Double(value)),
            // A NaN marks a stale series and a point without a value has nothing to subtract.
            _ => return Fate::Keep,
        };
        let key = series_key(prefix, kind, &point.attributes, point.start_time_unix_nano);
        let time = point.time_unix_nano;
        match tracker.get(&key, now) {
            Some(series) => {
                let delta = match (&series.previous, &current) {
                    (Previous::Int(before), Previous::Int(after)) if after >= before => {
                        Some(number_data_point::Value::AsInt(after.saturating_sub(*before)))
                    }
                    (Previous::Double(before), Previous::Double(after)) if after >= before => {
                        Some(number_data_point::Value::AsDouble(after - before))
                    }
                    // A decrease is a reset: the point is dropped and the next delta counts from it.
                    _ => None,
                };
                let start = series.time_unix_nano;
                series.previous = current;
                series.time_unix_nano = time;
                series.last_seen = now;
                match delta {
                    Some(value) => {
                        point.value = Some(value);
                        point.start_time_unix_nano = start;
                        Fate::Keep
                    }
                    None => Fate::Drop,
                }
            }
            None => {
                let series = Series {
                    last_seen: now,
                    time_unix_nano: time,
                    previous: current,
                };
                self.first_point(tracker, key, series, point.start_time_unix_nano)
            }
        }
    }

    fn convert_histogram(&self, tracker: &mut Tracker, prefix: &[u8], point: &mut HistogramDataPoint, now: Instant) -> Fate {
        if point.flags & NO_RECORDED_VALUE != 0 {
            return Fate::Drop;
        }
        let key = series_key(prefix, b'h', &point.attributes, point.start_time_unix_nano);
        let time = point.time_unix_nano;
        let comparable = match tracker.get(&key, now) {
            Some(series) => {
                let start = series.time_unix_nano;
                let before_sum = match &series.previous {
                    Previous::Histogram(before) => before.sum,
                    _ => 0.0,
                };
                let current = totals(point, before_sum);
                let comparable = match &series.previous {
                    Previous::Histogram(before) => subtract_histogram(point, before),
                    _ => false,
                };
                series.previous = Previous::Histogram(current);
                series.time_unix_nano = time;
                series.last_seen = now;
                if comparable {
                    point.start_time_unix_nano = start;
                }
                comparable
            }
            None => {
                let series = Series {
                    last_seen: now,
                    time_unix_nano: time,
                    previous: Previous::Histogram(totals(point, 0.0)),
                };
                match self.first_point(tracker, key, series, point.start_time_unix_nano) {
                    Fate::Keep => true,
                    other => return other,
                }
            }
        };
        if !comparable {
            if !tracker.warned_layout {
                tracker.warned_layout = true;
                tracing::warn!(
                    component = %tracker.component,
                    "cumulativetodelta: a histogram series changed its buckets; its point is dropped and the next counts from it"
                );
            }
            return Fate::Drop;
        }
        // A difference of totals says nothing of the extremes within it.
        point.min = None;
        point.max = None;
        Fate::Keep
    }

    /// Tracks a new series and applies `initial_value` to its first point, whose value is kept as
    /// it is when sent (the whole count since its start time is new).
    fn first_point(&self, tracker: &mut Tracker, key: SeriesKey, series: Series, start_time_unix_nano: u64) -> Fate {
        let time = series.time_unix_nano;
        if !tracker.insert(key, series) {
            return Fate::Untracked;
        }
        let send = match self.config.initial_value {
            InitialValue::Keep => true,
            InitialValue::Drop => false,
            InitialValue::Auto => start_time_unix_nano >= self.started_unix_nano && start_time_unix_nano != time,
        };
        if send {
            Fate::Keep
        } else {
            Fate::Drop
        }
    }
}

impl ItemProcessor for CumulativeToDeltaProcessor {
    fn process_metrics(&self, data: &mut ExportMetricsServiceRequest) -> Result<(), PipelineError> {
        self.process_at(data, Instant::now());
        Ok(())
    }
}

/// Runs `convert` on every point: kept points stay, dropped ones go, untracked ones are returned.
fn partition<P>(points: &mut Vec<P>, mut convert: impl FnMut(&mut P) -> Fate) -> Vec<P> {
    let mut kept = Vec::with_capacity(points.len());
    let mut untracked = Vec::new();
    for mut point in std::mem::take(points) {
        match convert(&mut point) {
            Fate::Keep => kept.push(point),
            Fate::Drop => {}
            Fate::Untracked => untracked.push(point),
        }
    }
    *points = kept;
    untracked
}

/// A histogram point's totals to remember; a NaN or absent sum carries `previous_sum` forward.
fn totals(point: &HistogramDataPoint, previous_sum: f64) -> HistogramTotals {
    HistogramTotals {
        count: point.count,
        sum: point.sum.filter(|sum| !sum.is_nan()).unwrap_or(previous_sum),
        bucket_counts: point.bucket_counts.clone(),
        explicit_bounds: point.explicit_bounds.clone(),
    }
}

/// Turns `point`'s totals into the change since `before`; false when the bucket layout changed, so
/// no difference means anything. A count that decreased is a reset: the point's own totals are the
/// delta (the Collector's rule), so it is left as it is.
fn subtract_histogram(point: &mut HistogramDataPoint, before: &HistogramTotals) -> bool {
    if point.bucket_counts.len() != before.bucket_counts.len() || point.explicit_bounds != before.explicit_bounds {
        return false;
    }
    if point.count < before.count {
        return true;
    }
    point.count -= before.count;
    if let Some(sum) = point.sum.as_mut().filter(|sum| !sum.is_nan()) {
        *sum -= before.sum;
    }
    for (bucket, earlier) in point.bucket_counts.iter_mut().zip(&before.bucket_counts) {
        *bucket = bucket.saturating_sub(*earlier);
    }
    true
}

fn push_text(key: &mut Vec<u8>, text: &str) {
    key.extend_from_slice(&(text.len() as u64).to_le_bytes());
    key.extend_from_slice(text.as_bytes());
}

/// Attributes in key order (OTLP does not fix an order), each length-delimited.
fn push_attributes(key: &mut Vec<u8>, attributes: &[KeyValue]) {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    key.extend_from_slice(&(sorted.len() as u64).to_le_bytes());
    for kv in sorted {
        kv.encode_length_delimited(&mut *key).expect("a Vec grows as needed");
    }
}

fn resource_key(resource: Option<&Resource>) -> Vec<u8> {
    let attributes: &[KeyValue] = match resource {
        Some(resource) => &resource.attributes,
        None => &[],
    };
    let mut key = Vec::with_capacity(128);
    push_attributes(&mut key, attributes);
    key
}

fn scope_key(resource_key: &[u8], scope: Option<&InstrumentationScope>) -> Vec<u8> {
    let mut key = resource_key.to_vec();
    push_text(&mut key, scope.map_or("", |s| s.name.as_str()));
    push_text(&mut key, scope.map_or("", |s| s.version.as_str()));
    key
}

/// The key of one series of the metric whose resource, scope, name and unit `metric_prefix` holds.
fn series_key(metric_prefix: &[u8], kind: u8, attributes: &[KeyValue], start_time_unix_nano: u64) -> SeriesKey {
    let mut bytes = Vec::with_capacity(metric_prefix.len() + 64);
    bytes.extend_from_slice(metric_prefix);
    bytes.push(kind);
    push_attributes(&mut bytes, attributes);
    bytes.extend_from_slice(&start_time_unix_nano.to_le_bytes());
    let digest = Sha256::digest(&bytes);
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::filter::fixtures;
    use crate::processor::filter::fixtures::kv;

    /// The processor started at 1 s; counters started before it (0.5 s) or after it (1.5 s).
    const STARTED: u64 = 1_000_000_000;
    const BEFORE: u64 = 500_000_000;
    const AFTER: u64 = 1_500_000_000;
    const T1: u64 = 2_000_000_000;
    const T2: u64 = 3_000_000_000;
    const T3: u64 = 4_000_000_000;
    const T4: u64 = 5_000_000_000;
    const T5: u64 = 6_000_000_000;

    fn config(body: &str) -> CumulativeToDeltaConfig {
        let value: Value = serde_yaml_ng::from_str(body).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "processors.cumulativetodelta");
        assert!(errors.is_empty(), "{errors:?}");
        config
    }

    fn config_errors(body: &str) -> Vec<String> {
        let value: Value = serde_yaml_ng::from_str(body).unwrap();
        let mut errors = Vec::new();
        parse(&mut Parser::collecting(&mut errors), &value, "processors.cumulativetodelta");
        errors
    }

    fn processor_limited(body: &str, limit: usize, now: Instant) -> CumulativeToDeltaProcessor {
        let id = ComponentId::parse("cumulativetodelta").unwrap();
        CumulativeToDeltaProcessor::starting_at(&id, &config(body), STARTED, now, limit)
    }

    fn processor(body: &str) -> CumulativeToDeltaProcessor {
        processor_limited(body, MAX_TRACKED_SERIES, Instant::now())
    }

    fn int_point(start: u64, time: u64, value: i64) -> NumberDataPoint {
        NumberDataPoint {
            start_time_unix_nano: start,
            time_unix_nano: time,
            value: Some(number_data_point::Value::AsInt(value)),
            ..Default::default()
        }
    }

    fn double_point(start: u64, time: u64, value: f64) -> NumberDataPoint {
        NumberDataPoint {
            value: Some(number_data_point::Value::AsDouble(value)),
            ..int_point(start, time, 0)
        }
    }

    fn at(route: &str, point: NumberDataPoint) -> NumberDataPoint {
        NumberDataPoint {
            attributes: vec![kv("http.route", route)],
            ..point
        }
    }

    fn sum(name: &str, temporality: i32, is_monotonic: bool, data_points: Vec<NumberDataPoint>) -> Metric {
        Metric {
            name: name.to_string(),
            unit: "{request}".to_string(),
            data: Some(Data::Sum(Sum {
                data_points,
                aggregation_temporality: temporality,
                is_monotonic,
            })),
            ..Default::default()
        }
    }

    fn counter(name: &str, points: Vec<NumberDataPoint>) -> Metric {
        sum(name, CUMULATIVE, true, points)
    }

    fn delta(name: &str, points: Vec<NumberDataPoint>) -> Metric {
        sum(name, DELTA, true, points)
    }

    /// A histogram point with bounds [10, 100, 1000] cut to its bucket count, min 1 and max 250.
    fn hist_point(start: u64, time: u64, count: u64, sum: Option<f64>, bucket_counts: Vec<u64>) -> HistogramDataPoint {
        let explicit_bounds = [10.0, 100.0, 1000.0][..bucket_counts.len() - 1].to_vec();
        HistogramDataPoint {
            start_time_unix_nano: start,
            time_unix_nano: time,
            count,
            sum,
            bucket_counts,
            explicit_bounds,
            min: Some(1.0),
            max: Some(250.0),
            ..Default::default()
        }
    }

    fn without_extremes(point: HistogramDataPoint) -> HistogramDataPoint {
        HistogramDataPoint {
            min: None,
            max: None,
            ..point
        }
    }

    fn histogram(name: &str, temporality: i32, data_points: Vec<HistogramDataPoint>) -> Metric {
        Metric {
            name: name.to_string(),
            unit: "ms".to_string(),
            data: Some(Data::Histogram(Histogram {
                data_points,
                aggregation_temporality: temporality,
            })),
            ..Default::default()
        }
    }

    /// Processes one payload of `metrics` (service "api") and returns the metrics left.
    fn run(p: &CumulativeToDeltaProcessor, metrics: Vec<Metric>, now: Instant) -> Vec<Metric> {
        let mut data = fixtures::metrics(vec![("api", metrics)]);
        p.process_at(&mut data, now);
        data.resource_metrics
            .into_iter()
            .flat_map(|r| r.scope_metrics)
            .flat_map(|s| s.metrics)
            .collect()
    }

    /// Sends one point per payload through `p`, as successive scrapes would.
    fn scrape(p: &CumulativeToDeltaProcessor, name: &str, points: Vec<NumberDataPoint>) -> Vec<Vec<Metric>> {
        let now = Instant::now();
        points
            .into_iter()
            .map(|point| run(p, vec![counter(name, vec![point])], now))
            .collect()
    }

    #[test]
    fn three_points_of_a_counter_older_than_the_processor_give_two_deltas() {
        let p = processor("{}");
        let outputs = scrape(
            &p,
            "http.server.requests",
            vec![int_point(BEFORE, T1, 10), int_point(BEFORE, T2, 15), int_point(BEFORE, T3, 27)],
        );
        assert_eq!(
            outputs,
            vec![
                vec![],
                vec![delta("http.server.requests", vec![int_point(T1, T2, 5)])],
                vec![delta("http.server.requests", vec![int_point(T2, T3, 12)])],
            ]
        );
    }

    #[test]
    fn a_payload_left_without_points_loses_its_metric_scope_and_resource() {
        let p = processor("{}");
        let mut data = fixtures::metrics(vec![("api", vec![counter("requests", vec![int_point(BEFORE, T1, 10)])])]);
        p.process_at(&mut data, Instant::now());
        assert_eq!(data, ExportMetricsServiceRequest::default());
    }

    #[test]
    fn initial_value_keep_sends_the_first_point_as_it_is() {
        let p = processor("initial_value: keep");
        let outputs = scrape(
            &p,
            "requests",
            vec![int_point(BEFORE, T1, 10), int_point(BEFORE, T2, 15), int_point(BEFORE, T3, 27)],
        );
        assert_eq!(
            outputs,
            vec![
                vec![delta("requests", vec![int_point(BEFORE, T1, 10)])],
                vec![delta("requests", vec![int_point(T1, T2, 5)])],
                vec![delta("requests", vec![int_point(T2, T3, 12)])],
            ]
        );
    }

    #[test]
    fn initial_value_drop_holds_back_the_first_point_even_of_a_new_counter() {
        let p = processor("initial_value: drop");
        let outputs = scrape(
            &p,
            "requests",
            vec![int_point(AFTER, T1, 10), int_point(AFTER, T2, 15), int_point(AFTER, T3, 27)],
        );
        assert_eq!(
            outputs,
            vec![
                vec![],
                vec![delta("requests", vec![int_point(T1, T2, 5)])],
                vec![delta("requests", vec![int_point(T2, T3, 12)])],
            ]
        );
    }

    #[test]
    fn auto_sends_the_first_point_of_a_counter_started_after_the_processor() {
        let p = processor("initial_value: auto");
        let now = Instant::now();
        // A second series whose start time equals its time holds no interval: auto holds it back.
        let first = run(
            &p,
            vec![counter(
                "requests",
                vec![at("/a", int_point(AFTER, T1, 10)), at("/b", int_point(T1, T1, 4))],
            )],
            now,
        );
        assert_eq!(first, vec![delta("requests", vec![at("/a", int_point(AFTER, T1, 10))])]);
        let second = run(
            &p,
            vec![counter(
                "requests",
                vec![at("/a", int_point(AFTER, T2, 15)), at("/b", int_point(T1, T2, 6))],
            )],
            now,
        );
        assert_eq!(
            second,
            vec![delta(
                "requests",
                vec![at("/a", int_point(T1, T2, 5)), at("/b", int_point(T1, T2, 2))]
            )]
        );
    }

    #[test]
    fn a_decrease_is_a_reset_whose_point_is_dropped_and_a_new_start_time_is_a_new_series() {
        let p = processor("{}");
        let restart = T4 + 500_000_000;
        let outputs = scrape(
            &p,
            "requests",
            vec![
                int_point(AFTER, T1, 10),
                int_point(AFTER, T2, 15),
                int_point(AFTER, T3, 4),
                int_point(AFTER, T4, 9),
                int_point(restart, T5, 3),
            ],
        );
        assert_eq!(
            outputs,
            vec![
                vec![delta("requests", vec![int_point(AFTER, T1, 10)])],
                vec![delta("requests", vec![int_point(T1, T2, 5)])],
                vec![],
                vec![delta("requests", vec![int_point(T3, T4, 5)])],
                vec![delta("requests", vec![int_point(restart, T5, 3)])],
            ]
        );
    }

    #[test]
    fn include_and_exclude_choose_by_name_and_type_and_exclude_wins() {
        let input = || {
            vec![
                counter("a.total", vec![int_point(BEFORE, T1, 1)]),
                counter("b.total", vec![int_point(BEFORE, T1, 2)]),
                counter("c.total", vec![int_point(BEFORE, T1, 3)]),
                histogram("latency", CUMULATIVE, vec![hist_point(BEFORE, T1, 1, Some(5.0), vec![1, 0])]),
            ]
        };
        let converted_latency = histogram(
            "latency",
            DELTA,
            vec![without_extremes(hist_point(BEFORE, T1, 1, Some(5.0), vec![1, 0]))],
        );
        let now = Instant::now();

        let by_name = processor(
            r"
initial_value: keep
include: { match_type: strict, metrics: [a.total, b.total, latency] }
exclude: { match_type: regexp, metrics: ['^b\.'] }",
        );
        let [a, b, c, _] = input().try_into().unwrap();
        assert_eq!(
            run(&by_name, input(), now),
            vec![
                delta("a.total", vec![int_point(BEFORE, T1, 1)]),
                b.clone(),
                c.clone(),
                converted_latency.clone()
            ]
        );

        let histograms_only = processor("initial_value: keep\ninclude: { metric_types: [histogram] }");
        assert_eq!(
            run(&histograms_only, input(), now),
            vec![a.clone(), b.clone(), c.clone(), converted_latency.clone()]
        );

        let no_sums = processor("initial_value: keep\nexclude: { metric_types: [Sum] }");
        assert_eq!(run(&no_sums, input(), now), vec![a, b, c, converted_latency]);
    }

    #[test]
    fn only_monotonic_cumulative_sums_and_cumulative_histograms_are_converted() {
        let p = processor("initial_value: keep");
        let now = Instant::now();
        let untouched = vec![
            sum("queue.size", CUMULATIVE, false, vec![int_point(BEFORE, T1, 7)]),
            sum("requests.delta", DELTA, true, vec![int_point(T1, T2, 7)]),
            fixtures::gauge("temperature", vec![fixtures::point(vec![], 21)]),
            histogram("latency.delta", DELTA, vec![hist_point(T1, T2, 1, Some(5.0), vec![1, 0])]),
        ];
        for _ in 0..2 {
            assert_eq!(run(&p, untouched.clone(), now), untouched);
        }
        // Floating-point counters are converted like integer ones.
        run(&p, vec![counter("cpu.seconds", vec![double_point(BEFORE, T1, 1.5)])], now);
        assert_eq!(
            run(&p, vec![counter("cpu.seconds", vec![double_point(BEFORE, T2, 4.0)])], now),
            vec![delta("cpu.seconds", vec![double_point(T1, T2, 2.5)])]
        );
    }

    #[test]
    fn histograms_become_deltas_of_count_sum_and_buckets_without_min_and_max() {
        let p = processor("{}");
        let now = Instant::now();
        let outputs: Vec<Vec<Metric>> = [
            hist_point(BEFORE, T1, 2, Some(30.0), vec![1, 1, 0]),
            hist_point(BEFORE, T2, 5, Some(180.0), vec![2, 2, 1]),
            hist_point(BEFORE, T3, 9, Some(700.0), vec![3, 3, 3]),
        ]
        .into_iter()
        .map(|point| run(&p, vec![histogram("latency", CUMULATIVE, vec![point])], now))
        .collect();
        assert_eq!(
            outputs,
            vec![
                vec![],
                vec![histogram(
                    "latency",
                    DELTA,
                    vec![without_extremes(hist_point(T1, T2, 3, Some(150.0), vec![1, 1, 1]))]
                )],
                vec![histogram(
                    "latency",
                    DELTA,
                    vec![without_extremes(hist_point(T2, T3, 4, Some(520.0), vec![1, 1, 2]))]
                )],
            ]
        );
    }

    #[test]
    fn a_histogram_reset_sends_its_own_totals_and_a_new_bucket_layout_is_dropped() {
        let p = processor("initial_value: keep");
        let now = Instant::now();
        let outputs: Vec<Vec<Metric>> = [
            hist_point(BEFORE, T1, 5, Some(100.0), vec![2, 2, 1]),
            hist_point(BEFORE, T2, 2, Some(10.0), vec![1, 1, 0]),
            hist_point(BEFORE, T3, 4, Some(30.0), vec![2, 1, 1]),
            hist_point(BEFORE, T4, 6, Some(40.0), vec![2, 1, 1, 2]),
            hist_point(BEFORE, T5, 7, Some(45.0), vec![2, 1, 2, 2]),
        ]
        .into_iter()
        .map(|point| run(&p, vec![histogram("latency", CUMULATIVE, vec![point])], now))
        .collect();
        let delta_of = |point| vec![histogram("latency", DELTA, vec![without_extremes(point)])];
        assert_eq!(
            outputs,
            vec![
                delta_of(hist_point(BEFORE, T1, 5, Some(100.0), vec![2, 2, 1])),
                delta_of(hist_point(T1, T2, 2, Some(10.0), vec![1, 1, 0])),
                delta_of(hist_point(T2, T3, 2, Some(20.0), vec![1, 0, 1])),
                vec![],
                delta_of(hist_point(T4, T5, 1, Some(5.0), vec![0, 0, 1, 0])),
            ]
        );
    }

    #[test]
    fn points_without_a_recorded_value_are_dropped_and_nan_passes() {
        let p = processor("initial_value: keep");
        let no_value = NumberDataPoint {
            flags: NO_RECORDED_VALUE,
            ..int_point(BEFORE, T2, 0)
        };
        let outputs = scrape(&p, "requests", vec![int_point(BEFORE, T1, 10), no_value, int_point(BEFORE, T3, 15)]);
        assert_eq!(
            outputs,
            vec![
                vec![delta("requests", vec![int_point(BEFORE, T1, 10)])],
                vec![],
                vec![delta("requests", vec![int_point(T1, T3, 5)])],
            ]
        );

        let now = Instant::now();
        run(&p, vec![counter("cpu.seconds", vec![double_point(BEFORE, T1, 1.0)])], now);
        let stale = run(&p, vec![counter("cpu.seconds", vec![double_point(BEFORE, T2, f64::NAN)])], now);
        let Some(Data::Sum(sum)) = &stale[0].data else {
            panic!("{stale:?}")
        };
        assert_eq!(sum.aggregation_temporality, DELTA);
        assert_eq!(sum.data_points[0].start_time_unix_nano, BEFORE, "left as it is");
        assert!(matches!(sum.data_points[0].value, Some(number_data_point::Value::AsDouble(v)) if v.is_nan()));
        assert_eq!(
            run(&p, vec![counter("cpu.seconds", vec![double_point(BEFORE, T3, 3.0)])], now),
            vec![delta("cpu.seconds", vec![double_point(T1, T3, 2.0)])],
            "the NaN neither counted nor moved the series on"
        );
    }

    #[test]
    fn series_are_told_apart_by_resource_and_point_attributes() {
        let p = processor("initial_value: drop");
        let now = Instant::now();
        let payload = |time, a: i64, b: i64, web: i64| {
            fixtures::metrics(vec![
                (
                    "api",
                    vec![counter(
                        "requests",
                        vec![at("/a", int_point(BEFORE, time, a)), at("/b", int_point(BEFORE, time, b))],
                    )],
                ),
                ("web", vec![counter("requests", vec![at("/a", int_point(BEFORE, time, web))])]),
            ])
        };
        let mut data = payload(T1, 10, 100, 1000);
        p.process_at(&mut data, now);
        let mut data = payload(T2, 11, 102, 1003);
        p.process_at(&mut data, now);
        let expected = fixtures::metrics(vec![
            (
                "api",
                vec![delta(
                    "requests",
                    vec![at("/a", int_point(T1, T2, 1)), at("/b", int_point(T1, T2, 2))],
                )],
            ),
            ("web", vec![delta("requests", vec![at("/a", int_point(T1, T2, 3))])]),
        ]);
        assert_eq!(data, expected);
    }

    #[test]
    fn a_series_unseen_for_max_staleness_is_forgotten_and_starts_over() {
        let t0 = Instant::now();
        let p = processor_limited("max_staleness: 1m", MAX_TRACKED_SERIES, t0);
        let point = |time, value| vec![counter("requests", vec![int_point(BEFORE, time, value)])];
        assert_eq!(
            run(
                &p,
                [point(T1, 10), vec![counter("other", vec![int_point(BEFORE, T1, 1)])]].concat(),
                t0
            ),
            vec![]
        );
        assert_eq!(
            run(&p, point(T2, 15), t0 + Duration::from_secs(30)),
            vec![delta("requests", vec![int_point(T1, T2, 5)])]
        );
        assert_eq!(
            run(&p, point(T3, 27), t0 + Duration::from_secs(91)),
            vec![],
            "stale: a first point again"
        );
        assert_eq!(p.tracker.lock().unwrap().series.len(), 1, "'other' was swept away too");
        assert_eq!(
            run(&p, point(T4, 30), t0 + Duration::from_secs(92)),
            vec![delta("requests", vec![int_point(T3, T4, 3)])]
        );
    }

    #[test]
    fn beyond_the_series_limit_points_pass_unchanged_in_a_cumulative_copy() {
        let p = processor_limited("initial_value: keep", 1, Instant::now());
        let now = Instant::now();
        let payload = |time, a, b| {
            vec![counter(
                "requests",
                vec![at("/a", int_point(BEFORE, time, a)), at("/b", int_point(BEFORE, time, b))],
            )]
        };
        assert_eq!(
            run(&p, payload(T1, 10, 100), now),
            vec![
                delta("requests", vec![at("/a", int_point(BEFORE, T1, 10))]),
                counter("requests", vec![at("/b", int_point(BEFORE, T1, 100))]),
            ]
        );
        assert_eq!(
            run(&p, payload(T2, 12, 104), now),
            vec![
                delta("requests", vec![at("/a", int_point(T1, T2, 2))]),
                counter("requests", vec![at("/b", int_point(BEFORE, T2, 104))]),
            ]
        );
    }

    #[test]
    fn defaults_are_the_collectors() {
        let defaults = config("{}");
        assert!(defaults.include.names.is_none() && defaults.include.metric_types.is_empty());
        assert!(defaults.exclude.names.is_none() && defaults.exclude.metric_types.is_empty());
        assert_eq!(defaults.max_staleness, Duration::ZERO, "never forget");
        assert_eq!(defaults.initial_value, InitialValue::Auto);
        assert_eq!(config("max_staleness: 0").max_staleness, Duration::ZERO);
        assert_eq!(config("max_staleness: 5m").max_staleness, Duration::from_secs(300));
    }

    #[test]
    fn metric_types_are_case_insensitive_and_exponential_histograms_may_only_be_excluded() {
        let parsed = config("include: { metric_types: [SUM, Histogram] }\nexclude: { metric_types: [ExponentialHistogram] }");
        assert_eq!(parsed.include.metric_types, [MetricType::Sum, MetricType::Histogram]);
        assert_eq!(parsed.exclude.metric_types, [MetricType::ExponentialHistogram]);
    }

    #[test]
    fn config_errors_have_paths_and_say_what_to_write() {
        let errors = config_errors(
            r"
metrics: [old.style]
include: { match_type: regexp, metrics: ['('], metric_types: [summary, exponentialhistogram] }
exclude: { match_type: regexp }
max_staleness: 300",
        );
        let error = |i: usize| errors.get(i).map(String::as_str).unwrap_or_default();
        assert_eq!(errors.len(), 6, "{errors:#?}");
        assert_eq!(
            error(0),
            "processors.cumulativetodelta.metrics: unknown key (expected one of: include, exclude, max_staleness, initial_value)"
        );
        assert!(
            error(1).starts_with("processors.cumulativetodelta.include.metrics[0]: not a valid regular expression"),
            "{errors:#?}"
        );
        assert_eq!(
            &errors[2..],
            [
                "processors.cumulativetodelta.include.metric_types[0]: unknown metric type 'summary' (expected sum, histogram or \
                 exponentialhistogram, in any case)",
                "processors.cumulativetodelta.include.metric_types[1]: otelbox does not convert exponential histograms yet (they pass \
                 unchanged); include only sum and histogram",
                "processors.cumulativetodelta.exclude.metrics: lists no metrics, but match_type is set; list the metric names or \
                 patterns to match",
                "processors.cumulativetodelta.max_staleness: expected a duration with a unit, like 5m or 1h (0 keeps series forever), \
                 got 300",
            ]
            .as_slice()
        );
        assert_eq!(
            config_errors("include: { metrics: [a] }\ninitial_value: first"),
            [
                "processors.cumulativetodelta.include: lists metrics without a match_type; add match_type: strict or match_type: regexp",
                "processors.cumulativetodelta.initial_value: expected auto, keep or drop, got 'first'",
            ]
        );
    }

    #[test]
    fn the_testdata_example_parses() {
        let value: Value = serde_yaml_ng::from_str(include_str!("testdata/cumulativetodelta.yaml")).unwrap();
        let (id, body) = value.as_mapping().unwrap().iter().next().unwrap();
        let mut errors = Vec::new();
        let parsed = parse(
            &mut Parser::collecting(&mut errors),
            body,
            &format!("processors.{}", id.as_str().unwrap()),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(parsed.include.admits("http.server.request.duration", MetricType::Histogram));
        assert!(!parsed.include.admits("queue.depth", MetricType::Sum));
        assert!(parsed.exclude.rejects("http.server.debug.count", MetricType::Sum));
        assert_eq!(parsed.max_staleness, Duration::from_secs(600));
    }

    #[test]
    fn it_runs_in_metrics_pipelines_only() {
        let yaml = "receivers:\n  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:4317 } } }\n\
                    processors:\n  cumulativetodelta: {}\n\
                    exporters:\n  otelbox: {}\n\
                    service:\n  pipelines:\n\
                    \x20   metrics: { receivers: [otlp], processors: [cumulativetodelta], exporters: [otelbox] }\n\
                    \x20   traces: { receivers: [otlp], processors: [cumulativetodelta], exporters: [otelbox] }\n";
        assert_eq!(
            fixtures::config_errors(yaml),
            ["service.pipelines.traces.processors[0]: processor \"cumulativetodelta\" does not handle traces: it handles only metrics"]
        );
    }
}
