//! Logs: full-text and filter search, a service filter, a severity histogram over the time range
//! (a bar or a dragged range narrows it), severity colours, a live tail over SSE with pause, rows
//! that expand to their attributes (a value clicked becomes a search condition, `≠` excludes it),
//! links to the trace and span of each record, and how many records match in all.

use crate::api;
use crate::app::refresh_tick;
use crate::components::attrs::{AttrTable, PickValue};
use crate::components::charts::{colour_for, SeverityBars};
use crate::components::search::{FilterBox, ServicePicker, SincePicker};
use crate::components::{keys, query, EmptyState, ErrorNote, Loading};
use crate::format;
use crate::wire::{self, LogHistogramResponse, LogRecord, LogsResponse};
use leptos::prelude::*;
use serde_json::Value;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Live-tail records kept on screen; older ones fall off the end.
const LIVE_LIMIT: usize = 500;
/// Records a search shows at most (the newest); the heading says how many match in all.
const SHOWN: usize = 300;

/// The CSS class (and fallback label) of an OTLP severity number.
pub fn severity_class(number: i32) -> &'static str {
    match number {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => "unset",
    }
}

/// What tells two log records apart on screen.
fn record_key(log: &LogRecord) -> String {
    format!(
        "{}|{}|{}|{}",
        log.time_unix_nano, log.observed_time_unix_nano, log.span_id, log.body
    )
}

fn toggle(expanded: RwSignal<Option<String>>, key: String) {
    expanded.update(|e| *e = if e.as_deref() == Some(key.as_str()) { None } else { Some(key) });
}

/// The filter sent to the API: the filter box's expression and the full-text words, together.
fn combined_filter(filter: &str, text: &str) -> String {
    let text = text.trim();
    match (filter.trim().is_empty(), text.is_empty()) {
        (true, true) => String::new(),
        (false, true) => filter.trim().to_string(),
        (true, false) => format!("body ~ {}", format::filter_literal(text)),
        (false, false) => format!("({}) and body ~ {}", filter.trim(), format::filter_literal(text)),
    }
}

/// Filter-language keys that are fields, not attributes: an attribute of that name is `attr["..."]`.
/// The server's list (`query::filter::BUILTIN_FIELDS`), which the wasm crate cannot import.
const FIELD_NAMES: [&str; 13] = [
    "service",
    "name",
    "kind",
    "status",
    "duration",
    "trace_id",
    "span_id",
    "severity",
    "body",
    "status.message",
    "scope.name",
    "scope.version",
    "event_name",
];

/// How the filter language names an attribute (`resource`: of the resource): bare when it can be
/// (`http.method`), else quoted (`attr["user name"]`, `resource["service.name"]`).
fn attribute_field(key: &str, resource: bool) -> String {
    let plain = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && !FIELD_NAMES.contains(&key)
        && !["resource.", "event.", "scope.", "status.", "llm.", "attr."]
            .iter()
            .any(|p| key.starts_with(p));
    match (resource, plain) {
        (true, true) => format!("resource.{key}"),
        (true, false) => format!("resource[{}]", format::filter_literal(key)),
        (false, true) => key.to_string(),
        (false, false) => format!("attr[{}]", format::filter_literal(key)),
    }
}

/// `field = value` (`!=` to exclude) for a scalar value; None for maps and lists.
fn condition(field: &str, value: &Value, exclude: bool) -> Option<String> {
    let literal = match value {
        Value::String(s) => format::filter_literal(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    Some(format!("{field} {} {literal}", if exclude { "!=" } else { "=" }))
}

/// The search with one more condition, joined with `and` (the search in parentheses when it has `or`).
fn with_condition(q: &str, condition: &str) -> String {
    let q = q.trim();
    if q.is_empty() {
        condition.to_string()
    } else if q.to_lowercase().contains(" or ") {
        format!("({q}) and {condition}")
    } else {
        format!("{q} and {condition}")
    }
}

/// An open live tail: the EventSource and its handlers (dropping a handler frees it).
struct Tail {
    source: web_sys::EventSource,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_open: Closure<dyn FnMut(web_sys::Event)>,
}

thread_local! {
    /// The one open live tail (an EventSource and its message handler), closed when replaced.
    static TAIL: RefCell<Option<Tail>> = const { RefCell::new(None) };
}

fn close_tail() {
    TAIL.with(|t| {
        if let Some(tail) = t.borrow_mut().take() {
            tail.source.close();
        }
    });
}

#[component]
pub fn LogsPage() -> impl IntoView {
    let q = query::param("q");
    let text = query::param("text");
    let service = query::param("service");
    let window = query::time_window("1h");
    let set_query = query::setter();
    let zoom = query::zoomer();

    let result = LocalResource::new(move || {
        let params = wire::LogsParams {
            q: wire::non_empty(combined_filter(&q.get(), &text.get())),
            service: wire::non_empty(service.get()),
            limit: Some(SHOWN),
            total: Some("true".into()),
            window: window.get(),
            ..Default::default()
        };
        refresh_tick();
        async move { api::get::<LogsResponse, _>(wire::routes::LOGS, &params).await }
    });
    // The severity histogram counts the same search over the same window.
    let histogram = LocalResource::new(move || {
        let window = window.get();
        let params = wire::LogHistogramParams {
            q: wire::non_empty(combined_filter(&q.get(), &text.get())),
            service: wire::non_empty(service.get()),
            buckets: Some(60),
            window,
            ..Default::default()
        };
        refresh_tick();
        async move { api::get::<LogHistogramResponse, _>(wire::routes::LOG_HISTOGRAM, &params).await }
    });
    // A value picked in an expanded record becomes a condition of the search.
    let pick = {
        let set_query = set_query.clone();
        Callback::new(move |(field, value, exclude): (String, Value, bool)| {
            if let Some(c) = condition(&field, &value, exclude) {
                set_query(&[("q", with_condition(&q.get_untracked(), &c))]);
            }
        })
    };
    let error = Signal::derive(move || result.get().and_then(|r| r.err()));

    // Live tail: records that arrived since it was switched on, newest first; held back while paused.
    let live = RwSignal::new(false);
    let paused = RwSignal::new(false);
    let live_rows = RwSignal::new(Vec::<LogRecord>::new());
    let held = RwSignal::new(Vec::<LogRecord>::new());
    let connected = RwSignal::new(false);
    Effect::new(move |_| {
        close_tail();
        connected.set(false);
        if !live.get() {
            return;
        }
        live_rows.set(Vec::new());
        held.set(Vec::new());
        paused.set(false);
        let params = wire::StreamParams {
            q: wire::non_empty(combined_filter(&q.get(), &text.get())),
            service: wire::non_empty(service.get()),
        };
        let Ok(source) = web_sys::EventSource::new(&api::url(wire::routes::STREAM_LOGS, &params)) else {
            return;
        };
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let Some(data) = event.data().as_string() else { return };
            let Ok(record) = serde_json::from_str::<LogRecord>(&data) else {
                return;
            };
            let target = if paused.get_untracked() { held } else { live_rows };
            target.update(|rows| {
                rows.insert(0, record);
                rows.truncate(LIVE_LIMIT);
            });
        });
        let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| connected.set(true));
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        TAIL.with(|t| {
            *t.borrow_mut() = Some(Tail {
                source,
                _on_message: on_message,
                _on_open: on_open,
            })
        });
    });
    on_cleanup(close_tail);

    // Live records first; a refetch (auto-refresh) may return some of them again: show each once.
    let rows = Memo::new(move |_| {
        let mut all = live_rows.get();
        let seen: std::collections::HashSet<String> = all.iter().map(record_key).collect();
        let fetched = result.get().and_then(|r| r.ok()).map(|r| r.logs).unwrap_or_default();
        all.extend(fetched.into_iter().filter(|l| !seen.contains(&record_key(l))));
        all
    });
    // The expanded record, by identity: live records arriving on top must not move it.
    let expanded = RwSignal::new(None::<String>);
    let selected = keys::list_keys(Signal::derive(move || rows.read().len()), move |i| {
        if let Some(record) = rows.get_untracked().get(i) {
            toggle(expanded, record_key(record));
        }
    });
    let set_text = set_query.clone();

    view! {
        <section class="page">
            <div class="toolbar">
                <FilterBox param="q" placeholder=r#"severity >= warn and service = checkout   ·   trace_id = "…""# error=error/>
                <div class="toolbar-row">
                    <input
                        class="text-search"
                        type="text"
                        placeholder="full-text search in log bodies"
                        prop:value=move || text.get()
                        on:change=move |ev| set_text(&[("text", event_target_value(&ev))])
                    />
                    <ServicePicker/>
                    <SincePicker/>
                    <button
                        class="live-toggle"
                        aria-pressed=move || live.get().to_string()
                        on:click=move |_| live.update(|l| *l = !*l)
                    >
                        {move || if live.get() { "■ Stop live tail" } else { "▶ Live tail" }}
                    </button>
                    {move || live.get().then(|| view! {
                        <button
                            class="pause"
                            aria-pressed=move || paused.get().to_string()
                            on:click=move |_| {
                                if paused.get_untracked() {
                                    let mut waiting = held.get_untracked();
                                    waiting.extend(live_rows.get_untracked());
                                    waiting.truncate(LIVE_LIMIT);
                                    live_rows.set(waiting);
                                    held.set(Vec::new());
                                }
                                paused.update(|p| *p = !*p);
                            }
                        >
                            {move || if paused.get() { format!("Resume ({} new)", held.read().len()) } else { "Pause".to_string() }}
                        </button>
                        <span class="live">
                            {move || match (connected.get(), paused.get()) {
                                (false, _) => "connecting…",
                                (true, true) => "paused",
                                (true, false) => "● live",
                            }}
                        </span>
                    })}
                </div>
            </div>
            {move || histogram.get().and_then(|h| h.ok()).map(|h| {
                let buckets: Vec<(i64, [i64; 7])> = h
                    .buckets
                    .iter()
                    .map(|b| {
                        let c = b.counts;
                        (b.start_unix_nano, [c.fatal, c.error, c.warn, c.info, c.debug, c.trace, c.unset])
                    })
                    .collect();
                // The axis covers whole steps: the first one begins before the window, the last ends after now.
                let first = h.buckets.first().map_or(h.start_unix_nano, |b| b.start_unix_nano);
                let last = h.buckets.last().map_or(h.end_unix_nano, |b| b.start_unix_nano + h.step_ns);
                let range = (first, last);
                view! { <SeverityBars buckets=buckets step_ns=h.step_ns range=range on_zoom=zoom/> }
            })}
            {move || result.get().and_then(|r| r.ok()).map(|r| r.warnings).unwrap_or_default().into_iter().map(|w| view! { <p class="search-warning">{w}</p> }).collect_view()}
            {move || match result.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) if e.column.is_some() => view! { <span></span> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok(_)) if rows.read().is_empty() && !live.get() => {
                    if q.get().is_empty() && text.get().is_empty() && service.get().is_empty() {
                        view! { <EmptyState what="logs"/> }.into_any()
                    } else {
                        view! { <p class="muted">"No log record matches. Widen the time range or loosen the search."</p> }.into_any()
                    }
                }
                Some(Ok(r)) => {
                    let fetched = r.logs.len();
                    let heading = format!("{} records", format::shown_of(fetched, r.total, r.total_capped));
                    view! { <LogTable rows=rows selected=selected expanded=expanded heading=heading live=live pick=pick/> }.into_any()
                }
            }}
        </section>
    }
}

#[component]
fn LogTable(
    rows: Memo<Vec<LogRecord>>,
    selected: RwSignal<Option<usize>>,
    expanded: RwSignal<Option<String>>,
    /// How many the search found of how many match.
    heading: String,
    live: RwSignal<bool>,
    pick: Callback<(String, Value, bool)>,
) -> impl IntoView {
    let body = move || {
        rows.get()
            .into_iter()
            .enumerate()
            .map(|(i, log)| {
                let level = severity_class(log.severity_number);
                let label = if log.severity_text.is_empty() { level.to_uppercase() } else { log.severity_text.clone() };
                let detail = log.clone();
                let key = record_key(&log);
                view! {
                    <tr
                        class="clickable log-row"
                        class:selected=move || selected.get() == Some(i)
                        on:click={
                            let key = key.clone();
                            move |_| toggle(expanded, key.clone())
                        }
                    >
                        <td class="nowrap small">{format::time(log.time_unix_nano)}</td>
                        <td><span class=format!("sev {level}")>{label}</span></td>
                        <td class="svc small" style=format!("color:{}", colour_for(&log.service))>{log.service.clone()}</td>
                        <td class="log-body">{format::value(&log.body)}</td>
                        <td class="small">
                            {(!log.trace_id.is_empty()).then(|| {
                                let href = format!("/traces/{}?span={}", log.trace_id, log.span_id);
                                view! { <a href=href class="mono" on:click=|ev| ev.stop_propagation()>{format::short_id(&log.trace_id)}</a> }
                            })}
                        </td>
                    </tr>
                    {move || (expanded.read().as_deref() == Some(key.as_str())).then(|| view! {
                        <tr class="log-detail-row">
                            <td colspan="5" class="log-detail">
                                <LogDetail log=detail.clone() pick=pick/>
                            </td>
                        </tr>
                    })}
                }
            })
            .collect_view()
    };
    view! {
        <p class="muted small list-heading">
            {move || if live.get() { format!("{} records (live) · ", rows.read().len()) } else { format!("{heading} · ") }}
            "j/k or ↑/↓ to move, Enter to expand, / to search · click a value in a record to search for it"
        </p>
        <table class="list logs-table">
            <thead><tr><th>"Time"</th><th>"Severity"</th><th>"Service"</th><th>"Body"</th><th>"Trace"</th></tr></thead>
            <tbody>{body}</tbody>
        </table>
    }
}

#[component]
fn LogDetail(log: LogRecord, pick: Callback<(String, Value, bool)>) -> impl IntoView {
    let trace_link = (!log.trace_id.is_empty()).then(|| {
        let trace_href = format!("/traces/{}", log.trace_id);
        let span_href = format!("/traces/{}?span={}", log.trace_id, log.span_id);
        view! {
            <p>
                "trace " <a class="mono" href=trace_href>{log.trace_id.clone()}</a>
                {(!log.span_id.is_empty()).then(|| view! { " · span " <a class="mono" href=span_href>{log.span_id.clone()}</a> })}
            </p>
        }
    });
    let level = severity_class(log.severity_number);
    // Attribute tables name keys bare; the picked condition names them the filter language's way.
    let pick_attr =
        Callback::new(move |(key, value, exclude): (String, Value, bool)| pick.run((attribute_field(&key, false), value, exclude)));
    let pick_resource =
        Callback::new(move |(key, value, exclude): (String, Value, bool)| pick.run((attribute_field(&key, true), value, exclude)));
    view! {
        {trace_link}
        <p class="small log-fields">
            "severity "
            <PickValue key="severity".to_string() value=Value::String(level.to_string()) text=level.to_string() pick=pick/>
            " · service "
            <PickValue key="service".to_string() value=Value::String(log.service.clone()) text=log.service.clone() pick=pick/>
            <span class="muted">{format!(" · observed {}", format::time(log.observed_time_unix_nano))}</span>
        </p>
        <h4>"Attributes"</h4>
        <AttrTable attrs=log.attributes.clone() on_pick=pick_attr/>
        <h4>"Resource"</h4>
        <AttrTable attrs=log.resource.clone() on_pick=pick_resource/>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_and_text_combine() {
        assert_eq!(combined_filter("", ""), "");
        assert_eq!(combined_filter("severity >= warn", " "), "severity >= warn");
        assert_eq!(combined_filter("", "time out"), r#"body ~ "time out""#);
        assert_eq!(combined_filter("a = 1 or b = 2", "x"), r#"(a = 1 or b = 2) and body ~ "x""#);
    }

    #[test]
    fn picked_values_become_conditions_in_the_filter_language() {
        assert_eq!(attribute_field("http.method", false), "http.method");
        assert_eq!(attribute_field("user name", false), r#"attr["user name"]"#);
        assert_eq!(attribute_field("status", false), r#"attr["status"]"#);
        assert_eq!(attribute_field("host.name", true), "resource.host.name");
        assert_eq!(attribute_field("a b", true), r#"resource["a b"]"#);
        assert_eq!(
            condition("http.method", &Value::String("GET".into()), false).unwrap(),
            r#"http.method = "GET""#
        );
        assert_eq!(condition("code", &serde_json::json!(503), true).unwrap(), "code != 503");
        assert_eq!(condition("tags", &serde_json::json!(["a"]), false), None);
        assert_eq!(with_condition("", "a = 1"), "a = 1");
        assert_eq!(with_condition("b = 2", "a = 1"), "b = 2 and a = 1");
        assert_eq!(with_condition("b = 2 or c = 3", "a = 1"), "(b = 2 or c = 3) and a = 1");
    }
}
