//! otelbox's own counters (accepted / refused / rejected items per signal, storage figures) and
//! their Prometheus text rendering for `/metrics`.

use crate::pdata::Signal;
use crate::store::StoreStats;
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

/// Prometheus text exposition of the ingest counters and the store's figures.
pub fn render_prometheus(ingest: &IngestStats, components: &Components, store: &StoreStats, rss_bytes: u64, uptime_s: f64) -> String {
    let mut out = String::new();
    type Field = fn(&SignalCounters) -> &AtomicU64;
    let counters: [(&str, &str, Field); 5] = [
        ("otelbox_receiver_accepted_items_total", "items stored and acknowledged", |c| {
            &c.accepted
        }),
        (
            "otelbox_receiver_refused_items_total",
            "items refused retryably (overload, memory limit, storage errors)",
            |c| &c.refused,
        ),
        ("otelbox_receiver_rejected_items_total", "items rejected as invalid", |c| {
            &c.rejected
        }),
        ("otelbox_receiver_requests_total", "export requests received", |c| &c.requests),
        ("otelbox_receiver_bad_requests_total", "export requests answered with a 4xx", |c| {
            &c.bad_requests
        }),
    ];
    for (name, help, field) in counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for signal in Signal::ALL {
            let _ = writeln!(
                out,
                "{name}{{signal=\"{}\"}} {}",
                signal.as_str(),
                get(field(ingest.signal(signal)))
            );
        }
    }
    let name = "otelbox_processor_dropped_items_total";
    let _ = writeln!(
        out,
        "# HELP {name} items dropped on purpose by processors (sampling, filtering)\n# TYPE {name} counter"
    );
    for signal in Signal::ALL {
        let _ = writeln!(out, "{name}{{signal=\"{}\"}} {}", signal.as_str(), components.dropped(signal));
    }
    out.push_str(&render_components(components));
    let store_counters = [
        ("otelbox_store_commits_total", "write transactions committed", get(&store.commits)),
        (
            "otelbox_store_commit_seconds_total",
            "time spent in write transactions",
            get(&store.commit_micros) / 1_000_000,
        ),
        (
            "otelbox_store_write_errors_total",
            "write transactions that failed",
            get(&store.write_errors),
        ),
        (
            "otelbox_store_refused_at_cap_total",
            "write groups refused retryably while retention made room under the size cap",
            get(&store.refused_at_cap),
        ),
        ("otelbox_store_spans_written_total", "spans written", get(&store.spans_written)),
        ("otelbox_store_logs_written_total", "log records written", get(&store.logs_written)),
        (
            "otelbox_store_points_written_total",
            "metric points written",
            get(&store.points_written),
        ),
        (
            "otelbox_store_rows_expired_total",
            "rows deleted by retention",
            get(&store.rows_expired),
        ),
    ];
    for (name, help, value) in store_counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
    }
    let step_max = get(&store.retention_step_max_micros) as f64 / 1e6;
    let _ = writeln!(out, "# HELP otelbox_store_retention_step_max_seconds the longest retention step (writer busy deleting)\n# TYPE otelbox_store_retention_step_max_seconds gauge\notelbox_store_retention_step_max_seconds {step_max:.6}");
    let _ = writeln!(out, "# HELP otelbox_process_resident_memory_bytes resident memory\n# TYPE otelbox_process_resident_memory_bytes gauge\notelbox_process_resident_memory_bytes {rss_bytes}");
    let _ = writeln!(
        out,
        "# HELP otelbox_uptime_seconds seconds since start\n# TYPE otelbox_uptime_seconds gauge\notelbox_uptime_seconds {uptime_s:.3}"
    );
    out
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

    fn new(pipeline: &str, component: &str, signal: Signal) -> ComponentCounters {
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

    pub fn add(counter: &AtomicU64, items: usize) {
        counter.fetch_add(items as u64, Ordering::Relaxed);
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
