//! Tests of config parsing and validation: the built-in config, a full valid file, and invalid files
//! whose every error is reported with its path.

use super::*;

#[test]
fn the_builtin_config_is_the_default_pipeline_for_all_signals() {
    let config = Config::builtin();
    assert_eq!(config.otlp.grpc, "127.0.0.1:4317".parse().unwrap());
    assert_eq!(config.otlp.http, "127.0.0.1:4318".parse().unwrap());
    assert_eq!(
        config.describe(),
        [
            "traces: otlp -> memory_limiter -> batch -> otelbox",
            "metrics: otlp -> memory_limiter -> batch -> otelbox",
            "logs: otlp -> memory_limiter -> batch -> otelbox",
        ]
    );
    assert_eq!(config.storage.retention, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(config.storage.max_db_size, Some(1 << 30));
    let ProcessorSettings::Batch(batch) = &config.processors[&ComponentId::parse("batch").unwrap()] else {
        panic!()
    };
    assert_eq!(
        (batch.send_batch_size, batch.send_batch_max_size, batch.timeout),
        (8192, 16384, Duration::from_millis(200))
    );
}

#[test]
fn a_full_config_with_names_aliases_auth_and_tls() {
    let config = Config::parse(
        r#"
receivers:
  otlp_grpc:
    protocols:
      grpc: { endpoint: 0.0.0.0:14317, max_recv_msg_size_mib: 8 }
processors:
  memory_limiter: { check_interval: 1s, limit_mib: 300 }
  batch/fast: { timeout: 50ms, send_batch_size: 100 }
exporters:
  otelbox: { retention: 24h, max_db_size: 512MiB }
auth:
  ingest_tokens: [a, b]
  api_tokens: [c]
tls: { cert_file: /etc/otelbox/tls.pem, key_file: /etc/otelbox/tls.key }
service:
  pipelines:
    traces/agents: { receivers: [otlp], processors: [memory_limiter, batch/fast], exporters: [otelbox] }
"#,
    )
    .unwrap();
    assert_eq!(config.otlp.grpc, "0.0.0.0:14317".parse().unwrap());
    assert_eq!(
        config.otlp.http,
        "127.0.0.1:4318".parse().unwrap(),
        "a protocol left out keeps its default endpoint"
    );
    assert_eq!(config.otlp.grpc_max_request_bytes, Some(8 << 20));
    assert_eq!(config.otlp.http_max_request_bytes, None, "each protocol keeps its own limit");
    let ProcessorSettings::MemoryLimiter(limiter) = &config.processors[&ComponentId::parse("memory_limiter").unwrap()] else {
        panic!()
    };
    assert_eq!(
        (limiter.limit_mib, limiter.spike_limit_mib),
        (300, 60),
        "spike defaults to 20% of the limit"
    );
    assert_eq!(
        config.describe(),
        ["traces/agents: otlp -> memory_limiter -> batch/fast -> otelbox"]
    );
    assert_eq!((config.ingest_tokens.len(), config.api_tokens.len()), (2, 1));
    assert_eq!(config.tls.unwrap().key_file, PathBuf::from("/etc/otelbox/tls.key"));
    assert_eq!(config.storage.max_db_size, Some(512 << 20));
}

#[test]
fn every_error_is_reported_with_its_path() {
    let errors = Config::parse(
        r#"
receivers:
  otlp: { protocols: { grpc: { endpoint: "not an address" } } }
  kafka: {}
processors:
  batch: { timeout: fast, send_batch_size: -1 }
  groupbytrace: {}
exporters:
  otelbox: { retention: 7 }
connectors:
  spanmetrics: { metrics_flush_interval: 0s }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [attributes/agent], exporters: [otelbox, spanmetrics] }
    logs: { receivers: [], exporters: [otelbox] }
    events: { receivers: [otlp], exporters: [otelbox] }
"#,
    )
    .unwrap_err()
    .0;
    let expected = [
        "receivers.otlp.protocols.grpc.endpoint: expected host:port with an IP address, got 'not an address'",
        "receivers.kafka: unknown receiver type \"kafka\"",
        "processors.batch.timeout: ",
        "processors.batch.send_batch_size: expected a non-negative integer, got a number",
        "processors.groupbytrace: the processor type \"groupbytrace\" is not supported by this otelbox yet",
        "exporters.otelbox.retention: expected a duration like 200ms or 5s, got a number",
        "connectors.spanmetrics.metrics_flush_interval: must be greater than 0",
        "service.pipelines.traces.processors[0]: references processor \"attributes/agent\" which is not configured",
        "connectors.spanmetrics: is used as an exporter but not as a receiver: a connector must be a receiver in a metrics pipeline too",
        "service.pipelines.logs: must have at least one receiver",
        "service.pipelines.events: pipeline type \"events\" is not traces, metrics or logs",
    ];
    for want in expected {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "missing `{want}` in:\n{}",
            errors.join("\n")
        );
    }
    assert_eq!(errors.len(), expected.len(), "{}", errors.join("\n"));
}

#[test]
fn structure_errors() {
    let errors = Config::parse("receivers: {}\nservice: {}\n").unwrap_err().0;
    assert_eq!(errors, ["service: must have at least one pipeline"]);
    let errors = Config::parse("recievers: {}\nservice: { pipelines: { traces: { receivers: [otlp], exporters: [otelbox] } } }\n")
        .unwrap_err()
        .0;
    assert!(errors[0].starts_with("(top level).recievers: unknown key"), "{errors:?}");
    assert!(errors
        .iter()
        .any(|e| e.contains("references receiver \"otlp\" which is not configured")));
    assert!(Config::parse("a: [").unwrap_err().0[0].starts_with("not valid YAML"));
    let errors = Config::parse("processors:\n  memory_limiter: {}\n").unwrap_err().0;
    assert!(
        errors
            .iter()
            .any(|e| e == "processors.memory_limiter: check_interval is required (e.g. 1s)"),
        "{errors:?}"
    );
}

#[test]
fn load_substitutes_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::env::set_var("OTELBOX_TEST_GRPC_PORT", "24317");
    std::fs::write(
        &path,
        "receivers: { otlp: { protocols: { grpc: { endpoint: \"127.0.0.1:${env:OTELBOX_TEST_GRPC_PORT}\" } } } }\n\
         exporters: { otelbox: { retention: \"${env:OTELBOX_TEST_UNSET:-2d}\" } }\n\
         service: { pipelines: { traces: { receivers: [otlp], exporters: [otelbox] } } }\n",
    )
    .unwrap();
    let config = Config::load(&path).unwrap();
    assert_eq!(config.otlp.grpc, "127.0.0.1:24317".parse().unwrap());
    assert_eq!(config.storage.retention, Some(Duration::from_secs(2 * 86_400)));
}

#[test]
fn empty_tokens_and_overflowing_limits_are_errors() {
    let errors = Config::parse(
        "auth: { api_tokens: [\"\"] }\nreceivers: { otlp: { protocols: { grpc: { max_recv_msg_size_mib: 18446744073709551615 } } } }\n\
         processors: { memory_limiter: { check_interval: 1s, limit_mib: 0 } }\n\
         service: { pipelines: { traces: { receivers: [otlp], exporters: [otlp/upstream] } } }\nexporters: { otlp/upstream: {} }\n",
    )
    .unwrap_err()
    .0;
    for want in [
        "auth.api_tokens[0]: is empty",
        "receivers.otlp.protocols.grpc.max_recv_msg_size_mib: is too large",
        "processors.memory_limiter.limit_mib: must be greater than 0",
        "exporters.otlp/upstream: endpoint is required",
    ] {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "missing `{want}` in:\n{}",
            errors.join("\n")
        );
    }
}
