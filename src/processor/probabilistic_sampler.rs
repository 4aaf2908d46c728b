//! The probabilistic_sampler processor: keeps a trace-id-consistent share of traces and logs (placeholder: parsing refuses it until the processor lands).

use crate::config::{ComponentId, Parser};
use crate::processor::ItemProcessor;
use serde_yaml_ng::Value;

#[derive(Clone, Debug, Default)]
pub struct ProbabilisticSamplerConfig;

pub fn parse(p: &mut Parser, _value: &Value, path: &str) -> ProbabilisticSamplerConfig {
    p.not_yet(path, "processor", "probabilistic_sampler");
    ProbabilisticSamplerConfig
}

pub struct ProbabilisticSampler;

impl ProbabilisticSampler {
    pub fn new(_id: &ComponentId, _config: &ProbabilisticSamplerConfig) -> Self {
        ProbabilisticSampler
    }
}

impl ItemProcessor for ProbabilisticSampler {}
