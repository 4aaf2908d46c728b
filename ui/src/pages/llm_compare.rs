//! Two LLM runs side by side: their model and tool calls aligned in order (a longest common subsequence of
//! operation and model or tool name), with each matched pair's latency, token and cost deltas and whether
//! what went in and what came out, as word diffs; calls only one run made are marked added or missing.

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

/// The text of message parts: text as is, a tool call as `name(arguments)`, a tool result as its content.
fn parts_text<'a>(parts: impl Iterator<Item = &'a wire::MessagePart>) -> String {
    parts
        .map(|p| match p.kind.as_str() {
            "tool_call" => format!("{}({})", p.name, p.arguments),
            _ => p.content.clone(),
        })
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What went into a call: a tool's arguments, or the messages a model call added to the history.
fn input(call: &LlmCall) -> String {
    if let Some(tool) = &call.tool {
        return tool.arguments.clone();
    }
    let new = call.messages.input.iter().skip(call.new_input_from);
    parts_text(new.flat_map(|m| &m.parts))
}

/// What a call answered: its output messages (text and requested tool calls), or a tool's result.
fn answer(call: &LlmCall) -> String {
    let text = parts_text(call.messages.output.iter().flat_map(|m| &m.parts));
    if text.is_empty() {
        call.tool
            .as_ref()
            .map(|t| if t.result.is_empty() { t.error.clone() } else { t.result.clone() })
            .unwrap_or_default()
    } else {
        text
    }
}

/// A run of words a word diff found in both texts, or only in the first (removed) or the second (added).
#[derive(Debug, PartialEq)]
pub enum Piece {
    Same(String),
    Removed(String),
    Added(String),
}

/// Word pairs a diff aligns at most (the LCS table's size); past it the differing middle shows as one
/// removal and one addition.
const MAX_DIFF_CELLS: usize = 250_000;

/// A word diff of two texts: the common start and end kept, the middle aligned word by word (each word
/// with the whitespace after it, so the pieces put together give back both texts).
pub fn word_diff(a: &str, b: &str) -> Vec<Piece> {
    let (wa, wb): (Vec<&str>, Vec<&str>) = (
        a.split_inclusive(char::is_whitespace).collect(),
        b.split_inclusive(char::is_whitespace).collect(),
    );
    let prefix = wa.iter().zip(&wb).take_while(|(x, y)| x == y).count();
    let suffix = wa[prefix..]
        .iter()
        .rev()
        .zip(wb[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&wa[prefix..wa.len() - suffix], &wb[prefix..wb.len() - suffix]);
    let mut pieces: Vec<Piece> = Vec::new();
    let mut push = |piece: Piece| match (pieces.last_mut(), piece) {
        (Some(Piece::Same(s)), Piece::Same(t))
        | (Some(Piece::Removed(s)), Piece::Removed(t))
        | (Some(Piece::Added(s)), Piece::Added(t)) => s.push_str(&t),
        (_, piece) => pieces.push(piece),
    };
    wa[..prefix].iter().for_each(|w| push(Piece::Same(w.to_string())));
    if ma.len() * mb.len() <= MAX_DIFF_CELLS {
        for (i, j) in align(ma, mb) {
            match (i, j) {
                (Some(i), Some(_)) => push(Piece::Same(ma[i].to_string())),
                (Some(i), None) => push(Piece::Removed(ma[i].to_string())),
                (None, Some(j)) => push(Piece::Added(mb[j].to_string())),
                (None, None) => {}
            }
        }
    } else {
        push(Piece::Removed(ma.concat()));
        push(Piece::Added(mb.concat()));
    }
    wa[wa.len() - suffix..].iter().for_each(|w| push(Piece::Same(w.to_string())));
    pieces.retain(|p| !matches!(p, Piece::Same(s) | Piece::Removed(s) | Piece::Added(s) if s.is_empty()));
    pieces
}

/// Two texts as one, with what the second run dropped struck out and what it added marked.
#[component]
fn TextDiff(a: String, b: String) -> impl IntoView {
    if a == b {
        return view! { <span class="muted">{if a.is_empty() { "" } else { "same" }}</span> }.into_any();
    }
    let pieces = word_diff(&a, &b)
        .into_iter()
        .map(|piece| match piece {
            Piece::Same(t) => view! { <span>{t}</span> }.into_any(),
            Piece::Removed(t) => view! { <del class="diff-del">{t}</del> }.into_any(),
            Piece::Added(t) => view! { <ins class="diff-ins">{t}</ins> }.into_any(),
        })
        .collect_view();
    view! { <details class="text-diff"><summary>"changed"</summary><div class="msg-text small">{pieces}</div></details> }.into_any()
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
    if a == b {
        return format!("{} (same)", show(a));
    }
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
                    let status = if x.status != y.status {
                        format!("{} → {}", x.status, y.status)
                    } else {
                        x.status.clone()
                    };
                    view! {
                        <tr class:error-row=y.status == "error">
                            <td>{label}</td>
                            <td class="small">{status}</td>
                            <td class="num small">{delta(x.duration_ns, y.duration_ns, format::duration)}</td>
                            <td class="num small">{
                                let (before, after) = (x.tokens.input + x.tokens.output, y.tokens.input + y.tokens.output);
                                (before + after > 0).then(|| delta(before, after, format::count))
                            }</td>
                            <td class="small"><TextDiff a=input(&x) b=input(&y)/></td>
                            <td class="small"><TextDiff a=answer(&x) b=answer(&y)/></td>
                        </tr>
                    }
                    .into_any()
                }
                (Some(_), None) => {
                    view! { <tr class="diff-removed"><td>{label}</td><td colspan="5" class="small">"only in the first run"</td></tr> }
                        .into_any()
                }
                _ => view! { <tr class="diff-added"><td>{label}</td><td colspan="5" class="small">"only in the second run"</td></tr> }
                    .into_any(),
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
            <thead><tr><th>"Call"</th><th>"Status"</th><th class="num">"Latency"</th><th class="num">"Tokens"</th><th>"Input"</th><th>"Answer"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::{align, word_diff, Piece};

    #[test]
    fn a_word_diff_marks_only_the_changed_words_and_gives_back_both_texts() {
        let (a, b) = (
            "The weather in Paris is sunny today.",
            "The weather in Paris is rainy and cold today.",
        );
        let pieces = word_diff(a, b);
        assert_eq!(
            pieces,
            vec![
                Piece::Same("The weather in Paris is ".into()),
                Piece::Removed("sunny ".into()),
                Piece::Added("rainy and cold ".into()),
                Piece::Same("today.".into()),
            ]
        );
        let side = |keep_removed: bool| {
            pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Same(t) => Some(t.as_str()),
                    Piece::Removed(t) if keep_removed => Some(t.as_str()),
                    Piece::Added(t) if !keep_removed => Some(t.as_str()),
                    _ => None,
                })
                .collect::<String>()
        };
        assert_eq!((side(true), side(false)), (a.to_string(), b.to_string()));
    }

    #[test]
    fn a_word_diff_too_big_to_align_is_one_removal_and_one_addition_between_the_common_ends() {
        let a = format!("start {} end", "x ".repeat(600));
        let b = format!("start {} end", "y ".repeat(600));
        let pieces = word_diff(&a, &b);
        assert_eq!(pieces.len(), 4);
        assert!(matches!(&pieces[1], Piece::Removed(t) if t.starts_with("x ")));
        assert!(matches!(&pieces[2], Piece::Added(t) if t.starts_with("y ")));
        assert!(word_diff("", "").is_empty());
    }

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
