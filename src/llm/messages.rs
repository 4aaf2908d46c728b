//! Chat messages from every place and shape instrumentations record them in: OTel's parts JSON, the
//! OpenAI, Anthropic, Vercel and Gemini message JSON, OpenInference's and Traceloop's flattened keys,
//! and the older per-message events (span events, log records, Logfire's event lists).

use super::attributes::{any_to_json, as_json, attributes_to_json, string_field, value_text, Attributes, Fields};
use super::model::{Message, Operation, Part, Role, SpanMessages};
use super::SpanView;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The messages a span carries. Each side (instructions, input, output) comes from the first of these
/// places that has it, in the order below: span attributes in the current shapes first, events last.
pub(crate) fn span_messages(view: &SpanView, operation: Operation) -> SpanMessages {
    let attributes = &view.attributes;
    let mut messages = otel_messages(|key| attributes.json(key));
    messages.fill_missing_with(|| pydantic_all_messages(attributes));
    messages.fill_missing_with(|| SpanMessages {
        system_instructions: Vec::new(),
        input: openinference_messages(attributes, "llm.input_messages.", &Role::User),
        output: openinference_messages(attributes, "llm.output_messages.", &Role::Assistant),
    });
    messages.fill_missing_with(|| SpanMessages {
        system_instructions: Vec::new(),
        input: traceloop_messages(attributes, "gen_ai.prompt.", &Role::User),
        output: traceloop_messages(attributes, "gen_ai.completion.", &Role::Assistant),
    });
    messages.fill_missing_with(|| vercel_messages(attributes));
    // MLflow's and Langfuse's inputs and outputs are a function's arguments and return value on other
    // spans; only on model calls are they the conversation.
    if operation == Operation::LlmCall {
        messages.fill_missing_with(|| input_output_messages(attributes, "mlflow.spanInputs", "mlflow.spanOutputs"));
        messages.fill_missing_with(|| input_output_messages(attributes, "langfuse.observation.input", "langfuse.observation.output"));
    }
    messages.fill_missing_with(|| SpanMessages {
        input: parsed_messages(attributes.json("gen_ai.request.messages"), &Role::User),
        ..SpanMessages::default()
    });
    messages.fill_missing_with(|| messages_from_span_events(&view.span.events));
    for key in ["all_messages_events", "events"] {
        messages.fill_missing_with(|| attributes.json(key).map(|list| messages_from_event_list(&list)).unwrap_or_default());
    }
    messages
}

/// The messages one log record carries: an older per-message event (`gen_ai.user.message`, `gen_ai.choice`…)
/// or `gen_ai.client.inference.operation.details`. SDKs that predate `LogRecord.event_name` put the name in
/// the `event.name` attribute.
pub(crate) fn messages_from_log_record(record: &LogRecord) -> SpanMessages {
    let fields = attributes_to_json(&record.attributes);
    let name = match record.event_name.as_str() {
        "" => fields.get("event.name").and_then(Value::as_str).unwrap_or_default(),
        name => name,
    };
    let body = record.body.as_ref().map(|body| as_json(&any_to_json(body)));
    messages_from_event(name, &fields, body.as_ref())
}

/// OTel's `gen_ai.system_instructions`, `gen_ai.input.messages` and `gen_ai.output.messages`.
fn otel_messages(read: impl Fn(&str) -> Option<Value>) -> SpanMessages {
    SpanMessages {
        system_instructions: read("gen_ai.system_instructions")
            .map(|value| instruction_parts(&value))
            .unwrap_or_default(),
        input: parsed_messages(read("gen_ai.input.messages"), &Role::User),
        output: parsed_messages(read("gen_ai.output.messages"), &Role::Assistant),
    }
}

fn parsed_messages(value: Option<Value>, default_role: &Role) -> Vec<Message> {
    value.map(|value| messages_from_json(&value, default_role)).unwrap_or_default()
}

fn instruction_parts(value: &Value) -> Vec<Part> {
    match value {
        Value::Array(items) => items
            .iter()
            .flat_map(|item| {
                // Some senders wrap the instructions in a system message.
                if item.get("role").is_some() {
                    message_from_json(item, &Role::System)
                        .map(|message| message.parts)
                        .unwrap_or_default()
                } else {
                    part_from_json(item).into_iter().collect()
                }
            })
            .collect(),
        other => part_from_json(other).into_iter().collect(),
    }
}

/// Messages from JSON: a list of messages (or LangChain's list of lists), `{"messages": [...]}` (MLflow's
/// and Langfuse's inputs), a completion's `{"choices": [...]}`, one message, or plain text.
fn messages_from_json(value: &Value, default_role: &Role) -> Vec<Message> {
    match value {
        Value::Array(items) => items
            .iter()
            .flat_map(|item| match item {
                Value::Array(_) => messages_from_json(item, default_role),
                _ => message_from_json(item, default_role).into_iter().collect(),
            })
            .collect(),
        Value::Object(object) => {
            if let Some(messages) = object.get("messages") {
                return messages_from_json(messages, default_role);
            }
            if let Some(Value::Array(choices)) = object.get("choices") {
                return choices.iter().filter_map(choice_message).collect();
            }
            message_from_json(value, default_role).into_iter().collect()
        }
        Value::String(_) => message_from_json(value, default_role).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// One choice of an OpenAI-style completion.
fn choice_message(choice: &Value) -> Option<Message> {
    let mut message = match choice.get("message") {
        Some(message) => message_from_json(message, &Role::Assistant)?,
        None => Message::text(Role::Assistant, choice.get("text")?.as_str()?),
    };
    if message.finish_reason.is_none() {
        message.finish_reason = string_field(choice, &["finish_reason", "finishReason"]);
    }
    Some(message)
}

/// One message in any of the shapes: OTel and Gemini `parts`; OpenAI `content` (text or parts), `tool_calls`
/// and `tool_call_id`; Anthropic and Vercel content blocks; LangChain's `type` for a role.
fn message_from_json(value: &Value, default_role: &Role) -> Option<Message> {
    let object = match value {
        Value::String(text) if !text.trim().is_empty() => return Some(Message::text(default_role.clone(), text)),
        Value::Object(object) => object,
        _ => return None,
    };
    let role = string_field(value, &["role"])
        .or_else(|| string_field(value, &["type"]).filter(|kind| matches!(kind.as_str(), "human" | "ai" | "system" | "tool")))
        .map_or_else(|| default_role.clone(), |name| Role::from_name(&name));
    let mut parts = Vec::new();
    if let Some(Value::Array(items)) = object.get("parts") {
        parts.extend(items.iter().filter_map(part_from_json));
    }
    match object.get("content") {
        Some(Value::Array(items)) => parts.extend(items.iter().filter_map(part_from_json)),
        Some(Value::Null) | None => {}
        Some(content) => {
            let text = content_text(content);
            if !text.is_empty() {
                parts.push(Part::Text(text));
            }
        }
    }
    if let Some(Value::Array(calls)) = object.get("tool_calls") {
        parts.extend(calls.iter().filter_map(tool_call_from_json));
    }
    if let Some(call) = object.get("function_call") {
        parts.extend(tool_call_from_json(call));
    }
    if role == Role::Tool {
        // `gen_ai.tool.message` events name the call `id`.
        parts = as_tool_results(parts, string_field(value, &["tool_call_id", "id"]));
    }
    if parts.is_empty() && !object.contains_key("role") {
        return None;
    }
    Some(Message {
        role,
        parts,
        finish_reason: string_field(value, &["finish_reason", "finishReason", "stop_reason"]),
    })
}

/// A tool message's text is the result of the call it answers.
fn as_tool_results(parts: Vec<Part>, call_id: Option<String>) -> Vec<Part> {
    parts
        .into_iter()
        .map(|part| match part {
            Part::Text(content) => Part::ToolResult {
                id: call_id.clone(),
                content,
            },
            other => other,
        })
        .collect()
}

fn part_from_json(value: &Value) -> Option<Part> {
    let object = match value {
        Value::String(text) => return Some(Part::Text(text.clone())),
        Value::Object(object) => object,
        _ => return None,
    };
    let Some(kind) = object.get("type").and_then(Value::as_str) else {
        // Gemini's parts say what they are by their one key.
        if let Some(text) = object.get("text").and_then(Value::as_str) {
            return Some(Part::Text(text.to_string()));
        }
        if let Some(call) = object.get("functionCall") {
            return tool_call_from_json(call);
        }
        let response = object.get("functionResponse")?;
        return Some(Part::ToolResult {
            id: string_field(response, &["id"]),
            content: content_text(response.get("response").unwrap_or(response)),
        });
    };
    let part = match kind {
        "text" | "input_text" | "output_text" => Part::Text(string_field(value, &["content", "text"]).unwrap_or_default()),
        "reasoning" | "thinking" => Part::Reasoning(string_field(value, &["content", "thinking", "text"]).unwrap_or_default()),
        "tool_call" | "tool_use" | "tool-call" | "function_call" | "server_tool_call" => return tool_call_from_json(value),
        "tool_call_response" | "tool_result" | "tool-result" | "function_call_output" | "server_tool_call_response" => Part::ToolResult {
            id: string_field(value, &["id", "tool_use_id", "toolCallId", "call_id"]),
            // OTel says `response`; Pydantic AI `result`; Vercel `result` (v4) or `output` (v5); Anthropic `content`.
            content: ["response", "result", "output", "content"]
                .iter()
                .find_map(|key| object.get(*key))
                .map(content_text)
                .unwrap_or_default(),
        },
        other => Part::Other { kind: other.to_string() },
    };
    Some(part)
}

/// A tool call in the OpenAI (`function.name`), OTel and Anthropic (`name`) or Vercel (`toolName`) shape.
fn tool_call_from_json(value: &Value) -> Option<Part> {
    let function = value.get("function");
    let name = string_field(value, &["name", "toolName"]).or_else(|| string_field(function?, &["name"]))?;
    let arguments = ["arguments", "args", "input"]
        .iter()
        .find_map(|key| value.get(*key))
        .or_else(|| function?.get("arguments"))
        .filter(|arguments| !arguments.is_null())
        .map(content_text);
    Some(Part::ToolCall {
        id: string_field(value, &["id", "toolCallId", "call_id", "tool_call_id"]),
        name,
        arguments,
    })
}

/// Content as text: strings as they are, a list of text blocks joined, Vercel's `{type, value}` tool
/// outputs by their value, anything else as compact JSON.
fn content_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        Value::Array(blocks) if !blocks.is_empty() && blocks.iter().all(is_text_block) => blocks
            .iter()
            .filter_map(|block| block.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Object(object) if object.len() == 2 && object.contains_key("type") => match object.get("value") {
            Some(inner) => content_text(inner),
            None => value.to_string(),
        },
        other => other.to_string(),
    }
}

fn is_text_block(block: &Value) -> bool {
    block.get("type").and_then(Value::as_str) == Some("text") && block.get("text").is_some_and(Value::is_string)
}

/// Attributes under `prefix` grouped by the index that follows it: `p.0.role` is `role` of group 0.
fn group_by_index<'a>(fields: &[(&'a str, &'a AnyValue)], prefix: &str) -> BTreeMap<usize, Fields<'a>> {
    let mut groups: BTreeMap<usize, Fields<'a>> = BTreeMap::new();
    for &(key, value) in fields {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
        if let Ok(index) = index.parse::<usize>() {
            groups.entry(index).or_default().push((field, value));
        }
    }
    groups
}

fn field(fields: &[(&str, &AnyValue)], name: &str) -> Option<String> {
    fields.iter().find(|(key, _)| *key == name).and_then(|(_, value)| value_text(value))
}

/// OpenInference's flattened lists: `llm.input_messages.0.message.role`, `….message.contents.1.message_content.text`,
/// `….message.tool_calls.0.tool_call.function.name`.
fn openinference_messages(attributes: &Attributes, prefix: &str, default_role: &Role) -> Vec<Message> {
    group_by_index(&attributes.fields(), prefix)
        .values()
        .map(|fields| {
            let role = field(fields, "message.role").map_or_else(|| default_role.clone(), |name| Role::from_name(&name));
            let mut parts: Vec<Part> = field(fields, "message.content").map(Part::Text).into_iter().collect();
            for content in group_by_index(fields, "message.contents.").values() {
                match field(content, "message_content.type").as_deref() {
                    Some("image") => parts.push(Part::Other { kind: "image".to_string() }),
                    _ => parts.extend(field(content, "message_content.text").map(Part::Text)),
                }
            }
            for call in group_by_index(fields, "message.tool_calls.").values() {
                if let Some(name) = field(call, "tool_call.function.name") {
                    parts.push(Part::ToolCall {
                        id: field(call, "tool_call.id"),
                        name,
                        arguments: field(call, "tool_call.function.arguments"),
                    });
                }
            }
            if role == Role::Tool {
                parts = as_tool_results(parts, field(fields, "message.tool_call_id"));
            }
            Message {
                role,
                parts,
                finish_reason: None,
            }
        })
        .collect()
}

/// Traceloop's (and OTel's before v1.27) flattened lists: `gen_ai.prompt.0.role`, `gen_ai.prompt.0.content`,
/// `gen_ai.completion.0.finish_reason`, `gen_ai.completion.0.tool_calls.1.name`.
fn traceloop_messages(attributes: &Attributes, prefix: &str, default_role: &Role) -> Vec<Message> {
    group_by_index(&attributes.fields(), prefix)
        .values()
        .map(|fields| {
            let role = field(fields, "role").map_or_else(|| default_role.clone(), |name| Role::from_name(&name));
            let mut parts = field(fields, "content").map(content_parts).unwrap_or_default();
            for call in group_by_index(fields, "tool_calls.").values() {
                if let Some(name) = field(call, "name") {
                    parts.push(Part::ToolCall {
                        id: field(call, "id"),
                        name,
                        arguments: field(call, "arguments"),
                    });
                }
            }
            if role == Role::Tool {
                parts = as_tool_results(parts, field(fields, "tool_call_id"));
            }
            Message {
                role,
                parts,
                finish_reason: field(fields, "finish_reason"),
            }
        })
        .collect()
}

/// Flattened content is text, or for multimodal messages the JSON list of their content parts.
fn content_parts(content: String) -> Vec<Part> {
    if content.trim_start().starts_with('[') {
        if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&content) {
            let parts: Vec<Part> = items.iter().filter(|item| item.is_object()).filter_map(part_from_json).collect();
            if !parts.is_empty() && parts.len() == items.len() {
                return parts;
            }
        }
    }
    vec![Part::Text(content)]
}

/// The Vercel AI SDK's `ai.*` keys: `ai.prompt.messages` on model calls, `ai.prompt` (`{system, prompt,
/// messages}`) on the calls that wrap them, and the response's text, tool calls and finish reason.
fn vercel_messages(attributes: &Attributes) -> SpanMessages {
    let mut messages = SpanMessages::default();
    if let Some(prompt_messages) = attributes.json("ai.prompt.messages") {
        messages.input = messages_from_json(&prompt_messages, &Role::User);
    } else if let Some(prompt) = attributes.json("ai.prompt") {
        if let Some(system) = prompt.get("system").and_then(Value::as_str) {
            messages.system_instructions.push(Part::Text(system.to_string()));
        }
        if let Some(input) = prompt.get("messages").or_else(|| prompt.get("prompt")) {
            messages.input = messages_from_json(input, &Role::User);
        }
    }
    let mut parts: Vec<Part> = attributes.text("ai.response.text").map(Part::Text).into_iter().collect();
    if let Some(Value::Array(calls)) = attributes.json("ai.response.toolCalls") {
        parts.extend(calls.iter().filter_map(tool_call_from_json));
    }
    if !parts.is_empty() {
        messages.output.push(Message {
            role: Role::Assistant,
            parts,
            finish_reason: attributes.text("ai.response.finishReason"),
        });
    }
    messages
}

/// MLflow's and Langfuse's inputs and outputs: `{"messages": [...]}` or a message list in, a completion,
/// a message or text out.
fn input_output_messages(attributes: &Attributes, input_key: &str, output_key: &str) -> SpanMessages {
    SpanMessages {
        system_instructions: Vec::new(),
        input: parsed_messages(attributes.json(input_key), &Role::User),
        output: parsed_messages(attributes.json(output_key), &Role::Assistant),
    }
}

/// Pydantic AI's agent-run history in OTel's parts shape; its last assistant message is the run's output.
fn pydantic_all_messages(attributes: &Attributes) -> SpanMessages {
    let mut input = parsed_messages(attributes.json("pydantic_ai.all_messages"), &Role::User);
    let output: Vec<Message> = if input.last().is_some_and(|message| message.role == Role::Assistant) {
        input.pop().into_iter().collect()
    } else {
        Vec::new()
    };
    SpanMessages {
        system_instructions: Vec::new(),
        input,
        output,
    }
}

/// Content events on the span, in order: `gen_ai.content.prompt` / `.completion`, per-message events (Aspire
/// reads their body from `gen_ai.event.content`), `gen_ai.client.inference.operation.details`.
fn messages_from_span_events(events: &[Event]) -> SpanMessages {
    let mut messages = SpanMessages::default();
    for event in events {
        let fields = attributes_to_json(&event.attributes);
        let body = fields.get("gen_ai.event.content").map(as_json);
        messages.append(messages_from_event(&event.name, &fields, body.as_ref()));
    }
    messages
}

/// Logfire's (Pydantic AI instrumentation v1) JSON list of events, each with its `event.name`.
fn messages_from_event_list(list: &Value) -> SpanMessages {
    let mut messages = SpanMessages::default();
    for item in list.as_array().into_iter().flatten() {
        if let (Some(name), Value::Object(fields)) = (item.get("event.name").and_then(Value::as_str), item) {
            messages.append(messages_from_event(name, fields, Some(item)));
        }
    }
    messages
}

/// The messages of one GenAI event, from its name, attributes (`fields`) and body. Without a body the
/// attributes are the body.
fn messages_from_event(name: &str, fields: &Map<String, Value>, body: Option<&Value>) -> SpanMessages {
    let role_of_event = match name {
        "gen_ai.system.message" => Some(Role::System),
        "gen_ai.user.message" => Some(Role::User),
        "gen_ai.assistant.message" => Some(Role::Assistant),
        "gen_ai.tool.message" => Some(Role::Tool),
        _ => None,
    };
    let attributes_as_body;
    let body = match body {
        Some(body) => body,
        None => {
            attributes_as_body = Value::Object(fields.clone());
            &attributes_as_body
        }
    };
    let field_json = |key: &str| fields.get(key).map(as_json);
    let mut messages = SpanMessages::default();
    if let Some(role) = role_of_event {
        messages.input.extend(message_from_json(body, &role));
        return messages;
    }
    match name {
        "gen_ai.choice" => {
            if let Some(mut message) = body.get("message").and_then(|message| message_from_json(message, &Role::Assistant)) {
                if message.finish_reason.is_none() {
                    message.finish_reason = string_field(body, &["finish_reason"]);
                }
                messages.output.push(message);
            }
        }
        // OpenLIT records plain text here rather than JSON; it reads as one message.
        "gen_ai.content.prompt" => messages.input = parsed_messages(field_json("gen_ai.prompt"), &Role::User),
        "gen_ai.content.completion" => messages.output = parsed_messages(field_json("gen_ai.completion"), &Role::Assistant),
        "gen_ai.client.inference.operation.details" => messages = otel_messages(field_json),
        _ => {}
    }
    messages
}
