//! The `httpcheck` receiver (contrib `httpcheckreceiver`, alias `http_check`): sends a request to
//! every target endpoint on a timer and emits, per endpoint, the metrics of the Collector's
//! metadata.yaml: `httpcheck.status` (a non-monotonic cumulative int sum, unit `1`: 1 for the status
//! class the answer fell in, 0 for the other four, with `http.url`, `http.status_code`,
//! `http.method`, `http.status_class`), `httpcheck.duration` (an int gauge in ms, with `http.url`)
//! and, when the request fails, `httpcheck.error` (a non-monotonic cumulative int sum, unit
//! `{error}`, 1 with `http.url` and `error.message`). One scrape is one export through the metrics
//! pipelines, as hostmetrics sends them.
//!
//! ```yaml
//! httpcheck:
//!   collection_interval: 60s    # the Collector's default
//!   initial_delay: 1s
//!   targets:
//!     - endpoint: http://localhost:8080/health
//!       method: GET             # the default
//!     - endpoints: [http://a:80/, http://b:80/]
//!       timeout: 5s
//!       headers: { x-probe: otelbox }
//! ```
//! Plain `http://` only: reqwest is built without a TLS feature, so an `https://` endpoint is a config
//! error that says so. As Go's client, requests follow redirects, use the `HTTP_PROXY` variables
//! except for loopback hosts, and a failed request reports status code 0 (every class 0).

use crate::config::{ComponentId, Parser, Settings};
use crate::net::Stop;
use crate::pdata::now_ns;
use crate::pdata::SignalData;
use crate::pipeline::SignalConsumers;
use crate::receiver::{Endpoint, Intake, Receiver, ReceiverFactory, ReceiverHost};
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_yaml_ng::Value;
use std::time::{Duration, Instant};

/// The Collector's `collection_interval` default.
pub const DEFAULT_COLLECTION_INTERVAL: Duration = Duration::from_secs(60);
/// The Collector's `initial_delay` default (its scraper helper's).
pub const DEFAULT_INITIAL_DELAY: Duration = Duration::from_secs(1);
/// How long a scrape already handed to the pipeline may take to be committed once stopping.
/// The scope the Collector's generated metrics builder names.
const SCOPE_NAME: &str = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/httpcheckreceiver";
/// The status classes `httpcheck.status` has a point for, with their leading digit.
const STATUS_CLASSES: [(&str, u16); 5] = [("1xx", 1), ("2xx", 2), ("3xx", 3), ("4xx", 4), ("5xx", 5)];

#[derive(Clone, Debug, PartialEq)]
pub struct HttpCheckConfig {
    pub collection_interval: Duration,
    pub initial_delay: Duration,
    pub targets: Vec<Target>,
}

impl Default for HttpCheckConfig {
    fn default() -> Self {
        HttpCheckConfig {
            collection_interval: DEFAULT_COLLECTION_INTERVAL,
            initial_delay: DEFAULT_INITIAL_DELAY,
            targets: Vec::new(),
        }
    }
}

/// One entry of `targets`: its endpoints (`endpoint` and `endpoints` together) checked alike.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub endpoints: Vec<reqwest::Url>,
    pub method: reqwest::Method,
    /// `timeout`: the longest one request may take; `None` waits up to the collection interval.
    pub timeout: Option<Duration>,
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

// ---------------------------------------------------------------------------------------------
// Config

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> HttpCheckConfig {
    let mut config = HttpCheckConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["collection_interval", "initial_delay", "timeout", "targets"], path);
    if let Some(v) = body.get("collection_interval") {
        let at = format!("{path}.collection_interval");
        match p.duration(v, &at) {
            Some(interval) if interval.is_zero() => p.error(&at, "must be greater than 0, like 10s or 1m"),
            Some(interval) => config.collection_interval = interval,
            None => {}
        }
    }
    if let Some(delay) = body
        .get("initial_delay")
        .and_then(|v| p.duration(v, &format!("{path}.initial_delay")))
    {
        config.initial_delay = delay;
    }
    // The scraper helper's `timeout`: accepted; each target's own `timeout` bounds its requests.
    if let Some(v) = body.get("timeout") {
        p.duration(v, &format!("{path}.timeout"));
    }
    let targets_at = format!("{path}.targets");
    let targets = p.list(body.get("targets"), &targets_at);
    if targets.is_empty() {
        p.error(
            &targets_at,
            "no targets configured; list at least one, like [{ endpoint: http://localhost:8080/health }]",
        );
    }
    for (at, value) in targets {
        if let Some(target) = parse_target(p, value, &at) {
            config.targets.push(target);
        }
    }
    config
}

fn parse_target(p: &mut Parser, value: &Value, at: &str) -> Option<Target> {
    let body = p.mapping(Some(value), at)?;
    p.only_keys(body, &["endpoint", "endpoints", "method", "timeout", "headers"], at);
    let mut endpoints = Vec::new();
    if let Some(v) = body.get("endpoint") {
        let endpoint_at = format!("{at}.endpoint");
        if let Some(url) = p.string(v, &endpoint_at).and_then(|text| parse_url(p, &text, &endpoint_at)) {
            endpoints.push(url);
        }
    }
    for (endpoint_at, v) in p.list(body.get("endpoints"), &format!("{at}.endpoints")) {
        if let Some(url) = p.string(v, &endpoint_at).and_then(|text| parse_url(p, &text, &endpoint_at)) {
            endpoints.push(url);
        }
    }
    if body.get("endpoint").is_none() && body.get("endpoints").is_none_or(|v| v.as_sequence().is_none_or(|s| s.is_empty())) {
        p.error(at, "at least one of endpoint or endpoints must be specified");
    }
    let mut method = reqwest::Method::GET;
    if let Some(v) = body.get("method") {
        let method_at = format!("{at}.method");
        if let Some(text) = p.string(v, &method_at) {
            match reqwest::Method::from_bytes(text.to_ascii_uppercase().as_bytes()) {
                Ok(parsed) if !text.is_empty() => method = parsed,
                _ => p.error(&method_at, format!("expected an HTTP method like GET or HEAD, got '{text}'")),
            }
        }
    }
    let timeout = body
        .get("timeout")
        .and_then(|v| p.duration(v, &format!("{at}.timeout")))
        .filter(|t| !t.is_zero());
    let mut headers = Vec::new();
    let headers_at = format!("{at}.headers");
    for (name, v) in p.entries(body.get("headers"), &headers_at) {
        let header_at = format!("{headers_at}.{name}");
        let Some(text) = p.string(v, &header_at) else { continue };
        match (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(&text)) {
            (Ok(name), Ok(value)) => headers.push((name, value)),
            _ => p.error(&header_at, "not a valid HTTP header name and value"),
        }
    }
    (!endpoints.is_empty()).then_some(Target {
        endpoints,
        method,
        timeout,
        headers,
    })
}

fn parse_url(p: &mut Parser, text: &str, at: &str) -> Option<reqwest::Url> {
    let url = match reqwest::Url::parse(text) {
        Ok(url) => url,
        Err(e) => {
            p.error(
                at,
                format!("not a valid URL ({e}); expected one like http://localhost:8080/health, got '{text}'"),
            );
            return None;
        }
    };
    match url.scheme() {
        "http" if url.host_str().is_some_and(|h| !h.is_empty()) => Some(url),
        "http" => {
            p.error(
                at,
                format!("the URL has no host; expected one like http://localhost:8080/health, got '{text}'"),
            );
            None
        }
        "https" => {
            p.error(
                at,
                "https is not supported by this otelbox build yet (its HTTP client has no TLS); use http://",
            );
            None
        }
        other => {
            p.error(at, format!("expected an http:// URL, got scheme '{other}'"));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The receiver

pub struct Factory;
crate::component_type!(Factory, "httpcheck", &[crate::pdata::Signal::Metrics], parse, aliases: &["http_check"]);

impl ReceiverFactory for Factory {
    fn build<'a>(
        &'a self,
        host: &'a ReceiverHost,
        id: &'a ComponentId,
        settings: &'a Settings,
        heads: SignalConsumers,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Receiver>>> {
        Box::pin(async move {
            let config: &HttpCheckConfig = settings.get();
            let proxied = reqwest::Client::builder()
                .build()
                .map_err(|e| anyhow::anyhow!("receivers.{id}: cannot make the HTTP client: {e}"))?;
            let direct = reqwest::Client::builder()
                .no_proxy()
                .build()
                .map_err(|e| anyhow::anyhow!("receivers.{id}: cannot make the HTTP client: {e}"))?;
            Ok(Box::new(HttpCheckReceiver {
                id: id.clone(),
                config: config.clone(),
                intake: host.intake(&heads, crate::receiver::DEFAULT_MAX_REQUEST_BYTES),
                clients: Clients { proxied, direct },
            }) as Box<dyn Receiver>)
        })
    }
}

/// Go's client skips the proxy for loopback hosts; `direct` does the same here.
#[derive(Clone)]
struct Clients {
    proxied: reqwest::Client,
    direct: reqwest::Client,
}

impl Clients {
    fn for_url(&self, url: &reqwest::Url) -> &reqwest::Client {
        let host = url.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if loopback {
            &self.direct
        } else {
            &self.proxied
        }
    }
}

struct HttpCheckReceiver {
    id: ComponentId,
    config: HttpCheckConfig,
    intake: Intake,
    clients: Clients,
}

impl Receiver for HttpCheckReceiver {
    /// A scraper listens nowhere.
    fn endpoints(&self) -> Vec<Endpoint> {
        Vec::new()
    }

    fn targets(&self) -> Vec<String> {
        self.config
            .targets
            .iter()
            .flat_map(|t| t.endpoints.iter().map(move |url| format!("{} {url}", t.method)))
            .collect()
    }

    fn start(self: Box<Self>, stop: &Stop) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        Ok(vec![tokio::spawn(run(*self, stop.clone()))])
    }
}

/// Checks after `initial_delay`, then every `collection_interval` (a tick missed while a scrape
/// takes longer is skipped), until `stop`, which ends a scrape in progress at once.
async fn run(receiver: HttpCheckReceiver, stop: Stop) {
    let HttpCheckReceiver {
        id,
        config,
        intake,
        clients,
    } = receiver;
    tracing::info!(receiver = %id, interval = ?config.collection_interval, targets = config.targets.len(), "checking http endpoints");
    let start_ns = now_ns();
    let first = tokio::time::Instant::now() + config.initial_delay;
    let mut ticks = tokio::time::interval_at(first, config.collection_interval.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            _ = stop.wait() => return,
            _ = ticks.tick() => {}
        }
        let request = tokio::select! {
            biased;
            _ = stop.wait() => return,
            request = scrape(&clients, &config, start_ns) => request,
        };
        if request.item_count() == 0 {
            continue;
        }
        if crate::receiver::scraper::commit(&intake, &id, "check", request, &stop).await {
            return;
        }
    }
}

/// What one request to one endpoint found.
#[derive(Clone, Debug, PartialEq)]
struct Check {
    url: String,
    method: String,
    /// 0 when the request failed.
    status_code: u16,
    duration_ms: i64,
    error: Option<String>,
}

/// Checks every endpoint of every target at once; one request with all their metrics.
async fn scrape(clients: &Clients, config: &HttpCheckConfig, start_ns: u64) -> ExportMetricsServiceRequest {
    let limit = config.collection_interval;
    let checks = config
        .targets
        .iter()
        .flat_map(|target| target.endpoints.iter().map(move |url| check(clients, target, url, limit)));
    let checks = futures::future::join_all(checks).await;
    metrics_request(&checks, start_ns, now_ns())
}

async fn check(clients: &Clients, target: &Target, url: &reqwest::Url, limit: Duration) -> Check {
    let mut request = clients
        .for_url(url)
        .request(target.method.clone(), url.clone())
        .timeout(target.timeout.unwrap_or(limit));
    for (name, value) in &target.headers {
        request = request.header(name.clone(), value.clone());
    }
    let started = Instant::now();
    let outcome = request.send().await;
    let duration_ms = started.elapsed().as_millis() as i64;
    let (status_code, error) = match outcome {
        Ok(response) => (response.status().as_u16(), None),
        Err(e) => (0, Some(crate::net::error_chain(&e))),
    };
    Check {
        url: url.to_string(),
        method: target.method.to_string(),
        status_code,
        duration_ms,
        error,
    }
}

/// The checks' metrics as the Collector's metrics builder emits them: one resource (empty), one scope.
fn metrics_request(checks: &[Check], start_ns: u64, now_ns: u64) -> ExportMetricsServiceRequest {
    let point = |value: i64, attributes: Vec<KeyValue>, start: u64| NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: now_ns,
        value: Some(number_data_point::Value::AsInt(value)),
        ..Default::default()
    };
    let mut status_points = Vec::new();
    let mut duration_points = Vec::new();
    let mut error_points = Vec::new();
    for check in checks {
        duration_points.push(point(check.duration_ms, vec![string("http.url", &check.url)], 0));
        for (class, digit) in STATUS_CLASSES {
            let matched = check.status_code / 100 == digit;
            status_points.push(point(
                i64::from(matched),
                vec![
                    string("http.url", &check.url),
                    int("http.status_code", i64::from(check.status_code)),
                    string("http.method", &check.method),
                    string("http.status_class", class),
                ],
                start_ns,
            ));
        }
        if let Some(message) = &check.error {
            error_points.push(point(
                1,
                vec![string("http.url", &check.url), string("error.message", message)],
                start_ns,
            ));
        }
    }
    let sum = |points: Vec<NumberDataPoint>| {
        Some(metric::Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: false,
        }))
    };
    let mut metrics = Vec::new();
    if !duration_points.is_empty() {
        metrics.push(Metric {
            name: "httpcheck.duration".into(),
            description: "Measures the duration of the HTTP check.".into(),
            unit: "ms".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: duration_points,
            })),
            ..Default::default()
        });
    }
    if !error_points.is_empty() {
        metrics.push(Metric {
            name: "httpcheck.error".into(),
            description: "Records errors occurring during HTTP check.".into(),
            unit: "{error}".into(),
            data: sum(error_points),
            ..Default::default()
        });
    }
    if !status_points.is_empty() {
        metrics.push(Metric {
            name: "httpcheck.status".into(),
            description: "1 if the check resulted in status_code matching the status_class, otherwise 0.".into(),
            unit: "1".into(),
            data: sum(status_points),
            ..Default::default()
        });
    }
    let mut request = ExportMetricsServiceRequest::default();
    if !metrics.is_empty() {
        request.resource_metrics.push(ResourceMetrics {
            resource: Some(Resource::default()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: SCOPE_NAME.to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    ..Default::default()
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        });
    }
    request
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Consumer, Envelope, PipelineError, SharedConsumer};
    use crate::receiver::Admission;
    use crate::telemetry::IngestStats;
    use std::net::SocketAddr;
    use std::sync::Arc;

    fn parse_yaml(yaml: &str) -> (HttpCheckConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "receivers.httpcheck");
        (config, errors)
    }

    #[test]
    fn the_collectors_defaults_apply_when_only_an_endpoint_is_given() {
        let (config, errors) = parse_yaml("targets: [{ endpoint: http://localhost:8080/health }]");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.collection_interval, Duration::from_secs(60));
        assert_eq!(config.initial_delay, Duration::from_secs(1));
        assert_eq!(config.targets.len(), 1);
        assert_eq!(config.targets[0].method, reqwest::Method::GET);
        assert_eq!(config.targets[0].endpoints[0].as_str(), "http://localhost:8080/health");
        assert_eq!(config.targets[0].timeout, None);
    }

    #[test]
    fn endpoint_and_endpoints_of_a_target_are_all_checked_with_its_method() {
        let (config, errors) = parse_yaml(
            "collection_interval: 10s\ninitial_delay: 0s\ntargets:\n  - endpoint: http://a:1/\n    endpoints: [http://b:2/, http://c:3/]\n    method: head\n    timeout: 2s\n    headers: { x-probe: otelbox }\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.collection_interval, Duration::from_secs(10));
        assert_eq!(config.initial_delay, Duration::ZERO);
        let target = &config.targets[0];
        let urls: Vec<&str> = target.endpoints.iter().map(|u| u.as_str()).collect();
        assert_eq!(urls, ["http://a:1/", "http://b:2/", "http://c:3/"]);
        assert_eq!(target.method, reqwest::Method::HEAD);
        assert_eq!(target.timeout, Some(Duration::from_secs(2)));
        assert_eq!(target.headers.len(), 1);
        assert_eq!(target.headers[0].0.as_str(), "x-probe");
    }

    #[test]
    fn config_mistakes_are_errors_with_their_path() {
        let cases: &[(&str, &str)] = &[
            ("collection_interval: 1m", "receivers.httpcheck.targets: no targets configured"),
            ("targets: []", "receivers.httpcheck.targets: no targets configured"),
            (
                "targets: [{ method: GET }]",
                "receivers.httpcheck.targets[0]: at least one of endpoint or endpoints",
            ),
            (
                "targets: [{ endpoint: 'not a url' }]",
                "receivers.httpcheck.targets[0].endpoint: not a valid URL",
            ),
            (
                "targets: [{ endpoint: https://example.com }]",
                "receivers.httpcheck.targets[0].endpoint: https is not supported",
            ),
            (
                "targets: [{ endpoints: [ftp://example.com] }]",
                "receivers.httpcheck.targets[0].endpoints[0]: expected an http:// URL",
            ),
            (
                "targets: [{ endpoint: http://a/, method: 'GE T' }]",
                "receivers.httpcheck.targets[0].method: expected an HTTP method",
            ),
            (
                "targets: [{ endpoint: http://a/, tls: {} }]",
                "receivers.httpcheck.targets[0].tls: unknown key",
            ),
            (
                "targets: [{ endpoint: http://a/ }]\ncollection_interval: 0s",
                "receivers.httpcheck.collection_interval: must be greater than 0",
            ),
            (
                "targets: [{ endpoint: http://a/ }]\ninitial_delay: soon",
                "receivers.httpcheck.initial_delay:",
            ),
            (
                "targets: [{ endpoint: http://a/ }]\nscrapers: {}",
                "receivers.httpcheck.scrapers: unknown key",
            ),
        ];
        for (yaml, expected) in cases {
            let (_, errors) = parse_yaml(yaml);
            assert!(
                errors.iter().any(|e| e.starts_with(expected)),
                "{yaml}: expected '{expected}' in {errors:?}"
            );
        }
    }

    #[test]
    fn the_testdata_example_parses_without_errors() {
        let examples: Value = serde_yaml_ng::from_str(include_str!("testdata/httpcheck.yaml")).unwrap();
        for (id, section) in examples.as_mapping().unwrap() {
            let (config, errors) = {
                let mut errors = Vec::new();
                let config = parse(&mut Parser::collecting(&mut errors), section, "receivers.httpcheck");
                (config, errors)
            };
            assert!(errors.is_empty(), "{id:?}: {errors:?}");
            assert!(!config.targets.is_empty());
        }
    }

    fn attribute<'p>(point: &'p NumberDataPoint, key: &str) -> Option<&'p any_value::Value> {
        point.attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()
    }

    fn int_of(point: &NumberDataPoint) -> i64 {
        match &point.value {
            Some(number_data_point::Value::AsInt(v)) => *v,
            other => panic!("an int point, got {other:?}"),
        }
    }

    fn find<'m>(request: &'m ExportMetricsServiceRequest, name: &str) -> Option<&'m Metric> {
        request.resource_metrics[0].scope_metrics[0].metrics.iter().find(|m| m.name == name)
    }

    fn points(metric: &Metric) -> &[NumberDataPoint] {
        match &metric.data {
            Some(metric::Data::Gauge(g)) => &g.data_points,
            Some(metric::Data::Sum(s)) => &s.data_points,
            other => panic!("a gauge or sum, got {other:?}"),
        }
    }

    /// The status points of one URL: status class -> (value, status code).
    fn classes_of(request: &ExportMetricsServiceRequest, url: &str) -> Vec<(String, i64, i64)> {
        let status = find(request, "httpcheck.status").expect("httpcheck.status");
        points(status)
            .iter()
            .filter(|p| attribute(p, "http.url") == Some(&any_value::Value::StringValue(url.to_string())))
            .map(|p| {
                let class = match attribute(p, "http.status_class") {
                    Some(any_value::Value::StringValue(c)) => c.clone(),
                    other => panic!("a status class, got {other:?}"),
                };
                let code = match attribute(p, "http.status_code") {
                    Some(any_value::Value::IntValue(c)) => *c,
                    other => panic!("an int status code, got {other:?}"),
                };
                (class, int_of(p), code)
            })
            .collect()
    }

    /// A local server answering 200 on /ok and 503 on /down, and a port nothing listens on.
    async fn local_targets() -> (SocketAddr, SocketAddr, tokio::task::JoinHandle<()>) {
        let router = axum::Router::new()
            .route("/ok", axum::routing::get(|| async { axum::http::StatusCode::OK }))
            .route(
                "/down",
                axum::routing::get(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let served = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let closed = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap()
        };
        (served, closed, server)
    }

    fn config_for(served: SocketAddr, closed: SocketAddr) -> HttpCheckConfig {
        let (config, errors) = parse_yaml(&format!(
            "collection_interval: 50ms\ninitial_delay: 0s\ntargets:\n  - endpoints: [http://{served}/ok, http://{served}/down]\n  - endpoint: http://{closed}/\n    timeout: 2s\n"
        ));
        assert!(errors.is_empty(), "{errors:?}");
        config
    }

    fn clients() -> Clients {
        Clients {
            proxied: reqwest::Client::builder().no_proxy().build().unwrap(),
            direct: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    #[tokio::test]
    async fn a_200_a_503_and_a_closed_port_give_the_collectors_status_duration_and_error_points() {
        let (served, closed, server) = local_targets().await;
        let config = config_for(served, closed);
        let request = scrape(&clients(), &config, 1).await;
        let ok = format!("http://{served}/ok");
        let down = format!("http://{served}/down");
        let refused = format!("http://{closed}/");

        let expect = |code: i64, matched: &str| -> Vec<(String, i64, i64)> {
            STATUS_CLASSES
                .iter()
                .map(|(class, _)| (class.to_string(), i64::from(*class == matched), code))
                .collect()
        };
        assert_eq!(classes_of(&request, &ok), expect(200, "2xx"));
        assert_eq!(classes_of(&request, &down), expect(503, "5xx"));
        assert_eq!(
            classes_of(&request, &refused),
            expect(0, "none"),
            "a failed request matches no class"
        );

        let status = find(&request, "httpcheck.status").unwrap();
        assert_eq!(status.unit, "1");
        match &status.data {
            Some(metric::Data::Sum(sum)) => {
                assert!(!sum.is_monotonic);
                assert_eq!(sum.aggregation_temporality, AggregationTemporality::Cumulative as i32);
            }
            other => panic!("httpcheck.status is a sum as in metadata.yaml, got {other:?}"),
        }
        for point in points(status) {
            assert_eq!(attribute(point, "http.method"), Some(&any_value::Value::StringValue("GET".into())));
            assert_eq!(point.start_time_unix_nano, 1);
        }

        let duration = find(&request, "httpcheck.duration").unwrap();
        assert_eq!(duration.unit, "ms");
        assert!(matches!(duration.data, Some(metric::Data::Gauge(_))));
        assert_eq!(points(duration).len(), 3, "one duration per endpoint");

        let error = find(&request, "httpcheck.error").unwrap();
        assert_eq!(error.unit, "{error}");
        let error_points = points(error);
        assert_eq!(error_points.len(), 1, "only the closed port fails");
        assert_eq!(
            attribute(&error_points[0], "http.url"),
            Some(&any_value::Value::StringValue(refused.clone()))
        );
        assert_eq!(int_of(&error_points[0]), 1);
        match attribute(&error_points[0], "error.message") {
            Some(any_value::Value::StringValue(message)) => assert!(!message.is_empty()),
            other => panic!("an error message, got {other:?}"),
        }
        server.abort();
    }

    /// Hands every scrape to a channel and commits it.
    struct Capture(tokio::sync::mpsc::UnboundedSender<ExportMetricsServiceRequest>);
    impl Consumer<ExportMetricsServiceRequest> for Capture {
        fn consume(&self, envelope: Envelope<ExportMetricsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            let _ = self.0.send(envelope.data.clone());
            envelope.commit();
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_scrape_goes_through_the_metrics_pipeline_as_one_request_and_stop_is_prompt() {
        let (served, closed, server) = local_targets().await;
        let stats = Arc::new(IngestStats::default());
        let host = ReceiverHost {
            stats: stats.clone(),
            admission: Arc::new(Admission::new(None)),
            ingest_tokens: Default::default(),
            tls: None,
            extensions: Default::default(),
            allowed_hosts: Default::default(),
        };
        let (send, mut received) = tokio::sync::mpsc::unbounded_channel();
        let metrics: SharedConsumer<ExportMetricsServiceRequest> = Arc::new(Capture(send));
        let heads = SignalConsumers {
            traces: None,
            metrics: Some(metrics),
            logs: None,
        };
        let id = ComponentId::parse("http_check").unwrap();
        let receiver = Factory
            .build(&host, &id, &Settings::new(config_for(served, closed)), heads)
            .await
            .unwrap();
        assert!(receiver.endpoints().is_empty(), "a scraper listens nowhere");
        let (stop, stopped) = Stop::new();
        let tasks = receiver.start(&stopped).unwrap();
        for _ in 0..2 {
            let request = tokio::time::timeout(Duration::from_secs(10), received.recv())
                .await
                .expect("a scrape within 10 s")
                .expect("the receiver is running");
            assert_eq!(request.resource_metrics.len(), 1, "one resource per scrape");
            assert!(find(&request, "httpcheck.status").is_some());
        }
        let _ = stop.send(true);
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .expect("stops promptly")
                .unwrap();
        }
        assert!(stats.metrics.requests.load(std::sync::atomic::Ordering::Relaxed) >= 2);
        server.abort();
    }
}
