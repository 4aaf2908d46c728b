//! The normalized model of one LLM or agent span, the same whichever convention instrumented it. Names
//! follow the OTel GenAI semantic conventions where they have one.

/// What a span does, in the terms of OTel's `gen_ai.operation.name`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `invoke_agent` / `create_agent`: an agent's run, holding its model calls and tool calls.
    Agent,
    /// A model call: `chat`, `generate_content`, `text_completion`.
    LlmCall,
    Embeddings,
    /// `retrieval`, and rerankers.
    Retrieval,
    /// `execute_tool`.
    Tool,
    /// `invoke_workflow`, chains and tasks: steps that group other spans.
    Workflow,
    /// LLM telemetry that is none of the above: guardrails, evaluators, parsers, untyped spans.
    #[default]
    Other,
}

impl Operation {
    pub const ALL: [Operation; 7] = [
        Operation::Agent,
        Operation::LlmCall,
        Operation::Embeddings,
        Operation::Retrieval,
        Operation::Tool,
        Operation::Workflow,
        Operation::Other,
    ];

    /// The number the store keeps: the index in `ALL`.
    pub fn code(self) -> i64 {
        Operation::ALL.iter().position(|o| *o == self).unwrap_or(Operation::ALL.len() - 1) as i64
    }

    pub fn from_code(code: i64) -> Operation {
        usize::try_from(code)
            .ok()
            .and_then(|i| Operation::ALL.get(i).copied())
            .unwrap_or(Operation::Other)
    }

    /// By its `as_str` name.
    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Agent => "agent",
            Operation::LlmCall => "llm_call",
            Operation::Embeddings => "embeddings",
            Operation::Retrieval => "retrieval",
            Operation::Tool => "tool",
            Operation::Workflow => "workflow",
            Operation::Other => "other",
        }
    }
}

/// An attribute convention of LLM instrumentation libraries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OTel GenAI semantic conventions with their discriminator `gen_ai.operation.name` (v1.27 on), whether
    /// the content is in `gen_ai.input.messages` (v1.37 on) or in per-message events (v1.28 to v1.36).
    OtelGenAi,
    /// OTel GenAI keys without `gen_ai.operation.name`, as instrumentations before v1.27 wrote them:
    /// `gen_ai.system`, `prompt_tokens`, the `gen_ai.content.*` span events.
    OtelGenAiLegacy,
    /// Arize Phoenix's OpenInference: `openinference.span.kind`, `llm.token_count.*`, flattened messages.
    OpenInference,
    /// Traceloop's OpenLLMetry: `traceloop.span.kind`, `llm.request.type`, `gen_ai.prompt.N.*`.
    Traceloop,
    /// MLflow tracing: `mlflow.spanType`, `mlflow.spanInputs`; every value JSON-encoded.
    Mlflow,
    /// Langfuse's OTel keys: `langfuse.observation.*`.
    Langfuse,
    /// The Vercel AI SDK's own telemetry: `ai.operationId`, `ai.usage.*`, `ai.toolCall.*`.
    VercelAiSdk,
    /// Pydantic AI and Logfire: `pydantic_ai.all_messages`, `agent_name`, `operation.cost`.
    PydanticAi,
    /// OpenLIT: OTel GenAI keys plus `gen_ai.usage.cost`, from an SDK naming itself `openlit`.
    OpenLit,
    /// Laminar: `lmnr.span.type`.
    Laminar,
    /// The ad-hoc keys agent-tracing guides recommend: `run_id`, `tool.name`, `llm.model`, `llm.tokens_in`.
    PlainKeys,
}

impl Dialect {
    pub const ALL: [Dialect; 11] = [
        Dialect::OtelGenAi,
        Dialect::OtelGenAiLegacy,
        Dialect::OpenInference,
        Dialect::Traceloop,
        Dialect::Mlflow,
        Dialect::Langfuse,
        Dialect::VercelAiSdk,
        Dialect::PydanticAi,
        Dialect::OpenLit,
        Dialect::Laminar,
        Dialect::PlainKeys,
    ];

    /// Its bit in the set the store keeps: `1 << ` its index in `ALL`.
    pub fn bit(self) -> i64 {
        1 << Dialect::ALL.iter().position(|d| *d == self).unwrap_or(0)
    }

    /// The dialects of a bit set, in `ALL` order.
    pub fn from_bits(bits: i64) -> Vec<Dialect> {
        Dialect::ALL.into_iter().filter(|d| bits & d.bit() != 0).collect()
    }

    /// By its `as_str` name.
    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::OtelGenAi => "otel_genai",
            Dialect::OtelGenAiLegacy => "otel_genai_legacy",
            Dialect::OpenInference => "openinference",
            Dialect::Traceloop => "traceloop",
            Dialect::Mlflow => "mlflow",
            Dialect::Langfuse => "langfuse",
            Dialect::VercelAiSdk => "vercel_ai_sdk",
            Dialect::PydanticAi => "pydantic_ai",
            Dialect::OpenLit => "openlit",
            Dialect::Laminar => "laminar",
            Dialect::PlainKeys => "plain_keys",
        }
    }
}

/// A key a span of a recognised dialect was expected to carry for its operation but does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingKey {
    pub dialect: Dialect,
    pub key: &'static str,
}

/// Token counts under OTel's rule, whatever the source's: `input` includes cache reads and writes,
/// `output` includes reasoning, so `input + output` is the whole call and the other three are parts of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub input: Option<u64>,
    pub output: Option<u64>,
    pub cache_read: Option<u64>,
    pub cache_creation: Option<u64>,
    pub reasoning: Option<u64>,
}

/// A cost the instrumentation itself reported, in USD, and the attribute it came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReportedCost {
    pub usd: f64,
    pub key: &'static str,
}

/// How a span ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Outcome {
    #[default]
    Ok,
    /// From the span's error status, OTel's `error.type`, the plain `tool.status` or Langfuse's `ERROR` level.
    Error { message: Option<String> },
}

/// One execution of a tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCall {
    /// When no key names the tool, the span's name (without OTel's `execute_tool ` prefix).
    pub name: String,
    pub call_id: Option<String>,
    /// As sent; structured values as compact JSON.
    pub arguments: Option<String>,
    pub result: Option<String>,
    /// The span's outcome.
    pub status: Outcome,
}

/// Who a message is from. Providers' synonyms are folded in: `developer` is System, `human` User, `ai` and
/// `model` Assistant, `function` Tool.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
    Other(String),
}

impl Role {
    pub fn from_name(name: &str) -> Role {
        match name.to_ascii_lowercase().as_str() {
            "system" | "developer" => Role::System,
            "user" | "human" => Role::User,
            "assistant" | "ai" | "model" => Role::Assistant,
            "tool" | "function" => Role::Tool,
            _ => Role::Other(name.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::Other(name) => name.as_str(),
        }
    }
}

/// One piece of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Reasoning(String),
    /// A call the model asks for; arguments as sent, structured ones as compact JSON.
    ToolCall {
        id: Option<String>,
        name: String,
        arguments: Option<String>,
    },
    /// What a tool answered, sent back to the model.
    ToolResult {
        id: Option<String>,
        content: String,
    },
    /// Images, audio, files and other media, by their type only: the raw attributes keep the data.
    Other {
        kind: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
    pub finish_reason: Option<String>,
}

impl Message {
    pub(crate) fn text(role: Role, text: &str) -> Message {
        Message {
            role,
            parts: vec![Part::Text(text.to_string())],
            finish_reason: None,
        }
    }
}

/// The content of one model call, as OTel GenAI splits it. System messages sent inside the chat history stay
/// in `input` at their place; `system_instructions` holds only instructions sent apart from it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpanMessages {
    pub system_instructions: Vec<Part>,
    pub input: Vec<Message>,
    pub output: Vec<Message>,
}

impl SpanMessages {
    pub fn is_empty(&self) -> bool {
        self.system_instructions.is_empty() && self.input.is_empty() && self.output.is_empty()
    }

    /// Adds the next piece of the same conversation (per-message events carry one message each).
    pub fn append(&mut self, next: SpanMessages) {
        self.system_instructions.extend(next.system_instructions);
        self.input.extend(next.input);
        self.output.extend(next.output);
    }

    /// Takes each side from `other` where this one has none: how a place that carries content in a lower
    /// precedence (log records after span attributes) completes one with more.
    pub fn fill_missing_from(&mut self, other: SpanMessages) {
        if self.system_instructions.is_empty() {
            self.system_instructions = other.system_instructions;
        }
        if self.input.is_empty() {
            self.input = other.input;
        }
        if self.output.is_empty() {
            self.output = other.output;
        }
    }

    fn has_a_side_to_fill(&self) -> bool {
        self.system_instructions.is_empty() || self.input.is_empty() || self.output.is_empty()
    }

    /// [`SpanMessages::fill_missing_from`] a source only worth reading while some side is still empty.
    pub(crate) fn fill_missing_with(&mut self, source: impl FnOnce() -> SpanMessages) {
        if self.has_a_side_to_fill() {
            self.fill_missing_from(source());
        }
    }
}

/// The managed prompt a call was rendered from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptRef {
    pub name: Option<String>,
    pub version: Option<String>,
}

/// One span of LLM or agent telemetry, normalized.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmSpan {
    pub operation: Operation,
    /// Every convention recognised on the span, the most specific first.
    pub dialects: Vec<Dialect>,
    pub missing_keys: Vec<MissingKey>,
    pub outcome: Outcome,
    /// The resource's `service.name`.
    pub service_name: Option<String>,
    /// Lowercase, as OTel's `gen_ai.provider.name` values: `openai`, `anthropic`, `aws.bedrock`.
    pub provider: Option<String>,
    pub request_model: Option<String>,
    pub response_model: Option<String>,
    pub tokens: TokenUsage,
    pub reported_cost: Option<ReportedCost>,
    /// The agent the span is or runs within.
    pub agent_name: Option<String>,
    pub agent_id: Option<String>,
    pub workflow_name: Option<String>,
    /// OTel's conversation id, or the session id of the conventions that call it so.
    pub conversation_id: Option<String>,
    pub user_id: Option<String>,
    /// The plain `run_id` key.
    pub run_id: Option<String>,
    /// On tool spans only.
    pub tool: Option<ToolCall>,
    pub messages: SpanMessages,
    /// Why the model stopped, also when message content is not recorded.
    pub finish_reasons: Vec<String>,
    pub prompt: Option<PromptRef>,
}
