//! Config validation through the registry (the built-in config, a full valid file, invalid files
//! whose every error is reported with its path, extension references), and the topology built
//! from it.

use crate::components::parse_config;
use crate::config::{ComponentId, Config, Kind};
use crate::exporter::storage::StorageSettings;
use crate::processor::batch::BatchConfig;
use crate::processor::memory_limiter::MemoryLimiterConfig;
use crate::receiver::otlp::OtlpReceiverConfig;
use std::path::PathBuf;
use std::time::Duration;

fn id(text: &str) -> ComponentId {
    ComponentId::parse(text).unwrap()
}

fn otlp(config: &Config, name: &str) -> OtlpReceiverConfig {
    config
        .component(Kind::Receiver, &id(name))
        .unwrap()
        .settings
        .get::<OtlpReceiverConfig>()
        .clone()
}

fn storage(config: &Config) -> StorageSettings {
    config.settings_of::<StorageSettings>(Kind::Exporter, "otelbox")[0].1.clone()
}

fn memory_store() -> std::sync::Arc<crate::store::Store> {
    crate::store::Store::open(crate::store::StoreConfig {
        location: crate::store::Location::Memory,
        retention: Default::default(),
        durable_sync: false,
    })
    .unwrap()
}

fn errors_of(yaml: &str) -> Vec<String> {
    parse_config(yaml).map(|_| ()).unwrap_err().0
}

fn assert_has_all(errors: &[String], expected: &[&str]) {
    for want in expected {
        assert!(
            errors.iter().any(|e| e.starts_with(want)),
            "missing `{want}` in:\n{}",
            errors.join("\n")
        );
    }
}

#[test]
fn the_builtin_config_is_the_default_pipeline_for_all_signals() {
    let config = Config::builtin(&crate::components::REGISTRY);
    let otlp = otlp(&config, "otlp");
    assert_eq!(otlp.grpc.unwrap().endpoint, "127.0.0.1:4317".parse().unwrap());
    assert_eq!(otlp.http.unwrap().endpoint, "127.0.0.1:4318".parse().unwrap());
    assert_eq!(
        config.describe(),
        [
            "traces: otlp -> memory_limiter -> batch -> otelbox",
            "metrics: otlp -> memory_limiter -> batch -> otelbox",
            "logs: otlp -> memory_limiter -> batch -> otelbox",
        ]
    );
    assert_eq!(storage(&config).retention, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(storage(&config).max_db_size, Some(1 << 30));
    let (_, batch) = config.settings_of::<BatchConfig>(Kind::Processor, "batch")[0];
    assert_eq!(
        (batch.send_batch_size, batch.send_batch_max_size, batch.timeout),
        (8192, 16384, Duration::from_millis(200))
    );
}

#[test]
fn a_full_config_with_names_aliases_auth_and_tls() {
    let config = parse_config(
        r#"
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 0.0.0.0:14317, max_recv_msg_size_mib: 8 }
processors:
  memory_limiter: { check_interval: 1s, limit_mib: 300 }
  batch/fast: { timeout: 50ms, send_batch_size: 100 }
exporters:
  otelbox: { retention: 24h, max_db_size: 512MiB }
  otlp_http/upstream: { endpoint: "http://127.0.0.1:4318" }
auth:
  ingest_tokens: [a, b]
  api_tokens: [c]
tls: { cert_file: /etc/otelbox/tls.pem, key_file: /etc/otelbox/tls.key }
service:
  pipelines:
    traces/agents: { receivers: [otlp], processors: [memory_limiter, batch/fast], exporters: [otelbox, otlp_http/upstream] }
"#,
    )
    .unwrap();
    let otlp = otlp(&config, "otlp");
    let grpc = otlp.grpc.unwrap();
    assert_eq!(grpc.endpoint, "0.0.0.0:14317".parse().unwrap());
    assert_eq!(grpc.max_request_bytes, Some(8 << 20));
    assert_eq!(otlp.http, None, "a protocol left out does not listen, as in the Collector");
    let (_, limiter) = config.settings_of::<MemoryLimiterConfig>(Kind::Processor, "memory_limiter")[0];
    assert_eq!(
        (limiter.limit_mib, limiter.spike_limit_mib),
        (300, 60),
        "spike defaults to 20% of the limit"
    );
    assert_eq!(
        config.describe(),
        ["traces/agents: otlp -> memory_limiter -> batch/fast -> otelbox, otlphttp/upstream"],
        "the exporter alias otlp_http is the otlphttp type"
    );
    assert_eq!((config.ingest_tokens.len(), config.api_tokens.len()), (2, 1));
    assert_eq!(config.tls.clone().unwrap().key_file, PathBuf::from("/etc/otelbox/tls.key"));
    assert_eq!(storage(&config).max_db_size, Some(512 << 20));
}

#[test]
fn several_instances_of_one_receiver_type_and_collector_endpoint_forms() {
    let config = parse_config(
        r#"
receivers:
  otlp: { protocols: { grpc: { endpoint: "localhost:4317" } } }
  otlp/edge: { protocols: { http: { endpoint: ":14318" } } }
exporters:
  otelbox: {}
service:
  pipelines:
    traces: { receivers: [otlp, otlp/edge], exporters: [otelbox] }
"#,
    )
    .unwrap();
    assert_eq!(otlp(&config, "otlp").grpc.unwrap().endpoint, "127.0.0.1:4317".parse().unwrap());
    assert_eq!(otlp(&config, "otlp/edge").http.unwrap().endpoint, "0.0.0.0:14318".parse().unwrap());
    assert_eq!(config.used(Kind::Receiver).len(), 2);
}

#[test]
fn every_error_is_reported_with_its_path() {
    let errors = errors_of(
        r#"
receivers:
  otlp: { protocols: { grpc: { endpoint: "not an address" } } }
  kafka: {}
  zipkin: {}
processors:
  batch: { timeout: fast, send_batch_size: -1 }
  groupbytrace: {}
  nonsense: {}
exporters:
  otelbox: { retention: 7 }
  logging: {}
connectors:
  spanmetrics: { metrics_flush_interval: 0s }
service:
  pipelines:
    traces: { receivers: [otlp, kafka], processors: [attributes/agent, groupbytrace], exporters: [otelbox, spanmetrics, logging] }
    metrics: { receivers: [zipkin], processors: [nonsense], exporters: [otelbox] }
    logs: { receivers: [], exporters: [otelbox] }
    events: { receivers: [otlp], exporters: [otelbox] }
"#,
    );
    let expected = [
        "receivers.otlp.protocols.grpc.endpoint: expected host:port with an IP address or localhost, got 'not an address'",
        "receivers.kafka: the receiver type \"kafka\" is not supported by this otelbox yet (it has: otlp, zipkin, jaeger, nop, nginx, redis, hostmetrics, filelog, httpcheck, prometheus)",
        "processors.batch.timeout: ",
        "processors.batch.send_batch_size: expected a non-negative integer, got a number",
        "processors.groupbytrace: the processor type \"groupbytrace\" is not supported by this otelbox yet",
        "processors.nonsense: unknown processor type \"nonsense\" (otelbox has: attributes, batch, cumulativetodelta, filter,",
        "exporters.otelbox.retention: expected a duration like 200ms or 5s, got a number",
        "exporters.logging: the exporter type \"logging\" was renamed \"debug\" by the Collector",
        "connectors.spanmetrics.metrics_flush_interval: must be greater than 0",
        "service.pipelines.traces.processors[0]: references processor \"attributes/agent\" which is not configured",
        "service.pipelines.metrics.receivers[0]: receiver \"zipkin\" does not handle metrics: it receives only traces",
        "connectors.spanmetrics: is used as an exporter but not as a receiver",
        "service.pipelines.logs: must have at least one receiver",
        "service.pipelines.events: pipeline type \"events\" is not traces, metrics, logs or profiles",
    ];
    assert_has_all(&errors, &expected);
    assert_eq!(
        errors.len(),
        expected.len(),
        "a configured component of a type otelbox lacks gets one error, not one per pipeline using it:\n{}",
        errors.join("\n")
    );
}

/// The Collector's common contrib components, in every section, are named as known types otelbox lacks
/// (one line each, with what otelbox has), never as unknown: a Collector user sees at once what to change.
#[test]
fn collector_contrib_types_otelbox_lacks_are_named_as_such_in_every_section() {
    let errors = errors_of(
        r#"
receivers:
  otlp: { protocols: { http: {} } }
  syslog: {}
processors:
  k8sattributes: {}
exporters:
  loki: {}
  otelbox: {}
connectors:
  exceptions: {}
extensions:
  sigv4auth: {}
service:
  extensions: [sigv4auth]
  pipelines:
    traces: { receivers: [otlp], processors: [k8sattributes], exporters: [loki, otelbox, exceptions] }
    metrics: { receivers: [exceptions], exporters: [otelbox] }
    logs: { receivers: [syslog], exporters: [otelbox] }
"#,
    );
    for (section, kind, name) in [
        ("receivers", "receiver", "syslog"),
        ("processors", "processor", "k8sattributes"),
        ("exporters", "exporter", "loki"),
        ("connectors", "connector", "exceptions"),
        ("extensions", "extension", "sigv4auth"),
    ] {
        let line = format!("{section}.{name}: the {kind} type \"{name}\" is not supported by this otelbox yet (it has: ");
        assert!(errors.iter().any(|e| e.starts_with(&line)), "{line}\n{}", errors.join("\n"));
    }
    assert_eq!(errors.len(), 5, "one line per component, none per use:\n{}", errors.join("\n"));
}

#[test]
fn structure_errors() {
    assert_eq!(
        errors_of("receivers: {}\nservice: {}\n"),
        ["service: must have at least one pipeline"]
    );
    let errors = errors_of("recievers: {}\nservice: { pipelines: { traces: { receivers: [otlp], exporters: [otelbox] } } }\n");
    assert!(errors[0].starts_with("(top level).recievers: unknown key"), "{errors:?}");
    assert!(errors
        .iter()
        .any(|e| e.contains("references receiver \"otlp\" which is not configured")));
    assert!(errors_of("a: [")[0].starts_with("not valid YAML"));
    let errors = errors_of("processors:\n  memory_limiter: {}\n");
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
    let config = Config::load(&path, &crate::components::REGISTRY).unwrap();
    assert_eq!(otlp(&config, "otlp").grpc.unwrap().endpoint, "127.0.0.1:24317".parse().unwrap());
    assert_eq!(storage(&config).retention, Some(Duration::from_secs(2 * 86_400)));
}

#[test]
fn empty_tokens_and_overflowing_limits_are_errors() {
    let errors = errors_of(
        "auth: { api_tokens: [\"\"] }\nreceivers: { otlp: { protocols: { grpc: { max_recv_msg_size_mib: 18446744073709551615 } } } }\n\
         processors: { memory_limiter: { check_interval: 1s, limit_mib: 0 } }\n\
         service: { pipelines: { traces: { receivers: [otlp], exporters: [otlp/upstream] } } }\nexporters: { otlp/upstream: {} }\n",
    );
    assert_has_all(
        &errors,
        &[
            "auth.api_tokens[0]: is empty",
            "receivers.otlp.protocols.grpc.max_recv_msg_size_mib: is too large",
            "processors.memory_limiter.limit_mib: must be greater than 0",
            "exporters.otlp/upstream: endpoint is required",
        ],
    );
}

/// An authenticator a receiver names but that does not run would leave the receiver open: every
/// way of getting that wrong is an error with its path.
#[test]
fn an_authenticator_must_be_configured_and_enabled() {
    let config = |extensions: &str, enabled: &str| {
        format!(
            "extensions:\n{extensions}\nreceivers:\n  otlp: {{ protocols: {{ http: {{ auth: {{ authenticator: bearertokenauth }} }} }} }}\n\
             exporters: {{ otelbox: {{}} }}\nservice:\n  extensions: [{enabled}]\n  pipelines:\n    traces: {{ receivers: [otlp], exporters: [otelbox] }}\n"
        )
    };
    assert_has_all(
        &errors_of(&config("  health_check: {}", "health_check")),
        &["receivers.otlp.protocols.http.auth.authenticator: refers to extension \"bearertokenauth\" which is not configured"],
    );
    assert_has_all(
        &errors_of(&config("  bearertokenauth: { token: s3cret }", "")),
        &["receivers.otlp.protocols.http.auth.authenticator: refers to extension \"bearertokenauth\", which service.extensions does not enable"],
    );
    assert_has_all(
        &errors_of(&config("  bearertokenauth: { token: s3cret }", "bearertokenauth, pprof")),
        &["service.extensions[1]: references extension \"pprof\" which is not configured"],
    );
    assert_has_all(
        &errors_of(&config("  bearertokenauth: {}", "bearertokenauth")),
        &["extensions.bearertokenauth: needs token, tokens or filename"],
    );
    let valid = parse_config(&config(
        "  bearertokenauth: { token: s3cret }\n  health_check:",
        "health_check, bearertokenauth",
    ))
    .unwrap();
    assert_eq!(
        valid.extensions,
        [id("health_check"), id("bearertokenauth")],
        "in service.extensions order"
    );
}

/// An exporter naming a `file_storage` extension in `sending_queue.storage` keeps its persistent
/// queue in the extension's directory, not in the box's data directory; the extension's `fsync`
/// reaches the service (the queue's own test checks what it then syncs).
#[tokio::test]
async fn a_sending_queue_lives_in_the_storage_extension_it_names() {
    let data_dir = tempfile::tempdir().unwrap();
    let storage_dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "extensions:\n  file_storage/queues: {{ directory: '{}', fsync: true }}\n\
         receivers:\n  otlp: {{ protocols: {{ http: {{ endpoint: 127.0.0.1:0 }} }} }}\n\
         exporters:\n  otlp/upstream: {{ endpoint: 127.0.0.1:1, tls: {{ insecure: true }}, sending_queue: {{ storage: file_storage/queues }} }}\n\
         service:\n  extensions: [file_storage/queues]\n  pipelines:\n    traces: {{ receivers: [otlp], exporters: [otlp/upstream] }}\n",
        storage_dir.path().display()
    );
    let config = parse_config(&yaml).unwrap_or_else(|e| panic!("{e}"));
    let extensions = super::start_extensions(&config).await.unwrap();
    assert!(extensions.storage(&id("file_storage/queues")).is_some_and(|storage| storage.fsync));
    assert!(extensions.storage(&id("otlp")).is_none(), "not a storage extension");
    let store = memory_store();
    let components = crate::telemetry::Components::default();
    let topology = super::Topology::build(
        &config,
        &super::Resources {
            store: &store,
            data_dir: Some(data_dir.path().to_path_buf()),
            components: &components,
            extensions: &extensions,
        },
    )
    .unwrap();
    let files = |dir: &std::path::Path| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    assert!(files(storage_dir.path()) > 0, "the queue is in the extension's directory");
    assert_eq!(files(&data_dir.path().join("queues")), 0, "and not in the data directory");
    topology.shutdown().await;
    extensions.shutdown().await;
    store.close().await;
}

#[test]
fn a_storage_reference_must_name_a_configured_extension() {
    let errors = errors_of(
        "receivers: { otlp: { protocols: { http: {} } } }\n\
         exporters: { otlphttp: { endpoint: 'http://127.0.0.1:1', sending_queue: { storage: file_storage } } }\n\
         service: { pipelines: { logs: { receivers: [otlp], exporters: [otlphttp] } } }\n",
    );
    assert_has_all(
        &errors,
        &["exporters.otlphttp.sending_queue.storage: refers to extension \"file_storage\" which is not configured"],
    );
}

/// A receiver is built only when a pipeline lists it among its receivers, an exporter only among
/// its exporters, even when the two share an id (`otlp` is both a receiver and an exporter type).
#[test]
fn a_component_is_used_only_in_its_own_role() {
    let config = parse_config(
        "receivers: { otlp: { protocols: { http: {} } }, zipkin: {} }\n\
         exporters: { otlp: { endpoint: 127.0.0.1:1, tls: { insecure: true } } }\n\
         service: { pipelines: { traces: { receivers: [zipkin], exporters: [otlp] } } }\n",
    )
    .unwrap();
    assert_eq!(
        config.used(Kind::Receiver),
        [&id("zipkin")],
        "the unused otlp receiver does not listen"
    );
    assert_eq!(config.used(Kind::Exporter), [&id("otlp")]);
}

#[test]
fn one_component_defined_under_two_names_of_its_type_is_an_error() {
    assert_has_all(
        &errors_of(
            "receivers: { otlp: { protocols: { http: {} } } }\n\
             exporters: { otlp: { endpoint: 127.0.0.1:1 }, otlp_grpc: { endpoint: 127.0.0.1:2 } }\n\
             service: { pipelines: { traces: { receivers: [otlp], exporters: [otlp] } } }\n",
        ),
        &["exporters.otlp_grpc: defines exporter \"otlp\" a second time"],
    );
}

/// A sending queue naming an extension that keeps no files fails start-up, naming the setting,
/// rather than silently using the data directory.
#[tokio::test]
async fn a_storage_reference_to_an_extension_that_is_not_storage_fails_start_up() {
    let yaml = "extensions: { bearertokenauth: { token: t } }\n\
         receivers: { otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } } }\n\
         exporters: { otlphttp: { endpoint: 'http://127.0.0.1:1', sending_queue: { storage: bearertokenauth } } }\n\
         service: { extensions: [bearertokenauth], pipelines: { logs: { receivers: [otlp], exporters: [otlphttp] } } }\n";
    let config = parse_config(yaml).unwrap_or_else(|e| panic!("{e}"));
    let extensions = super::start_extensions(&config).await.unwrap();
    let store = memory_store();
    let error = super::Topology::build(
        &config,
        &super::Resources {
            store: &store,
            data_dir: None,
            components: &Default::default(),
            extensions: &extensions,
        },
    )
    .err()
    .expect("refused");
    assert!(error.to_string().contains("exporters.otlphttp.sending_queue.storage"), "{error:#}");
    store.close().await;
}

/// An empty value is more often an unset variable than a typo: the errors of values that referenced
/// unset variables name them (the demo's `${env:OTEL_COLLECTOR_HOST}:${env:OTEL_COLLECTOR_PORT_GRPC}`).
#[test]
fn errors_of_values_with_unset_variables_name_the_variables() {
    let yaml = r#"
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "${env:COLLECTOR_HOST}:${env:COLLECTOR_PORT_GRPC}" }
      http: { endpoint: "${env:COLLECTOR_HOST}:${env:COLLECTOR_PORT_HTTP:-4318}" }
exporters:
  otlphttp: { endpoint: "${UPSTREAM}" }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [otlphttp] }
"#;
    let set = |name: &str| (name == "COLLECTOR_HOST").then(|| "127.0.0.1".to_string());
    let errors = crate::config::Config::parse_with_env(yaml, &crate::components::REGISTRY, &set)
        .unwrap_err()
        .0;
    assert_eq!(
        errors,
        [
            "receivers.otlp.protocols.grpc.endpoint: expected host:port with an IP address or localhost, got '127.0.0.1:' (${env:COLLECTOR_PORT_GRPC} is not set)",
            "exporters.otlphttp.endpoint: expected an http:// or https:// URL like https://collector:4318, got '' (${env:UPSTREAM} is not set)",
        ]
    );
}
