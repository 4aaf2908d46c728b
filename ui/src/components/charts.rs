//! SVG charts drawn from data (no chart library, nothing fetched): time-series lines with exemplars,
//! a histogram heatmap, stacked bars (the log severity histogram) and the trace duration scatter.
//! Each is as wide as the page and its x axis is the page's time range; axes have round ticks in the
//! metric's unit (`ticks`); hovering shows a cursor with every series' value; dragging across a
//! chart selects a time range (`on_zoom`), which the pages make their own.

use super::ticks::{self, Unit};
use crate::format;
use leptos::prelude::*;
use std::collections::HashSet;
use wasm_bindgen::JsCast;

const HEIGHT: f64 = 240.0;
/// The log severity histogram sits above a list: lower.
const BARS_HEIGHT: f64 = 140.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;
/// Pixels a drag must cover to be a zoom rather than a click.
const MIN_DRAG: f64 = 5.0;

/// Colours for series and services, readable on both themes.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#e15759", "#bab0ac",
];

/// A stable colour for a name (a service keeps its colour across pages).
pub fn colour_for(name: &str) -> &'static str {
    let hash = name.bytes().fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
    PALETTE[(hash as usize) % (PALETTE.len() - 1)]
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChartSeries {
    pub label: String,
    pub points: Vec<(i64, f64)>,
}

/// A measurement kept with a metric point, drawn as a dot that links to its span.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartExemplar {
    /// The series it belongs to (hidden with it).
    pub series: String,
    pub t: i64,
    pub value: f64,
    pub trace_id: String,
    pub span_id: String,
}

/// The browser's time zone, east of UTC, in nanoseconds.
pub fn tz_offset_ns() -> i64 {
    -(js_sys::Date::new_0().get_timezone_offset() as i64) * 60_000_000_000
}

/// The chart's geometry: pixel width and the data domain.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Plot {
    width: f64,
    height: f64,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Plot {
    fn inner(&self) -> f64 {
        (self.width - LEFT - RIGHT).max(10.0)
    }
    fn x(&self, t: f64) -> f64 {
        LEFT + (t - self.x0) / (self.x1 - self.x0).max(1.0) * self.inner()
    }
    fn t(&self, x: f64) -> f64 {
        self.x0 + (x - LEFT).clamp(0.0, self.inner()) / self.inner() * (self.x1 - self.x0)
    }
    fn y(&self, v: f64) -> f64 {
        let span = if self.y1 > self.y0 { self.y1 - self.y0 } else { 1.0 };
        self.height - BOTTOM - (v - self.y0) / span * (self.height - TOP - BOTTOM)
    }
}

/// The width of a chart's box in pixels, followed as the window resizes.
fn measured_width(node: NodeRef<leptos::html::Div>) -> RwSignal<f64> {
    let width = RwSignal::new(900.0);
    let measure = move || {
        if let Some(el) = node.get_untracked() {
            let w = el.client_width() as f64;
            if w > 0.0 && (w - width.get_untracked()).abs() >= 1.0 {
                width.set(w);
            }
        }
    };
    Effect::new(move |_| {
        if node.get().is_some() {
            measure();
        }
    });
    let handle = window_event_listener(leptos::ev::resize, move |_| measure());
    on_cleanup(move || handle.remove());
    width
}

/// The mouse over a chart: where it hovers and what it drags across (pixels in the SVG).
#[derive(Clone, Copy)]
struct Pointer {
    hover: RwSignal<Option<f64>>,
    drag: RwSignal<Option<(f64, f64)>>,
}

impl Pointer {
    fn new() -> Self {
        Pointer {
            hover: RwSignal::new(None),
            drag: RwSignal::new(None),
        }
    }
}

/// The pointer's x in the SVG that `ev` happened over.
fn svg_x(ev: &web_sys::MouseEvent) -> Option<f64> {
    let target = ev.current_target()?.dyn_into::<web_sys::Element>().ok()?;
    let rect = target.get_bounding_client_rect();
    Some(ev.client_x() as f64 - rect.left())
}

/// Mouse down on a chart: a drag starts (charts that zoom only).
fn on_down(pointer: Pointer, on_zoom: Option<Callback<(i64, i64)>>) -> impl Fn(web_sys::MouseEvent) + Clone {
    move |ev: web_sys::MouseEvent| {
        if on_zoom.is_some() && ev.button() == 0 {
            if let Some(x) = svg_x(&ev) {
                ev.prevent_default();
                pointer.drag.set(Some((x, x)));
            }
        }
    }
}

/// The mouse moves over a chart: the hover follows, and a drag extends.
fn on_move(pointer: Pointer) -> impl Fn(web_sys::MouseEvent) + Clone {
    move |ev: web_sys::MouseEvent| {
        let Some(x) = svg_x(&ev) else { return };
        pointer.hover.set(Some(x));
        if pointer.drag.get_untracked().is_some() {
            pointer.drag.update(|d| {
                if let Some((_, end)) = d {
                    *end = x;
                }
            });
        }
    }
}

/// Mouse up: a drag long enough is a zoom to the times it covers, `on_zoom(start, end)`.
fn on_up(pointer: Pointer, plot: Memo<Plot>, on_zoom: Option<Callback<(i64, i64)>>) -> impl Fn(web_sys::MouseEvent) + Clone {
    move |_ev: web_sys::MouseEvent| {
        if let (Some((a, b)), Some(zoom)) = (pointer.drag.get_untracked(), on_zoom) {
            if (a - b).abs() >= MIN_DRAG {
                let p = plot.get_untracked();
                zoom.run((p.t(a.min(b)) as i64, p.t(a.max(b)) as i64));
            }
        }
        pointer.drag.set(None);
    }
}

/// The mouse leaves a chart: no hover, no drag.
fn on_leave(pointer: Pointer) -> impl Fn(web_sys::MouseEvent) + Clone {
    move |_ev: web_sys::MouseEvent| {
        pointer.hover.set(None);
        pointer.drag.set(None);
    }
}

/// The selection being dragged, as a shaded band.
fn drag_band(pointer: Pointer, plot: Memo<Plot>) -> impl IntoView {
    move || {
        let height = plot.get().height;
        pointer.drag.get().filter(|(a, b)| (a - b).abs() >= 1.0).map(|(a, b)| {
            view! { <rect class="zoom-selection" x=a.min(b) y=TOP width=(a - b).abs() height=height - TOP - BOTTOM/> }
        })
    }
}

/// A chart's SVG: sized to its plot, hover and drag-to-zoom handled (`on_zoom` None: no zoom), the
/// drag band drawn over `content`.
fn zoomable_svg(
    plot: Memo<Plot>,
    pointer: Pointer,
    on_zoom: Option<Callback<(i64, i64)>>,
    label: &'static str,
    content: impl IntoView + 'static,
) -> impl IntoView {
    view! {
        <svg
            width=move || plot.get().width
            height=move || plot.get().height
            viewBox=move || format!("0 0 {} {}", plot.get().width, plot.get().height)
            role="img"
            aria-label=label
            on:mousedown=on_down(pointer, on_zoom)
            on:mousemove=on_move(pointer)
            on:mouseup=on_up(pointer, plot, on_zoom)
            on:mouseleave=on_leave(pointer)
        >
            {content}
            {drag_band(pointer, plot)}
        </svg>
    }
}

/// Value ticks (value, label) and time ticks (unix ns, label).
type ValueTicks = Vec<(f64, String)>;
type TimeTicks = Vec<(i64, String)>;

fn axes(plot: &Plot, y_ticks: &[(f64, String)], time_ticks: &[(i64, String)]) -> impl IntoView {
    let y = y_ticks
        .iter()
        .map(|(v, label)| {
            let y = plot.y(*v);
            view! {
                <line class="grid" x1=LEFT x2=plot.width - RIGHT y1=y y2=y/>
                <text class="tick y-tick" x=LEFT - 6.0 y=y + 4.0 text-anchor="end">{label.clone()}</text>
            }
        })
        .collect_view();
    let x = time_ticks
        .iter()
        .map(|(t, label)| {
            let x = plot.x(*t as f64);
            view! {
                <line class="grid vertical" x1=x x2=x y1=TOP y2=plot.height - BOTTOM/>
                <text class="tick x-tick" x=x y=plot.height - 6.0 text-anchor="middle">{label.clone()}</text>
            }
        })
        .collect_view();
    view! { <g class="axes">{y}{x}</g> }
}

/// Ticks for a plot: values in `unit`, round times in the browser's zone.
fn plot_ticks(plot: &Plot, unit: &Unit) -> (ValueTicks, TimeTicks) {
    let y = ticks::value_axis(plot.y0, plot.y1, unit, 4).ticks;
    let target = (plot.inner() / 90.0).clamp(2.0, 12.0) as usize;
    let x = ticks::time_ticks(plot.x0 as i64, plot.x1 as i64, target, tz_offset_ns());
    (y, x)
}

/// A plot over `range` (or the data's times) and values from `lo` to `hi` widened to round ticks.
fn make_plot(width: f64, height: f64, range: Option<(i64, i64)>, times: impl Iterator<Item = i64>, lo: f64, hi: f64, unit: &Unit) -> Plot {
    let (x0, x1) = match range {
        Some((a, b)) if b > a => (a as f64, b as f64),
        _ => {
            let (mut a, mut b) = (f64::MAX, f64::MIN);
            for t in times {
                a = a.min(t as f64);
                b = b.max(t as f64);
            }
            if a > b {
                (0.0, 1.0)
            } else if b > a {
                (a, b)
            } else {
                (a - 1e9, b + 1e9)
            }
        }
    };
    let axis = ticks::value_axis(lo, hi, unit, 4);
    Plot {
        width,
        height,
        x0,
        x1,
        y0: axis.lo,
        y1: axis.hi,
    }
}

/// Lines over time, one per series, with a legend whose entries hide and show their series (a
/// click toggles one; shift- or ctrl-click shows it alone), exemplar dots linking to their spans, a
/// hover cursor with every series' value, and drag-to-zoom.
#[component]
pub fn LineChart(
    series: Vec<ChartSeries>,
    unit: Unit,
    /// The page's time range: the x axis covers it whether or not data does.
    #[prop(optional)]
    range: Option<(i64, i64)>,
    #[prop(optional)] exemplars: Vec<ChartExemplar>,
    /// Labels of the hidden series; the page may keep it across refreshes.
    #[prop(optional)]
    hidden: Option<RwSignal<HashSet<String>>>,
    #[prop(optional)] on_zoom: Option<Callback<(i64, i64)>>,
) -> impl IntoView {
    let any_point = series.iter().any(|s| s.points.iter().any(|p| p.1.is_finite()));
    if !any_point {
        return view! { <p class="muted no-points">"No points in this time range."</p> }.into_any();
    }
    let hidden = hidden.unwrap_or_else(|| RwSignal::new(HashSet::new()));
    let series = StoredValue::new(series);
    let exemplars = StoredValue::new(exemplars);
    let unit = StoredValue::new(unit);
    let node = NodeRef::<leptos::html::Div>::new();
    let width = measured_width(node);
    let plot = Memo::new(move |_| {
        let hide = hidden.get();
        let (mut lo, mut hi) = (0.0f64, f64::MIN);
        series.with_value(|all| {
            for s in all.iter().filter(|s| !hide.contains(&s.label)) {
                for &(_, v) in s.points.iter().filter(|p| p.1.is_finite()) {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
        });
        exemplars.with_value(|all| {
            for e in all.iter().filter(|e| !hide.contains(&e.series)) {
                hi = hi.max(e.value);
                lo = lo.min(e.value);
            }
        });
        if hi == f64::MIN {
            hi = 1.0;
        }
        let times: Vec<i64> = series.with_value(|all| all.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect());
        unit.with_value(|u| make_plot(width.get(), HEIGHT, range, times.into_iter(), lo, hi, u))
    });
    let pointer = Pointer::new();
    let colour = move |i: usize| PALETTE[i % PALETTE.len()];

    let lines = move || {
        let p = plot.get();
        let hide = hidden.get();
        let (y_ticks, x_ticks) = unit.with_value(|u| plot_ticks(&p, u));
        let drawn = series.with_value(|all| {
            all.iter()
                .enumerate()
                .filter(|(_, s)| !hide.contains(&s.label))
                .map(|(i, s)| {
                    let finite: Vec<(i64, f64)> = s.points.iter().copied().filter(|(_, v)| v.is_finite()).collect();
                    // A gap of more than twice the usual step breaks the line: no data is not a slope.
                    let step = finite
                        .windows(2)
                        .map(|w| w[1].0 - w[0].0)
                        .filter(|d| *d > 0)
                        .min()
                        .unwrap_or(i64::MAX);
                    let mut d = String::new();
                    let mut previous: Option<i64> = None;
                    for &(t, v) in &finite {
                        let jump = previous.is_none_or(|prev| t - prev > step.saturating_mul(2));
                        d.push_str(&format!("{}{:.1},{:.1} ", if jump { "M" } else { "L" }, p.x(t as f64), p.y(v)));
                        previous = Some(t);
                    }
                    let lone = finite.len() <= 2 || finite.windows(2).any(|w| w[1].0 - w[0].0 > step.saturating_mul(2));
                    let dots = lone.then(|| {
                        finite
                            .iter()
                            .map(|&(t, v)| view! { <circle class="point" cx=p.x(t as f64) cy=p.y(v) r="2.5" fill=colour(i)/> })
                            .collect_view()
                    });
                    view! {
                        <path class="series" d=d stroke=colour(i) fill="none" data-label=s.label.clone()>
                            <title>{s.label.clone()}</title>
                        </path>
                        {dots}
                    }
                })
                .collect_view()
        });
        view! { {axes(&p, &y_ticks, &x_ticks)} {drawn} }
    };

    let cursor = move || {
        let x = pointer.hover.get()?;
        if pointer.drag.get().is_some() {
            return None;
        }
        let p = plot.get();
        let hide = hidden.get();
        let wanted = p.t(x) as i64;
        // The nearest time any visible series has a point at.
        let nearest = series.with_value(|all| {
            all.iter()
                .filter(|s| !hide.contains(&s.label))
                .flat_map(|s| s.points.iter().map(|pt| pt.0))
                .min_by_key(|t| (t - wanted).abs())
        })?;
        let cx = p.x(nearest as f64);
        let rows = series.with_value(|all| {
            all.iter()
                .enumerate()
                .filter(|(_, s)| !hide.contains(&s.label))
                .filter_map(|(i, s)| {
                    let (_, v) = s.points.iter().find(|pt| pt.0 == nearest)?;
                    Some((colour(i), s.label.clone(), unit.with_value(|u| u.format(*v))))
                })
                .collect::<Vec<_>>()
        });
        let rows = rows
            .into_iter()
            .map(|(c, label, value)| {
                view! {
                    <div class="tip-row">
                        <span class="swatch" style=format!("background:{c}")></span>
                        <span class="tip-label">{label}</span>
                        <span class="tip-value">{value}</span>
                    </div>
                }
            })
            .collect_view();
        let flip = cx > p.width * 0.6;
        let style = if flip {
            format!("right:{:.0}px;top:{TOP}px", p.width - cx + 12.0)
        } else {
            format!("left:{:.0}px;top:{TOP}px", cx + 12.0)
        };
        Some(view! {
            <div class="chart-tooltip" style=style>
                <div class="tip-time">{format::time(nearest)}</div>
                {rows}
            </div>
            <div class="chart-cursor" style=format!("left:{cx:.1}px;top:{TOP}px;height:{}px", HEIGHT - TOP - BOTTOM)></div>
        })
    };

    let exemplar_dots = move || {
        let p = plot.get();
        let hide = hidden.get();
        exemplars.with_value(|all| {
            all.iter()
                .filter(|e| !hide.contains(&e.series))
                .filter(|e| (e.t as f64) >= p.x0 && (e.t as f64) <= p.x1)
                .map(|e| {
                    let href = format!("/traces/{}?span={}", e.trace_id, e.span_id);
                    let title = format!(
                        "exemplar {} at {} · trace {} · click to open its span",
                        unit.with_value(|u| u.format(e.value)),
                        format::time(e.t),
                        format::short_id(&e.trace_id)
                    );
                    let style = format!("left:{:.1}px;top:{:.1}px", p.x(e.t as f64), p.y(e.value));
                    view! { <a class="exemplar" href=href title=title style=style></a> }
                })
                .collect_view()
        })
    };

    let legend = move || {
        let hide = hidden.get();
        let labels: Vec<String> = series.with_value(|all| all.iter().map(|s| s.label.clone()).collect());
        series.with_value(|all| {
            all.iter()
                .enumerate()
                .map(|(i, s)| {
                    let last = s
                        .points
                        .iter()
                        .rev()
                        .find(|p| p.1.is_finite())
                        .map(|p| unit.with_value(|u| u.format(p.1)))
                        .unwrap_or_default();
                    let label = s.label.clone();
                    let labels = labels.clone();
                    let off = hide.contains(&label);
                    view! {
                        <li
                            class="legend-entry"
                            class:off=off
                            title="click: hide or show · shift- or ctrl-click: show only this one"
                            on:click=move |ev: web_sys::MouseEvent| {
                                let solo = ev.shift_key() || ev.ctrl_key() || ev.meta_key();
                                hidden.update(|h| toggle_legend(h, &labels, &label, solo));
                            }
                        >
                            <span class="swatch" style=format!("background:{}", colour(i))></span>
                            {s.label.clone()}
                            <span class="muted">{format!(" {last}")}</span>
                        </li>
                    }
                })
                .collect_view()
        })
    };

    view! {
        <div class="chart line-chart">
            <div class="chart-box" node_ref=node>
                {zoomable_svg(plot, pointer, on_zoom, "metric values over time", lines)}
                {exemplar_dots}
                {cursor}
            </div>
            <ul class="legend">{legend}</ul>
        </div>
    }
    .into_any()
}

/// A legend click: hide or show `label`; `solo`: show only it (again: show all).
pub fn toggle_legend(hidden: &mut HashSet<String>, labels: &[String], label: &str, solo: bool) {
    if solo {
        let alone = !hidden.contains(label) && labels.iter().filter(|l| l.as_str() != label).all(|l| hidden.contains(l));
        hidden.clear();
        if !alone {
            hidden.extend(labels.iter().filter(|l| l.as_str() != label).cloned());
        }
    } else if !hidden.remove(label) {
        hidden.insert(label.to_string());
    }
}

/// A histogram's observations over time: a column per step, a row per bucket (empty rows at both
/// ends left out), darker for more observations.
#[component]
pub fn Heatmap(
    /// Each column's time.
    times: Vec<i64>,
    step_ns: i64,
    /// Upper bounds; the last row is +Inf.
    bounds: Vec<f64>,
    /// `counts[column][row]`.
    counts: Vec<Vec<f64>>,
    unit: Unit,
    #[prop(optional)] range: Option<(i64, i64)>,
    #[prop(optional)] on_zoom: Option<Callback<(i64, i64)>>,
) -> impl IntoView {
    let rows_total: Vec<f64> = (0..=bounds.len())
        .map(|r| counts.iter().map(|c| c.get(r).copied().unwrap_or(0.0)).sum())
        .collect();
    let Some(first) = rows_total.iter().position(|n| *n > 0.0) else {
        return view! { <p class="muted no-points">"No observations in this time range."</p> }.into_any();
    };
    let last = rows_total.iter().rposition(|n| *n > 0.0).unwrap_or(first);
    let max = counts.iter().flatten().copied().fold(0.0f64, f64::max).max(1.0);
    let columns: Vec<(i64, Vec<f64>)> = times.iter().copied().zip(counts.iter().cloned()).collect();
    let node = NodeRef::<leptos::html::Div>::new();
    let width = measured_width(node);
    let plot = Memo::new(move |_| make_plot(width.get(), HEIGHT, range, times.iter().copied(), 0.0, 1.0, &Unit::Plain));
    let pointer = Pointer::new();
    let rows = last - first + 1;
    let row_height = (HEIGHT - TOP - BOTTOM) / rows as f64;
    let bound_label = move |r: usize| -> String {
        match bounds.get(r) {
            Some(b) => format!("≤ {}", unit.format(*b)),
            None => format!("> {}", bounds.last().map(|b| unit.format(*b)).unwrap_or_default()),
        }
    };
    let labels: Vec<String> = (first..=last).map(&bound_label).collect();
    let cells = move || {
        let p = plot.get();
        let x_ticks = ticks::time_ticks(
            p.x0 as i64,
            p.x1 as i64,
            (p.inner() / 90.0).clamp(2.0, 12.0) as usize,
            tz_offset_ns(),
        );
        let every = (rows / 6).max(1);
        let y_labels = labels
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, label)| {
                let y = HEIGHT - BOTTOM - (i as f64 + 0.5) * row_height + 4.0;
                view! { <text class="tick y-tick" x=LEFT - 6.0 y=y text-anchor="end">{label.clone()}</text> }
            })
            .collect_view();
        let drawn = columns
            .iter()
            .flat_map(|(t, column)| {
                let x = p.x(*t as f64);
                let w = (p.x((*t + step_ns) as f64) - x).max(1.0);
                let labels = labels.clone();
                column
                    .iter()
                    .enumerate()
                    .skip(first)
                    .take(rows)
                    .filter(|(_, n)| **n > 0.0)
                    .map(move |(r, n)| {
                        let y = HEIGHT - BOTTOM - (r - first + 1) as f64 * row_height;
                        let opacity = 0.15 + 0.85 * (n / max).sqrt();
                        let title = format!("{} · {}: {}", format::time(*t), labels[r - first], format::count(*n as i64));
                        view! {
                            <rect class="heat-cell" x=x y=y width=w height=row_height fill-opacity=format!("{opacity:.2}") data-count=n.to_string()>
                                <title>{title}</title>
                            </rect>
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect_view();
        let x_axis = x_ticks
            .into_iter()
            .map(|(t, label)| view! { <text class="tick x-tick" x=p.x(t as f64) y=HEIGHT - 6.0 text-anchor="middle">{label}</text> })
            .collect_view();
        view! { {y_labels} {x_axis} {drawn} }
    };
    view! {
        <div class="chart heatmap">
            <div class="chart-box" node_ref=node>
                {zoomable_svg(plot, pointer, on_zoom, "observations per bucket over time", cells)}
            </div>
            <p class="muted small">{format!("darkest: {} observations in a bucket and step", format::count(max as i64))}</p>
        </div>
    }
    .into_any()
}

/// Severity classes of the log histogram, in stacking order (bottom first).
pub const SEVERITY_CLASSES: [&str; 7] = ["fatal", "error", "warn", "info", "debug", "trace", "unset"];

/// Log records per time step, stacked by severity; clicking a bar (or dragging across several)
/// narrows the page's time range to it.
#[component]
pub fn SeverityBars(
    /// `(step start, counts by class)` with the classes in `SEVERITY_CLASSES` order.
    buckets: Vec<(i64, [i64; 7])>,
    step_ns: i64,
    range: (i64, i64),
    on_zoom: Callback<(i64, i64)>,
) -> impl IntoView {
    let max = buckets.iter().map(|(_, c)| c.iter().sum::<i64>()).max().unwrap_or(0);
    let node = NodeRef::<leptos::html::Div>::new();
    let width = measured_width(node);
    // Counts are whole: the axis steps by 1, 2 or 5 times a power of ten.
    let count_ticks = ticks::count_axis(max as f64, 3);
    let top = count_ticks.hi;
    let plot = Memo::new(move |_| Plot {
        y1: top,
        ..make_plot(width.get(), BARS_HEIGHT, Some(range), std::iter::empty(), 0.0, top, &Unit::Plain)
    });
    let pointer = Pointer::new();
    let buckets = StoredValue::new(buckets);
    let bars = move || {
        let p = plot.get();
        let (_, x_ticks) = plot_ticks(&p, &Unit::Plain);
        let y_ticks = count_ticks.ticks.clone();
        let drawn = buckets.with_value(|all| {
            all.iter()
                .filter(|(_, c)| c.iter().any(|n| *n > 0))
                .map(|&(start, counts)| {
                    let x = p.x(start as f64) + 0.5;
                    let w = (p.x((start + step_ns) as f64) - x - 1.0).max(1.0);
                    let total: i64 = counts.iter().sum();
                    let mut below = 0i64;
                    let rects = SEVERITY_CLASSES
                        .iter()
                        .zip(counts)
                        .filter(|(_, n)| *n > 0)
                        .map(|(class, n)| {
                            let (y_top, y_bottom) = (p.y((below + n) as f64), p.y(below as f64));
                            below += n;
                            view! { <rect class=format!("sev-fill {class}") x=x y=y_top width=w height=(y_bottom - y_top).max(0.5) data-count=n.to_string()/> }
                        })
                        .collect_view();
                    let summary = SEVERITY_CLASSES
                        .iter()
                        .zip(counts)
                        .filter(|(_, n)| *n > 0)
                        .map(|(class, n)| format!("{} {class}", format::count(n)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let title = format!("{} – {}: {summary} · click to narrow to this", format::time(start), format::time(start + step_ns));
                    view! {
                        <g
                            class="hbar"
                            data-start=start.to_string()
                            data-total=total.to_string()
                            on:click=move |_| on_zoom.run((start, start + step_ns))
                        >
                            <title>{title}</title>
                            {rects}
                        </g>
                    }
                })
                .collect_view()
        });
        view! { {axes(&p, &y_ticks, &x_ticks)} {drawn} }
    };
    view! {
        <div class="chart severity-histogram">
            <div class="chart-box" node_ref=node>
                {zoomable_svg(plot, pointer, Some(on_zoom), "log records per severity over time", bars)}
            </div>
        </div>
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScatterPoint {
    pub t: i64,
    pub duration_ns: i64,
    pub error: bool,
    pub trace_id: String,
    pub label: String,
}

/// Trace durations over the page's time range: each dot is a trace (red for errors); clicking one
/// opens it, dragging across the chart zooms.
#[component]
pub fn ScatterPlot(
    points: Vec<ScatterPoint>,
    open: Callback<String>,
    #[prop(optional)] range: Option<(i64, i64)>,
    #[prop(optional)] on_zoom: Option<Callback<(i64, i64)>>,
) -> impl IntoView {
    if points.is_empty() {
        return view! { <div class="scatter-empty"></div> }.into_any();
    }
    let node = NodeRef::<leptos::html::Div>::new();
    let width = measured_width(node);
    let longest = points.iter().map(|p| p.duration_ns).max().unwrap_or(1) as f64;
    let points = StoredValue::new(points);
    let unit = Unit::Duration(1.0);
    let plot = Memo::new(move |_| {
        let times: Vec<i64> = points.with_value(|all| all.iter().map(|p| p.t).collect());
        make_plot(
            width.get(),
            HEIGHT,
            range,
            times.into_iter(),
            0.0,
            longest.max(1.0),
            &Unit::Duration(1.0),
        )
    });
    let pointer = Pointer::new();
    let dots = move || {
        let p = plot.get();
        let (y_ticks, x_ticks) = plot_ticks(&p, &unit);
        let drawn = points.with_value(|all| {
            all.iter()
                .map(|pt| {
                    let class = if pt.error { "dot error" } else { "dot" };
                    let id = pt.trace_id.clone();
                    view! {
                        <circle class=class cx=p.x(pt.t as f64) cy=p.y(pt.duration_ns as f64) r="4" on:click=move |_| open.run(id.clone())>
                            <title>{format!("{} · {}", pt.label, format::duration(pt.duration_ns))}</title>
                        </circle>
                    }
                })
                .collect_view()
        });
        view! { {axes(&p, &y_ticks, &x_ticks)} {drawn} }
    };
    view! {
        <div class="chart scatter">
            <div class="chart-box" node_ref=node>
                {zoomable_svg(plot, pointer, on_zoom, "trace durations over time", dots)}
            </div>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_clicks_hide_show_and_solo() {
        let labels: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let mut hidden = HashSet::new();
        toggle_legend(&mut hidden, &labels, "b", false);
        assert_eq!(hidden, HashSet::from(["b".to_string()]));
        toggle_legend(&mut hidden, &labels, "b", false);
        assert!(hidden.is_empty());
        toggle_legend(&mut hidden, &labels, "a", true);
        assert_eq!(hidden, HashSet::from(["b".to_string(), "c".to_string()]));
        // Solo again: everything back.
        toggle_legend(&mut hidden, &labels, "a", true);
        assert!(hidden.is_empty());
    }
}
