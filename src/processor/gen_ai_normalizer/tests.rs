//! Tests of the gen_ai_normalizer processor: each source's golden spans (from real libraries'
//! attribute sets), message rebuilds, type coercion, options and config errors.

use super::*;
use opentelemetry_proto::tonic::common::v1::KeyValueList;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

const PATH: &str = "processors.gen_ai_normalizer";

fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).expect("test YAML parses")
}

fn parsed_value(value: &Value) -> (GenAiNormalizerConfig, Vec<String>) {
    let mut errors = Vec::new();
    let config = parse(&mut Parser::collecting(&mut errors), value, PATH);
    (config, errors)
}

fn parsed(body: &str) -> (GenAiNormalizerConfig, Vec<String>) {
    parsed_value(&yaml(body))
}

/// The settings of a body that must be valid.
fn config(body: &str) -> GenAiNormalizerConfig {
    let (config, errors) = parsed(body);
    assert_eq!(errors, Vec::<String>::new(), "{body}");
    config
}

fn processor(body: &str) -> GenAiNormalizer {
    GenAiNormalizer::new(&ComponentId::parse("gen_ai_normalizer").unwrap(), &config(body))
}

fn named(name: &str) -> Source {
    Source {
        name: name.to_string(),
        ..Source::default()
    }
}

fn removing(source: Source) -> Source {
    Source {
        remove_originals: true,
        ..source
    }
}

fn mapped(source: Source, pairs: &[(&str, &str)]) -> Source {
    Source {
        mappings: pairs.iter().map(|(from, to)| (from.to_string(), to.to_string())).collect(),
        ..source
    }
}

fn sources(list: Vec<Source>) -> GenAiNormalizerConfig {
    GenAiNormalizerConfig {
        sources: list,
        overwrite_schema_url: false,
    }
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(value),
        ..Default::default()
    }
}

fn text(value: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(value.to_string())),
    }
}

fn s(key: &str, value: &str) -> KeyValue {
    kv(key, text(value))
}

fn i(key: &str, n: i64) -> KeyValue {
    kv(
        key,
        AnyValue {
            value: Some(any_value::Value::IntValue(n)),
        },
    )
}

fn d(key: &str, f: f64) -> KeyValue {
    kv(
        key,
        AnyValue {
            value: Some(any_value::Value::DoubleValue(f)),
        },
    )
}

fn b(key: &str, flag: bool) -> KeyValue {
    kv(
        key,
        AnyValue {
            value: Some(any_value::Value::BoolValue(flag)),
        },
    )
}

fn strings(key: &str, items: &[&str]) -> KeyValue {
    kv(
        key,
        AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: items.iter().map(|item| text(item)).collect(),
            })),
        },
    )
}

fn map(key: &str, fields: Vec<KeyValue>) -> KeyValue {
    kv(
        key,
        AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList { values: fields })),
        },
    )
}

fn span(name: &str, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: name.to_string(),
        attributes,
        ..Default::default()
    }
}

/// One scope of these spans, with this schema URL.
fn scope(spans: Vec<Span>, schema_url: &str) -> ScopeSpans {
    ScopeSpans {
        spans,
        schema_url: schema_url.to_string(),
        ..Default::default()
    }
}

fn request(scopes: Vec<ScopeSpans>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: scopes,
            ..Default::default()
        }],
    }
}

/// The attributes of one span after the processor, and its scope's schema URL.
fn run(processor: &GenAiNormalizer, attributes: Vec<KeyValue>) -> (Vec<KeyValue>, String) {
    let mut data = request(vec![scope(vec![span("span", attributes)], "")]);
    processor.process_traces(&mut data).unwrap();
    let mut scope = data.resource_spans.remove(0).scope_spans.remove(0);
    (scope.spans.remove(0).attributes, scope.schema_url)
}

fn normalize(processor: &GenAiNormalizer, attributes: Vec<KeyValue>) -> Vec<KeyValue> {
    run(processor, attributes).0
}

/// Attributes by key, for comparing sets whatever their order.
fn sorted(attributes: Vec<KeyValue>) -> Vec<(String, Option<AnyValue>)> {
    let mut pairs: Vec<(String, Option<AnyValue>)> = attributes.into_iter().map(|kv| (kv.key, kv.value)).collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

#[track_caller]
fn assert_same(actual: Vec<KeyValue>, expected: Vec<KeyValue>) {
    assert_eq!(sorted(actual), sorted(expected));
}

fn plus(mut attributes: Vec<KeyValue>, added: Vec<KeyValue>) -> Vec<KeyValue> {
    attributes.extend(added);
    attributes
}

fn without(attributes: Vec<KeyValue>, keys: &[&str]) -> Vec<KeyValue> {
    attributes.into_iter().filter(|kv| !keys.contains(&kv.key.as_str())).collect()
}

fn value_of(attributes: &[KeyValue], key: &str) -> Option<AnyValue> {
    crate::pdata::find_attribute(attributes, key).cloned()
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn the_demo_config_takes_the_openllmetry_source_with_the_defaults() {
    assert_eq!(config("sources:\n  - name: openllmetry\n"), sources(vec![named("openllmetry")]));
}

/// The Collector's `testdata/config.yaml` (with the pull request adding `langchain`, `crewai` and
/// `pydanticai`), and the earlier `unknown_source` case.
const CONTRIB_CONFIG: &str = r#"
gen_ai_normalizer:
  sources:
    - name: openinference
      remove_originals: true
      overwrite: false
gen_ai_normalizer/empty:
gen_ai_normalizer/openinference_only:
  sources:
    - name: openinference
gen_ai_normalizer/openllmetry_only:
  sources:
    - name: openllmetry
gen_ai_normalizer/openinference_and_openllmetry:
  sources:
    - name: openinference
      remove_originals: true
    - name: openllmetry
      remove_originals: true
gen_ai_normalizer/empty_sources:
  sources: []
gen_ai_normalizer/unknown_source:
  sources:
    - name: foobar
gen_ai_normalizer/duplicate_source:
  sources:
    - name: openinference
    - name: openinference
gen_ai_normalizer/user_defined_only:
  sources:
    - name: my_vendor
      remove_originals: true
      mappings:
        my_vendor.model: gen_ai.request.model
        my_vendor.tokens.in: gen_ai.usage.input_tokens
gen_ai_normalizer/user_defined_with_builtin:
  sources:
    - name: openinference
      remove_originals: true
    - name: my_vendor
      remove_originals: true
      mappings:
        my_vendor.model: gen_ai.request.model
gen_ai_normalizer/multiple_user_defined:
  sources:
    - name: vendor_a
      remove_originals: true
      mappings:
        vendor_a.model: gen_ai.request.model
    - name: vendor_b
      remove_originals: true
      overwrite: true
      mappings:
        vendor_b.model: gen_ai.request.model
gen_ai_normalizer/user_defined_empty_mappings:
  sources:
    - name: my_vendor
gen_ai_normalizer/openinference_with_mappings:
  sources:
    - name: openinference
      mappings:
        foo: gen_ai.request.model
gen_ai_normalizer/user_defined_unreachable_value_mapping:
  sources:
    - name: my_vendor
      mappings:
        my_vendor.model: gen_ai.request.model
      value_mappings:
        gen_ai.operation.name:
          chat_completion: chat
gen_ai_normalizer/new_builtin_sources:
  sources:
    - name: langchain
      remove_originals: true
    - name: crewai
    - name: pydanticai
gen_ai_normalizer/user_defined_with_value_mappings:
  sources:
    - name: my_vendor
      remove_originals: true
      mappings:
        my_vendor.op: gen_ai.operation.name
      value_mappings:
        gen_ai.operation.name:
          chat_completion: chat
          tool_invoke: execute_tool
"#;

#[test]
fn the_collectors_testdata_configs_load_or_fail_as_there() {
    let file = yaml(CONTRIB_CONFIG);
    let mut results: BTreeMap<String, (GenAiNormalizerConfig, Vec<String>)> = BTreeMap::new();
    for (id, body) in file.as_mapping().unwrap() {
        results.insert(id.as_str().unwrap().to_string(), parsed_value(body));
    }
    let valid = |id: &str, expected: GenAiNormalizerConfig| {
        let (config, errors) = &results[id];
        assert_eq!(errors, &Vec::<String>::new(), "{id}");
        assert_eq!(config, &expected, "{id}");
    };
    valid("gen_ai_normalizer", sources(vec![removing(named("openinference"))]));
    valid("gen_ai_normalizer/openinference_only", sources(vec![named("openinference")]));
    valid("gen_ai_normalizer/openllmetry_only", sources(vec![named("openllmetry")]));
    valid(
        "gen_ai_normalizer/openinference_and_openllmetry",
        sources(vec![removing(named("openinference")), removing(named("openllmetry"))]),
    );
    valid(
        "gen_ai_normalizer/user_defined_only",
        sources(vec![removing(mapped(
            named("my_vendor"),
            &[
                ("my_vendor.model", "gen_ai.request.model"),
                ("my_vendor.tokens.in", "gen_ai.usage.input_tokens"),
            ],
        ))]),
    );
    valid(
        "gen_ai_normalizer/user_defined_with_builtin",
        sources(vec![
            removing(named("openinference")),
            removing(mapped(named("my_vendor"), &[("my_vendor.model", "gen_ai.request.model")])),
        ]),
    );
    valid(
        "gen_ai_normalizer/multiple_user_defined",
        sources(vec![
            removing(mapped(named("vendor_a"), &[("vendor_a.model", "gen_ai.request.model")])),
            Source {
                overwrite: true,
                ..removing(mapped(named("vendor_b"), &[("vendor_b.model", "gen_ai.request.model")]))
            },
        ]),
    );
    valid(
        "gen_ai_normalizer/new_builtin_sources",
        sources(vec![removing(named("langchain")), named("crewai"), named("pydanticai")]),
    );
    let folds: BTreeMap<String, String> = [("chat_completion", "chat"), ("tool_invoke", "execute_tool")]
        .iter()
        .map(|(from, to)| (from.to_string(), to.to_string()))
        .collect();
    valid(
        "gen_ai_normalizer/user_defined_with_value_mappings",
        sources(vec![Source {
            value_mappings: [("gen_ai.operation.name".to_string(), folds)].into_iter().collect(),
            ..removing(mapped(named("my_vendor"), &[("my_vendor.op", "gen_ai.operation.name")]))
        }]),
    );

    let invalid = |id: &str, expected: &str| {
        let (_, errors) = &results[id];
        assert_eq!(errors.len(), 1, "{id}: {errors:#?}");
        assert!(errors[0].starts_with(&format!("{PATH}.sources")), "{}", errors[0]);
        assert!(errors[0].contains(expected), "{id}: {} does not say {expected}", errors[0]);
    };
    invalid("gen_ai_normalizer/empty", "at least one source must be specified");
    invalid("gen_ai_normalizer/empty_sources", "at least one source must be specified");
    invalid(
        "gen_ai_normalizer/duplicate_source",
        "sources[1]: duplicate source \"openinference\"",
    );
    invalid(
        "gen_ai_normalizer/unknown_source",
        "sources[0]: user-defined source \"foobar\" requires non-empty \"mappings\" (built-in sources, which do not require mappings: crewai, langchain, openinference, openllmetry, pydanticai)",
    );
    invalid(
        "gen_ai_normalizer/user_defined_empty_mappings",
        "user-defined source \"my_vendor\" requires non-empty \"mappings\"",
    );
    invalid(
        "gen_ai_normalizer/openinference_with_mappings",
        "sources[0]: \"mappings\" is not valid on built-in source \"openinference\"",
    );
    invalid(
        "gen_ai_normalizer/user_defined_unreachable_value_mapping",
        "sources[0]: \"value_mappings\" key \"gen_ai.operation.name\" is not a target in \"mappings\"",
    );
    assert_eq!(results.len(), 16);
}

#[test]
fn the_testdata_examples_parse_and_the_demos_normalizes_a_traceloop_span() {
    let file = yaml(include_str!("../testdata/gen_ai_normalizer.yaml"));
    for (id, body) in file.as_mapping().unwrap() {
        let (_, errors) = parsed_value(body);
        assert_eq!(errors, Vec::<String>::new(), "{id:?}");
    }
    let (demo, _) = parsed_value(file.get("gen_ai_normalizer").unwrap());
    let processor = GenAiNormalizer::new(&ComponentId::parse("gen_ai_normalizer").unwrap(), &demo);
    let (attributes, schema_url) = run(&processor, vec![s("llm.request.type", "chat"), s("gen_ai.request.model", "gpt-4o")]);
    assert_eq!(value_of(&attributes, "gen_ai.operation.name"), Some(text("chat")));
    assert_eq!(value_of(&attributes, "llm.request.type"), Some(text("chat")));
    assert_eq!(schema_url, SCHEMA_URL);
}

#[test]
fn errors_name_their_paths() {
    // The map form of the Collector's first drafts.
    let (_, errors) = parsed("sources: {openllmetry: {}}\n");
    assert_eq!(errors, [format!("{PATH}.sources: expected a list, got a mapping")]);

    let (_, errors) = parsed(
        "sources:\n  - name: openllmetry\n    profile: x\n    overwrite: yes-please\noverwrite_schema_url: 1\nsemconv_version: '1.39.0'\n",
    );
    assert_eq!(
        errors,
        [
            format!("{PATH}.semconv_version: unknown key (expected one of: sources, overwrite_schema_url)"),
            format!("{PATH}.overwrite_schema_url: expected true or false, got a number"),
            format!(
                "{PATH}.sources[0].profile: unknown key (expected one of: name, remove_originals, overwrite, mappings, value_mappings)"
            ),
            format!("{PATH}.sources[0].overwrite: expected true or false, got a string"),
        ]
    );

    let (_, errors) = parsed("sources:\n  - remove_originals: true\n  - name: ''\n  - name: 7\n");
    assert_eq!(
        errors,
        [
            format!("{PATH}.sources[0]: \"name\" must be set"),
            format!("{PATH}.sources[1]: \"name\" must be set"),
            format!("{PATH}.sources[2].name: expected a string, got a number"),
        ]
    );

    let (_, errors) = parsed(
        "sources:\n  - name: openllmetry\n    value_mappings: {gen_ai.operation.name: {a: chat}}\n  - name: v\n    mappings: {a: gen_ai.request.model, b: [x]}\n",
    );
    assert_eq!(
        errors,
        [
            format!("{PATH}.sources[0]: \"value_mappings\" is not valid on built-in source \"openllmetry\""),
            format!("{PATH}.sources[1].mappings.b: expected a string, got a list"),
        ]
    );
}

#[test]
fn a_proposed_source_given_mappings_is_user_defined_as_in_the_collector() {
    let crew = vec![s("agent_role", "Researcher"), s("crew.agent", "writer")];
    let processor = processor("sources:\n  - name: crewai\n    mappings: {crew.agent: gen_ai.agent.name}\n");
    assert_same(
        normalize(&processor, crew.clone()),
        plus(crew, vec![s("gen_ai.agent.name", "writer")]),
    );
    let (_, errors) = parsed("sources:\n  - name: crewai\n    value_mappings: {gen_ai.agent.name: {a: b}}\n");
    assert_eq!(
        errors,
        [format!(
            "{PATH}.sources[0]: \"value_mappings\" is not valid on built-in source \"crewai\""
        )]
    );
}

// ---------------------------------------------------------------------------------------------
// openinference

/// An OpenAI chat call as openinference-instrumentation-openai records it.
fn openinference_chat() -> Vec<KeyValue> {
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
    ]
}

const CHAT_INPUT: &str = r#"[{"role":"system","parts":[{"type":"text","content":"You search the docs."}]},{"role":"user","parts":[{"type":"text","content":"Find the OTel docs"}]}]"#;
const CHAT_OUTPUT: &str =
    r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"call_9","name":"search","arguments":{"q":"otel"}}],"finish_reason":""}]"#;

fn openinference_chat_written() -> Vec<KeyValue> {
    vec![
        s("gen_ai.input.messages", CHAT_INPUT),
        s("gen_ai.output.messages", CHAT_OUTPUT),
        s("gen_ai.operation.name", "chat"),
        s("gen_ai.provider.name", "openai"),
        s("gen_ai.request.model", "gpt-4o-mini-2024-07-18"),
        i("gen_ai.usage.input_tokens", 1500),
        i("gen_ai.usage.output_tokens", 220),
        s("gen_ai.conversation.id", "sess-1"),
    ]
}

#[test]
fn openinference_chat_span_gains_the_gen_ai_keys_and_keeps_its_own_by_default() {
    let processor = processor("sources:\n  - name: openinference\n");
    let (attributes, schema_url) = run(&processor, openinference_chat());
    assert_same(attributes, plus(openinference_chat(), openinference_chat_written()));
    assert_eq!(schema_url, SCHEMA_URL);
}

#[test]
fn openinference_chat_span_with_remove_originals_keeps_only_what_was_not_written() {
    let processor = processor("sources:\n  - name: openinference\n    remove_originals: true\n");
    let kept = vec![
        s("llm.system", "openai"),
        s("llm.invocation_parameters", r#"{"temperature": 0}"#),
        s("input.value", r#"{"model": "gpt-4o-mini", "messages": []}"#),
        s("input.mime_type", "application/json"),
        i("llm.token_count.total", 1720),
        i("llm.token_count.prompt_details.cache_read", 1024),
        i("llm.token_count.completion_details.reasoning", 64),
        d("llm.cost.total", 0.000456),
        // The image entry is not rebuilt, so its attributes stay.
        s("llm.input_messages.1.message.contents.1.message_content.type", "image"),
        s(
            "llm.input_messages.1.message.contents.1.message_content.image.image.url",
            "https://example.com/a.png",
        ),
        s("user.id", "user-1"),
        s("llm.prompt_template.version", "v3"),
    ];
    assert_same(
        normalize(&processor, openinference_chat()),
        plus(kept, openinference_chat_written()),
    );
}

#[test]
fn openinference_tool_span_leaves_a_target_the_span_has_unless_overwrite() {
    let tool = vec![
        s("openinference.span.kind", "TOOL"),
        s("tool.name", "search"),
        s("tool.description", "Searches the docs"),
        s("tool.parameters", r#"{"type":"object","properties":{"q":{"type":"string"}}}"#),
        s("input.value", r#"{"q":"otel"}"#),
        s("input.mime_type", "application/json"),
        s("session.id", "sess-1"),
        s("gen_ai.tool.name", "docs_search"),
    ];
    let written = vec![
        s("gen_ai.operation.name", "execute_tool"),
        s("gen_ai.tool.description", "Searches the docs"),
        s("gen_ai.conversation.id", "sess-1"),
    ];
    let processor_keeping = processor("sources:\n  - name: openinference\n    remove_originals: true\n");
    assert_same(
        normalize(&processor_keeping, tool.clone()),
        plus(
            without(tool.clone(), &["openinference.span.kind", "tool.description", "session.id"]),
            written.clone(),
        ),
    );
    let processor_overwriting = processor("sources:\n  - name: openinference\n    remove_originals: true\n    overwrite: true\n");
    assert_same(
        normalize(&processor_overwriting, tool.clone()),
        plus(
            without(
                tool,
                &[
                    "openinference.span.kind",
                    "tool.name",
                    "tool.description",
                    "session.id",
                    "gen_ai.tool.name",
                ],
            ),
            plus(written, vec![s("gen_ai.tool.name", "search")]),
        ),
    );
}

#[test]
fn openinference_span_kinds_fold_onto_the_operation_names_case_insensitively() {
    let processor = processor("sources:\n  - name: openinference\n");
    for (kind, operation) in [
        ("LLM", "chat"),
        ("llm", "chat"),
        ("Embedding", "embeddings"),
        ("CHAIN", "invoke_agent"),
        ("RETRIEVER", "retrieval"),
        ("RERANKER", "retrieval"),
        ("TOOL", "execute_tool"),
        ("AGENT", "invoke_agent"),
        ("PROMPT", "text_completion"),
        // Kinds the GenAI enum has no place for are copied as they are.
        ("GUARDRAIL", "GUARDRAIL"),
        ("EVALUATOR", "EVALUATOR"),
    ] {
        let attributes = normalize(&processor, vec![s("openinference.span.kind", kind)]);
        assert_eq!(value_of(&attributes, "gen_ai.operation.name"), Some(text(operation)), "{kind}");
    }
}

#[test]
fn openinference_messages_become_gen_ai_parts_json_as_go_writes_it() {
    let attributes = vec![
        s("llm.input_messages.0.message.role", "system"),
        s("llm.input_messages.0.message.content", r#"You answer with "facts" & <sources>"#),
        s("llm.input_messages.1.message.role", "user"),
        s("llm.input_messages.1.message.name", "ada"),
        s("llm.input_messages.1.message.content", "Weather in Paris?"),
        // No role: tool calls make it the assistant's.
        s("llm.input_messages.2.message.tool_calls.0.tool_call.id", "call_1"),
        s("llm.input_messages.2.message.tool_calls.0.tool_call.function.name", "get_weather"),
        s(
            "llm.input_messages.2.message.tool_calls.0.tool_call.function.arguments",
            r#"{"days": 2.0, "city": "Paris"}"#,
        ),
        s("llm.input_messages.2.message.tool_calls.1.tool_call.id", "call_2"),
        s("llm.input_messages.2.message.tool_calls.1.tool_call.function.name", "lookup"),
        s("llm.input_messages.2.message.tool_calls.1.tool_call.function.arguments", "not json"),
        // A tool result in the input is the tool's, whatever role it says.
        s("llm.input_messages.3.message.role", "user"),
        s("llm.input_messages.3.message.tool_call_id", "call_1"),
        s("llm.input_messages.3.message.content", "rainy"),
        // Not a GenAI role.
        s("llm.input_messages.4.message.role", "developer"),
        s("llm.input_messages.4.message.content", "Stay brief."),
        // Indexes sort as numbers; JSON null arguments are left out.
        s("llm.input_messages.10.message.tool_calls.0.tool_call.function.name", "noop"),
        s("llm.input_messages.10.message.tool_calls.0.tool_call.function.arguments", "null"),
        s("llm.output_messages.0.message.role", "assistant"),
        s("llm.output_messages.0.message.name", "weather_agent"),
        s("llm.output_messages.0.message.content", "Rainy."),
        // Never `tool` on output: with no tool calls it falls back to user, as in the Collector.
        s("llm.output_messages.1.message.role", "tool"),
        s("llm.output_messages.1.message.tool_call_id", "call_3"),
        s("llm.output_messages.1.message.content", "x"),
    ];
    let input = concat!(
        r#"[{"role":"system","parts":[{"type":"text","content":"You answer with \"facts\" \u0026 \u003csources\u003e"}]},"#,
        r#"{"role":"user","name":"ada","parts":[{"type":"text","content":"Weather in Paris?"}]},"#,
        r#"{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather","arguments":{"city":"Paris","days":2}},"#,
        r#"{"type":"tool_call","id":"call_2","name":"lookup","arguments":"not json"}]},"#,
        r#"{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","response":"rainy"}]},"#,
        r#"{"role":"user","parts":[{"type":"text","content":"Stay brief."}]},"#,
        r#"{"role":"assistant","parts":[{"type":"tool_call","name":"noop"}]}]"#,
    );
    let output = concat!(
        r#"[{"role":"assistant","name":"weather_agent","parts":[{"type":"text","content":"Rainy."}],"finish_reason":""},"#,
        r#"{"role":"user","parts":[{"type":"tool_call_response","id":"call_3","response":"x"}],"finish_reason":""}]"#,
    );
    let written = vec![s("gen_ai.input.messages", input), s("gen_ai.output.messages", output)];
    let keeping = processor("sources:\n  - name: openinference\n");
    assert_same(normalize(&keeping, attributes.clone()), plus(attributes.clone(), written.clone()));
    // Every field was rendered, so every one goes.
    let removing = processor("sources:\n  - name: openinference\n    remove_originals: true\n");
    assert_same(normalize(&removing, attributes), written);
}

#[test]
fn openinference_messages_are_rebuilt_over_an_existing_target_only_with_overwrite() {
    let attributes = vec![
        s("gen_ai.input.messages", "[]"),
        s("llm.input_messages.0.message.role", "user"),
        s("llm.input_messages.0.message.content", "hi"),
    ];
    let leaving = processor("sources:\n  - name: openinference\n    remove_originals: true\n");
    let (after, schema_url) = run(&leaving, attributes.clone());
    assert_same(after, attributes.clone());
    assert_eq!(schema_url, "");
    let overwriting = processor("sources:\n  - name: openinference\n    remove_originals: true\n    overwrite: true\n");
    assert_same(
        normalize(&overwriting, attributes),
        vec![s(
            "gen_ai.input.messages",
            r#"[{"role":"user","parts":[{"type":"text","content":"hi"}]}]"#,
        )],
    );
}

#[test]
fn values_are_coerced_to_the_semconv_types_or_the_rename_is_dropped() {
    let processor = processor("sources:\n  - name: openinference\n    remove_originals: true\n");
    let attributes = vec![
        s("llm.token_count.prompt", "1500"),
        // Not integral: no token count, and the original stays.
        d("llm.token_count.completion", 220.5),
        d("llm.model_name", 1.5),
        // A map would lose its shape as a string.
        map("llm.provider", vec![s("name", "openai")]),
        // Untyped in semconv: copied as it is.
        map("tool_call.function.arguments", vec![s("q", "otel")]),
        b("agent.name", true),
    ];
    assert_same(
        normalize(&processor, attributes),
        vec![
            i("gen_ai.usage.input_tokens", 1500),
            d("llm.token_count.completion", 220.5),
            s("gen_ai.request.model", "1.5"),
            map("llm.provider", vec![s("name", "openai")]),
            map("gen_ai.tool.call.arguments", vec![s("q", "otel")]),
            s("gen_ai.agent.name", "true"),
        ],
    );
    assert_same(
        normalize(
            &processor,
            vec![d("llm.token_count.completion", 220.0), s("llm.token_count.prompt", "many")],
        ),
        vec![i("gen_ai.usage.output_tokens", 220), s("llm.token_count.prompt", "many")],
    );
}

// ---------------------------------------------------------------------------------------------
// openllmetry

/// An OpenAI chat call as traceloop-sdk 0.4x records it: mostly gen_ai.* keys already.
fn traceloop_chat() -> Vec<KeyValue> {
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
        s("gen_ai.prompt.0.role", "system"),
        s("gen_ai.prompt.0.content", "Plan trips."),
        s("gen_ai.prompt.1.role", "user"),
        s("gen_ai.prompt.1.content", "Two days in Lyon"),
        s("gen_ai.completion.0.role", "assistant"),
        s("gen_ai.completion.0.finish_reason", "tool_calls"),
        s("gen_ai.completion.0.tool_calls.0.id", "call_3"),
        s("gen_ai.completion.0.tool_calls.0.name", "find_hotels"),
        s("gen_ai.completion.0.tool_calls.0.arguments", r#"{"city":"Lyon"}"#),
    ]
}

#[test]
fn openllmetry_chat_span_of_a_current_traceloop_gains_its_operation_name_only() {
    let processor = processor("sources:\n  - name: openllmetry\n    remove_originals: true\n");
    assert_same(
        normalize(&processor, traceloop_chat()),
        plus(
            without(traceloop_chat(), &["llm.request.type"]),
            vec![s("gen_ai.operation.name", "chat")],
        ),
    );
}

#[test]
fn openllmetry_older_keys_map_with_their_types() {
    // Every key of the Collector's table, as its conformance fixture feeds them.
    let attributes = vec![
        i("llm.usage.prompt_tokens", 100),
        i("llm.usage.completion_tokens", 200),
        s("llm.request.model", "claude-sonnet-4"),
        s("llm.response.model", "claude-sonnet-4"),
        i("llm.request.max_tokens", 1024),
        d("llm.request.temperature", 0.7),
        d("llm.request.top_p", 0.9),
        i("llm.top_k", 40),
        d("llm.frequency_penalty", 0.1),
        d("llm.presence_penalty", 0.2),
        s("llm.chat.stop_sequences", "STOP"),
        s("llm.request.functions", r#"[{"name":"f"}]"#),
        s("llm.response.finish_reason", "stop"),
        s("traceloop.entity.name", "research-agent"),
        s("traceloop.entity.input", r#"[{"role":"user"}]"#),
        s("traceloop.entity.output", r#"[{"role":"assistant"}]"#),
        s("llm.request.type", "chat"),
    ];
    let processor = processor("sources:\n  - name: openllmetry\n    remove_originals: true\n");
    assert_same(
        normalize(&processor, attributes),
        vec![
            i("gen_ai.usage.input_tokens", 100),
            i("gen_ai.usage.output_tokens", 200),
            s("gen_ai.request.model", "claude-sonnet-4"),
            s("gen_ai.response.model", "claude-sonnet-4"),
            i("gen_ai.request.max_tokens", 1024),
            d("gen_ai.request.temperature", 0.7),
            d("gen_ai.request.top_p", 0.9),
            // A double in semconv.
            d("gen_ai.request.top_k", 40.0),
            d("gen_ai.request.frequency_penalty", 0.1),
            d("gen_ai.request.presence_penalty", 0.2),
            strings("gen_ai.request.stop_sequences", &["STOP"]),
            s("gen_ai.tool.definitions", r#"[{"name":"f"}]"#),
            strings("gen_ai.response.finish_reasons", &["stop"]),
            s("gen_ai.agent.name", "research-agent"),
            s("gen_ai.input.messages", r#"[{"role":"user"}]"#),
            s("gen_ai.output.messages", r#"[{"role":"assistant"}]"#),
            s("gen_ai.operation.name", "chat"),
        ],
    );
}

#[test]
fn openllmetry_decorated_spans_take_their_entity_as_agent_and_messages() {
    let processor = processor("sources:\n  - name: openllmetry\n");
    let tool = vec![
        s("traceloop.span.kind", "tool"),
        s("traceloop.entity.name", "get_weather"),
        s("traceloop.entity.path", "plan_trip.weather_agent"),
        s("traceloop.workflow.name", "trip_planner"),
        s("traceloop.entity.input", r#"{"args": [], "kwargs": {"city": "Lyon"}}"#),
        s("traceloop.entity.output", r#""sunny""#),
    ];
    assert_same(
        normalize(&processor, tool.clone()),
        plus(
            tool,
            vec![
                s("gen_ai.operation.name", "execute_tool"),
                s("gen_ai.agent.name", "get_weather"),
                s("gen_ai.input.messages", r#"{"args": [], "kwargs": {"city": "Lyon"}}"#),
                s("gen_ai.output.messages", r#""sunny""#),
            ],
        ),
    );
    for (kind, operation) in [("agent", "invoke_agent"), ("task", "invoke_agent"), ("workflow", "invoke_workflow")] {
        let entity = vec![s("traceloop.span.kind", kind), s("traceloop.entity.name", "trip_planner")];
        assert_same(
            normalize(&processor, entity.clone()),
            plus(
                entity,
                vec![s("gen_ai.operation.name", operation), s("gen_ai.agent.name", "trip_planner")],
            ),
        );
    }
}

#[test]
fn of_two_keys_for_one_target_the_first_wins_unless_overwrite() {
    let reasons = vec![s("llm.response.finish_reason", "stop"), s("llm.response.stop_reason", "end_turn")];
    let first = processor("sources:\n  - name: openllmetry\n    remove_originals: true\n");
    assert_same(
        normalize(&first, reasons.clone()),
        vec![
            strings("gen_ai.response.finish_reasons", &["stop"]),
            s("llm.response.stop_reason", "end_turn"),
        ],
    );
    let last = processor("sources:\n  - name: openllmetry\n    remove_originals: true\n    overwrite: true\n");
    assert_same(
        normalize(&last, reasons),
        vec![strings("gen_ai.response.finish_reasons", &["end_turn"])],
    );
}

#[test]
fn a_target_is_appended_and_a_removed_original_gives_its_place_to_the_last_attribute() {
    let attributes = vec![s("llm.request.type", "chat"), i("x", 1), i("y", 2)];
    let keeping = processor("sources:\n  - name: openllmetry\n");
    assert_eq!(
        normalize(&keeping, attributes.clone()),
        vec![
            s("llm.request.type", "chat"),
            i("x", 1),
            i("y", 2),
            s("gen_ai.operation.name", "chat")
        ]
    );
    let removing = processor("sources:\n  - name: openllmetry\n    remove_originals: true\n");
    assert_eq!(
        normalize(&removing, attributes),
        vec![s("gen_ai.operation.name", "chat"), i("x", 1), i("y", 2)]
    );
}

// ---------------------------------------------------------------------------------------------
// langchain, crewai, pydanticai

#[test]
fn langchain_thread_and_langgraph_node() {
    let processor = processor("sources:\n  - name: langchain\n");
    let attributes = vec![s("lc.metadata.thread_id", "thread-42"), s("langgraph.node.name", "researcher")];
    assert_same(
        normalize(&processor, attributes.clone()),
        plus(
            attributes,
            vec![s("gen_ai.conversation.id", "thread-42"), s("gen_ai.agent.name", "researcher")],
        ),
    );
}

#[test]
fn crewai_role_and_crew() {
    let processor = processor("sources:\n  - name: crewai\n    remove_originals: true\n");
    let attributes = vec![
        s("crew_id", "6f1c2c3e-5a0b-4f7e-9a52-0c6f1d2e3b4a"),
        s("agent_role", "Senior Research Analyst"),
    ];
    assert_same(
        normalize(&processor, attributes),
        vec![
            s("gen_ai.conversation.id", "6f1c2c3e-5a0b-4f7e-9a52-0c6f1d2e3b4a"),
            s("gen_ai.agent.name", "Senior Research Analyst"),
        ],
    );
}

#[test]
fn pydanticai_agent_name_unless_the_run_already_names_its_agent() {
    let processor = processor("sources:\n  - name: pydanticai\n    remove_originals: true\n");
    // pydantic-ai's current `agent run` span carries gen_ai.agent.name itself: nothing to do.
    let current = vec![
        s("model_name", "gpt-4o"),
        s("agent_name", "weather_agent"),
        s("gen_ai.agent.name", "weather_agent"),
        s("logfire.msg", "weather_agent run"),
        i("gen_ai.usage.input_tokens", 3100),
        i("gen_ai.usage.output_tokens", 80),
        s(
            "pydantic_ai.all_messages",
            r#"[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]},{"role":"assistant","parts":[{"type":"text","content":"Rainy."}],"finish_reason":"stop"}]"#,
        ),
        s("final_result", "Rainy."),
    ];
    let (after, schema_url) = run(&processor, current.clone());
    assert_same(after, current);
    assert_eq!(schema_url, "");
    // Older releases wrote only agent_name.
    let older = vec![
        s("model_name", "gpt-4o"),
        s("agent_name", "weather_agent"),
        s("logfire.msg", "weather_agent run"),
    ];
    assert_same(
        normalize(&processor, older),
        vec![
            s("model_name", "gpt-4o"),
            s("logfire.msg", "weather_agent run"),
            s("gen_ai.agent.name", "weather_agent"),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// User-defined sources

#[test]
fn custom_source_maps_the_plain_keys_of_agent_tracing_guides() {
    let file = yaml(include_str!("../testdata/gen_ai_normalizer.yaml"));
    let (plain, errors) = parsed_value(file.get("gen_ai_normalizer/plain_keys").unwrap());
    assert_eq!(errors, Vec::<String>::new());
    let processor = GenAiNormalizer::new(&ComponentId::parse("gen_ai_normalizer/plain_keys").unwrap(), &plain);
    let chat = vec![
        s("run_id", "run-7"),
        s("llm.provider", "openai"),
        s("llm.model", "gpt-4o-mini"),
        s("prompt.name", "weather-agent"),
        s("prompt.version", "3"),
        i("llm.tokens_in", 52),
        i("llm.tokens_out", 17),
    ];
    assert_same(
        normalize(&processor, chat.clone()),
        plus(
            chat,
            vec![
                s("gen_ai.provider.name", "openai"),
                s("gen_ai.request.model", "gpt-4o-mini"),
                s("gen_ai.prompt.name", "weather-agent"),
                i("gen_ai.usage.input_tokens", 52),
                i("gen_ai.usage.output_tokens", 17),
            ],
        ),
    );
}

#[test]
fn custom_value_mappings_fold_exact_values_only() {
    let processor = processor(
        r#"
sources:
  - name: custom
    remove_originals: true
    mappings:
      ai.operationId: gen_ai.operation.name
      ai.model.id: gen_ai.request.model
      ai.model.provider: gen_ai.provider.name
      ai.usage.promptTokens: gen_ai.usage.input_tokens
      ai.usage.completionTokens: gen_ai.usage.output_tokens
    value_mappings:
      gen_ai.operation.name:
        ai.generateText.doGenerate: chat
        ai.toolCall: execute_tool
"#,
    );
    // The Vercel AI SDK's legacy telemetry.
    assert_same(
        normalize(
            &processor,
            vec![
                s("ai.operationId", "ai.generateText.doGenerate"),
                s("ai.model.id", "gpt-4o"),
                s("ai.model.provider", "openai.chat"),
                i("ai.usage.promptTokens", 10),
                i("ai.usage.completionTokens", 5),
                s("ai.prompt.messages", r#"[{"role":"user","content":"Hi"}]"#),
            ],
        ),
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.provider.name", "openai.chat"),
            i("gen_ai.usage.input_tokens", 10),
            i("gen_ai.usage.output_tokens", 5),
            s("ai.prompt.messages", r#"[{"role":"user","content":"Hi"}]"#),
        ],
    );
    assert_same(
        normalize(
            &processor,
            vec![s("ai.operationId", "ai.toolCall"), s("ai.toolCall.name", "get_weather")],
        ),
        vec![s("gen_ai.operation.name", "execute_tool"), s("ai.toolCall.name", "get_weather")],
    );
    assert_same(
        normalize(&processor, vec![s("ai.operationId", "AI.TOOLCALL")]),
        vec![s("gen_ai.operation.name", "AI.TOOLCALL")],
    );
}

// ---------------------------------------------------------------------------------------------
// Across sources, scopes and spans

#[test]
fn sources_run_in_their_order_each_leaving_what_an_earlier_one_wrote() {
    let attributes = vec![s("llm.model_name", "gpt-4o"), s("llm.request.model", "gpt-4o-mini")];
    let model = |body: &str| value_of(&normalize(&processor(body), attributes.clone()), "gen_ai.request.model");
    assert_eq!(
        model("sources:\n  - name: openinference\n  - name: openllmetry\n"),
        Some(text("gpt-4o"))
    );
    assert_eq!(
        model("sources:\n  - name: openllmetry\n  - name: openinference\n"),
        Some(text("gpt-4o-mini"))
    );
    assert_eq!(
        model("sources:\n  - name: openinference\n  - name: openllmetry\n    overwrite: true\n"),
        Some(text("gpt-4o-mini"))
    );
}

#[test]
fn a_scope_that_was_written_takes_the_gen_ai_schema_url() {
    let llm = || span("chat", vec![s("openinference.span.kind", "LLM")]);
    let plain = || span("GET /", vec![s("http.route", "/")]);
    let data = || ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("session.id", "resource")],
                ..Default::default()
            }),
            scope_spans: vec![
                scope(vec![llm()], ""),
                scope(vec![plain(), llm()], "https://opentelemetry.io/schemas/1.26.0"),
                scope(vec![plain()], ""),
            ],
            schema_url: "https://opentelemetry.io/schemas/1.21.0".to_string(),
        }],
    };
    let schema_urls = |body: &str| {
        let mut request = data();
        processor(body).process_traces(&mut request).unwrap();
        let resource_spans = &request.resource_spans[0];
        assert_eq!(resource_spans.schema_url, "https://opentelemetry.io/schemas/1.21.0");
        assert_eq!(
            resource_spans.resource.as_ref().unwrap().attributes,
            vec![s("session.id", "resource")]
        );
        resource_spans.scope_spans.iter().map(|s| s.schema_url.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        schema_urls("sources:\n  - name: openinference\n"),
        [SCHEMA_URL, "https://opentelemetry.io/schemas/1.26.0", ""]
    );
    assert_eq!(
        schema_urls("overwrite_schema_url: true\nsources:\n  - name: openinference\n"),
        [SCHEMA_URL, SCHEMA_URL, ""]
    );
}

#[test]
fn only_span_attributes_change() {
    let processor = processor("sources:\n  - name: openinference\n    remove_originals: true\n");
    let mut chat = span("ChatCompletion", vec![s("openinference.span.kind", "LLM")]);
    chat.events = vec![Event {
        name: "exception".to_string(),
        attributes: vec![s("session.id", "event")],
        ..Default::default()
    }];
    chat.links = vec![Link {
        trace_id: vec![3; 16],
        span_id: vec![4; 8],
        attributes: vec![s("tool.name", "link")],
        ..Default::default()
    }];
    let mut data = request(vec![scope(vec![chat.clone()], "")]);
    processor.process_traces(&mut data).unwrap();
    let after = &data.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(after.name, chat.name);
    assert_eq!(after.events, chat.events);
    assert_eq!(after.links, chat.links);
    assert_eq!(after.attributes, vec![s("gen_ai.operation.name", "chat")]);
}

#[test]
fn numbers_and_values_print_as_go_prints_them() {
    assert_eq!(go_float(1e21).as_deref(), Some("1e+21"));
    assert_eq!(go_float(1.5e-7).as_deref(), Some("1.5e-7"));
    assert_eq!(go_float(0.000001).as_deref(), Some("0.000001"));
    assert_eq!(go_float(100.0).as_deref(), Some("100"));
    assert_eq!(go_float(-2.5).as_deref(), Some("-2.5"));
    assert_eq!(go_float(f64::NAN), None);
    let value = |kv: KeyValue| kv.value.unwrap();
    assert_eq!(as_string(Some(&value(d("x", f64::INFINITY)))), "json: unsupported value: +Inf");
    assert_eq!(
        as_string(Some(&value(map("x", vec![s("b", "x<y"), i("a", 1), s("b", "last")])))),
        r#"{"a":1,"b":"last"}"#
    );
    assert_eq!(
        as_string(Some(&value(map("x", vec![strings("l", &["a\n", "\u{1}"])])))),
        r#"{"l":["a\n","\u0001"]}"#
    );
    assert_eq!(go_parse_float("1e400"), None);
    assert_eq!(go_parse_float("-Inf"), Some(f64::NEG_INFINITY));
}
