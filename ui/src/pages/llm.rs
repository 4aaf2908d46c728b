//! LLM runs: traces that contain `gen_ai.*` spans, one row per run with its agent, models, input and
//! output tokens, latency, model and tool calls (with failures) and errors; search by `run_id`.

use crate::api;
use crate::app::refresh_tick;
use crate::components::search::{FilterBox, SincePicker};
use crate::components::{keys, query, CopyButton, EmptyState, ErrorNote, Loading};
use crate::format;
use crate::wire::{self, LlmRun, LlmRunsResponse};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

#[component]
pub fn LlmPage() -> impl IntoView {
    let q = query::param("q");
    let run_id = query::param("run_id");
    let since = query::param("since");
    let set_query = query::setter();
    let result = LocalResource::new(move || {
        let params = wire::LlmRunsParams {
            q: wire::non_empty(q.get()),
            run_id: wire::non_empty(run_id.get()),
            limit: Some(200),
            window: wire::WindowParams::since(wire::non_empty(since.get()).unwrap_or_else(|| "24h".into())),
        };
        refresh_tick();
        async move { api::get::<LlmRunsResponse, _>(wire::routes::LLM_RUNS, &params).await }
    });
    let error = Signal::derive(move || result.get().and_then(|r| r.err()));
    let runs = Memo::new(move |_| result.get().and_then(|r| r.ok()).map(|r| r.runs).unwrap_or_default());
    let navigate = use_navigate();
    let selected = keys::list_keys(Signal::derive(move || runs.read().len()), move |i| {
        if let Some(run) = runs.get_untracked().get(i) {
            navigate(&format!("/traces/{}", run.trace_id), Default::default());
        }
    });
    view! {
        <section class="page">
            <div class="toolbar">
                <FilterBox param="q" placeholder=r#"gen_ai.request.model = "gpt-4o"   ·   status = error   ·   duration > 10s"# error=error/>
                <div class="toolbar-row">
                    <label class="inline">"run_id "
                        <input
                            class="run-id"
                            type="text"
                            placeholder="exact run id"
                            prop:value=move || run_id.get()
                            on:change=move |ev| set_query(&[("run_id", event_target_value(&ev).trim().to_string())])
                        />
                    </label>
                    <SincePicker default="24h"/>
                </div>
            </div>
            {move || match result.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) if e.column.is_some() => view! { <span></span> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok(_)) if runs.read().is_empty() => {
                    if q.get().is_empty() && run_id.get().is_empty() {
                        view! { <EmptyState what="LLM-agent runs (traces with gen_ai.* spans)"/> }.into_any()
                    } else {
                        view! { <p class="muted">"No run matches."</p> }.into_any()
                    }
                }
                Some(Ok(_)) => view! { <Summary runs=runs.get()/> <RunTable runs=runs.get() selected=selected/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Summary(runs: Vec<LlmRun>) -> impl IntoView {
    let total = runs.len() as i64;
    let failed = runs.iter().filter(|r| r.error_count > 0).count() as i64;
    let input: i64 = runs.iter().map(|r| r.input_tokens).sum();
    let output: i64 = runs.iter().map(|r| r.output_tokens).sum();
    let tools: i64 = runs.iter().map(|r| r.tool_calls).sum();
    let tool_errors: i64 = runs.iter().map(|r| r.tool_errors).sum();
    let mut latencies: Vec<i64> = runs.iter().map(|r| r.duration_ns).collect();
    latencies.sort_unstable();
    let median = latencies.get(latencies.len() / 2).copied().unwrap_or(0);
    view! {
        <div class="cards">
            <div class="card"><div class="muted small">"runs"</div><div class="big">{format::count(total)}</div>
                <div class="small">{format!("{failed} with errors")}</div></div>
            <div class="card"><div class="muted small">"tokens in / out"</div><div class="big">{format!("{} / {}", format::count(input), format::count(output))}</div></div>
            <div class="card"><div class="muted small">"median latency"</div><div class="big">{format::duration(median)}</div></div>
            <div class="card"><div class="muted small">"tool calls"</div><div class="big">{format::count(tools)}</div>
                <div class="small">{format!("{tool_errors} failed")}</div></div>
        </div>
    }
}

#[component]
fn RunTable(runs: Vec<LlmRun>, selected: RwSignal<Option<usize>>) -> impl IntoView {
    let rows = runs
        .into_iter()
        .enumerate()
        .map(|(i, run)| {
            let href = format!("/traces/{}", run.trace_id);
            let title = if run.agent.is_empty() {
                run.root_name.clone()
            } else {
                run.agent.clone()
            };
            let tools = run
                .tools
                .iter()
                .map(|t| {
                    let failed = (t.errors > 0).then(|| format!(" ({} failed)", t.errors));
                    view! { <span class="chip" class:tool-error={t.errors > 0}>{format!("{} ×{}", t.name, t.calls)}{failed}</span> }
                })
                .collect_view();
            let run_href = format!("/llm?run_id={}", api::encode(&run.run_id));
            view! {
                <tr class:selected=move || selected.get() == Some(i)>
                    <td>
                        <a href=href class="trace-name">{title}</a>
                        <div class="small muted">{run.root_service.clone()}</div>
                    </td>
                    <td class="small">
                        {(!run.run_id.is_empty()).then(|| view! {
                            <a class="mono" href=run_href>{run.run_id.clone()}</a>
                            " "<CopyButton text=run.run_id.clone()/>
                        })}
                        <div class="muted">{format::time(run.start_unix_nano)}</div>
                    </td>
                    <td class="small">{run.models.join(", ")}</td>
                    <td class="num">{format::count(run.input_tokens)}</td>
                    <td class="num">{format::count(run.output_tokens)}</td>
                    <td class="num">{format::duration(run.duration_ns)}</td>
                    <td class="num">{run.llm_calls}</td>
                    <td>{tools}</td>
                    <td class="num">
                        {if run.error_count > 0 {
                            view! { <span class="badge error">{run.error_count}</span> }.into_any()
                        } else {
                            view! { <span class="badge ok">"ok"</span> }.into_any()
                        }}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="list llm-table">
            <thead>
                <tr><th>"Run"</th><th>"run_id / start"</th><th>"Models"</th><th class="num">"Tokens in"</th><th class="num">"Tokens out"</th>
                    <th class="num">"Latency"</th><th class="num">"LLM calls"</th><th>"Tool calls"</th><th class="num">"Errors"</th></tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
