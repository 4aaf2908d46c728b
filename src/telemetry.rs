//! otelbox's own counters: accepted / refused / rejected items per signal, and per pipeline
//! component (`ComponentCounters`, with the `record_*` helpers every component counts through) and
//! their Prometheus lines; `api::prometheus` renders the whole of `/metrics`.

use crate::pdata::Signal;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct SignalCounters {
    /// Items stored (acknowledged to the sender).
    pub accepted: AtomicU64,
    /// Items refused retryably (overload, memory limit, storage errors): the sender keeps them.
    pub refused: AtomicU64,
    /// Items rejected as invalid (bad ids, undecodable requests count as one request each).
    pub rejected: AtomicU64,
    pub requests: AtomicU64,
    pub bad_requests: AtomicU64,
    /// Scrapes of a scraping receiver (nginx, redis) that failed: the target did not answer, or
    /// answered something unreadable. Nothing is sent for them, as in the Collector.
    pub scrape_errors: AtomicU64,
    /// Unix nanoseconds of the last stored item.
    pub last_accepted_ns: AtomicU64,
}

#[derive(Default)]
pub struct IngestStats {
    pub traces: SignalCounters,
    pub metrics: SignalCounters,
    pub logs: SignalCounters,
}

impl IngestStats {
    pub fn signal(&self, signal: Signal) -> &SignalCounters {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// What one pipeline component did with the items that reached it. Processors are counted per
/// pipeline (each pipeline has its own instance); shared exporters once, with pipeline `*`.
pub struct ComponentCounters {
    pub pipeline: String,
    /// `processor/filter/noise`, `exporter/otlphttp/upstream`, `connector/spanmetrics`.
    pub component: String,
    pub signal: Signal,
    /// Items handed to the component.
    pub received: AtomicU64,
    /// Items it passed on (for an exporter: delivered to its destination).
    pub sent: AtomicU64,
    /// Items dropped on purpose (sampling, filtering, a permanent failure upstream).
    pub dropped: AtomicU64,
    /// Items refused retryably (the sender keeps them).
    pub refused: AtomicU64,
    /// Items waiting in the component (an exporter's sending queue); a gauge.
    pub queued: AtomicU64,
}

impl ComponentCounters {
    /// Counters not registered anywhere, for unit tests of a component.
    pub fn detached(component: &str) -> std::sync::Arc<ComponentCounters> {
        std::sync::Arc::new(ComponentCounters::new("test", component, Signal::Traces))
    }

    pub fn new(pipeline: &str, component: &str, signal: Signal) -> ComponentCounters {
        ComponentCounters {
            pipeline: pipeline.to_string(),
            component: component.to_string(),
            signal,
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            queued: AtomicU64::new(0),
        }
    }

    /// Items that reached the component (counted by the topology's `Tap` around it).
    pub fn record_received(&self, items: usize) {
        self.received.fetch_add(items as u64, Ordering::Relaxed);
    }

    /// Items it passed on, or an exporter delivered.
    pub fn record_sent(&self, items: usize) {
        self.sent.fetch_add(items as u64, Ordering::Relaxed);
    }

    /// Items it dropped on purpose or after a permanent failure.
    pub fn record_dropped(&self, items: usize) {
        self.dropped.fetch_add(items as u64, Ordering::Relaxed);
    }

    /// Items it refused retryably (counted by the topology's `Tap`).
    pub fn record_refused(&self, items: usize) {
        self.refused.fetch_add(items as u64, Ordering::Relaxed);
    }

    /// Items that entered its queue.
    pub fn record_queued(&self, items: usize) {
        self.queued.fetch_add(items as u64, Ordering::Relaxed);
    }

    /// Items that left its queue (sent or dropped, counted as such too).
    pub fn record_dequeued(&self, items: usize) {
        self.queued.fetch_sub(items as u64, Ordering::Relaxed);
    }

    /// A component that holds items in memory (tail sampling) sets how many wait.
    pub fn set_queued(&self, items: usize) {
        self.queued.store(items as u64, Ordering::Relaxed);
    }
}

/// Every component's counters, in the order the pipelines were built.
#[derive(Default)]
pub struct Components {
    all: std::sync::Mutex<Vec<std::sync::Arc<ComponentCounters>>>,
}

impl Components {
    pub fn register(&self, pipeline: &str, component: &str, signal: Signal) -> std::sync::Arc<ComponentCounters> {
        let counters = std::sync::Arc::new(ComponentCounters::new(pipeline, component, signal));
        self.all.lock().expect("component registry").push(counters.clone());
        counters
    }

    pub fn snapshot(&self) -> Vec<std::sync::Arc<ComponentCounters>> {
        self.all.lock().expect("component registry").clone()
    }

    /// Items dropped on purpose by the processors of a signal's pipelines.
    pub fn dropped(&self, signal: Signal) -> u64 {
        self.snapshot()
            .iter()
            .filter(|c| c.signal == signal && c.component.starts_with("processor/"))
            .map(|c| get(&c.dropped))
            .sum()
    }
}

/// Prometheus text of the per-component counters.
pub fn render_components(components: &Components) -> String {
    let mut out = String::new();
    let all = components.snapshot();
    let _ = writeln!(
        out,
        "# HELP otelbox_component_items_total items per pipeline component and outcome\n# TYPE otelbox_component_items_total counter"
    );
    for c in &all {
        for (outcome, value) in [
            ("received", &c.received),
            ("sent", &c.sent),
            ("dropped", &c.dropped),
            ("refused", &c.refused),
        ] {
            let _ = writeln!(
                out,
                "otelbox_component_items_total{{pipeline=\"{}\",component=\"{}\",signal=\"{}\",outcome=\"{outcome}\"}} {}",
                escape_label(&c.pipeline),
                escape_label(&c.component),
                c.signal.as_str(),
                get(value)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP otelbox_component_queued_items items waiting in a component's queue\n# TYPE otelbox_component_queued_items gauge"
    );
    for c in all.iter().filter(|c| c.component.starts_with("exporter/")) {
        let _ = writeln!(
            out,
            "otelbox_component_queued_items{{pipeline=\"{}\",component=\"{}\",signal=\"{}\"}} {}",
            escape_label(&c.pipeline),
            escape_label(&c.component),
            c.signal.as_str(),
            get(&c.queued)
        );
    }
    out
}

/// A Prometheus label value: backslash, quote and newline escaped (component names are free text).
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// A shared component's counters, one set per signal (an exporter serves pipelines of several).
#[derive(Clone)]
pub struct PerSignal {
    pub traces: std::sync::Arc<ComponentCounters>,
    pub metrics: std::sync::Arc<ComponentCounters>,
    pub logs: std::sync::Arc<ComponentCounters>,
}

impl PerSignal {
    pub fn get(&self, signal: Signal) -> &std::sync::Arc<ComponentCounters> {
        match signal {
            Signal::Traces => &self.traces,
            Signal::Metrics => &self.metrics,
            Signal::Logs => &self.logs,
        }
    }

    /// Counters not registered anywhere, for unit tests of a component.
    pub fn detached(component: &str) -> PerSignal {
        let one = |signal| std::sync::Arc::new(ComponentCounters::new("test", component, signal));
        PerSignal {
            traces: one(Signal::Traces),
            metrics: one(Signal::Metrics),
            logs: one(Signal::Logs),
        }
    }

    pub fn register(components: &Components, pipeline: &str, component: &str) -> PerSignal {
        PerSignal {
            traces: components.register(pipeline, component, Signal::Traces),
            metrics: components.register(pipeline, component, Signal::Metrics),
            logs: components.register(pipeline, component, Signal::Logs),
        }
    }
}
