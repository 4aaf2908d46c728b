//! LLM and agent telemetry normalized: one model per span, whichever convention instrumented it (OTel
//! GenAI, current and older; OpenInference; Traceloop/OpenLLMetry; MLflow; Langfuse; the Vercel AI SDK;
//! Pydantic AI/Logfire; OpenLIT; Laminar; the plain keys of agent-tracing guides). Pure functions, no IO:
//! the store builds its LLM tables from what they return, and the raw attributes stay as they were.
//!
//! `dialects` holds the tables (how each convention is recognised, which of its keys carries each field),
//! `usage` the token and cost keys and how their meanings are made one, `messages` reads chat content in
//! its many shapes and places, `attributes` reads values leniently.

mod attributes;
pub mod detect;
mod dialects;
mod messages;
mod model;
pub mod prices;
mod usage;

#[cfg(test)]
mod tests;

pub use model::{
    Dialect, LlmSpan, Message, MissingKey, Operation, Outcome, Part, PromptRef, ReportedCost, Role, SpanMessages, TokenUsage, ToolCall,
};

use attributes::Attributes;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;

/// One span with its resource, as this module's readers see it.
pub(crate) struct SpanView<'a> {
    pub(crate) span: &'a Span,
    pub(crate) attributes: Attributes<'a>,
    pub(crate) resource: Attributes<'a>,
}

/// The span normalized, or `None` when it speaks no LLM convention (an HTTP or database span, say).
pub fn normalize_span(span: &Span, resource: &[KeyValue]) -> Option<LlmSpan> {
    normalize(span, resource, Depth::Full)
}

/// What the store keeps of a span at write time, on the ingest path: [`normalize_span`] without what
/// `llm_spans` does not store (messages, missing keys, finish reasons, prompt, agent id, workflow, service,
/// run id, a tool's result), so the ingest workers parse no chat content and copy no large value.
pub fn normalize_span_fields(span: &Span, resource: &[KeyValue]) -> Option<LlmSpan> {
    normalize(span, resource, Depth::Stored)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    Full,
    Stored,
}

/// Key prefixes and keys that some convention's recogniser looks for (`dialects::recognise`): a span with
/// none of them, and no `gen_ai.*` event, speaks no LLM convention, which most spans show at a glance.
const LLM_KEY_PREFIXES: &[&str] = &[
    "gen_ai.",
    "llm.",
    "openinference.",
    "traceloop.",
    "mlflow.",
    "langfuse.",
    "ai.",
    "pydantic_ai.",
    "lmnr.",
    "tool.",
];
const LLM_KEYS: &[&str] = &["agent_name", "all_messages_events", "operation.cost"];

fn may_speak_llm(span: &Span) -> bool {
    span.attributes
        .iter()
        .any(|kv| LLM_KEY_PREFIXES.iter().any(|prefix| kv.key.starts_with(prefix)) || LLM_KEYS.contains(&kv.key.as_str()))
        || span.events.iter().any(|event| event.name.starts_with("gen_ai."))
}

fn normalize(span: &Span, resource: &[KeyValue], depth: Depth) -> Option<LlmSpan> {
    if !may_speak_llm(span) {
        return None;
    }
    let view = SpanView {
        span,
        attributes: Attributes::new(&span.attributes),
        resource: Attributes::new(resource),
    };
    let recognised = dialects::recognise(&view);
    if recognised.is_empty() {
        return None;
    }
    let operation = dialects::operation(&view);
    let outcome = dialects::outcome(&view);
    let attributes = &view.attributes;
    let mut llm = LlmSpan {
        operation,
        provider: dialects::provider(&view),
        request_model: attributes
            .first_text(dialects::REQUEST_MODEL)
            .or_else(|| dialects::model_in(attributes, "mlflow.spanInputs")),
        response_model: attributes
            .first_text(dialects::RESPONSE_MODEL)
            .or_else(|| dialects::model_in(attributes, "mlflow.spanOutputs")),
        tokens: usage::tokens(attributes),
        reported_cost: usage::reported_cost(attributes),
        agent_name: dialects::agent_name(&view, &recognised, operation),
        conversation_id: attributes.first_text(dialects::CONVERSATION_ID),
        user_id: attributes.first_text(dialects::USER_ID),
        tool: (operation == Operation::Tool).then(|| dialects::tool_call(&view, &outcome, depth == Depth::Full)),
        ..LlmSpan::default()
    };
    if depth == Depth::Full {
        llm.messages = messages::span_messages(&view, operation);
        llm.finish_reasons = dialects::finish_reasons(attributes);
        if llm.finish_reasons.is_empty() {
            llm.finish_reasons = llm
                .messages
                .output
                .iter()
                .filter_map(|message| message.finish_reason.clone())
                .collect();
        }
        llm.missing_keys = dialects::missing_keys(&view, &recognised, operation);
        llm.service_name = view.resource.text("service.name");
        llm.agent_id = attributes.first_text(dialects::AGENT_ID);
        llm.workflow_name = dialects::workflow_name(attributes);
        llm.run_id = attributes.first_text(dialects::RUN_ID);
        llm.prompt = dialects::prompt(attributes);
    }
    llm.outcome = outcome;
    llm.dialects = recognised;
    Some(llm)
}

/// The messages a log record carries: one message of the GenAI events OTel defined from v1.28 to v1.36
/// (`gen_ai.system.message`, `gen_ai.user.message`, `gen_ai.assistant.message`, `gen_ai.tool.message`,
/// `gen_ai.choice`), or all of a call's content in one `gen_ai.client.inference.operation.details`; empty for
/// any other record. To attach them to the record's span, `append` that span's records in time order, then
/// `fill_missing_from` the result into the span's own messages, which take precedence.
pub fn messages_from_log(record: &LogRecord) -> SpanMessages {
    messages::messages_from_log_record(record)
}

/// How many leading messages of a call's `input` the run has shown already: each is equal (role and
/// parts; the finish reason aside) to a message of an earlier call's input or output. Chat APIs resend the
/// whole history with every call, so a reader wants each call's new messages only.
pub fn repeated_history_len(earlier: &[&SpanMessages], input: &[Message]) -> usize {
    let seen = |message: &Message| {
        earlier.iter().any(|call| {
            call.input
                .iter()
                .chain(&call.output)
                .any(|old| old.role == message.role && old.parts == message.parts)
        })
    };
    input.iter().take_while(|message| seen(message)).count()
}
