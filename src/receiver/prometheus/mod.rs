//! The prometheus receiver: the Collector's contrib `prometheusreceiver`. It scrapes Prometheus
//! text-format endpoints, each target on its job's interval and all at once, and sends every scrape
//! through the metrics pipelines it feeds as one OTLP export.
//!
//! ```yaml
//! prometheus:
//!   trim_metric_suffixes: false     # true: drop `_total` (counters) and the `# UNIT` suffix from names
//!   use_start_time_metric: false    # true: cumulative points start at process_start_time_seconds
//!   start_time_metric_regex: '^(.+_)*process_start_time_seconds$'
//!   config:                         # a Prometheus config
//!     global: { scrape_interval: 1m, scrape_timeout: 10s }
//!     scrape_configs:
//!       - job_name: app
//!         scrape_interval: 15s
//!         metrics_path: /metrics
//!         params: { 'collect[]': [cpu] }
//!         honor_labels: false
//!         static_configs: [{ targets: ['127.0.0.1:9100'], labels: { env: prod } }]
//!         relabel_configs: [{ source_labels: [__address__], regex: '(.*):9100', target_label: host, replacement: '$1' }]
//!         metric_relabel_configs: [{ source_labels: [__name__], regex: 'go_.*', action: drop }]
//! ```
//! As in the Collector, each target's metrics are one `ResourceMetrics` whose resource says where
//! they came from (`service.name` = job, `service.instance.id` = instance, `server.address`,
//! `server.port`, `url.scheme`); labels become point attributes (`job` and `instance` go to the
//! resource). Counters are cumulative monotonic sums starting when the series was first seen (a
//! value that goes down is a reset and starts again); gauges and untyped samples are gauges;
//! histograms are explicit-bucket histograms (bucket counts de-cumulated from `le`); summaries are
//! summaries. Every scrape also reports `up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
//! `scrape_samples_post_metric_relabeling` and `scrape_series_added`; a target that cannot be scraped
//! reports `up` 0 and is logged (once a minute at most while it keeps failing).
//!
//! Targets are resolved once, at config load: `static_configs` through `relabel_configs`.
//! In relabel replacements, write `$1`; `${1}` is the config's environment syntax (`$${1}` escapes it).
//! Not supported yet: service discovery (`*_sd_configs`, refused by name), https and auth settings,
//! `target_allocator`, `api_server`, the `hashmod`, `lowercase`, `uppercase`, `keepequal` and
//! `dropequal` actions, native histograms and exemplars.

mod parse;

pub use parse::{Family, FamilyType, ParseError, Sample};

use crate::config::{ComponentId, Parser, Settings};
use crate::net::Stop;
use crate::pdata::now_ns;
use crate::pdata::SignalData;
use crate::pipeline::SignalConsumers;
use crate::receiver::{ingest, Endpoint, Intake, Receiver, ReceiverFactory, ReceiverHost};
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, summary_data_point::ValueAtQuantile, AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use regex::Regex;
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// Prometheus' `global.scrape_interval` default.
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);
/// Prometheus' `global.scrape_timeout` default.
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// The Collector's `start_time_metric_regex` default.
const DEFAULT_START_TIME_METRIC: &str = "^(.+_)*process_start_time_seconds$";
/// The scope of every metric, the Collector's receiver package.
const SCOPE_NAME: &str = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver";
/// The largest page read from a target; a larger one fails the scrape.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// How long a scrape already handed to the pipeline may take to be committed once stopping.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// A target that keeps failing is logged this often at most.
const FAILURE_LOG_EVERY: Duration = Duration::from_secs(60);
/// A series not seen for this long forgets its start time (it starts again when it comes back).
const SERIES_TTL_NS: u64 = 15 * 60 * 1_000_000_000;
/// What Prometheus asks targets for: the text format.
const ACCEPT: &str = "text/plain;version=0.0.4;q=1,*/*;q=0.1";
/// Prometheus' service discoveries, refused by name.
const SERVICE_DISCOVERY: &[&str] = &[
    "kubernetes_sd_configs",
    "file_sd_configs",
    "consul_sd_configs",
    "dns_sd_configs",
    "ec2_sd_configs",
    "azure_sd_configs",
    "gce_sd_configs",
    "http_sd_configs",
    "docker_sd_configs",
    "dockerswarm_sd_configs",
    "digitalocean_sd_configs",
    "eureka_sd_configs",
    "hetzner_sd_configs",
    "linode_sd_configs",
    "marathon_sd_configs",
    "nerve_sd_configs",
    "nomad_sd_configs",
    "openstack_sd_configs",
    "ovhcloud_sd_configs",
    "puppetdb_sd_configs",
    "scaleway_sd_configs",
    "serverset_sd_configs",
    "triton_sd_configs",
    "uyuni_sd_configs",
    "vultr_sd_configs",
    "ionos_sd_configs",
    "lightsail_sd_configs",
    "kuma_sd_configs",
];
/// Settings of a scrape config otelbox does not act on yet: refused rather than ignored.
const SCRAPE_NOT_YET: &[&str] = &[
    "basic_auth",
    "authorization",
    "oauth2",
    "bearer_token",
    "bearer_token_file",
    "tls_config",
    "proxy_url",
    "sample_limit",
    "label_limit",
    "target_limit",
    "body_size_limit",
    "scrape_protocols",
    "scrape_classic_histograms",
    "native_histogram_bucket_limit",
    "enable_http2",
    "follow_redirects",
    "scrape_config_files",
];

/// A label set, ordered by name.
pub type Labels = BTreeMap<String, String>;

/// A `prometheus` receiver's settings.
#[derive(Clone, Debug)]
pub struct PrometheusConfig {
    pub scrape_configs: Vec<ScrapeConfig>,
    /// `trim_metric_suffixes`: names lose `_total` (counters) and their unit suffix.
    pub trim_metric_suffixes: bool,
    /// `use_start_time_metric`: cumulative points start at the value of the start time metric of
    /// the same scrape (seconds since the epoch), when the page has one.
    pub use_start_time_metric: bool,
    /// `start_time_metric_regex`: which metric that is.
    pub start_time_metric: Regex,
    /// `report_extra_scrape_metrics`: also `scrape_timeout_seconds` and `scrape_body_size_bytes`.
    pub report_extra_scrape_metrics: bool,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig {
            scrape_configs: Vec::new(),
            trim_metric_suffixes: false,
            use_start_time_metric: false,
            start_time_metric: Regex::new(DEFAULT_START_TIME_METRIC).expect("a valid regex"),
            report_extra_scrape_metrics: false,
        }
    }
}

/// One `scrape_configs` entry, its targets resolved.
#[derive(Clone, Debug)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub scrape_interval: Duration,
    pub scrape_timeout: Duration,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub metric_relabel_configs: Vec<RelabelRule>,
    pub targets: Vec<Target>,
}

/// A target after relabeling: where to scrape and the labels its samples get.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub url: String,
    pub scheme: String,
    /// `job`, `instance` and the other labels that do not start with `__`.
    pub labels: Labels,
}

impl Target {
    pub fn job(&self) -> &str {
        self.labels.get("job").map_or("", String::as_str)
    }
    pub fn instance(&self) -> &str {
        self.labels.get("instance").map_or("", String::as_str)
    }
}

/// A relabel action otelbox has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Replace,
    Keep,
    Drop,
    LabelDrop,
    LabelKeep,
    LabelMap,
}

/// One `relabel_configs` / `metric_relabel_configs` entry, with Prometheus' defaults.
#[derive(Clone, Debug)]
pub struct RelabelRule {
    pub source_labels: Vec<String>,
    pub separator: String,
    /// Anchored at both ends, as Prometheus does.
    pub regex: Regex,
    pub target_label: String,
    pub replacement: String,
    pub action: Action,
}

/// Applies the rules in order; `false` when one drops the label set.
pub fn relabel(labels: &mut Labels, rules: &[RelabelRule]) -> bool {
    for rule in rules {
        let joined = rule
            .source_labels
            .iter()
            .map(|name| labels.get(name).map_or("", String::as_str))
            .collect::<Vec<&str>>()
            .join(&rule.separator);
        match rule.action {
            Action::Keep => {
                if !rule.regex.is_match(&joined) {
                    return false;
                }
            }
            Action::Drop => {
                if rule.regex.is_match(&joined) {
                    return false;
                }
            }
            Action::Replace => {
                let Some(captures) = rule.regex.captures(&joined) else {
                    continue;
                };
                let mut target = String::new();
                captures.expand(&rule.target_label, &mut target);
                let mut value = String::new();
                captures.expand(&rule.replacement, &mut value);
                if !parse::is_label_name(&target) {
                    continue;
                }
                if value.is_empty() {
                    labels.remove(&target);
                } else {
                    labels.insert(target, value);
                }
            }
            Action::LabelDrop => labels.retain(|name, _| !rule.regex.is_match(name)),
            Action::LabelKeep => labels.retain(|name, _| rule.regex.is_match(name)),
            Action::LabelMap => {
                let mapped: Vec<(String, String)> = labels
                    .iter()
                    .filter_map(|(name, value)| {
                        let captures = rule.regex.captures(name)?;
                        let mut target = String::new();
                        captures.expand(&rule.replacement, &mut target);
                        Some((target, value.clone()))
                    })
                    .collect();
                labels.extend(mapped);
            }
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Config

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> PrometheusConfig {
    let mut config = PrometheusConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(
        body,
        &[
            "config",
            "trim_metric_suffixes",
            "use_start_time_metric",
            "start_time_metric_regex",
            "report_extra_scrape_metrics",
            "target_allocator",
            "api_server",
        ],
        path,
    );
    for key in ["target_allocator", "api_server"] {
        if body.get(key).is_some() {
            p.error(&format!("{path}.{key}"), "is not supported by otelbox's prometheus receiver yet");
        }
    }
    let flag = |p: &mut Parser, key: &str| body.get(key).and_then(|v| p.boolean(v, &format!("{path}.{key}"))).unwrap_or(false);
    config.trim_metric_suffixes = flag(p, "trim_metric_suffixes");
    config.use_start_time_metric = flag(p, "use_start_time_metric");
    config.report_extra_scrape_metrics = flag(p, "report_extra_scrape_metrics");
    if let Some(regex) = body
        .get("start_time_metric_regex")
        .and_then(|v| p.regex(v, &format!("{path}.start_time_metric_regex")))
    {
        config.start_time_metric = regex;
    }
    let config_at = format!("{path}.config");
    let Some(prometheus) = body.get("config") else {
        p.error(path, "config is required: a Prometheus config with scrape_configs");
        return config;
    };
    let Some(prometheus) = p.mapping(Some(prometheus), &config_at) else {
        return config;
    };
    p.only_keys(
        prometheus,
        &[
            "global",
            "scrape_configs",
            "scrape_config_files",
            "rule_files",
            "alerting",
            "remote_write",
            "remote_read",
        ],
        &config_at,
    );
    for key in ["rule_files", "alerting", "remote_write", "remote_read", "scrape_config_files"] {
        if prometheus.get(key).is_some() {
            p.error(
                &format!("{config_at}.{key}"),
                "is not supported by the prometheus receiver (as in the Collector); remove it",
            );
        }
    }
    let global_at = format!("{config_at}.global");
    let (mut interval, mut timeout) = (DEFAULT_SCRAPE_INTERVAL, DEFAULT_SCRAPE_TIMEOUT);
    if let Some(global) = p.mapping(prometheus.get("global"), &global_at) {
        p.only_keys(
            global,
            &["scrape_interval", "scrape_timeout", "evaluation_interval", "external_labels"],
            &global_at,
        );
        if let Some(d) = global
            .get("scrape_interval")
            .and_then(|v| prom_duration(p, v, &format!("{global_at}.scrape_interval")))
        {
            interval = d;
        }
        if let Some(d) = global
            .get("scrape_timeout")
            .and_then(|v| prom_duration(p, v, &format!("{global_at}.scrape_timeout")))
        {
            timeout = d;
        }
        if let Some(v) = global.get("evaluation_interval") {
            prom_duration(p, v, &format!("{global_at}.evaluation_interval"));
        }
        if timeout > interval {
            p.error(&global_at, "scrape_timeout is greater than scrape_interval");
        }
    }
    let list_at = format!("{config_at}.scrape_configs");
    for (at, entry) in p.list(prometheus.get("scrape_configs"), &list_at) {
        if let Some(job) = parse_scrape_config(p, entry, &at, interval, timeout) {
            if config.scrape_configs.iter().any(|j| j.job_name == job.job_name) {
                p.error(&format!("{at}.job_name"), format!("the job name '{}' is used twice", job.job_name));
            }
            config.scrape_configs.push(job);
        }
    }
    config
}

fn parse_scrape_config(
    p: &mut Parser,
    value: &Value,
    at: &str,
    global_interval: Duration,
    global_timeout: Duration,
) -> Option<ScrapeConfig> {
    let body = p.mapping(Some(value), at)?;
    let mut known = vec![
        "job_name",
        "scrape_interval",
        "scrape_timeout",
        "metrics_path",
        "scheme",
        "honor_labels",
        "honor_timestamps",
        "params",
        "static_configs",
        "relabel_configs",
        "metric_relabel_configs",
    ];
    known.extend(SERVICE_DISCOVERY);
    known.extend(SCRAPE_NOT_YET);
    p.only_keys(body, &known, at);
    for key in SERVICE_DISCOVERY {
        if body.get(*key).is_some() {
            p.error(
                &format!("{at}.{key}"),
                "service discovery is not supported by otelbox's prometheus receiver yet; list the targets in static_configs",
            );
        }
    }
    for key in SCRAPE_NOT_YET {
        if body.get(*key).is_some() {
            p.error(&format!("{at}.{key}"), "is not supported by otelbox's prometheus receiver yet");
        }
    }
    let job_name = match body.get("job_name").and_then(|v| p.string(v, &format!("{at}.job_name"))) {
        Some(name) if !name.is_empty() => name,
        Some(_) => {
            p.error(&format!("{at}.job_name"), "must not be empty");
            return None;
        }
        None => {
            if body.get("job_name").is_none() {
                p.error(at, "job_name is required");
            }
            return None;
        }
    };
    let scrape_interval = body
        .get("scrape_interval")
        .and_then(|v| prom_duration(p, v, &format!("{at}.scrape_interval")))
        .unwrap_or(global_interval);
    if scrape_interval.is_zero() {
        p.error(&format!("{at}.scrape_interval"), "must be greater than 0, like 15s or 1m");
    }
    // Prometheus: without its own timeout, a job takes the global one, cut to its interval.
    let scrape_timeout = match body.get("scrape_timeout") {
        Some(v) => prom_duration(p, v, &format!("{at}.scrape_timeout")).unwrap_or(global_timeout),
        None => global_timeout.min(scrape_interval),
    };
    if scrape_timeout > scrape_interval {
        p.error(
            &format!("{at}.scrape_timeout"),
            format!("is greater than the scrape interval of the job '{job_name}'"),
        );
    }
    let metrics_path = body
        .get("metrics_path")
        .and_then(|v| p.string(v, &format!("{at}.metrics_path")))
        .unwrap_or_else(|| "/metrics".to_string());
    let scheme = body
        .get("scheme")
        .and_then(|v| p.string(v, &format!("{at}.scheme")))
        .unwrap_or_else(|| "http".to_string());
    match scheme.as_str() {
        "http" => {}
        "https" => p.error(
            &format!("{at}.scheme"),
            "https targets are not supported by otelbox's prometheus receiver yet; scrape over http",
        ),
        other => p.error(&format!("{at}.scheme"), format!("expected http, got '{other}'")),
    }
    let flag =
        |p: &mut Parser, key: &str, default: bool| body.get(key).and_then(|v| p.boolean(v, &format!("{at}.{key}"))).unwrap_or(default);
    let honor_labels = flag(p, "honor_labels", false);
    let honor_timestamps = flag(p, "honor_timestamps", true);
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for (name, values) in p.entries(body.get("params"), &format!("{at}.params")) {
        let values = p.string_list(Some(values), &format!("{at}.params.{name}"));
        params.push((name, values));
    }
    let relabel_configs = parse_relabel_rules(p, body.get("relabel_configs"), &format!("{at}.relabel_configs"));
    let metric_relabel_configs = parse_relabel_rules(p, body.get("metric_relabel_configs"), &format!("{at}.metric_relabel_configs"));

    let mut targets = Vec::new();
    let static_at = format!("{at}.static_configs");
    for (group_at, group) in p.list(body.get("static_configs"), &static_at) {
        let Some(group) = p.mapping(Some(group), &group_at) else {
            continue;
        };
        p.only_keys(group, &["targets", "labels"], &group_at);
        let mut group_labels = Labels::new();
        for (name, value) in p.entries(group.get("labels"), &format!("{group_at}.labels")) {
            let label_at = format!("{group_at}.labels.{name}");
            if !parse::is_label_name(&name) {
                p.error(&label_at, "not a valid label name");
            }
            if let Some(value) = p.string(value, &label_at) {
                group_labels.insert(name, value);
            }
        }
        let targets_at = format!("{group_at}.targets");
        for (i, address) in p.string_list(group.get("targets"), &targets_at).into_iter().enumerate() {
            let target_at = format!("{targets_at}[{i}]");
            if address.contains('/') || address.is_empty() {
                p.error(
                    &target_at,
                    format!("expected host:port, got '{address}' (the scheme and path are set by scheme and metrics_path)"),
                );
                continue;
            }
            let mut labels = group_labels.clone();
            labels.insert("__address__".into(), address);
            let defaults = [
                ("job", job_name.clone()),
                ("__scheme__", scheme.clone()),
                ("__metrics_path__", metrics_path.clone()),
                ("__scrape_interval__", format_duration(scrape_interval)),
                ("__scrape_timeout__", format_duration(scrape_timeout)),
            ];
            for (name, value) in defaults {
                labels.entry(name.to_string()).or_insert(value);
            }
            for (name, values) in &params {
                if let Some(first) = values.first() {
                    labels.entry(format!("__param_{name}")).or_insert_with(|| first.clone());
                }
            }
            match resolve_target(labels, &relabel_configs, &params) {
                Ok(Some(target)) => targets.push(target),
                Ok(None) => {}
                Err(message) => p.error(&target_at, message),
            }
        }
    }
    Some(ScrapeConfig {
        job_name,
        scrape_interval,
        scrape_timeout,
        honor_labels,
        honor_timestamps,
        metric_relabel_configs,
        targets,
    })
}

/// A target's labels through `relabel_configs`, then its URL and final labels as Prometheus makes
/// them; `None` when relabeling drops it.
fn resolve_target(mut labels: Labels, rules: &[RelabelRule], params: &[(String, Vec<String>)]) -> Result<Option<Target>, String> {
    if !relabel(&mut labels, rules) {
        return Ok(None);
    }
    let address = match labels.get("__address__") {
        Some(address) if !address.is_empty() => address.clone(),
        _ => return Err("relabeling left the target without an __address__".into()),
    };
    let scheme = labels.get("__scheme__").cloned().unwrap_or_else(|| "http".into());
    if scheme != "http" {
        return Err(format!(
            "the scheme '{scheme}' is not supported by otelbox's prometheus receiver yet; scrape over http"
        ));
    }
    let path = labels.get("__metrics_path__").cloned().unwrap_or_else(|| "/metrics".into());
    let mut url = reqwest::Url::parse(&format!("{scheme}://{address}"))
        .map_err(|e| format!("'{address}' does not make a valid URL ({e}); expected host:port"))?;
    url.set_path(&path);
    {
        let mut query = url.query_pairs_mut();
        for (name, values) in params {
            let override_value = labels.get(&format!("__param_{name}"));
            for (i, value) in values.iter().enumerate() {
                let value = if i == 0 { override_value.unwrap_or(value) } else { value };
                query.append_pair(name, value);
            }
        }
        for (name, value) in &labels {
            if let Some(param) = name.strip_prefix("__param_") {
                if !params.iter().any(|(n, _)| n == param) {
                    query.append_pair(param, value);
                }
            }
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    labels.entry("instance".into()).or_insert(address);
    labels.retain(|name, _| !name.starts_with("__"));
    Ok(Some(Target {
        url: url.to_string(),
        scheme,
        labels,
    }))
}

fn parse_relabel_rules(p: &mut Parser, value: Option<&Value>, at: &str) -> Vec<RelabelRule> {
    let mut rules = Vec::new();
    for (rule_at, entry) in p.list(value, at) {
        let Some(body) = p.mapping(Some(entry), &rule_at) else {
            continue;
        };
        p.only_keys(
            body,
            &[
                "source_labels",
                "separator",
                "regex",
                "target_label",
                "replacement",
                "action",
                "modulus",
            ],
            &rule_at,
        );
        let source_labels = p.string_list(body.get("source_labels"), &format!("{rule_at}.source_labels"));
        let text = |p: &mut Parser, key: &str, default: &str| {
            body.get(key)
                .and_then(|v| p.string(v, &format!("{rule_at}.{key}")))
                .unwrap_or_else(|| default.to_string())
        };
        let separator = text(p, "separator", ";");
        let target_label = text(p, "target_label", "");
        let replacement = text(p, "replacement", "$1");
        let action_text = text(p, "action", "replace");
        let pattern = text(p, "regex", "(.*)");
        let action = match action_text.to_ascii_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "labelmap" => Action::LabelMap,
            "hashmod" | "lowercase" | "uppercase" | "keepequal" | "dropequal" => {
                p.error(
                    &format!("{rule_at}.action"),
                    format!("the action {action_text} is not supported by otelbox yet (it has: replace, keep, drop, labeldrop, labelkeep, labelmap)"),
                );
                continue;
            }
            _ => {
                p.error(
                    &format!("{rule_at}.action"),
                    format!("unknown action '{action_text}' (expected replace, keep, drop, labeldrop, labelkeep or labelmap)"),
                );
                continue;
            }
        };
        let regex = match Regex::new(&format!("^(?s:{pattern})$")) {
            Ok(regex) => regex,
            Err(e) => {
                p.error(&format!("{rule_at}.regex"), format!("not a valid regular expression: {e}"));
                continue;
            }
        };
        if action == Action::Replace && target_label.is_empty() {
            p.error(&rule_at, "the replace action needs a target_label");
            continue;
        }
        if matches!(action, Action::Keep | Action::Drop) && source_labels.is_empty() {
            p.error(&rule_at, format!("the {action_text} action needs source_labels"));
            continue;
        }
        rules.push(RelabelRule {
            source_labels,
            separator,
            regex,
            target_label,
            replacement,
            action,
        });
    }
    rules
}

/// A Prometheus duration: `1d2h3m4s5ms` (units y, w, d, h, m, s, ms; whole numbers), `0` for none.
fn prom_duration(p: &mut Parser, value: &Value, at: &str) -> Option<Duration> {
    let text = p.string(value, at)?;
    match parse_prom_duration(&text) {
        Some(d) => Some(d),
        None => {
            p.error(at, format!("expected a duration like 15s, 1m or 1m30s, got '{text}'"));
            None
        }
    }
}

fn parse_prom_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("ms", 1),
        ("m", 60_000),
        ("s", 1000),
    ];
    let mut rest = text;
    let mut total_ms: u64 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, factor) = UNITS.iter().find(|(unit, _)| rest.starts_with(unit))?;
        total_ms = total_ms.checked_add(number.checked_mul(*factor)?)?;
        rest = &rest[unit.len()..];
    }
    Some(Duration::from_millis(total_ms))
}

fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

// ---------------------------------------------------------------------------------------------
// Samples to OTLP

/// What one scrape of a target gave.
pub struct ScrapeOutcome<'a> {
    /// The page's families, or why there are none (`up` is 0).
    pub families: Result<&'a [Family], String>,
    /// When the scrape started.
    pub at_ns: u64,
    pub duration: Duration,
    pub body_bytes: usize,
}

/// The settings translation follows, per scrape config.
#[derive(Clone, Debug)]
pub struct Translation {
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub trim_metric_suffixes: bool,
    pub start_time_metric: Option<Regex>,
    pub report_extra_scrape_metrics: bool,
    pub scrape_timeout: Duration,
    pub metric_relabel_configs: Vec<RelabelRule>,
}

/// When a cumulative series started, and its last value (count for histograms and summaries).
struct SeriesStart {
    start_ns: u64,
    last: f64,
    seen_ns: u64,
}

/// Turns one target's scrapes into OTLP, keeping each cumulative series' start time across scrapes.
pub struct Translator {
    settings: Translation,
    target: Target,
    series: HashMap<String, SeriesStart>,
}

/// The metrics of one resource (a job and instance) being built.
struct ResourceOut {
    job: String,
    instance: String,
    metrics: Vec<Metric>,
    by_name: HashMap<String, usize>,
}

impl Translator {
    pub fn new(settings: Translation, target: Target) -> Translator {
        Translator {
            settings,
            target,
            series: HashMap::new(),
        }
    }

    /// One scrape as one export: a resource per job and instance (only the target's own, unless
    /// `honor_labels` lets samples bring theirs), the scraped metrics, then the scrape's own.
    pub fn translate(&mut self, outcome: &ScrapeOutcome<'_>) -> ExportMetricsServiceRequest {
        let mut resources: Vec<ResourceOut> = vec![ResourceOut {
            job: self.target.job().to_string(),
            instance: self.target.instance().to_string(),
            metrics: Vec::new(),
            by_name: HashMap::new(),
        }];
        let (mut scraped, mut kept, mut added) = (0usize, 0usize, 0usize);
        if let Ok(&families) = outcome.families.as_ref() {
            let start_override = self.start_time_from(families);
            for family in families {
                scraped += family.samples.len();
                let (k, a) = self.translate_family(family, outcome.at_ns, start_override, &mut resources);
                kept += k;
                added += a;
            }
        }
        let at = outcome.at_ns;
        self.series.retain(|_, s| at.saturating_sub(s.seen_ns) <= SERIES_TTL_NS);
        let up = if outcome.families.is_ok() { 1.0 } else { 0.0 };
        let mut own = vec![
            ("up", "The scraping was successful", up),
            ("scrape_duration_seconds", "Duration of the scrape", outcome.duration.as_secs_f64()),
            ("scrape_samples_scraped", "The number of samples the target exposed", scraped as f64),
            (
                "scrape_samples_post_metric_relabeling",
                "The number of samples remaining after metric relabeling was applied",
                kept as f64,
            ),
            (
                "scrape_series_added",
                "The approximate number of new series in this scrape",
                added as f64,
            ),
        ];
        if self.settings.report_extra_scrape_metrics {
            own.push((
                "scrape_timeout_seconds",
                "The configured scrape timeout for a target",
                self.settings.scrape_timeout.as_secs_f64(),
            ));
            own.push((
                "scrape_body_size_bytes",
                "The uncompressed size of the last scrape response",
                outcome.body_bytes as f64,
            ));
        }
        let attributes: Vec<KeyValue> = self
            .target
            .labels
            .iter()
            .filter(|(k, _)| *k != "job" && *k != "instance")
            .map(|(k, v)| string_attribute(k, v))
            .collect();
        for (name, description, value) in own {
            resources[0].metrics.push(Metric {
                name: name.to_string(),
                description: description.to_string(),
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: vec![NumberDataPoint {
                        attributes: attributes.clone(),
                        time_unix_nano: at,
                        value: Some(number_data_point::Value::AsDouble(value)),
                        ..Default::default()
                    }],
                })),
                ..Default::default()
            });
        }
        let scheme = self.target.scheme.clone();
        ExportMetricsServiceRequest {
            resource_metrics: resources
                .into_iter()
                .filter(|r| !r.metrics.is_empty())
                .map(|r| resource_metrics(&r.job, &r.instance, &scheme, r.metrics))
                .collect(),
        }
    }

    /// With `use_start_time_metric`: the start time the page gives, in ns.
    fn start_time_from(&self, families: &[Family]) -> Option<u64> {
        let regex = self.settings.start_time_metric.as_ref()?;
        families
            .iter()
            .filter(|f| matches!(f.kind, FamilyType::Gauge | FamilyType::Untyped | FamilyType::Counter))
            .flat_map(|f| &f.samples)
            .find(|s| regex.is_match(&s.name))
            .filter(|s| s.value.is_finite() && s.value > 0.0)
            .map(|s| (s.value * 1e9) as u64)
    }

    /// The label set of a sample with the target's labels merged as Prometheus does, through
    /// `metric_relabel_configs`; `None` when dropped.
    fn labels_of(&self, sample: &Sample) -> Option<Labels> {
        let mut labels: Labels = sample.labels.iter().cloned().collect();
        for (name, value) in &self.target.labels {
            if self.settings.honor_labels {
                if labels.get(name).is_none_or(|v| v.is_empty()) {
                    labels.insert(name.clone(), value.clone());
                }
            } else {
                if let Some(existing) = labels.remove(name) {
                    if !existing.is_empty() {
                        let mut exported = format!("exported_{name}");
                        while labels.contains_key(&exported) {
                            exported = format!("exported_{exported}");
                        }
                        labels.insert(exported, existing);
                    }
                }
                labels.insert(name.clone(), value.clone());
            }
        }
        labels.insert("__name__".into(), sample.name.clone());
        if relabel(&mut labels, &self.settings.metric_relabel_configs) {
            Some(labels)
        } else {
            None
        }
    }

    /// The start of a cumulative series whose value is now `value`: when it was first seen, or now
    /// after a reset. Also whether the series is new.
    /// `time_ns`: the point's time (the start of a new or reset series); `scrape_ns`: when seen.
    fn start_of(&mut self, key: String, value: f64, time_ns: u64, scrape_ns: u64) -> (u64, bool) {
        match self.series.get_mut(&key) {
            Some(series) => {
                if value < series.last {
                    series.start_ns = time_ns;
                }
                series.last = value;
                series.seen_ns = scrape_ns;
                (series.start_ns, false)
            }
            None => {
                self.series.insert(
                    key,
                    SeriesStart {
                        start_ns: time_ns,
                        last: value,
                        seen_ns: scrape_ns,
                    },
                );
                (time_ns, true)
            }
        }
    }

    fn metric_name(&self, family: &Family, name: &str) -> String {
        if !self.settings.trim_metric_suffixes {
            return name.to_string();
        }
        let mut trimmed = name;
        if family.kind == FamilyType::Counter {
            trimmed = trimmed.strip_suffix("_total").unwrap_or(trimmed);
        }
        if !family.unit.is_empty() {
            trimmed = trimmed.strip_suffix(&format!("_{}", family.unit)).unwrap_or(trimmed);
        }
        if trimmed.is_empty() {
            name.to_string()
        } else {
            trimmed.to_string()
        }
    }

    /// Adds a family's points; returns (samples kept by relabeling, series new in this scrape).
    fn translate_family(
        &mut self,
        family: &Family,
        scrape_ns: u64,
        start_override: Option<u64>,
        resources: &mut Vec<ResourceOut>,
    ) -> (usize, usize) {
        let (mut kept, mut added) = (0, 0);
        match family.kind {
            FamilyType::Counter | FamilyType::Gauge | FamilyType::Untyped => {
                for sample in &family.samples {
                    let Some(labels) = self.labels_of(sample) else {
                        continue;
                    };
                    kept += 1;
                    let time = self.time_of(sample, scrape_ns);
                    let name = self.metric_name(family, labels.get("__name__").map_or(&sample.name, |n| n));
                    let (job, instance, attributes) = split_labels(&labels);
                    let mut point = NumberDataPoint {
                        attributes,
                        time_unix_nano: time,
                        value: Some(number_data_point::Value::AsDouble(sample.value)),
                        ..Default::default()
                    };
                    if family.kind == FamilyType::Counter {
                        let key = series_key(&job, &instance, &name, &labels);
                        let (start, new) = self.start_of(key, sample.value, time, scrape_ns);
                        added += usize::from(new);
                        point.start_time_unix_nano = start_override.unwrap_or(start);
                    } else {
                        let key = series_key(&job, &instance, &name, &labels);
                        added += usize::from(self.start_of(key, 0.0, time, scrape_ns).1);
                    }
                    let metric = metric_in(resources, &job, &instance, &name, family);
                    match &mut metric.data {
                        Some(metric::Data::Sum(sum)) => sum.data_points.push(point),
                        Some(metric::Data::Gauge(gauge)) => gauge.data_points.push(point),
                        _ => {}
                    }
                }
            }
            FamilyType::Histogram | FamilyType::Summary => {
                let (k, a) = self.translate_distribution(family, scrape_ns, start_override, resources);
                kept += k;
                added += a;
            }
        }
        (kept, added)
    }

    fn time_of(&self, sample: &Sample, scrape_ns: u64) -> u64 {
        match sample.timestamp_ms {
            Some(ms) if self.settings.honor_timestamps => u64::try_from(ms).map_or(0, |ms| ms.saturating_mul(1_000_000)),
            _ => scrape_ns,
        }
    }

    /// A histogram's or summary's samples grouped into points by their labels (without `le` or
    /// `quantile`): buckets, quantiles, `_sum` and `_count`.
    fn translate_distribution(
        &mut self,
        family: &Family,
        scrape_ns: u64,
        start_override: Option<u64>,
        resources: &mut Vec<ResourceOut>,
    ) -> (usize, usize) {
        #[derive(Default)]
        struct Group {
            labels: Labels,
            time: u64,
            /// (upper bound, cumulative count) or (quantile, value).
            entries: Vec<(f64, f64)>,
            sum: Option<f64>,
            count: Option<f64>,
        }
        let histogram = family.kind == FamilyType::Histogram;
        let split_key = if histogram { "le" } else { "quantile" };
        let mut groups: Vec<Group> = Vec::new();
        let mut index: HashMap<Vec<(String, String)>, usize> = HashMap::new();
        let mut kept = 0;
        for sample in &family.samples {
            let Some(mut labels) = self.labels_of(sample) else {
                continue;
            };
            kept += 1;
            let bound = labels.remove(split_key);
            labels.remove("__name__");
            let key: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let at = *index.entry(key).or_insert_with(|| {
                groups.push(Group {
                    labels: labels.clone(),
                    time: 0,
                    ..Default::default()
                });
                groups.len() - 1
            });
            let group = &mut groups[at];
            if group.time == 0 {
                group.time = self.time_of(sample, scrape_ns);
            }
            let suffix = sample.name.strip_prefix(family.name.as_str()).unwrap_or("");
            match suffix {
                "_sum" => group.sum = Some(sample.value),
                "_count" => group.count = Some(sample.value),
                "_bucket" if histogram => {
                    if let Some(le) = bound.as_deref().and_then(parse::parse_value) {
                        group.entries.push((le, sample.value));
                    }
                }
                "" if !histogram => {
                    if let Some(q) = bound.as_deref().and_then(parse::parse_value) {
                        group.entries.push((q, sample.value));
                    }
                }
                _ => {}
            }
        }
        let name = self.metric_name(family, &family.name);
        let mut added = 0;
        for mut group in groups {
            group.entries.sort_by(|a, b| a.0.total_cmp(&b.0));
            let infinite_bucket = group.entries.iter().find(|(le, _)| *le == f64::INFINITY).map(|(_, c)| *c);
            // Without a count there is no point, as in the Collector.
            let Some(count) = group.count.or(if histogram { infinite_bucket } else { None }) else {
                continue;
            };
            let (job, instance, attributes) = split_labels(&group.labels);
            let key = series_key(&job, &instance, &name, &group.labels);
            let (start, new) = self.start_of(key, count, group.time, scrape_ns);
            added += usize::from(new);
            let start = start_override.unwrap_or(start);
            let count_u64 = if count.is_finite() && count > 0.0 { count as u64 } else { 0 };
            let metric = metric_in(resources, &job, &instance, &name, family);
            match &mut metric.data {
                Some(metric::Data::Histogram(h)) => {
                    let mut bounds = Vec::new();
                    let mut counts = Vec::new();
                    let mut below = 0.0;
                    for (le, cumulative) in &group.entries {
                        if le.is_infinite() {
                            continue;
                        }
                        bounds.push(*le);
                        counts.push(non_negative(cumulative - below));
                        below = cumulative.max(below);
                    }
                    counts.push(non_negative(count - below));
                    h.data_points.push(HistogramDataPoint {
                        attributes,
                        start_time_unix_nano: start,
                        time_unix_nano: group.time,
                        count: count_u64,
                        sum: group.sum.filter(|s| s.is_finite()),
                        bucket_counts: counts,
                        explicit_bounds: bounds,
                        ..Default::default()
                    });
                }
                Some(metric::Data::Summary(s)) => s.data_points.push(SummaryDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: group.time,
                    count: count_u64,
                    sum: group.sum.unwrap_or(0.0),
                    quantile_values: group
                        .entries
                        .iter()
                        .map(|(quantile, value)| ValueAtQuantile {
                            quantile: *quantile,
                            value: *value,
                        })
                        .collect(),
                    ..Default::default()
                }),
                _ => {}
            }
        }
        (kept, added)
    }
}

fn non_negative(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value as u64
    } else {
        0
    }
}

fn series_key(job: &str, instance: &str, name: &str, labels: &Labels) -> String {
    let mut key = format!("{job}\u{1}{instance}\u{1}{name}");
    for (k, v) in labels {
        if k != "__name__" {
            key.push('\u{1}');
            key.push_str(k);
            key.push('\u{2}');
            key.push_str(v);
        }
    }
    key
}

/// (job, instance, the other labels as attributes); `__`-prefixed labels are left out.
fn split_labels(labels: &Labels) -> (String, String, Vec<KeyValue>) {
    let job = labels.get("job").cloned().unwrap_or_default();
    let instance = labels.get("instance").cloned().unwrap_or_default();
    let attributes = labels
        .iter()
        .filter(|(k, _)| *k != "job" && *k != "instance" && !k.starts_with("__"))
        .map(|(k, v)| string_attribute(k, v))
        .collect();
    (job, instance, attributes)
}

/// The metric `name` of the resource (job, instance), made on first use with the family's type.
fn metric_in<'r>(resources: &'r mut Vec<ResourceOut>, job: &str, instance: &str, name: &str, family: &Family) -> &'r mut Metric {
    let at = match resources.iter().position(|r| r.job == job && r.instance == instance) {
        Some(at) => at,
        None => {
            resources.push(ResourceOut {
                job: job.to_string(),
                instance: instance.to_string(),
                metrics: Vec::new(),
                by_name: HashMap::new(),
            });
            resources.len() - 1
        }
    };
    let resource = &mut resources[at];
    let index = match resource.by_name.get(name).copied() {
        Some(index) => index,
        None => {
            let cumulative = AggregationTemporality::Cumulative as i32;
            let data = match family.kind {
                FamilyType::Counter => metric::Data::Sum(Sum {
                    data_points: Vec::new(),
                    aggregation_temporality: cumulative,
                    is_monotonic: true,
                }),
                FamilyType::Gauge | FamilyType::Untyped => metric::Data::Gauge(Gauge { data_points: Vec::new() }),
                FamilyType::Histogram => metric::Data::Histogram(Histogram {
                    data_points: Vec::new(),
                    aggregation_temporality: cumulative,
                }),
                FamilyType::Summary => metric::Data::Summary(Summary { data_points: Vec::new() }),
            };
            resource.metrics.push(Metric {
                name: name.to_string(),
                description: family.help.clone(),
                unit: family.unit.clone(),
                data: Some(data),
                ..Default::default()
            });
            resource.by_name.insert(name.to_string(), resource.metrics.len() - 1);
            resource.metrics.len() - 1
        }
    };
    &mut resource.metrics[index]
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

/// A target's resource, with the attributes the Collector gives it.
fn resource_metrics(job: &str, instance: &str, scheme: &str, metrics: Vec<Metric>) -> ResourceMetrics {
    let mut attributes = vec![
        string_attribute("service.name", job),
        string_attribute("service.instance.id", instance),
    ];
    match instance.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            attributes.push(string_attribute("server.address", host));
            attributes.push(string_attribute("server.port", port));
        }
        _ => attributes.push(string_attribute("server.address", instance)),
    }
    attributes.push(string_attribute("url.scheme", scheme));
    ResourceMetrics {
        resource: Some(Resource {
            attributes,
            ..Default::default()
        }),
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
    }
}

// ---------------------------------------------------------------------------------------------
// The receiver

pub struct Factory;
crate::component_type!(Factory, "prometheus", &[crate::pdata::Signal::Metrics], parse);

impl ReceiverFactory for Factory {
    fn build<'a>(
        &'a self,
        host: &'a ReceiverHost,
        id: &'a ComponentId,
        settings: &'a Settings,
        heads: SignalConsumers,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Receiver>>> {
        Box::pin(async move {
            let config: &PrometheusConfig = settings.get();
            let client = reqwest::Client::builder()
                .user_agent(concat!("otelbox/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| anyhow::anyhow!("receivers.{id}: cannot set up the HTTP client: {e}"))?;
            Ok(Box::new(PrometheusReceiver {
                id: id.clone(),
                config: config.clone(),
                intake: host.intake(&heads, crate::receiver::DEFAULT_MAX_REQUEST_BYTES),
                client,
            }) as Box<dyn Receiver>)
        })
    }
}

struct PrometheusReceiver {
    id: ComponentId,
    config: PrometheusConfig,
    intake: Intake,
    client: reqwest::Client,
}

impl Receiver for PrometheusReceiver {
    /// A scraper listens nowhere.
    fn endpoints(&self) -> Vec<Endpoint> {
        Vec::new()
    }

    fn targets(&self) -> Vec<String> {
        self.config
            .scrape_configs
            .iter()
            .flat_map(|job| job.targets.iter().map(move |t| format!("{} ({})", t.url, job.job_name)))
            .collect()
    }

    /// One task per target, each on its job's interval.
    fn start(self: Box<Self>, stop: &Stop) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        let PrometheusReceiver {
            id,
            config,
            intake,
            client,
        } = *self;
        let mut tasks = Vec::new();
        for job in &config.scrape_configs {
            tracing::info!(
                receiver = %id,
                job = %job.job_name,
                targets = job.targets.len(),
                interval = ?job.scrape_interval,
                "scraping prometheus targets"
            );
            let translation = Translation {
                honor_labels: job.honor_labels,
                honor_timestamps: job.honor_timestamps,
                trim_metric_suffixes: config.trim_metric_suffixes,
                start_time_metric: config.use_start_time_metric.then(|| config.start_time_metric.clone()),
                report_extra_scrape_metrics: config.report_extra_scrape_metrics,
                scrape_timeout: job.scrape_timeout,
                metric_relabel_configs: job.metric_relabel_configs.clone(),
            };
            for target in &job.targets {
                let scraper = TargetScraper {
                    id: id.clone(),
                    intake: intake.clone(),
                    client: client.clone(),
                    interval: job.scrape_interval,
                    timeout: job.scrape_timeout,
                    translator: Translator::new(translation.clone(), target.clone()),
                    url: target.url.clone(),
                };
                tasks.push(tokio::spawn(scraper.run(stop.clone())));
            }
        }
        Ok(tasks)
    }
}

/// One target's scrape loop.
struct TargetScraper {
    id: ComponentId,
    intake: Intake,
    client: reqwest::Client,
    interval: Duration,
    timeout: Duration,
    translator: Translator,
    url: String,
}

impl TargetScraper {
    /// Scrapes at once, then every interval (a tick missed while a scrape or its commit takes
    /// longer is skipped), until `stop`.
    async fn run(mut self, stop: Stop) {
        let mut ticks = tokio::time::interval(self.interval.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut failures = FailureLog::default();
        loop {
            tokio::select! {
                biased;
                _ = stop.wait() => return,
                _ = ticks.tick() => {}
            }
            let at_ns = now_ns();
            let started = Instant::now();
            let fetched = tokio::select! {
                biased;
                _ = stop.wait() => return,
                fetched = fetch(&self.client, &self.url, self.timeout) => fetched,
            };
            let duration = started.elapsed();
            let body_bytes = fetched.as_ref().map_or(0, String::len);
            let parsed =
                fetched.and_then(|body| parse::parse(&body).map_err(|e| format!("the page is not in the Prometheus text format: {e}")));
            match &parsed {
                Ok(_) => failures.succeeded(&self.id, &self.url),
                Err(error) => failures.failed(&self.id, &self.url, error),
            }
            let outcome = ScrapeOutcome {
                families: parsed.as_deref().map_err(|e| e.clone()),
                at_ns,
                duration,
                body_bytes,
            };
            let request = self.translator.translate(&outcome);
            if request.item_count() == 0 {
                continue;
            }
            let ingesting = ingest(&self.intake, request);
            tokio::pin!(ingesting);
            let (outcome, stopping) = tokio::select! {
                biased;
                outcome = &mut ingesting => (Some(outcome), false),
                _ = stop.wait() => (tokio::time::timeout(STOP_GRACE, &mut ingesting).await.ok(), true),
            };
            match outcome {
                Some(Ok(_)) => {}
                // Counted by `ingest`; the next scrape carries the cumulative values on.
                Some(Err(error)) => {
                    tracing::warn!(receiver = %self.id, target = %self.url, %error, "the metrics pipeline refused a scrape; it is dropped")
                }
                None => tracing::warn!(receiver = %self.id, target = %self.url, "stopping before the last scrape was committed"),
            }
            if stopping {
                return;
            }
        }
    }
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
    fn failed(&mut self, id: &ComponentId, url: &str, error: &str) {
        self.failing = true;
        self.since_logged += 1;
        if self.last_logged.is_none_or(|at| at.elapsed() >= FAILURE_LOG_EVERY) {
            tracing::warn!(receiver = %id, target = %url, failures = self.since_logged, %error, "scraping a prometheus target failed; up is 0");
            self.last_logged = Some(Instant::now());
            self.since_logged = 0;
        }
    }

    fn succeeded(&mut self, id: &ComponentId, url: &str) {
        if self.failing {
            tracing::info!(receiver = %id, target = %url, "the prometheus target is scraped again");
        }
        *self = FailureLog::default();
    }
}

/// GETs a target's page within `timeout`; `Err` says why there is none.
async fn fetch(client: &reqwest::Client, url: &str, timeout: Duration) -> Result<String, String> {
    match tokio::time::timeout(timeout, fetch_page(client, url, timeout)).await {
        Ok(result) => result,
        Err(_) => Err(format!("the scrape took longer than the {timeout:?} scrape_timeout")),
    }
}

async fn fetch_page(client: &reqwest::Client, url: &str, timeout: Duration) -> Result<String, String> {
    {
        let mut response = client
            .get(url)
            .header(reqwest::header::ACCEPT, ACCEPT)
            .header("X-Prometheus-Scrape-Timeout-Seconds", format!("{}", timeout.as_secs_f64()))
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| crate::net::error_chain(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the target answered HTTP {status}"));
        }
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| crate::net::error_chain(&e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(format!("the page is larger than {} MiB", MAX_BODY_BYTES >> 20));
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|_| "the page is not UTF-8 text".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Consumer, Envelope, PipelineError};
    use crate::receiver::Admission;
    use crate::telemetry::IngestStats;

    fn parse_yaml(yaml: &str) -> (PrometheusConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "receivers.prometheus");
        (config, errors)
    }

    fn one_job(yaml: &str) -> ScrapeConfig {
        let (config, errors) = parse_yaml(yaml);
        assert!(errors.is_empty(), "{errors:?}");
        config.scrape_configs.into_iter().next().expect("a job")
    }

    #[test]
    fn prometheus_defaults_apply_to_a_job_with_only_targets() {
        let job = one_job("config: { scrape_configs: [ { job_name: app, static_configs: [ { targets: ['127.0.0.1:9100'] } ] } ] }");
        assert_eq!(job.scrape_interval, Duration::from_secs(60));
        assert_eq!(job.scrape_timeout, Duration::from_secs(10));
        assert!(!job.honor_labels && job.honor_timestamps);
        assert_eq!(
            job.targets,
            vec![Target {
                url: "http://127.0.0.1:9100/metrics".into(),
                scheme: "http".into(),
                labels: [("instance", "127.0.0.1:9100"), ("job", "app")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            }]
        );
    }

    #[test]
    fn a_job_timeout_defaults_to_the_global_one_cut_to_its_interval() {
        let job = one_job(
            "config: { global: { scrape_interval: 1m30s, scrape_timeout: 20s }, scrape_configs: [ { job_name: a, scrape_interval: 5s } ] }",
        );
        assert_eq!(job.scrape_interval, Duration::from_secs(5));
        assert_eq!(job.scrape_timeout, Duration::from_secs(5));
        assert_eq!(parse_prom_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_prom_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_prom_duration("1.5s"), None);
    }

    #[test]
    fn params_path_and_target_relabeling_make_the_url_and_labels() {
        let job = one_job(
            r#"
config:
  scrape_configs:
    - job_name: node
      metrics_path: /probe
      params: { module: [http_2xx] }
      static_configs:
        - targets: ['10.0.0.1:9100', '10.0.0.2:9100']
          labels: { env: prod }
      relabel_configs:
        - { source_labels: [__address__], regex: '10\.0\.0\.2:.*', action: drop }
        - { source_labels: [__address__], regex: '([^:]+):\d+', target_label: host, replacement: '$1' }
        - { source_labels: [__param_module], target_label: __param_module, replacement: 'tcp_$1' }
"#,
        );
        assert_eq!(job.targets.len(), 1, "the second target is dropped");
        let target = &job.targets[0];
        assert_eq!(target.url, "http://10.0.0.1:9100/probe?module=tcp_http_2xx");
        assert_eq!(target.labels.get("host").map(String::as_str), Some("10.0.0.1"));
        assert_eq!(target.labels.get("env").map(String::as_str), Some("prod"));
        assert!(target.labels.keys().all(|k| !k.starts_with("__")), "{:?}", target.labels);
    }

    #[test]
    fn unsupported_settings_are_refused_by_name_with_their_path() {
        let cases = [
            (
                "config: { scrape_configs: [ { job_name: k, kubernetes_sd_configs: [ { role: pod } ] } ] }",
                "receivers.prometheus.config.scrape_configs[0].kubernetes_sd_configs: service discovery is not supported",
            ),
            (
                "config: { scrape_configs: [ { job_name: f, file_sd_configs: [ { files: [a.json] } ] } ] }",
                "receivers.prometheus.config.scrape_configs[0].file_sd_configs: service discovery",
            ),
            (
                "config: { scrape_configs: [ { job_name: s, scheme: https } ] }",
                "receivers.prometheus.config.scrape_configs[0].scheme: https targets are not supported",
            ),
            (
                "config: { scrape_configs: [ { job_name: a, scrape_interval: 5s, scrape_timeout: 10s } ] }",
                "receivers.prometheus.config.scrape_configs[0].scrape_timeout: is greater than the scrape interval",
            ),
            (
                "config: { scrape_configs: [ { job_name: a }, { job_name: a } ] }",
                "receivers.prometheus.config.scrape_configs[1].job_name: the job name 'a' is used twice",
            ),
            (
                "config: { scrape_configs: [ { static_configs: [] } ] }",
                "receivers.prometheus.config.scrape_configs[0]: job_name is required",
            ),
            (
                "config: { scrape_configs: [ { job_name: a, relabel_configs: [ { action: hashmod, modulus: 2 } ] } ] }",
                "receivers.prometheus.config.scrape_configs[0].relabel_configs[0].action: the action hashmod is not supported",
            ),
            (
                "config: { scrape_configs: [ { job_name: a, metric_relabel_configs: [ { action: replace, regex: '(' } ] } ] }",
                "receivers.prometheus.config.scrape_configs[0].metric_relabel_configs[0].regex: not a valid regular expression",
            ),
            (
                "target_allocator: { endpoint: x }",
                "receivers.prometheus.target_allocator: is not supported",
            ),
            ("{}", "receivers.prometheus: config is required"),
            (
                "config: { scrape_configs: [ { job_name: a, static_configs: [ { targets: ['http://x:1/metrics'] } ] } ] }",
                "receivers.prometheus.config.scrape_configs[0].static_configs[0].targets[0]: expected host:port",
            ),
        ];
        for (yaml, expected) in cases {
            let (_, errors) = parse_yaml(yaml);
            assert!(
                errors.iter().any(|e| e.starts_with(expected)),
                "{yaml}: expected an error starting {expected:?}, got {errors:?}"
            );
        }
    }

    #[test]
    fn the_collector_flags_are_read() {
        let (config, errors) = parse_yaml(
            "{ trim_metric_suffixes: true, use_start_time_metric: true, start_time_metric_regex: '^start$', report_extra_scrape_metrics: true, config: { scrape_configs: [] } }",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(config.trim_metric_suffixes && config.use_start_time_metric && config.report_extra_scrape_metrics);
        assert_eq!(config.start_time_metric.as_str(), "^start$");
    }

    fn rule(action: Action, sources: &[&str], regex: &str, target: &str, replacement: &str) -> RelabelRule {
        RelabelRule {
            source_labels: sources.iter().map(|s| s.to_string()).collect(),
            separator: ";".into(),
            regex: Regex::new(&format!("^(?s:{regex})$")).unwrap(),
            target_label: target.into(),
            replacement: replacement.into(),
            action,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn relabel_actions_behave_as_prometheus() {
        let base = labels(&[("__name__", "http_requests_total"), ("code", "200"), ("method", "get")]);
        let mut l = base.clone();
        assert!(relabel(&mut l, &[rule(Action::Keep, &["code"], "2..", "", "$1")]));
        assert!(!relabel(&mut l, &[rule(Action::Keep, &["code"], "5..", "", "$1")]));
        assert!(!relabel(
            &mut l,
            &[rule(Action::Drop, &["__name__", "method"], "http_.*;get", "", "$1")]
        ));
        assert!(
            relabel(&mut l, &[rule(Action::Drop, &["code"], "2", "", "$1")]),
            "the regex is anchored"
        );

        let mut l = base.clone();
        relabel(
            &mut l,
            &[rule(Action::Replace, &["method", "code"], "(.*);(.*)", "route", "${1}-$2")],
        );
        assert_eq!(l.get("route").map(String::as_str), Some("get-200"));
        relabel(&mut l, &[rule(Action::Replace, &["missing"], "(.*)", "route", "$1")]);
        assert!(!l.contains_key("route"), "an empty replacement removes the label");

        let mut l = base.clone();
        relabel(&mut l, &[rule(Action::LabelDrop, &[], "code|method", "", "$1")]);
        assert_eq!(l, labels(&[("__name__", "http_requests_total")]));
        let mut l = base.clone();
        relabel(&mut l, &[rule(Action::LabelKeep, &[], "__name__|code", "", "$1")]);
        assert_eq!(l, labels(&[("__name__", "http_requests_total"), ("code", "200")]));
        let mut l = labels(&[("__meta_zone", "eu")]);
        relabel(&mut l, &[rule(Action::LabelMap, &[], "__meta_(.+)", "", "$1")]);
        assert_eq!(l.get("zone").map(String::as_str), Some("eu"));
    }

    // ------------------------------------------------------------------------------------------
    // Mapping

    const AT: u64 = 1_700_000_000_000_000_000;
    const LATER: u64 = AT + 15_000_000_000;

    fn target() -> Target {
        Target {
            url: "http://10.1.2.3:9100/metrics".into(),
            scheme: "http".into(),
            labels: labels(&[("instance", "10.1.2.3:9100"), ("job", "node"), ("env", "prod")]),
        }
    }

    fn translation() -> Translation {
        Translation {
            honor_labels: false,
            honor_timestamps: true,
            trim_metric_suffixes: false,
            start_time_metric: None,
            report_extra_scrape_metrics: false,
            scrape_timeout: Duration::from_secs(10),
            metric_relabel_configs: Vec::new(),
        }
    }

    fn translate(translator: &mut Translator, page: &str, at_ns: u64) -> ExportMetricsServiceRequest {
        let families = parse::parse(page).unwrap();
        translator.translate(&ScrapeOutcome {
            families: Ok(families.as_slice()),
            at_ns,
            duration: Duration::from_millis(12),
            body_bytes: page.len(),
        })
    }

    fn metrics(request: &ExportMetricsServiceRequest) -> Vec<&Metric> {
        request
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .collect()
    }

    fn find<'r>(request: &'r ExportMetricsServiceRequest, name: &str) -> &'r Metric {
        metrics(request)
            .into_iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no metric {name}"))
    }

    fn numbers(metric: &Metric) -> &[NumberDataPoint] {
        match &metric.data {
            Some(metric::Data::Sum(sum)) => &sum.data_points,
            Some(metric::Data::Gauge(gauge)) => &gauge.data_points,
            other => panic!("{}: not a number metric: {other:?}", metric.name),
        }
    }

    fn value(point: &NumberDataPoint) -> f64 {
        match point.value {
            Some(number_data_point::Value::AsDouble(v)) => v,
            Some(number_data_point::Value::AsInt(v)) => v as f64,
            None => f64::NAN,
        }
    }

    fn attribute<'p>(attributes: &'p [KeyValue], key: &str) -> Option<&'p str> {
        attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => Some(s.as_str()),
                _ => None,
            })
    }

    #[test]
    fn a_scrape_is_one_resource_per_target_with_the_collectors_attributes_and_scope() {
        let mut translator = Translator::new(translation(), target());
        let request = translate(&mut translator, parse::tests::GOLDEN, AT);
        assert_eq!(request.resource_metrics.len(), 1);
        let rm = &request.resource_metrics[0];
        let resource = &rm.resource.as_ref().unwrap().attributes;
        assert_eq!(attribute(resource, "service.name"), Some("node"));
        assert_eq!(attribute(resource, "service.instance.id"), Some("10.1.2.3:9100"));
        assert_eq!(attribute(resource, "server.address"), Some("10.1.2.3"));
        assert_eq!(attribute(resource, "server.port"), Some("9100"));
        assert_eq!(attribute(resource, "url.scheme"), Some("http"));
        assert_eq!(rm.scope_metrics[0].scope.as_ref().unwrap().name, SCOPE_NAME);
        let point = &numbers(find(&request, "temperature_celsius"))[0];
        assert_eq!(attribute(&point.attributes, "env"), Some("prod"), "target labels are attributes");
        assert_eq!(attribute(&point.attributes, "job"), None, "job and instance are on the resource");
        assert_eq!(attribute(&point.attributes, "room"), Some("a"));
    }

    #[test]
    fn counters_are_monotonic_cumulative_sums_and_gauges_and_untyped_are_gauges() {
        let mut translator = Translator::new(translation(), target());
        let request = translate(&mut translator, parse::tests::GOLDEN, AT);
        let counter = find(&request, "http_requests_total");
        match &counter.data {
            Some(metric::Data::Sum(sum)) => {
                assert!(sum.is_monotonic);
                assert_eq!(sum.aggregation_temporality, AggregationTemporality::Cumulative as i32);
            }
            other => panic!("not a sum: {other:?}"),
        }
        assert_eq!(counter.description, "The total number of HTTP requests.");
        let points = numbers(counter);
        assert_eq!(points.len(), 2);
        assert_eq!(value(&points[0]), 1027.0);
        assert_eq!(
            points[0].time_unix_nano,
            1_395_066_363_000 * 1_000_000,
            "the page's timestamp is honoured"
        );
        assert_eq!(
            points[0].start_time_unix_nano, points[0].time_unix_nano,
            "a new series starts at its first point"
        );
        for gauge in ["temperature_celsius", "metric_without_timestamp_and_labels", "something_weird"] {
            assert!(matches!(find(&request, gauge).data, Some(metric::Data::Gauge(_))), "{gauge}");
        }
        let weird = &numbers(find(&request, "something_weird"))[0];
        assert_eq!(value(weird), f64::INFINITY);
        assert_eq!(weird.time_unix_nano, 0, "a timestamp before the epoch is clamped");
        let untimed = &numbers(find(&request, "metric_without_timestamp_and_labels"))[0];
        assert_eq!(untimed.time_unix_nano, AT, "without a timestamp, the scrape's time");
    }

    #[test]
    fn histogram_buckets_are_de_cumulated_from_le() {
        let mut translator = Translator::new(translation(), target());
        let request = translate(&mut translator, parse::tests::GOLDEN, AT);
        let Some(metric::Data::Histogram(histogram)) = &find(&request, "http_request_duration_seconds").data else {
            panic!("not a histogram");
        };
        assert_eq!(histogram.aggregation_temporality, AggregationTemporality::Cumulative as i32);
        let point = &histogram.data_points[0];
        assert_eq!(point.explicit_bounds, vec![0.05, 0.1, 0.2, 0.5, 1.0]);
        assert_eq!(point.bucket_counts, vec![24054, 9390, 66948, 28997, 4599, 10332]);
        assert_eq!(point.count, 144320);
        assert_eq!(point.sum, Some(53423.0));
        assert_eq!(attribute(&point.attributes, "le"), None);
        assert_eq!(point.start_time_unix_nano, AT);
    }

    #[test]
    fn summaries_keep_their_quantiles_sum_and_count() {
        let mut translator = Translator::new(translation(), target());
        let request = translate(&mut translator, parse::tests::GOLDEN, AT);
        let Some(metric::Data::Summary(summary)) = &find(&request, "rpc_duration_seconds").data else {
            panic!("not a summary");
        };
        let point = &summary.data_points[0];
        assert_eq!(point.count, 2693);
        assert_eq!(point.sum, 1.7560473e7);
        let quantiles: Vec<(f64, f64)> = point.quantile_values.iter().map(|q| (q.quantile, q.value)).collect();
        assert_eq!(
            quantiles,
            [(0.01, 3102.0), (0.05, 3272.0), (0.5, 4773.0), (0.9, 9001.0), (0.99, 76656.0)]
        );
        assert_eq!(attribute(&point.attributes, "quantile"), None);
    }

    #[test]
    fn a_counter_keeps_its_start_across_scrapes_and_a_decrease_is_a_reset() {
        let mut translator = Translator::new(translation(), target());
        let start = |request: &ExportMetricsServiceRequest| numbers(find(request, "jobs_total"))[0].start_time_unix_nano;
        let first = translate(&mut translator, "# TYPE jobs_total counter\njobs_total 10\n", AT);
        assert_eq!(start(&first), AT);
        let second = translate(&mut translator, "# TYPE jobs_total counter\njobs_total 15\n", LATER);
        assert_eq!(start(&second), AT, "the start is kept");
        let reset = translate(&mut translator, "# TYPE jobs_total counter\njobs_total 2\n", LATER + 1);
        assert_eq!(start(&reset), LATER + 1, "a decrease starts the series again");
        let added = value(&numbers(find(&second, "scrape_series_added"))[0]);
        assert_eq!(added, 0.0);
        assert_eq!(value(&numbers(find(&first, "scrape_series_added"))[0]), 1.0);
    }

    #[test]
    fn every_scrape_reports_up_duration_and_sample_counts() {
        let mut settings = translation();
        settings.metric_relabel_configs = vec![rule(Action::Drop, &["__name__"], "temperature_.*", "", "$1")];
        let mut translator = Translator::new(settings, target());
        let request = translate(&mut translator, parse::tests::GOLDEN, AT);
        let gauge = |name: &str| value(&numbers(find(&request, name))[0]);
        assert_eq!(gauge("up"), 1.0);
        assert_eq!(gauge("scrape_duration_seconds"), 0.012);
        assert_eq!(gauge("scrape_samples_scraped"), 22.0);
        assert_eq!(gauge("scrape_samples_post_metric_relabeling"), 20.0);
        assert!(
            metrics(&request).iter().all(|m| m.name != "temperature_celsius"),
            "dropped by metric relabeling"
        );
        let up = &numbers(find(&request, "up"))[0];
        assert_eq!(up.time_unix_nano, AT);
        assert_eq!(attribute(&up.attributes, "env"), Some("prod"));
    }

    #[test]
    fn a_failed_scrape_reports_up_zero_and_nothing_else_scraped() {
        let mut translator = Translator::new(translation(), target());
        let request = translator.translate(&ScrapeOutcome {
            families: Err("connection refused".into()),
            at_ns: AT,
            duration: Duration::from_millis(1),
            body_bytes: 0,
        });
        let names: Vec<&str> = metrics(&request).iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "up",
                "scrape_duration_seconds",
                "scrape_samples_scraped",
                "scrape_samples_post_metric_relabeling",
                "scrape_series_added"
            ]
        );
        assert_eq!(value(&numbers(find(&request, "up"))[0]), 0.0);
    }

    #[test]
    fn honor_labels_decides_who_wins_a_label_conflict() {
        let page = "x{job=\"pushed\",env=\"dev\"} 1\n";
        let mut translator = Translator::new(translation(), target());
        let request = translate(&mut translator, page, AT);
        let point = &numbers(find(&request, "x"))[0];
        assert_eq!(attribute(&point.attributes, "env"), Some("prod"));
        assert_eq!(attribute(&point.attributes, "exported_env"), Some("dev"));
        assert_eq!(attribute(&point.attributes, "exported_job"), Some("pushed"));

        let mut settings = translation();
        settings.honor_labels = true;
        let mut translator = Translator::new(settings, target());
        let request = translate(&mut translator, page, AT);
        assert_eq!(request.resource_metrics.len(), 2, "the sample's own job is a resource of its own");
        let pushed = request
            .resource_metrics
            .iter()
            .find(|rm| attribute(&rm.resource.as_ref().unwrap().attributes, "service.name") == Some("pushed"))
            .expect("the pushed job's resource");
        let point = &numbers(&pushed.scope_metrics[0].metrics[0])[0];
        assert_eq!(attribute(&point.attributes, "env"), Some("dev"));
    }

    #[test]
    fn trim_metric_suffixes_and_use_start_time_metric_act_as_in_the_collector() {
        let mut settings = translation();
        settings.trim_metric_suffixes = true;
        settings.start_time_metric = Some(Regex::new(DEFAULT_START_TIME_METRIC).unwrap());
        let mut translator = Translator::new(settings, target());
        let page =
            "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1600000000\n# TYPE jobs_total counter\njobs_total 3\n";
        let request = translate(&mut translator, page, AT);
        let point = &numbers(find(&request, "jobs"))[0];
        assert_eq!(point.start_time_unix_nano, 1_600_000_000_000_000_000);
    }

    // ------------------------------------------------------------------------------------------
    // The receiver

    /// Hands every scrape to a channel and commits it.
    struct Capture(tokio::sync::mpsc::UnboundedSender<ExportMetricsServiceRequest>);
    impl Consumer<ExportMetricsServiceRequest> for Capture {
        fn consume(&self, envelope: Envelope<ExportMetricsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            let _ = self.0.send(envelope.data.clone());
            envelope.commit();
            Box::pin(async { Ok(()) })
        }
    }

    async fn run_receiver(
        yaml: &str,
    ) -> (
        tokio::sync::mpsc::UnboundedReceiver<ExportMetricsServiceRequest>,
        tokio::sync::watch::Sender<bool>,
        Vec<tokio::task::JoinHandle<()>>,
    ) {
        let (config, errors) = parse_yaml(yaml);
        assert!(errors.is_empty(), "{errors:?}");
        let host = ReceiverHost {
            stats: std::sync::Arc::new(IngestStats::default()),
            admission: std::sync::Arc::new(Admission::new(None)),
            ingest_tokens: Default::default(),
            tls: None,
            extensions: Default::default(),
            allowed_hosts: Default::default(),
        };
        let (send, received) = tokio::sync::mpsc::unbounded_channel();
        let heads = SignalConsumers {
            traces: None,
            metrics: Some(std::sync::Arc::new(Capture(send))),
            logs: None,
        };
        let id = ComponentId::parse("prometheus").unwrap();
        let receiver = Factory.build(&host, &id, &Settings::new(config), heads).await.unwrap();
        assert!(receiver.endpoints().is_empty(), "a scraper listens nowhere");
        let (stop, stopped) = Stop::new();
        let tasks = receiver.start(&stopped).unwrap();
        (received, stop, tasks)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_served_page_is_scraped_into_one_export_and_stop_is_prompt() {
        let app = axum::Router::new().route("/metrics", axum::routing::get(|| async { parse::tests::GOLDEN }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let yaml = format!(
            "config: {{ scrape_configs: [ {{ job_name: app, scrape_interval: 1m, static_configs: [ {{ targets: ['{address}'] }} ] }} ] }}"
        );
        let (mut received, stop, tasks) = run_receiver(&yaml).await;
        let request = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("a scrape within 10 s")
            .expect("the receiver is running");
        let _ = stop.send(true);
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .expect("stops promptly")
                .unwrap();
        }
        assert_eq!(request.resource_metrics.len(), 1);
        let resource = &request.resource_metrics[0].resource.as_ref().unwrap().attributes;
        assert_eq!(attribute(resource, "service.name"), Some("app"));
        assert_eq!(attribute(resource, "service.instance.id"), Some(address.to_string().as_str()));
        assert_eq!(value(&numbers(find(&request, "up"))[0]), 1.0);
        assert_eq!(numbers(find(&request, "http_requests_total")).len(), 2);
        assert!(matches!(
            find(&request, "http_request_duration_seconds").data,
            Some(metric::Data::Histogram(_))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_target_is_sent_as_up_zero() {
        // A port just freed: nothing listens there.
        let address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let yaml = format!(
            "config: {{ scrape_configs: [ {{ job_name: gone, scrape_interval: 1m, scrape_timeout: 2s, static_configs: [ {{ targets: ['{address}'] }} ] }} ] }}"
        );
        let (mut received, stop, tasks) = run_receiver(&yaml).await;
        let request = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("a scrape within 10 s")
            .expect("the receiver is running");
        let _ = stop.send(true);
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .expect("stops promptly")
                .unwrap();
        }
        assert_eq!(value(&numbers(find(&request, "up"))[0]), 0.0);
    }
}
