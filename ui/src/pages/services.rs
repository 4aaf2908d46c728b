//! Services: rate, error percentage and p50/p95/p99 per service and per operation over a time range,
//! and a dependency map drawn from parent/child spans that cross services.

use crate::api;
use crate::app::refresh_tick;
use crate::components::charts::colour_for;
use crate::components::search::SincePicker;
use crate::components::{query, EmptyState, ErrorNote, Loading};
use crate::format;
use crate::wire::{self, DependenciesResponse, DependencyEdge, ServiceStats, ServiceStatsResponse};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use std::collections::{BTreeMap, BTreeSet};

#[component]
pub fn ServicesPage() -> impl IntoView {
    let since = query::param("since");
    let open = query::param("open");
    let set_query = query::setter();
    let window = move || wire::WindowOnlyParams {
        window: wire::WindowParams::since(wire::non_empty(since.get()).unwrap_or_else(|| "1h".into())),
    };
    let stats = LocalResource::new(move || {
        let params = window();
        refresh_tick();
        async move { api::get::<ServiceStatsResponse, _>(wire::routes::SERVICE_STATS, &params).await }
    });
    let deps = LocalResource::new(move || {
        let params = window();
        refresh_tick();
        async move { api::get::<DependenciesResponse, _>(wire::routes::DEPENDENCIES, &params).await }
    });
    let toggle = Callback::new(move |name: String| {
        let current = open.get_untracked();
        set_query(&[("open", if current == name { String::new() } else { name })]);
    });
    view! {
        <section class="page">
            <div class="toolbar-row"><SincePicker/></div>
            {move || match stats.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok(r)) if r.services.is_empty() => view! { <EmptyState what="spans in this time range"/> }.into_any(),
                Some(Ok(r)) => view! {
                    {r.sampled.then(|| view! { <p class="muted small">{format!("Figures cover the newest spans only: the last {:.0} s of the range.", r.window_s)}</p> })}
                    <ServiceTable services=r.services open=open toggle=toggle/>
                }
                .into_any(),
            }}
            <h3>"Dependencies"</h3>
            {move || match deps.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok(r)) if r.edges.is_empty() => view! { <p class="muted">"No calls between services in this time range."</p> }.into_any(),
                Some(Ok(r)) => view! { <DependencyMap edges=r.edges thresholds=r.thresholds/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn ServiceTable(services: Vec<ServiceStats>, open: Signal<String>, toggle: Callback<String>) -> impl IntoView {
    let rows = services
        .into_iter()
        .map(|s| {
            let name = s.name.clone();
            let is_open = {
                let name = name.clone();
                move || open.get() == name
            };
            let operations = s.operations.clone();
            let traces_href = format!("/traces?service={}", api::encode(&s.name));
            let errors_href = format!("/traces?service={}&q={}", api::encode(&s.name), api::encode("status = error"));
            let arrow = {
                let is_open = is_open.clone();
                move || if is_open() { "▾ " } else { "▸ " }
            };
            view! {
                <tr class="clickable service-row" on:click=move |_| toggle.run(name.clone())>
                    <td>
                        <span class="muted">{arrow}</span>
                        <span class="svc" style=format!("color:{}", colour_for(&s.name))>{s.name.clone()}</span>
                        " "<a class="small" href=traces_href on:click=|ev| ev.stop_propagation()>"traces"</a>
                    </td>
                    <td class="num">{format!("{:.2}/s", s.rate_per_s)}</td>
                    <td class="num">
                        {if s.errors > 0 {
                            view! { <a href=errors_href class="err-mark" on:click=|ev| ev.stop_propagation()>{format!("{:.1}%", s.error_pct)}</a> }.into_any()
                        } else {
                            view! { <span>"0%"</span> }.into_any()
                        }}
                    </td>
                    <td class="num">{format::duration(s.p50_ns)}</td>
                    <td class="num">{format::duration(s.p95_ns)}</td>
                    <td class="num">{format::duration(s.p99_ns)}</td>
                    <td class="num">{format::count(s.spans)}</td>
                </tr>
                {move || is_open().then(|| {
                    operations
                        .iter()
                        .map(|op| view! {
                            <tr class="ops">
                                <td class="indent">{op.name.clone()}<span class="muted small">{format!("  {}", op.kind)}</span></td>
                                <td class="num">{format!("{:.2}/s", op.rate_per_s)}</td>
                                <td class="num" class:err-mark={op.errors > 0}>{format!("{:.1}%", op.error_pct)}</td>
                                <td class="num">{format::duration(op.p50_ns)}</td>
                                <td class="num">{format::duration(op.p95_ns)}</td>
                                <td class="num">{format::duration(op.p99_ns)}</td>
                                <td class="num">{format::count(op.spans)}</td>
                            </tr>
                        })
                        .collect_view()
                })}
            }
        })
        .collect_view();
    view! {
        <table class="list services-table">
            <thead>
                <tr><th>"Service (click for operations)"</th><th class="num">"Rate"</th><th class="num">"Errors"</th><th class="num">"p50"</th><th class="num">"p95"</th><th class="num">"p99"</th><th class="num">"Spans"</th></tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

const NODE_W: f64 = 170.0;
const NODE_H: f64 = 34.0;
const COLUMN_GAP: f64 = 110.0;
const ROW_GAP: f64 = 22.0;

/// Services laid out in columns by call depth (callers left of callees; the server's `back` edges,
/// which close cycles, are left out of the layering and drawn dashed below the nodes, so a cycle
/// cannot put labels over each other or run edges through other nodes). Edges are coloured by the
/// server's severity of their error rate, not by any error at all.
#[component]
fn DependencyMap(edges: Vec<DependencyEdge>, thresholds: wire::EdgeThresholds) -> impl IntoView {
    let depth = layer(&edges);
    let mut columns: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (name, d) in &depth {
        columns.entry(*d).or_default().push(name.clone());
    }
    let tallest = columns.values().map(Vec::len).max().unwrap_or(1);
    let back_edges = edges.iter().filter(|e| e.back).count();
    // Room below the nodes for the back edges' loops, one lane each.
    let nodes_height = tallest as f64 * (NODE_H + ROW_GAP) + ROW_GAP;
    let height = nodes_height
        + if back_edges > 0 {
            BACK_LANE * (back_edges as f64 + 1.0)
        } else {
            0.0
        };
    let width = columns.len() as f64 * (NODE_W + COLUMN_GAP) - COLUMN_GAP + 40.0;
    let mut position: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    // By column index, not depth: depths can skip numbers when cycles are cut off.
    for (column, names) in columns.values().enumerate() {
        let offset = (nodes_height - names.len() as f64 * (NODE_H + ROW_GAP) + ROW_GAP) / 2.0;
        for (i, name) in names.iter().enumerate() {
            position.insert(
                name.clone(),
                (20.0 + column as f64 * (NODE_W + COLUMN_GAP), offset + i as f64 * (NODE_H + ROW_GAP)),
            );
        }
    }
    let mut lane = 0.0;
    let lines = edges
        .iter()
        .map(|e| {
            let (px, py) = position[&e.parent];
            let (cx, cy) = position[&e.child];
            let (d, label_x, label_y) = if e.back {
                // Out of the caller's bottom, along a lane below every node, into the callee's bottom.
                lane += 1.0;
                let (x1, y1, x2, y2) = (px + NODE_W / 2.0, py + NODE_H, cx + NODE_W / 2.0, cy + NODE_H);
                let bottom = nodes_height + lane * BACK_LANE;
                let d = format!("M{x1:.1},{y1:.1} C{x1:.1},{bottom:.1} {x2:.1},{bottom:.1} {x2:.1},{y2:.1}");
                // The curve's lowest point (t = 1/2), with the label just under it.
                let lowest = 0.75 * bottom + 0.125 * (y1 + y2);
                (d, (x1 + x2) / 2.0, lowest + 12.0)
            } else {
                let (x1, y1, x2, y2) = (px + NODE_W, py + NODE_H / 2.0, cx, cy + NODE_H / 2.0);
                let bend = ((x2 - x1).abs() / 2.0).max(40.0);
                let d = format!(
                    "M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}",
                    x1 + bend,
                    x2 - bend
                );
                (d, (x1 + x2) / 2.0, (y1 + y2) / 2.0 - 5.0)
            };
            let label = if e.errors > 0 {
                format!("{} calls, {:.1}% errors", e.calls, e.error_pct)
            } else {
                format!("{} calls", e.calls)
            };
            let title = format!(
                "{} → {}: {label}{}",
                e.parent,
                e.child,
                if e.back { " (closes a cycle)" } else { "" }
            );
            let width = (1.0 + (e.calls as f64).log10()).clamp(1.0, 5.0);
            let severity = e.severity;
            view! {
                <path class="edge" class:warn={severity == wire::EdgeSeverity::Warn}
                    class:error={severity == wire::EdgeSeverity::Error} class:back=e.back
                    d=d stroke-width=width marker-end="url(#arrow)">
                    <title>{title}</title>
                </path>
                <text class="edge-label" x=label_x y=label_y text-anchor="middle">{label}</text>
            }
        })
        .collect_view();
    let navigate = use_navigate();
    let nodes = position
        .iter()
        .map(|(name, &(x, y))| {
            let href = format!("/traces?service={}", api::encode(name));
            let navigate = navigate.clone();
            view! {
                <g class="node" on:click=move |_| navigate(&href, Default::default())>
                    <title>"Open this service's traces"</title>
                    <rect x=x y=y width=NODE_W height=NODE_H rx="6" stroke=colour_for(name)/>
                    <text x=x + NODE_W / 2.0 y=y + NODE_H / 2.0 + 4.0 text-anchor="middle">{name.clone()}</text>
                </g>
            }
        })
        .collect_view();
    let legend = format!(
        "Edges: grey below {:.0}% errors, amber below {:.0}%, red from {:.0}%; dashed edges close a cycle.",
        thresholds.warn_pct, thresholds.error_pct, thresholds.error_pct
    );
    view! {
        <div class="depmap">
            <svg viewBox=format!("0 0 {width:.0} {height:.0}") style=format!("max-width:{width:.0}px") role="img" aria-label="service dependency map">
                <defs>
                    <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse">
                        <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head"/>
                    </marker>
                </defs>
                {lines}
                {nodes}
            </svg>
            <p class="depmap-legend">{legend}</p>
        </div>
    }
}

/// The height of one back edge's lane below the nodes.
const BACK_LANE: f64 = 26.0;

/// Each service's column: the length of the longest call chain leading to it (callers first), over
/// the edges that do not close a cycle (`back`). Should the server mark none, cycles are still cut
/// off after as many rounds as there are services.
fn layer(edges: &[DependencyEdge]) -> BTreeMap<String, usize> {
    let names: BTreeSet<&str> = edges.iter().flat_map(|e| [e.parent.as_str(), e.child.as_str()]).collect();
    let mut depth: BTreeMap<String, usize> = names.iter().map(|n| (n.to_string(), 0)).collect();
    for _ in 0..names.len() {
        let mut changed = false;
        for e in edges.iter().filter(|e| !e.back) {
            let want = depth[&e.parent] + 1;
            if depth[&e.child] < want && want < names.len() {
                depth.insert(e.child.clone(), want);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(parent: &str, child: &str) -> DependencyEdge {
        DependencyEdge {
            parent: parent.into(),
            child: child.into(),
            calls: 1,
            errors: 0,
            ..Default::default()
        }
    }

    #[test]
    fn callers_sit_left_of_callees_and_cycles_terminate() {
        let d = layer(&[edge("agent", "tools"), edge("tools", "db"), edge("agent", "db")]);
        assert_eq!((d["agent"], d["tools"], d["db"]), (0, 1, 2));
        let d = layer(&[edge("a", "b"), edge("b", "a")]);
        assert!(d["a"] < 2 && d["b"] < 2);
    }

    #[test]
    fn back_edges_do_not_push_their_targets_right() {
        let mut closing = edge("c", "a");
        closing.back = true;
        let d = layer(&[edge("gateway", "a"), edge("a", "b"), edge("b", "c"), closing]);
        assert_eq!((d["gateway"], d["a"], d["b"], d["c"]), (0, 1, 2, 3));
    }
}
