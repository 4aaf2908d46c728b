//! LLM runs, sessions and models. Runs: traces holding a span of any LLM convention, one row per run with
//! its agent, models, tokens by type, cost and where it came from, latency, model and tool calls (with
//! failures), errors and flags; search by filter (each condition may be met by another span of the run),
//! `run_id` or session. Sessions: conversations across runs. Models: per model and per agent.

use crate::api;
use crate::app::refresh_tick;
use crate::components::search::{FilterBox, SincePicker};
use crate::components::{keys, query, CopyButton, EmptyState, ErrorNote, Loading};
use crate::format;
use crate::wire::{self, LlmCost, LlmRun, LlmRunsResponse, LlmTokens};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

/// Runs the list shows at most (the newest).
const RUNS_SHOWN: usize = 200;

#[component]
pub fn LlmPage() -> impl IntoView {
    let q = query::param("q");
    let run_id = query::param("run_id");
    let session_id = query::param("session_id");
    let since = query::param("since");
    let set_query = query::setter();
    let result = LocalResource::new(move || {
        let params = wire::LlmRunsParams {
            q: wire::non_empty(q.get()),
            run_id: wire::non_empty(run_id.get()),
            session_id: wire::non_empty(session_id.get()),
            limit: Some(RUNS_SHOWN),
            total: Some("true".into()),
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
            navigate(&format!("/llm/runs/{}", run.trace_id), Default::default());
        }
    });
    view! {
        <section class="page">
            <LlmTabs/>
            <div class="toolbar">
                <FilterBox param="q" placeholder=r#"llm.model = "gpt-4o" and status = error   ·   llm.tool = search   ·   llm.cost > 0.01"# error=error/>
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
                    {move || (!session_id.get().is_empty()).then(|| view! {
                        <span class="chip">"session " {session_id.get()} " "
                            <a href="/llm" title="Show every session">"×"</a></span>
                    })}
                    <SincePicker default="24h"/>
                </div>
            </div>
            {move || match result.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) if e.column.is_some() => view! { <span></span> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok(r)) if runs.read().is_empty() => {
                    if q.get().is_empty() && run_id.get().is_empty() && session_id.get().is_empty() {
                        view! { <EmptyState what="LLM-agent runs (traces with spans of an LLM convention: OpenTelemetry GenAI, OpenInference, Traceloop, MLflow, ...)"/> }.into_any()
                    } else {
                        let warnings = r.warnings.clone();
                        view! {
                            <p class="muted">"No run matches."</p>
                            {warnings.into_iter().map(|w| view! { <p class="search-warning">{w}</p> }).collect_view()}
                        }
                        .into_any()
                    }
                }
                Some(Ok(r)) => {
                    let n = runs.read().len();
                    let heading = format!("{} run{}", format::shown_of(n, r.total, r.total_capped), if r.total == Some(1) { "" } else { "s" });
                    view! {
                        <Summary runs=runs.get()/>
                        <p class="muted small list-heading">{heading}</p>
                        <RunTable runs=runs.get() selected=selected/>
                    }
                    .into_any()
                }
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
    let cached: i64 = runs.iter().map(|r| r.tokens.cache_read).sum();
    let reasoning: i64 = runs.iter().map(|r| r.tokens.reasoning).sum();
    let cost: f64 = runs.iter().filter_map(|r| r.cost.as_ref()).map(|c| c.usd).sum();
    let priced = runs.iter().filter(|r| r.cost.is_some()).count();
    let flagged = runs.iter().filter(|r| !r.flags.is_empty()).count();
    let tools: i64 = runs.iter().map(|r| r.tool_calls).sum();
    let tool_errors: i64 = runs.iter().map(|r| r.tool_errors).sum();
    let mut latencies: Vec<i64> = runs.iter().map(|r| r.duration_ns).collect();
    latencies.sort_unstable();
    let median = latencies.get(latencies.len() / 2).copied().unwrap_or(0);
    view! {
        <div class="cards">
            <div class="card"><div class="muted small">"runs"</div><div class="big">{format::count(total)}</div>
                <div class="small">{format!("{failed} with errors")}</div></div>
            <div class="card"><div class="muted small">"tokens in / out"</div><div class="big">{format!("{} / {}", format::count(input), format::count(output))}</div>
                <div class="small">{format!("{} cached · {} reasoning", format::count(cached), format::count(reasoning))}</div></div>
            <div class="card"><div class="muted small">"cost"</div><div class="big">{usd(cost)}</div>
                <div class="small">{format!("{priced} of {total} runs priced")}</div></div>
            <div class="card"><div class="muted small">"median latency"</div><div class="big">{format::duration(median)}</div></div>
            <div class="card"><div class="muted small">"tool calls"</div><div class="big">{format::count(tools)}</div>
                <div class="small">{format!("{tool_errors} failed · {flagged} runs flagged")}</div></div>
        </div>
    }
}

#[component]
fn RunTable(runs: Vec<LlmRun>, selected: RwSignal<Option<usize>>) -> impl IntoView {
    // Each run's previous run of the same agent (the list is newest first), to compare with.
    let previous: Vec<Option<String>> = (0..runs.len())
        .map(|i| {
            runs[i + 1..]
                .iter()
                .find(|r| r.agent == runs[i].agent && r.root_name == runs[i].root_name)
                .map(|r| r.trace_id.clone())
        })
        .collect();
    let rows = runs
        .into_iter()
        .zip(previous)
        .enumerate()
        .map(|(i, (run, previous))| {
            let compare = previous.map(|older| {
                let href = format!("/llm/compare?a={older}&b={}", run.trace_id);
                view! { " · " <a class="small" href=href title="Compare with the previous run of this agent">"vs previous"</a> }
            });
            let href = format!("/llm/runs/{}", run.trace_id);
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
                        <div class="small muted">{run.root_service.clone()} " · " {run.dialects.join(", ")} {compare}</div>
                        {run.flags.iter().map(|f| view! { <div class="flag small" title=f.kind.clone()>"⚑ " {f.message.clone()}</div> }).collect_view()}
                    </td>
                    <td class="small">
                        {(!run.run_id.is_empty()).then(|| view! {
                            <a class="mono" href=run_href>{run.run_id.clone()}</a>
                            " "<CopyButton text=run.run_id.clone()/>
                        })}
                        <div class="muted">{format::time(run.start_unix_nano)}</div>
                    </td>
                    <td class="small">{run.models.join(", ")}</td>
                    <td class="num"><TokenCell tokens=run.tokens/></td>
                    <td class="num"><CostCell cost=run.cost.clone()/></td>
                    <td class="num">{format::duration(run.duration_ns)}</td>
                    <td class="num">{run.llm_calls}</td>
                    <td>{tools}</td>
                    <td class="num"><ErrorBadge count=run.error_count/></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="list llm-table">
            <thead>
                <tr><th>"Run"</th><th>"run_id / start"</th><th>"Models"</th><th class="num">"Tokens in / out"</th><th class="num">"Cost"</th>
                    <th class="num">"Latency"</th><th class="num">"LLM calls"</th><th>"Tool calls"</th><th class="num">"Errors"</th></tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// The three LLM pages' tabs.
#[component]
pub fn LlmTabs() -> impl IntoView {
    view! {
        <nav class="tabs">
            <A href="/llm" exact=true>"Runs"</A>
            <A href="/llm/sessions">"Sessions"</A>
            <A href="/llm/models">"Models & agents"</A>
        </nav>
    }
}

/// A cost in USD: cents for sums of a dollar or more, else up to six decimals (a single call often
/// costs a fraction of a cent).
pub fn usd(value: f64) -> String {
    if value >= 1.0 {
        format!("${value:.2}")
    } else if value >= 0.01 {
        format!("${value:.4}")
    } else if value > 0.0 {
        let text = format!("{value:.6}");
        format!("${}", text.trim_end_matches('0'))
    } else {
        "$0".into()
    }
}

/// Input and output tokens, with the cached and reasoning parts beneath.
#[component]
pub fn TokenCell(tokens: LlmTokens) -> impl IntoView {
    let parts = [
        (tokens.cache_read > 0).then(|| format!("{} cached", format::count(tokens.cache_read))),
        (tokens.cache_creation > 0).then(|| format!("{} cache write", format::count(tokens.cache_creation))),
        (tokens.reasoning > 0).then(|| format!("{} reasoning", format::count(tokens.reasoning))),
    ];
    let detail = parts.into_iter().flatten().collect::<Vec<_>>().join(" · ");
    view! {
        <span>{format!("{} / {}", format::count(tokens.input), format::count(tokens.output))}</span>
        {(!detail.is_empty()).then(|| view! { <div class="small muted">{detail}</div> })}
    }
}

/// A cost, saying whether it was reported by the instrumentation or computed from which price table.
#[component]
pub fn CostCell(cost: Option<LlmCost>) -> impl IntoView {
    match cost {
        None => view! { <span class="muted" title="no cost reported, and no model of the price table">"–"</span> }.into_any(),
        Some(cost) => {
            let title = match cost.source.as_str() {
                "reported" => "reported by the instrumentation".to_string(),
                "computed" => format!("computed from the price table {}", cost.table),
                _ => format!("part reported, part computed from {}", cost.table),
            };
            let unpriced = (cost.unpriced_calls > 0).then(|| format!(" · {} calls unpriced", cost.unpriced_calls));
            view! {
                <span title=title.clone()>{usd(cost.usd)}</span>
                <div class="small muted" title=title>{cost.source.clone()}{unpriced}</div>
            }
            .into_any()
        }
    }
}

/// Conversations across runs: one row per session (conversation) id, the latest active first.
#[component]
pub fn LlmSessionsPage() -> impl IntoView {
    let since = query::param("since");
    let result = LocalResource::new(move || {
        let params = wire::LlmWindowParams {
            limit: Some(500),
            window: wire::WindowParams::since(wire::non_empty(since.get()).unwrap_or_else(|| "24h".into())),
        };
        refresh_tick();
        async move { api::get::<wire::LlmSessionsResponse, _>(wire::routes::LLM_SESSIONS, &params).await }
    });
    view! {
        <section class="page">
            <LlmTabs/>
            <div class="toolbar"><div class="toolbar-row"><SincePicker default="24h"/></div></div>
            {move || match result.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok(r)) if r.sessions.is_empty() => view! {
                    <EmptyState what="LLM sessions (runs whose spans carry gen_ai.conversation.id, session.id, or a Traceloop or Langfuse session)"/>
                }.into_any(),
                Some(Ok(r)) => {
                    let sampled = r.sampled.then(|| view! { <p class="muted small">"Only the newest LLM spans of the window were read."</p> });
                    let rows = r.sessions.into_iter().map(|s| {
                        let href = format!("/llm?session_id={}&since={}", api::encode(&s.session_id), api::encode(&since.get_untracked()));
                        view! {
                            <tr>
                                <td><a class="mono" href=href>{s.session_id.clone()}</a>
                                    <div class="small muted">{s.user_id.clone()}</div></td>
                                <td class="num">{s.runs}</td>
                                <td class="small">{format::time(s.first_start_unix_nano)}<div class="muted">{format::ago(s.last_end_unix_nano)}</div></td>
                                <td class="small">{s.agents.join(", ")}</td>
                                <td class="small">{s.models.join(", ")}</td>
                                <td class="num">{s.llm_calls}</td>
                                <td class="num">{s.tool_calls}</td>
                                <td class="num"><TokenCell tokens=s.tokens/></td>
                                <td class="num"><CostCell cost=s.cost.clone()/></td>
                                <td class="num"><ErrorBadge count=s.errors/></td>
                            </tr>
                        }
                    }).collect_view();
                    view! {
                        {sampled}
                        <table class="list llm-sessions">
                            <thead><tr><th>"Session / user"</th><th class="num">"Runs"</th><th>"First / last"</th><th>"Agents"</th><th>"Models"</th>
                                <th class="num">"LLM calls"</th><th class="num">"Tool calls"</th><th class="num">"Tokens in / out"</th><th class="num">"Cost"</th><th class="num">"Errors"</th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// Per model and per agent: calls, errors, latency percentiles, tokens by type, speed and cost.
#[component]
pub fn LlmModelsPage() -> impl IntoView {
    let since = query::param("since");
    let result = LocalResource::new(move || {
        let params = wire::LlmWindowParams {
            limit: None,
            window: wire::WindowParams::since(wire::non_empty(since.get()).unwrap_or_else(|| "24h".into())),
        };
        refresh_tick();
        async move { api::get::<wire::LlmModelsResponse, _>(wire::routes::LLM_MODELS, &params).await }
    });
    view! {
        <section class="page">
            <LlmTabs/>
            <div class="toolbar"><div class="toolbar-row"><SincePicker default="24h"/></div></div>
            {move || match result.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok(r)) if r.models.is_empty() && r.agents.is_empty() => view! { <EmptyState what="LLM calls"/> }.into_any(),
                Some(Ok(r)) => {
                    let models = r.models.into_iter().map(|m| {
                        let href = format!("/llm?q={}", api::encode(&format!("llm.model = {}", format::filter_literal(&m.model))));
                        view! {
                            <tr>
                                <td><a href=href>{m.model.clone()}</a><div class="small muted">{m.provider.clone()}</div></td>
                                <td class="num">{format::count(m.calls)}</td>
                                <td class="num"><ErrorBadge count=m.errors/></td>
                                <td class="num">{format::duration(m.latency_p50_ns)}</td>
                                <td class="num">{format::duration(m.latency_p95_ns)}</td>
                                <td class="num">{format!("{:.0}", m.output_tokens_per_second)}</td>
                                <td class="num"><TokenCell tokens=m.tokens/></td>
                                <td class="num"><CostCell cost=m.cost.clone()/></td>
                            </tr>
                        }
                    }).collect_view();
                    let agents = r.agents.into_iter().map(|a| {
                        let href = format!("/llm?q={}", api::encode(&format!("llm.agent = {}", format::filter_literal(&a.agent))));
                        view! {
                            <tr>
                                <td><a href=href>{a.agent.clone()}</a></td>
                                <td class="num">{format::count(a.runs)}</td>
                                <td class="num">{format::count(a.llm_calls)}</td>
                                <td class="num">{format::count(a.tool_calls)}{(a.tool_errors > 0).then(|| view! { <div class="small tool-error">{format!("{} failed", a.tool_errors)}</div> })}</td>
                                <td class="num"><ErrorBadge count=a.errors/></td>
                                <td class="num">{format::duration(a.latency_p50_ns)}</td>
                                <td class="num">{format::duration(a.latency_p95_ns)}</td>
                                <td class="num"><TokenCell tokens=a.tokens/></td>
                                <td class="num"><CostCell cost=a.cost.clone()/></td>
                            </tr>
                        }
                    }).collect_view();
                    view! {
                        {r.sampled.then(|| view! { <p class="muted small">"Only the newest LLM spans of the window were read."</p> })}
                        <h3>"Models"</h3>
                        <table class="list llm-models">
                            <thead><tr><th>"Model"</th><th class="num">"Calls"</th><th class="num">"Errors"</th><th class="num">"p50"</th><th class="num">"p95"</th>
                                <th class="num" title="output tokens per second of the calls that produced output">"Out tok/s"</th><th class="num">"Tokens in / out"</th><th class="num">"Cost"</th></tr></thead>
                            <tbody>{models}</tbody>
                        </table>
                        <h3>"Agents"</h3>
                        <table class="list llm-agents">
                            <thead><tr><th>"Agent"</th><th class="num">"Runs"</th><th class="num">"LLM calls"</th><th class="num">"Tool calls"</th><th class="num">"Errors"</th>
                                <th class="num">"Run p50"</th><th class="num">"Run p95"</th><th class="num">"Tokens in / out"</th><th class="num">"Cost"</th></tr></thead>
                            <tbody>{agents}</tbody>
                        </table>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// A count of errors as a red badge, or a green "ok" when there is none.
#[component]
pub fn ErrorBadge(count: i64) -> impl IntoView {
    if count > 0 {
        view! { <span class="badge error">{count}</span> }.into_any()
    } else {
        view! { <span class="badge ok">"ok"</span> }.into_any()
    }
}
