//! The registry: every component type otelbox has, listed once (the Collector's `components.go`).
//! Adding a component is its own file, its testdata YAML and one line here.

use crate::config::{Catalog, ComponentType, Config, ConfigErrors, Kind};
use crate::connector::{self, ConnectorFactory};
use crate::exporter::{self, ExporterFactory};
use crate::extension::{self, ExtensionFactory};
use crate::processor::{self, ProcessorFactory};
use crate::receiver::{self, ReceiverFactory};

pub struct Registry {
    pub receivers: &'static [&'static dyn ReceiverFactory],
    pub processors: &'static [&'static dyn ProcessorFactory],
    pub exporters: &'static [&'static dyn ExporterFactory],
    pub connectors: &'static [&'static dyn ConnectorFactory],
    pub extensions: &'static [&'static dyn ExtensionFactory],
}

pub static REGISTRY: Registry = Registry {
    receivers: &[
        &receiver::otlp::Factory,
        &receiver::zipkin::Factory,
        &receiver::jaeger::Factory,
        &receiver::nop::Factory,
        &receiver::nginx::Factory,
        &receiver::redis::Factory,
        &receiver::hostmetrics::Factory,
        &receiver::filelog::Factory,
        &receiver::httpcheck::Factory,
        &receiver::prometheus::Factory,
    ],
    processors: &[
        &processor::attributes::AttributesFactory,
        &processor::batch::Factory,
        &processor::cumulativetodelta::Factory,
        &processor::filter::Factory,
        &processor::gen_ai_normalizer::Factory,
        &processor::groupbyattrs::Factory,
        &processor::memory_limiter::Factory,
        &processor::metricstransform::Factory,
        &processor::probabilistic_sampler::Factory,
        &processor::redaction::Factory,
        &processor::attributes::ResourceFactory,
        &processor::resourcedetection::Factory,
        &processor::span::Factory,
        &processor::tail_sampling::Factory,
        &processor::transform::Factory,
    ],
    exporters: &[
        &exporter::debug::Factory,
        &exporter::file::Factory,
        &exporter::loadbalancing::Factory,
        &exporter::nop::Factory,
        &exporter::otlp::Factory,
        &exporter::otlphttp::Factory,
        &exporter::prometheus::Factory,
        &exporter::prometheusremotewrite::Factory,
        &exporter::storage::Factory,
        &exporter::zipkin::Factory,
    ],
    connectors: &[
        &connector::count::Factory,
        &connector::forward::Factory,
        &connector::otlpjson::Factory,
        &connector::routing::Factory,
        &connector::servicegraph::Factory,
        &connector::spanmetrics::Factory,
    ],
    extensions: &[
        &extension::basicauth::Factory,
        &extension::bearertokenauth::Factory,
        &extension::file_storage::Factory,
        &extension::health_check::Factory,
        &extension::healthcheckv2::Factory,
        &extension::oauth2client::Factory,
        &extension::pprof::Factory,
        &extension::zpages::Factory,
    ],
};

/// Parses and validates a config against the registry.
pub fn parse_config(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, &REGISTRY)
}

impl Registry {
    /// Every component type of one kind.
    pub fn types(&self, kind: Kind) -> Vec<&'static dyn ComponentType> {
        match kind {
            Kind::Receiver => self.receivers.iter().map(|f| *f as &dyn ComponentType).collect(),
            Kind::Processor => self.processors.iter().map(|f| *f as &dyn ComponentType).collect(),
            Kind::Exporter => self.exporters.iter().map(|f| *f as &dyn ComponentType).collect(),
            Kind::Connector => self.connectors.iter().map(|f| *f as &dyn ComponentType).collect(),
            Kind::Extension => self.extensions.iter().map(|f| *f as &dyn ComponentType).collect(),
        }
    }
}

/// Finds a factory of one kind's list by its canonical type name (ids in a validated config carry
/// canonical names).
pub fn find<T: ?Sized + ComponentType>(list: &'static [&'static T], type_name: &str) -> Option<&'static T> {
    list.iter()
        .copied()
        .find(|f| f.type_name() == type_name || f.aliases().contains(&type_name))
}

impl Catalog for Registry {
    fn find(&self, kind: Kind, type_name: &str) -> Option<&dyn ComponentType> {
        self.types(kind)
            .into_iter()
            .find(|c| c.type_name() == type_name || c.aliases().contains(&type_name))
    }

    fn type_names(&self, kind: Kind) -> Vec<&'static str> {
        self.types(kind).iter().map(|c| c.type_name()).collect()
    }
}
