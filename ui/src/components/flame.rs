//! A trace's flame graph (an icicle chart on the time axis): a lane per depth, each span as wide as its
//! duration, coloured by service. Hovering shows its name, service, duration and self time; a click
//! selects the span (the page's `span` parameter) and zooms to its subtree, its ancestors kept above.

use crate::format;
use crate::tree::{self, Tree};
use crate::wire::{Span, StatusCode};
use leptos::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Height of a lane in pixels (the stylesheet's `.flame-bar` matches).
const LANE_HEIGHT: f64 = 20.0;
/// Spans narrower than this share of the shown time (in percent) are left out: under a pixel wide,
/// they would only cost DOM nodes.
const MIN_WIDTH_PCT: f64 = 0.06;
/// Bars narrower than this (percent) carry no name: a few letters and an ellipsis say nothing.
const MIN_LABEL_PCT: f64 = 2.5;
/// Bars drawn at most, whatever the trace's shape.
const MAX_BARS: usize = 5000;

/// A bar: its row in the tree, lane, and place in percent of the shown time.
#[derive(PartialEq)]
struct Bar {
    row: usize,
    lane: usize,
    left: f64,
    width: f64,
}

/// The bars for the whole trace, or for the subtree of row `zoom` with its ancestors above it, and
/// how many spans that view holds in all.
fn layout(spans: &[Span], tree: &Tree, zoom: Option<usize>) -> (Vec<Bar>, usize) {
    let (from, to, shown): (i64, i64, Vec<usize>) = match zoom.and_then(|z| tree.rows.get(z).map(|row| (z, row))) {
        Some((z, row)) => {
            let span = &spans[row.span];
            let mut rows = tree::ancestors(&tree.rows, z);
            rows.reverse();
            rows.extend(z..row.subtree_end.max(z + 1));
            (span.start_unix_nano, span.end_unix_nano, rows)
        }
        None => (tree.start_ns, tree.end_ns, (0..tree.rows.len()).collect()),
    };
    let total = (to - from).max(1) as f64;
    let in_view = shown.len();
    let mut bars = Vec::new();
    for row in shown {
        let span = &spans[tree.rows[row].span];
        let start = span.start_unix_nano.clamp(from, to);
        let end = span.end_unix_nano.clamp(from, to);
        let width = (end - start) as f64 / total * 100.0;
        if width < MIN_WIDTH_PCT && Some(row) != zoom {
            continue;
        }
        bars.push(Bar {
            row,
            lane: tree.rows[row].depth,
            left: (start - from) as f64 / total * 100.0,
            width: width.max(MIN_WIDTH_PCT),
        });
        if bars.len() == MAX_BARS {
            break;
        }
    }
    (bars, in_view)
}

#[component]
pub fn FlameGraph(
    spans: Arc<Vec<Span>>,
    tree: Arc<Tree>,
    colours: Arc<HashMap<String, &'static str>>,
    self_ns: Arc<Vec<i64>>,
    selected: Memo<Option<usize>>,
    select: Callback<String>,
    matched: Memo<HashSet<usize>>,
) -> impl IntoView {
    let zoom = RwSignal::new(None::<usize>);
    // The hovered span and where the pointer is, for the tooltip.
    let hovered = RwSignal::new(None::<usize>);
    let pointer = RwSignal::new((0, 0));

    let bars = {
        let (spans, tree) = (spans.clone(), tree.clone());
        Memo::new(move |_| {
            let (bars, in_view) = layout(&spans, &tree, zoom.get());
            (Arc::new(bars), in_view)
        })
    };
    let chart = {
        let (spans, tree, colours) = (spans.clone(), tree.clone(), colours.clone());
        move || {
            let (bars, _) = bars.get();
            let chosen = selected.get();
            let hits = matched.read();
            let lanes = bars.iter().map(|b| b.lane + 1).max().unwrap_or(1);
            let drawn = bars
                .iter()
                .map(|bar| {
                    let span_index = tree.rows[bar.row].span;
                    let span = &spans[span_index];
                    let colour = colours.get(&span.service).copied().unwrap_or("#888");
                    let id = span.span_id.clone();
                    let row = bar.row;
                    view! {
                        <div
                            class="flame-bar"
                            class:selected=chosen == Some(span_index)
                            class:error=span.status.code == StatusCode::Error
                            class:found=hits.contains(&span_index)
                            data-span-id=span.span_id.clone()
                            style=format!(
                                "left:{:.3}%;width:{:.3}%;top:{}px;background-color:{colour}",
                                bar.left,
                                bar.width,
                                bar.lane as f64 * LANE_HEIGHT
                            )
                            on:mouseenter=move |_| hovered.set(Some(span_index))
                            on:mouseleave=move |_| hovered.set(None)
                            on:click=move |_| {
                                select.run(id.clone());
                                zoom.set(Some(row));
                            }
                        >
                            // Named only where there is room; the colour says the service.
                            {(bar.width >= MIN_LABEL_PCT).then(|| span.name.clone())}
                        </div>
                    }
                })
                .collect_view();
            view! { <div class="flame-lanes" style=format!("height:{}px", lanes as f64 * LANE_HEIGHT)>{drawn}</div> }
        }
    };
    let note = {
        let spans = spans.clone();
        let tree = tree.clone();
        move || {
            let (bars, in_view) = bars.get();
            let zoomed = zoom.get().map(|z| {
                let span = &spans[tree.rows[z].span];
                format!(" · zoomed to {}: {}", span.service, span.name)
            });
            format!(
                "{} of {} spans drawn (narrower than a pixel left out){}",
                bars.len(),
                in_view,
                zoomed.unwrap_or_default()
            )
        }
    };
    let tooltip = move || {
        hovered.get().map(|i| {
            let span = &spans[i];
            let (x, y) = pointer.get();
            view! {
                <div class="flame-tip" style=format!("left:{}px;top:{}px", x + 14, y + 14)>
                    <div><strong>{span.name.clone()}</strong></div>
                    <div class="muted">{span.service.clone()}</div>
                    <div>{format!("duration {}", format::duration(span.duration_ns))}</div>
                    <div>{format!("self time {}", format::duration(self_ns[i]))}</div>
                    {(span.status.code == StatusCode::Error).then(|| view! { <div class="err-mark">"error"</div> })}
                </div>
            }
        })
    };
    view! {
        <div class="flame" on:mousemove=move |ev| pointer.set((ev.client_x(), ev.client_y()))>
            <div class="flame-head">
                <span class="flame-note muted small">{note}</span>
                <button class="ghost flame-reset" disabled=move || zoom.get().is_none() on:click=move |_| zoom.set(None)>
                    "Reset zoom"
                </button>
            </div>
            <div class="flame-scroll">{chart}</div>
            {tooltip}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{build, testing::span};

    #[test]
    fn narrow_spans_are_left_out_and_a_zoom_keeps_the_ancestors_at_full_width() {
        // root 0..100,000 > a 0..50,000 > b 10,000..20,000; c is 10 ns wide (0.01%).
        let spans = vec![
            span("root", "", 0, 100_000),
            span("a", "root", 0, 50_000),
            span("b", "a", 10_000, 20_000),
            span("c", "root", 60_000, 60_010),
        ];
        let tree = build(&spans);
        let (bars, in_view) = layout(&spans, &tree, None);
        let drawn: Vec<&str> = bars.iter().map(|b| spans[tree.rows[b.row].span].span_id.as_str()).collect();
        assert_eq!((drawn, in_view), (vec!["root", "a", "b"], 4));
        assert_eq!((bars[2].lane, bars[2].left, bars[2].width), (2, 10.0, 10.0));

        let zoom_on_a = tree.rows.iter().position(|r| spans[r.span].span_id == "a");
        let (bars, in_view) = layout(&spans, &tree, zoom_on_a);
        let placed: Vec<(usize, f64, f64)> = bars.iter().map(|b| (b.lane, b.left, b.width)).collect();
        assert_eq!(in_view, 3, "root above, a and its subtree");
        assert_eq!(placed, vec![(0, 0.0, 100.0), (1, 0.0, 100.0), (2, 20.0, 20.0)]);
    }
}
