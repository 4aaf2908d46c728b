//! The transform processor: OTTL statements per context (placeholder: parsing refuses it until the processor lands).

use crate::config::{ComponentId, Parser};
use crate::processor::ItemProcessor;
use serde_yaml_ng::Value;

#[derive(Clone, Debug, Default)]
pub struct TransformConfig;

pub fn parse(p: &mut Parser, _value: &Value, path: &str) -> TransformConfig {
    p.not_yet(path, "processor", "transform");
    TransformConfig
}

pub struct TransformProcessor;

impl TransformProcessor {
    pub fn new(_id: &ComponentId, _config: &TransformConfig) -> Self {
        TransformProcessor
    }
}

impl ItemProcessor for TransformProcessor {}
