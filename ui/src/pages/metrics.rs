//! Metrics: a searchable list (name, type, unit, description, series), and a page per metric with a
//! chart over a time range: gauges and sums as lines, monotonic counters as rates (the server turns
//! them into rates), histograms as p50/p95/p99 or as a heatmap of their buckets; grouping by an
//! attribute, exemplars linking to their spans, dragging across the chart to zoom.

use crate::api;
use crate::app::refresh_tick;
use crate::components::charts::{ChartExemplar, ChartSeries, Heatmap, LineChart};
use crate::components::search::SincePicker;
use crate::components::ticks::Unit;
use crate::components::{keys, query, EmptyState, ErrorNote, Loading};
use crate::format;
use crate::wire::{self, MetricsResponse, SeriesResponse};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use std::collections::HashSet;

#[component]
pub fn MetricsPage() -> impl IntoView {
    let search = query::param("search");
    let set_query = query::replacer();
    let result = LocalResource::new(move || {
        refresh_tick();
        api::get::<MetricsResponse, _>(wire::routes::METRICS, &())
    });
    let shown = Memo::new(move |_| {
        let needle = search.get().to_lowercase();
        result
            .get()
            .and_then(|r| r.ok())
            .map(|r| r.metrics)
            .unwrap_or_default()
            .into_iter()
            .filter(|m| needle.is_empty() || m.name.to_lowercase().contains(&needle) || m.description.to_lowercase().contains(&needle))
            .collect::<Vec<_>>()
    });
    let navigate = use_navigate();
    let selected = keys::list_keys(Signal::derive(move || shown.read().len()), move |i| {
        if let Some(m) = shown.get_untracked().get(i) {
            navigate(&format!("/metrics/{}", api::encode(&m.name)), Default::default());
        }
    });
    view! {
        <section class="page">
            <div class="toolbar">
                <div class="filter-row">
                    <input
                        id="search"
                        class="filter-input"
                        type="text"
                        placeholder="search metric names and descriptions"
                        prop:value=move || search.get()
                        on:input=move |ev| set_query(&[("search", event_target_value(&ev))])
                    />
                </div>
            </div>
            {move || match result.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok(r)) if r.metrics.is_empty() => view! { <EmptyState what="metrics"/> }.into_any(),
                Some(Ok(_)) => {
                    let rows = shown
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, m)| {
                            let href = format!("/metrics/{}", api::encode(&m.name));
                            view! {
                                <tr class:selected=move || selected.get() == Some(i)>
                                    <td><a href=href>{m.name.clone()}</a></td>
                                    <td>{m.kind.to_string()}</td>
                                    <td>{m.unit.clone()}</td>
                                    <td class="muted">{m.description.clone()}</td>
                                    <td class="num">{m.series}</td>
                                </tr>
                            }
                        })
                        .collect_view();
                    let all = result.get().and_then(|r| r.ok()).map_or(0, |r| r.metrics.len());
                    let shown_n = shown.read().len();
                    let heading = if shown_n == all {
                        format!("{} metric{}", format::count(all as i64), if all == 1 { "" } else { "s" })
                    } else {
                        format!("{} of {} metrics match", format::count(shown_n as i64), format::count(all as i64))
                    };
                    view! {
                        <p class="muted small list-heading">{heading}</p>
                        <table class="list metric-list">
                            <thead><tr><th>"Name"</th><th>"Type"</th><th>"Unit"</th><th>"Description"</th><th>"Series"</th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    }
                    .into_any()
                }
            }}
        </section>
    }
}

/// The aggregations a chart is drawn with: one for gauges and sums, three percentiles for histograms.
fn aggregations(kind: Option<wire::MetricType>, chosen: &str) -> Vec<&'static str> {
    let histogram = kind.is_some_and(wire::MetricType::is_distribution);
    match (histogram, chosen) {
        (true, "") => vec!["p50", "p95", "p99"],
        (true, "avg") => vec!["avg"],
        (true, "count") => vec!["count"],
        (true, "p50") => vec!["p50"],
        (true, "p95") => vec!["p95"],
        (true, "p99") => vec!["p99"],
        (true, _) => vec!["p50", "p95", "p99"],
        (false, _) => vec![""],
    }
}

/// What a metric page draws: lines (with their exemplars) or a heatmap of histogram buckets.
#[derive(Clone, Debug, PartialEq)]
enum Drawn {
    Lines {
        series: Vec<ChartSeries>,
        exemplars: Vec<ChartExemplar>,
    },
    Heatmap {
        times: Vec<i64>,
        step_ns: i64,
        bounds: Vec<f64>,
        counts: Vec<Vec<f64>>,
    },
}

#[component]
pub fn MetricPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let window = query::time_window("1h");
    let group_by = query::param("group_by");
    let agg = query::param("agg");
    let view_kind = query::param("view");
    let set_query = query::setter();
    let zoom = query::zoomer();
    // Hidden legend entries survive refreshes; a new grouping or metric starts with all shown.
    let hidden = RwSignal::new(HashSet::<String>::new());
    Effect::new(move |_| {
        let _ = (name.get(), group_by.get(), agg.get());
        hidden.set(HashSet::new());
    });

    let catalogue = LocalResource::new(|| api::get::<MetricsResponse, _>(wire::routes::METRICS, &()));
    let metric = Memo::new(move |_| {
        let wanted = name.get();
        catalogue
            .get()
            .and_then(|r| r.ok())
            .and_then(|r| r.metrics.into_iter().find(|m| m.name == wanted))
    });
    let bucketed = Memo::new(move |_| {
        metric
            .get()
            .is_some_and(|m| matches!(m.kind, wire::MetricType::Histogram | wire::MetricType::ExponentialHistogram))
    });
    let heatmap = Memo::new(move |_| bucketed.get() && view_kind.get() == "heatmap");
    let charts = LocalResource::new(move || {
        // Until the catalogue answers, the metric's type (and so its aggregations) is unknown.
        let known = catalogue.get().is_some();
        let kind = metric.get().map(|m| m.kind);
        let (name, window, group_by, agg, heatmap) = (name.get(), window.get(), group_by.get(), agg.get(), heatmap.get());
        refresh_tick();
        async move {
            if !known {
                return Ok(None);
            }
            let range = query::resolve(&window);
            // One absolute window for every request: the steps of p50, p95 and p99 then line up.
            let window = wire::WindowParams {
                start: Some(range.0.to_string()),
                end: Some(range.1.to_string()),
                since: None,
            };
            if heatmap {
                let params = wire::SeriesParams {
                    agg: Some("buckets".into()),
                    merge: Some("true".into()),
                    window,
                    ..Default::default()
                };
                let r = api::get::<SeriesResponse, _>(&wire::routes::metric_series(&api::encode(&name)), &params).await?;
                let step_ns = r.step_ns;
                let drawn = r
                    .series
                    .into_iter()
                    .next()
                    .and_then(|s| {
                        let times = s.points.iter().map(|p| p.0).collect();
                        s.buckets.map(|b| Drawn::Heatmap {
                            times,
                            step_ns,
                            bounds: b.bounds,
                            counts: b.counts,
                        })
                    })
                    .unwrap_or(Drawn::Lines {
                        series: Vec::new(),
                        exemplars: Vec::new(),
                    });
                return Ok::<_, api::ApiError>(Some((drawn, r.kind.to_string(), "buckets".to_string(), range)));
            }
            let mut series = Vec::new();
            let mut exemplars = Vec::new();
            let mut answered_kind = String::new();
            let mut answered_aggs: Vec<String> = Vec::new();
            for (n, a) in aggregations(kind, &agg).into_iter().enumerate() {
                let params = wire::SeriesParams {
                    group_by: wire::non_empty(group_by.clone()),
                    agg: Some(a.to_string()),
                    window: window.clone(),
                    ..Default::default()
                };
                let r = api::get::<SeriesResponse, _>(&wire::routes::metric_series(&api::encode(&name)), &params).await?;
                answered_kind = r.kind.to_string();
                answered_aggs.push(r.agg.clone());
                for s in r.series {
                    let labels = s
                        .labels
                        .iter()
                        .map(|(k, v)| format!("{k}={}", format::value(v)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let label = match (a.is_empty(), labels.is_empty()) {
                        (true, true) => name.clone(),
                        (true, false) => labels,
                        (false, true) => a.to_string(),
                        (false, false) => format!("{a} · {labels}"),
                    };
                    // Every aggregation of a histogram carries the same exemplars: keep the first's.
                    if n == 0 {
                        exemplars.extend(s.exemplars.into_iter().map(|e| ChartExemplar {
                            series: label.clone(),
                            t: e.time_unix_nano,
                            value: e.value,
                            trace_id: e.trace_id,
                            span_id: e.span_id,
                        }));
                    }
                    series.push(ChartSeries { label, points: s.points });
                }
            }
            Ok(Some((
                Drawn::Lines { series, exemplars },
                answered_kind,
                answered_aggs.join(", "),
                range,
            )))
        }
    });
    let set_group = set_query.clone();
    let set_agg = set_query.clone();
    let set_view = set_query.clone();
    view! {
        <section class="page">
            <p><a href="/metrics">"← all metrics"</a></p>
            <h2 class="mono">{move || name.get()}</h2>
            {move || metric.get().map(|m| view! {
                <p class="muted">{format!("{} · {}{}", m.kind, if m.unit.is_empty() { "no unit".to_string() } else { format!("unit {}", m.unit) }, if m.description.is_empty() { String::new() } else { format!(" · {}", m.description) })}</p>
            })}
            <div class="toolbar-row">
                <SincePicker/>
                <label class="inline">"group by "
                    <input type="text" placeholder="attribute key, e.g. gen_ai.request.model" prop:value=move || group_by.get()
                        on:change=move |ev| set_group(&[("group_by", event_target_value(&ev))])/>
                </label>
                {move || {
                    let histogram = metric.get().is_some_and(|m| m.kind.is_distribution());
                    let set_agg = set_agg.clone();
                    (histogram && !heatmap.get()).then(|| view! {
                        <label class="inline">"show "
                            <select on:change=move |ev| set_agg(&[("agg", event_target_value(&ev))])>
                                {["", "p50", "p95", "p99", "avg", "count"].into_iter().map(|a| {
                                    let label = if a.is_empty() { "p50 / p95 / p99" } else { a };
                                    view! { <option value=a selected=move || agg.get() == a>{label}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                    })
                }}
                {move || {
                    let set_view = set_view.clone();
                    let set_lines = set_view.clone();
                    bucketed.get().then(|| view! {
                        <span class="segmented" role="group" aria-label="chart view">
                            <button class="view-lines" aria-pressed=move || (!heatmap.get()).to_string() on:click=move |_| set_lines(&[("view", String::new())])>"Lines"</button>
                            <button class="view-heatmap" aria-pressed=move || heatmap.get().to_string() on:click=move |_| set_view(&[("view", "heatmap".to_string())])>"Heatmap"</button>
                        </span>
                    })
                }}
            </div>
            {move || match charts.get() {
                None | Some(Ok(None)) => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok(Some((drawn, kind, agg, range)))) => {
                    let unit_text = metric.get().map(|m| m.unit).unwrap_or_default();
                    let unit = if agg == "count" { Unit::Plain } else { Unit::parse(&unit_text) };
                    let note = format!("{kind}{}", if agg.is_empty() { String::new() } else { format!(" as {agg}") });
                    let note = if agg == "rate" { format!("{note} (per second{})", if unit_text.is_empty() { String::new() } else { format!(", {unit_text}/s") }) } else { note };
                    let hint = "drag across the chart to zoom · click a legend entry to hide it, shift-click to show it alone";
                    match drawn {
                        Drawn::Lines { series, exemplars } => {
                            let exemplar_note = (!exemplars.is_empty()).then(|| format!(" · ◆ {} exemplars: click one to open its span", exemplars.len()));
                            view! {
                                <p class="muted small">{note}{exemplar_note}{format!(" · {hint}")}</p>
                                <LineChart series=series unit=unit range=range exemplars=exemplars hidden=hidden on_zoom=zoom/>
                            }
                            .into_any()
                        }
                        Drawn::Heatmap { times, step_ns, bounds, counts } => {
                            let grouped = (!group_by.get().is_empty()).then_some(" · every series together (a heatmap is not grouped)");
                            view! {
                                <p class="muted small">{format!("{kind}: observations per bucket and step")}{grouped}" · drag across the chart to zoom"</p>
                                <Heatmap times=times step_ns=step_ns bounds=bounds counts=counts unit=unit range=range on_zoom=zoom/>
                            }
                            .into_any()
                        }
                    }
                }
            }}
        </section>
    }
}
