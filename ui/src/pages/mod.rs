//! One module per page of the UI; each page keeps its state in the URL's query string.

pub mod llm;
pub mod llm_compare;
pub mod llm_run;
pub mod logs;
pub mod metrics;
pub mod services;
pub mod setup;
pub mod trace;
pub mod trace_compare;
pub mod trace_file;
pub mod traces;

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section class="page">
            <h2>"Page not found"</h2>
            <p>"Try " <a href="/traces">"Traces"</a> ", " <a href="/logs">"Logs"</a> " or " <a href="/setup">"Setup"</a> "."</p>
        </section>
    }
}
