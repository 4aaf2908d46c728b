//! The filter processor: drops spans, span events, logs, metrics and data points matching OTTL conditions (placeholder: parsing refuses it until the processor lands).

use crate::config::{ComponentId, Parser};
use crate::processor::ItemProcessor;
use serde_yaml_ng::Value;

#[derive(Clone, Debug, Default)]
pub struct FilterConfig;

pub fn parse(p: &mut Parser, _value: &Value, path: &str) -> FilterConfig {
    p.not_yet(path, "processor", "filter");
    FilterConfig
}

pub struct FilterProcessor;

impl FilterProcessor {
    pub fn new(_id: &ComponentId, _config: &FilterConfig) -> Self {
        FilterProcessor
    }
}

impl ItemProcessor for FilterProcessor {}
