//! Tests of the attributes and resource processors: the spec's example through the whole config, each
//! action, include/exclude on every signal, and config errors with their paths.

use super::*;
use crate::config::Kind;
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

const SHA256_ALICE: &str = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976";
const SHA256_42: &str = "73475cb40a568e8da8a045ced110137e159f890ac4da883b6b17dc651b3a8049";
const SHA256_TRUE: &str = "b5bea41b6c623f7c09f1bf24dcae58ebab3c0cdd90ad966bc43a45b44867e12b";
const SHA256_S3CRET: &str = "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0";

fn s(text: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text.to_string())),
    }
}

fn int(n: i64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(n)),
    }
}

fn double(x: f64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::DoubleValue(x)),
    }
}

fn boolean(b: bool) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::BoolValue(b)),
    }
}

fn bytes(b: &[u8]) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::BytesValue(b.to_vec())),
    }
}

fn attrs(pairs: &[(&str, AnyValue)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(key, value)| key_value(key.to_string(), Some(value.clone())))
        .collect()
}

fn resource(pairs: &[(&str, AnyValue)]) -> Option<Resource> {
    Some(Resource {
        attributes: attrs(pairs),
        ..Default::default()
    })
}

fn scope(name: &str, version: &str) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: name.to_string(),
        version: version.to_string(),
        ..Default::default()
    })
}

fn span(name: &str, kind: SpanKind, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: name.to_string(),
        kind: kind as i32,
        attributes,
        ..Default::default()
    }
}

fn traces(resource: Option<Resource>, scope: Option<InstrumentationScope>, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource,
        scope_spans: vec![ScopeSpans {
            scope,
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn log(body: &str, severity_number: i32, severity_text: &str, attributes: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        body: Some(s(body)),
        severity_number,
        severity_text: severity_text.to_string(),
        attributes,
        ..Default::default()
    }
}

fn logs(resource: Option<Resource>, scope: Option<InstrumentationScope>, records: Vec<LogRecord>) -> ResourceLogs {
    ResourceLogs {
        resource,
        scope_logs: vec![ScopeLogs {
            scope,
            log_records: records,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn gauge(name: &str, points: Vec<Vec<KeyValue>>) -> Metric {
    Metric {
        name: name.to_string(),
        data: Some(Data::Gauge(Gauge {
            data_points: points
                .into_iter()
                .map(|attributes| NumberDataPoint {
                    attributes,
                    ..Default::default()
                })
                .collect(),
        })),
        ..Default::default()
    }
}

fn metrics(resource: Option<Resource>, scope: Option<InstrumentationScope>, metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource,
        scope_metrics: vec![ScopeMetrics {
            scope,
            metrics,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).expect("test YAML parses")
}

const PATH: &str = "processors.attributes/agent";

/// The attributes processor for a processor body that must be valid.
fn attributes_processor(body: &str) -> AttributesProcessor {
    let mut errors = Vec::new();
    let config = parse_attributes(&mut Parser::collecting(&mut errors), &yaml(body), PATH);
    assert_eq!(errors, Vec::<String>::new());
    AttributesProcessor::new(&id("attributes", Some("agent")), &config)
}

fn attributes_errors(body: &str) -> Vec<String> {
    let mut errors = Vec::new();
    parse_attributes(&mut Parser::collecting(&mut errors), &yaml(body), PATH);
    errors
}

fn resource_errors(body: &str) -> Vec<String> {
    let mut errors = Vec::new();
    parse_resource(&mut Parser::collecting(&mut errors), &yaml(body), "processors.resource");
    errors
}

fn id(kind: &str, name: Option<&str>) -> ComponentId {
    ComponentId {
        kind: kind.to_string(),
        name: name.map(str::to_string),
    }
}

/// Runs actions (a YAML list) on one span's attributes and returns them.
fn act(actions: &str, attributes: Vec<KeyValue>) -> Vec<KeyValue> {
    let processor = attributes_processor(&format!("actions: {actions}"));
    let mut data = ExportTraceServiceRequest {
        resource_spans: vec![traces(None, None, vec![span("s", SpanKind::Internal, attributes)])],
    };
    processor.process_traces(&mut data).expect("never fails");
    std::mem::take(&mut data.resource_spans[0].scope_spans[0].spans[0].attributes)
}

/// Whether an include block selects a span (the marker attribute was inserted).
fn span_selected(include: &str, resource_attrs: Option<Resource>, scope_: Option<InstrumentationScope>, span_: Span) -> bool {
    let processor = attributes_processor(&format!(
        "{{ include: {include}, actions: [{{ key: hit, value: true, action: insert }}] }}"
    ));
    let mut data = ExportTraceServiceRequest {
        resource_spans: vec![traces(resource_attrs, scope_, vec![span_])],
    };
    processor.process_traces(&mut data).expect("never fails");
    crate::pdata::find_attribute(&data.resource_spans[0].scope_spans[0].spans[0].attributes, "hit").is_some()
}

fn log_selected(block: &str, record: LogRecord) -> bool {
    let processor = attributes_processor(&format!("{{ {block}, actions: [{{ key: hit, value: true, action: insert }}] }}"));
    let mut data = ExportLogsServiceRequest {
        resource_logs: vec![logs(
            resource(&[("service.name", s("checkout"))]),
            scope("lib", "1.0"),
            vec![record],
        )],
    };
    processor.process_logs(&mut data).expect("never fails");
    crate::pdata::find_attribute(&data.resource_logs[0].scope_logs[0].log_records[0].attributes, "hit").is_some()
}

const SPEC_EXAMPLE: &str = r#"
receivers:
  otlp: { protocols: { grpc: {}, http: {} } }
processors:
  attributes/agent:
    include: { match_type: strict, services: [checkout] }
    actions:
      - { key: deployment.environment, value: dev, action: insert }
      - { key: user.email, action: hash }
      - { key: http.url, pattern: '^(?P<scheme>\w+)://(?P<host>[^/]+)', action: extract }
      - { key: retries, converted_type: int, action: convert }
      - { key: internal.debug, action: delete }
  resource:
    attributes:
      - { key: cloud.region, value: eu-west-1, action: upsert }
exporters:
  otelbox: {}
service:
  pipelines:
    traces: { receivers: [otlp], processors: [attributes/agent, resource], exporters: [otelbox] }
    metrics: { receivers: [otlp], processors: [attributes/agent, resource], exporters: [otelbox] }
    logs: { receivers: [otlp], processors: [attributes/agent, resource], exporters: [otelbox] }
"#;

/// The example's two processors, built from the parsed config as the pipeline builder does.
fn spec_example_processors() -> (AttributesProcessor, ResourceProcessor) {
    let config = crate::components::parse_config(SPEC_EXAMPLE).expect("the spec example is valid");
    let attributes_id = id("attributes", Some("agent"));
    let resource_id = id("resource", None);
    let attributes: &AttributesConfig = config.component(Kind::Processor, &attributes_id).unwrap().settings.get();
    let resource: &ResourceConfig = config.component(Kind::Processor, &resource_id).unwrap().settings.get();
    (
        AttributesProcessor::new(&attributes_id, attributes),
        ResourceProcessor::new(&resource_id, resource),
    )
}

#[test]
fn the_spec_example_on_traces() {
    let (attributes, resource_processor) = spec_example_processors();
    let checkout_span = |name: &str, extra: &[(&str, AnyValue)]| {
        let mut a = attrs(&[
            ("user.email", s("alice@example.com")),
            ("http.url", s("https://shop.example.com/cart?id=7")),
            ("retries", s("3")),
            ("internal.debug", boolean(true)),
        ]);
        a.extend(attrs(extra));
        span(name, SpanKind::Server, a)
    };
    let mut data = ExportTraceServiceRequest {
        resource_spans: vec![
            traces(
                resource(&[("service.name", s("checkout"))]),
                scope("shop", "1.2.0"),
                vec![
                    checkout_span("POST /cart", &[]),
                    span(
                        "GET /cart",
                        SpanKind::Server,
                        attrs(&[
                            ("deployment.environment", s("prod")),
                            ("http.url", s("not a url")),
                            ("retries", s("many")),
                        ]),
                    ),
                ],
            ),
            traces(
                resource(&[("service.name", s("cart")), ("cloud.region", s("us-east-1"))]),
                None,
                vec![checkout_span("POST /cart", &[])],
            ),
            traces(
                None,
                None,
                vec![span("orphan", SpanKind::Internal, attrs(&[("internal.debug", boolean(true))]))],
            ),
        ],
    };
    let untouched_cart_span = data.resource_spans[1].scope_spans[0].spans[0].clone();
    attributes.process_traces(&mut data).unwrap();
    resource_processor.process_traces(&mut data).unwrap();

    let expected = ExportTraceServiceRequest {
        resource_spans: vec![
            traces(
                resource(&[("service.name", s("checkout")), ("cloud.region", s("eu-west-1"))]),
                scope("shop", "1.2.0"),
                vec![
                    span(
                        "POST /cart",
                        SpanKind::Server,
                        attrs(&[
                            ("user.email", s(SHA256_ALICE)),
                            ("http.url", s("https://shop.example.com/cart?id=7")),
                            ("retries", int(3)),
                            ("deployment.environment", s("dev")),
                            ("scheme", s("https")),
                            ("host", s("shop.example.com")),
                        ]),
                    ),
                    span(
                        "GET /cart",
                        SpanKind::Server,
                        attrs(&[
                            ("deployment.environment", s("prod")),
                            ("http.url", s("not a url")),
                            ("retries", s("many")),
                        ]),
                    ),
                ],
            ),
            traces(
                resource(&[("service.name", s("cart")), ("cloud.region", s("eu-west-1"))]),
                None,
                vec![untouched_cart_span],
            ),
            traces(
                resource(&[("cloud.region", s("eu-west-1"))]),
                None,
                vec![span("orphan", SpanKind::Internal, attrs(&[("internal.debug", boolean(true))]))],
            ),
        ],
    };
    assert_eq!(data, expected);
}

#[test]
fn the_spec_example_on_logs_and_metrics_leaves_item_attributes_alone() {
    // `services` is a span property: the include block matches no log record or data point (as the
    // Collector's filterlog and filtermetric do not know it), so only the resource processor acts.
    let (attributes, resource_processor) = spec_example_processors();
    let record_attrs = attrs(&[("user.email", s("alice@example.com")), ("internal.debug", boolean(true))]);
    let mut log_data = ExportLogsServiceRequest {
        resource_logs: vec![logs(
            resource(&[("service.name", s("checkout"))]),
            None,
            vec![log("hello", 9, "INFO", record_attrs.clone())],
        )],
    };
    attributes.process_logs(&mut log_data).unwrap();
    resource_processor.process_logs(&mut log_data).unwrap();
    assert_eq!(
        log_data,
        ExportLogsServiceRequest {
            resource_logs: vec![logs(
                resource(&[("service.name", s("checkout")), ("cloud.region", s("eu-west-1"))]),
                None,
                vec![log("hello", 9, "INFO", record_attrs.clone())],
            )],
        }
    );

    let mut metric_data = ExportMetricsServiceRequest {
        resource_metrics: vec![metrics(
            resource(&[("service.name", s("checkout"))]),
            None,
            vec![gauge("queue.depth", vec![record_attrs.clone()])],
        )],
    };
    attributes.process_metrics(&mut metric_data).unwrap();
    resource_processor.process_metrics(&mut metric_data).unwrap();
    assert_eq!(
        metric_data,
        ExportMetricsServiceRequest {
            resource_metrics: vec![metrics(
                resource(&[("service.name", s("checkout")), ("cloud.region", s("eu-west-1"))]),
                None,
                vec![gauge("queue.depth", vec![record_attrs])],
            )],
        }
    );
}

#[test]
fn insert_sets_absent_keys_with_the_yaml_type_of_the_value() {
    let out = act(
        r#"
      - { key: present, value: new, action: insert }
      - { key: str, value: text, action: insert }
      - { key: quoted.int, value: "42", action: insert }
      - { key: int, value: 42, action: insert }
      - { key: double, value: 1.5, action: insert }
      - { key: bool, value: false, action: insert }
      - { key: list, value: [1, a], action: insert }
      - { key: map, value: { k: v }, action: insert }
    "#,
        attrs(&[("present", s("old"))]),
    );
    let list = AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue {
            values: vec![int(1), s("a")],
        })),
    };
    let map = AnyValue {
        value: Some(any_value::Value::KvlistValue(KeyValueList {
            values: attrs(&[("k", s("v"))]),
        })),
    };
    assert_eq!(
        out,
        attrs(&[
            ("present", s("old")),
            ("str", s("text")),
            ("quoted.int", s("42")),
            ("int", int(42)),
            ("double", double(1.5)),
            ("bool", boolean(false)),
            ("list", list),
            ("map", map),
        ])
    );
}

#[test]
fn update_changes_only_present_keys_in_place() {
    let out = act(
        "[{ key: a, value: 2, action: update }, { key: missing, value: x, action: update }]",
        attrs(&[("a", s("one")), ("b", s("two"))]),
    );
    assert_eq!(out, attrs(&[("a", int(2)), ("b", s("two"))]));
}

#[test]
fn upsert_sets_present_and_absent_keys() {
    let out = act(
        "[{ key: a, value: x, action: upsert }, { key: c, value: y, action: upsert }]",
        attrs(&[("a", s("one")), ("b", s("two"))]),
    );
    assert_eq!(out, attrs(&[("a", s("x")), ("b", s("two")), ("c", s("y"))]));
}

#[test]
fn from_attribute_copies_the_value_and_does_nothing_without_the_source() {
    let out = act(
        r#"
      - { key: copy, from_attribute: src, action: insert }
      - { key: target, from_attribute: src, action: update }
      - { key: other, from_attribute: src, action: upsert }
      - { key: none, from_attribute: absent, action: upsert }
      - { key: target2, from_attribute: absent, action: update }
    "#,
        attrs(&[("src", int(7)), ("target", s("old")), ("target2", s("kept"))]),
    );
    assert_eq!(
        out,
        attrs(&[
            ("src", int(7)),
            ("target", int(7)),
            ("target2", s("kept")),
            ("copy", int(7)),
            ("other", int(7)),
        ])
    );
}

#[test]
fn delete_removes_the_key_and_every_key_matching_the_pattern() {
    let input = attrs(&[
        ("keep", s("1")),
        ("secret", s("2")),
        ("db.password", s("3")),
        ("api.password", s("4")),
        ("token", s("5")),
    ]);
    assert_eq!(
        act("[{ key: secret, pattern: '\\.password$', action: delete }]", input.clone()),
        attrs(&[("keep", s("1")), ("token", s("5"))])
    );
    assert_eq!(
        act("[{ pattern: '^(token|keep)$', action: delete }]", input.clone()),
        attrs(&[("secret", s("2")), ("db.password", s("3")), ("api.password", s("4"))])
    );
    assert_eq!(
        act("[{ key: absent, action: delete }]", input.clone()),
        input,
        "deleting an absent key changes nothing"
    );
}

#[test]
fn hash_replaces_values_with_the_sha256_of_their_string_form() {
    let out = act(
        "[{ key: email, action: hash }, { pattern: '^n\\.', action: hash }, { key: absent, action: hash }]",
        attrs(&[
            ("email", s("alice@example.com")),
            ("n.int", int(42)),
            ("n.bool", boolean(true)),
            ("n.secret", s("s3cret")),
            ("plain", s("s3cret")),
        ]),
    );
    assert_eq!(
        out,
        attrs(&[
            ("email", s(SHA256_ALICE)),
            ("n.int", s(SHA256_42)),
            ("n.bool", s(SHA256_TRUE)),
            ("n.secret", s(SHA256_S3CRET)),
            ("plain", s("s3cret")),
        ])
    );
    // A key that is also matched by the pattern is hashed once, not twice.
    assert_eq!(
        act(
            "[{ key: n.secret, pattern: secret, action: hash }]",
            attrs(&[("n.secret", s("s3cret"))])
        ),
        attrs(&[("n.secret", s(SHA256_S3CRET))])
    );
}

#[test]
fn extract_upserts_named_groups_of_string_values_only() {
    let actions = r#"[{ key: url, pattern: '^(?P<scheme>\w+)://(?P<host>[^/:]+)(?::(?P<port>\d+))?', action: extract }]"#;
    assert_eq!(
        act(actions, attrs(&[("host", s("old")), ("url", s("http://example.com:8080/x"))])),
        attrs(&[
            ("host", s("example.com")),
            ("url", s("http://example.com:8080/x")),
            ("scheme", s("http")),
            ("port", s("8080")),
        ]),
        "an existing key is overwritten in place"
    );
    assert_eq!(
        act(actions, attrs(&[("url", s("https://example.com/x"))])),
        attrs(&[
            ("url", s("https://example.com/x")),
            ("scheme", s("https")),
            ("host", s("example.com")),
            ("port", s("")),
        ]),
        "a group that took no part in the match extracts as an empty string (as in the Collector)"
    );
    for unchanged in [
        attrs(&[("url", s("no scheme here"))]),
        attrs(&[("url", int(3))]),
        attrs(&[("other", s("http://a/"))]),
    ] {
        assert_eq!(act(actions, unchanged.clone()), unchanged);
    }
}

#[test]
fn convert_changes_types_and_leaves_values_that_do_not_convert() {
    let input = attrs(&[
        ("s.int", s("42")),
        ("s.neg", s("-7")),
        ("s.bad", s("4.5")),
        ("d", double(2.9)),
        ("b", boolean(true)),
        ("i", int(5)),
        ("y", bytes(&[1, 2])),
        ("nan", double(f64::NAN)),
    ]);
    let convert_all = |to: &str| {
        let keys = ["s.int", "s.neg", "s.bad", "d", "b", "i", "y", "absent"];
        let actions: Vec<String> = keys
            .iter()
            .map(|k| format!("{{ key: {k}, converted_type: {to}, action: convert }}"))
            .collect();
        act(&format!("[{}]", actions.join(", ")), input[..7].to_vec())
    };
    assert_eq!(
        convert_all("int"),
        attrs(&[
            ("s.int", int(42)),
            ("s.neg", int(-7)),
            ("s.bad", s("4.5")),
            ("d", int(2)),
            ("b", int(1)),
            ("i", int(5)),
            ("y", bytes(&[1, 2])),
        ])
    );
    assert_eq!(
        convert_all("double"),
        attrs(&[
            ("s.int", double(42.0)),
            ("s.neg", double(-7.0)),
            ("s.bad", double(4.5)),
            ("d", double(2.9)),
            ("b", double(1.0)),
            ("i", double(5.0)),
            ("y", bytes(&[1, 2])),
        ])
    );
    assert_eq!(
        convert_all("string"),
        attrs(&[
            ("s.int", s("42")),
            ("s.neg", s("-7")),
            ("s.bad", s("4.5")),
            ("d", s("2.9")),
            ("b", s("true")),
            ("i", s("5")),
            ("y", s("0102")),
        ])
    );
    let nan = act("[{ key: nan, converted_type: int, action: convert }]", input[7..].to_vec());
    assert!(
        matches!(&nan[0].value, Some(AnyValue { value: Some(any_value::Value::DoubleValue(x)) }) if x.is_nan()),
        "NaN has no int: it stays a double, got {nan:?}"
    );
}

#[test]
fn actions_run_in_order() {
    let out = act(
        r#"
      - { key: id, value: "12", action: insert }
      - { key: id, converted_type: int, action: convert }
      - { key: copy, from_attribute: id, action: insert }
      - { key: id, action: hash }
    "#,
        Vec::new(),
    );
    let sha256_12 = "6b51d431df5d7f141cbececcf79edf3dd861c3b4069f0b11661a3eefacbba918";
    assert_eq!(out, attrs(&[("id", s(sha256_12)), ("copy", int(12))]));
}

#[test]
fn action_names_are_case_insensitive_as_in_the_collector() {
    assert_eq!(act("[{ key: a, value: 1, action: INSERT }]", Vec::new()), attrs(&[("a", int(1))]));
}

#[test]
fn include_services_span_names_and_span_kinds() {
    let checkout = || resource(&[("service.name", s("checkout"))]);
    let server = || span("GET /cart", SpanKind::Server, Vec::new());
    assert!(span_selected(
        "{ match_type: strict, services: [cart, checkout] }",
        checkout(),
        None,
        server()
    ));
    assert!(!span_selected(
        "{ match_type: strict, services: [check] }",
        checkout(),
        None,
        server()
    ));
    assert!(span_selected(
        "{ match_type: regexp, services: ['^check'] }",
        checkout(),
        None,
        server()
    ));
    assert!(
        !span_selected("{ match_type: regexp, services: ['.*'] }", None, None, server()),
        "a span without service.name matches no service"
    );
    assert!(span_selected(
        "{ match_type: strict, span_names: [GET /cart] }",
        None,
        None,
        server()
    ));
    assert!(!span_selected("{ match_type: strict, span_names: [GET] }", None, None, server()));
    assert!(span_selected("{ match_type: regexp, span_names: [cart$] }", None, None, server()));
    assert!(span_selected(
        "{ match_type: strict, span_kinds: [SPAN_KIND_CLIENT, SPAN_KIND_SERVER] }",
        None,
        None,
        server()
    ));
    assert!(!span_selected(
        "{ match_type: strict, span_kinds: [SPAN_KIND_CLIENT] }",
        None,
        None,
        server()
    ));
    assert!(span_selected("{ match_type: regexp, span_kinds: [SERVER] }", None, None, server()));
    assert!(
        !span_selected(
            "{ match_type: strict, services: [checkout], span_names: [other] }",
            checkout(),
            None,
            server()
        ),
        "every property given must match"
    );
}

#[test]
fn include_attributes_must_all_match_and_a_value_is_optional() {
    let with = |pairs: &[(&str, AnyValue)]| span("s", SpanKind::Internal, attrs(pairs));
    let block = "{ match_type: strict, attributes: [{ key: http.method, value: GET }, { key: user.id }] }";
    assert!(span_selected(
        block,
        None,
        None,
        with(&[("http.method", s("GET")), ("user.id", int(1))])
    ));
    assert!(!span_selected(block, None, None, with(&[("http.method", s("GET"))])));
    assert!(!span_selected(
        block,
        None,
        None,
        with(&[("http.method", s("POST")), ("user.id", int(1))])
    ));
    let typed = "{ match_type: strict, attributes: [{ key: code, value: 200 }] }";
    assert!(span_selected(typed, None, None, with(&[("code", int(200))])));
    assert!(
        !span_selected(typed, None, None, with(&[("code", s("200"))])),
        "strict compares the type too"
    );
    let regexp = "{ match_type: regexp, attributes: [{ key: code, value: '^2\\d\\d$' }] }";
    assert!(
        span_selected(regexp, None, None, with(&[("code", int(204))])),
        "regexp reads the string form of ints"
    );
    assert!(!span_selected(regexp, None, None, with(&[("code", int(404))])));
    assert!(
        !span_selected(regexp, None, None, with(&[("code", bytes(b"200"))])),
        "bytes have no string form to match"
    );
}

#[test]
fn include_resources_and_libraries() {
    let any_span = || span("s", SpanKind::Internal, Vec::new());
    let prod = || resource(&[("env", s("prod")), ("region", s("eu"))]);
    let resources = "{ match_type: strict, resources: [{ key: env, value: prod }, { key: region }] }";
    assert!(span_selected(resources, prod(), None, any_span()));
    assert!(!span_selected(resources, resource(&[("env", s("prod"))]), None, any_span()));
    assert!(!span_selected(resources, None, None, any_span()));

    let libraries = "{ match_type: strict, libraries: [{ name: other }, { name: io.opentelemetry.http, version: '1.0' }] }";
    assert!(span_selected(libraries, None, scope("io.opentelemetry.http", "1.0"), any_span()));
    assert!(!span_selected(libraries, None, scope("io.opentelemetry.http", "2.0"), any_span()));
    assert!(
        span_selected(libraries, None, scope("other", "9"), any_span()),
        "no version: any version"
    );
    assert!(!span_selected(libraries, None, None, any_span()));
    let blank_version = "{ match_type: strict, libraries: [{ name: lib, version: '' }] }";
    assert!(span_selected(blank_version, None, scope("lib", ""), any_span()));
    assert!(!span_selected(blank_version, None, scope("lib", "1"), any_span()));
    assert!(span_selected(
        "{ match_type: regexp, libraries: [{ name: '^io\\.', version: '^1\\.' }] }",
        None,
        scope("io.x", "1.4"),
        any_span()
    ));
}

#[test]
fn exclude_is_checked_after_include() {
    let processor = attributes_processor(
        r#"
include: { match_type: regexp, span_names: ['^GET'] }
exclude: { match_type: strict, span_names: [GET /health] }
actions: [{ key: hit, value: true, action: insert }]
"#,
    );
    let mut data = ExportTraceServiceRequest {
        resource_spans: vec![traces(
            None,
            None,
            vec![
                span("GET /cart", SpanKind::Server, Vec::new()),
                span("GET /health", SpanKind::Server, Vec::new()),
                span("POST /cart", SpanKind::Server, Vec::new()),
            ],
        )],
    };
    processor.process_traces(&mut data).unwrap();
    let hits: Vec<bool> = data.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(|span| !span.attributes.is_empty())
        .collect();
    assert_eq!(hits, [true, false, false]);

    let only_exclude = attributes_processor(
        "{ exclude: { match_type: strict, span_names: [GET /health] }, actions: [{ key: hit, value: true, action: insert }] }",
    );
    let mut data = ExportTraceServiceRequest {
        resource_spans: vec![traces(
            None,
            None,
            vec![
                span("GET /cart", SpanKind::Server, Vec::new()),
                span("GET /health", SpanKind::Server, Vec::new()),
            ],
        )],
    };
    only_exclude.process_traces(&mut data).unwrap();
    let hits: Vec<bool> = data.resource_spans[0].scope_spans[0]
        .spans
        .iter()
        .map(|span| !span.attributes.is_empty())
        .collect();
    assert_eq!(hits, [true, false]);
}

#[test]
fn log_bodies_severity_texts_and_severity_numbers() {
    let include = |props: &str| format!("include: {{ match_type: strict, {props} }}");
    let record = |body: &str, number: i32, text: &str| log(body, number, text, Vec::new());
    assert!(log_selected(&include("log_bodies: [hello]"), record("hello", 9, "INFO")));
    assert!(!log_selected(&include("log_bodies: [hell]"), record("hello", 9, "INFO")));
    assert!(log_selected(
        "include: { match_type: regexp, log_bodies: ['^hel'] }",
        record("hello", 9, "INFO")
    ));
    assert!(log_selected(&include("log_severity_texts: [WARN, INFO]"), record("x", 9, "INFO")));
    assert!(!log_selected(&include("log_severity_texts: [WARN]"), record("x", 9, "INFO")));

    let min_warn = include("log_severity_number: { min: WARN }");
    assert!(log_selected(&min_warn, record("x", 13, "")));
    assert!(log_selected(&min_warn, record("x", 21, "")));
    assert!(!log_selected(&min_warn, record("x", 12, "")));
    assert!(
        !log_selected(&min_warn, record("x", 0, "")),
        "undefined severity does not match by default"
    );
    let with_undefined = include("log_severity_number: { min: 13, match_undefined: true }");
    assert!(log_selected(&with_undefined, record("x", 0, "")));
    assert!(!log_selected(&with_undefined, record("x", 9, "")));
    assert!(log_selected(
        &include("log_severity_number: { min: SEVERITY_NUMBER_INFO2 }"),
        record("x", 10, "")
    ));
    assert!(!log_selected(&include("log_severity_number: { min: info2 }"), record("x", 9, "")));

    let structured = LogRecord {
        body: Some(int(42)),
        ..Default::default()
    };
    assert!(
        log_selected(&include("log_bodies: ['42']"), structured),
        "a body matches in its string form"
    );
    assert!(log_selected(
        "include: { match_type: strict, attributes: [{ key: k, value: v }], resources: [{ key: service.name, value: checkout }], libraries: [{ name: lib }] }",
        log("x", 9, "", attrs(&[("k", s("v"))]))
    ));
}

#[test]
fn properties_of_another_signal_match_nothing_of_this_signal() {
    // Span properties on logs (the Collector refuses them in a logs pipeline; here the block simply
    // does not match): an include processes nothing, an exclude excludes nothing.
    let record = || log("hello", 9, "INFO", Vec::new());
    for props in [
        "services: [checkout]",
        "span_names: [hello]",
        "span_kinds: [SPAN_KIND_SERVER]",
        "metric_names: [hello]",
    ] {
        assert!(
            !log_selected(&format!("include: {{ match_type: strict, {props} }}"), record()),
            "{props}"
        );
        assert!(
            log_selected(&format!("exclude: {{ match_type: strict, {props} }}"), record()),
            "{props}"
        );
    }
    for props in [
        "log_bodies: [s]",
        "log_severity_texts: ['']",
        "log_severity_number: { min: 1 }",
        "metric_names: [s]",
    ] {
        assert!(
            !span_selected(
                &format!("{{ match_type: strict, {props} }}"),
                None,
                None,
                span("s", SpanKind::Internal, Vec::new())
            ),
            "{props}"
        );
    }
}

#[test]
fn data_points_of_every_metric_type_match_by_metric_name_and_point_attributes() {
    let processor = attributes_processor(
        r#"
include:
  match_type: regexp
  metric_names: ['^http\.']
  attributes: [{ key: route, value: '^/api' }]
actions: [{ key: hit, value: true, action: insert }]
"#,
    );
    let api = || attrs(&[("route", s("/api/cart"))]);
    let health = || attrs(&[("route", s("/health"))]);
    let every_type = |name: &str| {
        let number = |a: Vec<KeyValue>| NumberDataPoint {
            attributes: a,
            ..Default::default()
        };
        vec![
            Metric {
                name: name.to_string(),
                data: Some(Data::Gauge(Gauge {
                    data_points: vec![number(api()), number(health())],
                })),
                ..Default::default()
            },
            Metric {
                name: name.to_string(),
                data: Some(Data::Sum(Sum {
                    data_points: vec![number(api())],
                    ..Default::default()
                })),
                ..Default::default()
            },
            Metric {
                name: name.to_string(),
                data: Some(Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        attributes: api(),
                        ..Default::default()
                    }],
                    ..Default::default()
                })),
                ..Default::default()
            },
            Metric {
                name: name.to_string(),
                data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: vec![ExponentialHistogramDataPoint {
                        attributes: api(),
                        positive: Some(exponential_histogram_data_point::Buckets::default()),
                        ..Default::default()
                    }],
                    ..Default::default()
                })),
                ..Default::default()
            },
            Metric {
                name: name.to_string(),
                data: Some(Data::Summary(Summary {
                    data_points: vec![SummaryDataPoint {
                        attributes: api(),
                        ..Default::default()
                    }],
                })),
                ..Default::default()
            },
        ]
    };
    let mut all = every_type("http.server.duration");
    all.extend(every_type("db.calls"));
    let mut data = ExportMetricsServiceRequest {
        resource_metrics: vec![metrics(None, None, all)],
    };
    processor.process_metrics(&mut data).unwrap();

    let mut hits = Vec::new();
    for metric in &mut data.resource_metrics[0].scope_metrics[0].metrics {
        let name = metric.name.clone();
        for_each_data_point(&mut metric.data, |a| {
            hits.push((name.clone(), crate::pdata::find_attribute(a, "hit").is_some()))
        });
    }
    let expected: Vec<(String, bool)> = [
        ("http.server.duration", true),
        ("http.server.duration", false),
        ("http.server.duration", true),
        ("http.server.duration", true),
        ("http.server.duration", true),
        ("http.server.duration", true),
        ("db.calls", false),
        ("db.calls", false),
        ("db.calls", false),
        ("db.calls", false),
        ("db.calls", false),
        ("db.calls", false),
    ]
    .iter()
    .map(|(n, h)| (n.to_string(), *h))
    .collect();
    assert_eq!(hits, expected);
}

#[test]
fn the_resource_processor_edits_resources_of_every_signal() {
    let mut errors = Vec::new();
    let config = parse_resource(
        &mut Parser::collecting(&mut errors),
        &yaml(
            r#"
attributes:
  - { key: host.name, action: delete }
  - { key: cloud.region, value: eu-west-1, action: insert }
  - { key: service.name, value: renamed, action: update }
"#,
        ),
        "processors.resource",
    );
    assert_eq!(errors, Vec::<String>::new());
    let processor = ResourceProcessor::new(&id("resource", None), &config);
    let before = || resource(&[("service.name", s("api")), ("host.name", s("h1")), ("cloud.region", s("us"))]);
    let after = || resource(&[("service.name", s("renamed")), ("cloud.region", s("us"))]);
    let record = || log("x", 9, "", attrs(&[("host.name", s("h1"))]));

    let mut traces_data = ExportTraceServiceRequest {
        resource_spans: vec![traces(before(), None, Vec::new())],
    };
    processor.process_traces(&mut traces_data).unwrap();
    assert_eq!(traces_data.resource_spans[0].resource, after());

    let mut logs_data = ExportLogsServiceRequest {
        resource_logs: vec![logs(before(), None, vec![record()])],
    };
    processor.process_logs(&mut logs_data).unwrap();
    assert_eq!(logs_data.resource_logs[0].resource, after());
    assert_eq!(
        logs_data.resource_logs[0].scope_logs[0].log_records[0],
        record(),
        "record attributes are not the resource's"
    );

    let mut metrics_data = ExportMetricsServiceRequest {
        resource_metrics: vec![metrics(before(), None, Vec::new()), metrics(None, None, Vec::new())],
    };
    processor.process_metrics(&mut metrics_data).unwrap();
    assert_eq!(metrics_data.resource_metrics[0].resource, after());
    assert_eq!(
        metrics_data.resource_metrics[1].resource,
        resource(&[("cloud.region", s("eu-west-1"))]),
        "an absent resource is an empty one"
    );

    let delete_only = ResourceProcessor::new(
        &id("resource", None),
        &ResourceConfig {
            actions: vec![Action::Delete {
                key: Some("x".into()),
                pattern: None,
            }],
        },
    );
    let mut untouched = ExportTraceServiceRequest {
        resource_spans: vec![traces(None, None, Vec::new())],
    };
    delete_only.process_traces(&mut untouched).unwrap();
    assert_eq!(
        untouched.resource_spans[0].resource, None,
        "an absent resource stays absent when nothing is added"
    );
}

#[test]
fn action_errors_name_the_action_and_field() {
    let errors = attributes_errors(
        r#"
actions:
  - { key: a, action: insert }
  - { key: a, value: 1, from_attribute: b, action: upsert }
  - { key: a, pattern: '(', action: delete }
  - { key: a, pattern: '^(\w+)$', action: extract }
  - { key: a, pattern: '^\w+$', action: extract }
  - { key: a, action: extract }
  - { key: a, converted_type: bool, action: convert }
  - { key: a, action: convert }
  - { action: hash }
  - { value: 1, action: insert }
  - { key: a, action: rename }
  - { key: a }
  - { key: a, from_context: metadata.tenant, action: insert }
  - { key: a, value: 1, pattern: x, action: update }
  - { key: a, value: 1, action: delete }
  - { key: a, colour: red, action: delete }
  - { key: '', action: delete }
  - { key: a, value: 18446744073709551615, action: insert }
  - { key: a, pattern: '^(?P<x>.)(.)$', action: extract }
  - { key: a, from_attribute: '', action: insert }
  - { pattern: '', action: delete }
"#,
    );
    let at = |i: usize, rest: &str| format!("{PATH}.actions[{i}]{rest}");
    assert_eq!(
        errors,
        [
            at(0, ": the insert action needs value or from_attribute"),
            at(1, ": give one of value, from_attribute and from_context"),
            at(2, ".pattern: not a valid regular expression: regex parse error:\n    (\n    ^\nerror: unclosed group"),
            at(
                3,
                ".pattern: has a group without a name: name it like (?P<host>...) or make it non-capturing with (?:...)"
            ),
            at(4, ".pattern: has no named groups: name each value to extract, like (?P<host>[^/]+)"),
            at(
                5,
                ": pattern is required for the extract action: a regular expression with named groups like ^(?P<scheme>\\w+)://"
            ),
            at(6, ".converted_type: must be int, double or string, got \"bool\""),
            at(7, ": converted_type is required for the convert action (int, double or string)"),
            at(8, ": the hash action needs key, pattern or both"),
            at(9, ": key is required for the insert action"),
            at(
                10,
                ".action: unknown action \"rename\" (expected insert, update, upsert, delete, hash, extract or convert)"
            ),
            at(11, ": action is required (insert, update, upsert, delete, hash, extract or convert)"),
            at(
                12,
                ".from_context: is not supported without default_value: otelbox's pipelines carry no request context (client metadata or auth), so only the default could be set; use value, from_attribute, or add default_value"
            ),
            at(13, ".pattern: is not used by the update action"),
            at(14, ".value: is not used by the delete action"),
            at(
                15,
                ".colour: unknown key (expected one of: key, action, value, from_attribute, from_context, default_value, pattern, converted_type)"
            ),
            at(16, ".key: must not be empty"),
            at(17, ".value: is too large for a 64-bit integer"),
            at(
                18,
                ".pattern: has a group without a name: name it like (?P<host>...) or make it non-capturing with (?:...)"
            ),
            at(19, ".from_attribute: must not be empty"),
            at(20, ".pattern: must not be empty (it would delete every attribute)"),
        ]
    );
}

#[test]
fn a_processor_without_actions_is_refused() {
    assert_eq!(
        attributes_errors("{}"),
        [format!(
            "{PATH}: actions is required: a list of actions like {{ key: deployment.environment, value: dev, action: insert }}"
        )]
    );
    assert_eq!(
        attributes_errors("actions: []"),
        [format!("{PATH}.actions: must have at least one action")]
    );
    assert_eq!(
        attributes_errors("actions: { key: a }"),
        [format!("{PATH}.actions: expected a list, got a mapping")]
    );
    assert_eq!(
        resource_errors("{ actions: [{ key: a, action: delete }] }"),
        [
            "processors.resource.actions: unknown key (expected one of: attributes)",
            "processors.resource: attributes is required: a list of actions like { key: deployment.environment, value: dev, action: insert }",
        ]
    );
    assert_eq!(
        resource_errors("attributes: [{ key: a, action: extract, pattern: x }]"),
        ["processors.resource.attributes[0].pattern: has no named groups: name each value to extract, like (?P<host>[^/]+)"]
    );
}

#[test]
fn include_and_exclude_errors() {
    let errors = attributes_errors(
        r#"
include:
  services: [a]
exclude:
  match_type: glob
  span_kinds: [SERVER]
actions: [{ key: a, action: delete }]
"#,
    );
    assert_eq!(
        errors,
        [
            format!("{PATH}.include: match_type is required (strict or regexp)"),
            format!("{PATH}.exclude.match_type: must be strict or regexp, got \"glob\""),
            format!(
                "{PATH}.exclude.span_kinds[0]: \"SERVER\" is not a span kind (expected one of: SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER)"
            ),
        ]
    );

    let errors = attributes_errors(
        r#"
include:
  match_type: regexp
  span_names: ['(']
  attributes: [{ key: a, value: 1 }, { value: x }, { key: b, value: '[' }]
  libraries: [{ version: '1' }, { name: x, release: 2 }]
  log_severity_number: { min: LOUD, match_undefined: yes }
  span_kind: [SPAN_KIND_SERVER]
exclude: { match_type: strict, services: [] }
actions: [{ key: a, action: delete }]
"#,
    );
    assert_eq!(
        errors,
        [
            format!(
                "{PATH}.include.span_kind: unknown key (expected one of: match_type, services, span_names, span_kinds, attributes, resources, libraries, log_bodies, log_severity_texts, log_severity_number, metric_names)"
            ),
            format!("{PATH}.include.span_names[0]: not a valid regular expression: regex parse error:\n    (\n    ^\nerror: unclosed group"),
            format!("{PATH}.include.attributes[0].value: must be a string (a regular expression) with match_type regexp"),
            format!("{PATH}.include.attributes[1]: key is required"),
            format!(
                "{PATH}.include.attributes[2].value: not a valid regular expression: regex parse error:\n    [\n    ^\nerror: unclosed character class"
            ),
            format!("{PATH}.include.libraries[0]: name is required"),
            format!("{PATH}.include.libraries[1].release: unknown key (expected one of: name, version)"),
            format!("{PATH}.include.log_severity_number.min: expected a severity like INFO, WARN2 or SEVERITY_NUMBER_ERROR, or a number from 1 to 24"),
            format!(
                "{PATH}.exclude: needs at least one property to match: services, span_names, span_kinds, attributes, resources, libraries, log_bodies, log_severity_texts, log_severity_number, metric_names"
            ),
        ]
    );
}

#[test]
fn errors_reach_the_config_with_their_full_paths() {
    let text = SPEC_EXAMPLE
        .replace(r"'^(?P<scheme>\w+)://(?P<host>[^/]+)'", r"'^\w+://'")
        .replace("value: eu-west-1, action: upsert", "from_context: metadata.region, action: upsert");
    let errors = crate::components::parse_config(&text).expect_err("invalid").0;
    assert_eq!(
        errors,
        [
            "processors.attributes/agent.actions[2].pattern: has no named groups: name each value to extract, like (?P<host>[^/]+)",
            "processors.resource.attributes[0].from_context: is not supported without default_value: otelbox's pipelines carry no request context (client metadata or auth), so only the default could be set; use value, from_attribute, or add default_value",
        ]
    );
}

#[test]
fn severity_names_and_numbers() {
    let cases = [
        ("TRACE", Some(1)),
        ("trace4", Some(4)),
        ("DEBUG", Some(5)),
        ("INFO", Some(9)),
        ("INFO2", Some(10)),
        ("WARN", Some(13)),
        ("ERROR3", Some(19)),
        ("SEVERITY_NUMBER_FATAL4", Some(24)),
        ("17", Some(17)),
        ("0", None),
        ("25", None),
        ("INFO5", None),
        ("LOUD", None),
        ("", None),
    ];
    for (text, expected) in cases {
        assert_eq!(severity_number(text), expected, "{text}");
    }
}

#[test]
fn default_value_stands_in_for_a_missing_source_attribute_or_the_absent_request_context() {
    let actions = r#"
  - { key: region, from_attribute: cloud.region, default_value: us-east-1, action: insert }
  - { key: tenant_id, from_context: metadata.tenant, default_value: default-tenant, action: upsert }
"#;
    assert_eq!(
        act(actions, attrs(&[])),
        attrs(&[("region", s("us-east-1")), ("tenant_id", s("default-tenant"))]),
        "no cloud.region: the default; no request context in otelbox: the default"
    );
    assert_eq!(
        act(actions, attrs(&[("cloud.region", s("eu-west-3"))])),
        attrs(&[
            ("cloud.region", s("eu-west-3")),
            ("region", s("eu-west-3")),
            ("tenant_id", s("default-tenant"))
        ]),
        "a present source wins over the default"
    );
    let errors = attributes_errors(
        r#"
actions:
  - { key: a, value: 1, default_value: 2, action: insert }
  - { key: a, default_value: 2, action: delete }
"#,
    );
    assert!(
        errors[0].ends_with("actions[0].default_value: is used with from_attribute or from_context, not with value"),
        "{errors:?}"
    );
    assert!(
        errors[1].ends_with("actions[1].default_value: is not used by the delete action"),
        "{errors:?}"
    );
}
