//! Traces: search with the filter language, service, time range and duration bounds; a duration
//! scatter plot over the time range (drag across it to zoom); the matching traces with how many
//! match in all, sorted by the server over every match; Enter or a click opens one; two ticked rows
//! compare; an OTLP/JSON file (picked or dropped here) opens without being stored.

use crate::api::{self, ApiError};
use crate::app::refresh_tick;
use crate::components::charts::{colour_for, ScatterPlot, ScatterPoint};
use crate::components::open_file::{self, OpenFileButton};
use crate::components::search::{FilterBox, ServicePicker, SincePicker};
use crate::components::{keys, query, EmptyState, ErrorNote, Loading};
use crate::format;
use crate::wire::{self, TraceSummary, TracesResponse};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

#[component]
pub fn TracesPage() -> impl IntoView {
    let q = query::param("q");
    let service = query::param("service");
    let window = query::time_window("1h");
    let min = query::param("min");
    let max = query::param("max");
    let sort = query::param("sort");
    let set_query = query::setter();
    let zoom = query::zoomer();

    let result = LocalResource::new(move || {
        let window = window.get();
        let range = query::resolve(&window);
        let params = wire::TracesParams {
            q: wire::non_empty(q.get()),
            also: None,
            service: wire::non_empty(service.get()),
            limit: Some(SHOWN as usize),
            min_duration: wire::non_empty(min.get()),
            max_duration: wire::non_empty(max.get()),
            // The server sorts every match before the limit, and counts them all.
            sort: wire::non_empty(sort.get()),
            total: Some("true".into()),
            window,
        };
        refresh_tick();
        async move {
            api::get::<TracesResponse, _>(wire::routes::TRACES, &params)
                .await
                .map(|r| (r, range))
        }
    });
    let heading = move |shown: usize| {
        let (total, capped) = result
            .get()
            .and_then(|r| r.ok())
            .map_or((None, false), |(r, _)| (r.total, r.total_capped));
        let noun = if total == Some(1) { "trace" } else { "traces" };
        format!("{} {noun}", format::shown_of(shown, total, capped))
    };
    let error = Signal::derive(move || result.get().and_then(|r| r.err()));
    let traces = Memo::new(move |_| {
        let mut list = result.get().and_then(|r| r.ok()).map(|(r, _)| r.traces).unwrap_or_default();
        if sort.get() == "duration" {
            list.sort_by_key(|t| std::cmp::Reverse(t.duration_ns));
        }
        list
    });

    let navigate = use_navigate();
    let open = {
        let navigate = navigate.clone();
        move |id: String| navigate(&format!("/traces/{id}"), Default::default())
    };
    let open_at = {
        let open = open.clone();
        move |i: usize| {
            if let Some(t) = traces.get_untracked().get(i) {
                open(t.trace_id.clone());
            }
        }
    };
    let selected = keys::list_keys(Signal::derive(move || traces.read().len()), open_at);
    let open_dot = Callback::new(open.clone());

    let set_min = set_query.clone();
    let set_max = set_query.clone();
    let set_sort = set_query.clone();
    let open_dropped = open_file::opener();
    let dragging = RwSignal::new(false);
    view! {
        <section
            class="page"
            class:dragging=move || dragging.get()
            on:dragover=move |ev| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=move |ev| {
                ev.prevent_default();
                dragging.set(false);
                if let Some(file) = open_file::dropped_file(&ev) {
                    open_dropped(file);
                }
            }
        >
            <div class="toolbar">
                <FilterBox param="q" placeholder=r#"service = checkout and status = error   ·   duration > 500ms   ·   run_id = "R1""# error=error/>
                <div class="toolbar-row">
                    <ServicePicker/>
                    <SincePicker/>
                    <label class="inline">"min "
                        <input class="short" type="text" placeholder="100ms" prop:value=move || min.get()
                            on:change=move |ev| set_min(&[("min", event_target_value(&ev))])/>
                    </label>
                    <label class="inline">"max "
                        <input class="short" type="text" placeholder="5s" prop:value=move || max.get()
                            on:change=move |ev| set_max(&[("max", event_target_value(&ev))])/>
                    </label>
                    <label class="inline">"sort "
                        <select on:change=move |ev| set_sort(&[("sort", event_target_value(&ev))])>
                            <option value="" selected=move || sort.get() != "duration">"newest first"</option>
                            <option value="duration" selected=move || sort.get() == "duration">"longest first"</option>
                            <option value="shortest" selected=move || sort.get() == "shortest">"shortest first"</option>
                            <option value="spans" selected=move || sort.get() == "spans">"most spans first"</option>
                            <option value="errors" selected=move || sort.get() == "errors">"most errors first"</option>
                        </select>
                    </label>
                    <OpenFileButton/>
                    <span class="muted small">"or drop an OTLP/JSON file here"</span>
                </div>
            </div>
            {move || match result.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) if e.column.is_some() => view! { <span></span> }.into_any(),
                Some(Err(ApiError { message, .. })) => view! { <ErrorNote message=message/> }.into_any(),
                Some(Ok((response, _))) if traces.read().is_empty() => {
                    if q.get().is_empty() && service.get().is_empty() && min.get().is_empty() && max.get().is_empty() {
                        view! { <EmptyState what="traces"/> }.into_any()
                    } else {
                        // The server says why when a search names what nothing has (a misspelled key).
                        let warnings = response.warnings.clone();
                        view! {
                            <p class="muted">"No trace matches. Widen the time range or loosen the search."</p>
                            {warnings.into_iter().map(|w| view! { <p class="search-warning">{w}</p> }).collect_view()}
                        }
                        .into_any()
                    }
                }
                Some(Ok((response, range))) => {
                    let list = traces.get();
                    let points = list
                        .iter()
                        .map(|t| ScatterPoint {
                            t: t.start_unix_nano,
                            duration_ns: t.duration_ns,
                            error: t.error_count > 0,
                            trace_id: t.trace_id.clone(),
                            label: format!("{}: {}", t.root_service, t.root_name),
                        })
                        .collect();
                    let warnings = response.warnings.clone();
                    view! {
                        {warnings.into_iter().map(|w| view! { <p class="search-warning">{w}</p> }).collect_view()}
                        <ScatterPlot points=points open=open_dot range=range on_zoom=zoom/>
                        <TraceTable heading=heading(list.len()) traces=list selected=selected open=Callback::new(open.clone())/>
                    }
                    .into_any()
                }
            }}
        </section>
    }
}

/// Traces the list shows at most (the first in the chosen order); the heading says how many match in all.
const SHOWN: i64 = 200;

#[component]
fn TraceTable(heading: String, traces: Vec<TraceSummary>, selected: RwSignal<Option<usize>>, open: Callback<String>) -> impl IntoView {
    let longest = traces.iter().map(|t| t.duration_ns).max().unwrap_or(1).max(1);
    // The traces ticked for comparison, oldest tick first; a third tick drops the oldest.
    let picked = RwSignal::new(Vec::<String>::new());
    let navigate = use_navigate();
    let compare = move |_| {
        if let [a, b] = picked.get_untracked().as_slice() {
            navigate(&format!("/traces/compare?a={a}&b={b}"), Default::default());
        }
    };
    let rows = traces
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let width = (t.duration_ns as f64 / longest as f64 * 100.0).max(0.5);
            let id = t.trace_id.clone();
            let pick_id = t.trace_id.clone();
            let is_picked = {
                let id = t.trace_id.clone();
                move || picked.read().contains(&id)
            };
            let href = format!("/traces/{}", t.trace_id);
            let services = t
                .services
                .iter()
                .map(|s| view! { <span class="chip" style=format!("border-color:{}", colour_for(s))>{s.clone()}</span> })
                .collect_view();
            view! {
                <tr
                    class="clickable"
                    class:selected=move || selected.get() == Some(i)
                    on:click=move |_| open.run(id.clone())
                >
                    <td class="pick" on:click=|ev| ev.stop_propagation()>
                        <input type="checkbox" class="pick" title="Tick two traces to compare them" prop:checked=is_picked
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                picked.update(|list| {
                                    list.retain(|p| *p != pick_id);
                                    if on {
                                        list.push(pick_id.clone());
                                        if list.len() > 2 {
                                            list.remove(0);
                                        }
                                    }
                                });
                            }/>
                    </td>
                    <td>
                        <a href=href class="trace-name">
                            <span class="svc" style=format!("color:{}", colour_for(&t.root_service))>{t.root_service.clone()}</span>
                            ": "
                            {t.root_name.clone()}
                        </a>
                        <div class="muted small mono">{format::short_id(&t.trace_id)}</div>
                    </td>
                    <td>
                        <div>{format::time(t.start_unix_nano)}</div>
                        <div class="muted small">{format::ago(t.start_unix_nano)}</div>
                    </td>
                    <td class="duration-cell">
                        <div class="bar-track"><div class="bar" class:error={t.error_count > 0} style=format!("width:{width:.1}%")></div></div>
                        <span>{format::duration(t.duration_ns)}</span>
                    </td>
                    <td class="num">{t.span_count}</td>
                    <td class="num">
                        {(t.error_count > 0).then(|| view! { <span class="badge error">{t.error_count}</span> })}
                    </td>
                    <td>{services}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted small list-heading">
            {format!("{heading} · j/k or ↑/↓ to move, Enter to open, / to search, tick two to compare")}
            " "
            <button class="compare-selected" disabled=move || picked.read().len() != 2 on:click=compare>
                {move || format!("Compare ticked ({})", picked.read().len())}
            </button>
        </p>
        <table class="list traces-table">
            <thead>
                <tr><th></th><th>"Trace"</th><th>"Start"</th><th>"Duration"</th><th>"Spans"</th><th>"Errors"</th><th>"Services"</th></tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
