//! The hostmetrics receiver: the Collector's `hostmetricsreceiver` for Linux. It reads the host's
//! `/proc` (under `root_path`, for a host filesystem mounted into a container) on a timer and sends
//! each scrape through the metrics pipelines it feeds, as one OTLP export.
//!
//! ```yaml
//! hostmetrics:
//!   collection_interval: 1m        # the Collector's default
//!   initial_delay: 1s              # the first scrape, after start
//!   timeout: 0s                    # the longest a scrape may take; 0: no limit
//!   root_path: /hostfs             # where the host's / is; default /
//!   scrapers:
//!     cpu: {}
//!     memory:
//!       metrics:
//!         system.memory.utilization: { enabled: true }
//!     load: { cpu_average: true }
//!     disk: { exclude: { devices: ['^loop'], match_type: regexp } }
//!     filesystem: { exclude_fs_types: { fs_types: [squashfs], match_type: strict } }
//!     network: { include: { interfaces: [eth0], match_type: strict } }
//!     paging: {}
//!     processes: {}
//!     process:                     # per-process metrics, a resource per process
//!       include: { names: [java, python3], match_type: strict }
//!       mute_process_exe_error: true
//!       mute_process_io_error: true
//!       mute_process_user_error: true
//!       scrape_process_delay: 10s
//!       resource_attributes:
//!         process.cgroup: { enabled: true }
//!     system: {}                   # system.uptime
//! ```
//! Each scraper is a file here (`cpu.rs`, ...): a table of the metrics it knows, with the
//! Collector's names, units, types and default enablement, pure parsers of the `/proc` text it reads
//! (tested on captured text), and the scrape itself. As in the Collector, every scraper's metrics
//! are one `ResourceMetrics` with an empty resource (hostmetrics sets no resource attributes; the
//! `resourcedetection` processor adds them), its scope named after the Collector's scraper package,
//! and cumulative sums (and gauges) starting at the host's boot; except `process`, whose metrics are
//! one `ResourceMetrics` per process, with the process's resource attributes, starting when the
//! process did (see `process.rs`). A scrape runs on the blocking pool
//! (it reads many files and calls `statvfs`, which a hung network mount can stall); a scraper that
//! fails is logged and left out, the others are sent. A refusal by the pipeline is logged and
//! counted by `ingest`; scraping goes on at the next tick. Stopping ends a scrape in progress at once
//! and gives one already handed to the pipeline `scraper::commit`'s grace to be committed.
//!
//! Not supported yet: the `nfs` and `hardware` scrapers, and a few optional metrics (listed per
//! scraper; enabling one is a config error that says so).

mod cpu;
mod disk;
mod filesystem;
mod load;
mod memory;
mod network;
mod paging;
mod process;
mod processes;
mod system;

pub use process::{MuteErrors, ProcessConfig, ResourceAttributes};

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
use serde_yaml_ng::{Mapping, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Duration;

/// The Collector's `collection_interval` default.
pub const DEFAULT_COLLECTION_INTERVAL: Duration = Duration::from_secs(60);
/// The Collector's `initial_delay` default.
pub const DEFAULT_INITIAL_DELAY: Duration = Duration::from_secs(1);
/// The semantic conventions the Collector's scrapers declare (`sem_conv_version: 1.9.0`).
const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.9.0";
/// Each scraper's scope is this followed by `<scraper>scraper`, as the Collector names them.
const SCOPE_PREFIX: &str = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver/internal/scraper/";
/// Scrapers of the Collector that otelbox does not have yet.
const NOT_YET_SCRAPERS: &[&str] = &["nfs", "hardware"];

/// A `hostmetrics` receiver's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct HostMetricsConfig {
    pub collection_interval: Duration,
    pub initial_delay: Duration,
    /// `timeout`: the longest one scrape may take; `None` (the Collector's 0) waits for it.
    pub timeout: Option<Duration>,
    /// `root_path`: where the host's root filesystem is (`/` unless collecting from a container).
    pub root_path: PathBuf,
    /// In the order the config lists them.
    pub scrapers: Vec<ScraperConfig>,
}

impl Default for HostMetricsConfig {
    fn default() -> Self {
        HostMetricsConfig {
            collection_interval: DEFAULT_COLLECTION_INTERVAL,
            initial_delay: DEFAULT_INITIAL_DELAY,
            timeout: None,
            root_path: PathBuf::from("/"),
            scrapers: Vec::new(),
        }
    }
}

/// The scrapers otelbox has, by their key under `scrapers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScraperKind {
    Cpu,
    Disk,
    Filesystem,
    Load,
    Memory,
    Network,
    Paging,
    Process,
    Processes,
    System,
}

impl ScraperKind {
    pub const ALL: [ScraperKind; 10] = [
        ScraperKind::Cpu,
        ScraperKind::Disk,
        ScraperKind::Filesystem,
        ScraperKind::Load,
        ScraperKind::Memory,
        ScraperKind::Network,
        ScraperKind::Paging,
        ScraperKind::Process,
        ScraperKind::Processes,
        ScraperKind::System,
    ];

    /// The key under `scrapers`.
    pub fn name(self) -> &'static str {
        match self {
            ScraperKind::Cpu => "cpu",
            ScraperKind::Disk => "disk",
            ScraperKind::Filesystem => "filesystem",
            ScraperKind::Load => "load",
            ScraperKind::Memory => "memory",
            ScraperKind::Network => "network",
            ScraperKind::Paging => "paging",
            ScraperKind::Process => "process",
            ScraperKind::Processes => "processes",
            ScraperKind::System => "system",
        }
    }

    fn catalog(self) -> &'static Catalog {
        match self {
            ScraperKind::Cpu => &cpu::CATALOG,
            ScraperKind::Disk => &disk::CATALOG,
            ScraperKind::Filesystem => &filesystem::CATALOG,
            ScraperKind::Load => &load::CATALOG,
            ScraperKind::Memory => &memory::CATALOG,
            ScraperKind::Network => &network::CATALOG,
            ScraperKind::Paging => &paging::CATALOG,
            ScraperKind::Process => &process::CATALOG,
            ScraperKind::Processes => &processes::CATALOG,
            ScraperKind::System => &system::CATALOG,
        }
    }
}

/// One configured scraper: its own settings and the metrics it emits.
#[derive(Clone, Debug, PartialEq)]
pub struct ScraperConfig {
    pub scraper: Scraper,
    pub metrics: Enabled,
}

impl ScraperConfig {
    /// A scraper given as `{}`: the Collector's defaults.
    pub fn defaults(kind: ScraperKind) -> ScraperConfig {
        let scraper = match kind {
            ScraperKind::Cpu => Scraper::Cpu,
            ScraperKind::Disk => Scraper::Disk {
                devices: NameFilter::default(),
            },
            ScraperKind::Filesystem => Scraper::Filesystem(FilesystemFilters::default()),
            ScraperKind::Load => Scraper::Load { cpu_average: false },
            ScraperKind::Memory => Scraper::Memory,
            ScraperKind::Network => Scraper::Network {
                interfaces: NameFilter::default(),
            },
            ScraperKind::Paging => Scraper::Paging,
            ScraperKind::Process => Scraper::Process(ProcessConfig::default()),
            ScraperKind::Processes => Scraper::Processes,
            ScraperKind::System => Scraper::System,
        };
        ScraperConfig {
            scraper,
            metrics: Enabled::defaults(kind.catalog()),
        }
    }
}

/// A scraper and the settings of its own the Collector gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum Scraper {
    Cpu,
    /// `include`/`exclude` with `devices`.
    Disk {
        devices: NameFilter,
    },
    Filesystem(FilesystemFilters),
    /// `cpu_average`: the averages divided by the number of logical CPUs.
    Load {
        cpu_average: bool,
    },
    Memory,
    /// `include`/`exclude` with `interfaces`.
    Network {
        interfaces: NameFilter,
    },
    Paging,
    /// Per-process metrics: `include`/`exclude` with `names`, the `mute_process_*_error` settings,
    /// `scrape_process_delay`, `resource_attributes`.
    Process(ProcessConfig),
    Processes,
    System,
}

impl Scraper {
    pub fn kind(&self) -> ScraperKind {
        match self {
            Scraper::Cpu => ScraperKind::Cpu,
            Scraper::Disk { .. } => ScraperKind::Disk,
            Scraper::Filesystem(_) => ScraperKind::Filesystem,
            Scraper::Load { .. } => ScraperKind::Load,
            Scraper::Memory => ScraperKind::Memory,
            Scraper::Network { .. } => ScraperKind::Network,
            Scraper::Paging => ScraperKind::Paging,
            Scraper::Process(_) => ScraperKind::Process,
            Scraper::Processes => ScraperKind::Processes,
            Scraper::System => ScraperKind::System,
        }
    }
}

/// The filesystem scraper's filters, each on one property of a mount.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilesystemFilters {
    /// `include_virtual_filesystems`: also mounts without a block device (tmpfs, proc, overlay...).
    pub include_virtual: bool,
    /// `include_devices`/`exclude_devices`.
    pub devices: NameFilter,
    /// `include_fs_types`/`exclude_fs_types`.
    pub fs_types: NameFilter,
    /// `include_mount_points`/`exclude_mount_points`, as the host sees them.
    pub mount_points: NameFilter,
}

/// The metrics a scraper emits: its catalog's defaults with the config's `metrics` toggles applied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Enabled(Vec<&'static str>);

impl Enabled {
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(&name)
    }

    fn defaults(catalog: &Catalog) -> Enabled {
        Enabled(catalog.emits.iter().filter(|m| m.default).map(|m| m.name).collect())
    }
}

/// An include or exclude filter on names: exact names (`match_type: strict`) or regular
/// expressions matching anywhere in the name (`match_type: regexp`, as the Collector's filterset).
#[derive(Clone, Debug)]
pub enum MatchSet {
    Strict(Vec<String>),
    Regexp(Vec<regex::Regex>),
}

impl MatchSet {
    pub fn matches(&self, name: &str) -> bool {
        match self {
            MatchSet::Strict(names) => names.iter().any(|n| n == name),
            MatchSet::Regexp(patterns) => patterns.iter().any(|p| p.is_match(name)),
        }
    }
}

impl PartialEq for MatchSet {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (MatchSet::Strict(a), MatchSet::Strict(b)) => a == b,
            (MatchSet::Regexp(a), MatchSet::Regexp(b)) => a.iter().map(|r| r.as_str()).eq(b.iter().map(|r| r.as_str())),
            _ => false,
        }
    }
}

/// What an `include` and an `exclude` let through: a name the include matches (or any, without
/// one) that the exclude does not.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NameFilter {
    pub include: Option<MatchSet>,
    pub exclude: Option<MatchSet>,
}

impl NameFilter {
    pub fn allows(&self, name: &str) -> bool {
        self.include.as_ref().is_none_or(|m| m.matches(name)) && self.exclude.as_ref().is_none_or(|m| !m.matches(name))
    }
}

// ---------------------------------------------------------------------------------------------
// Config

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> HostMetricsConfig {
    let mut config = HostMetricsConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(
        body,
        &[
            "collection_interval",
            "initial_delay",
            "timeout",
            "root_path",
            "scrapers",
            "metadata_collection_interval",
        ],
        path,
    );
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
    if let Some(timeout) = body.get("timeout").and_then(|v| p.duration(v, &format!("{path}.timeout"))) {
        config.timeout = (!timeout.is_zero()).then_some(timeout);
    }
    // The Collector's interval for host entity events (sent as logs): accepted, and nothing to do
    // here, since this receiver sends metrics only.
    if let Some(v) = body.get("metadata_collection_interval") {
        p.duration(v, &format!("{path}.metadata_collection_interval"));
    }
    if let Some(v) = body.get("root_path") {
        let at = format!("{path}.root_path");
        if let Some(text) = p.string(v, &at) {
            if text.is_empty() {
                // As the Collector: an empty root_path is the root.
            } else if !text.starts_with('/') {
                p.error(&at, format!("expected an absolute path like /hostfs, got '{text}'"));
            } else {
                config.root_path = PathBuf::from(text);
            }
        }
    }
    let scrapers_at = format!("{path}.scrapers");
    let entries = p.entries(body.get("scrapers"), &scrapers_at);
    if entries.is_empty() {
        p.error(
            path,
            format!("must specify at least one scraper under scrapers ({})", scraper_names()),
        );
    }
    for (name, value) in entries {
        let at = format!("{scrapers_at}.{name}");
        match ScraperKind::ALL.iter().find(|kind| kind.name() == name) {
            Some(kind) => config.scrapers.push(parse_scraper(p, *kind, value, &at)),
            None if NOT_YET_SCRAPERS.iter().any(|n| *n == name) => p.error(
                &at,
                format!("the {name} scraper is not supported by otelbox yet (it has: {})", scraper_names()),
            ),
            None => p.error(&at, format!("unknown scraper (expected one of: {})", scraper_names())),
        }
    }
    config
}

fn scraper_names() -> String {
    ScraperKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
}

fn parse_scraper(p: &mut Parser, kind: ScraperKind, value: &Value, at: &str) -> ScraperConfig {
    let Some(body) = p.mapping(Some(value), at) else {
        return ScraperConfig::defaults(kind);
    };
    let keys: &[&str] = match kind {
        ScraperKind::Disk | ScraperKind::Network => &["metrics", "include", "exclude"],
        ScraperKind::Filesystem => &[
            "metrics",
            "include_virtual_filesystems",
            "include_devices",
            "exclude_devices",
            "include_fs_types",
            "exclude_fs_types",
            "include_mount_points",
            "exclude_mount_points",
        ],
        ScraperKind::Load => &["metrics", "cpu_average"],
        ScraperKind::Process => process::CONFIG_KEYS,
        _ => &["metrics"],
    };
    p.only_keys(body, keys, at);
    let metrics = parse_metrics(p, kind, body.get("metrics"), &format!("{at}.metrics"));
    let scraper = match kind {
        ScraperKind::Cpu => Scraper::Cpu,
        ScraperKind::Disk => Scraper::Disk {
            devices: parse_filter(p, body, ("include", "exclude"), "devices", at),
        },
        ScraperKind::Filesystem => Scraper::Filesystem(FilesystemFilters {
            include_virtual: body
                .get("include_virtual_filesystems")
                .and_then(|v| p.boolean(v, &format!("{at}.include_virtual_filesystems")))
                .unwrap_or(false),
            devices: parse_filter(p, body, ("include_devices", "exclude_devices"), "devices", at),
            fs_types: parse_filter(p, body, ("include_fs_types", "exclude_fs_types"), "fs_types", at),
            mount_points: parse_filter(p, body, ("include_mount_points", "exclude_mount_points"), "mount_points", at),
        }),
        ScraperKind::Load => Scraper::Load {
            cpu_average: body
                .get("cpu_average")
                .and_then(|v| p.boolean(v, &format!("{at}.cpu_average")))
                .unwrap_or(false),
        },
        ScraperKind::Memory => Scraper::Memory,
        ScraperKind::Network => Scraper::Network {
            interfaces: parse_filter(p, body, ("include", "exclude"), "interfaces", at),
        },
        ScraperKind::Paging => Scraper::Paging,
        ScraperKind::Process => Scraper::Process(process::parse_config(p, body, at)),
        ScraperKind::Processes => Scraper::Processes,
        ScraperKind::System => Scraper::System,
    };
    ScraperConfig { scraper, metrics }
}

/// `metrics: {name: {enabled: bool}}` over the scraper's defaults.
fn parse_metrics(p: &mut Parser, kind: ScraperKind, value: Option<&Value>, at: &str) -> Enabled {
    let catalog = kind.catalog();
    let mut enabled = Enabled::defaults(catalog);
    for (name, value) in p.entries(value, at) {
        let metric_at = format!("{at}.{name}");
        let Some(settings) = p.mapping(Some(value), &metric_at) else {
            continue;
        };
        p.only_keys(settings, &["enabled"], &metric_at);
        let on = match settings.get("enabled") {
            Some(v) => p.boolean(v, &format!("{metric_at}.enabled")),
            None => continue,
        };
        let Some(on) = on else { continue };
        match catalog.emits.iter().find(|m| m.name == name.as_str()) {
            Some(known) => {
                enabled.0.retain(|m| *m != known.name);
                if on {
                    enabled.0.push(known.name);
                }
            }
            None if catalog.not_yet.contains(&name.as_str()) => {
                if on {
                    p.error(
                        &metric_at,
                        format!("otelbox's {} scraper does not emit this optional metric yet", kind.name()),
                    );
                }
            }
            None => {
                let known: Vec<&str> = catalog
                    .emits
                    .iter()
                    .map(|m| m.name)
                    .chain(catalog.not_yet.iter().copied())
                    .collect();
                p.error(
                    &metric_at,
                    format!("unknown metric of the {} scraper (it has: {})", kind.name(), known.join(", ")),
                );
            }
        }
    }
    enabled
}

/// A scraper's include and exclude filters on one list key (`devices`, `interfaces`...).
fn parse_filter(p: &mut Parser, body: &Mapping, (include, exclude): (&str, &str), list_key: &str, at: &str) -> NameFilter {
    NameFilter {
        include: parse_match(p, body.get(include), list_key, &format!("{at}.{include}")),
        exclude: parse_match(p, body.get(exclude), list_key, &format!("{at}.{exclude}")),
    }
}

/// `{<list_key>: [...], match_type: strict|regexp}`, the Collector's filterset config; without
/// names there is no filter (as in the Collector).
fn parse_match(p: &mut Parser, value: Option<&Value>, list_key: &str, at: &str) -> Option<MatchSet> {
    let value = value?;
    let body = p.mapping(Some(value), at)?;
    p.only_keys(body, &[list_key, "match_type", "regexp"], at);
    if let Some(regexp) = body.get("regexp") {
        // The Collector's regexp cache settings: accepted; matching here needs no cache.
        let regexp_at = format!("{at}.regexp");
        if let Some(settings) = p.mapping(Some(regexp), &regexp_at) {
            p.only_keys(settings, &["cacheenabled", "cachemaxnumentries"], &regexp_at);
        }
    }
    let list_at = format!("{at}.{list_key}");
    let names = p.string_list(body.get(list_key), &list_at);
    let match_type_at = format!("{at}.match_type");
    let match_type = body.get("match_type").and_then(|v| p.string(v, &match_type_at));
    if let Some(other) = match_type.as_deref().filter(|t| !matches!(*t, "strict" | "regexp")) {
        p.error(&match_type_at, format!("expected strict or regexp, got '{other}'"));
        return None;
    }
    if names.is_empty() {
        return None;
    }
    match match_type.as_deref() {
        Some("strict") => Some(MatchSet::Strict(names)),
        Some(_) => {
            let mut patterns = Vec::with_capacity(names.len());
            for (i, name) in names.iter().enumerate() {
                match regex::Regex::new(name) {
                    Ok(pattern) => patterns.push(pattern),
                    Err(e) => p.error(&format!("{list_at}[{i}]"), format!("not a valid regular expression: {e}")),
                }
            }
            Some(MatchSet::Regexp(patterns))
        }
        None => {
            p.error(at, format!("match_type is required with {list_key}: strict or regexp"));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The receiver

pub struct Factory;
// `host_metrics`: the Collector's newer spelling of the type.
crate::component_type!(Factory, "hostmetrics", &[crate::pdata::Signal::Metrics], parse, aliases: &["host_metrics"]);

impl ReceiverFactory for Factory {
    fn build<'a>(
        &'a self,
        host: &'a ReceiverHost,
        id: &'a ComponentId,
        settings: &'a Settings,
        heads: SignalConsumers,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Receiver>>> {
        Box::pin(async move {
            let config: &HostMetricsConfig = settings.get();
            // Fails start-up on a root_path that holds no Linux /proc, as the Collector checks it.
            let boot_time_ns = read_boot_time(&config.root_path)
                .await
                .map_err(|e| anyhow::anyhow!("receivers.{id}.root_path: {e}"))?;
            Ok(Box::new(HostMetricsReceiver {
                id: id.clone(),
                config: config.clone(),
                intake: host.intake(&heads, crate::receiver::DEFAULT_MAX_REQUEST_BYTES),
                root: HostRoot {
                    root: config.root_path.clone(),
                    boot_time_ns,
                },
            }) as Box<dyn Receiver>)
        })
    }
}

/// The host's boot time, from `btime` in `<root>/proc/stat`.
async fn read_boot_time(root: &Path) -> Result<u64, String> {
    let path = root.join("proc/stat");
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| format!("cannot read {} ({e}); hostmetrics reads the /proc of a Linux host", path.display()))?;
    cpu::boot_time_ns(&text).ok_or_else(|| format!("{} has no btime line; is root_path the root of a Linux host?", path.display()))
}

struct HostMetricsReceiver {
    id: ComponentId,
    config: HostMetricsConfig,
    intake: Intake,
    root: HostRoot,
}

impl Receiver for HostMetricsReceiver {
    /// A scraper listens nowhere.
    fn endpoints(&self) -> Vec<Endpoint> {
        Vec::new()
    }

    /// The host (its root filesystem) and the scrapers that read it.
    fn targets(&self) -> Vec<String> {
        let scrapers: Vec<&str> = self.config.scrapers.iter().map(|s| s.scraper.kind().name()).collect();
        vec![format!("{} ({})", self.config.root_path.display(), scrapers.join(", "))]
    }

    fn start(self: Box<Self>, stop: &Stop) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        Ok(vec![tokio::spawn(run(*self, stop.clone()))])
    }
}

/// Scrapes after `initial_delay`, then every `collection_interval` (a tick missed while a scrape or
/// its commit takes longer is skipped, as the Collector's ticker does), until `stop`.
async fn run(receiver: HostMetricsReceiver, stop: Stop) {
    let HostMetricsReceiver { id, config, intake, root } = receiver;
    tracing::info!(
        receiver = %id,
        interval = ?config.collection_interval,
        scrapers = %config.scrapers.iter().map(|s| s.scraper.kind().name()).collect::<Vec<_>>().join(","),
        "scraping host metrics"
    );
    let scrapers = Arc::new(Mutex::new(Scrapers::new(root, config.scrapers.clone())));
    let first = tokio::time::Instant::now() + config.initial_delay;
    let mut ticks = tokio::time::interval_at(first, config.collection_interval.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            _ = stop.wait() => return,
            _ = ticks.tick() => {}
        }
        let scraped = tokio::select! {
            biased;
            _ = stop.wait() => return,
            scraped = scrape_once(scrapers.clone(), config.timeout) => scraped,
        };
        let scrape = match scraped {
            Ok(scrape) => scrape,
            Err(error) => {
                tracing::warn!(receiver = %id, %error, "host metrics were not scraped");
                continue;
            }
        };
        for (scraper, error) in &scrape.errors {
            tracing::warn!(receiver = %id, scraper = %scraper, %error, "a scraper failed; what it could not read is left out of this scrape");
        }
        if scrape.request.item_count() == 0 {
            continue;
        }
        if crate::receiver::scraper::commit(&intake, &id, "scrape", scrape.request, &stop).await {
            return;
        }
    }
}

/// One scrape on the blocking pool, bounded by `timeout`. A scrape still running (a hung mount)
/// keeps the scrapers, so the next one is skipped rather than piling up blocked threads.
async fn scrape_once(scrapers: Arc<Mutex<Scrapers>>, timeout: Option<Duration>) -> Result<Scrape, String> {
    let task = tokio::task::spawn_blocking(move || {
        let mut scrapers = match scrapers.try_lock() {
            Ok(scrapers) => scrapers,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Err("the previous scrape has not finished yet (a hung filesystem?); this one is skipped".to_string())
            }
        };
        Ok(scrapers.scrape())
    });
    let joined = match timeout {
        Some(limit) => match tokio::time::timeout(limit, task).await {
            Ok(joined) => joined,
            Err(_) => return Err(format!("the scrape took longer than the {limit:?} timeout")),
        },
        None => task.await,
    };
    joined.map_err(|e| format!("the scrape failed: {e}"))?
}

/// The result of one scrape: every scraper's metrics, and what failed, by scraper.
struct Scrape {
    request: ExportMetricsServiceRequest,
    errors: Vec<(&'static str, String)>,
}

/// The configured scrapers with what they keep between scrapes.
struct Scrapers {
    root: HostRoot,
    configs: Vec<ScraperConfig>,
    /// The CPU times of the previous scrape, for `system.cpu.utilization`.
    cpu_before: Option<Vec<cpu::CpuTimes>>,
    /// Each process's CPU times at the previous scrape, for `process.cpu.utilization`.
    process_state: process::ProcessState,
}

impl Scrapers {
    fn new(root: HostRoot, configs: Vec<ScraperConfig>) -> Scrapers {
        Scrapers {
            root,
            configs,
            cpu_before: None,
            process_state: process::ProcessState::default(),
        }
    }

    /// Runs every scraper (blocking: it reads files), each into its own `ResourceMetrics` (the
    /// process scraper into one per process).
    fn scrape(&mut self) -> Scrape {
        let mut request = ExportMetricsServiceRequest::default();
        let mut errors = Vec::new();
        for config in &self.configs {
            let mut out = Emit::new(&config.metrics, self.root.boot_time_ns, now_ns());
            match &config.scraper {
                Scraper::Cpu => cpu::scrape(&self.root, &mut out, &mut self.cpu_before),
                Scraper::Disk { devices } => disk::scrape(&self.root, &mut out, devices),
                Scraper::Filesystem(filters) => filesystem::scrape(&self.root, &mut out, filters),
                Scraper::Load { cpu_average } => load::scrape(&self.root, &mut out, *cpu_average),
                Scraper::Memory => memory::scrape(&self.root, &mut out),
                Scraper::Network { interfaces } => network::scrape(&self.root, &mut out, interfaces),
                Scraper::Paging => paging::scrape(&self.root, &mut out),
                Scraper::Process(settings) => process::scrape(&self.root, &mut out, settings, &mut self.process_state),
                Scraper::Processes => processes::scrape(&self.root, &mut out),
                Scraper::System => system::scrape(&self.root, &mut out),
            }
            let kind = config.scraper.kind();
            errors.extend(out.errors.into_iter().map(|e| (kind.name(), e)));
            if !out.metrics.is_empty() {
                request.resource_metrics.push(resource_metrics(kind, Vec::new(), out.metrics));
            }
            for (attributes, metrics) in out.resources {
                request.resource_metrics.push(resource_metrics(kind, attributes, metrics));
            }
        }
        Scrape { request, errors }
    }
}

/// One scraper's metrics as the Collector emits them: the resource (empty but for the process
/// scraper's), the scraper's scope.
fn resource_metrics(kind: ScraperKind, attributes: Vec<KeyValue>, metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes,
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: format!("{SCOPE_PREFIX}{}scraper", kind.name()),
                version: env!("CARGO_PKG_VERSION").to_string(),
                ..Default::default()
            }),
            metrics,
            schema_url: String::new(),
        }],
        schema_url: SCHEMA_URL.to_string(),
    }
}

/// Where the host's files are, and when it booted.
struct HostRoot {
    /// `root_path`: `/`, or where the host's `/` is mounted.
    root: PathBuf,
    /// The start of every point: the Collector starts its host series at boot.
    boot_time_ns: u64,
}

impl HostRoot {
    /// `<root>/proc/<relative>`.
    fn proc_path(&self, relative: &str) -> PathBuf {
        self.root.join("proc").join(relative)
    }

    /// A path as the host sees it (`/boot`), under the root (`/hostfs/boot`).
    fn host_path(&self, absolute: &str) -> PathBuf {
        self.root.join(absolute.trim_start_matches('/'))
    }

    /// Reads `<root>/proc/<relative>` and parses it; an error names the file.
    fn parse_proc<T>(&self, relative: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, String> {
        let path = self.proc_path(relative);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Replaces the octal escapes the kernel writes into names in /proc files (`\040` for a space in
/// /proc/mounts and /proc/swaps).
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let value = u32::from(bytes[i + 1] - b'0') * 64 + u32::from(bytes[i + 2] - b'0') * 8 + u32::from(bytes[i + 3] - b'0');
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Building metrics

/// How a metric aggregates, in the Collector's terms: all sums are cumulative.
#[derive(Clone, Copy, Debug, PartialEq)]
enum MetricKind {
    Gauge,
    /// A monotonic cumulative sum.
    Counter,
    /// A non-monotonic cumulative sum.
    UpDownCounter,
}

/// A metric a scraper can emit, with the Collector's name, unit and type, and whether the Collector
/// emits it by default.
#[derive(Clone, Copy, Debug)]
struct MetricDef {
    name: &'static str,
    unit: &'static str,
    description: &'static str,
    kind: MetricKind,
    default: bool,
}

/// The metrics of one scraper: those otelbox emits, and the Collector's optional ones it does not yet.
struct Catalog {
    emits: &'static [MetricDef],
    not_yet: &'static [&'static str],
}

/// One data point: its attributes (all strings here) and value.
struct Point {
    attributes: Vec<KeyValue>,
    value: number_data_point::Value,
}

impl Point {
    fn int(value: u64, attributes: &[(&str, &str)]) -> Point {
        Point {
            attributes: string_attributes(attributes),
            value: number_data_point::Value::AsInt(i64::try_from(value).unwrap_or(i64::MAX)),
        }
    }

    fn double(value: f64, attributes: &[(&str, &str)]) -> Point {
        Point {
            attributes: string_attributes(attributes),
            value: number_data_point::Value::AsDouble(value),
        }
    }
}

fn string_attributes(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(key, value)| KeyValue {
            key: key.to_string(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.to_string())),
            }),
            ..Default::default()
        })
        .collect()
}

/// What one scraper produced: the enabled metrics that have points, and its errors; the process
/// scraper's metrics are in `resources`, with each process's resource attributes.
struct Emit<'a> {
    enabled: &'a Enabled,
    start_ns: u64,
    now_ns: u64,
    metrics: Vec<Metric>,
    resources: Vec<(Vec<KeyValue>, Vec<Metric>)>,
    errors: Vec<String>,
}

impl<'a> Emit<'a> {
    fn new(enabled: &'a Enabled, start_ns: u64, now_ns: u64) -> Emit<'a> {
        Emit {
            enabled,
            start_ns,
            now_ns,
            metrics: Vec::new(),
            resources: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Adds a resource of its own with its metrics (none: nothing, as the Collector emits no
    /// resource without metrics).
    fn push_resource(&mut self, attributes: Vec<KeyValue>, metrics: Vec<Metric>) {
        if !metrics.is_empty() {
            self.resources.push((attributes, metrics));
        }
    }

    fn wants(&self, def: &MetricDef) -> bool {
        self.enabled.contains(def.name)
    }

    /// Adds the metric if it is enabled and has points.
    fn push(&mut self, def: &MetricDef, points: Vec<Point>) {
        if !self.wants(def) || points.is_empty() {
            return;
        }
        let (start, now) = (self.start_ns, self.now_ns);
        let data_points: Vec<NumberDataPoint> = points
            .into_iter()
            .map(|point| NumberDataPoint {
                attributes: point.attributes,
                start_time_unix_nano: start,
                time_unix_nano: now,
                value: Some(point.value),
                ..Default::default()
            })
            .collect();
        let cumulative = AggregationTemporality::Cumulative as i32;
        let data = match def.kind {
            MetricKind::Gauge => metric::Data::Gauge(Gauge { data_points }),
            MetricKind::Counter => metric::Data::Sum(Sum {
                data_points,
                aggregation_temporality: cumulative,
                is_monotonic: true,
            }),
            MetricKind::UpDownCounter => metric::Data::Sum(Sum {
                data_points,
                aggregation_temporality: cumulative,
                is_monotonic: false,
            }),
        };
        self.metrics.push(Metric {
            name: def.name.to_string(),
            description: def.description.to_string(),
            unit: def.unit.to_string(),
            data: Some(data),
            ..Default::default()
        });
    }

    fn error(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod test_support {
    //! Reading metrics back in tests, and a fake host root.
    use super::*;

    pub fn find<'m>(metrics: &'m [Metric], name: &str) -> Option<&'m Metric> {
        metrics.iter().find(|m| m.name == name)
    }

    pub fn points(metric: &Metric) -> &[NumberDataPoint] {
        match &metric.data {
            Some(metric::Data::Sum(sum)) => &sum.data_points,
            Some(metric::Data::Gauge(gauge)) => &gauge.data_points,
            _ => &[],
        }
    }

    pub fn value(point: &NumberDataPoint) -> f64 {
        match point.value {
            Some(number_data_point::Value::AsInt(v)) => v as f64,
            Some(number_data_point::Value::AsDouble(v)) => v,
            None => f64::NAN,
        }
    }

    pub fn attribute<'p>(point: &'p NumberDataPoint, key: &str) -> Option<&'p str> {
        point
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => Some(s.as_str()),
                _ => None,
            })
    }

    /// The attribute keys of a point, in order.
    pub fn keys(point: &NumberDataPoint) -> Vec<&str> {
        point.attributes.iter().map(|kv| kv.key.as_str()).collect()
    }

    /// The value of the one point of `name` whose attributes include all of `with`.
    pub fn value_of(metrics: &[Metric], name: &str, with: &[(&str, &str)]) -> f64 {
        let metric = find(metrics, name).unwrap_or_else(|| panic!("no metric {name}"));
        let matching: Vec<&NumberDataPoint> = points(metric)
            .iter()
            .filter(|p| with.iter().all(|(k, v)| attribute(p, k) == Some(*v)))
            .collect();
        assert_eq!(matching.len(), 1, "{name} {with:?}: expected one point, got {}", matching.len());
        value(matching[0])
    }

    pub fn is_int(point: &NumberDataPoint) -> bool {
        matches!(point.value, Some(number_data_point::Value::AsInt(_)))
    }

    /// (monotonic, cumulative) of a sum; None for a gauge.
    pub fn sum_shape(metric: &Metric) -> Option<(bool, bool)> {
        match &metric.data {
            Some(metric::Data::Sum(sum)) => Some((
                sum.is_monotonic,
                sum.aggregation_temporality == AggregationTemporality::Cumulative as i32,
            )),
            _ => None,
        }
    }

    pub fn approx(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    /// Every metric enabled, optional ones included.
    pub fn all_of(kind: ScraperKind) -> Enabled {
        Enabled(kind.catalog().emits.iter().map(|m| m.name).collect())
    }

    pub fn defaults_of(kind: ScraperKind) -> Enabled {
        Enabled::defaults(kind.catalog())
    }

    /// A root directory holding `files` (path relative to the root, text).
    pub fn fake_root(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    /// The boot time of the fake hosts: November 2023.
    pub const BOOT_NS: u64 = 1_700_000_000_000_000_000;

    pub fn host_root(dir: &Path) -> HostRoot {
        HostRoot {
            root: dir.to_path_buf(),
            boot_time_ns: BOOT_NS,
        }
    }

    /// Runs one scraper's `scrape` into a fresh `Emit`: (metrics, errors).
    pub fn scrape_with(enabled: &Enabled, scrape: impl FnOnce(&mut Emit<'_>)) -> (Vec<Metric>, Vec<String>) {
        let mut out = Emit::new(enabled, 1, 2);
        scrape(&mut out);
        (out.metrics, out.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::pipeline::{Consumer, Envelope, PipelineError, SharedConsumer};
    use crate::receiver::Admission;
    use crate::telemetry::IngestStats;
    use std::sync::atomic::Ordering;

    fn parse_yaml(yaml: &str) -> (HostMetricsConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "receivers.hostmetrics");
        (config, errors)
    }

    #[test]
    fn the_collectors_defaults_apply_when_only_scrapers_are_given() {
        let (config, errors) = parse_yaml("scrapers: { cpu: {}, memory: null }");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.collection_interval, Duration::from_secs(60));
        assert_eq!(config.initial_delay, Duration::from_secs(1));
        assert_eq!(config.timeout, None);
        assert_eq!(config.root_path, PathBuf::from("/"));
        assert_eq!(
            config.scrapers,
            vec![
                ScraperConfig::defaults(ScraperKind::Cpu),
                ScraperConfig::defaults(ScraperKind::Memory)
            ]
        );
        let cpu = &config.scrapers[0].metrics;
        assert!(cpu.contains("system.cpu.time") && !cpu.contains("system.cpu.utilization"));
    }

    #[test]
    fn every_collector_key_is_read_into_the_config() {
        let (config, errors) = parse_yaml(
            r#"
collection_interval: 10s
initial_delay: 0s
timeout: 5s
root_path: /hostfs
metadata_collection_interval: 5m
scrapers:
  cpu:
    metrics:
      system.cpu.time: { enabled: false }
      system.cpu.utilization: { enabled: true }
  disk:
    exclude: { devices: ['^loop', '^ram'], match_type: regexp }
  filesystem:
    include_virtual_filesystems: true
    exclude_fs_types: { fs_types: [tmpfs], match_type: strict }
    include_mount_points: { mount_points: ['/', '/data'], match_type: strict, regexp: { cacheenabled: false } }
  load: { cpu_average: true }
  network:
    include: { interfaces: [eth0], match_type: strict }
"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.collection_interval, Duration::from_secs(10));
        assert_eq!(config.initial_delay, Duration::ZERO);
        assert_eq!(config.timeout, Some(Duration::from_secs(5)));
        assert_eq!(config.root_path, PathBuf::from("/hostfs"));
        let kinds: Vec<ScraperKind> = config.scrapers.iter().map(|s| s.scraper.kind()).collect();
        assert_eq!(
            kinds,
            [
                ScraperKind::Cpu,
                ScraperKind::Disk,
                ScraperKind::Filesystem,
                ScraperKind::Load,
                ScraperKind::Network
            ]
        );
        assert_eq!(config.scrapers[0].metrics, Enabled(vec!["system.cpu.utilization"]));
        let Scraper::Disk { devices } = &config.scrapers[1].scraper else {
            panic!()
        };
        assert!(devices.include.is_none());
        assert!(!devices.allows("loop0") && !devices.allows("ram1") && devices.allows("nvme0n1"));
        let Scraper::Filesystem(filters) = &config.scrapers[2].scraper else {
            panic!()
        };
        assert!(filters.include_virtual);
        assert!(!filters.fs_types.allows("tmpfs") && filters.fs_types.allows("ext4"));
        assert!(filters.mount_points.allows("/data") && !filters.mount_points.allows("/data/sub"));
        assert_eq!(config.scrapers[3].scraper, Scraper::Load { cpu_average: true });
        let Scraper::Network { interfaces } = &config.scrapers[4].scraper else {
            panic!()
        };
        assert!(interfaces.allows("eth0") && !interfaces.allows("eth01") && !interfaces.allows("lo"));
    }

    #[test]
    fn a_regexp_filter_matches_anywhere_in_the_name_as_the_collectors_filterset() {
        let (config, errors) = parse_yaml("scrapers: { network: { exclude: { interfaces: ['veth', '^docker0$'], match_type: regexp } } }");
        assert!(errors.is_empty(), "{errors:?}");
        let Scraper::Network { interfaces } = &config.scrapers[0].scraper else {
            panic!()
        };
        assert!(!interfaces.allows("veth1a2b") && !interfaces.allows("xveth") && !interfaces.allows("docker0"));
        assert!(interfaces.allows("docker01") && interfaces.allows("eth0"));
    }

    #[test]
    fn config_mistakes_are_errors_with_their_path() {
        let cases: &[(&str, &str)] = &[
            (
                "collection_interval: 1m",
                "receivers.hostmetrics: must specify at least one scraper",
            ),
            ("scrapers: {}", "receivers.hostmetrics: must specify at least one scraper"),
            ("scrapers: { cpus: {} }", "receivers.hostmetrics.scrapers.cpus: unknown scraper"),
            (
                "scrapers: { nfs: {} }",
                "receivers.hostmetrics.scrapers.nfs: the nfs scraper is not supported",
            ),
            (
                "scrapers: { process: { include: { names: [java], match_type: glob } } }",
                "receivers.hostmetrics.scrapers.process.include.match_type: expected strict or regexp",
            ),
            (
                "scrapers: { system: { metrics: { system.uptime: { enabled: 1 } } } }",
                "receivers.hostmetrics.scrapers.system.metrics.system.uptime.enabled: expected true or false",
            ),
            (
                "collection_interval: 0s\nscrapers: { cpu: {} }",
                "receivers.hostmetrics.collection_interval: must be greater than 0",
            ),
            (
                "collection_interval: soon\nscrapers: { cpu: {} }",
                "receivers.hostmetrics.collection_interval:",
            ),
            (
                "root_path: hostfs\nscrapers: { cpu: {} }",
                "receivers.hostmetrics.root_path: expected an absolute path",
            ),
            ("port: 1\nscrapers: { cpu: {} }", "receivers.hostmetrics.port: unknown key"),
            (
                "scrapers: { cpu: { include: {} } }",
                "receivers.hostmetrics.scrapers.cpu.include: unknown key",
            ),
            (
                "scrapers: { cpu: { metrics: { system.cpu.tme: { enabled: true } } } }",
                "receivers.hostmetrics.scrapers.cpu.metrics.system.cpu.tme: unknown metric of the cpu scraper",
            ),
            (
                "scrapers: { cpu: { metrics: { system.cpu.frequency: { enabled: true } } } }",
                "receivers.hostmetrics.scrapers.cpu.metrics.system.cpu.frequency: otelbox's cpu scraper does not emit",
            ),
            (
                "scrapers: { cpu: { metrics: { system.cpu.time: { enabled: yes please } } } }",
                "receivers.hostmetrics.scrapers.cpu.metrics.system.cpu.time.enabled: expected true or false",
            ),
            (
                "scrapers: { disk: { include: { devices: [sda] } } }",
                "receivers.hostmetrics.scrapers.disk.include: match_type is required with devices",
            ),
            (
                "scrapers: { disk: { include: { devices: [sda], match_type: glob } } }",
                "receivers.hostmetrics.scrapers.disk.include.match_type: expected strict or regexp",
            ),
            (
                "scrapers: { network: { exclude: { interfaces: ['(eth'], match_type: regexp } } }",
                "receivers.hostmetrics.scrapers.network.exclude.interfaces[0]: not a valid regular expression",
            ),
            (
                "scrapers: { filesystem: { include: { devices: [sda], match_type: strict } } }",
                "receivers.hostmetrics.scrapers.filesystem.include: unknown key",
            ),
            (
                "scrapers: { load: { cpu_average: 1 } }",
                "receivers.hostmetrics.scrapers.load.cpu_average: expected true or false",
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
    fn disabling_an_optional_metric_otelbox_lacks_is_accepted() {
        let (config, errors) = parse_yaml("scrapers: { cpu: { metrics: { system.cpu.frequency: { enabled: false } } } }");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.scrapers[0].metrics, defaults_of(ScraperKind::Cpu));
    }

    #[test]
    fn octal_escapes_in_proc_names_are_decoded() {
        assert_eq!(unescape_octal(r"/mnt/my\040disk"), "/mnt/my disk");
        assert_eq!(unescape_octal(r"a\134b\011c"), "a\\b\tc");
        assert_eq!(unescape_octal(r"short\04"), r"short\04");
        assert_eq!(unescape_octal(r"\999"), r"\999");
    }

    /// A small Linux host: two CPUs, one disk, one physical filesystem (the fake root itself), two
    /// interfaces, a swap device, two processes (whose every file the process scraper reads).
    fn fake_host() -> tempfile::TempDir {
        let dir = fake_root(&[
            ("proc/stat", cpu::GOLDEN_STAT),
            ("proc/meminfo", memory::GOLDEN_MEMINFO),
            ("proc/loadavg", load::GOLDEN_LOADAVG),
            ("proc/diskstats", disk::GOLDEN_DISKSTATS),
            ("proc/net/dev", network::GOLDEN_NET_DEV),
            ("proc/net/tcp", network::GOLDEN_TCP),
            ("proc/swaps", paging::GOLDEN_SWAPS),
            ("proc/vmstat", paging::GOLDEN_VMSTAT),
            ("proc/filesystems", filesystem::GOLDEN_FILESYSTEMS),
            (
                "proc/self/mounts",
                "/dev/vda / ext4 rw,relatime 0 0\nproc /proc proc rw,nosuid 0 0\n",
            ),
            ("proc/uptime", system::GOLDEN_UPTIME),
        ]);
        process::fake::write(dir.path(), &process::fake::SYSTEMD);
        process::fake::write(dir.path(), &process::fake::PYTHON);
        process::fake::write_passwd(dir.path());
        dir
    }

    /// The processes of `fake_host`.
    const FAKE_PROCESSES: usize = 2;
    /// The scrapers with one resource each (all but `process`).
    const HOST_WIDE: usize = ScraperKind::ALL.len() - 1;

    fn every_scraper() -> Vec<ScraperConfig> {
        ScraperKind::ALL.iter().map(|k| ScraperConfig::defaults(*k)).collect()
    }

    #[test]
    fn a_scrape_is_one_request_with_a_resource_and_scope_per_scraper_as_the_collector_sends() {
        let dir = fake_host();
        let mut scrapers = Scrapers::new(host_root(dir.path()), every_scraper());
        let scrape = scrapers.scrape();
        assert!(scrape.errors.is_empty(), "{:?}", scrape.errors);
        let request = scrape.request;
        assert_eq!(request.resource_metrics.len(), HOST_WIDE + FAKE_PROCESSES);
        let collector = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver";
        let scope_of = |rm: &ResourceMetrics| rm.scope_metrics[0].scope.as_ref().unwrap().name.clone();
        let process_scope = format!("{collector}/internal/scraper/processscraper");
        let (per_process, host_wide): (Vec<&ResourceMetrics>, Vec<&ResourceMetrics>) =
            request.resource_metrics.iter().partition(|rm| scope_of(rm) == process_scope);
        let host_wide_kinds = ScraperKind::ALL.into_iter().filter(|k| *k != ScraperKind::Process);
        assert_eq!(host_wide.len(), HOST_WIDE);
        for (rm, kind) in host_wide.iter().zip(host_wide_kinds) {
            assert_eq!(rm.resource, Some(Resource::default()), "hostmetrics sets no resource attributes");
            assert_eq!(rm.schema_url, SCHEMA_URL);
            assert_eq!(scope_of(rm), format!("{collector}/internal/scraper/{}scraper", kind.name()));
            for metric in &rm.scope_metrics[0].metrics {
                for point in points(metric) {
                    assert_eq!(point.start_time_unix_nano, BOOT_NS, "{}: starts at boot", metric.name);
                    assert!(point.time_unix_nano > point.start_time_unix_nano);
                }
            }
        }
        // A resource per process, with its attributes, its points starting when it did.
        assert_eq!(per_process.len(), FAKE_PROCESSES);
        for rm in &per_process {
            assert_eq!(rm.schema_url, SCHEMA_URL);
            let attributes = &rm.resource.as_ref().unwrap().attributes;
            assert_eq!(attributes[0].key, "process.pid");
            let names: Vec<&str> = rm.scope_metrics[0].metrics.iter().map(|m| m.name.as_str()).collect();
            assert_eq!(
                names,
                [
                    "process.cpu.time",
                    "process.disk.io",
                    "process.memory.usage",
                    "process.memory.virtual"
                ]
            );
            for metric in &rm.scope_metrics[0].metrics {
                for point in points(metric) {
                    assert!(point.start_time_unix_nano > BOOT_NS, "{}: starts with the process", metric.name);
                }
            }
        }
        let names: Vec<&str> = host_wide
            .iter()
            .flat_map(|rm| &rm.scope_metrics[0].metrics)
            .map(|m| m.name.as_str())
            .collect();
        let expected = [
            "system.cpu.time",
            "system.disk.io",
            "system.disk.operations",
            "system.disk.io_time",
            "system.disk.operation_time",
            "system.disk.weighted_io_time",
            "system.disk.pending_operations",
            "system.disk.merged",
            "system.filesystem.usage",
            "system.filesystem.inodes.usage",
            "system.cpu.load_average.1m",
            "system.cpu.load_average.5m",
            "system.cpu.load_average.15m",
            "system.memory.usage",
            "system.network.packets",
            "system.network.dropped",
            "system.network.errors",
            "system.network.io",
            "system.network.connections",
            "system.paging.usage",
            "system.paging.operations",
            "system.paging.faults",
            "system.processes.count",
            "system.processes.created",
            "system.uptime",
        ];
        assert_eq!(names, expected, "the Collector's default metrics, and only those");
        assert!(request.item_count() > 50);
    }

    #[test]
    fn cpu_utilization_appears_from_the_second_scrape_on() {
        let dir = fake_host();
        let mut config = ScraperConfig::defaults(ScraperKind::Cpu);
        config.metrics = all_of(ScraperKind::Cpu);
        let mut scrapers = Scrapers::new(host_root(dir.path()), vec![config]);
        let first = scrapers.scrape().request;
        let names = |request: &ExportMetricsServiceRequest| -> Vec<String> {
            request.resource_metrics[0].scope_metrics[0]
                .metrics
                .iter()
                .map(|m| m.name.clone())
                .collect()
        };
        assert_eq!(names(&first), ["system.cpu.time", "system.cpu.logical.count"]);
        let second = scrapers.scrape().request;
        assert_eq!(
            names(&second),
            ["system.cpu.time", "system.cpu.utilization", "system.cpu.logical.count"]
        );
    }

    #[test]
    fn a_failing_scraper_is_reported_and_the_others_are_sent() {
        let dir = fake_root(&[("proc/stat", cpu::GOLDEN_STAT)]);
        let configs = vec![
            ScraperConfig::defaults(ScraperKind::Memory),
            ScraperConfig::defaults(ScraperKind::Cpu),
        ];
        let scrape = Scrapers::new(host_root(dir.path()), configs).scrape();
        assert_eq!(scrape.errors.len(), 1);
        assert_eq!(scrape.errors[0].0, "memory");
        assert!(scrape.errors[0].1.contains("meminfo"), "{:?}", scrape.errors);
        assert_eq!(scrape.request.resource_metrics.len(), 1);
        assert_eq!(
            scrape.request.resource_metrics[0].scope_metrics[0].metrics[0].name,
            "system.cpu.time"
        );
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

    /// Refuses everything, retryably, as a full queue does.
    struct Refuse;
    impl Consumer<ExportMetricsServiceRequest> for Refuse {
        fn consume(&self, envelope: Envelope<ExportMetricsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            let error = PipelineError::retryable("the test pipeline refuses everything");
            envelope.fail(&error);
            Box::pin(async move { Err(error) })
        }
    }

    struct Running {
        stats: Arc<IngestStats>,
        stop: tokio::sync::watch::Sender<bool>,
        tasks: Vec<tokio::task::JoinHandle<()>>,
    }

    async fn start(root: &Path, metrics: SharedConsumer<ExportMetricsServiceRequest>) -> Running {
        let stats = Arc::new(IngestStats::default());
        let host = ReceiverHost {
            stats: stats.clone(),
            admission: Arc::new(Admission::new(None)),
            ingest_tokens: Default::default(),
            tls: None,
            extensions: Default::default(),
            allowed_hosts: Default::default(),
        };
        let config = HostMetricsConfig {
            collection_interval: Duration::from_millis(50),
            initial_delay: Duration::ZERO,
            timeout: Some(Duration::from_secs(10)),
            root_path: root.to_path_buf(),
            scrapers: every_scraper(),
        };
        let heads = SignalConsumers {
            traces: None,
            metrics: Some(metrics),
            logs: None,
        };
        let id = ComponentId::parse("hostmetrics").unwrap();
        let receiver = Factory.build(&host, &id, &Settings::new(config), heads).await.unwrap();
        assert!(receiver.endpoints().is_empty(), "a scraper listens nowhere");
        let (stop, stopped) = Stop::new();
        let tasks = receiver.start(&stopped).unwrap();
        Running { stats, stop, tasks }
    }

    impl Running {
        async fn stop_within(self, limit: Duration) {
            let _ = self.stop.send(true);
            for task in self.tasks {
                tokio::time::timeout(limit, task).await.expect("stops promptly").unwrap();
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_scrape_goes_through_the_metrics_pipeline_as_one_request_and_stop_is_prompt() {
        let dir = fake_host();
        let (send, mut received) = tokio::sync::mpsc::unbounded_channel();
        let running = start(dir.path(), Arc::new(Capture(send))).await;
        for _ in 0..2 {
            let request = tokio::time::timeout(Duration::from_secs(10), received.recv())
                .await
                .expect("a scrape within 10 s")
                .expect("the receiver is running");
            assert_eq!(
                request.resource_metrics.len(),
                HOST_WIDE + FAKE_PROCESSES,
                "one request per scrape, a resource per scraper (and per process)"
            );
        }
        let stats = running.stats.clone();
        running.stop_within(Duration::from_secs(2)).await;
        assert!(stats.metrics.requests.load(Ordering::Relaxed) >= 2);
        assert!(stats.metrics.accepted.load(Ordering::Relaxed) > 0);
        assert_eq!(stats.metrics.refused.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_scrape_is_counted_and_scraping_goes_on() {
        let dir = fake_host();
        let running = start(dir.path(), Arc::new(Refuse)).await;
        let stats = running.stats.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while stats.metrics.requests.load(Ordering::Relaxed) < 3 {
            assert!(tokio::time::Instant::now() < deadline, "the receiver kept scraping after a refusal");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        running.stop_within(Duration::from_secs(2)).await;
        assert!(stats.metrics.refused.load(Ordering::Relaxed) > 0, "refused points are counted");
        assert_eq!(stats.metrics.accepted.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_root_path_without_a_linux_proc_fails_start_up_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let host = ReceiverHost {
            stats: Default::default(),
            admission: Arc::new(Admission::new(None)),
            ingest_tokens: Default::default(),
            tls: None,
            extensions: Default::default(),
            allowed_hosts: Default::default(),
        };
        let config = HostMetricsConfig {
            root_path: dir.path().to_path_buf(),
            scrapers: every_scraper(),
            ..Default::default()
        };
        let id = ComponentId::parse("hostmetrics/host").unwrap();
        let error = match Factory.build(&host, &id, &Settings::new(config), SignalConsumers::default()).await {
            Ok(_) => panic!("built without a /proc"),
            Err(error) => error.to_string(),
        };
        assert!(error.starts_with("receivers.hostmetrics/host.root_path: cannot read"), "{error}");
    }

    /// Reads this machine's /proc: the parsers cope with a real kernel's files and the values are sane.
    #[cfg(target_os = "linux")]
    #[test]
    fn scraping_this_linux_machine_gives_sane_cpu_memory_load_and_process_metrics() {
        let stat = std::fs::read_to_string("/proc/stat").unwrap();
        let boot_time_ns = cpu::boot_time_ns(&stat).expect("btime");
        assert!(
            boot_time_ns > 946_684_800_000_000_000 && boot_time_ns < now_ns(),
            "booted after 2000, before now"
        );
        let root = HostRoot {
            root: PathBuf::from("/"),
            boot_time_ns,
        };
        let scrape = Scrapers::new(root, every_scraper()).scrape();
        for (scraper, error) in &scrape.errors {
            assert!(!["cpu", "memory", "load", "processes"].contains(scraper), "{scraper}: {error}");
        }
        let metrics: Vec<Metric> = scrape
            .request
            .resource_metrics
            .into_iter()
            .flat_map(|rm| rm.scope_metrics)
            .flat_map(|sm| sm.metrics)
            .collect();

        let cpu_time = points(find(&metrics, "system.cpu.time").expect("system.cpu.time"));
        assert!(!cpu_time.is_empty() && cpu_time.len().is_multiple_of(8), "eight states per CPU");
        assert!(cpu_time.iter().all(|p| value(p) >= 0.0 && value(p).is_finite()));
        let idle: f64 = cpu_time.iter().filter(|p| attribute(p, "state") == Some("idle")).map(value).sum();
        assert!(idle > 0.0, "the CPUs were idle some time since boot");

        let meminfo = memory::parse_meminfo(&std::fs::read_to_string("/proc/meminfo").unwrap()).unwrap();
        let used = value_of(&metrics, "system.memory.usage", &[("state", "used")]);
        let free = value_of(&metrics, "system.memory.usage", &[("state", "free")]);
        assert!(used > 0.0 && free > 0.0 && used + free <= meminfo.total as f64);

        for name in [
            "system.cpu.load_average.1m",
            "system.cpu.load_average.5m",
            "system.cpu.load_average.15m",
        ] {
            let load = value(&points(find(&metrics, name).expect(name))[0]);
            assert!(load >= 0.0 && load.is_finite(), "{name}: {load}");
        }

        let processes: f64 = points(find(&metrics, "system.processes.count").expect("processes"))
            .iter()
            .map(value)
            .sum();
        assert!(processes >= 1.0, "at least this test runs");
        let created = value(&points(find(&metrics, "system.processes.created").expect("created"))[0]);
        assert!(created >= 1.0);
    }
}
