//! The `resourcedetection` processor: adds attributes describing where the data was processed to
//! every resource, detected once at start-up (once per component, however many pipelines list it),
//! as the Collector's does. Detectors:
//!
//! - `env`: the `OTEL_RESOURCE_ATTRIBUTES` variable, `key=value` pairs separated by commas, values
//!   percent-decoded.
//! - `system`: `host.name`, `os.type`; when enabled `host.arch`, `host.id` from /etc/machine-id,
//!   `host.cpu.*` from /proc/cpuinfo and `os.description` from os-release.
//! - `docker`: the Docker daemon's `GET /info` over HTTP/1.1 (`DOCKER_HOST`, `unix://` or plain
//!   `tcp://`, else /var/run/docker.sock): `host.name` (its `Name`) and `os.type` (its `OSType`);
//!   when enabled `container.name` and `container.image.name` from inspecting the container named
//!   by this host's name.
//! - `ec2`: the instance metadata service, IMDSv2 (a token, falling back to IMDSv1 on 403/404/405
//!   as the AWS SDK does): `cloud.provider`, `cloud.platform`, `cloud.region`,
//!   `cloud.availability_zone`, `cloud.account.id`, `host.id`, `host.image.id`, `host.type` from the
//!   identity document and `host.name` from `meta-data/hostname`. `AWS_EC2_METADATA_SERVICE_ENDPOINT`
//!   (`_MODE=IPv6`), `AWS_EC2_METADATA_DISABLED` and `AWS_EC2_METADATA_V1_DISABLED` are honoured as by
//!   the AWS SDK. `ec2.tags` are read from the instance metadata (`tags_from_imds: true`); the EC2
//!   DescribeTags API (the Collector's default for tags) is not built in. `max_attempts` and
//!   `max_backoff` (the AWS SDK's retries) are accepted and have no effect.
//! - `gcp`: the metadata server (169.254.169.254, found as Google's client library does: it answers
//!   with `Metadata-Flavor: Google` or metadata.google.internal resolves to it; `GCE_METADATA_HOST`
//!   names another and is trusted without that check). On Compute Engine: `cloud.provider`,
//!   `cloud.platform`, `cloud.account.id` (project id), `cloud.availability_zone` and `cloud.region`
//!   (from the zone), `host.id`, `host.name` (instance name), `host.type` (the machine type as the
//!   server gives it) and, when enabled, `gcp.gce.instance.name` / `.hostname`; on GKE
//!   (`KUBERNETES_SERVICE_HOST` set) `k8s.cluster.name` and the cluster's zone or region. On Cloud
//!   Run, Cloud Functions and App Engine only `cloud.provider` and `cloud.account.id` (their `faas.*`
//!   attributes are left out), and the instance group manager attributes are not detected.
//! - `azure`: the instance metadata service's compute document (api-version 2020-09-01):
//!   `cloud.provider`, `cloud.platform` (`azure_vm`), `cloud.region`, `cloud.account.id`
//!   (subscription), `host.id` (vmId), `host.name` (osProfile.computerName, else name),
//!   `azure.vm.name`, `azure.vm.size`, `azure.vm.scaleset.name`, `azure.resourcegroup.name`;
//!   `cloud.availability_zone` when enabled; `azure.tag.<name>` for the tags matching `azure.tags`.
//!   `OTELBOX_AZURE_IMDS_ENDPOINT` (otelbox's own variable; the Collector has none) replaces
//!   http://169.254.169.254, for tests.
//!
//! Each detector's `resource_attributes: {<key>: {enabled: bool}}` switches its attributes, from the
//! defaults of the Collector's metadata.yaml. The network detectors run concurrently, all within
//! `timeout` (5s by default, the Collector's HTTP client timeout). A platform that is not there
//! (connection refused, no answer in time, an error status, for `gcp` no metadata server) adds
//! nothing and logs one line; with `fail_on_missing_metadata: true` that is an error. A detector
//! that finds its platform but then fails (say the identity document cannot be read) is retried
//! after 1s, 2s, ... until the timeout, and its error then stops otelbox from starting, as the
//! Collector's has since v0.146. Detectors run in order and the first to set a key wins; with
//! `override: true` (the default) detected values replace a resource's own, otherwise they only
//! fill gaps. Other detectors are refused by name; `refresh_interval` and `retry` are not
//! supported.

use crate::config::{ComponentId, Parser, Settings};
use crate::pipeline::{AnyConsumer, ResourceEditor};
use crate::processor::{ProcessorContext, ProcessorFactory, Stage};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_yaml_ng::Value;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

pub struct Factory;
// `resource_detection`: the Collector's newer spelling of the type.
crate::component_type!(Factory, "resourcedetection", &crate::pdata::Signal::ALL, parse, aliases: &["resource_detection"]);

impl ProcessorFactory for Factory {
    fn build(&self, context: &ProcessorContext<'_>, settings: &Settings, _next: AnyConsumer) -> anyhow::Result<Stage> {
        Ok(Stage::Items(Arc::new(ResourceDetectionProcessor::new(context.id, settings.get())?)))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detector {
    Env,
    System,
    Docker,
    Ec2,
    Gcp,
    Azure,
}

impl Detector {
    const ALL: [Detector; 6] = [
        Detector::Env,
        Detector::System,
        Detector::Docker,
        Detector::Ec2,
        Detector::Gcp,
        Detector::Azure,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Detector::Env => "env",
            Detector::System => "system",
            Detector::Docker => "docker",
            Detector::Ec2 => "ec2",
            Detector::Gcp => "gcp",
            Detector::Azure => "azure",
        }
    }

    fn from_name(name: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Asks a daemon or metadata service (so runs within `timeout`), rather than reading this process.
    fn is_network(self) -> bool {
        !matches!(self, Detector::Env | Detector::System)
    }

    /// The attributes the Collector's metadata.yaml lists for this detector, with whether each is
    /// enabled by default (`system` keeps its own fields).
    fn attributes(self) -> &'static [(&'static str, bool)] {
        match self {
            Detector::Env | Detector::System => &[],
            Detector::Docker => DOCKER_ATTRIBUTES,
            Detector::Ec2 => EC2_ATTRIBUTES,
            Detector::Gcp => GCP_ATTRIBUTES,
            Detector::Azure => AZURE_ATTRIBUTES,
        }
    }
}

const DOCKER_ATTRIBUTES: &[(&str, bool)] = &[
    ("host.name", true),
    ("os.type", true),
    ("container.name", false),
    ("container.image.name", false),
];

const EC2_ATTRIBUTES: &[(&str, bool)] = &[
    ("cloud.provider", true),
    ("cloud.platform", true),
    ("cloud.region", true),
    ("cloud.availability_zone", true),
    ("cloud.account.id", true),
    ("host.id", true),
    ("host.image.id", true),
    ("host.type", true),
    ("host.name", true),
];

/// The Collector's GCP attributes. otelbox never emits the `faas.*`, `gcp.cloud_run.*` and
/// `gcp.gce.instance_group_manager.*` ones (Cloud Run, Cloud Functions, App Engine and instance
/// groups are not detected); they are listed so that a config switching them loads.
const GCP_ATTRIBUTES: &[(&str, bool)] = &[
    ("cloud.provider", true),
    ("cloud.platform", true),
    ("cloud.account.id", true),
    ("cloud.region", true),
    ("cloud.availability_zone", true),
    ("host.id", true),
    ("host.name", true),
    ("host.type", true),
    ("k8s.cluster.name", true),
    ("gcp.gce.instance.name", false),
    ("gcp.gce.instance.hostname", false),
    ("faas.id", true),
    ("faas.instance", true),
    ("faas.name", true),
    ("faas.version", true),
    ("gcp.cloud_run.job.execution", true),
    ("gcp.cloud_run.job.task_index", true),
    ("gcp.gce.instance_group_manager.name", true),
    ("gcp.gce.instance_group_manager.region", true),
    ("gcp.gce.instance_group_manager.zone", true),
];

const AZURE_ATTRIBUTES: &[(&str, bool)] = &[
    ("cloud.provider", true),
    ("cloud.platform", true),
    ("cloud.region", true),
    ("cloud.account.id", true),
    ("cloud.availability_zone", false),
    ("host.id", true),
    ("host.name", true),
    ("azure.vm.name", true),
    ("azure.vm.size", true),
    ("azure.vm.scaleset.name", true),
    ("azure.resourcegroup.name", true),
];

/// The Collector's default `timeout` (its HTTP client's), bounding the network detectors as a whole.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The settings of one network detector's section (`docker`, `ec2`, `gcp`, `azure`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DetectorSettings {
    /// The attribute keys switched on (`resource_attributes`, from the Collector's defaults).
    pub attributes: Vec<&'static str>,
    /// `tags` (`ec2`, `azure`): regular expressions choosing the instance tags to add.
    pub tags: Vec<String>,
    /// `ec2.fail_on_missing_metadata` (deprecated in the Collector for the top-level key).
    pub fail_on_missing_metadata: bool,
}

impl DetectorSettings {
    fn defaults(detector: Detector) -> DetectorSettings {
        DetectorSettings {
            attributes: detector.attributes().iter().filter(|(_, on)| *on).map(|(key, _)| *key).collect(),
            ..DetectorSettings::default()
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResourceDetectionConfig {
    pub detectors: Vec<Detector>,
    pub override_existing: bool,
    /// `system` attributes switched on or off by `system.resource_attributes.<key>.enabled`.
    pub host_name: bool,
    pub os_type: bool,
    /// The optional `system` attributes switched on (`host.arch`, `host.cpu.*`, `os.description`, `host.id`).
    pub optional: Vec<&'static str>,
    /// `timeout`: how long the network detectors may take, together.
    pub timeout: Duration,
    /// `fail_on_missing_metadata`: a platform that is not there is an error, not an empty result.
    pub fail_on_missing_metadata: bool,
    pub docker: DetectorSettings,
    pub ec2: DetectorSettings,
    pub gcp: DetectorSettings,
    pub azure: DetectorSettings,
    /// What the detectors found, shared by the instances built from these settings.
    detected: DetectionCache,
}

impl Default for ResourceDetectionConfig {
    fn default() -> Self {
        ResourceDetectionConfig {
            detectors: Vec::new(),
            override_existing: true,
            host_name: true,
            os_type: true,
            optional: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            fail_on_missing_metadata: false,
            docker: DetectorSettings::defaults(Detector::Docker),
            ec2: DetectorSettings::defaults(Detector::Ec2),
            gcp: DetectorSettings::defaults(Detector::Gcp),
            azure: DetectorSettings::defaults(Detector::Azure),
            detected: DetectionCache::default(),
        }
    }
}

impl ResourceDetectionConfig {
    fn settings(&self, detector: Detector) -> Option<&DetectorSettings> {
        match detector {
            Detector::Env | Detector::System => None,
            Detector::Docker => Some(&self.docker),
            Detector::Ec2 => Some(&self.ec2),
            Detector::Gcp => Some(&self.gcp),
            Detector::Azure => Some(&self.azure),
        }
    }
}

/// The detected attributes of one component: the processor is built once per pipeline and signal
/// that lists it, and detects once, as the Collector keeps one provider per component. Only a
/// success is kept. Settings compare equal whatever it holds.
#[derive(Clone, Default)]
struct DetectionCache(Arc<Mutex<Option<Vec<KeyValue>>>>);

impl PartialEq for DetectionCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for DetectionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DetectionCache(..)")
    }
}

/// The `system` detector's optional attributes, off unless enabled, as in the Collector.
const OPTIONAL_SYSTEM_ATTRIBUTES: [&str; 9] = [
    "host.arch",
    "host.id",
    "host.cpu.vendor.id",
    "host.cpu.family",
    "host.cpu.model.id",
    "host.cpu.model.name",
    "host.cpu.stepping",
    "host.cpu.cache.l2.size",
    "os.description",
];

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> ResourceDetectionConfig {
    let mut config = ResourceDetectionConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(
        body,
        &[
            "detectors",
            "override",
            "timeout",
            "fail_on_missing_metadata",
            "env",
            "system",
            "docker",
            "ec2",
            "gcp",
            "azure",
        ],
        path,
    );
    let known = || Detector::ALL.map(Detector::name).join(", ");
    for (at, name) in p.list(body.get("detectors"), &format!("{path}.detectors")) {
        match name.as_str() {
            Some(name) => match Detector::from_name(name) {
                Some(detector) => config.detectors.push(detector),
                None => p.error(
                    &at,
                    format!("the detector \"{name}\" is not supported by otelbox (it has: {})", known()),
                ),
            },
            None => p.error(&at, "expected a detector name"),
        }
    }
    if config.detectors.is_empty() {
        p.error(&format!("{path}.detectors"), format!("needs at least one detector ({})", known()));
    }
    if let Some(v) = body.get("override") {
        config.override_existing = p.boolean(v, &format!("{path}.override")).unwrap_or(true);
    }
    if let Some(v) = body.get("timeout") {
        let at = format!("{path}.timeout");
        match p.duration(v, &at) {
            Some(timeout) if timeout.is_zero() => p.error(&at, "needs a positive duration (it bounds the detection at start-up)"),
            Some(timeout) => config.timeout = timeout,
            None => {}
        }
    }
    if let Some(v) = body.get("fail_on_missing_metadata") {
        config.fail_on_missing_metadata = p.boolean(v, &format!("{path}.fail_on_missing_metadata")).unwrap_or(false);
    }
    let system_path = format!("{path}.system");
    if let Some(system) = p.mapping(body.get("system"), &system_path) {
        p.only_keys(system, &["hostname_sources", "resource_attributes"], &system_path);
        for (at, source) in p.list(system.get("hostname_sources"), &format!("{system_path}.hostname_sources")) {
            if !matches!(source.as_str(), Some("os")) {
                p.error(&at, "otelbox reads the host name from the operating system only (os)");
            }
        }
        let attributes_path = format!("{system_path}.resource_attributes");
        for (key, setting) in p.entries(system.get("resource_attributes"), &attributes_path) {
            let at = format!("{attributes_path}.{key}");
            let Some(setting) = p.mapping(Some(setting), &at) else { continue };
            p.only_keys(setting, &["enabled"], &at);
            let enabled = setting.get("enabled").and_then(|v| p.boolean(v, &format!("{at}.enabled")));
            match (key.as_str(), enabled) {
                (_, None) => {}
                ("host.name", Some(on)) => config.host_name = on,
                ("os.type", Some(on)) => config.os_type = on,
                (optional, Some(on)) => match OPTIONAL_SYSTEM_ATTRIBUTES.iter().find(|k| **k == optional) {
                    Some(key) => {
                        config.optional.retain(|k| k != key);
                        if on {
                            config.optional.push(key);
                        }
                    }
                    None => p.error(
                        &at,
                        format!(
                            "unknown system attribute \"{optional}\" (expected one of: host.name, os.type, {})",
                            OPTIONAL_SYSTEM_ATTRIBUTES.join(", ")
                        ),
                    ),
                },
            }
        }
    }
    if let Some(env) = p.mapping(body.get("env"), &format!("{path}.env")) {
        p.only_keys(env, &[], &format!("{path}.env"));
    }
    config.docker = parse_detector(p, body.get("docker"), &format!("{path}.docker"), Detector::Docker);
    config.ec2 = parse_detector(p, body.get("ec2"), &format!("{path}.ec2"), Detector::Ec2);
    config.gcp = parse_detector(p, body.get("gcp"), &format!("{path}.gcp"), Detector::Gcp);
    config.azure = parse_detector(p, body.get("azure"), &format!("{path}.azure"), Detector::Azure);
    config
}

/// A network detector's section: `resource_attributes` for all, `tags` for `ec2` and `azure`,
/// and `ec2`'s AWS SDK settings.
fn parse_detector(p: &mut Parser, value: Option<&Value>, path: &str, detector: Detector) -> DetectorSettings {
    let mut settings = DetectorSettings::defaults(detector);
    let Some(section) = p.mapping(value, path) else {
        return settings;
    };
    let keys: &[&str] = match detector {
        Detector::Ec2 => &[
            "resource_attributes",
            "tags",
            "tags_from_imds",
            "max_attempts",
            "max_backoff",
            "fail_on_missing_metadata",
        ],
        Detector::Azure => &["resource_attributes", "tags"],
        _ => &["resource_attributes"],
    };
    p.only_keys(section, keys, path);

    let table = detector.attributes();
    let attributes_path = format!("{path}.resource_attributes");
    for (key, setting) in p.entries(section.get("resource_attributes"), &attributes_path) {
        let at = format!("{attributes_path}.{key}");
        let Some(setting) = p.mapping(Some(setting), &at) else { continue };
        p.only_keys(setting, &["enabled"], &at);
        let Some(on) = setting.get("enabled").and_then(|v| p.boolean(v, &format!("{at}.enabled"))) else {
            continue;
        };
        match table.iter().find(|(known, _)| *known == key) {
            Some((known, _)) => {
                settings.attributes.retain(|k| k != known);
                if on {
                    settings.attributes.push(*known);
                }
            }
            None => p.error(
                &at,
                format!(
                    "unknown {} attribute \"{key}\" (expected one of: {})",
                    detector.name(),
                    table.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                ),
            ),
        }
    }

    if keys.contains(&"tags") {
        let tags_path = format!("{path}.tags");
        for (i, pattern) in p.string_list(section.get("tags"), &tags_path).into_iter().enumerate() {
            match regex::Regex::new(&pattern) {
                Ok(_) => settings.tags.push(pattern),
                Err(e) => p.error(&format!("{tags_path}[{i}]"), format!("not a valid regular expression: {e}")),
            }
        }
    }
    if detector == Detector::Ec2 {
        let from_imds = section
            .get("tags_from_imds")
            .and_then(|v| p.boolean(v, &format!("{path}.tags_from_imds")))
            .unwrap_or(false);
        if !settings.tags.is_empty() && !from_imds {
            p.error(
                &format!("{path}.tags"),
                "otelbox reads EC2 instance tags from the instance metadata only: set tags_from_imds: true \
(the EC2 DescribeTags API, the Collector's default, is not built in)",
            );
        }
        if let Some(v) = section.get("max_attempts") {
            let _ = p.integer(v, &format!("{path}.max_attempts"));
        }
        if let Some(v) = section.get("max_backoff") {
            let _ = p.duration(v, &format!("{path}.max_backoff"));
        }
        if let Some(v) = section.get("fail_on_missing_metadata") {
            settings.fail_on_missing_metadata = p.boolean(v, &format!("{path}.fail_on_missing_metadata")).unwrap_or(false);
        }
    }
    settings
}

pub struct ResourceDetectionProcessor {
    detected: Vec<KeyValue>,
    override_existing: bool,
}

impl ResourceDetectionProcessor {
    /// Detects (the first time these settings are built) and keeps the attributes. A network
    /// detector's failure is an error: the topology, and so otelbox, does not start.
    pub fn new(id: &ComponentId, config: &ResourceDetectionConfig) -> anyhow::Result<Self> {
        let mut cached = config.detected.0.lock().unwrap_or_else(PoisonError::into_inner);
        let detected = match &*cached {
            Some(detected) => detected.clone(),
            None => {
                let env = std::env::var("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_default();
                let host = host_name();
                let network = if config.detectors.iter().any(|d| d.is_network()) {
                    detect_over_network(&id.to_string(), config, &Endpoints::from_env(), &host)
                        .map_err(|e| anyhow::anyhow!("resource detection failed: {e}"))?
                } else {
                    Vec::new()
                };
                let detected = detect(config, &env, &host, &SystemFacts::read(), &network);
                *cached = Some(detected.clone());
                detected
            }
        };
        Ok(ResourceDetectionProcessor {
            detected,
            override_existing: config.override_existing,
        })
    }
}

impl ResourceEditor for ResourceDetectionProcessor {
    fn edit(&self, resource: &mut Option<Resource>) {
        let resource = resource.get_or_insert_with(Resource::default);
        for detected in &self.detected {
            match resource.attributes.iter_mut().find(|kv| kv.key == detected.key) {
                Some(existing) if self.override_existing => existing.value = detected.value.clone(),
                Some(_) => {}
                None => resource.attributes.push(detected.clone()),
            }
        }
    }
}

/// What one network detector found, in its order.
type Found = Vec<(String, any_value::Value)>;

/// The attributes the detectors find, in the configured order, the first detector to set a key
/// winning; `network` holds what the network detectors found.
fn detect(
    config: &ResourceDetectionConfig,
    otel_resource_attributes: &str,
    host_name: &str,
    facts: &SystemFacts,
    network: &[(Detector, Found)],
) -> Vec<KeyValue> {
    let mut found: Vec<(String, any_value::Value)> = Vec::new();
    let mut put = |key: &str, value: any_value::Value| {
        if !found.iter().any(|(k, _)| k == key) {
            found.push((key.to_string(), value));
        }
    };
    let text = any_value::Value::StringValue;
    for detector in &config.detectors {
        match detector {
            Detector::Env => {
                for pair in otel_resource_attributes.split(',').filter(|p| !p.trim().is_empty()) {
                    if let Some((key, value)) = pair.split_once('=') {
                        put(
                            key.trim(),
                            text(percent_encoding::percent_decode_str(value.trim()).decode_utf8_lossy().into_owned()),
                        );
                    }
                }
            }
            Detector::System => {
                if config.host_name && !host_name.is_empty() {
                    put("host.name", text(host_name.to_string()));
                }
                if config.os_type {
                    put("os.type", text(std::env::consts::OS.to_string()));
                }
                for key in &config.optional {
                    match *key {
                        "host.arch" => put(key, text(semconv_arch(std::env::consts::ARCH).to_string())),
                        // An int, as the semantic conventions type it.
                        "host.cpu.cache.l2.size" => {
                            if let Some(bytes) = facts.get(key).and_then(|b| b.parse::<i64>().ok()) {
                                put(key, any_value::Value::IntValue(bytes));
                            }
                        }
                        _ => {
                            if let Some(value) = facts.get(key) {
                                put(key, text(value.to_string()));
                            }
                        }
                    }
                }
            }
            Detector::Docker | Detector::Ec2 | Detector::Gcp | Detector::Azure => {
                if let Some((_, attributes)) = network.iter().find(|(d, _)| d == detector) {
                    for (key, value) in attributes {
                        put(key, value.clone());
                    }
                }
            }
        }
    }
    found
        .into_iter()
        .map(|(key, value)| KeyValue {
            key,
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        })
        .collect()
}

/// What the `system` detector's optional attributes read from this machine, once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SystemFacts {
    /// `host.cpu.*` from /proc/cpuinfo's first processor (`host.cpu.cache.l2.size` in bytes).
    cpu: Vec<(&'static str, String)>,
    /// `os.description`: os-release's PRETTY_NAME.
    os_description: Option<String>,
    /// `host.id`: /etc/machine-id.
    host_id: Option<String>,
}

impl SystemFacts {
    fn read() -> SystemFacts {
        let text = |path: &str| std::fs::read_to_string(path).ok();
        SystemFacts {
            cpu: text("/proc/cpuinfo").map(|t| cpu_facts(&t)).unwrap_or_default(),
            os_description: text("/etc/os-release")
                .or_else(|| text("/usr/lib/os-release"))
                .and_then(|t| os_description(&t)),
            host_id: text("/etc/machine-id").map(|t| t.trim().to_string()).filter(|t| !t.is_empty()),
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "os.description" => self.os_description.as_deref(),
            "host.id" => self.host_id.as_deref(),
            _ => self.cpu.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str()),
        }
    }
}

/// `host.cpu.*` from /proc/cpuinfo's first processor block.
fn cpu_facts(cpuinfo: &str) -> Vec<(&'static str, String)> {
    let first = cpuinfo.split("\n\n").next().unwrap_or_default();
    let field = |name: &str| {
        first
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut facts = Vec::new();
    for (key, name) in [
        ("host.cpu.vendor.id", "vendor_id"),
        ("host.cpu.family", "cpu family"),
        ("host.cpu.model.id", "model"),
        ("host.cpu.model.name", "model name"),
        ("host.cpu.stepping", "stepping"),
    ] {
        if let Some(value) = field(name) {
            facts.push((key, value));
        }
    }
    // "cache size : 512 KB" -> bytes.
    if let Some(size) = field("cache size").and_then(|v| v.split_whitespace().next().and_then(|n| n.parse::<i64>().ok())) {
        facts.push(("host.cpu.cache.l2.size", (size * 1024).to_string()));
    }
    facts
}

/// os-release's PRETTY_NAME, unquoted.
fn os_description(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
        .filter(|v| !v.is_empty())
}

/// The semantic conventions' `host.arch` values.
fn semconv_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

// ---- The network detectors ------------------------------------------------------------------

/// The link-local address of the EC2, Azure and GCE metadata services.
const LINK_LOCAL: &str = "http://169.254.169.254";
/// The EC2 metadata service over IPv6 (`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`).
const IMDS_IPV6: &str = "http://[fd00:ec2::254]";
/// otelbox's own override of the Azure metadata service's base URL (the Collector has none).
const AZURE_ENDPOINT_ENV: &str = "OTELBOX_AZURE_IMDS_ENDPOINT";
/// A metadata service on this machine's link answers a connection at once; waiting longer only
/// slows a start where there is none (a laptop whose router drops 169.254.169.254).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The first pause before a failed detector runs again; each next one doubles.
const RETRY_INITIAL: Duration = Duration::from_secs(1);
/// The most read from the Docker daemon for one answer.
const DOCKER_BODY_LIMIT: usize = 4 << 20;
const USER_AGENT: &str = concat!("otelbox/", env!("CARGO_PKG_VERSION"));

/// Where the network detectors look, read from the environment once, at the edge (tests build
/// their own).
#[derive(Clone, Debug)]
struct Endpoints {
    /// `DOCKER_HOST`, or the default socket; an error for one otelbox cannot reach.
    docker: Result<DockerEndpoint, String>,
    /// `None` when `AWS_EC2_METADATA_DISABLED` is true.
    ec2: Option<Ec2Endpoint>,
    gcp: GcpEndpoint,
    /// The Azure metadata service's base URL.
    azure: String,
    /// The GCP platform the environment names (Google's detector decides it from variables).
    gcp_hint: GcpHint,
}

#[derive(Clone, Debug, PartialEq)]
enum DockerEndpoint {
    Unix(PathBuf),
    /// `host:port`, plain HTTP.
    Tcp(String),
}

impl fmt::Display for DockerEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerEndpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            DockerEndpoint::Tcp(address) => write!(f, "tcp://{address}"),
        }
    }
}

#[derive(Clone, Debug)]
struct Ec2Endpoint {
    base: String,
    /// Fall back to IMDSv1 when the token request answers 403, 404 or 405 (unless
    /// `AWS_EC2_METADATA_V1_DISABLED`).
    imds_v1_fallback: bool,
}

#[derive(Clone, Debug)]
struct GcpEndpoint {
    base: String,
    /// `GCE_METADATA_HOST` names it: on GCE without asking, as Google's library decides.
    trusted: bool,
    /// Also look metadata.google.internal up; the first of the two answers decides...
    dns_probe: bool,
    /// ...unless the machine's DMI product name says Google: then either saying yes decides.
    try_harder: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum GcpHint {
    /// Compute Engine, if the metadata server has a machine type.
    None,
    /// `KUBERNETES_SERVICE_HOST` is set.
    Gke,
    /// Cloud Run, Cloud Functions or App Engine, whose attributes otelbox does not detect.
    Serverless(&'static str),
}

impl Endpoints {
    fn from_env() -> Endpoints {
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let is_true = |name: &str| var(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let ec2 = (!is_true("AWS_EC2_METADATA_DISABLED")).then(|| {
            let ipv6 = var("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").is_some_and(|m| m.eq_ignore_ascii_case("ipv6"));
            let base = var("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or_else(|| (if ipv6 { IMDS_IPV6 } else { LINK_LOCAL }).to_string());
            Ec2Endpoint {
                base: base.trim_end_matches('/').to_string(),
                imds_v1_fallback: !is_true("AWS_EC2_METADATA_V1_DISABLED"),
            }
        });
        let gcp = match var("GCE_METADATA_HOST") {
            Some(host) => GcpEndpoint {
                base: format!("http://{}", host.trim_end_matches('/')),
                trusted: true,
                dns_probe: false,
                try_harder: false,
            },
            None => GcpEndpoint {
                base: LINK_LOCAL.to_string(),
                trusted: false,
                dns_probe: true,
                try_harder: std::fs::read_to_string("/sys/class/dmi/id/product_name")
                    .is_ok_and(|name| matches!(name.trim(), "Google" | "Google Compute Engine")),
            },
        };
        let gcp_hint = if var("KUBERNETES_SERVICE_HOST").is_some() {
            GcpHint::Gke
        } else if var("K_CONFIGURATION").is_some() || var("CLOUD_RUN_JOB").is_some() {
            GcpHint::Serverless("Cloud Run")
        } else if var("FUNCTION_TARGET").is_some() {
            GcpHint::Serverless("Cloud Functions")
        } else if var("GAE_SERVICE").is_some() {
            GcpHint::Serverless("App Engine")
        } else {
            GcpHint::None
        };
        Endpoints {
            docker: docker_endpoint(var("DOCKER_HOST").as_deref(), var("DOCKER_TLS_VERIFY").is_some()),
            ec2,
            gcp,
            azure: var(AZURE_ENDPOINT_ENV)
                .map(|base| base.trim_end_matches('/').to_string())
                .unwrap_or_else(|| LINK_LOCAL.to_string()),
            gcp_hint,
        }
    }
}

/// The Docker daemon `DOCKER_HOST` names (the Docker client's default socket without it).
fn docker_endpoint(docker_host: Option<&str>, tls_verify: bool) -> Result<DockerEndpoint, String> {
    let host = docker_host.unwrap_or("unix:///var/run/docker.sock");
    if let Some(path) = host.strip_prefix("unix://") {
        return Ok(DockerEndpoint::Unix(PathBuf::from(path)));
    }
    if let Some(rest) = host.strip_prefix("tcp://").or_else(|| host.strip_prefix("http://")) {
        if tls_verify {
            return Err(format!(
                "DOCKER_HOST={host} with DOCKER_TLS_VERIFY: otelbox reaches the Docker daemon without TLS only"
            ));
        }
        let address = rest.split('/').next().unwrap_or_default();
        // The Docker client's port when none is given.
        let address = if address.rsplit_once(':').is_some_and(|(_, port)| !port.contains(']')) {
            address.to_string()
        } else {
            format!("{address}:2375")
        };
        return Ok(DockerEndpoint::Tcp(address));
    }
    Err(format!(
        "DOCKER_HOST={host}: otelbox reaches the Docker daemon over unix:// or tcp:// only"
    ))
}

/// Detection on the network, run from the synchronous start-up on a thread of its own with its own
/// runtime (the caller may be inside one), bounded by `timeout`.
fn detect_over_network(
    id: &str,
    config: &ResourceDetectionConfig,
    endpoints: &Endpoints,
    host_name: &str,
) -> Result<Vec<(Detector, Found)>, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start the detection: {e}"))?;
                let result = runtime.block_on(network_detection(id, config, endpoints, host_name));
                // A name lookup still running on the blocking pool is not waited for.
                runtime.shutdown_background();
                result
            })
            .join()
            .unwrap_or_else(|_| Err("the detection panicked".to_string()))
    })
}

/// What a network detector's attempt found.
enum Outcome {
    Found(Found),
    /// The platform is not there (why, for the log).
    Absent(String),
}

/// What one detection needs: the settings, where to look, a client, and the deadline.
struct Plan<'a> {
    id: &'a str,
    config: &'a ResourceDetectionConfig,
    endpoints: &'a Endpoints,
    /// This host's name (the container the `docker` detector inspects).
    host_name: &'a str,
    client: reqwest::Client,
    deadline: Instant,
}

impl Plan<'_> {
    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// Runs the configured network detectors concurrently, as the Collector does, each with its
/// retries, all within `timeout`. Any detector's error is the error of the whole.
async fn network_detection(
    id: &str,
    config: &ResourceDetectionConfig,
    endpoints: &Endpoints,
    host_name: &str,
) -> Result<Vec<(Detector, Found)>, String> {
    let mut wanted: Vec<Detector> = Vec::new();
    for detector in config.detectors.iter().copied().filter(|d| d.is_network()) {
        if !wanted.contains(&detector) {
            wanted.push(detector);
        }
    }
    if wanted.contains(&Detector::Docker) {
        if let Err(e) = &endpoints.docker {
            return Err(format!("the docker detector: {e}"));
        }
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(config.timeout.min(CONNECT_TIMEOUT))
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| format!("cannot make the HTTP client: {e}"))?;
    let plan = Plan {
        id,
        config,
        endpoints,
        host_name,
        client,
        deadline: Instant::now() + config.timeout,
    };
    let names: Vec<&str> = wanted.iter().map(|d| d.name()).collect();
    tracing::info!(processor = %id, detectors = ?names, "resourcedetection: began detecting resource information");
    let results = futures::future::join_all(wanted.iter().map(|detector| run_detector(*detector, &plan))).await;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for (detector, result) in wanted.into_iter().zip(results) {
        match result {
            Ok(attributes) => found.push((detector, attributes)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    let count: usize = found.iter().map(|(_, attributes)| attributes.len()).sum();
    tracing::info!(processor = %id, attributes = count, "resourcedetection: detected resource information");
    Ok(found)
}

/// One detector until it answers: a platform that is not there is an empty result (logged once),
/// or an error with `fail_on_missing_metadata`; an error is retried after 1s, 2s, ... while the
/// deadline allows, as the Collector's provider does.
async fn run_detector(detector: Detector, plan: &Plan<'_>) -> Result<Found, String> {
    let name = detector.name();
    let fail_on_missing =
        plan.config.fail_on_missing_metadata || plan.config.settings(detector).is_some_and(|s| s.fail_on_missing_metadata);
    let mut pause = RETRY_INITIAL;
    loop {
        // Each wait inside is bounded by the deadline already; this only guards against a hang.
        let result = tokio::time::timeout_at(plan.deadline + Duration::from_millis(250), attempt(detector, plan))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within the timeout ({:?})", plan.config.timeout)));
        let error = match result {
            Ok(Outcome::Found(found)) => return Ok(found),
            Ok(Outcome::Absent(why)) if !fail_on_missing => {
                tracing::info!(processor = %plan.id, "resourcedetection: {name}: {why}; the detector adds nothing");
                return Ok(Vec::new());
            }
            Ok(Outcome::Absent(why)) => format!("{why} (and fail_on_missing_metadata is true)"),
            Err(error) => error,
        };
        if Instant::now() + pause >= plan.deadline {
            return Err(format!("the {name} detector: {error}"));
        }
        tracing::warn!(processor = %plan.id, detector = name, %error, retry_in = ?pause, "resourcedetection: failed to detect resource");
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}

async fn attempt(detector: Detector, plan: &Plan<'_>) -> Result<Outcome, String> {
    match detector {
        Detector::Docker => docker(plan).await,
        Detector::Ec2 => ec2(plan).await,
        Detector::Gcp => gcp(plan).await,
        Detector::Azure => azure(plan).await,
        Detector::Env | Detector::System => Ok(Outcome::Found(Vec::new())),
    }
}

/// A detector's attributes as it finds them, kept only when switched on.
struct Attributes<'a> {
    enabled: &'a [&'static str],
    found: Found,
}

impl<'a> Attributes<'a> {
    fn new(settings: &'a DetectorSettings) -> Self {
        Attributes {
            enabled: &settings.attributes,
            found: Vec::new(),
        }
    }

    fn wants(&self, key: &str) -> bool {
        self.enabled.contains(&key)
    }

    fn put(&mut self, key: &'static str, value: impl Into<String>) {
        if self.wants(key) {
            self.found.push((key.to_string(), any_value::Value::StringValue(value.into())));
        }
    }

    /// A tag: not one of the switchable attributes.
    fn put_tag(&mut self, key: String, value: String) {
        self.found.push((key, any_value::Value::StringValue(value)));
    }
}

/// An error and its causes, `a: b: c` (reqwest's own message leaves out why a connection failed).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A JSON object's field, its name matched regardless of case as Go's decoder does.
fn json_field<'v>(value: &'v serde_json::Value, name: &str) -> Option<&'v serde_json::Value> {
    let object = value.as_object()?;
    object
        .get(name)
        .or_else(|| object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// A JSON object's text field; empty when absent or not text (Go's zero value).
fn json_text(value: &serde_json::Value, name: &str) -> String {
    json_field(value, name).and_then(|v| v.as_str()).unwrap_or_default().to_string()
}

/// `GET url` with `headers`: the body of a 200, else an error saying what came back.
async fn get_text(plan: &Plan<'_>, url: &str, headers: &[(&str, &str)]) -> Result<String, String> {
    let mut request = plan.client.get(url).timeout(plan.remaining());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.map_err(|e| format!("GET {url}: {}", describe(&e)))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(format!("GET {url}: {}", response.status()));
    }
    response.text().await.map_err(|e| format!("GET {url}: {}", describe(&e)))
}

// ---- docker

/// `host.name` and `os.type` from the daemon's `/info`, and the container's name and image from
/// inspecting it when those are switched on. Any failure means no daemon here (the Collector logs
/// and adds nothing, unless `fail_on_missing_metadata`).
async fn docker(plan: &Plan<'_>) -> Result<Outcome, String> {
    let endpoint = plan.endpoints.docker.as_ref().map_err(|e| e.clone())?;
    let absent = |why: String| Ok(Outcome::Absent(format!("no Docker daemon answers at {endpoint} ({why})")));
    let mut out = Attributes::new(&plan.config.docker);
    if out.wants("host.name") || out.wants("os.type") {
        let info = match docker_json(plan, endpoint, "/info").await {
            Ok(info) => info,
            Err(why) => return absent(why),
        };
        out.put("host.name", json_text(&info, "Name"));
        out.put("os.type", os_type(&json_text(&info, "OSType")));
    }
    if out.wants("container.name") || out.wants("container.image.name") {
        let path = format!("/containers/{}/json", plan.host_name);
        let container = match docker_json(plan, endpoint, &path).await {
            Ok(container) => container,
            Err(why) => return absent(why),
        };
        out.put("container.name", json_text(&container, "Name").trim_start_matches('/').to_string());
        let image = json_field(&container, "Config").map(|c| json_text(c, "Image")).unwrap_or_default();
        out.put("container.image.name", image);
    }
    Ok(Outcome::Found(out.found))
}

/// The semantic conventions' `os.type` for the daemon's `OSType` (Go's GOOS names).
fn os_type(docker_os_type: &str) -> String {
    match docker_os_type.to_ascii_lowercase().as_str() {
        "dragonfly" => "dragonflybsd".to_string(),
        "zos" => "z_os".to_string(),
        other => other.to_string(),
    }
}

async fn docker_json(plan: &Plan<'_>, endpoint: &DockerEndpoint, path: &str) -> Result<serde_json::Value, String> {
    let (status, body) = tokio::time::timeout_at(plan.deadline, docker_get(endpoint, path))
        .await
        .map_err(|_| format!("GET {path}: no answer within the timeout"))??;
    if status != 200 {
        return Err(format!("GET {path} answered {status}: {}", String::from_utf8_lossy(&body).trim()));
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {path}: not JSON: {e}"))
}

/// `GET path` from the Docker daemon: the status and the body.
async fn docker_get(endpoint: &DockerEndpoint, path: &str) -> Result<(u16, Vec<u8>), String> {
    match endpoint {
        #[cfg(unix)]
        DockerEndpoint::Unix(socket) => {
            let stream = tokio::net::UnixStream::connect(socket)
                .await
                .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
            http1_get(stream, path).await
        }
        #[cfg(not(unix))]
        DockerEndpoint::Unix(socket) => Err(format!("unix sockets are not available here ({})", socket.display())),
        DockerEndpoint::Tcp(address) => {
            let stream = tokio::net::TcpStream::connect(address.as_str())
                .await
                .map_err(|e| format!("cannot connect to {address}: {e}"))?;
            http1_get(stream, path).await
        }
    }
}

/// One HTTP/1.1 `GET` on a connected stream (hyper's client connection, so chunked answers work).
async fn http1_get<S>(stream: S, path: &str) -> Result<(u16, Vec<u8>), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    use hyper::body::Body as _;
    let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, String>(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let exchange = async {
        let request = http::Request::get(path)
            // Go's HTTP server, the daemon's, refuses an HTTP/1.1 request without a Host.
            .header(http::header::HOST, "docker")
            .header(http::header::USER_AGENT, USER_AGENT)
            .header(http::header::ACCEPT, "application/json")
            .body(String::new())
            .map_err(|e| format!("GET {path}: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("GET {path}: {}", describe(&e)))?;
        let status = response.status().as_u16();
        let mut body = std::pin::pin!(response.into_body());
        let mut bytes = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
            let frame = frame.map_err(|e| format!("GET {path}: {}", describe(&e)))?;
            if let Some(data) = frame.data_ref() {
                bytes.extend_from_slice(data);
                if bytes.len() > DOCKER_BODY_LIMIT {
                    return Err(format!("GET {path}: the answer is over {DOCKER_BODY_LIMIT} bytes"));
                }
            }
        }
        Ok::<(u16, Vec<u8>), String>((status, bytes))
    };
    let result = exchange.await;
    driver.abort();
    result
}

// ---- ec2

/// The EC2 instance metadata: the platform is there when `meta-data/instance-id` answers (as the
/// Collector checks); the identity document and host name failing then is an error.
async fn ec2(plan: &Plan<'_>) -> Result<Outcome, String> {
    let Some(endpoint) = &plan.endpoints.ec2 else {
        return Ok(Outcome::Absent("AWS_EC2_METADATA_DISABLED is true".to_string()));
    };
    let base = endpoint.base.as_str();
    let absent = |why: String| Ok(Outcome::Absent(format!("no EC2 instance metadata at {base} ({why})")));
    let token_url = format!("{base}/latest/api/token");
    let answer = plan
        .client
        .put(&token_url)
        .header("X-aws-ec2-metadata-token-ttl-seconds", "21600")
        .timeout(plan.remaining())
        .send()
        .await;
    let token = match answer {
        Ok(response) if response.status() == reqwest::StatusCode::OK => match response.text().await {
            Ok(token) => Some(token.trim().to_string()),
            Err(e) => return absent(format!("PUT {token_url}: {}", describe(&e))),
        },
        // No IMDSv2 here: IMDSv1, as the AWS SDK falls back.
        Ok(response) if endpoint.imds_v1_fallback && matches!(response.status().as_u16(), 403..=405) => None,
        Ok(response) => return absent(format!("PUT {token_url}: {}", response.status())),
        Err(e) => return absent(format!("PUT {token_url}: {}", describe(&e))),
    };
    let token = token.as_deref();
    if let Err(why) = imds_get(plan, base, token, "meta-data/instance-id").await {
        return absent(why);
    }
    let document = imds_get(plan, base, token, "dynamic/instance-identity/document")
        .await
        .map_err(|e| format!("failed getting identity document: {e}"))?;
    let document: serde_json::Value =
        serde_json::from_str(&document).map_err(|e| format!("failed getting identity document: not JSON: {e}"))?;
    let hostname = imds_get(plan, base, token, "meta-data/hostname")
        .await
        .map_err(|e| format!("failed getting hostname: {e}"))?;

    let mut out = Attributes::new(&plan.config.ec2);
    out.put("cloud.provider", "aws");
    out.put("cloud.platform", "aws_ec2");
    out.put("cloud.region", json_text(&document, "region"));
    out.put("cloud.availability_zone", json_text(&document, "availabilityZone"));
    out.put("cloud.account.id", json_text(&document, "accountId"));
    out.put("host.id", json_text(&document, "instanceId"));
    out.put("host.image.id", json_text(&document, "imageId"));
    out.put("host.type", json_text(&document, "instanceType"));
    out.put("host.name", hostname.trim());

    let tags = &plan.config.ec2.tags;
    if !tags.is_empty() {
        let patterns: Vec<regex::Regex> = tags.iter().filter_map(|t| regex::Regex::new(t).ok()).collect();
        let keys = imds_get(plan, base, token, "meta-data/tags/instance")
            .await
            .map_err(|e| format!("failed fetching ec2 instance tags: {e}"))?;
        for key in keys.lines().map(str::trim).filter(|k| !k.is_empty()) {
            if patterns.iter().any(|p| p.is_match(key)) {
                let value = imds_get(plan, base, token, &format!("meta-data/tags/instance/{key}"))
                    .await
                    .map_err(|e| format!("failed fetching ec2 instance tags: {e}"))?;
                out.put_tag(format!("ec2.tag.{key}"), value);
            }
        }
    }
    Ok(Outcome::Found(out.found))
}

async fn imds_get(plan: &Plan<'_>, base: &str, token: Option<&str>, path: &str) -> Result<String, String> {
    let url = format!("{base}/latest/{path}");
    match token {
        Some(token) => get_text(plan, &url, &[("X-aws-ec2-metadata-token", token)]).await,
        None => get_text(plan, &url, &[]).await,
    }
}

// ---- gcp

/// The GCE metadata server: first whether this is GCP at all (else nothing), then the platform by
/// the environment (GKE, a serverless one) or by the machine type (Compute Engine). Every value
/// that cannot be read then is an error, as in the Collector (GKE's `host.name` excepted).
async fn gcp(plan: &Plan<'_>) -> Result<Outcome, String> {
    let endpoint = &plan.endpoints.gcp;
    if !endpoint.trusted && !on_gce(plan, endpoint).await {
        return Ok(Outcome::Absent(format!("no GCE metadata server at {}", endpoint.base)));
    }
    let mut out = Attributes::new(&plan.config.gcp);
    let mut errors = Vec::new();
    out.put("cloud.provider", "gcp");
    if out.wants("cloud.account.id") {
        match gce_get(plan, "project/project-id").await {
            Ok(project) => out.put("cloud.account.id", project),
            Err(e) => errors.push(e),
        }
    }
    match plan.endpoints.gcp_hint {
        GcpHint::Gke => {
            out.put("cloud.platform", "gcp_kubernetes_engine");
            if out.wants("cloud.region") || out.wants("cloud.availability_zone") {
                match gce_get(plan, "instance/attributes/cluster-location").await {
                    Ok(location) => {
                        let hyphens = location.matches('-').count();
                        match hyphens {
                            1 => out.put("cloud.region", location),
                            2 => out.put("cloud.availability_zone", location),
                            _ => errors.push(format!("unrecognized format for cluster location: {location}")),
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
            if out.wants("k8s.cluster.name") {
                match gce_get(plan, "instance/attributes/cluster-name").await {
                    Ok(cluster) => out.put("k8s.cluster.name", cluster),
                    Err(e) => errors.push(e),
                }
            }
            if out.wants("host.id") {
                match gce_get(plan, "instance/id").await {
                    Ok(id) => out.put("host.id", id),
                    Err(e) => errors.push(e),
                }
            }
            // Not readable under workload identity: left out, not an error.
            if out.wants("host.name") {
                match gce_get(plan, "instance/name").await {
                    Ok(name) => out.put("host.name", name),
                    Err(e) => {
                        tracing::info!(processor = %plan.id, error = %e, "resourcedetection: gcp: the GKE node's name is not readable; host.name is left out")
                    }
                }
            }
        }
        GcpHint::Serverless(platform) => {
            tracing::info!(processor = %plan.id, "resourcedetection: gcp: on {platform}, otelbox detects cloud.provider and cloud.account.id only");
        }
        GcpHint::None => match gce_get(plan, "instance/machine-type").await {
            // Not Compute Engine: the Collector adds the provider and project only.
            Err(e) => {
                tracing::info!(processor = %plan.id, error = %e, "resourcedetection: gcp: no machine type, so not Compute Engine; cloud.provider and cloud.account.id only");
            }
            Ok(machine_type) => {
                out.put("cloud.platform", "gcp_compute_engine");
                if out.wants("cloud.availability_zone") || out.wants("cloud.region") {
                    match gce_get(plan, "instance/zone").await.and_then(|zone| zone_and_region(&zone)) {
                        Ok((zone, region)) => {
                            out.put("cloud.availability_zone", zone);
                            out.put("cloud.region", region);
                        }
                        Err(e) => errors.push(e),
                    }
                }
                out.put("host.type", machine_type);
                if out.wants("host.id") {
                    match gce_get(plan, "instance/id").await {
                        Ok(id) => out.put("host.id", id),
                        Err(e) => errors.push(e),
                    }
                }
                if out.wants("host.name") || out.wants("gcp.gce.instance.name") {
                    match gce_get(plan, "instance/name").await {
                        Ok(name) => {
                            out.put("host.name", name.clone());
                            out.put("gcp.gce.instance.name", name);
                        }
                        Err(e) => errors.push(e),
                    }
                }
                if out.wants("gcp.gce.instance.hostname") {
                    match gce_get(plan, "instance/hostname").await {
                        Ok(hostname) => out.put("gcp.gce.instance.hostname", hostname),
                        Err(e) => errors.push(e),
                    }
                }
            }
        },
    }
    if errors.is_empty() {
        Ok(Outcome::Found(out.found))
    } else {
        Err(errors.join("; "))
    }
}

/// Whether a GCE metadata server is here, decided as Google's client library does: it answers
/// `GET /` with `Metadata-Flavor: Google`, or metadata.google.internal resolves to it; the first
/// answer decides, unless the DMI product name says Google, when either yes does.
async fn on_gce(plan: &Plan<'_>, endpoint: &GcpEndpoint) -> bool {
    use futures::future::Either;
    let http = async {
        let probe = format!("{}/", endpoint.base);
        match plan.client.get(&probe).timeout(plan.remaining()).send().await {
            Ok(response) => response
                .headers()
                .get("metadata-flavor")
                .is_some_and(|flavor| flavor.as_bytes() == b"Google"),
            Err(_) => false,
        }
    };
    if !endpoint.dns_probe {
        return http.await;
    }
    let dns = async {
        match tokio::time::timeout_at(plan.deadline, tokio::net::lookup_host(("metadata.google.internal.", 80))).await {
            Ok(Ok(mut addresses)) => addresses.any(|a| a.ip() == std::net::IpAddr::V4(std::net::Ipv4Addr::new(169, 254, 169, 254))),
            _ => false,
        }
    };
    match futures::future::select(Box::pin(http), Box::pin(dns)).await {
        Either::Left((found, dns)) => found || (endpoint.try_harder && dns.await),
        Either::Right((found, http)) => found || (endpoint.try_harder && http.await),
    }
}

/// One value from the metadata server, `computeMetadata/v1/<path>`, trimmed.
async fn gce_get(plan: &Plan<'_>, path: &str) -> Result<String, String> {
    let url = format!("{}/computeMetadata/v1/{path}", plan.endpoints.gcp.base);
    get_text(plan, &url, &[("Metadata-Flavor", "Google")])
        .await
        .map(|value| value.trim().to_string())
}

/// `projects/123/zones/us-central1-a` -> (`us-central1-a`, `us-central1`).
fn zone_and_region(zone_path: &str) -> Result<(String, String), String> {
    let zone = zone_path.rsplit('/').next().unwrap_or_default();
    if zone.is_empty() {
        return Err("no zone detected from GCE metadata server".to_string());
    }
    let parts: Vec<&str> = zone.splitn(3, '-').collect();
    if parts.len() != 3 {
        return Err(format!("zone was not in the expected format: country-region-zone. Got {zone}"));
    }
    Ok((zone.to_string(), format!("{}-{}", parts[0], parts[1])))
}

// ---- azure

/// The Azure instance metadata's compute document; any failure means not Azure (the Collector
/// logs and adds nothing). Missing fields give empty values, as in the Collector.
async fn azure(plan: &Plan<'_>) -> Result<Outcome, String> {
    let url = format!(
        "{}/metadata/instance/compute?api-version=2020-09-01&format=json",
        plan.endpoints.azure
    );
    let compute: serde_json::Value = match get_text(plan, &url, &[("Metadata", "true")]).await {
        Ok(text) => match serde_json::from_str(&text) {
            Ok(compute) => compute,
            Err(e) => return Ok(Outcome::Absent(format!("the Azure instance metadata at {url} is not JSON ({e})"))),
        },
        Err(why) => return Ok(Outcome::Absent(format!("no Azure instance metadata ({why})"))),
    };
    let name = json_text(&compute, "name");
    let computer_name = json_field(&compute, "osProfile")
        .map(|profile| json_text(profile, "computerName"))
        .unwrap_or_default();
    let mut out = Attributes::new(&plan.config.azure);
    out.put("cloud.provider", "azure");
    out.put("cloud.platform", "azure_vm");
    out.put("host.name", if computer_name.is_empty() { name.clone() } else { computer_name });
    out.put("cloud.region", json_text(&compute, "location"));
    out.put("host.id", json_text(&compute, "vmId"));
    out.put("cloud.account.id", json_text(&compute, "subscriptionId"));
    out.put("cloud.availability_zone", json_text(&compute, "zone"));
    out.put("azure.vm.name", name);
    out.put("azure.vm.size", json_text(&compute, "vmSize"));
    out.put("azure.vm.scaleset.name", json_text(&compute, "vmScaleSetName"));
    out.put("azure.resourcegroup.name", json_text(&compute, "resourceGroupName"));

    let tags = &plan.config.azure.tags;
    if !tags.is_empty() {
        let patterns: Vec<regex::Regex> = tags.iter().filter_map(|t| regex::Regex::new(t).ok()).collect();
        let listed = json_field(&compute, "tagsList")
            .and_then(|l| l.as_array())
            .cloned()
            .unwrap_or_default();
        for tag in &listed {
            let key = json_text(tag, "name");
            if patterns.iter().any(|p| p.is_match(&key)) {
                out.put_tag(format!("azure.tag.{key}"), json_text(tag, "value"));
            }
        }
    }
    Ok(Outcome::Found(out.found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    fn config(detectors: &[Detector], override_existing: bool) -> ResourceDetectionConfig {
        ResourceDetectionConfig {
            detectors: detectors.to_vec(),
            override_existing,
            ..ResourceDetectionConfig::default()
        }
    }

    fn errors_of(yaml: &str) -> Vec<String> {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        parse(&mut Parser::collecting(&mut errors), &value, "processors.resourcedetection");
        errors
    }

    fn parsed(yaml: &str) -> ResourceDetectionConfig {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "processors.resourcedetection");
        assert!(errors.is_empty(), "{errors:?}");
        config
    }

    fn pairs(attributes: &[KeyValue]) -> Vec<(String, String)> {
        attributes
            .iter()
            .map(|kv| {
                let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    other => format!("{other:?}"),
                };
                (kv.key.clone(), value)
            })
            .collect()
    }

    fn texts(found: &[(String, any_value::Value)]) -> Vec<(String, String)> {
        found
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    any_value::Value::StringValue(s) => s.clone(),
                    other => format!("{other:?}"),
                };
                (key.clone(), value)
            })
            .collect()
    }

    fn strings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn value_of(pairs: &[(String, String)], key: &str) -> Option<String> {
        pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn detectors_run_in_order_and_the_first_to_set_a_key_wins() {
        let detected = detect(
            &config(&[Detector::Env, Detector::System], true),
            "service.namespace=shop, host.name=from-env,note=a%2Cb",
            "box-1",
            &SystemFacts::default(),
            &[],
        );
        assert_eq!(
            pairs(&detected),
            [
                ("service.namespace".into(), "shop".into()),
                ("host.name".into(), "from-env".into()),
                ("note".into(), "a,b".into()),
                ("os.type".into(), std::env::consts::OS.to_string()),
            ]
        );
    }

    #[test]
    fn a_network_detectors_attributes_take_its_place_in_the_order() {
        let text = |s: &str| any_value::Value::StringValue(s.to_string());
        let network = vec![(
            Detector::Docker,
            vec![
                ("host.name".to_string(), text("docker-desktop")),
                ("os.type".to_string(), text("linux")),
            ],
        )];
        let detectors = [Detector::Env, Detector::Docker, Detector::System];
        let detected = detect(
            &config(&detectors, true),
            "deployment.environment=test",
            "box-1",
            &SystemFacts::default(),
            &network,
        );
        assert_eq!(
            pairs(&detected),
            strings(&[
                ("deployment.environment", "test"),
                ("host.name", "docker-desktop"),
                ("os.type", "linux"),
            ]),
            "docker's host.name and os.type come before the system detector's"
        );
    }

    #[test]
    fn override_false_only_fills_gaps() {
        let existing = || {
            Some(Resource {
                attributes: detect(&config(&[Detector::Env], true), "host.name=mine", "", &SystemFacts::default(), &[]),
                ..Default::default()
            })
        };
        for (override_existing, want) in [(true, "box-1"), (false, "mine")] {
            let processor = ResourceDetectionProcessor {
                detected: detect(
                    &config(&[Detector::System], override_existing),
                    "",
                    "box-1",
                    &SystemFacts::default(),
                    &[],
                ),
                override_existing,
            };
            let mut resource = existing();
            processor.edit(&mut resource);
            let attributes = pairs(&resource.unwrap().attributes);
            assert!(attributes.contains(&("host.name".into(), want.into())), "{attributes:?}");
            assert!(attributes.iter().any(|(k, _)| k == "os.type"));
        }
    }

    #[test]
    fn unknown_detectors_and_attributes_are_errors_with_their_paths() {
        let errors = errors_of("detectors: [env, eks]\nsystem: { resource_attributes: { host.cpu: { enabled: true } } }");
        assert_eq!(
            errors[0],
            "processors.resourcedetection.detectors[1]: the detector \"eks\" is not supported by otelbox \
(it has: env, system, docker, ec2, gcp, azure)"
        );
        assert!(
            errors[1].starts_with("processors.resourcedetection.system.resource_attributes.host.cpu: unknown system attribute"),
            "{errors:?}"
        );
    }

    #[test]
    fn docker_and_the_cloud_detectors_parse_in_their_order_with_the_collectors_defaults() {
        assert_eq!(
            parsed("detectors: [env, docker, system]").detectors,
            [Detector::Env, Detector::Docker, Detector::System]
        );
        let cloud = parsed("detectors: [gcp, ec2, azure]");
        assert_eq!(cloud.detectors, [Detector::Gcp, Detector::Ec2, Detector::Azure]);
        assert_eq!(cloud.timeout, Duration::from_secs(5), "the Collector's default");
        assert!(!cloud.fail_on_missing_metadata);
        assert_eq!(cloud.ec2.attributes, EC2_ATTRIBUTES.iter().map(|(k, _)| *k).collect::<Vec<_>>());
        assert!(!cloud.azure.attributes.contains(&"cloud.availability_zone"), "off by default");
        assert!(cloud.azure.attributes.contains(&"azure.vm.name"));
        assert!(!cloud.gcp.attributes.contains(&"gcp.gce.instance.hostname"), "off by default");
        assert_eq!(cloud.docker.attributes, ["host.name", "os.type"]);
    }

    #[test]
    fn the_network_detectors_sections_switch_attributes_and_check_their_keys() {
        let config = parsed(
            "detectors: [ec2, azure]\ntimeout: 2s\nfail_on_missing_metadata: true\nec2:\n  max_attempts: 10\n  max_backoff: 5m\n  \
resource_attributes:\n    host.name: { enabled: false }\nazure:\n  tags: ['^env$']\n  resource_attributes:\n    \
cloud.availability_zone: { enabled: true }\n",
        );
        assert_eq!(config.timeout, Duration::from_secs(2));
        assert!(config.fail_on_missing_metadata);
        assert!(!config.ec2.attributes.contains(&"host.name"));
        assert!(config.ec2.attributes.contains(&"host.id"));
        assert!(config.azure.attributes.contains(&"cloud.availability_zone"));
        assert_eq!(config.azure.tags, ["^env$"]);

        let errors = errors_of(
            "detectors: [gcp]\ntimeout: 0s\ngcp:\n  tags: [x]\n  resource_attributes:\n    host.arch: { enabled: true }\n\
ec2:\n  tags: ['^team$']\nazure:\n  tags: ['(']\n",
        );
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(
            errors[0].starts_with("processors.resourcedetection.timeout: needs a positive duration"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("processors.resourcedetection.ec2.tags: otelbox reads EC2 instance tags from the instance metadata only"),
            "{errors:?}"
        );
        assert!(
            errors[2].starts_with("processors.resourcedetection.gcp.tags: unknown key"),
            "{errors:?}"
        );
        assert!(
            errors[3].starts_with("processors.resourcedetection.gcp.resource_attributes.host.arch: unknown gcp attribute"),
            "{errors:?}"
        );
        assert!(
            errors[4].starts_with("processors.resourcedetection.azure.tags[0]: not a valid regular expression"),
            "{errors:?}"
        );
    }

    #[test]
    fn the_testdata_examples_parse_without_errors() {
        let value: Value = serde_yaml_ng::from_str(include_str!("testdata/resourcedetection.yaml")).unwrap();
        let mut errors = Vec::new();
        let mut detectors = Vec::new();
        for (id, section) in value.as_mapping().unwrap() {
            let path = format!("processors.{}", id.as_str().unwrap());
            detectors.push(parse(&mut Parser::collecting(&mut errors), section, &path).detectors);
        }
        assert!(errors.is_empty(), "{errors:?}");
        use Detector::*;
        assert_eq!(detectors, [vec![Env, System], vec![Env, Docker, System], vec![Gcp, Ec2, Azure]]);
    }

    #[test]
    fn docker_host_names_the_daemon() {
        assert_eq!(
            docker_endpoint(None, false),
            Ok(DockerEndpoint::Unix("/var/run/docker.sock".into()))
        );
        assert_eq!(
            docker_endpoint(Some("unix:///run/user/1000/docker.sock"), false),
            Ok(DockerEndpoint::Unix("/run/user/1000/docker.sock".into()))
        );
        assert_eq!(
            docker_endpoint(Some("tcp://10.0.0.5"), false),
            Ok(DockerEndpoint::Tcp("10.0.0.5:2375".into()))
        );
        assert_eq!(
            docker_endpoint(Some("tcp://10.0.0.5:2376/"), false),
            Ok(DockerEndpoint::Tcp("10.0.0.5:2376".into()))
        );
        assert!(docker_endpoint(Some("tcp://10.0.0.5:2376"), true)
            .unwrap_err()
            .contains("without TLS only"));
        assert!(docker_endpoint(Some("ssh://me@host"), false)
            .unwrap_err()
            .contains("unix:// or tcp://"));
    }

    #[test]
    fn a_gce_zone_gives_the_zone_and_its_region() {
        assert_eq!(
            zone_and_region("projects/1234567890/zones/us-central1-a"),
            Ok(("us-central1-a".to_string(), "us-central1".to_string()))
        );
        assert!(zone_and_region("projects/1234567890/zones/us-central1").is_err());
        assert!(zone_and_region("").is_err());
    }

    // ---- Fake daemons and metadata servers: canned answers on a local socket.

    #[derive(Clone, Debug)]
    struct Seen {
        method: String,
        target: String,
        headers: Vec<(String, String)>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// A canned answer: the status, extra headers (`transfer-encoding: chunked` sends the body in
    /// chunks), the body.
    type Answer = (u16, Vec<(&'static str, &'static str)>, String);
    type Respond = Arc<dyn Fn(&Seen) -> Answer + Send + Sync>;
    type Log = Arc<Mutex<Vec<Seen>>>;

    async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, respond: Respond, log: Log) {
        let mut head: Vec<u8> = Vec::new();
        let mut buffer = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buffer[..n]),
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let seen = Seen {
            method: first.next().unwrap_or_default().to_string(),
            target: first.next().unwrap_or_default().to_string(),
            headers: lines
                .take_while(|l| !l.is_empty())
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect(),
        };
        log.lock().unwrap().push(seen.clone());
        let (status, headers, body) = (*respond)(&seen);
        let chunked = headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && *v == "chunked");
        let mut out = format!("HTTP/1.1 {status} Fake\r\nconnection: close\r\n");
        for (k, v) in &headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if chunked {
            out.push_str("\r\n");
            let (a, b) = body.split_at(body.len() / 2);
            for part in [a, b].into_iter().filter(|p| !p.is_empty()) {
                out.push_str(&format!("{:x}\r\n{part}\r\n", part.len()));
            }
            out.push_str("0\r\n\r\n");
        } else {
            out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
        }
        let _ = stream.write_all(out.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    /// A fake HTTP server on 127.0.0.1: its base URL and the requests it saw.
    async fn fake_server(respond: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> (String, Log) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log: Log = Arc::default();
        let respond: Respond = Arc::new(respond);
        let seen = log.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_one(stream, respond.clone(), seen.clone()));
            }
        });
        (base, log)
    }

    /// A fake Docker daemon on a unix socket: the requests it saw.
    #[cfg(unix)]
    fn fake_daemon(socket: &std::path::Path, respond: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Log {
        let listener = tokio::net::UnixListener::bind(socket).unwrap();
        let log: Log = Arc::default();
        let respond: Respond = Arc::new(respond);
        let seen = log.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_one(stream, respond.clone(), seen.clone()));
            }
        });
        log
    }

    /// A base URL nothing listens on.
    fn closed_base() -> String {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = probe.local_addr().unwrap();
        drop(probe);
        format!("http://{address}")
    }

    /// Every detector pointed at `base` (the GCE check by its `GET /` only, no name lookup).
    fn endpoints_at(base: &str) -> Endpoints {
        Endpoints {
            docker: Ok(DockerEndpoint::Tcp(base.trim_start_matches("http://").to_string())),
            ec2: Some(Ec2Endpoint {
                base: base.to_string(),
                imds_v1_fallback: true,
            }),
            gcp: GcpEndpoint {
                base: base.to_string(),
                trusted: false,
                dns_probe: false,
                try_harder: false,
            },
            azure: base.to_string(),
            gcp_hint: GcpHint::None,
        }
    }

    fn plan<'a>(config: &'a ResourceDetectionConfig, endpoints: &'a Endpoints) -> Plan<'a> {
        Plan {
            id: "resourcedetection",
            config,
            endpoints,
            host_name: "box-1",
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            deadline: Instant::now() + config.timeout,
        }
    }

    /// The identity document of the EC2 user guide's example.
    const IDENTITY_DOCUMENT: &str = r#"{
    "accountId" : "123456789012",
    "architecture" : "x86_64",
    "availabilityZone" : "us-west-2b",
    "billingProducts" : null,
    "devpayProductCodes" : null,
    "marketplaceProductCodes" : null,
    "imageId" : "ami-5fb8c835",
    "instanceId" : "i-1234567890abcdef0",
    "instanceType" : "t2.micro",
    "kernelId" : null,
    "pendingTime" : "2016-11-19T16:32:11Z",
    "privateIp" : "10.158.112.84",
    "ramdiskId" : null,
    "region" : "us-west-2",
    "version" : "2017-09-30"
}"#;

    /// An IMDSv2-only EC2 metadata service (GETs without the token are refused).
    fn imds(r: &Seen) -> Answer {
        let token = "AQAEAtoken==";
        let authorised = r.header("x-aws-ec2-metadata-token") == Some(token);
        match (r.method.as_str(), r.target.as_str()) {
            ("PUT", "/latest/api/token") if r.header("x-aws-ec2-metadata-token-ttl-seconds") == Some("21600") => {
                (200, vec![], token.to_string())
            }
            ("PUT", _) => (400, vec![], String::new()),
            _ if !authorised => (401, vec![], String::new()),
            (_, "/latest/meta-data/instance-id") => (200, vec![], "i-1234567890abcdef0".into()),
            (_, "/latest/dynamic/instance-identity/document") => (200, vec![], IDENTITY_DOCUMENT.into()),
            (_, "/latest/meta-data/hostname") => (200, vec![], "ip-10-158-112-84.us-west-2.compute.internal".into()),
            (_, "/latest/meta-data/tags/instance") => (200, vec![], "Name\nteam".into()),
            (_, "/latest/meta-data/tags/instance/team") => (200, vec![], "checkout".into()),
            _ => (404, vec![], String::new()),
        }
    }

    /// A GCE metadata server (values as in Google's detector's tests, in the server's formats).
    fn gce(r: &Seen) -> Answer {
        let flavor = vec![("metadata-flavor", "Google")];
        if r.target == "/" {
            return (200, flavor, "computeMetadata/\n".into());
        }
        if r.header("metadata-flavor") != Some("Google") {
            return (403, vec![], String::new());
        }
        let value = match r.target.strip_prefix("/computeMetadata/v1/").unwrap_or_default() {
            "project/project-id" => "my-project",
            "instance/id" => "1234567891",
            "instance/name" => "my-instance",
            "instance/hostname" => "my-instance.us-central1-a.c.my-project.internal",
            "instance/machine-type" => "projects/1234567890/machineTypes/e2-medium",
            "instance/zone" => "projects/1234567890/zones/us-central1-a",
            "instance/attributes/cluster-name" => "shop-cluster",
            "instance/attributes/cluster-location" => "us-central1",
            _ => return (404, flavor, String::new()),
        };
        (200, flavor, value.into())
    }

    /// The compute document of the Azure IMDS documentation's example (trimmed).
    const AZURE_COMPUTE: &str = r#"{
    "azEnvironment": "AzurePublicCloud",
    "location": "westus",
    "name": "examplevmname",
    "osProfile": { "adminUsername": "admin", "computerName": "examplevm-host", "disablePasswordAuthentication": "true" },
    "osType": "Linux",
    "resourceGroupName": "macikgo-test-may-23",
    "subscriptionId": "8d10da13-8125-4ba9-a717-bf7490507b3d",
    "tagsList": [ { "name": "env", "value": "prod" }, { "name": "owner", "value": "shop" } ],
    "vmId": "02aab8a4-74ef-476e-8182-f6d2ba4166a6",
    "vmScaleSetName": "crpteste9vflji9",
    "vmSize": "Standard_A3",
    "zone": "1"
}"#;

    fn azure_imds(r: &Seen) -> Answer {
        match (r.target.as_str(), r.header("metadata")) {
            ("/metadata/instance/compute?api-version=2020-09-01&format=json", Some("true")) => {
                (200, vec![("content-type", "application/json")], AZURE_COMPUTE.into())
            }
            _ => (400, vec![], "Bad request".into()),
        }
    }

    #[tokio::test]
    async fn ec2_reads_the_identity_document_and_host_name_with_an_imdsv2_token() {
        let (base, seen) = fake_server(imds).await;
        let config = parsed("detectors: [ec2]\nec2: { tags: ['^team$'], tags_from_imds: true }");
        let endpoints = endpoints_at(&base);
        let found = run_detector(Detector::Ec2, &plan(&config, &endpoints)).await.unwrap();
        assert_eq!(
            texts(&found),
            strings(&[
                ("cloud.provider", "aws"),
                ("cloud.platform", "aws_ec2"),
                ("cloud.region", "us-west-2"),
                ("cloud.availability_zone", "us-west-2b"),
                ("cloud.account.id", "123456789012"),
                ("host.id", "i-1234567890abcdef0"),
                ("host.image.id", "ami-5fb8c835"),
                ("host.type", "t2.micro"),
                ("host.name", "ip-10-158-112-84.us-west-2.compute.internal"),
                ("ec2.tag.team", "checkout"),
            ])
        );
        let seen = seen.lock().unwrap();
        assert_eq!((seen[0].method.as_str(), seen[0].target.as_str()), ("PUT", "/latest/api/token"));
        assert!(seen[1..].iter().all(|r| r.method == "GET"), "{seen:?}");
    }

    #[tokio::test]
    async fn ec2_falls_back_to_imdsv1_and_leaves_out_what_is_switched_off() {
        let (base, _) = fake_server(|r: &Seen| match (r.method.as_str(), r.target.as_str()) {
            ("PUT", _) => (405, vec![], String::new()),
            (_, "/latest/meta-data/instance-id") => (200, vec![], "i-1234567890abcdef0".into()),
            (_, "/latest/dynamic/instance-identity/document") => (200, vec![], IDENTITY_DOCUMENT.into()),
            (_, "/latest/meta-data/hostname") => (200, vec![], "ip-10-158-112-84".into()),
            _ => (404, vec![], String::new()),
        })
        .await;
        let config = parsed(
            "detectors: [ec2]\nec2:\n  resource_attributes:\n    host.name: { enabled: false }\n    host.image.id: { enabled: false }\n",
        );
        let endpoints = endpoints_at(&base);
        let found = texts(&run_detector(Detector::Ec2, &plan(&config, &endpoints)).await.unwrap());
        assert_eq!(value_of(&found, "cloud.region").as_deref(), Some("us-west-2"));
        assert_eq!(value_of(&found, "host.name"), None);
        assert_eq!(value_of(&found, "host.image.id"), None);
        assert_eq!(found.len(), 7, "{found:?}");
    }

    #[tokio::test]
    async fn ec2_found_but_failing_is_an_error_once_the_timeout_is_spent() {
        let (base, _) = fake_server(|r: &Seen| match (r.method.as_str(), r.target.as_str()) {
            ("PUT", _) => (404, vec![], String::new()),
            (_, "/latest/meta-data/instance-id") => (200, vec![], "i-1234567890abcdef0".into()),
            _ => (500, vec![], String::new()),
        })
        .await;
        let config = parsed("detectors: [ec2]\ntimeout: 300ms");
        let endpoints = endpoints_at(&base);
        let error = run_detector(Detector::Ec2, &plan(&config, &endpoints)).await.unwrap_err();
        assert!(
            error.starts_with("the ec2 detector: failed getting identity document: GET "),
            "{error}"
        );
    }

    #[tokio::test]
    async fn gcp_on_compute_engine_reads_the_metadata_server_with_its_header() {
        let (base, seen) = fake_server(gce).await;
        let config = parsed("detectors: [gcp]\ngcp: { resource_attributes: { gcp.gce.instance.hostname: { enabled: true } } }");
        let endpoints = endpoints_at(&base);
        let found = run_detector(Detector::Gcp, &plan(&config, &endpoints)).await.unwrap();
        assert_eq!(
            texts(&found),
            strings(&[
                ("cloud.provider", "gcp"),
                ("cloud.account.id", "my-project"),
                ("cloud.platform", "gcp_compute_engine"),
                ("cloud.availability_zone", "us-central1-a"),
                ("cloud.region", "us-central1"),
                ("host.type", "projects/1234567890/machineTypes/e2-medium"),
                ("host.id", "1234567891"),
                ("host.name", "my-instance"),
                ("gcp.gce.instance.hostname", "my-instance.us-central1-a.c.my-project.internal"),
            ])
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].target, "/", "the GCE check first");
        assert!(seen[1..].iter().all(|r| r.header("metadata-flavor") == Some("Google")), "{seen:?}");
    }

    #[tokio::test]
    async fn gcp_on_gke_adds_the_cluster_and_its_location() {
        let (base, _) = fake_server(gce).await;
        let config = parsed("detectors: [gcp]");
        let mut endpoints = endpoints_at(&base);
        endpoints.gcp_hint = GcpHint::Gke;
        let found = run_detector(Detector::Gcp, &plan(&config, &endpoints)).await.unwrap();
        assert_eq!(
            texts(&found),
            strings(&[
                ("cloud.provider", "gcp"),
                ("cloud.account.id", "my-project"),
                ("cloud.platform", "gcp_kubernetes_engine"),
                ("cloud.region", "us-central1"),
                ("k8s.cluster.name", "shop-cluster"),
                ("host.id", "1234567891"),
                ("host.name", "my-instance"),
            ])
        );
    }

    #[tokio::test]
    async fn another_clouds_metadata_server_is_not_gce() {
        let (base, _) = fake_server(imds).await;
        let config = parsed("detectors: [gcp]");
        let endpoints = endpoints_at(&base);
        assert_eq!(run_detector(Detector::Gcp, &plan(&config, &endpoints)).await.unwrap(), Vec::new());
    }

    #[tokio::test]
    async fn azure_reads_the_compute_document_and_the_chosen_tags() {
        let (base, _) = fake_server(azure_imds).await;
        let config = parsed(
            "detectors: [azure]\nazure:\n  tags: ['^env$']\n  resource_attributes:\n    cloud.availability_zone: { enabled: true }\n",
        );
        let endpoints = endpoints_at(&base);
        let found = run_detector(Detector::Azure, &plan(&config, &endpoints)).await.unwrap();
        assert_eq!(
            texts(&found),
            strings(&[
                ("cloud.provider", "azure"),
                ("cloud.platform", "azure_vm"),
                ("host.name", "examplevm-host"),
                ("cloud.region", "westus"),
                ("host.id", "02aab8a4-74ef-476e-8182-f6d2ba4166a6"),
                ("cloud.account.id", "8d10da13-8125-4ba9-a717-bf7490507b3d"),
                ("cloud.availability_zone", "1"),
                ("azure.vm.name", "examplevmname"),
                ("azure.vm.size", "Standard_A3"),
                ("azure.vm.scaleset.name", "crpteste9vflji9"),
                ("azure.resourcegroup.name", "macikgo-test-may-23"),
                ("azure.tag.env", "prod"),
            ])
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn docker_asks_the_daemon_on_its_socket() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let seen = fake_daemon(&socket, |r: &Seen| match r.target.as_str() {
            // Chunked, as the daemon's Go server sends a long /info.
            "/info" => (
                200,
                vec![("content-type", "application/json"), ("transfer-encoding", "chunked")],
                r#"{"ID":"7TRN:IPZB","Name":"docker-desktop","OSType":"Linux","OperatingSystem":"Docker Desktop"}"#.into(),
            ),
            "/containers/box-1/json" => (
                200,
                vec![("content-type", "application/json")],
                r#"{"Id":"4fa6e0f0c678","Name":"/otelbox","Config":{"Hostname":"box-1","Image":"ghcr.io/example/otelbox:1.0"}}"#.into(),
            ),
            _ => (404, vec![], r#"{"message":"page not found"}"#.into()),
        });
        let config = parsed(
            "detectors: [docker]\ndocker:\n  resource_attributes:\n    container.name: { enabled: true }\n    container.image.name: { enabled: true }\n",
        );
        let mut endpoints = endpoints_at(&closed_base());
        endpoints.docker = Ok(DockerEndpoint::Unix(socket.clone()));
        let found = run_detector(Detector::Docker, &plan(&config, &endpoints)).await.unwrap();
        assert_eq!(
            texts(&found),
            strings(&[
                ("host.name", "docker-desktop"),
                ("os.type", "linux"),
                ("container.name", "otelbox"),
                ("container.image.name", "ghcr.io/example/otelbox:1.0"),
            ])
        );
        {
            let seen = seen.lock().unwrap();
            assert_eq!((seen[0].method.as_str(), seen[0].target.as_str()), ("GET", "/info"));
            assert_eq!(seen[0].header("host"), Some("docker"));
        }

        endpoints.docker = Ok(DockerEndpoint::Unix(dir.path().join("missing.sock")));
        assert_eq!(
            run_detector(Detector::Docker, &plan(&config, &endpoints)).await.unwrap(),
            Vec::new()
        );
    }

    #[tokio::test]
    async fn absent_platforms_add_nothing_and_answer_quickly() {
        let config = parsed("detectors: [env, docker, gcp, ec2, azure, system]");
        let endpoints = endpoints_at(&closed_base());
        let started = std::time::Instant::now();
        let network = network_detection("resourcedetection", &config, &endpoints, "box-1").await.unwrap();
        assert_eq!(
            network.iter().map(|(d, found)| (*d, found.len())).collect::<Vec<_>>(),
            [(Detector::Docker, 0), (Detector::Gcp, 0), (Detector::Ec2, 0), (Detector::Azure, 0)]
        );
        assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn fail_on_missing_metadata_makes_an_absent_platform_an_error() {
        let config = parsed("detectors: [ec2, azure]\ntimeout: 300ms\nfail_on_missing_metadata: true");
        let endpoints = endpoints_at(&closed_base());
        let error = network_detection("resourcedetection", &config, &endpoints, "box-1")
            .await
            .unwrap_err();
        assert!(
            error.contains("the ec2 detector: no EC2 instance metadata at http://127.0.0.1:"),
            "{error}"
        );
        assert!(error.contains("the azure detector: no Azure instance metadata"), "{error}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_cloud_detectors_run_from_the_blocking_start_and_merge_in_their_order() {
        let (ec2_base, _) = fake_server(imds).await;
        let (gcp_base, _) = fake_server(gce).await;
        let (azure_base, _) = fake_server(azure_imds).await;
        let config = parsed("detectors: [gcp, ec2, azure]");
        let mut endpoints = endpoints_at(&closed_base());
        endpoints.ec2 = Some(Ec2Endpoint {
            base: ec2_base,
            imds_v1_fallback: true,
        });
        endpoints.gcp.base = gcp_base;
        endpoints.azure = azure_base;
        let network = tokio::task::block_in_place(|| detect_over_network("resourcedetection", &config, &endpoints, "box-1")).unwrap();
        let detected = pairs(&detect(&config, "", "box-1", &SystemFacts::default(), &network));
        // gcp is first: its values win; ec2 and azure add what it did not set.
        assert_eq!(value_of(&detected, "cloud.provider").as_deref(), Some("gcp"));
        assert_eq!(value_of(&detected, "host.name").as_deref(), Some("my-instance"));
        assert_eq!(value_of(&detected, "cloud.region").as_deref(), Some("us-central1"));
        assert_eq!(value_of(&detected, "host.image.id").as_deref(), Some("ami-5fb8c835"));
        assert_eq!(value_of(&detected, "azure.vm.size").as_deref(), Some("Standard_A3"));
        assert_eq!(detected.iter().filter(|(k, _)| k == "host.id").count(), 1, "{detected:?}");
    }

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n\
model name\t: AMD EPYC 7B13\nstepping\t: 0\ncache size\t: 512 KB\n\nprocessor\t: 1\nvendor_id\t: Other\n";

    #[test]
    fn the_optional_system_attributes_come_from_cpuinfo_os_release_and_machine_id_when_enabled() {
        let facts = SystemFacts {
            cpu: cpu_facts(CPUINFO),
            os_description: os_description("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            host_id: Some("4f1c0ffee".into()),
        };
        let yaml = "detectors: [system]\nsystem:\n  resource_attributes:\n    host.cpu.vendor.id: { enabled: true }\n    \
host.cpu.family: { enabled: true }\n    host.cpu.model.id: { enabled: true }\n    host.cpu.model.name: { enabled: true }\n    \
host.cpu.stepping: { enabled: true }\n    host.cpu.cache.l2.size: { enabled: true }\n    os.description: { enabled: true }\n    \
host.id: { enabled: true }\n    os.type: { enabled: false }\n";
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "processors.resourcedetection");
        assert!(errors.is_empty(), "{errors:?}");
        let detected = detect(&config, "", "box-1", &facts, &[]);
        assert_eq!(
            pairs(&detected),
            [
                ("host.name".into(), "box-1".into()),
                ("host.cpu.vendor.id".into(), "AuthenticAMD".into()),
                ("host.cpu.family".into(), "25".into()),
                ("host.cpu.model.id".into(), "1".into()),
                ("host.cpu.model.name".into(), "AMD EPYC 7B13".into()),
                ("host.cpu.stepping".into(), "0".into()),
                ("host.cpu.cache.l2.size".into(), "Some(IntValue(524288))".into()),
                ("os.description".into(), "Debian GNU/Linux 12 (bookworm)".into()),
                ("host.id".into(), "4f1c0ffee".into()),
            ],
            "the first processor's block only; the cache size in bytes, as an int"
        );
    }
}
