//! The attributes and resource processors (placeholder: parsing refuses them until they land).

use crate::config::{ComponentId, Parser};
use crate::processor::ItemProcessor;
use serde_yaml_ng::Value;

#[derive(Clone, Debug, Default)]
pub struct AttributesConfig;

#[derive(Clone, Debug, Default)]
pub struct ResourceConfig;

pub fn parse_attributes(p: &mut Parser, _value: &Value, path: &str) -> AttributesConfig {
    p.not_yet(path, "processor", "attributes");
    AttributesConfig
}

pub fn parse_resource(p: &mut Parser, _value: &Value, path: &str) -> ResourceConfig {
    p.not_yet(path, "processor", "resource");
    ResourceConfig
}

pub struct AttributesProcessor;

impl AttributesProcessor {
    pub fn new(_id: &ComponentId, _config: &AttributesConfig) -> Self {
        AttributesProcessor
    }
}

impl ItemProcessor for AttributesProcessor {}

pub struct ResourceProcessor;

impl ResourceProcessor {
    pub fn new(_id: &ComponentId, _config: &ResourceConfig) -> Self {
        ResourceProcessor
    }
}

impl ItemProcessor for ResourceProcessor {}
