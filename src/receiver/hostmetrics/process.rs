//! The `process` scraper: per-process metrics as the Collector's `processscraper` emits them on
//! Linux, one `ResourceMetrics` per process with its resource attributes (`process.pid`,
//! `process.parent_pid`, `process.executable.name`, `process.executable.path`, `process.command`,
//! `process.command_line`, `process.owner`; `process.cgroup` when enabled), its points starting at
//! the process's start.
//!
//! What each value is read from, under `root_path` (where the Collector's gopsutil reads the same
//! kernel counters):
//! - `/proc/<pid>/status`: the executable name (`Name`; a name cut at 15 characters is completed from
//!   the command line's first word when that starts with it, as gopsutil does), the owner's uid (its
//!   name from `<root>/etc/passwd`), context switches, pending signals (`ShdPnd`);
//! - `/proc/<pid>/stat`: the parent pid, CPU times (`utime`, `stime`, and `delayacct_blkio_ticks` as
//!   `wait`, in clock ticks), the start time (ticks after boot), page faults, threads, and memory:
//!   `vsize` is `process.memory.virtual`, `rss` pages `process.memory.usage` (the same counters as
//!   the `statm` gopsutil reads, without a sixth file per process);
//! - `/proc/<pid>/cmdline`: `process.command` (the first argument) and `process.command_line` (the
//!   arguments joined by spaces; both empty for a kernel thread);
//! - `/proc/<pid>/exe`: `process.executable.path` (the link's target);
//! - `/proc/<pid>/io`: `process.disk.io` from `rchar`/`wchar` (as the Collector's gopsutil v4: bytes
//!   passed to read and write calls, cached or not) and `process.disk.operations` from `syscr`/`syscw`;
//! - `/proc/<pid>/fd` (entries counted), `/proc/<pid>/cgroup`, `/proc/meminfo` (total memory, for
//!   `process.memory.utilization`, a percentage as the Collector reports it) and `/proc/stat` (the
//!   logical CPUs `process.cpu.utilization` divides by): only when the metric or attribute is on.
//!
//! Errors are the Collector's: a process whose name (`status`) or, with `process.cgroup` on, cgroup
//! cannot be read is left out, an unreadable `exe`, `io` or owner leaves out just that value; each
//! is reported unless muted by its `mute_process_*_error` (and all by `mute_process_all_errors`).
//! The errors of one scrape are reported together, as one error of the scraper (the first few
//! quoted), and never stop the other processes. A process that exits while being read is left out
//! (with the error of the file it lacked). The work is bounded: by default five small reads per
//! process (each optional file one more), so thousands of processes take a fraction of a second.
//!
//! Differences from the Collector: the include/exclude filter runs before the executable path is
//! read, so filtered-out processes report no errors; `process.executable.path` and the command are
//! read only when their attributes are on; owners are looked up in the host's `/etc/passwd` (under
//! `root_path`) rather than in the collector's own; `process.handles` (Windows only) is accepted
//! and never emitted, as the Collector disables it on Linux.

use super::{cpu, memory, parse_filter, Catalog, Emit, Enabled, HostRoot, MetricDef, MetricKind, NameFilter, Point};
use crate::config::Parser;
use crate::pdata::now_ns;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use serde_yaml_ng::{Mapping, Value};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CONTEXT_SWITCHES: MetricDef = MetricDef {
    name: "process.context_switches",
    unit: "{count}",
    description: "Number of times the process has been context switched.",
    kind: MetricKind::Counter,
    default: false,
};
const CPU_TIME: MetricDef = MetricDef {
    name: "process.cpu.time",
    unit: "s",
    description: "Total CPU seconds broken down by different states.",
    kind: MetricKind::Counter,
    default: true,
};
const CPU_UTILIZATION: MetricDef = MetricDef {
    name: "process.cpu.utilization",
    unit: "1",
    description: "Percentage of total CPU time used by the process since last scrape, expressed as a value between 0 and 1. On the first scrape, no data point is emitted for this metric.",
    kind: MetricKind::Gauge,
    default: false,
};
const DISK_IO: MetricDef = MetricDef {
    name: "process.disk.io",
    unit: "By",
    description: "Disk bytes transferred.",
    kind: MetricKind::Counter,
    default: true,
};
const DISK_OPERATIONS: MetricDef = MetricDef {
    name: "process.disk.operations",
    unit: "{operations}",
    description: "Number of disk operations performed by the process.",
    kind: MetricKind::Counter,
    default: false,
};
/// Windows only: the Collector turns it off on Linux (with a warning); accepted here, never emitted.
const HANDLES: MetricDef = MetricDef {
    name: "process.handles",
    unit: "{count}",
    description: "Number of handles held by the process.",
    kind: MetricKind::UpDownCounter,
    default: false,
};
const MEMORY_USAGE: MetricDef = MetricDef {
    name: "process.memory.usage",
    unit: "By",
    description: "The amount of physical memory in use.",
    kind: MetricKind::UpDownCounter,
    default: true,
};
const MEMORY_UTILIZATION: MetricDef = MetricDef {
    name: "process.memory.utilization",
    unit: "1",
    description: "Percentage of total physical memory that is used by the process.",
    kind: MetricKind::Gauge,
    default: false,
};
const MEMORY_VIRTUAL: MetricDef = MetricDef {
    name: "process.memory.virtual",
    unit: "By",
    description: "Virtual memory size.",
    kind: MetricKind::UpDownCounter,
    default: true,
};
const OPEN_FILE_DESCRIPTORS: MetricDef = MetricDef {
    name: "process.open_file_descriptors",
    unit: "{count}",
    description: "Number of file descriptors in use by the process.",
    kind: MetricKind::UpDownCounter,
    default: false,
};
const PAGING_FAULTS: MetricDef = MetricDef {
    name: "process.paging.faults",
    unit: "{faults}",
    description: "Number of page faults the process has made.",
    kind: MetricKind::Counter,
    default: false,
};
const SIGNALS_PENDING: MetricDef = MetricDef {
    name: "process.signals_pending",
    unit: "{signals}",
    description: "Number of pending signals for the process.",
    kind: MetricKind::UpDownCounter,
    default: false,
};
const THREADS: MetricDef = MetricDef {
    name: "process.threads",
    unit: "{threads}",
    description: "Process threads count.",
    kind: MetricKind::UpDownCounter,
    default: false,
};
const UPTIME: MetricDef = MetricDef {
    name: "process.uptime",
    unit: "s",
    description: "The time the process has been running.",
    kind: MetricKind::Gauge,
    default: false,
};

/// In the order the Collector emits them (its generated code sorts them by name).
pub(super) static CATALOG: Catalog = Catalog {
    emits: &[
        CONTEXT_SWITCHES,
        CPU_TIME,
        CPU_UTILIZATION,
        DISK_IO,
        DISK_OPERATIONS,
        HANDLES,
        MEMORY_USAGE,
        MEMORY_UTILIZATION,
        MEMORY_VIRTUAL,
        OPEN_FILE_DESCRIPTORS,
        PAGING_FAULTS,
        SIGNALS_PENDING,
        THREADS,
        UPTIME,
    ],
    not_yet: &[],
};

/// The Collector's resource attributes of a process and whether each is on by default.
const RESOURCE_ATTRIBUTES: &[(&str, bool)] = &[
    ("process.pid", true),
    ("process.parent_pid", true),
    ("process.executable.name", true),
    ("process.executable.path", true),
    ("process.command", true),
    ("process.command_line", true),
    ("process.owner", true),
    ("process.cgroup", false),
];

/// The keys the process scraper takes, as the Collector's `processscraper.Config`.
pub(super) const CONFIG_KEYS: &[&str] = &[
    "metrics",
    "resource_attributes",
    "include",
    "exclude",
    "mute_process_all_errors",
    "mute_process_name_error",
    "mute_process_exe_error",
    "mute_process_io_error",
    "mute_process_user_error",
    "mute_process_cgroup_error",
    "scrape_process_delay",
];

/// The process scraper's own settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessConfig {
    /// `include`/`exclude` with `names`: on the executable name (`process.executable.name`).
    pub names: NameFilter,
    pub mute: MuteErrors,
    /// `scrape_process_delay`: processes younger than this are left out.
    pub scrape_process_delay: Duration,
    pub resource_attributes: ResourceAttributes,
}

/// The `mute_process_*_error` settings: which errors are not reported.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MuteErrors {
    /// `mute_process_all_errors`: every error, the others' included.
    pub all: bool,
    /// `mute_process_name_error`: a process whose status cannot be read (it is left out either way).
    pub name: bool,
    /// `mute_process_exe_error`: the executable path (kernel threads have none; other users'
    /// processes need privileges).
    pub exe: bool,
    /// `mute_process_io_error`: `/proc/<pid>/io` (other users' processes need privileges).
    pub io: bool,
    /// `mute_process_user_error`: a uid with no name in /etc/passwd.
    pub user: bool,
    /// `mute_process_cgroup_error`: `/proc/<pid>/cgroup`, read with `process.cgroup` on.
    pub cgroup: bool,
}

/// The resource attributes set on each process: the Collector's defaults with the config's
/// `resource_attributes` toggles applied.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceAttributes(Vec<&'static str>);

impl ResourceAttributes {
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(&name)
    }
}

impl Default for ResourceAttributes {
    fn default() -> Self {
        ResourceAttributes(RESOURCE_ATTRIBUTES.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Config

/// The process scraper's keys of `body` (its `metrics` are read with every scraper's).
pub(super) fn parse_config(p: &mut Parser, body: &Mapping, at: &str) -> ProcessConfig {
    let mute = MuteErrors {
        all: flag(p, body, "mute_process_all_errors", at),
        name: flag(p, body, "mute_process_name_error", at),
        exe: flag(p, body, "mute_process_exe_error", at),
        io: flag(p, body, "mute_process_io_error", at),
        user: flag(p, body, "mute_process_user_error", at),
        cgroup: flag(p, body, "mute_process_cgroup_error", at),
    };
    let scrape_process_delay = body
        .get("scrape_process_delay")
        .and_then(|v| p.duration(v, &format!("{at}.scrape_process_delay")))
        .unwrap_or(Duration::ZERO);
    ProcessConfig {
        names: parse_filter(p, body, ("include", "exclude"), "names", at),
        mute,
        scrape_process_delay,
        resource_attributes: parse_resource_attributes(p, body.get("resource_attributes"), &format!("{at}.resource_attributes")),
    }
}

fn flag(p: &mut Parser, body: &Mapping, key: &str, at: &str) -> bool {
    body.get(key).and_then(|v| p.boolean(v, &format!("{at}.{key}"))).unwrap_or(false)
}

/// `resource_attributes: {name: {enabled: bool}}` over the defaults.
fn parse_resource_attributes(p: &mut Parser, value: Option<&Value>, at: &str) -> ResourceAttributes {
    let mut enabled = ResourceAttributes::default();
    for (name, value) in p.entries(value, at) {
        let attribute_at = format!("{at}.{name}");
        let Some(known) = RESOURCE_ATTRIBUTES.iter().map(|(n, _)| *n).find(|n| *n == name.as_str()) else {
            let names: Vec<&str> = RESOURCE_ATTRIBUTES.iter().map(|(n, _)| *n).collect();
            p.error(
                &attribute_at,
                format!("unknown resource attribute of the process scraper (it has: {})", names.join(", ")),
            );
            continue;
        };
        let Some(settings) = p.mapping(Some(value), &attribute_at) else {
            continue;
        };
        p.only_keys(settings, &["enabled", "metrics_include", "metrics_exclude"], &attribute_at);
        for key in ["metrics_include", "metrics_exclude"] {
            if settings.get(key).is_some() {
                p.error(
                    &format!("{attribute_at}.{key}"),
                    "filtering resources by attribute value is not supported by otelbox yet (include/exclude filter on the executable name)",
                );
            }
        }
        let Some(on) = settings
            .get("enabled")
            .and_then(|v| p.boolean(v, &format!("{attribute_at}.enabled")))
        else {
            continue;
        };
        enabled.0.retain(|n| *n != known);
        if on {
            enabled.0.push(known);
        }
    }
    enabled
}

// ---------------------------------------------------------------------------------------------
// Parsing /proc/<pid> files

/// The fields of `/proc/<pid>/stat` the scraper uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Stat {
    pub(super) ppid: u64,
    pub(super) minor_faults: u64,
    pub(super) major_faults: u64,
    /// Clock ticks in user mode.
    pub(super) utime: u64,
    /// Clock ticks in kernel mode.
    pub(super) stime: u64,
    pub(super) threads: u64,
    /// When the process started: clock ticks after boot.
    pub(super) start_ticks: u64,
    /// Virtual memory size, bytes.
    pub(super) vsize: u64,
    /// Resident set size, pages.
    pub(super) rss_pages: u64,
    /// `delayacct_blkio_ticks`: clock ticks waiting for block I/O (0 when the kernel lacks it).
    pub(super) blkio_ticks: u64,
}

/// Field `n` (numbered as in proc(5), from 1) of a stat line, given the fields after the command
/// name (`rest[0]` is field 3).
fn stat_field<'t>(rest: &[&'t str], n: usize) -> Result<&'t str, String> {
    rest.get(n - 3)
        .copied()
        .ok_or_else(|| format!("expected at least {n} fields, got {}", rest.len() + 2))
}

fn stat_number(rest: &[&str], n: usize) -> Result<u64, String> {
    let field = stat_field(rest, n)?;
    field.parse::<u64>().map_err(|_| format!("field {n} is '{field}', not a number"))
}

/// `pid (comm) state ppid ...`: the command name is in parentheses and may itself hold spaces and
/// parentheses, so the fields are counted from the last `)`.
pub(super) fn parse_stat(text: &str) -> Result<Stat, String> {
    let close = text.rfind(')').ok_or("no command name in parentheses")?;
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    stat_field(&rest, 24)?;
    Ok(Stat {
        ppid: stat_number(&rest, 4)?,
        minor_faults: stat_number(&rest, 10)?,
        major_faults: stat_number(&rest, 12)?,
        utime: stat_number(&rest, 14)?,
        stime: stat_number(&rest, 15)?,
        threads: stat_number(&rest, 20)?,
        start_ticks: stat_number(&rest, 22)?,
        vsize: stat_number(&rest, 23)?,
        rss_pages: stat_number(&rest, 24)?,
        blkio_ticks: stat_number(&rest, 42).unwrap_or(0),
    })
}

/// The lines of `/proc/<pid>/status` the scraper uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Status {
    pub(super) name: String,
    /// The real uid (the first of the `Uid` line).
    pub(super) uid: Option<u32>,
    pub(super) voluntary_switches: u64,
    pub(super) involuntary_switches: u64,
    /// `ShdPnd`, the process's pending-signal mask, as the number gopsutil reports.
    pub(super) signals_pending: u64,
}

pub(super) fn parse_status(text: &str) -> Result<Status, String> {
    let mut status = Status::default();
    let mut named = false;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        let number = || {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("{key}: '{}' is not a number", value.trim()))
        };
        match key {
            "Name" => {
                status.name = value.trim_matches([' ', '\t']).to_string();
                named = true;
            }
            "Uid" => {
                status.uid = value.split_whitespace().next().and_then(|uid| uid.parse::<u32>().ok());
            }
            "voluntary_ctxt_switches" => status.voluntary_switches = number()?,
            "nonvoluntary_ctxt_switches" => status.involuntary_switches = number()?,
            "ShdPnd" => {
                let mask = value.trim();
                let mask = mask.get(mask.len().saturating_sub(16)..).unwrap_or(mask);
                status.signals_pending =
                    u64::from_str_radix(mask, 16).map_err(|_| format!("ShdPnd: '{mask}' is not a hexadecimal mask"))?;
            }
            _ => {}
        }
    }
    if !named {
        return Err("no Name line".to_string());
    }
    Ok(status)
}

/// The arguments of `/proc/<pid>/cmdline` (each ended by a NUL); None when it is empty (a kernel
/// thread, a zombie).
pub(super) fn parse_cmdline(bytes: &[u8]) -> Option<Vec<String>> {
    if bytes.is_empty() {
        return None;
    }
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    Some(
        bytes[..end]
            .split(|b| *b == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect(),
    )
}

/// `process.command` and `process.command_line` of the arguments: the first, and all joined by
/// spaces (both empty without arguments).
fn command_of(args: Option<Vec<String>>) -> (String, String) {
    match args {
        Some(args) => (args.first().cloned().unwrap_or_default(), args.join(" ")),
        None => (String::new(), String::new()),
    }
}

/// The counters of `/proc/<pid>/io` the scraper uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Io {
    pub(super) rchar: u64,
    pub(super) wchar: u64,
    pub(super) syscr: u64,
    pub(super) syscw: u64,
}

pub(super) fn parse_io(text: &str) -> Result<Io, String> {
    let mut io = Io::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(key), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        let key = key.trim_end_matches(':');
        let value = value.parse::<u64>().map_err(|_| format!("{key}: '{value}' is not a number"))?;
        match key {
            "rchar" => io.rchar = value,
            "wchar" => io.wchar = value,
            "syscr" => io.syscr = value,
            "syscw" => io.syscw = value,
            _ => {}
        }
    }
    Ok(io)
}

/// User names by uid from /etc/passwd text (the first entry of a uid wins, as a lookup finds it).
pub(super) fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut users = HashMap::new();
    for line in text.lines() {
        let mut fields = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        if let Ok(uid) = uid.parse::<u32>() {
            users.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    users
}

/// The last part of a path, as Go's `filepath.Base` (for completing cut names).
fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

// ---------------------------------------------------------------------------------------------
// Scraping

/// Seconds of CPU in each of the Collector's states.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct CpuTimes {
    pub(super) user: f64,
    pub(super) system: f64,
    pub(super) wait: f64,
}

impl CpuTimes {
    fn of(stat: &Stat, ticks_per_second: u64) -> CpuTimes {
        let seconds = |ticks: u64| ticks as f64 / ticks_per_second as f64;
        CpuTimes {
            user: seconds(stat.utime),
            system: seconds(stat.stime),
            wait: seconds(stat.blkio_ticks),
        }
    }

    /// One point per state, in the Collector's order.
    fn points(&self) -> Vec<Point> {
        vec![
            Point::double(self.user, &[("state", "user")]),
            Point::double(self.system, &[("state", "system")]),
            Point::double(self.wait, &[("state", "wait")]),
        ]
    }
}

/// A process's CPU times when scraped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct CpuSample {
    pub(super) at_ns: u64,
    pub(super) times: CpuTimes,
}

/// Each state's CPU seconds between two samples per second elapsed, divided by the logical CPUs
/// (the Collector's `ucal`): from 0 to 1.
pub(super) fn utilization(before: &CpuSample, now: &CpuSample, logical_cpus: usize) -> CpuTimes {
    let elapsed = now.at_ns.saturating_sub(before.at_ns) as f64 / 1e9;
    if elapsed <= 0.0 || logical_cpus == 0 {
        return CpuTimes::default();
    }
    let share = |later: f64, earlier: f64| (later - earlier) / elapsed / logical_cpus as f64;
    CpuTimes {
        user: share(now.times.user, before.times.user),
        system: share(now.times.system, before.times.system),
        wait: share(now.times.wait, before.times.wait),
    }
}

/// What the scraper keeps between scrapes: each process's CPU times at the previous one, for
/// `process.cpu.utilization` (processes gone since are forgotten).
#[derive(Debug, Default)]
pub(super) struct ProcessState {
    cpu_before: HashMap<u32, CpuSample>,
}

/// The errors of one scrape: how many, and the first few in full.
#[derive(Debug, Default)]
struct Problems {
    count: usize,
    shown: Vec<String>,
}

/// How many errors a scrape's report quotes.
const SHOWN_PROBLEMS: usize = 5;

impl Problems {
    fn add(&mut self, message: String) {
        self.count += 1;
        if self.shown.len() < SHOWN_PROBLEMS {
            self.shown.push(message);
        }
    }

    /// One error for the whole scrape, as the Collector combines a scrape's errors.
    fn summary(&self) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let mut text = format!(
            "{} error{} reading processes: {}",
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.shown.join("; ")
        );
        if self.count > self.shown.len() {
            text.push_str(&format!("; and {} more", self.count - self.shown.len()));
        }
        Some(text)
    }
}

/// One process, read.
struct Process {
    pid: u32,
    dir: PathBuf,
    /// `process.executable.name`.
    name: String,
    /// `process.executable.path`: empty when unread.
    exe: String,
    /// `process.command` and `process.command_line`; None when not read.
    command: Option<(String, String)>,
    /// `process.owner`: empty when unread.
    owner: String,
    /// `process.cgroup`, when on.
    cgroup: Option<String>,
    stat: Stat,
    status: Status,
    /// When the process started, Unix milliseconds (the Collector's resolution).
    create_ms: u64,
}

/// One scrape's reading of the processes, with what it reads once for all of them.
struct Scan<'r> {
    root: &'r HostRoot,
    config: &'r ProcessConfig,
    enabled: &'r Enabled,
    ticks_per_second: u64,
    page_size: u64,
    /// Every file is read into this buffer, so reading thousands of processes allocates little.
    buf: Vec<u8>,
    users: Option<Result<HashMap<u32, String>, String>>,
    mem_total: Option<Result<u64, String>>,
    logical_cpus: Option<Result<usize, String>>,
    problems: Problems,
}

/// Reads a whole file into `buf`; an error names the file.
fn read_into(path: &Path, buf: &mut Vec<u8>) -> Result<(), String> {
    buf.clear();
    std::fs::File::open(path)
        .and_then(|mut file| file.read_to_end(buf))
        .map(|_| ())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn resource_attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

impl<'r> Scan<'r> {
    fn new(root: &'r HostRoot, config: &'r ProcessConfig, enabled: &'r Enabled) -> Scan<'r> {
        Scan {
            root,
            config,
            enabled,
            ticks_per_second: (cpu::ticks_per_second() as u64).max(1),
            page_size: memory::page_size(),
            buf: Vec::with_capacity(4096),
            users: None,
            mem_total: None,
            logical_cpus: None,
            problems: Problems::default(),
        }
    }

    fn wants(&self, def: &MetricDef) -> bool {
        self.enabled.contains(def.name)
    }

    fn problem(&mut self, message: String) {
        if !self.config.mute.all {
            self.problems.add(message);
        }
    }

    fn read_cmdline(&mut self, dir: &Path) -> Result<Option<Vec<String>>, String> {
        read_into(&dir.join("cmdline"), &mut self.buf).map(|()| parse_cmdline(&self.buf))
    }

    /// The name of a uid, from the host's /etc/passwd (read once a scrape); no uid, no name.
    fn owner(&mut self, uid: Option<u32>) -> Result<String, String> {
        let Some(uid) = uid else { return Ok(String::new()) };
        let root = self.root;
        let users = self.users.get_or_insert_with(|| {
            let path = root.host_path("/etc/passwd");
            std::fs::read(&path)
                .map(|bytes| parse_passwd(&String::from_utf8_lossy(&bytes)))
                .map_err(|e| format!("{}: {e}", path.display()))
        });
        match users {
            Ok(users) => users.get(&uid).cloned().ok_or_else(|| format!("user: unknown userid {uid}")),
            Err(error) => Err(error.clone()),
        }
    }

    /// The host's memory, bytes (read once a scrape).
    fn mem_total(&mut self) -> Result<u64, String> {
        let root = self.root;
        self.mem_total
            .get_or_insert_with(|| root.parse_proc("meminfo", memory::parse_meminfo).map(|m| m.total))
            .clone()
    }

    /// The host's logical CPUs: its `cpuN` lines of /proc/stat (read once a scrape).
    fn logical_cpus(&mut self) -> Result<usize, String> {
        let root = self.root;
        self.logical_cpus
            .get_or_insert_with(|| root.parse_proc("stat", |text| cpu::parse_stat(text, 100.0)).map(|cpus| cpus.len()))
            .clone()
    }

    /// Reads what the resource and the filters need; None for a process left out (filtered, too
    /// young, unreadable or gone).
    fn read(&mut self, pid: u32, now_ns: u64) -> Option<Process> {
        let config = self.config;
        let mute = config.mute;
        let attribute_on = |name: &str| config.resource_attributes.contains(name);
        let dir = self.root.proc_path(&pid.to_string());

        let status_path = dir.join("status");
        let status = read_into(&status_path, &mut self.buf)
            .and_then(|()| parse_status(&String::from_utf8_lossy(&self.buf)).map_err(|e| format!("{}: {e}", status_path.display())));
        let mut status = match status {
            Ok(status) => status,
            Err(error) => {
                if !mute.name {
                    self.problem(format!("error reading process name for pid {pid}: {error}"));
                }
                return None;
            }
        };
        // The kernel keeps 15 characters of a name: gopsutil completes a cut one from the command.
        let mut cmdline = None;
        if status.name.len() >= 15 {
            match self.read_cmdline(&dir) {
                Ok(args) => {
                    if let Some(first) = args.as_ref().and_then(|args| args.first()) {
                        let base = base_name(first);
                        if base.starts_with(status.name.as_str()) {
                            status.name = base.to_string();
                        }
                    }
                    cmdline = Some(args);
                }
                Err(error) => {
                    if !mute.name {
                        self.problem(format!("error reading process name for pid {pid}: {error}"));
                    }
                    return None;
                }
            }
        }
        if !config.names.allows(&status.name) {
            return None;
        }

        let mut exe = String::new();
        if attribute_on("process.executable.path") {
            let exe_path = dir.join("exe");
            match std::fs::read_link(&exe_path) {
                Ok(target) => exe = target.to_string_lossy().into_owned(),
                Err(e) => {
                    if !mute.exe {
                        self.problem(format!(
                            "error reading process executable for pid {pid}: {}: {e}",
                            exe_path.display()
                        ));
                    }
                }
            }
        }

        let mut cgroup = None;
        if attribute_on("process.cgroup") {
            match read_into(&dir.join("cgroup"), &mut self.buf) {
                Ok(()) => {
                    let text = String::from_utf8_lossy(&self.buf);
                    cgroup = Some(text.strip_suffix('\n').unwrap_or(&text).to_string());
                }
                Err(error) => {
                    // The Collector leaves such a process out, muted or not.
                    if !mute.cgroup {
                        self.problem(format!("error reading process cgroup for pid {pid}: {error}"));
                    }
                    return None;
                }
            }
        }

        let mut command = None;
        if attribute_on("process.command") || attribute_on("process.command_line") {
            let args = match cmdline.take() {
                Some(args) => Ok(args),
                None => self.read_cmdline(&dir),
            };
            match args {
                Ok(args) => command = Some(command_of(args)),
                Err(error) => self.problem(format!("error reading command for process {:?} (pid {pid}): {error}", status.name)),
            }
        }

        let mut owner = String::new();
        if attribute_on("process.owner") {
            match self.owner(status.uid) {
                Ok(name) => owner = name,
                Err(error) => {
                    if !mute.user {
                        self.problem(format!("error reading username for process {:?} (pid {pid}): {error}", status.name));
                    }
                }
            }
        }

        let stat_path = dir.join("stat");
        let stat = read_into(&stat_path, &mut self.buf)
            .and_then(|()| parse_stat(&String::from_utf8_lossy(&self.buf)).map_err(|e| format!("{}: {e}", stat_path.display())));
        let stat = match stat {
            Ok(stat) => stat,
            Err(error) => {
                self.problem(format!(
                    "error reading create time for process {:?} (pid {pid}): {error}",
                    status.name
                ));
                return None;
            }
        };
        // As gopsutil: whole milliseconds, from the boot time's whole seconds.
        let create_ms = stat.start_ticks.saturating_mul(1000) / self.ticks_per_second + self.root.boot_time_ns / 1_000_000;
        let delay = config.scrape_process_delay;
        if !delay.is_zero() {
            let age_ms = (now_ns / 1_000_000) as i128 - create_ms as i128;
            if (delay.as_millis() as i128) > age_ms {
                return None;
            }
        }

        Some(Process {
            pid,
            dir,
            name: status.name.clone(),
            exe,
            command,
            owner,
            cgroup,
            stat,
            status,
            create_ms,
        })
    }

    /// The process's enabled metrics, in the Collector's order, into `out` (whose points start at
    /// the process's start).
    fn record(&mut self, process: &Process, out: &mut Emit<'_>, state: &mut ProcessState, now_ns: u64) {
        let (pid, name) = (process.pid, process.name.as_str());
        if self.wants(&CONTEXT_SWITCHES) {
            out.push(
                &CONTEXT_SWITCHES,
                vec![
                    Point::int(process.status.involuntary_switches, &[("type", "involuntary")]),
                    Point::int(process.status.voluntary_switches, &[("type", "voluntary")]),
                ],
            );
        }
        let times = CpuTimes::of(&process.stat, self.ticks_per_second);
        if self.wants(&CPU_TIME) {
            out.push(&CPU_TIME, times.points());
        }
        if self.wants(&CPU_UTILIZATION) {
            match self.logical_cpus() {
                Ok(cpus) => {
                    let sample = CpuSample { at_ns: now_ns, times };
                    if let Some(before) = state.cpu_before.insert(pid, sample) {
                        out.push(&CPU_UTILIZATION, utilization(&before, &sample, cpus).points());
                    }
                }
                Err(error) => self.problem(format!("error reading cpu times for process {name:?} (pid {pid}): {error}")),
            }
        }
        if self.wants(&DISK_IO) || self.wants(&DISK_OPERATIONS) {
            let io_path = process.dir.join("io");
            let io = read_into(&io_path, &mut self.buf)
                .and_then(|()| parse_io(&String::from_utf8_lossy(&self.buf)).map_err(|e| format!("{}: {e}", io_path.display())));
            match io {
                Ok(io) => {
                    if self.wants(&DISK_IO) {
                        out.push(
                            &DISK_IO,
                            vec![
                                Point::int(io.rchar, &[("direction", "read")]),
                                Point::int(io.wchar, &[("direction", "write")]),
                            ],
                        );
                    }
                    if self.wants(&DISK_OPERATIONS) {
                        out.push(
                            &DISK_OPERATIONS,
                            vec![
                                Point::int(io.syscr, &[("direction", "read")]),
                                Point::int(io.syscw, &[("direction", "write")]),
                            ],
                        );
                    }
                }
                Err(error) => {
                    if !self.config.mute.io {
                        self.problem(format!("error reading disk usage for process {name:?} (pid {pid}): {error}"));
                    }
                }
            }
        }
        let rss = process.stat.rss_pages.saturating_mul(self.page_size);
        if self.wants(&MEMORY_USAGE) {
            out.push(&MEMORY_USAGE, vec![Point::int(rss, &[])]);
        }
        if self.wants(&MEMORY_UTILIZATION) {
            match self.mem_total() {
                // A percentage, as the Collector's gopsutil gives it.
                Ok(total) if total > 0 => out.push(&MEMORY_UTILIZATION, vec![Point::double(100.0 * rss as f64 / total as f64, &[])]),
                Ok(_) => {}
                Err(error) => self.problem(format!(
                    "error reading memory utilization for process {name:?} (pid {pid}): {error}"
                )),
            }
        }
        if self.wants(&MEMORY_VIRTUAL) {
            out.push(&MEMORY_VIRTUAL, vec![Point::int(process.stat.vsize, &[])]);
        }
        if self.wants(&OPEN_FILE_DESCRIPTORS) {
            let fd_path = process.dir.join("fd");
            match std::fs::read_dir(&fd_path) {
                Ok(entries) => out.push(&OPEN_FILE_DESCRIPTORS, vec![Point::int(entries.count() as u64, &[])]),
                Err(e) => self.problem(format!(
                    "error reading open file descriptor count for process {name:?} (pid {pid}): {}: {e}",
                    fd_path.display()
                )),
            }
        }
        if self.wants(&PAGING_FAULTS) {
            out.push(
                &PAGING_FAULTS,
                vec![
                    Point::int(process.stat.major_faults, &[("type", "major")]),
                    Point::int(process.stat.minor_faults, &[("type", "minor")]),
                ],
            );
        }
        if self.wants(&SIGNALS_PENDING) {
            out.push(&SIGNALS_PENDING, vec![Point::int(process.status.signals_pending, &[])]);
        }
        if self.wants(&THREADS) {
            out.push(&THREADS, vec![Point::int(process.stat.threads, &[])]);
        }
        if self.wants(&UPTIME) {
            let uptime = now_ns.saturating_sub(process.create_ms.saturating_mul(1_000_000)) as f64 / 1e9;
            out.push(&UPTIME, vec![Point::double(uptime, &[])]);
        }
    }

    /// The process's resource attributes, in the Collector's order.
    fn resource(&self, process: &Process) -> Vec<KeyValue> {
        let on = |name: &str| self.config.resource_attributes.contains(name);
        let mut attributes = Vec::with_capacity(8);
        if on("process.pid") {
            attributes.push(resource_attribute(
                "process.pid",
                any_value::Value::IntValue(i64::from(process.pid)),
            ));
        }
        if on("process.parent_pid") {
            let ppid = i64::try_from(process.stat.ppid).unwrap_or(0);
            attributes.push(resource_attribute("process.parent_pid", any_value::Value::IntValue(ppid)));
        }
        if on("process.executable.name") {
            attributes.push(resource_attribute(
                "process.executable.name",
                any_value::Value::StringValue(process.name.clone()),
            ));
        }
        if on("process.executable.path") {
            attributes.push(resource_attribute(
                "process.executable.path",
                any_value::Value::StringValue(process.exe.clone()),
            ));
        }
        if let Some(cgroup) = &process.cgroup {
            attributes.push(resource_attribute("process.cgroup", any_value::Value::StringValue(cgroup.clone())));
        }
        if let Some((command, command_line)) = &process.command {
            if on("process.command") {
                attributes.push(resource_attribute(
                    "process.command",
                    any_value::Value::StringValue(command.clone()),
                ));
            }
            if on("process.command_line") {
                attributes.push(resource_attribute(
                    "process.command_line",
                    any_value::Value::StringValue(command_line.clone()),
                ));
            }
        }
        if on("process.owner") && !process.owner.is_empty() {
            attributes.push(resource_attribute(
                "process.owner",
                any_value::Value::StringValue(process.owner.clone()),
            ));
        }
        attributes
    }
}

/// The pids of `<root>/proc`, ascending.
fn list_pids(root: &HostRoot) -> Result<Vec<u32>, String> {
    let dir = root.proc_path("");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let name = name.to_str()?;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            name.parse::<u32>().ok()
        })
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// Every process's metrics into `out`, a resource each; the scrape's errors as one.
pub(super) fn scrape(root: &HostRoot, out: &mut Emit<'_>, config: &ProcessConfig, state: &mut ProcessState) {
    let pids = match list_pids(root) {
        Ok(pids) => pids,
        Err(error) => return out.error(error),
    };
    let mut scan = Scan::new(root, config, out.enabled);
    for &pid in &pids {
        let now = now_ns();
        let Some(process) = scan.read(pid, now) else { continue };
        let mut metrics = Emit::new(out.enabled, process.create_ms.saturating_mul(1_000_000), now);
        scan.record(&process, &mut metrics, state, now);
        let attributes = scan.resource(&process);
        out.push_resource(attributes, metrics.metrics);
    }
    state.cpu_before.retain(|pid, _| pids.binary_search(pid).is_ok());
    if let Some(summary) = scan.problems.summary() {
        out.error(summary);
    }
}

// ---------------------------------------------------------------------------------------------

/// Fake processes for tests: each one's files under `<root>/proc/<pid>/`.
#[cfg(test)]
pub(super) mod fake {
    use std::path::Path;

    pub struct FakeProcess {
        pub pid: u32,
        pub stat: &'static str,
        pub status: &'static str,
        /// The arguments (each written followed by a NUL); none: an empty cmdline.
        pub cmdline: &'static [&'static str],
        /// The target of the `exe` link; None: no link (a kernel thread, or not permitted).
        pub exe: Option<&'static str>,
        /// None: no `io` file (not permitted).
        pub io: Option<&'static str>,
    }

    /// `<root>/etc/passwd`: uids 0 and 1000.
    pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n";

    /// init, owned by root, started 0.12 s after boot.
    pub const SYSTEMD: FakeProcess = FakeProcess {
        pid: 1,
        stat: "1 (systemd) S 0 1 1 0 -1 4194560 51234 2345678 120 3456 1530 2470 45678 8901 20 0 1 0 12 171515904 3456 18446744073709551615 1 1 0 0 0 0 671173123 4096 1260 0 0 0 17 0 0 0 250 0 0 0 0 0 0 0 0 0 0\n",
        status: "Name:\tsystemd\nUmask:\t0000\nState:\tS (sleeping)\nTgid:\t1\nPid:\t1\nPPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nVmRSS:\t   13824 kB\nThreads:\t1\nSigQ:\t0/63318\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nvoluntary_ctxt_switches:\t4521\nnonvoluntary_ctxt_switches:\t1234\n",
        cmdline: &["/sbin/init", "splash"],
        exe: Some("/usr/lib/systemd/systemd"),
        io: Some("rchar: 1000\nwchar: 2000\nsyscr: 30\nsyscw: 40\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n"),
    };

    /// A web server owned by alice, started an hour after boot, four threads.
    pub const PYTHON: FakeProcess = FakeProcess {
        pid: 4242,
        stat: "4242 (python3) R 1 4242 4242 34816 4242 4194304 98765 0 43 0 12345 678 0 0 20 0 4 0 360000 524288000 25600 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0 9 0 0 0 0 0 0 0 0 0 0\n",
        status: "Name:\tpython3\nUmask:\t0022\nState:\tR (running)\nTgid:\t4242\nPid:\t4242\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nVmSize:\t  512000 kB\nVmRSS:\t  102400 kB\nThreads:\t4\nSigQ:\t1/63318\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000100\nvoluntary_ctxt_switches:\t77\nnonvoluntary_ctxt_switches:\t5\n",
        cmdline: &["/usr/bin/python3", "-m", "http.server", "8000"],
        exe: Some("/usr/bin/python3.12"),
        io: Some("rchar: 123456\nwchar: 654321\nsyscr: 1500\nsyscw: 900\nread_bytes: 40960\nwrite_bytes: 0\ncancelled_write_bytes: 0\n"),
    };

    /// A kernel thread: no command line, no executable, and (to an unprivileged reader) no io.
    pub const KWORKER: FakeProcess = FakeProcess {
        pid: 4300,
        stat: "4300 (kworker/0:1-events) I 2 0 0 0 -1 69238880 0 0 0 0 0 321 0 0 20 0 1 0 50 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
        status: "Name:\tkworker/0:1-events\nUmask:\t0000\nState:\tI (idle)\nTgid:\t4300\nPid:\t4300\nPPid:\t2\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t1\nSigQ:\t0/63318\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nvoluntary_ctxt_switches:\t9999\nnonvoluntary_ctxt_switches:\t3\n",
        cmdline: &[],
        exe: None,
        io: None,
    };

    /// A name the kernel cut at 15 characters, owned by a uid /etc/passwd does not know.
    pub const LONG_NAME: FakeProcess = FakeProcess {
        pid: 5000,
        stat: "5000 (very_long_proce) S 1 5000 5000 0 -1 4194304 10 0 0 0 100 50 0 0 20 0 2 0 720000 1048576 256 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
        status: "Name:\tvery_long_proce\nState:\tS (sleeping)\nPid:\t5000\nPPid:\t1\nUid:\t4321\t4321\t4321\t4321\nThreads:\t2\nShdPnd:\t0000000000000000\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t0\n",
        cmdline: &["/opt/app/very_long_process_name", "--serve"],
        exe: Some("/opt/app/very_long_process_name"),
        io: Some("rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n"),
    };

    pub fn write(root: &Path, process: &FakeProcess) {
        let dir = root.join("proc").join(process.pid.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("stat"), process.stat).unwrap();
        std::fs::write(dir.join("status"), process.status).unwrap();
        let cmdline: Vec<u8> = process
            .cmdline
            .iter()
            .flat_map(|arg| arg.bytes().chain(std::iter::once(0)))
            .collect();
        std::fs::write(dir.join("cmdline"), cmdline).unwrap();
        if let Some(target) = process.exe {
            std::os::unix::fs::symlink(target, dir.join("exe")).unwrap();
        }
        if let Some(io) = process.io {
            std::fs::write(dir.join("io"), io).unwrap();
        }
    }

    pub fn write_passwd(root: &Path) {
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), PASSWD).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{cpu, load, memory, HostMetricsConfig, Scraper, ScraperConfig, ScraperKind};
    use super::fake::*;
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::Metric;

    fn parse_yaml(yaml: &str) -> (HostMetricsConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = super::super::parse(&mut Parser::collecting(&mut errors), &value, "receivers.hostmetrics");
        (config, errors)
    }

    fn process_config(yaml: &str) -> (ScraperConfig, Vec<String>) {
        let (config, errors) = parse_yaml(yaml);
        let scraper = config
            .scrapers
            .into_iter()
            .find(|s| s.scraper.kind() == ScraperKind::Process)
            .expect("a process scraper");
        (scraper, errors)
    }

    fn settings(config: &ScraperConfig) -> &ProcessConfig {
        match &config.scraper {
            Scraper::Process(settings) => settings,
            other => panic!("not the process scraper: {other:?}"),
        }
    }

    /// A host with the four fake processes, /etc/passwd, /proc/stat (two CPUs) and /proc/meminfo.
    fn fake_processes() -> tempfile::TempDir {
        let dir = fake_root(&[
            ("proc/stat", cpu::GOLDEN_STAT),
            ("proc/meminfo", memory::GOLDEN_MEMINFO),
            ("proc/loadavg", load::GOLDEN_LOADAVG),
            ("proc/net/dev", "not a process"),
        ]);
        for process in [&SYSTEMD, &PYTHON, &KWORKER, &LONG_NAME] {
            write(dir.path(), process);
        }
        write_passwd(dir.path());
        dir
    }

    /// Each process's resource attributes and metrics.
    type PerProcess = Vec<(Vec<KeyValue>, Vec<Metric>)>;

    /// One scrape: (per-process resources, errors).
    fn scrape_once(root: &HostRoot, enabled: &Enabled, config: &ProcessConfig, state: &mut ProcessState) -> (PerProcess, Vec<String>) {
        let mut out = Emit::new(enabled, 1, 2);
        scrape(root, &mut out, config, state);
        assert!(out.metrics.is_empty(), "every metric belongs to a process");
        (out.resources, out.errors)
    }

    fn int_of(attributes: &[KeyValue], key: &str) -> Option<i64> {
        attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::IntValue(v) => Some(*v),
                _ => None,
            })
    }

    fn str_of<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
        attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(v) => Some(v.as_str()),
                _ => None,
            })
    }

    fn pids(resources: &[(Vec<KeyValue>, Vec<Metric>)]) -> Vec<i64> {
        resources
            .iter()
            .map(|(attributes, _)| int_of(attributes, "process.pid").unwrap())
            .collect()
    }

    fn of_pid(resources: &[(Vec<KeyValue>, Vec<Metric>)], pid: i64) -> &(Vec<KeyValue>, Vec<Metric>) {
        resources
            .iter()
            .find(|(attributes, _)| int_of(attributes, "process.pid") == Some(pid))
            .unwrap_or_else(|| panic!("no process {pid}"))
    }

    #[test]
    fn a_stat_line_is_read_after_a_command_name_with_spaces_and_parentheses() {
        // Captured from a Linux 6 kernel (`cat /proc/self/stat`).
        let captured = "29198 (cat) R 29196 29196 23257 0 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 3923627 3133440 382 18446744073709551615 93851610963968 93851610983849 140721710258048 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 93851610999856 93851611001472 93851660480512 140721710266910 140721710266930 140721710266930 140721710268395 0\n";
        assert_eq!(
            parse_stat(captured).unwrap(),
            Stat {
                ppid: 29196,
                minor_faults: 98,
                major_faults: 0,
                utime: 0,
                stime: 0,
                threads: 1,
                start_ticks: 3923627,
                vsize: 3133440,
                rss_pages: 382,
                blkio_ticks: 0,
            }
        );
        let odd = parse_stat("42 (my (odd) ) name) S 7 42 42 0 -1 0 1 0 2 0 3 4 0 0 20 0 5 0 6 7 8").unwrap();
        assert_eq!(
            (odd.ppid, odd.minor_faults, odd.major_faults, odd.utime, odd.stime, odd.threads),
            (7, 1, 2, 3, 4, 5)
        );
        assert_eq!((odd.start_ticks, odd.vsize, odd.rss_pages, odd.blkio_ticks), (6, 7, 8, 0));
        let python = parse_stat(PYTHON.stat).unwrap();
        assert_eq!((python.utime, python.stime, python.blkio_ticks), (12345, 678, 9));
        assert!(parse_stat("1 (init) S 0 1").unwrap_err().contains("at least 24 fields"));
        assert!(parse_stat("garbage").unwrap_err().contains("parentheses"));
        assert!(parse_stat("1 (x) S 0 1 1 0 -1 0 x 0 0 0 0 0 0 0 20 0 1 0 5 6 7")
            .unwrap_err()
            .contains("field 10"));
    }

    #[test]
    fn status_gives_the_name_uid_switches_and_pending_signals() {
        assert_eq!(
            parse_status(PYTHON.status).unwrap(),
            Status {
                name: "python3".to_string(),
                uid: Some(1000),
                voluntary_switches: 77,
                involuntary_switches: 5,
                signals_pending: 256,
            }
        );
        let kworker = parse_status(KWORKER.status).unwrap();
        assert_eq!(kworker.name, "kworker/0:1-events", "a colon in the name is kept");
        assert!(parse_status("State:\tS\n").unwrap_err().contains("Name"));
    }

    #[test]
    fn the_command_line_is_split_at_nuls() {
        assert_eq!(parse_cmdline(b""), None, "a kernel thread");
        assert_eq!(
            parse_cmdline(b"/bin/sh\0-c\0echo hi\0"),
            Some(vec!["/bin/sh".to_string(), "-c".to_string(), "echo hi".to_string()])
        );
        assert_eq!(parse_cmdline(b"\0\0"), Some(vec![String::new()]));
        assert_eq!(
            command_of(parse_cmdline(b"/bin/sh\0-c\0echo hi\0")),
            ("/bin/sh".to_string(), "/bin/sh -c echo hi".to_string())
        );
        assert_eq!(command_of(None), (String::new(), String::new()));
    }

    #[test]
    fn io_passwd_and_base_names_are_read() {
        assert_eq!(
            parse_io(PYTHON.io.unwrap()).unwrap(),
            Io {
                rchar: 123456,
                wchar: 654321,
                syscr: 1500,
                syscw: 900,
            }
        );
        assert!(parse_io("rchar: lots\n").unwrap_err().contains("rchar"));
        let users =
            parse_passwd("# comment\nroot:x:0:0::/root:/bin/sh\nbad line\ntoor:x:0:0::/:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n");
        assert_eq!(users.get(&0).map(String::as_str), Some("root"), "the first entry of a uid");
        assert_eq!(users.get(&1001).map(String::as_str), Some("bob"));
        assert_eq!(users.len(), 2);
        assert_eq!(base_name("/opt/app/server"), "server");
        assert_eq!(base_name("server"), "server");
        assert_eq!(base_name("/opt/app/"), "app");
    }

    #[test]
    fn each_process_is_a_resource_with_the_collectors_attributes_and_default_metrics() {
        let dir = fake_processes();
        let root = host_root(dir.path());
        let (config, errors) = process_config("scrapers: { process: {} }");
        assert!(errors.is_empty(), "{errors:?}");
        let mut state = ProcessState::default();
        let (resources, errors) = scrape_once(&root, &config.metrics, settings(&config), &mut state);
        assert_eq!(
            pids(&resources),
            [1, 4242, 4300, 5000],
            "ascending, /proc/net and others are not processes"
        );

        let (attributes, metrics) = of_pid(&resources, 4242);
        let keys: Vec<&str> = attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "process.pid",
                "process.parent_pid",
                "process.executable.name",
                "process.executable.path",
                "process.command",
                "process.command_line",
                "process.owner"
            ]
        );
        assert_eq!(int_of(attributes, "process.parent_pid"), Some(1));
        assert_eq!(str_of(attributes, "process.executable.name"), Some("python3"));
        assert_eq!(str_of(attributes, "process.executable.path"), Some("/usr/bin/python3.12"));
        assert_eq!(str_of(attributes, "process.command"), Some("/usr/bin/python3"));
        assert_eq!(
            str_of(attributes, "process.command_line"),
            Some("/usr/bin/python3 -m http.server 8000")
        );
        assert_eq!(str_of(attributes, "process.owner"), Some("alice"));

        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "process.cpu.time",
                "process.disk.io",
                "process.memory.usage",
                "process.memory.virtual"
            ]
        );
        let ticks = cpu::ticks_per_second();
        let cpu_time = find(metrics, "process.cpu.time").unwrap();
        assert_eq!(cpu_time.unit, "s");
        assert_eq!(cpu_time.description, "Total CPU seconds broken down by different states.");
        assert_eq!(sum_shape(cpu_time), Some((true, true)));
        let states: Vec<&str> = points(cpu_time).iter().map(|p| attribute(p, "state").unwrap()).collect();
        assert_eq!(states, ["user", "system", "wait"]);
        assert!(points(cpu_time).iter().all(|p| !is_int(p)));
        assert!(approx(value_of(metrics, "process.cpu.time", &[("state", "user")]), 12345.0 / ticks));
        assert!(approx(value_of(metrics, "process.cpu.time", &[("state", "system")]), 678.0 / ticks));
        assert!(approx(value_of(metrics, "process.cpu.time", &[("state", "wait")]), 9.0 / ticks));

        let disk = find(metrics, "process.disk.io").unwrap();
        assert_eq!((disk.unit.as_str(), sum_shape(disk)), ("By", Some((true, true))));
        assert_eq!(value_of(metrics, "process.disk.io", &[("direction", "read")]), 123456.0, "rchar");
        assert_eq!(value_of(metrics, "process.disk.io", &[("direction", "write")]), 654321.0, "wchar");

        let page = memory::page_size() as f64;
        let usage = find(metrics, "process.memory.usage").unwrap();
        assert_eq!((usage.unit.as_str(), sum_shape(usage)), ("By", Some((false, true))));
        assert!(points(usage).iter().all(is_int));
        assert_eq!(value_of(metrics, "process.memory.usage", &[]), 25600.0 * page);
        assert_eq!(value_of(metrics, "process.memory.virtual", &[]), 524288000.0);

        // Every point starts when the process did: boot plus 360000 ticks.
        let started = BOOT_NS + (360000.0 / ticks * 1000.0) as u64 * 1_000_000;
        for metric in metrics {
            for point in points(metric) {
                assert_eq!(point.start_time_unix_nano, started, "{}", metric.name);
                assert!(point.time_unix_nano > point.start_time_unix_nano);
            }
        }

        // The kernel thread: no executable (an error, unmuted), empty command, root's; no io.
        let (attributes, metrics) = of_pid(&resources, 4300);
        assert_eq!(str_of(attributes, "process.executable.path"), Some(""));
        assert_eq!(str_of(attributes, "process.command"), Some(""));
        assert_eq!(str_of(attributes, "process.command_line"), Some(""));
        assert_eq!(str_of(attributes, "process.owner"), Some("root"));
        assert!(find(metrics, "process.disk.io").is_none());
        assert_eq!(value_of(metrics, "process.memory.usage", &[]), 0.0);

        // The cut name is completed from the command; its uid has no name, so no owner.
        let (attributes, _) = of_pid(&resources, 5000);
        assert_eq!(str_of(attributes, "process.executable.name"), Some("very_long_process_name"));
        assert_eq!(str_of(attributes, "process.owner"), None);

        assert_eq!(errors.len(), 1, "one error for the whole scrape: {errors:?}");
        let error = &errors[0];
        assert!(error.starts_with("3 errors reading processes: "), "{error}");
        assert!(error.contains("error reading process executable for pid 4300: "), "{error}");
        assert!(
            error.contains("error reading disk usage for process \"kworker/0:1-events\" (pid 4300): "),
            "{error}"
        );
        assert!(
            error.contains("error reading username for process \"very_long_process_name\" (pid 5000): user: unknown userid 4321"),
            "{error}"
        );
    }

    #[test]
    fn the_demos_mute_settings_silence_exe_io_and_user_errors_and_keep_the_processes() {
        let (config, errors) = process_config(
            "scrapers:\n  process:\n    mute_process_exe_error: true\n    mute_process_io_error: true\n    mute_process_user_error: true\n  system:\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let dir = fake_processes();
        let root = host_root(dir.path());
        let (resources, errors) = scrape_once(&root, &config.metrics, settings(&config), &mut ProcessState::default());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(pids(&resources), [1, 4242, 4300, 5000]);
        let (attributes, metrics) = of_pid(&resources, 4300);
        assert_eq!(str_of(attributes, "process.executable.path"), Some(""));
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["process.cpu.time", "process.memory.usage", "process.memory.virtual"]);

        // A process whose status is gone (it exited): its name error, or nothing when muted.
        std::fs::remove_file(dir.path().join("proc/1/status")).unwrap();
        let (resources, errors) = scrape_once(&root, &config.metrics, settings(&config), &mut ProcessState::default());
        assert_eq!(pids(&resources), [4242, 4300, 5000]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("error reading process name for pid 1: "), "{errors:?}");
        let (muted, _) = process_config("scrapers: { process: { mute_process_name_error: true } }");
        let (_, errors) = scrape_once(&root, &muted.metrics, settings(&muted), &mut ProcessState::default());
        assert!(errors.iter().all(|e| !e.contains("process name")), "{errors:?}");
    }

    #[test]
    fn mute_process_all_errors_silences_everything() {
        let (config, errors) = process_config("scrapers: { process: { mute_process_all_errors: true } }");
        assert!(errors.is_empty(), "{errors:?}");
        assert!(settings(&config).mute.all);
        let dir = fake_processes();
        std::fs::write(dir.path().join("proc/4242/stat"), "cut short").unwrap();
        let root = host_root(dir.path());
        let (resources, errors) = scrape_once(&root, &config.metrics, settings(&config), &mut ProcessState::default());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(pids(&resources), [1, 4300, 5000], "an unreadable stat leaves its process out");
    }

    #[test]
    fn include_and_exclude_filter_on_the_executable_name() {
        let dir = fake_processes();
        let root = host_root(dir.path());
        let cases: &[(&str, &[i64])] = &[
            ("{ include: { names: [python3, systemd], match_type: strict } }", &[1, 4242]),
            ("{ include: { names: [python], match_type: strict } }", &[]),
            ("{ include: { names: ['^py', 'long'], match_type: regexp } }", &[4242, 5000]),
            ("{ exclude: { names: ['^kworker/'], match_type: regexp } }", &[1, 4242, 5000]),
            (
                "{ include: { names: ['.*'], match_type: regexp }, exclude: { names: [systemd], match_type: strict } }",
                &[4242, 4300, 5000],
            ),
        ];
        for (yaml, expected) in cases {
            let (config, errors) = process_config(&format!("scrapers: {{ process: {yaml} }}"));
            assert!(errors.is_empty(), "{yaml}: {errors:?}");
            let (resources, _) = scrape_once(&root, &config.metrics, settings(&config), &mut ProcessState::default());
            assert_eq!(pids(&resources), *expected, "{yaml}");
        }
        // Filtered-out processes are not read further, so report no errors.
        let (config, _) = process_config("scrapers: { process: { include: { names: [systemd], match_type: strict } } }");
        let (_, errors) = scrape_once(&root, &config.metrics, settings(&config), &mut ProcessState::default());
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn scrape_process_delay_leaves_out_younger_processes() {
        let dir = fake_processes();
        // Booted 100 s ago: systemd started then, python3 an hour later (in the future here), the
        // kernel thread 0.5 s after boot.
        let root = HostRoot {
            root: dir.path().to_path_buf(),
            boot_time_ns: now_ns() - 100_000_000_000,
        };
        let (config, errors) = process_config("scrapers: { process: { scrape_process_delay: 1m, mute_process_all_errors: true } }");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(settings(&config).scrape_process_delay, Duration::from_secs(60));
        let (resources, _) = scrape_once(&root, &config.metrics, settings(&config), &mut ProcessState::default());
        assert_eq!(pids(&resources), [1, 4300]);
        let (config, _) = process_config("scrapers: { process: { scrape_process_delay: 5m, mute_process_all_errors: true } }");
        let (resources, _) = scrape_once(&root, &config.metrics, settings(&config), &mut ProcessState::default());
        assert!(resources.is_empty());
    }

    #[test]
    fn every_optional_metric_and_attribute_can_be_turned_on() {
        let dir = fake_processes();
        std::fs::write(dir.path().join("proc/4242/cgroup"), "0::/user.slice/user-1000.slice\n").unwrap();
        let fd = dir.path().join("proc/4242/fd");
        std::fs::create_dir_all(&fd).unwrap();
        for n in 0..3 {
            std::fs::write(fd.join(n.to_string()), "").unwrap();
        }
        let root = host_root(dir.path());
        let (config, errors) = process_config(
            r#"
scrapers:
  process:
    include: { names: [python3], match_type: strict }
    resource_attributes:
      process.cgroup: { enabled: true }
      process.command_line: { enabled: false }
    metrics:
      process.context_switches: { enabled: true }
      process.cpu.utilization: { enabled: true }
      process.disk.operations: { enabled: true }
      process.handles: { enabled: true }
      process.memory.utilization: { enabled: true }
      process.open_file_descriptors: { enabled: true }
      process.paging.faults: { enabled: true }
      process.signals_pending: { enabled: true }
      process.threads: { enabled: true }
      process.uptime: { enabled: true }
"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let mut state = ProcessState::default();
        let (resources, errors) = scrape_once(&root, &config.metrics, settings(&config), &mut state);
        assert!(errors.is_empty(), "{errors:?}");
        let (attributes, metrics) = &resources[0];
        assert_eq!(str_of(attributes, "process.cgroup"), Some("0::/user.slice/user-1000.slice"));
        assert_eq!(str_of(attributes, "process.command_line"), None);
        assert_eq!(str_of(attributes, "process.command"), Some("/usr/bin/python3"));
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "process.context_switches",
                "process.cpu.time",
                "process.disk.io",
                "process.disk.operations",
                "process.memory.usage",
                "process.memory.utilization",
                "process.memory.virtual",
                "process.open_file_descriptors",
                "process.paging.faults",
                "process.signals_pending",
                "process.threads",
                "process.uptime"
            ],
            "the Collector's order; no utilization on the first scrape, no handles on Linux"
        );
        assert_eq!(value_of(metrics, "process.context_switches", &[("type", "voluntary")]), 77.0);
        assert_eq!(value_of(metrics, "process.context_switches", &[("type", "involuntary")]), 5.0);
        assert_eq!(value_of(metrics, "process.disk.operations", &[("direction", "read")]), 1500.0);
        assert_eq!(value_of(metrics, "process.disk.operations", &[("direction", "write")]), 900.0);
        let total = memory::parse_meminfo(memory::GOLDEN_MEMINFO).unwrap().total as f64;
        let rss = 25600.0 * memory::page_size() as f64;
        assert!(approx(value_of(metrics, "process.memory.utilization", &[]), 100.0 * rss / total));
        assert_eq!(value_of(metrics, "process.open_file_descriptors", &[]), 3.0);
        assert_eq!(value_of(metrics, "process.paging.faults", &[("type", "major")]), 43.0);
        assert_eq!(value_of(metrics, "process.paging.faults", &[("type", "minor")]), 98765.0);
        assert_eq!(value_of(metrics, "process.signals_pending", &[]), 256.0);
        assert_eq!(value_of(metrics, "process.threads", &[]), 4.0);
        let uptime = find(metrics, "process.uptime").unwrap();
        assert!(sum_shape(uptime).is_none() && uptime.unit == "s");
        let started_s = (BOOT_NS / 1_000_000_000) as f64 + 360000.0 / cpu::ticks_per_second();
        let expected = now_ns() as f64 / 1e9 - started_s;
        assert!((value(&points(uptime)[0]) - expected).abs() < 60.0);

        // The second scrape, 10 s later (as far as the state knows), has utilization: python3 spent
        // 2 more user seconds, on a host of two CPUs.
        state.cpu_before.get_mut(&4242).unwrap().at_ns -= 10_000_000_000;
        let stat = PYTHON
            .stat
            .replace(" 12345 678 ", &format!(" {} 678 ", 12345 + 2 * cpu::ticks_per_second() as u64));
        std::fs::write(dir.path().join("proc/4242/stat"), stat).unwrap();
        let (resources, _) = scrape_once(&root, &config.metrics, settings(&config), &mut state);
        let metrics = &resources[0].1;
        let utilization = find(metrics, "process.cpu.utilization").expect("from the second scrape on");
        assert_eq!(utilization.unit, "1");
        assert!(sum_shape(utilization).is_none());
        let user = value_of(metrics, "process.cpu.utilization", &[("state", "user")]);
        assert!((user - 0.1).abs() < 0.005, "{user}: 2 s over 10 s, on 2 CPUs");
        assert_eq!(value_of(metrics, "process.cpu.utilization", &[("state", "system")]), 0.0);
    }

    #[test]
    fn utilization_is_the_cpu_seconds_per_second_per_logical_cpu() {
        let before = CpuSample {
            at_ns: 1_000_000_000,
            times: CpuTimes {
                user: 10.0,
                system: 5.0,
                wait: 1.0,
            },
        };
        let now = CpuSample {
            at_ns: 11_000_000_000,
            times: CpuTimes {
                user: 14.0,
                system: 6.0,
                wait: 1.0,
            },
        };
        let share = utilization(&before, &now, 2);
        assert!(
            approx(share.user, 0.2) && approx(share.system, 0.05) && share.wait == 0.0,
            "{share:?}"
        );
        assert_eq!(utilization(&now, &now, 2), CpuTimes::default(), "no time elapsed");
    }

    #[test]
    fn an_unreadable_cgroup_leaves_its_process_out() {
        let dir = fake_processes();
        std::fs::write(dir.path().join("proc/1/cgroup"), "0::/init.scope\n").unwrap();
        let root = host_root(dir.path());
        let yaml = "scrapers: { process: { mute_process_exe_error: true, mute_process_io_error: true, mute_process_user_error: true, resource_attributes: { process.cgroup: { enabled: true } } } }";
        let (config, errors) = process_config(yaml);
        assert!(errors.is_empty(), "{errors:?}");
        let (resources, errors) = scrape_once(&root, &config.metrics, settings(&config), &mut ProcessState::default());
        assert_eq!(pids(&resources), [1]);
        assert_eq!(str_of(&resources[0].0, "process.cgroup"), Some("0::/init.scope"));
        assert!(
            errors[0].starts_with("3 errors reading processes: error reading process cgroup for pid 4242"),
            "{errors:?}"
        );
        let (config, _) = process_config(&yaml.replace(
            "mute_process_user_error: true",
            "mute_process_user_error: true, mute_process_cgroup_error: true",
        ));
        let (_, errors) = scrape_once(&root, &config.metrics, settings(&config), &mut ProcessState::default());
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn the_demos_config_and_every_key_parse() {
        let (config, errors) = parse_yaml(
            "scrapers:\n  process:\n    mute_process_exe_error: true\n    mute_process_io_error: true\n    mute_process_user_error: true\n  system:\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let kinds: Vec<ScraperKind> = config.scrapers.iter().map(|s| s.scraper.kind()).collect();
        assert_eq!(kinds, [ScraperKind::Process, ScraperKind::System]);
        let process = settings(&config.scrapers[0]);
        assert_eq!(
            process.mute,
            MuteErrors {
                exe: true,
                io: true,
                user: true,
                ..Default::default()
            }
        );
        assert_eq!(process.names, NameFilter::default());
        assert_eq!(process.resource_attributes, ResourceAttributes::default());
        assert!(!process.resource_attributes.contains("process.cgroup"));
        assert_eq!(config.scrapers[0].metrics, defaults_of(ScraperKind::Process));
        assert_eq!(config.scrapers[1].metrics, defaults_of(ScraperKind::System));

        let (config, errors) = process_config(
            r#"
scrapers:
  process:
    include: { names: [java, python3], match_type: strict }
    exclude: { names: ['^java8$'], match_type: regexp }
    mute_process_all_errors: true
    mute_process_name_error: true
    mute_process_exe_error: false
    mute_process_io_error: true
    mute_process_user_error: true
    mute_process_cgroup_error: true
    scrape_process_delay: 10s
    resource_attributes:
      process.owner: { enabled: false }
    metrics:
      process.disk.io: { enabled: false }
      process.threads: { enabled: true }
"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let process = settings(&config);
        assert_eq!(
            process.mute,
            MuteErrors {
                all: true,
                name: true,
                exe: false,
                io: true,
                user: true,
                cgroup: true,
            }
        );
        assert_eq!(process.scrape_process_delay, Duration::from_secs(10));
        assert!(process.names.allows("java") && process.names.allows("python3"));
        assert!(!process.names.allows("java8") && !process.names.allows("javac"));
        assert!(!process.resource_attributes.contains("process.owner"));
        assert!(process.resource_attributes.contains("process.pid"));
        assert!(config.metrics.contains("process.threads") && !config.metrics.contains("process.disk.io"));
        assert!(config.metrics.contains("process.cpu.time"));
    }

    #[test]
    fn process_config_mistakes_are_errors_with_their_path() {
        let at = "receivers.hostmetrics.scrapers.process";
        let cases: &[(&str, String)] = &[
            (
                "{ include: { names: [java] } }",
                format!("{at}.include: match_type is required with names"),
            ),
            (
                "{ exclude: { processes: [java], match_type: strict } }",
                format!("{at}.exclude.processes: unknown key"),
            ),
            (
                "{ mute_process_io_error: yes please }",
                format!("{at}.mute_process_io_error: expected true or false"),
            ),
            (
                "{ scrape_process_delay: 5 }",
                format!("{at}.scrape_process_delay: expected a duration"),
            ),
            (
                "{ resource_attributes: { process.pidd: { enabled: true } } }",
                format!("{at}.resource_attributes.process.pidd: unknown resource attribute"),
            ),
            (
                "{ resource_attributes: { process.owner: { enabled: true, metrics_include: [{ strict: root }] } } }",
                format!("{at}.resource_attributes.process.owner.metrics_include: filtering resources"),
            ),
            (
                "{ metrics: { process.cpu.tim: { enabled: true } } }",
                format!("{at}.metrics.process.cpu.tim: unknown metric of the process scraper"),
            ),
            ("{ devices: [sda] }", format!("{at}.devices: unknown key")),
        ];
        for (yaml, expected) in cases {
            let (_, errors) = parse_yaml(&format!("scrapers: {{ process: {yaml} }}"));
            assert!(
                errors.iter().any(|e| e.starts_with(expected.as_str())),
                "{yaml}: expected an error starting {expected:?}, got {errors:?}"
            );
        }
        let (_, errors) = parse_yaml("scrapers: { system: { metrics: { system.uptime: { enabled: false } }, root: x } }");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("receivers.hostmetrics.scrapers.system.root: unknown key"),
            "{errors:?}"
        );
    }

    /// Thousands of processes scrape in well under any collection interval.
    #[test]
    fn thousands_of_processes_scrape_quickly() {
        let dir = fake_root(&[]);
        write_passwd(dir.path());
        const COUNT: u32 = 3000;
        for pid in 1..=COUNT {
            let base = root_dir(dir.path(), pid);
            std::fs::create_dir_all(&base).unwrap();
            std::fs::write(base.join("stat"), PYTHON.stat.replacen("4242", &pid.to_string(), 1)).unwrap();
            std::fs::write(base.join("status"), PYTHON.status).unwrap();
            std::fs::write(base.join("cmdline"), b"/usr/bin/python3\0-m\0http.server\0").unwrap();
            std::fs::write(base.join("io"), PYTHON.io.unwrap()).unwrap();
            std::os::unix::fs::symlink("/usr/bin/python3.12", base.join("exe")).unwrap();
        }
        let root = host_root(dir.path());
        let config = ScraperConfig::defaults(ScraperKind::Process);
        let started = std::time::Instant::now();
        let (resources, errors) = scrape_once(&root, &config.metrics, settings(&config), &mut ProcessState::default());
        let took = started.elapsed();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(resources.len(), COUNT as usize);
        assert!(took < Duration::from_secs(5), "{COUNT} processes took {took:?}");
    }

    fn root_dir(root: &Path, pid: u32) -> PathBuf {
        root.join("proc").join(pid.to_string())
    }

    /// This machine's processes: ours is among them, with sane values.
    #[cfg(target_os = "linux")]
    #[test]
    fn scraping_this_linux_machine_finds_this_test_process() {
        let stat = std::fs::read_to_string("/proc/stat").unwrap();
        let root = HostRoot {
            root: PathBuf::from("/"),
            boot_time_ns: cpu::boot_time_ns(&stat).unwrap(),
        };
        let config = ScraperConfig::defaults(ScraperKind::Process);
        let started = std::time::Instant::now();
        let (resources, _errors) = scrape_once(&root, &config.metrics, settings(&config), &mut ProcessState::default());
        assert!(started.elapsed() < Duration::from_secs(10));
        let me = i64::from(std::process::id());
        let (attributes, metrics) = of_pid(&resources, me);
        let exe = std::env::current_exe().unwrap();
        let path = str_of(attributes, "process.executable.path").unwrap();
        assert!(
            path.is_empty() || Path::new(path).file_name() == exe.file_name(),
            "{path} vs {exe:?}"
        );
        assert!(!str_of(attributes, "process.command_line").unwrap().is_empty());
        assert!(value_of(metrics, "process.memory.usage", &[]) > 0.0);
        assert!(value_of(metrics, "process.memory.virtual", &[]) >= value_of(metrics, "process.memory.usage", &[]));
        assert!(value_of(metrics, "process.cpu.time", &[("state", "user")]) >= 0.0);
        let start = points(find(metrics, "process.cpu.time").unwrap())[0].start_time_unix_nano;
        assert!(start >= root.boot_time_ns && start <= now_ns(), "started after boot, before now");
    }
}
