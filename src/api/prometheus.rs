//! The Prometheus text of `/metrics`: the ingest counters, the per-component counters
//! (`telemetry::render_components`), the store's figures and the process's.

use crate::pdata::Signal;
use crate::store::StoreStats;
use crate::telemetry::{render_components, Components, IngestStats, SignalCounters};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Prometheus text exposition of the ingest counters and the store's figures.
pub fn render_prometheus(ingest: &IngestStats, components: &Components, store: &StoreStats, rss_bytes: u64, uptime_s: f64) -> String {
    let mut out = String::new();
    type Field = fn(&SignalCounters) -> &AtomicU64;
    let counters: [(&str, &str, Field); 6] = [
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
        (
            "otelbox_receiver_scrape_errors_total",
            "scrapes of a scraping receiver that failed (nothing is sent for them)",
            |c| &c.scrape_errors,
        ),
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
        (
            "otelbox_store_spans_packed_total",
            "span rows moved into compressed packs",
            get(&store.spans_packed),
        ),
        ("otelbox_store_logs_written_total", "log records written", get(&store.logs_written)),
        (
            "otelbox_store_points_written_total",
            "metric points written",
            get(&store.points_written),
        ),
        (
            "otelbox_store_duplicate_spans_total",
            "spans not stored again: the same trace id and span id was stored already (the first copy is kept)",
            get(&store.duplicate_spans),
        ),
        (
            "otelbox_store_overflow_points_total",
            "metric points stored in their metric's otel.metric.overflow series (over 2,000 series per metric and resource)",
            get(&store.overflow_points),
        ),
        (
            "otelbox_store_unreferenced_removed_total",
            "metric series, resources and scopes deleted once no stored row used them",
            get(&store.unreferenced_removed),
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
