//! Exporters: where a pipeline's data ends up. `storage` is otelbox's own SQLite store; the others
//! forward (`otlp`, `otlphttp`), print (`debug`) or write files (`file`). The forwarding exporters
//! share `sender` (the consumer side, delivery workers), `queue` (the persistent sending queue) and
//! `retry` (backoff and the retryable-or-not rules). Each type registers an `ExporterFactory`
//! (`crate::components`). Exporters never see extensions: the service hands `otlp` and `otlphttp`
//! the `Authorization` value of the client authenticator their `auth` names
//! (`ExporterContext::authorization`, fixed or current per request).

pub mod debug;
pub mod file;
pub mod loadbalancing;
pub mod nop;
pub mod otlp;
pub mod otlphttp;
pub mod prometheus;
pub mod prometheusremotewrite;
pub mod queue;
pub mod retry;
pub mod sender;
pub mod storage;
pub mod zipkin;

use crate::config::{ComponentId, ComponentType, Settings};
use crate::extension::StorageDir;
use crate::pipeline::SignalConsumers;
use crate::store::Store;
use crate::telemetry::PerSignal;
use std::sync::Arc;

/// Builds an exporter type's one instance, shared by every pipeline using it.
pub trait ExporterFactory: ComponentType {
    /// The instance's consumers, one per signal it takes.
    fn build(&self, context: &ExporterContext<'_>, settings: &Settings) -> anyhow::Result<SignalConsumers>;
}

/// Declares `$factory`, the factory of an exporter type taking every signal, built by
/// `$new(&ComponentId, &Settings, Option<&Path>, PerSignal) -> anyhow::Result<_>`:
/// `exporter_factory!(Factory, "debug", parse, DebugExporter::new);` (aliases may follow).
#[macro_export]
macro_rules! exporter_factory {
    ($factory:ident, $name:literal, $parse:path, $new:path $(, aliases: $aliases:expr)? $(, refs: $refs:path)?) => {
        pub struct $factory;
        $crate::component_type!($factory, $name, &$crate::pdata::Signal::ALL, $parse $(, aliases: $aliases)? $(, refs: $refs)?);
        impl $crate::exporter::ExporterFactory for $factory {
            fn build(
                &self,
                context: &$crate::exporter::ExporterContext<'_>,
                settings: &$crate::config::Settings,
            ) -> anyhow::Result<$crate::pipeline::SignalConsumers> {
                let exporter = $new(context.id, settings.get(), context.queue_dir, context.counters.clone())?;
                Ok($crate::pipeline::SignalConsumers::all(std::sync::Arc::new(exporter)))
            }
        }
    };
}

/// What an exporter instance is built with besides its settings.
pub struct ExporterContext<'a> {
    pub id: &'a ComponentId,
    pub store: &'a Arc<Store>,
    /// Where persistent sending queues live: the directory of the storage extension its settings
    /// name (`sending_queue.storage`), else the box's data directory; None for an in-memory box.
    pub queue_dir: Option<StorageDir<'a>>,
    /// Its counters per signal (the topology counts what it receives and refuses; the exporter
    /// counts what it sends, queues and drops).
    pub counters: PerSignal,
    /// The `Authorization` value every request carries (marked sensitive), which the service got
    /// from the client authenticator extension its `auth.authenticator` names: fixed, or asked for
    /// before each request (`ClientAuthorization::current`); None without `auth`.
    pub authorization: Option<crate::extension::ClientAuthorization>,
}

/// Where an exporter's `extension_refs` name its client authenticator (`auth.authenticator`); its
/// other references (`sending_queue.storage`) are storage extensions.
pub const AUTHENTICATOR_REF: &str = "auth.authenticator";

/// A UTC calendar date and time, for the exporters that print or name things by time (the debug
/// exporter's timestamps, the file exporter's backup names) without a date-time crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct UtcTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
}

impl UtcTime {
    pub fn from_unix_nanos(unix_nanos: u64) -> UtcTime {
        let seconds = unix_nanos / 1_000_000_000;
        let (year, month, day) = crate::calendar::civil_from_days((seconds / 86_400) as i64);
        let of_day = seconds % 86_400;
        UtcTime {
            year,
            month,
            day,
            hour: (of_day / 3600) as u32,
            minute: (of_day / 60 % 60) as u32,
            second: (of_day % 60) as u32,
            nanos: (unix_nanos % 1_000_000_000) as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::UtcTime;

    #[test]
    fn unix_nanos_become_utc_calendar_times() {
        assert_eq!(
            UtcTime::from_unix_nanos(0),
            UtcTime {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
                nanos: 0
            }
        );
        // 2020-02-11T20:26:12.000000321Z, and a leap day.
        let t = UtcTime::from_unix_nanos(1_581_452_772_000_000_321);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second, t.nanos),
            (2020, 2, 11, 20, 26, 12, 321)
        );
        let t = UtcTime::from_unix_nanos(1_709_164_800 * 1_000_000_000);
        assert_eq!((t.year, t.month, t.day), (2024, 2, 29));
    }
}
