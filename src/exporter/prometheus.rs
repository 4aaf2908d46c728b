//! The `prometheus` exporter (the Collector's contrib `prometheusexporter`): a scrape endpoint that
//! serves the latest value of every series that reached it, in the Prometheus text format 0.0.4
//! (OpenMetrics 1.0 when `enable_open_metrics` is on and the scraper asks for it).
//!
//! ```yaml
//! exporters:
//!   prometheus:
//!     endpoint: 0.0.0.0:8889           # required; serves GET /metrics
//!     namespace: shop                  # prefixes every name: shop_http_requests_total
//!     const_labels: { region: eu }     # added to every series
//!     send_timestamps: false           # append each sample's own timestamp
//!     metric_expiration: 5m            # a series not updated for this long is no longer served
//!     resource_to_telemetry_conversion: { enabled: false, exclude_service_attributes: false }
//!     enable_open_metrics: false
//!     add_metric_suffixes: true        # unit and _total suffixes (translation_strategy overrides it)
//!     without_scope_info: false        # otel_scope_name/version/schema_url and scope attributes as labels
//!     tls: { cert_file: cert.pem, key_file: key.pem, client_ca_file: ca.pem }
//! ```
//!
//! What is kept follows the Collector's accumulator. A series is a normalized name plus its labels:
//! the point's attributes, the scope's (`otel_scope_*`), `job` (`service.namespace/service.name`),
//! `instance` (`service.instance.id`) and `const_labels`. Label names get `_` for any character
//! outside `[a-zA-Z0-9_]`, `key_` before a leading digit and `key` before a single leading `_`;
//! attributes that end up with the same name have their values joined with `;`; empty values are
//! left out (Prometheus reads an empty label as an absent one).
//! - Gauges keep their latest point; a point older than the one kept is ignored.
//! - Monotonic sums are counters (`_total`), non-monotonic cumulative sums gauges. A delta
//!   monotonic sum is accumulated: a point that starts where the kept one ended is added to it,
//!   any other restarts the count. Non-monotonic deltas and sums without a temporality are dropped.
//! - Histograms become `_bucket{le=...}` (cumulative), `_sum` and `_count`. Delta points that start
//!   where the kept one ended are added bucket by bucket (the newer point alone when the bounds
//!   differ), one that starts later restarts the series, an overlapping one is dropped.
//! - Exponential histograms are converted to the same classic buckets, one per exponential bucket
//!   at its upper boundary (negative buckets, the zero bucket at `le` = the zero threshold, then the
//!   positive ones); deltas are merged at their common scale. (The Collector serves them as native
//!   histograms, which only the protobuf scrape format carries.)
//! - Summaries are served with their quantiles, `_sum` and `_count`.
//! - A point flagged "no recorded value" removes its series.
//! - `target_info{job, instance, resource attributes...} 1` is served for each resource with both
//!   `service.name` and `service.instance.id` among the live series.
//! - The first type a name is served with wins while it has series; points that would give it
//!   another type are dropped.
//!
//! Names are normalized as the Collector's translator does: invalid characters split the name into
//! tokens joined by `_`, the unit becomes a suffix (`s` -> `_seconds`, `By/s` -> `_bytes_per_second`,
//! `{request}` none), counters end in `_total` and unit-`1` gauges in `_ratio`, a leading digit gets
//! `_`. With `add_metric_suffixes: false` invalid characters become `_` and nothing is appended.
//!
//! Bounded: at most 100,000 series per exporter. Beyond that, points of new series are dropped
//! (counted as dropped, with a warning at most every 30 s) while the existing series keep updating,
//! until expiration makes room. Every point that reaches the exporter is counted as sent (kept) or
//! dropped. Not served: exemplars and `_created` samples. Scrapes are gzipped when asked for; with
//! `tls` the endpoint serves HTTPS. A loopback endpoint answers only to localhost names and
//! addresses (`net`'s DNS-rebinding guard).

use super::{ExporterContext, ExporterFactory};
use crate::config::{ComponentId, Parser, Settings, TlsSettings};
use crate::net::{AllowedHosts, ConnectionLimits, Stop};
use crate::pdata::Signal;
use crate::pipeline::{Consumer, Envelope, PipelineError, SharedConsumer, SignalConsumers};
use crate::telemetry::ComponentCounters;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point, number_data_point, AggregationTemporality, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
    NumberDataPoint, ScopeMetrics, SummaryDataPoint,
};
use serde_yaml_ng::{Mapping, Value};
use std::collections::{btree_map, BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Series one exporter keeps at most; points of further series are dropped until some expire.
pub const MAX_SERIES: usize = 100_000;
/// The Collector's default `metric_expiration`.
const DEFAULT_METRIC_EXPIRATION: Duration = Duration::from_secs(300);
/// Expired series are also removed between scrapes, at most this often, so that memory does not
/// wait for a scraper.
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);
/// Dropped new series and type conflicts are logged at most this often.
const WARNING_INTERVAL: Duration = Duration::from_secs(30);
/// `DataPointFlags.FLAG_NO_RECORDED_VALUE`.
const NO_RECORDED_VALUE: u32 = 1;
/// The scales OTLP allows for exponential histograms.
const MIN_SCALE: i32 = -10;
const MAX_SCALE: i32 = 20;
/// Two exponential histograms whose merged buckets would span more than this are not merged (the
/// newer is kept alone), so that far-apart offsets cannot allocate without bound.
const MAX_MERGED_BUCKETS: i64 = 16_384;

const SERVICE_NAME: &str = "service.name";
const SERVICE_NAMESPACE: &str = "service.namespace";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";

#[derive(Clone, Debug, PartialEq)]
pub struct PrometheusExporterConfig {
    /// Where `/metrics` is served; None only in a config with errors, which starts nothing.
    pub endpoint: Option<SocketAddr>,
    /// PEM files to serve over HTTPS (client certificates required when `client_ca_file` is set).
    pub tls: Option<TlsSettings>,
    pub namespace: String,
    /// As written; label names are normalized when the exporter starts.
    pub const_labels: BTreeMap<String, String>,
    pub send_timestamps: bool,
    pub metric_expiration: Duration,
    /// `resource_to_telemetry_conversion.enabled`: every resource attribute becomes a label.
    pub resource_to_telemetry: bool,
    /// `resource_to_telemetry_conversion.exclude_service_attributes`: except `service.name`,
    /// `service.namespace` and `service.instance.id` (already `job` and `instance`).
    pub exclude_service_attributes: bool,
    pub enable_open_metrics: bool,
    /// Unit and type suffixes; `translation_strategy`, when given, has decided it.
    pub add_metric_suffixes: bool,
    pub without_scope_info: bool,
}

impl Default for PrometheusExporterConfig {
    /// The Collector's defaults.
    fn default() -> Self {
        PrometheusExporterConfig {
            endpoint: None,
            tls: None,
            namespace: String::new(),
            const_labels: BTreeMap::new(),
            send_timestamps: false,
            metric_expiration: DEFAULT_METRIC_EXPIRATION,
            resource_to_telemetry: false,
            exclude_service_attributes: false,
            enable_open_metrics: false,
            add_metric_suffixes: true,
            without_scope_info: false,
        }
    }
}

/// The `prometheus` exporter type: metrics only.
pub struct Factory;
crate::component_type!(Factory, "prometheus", &[Signal::Metrics], parse);

impl ExporterFactory for Factory {
    fn build(&self, context: &ExporterContext<'_>, settings: &Settings) -> anyhow::Result<SignalConsumers> {
        let exporter = PrometheusExporter::start(context.id, settings.get(), context.counters.metrics.clone())?;
        let metrics: SharedConsumer<ExportMetricsServiceRequest> = Arc::new(exporter);
        Ok(SignalConsumers {
            metrics: Some(metrics),
            ..Default::default()
        })
    }
}

const KEYS: [&str; 11] = [
    "endpoint",
    "tls",
    "namespace",
    "const_labels",
    "send_timestamps",
    "metric_expiration",
    "resource_to_telemetry_conversion",
    "enable_open_metrics",
    "add_metric_suffixes",
    "translation_strategy",
    "without_scope_info",
];

/// Collector settings otelbox does not implement: named in the error rather than "unknown key".
const COLLECTOR_ONLY: [(&str, &str); 4] = [
    (
        "resource_constant_labels",
        "use resource_to_telemetry_conversion: { enabled: true } to turn every resource attribute into labels, or the transform processor to copy chosen ones onto the points",
    ),
    (
        "sending_queue",
        "it keeps the latest value of each series in memory as metrics arrive, so there is nothing to queue; remove sending_queue",
    ),
    (
        "auth",
        "scrapes are served without an authenticator; use tls with client_ca_file to require client certificates",
    ),
    ("cors", "a scrape endpoint is not called from web pages; remove cors"),
];

const TLS_KEYS: [&str; 3] = ["cert_file", "key_file", "client_ca_file"];

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> PrometheusExporterConfig {
    let mut config = PrometheusExporterConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let mut supported = Mapping::new();
    for (key, setting) in body {
        match COLLECTOR_ONLY.iter().find(|(name, _)| key.as_str() == Some(name)) {
            Some((name, instead)) => p.error(
                &format!("{path}.{name}"),
                format!("is not supported by otelbox's prometheus exporter; {instead}"),
            ),
            None => {
                supported.insert(key.clone(), setting.clone());
            }
        }
    }
    p.only_keys(&supported, &KEYS, path);
    match body.get("endpoint") {
        Some(v) => config.endpoint = p.endpoint(v, &format!("{path}.endpoint")),
        None => p.error(
            path,
            "endpoint is required (the address Prometheus scrapes /metrics from, e.g. 0.0.0.0:8889)",
        ),
    }
    if let Some(v) = body.get("tls") {
        config.tls = parse_tls(p, v, &format!("{path}.tls"));
    }
    if let Some(v) = body.get("namespace") {
        config.namespace = p.string(v, &format!("{path}.namespace")).unwrap_or_default();
    }
    let at = format!("{path}.const_labels");
    for (name, v) in p.entries(body.get("const_labels"), &at) {
        let label_at = format!("{at}.{name}");
        if label_name(&name).is_none() {
            p.error(&label_at, "is not usable as a Prometheus label name; use letters, digits and _");
            continue;
        }
        let text = match v {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => {
                p.error(&label_at, "expected a string (the label's value)");
                None
            }
        };
        if let Some(text) = text {
            config.const_labels.insert(name, text);
        }
    }
    if let Some(v) = body.get("send_timestamps") {
        config.send_timestamps = p.boolean(v, &format!("{path}.send_timestamps")).unwrap_or(false);
    }
    if let Some(v) = body.get("metric_expiration") {
        let at = format!("{path}.metric_expiration");
        match p.duration(v, &at) {
            Some(d) if d.is_zero() => p.error(
                &at,
                "must be longer than 0s: it is how long a series is served without updates (default 5m)",
            ),
            Some(d) => config.metric_expiration = d,
            None => {}
        }
    }
    if let Some(v) = body.get("resource_to_telemetry_conversion") {
        let at = format!("{path}.resource_to_telemetry_conversion");
        if let Some(section) = p.mapping(Some(v), &at) {
            p.only_keys(section, &["enabled", "exclude_service_attributes"], &at);
            if let Some(v) = section.get("enabled") {
                config.resource_to_telemetry = p.boolean(v, &format!("{at}.enabled")).unwrap_or(false);
            }
            if let Some(v) = section.get("exclude_service_attributes") {
                config.exclude_service_attributes = p.boolean(v, &format!("{at}.exclude_service_attributes")).unwrap_or(false);
            }
        }
    }
    if let Some(v) = body.get("enable_open_metrics") {
        config.enable_open_metrics = p.boolean(v, &format!("{path}.enable_open_metrics")).unwrap_or(false);
    }
    if let Some(v) = body.get("add_metric_suffixes") {
        config.add_metric_suffixes = p.boolean(v, &format!("{path}.add_metric_suffixes")).unwrap_or(true);
    }
    if let Some(v) = body.get("translation_strategy") {
        let at = format!("{path}.translation_strategy");
        // As in the Collector, an explicit strategy takes precedence over add_metric_suffixes.
        match p.string(v, &at).as_deref() {
            Some("UnderscoreEscapingWithSuffixes") => config.add_metric_suffixes = true,
            Some("UnderscoreEscapingWithoutSuffixes") => config.add_metric_suffixes = false,
            Some(strategy @ ("NoUTF8EscapingWithSuffixes" | "NoTranslation")) => p.error(
                &at,
                format!(
                    "{strategy} is not supported: otelbox serves the classic text format, whose names are escaped to [a-zA-Z0-9_:]; use UnderscoreEscapingWithSuffixes or UnderscoreEscapingWithoutSuffixes"
                ),
            ),
            Some(other) => p.error(
                &at,
                format!(
                    "expected UnderscoreEscapingWithSuffixes or UnderscoreEscapingWithoutSuffixes, got '{other}'"
                ),
            ),
            None => {}
        }
    }
    if let Some(v) = body.get("without_scope_info") {
        config.without_scope_info = p.boolean(v, &format!("{path}.without_scope_info")).unwrap_or(false);
    }
    config
}

/// `tls`: the certificate and key to serve HTTPS with, and optionally the CA client certificates
/// must be signed by. An empty `tls: {}` serves plain HTTP.
fn parse_tls(p: &mut Parser, value: &Value, path: &str) -> Option<TlsSettings> {
    let body = p.mapping(Some(value), path)?;
    for key in body.keys() {
        let key = key.as_str().unwrap_or("?");
        if !TLS_KEYS.contains(&key) {
            let hint = if key == "ca_file" {
                "; to require client certificates signed by a CA, name it in client_ca_file"
            } else {
                ""
            };
            p.error(
                &format!("{path}.{key}"),
                format!(
                    "is not supported by otelbox's prometheus exporter, whose tls takes cert_file, key_file and client_ca_file (PEM files){hint}"
                ),
            );
        }
    }
    if body.is_empty() {
        return None;
    }
    let mut file = |key: &str| -> Option<PathBuf> {
        let v = body.get(key)?;
        p.string(v, &format!("{path}.{key}")).map(PathBuf::from)
    };
    let (cert_file, key_file, client_ca_file) = (file("cert_file"), file("key_file"), file("client_ca_file"));
    match (cert_file, key_file) {
        (Some(cert_file), Some(key_file)) => Some(TlsSettings {
            cert_file,
            key_file,
            client_ca_file,
        }),
        _ => {
            p.error(path, "cert_file and key_file are both required to serve /metrics over TLS");
            None
        }
    }
}

/// The exporter: the series it keeps and the server scrapes reach them through.
pub struct PrometheusExporter {
    registry: Arc<Mutex<Registry>>,
    address: SocketAddr,
    /// Taken at shutdown; dropping it (the exporter dropped unused) stops the server too.
    stop: Mutex<Option<tokio::sync::watch::Sender<bool>>>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
    counters: Arc<ComponentCounters>,
}

impl PrometheusExporter {
    /// Binds the endpoint (a taken port fails start-up) and serves scrapes until `shutdown`.
    pub fn start(id: &ComponentId, config: &PrometheusExporterConfig, counters: Arc<ComponentCounters>) -> anyhow::Result<Self> {
        let setting = format!("exporters.{id}.endpoint");
        let endpoint = config
            .endpoint
            .ok_or_else(|| anyhow::anyhow!("{setting}: required (the address Prometheus scrapes /metrics from)"))?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| anyhow::anyhow!("exporter {id}: needs the tokio runtime"))?;
        let _entered = runtime.enter();
        let tls = config
            .tls
            .as_ref()
            .map(server_tls)
            .transpose()
            .map_err(|e| anyhow::anyhow!("exporters.{id}.tls: {e:#}"))?;
        let listener = listen(endpoint).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::AddrInUse {
                "the address is already in use".to_string()
            } else {
                e.to_string()
            };
            anyhow::anyhow!("cannot listen on {endpoint}: {why}; stop the other process or choose another port with {setting}")
        })?;
        let address = listener.local_addr()?;
        let registry = Arc::new(Mutex::new(Registry::new(config)));
        let scrape = Arc::new(Scrape {
            registry: registry.clone(),
            open_metrics: config.enable_open_metrics,
        });
        let (stop, stopped) = Stop::new();
        let server = crate::net::serve(
            listener,
            tls,
            router(scrape),
            &stopped,
            &AllowedHosts::default(),
            ConnectionLimits::default(),
        )?;
        tracing::info!(exporter = %id, %address, "serving metrics to Prometheus at /metrics");
        Ok(PrometheusExporter {
            registry,
            address,
            stop: Mutex::new(Some(stop)),
            server: Mutex::new(Some(server)),
            counters,
        })
    }

    /// The address scrapes reach (its port chosen by the system when the endpoint's was 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

/// The server side of `tls`: certificates read now, so a bad file fails start-up; client
/// certificates required when `client_ca_file` is set.
fn server_tls(tls: &TlsSettings) -> anyhow::Result<Arc<tokio_rustls::rustls::ServerConfig>> {
    let files = crate::tls::TlsFiles {
        cert: tls.cert_file.clone(),
        key: tls.key_file.clone(),
        client_ca: tls.client_ca_file.clone(),
    };
    crate::tls::server_config(&files, true, &[b"h2", b"http/1.1"])
}

/// A listener on `address`, with SO_REUSEADDR so that a restart is not refused while the previous
/// run's connections linger in TIME_WAIT. Called inside the runtime.
fn listen(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}

fn lock(registry: &Mutex<Registry>) -> MutexGuard<'_, Registry> {
    registry.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Consumer<ExportMetricsServiceRequest> for PrometheusExporter {
    fn consume(&self, envelope: Envelope<ExportMetricsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
        let registry = self.registry.clone();
        let counters = self.counters.clone();
        Box::pin(async move {
            let Envelope { data, acks } = envelope;
            // A large batch takes longer to take in than a tokio worker may be blocked.
            let taken = tokio::task::spawn_blocking(move || lock(&registry).accumulate(&data, Instant::now())).await;
            let answered = Envelope {
                data: ExportMetricsServiceRequest::default(),
                acks,
            };
            match taken {
                Ok(outcome) => {
                    counters.record_sent(outcome.stored);
                    counters.record_dropped(outcome.dropped);
                    answered.commit();
                    Ok(())
                }
                Err(_) => {
                    let error = PipelineError::retryable("internal error in the prometheus exporter; retry later");
                    answered.fail(&error);
                    Err(error)
                }
            }
        })
    }

    /// Stops serving scrapes (in-flight ones finish within the connection limits' grace).
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let stop = self.stop.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(stop) = stop {
                let _ = stop.send(true);
            }
            let server = self.server.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(server) = server {
                let _ = server.await;
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Serving scrapes.

/// What the scrape handler shares with the exporter.
struct Scrape {
    registry: Arc<Mutex<Registry>>,
    open_metrics: bool,
}

fn router(scrape: Arc<Scrape>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(serve_metrics))
        .with_state(scrape)
}

async fn serve_metrics(State(scrape): State<Arc<Scrape>>, headers: HeaderMap) -> Response {
    let format = Format::negotiate(scrape.open_metrics, &headers);
    let gzip = header_mentions(&headers, header::ACCEPT_ENCODING, "gzip");
    let registry = scrape.registry.clone();
    // Rendering 100,000 series takes tens of milliseconds: off the async workers.
    let rendered = tokio::task::spawn_blocking(move || {
        let text = lock(&registry).render(Instant::now(), format);
        let compressed = if gzip { compress(text.as_bytes()).ok() } else { None };
        match compressed {
            Some(body) => (body, true),
            None => (text.into_bytes(), false),
        }
    })
    .await;
    match rendered {
        Ok((body, compressed)) => {
            let mut response = Response::new(Body::from(body));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
            if compressed {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            response
        }
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "otelbox could not render its metrics; see its log\n",
        )
            .into_response(),
    }
}

fn header_mentions(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains(token))
}

fn compress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// The exposition format of one scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// The Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text: counters' families without `_total`, `# EOF`, timestamps in seconds.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when it is enabled and the scraper accepts it (Prometheus lists it first).
    fn negotiate(open_metrics: bool, headers: &HeaderMap) -> Format {
        if open_metrics && header_mentions(headers, header::ACCEPT, "application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// A sample value or an `le`/`quantile` label: Go's shortest `%g`, as client_golang writes them
    /// (OpenMetrics adds `.0` to integral values).
    fn float(self, value: f64) -> String {
        let text = go_float(value);
        if self == Format::OpenMetrics && value.is_finite() && !text.contains(['.', 'e']) {
            text + ".0"
        } else {
            text
        }
    }

    /// A bucket or observation count (the text format writes them as floats).
    fn count(self, value: u64) -> String {
        match self {
            Format::Text => go_float(value as f64),
            Format::OpenMetrics => value.to_string(),
        }
    }

    /// A sample timestamp: milliseconds in the text format, seconds in OpenMetrics.
    fn timestamp(self, unix_nanos: u64) -> String {
        let millis = unix_nanos / 1_000_000;
        match self {
            Format::Text => millis.to_string(),
            Format::OpenMetrics => format!("{}.{:03}", millis / 1000, millis % 1000),
        }
    }
}

/// Go's `strconv.FormatFloat(value, 'g', -1, 64)`: the shortest representation, with an exponent
/// (at least two digits) below 1e-4 and from 1e6.
fn go_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        format!("{value}")
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    }
}

// ---------------------------------------------------------------------------------------------
// Names and label values.

/// What a metric's name depends on besides its name and unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameKind {
    Gauge,
    MonotonicCounter,
    /// Non-monotonic sums, histograms, exponential histograms, summaries.
    Other,
}

/// OTLP (UCUM) units and their Prometheus names.
const UNITS: [(&str, &str); 26] = [
    ("d", "days"),
    ("h", "hours"),
    ("min", "minutes"),
    ("s", "seconds"),
    ("ms", "milliseconds"),
    ("us", "microseconds"),
    ("ns", "nanoseconds"),
    ("By", "bytes"),
    ("KiBy", "kibibytes"),
    ("MiBy", "mebibytes"),
    ("GiBy", "gibibytes"),
    ("TiBy", "tibibytes"),
    ("KBy", "kilobytes"),
    ("MBy", "megabytes"),
    ("GBy", "gigabytes"),
    ("TBy", "terabytes"),
    ("m", "meters"),
    ("V", "volts"),
    ("A", "amperes"),
    ("J", "joules"),
    ("W", "watts"),
    ("g", "grams"),
    ("Cel", "celsius"),
    ("Hz", "hertz"),
    ("1", ""),
    ("%", "percent"),
];

/// The units after a `/`, singular: `By/s` is `bytes_per_second`.
const PER_UNITS: [(&str, &str); 7] = [
    ("s", "second"),
    ("m", "minute"),
    ("h", "hour"),
    ("d", "day"),
    ("w", "week"),
    ("mo", "month"),
    ("y", "year"),
];

fn lookup(table: &[(&'static str, &'static str)], key: &str) -> Option<&'static str> {
    table.iter().find(|(otel, _)| *otel == key).map(|(_, prometheus)| *prometheus)
}

/// Characters a name keeps when it is normalized token by token (`_` separates the tokens).
fn is_name_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ':'
}

/// Invalid name characters as `_`, runs of them as one (a name without suffixes, a namespace).
pub(crate) fn escape_name(name: &str) -> String {
    name.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '_'))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// The Prometheus name of a metric, as the Collector's translator builds it; None when nothing
/// usable is left (the metric's points are dropped).
pub(crate) fn metric_name(name: &str, unit: &str, kind: NameKind, namespace: &str, add_suffixes: bool) -> Option<String> {
    let normalized = if add_suffixes {
        let mut tokens: Vec<String> = name
            .split(|c: char| !is_name_token_char(c))
            .filter(|token| !token.is_empty())
            .map(str::to_string)
            .collect();
        let (main, per) = unit_suffixes(unit);
        add_unit_tokens(&mut tokens, clean_unit(&main), clean_unit(&per));
        if kind == NameKind::MonotonicCounter {
            tokens.retain(|token| token.as_str() != "total");
            tokens.push("total".to_string());
        }
        if unit == "1" && kind == NameKind::Gauge {
            tokens.retain(|token| token.as_str() != "ratio");
            tokens.push("ratio".to_string());
        }
        if !namespace.is_empty() {
            tokens.insert(0, namespace.to_string());
        }
        let joined = tokens.join("_");
        if joined.starts_with(|c: char| c.is_ascii_digit()) {
            format!("_{joined}")
        } else {
            joined
        }
    } else {
        let escaped = escape_name(name);
        if !namespace.is_empty() {
            format!("{namespace}_{escaped}")
        } else if escaped.starts_with(|c: char| c.is_ascii_digit()) {
            format!("_{escaped}")
        } else {
            escaped
        }
    };
    let unusable = normalized.is_empty() || (normalized != name && normalized.chars().all(|c| c == '_'));
    (!unusable).then_some(normalized)
}

/// The main and the `per_` unit suffixes of a unit (`By/s`: `bytes`, `per_second`); units in
/// braces (`{request}`) are annotations and give none.
fn unit_suffixes(unit: &str) -> (String, String) {
    let (main_unit, per_unit) = match unit.split_once('/') {
        Some((main_unit, per_unit)) => (main_unit, Some(per_unit)),
        None => (unit, None),
    };
    let has_braces = |text: &str| text.contains(['{', '}']);
    let main_unit = main_unit.trim();
    let main = if main_unit.is_empty() || has_braces(main_unit) {
        String::new()
    } else {
        lookup(&UNITS, main_unit).unwrap_or(main_unit).to_string()
    };
    let per = match per_unit {
        Some(per_unit) if !per_unit.is_empty() => {
            let per_unit = per_unit.trim();
            if per_unit.is_empty() || has_braces(per_unit) {
                String::new()
            } else {
                format!("per_{}", lookup(&PER_UNITS, per_unit).unwrap_or(per_unit))
            }
        }
        _ => String::new(),
    };
    (main, per)
}

/// A unit suffix with invalid characters as `_`, runs of `_` as one and no leading `_`.
fn clean_unit(unit: &str) -> String {
    let mut cleaned = String::with_capacity(unit.len());
    for c in unit.chars() {
        let c = if is_name_token_char(c) { c } else { '_' };
        if c == '_' && cleaned.ends_with('_') {
            continue;
        }
        cleaned.push(c);
    }
    if cleaned.starts_with('_') {
        cleaned.remove(0);
    }
    cleaned
}

/// Appends the unit suffixes the name does not already carry.
fn add_unit_tokens(tokens: &mut Vec<String>, main: String, per: String) {
    let mut main = if tokens.contains(&main) { String::new() } else { main };
    let per = if per == "per_" {
        String::new()
    } else {
        let per = per.strip_suffix('_').unwrap_or(&per).to_string();
        if tokens.contains(&per) {
            String::new()
        } else {
            per
        }
    };
    if !per.is_empty() && main.ends_with('_') {
        main.pop();
    }
    if !main.is_empty() {
        tokens.push(main);
    }
    if !per.is_empty() {
        tokens.push(per);
    }
}

/// An attribute key as a Prometheus label name; None when nothing usable is left.
pub(crate) fn label_name(key: &str) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    let mut name: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name = format!("key_{name}");
    } else if name.starts_with('_') && !name.starts_with("__") {
        name = format!("key{name}");
    }
    if name != key && name.chars().all(|c| c == '_') {
        return None;
    }
    Some(name)
}

/// pcommon's `Value.AsString`: strings raw, numbers plain, bytes base64, maps and slices as JSON.
pub(crate) fn value_text(value: Option<&AnyValue>) -> String {
    use any_value::Value as V;
    let Some(any) = value else { return String::new() };
    match &any.value {
        None => String::new(),
        Some(V::StringValue(text)) => text.clone(),
        Some(V::BoolValue(flag)) => flag.to_string(),
        Some(V::IntValue(number)) => number.to_string(),
        Some(V::DoubleValue(number)) => double_text(*number),
        Some(V::BytesValue(bytes)) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Some(V::StringValueStrindex(index)) => index.to_string(),
        Some(V::ArrayValue(_) | V::KvlistValue(_)) => crate::pdata::json::any_value_to_plain(any).to_string(),
    }
}

/// A double attribute as pcommon writes it (ECMAScript's number to string: plain between 1e-6 and
/// 1e21, else with an exponent).
fn double_text(number: f64) -> String {
    if number.is_nan() {
        return "NaN".into();
    }
    if number.is_infinite() {
        return if number > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let magnitude = number.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let scientific = format!("{number:e}");
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific.as_str(), "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{}", exponent.unsigned_abs())
    } else {
        format!("{number}")
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a KeyValue> {
    attributes.iter().find(|kv| kv.key == key)
}

/// `job`: `service.namespace/service.name`, or `service.name` alone.
pub(crate) fn job_of(resource: &[KeyValue]) -> Option<String> {
    let name = value_text(attribute(resource, SERVICE_NAME)?.value.as_ref());
    Some(match attribute(resource, SERVICE_NAMESPACE) {
        Some(namespace) => format!("{}/{name}", value_text(namespace.value.as_ref())),
        None => name,
    })
}

fn is_service_key(key: &str) -> bool {
    matches!(key, SERVICE_NAME | SERVICE_NAMESPACE | SERVICE_INSTANCE_ID)
}

/// Adds a label, joining its value to one already there under the same name with `;`.
pub(crate) fn add_joined(labels: &mut BTreeMap<String, String>, key: &str, value: Option<&AnyValue>) {
    let Some(name) = label_name(key) else { return };
    let text = value_text(value);
    if text.is_empty() {
        return;
    }
    match labels.entry(name) {
        btree_map::Entry::Occupied(mut slot) => {
            let joined = slot.get_mut();
            joined.push(';');
            joined.push_str(&text);
        }
        btree_map::Entry::Vacant(slot) => {
            slot.insert(text);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The series kept.

/// The Prometheus type of a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FamilyKind {
    Gauge,
    Counter,
    Histogram,
    Summary,
}

impl FamilyKind {
    fn as_str(self) -> &'static str {
        match self {
            FamilyKind::Gauge => "gauge",
            FamilyKind::Counter => "counter",
            FamilyKind::Histogram => "histogram",
            FamilyKind::Summary => "summary",
        }
    }
}

/// All series of one name.
struct Family {
    kind: FamilyKind,
    /// The first description seen (the Collector keeps the first too).
    help: String,
    /// Live series of this family; the family goes with its last one.
    series: usize,
}

/// Label (name, value) pairs, sorted by name.
type Labels = Vec<(String, String)>;
/// A series' identity: its family name and its labels.
type SeriesKey = (String, Labels);
/// One series as a scrape writes it: its labels and what is kept.
type Member<'a> = (&'a [(String, String)], &'a Series);
/// `target_info` per (job, instance): the resource's, and when a series of it last changed.
type Targets<'a> = BTreeMap<(&'a str, &'a str), (&'a TargetInfo, Instant)>;

struct Series {
    sample: Sample,
    time_unix_nanos: u64,
    /// When a point last changed it; it is served until `metric_expiration` after.
    updated: Instant,
    /// The resource it came from, for `target_info`.
    target: Option<Arc<TargetInfo>>,
}

#[derive(Clone, Debug, PartialEq)]
enum Sample {
    Number(f64),
    Histogram(HistogramValue),
    Exponential(ExponentialValue),
    Summary(SummaryValue),
}

#[derive(Clone, Debug, PartialEq)]
struct HistogramValue {
    bounds: Vec<f64>,
    counts: Vec<u64>,
    count: u64,
    sum: f64,
}

#[derive(Clone, Debug, PartialEq)]
struct ExponentialValue {
    scale: i32,
    zero_count: u64,
    zero_threshold: f64,
    positive: ExponentialBuckets,
    negative: ExponentialBuckets,
    count: u64,
    sum: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct ExponentialBuckets {
    /// The index of the first count's bucket (at the value's scale).
    offset: i64,
    counts: Vec<u64>,
}

#[derive(Clone, Debug, PartialEq)]
struct SummaryValue {
    /// (quantile, value), by quantile.
    quantiles: Vec<(f64, f64)>,
    count: u64,
    sum: f64,
}

/// A point as it arrives.
struct Incoming {
    sample: Sample,
    start_unix_nanos: u64,
    time_unix_nanos: u64,
    /// Delta temporality: added to the kept value when it continues it.
    delta: bool,
}

/// What a point does to the series it belongs to.
enum Decision {
    /// Older than what is kept, or overlapping it: dropped.
    Skip,
    Replace,
    /// A delta that continues the kept value.
    Add,
}

impl Series {
    /// Applies a point; false when it was dropped.
    fn update(&mut self, incoming: Incoming, now: Instant, target: Option<Arc<TargetInfo>>) -> bool {
        let stale = incoming.time_unix_nanos < self.time_unix_nanos;
        let continues = incoming.start_unix_nanos == self.time_unix_nanos;
        let decision = match (&self.sample, &incoming.sample, incoming.delta) {
            (Sample::Number(_), Sample::Number(_), true) if !stale && continues => Decision::Add,
            (Sample::Histogram(_), Sample::Histogram(_), true) | (Sample::Exponential(_), Sample::Exponential(_), true) => {
                if continues {
                    Decision::Add
                } else if incoming.start_unix_nanos < self.time_unix_nanos {
                    Decision::Skip
                } else {
                    Decision::Replace
                }
            }
            _ if stale => Decision::Skip,
            _ => Decision::Replace,
        };
        match decision {
            Decision::Skip => return false,
            Decision::Replace => {
                self.sample = incoming.sample;
                self.time_unix_nanos = incoming.time_unix_nanos;
            }
            Decision::Add => {
                self.sample.add_delta(incoming.sample);
                self.time_unix_nanos = self.time_unix_nanos.max(incoming.time_unix_nanos);
            }
        }
        self.updated = now;
        self.target = target;
        true
    }
}

impl Sample {
    /// Adds a delta that continues this value.
    fn add_delta(&mut self, delta: Sample) {
        match (self, delta) {
            (Sample::Number(kept), Sample::Number(delta)) => *kept += delta,
            (Sample::Histogram(kept), Sample::Histogram(delta)) => kept.add_delta(delta),
            (Sample::Exponential(kept), Sample::Exponential(delta)) => kept.add_delta(delta),
            (kept, delta) => *kept = delta,
        }
    }
}

impl HistogramValue {
    /// Bucket by bucket when the bounds agree, else the newer point alone (as the Collector does).
    fn add_delta(&mut self, newer: HistogramValue) {
        if self.bounds != newer.bounds {
            *self = newer;
            return;
        }
        let counts = newer
            .counts
            .iter()
            .enumerate()
            .map(|(i, count)| count.saturating_add(self.counts.get(i).copied().unwrap_or(0)))
            .collect();
        self.counts = counts;
        self.count = self.count.saturating_add(newer.count);
        self.sum += newer.sum;
    }

    /// (upper bound, cumulative count) for each distinct finite bound, ascending; the `+Inf`
    /// bucket is the count.
    fn cumulative_buckets(&self) -> Vec<(f64, u64)> {
        let mut bounds: Vec<(f64, usize)> = self
            .bounds
            .iter()
            .enumerate()
            .filter(|(_, bound)| bound.is_finite())
            .map(|(index, bound)| (*bound, index))
            .collect();
        bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
        // A repeated bound keeps the bucket of its first occurrence.
        bounds.dedup_by(|later, earlier| later.0.total_cmp(&earlier.0).is_eq());
        let mut cumulative = 0u64;
        bounds
            .into_iter()
            .map(|(bound, index)| {
                cumulative = cumulative.saturating_add(self.counts.get(index).copied().unwrap_or(0));
                (bound, cumulative)
            })
            .collect()
    }
}

impl ExponentialValue {
    /// Merges a continuing delta at the coarser of the two scales; when the merged buckets would
    /// span too much, the newer point is kept alone.
    fn add_delta(&mut self, newer: ExponentialValue) {
        let scale = self.scale.min(newer.scale);
        let positive = merge_buckets(
            downscale(&self.positive, self.scale - scale),
            downscale(&newer.positive, newer.scale - scale),
        );
        let negative = merge_buckets(
            downscale(&self.negative, self.scale - scale),
            downscale(&newer.negative, newer.scale - scale),
        );
        let (Some(positive), Some(negative)) = (positive, negative) else {
            *self = newer;
            return;
        };
        self.scale = scale;
        self.positive = positive;
        self.negative = negative;
        self.zero_count = self.zero_count.saturating_add(newer.zero_count);
        self.zero_threshold = self.zero_threshold.max(newer.zero_threshold);
        self.count = self.count.saturating_add(newer.count);
        self.sum += newer.sum;
    }

    /// Classic buckets: (upper bound, cumulative count), ascending, the `+Inf` bucket left out.
    /// Bucket `i` at scale `s` holds values in (2^(i/2^s), 2^((i+1)/2^s)]; negative buckets mirror
    /// the positive ones; the zero bucket holds [-threshold, threshold].
    fn cumulative_buckets(&self) -> Vec<(f64, u64)> {
        let step = power_of_two(-f64::from(self.scale));
        let boundary = |index: i64| power_of_two(index as f64 * step);
        let mut buckets = Vec::new();
        let mut cumulative = 0u64;
        for (i, count) in self.negative.counts.iter().enumerate().rev() {
            cumulative = cumulative.saturating_add(*count);
            push_bucket(&mut buckets, -boundary(self.negative.offset + i as i64), cumulative);
        }
        cumulative = cumulative.saturating_add(self.zero_count);
        push_bucket(&mut buckets, self.zero_threshold, cumulative);
        for (i, count) in self.positive.counts.iter().enumerate() {
            cumulative = cumulative.saturating_add(*count);
            push_bucket(&mut buckets, boundary(self.positive.offset + i as i64 + 1), cumulative);
        }
        buckets
    }
}

/// 2^exponent, exact for integral exponents.
fn power_of_two(exponent: f64) -> f64 {
    if exponent.fract() == 0.0 && exponent.abs() < 1000.0 {
        2f64.powi(exponent as i32)
    } else {
        exponent.exp2()
    }
}

/// Adds a classic bucket unless its bound is not finite or not above the previous one (its
/// observations then count in the next bucket up).
fn push_bucket(buckets: &mut Vec<(f64, u64)>, upper_bound: f64, cumulative: u64) {
    if !upper_bound.is_finite() || buckets.last().is_some_and(|(last, _)| upper_bound <= *last) {
        return;
    }
    buckets.push((upper_bound, cumulative));
}

/// The buckets at a scale `by` steps coarser (each step merges pairs of neighbours).
fn downscale(buckets: &ExponentialBuckets, by: i32) -> ExponentialBuckets {
    if buckets.counts.is_empty() || by <= 0 {
        return buckets.clone();
    }
    let by = by.min(62) as u32;
    let first = buckets.offset >> by;
    let last = (buckets.offset + buckets.counts.len() as i64 - 1) >> by;
    let mut counts = vec![0u64; (last - first + 1) as usize];
    for (i, count) in buckets.counts.iter().enumerate() {
        let index = (buckets.offset + i as i64) >> by;
        let slot = &mut counts[(index - first) as usize];
        *slot = slot.saturating_add(*count);
    }
    ExponentialBuckets { offset: first, counts }
}

/// The sum of two sets of buckets at the same scale; None when together they span too many.
fn merge_buckets(a: ExponentialBuckets, b: ExponentialBuckets) -> Option<ExponentialBuckets> {
    if a.counts.is_empty() {
        return Some(b);
    }
    if b.counts.is_empty() {
        return Some(a);
    }
    let first = a.offset.min(b.offset);
    let last = (a.offset + a.counts.len() as i64).max(b.offset + b.counts.len() as i64) - 1;
    if last - first + 1 > MAX_MERGED_BUCKETS {
        return None;
    }
    let mut counts = vec![0u64; (last - first + 1) as usize];
    for side in [&a, &b] {
        for (i, count) in side.counts.iter().enumerate() {
            let slot = &mut counts[(side.offset + i as i64 - first) as usize];
            *slot = slot.saturating_add(*count);
        }
    }
    Some(ExponentialBuckets { offset: first, counts })
}

/// A resource's `target_info` series.
#[derive(Debug, PartialEq)]
struct TargetInfo {
    job: String,
    instance: String,
    labels: Labels,
}

/// `target_info` for a resource with both `job` and `instance`: its other attributes as labels.
fn target_info(resource: &[KeyValue], job: Option<&str>, instance: Option<&str>) -> Option<Arc<TargetInfo>> {
    let (job, instance) = (job?, instance?);
    if job.is_empty() || instance.is_empty() {
        return None;
    }
    let mut labels = BTreeMap::new();
    for kv in resource.iter().filter(|kv| !is_service_key(&kv.key)) {
        add_joined(&mut labels, &kv.key, kv.value.as_ref());
    }
    labels.insert("job".to_string(), job.to_string());
    labels.insert("instance".to_string(), instance.to_string());
    Some(Arc::new(TargetInfo {
        job: job.to_string(),
        instance: instance.to_string(),
        labels: labels.into_iter().collect(),
    }))
}

/// Where the points of one scope come from.
struct Origin<'a> {
    /// Resource attributes copied onto every point (`resource_to_telemetry_conversion`).
    resource_labels: Vec<&'a KeyValue>,
    scope_labels: Labels,
    job: Option<String>,
    instance: Option<String>,
    target: Option<Arc<TargetInfo>>,
}

/// A metric's family as its points are added.
struct FamilyRef<'a> {
    name: &'a str,
    kind: FamilyKind,
    help: &'a str,
}

/// One point as it reaches `Registry::add_point`.
struct PointRef<'a> {
    attributes: &'a [KeyValue],
    flags: u32,
    /// None: an invalid point (a number without a value, a scale OTLP does not allow).
    incoming: Option<Incoming>,
}

/// What became of the points of one batch: each is stored or dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Outcome {
    stored: usize,
    dropped: usize,
    /// Of the dropped: points of new series beyond the series limit.
    refused_series: usize,
    /// Of the dropped: points that would have given a name a second type.
    conflicts: usize,
}

/// How names and labels are built, from the settings.
struct Naming {
    /// Escaped; prefixes every name.
    namespace: String,
    add_suffixes: bool,
    /// Normalized names, non-empty values.
    const_labels: Labels,
    scope_info: bool,
    resource_to_telemetry: bool,
    exclude_service_attributes: bool,
}

impl Naming {
    fn metric_name(&self, metric: &Metric, kind: NameKind) -> Option<String> {
        metric_name(&metric.name, &metric.unit, kind, &self.namespace, self.add_suffixes)
    }

    /// `otel_scope_*` labels of a scope, unless `without_scope_info`.
    fn scope_labels(&self, scope_metrics: &ScopeMetrics) -> Labels {
        if !self.scope_info {
            return Vec::new();
        }
        let mut labels = BTreeMap::new();
        let (name, version) = match &scope_metrics.scope {
            Some(scope) => {
                for kv in &scope.attributes {
                    add_joined(&mut labels, &format!("otel_scope_{}", kv.key), kv.value.as_ref());
                }
                (scope.name.as_str(), scope.version.as_str())
            }
            None => ("", ""),
        };
        for (label, value) in [
            ("otel_scope_name", name),
            ("otel_scope_version", version),
            ("otel_scope_schema_url", scope_metrics.schema_url.as_str()),
        ] {
            if !value.is_empty() {
                labels.insert(label.to_string(), value.to_string());
            }
        }
        labels.into_iter().collect()
    }

    /// A point's labels, sorted by name.
    fn labels(&self, attributes: &[KeyValue], origin: &Origin<'_>) -> Labels {
        let mut labels = BTreeMap::new();
        // A point's own attribute wins over a resource attribute of the same key.
        let from_resource = origin
            .resource_labels
            .iter()
            .copied()
            .filter(|kv| !attributes.iter().any(|own| own.key == kv.key));
        for kv in from_resource.chain(attributes.iter()) {
            add_joined(&mut labels, &kv.key, kv.value.as_ref());
        }
        for (name, value) in &origin.scope_labels {
            labels.insert(name.clone(), value.clone());
        }
        if let Some(job) = origin.job.as_deref().filter(|job| !job.is_empty()) {
            labels.insert("job".to_string(), job.to_string());
        }
        if let Some(instance) = origin.instance.as_deref().filter(|instance| !instance.is_empty()) {
            labels.insert("instance".to_string(), instance.to_string());
        }
        for (name, value) in &self.const_labels {
            labels.insert(name.clone(), value.clone());
        }
        labels.into_iter().collect()
    }
}

/// Every series kept, and the families they form.
struct Registry {
    naming: Naming,
    send_timestamps: bool,
    expiration: Duration,
    max_series: usize,
    series: HashMap<SeriesKey, Series>,
    families: HashMap<String, Family>,
    last_sweep: Option<Instant>,
    /// Points of new series dropped at the limit, since start.
    refused_series: u64,
    last_warning: Option<Instant>,
}

impl Registry {
    fn new(config: &PrometheusExporterConfig) -> Registry {
        let const_labels = config
            .const_labels
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .filter_map(|(name, value)| Some((label_name(name)?, value.clone())))
            .collect();
        Registry {
            naming: Naming {
                namespace: escape_name(&config.namespace),
                add_suffixes: config.add_metric_suffixes,
                const_labels,
                scope_info: !config.without_scope_info,
                resource_to_telemetry: config.resource_to_telemetry,
                exclude_service_attributes: config.exclude_service_attributes,
            },
            send_timestamps: config.send_timestamps,
            expiration: config.metric_expiration,
            max_series: MAX_SERIES,
            series: HashMap::new(),
            families: HashMap::new(),
            last_sweep: None,
            refused_series: 0,
            last_warning: None,
        }
    }

    /// Takes in a batch; every point is stored or dropped.
    fn accumulate(&mut self, request: &ExportMetricsServiceRequest, now: Instant) -> Outcome {
        if self.last_sweep.is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_INTERVAL) {
            self.expire(now);
        }
        let mut outcome = Outcome::default();
        for resource_metrics in &request.resource_metrics {
            let resource: &[KeyValue] = match &resource_metrics.resource {
                Some(resource) => &resource.attributes,
                None => &[],
            };
            let job = job_of(resource);
            let instance = attribute(resource, SERVICE_INSTANCE_ID).map(|kv| value_text(kv.value.as_ref()));
            let target = target_info(resource, job.as_deref(), instance.as_deref());
            let resource_labels: Vec<&KeyValue> = if self.naming.resource_to_telemetry {
                resource
                    .iter()
                    .filter(|kv| !(self.naming.exclude_service_attributes && is_service_key(&kv.key)))
                    .collect()
            } else {
                Vec::new()
            };
            for scope_metrics in &resource_metrics.scope_metrics {
                let origin = Origin {
                    resource_labels: resource_labels.clone(),
                    scope_labels: self.naming.scope_labels(scope_metrics),
                    job: job.clone(),
                    instance: instance.clone(),
                    target: target.clone(),
                };
                for metric in &scope_metrics.metrics {
                    self.add_metric(metric, &origin, now, &mut outcome);
                }
            }
        }
        if outcome.refused_series > 0 || outcome.conflicts > 0 {
            self.refused_series += outcome.refused_series as u64;
            if self
                .last_warning
                .is_none_or(|at| now.saturating_duration_since(at) >= WARNING_INTERVAL)
            {
                self.last_warning = Some(now);
                tracing::warn!(
                    series = self.series.len(),
                    max_series = self.max_series,
                    dropped_new_series_points = outcome.refused_series,
                    dropped_type_conflicts = outcome.conflicts,
                    total_dropped_new_series_points = self.refused_series,
                    "prometheus exporter: points dropped (new series beyond the limit wait until others expire; a name keeps the first type it was served with)"
                );
            }
        }
        outcome
    }

    fn add_metric(&mut self, metric: &Metric, origin: &Origin<'_>, now: Instant, outcome: &mut Outcome) {
        let Some(data) = &metric.data else { return };
        let points = crate::pdata::metric_point_count(metric);
        let delta_or_cumulative = |temporality: i32| {
            if temporality == AggregationTemporality::Delta as i32 {
                Some(true)
            } else if temporality == AggregationTemporality::Cumulative as i32 {
                Some(false)
            } else {
                None
            }
        };
        let (kind, name_kind, delta) = match data {
            Data::Gauge(_) => (FamilyKind::Gauge, NameKind::Gauge, false),
            Data::Sum(sum) => match (delta_or_cumulative(sum.aggregation_temporality), sum.is_monotonic) {
                (Some(delta), true) => (FamilyKind::Counter, NameKind::MonotonicCounter, delta),
                (Some(false), false) => (FamilyKind::Gauge, NameKind::Other, false),
                // A non-monotonic delta cannot be summed into a value; no temporality is invalid.
                _ => {
                    outcome.dropped += points;
                    return;
                }
            },
            Data::Histogram(histogram) => match delta_or_cumulative(histogram.aggregation_temporality) {
                Some(delta) => (FamilyKind::Histogram, NameKind::Other, delta),
                None => {
                    outcome.dropped += points;
                    return;
                }
            },
            Data::ExponentialHistogram(histogram) => match delta_or_cumulative(histogram.aggregation_temporality) {
                Some(delta) => (FamilyKind::Histogram, NameKind::Other, delta),
                None => {
                    outcome.dropped += points;
                    return;
                }
            },
            Data::Summary(_) => (FamilyKind::Summary, NameKind::Other, false),
        };
        let Some(name) = self.naming.metric_name(metric, name_kind) else {
            outcome.dropped += points;
            return;
        };
        let family = FamilyRef {
            name: &name,
            kind,
            help: &metric.description,
        };
        match data {
            Data::Gauge(gauge) => {
                for point in &gauge.data_points {
                    self.add_point(&family, origin, number_point(point, false), now, outcome);
                }
            }
            Data::Sum(sum) => {
                for point in &sum.data_points {
                    self.add_point(&family, origin, number_point(point, delta), now, outcome);
                }
            }
            Data::Histogram(histogram) => {
                for point in &histogram.data_points {
                    self.add_point(&family, origin, histogram_point(point, delta), now, outcome);
                }
            }
            Data::ExponentialHistogram(histogram) => {
                for point in &histogram.data_points {
                    self.add_point(&family, origin, exponential_point(point, delta), now, outcome);
                }
            }
            Data::Summary(summary) => {
                for point in &summary.data_points {
                    self.add_point(&family, origin, summary_point(point), now, outcome);
                }
            }
        }
    }

    fn add_point(&mut self, family: &FamilyRef<'_>, origin: &Origin<'_>, point: PointRef<'_>, now: Instant, outcome: &mut Outcome) {
        let key: SeriesKey = (family.name.to_string(), self.naming.labels(point.attributes, origin));
        if point.flags & NO_RECORDED_VALUE != 0 {
            // The series ended: it is no longer served.
            self.remove(&key);
            outcome.stored += 1;
            return;
        }
        let Some(incoming) = point.incoming else {
            outcome.dropped += 1;
            return;
        };
        if self.families.get(family.name).is_some_and(|existing| existing.kind != family.kind) {
            outcome.dropped += 1;
            outcome.conflicts += 1;
            return;
        }
        if let Some(series) = self.series.get_mut(&key) {
            if series.update(incoming, now, origin.target.clone()) {
                outcome.stored += 1;
            } else {
                outcome.dropped += 1;
            }
            return;
        }
        if !self.make_room(now) {
            outcome.dropped += 1;
            outcome.refused_series += 1;
            return;
        }
        self.families
            .entry(family.name.to_string())
            .or_insert_with(|| Family {
                kind: family.kind,
                help: family.help.to_string(),
                series: 0,
            })
            .series += 1;
        self.series.insert(
            key,
            Series {
                sample: incoming.sample,
                time_unix_nanos: incoming.time_unix_nanos,
                updated: now,
                target: origin.target.clone(),
            },
        );
        outcome.stored += 1;
    }

    /// Whether a new series fits, after removing the expired ones if it does not.
    fn make_room(&mut self, now: Instant) -> bool {
        if self.series.len() < self.max_series {
            return true;
        }
        if self
            .last_sweep
            .is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(1))
        {
            self.expire(now);
        }
        self.series.len() < self.max_series
    }

    fn remove(&mut self, key: &SeriesKey) {
        if self.series.remove(key).is_none() {
            return;
        }
        if let Some(family) = self.families.get_mut(&key.0) {
            family.series = family.series.saturating_sub(1);
        }
        self.families.retain(|_, family| family.series > 0);
    }

    /// Removes the series not updated within `metric_expiration`, and families left empty.
    fn expire(&mut self, now: Instant) {
        let expiration = self.expiration;
        let families = &mut self.families;
        self.series.retain(|(name, _), series| {
            let live = now.saturating_duration_since(series.updated) <= expiration;
            let emptied = if live { None } else { families.get_mut(name) };
            if let Some(family) = emptied {
                family.series = family.series.saturating_sub(1);
            }
            live
        });
        self.families.retain(|_, family| family.series > 0);
        self.last_sweep = Some(now);
    }

    /// The exposition of every live series: families by name, series by labels.
    fn render(&mut self, now: Instant, format: Format) -> String {
        self.expire(now);
        let mut families: BTreeMap<&str, Vec<Member<'_>>> = BTreeMap::new();
        // target_info per (job, instance), from the most recently updated series.
        let mut targets: Targets<'_> = BTreeMap::new();
        for ((family, labels), series) in &self.series {
            families.entry(family.as_str()).or_default().push((labels.as_slice(), series));
            if let Some(target) = &series.target {
                let slot = targets
                    .entry((target.job.as_str(), target.instance.as_str()))
                    .or_insert((target.as_ref(), series.updated));
                if series.updated > slot.1 {
                    *slot = (target.as_ref(), series.updated);
                }
            }
        }
        let target_name = if self.naming.namespace.is_empty() {
            "target_info".to_string()
        } else {
            format!("{}_target_info", self.naming.namespace)
        };
        // A metric of that very name keeps it.
        let mut targets_written = targets.is_empty() || families.contains_key(target_name.as_str());
        let mut out = String::new();
        for (name, mut members) in families {
            if !targets_written && target_name.as_str() < name {
                write_targets(&mut out, format, &target_name, &targets);
                targets_written = true;
            }
            let Some(family) = self.families.get(name) else { continue };
            members.sort_by(|a, b| a.0.cmp(b.0));
            write_family(&mut out, format, name, family, &members, self.send_timestamps);
        }
        if !targets_written {
            write_targets(&mut out, format, &target_name, &targets);
        }
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        out
    }
}

fn number_point(point: &NumberDataPoint, delta: bool) -> PointRef<'_> {
    let value = point.value.map(|value| match value {
        number_data_point::Value::AsDouble(value) => value,
        number_data_point::Value::AsInt(value) => value as f64,
    });
    PointRef {
        attributes: &point.attributes,
        flags: point.flags,
        incoming: value.map(|value| Incoming {
            sample: Sample::Number(value),
            start_unix_nanos: point.start_time_unix_nano,
            time_unix_nanos: point.time_unix_nano,
            delta,
        }),
    }
}

fn histogram_point(point: &HistogramDataPoint, delta: bool) -> PointRef<'_> {
    PointRef {
        attributes: &point.attributes,
        flags: point.flags,
        incoming: Some(Incoming {
            sample: Sample::Histogram(HistogramValue {
                bounds: point.explicit_bounds.clone(),
                counts: point.bucket_counts.clone(),
                count: point.count,
                sum: point.sum.unwrap_or(0.0),
            }),
            start_unix_nanos: point.start_time_unix_nano,
            time_unix_nanos: point.time_unix_nano,
            delta,
        }),
    }
}

fn exponential_buckets(buckets: Option<&exponential_histogram_data_point::Buckets>) -> ExponentialBuckets {
    buckets.map_or_else(ExponentialBuckets::default, |buckets| ExponentialBuckets {
        offset: i64::from(buckets.offset),
        counts: buckets.bucket_counts.clone(),
    })
}

fn exponential_point(point: &ExponentialHistogramDataPoint, delta: bool) -> PointRef<'_> {
    let valid = (MIN_SCALE..=MAX_SCALE).contains(&point.scale);
    let zero_threshold = if point.zero_threshold.is_finite() {
        point.zero_threshold.abs()
    } else {
        0.0
    };
    PointRef {
        attributes: &point.attributes,
        flags: point.flags,
        incoming: valid.then(|| Incoming {
            sample: Sample::Exponential(ExponentialValue {
                scale: point.scale,
                zero_count: point.zero_count,
                zero_threshold,
                positive: exponential_buckets(point.positive.as_ref()),
                negative: exponential_buckets(point.negative.as_ref()),
                count: point.count,
                sum: point.sum.unwrap_or(0.0),
            }),
            start_unix_nanos: point.start_time_unix_nano,
            time_unix_nanos: point.time_unix_nano,
            delta,
        }),
    }
}

fn summary_point(point: &SummaryDataPoint) -> PointRef<'_> {
    let mut sorted: Vec<(f64, f64)> = point
        .quantile_values
        .iter()
        .filter(|q| !q.quantile.is_nan())
        .map(|q| (q.quantile, q.value))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    // A repeated quantile keeps its last value.
    let mut quantiles: Vec<(f64, f64)> = Vec::with_capacity(sorted.len());
    for quantile in sorted {
        match quantiles.last_mut() {
            Some(last) if last.0.total_cmp(&quantile.0).is_eq() => *last = quantile,
            _ => quantiles.push(quantile),
        }
    }
    PointRef {
        attributes: &point.attributes,
        flags: point.flags,
        incoming: Some(Incoming {
            sample: Sample::Summary(SummaryValue {
                quantiles,
                count: point.count,
                sum: point.sum,
            }),
            start_unix_nanos: point.start_time_unix_nano,
            time_unix_nanos: point.time_unix_nano,
            delta: false,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing the exposition.

/// The sample lines of one series.
struct SeriesLines<'a> {
    out: &'a mut String,
    format: Format,
    name: &'a str,
    labels: &'a [(String, String)],
    time: Option<&'a str>,
}

impl SeriesLines<'_> {
    /// `name{labels,extra} value [timestamp]`.
    fn sample(&mut self, suffix: &str, extra: Option<(&str, &str)>, value: &str) {
        let out = &mut *self.out;
        out.push_str(self.name);
        out.push_str(suffix);
        if !self.labels.is_empty() || extra.is_some() {
            out.push('{');
            let pairs = self.labels.iter().map(|(name, text)| (name.as_str(), text.as_str())).chain(extra);
            for (i, (name, text)) in pairs.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(name);
                out.push_str("=\"");
                escape_label_value(out, text);
                out.push('"');
            }
            out.push('}');
        }
        out.push(' ');
        out.push_str(value);
        if let Some(time) = self.time {
            out.push(' ');
            out.push_str(time);
        }
        out.push('\n');
    }
}

fn escape_label_value(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// HELP text: backslashes and newlines escaped (and quotes, in OpenMetrics).
fn escape_help(help: &str, format: Format) -> String {
    let mut escaped = String::with_capacity(help.len());
    for c in help.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            '"' if format == Format::OpenMetrics => escaped.push_str("\\\""),
            c => escaped.push(c),
        }
    }
    escaped
}

fn write_family(out: &mut String, format: Format, name: &str, family: &Family, members: &[Member<'_>], send_timestamps: bool) {
    // OpenMetrics names a counter's family without `_total` and its sample with it.
    let open_metrics_counter = family.kind == FamilyKind::Counter && format == Format::OpenMetrics;
    let family_name = if open_metrics_counter {
        name.strip_suffix("_total").unwrap_or(name)
    } else {
        name
    };
    if !family.help.is_empty() {
        let _ = writeln!(out, "# HELP {family_name} {}", escape_help(&family.help, format));
    }
    let _ = writeln!(out, "# TYPE {family_name} {}", family.kind.as_str());
    for &(labels, series) in members {
        let time = (send_timestamps && series.time_unix_nanos > 0).then(|| format.timestamp(series.time_unix_nanos));
        let mut lines = SeriesLines {
            out: &mut *out,
            format,
            name,
            labels,
            time: time.as_deref(),
        };
        match &series.sample {
            Sample::Number(value) if open_metrics_counter => {
                lines.name = family_name;
                lines.sample("_total", None, &format.float(*value));
            }
            Sample::Number(value) => lines.sample("", None, &format.float(*value)),
            Sample::Histogram(histogram) => write_histogram(&mut lines, &histogram.cumulative_buckets(), histogram.count, histogram.sum),
            Sample::Exponential(histogram) => write_histogram(&mut lines, &histogram.cumulative_buckets(), histogram.count, histogram.sum),
            Sample::Summary(summary) => {
                for (quantile, value) in &summary.quantiles {
                    lines.sample("", Some(("quantile", &format.float(*quantile))), &format.float(*value));
                }
                lines.sample("_sum", None, &format.float(summary.sum));
                lines.sample("_count", None, &format.count(summary.count));
            }
        }
    }
}

fn write_histogram(lines: &mut SeriesLines<'_>, buckets: &[(f64, u64)], count: u64, sum: f64) {
    let format = lines.format;
    for &(upper_bound, cumulative) in buckets {
        lines.sample("_bucket", Some(("le", &format.float(upper_bound))), &format.count(cumulative));
    }
    lines.sample("_bucket", Some(("le", "+Inf")), &format.count(count));
    lines.sample("_sum", None, &format.float(sum));
    lines.sample("_count", None, &format.count(count));
}

fn write_targets(out: &mut String, format: Format, name: &str, targets: &Targets<'_>) {
    let _ = writeln!(out, "# HELP {name} Target metadata");
    let _ = writeln!(out, "# TYPE {name} gauge");
    let mut infos: Vec<&TargetInfo> = targets.values().map(|(info, _)| *info).collect();
    infos.sort_by(|a, b| a.labels.cmp(&b.labels));
    for info in infos {
        SeriesLines {
            out: &mut *out,
            format,
            name,
            labels: &info.labels,
            time: None,
        }
        .sample("", None, &format.float(1.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::PerSignal;
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
    use opentelemetry_proto::tonic::metrics::v1::{ExponentialHistogram, Gauge, Histogram, ResourceMetrics, Sum, Summary};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use std::sync::atomic::Ordering;

    const SECOND: u64 = 1_000_000_000;

    fn s(text: &str) -> Option<AnyValue> {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(text.into())),
        })
    }

    fn kv(key: &str, value: Option<AnyValue>) -> KeyValue {
        KeyValue {
            key: key.into(),
            value,
            ..Default::default()
        }
    }

    fn request(resource: Vec<KeyValue>, scope: Option<InstrumentationScope>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope,
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// Metrics of a resource without service attributes, and no scope: no job, instance or scope labels.
    fn bare(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        request(Vec::new(), None, metrics)
    }

    fn number(attributes: Vec<KeyValue>, start: u64, time: u64, value: f64) -> NumberDataPoint {
        NumberDataPoint {
            attributes,
            start_time_unix_nano: start,
            time_unix_nano: time,
            value: Some(number_data_point::Value::AsDouble(value)),
            ..Default::default()
        }
    }

    fn metric(name: &str, unit: &str, data: Data) -> Metric {
        Metric {
            name: name.into(),
            unit: unit.into(),
            data: Some(data),
            ..Default::default()
        }
    }

    fn gauge(name: &str, unit: &str, points: Vec<NumberDataPoint>) -> Metric {
        metric(name, unit, Data::Gauge(Gauge { data_points: points }))
    }

    fn sum(name: &str, temporality: AggregationTemporality, monotonic: bool, points: Vec<NumberDataPoint>) -> Metric {
        metric(
            name,
            "",
            Data::Sum(Sum {
                data_points: points,
                aggregation_temporality: temporality as i32,
                is_monotonic: monotonic,
            }),
        )
    }

    fn parsed(yaml: &str) -> (PrometheusExporterConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "exporters.prometheus");
        (config, errors)
    }

    fn settings(yaml: &str) -> PrometheusExporterConfig {
        let (config, errors) = parsed(yaml);
        assert_eq!(errors, Vec::<String>::new());
        config
    }

    fn errors(yaml: &str) -> Vec<String> {
        parsed(yaml).1
    }

    fn registry(yaml: &str) -> Registry {
        Registry::new(&settings(yaml))
    }

    fn stored(n: usize) -> Outcome {
        Outcome {
            stored: n,
            ..Default::default()
        }
    }

    // -----------------------------------------------------------------------------------------
    // What is served.

    #[test]
    fn a_cumulative_counter_is_served_with_help_type_total_job_instance_scope_and_target_info() {
        let mut registry = registry("endpoint: 127.0.0.1:0");
        let mut requests = sum(
            "http.requests",
            AggregationTemporality::Cumulative,
            true,
            vec![NumberDataPoint {
                attributes: vec![kv("http.method", s("GET"))],
                start_time_unix_nano: SECOND,
                time_unix_nano: 2 * SECOND,
                value: Some(number_data_point::Value::AsInt(7)),
                ..Default::default()
            }],
        );
        requests.unit = "{request}".into();
        requests.description = "Requests served.".into();
        let input = request(
            vec![
                kv("service.name", s("checkout")),
                kv("service.namespace", s("shop")),
                kv("service.instance.id", s("i-1")),
                kv("host.name", s("web-1")),
            ],
            Some(InstrumentationScope {
                name: "shop.http".into(),
                version: "1.2".into(),
                ..Default::default()
            }),
            vec![requests],
        );
        let now = Instant::now();
        assert_eq!(registry.accumulate(&input, now), stored(1));
        assert_eq!(
            registry.render(now, Format::Text),
            r##"# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{http_method="GET",instance="i-1",job="shop/checkout",otel_scope_name="shop.http",otel_scope_version="1.2"} 7
# HELP target_info Target metadata
# TYPE target_info gauge
target_info{host_name="web-1",instance="i-1",job="shop/checkout"} 1
"##
        );
    }

    #[test]
    fn a_gauge_keeps_its_latest_point_and_ignores_older_ones() {
        let mut registry = registry("endpoint: 127.0.0.1:0");
        let depth = |time: u64, value: f64| bare(vec![gauge("queue.depth", "{item}", vec![number(vec![], 0, time, value)])]);
        let now = Instant::now();
        assert_eq!(registry.accumulate(&depth(2 * SECOND, 5.0), now), stored(1));
        assert_eq!(registry.accumulate(&depth(3 * SECOND, 9.0), now), stored(1));
        assert_eq!(
            registry.accumulate(&depth(SECOND, 1.0), now),
            Outcome {
                dropped: 1,
                ..Default::default()
            },
            "an older point is dropped"
        );
        assert_eq!(registry.render(now, Format::Text), "# TYPE queue_depth gauge\nqueue_depth 9\n");
    }

    #[test]
    fn an_explicit_histogram_becomes_cumulative_buckets_sum_and_count() {
        let mut registry = registry("endpoint: 127.0.0.1:0");
        let mut durations = metric(
            "http.server.duration",
            "ms",
            Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: vec![kv("route", s("/cart"))],
                    time_unix_nano: 2 * SECOND,
                    count: 4,
                    sum: Some(42.5),
                    bucket_counts: vec![1, 2, 0, 1],
                    explicit_bounds: vec![5.0, 10.0, 25.0],
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }),
        );
        durations.description = "Request durations.".into();
        let now = Instant::now();
        assert_eq!(registry.accumulate(&bare(vec![durations]), now), stored(1));
        assert_eq!(
            registry.render(now, Format::Text),
            r##"# HELP http_server_duration_milliseconds Request durations.
# TYPE http_server_duration_milliseconds histogram
http_server_duration_milliseconds_bucket{route="/cart",le="5"} 1
http_server_duration_milliseconds_bucket{route="/cart",le="10"} 3
http_server_duration_milliseconds_bucket{route="/cart",le="25"} 3
http_server_duration_milliseconds_bucket{route="/cart",le="+Inf"} 4
http_server_duration_milliseconds_sum{route="/cart"} 42.5
http_server_duration_milliseconds_count{route="/cart"} 4
"##
        );
    }

    #[test]
    fn delta_histograms_add_up_bucket_by_bucket_when_each_starts_where_the_last_ended() {
        let mut registry = registry("endpoint: 127.0.0.1:0");
        let batch = |start: u64, time: u64, counts: Vec<u64>| {
            let count = counts.iter().sum();
            bare(vec![metric(
                "latency",
                "",
                Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        start_time_unix_nano: start,
                        time_unix_nano: time,
                        count,
                        sum: Some(1.0),
                        bucket_counts: counts,
                        explicit_bounds: vec![1.0],
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                }),
            )])
        };
        let now = Instant::now();
        registry.accumulate(&batch(SECOND, 2 * SECOND, vec![1, 1]), now);
        assert_eq!(registry.accumulate(&batch(2 * SECOND, 3 * SECOND, vec![2, 0]), now), stored(1));
        assert_eq!(
            registry.render(now, Format::Text),
            "# TYPE latency histogram\nlatency_bucket{le=\"1\"} 3\nlatency_bucket{le=\"+Inf\"} 4\nlatency_sum 2\nlatency_count 4\n"
        );
        let overlapping = registry.accumulate(&batch(2 * SECOND, 4 * SECOND, vec![5, 5]), now);
        assert_eq!(overlapping.dropped, 1, "a delta overlapping the kept one is dropped");
        assert_eq!(registry.accumulate(&batch(10 * SECOND, 11 * SECOND, vec![0, 1]), now), stored(1));
        assert!(
            registry.render(now, Format::Text).contains("latency_count 1\n"),
            "a delta starting after the kept one restarts the series"
        );
    }

    #[test]
    fn delta_sums_accumulate_into_a_cumulative_counter_and_restart_when_not_continued() {
        let mut registry = registry("endpoint: 127.0.0.1:0\nsend_timestamps: true");
        let orders = |start: u64, time: u64, value: f64| {
            bare(vec![sum(
                "orders",
                AggregationTemporality::Delta,
                true,
                vec![number(vec![kv("shop", s("eu"))], start, time, value)],
            )])
        };
        let now = Instant::now();
        assert_eq!(registry.accumulate(&orders(SECOND, 2 * SECOND, 3.0), now), stored(1));
        assert_eq!(registry.accumulate(&orders(2 * SECOND, 3 * SECOND, 4.0), now), stored(1));
        assert_eq!(
            registry.render(now, Format::Text),
            "# TYPE orders_total counter\norders_total{shop=\"eu\"} 7 3000\n",
            "3 + 4, stamped with the last point's time in milliseconds"
        );
        assert_eq!(registry.accumulate(&orders(5 * SECOND, 6 * SECOND, 2.0), now), stored(1));
        assert_eq!(
            registry.render(now, Format::Text),
            "# TYPE orders_total counter\norders_total{shop=\"eu\"} 2 6000\n",
            "a gap restarts the count"
        );
    }

    #[test]
    fn non_monotonic_deltas_and_sums_without_temporality_are_dropped_and_counted() {
        let mut registry = registry("endpoint: 127.0.0.1:0");
        let points = || {
            vec![
                number(vec![], SECOND, 2 * SECOND, 1.0),
                number(vec![kv("a", s("b"))], SECOND, 2 * SECOND, 1.0),
            ]
        };
        let input = bare(vec![
            sum("in.flight", AggregationTemporality::Delta, false, points()),
            sum("unknown", AggregationTemporality::Unspecified, true, points()),
            sum("connections", AggregationTemporality::Cumulative, false, points()),
        ]);
        assert_eq!(
            registry.accumulate(&input, Instant::now()),
            Outcome {
                stored: 2,
                dropped: 4,
                ..Default::default()
            }
        );
        assert_eq!(
            registry.render(Instant::now(), Format::Text),
            "# TYPE connections gauge\nconnections 1\nconnections{a=\"b\"} 1\n",
            "a non-monotonic cumulative sum is a gauge, without _total"
        );
    }

    #[test]
    fn a_summary_is_served_with_its_quantiles_sum_and_count() {
        let mut registry = registry("endpoint: 127.0.0.1:0");
        let latency = metric(
            "rpc.latency",
            "s",
            Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: SECOND,
                    count: 10,
                    sum: 2.5,
                    quantile_values: vec![
                        ValueAtQuantile {
                            quantile: 0.99,
                            value: 0.9,
                        },
                        ValueAtQuantile { quantile: 0.5, value: 0.2 },
                    ],
                    ..Default::default()
                }],
            }),
        );
        let now = Instant::now();
        registry.accumulate(&bare(vec![latency]), now);
        assert_eq!(
            registry.render(now, Format::Text),
            r##"# TYPE rpc_latency_seconds summary
rpc_latency_seconds{quantile="0.5"} 0.2
rpc_latency_seconds{quantile="0.99"} 0.9
rpc_latency_seconds_sum 2.5
rpc_latency_seconds_count 10
"##
        );
    }

    #[test]
    fn an_exponential_histogram_is_converted_to_classic_buckets_at_its_boundaries() {
        let mut registry = registry("endpoint: 127.0.0.1:0");
        let buckets = |offset: i32, counts: Vec<u64>| {
            Some(exponential_histogram_data_point::Buckets {
                offset,
                bucket_counts: counts,
            })
        };
        let latency = metric(
            "latency",
            "",
            Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![ExponentialHistogramDataPoint {
                    time_unix_nano: SECOND,
                    count: 5,
                    sum: Some(3.0),
                    scale: 0,
                    zero_count: 1,
                    positive: buckets(0, vec![1, 2]),
                    negative: buckets(0, vec![1]),
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }),
        );
        let now = Instant::now();
        assert_eq!(registry.accumulate(&bare(vec![latency]), now), stored(1));
        // Scale 0: base 2; negative bucket 0 is [-2, -1), positive 0 is (1, 2], 1 is (2, 4].
        assert_eq!(
            registry.render(now, Format::Text),
            r##"# TYPE latency histogram
latency_bucket{le="-1"} 1
latency_bucket{le="0"} 2
latency_bucket{le="2"} 3
latency_bucket{le="4"} 5
latency_bucket{le="+Inf"} 5
latency_sum 3
latency_count 5
"##
        );
    }

    #[test]
    fn exponential_deltas_merge_at_the_coarser_scale() {
        let mut kept = ExponentialValue {
            scale: 1,
            zero_count: 1,
            zero_threshold: 0.0,
            positive: ExponentialBuckets {
                offset: 0,
                counts: vec![1, 1, 1, 1],
            },
            negative: ExponentialBuckets::default(),
            count: 5,
            sum: 10.0,
        };
        kept.add_delta(ExponentialValue {
            scale: 0,
            zero_count: 0,
            zero_threshold: 0.0,
            positive: ExponentialBuckets {
                offset: 1,
                counts: vec![3],
            },
            negative: ExponentialBuckets::default(),
            count: 3,
            sum: 9.0,
        });
        assert_eq!(kept.scale, 0);
        assert_eq!(
            kept.positive,
            ExponentialBuckets {
                offset: 0,
                counts: vec![2, 5],
            },
            "scale-1 buckets 0..3 fold into scale-0 buckets 0 and 1"
        );
        assert_eq!((kept.count, kept.zero_count, kept.sum), (8, 1, 19.0));
    }

    #[test]
    fn a_point_without_recorded_value_removes_its_series() {
        let mut registry = registry("endpoint: 127.0.0.1:0");
        let now = Instant::now();
        registry.accumulate(&bare(vec![gauge("up", "", vec![number(vec![], 0, SECOND, 1.0)])]), now);
        let mut ended = number(vec![], 0, 2 * SECOND, 0.0);
        ended.flags = NO_RECORDED_VALUE;
        ended.value = None;
        assert_eq!(registry.accumulate(&bare(vec![gauge("up", "", vec![ended])]), now), stored(1));
        assert_eq!(registry.render(now, Format::Text), "");
    }

    #[test]
    fn a_name_keeps_the_type_it_was_first_served_with() {
        let mut registry = registry("endpoint: 127.0.0.1:0");
        let now = Instant::now();
        registry.accumulate(&bare(vec![gauge("jobs", "", vec![number(vec![], 0, SECOND, 3.0)])]), now);
        let as_summary = metric(
            "jobs",
            "",
            Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: 2 * SECOND,
                    count: 1,
                    sum: 1.0,
                    ..Default::default()
                }],
            }),
        );
        assert_eq!(
            registry.accumulate(&bare(vec![as_summary]), now),
            Outcome {
                dropped: 1,
                conflicts: 1,
                ..Default::default()
            }
        );
        assert_eq!(registry.render(now, Format::Text), "# TYPE jobs gauge\njobs 3\n");
    }

    #[test]
    fn namespace_and_const_labels_apply_to_every_series_but_not_to_target_info() {
        let mut registry =
            registry("endpoint: 127.0.0.1:0\nnamespace: shop\nconst_labels: { region: eu, \"another label\": spaced value }");
        let input = request(
            vec![kv("service.name", s("api")), kv("service.instance.id", s("a1"))],
            None,
            vec![gauge(
                "queue.depth",
                "{item}",
                vec![number(vec![kv("queue", s("orders"))], 0, SECOND, 1.0)],
            )],
        );
        let now = Instant::now();
        registry.accumulate(&input, now);
        assert_eq!(
            registry.render(now, Format::Text),
            r##"# TYPE shop_queue_depth gauge
shop_queue_depth{another_label="spaced value",instance="a1",job="api",queue="orders",region="eu"} 1
# HELP shop_target_info Target metadata
# TYPE shop_target_info gauge
shop_target_info{instance="a1",job="api"} 1
"##
        );
    }

    #[test]
    fn resource_to_telemetry_conversion_copies_resource_attributes_onto_every_series() {
        let mut registry = registry(
            "endpoint: 127.0.0.1:0\nresource_to_telemetry_conversion: { enabled: true, exclude_service_attributes: true }\nwithout_scope_info: true",
        );
        let input = request(
            vec![
                kv("service.name", s("api")),
                kv("k8s.pod.name", s("api-7")),
                kv("zone", s("from-resource")),
            ],
            Some(InstrumentationScope {
                name: "ignored".into(),
                ..Default::default()
            }),
            vec![gauge("up", "", vec![number(vec![kv("zone", s("from-point"))], 0, SECOND, 1.0)])],
        );
        let now = Instant::now();
        registry.accumulate(&input, now);
        assert_eq!(
            registry.render(now, Format::Text),
            "# TYPE up gauge\nup{job=\"api\",k8s_pod_name=\"api-7\",zone=\"from-point\"} 1\n",
            "the point's own attribute wins; no instance, so no target_info"
        );
    }

    #[test]
    fn series_not_updated_for_metric_expiration_are_no_longer_served() {
        let mut registry = registry("endpoint: 127.0.0.1:0\nmetric_expiration: 5m");
        let start = Instant::now();
        let minutes = |n: u64| start + Duration::from_secs(60 * n);
        registry.accumulate(&bare(vec![gauge("a", "", vec![number(vec![], 0, SECOND, 1.0)])]), start);
        registry.accumulate(&bare(vec![gauge("b", "", vec![number(vec![], 0, SECOND, 2.0)])]), minutes(4));
        assert_eq!(
            registry.render(minutes(4), Format::Text),
            "# TYPE a gauge\na 1\n# TYPE b gauge\nb 2\n"
        );
        assert_eq!(
            registry.render(minutes(6), Format::Text),
            "# TYPE b gauge\nb 2\n",
            "a was last updated 6 minutes ago"
        );
        assert_eq!(registry.render(minutes(10), Format::Text), "");
        assert!(registry.families.is_empty(), "families go with their last series");
    }

    #[test]
    fn beyond_the_series_limit_new_series_are_dropped_and_counted_while_old_ones_update() {
        let mut registry = registry("endpoint: 127.0.0.1:0\nmetric_expiration: 1m");
        registry.max_series = 2;
        fn points(time: u64, ids: &[&str]) -> ExportMetricsServiceRequest {
            let points = ids.iter().map(|id| number(vec![kv("id", s(id))], 0, time, 1.0)).collect();
            bare(vec![gauge("depth", "", points)])
        }
        let now = Instant::now();
        assert_eq!(
            registry.accumulate(&points(SECOND, &["1", "2", "3"]), now),
            Outcome {
                stored: 2,
                dropped: 1,
                refused_series: 1,
                conflicts: 0,
            }
        );
        assert_eq!(registry.refused_series, 1);
        assert_eq!(
            registry.accumulate(&points(2 * SECOND, &["1"]), now),
            stored(1),
            "a kept series still updates"
        );
        let later = now + Duration::from_secs(120);
        assert_eq!(
            registry.accumulate(&points(3 * SECOND, &["3"]), later),
            stored(1),
            "expired series make room"
        );
    }

    #[test]
    fn open_metrics_names_counter_families_without_total_and_ends_with_eof() {
        let mut registry = registry("endpoint: 127.0.0.1:0\nenable_open_metrics: true");
        let mut orders = sum(
            "orders",
            AggregationTemporality::Cumulative,
            true,
            vec![number(vec![], 0, SECOND, 7.0)],
        );
        orders.description = "Orders \"placed\".".into();
        let now = Instant::now();
        registry.accumulate(&bare(vec![orders]), now);
        assert_eq!(
            registry.render(now, Format::OpenMetrics),
            "# HELP orders Orders \\\"placed\\\".\n# TYPE orders counter\norders_total 7.0\n# EOF\n"
        );
        assert_eq!(
            registry.render(now, Format::Text),
            "# HELP orders_total Orders \"placed\".\n# TYPE orders_total counter\norders_total 7\n"
        );
    }

    #[test]
    fn open_metrics_is_served_only_when_enabled_and_asked_for() {
        let mut asks = HeaderMap::new();
        asks.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
        );
        assert_eq!(Format::negotiate(true, &asks), Format::OpenMetrics);
        assert_eq!(Format::negotiate(false, &asks), Format::Text);
        assert_eq!(Format::negotiate(true, &HeaderMap::new()), Format::Text);
    }

    // -----------------------------------------------------------------------------------------
    // Names and values.

    #[test]
    fn names_are_normalized_with_unit_suffixes_total_ratio_and_underscores() {
        use super::NameKind::{Gauge as G, MonotonicCounter as C, Other as O};
        let cases: [(&str, &str, NameKind, &str); 16] = [
            ("http.server.duration", "s", O, "http_server_duration_seconds"),
            ("process.cpu.time", "s", C, "process_cpu_time_seconds_total"),
            ("requests_total", "1", C, "requests_total"),
            ("total.requests", "", C, "requests_total"),
            ("memory.usage", "By", G, "memory_usage_bytes"),
            ("cpu.utilization", "1", G, "cpu_utilization_ratio"),
            ("queue.depth", "{item}", G, "queue_depth"),
            ("network.io", "By/s", C, "network_io_bytes_per_second_total"),
            ("packets", "{packet}/s", C, "packets_per_second_total"),
            ("duration_seconds", "s", O, "duration_seconds"),
            ("2xx.responses", "", C, "_2xx_responses_total"),
            ("disk.io", "MiBy", G, "disk_io_mebibytes"),
            ("room.temperature", "Cel", G, "room_temperature_celsius"),
            ("héllo wörld", "", G, "h_llo_w_rld"),
            ("ratio.of.x", "%", G, "ratio_of_x_percent"),
            ("a__b..c", "", G, "a_b_c"),
        ];
        for (name, unit, kind, expected) in cases {
            assert_eq!(
                metric_name(name, unit, kind, "", true).as_deref(),
                Some(expected),
                "{name} [{unit}]"
            );
        }
        assert_eq!(metric_name("orders", "", C, "shop", true).as_deref(), Some("shop_orders_total"));
        assert_eq!(metric_name("...", "", G, "", true), None, "nothing usable left");
        // add_metric_suffixes: false only escapes.
        assert_eq!(
            metric_name("http.server.duration", "s", O, "", false).as_deref(),
            Some("http_server_duration")
        );
        assert_eq!(metric_name("orders", "", C, "", false).as_deref(), Some("orders"));
        assert_eq!(metric_name("a__b", "", G, "", false).as_deref(), Some("a__b"));
        assert_eq!(metric_name("2xx", "", G, "", false).as_deref(), Some("_2xx"));
        assert_eq!(metric_name("up", "", G, "shop", false).as_deref(), Some("shop_up"));
    }

    #[test]
    fn label_names_replace_invalid_characters_and_fix_their_first_character() {
        assert_eq!(label_name("http.method").as_deref(), Some("http_method"));
        assert_eq!(label_name("123abc").as_deref(), Some("key_123abc"));
        assert_eq!(label_name("_private").as_deref(), Some("key_private"));
        assert_eq!(label_name("__reserved").as_deref(), Some("__reserved"));
        assert_eq!(label_name("ünïcode").as_deref(), Some("key_n_code"));
        assert_eq!(label_name(""), None);
        assert_eq!(label_name("..."), None);
    }

    #[test]
    fn attributes_sharing_a_label_name_join_their_values_with_semicolons() {
        let mut registry = registry("endpoint: 127.0.0.1:0");
        let input = bare(vec![gauge(
            "up",
            "",
            vec![number(vec![kv("a.b", s("1")), kv("a_b", s("2"))], 0, SECOND, 1.0)],
        )]);
        let now = Instant::now();
        registry.accumulate(&input, now);
        assert_eq!(registry.render(now, Format::Text), "# TYPE up gauge\nup{a_b=\"1;2\"} 1\n");
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut registry = registry("endpoint: 127.0.0.1:0");
        let mut up = gauge("up", "", vec![number(vec![kv("path", s("C:\\tmp \"x\"\nnext"))], 0, SECOND, 1.0)]);
        up.description = "line one\nline \\two".into();
        let now = Instant::now();
        registry.accumulate(&bare(vec![up]), now);
        assert_eq!(
            registry.render(now, Format::Text),
            "# HELP up line one\\nline \\\\two\n# TYPE up gauge\nup{path=\"C:\\\\tmp \\\"x\\\"\\nnext\"} 1\n"
        );
    }

    #[test]
    fn sample_values_are_formatted_as_client_golang_writes_them() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (42.5, "42.5"),
            (0.005, "0.005"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1277952.0, "1.277952e+06"),
            (-2.5e-7, "-2.5e-07"),
            (1e100, "1e+100"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (value, expected) in cases {
            assert_eq!(go_float(value), expected, "{value}");
        }
        assert_eq!(Format::OpenMetrics.float(1.0), "1.0");
        assert_eq!(Format::OpenMetrics.float(1e6), "1e+06");
        assert_eq!(Format::OpenMetrics.timestamp(1_700_000_000_123_456_789), "1700000000.123");
        assert_eq!(Format::Text.timestamp(1_700_000_000_123_456_789), "1700000000123");
    }

    #[test]
    fn attribute_values_become_label_text_as_pcommon_writes_them() {
        use any_value::Value as V;
        let text = |value: V| value_text(Some(&AnyValue { value: Some(value) }));
        assert_eq!(text(V::IntValue(-3)), "-3");
        assert_eq!(text(V::BoolValue(true)), "true");
        assert_eq!(text(V::DoubleValue(1.5)), "1.5");
        assert_eq!(text(V::DoubleValue(1e21)), "1e+21");
        assert_eq!(text(V::BytesValue(vec![1, 2, 3])), "AQID");
        assert_eq!(
            text(V::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                values: vec![AnyValue {
                    value: Some(V::StringValue("a".into())),
                }],
            })),
            "[\"a\"]"
        );
    }

    // -----------------------------------------------------------------------------------------
    // Settings.

    #[test]
    fn an_endpoint_alone_gets_the_collectors_defaults() {
        let config = settings("endpoint: 0.0.0.0:8889");
        assert_eq!(
            config,
            PrometheusExporterConfig {
                endpoint: Some("0.0.0.0:8889".parse().unwrap()),
                ..Default::default()
            }
        );
        assert_eq!(config.metric_expiration, Duration::from_secs(300));
        assert!(config.add_metric_suffixes);
        assert!(!config.send_timestamps && !config.enable_open_metrics && !config.resource_to_telemetry);
        let config = settings(
            "endpoint: localhost:8889\nnamespace: shop\nsend_timestamps: true\nmetric_expiration: 180m\nenable_open_metrics: true\nadd_metric_suffixes: false\ntls: { cert_file: cert.pem, key_file: key.pem }",
        );
        assert_eq!(config.endpoint, Some("127.0.0.1:8889".parse().unwrap()));
        assert_eq!(config.metric_expiration, Duration::from_secs(180 * 60));
        assert!(config.send_timestamps && config.enable_open_metrics && !config.add_metric_suffixes);
        assert_eq!(
            config.tls,
            Some(TlsSettings {
                cert_file: "cert.pem".into(),
                key_file: "key.pem".into(),
                client_ca_file: None,
            })
        );
    }

    #[test]
    fn translation_strategy_takes_precedence_over_add_metric_suffixes() {
        let without = "endpoint: 127.0.0.1:8889\nadd_metric_suffixes: true\ntranslation_strategy: UnderscoreEscapingWithoutSuffixes";
        assert!(!settings(without).add_metric_suffixes);
        let with = "endpoint: 127.0.0.1:8889\nadd_metric_suffixes: false\ntranslation_strategy: UnderscoreEscapingWithSuffixes";
        assert!(settings(with).add_metric_suffixes);
    }

    #[test]
    fn config_errors_name_their_paths_and_say_what_to_do() {
        fn has(errors: &[String], prefix: &str) -> bool {
            errors.iter().any(|e| e.starts_with(prefix))
        }
        let e = errors("namespace: shop");
        assert!(has(&e, "exporters.prometheus: endpoint is required"), "{e:?}");
        let e = errors("endpoint: 127.0.0.1:8889\ntls: { ca_file: ca.pem }");
        assert!(has(&e, "exporters.prometheus.tls.ca_file: is not supported"), "{e:?}");
        assert!(e.iter().any(|e| e.contains("client_ca_file")), "{e:?}");
        let e = errors("endpoint: 127.0.0.1:8889\ntls: { cert_file: cert.pem }");
        assert!(
            has(&e, "exporters.prometheus.tls: cert_file and key_file are both required"),
            "{e:?}"
        );
        let e = errors("endpoint: 127.0.0.1:8889\ntranslation_strategy: NoTranslation");
        assert!(
            has(&e, "exporters.prometheus.translation_strategy: NoTranslation is not supported"),
            "{e:?}"
        );
        let e = errors("endpoint: 127.0.0.1:8889\nsending_queue: { enabled: true }");
        assert!(has(&e, "exporters.prometheus.sending_queue: is not supported"), "{e:?}");
        let e = errors("endpoint: 127.0.0.1:8889\nmetric_expiration: 0s");
        assert!(has(&e, "exporters.prometheus.metric_expiration: must be longer than 0s"), "{e:?}");
        let e = errors("endpoint: 127.0.0.1:8889\nconst_labels: { '...': x }");
        assert!(has(&e, "exporters.prometheus.const_labels....: is not usable"), "{e:?}");
        let e = errors("endpoint: not-an-address\nmetrics_path: /other");
        assert!(has(&e, "exporters.prometheus.endpoint: expected host:port"), "{e:?}");
        assert!(has(&e, "exporters.prometheus.metrics_path: unknown key"), "{e:?}");
    }

    #[test]
    fn the_testdata_example_parses() {
        let value: Value = serde_yaml_ng::from_str(include_str!("testdata/prometheus.yaml")).unwrap();
        let mut errors = Vec::new();
        parse(
            &mut Parser::collecting(&mut errors),
            value.get("prometheus").unwrap(),
            "exporters.prometheus",
        );
        assert_eq!(errors, Vec::<String>::new());
    }

    // -----------------------------------------------------------------------------------------
    // The endpoint.

    fn id() -> ComponentId {
        ComponentId::parse("prometheus").unwrap()
    }

    #[tokio::test]
    async fn the_endpoint_serves_scrapes_over_http_and_closes_at_shutdown() {
        let config = settings("endpoint: 127.0.0.1:0\nnamespace: shop");
        let counters = PerSignal::detached("exporter/prometheus");
        let exporter = PrometheusExporter::start(&id(), &config, counters.metrics.clone()).unwrap();
        let address = exporter.address();
        assert_ne!(address.port(), 0, "the bound port is reported");
        let input = bare(vec![
            gauge("queue.depth", "{item}", vec![number(vec![], 0, SECOND, 3.0)]),
            sum(
                "in.flight",
                AggregationTemporality::Delta,
                false,
                vec![number(vec![], 0, SECOND, 1.0)],
            ),
        ]);
        Consumer::consume(&exporter, Envelope::unacked(input)).await.unwrap();
        assert_eq!(counters.metrics.sent.load(Ordering::Relaxed), 1);
        assert_eq!(counters.metrics.dropped.load(Ordering::Relaxed), 1);

        let response = reqwest::get(format!("http://{address}/metrics")).await.unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
        let body = response.bytes().await.unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "# TYPE shop_queue_depth gauge\nshop_queue_depth 3\n"
        );
        let elsewhere = reqwest::get(format!("http://{address}/")).await.unwrap();
        assert_eq!(elsewhere.status(), reqwest::StatusCode::NOT_FOUND);
        drop(elsewhere);

        Consumer::<ExportMetricsServiceRequest>::shutdown(&exporter).await;
        assert!(
            tokio::net::TcpStream::connect(address).await.is_err(),
            "nothing listens after shutdown"
        );
    }

    #[tokio::test]
    async fn a_taken_port_fails_start_up_naming_the_setting() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let config = settings(&format!("endpoint: {}", taken.local_addr().unwrap()));
        let Err(error) = PrometheusExporter::start(&id(), &config, PerSignal::detached("exporter/prometheus").metrics) else {
            panic!("the exporter started on a port already taken");
        };
        assert!(error.to_string().contains("exporters.prometheus.endpoint"), "{error:#}");
    }
}
