//! The `health_check` extension: an HTTP endpoint (default `localhost:13133`, path `/`) that load
//! balancers and orchestrators probe, answering 200 with `{"status":"Server available",...}` while
//! the box serves and 503 `{"status":"Server not available",...}` before that and once it shuts
//! down, as the Collector's does (`response_body.healthy` / `unhealthy` replace the bodies).
//! `check_collector_pipeline` is accepted and has no effect (the Collector deprecated it).

use crate::config::{ComponentId, Parser, Settings};
use crate::extension::{Extension, ExtensionFactory};
use crate::net::Stop;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use futures::future::BoxFuture;
use serde_yaml_ng::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheckConfig {
    pub endpoint: SocketAddr,
    pub path: String,
    /// `response_body.healthy` / `unhealthy`: replace the JSON status bodies when set.
    pub healthy_body: Option<String>,
    pub unhealthy_body: Option<String>,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            endpoint: SocketAddr::from(([127, 0, 0, 1], 13133)),
            path: "/".into(),
            healthy_body: None,
            unhealthy_body: None,
        }
    }
}

pub struct Factory;
crate::component_type!(Factory, "health_check", &[], parse, aliases: &["healthcheck"]);

impl ExtensionFactory for Factory {
    fn build(&self, id: &ComponentId, settings: &Settings) -> anyhow::Result<Arc<dyn Extension>> {
        Ok(Arc::new(HealthCheck {
            id: id.clone(),
            config: settings.get::<HealthCheckConfig>().clone(),
            running: Mutex::new(None),
            ready: Arc::new(AtomicBool::new(false)),
        }))
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> HealthCheckConfig {
    let mut config = HealthCheckConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["endpoint", "path", "response_body", "check_collector_pipeline"], path);
    if let Some(v) = body.get("endpoint") {
        config.endpoint = p.endpoint(v, &format!("{path}.endpoint")).unwrap_or(config.endpoint);
    }
    if let Some(v) = body.get("path") {
        match p.string(v, &format!("{path}.path")) {
            Some(text) if text.starts_with('/') => config.path = text,
            Some(_) => p.error(&format!("{path}.path"), "must start with /"),
            None => {}
        }
    }
    let response_path = format!("{path}.response_body");
    if let Some(response) = p.mapping(body.get("response_body"), &response_path) {
        p.only_keys(response, &["healthy", "unhealthy"], &response_path);
        if let Some(v) = response.get("healthy") {
            config.healthy_body = p.string(v, &format!("{response_path}.healthy"));
        }
        if let Some(v) = response.get("unhealthy") {
            config.unhealthy_body = p.string(v, &format!("{response_path}.unhealthy"));
        }
    }
    config
}

/// The probe's answer: 200 and the healthy body while the box serves, else 503 and the unhealthy one.
fn answer(config: &HealthCheckConfig, ready: bool, started: Instant) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    let (status, custom, text) = if ready {
        (StatusCode::OK, &config.healthy_body, "Server available")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, &config.unhealthy_body, "Server not available")
    };
    let body = custom.clone().unwrap_or_else(|| {
        serde_json::json!({
            "status": text,
            "uptime": format!("{:.3}s", started.elapsed().as_secs_f64()),
        })
        .to_string()
    });
    (status, [(header::CONTENT_TYPE, "application/json")], body)
}

struct HealthCheck {
    id: ComponentId,
    config: HealthCheckConfig,
    running: Mutex<Option<(tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>)>>,
    /// Whether the box serves (`Extension::set_ready`).
    ready: Arc<AtomicBool>,
}

impl Extension for HealthCheck {
    fn start(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            let setting = format!("extensions.{}.endpoint", self.id);
            let listener = crate::net::bind(self.config.endpoint, &setting).await?;
            let started = Instant::now();
            let (config, ready) = (self.config.clone(), self.ready.clone());
            let router = axum::Router::new().route(
                &self.config.path,
                axum::routing::get(move || async move { answer(&config, ready.load(Ordering::Relaxed), started).into_response() }),
            );
            let (stop_tx, stop) = Stop::new();
            // Probes on a loopback listener come from this machine: loopback names only.
            let server = crate::net::serve(listener, None, router, &stop, &Default::default(), Default::default())?;
            *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some((stop_tx, server));
            Ok(())
        })
    }

    fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
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

    #[test]
    fn the_probe_fails_until_the_box_serves_and_uses_the_configured_bodies() {
        let started = Instant::now();
        let mut config = HealthCheckConfig::default();
        let (status, _, body) = answer(&config, false, started);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("Server not available"), "{body}");
        let (status, _, body) = answer(&config, true, started);
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("Server available"), "{body}");
        config.unhealthy_body = Some("down".into());
        assert_eq!(answer(&config, false, started).2, "down");
    }
}
