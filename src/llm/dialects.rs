//! The conventions, as tables: what gives each away, which keys say what a span does, which keys carry each
//! normalized field (the first key present wins, so a value sent under several names counts once), and
//! which keys a span of each convention is expected to carry. Tokens and cost are in `usage`.

use super::attributes::{string_field, Attributes};
use super::model::{Dialect, MissingKey, Operation as Op, Outcome, PromptRef, ToolCall};
use super::SpanView;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::Value;

// ---------------------------------------------------------------------------
// Recognising a dialect

struct Recogniser {
    dialect: Dialect,
    speaks: fn(&SpanView<'_>) -> bool,
}

/// In the order `LlmSpan::dialects` lists them. Prefixes that SDKs stamp on every span in a context
/// (`traceloop.association.properties.*`, `lmnr.association.properties.*`, `logfire.*`) are not evidence:
/// they also mark the HTTP and database spans of an agent's run.
const RECOGNISERS: &[Recogniser] = &[
    Recogniser {
        dialect: Dialect::OtelGenAi,
        speaks: |view| view.attributes.has("gen_ai.operation.name"),
    },
    Recogniser {
        dialect: Dialect::OpenInference,
        speaks: |view| view.attributes.has("openinference.span.kind"),
    },
    Recogniser {
        dialect: Dialect::Traceloop,
        speaks: |view| {
            view.attributes
                .has_any(&["traceloop.span.kind", "llm.request.type", "llm.usage.total_tokens"])
        },
    },
    Recogniser {
        dialect: Dialect::Mlflow,
        speaks: |view| {
            view.attributes
                .has_any(&["mlflow.spanType", "mlflow.spanInputs", "mlflow.spanOutputs"])
        },
    },
    Recogniser {
        dialect: Dialect::Langfuse,
        speaks: |view| view.attributes.has_prefix("langfuse.observation."),
    },
    Recogniser {
        dialect: Dialect::VercelAiSdk,
        speaks: |view| view.attributes.has_any(&["ai.operationId", "ai.model.id", "ai.toolCall.name"]),
    },
    Recogniser {
        dialect: Dialect::PydanticAi,
        speaks: |view| {
            view.attributes.has_prefix("pydantic_ai.") || view.attributes.has_any(&["agent_name", "all_messages_events", "operation.cost"])
        },
    },
    Recogniser {
        dialect: Dialect::OpenLit,
        speaks: speaks_openlit,
    },
    Recogniser {
        dialect: Dialect::Laminar,
        speaks: |view| view.attributes.has("lmnr.span.type"),
    },
    Recogniser {
        dialect: Dialect::PlainKeys,
        speaks: speaks_plain_keys,
    },
];

/// OpenLIT names itself in `telemetry.sdk.name`, on its spans and its resource; the resource alone would
/// also claim the service's HTTP spans.
fn speaks_openlit(view: &SpanView<'_>) -> bool {
    (names_openlit(&view.attributes) || names_openlit(&view.resource)) && view.attributes.has_prefix("gen_ai.")
}

fn names_openlit(attributes: &Attributes<'_>) -> bool {
    attributes
        .text("telemetry.sdk.name")
        .is_some_and(|name| name.eq_ignore_ascii_case("openlit"))
}

/// `tool.name` and `llm.provider` are OpenInference keys too; only without its span kind are they plain.
fn speaks_plain_keys(view: &SpanView<'_>) -> bool {
    let attributes = &view.attributes;
    attributes.has_any(&["llm.model", "llm.tokens_in", "llm.tokens_out", "llm.cost_usd", "tool.status"])
        || (!attributes.has("openinference.span.kind") && attributes.has_any(&["tool.name", "llm.provider"]))
}

/// The conventions that write `gen_ai.*` keys of their own; without one of them, such keys are OTel's from
/// before `gen_ai.operation.name` (semantic conventions before v1.27).
const WRITE_GEN_AI_KEYS: &[Dialect] = &[
    Dialect::OtelGenAi,
    Dialect::Traceloop,
    Dialect::VercelAiSdk,
    Dialect::PydanticAi,
    Dialect::OpenLit,
    Dialect::Laminar,
    Dialect::Langfuse,
];

pub(crate) fn recognise(view: &SpanView<'_>) -> Vec<Dialect> {
    let mut dialects: Vec<Dialect> = RECOGNISERS
        .iter()
        .filter(|recogniser| (recogniser.speaks)(view))
        .map(|recogniser| recogniser.dialect)
        .collect();
    let carries_gen_ai = view.attributes.has_prefix("gen_ai.") || view.span.events.iter().any(|event| event.name.starts_with("gen_ai."));
    if carries_gen_ai && !dialects.iter().any(|dialect| WRITE_GEN_AI_KEYS.contains(dialect)) {
        dialects.push(Dialect::OtelGenAiLegacy);
    }
    dialects
}

// ---------------------------------------------------------------------------
// What a span does

/// A key that says what a span does, and what its values mean (compared ignoring ASCII case).
struct OperationKey {
    key: &'static str,
    values: &'static [(&'static str, Op)],
}

/// The Vercel AI SDK's operations, by `ai.operationId` or span name: the outer call (a loop of steps with
/// tools, which the SDK's current OTel integration reports as `invoke_agent`) and the model calls inside.
const VERCEL_OPERATIONS: &[(&str, Op)] = &[
    ("ai.generateText.doGenerate", Op::LlmCall),
    ("ai.streamText.doStream", Op::LlmCall),
    ("ai.generateObject.doGenerate", Op::LlmCall),
    ("ai.streamObject.doStream", Op::LlmCall),
    ("ai.generateText", Op::Agent),
    ("ai.streamText", Op::Agent),
    ("ai.generateObject", Op::Agent),
    ("ai.streamObject", Op::Agent),
    ("ai.embed.doEmbed", Op::Embeddings),
    ("ai.embedMany.doEmbed", Op::Embeddings),
    ("ai.embed", Op::Workflow),
    ("ai.embedMany", Op::Workflow),
    ("ai.toolCall", Op::Tool),
];

/// The most specific first.
const OPERATION_KEYS: &[OperationKey] = &[
    OperationKey {
        key: "gen_ai.operation.name",
        values: &[
            ("chat", Op::LlmCall),
            ("generate_content", Op::LlmCall),
            ("text_completion", Op::LlmCall),
            ("embeddings", Op::Embeddings),
            // OpenLIT's and Vercel's spellings.
            ("embedding", Op::Embeddings),
            ("retrieval", Op::Retrieval),
            ("retrieve", Op::Retrieval),
            ("rerank", Op::Retrieval),
            ("execute_tool", Op::Tool),
            ("invoke_agent", Op::Agent),
            ("create_agent", Op::Agent),
            ("agent", Op::Agent),
            ("invoke_workflow", Op::Workflow),
            ("workflow", Op::Workflow),
        ],
    },
    OperationKey {
        key: "openinference.span.kind",
        values: &[
            ("LLM", Op::LlmCall),
            ("EMBEDDING", Op::Embeddings),
            ("RETRIEVER", Op::Retrieval),
            ("RERANKER", Op::Retrieval),
            ("TOOL", Op::Tool),
            ("AGENT", Op::Agent),
            ("CHAIN", Op::Workflow),
        ],
    },
    OperationKey {
        key: "mlflow.spanType",
        values: &[
            ("LLM", Op::LlmCall),
            ("CHAT_MODEL", Op::LlmCall),
            ("EMBEDDING", Op::Embeddings),
            ("RETRIEVER", Op::Retrieval),
            ("RERANKER", Op::Retrieval),
            ("TOOL", Op::Tool),
            ("AGENT", Op::Agent),
            ("CHAIN", Op::Workflow),
        ],
    },
    OperationKey {
        key: "traceloop.span.kind",
        values: &[
            ("workflow", Op::Workflow),
            ("task", Op::Workflow),
            ("agent", Op::Agent),
            ("tool", Op::Tool),
        ],
    },
    OperationKey {
        key: "llm.request.type",
        values: &[
            ("chat", Op::LlmCall),
            ("completion", Op::LlmCall),
            ("embedding", Op::Embeddings),
            ("rerank", Op::Retrieval),
        ],
    },
    OperationKey {
        key: "langfuse.observation.type",
        values: &[
            ("generation", Op::LlmCall),
            ("embedding", Op::Embeddings),
            ("retriever", Op::Retrieval),
            ("tool", Op::Tool),
            ("agent", Op::Agent),
            ("chain", Op::Workflow),
        ],
    },
    OperationKey {
        key: "ai.operationId",
        values: VERCEL_OPERATIONS,
    },
    OperationKey {
        key: "lmnr.span.type",
        values: &[("LLM", Op::LlmCall), ("TOOL", Op::Tool)],
    },
];

fn operation_named(values: &[(&str, Op)], name: &str) -> Option<Op> {
    values
        .iter()
        .find(|(value, _)| value.eq_ignore_ascii_case(name))
        .map(|&(_, operation)| operation)
}

const TOOL_NAME: &[&str] = &["gen_ai.tool.name", "tool.name", "ai.toolCall.name"];

/// Keys only model calls carry, for spans that do not say what they do.
const MODEL_CALL_HINTS: &[&str] = &[
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.system",
    "gen_ai.provider.name",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.model_name",
    "llm.token_count.prompt",
    "llm.model",
    "llm.provider",
    "llm.tokens_in",
    "llm.tokens_out",
];

pub(crate) fn operation(view: &SpanView<'_>) -> Op {
    let attributes = &view.attributes;
    // The first key that says what the span does decides; a value it does not list (a guardrail, an
    // evaluator, Langfuse's plain `span`) is Other rather than a guess from the span's other keys.
    let said = OPERATION_KEYS
        .iter()
        .find_map(|operation_key| Some((operation_key.values, attributes.text(operation_key.key)?)));
    if let Some((values, value)) = said {
        return operation_named(values, &value).unwrap_or(Op::Other);
    }
    if let Some(operation) = operation_named(VERCEL_OPERATIONS, &view.span.name) {
        return operation;
    }
    // Spans that do not say: the keys they carry tell. Pydantic AI's agent run carries its model's name too.
    let name = view.span.name.as_str();
    if attributes.has_any(TOOL_NAME) {
        Op::Tool
    } else if attributes.has("agent_name") || name == "agent run" || name.starts_with("invoke_agent") {
        Op::Agent
    } else if attributes.has_any(MODEL_CALL_HINTS) {
        Op::LlmCall
    } else if attributes.has_any(&["gen_ai.agent.name", "agent.name"]) {
        Op::Agent
    } else {
        Op::Other
    }
}

// ---------------------------------------------------------------------------
// Expected keys

/// Keys a span of `dialect` doing `operation` should carry: any of `keys` will do; the first is the name
/// reported when none is there.
struct Expectation {
    dialect: Dialect,
    operation: Op,
    keys: &'static [&'static str],
}

const fn expect(dialect: Dialect, operation: Op, keys: &'static [&'static str]) -> Expectation {
    Expectation { dialect, operation, keys }
}

/// From each convention's required and recommended attributes, limited to what normalization reads.
const EXPECTED: &[Expectation] = &[
    expect(Dialect::OtelGenAi, Op::LlmCall, &["gen_ai.provider.name", "gen_ai.system"]),
    expect(Dialect::OtelGenAi, Op::LlmCall, &["gen_ai.request.model"]),
    expect(
        Dialect::OtelGenAi,
        Op::LlmCall,
        &["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
    ),
    expect(
        Dialect::OtelGenAi,
        Op::LlmCall,
        &["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"],
    ),
    expect(Dialect::OtelGenAi, Op::Embeddings, &["gen_ai.provider.name", "gen_ai.system"]),
    expect(Dialect::OtelGenAi, Op::Embeddings, &["gen_ai.request.model"]),
    expect(Dialect::OtelGenAi, Op::Tool, &["gen_ai.tool.name"]),
    expect(Dialect::OtelGenAi, Op::Agent, &["gen_ai.agent.name"]),
    expect(Dialect::OtelGenAiLegacy, Op::LlmCall, &["gen_ai.system"]),
    expect(Dialect::OtelGenAiLegacy, Op::LlmCall, &["gen_ai.request.model"]),
    expect(
        Dialect::OtelGenAiLegacy,
        Op::LlmCall,
        &["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
    ),
    expect(
        Dialect::OtelGenAiLegacy,
        Op::LlmCall,
        &["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"],
    ),
    expect(Dialect::OpenInference, Op::LlmCall, &["llm.model_name"]),
    expect(Dialect::OpenInference, Op::LlmCall, &["llm.provider", "llm.system"]),
    expect(Dialect::OpenInference, Op::LlmCall, &["llm.token_count.prompt"]),
    expect(Dialect::OpenInference, Op::LlmCall, &["llm.token_count.completion"]),
    expect(Dialect::OpenInference, Op::Embeddings, &["embedding.model_name"]),
    expect(Dialect::OpenInference, Op::Tool, &["tool.name"]),
    expect(Dialect::Traceloop, Op::LlmCall, &["gen_ai.system"]),
    expect(Dialect::Traceloop, Op::LlmCall, &["gen_ai.request.model"]),
    expect(
        Dialect::Traceloop,
        Op::LlmCall,
        &["gen_ai.usage.prompt_tokens", "gen_ai.usage.input_tokens"],
    ),
    expect(
        Dialect::Traceloop,
        Op::LlmCall,
        &["gen_ai.usage.completion_tokens", "gen_ai.usage.output_tokens"],
    ),
    expect(Dialect::Traceloop, Op::Workflow, &["traceloop.entity.name"]),
    expect(Dialect::Traceloop, Op::Agent, &["traceloop.entity.name"]),
    expect(Dialect::Traceloop, Op::Tool, &["traceloop.entity.name"]),
    expect(Dialect::Mlflow, Op::LlmCall, &["mlflow.spanInputs"]),
    expect(Dialect::Mlflow, Op::LlmCall, &["mlflow.spanOutputs"]),
    expect(Dialect::Mlflow, Op::LlmCall, &["mlflow.chat.tokenUsage"]),
    expect(Dialect::Mlflow, Op::Tool, &["mlflow.spanInputs"]),
    expect(
        Dialect::Langfuse,
        Op::LlmCall,
        &["langfuse.observation.model.name", "gen_ai.request.model"],
    ),
    expect(
        Dialect::Langfuse,
        Op::LlmCall,
        &["langfuse.observation.usage_details", "gen_ai.usage.input_tokens"],
    ),
    expect(Dialect::VercelAiSdk, Op::LlmCall, &["ai.model.id"]),
    expect(Dialect::VercelAiSdk, Op::LlmCall, &["ai.model.provider"]),
    expect(
        Dialect::VercelAiSdk,
        Op::LlmCall,
        &["ai.usage.inputTokens", "ai.usage.promptTokens"],
    ),
    expect(
        Dialect::VercelAiSdk,
        Op::LlmCall,
        &["ai.usage.outputTokens", "ai.usage.completionTokens"],
    ),
    expect(Dialect::VercelAiSdk, Op::Embeddings, &["ai.model.id"]),
    expect(Dialect::VercelAiSdk, Op::Tool, &["ai.toolCall.name"]),
    expect(Dialect::VercelAiSdk, Op::Tool, &["ai.toolCall.id"]),
    expect(Dialect::PydanticAi, Op::Agent, &["gen_ai.agent.name", "agent_name"]),
    expect(Dialect::OpenLit, Op::LlmCall, &["gen_ai.usage.cost"]),
    expect(Dialect::PlainKeys, Op::LlmCall, &["llm.provider"]),
    expect(Dialect::PlainKeys, Op::LlmCall, &["llm.model"]),
    expect(Dialect::PlainKeys, Op::LlmCall, &["llm.tokens_in"]),
    expect(Dialect::PlainKeys, Op::LlmCall, &["llm.tokens_out"]),
    expect(Dialect::PlainKeys, Op::Tool, &["tool.name"]),
];

pub(crate) fn missing_keys(view: &SpanView<'_>, dialects: &[Dialect], operation: Op) -> Vec<MissingKey> {
    EXPECTED
        .iter()
        .filter(|expected| expected.operation == operation && dialects.contains(&expected.dialect))
        .filter(|expected| !view.attributes.has_any(expected.keys))
        .map(|expected| MissingKey {
            dialect: expected.dialect,
            key: expected.keys[0],
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Who and what

const PROVIDER: &[&str] = &[
    "gen_ai.provider.name",
    "gen_ai.system",
    "llm.provider",
    "llm.system",
    "mlflow.llm.provider",
    "ai.model.provider",
];

/// The Vercel AI SDK's provider ids also name the API: `openai.chat`, `anthropic.messages`.
const VERCEL_API_SUFFIXES: &[&str] = &[".chat", ".responses", ".completion", ".messages", ".embedding"];

pub(crate) const REQUEST_MODEL: &[&str] = &[
    "gen_ai.request.model",
    "llm.request.model_name",
    "ai.model.id",
    "mlflow.llm.model",
    "langfuse.observation.model.name",
    "llm.model",
    // Pydantic AI's agent run.
    "model_name",
    // OpenInference's one model key, mostly the response's model; used when nothing names the request's.
    "llm.model_name",
    "embedding.model_name",
];
pub(crate) const RESPONSE_MODEL: &[&str] = &["gen_ai.response.model", "llm.response.model_name", "ai.response.model"];

const AGENT_NAME: &[&str] = &[
    "gen_ai.agent.name",
    "agent.name",
    "agent_name",
    // The Vercel AI SDK's telemetry `functionId`, which its current OTel integration reports as `gen_ai.agent.name`.
    "ai.telemetry.functionId",
];
pub(crate) const AGENT_ID: &[&str] = &["gen_ai.agent.id", "agent.id"];
const WORKFLOW_NAME: &[&str] = &["gen_ai.workflow.name", "traceloop.workflow.name"];

pub(crate) const CONVERSATION_ID: &[&str] = &[
    "gen_ai.conversation.id",
    "session.id",
    "langfuse.session.id",
    "traceloop.association.properties.session_id",
    "traceloop.association.properties.sessionId",
    "lmnr.association.properties.session_id",
    "ai.telemetry.metadata.sessionId",
    "ai.telemetry.metadata.session_id",
    "mlflow.trace.session",
];
pub(crate) const USER_ID: &[&str] = &[
    "user.id",
    "langfuse.user.id",
    "enduser.id",
    "traceloop.association.properties.user_id",
    "traceloop.association.properties.userId",
    "lmnr.association.properties.user_id",
    "ai.telemetry.metadata.userId",
    "ai.telemetry.metadata.user_id",
    "mlflow.trace.user",
];
pub(crate) const RUN_ID: &[&str] = &["run_id"];

const PROMPT_NAME: &[&str] = &[
    "gen_ai.prompt.name",
    "langfuse.observation.prompt.name",
    "traceloop.prompt.key",
    "prompt.name",
];
const PROMPT_VERSION: &[&str] = &[
    "prompt.version",
    "langfuse.observation.prompt.version",
    "traceloop.prompt.version",
    "llm.prompt_template.version",
];

/// OpenInference names the call `tool.id` on its TOOL spans (`tool_call.id` inside messages).
const TOOL_CALL_ID: &[&str] = &["gen_ai.tool.call.id", "tool.id", "tool_call.id", "ai.toolCall.id"];
/// OpenInference, Traceloop and MLflow record a tool's arguments and result as the span's input and output.
const TOOL_ARGUMENTS: &[&str] = &[
    "gen_ai.tool.call.arguments",
    "ai.toolCall.args",
    "ai.toolCall.input",
    "input.value",
    "traceloop.entity.input",
    "mlflow.spanInputs",
];
const TOOL_RESULT: &[&str] = &[
    "gen_ai.tool.call.result",
    "ai.toolCall.result",
    "ai.toolCall.output",
    "output.value",
    "traceloop.entity.output",
    "mlflow.spanOutputs",
];

pub(crate) fn provider(view: &SpanView<'_>) -> Option<String> {
    let name = view
        .attributes
        .first_text(PROVIDER)
        .or_else(|| view.resource.first_text(&["gen_ai.provider.name", "gen_ai.system"]))?
        .to_ascii_lowercase();
    let without_api = VERCEL_API_SUFFIXES
        .iter()
        .find_map(|suffix| name.strip_suffix(*suffix))
        .map(str::to_string);
    Some(without_api.unwrap_or(name))
}

/// MLflow's autologged model calls name the model in their inputs and outputs.
pub(crate) fn model_in(attributes: &Attributes<'_>, key: &str) -> Option<String> {
    string_field(&attributes.json(key)?, &["model"])
}

/// Traceloop's decorators name their workflow, task, agent or tool in `traceloop.entity.name`.
fn traceloop_entity(attributes: &Attributes<'_>, kind: &str) -> Option<String> {
    let span_kind = attributes.text("traceloop.span.kind")?;
    if span_kind.eq_ignore_ascii_case(kind) {
        attributes.text("traceloop.entity.name")
    } else {
        None
    }
}

pub(crate) fn agent_name(view: &SpanView<'_>, dialects: &[Dialect], operation: Op) -> Option<String> {
    let attributes = &view.attributes;
    let name = &view.span.name;
    attributes
        .first_text(AGENT_NAME)
        .or_else(|| traceloop_entity(attributes, "agent"))
        .or_else(|| name.strip_prefix("invoke_agent ").map(str::to_string))
        .or_else(|| {
            // OpenInference and MLflow agent spans are named after their agent.
            let named_after_agent =
                operation == Op::Agent && (dialects.contains(&Dialect::OpenInference) || dialects.contains(&Dialect::Mlflow));
            named_after_agent.then(|| name.clone())
        })
}

pub(crate) fn workflow_name(attributes: &Attributes<'_>) -> Option<String> {
    attributes
        .first_text(WORKFLOW_NAME)
        .or_else(|| traceloop_entity(attributes, "workflow"))
}

pub(crate) fn prompt(attributes: &Attributes<'_>) -> Option<PromptRef> {
    let mut prompt = PromptRef {
        name: attributes.first_text(PROMPT_NAME),
        version: attributes.first_text(PROMPT_VERSION),
    };
    // MLflow links the prompt versions a span loaded: `[{"name": …, "version": …}]`.
    if let Some(Value::Array(linked)) = attributes.json("mlflow.linkedPrompts") {
        if let Some(first) = linked.first() {
            prompt.name = prompt.name.or_else(|| string_field(first, &["name"]));
            prompt.version = prompt.version.or_else(|| string_field(first, &["version"]));
        }
    }
    (prompt.name.is_some() || prompt.version.is_some()).then_some(prompt)
}

pub(crate) fn finish_reasons(attributes: &Attributes<'_>) -> Vec<String> {
    match attributes.json("gen_ai.response.finish_reasons") {
        Some(Value::Array(reasons)) => reasons.iter().filter_map(|reason| reason.as_str().map(str::to_string)).collect(),
        Some(Value::String(reason)) => vec![reason],
        _ => attributes.text("ai.response.finishReason").into_iter().collect(),
    }
}

// ---------------------------------------------------------------------------
// How it ended, and tools

pub(crate) fn outcome(view: &SpanView<'_>) -> Outcome {
    let attributes = &view.attributes;
    let status = view.span.status.as_ref();
    let status_error = status.is_some_and(|status| status.code == StatusCode::Error as i32);
    let tool_failed = attributes
        .text("tool.status")
        .is_some_and(|status| matches!(status.to_ascii_lowercase().as_str(), "error" | "failed" | "failure" | "fail"));
    let langfuse_error = attributes
        .text("langfuse.observation.level")
        .is_some_and(|level| level.eq_ignore_ascii_case("error"));
    let error_type = attributes.text("error.type");
    if !(status_error || tool_failed || langfuse_error || error_type.is_some()) {
        return Outcome::Ok;
    }
    let message = status
        .map(|status| status.message.trim().to_string())
        .filter(|message| !message.is_empty())
        .or_else(|| attributes.text("langfuse.observation.status_message"))
        .or(error_type);
    Outcome::Error { message }
}

/// The tool call of a tool span; its result only `with_result` (it can be large, and the store does not
/// keep it).
pub(crate) fn tool_call(view: &SpanView<'_>, outcome: &Outcome, with_result: bool) -> ToolCall {
    let attributes = &view.attributes;
    let span_name = &view.span.name;
    ToolCall {
        name: attributes
            .first_text(TOOL_NAME)
            .or_else(|| traceloop_entity(attributes, "tool"))
            .unwrap_or_else(|| span_name.strip_prefix("execute_tool ").unwrap_or(span_name).to_string()),
        call_id: attributes.first_text(TOOL_CALL_ID),
        arguments: attributes.first_text(TOOL_ARGUMENTS),
        result: if with_result { attributes.first_text(TOOL_RESULT) } else { None },
        status: outcome.clone(),
    }
}
