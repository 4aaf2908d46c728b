//! Page state lives in the URL's query string, so every view can be linked and survives a reload.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

/// A reactive reader of one query parameter ("" when absent).
pub fn param(key: &'static str) -> Signal<String> {
    let query = use_query_map();
    Signal::derive(move || query.read().get(key).unwrap_or_default())
}

/// Returns a function that changes some query parameters (an empty value removes one) and keeps the rest.
/// Call it in a component's body; the function itself may be called from event handlers.
pub fn setter() -> impl Fn(&[(&str, String)]) + Clone + 'static {
    let navigate = use_navigate();
    move |updates: &[(&str, String)]| {
        let location = window().location();
        let search = location.search().unwrap_or_default();
        let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else {
            return;
        };
        for (key, value) in updates {
            if value.is_empty() {
                params.delete(key);
            } else {
                params.set(key, value);
            }
        }
        let path = location.pathname().unwrap_or_default();
        let query: String = params.to_string().into();
        let target = if query.is_empty() { path } else { format!("{path}?{query}") };
        navigate(&target, NavigateOptions::default());
    }
}
