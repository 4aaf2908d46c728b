//! Pieces shared by several pages: URL query state, the filter box, pickers, attribute tables,
//! charts, the trace views beside the waterfall (flame graph, statistics), opening trace files, empty
//! states and keyboard navigation.

pub mod attrs;
pub mod charts;
pub mod flame;
pub mod keys;
pub mod open_file;
pub mod query;
pub mod search;
pub mod theme;
pub mod ticks;
pub mod trace_stats;

use leptos::prelude::*;

/// Copies `text` to the clipboard; the label says "copied" for a moment after.
#[component]
pub fn CopyButton(#[prop(into)] text: Signal<String>, #[prop(optional, into)] label: Option<String>) -> impl IntoView {
    let label = label.unwrap_or_else(|| "copy".into());
    let copied = RwSignal::new(false);
    let shown = label.clone();
    view! {
        <button
            class="copy"
            title="Copy to the clipboard"
            on:click=move |ev| {
                ev.stop_propagation();
                // Browsers offer the clipboard only to secure pages (https or localhost).
                let navigator = window().navigator();
                if js_sys::Reflect::has(&navigator, &"clipboard".into()).unwrap_or(false) {
                    let _ = navigator.clipboard().write_text(&text.get_untracked());
                }
                copied.set(true);
                set_timeout(move || copied.set(false), std::time::Duration::from_millis(1200));
            }
        >
            {move || if copied.get() { "copied".to_string() } else { shown.clone() }}
        </button>
    }
}

/// What a page shows when there is nothing to show yet: how to get data in.
#[component]
pub fn EmptyState(#[prop(into)] what: String) -> impl IntoView {
    // The box's own OTLP/HTTP endpoint (its port may not be the default 4318).
    let status = LocalResource::new(|| crate::api::get::<crate::wire::StatusResponse, _>(crate::wire::routes::STATUS, &()));
    let env = Signal::derive(move || {
        let endpoint = status
            .get()
            .and_then(|s| s.ok())
            .map(|s| s.endpoints.otlp_http)
            .unwrap_or_else(|| "http://127.0.0.1:4318".into());
        format!("export OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}")
    });
    view! {
        <div class="empty">
            <h3>{format!("No {what} yet")}</h3>
            <p>"Point any OpenTelemetry SDK at otelbox:"</p>
            <pre class="snippet">{env}</pre>
            <CopyButton text=env label="copy"/>
            <p>"or load demo data (LLM-agent runs, logs and metrics) with "<code>"otelbox gen"</code>"."</p>
            <p class="muted">"See " <a href="/setup">"Setup"</a> " for every endpoint and protocol."</p>
        </div>
    }
}

/// A request failed: say why, in the page.
#[component]
pub fn ErrorNote(#[prop(into)] message: String) -> impl IntoView {
    view! { <div class="error-note" role="alert">{message}</div> }
}

/// Shown while the first answer is on its way.
#[component]
pub fn Loading() -> impl IntoView {
    view! { <div class="loading muted">"Loading…"</div> }
}
