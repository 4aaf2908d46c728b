//! Two traces compared (`/traces/compare?a=&b=`): their span trees merged by path (`trace_diff`), a row
//! per path with each side's count and duration and the change, paths only one trace has marked added
//! or removed, changes beyond the threshold coloured slower or faster.

use crate::api;
use crate::components::charts::colour_for;
use crate::components::{query, ErrorNote, Loading};
use crate::format;
use crate::pages::trace::{fetch, Loaded};
use crate::trace_diff::{self, Change, DiffRow, THRESHOLD_PCT};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// Rows drawn before "show all": the paths of deep, varied traces run into the thousands (3,000 rows
/// of a 10,000-span trace with services in a cycle took 1.7 s to draw).
const SHOWN_AT_FIRST: usize = 500;

#[component]
pub fn TraceComparePage() -> impl IntoView {
    let a = query::param("a");
    let b = query::param("b");
    let traces = LocalResource::new(move || {
        let (a, b) = (a.get().trim().to_string(), b.get().trim().to_string());
        async move {
            if a.is_empty() || b.is_empty() {
                return None;
            }
            let left = fetch(&a).await.map_err(|e| format!("trace A ({a}): {}", e.message));
            let right = fetch(&b).await.map_err(|e| format!("trace B ({b}): {}", e.message));
            Some(left.and_then(|left| right.map(|right| (left, right))))
        }
    });
    view! {
        <section class="page">
            <h2>"Compare traces"</h2>
            <ChooseTraces a=a b=b/>
            {move || match traces.get() {
                None => view! { <Loading/> }.into_any(),
                Some(None) => view! { <p class="muted">"Enter two trace ids, or select two traces in the list and press Compare."</p> }.into_any(),
                Some(Some(Err(message))) => view! { <ErrorNote message=message/> }.into_any(),
                Some(Some(Ok((left, right)))) => view! { <Comparison a=left b=right a_id=a.get_untracked() b_id=b.get_untracked()/> }.into_any(),
            }}
        </section>
    }
}

/// The two trace ids, editable, and a swap.
#[component]
fn ChooseTraces(a: Signal<String>, b: Signal<String>) -> impl IntoView {
    let navigate = use_navigate();
    let (typed_a, typed_b) = (RwSignal::new(a.get_untracked()), RwSignal::new(b.get_untracked()));
    Effect::new(move |_| typed_a.set(a.get()));
    Effect::new(move |_| typed_b.set(b.get()));
    let go = move |first: String, second: String| {
        navigate(
            &format!("/traces/compare?a={}&b={}", api::encode(first.trim()), api::encode(second.trim())),
            Default::default(),
        );
    };
    let compare = go.clone();
    view! {
        <div class="toolbar-row compare-ids">
            <label class="inline">"A " <input id="compare-a" type="text" class="mono trace-id-input" placeholder="trace id"
                prop:value=move || typed_a.get() on:input=move |ev| typed_a.set(event_target_value(&ev))/></label>
            <label class="inline">"B " <input id="compare-b" type="text" class="mono trace-id-input" placeholder="trace id"
                prop:value=move || typed_b.get() on:input=move |ev| typed_b.set(event_target_value(&ev))/></label>
            <button class="primary" on:click=move |_| compare(typed_a.get_untracked(), typed_b.get_untracked())>"Compare"</button>
            <button on:click=move |_| go(typed_b.get_untracked(), typed_a.get_untracked())>"Swap A and B"</button>
        </div>
    }
}

#[component]
fn Comparison(a: Loaded, b: Loaded, a_id: String, b_id: String) -> impl IntoView {
    let rows = trace_diff::compare((&a.spans, &a.tree), (&b.spans, &b.tree));
    let only_differences = RwSignal::new(false);
    let differing = trace_diff::differing(&rows);
    let (added, removed) = rows.iter().fold((0, 0), |(added, removed), r| match r.change() {
        Change::Added => (added + 1, removed),
        Change::Removed => (added, removed + 1),
        _ => (added, removed),
    });
    let side = |label: &'static str, id: &str, loaded: &Loaded| {
        let root = loaded.tree.rows.first().map(|r| &loaded.spans[r.span]);
        let title = root.map(|s| format!("{}: {}", s.service, s.name)).unwrap_or_default();
        let duration = loaded.tree.end_ns - loaded.tree.start_ns;
        view! {
            <div class="card">
                <div class="muted small">{label}</div>
                <a href=format!("/traces/{id}") class="trace-name">{title}</a>
                <div class="big">{format::duration(duration)}</div>
                <div class="muted small">{format!("{} spans · {}", loaded.spans.len(), format::time(loaded.tree.start_ns))}</div>
                <div class="mono small">{id.to_string()}</div>
            </div>
        }
    };
    let duration = |l: &Loaded| l.tree.end_ns - l.tree.start_ns;
    let total_delta = duration(&b) - duration(&a);
    let summary = format!(
        "{} paths: {} only in B (added), {} only in A (removed), {} differ · B took {} ({}) · changes beyond ±{THRESHOLD_PCT}% are coloured",
        rows.len(),
        added,
        removed,
        differing.iter().filter(|&&i| rows[i].differs()).count(),
        signed_duration(total_delta),
        pct_text(total_delta, duration(&a)),
    );
    let rows = std::sync::Arc::new(rows);
    let show_all = RwSignal::new(false);
    let body = move || {
        let shown: Vec<usize> = if only_differences.get() {
            differing.clone()
        } else {
            (0..rows.len()).collect()
        };
        let limit = if show_all.get() { usize::MAX } else { SHOWN_AT_FIRST };
        let hidden = shown.len().saturating_sub(limit);
        let drawn = shown.into_iter().take(limit).map(|i| diff_row(&rows[i])).collect_view();
        view! {
            {drawn}
            {(hidden > 0).then(|| view! {
                <tr><td colspan="7">
                    <button class="ghost show-all" on:click=move |_| show_all.set(true)>{format!("show the {hidden} more paths")}</button>
                </td></tr>
            })}
        }
    };
    view! {
        <div class="cards">
            {side("A", &a_id, &a)}
            {side("B", &b_id, &b)}
        </div>
        <p class="muted small compare-summary">{summary}</p>
        <label class="small"><input type="checkbox" class="only-differences" prop:checked=move || only_differences.get()
            on:change=move |ev| only_differences.set(event_target_checked(&ev))/>" only paths that differ"</label>
        <table class="list trace-compare">
            <thead>
                <tr>
                    <th>"Service and operation (path)"</th>
                    <th class="num">"Spans A"</th><th class="num">"Spans B"</th>
                    <th class="num">"Duration A"</th><th class="num">"Duration B"</th>
                    <th class="num">"Δ"</th><th class="num">"Δ %"</th>
                </tr>
            </thead>
            <tbody>{body}</tbody>
        </table>
    }
}

fn diff_row(row: &DiffRow) -> impl IntoView {
    let change = row.change();
    let class = match change {
        Change::Added => "diff-added",
        Change::Removed => "diff-removed",
        Change::Slower => "slower",
        Change::Faster => "faster",
        Change::Same => "same",
    };
    let marker = match change {
        Change::Added => Some("+ "),
        Change::Removed => Some("− "),
        _ => None,
    };
    let matched = row.a.count > 0 && row.b.count > 0;
    let count = |n: usize, other: usize| {
        let text = if n == 0 { String::new() } else { n.to_string() };
        view! { <td class="num" class:count-differs=matched && n != other>{text}</td> }
    };
    let duration = |side: &trace_diff::Side| {
        if side.count == 0 {
            String::new()
        } else {
            format::duration(side.total_ns)
        }
    };
    let repeats = (matched && row.a.count != row.b.count).then(|| {
        let more = row.b.count as i64 - row.a.count as i64;
        let text = if more > 0 {
            format!("{more} more in B")
        } else {
            format!("{} more in A", -more)
        };
        view! { <span class="chip repeats">{text}</span> }
    });
    view! {
        <tr class=format!("diff-row {class}")>
            <td class="diff-path" style=format!("padding-left:{}px", 8 + 14 * row.depth.min(30))>
                {marker}
                <span class="svc" style=format!("color:{}", colour_for(&row.service))>{row.service.clone()}</span>
                ": "{row.name.clone()}" "{repeats}
            </td>
            {count(row.a.count, row.b.count)}
            {count(row.b.count, row.a.count)}
            <td class="num">{duration(&row.a)}</td>
            <td class="num">{duration(&row.b)}</td>
            <td class="num delta">{matched.then(|| signed_duration(row.delta_ns()))}</td>
            <td class="num delta-pct">{matched.then(|| row.delta_pct().map(|p| format!("{p:+.1}%")).unwrap_or_default())}</td>
        </tr>
    }
}

fn signed_duration(ns: i64) -> String {
    if ns >= 0 {
        format!("+{}", format::duration(ns))
    } else {
        format::duration(ns)
    }
}

fn pct_text(delta: i64, base: i64) -> String {
    if base > 0 {
        format!("{:+.1}%", delta as f64 / base as f64 * 100.0)
    } else {
        "—".into()
    }
}
