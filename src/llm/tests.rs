//! Golden spans per dialect, with the keys exactly as each library emits them, normalized field by field;
//! plus the rules that cut across dialects (nothing counted twice, JSON-encoded values, missing keys).

use super::attributes::Attributes;
use super::*;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

// ---------------------------------------------------------------------------
// Fixtures

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(key: &str, text: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(text.to_string()))
}

fn i(key: &str, number: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(number))
}

fn d(key: &str, number: f64) -> KeyValue {
    kv(key, any_value::Value::DoubleValue(number))
}

fn strings(key: &str, texts: &[&str]) -> KeyValue {
    kv(
        key,
        list(texts.iter().map(|text| any_value::Value::StringValue(text.to_string())).collect()),
    )
}

fn list(values: Vec<any_value::Value>) -> any_value::Value {
    any_value::Value::ArrayValue(ArrayValue {
        values: values.into_iter().map(|value| AnyValue { value: Some(value) }).collect(),
    })
}

fn map(entries: Vec<KeyValue>) -> any_value::Value {
    any_value::Value::KvlistValue(KeyValueList { values: entries })
}

fn text_value(text: &str) -> any_value::Value {
    any_value::Value::StringValue(text.to_string())
}

fn span(name: &str, attributes: Vec<KeyValue>) -> Span {
    Span {
        name: name.to_string(),
        attributes,
        ..Default::default()
    }
}

fn with_events(span: Span, events: Vec<Event>) -> Span {
    Span { events, ..span }
}

fn failed(span: Span, message: &str) -> Span {
    Span {
        status: Some(Status {
            code: 2,
            message: message.to_string(),
        }),
        ..span
    }
}

fn event(name: &str, attributes: Vec<KeyValue>) -> Event {
    Event {
        name: name.to_string(),
        attributes,
        ..Default::default()
    }
}

fn service(name: &str) -> Vec<KeyValue> {
    vec![s("service.name", name), s("telemetry.sdk.language", "python")]
}

fn normalized(span: &Span) -> LlmSpan {
    normalize_span(span, &service("agent")).expect("an LLM span")
}

fn some(text: &str) -> Option<String> {
    Some(text.to_string())
}

fn text(content: &str) -> Part {
    Part::Text(content.to_string())
}

fn call(id: &str, name: &str, arguments: &str) -> Part {
    Part::ToolCall {
        id: some(id),
        name: name.to_string(),
        arguments: some(arguments),
    }
}

fn tool_result(id: &str, content: &str) -> Part {
    Part::ToolResult {
        id: some(id),
        content: content.to_string(),
    }
}

fn message(role: Role, parts: Vec<Part>) -> Message {
    Message {
        role,
        parts,
        finish_reason: None,
    }
}

fn says(role: Role, content: &str) -> Message {
    message(role, vec![text(content)])
}

fn finished(message: Message, reason: &str) -> Message {
    Message {
        finish_reason: some(reason),
        ..message
    }
}

fn missing(dialect: Dialect, key: &'static str) -> MissingKey {
    MissingKey { dialect, key }
}

// ---------------------------------------------------------------------------
// OpenTelemetry GenAI, current (v1.37+)

#[test]
fn otel_genai_chat_span_with_json_messages_normalizes_every_field() {
    let chat = span(
        "chat gpt-4o",
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.response.model", "gpt-4o-2024-08-06"),
            s("gen_ai.response.id", "chatcmpl-9"),
            strings("gen_ai.response.finish_reasons", &["stop"]),
            i("gen_ai.usage.input_tokens", 1200),
            i("gen_ai.usage.output_tokens", 300),
            i("gen_ai.usage.cache_read.input_tokens", 1000),
            i("gen_ai.usage.cache_creation.input_tokens", 150),
            i("gen_ai.usage.reasoning.output_tokens", 120),
            s("gen_ai.conversation.id", "conv-7"),
            s("gen_ai.agent.name", "weather-agent"),
            s("gen_ai.agent.id", "agent-1"),
            s("gen_ai.prompt.name", "weather"),
            s("gen_ai.system_instructions", r#"[{"type":"text","content":"You are terse."}]"#),
            s(
                "gen_ai.input.messages",
                r#"[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]},{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}]},{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","response":"rainy, 14°C"}]}]"#,
            ),
            s(
                "gen_ai.output.messages",
                r#"[{"role":"assistant","parts":[{"type":"text","content":"Rainy, 14°C."}],"finish_reason":"stop"}]"#,
            ),
        ],
    );
    assert_eq!(
        normalized(&chat),
        LlmSpan {
            operation: Operation::LlmCall,
            dialects: vec![Dialect::OtelGenAi],
            service_name: some("agent"),
            provider: some("openai"),
            request_model: some("gpt-4o"),
            response_model: some("gpt-4o-2024-08-06"),
            tokens: TokenUsage {
                input: Some(1200),
                output: Some(300),
                cache_read: Some(1000),
                cache_creation: Some(150),
                reasoning: Some(120),
            },
            agent_name: some("weather-agent"),
            agent_id: some("agent-1"),
            conversation_id: some("conv-7"),
            messages: SpanMessages {
                system_instructions: vec![text("You are terse.")],
                input: vec![
                    says(Role::User, "Weather in Paris?"),
                    message(Role::Assistant, vec![call("call_1", "get_weather", r#"{"city":"Paris"}"#)]),
                    message(Role::Tool, vec![tool_result("call_1", "rainy, 14°C")]),
                ],
                output: vec![finished(says(Role::Assistant, "Rainy, 14°C."), "stop")],
            },
            finish_reasons: vec!["stop".to_string()],
            prompt: Some(PromptRef {
                name: some("weather"),
                version: None,
            }),
            ..LlmSpan::default()
        }
    );
}

#[test]
fn otel_genai_execute_tool_span_reads_the_tool_call() {
    let tool = span(
        "execute_tool get_weather",
        vec![
            s("gen_ai.operation.name", "execute_tool"),
            s("gen_ai.tool.name", "get_weather"),
            s("gen_ai.tool.type", "function"),
            s("gen_ai.tool.call.id", "call_1"),
            s("gen_ai.tool.call.arguments", r#"{"city":"Paris"}"#),
            s("gen_ai.tool.call.result", "rainy, 14°C"),
            s("gen_ai.conversation.id", "conv-7"),
        ],
    );
    assert_eq!(
        normalized(&tool),
        LlmSpan {
            operation: Operation::Tool,
            dialects: vec![Dialect::OtelGenAi],
            service_name: some("agent"),
            conversation_id: some("conv-7"),
            tool: Some(ToolCall {
                name: "get_weather".to_string(),
                call_id: some("call_1"),
                arguments: some(r#"{"city":"Paris"}"#),
                result: some("rainy, 14°C"),
                status: Outcome::Ok,
            }),
            ..LlmSpan::default()
        }
    );
}

#[test]
fn otel_genai_span_with_truncated_input_messages_keeps_the_complete_ones() {
    let cut = r#"[{"role":"user","parts":[{"type":"text","content":"First question"}]},{"role":"assistant","parts":[{"type":"text","content":"First ans"#;
    let chat = span(
        "chat gpt-4o",
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.input.messages", cut),
        ],
    );
    assert_eq!(normalized(&chat).messages.input, vec![says(Role::User, "First question")]);
}

// ---------------------------------------------------------------------------
// OpenTelemetry GenAI, older forms

#[test]
fn otel_genai_legacy_span_with_content_events_normalizes_every_field() {
    let chat = with_events(
        span(
            "chat gpt-4o-mini",
            vec![
                s("gen_ai.system", "openai"),
                s("gen_ai.request.model", "gpt-4o-mini"),
                s("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                i("gen_ai.usage.prompt_tokens", 42),
                i("gen_ai.usage.completion_tokens", 7),
                strings("gen_ai.response.finish_reasons", &["stop"]),
            ],
        ),
        vec![
            event(
                "gen_ai.content.prompt",
                vec![s(
                    "gen_ai.prompt",
                    r#"[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]"#,
                )],
            ),
            event(
                "gen_ai.content.completion",
                vec![s("gen_ai.completion", r#"[{"role":"assistant","content":"Hello!"}]"#)],
            ),
        ],
    );
    assert_eq!(
        normalized(&chat),
        LlmSpan {
            operation: Operation::LlmCall,
            dialects: vec![Dialect::OtelGenAiLegacy],
            service_name: some("agent"),
            provider: some("openai"),
            request_model: some("gpt-4o-mini"),
            response_model: some("gpt-4o-mini-2024-07-18"),
            tokens: TokenUsage {
                input: Some(42),
                output: Some(7),
                ..TokenUsage::default()
            },
            messages: SpanMessages {
                system_instructions: Vec::new(),
                input: vec![says(Role::System, "Be brief."), says(Role::User, "Hi")],
                output: vec![says(Role::Assistant, "Hello!")],
            },
            finish_reasons: vec!["stop".to_string()],
            ..LlmSpan::default()
        }
    );
}

fn log_record(event_name: &str, body: any_value::Value) -> LogRecord {
    LogRecord {
        event_name: event_name.to_string(),
        body: Some(AnyValue { value: Some(body) }),
        attributes: vec![s("gen_ai.system", "openai")],
        ..Default::default()
    }
}

#[test]
fn per_message_log_records_carry_roles_tool_calls_results_and_choices() {
    let input = |messages: Vec<Message>| SpanMessages {
        input: messages,
        ..SpanMessages::default()
    };
    assert_eq!(
        messages_from_log(&log_record("gen_ai.system.message", map(vec![s("content", "Be brief.")]))),
        input(vec![says(Role::System, "Be brief.")])
    );
    assert_eq!(
        messages_from_log(&log_record("gen_ai.user.message", map(vec![s("content", "Weather in Paris?")]))),
        input(vec![says(Role::User, "Weather in Paris?")])
    );
    let tool_calls = map(vec![kv(
        "tool_calls",
        list(vec![map(vec![
            s("id", "call_1"),
            s("type", "function"),
            kv(
                "function",
                map(vec![s("name", "get_weather"), s("arguments", r#"{"city":"Paris"}"#)]),
            ),
        ])]),
    )]);
    assert_eq!(
        messages_from_log(&log_record("gen_ai.assistant.message", tool_calls)),
        input(vec![message(
            Role::Assistant,
            vec![call("call_1", "get_weather", r#"{"city":"Paris"}"#)]
        )])
    );
    assert_eq!(
        messages_from_log(&log_record(
            "gen_ai.tool.message",
            map(vec![s("content", "rainy, 14°C"), s("id", "call_1")])
        )),
        input(vec![message(Role::Tool, vec![tool_result("call_1", "rainy, 14°C")])])
    );
    let choice = map(vec![
        i("index", 0),
        s("finish_reason", "stop"),
        kv("message", map(vec![s("content", "Rainy, 14°C.")])),
    ]);
    assert_eq!(
        messages_from_log(&log_record("gen_ai.choice", choice)),
        SpanMessages {
            output: vec![finished(says(Role::Assistant, "Rainy, 14°C."), "stop")],
            ..SpanMessages::default()
        }
    );
}

#[test]
fn log_records_named_by_the_older_event_name_attribute_are_read_too() {
    let record = LogRecord {
        attributes: vec![s("event.name", "gen_ai.user.message"), s("gen_ai.system", "openai")],
        body: Some(AnyValue {
            value: Some(map(vec![s("content", "Hi")])),
        }),
        ..Default::default()
    };
    assert_eq!(messages_from_log(&record).input, vec![says(Role::User, "Hi")]);
}

#[test]
fn inference_details_log_record_carries_the_whole_call_structured_or_as_json() {
    let record = LogRecord {
        event_name: "gen_ai.client.inference.operation.details".to_string(),
        attributes: vec![
            s("gen_ai.operation.name", "chat"),
            kv(
                "gen_ai.input.messages",
                list(vec![map(vec![
                    s("role", "user"),
                    kv("parts", list(vec![map(vec![s("type", "text"), s("content", "Hi")])])),
                ])]),
            ),
            s(
                "gen_ai.output.messages",
                r#"[{"role":"assistant","parts":[{"type":"text","content":"Hello!"}],"finish_reason":"stop"}]"#,
            ),
            s("gen_ai.system_instructions", r#"[{"type":"text","content":"Be brief."}]"#),
        ],
        ..Default::default()
    };
    assert_eq!(
        messages_from_log(&record),
        SpanMessages {
            system_instructions: vec![text("Be brief.")],
            input: vec![says(Role::User, "Hi")],
            output: vec![finished(says(Role::Assistant, "Hello!"), "stop")],
        }
    );
}

#[test]
fn log_records_that_are_not_genai_events_carry_no_messages() {
    let record = LogRecord {
        body: Some(AnyValue {
            value: Some(text_value("GET /users 200")),
        }),
        ..Default::default()
    };
    assert!(messages_from_log(&record).is_empty());
}

#[test]
fn messages_from_logs_fill_only_what_the_span_left_empty() {
    let mut from_span = SpanMessages {
        input: vec![says(Role::User, "Hi")],
        ..SpanMessages::default()
    };
    let mut from_logs = messages_from_log(&log_record("gen_ai.user.message", map(vec![s("content", "Hi (log)")])));
    from_logs.append(messages_from_log(&log_record(
        "gen_ai.choice",
        map(vec![kv("message", map(vec![s("content", "Hello!")]))]),
    )));
    from_span.fill_missing_from(from_logs);
    assert_eq!(
        from_span,
        SpanMessages {
            system_instructions: Vec::new(),
            input: vec![says(Role::User, "Hi")],
            output: vec![says(Role::Assistant, "Hello!")],
        }
    );
}

// ---------------------------------------------------------------------------
// OpenInference

#[test]
fn openinference_llm_span_with_flattened_messages_normalizes_every_field() {
    let chat = span(
        "ChatCompletion",
        vec![
            s("openinference.span.kind", "LLM"),
            s("llm.system", "openai"),
            s("llm.provider", "openai"),
            s("llm.model_name", "gpt-4o-mini-2024-07-18"),
            s("llm.invocation_parameters", r#"{"temperature": 0}"#),
            s("input.value", r#"{"model": "gpt-4o-mini", "messages": []}"#),
            s("input.mime_type", "application/json"),
            i("llm.token_count.prompt", 1500),
            i("llm.token_count.completion", 220),
            i("llm.token_count.total", 1720),
            i("llm.token_count.prompt_details.cache_read", 1024),
            i("llm.token_count.completion_details.reasoning", 64),
            d("llm.cost.total", 0.000456),
            s("llm.input_messages.0.message.role", "system"),
            s("llm.input_messages.0.message.content", "You search the docs."),
            s("llm.input_messages.1.message.role", "user"),
            s("llm.input_messages.1.message.contents.0.message_content.type", "text"),
            s("llm.input_messages.1.message.contents.0.message_content.text", "Find the OTel docs"),
            s("llm.input_messages.1.message.contents.1.message_content.type", "image"),
            s(
                "llm.input_messages.1.message.contents.1.message_content.image.image.url",
                "https://example.com/a.png",
            ),
            s("llm.output_messages.0.message.role", "assistant"),
            s("llm.output_messages.0.message.tool_calls.0.tool_call.id", "call_9"),
            s("llm.output_messages.0.message.tool_calls.0.tool_call.function.name", "search"),
            s(
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
                r#"{"q":"otel"}"#,
            ),
            s("session.id", "sess-1"),
            s("user.id", "user-1"),
            s("llm.prompt_template.version", "v3"),
        ],
    );
    assert_eq!(
        normalized(&chat),
        LlmSpan {
            operation: Operation::LlmCall,
            dialects: vec![Dialect::OpenInference],
            service_name: some("agent"),
            provider: some("openai"),
            request_model: some("gpt-4o-mini-2024-07-18"),
            tokens: TokenUsage {
                input: Some(1500),
                output: Some(220),
                cache_read: Some(1024),
                cache_creation: None,
                reasoning: Some(64),
            },
            reported_cost: Some(ReportedCost {
                usd: 0.000456,
                key: "llm.cost.total",
            }),
            conversation_id: some("sess-1"),
            user_id: some("user-1"),
            messages: SpanMessages {
                system_instructions: Vec::new(),
                input: vec![
                    says(Role::System, "You search the docs."),
                    message(
                        Role::User,
                        vec![text("Find the OTel docs"), Part::Other { kind: "image".to_string() },],
                    ),
                ],
                output: vec![message(Role::Assistant, vec![call("call_9", "search", r#"{"q":"otel"}"#)])],
            },
            prompt: Some(PromptRef {
                name: None,
                version: some("v3"),
            }),
            ..LlmSpan::default()
        }
    );
}

#[test]
fn openinference_tool_span_with_error_status_is_a_failed_tool_call() {
    let tool = failed(
        span(
            "search",
            vec![
                s("openinference.span.kind", "TOOL"),
                s("tool.name", "search"),
                s("tool.description", "Searches the docs"),
                s("tool.parameters", r#"{"type":"object","properties":{"q":{"type":"string"}}}"#),
                s("input.value", r#"{"q":"otel"}"#),
                s("input.mime_type", "application/json"),
                s("session.id", "sess-1"),
            ],
        ),
        "search backend timed out",
    );
    let failure = Outcome::Error {
        message: some("search backend timed out"),
    };
    assert_eq!(
        normalized(&tool),
        LlmSpan {
            operation: Operation::Tool,
            dialects: vec![Dialect::OpenInference],
            outcome: failure.clone(),
            service_name: some("agent"),
            conversation_id: some("sess-1"),
            tool: Some(ToolCall {
                name: "search".to_string(),
                call_id: None,
                arguments: some(r#"{"q":"otel"}"#),
                result: None,
                status: failure,
            }),
            ..LlmSpan::default()
        }
    );
}

#[test]
fn openinference_kind_the_model_does_not_map_is_other_even_with_model_keys() {
    let guardrail = span(
        "moderation",
        vec![
            s("openinference.span.kind", "GUARDRAIL"),
            s("llm.model_name", "omni-moderation-latest"),
        ],
    );
    assert_eq!(normalized(&guardrail).operation, Operation::Other);
}

#[test]
fn openinference_agent_span_is_named_after_its_agent() {
    let agent = span(
        "weather_agent",
        vec![
            s("openinference.span.kind", "AGENT"),
            s("input.value", "Weather in Paris?"),
            s("output.value", "Rainy."),
        ],
    );
    assert_eq!(
        normalized(&agent),
        LlmSpan {
            operation: Operation::Agent,
            dialects: vec![Dialect::OpenInference],
            service_name: some("agent"),
            agent_name: some("weather_agent"),
            ..LlmSpan::default()
        }
    );
}

// ---------------------------------------------------------------------------
// Traceloop / OpenLLMetry

#[test]
fn traceloop_llm_span_with_flattened_prompt_and_completion_normalizes_every_field() {
    let chat = span(
        "openai.chat",
        vec![
            s("llm.request.type", "chat"),
            s("gen_ai.system", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.response.model", "gpt-4o-2024-08-06"),
            i("gen_ai.usage.prompt_tokens", 2300),
            i("gen_ai.usage.completion_tokens", 45),
            i("llm.usage.total_tokens", 2345),
            i("gen_ai.usage.cache_read_input_tokens", 2048),
            s("traceloop.workflow.name", "trip_planner"),
            s("traceloop.entity.path", "plan_trip"),
            s("traceloop.association.properties.session_id", "sess-42"),
            s("traceloop.association.properties.user_id", "user-7"),
            s("traceloop.prompt.key", "planner"),
            i("traceloop.prompt.version", 3),
            s("gen_ai.prompt.0.role", "system"),
            s("gen_ai.prompt.0.content", "Plan trips."),
            s("gen_ai.prompt.1.role", "user"),
            s("gen_ai.prompt.1.content", "Two days in Lyon"),
            s("gen_ai.completion.0.role", "assistant"),
            s("gen_ai.completion.0.finish_reason", "tool_calls"),
            s("gen_ai.completion.0.tool_calls.0.id", "call_3"),
            s("gen_ai.completion.0.tool_calls.0.name", "find_hotels"),
            s("gen_ai.completion.0.tool_calls.0.arguments", r#"{"city":"Lyon"}"#),
        ],
    );
    assert_eq!(
        normalized(&chat),
        LlmSpan {
            operation: Operation::LlmCall,
            dialects: vec![Dialect::Traceloop],
            service_name: some("agent"),
            provider: some("openai"),
            request_model: some("gpt-4o"),
            response_model: some("gpt-4o-2024-08-06"),
            tokens: TokenUsage {
                input: Some(2300),
                output: Some(45),
                cache_read: Some(2048),
                ..TokenUsage::default()
            },
            workflow_name: some("trip_planner"),
            conversation_id: some("sess-42"),
            user_id: some("user-7"),
            messages: SpanMessages {
                system_instructions: Vec::new(),
                input: vec![says(Role::System, "Plan trips."), says(Role::User, "Two days in Lyon")],
                output: vec![finished(
                    message(Role::Assistant, vec![call("call_3", "find_hotels", r#"{"city":"Lyon"}"#)]),
                    "tool_calls",
                )],
            },
            finish_reasons: vec!["tool_calls".to_string()],
            prompt: Some(PromptRef {
                name: some("planner"),
                version: some("3"),
            }),
            ..LlmSpan::default()
        }
    );
}

#[test]
fn traceloop_decorated_tool_and_agent_spans_take_their_entity_name() {
    let tool = span(
        "get_weather.tool",
        vec![
            s("traceloop.span.kind", "tool"),
            s("traceloop.entity.name", "get_weather"),
            s("traceloop.entity.path", "plan_trip.weather_agent"),
            s("traceloop.workflow.name", "trip_planner"),
            s("traceloop.entity.input", r#"{"args": [], "kwargs": {"city": "Lyon"}}"#),
            s("traceloop.entity.output", r#""sunny""#),
        ],
    );
    assert_eq!(
        normalized(&tool),
        LlmSpan {
            operation: Operation::Tool,
            dialects: vec![Dialect::Traceloop],
            service_name: some("agent"),
            workflow_name: some("trip_planner"),
            tool: Some(ToolCall {
                name: "get_weather".to_string(),
                call_id: None,
                arguments: some(r#"{"args": [], "kwargs": {"city": "Lyon"}}"#),
                result: some("sunny"),
                status: Outcome::Ok,
            }),
            ..LlmSpan::default()
        }
    );
    let agent = span(
        "weather_agent.agent",
        vec![
            s("traceloop.span.kind", "agent"),
            s("traceloop.entity.name", "weather_agent"),
            s("traceloop.workflow.name", "trip_planner"),
        ],
    );
    assert_eq!(
        normalized(&agent),
        LlmSpan {
            operation: Operation::Agent,
            dialects: vec![Dialect::Traceloop],
            service_name: some("agent"),
            agent_name: some("weather_agent"),
            workflow_name: some("trip_planner"),
            ..LlmSpan::default()
        }
    );
}

// ---------------------------------------------------------------------------
// MLflow (every value JSON-encoded)

#[test]
fn mlflow_chat_model_span_with_json_encoded_values_normalizes_every_field() {
    let chat = span(
        "Completions",
        vec![
            s("mlflow.traceRequestId", r#""tr-4bf92f3577b34da6a3ce929d0e0e4736""#),
            s("mlflow.spanType", r#""CHAT_MODEL""#),
            s("mlflow.spanFunctionName", r#""create""#),
            s(
                "mlflow.spanInputs",
                r#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "model": "gpt-4o-mini", "temperature": 0}"#,
            ),
            s(
                "mlflow.spanOutputs",
                r#"{"id": "chatcmpl-1", "model": "gpt-4o-mini-2024-07-18", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23}}"#,
            ),
            s(
                "mlflow.chat.tokenUsage",
                r#"{"input_tokens": 20, "output_tokens": 3, "total_tokens": 23}"#,
            ),
            s("mlflow.llm.model", r#""gpt-4o-mini""#),
            s("mlflow.llm.provider", r#""openai""#),
            s(
                "mlflow.llm.cost",
                r#"{"input_cost": 3e-06, "output_cost": 1.8e-06, "total_cost": 4.8e-06}"#,
            ),
            s("mlflow.message.format", r#""openai""#),
            s("run_id", r#""run-42""#),
        ],
    );
    assert_eq!(
        normalized(&chat),
        LlmSpan {
            operation: Operation::LlmCall,
            dialects: vec![Dialect::Mlflow],
            service_name: some("agent"),
            provider: some("openai"),
            request_model: some("gpt-4o-mini"),
            response_model: some("gpt-4o-mini-2024-07-18"),
            tokens: TokenUsage {
                input: Some(20),
                output: Some(3),
                ..TokenUsage::default()
            },
            reported_cost: Some(ReportedCost {
                usd: 4.8e-06,
                key: "mlflow.llm.cost",
            }),
            run_id: some("run-42"),
            messages: SpanMessages {
                system_instructions: Vec::new(),
                input: vec![says(Role::System, "Be brief."), says(Role::User, "Hi")],
                output: vec![finished(says(Role::Assistant, "Hello!"), "stop")],
            },
            finish_reasons: vec!["stop".to_string()],
            ..LlmSpan::default()
        }
    );
}

#[test]
fn mlflow_tool_and_agent_spans_are_named_after_their_function() {
    let tool = span(
        "get_weather",
        vec![
            s("mlflow.spanType", r#""TOOL""#),
            s("mlflow.spanFunctionName", r#""get_weather""#),
            s("mlflow.spanInputs", r#"{"city": "Paris"}"#),
            s("mlflow.spanOutputs", r#""rainy""#),
        ],
    );
    assert_eq!(
        normalized(&tool),
        LlmSpan {
            operation: Operation::Tool,
            dialects: vec![Dialect::Mlflow],
            service_name: some("agent"),
            tool: Some(ToolCall {
                name: "get_weather".to_string(),
                call_id: None,
                arguments: some(r#"{"city": "Paris"}"#),
                result: some("rainy"),
                status: Outcome::Ok,
            }),
            ..LlmSpan::default()
        }
    );
    let agent = span(
        "planner",
        vec![
            s("mlflow.spanType", r#""AGENT""#),
            s("mlflow.spanInputs", r#"{"question": "Weather?"}"#),
        ],
    );
    let agent = normalized(&agent);
    assert_eq!((agent.operation, agent.agent_name), (Operation::Agent, some("planner")));
}

#[test]
fn json_encoded_values_read_as_their_content() {
    let sent = [
        s("quoted", r#""gpt-4o""#),
        s("plain", "gpt-4o"),
        s("quoted empty", r#""""#),
        s("null", "null"),
        s("quoted count", r#""17""#),
        s("count as double", "17.0"),
        s("negative", "-5"),
        s("doubly encoded", r#""{\"k\": 1}""#),
        s("unterminated", r#""gpt"#),
    ];
    let attributes = Attributes::new(&sent);
    assert_eq!(attributes.text("quoted"), some("gpt-4o"));
    assert_eq!(attributes.text("plain"), some("gpt-4o"));
    assert_eq!(attributes.text("quoted empty"), None);
    assert_eq!(attributes.text("null"), None);
    assert_eq!(attributes.count("quoted count"), Some(17));
    assert_eq!(attributes.count("count as double"), Some(17));
    assert_eq!(attributes.count("negative"), None);
    assert_eq!(attributes.json("doubly encoded"), Some(serde_json::json!({"k": 1})));
    assert_eq!(attributes.text("unterminated"), some(r#""gpt"#));
}

// ---------------------------------------------------------------------------
// Langfuse

#[test]
fn langfuse_generation_normalizes_every_field_adding_up_its_disjoint_usage_types() {
    let generation = span(
        "summarize",
        vec![
            s("langfuse.observation.type", "generation"),
            s("langfuse.observation.model.name", "claude-sonnet-4"),
            s(
                "langfuse.observation.usage_details",
                r#"{"input": 20, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200, "output": 150, "total": 1370}"#,
            ),
            s(
                "langfuse.observation.cost_details",
                r#"{"input": 0.00006, "output": 0.00225, "total": 0.00231}"#,
            ),
            s("langfuse.observation.prompt.name", "summarizer"),
            i("langfuse.observation.prompt.version", 2),
            s(
                "langfuse.observation.input",
                r#"[{"role":"user","content":"Summarize the report"}]"#,
            ),
            s(
                "langfuse.observation.output",
                r#"{"role":"assistant","content":"Revenue grew 8%."}"#,
            ),
            s("langfuse.session.id", "sess-3"),
            s("langfuse.user.id", "user-9"),
            s("langfuse.environment", "production"),
        ],
    );
    assert_eq!(
        normalized(&generation),
        LlmSpan {
            operation: Operation::LlmCall,
            dialects: vec![Dialect::Langfuse],
            service_name: some("agent"),
            request_model: some("claude-sonnet-4"),
            tokens: TokenUsage {
                input: Some(1220),
                output: Some(150),
                cache_read: Some(1000),
                cache_creation: Some(200),
                reasoning: None,
            },
            reported_cost: Some(ReportedCost {
                usd: 0.00231,
                key: "langfuse.observation.cost_details",
            }),
            conversation_id: some("sess-3"),
            user_id: some("user-9"),
            messages: SpanMessages {
                system_instructions: Vec::new(),
                input: vec![says(Role::User, "Summarize the report")],
                output: vec![says(Role::Assistant, "Revenue grew 8%.")],
            },
            prompt: Some(PromptRef {
                name: some("summarizer"),
                version: some("2"),
            }),
            ..LlmSpan::default()
        }
    );
}

// ---------------------------------------------------------------------------
// Vercel AI SDK (`ai.*`, its legacy OpenTelemetry integration)

#[test]
fn vercel_model_call_span_normalizes_every_field_once_despite_its_gen_ai_twins() {
    let model_call = span(
        "ai.generateText.doGenerate",
        vec![
            s("operation.name", "ai.generateText.doGenerate weather-agent"),
            s("ai.operationId", "ai.generateText.doGenerate"),
            s("ai.model.id", "gpt-4o"),
            s("ai.model.provider", "openai.chat"),
            s("ai.telemetry.functionId", "weather-agent"),
            s("ai.telemetry.metadata.sessionId", "sess-9"),
            s("ai.telemetry.metadata.userId", "user-2"),
            s(
                "ai.prompt.messages",
                r#"[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Weather in Paris?"}]}]"#,
            ),
            s(
                "ai.response.toolCalls",
                r#"[{"toolCallId":"call_1","toolName":"weather","input":{"city":"Paris"}}]"#,
            ),
            s("ai.response.finishReason", "tool-calls"),
            s("ai.response.model", "gpt-4o-2024-08-06"),
            i("ai.usage.inputTokens", 1200),
            i("ai.usage.outputTokens", 20),
            i("ai.usage.cachedInputTokens", 1024),
            i("ai.usage.inputTokenDetails.cacheReadTokens", 1024),
            i("ai.usage.inputTokenDetails.noCacheTokens", 176),
            s("gen_ai.system", "openai.chat"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.response.model", "gpt-4o-2024-08-06"),
            strings("gen_ai.response.finish_reasons", &["tool-calls"]),
            i("gen_ai.usage.input_tokens", 1200),
            i("gen_ai.usage.output_tokens", 20),
        ],
    );
    assert_eq!(
        normalized(&model_call),
        LlmSpan {
            operation: Operation::LlmCall,
            dialects: vec![Dialect::VercelAiSdk],
            service_name: some("agent"),
            provider: some("openai"),
            request_model: some("gpt-4o"),
            response_model: some("gpt-4o-2024-08-06"),
            tokens: TokenUsage {
                input: Some(1200),
                output: Some(20),
                cache_read: Some(1024),
                ..TokenUsage::default()
            },
            agent_name: some("weather-agent"),
            conversation_id: some("sess-9"),
            user_id: some("user-2"),
            messages: SpanMessages {
                system_instructions: Vec::new(),
                input: vec![says(Role::System, "Be brief."), says(Role::User, "Weather in Paris?")],
                output: vec![finished(
                    message(Role::Assistant, vec![call("call_1", "weather", r#"{"city":"Paris"}"#)]),
                    "tool-calls",
                )],
            },
            finish_reasons: vec!["tool-calls".to_string()],
            ..LlmSpan::default()
        }
    );
}

#[test]
fn vercel_generate_text_span_is_the_agent_loop_with_its_prompt_and_answer() {
    let generate = span(
        "ai.generateText",
        vec![
            s("operation.name", "ai.generateText weather-agent"),
            s("ai.operationId", "ai.generateText"),
            s("ai.model.id", "gpt-4o"),
            s("ai.model.provider", "openai.chat"),
            s("ai.telemetry.functionId", "weather-agent"),
            s("ai.prompt", r#"{"system":"Be brief.","prompt":"Weather in Paris?"}"#),
            s("ai.response.text", "Rainy, 14°C."),
            s("ai.response.finishReason", "stop"),
            i("ai.usage.promptTokens", 2400),
            i("ai.usage.completionTokens", 45),
        ],
    );
    assert_eq!(
        normalized(&generate),
        LlmSpan {
            operation: Operation::Agent,
            dialects: vec![Dialect::VercelAiSdk],
            service_name: some("agent"),
            provider: some("openai"),
            request_model: some("gpt-4o"),
            tokens: TokenUsage {
                input: Some(2400),
                output: Some(45),
                ..TokenUsage::default()
            },
            agent_name: some("weather-agent"),
            messages: SpanMessages {
                system_instructions: vec![text("Be brief.")],
                input: vec![says(Role::User, "Weather in Paris?")],
                output: vec![finished(says(Role::Assistant, "Rainy, 14°C."), "stop")],
            },
            finish_reasons: vec!["stop".to_string()],
            ..LlmSpan::default()
        }
    );
}

#[test]
fn vercel_tool_call_span_reads_the_tool_call() {
    let tool = span(
        "ai.toolCall",
        vec![
            s("operation.name", "ai.toolCall"),
            s("ai.operationId", "ai.toolCall"),
            s("ai.toolCall.name", "weather"),
            s("ai.toolCall.id", "call_1"),
            s("ai.toolCall.args", r#"{"city":"Paris"}"#),
            s("ai.toolCall.result", r#"{"forecast":"rainy"}"#),
        ],
    );
    assert_eq!(
        normalized(&tool),
        LlmSpan {
            operation: Operation::Tool,
            dialects: vec![Dialect::VercelAiSdk],
            service_name: some("agent"),
            tool: Some(ToolCall {
                name: "weather".to_string(),
                call_id: some("call_1"),
                arguments: some(r#"{"city":"Paris"}"#),
                result: some(r#"{"forecast":"rainy"}"#),
                status: Outcome::Ok,
            }),
            ..LlmSpan::default()
        }
    );
}

// ---------------------------------------------------------------------------
// Pydantic AI / Logfire

#[test]
fn pydantic_ai_agent_run_splits_its_history_into_input_and_final_answer() {
    let run = span(
        "agent run",
        vec![
            s("model_name", "gpt-4o"),
            s("agent_name", "weather_agent"),
            s("gen_ai.agent.name", "weather_agent"),
            s("logfire.msg", "weather_agent run"),
            i("gen_ai.usage.input_tokens", 3100),
            i("gen_ai.usage.output_tokens", 80),
            s(
                "pydantic_ai.all_messages",
                r#"[{"role":"system","parts":[{"type":"text","content":"Be brief."}]},{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]},{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}]},{"role":"user","parts":[{"type":"tool_call_response","id":"call_1","name":"get_weather","result":"rainy"}]},{"role":"assistant","parts":[{"type":"text","content":"Rainy."}],"finish_reason":"stop"}]"#,
            ),
            s("final_result", "Rainy."),
        ],
    );
    assert_eq!(
        normalized(&run),
        LlmSpan {
            operation: Operation::Agent,
            dialects: vec![Dialect::PydanticAi],
            service_name: some("agent"),
            request_model: some("gpt-4o"),
            tokens: TokenUsage {
                input: Some(3100),
                output: Some(80),
                ..TokenUsage::default()
            },
            agent_name: some("weather_agent"),
            messages: SpanMessages {
                system_instructions: Vec::new(),
                input: vec![
                    says(Role::System, "Be brief."),
                    says(Role::User, "Weather in Paris?"),
                    message(Role::Assistant, vec![call("call_1", "get_weather", r#"{"city":"Paris"}"#)]),
                    message(Role::User, vec![tool_result("call_1", "rainy")]),
                ],
                output: vec![finished(says(Role::Assistant, "Rainy."), "stop")],
            },
            finish_reasons: vec!["stop".to_string()],
            ..LlmSpan::default()
        }
    );
}

#[test]
fn pydantic_ai_model_request_reports_logfire_cost() {
    let request = span(
        "chat gpt-4o",
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.system", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.response.model", "gpt-4o-2024-08-06"),
            i("gen_ai.usage.input_tokens", 1500),
            i("gen_ai.usage.output_tokens", 40),
            d("operation.cost", 0.00415),
            s("gen_ai.system_instructions", r#"[{"type":"text","content":"Be brief."}]"#),
            s(
                "gen_ai.input.messages",
                r#"[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]"#,
            ),
            s(
                "gen_ai.output.messages",
                r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}],"finish_reason":"tool_call"}]"#,
            ),
        ],
    );
    assert_eq!(
        normalized(&request),
        LlmSpan {
            operation: Operation::LlmCall,
            dialects: vec![Dialect::OtelGenAi, Dialect::PydanticAi],
            service_name: some("agent"),
            provider: some("openai"),
            request_model: some("gpt-4o"),
            response_model: some("gpt-4o-2024-08-06"),
            tokens: TokenUsage {
                input: Some(1500),
                output: Some(40),
                ..TokenUsage::default()
            },
            reported_cost: Some(ReportedCost {
                usd: 0.00415,
                key: "operation.cost",
            }),
            messages: SpanMessages {
                system_instructions: vec![text("Be brief.")],
                input: vec![says(Role::User, "Weather in Paris?")],
                output: vec![finished(
                    message(Role::Assistant, vec![call("call_1", "get_weather", r#"{"city":"Paris"}"#)]),
                    "tool_call",
                )],
            },
            finish_reasons: vec!["tool_call".to_string()],
            ..LlmSpan::default()
        }
    );
}

#[test]
fn logfire_v1_event_lists_read_as_messages() {
    let request = span(
        "chat gpt-4o",
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.system", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            s(
                "events",
                r#"[{"event.name":"gen_ai.system.message","content":"Be brief.","role":"system"},{"event.name":"gen_ai.user.message","content":"Hi","role":"user"},{"event.name":"gen_ai.choice","index":0,"message":{"role":"assistant","content":"Hello!"}}]"#,
            ),
        ],
    );
    assert_eq!(
        normalized(&request).messages,
        SpanMessages {
            system_instructions: Vec::new(),
            input: vec![says(Role::System, "Be brief."), says(Role::User, "Hi")],
            output: vec![says(Role::Assistant, "Hello!")],
        }
    );
}

// ---------------------------------------------------------------------------
// OpenLIT

#[test]
fn openlit_span_normalizes_every_field_with_its_reported_cost_and_text_events() {
    let chat = with_events(
        span(
            "chat gpt-4o-mini",
            vec![
                s("telemetry.sdk.name", "openlit"),
                s("gen_ai.operation.name", "chat"),
                s("gen_ai.system", "openai"),
                s("gen_ai.request.model", "gpt-4o-mini"),
                s("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                i("gen_ai.usage.input_tokens", 12),
                i("gen_ai.usage.output_tokens", 30),
                i("gen_ai.usage.total_tokens", 42),
                d("gen_ai.usage.cost", 0.0000198),
                strings("gen_ai.response.finish_reasons", &["stop"]),
            ],
        ),
        vec![
            event("gen_ai.content.prompt", vec![s("gen_ai.prompt", "user: What is OpenTelemetry?")]),
            event(
                "gen_ai.content.completion",
                vec![s("gen_ai.completion", "An observability framework.")],
            ),
        ],
    );
    let resource = [s("service.name", "docs-bot"), s("telemetry.sdk.name", "openlit")];
    assert_eq!(
        normalize_span(&chat, &resource),
        Some(LlmSpan {
            operation: Operation::LlmCall,
            dialects: vec![Dialect::OtelGenAi, Dialect::OpenLit],
            service_name: some("docs-bot"),
            provider: some("openai"),
            request_model: some("gpt-4o-mini"),
            response_model: some("gpt-4o-mini-2024-07-18"),
            tokens: TokenUsage {
                input: Some(12),
                output: Some(30),
                ..TokenUsage::default()
            },
            reported_cost: Some(ReportedCost {
                usd: 0.0000198,
                key: "gen_ai.usage.cost",
            }),
            messages: SpanMessages {
                system_instructions: Vec::new(),
                input: vec![says(Role::User, "user: What is OpenTelemetry?")],
                output: vec![says(Role::Assistant, "An observability framework.")],
            },
            finish_reasons: vec!["stop".to_string()],
            ..LlmSpan::default()
        })
    );
}

// ---------------------------------------------------------------------------
// Plain keys of agent-tracing guides

#[test]
fn plain_keys_llm_span_reads_counts_sent_as_strings_and_doubles() {
    let llm_call = span(
        "llm_call",
        vec![
            s("run_id", "run-2024-06-01-7"),
            s("llm.provider", "anthropic"),
            s("llm.model", "claude-3-5-sonnet-20241022"),
            s("llm.tokens_in", "1500"),
            d("llm.tokens_out", 200.0),
            d("llm.cost_usd", 0.0075),
            i("llm.latency_ms", 2300),
            s("prompt.version", "v12"),
        ],
    );
    assert_eq!(
        normalized(&llm_call),
        LlmSpan {
            operation: Operation::LlmCall,
            dialects: vec![Dialect::PlainKeys],
            service_name: some("agent"),
            provider: some("anthropic"),
            request_model: some("claude-3-5-sonnet-20241022"),
            tokens: TokenUsage {
                input: Some(1500),
                output: Some(200),
                ..TokenUsage::default()
            },
            reported_cost: Some(ReportedCost {
                usd: 0.0075,
                key: "llm.cost_usd",
            }),
            run_id: some("run-2024-06-01-7"),
            prompt: Some(PromptRef {
                name: None,
                version: some("v12"),
            }),
            ..LlmSpan::default()
        }
    );
}

#[test]
fn plain_keys_tool_span_fails_by_its_tool_status_alone() {
    let tool = span(
        "tool_call",
        vec![s("run_id", "run-7"), s("tool.name", "web_search"), s("tool.status", "error")],
    );
    let failure = Outcome::Error { message: None };
    assert_eq!(
        normalized(&tool),
        LlmSpan {
            operation: Operation::Tool,
            dialects: vec![Dialect::PlainKeys],
            outcome: failure.clone(),
            service_name: some("agent"),
            run_id: some("run-7"),
            tool: Some(ToolCall {
                name: "web_search".to_string(),
                call_id: None,
                arguments: None,
                result: None,
                status: failure,
            }),
            ..LlmSpan::default()
        }
    );
}

// ---------------------------------------------------------------------------
// Rules across dialects

#[test]
fn tokens_stated_under_current_and_older_keys_count_once() {
    let chat = span(
        "chat gpt-4o",
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            i("gen_ai.usage.input_tokens", 900),
            i("gen_ai.usage.prompt_tokens", 900),
            i("llm.token_count.prompt", 900),
            i("gen_ai.usage.output_tokens", 100),
            i("gen_ai.usage.completion_tokens", 100),
            i("llm.token_count.completion", 100),
            i("gen_ai.usage.cache_read.input_tokens", 512),
            i("gen_ai.usage.cache_read_input_tokens", 512),
            i("llm.token_count.prompt_details.cache_read", 512),
            i("gen_ai.usage.reasoning.output_tokens", 40),
            i("llm.token_count.completion_details.reasoning", 40),
        ],
    );
    assert_eq!(
        normalized(&chat).tokens,
        TokenUsage {
            input: Some(900),
            output: Some(100),
            cache_read: Some(512),
            cache_creation: None,
            reasoning: Some(40),
        }
    );
}

#[test]
fn input_smaller_than_its_cached_part_had_the_cache_counted_apart_and_gets_it_back() {
    let chat = span(
        "chat claude-sonnet-4",
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", "anthropic"),
            s("gen_ai.request.model", "claude-sonnet-4"),
            i("gen_ai.usage.input_tokens", 12),
            i("gen_ai.usage.cache_read.input_tokens", 3000),
            i("gen_ai.usage.cache_creation.input_tokens", 500),
            i("gen_ai.usage.output_tokens", 50),
            i("gen_ai.usage.reasoning.output_tokens", 200),
        ],
    );
    assert_eq!(
        normalized(&chat).tokens,
        TokenUsage {
            input: Some(3512),
            output: Some(250),
            cache_read: Some(3000),
            cache_creation: Some(500),
            reasoning: Some(200),
        }
    );
}

fn reported_cost_of(attributes: Vec<KeyValue>) -> Option<ReportedCost> {
    normalized(&span("call", attributes)).reported_cost
}

#[test]
fn reported_cost_follows_langfuse_precedence_and_names_its_key() {
    assert_eq!(
        reported_cost_of(vec![
            s("langfuse.observation.type", "generation"),
            s("langfuse.observation.cost_details", r#"{"input": 0.5, "output": 0.25}"#),
            d("gen_ai.usage.cost", 9.0),
            d("llm.cost.total", 8.0),
        ]),
        Some(ReportedCost {
            usd: 0.75,
            key: "langfuse.observation.cost_details",
        })
    );
    assert_eq!(
        reported_cost_of(vec![
            s("gen_ai.operation.name", "chat"),
            d("gen_ai.usage.cost", 0.125),
            d("llm.cost.total", 8.0)
        ]),
        Some(ReportedCost {
            usd: 0.125,
            key: "gen_ai.usage.cost",
        })
    );
    assert_eq!(
        reported_cost_of(vec![
            s("lmnr.span.type", "LLM"),
            d("gen_ai.usage.input_cost", 0.5),
            d("gen_ai.usage.output_cost", 0.25)
        ]),
        Some(ReportedCost {
            usd: 0.75,
            key: "gen_ai.usage.input_cost+gen_ai.usage.output_cost",
        })
    );
    assert_eq!(
        reported_cost_of(vec![
            s("openinference.span.kind", "LLM"),
            s("llm.cost.prompt", "0.5"),
            d("llm.cost.completion", 0.25)
        ]),
        Some(ReportedCost {
            usd: 0.75,
            key: "llm.cost.prompt+llm.cost.completion",
        })
    );
}

#[test]
fn recognised_dialect_missing_expected_keys_says_which() {
    let chat = span(
        "ChatCompletion",
        vec![s("openinference.span.kind", "LLM"), s("llm.model_name", "gpt-4o")],
    );
    assert_eq!(
        normalized(&chat).missing_keys,
        vec![
            missing(Dialect::OpenInference, "llm.provider"),
            missing(Dialect::OpenInference, "llm.token_count.prompt"),
            missing(Dialect::OpenInference, "llm.token_count.completion"),
        ]
    );
    let tool = normalized(&span("execute_tool lookup", vec![s("gen_ai.operation.name", "execute_tool")]));
    assert_eq!(tool.missing_keys, vec![missing(Dialect::OtelGenAi, "gen_ai.tool.name")]);
    assert_eq!(tool.tool.map(|tool| tool.name), some("lookup"));
}

#[test]
fn spans_without_an_llm_convention_are_not_normalized() {
    let http = span(
        "GET /api/users",
        vec![
            s("http.request.method", "GET"),
            s("url.full", "https://api.example.com/users"),
            i("http.response.status_code", 200),
            s("server.address", "api.example.com"),
        ],
    );
    // An OpenLIT resource does not make its service's HTTP spans LLM spans.
    assert_eq!(
        normalize_span(&http, &[s("service.name", "web"), s("telemetry.sdk.name", "openlit")]),
        None
    );
    // Nor do the properties Traceloop and Logfire stamp on every span of a run, nor a bare run id.
    let in_a_run = span(
        "SELECT users",
        vec![
            s("db.system", "postgresql"),
            s("run_id", "run-7"),
            s("traceloop.association.properties.session_id", "sess-42"),
            s("traceloop.workflow.name", "trip_planner"),
            s("logfire.msg", "SELECT users"),
        ],
    );
    assert_eq!(normalize_span(&in_a_run, &[]), None);
}
