//! The otelbox web UI: a Leptos client-side app, compiled to wasm by `scripts/build-ui` and embedded in
//! the server binary. It talks only to the `/api/v1` endpoints of the page's own origin.

mod api;
mod app;
mod components;
mod find;
mod format;
mod otlp_file;
mod pages;
mod span_stats;
mod trace_diff;
mod tree;

/// The API contract (shapes, parameters, routes, enums): the crate the server compiles too, so the
/// two cannot drift apart.
use otelbox_wire as wire;

fn main() {
    console_error_panic_hook_set();
    leptos::mount::mount_to_body(app::App);
}

/// A panic in the UI shows in the browser console instead of as `unreachable` executed.
fn console_error_panic_hook_set() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into());
    }));
}
