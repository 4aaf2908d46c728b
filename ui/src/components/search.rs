//! The search controls: the filter-language box (errors shown under the column at fault), the time
//! range picker and the service picker. Each edits one URL parameter.

use super::query;
use crate::api::ApiError;
use crate::wire::ServicesResponse;
use leptos::prelude::*;

/// The filter box: edits `param` on Enter or on the Search button; `/` focuses it from anywhere.
/// `error` is the last answer's error: a filter syntax error gets a caret under its column.
#[component]
pub fn FilterBox(param: &'static str, #[prop(into)] placeholder: String, #[prop(into)] error: Signal<Option<ApiError>>) -> impl IntoView {
    let current = query::param(param);
    let set_query = query::setter();
    let draft = RwSignal::new(current.get_untracked());
    // Follow the URL when it changes under us (back button, a link).
    Effect::new(move |_| draft.set(current.get()));
    let submit = move || set_query(&[(param, draft.get_untracked().trim().to_string())]);
    let submit_key = submit.clone();
    let caret = move || {
        let err = error.get()?;
        let column = err.column?;
        Some(format!("{}^", " ".repeat(column.saturating_sub(1))))
    };
    view! {
        <div class="filter-box">
            <div class="filter-row">
                <input
                    id="search"
                    class="filter-input"
                    type="text"
                    spellcheck="false"
                    autocomplete="off"
                    placeholder=placeholder
                    prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev))
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" {
                            submit_key();
                        }
                    }
                />
                <button class="primary" on:click=move |_| submit()>"Search"</button>
            </div>
            {move || caret().map(|c| view! { <pre class="filter-caret">{c}</pre> })}
            {move || error.get().map(|e| view! { <div class="filter-error" role="alert">{e.message}</div> })}
        </div>
    }
}

/// The look-back window (`since`): the choices people reach for, from five minutes to everything
/// kept. A zoom (`start`/`end`, set by dragging across a chart) shows beside it as a chip whose
/// button goes back to the look-back window; picking a window ends the zoom too.
#[component]
pub fn SincePicker(#[prop(optional)] default: Option<&'static str>) -> impl IntoView {
    let default = default.unwrap_or("1h");
    let current = query::param("since");
    let (start, end) = (query::param("start"), query::param("end"));
    let set_query = query::setter();
    let reset = set_query.clone();
    let choices = [
        ("5m", "Last 5 minutes"),
        ("15m", "Last 15 minutes"),
        ("1h", "Last hour"),
        ("6h", "Last 6 hours"),
        ("24h", "Last 24 hours"),
        ("7d", "Last 7 days"),
        ("30d", "Last 30 days"),
    ];
    let zoom = move || {
        let start = start.get().parse::<i64>().ok()?;
        let end = end.get().parse::<i64>().unwrap_or((js_sys::Date::now() * 1e6) as i64);
        let reset = reset.clone();
        Some(view! {
            <span class="chip zoom-chip" title="The time range selected on a chart">
                {super::ticks::range_label(start, end, super::charts::tz_offset_ns())}
                " "
                <button class="ghost reset-zoom" title="Back to the look-back window" on:click=move |_| reset(&[("start", String::new()), ("end", String::new())])>
                    "reset zoom"
                </button>
            </span>
        })
    };
    view! {
        <select
            class="since"
            title="Time range"
            on:change=move |ev| set_query(&[("since", event_target_value(&ev)), ("start", String::new()), ("end", String::new())])
        >
            {choices
                .into_iter()
                .map(|(value, label)| {
                    let selected = move || {
                        let c = current.get();
                        if c.is_empty() { value == default } else { c == value }
                    };
                    view! { <option value=value selected=selected>{label}</option> }
                })
                .collect_view()}
        </select>
        {zoom}
    }
}

/// The services otelbox has seen, to narrow a page to one (`service`).
#[component]
pub fn ServicePicker() -> impl IntoView {
    let current = query::param("service");
    let set_query = query::setter();
    let services = LocalResource::new(|| crate::api::get::<ServicesResponse, _>(crate::wire::routes::SERVICES, &()));
    view! {
        <select
            class="service"
            title="Service"
            on:change=move |ev| set_query(&[("service", event_target_value(&ev))])
        >
            <option value="" selected=move || current.get().is_empty()>"All services"</option>
            {move || {
                services
                    .get()
                    .and_then(|r| r.ok())
                    .map(|r| {
                        r.services
                            .into_iter()
                            .map(|s| {
                                let name = s.name.clone();
                                let selected = move || current.get() == name;
                                view! { <option value=s.name.clone() selected=selected>{s.name.clone()}</option> }
                            })
                            .collect_view()
                    })
            }}
        </select>
    }
}
