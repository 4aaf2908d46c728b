//! The zipkin receiver (placeholder: parsing refuses it until it lands).

use crate::config::Parser;
use crate::receiver::Intake;
use serde_yaml_ng::Value;
use std::net::SocketAddr;

#[derive(Clone, Debug)]
pub struct ZipkinConfig {
    pub endpoint: SocketAddr,
}

impl Default for ZipkinConfig {
    fn default() -> Self {
        ZipkinConfig {
            endpoint: SocketAddr::from(([127, 0, 0, 1], 9411)),
        }
    }
}

pub fn parse(p: &mut Parser, _value: &Value, path: &str) -> ZipkinConfig {
    p.not_yet(path, "receiver", "zipkin");
    ZipkinConfig::default()
}

/// The HTTP routes of the receiver; spans go to `intake.traces`.
pub fn router(_intake: Intake) -> axum::Router {
    axum::Router::new()
}
