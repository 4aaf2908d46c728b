//! The `healthcheckv2` extension (contrib `healthcheckv2extension`). With `use_v2: false` (the
//! Collector's default) it is the `health_check` extension under another name: the legacy
//! `endpoint`/`path`/`response_body` keys, served by `health_check` itself. With `use_v2: true` it
//! serves `http.status.path` (default `/status`) on `http.endpoint` (default `localhost:13133`):
//! 200 and `{"start_time","healthy":true,"status":"StatusOK","status_time"}` while the box serves,
//! 503 with `StatusStarting` before that and `StatusStopping` once it shuts down.
//!
//! otelbox components report no status events, so the answer is the box's overall status only (no
//! `components`, `?pipeline=` and `?verbose` answer the same) and `component_health` is accepted
//! with nothing to act on. Not supported yet, refused by name: the gRPC health service (`grpc`
//! with `use_v2: true`) and the effective-config endpoint (`http.config.enabled: true`).

use crate::config::{ComponentId, Parser, Settings};
use crate::extension::health_check::{self, HealthCheckConfig};
use crate::extension::{Extension, ExtensionFactory};
use crate::net::Stop;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use futures::future::BoxFuture;
use serde_yaml_ng::{Mapping, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The legacy (v1) keys, read by `health_check::parse`.
const LEGACY_KEYS: &[&str] = &["endpoint", "path", "response_body", "check_collector_pipeline"];
/// The keys of v2.
const V2_KEYS: &[&str] = &["use_v2", "http", "grpc", "component_health"];

#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheckV2Config {
    /// `use_v2`: serve `http` (the v2 status endpoint) instead of the legacy endpoint.
    pub use_v2: bool,
    /// The legacy `endpoint`, `path` and `response_body`, served when `use_v2` is false.
    pub legacy: HealthCheckConfig,
    pub http: HttpConfig,
    /// `grpc.endpoint` as given; serving it is not supported yet (a config error with `use_v2`).
    pub grpc_endpoint: Option<SocketAddr>,
    pub component_health: ComponentHealth,
}

/// `http`: where the v2 status endpoint listens and the paths it answers.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpConfig {
    pub endpoint: SocketAddr,
    pub status: PathConfig,
    pub config: PathConfig,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PathConfig {
    pub enabled: bool,
    pub path: String,
}

/// `component_health`: accepted; otelbox components report no recoverable or permanent errors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ComponentHealth {
    pub include_permanent_errors: bool,
    pub include_recoverable_errors: bool,
    pub recovery_duration: Option<Duration>,
}

impl Default for HealthCheckV2Config {
    fn default() -> Self {
        HealthCheckV2Config {
            use_v2: false,
            legacy: HealthCheckConfig::default(),
            http: HttpConfig {
                endpoint: SocketAddr::from(([127, 0, 0, 1], 13133)),
                status: PathConfig {
                    enabled: true,
                    path: "/status".into(),
                },
                config: PathConfig {
                    enabled: false,
                    path: "/config".into(),
                },
            },
            grpc_endpoint: None,
            component_health: ComponentHealth::default(),
        }
    }
}

pub struct Factory;
crate::component_type!(Factory, "healthcheckv2", &[], parse);

impl ExtensionFactory for Factory {
    fn build(&self, id: &ComponentId, settings: &Settings) -> anyhow::Result<Arc<dyn Extension>> {
        let config = settings.get::<HealthCheckV2Config>().clone();
        if !config.use_v2 {
            // The Collector's v1 mode is the health_check extension: the same server answers.
            return health_check::Factory.build(id, &Settings::new(config.legacy));
        }
        Ok(Arc::new(HealthCheckV2 {
            id: id.clone(),
            config,
            state: Arc::new(Mutex::new(BoxStatus::new())),
            running: Mutex::new(None),
            bound: Mutex::new(None),
        }))
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> HealthCheckV2Config {
    let mut config = HealthCheckV2Config::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let known: Vec<&str> = LEGACY_KEYS.iter().chain(V2_KEYS).copied().collect();
    p.only_keys(body, &known, path);

    // The legacy keys as health_check reads them (its errors carry this extension's paths).
    let legacy: Mapping = body
        .iter()
        .filter(|(k, _)| k.as_str().is_some_and(|k| LEGACY_KEYS.contains(&k)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    config.legacy = health_check::parse(p, &Value::Mapping(legacy), path);

    if let Some(v) = body.get("use_v2") {
        config.use_v2 = p.boolean(v, &format!("{path}.use_v2")).unwrap_or(false);
    }

    let http_path = format!("{path}.http");
    if let Some(http) = body.get("http").and_then(|v| p.mapping(Some(v), &http_path)) {
        p.only_keys(http, &["endpoint", "status", "config"], &http_path);
        if let Some(v) = http.get("endpoint") {
            config.http.endpoint = p.endpoint(v, &format!("{http_path}.endpoint")).unwrap_or(config.http.endpoint);
        }
        if let Some(v) = http.get("status") {
            parse_path_config(p, v, &format!("{http_path}.status"), &mut config.http.status);
        }
        if let Some(v) = http.get("config") {
            let at = format!("{http_path}.config");
            parse_path_config(p, v, &at, &mut config.http.config);
            if config.http.config.enabled {
                p.error(
                    &format!("{at}.enabled"),
                    "serving the effective config is not supported by otelbox yet; set it to false (or leave config out)",
                );
            }
        }
    }

    let grpc_path = format!("{path}.grpc");
    if let Some(grpc) = body.get("grpc").and_then(|v| p.mapping(Some(v), &grpc_path)) {
        p.only_keys(grpc, &["endpoint", "transport"], &grpc_path);
        config.grpc_endpoint = Some(
            grpc.get("endpoint")
                .and_then(|v| p.endpoint(v, &format!("{grpc_path}.endpoint")))
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 13132))),
        );
        if let Some(v) = grpc.get("transport") {
            let at = format!("{grpc_path}.transport");
            match p.string(v, &at) {
                Some(t) if t == "tcp" => {}
                Some(t) => p.error(&at, format!("expected tcp, got '{t}'")),
                None => {}
            }
        }
    }

    let health_path = format!("{path}.component_health");
    if let Some(health) = body.get("component_health").and_then(|v| p.mapping(Some(v), &health_path)) {
        p.only_keys(
            health,
            &["include_permanent_errors", "include_recoverable_errors", "recovery_duration"],
            &health_path,
        );
        let ch = &mut config.component_health;
        if let Some(v) = health.get("include_permanent_errors") {
            ch.include_permanent_errors = p.boolean(v, &format!("{health_path}.include_permanent_errors")).unwrap_or(false);
        }
        if let Some(v) = health.get("include_recoverable_errors") {
            ch.include_recoverable_errors = p.boolean(v, &format!("{health_path}.include_recoverable_errors")).unwrap_or(false);
        }
        if let Some(v) = health.get("recovery_duration") {
            ch.recovery_duration = p.duration(v, &format!("{health_path}.recovery_duration"));
        }
    }

    if config.use_v2 {
        if config.grpc_endpoint.is_some() {
            p.error(
                &grpc_path,
                "the gRPC health service is not supported by otelbox yet; remove grpc and probe the http status endpoint",
            );
        }
        if !config.http.status.enabled {
            p.error(
                &format!("{http_path}.status.enabled"),
                "with use_v2 the http status endpoint is the only service otelbox serves; set it to true",
            );
        }
    }
    config
}

fn parse_path_config(p: &mut Parser, value: &Value, at: &str, into: &mut PathConfig) {
    let Some(body) = p.mapping(Some(value), at) else {
        return;
    };
    p.only_keys(body, &["enabled", "path"], at);
    if let Some(v) = body.get("enabled") {
        into.enabled = p.boolean(v, &format!("{at}.enabled")).unwrap_or(into.enabled);
    }
    if let Some(v) = body.get("path") {
        let path_at = format!("{at}.path");
        match p.string(v, &path_at) {
            Some(text) if text.starts_with('/') => into.path = text,
            Some(text) => p.error(&path_at, format!("must start with /, like /status; got '{text}'")),
            None => {}
        }
    }
}

/// The box's overall status as the Collector names it, and since when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Starting,
    Ok,
    Stopping,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Starting => "StatusStarting",
            Phase::Ok => "StatusOK",
            Phase::Stopping => "StatusStopping",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct BoxStatus {
    started: SystemTime,
    phase: Phase,
    since: SystemTime,
}

impl BoxStatus {
    fn new() -> BoxStatus {
        let now = SystemTime::now();
        BoxStatus {
            started: now,
            phase: Phase::Starting,
            since: now,
        }
    }

    fn enter(&mut self, phase: Phase) {
        if self.phase != phase {
            self.phase = phase;
            self.since = SystemTime::now();
        }
    }
}

/// The status endpoint's answer: 200 while the box serves, else 503; the JSON body as the Collector's.
fn status_answer(status: &BoxStatus) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    let healthy = status.phase == Phase::Ok;
    let code = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::json!({
        "start_time": rfc3339(status.started),
        "healthy": healthy,
        "status": status.phase.name(),
        "status_time": rfc3339(status.since),
    });
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string())
}

/// A UTC timestamp as RFC 3339 with nanoseconds (Go's `time.RFC3339Nano` in JSON, in UTC).
fn rfc3339(at: SystemTime) -> String {
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs() as i64;
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = crate::calendar::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since_epoch.subsec_nanos()
    )
}

struct HealthCheckV2 {
    id: ComponentId,
    config: HealthCheckV2Config,
    state: Arc<Mutex<BoxStatus>>,
    running: Mutex<Option<(tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>)>>,
    /// The address the status endpoint listens on (the port chosen for `:0`).
    bound: Mutex<Option<SocketAddr>>,
}

impl Extension for HealthCheckV2 {
    fn start(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            let setting = format!("extensions.{}.http.endpoint", self.id);
            let listener = crate::net::bind(self.config.http.endpoint, &setting).await?;
            let local = listener.local_addr()?;
            *self.bound.lock().unwrap_or_else(|e| e.into_inner()) = Some(local);
            {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                state.started = SystemTime::now();
            }
            let state = self.state.clone();
            let router = axum::Router::new().route(
                &self.config.http.status.path,
                axum::routing::get(move || async move {
                    let status = *state.lock().unwrap_or_else(|e| e.into_inner());
                    status_answer(&status).into_response()
                }),
            );
            let (stop_tx, stop) = Stop::new();
            let server = crate::net::serve(listener, None, router, &stop, &Default::default(), Default::default())?;
            *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some((stop_tx, server));
            Ok(())
        })
    }

    fn set_ready(&self, ready: bool) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if ready {
            state.enter(Phase::Ok);
        } else if state.phase == Phase::Ok {
            state.enter(Phase::Stopping);
        }
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.state.lock().unwrap_or_else(|e| e.into_inner()).enter(Phase::Stopping);
            let running = self.running.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some((stop, server)) = running {
                let _ = stop.send(true);
                let _ = server.await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_yaml(yaml: &str) -> (HealthCheckV2Config, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "extensions.healthcheckv2");
        (config, errors)
    }

    #[test]
    fn the_collectors_defaults_apply_to_an_empty_section() {
        let (config, errors) = parse_yaml("{}");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config, HealthCheckV2Config::default());
        assert!(!config.use_v2);
        assert_eq!(config.legacy.endpoint, SocketAddr::from(([127, 0, 0, 1], 13133)));
        assert_eq!(config.legacy.path, "/");
        assert_eq!(config.http.endpoint, SocketAddr::from(([127, 0, 0, 1], 13133)));
        assert_eq!(
            config.http.status,
            PathConfig {
                enabled: true,
                path: "/status".into()
            }
        );
        assert_eq!(
            config.http.config,
            PathConfig {
                enabled: false,
                path: "/config".into()
            }
        );
    }

    #[test]
    fn every_collector_key_is_read_into_the_config() {
        let (config, errors) = parse_yaml(
            "use_v2: true\n\
             endpoint: 127.0.0.1:9000\n\
             path: /health\n\
             check_collector_pipeline: { enabled: false }\n\
             component_health: { include_permanent_errors: true, include_recoverable_errors: true, recovery_duration: 5m }\n\
             http: { endpoint: 127.0.0.1:9001, status: { enabled: true, path: /health/status }, config: { enabled: false, path: /health/config } }\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert!(config.use_v2);
        assert_eq!(config.legacy.endpoint, SocketAddr::from(([127, 0, 0, 1], 9000)));
        assert_eq!(config.legacy.path, "/health");
        assert_eq!(config.http.endpoint, SocketAddr::from(([127, 0, 0, 1], 9001)));
        assert_eq!(config.http.status.path, "/health/status");
        assert_eq!(config.http.config.path, "/health/config");
        assert_eq!(
            config.component_health,
            ComponentHealth {
                include_permanent_errors: true,
                include_recoverable_errors: true,
                recovery_duration: Some(Duration::from_secs(300)),
            }
        );
    }

    #[test]
    fn the_testdata_examples_parse_without_errors() {
        let examples: Value = serde_yaml_ng::from_str(include_str!("testdata/healthcheckv2.yaml")).unwrap();
        for (id, section) in examples.as_mapping().unwrap() {
            let mut errors = Vec::new();
            let config = parse(&mut Parser::collecting(&mut errors), section, "extensions.healthcheckv2");
            assert!(errors.is_empty(), "{id:?}: {errors:?}");
            assert_eq!(config.use_v2, id.as_str() == Some("healthcheckv2"));
        }
    }

    #[test]
    fn grpc_is_accepted_in_legacy_mode_as_the_collector_ignores_it_there() {
        let (config, errors) = parse_yaml("grpc: { endpoint: 127.0.0.1:13132 }");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.grpc_endpoint, Some(SocketAddr::from(([127, 0, 0, 1], 13132))));
    }

    #[test]
    fn config_mistakes_are_errors_with_their_path() {
        let cases: &[(&str, &str)] = &[
            (
                "use_v2: true\ngrpc: {}",
                "extensions.healthcheckv2.grpc: the gRPC health service is not supported",
            ),
            (
                "use_v2: true\nhttp: { config: { enabled: true } }",
                "extensions.healthcheckv2.http.config.enabled: serving the effective config is not supported",
            ),
            (
                "http: { status: { path: status } }",
                "extensions.healthcheckv2.http.status.path: must start with /",
            ),
            (
                "http: { endpoint: nowhere }",
                "extensions.healthcheckv2.http.endpoint: expected host:port",
            ),
            ("http: { port: 1 }", "extensions.healthcheckv2.http.port: unknown key"),
            ("use_v2: yes please", "extensions.healthcheckv2.use_v2:"),
            ("path: health", "extensions.healthcheckv2.path: must start with /"),
            ("verbose: true", "extensions.healthcheckv2.verbose: unknown key"),
            (
                "component_health: { recovery_duration: soon }",
                "extensions.healthcheckv2.component_health.recovery_duration:",
            ),
            ("grpc: { transport: udp }", "extensions.healthcheckv2.grpc.transport: expected tcp"),
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
    fn rfc3339_timestamps_are_the_utc_calendar_date_and_time() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let at = UNIX_EPOCH + Duration::from_secs(19_740 * 86_400 + 17 * 3600 + 27 * 60 + 12) + Duration::from_nanos(570_394);
        assert_eq!(rfc3339(at), "2024-01-18T17:27:12.000570394Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(11_016 * 86_400)),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn the_status_is_503_until_the_box_serves_and_503_again_once_it_stops() {
        let mut status = BoxStatus::new();
        let (code, _, body) = status_answer(&status);
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("\"StatusStarting\""), "{body}");
        status.enter(Phase::Ok);
        let (code, _, body) = status_answer(&status);
        assert_eq!(code, StatusCode::OK);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["healthy"], true);
        assert_eq!(json["status"], "StatusOK");
        assert!(json["start_time"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(json["status_time"].is_string());
        status.enter(Phase::Stopping);
        assert_eq!(status_answer(&status).0, StatusCode::SERVICE_UNAVAILABLE);
    }

    async fn get(address: SocketAddr, path: &str) -> (u16, String) {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let response = client.get(format!("http://{address}{path}")).send().await.unwrap();
        let code = response.status().as_u16();
        (code, response.text().await.unwrap())
    }

    #[tokio::test]
    async fn the_v2_status_endpoint_answers_on_a_free_port_while_the_box_runs() {
        let (config, errors) = parse_yaml("use_v2: true\nhttp: { endpoint: 127.0.0.1:0 }");
        assert!(errors.is_empty(), "{errors:?}");
        let id = ComponentId::parse("healthcheckv2").unwrap();
        let extension = HealthCheckV2 {
            id,
            config,
            state: Arc::new(Mutex::new(BoxStatus::new())),
            running: Mutex::new(None),
            bound: Mutex::new(None),
        };
        extension.start().await.unwrap();
        let address = extension.bound.lock().unwrap().expect("bound");
        assert_ne!(address.port(), 0);
        assert_eq!(get(address, "/status").await.0, 503, "starting");
        extension.set_ready(true);
        let (code, body) = get(address, "/status").await;
        assert_eq!(code, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "StatusOK");
        assert_eq!(json["healthy"], true);
        assert_eq!(extension.state.lock().unwrap().phase, Phase::Ok);
        extension.set_ready(false);
        assert_eq!(get(address, "/status").await.0, 503, "stopping");
        tokio::time::timeout(Duration::from_secs(5), extension.shutdown())
            .await
            .expect("stops promptly");
    }

    #[tokio::test]
    async fn legacy_mode_is_the_health_check_extension_on_its_path() {
        let (config, errors) = parse_yaml("endpoint: 127.0.0.1:0\npath: /health");
        assert!(errors.is_empty(), "{errors:?}");
        let id = ComponentId::parse("healthcheckv2/legacy").unwrap();
        let extension = Factory.build(&id, &Settings::new(config)).unwrap();
        extension.start().await.unwrap();
        extension.shutdown().await;
    }
}
