//! Packed spans (`store::packs`): spans the writer has moved into packs answer every query as their
//! rows did, before and after a reopen; a span sent again after its copy was packed is still a
//! duplicate; retention deletes packed spans and their packs. Each test pushes its own spans into
//! packs by writing newer filler spans after them (a range is packed once newer ranges are complete).

mod common;

use common::{now_ns, string_kv, temp_dir};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use otelbox::store::read::{self, TimeRange, TraceQuery, Values};
use otelbox::store::retention::Retention;
use otelbox::store::rows::flatten_traces;
use otelbox::store::sql::{compile_text, SqlFilter, Target};
use otelbox::store::{Location, Store, StoreConfig};
use std::sync::Arc;
use std::time::Duration;

fn trace_id(trace: u64) -> Vec<u8> {
    // The first 8 bytes differ from trace to trace, as the trace indexes' keys need.
    [trace.to_le_bytes(), [0xab; 8]].concat()
}

/// Trace `trace` of `spans` spans: a root and its children, with a run id, a route on some, an
/// event and an error on the third.
fn agent_trace(trace: u64, spans: u64, start: u64) -> Vec<Span> {
    (1..=spans)
        .map(|i| Span {
            trace_id: trace_id(trace),
            span_id: (trace * 100 + i).to_be_bytes().to_vec(),
            parent_span_id: if i == 1 { vec![] } else { (trace * 100 + 1).to_be_bytes().to_vec() },
            name: format!("op{i}"),
            start_time_unix_nano: start + i * 1_000,
            end_time_unix_nano: start + i * 1_000 + i * 1_000_000,
            attributes: {
                let mut attrs = vec![string_kv("run_id", &format!("R{trace}"))];
                if i % 2 == 0 {
                    attrs.push(string_kv("http.route", "/api/items/{id}"));
                }
                attrs
            },
            events: if i == 2 {
                vec![Event {
                    name: "retry".into(),
                    time_unix_nano: start + 5_000,
                    attributes: vec![string_kv("attempt", "2")],
                    ..Default::default()
                }]
            } else {
                vec![]
            },
            status: (i == 3).then(|| Status {
                code: 2,
                message: "tool failed".into(),
            }),
            ..Default::default()
        })
        .collect()
}

fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", service)],
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

fn open(location: Location, retention: Retention) -> Arc<Store> {
    Store::open(StoreConfig {
        location,
        retention,
        durable_sync: false,
    })
    .unwrap()
}

async fn write(store: &Store, req: ExportTraceServiceRequest) {
    store.write_committed(flatten_traces(req)).await.unwrap();
}

/// Newer spans of another service, enough to complete the ranges before them and the two kept as rows.
async fn write_filler(store: &Store, spans: u64) {
    let start = now_ns();
    for first in (0..spans).step_by(1000) {
        let batch = (first..(first + 1000).min(spans))
            .map(|i| Span {
                trace_id: trace_id(1_000_000 + i / 10),
                span_id: (1_000_000 + i).to_be_bytes().to_vec(),
                name: "filler".into(),
                start_time_unix_nano: start,
                end_time_unix_nano: start + 1,
                ..Default::default()
            })
            .collect();
        write(store, request("filler", batch)).await;
    }
}

async fn table_rows(s: &Arc<Store>, table: &'static str) -> i64 {
    s.read(move |c| Ok(c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?))
        .await
        .unwrap()
}

/// Spans of service `shop` still stored as rows (`main.spans`, not the view).
async fn shop_rows(s: &Arc<Store>) -> i64 {
    s.read(|c| {
        Ok(c.query_row(
            "SELECT count(*) FROM main.spans s JOIN resources r ON r.id = s.resource_id WHERE r.service = 'shop'",
            [],
            |r| r.get(0),
        )?)
    })
    .await
    .unwrap()
}

/// What the queries of the API return for the `shop` traces, in a form that compares whole.
async fn answers(s: &Arc<Store>) -> Vec<String> {
    let mut out = Vec::new();
    for q in [
        "run_id = R3",
        "status = error",
        "name = op2 and run_id = R7",
        "service.name = shop and http.route = \"/api/items/{id}\"",
        "event.name = retry",
        "duration > 3ms",
    ] {
        let filter = compile_text(Some(q), Target::Spans, &*s.resource_attrs()).unwrap();
        let mut spans: Vec<String> = s
            .read(move |c| read::search_spans(c, &filter, TimeRange::ALL, 10_000))
            .await
            .unwrap()
            .into_iter()
            .map(|s| format!("{}:{:?}:{}", s.row_id, s.span.trace_id, s.span.name))
            .collect();
        spans.sort();
        out.push(format!("{q} => {spans:?}"));
        let filter = compile_text(Some(q), Target::Spans, &*s.resource_attrs()).unwrap();
        let count = s
            .read(move |c| read::count(c, &filter, read::CountTarget::Traces, TimeRange::ALL))
            .await
            .unwrap();
        out.push(format!("{q} traces => {count}"));
    }
    let shop = compile_text(Some("service.name = shop"), Target::Spans, &*s.resource_attrs()).unwrap();
    let mut traces = s
        .read(move |c| read::search_traces(c, &shop, &TraceQuery::default(), TimeRange::ALL, 1000))
        .await
        .unwrap();
    traces.sort_by(|a, b| a.trace_id.cmp(&b.trace_id));
    out.push(format!("{traces:?}"));
    for trace in [1, 17, 40] {
        // The whole trace as the OTLP download rebuilds it: every field of every span.
        let spans = s
            .read(move |c| read::trace_spans(c, &trace_id(trace), Values::Whole))
            .await
            .unwrap();
        out.push(format!(
            "{:?}",
            spans.iter().map(|s| (s.row_id, &s.span, &s.resource.service)).collect::<Vec<_>>()
        ));
    }
    out
}

#[tokio::test]
async fn packed_spans_answer_every_query_as_their_rows_did_before_and_after_a_reopen() {
    let dir = temp_dir("answers");
    let location = Location::Disk(dir.join("otelbox.db"));
    let s = open(location.clone(), Retention::default());
    let start = now_ns() - 60_000_000_000;
    for trace in 1..=40 {
        write(&s, request("shop", agent_trace(trace, 6, start + trace * 1_000_000))).await;
    }
    let before = answers(&s).await;
    write_filler(&s, 6_000).await;
    // The writer packs while idle; this packs what it has not yet.
    s.pack_waiting().await.unwrap();
    assert_eq!(shop_rows(&s).await, 0, "every shop span is packed");
    assert_eq!(answers(&s).await, before);
    s.close().await;
    drop(s);
    let s = open(location, Retention::default());
    assert_eq!(answers(&s).await, before, "the same after a reopen");
    s.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_span_sent_again_after_its_first_copy_was_packed_is_a_duplicate() {
    let s = open(Location::Memory, Retention::default());
    let first = request("shop", agent_trace(5, 4, now_ns()));
    write(&s, first.clone()).await;
    write_filler(&s, 6_000).await;
    s.pack_waiting().await.unwrap();
    assert_eq!(shop_rows(&s).await, 0, "the first copies are packed");
    // The retry: the same four spans, one renamed (the first copy must win), and one new span.
    let mut retry = first.clone();
    let spans = &mut retry.resource_spans[0].scope_spans[0].spans;
    spans[0].name = "renamed".into();
    let mut new_span = agent_trace(5, 5, now_ns()).pop().unwrap();
    new_span.span_id = 9_999u64.to_be_bytes().to_vec();
    spans.push(new_span);
    write(&s, retry).await;
    assert_eq!(s.stats.duplicate_spans.load(std::sync::atomic::Ordering::Relaxed), 4);
    let counts = s.read(read::counts).await.unwrap();
    assert_eq!(counts.spans, 4 + 6_000 + 1);
    let spans = s.read(|c| read::trace_spans(c, &trace_id(5), Values::Whole)).await.unwrap();
    let mut names: Vec<_> = spans.iter().map(|s| s.span.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["op1", "op2", "op3", "op4", "op5"]);
    let summary = s.read(|c| read::trace_summary(c, &trace_id(5))).await.unwrap().unwrap();
    assert_eq!(
        (summary.span_count, summary.error_count),
        (5, 1),
        "the summary counts each span once"
    );
}

#[tokio::test]
async fn retention_deletes_packed_spans_with_their_packs_and_index_entries() {
    let s = open(
        Location::Memory,
        Retention {
            max_age: Some(Duration::from_secs(3600)),
            max_bytes: None,
        },
    );
    write(&s, request("shop", agent_trace(7, 6, now_ns()))).await;
    write_filler(&s, 6_000).await;
    s.pack_waiting().await.unwrap();
    assert_eq!(shop_rows(&s).await, 0, "the old spans are packed");
    assert!(table_rows(&s, "span_packs").await > 0);
    // Arrived two hours ago, all of it; then three new spans.
    s.backdate_arrivals(Duration::from_secs(2 * 3600)).await.unwrap();
    write(&s, request("new", agent_trace(8, 3, now_ns()))).await;
    let mut counts = Default::default();
    for _ in 0..100 {
        counts = s.read(read::counts).await.unwrap();
        if counts.spans == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counts.spans, 3, "only the new spans remain");
    assert_eq!(table_rows(&s, "spans").await, 3, "the view agrees with the live count");
    assert_eq!(table_rows(&s, "span_packs").await, 0, "every pack went");
    assert_eq!(table_rows(&s, "span_pack_traces").await, 0, "and its trace index entries");
    let run = compile_text(Some("run_id = R7"), Target::Spans, &*s.resource_attrs()).unwrap();
    let found = s.read(move |c| read::search_spans(c, &run, TimeRange::ALL, 100)).await.unwrap();
    assert!(found.is_empty(), "the old run is gone from search");
    let everything = SqlFilter::everything();
    let traces = s
        .read(move |c| read::search_traces(c, &everything, &TraceQuery::default(), TimeRange::ALL, 10))
        .await
        .unwrap();
    assert_eq!(traces.len(), 1);
}
