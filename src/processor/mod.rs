//! Processors: components that sit inline in a pipeline and forward to their next consumer, and
//! the `ProcessorFactory` each type registers (`crate::components`). Most edit or drop items of one
//! payload at a time (`Stage::Items`, run by `pipeline::Inline`); the batch, memory_limiter and
//! tail_sampling processors hold or refuse data and implement `Consumer` directly.

pub mod attributes;
pub mod batch;
pub mod cumulativetodelta;
pub mod filter;
pub mod gen_ai_normalizer;
pub mod groupbyattrs;
pub mod memory_limiter;
pub mod metricstransform;
pub mod probabilistic_sampler;
pub mod redaction;
pub mod resourcedetection;
pub mod span;
pub mod tail_sampling;
pub mod transform;

use crate::config::{ComponentId, ComponentType, Settings};
use crate::memory::MemoryGauges;
use crate::pipeline::{AnyConsumer, ItemProcessor, PipelineError};
use crate::telemetry::ComponentCounters;
use std::sync::Arc;

/// Builds a processor type's instances: one per pipeline that lists it.
pub trait ProcessorFactory: ComponentType {
    /// The instance for one pipeline, forwarding to `next` (a consumer of the pipeline's signal).
    fn build(&self, context: &ProcessorContext<'_>, settings: &Settings, next: AnyConsumer) -> anyhow::Result<Stage>;
}

/// What a processor instance is built with besides its settings.
pub struct ProcessorContext<'a> {
    pub id: &'a ComponentId,
    /// This instance's counters (the topology counts received, sent and refused around it).
    pub counters: &'a Arc<ComponentCounters>,
    /// The topology's memory gauges, one per memory_limiter id.
    pub gauges: &'a MemoryGauges,
}

/// A built processor instance.
pub enum Stage {
    /// Edits or drops items in place; the topology runs it `Inline`, which counts what it drops.
    Items(Arc<dyn ItemProcessor>),
    /// Holds or refuses data itself, forwarding to the `next` it was built with.
    Consumer(AnyConsumer),
}

/// Declares `$factory`, the factory of an item processor type handling every signal:
/// `item_processor_factory!(Factory, "filter", parse, FilterProcessor::new);` where `parse` reads
/// the settings and `new(&ComponentId, &Settings)` builds an `ItemProcessor`; optionally
/// `aliases: &["..."]` (names the Collector also accepts).
#[macro_export]
macro_rules! item_processor_factory {
    ($factory:ident, $name:literal, $parse:path, $new:path $(, aliases: $aliases:expr)?) => {
        pub struct $factory;
        $crate::component_type!($factory, $name, &$crate::pdata::Signal::ALL, $parse $(, aliases: $aliases)?);
        impl $crate::processor::ProcessorFactory for $factory {
            fn build(
                &self,
                context: &$crate::processor::ProcessorContext<'_>,
                settings: &$crate::config::Settings,
                _next: $crate::pipeline::AnyConsumer,
            ) -> anyhow::Result<$crate::processor::Stage> {
                Ok($crate::processor::Stage::Items(std::sync::Arc::new($new(
                    context.id,
                    settings.get(),
                ))))
            }
        }
    };
}

/// What a processor does when an OTTL statement or condition fails at run time: `propagate` refuses
/// the payload (a permanent error to the sender), `ignore` logs and goes on, `silent` just goes on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorMode {
    #[default]
    Propagate,
    Ignore,
    Silent,
}

impl ErrorMode {
    pub fn parse(text: &str) -> Option<ErrorMode> {
        match text {
            "propagate" => Some(ErrorMode::Propagate),
            "ignore" => Some(ErrorMode::Ignore),
            "silent" => Some(ErrorMode::Silent),
            _ => None,
        }
    }

    /// Applies the mode to a run-time error of `component`'s `statement`: `Err` only for propagate.
    pub fn handle(self, component: &str, statement: &dyn std::fmt::Display, error: &crate::ottl::OttlError) -> Result<(), PipelineError> {
        match self {
            ErrorMode::Propagate => Err(PipelineError::permanent(format!("{component}: {statement}: {error}"))),
            ErrorMode::Ignore => {
                tracing::warn!(%component, %statement, %error, "OTTL error ignored (error_mode: ignore)");
                Ok(())
            }
            ErrorMode::Silent => Ok(()),
        }
    }
}
