//! The `prometheusremotewrite` exporter (the Collector's contrib `prometheusremotewriteexporter`):
//! metrics out as Prometheus remote write 1.0 (a protobuf `WriteRequest`, snappy block-compressed,
//! POSTed with `Content-Encoding: snappy` and `X-Prometheus-Remote-Write-Version: 0.1.0`) through
//! the shared sender (persistent queue, retries; see `sender.rs`).
//!
//! ```yaml
//! exporters:
//!   prometheusremotewrite:
//!     endpoint: https://mimir:9009/api/v1/push   # required; http:// or https://
//!     namespace: shop                            # prefixes every name: shop_http_requests_total
//!     external_labels: { cluster: eu-1 }         # added to every series that lacks the label
//!     resource_to_telemetry_conversion: { enabled: false, exclude_service_attributes: false }
//!     add_metric_suffixes: true                  # unit and _total suffixes
//!     target_info: { enabled: true }             # target_info{job, instance, resource attributes} 1
//!     max_batch_size_bytes: 3000000              # a batch above it is sent as several WriteRequests
//!     send_metadata: false                       # accepted; metadata is never sent
//!     export_created_metric: { enabled: false }  # accepted; _created series are never sent
//!     remote_write_queue: { enabled: true, queue_size: 10000, num_consumers: 5 }
//!     tls: { ca_file: ca.pem }                   # for https:// (as otlphttp)
//!     headers: { x-scope-orgid: team-a }
//!     auth: { authenticator: basicauth/mimir }
//!     timeout: 5s
//!     retry_on_failure: { initial_interval: 5s, max_interval: 30s, max_elapsed_time: 300s }
//! ```
//!
//! `remote_write_queue` is the Collector's name for this exporter's queue: its `enabled`,
//! `queue_size` (batches) and `num_consumers` set otelbox's sending queue, whose defaults here are
//! the Collector's (10000 batches, 5 workers). `sending_queue` is accepted instead (for
//! `storage` or `batch`); both at once is an error.
//!
//! The mapping follows the Collector's translator, with the names and labels of otelbox's
//! `prometheus` exporter (`prometheus.rs`: `metric_name`, `label_name`, `add_joined`):
//! - gauges: one sample per point; cumulative sums: monotonic ones are counters (`_total` with
//!   `add_metric_suffixes`), the others gauges;
//! - histograms: `_bucket{le}` with cumulative counts (and `le="+Inf"` = the count), `_sum`,
//!   `_count`; summaries: `{quantile}` series, `_sum`, `_count`;
//! - labels: the point's attributes (with `resource_to_telemetry_conversion` the resource's too,
//!   the point's winning), `job` (`service.namespace/service.name`), `instance`
//!   (`service.instance.id`), then `external_labels` where the label is not set yet; sorted by
//!   name, empty values left out;
//! - `target_info` (value 1 at the resource's latest point) per resource that has attributes
//!   besides `service.*`;
//! - timestamps in milliseconds; a point flagged "no recorded value" is Prometheus' stale marker;
//!   samples with the same labels form one series, in time order.
//!
//! Dropped and counted as dropped (the sender's partial-success count): points of non-cumulative
//! sums and histograms (as in the Collector), exponential histograms (remote write 1.0 has no
//! classic form for them; the Collector sends native histograms), numbers without a value, and
//! metrics whose name normalizes to nothing.
//!
//! A batch's series are cut into `WriteRequest`s of at most `max_batch_size_bytes` (uncompressed;
//! a single larger series goes alone), sent one after the other. A retry resumes after the last
//! request delivered. 2xx is delivered; 429 and 5xx are retried (honouring `Retry-After`); another
//! answer refuses that request for good; the others are still sent, and the batch is then counted
//! dropped.

use super::prometheus::{add_joined, escape_name, job_of, label_name, metric_name, value_text, NameKind};
use super::retry::{classify_http, SendError};
use super::sender::{
    parse_auth, parse_client_tls, parse_headers, parse_sender, request_headers, set_authorization, Delivered, Headers, HttpClient, Sender,
    SenderSettings, Transport, SENDER_KEYS,
};
use super::{ExporterContext, ExporterFactory};
use crate::config::{ComponentId, Parser, Settings};
use crate::extension::ClientAuthorization;
use crate::extension::StorageDir;
use crate::pdata::Signal;
use crate::pipeline::{SharedConsumer, SignalConsumers};
use crate::telemetry::PerSignal;
use crate::tls::ClientTlsSettings;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::header::{HeaderName, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    number_data_point, AggregationTemporality, HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint,
};
use prost::Message;
use reqwest::Url;
use serde_yaml_ng::{Mapping, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

// ---------------------------------------------------------------------------------------------
// The remote-write 1.0 messages (Prometheus' prompb remote.proto and types.proto, the fields used).

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: labels sorted by name, samples in time order.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: `timestamp` in milliseconds since the epoch.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

// ---------------------------------------------------------------------------------------------
// Settings.

/// The Collector's `max_batch_size_bytes`.
pub const DEFAULT_MAX_BATCH_SIZE_BYTES: usize = 3_000_000;
/// The Collector's `remote_write_queue` defaults.
const DEFAULT_QUEUE_SIZE: usize = 10_000;
const DEFAULT_NUM_CONSUMERS: usize = 5;
/// The limits of otelbox's sending queue (counted in batches).
const MAX_QUEUE_SIZE: u64 = 1_000_000;
const MAX_CONSUMERS: u64 = 1000;

/// Headers the exporter sets itself; `headers` may not name them (as in the Collector).
const RESERVED_HEADERS: [&str; 4] = [
    "content-encoding",
    "content-type",
    "x-prometheus-remote-write-version",
    "user-agent",
];

#[derive(Clone, Debug, PartialEq)]
pub struct PrometheusRemoteWriteExporterConfig {
    /// Where the WriteRequests are POSTed, exactly as written; None only in a config with errors.
    pub endpoint: Option<Url>,
    /// As written; escaped when names are built.
    pub namespace: String,
    /// Normalized label names, non-empty values.
    pub external_labels: BTreeMap<String, String>,
    /// `resource_to_telemetry_conversion.enabled`: every resource attribute becomes a label.
    pub resource_to_telemetry: bool,
    /// `resource_to_telemetry_conversion.exclude_service_attributes`.
    pub exclude_service_attributes: bool,
    pub add_metric_suffixes: bool,
    /// Accepted for Collector configs; nothing is sent for it.
    pub send_metadata: bool,
    /// The most uncompressed bytes of series one WriteRequest holds.
    pub max_batch_size_bytes: usize,
    /// `target_info.enabled`.
    pub target_info: bool,
    /// `export_created_metric.enabled`: accepted; `_created` series are not sent.
    pub export_created_metric: bool,
    pub headers: Headers,
    /// `auth.authenticator`: the client authenticator whose `Authorization` every request carries.
    pub auth: Option<ComponentId>,
    /// How https:// endpoints are connected to.
    pub tls: ClientTlsSettings,
    pub sender: SenderSettings,
}

impl Default for PrometheusRemoteWriteExporterConfig {
    fn default() -> Self {
        let mut sender = SenderSettings::default();
        sender.queue.queue_size = DEFAULT_QUEUE_SIZE;
        sender.queue.num_consumers = DEFAULT_NUM_CONSUMERS;
        PrometheusRemoteWriteExporterConfig {
            endpoint: None,
            namespace: String::new(),
            external_labels: BTreeMap::new(),
            resource_to_telemetry: false,
            exclude_service_attributes: false,
            add_metric_suffixes: true,
            send_metadata: false,
            max_batch_size_bytes: DEFAULT_MAX_BATCH_SIZE_BYTES,
            target_info: true,
            export_created_metric: false,
            headers: Headers::default(),
            auth: None,
            tls: ClientTlsSettings::default(),
            sender,
        }
    }
}

/// The `prometheusremotewrite` exporter type: metrics only.
pub struct Factory;
crate::component_type!(Factory, "prometheusremotewrite", &[Signal::Metrics], parse, refs: extension_refs);

impl ExporterFactory for Factory {
    fn build(&self, context: &ExporterContext<'_>, settings: &Settings) -> anyhow::Result<SignalConsumers> {
        let sender = exporter(
            context.id,
            settings.get(),
            context.authorization.as_ref(),
            context.queue_dir,
            context.counters.clone(),
        )?;
        let metrics: SharedConsumer<ExportMetricsServiceRequest> = Arc::new(sender);
        Ok(SignalConsumers {
            metrics: Some(metrics),
            ..Default::default()
        })
    }
}

/// The extensions it names: the storage extension of its sending queue and its client authenticator.
fn extension_refs(config: &PrometheusRemoteWriteExporterConfig) -> Vec<(String, ComponentId)> {
    let mut refs = super::sender::storage_ref(&config.sender);
    refs.extend(super::sender::auth_ref(config.auth.as_ref()));
    refs
}

const KEYS: [&str; 13] = [
    "endpoint",
    "namespace",
    "external_labels",
    "resource_to_telemetry_conversion",
    "add_metric_suffixes",
    "send_metadata",
    "max_batch_size_bytes",
    "remote_write_queue",
    "target_info",
    "export_created_metric",
    "headers",
    "auth",
    "tls",
];

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> PrometheusRemoteWriteExporterConfig {
    let mut config = PrometheusRemoteWriteExporterConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let mut keys = KEYS.to_vec();
    keys.extend(SENDER_KEYS);
    p.only_keys(body, &keys, path);
    let at = |key: &str| format!("{path}.{key}");
    match body.get("endpoint") {
        Some(v) => config.endpoint = parse_url(p, v, &at("endpoint")),
        None => p.error(
            path,
            "endpoint is required (the remote-write URL, e.g. https://mimir:9009/api/v1/push)",
        ),
    }
    if let Some(namespace) = body.get("namespace").and_then(|v| p.string(v, &at("namespace"))) {
        config.namespace = namespace;
    }
    config.external_labels = parse_external_labels(p, body.get("external_labels"), &at("external_labels"));
    if let Some(v) = body.get("resource_to_telemetry_conversion") {
        let section_path = at("resource_to_telemetry_conversion");
        if let Some(section) = p.mapping(Some(v), &section_path) {
            p.only_keys(section, &["enabled", "exclude_service_attributes"], &section_path);
            if let Some(enabled) = flag(p, section, "enabled", &section_path) {
                config.resource_to_telemetry = enabled;
            }
            if let Some(exclude) = flag(p, section, "exclude_service_attributes", &section_path) {
                config.exclude_service_attributes = exclude;
            }
        }
    }
    if let Some(add) = flag(p, body, "add_metric_suffixes", path) {
        config.add_metric_suffixes = add;
    }
    if let Some(send) = flag(p, body, "send_metadata", path) {
        config.send_metadata = send;
    }
    if let Some(v) = body.get("max_batch_size_bytes") {
        match p.unsigned(v, &at("max_batch_size_bytes")) {
            Some(0) => p.error(&at("max_batch_size_bytes"), "must be greater than 0 (default 3000000)"),
            Some(n) => config.max_batch_size_bytes = usize::try_from(n).unwrap_or(usize::MAX),
            None => {}
        }
    }
    if let Some(enabled) = enabled_section(p, body, "target_info", path) {
        config.target_info = enabled;
    }
    if let Some(enabled) = enabled_section(p, body, "export_created_metric", path) {
        config.export_created_metric = enabled;
    }
    config.tls = parse_client_tls(p, body.get("tls"), &at("tls"));
    config.headers = parse_headers(p, body.get("headers"), &at("headers"), false);
    for (name, _) in &config.headers.0 {
        if RESERVED_HEADERS.contains(&name.as_str()) {
            p.error(
                &format!("{path}.headers.{name}"),
                "set by the exporter (snappy-compressed protobuf, remote write 0.1.0); remove it",
            );
        }
    }
    config.auth = parse_auth(p, body, path, &config.headers);
    let sending_queue = body.get("sending_queue").is_some();
    config.sender = parse_sender(p, body, path);
    if !sending_queue {
        config.sender.queue.queue_size = DEFAULT_QUEUE_SIZE;
        config.sender.queue.num_consumers = DEFAULT_NUM_CONSUMERS;
    }
    if let Some(v) = body.get("remote_write_queue") {
        let queue_path = at("remote_write_queue");
        if sending_queue {
            p.error(
                &queue_path,
                "set either remote_write_queue (the Collector's) or sending_queue, not both",
            );
        }
        if let Some(section) = p.mapping(Some(v), &queue_path) {
            p.only_keys(section, &["enabled", "queue_size", "num_consumers"], &queue_path);
            if let Some(enabled) = flag(p, section, "enabled", &queue_path) {
                config.sender.queue.enabled = enabled;
            }
            if let Some(n) = bounded(p, section, "queue_size", &queue_path, MAX_QUEUE_SIZE) {
                config.sender.queue.queue_size = n;
            }
            if let Some(n) = bounded(p, section, "num_consumers", &queue_path, MAX_CONSUMERS) {
                config.sender.queue.num_consumers = n;
            }
        }
    }
    config
}

/// A boolean `key` of `section`, if present and valid.
fn flag(p: &mut Parser, section: &Mapping, key: &str, path: &str) -> Option<bool> {
    let value = section.get(key)?;
    p.boolean(value, &format!("{path}.{key}"))
}

/// `key: { enabled: <bool> }` (a bare boolean is taken too).
fn enabled_section(p: &mut Parser, body: &Mapping, key: &str, path: &str) -> Option<bool> {
    let section_path = format!("{path}.{key}");
    let value = body.get(key)?;
    if let Value::Bool(enabled) = value {
        return Some(*enabled);
    }
    let section = p.mapping(Some(value), &section_path)?;
    p.only_keys(section, &["enabled"], &section_path);
    flag(p, section, "enabled", &section_path)
}

/// An integer `key` of `section` between 1 and `max`.
fn bounded(p: &mut Parser, section: &Mapping, key: &str, path: &str, max: u64) -> Option<usize> {
    let at = format!("{path}.{key}");
    let n = p.unsigned(section.get(key)?, &at)?;
    if !(1..=max).contains(&n) {
        p.error(&at, format!("must be between 1 and {max}"));
        return None;
    }
    usize::try_from(n).ok()
}

/// `external_labels`: names normalized as attribute keys are; an empty name or value is an error
/// (as in the Collector).
fn parse_external_labels(p: &mut Parser, value: Option<&Value>, path: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    for (key, v) in p.entries(value, path) {
        let at = format!("{path}.{key}");
        let Some(text) = p.string(v, &at) else { continue };
        if text.is_empty() {
            p.error(&at, "must not be empty (Prometheus reads an empty label as an absent one)");
            continue;
        }
        match label_name(&key) {
            Some(name) => {
                labels.insert(name, text);
            }
            None => p.error(&at, "not usable as a label name (use letters, digits and _)"),
        }
    }
    labels
}

fn parse_url(p: &mut Parser, value: &Value, path: &str) -> Option<Url> {
    let text = p.string(value, path)?;
    match Url::parse(&text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()) => Some(url),
        _ => {
            p.error(
                path,
                format!("expected an http:// or https:// URL like https://mimir:9009/api/v1/push, got '{text}'"),
            );
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// OTLP to remote-write series.

/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`.
const NO_RECORDED_VALUE: u32 = 1;
/// Prometheus' stale marker (`value.StaleNaN`).
const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;
const NAME_LABEL: &str = "__name__";

fn is_service_key(key: &str) -> bool {
    matches!(key, "service.name" | "service.namespace" | "service.instance.id")
}

fn millis(unix_nanos: u64) -> i64 {
    (unix_nanos / 1_000_000) as i64
}

/// A bound or quantile as a label value, as Go's `FormatFloat(v, 'f', -1, 64)` writes it.
fn float_text(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{value}")
    }
}

/// How names and labels are built, from the settings.
struct Translator {
    /// Escaped.
    namespace: String,
    add_suffixes: bool,
    external_labels: BTreeMap<String, String>,
    resource_to_telemetry: bool,
    exclude_service_attributes: bool,
    target_info: bool,
}

/// The series of one batch and the points that could not be written.
struct Translation {
    series: Vec<TimeSeries>,
    dropped: usize,
}

/// Where the points of one resource come from.
struct Origin<'a> {
    /// Resource attributes copied onto every point (`resource_to_telemetry_conversion`).
    promoted: Vec<&'a KeyValue>,
    job: Option<String>,
    instance: Option<String>,
}

/// Series by their labels, in the order they first appear.
#[derive(Default)]
struct SeriesSet {
    index: HashMap<Vec<(String, String)>, usize>,
    series: Vec<TimeSeries>,
}

impl SeriesSet {
    /// One sample of the series `name` with `labels` (and the `extra` label: `le`, `quantile`).
    fn add(&mut self, mut labels: BTreeMap<String, String>, name: &str, extra: Option<(&str, String)>, value: f64, timestamp: i64) {
        if let Some((label, text)) = extra {
            labels.insert(label.to_string(), text);
        }
        labels.insert(NAME_LABEL.to_string(), name.to_string());
        let key: Vec<(String, String)> = labels.into_iter().collect();
        let sample = Sample { value, timestamp };
        if let Some(&i) = self.index.get(&key) {
            self.series[i].samples.push(sample);
            return;
        }
        let labels = key
            .iter()
            .map(|(name, value)| Label {
                name: name.clone(),
                value: value.clone(),
            })
            .collect();
        self.index.insert(key, self.series.len());
        self.series.push(TimeSeries {
            labels,
            samples: vec![sample],
        });
    }

    /// The series, each with its samples in time order (the last of equal timestamps kept).
    fn finish(self) -> Vec<TimeSeries> {
        let mut series = self.series;
        for one in &mut series {
            one.samples.sort_by_key(|sample| sample.timestamp);
            let mut kept: Vec<Sample> = Vec::with_capacity(one.samples.len());
            for sample in one.samples.drain(..) {
                match kept.last_mut() {
                    Some(last) if last.timestamp == sample.timestamp => *last = sample,
                    _ => kept.push(sample),
                }
            }
            one.samples = kept;
        }
        series
    }
}

fn latest_time(metric: &Metric) -> u64 {
    let times: Vec<u64> = match &metric.data {
        Some(Data::Gauge(g)) => g.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::Sum(s)) => s.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::Histogram(h)) => h.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::ExponentialHistogram(e)) => e.data_points.iter().map(|p| p.time_unix_nano).collect(),
        Some(Data::Summary(s)) => s.data_points.iter().map(|p| p.time_unix_nano).collect(),
        None => Vec::new(),
    };
    times.into_iter().max().unwrap_or(0)
}

impl Translator {
    fn new(config: &PrometheusRemoteWriteExporterConfig) -> Translator {
        Translator {
            namespace: escape_name(&config.namespace),
            add_suffixes: config.add_metric_suffixes,
            external_labels: config.external_labels.clone(),
            resource_to_telemetry: config.resource_to_telemetry,
            exclude_service_attributes: config.exclude_service_attributes,
            target_info: config.target_info,
        }
    }

    fn translate(&self, request: &ExportMetricsServiceRequest) -> Translation {
        let mut out = SeriesSet::default();
        let mut dropped = 0;
        for resource_metrics in &request.resource_metrics {
            let resource = resource_metrics
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or_default();
            let promoted: Vec<&KeyValue> = if self.resource_to_telemetry {
                resource
                    .iter()
                    .filter(|kv| !(self.exclude_service_attributes && is_service_key(&kv.key)))
                    .collect()
            } else {
                Vec::new()
            };
            let origin = Origin {
                promoted,
                job: job_of(resource).filter(|job| !job.is_empty()),
                instance: resource
                    .iter()
                    .find(|kv| kv.key == "service.instance.id")
                    .map(|kv| value_text(kv.value.as_ref()))
                    .filter(|instance| !instance.is_empty()),
            };
            let mut latest = 0;
            for scope_metrics in &resource_metrics.scope_metrics {
                for metric in &scope_metrics.metrics {
                    latest = latest.max(latest_time(metric));
                    dropped += self.add_metric(&mut out, metric, &origin);
                }
            }
            if self.target_info {
                self.add_target_info(&mut out, resource, &origin, latest);
            }
        }
        Translation {
            series: out.finish(),
            dropped,
        }
    }

    /// Adds a metric's series; returns how many of its points were dropped.
    fn add_metric(&self, out: &mut SeriesSet, metric: &Metric, origin: &Origin<'_>) -> usize {
        let name = |kind: NameKind| metric_name(&metric.name, &metric.unit, kind, &self.namespace, self.add_suffixes);
        let cumulative = AggregationTemporality::Cumulative as i32;
        match &metric.data {
            None => 0,
            Some(Data::Gauge(gauge)) => match name(NameKind::Gauge) {
                Some(name) => self.add_numbers(out, &name, &gauge.data_points, origin),
                None => gauge.data_points.len(),
            },
            Some(Data::Sum(sum)) => {
                if sum.aggregation_temporality != cumulative {
                    return sum.data_points.len();
                }
                let kind = if sum.is_monotonic {
                    NameKind::MonotonicCounter
                } else {
                    NameKind::Other
                };
                match name(kind) {
                    Some(name) => self.add_numbers(out, &name, &sum.data_points, origin),
                    None => sum.data_points.len(),
                }
            }
            Some(Data::Histogram(histogram)) => {
                if histogram.aggregation_temporality != cumulative {
                    return histogram.data_points.len();
                }
                let Some(name) = name(NameKind::Other) else {
                    return histogram.data_points.len();
                };
                for point in &histogram.data_points {
                    self.add_histogram(out, &name, point, origin);
                }
                0
            }
            Some(Data::ExponentialHistogram(histogram)) => histogram.data_points.len(),
            Some(Data::Summary(summary)) => {
                let Some(name) = name(NameKind::Other) else {
                    return summary.data_points.len();
                };
                for point in &summary.data_points {
                    self.add_summary(out, &name, point, origin);
                }
                0
            }
        }
    }

    /// A point's labels without `__name__`.
    fn labels(&self, attributes: &[KeyValue], origin: &Origin<'_>) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        // A point's own attribute wins over a resource attribute of the same key.
        let from_resource = origin
            .promoted
            .iter()
            .copied()
            .filter(|kv| !attributes.iter().any(|own| own.key == kv.key));
        for kv in from_resource.chain(attributes.iter()) {
            add_joined(&mut labels, &kv.key, kv.value.as_ref());
        }
        if let Some(job) = &origin.job {
            labels.insert("job".to_string(), job.clone());
        }
        if let Some(instance) = &origin.instance {
            labels.insert("instance".to_string(), instance.clone());
        }
        self.add_external_labels(&mut labels);
        labels
    }

    fn add_external_labels(&self, labels: &mut BTreeMap<String, String>) {
        for (name, value) in &self.external_labels {
            labels.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }

    fn add_numbers(&self, out: &mut SeriesSet, name: &str, points: &[NumberDataPoint], origin: &Origin<'_>) -> usize {
        let mut dropped = 0;
        for point in points {
            let value = if point.flags & NO_RECORDED_VALUE != 0 {
                Some(f64::from_bits(STALE_NAN_BITS))
            } else {
                point.value.map(|value| match value {
                    number_data_point::Value::AsDouble(value) => value,
                    number_data_point::Value::AsInt(value) => value as f64,
                })
            };
            let Some(value) = value else {
                dropped += 1;
                continue;
            };
            out.add(
                self.labels(&point.attributes, origin),
                name,
                None,
                value,
                millis(point.time_unix_nano),
            );
        }
        dropped
    }

    fn add_histogram(&self, out: &mut SeriesSet, name: &str, point: &HistogramDataPoint, origin: &Origin<'_>) {
        let stale = point.flags & NO_RECORDED_VALUE != 0;
        let value = |v: f64| if stale { f64::from_bits(STALE_NAN_BITS) } else { v };
        let labels = self.labels(&point.attributes, origin);
        let timestamp = millis(point.time_unix_nano);
        if stale || point.sum.is_some() {
            out.add(
                labels.clone(),
                &format!("{name}_sum"),
                None,
                value(point.sum.unwrap_or(0.0)),
                timestamp,
            );
        }
        out.add(labels.clone(), &format!("{name}_count"), None, value(point.count as f64), timestamp);
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (i, bound) in point.explicit_bounds.iter().enumerate() {
            cumulative = cumulative.saturating_add(point.bucket_counts.get(i).copied().unwrap_or(0));
            out.add(
                labels.clone(),
                &bucket,
                Some(("le", float_text(*bound))),
                value(cumulative as f64),
                timestamp,
            );
        }
        out.add(
            labels,
            &bucket,
            Some(("le", "+Inf".to_string())),
            value(point.count as f64),
            timestamp,
        );
    }

    fn add_summary(&self, out: &mut SeriesSet, name: &str, point: &SummaryDataPoint, origin: &Origin<'_>) {
        let stale = point.flags & NO_RECORDED_VALUE != 0;
        let value = |v: f64| if stale { f64::from_bits(STALE_NAN_BITS) } else { v };
        let labels = self.labels(&point.attributes, origin);
        let timestamp = millis(point.time_unix_nano);
        out.add(labels.clone(), &format!("{name}_sum"), None, value(point.sum), timestamp);
        out.add(labels.clone(), &format!("{name}_count"), None, value(point.count as f64), timestamp);
        for quantile in &point.quantile_values {
            out.add(
                labels.clone(),
                name,
                Some(("quantile", float_text(quantile.quantile))),
                value(quantile.value),
                timestamp,
            );
        }
    }

    /// `target_info{job, instance, other resource attributes} 1` at the resource's latest point,
    /// for a resource with attributes besides `service.*` and with points.
    fn add_target_info(&self, out: &mut SeriesSet, resource: &[KeyValue], origin: &Origin<'_>, latest: u64) {
        if latest == 0 || resource.iter().all(|kv| is_service_key(&kv.key)) {
            return;
        }
        let mut labels = BTreeMap::new();
        for kv in resource.iter().filter(|kv| !is_service_key(&kv.key)) {
            add_joined(&mut labels, &kv.key, kv.value.as_ref());
        }
        if let Some(job) = &origin.job {
            labels.insert("job".to_string(), job.clone());
        }
        if let Some(instance) = &origin.instance {
            labels.insert("instance".to_string(), instance.clone());
        }
        self.add_external_labels(&mut labels);
        let name = if self.namespace.is_empty() {
            "target_info".to_string()
        } else {
            format!("{}_target_info", self.namespace)
        };
        out.add(labels, &name, None, 1.0, millis(latest));
    }
}

/// `series` as WriteRequests of at most `max_bytes` encoded each (a single larger series alone).
fn write_requests(series: Vec<TimeSeries>, max_bytes: usize) -> Vec<WriteRequest> {
    let mut requests = Vec::new();
    let mut current = Vec::new();
    let mut size = 0usize;
    for one in series {
        let len = one.encoded_len();
        // The field key (one byte for field 1), the length, the message.
        let entry = 1 + prost::length_delimiter_len(len) + len;
        if !current.is_empty() && size + entry > max_bytes {
            requests.push(WriteRequest {
                timeseries: std::mem::take(&mut current),
            });
            size = 0;
        }
        size += entry;
        current.push(one);
    }
    if !current.is_empty() {
        requests.push(WriteRequest { timeseries: current });
    }
    requests
}

// ---------------------------------------------------------------------------------------------
// Sending.

/// The `prometheusremotewrite` exporter: the forwarding `Sender` over the remote-write transport.
/// `authorization` is the value of the client authenticator `auth` names; `queue_dir` is where a
/// persistent sending queue lives (None: an in-memory box).
pub fn exporter(
    id: &ComponentId,
    config: &PrometheusRemoteWriteExporterConfig,
    authorization: Option<&ClientAuthorization>,
    queue_dir: Option<StorageDir<'_>>,
    counters: PerSignal,
) -> anyhow::Result<Sender> {
    let transport = RemoteWriteTransport::new(config, authorization).map_err(|e| anyhow::anyhow!("exporter {id}: {e}"))?;
    Sender::start(id, Arc::new(transport), &config.sender, queue_dir, counters)
}

/// The most of an answer's body read (for error messages).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Batches whose progress is remembered between attempts; beyond it (batches given up on leave
/// theirs behind) the record starts over, at worst sending a request again.
const MAX_TRACKED_BATCHES: usize = 1024;

/// How far the attempts at one batch got.
#[derive(Clone, Debug, Default)]
struct Progress {
    /// Requests answered (delivered or refused for good).
    done: usize,
    refused: usize,
    first_refusal: String,
}

/// An encoded batch, as `encode` hands it to `export`: a batch number, the count of points
/// dropped in translation, then each snappy-compressed WriteRequest behind its length
/// (`u64 | u64 | (u32 | bytes)*`, little-endian).
struct Frame {
    batch: u64,
    dropped: u64,
    requests: Vec<Bytes>,
}

impl Frame {
    fn write(batch: u64, dropped: u64, requests: &[Vec<u8>]) -> Result<Bytes, SendError> {
        let mut frame = Vec::with_capacity(16 + requests.iter().map(|r| 4 + r.len()).sum::<usize>());
        frame.extend_from_slice(&batch.to_le_bytes());
        frame.extend_from_slice(&dropped.to_le_bytes());
        for request in requests {
            let len = u32::try_from(request.len())
                .map_err(|_| SendError::permanent("a remote-write request above 4 GiB cannot be sent; lower max_batch_size_bytes"))?;
            frame.extend_from_slice(&len.to_le_bytes());
            frame.extend_from_slice(request);
        }
        Ok(Bytes::from(frame))
    }

    fn read(body: &Bytes) -> Option<Frame> {
        let batch = u64::from_le_bytes(<[u8; 8]>::try_from(body.get(0..8)?).ok()?);
        let dropped = u64::from_le_bytes(<[u8; 8]>::try_from(body.get(8..16)?).ok()?);
        let mut at = 16;
        let mut requests = Vec::new();
        while at < body.len() {
            let len = u32::from_le_bytes(<[u8; 4]>::try_from(body.get(at..at + 4)?).ok()?) as usize;
            at += 4;
            let end = at.checked_add(len).filter(|end| *end <= body.len())?;
            requests.push(body.slice(at..end));
            at = end;
        }
        Some(Frame { batch, dropped, requests })
    }
}

struct RemoteWriteTransport {
    client: HttpClient,
    url: Url,
    headers: HeaderMap,
    /// An `Authorization` that changes (an OAuth2 token), asked for before each request; a fixed
    /// one is in `headers`.
    live_authorization: Option<ClientAuthorization>,
    translator: Translator,
    max_batch_size_bytes: usize,
    next_batch: AtomicU64,
    progress: Mutex<HashMap<u64, Progress>>,
}

impl RemoteWriteTransport {
    fn new(
        config: &PrometheusRemoteWriteExporterConfig,
        authorization: Option<&ClientAuthorization>,
    ) -> anyhow::Result<RemoteWriteTransport> {
        let url = config
            .endpoint
            .clone()
            .ok_or_else(|| anyhow::anyhow!("no endpoint is configured (the remote-write URL)"))?;
        let client = HttpClient::new(&config.tls, url.scheme() == "https", config.sender.timeout)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers.0 {
            headers.append(name.clone(), value.clone());
        }
        let live_authorization = set_authorization(&mut headers, authorization);
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("snappy"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
        headers.insert(
            HeaderName::from_static("x-prometheus-remote-write-version"),
            HeaderValue::from_static("0.1.0"),
        );
        Ok(RemoteWriteTransport {
            client,
            url,
            headers,
            live_authorization,
            translator: Translator::new(config),
            max_batch_size_bytes: config.max_batch_size_bytes,
            next_batch: AtomicU64::new(0),
            progress: Mutex::new(HashMap::new()),
        })
    }

    fn progress_of(&self, batch: u64) -> Progress {
        let progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        progress.get(&batch).cloned().unwrap_or_default()
    }

    fn save_progress(&self, batch: u64, done: &Progress) {
        let mut progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        if progress.len() >= MAX_TRACKED_BATCHES && !progress.contains_key(&batch) {
            progress.clear();
        }
        progress.insert(batch, done.clone());
    }

    fn forget(&self, batch: u64) {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner).remove(&batch);
    }

    /// Sends the batch's requests not answered yet, in order.
    async fn send(&self, body: Bytes) -> Result<Delivered, SendError> {
        let frame = Frame::read(&body).ok_or_else(|| SendError::permanent("internal error: an encoded remote-write batch is malformed"))?;
        let total = frame.requests.len();
        let mut progress = self.progress_of(frame.batch);
        while progress.done < total {
            match self.post(frame.requests[progress.done].clone()).await {
                Ok(()) => {}
                Err(SendError::Permanent { message }) => {
                    progress.refused += 1;
                    if progress.first_refusal.is_empty() {
                        progress.first_refusal = message;
                    }
                }
                Err(retryable) => {
                    self.save_progress(frame.batch, &progress);
                    return Err(retryable);
                }
            }
            progress.done += 1;
            // Saved now too: a timeout may cancel the next request.
            self.save_progress(frame.batch, &progress);
        }
        self.forget(frame.batch);
        if progress.refused > 0 {
            return Err(SendError::permanent(if total == 1 {
                progress.first_refusal
            } else {
                format!(
                    "{} of {total} remote-write requests refused, the first: {}",
                    progress.refused, progress.first_refusal
                )
            }));
        }
        let message = if frame.dropped > 0 {
            format!(
                "{} data points have no remote-write form (non-cumulative sums or histograms, exponential histograms, numbers without a value, unusable names) and were dropped",
                frame.dropped
            )
        } else {
            String::new()
        };
        Ok(Delivered {
            rejected: frame.dropped,
            message,
        })
    }

    async fn post(&self, body: Bytes) -> Result<(), SendError> {
        let url = &self.url;
        let headers = request_headers(&self.headers, self.live_authorization.as_ref())?;
        let answer = self
            .client
            .post(url, &headers, body, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| SendError::retryable(format!("cannot send to {url}: {e}")))?;
        let retry_after = answer.headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok());
        match classify_http(answer.status, retry_after, &error_detail(&answer.body), SystemTime::now()) {
            None => Ok(()),
            // As the Collector: any 5xx is worth another try.
            Some(SendError::Permanent { message }) if answer.status >= 500 => Err(SendError::Retryable { message, delay: None }),
            Some(error) => Err(error),
        }
    }
}

impl Transport for RemoteWriteTransport {
    fn encode(&self, signal: Signal, payload: Bytes) -> Result<Bytes, SendError> {
        if signal != Signal::Metrics {
            return Err(SendError::permanent(format!(
                "the prometheusremotewrite exporter takes metrics only, got {}",
                signal.as_str()
            )));
        }
        let request = ExportMetricsServiceRequest::decode(payload)
            .map_err(|e| SendError::permanent(format!("a queued batch is not valid OTLP protobuf: {e}")))?;
        let translation = self.translator.translate(&request);
        let mut encoder = snap::raw::Encoder::new();
        let mut compressed = Vec::new();
        for request in write_requests(translation.series, self.max_batch_size_bytes) {
            let body = encoder
                .compress_vec(&request.encode_to_vec())
                .map_err(|e| SendError::permanent(format!("cannot compress the request: {e}")))?;
            compressed.push(body);
        }
        let batch = self.next_batch.fetch_add(1, Ordering::Relaxed);
        Frame::write(batch, translation.dropped as u64, &compressed)
    }

    fn export(&self, _signal: Signal, body: Bytes) -> BoxFuture<'_, Result<Delivered, SendError>> {
        Box::pin(self.send(body))
    }

    fn destination(&self, _signal: Signal) -> String {
        self.url.to_string()
    }
}

/// The start of an error answer's text (remote-write servers answer in plain text), for the log.
fn error_detail(answer: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(answer)
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    text.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::sender::golden;
    use crate::pipeline::{Consumer, Envelope};
    use axum::http::{HeaderMap as AxumHeaders, StatusCode};
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
    use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
    use opentelemetry_proto::tonic::metrics::v1::{
        metric, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, ResourceMetrics, ScopeMetrics, Sum, Summary,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    /// 2023-11-14T22:13:20.123456789Z; 1700000000123 in milliseconds.
    const T: u64 = 1_700_000_000_123_456_789;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn number(attributes: Vec<KeyValue>, value: f64) -> NumberDataPoint {
        NumberDataPoint {
            attributes,
            time_unix_nano: T,
            value: Some(number_data_point::Value::AsDouble(value)),
            ..Default::default()
        }
    }

    fn metric(name: &str, unit: &str, data: metric::Data) -> Metric {
        Metric {
            name: name.into(),
            unit: unit.into(),
            data: Some(data),
            ..Default::default()
        }
    }

    /// One resource (checkout in shop, pod-1 on web-1) with `metrics`.
    fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", "checkout"),
                        kv("service.namespace", "shop"),
                        kv("service.instance.id", "pod-1"),
                        kv("host.name", "web-1"),
                    ],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// Each series as `label=value,... value@ms` lines, labels as sent (sorted by name).
    fn render(series: &[TimeSeries]) -> Vec<String> {
        series
            .iter()
            .flat_map(|one| {
                let labels: Vec<String> = one.labels.iter().map(|l| format!("{}={}", l.name, l.value)).collect();
                let labels = labels.join(",");
                one.samples
                    .iter()
                    .map(move |s| format!("{labels} {}@{}", s.value, s.timestamp))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn translate(config: &PrometheusRemoteWriteExporterConfig, request: &ExportMetricsServiceRequest) -> (Vec<String>, usize) {
        let translation = Translator::new(config).translate(request);
        (render(&translation.series), translation.dropped)
    }

    fn defaults() -> PrometheusRemoteWriteExporterConfig {
        settings("endpoint: http://mimir:9009/api/v1/push")
    }

    const TARGET_INFO: &str = "__name__=target_info,host_name=web-1,instance=pod-1,job=shop/checkout 1@1700000000123";

    #[test]
    fn gauges_and_counters_become_one_sample_per_point_with_sorted_labels_and_millisecond_timestamps() {
        let input = request(vec![
            metric(
                "queue.depth",
                "{item}",
                metric::Data::Gauge(Gauge {
                    data_points: vec![number(vec![kv("queue", "orders"), kv("Zone", "a")], 42.0)],
                }),
            ),
            metric(
                "http.requests",
                "{request}",
                metric::Data::Sum(Sum {
                    data_points: vec![number(vec![kv("http.method", "GET")], 7.0)],
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                }),
            ),
            metric(
                "pool.usage",
                "1",
                metric::Data::Sum(Sum {
                    data_points: vec![number(vec![], 0.5)],
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: false,
                }),
            ),
        ]);
        let (lines, dropped) = translate(&defaults(), &input);
        assert_eq!(
            lines,
            [
                "Zone=a,__name__=queue_depth,instance=pod-1,job=shop/checkout,queue=orders 42@1700000000123",
                "__name__=http_requests_total,http_method=GET,instance=pod-1,job=shop/checkout 7@1700000000123",
                "__name__=pool_usage,instance=pod-1,job=shop/checkout 0.5@1700000000123",
                TARGET_INFO,
            ]
        );
        assert_eq!(dropped, 0);
    }

    #[test]
    fn namespace_external_labels_and_resource_attributes_shape_names_and_labels() {
        let config = settings(
            "endpoint: http://mimir:9009/api/v1/push\nnamespace: otel\nexternal_labels: { cluster: eu-1, queue: default }\nresource_to_telemetry_conversion: { enabled: true }\nadd_metric_suffixes: false\ntarget_info: { enabled: false }",
        );
        let input = request(vec![metric(
            "http.requests",
            "{request}",
            metric::Data::Sum(Sum {
                data_points: vec![number(vec![kv("queue", "orders"), kv("host.name", "own")], 1.0)],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
        )]);
        let (lines, _) = translate(&config, &input);
        assert_eq!(
            lines,
            ["__name__=otel_http_requests,cluster=eu-1,host_name=own,instance=pod-1,job=shop/checkout,queue=orders,service_instance_id=pod-1,service_name=checkout,service_namespace=shop 1@1700000000123"],
            "the point's attributes win over the resource's and over external labels; no target_info"
        );
    }

    #[test]
    fn histograms_become_cumulative_buckets_with_inf_sum_and_count() {
        let input = request(vec![metric(
            "http.server.duration",
            "s",
            metric::Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: vec![kv("route", "/cart")],
                    time_unix_nano: T,
                    count: 10,
                    sum: Some(4.5),
                    bucket_counts: vec![2, 3, 5],
                    explicit_bounds: vec![0.05, 1.0],
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }),
        )]);
        let (lines, dropped) = translate(&defaults(), &input);
        let base = "instance=pod-1,job=shop/checkout";
        assert_eq!(
            lines,
            [
                format!("__name__=http_server_duration_seconds_sum,{base},route=/cart 4.5@1700000000123"),
                format!("__name__=http_server_duration_seconds_count,{base},route=/cart 10@1700000000123"),
                format!("__name__=http_server_duration_seconds_bucket,{base},le=0.05,route=/cart 2@1700000000123"),
                format!("__name__=http_server_duration_seconds_bucket,{base},le=1,route=/cart 5@1700000000123"),
                format!("__name__=http_server_duration_seconds_bucket,{base},le=+Inf,route=/cart 10@1700000000123"),
                TARGET_INFO.to_string(),
            ]
        );
        assert_eq!(dropped, 0);
    }

    #[test]
    fn summaries_become_quantile_series_sum_and_count() {
        let input = request(vec![metric(
            "rpc.latency",
            "ms",
            metric::Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: T,
                    count: 4,
                    sum: 20.0,
                    quantile_values: vec![
                        ValueAtQuantile { quantile: 0.5, value: 3.0 },
                        ValueAtQuantile {
                            quantile: 0.99,
                            value: 9.0,
                        },
                    ],
                    ..Default::default()
                }],
            }),
        )]);
        let (lines, _) = translate(&defaults(), &input);
        let base = "instance=pod-1,job=shop/checkout";
        assert_eq!(
            lines,
            [
                format!("__name__=rpc_latency_milliseconds_sum,{base} 20@1700000000123"),
                format!("__name__=rpc_latency_milliseconds_count,{base} 4@1700000000123"),
                format!("__name__=rpc_latency_milliseconds,{base},quantile=0.5 3@1700000000123"),
                format!("__name__=rpc_latency_milliseconds,{base},quantile=0.99 9@1700000000123"),
                TARGET_INFO.to_string(),
            ]
        );
    }

    #[test]
    fn delta_sums_delta_histograms_and_exponential_histograms_are_dropped_and_counted() {
        let delta = AggregationTemporality::Delta as i32;
        let input = request(vec![
            metric(
                "requests",
                "",
                metric::Data::Sum(Sum {
                    data_points: vec![number(vec![], 1.0), number(vec![], 2.0)],
                    aggregation_temporality: delta,
                    is_monotonic: true,
                }),
            ),
            metric(
                "latency",
                "s",
                metric::Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        time_unix_nano: T,
                        count: 1,
                        ..Default::default()
                    }],
                    aggregation_temporality: delta,
                }),
            ),
            metric(
                "size",
                "By",
                metric::Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        time_unix_nano: T,
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                }),
            ),
            metric(
                "kept",
                "",
                metric::Data::Gauge(Gauge {
                    data_points: vec![number(vec![], 1.0)],
                }),
            ),
        ]);
        let (lines, dropped) = translate(&defaults(), &input);
        assert_eq!(dropped, 4);
        assert_eq!(
            lines,
            ["__name__=kept,instance=pod-1,job=shop/checkout 1@1700000000123", TARGET_INFO]
        );
    }

    #[test]
    fn a_point_without_a_recorded_value_is_the_stale_marker() {
        let mut point = number(vec![], 1.0);
        point.flags = NO_RECORDED_VALUE;
        let input = request(vec![metric("up", "", metric::Data::Gauge(Gauge { data_points: vec![point] }))]);
        let translation = Translator::new(&defaults()).translate(&input);
        assert_eq!(translation.series[0].samples[0].value.to_bits(), STALE_NAN_BITS);
    }

    #[test]
    fn points_of_one_series_share_it_in_time_order() {
        let mut later = number(vec![], 2.0);
        later.time_unix_nano = T + 1_000_000_000;
        let input = request(vec![metric(
            "temperature",
            "",
            metric::Data::Gauge(Gauge {
                data_points: vec![later, number(vec![], 1.0)],
            }),
        )]);
        let (lines, _) = translate(&defaults(), &input);
        let base = "__name__=temperature,instance=pod-1,job=shop/checkout";
        assert_eq!(lines[..2], [format!("{base} 1@1700000000123"), format!("{base} 2@1700000001123")]);
    }

    fn transport(config: &PrometheusRemoteWriteExporterConfig) -> RemoteWriteTransport {
        RemoteWriteTransport::new(config, None).unwrap()
    }

    /// The WriteRequests of an encoded batch, decompressed and decoded.
    fn decoded(body: &Bytes) -> Vec<WriteRequest> {
        let frame = Frame::read(body).expect("a well-formed frame");
        frame
            .requests
            .iter()
            .map(|compressed| {
                let raw = snap::raw::Decoder::new().decompress_vec(compressed).expect("snappy block format");
                WriteRequest::decode(raw.as_slice()).expect("a WriteRequest")
            })
            .collect()
    }

    #[tokio::test]
    async fn the_body_is_a_snappy_block_compressed_write_request_that_decodes_back() {
        let config = defaults();
        let payload = Bytes::from(golden::metrics().encode_to_vec());
        let body = transport(&config).encode(Signal::Metrics, payload).unwrap();
        let requests = decoded(&body);
        assert_eq!(requests.len(), 1);
        assert_eq!(
            render(&requests[0].timeseries),
            ["__name__=queue_depth,job=checkout 42@1700000000000"],
            "no target_info: the resource has only service attributes"
        );
        assert_eq!(Frame::read(&body).unwrap().dropped, 0);
    }

    #[test]
    fn series_are_split_into_write_requests_within_max_batch_size_bytes() {
        let gauges: Vec<Metric> = (0..50)
            .map(|i| {
                metric(
                    &format!("gauge.{i}"),
                    "",
                    metric::Data::Gauge(Gauge {
                        data_points: vec![number(vec![], i as f64)],
                    }),
                )
            })
            .collect();
        let translation = Translator::new(&defaults()).translate(&request(gauges));
        let all = translation.series.clone();
        let max = 400;
        let requests = write_requests(translation.series, max);
        assert!(requests.len() > 1, "split into several");
        for request in &requests {
            assert!(request.encoded_len() <= max, "{} bytes > {max}", request.encoded_len());
        }
        let rejoined: Vec<TimeSeries> = requests.into_iter().flat_map(|r| r.timeseries).collect();
        assert_eq!(rejoined, all, "every series once, in order");
        let one = write_requests(all.clone(), 1);
        assert_eq!(one.len(), all.len(), "a series larger than the limit goes alone");
        assert_eq!(write_requests(all, DEFAULT_MAX_BATCH_SIZE_BYTES).len(), 1);
    }

    // -----------------------------------------------------------------------------------------
    // Settings.

    fn parsed(yaml: &str) -> (PrometheusRemoteWriteExporterConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "exporters.prometheusremotewrite");
        (config, errors)
    }

    fn settings(yaml: &str) -> PrometheusRemoteWriteExporterConfig {
        let (config, errors) = parsed(yaml);
        assert_eq!(errors, Vec::<String>::new());
        config
    }

    fn errors(yaml: &str) -> Vec<String> {
        parsed(yaml).1
    }

    #[test]
    fn an_endpoint_alone_gets_the_collectors_defaults() {
        let config = defaults();
        assert_eq!(config.endpoint.as_ref().map(Url::as_str), Some("http://mimir:9009/api/v1/push"));
        assert_eq!(config.namespace, "");
        assert!(config.add_metric_suffixes && config.target_info);
        assert!(!config.send_metadata && !config.export_created_metric && !config.resource_to_telemetry);
        assert_eq!(config.max_batch_size_bytes, 3_000_000);
        assert!(config.sender.queue.enabled);
        assert_eq!(config.sender.queue.queue_size, 10_000);
        assert_eq!(config.sender.queue.num_consumers, 5);
        let config = settings(
            "endpoint: https://mimir:9009/api/v1/push\nremote_write_queue: { enabled: false, queue_size: 50, num_consumers: 2 }\nsend_metadata: true\nexport_created_metric: { enabled: true }\nmax_batch_size_bytes: 1000\ntls: { insecure_skip_verify: true }",
        );
        assert!(!config.sender.queue.enabled);
        assert_eq!((config.sender.queue.queue_size, config.sender.queue.num_consumers), (50, 2));
        assert_eq!(config.max_batch_size_bytes, 1000);
        assert!(config.send_metadata && config.export_created_metric);
    }

    #[test]
    fn the_testdata_example_parses() {
        let value: Value = serde_yaml_ng::from_str(include_str!("testdata/prometheusremotewrite.yaml")).unwrap();
        let mut errors = Vec::new();
        parse(
            &mut Parser::collecting(&mut errors),
            value.get("prometheusremotewrite").unwrap(),
            "exporters.prometheusremotewrite",
        );
        assert_eq!(errors, Vec::<String>::new());
    }

    #[test]
    fn config_errors_name_their_paths() {
        assert_eq!(
            errors("namespace: shop"),
            ["exporters.prometheusremotewrite: endpoint is required (the remote-write URL, e.g. https://mimir:9009/api/v1/push)"]
        );
        assert_eq!(
            errors(
                "endpoint: mimir:9009\nexternal_labels: { cluster: '' }\nmax_batch_size_bytes: 0\ntarget_info: { enabled: maybe }\nheaders: { content-type: text/plain }\nremote_write_queue: { num_consumers: 0 }\nsending_queue: { enabled: true }\nwal: { directory: ./wal }"
            ),
            [
                "exporters.prometheusremotewrite.wal: unknown key (expected one of: endpoint, namespace, external_labels, resource_to_telemetry_conversion, add_metric_suffixes, send_metadata, max_batch_size_bytes, remote_write_queue, target_info, export_created_metric, headers, auth, tls, timeout, retry_on_failure, sending_queue)",
                "exporters.prometheusremotewrite.endpoint: expected an http:// or https:// URL like https://mimir:9009/api/v1/push, got 'mimir:9009'",
                "exporters.prometheusremotewrite.external_labels.cluster: must not be empty (Prometheus reads an empty label as an absent one)",
                "exporters.prometheusremotewrite.max_batch_size_bytes: must be greater than 0 (default 3000000)",
                "exporters.prometheusremotewrite.target_info.enabled: expected true or false, got a string",
                "exporters.prometheusremotewrite.headers.content-type: set by the exporter (snappy-compressed protobuf, remote write 0.1.0); remove it",
                "exporters.prometheusremotewrite.remote_write_queue: set either remote_write_queue (the Collector's) or sending_queue, not both",
                "exporters.prometheusremotewrite.remote_write_queue.num_consumers: must be between 1 and 1000",
            ]
        );
    }

    // -----------------------------------------------------------------------------------------
    // Over HTTP.

    #[derive(Clone, Debug)]
    struct Seen {
        headers: AxumHeaders,
        body: Vec<u8>,
    }

    /// A remote-write server that answers every POST with `status` and records what it got.
    async fn serve(status: u16) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let handler = move |headers: AxumHeaders, body: axum::body::Bytes| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(Seen {
                    headers,
                    body: body.to_vec(),
                });
                StatusCode::from_u16(status).unwrap()
            }
        };
        let router = axum::Router::new().fallback(axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (addr, seen)
    }

    async fn wait_until(what: &str, check: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn id() -> ComponentId {
        ComponentId {
            kind: "prometheusremotewrite".into(),
            name: Some("mimir".into()),
        }
    }

    const QUICK_RETRIES: &str = "retry_on_failure: { initial_interval: 10ms, max_interval: 20ms, randomization_factor: 0 }\n";

    fn decode_seen(seen: &Seen) -> WriteRequest {
        let raw = snap::raw::Decoder::new().decompress_vec(&seen.body).expect("snappy block format");
        WriteRequest::decode(raw.as_slice()).expect("a WriteRequest")
    }

    #[tokio::test]
    async fn a_batch_is_posted_snappy_compressed_with_the_remote_write_headers_and_the_configured_ones() {
        let (addr, seen) = serve(204).await;
        let config = settings(&format!(
            "endpoint: http://{addr}/api/v1/push\nheaders: {{ x-scope-orgid: team-a }}\n{QUICK_RETRIES}"
        ));
        let counters = PerSignal::detached("exporter/prometheusremotewrite/mimir");
        let exporter = exporter(&id(), &config, None, None, counters.clone()).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::metrics())).await.unwrap();
        wait_until("sent", || counters.metrics.sent.load(Ordering::Relaxed) == 1).await;
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        let headers = &seen[0].headers;
        assert_eq!(headers["content-encoding"], "snappy");
        assert_eq!(headers["content-type"], "application/x-protobuf");
        assert_eq!(headers["x-prometheus-remote-write-version"], "0.1.0");
        assert_eq!(headers["x-scope-orgid"], "team-a");
        assert_eq!(
            render(&decode_seen(&seen[0]).timeseries),
            ["__name__=queue_depth,job=checkout 42@1700000000000"]
        );
        Consumer::<ExportMetricsServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn a_batch_above_max_batch_size_bytes_is_posted_as_several_requests() {
        let (addr, seen) = serve(200).await;
        let config = settings(&format!(
            "endpoint: http://{addr}/api/v1/push\nmax_batch_size_bytes: 300\n{QUICK_RETRIES}"
        ));
        let gauges: Vec<Metric> = (0..20)
            .map(|i| {
                metric(
                    &format!("gauge.{i}"),
                    "",
                    metric::Data::Gauge(Gauge {
                        data_points: vec![number(vec![], i as f64)],
                    }),
                )
            })
            .collect();
        let counters = PerSignal::detached("exporter/prometheusremotewrite/mimir");
        let exporter = exporter(&id(), &config, None, None, counters.clone()).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(request(gauges))).await.unwrap();
        wait_until("sent", || counters.metrics.sent.load(Ordering::Relaxed) == 20).await;
        let seen = seen.lock().unwrap().clone();
        assert!(seen.len() > 1, "several requests");
        let series: usize = seen.iter().map(|s| decode_seen(s).timeseries.len()).sum();
        assert_eq!(series, 21, "every gauge and target_info once");
        assert_eq!(counters.metrics.dropped.load(Ordering::Relaxed), 0);
        Consumer::<ExportMetricsServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn a_400_answer_drops_the_batch_without_retrying() {
        let (addr, seen) = serve(400).await;
        let config = settings(&format!("endpoint: http://{addr}/api/v1/push\n{QUICK_RETRIES}"));
        let counters = PerSignal::detached("exporter/prometheusremotewrite/mimir");
        let exporter = exporter(&id(), &config, None, None, counters.clone()).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::metrics())).await.unwrap();
        wait_until("dropped", || counters.metrics.dropped.load(Ordering::Relaxed) == 1).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(seen.lock().unwrap().len(), 1, "not retried");
        assert_eq!(counters.metrics.sent.load(Ordering::Relaxed), 0);
        Consumer::<ExportMetricsServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn a_500_answer_is_retried_until_max_elapsed_time_then_dropped() {
        let (addr, seen) = serve(500).await;
        let config = settings(&format!(
            "endpoint: http://{addr}/api/v1/push\nretry_on_failure: {{ initial_interval: 10ms, max_interval: 20ms, max_elapsed_time: 200ms, randomization_factor: 0 }}"
        ));
        let counters = PerSignal::detached("exporter/prometheusremotewrite/mimir");
        let exporter = exporter(&id(), &config, None, None, counters.clone()).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::metrics())).await.unwrap();
        wait_until("dropped", || counters.metrics.dropped.load(Ordering::Relaxed) == 1).await;
        assert!(seen.lock().unwrap().len() >= 2, "retried");
        Consumer::<ExportMetricsServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn dropped_delta_points_are_counted_as_dropped_not_sent() {
        let (addr, _seen) = serve(200).await;
        let config = settings(&format!("endpoint: http://{addr}/api/v1/push\n{QUICK_RETRIES}"));
        let input = request(vec![
            metric(
                "requests",
                "",
                metric::Data::Sum(Sum {
                    data_points: vec![number(vec![], 1.0)],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                    is_monotonic: true,
                }),
            ),
            metric(
                "depth",
                "",
                metric::Data::Gauge(Gauge {
                    data_points: vec![number(vec![], 1.0)],
                }),
            ),
        ]);
        let counters = PerSignal::detached("exporter/prometheusremotewrite/mimir");
        let exporter = exporter(&id(), &config, None, None, counters.clone()).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(input)).await.unwrap();
        wait_until("settled", || {
            counters.metrics.sent.load(Ordering::Relaxed) + counters.metrics.dropped.load(Ordering::Relaxed) == 2
        })
        .await;
        assert_eq!(counters.metrics.sent.load(Ordering::Relaxed), 1);
        assert_eq!(counters.metrics.dropped.load(Ordering::Relaxed), 1);
        Consumer::<ExportMetricsServiceRequest>::shutdown(&exporter).await;
    }
}
