//! The `gen_ai_normalizer` processor (the Collector's contrib `genainormalizerprocessor`): rewrites the
//! span attributes that GenAI instrumentation libraries write in their own vocabulary into the OTel GenAI
//! semantic conventions (`gen_ai.*`, semconv 1.40.0). Traces only; span attributes only (span names,
//! events, links, resource and scope attributes are left alone).
//!
//! `sources` is an ordered list; every span goes through each source in turn. A source is a built-in
//! convention, `openinference` or `openllmetry`, with the Collector's mapping tables, or any other name
//! with the `mappings` (source key to target key) and `value_mappings` (per target, exact string
//! foldings) it is given. For each source, as in the Collector:
//!
//! - `openinference` first rebuilds the flattened `llm.input_messages.N.message.*` and
//!   `llm.output_messages.N.message.*` keys into one JSON string each, `gen_ai.input.messages` and
//!   `gen_ai.output.messages`, in the GenAI parts format (text, `tool_call`, `tool_call_response`; the
//!   role constrained to system/user/assistant/tool; `finish_reason: ""` on output messages), written as
//!   Go's `encoding/json` writes it;
//! - then each attribute the table maps is copied to its target, coerced to the type semconv 1.40.0 gives
//!   the target (a string token count becomes an int, a `finish_reason` string a one-element list; a value
//!   that cannot be coerced safely drops the rename and keeps the original), and `gen_ai.operation.name`
//!   values are folded onto the GenAI enum (`LLM` to `chat`, `workflow` to `invoke_workflow`, ...;
//!   case-insensitively for the built-ins, exactly for `value_mappings`);
//! - a target already on the span is left as it is unless `overwrite: true`, and an original is deleted
//!   only with `remove_originals: true` and only when it was written to its target (the Collector's map
//!   removal: the last attribute moves into the gap);
//! - when anything was written in a scope, the scope's `schema_url` becomes
//!   `https://opentelemetry.io/schemas/1.40.0` if it was empty, or always with `overwrite_schema_url`.
//!
//! Differences from the Collector: `langchain`, `crewai` and `pydanticai` are built-in sources too when
//! they are given no `mappings` (the tables of the contrib pull request that proposes them, #49330); the
//! Collector, which does not have them yet, rejects those entries, and reads such a name with `mappings` as
//! a user-defined source, as otelbox does. The message attributes a rebuild consumed are deleted in
//! attribute order (the Collector's order is random). Tool-call arguments nested deeper than 128 levels,
//! or with lone surrogate escapes, stay text (Go parses them); a string read as a number does not take
//! Go's hexadecimal float form.

use crate::config::{ComponentId, Parser, Settings};
use crate::pdata::Signal;
use crate::pipeline::{AnyConsumer, ItemProcessor, PipelineError};
use crate::processor::{ProcessorContext, ProcessorFactory, Stage};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use serde_json::Value as Json;
use serde_yaml_ng::{Mapping, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

pub struct Factory;
// The Collector's factory registers traces only.
crate::component_type!(Factory, "gen_ai_normalizer", &[Signal::Traces], parse);

impl ProcessorFactory for Factory {
    fn build(&self, context: &ProcessorContext<'_>, settings: &Settings, _next: AnyConsumer) -> anyhow::Result<Stage> {
        Ok(Stage::Items(Arc::new(GenAiNormalizer::new(context.id, settings.get()))))
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GenAiNormalizerConfig {
    /// Applied to every span in this order; at least one.
    pub sources: Vec<Source>,
    /// Replace a scope's existing `schema_url` too when a mapping wrote in it (default false: only an
    /// empty one is set).
    pub overwrite_schema_url: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Source {
    /// A built-in convention, or any other (unique) name for a user-defined source.
    pub name: String,
    /// Delete a source attribute once it was written to its target.
    pub remove_originals: bool,
    /// Replace a target attribute the span already has (default: leave it, and skip the mapping).
    pub overwrite: bool,
    /// User-defined sources only (required there): source key to target key.
    pub mappings: BTreeMap<String, String>,
    /// User-defined sources only: per target key (a target of `mappings`), string values folded onto
    /// others, matched exactly.
    pub value_mappings: BTreeMap<String, BTreeMap<String, String>>,
}

// ---------------------------------------------------------------------------------------------
// The tables

/// The semantic conventions release whose keys and types the targets follow.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.40.0";

const AGENT_NAME: &str = "gen_ai.agent.name";
const CONVERSATION_ID: &str = "gen_ai.conversation.id";
const INPUT_MESSAGES: &str = "gen_ai.input.messages";
const OPERATION_NAME: &str = "gen_ai.operation.name";
const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
const PROVIDER_NAME: &str = "gen_ai.provider.name";
const REQUEST_MODEL: &str = "gen_ai.request.model";
const RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";

/// OpenInference keys (its semantic conventions' Go package). The flattened message keys are rebuilt by
/// `reconstruct_messages`, not renamed.
const OPENINFERENCE: &[(&str, &str)] = &[
    ("llm.token_count.prompt", USAGE_INPUT_TOKENS),
    ("llm.token_count.completion", USAGE_OUTPUT_TOKENS),
    ("llm.model_name", REQUEST_MODEL),
    ("llm.provider", PROVIDER_NAME),
    ("embedding.model_name", REQUEST_MODEL),
    ("tool.name", "gen_ai.tool.name"),
    ("tool.description", "gen_ai.tool.description"),
    ("tool_call.function.arguments", "gen_ai.tool.call.arguments"),
    ("tool_call.id", "gen_ai.tool.call.id"),
    ("reranker.model_name", REQUEST_MODEL),
    ("agent.name", AGENT_NAME),
    ("session.id", CONVERSATION_ID),
    ("openinference.span.kind", OPERATION_NAME),
];

/// `openinference.span.kind` values (lowercased) on the `gen_ai.operation.name` enum.
const OPENINFERENCE_OPERATIONS: &[(&str, &str)] = &[
    ("llm", "chat"),
    ("embedding", "embeddings"),
    ("chain", "invoke_agent"),
    ("retriever", "retrieval"),
    ("reranker", "retrieval"),
    ("tool", "execute_tool"),
    ("agent", "invoke_agent"),
    ("prompt", "text_completion"),
];

/// OpenLLMetry (Traceloop) keys, from its `semconv_ai` packages.
const OPENLLMETRY: &[(&str, &str)] = &[
    ("llm.usage.prompt_tokens", USAGE_INPUT_TOKENS),
    ("llm.usage.completion_tokens", USAGE_OUTPUT_TOKENS),
    ("llm.request.model", REQUEST_MODEL),
    ("llm.response.model", "gen_ai.response.model"),
    ("llm.request.max_tokens", "gen_ai.request.max_tokens"),
    ("llm.request.temperature", "gen_ai.request.temperature"),
    ("llm.request.top_p", "gen_ai.request.top_p"),
    ("llm.top_k", "gen_ai.request.top_k"),
    ("llm.frequency_penalty", "gen_ai.request.frequency_penalty"),
    ("llm.presence_penalty", "gen_ai.request.presence_penalty"),
    ("llm.chat.stop_sequences", "gen_ai.request.stop_sequences"),
    ("llm.request.functions", "gen_ai.tool.definitions"),
    ("llm.response.finish_reason", RESPONSE_FINISH_REASONS),
    ("llm.response.stop_reason", RESPONSE_FINISH_REASONS),
    ("llm.request.type", OPERATION_NAME),
    ("traceloop.span.kind", OPERATION_NAME),
    ("traceloop.entity.name", AGENT_NAME),
    ("traceloop.entity.input", INPUT_MESSAGES),
    ("traceloop.entity.output", OUTPUT_MESSAGES),
];

/// `traceloop.span.kind` and `llm.request.type` values (lowercased) on the `gen_ai.operation.name`
/// enum; `invoke_workflow` is not in the 1.40.0 enum, but it is what the Collector writes.
const OPENLLMETRY_OPERATIONS: &[(&str, &str)] = &[
    ("workflow", "invoke_workflow"),
    ("task", "invoke_agent"),
    ("agent", "invoke_agent"),
    ("tool", "execute_tool"),
    ("completion", "text_completion"),
    ("chat", "chat"),
    ("rerank", "retrieval"),
    ("embedding", "embeddings"),
];

/// Proposed to the Collector (contrib #49330, not merged): built-in here when given no `mappings`.
const LANGCHAIN: &[(&str, &str)] = &[("lc.metadata.thread_id", CONVERSATION_ID), ("langgraph.node.name", AGENT_NAME)];
const CREWAI: &[(&str, &str)] = &[("agent_role", AGENT_NAME), ("crew_id", CONVERSATION_ID)];
const PYDANTICAI: &[(&str, &str)] = &[("agent_name", AGENT_NAME)];

/// The Collector's built-in sources: `mappings` and `value_mappings` are refused on them.
const BUILT_IN: &[&str] = &["openinference", "openllmetry"];
/// The proposed ones (see `LANGCHAIN`).
const PROPOSED: &[&str] = &["langchain", "crewai", "pydanticai"];
/// Listed in the error of a user-defined source without mappings, as in the Collector.
const BUILT_IN_LIST: &str = "crewai, langchain, openinference, openllmetry, pydanticai";

/// What a built-in source does.
struct BuiltIn {
    renames: &'static [(&'static str, &'static str)],
    operations: Option<&'static [(&'static str, &'static str)]>,
    messages: bool,
}

fn built_in(name: &str) -> Option<BuiltIn> {
    let (renames, operations, messages) = match name {
        "openinference" => (OPENINFERENCE, Some(OPENINFERENCE_OPERATIONS), true),
        "openllmetry" => (OPENLLMETRY, Some(OPENLLMETRY_OPERATIONS), false),
        "langchain" => (LANGCHAIN, None, false),
        "crewai" => (CREWAI, None, false),
        "pydanticai" => (PYDANTICAI, None, false),
        _ => return None,
    };
    Some(BuiltIn {
        renames,
        operations,
        messages,
    })
}

/// Whether a source entry uses a built-in table (else its own `mappings`).
fn is_built_in(source: &Source) -> bool {
    BUILT_IN.contains(&source.name.as_str()) || (PROPOSED.contains(&source.name.as_str()) && source.mappings.is_empty())
}

/// The type semconv 1.40.0 gives a `gen_ai.*` key (the Collector's generated table); `Any` for keys
/// typed `any` and keys it does not define, whose values are copied as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Any,
    String,
    Int,
    Double,
    StringSlice,
}

fn target_kind(key: &str) -> Kind {
    match key {
        "gen_ai.agent.description"
        | "gen_ai.agent.id"
        | "gen_ai.agent.name"
        | "gen_ai.agent.version"
        | "gen_ai.conversation.id"
        | "gen_ai.data_source.id"
        | "gen_ai.evaluation.explanation"
        | "gen_ai.evaluation.name"
        | "gen_ai.evaluation.score.label"
        | "gen_ai.operation.name"
        | "gen_ai.output.type"
        | "gen_ai.prompt.name"
        | "gen_ai.provider.name"
        | "gen_ai.request.model"
        | "gen_ai.response.id"
        | "gen_ai.response.model"
        | "gen_ai.retrieval.query.text"
        | "gen_ai.token.type"
        | "gen_ai.tool.call.id"
        | "gen_ai.tool.description"
        | "gen_ai.tool.name"
        | "gen_ai.tool.type" => Kind::String,
        "gen_ai.embeddings.dimension.count"
        | "gen_ai.request.choice.count"
        | "gen_ai.request.max_tokens"
        | "gen_ai.request.seed"
        | "gen_ai.usage.cache_creation.input_tokens"
        | "gen_ai.usage.cache_read.input_tokens"
        | "gen_ai.usage.input_tokens"
        | "gen_ai.usage.output_tokens" => Kind::Int,
        "gen_ai.evaluation.score.value"
        | "gen_ai.request.frequency_penalty"
        | "gen_ai.request.presence_penalty"
        | "gen_ai.request.temperature"
        | "gen_ai.request.top_k"
        | "gen_ai.request.top_p" => Kind::Double,
        "gen_ai.request.encoding_formats" | "gen_ai.request.stop_sequences" | "gen_ai.response.finish_reasons" => Kind::StringSlice,
        // 1.40.0 has no boolean key (the Collector's coercion has the case, never reached).
        _ => Kind::Any,
    }
}

// ---------------------------------------------------------------------------------------------
// The processor

pub struct GenAiNormalizer {
    sources: Vec<Normalizer>,
    overwrite_schema_url: bool,
}

/// One configured source, ready to run.
struct Normalizer {
    /// Source key to target key.
    table: HashMap<String, String>,
    values: Values,
    /// Rebuild OpenInference's flattened messages first.
    messages: bool,
    remove_originals: bool,
    overwrite: bool,
}

/// How a source folds the string values it writes.
enum Values {
    Verbatim,
    /// Built-in: values landing on `gen_ai.operation.name`, compared lowercased.
    Operations(&'static [(&'static str, &'static str)]),
    /// User-defined `value_mappings`: per target, exact matches.
    Folds(BTreeMap<String, BTreeMap<String, String>>),
}

impl Values {
    fn apply(&self, target: &str, value: &mut AnyValue) {
        let Some(any_value::Value::StringValue(text)) = &value.value else {
            return;
        };
        let folded = match self {
            Values::Verbatim => None,
            Values::Operations(table) if target == OPERATION_NAME => {
                let lower = text.to_lowercase();
                table.iter().find(|(from, _)| *from == lower).map(|(_, to)| to.to_string())
            }
            Values::Operations(_) => None,
            Values::Folds(rules) => rules.get(target).and_then(|rules| rules.get(text.as_str())).cloned(),
        };
        if let Some(folded) = folded {
            value.value = Some(any_value::Value::StringValue(folded));
        }
    }
}

impl GenAiNormalizer {
    pub fn new(_id: &ComponentId, config: &GenAiNormalizerConfig) -> Self {
        GenAiNormalizer {
            sources: config.sources.iter().map(Normalizer::new).collect(),
            overwrite_schema_url: config.overwrite_schema_url,
        }
    }
}

impl Normalizer {
    fn new(source: &Source) -> Normalizer {
        let tables = if is_built_in(source) { built_in(&source.name) } else { None };
        let (table, values, messages): (HashMap<String, String>, Values, bool) = match tables {
            Some(b) => (
                b.renames.iter().map(|(from, to)| (from.to_string(), to.to_string())).collect(),
                b.operations.map_or(Values::Verbatim, Values::Operations),
                b.messages,
            ),
            None => (
                source.mappings.iter().map(|(from, to)| (from.clone(), to.clone())).collect(),
                if source.value_mappings.is_empty() {
                    Values::Verbatim
                } else {
                    Values::Folds(source.value_mappings.clone())
                },
                false,
            ),
        };
        Normalizer {
            table,
            values,
            messages,
            remove_originals: source.remove_originals,
            overwrite: source.overwrite,
        }
    }

    /// Applies the source to a span's attributes; whether it wrote anything.
    fn normalize(&self, attributes: &mut Vec<KeyValue>) -> bool {
        let mut wrote = false;
        if self.messages {
            wrote |= reconstruct_messages(attributes, self.remove_originals, self.overwrite);
        }
        wrote |= self.rename(attributes);
        wrote
    }

    /// The key renames, in the order the span's attributes come.
    fn rename(&self, attributes: &mut Vec<KeyValue>) -> bool {
        let renames: Vec<(String, &str)> = attributes
            .iter()
            .filter_map(|kv| self.table.get(&kv.key).map(|to| (kv.key.clone(), to.as_str())))
            .collect();
        let mut wrote = false;
        for (from, to) in renames {
            // An earlier rename of this pass may have removed it.
            let Some(from_at) = attributes.iter().position(|kv| kv.key == from) else {
                continue;
            };
            let target_at = attributes.iter().position(|kv| kv.key == to);
            if target_at.is_some() && !self.overwrite {
                continue;
            }
            let Some(mut value) = coerce(to, attributes[from_at].value.as_ref()) else {
                continue;
            };
            self.values.apply(to, &mut value);
            match target_at {
                Some(at) => attributes[at].value = Some(value),
                None => attributes.push(KeyValue {
                    key: to.to_string(),
                    value: Some(value),
                    ..Default::default()
                }),
            }
            wrote = true;
            if self.remove_originals {
                remove_first(attributes, &from);
            }
        }
        wrote
    }
}

impl ItemProcessor for GenAiNormalizer {
    fn process_traces(&self, data: &mut ExportTraceServiceRequest) -> Result<(), PipelineError> {
        for resource_spans in &mut data.resource_spans {
            for scope_spans in &mut resource_spans.scope_spans {
                let mut wrote = false;
                for span in &mut scope_spans.spans {
                    for source in &self.sources {
                        wrote |= source.normalize(&mut span.attributes);
                    }
                }
                if wrote && (scope_spans.schema_url.is_empty() || self.overwrite_schema_url) {
                    scope_spans.schema_url = SCHEMA_URL.to_string();
                }
            }
        }
        Ok(())
    }
}

/// Removes the first attribute named `key` as pcommon's `Map.Remove` does: the last attribute takes its
/// place.
fn remove_first(attributes: &mut Vec<KeyValue>, key: &str) {
    if let Some(at) = attributes.iter().position(|kv| kv.key == key) {
        attributes.swap_remove(at);
    }
}

/// Sets `key` to a string: in place when present, else at the end (pcommon's `PutStr`).
fn put_string(attributes: &mut Vec<KeyValue>, key: &str, text: String) {
    let value = Some(AnyValue {
        value: Some(any_value::Value::StringValue(text)),
    });
    match attributes.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = value,
        None => attributes.push(KeyValue {
            key: key.to_string(),
            value,
            ..Default::default()
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Type coercion (the Collector's `otelsemconv.Coerce`)

/// `source` as the type the target carries; `None` when it cannot be converted safely (the rename is
/// then dropped). An absent value passes only to untyped targets.
fn coerce(target: &str, source: Option<&AnyValue>) -> Option<AnyValue> {
    use any_value::Value as V;
    let kind = target_kind(target);
    if kind == Kind::Any {
        return Some(source.cloned().unwrap_or_default());
    }
    let typed = |value: V| Some(AnyValue { value: Some(value) });
    let value = source.and_then(|v| v.value.as_ref())?;
    match kind {
        Kind::Any => None,
        Kind::Int => match value {
            V::IntValue(n) => typed(V::IntValue(*n)),
            // Lossless only: an integral double within int64.
            V::DoubleValue(f) if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(f) => {
                typed(V::IntValue(*f as i64))
            }
            V::StringValue(s) => s.parse::<i64>().ok().and_then(|n| typed(V::IntValue(n))),
            _ => None,
        },
        Kind::Double => match value {
            V::DoubleValue(f) => typed(V::DoubleValue(*f)),
            V::IntValue(n) => typed(V::DoubleValue(*n as f64)),
            V::StringValue(s) => go_parse_float(s).and_then(|f| typed(V::DoubleValue(f))),
            _ => None,
        },
        Kind::String => match value {
            V::StringValue(s) => typed(V::StringValue(s.clone())),
            V::BoolValue(_) | V::IntValue(_) | V::DoubleValue(_) => typed(V::StringValue(as_string(source))),
            // A map, list or bytes would lose its shape.
            _ => None,
        },
        Kind::StringSlice => match value {
            V::StringValue(s) => typed(V::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(V::StringValue(s.clone())),
                }],
            })),
            V::ArrayValue(list) if list.values.iter().all(|v| matches!(v.value, Some(V::StringValue(_)))) => {
                typed(V::ArrayValue(list.clone()))
            }
            _ => None,
        },
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal text: an overflow to infinity is an error; `inf`,
/// `infinity` and `nan` are read in any case.
fn go_parse_float(text: &str) -> Option<f64> {
    let value: f64 = text.parse().ok()?;
    if value.is_infinite() {
        let word = text.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if word != "inf" && word != "infinity" {
            return None;
        }
    }
    Some(value)
}

/// A double as Go's `encoding/json` (and pcommon's `AsString`) writes it: the shortest form, with an
/// exponent below 1e-6 and from 1e21; `None` for NaN and the infinities, which JSON cannot carry.
fn go_float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let magnitude = f.abs();
    if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e')?;
        return Some(if exponent.starts_with('-') {
            format!("{mantissa}e{exponent}")
        } else {
            format!("{mantissa}e+{exponent}")
        });
    }
    Some(format!("{f}"))
}

/// pcommon's `Value.AsString`: strings as they are, numbers and booleans plain, bytes in base64, maps
/// and lists as JSON (empty when they hold a NaN or an infinity), an empty value as "".
fn as_string(value: Option<&AnyValue>) -> String {
    use any_value::Value as V;
    match value.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(V::StringValue(s)) => s.clone(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(n)) => n.to_string(),
        Some(V::StringValueStrindex(n)) => n.to_string(),
        Some(V::DoubleValue(f)) => go_float(*f).unwrap_or_else(|| {
            let word = if f.is_nan() {
                "NaN"
            } else if *f > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            };
            format!("json: unsupported value: {word}")
        }),
        Some(V::BytesValue(bytes)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }
        Some(V::ArrayValue(_) | V::KvlistValue(_)) => {
            let mut out = String::new();
            if write_any_json(&mut out, value) {
                out
            } else {
                String::new()
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON as Go's encoding/json writes it

/// A JSON string with Go's escapes: `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes, control
/// characters as `\b \f \n \r \t` or `\u00xx`.
fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A value Go's `json.Unmarshal` read into `any`, written back by `json.Marshal`: every number a
/// float64, object keys sorted.
fn write_parsed_json(out: &mut String, value: &Json) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&n.as_f64().and_then(go_float).unwrap_or_else(|| "null".to_string())),
        Json::String(s) => write_json_string(out, s),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_parsed_json(out, item);
            }
            out.push(']');
        }
        Json::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                write_parsed_json(out, &fields[key]);
            }
            out.push('}');
        }
    }
}

/// An attribute value as `json.Marshal(value.AsRaw())` writes it (a repeated map key keeps the last);
/// false when it holds a NaN or an infinity, which Go refuses.
fn write_any_json(out: &mut String, value: Option<&AnyValue>) -> bool {
    use any_value::Value as V;
    match value.and_then(|v| v.value.as_ref()) {
        None => out.push_str("null"),
        Some(V::StringValue(s)) => write_json_string(out, s),
        Some(V::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(V::IntValue(n)) => out.push_str(&n.to_string()),
        Some(V::StringValueStrindex(n)) => out.push_str(&n.to_string()),
        Some(V::DoubleValue(f)) => match go_float(*f) {
            Some(text) => out.push_str(&text),
            None => return false,
        },
        Some(V::BytesValue(bytes)) => {
            use base64::Engine;
            write_json_string(out, &base64::engine::general_purpose::STANDARD.encode(bytes));
        }
        Some(V::ArrayValue(list)) => {
            out.push('[');
            for (i, item) in list.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !write_any_json(out, Some(item)) {
                    return false;
                }
            }
            out.push(']');
        }
        Some(V::KvlistValue(map)) => {
            let mut fields: BTreeMap<&str, Option<&AnyValue>> = BTreeMap::new();
            for kv in &map.values {
                fields.insert(&kv.key, kv.value.as_ref());
            }
            out.push('{');
            for (i, (key, item)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, key);
                out.push(':');
                if !write_any_json(out, item) {
                    return false;
                }
            }
            out.push('}');
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// OpenInference's flattened messages (the Collector's `openinference.ReconstructMessages`)

/// The flattened prefixes, their targets, and whether they are output messages.
const MESSAGE_PREFIXES: [(&str, &str, bool); 2] = [
    ("llm.input_messages.", INPUT_MESSAGES, false),
    ("llm.output_messages.", OUTPUT_MESSAGES, true),
];

const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

#[derive(Default)]
struct MessageFields {
    role: String,
    content: String,
    name: String,
    tool_call_id: String,
    tool_calls: BTreeMap<i64, ToolCallFields>,
    contents: BTreeMap<i64, ContentFields>,
}

#[derive(Default)]
struct ToolCallFields {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Default)]
struct ContentFields {
    kind: String,
    text: String,
}

/// A recognised message field, by the part it is rendered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldKind {
    /// `role` and `name`: on every message.
    Always,
    Content,
    ToolCallId,
    ToolCall,
    /// An entry of the indexed `contents` array.
    Contents(i64),
}

/// Which fields a message's parts are built from (the first that applies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PartSource {
    Nothing,
    ToolCallResponse,
    ToolCalls,
    FlatContent,
    Contents,
}

/// Rebuilds both message lists; whether either was written.
fn reconstruct_messages(attributes: &mut Vec<KeyValue>, remove_originals: bool, overwrite: bool) -> bool {
    let mut wrote = false;
    for (prefix, target, is_output) in MESSAGE_PREFIXES {
        wrote |= reconstruct_prefix(attributes, prefix, target, is_output, remove_originals, overwrite);
    }
    wrote
}

fn reconstruct_prefix(
    attributes: &mut Vec<KeyValue>,
    prefix: &str,
    target: &str,
    is_output: bool,
    remove_originals: bool,
    overwrite: bool,
) -> bool {
    if !overwrite && attributes.iter().any(|kv| kv.key == target) {
        return false;
    }
    let mut messages: BTreeMap<i64, MessageFields> = BTreeMap::new();
    let mut read: Vec<(i64, String, FieldKind)> = Vec::new();
    for kv in attributes.iter() {
        let Some((index, field)) = kv.key.strip_prefix(prefix).and_then(indexed_field) else {
            continue;
        };
        let message = messages.entry(index).or_default();
        if let Some(kind) = apply_field(message, field, kv.value.as_ref()) {
            if remove_originals {
                read.push((index, kv.key.clone(), kind));
            }
        }
    }
    if messages.is_empty() {
        return false;
    }
    // An attribute goes only if the parts emitted for its message were built from it.
    let consumed: Vec<String> = read
        .into_iter()
        .filter(|(index, _, kind)| {
            let message = &messages[index];
            let source = part_source(message);
            consumed_by(*kind, source)
                && match kind {
                    FieldKind::Contents(at) => message.contents.get(at).is_some_and(is_text),
                    _ => true,
                }
        })
        .map(|(_, key, _)| key)
        .collect();

    let mut json = String::from("[");
    for (i, message) in messages.values().enumerate() {
        if i > 0 {
            json.push(',');
        }
        write_message(&mut json, message, is_output);
    }
    json.push(']');
    put_string(attributes, target, json);
    for key in consumed {
        remove_first(attributes, &key);
    }
    true
}

/// `N.message.field` as (N, field).
fn indexed_field(rest: &str) -> Option<(i64, &str)> {
    let (index, after) = rest.split_once('.')?;
    let index = index.parse().ok()?;
    let field = after.strip_prefix("message.")?;
    (!field.is_empty()).then_some((index, field))
}

/// Folds one field into its message; its kind when recognised (an unrecognised one keeps its
/// attribute).
fn apply_field(message: &mut MessageFields, field: &str, value: Option<&AnyValue>) -> Option<FieldKind> {
    match field {
        "role" => {
            message.role = as_string(value);
            Some(FieldKind::Always)
        }
        "name" => {
            message.name = as_string(value);
            Some(FieldKind::Always)
        }
        "content" => {
            message.content = as_string(value);
            Some(FieldKind::Content)
        }
        "tool_call_id" => {
            message.tool_call_id = as_string(value);
            Some(FieldKind::ToolCallId)
        }
        _ => {
            if let Some(rest) = field.strip_prefix("tool_calls.") {
                tool_call_field(message, rest, value).then_some(FieldKind::ToolCall)
            } else if let Some(rest) = field.strip_prefix("contents.") {
                content_field(message, rest, value).map(FieldKind::Contents)
            } else {
                None
            }
        }
    }
}

/// `M.tool_call.{id,function.name,function.arguments}`. As in the Collector, a call is created by any
/// field under `M.tool_call.`, recognised or not.
fn tool_call_field(message: &mut MessageFields, rest: &str, value: Option<&AnyValue>) -> bool {
    let Some((index, after)) = rest.split_once('.') else {
        return false;
    };
    let Ok(index) = index.parse::<i64>() else {
        return false;
    };
    let Some(field) = after.strip_prefix("tool_call.") else {
        return false;
    };
    let call = message.tool_calls.entry(index).or_default();
    match field {
        "id" => call.id = as_string(value),
        "function.name" => call.name = as_string(value),
        "function.arguments" => call.arguments = as_string(value),
        _ => return false,
    }
    true
}

/// `M.message_content.{type,text}`: the entry's index when recognised. Images, audio and the like are
/// not rebuilt, and their attributes stay.
fn content_field(message: &mut MessageFields, rest: &str, value: Option<&AnyValue>) -> Option<i64> {
    let (index, after) = rest.split_once('.')?;
    let index: i64 = index.parse().ok()?;
    let field = after.strip_prefix("message_content.")?;
    let content = message.contents.entry(index).or_default();
    match field {
        "type" => content.kind = as_string(value),
        "text" => content.text = as_string(value),
        _ => return None,
    }
    Some(index)
}

/// A content entry rendered as a text part: text, typed `text` or not typed at all.
fn is_text(content: &ContentFields) -> bool {
    !content.text.is_empty() && (content.kind.is_empty() || content.kind == "text")
}

fn part_source(message: &MessageFields) -> PartSource {
    if !message.tool_call_id.is_empty() {
        PartSource::ToolCallResponse
    } else if !message.tool_calls.is_empty() {
        PartSource::ToolCalls
    } else if !message.content.is_empty() {
        PartSource::FlatContent
    } else if message.contents.values().any(is_text) {
        PartSource::Contents
    } else {
        PartSource::Nothing
    }
}

/// Whether a field of this kind is represented in parts built from `source` (`content` is both a text
/// part and a tool response's `response`).
fn consumed_by(kind: FieldKind, source: PartSource) -> bool {
    match kind {
        FieldKind::Always => true,
        FieldKind::Content => matches!(source, PartSource::FlatContent | PartSource::ToolCallResponse),
        FieldKind::ToolCallId => source == PartSource::ToolCallResponse,
        FieldKind::ToolCall => source == PartSource::ToolCalls,
        FieldKind::Contents(_) => source == PartSource::Contents,
    }
}

/// The GenAI role: a tool response in the input is `tool`; a valid role is kept (but `tool` is never an
/// output role); otherwise `assistant` for tool calls, else `user`.
fn infer_role(message: &MessageFields, is_output: bool) -> &str {
    if !message.tool_call_id.is_empty() && !is_output {
        return "tool";
    }
    if ROLES.contains(&message.role.as_str()) && (!is_output || message.role != "tool") {
        return &message.role;
    }
    if !message.tool_calls.is_empty() {
        "assistant"
    } else {
        "user"
    }
}

/// One message: `role`, `name` when given, `parts`, and on output `finish_reason: ""` (OpenInference
/// has no per-message finish reason; the schema requires the field).
fn write_message(out: &mut String, message: &MessageFields, is_output: bool) {
    out.push_str("{\"role\":");
    write_json_string(out, infer_role(message, is_output));
    if !message.name.is_empty() {
        out.push_str(",\"name\":");
        write_json_string(out, &message.name);
    }
    out.push_str(",\"parts\":[");
    write_parts(out, message);
    out.push(']');
    if is_output {
        out.push_str(",\"finish_reason\":\"\"");
    }
    out.push('}');
}

fn write_parts(out: &mut String, message: &MessageFields) {
    match part_source(message) {
        PartSource::ToolCallResponse => {
            out.push_str("{\"type\":\"tool_call_response\",\"id\":");
            write_json_string(out, &message.tool_call_id);
            out.push_str(",\"response\":");
            write_json_string(out, &message.content);
            out.push('}');
        }
        PartSource::ToolCalls => {
            for (i, call) in message.tool_calls.values().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"type\":\"tool_call\"");
                if !call.id.is_empty() {
                    out.push_str(",\"id\":");
                    write_json_string(out, &call.id);
                }
                out.push_str(",\"name\":");
                write_json_string(out, &call.name);
                if !call.arguments.is_empty() {
                    // Parsed when it is JSON (JSON null leaves the field out), else kept as text.
                    match serde_json::from_str::<Json>(&call.arguments) {
                        Ok(Json::Null) => {}
                        Ok(parsed) => {
                            out.push_str(",\"arguments\":");
                            write_parsed_json(out, &parsed);
                        }
                        Err(_) => {
                            out.push_str(",\"arguments\":");
                            write_json_string(out, &call.arguments);
                        }
                    }
                }
                out.push('}');
            }
        }
        PartSource::FlatContent => write_text_part(out, &message.content),
        PartSource::Contents => {
            for (i, content) in message.contents.values().filter(|c| is_text(c)).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_text_part(out, &content.text);
            }
        }
        PartSource::Nothing => {}
    }
}

fn write_text_part(out: &mut String, text: &str) {
    out.push_str("{\"type\":\"text\",\"content\":");
    write_json_string(out, text);
    out.push('}');
}

// ---------------------------------------------------------------------------------------------
// Parsing

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> GenAiNormalizerConfig {
    let mut config = GenAiNormalizerConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["sources", "overwrite_schema_url"], path);
    config.overwrite_schema_url = flag(p, body, "overwrite_schema_url", path);
    let sources_path = format!("{path}.sources");
    let sources = body.get("sources");
    let is_list = matches!(sources, None | Some(Value::Null) | Some(Value::Sequence(_)));
    let items = p.list(sources, &sources_path);
    if is_list && items.is_empty() {
        p.error(&sources_path, "at least one source must be specified");
    }
    let mut seen: Vec<String> = Vec::new();
    for (at, item) in items {
        let Some(source) = parse_source(p, item, &at) else {
            continue;
        };
        if source.name.is_empty() {
            p.error(&at, "\"name\" must be set");
            continue;
        }
        if seen.contains(&source.name) {
            p.error(&at, format!("duplicate source \"{}\"", source.name));
            continue;
        }
        seen.push(source.name.clone());
        if validate_source(p, &source, &at) {
            config.sources.push(source);
        }
    }
    config
}

fn parse_source(p: &mut Parser, value: &Value, at: &str) -> Option<Source> {
    let body = p.mapping(Some(value), at)?;
    p.only_keys(body, &["name", "remove_originals", "overwrite", "mappings", "value_mappings"], at);
    let name = match body.get("name").filter(|v| !v.is_null()) {
        Some(v) => p.string(v, &format!("{at}.name"))?,
        None => String::new(),
    };
    let mappings = string_map(p, body.get("mappings"), &format!("{at}.mappings"));
    let mut value_mappings = BTreeMap::new();
    let value_mappings_path = format!("{at}.value_mappings");
    for (target, rules) in p.entries(body.get("value_mappings"), &value_mappings_path) {
        let rules = string_map(p, Some(rules), &format!("{value_mappings_path}.{target}"));
        value_mappings.insert(target, rules);
    }
    Some(Source {
        name,
        remove_originals: flag(p, body, "remove_originals", at),
        overwrite: flag(p, body, "overwrite", at),
        mappings,
        value_mappings,
    })
}

/// The Collector's checks of one named source, worded as its errors; whether it passed.
fn validate_source(p: &mut Parser, source: &Source, at: &str) -> bool {
    if is_built_in(source) {
        let mut valid = true;
        for (key, given) in [
            ("mappings", !source.mappings.is_empty()),
            ("value_mappings", !source.value_mappings.is_empty()),
        ] {
            if given {
                p.error(at, format!("\"{key}\" is not valid on built-in source \"{}\"", source.name));
                valid = false;
            }
        }
        return valid;
    }
    if source.mappings.is_empty() {
        p.error(
            at,
            format!(
                "user-defined source \"{}\" requires non-empty \"mappings\" (built-in sources, which do not require mappings: {BUILT_IN_LIST})",
                source.name
            ),
        );
        return false;
    }
    let mut valid = true;
    for target in source.value_mappings.keys() {
        if !source.mappings.values().any(|t| t == target) {
            p.error(at, format!("\"value_mappings\" key \"{target}\" is not a target in \"mappings\""));
            valid = false;
        }
    }
    valid
}

/// A mapping of strings to strings (absent or null: empty).
fn string_map(p: &mut Parser, value: Option<&Value>, path: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for (key, v) in p.entries(value, path) {
        if let Some(text) = p.string(v, &format!("{path}.{key}")) {
            map.insert(key, text);
        }
    }
    map
}

/// A boolean that defaults to false.
fn flag(p: &mut Parser, body: &Mapping, key: &str, path: &str) -> bool {
    match body.get(key).filter(|v| !v.is_null()) {
        Some(v) => p.boolean(v, &format!("{path}.{key}")).unwrap_or(false),
        None => false,
    }
}

#[cfg(test)]
mod tests;
