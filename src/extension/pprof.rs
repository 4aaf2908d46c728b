//! The `pprof` extension, accepted so that a Collector config runs unchanged: the Collector serves
//! Go's runtime profiles on it, and otelbox, which is no Go program, has none to serve. Its keys are
//! checked as the Collector's (`endpoint`, default `localhost:1777`; `block_profile_fraction`,
//! `mutex_profile_fraction`; `save_to_file`), nothing is bound and nothing is written, and starting
//! it says so in the log.

use crate::config::{ComponentId, Parser, Settings};
use crate::extension::{Extension, ExtensionFactory};
use futures::future::BoxFuture;
use serde_yaml_ng::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub struct PprofConfig {
    pub endpoint: SocketAddr,
    pub block_profile_fraction: i64,
    pub mutex_profile_fraction: i64,
    pub save_to_file: Option<PathBuf>,
}

impl Default for PprofConfig {
    fn default() -> Self {
        PprofConfig {
            endpoint: SocketAddr::from(([127, 0, 0, 1], 1777)),
            block_profile_fraction: 0,
            mutex_profile_fraction: 0,
            save_to_file: None,
        }
    }
}

pub struct Factory;
crate::component_type!(Factory, "pprof", &[], parse);

impl ExtensionFactory for Factory {
    fn build(&self, id: &ComponentId, settings: &Settings) -> anyhow::Result<Arc<dyn Extension>> {
        Ok(Arc::new(Pprof {
            id: id.clone(),
            config: settings.get::<PprofConfig>().clone(),
        }))
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> PprofConfig {
    let mut config = PprofConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(
        body,
        &["endpoint", "block_profile_fraction", "mutex_profile_fraction", "save_to_file"],
        path,
    );
    if let Some(v) = body.get("endpoint") {
        config.endpoint = p.endpoint(v, &format!("{path}.endpoint")).unwrap_or(config.endpoint);
    }
    if let Some(v) = body.get("block_profile_fraction") {
        config.block_profile_fraction = p.integer(v, &format!("{path}.block_profile_fraction")).unwrap_or(0);
    }
    if let Some(v) = body.get("mutex_profile_fraction") {
        config.mutex_profile_fraction = p.integer(v, &format!("{path}.mutex_profile_fraction")).unwrap_or(0);
    }
    if let Some(v) = body.get("save_to_file") {
        // An empty name is no file, as in the Collector.
        config.save_to_file = p
            .string(v, &format!("{path}.save_to_file"))
            .filter(|text| !text.trim().is_empty())
            .map(PathBuf::from);
    }
    config
}

struct Pprof {
    id: ComponentId,
    config: PprofConfig,
}

impl Extension for Pprof {
    fn start(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            tracing::warn!(
                extension = %self.id,
                endpoint = %self.config.endpoint,
                "pprof is accepted but not served: otelbox is not a Go program and has no Go profiles, so nothing listens here"
            );
            if let Some(file) = &self.config.save_to_file {
                tracing::warn!(extension = %self.id, save_to_file = %file.display(), "pprof writes no CPU profile in otelbox");
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "extensions.pprof";

    fn parsed(yaml: &str) -> (PprofConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, PATH);
        (config, errors)
    }

    #[test]
    fn an_empty_section_takes_the_collectors_defaults() {
        assert_eq!(parsed("null"), (PprofConfig::default(), Vec::new()));
        assert_eq!(PprofConfig::default().endpoint.to_string(), "127.0.0.1:1777");
    }

    #[test]
    fn every_collector_key_is_read() {
        let (config, errors) =
            parsed("endpoint: ':1778'\nblock_profile_fraction: 3\nmutex_profile_fraction: -1\nsave_to_file: /tmp/cpu.prof");
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(
            config,
            PprofConfig {
                endpoint: SocketAddr::from(([0, 0, 0, 0], 1778)),
                block_profile_fraction: 3,
                mutex_profile_fraction: -1,
                save_to_file: Some(PathBuf::from("/tmp/cpu.prof")),
            }
        );
    }

    #[test]
    fn wrong_keys_and_values_are_errors_with_their_paths() {
        let (_, errors) =
            parsed("endpoint: nowhere\nblock_profile_fraction: often\nmutex_profile_fraction: 0.5\nsave_to_file: [a]\nport: 1");
        assert_eq!(
            errors,
            [
                "extensions.pprof.port: unknown key (expected one of: endpoint, block_profile_fraction, mutex_profile_fraction, save_to_file)",
                "extensions.pprof.endpoint: expected host:port with an IP address or localhost, got 'nowhere'",
                "extensions.pprof.block_profile_fraction: expected an integer, got a string",
                "extensions.pprof.mutex_profile_fraction: expected an integer, got a number",
                "extensions.pprof.save_to_file: expected a string, got a list",
            ]
        );
    }

    /// Nothing is served, so a port another process holds is no start-up error.
    #[tokio::test]
    async fn start_binds_nothing() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (config, errors) = parsed(&format!("endpoint: {}", taken.local_addr().unwrap()));
        assert_eq!(errors, Vec::<String>::new());
        let extension = Factory
            .build(&ComponentId::parse("pprof").unwrap(), &Settings::new(config))
            .unwrap();
        extension.start().await.unwrap();
        assert!(extension.authenticator().is_none() && extension.storage().is_none());
        extension.shutdown().await;
    }

    #[test]
    fn the_testdata_example_parses() {
        let examples: Value = serde_yaml_ng::from_str(include_str!("testdata/pprof.yaml")).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &examples["pprof"], PATH);
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(config.block_profile_fraction, 3);
    }
}
