//! Store and filter language together, without a socket: attribute search through the trace-level
//! index finds exactly the right spans, and retention by age and by size keeps every summary true.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use otelbox::store::read::{self, TimeRange, TraceQuery};
use otelbox::store::retention::Retention;
use otelbox::store::rows::flatten_traces;
use otelbox::store::sql::{compile_text, Target};
use otelbox::store::{Location, Store, StoreConfig};
use std::sync::Arc;
use std::time::Duration;

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn span(trace: u8, id: u8, start_ns: u64, attributes: Vec<KeyValue>, error: bool) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: if id == 1 { vec![] } else { vec![1; 8] },
        name: format!("op{id}"),
        start_time_unix_nano: start_ns,
        end_time_unix_nano: start_ns + 1_000_000 * id as u64,
        attributes,
        status: error.then(|| Status {
            code: 2,
            message: "bad".into(),
        }),
        ..Default::default()
    }
}

fn request(service: &str, env: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", any_value::Value::StringValue(service.into())),
                    kv("env", any_value::Value::StringValue(env.into())),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn store(retention: Retention) -> Arc<Store> {
    Store::open(StoreConfig {
        location: Location::Memory,
        retention,
        durable_sync: false,
    })
    .unwrap()
}

async fn write(store: &Store, req: ExportTraceServiceRequest) {
    store.write_committed(flatten_traces(req)).await.unwrap();
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

async fn span_names(store: &Arc<Store>, q: &str) -> Vec<String> {
    let filter = compile_text(Some(q), Target::Spans, &*store.resource_attrs()).unwrap();
    let mut names: Vec<String> = store
        .read(move |c| read::search_spans(c, &filter, TimeRange::ALL, 1000))
        .await
        .unwrap()
        .into_iter()
        .map(|s| format!("{}:{}", s.span.trace_id[0], s.span.name))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn attribute_search_finds_exactly_the_matching_spans() {
    let s = store(Retention::default()).await;
    let t = now();
    use any_value::Value::*;
    // Trace 1: the value sits on spans 1 and 3 only; trace 2 has another value; trace 3 gets the
    // value from its resource (a bare key falls back to the resource attribute).
    write(
        &s,
        request(
            "checkout",
            "prod",
            vec![
                span(
                    1,
                    1,
                    t,
                    vec![kv("run_id", StringValue("R1".into())), kv("code", IntValue(503))],
                    true,
                ),
                span(
                    1,
                    2,
                    t,
                    vec![kv("run_id", StringValue("R2".into())), kv("code", IntValue(200))],
                    false,
                ),
                span(
                    1,
                    3,
                    t,
                    vec![
                        kv("run_id", StringValue("R1".into())),
                        kv("ok", BoolValue(true)),
                        kv("ratio", DoubleValue(0.5)),
                    ],
                    false,
                ),
            ],
        ),
    )
    .await;
    write(
        &s,
        request(
            "checkout",
            "prod",
            vec![span(2, 1, t, vec![kv("run_id", StringValue("R2".into()))], false)],
        ),
    )
    .await;
    write(&s, request("billing", "dev", vec![span(3, 1, t, vec![], false)])).await;
    // A later write group adds a span to trace 1: its own index entry.
    write(
        &s,
        request(
            "checkout",
            "prod",
            vec![span(1, 4, t, vec![kv("run_id", StringValue("R1".into()))], false)],
        ),
    )
    .await;

    assert_eq!(span_names(&s, r#"run_id = "R1""#).await, ["1:op1", "1:op3", "1:op4"]);
    assert_eq!(span_names(&s, "run_id = R2").await, ["1:op2", "2:op1"]);
    assert_eq!(span_names(&s, "code = 503").await, ["1:op1"]);
    assert_eq!(span_names(&s, "code >= 200 and code < 500").await, ["1:op2"]);
    assert_eq!(span_names(&s, "ok = true").await, ["1:op3"]);
    assert_eq!(span_names(&s, "ratio = 0.5").await, ["1:op3"]);
    assert_eq!(span_names(&s, "env = dev").await, ["3:op1"], "bare key falls back to the resource");
    assert_eq!(span_names(&s, "resource.env != prod").await, ["3:op1"]);
    assert_eq!(span_names(&s, "service = checkout and status = error").await, ["1:op1"]);
    assert_eq!(span_names(&s, "not has(run_id)").await, ["3:op1"]);
    assert_eq!(
        span_names(&s, r#"name =~ "^op[34]$" and duration >= 3ms"#).await,
        ["1:op3", "1:op4"]
    );
    assert_eq!(span_names(&s, "run_id = R9").await, Vec::<String>::new());

    let filter = compile_text(Some(r#"run_id = "R1""#), Target::Spans, &*s.resource_attrs()).unwrap();
    let traces = s
        .read(move |c| read::search_traces(c, &filter, &TraceQuery::default(), TimeRange::ALL, 10))
        .await
        .unwrap();
    assert_eq!(traces.len(), 1);
    assert_eq!(
        (traces[0].span_count, traces[0].error_count, traces[0].root_name.as_str()),
        (4, 1, "op1")
    );
}

/// `env = prod` where `env` is a resource attribute: every span of such a resource matches (unless
/// it has its own `env`), through the time index rather than the span attribute index, which holds
/// only the spans' own attributes. The store learns resources as they arrive and again when it opens.
#[tokio::test]
async fn an_equality_held_by_a_resource_matches_its_spans_before_and_after_a_reopen() {
    use any_value::Value::*;
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Store::open(StoreConfig {
            location: Location::Disk(dir.path().join("otelbox.db")),
            retention: Retention::default(),
            durable_sync: false,
        })
        .unwrap()
    };
    let t = now();
    let s = open();
    assert!(selective(&s, "env = prod"), "no resource holds it yet");
    let spans = vec![
        span(1, 1, t, vec![kv("run_id", StringValue("R1".into()))], false),
        span(1, 2, t, vec![kv("env", StringValue("dev".into()))], false),
    ];
    write(&s, request("checkout", "prod", spans)).await;
    write(&s, request("search", "dev", vec![span(2, 1, t, vec![], false)])).await;
    resource_equalities_match(&s).await;
    s.close().await;
    drop(s);
    let s = open();
    resource_equalities_match(&s).await;
    s.close().await;
}

fn selective(s: &Store, q: &str) -> bool {
    compile_text(Some(q), Target::Spans, &*s.resource_attrs()).unwrap().selective
}

async fn resource_equalities_match(s: &Arc<Store>) {
    assert!(!selective(s, "env = prod"), "many spans may match through the resource");
    assert!(selective(s, "run_id = R1"), "no resource holds a run id");
    assert_eq!(span_names(s, "env = prod").await, ["1:op1"], "a span's own value comes first");
    assert_eq!(span_names(s, "env = dev").await, ["1:op2", "2:op1"]);
    assert_eq!(span_names(s, "env = prod and run_id = R1").await, ["1:op1"]);
    assert_eq!(span_names(s, "env = staging").await, Vec::<String>::new());
    let filter = compile_text(Some("env = dev"), Target::Spans, &*s.resource_attrs()).unwrap();
    let traces = s
        .read(move |c| read::search_traces(c, &filter, &TraceQuery::default(), TimeRange::ALL, 10))
        .await
        .unwrap();
    assert_eq!(traces.len(), 2);
}

#[tokio::test]
async fn retention_by_age_removes_old_data_and_keeps_the_summaries_true() {
    let s = store(Retention {
        max_age: Some(Duration::from_secs(3600)),
        max_bytes: None,
    })
    .await;
    let old = now() - 2 * 3600 * 1_000_000_000;
    write(
        &s,
        request(
            "old",
            "prod",
            (1..=5)
                .map(|i| span(7, i, old, vec![kv("run_id", any_value::Value::StringValue("OLD".into()))], i == 2))
                .collect(),
        ),
    )
    .await;
    // Arrived two hours ago: retention by age counts from arrival, not from the spans' own times.
    s.backdate_arrivals(Duration::from_secs(2 * 3600)).await.unwrap();
    write(
        &s,
        request("new", "prod", (1..=3).map(|i| span(8, i, now(), vec![], false)).collect()),
    )
    .await;
    // The writer runs retention steps on its own; wait for the old trace to go.
    let mut counts = Default::default();
    for _ in 0..50 {
        counts = s.read(read::counts).await.unwrap();
        if counts.spans == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counts.spans, 3, "only the recent spans remain");
    assert_eq!(
        span_names(&s, "run_id = OLD").await,
        Vec::<String>::new(),
        "index entries went with the spans"
    );
    let services = s.read(read::services).await.unwrap();
    // Listed with nothing, or gone with its resource once retention's sweep has forgotten it.
    if let Some(old_service) = services.iter().find(|x| x.name == "old") {
        assert_eq!((old_service.spans, old_service.errors), (0, 0));
    }
    let traces = s
        .read(|c| {
            read::search_traces(
                c,
                &otelbox::store::sql::SqlFilter::everything(),
                &TraceQuery::default(),
                TimeRange::ALL,
                10,
            )
        })
        .await
        .unwrap();
    assert_eq!(traces.len(), 1, "the expired trace's summary is gone");
}

#[tokio::test]
async fn retention_by_size_keeps_live_data_under_the_cap() {
    let cap: u64 = 2 * 1024 * 1024;
    let s = store(Retention {
        max_age: None,
        max_bytes: Some(cap),
    })
    .await;
    // Payloads that do not compress (packs would fit repeated text in a fraction of the cap): 500
    // bytes of xorshift output a span, as hex.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut payload = move || {
        (0..63)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                format!("{state:016x}")
            })
            .collect::<String>()
    };
    for trace in 0..60u8 {
        let spans = (1..=100u8)
            .map(|i| {
                span(
                    trace.wrapping_add(1),
                    i,
                    now(),
                    vec![kv("payload", any_value::Value::StringValue(payload()))],
                    false,
                )
            })
            .collect();
        write(&s, request("svc", "prod", spans)).await;
    }
    let mut live = i64::MAX;
    for _ in 0..100 {
        live = s.read(|c| Ok(otelbox::store::retention::live_bytes(c)?)).await.unwrap();
        if live <= cap as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(live <= cap as i64, "live bytes {live} over the cap {cap}");
    let counts = s.read(read::counts).await.unwrap();
    assert!(
        counts.spans > 0 && counts.spans < 6000,
        "oldest data deleted, newest kept: {}",
        counts.spans
    );
    let newest = span_names(&s, "has(payload)").await;
    assert!(newest.iter().any(|n| n.starts_with("60:")), "the newest trace survives");
}

/// Over the size cap with no data arriving (senders refused at the cap wait out their
/// Retry-After), the writer deletes back to back instead of one step per once-a-second tick:
/// otherwise ingest at the cap would run at a small fraction of the delete rate.
#[tokio::test]
async fn a_store_over_its_cap_makes_room_back_to_back_while_no_data_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let path = otelbox::store::db_file(dir.path());
    let open = |max_bytes| {
        Store::open(StoreConfig {
            location: Location::Disk(path.clone()),
            retention: Retention { max_age: None, max_bytes },
            durable_sync: false,
        })
        .unwrap()
    };
    let s = open(None);
    let mut generator = otelbox::gen::Generator::new(5);
    for _ in 0..20 {
        write(&s, generator.traces_request(1000)).await;
    }
    let live = s.read(|c| Ok(otelbox::store::retention::live_bytes(c)?)).await.unwrap();
    s.close().await;
    drop(s);

    let cap = live as u64 / 4;
    let s = open(Some(cap));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let busy = Duration::from_micros(s.stats.retention_micros.load(std::sync::atomic::Ordering::Relaxed));
    let live = s.read(|c| Ok(otelbox::store::retention::live_bytes(c)?)).await.unwrap();
    // One step a tick would give under 0.1 s of deleting in 1.5 s and leave data over the cap.
    assert!(
        live as u64 <= cap || busy >= Duration::from_millis(600),
        "{live} bytes live against a cap of {cap}, after {busy:?} of deleting in 1.5 s"
    );
}

#[tokio::test]
async fn numbers_long_strings_and_resource_bools_compare_as_their_types() {
    let s = store(Retention::default()).await;
    let t = now();
    use any_value::Value::*;
    let long = "p".repeat(300);
    write(
        &s,
        request(
            "svc",
            "prod",
            vec![
                span(
                    1,
                    1,
                    t,
                    vec![kv("code", StringValue("200".into())), kv("prompt", StringValue(long.clone()))],
                    false,
                ),
                span(1, 2, t, vec![kv("code", IntValue(503))], false),
            ],
        ),
    )
    .await;
    let mut req = request("flagged", "prod", vec![span(2, 1, t, vec![], false)]);
    req.resource_spans[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .push(kv("canary", BoolValue(true)));
    write(&s, req).await;
    assert_eq!(span_names(&s, "code >= 500").await, ["1:op2"], "the string \"200\" is not >= 500");
    assert_eq!(
        span_names(&s, "code < 500").await,
        Vec::<String>::new(),
        "nor < 500: it is not a number"
    );
    assert_eq!(
        span_names(&s, &format!("prompt = \"{long}\"")).await,
        ["1:op1"],
        "strings too long for the index are still found"
    );
    assert_eq!(span_names(&s, "resource.canary = true").await, ["2:op1"]);
}

#[tokio::test]
async fn age_retention_of_a_root_keeps_the_rest_of_its_trace_searchable() {
    let s = store(Retention {
        max_age: Some(Duration::from_secs(3600)),
        max_bytes: None,
    })
    .await;
    let old = now() - 2 * 3600 * 1_000_000_000;
    // The root (span 1) arrived two hours before its children: retention deletes it alone, and
    // the trace's summary and index must stay true for the rest.
    let run = |v: &str| vec![kv("run_id", any_value::Value::StringValue(v.into()))];
    write(&s, request("svc", "prod", vec![span(5, 1, old, run("KEEP"), false)])).await;
    s.backdate_arrivals(Duration::from_secs(2 * 3600)).await.unwrap();
    let mut spans: Vec<Span> = (2..=4).map(|i| span(5, i, now(), run("KEEP"), false)).collect();
    spans.reverse(); // SDKs export children before their parent
    write(&s, request("svc", "prod", spans)).await;
    for _ in 0..50 {
        if s.read(read::counts).await.unwrap().spans == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(span_names(&s, "run_id = KEEP").await, ["5:op2", "5:op3", "5:op4"]);
    let filter = compile_text(Some("run_id = KEEP"), Target::Spans, &*s.resource_attrs()).unwrap();
    let traces = s
        .read(move |c| read::search_traces(c, &filter, &TraceQuery::default(), TimeRange::ALL, 10))
        .await
        .unwrap();
    assert_eq!(traces.len(), 1, "the trace is still found through the index");
    assert_eq!(traces[0].span_count, 3);
    assert!(
        traces[0].start_ns > old as i64,
        "the summary's start moved to the oldest remaining span"
    );
}

/// The same span (trace id and span id) sent again, by a retry, a redelivering queue or an import
/// of the same file, is stored once: the first copy wins, summaries count it once, the duplicate is
/// counted. Spans of the same request that are new are still stored.
#[tokio::test]
async fn a_span_sent_twice_is_stored_once_and_the_first_copy_wins() {
    let s = store(Retention::default()).await;
    let t = now();
    let first = request("svc", "prod", (1..=3).map(|i| span(9, i, t, vec![], i == 2)).collect());
    write(&s, first.clone()).await;
    // The retry, with one changed span (the first copy must win) and one new span.
    let mut retry = first.clone();
    let spans = &mut retry.resource_spans[0].scope_spans[0].spans;
    spans[0].name = "renamed".into();
    spans.push(span(9, 4, t, vec![], false));
    write(&s, retry).await;
    // A duplicate inside one request, and a second trace unaffected by the first's ids.
    let twice = span(10, 1, t, vec![], false);
    write(&s, request("svc", "prod", vec![twice.clone(), twice])).await;
    assert_eq!(
        span_names(&s, "service.name = svc").await,
        ["10:op1", "9:op1", "9:op2", "9:op3", "9:op4"]
    );
    let counts = s.read(read::counts).await.unwrap();
    assert_eq!(counts.spans, 5);
    let traces = s
        .read(|c| {
            read::search_traces(
                c,
                &otelbox::store::sql::SqlFilter::everything(),
                &TraceQuery::default(),
                TimeRange::ALL,
                10,
            )
        })
        .await
        .unwrap();
    let nine = traces.iter().find(|t| t.trace_id[0] == 9).unwrap();
    assert_eq!((nine.span_count, nine.error_count), (4, 1), "the summary counts each span once");
    let services = s.read(read::services).await.unwrap();
    assert_eq!(services.iter().find(|x| x.name == "svc").map(|x| x.spans), Some(5));
    assert_eq!(s.stats.duplicate_spans.load(std::sync::atomic::Ordering::Relaxed), 4);
}

/// The trace index keys on prefixes of the ids (8 bytes of the trace id, 4 of the span id): traces
/// and spans that share them by chance are still told apart, by the whole ids on the rows. Two
/// traces differ only in their last byte; spans differ only in their last byte, and the same span
/// ids appear in both traces. Each trace reads back its own spans, a retried span is a duplicate
/// only in its own trace, a parent is found by its whole id, and no span is an orphan.
#[tokio::test]
async fn ids_sharing_the_trace_index_prefix_are_told_apart() {
    let s = store(Retention::default()).await;
    let t = now();
    let trace = |last: u8| {
        let mut id = vec![7u8; 16];
        id[15] = last;
        id
    };
    let span_id = |last: u8| {
        let mut id = vec![5u8; 8];
        id[7] = last;
        id
    };
    let spans_of = |trace_last: u8, lasts: &[u8]| -> Vec<Span> {
        lasts
            .iter()
            .map(|&last| Span {
                trace_id: trace(trace_last),
                span_id: span_id(last),
                parent_span_id: if last == 1 { vec![] } else { span_id(1) },
                name: format!("t{trace_last}s{last}"),
                start_time_unix_nano: t + last as u64,
                end_time_unix_nano: t + 1_000_000,
                ..Default::default()
            })
            .collect()
    };
    write(&s, request("svc", "prod", spans_of(1, &[1, 2, 3]))).await;
    write(&s, request("svc", "prod", spans_of(2, &[1, 2]))).await;
    // A retry of trace 1's span 2 (a duplicate) and its new span 4 (not one, though its id shares
    // the prefix of spans 1-3 in both traces).
    write(&s, request("svc", "prod", spans_of(1, &[2, 4]))).await;
    for (last, expected) in [(1u8, vec!["t1s1", "t1s2", "t1s3", "t1s4"]), (2, vec!["t2s1", "t2s2"])] {
        let id = trace(last);
        let names: Vec<String> = s
            .read(move |c| read::trace_spans(c, &id, read::Values::Whole))
            .await
            .unwrap()
            .into_iter()
            .map(|x| x.span.name)
            .collect();
        assert_eq!(names, expected, "trace {last}");
    }
    let hex: String = trace(2).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(span_names(&s, &format!("trace_id = {hex}")).await, ["7:t2s1", "7:t2s2"]);
    assert_eq!(s.stats.duplicate_spans.load(std::sync::atomic::Ordering::Relaxed), 1);
    let findings = s.read(otelbox::store::lint::lint).await.unwrap();
    let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    assert!(
        !rules.contains(&"orphan-span") && !rules.contains(&"duplicate-span-id"),
        "{findings:?}"
    );
}

/// Retention by age counts from when otelbox received the data: spans, logs and points stamped
/// 2018 (the OTLP specification's examples, an import, a wrong clock) stay for the retention period.
#[tokio::test]
async fn data_with_old_timestamps_lives_the_retention_period_from_its_arrival() {
    use otelbox::store::rows::{flatten_logs, flatten_metrics};
    let s = store(Retention {
        max_age: Some(Duration::from_secs(3600)),
        max_bytes: None,
    })
    .await;
    let in_2018 = 1_544_712_660_000_000_000u64;
    write(
        &s,
        request("svc", "prod", (1..=3).map(|i| span(11, i, in_2018, vec![], false)).collect()),
    )
    .await;
    let mut generator = otelbox::gen::Generator::new(3);
    let mut logs = generator.logs_request(5);
    for record in logs
        .resource_logs
        .iter_mut()
        .flat_map(|r| &mut r.scope_logs)
        .flat_map(|s| &mut s.log_records)
    {
        record.time_unix_nano = in_2018;
        record.observed_time_unix_nano = in_2018;
    }
    s.write_committed(flatten_logs(logs)).await.unwrap();
    s.write_committed(flatten_metrics(generator.metrics_request(in_2018, 1_000_000_000)))
        .await
        .unwrap();
    let stored = s.read(read::counts).await.unwrap();
    assert!(stored.spans == 3 && stored.logs >= 5 && stored.metric_points > 0, "{stored:?}");
    // Retention steps run twice a second: give it several.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let counts = s.read(read::counts).await.unwrap();
    assert_eq!(
        (counts.spans, counts.logs, counts.metric_points),
        (stored.spans, stored.logs, stored.metric_points),
        "nothing of what just arrived is deleted"
    );
    // Once it has been here longer than the retention period, it goes.
    s.backdate_arrivals(Duration::from_secs(3601 + 60)).await.unwrap();
    let mut counts = Default::default();
    for _ in 0..50 {
        counts = s.read(read::counts).await.unwrap();
        if counts.spans + counts.logs + counts.metric_points == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((counts.spans, counts.logs, counts.metric_points), (0, 0, 0));
}

#[tokio::test]
async fn lint_finds_each_kind_of_instrumentation_problem() {
    let s = store(Retention::default()).await;
    let t = now();
    use any_value::Value::*;
    // A healthy trace: the child inside its parent; no findings from it.
    let mut root = span(1, 1, t, vec![], false);
    root.end_time_unix_nano = t + 10_000_000;
    write(&s, request("good", "prod", vec![root, span(1, 2, t + 1000, vec![], false)])).await;
    // No service.name.
    let mut nameless = request("x", "prod", vec![span(2, 1, t, vec![], false)]);
    nameless.resource_spans[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .retain(|kv| kv.key != "service.name");
    write(&s, nameless).await;
    // An orphan (parent 1 never arrives), a span ending before it starts, a child outside its parent.
    write(&s, request("svc", "prod", vec![span(3, 2, t, vec![], false)])).await;
    let mut backwards = span(4, 1, t, vec![], false);
    backwards.end_time_unix_nano = t - 5;
    write(&s, request("svc", "prod", vec![backwards])).await;
    let mut parent = span(5, 1, t, vec![], false);
    parent.end_time_unix_nano = t + 10_000_000;
    let mut skewed = span(5, 2, t, vec![], false);
    skewed.start_time_unix_nano = t - 50_000_000;
    write(&s, request("svc", "prod", vec![parent, skewed])).await;
    // High-cardinality names and an oversized attribute.
    let spans: Vec<Span> = (0..120u32)
        .map(|i| {
            let mut sp = span(6, 1, t, vec![], false);
            sp.span_id = (i + 1).to_be_bytes().repeat(2);
            sp.parent_span_id = vec![];
            sp.name = format!("GET /users/{i}");
            sp
        })
        .collect();
    write(&s, request("chatty", "prod", spans)).await;
    write(
        &s,
        request(
            "svc",
            "prod",
            vec![span(7, 1, t, vec![kv("prompt", StringValue("x".repeat(10_000)))], false)],
        ),
    )
    .await;

    let findings = s.read(otelbox::store::lint::lint).await.unwrap();
    let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    for rule in [
        "missing-service-name",
        "orphan-span",
        "end-before-start",
        "clock-skew",
        "high-cardinality-span-names",
        "oversized-attribute",
    ] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
    let by_rule = |r: &str| findings.iter().find(|f| f.rule == r).unwrap();
    assert_eq!(by_rule("orphan-span").count, 1, "{:?}", by_rule("orphan-span").examples);
    assert_eq!(by_rule("clock-skew").count, 1);
    assert!(by_rule("high-cardinality-span-names").message.contains("chatty"));
    assert!(by_rule("oversized-attribute").message.contains("prompt"));
    assert!(
        findings.iter().all(|f| !f.examples.iter().any(|e| e.service == "good")),
        "the healthy trace is not reported"
    );
}

#[tokio::test]
async fn full_text_search_combines_with_other_conditions_newest_first() {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    let s = store(Retention::default()).await;
    let t = now();
    let records: Vec<LogRecord> = (0..300u64)
        .map(|i| LogRecord {
            time_unix_nano: t + i,
            severity_number: if i % 3 == 0 { 17 } else { 9 },
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(if i % 2 == 0 {
                    format!("upstream timeout #{i}")
                } else {
                    format!("ok #{i}")
                })),
            }),
            ..Default::default()
        })
        .collect();
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    s.write_committed(otelbox::store::rows::flatten_logs(request)).await.unwrap();
    let filter = compile_text(
        Some(r#"body ~ "timeout" and severity >= error"#),
        Target::Logs,
        &*s.resource_attrs(),
    )
    .unwrap();
    assert!(filter.full_text.is_some(), "a top-level full-text term drives the query");
    let f = filter.clone();
    let logs = s
        .read(move |c| read::search_logs(c, &f, &Default::default(), TimeRange::ALL, 10))
        .await
        .unwrap();
    assert_eq!(logs.len(), 10);
    // i % 6 == 0: even (timeout) and divisible by 3 (error); newest first.
    let times: Vec<u64> = logs.iter().map(|l| l.time_ns as u64 - t).collect();
    assert_eq!(times, vec![294, 288, 282, 276, 270, 264, 258, 252, 246, 240]);
    let n = s
        .read(move |c| read::count(c, &filter, read::CountTarget::Logs, TimeRange::ALL))
        .await
        .unwrap();
    assert_eq!(n, 50);
    // Inside `or`, full text still works (through the subquery form).
    let either = compile_text(Some(r#"body ~ "timeout" or severity >= error"#), Target::Logs, &*s.resource_attrs()).unwrap();
    assert!(either.full_text.is_none());
    let n = s
        .read(move |c| read::count(c, &either, read::CountTarget::Logs, TimeRange::ALL))
        .await
        .unwrap();
    assert_eq!(n, 200);
}

/// The trace-id and attribute indexes are bucketed by span row id (65,536 rows a bucket): a trace
/// whose spans arrive far apart lies in several buckets, and every lookup must still find all of
/// its spans. The gaps are made by raising the AUTOINCREMENT counter from a second connection.
#[tokio::test]
async fn a_trace_spread_over_many_index_buckets_is_found_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = otelbox::store::db_file(dir.path());
    let s = Store::open(StoreConfig {
        location: Location::Disk(path.clone()),
        retention: Retention::default(),
        durable_sync: false,
    })
    .unwrap();
    let skip_ids = |n: i64| {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn.execute("UPDATE sqlite_sequence SET seq = seq + ?1 WHERE name = 'spans'", [n])
            .unwrap();
    };
    let t = now();
    use any_value::Value::*;
    let run = |v: &str| vec![kv("run_id", StringValue(v.into()))];
    write(
        &s,
        request("agent", "prod", vec![span(7, 1, t, run("R7"), false), span(8, 1, t, vec![], false)]),
    )
    .await;
    skip_ids(70_000); // next bucket
    write(&s, request("agent", "prod", vec![span(7, 2, t + 1, vec![], false)])).await;
    skip_ids(200_000); // three buckets further: the buckets between hold nothing of trace 7
    write(&s, request("tools", "prod", vec![span(7, 3, t + 2, run("R7"), true)])).await;
    write(&s, request("agent", "prod", vec![span(8, 2, t + 3, run("R8"), false)])).await;

    let whole = s.read(|c| read::trace_spans(c, &[7; 16], read::Values::Whole)).await.unwrap();
    let names: Vec<&str> = whole.iter().map(|s| s.span.name.as_str()).collect();
    assert_eq!(names, ["op1", "op2", "op3"]);
    assert_eq!(
        span_names(&s, "trace_id = 07070707070707070707070707070707").await,
        ["7:op1", "7:op2", "7:op3"]
    );
    assert_eq!(span_names(&s, "run_id = R7").await, ["7:op1", "7:op3"]);
    assert_eq!(span_names(&s, "run_id = R8").await, ["8:op2"]);
    // Trace-level checks walk traces and probe each one's buckets.
    let filter = compile_text(Some("status = error"), Target::Spans, &*s.resource_attrs()).unwrap();
    let query = TraceQuery {
        service: Some("agent".into()),
        ..Default::default()
    };
    let traces = s
        .read(move |c| read::search_traces(c, &filter, &query, TimeRange::ALL, 10))
        .await
        .unwrap();
    assert_eq!(traces.len(), 1, "trace 7: an error span (bucket 4) and an agent span (bucket 0)");
    assert_eq!((traces[0].span_count, traces[0].error_count), (3, 1));
    assert_eq!(traces[0].services, ["agent", "tools"]);
}

fn gauge_with_a_label_per_point(
    service: &str,
    points: usize,
) -> opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        metric, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };
    let t = now();
    let data_points = (0..points)
        .map(|i| NumberDataPoint {
            attributes: vec![kv("user", any_value::Value::StringValue(format!("user-{i}")))],
            time_unix_nano: t,
            value: Some(number_data_point::Value::AsInt(i as i64)),
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", any_value::Value::StringValue(service.into()))],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "logins".into(),
                    data: Some(metric::Data::Gauge(Gauge { data_points })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn table_rows(s: &Arc<Store>, table: &'static str) -> i64 {
    s.read(move |c| Ok(c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?))
        .await
        .unwrap()
}

/// A metric with a made-up label value per point gets at most `MAX_SERIES_PER_METRIC` series per
/// resource; the rest of its points go to one overflow series and are counted. Once retention has
/// deleted the points, their series, resources and scopes go too: nothing keeps the store over its cap.
#[tokio::test]
async fn a_high_cardinality_metric_is_capped_and_its_series_go_with_their_points() {
    use otelbox::store::rows::flatten_metrics;
    use otelbox::store::writer::MAX_SERIES_PER_METRIC;
    let s = store(Retention {
        max_age: Some(Duration::from_secs(3600)),
        max_bytes: None,
    })
    .await;
    let over = 500;
    s.write_committed(flatten_metrics(gauge_with_a_label_per_point(
        "svc",
        MAX_SERIES_PER_METRIC as usize + over,
    )))
    .await
    .unwrap();
    assert_eq!(
        table_rows(&s, "metric_streams").await,
        MAX_SERIES_PER_METRIC + 1,
        "the cap and one overflow series"
    );
    assert_eq!(
        table_rows(&s, "metric_points").await,
        MAX_SERIES_PER_METRIC + over as i64,
        "no point is lost"
    );
    assert_eq!(s.stats.overflow_points.load(std::sync::atomic::Ordering::Relaxed), over as u64);
    let overflow: i64 = s
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM metric_points p JOIN metric_streams m ON m.id = p.stream_id WHERE otelbox_attr(m.attrs, 'otel.metric.overflow') = 1",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(overflow, over as i64, "the overflow series holds the points past the cap");
    // Another resource has a cap of its own.
    s.write_committed(flatten_metrics(gauge_with_a_label_per_point("other", 10)))
        .await
        .unwrap();
    assert_eq!(table_rows(&s, "metric_streams").await, MAX_SERIES_PER_METRIC + 11);

    // A span and a log too, so resources and scopes are used by every kind of row.
    write(&s, request("svc", "prod", vec![span(12, 1, now(), vec![], false)])).await;
    s.backdate_arrivals(Duration::from_secs(2 * 3600)).await.unwrap();
    let mut left = (0, 0, 0, 0);
    for _ in 0..100 {
        left = (
            table_rows(&s, "metric_points").await + table_rows(&s, "spans").await,
            table_rows(&s, "metric_streams").await,
            table_rows(&s, "resources").await,
            table_rows(&s, "scopes").await,
        );
        if left == (0, 0, 0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, (0, 0, 0, 0), "rows, then series, resources and scopes are gone");
    assert!(s.stats.unreferenced_removed.load(std::sync::atomic::Ordering::Relaxed) >= MAX_SERIES_PER_METRIC as u64 + 11 + 2);
    // And the same metric is stored afresh afterwards (the writer forgot its cached ids).
    s.write_committed(flatten_metrics(gauge_with_a_label_per_point("svc", 3)))
        .await
        .unwrap();
    assert_eq!(table_rows(&s, "metric_streams").await, 3);
    assert_eq!(table_rows(&s, "metric_points").await, 3);
}

// ---------------------------------------------------------------------------------------------
// Search (issue 23): full-text semantics, events, scopes and status messages, conditions across
// the spans of a trace, honest totals and sorting, and why an empty answer is empty.

async fn write_log_bodies(store: &Arc<Store>, bodies: &[&str]) {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    let t = now();
    let records = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| LogRecord {
            time_unix_nano: t + i as u64,
            severity_number: 9,
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(body.to_string())),
            }),
            ..Default::default()
        })
        .collect();
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    store.write_committed(otelbox::store::rows::flatten_logs(request)).await.unwrap();
}

/// The bodies of the log records matching `q`, sorted; the error text when it does not compile.
async fn log_bodies(store: &Arc<Store>, q: &str) -> Result<Vec<String>, String> {
    let filter = compile_text(Some(q), Target::Logs, &*store.resource_attrs()).map_err(|e| e.to_string())?;
    let mut bodies: Vec<String> = store
        .read(move |c| read::search_logs(c, &filter, &Default::default(), TimeRange::ALL, 100))
        .await
        .unwrap()
        .into_iter()
        .map(|l| match l.record.body.and_then(|b| b.value) {
            Some(any_value::Value::StringValue(s)) => s,
            other => format!("{other:?}"),
        })
        .collect();
    bodies.sort();
    Ok(bodies)
}

#[tokio::test]
async fn full_text_finds_every_word_in_any_order_quoted_phrases_and_prefixes() {
    let s = store(Retention::default()).await;
    let bodies = [
        "upstream timeout after 30s",
        "Timeout talking to UPSTREAM",
        "connection refused by upstream",
        "upstream-timeout: retrying",
        "timed out",
        "Überlauf im Puffer",
    ];
    write_log_bodies(&s, &bodies).await;
    let found = |indexes: &[usize]| -> Result<Vec<String>, String> {
        let mut v: Vec<String> = indexes.iter().map(|&i| bodies[i].to_string()).collect();
        v.sort();
        Ok(v)
    };
    // Every word, in any order and case (the issue: one order found 78 records, the other none).
    assert_eq!(log_bodies(&s, r#"body ~ "upstream timeout""#).await, found(&[0, 1, 3]));
    assert_eq!(log_bodies(&s, r#"body ~ "timeout upstream""#).await, found(&[0, 1, 3]));
    assert_eq!(log_bodies(&s, "body ~ TIMEOUT").await, found(&[0, 1, 3]));
    // A quoted phrase: its words together, in order (punctuation between them is no word).
    assert_eq!(log_bodies(&s, r#"body ~ '"upstream timeout"'"#).await, found(&[0, 3]));
    assert_eq!(log_bodies(&s, r#"body ~ "\"upstream timeout\" retry*""#).await, found(&[3]));
    // Word prefixes, bare or quoted.
    assert_eq!(log_bodies(&s, "body ~ upstr*").await, found(&[0, 1, 2, 3]));
    assert_eq!(log_bodies(&s, r#"body ~ "time* upstream""#).await, found(&[0, 1, 3]));
    assert_eq!(log_bodies(&s, "body ~ time*").await, found(&[0, 1, 3, 4]));
    // Diacritics and case fold; words without letters or digits are no words.
    assert_eq!(log_bodies(&s, "body ~ uberlauf").await, found(&[5]));
    assert_eq!(log_bodies(&s, r#"body ~ "refused !!""#).await, found(&[2]));
    // Inside or/not (the subquery form) the same words match.
    assert_eq!(
        log_bodies(&s, r#"body ~ "upstream timeout" and not body ~ '"upstream timeout"'"#).await,
        found(&[1])
    );
    assert_eq!(log_bodies(&s, r#"body ~ refused or body ~ "out timed""#).await, found(&[2, 4]));
    // FTS5 syntax in the text is text: no operator, no column filter, no error.
    assert_eq!(log_bodies(&s, r#"body ~ "timeout OR refused""#).await, found(&[]));
    assert_eq!(log_bodies(&s, r#"body ~ 'body_text:timeout NEAR("a b") ^x'"#).await, found(&[]));
    assert_eq!(log_bodies(&s, "body ~ \"a\u{0}b\"").await, found(&[]));
    let e = log_bodies(&s, r#"body ~ "!!""#).await.unwrap_err();
    assert!(e.contains("needs a word"), "{e}");
    let e = log_bodies(&s, "body ~ t*").await.unwrap_err();
    assert!(e.contains("at least 2"), "{e}");
    // Other fields: every word as a substring, in any order, ignoring case.
    assert_eq!(log_bodies(&s, r#"service ~ "unknown service""#).await, found(&[0, 1, 2, 3, 4, 5]));
}

fn scoped(scope: &str, version: &str, spans: Vec<Span>) -> ScopeSpans {
    ScopeSpans {
        scope: Some(opentelemetry_proto::tonic::common::v1::InstrumentationScope {
            name: scope.into(),
            version: version.into(),
            ..Default::default()
        }),
        spans,
        ..Default::default()
    }
}

#[tokio::test]
async fn search_reaches_events_scopes_and_status_messages() {
    use any_value::Value::*;
    use opentelemetry_proto::tonic::trace::v1::span::Event;
    let s = store(Retention::default()).await;
    let t = now();
    let event = |name: &str, attributes: Vec<KeyValue>| Event {
        name: name.into(),
        time_unix_nano: t,
        attributes,
        ..Default::default()
    };
    let mut db = span(1, 1, t, vec![kv("db.system", StringValue("postgresql".into()))], true);
    db.name = "SELECT orders".into();
    db.status = Some(Status {
        code: 2,
        message: "Connection refused by db-1".into(),
    });
    db.events = vec![event(
        "exception",
        vec![
            kv("exception.type", StringValue("SQLException".into())),
            kv("exception.escaped", BoolValue(true)),
        ],
    )];
    let mut http = span(1, 2, t, vec![], false);
    http.name = "GET /orders".into();
    http.events = vec![
        event("retry", vec![kv("attempt", IntValue(2))]),
        event("retry", vec![kv("attempt", IntValue(3))]),
    ];
    let plain = span(2, 1, t, vec![kv("exception.type", StringValue("on the span".into()))], false);
    let mut req = request("shop", "prod", vec![]);
    req.resource_spans[0].scope_spans = vec![
        scoped("io.opentelemetry.jdbc", "1.2.3", vec![db]),
        scoped("io.opentelemetry.http", "0.9", vec![http, plain]),
    ];
    write(&s, req).await;

    assert_eq!(span_names(&s, "event.exception.type = SQLException").await, ["1:SELECT orders"]);
    assert_eq!(span_names(&s, "has(event.exception.type)").await, ["1:SELECT orders"]);
    assert_eq!(span_names(&s, "event.exception.escaped = true").await, ["1:SELECT orders"]);
    assert_eq!(span_names(&s, "event.exception.type ~ sqlexc*").await, ["1:SELECT orders"]);
    // A bare key is still the span's attribute; `event.` is the events'.
    assert_eq!(span_names(&s, "has(exception.type)").await, ["2:op1"]);
    // Any event: the second retry has attempt 3.
    assert_eq!(span_names(&s, "event.attempt >= 3").await, ["1:GET /orders"]);
    assert_eq!(span_names(&s, "event.attempt = 2 and event.attempt = 3").await, ["1:GET /orders"]);
    // `!=` holds when no event has the value, events or not.
    assert_eq!(
        span_names(&s, "event.exception.type != SQLException").await,
        ["1:GET /orders", "2:op1"]
    );
    assert_eq!(span_names(&s, "event_name = retry").await, ["1:GET /orders"]);
    assert_eq!(span_names(&s, "event_name =~ \"^exc\"").await, ["1:SELECT orders"]);
    assert_eq!(span_names(&s, "not has(event_name)").await, ["2:op1"]);
    assert_eq!(span_names(&s, "scope.name = io.opentelemetry.jdbc").await, ["1:SELECT orders"]);
    assert_eq!(span_names(&s, "scope.version = 0.9").await, ["1:GET /orders", "2:op1"]);
    assert_eq!(
        span_names(&s, "scope.name ~ \"http opentelemetry\"").await,
        ["1:GET /orders", "2:op1"]
    );
    assert_eq!(span_names(&s, "status.message ~ \"refused connection\"").await, ["1:SELECT orders"]);
    assert_eq!(span_names(&s, "has(status.message)").await, ["1:SELECT orders"]);
    assert_eq!(span_names(&s, "status.message != x").await.len(), 3, "no message is not x");
    // `~` on a span field: every word, any order, as a substring.
    assert_eq!(span_names(&s, r#"name ~ "orders sel""#).await, ["1:SELECT orders"]);
    assert_eq!(span_names(&s, r#"db.system ~ "SQL post""#).await, ["1:SELECT orders"]);
    // Log-only and span-only fields say so.
    let e = compile_text(Some("status.message ~ x"), Target::Logs, &*s.resource_attrs()).unwrap_err();
    assert!(e.to_string().contains("applies to spans"), "{e}");
}

/// Traces 1..=n: a root `checkout` (kind server, lasting `n - i` ms so older traces are longer),
/// a child `charge` and under it a grandchild `card`; trace 2 also has an error `audit` root-level
/// sibling starting before everything else.
async fn write_shop_traces(s: &Arc<Store>, n: u8) {
    let t = now();
    for i in 1..=n {
        let start = t + u64::from(i) * 1_000_000_000;
        let mut root = span(i, 1, start, vec![], false);
        root.name = "checkout".into();
        root.end_time_unix_nano = start + u64::from(n - i + 1) * 1_000_000;
        let mut charge = span(i, 2, start + 10, vec![kv("step", any_value::Value::IntValue(2))], false);
        charge.name = "charge".into();
        let mut card = span(i, 3, start + 20, vec![], false);
        card.name = "card".into();
        card.parent_span_id = vec![2; 8];
        let mut spans = vec![root, charge, card];
        if i == 2 {
            let mut audit = span(i, 4, start - 5, vec![], true);
            audit.name = "audit".into();
            spans.push(audit);
        }
        write(s, request("shop", "prod", spans)).await;
    }
}

async fn trace_search(s: &Arc<Store>, q: &str, sort: read::TraceSort, limit: usize) -> (Vec<u8>, read::Total) {
    let pattern = otelbox::query::trace::parse(q).unwrap().unwrap();
    let compiled = otelbox::store::sql::compile_trace(&pattern, &*s.resource_attrs()).unwrap();
    let query = TraceQuery {
        also_matching: compiled.steps[1..].to_vec(),
        sort,
        pattern: pattern.is_structural().then(|| compiled.clone()),
        ..Default::default()
    };
    let first = compiled.steps[0].clone();
    let (traces, total) = s
        .read(move |c| read::search_traces_counted(c, &first, &query, TimeRange::ALL, limit, true))
        .await
        .unwrap();
    (traces.iter().map(|t| t.trace_id[0]).collect(), total.expect("counted"))
}

#[tokio::test]
async fn trace_searches_relate_spans_across_a_trace() {
    use read::TraceSort::*;
    let s = store(Retention::default()).await;
    write_shop_traces(&s, 5).await;
    let exact = |count| read::Total { count, capped: false };
    let all = (vec![5, 4, 3, 2, 1], exact(5));
    // A descendant at any depth; not the other way round, not a sibling.
    assert_eq!(trace_search(&s, "name = checkout -> name = card", Newest, 10).await, all);
    assert_eq!(trace_search(&s, "name = charge -> name = card", Newest, 10).await, all);
    assert_eq!(
        trace_search(&s, "name = card -> name = checkout", Newest, 10).await,
        (vec![], exact(0))
    );
    assert_eq!(
        trace_search(&s, "name = audit -> name = card", Newest, 10).await,
        (vec![], exact(0))
    );
    assert_eq!(
        trace_search(&s, "name = checkout -> name = charge -> name = card", Newest, 10).await,
        all
    );
    // Order by start; presence anywhere.
    assert_eq!(
        trace_search(&s, "name = audit then name = card", Newest, 10).await,
        (vec![2], exact(1))
    );
    assert_eq!(
        trace_search(&s, "name = card then name = audit", Newest, 10).await,
        (vec![], exact(0))
    );
    assert_eq!(
        trace_search(&s, "status = error && step = 2", Newest, 10).await,
        (vec![2], exact(1))
    );
    assert_eq!(
        trace_search(&s, "name = checkout -> step = 2 && status = error", Newest, 10).await,
        (vec![2], exact(1))
    );
    // One condition on the same span versus on different spans.
    assert_eq!(trace_search(&s, "name = audit and step = 2", Newest, 10).await, (vec![], exact(0)));
    // Totals count every match, not the page; a pattern's too.
    assert_eq!(trace_search(&s, "name = checkout", Newest, 2).await, (vec![5, 4], exact(5)));
    assert_eq!(
        trace_search(&s, "name = checkout -> name = card", Newest, 2).await,
        (vec![5, 4], exact(5))
    );
    // Sorting ranks every match before the limit: the longest are the oldest here.
    assert_eq!(trace_search(&s, "name = checkout", Longest, 2).await, (vec![1, 2], exact(5)));
    assert_eq!(
        trace_search(&s, "name = checkout -> name = card", Longest, 2).await,
        (vec![1, 2], exact(5))
    );
    assert_eq!(trace_search(&s, "name = checkout", Shortest, 1).await.0, [5]);
    assert_eq!(trace_search(&s, "has(step)", MostSpans, 1).await.0, [2]);
    assert_eq!(trace_search(&s, "has(step)", MostErrors, 1).await.0, [2]);
}

#[tokio::test]
async fn list_totals_count_past_the_page_and_stop_at_the_cap() {
    let s = store(Retention::default()).await;
    write_log_bodies(&s, &["needle in a haystack"; 30]).await;
    let exact = |count| Some(read::Total { count, capped: false });
    let filter = compile_text(Some("body ~ needle"), Target::Logs, &*s.resource_attrs()).unwrap();
    let f = filter.clone();
    let (logs, total) = s
        .read(move |c| read::search_logs_counted(c, &f, &Default::default(), TimeRange::ALL, 10, true))
        .await
        .unwrap();
    assert_eq!((logs.len(), total), (10, exact(30)));
    // A full page is counted only when asked; a page with room holds every match.
    let (_, total) = s
        .read(move |c| read::search_logs_counted(c, &filter, &Default::default(), TimeRange::ALL, 10, false))
        .await
        .unwrap();
    assert_eq!(total, None);
    let filter = compile_text(None, Target::Logs, &*s.resource_attrs()).unwrap();
    let (_, total) = s
        .read(move |c| read::search_logs_counted(c, &filter, &Default::default(), TimeRange::ALL, 100, false))
        .await
        .unwrap();
    assert_eq!(total, exact(30));

    let t = now();
    let spans: Vec<Span> = (1..=(read::TOTAL_CAP as u32 + 5))
        .map(|i| {
            let mut sp = span((i % 200) as u8 + 1, 1, t + u64::from(i), vec![], false);
            sp.span_id = (u64::from(i) + 1).to_be_bytes().to_vec();
            sp.parent_span_id = vec![];
            sp
        })
        .collect();
    write(&s, request("many", "prod", spans)).await;
    let filter = compile_text(Some("service = many"), Target::Spans, &*s.resource_attrs()).unwrap();
    let (spans, total) = s
        .read(move |c| read::search_spans_counted(c, &filter, TimeRange::ALL, 50, false, true))
        .await
        .unwrap();
    assert_eq!(spans.len(), 50);
    let total = total.expect("counted");
    assert!(total.capped, "10,000 or more: {total:?}");
    // The cap, unless the time allowed ran out first (a slow debug build): a lower bound either way.
    assert!(total.count <= read::TOTAL_CAP && total.count >= 50, "{total:?}");
}

#[tokio::test]
async fn an_empty_answer_says_which_key_nothing_has() {
    use any_value::Value::*;
    use opentelemetry_proto::tonic::trace::v1::span::Event;
    let s = store(Retention::default()).await;
    let t = now();
    let mut sp = span(1, 1, t, vec![kv("http.method", StringValue("GET".into()))], false);
    sp.events = vec![Event {
        name: "exception".into(),
        attributes: vec![kv("exception.type", StringValue("E".into()))],
        ..Default::default()
    }];
    write(&s, request("checkout", "prod", vec![sp])).await;
    let warnings = |q: &'static str| {
        let s = s.clone();
        async move {
            let expr = otelbox::query::filter::parse(q).unwrap().unwrap();
            s.read(move |c| otelbox::store::keys::missing_key_warnings(c, &[expr], Target::Spans))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        warnings("htp.method = GET").await,
        ["no span or resource has the attribute `htp.method`; did you mean `http.method`?"]
    );
    assert_eq!(
        warnings("exception.type = E").await,
        ["no span or resource has the attribute `exception.type`, but span events do: `event.exception.type`"]
    );
    assert_eq!(
        warnings("has(event.http.method)").await,
        ["no span event has the attribute `event.http.method`, but spans do: `http.method`"]
    );
    assert_eq!(
        warnings("resource.evn = prod").await,
        ["no resource has the attribute `resource.evn`; did you mean `resource.env`?"]
    );
    assert_eq!(
        warnings("service = chekout").await,
        ["no service is named `chekout`; did you mean `checkout`?"]
    );
    assert!(warnings("http.method = POST and env = dev and resource.service.name = x")
        .await
        .is_empty());
    assert_eq!(
        warnings("nothing.like.it = 1").await,
        ["no span or resource has the attribute `nothing.like.it`"]
    );
}

/// The severity histogram counts what the log search finds, per step and severity class, through
/// the full-text index too.
#[tokio::test]
async fn log_histogram_counts_the_search_per_step_and_severity() {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    let s = store(Retention::default()).await;
    let step = 60_000_000_000i64;
    let base = (now() as i64 / step - 5) * step; // a step boundary five minutes ago
                                                 // (seconds after base, severity number, body)
    let records = [
        (1, 9, "checkout ok"),
        (2, 13, "checkout slow"),
        (3, 17, "checkout failed"),
        (61, 17, "payment failed"),
        (62, 0, "checkout unknown"),
        (125, 21, "checkout crashed"),
    ];
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records
                    .iter()
                    .map(|(secs, severity, body)| LogRecord {
                        time_unix_nano: (base + secs * 1_000_000_000) as u64,
                        severity_number: *severity,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(body.to_string())),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    s.write_committed(otelbox::store::rows::flatten_logs(request)).await.unwrap();
    let histogram = |q: &str| {
        let filter = compile_text(Some(q).filter(|q| !q.is_empty()), Target::Logs, &*s.resource_attrs()).unwrap();
        let s = s.clone();
        async move {
            s.read(move |c| read::log_histogram(c, &filter, &Default::default(), TimeRange::ALL, step))
                .await
                .unwrap()
        }
    };
    // [unset, trace, debug, info, warn, error, fatal]
    assert_eq!(
        histogram("").await,
        vec![
            (base, [0, 0, 0, 1, 1, 1, 0]),
            (base + step, [1, 0, 0, 0, 0, 1, 0]),
            (base + 2 * step, [0, 0, 0, 0, 0, 0, 1])
        ]
    );
    assert_eq!(
        histogram("body ~ checkout and severity >= warn").await,
        vec![(base, [0, 0, 0, 0, 1, 1, 0]), (base + 2 * step, [0, 0, 0, 0, 0, 0, 1])]
    );
    // The same records the search lists.
    let filter = compile_text(Some("body ~ failed"), Target::Logs, &*s.resource_attrs()).unwrap();
    let listed = s
        .read(move |c| read::search_logs(c, &filter, &Default::default(), TimeRange::ALL, 100))
        .await
        .unwrap()
        .len() as i64;
    let counted: i64 = histogram("body ~ failed").await.iter().map(|(_, c)| c.iter().sum::<i64>()).sum();
    assert_eq!((listed, counted), (2, 2));
}
