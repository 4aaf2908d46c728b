//! `/traces/file`: a trace file opened in the browser (`components::open_file`), never stored. Several
//! traces are listed to choose from; the chosen one (`trace` parameter) is shown by the trace page's
//! own views.

use crate::components::open_file::{self, OpenFileButton};
use crate::components::query;
use crate::format;
use crate::pages::trace::{Loaded, TraceView};
use leptos::prelude::*;

#[component]
pub fn TraceFilePage() -> impl IntoView {
    let state = open_file::state();
    let chosen = query::param("trace");
    let set_query = query::setter();
    let body = move || {
        let Some(file) = state.opened.get() else {
            return view! {
                <h2>"Open a trace file"</h2>
                <p class="muted">
                    "No file is open. A file is read in this browser only (never sent to otelbox), so a reload forgets it. "
                    "Open an OTLP/JSON file: a trace page's download, or the JSON Lines "<code>"otelbox export"</code>" writes."
                </p>
                <OpenFileButton/>
            }
            .into_any();
        };
        let id = chosen.get();
        if let Some(trace) = file.traces.iter().find(|t| t.trace_id == id) {
            return view! { <TraceView loaded=Loaded::new(trace.spans.clone()) trace_id=trace.trace_id.clone() file=file.name.clone()/> }
                .into_any();
        }
        let set_query = set_query.clone();
        let rows = file
            .traces
            .iter()
            .map(|t| {
                let id = t.trace_id.clone();
                let set_query = set_query.clone();
                view! {
                    <tr class="clickable" on:click=move |_| set_query(&[("trace", id.clone())])>
                        <td>
                            <span class="trace-name">{t.title()}</span>
                            <div class="muted small mono">{t.trace_id.clone()}</div>
                        </td>
                        <td>{format::time(t.start_ns())}</td>
                        <td>{format::duration(t.duration_ns())}</td>
                        <td class="num">{t.spans.len()}</td>
                    </tr>
                }
            })
            .collect_view();
        let skipped = if file.other_requests > 0 {
            format!(" ({} requests of logs or metrics skipped)", file.other_requests)
        } else {
            String::new()
        };
        view! {
            <h2>{format!("{}: {} traces", file.name, file.traces.len())}</h2>
            <div class="file-banner" role="note">
                {format!("Read in this browser only, not stored in otelbox{skipped}. Choose a trace.")}
            </div>
            {(!id.is_empty()).then(|| view! { <p class="error-note">{format!("The file has no trace {id}.")}</p> })}
            <OpenFileButton/>
            <table class="list file-traces">
                <thead><tr><th>"Trace"</th><th>"Start"</th><th>"Duration"</th><th class="num">"Spans"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! { <section class="page">{body}</section> }
}
