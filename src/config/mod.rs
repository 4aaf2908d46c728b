//! The Collector-shaped YAML config of `otelbox up --config`: environment substitution, the
//! structure (component sections, `service.pipelines`, `service.extensions`, otelbox's `auth` and
//! `tls`) and validation that reports every error with its path (a config with errors starts
//! nothing). Config knows no component: each section's settings are parsed by the component type
//! the `Catalog` (the registry, `crate::components`) finds for it, and kept as opaque `Settings`.

pub mod client_tls;
pub mod env;

use crate::pdata::Signal;
use serde_yaml_ng::{Mapping, Value};
use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `type[/name]`, e.g. `batch` or `attributes/agent`; `kind` is the canonical type name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// Parses `type[/name]` as written (aliases are resolved by the catalog).
    pub fn parse(text: &str) -> Result<ComponentId, String> {
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
            kind: kind.to_string(),
            name,
        })
    }
}

/// The five kinds of component, each with its own config section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Receiver,
    Processor,
    Exporter,
    Connector,
    Extension,
}

impl Kind {
    pub const ALL: [Kind; 5] = [Kind::Receiver, Kind::Processor, Kind::Exporter, Kind::Connector, Kind::Extension];

    /// `receiver`, `processor`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Connector => "connector",
            Kind::Extension => "extension",
        }
    }

    /// The top-level section: `receivers`, `processors`, ...
    pub fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Exporter => "exporters",
            Kind::Connector => "connectors",
            Kind::Extension => "extensions",
        }
    }
}

/// A component's parsed settings. Opaque to the config: only the component type that parsed them
/// reads them back (`get`), when the topology builds it.
#[derive(Clone)]
pub struct Settings(Arc<dyn Any + Send + Sync>);

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Settings(..)")
    }
}

impl Settings {
    pub fn new<T: Any + Send + Sync>(settings: T) -> Settings {
        Settings(Arc::new(settings))
    }

    /// The settings as the type that parsed them. Another type is a programming error: a factory
    /// only ever reads back what its own `parse` returned.
    pub fn get<T: Any>(&self) -> &T {
        self.0
            .downcast_ref()
            .unwrap_or_else(|| panic!("settings read back as {}, which did not parse them", std::any::type_name::<T>()))
    }

    /// Changes a copy of the settings (command-line flags override a receiver's endpoint).
    pub fn update<T: Any + Send + Sync + Clone>(&mut self, change: impl FnOnce(&mut T)) {
        let mut copy = self.get::<T>().clone();
        change(&mut copy);
        *self = Settings::new(copy);
    }
}

/// What the config needs to know of a component type: its names, the signals it handles, and how
/// it parses its settings. Every factory of the registry is one.
pub trait ComponentType: Send + Sync {
    fn type_name(&self) -> &'static str;
    /// Other names the Collector accepts for this type (`otlp_grpc` for `otlp`).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    /// The signals a receiver emits or a processor or exporter takes; what a connector takes in the
    /// pipelines it exports from. Empty for extensions.
    fn signals(&self) -> &'static [Signal];
    /// Connectors only: the signals it emits into the pipelines it receives for.
    fn output_signals(&self) -> &'static [Signal] {
        &[]
    }
    /// Connectors only: whether it can take `from` in a pipeline it exports from and emit `to` into
    /// one it receives for (`forward` and `routing` keep the signal; `spanmetrics` makes metrics).
    fn connects(&self, from: Signal, to: Signal) -> bool {
        self.signals().contains(&from) && self.output_signals().contains(&to)
    }
    /// At most one instance, with no name (the store is one: `otelbox`).
    fn unnamed_only(&self) -> bool {
        false
    }
    /// Parses the settings at `path` (`null` when the section gives none), reporting every error.
    fn parse(&self, parser: &mut Parser, value: &Value, path: &str) -> Settings;
    /// Extensions this component's settings refer to (an authenticator), validated against
    /// `service.extensions`; with the path of each reference.
    fn extension_refs(&self, _settings: &Settings) -> Vec<(String, ComponentId)> {
        Vec::new()
    }
}

/// Implements `ComponentType` for a factory with a type name, the signals it handles and the
/// function parsing its settings: `component_type!(Factory, "batch", &Signal::ALL, parse);`, then
/// optionally `aliases: &["..."]` and `refs: f` (`f(&settings) -> Vec<(path, extension id)>`, with
/// the factory's own settings type).
/// Factories with more to say (connectors' outputs) implement the trait by hand.
#[macro_export]
macro_rules! component_type {
    ($factory:ty, $name:literal, $signals:expr, $parse:path $(, aliases: $aliases:expr)? $(, refs: $refs:path)?) => {
        impl $crate::config::ComponentType for $factory {
            fn type_name(&self) -> &'static str {
                $name
            }
            $(fn aliases(&self) -> &'static [&'static str] {
                $aliases
            })?
            fn signals(&self) -> &'static [$crate::pdata::Signal] {
                $signals
            }
            fn parse(&self, p: &mut $crate::config::Parser, value: &serde_yaml_ng::Value, path: &str) -> $crate::config::Settings {
                $crate::config::Settings::new($parse(p, value, path))
            }
            $(fn extension_refs(&self, settings: &$crate::config::Settings) -> Vec<(String, $crate::config::ComponentId)> {
                $refs(settings.get())
            })?
        }
    };
}

/// The component types a config may use: the registry implements it.
pub trait Catalog {
    fn find(&self, kind: Kind, type_name: &str) -> Option<&dyn ComponentType>;
    /// The type names of a kind, for "unknown type" errors.
    fn type_names(&self, kind: Kind) -> Vec<&'static str>;
}

/// One configured component: its settings and the type that parsed them.
#[derive(Clone)]
pub struct Component {
    pub settings: Settings,
    pub signals: &'static [Signal],
    pub output_signals: &'static [Signal],
    /// Connectors only: the (taken, emitted) signal pairs it connects.
    pub connects: Vec<(Signal, Signal)>,
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Component").field("signals", &self.signals).finish()
    }
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
    /// Every configured component, by kind and id (ids with canonical type names).
    pub components: BTreeMap<Kind, BTreeMap<ComponentId, Component>>,
    pub pipelines: Vec<Pipeline>,
    /// `service.extensions`: the extensions to start, in order.
    pub extensions: Vec<ComponentId>,
    pub ingest_tokens: Vec<String>,
    pub api_tokens: Vec<String>,
    pub tls: Option<TlsSettings>,
    /// Pipelines of a signal otelbox does not handle (`profiles`): validated, then not built; the
    /// box says so when it starts.
    pub ignored_pipelines: Vec<String>,
}

/// Every problem found, each `path: what is wrong`.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{} error(s) in the config:\n  {}", .0.len(), .0.join("\n  "))]
pub struct ConfigErrors(pub Vec<String>);

/// Adds to each error at (or under) a value that references unset variables which ones they are:
/// `endpoint: ${env:HOST}:${env:PORT}` with neither set reads ":".
fn explain_unset(errors: Vec<String>, unset: &[(String, Vec<String>)]) -> Vec<String> {
    errors
        .into_iter()
        .map(|error| {
            let path = error.split(": ").next().unwrap_or_default();
            let under =
                |value_path: &str| path == value_path || path.strip_prefix(value_path).is_some_and(|rest| rest.starts_with(['.', '[']));
            match unset.iter().find(|(value_path, _)| under(value_path)) {
                Some((_, names)) => {
                    let names: Vec<String> = names.iter().map(|n| format!("${{env:{n}}}")).collect();
                    let verb = if names.len() == 1 { "is" } else { "are" };
                    format!("{error} ({} {verb} not set)", names.join(" and "))
                }
                None => error,
            }
        })
        .collect()
}

/// Component types of the Collector (core and contrib) that otelbox does not run: named in the error so a
/// Collector config fails with a precise message rather than "unknown". Any kind: a type name means one
/// component in the Collector's registries, whatever section it is in.
const NOT_YET: &[&str] = &[
    // receivers
    "kafka",
    "k8s_cluster",
    "k8s_events",
    "k8sobjects",
    "kubeletstats",
    "statsd",
    "syslog",
    "fluentforward",
    "opencensus",
    "carbon",
    "influxdb",
    "journald",
    "postgresql",
    "mysql",
    "docker_stats",
    "awsxray",
    "otlpjsonfile",
    "sqlquery",
    "signalfx",
    "splunk_hec",
    "datadog",
    "skywalking",
    // processors
    "groupbytrace",
    "k8sattributes",
    "deltatocumulative",
    "deltatorate",
    "logdedup",
    "interval",
    "metricsgeneration",
    "schema",
    "remotetap",
    // exporters
    "loki",
    "elasticsearch",
    "clickhouse",
    "googlecloud",
    "awsemf",
    "sentry",
    "logzio",
    "coralogix",
    "honeycombmarker",
    // connectors
    "exceptions",
    "roundrobin",
    "failover",
    "sum",
    // extensions
    "oidc",
    "headers_setter",
    "sigv4auth",
    "memory_ballast",
    "k8s_observer",
    "docker_observer",
    "host_observer",
    "jaegerremotesampling",
    "opamp",
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
    /// The built-in config (`BUILTIN_YAML`) of the given catalog's components.
    pub fn builtin(catalog: &dyn Catalog) -> Config {
        Config::parse(BUILTIN_YAML, catalog).expect("the built-in config is valid")
    }

    /// Reads a file, parses it, substitutes the environment in its values, and validates it.
    pub fn load(path: &Path, catalog: &dyn Catalog) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read the config file {}: {e}", path.display()))?;
        Ok(Config::parse_with_env(&text, catalog, &|name| std::env::var(name).ok())?)
    }

    /// Parses and validates `text`, substituting `lookup`'s variables in its values (`env::expand`).
    pub fn parse_with_env(text: &str, catalog: &dyn Catalog, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        let mut root: Value = serde_yaml_ng::from_str(text).map_err(|e| ConfigErrors(vec![format!("not valid YAML: {e}")]))?;
        let unset = env::unset_references(&root, "", lookup);
        let mut errors = Vec::new();
        env::expand(&mut root, "", lookup, &mut errors);
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Config::from_value(&root, catalog).map_err(|ConfigErrors(errors)| ConfigErrors(explain_unset(errors, &unset)))
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

    pub fn parse(text: &str, catalog: &dyn Catalog) -> Result<Config, ConfigErrors> {
        let root: Value = serde_yaml_ng::from_str(text).map_err(|e| ConfigErrors(vec![format!("not valid YAML: {e}")]))?;
        Config::from_value(&root, catalog)
    }

    fn from_value(root: &Value, catalog: &dyn Catalog) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        let config = Parser { errors: &mut errors }.config(root, catalog);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The components of one kind, by id.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = (&ComponentId, &Component)> {
        self.components.get(&kind).into_iter().flatten()
    }

    pub fn component(&self, kind: Kind, id: &ComponentId) -> Option<&Component> {
        self.components.get(&kind)?.get(id)
    }

    /// The settings of the components of `kind` whose type is `type_name`, in id order.
    pub fn settings_of<T: Any>(&self, kind: Kind, type_name: &str) -> Vec<(&ComponentId, &T)> {
        self.of_kind(kind)
            .filter(|(id, _)| id.kind == type_name)
            .map(|(id, c)| (id, c.settings.get::<T>()))
            .collect()
    }

    pub fn component_mut(&mut self, kind: Kind, id: &ComponentId) -> Option<&mut Component> {
        self.components.get_mut(&kind)?.get_mut(id)
    }

    /// The ids of the components of `kind` that some pipeline lists in that kind's role (a
    /// receiver among its receivers, an exporter among its exporters, a connector in either),
    /// each once, in id order.
    pub fn used(&self, kind: Kind) -> Vec<&ComponentId> {
        let listed: BTreeSet<&ComponentId> = self
            .pipelines
            .iter()
            .flat_map(|p| match kind {
                Kind::Receiver => p.receivers.iter().collect::<Vec<_>>(),
                Kind::Processor => p.processors.iter().collect(),
                Kind::Exporter => p.exporters.iter().collect(),
                Kind::Connector => p.receivers.iter().chain(&p.exporters).collect(),
                Kind::Extension => Vec::new(),
            })
            .collect();
        self.of_kind(kind).map(|(id, _)| id).filter(|id| listed.contains(id)).collect()
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
            .chain(
                self.ignored_pipelines
                    .iter()
                    .map(|id| format!("{id}: not run (otelbox does not handle the profiles signal)")),
            )
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
        // Go's YAML, which the Collector reads configs with, takes `100_000` for 100000;
        // serde_yaml_ng leaves it a string. A leading zero (Go reads octal) stays an error.
        fn grouped(text: &str) -> Option<i64> {
            let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
            let well_formed = digits.contains('_')
                && digits.starts_with(|c: char| c.is_ascii_digit() && c != '0')
                && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
            well_formed.then(|| text.replace('_', "").parse().ok()).flatten()
        }
        match value.as_i64().or_else(|| value.as_str().and_then(grouped)) {
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
        // `100_000` as Go's YAML reads it (see `integer`).
        fn grouped(text: &str) -> Option<u64> {
            let digits = text.strip_prefix('+').unwrap_or(text);
            let well_formed = digits.contains('_')
                && digits.starts_with(|c: char| c.is_ascii_digit() && c != '0')
                && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
            well_formed.then(|| digits.replace('_', "").parse().ok()).flatten()
        }
        match value.as_u64().or_else(|| value.as_str().and_then(grouped)) {
            Some(n) => Some(n),
            None => {
                self.error(path, format!("expected a non-negative integer, got {}", kind_of(value)));
                None
            }
        }
    }

    pub fn size(&mut self, value: &Value, path: &str) -> Option<u64> {
        match value {
            // A bare byte count written `10_000_000`, as Go's YAML reads it (see `unsigned`).
            Value::String(s) if s.contains('_') && s.bytes().all(|b| b.is_ascii_digit() || b == b'_') => self.unsigned(value, path),
            Value::String(s) => crate::units::parse_size(s).map_err(|e| self.error(path, e)).ok(),
            Value::Number(_) => self.unsigned(value, path),
            other => {
                self.error(path, format!("expected a size like 512MiB, got {}", kind_of(other)));
                None
            }
        }
    }

    /// A listening address `host:port`: an IP address, `localhost` (loopback), an empty host (every
    /// interface, as the Collector reads `:4317`), or a host name, resolved now, as the config is
    /// loaded at start, to its first IPv4 address (else its first address), the one the Collector's
    /// listener would take.
    pub fn endpoint(&mut self, value: &Value, path: &str) -> Option<std::net::SocketAddr> {
        use std::net::ToSocketAddrs;
        let text = self.string(value, path)?;
        let malformed = |p: &mut Self| p.error(path, format!("expected host:port with an IP address or localhost, got '{text}'"));
        let Some((host, port)) = text.rsplit_once(':') else {
            malformed(self);
            return None;
        };
        let resolved = match host {
            "localhost" => format!("127.0.0.1:{port}"),
            "" => format!("0.0.0.0:{port}"),
            _ => text.clone(),
        };
        if let Ok(address) = resolved.parse() {
            return Some(address);
        }
        let name_like =
            !host.is_empty() && host.len() <= 253 && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
        let Some(port) = port.parse::<u16>().ok().filter(|_| name_like) else {
            malformed(self);
            return None;
        };
        match (host, port).to_socket_addrs() {
            Ok(addresses) => {
                let addresses: Vec<std::net::SocketAddr> = addresses.collect();
                let chosen = addresses.iter().find(|a| a.is_ipv4()).or(addresses.first()).copied();
                if chosen.is_none() {
                    self.error(path, format!("the host name '{host}' resolves to no address"));
                }
                chosen
            }
            Err(e) => {
                self.error(
                    path,
                    format!("cannot resolve the host name '{host}' ({e}); use an IP address, or a name this machine resolves"),
                );
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

    fn config(&mut self, root: &Value, catalog: &dyn Catalog) -> Config {
        let mut config = Config {
            components: BTreeMap::new(),
            pipelines: Vec::new(),
            extensions: Vec::new(),
            ingest_tokens: Vec::new(),
            api_tokens: Vec::new(),
            tls: None,
            ignored_pipelines: Vec::new(),
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
        // Ids configured under some section, also those whose type is unknown: a pipeline naming
        // one of those gets no second error for it.
        let mut declared: BTreeSet<(Kind, ComponentId)> = BTreeSet::new();
        for kind in Kind::ALL {
            let mut parsed = BTreeMap::new();
            for (key, value) in self.entries(top.get(kind.section()), kind.section()) {
                let path = format!("{}.{key}", kind.section());
                let id = match ComponentId::parse(&key) {
                    Ok(id) => canonical(catalog, &[kind], id),
                    Err(e) => {
                        self.error(&path, e);
                        continue;
                    }
                };
                declared.insert((kind, id.clone()));
                let Some(component_type) = catalog.find(kind, &id.kind) else {
                    self.unsupported(catalog, kind, &id, &path);
                    continue;
                };
                if component_type.unnamed_only() && id.name.is_some() {
                    self.error(
                        &path,
                        format!("otelbox runs one {} of type {}, with no name", kind.as_str(), id.kind),
                    );
                }
                if parsed.contains_key(&id) {
                    self.error(
                        &path,
                        format!("defines {} \"{id}\" a second time (under another name of its type)", kind.as_str()),
                    );
                }
                let settings = component_type.parse(self, value, &path);
                parsed.insert(
                    id,
                    Component {
                        settings,
                        signals: component_type.signals(),
                        output_signals: component_type.output_signals(),
                        connects: Signal::ALL
                            .iter()
                            .flat_map(|from| Signal::ALL.iter().map(move |to| (*from, *to)))
                            .filter(|(from, to)| component_type.connects(*from, *to))
                            .collect(),
                    },
                );
            }
            config.components.insert(kind, parsed);
        }
        if let Some(auth) = self.mapping(top.get("auth"), "auth") {
            self.only_keys(auth, &["ingest_tokens", "api_tokens"], "auth");
            config.ingest_tokens = self.tokens(auth.get("ingest_tokens"), "auth.ingest_tokens");
            config.api_tokens = self.tokens(auth.get("api_tokens"), "auth.api_tokens");
        }
        if let Some(tls) = top.get("tls").filter(|v| !v.is_null()) {
            config.tls = self.tls(tls, "tls");
        }
        self.service(top.get("service"), catalog, &declared, &mut config);
        self.check_signals(&config);
        self.check_extension_refs(catalog, &declared, &config);
        config
    }

    /// Checks that need every pipeline: each component in pipelines of a signal it handles, and each
    /// connector an exporter in a pipeline of a signal it takes and a receiver in one it emits.
    fn check_signals(&mut self, config: &Config) {
        for pipeline in &config.pipelines {
            let signal = pipeline.signal;
            let roles: [(&str, &[ComponentId], &[Kind]); 3] = [
                ("receivers", &pipeline.receivers, &[Kind::Receiver, Kind::Connector]),
                ("processors", &pipeline.processors, &[Kind::Processor]),
                ("exporters", &pipeline.exporters, &[Kind::Exporter, Kind::Connector]),
            ];
            for (role, ids, kinds) in roles {
                for (i, id) in ids.iter().enumerate() {
                    let Some((kind, component)) = kinds.iter().find_map(|k| config.component(*k, id).map(|c| (*k, c))) else {
                        continue;
                    };
                    let handled = match (kind, role) {
                        (Kind::Connector, "receivers") => component.output_signals,
                        _ => component.signals,
                    };
                    if !handled.contains(&signal) {
                        let verb = match (kind, role) {
                            (Kind::Connector, "receivers") => "emits",
                            (Kind::Receiver, _) => "receives",
                            _ => "handles",
                        };
                        self.error(
                            &format!("service.pipelines.{}.{role}[{i}]", pipeline.id),
                            format!(
                                "{} \"{id}\" does not handle {}: it {verb} only {}",
                                kind.as_str(),
                                signal.as_str(),
                                signal_names(handled)
                            ),
                        );
                    }
                }
            }
        }
        for (id, component) in config.of_kind(Kind::Connector) {
            let path = format!("connectors.{id}");
            let takes: BTreeSet<Signal> = config
                .pipelines
                .iter()
                .filter(|p| p.exporters.contains(id))
                .map(|p| p.signal)
                .collect();
            let feeds: BTreeSet<Signal> = config
                .pipelines
                .iter()
                .filter(|p| p.receivers.contains(id))
                .map(|p| p.signal)
                .collect();
            match (takes.is_empty(), feeds.is_empty()) {
                (false, true) => self.error(
                    &path,
                    "is used as an exporter but not as a receiver: a connector must be a receiver in a pipeline too",
                ),
                (true, false) => self.error(
                    &path,
                    "is used as a receiver but not as an exporter: a connector must be an exporter in a pipeline too",
                ),
                _ => {
                    // As the Collector: what it takes must go somewhere, and what it feeds must come from somewhere.
                    for from in &takes {
                        if !feeds.iter().any(|to| component.connects.contains(&(*from, *to))) {
                            self.error(
                                &path,
                                format!(
                                    "takes {} but is a receiver in no pipeline of a signal it makes of {} ({})",
                                    from.as_str(),
                                    from.as_str(),
                                    connect_names(component, *from, true)
                                ),
                            );
                        }
                    }
                    for to in &feeds {
                        if !takes.iter().any(|from| component.connects.contains(&(*from, *to))) {
                            self.error(
                                &path,
                                format!(
                                    "is a receiver in a {} pipeline but is an exporter in no pipeline of a signal it makes {} from ({})",
                                    to.as_str(),
                                    to.as_str(),
                                    connect_names(component, *to, false)
                                ),
                            );
                        }
                    }
                }
            }
        }
        if let Some(cycle) = connector_cycle(config) {
            self.error(
                "service.pipelines",
                format!(
                    "the pipelines and connectors form a cycle, which would pass data around forever: {}",
                    cycle.join(" -> ")
                ),
            );
        }
    }

    /// Extensions referred to by components must be enabled in `service.extensions`, or the
    /// reference would silently do nothing (an authenticator ignored leaves a receiver open).
    fn check_extension_refs(&mut self, catalog: &dyn Catalog, declared: &BTreeSet<(Kind, ComponentId)>, config: &Config) {
        for kind in [Kind::Receiver, Kind::Exporter] {
            for (id, component) in config.of_kind(kind) {
                let Some(component_type) = catalog.find(kind, &id.kind) else {
                    continue;
                };
                for (at, extension) in component_type.extension_refs(&component.settings) {
                    let at = format!("{}.{id}.{at}", kind.section());
                    if !declared.contains(&(Kind::Extension, extension.clone())) {
                        self.error(&at, format!("refers to extension \"{extension}\" which is not configured"));
                    } else if config.component(Kind::Extension, &extension).is_some() && !config.extensions.contains(&extension) {
                        self.error(
                            &at,
                            format!("refers to extension \"{extension}\", which service.extensions does not enable"),
                        );
                    }
                }
            }
        }
    }

    fn unsupported(&mut self, catalog: &dyn Catalog, kind: Kind, id: &ComponentId, path: &str) {
        let known = catalog.type_names(kind).join(", ");
        let role = kind.as_str();
        if id.kind == "logging" && kind == Kind::Exporter {
            self.error(
                path,
                format!("the exporter type \"logging\" was renamed \"debug\" by the Collector; use debug (otelbox has: {known})"),
            );
        } else if id.kind == "routing" && kind == Kind::Processor {
            self.error(
                path,
                "the routing processor was replaced by the routing connector in the Collector: export to connectors.routing and list it as a receiver of the routed pipelines",
            );
        } else if NOT_YET.contains(&id.kind.as_str()) {
            self.error(
                path,
                format!(
                    "the {role} type \"{}\" is not supported by this otelbox yet (it has: {known})",
                    id.kind
                ),
            );
        } else {
            self.error(path, format!("unknown {role} type \"{}\" (otelbox has: {known})", id.kind));
        }
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

    fn service(&mut self, value: Option<&Value>, catalog: &dyn Catalog, declared: &BTreeSet<(Kind, ComponentId)>, config: &mut Config) {
        let Some(service) = self.mapping(value, "service") else {
            return;
        };
        self.only_keys(service, &["pipelines", "extensions", "telemetry"], "service");
        for (i, text) in self.string_list(service.get("extensions"), "service.extensions").iter().enumerate() {
            let at = format!("service.extensions[{i}]");
            match ComponentId::parse(text).map(|id| canonical(catalog, &[Kind::Extension], id)) {
                Err(e) => self.error(&at, e),
                Ok(id) if !declared.contains(&(Kind::Extension, id.clone())) => {
                    self.error(&at, format!("references extension \"{id}\" which is not configured"))
                }
                Ok(id) if config.extensions.contains(&id) => self.error(&at, format!("lists extension \"{id}\" twice")),
                Ok(id) => {
                    if config.component(Kind::Extension, &id).is_some() {
                        config.extensions.push(id);
                    }
                }
            }
        }
        let entries = self.entries(service.get("pipelines"), "service.pipelines");
        if entries.is_empty() {
            self.error("service", "must have at least one pipeline");
        }
        for (id, body) in entries {
            let path = format!("service.pipelines.{id}");
            let signal = match id.split('/').next().unwrap_or_default() {
                "traces" => Some(Signal::Traces),
                "metrics" => Some(Signal::Metrics),
                "logs" => Some(Signal::Logs),
                // The Collector's profiles signal (behind a feature gate there): checked like the others,
                // then left out, so the rest of a config that has one runs unchanged.
                "profiles" => None,
                other => {
                    self.error(&path, format!("pipeline type \"{other}\" is not traces, metrics, logs or profiles"));
                    continue;
                }
            };
            let Some(body) = self.mapping(Some(body), &path) else { continue };
            self.only_keys(body, &["receivers", "processors", "exporters"], &path);
            let mut ids = |role: &str, kinds: &[Kind]| -> Vec<ComponentId> {
                let list = self.string_list(body.get(role), &format!("{path}.{role}"));
                let mut out = Vec::new();
                for (i, text) in list.iter().enumerate() {
                    let at = format!("{path}.{role}[{i}]");
                    match ComponentId::parse(text).map(|id| canonical(catalog, kinds, id)) {
                        Err(e) => self.error(&at, e),
                        Ok(id) if !kinds.iter().any(|k| declared.contains(&(*k, id.clone()))) => {
                            let singular = role.trim_end_matches('s');
                            self.error(&at, format!("references {singular} \"{id}\" which is not configured"))
                        }
                        Ok(id) => {
                            if kinds.iter().any(|k| config.component(*k, &id).is_some()) {
                                out.push(id);
                            }
                        }
                    }
                }
                out
            };
            let pipeline = Pipeline {
                id: id.clone(),
                signal: signal.unwrap_or(Signal::Traces),
                receivers: ids("receivers", &[Kind::Receiver, Kind::Connector]),
                processors: ids("processors", &[Kind::Processor]),
                exporters: ids("exporters", &[Kind::Exporter, Kind::Connector]),
            };
            if body.get("receivers").is_none_or(|v| v.as_sequence().is_none_or(|s| s.is_empty())) {
                self.error(&path, "must have at least one receiver");
            }
            if body.get("exporters").is_none_or(|v| v.as_sequence().is_none_or(|s| s.is_empty())) {
                self.error(&path, "must have at least one exporter");
            }
            match signal {
                Some(_) => config.pipelines.push(pipeline),
                None => config.ignored_pipelines.push(id.clone()),
            }
        }
    }
}

/// The id with its type's canonical name (the Collector's renamed aliases, `otlp_grpc` -> `otlp`)
/// among the kinds a position allows (a pipeline's receivers: receivers and connectors).
fn canonical(catalog: &dyn Catalog, kinds: &[Kind], mut id: ComponentId) -> ComponentId {
    if let Some(found) = kinds.iter().find_map(|k| catalog.find(*k, &id.kind)) {
        id.kind = found.type_name().to_string();
    }
    id
}

/// What a connector makes of `signal` (`forward`) or makes `signal` from (`!forward`), for errors.
fn connect_names(component: &Component, signal: Signal, forward: bool) -> String {
    let others: Vec<Signal> = component
        .connects
        .iter()
        .filter(|(from, to)| if forward { *from == signal } else { *to == signal })
        .map(|(from, to)| if forward { *to } else { *from })
        .collect();
    match (others.is_empty(), forward) {
        (true, true) => format!("it takes no {}", signal.as_str()),
        (true, false) => format!("it makes no {}", signal.as_str()),
        (false, true) => format!("it makes {}", signal_names(&others)),
        (false, false) => format!("it makes it from {}", signal_names(&others)),
    }
}

/// A cycle of pipelines through connectors (a pipeline exporting to a connector that is a receiver
/// of a pipeline that leads back), as `pipeline -> connector -> pipeline ...`; None when there is none.
pub fn connector_cycle(config: &Config) -> Option<Vec<String>> {
    // Edges pipeline -> pipeline through a connector; depth-first search with the path kept.
    fn next<'c>(config: &'c Config, from: &'c Pipeline) -> Vec<(&'c ComponentId, usize)> {
        let mut out = Vec::new();
        for connector in from.exporters.iter().filter(|id| config.component(Kind::Connector, id).is_some()) {
            for (j, p) in config.pipelines.iter().enumerate() {
                if p.receivers.contains(connector) {
                    out.push((connector, j));
                }
            }
        }
        out
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(i: usize, config: &Config, marks: &mut Vec<Mark>, path: &mut Vec<String>) -> Option<Vec<String>> {
        marks[i] = Mark::OnPath;
        path.push(config.pipelines[i].id.clone());
        for (connector, j) in next(config, &config.pipelines[i]) {
            path.push(connector.to_string());
            match marks[j] {
                Mark::OnPath => {
                    let start = path.iter().position(|p| *p == config.pipelines[j].id).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(config.pipelines[j].id.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(j, config, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
            path.pop();
        }
        path.pop();
        marks[i] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; config.pipelines.len()];
    for i in 0..config.pipelines.len() {
        if marks[i] == Mark::New {
            if let Some(cycle) = visit(i, config, &mut marks, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

fn signal_names(signals: &[Signal]) -> String {
    signals.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" and ")
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
