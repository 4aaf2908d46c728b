//! Small SVG charts drawn from data (no chart library, nothing fetched): time-series lines and the
//! trace duration scatter plot.

use crate::format;
use leptos::prelude::*;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

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

/// Maps data coordinates to the SVG box.
struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Frame {
    fn x(&self, t: f64) -> f64 {
        LEFT + (t - self.x0) / (self.x1 - self.x0).max(1.0) * (WIDTH - LEFT - RIGHT)
    }
    fn y(&self, v: f64) -> f64 {
        let span = if self.y1 > self.y0 { self.y1 - self.y0 } else { 1.0 };
        HEIGHT - BOTTOM - (v - self.y0) / span * (HEIGHT - TOP - BOTTOM)
    }
}

fn axes(frame: &Frame, y_label: fn(f64) -> String) -> impl IntoView {
    let y_ticks = (0..=4)
        .map(|i| {
            let v = frame.y0 + (frame.y1 - frame.y0) * i as f64 / 4.0;
            let y = frame.y(v);
            view! {
                <line class="grid" x1=LEFT x2=WIDTH - RIGHT y1=y y2=y/>
                <text class="tick" x=LEFT - 6.0 y=y + 4.0 text-anchor="end">{y_label(v)}</text>
            }
        })
        .collect_view();
    let x_ticks = (0..=4)
        .map(|i| {
            let t = frame.x0 + (frame.x1 - frame.x0) * i as f64 / 4.0;
            let x = frame.x(t);
            let anchor = match i {
                0 => "start",
                4 => "end",
                _ => "middle",
            };
            let label = format::clock(t as i64);
            view! { <text class="tick" x=x y=HEIGHT - 6.0 text-anchor=anchor>{label}</text> }
        })
        .collect_view();
    view! { <g>{y_ticks}{x_ticks}</g> }
}

/// Lines over time, one per series, with a legend.
#[component]
pub fn LineChart(series: Vec<ChartSeries>, y_label: fn(f64) -> String) -> impl IntoView {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, 0.0f64, f64::MIN);
    for &(t, v) in all {
        if !v.is_finite() {
            continue;
        }
        x0 = x0.min(t as f64);
        x1 = x1.max(t as f64);
        y0 = y0.min(v);
        y1 = y1.max(v);
    }
    if x0 > x1 {
        return view! { <p class="muted">"No points in this time range."</p> }.into_any();
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let frame = Frame {
        x0,
        x1,
        y0,
        y1: y1 + (y1 - y0) * 0.05,
    };
    let lines = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let colour = PALETTE[i % PALETTE.len()];
            let d: String = s
                .points
                .iter()
                .filter(|(_, v)| v.is_finite())
                .enumerate()
                .map(|(j, &(t, v))| format!("{}{:.1},{:.1}", if j == 0 { "M" } else { " L" }, frame.x(t as f64), frame.y(v)))
                .collect();
            let dots = (s.points.len() <= 2).then(|| {
                s.points
                    .iter()
                    .filter(|(_, v)| v.is_finite())
                    .map(|&(t, v)| view! { <circle cx=frame.x(t as f64) cy=frame.y(v) r="3" fill=colour/> })
                    .collect_view()
            });
            view! {
                <path class="series" d=d stroke=colour fill="none">
                    <title>{s.label.clone()}</title>
                </path>
                {dots}
            }
        })
        .collect_view();
    let legend = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let last = s
                .points
                .iter()
                .rev()
                .find(|p| p.1.is_finite())
                .map(|p| y_label(p.1))
                .unwrap_or_default();
            view! {
                <li>
                    <span class="swatch" style=format!("background:{}", PALETTE[i % PALETTE.len()])></span>
                    {s.label.clone()}
                    <span class="muted">{format!(" {last}")}</span>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img">
                {axes(&frame, y_label)}
                {lines}
            </svg>
            <ul class="legend">{legend}</ul>
        </div>
    }
    .into_any()
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScatterPoint {
    pub t: i64,
    pub duration_ns: i64,
    pub error: bool,
    pub trace_id: String,
    pub label: String,
}

/// Trace durations over time: each dot is a trace (red for errors); clicking one opens it.
#[component]
pub fn ScatterPlot(points: Vec<ScatterPoint>, open: Callback<String>) -> impl IntoView {
    if points.is_empty() {
        return view! { <div class="scatter-empty"></div> }.into_any();
    }
    let x0 = points.iter().map(|p| p.t).min().unwrap_or(0) as f64;
    let x1 = points.iter().map(|p| p.t).max().unwrap_or(0) as f64;
    let y1 = points.iter().map(|p| p.duration_ns).max().unwrap_or(1) as f64 * 1.1;
    let (x0, x1) = if x1 > x0 { (x0, x1) } else { (x0 - 1e9, x1 + 1e9) };
    let frame = Frame { x0, x1, y0: 0.0, y1 };
    let dots = points
        .into_iter()
        .map(|p| {
            let class = if p.error { "dot error" } else { "dot" };
            let id = p.trace_id.clone();
            view! {
                <circle
                    class=class
                    cx=frame.x(p.t as f64)
                    cy=frame.y(p.duration_ns as f64)
                    r="4"
                    on:click=move |_| open.run(id.clone())
                >
                    <title>{format!("{} · {}", p.label, format::duration(p.duration_ns))}</title>
                </circle>
            }
        })
        .collect_view();
    view! {
        <div class="chart scatter">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label="trace durations over time">
                {axes(&frame, |v| format::duration(v as i64))}
                {dots}
            </svg>
        </div>
    }
    .into_any()
}
