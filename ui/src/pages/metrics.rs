//! Metrics: a searchable list (name, type, unit, description, series), and a page per metric with a
//! chart over a time range: gauges and sums as lines, monotonic counters as rates (the server turns
//! them into rates), histograms as p50/p95/p99; grouping by an attribute.

use crate::api;
use crate::app::refresh_tick;
use crate::components::charts::{ChartSeries, LineChart};
use crate::components::search::SincePicker;
use crate::components::{keys, query, EmptyState, ErrorNote, Loading};
use crate::format;
use crate::wire::{self, MetricsResponse, SeriesResponse};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

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
                    view! {
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

#[component]
pub fn MetricPage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.read().get("name").unwrap_or_default());
    let since = query::param("since");
    let group_by = query::param("group_by");
    let agg = query::param("agg");
    let set_query = query::setter();

    let catalogue = LocalResource::new(|| api::get::<MetricsResponse, _>(wire::routes::METRICS, &()));
    let metric = Memo::new(move |_| {
        let wanted = name.get();
        catalogue
            .get()
            .and_then(|r| r.ok())
            .and_then(|r| r.metrics.into_iter().find(|m| m.name == wanted))
    });
    let charts = LocalResource::new(move || {
        // Until the catalogue answers, the metric's type (and so its aggregations) is unknown.
        let known = catalogue.get().is_some();
        let kind = metric.get().map(|m| m.kind);
        let (name, since, group_by, agg) = (name.get(), since.get(), group_by.get(), agg.get());
        refresh_tick();
        async move {
            if !known {
                return Ok(None);
            }
            let mut series = Vec::new();
            let mut answered_kind = String::new();
            let mut answered_aggs: Vec<String> = Vec::new();
            for a in aggregations(kind, &agg) {
                let params = wire::SeriesParams {
                    group_by: wire::non_empty(group_by.clone()),
                    agg: Some(a.to_string()),
                    window: wire::WindowParams::since(wire::non_empty(since.clone()).unwrap_or_else(|| "1h".into())),
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
                    series.push(ChartSeries { label, points: s.points });
                }
            }
            Ok::<_, api::ApiError>(Some((series, answered_kind, answered_aggs.join(", "))))
        }
    });
    let set_group = set_query.clone();
    let set_agg = set_query.clone();
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
                    histogram.then(|| view! {
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
            </div>
            {move || match charts.get() {
                None | Some(Ok(None)) => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok(Some((series, kind, agg)))) => {
                    let unit = metric.get().map(|m| m.unit).unwrap_or_default();
                    let note = format!("{kind}{}", if agg.is_empty() { String::new() } else { format!(" as {agg}") });
                    let note = if agg == "rate" { format!("{note} (per second{})", if unit.is_empty() { String::new() } else { format!(", {unit}/s") }) } else { note };
                    view! {
                        <p class="muted small">{note}</p>
                        <LineChart series=series y_label=format::number/>
                    }
                    .into_any()
                }
            }}
        </section>
    }
}
