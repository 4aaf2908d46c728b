//! One LLM run, built for reading: the conversation as chat (system prompts collapsed, each call showing
//! only the messages it adds to the history, tool calls paired with their executions), a timeline of the
//! model and tool calls with retries, token and cost roll-ups per call and per agent, errors inline, and
//! links to the waterfall and each raw span.

use super::llm::{usd, CostCell, TokenCell};
use crate::api;
use crate::components::{CopyButton, ErrorNote, Loading};
use crate::format;
use crate::wire::{self, ChatMessage, LlmCall, LlmRunResponse, MessagePart};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use std::collections::HashMap;
use std::rc::Rc;

/// What each tool call id's execution came to, (status, result or error), shared by every message of the
/// run page (cloning it per message made a 500-call run quadratic).
type Executions = Rc<HashMap<String, (String, String)>>;

#[component]
pub fn LlmRunPage() -> impl IntoView {
    let params = use_params_map();
    let trace_id = move || params.read().get("trace_id").unwrap_or_default();
    let result = LocalResource::new(move || {
        let id = trace_id();
        async move { api::get::<LlmRunResponse, _>(&wire::routes::llm_run(&api::encode(&id)), &()).await }
    });
    view! {
        <section class="page llm-run">
            {move || match result.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote message=e.message/> }.into_any(),
                Some(Ok(run)) => view! { <Run response=run/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Run(response: LlmRunResponse) -> impl IntoView {
    let run = response.run.clone();
    let spans = response.spans;
    let title = if run.agent.is_empty() {
        run.root_name.clone()
    } else {
        run.agent.clone()
    };
    let waterfall = format!("/traces/{}", run.trace_id);
    let session = (!run.session_id.is_empty()).then(|| {
        let href = format!("/llm?session_id={}", api::encode(&run.session_id));
        view! { " · session " <a class="mono" href=href>{run.session_id.clone()}</a> }
    });
    let run_id = (!run.run_id.is_empty())
        .then(|| view! { " · run " <span class="mono">{run.run_id.clone()}</span> " " <CopyButton text=run.run_id.clone()/> });
    let flags = run
        .flags
        .iter()
        .map(|f| view! { <div class="flag" title=f.kind.clone()>"⚑ " {f.message.clone()}</div> })
        .collect_view();
    let tools_failed = (run.tool_errors > 0).then(|| format!("{} failed", run.tool_errors));
    view! {
        <div class="run-head">
            <h2>{title}</h2>
            <div class="small muted">
                {run.root_service.clone()} " · " {format::time(run.start_unix_nano)} {run_id} {session}
                " · " {run.dialects.join(", ")} " · "
                <a href=waterfall>"waterfall"</a>
            </div>
        </div>
        {flags}
        <div class="cards">
            <div class="card"><div class="muted small">"latency"</div><div class="big">{format::duration(run.duration_ns)}</div>
                <div class="small">{format!("{} spans, {} with errors", run.span_count, run.error_count)}</div></div>
            <div class="card"><div class="muted small">"model calls"</div><div class="big">{run.llm_calls}</div>
                <div class="small">{run.models.join(", ")}{(run.embedding_calls > 0).then(|| format!(" · {} embeddings", run.embedding_calls))}</div></div>
            <div class="card"><div class="muted small">"tool calls"</div><div class="big">{run.tool_calls}</div>
                <div class="small tool-error">{tools_failed}</div></div>
            <div class="card"><div class="muted small">"tokens in / out"</div><div class="big"><TokenCell tokens=run.tokens/></div></div>
            <div class="card"><div class="muted small">"cost"</div><div class="big"><CostCell cost=run.cost.clone()/></div></div>
        </div>
        <div class="run-layout">
            <div>
                <h3>"Conversation"</h3>
                <Conversation spans=spans.clone() trace_id=run.trace_id.clone()/>
            </div>
            <div>
                <h3>"Timeline"</h3>
                <Timeline spans=spans.clone() start=run.start_unix_nano duration=run.duration_ns/>
                <h3>"By agent"</h3>
                <ByAgent spans=spans.clone()/>
                <h3>"Calls"</h3>
                <CallTable spans=spans trace_id=run.trace_id/>
            </div>
        </div>
    }
}

/// What each tool call id's execution came to: (status, result or error).
fn executions(spans: &[LlmCall]) -> Executions {
    let map = spans
        .iter()
        .filter_map(|s| s.tool.as_ref())
        .filter(|t| !t.call_id.is_empty())
        .map(|t| {
            let outcome = if t.status == "error" { t.error.clone() } else { t.result.clone() };
            (t.call_id.clone(), (t.status.clone(), outcome))
        })
        .collect();
    Rc::new(map)
}

#[component]
fn Conversation(spans: Vec<LlmCall>, trace_id: String) -> impl IntoView {
    let executed = executions(&spans);
    spans
        .into_iter()
        .map(|span| {
            let raw = format!("/traces/{}?span={}", trace_id, span.span_id);
            match span.operation.as_str() {
                "llm_call" => view! { <CallBlock span=span raw=raw executed=executed.clone()/> }.into_any(),
                "tool" => view! { <ToolBlock span=span raw=raw/> }.into_any(),
                _ => {
                    let what = match span.operation.as_str() {
                        "agent" if !span.agent.is_empty() => format!("agent {}", span.agent),
                        other => other.replace('_', " "),
                    };
                    view! {
                        <div class="step" class:error=span.status == "error">
                            <span class="op">{what}</span> " " <a href=raw>{span.name.clone()}</a>
                            " · " {format::duration(span.duration_ns)}
                            {(!span.error.is_empty()).then(|| view! { <span class="tool-error">" · " {span.error.clone()}</span> })}
                        </div>
                    }
                    .into_any()
                }
            }
        })
        .collect_view()
}

#[component]
fn CallBlock(span: LlmCall, raw: String, executed: Executions) -> impl IntoView {
    let model = if span.response_model.is_empty() {
        span.request_model.clone()
    } else {
        span.response_model.clone()
    };
    let messages = span.messages.clone();
    let repeated = span.new_input_from.min(messages.input.len());
    let nothing = messages.system_instructions.is_empty() && messages.input.is_empty() && messages.output.is_empty();
    let system = (!messages.system_instructions.is_empty()).then(|| {
        let chars: usize = messages.system_instructions.iter().map(|p| p.content.len()).sum();
        let parts = messages.system_instructions.clone();
        view! {
            <details class="msg role-system"><summary>{format!("system instructions ({chars} characters)")}</summary>
                <Parts parts=parts executed=Executions::default()/>
            </details>
        }
    });
    let earlier = (repeated > 0).then(|| {
        let shown = messages.input[..repeated].to_vec();
        let executed = executed.clone();
        view! {
            <details class="history"><summary>{format!("{repeated} earlier messages of the conversation, shown above")}</summary>
                {shown.into_iter().map(|m| view! { <Message message=m executed=executed.clone()/> }).collect_view()}
            </details>
        }
    });
    let new_input = messages.input[repeated..].to_vec();
    let output = messages.output.clone();
    let finish = (!span.finish_reasons.is_empty()).then(|| format!(" · finished: {}", span.finish_reasons.join(", ")));
    let missing = (!span.missing_keys.is_empty()).then(|| {
        let keys: Vec<String> = span.missing_keys.iter().map(|m| format!("{} ({})", m.key, m.dialect)).collect();
        view! { <div class="small muted">"missing: " {keys.join(", ")}</div> }
    });
    view! {
        <div class="call" class:error=span.status == "error">
            <div class="call-head">
                <span class="op">"model call"</span> " " <b>{model}</b>
                <span class="small muted">
                    " · " {format::duration(span.duration_ns)}
                    " · " {format!("{} in / {} out", format::count(span.tokens.input), format::count(span.tokens.output))}
                    {(span.tokens.cache_read > 0).then(|| format!(" ({} cached)", format::count(span.tokens.cache_read)))}
                    {span.cost.as_ref().map(|c| {
                        let from = if c.source == "reported" { format!("reported in {}", c.key) } else { format!("computed from {}", c.table) };
                        view! { " · " <span title=from>{usd(c.usd)}</span> }
                    })}
                    {finish}
                    " · " <a href=raw>"span"</a>
                </span>
            </div>
            {(!span.error.is_empty() || span.status == "error").then(|| view! { <div class="call-error">"error: " {span.error.clone()}</div> })}
            {missing}
            {system}
            {earlier}
            {new_input.into_iter().map(|m| view! { <Message message=m executed=executed.clone()/> }).collect_view()}
            {output.into_iter().map(|m| view! { <Message message=m executed=executed.clone()/> }).collect_view()}
            {nothing.then(|| view! { <p class="small muted">"No message content recorded. Most instrumentations leave it out unless asked (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true, TRACELOOP_TRACE_CONTENT=true, ...)."</p> })}
        </div>
    }
}

#[component]
fn Message(message: ChatMessage, executed: Executions) -> impl IntoView {
    let class = format!("msg role-{}", message.role);
    let finish =
        (!message.finish_reason.is_empty()).then(|| view! { <span class="small muted">" · " {message.finish_reason.clone()}</span> });
    if message.role == "system" {
        let chars: usize = message.parts.iter().map(|p| p.content.len()).sum();
        return view! {
            <details class=class><summary>{format!("system ({chars} characters)")}</summary>
                <Parts parts=message.parts executed=executed/>
            </details>
        }
        .into_any();
    }
    view! {
        <div class=class>
            <div class="role">{message.role.clone()}{finish}</div>
            <Parts parts=message.parts executed=executed/>
        </div>
    }
    .into_any()
}

/// Text as text (markdown is not interpreted, so nothing in a message can inject markup), tool calls with
/// their arguments and what their execution came to, tool results, reasoning collapsed.
#[component]
fn Parts(parts: Vec<MessagePart>, executed: Executions) -> impl IntoView {
    parts
        .into_iter()
        .map(|part| match part.kind.as_str() {
            "text" => view! { <div class="msg-text">{part.content}</div> }.into_any(),
            "reasoning" => {
                view! { <details class="reasoning"><summary>"reasoning"</summary><div class="msg-text">{part.content}</div></details> }
                    .into_any()
            }
            "tool_call" => {
                let outcome = executed.get(&part.id).cloned().map(|(status, text)| {
                    view! { <div class="small" class:tool-error=status == "error">{format!("→ {status}: ")}{short(&text, 300)}</div> }
                });
                view! {
                    <div class="tool-call">
                        <span class="op">"calls"</span> " " <b>{part.name}</b> " " <span class="small muted mono">{part.id}</span>
                        <pre class="args">{pretty_json(&part.arguments)}</pre>
                        {outcome}
                    </div>
                }
                .into_any()
            }
            "tool_call_response" => view! {
                <div class="tool-result"><span class="op">"result"</span> " " <span class="small muted mono">{part.id}</span>
                    <pre class="args">{pretty_json(&part.content)}</pre></div>
            }
            .into_any(),
            _ => view! { <div class="small muted">{format!("[{}]", part.name)}</div> }.into_any(),
        })
        .collect_view()
}

#[component]
fn ToolBlock(span: LlmCall, raw: String) -> impl IntoView {
    let tool = span.tool.clone().unwrap_or(wire::ToolExecution {
        name: span.name.clone(),
        call_id: String::new(),
        arguments: String::new(),
        result: String::new(),
        status: span.status.clone(),
        error: span.error.clone(),
    });
    let failed = tool.status == "error" || span.status == "error";
    let error = if tool.error.is_empty() {
        span.error.clone()
    } else {
        tool.error.clone()
    };
    view! {
        <div class="tool-exec" class:error=failed>
            <div class="call-head">
                <span class="op">"tool"</span> " " <b>{tool.name.clone()}</b>
                <span class="small muted mono">" " {tool.call_id.clone()}</span>
                <span class="small muted">" · " {format::duration(span.duration_ns)} " · " <a href=raw>"span"</a></span>
                {if failed { view! { " " <span class="badge error">"failed"</span> }.into_any() } else { view! { " " <span class="badge ok">"ok"</span> }.into_any() }}
            </div>
            {failed.then(|| view! { <div class="call-error">{error}</div> })}
            {(!tool.arguments.is_empty()).then(|| view! { <div class="small muted">"arguments"</div><pre class="args">{pretty_json(&tool.arguments)}</pre> })}
            {(!tool.result.is_empty()).then(|| view! { <div class="small muted">"result"</div><pre class="args">{pretty_json(&tool.result)}</pre> })}
        </div>
    }
}

/// Model and tool calls as bars over the run's time: retries show as the same name again.
#[component]
fn Timeline(spans: Vec<LlmCall>, start: i64, duration: i64) -> impl IntoView {
    let total = duration.max(1) as f64;
    spans
        .into_iter()
        .filter(|s| matches!(s.operation.as_str(), "llm_call" | "tool" | "embeddings" | "retrieval"))
        .map(|s| {
            let left = ((s.start_unix_nano - start) as f64 / total * 100.0).clamp(0.0, 100.0);
            // At least a sliver, never past the end (a call starting at the very end is a sliver too).
            let width = (s.duration_ns as f64 / total * 100.0).max(0.3).min(100.0 - left);
            let label = match s.operation.as_str() {
                "tool" => s.tool.as_ref().map(|t| t.name.clone()).unwrap_or_else(|| s.name.clone()),
                _ => if s.request_model.is_empty() { s.name.clone() } else { s.request_model.clone() },
            };
            let class = format!("tl-bar op-{}", s.operation);
            view! {
                <div class="tl-row" title=format!("{} · {}", s.name, format::duration(s.duration_ns))>
                    <span class="tl-label small">{label}</span>
                    <span class="tl-track"><span class=class class:error=s.status == "error" style=format!("left:{left:.2}%;width:{width:.2}%")></span></span>
                </div>
            }
        })
        .collect_view()
}

/// Tokens and cost of the model calls under each agent span (the nearest agent among their ancestors
/// that the run's LLM spans include); calls under none count for the run itself.
#[component]
fn ByAgent(spans: Vec<LlmCall>) -> impl IntoView {
    let by_id: HashMap<&str, &LlmCall> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let agent_of = |span: &LlmCall| -> String {
        let mut parent = span.parent_span_id.as_str();
        while let Some(p) = by_id.get(parent) {
            if p.operation == "agent" {
                return if p.agent.is_empty() { p.name.clone() } else { p.agent.clone() };
            }
            parent = p.parent_span_id.as_str();
        }
        "(run)".to_string()
    };
    let mut rows: Vec<(String, i64, i64, i64, i64, f64)> = Vec::new();
    for span in spans
        .iter()
        .filter(|s| matches!(s.operation.as_str(), "llm_call" | "embeddings" | "tool"))
    {
        let agent = agent_of(span);
        let index = match rows.iter().position(|r| r.0 == agent) {
            Some(i) => i,
            None => {
                rows.push((agent, 0, 0, 0, 0, 0.0));
                rows.len() - 1
            }
        };
        let row = &mut rows[index];
        if span.operation == "tool" {
            row.2 += 1;
        } else {
            row.1 += 1;
            row.3 += span.tokens.input;
            row.4 += span.tokens.output;
            row.5 += span.cost.as_ref().map_or(0.0, |c| c.usd);
        }
    }
    let rows = rows
        .into_iter()
        .map(|(agent, calls, tools, input, output, cost)| {
            view! {
                <tr><td>{agent}</td><td class="num">{calls}</td><td class="num">{tools}</td>
                    <td class="num">{format!("{} / {}", format::count(input), format::count(output))}</td><td class="num">{usd(cost)}</td></tr>
            }
        })
        .collect_view();
    view! {
        <table class="list small-table">
            <thead><tr><th>"Agent"</th><th class="num">"Model calls"</th><th class="num">"Tools"</th><th class="num">"Tokens"</th><th class="num">"Cost"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
fn CallTable(spans: Vec<LlmCall>, trace_id: String) -> impl IntoView {
    let rows = spans
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let href = format!("/traces/{}?span={}", trace_id, s.span_id);
            let what = match s.operation.as_str() {
                "tool" => s.tool.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                "llm_call" | "embeddings" => s.request_model.clone(),
                _ => s.name.clone(),
            };
            view! {
                <tr class:error-row=s.status == "error">
                    <td class="num">{i + 1}</td>
                    <td class="small">{s.operation.replace('_', " ")}</td>
                    <td><a href=href>{what}</a></td>
                    <td class="num">{format::duration(s.duration_ns)}</td>
                    <td class="num small">{(s.tokens.input + s.tokens.output > 0).then(|| format!("{} / {}", format::count(s.tokens.input), format::count(s.tokens.output)))}</td>
                    <td class="num small">{s.cost.as_ref().map(|c| usd(c.usd))}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="list small-table">
            <thead><tr><th class="num">"#"</th><th>"Op"</th><th>"Model / tool"</th><th class="num">"Time"</th><th class="num">"Tokens"</th><th class="num">"Cost"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// JSON indented for reading; anything else as it came.
fn pretty_json(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
            serde_json::to_string_pretty(&value).unwrap_or_else(|_| text.to_string())
        }
        _ => text.to_string(),
    }
}

fn short(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
