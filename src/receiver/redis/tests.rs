//! Tests of the redis receiver: a real `INFO all` reply into the Collector's metrics, the RESP
//! client against a fake server (AUTH, restarts, errors, TLS), config, and the factory's scrape loop.

use super::*;
use crate::pdata::SignalData;
use crate::pipeline::{Consumer, Envelope, PipelineError, SharedConsumer};
use crate::receiver::Admission;
use crate::telemetry::IngestStats;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, AggregationTemporality, Metric, NumberDataPoint};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// `INFO all` of Debian's redis-server 7.0.15 (bookworm) after a few commands, with an ACL user,
/// two databases and one expired key; `os` and `executable` made generic.
const INFO_7_0_15: &str = include_str!("testdata/info-redis-7.0.15.txt");

fn parse_yaml(yaml: &str) -> (RedisConfig, Vec<String>) {
    let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
    let mut errors = Vec::new();
    let config = parse(&mut Parser::collecting(&mut errors), &value, "receivers.redis");
    (config, errors)
}

fn config(yaml: &str) -> RedisConfig {
    let (config, errors) = parse_yaml(yaml);
    assert!(errors.is_empty(), "{yaml}: {errors:?}");
    config
}

#[test]
fn the_demos_section_parses_with_the_collectors_defaults() {
    let config = config("endpoint: \"valkey-cart:6379\"\nusername: \"valkey\"\ncollection_interval: 10s\n");
    assert_eq!(
        config.address,
        Address::Tcp {
            host: "valkey-cart".into(),
            port: 6379,
            family: Family::Any
        },
        "the host is resolved when connecting, not at config load"
    );
    assert_eq!(config.username, "valkey");
    assert_eq!(config.password, Secret(String::new()));
    assert_eq!(config.tls, None, "tls.insecure is true by default: plain TCP");
    assert_eq!(config.schedule.collection_interval, Duration::from_secs(10));
    assert_eq!(config.schedule.initial_delay, Duration::from_secs(1));
    assert_eq!(config.schedule.timeout, None);
    assert_eq!(config.dial_timeout, Duration::from_secs(5));
    assert_eq!(config.metrics.0.len(), 29, "the Collector's default metrics");
    assert!(!config.metrics.contains("redis.cmd.calls") && !config.metrics.contains("redis.role"));
    assert_eq!(config.resource_attributes, Enabled(["redis.version"].into()));
    assert_eq!(config.server(), ("valkey-cart".to_string(), "6379".to_string()));
}

#[test]
fn every_key_is_read() {
    let config = config(
        "endpoint: '[::1]:6380'\ntransport: tcp6\nusername: app\npassword: s3cret\ncollection_interval: 30s\ninitial_delay: 0s\ntimeout: 4s\ndialer: { timeout: 2s }\ntls: { insecure: false, server_name_override: cache.internal }\nmetrics: { redis.cmd.calls: { enabled: true }, redis.uptime: { enabled: false }, redis.mode: { enabled: false } }\nresource_attributes: { server.address: { enabled: true }, redis.version: { enabled: false } }\n",
    );
    assert_eq!(
        config.address,
        Address::Tcp {
            host: "::1".into(),
            port: 6380,
            family: Family::V6
        }
    );
    assert_eq!((config.username.as_str(), config.password.0.as_str()), ("app", "s3cret"));
    assert_eq!(config.schedule.timeout, Some(Duration::from_secs(4)));
    assert_eq!(config.dial_timeout, Duration::from_secs(2));
    let tls = config.tls.as_ref().expect("insecure: false connects with TLS");
    assert_eq!(tls.server_name_override.as_deref(), Some("cache.internal"));
    assert!(config.metrics.contains("redis.cmd.calls") && !config.metrics.contains("redis.uptime"));
    assert_eq!(config.resource_attributes, Enabled(["server.address"].into()));
    assert_eq!(config.server(), ("::1".to_string(), "6380".to_string()));

    let config = self::config("endpoint: /run/redis/redis.sock\ntransport: unix\n");
    assert_eq!(config.address, Address::Unix(PathBuf::from("/run/redis/redis.sock")));
    let config = self::config("endpoint: localhost:6379\ntls: { ca_file: /etc/ssl/ca.pem }\n");
    assert!(
        config.tls.is_some(),
        "a CA file turns TLS on even with insecure left true, as configtls does"
    );
    assert!(
        !format!("{:?}", self::config("endpoint: a:1\npassword: hunter2\n")).contains("hunter2"),
        "the password stays out of debug output"
    );
}

#[test]
fn config_mistakes_are_errors_with_their_path() {
    let cases: &[(&str, &str)] = &[
        ("collection_interval: 10s", "receivers.redis.endpoint: no endpoint specified"),
        ("endpoint: localhost", "receivers.redis.endpoint: expected host:port"),
        ("endpoint: 'localhost:redis'", "receivers.redis.endpoint: expected a port number"),
        ("endpoint: '::1:6379'", "receivers.redis.endpoint: expected host:port"),
        (
            "endpoint: a:1\ntransport: udp",
            "receivers.redis.transport: expected tcp, tcp4, tcp6 or unix",
        ),
        (
            "endpoint: a:1\ncollection_interval: 0s",
            "receivers.redis.collection_interval: must be greater than 0",
        ),
        ("endpoint: a:1\npassword: 42", "receivers.redis.password: expected a string"),
        (
            "endpoint: a:1\ndialer: { keepalive: 1s }",
            "receivers.redis.dialer.keepalive: unknown key",
        ),
        (
            "endpoint: a:1\ntls: { cert_file: /c.pem }",
            "receivers.redis.tls: cert_file and key_file go together",
        ),
        (
            "endpoint: a:1\nmetrics: { redis.cluster.state: { enabled: true } }",
            "receivers.redis.metrics.redis.cluster.state: otelbox does not emit this optional metric yet",
        ),
        (
            "endpoint: a:1\nmetrics: { redis.cpu: { enabled: true } }",
            "receivers.redis.metrics.redis.cpu: unknown metric",
        ),
        (
            "endpoint: a:1\nresource_attributes: { host.name: { enabled: true } }",
            "receivers.redis.resource_attributes.host.name: unknown resource attribute",
        ),
        ("endpoint: a:1\nredis_instance: x", "receivers.redis.redis_instance: unknown key"),
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
    let examples: Value = serde_yaml_ng::from_str(include_str!("../testdata/redis.yaml")).unwrap();
    for (id, section) in examples.as_mapping().unwrap() {
        let mut errors = Vec::new();
        parse(&mut Parser::collecting(&mut errors), section, "receivers.redis");
        assert!(errors.is_empty(), "{id:?}: {errors:?}");
    }
}

#[test]
fn the_metric_table_is_in_name_order_and_covers_every_field() {
    let names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "the Collector's builder emits metrics in name order");
    for (field, metric, _, _) in FIELDS.iter() {
        assert!(names.contains(metric), "{field}: {metric} is defined");
    }
}

#[test]
fn info_lines_are_read_as_the_collector_reads_them() {
    let info = parse_info(INFO_7_0_15);
    assert!(info.contains(&("redis_version", "7.0.15")));
    assert!(info.contains(&("db0", "keys=3,expires=1,avg_ttl=946724")));
    assert!(info.iter().all(|(key, _)| !key.starts_with('#')), "section headers are skipped");
    // The wire form (CRLF) reads the same as the file.
    assert_eq!(parse_info(&INFO_7_0_15.replace('\n', "\r\n")), info);
    // A value with a colon in it is skipped, as the Collector's split does.
    assert_eq!(
        parse_info("# Server\r\nlistener0:name=tcp,bind=-::*,port=6379\r\nrole:master\r\n"),
        [("role", "master")]
    );
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

fn value(point: &NumberDataPoint) -> f64 {
    match point.value {
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        Some(number_data_point::Value::AsDouble(v)) => v,
        None => f64::NAN,
    }
}

fn attribute<'p>(point: &'p NumberDataPoint, key: &str) -> Option<&'p str> {
    match point.attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.as_str()),
        _ => None,
    }
}

/// The value of the one point of `name` whose attributes include all of `with`.
fn value_of(request: &ExportMetricsServiceRequest, name: &str, with: &[(&str, &str)]) -> f64 {
    let metric = find(request, name).unwrap_or_else(|| panic!("no metric {name}"));
    let matching: Vec<&NumberDataPoint> = points(metric)
        .iter()
        .filter(|p| with.iter().all(|(k, v)| attribute(p, k) == Some(*v)))
        .collect();
    assert_eq!(matching.len(), 1, "{name} {with:?}: expected one point");
    value(matching[0])
}

fn resource(request: &ExportMetricsServiceRequest) -> &[KeyValue] {
    &request.resource_metrics[0].resource.as_ref().unwrap().attributes
}

#[test]
fn a_real_info_reply_gives_the_collectors_default_metrics() {
    let config = config("endpoint: 127.0.0.1:16380\n");
    let info = parse_info(INFO_7_0_15);
    let request = metrics_request(&info, &config, 100, 200);
    let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
    assert_eq!(metrics.len(), 29, "every default metric has a point in a 7.0 server's INFO");
    assert_eq!(request.item_count(), 37, "25 single points, 6 cpu states, 2 databases of 3");
    let scope = request.resource_metrics[0].scope_metrics[0].scope.as_ref().unwrap();
    assert_eq!(scope.name, SCOPE_NAME);
    assert_eq!(resource(&request), [scraper::string_attribute("redis.version", "7.0.15")]);

    for (name, expected) in [
        ("redis.clients.connected", 1.0),
        ("redis.clients.blocked", 0.0),
        ("redis.commands.processed", 39.0),
        ("redis.connections.received", 19.0),
        ("redis.keys.expired", 1.0),
        ("redis.keyspace.hits", 6.0),
        ("redis.keyspace.misses", 1.0),
        ("redis.memory.used", 1141688.0),
        ("redis.memory.rss", 12296192.0),
        ("redis.memory.lua", 32768.0),
        ("redis.memory.fragmentation_ratio", 11.16),
        ("redis.net.input", 1232.0),
        ("redis.net.output", 22387.0),
        ("redis.rdb.changes_since_last_save", 7.0),
        ("redis.uptime", 16.0),
    ] {
        assert_eq!(value_of(&request, name, &[]), expected, "{name}");
    }
    // Types and units of metadata.yaml.
    let shape = |name: &str| match &find(&request, name).unwrap().data {
        Some(metric::Data::Sum(sum)) => {
            assert_eq!(sum.aggregation_temporality, AggregationTemporality::Cumulative as i32);
            if sum.is_monotonic {
                "counter"
            } else {
                "updown"
            }
        }
        Some(metric::Data::Gauge(_)) => "gauge",
        other => panic!("{other:?}"),
    };
    assert_eq!(shape("redis.clients.connected"), "updown");
    assert_eq!(shape("redis.commands.processed"), "counter");
    assert_eq!(shape("redis.memory.used"), "gauge");
    assert_eq!(shape("redis.db.keys"), "gauge");
    assert_eq!(find(&request, "redis.clients.connected").unwrap().unit, "{client}");
    assert_eq!(find(&request, "redis.memory.used").unwrap().unit, "By");
    assert_eq!(find(&request, "redis.db.avg_ttl").unwrap().unit, "ms");
    assert_eq!(find(&request, "redis.commands").unwrap().unit, "{ops}/s");
    let fragmentation = &points(find(&request, "redis.memory.fragmentation_ratio").unwrap())[0];
    assert!(matches!(fragmentation.value, Some(number_data_point::Value::AsDouble(_))));

    // CPU time by state, doubles, in the INFO's order.
    let cpu = points(find(&request, "redis.cpu.time").unwrap());
    let states: Vec<(&str, f64)> = cpu.iter().map(|p| (attribute(p, "state").unwrap(), value(p))).collect();
    assert_eq!(
        states,
        [
            ("sys", 0.018075),
            ("user", 0.011611),
            ("sys_children", 0.0),
            ("user_children", 0.0),
            ("sys_main_thread", 0.018077),
            ("user_main_thread", 0.011511)
        ]
    );
    // The keyspace by database number.
    assert_eq!(value_of(&request, "redis.db.keys", &[("db", "0")]), 3.0);
    assert_eq!(value_of(&request, "redis.db.expires", &[("db", "0")]), 1.0);
    assert_eq!(value_of(&request, "redis.db.avg_ttl", &[("db", "0")]), 946724.0);
    assert_eq!(value_of(&request, "redis.db.keys", &[("db", "3")]), 1.0);
    // Every point starts when the builder's start time says and is stamped now.
    for metric in metrics {
        for point in points(metric) {
            assert_eq!((point.start_time_unix_nano, point.time_unix_nano), (100, 200), "{}", metric.name);
        }
    }
}

#[test]
fn the_optional_metrics_and_resource_attributes_come_when_enabled() {
    let config = config(
        "endpoint: '127.0.0.1:16380'\nmetrics:\n  redis.cmd.calls: { enabled: true }\n  redis.cmd.usec: { enabled: true }\n  redis.cmd.latency: { enabled: true }\n  redis.role: { enabled: true }\n  redis.maxmemory: { enabled: true }\n  redis.replication.replica_offset: { enabled: true }\n  redis.keyspace.hits: { enabled: false }\nresource_attributes:\n  server.address: { enabled: true }\n  server.port: { enabled: true }\n",
    );
    let request = metrics_request(&parse_info(INFO_7_0_15), &config, 1, 2);
    assert!(find(&request, "redis.keyspace.hits").is_none(), "turned off");
    assert_eq!(value_of(&request, "redis.cmd.calls", &[("cmd", "get")]), 7.0);
    assert_eq!(value_of(&request, "redis.cmd.usec", &[("cmd", "info")]), 377.0);
    assert_eq!(
        points(find(&request, "redis.cmd.calls").unwrap()).len(),
        9,
        "one per command in Commandstats"
    );
    let latency = value_of(&request, "redis.cmd.latency", &[("cmd", "get"), ("percentile", "p99.9")]);
    assert!((latency - 3.007e-6).abs() < 1e-12, "microseconds become seconds: {latency}");
    assert_eq!(points(find(&request, "redis.cmd.latency").unwrap()).len(), 27);
    assert_eq!(value_of(&request, "redis.role", &[("role", "primary")]), 1.0);
    assert_eq!(value_of(&request, "redis.maxmemory", &[]), 0.0);
    assert!(
        find(&request, "redis.replication.replica_offset").is_none(),
        "a primary has no slave_repl_offset"
    );
    assert_eq!(
        resource(&request),
        [
            scraper::string_attribute("redis.version", "7.0.15"),
            scraper::string_attribute("server.address", "127.0.0.1"),
            scraper::string_attribute("server.port", "16380"),
        ]
    );
    let replica = metrics_request(&parse_info("role:slave\r\nslave_repl_offset:42\r\n"), &config, 1, 2);
    assert_eq!(value_of(&replica, "redis.role", &[("role", "replica")]), 1.0);
    assert_eq!(value_of(&replica, "redis.replication.replica_offset", &[]), 42.0);
    assert_eq!(
        resource(&replica)[0],
        scraper::string_attribute("redis.version", "unknown"),
        "no redis_version"
    );
}

#[test]
fn malformed_fields_are_left_out_and_the_rest_kept() {
    let config = config("endpoint: a:1\n");
    let request = metrics_request(
        &parse_info("connected_clients:many\r\nused_memory:100\r\ndb0:keys=x,expires=0,avg_ttl=0\r\ndb1:keys=2,expires=0,avg_ttl=0\r\n"),
        &config,
        1,
        2,
    );
    assert!(find(&request, "redis.clients.connected").is_none());
    assert_eq!(value_of(&request, "redis.memory.used", &[]), 100.0);
    assert_eq!(points(find(&request, "redis.db.keys").unwrap()).len(), 1, "db0 is left out");
    assert_eq!(value_of(&request, "redis.db.keys", &[("db", "1")]), 2.0);
}

// ---------------------------------------------------------------------------------------------
// Against a RESP stand-in

/// What a stand-in server saw: the commands of each connection.
#[derive(Clone, Default)]
struct Seen {
    connections: Arc<AtomicUsize>,
    commands: Arc<Mutex<Vec<Vec<String>>>>,
}

/// Serves one connection: `AUTH` gets `auth_reply`, `INFO` the next of `infos` (the last again
/// when they run out), anything else an error.
async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: S,
    auth_reply: &str,
    infos: &[String],
    seen: Seen,
    served: &AtomicUsize,
) {
    let mut stream = tokio::io::BufStream::new(stream);
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let count: usize = line.trim_end().trim_start_matches('*').parse().unwrap();
        let mut args = Vec::new();
        for _ in 0..count {
            let mut length = String::new();
            stream.read_line(&mut length).await.unwrap();
            let length: usize = length.trim_end().trim_start_matches('$').parse().unwrap();
            let mut data = vec![0u8; length + 2];
            stream.read_exact(&mut data).await.unwrap();
            args.push(String::from_utf8_lossy(&data[..length]).into_owned());
        }
        seen.commands.lock().unwrap().push(args.clone());
        let reply = match args[0].to_ascii_uppercase().as_str() {
            "AUTH" => auth_reply.to_string(),
            "INFO" => {
                let n = served.fetch_add(1, Ordering::SeqCst);
                let info = infos[n.min(infos.len() - 1)].replace('\n', "\r\n");
                format!("${}\r\n{info}\r\n", info.len())
            }
            other => format!("-ERR unknown command '{other}'\r\n"),
        };
        stream.write_all(reply.as_bytes()).await.unwrap();
        stream.flush().await.unwrap();
    }
}

/// A RESP stand-in on a free port, plain or with TLS.
async fn stand_in(
    auth_reply: &'static str,
    infos: Vec<String>,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
) -> (SocketAddr, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Seen::default();
    let served = Arc::new(AtomicUsize::new(0));
    let infos = Arc::new(infos);
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let watching = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            watching.connections.fetch_add(1, Ordering::SeqCst);
            let (seen, served, infos, acceptor) = (watching.clone(), served.clone(), infos.clone(), acceptor.clone());
            tokio::spawn(async move {
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            serve(stream, auth_reply, &infos, seen, &served).await;
                        }
                    }
                    None => serve(tcp, auth_reply, &infos, seen, &served).await,
                }
            });
        }
    });
    (address, seen)
}

fn scraper_for(yaml: &str) -> RedisScraper {
    let config = config(yaml);
    let tls = config.tls.as_ref().map(|settings| tls_connector(&config, settings).unwrap());
    RedisScraper::new(config, tls)
}

#[tokio::test]
async fn scrapes_authenticate_once_and_reuse_the_connection() {
    let (address, seen) = stand_in("+OK\r\n", vec![INFO_7_0_15.to_string()], None).await;
    let mut scraper = scraper_for(&format!("endpoint: {address}\nusername: valkey\npassword: s3cret\n"));
    let before = now_ns();
    let first = scraper.scrape().await.unwrap();
    let second = scraper.scrape().await.unwrap();
    assert_eq!(first.item_count(), 37);
    assert_eq!(second.item_count(), 37);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1, "one connection for both scrapes");
    let commands = seen.commands.lock().unwrap().clone();
    assert_eq!(
        commands,
        [
            vec!["AUTH".to_string(), "valkey".into(), "s3cret".into()],
            vec!["INFO".to_string(), "all".into()],
            vec!["INFO".to_string(), "all".into()],
        ]
    );
    // Points start when the server did: 16 s of uptime before the scrape.
    let start = points(find(&first, "redis.uptime").unwrap())[0].start_time_unix_nano;
    assert!(
        start <= before - 15_000_000_000 && start >= before - 17_000_000_000,
        "start {start}, scrape at {before}"
    );
}

#[tokio::test]
async fn a_username_alone_sends_no_auth_and_a_password_alone_the_one_argument_form() {
    let (address, seen) = stand_in("+OK\r\n", vec![INFO_7_0_15.to_string()], None).await;
    scraper_for(&format!("endpoint: {address}\nusername: valkey\n"))
        .scrape()
        .await
        .unwrap();
    scraper_for(&format!("endpoint: {address}\npassword: s3cret\n"))
        .scrape()
        .await
        .unwrap();
    let commands = seen.commands.lock().unwrap().clone();
    assert_eq!(
        commands,
        [
            vec!["INFO".to_string(), "all".into()],
            vec!["AUTH".to_string(), "s3cret".into()],
            vec!["INFO".to_string(), "all".into()],
        ]
    );
}

#[tokio::test]
async fn a_restart_starts_the_points_again() {
    let info = |uptime: u64| INFO_7_0_15.replace("uptime_in_seconds:16", &format!("uptime_in_seconds:{uptime}"));
    let (address, _) = stand_in("+OK\r\n", vec![info(1000), info(1010), info(5)], None).await;
    let mut scraper = scraper_for(&format!("endpoint: {address}\n"));
    let start = |request: &ExportMetricsServiceRequest| points(find(request, "redis.uptime").unwrap())[0].start_time_unix_nano;
    let first = start(&scraper.scrape().await.unwrap());
    let second = start(&scraper.scrape().await.unwrap());
    assert_eq!(first, second, "the same run of the server keeps its start");
    let after_restart = start(&scraper.scrape().await.unwrap());
    assert!(after_restart > first + 900_000_000_000, "a smaller uptime is a restart");
}

#[tokio::test]
async fn failures_say_why() {
    let (address, _) = stand_in(
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        vec![INFO_7_0_15.to_string()],
        None,
    )
    .await;
    let error = scraper_for(&format!("endpoint: {address}\nusername: valkey\npassword: wrong\n"))
        .scrape()
        .await
        .unwrap_err();
    assert_eq!(error, "AUTH failed: WRONGPASS invalid username-password pair or user is disabled.");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let error = scraper_for(&format!("endpoint: {closed}\n")).scrape().await.unwrap_err();
    assert!(error.starts_with(&format!("dial tcp {closed}: ")), "{error}");

    let (address, _) = stand_in("+OK\r\n", vec!["# Server\nredis_version:7.0.15\n".to_string()], None).await;
    let error = scraper_for(&format!("endpoint: {address}\n")).scrape().await.unwrap_err();
    assert_eq!(error, "uptime_in_seconds missing from redis info");

    // Something that is not a RESP server: an HTTP one.
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_address = http.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((mut socket, _)) = http.accept().await {
            let mut request = [0u8; 64];
            let _ = socket.read(&mut request).await;
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    let error = scraper_for(&format!("endpoint: {http_address}\n")).scrape().await.unwrap_err();
    assert!(error.starts_with("INFO: expected a RESP reply"), "{error}");
}

#[tokio::test]
async fn tls_connects_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("openssl")
        .args([
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
            "/CN=redis",
        ])
        .current_dir(dir.path())
        .output()
        .expect("the openssl command");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let files = crate::tls::TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
        client_ca: None,
    };
    let server = crate::tls::server_config(&files, false, &[]).unwrap();
    let (address, seen) = stand_in("+OK\r\n", vec![INFO_7_0_15.to_string()], Some(server)).await;
    let mut scraper = scraper_for(&format!(
        "endpoint: {address}\npassword: s3cret\ntls: {{ insecure: false, insecure_skip_verify: true }}\n"
    ));
    let request = scraper.scrape().await.unwrap();
    assert_eq!(value_of(&request, "redis.uptime", &[]), 16.0);
    assert_eq!(seen.commands.lock().unwrap()[0], ["AUTH", "s3cret"], "AUTH went over TLS");
    // Plain TCP to a TLS port gets no RESP answer.
    let error = scraper_for(&format!("endpoint: {address}\n")).scrape().await.unwrap_err();
    assert!(error.starts_with("INFO: "), "{error}");
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

/// Runs the receiver built by its factory until `done` says so (or 10 s), then stops it.
async fn run_receiver(endpoint: &str, done: impl Fn(&IngestStats, usize) -> bool) -> (Arc<IngestStats>, Vec<ExportMetricsServiceRequest>) {
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
    let config = config(&format!("endpoint: {endpoint}\ncollection_interval: 50ms\ninitial_delay: 0s\n"));
    let id = ComponentId::parse("redis").unwrap();
    let receiver = Factory.build(&host, &id, &Settings::new(config), heads).await.unwrap();
    assert!(receiver.endpoints().is_empty(), "a scraper listens nowhere");
    let (stop, stopped) = Stop::new();
    let tasks = receiver.start(&stopped).unwrap();
    let mut requests = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(stats.as_ref(), requests.len()) && tokio::time::Instant::now() < deadline {
        if let Ok(Some(request)) = tokio::time::timeout(Duration::from_millis(20), received.recv()).await {
            requests.push(request);
        }
    }
    let _ = stop.send(true);
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("stops promptly")
            .unwrap();
    }
    (stats, requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scrape_goes_through_the_metrics_pipeline_and_stop_is_prompt() {
    let (address, _) = stand_in("+OK\r\n", vec![INFO_7_0_15.to_string()], None).await;
    let (stats, requests) = run_receiver(&address.to_string(), |_, received| received >= 2).await;
    assert!(requests.len() >= 2, "two scrapes within 10 s");
    for request in &requests {
        assert_eq!(request.resource_metrics.len(), 1, "one resource per scrape");
        assert!(find(request, "redis.memory.used").is_some());
    }
    assert!(stats.metrics.requests.load(Ordering::Relaxed) >= 2);
    assert_eq!(stats.metrics.scrape_errors.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_does_not_answer_is_counted_and_sends_nothing() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (stats, requests) = run_receiver(&closed.to_string(), |stats, _| {
        stats.metrics.scrape_errors.load(Ordering::Relaxed) >= 2
    })
    .await;
    assert!(
        stats.metrics.scrape_errors.load(Ordering::Relaxed) >= 2,
        "each failed scrape is counted"
    );
    assert!(requests.is_empty(), "nothing is sent for a failed scrape");
    assert_eq!(stats.metrics.requests.load(Ordering::Relaxed), 0);
}
