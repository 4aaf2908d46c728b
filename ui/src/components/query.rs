//! Page state lives in the URL's query string, so every view can be linked and survives a reload.

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;

/// A reactive reader of one query parameter ("" when absent). It changes only when that parameter
/// does, and decodes the raw query string once (the router's own map decodes values a second time,
/// which would turn a literal `%20` in a filter into a space).
pub fn param(key: &'static str) -> Signal<String> {
    let search = use_location().search;
    Memo::new(move |_| {
        let raw = search.get();
        web_sys::UrlSearchParams::new_with_str(&raw)
            .ok()
            .and_then(|params| params.get(key))
            .unwrap_or_default()
    })
    .into()
}

/// Returns a function that changes some query parameters (an empty value removes one) and keeps the
/// rest, adding a history entry (Back undoes it). Call it in a component's body; the function itself
/// may be called from event handlers.
pub fn setter() -> impl Fn(&[(&str, String)]) + Clone + 'static {
    navigator(false)
}

/// Like `setter`, but replaces the current history entry: for values typed key by key.
pub fn replacer() -> impl Fn(&[(&str, String)]) + Clone + 'static {
    navigator(true)
}

fn navigator(replace: bool) -> impl Fn(&[(&str, String)]) + Clone + 'static {
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
        // Changing a parameter is not a new page: keep the scroll position.
        navigate(
            &target,
            NavigateOptions {
                replace,
                scroll: false,
                ..Default::default()
            },
        );
    }
}

/// The page's time window as the API takes it: the `start`/`end` a zoom set (unix ns) when there
/// are, else `since` (`default_since` when absent).
pub fn time_window(default_since: &'static str) -> Signal<crate::wire::WindowParams> {
    let (start, end, since) = (param("start"), param("end"), param("since"));
    Signal::derive(move || {
        let (start, end) = (start.get(), end.get());
        if !start.is_empty() {
            crate::wire::WindowParams {
                start: Some(start),
                end: crate::wire::non_empty(end),
                since: None,
            }
        } else {
            let since = since.get();
            crate::wire::WindowParams::since(if since.is_empty() { default_since.to_string() } else { since })
        }
    })
}

/// A window's range in unix ns (`since` counted back from now): what a chart's x axis covers.
pub fn resolve(window: &crate::wire::WindowParams) -> (i64, i64) {
    let now = (js_sys::Date::now() * 1e6) as i64;
    let parse = |v: &Option<String>| v.as_deref().and_then(|v| v.trim().parse::<i64>().ok());
    let end = parse(&window.end).unwrap_or(now);
    let start = parse(&window.start)
        .or_else(|| window.since.as_deref().and_then(super::ticks::parse_since).map(|d| end - d))
        .unwrap_or(end - 3_600_000_000_000);
    (start, end.max(start + 1))
}

/// A zoom: makes `(start, end)` (unix ns) the page's time range, as a new history entry (Back
/// undoes it); `since` stays for when the zoom is reset.
pub fn zoomer() -> Callback<(i64, i64)> {
    let set = setter();
    Callback::new(move |(start, end): (i64, i64)| {
        set(&[("start", start.to_string()), ("end", end.max(start + 1).to_string())]);
    })
}
