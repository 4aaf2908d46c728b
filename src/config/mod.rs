//! The Collector-shaped YAML config of `otelbox up --config`: environment substitution, parsing into
//! typed component settings, and validation that reports every error with its path (a config with
//! errors starts nothing). With no file, `Config::builtin()` is the default pipeline for all three
//! signals: otlp -> memory_limiter -> batch -> otelbox.

pub mod env;

use crate::pdata::Signal;
use crate::processor::batch::BatchConfig;
use crate::processor::memory_limiter::MemoryLimiterConfig;
use crate::{exporter, processor};
use serde_yaml_ng::{Mapping, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `type[/name]`, e.g. `batch` or `attributes/agent`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ComponentId {
    pub kind: String,
    pub name: Option<String>,
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}/{name}", self.kind),
            None => f.write_str(&self.kind),
        }
    }
}

impl ComponentId {
    fn parse(text: &str) -> Result<ComponentId, String> {
        let (kind, name) = match text.split_once('/') {
            Some((kind, name)) => (kind, Some(name.to_string())),
            None => (text, None),
        };
        let valid = kind.len() <= 63
            && kind.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid || name.as_deref() == Some("") {
            return Err(format!(
                "'{text}' is not a component id (type[/name], type like ^[a-zA-Z][0-9a-zA-Z_]{{0,62}}$)"
            ));
        }
        Ok(ComponentId {
            kind: canonical_kind(kind).to_string(),
            name,
        })
    }
}

/// The Collector's renamed aliases.
fn canonical_kind(kind: &str) -> &str {
    match kind {
        "otlp_grpc" => "otlp",
        "otlp_http" => "otlphttp",
        "span_metrics" => "spanmetrics",
        other => other,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct OtlpReceiver {
    /// Both protocols always listen (a protocol left out of the file keeps its default endpoint).
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    /// `grpc.max_recv_msg_size_mib` and `http.max_request_body_size`, in bytes.
    pub grpc_max_request_bytes: Option<usize>,
    pub http_max_request_bytes: Option<usize>,
}

impl Default for OtlpReceiver {
    fn default() -> Self {
        OtlpReceiver {
            grpc: SocketAddr::from(([127, 0, 0, 1], 4317)),
            http: SocketAddr::from(([127, 0, 0, 1], 4318)),
            grpc_max_request_bytes: None,
            http_max_request_bytes: None,
        }
    }
}

#[derive(Clone, Debug)]
pub enum ProcessorSettings {
    Batch(BatchConfig),
    MemoryLimiter(MemoryLimiterConfig),
    Attributes(processor::attributes::AttributesConfig),
    Resource(processor::attributes::ResourceConfig),
    Filter(processor::filter::FilterConfig),
    Transform(processor::transform::TransformConfig),
    Redaction(processor::redaction::RedactionConfig),
    TailSampling(processor::tail_sampling::TailSamplingConfig),
    ProbabilisticSampler(processor::probabilistic_sampler::ProbabilisticSamplerConfig),
}

impl ProcessorSettings {
    /// Tail sampling decides per trace, so it has no place in a metrics or logs pipeline. (The
    /// probabilistic sampler samples traces and logs and passes metrics through unchanged.)
    fn supports(&self, signal: Signal) -> bool {
        !matches!(self, ProcessorSettings::TailSampling(_)) || signal == Signal::Traces
    }
}

/// The exporters besides the storage (which is `Config::storage`, id `otelbox`).
#[derive(Clone, Debug)]
pub enum ExporterSettings {
    Otelbox,
    Otlp(exporter::otlp::OtlpExporterConfig),
    OtlpHttp(exporter::otlphttp::OtlpHttpExporterConfig),
    Debug(exporter::debug::DebugExporterConfig),
    File(exporter::file::FileExporterConfig),
}

#[derive(Clone, Debug)]
pub enum ConnectorSettings {
    SpanMetrics(crate::connector::spanmetrics::SpanMetricsConfig),
}

impl ConnectorSettings {
    /// (the pipeline type it is an exporter in, the pipeline type it is a receiver in)
    fn signals(&self) -> (Signal, Signal) {
        match self {
            ConnectorSettings::SpanMetrics(_) => (Signal::Traces, Signal::Metrics),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct StorageExporter {
    pub retention: Option<Duration>,
    pub max_db_size: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    /// `traces`, `metrics/agents`, ...
    pub id: String,
    pub signal: Signal,
    pub receivers: Vec<ComponentId>,
    pub processors: Vec<ComponentId>,
    pub exporters: Vec<ComponentId>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_ca_file: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub otlp: OtlpReceiver,
    /// The zipkin receiver, when configured (it listens only then).
    pub zipkin: Option<crate::receiver::zipkin::ZipkinConfig>,
    pub processors: BTreeMap<ComponentId, ProcessorSettings>,
    pub exporters: BTreeMap<ComponentId, ExporterSettings>,
    pub connectors: BTreeMap<ComponentId, ConnectorSettings>,
    pub storage: StorageExporter,
    pub pipelines: Vec<Pipeline>,
    pub ingest_tokens: Vec<String>,
    pub api_tokens: Vec<String>,
    pub tls: Option<TlsSettings>,
}

/// Every problem found, each `path: what is wrong`.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{} error(s) in the config:\n  {}", .0.len(), .0.join("\n  "))]
pub struct ConfigErrors(pub Vec<String>);

/// Component types the Collector knows that otelbox does not run: named in the error so a
/// Collector config fails with a precise message rather than "unknown".
const NOT_YET: [&str; 8] = [
    "routing",
    "count",
    "forward",
    "groupbytrace",
    "k8sattributes",
    "resourcedetection",
    "prometheus",
    "jaeger",
];

/// The built-in pipeline as YAML: what `otelbox config default` prints and what runs without a file.
pub const BUILTIN_YAML: &str = r#"# otelbox's built-in configuration: what runs when no config file is given.
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
      http:
        endpoint: 127.0.0.1:4318
processors:
  memory_limiter:
    check_interval: 100ms
    limit_mib: 512
    spike_limit_mib: 102
  batch:
    send_batch_size: 8192
    send_batch_max_size: 16384
    timeout: 200ms
exporters:
  otelbox:
    retention: 7d
    max_db_size: 1GiB
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otelbox]
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otelbox]
    logs:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otelbox]
"#;

impl Config {
    pub fn builtin() -> Config {
        Config::parse(BUILTIN_YAML).expect("the built-in config is valid")
    }

    /// Reads a file, substitutes the environment, parses and validates it.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read the config file {}: {e}", path.display()))?;
        let text = env::substitute(&text, |name| std::env::var(name).ok()).map_err(|e| ConfigErrors(vec![e]))?;
        Ok(Config::parse(&text)?)
    }

    /// The first of the standard places that holds a config file this user can read: the user config
    /// dir (`~/.config/otelbox/config.yaml` on Linux), then `/etc/otelbox/config.yaml` (the service's,
    /// which other users may not be allowed to read: then it is not theirs to run with).
    pub fn find_standard() -> Option<PathBuf> {
        let user = directories::ProjectDirs::from("", "", "otelbox").map(|d| d.config_dir().join("config.yaml"));
        let system = PathBuf::from("/etc/otelbox/config.yaml");
        [user, Some(system)]
            .into_iter()
            .flatten()
            .find(|p| p.is_file() && std::fs::File::open(p).is_ok())
    }

    pub fn parse(text: &str) -> Result<Config, ConfigErrors> {
        let root: Value = serde_yaml_ng::from_str(text).map_err(|e| ConfigErrors(vec![format!("not valid YAML: {e}")]))?;
        let mut errors = Vec::new();
        let config = Parser { errors: &mut errors }.config(&root);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// One line per pipeline, for status and the UI: `traces: otlp -> memory_limiter -> batch -> otelbox`.
    pub fn describe(&self) -> Vec<String> {
        let names = |ids: &[ComponentId]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
        self.pipelines
            .iter()
            .map(|p| {
                let stages = [names(&p.receivers).join(", ")]
                    .into_iter()
                    .chain(names(&p.processors))
                    .chain([names(&p.exporters).join(", ")]);
                format!("{}: {}", p.id, stages.collect::<Vec<_>>().join(" -> "))
            })
            .collect()
    }
}

/// Parses values into settings, collecting every error with its path. Components parse their own
/// settings with it (`processor::filter::parse`, ...), so one config reports all its problems.
pub struct Parser<'a> {
    errors: &'a mut Vec<String>,
}

impl Parser<'_> {
    pub fn error(&mut self, path: &str, message: impl fmt::Display) {
        self.errors.push(format!("{path}: {message}"));
    }

    /// A parser collecting into `errors`, for components' unit tests.
    pub fn collecting(errors: &mut Vec<String>) -> Parser<'_> {
        Parser { errors }
    }

    pub fn boolean(&mut self, value: &Value, path: &str) -> Option<bool> {
        match value {
            Value::Bool(b) => Some(*b),
            other => {
                self.error(path, format!("expected true or false, got {}", kind_of(other)));
                None
            }
        }
    }

    pub fn float(&mut self, value: &Value, path: &str) -> Option<f64> {
        match value.as_f64() {
            Some(n) => Some(n),
            None => {
                self.error(path, format!("expected a number, got {}", kind_of(value)));
                None
            }
        }
    }

    pub fn integer(&mut self, value: &Value, path: &str) -> Option<i64> {
        match value.as_i64() {
            Some(n) => Some(n),
            None => {
                self.error(path, format!("expected an integer, got {}", kind_of(value)));
                None
            }
        }
    }

    /// A list at `path` (absent or null is empty); each element with its own path `path[i]`.
    pub fn list<'v>(&mut self, value: Option<&'v Value>, path: &str) -> Vec<(String, &'v Value)> {
        match value {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Sequence(items)) => items.iter().enumerate().map(|(i, v)| (format!("{path}[{i}]"), v)).collect(),
            Some(other) => {
                self.error(path, format!("expected a list, got {}", kind_of(other)));
                Vec::new()
            }
        }
    }

    /// A regular expression (compiled, so a bad one is a start-up error with its path).
    pub fn regex(&mut self, value: &Value, path: &str) -> Option<regex::Regex> {
        let text = self.string(value, path)?;
        regex::Regex::new(&text)
            .map_err(|e| self.error(path, format!("not a valid regular expression: {e}")))
            .ok()
    }

    /// A mapping at `path` (an absent or null value is an empty mapping, as in the Collector).
    pub fn mapping<'v>(&mut self, value: Option<&'v Value>, path: &str) -> Option<&'v Mapping> {
        static EMPTY: std::sync::OnceLock<Mapping> = std::sync::OnceLock::new();
        match value {
            None | Some(Value::Null) => Some(EMPTY.get_or_init(Mapping::new)),
            Some(Value::Mapping(m)) => Some(m),
            Some(other) => {
                self.error(path, format!("expected a mapping, got {}", kind_of(other)));
                None
            }
        }
    }

    pub fn entries<'v>(&mut self, value: Option<&'v Value>, path: &str) -> Vec<(String, &'v Value)> {
        let Some(mapping) = self.mapping(value, path) else {
            return Vec::new();
        };
        mapping
            .iter()
            .filter_map(|(k, v)| match k.as_str() {
                Some(key) => Some((key.to_string(), v)),
                None => {
                    self.error(path, format!("keys must be strings, got {}", kind_of(k)));
                    None
                }
            })
            .collect()
    }

    /// Reports keys of `mapping` that are not in `known`.
    pub fn only_keys(&mut self, mapping: &Mapping, known: &[&str], path: &str) {
        for key in mapping.keys() {
            let key = key.as_str().unwrap_or("?");
            if !known.contains(&key) {
                self.error(
                    &format!("{path}.{key}"),
                    format!("unknown key (expected one of: {})", known.join(", ")),
                );
            }
        }
    }

    pub fn duration(&mut self, value: &Value, path: &str) -> Option<Duration> {
        match value {
            Value::String(s) => crate::units::parse_duration(s).map_err(|e| self.error(path, e)).ok(),
            other => {
                self.error(path, format!("expected a duration like 200ms or 5s, got {}", kind_of(other)));
                None
            }
        }
    }

    pub fn unsigned(&mut self, value: &Value, path: &str) -> Option<u64> {
        match value.as_u64() {
            Some(n) => Some(n),
            None => {
                self.error(path, format!("expected a non-negative integer, got {}", kind_of(value)));
                None
            }
        }
    }

    pub fn size(&mut self, value: &Value, path: &str) -> Option<u64> {
        match value {
            Value::String(s) => crate::units::parse_size(s).map_err(|e| self.error(path, e)).ok(),
            Value::Number(_) => self.unsigned(value, path),
            other => {
                self.error(path, format!("expected a size like 512MiB, got {}", kind_of(other)));
                None
            }
        }
    }

    pub fn string(&mut self, value: &Value, path: &str) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            other => {
                self.error(path, format!("expected a string, got {}", kind_of(other)));
                None
            }
        }
    }

    pub fn string_list(&mut self, value: Option<&Value>, path: &str) -> Vec<String> {
        match value {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| self.string(v, &format!("{path}[{i}]")))
                .collect(),
            Some(other) => {
                self.error(path, format!("expected a list, got {}", kind_of(other)));
                Vec::new()
            }
        }
    }

    /// Tokens; an empty one is an error, since it would silently leave that side open (typically an
    /// unset environment variable).
    fn tokens(&mut self, value: Option<&Value>, path: &str) -> Vec<String> {
        let tokens = self.string_list(value, path);
        for (i, token) in tokens.iter().enumerate() {
            if token.trim().is_empty() {
                self.error(
                    &format!("{path}[{i}]"),
                    "is empty (an unset environment variable?); an empty token would leave this side open",
                );
            }
        }
        tokens
    }

    fn config(&mut self, root: &Value) -> Config {
        let mut config = Config {
            otlp: OtlpReceiver::default(),
            zipkin: None,
            processors: BTreeMap::new(),
            exporters: BTreeMap::new(),
            connectors: BTreeMap::new(),
            storage: StorageExporter::default(),
            pipelines: Vec::new(),
            ingest_tokens: Vec::new(),
            api_tokens: Vec::new(),
            tls: None,
        };
        let Some(top) = self.mapping(Some(root), "(top level)") else {
            return config;
        };
        self.only_keys(
            top,
            &[
                "receivers",
                "processors",
                "exporters",
                "connectors",
                "extensions",
                "service",
                "auth",
                "tls",
            ],
            "(top level)",
        );

        let mut receivers = BTreeMap::new();
        for (key, value) in self.entries(top.get("receivers"), "receivers") {
            let path = format!("receivers.{key}");
            match ComponentId::parse(&key) {
                Err(e) => self.error(&path, e),
                Ok(id) if id.kind == "otlp" => {
                    if receivers.values().any(|k: &String| k == "otlp") {
                        self.error(
                            &path,
                            "otelbox runs one otlp receiver; give it both protocols instead of a second one",
                        );
                    }
                    config.otlp = self.otlp(value, &path);
                    receivers.insert(id, "otlp".to_string());
                }
                Ok(id) if id.kind == "zipkin" => {
                    if config.zipkin.is_some() {
                        self.error(&path, "otelbox runs one zipkin receiver");
                    }
                    config.zipkin = Some(crate::receiver::zipkin::parse(self, value, &path));
                    receivers.insert(id, "zipkin".to_string());
                }
                Ok(id) => self.unsupported("receiver", &id, &path),
            }
        }
        for (key, value) in self.entries(top.get("processors"), "processors") {
            let path = format!("processors.{key}");
            match ComponentId::parse(&key) {
                Err(e) => self.error(&path, e),
                Ok(id) => match id.kind.as_str() {
                    "batch" => {
                        let settings = self.batch(value, &path);
                        config.processors.insert(id, ProcessorSettings::Batch(settings));
                    }
                    "memory_limiter" => {
                        let settings = self.memory_limiter(value, &path);
                        config.processors.insert(id, ProcessorSettings::MemoryLimiter(settings));
                    }
                    "attributes" => {
                        let settings = processor::attributes::parse_attributes(self, value, &path);
                        config.processors.insert(id, ProcessorSettings::Attributes(settings));
                    }
                    "resource" => {
                        let settings = processor::attributes::parse_resource(self, value, &path);
                        config.processors.insert(id, ProcessorSettings::Resource(settings));
                    }
                    "filter" => {
                        let settings = processor::filter::parse(self, value, &path);
                        config.processors.insert(id, ProcessorSettings::Filter(settings));
                    }
                    "transform" => {
                        let settings = processor::transform::parse(self, value, &path);
                        config.processors.insert(id, ProcessorSettings::Transform(settings));
                    }
                    "redaction" => {
                        let settings = processor::redaction::parse(self, value, &path);
                        config.processors.insert(id, ProcessorSettings::Redaction(settings));
                    }
                    "tail_sampling" => {
                        let settings = processor::tail_sampling::parse(self, value, &path);
                        config.processors.insert(id, ProcessorSettings::TailSampling(settings));
                    }
                    "probabilistic_sampler" => {
                        let settings = processor::probabilistic_sampler::parse(self, value, &path);
                        config.processors.insert(id, ProcessorSettings::ProbabilisticSampler(settings));
                    }
                    _ => self.unsupported("processor", &id, &path),
                },
            }
        }
        for (key, value) in self.entries(top.get("exporters"), "exporters") {
            let path = format!("exporters.{key}");
            let id = match ComponentId::parse(&key) {
                Err(e) => {
                    self.error(&path, e);
                    continue;
                }
                Ok(id) => id,
            };
            let settings = match id.kind.as_str() {
                "otelbox" => {
                    if config.exporters.contains_key(&ComponentId::parse("otelbox").expect("valid id")) || id.name.is_some() {
                        self.error(&path, "otelbox has one storage, so one exporter of type otelbox, with no name");
                    }
                    config.storage = self.storage(value, &path);
                    ExporterSettings::Otelbox
                }
                "otlp" => ExporterSettings::Otlp(exporter::otlp::parse(self, value, &path)),
                "otlphttp" => ExporterSettings::OtlpHttp(exporter::otlphttp::parse(self, value, &path)),
                "debug" => ExporterSettings::Debug(exporter::debug::parse(self, value, &path)),
                "file" => ExporterSettings::File(exporter::file::parse(self, value, &path)),
                _ => {
                    self.unsupported("exporter", &id, &path);
                    continue;
                }
            };
            config.exporters.insert(id, settings);
        }
        for (key, value) in self.entries(top.get("connectors"), "connectors") {
            let path = format!("connectors.{key}");
            match ComponentId::parse(&key) {
                Err(e) => self.error(&path, e),
                Ok(id) if id.kind == "spanmetrics" => {
                    let settings = crate::connector::spanmetrics::parse(self, value, &path);
                    config.connectors.insert(id, ConnectorSettings::SpanMetrics(settings));
                }
                Ok(id) => self.unsupported("connector", &id, &path),
            }
        }
        if let Some(auth) = self.mapping(top.get("auth"), "auth") {
            self.only_keys(auth, &["ingest_tokens", "api_tokens"], "auth");
            config.ingest_tokens = self.tokens(auth.get("ingest_tokens"), "auth.ingest_tokens");
            config.api_tokens = self.tokens(auth.get("api_tokens"), "auth.api_tokens");
        }
        if let Some(tls) = top.get("tls").filter(|v| !v.is_null()) {
            config.tls = self.tls(tls, "tls");
        }
        config.pipelines = self.service(top.get("service"), &receivers, &config);
        self.check_usage(&config);
        config
    }

    /// Checks that need every pipeline: processors in pipelines of a signal they handle, and each
    /// connector an exporter in a pipeline of its input signal and a receiver in one of its output.
    fn check_usage(&mut self, config: &Config) {
        for pipeline in &config.pipelines {
            for (i, id) in pipeline.processors.iter().enumerate() {
                if config.processors.get(id).is_some_and(|p| !p.supports(pipeline.signal)) {
                    self.error(
                        &format!("service.pipelines.{}.processors[{i}]", pipeline.id),
                        format!("processor \"{id}\" does not handle {}", pipeline.signal.as_str()),
                    );
                }
            }
        }
        for (id, connector) in &config.connectors {
            let (input, output) = connector.signals();
            let path = format!("connectors.{id}");
            let as_exporter: Vec<&Pipeline> = config.pipelines.iter().filter(|p| p.exporters.contains(id)).collect();
            let as_receiver: Vec<&Pipeline> = config.pipelines.iter().filter(|p| p.receivers.contains(id)).collect();
            match (as_exporter.is_empty(), as_receiver.is_empty()) {
                (true, true) => {}
                (false, true) => self.error(
                    &path,
                    format!(
                        "is used as an exporter but not as a receiver: a connector must be a receiver in a {} pipeline too",
                        output.as_str()
                    ),
                ),
                (true, false) => self.error(
                    &path,
                    format!(
                        "is used as a receiver but not as an exporter: a connector must be an exporter in a {} pipeline too",
                        input.as_str()
                    ),
                ),
                (false, false) => {}
            }
            for p in as_exporter.iter().filter(|p| p.signal != input) {
                self.error(
                    &path,
                    format!("is an exporter in pipeline {} but only takes {}", p.id, input.as_str()),
                );
            }
            for p in as_receiver.iter().filter(|p| p.signal != output) {
                self.error(
                    &path,
                    format!("is a receiver in pipeline {} but only emits {}", p.id, output.as_str()),
                );
            }
        }
        for pipeline in &config.pipelines {
            for (i, id) in pipeline.receivers.iter().enumerate() {
                if id.kind == "zipkin" && pipeline.signal != Signal::Traces {
                    self.error(
                        &format!("service.pipelines.{}.receivers[{i}]", pipeline.id),
                        "the zipkin receiver only receives traces",
                    );
                }
            }
        }
    }

    fn unsupported(&mut self, role: &str, id: &ComponentId, path: &str) {
        if NOT_YET.contains(&id.kind.as_str()) {
            self.error(
                path,
                format!("the {role} type \"{}\" is not supported by this otelbox yet", id.kind),
            );
        } else {
            self.error(path, format!("unknown {role} type \"{}\"", id.kind));
        }
    }

    fn otlp(&mut self, value: &Value, path: &str) -> OtlpReceiver {
        let mut otlp = OtlpReceiver::default();
        let Some(body) = self.mapping(Some(value), path) else { return otlp };
        self.only_keys(body, &["protocols"], path);
        let protocols_path = format!("{path}.protocols");
        let Some(protocols) = self.mapping(body.get("protocols"), &protocols_path) else {
            return otlp;
        };
        self.only_keys(protocols, &["grpc", "http"], &protocols_path);
        if protocols.is_empty() {
            self.error(&protocols_path, "must enable grpc, http or both");
        }
        for (protocol, default) in [("grpc", "127.0.0.1:4317"), ("http", "127.0.0.1:4318")] {
            let Some(settings) = protocols.get(protocol) else { continue };
            let p = format!("{protocols_path}.{protocol}");
            let Some(settings) = self.mapping(Some(settings), &p) else {
                continue;
            };
            let size_key = if protocol == "grpc" {
                "max_recv_msg_size_mib"
            } else {
                "max_request_body_size"
            };
            self.only_keys(settings, &["endpoint", size_key], &p);
            let endpoint = match settings.get("endpoint") {
                Some(v) => self.string(v, &format!("{p}.endpoint")).unwrap_or_default(),
                None => default.to_string(),
            };
            let address = endpoint.parse::<SocketAddr>().map_err(|_| {
                self.error(
                    &format!("{p}.endpoint"),
                    format!("expected host:port with an IP address, got '{endpoint}'"),
                );
            });
            if let Some(limit) = settings.get(size_key) {
                let at = format!("{p}.{size_key}");
                let bytes = if protocol == "grpc" {
                    self.unsigned(limit, &at).and_then(|mib| {
                        let bytes = mib.checked_mul(1024 * 1024).filter(|b| *b <= usize::MAX as u64);
                        if bytes.is_none() {
                            self.error(&at, "is too large");
                        }
                        bytes
                    })
                } else {
                    self.size(limit, &at)
                };
                match protocol {
                    "grpc" => otlp.grpc_max_request_bytes = bytes.map(|b| b as usize),
                    _ => otlp.http_max_request_bytes = bytes.map(|b| b as usize),
                }
            }
            match (protocol, address) {
                ("grpc", Ok(address)) => otlp.grpc = address,
                (_, Ok(address)) => otlp.http = address,
                _ => {}
            }
        }
        otlp
    }

    fn batch(&mut self, value: &Value, path: &str) -> BatchConfig {
        let mut batch = BatchConfig::builtin();
        let Some(body) = self.mapping(Some(value), path) else {
            return batch;
        };
        self.only_keys(body, &["send_batch_size", "timeout", "send_batch_max_size"], path);
        if let Some(v) = body.get("send_batch_size") {
            batch.send_batch_size = self.unsigned(v, &format!("{path}.send_batch_size")).unwrap_or(8192) as usize;
        }
        if let Some(v) = body.get("timeout") {
            batch.timeout = self.duration(v, &format!("{path}.timeout")).unwrap_or(batch.timeout);
        }
        if let Some(v) = body.get("send_batch_max_size") {
            batch.send_batch_max_size = self.unsigned(v, &format!("{path}.send_batch_max_size")).unwrap_or(0) as usize;
        }
        if batch.send_batch_max_size != 0 && batch.send_batch_max_size < batch.send_batch_size {
            self.error(
                &format!("{path}.send_batch_max_size"),
                "must be 0 (no limit) or at least send_batch_size",
            );
        }
        batch
    }

    fn memory_limiter(&mut self, value: &Value, path: &str) -> MemoryLimiterConfig {
        let mut limiter = MemoryLimiterConfig::default();
        let Some(body) = self.mapping(Some(value), path) else {
            return limiter;
        };
        self.only_keys(body, &["check_interval", "limit_mib", "spike_limit_mib"], path);
        match body.get("check_interval") {
            Some(v) => match self.duration(v, &format!("{path}.check_interval")) {
                Some(d) if d.is_zero() => self.error(&format!("{path}.check_interval"), "must be greater than 0"),
                Some(d) => limiter.check_interval = d,
                None => {}
            },
            None => self.error(path, "check_interval is required (e.g. 1s)"),
        }
        match body.get("limit_mib").map(|v| self.unsigned(v, &format!("{path}.limit_mib"))) {
            Some(Some(0)) => self.error(&format!("{path}.limit_mib"), "must be greater than 0"),
            Some(Some(mib)) if mib > 1 << 40 => self.error(&format!("{path}.limit_mib"), "is too large"),
            Some(Some(mib)) => limiter.limit_mib = mib,
            Some(None) => {}
            None => self.error(path, "limit_mib is required"),
        }
        limiter.spike_limit_mib = match body.get("spike_limit_mib") {
            Some(v) => self
                .unsigned(v, &format!("{path}.spike_limit_mib"))
                .unwrap_or(limiter.limit_mib / 5),
            None => limiter.limit_mib / 5,
        };
        if limiter.limit_mib > 0 && limiter.spike_limit_mib >= limiter.limit_mib {
            self.error(&format!("{path}.spike_limit_mib"), "must be smaller than limit_mib");
        }
        limiter
    }

    fn storage(&mut self, value: &Value, path: &str) -> StorageExporter {
        let mut storage = StorageExporter::default();
        let Some(body) = self.mapping(Some(value), path) else {
            return storage;
        };
        self.only_keys(body, &["retention", "max_db_size"], path);
        if let Some(v) = body.get("retention") {
            storage.retention = self.duration(v, &format!("{path}.retention"));
        }
        if let Some(v) = body.get("max_db_size") {
            storage.max_db_size = self.size(v, &format!("{path}.max_db_size"));
        }
        storage
    }

    fn tls(&mut self, value: &Value, path: &str) -> Option<TlsSettings> {
        let body = self.mapping(Some(value), path)?;
        self.only_keys(body, &["cert_file", "key_file", "client_ca_file"], path);
        let mut file = |key: &str, required: bool| -> Option<PathBuf> {
            match body.get(key) {
                Some(v) => self.string(v, &format!("{path}.{key}")).map(PathBuf::from),
                None if required => {
                    self.error(path, format!("{key} is required"));
                    None
                }
                None => None,
            }
        };
        let (cert_file, key_file, client_ca_file) = (file("cert_file", true), file("key_file", true), file("client_ca_file", false));
        Some(TlsSettings {
            cert_file: cert_file?,
            key_file: key_file?,
            client_ca_file,
        })
    }

    fn service(&mut self, value: Option<&Value>, receivers: &BTreeMap<ComponentId, String>, config: &Config) -> Vec<Pipeline> {
        let Some(service) = self.mapping(value, "service") else {
            return Vec::new();
        };
        self.only_keys(service, &["pipelines", "extensions", "telemetry"], "service");
        let entries = self.entries(service.get("pipelines"), "service.pipelines");
        if entries.is_empty() {
            self.error("service", "must have at least one pipeline");
        }
        let mut pipelines = Vec::new();
        for (id, body) in entries {
            let path = format!("service.pipelines.{id}");
            let signal = match id.split('/').next().unwrap_or_default() {
                "traces" => Signal::Traces,
                "metrics" => Signal::Metrics,
                "logs" => Signal::Logs,
                other => {
                    self.error(&path, format!("pipeline type \"{other}\" is not traces, metrics or logs"));
                    continue;
                }
            };
            let Some(body) = self.mapping(Some(body), &path) else { continue };
            self.only_keys(body, &["receivers", "processors", "exporters"], &path);
            let mut ids = |role: &str, known: &dyn Fn(&ComponentId) -> bool| -> Vec<ComponentId> {
                let list = self.string_list(body.get(role), &format!("{path}.{role}"));
                let mut out = Vec::new();
                for (i, text) in list.iter().enumerate() {
                    let at = format!("{path}.{role}[{i}]");
                    match ComponentId::parse(text) {
                        Err(e) => self.error(&at, e),
                        Ok(id) if !known(&id) => {
                            let singular = role.trim_end_matches('s');
                            self.error(&at, format!("references {singular} \"{id}\" which is not configured"))
                        }
                        Ok(id) => out.push(id),
                    }
                }
                out
            };
            let pipeline = Pipeline {
                id: id.clone(),
                signal,
                receivers: ids("receivers", &|id| receivers.contains_key(id) || config.connectors.contains_key(id)),
                processors: ids("processors", &|id| config.processors.contains_key(id)),
                exporters: ids("exporters", &|id| {
                    config.exporters.contains_key(id) || config.connectors.contains_key(id)
                }),
            };
            if body.get("receivers").is_none_or(|v| v.as_sequence().is_none_or(|s| s.is_empty())) {
                self.error(&path, "must have at least one receiver");
            }
            if body.get("exporters").is_none_or(|v| v.as_sequence().is_none_or(|s| s.is_empty())) {
                self.error(&path, "must have at least one exporter");
            }
            pipelines.push(pipeline);
        }
        pipelines
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests;
