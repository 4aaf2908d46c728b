//! A config in the shape of the OpenTelemetry demo's collector config (its receivers, processors,
//! connector, pipelines and `${env:...}` references, limited to components otelbox has), run as the
//! demo runs it: with its variables unset, `config validate` names each unset variable behind an
//! error; with them set, the box comes up and the demo's processors do what the demo relies on
//! (semconv span names, redaction of card numbers and e-mails, scope attribute renames), and its
//! scraping receivers report.

mod common;
use std::process::Command;
use std::time::{Duration, Instant};

/// The demo's `otelcol-config.yml` (v2.2) without the two receivers otelbox lacks (docker_stats,
/// postgresql), with the ad service's and valkey's hosts made variables like their ports; the
/// otelbox exporter added beside `debug` so the test can read. Nothing answers for nginx and valkey:
/// their scrapes fail, are counted, and change nothing else.
const DEMO_SHAPED: &str = r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${env:OTEL_COLLECTOR_HOST}:${env:OTEL_COLLECTOR_PORT_GRPC}
      http:
        endpoint: ${env:OTEL_COLLECTOR_HOST}:${env:OTEL_COLLECTOR_PORT_HTTP}
        cors:
          allowed_origins:
            - "http://*"
            - "https://*"
          allowed_headers:
            - "content-type"
            - "traceparent"
            - "baggage"
  http_check/frontend-proxy:
    targets:
      - endpoint: http://${env:FRONTEND_PROXY_ADDR}
  nginx:
    endpoint: http://${env:IMAGE_PROVIDER_HOST}:${env:IMAGE_PROVIDER_PORT}/status
    collection_interval: 10s
  redis:
    endpoint: "${env:VALKEY_ADDR}"
    username: "valkey"
    collection_interval: 10s
  prometheus/ad:
    config:
      scrape_configs:
        - job_name: ad
          scrape_interval: 10s
          static_configs:
            - targets: ["${env:AD_HOST}:${env:AD_PROMETHEUS_PORT}"]
  host_metrics:
    scrapers:
      cpu:
        metrics:
          system.cpu.utilization:
            enabled: true
      disk:
      load:
      filesystem:
        exclude_mount_points:
          mount_points:
            - /dev/*
            - /proc/*
            - /sys/*
          match_type: regexp
        exclude_fs_types:
          fs_types:
            - autofs
            - overlay
            - proc
            - sysfs
          match_type: strict
      memory:
        metrics:
          system.memory.utilization:
            enabled: true
          system.memory.limit:
            enabled: true
      network:
      paging:
        metrics:
          system.paging.utilization:
            enabled: true
      processes:
      process:
        mute_process_exe_error: true
        mute_process_io_error: true
        mute_process_user_error: true
      system:

exporters:
  debug:
  otelbox:

processors:
  memory_limiter:
    check_interval: 5s
    limit_percentage: 80
    spike_limit_percentage: 25
  resource_detection:
    detectors: [env, docker, system]
    system:
      hostname_sources: ["os"]
      resource_attributes:
        host.arch:
          enabled: true
        os.description:
          enabled: true
  filter/sanitize_profiles:
    error_mode: ignore
    profiles:
      profile:
        - 'IsMatch(resource.attributes["service.name"], "containerd-shim-.*")'
  transform/sanitize_logs:
    error_mode: ignore
    log_statements:
      - context: scope
        statements:
          - set(attributes["otelcol_signal"], attributes["otelcol.signal"]) where attributes["otelcol.signal"] != nil and not IsMap(attributes["otelcol.signal"])
          - delete_key(attributes, "otelcol.signal") where attributes["otelcol_signal"] != nil
  gen_ai_normalizer:
    sources:
      - name: openllmetry

  transform/sanitize_spans:
    error_mode: ignore
    trace_statements:
      - context: span
        statements:
          - set_semconv_span_name("1.43.0", "original_span_name")
  transform/redact_sensitive_data:
    error_mode: ignore
    trace_statements:
      - context: span
        statements:
          - delete_key(attributes, "demo.payment.card_cvv") where attributes["demo.payment.card_cvv"] != nil
          - set(attributes["user.hash"], SHA256(attributes["user.email"])) where attributes["user.email"] != nil
          - delete_key(attributes, "user.email") where attributes["user.email"] != nil
          - replace_pattern(attributes["demo.payment.card_number"], "^\\d{4}-\\d{4}-\\d{4}-", "****-****-****-") where attributes["demo.payment.card_number"] != nil

connectors:
  span_metrics:

service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [resource_detection, memory_limiter, transform/sanitize_spans, gen_ai_normalizer, transform/redact_sensitive_data]
      exporters: [debug, otelbox, span_metrics]
    metrics:
      receivers: [http_check/frontend-proxy, host_metrics, nginx, otlp, redis, prometheus/ad, span_metrics]
      processors: [resource_detection, memory_limiter]
      exporters: [debug, otelbox]
    logs:
      receivers: [otlp]
      processors: [resource_detection, memory_limiter, transform/sanitize_logs]
      exporters: [debug, otelbox]
    profiles:
      receivers: [otlp]
      processors: [resource_detection, filter/sanitize_profiles, memory_limiter]
      exporters: [debug]
  telemetry:
    metrics:
      readers:
        - periodic:
            exporter:
              otlp:
                protocol: http/protobuf
                endpoint: http://${env:OTEL_COLLECTOR_HOST}:${env:OTEL_COLLECTOR_PORT_HTTP}
"#;

const VARIABLES: [&str; 9] = [
    "OTEL_COLLECTOR_HOST",
    "OTEL_COLLECTOR_PORT_GRPC",
    "OTEL_COLLECTOR_PORT_HTTP",
    "FRONTEND_PROXY_ADDR",
    "AD_HOST",
    "AD_PROMETHEUS_PORT",
    "IMAGE_PROVIDER_HOST",
    "IMAGE_PROVIDER_PORT",
    "VALKEY_ADDR",
];

fn write_config(name: &str) -> std::path::PathBuf {
    let dir = common::temp_dir(name);
    let file = dir.join("otelcol-config.yml");
    std::fs::write(&file, DEMO_SHAPED).unwrap();
    file
}

fn otelbox() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otelbox"));
    command.env_remove("OTELBOX_CONFIG");
    for name in VARIABLES {
        command.env_remove(name);
    }
    command
}

#[test]
fn with_its_variables_unset_the_errors_name_the_variables() {
    let file = write_config("demo-unset");
    let out = otelbox().args(["config", "validate", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "receivers.otlp.protocols.grpc.endpoint: expected host:port with an IP address or localhost, got ':' (${env:OTEL_COLLECTOR_HOST} and ${env:OTEL_COLLECTOR_PORT_GRPC} are not set)",
        "receivers.otlp.protocols.http.endpoint: expected host:port with an IP address or localhost, got ':' (${env:OTEL_COLLECTOR_HOST} and ${env:OTEL_COLLECTOR_PORT_HTTP} are not set)",
        "(${env:FRONTEND_PROXY_ADDR} is not set)",
    ] {
        assert!(stderr.contains(expected), "missing `{expected}` in:\n{stderr}");
    }
    // Nothing else is wrong with it: every other line is about the unset variables.
    let other: Vec<&str> = stderr
        .lines()
        .skip(1)
        .filter(|l| !l.contains("is not set") && !l.contains("are not set"))
        .collect();
    assert!(other.is_empty(), "only the unset variables are errors: {other:?}");
}

#[test]
fn with_its_variables_set_it_runs_and_its_processors_do_their_jobs() {
    let file = write_config("demo-set");
    let (grpc, http, ui) = (common::free_port(), common::free_port(), common::free_port());
    let log = file.with_file_name("otelbox.log");
    let mut child = otelbox()
        .args(["up", "--memory", "--config", file.to_str().unwrap(), "--ui-port", &ui.to_string()])
        .envs([
            ("OTEL_COLLECTOR_HOST", "127.0.0.1".to_string()),
            ("OTEL_COLLECTOR_PORT_GRPC", grpc.to_string()),
            ("OTEL_COLLECTOR_PORT_HTTP", http.to_string()),
            // The frontend proxy and the ad service's Prometheus endpoint: the box's own UI port.
            ("FRONTEND_PROXY_ADDR", format!("127.0.0.1:{ui}/readyz")),
            ("AD_HOST", "127.0.0.1".to_string()),
            ("AD_PROMETHEUS_PORT", ui.to_string()),
            // Nothing listens on these.
            ("IMAGE_PROVIDER_HOST", "127.0.0.1".to_string()),
            ("IMAGE_PROVIDER_PORT", common::free_port().to_string()),
            ("VALKEY_ADDR", format!("127.0.0.1:{}", common::free_port())),
        ])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let api = format!("http://127.0.0.1:{ui}");
    let logs = || std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !client.get(format!("{api}/readyz")).send().is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "the demo-shaped config came up:\n{}", logs());
        std::thread::sleep(Duration::from_millis(100));
    }

    // A browser's preflight from the frontend's origin is answered (the demo's cors).
    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("http://127.0.0.1:{http}/v1/traces"))
        .header("origin", "http://localhost:8080")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,traceparent")
        .send()
        .unwrap();
    assert!(preflight.status().is_success(), "preflight: {}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "http://localhost:8080");

    // A Next.js server span named by its raw path, with an e-mail and a card number.
    let mut request = common::trace_request("frontend", "demo", 1, 1);
    let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
    span.name = "GET /api/products/OLJCESPC7Z".into();
    span.kind = 2;
    span.attributes = vec![
        common::string_kv("http.request.method", "GET"),
        common::string_kv("http.route", "/api/products/[productId]"),
        common::string_kv("user.email", "ada@example.com"),
        common::string_kv("demo.payment.card_number", "4432-8015-6152-0454"),
        common::string_kv("demo.payment.card_cvv", "672"),
    ];
    let sent = client
        .post(format!("http://127.0.0.1:{http}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(common::encode(&request))
        .send()
        .unwrap();
    assert!(sent.status().is_success(), "{}", sent.status());

    let deadline = Instant::now() + Duration::from_secs(20);
    let span = loop {
        let found: serde_json::Value = client.get(format!("{api}/api/v1/spans?limit=10")).send().unwrap().json().unwrap();
        if let Some(span) = found["spans"].as_array().and_then(|s| s.first()).cloned() {
            break span;
        }
        assert!(Instant::now() < deadline, "the span was stored:\n{}", logs());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(span["name"], "GET /api/products/[productId]", "set_semconv_span_name: {span}");
    let attributes = &span["attributes"];
    assert_eq!(attributes["original_span_name"], "GET /api/products/OLJCESPC7Z");
    assert_eq!(attributes["demo.payment.card_number"], "****-****-****-0454");
    assert!(
        attributes.get("demo.payment.card_cvv").is_none() && attributes.get("user.email").is_none(),
        "{attributes}"
    );
    assert_eq!(
        attributes["user.hash"].as_str().map(str::len),
        Some(64),
        "SHA256 of the e-mail: {attributes}"
    );
    assert!(
        span["resource"].get("host.name").is_some(),
        "resource_detection's system detector: {span}"
    );

    // The scraping receivers report: the frontend proxy's check, the host, the ad service's scrape.
    let deadline = Instant::now() + Duration::from_secs(30);
    let wanted = [
        "httpcheck.status",
        "system.cpu.time",
        "system.memory.usage",
        "system.uptime",
        "process.cpu.time",
        "up",
    ];
    loop {
        let listed: serde_json::Value = client.get(format!("{api}/api/v1/metrics")).send().unwrap().json().unwrap();
        let names: Vec<&str> = listed["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["name"].as_str())
            .collect();
        if wanted.iter().all(|w| names.contains(w)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "metrics from every scraping receiver: have {names:?}\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "a clean stop: {status}\n{}", logs());
}
