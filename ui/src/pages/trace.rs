//! One trace: a virtualised waterfall (collapsible span tree, a colour per service, error marks, the
//! critical path outlined), a flame graph and the trace's statistics beside it, find in trace, the
//! selected span's details, the trace's and the span's logs, and an OTLP/JSON download. The selected
//! span is the `span` query parameter and the view `view`, so both can be linked. `TraceView` also
//! shows traces read from a file (`trace_file`), which are not stored.

use crate::api;
use crate::components::attrs::AttrTable;
use crate::components::charts::colour_for;
use crate::components::flame::FlameGraph;
use crate::components::trace_stats::TraceStats;
use crate::components::{query, CopyButton, ErrorNote, Loading};
use crate::format;
use crate::span_stats;
use crate::tree::{self, Tree};
use crate::wire::{self, LogRecord, LogsResponse, Span, TraceResponse};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Height of a waterfall row in pixels (the stylesheet's `.wf-row` matches).
const ROW_HEIGHT: f64 = 26.0;
/// Rows drawn above and below the visible ones, so fast scrolling shows no gaps.
const OVERSCAN: usize = 15;

/// The loaded trace with its tree, shared by the views and the detail panel.
#[derive(Clone)]
pub struct Loaded {
    pub spans: Arc<Vec<Span>>,
    pub tree: Arc<Tree>,
}

impl Loaded {
    pub fn new(spans: Vec<Span>) -> Loaded {
        let tree = tree::build(&spans);
        Loaded {
            spans: Arc::new(spans),
            tree: Arc::new(tree),
        }
    }
}

/// Fetches a stored trace.
pub async fn fetch(trace_id: &str) -> Result<Loaded, api::ApiError> {
    let response = api::get::<TraceResponse, _>(&wire::routes::trace(&api::encode(trace_id)), &()).await?;
    Ok(Loaded::new(response.spans))
}

#[component]
pub fn TracePage() -> impl IntoView {
    let params = use_params_map();
    let trace_id = Memo::new(move |_| params.read().get("trace_id").unwrap_or_default());
    let trace = LocalResource::new(move || {
        let id = trace_id.get();
        async move { fetch(&id).await }
    });
    view! {
        <section class="page">
            {move || match trace.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! {
                    <ErrorNote message=e.message/>
                    <p><a href="/traces">"← back to traces"</a></p>
                }
                .into_any(),
                Some(Ok(loaded)) => view! { <TraceView loaded=loaded trace_id=trace_id.get_untracked()/> }.into_any(),
            }}
        </section>
    }
}

/// A trace's page below the route: head, view switch, find, the chosen view and the detail panel.
/// `file` names the file a trace was read from (it is then not stored: no logs, no download).
#[component]
pub fn TraceView(loaded: Loaded, trace_id: String, #[prop(optional)] file: Option<String>) -> impl IntoView {
    let Loaded { spans, tree } = loaded;
    let selected_id = query::param("span");
    let view_name = query::param("view");
    let set_query = query::setter();
    let select = {
        let set_query = set_query.clone();
        Callback::new(move |span_id: String| set_query(&[("span", span_id)]))
    };
    let selected = {
        let spans = spans.clone();
        Memo::new(move |_| {
            let id = selected_id.get();
            spans.iter().position(|s| s.span_id == id)
        })
    };

    let root = tree.rows.first().map(|r| spans[r.span].clone());
    let services: Vec<String> = {
        let mut names: Vec<String> = spans.iter().map(|s| s.service.clone()).collect();
        names.sort();
        names.dedup();
        names
    };
    let errors = spans.iter().filter(|s| s.status.code == wire::StatusCode::Error).count();
    let title = root.as_ref().map(|r| format!("{}: {}", r.service, r.name)).unwrap_or_default();
    let colours = Arc::new(trace_colours(&spans));
    let self_ns = Arc::new(span_stats::self_times(&spans, &tree));
    let legend = services
        .iter()
        .map(|s| view! { <span class="chip" style=format!("border-color:{}", colours[s])>{s.clone()}</span> })
        .collect_view();
    let show_critical = RwSignal::new(false);
    let stored = file.is_none();

    // Find in trace: the matching rows, the current one, and a request for the waterfall to show a row.
    let find_text = RwSignal::new(String::new());
    let found = {
        let (spans, tree) = (spans.clone(), tree.clone());
        Memo::new(move |_| crate::find::find(&spans, &tree, &find_text.get()))
    };
    let matched = {
        let tree = tree.clone();
        Memo::new(move |_| found.with(|rows| rows.iter().map(|&r| tree.rows[r].span).collect::<HashSet<usize>>()))
    };
    let current_match = RwSignal::new(None::<usize>);
    let reveal = RwSignal::new(None::<usize>);
    // `walk`: Enter or an arrow, which goes to the waterfall; typing highlights in the view shown.
    let go_to_match = {
        let set_query = set_query.clone();
        move |step: isize, walk: bool| {
            let rows = found.get_untracked();
            if rows.is_empty() {
                current_match.set(None);
                return;
            }
            let n = rows.len() as isize;
            let next = match current_match.get_untracked() {
                None if step < 0 => n - 1,
                None => 0,
                Some(i) => (i as isize + step).rem_euclid(n),
            } as usize;
            current_match.set(Some(next));
            if walk && !view_name.get_untracked().is_empty() {
                // Matches are walked in the waterfall.
                set_query(&[("view", String::new())]);
            }
            reveal.set(Some(rows[next]));
        }
    };
    let find_step = go_to_match.clone();
    let find_next = go_to_match.clone();
    let find_prev = go_to_match.clone();
    let find_count = move || {
        let total = found.read().len();
        match (find_text.read().trim().is_empty(), current_match.get()) {
            (true, _) => String::new(),
            (false, _) if total == 0 => "no match".to_string(),
            (false, Some(i)) => format!("{} of {total}", i + 1),
            (false, None) => format!("{total} matches"),
        }
    };

    let head_extra = match &file {
        Some(name) => view! {
            <div class="file-banner" role="note">
                {format!("From the file {name}: read in this browser only, not stored in otelbox.")}
                " "<a href="/traces/file">"Other traces of the file"</a>
            </div>
        }
        .into_any(),
        None => {
            let download = wire::routes::trace_otlp(&api::encode(&trace_id));
            let other = RwSignal::new(String::new());
            let navigate = use_navigate();
            let this = trace_id.clone();
            let compare = move || {
                let b = other.get_untracked().trim().to_string();
                if !b.is_empty() {
                    navigate(
                        &format!("/traces/compare?a={}&b={}", api::encode(&this), api::encode(&b)),
                        Default::default(),
                    );
                }
            };
            let compare_key = compare.clone();
            view! {
                <a href=download download="">"Download OTLP/JSON"</a>
                <details class="compare-with">
                    <summary>"Compare with…"</summary>
                    <input id="compare-with" type="text" class="mono" placeholder="another trace id"
                        prop:value=move || other.get()
                        on:input=move |ev| other.set(event_target_value(&ev))
                        on:keydown=move |ev| if ev.key() == "Enter" { compare_key() }/>
                    <button on:click=move |_| compare()>"Compare"</button>
                </details>
            }
            .into_any()
        }
    };

    // The trace's logs, fetched once, in a window around the trace (stored traces only).
    let (from, to) = (tree.start_ns - 60_000_000_000, tree.end_ns + 300_000_000_000);
    let logs_id = trace_id.clone();
    let logs = LocalResource::new(move || {
        let params = wire::LogsParams {
            trace_id: Some(logs_id.clone()),
            limit: Some(1000),
            window: wire::WindowParams {
                start: Some(from.to_string()),
                end: Some(to.to_string()),
                since: None,
            },
            ..Default::default()
        };
        async move {
            if !stored {
                // A file's trace: nothing to ask the box for.
                return Ok(LogsResponse {
                    logs: Vec::new(),
                    total: None,
                    total_capped: false,
                    warnings: Vec::new(),
                });
            }
            api::get::<LogsResponse, _>(wire::routes::LOGS, &params).await
        }
    });

    let tab = {
        let set_query = set_query.clone();
        move |name: &'static str, label: &'static str| {
            let set_query = set_query.clone();
            view! {
                <button class="view-tab" data-view=name aria-pressed=move || (view_name.get() == name).to_string()
                    on:click=move |_| set_query(&[("view", name.to_string())])>{label}</button>
            }
        }
    };
    let chosen_view = {
        let (spans, tree, colours, self_ns) = (spans.clone(), tree.clone(), colours.clone(), self_ns.clone());
        move || {
            match view_name.get().as_str() {
            "flame" => view! {
                <FlameGraph spans=spans.clone() tree=tree.clone() colours=colours.clone() self_ns=self_ns.clone()
                    selected=selected select=select matched=matched/>
            }
            .into_any(),
            "stats" => view! { <TraceStats spans=spans.clone() self_ns=self_ns.clone()/> }.into_any(),
            _ => view! {
                <Waterfall spans=spans.clone() tree=tree.clone() selected=selected select=select colours=colours.clone()
                    show_critical=show_critical matched=matched current_match=Signal::derive(move || current_match.get().and_then(|i| found.read().get(i).copied()))
                    reveal=reveal/>
            }
            .into_any(),
        }
        }
    };

    view! {
        <div class="trace-head">
            <span class="title">{title}</span>
            <span class="muted">{format!("{} spans", spans.len())}</span>
            <span>{format::duration(tree.end_ns - tree.start_ns)}</span>
            <span class="muted">{format::time(tree.start_ns)}</span>
            {(errors > 0).then(|| view! { <span class="badge error">{format!("{errors} errors")}</span> })}
            <span class="mono small">{trace_id.clone()}</span>
            <CopyButton text=trace_id.clone() label="copy id"/>
            {head_extra}
        </div>
        <div class="legend-row">
            <div class="view-tabs">
                {tab("", "Waterfall")}
                {tab("flame", "Flame graph")}
                {tab("stats", "Statistics")}
            </div>
            <span class="find">
                <input id="find" type="search" placeholder="Find in trace" title="Name, service, span id, attribute keys and values; Enter: next, Shift+Enter: previous"
                    prop:value=move || find_text.get()
                    on:input=move |ev| {
                        find_text.set(event_target_value(&ev));
                        current_match.set(None);
                        find_step(1, false);
                    }
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" {
                            ev.prevent_default();
                            go_to_match(if ev.shift_key() { -1 } else { 1 }, true);
                        }
                    }/>
                <span class="find-count muted small">{find_count}</span>
                <button class="ghost find-prev" title="Previous match (Shift+Enter)" on:click=move |_| find_prev(-1, true)>"↑"</button>
                <button class="ghost find-next" title="Next match (Enter)" on:click=move |_| find_next(1, true)>"↓"</button>
            </span>
            {legend}
            <span class="muted small" class:hidden=move || !view_name.get().is_empty()>"red stripes and a ! : error status"</span>
            <label class="small" class:hidden=move || !view_name.get().is_empty() title="Outline the spans on the critical path: the chain of work the trace's end waited on">
                <input type="checkbox" prop:checked=move || show_critical.get() on:change=move |ev| show_critical.set(event_target_checked(&ev))/>
                " critical path"
            </label>
        </div>
        // The statistics table takes the whole width: it is about the trace, not a span.
        <div class="trace-layout" class:wide=move || view_name.get() == "stats">
            <div class="trace-main">{chosen_view}</div>
            <aside class="detail" class:hidden=move || view_name.get() == "stats">
                {move || match selected.get() {
                    Some(i) => view! { <SpanDetail span=spans[i].clone() trace_start=tree.start_ns self_ns=self_ns[i]/> }.into_any(),
                    None => view! { <p class="muted">"Select a span to see its attributes, resource, events and links."</p> }.into_any(),
                }}
                <h4>"Logs"</h4>
                {move || match logs.get() {
                    _ if !stored => view! { <p class="muted small">"A trace from a file comes without logs."</p> }.into_any(),
                    None => view! { <Loading/> }.into_any(),
                    Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                    Some(Ok(r)) => {
                        let span_id = selected_id.get();
                        // Oldest first, as the trace unfolds (a conversation's messages read in order).
                        let mut shown: Vec<LogRecord> = r.logs.into_iter().filter(|l| span_id.is_empty() || l.span_id == span_id).collect();
                        shown.reverse();
                        view! { <TraceLogs logs=shown for_span=!span_id.is_empty()/> }.into_any()
                    }
                }}
            </aside>
        </div>
    }
}

#[component]
fn Waterfall(
    spans: Arc<Vec<Span>>,
    tree: Arc<Tree>,
    selected: Memo<Option<usize>>,
    select: Callback<String>,
    colours: Arc<HashMap<String, &'static str>>,
    show_critical: RwSignal<bool>,
    /// Spans (indexes) find in trace matches, and the row of the current match.
    matched: Memo<HashSet<usize>>,
    current_match: Signal<Option<usize>>,
    /// A row to bring into view: its collapsed ancestors open and the list scrolls to it.
    reveal: RwSignal<Option<usize>>,
) -> impl IntoView {
    let collapsed = RwSignal::new(HashSet::<usize>::new());
    // The name column's share of the width, in percent (the slider in the header).
    let name_pct = RwSignal::new(38u32);
    let visible = {
        let tree = tree.clone();
        Memo::new(move |_| collapsed.with(|c| tree::visible(&tree.rows, c)))
    };
    let scroll_top = RwSignal::new(0.0f64);
    let viewport = RwSignal::new(900.0f64);
    let scroller = NodeRef::<leptos::html::Div>::new();
    let total_ns = (tree.end_ns - tree.start_ns).max(1) as f64;
    let t0 = tree.start_ns;
    let total_rows = tree.rows.len();

    {
        let tree = tree.clone();
        Effect::new(move |_| {
            let Some(row) = reveal.get() else {
                return;
            };
            let ancestors = tree::ancestors(&tree.rows, row);
            if collapsed.with_untracked(|c| ancestors.iter().any(|a| c.contains(a))) {
                collapsed.update(|c| c.retain(|row| !ancestors.contains(row)));
            }
            let Some(position) = visible.with_untracked(|shown| shown.iter().position(|&r| r == row)) else {
                return;
            };
            // After the next render: the list's height grows with the rows just opened.
            request_animation_frame(move || {
                let Some(el) = scroller.get_untracked() else {
                    return;
                };
                let height = el.client_height() as f64;
                let top = position as f64 * ROW_HEIGHT;
                // Only scroll when the row is out of sight, and then centre it.
                let current = el.scroll_top() as f64;
                if top < current || top + ROW_HEIGHT > current + height {
                    el.set_scroll_top((top - height / 2.0 + ROW_HEIGHT / 2.0).max(0.0) as i32);
                }
                scroll_top.set(el.scroll_top() as f64);
                viewport.set(height);
            });
        });
    }

    let rows = move || {
        let shown = visible.get();
        let first = ((scroll_top.get() / ROW_HEIGHT) as usize).saturating_sub(OVERSCAN);
        let last = (first + (viewport.get() / ROW_HEIGHT) as usize + 2 * OVERSCAN).min(shown.len());
        let chosen = selected.get();
        let folded = collapsed.get();
        let outline_critical = show_critical.get();
        let hits = matched.read();
        let current = current_match.get();
        (first..last)
            .map(|position| {
                let row_index = shown[position];
                let row = &tree.rows[row_index];
                let span = &spans[row.span];
                let left = (span.start_unix_nano - t0) as f64 / total_ns * 100.0;
                let width = (span.duration_ns.max(0) as f64 / total_ns * 100.0).max(0.15);
                let error = span.status.code == wire::StatusCode::Error;
                let critical = outline_critical && tree.critical.contains(&row.span);
                let colour = colours.get(&span.service).copied().unwrap_or_else(|| colour_for(&span.service));
                let id = span.span_id.clone();
                let toggle = if row.has_children {
                    if folded.contains(&row_index) {
                        "▸"
                    } else {
                        "▾"
                    }
                } else {
                    ""
                };
                // The duration label goes after the bar, else before it, else inside it (very wide bars).
                let (label_at, inside) = if left + width <= 80.0 {
                    (format!("left:{:.2}%", left + width + 0.5), false)
                } else if left >= 15.0 {
                    (format!("right:{:.2}%", 100.0 - left + 0.5), false)
                } else {
                    (format!("left:{:.2}%", left + 0.5), true)
                };
                view! {
                    <div
                        class="wf-row"
                        class:selected=chosen == Some(row.span)
                        class:found=hits.contains(&row.span)
                        class:current-found=current == Some(row_index)
                        style=format!("top:{}px", position as f64 * ROW_HEIGHT)
                        data-span-id=span.span_id.clone()
                        on:click=move |_| select.run(id.clone())
                    >
                        <div class="wf-name" style=format!("padding-left:{}px", 6 + indent(row.depth))
                            title=format!("{}: {} (depth {})", span.service, span.name, row.depth)>
                            <span
                                class="wf-toggle"
                                on:click=move |ev| {
                                    ev.stop_propagation();
                                    collapsed.update(|c| {
                                        if !c.remove(&row_index) {
                                            c.insert(row_index);
                                        }
                                    });
                                }
                            >
                                {toggle}
                            </span>
                            <span class="wf-svc" style=format!("background:{colour}")></span>
                            {error.then(|| view! { <span class="err-mark" title="error status">"!"</span> })}
                            <span class="muted small">{span.service.clone()}</span>
                            <span>{span.name.clone()}</span>
                        </div>
                        <div class="wf-timeline">
                            <div
                                class="wf-bar"
                                class:error=error
                                class:critical=critical
                                style=format!("left:{left:.3}%;width:{width:.3}%;background-color:{colour}")
                            ></div>
                            <span class="wf-label" class:inside=inside style=label_at>{format::duration(span.duration_ns)}</span>
                        </div>
                    </div>
                }
            })
            .collect_view()
    };
    let ticks = (0..=4)
        .map(|i| {
            let at = total_ns * i as f64 / 4.0;
            view! { <span class="wf-tick" style=format!("left:{}%;transform:translateX(-{}%)", i * 25, i * 25)>{format::duration(at as i64)}</span> }
        })
        .collect_view();
    view! {
        <div class="waterfall" style=move || format!("--wf-name:{}%", name_pct.get())>
            <div class="wf-header">
                <div class="wf-name-head">
                    {move || format!("Service and operation ({} of {} rows shown)", visible.read().len(), total_rows)}
                    <input type="range" class="wf-width" min="20" max="75" step="1" title="Width of the name column"
                        prop:value=move || name_pct.get().to_string()
                        on:input=move |ev| {
                            if let Ok(pct) = event_target_value(&ev).parse::<u32>() {
                                name_pct.set(pct.clamp(20, 75));
                            }
                        }/>
                </div>
                <div style="position:relative">{ticks}</div>
            </div>
            <div
                class="wf-scroll"
                node_ref=scroller
                on:scroll=move |_| {
                    if let Some(el) = scroller.get() {
                        scroll_top.set(el.scroll_top() as f64);
                        viewport.set(el.client_height() as f64);
                    }
                }
            >
                <div style=move || format!("position:relative;height:{}px", visible.read().len() as f64 * ROW_HEIGHT)>{rows}</div>
            </div>
        </div>
    }
}

/// How far a row's name is indented: 14 px a level for the first 8 levels, then 3 px a level up to
/// 200 px, so the names of deep traces stay readable (the row's tooltip gives the exact depth).
fn indent(depth: usize) -> usize {
    let shallow = depth.min(8) * 14;
    let deep = depth.saturating_sub(8) * 3;
    (shallow + deep).min(200)
}

/// Colours more to give services whose stable colour another service of the trace already has.
const MORE_COLOURS: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#393b79", "#637939",
];

/// Each service of the trace's colour: its stable colour (`colour_for`, the same on every page) unless
/// a service seen earlier in the trace has it, then the first colour no service of the trace has.
fn trace_colours(spans: &[Span]) -> HashMap<String, &'static str> {
    let mut by_start: Vec<&Span> = spans.iter().collect();
    by_start.sort_by_key(|s| s.start_unix_nano);
    let mut colours: HashMap<String, &'static str> = HashMap::new();
    let mut taken: HashSet<&'static str> = HashSet::new();
    for span in by_start {
        if colours.contains_key(&span.service) {
            continue;
        }
        let stable = colour_for(&span.service);
        let colour = if taken.contains(stable) {
            crate::components::charts::PALETTE
                .iter()
                .chain(MORE_COLOURS.iter())
                .copied()
                .find(|c| !taken.contains(c))
                .unwrap_or(stable)
        } else {
            stable
        };
        taken.insert(colour);
        colours.insert(span.service.clone(), colour);
    }
    colours
}

#[component]
fn SpanDetail(span: Span, trace_start: i64, self_ns: i64) -> impl IntoView {
    let status_class = match span.status.code.as_str() {
        "error" => "badge error",
        "ok" => "badge ok",
        _ => "badge",
    };
    let events = span
        .events
        .iter()
        .map(|e| {
            view! {
                <div class="event">
                    <div>
                        <strong>{e.name.clone()}</strong>
                        <span class="muted small">{format!(" +{}", format::duration(e.time_unix_nano - span.start_unix_nano))}</span>
                    </div>
                    <AttrTable attrs=e.attributes.clone()/>
                </div>
            }
        })
        .collect_view();
    let links = span
        .links
        .iter()
        .map(|l| {
            let href = format!("/traces/{}?span={}", l.trace_id, l.span_id);
            view! {
                <div>
                    <a href=href class="mono small">{format!("{} / {}", format::short_id(&l.trace_id), format::short_id(&l.span_id))}</a>
                    <AttrTable attrs=l.attributes.clone()/>
                </div>
            }
        })
        .collect_view();
    let scope = if span.scope.version.is_empty() {
        span.scope.name.clone()
    } else {
        format!("{} {}", span.scope.name, span.scope.version)
    };
    view! {
        <h3 class="span-title">{span.name.clone()}</h3>
        <div class="kv">
            <span class="k">"service"</span><span style=format!("color:{}", colour_for(&span.service))>{span.service.clone()}</span>
            <span class="k">"kind"</span><span>{span.kind.to_string()}</span>
            <span class="k">"duration"</span><span>{format::duration(span.duration_ns)}</span>
            <span class="k">"self time"</span><span title="Its duration less the time its children cover">{format::duration(self_ns)}</span>
            <span class="k">"starts at"</span><span>{format!("+{} · {}", format::duration(span.start_unix_nano - trace_start), format::time(span.start_unix_nano))}</span>
            <span class="k">"status"</span>
            <span><span class=status_class>{span.status.code.to_string()}</span>" "{span.status.message.clone()}</span>
            <span class="k">"span id"</span><span class="mono">{span.span_id.clone()}" "<CopyButton text=span.span_id.clone()/></span>
            <span class="k">"parent"</span><span class="mono">{if span.parent_span_id.is_empty() { "(root)".to_string() } else { span.parent_span_id.clone() }}</span>
            <span class="k">"scope"</span><span>{scope}</span>
        </div>
        <h4>"Attributes"</h4>
        <AttrTable attrs=span.attributes.clone()/>
        <h4>"Resource"</h4>
        <AttrTable attrs=span.resource.clone()/>
        <h4>{format!("Events ({})", span.events.len())}</h4>
        {events}
        <h4>{format!("Links ({})", span.links.len())}</h4>
        {links}
    }
}

#[component]
fn TraceLogs(logs: Vec<LogRecord>, for_span: bool) -> impl IntoView {
    if logs.is_empty() {
        let note = if for_span {
            "No logs for this span."
        } else {
            "No logs for this trace."
        };
        return view! { <p class="muted small">{note}</p> }.into_any();
    }
    let rows = logs
        .into_iter()
        .map(|l| {
            let level = crate::pages::logs::severity_class(l.severity_number);
            let text = if l.severity_text.is_empty() {
                level.to_uppercase()
            } else {
                l.severity_text.clone()
            };
            let event = (!l.event_name.is_empty()).then(|| view! { " " <span class="chip">{l.event_name.clone()}</span> });
            let attributes = (!l.attributes.is_empty()).then(|| {
                let pairs: Vec<String> = l.attributes.iter().map(|(k, v)| format!("{k}={}", format::value(v))).collect();
                view! { <div class="small muted">{pairs.join("  ")}</div> }
            });
            view! {
                <div class="trace-log">
                    <span class=format!("sev {level}")>{text}</span>
                    {event}
                    " "
                    <span class="muted small">{format::time(l.time_unix_nano)}</span>
                    <div class="log-body">{format::value(&l.body)}</div>
                    {attributes}
                </div>
            }
        })
        .collect_view();
    view! { <div class="trace-logs">{rows}</div> }.into_any()
}
