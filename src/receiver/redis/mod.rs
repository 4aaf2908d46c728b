//! The `redis` receiver (contrib `redisreceiver`): sends `INFO all` to a Redis or Valkey server on a
//! timer, over one connection kept between scrapes (RESP2, `resp.rs`), and turns the reply into the
//! metrics of the Collector's metadata.yaml.
//!
//! ```yaml
//! redis:
//!   endpoint: valkey-cart:6379   # required: host:port, or a socket path with transport: unix
//!   transport: tcp               # the default; tcp4, tcp6 or unix
//!   username: valkey             # with password: AUTH username password (Redis 6 ACLs)
//!   password: ${env:REDIS_PASSWORD}
//!   collection_interval: 10s     # the Collector's default
//!   initial_delay: 1s
//!   timeout: 0s                  # unset or 0: a scrape may take up to the interval
//!   dialer: { timeout: 5s }      # how long connecting may take
//!   tls:
//!     insecure: true             # the default: plain TCP; false (or a ca_file) connects with TLS
//!     ca_file: /etc/ssl/redis-ca.pem
//!   metrics: { redis.cmd.calls: { enabled: true } }
//!   resource_attributes: { server.address: { enabled: true }, server.port: { enabled: true } }
//! ```
//! As in the Collector: AUTH is sent only when a password is set (a `username` alone, as in the
//! OpenTelemetry demo, connects as the default user); the resource carries `redis.version` (the
//! INFO's `redis_version`, which Valkey reports too) and, when enabled, `server.address` and
//! `server.port` from the endpoint; points start when the server did (`now - uptime_in_seconds`,
//! again after a restart); the scope is the Collector's receiver package. The Collector's optional
//! cluster, sentinel, `redis.mode`, `redis.memory.used_memory_*` and
//! `redis.stats.tracking_total_keys` metrics are not emitted yet (enabling one is a config error).
//! A scrape that fails (refused, timed out, AUTH or INFO refused) sends nothing: it is counted and
//! logged (`scraper`), and the connection is opened again for the next one.

pub mod resp;

use crate::config::{ComponentId, Parser, Settings};
use crate::net::Stop;
use crate::pdata::now_ns;
use crate::pipeline::SignalConsumers;
use crate::receiver::scraper::{self, Enabled, MetricDef, Points, Schedule, Scrape, Shape};
use crate::receiver::{Endpoint, Receiver, ReceiverFactory, ReceiverHost};
use crate::tls::ClientTlsSettings;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use resp::{Connection, Reply};
use serde_yaml_ng::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls::pki_types::ServerName;

/// The Collector's `collection_interval` default for this receiver.
pub const DEFAULT_COLLECTION_INTERVAL: Duration = Duration::from_secs(10);
/// go-redis' dial timeout, which the Collector's client keeps.
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// go-redis' read timeout, which the Collector's client keeps: the longest one reply may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// The scope the Collector's generated metrics builder names.
const SCOPE_NAME: &str = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/redisreceiver";
/// Keyspace lines are read for db0 to db15, as the Collector does.
const MAX_DBS: usize = 16;

/// The metrics of the Collector's metadata.yaml that otelbox emits, in name order.
pub const METRICS: [MetricDef; 35] = [
    def(
        "redis.clients.blocked",
        "Number of clients pending on a blocking call",
        "{client}",
        Shape::UpDownCounter,
        true,
    ),
    def(
        "redis.clients.connected",
        "Number of client connections (excluding connections from replicas)",
        "{client}",
        Shape::UpDownCounter,
        true,
    ),
    def(
        "redis.clients.max_input_buffer",
        "Biggest input buffer among current client connections",
        "By",
        Shape::Gauge,
        true,
    ),
    def(
        "redis.clients.max_output_buffer",
        "Longest output list among current client connections",
        "By",
        Shape::Gauge,
        true,
    ),
    def(
        "redis.cmd.calls",
        "Total number of calls for a command",
        "{call}",
        Shape::Counter,
        false,
    ),
    def("redis.cmd.latency", "Command execution latency", "s", Shape::Gauge, false),
    def(
        "redis.cmd.usec",
        "Total time for all executions of this command",
        "us",
        Shape::Counter,
        false,
    ),
    def(
        "redis.commands",
        "Number of commands processed per second",
        "{ops}/s",
        Shape::Gauge,
        true,
    ),
    def(
        "redis.commands.processed",
        "Total number of commands processed by the server",
        "{command}",
        Shape::Counter,
        true,
    ),
    def(
        "redis.connections.received",
        "Total number of connections accepted by the server",
        "{connection}",
        Shape::Counter,
        true,
    ),
    def(
        "redis.connections.rejected",
        "Number of connections rejected because of maxclients limit",
        "{connection}",
        Shape::Counter,
        true,
    ),
    def(
        "redis.cpu.time",
        "System CPU consumed by the Redis server in seconds since server start",
        "s",
        Shape::Counter,
        true,
    ),
    def("redis.db.avg_ttl", "Average keyspace keys TTL", "ms", Shape::Gauge, true),
    def(
        "redis.db.expires",
        "Number of keyspace keys with an expiration",
        "{key}",
        Shape::Gauge,
        true,
    ),
    def("redis.db.keys", "Number of keyspace keys", "{key}", Shape::Gauge, true),
    def(
        "redis.keys.evicted",
        "Number of evicted keys due to maxmemory limit",
        "{key}",
        Shape::Counter,
        true,
    ),
    def(
        "redis.keys.expired",
        "Total number of key expiration events",
        "{event}",
        Shape::Counter,
        true,
    ),
    def(
        "redis.keyspace.hits",
        "Number of successful lookup of keys in the main dictionary",
        "{hit}",
        Shape::Counter,
        true,
    ),
    def(
        "redis.keyspace.misses",
        "Number of failed lookup of keys in the main dictionary",
        "{miss}",
        Shape::Counter,
        true,
    ),
    def(
        "redis.latest_fork",
        "Duration of the latest fork operation in microseconds",
        "us",
        Shape::Gauge,
        true,
    ),
    def(
        "redis.maxmemory",
        "The value of the maxmemory configuration directive",
        "By",
        Shape::Gauge,
        false,
    ),
    def(
        "redis.memory.fragmentation_ratio",
        "Ratio between used_memory_rss and used_memory",
        "1",
        Shape::Gauge,
        true,
    ),
    def(
        "redis.memory.lua",
        "Number of bytes used by the Lua engine",
        "By",
        Shape::Gauge,
        true,
    ),
    def(
        "redis.memory.peak",
        "Peak memory consumed by Redis (in bytes)",
        "By",
        Shape::Gauge,
        true,
    ),
    def(
        "redis.memory.rss",
        "Number of bytes that Redis allocated as seen by the operating system",
        "By",
        Shape::Gauge,
        true,
    ),
    def(
        "redis.memory.used",
        "Total number of bytes allocated by Redis using its allocator",
        "By",
        Shape::Gauge,
        true,
    ),
    def(
        "redis.net.input",
        "The total number of bytes read from the network",
        "By",
        Shape::Counter,
        true,
    ),
    def(
        "redis.net.output",
        "The total number of bytes written to the network",
        "By",
        Shape::Counter,
        true,
    ),
    def(
        "redis.rdb.changes_since_last_save",
        "Number of changes since the last dump",
        "{change}",
        Shape::UpDownCounter,
        true,
    ),
    def(
        "redis.replication.backlog_first_byte_offset",
        "The master offset of the replication backlog buffer",
        "By",
        Shape::Gauge,
        true,
    ),
    def(
        "redis.replication.offset",
        "The server's current replication offset",
        "By",
        Shape::Gauge,
        true,
    ),
    def(
        "redis.replication.replica_offset",
        "Offset for redis replica",
        "By",
        Shape::Gauge,
        false,
    ),
    def("redis.role", "Redis node's role", "{role}", Shape::UpDownCounter, false),
    def(
        "redis.slaves.connected",
        "Number of connected replicas",
        "{replica}",
        Shape::UpDownCounter,
        true,
    ),
    def(
        "redis.uptime",
        "Number of seconds since Redis server start",
        "s",
        Shape::Counter,
        true,
    ),
];

const fn def(name: &'static str, description: &'static str, unit: &'static str, shape: Shape, default: bool) -> MetricDef {
    MetricDef {
        name,
        description,
        unit,
        shape,
        default,
    }
}

/// The Collector's optional metrics otelbox does not emit yet: `enabled: false` is accepted.
const NOT_YET: &[&str] = &[
    "redis.cluster.cluster_enabled",
    "redis.cluster.known_nodes",
    "redis.cluster.links_buffer_limit_exceeded.count",
    "redis.cluster.node.count",
    "redis.cluster.node.uptime",
    "redis.cluster.slots_assigned",
    "redis.cluster.slots_fail",
    "redis.cluster.slots_ok",
    "redis.cluster.slots_pfail",
    "redis.cluster.state",
    "redis.cluster.stats_messages_received",
    "redis.cluster.stats_messages_sent",
    "redis.cluster.uptime",
    "redis.memory.used_memory_overhead",
    "redis.memory.used_memory_startup",
    "redis.mode",
    "redis.sentinel.masters",
    "redis.sentinel.running_scripts",
    "redis.sentinel.scripts_queue_length",
    "redis.sentinel.simulate_failure_flags",
    "redis.sentinel.tilt_since_seconds",
    "redis.sentinel.total_tilt",
    "redis.stats.tracking_total_keys",
];

/// The resource attributes of the Collector's metadata.yaml, with their defaults.
pub const RESOURCE_ATTRIBUTES: [(&str, bool); 3] = [("redis.version", true), ("server.address", false), ("server.port", false)];

/// How an INFO field is read.
#[derive(Clone, Copy)]
enum Number {
    Int,
    Double,
}

/// An INFO field that is one point: field, metric, value type, attribute.
type Field = (&'static str, &'static str, Number, Option<(&'static str, &'static str)>);

/// The INFO fields that are one point each.
const FIELDS: &[Field] = &[
    ("blocked_clients", "redis.clients.blocked", Number::Int, None),
    (
        "client_recent_max_input_buffer",
        "redis.clients.max_input_buffer",
        Number::Int,
        None,
    ),
    (
        "client_recent_max_output_buffer",
        "redis.clients.max_output_buffer",
        Number::Int,
        None,
    ),
    ("connected_clients", "redis.clients.connected", Number::Int, None),
    ("connected_slaves", "redis.slaves.connected", Number::Int, None),
    ("evicted_keys", "redis.keys.evicted", Number::Int, None),
    ("expired_keys", "redis.keys.expired", Number::Int, None),
    ("instantaneous_ops_per_sec", "redis.commands", Number::Int, None),
    ("keyspace_hits", "redis.keyspace.hits", Number::Int, None),
    ("keyspace_misses", "redis.keyspace.misses", Number::Int, None),
    ("latest_fork_usec", "redis.latest_fork", Number::Int, None),
    ("master_repl_offset", "redis.replication.offset", Number::Int, None),
    ("maxmemory", "redis.maxmemory", Number::Int, None),
    ("mem_fragmentation_ratio", "redis.memory.fragmentation_ratio", Number::Double, None),
    (
        "rdb_changes_since_last_save",
        "redis.rdb.changes_since_last_save",
        Number::Int,
        None,
    ),
    ("rejected_connections", "redis.connections.rejected", Number::Int, None),
    (
        "repl_backlog_first_byte_offset",
        "redis.replication.backlog_first_byte_offset",
        Number::Int,
        None,
    ),
    ("slave_repl_offset", "redis.replication.replica_offset", Number::Int, None),
    ("total_commands_processed", "redis.commands.processed", Number::Int, None),
    ("total_connections_received", "redis.connections.received", Number::Int, None),
    ("total_net_input_bytes", "redis.net.input", Number::Int, None),
    ("total_net_output_bytes", "redis.net.output", Number::Int, None),
    ("uptime_in_seconds", "redis.uptime", Number::Int, None),
    ("used_cpu_sys", "redis.cpu.time", Number::Double, Some(("state", "sys"))),
    (
        "used_cpu_sys_children",
        "redis.cpu.time",
        Number::Double,
        Some(("state", "sys_children")),
    ),
    (
        "used_cpu_sys_main_thread",
        "redis.cpu.time",
        Number::Double,
        Some(("state", "sys_main_thread")),
    ),
    ("used_cpu_user", "redis.cpu.time", Number::Double, Some(("state", "user"))),
    (
        "used_cpu_user_children",
        "redis.cpu.time",
        Number::Double,
        Some(("state", "user_children")),
    ),
    (
        "used_cpu_user_main_thread",
        "redis.cpu.time",
        Number::Double,
        Some(("state", "user_main_thread")),
    ),
    ("used_memory", "redis.memory.used", Number::Int, None),
    ("used_memory_lua", "redis.memory.lua", Number::Int, None),
    ("used_memory_peak", "redis.memory.peak", Number::Int, None),
    ("used_memory_rss", "redis.memory.rss", Number::Int, None),
];

/// Which address family `transport` allows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Family {
    Any,
    V4,
    V6,
}

/// Where the server is.
#[derive(Clone, Debug, PartialEq)]
pub enum Address {
    /// `host:port`; an empty host is the local system, as Go dials it.
    Tcp {
        host: String,
        port: u16,
        family: Family,
    },
    Unix(PathBuf),
}

/// A password, kept out of debug output.
#[derive(Clone, Default, PartialEq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RedisConfig {
    pub schedule: Schedule,
    /// As written, for logs and the `server.*` resource attributes.
    pub endpoint: String,
    pub address: Address,
    pub username: String,
    pub password: Secret,
    /// How to connect with TLS; `None`: plain (`tls.insecure`, the default, without a `ca_file`).
    pub tls: Option<ClientTlsSettings>,
    pub dial_timeout: Duration,
    pub metrics: Enabled,
    pub resource_attributes: Enabled,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            schedule: Schedule::new(DEFAULT_COLLECTION_INTERVAL, None),
            endpoint: String::new(),
            address: Address::Tcp {
                host: "localhost".into(),
                port: 6379,
                family: Family::Any,
            },
            username: String::new(),
            password: Secret::default(),
            tls: None,
            dial_timeout: DEFAULT_DIAL_TIMEOUT,
            metrics: Enabled(METRICS.iter().filter(|m| m.default).map(|m| m.name).collect()),
            resource_attributes: Enabled(RESOURCE_ATTRIBUTES.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect()),
        }
    }
}

impl RedisConfig {
    /// The `server.address` and `server.port` of the endpoint, as Go's `net.SplitHostPort` splits it.
    fn server(&self) -> (String, String) {
        match &self.address {
            Address::Tcp { .. } => split_host_port(&self.endpoint)
                .map(|(host, port)| (host.to_string(), port.to_string()))
                .unwrap_or_default(),
            Address::Unix(path) => (path.display().to_string(), String::new()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Config

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> RedisConfig {
    let mut config = RedisConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(
        body,
        &[
            "endpoint",
            "transport",
            "dialer",
            "username",
            "password",
            "tls",
            "collection_interval",
            "initial_delay",
            "timeout",
            "metrics",
            "resource_attributes",
        ],
        path,
    );
    scraper::parse_schedule(p, body, path, &mut config.schedule);
    let mut text = |key: &str| body.get(key).and_then(|v| p.string(v, &format!("{path}.{key}")));
    let endpoint = text("endpoint").unwrap_or_default();
    let transport = text("transport").unwrap_or_else(|| "tcp".to_string());
    config.username = text("username").unwrap_or_default();
    config.password = Secret(text("password").unwrap_or_default());
    let endpoint_at = format!("{path}.endpoint");
    if endpoint.is_empty() {
        p.error(
            &endpoint_at,
            "no endpoint specified; give the server's host:port, like localhost:6379",
        );
    }
    let family = match transport.as_str() {
        "tcp" => Some(Family::Any),
        "tcp4" => Some(Family::V4),
        "tcp6" => Some(Family::V6),
        "unix" => None,
        other => {
            p.error(
                &format!("{path}.transport"),
                format!("expected tcp, tcp4, tcp6 or unix, got '{other}'"),
            );
            Some(Family::Any)
        }
    };
    match family {
        _ if endpoint.is_empty() => {}
        None => config.address = Address::Unix(PathBuf::from(&endpoint)),
        Some(family) => match split_host_port(&endpoint) {
            Some((host, port)) => match port.parse::<u16>() {
                Ok(port) if port != 0 => {
                    config.address = Address::Tcp {
                        host: host.to_string(),
                        port,
                        family,
                    }
                }
                _ => p.error(&endpoint_at, format!("expected a port number after the host, got '{port}'")),
            },
            None => p.error(
                &endpoint_at,
                format!("expected host:port (IPv6 addresses in brackets, like [::1]:6379), got '{endpoint}'"),
            ),
        },
    }
    config.endpoint = endpoint;
    if let Some(dialer) = p.mapping(body.get("dialer"), &format!("{path}.dialer")) {
        p.only_keys(dialer, &["timeout"], &format!("{path}.dialer"));
        if let Some(timeout) = dialer
            .get("timeout")
            .and_then(|v| p.duration(v, &format!("{path}.dialer.timeout")))
            .filter(|t| !t.is_zero())
        {
            config.dial_timeout = timeout;
        }
    }
    let tls = scraper::parse_client_tls(p, body.get("tls"), &format!("{path}.tls"));
    // The Collector's configtls: plain when `insecure` (the default here) and no CA is given.
    if tls.insecure == Some(false) || tls.settings.ca_file.is_some() {
        config.tls = Some(tls.settings);
    }
    config.metrics = scraper::parse_metrics(p, body.get("metrics"), &format!("{path}.metrics"), &METRICS, NOT_YET);
    config.resource_attributes = scraper::parse_resource_attributes(
        p,
        body.get("resource_attributes"),
        &format!("{path}.resource_attributes"),
        &RESOURCE_ATTRIBUTES,
    );
    config
}

/// `host:port` split as Go's `net.SplitHostPort`: `[v6]:port`, `host:port`, `:port`.
fn split_host_port(endpoint: &str) -> Option<(&str, &str)> {
    if let Some(rest) = endpoint.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return (!port.contains(':')).then_some((host, port));
    }
    let (host, port) = endpoint.rsplit_once(':')?;
    (!host.contains(':') && !host.contains('[') && !port.contains(']')).then_some((host, port))
}

// ---------------------------------------------------------------------------------------------
// INFO

/// The `key:value` lines of an INFO reply, in order. Section headers (`# Server`) and blank lines
/// are skipped, and so are lines with more than one colon, as the Collector does.
pub fn parse_info(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            (!value.contains(':')).then_some((key, value))
        })
        .collect()
}

/// `keys=1,expires=2,avg_ttl=3` of a keyspace line: (keys, expires, avg_ttl).
fn parse_keyspace(text: &str) -> Result<(i64, i64, i64), String> {
    let (mut keys, mut expires, mut avg_ttl) = (0, 0, 0);
    for pair in text.split(',') {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("unexpected keyspace pair '{pair}'"));
        };
        let field = match key {
            "keys" => &mut keys,
            "expires" => &mut expires,
            "avg_ttl" => &mut avg_ttl,
            _ => continue,
        };
        *field = value.parse().map_err(|_| format!("{key}: expected a number, got '{value}'"))?;
    }
    Ok((keys, expires, avg_ttl))
}

/// The metrics of one INFO reply, as the Collector's scraper records them.
fn metrics_request(info: &[(&str, &str)], config: &RedisConfig, start_ns: u64, now_ns: u64) -> ExportMetricsServiceRequest {
    let fields: HashMap<&str, &Field> = FIELDS.iter().map(|field| (field.0, field)).collect();
    let mut points = Points::new(start_ns, now_ns);
    let mut problems = Vec::new();
    for &(key, value) in info {
        if let Some(&&(_, metric, number, attribute)) = fields.get(key) {
            let attributes: &[(&str, &str)] = match &attribute {
                Some(pair) => std::slice::from_ref(pair),
                None => &[],
            };
            match number {
                Number::Int => match value.parse::<i64>() {
                    Ok(v) => points.int(metric, v, attributes),
                    Err(_) => problems.push(format!("{key}: '{value}' is not an integer")),
                },
                Number::Double => match value.parse::<f64>() {
                    Ok(v) => points.double(metric, v, attributes),
                    Err(_) => problems.push(format!("{key}: '{value}' is not a number")),
                },
            }
        } else if let Some(command) = key.strip_prefix("cmdstat_") {
            // calls=1685,usec=6032,usec_per_call=3.58,rejected_calls=0,failed_calls=0
            for pair in value.trim().split(',') {
                let Some((stat, number)) = pair.split_once('=') else { continue };
                let Ok(number) = number.parse::<i64>() else { continue };
                match stat {
                    "calls" => points.int("redis.cmd.calls", number, &[("cmd", command)]),
                    "usec" => points.int("redis.cmd.usec", number, &[("cmd", command)]),
                    _ => {}
                }
            }
        } else if let Some(command) = key.strip_prefix("latency_percentiles_usec_") {
            // p50=1.003,p99=1.003,p99.9=1.003, in microseconds; the metric is in seconds.
            for pair in value.split(',') {
                let Some((percentile, usec)) = pair.split_once('=') else { continue };
                let Ok(usec) = usec.parse::<f64>() else { continue };
                if matches!(percentile, "p50" | "p99" | "p99.9") {
                    points.double("redis.cmd.latency", usec / 1e6, &[("cmd", command), ("percentile", percentile)]);
                }
            }
        } else if key == "role" {
            let role = if value == "master" { "primary" } else { "replica" };
            points.int("redis.role", 1, &[("role", role)]);
        }
    }
    let lookup: HashMap<&str, &str> = info.iter().copied().collect();
    for db in 0..MAX_DBS {
        let key = format!("db{db}");
        let Some(value) = lookup.get(key.as_str()) else { continue };
        match parse_keyspace(value) {
            Ok((keys, expires, avg_ttl)) => {
                let db = db.to_string();
                points.int("redis.db.keys", keys, &[("db", db.as_str())]);
                points.int("redis.db.expires", expires, &[("db", db.as_str())]);
                points.int("redis.db.avg_ttl", avg_ttl, &[("db", db.as_str())]);
            }
            Err(e) => problems.push(format!("{key}: {e}")),
        }
    }
    if !problems.is_empty() {
        tracing::debug!(problems = ?problems, "INFO fields left out");
    }
    let mut resource = Vec::new();
    if config.resource_attributes.contains("redis.version") {
        let version = lookup.get("redis_version").copied().unwrap_or("unknown");
        resource.push(scraper::string_attribute("redis.version", version));
    }
    let (address, port) = config.server();
    if config.resource_attributes.contains("server.address") {
        resource.push(scraper::string_attribute("server.address", &address));
    }
    if config.resource_attributes.contains("server.port") {
        resource.push(scraper::string_attribute("server.port", &port));
    }
    scraper::metrics_request(SCOPE_NAME, resource, points.into_metrics(&METRICS, &config.metrics))
}

// ---------------------------------------------------------------------------------------------
// The receiver

pub struct Factory;
crate::component_type!(Factory, "redis", &[crate::pdata::Signal::Metrics], parse);

impl ReceiverFactory for Factory {
    fn build<'a>(
        &'a self,
        host: &'a ReceiverHost,
        id: &'a ComponentId,
        settings: &'a Settings,
        heads: SignalConsumers,
    ) -> BoxFuture<'a, anyhow::Result<Box<dyn Receiver>>> {
        Box::pin(async move {
            let config: &RedisConfig = settings.get();
            let tls = match &config.tls {
                Some(settings) => Some(tls_connector(config, settings).map_err(|e| anyhow::anyhow!("receivers.{id}.tls: {e}"))?),
                None => None,
            };
            Ok(Box::new(RedisReceiver {
                looping: scraper::Loop {
                    id: id.clone(),
                    target: config.endpoint.clone(),
                    intake: host.intake(&heads, crate::receiver::DEFAULT_MAX_REQUEST_BYTES),
                    schedule: config.schedule.clone(),
                },
                scraper: RedisScraper::new(config.clone(), tls),
            }) as Box<dyn Receiver>)
        })
    }
}

/// The TLS connector and the name the server's certificate must carry: `server_name_override`, or
/// the endpoint's host.
fn tls_connector(config: &RedisConfig, settings: &ClientTlsSettings) -> anyhow::Result<Tls> {
    let client = crate::tls::client_config(settings, &[])?;
    let name = match (&settings.server_name_override, &config.address) {
        (Some(name), _) => name.clone(),
        (None, Address::Tcp { host, .. }) if !host.is_empty() => host.clone(),
        _ => "localhost".to_string(),
    };
    let server_name = crate::tls::server_name(&name).ok_or_else(|| anyhow::anyhow!("'{name}' is not a host name or an IP address"))?;
    Ok(Tls {
        connector: tokio_rustls::TlsConnector::from(client),
        server_name,
    })
}

#[derive(Clone)]
struct Tls {
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

struct RedisReceiver {
    looping: scraper::Loop,
    scraper: RedisScraper,
}

impl Receiver for RedisReceiver {
    /// A scraper listens nowhere.
    fn endpoints(&self) -> Vec<Endpoint> {
        Vec::new()
    }

    fn targets(&self) -> Vec<String> {
        vec![self.looping.target.clone()]
    }

    fn start(self: Box<Self>, stop: &Stop) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        let RedisReceiver { looping, scraper: redis } = *self;
        Ok(vec![tokio::spawn(scraper::run(looping, redis, stop.clone()))])
    }
}

struct RedisScraper {
    config: Arc<RedisConfig>,
    tls: Option<Tls>,
    /// Kept between scrapes; dropped when a scrape fails, and opened again by the next.
    connection: Option<Connection>,
    /// The last `uptime_in_seconds`: a smaller one is a restart, which starts the points again.
    uptime: Option<i64>,
    start_ns: u64,
}

impl RedisScraper {
    fn new(config: RedisConfig, tls: Option<Tls>) -> RedisScraper {
        RedisScraper {
            config: Arc::new(config),
            tls,
            connection: None,
            uptime: None,
            start_ns: 0,
        }
    }

    /// Connects (TCP or unix socket, then TLS when configured) and authenticates when a password
    /// is set. Not a method: the future holds only what is `Sync` (a connection is not).
    async fn open(config: &RedisConfig, tls: Option<&Tls>) -> Result<Connection, String> {
        let dial = config.dial_timeout;
        let plain: Box<dyn resp::Io> = match &config.address {
            Address::Tcp { host, port, family } => {
                let dialing = dial_tcp(host, *port, *family);
                let stream = tokio::time::timeout(dial, dialing)
                    .await
                    .map_err(|_| format!("dial tcp {}: no connection within {dial:?}", config.endpoint))??;
                Box::new(stream)
            }
            Address::Unix(path) => {
                let connecting = tokio::net::UnixStream::connect(path);
                let stream = tokio::time::timeout(dial, connecting)
                    .await
                    .map_err(|_| format!("dial unix {}: no connection within {dial:?}", path.display()))?
                    .map_err(|e| format!("dial unix {}: {e}", path.display()))?;
                Box::new(stream)
            }
        };
        let io: Box<dyn resp::Io> = match tls {
            None => plain,
            Some(tls) => {
                let handshake = tls.connector.connect(tls.server_name.clone(), plain);
                let stream = tokio::time::timeout(dial, handshake)
                    .await
                    .map_err(|_| format!("TLS handshake with {}: no answer within {dial:?}", config.endpoint))?
                    .map_err(|e| format!("TLS handshake with {}: {}", config.endpoint, crate::net::error_chain(&e)))?;
                Box::new(stream)
            }
        };
        let mut connection = Connection::new(io, REPLY_TIMEOUT);
        let password = config.password.0.as_bytes();
        if !password.is_empty() {
            let reply = if config.username.is_empty() {
                connection.command(&[b"AUTH", password]).await
            } else {
                connection.command(&[b"AUTH", config.username.as_bytes(), password]).await
            };
            match reply.map_err(|e| format!("AUTH: {e}"))? {
                Reply::Status(ok) if ok == "OK" => {}
                Reply::Error(error) => return Err(format!("AUTH failed: {error}")),
                other => return Err(format!("AUTH: unexpected reply {other:?}")),
            }
        }
        Ok(connection)
    }

    /// The `INFO all` reply's text.
    async fn info(&mut self) -> Result<String, String> {
        // Taken out while in use: a scrape dropped half-way (timeout, stop) leaves no connection
        // with half a reply unread.
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => Self::open(&self.config, self.tls.as_ref()).await?,
        };
        let reply = connection.command(&[b"INFO", b"all"]).await.map_err(|e| format!("INFO: {e}"))?;
        match reply {
            Reply::Bulk(Some(bytes)) => {
                self.connection = Some(connection);
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            }
            // NOAUTH and the like: the connection itself is fine.
            Reply::Error(error) => {
                self.connection = Some(connection);
                Err(format!("INFO failed: {error}"))
            }
            other => Err(format!("INFO: unexpected reply {other:?}")),
        }
    }
}

/// Connects to the first address of `host` (of the family) that accepts, as Go's dialer does.
async fn dial_tcp(host: &str, port: u16, family: Family) -> Result<tokio::net::TcpStream, String> {
    let host = if host.is_empty() { "localhost" } else { host };
    let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("dial tcp {host}:{port}: lookup {host}: {e}"))?
        .filter(|a| match family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        })
        .collect();
    let mut last_error = format!("dial tcp {host}:{port}: no address of the transport's family");
    for address in addresses {
        match tokio::net::TcpStream::connect(address).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last_error = format!("dial tcp {address}: {e}"),
        }
    }
    Err(last_error)
}

impl Scrape for RedisScraper {
    fn scrape(&mut self) -> BoxFuture<'_, Result<ExportMetricsServiceRequest, String>> {
        Box::pin(async move {
            let text = self.info().await?;
            let info = parse_info(&text);
            let now = now_ns();
            let uptime = info
                .iter()
                .find(|(key, _)| *key == "uptime_in_seconds")
                .ok_or("uptime_in_seconds missing from redis info")?
                .1
                .parse::<i64>()
                .map_err(|_| "uptime_in_seconds is not a number".to_string())?;
            if self.uptime.is_none_or(|last| last == 0 || last > uptime) {
                let uptime_ns = u64::try_from(uptime).unwrap_or(0).saturating_mul(1_000_000_000);
                self.start_ns = now.saturating_sub(uptime_ns);
            }
            self.uptime = Some(uptime);
            Ok(metrics_request(&info, &self.config, self.start_ns, now))
        })
    }
}

#[cfg(test)]
mod tests;
