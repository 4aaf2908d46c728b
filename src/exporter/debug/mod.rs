//! The `debug` exporter: prints what reaches it to stderr in the Collector's debug exporter format.
//! `basic` prints one summary line per batch, `normal` adds one line per span, log record or data
//! point, and `detailed` dumps every resource, scope and item with all their fields and attributes.
//! The Collector's zap sampler is kept (`sampling_initial` batches a second per signal, then every
//! `sampling_thereafter`-th), so a busy pipeline does not drown the terminal.

mod render;

#[cfg(test)]
mod tests;

use crate::config::{ComponentId, Parser};
use crate::pdata::Signal;
use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError};
use crate::telemetry::PerSignal;
use futures::future::BoxFuture;
use serde_yaml_ng::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much the exporter prints (the Collector's `verbosity`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    #[default]
    Basic,
    Normal,
    Detailed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DebugExporterConfig {
    pub verbosity: Verbosity,
    /// Batches printed per signal in each second before sampling starts.
    pub sampling_initial: u64,
    /// After those, every this-many-th batch of the second is printed (0: none).
    pub sampling_thereafter: u64,
}

impl Default for DebugExporterConfig {
    /// The Collector's defaults: basic, and a sampler that lets everything through.
    fn default() -> Self {
        DebugExporterConfig {
            verbosity: Verbosity::Basic,
            sampling_initial: 2,
            sampling_thereafter: 1,
        }
    }
}

crate::exporter_factory!(Factory, "debug", parse, DebugExporter::new);

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> DebugExporterConfig {
    let mut config = DebugExporterConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["verbosity", "sampling_initial", "sampling_thereafter"], path);
    if let Some(v) = body.get("verbosity") {
        let at = format!("{path}.verbosity");
        if let Some(text) = p.string(v, &at) {
            match text.to_ascii_lowercase().as_str() {
                "basic" => config.verbosity = Verbosity::Basic,
                "normal" => config.verbosity = Verbosity::Normal,
                "detailed" => config.verbosity = Verbosity::Detailed,
                _ => p.error(&at, format!("expected basic, normal or detailed, got '{text}'")),
            }
        }
    }
    if let Some(v) = body.get("sampling_initial") {
        config.sampling_initial = p
            .unsigned(v, &format!("{path}.sampling_initial"))
            .unwrap_or(config.sampling_initial);
    }
    if let Some(v) = body.get("sampling_thereafter") {
        config.sampling_thereafter = p
            .unsigned(v, &format!("{path}.sampling_thereafter"))
            .unwrap_or(config.sampling_thereafter);
    }
    config
}

pub struct DebugExporter {
    printer: Arc<Printer>,
    counters: PerSignal,
}

/// What the blocking print step needs; shared with it through an `Arc`.
struct Printer {
    id: String,
    config: DebugExporterConfig,
    out: Mutex<Box<dyn Write + Send>>,
    /// Per signal: the start of the current one-second window and the batches seen in it.
    windows: Mutex<[(Option<Instant>, u64); 3]>,
}

impl DebugExporter {
    /// `data_dir` is where a persistent sending queue lives (None: an in-memory box).
    pub fn new(
        id: &ComponentId,
        config: &DebugExporterConfig,
        _queue_dir: Option<crate::extension::StorageDir<'_>>,
        counters: PerSignal,
    ) -> anyhow::Result<Self> {
        Ok(DebugExporter::with_output(id, config, counters, Box::new(std::io::stderr())))
    }

    fn with_output(id: &ComponentId, config: &DebugExporterConfig, counters: PerSignal, out: Box<dyn Write + Send>) -> Self {
        DebugExporter {
            printer: Arc::new(Printer {
                id: id.to_string(),
                config: config.clone(),
                out: Mutex::new(out),
                windows: Mutex::new([(None, 0); 3]),
            }),
            counters,
        }
    }
}

impl Printer {
    /// The zap sampler's rule: within each second, the first `sampling_initial` batches of a signal
    /// are printed, then every `sampling_thereafter`-th.
    fn sample(&self, signal: Signal, now: Instant) -> bool {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let (start, seen) = &mut windows[signal_index(signal)];
        if start.is_none_or(|s| now.duration_since(s) >= Duration::from_secs(1)) {
            *start = Some(now);
            *seen = 0;
        }
        *seen += 1;
        let (initial, thereafter) = (self.config.sampling_initial, self.config.sampling_thereafter);
        *seen <= initial || (thereafter > 0 && (*seen - initial) % thereafter == 0)
    }

    /// Debug output is best effort, as in the Collector: a closed stderr does not fail the data.
    fn print<T: PipelineData>(&self, data: &T) {
        let text = render::render(&self.id, self.config.verbosity, data);
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

fn signal_index(signal: Signal) -> usize {
    match signal {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
    }
}

impl<T: PipelineData> Consumer<T> for DebugExporter {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        let printer = self.printer.clone();
        let counters = self.counters.get(T::SIGNAL).clone();
        Box::pin(async move {
            let Envelope { data, acks } = envelope;
            let items = data.item_count();
            if printer.sample(T::SIGNAL, Instant::now()) {
                // A detailed dump of a large batch, written to a slow terminal or pipe, takes longer
                // than a tokio worker may be blocked.
                if tokio::task::spawn_blocking(move || printer.print(&data)).await.is_err() {
                    let error = PipelineError::retryable("internal error while printing in the debug exporter; retry later");
                    Envelope::<T> { data: T::default(), acks }.fail(&error);
                    return Err(error);
                }
            }
            counters.record_sent(items);
            Envelope::<T> { data: T::default(), acks }.commit();
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        let printer = self.printer.clone();
        Box::pin(async move {
            let _ = tokio::task::spawn_blocking(move || {
                let _ = printer.out.lock().unwrap_or_else(|e| e.into_inner()).flush();
            })
            .await;
        })
    }
}
