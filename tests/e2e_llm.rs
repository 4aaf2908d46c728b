//! Normalized LLM telemetry through the real binary: agent runs sent over OTLP/HTTP JSON in several
//! dialects come back from `/api/v1/llm/*` with exact tokens, reported or computed costs (saying which),
//! their messages (from span attributes or from log events), run filters met by different spans, flags,
//! config prices; and retention takes the normalized rows with their spans.

mod common;
use common::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const MS: u64 = 1_000_000;

// ---------------------------------------------------------------------------
// OTLP/JSON builders

/// An OTLP/JSON `AnyValue` from plain JSON: objects become kvlists, integers `intValue`s.
fn any(value: &Value) -> Value {
    match value {
        Value::String(text) => json!({ "stringValue": text }),
        Value::Bool(flag) => json!({ "boolValue": flag }),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({ "intValue": n.to_string() }),
        Value::Number(n) => json!({ "doubleValue": n.as_f64() }),
        Value::Array(items) => json!({ "arrayValue": { "values": items.iter().map(any).collect::<Vec<_>>() } }),
        Value::Object(map) => json!({ "kvlistValue": { "values": key_values(map) } }),
        Value::Null => json!({}),
    }
}

fn key_values(map: &Map<String, Value>) -> Vec<Value> {
    map.iter().map(|(key, value)| json!({ "key": key, "value": any(value) })).collect()
}

/// Attributes from a JSON object: `attributes(&json!({"gen_ai.operation.name": "chat"}))`.
fn attributes(object: &Value) -> Vec<Value> {
    key_values(object.as_object().expect("attributes are a JSON object"))
}

/// One test trace: its id and its start, `seconds_ago` before now.
struct Trace {
    no: u64,
    start_ns: u64,
}

impl Trace {
    fn new(no: u64, seconds_ago: u64) -> Trace {
        Trace {
            no,
            start_ns: now_ns() - seconds_ago * 1_000 * MS,
        }
    }

    fn id(&self) -> String {
        format!("e2e11a00{:024x}", self.no)
    }

    fn span_id(&self, n: u64) -> String {
        format!("{:08x}{:08x}", self.no, n)
    }

    /// Span `n` (1 is the root, every other span its child), starting `at_ms` into the trace.
    fn span(&self, n: u64, name: &str, at_ms: u64, duration_ms: u64, attrs: Value) -> Value {
        // The root serves the request; the others are calls out (model APIs, tools).
        let kind = if n == 1 { 2 } else { 3 };
        let mut span = json!({
            "traceId": self.id(),
            "spanId": self.span_id(n),
            "name": name,
            "kind": kind,
            "startTimeUnixNano": (self.start_ns + at_ms * MS).to_string(),
            "endTimeUnixNano": (self.start_ns + (at_ms + duration_ms) * MS).to_string(),
            "attributes": attributes(&attrs),
        });
        if n != 1 {
            span["parentSpanId"] = json!(self.span_id(1));
        }
        span
    }
}

/// The span with an error status.
fn failed(mut span: Value, message: &str) -> Value {
    span["status"] = json!({ "code": 2, "message": message });
    span
}

/// An OTLP/JSON traces request: `spans` of one service, with more resource attributes in `resource`.
fn traces(service: &str, resource: Value, spans: Vec<Value>) -> Value {
    let mut resource_attrs = resource;
    resource_attrs["service.name"] = json!(service);
    json!({
        "resourceSpans": [{
            "resource": { "attributes": attributes(&resource_attrs) },
            "scopeSpans": [{ "scope": { "name": "e2e-llm" }, "spans": spans }],
        }]
    })
}

fn logs(service: &str, records: Vec<Value>) -> Value {
    json!({
        "resourceLogs": [{
            "resource": { "attributes": attributes(&json!({ "service.name": service })) },
            "scopeLogs": [{ "scope": { "name": "e2e-llm" }, "logRecords": records }],
        }]
    })
}

/// Where a GenAI event log record says its name.
enum EventName {
    /// `LogRecord.event_name` (`eventName` in OTLP/JSON).
    Field,
    /// The `event.name` attribute of SDKs that predate that field.
    Attribute,
}

/// A GenAI event as a log record of `trace`'s span `span`, `at_ms` into the trace.
fn event_log(trace: &Trace, span: u64, at_ms: u64, name: &str, how: EventName, body: Value) -> Value {
    let mut attrs = json!({ "gen_ai.system": "openai" });
    let mut record = json!({
        "timeUnixNano": (trace.start_ns + at_ms * MS).to_string(),
        "traceId": trace.id(),
        "spanId": trace.span_id(span),
        "body": any(&body),
    });
    match how {
        EventName::Field => record["eventName"] = json!(name),
        EventName::Attribute => attrs["event.name"] = json!(name),
    }
    record["attributes"] = json!(attributes(&attrs));
    record
}

// ---------------------------------------------------------------------------
// Talking to the box

/// POSTs OTLP/JSON to the box's OTLP/HTTP receiver (`/v1/traces` or `/v1/logs`); 200 means committed.
fn send(b: &Box, path: &str, body: &Value) {
    let answer = b.post(path, "application/json", serde_json::to_vec(body).unwrap());
    let status = answer.status().as_u16();
    assert_eq!(status, 200, "{path}: {}", answer.text().unwrap_or_default());
}

/// A filter text as a query-string value.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `GET /api/v1/llm/runs` with this query string ("" or `?...`): the runs, newest first.
fn runs(b: &Box, query: &str) -> Vec<Value> {
    let (status, body) = b.get_json(&format!("/api/v1/llm/runs{query}"));
    assert_eq!(status, 200, "{query}: {body}");
    body["runs"].as_array().unwrap().clone()
}

/// The runs whose spans satisfy the filter `q`, as a set of trace ids.
fn runs_matching(b: &Box, q: &str) -> BTreeSet<String> {
    runs(b, &format!("?q={}", encoded(q)))
        .iter()
        .map(|run| run["trace_id"].as_str().unwrap().to_string())
        .collect()
}

fn run_of<'a>(runs: &'a [Value], trace: &Trace) -> &'a Value {
    runs.iter()
        .find(|run| run["trace_id"] == trace.id().as_str())
        .unwrap_or_else(|| panic!("no run for trace {} in {runs:?}", trace.id()))
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

fn close(actual: &Value, expected: f64) -> bool {
    actual.as_f64().is_some_and(|usd| (usd - expected).abs() < 1e-12)
}

/// A `gpt-4o-mini` chat call in OTel GenAI with 120 input tokens (64 of them cache reads) and 30 output.
fn mini_chat(more: Value) -> Value {
    let mut attrs = json!({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.usage.cache_read.input_tokens": 64,
    });
    for (key, value) in more.as_object().unwrap() {
        attrs[key] = value.clone();
    }
    attrs
}

/// What one `mini_chat` costs at the shipped prices (USD per 1M: input 0.15, cache read 0.075, output 0.6).
fn mini_chat_shipped_cost() -> f64 {
    (56.0 * 0.15 + 64.0 * 0.075 + 30.0 * 0.6) / 1e6
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn a_run_in_otel_genai_has_exact_tokens_computed_cost_and_its_messages_from_log_events() {
    let b = Box::start(&["--memory"]);
    let t = Trace::new(1, 60);
    let question = "What is the weather in Paris?";
    let second_input = json!([
        { "role": "user", "parts": [{ "type": "text", "content": question }] },
        { "role": "assistant", "parts": [
            { "type": "text", "content": "Let me check." },
            { "type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": { "city": "Paris" } },
        ] },
        { "role": "tool", "parts": [{ "type": "tool_call_response", "id": "call_1", "response": "sunny, 21°C" }] },
    ]);
    let second_output = json!([
        { "role": "assistant", "parts": [{ "type": "text", "content": "Sunny, 21°C in Paris." }], "finish_reason": "stop" },
    ]);
    let spans = vec![
        t.span(
            1,
            "invoke_agent planner",
            0,
            20,
            json!({
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "planner",
                "gen_ai.conversation.id": "conv-1",
            }),
        ),
        t.span(2, "chat gpt-4o-mini", 1, 3, mini_chat(json!({}))),
        t.span(
            3,
            "execute_tool get_weather",
            5,
            1,
            json!({
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "get_weather",
                "gen_ai.tool.call.id": "call_1",
                "gen_ai.tool.call.arguments": r#"{"city":"Paris"}"#,
                "gen_ai.tool.call.result": "sunny, 21°C",
            }),
        ),
        failed(
            t.span(
                4,
                "execute_tool get_stock",
                7,
                1,
                json!({
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "get_stock",
                    "gen_ai.tool.call.id": "call_2",
                }),
            ),
            "upstream timeout",
        ),
        t.span(
            5,
            "chat gpt-4o-mini",
            9,
            3,
            mini_chat(json!({
                "gen_ai.input.messages": second_input.to_string(),
                "gen_ai.output.messages": second_output.to_string(),
            })),
        ),
    ];
    send(&b, "/v1/traces", &traces("agent-api", json!({}), spans));
    // The first call's messages as the per-message events of OTel GenAI v1.28 to v1.36, one by
    // `LogRecord.event_name`, one by the older `event.name` attribute.
    let choice = json!({
        "index": 0,
        "finish_reason": "tool_calls",
        "message": {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [{
                "id": "call_1",
                "type": "function",
                "function": { "name": "get_weather", "arguments": r#"{"city":"Paris"}"# },
            }],
        },
    });
    let records = vec![
        event_log(&t, 2, 1, "gen_ai.user.message", EventName::Field, json!({ "content": question })),
        event_log(&t, 2, 4, "gen_ai.choice", EventName::Attribute, choice),
    ];
    send(&b, "/v1/logs", &logs("agent-api", records));

    let listed = runs(&b, "");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let run = &listed[0];
    assert_eq!(run["trace_id"], t.id().as_str());
    assert_eq!(run["agent"], "planner");
    assert_eq!(run["session_id"], "conv-1");
    assert_eq!(run["root_name"], "invoke_agent planner");
    assert_eq!(run["root_service"], "agent-api");
    assert_eq!(names(&run["models"]), ["gpt-4o-mini"]);
    assert_eq!(names(&run["providers"]), ["openai"]);
    assert_eq!(
        (run["llm_calls"].as_i64(), run["tool_calls"].as_i64(), run["tool_errors"].as_i64()),
        (Some(2), Some(2), Some(1))
    );
    assert_eq!(run["tokens"]["input"], 240, "{run}");
    assert_eq!(run["tokens"]["output"], 60, "{run}");
    assert_eq!(run["tokens"]["cache_read"], 128, "{run}");
    assert_eq!((run["input_tokens"].as_i64(), run["output_tokens"].as_i64()), (Some(240), Some(60)));
    let cost = &run["cost"];
    assert_eq!(cost["source"], "computed", "{run}");
    assert!(cost["table"].as_str().unwrap().starts_with("otelbox-prices"), "{cost}");
    assert!(
        close(&cost["usd"], 2.0 * mini_chat_shipped_cost()),
        "uncached input, cache reads and output each at their price: {cost}"
    );
    assert_eq!(cost["unpriced_calls"], 0);
    assert!(names(&run["dialects"]).contains(&"otel_genai"), "{run}");
    let tools: Vec<(&str, i64, i64)> = run["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| {
            (
                tool["name"].as_str().unwrap(),
                tool["calls"].as_i64().unwrap(),
                tool["errors"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(tools, [("get_stock", 1, 1), ("get_weather", 1, 0)]);
    assert_eq!(run["flags"], json!([]), "nothing repeated, nothing stormed");

    let (status, detail) = b.get_json(&format!("/api/v1/llm/runs/{}", t.id()));
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["run"]["tokens"], run["tokens"], "the run page sums as the list does");
    assert_eq!(detail["run"]["cost"], run["cost"]);
    let spans = detail["spans"].as_array().unwrap();
    let shown: Vec<(&str, &str)> = spans
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["operation"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [
            ("invoke_agent planner", "agent"),
            ("chat gpt-4o-mini", "llm_call"),
            ("execute_tool get_weather", "tool"),
            ("execute_tool get_stock", "tool"),
            ("chat gpt-4o-mini", "llm_call"),
        ],
        "every LLM span in start order"
    );
    let starts: Vec<i64> = spans.iter().map(|s| s["start_unix_nano"].as_i64().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");

    let first = &spans[1];
    assert_eq!(first["span_id"], t.span_id(2).as_str());
    assert_eq!(first["request_model"], "gpt-4o-mini");
    assert_eq!(first["response_model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(first["tokens"]["input"], 120);
    assert_eq!(first["cost"]["source"], "computed");
    assert!(close(&first["cost"]["usd"], mini_chat_shipped_cost()), "{}", first["cost"]);
    let input = first["messages"]["input"].as_array().unwrap();
    assert_eq!(input.len(), 1, "the user message of the log event: {input:?}");
    assert_eq!(input[0]["role"], "user");
    assert_eq!(input[0]["parts"][0]["type"], "text");
    assert_eq!(input[0]["parts"][0]["content"], question);
    let output = first["messages"]["output"].as_array().unwrap();
    assert_eq!(output.len(), 1, "the choice of the log event: {output:?}");
    assert_eq!(output[0]["role"], "assistant");
    assert_eq!(output[0]["finish_reason"], "tool_calls");
    assert_eq!(output[0]["parts"][0]["type"], "text");
    assert_eq!(output[0]["parts"][0]["content"], "Let me check.");
    let call = &output[0]["parts"][1];
    assert_eq!(
        (call["type"].as_str(), call["id"].as_str(), call["name"].as_str()),
        (Some("tool_call"), Some("call_1"), Some("get_weather"))
    );
    assert_eq!(call["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(first["new_input_from"], 0, "nothing was shown before the first call");

    let weather = &spans[2];
    assert_eq!(weather["status"], "ok");
    assert_eq!(weather["tool"]["name"], "get_weather");
    assert_eq!(weather["tool"]["call_id"], "call_1");
    assert_eq!(weather["tool"]["result"], "sunny, 21°C");
    let stock = &spans[3];
    assert_eq!(stock["status"], "error", "{stock}");
    assert_eq!(stock["error"], "upstream timeout");
    assert_eq!(stock["tool"]["name"], "get_stock");
    assert_eq!(stock["tool"]["status"], "error");

    let second = &spans[4];
    let input = second["messages"]["input"].as_array().unwrap();
    assert_eq!(input.len(), 3, "{input:?}");
    assert_eq!(
        second["new_input_from"], 2,
        "the user message and the assistant's answer were shown by the first call; the tool result is new"
    );
    assert_eq!(input[2]["role"], "tool");
    assert_eq!(input[2]["parts"][0]["type"], "tool_call_response");
    assert_eq!(input[2]["parts"][0]["id"], "call_1");
    assert_eq!(input[2]["parts"][0]["content"], "sunny, 21°C");
    let output = &second["messages"]["output"][0];
    assert_eq!(
        (output["role"].as_str(), output["finish_reason"].as_str()),
        (Some("assistant"), Some("stop"))
    );
    assert_eq!(output["parts"][0]["content"], "Sunny, 21°C in Paris.");

    // Message text, wherever it was sent: words in any order and case from the log events of the first
    // call ("Let me check.") and the attributes of the second ("Sunny, 21°C in Paris.").
    for q in [r#"llm.text ~ "check LET""#, r#"llm.text ~ "paris sunny""#] {
        assert_eq!(runs(&b, &format!("?q={}", encoded(q))).len(), 1, "{q}");
    }
    assert!(
        runs(&b, &format!("?q={}", encoded(r#"llm.text ~ "paris rainy""#))).is_empty(),
        "every word must be there"
    );
    assert_eq!(
        runs(&b, &format!("?q={}", encoded("llm.operation = tool and llm.dialect = otel_genai"))).len(),
        1
    );
    let (status, body) = b.get_json(&format!("/api/v1/llm/runs?q={}", encoded("llm.dialect = klingon")));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("openinference"),
        "the error lists the names: {body}"
    );

    let (status, body) = b.get_json("/api/v1/llm/sessions");
    assert_eq!(status, 200, "{body}");
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{body}");
    let session = &sessions[0];
    assert_eq!(session["session_id"], "conv-1");
    assert_eq!(session["runs"], 1);
    assert_eq!(names(&session["agents"]), ["planner"]);
    assert_eq!(names(&session["models"]), ["gpt-4o-mini"]);
    assert_eq!((session["llm_calls"].as_i64(), session["tool_calls"].as_i64()), (Some(2), Some(2)));
    assert_eq!(session["tokens"], run["tokens"]);
    assert!(close(&session["cost"]["usd"], 2.0 * mini_chat_shipped_cost()), "{session}");

    let (status, body) = b.get_json("/api/v1/llm/models");
    assert_eq!(status, 200, "{body}");
    let models = body["models"].as_array().unwrap();
    assert_eq!(models.len(), 1, "{body}");
    let model = &models[0];
    assert_eq!(
        (model["model"].as_str(), model["provider"].as_str()),
        (Some("gpt-4o-mini"), Some("openai"))
    );
    assert_eq!((model["calls"].as_i64(), model["errors"].as_i64()), (Some(2), Some(0)));
    assert_eq!(model["tokens"]["input"], 240);
    assert!(close(&model["cost"]["usd"], 2.0 * mini_chat_shipped_cost()), "{model}");
    let agents = body["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1, "{body}");
    let agent = &agents[0];
    assert_eq!(agent["agent"], "planner");
    assert_eq!(agent["runs"], 1);
    assert_eq!(
        (
            agent["llm_calls"].as_i64(),
            agent["tool_calls"].as_i64(),
            agent["tool_errors"].as_i64()
        ),
        (Some(2), Some(2), Some(1))
    );
}

#[test]
fn a_reported_cost_wins_over_the_price_table_and_says_which_key() {
    let b = Box::start(&["--memory"]);
    // OpenLIT names itself in telemetry.sdk.name and reports each call's cost in gen_ai.usage.cost.
    let openlit = json!({ "telemetry.sdk.name": "openlit" });
    let reported = Trace::new(1, 60);
    let openlit_chat = |more: Value| {
        let mut attrs = mini_chat(more);
        attrs["telemetry.sdk.name"] = json!("openlit");
        attrs
    };
    send(
        &b,
        "/v1/traces",
        &traces(
            "docs-bot",
            openlit.clone(),
            vec![reported.span(1, "chat gpt-4o-mini", 0, 3, openlit_chat(json!({ "gen_ai.usage.cost": 0.5 })))],
        ),
    );
    // One call with a reported cost, one without: a run of both is `mixed`.
    let mixed = Trace::new(2, 30);
    send(
        &b,
        "/v1/traces",
        &traces(
            "docs-bot",
            openlit,
            vec![
                mixed.span(1, "chat gpt-4o-mini", 0, 3, openlit_chat(json!({ "gen_ai.usage.cost": 0.5 }))),
                mixed.span(2, "chat gpt-4o-mini", 5, 3, openlit_chat(json!({}))),
            ],
        ),
    );

    let listed = runs(&b, "");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let run = run_of(&listed, &reported);
    assert!(names(&run["dialects"]).contains(&"openlit"), "{run}");
    assert_eq!(run["tokens"]["input"], 120, "tokens are counted all the same");
    assert_eq!(run["cost"]["source"], "reported", "{run}");
    assert_eq!(
        run["cost"]["usd"],
        0.5,
        "the reported cost, not the price table's {}",
        mini_chat_shipped_cost()
    );
    assert_eq!(run["cost"]["table"], "", "no cost was computed");

    let (status, detail) = b.get_json(&format!("/api/v1/llm/runs/{}", reported.id()));
    assert_eq!(status, 200, "{detail}");
    let cost = &detail["spans"][0]["cost"];
    assert_eq!(cost["source"], "reported", "{cost}");
    assert_eq!(cost["key"], "gen_ai.usage.cost", "the call says which attribute its cost came from");
    assert_eq!(cost["table"], "");
    assert_eq!(cost["usd"], 0.5);

    let run = run_of(&listed, &mixed);
    assert_eq!(run["cost"]["source"], "mixed", "{run}");
    assert!(close(&run["cost"]["usd"], 0.5 + mini_chat_shipped_cost()), "{run}");
    assert!(run["cost"]["table"].as_str().unwrap().starts_with("otelbox-prices"), "{run}");
    let (_, detail) = b.get_json(&format!("/api/v1/llm/runs/{}", mixed.id()));
    let sources: Vec<&str> = detail["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["cost"]["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["reported", "computed"]);
    assert_eq!(detail["spans"][1]["cost"]["key"], "");
}

#[test]
fn runs_match_conditions_met_by_different_spans() {
    let b = Box::start(&["--memory"]);
    let gpt4o_chat = || {
        json!({
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 10,
        })
    };
    let tool = |name: &str| json!({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name });
    // A: its gpt-4o call went well, its tool failed.
    let a = Trace::new(1, 90);
    // B: gpt-4o, nothing failed.
    let b_run = Trace::new(2, 60);
    // C: a model the price table does not know, whose call failed.
    let c = Trace::new(3, 30);
    let spans = vec![
        a.span(1, "chat gpt-4o", 0, 3, gpt4o_chat()),
        failed(a.span(2, "execute_tool get_stock", 5, 1, tool("get_stock")), "upstream timeout"),
        b_run.span(1, "chat gpt-4o", 0, 3, gpt4o_chat()),
        b_run.span(2, "execute_tool get_weather", 5, 1, tool("get_weather")),
        failed(
            c.span(
                1,
                "chat my-finetune",
                0,
                3,
                json!({
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "my-finetune",
                    "gen_ai.usage.input_tokens": 100,
                    "gen_ai.usage.output_tokens": 10,
                }),
            ),
            "rate limited",
        ),
    ];
    send(&b, "/v1/traces", &traces("agent-api", json!({}), spans));
    let only = |traces: &[&Trace]| -> BTreeSet<String> { traces.iter().map(|t| t.id()).collect() };

    assert_eq!(runs_matching(&b, "status = error"), only(&[&a, &c]));
    assert_eq!(
        runs_matching(&b, r#"llm.model = "gpt-4o" and status = error"#),
        only(&[&a]),
        "A's gpt-4o call and A's failed tool are different spans; B failed nowhere; C is not gpt-4o"
    );
    assert_eq!(runs_matching(&b, r#"llm.model = "gpt-4o""#), only(&[&a, &b_run]));
    assert_eq!(runs_matching(&b, r#"llm.tool = "get_stock""#), only(&[&a]));
    assert_eq!(
        runs_matching(&b, "llm.cost > 0"),
        only(&[&a, &b_run]),
        "C's model has no price, so no cost"
    );
    let listed = runs(&b, "");
    let c_run = run_of(&listed, &c);
    assert!(
        c_run["cost"].is_null(),
        "an unpriced model's run has no cost rather than 0: {c_run}"
    );

    let (status, body) = b.get_json(&format!("/api/v1/llm/runs?q={}", encoded(r#"llm.cost > "x""#)));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_filter", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("llm.cost") && message.contains("number"), "{message}");
}

#[test]
fn runs_in_openinference_and_mlflow_and_plain_keys_are_listed() {
    let b = Box::start(&["--memory"]);
    let oi = Trace::new(1, 90);
    let openinference = vec![
        oi.span(
            1,
            "weather_agent",
            0,
            20,
            json!({ "openinference.span.kind": "AGENT", "session.id": "sess-oi" }),
        ),
        oi.span(
            2,
            "ChatCompletion",
            1,
            3,
            json!({
                "openinference.span.kind": "LLM",
                "llm.provider": "openai",
                "llm.model_name": "gpt-4o-mini-2024-07-18",
                "llm.token_count.prompt": 100,
                "llm.token_count.completion": 20,
            }),
        ),
        oi.span(
            3,
            "get_weather",
            5,
            1,
            json!({ "openinference.span.kind": "TOOL", "tool.name": "get_weather" }),
        ),
    ];
    // MLflow JSON-encodes every value.
    let ml = Trace::new(2, 60);
    let mlflow = vec![
        ml.span(1, "planner", 0, 20, json!({ "mlflow.spanType": r#""AGENT""#, "mlflow.spanInputs": r#"{"question": "Hi?"}"# })),
        ml.span(
            2,
            "Completions",
            1,
            3,
            json!({
                "mlflow.spanType": r#""CHAT_MODEL""#,
                "mlflow.spanInputs": r#"{"messages": [{"role": "user", "content": "Hi"}], "model": "gpt-4o-mini"}"#,
                "mlflow.spanOutputs": r#"{"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}]}"#,
                "mlflow.chat.tokenUsage": r#"{"input_tokens": 20, "output_tokens": 3, "total_tokens": 23}"#,
                "mlflow.llm.provider": r#""openai""#,
                "mlflow.llm.cost": r#"{"input_cost": 3e-06, "output_cost": 1.8e-06, "total_cost": 4.8e-06}"#,
                "run_id": r#""run-ml""#,
            }),
        ),
    ];
    // The plain keys of agent-tracing guides: the run's root speaks no LLM convention at all.
    let pk = Trace::new(3, 30);
    let plain = vec![
        pk.span(1, "agent_run", 0, 20, json!({ "run_id": "run-plain" })),
        pk.span(
            2,
            "llm_call",
            1,
            3,
            json!({
                "run_id": "run-plain",
                "llm.provider": "anthropic",
                "llm.model": "claude-3-5-sonnet-20241022",
                "llm.tokens_in": 1500,
                "llm.tokens_out": 200,
                "llm.cost_usd": 0.0075,
            }),
        ),
        pk.span(
            3,
            "tool_call",
            5,
            1,
            json!({ "run_id": "run-plain", "tool.name": "web_search", "tool.status": "error" }),
        ),
    ];
    send(&b, "/v1/traces", &traces("agent-oi", json!({}), openinference));
    send(&b, "/v1/traces", &traces("agent-mlflow", json!({}), mlflow));
    send(&b, "/v1/traces", &traces("agent-plain", json!({}), plain));

    let listed = runs(&b, "");
    assert_eq!(listed.len(), 3, "{listed:?}");
    let dialects = ["openinference", "mlflow", "plain_keys"];
    let speaks_only = |run: &Value, dialect: &str| {
        let spoken = names(&run["dialects"]);
        assert!(spoken.contains(&dialect), "{dialect}: {run}");
        for other in dialects.iter().filter(|d| **d != dialect) {
            assert!(!spoken.contains(other), "{dialect} run listed as {other}: {run}");
        }
    };

    let run = run_of(&listed, &oi);
    speaks_only(run, "openinference");
    assert_eq!(run["agent"], "weather_agent");
    assert_eq!(run["session_id"], "sess-oi");
    assert_eq!((run["llm_calls"].as_i64(), run["tool_calls"].as_i64()), (Some(1), Some(1)));
    assert_eq!(
        (run["tokens"]["input"].as_i64(), run["tokens"]["output"].as_i64()),
        (Some(100), Some(20))
    );
    assert_eq!(run["cost"]["source"], "computed", "{run}");

    let run = run_of(&listed, &ml);
    speaks_only(run, "mlflow");
    assert_eq!(run["agent"], "planner");
    assert_eq!(run["run_id"], "run-ml", "decoded from MLflow's JSON string");
    assert_eq!(names(&run["models"]), ["gpt-4o-mini"]);
    assert_eq!(
        (run["tokens"]["input"].as_i64(), run["tokens"]["output"].as_i64()),
        (Some(20), Some(3))
    );
    assert_eq!(run["cost"]["source"], "reported", "{run}");
    assert!(close(&run["cost"]["usd"], 4.8e-06), "{run}");

    let run = run_of(&listed, &pk);
    speaks_only(run, "plain_keys");
    assert_eq!(run["run_id"], "run-plain");
    assert_eq!(run["root_name"], "agent_run");
    assert_eq!(names(&run["models"]), ["claude-3-5-sonnet-20241022"]);
    assert_eq!(
        (run["llm_calls"].as_i64(), run["tool_calls"].as_i64(), run["tool_errors"].as_i64()),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(
        (run["tokens"]["input"].as_i64(), run["tokens"]["output"].as_i64()),
        (Some(1500), Some(200))
    );
    assert!(close(&run["cost"]["usd"], 0.0075), "{run}");

    for (trace, dialect) in [(&oi, "openinference"), (&ml, "mlflow"), (&pk, "plain_keys")] {
        assert_eq!(
            runs_matching(&b, &format!(r#"llm.dialect = "{dialect}""#)),
            BTreeSet::from([trace.id()]),
            "{dialect}"
        );
    }
}

#[test]
fn repeated_identical_tool_calls_flag_the_run() {
    let b = Box::start(&["--memory"]);
    let agent = json!({ "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "looper" });
    let weather = |city: &str| {
        json!({
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.arguments": format!(r#"{{"city":"{city}"}}"#),
        })
    };
    let same = Trace::new(1, 60);
    let different = Trace::new(2, 30);
    let mut spans = vec![
        same.span(1, "invoke_agent looper", 0, 20, agent.clone()),
        different.span(1, "invoke_agent looper", 0, 20, agent),
    ];
    for (i, city) in ["Paris", "Lyon", "Nice"].into_iter().enumerate() {
        let (n, at) = (i as u64 + 2, i as u64 * 2 + 1);
        spans.push(same.span(n, "execute_tool get_weather", at, 1, weather("Paris")));
        spans.push(different.span(n, "execute_tool get_weather", at, 1, weather(city)));
    }
    send(&b, "/v1/traces", &traces("agent-api", json!({}), spans));

    let listed = runs(&b, "");
    let kinds = |run: &Value| -> Vec<String> {
        run["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["kind"].as_str().unwrap().to_string())
            .collect()
    };
    let run = run_of(&listed, &same);
    assert_eq!(run["tool_calls"], 3);
    assert!(kinds(run).contains(&"repeated_tool_call".to_string()), "{run}");
    let flag = run["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "repeated_tool_call")
        .unwrap();
    assert!(flag["message"].as_str().unwrap().contains("get_weather"), "{flag}");
    let run = run_of(&listed, &different);
    assert!(
        !kinds(run).contains(&"repeated_tool_call".to_string()),
        "the same tool with other arguments is not a repetition: {run}"
    );
}

/// A config whose `otelbox` exporter sets `llm_prices` (the rest as in the built-in config).
fn config_with_prices(name: &str, prices: &str) -> std::path::PathBuf {
    let file = temp_dir(name).join("otelbox.yaml");
    std::fs::write(
        &file,
        format!(
            r#"
receivers:
  otlp:
    protocols:
      http: {{ endpoint: "127.0.0.1:4318" }}
exporters:
  otelbox:
    llm_prices:
{prices}
service:
  pipelines:
    traces: {{ receivers: [otlp], exporters: [otelbox] }}
"#
        ),
    )
    .unwrap();
    file
}

#[test]
fn a_config_price_replaces_the_shipped_one() {
    // 1 USD per input token, output free; no cache_read price, so cache reads cost the input price.
    let file = config_with_prices("llm-prices", "      - { model: gpt-4o-mini, input: 1000000, output: 0 }");
    let b = Box::start(&["--memory", "--config", file.to_str().unwrap()]);
    let mini = Trace::new(1, 60);
    let other = Trace::new(2, 30);
    let gpt4o = json!({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 10,
    });
    let spans = vec![
        mini.span(1, "chat gpt-4o-mini", 0, 3, mini_chat(json!({}))),
        other.span(1, "chat gpt-4o", 0, 3, gpt4o),
    ];
    send(&b, "/v1/traces", &traces("agent-api", json!({}), spans));

    let listed = runs(&b, "");
    let cost = &run_of(&listed, &mini)["cost"];
    assert_eq!(cost["source"], "computed", "{cost}");
    assert!(
        close(&cost["usd"], 56.0 + 64.0),
        "56 uncached and 64 cached input tokens at 1 USD each (the shipped cache price is gone with the entry): {cost}"
    );
    assert!(cost["table"].as_str().unwrap().ends_with("+ config"), "{cost}");
    // Models the config does not name keep their shipped prices (gpt-4o: input 2.5, output 10 per 1M).
    let cost = &run_of(&listed, &other)["cost"];
    assert!(close(&cost["usd"], (100.0 * 2.5 + 10.0 * 10.0) / 1e6), "{cost}");
    assert!(cost["table"].as_str().unwrap().ends_with("+ config"), "{cost}");
}

#[test]
fn a_negative_config_price_is_refused_at_start_up_naming_llm_prices() {
    let file = config_with_prices("llm-prices-negative", "      - { model: gpt-4o-mini, input: -1, output: 0.6 }");
    let (grpc, http, ui) = (free_port(), free_port(), free_port());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_otelbox"))
        .args(["up", "--memory", "--config", file.to_str().unwrap()])
        .args([
            "--grpc-port",
            &grpc.to_string(),
            "--http-port",
            &http.to_string(),
            "--ui-port",
            &ui.to_string(),
        ])
        .env_remove("OTELBOX_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("otelbox started with a negative price");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("llm_prices"), "the error names the setting: {stderr}");
    assert!(stderr.contains("non-negative"), "and says what is wrong: {stderr}");
    assert!(std::net::TcpListener::bind(("127.0.0.1", ui)).is_ok(), "nothing was started");
}

/// The `llm_spans` rows of `trace` (through their spans, which hold the trace id).
async fn llm_rows_of(store: &std::sync::Arc<otelbox::store::Store>, trace: &Trace) -> i64 {
    let hex = trace.id();
    let id: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    store
        .read(move |c| {
            Ok(c.query_row(
                "SELECT count(*) FROM llm_spans l JOIN spans s ON s.id = l.id WHERE s.trace_id = ?1",
                [id],
                |r| r.get::<_, i64>(0),
            )?)
        })
        .await
        .unwrap()
}

/// Every row of `llm_spans`, counted in the table itself (rows left behind by a deleted span included).
async fn all_llm_rows(store: &std::sync::Arc<otelbox::store::Store>) -> i64 {
    store
        .read(|c| Ok(c.query_row("SELECT count(*) FROM llm_spans", [], |r| r.get::<_, i64>(0))?))
        .await
        .unwrap()
}

#[tokio::test]
async fn llm_spans_go_with_their_spans_under_retention() {
    use otelbox::store::read::{self, TimeRange};
    use otelbox::store::retention::Retention;
    use otelbox::store::{Location, Store, StoreConfig};

    let store = Store::open(StoreConfig {
        location: Location::Memory,
        retention: Retention {
            max_age: Some(Duration::from_secs(3600)),
            max_bytes: None,
        },
        durable_sync: false,
    })
    .unwrap();
    let write = |body: Value| {
        let store = store.clone();
        async move {
            let request = otelbox::pdata::json::decode_traces(&serde_json::to_vec(&body).unwrap()).unwrap();
            store.write_committed(otelbox::store::rows::flatten_traces(request)).await.unwrap();
        }
    };
    let run = |t: &Trace, session: &str, model: &str| {
        traces(
            "agent-api",
            json!({}),
            vec![
                t.span(
                    1,
                    "invoke_agent planner",
                    0,
                    20,
                    json!({ "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner", "gen_ai.conversation.id": session }),
                ),
                t.span(
                    2,
                    "chat",
                    1,
                    3,
                    json!({
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": model,
                        "gen_ai.usage.input_tokens": 10,
                        "gen_ai.usage.output_tokens": 1,
                    }),
                ),
                t.span(3, "GET /weather", 5, 1, json!({ "http.request.method": "GET" })),
            ],
        )
    };
    let (old, new) = (Trace::new(1, 60), Trace::new(2, 30));
    write(run(&old, "old-session", "gpt-4o-mini")).await;
    assert_eq!(
        llm_rows_of(&store, &old).await,
        2,
        "the agent and chat spans have rows, the HTTP span none"
    );
    // Arrived two hours ago: retention by age counts from arrival.
    store.backdate_arrivals(Duration::from_secs(2 * 3600)).await.unwrap();
    write(run(&new, "new-session", "gpt-4o")).await;

    // The writer runs retention on its own; wait for the old run's spans to go.
    let mut spans = 0;
    for _ in 0..100 {
        spans = store.read(read::counts).await.unwrap().spans;
        if spans == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(spans, 3, "only the new run's spans remain");
    assert_eq!(all_llm_rows(&store).await, 2, "the old run's llm_spans rows went with its spans");
    assert_eq!(llm_rows_of(&store, &new).await, 2, "the new run's stay");

    let (models, agents, _) = store.read(|c| otelbox::store::llm::llm_models(c, TimeRange::ALL)).await.unwrap();
    let models: Vec<&str> = models.iter().map(|m| m.model.as_str()).collect();
    assert_eq!(models, ["gpt-4o"]);
    assert_eq!(agents.iter().map(|a| a.runs).sum::<i64>(), 1);
    let (sessions, _) = store
        .read(|c| otelbox::store::llm::llm_sessions(c, TimeRange::ALL, 100))
        .await
        .unwrap();
    let sessions: Vec<&str> = sessions.iter().map(|s| s.session.as_str()).collect();
    assert_eq!(sessions, ["new-session"]);
    let runs = store
        .read(|c| {
            otelbox::store::llm::llm_runs(
                c,
                &otelbox::store::sql::AnyResourceAttrs,
                &otelbox::store::llm::RunQuery::default(),
                TimeRange::ALL,
                10,
            )
        })
        .await
        .unwrap();
    let listed: Vec<String> = runs.iter().map(|r| otelbox::pdata::hex_id(&r.trace.trace_id)).collect();
    assert_eq!(listed, [new.id()]);
}
