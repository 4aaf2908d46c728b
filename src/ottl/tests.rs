//! Tests of the OTTL subset through its public API: evaluation on real OTLP items, every
//! editor and converter, and parse errors with their exact columns.

use super::value::key_value;
use super::*;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, Sum};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};

// ---------------------------------------------------------------------------
// Fixtures

fn s(text: &str) -> Value {
    Value::Str(text.to_string())
}

fn kv(key: &str, value: Value) -> KeyValue {
    key_value(key.to_string(), value)
}

fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID: &str = "00f067aa0ba902b7";

/// A 9-second root server span that failed, with attributes of every type.
fn sample_span() -> Span {
    Span {
        trace_id: hex::decode(TRACE_ID).unwrap(),
        span_id: hex::decode(SPAN_ID).unwrap(),
        name: "GET /users/42".into(),
        kind: 2,
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 10_000_000_000,
        status: Some(Status {
            code: 2,
            message: "boom".into(),
        }),
        attributes: vec![
            kv("http.route", s("/users/{id}")),
            kv("http.status_code", Value::Int(500)),
            kv("db.statement", s("select * from t where name = 'bob' and pw = 'x'")),
            kv("ratio", Value::Double(0.5)),
            kv("flag", Value::Bool(true)),
            kv("long", s(&"x".repeat(300))),
            kv("nested", map(&[("a", map(&[("b", s("deep"))]))])),
            kv("list", Value::List(vec![s("x"), s("y")])),
        ],
        ..Default::default()
    }
}

fn sample_resource(service: &str) -> Resource {
    Resource {
        attributes: vec![kv("service.name", s(service))],
        ..Default::default()
    }
}

fn sample_scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "io.opentelemetry.http".into(),
        ..Default::default()
    }
}

fn sample_log() -> LogRecord {
    LogRecord {
        time_unix_nano: 5,
        severity_number: 13,
        severity_text: "WARN".into(),
        body: Some(s("user bob logged in from 10.0.0.1 with password hunter2").into()),
        attributes: vec![kv("user", s("bob")), kv("password", s("hunter2")), kv("count", Value::Int(3))],
        trace_id: hex::decode(TRACE_ID).unwrap(),
        ..Default::default()
    }
}

fn cond(text: &str, context: Context) -> Condition {
    parse_condition(text, context).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn stmt(text: &str, context: Context) -> Statement {
    parse_statement(text, context).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// Evaluates a span condition on `span` (with service "api").
fn eval_span(span: &mut Span, text: &str) -> bool {
    let (resource, scope) = (sample_resource("api"), sample_scope());
    let ctx = SpanContext::new(span, Some(&resource), Some(&scope));
    cond(text, Context::Span).evaluate(&ctx).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn on_span(text: &str) -> bool {
    eval_span(&mut sample_span(), text)
}

/// Runs span statements in order on a fresh sample span and returns it.
fn run_span(statements: &[&str]) -> Span {
    run_span_for_service(statements, "api")
}

fn run_span_for_service(statements: &[&str], service: &str) -> Span {
    let mut span = sample_span();
    let (resource, scope) = (sample_resource(service), sample_scope());
    for text in statements {
        let mut ctx = SpanContext::new(&mut span, Some(&resource), Some(&scope));
        stmt(text, Context::Span)
            .execute(&mut ctx)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
    span
}

fn on_log(log: &mut LogRecord, text: &str) -> bool {
    let resource = sample_resource("worker");
    let ctx = LogContext::new(log, Some(&resource), None);
    cond(text, Context::Log).evaluate(&ctx).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn run_log(log: &mut LogRecord, statements: &[&str]) {
    let resource = sample_resource("worker");
    for text in statements {
        let mut ctx = LogContext::new(log, Some(&resource), None);
        stmt(text, Context::Log)
            .execute(&mut ctx)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
}

fn attr(span: &Span, key: &str) -> Value {
    Value::from_any(crate::pdata::find_attribute(&span.attributes, key))
}

fn keys(attributes: &[KeyValue]) -> Vec<&str> {
    attributes.iter().map(|kv| kv.key.as_str()).collect()
}

fn body(log: &LogRecord) -> Value {
    Value::from_any(log.body.as_ref())
}

// ---------------------------------------------------------------------------
// Parsing what the spec shows

#[test]
fn spec_examples_parse_in_their_contexts() {
    let span = [
        r#"attributes["http.route"] == "/health""#,
        r#"IsMatch(attributes["url.path"], "^/(healthz|ready)")"#,
        "status.code == STATUS_CODE_ERROR",
        r#"end_time_unix_nano - start_time_unix_nano > Duration("8s")"#,
        "IsRootSpan() and kind == SPAN_KIND_SERVER",
        r#"trace_id.string == "4bf92f3577b34da6a3ce929d0e0e4736" or span_id.string != "" or parent_span_id.string == """#,
        r#"instrumentation_scope.name == "x" and status.message != nil"#,
    ];
    for text in span {
        cond(text, Context::Span);
    }
    cond("severity_number < SEVERITY_NUMBER_WARN", Context::Log);
    cond(r#"name == "noisy.metric" or type == METRIC_DATA_TYPE_HISTOGRAM"#, Context::Metric);
    cond(r#"metric.name == "x" and attributes["k"] == 1"#, Context::DataPoint);
    for text in [
        r#"set(attributes["env"], "dev") where resource.attributes["service.name"] == "api""#,
        r#"replace_pattern(attributes["db.statement"], "'[^']*'", "'?'")"#,
        "truncate_all(attributes, 256)",
    ] {
        stmt(text, Context::Span);
    }
}

// ---------------------------------------------------------------------------
// Conditions on a real span

#[test]
fn span_paths_read_the_span_its_resource_and_scope() {
    for text in [
        r#"name == "GET /users/42""#,
        "kind == SPAN_KIND_SERVER and kind == 2",
        "status.code == STATUS_CODE_ERROR",
        r#"status.message == "boom""#,
        r#"resource.attributes["service.name"] == "api""#,
        r#"instrumentation_scope.name == "io.opentelemetry.http""#,
        r#"trace_id.string == "4bf92f3577b34da6a3ce929d0e0e4736""#,
        r#"span_id.string == "00f067aa0ba902b7""#,
        r#"parent_span_id.string == """#,
        "start_time_unix_nano == 1000000000 and end_time_unix_nano == 10000000000",
        r#"end_time_unix_nano - start_time_unix_nano > Duration("8s")"#,
        r#"end_time_unix_nano - start_time_unix_nano == Duration("9s")"#,
        r#"attributes["http.status_code"] >= 500 and attributes["http.status_code"] < 600"#,
        r#"attributes["ratio"] * 2 == 1"#,
        r#"attributes["flag"] == true"#,
        r#"attributes["nested"]["a"]["b"] == "deep""#,
        r#"attributes["list"][1] == "y""#,
        r#"name > "GET" and name < "HEAD""#,
    ] {
        assert!(on_span(text), "{text}");
    }
    assert!(!on_span(r#"end_time_unix_nano - start_time_unix_nano > Duration("9s")"#));
    assert!(!on_span("kind == SPAN_KIND_CLIENT"));
}

#[test]
fn absent_keys_are_nil() {
    for text in [
        r#"attributes["missing"] == nil"#,
        r#"resource.attributes["nope"] == nil"#,
        r#"attributes["nested"]["zzz"]["q"] == nil"#,
        r#"attributes["missing"] != 1"#,
        r#"not (attributes["missing"] == "x")"#,
        r#"attributes["http.route"] != nil"#,
        r#"String(attributes["missing"]) == nil"#,
    ] {
        assert!(on_span(text), "{text}");
    }
    for text in [
        r#"attributes["missing"] != nil"#,
        r#"attributes["http.route"] == nil"#,
        r#"attributes["missing"] < 1"#,
        r#"IsMatch(attributes["missing"], ".*")"#,
    ] {
        assert!(!on_span(text), "{text}");
    }
}

#[test]
fn mismatched_types_are_only_unequal() {
    assert!(on_span(r#"attributes["http.status_code"] != "500""#));
    for op in ["==", "<", "<=", ">", ">="] {
        let text = format!(r#"attributes["http.status_code"] {op} "500""#);
        assert!(!on_span(&text), "{text}");
    }
    assert!(!on_span(r#"attributes["flag"] > false"#), "bools have no order");
    assert!(!on_span("nil <= nil"), "nil has no order");
    assert!(on_span("nil == nil"));
    assert!(on_span("1 == 1.0 and 2 > 1.5"), "ints and floats compare as numbers");
}

#[test]
fn precedence_and_binds_tighter_than_or() {
    let c = |b| BoolExpr::Const(b);
    assert_eq!(
        cond("true or false and false", Context::Span).expr(),
        &BoolExpr::Or(vec![c(true), BoolExpr::And(vec![c(false), c(false)])])
    );
    assert_eq!(
        cond("false and false or true", Context::Span).expr(),
        &BoolExpr::Or(vec![BoolExpr::And(vec![c(false), c(false)]), c(true)])
    );
    assert!(on_span("true or false and false"));
    assert!(on_span("false and false or true"));
    assert!(!on_span("(true or false) and false"));
}

#[test]
fn precedence_not_binds_to_one_comparison() {
    let compare = BoolExpr::Compare {
        left: ValueExpr::Path(Path {
            field: Field::Kind,
            keys: vec![],
            column: 5,
        }),
        op: CompareOp::Eq,
        right: ValueExpr::Literal(Value::Int(2)),
    };
    assert_eq!(
        cond("not kind == 2 and true", Context::Span).expr(),
        &BoolExpr::And(vec![BoolExpr::Not(Box::new(compare)), BoolExpr::Const(true)])
    );
    assert!(!on_span("not false and false"));
    assert!(on_span("not (false and false)"));
    assert!(on_span("not not true"));
}

#[test]
fn precedence_of_arithmetic() {
    let int = |n| ValueExpr::Literal(Value::Int(n));
    assert_eq!(
        cond("1 + 2 * 3 == 7", Context::Span).expr(),
        &BoolExpr::Compare {
            left: ValueExpr::Math {
                first: Box::new(int(1)),
                rest: vec![MathStep {
                    op: MathOp::Add,
                    column: 3,
                    operand: ValueExpr::Math {
                        first: Box::new(int(2)),
                        rest: vec![MathStep {
                            op: MathOp::Mul,
                            column: 7,
                            operand: int(3)
                        }],
                    },
                }],
            },
            op: CompareOp::Eq,
            right: int(7),
        }
    );
    for text in [
        "1 + 2 * 3 == 7",
        "(1 + 2) * 3 == 9",
        "10 - 2 - 3 == 5",
        "2 * 3 - 4 / 2 == 4",
        "7 / 2 == 3",
        "7.0 / 2 == 3.5",
        "-3 * -2 == 6",
        "1 - -1 == 2",
        "-9223372036854775808 < 0",
    ] {
        assert!(on_span(text), "{text}");
    }
}

// ---------------------------------------------------------------------------
// Converters

#[test]
fn converters_on_a_span() {
    for text in [
        r#"IsMatch(attributes["http.route"], "^/users")"#,
        r#"IsMatch(attributes["http.status_code"], "^5\d\d$")"#,
        r#"Duration("1h30m") == 5400000000000"#,
        r#"Duration("500ms") == 500000000"#,
        r#"Int("12") + 1 == 13"#,
        r#"Int(attributes["ratio"]) == 0"#,
        r#"Int("twelve") == nil"#,
        r#"String(attributes["http.status_code"]) == "500""#,
        r#"String(attributes["ratio"]) == "0.5""#,
        r#"String(kind) == "2""#,
        r#"Concat([name, attributes["http.route"], attributes["missing"], 1], "|") == "GET /users/42|/users/{id}|<nil>|1""#,
        "IsRootSpan()",
        "IsRootSpan() == true",
    ] {
        assert!(on_span(text), "{text}");
    }
    assert!(!on_span("not IsRootSpan()"));
    let mut child = sample_span();
    child.parent_span_id = vec![1; 8];
    assert!(!eval_span(&mut child, "IsRootSpan()"));
}

#[test]
fn converters_on_a_log_record() {
    let mut log = sample_log();
    for text in [
        r#"IsMatch(body, "\d+\.\d+\.\d+\.\d+")"#,
        "severity_number >= SEVERITY_NUMBER_WARN and severity_number < SEVERITY_NUMBER_ERROR",
        r#"String(severity_number) == "13""#,
        r#"Int(attributes["count"]) * 2 == 6"#,
        r#"Concat([severity_text, attributes["user"]], ":") == "WARN:bob""#,
        r#"resource.attributes["service.name"] == "worker""#,
        r#"trace_id.string == "4bf92f3577b34da6a3ce929d0e0e4736" and time_unix_nano == 5"#,
        r#"instrumentation_scope.name == """#,
    ] {
        assert!(on_log(&mut log, text), "{text}");
    }
}

// ---------------------------------------------------------------------------
// Editors on a span

#[test]
fn set_writes_fields_and_attributes() {
    let span = run_span(&[
        r#"set(attributes["env"], "dev") where resource.attributes["service.name"] == "api""#,
        r#"set(name, Concat([name, "!"], ""))"#,
        "set(status.code, STATUS_CODE_OK)",
        r#"set(status.message, "fine")"#,
        "set(kind, SPAN_KIND_CLIENT)",
        r#"set(end_time_unix_nano, start_time_unix_nano + Duration("1s"))"#,
        r#"set(attributes["nested"]["a"]["c"], 1)"#,
        r#"set(attributes["fresh"]["x"], true)"#,
        r#"set(attributes["list"][0], "first")"#,
        r#"set(parent_span_id.string, "00f067aa0ba902b8")"#,
        r#"set(attributes["copy"], attributes["http.status_code"])"#,
    ]);
    assert_eq!(attr(&span, "env"), s("dev"));
    assert_eq!(span.name, "GET /users/42!");
    assert_eq!(span.status.as_ref().map(|st| (st.code, st.message.as_str())), Some((1, "fine")));
    assert_eq!(span.kind, 3);
    assert_eq!(span.end_time_unix_nano, 2_000_000_000);
    assert_eq!(attr(&span, "nested"), map(&[("a", map(&[("b", s("deep")), ("c", Value::Int(1))]))]));
    assert_eq!(attr(&span, "fresh"), map(&[("x", Value::Bool(true))]));
    assert_eq!(attr(&span, "list"), Value::List(vec![s("first"), s("y")]));
    assert_eq!(hex::encode(&span.parent_span_id), "00f067aa0ba902b8");
    assert_eq!(attr(&span, "copy"), Value::Int(500));
}

#[test]
fn set_is_skipped_by_where_and_by_nil() {
    let span = run_span_for_service(
        &[
            r#"set(attributes["env"], "dev") where resource.attributes["service.name"] == "api""#,
            r#"set(attributes["http.route"], attributes["missing"])"#,
        ],
        "billing",
    );
    assert_eq!(attr(&span, "env"), Value::Nil);
    assert_eq!(attr(&span, "http.route"), s("/users/{id}"));
}

#[test]
fn delete_key_delete_matching_keys_and_keep_keys() {
    let span = run_span(&[r#"delete_key(attributes, "http.route")"#]);
    assert_eq!(attr(&span, "http.route"), Value::Nil);
    assert_eq!(span.attributes.len(), 7);
    let span = run_span(&[r#"delete_matching_keys(attributes, "^http\.")"#]);
    assert_eq!(keys(&span.attributes), ["db.statement", "ratio", "flag", "long", "nested", "list"]);
    let span = run_span(&[r#"keep_keys(attributes, ["flag", "http.route", "absent"])"#]);
    assert_eq!(keys(&span.attributes), ["http.route", "flag"]);
    // Nested maps are maps too.
    let span = run_span(&[
        r#"delete_key(attributes["nested"]["a"], "b")"#,
        r#"keep_keys(attributes["missing"], [])"#,
    ]);
    assert_eq!(attr(&span, "nested"), map(&[("a", map(&[]))]));
}

#[test]
fn replace_pattern_rewrites_one_string() {
    let span = run_span(&[
        r#"replace_pattern(attributes["db.statement"], "'[^']*'", "'?'")"#,
        r#"replace_pattern(name, "/users/\d+", "/users/{id}")"#,
        // Not a string: left alone.
        r#"replace_pattern(attributes["http.status_code"], "5", "4")"#,
    ]);
    assert_eq!(attr(&span, "db.statement"), s("select * from t where name = '?' and pw = '?'"));
    assert_eq!(span.name, "GET /users/{id}");
    assert_eq!(attr(&span, "http.status_code"), Value::Int(500));
    let span = run_span(&[r#"replace_pattern(name, "^(\w+) .*", "method=$1")"#]);
    assert_eq!(span.name, "method=GET");
}

#[test]
fn replace_all_patterns_in_values_and_keys() {
    let span = run_span(&[r#"replace_all_patterns(attributes, "value", "[a-z]+", "w")"#]);
    assert_eq!(attr(&span, "http.route"), s("/w/{w}"));
    assert_eq!(attr(&span, "http.status_code"), Value::Int(500), "only strings change");
    let span = run_span(&[r#"replace_all_patterns(attributes, "key", "^http\.", "h.")"#]);
    assert_eq!(&keys(&span.attributes)[..2], ["h.route", "h.status_code"]);
    // A rename onto an existing key keeps the later entry.
    let span = run_span(&[r#"replace_all_patterns(attributes, "key", "^(ratio|flag)$", "same")"#]);
    assert_eq!(attr(&span, "same"), Value::Bool(true));
    assert_eq!(span.attributes.len(), 7);
}

#[test]
fn truncate_all_and_limit() {
    let span = run_span(&["truncate_all(attributes, 5)"]);
    assert_eq!(attr(&span, "long"), s("xxxxx"));
    assert_eq!(attr(&span, "http.route"), s("/user"));
    assert_eq!(attr(&span, "http.status_code"), Value::Int(500));
    let mut span = sample_span();
    span.attributes = vec![kv("e", s("ééé"))];
    let resource = sample_resource("api");
    let mut ctx = SpanContext::new(&mut span, Some(&resource), None);
    stmt("truncate_all(attributes, 5)", Context::Span).execute(&mut ctx).unwrap();
    assert_eq!(attr(&span, "e"), s("éé"), "cut at a character boundary");

    let span = run_span(&[r#"limit(attributes, 3, ["flag", "list"])"#]);
    assert_eq!(keys(&span.attributes), ["http.route", "flag", "list"]);
    let span = run_span(&["limit(attributes, 2)"]);
    assert_eq!(keys(&span.attributes), ["http.route", "http.status_code"]);
    let span = run_span(&["limit(attributes, 100)"]);
    assert_eq!(span.attributes.len(), 8);
}

// ---------------------------------------------------------------------------
// Editors on a log record

#[test]
fn editors_on_a_log_record() {
    let mut log = sample_log();
    run_log(
        &mut log,
        &[
            r#"replace_pattern(body, "\d+\.\d+\.\d+\.\d+", "<ip>")"#,
            r#"set(body, "redacted") where IsMatch(body, "password")"#,
            "set(severity_text, String(severity_number))",
            "set(severity_number, SEVERITY_NUMBER_ERROR)",
            r#"set(attributes["n"], Int("42"))"#,
            r#"delete_key(attributes, "password")"#,
            "truncate_all(attributes, 2)",
            "set(time_unix_nano, time_unix_nano * 1000)",
        ],
    );
    assert_eq!(body(&log), s("redacted"));
    assert_eq!(log.severity_text, "13");
    assert_eq!(log.severity_number, 17);
    assert_eq!(keys(&log.attributes), ["user", "count", "n"]);
    assert_eq!(Value::from_any(crate::pdata::find_attribute(&log.attributes, "user")), s("bo"));
    assert_eq!(log.time_unix_nano, 5000);

    // A structured body: keys into it read and write.
    let mut log = sample_log();
    log.body = Some(map(&[("user", s("bob")), ("password", s("x")), ("tags", Value::List(vec![s("a")]))]).into());
    assert!(on_log(
        &mut log,
        r#"body["user"] == "bob" and body["tags"][0] == "a" and body["nope"] == nil"#
    ));
    run_log(
        &mut log,
        &[
            r#"keep_keys(body, ["user", "tags"])"#,
            r#"set(body["meta"]["seen"], true)"#,
            r#"replace_all_patterns(body, "value", "b", "B")"#,
        ],
    );
    assert_eq!(
        body(&log),
        map(&[
            ("user", s("BoB")),
            ("tags", Value::List(vec![s("a")])),
            ("meta", map(&[("seen", Value::Bool(true))])),
        ])
    );
}

// ---------------------------------------------------------------------------
// Other contexts

#[test]
fn metric_and_data_point_contexts() {
    let mut metric = Metric {
        name: "noisy.metric".into(),
        data: Some(Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                attributes: vec![kv("http.method", s("GET")), kv("host", s("a"))],
                ..Default::default()
            }],
            ..Default::default()
        })),
        ..Default::default()
    };
    let mut ctx = MetricContext { metric: &mut metric };
    assert!(cond(r#"name == "noisy.metric" and type == METRIC_DATA_TYPE_SUM"#, Context::Metric)
        .evaluate(&ctx)
        .unwrap());
    stmt(r#"set(unit, "ms")"#, Context::Metric).execute(&mut ctx).unwrap();
    stmt(r#"set(description, Concat([name, unit], " in "))"#, Context::Metric)
        .execute(&mut ctx)
        .unwrap();
    assert_eq!(metric.description, "noisy.metric in ms");

    let Metric { name, data, .. } = &mut metric;
    let Some(Data::Sum(sum)) = data else { unreachable!() };
    let mut ctx = DataPointContext::number(&mut sum.data_points[0], name);
    let drop = cond(
        r#"metric.name == "noisy.metric" and attributes["http.method"] == "GET""#,
        Context::DataPoint,
    );
    assert!(drop.evaluate(&ctx).unwrap());
    stmt(r#"delete_key(attributes, "http.method")"#, Context::DataPoint)
        .execute(&mut ctx)
        .unwrap();
    assert!(!drop.evaluate(&ctx).unwrap());
    assert_eq!(keys(&sum.data_points[0].attributes), ["host"]);

    let mut histogram = Histogram {
        data_points: vec![HistogramDataPoint::default()],
        ..Default::default()
    };
    let mut ctx = DataPointContext::histogram(&mut histogram.data_points[0], "latency");
    stmt(
        r#"set(attributes["bucketed"], true) where metric.name == "latency""#,
        Context::DataPoint,
    )
    .execute(&mut ctx)
    .unwrap();
    assert_eq!(keys(&histogram.data_points[0].attributes), ["bucketed"]);
}

#[test]
fn span_event_and_resource_contexts() {
    let mut event = Event {
        name: "exception".into(),
        time_unix_nano: 7,
        attributes: vec![kv("exception.type", s("IOError"))],
        ..Default::default()
    };
    let resource = sample_resource("api");
    let mut ctx = SpanEventContext {
        event: &mut event,
        span_name: "GET /users/42",
        resource: Some((&resource).into()),
        scope: None,
    };
    let text =
        r#"name == "exception" and span.name == "GET /users/42" and attributes["exception.type"] == "IOError" and time_unix_nano == 7"#;
    assert!(cond(text, Context::SpanEvent).evaluate(&ctx).unwrap());
    stmt(
        r#"set(attributes["seen"], resource.attributes["service.name"])"#,
        Context::SpanEvent,
    )
    .execute(&mut ctx)
    .unwrap();
    assert_eq!(keys(&event.attributes), ["exception.type", "seen"]);

    let mut resource = sample_resource("api");
    let mut ctx = ResourceContext { resource: &mut resource };
    stmt(
        r#"set(attributes["deployment.environment"], "dev") where attributes["service.name"] == "api""#,
        Context::Resource,
    )
    .execute(&mut ctx)
    .unwrap();
    assert_eq!(keys(&resource.attributes), ["service.name", "deployment.environment"]);
}

// ---------------------------------------------------------------------------
// Run-time errors

fn span_runtime_error(text: &str) -> String {
    let mut span = sample_span();
    let resource = sample_resource("api");
    let mut ctx = SpanContext::new(&mut span, Some(&resource), None);
    let result = match parse_statement(text, Context::Span) {
        Ok(statement) => statement.execute(&mut ctx),
        Err(_) => cond(text, Context::Span).evaluate(&ctx).map(|_| ()),
    };
    result.expect_err(text).to_string()
}

#[test]
fn runtime_errors_name_their_column() {
    assert_eq!(
        span_runtime_error(r#"attributes["http.route"] + 1 > 0"#),
        "column 26: cannot add a string and an int; arithmetic needs ints or floats"
    );
    assert_eq!(
        span_runtime_error(r#"1 / (attributes["http.status_code"] - 500) == 0"#),
        "column 3: division by zero"
    );
    assert_eq!(
        span_runtime_error(r#"attributes["http.route"][0] == "x""#),
        "column 1: cannot index [0] into a string; only lists have indexes"
    );
    assert_eq!(
        span_runtime_error(r#"attributes["list"][5] == "x""#),
        "column 1: index 5 is out of range for a list of 2"
    );
    assert_eq!(span_runtime_error("set(name, 1)"), "column 5: name expects a string, got an int");
    assert_eq!(
        span_runtime_error(r#"set(trace_id.string, "abc")"#),
        "column 5: trace_id.string must be 32 hex characters, got \"abc\""
    );
    assert_eq!(
        span_runtime_error("Duration(name) > 0"),
        "column 1: Duration: expected a duration such as \"500ms\" or \"1h30m\", got \"GET /users/42\""
    );
    assert_eq!(
        span_runtime_error(r#"set(attributes["http.route"]["x"], 1)"#),
        "column 5: cannot look up [\"x\"] in a string; only maps have string keys"
    );
    assert_eq!(
        span_runtime_error(r#"keep_keys(attributes["list"], [])"#),
        "column 11: attributes[\"list\"] is a list, not a map"
    );
    assert_eq!(
        span_runtime_error(r#"set(attributes, attributes["list"])"#),
        "column 5: attributes: expected a map, got a list"
    );
    // A failed statement changed nothing.
    let mut log = sample_log();
    let resource = sample_resource("worker");
    let mut ctx = LogContext::new(&mut log, Some(&resource), None);
    let e = stmt(r#"set(body["user"], "x")"#, Context::Log).execute(&mut ctx).unwrap_err();
    assert_eq!(
        e.to_string(),
        "column 5: cannot look up [\"user\"] in a string; only maps have string keys"
    );
    assert_eq!(log, sample_log());
}

#[test]
fn a_tree_for_one_context_refuses_another() {
    let mut span = sample_span();
    let ctx = SpanContext::new(&mut span, None, None);
    let e = cond("severity_number > 1", Context::Log).evaluate(&ctx).unwrap_err();
    assert_eq!(e.to_string(), "column 1: parsed for the log context but evaluated on span data");
}

// ---------------------------------------------------------------------------
// Parse errors, with their exact columns

fn cerr(text: &str, context: Context) -> String {
    match parse_condition(text, context) {
        Err(e) => e.to_string(),
        Ok(c) => panic!("{text:?} parsed to {:?}", c.expr()),
    }
}

fn serr(text: &str, context: Context) -> String {
    match parse_statement(text, context) {
        Err(e) => e.to_string(),
        Ok(st) => panic!("{text:?} parsed to {:?}", st.editor()),
    }
}

const SPAN_PATHS: &str = "name, kind, status.code, status.message, attributes[...], resource.attributes[...], \
resource.dropped_attributes_count, instrumentation_scope.name, trace_id.string, span_id.string, parent_span_id.string, \
start_time_unix_nano, end_time_unix_nano";

const DATA_POINT_PATHS: &str = "attributes[...], metric.name, metric.description, metric.unit, metric.type, \
resource.attributes[...], resource.dropped_attributes_count, instrumentation_scope.name";

const CONVERTER_NAMES: &str = "IsMatch, Duration, Int, Double, String, Concat, Split, Substring, ToLowerCase, \
ToUpperCase, Len, SHA256, UUID, IsMap, IsString, IsInt, IsDouble, IsBool, IsList, IsRootSpan, ParseJSON";

const EDITOR_NAMES: &str = "set, delete_key, delete_matching_keys, keep_keys, keep_matching_keys, replace_pattern, \
replace_all_patterns, replace_match, replace_all_matches, merge_maps, flatten, truncate_all, limit, convert_sum_to_gauge, \
convert_gauge_to_sum, set_semconv_span_name";

#[test]
fn error_unknown_path() {
    let span = Context::Span;
    assert_eq!(
        cerr(r#"attributes2["x"] == 1"#, span),
        format!("column 1: unknown path 'attributes2' in the span context; expected one of {SPAN_PATHS}")
    );
    assert_eq!(
        cerr(r#"name == "x" and severity_number > 9"#, span),
        format!("column 17: unknown path 'severity_number' in the span context; expected one of {SPAN_PATHS}")
    );
    assert_eq!(
        cerr("name == 1", Context::DataPoint),
        format!("column 1: unknown path 'name' in the datapoint context; expected one of {DATA_POINT_PATHS}")
    );
    assert_eq!(
        serr("set(trace_id, 1)", span),
        format!("column 5: unknown path 'trace_id' in the span context; expected one of {SPAN_PATHS}")
    );
    assert_eq!(cerr("status. == 1", span), "column 9: expected a name after '.', found '=='");
    assert_eq!(
        cerr(r#"name["x"] == 1"#, span),
        "column 5: name is not a map or list, so it takes no [key]"
    );
    assert_eq!(
        cerr("attributes[0] == 1", span),
        "column 12: expected a string key such as attributes[\"http.route\"]; attribute keys are strings"
    );
    assert_eq!(
        cerr(r#"attributes["a" == 1"#, span),
        "column 16: expected ']' to close '[' at column 11, found '=='"
    );
    assert_eq!(
        cerr("attributes[] == 1", span),
        "column 12: expected a string key or an index after '[', found ']'"
    );
    assert_eq!(
        serr(r#"set(resource.attributes["x"], "y")"#, Context::Scope),
        "column 5: resource.attributes is read-only in the scope context"
    );
    assert_eq!(
        serr("set(type, 1)", Context::Metric),
        "column 5: type is read-only in the metric context"
    );
}

#[test]
fn error_unknown_function() {
    let span = Context::Span;
    assert_eq!(
        cerr(r#"IsMatches(name, "x")"#, span),
        format!("column 1: unknown converter 'IsMatches'; expected one of {CONVERTER_NAMES}")
    );
    assert_eq!(
        serr(r#"sett(name, "x")"#, span),
        format!("column 1: unknown editor 'sett'; expected one of {EDITOR_NAMES}")
    );
    assert_eq!(
        serr(r#"set(name, Upper(name))"#, span),
        format!("column 11: unknown converter 'Upper'; expected one of {CONVERTER_NAMES}")
    );
    assert_eq!(
        cerr(r#"name == "a" and set(name, "b")"#, span),
        format!("column 17: set is an editor, which changes data; a condition or value can only call the converters {CONVERTER_NAMES}")
    );
    assert_eq!(
        serr(r#"IsMatch(name, "a")"#, span),
        format!("column 1: IsMatch is a converter; a statement starts with one of the editors {EDITOR_NAMES}")
    );
    assert_eq!(
        cerr("IsRootSpan", span),
        "column 11: expected '(' after the converter IsRootSpan, found end of input"
    );
    assert_eq!(serr("set name", span), "column 5: expected '(' after set, found 'name'");
    assert_eq!(
        cerr("IsRootSpan()", Context::Log),
        "column 1: IsRootSpan() needs a span; it is not available in the log context"
    );
}

#[test]
fn error_wrong_arity() {
    let span = Context::Span;
    assert_eq!(
        serr("set(name)", span),
        "column 9: set expects 2 arguments: set(target, value); got 1"
    );
    assert_eq!(serr("set()", span), "column 5: set expects 2 arguments: set(target, value); got 0");
    assert_eq!(
        serr(r#"set(name, "a", "b")"#, span),
        "column 16: too many arguments; set expects 2 arguments: set(target, value)"
    );
    assert_eq!(
        cerr("IsRootSpan(1)", span),
        "column 12: too many arguments; IsRootSpan expects no arguments: IsRootSpan()"
    );
    assert_eq!(
        cerr("IsMatch(name)", span),
        "column 13: IsMatch expects 2 arguments: IsMatch(target, pattern); got 1"
    );
    assert_eq!(
        serr("limit(attributes)", span),
        "column 17: limit expects 2 to 3 arguments: limit(target, limit[, priority_keys]); got 1"
    );
    assert_eq!(
        serr(r#"set(name, "x""#, span),
        "column 14: expected ')' after the arguments of set, found end of input"
    );
    assert_eq!(
        serr(r#"set(name "x")"#, span),
        "column 10: expected ',' or ')' after argument 1 of set, found string \"x\""
    );
    assert_eq!(serr(r#"set(name, "x",)"#, span), "column 15: expected a value after ',', found ')'");
}

#[test]
fn error_bad_arguments() {
    let span = Context::Span;
    let e = cerr(r#"IsMatch(name, "(")"#, span);
    assert!(
        e.starts_with("column 15: expected a valid regular expression as the pattern of IsMatch: "),
        "{e}"
    );
    assert!(e.contains("unclosed group"), "{e}");
    let e = serr(r#"replace_pattern(name, "[", "x")"#, span);
    assert!(
        e.starts_with("column 23: expected a valid regular expression as the pattern of replace_pattern: "),
        "{e}"
    );
    let e = serr(r#"delete_matching_keys(attributes, "a{99999999}")"#, span);
    assert!(e.starts_with("column 34: expected a valid regular expression"), "{e}");
    assert_eq!(
        cerr(r#"IsMatch(name, name)"#, span),
        "column 15: expected a string as the pattern of IsMatch, found the path name"
    );
    assert_eq!(
        serr(r#"replace_all_patterns(attributes, "keys", "a", "b")"#, span),
        "column 34: expected \"key\" or \"value\" as the mode of replace_all_patterns, found string \"keys\""
    );
    assert_eq!(
        serr("truncate_all(attributes, -1)", span),
        "column 26: expected a non-negative integer as the limit of truncate_all, found -1"
    );
    assert_eq!(
        serr(r#"limit(attributes, 1, ["a", "b"])"#, span),
        "column 19: limit 1 is less than the 2 priority keys; expected at least 2"
    );
    assert_eq!(
        serr(r#"keep_keys(attributes, "a")"#, span),
        "column 23: expected a list of strings such as [\"a\", \"b\"] as the keys of keep_keys, found string \"a\""
    );
    assert_eq!(
        serr(r#"keep_keys(name, ["a"])"#, span),
        "column 11: expected a map such as attributes as the target of keep_keys, found name, which is not a map"
    );
    assert_eq!(
        serr(r#"set("x", 1)"#, span),
        "column 5: expected a path as the target of set, found string \"x\""
    );
    assert_eq!(
        cerr(r#"end_time_unix_nano > Duration("5 minutes")"#, span),
        "column 31: expected a duration such as \"500ms\", \"1.5s\" or \"1h30m\", found string \"5 minutes\""
    );
    assert_eq!(
        cerr(r#"Concat("a", "-") == "a""#, span),
        "column 8: expected a list such as [\"a\", attributes[\"b\"]] as the values of Concat, found string \"a\""
    );
}

#[test]
fn error_lexical() {
    let span = Context::Span;
    assert_eq!(
        cerr(r#"name == "abc"#, span),
        "column 9: unterminated string; expected a closing '\"'"
    );
    assert_eq!(
        serr(r#"set(name, "abc)"#, span),
        "column 11: unterminated string; expected a closing '\"'"
    );
    assert_eq!(
        cerr("kind == 500ms", span),
        "column 12: unexpected 'm' after a number; quote text, and write durations as Duration(\"500ms\")"
    );
    assert_eq!(
        cerr("kind == 99999999999999999999", span),
        "column 9: integer 99999999999999999999 is out of range; ints are 64-bit"
    );
    assert_eq!(cerr("kind == 1e999", span), "column 9: number 1e999 is out of range");
    assert_eq!(cerr("name = 1", span), "column 6: unexpected '='; compare with '=='");
}

#[test]
fn error_structure() {
    let span = Context::Span;
    assert_eq!(
        cerr(r#"name == "a" foo"#, span),
        "column 13: unexpected 'foo' after a complete condition; join conditions with 'and' or 'or'"
    );
    assert_eq!(
        cerr(r#"name == "a" AND kind == 1"#, span),
        "column 13: unexpected 'AND' after a complete condition; join conditions with 'and' or 'or'"
    );
    assert_eq!(
        serr(r#"set(name, "a") foo"#, span),
        "column 16: expected 'where' or end of input after set(...), found 'foo'"
    );
    assert_eq!(
        serr(r#"set(name, "a") where name == "b" )"#, span),
        "column 34: unexpected ')' without a matching '('"
    );
    assert_eq!(cerr("", span), "column 1: expected a condition, found end of input");
    assert_eq!(cerr(" \t ", span), "column 1: expected a condition, found end of input");
    assert_eq!(serr("", span), "column 1: expected an editor such as set(...), found end of input");
    assert_eq!(
        serr("   ", span),
        "column 4: expected an editor such as set(...), found end of input"
    );
    assert_eq!(
        serr(r#"set(name, "a") where"#, span),
        "column 21: expected a condition after 'where', found end of input"
    );
    assert_eq!(
        cerr("name", span),
        "column 1: expected a condition, found the path name; compare it with ==, !=, <, <=, > or >="
    );
    assert_eq!(
        cerr(r#"name == "a" and kind"#, span),
        "column 17: expected a condition on each side of 'and', found the path kind; compare it with ==, !=, <, <=, > or >="
    );
    assert_eq!(
        cerr(r#"Duration("1s")"#, span),
        "column 1: expected a condition, found Duration(...), which returns an int"
    );
    assert_eq!(cerr("1 < 2 < 3", span), "column 7: comparisons do not chain; join them with 'and'");
    assert_eq!(
        cerr(r#"name + "x" == "a""#, span),
        "column 8: expected a number after '+', found string \"x\""
    );
    assert_eq!(
        cerr("(1 == 1) == true", span),
        "column 1: expected a value before '==', found a condition"
    );
    assert_eq!(
        cerr(r#"(name == "a""#, span),
        "column 13: expected ')' to close '(' at column 1, found end of input"
    );
    assert_eq!(cerr("name ==", span), "column 8: expected a value after '==', found end of input");
    assert_eq!(
        cerr(r#"name == "a" and"#, span),
        "column 16: expected a condition after 'and', found end of input"
    );
    assert_eq!(cerr("()", span), "column 2: expected a condition or value after '(', found ')'");
    assert_eq!(cerr("kind == - name", span), "column 11: expected a number after '-', found 'name'");
    assert_eq!(
        cerr("kind == SPAN_KIND_SERVERS", span),
        "column 9: unknown enum 'SPAN_KIND_SERVERS'; expected one of SPAN_KIND_UNSPECIFIED, SPAN_KIND_INTERNAL, \
SPAN_KIND_SERVER, SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER"
    );
    assert_eq!(cerr("TRUE", span), "column 1: keywords are lowercase; write 'true'");
    assert_eq!(
        serr(r#"set(attributes["x"], [1, 2)"#, span),
        "column 27: expected ',' or ']' in the list opened at column 22, found ')'"
    );
    let long = format!(r#"name == "{}""#, "a".repeat(MAX_INPUT_CHARS));
    assert_eq!(cerr(&long, span), "column 65537: text too long; expected at most 65536 characters");
}

#[test]
fn error_deep_nesting_is_reported_not_overflowed() {
    let span = Context::Span;
    let deep = format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000));
    let too_deep = |col: usize| {
        format!("column {col}: expression nested too deeply; expected at most {MAX_DEPTH} levels of parentheses, brackets, calls and 'not'")
    };
    assert_eq!(cerr(&deep, span), too_deep(65));
    assert_eq!(serr(&format!("set(name, {deep})"), span), too_deep(74));
    assert_eq!(cerr(&format!("{}true", "not ".repeat(10_000)), span), too_deep(257));
    assert_eq!(serr(&format!("set(name, {})", "[".repeat(10_000)), span), too_deep(74));
    let nested_calls = format!("{}name{} == nil", "String(".repeat(5_000), ")".repeat(5_000));
    assert_eq!(cerr(&nested_calls, span), too_deep(7 * 64 + 7));
    // Exactly at the limit is fine, and so are long flat chains.
    let at_limit = format!("{}true{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(on_span(&at_limit));
    let chain = vec!["kind == 2"; 3_000].join(" and ");
    assert!(on_span(&chain));
    let sum = format!("{} == 3000", vec!["1"; 3_000].join(" + "));
    assert!(on_span(&sum));
}

// ---------------------------------------------------------------------------
// Random input

/// xorshift64: tiny, deterministic, good enough to shuffle tokens.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const TOKENS: &[&str] = &[
    "set",
    "delete_key",
    "delete_matching_keys",
    "keep_keys",
    "replace_pattern",
    "replace_all_patterns",
    "truncate_all",
    "limit",
    "IsMatch",
    "Duration",
    "Int",
    "String",
    "Concat",
    "IsRootSpan",
    "Upper",
    "name",
    "kind",
    "status",
    "code",
    "status.code",
    "attributes",
    "resource",
    "resource.attributes",
    "instrumentation_scope.name",
    "trace_id.string",
    "span_id",
    "body",
    "severity_number",
    "time_unix_nano",
    "metric.name",
    "type",
    "start_time_unix_nano",
    "end_time_unix_nano",
    "[\"k\"]",
    "[\"http.route\"]",
    "[\"list\"]",
    "[0]",
    "[1]",
    "[",
    "]",
    "(",
    ")",
    ",",
    ".",
    "and",
    "or",
    "not",
    "where",
    "true",
    "false",
    "nil",
    "AND",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "!",
    "+",
    "-",
    "*",
    "/",
    "\"a\"",
    "\"\"",
    "\"\\\"\"",
    "\"(\"",
    "\"[a-z]+\"",
    "\"^http\\\\.\"",
    "\"key\"",
    "\"value\"",
    "\"500ms\"",
    "\"1h\"",
    "\"x\\",
    "\"",
    "0",
    "1",
    "-1",
    "42",
    "2.5",
    "1e3",
    "99999999999999999999",
    "1.",
    "SPAN_KIND_SERVER",
    "STATUS_CODE_ERROR",
    "SEVERITY_NUMBER_WARN",
    "METRIC_DATA_TYPE_SUM",
    "SPAN_KIND_X",
    "'",
    "&",
    "|",
    "é",
    "\0",
    "🙂",
    " ",
    "\t",
    "\n",
];

const OPERANDS: &[&str] = &[
    "name",
    "kind",
    "attributes[\"http.status_code\"]",
    "attributes[\"missing\"]",
    "attributes[\"list\"][0]",
    "attributes[\"nested\"][\"a\"]",
    "attributes",
    "1",
    "2.5",
    "-7",
    "\"GET\"",
    "nil",
    "true",
    "Duration(\"1s\")",
    "end_time_unix_nano - start_time_unix_nano",
    "Int(attributes[\"ratio\"])",
    "String(kind)",
    "SPAN_KIND_SERVER",
    "attributes[\"ratio\"] * 2",
    "1 / 0",
    "name + 1",
    "Concat([name, 1], \"-\")",
    "body",
    "severity_number",
];

const STATEMENTS: &[&str] = &[
    "set(attributes[\"x\"], ",
    "set(name, ",
    "set(attributes[\"nested\"][\"a\"][\"z\"], ",
    "set(attributes, ",
    "set(body, ",
    "set(severity_number, ",
    "set(kind, ",
];

/// A statement or condition built from the grammar, so many of them parse and run.
fn grammatical(rng: &mut XorShift) -> (String, String) {
    let mut condition = String::new();
    for i in 0..rng.below(4) + 1 {
        if i > 0 {
            condition.push_str(rng.pick(&[" and ", " or ", " and not ", " or ("]));
        }
        let ops = ["==", "!=", "<", "<=", ">", ">="];
        condition.push_str(&format!("{} {} {}", rng.pick(OPERANDS), rng.pick(&ops), rng.pick(OPERANDS)));
    }
    condition.push_str(&")".repeat(condition.matches('(').count().saturating_sub(condition.matches(')').count())));
    let mut statement = format!("{}{})", rng.pick(STATEMENTS), rng.pick(OPERANDS));
    if rng.below(2) == 0 {
        statement = rng
            .pick(&[
                "delete_matching_keys(attributes, \"^h\")",
                "keep_keys(attributes, [\"flag\"])",
                "replace_all_patterns(attributes, \"key\", \"t\", \"T\")",
                "replace_pattern(body, \"o\", \"0\")",
                "truncate_all(attributes, 3)",
                "limit(attributes, 1)",
            ])
            .to_string();
    }
    (format!("{statement} where {condition}"), condition)
}

fn token_soup(rng: &mut XorShift) -> String {
    let mut text = String::new();
    for _ in 0..rng.below(16) {
        text.push_str(rng.pick(TOKENS));
        if rng.below(3) > 0 {
            text.push(' ');
        }
    }
    text
}

/// Parses `text` both ways in a span and a log context and runs whatever parses.
fn parse_and_run(text: &str) -> usize {
    let mut parsed = 0;
    let resource = sample_resource("api");
    for context in [Context::Span, Context::Log] {
        let mut span = sample_span();
        let mut log = sample_log();
        let mut ctx: Box<dyn TransformContext> = match context {
            Context::Span => Box::new(SpanContext::new(&mut span, Some(&resource), None)),
            _ => Box::new(LogContext::new(&mut log, Some(&resource), None)),
        };
        if let Ok(condition) = parse_condition(text, context) {
            parsed += 1;
            let _ = condition.evaluate(ctx.as_ref());
        }
        if let Ok(statement) = parse_statement(text, context) {
            parsed += 1;
            let _ = statement.execute(ctx.as_mut());
        }
    }
    parsed
}

#[test]
fn random_inputs_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut soup_parsed = 0;
    for _ in 0..3_000 {
        soup_parsed += parse_and_run(&token_soup(&mut rng));
    }
    let mut grammar_parsed = 0;
    for _ in 0..1_500 {
        let (statement, condition) = grammatical(&mut rng);
        grammar_parsed += parse_and_run(&statement) + parse_and_run(&condition);
    }
    assert!(soup_parsed > 5, "only {soup_parsed} token soups parsed");
    assert!(grammar_parsed > 1_000, "only {grammar_parsed} grammatical inputs parsed");
    // Arbitrary chars, multi-byte ones included.
    for _ in 0..300 {
        let text: String = (0..rng.below(200))
            .map(|_| char::from_u32(rng.below(0x300) as u32).unwrap_or('x'))
            .collect();
        parse_and_run(&text);
    }
}

#[test]
fn display_is_the_source_text() {
    let text = r#"set(attributes["env"], "dev") where kind == SPAN_KIND_SERVER"#;
    assert_eq!(stmt(text, Context::Span).to_string(), text);
    assert_eq!(cond("true", Context::Span).to_string(), "true");
}

// ---------------------------------------------------------------------------
// Context prefixes on paths

/// A 'time served' sum of one point with attribute http.method=GET.
fn sample_metric() -> Metric {
    Metric {
        name: "http.server.duration".into(),
        description: "time served".into(),
        unit: "ms".into(),
        data: Some(Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                attributes: vec![kv("http.method", s("GET"))],
                ..Default::default()
            }],
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

fn run_metric(metric: &mut Metric, statements: &[&str]) {
    for text in statements {
        let mut ctx = MetricContext { metric: &mut *metric };
        stmt(text, Context::Metric)
            .execute(&mut ctx)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
}

/// Runs span statements in order on the sample span with `attributes` instead of its own.
fn span_with(attributes: Vec<KeyValue>, statements: &[&str]) -> Span {
    let mut span = sample_span();
    span.attributes = attributes;
    let resource = sample_resource("api");
    for text in statements {
        let mut ctx = SpanContext::new(&mut span, Some(&resource), None);
        stmt(text, Context::Span)
            .execute(&mut ctx)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
    span
}

#[test]
fn span_prefixed_paths_read_and_write_the_span() {
    for text in [
        r#"span.name == "GET /users/42""#,
        "span.kind == SPAN_KIND_SERVER",
        "span.status.code == STATUS_CODE_ERROR",
        r#"span.attributes["http.route"] == "/users/{id}""#,
        r#"span.attributes["nested"]["a"]["b"] == "deep""#,
        r#"span.trace_id.string == "4bf92f3577b34da6a3ce929d0e0e4736""#,
        "span.end_time_unix_nano - span.start_time_unix_nano == 9000000000",
        r#"resource.attributes["service.name"] == "api""#,
        "resource.dropped_attributes_count == 0",
        r#"instrumentation_scope.name == "io.opentelemetry.http""#,
        r#"scope.name == "io.opentelemetry.http""#,
    ] {
        assert!(on_span(text), "{text}");
    }
    let span = run_span(&[
        r#"set(span.attributes["copy"], span.name) where span.kind == SPAN_KIND_SERVER"#,
        r#"delete_key(span.attributes, "long")"#,
        r#"set(span.status.message, "fine")"#,
    ]);
    assert_eq!(attr(&span, "copy"), s("GET /users/42"));
    assert_eq!(attr(&span, "long"), Value::Nil);
    assert_eq!(span.status.map(|st| st.message), Some("fine".to_string()));
}

#[test]
fn a_prefix_naming_the_current_context_is_the_same_as_none() {
    let same = |prefixed: &str, plain: &str, context: Context| {
        assert_eq!(cond(prefixed, context).expr(), cond(plain, context).expr(), "{prefixed}");
    };
    same(r#"span.attributes["a"] == 1"#, r#"attributes["a"] == 1"#, Context::Span);
    same(r#"spanevent.name == "x""#, r#"name == "x""#, Context::SpanEvent);
    same(r#"log.body["k"] == "x""#, r#"body["k"] == "x""#, Context::Log);
    same(
        "metric.type == METRIC_DATA_TYPE_SUM",
        "type == METRIC_DATA_TYPE_SUM",
        Context::Metric,
    );
    same(r#"datapoint.attributes["a"] == 1"#, r#"attributes["a"] == 1"#, Context::DataPoint);
    same(r#"resource.attributes["a"] == 1"#, r#"attributes["a"] == 1"#, Context::Resource);
    same(r#"scope.name == "x""#, r#"instrumentation_scope.name == "x""#, Context::Log);
    assert_eq!(
        stmt(r#"set(span.name, "x")"#, Context::Span).editor(),
        stmt(r#"set(name, "x")"#, Context::Span).editor()
    );
}

#[test]
fn span_event_prefixed_paths_read_the_event_its_span_resource_and_scope() {
    let mut event = Event {
        name: "exception".into(),
        time_unix_nano: 7,
        attributes: vec![kv("exception.type", s("IOError"))],
        ..Default::default()
    };
    let mut resource = sample_resource("api");
    resource.dropped_attributes_count = 2;
    let scope = sample_scope();
    let mut ctx = SpanEventContext {
        event: &mut event,
        span_name: "GET /users/42",
        resource: Some((&resource).into()),
        scope: Some(&scope),
    };
    let text = r#"spanevent.name == "exception" and spanevent.attributes["exception.type"] == "IOError" and
        span.name == "GET /users/42" and resource.dropped_attributes_count == 2 and scope.name == "io.opentelemetry.http""#;
    assert!(cond(text, Context::SpanEvent).evaluate(&ctx).unwrap());
    stmt(r#"set(spanevent.attributes["span"], span.name)"#, Context::SpanEvent)
        .execute(&mut ctx)
        .unwrap();
    assert_eq!(keys(&event.attributes), ["exception.type", "span"]);
}

#[test]
fn log_prefixed_paths_read_and_write_the_record() {
    let mut log = sample_log();
    for text in [
        r#"IsMatch(log.body, "password")"#,
        r#"log.attributes["user"] == "bob""#,
        "log.severity_number == SEVERITY_NUMBER_WARN",
        r#"log.trace_id.string == "4bf92f3577b34da6a3ce929d0e0e4736""#,
        r#"resource.attributes["service.name"] == "worker""#,
        "resource.dropped_attributes_count == 0",
        r#"scope.name == """#,
    ] {
        assert!(on_log(&mut log, text), "{text}");
    }
    run_log(
        &mut log,
        &[
            r#"set(log.attributes["copy"], log.severity_text)"#,
            r#"set(log.body, "redacted") where IsMatch(log.body, "hunter2")"#,
        ],
    );
    assert_eq!(Value::from_any(crate::pdata::find_attribute(&log.attributes, "copy")), s("WARN"));
    assert_eq!(body(&log), s("redacted"));
}

#[test]
fn metric_prefixed_paths_read_the_metric_and_its_lent_resource() {
    let mut metric = sample_metric();
    let (resource, scope) = (sample_resource("api"), sample_scope());
    let mut ctx = WithResource::new(MetricContext { metric: &mut metric }, Some(&resource), Some(&scope));
    let text = r#"metric.name == "http.server.duration" and metric.type == METRIC_DATA_TYPE_SUM and metric.unit == "ms"
        and metric.description == "time served" and resource.attributes["service.name"] == "api"
        and resource.dropped_attributes_count == 0 and instrumentation_scope.name == "io.opentelemetry.http"
        and scope.name == "io.opentelemetry.http""#;
    assert!(cond(text, Context::Metric).evaluate(&ctx).unwrap());
    stmt(
        r#"set(metric.description, Concat([metric.name, resource.attributes["service.name"]], " of "))"#,
        Context::Metric,
    )
    .execute(&mut ctx)
    .unwrap();
    assert_eq!(metric.description, "http.server.duration of api");
}

#[test]
fn data_point_prefixed_paths_read_its_metric_and_resource() {
    let mut metric = sample_metric();
    let (resource, scope) = (sample_resource("api"), sample_scope());
    let Metric {
        name,
        description,
        unit,
        data,
        ..
    } = &mut metric;
    let facts = MetricFacts::new(description, unit, Option::as_ref(data));
    let Some(Data::Sum(sum)) = data else { unreachable!() };
    let point = DataPointContext::number(&mut sum.data_points[0], name).in_metric(facts);
    let mut ctx = WithResource::new(point, Some(&resource), Some(&scope));
    let text = r#"datapoint.attributes["http.method"] == "GET" and metric.name == "http.server.duration"
        and metric.type == METRIC_DATA_TYPE_SUM and metric.unit == "ms" and metric.description == "time served"
        and resource.attributes["service.name"] == "api" and scope.name == "io.opentelemetry.http""#;
    assert!(cond(text, Context::DataPoint).evaluate(&ctx).unwrap());
    stmt(
        r#"set(datapoint.attributes["service"], resource.attributes["service.name"]) where metric.type == METRIC_DATA_TYPE_SUM"#,
        Context::DataPoint,
    )
    .execute(&mut ctx)
    .unwrap();
    assert_eq!(keys(&sum.data_points[0].attributes), ["http.method", "service"]);
}

#[test]
fn resource_prefixed_paths_are_the_resource_context_own() {
    let mut resource = sample_resource("api");
    let mut ctx = ResourceContext { resource: &mut resource };
    let text = r#"resource.attributes["service.name"] == "api" and resource.dropped_attributes_count == 0
        and dropped_attributes_count == 0"#;
    assert!(cond(text, Context::Resource).evaluate(&ctx).unwrap());
    for text in [
        r#"set(resource.attributes["env"], "prod")"#,
        "set(resource.dropped_attributes_count, 3)",
    ] {
        stmt(text, Context::Resource).execute(&mut ctx).unwrap();
    }
    let e = stmt("set(dropped_attributes_count, -1)", Context::Resource)
        .execute(&mut ctx)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "column 5: dropped_attributes_count must be between 0 and 4294967295, got -1"
    );
    assert_eq!(keys(&resource.attributes), ["service.name", "env"]);
    assert_eq!(resource.dropped_attributes_count, 3);
}

#[test]
fn paths_the_caller_did_not_lend_fail_at_run_time_saying_so() {
    let mut metric = sample_metric();
    let ctx = MetricContext { metric: &mut metric };
    let e = cond(r#"resource.attributes["service.name"] == "api""#, Context::Metric)
        .evaluate(&ctx)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "column 1: resource.attributes is not available here: this component evaluates metric statements without it"
    );
    let Metric { name, data, .. } = &mut metric;
    let Some(Data::Sum(sum)) = data else { unreachable!() };
    let ctx = DataPointContext::number(&mut sum.data_points[0], name);
    let e = cond("metric.type == METRIC_DATA_TYPE_SUM", Context::DataPoint)
        .evaluate(&ctx)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "column 1: metric.type is not available here: this component evaluates datapoint statements without it"
    );
}

#[test]
fn error_unknown_or_unreadable_prefix_says_what_to_write() {
    let span = Context::Span;
    assert_eq!(
        cerr(r#"spn.name == "x""#, span),
        "column 1: unknown context prefix 'spn' in 'spn.name'; write span.name or name"
    );
    assert_eq!(
        cerr(r#"log.body == "x""#, span),
        format!("column 1: 'log.body' is a path of the log context, which the span context cannot read; expected one of {SPAN_PATHS}")
    );
    assert_eq!(
        cerr("metric.type == 1", span),
        format!(
            "column 1: 'metric.type' is a path of the metric context, which the span context cannot read; expected one of {SPAN_PATHS}"
        )
    );
    assert_eq!(
        cerr(r#"span.nme == "x""#, span),
        format!("column 1: unknown path 'span.nme' in the span context; expected one of {SPAN_PATHS}")
    );
    assert_eq!(
        cerr(r#"span.resource.attributes["x"] == "y""#, span),
        format!("column 1: unknown path 'span.resource.attributes' in the span context; expected one of {SPAN_PATHS}")
    );
    assert_eq!(
        cerr(r#"scope.name == "x""#, Context::Resource),
        "column 1: 'scope.name' is a path of the scope context, which the resource context cannot read; \
expected one of attributes[...], dropped_attributes_count"
    );
    assert_eq!(
        cerr(r#"datapoint.name == "x""#, Context::DataPoint),
        format!("column 1: unknown path 'datapoint.name' in the datapoint context; expected one of {DATA_POINT_PATHS}")
    );
    assert_eq!(
        serr("set(metric.type, 1)", Context::DataPoint),
        "column 5: metric.type is read-only in the datapoint context"
    );
}

#[test]
fn inference_picks_the_most_specific_context_the_paths_name() {
    let (resource, span, spanevent) = (Context::Resource, Context::Span, Context::SpanEvent);
    let (metric, datapoint, log) = (Context::Metric, Context::DataPoint, Context::Log);
    let traces = [resource, span, spanevent];
    let metrics = [resource, metric, datapoint];
    let logs = [resource, log];
    let infer = |text: &str, allowed: &[Context], defaults: &[Context]| infer_contexts(&[text], allowed, defaults);
    assert_eq!(
        infer(r#"set(span.attributes["a"], resource.attributes["b"])"#, &traces, &[span]),
        [span, spanevent]
    );
    assert_eq!(
        infer(r#"keep_keys(resource.attributes, ["host.name"])"#, &metrics, &[metric, datapoint]),
        [resource, datapoint, metric]
    );
    assert_eq!(
        infer(
            r#"set(metric.description, "x") where datapoint.attributes["a"] == "b""#,
            &metrics,
            &[metric, datapoint]
        ),
        [datapoint]
    );
    assert_eq!(
        infer_contexts(&[r#"set(log.body, "x")"#, r#"resource.attributes["a"] == "b""#], &logs, &[log]),
        [log]
    );
    // convert_sum_to_gauge cannot run on a resource or a data point: the metric context is the
    // first where the statement parses.
    let text = r#"convert_sum_to_gauge() where resource.attributes["a"] == "b""#;
    let candidates = infer(text, &metrics, &[metric, datapoint]);
    assert_eq!(candidates, [resource, datapoint, metric]);
    assert_eq!(candidates.into_iter().find(|c| parse_statement(text, *c).is_ok()), Some(metric));
    // Unprefixed paths are the item's own, as they were before prefixes.
    assert_eq!(
        infer(
            r#"set(attributes["env"], "dev") where resource.attributes["service.name"] == "api""#,
            &traces,
            &[span]
        ),
        [span]
    );
    assert_eq!(
        infer(r#"set(attributes["m"], metric.name)"#, &metrics, &[metric, datapoint]),
        [metric, datapoint]
    );
    assert_eq!(
        infer("truncate_all(attributes, 10)", &metrics, &[metric, datapoint]),
        [metric, datapoint]
    );
    // A context the section lacks: the defaults, whose parse says what is wrong.
    assert_eq!(infer(r#"span.name == "x""#, &logs, &[log]), [log]);
    // Enums, keywords and converters passed by name are not paths.
    assert_eq!(
        infer(
            r#"replace_pattern(span.name, "a", "b", SHA256) where span.kind == SPAN_KIND_SERVER and true"#,
            &traces,
            &[span]
        ),
        [span, spanevent]
    );
}

// ---------------------------------------------------------------------------
// Functions for Collector configs

#[test]
fn keep_matching_keys_keeps_only_the_matching_keys() {
    let span = run_span(&[r#"keep_matching_keys(span.attributes, "^http\.")"#]);
    assert_eq!(keys(&span.attributes), ["http.route", "http.status_code"]);
}

#[test]
fn replace_match_replaces_whole_strings_matching_a_glob() {
    let span = run_span(&[
        r#"replace_match(span.name, "GET /users/*", "GET /users/{id}")"#,
        r#"replace_match(attributes["http.route"], "/orders/*", "never")"#,
        r#"replace_match(attributes["http.status_code"], "*", "not a string")"#,
    ]);
    assert_eq!(span.name, "GET /users/{id}");
    assert_eq!(attr(&span, "http.route"), s("/users/{id}"));
    assert_eq!(attr(&span, "http.status_code"), Value::Int(500));
    // With a function and a format, the replacement goes through both.
    let span = run_span(&[r#"replace_match(name, "GET *", "users", SHA256, "sha:%s")"#]);
    assert_eq!(span.name, "sha:7dfb4cf67742cb0660305e56ef816c53fcec892cae7f6ee39b75f34e659d672c");
    // ? is one character, [..] a set, {a,b} alternatives; regex characters are themselves.
    let span = run_span(&[r#"replace_match(name, "GET /user?/[0-9]{2,3}", "matched")"#]);
    assert_eq!(span.name, "matched");
    let span = run_span(&[r#"replace_match(name, "GET /users/4.", "dot is not any character")"#]);
    assert_eq!(span.name, "GET /users/42");
}

#[test]
fn replace_all_matches_replaces_the_matching_string_values_of_a_map() {
    let span = run_span(&[r#"replace_all_matches(span.attributes, "/users/*", "/users/{userId}")"#]);
    assert_eq!(attr(&span, "http.route"), s("/users/{userId}"));
    assert_eq!(attr(&span, "db.statement"), s("select * from t where name = 'bob' and pw = 'x'"));
    assert_eq!(attr(&span, "http.status_code"), Value::Int(500), "only strings change");
    let span = run_span(&[r#"replace_all_matches(attributes, "x*", "redacted", ToUpperCase)"#]);
    assert_eq!(attr(&span, "long"), s("REDACTED"));
    assert_eq!(attr(&span, "http.route"), s("/users/{id}"));
}

#[test]
fn replace_pattern_and_replace_all_patterns_take_a_function_and_a_format() {
    let span = run_span(&[r#"replace_pattern(span.attributes["http.route"], "^/(\w+)/", "$1", SHA256, "h:%s/")"#]);
    assert_eq!(
        attr(&span, "http.route"),
        s("h:7dfb4cf67742cb0660305e56ef816c53fcec892cae7f6ee39b75f34e659d672c/{id}")
    );
    let span = run_span(&[r#"replace_all_patterns(span.attributes, "key", "^http\.(\w+)$", "$1", ToUpperCase, "HTTP_%s")"#]);
    assert_eq!(&keys(&span.attributes)[..3], ["HTTP_ROUTE", "HTTP_STATUS_CODE", "db.statement"]);
    let span = run_span(&[r#"replace_all_patterns(attributes, "value", "^/(users)/", "/$1/", ToUpperCase)"#]);
    assert_eq!(attr(&span, "http.route"), s("/USERS/{id}"));
}

#[test]
fn merge_maps_inserts_updates_or_upserts() {
    let maps = || {
        vec![
            kv("t", map(&[("a", Value::Int(1)), ("b", Value::Int(2))])),
            kv("s", map(&[("b", Value::Int(20)), ("c", Value::Int(30))])),
        ]
    };
    let merged = |strategy: &str| {
        let text = format!(r#"merge_maps(span.attributes["t"], span.attributes["s"], "{strategy}")"#);
        attr(&span_with(maps(), &[text.as_str()]), "t")
    };
    let (a, b, c) = (("a", Value::Int(1)), ("b", Value::Int(2)), ("c", Value::Int(30)));
    assert_eq!(merged("insert"), map(&[a.clone(), b, c.clone()]));
    assert_eq!(merged("update"), map(&[a.clone(), ("b", Value::Int(20))]));
    assert_eq!(merged("upsert"), map(&[a, ("b", Value::Int(20)), c]));
    let span = run_span(&[r#"merge_maps(span.attributes, resource.attributes, "insert")"#]);
    assert_eq!(attr(&span, "service.name"), s("api"));
    assert_eq!(
        span_runtime_error(r#"merge_maps(attributes, attributes["http.route"], "upsert")"#),
        "column 12: merge_maps expects a map as the source, got a string"
    );
}

#[test]
fn flatten_moves_nested_entries_to_the_top() {
    let nested = || {
        vec![kv(
            "m",
            map(&[
                ("name", s("test")),
                ("address", map(&[("street", s("first")), ("house", Value::Int(1234))])),
                ("occupants", Value::List(vec![s("user 1"), s("user 2")])),
            ]),
        )]
    };
    let span = span_with(nested(), &[r#"flatten(span.attributes["m"])"#]);
    assert_eq!(
        attr(&span, "m"),
        map(&[
            ("name", s("test")),
            ("address.street", s("first")),
            ("address.house", Value::Int(1234)),
            ("occupants.0", s("user 1")),
            ("occupants.1", s("user 2")),
        ])
    );
    let span = span_with(nested(), &[r#"flatten(attributes["m"], "app")"#]);
    assert_eq!(
        attr(&span, "m"),
        map(&[
            ("app.name", s("test")),
            ("app.address.street", s("first")),
            ("app.address.house", Value::Int(1234)),
            ("app.occupants.0", s("user 1")),
            ("app.occupants.1", s("user 2")),
        ])
    );
    // A depth of 2 flattens two levels and keeps the rest nested.
    let level = |key: &str, value: Value| map(&[(key, value)]);
    let deep = level("0", level("1", level("2", level("3", level("4", s("value"))))));
    let span = span_with(vec![kv("m", deep)], &[r#"flatten(attributes["m"], "", 2)"#]);
    assert_eq!(attr(&span, "m"), level("0.1.2", level("3", level("4", s("value")))));
    // A later key overwrites an earlier one, as puts into a map would.
    let clash = map(&[("a", level("b", Value::Int(1))), ("a.b", Value::Int(2))]);
    let span = span_with(vec![kv("m", clash)], &[r#"flatten(attributes["m"])"#]);
    assert_eq!(attr(&span, "m"), level("a.b", Value::Int(2)));
}

#[test]
fn truncate_all_ends_cut_values_with_the_marker_within_the_limit() {
    let span = run_span(&[r#"truncate_all(span.attributes, 6, false, "...")"#]);
    assert_eq!(attr(&span, "http.route"), s("/us..."));
    assert_eq!(attr(&span, "long"), s("xxx..."));
    assert_eq!(attr(&span, "flag"), Value::Bool(true));
}

#[test]
fn convert_sum_to_gauge_and_back_keep_the_points() {
    let mut metric = sample_metric();
    let Some(Data::Sum(sum)) = &metric.data else { unreachable!() };
    let points = sum.data_points.clone();
    let gauge = |points: &[NumberDataPoint]| {
        Some(Data::Gauge(Gauge {
            data_points: points.to_vec(),
        }))
    };
    let sum = |points: &[NumberDataPoint], aggregation_temporality, is_monotonic| {
        Some(Data::Sum(Sum {
            data_points: points.to_vec(),
            aggregation_temporality,
            is_monotonic,
        }))
    };
    run_metric(
        &mut metric,
        &[r#"convert_sum_to_gauge() where metric.name == "http.server.duration""#],
    );
    assert_eq!(metric.data, gauge(&points));
    run_metric(&mut metric, &["convert_sum_to_gauge()"]);
    assert_eq!(metric.data, gauge(&points), "a gauge stays a gauge");
    run_metric(&mut metric, &[r#"convert_gauge_to_sum("delta", true)"#]);
    assert_eq!(metric.data, sum(&points, 1, true));
    run_metric(&mut metric, &[r#"convert_gauge_to_sum("cumulative", false)"#]);
    assert_eq!(metric.data, sum(&points, 1, true), "a sum stays as it is");
    // Through WithResource, as the transform processor runs it.
    let resource = sample_resource("api");
    let mut ctx = WithResource::new(MetricContext { metric: &mut metric }, Some(&resource), None);
    for text in [
        r#"convert_sum_to_gauge() where resource.attributes["service.name"] == "api""#,
        r#"convert_gauge_to_sum("cumulative", false)"#,
    ] {
        stmt(text, Context::Metric).execute(&mut ctx).unwrap();
    }
    assert_eq!(metric.data, sum(&points, 2, false));
    let mut histogram = Metric {
        data: Some(Data::Histogram(Histogram::default())),
        ..Default::default()
    };
    run_metric(
        &mut histogram,
        &["convert_sum_to_gauge()", r#"convert_gauge_to_sum("delta", true)"#],
    );
    assert_eq!(
        histogram.data,
        Some(Data::Histogram(Histogram::default())),
        "neither a sum nor a gauge"
    );
}

#[test]
fn type_converters_on_a_span() {
    for text in [
        r#"IsString(attributes["http.route"]) and not IsString(attributes["http.status_code"])"#,
        r#"IsInt(attributes["http.status_code"]) and not IsInt(attributes["ratio"])"#,
        r#"IsDouble(attributes["ratio"]) and not IsDouble(attributes["http.status_code"])"#,
        r#"IsBool(attributes["flag"]) and not IsBool("true")"#,
        r#"IsMap(attributes["nested"]) and IsMap(span.attributes) and not IsMap(attributes["list"])"#,
        r#"IsList(attributes["list"]) and not IsList(attributes["missing"])"#,
        "IsInt(kind) and IsString(name)",
    ] {
        assert!(on_span(text), "{text}");
    }
}

#[test]
fn string_and_number_converters_on_a_span() {
    for text in [
        r#"ToLowerCase(name) == "get /users/42""#,
        r#"ToUpperCase(span.attributes["http.route"]) == "/USERS/{ID}""#,
        r#"Split(name, " ") == ["GET", "/users/42"]"#,
        r#"Split("a,b,,c", ",") == ["a", "b", "", "c"]"#,
        r#"Split("ab", "") == ["a", "b"]"#,
        r#"Substring(name, 4, 6) == "/users""#,
        r#"Substring("日本語", 0, 4, true) == "日""#,
        r#"Substring("日本語", 1, 5, true) == "本""#,
        r#"Len(name) == 13 and Len(attributes["list"]) == 2 and Len(attributes["nested"]) == 1 and Len("日") == 3"#,
        "Len(name) + 1 == 14",
        r#"SHA256(name) == "131ab9d3e32167705658cb099047e09c80f1a3f1e161245c8814080d2aee704e""#,
        r#"Double(attributes["http.status_code"]) == 500.0 and Double("2.5") == 2.5 and Double(true) == 1.0"#,
        r#"Double("x") == nil and Double(attributes["list"]) == nil"#,
        r#"Double(attributes["ratio"]) * 4 == 2"#,
    ] {
        assert!(on_span(text), "{text}");
    }
    let uuid = regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$").unwrap();
    let span = run_span(&[r#"set(attributes["id"], UUID())"#, r#"set(attributes["id2"], UUID())"#]);
    let (Value::Str(first), Value::Str(second)) = (attr(&span, "id"), attr(&span, "id2")) else {
        panic!("UUID() returned something other than a string")
    };
    assert!(uuid.is_match(&first), "{first}");
    assert_ne!(first, second);
}

#[test]
fn string_converters_refuse_other_types_at_run_time() {
    assert_eq!(
        span_runtime_error(r#"Split(attributes["http.status_code"], ",") == nil"#),
        "column 1: Split expects a string, got an int"
    );
    assert_eq!(
        span_runtime_error(r#"ToLowerCase(attributes["missing"]) == nil"#),
        "column 1: ToLowerCase expects a string, got nil"
    );
    assert_eq!(
        span_runtime_error(r#"Len(attributes["ratio"]) == 1"#),
        "column 1: Len expects a string, list or map, got a float"
    );
    assert_eq!(
        span_runtime_error(r#"Substring(name, 10, 4) == "x""#),
        "column 1: Substring: start 10 + length 4 is past the end of the 13-byte string"
    );
    assert_eq!(
        span_runtime_error(r#"Substring("日本", 1, 3) == "x""#),
        "column 1: Substring: bytes 1..4 would cut a multi-byte character; pass true as utf8_safe to cut at the nearest character"
    );
    assert_eq!(
        span_runtime_error(r#"Substring(name, attributes["ratio"], 1) == "x""#),
        "column 1: the start of Substring must be an int, got a float"
    );
}

#[test]
fn error_wrong_argument_types_of_the_collector_functions() {
    let span = Context::Span;
    assert_eq!(
        cerr(r#"ToLowerCase(1) == "a""#, span),
        "column 13: expected a string as the argument of ToLowerCase, found 1"
    );
    assert_eq!(
        cerr(r#"Substring(name, -1, 2) == "a""#, span),
        "column 17: expected a non-negative integer as the start of Substring, found -1"
    );
    assert_eq!(
        cerr(r#"Substring(name, 0, 0) == "a""#, span),
        "column 20: expected a positive integer as the length of Substring, found 0"
    );
    assert_eq!(
        cerr(r#"Substring(name, "a", 1) == "a""#, span),
        "column 17: expected a non-negative integer as the start of Substring, found string \"a\""
    );
    assert_eq!(
        cerr(r#"Substring(name, 0, 1, "yes") == "a""#, span),
        "column 23: expected true or false as utf8_safe of Substring, found string \"yes\""
    );
    assert_eq!(
        cerr("Split(name, 1) == nil", span),
        "column 13: expected a string as the delimiter of Split, found 1"
    );
    assert_eq!(
        cerr("Len(1) == 1", span),
        "column 5: expected a string, list or map as the argument of Len, found 1"
    );
    assert_eq!(
        cerr(r#"SHA256(true) == "a""#, span),
        "column 8: expected a string as the argument of SHA256, found true"
    );
    assert_eq!(
        serr(r#"merge_maps(attributes, "x", "upsert")"#, span),
        "column 24: expected a map such as attributes as the source of merge_maps, found string \"x\""
    );
    assert_eq!(
        serr(r#"merge_maps(attributes, resource.attributes, "merge")"#, span),
        "column 45: expected \"insert\", \"update\" or \"upsert\" as the strategy of merge_maps, found string \"merge\""
    );
    assert_eq!(
        serr(r#"replace_pattern(name, "a", "b", sha256)"#, span),
        "column 33: expected SHA256, ToLowerCase or ToUpperCase as the function of replace_pattern, found 'sha256'"
    );
    assert_eq!(
        serr(r#"replace_pattern(name, "a", "b", "SHA256")"#, span),
        "column 33: expected a converter name without parentheses, such as SHA256, as the function of replace_pattern, \
found string \"SHA256\""
    );
    assert_eq!(
        serr(r#"replace_pattern(name, "a", "b", SHA256, "%d")"#, span),
        "column 41: expected a replacement format with one %s and no other %, such as \"k8s.%s\", found \"%d\""
    );
    assert_eq!(
        serr(r#"replace_pattern(name, "a")"#, span),
        "column 26: replace_pattern expects 3 to 5 arguments: \
replace_pattern(target, regex, replacement[, function][, replacementFormat]); got 2"
    );
    assert_eq!(
        serr(r#"replace_match(name, "[a", "b")"#, span),
        "column 21: expected a valid glob pattern such as \"/user/*/list/*\" as the pattern of replace_match: \
a '[' is not closed by ']'"
    );
    assert_eq!(
        serr(r#"replace_all_matches(name, "a", "b")"#, span),
        "column 21: expected a map such as attributes as the target of replace_all_matches, found name, which is not a map"
    );
    let e = serr(r#"keep_matching_keys(attributes, "(")"#, span);
    assert!(
        e.starts_with("column 32: expected a valid regular expression as the pattern of keep_matching_keys: "),
        "{e}"
    );
    assert_eq!(
        serr(r#"flatten(attributes, "p", 1, true)"#, span),
        "column 29: flatten's resolveConflicts is not supported; leave it out or pass false (a later key overwrites an earlier one)"
    );
    assert_eq!(
        serr(r#"truncate_all(attributes, 2, true, "...")"#, span),
        "column 26: limit 2 is shorter than the 3-byte truncation marker; expected a limit of at least 3"
    );
    let metric = Context::Metric;
    assert_eq!(
        serr(r#"convert_gauge_to_sum("sometimes", false)"#, metric),
        "column 22: expected \"cumulative\" or \"delta\" as the aggregation temporality of convert_gauge_to_sum, \
found string \"sometimes\""
    );
    assert_eq!(
        serr(r#"convert_gauge_to_sum("delta", 1)"#, metric),
        "column 31: expected true or false as is_monotonic of convert_gauge_to_sum, found 1"
    );
    assert_eq!(
        serr("convert_sum_to_gauge(1)", metric),
        "column 22: too many arguments; convert_sum_to_gauge expects no arguments: convert_sum_to_gauge()"
    );
    assert_eq!(
        serr("convert_sum_to_gauge()", Context::DataPoint),
        "column 1: convert_sum_to_gauge changes the type of a metric, so it runs in the metric context only, \
not the datapoint context; write its condition with metric.* paths"
    );
}

// ---------------------------------------------------------------------------
// The cache and ParseJSON

/// Runs log statements in order on `log` with one cache, as the transform processor does for one
/// item and block; returns what is left in the cache.
fn run_log_with_cache(log: &mut LogRecord, statements: &[&str]) -> Value {
    let resource = sample_resource("worker");
    let mut cache = Vec::new();
    let mut item = LogContext::new(log, Some(&resource), None);
    let mut ctx = WithCache {
        inner: &mut item,
        cache: &mut cache,
    };
    for text in statements {
        stmt(text, Context::Log)
            .execute(&mut ctx)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
    Value::from_key_values(&cache)
}

fn log_runtime_error(text: &str) -> String {
    let mut log = sample_log();
    let resource = sample_resource("worker");
    let mut ctx = LogContext::new(&mut log, Some(&resource), None);
    stmt(text, Context::Log).execute(&mut ctx).expect_err(text).to_string()
}

fn entry(map: &Value, key: &str) -> Value {
    match map {
        Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map_or(Value::Nil, |(_, v)| v.clone()),
        other => panic!("expected a map, got {other:?}"),
    }
}

#[test]
fn the_cache_keeps_values_between_the_statements_run_on_one_item() {
    let mut log = sample_log();
    log.body = Some(s(r#"{"user": "alice", "status": 200, "tags": ["a", "b"], "meta": {"ok": true, "none": null}}"#).into());
    let cache = run_log_with_cache(
        &mut log,
        &[
            r#"merge_maps(log.cache, ParseJSON(log.body), "upsert") where IsMatch(log.body, "^\\{")"#,
            r#"set(log.attributes["user"], log.cache["user"])"#,
            r#"set(attributes["first_tag"], cache["tags"][0])"#,
            r#"set(attributes["none"], cache["meta"]["none"])"#,
            r#"set(cache["ok"], log.cache["meta"]["ok"])"#,
            r#"delete_key(cache, "tags")"#,
        ],
    );
    let attribute = |key: &str| Value::from_any(crate::pdata::find_attribute(&log.attributes, key));
    assert_eq!(attribute("user"), s("alice"));
    assert_eq!(attribute("first_tag"), s("a"));
    assert_eq!(attribute("none"), Value::Nil, "a JSON null is nil, and setting nil does nothing");
    assert_eq!(keys(&log.attributes), ["user", "password", "count", "first_tag"]);
    assert_eq!(
        entry(&cache, "status"),
        Value::Double(200.0),
        "JSON numbers are floats, as in the Collector"
    );
    assert_eq!(entry(&cache, "ok"), Value::Bool(true));
    assert_eq!(entry(&cache, "tags"), Value::Nil);
}

#[test]
fn without_a_lent_cache_reads_are_empty_and_writes_are_refused() {
    let mut log = sample_log();
    assert!(on_log(&mut log, r#"cache["x"] == nil and Len(log.cache) == 0"#));
    assert_eq!(
        log_runtime_error(r#"set(cache["x"], "y")"#),
        "column 5: cache cannot be written here: only the transform processor's statements keep a cache per log item"
    );
}

#[test]
fn every_context_has_its_own_cache_and_reads_no_other() {
    let contexts = [
        Context::Span,
        Context::SpanEvent,
        Context::Log,
        Context::Metric,
        Context::DataPoint,
        Context::Resource,
    ];
    for context in contexts {
        stmt(r#"set(cache["a"], 1)"#, context);
        stmt(
            &format!(r#"set({context}.cache["a"]["b"], 1) where {context}.cache["c"] != nil"#),
            context,
        );
        stmt(&format!(r#"delete_key({context}.cache, "a")"#), context);
    }
    assert_eq!(
        serr(r#"set(attributes["env"], resource.cache["env"])"#, Context::Log),
        "column 24: 'resource.cache' is the cache of the resource context, which the log context cannot read; \
each context has its own cache: write log.cache or cache"
    );
    assert_eq!(
        cerr(r#"span.cache["a"] == 1"#, Context::SpanEvent),
        "column 1: 'span.cache' is the cache of the span context, which the spanevent context cannot read; \
each context has its own cache: write spanevent.cache or cache"
    );
    // The cache is not a path of the data, so the lists of paths in messages leave it out.
    assert_eq!(
        cerr(r#"cahce["a"] == 1"#, Context::Span),
        format!("column 1: unknown path 'cahce' in the span context; expected one of {SPAN_PATHS}")
    );
}

#[test]
fn parse_json_makes_maps_and_lists_with_float_numbers() {
    let mut log = sample_log();
    log.body = Some(s(r#"{"a": {"b": [1, "x", true, null, 2.5]}}"#).into());
    run_log(
        &mut log,
        &[
            r#"set(attributes["doc"], ParseJSON(body))"#,
            r#"set(attributes["list"], ParseJSON("[3]"))"#,
        ],
    );
    let attribute = |key: &str| Value::from_any(crate::pdata::find_attribute(&log.attributes, key));
    let items = Value::List(vec![Value::Double(1.0), s("x"), Value::Bool(true), Value::Nil, Value::Double(2.5)]);
    assert_eq!(attribute("doc"), map(&[("a", map(&[("b", items)]))]));
    assert_eq!(attribute("list"), Value::List(vec![Value::Double(3.0)]));
}

#[test]
fn parse_json_refuses_what_is_not_a_json_object_or_array() {
    let log = Context::Log;
    assert_eq!(
        serr(r#"set(attributes["x"], ParseJSON("42"))"#, log),
        "column 32: ParseJSON: expected a JSON object or array, got a number"
    );
    assert_eq!(
        serr(r#"set(attributes["x"], ParseJSON(1))"#, log),
        "column 32: expected a string as the target of ParseJSON, found 1"
    );
    let malformed = serr(r#"set(attributes["x"], ParseJSON("{"))"#, log);
    assert!(
        malformed.starts_with("column 32: ParseJSON: the text is not valid JSON ("),
        "{malformed}"
    );
    let not_json = log_runtime_error(r#"set(attributes["x"], ParseJSON(body))"#);
    assert!(
        not_json.starts_with("column 22: ParseJSON: the text is not valid JSON ("),
        "{not_json}"
    );
    assert_eq!(
        log_runtime_error(r#"set(attributes["x"], ParseJSON(attributes["count"]))"#),
        "column 22: ParseJSON expects a string, got an int"
    );
    assert_eq!(
        log_runtime_error(r#"set(attributes["x"], ParseJSON(attributes["missing"]))"#),
        "column 22: ParseJSON expects a string, got nil"
    );
    assert_eq!(
        log_runtime_error(r#"merge_maps(attributes, ParseJSON("[1]"), "upsert")"#),
        "column 12: merge_maps expects a map as the source, got a list"
    );
}

// ---------------------------------------------------------------------------
// The scope context

const SCOPE_PATHS: &str = "name, version, attributes[...], dropped_attributes_count, schema_url, resource.attributes[...], \
resource.dropped_attributes_count";

/// Runs `statements` in the scope context on the sample scope (version "1.0") of service "api",
/// whose group has no schema URL; returns the scope and the schema URL.
fn run_scope(statements: &[&str]) -> (InstrumentationScope, String) {
    let mut scope = InstrumentationScope {
        version: "1.0".into(),
        ..sample_scope()
    };
    let mut schema_url = String::new();
    let resource = sample_resource("api");
    for text in statements {
        let mut ctx = ScopeContext::new(&mut scope, &mut schema_url, Some(&resource));
        stmt(text, Context::Scope)
            .execute(&mut ctx)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
    (scope, schema_url)
}

#[test]
fn scope_paths_read_the_scope_its_schema_url_and_resource() {
    let mut scope = InstrumentationScope {
        version: "1.0".into(),
        attributes: vec![kv("otelcol.signal", s("logs"))],
        dropped_attributes_count: 2,
        ..sample_scope()
    };
    let mut schema_url = "https://opentelemetry.io/schemas/1.26.0".to_string();
    let resource = sample_resource("api");
    let ctx = ScopeContext::new(&mut scope, &mut schema_url, Some(&resource));
    for text in [
        r#"name == "io.opentelemetry.http" and version == "1.0""#,
        r#"attributes["otelcol.signal"] == "logs" and dropped_attributes_count == 2"#,
        r#"schema_url == "https://opentelemetry.io/schemas/1.26.0""#,
        r#"resource.attributes["service.name"] == "api" and resource.dropped_attributes_count == 0"#,
        // Both prefixes name the scope context itself.
        r#"scope.name == "io.opentelemetry.http" and instrumentation_scope.version == "1.0""#,
        r#"scope.attributes["otelcol.signal"] == "logs" and instrumentation_scope.schema_url != """#,
    ] {
        assert!(cond(text, Context::Scope).evaluate(&ctx).unwrap(), "{text}");
    }
}

#[test]
fn scope_statements_write_name_version_attributes_count_and_schema_url() {
    let (scope, schema_url) = run_scope(&[
        r#"set(name, Concat([name, "v2"], "/"))"#,
        r#"set(scope.version, "2.0")"#,
        r#"set(instrumentation_scope.attributes["service"], resource.attributes["service.name"])"#,
        "set(dropped_attributes_count, 3)",
        r#"set(schema_url, "https://opentelemetry.io/schemas/1.26.0")"#,
    ]);
    let expected = InstrumentationScope {
        name: "io.opentelemetry.http/v2".into(),
        version: "2.0".into(),
        attributes: vec![kv("service", s("api"))],
        dropped_attributes_count: 3,
    };
    assert_eq!(scope, expected);
    assert_eq!(schema_url, "https://opentelemetry.io/schemas/1.26.0");
}

/// The OpenTelemetry demo's `transform/sanitize_logs` statements, on one scope.
#[test]
fn demo_sanitize_logs_moves_otelcol_signal_unless_it_is_a_map() {
    let statements = [
        r#"set(attributes["otelcol_signal"], attributes["otelcol.signal"]) where attributes["otelcol.signal"] != nil and not IsMap(attributes["otelcol.signal"])"#,
        r#"delete_key(attributes, "otelcol.signal") where attributes["otelcol_signal"] != nil"#,
    ];
    let run = |attributes: Vec<KeyValue>| {
        let mut scope = InstrumentationScope {
            attributes,
            ..sample_scope()
        };
        let mut schema_url = String::new();
        for text in statements {
            let mut ctx = ScopeContext::new(&mut scope, &mut schema_url, None);
            stmt(text, Context::Scope).execute(&mut ctx).unwrap();
        }
        scope.attributes
    };
    assert_eq!(
        run(vec![kv("otelcol.signal", s("logs")), kv("other", s("x"))]),
        [kv("other", s("x")), kv("otelcol_signal", s("logs"))]
    );
    let as_map = kv("otelcol.signal", map(&[("name", s("logs"))]));
    assert_eq!(run(vec![as_map.clone()]), [as_map]);
    assert_eq!(run(vec![kv("other", s("x"))]), [kv("other", s("x"))]);
}

#[test]
fn scope_context_refuses_unknown_and_read_only_paths_saying_what_to_write() {
    assert_eq!(
        cerr(r#"scope.vesion == "1""#, Context::Scope),
        format!("column 1: unknown path 'scope.vesion' in the scope context; expected one of {SCOPE_PATHS}")
    );
    assert_eq!(
        cerr(r#"span.name == "x""#, Context::Scope),
        format!("column 1: 'span.name' is a path of the span context, which the scope context cannot read; expected one of {SCOPE_PATHS}")
    );
    assert_eq!(
        serr(r#"set(resource.attributes["a"], "b")"#, Context::Scope),
        "column 5: resource.attributes is read-only in the scope context"
    );
    // The item contexts read only the scope's name; the rest is the scope context's.
    assert_eq!(
        cerr(r#"scope.version == "1""#, Context::Log),
        "column 1: 'scope.version' is not read in the log context, which reads only instrumentation_scope.name of its \
scope; use it in the scope context (context: scope)"
    );
}

#[test]
fn inference_puts_statements_on_scope_paths_only_in_the_scope_context() {
    let (resource, scope, log) = (Context::Resource, Context::Scope, Context::Log);
    let logs = [resource, scope, log];
    let infer = |text: &str| infer_contexts(&[text], &logs, &[log]);
    assert_eq!(infer(r#"set(scope.attributes["a"], "b")"#), [scope, log]);
    assert_eq!(infer(r#"keep_keys(instrumentation_scope.attributes, ["a"])"#), [scope, log]);
    assert_eq!(infer(r#"set(scope.attributes["a"], resource.attributes["b"])"#), [scope, log]);
    // A path of the log names the more specific context, which reads its scope's name.
    assert_eq!(infer(r#"set(log.attributes["scope"], scope.name)"#), [log]);
    // Unprefixed paths are the item's own.
    assert_eq!(infer(r#"set(attributes["scope"], instrumentation_scope.name)"#), [log]);
    // Resource paths alone stay on the resource; the contexts that read it follow, most specific
    // first.
    assert_eq!(infer(r#"set(resource.attributes["a"], "b")"#), [resource, log, scope]);
}
