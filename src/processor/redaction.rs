//! The redaction processor: keeps secrets and PII out of storage and exporters (placeholder: parsing refuses it until the processor lands).

use crate::config::{ComponentId, Parser};
use crate::processor::ItemProcessor;
use serde_yaml_ng::Value;

#[derive(Clone, Debug, Default)]
pub struct RedactionConfig;

pub fn parse(p: &mut Parser, _value: &Value, path: &str) -> RedactionConfig {
    p.not_yet(path, "processor", "redaction");
    RedactionConfig
}

pub struct RedactionProcessor;

impl RedactionProcessor {
    pub fn new(_id: &ComponentId, _config: &RedactionConfig) -> Self {
        RedactionProcessor
    }
}

impl ItemProcessor for RedactionProcessor {}
