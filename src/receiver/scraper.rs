//! What the Collector-style scraping receivers `nginx` and `redis` share:
//!
//! - the scraper controller's settings: `collection_interval`, `initial_delay` (1s) and `timeout`;
//! - the generated metrics builder's toggles: `metrics: {name: {enabled: bool}}` and
//!   `resource_attributes: {name: {enabled: bool}}` over each metadata.yaml's defaults;
//! - a client `tls` block with the Collector's `configtls` keys;
//! - the scrape loop: a scrape after `initial_delay`, then every `collection_interval`, each one
//!   export through `ingest`. A scrape that fails sends nothing, as in the Collector; it is counted
//!   (`otelbox_receiver_scrape_errors_total`) and logged at once, then once a minute at most while
//!   it keeps failing, and again when the target answers;
//! - building metrics as the Collector's generated builders do: metrics in name order, each with
//!   the metadata.yaml's description, unit and type, cumulative sums, points stamped with the
//!   builder's start time, one resource and one scope per scrape.

use crate::config::{ComponentId, Parser};
use crate::net::Stop;
use crate::pdata::SignalData;
use crate::receiver::{ingest, Intake};
use crate::tls::ClientTlsSettings;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_yaml_ng::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The scraper controller's `initial_delay` default.
pub const DEFAULT_INITIAL_DELAY: Duration = Duration::from_secs(1);
/// How long a scrape already handed to the pipeline may take to be committed once stopping.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// A target that keeps failing is logged this often at most.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// The scraper controller's settings

/// When to scrape, and how long one scrape may take.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub collection_interval: Duration,
    pub initial_delay: Duration,
    /// The longest one scrape may take; `None` (unset or 0s, as in the Collector) waits up to the
    /// collection interval.
    pub timeout: Option<Duration>,
}

impl Schedule {
    pub fn new(collection_interval: Duration, timeout: Option<Duration>) -> Schedule {
        Schedule {
            collection_interval,
            initial_delay: DEFAULT_INITIAL_DELAY,
            timeout,
        }
    }

    /// How long one scrape may take.
    pub fn scrape_limit(&self) -> Duration {
        self.timeout.unwrap_or(self.collection_interval).max(Duration::from_millis(1))
    }
}

/// Reads `collection_interval`, `initial_delay` and `timeout` of `body` over `schedule`.
pub fn parse_schedule(p: &mut Parser, body: &Mapping, path: &str, schedule: &mut Schedule) {
    if let Some(v) = body.get("collection_interval") {
        let at = format!("{path}.collection_interval");
        match p.duration(v, &at) {
            Some(interval) if interval.is_zero() => p.error(&at, "must be greater than 0, like 10s or 1m"),
            Some(interval) => schedule.collection_interval = interval,
            None => {}
        }
    }
    if let Some(delay) = body
        .get("initial_delay")
        .and_then(|v| p.duration(v, &format!("{path}.initial_delay")))
    {
        schedule.initial_delay = delay;
    }
    if let Some(timeout) = body.get("timeout").and_then(|v| p.duration(v, &format!("{path}.timeout"))) {
        schedule.timeout = (!timeout.is_zero()).then_some(timeout);
    }
}

// ---------------------------------------------------------------------------------------------
// Metric and resource attribute toggles

/// How a metric aggregates, in the Collector's terms: all sums are cumulative.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Gauge,
    /// A monotonic cumulative sum.
    Counter,
    /// A non-monotonic cumulative sum.
    UpDownCounter,
}

/// A metric of a receiver's metadata.yaml: name, description, unit, type, and whether it is
/// enabled by default.
#[derive(Clone, Copy, Debug)]
pub struct MetricDef {
    pub name: &'static str,
    pub description: &'static str,
    pub unit: &'static str,
    pub shape: Shape,
    pub default: bool,
}

/// The metrics (or resource attributes) a receiver emits, by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Enabled(pub BTreeSet<&'static str>);

impl Enabled {
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }
}

/// `metrics: {name: {enabled: bool}}` over the defaults of `defs`. `not_yet` are the Collector's
/// optional metrics otelbox does not emit: `enabled: false` is accepted, `true` is an error.
pub fn parse_metrics(p: &mut Parser, value: Option<&Value>, at: &str, defs: &[MetricDef], not_yet: &[&str]) -> Enabled {
    let known: Vec<(&'static str, bool)> = defs.iter().map(|d| (d.name, d.default)).collect();
    parse_toggles(p, value, at, &known, not_yet, "metric")
}

/// `resource_attributes: {name: {enabled: bool}}` over `(name, enabled by default)`.
pub fn parse_resource_attributes(p: &mut Parser, value: Option<&Value>, at: &str, known: &[(&'static str, bool)]) -> Enabled {
    parse_toggles(p, value, at, known, &[], "resource attribute")
}

fn parse_toggles(p: &mut Parser, value: Option<&Value>, at: &str, known: &[(&'static str, bool)], not_yet: &[&str], what: &str) -> Enabled {
    let mut enabled = Enabled(known.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect());
    for (name, value) in p.entries(value, at) {
        let item_at = format!("{at}.{name}");
        let Some(settings) = p.mapping(Some(value), &item_at) else {
            continue;
        };
        p.only_keys(settings, &["enabled"], &item_at);
        let Some(on) = settings.get("enabled").and_then(|v| p.boolean(v, &format!("{item_at}.enabled"))) else {
            continue;
        };
        match known.iter().find(|(k, _)| *k == name.as_str()) {
            Some(&(known_name, _)) => {
                if on {
                    enabled.0.insert(known_name);
                } else {
                    enabled.0.remove(known_name);
                }
            }
            None if not_yet.contains(&name.as_str()) => {
                if on {
                    p.error(&item_at, format!("otelbox does not emit this optional {what} yet"));
                }
            }
            None => {
                let names: Vec<&str> = known.iter().map(|(k, _)| *k).chain(not_yet.iter().copied()).collect();
                p.error(&item_at, format!("unknown {what} (expected one of: {})", names.join(", ")));
            }
        }
    }
    enabled
}

// ---------------------------------------------------------------------------------------------
// Client TLS

/// A parsed `tls` block: `insecure` as given (`None` when absent), and how to connect when TLS is used.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientTls {
    pub insecure: Option<bool>,
    pub settings: ClientTlsSettings,
}

/// `tls` of a scraper's client (the Collector's client `configtls`), with `insecure` as given.
pub fn parse_client_tls(p: &mut Parser, value: Option<&Value>, path: &str) -> ClientTls {
    let (insecure, settings) = crate::config::client_tls::parse_client_tls_with_insecure(p, value, path);
    ClientTls { insecure, settings }
}

// ---------------------------------------------------------------------------------------------
// Building metrics

/// The points of one scrape, by metric name, stamped as the Collector's builders stamp them.
pub struct Points {
    start_ns: u64,
    now_ns: u64,
    by_metric: BTreeMap<&'static str, Vec<NumberDataPoint>>,
}

impl Points {
    pub fn new(start_ns: u64, now_ns: u64) -> Points {
        Points {
            start_ns,
            now_ns,
            by_metric: BTreeMap::new(),
        }
    }

    pub fn int(&mut self, metric: &'static str, value: i64, attributes: &[(&str, &str)]) {
        self.push(metric, number_data_point::Value::AsInt(value), attributes);
    }

    pub fn double(&mut self, metric: &'static str, value: f64, attributes: &[(&str, &str)]) {
        self.push(metric, number_data_point::Value::AsDouble(value), attributes);
    }

    fn push(&mut self, metric: &'static str, value: number_data_point::Value, attributes: &[(&str, &str)]) {
        self.by_metric.entry(metric).or_default().push(NumberDataPoint {
            attributes: attributes.iter().map(|(k, v)| string_attribute(k, v)).collect(),
            start_time_unix_nano: self.start_ns,
            time_unix_nano: self.now_ns,
            value: Some(value),
            ..Default::default()
        });
    }

    /// The metrics of `defs` (in their order) that are enabled and have points.
    pub fn into_metrics(mut self, defs: &[MetricDef], enabled: &Enabled) -> Vec<Metric> {
        let cumulative = AggregationTemporality::Cumulative as i32;
        let mut metrics = Vec::new();
        for def in defs {
            let Some(data_points) = self.by_metric.remove(def.name) else {
                continue;
            };
            if data_points.is_empty() || !enabled.contains(def.name) {
                continue;
            }
            let data = match def.shape {
                Shape::Gauge => metric::Data::Gauge(Gauge { data_points }),
                Shape::Counter => metric::Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: cumulative,
                    is_monotonic: true,
                }),
                Shape::UpDownCounter => metric::Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: cumulative,
                    is_monotonic: false,
                }),
            };
            metrics.push(Metric {
                name: def.name.to_string(),
                description: def.description.to_string(),
                unit: def.unit.to_string(),
                data: Some(data),
                ..Default::default()
            });
        }
        metrics
    }
}

/// One scrape's export: one resource with `resource` attributes, one scope named `scope` with
/// otelbox's version. Empty when there are no metrics.
pub fn metrics_request(scope: &str, resource: Vec<KeyValue>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    let mut request = ExportMetricsServiceRequest::default();
    if metrics.is_empty() {
        return request;
    }
    request.resource_metrics.push(ResourceMetrics {
        resource: Some(Resource {
            attributes: resource,
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: scope.to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                ..Default::default()
            }),
            metrics,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    });
    request
}

pub fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The scrape loop

/// One receiver's scraper: each call reads the target once.
pub trait Scrape: Send {
    /// The metrics of one scrape, or why there are none. Dropped unfinished when it takes longer
    /// than the schedule allows or otelbox stops.
    fn scrape(&mut self) -> BoxFuture<'_, Result<ExportMetricsServiceRequest, String>>;
}

/// What the loop needs besides the scraper.
pub struct Loop {
    pub id: ComponentId,
    /// What is scraped, for logs (`http://host/status`, `host:6379`).
    pub target: String,
    pub intake: Intake,
    pub schedule: Schedule,
}

/// Scrapes after `initial_delay`, then every `collection_interval` (a tick missed while a scrape
/// or its commit takes longer is skipped), until `stop`, which ends a scrape in progress at once.
pub async fn run(looping: Loop, mut scraper: impl Scrape, stop: Stop) {
    let Loop {
        id,
        target,
        intake,
        schedule,
    } = looping;
    tracing::info!(receiver = %id, %target, interval = ?schedule.collection_interval, "scraping");
    let first = tokio::time::Instant::now() + schedule.initial_delay;
    let mut ticks = tokio::time::interval_at(first, schedule.collection_interval.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let limit = schedule.scrape_limit();
    let mut failures = FailureLog::default();
    loop {
        tokio::select! {
            biased;
            _ = stop.wait() => return,
            _ = ticks.tick() => {}
        }
        let scraped = tokio::select! {
            biased;
            _ = stop.wait() => return,
            scraped = tokio::time::timeout(limit, scraper.scrape()) => scraped,
        };
        let request = match scraped {
            Ok(Ok(request)) => {
                failures.succeeded(&id, &target);
                request
            }
            Ok(Err(error)) => {
                intake.stats.metrics.scrape_errors.fetch_add(1, Ordering::Relaxed);
                failures.failed(&id, &target, &error);
                continue;
            }
            Err(_) => {
                intake.stats.metrics.scrape_errors.fetch_add(1, Ordering::Relaxed);
                failures.failed(&id, &target, &format!("the scrape took longer than {limit:?}"));
                continue;
            }
        };
        if request.item_count() == 0 {
            continue;
        }
        if commit(&intake, &id, "scrape", request, &stop).await {
            return;
        }
    }
}

/// Hands one scrape's metrics to the pipeline and waits for their commit; when `stop` comes
/// first, the commit gets `STOP_GRACE` to finish. A refusal is counted by `ingest` and logged: the
/// next scrape carries cumulative values on. Returns whether the receiver is stopping.
pub async fn commit(intake: &Intake, id: &ComponentId, what: &str, request: ExportMetricsServiceRequest, stop: &Stop) -> bool {
    let ingesting = ingest(intake, request);
    tokio::pin!(ingesting);
    let (outcome, stopping) = tokio::select! {
        biased;
        outcome = &mut ingesting => (Some(outcome), false),
        _ = stop.wait() => (tokio::time::timeout(STOP_GRACE, &mut ingesting).await.ok(), true),
    };
    match outcome {
        Some(Ok(_)) => {}
        Some(Err(error)) => tracing::warn!(receiver = %id, %error, "the metrics pipeline refused a {what}; it is dropped"),
        None => tracing::warn!(receiver = %id, "stopping before the last {what} was committed"),
    }
    stopping
}

/// Logs a failing target at its first failure, then once every `FAILURE_LOG_EVERY` at most, and
/// when it recovers.
#[derive(Default)]
struct FailureLog {
    last_logged: Option<Instant>,
    failing: bool,
    since_logged: u64,
}

impl FailureLog {
    fn failed(&mut self, id: &ComponentId, target: &str, error: &str) {
        self.failing = true;
        self.since_logged += 1;
        if self.last_logged.is_none_or(|at| at.elapsed() >= FAILURE_LOG_EVERY) {
            tracing::warn!(receiver = %id, %target, failures = self.since_logged, %error, "scraping failed; nothing is sent for this scrape");
            self.last_logged = Some(Instant::now());
            self.since_logged = 0;
        }
    }

    fn succeeded(&mut self, id: &ComponentId, target: &str) {
        if self.failing {
            tracing::info!(receiver = %id, %target, "the target is scraped again");
        }
        *self = FailureLog::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::TlsVersion;
    use std::path::PathBuf;

    fn parse_with<T>(yaml: &str, f: impl FnOnce(&mut Parser, &Value) -> T) -> (T, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let out = f(&mut Parser::collecting(&mut errors), &value);
        (out, errors)
    }

    const DEFS: [MetricDef; 2] = [
        MetricDef {
            name: "a.on",
            description: "on by default",
            unit: "1",
            shape: Shape::Gauge,
            default: true,
        },
        MetricDef {
            name: "b.off",
            description: "off by default",
            unit: "{thing}",
            shape: Shape::Counter,
            default: false,
        },
    ];

    #[test]
    fn metric_toggles_apply_over_the_defaults_and_refuse_unknown_or_missing_metrics() {
        let (enabled, errors) = parse_with("{}", |p, v| parse_metrics(p, Some(v), "r.metrics", &DEFS, &["c.later"]));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(enabled, Enabled(["a.on"].into()));
        let (enabled, errors) = parse_with(
            "{ a.on: { enabled: false }, b.off: { enabled: true }, c.later: { enabled: false } }",
            |p, v| parse_metrics(p, Some(v), "r.metrics", &DEFS, &["c.later"]),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(enabled, Enabled(["b.off"].into()));
        for (yaml, expected) in [
            (
                "{ c.later: { enabled: true } }",
                "r.metrics.c.later: otelbox does not emit this optional metric yet",
            ),
            (
                "{ nope: { enabled: true } }",
                "r.metrics.nope: unknown metric (expected one of: a.on, b.off, c.later)",
            ),
            (
                "{ a.on: { enabled: yes please } }",
                "r.metrics.a.on.enabled: expected true or false",
            ),
            ("{ a.on: { enable: true } }", "r.metrics.a.on.enable: unknown key"),
        ] {
            let (_, errors) = parse_with(yaml, |p, v| parse_metrics(p, Some(v), "r.metrics", &DEFS, &["c.later"]));
            assert!(
                errors.iter().any(|e| e.starts_with(expected)),
                "{yaml}: expected {expected:?} in {errors:?}"
            );
        }
    }

    #[test]
    fn the_schedule_reads_the_scraper_controllers_keys() {
        let mut schedule = Schedule::new(Duration::from_secs(10), None);
        let (_, errors) = parse_with("{ collection_interval: 30s, initial_delay: 0s, timeout: 2s }", |p, v| {
            parse_schedule(p, v.as_mapping().unwrap(), "r", &mut schedule)
        });
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            schedule,
            Schedule {
                collection_interval: Duration::from_secs(30),
                initial_delay: Duration::ZERO,
                timeout: Some(Duration::from_secs(2)),
            }
        );
        assert_eq!(schedule.scrape_limit(), Duration::from_secs(2));
        let (_, errors) = parse_with("{ timeout: 0s, collection_interval: 0s }", |p, v| {
            parse_schedule(p, v.as_mapping().unwrap(), "r", &mut schedule)
        });
        assert_eq!(schedule.timeout, None, "0s is no timeout, as in the Collector");
        assert_eq!(
            schedule.scrape_limit(),
            Duration::from_secs(30),
            "then a scrape may take the interval"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("r.collection_interval: must be greater than 0")),
            "{errors:?}"
        );
    }

    #[test]
    fn client_tls_reads_the_collectors_keys() {
        let (tls, errors) = parse_with(
            "{ insecure: false, ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem, server_name_override: cache.internal, min_version: 1.3 }",
            |p, v| parse_client_tls(p, Some(v), "r.tls"),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(tls.insecure, Some(false));
        assert_eq!(tls.settings.ca_file, Some(PathBuf::from("/ca.pem")));
        assert_eq!(tls.settings.client_cert, Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem"))));
        assert_eq!(tls.settings.server_name_override.as_deref(), Some("cache.internal"));
        assert_eq!(tls.settings.min_version, TlsVersion::Tls13);
        for (yaml, expected) in [
            ("{ cert_file: /c.pem }", "r.tls: cert_file and key_file go together"),
            ("{ max_version: '1.1' }", "r.tls.max_version: otelbox speaks TLS 1.2 and 1.3"),
            ("{ ca_pem: x }", "r.tls.ca_pem: unknown key"),
        ] {
            let (_, errors) = parse_with(yaml, |p, v| parse_client_tls(p, Some(v), "r.tls"));
            assert!(
                errors.iter().any(|e| e.starts_with(expected)),
                "{yaml}: expected {expected:?} in {errors:?}"
            );
        }
    }

    #[test]
    fn points_become_the_enabled_metrics_in_definition_order_with_their_metadata() {
        let mut points = Points::new(10, 20);
        points.int("b.off", 7, &[("state", "x")]);
        points.double("a.on", 1.5, &[]);
        let all = Enabled(["a.on", "b.off"].into());
        let metrics = points.into_metrics(&DEFS, &all);
        assert_eq!(metrics.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["a.on", "b.off"]);
        assert_eq!(metrics[1].unit, "{thing}");
        assert_eq!(metrics[1].description, "off by default");
        match &metrics[1].data {
            Some(metric::Data::Sum(sum)) => {
                assert!(sum.is_monotonic);
                assert_eq!(sum.aggregation_temporality, AggregationTemporality::Cumulative as i32);
                assert_eq!(sum.data_points[0].start_time_unix_nano, 10);
                assert_eq!(sum.data_points[0].time_unix_nano, 20);
                assert_eq!(sum.data_points[0].attributes, vec![string_attribute("state", "x")]);
            }
            other => panic!("a sum, got {other:?}"),
        }
        let mut points = Points::new(10, 20);
        points.int("b.off", 7, &[]);
        assert!(
            points.into_metrics(&DEFS, &Enabled(["a.on"].into())).is_empty(),
            "b.off is disabled"
        );
        assert_eq!(metrics_request("scope", Vec::new(), Vec::new()).resource_metrics.len(), 0);
    }
}
