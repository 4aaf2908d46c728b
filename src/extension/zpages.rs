//! The `zpages` extension, accepted so that a Collector config runs unchanged: the Collector serves
//! its in-process debug pages on it; otelbox has none, and its UI and `/metrics` show the pipelines
//! and every component's counters instead. `endpoint` (default `localhost:55679`) is checked as the
//! Collector checks it, nothing is bound, and starting it says so in the log.

use crate::config::{ComponentId, Parser, Settings};
use crate::extension::{Extension, ExtensionFactory};
use futures::future::BoxFuture;
use serde_yaml_ng::Value;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub struct ZpagesConfig {
    pub endpoint: SocketAddr,
}

impl Default for ZpagesConfig {
    fn default() -> Self {
        ZpagesConfig {
            endpoint: SocketAddr::from(([127, 0, 0, 1], 55679)),
        }
    }
}

pub struct Factory;
crate::component_type!(Factory, "zpages", &[], parse);

impl ExtensionFactory for Factory {
    fn build(&self, id: &ComponentId, settings: &Settings) -> anyhow::Result<Arc<dyn Extension>> {
        Ok(Arc::new(Zpages {
            id: id.clone(),
            config: settings.get::<ZpagesConfig>().clone(),
        }))
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> ZpagesConfig {
    let mut config = ZpagesConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["endpoint"], path);
    if let Some(v) = body.get("endpoint") {
        config.endpoint = p.endpoint(v, &format!("{path}.endpoint")).unwrap_or(config.endpoint);
    }
    config
}

struct Zpages {
    id: ComponentId,
    config: ZpagesConfig,
}

impl Extension for Zpages {
    fn start(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            tracing::warn!(
                extension = %self.id,
                endpoint = %self.config.endpoint,
                "zpages is accepted but not served, so nothing listens here; otelbox's UI and /metrics show its pipelines and component counters"
            );
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "extensions.zpages";

    fn parsed(yaml: &str) -> (ZpagesConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, PATH);
        (config, errors)
    }

    #[test]
    fn an_empty_section_takes_the_collectors_default_endpoint() {
        assert_eq!(parsed("null"), (ZpagesConfig::default(), Vec::new()));
        assert_eq!(ZpagesConfig::default().endpoint.to_string(), "127.0.0.1:55679");
        assert_eq!(parsed("endpoint: localhost:55680").0.endpoint.to_string(), "127.0.0.1:55680");
    }

    #[test]
    fn wrong_keys_and_values_are_errors_with_their_paths() {
        assert_eq!(
            parsed("endpoint: ''\nexpvar: { enabled: true }").1,
            [
                "extensions.zpages.expvar: unknown key (expected one of: endpoint)",
                "extensions.zpages.endpoint: expected host:port with an IP address or localhost, got ''",
            ]
        );
        assert_eq!(
            parsed("endpoint: 55679").1,
            ["extensions.zpages.endpoint: expected a string, got a number"]
        );
    }

    /// Nothing is served, so a port another process holds is no start-up error.
    #[tokio::test]
    async fn start_binds_nothing() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (config, errors) = parsed(&format!("endpoint: {}", taken.local_addr().unwrap()));
        assert_eq!(errors, Vec::<String>::new());
        let extension = Factory
            .build(&ComponentId::parse("zpages").unwrap(), &Settings::new(config))
            .unwrap();
        extension.start().await.unwrap();
        assert!(extension.authenticator().is_none() && extension.storage().is_none());
        extension.shutdown().await;
    }

    #[test]
    fn the_testdata_example_parses() {
        let examples: Value = serde_yaml_ng::from_str(include_str!("testdata/zpages.yaml")).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &examples["zpages"], PATH);
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(config.endpoint.port(), 0);
    }
}
