//! The LLM endpoints: runs (a list, and one run's calls with their messages), sessions, and models with
//! agents, all from the normalized LLM spans (`store::llm`, `crate::llm`).

use super::services::OVERVIEW_WINDOW;
use super::wire::{LlmRunsParams, LlmWindowParams};
use super::{empty_answer_warnings, flag, limit, non_empty, parse_trace_id, wire, ApiError, ApiQuery, ApiResult, ApiState, Range};
use crate::llm::{self as normalized, Message, Part};
use crate::pdata::hex_id;
use crate::query::filter;
use crate::store::llm::{self as runs, LlmCost, LlmTokens, RunCall, RunQuery, RunTotals};
use crate::store::read::TraceSummary;
use crate::store::sql::{compile, Target};
use axum::extract::{Path, State};
use axum::Json;
use std::sync::Arc;

/// Runs, newest first. Each condition of the filter's top-level `and` may be met by a different span of
/// the run: `llm.model = "gpt-4o" and status = error` finds a run whose gpt-4o call went well and whose
/// tool failed.
pub(super) async fn llm_runs(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<LlmRunsParams>,
) -> ApiResult<wire::LlmRunsResponse> {
    let resources = state.store.resource_attrs();
    let filters = match params
        .q
        .as_deref()
        .map(filter::parse)
        .transpose()
        .map_err(crate::query::FilterError::from)?
    {
        Some(Some(expr)) => expr
            .into_conjuncts()
            .iter()
            .map(|condition| compile(condition, Target::Spans, &*resources))
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    let query = RunQuery {
        filters,
        run_id: non_empty(&params.run_id),
        session: non_empty(&params.session_id),
    };
    let range = params.window.range(Some(OVERVIEW_WINDOW))?;
    let limit = limit(params.limit, 50, 500)?;
    let count = flag("total", &params.total)?;
    let (found, total) = state
        .store
        .read(move |conn| runs::llm_runs_counted(conn, &*resources, &query, range, limit, count))
        .await?;
    let warnings = if found.is_empty() {
        empty_answer_warnings(&state, &[params.q.as_deref()], Target::Spans).await
    } else {
        Vec::new()
    };
    Ok(Json(wire::LlmRunsResponse {
        runs: found.iter().map(|run| run_wire(&run.trace, &run.totals)).collect(),
        total: total.map(|t| t.count),
        total_capped: total.is_some_and(|t| t.capped),
        warnings,
    }))
}

/// One run: its summary and every LLM and agent span, normalized with its messages.
pub(super) async fn llm_run(State(state): State<Arc<ApiState>>, Path(trace_id): Path<String>) -> ApiResult<wire::LlmRunResponse> {
    let trace_id = parse_trace_id(&trace_id)?.0.to_vec();
    let (summary, totals, calls) = state
        .store
        .read(move |conn| {
            let summary = crate::store::read::trace_summary(conn, &trace_id)?;
            let calls = runs::run_calls(conn, &trace_id)?;
            let rows: Vec<_> = calls.iter().map(|call| call.row.clone()).collect();
            Ok((summary, runs::run_totals(conn, &trace_id, &rows)?, calls))
        })
        .await?;
    let (Some(summary), false) = (summary, calls.is_empty()) else {
        return Err(ApiError::not_found(
            "no LLM run with this trace id: its trace has no span of an LLM convention",
        ));
    };
    Ok(Json(wire::LlmRunResponse {
        run: run_wire(&summary, &totals),
        spans: calls.iter().map(call_wire).collect(),
    }))
}

pub(super) async fn llm_sessions(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<LlmWindowParams>,
) -> ApiResult<wire::LlmSessionsResponse> {
    let range = params.window.range(Some(OVERVIEW_WINDOW))?;
    let limit = limit(params.limit, 100, 1000)?;
    let (sessions, sampled) = state.store.read(move |conn| runs::llm_sessions(conn, range, limit)).await?;
    Ok(Json(wire::LlmSessionsResponse {
        sessions: sessions
            .into_iter()
            .map(|s| wire::LlmSession {
                session_id: s.session,
                user_id: s.user_id.unwrap_or_default(),
                runs: s.runs,
                first_start_unix_nano: s.first_start_ns,
                last_end_unix_nano: s.last_end_ns,
                agents: s.agents.into_iter().collect(),
                models: s.models.into_iter().collect(),
                llm_calls: s.llm_calls,
                tool_calls: s.tool_calls,
                errors: s.errors,
                tokens: tokens_wire(&s.tokens),
                cost: s.cost.as_ref().map(cost_wire),
            })
            .collect(),
        sampled,
    }))
}

pub(super) async fn llm_models(
    State(state): State<Arc<ApiState>>,
    ApiQuery(params): ApiQuery<LlmWindowParams>,
) -> ApiResult<wire::LlmModelsResponse> {
    let range = params.window.range(Some(OVERVIEW_WINDOW))?;
    let (models, agents, sampled) = state.store.read(move |conn| runs::llm_models(conn, range)).await?;
    Ok(Json(wire::LlmModelsResponse {
        models: models
            .into_iter()
            .map(|m| wire::LlmModelUsage {
                model: m.model,
                provider: m.provider.unwrap_or_default(),
                calls: m.calls,
                errors: m.errors,
                latency_p50_ns: m.latency.p50_ns,
                latency_p95_ns: m.latency.p95_ns,
                output_tokens_per_second: m.output_tokens_per_second,
                tokens: tokens_wire(&m.tokens),
                cost: m.cost.as_ref().map(cost_wire),
            })
            .collect(),
        agents: agents
            .into_iter()
            .map(|a| wire::LlmAgentUsage {
                agent: a.agent,
                runs: a.runs,
                llm_calls: a.llm_calls,
                tool_calls: a.tool_calls,
                tool_errors: a.tool_errors,
                errors: a.errors,
                latency_p50_ns: a.latency.p50_ns,
                latency_p95_ns: a.latency.p95_ns,
                tokens: tokens_wire(&a.tokens),
                cost: a.cost.as_ref().map(cost_wire),
            })
            .collect(),
        sampled,
    }))
}

fn tokens_wire(tokens: &LlmTokens) -> wire::LlmTokens {
    wire::LlmTokens {
        input: tokens.input,
        output: tokens.output,
        cache_read: tokens.cache_read,
        cache_creation: tokens.cache_creation,
        reasoning: tokens.reasoning,
    }
}

fn cost_wire(cost: &LlmCost) -> wire::LlmCost {
    wire::LlmCost {
        usd: cost.usd,
        source: cost.source.as_str().to_string(),
        table: cost.table.clone(),
        unpriced_calls: cost.unpriced_calls,
    }
}

fn run_wire(trace: &TraceSummary, totals: &RunTotals) -> wire::LlmRun {
    let tokens = tokens_wire(&totals.tokens);
    wire::LlmRun {
        trace_id: hex_id(&trace.trace_id),
        run_id: totals.run_id.clone().unwrap_or_default(),
        agent: totals.agent.clone().unwrap_or_default(),
        session_id: totals.session.clone().unwrap_or_default(),
        user_id: totals.user_id.clone().unwrap_or_default(),
        root_service: trace.root_service.clone(),
        root_name: trace.root_name.clone(),
        start_unix_nano: trace.start_ns,
        duration_ns: trace.duration_ns,
        span_count: trace.span_count,
        error_count: trace.error_count,
        models: totals.models.iter().cloned().collect(),
        providers: totals.providers.iter().cloned().collect(),
        dialects: totals.dialects.iter().cloned().collect(),
        llm_calls: totals.llm_calls,
        embedding_calls: totals.embedding_calls,
        input_tokens: tokens.input,
        output_tokens: tokens.output,
        tokens,
        cost: totals.cost.as_ref().map(cost_wire),
        tool_calls: totals.tool_calls,
        tool_errors: totals.tool_errors,
        tools: totals
            .tools
            .iter()
            .map(|t| wire::ToolUsage {
                name: t.name.clone(),
                calls: t.calls,
                errors: t.errors,
            })
            .collect(),
        flags: totals
            .flags
            .iter()
            .map(|f| wire::RunFlag {
                kind: f.kind.as_str().to_string(),
                message: f.message.clone(),
            })
            .collect(),
    }
}

fn status_wire(outcome: &normalized::Outcome) -> (String, String) {
    match outcome {
        normalized::Outcome::Ok => ("ok".into(), String::new()),
        normalized::Outcome::Error { message } => ("error".into(), message.clone().unwrap_or_default()),
    }
}

fn call_wire(call: &RunCall) -> wire::LlmCall {
    let llm = &call.llm;
    let (status, error) = status_wire(&llm.outcome);
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    wire::LlmCall {
        span_id: hex_id(&call.span.span_id),
        parent_span_id: hex_id(&call.span.parent_span_id),
        name: call.span.name.clone(),
        service: call.service.clone(),
        start_unix_nano: call.row.start_ns,
        duration_ns: call.row.duration_ns,
        operation: llm.operation.as_str().to_string(),
        dialects: llm.dialects.iter().map(|d| d.as_str().to_string()).collect(),
        missing_keys: llm
            .missing_keys
            .iter()
            .map(|m| wire::MissingKey {
                dialect: m.dialect.as_str().to_string(),
                key: m.key.to_string(),
            })
            .collect(),
        status,
        error,
        provider: text(&llm.provider),
        request_model: text(&llm.request_model),
        response_model: text(&llm.response_model),
        agent: text(&llm.agent_name),
        session_id: text(&llm.conversation_id),
        run_id: text(&llm.run_id),
        tokens: tokens_wire(&call.row.tokens),
        cost: call.row.cost.as_ref().map(|cost| wire::CallCost {
            usd: cost.usd,
            source: if cost.reported { "reported" } else { "computed" }.to_string(),
            key: if cost.reported { cost.from.clone() } else { String::new() },
            table: if cost.reported { String::new() } else { cost.from.clone() },
        }),
        tool: llm.tool.as_ref().map(|tool| {
            let (status, error) = status_wire(&tool.status);
            wire::ToolExecution {
                name: tool.name.clone(),
                call_id: text(&tool.call_id),
                arguments: text(&tool.arguments),
                result: text(&tool.result),
                status,
                error,
            }
        }),
        finish_reasons: llm.finish_reasons.clone(),
        prompt: llm.prompt.as_ref().map(|p| wire::PromptRef {
            name: text(&p.name),
            version: text(&p.version),
        }),
        messages: wire::CallMessages {
            system_instructions: llm.messages.system_instructions.iter().map(part_wire).collect(),
            input: llm.messages.input.iter().map(message_wire).collect(),
            output: llm.messages.output.iter().map(message_wire).collect(),
        },
        new_input_from: call.repeated_history,
    }
}

fn message_wire(message: &Message) -> wire::ChatMessage {
    wire::ChatMessage {
        role: message.role.as_str().to_string(),
        parts: message.parts.iter().map(part_wire).collect(),
        finish_reason: message.finish_reason.clone().unwrap_or_default(),
    }
}

fn part_wire(part: &Part) -> wire::MessagePart {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    match part {
        Part::Text(content) => wire::MessagePart {
            kind: "text".into(),
            content: content.clone(),
            ..Default::default()
        },
        Part::Reasoning(content) => wire::MessagePart {
            kind: "reasoning".into(),
            content: content.clone(),
            ..Default::default()
        },
        Part::ToolCall { id, name, arguments } => wire::MessagePart {
            kind: "tool_call".into(),
            id: text(id),
            name: name.clone(),
            arguments: text(arguments),
            ..Default::default()
        },
        Part::ToolResult { id, content } => wire::MessagePart {
            kind: "tool_call_response".into(),
            id: text(id),
            content: content.clone(),
            ..Default::default()
        },
        Part::Other { kind } => wire::MessagePart {
            kind: "other".into(),
            name: kind.clone(),
            ..Default::default()
        },
    }
}
