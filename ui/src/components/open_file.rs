//! Opening an OTLP/JSON trace file in the browser: a button (and dropping a file on the traces page)
//! reads it with `otlp_file` and shows it on `/traces/file`. The file stays in this tab's memory: it is
//! never sent to the box, so a reload forgets it.

use crate::otlp_file::{self, FileTrace};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use std::sync::Arc;
use wasm_bindgen::JsCast;

/// A file read into the tab.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenedFile {
    pub name: String,
    pub traces: Arc<Vec<FileTrace>>,
    /// Requests of other signals in it (skipped).
    pub other_requests: usize,
}

/// The opened file and the last file error, shared by the traces list and the file page.
#[derive(Clone, Copy)]
pub struct FileState {
    pub opened: RwSignal<Option<OpenedFile>>,
    pub error: RwSignal<Option<String>>,
}

/// Called once by the app shell.
pub fn provide() {
    provide_context(FileState {
        opened: RwSignal::new(None),
        error: RwSignal::new(None),
    });
}

pub fn state() -> FileState {
    use_context::<FileState>().expect("the app shell provides FileState")
}

/// Returns a function that reads a picked or dropped file and, when it holds traces, opens it on
/// `/traces/file` (the trace itself when there is one). Call it in a component's body.
pub fn opener() -> impl Fn(web_sys::File) + Clone + 'static {
    let state = state();
    let navigate = use_navigate();
    move |file: web_sys::File| {
        let navigate = navigate.clone();
        let name = file.name();
        leptos::task::spawn_local(async move {
            let text = match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                Ok(text) => text.as_string().unwrap_or_default(),
                Err(_) => {
                    state.error.set(Some(format!("{name}: the browser could not read the file")));
                    return;
                }
            };
            match otlp_file::parse(&text) {
                Ok(parsed) => {
                    state.error.set(None);
                    let target = match parsed.traces.as_slice() {
                        [only] => format!("/traces/file?trace={}", only.trace_id),
                        _ => "/traces/file".to_string(),
                    };
                    state.opened.set(Some(OpenedFile {
                        name,
                        traces: Arc::new(parsed.traces),
                        other_requests: parsed.other_requests,
                    }));
                    navigate(&target, Default::default());
                }
                Err(e) => state.error.set(Some(format!("{name}: {e}"))),
            }
        });
    }
}

/// The first file of a drop, for pages that accept dropped files.
pub fn dropped_file(event: &web_sys::DragEvent) -> Option<web_sys::File> {
    event.data_transfer()?.files()?.get(0)
}

/// "Open file…": a file picker for OTLP/JSON, and the last file error under it.
#[component]
pub fn OpenFileButton() -> impl IntoView {
    let state = state();
    let open = opener();
    view! {
        <span class="open-file">
            <label class="button" for="open-file" title="View an OTLP/JSON trace file (a trace download, or otelbox export's JSON Lines) without storing it">
                "Open file…"
            </label>
            <input id="open-file" type="file" accept=".json,.jsonl,.ndjson,application/json" class="hidden"
                on:change=move |ev| {
                    let input = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
                    if let Some(input) = input {
                        if let Some(file) = input.files().and_then(|files| files.get(0)) {
                            open(file);
                        }
                        // The same file picked again must fire `change` again.
                        input.set_value("");
                    }
                }/>
        </span>
        {move || state.error.get().map(|e| view! { <div class="error-note file-error" role="alert">{e}</div> })}
    }
}
