//! Two LLM runs side by side: their model and tool calls aligned in order (a longest common subsequence of
//! operation and model or tool name), with each matched pair's latency, token and cost deltas and whether
//! the answer's text changed; calls only one run made are marked added or missing.

use super::llm::usd;
use crate::api;
use crate::components::query;
use crate::components::{ErrorNote, Loading};
use crate::format;
use crate::wire::{self, LlmCall, LlmRunResponse};
use leptos::prelude::*;

/// Pairs of indexes into `a` and `b` in order: both when the keys match, one side when a call is only in
/// that run. The longest common subsequence of keys, so one extra retry shifts nothing after it.
pub fn align<K: PartialEq>(a: &[K], b: &[K]) -> Vec<(Option<usize>, Option<usize>)> {
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut pairs) = (0, 0, Vec::with_capacity(n.max(m)));
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            pairs.push((Some(i), Some(j)));
            i += 1;
            j += 1;
        } else if j == m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1]) {
            pairs.push((Some(i), None));
            i += 1;
        } else {
            pairs.push((None, Some(j)));
            j += 1;
        }
    }
    pairs
}

/// The calls a comparison aligns: model calls, embeddings and tools, in start order.
fn steps(run: &LlmRunResponse) -> Vec<LlmCall> {
    run.spans
        .iter()
        .filter(|s| matches!(s.operation.as_str(), "llm_call" | "embeddings" | "tool"))
        .cloned()
        .collect()
}

/// What must be equal for two calls to be the same step: the tool's name, or for model calls only that
/// they are model calls (a run that switched models still made the same call, with another model).
fn key(call: &LlmCall) -> (String, String) {
    let target = call.tool.as_ref().map(|tool| tool.name.clone()).unwrap_or_default();
    (call.operation.clone(), target)
}

fn target(call: &LlmCall) -> String {
    match &call.tool {
        Some(tool) => tool.name.clone(),
        None => call.request_model.clone(),
    }
}

/// The text a call answered with (its output messages' text parts), for telling whether it changed.
fn answer(call: &LlmCall) -> String {
    let texts: Vec<&str> = call
        .messages
        .output
        .iter()
        .flat_map(|m| &m.parts)
        .filter(|p| p.kind == "text")
        .map(|p| p.content.as_str())
        .collect();
    if texts.is_empty() {
        call.tool.as_ref().map(|t| t.result.clone()).unwrap_or_default()
    } else {
        texts.join("\n")
    }
}

#[component]
pub fn LlmComparePage() -> impl IntoView {
    let a = query::param("a");
    let b = query::param("b");
    let fetch = |id: String| async move { api::get::<LlmRunResponse, _>(&wire::routes::llm_run(&api::encode(&id)), &()).await };
    let result = LocalResource::new(move || {
        let (a, b) = (a.get(), b.get());
        async move { Ok::<_, api::ApiError>((fetch(a).await?, fetch(b).await?)) }
    });
    view! {
        <section class="page">
            <h2>"Compare two runs"</h2>
            {move || match result.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok((a, b))) => view! { <Comparison a=a b=b/> }.into_any(),
            }}
        </section>
    }
}

fn delta(a: i64, b: i64, show: impl Fn(i64) -> String) -> String {
    let sign = if b >= a { "+" } else { "−" };
    format!("{} → {} ({sign}{})", show(a), show(b), show((b - a).abs()))
}

#[component]
fn Comparison(a: LlmRunResponse, b: LlmRunResponse) -> impl IntoView {
    let (ra, rb) = (a.run.clone(), b.run.clone());
    let cost = |r: &wire::LlmRun| r.cost.as_ref().map_or_else(|| "–".to_string(), |c| usd(c.usd));
    let (steps_a, steps_b) = (steps(&a), steps(&b));
    let keys_a: Vec<_> = steps_a.iter().map(key).collect();
    let keys_b: Vec<_> = steps_b.iter().map(key).collect();
    let pairs = align(&keys_a, &keys_b);
    let changed = pairs.iter().filter(|p| p.0.is_none() || p.1.is_none()).count();
    let rows = pairs
        .into_iter()
        .map(|(i, j)| {
            let (x, y) = (i.map(|i| steps_a[i].clone()), j.map(|j| steps_b[j].clone()));
            let op = x.as_ref().or(y.as_ref()).map(|c| c.operation.replace('_', " ")).unwrap_or_default();
            let label = match (&x, &y) {
                (Some(x), Some(y)) if target(x) != target(y) => format!("{op} {} → {}", target(x), target(y)),
                _ => format!("{op} {}", x.as_ref().or(y.as_ref()).map(target).unwrap_or_default()),
            };
            match (x, y) {
                (Some(x), Some(y)) => {
                    let same_answer = answer(&x) == answer(&y);
                    let status = if x.status != y.status { format!("{} → {}", x.status, y.status) } else { x.status.clone() };
                    view! {
                        <tr class:error-row=y.status == "error">
                            <td>{label}</td>
                            <td class="small">{status}</td>
                            <td class="num small">{delta(x.duration_ns, y.duration_ns, format::duration)}</td>
                            <td class="num small">{
                                let (before, after) = (x.tokens.input + x.tokens.output, y.tokens.input + y.tokens.output);
                                (before + after > 0).then(|| delta(before, after, format::count))
                            }</td>
                            <td class="small">{if same_answer { view! { <span class="muted">"same"</span> }.into_any() } else {
                                view! { <details><summary>"changed"</summary>
                                    <div class="msg-text small">{answer(&x)}</div><hr/><div class="msg-text small">{answer(&y)}</div></details> }.into_any()
                            }}</td>
                        </tr>
                    }
                    .into_any()
                }
                (Some(_), None) => view! { <tr class="diff-removed"><td>{label}</td><td colspan="4" class="small">"only in the first run"</td></tr> }.into_any(),
                _ => view! { <tr class="diff-added"><td>{label}</td><td colspan="4" class="small">"only in the second run"</td></tr> }.into_any(),
            }
        })
        .collect_view();
    let link = |r: &wire::LlmRun| {
        let title = if r.agent.is_empty() { r.root_name.clone() } else { r.agent.clone() };
        view! { <a href=format!("/llm/runs/{}", r.trace_id)>{title}</a> " " <span class="small muted">{format::time(r.start_unix_nano)}</span> }
    };
    view! {
        <p>{link(&ra)} "  vs  " {link(&rb)}</p>
        <div class="cards">
            <div class="card"><div class="muted small">"latency"</div><div>{delta(ra.duration_ns, rb.duration_ns, format::duration)}</div></div>
            <div class="card"><div class="muted small">"tokens in"</div><div>{delta(ra.tokens.input, rb.tokens.input, format::count)}</div></div>
            <div class="card"><div class="muted small">"tokens out"</div><div>{delta(ra.tokens.output, rb.tokens.output, format::count)}</div></div>
            <div class="card"><div class="muted small">"cost"</div><div>{format!("{} → {}", cost(&ra), cost(&rb))}</div></div>
            <div class="card"><div class="muted small">"calls"</div><div>{format!("{} → {} ({changed} not matched)", steps_a.len(), steps_b.len())}</div></div>
        </div>
        <table class="list llm-compare">
            <thead><tr><th>"Call"</th><th>"Status"</th><th class="num">"Latency"</th><th class="num">"Tokens"</th><th>"Answer"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::align;

    #[test]
    fn a_retry_in_one_run_is_one_added_row_and_the_rest_stays_matched() {
        let a = ["chat", "search", "chat"];
        let b = ["chat", "search", "search", "chat"];
        assert_eq!(
            align(&a, &b),
            vec![(Some(0), Some(0)), (Some(1), Some(1)), (None, Some(2)), (Some(2), Some(3))]
        );
    }

    #[test]
    fn different_runs_pair_what_they_share_in_order() {
        let a = ["chat", "weather", "chat"];
        let b = ["chat", "stock", "chat"];
        let pairs = align(&a, &b);
        assert_eq!(pairs.iter().filter(|p| p.0.is_some() && p.1.is_some()).count(), 2);
        assert_eq!(pairs.len(), 4);
        assert!(align::<&str>(&[], &[]).is_empty());
        assert_eq!(align(&["x"], &[]), vec![(Some(0), None)]);
    }
}
