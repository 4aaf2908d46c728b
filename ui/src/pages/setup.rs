//! Setup and status: the endpoints, environment variables to paste into an SDK's shell, the ingest
//! counters (received, dropped by processors, stored), storage size and retention, every receiver
//! with where it listens or what it reads, and the active pipelines with each stage's counters in
//! pipeline order.

use crate::api;
use crate::app::refresh_tick;
use crate::components::{CopyButton, ErrorNote, Loading};
use crate::format;
use crate::wire::{SignalCounts, StatusResponse};
use leptos::prelude::*;

#[component]
pub fn SetupPage() -> impl IntoView {
    let status = LocalResource::new(move || {
        refresh_tick();
        api::get::<StatusResponse, _>(crate::wire::routes::STATUS, &())
    });
    view! {
        <section class="page">
            <h2>"Setup and status"</h2>
            {move || match status.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok(s)) => view! { <Status status=s/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Status(status: StatusResponse) -> impl IntoView {
    let http = status.endpoints.otlp_http.clone();
    let grpc = status.endpoints.otlp_grpc.clone();
    let http_env = format!(
        "export OTEL_EXPORTER_OTLP_ENDPOINT={http}\nexport OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\nexport OTEL_SERVICE_NAME=my-service"
    );
    let grpc_env =
        format!("export OTEL_EXPORTER_OTLP_ENDPOINT={grpc}\nexport OTEL_EXPORTER_OTLP_PROTOCOL=grpc\nexport OTEL_SERVICE_NAME=my-service");
    let storage = &status.storage;
    let retention = match (storage.retention_s, storage.max_bytes) {
        (None, None) => "kept until removed (no age or size limit)".to_string(),
        (age, size) => {
            let age = age
                .map(|s| format!("{} days", s as f64 / 86_400.0))
                .unwrap_or_else(|| "no age limit".into());
            let size = size
                .map(|b| format!("at most {}", format::bytes(b as i64)))
                .unwrap_or_else(|| "no size cap".into());
            format!("{age}, {size}")
        }
    };
    let ingest = &status.ingest;
    let last = if ingest.last_accepted_unix_nano > 0 {
        format::ago(ingest.last_accepted_unix_nano)
    } else {
        "never".into()
    };
    // Received is what senders were told was taken; processors may drop part of it before the
    // store, which also writes what connectors and scrapers make.
    let counters = [
        ("received (acknowledged)", &ingest.accepted),
        ("dropped by processors", &ingest.dropped),
        ("stored", &ingest.stored),
        ("refused (retryable: overload)", &ingest.refused),
        ("rejected (bad input)", &ingest.rejected),
    ]
    .into_iter()
    .map(|(label, c): (&str, &SignalCounts)| {
        view! {
            <tr><td>{label}</td><td class="num">{format::count(c.spans as i64)}</td><td class="num">{format::count(c.logs as i64)}</td><td class="num">{format::count(c.metric_points as i64)}</td></tr>
        }
    })
    .collect_view();
    let receivers = status
        .receivers
        .iter()
        .map(|r| {
            let listens = r
                .endpoints
                .iter()
                .map(|e| format!("{} {}", e.protocol, e.url))
                .chain(r.targets.iter().map(|t| format!("reads {t}")))
                .collect::<Vec<_>>()
                .join("\n");
            let pipelines = if r.pipelines.is_empty() {
                "not in a pipeline: not run".to_string()
            } else {
                r.pipelines.join(", ")
            };
            view! {
                <tr>
                    <td class="mono small">{r.id.clone()}</td>
                    <td class="mono small pre">{listens}</td>
                    <td class="small">{pipelines}</td>
                </tr>
            }
        })
        .collect_view();
    let pipelines = status
        .pipelines
        .iter()
        .map(|p| view! { <li class="mono small">{p.clone()}</li> })
        .collect_view();
    // What each pipeline component did; shared exporters and connectors show as pipeline `*`.
    let components = status
        .components
        .iter()
        .map(|c| {
            view! {
                <tr>
                    <td class="mono small">{c.pipeline.clone()}</td>
                    <td class="mono small">{c.component.clone()}</td>
                    <td class="small">{c.signal.clone()}</td>
                    <td class="num">{format::count(c.received as i64)}</td>
                    <td class="num">{format::count(c.sent as i64)}</td>
                    <td class="num">{format::count(c.dropped as i64)}</td>
                    <td class="num">{format::count(c.refused as i64)}</td>
                    <td class="num">{format::count(c.queued as i64)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="setup-grid">
            <section>
                <h3>"Send telemetry"</h3>
                <div class="kv">
                    <span class="k">"OTLP/HTTP"</span><span class="mono">{http.clone()}" "<CopyButton text=http.clone()/></span>
                    <span class="k">"OTLP/gRPC"</span><span class="mono">{grpc.clone()}" "<CopyButton text=grpc.clone()/></span>
                    <span class="k">"UI and API"</span><span class="mono">{status.endpoints.ui.clone()}</span>
                </div>
                <h4>"Any OpenTelemetry SDK, over HTTP/protobuf"</h4>
                <pre class="snippet">{http_env.clone()}</pre>
                <CopyButton text=http_env label="copy env"/>
                <h4>"Over gRPC"</h4>
                <pre class="snippet">{grpc_env.clone()}</pre>
                <CopyButton text=grpc_env label="copy env"/>
                <p class="small muted">"Demo data: " <code>"otelbox gen"</code> " · in CI: " <code>"otelbox run -- ./tests.sh"</code></p>
            </section>
            <section>
                <h3>"Ingest"</h3>
                <table class="list">
                    <thead><tr><th></th><th class="num">"spans"</th><th class="num">"logs"</th><th class="num">"metric points"</th></tr></thead>
                    <tbody>{counters}</tbody>
                </table>
                <p class="small muted">{format!("last data stored {last}")}</p>
            </section>
            <section>
                <h3>"Storage"</h3>
                <div class="kv">
                    <span class="k">"database"</span><span class="mono small">{storage.path.clone()}</span>
                    <span class="k">"size"</span><span>{format::bytes(storage.bytes)}</span>
                    <span class="k">"spans"</span><span>{format::count(storage.spans)}</span>
                    <span class="k">"log records"</span><span>{format::count(storage.logs)}</span>
                    <span class="k">"metric points"</span><span>{format::count(storage.metric_points)}</span>
                    <span class="k">"retention"</span><span>{retention}</span>
                </div>
            </section>
            <section class="wide">
                <h3>"Receivers"</h3>
                <table class="list receivers">
                    <thead><tr><th>"receiver"</th><th>"listens on / reads"</th><th>"pipelines"</th></tr></thead>
                    <tbody>{receivers}</tbody>
                </table>
            </section>
            <section class="wide">
                <h3>"Pipelines"</h3>
                <ul>{pipelines}</ul>
                <table class="list components">
                    <thead><tr>
                        <th>"pipeline"</th><th>"component"</th><th>"signal"</th><th class="num">"received"</th><th class="num">"sent"</th>
                        <th class="num">"dropped"</th><th class="num">"refused"</th><th class="num">"queued"</th>
                    </tr></thead>
                    <tbody>{components}</tbody>
                </table>
                <p class="small muted">{format!("otelbox {} · up {}", status.version, format::duration((status.uptime_s * 1e9) as i64))}</p>
            </section>
        </div>
    }
}
