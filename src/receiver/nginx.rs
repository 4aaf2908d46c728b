//! The `nginx` receiver (contrib `nginxreceiver`): reads nginx's `stub_status` page on a timer and
//! emits the metrics of the Collector's metadata.yaml, all enabled by default:
//!
//! | metric | type | unit | from |
//! | --- | --- | --- | --- |
//! | `nginx.connections_accepted` | monotonic cumulative int sum | `connections` | `accepts` |
//! | `nginx.connections_current` | non-monotonic cumulative int sum, by `state` (`active`, `reading`, `writing`, `waiting`) | `connections` | `Active connections`, `Reading`, `Writing`, `Waiting` |
//! | `nginx.connections_handled` | monotonic cumulative int sum | `connections` | `handled` |
//! | `nginx.requests` | monotonic cumulative int sum | `requests` | `requests` |
//!
//! ```yaml
//! nginx:
//!   endpoint: http://localhost:80/status   # the Collector's default
//!   collection_interval: 10s               # the Collector's default
//!   initial_delay: 1s
//!   timeout: 10s                           # the Collector's default
//!   headers: { x-probe: otelbox }
//!   tls: { ca_file: /etc/ssl/nginx-ca.pem } # for https:// endpoints
//!   metrics: { nginx.requests: { enabled: false } }
//! ```
//! Sums start when the receiver starts, as the Collector's metrics builder stamps them; the resource
//! is empty and the scope is the Collector's receiver package. A page that cannot be read (refused,
//! timed out, not 200, not a stub_status page) sends nothing for that scrape: it is counted and
//! logged (`scraper`). http:// endpoints use the `HTTP_PROXY` variables except for loopback hosts
//! and follow redirects, as Go's client; https:// ones use `tls` and go direct.

use crate::config::{ComponentId, Parser, Settings};
use crate::net::Stop;
use crate::pdata::now_ns;
use crate::pipeline::SignalConsumers;
use crate::receiver::scraper::{self, Enabled, MetricDef, Points, Schedule, Scrape, Shape};
use crate::receiver::{Endpoint, Receiver, ReceiverFactory, ReceiverHost};
use crate::tls::ClientTlsSettings;
use futures::future::BoxFuture;
use hyper::body::Body as _;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use serde_yaml_ng::Value;
use std::time::Duration;

/// The Collector's `endpoint` default.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:80/status";
/// The Collector's `collection_interval` default for this receiver.
pub const DEFAULT_COLLECTION_INTERVAL: Duration = Duration::from_secs(10);
/// The Collector's `timeout` default for this receiver (its HTTP client's).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The scope the Collector's generated metrics builder names.
const SCOPE_NAME: &str = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/nginxreceiver";
/// A stub_status page is about 100 bytes; a larger answer is not one.
const MAX_BODY_BYTES: usize = 64 * 1024;
const USER_AGENT: &str = concat!("otelbox/", env!("CARGO_PKG_VERSION"));

/// The metrics of the Collector's metadata.yaml, in name order.
pub const METRICS: [MetricDef; 4] = [
    MetricDef {
        name: "nginx.connections_accepted",
        description: "The total number of accepted client connections",
        unit: "connections",
        shape: Shape::Counter,
        default: true,
    },
    MetricDef {
        name: "nginx.connections_current",
        description: "The current number of nginx connections by state",
        unit: "connections",
        shape: Shape::UpDownCounter,
        default: true,
    },
    MetricDef {
        name: "nginx.connections_handled",
        description: "The total number of handled connections. Generally, the parameter value is the same as nginx.connections_accepted unless some resource limits have been reached (for example, the worker_connections limit).",
        unit: "connections",
        shape: Shape::Counter,
        default: true,
    },
    MetricDef {
        name: "nginx.requests",
        description: "Total number of requests made to the server since it started",
        unit: "requests",
        shape: Shape::Counter,
        default: true,
    },
];

#[derive(Clone, Debug, PartialEq)]
pub struct NginxConfig {
    pub schedule: Schedule,
    pub endpoint: reqwest::Url,
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// For https:// endpoints.
    pub tls: ClientTlsSettings,
    pub metrics: Enabled,
}

impl Default for NginxConfig {
    fn default() -> Self {
        NginxConfig {
            schedule: Schedule::new(DEFAULT_COLLECTION_INTERVAL, Some(DEFAULT_TIMEOUT)),
            endpoint: reqwest::Url::parse(DEFAULT_ENDPOINT).expect("the default endpoint is a URL"),
            headers: Vec::new(),
            tls: ClientTlsSettings::default(),
            metrics: Enabled(METRICS.iter().filter(|m| m.default).map(|m| m.name).collect()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Config

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> NginxConfig {
    let mut config = NginxConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(
        body,
        &[
            "endpoint",
            "collection_interval",
            "initial_delay",
            "timeout",
            "headers",
            "tls",
            "metrics",
        ],
        path,
    );
    scraper::parse_schedule(p, body, path, &mut config.schedule);
    if let Some(v) = body.get("endpoint") {
        let at = format!("{path}.endpoint");
        if let Some(url) = p.string(v, &at).and_then(|text| parse_url(p, &text, &at)) {
            config.endpoint = url;
        }
    }
    let headers_at = format!("{path}.headers");
    for (name, v) in p.entries(body.get("headers"), &headers_at) {
        let header_at = format!("{headers_at}.{name}");
        let Some(text) = p.string(v, &header_at) else { continue };
        match (http::HeaderName::from_bytes(name.as_bytes()), http::HeaderValue::from_str(&text)) {
            (Ok(name), Ok(value)) => config.headers.push((name, value)),
            _ => p.error(&header_at, "not a valid HTTP header name and value"),
        }
    }
    if body.contains_key("tls") {
        config.tls = scraper::parse_client_tls(p, body.get("tls"), &format!("{path}.tls")).settings;
    }
    config.metrics = scraper::parse_metrics(p, body.get("metrics"), &format!("{path}.metrics"), &METRICS, &[]);
    config
}

fn parse_url(p: &mut Parser, text: &str, at: &str) -> Option<reqwest::Url> {
    let url = match reqwest::Url::parse(text) {
        Ok(url) => url,
        Err(e) => {
            p.error(
                at,
                format!("not a valid URL ({e}); expected one like http://localhost:80/status, got '{text}'"),
            );
            return None;
        }
    };
    match url.scheme() {
        "http" | "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Some(url),
        "http" | "https" => {
            p.error(
                at,
                format!("the URL has no host; expected one like http://localhost:80/status, got '{text}'"),
            );
            None
        }
        other => {
            p.error(at, format!("expected an http:// or https:// URL, got scheme '{other}'"));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stub_status page

/// What nginx's `stub_status` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct StubStatus {
    pub active: i64,
    pub accepts: i64,
    pub handled: i64,
    pub requests: i64,
    pub reading: i64,
    pub writing: i64,
    pub waiting: i64,
}

/// Parses a stub_status page:
/// ```text
/// Active connections: 291
/// server accepts handled requests
///  16630948 16630946 31070465
/// Reading: 6 Writing: 179 Waiting: 106
/// ```
pub fn parse_stub_status(text: &str) -> Result<StubStatus, String> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let [active_line, header, counters, states] = lines[..] else {
        return Err(format!(
            "expected the 4 lines of a stub_status page, got {} (is stub_status on at this location?)",
            lines.len()
        ));
    };
    let number = |text: &str, what: &str| -> Result<i64, String> {
        text.parse::<i64>().map_err(|_| format!("{what}: expected a number, got '{text}'"))
    };
    let active = match active_line.split_once(':') {
        Some((label, value)) if label.trim() == "Active connections" => number(value.trim(), "Active connections")?,
        _ => return Err(format!("expected 'Active connections: N', got '{active_line}'")),
    };
    if header.split_whitespace().collect::<Vec<_>>() != ["server", "accepts", "handled", "requests"] {
        return Err(format!("expected 'server accepts handled requests', got '{header}'"));
    }
    let counts: Vec<&str> = counters.split_whitespace().collect();
    let [accepts, handled, requests] = counts[..] else {
        return Err(format!("expected three numbers (accepts handled requests), got '{counters}'"));
    };
    let words: Vec<&str> = states.split_whitespace().collect();
    let ["Reading:", reading, "Writing:", writing, "Waiting:", waiting] = words[..] else {
        return Err(format!("expected 'Reading: N Writing: N Waiting: N', got '{states}'"));
    };
    Ok(StubStatus {
        active,
        accepts: number(accepts, "accepts")?,
        handled: number(handled, "handled")?,
        requests: number(requests, "requests")?,
        reading: number(reading, "Reading")?,
        writing: number(writing, "Writing")?,
        waiting: number(waiting, "Waiting")?,
    })
}

/// The metrics of one page, as the Collector's metrics builder emits them.
fn metrics_request(status: &StubStatus, enabled: &Enabled, start_ns: u64, now_ns: u64) -> ExportMetricsServiceRequest {
    let mut points = Points::new(start_ns, now_ns);
    points.int("nginx.requests", status.requests, &[]);
    points.int("nginx.connections_accepted", status.accepts, &[]);
    points.int("nginx.connections_handled", status.handled, &[]);
    for (state, value) in [
        ("active", status.active),
        ("reading", status.reading),
        ("writing", status.writing),
        ("waiting", status.waiting),
    ] {
        points.int("nginx.connections_current", value, &[("state", state)]);
    }
    scraper::metrics_request(SCOPE_NAME, Vec::new(), points.into_metrics(&METRICS, enabled))
}

// ---------------------------------------------------------------------------------------------
// The receiver

pub struct Factory;
crate::component_type!(Factory, "nginx", &[crate::pdata::Signal::Metrics], parse);

impl ReceiverFactory for Factory {
    fn build<'a>(
        &'a self,
        host: &'a ReceiverHost,
        id: &'a ComponentId,
        settings: &'a Settings,
        heads: SignalConsumers,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Receiver>>> {
        Box::pin(async move {
            let config: &NginxConfig = settings.get();
            let client = Client::new(config).map_err(|e| anyhow::anyhow!("receivers.{id}: {e}"))?;
            Ok(Box::new(NginxReceiver {
                looping: scraper::Loop {
                    id: id.clone(),
                    target: config.endpoint.to_string(),
                    intake: host.intake(&heads, crate::receiver::DEFAULT_MAX_REQUEST_BYTES),
                    schedule: config.schedule.clone(),
                },
                scraper: NginxScraper {
                    client,
                    config: config.clone(),
                    start_ns: 0,
                },
            }) as Box<dyn Receiver>)
        })
    }
}

struct NginxReceiver {
    looping: scraper::Loop,
    scraper: NginxScraper,
}

impl Receiver for NginxReceiver {
    /// A scraper listens nowhere.
    fn endpoints(&self) -> Vec<Endpoint> {
        Vec::new()
    }

    fn targets(&self) -> Vec<String> {
        vec![self.looping.target.clone()]
    }

    fn start(self: Box<Self>, stop: &Stop) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        let NginxReceiver {
            looping,
            scraper: mut nginx,
        } = *self;
        nginx.start_ns = now_ns();
        Ok(vec![tokio::spawn(scraper::run(looping, nginx, stop.clone()))])
    }
}

/// reqwest for http:// (through `HTTP_PROXY` unless the host is loopback, as Go's client), and
/// hyper-util over rustls for https://, since this build's reqwest has no TLS.
enum Client {
    Plain(reqwest::Client),
    Tls(Box<crate::tls::HttpsClient>),
}

impl Client {
    fn new(config: &NginxConfig) -> anyhow::Result<Client> {
        let timeout = config.schedule.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if config.endpoint.scheme() == "https" {
            return Ok(Client::Tls(Box::new(crate::tls::https_client(&config.tls, timeout)?)));
        }
        let host = config.endpoint.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let mut builder = reqwest::Client::builder().user_agent(USER_AGENT);
        if loopback {
            builder = builder.no_proxy();
        }
        Ok(Client::Plain(
            builder.build().map_err(|e| anyhow::anyhow!("cannot make the HTTP client: {e}"))?,
        ))
    }

    /// GETs the page; `Err` says why there is none (the errors of nginx's Go client, which the
    /// Collector uses: "failed to get", "expected 200 response, got N", "failed to read").
    async fn get(
        &self,
        url: &reqwest::Url,
        headers: &[(http::HeaderName, http::HeaderValue)],
        timeout: Duration,
    ) -> Result<String, String> {
        let (status, body) = match self {
            Client::Plain(client) => {
                let mut request = client.get(url.clone()).timeout(timeout);
                for (name, value) in headers {
                    request = request.header(name.clone(), value.clone());
                }
                let mut response = request
                    .send()
                    .await
                    .map_err(|e| format!("failed to get {url}: {}", crate::net::error_chain(&e)))?;
                let status = response.status().as_u16();
                let mut body = Vec::new();
                while let Some(chunk) = response
                    .chunk()
                    .await
                    .map_err(|e| format!("failed to read the response body: {}", crate::net::error_chain(&e)))?
                {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(format!("the page is larger than {MAX_BODY_BYTES} bytes: not a stub_status page"));
                    }
                    body.extend_from_slice(&chunk);
                }
                (status, body)
            }
            Client::Tls(client) => {
                let fetched = tokio::time::timeout(timeout, get_tls(client, url, headers)).await;
                fetched.map_err(|_| format!("failed to get {url}: no answer within {timeout:?}"))??
            }
        };
        if status != 200 {
            return Err(format!("expected 200 response, got {status}"));
        }
        String::from_utf8(body).map_err(|_| "failed to read the response body: not UTF-8 text".to_string())
    }
}

async fn get_tls(
    client: &crate::tls::HttpsClient,
    url: &reqwest::Url,
    headers: &[(http::HeaderName, http::HeaderValue)],
) -> Result<(u16, Vec<u8>), String> {
    let uri: http::Uri = url.as_str().parse().map_err(|e| format!("{url} is not a usable URI: {e}"))?;
    let mut request = http::Request::new(axum::body::Body::empty());
    *request.uri_mut() = uri;
    for (name, value) in headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    request
        .headers_mut()
        .insert(http::header::USER_AGENT, http::HeaderValue::from_static(USER_AGENT));
    let response = client
        .request(request)
        .await
        .map_err(|e| format!("failed to get {url}: {}", crate::net::error_chain(&e)))?;
    let (parts, incoming) = response.into_parts();
    let mut incoming = std::pin::pin!(incoming);
    let mut body = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| incoming.as_mut().poll_frame(cx)).await {
        let frame = frame.map_err(|e| format!("failed to read the response body: {}", crate::net::error_chain(&e)))?;
        if let Ok(data) = frame.into_data() {
            if body.len() + data.len() > MAX_BODY_BYTES {
                return Err(format!("the page is larger than {MAX_BODY_BYTES} bytes: not a stub_status page"));
            }
            body.extend_from_slice(&data);
        }
    }
    Ok((parts.status.as_u16(), body))
}

struct NginxScraper {
    client: Client,
    config: NginxConfig,
    /// When the receiver started: the start of every sum, as the Collector's builder stamps it.
    start_ns: u64,
}

impl Scrape for NginxScraper {
    fn scrape(&mut self) -> BoxFuture<'_, Result<ExportMetricsServiceRequest, String>> {
        Box::pin(async move {
            let timeout = self.config.schedule.timeout.unwrap_or(DEFAULT_TIMEOUT);
            let page = self.client.get(&self.config.endpoint, &self.config.headers, timeout).await?;
            let status = parse_stub_status(&page).map_err(|e| format!("failed to parse the stub_status page: {e}"))?;
            Ok(metrics_request(&status, &self.config.metrics, self.start_ns, now_ns()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdata::SignalData;
    use crate::pipeline::{Consumer, Envelope, PipelineError, SharedConsumer};
    use crate::receiver::Admission;
    use crate::telemetry::IngestStats;
    use opentelemetry_proto::tonic::common::v1::any_value;
    use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, AggregationTemporality, Metric, NumberDataPoint};
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    /// The page of Debian's nginx 1.22.1 (`stub_status;`), byte for byte: trailing spaces included.
    const DEBIAN_NGINX_PAGE: &str = "Active connections: 1 \nserver accepts handled requests\n 4 4 4 \nReading: 0 Writing: 1 Waiting: 0 \n";
    /// A busy server's page, the contrib receiver's test input.
    const BUSY_PAGE: &str =
        "Active connections: 291 \nserver accepts handled requests\n 16630948 16630946 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n";

    fn parse_yaml(yaml: &str) -> (NginxConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "receivers.nginx");
        (config, errors)
    }

    #[test]
    fn the_collectors_defaults_apply_to_an_empty_section() {
        let (config, errors) = parse_yaml("{}");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.endpoint.as_str(), "http://localhost/status", "port 80 is http's own");
        assert_eq!(config.schedule.collection_interval, Duration::from_secs(10));
        assert_eq!(config.schedule.initial_delay, Duration::from_secs(1));
        assert_eq!(config.schedule.timeout, Some(Duration::from_secs(10)));
        assert_eq!(config.metrics.0.len(), 4, "all four metrics are on by default");
    }

    #[test]
    fn the_demos_section_parses() {
        // The OpenTelemetry demo's, with its environment references resolved.
        let (config, errors) = parse_yaml("endpoint: http://image-provider:8081/status\ncollection_interval: 10s\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.endpoint.as_str(), "http://image-provider:8081/status");
        assert_eq!(config.schedule.collection_interval, Duration::from_secs(10));
    }

    #[test]
    fn every_key_is_read() {
        let (config, errors) = parse_yaml(
            "endpoint: https://nginx.internal:8443/basic_status\ninitial_delay: 0s\ntimeout: 3s\nheaders: { x-probe: otelbox }\ntls: { insecure_skip_verify: true }\nmetrics: { nginx.requests: { enabled: false } }\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.endpoint.scheme(), "https");
        assert_eq!(config.schedule.initial_delay, Duration::ZERO);
        assert_eq!(config.schedule.timeout, Some(Duration::from_secs(3)));
        assert_eq!(config.headers[0].0.as_str(), "x-probe");
        assert!(config.tls.insecure_skip_verify);
        assert!(!config.metrics.contains("nginx.requests"));
        assert!(config.metrics.contains("nginx.connections_current"));
    }

    #[test]
    fn config_mistakes_are_errors_with_their_path() {
        let cases: &[(&str, &str)] = &[
            ("endpoint: 'not a url'", "receivers.nginx.endpoint: not a valid URL"),
            (
                "endpoint: ftp://nginx/status",
                "receivers.nginx.endpoint: expected an http:// or https:// URL",
            ),
            (
                "collection_interval: 0s",
                "receivers.nginx.collection_interval: must be greater than 0",
            ),
            ("timeout: soon", "receivers.nginx.timeout:"),
            (
                "headers: { 'bad header': x }",
                "receivers.nginx.headers.bad header: not a valid HTTP header",
            ),
            (
                "metrics: { nginx.up: { enabled: true } }",
                "receivers.nginx.metrics.nginx.up: unknown metric",
            ),
            ("proxy_url: http://proxy:3128", "receivers.nginx.proxy_url: unknown key"),
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
        let examples: Value = serde_yaml_ng::from_str(include_str!("testdata/nginx.yaml")).unwrap();
        for (id, section) in examples.as_mapping().unwrap() {
            let mut errors = Vec::new();
            parse(&mut Parser::collecting(&mut errors), section, "receivers.nginx");
            assert!(errors.is_empty(), "{id:?}: {errors:?}");
        }
    }

    #[test]
    fn real_stub_status_pages_parse() {
        assert_eq!(
            parse_stub_status(DEBIAN_NGINX_PAGE).unwrap(),
            StubStatus {
                active: 1,
                accepts: 4,
                handled: 4,
                requests: 4,
                reading: 0,
                writing: 1,
                waiting: 0
            }
        );
        let busy = parse_stub_status(BUSY_PAGE).unwrap();
        assert_eq!((busy.accepts, busy.handled, busy.requests), (16630948, 16630946, 31070465));
        assert_eq!((busy.active, busy.reading, busy.writing, busy.waiting), (291, 6, 179, 106));
        // Windows line ends read the same.
        assert_eq!(parse_stub_status(&BUSY_PAGE.replace('\n', "\r\n")).unwrap(), busy);
    }

    #[test]
    fn pages_that_are_not_stub_status_are_errors_that_say_why() {
        for (page, expected) in [
            (
                "<html>Welcome to nginx!</html>",
                "expected the 4 lines of a stub_status page, got 1",
            ),
            (
                "Active: 1\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1 Waiting: 0\n",
                "expected 'Active connections: N'",
            ),
            (
                "Active connections: 1\nserver accepts handled requests\n 1 1\nReading: 0 Writing: 1 Waiting: 0\n",
                "expected three numbers",
            ),
            (
                "Active connections: 1\nserver accepts handled requests\n 1 x 1\nReading: 0 Writing: 1 Waiting: 0\n",
                "handled: expected a number, got 'x'",
            ),
            (
                "Active connections: 1\nserver accepts handled requests\n 1 1 1\nReading: 0 Writing: 1\n",
                "expected 'Reading: N Writing: N Waiting: N'",
            ),
        ] {
            let error = parse_stub_status(page).unwrap_err();
            assert!(error.contains(expected), "{page:?}: expected {expected:?} in {error:?}");
        }
    }

    fn find<'m>(request: &'m ExportMetricsServiceRequest, name: &str) -> &'m Metric {
        request.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no metric {name}"))
    }

    fn sum_points(metric: &Metric) -> (&[NumberDataPoint], bool) {
        match &metric.data {
            Some(metric::Data::Sum(sum)) => {
                assert_eq!(sum.aggregation_temporality, AggregationTemporality::Cumulative as i32);
                (&sum.data_points, sum.is_monotonic)
            }
            other => panic!("{}: a sum as in metadata.yaml, got {other:?}", metric.name),
        }
    }

    fn int_of(point: &NumberDataPoint) -> i64 {
        match point.value {
            Some(number_data_point::Value::AsInt(v)) => v,
            ref other => panic!("an int point, got {other:?}"),
        }
    }

    fn state_of(point: &NumberDataPoint) -> &str {
        match point
            .attributes
            .iter()
            .find(|kv| kv.key == "state")
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        {
            Some(any_value::Value::StringValue(s)) => s.as_str(),
            other => panic!("a state attribute, got {other:?}"),
        }
    }

    #[test]
    fn a_page_gives_the_collectors_metrics() {
        let status = parse_stub_status(BUSY_PAGE).unwrap();
        let request = metrics_request(&status, &NginxConfig::default().metrics, 5, 9);
        assert_eq!(request.resource_metrics.len(), 1);
        let resource = request.resource_metrics[0].resource.as_ref().unwrap();
        assert!(resource.attributes.is_empty(), "the Collector's nginx resource is empty");
        let scope = request.resource_metrics[0].scope_metrics[0].scope.as_ref().unwrap();
        assert_eq!(scope.name, SCOPE_NAME);
        let names: Vec<&str> = request.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "nginx.connections_accepted",
                "nginx.connections_current",
                "nginx.connections_handled",
                "nginx.requests"
            ]
        );
        for (name, value) in [
            ("nginx.connections_accepted", 16630948),
            ("nginx.connections_handled", 16630946),
            ("nginx.requests", 31070465),
        ] {
            let metric = find(&request, name);
            let (points, monotonic) = sum_points(metric);
            assert!(monotonic, "{name}");
            assert_eq!(points.len(), 1);
            assert_eq!(int_of(&points[0]), value, "{name}");
            assert_eq!((points[0].start_time_unix_nano, points[0].time_unix_nano), (5, 9));
        }
        assert_eq!(find(&request, "nginx.requests").unit, "requests");
        let current = find(&request, "nginx.connections_current");
        assert_eq!(current.unit, "connections");
        let (points, monotonic) = sum_points(current);
        assert!(!monotonic);
        let states: Vec<(&str, i64)> = points.iter().map(|p| (state_of(p), int_of(p))).collect();
        assert_eq!(states, [("active", 291), ("reading", 6), ("writing", 179), ("waiting", 106)]);

        let (config, _) = parse_yaml("metrics: { nginx.connections_current: { enabled: false } }");
        let request = metrics_request(&status, &config.metrics, 5, 9);
        assert_eq!(request.item_count(), 3, "the disabled metric is left out");
    }

    /// A local nginx stand-in: the Debian page on /status, 404 elsewhere, and a port nothing
    /// listens on.
    async fn local_nginx() -> (std::net::SocketAddr, std::net::SocketAddr, tokio::task::JoinHandle<()>) {
        let router = axum::Router::new().route("/status", axum::routing::get(|| async { DEBIAN_NGINX_PAGE }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let served = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        (served, closed, server)
    }

    fn scraper_for(endpoint: &str) -> NginxScraper {
        let (config, errors) = parse_yaml(&format!("endpoint: {endpoint}\ntimeout: 2s\n"));
        assert!(errors.is_empty(), "{errors:?}");
        NginxScraper {
            client: Client::new(&config).unwrap(),
            config,
            start_ns: 1,
        }
    }

    #[tokio::test]
    async fn a_scrape_reads_the_page_and_failures_say_why() {
        let (served, closed, server) = local_nginx().await;
        let request = scraper_for(&format!("http://{served}/status")).scrape().await.unwrap();
        let (points, _) = sum_points(find(&request, "nginx.requests"));
        assert_eq!(int_of(&points[0]), 4);

        let error = scraper_for(&format!("http://{served}/missing")).scrape().await.unwrap_err();
        assert_eq!(error, "expected 200 response, got 404");
        let error = scraper_for(&format!("http://{closed}/status")).scrape().await.unwrap_err();
        assert!(error.starts_with(&format!("failed to get http://{closed}/status")), "{error}");
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

    async fn run_receiver(endpoint: String, scrapes: usize) -> (Arc<IngestStats>, Vec<ExportMetricsServiceRequest>) {
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
        let (config, errors) = parse_yaml(&format!(
            "endpoint: {endpoint}\ncollection_interval: 50ms\ninitial_delay: 0s\ntimeout: 2s\n"
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let id = ComponentId::parse("nginx").unwrap();
        let receiver = Factory.build(&host, &id, &Settings::new(config), heads).await.unwrap();
        assert!(receiver.endpoints().is_empty(), "a scraper listens nowhere");
        let (stop, stopped) = Stop::new();
        let tasks = receiver.start(&stopped).unwrap();
        let mut requests = Vec::new();
        if scrapes > 0 {
            for _ in 0..scrapes {
                let request = tokio::time::timeout(Duration::from_secs(10), received.recv())
                    .await
                    .expect("a scrape within 10 s")
                    .expect("the receiver is running");
                requests.push(request);
            }
        } else {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while stats.metrics.scrape_errors.load(Ordering::Relaxed) < 2 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let _ = stop.send(true);
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .expect("stops promptly")
                .unwrap();
        }
        assert!(received.try_recv().is_err() || scrapes > 0, "a failing target sends nothing");
        (stats, requests)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_scrape_goes_through_the_metrics_pipeline_and_stop_is_prompt() {
        let (served, _, server) = local_nginx().await;
        let (stats, requests) = run_receiver(format!("http://{served}/status"), 2).await;
        for request in &requests {
            assert_eq!(request.resource_metrics.len(), 1, "one resource per scrape");
            assert_eq!(request.item_count(), 7, "three counters and four states");
        }
        assert!(stats.metrics.requests.load(Ordering::Relaxed) >= 2);
        assert_eq!(stats.metrics.scrape_errors.load(Ordering::Relaxed), 0);
        server.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_target_that_does_not_answer_is_counted_and_sends_nothing() {
        let (_, closed, server) = local_nginx().await;
        let (stats, _) = run_receiver(format!("http://{closed}/status"), 0).await;
        assert!(
            stats.metrics.scrape_errors.load(Ordering::Relaxed) >= 2,
            "each failed scrape is counted"
        );
        assert_eq!(stats.metrics.requests.load(Ordering::Relaxed), 0, "nothing was sent");
        server.abort();
    }

    #[tokio::test]
    async fn https_endpoints_are_read_with_the_tls_settings() {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("the openssl command");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=nginx",
        ]);
        let files = crate::tls::TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            client_ca: None,
        };
        let server_config = crate::tls::server_config(&files, false, &[b"http/1.1"]).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let tls_listener = crate::tls::TlsListener::new(listener, server_config).unwrap();
        let router = axum::Router::new().route("/status", axum::routing::get(|| async { BUSY_PAGE }));
        let server = tokio::spawn(async move {
            let _ = axum::serve(tls_listener, router).await;
        });
        // A self-signed certificate: taken with insecure_skip_verify, refused without.
        let (config, errors) = parse_yaml(&format!(
            "endpoint: https://{address}/status\ntimeout: 5s\ntls: {{ insecure_skip_verify: true }}\n"
        ));
        assert!(errors.is_empty(), "{errors:?}");
        let mut scraper = NginxScraper {
            client: Client::new(&config).unwrap(),
            config,
            start_ns: 1,
        };
        let request = scraper.scrape().await.unwrap();
        let (points, _) = sum_points(find(&request, "nginx.requests"));
        assert_eq!(int_of(&points[0]), 31070465);
        let (mut config, _) = parse_yaml(&format!("endpoint: https://{address}/status\ntimeout: 5s\n"));
        config.tls.ca_file = Some(dir.path().join("cert.pem"));
        config.tls.server_name_override = Some("elsewhere".into());
        let mut scraper = NginxScraper {
            client: Client::new(&config).unwrap(),
            config,
            start_ns: 1,
        };
        let error = scraper.scrape().await.unwrap_err();
        assert!(error.starts_with("failed to get https://"), "{error}");
        server.abort();
    }
}
