//! Faults give clear, recoverable answers. A full disk (simulated with `PRAGMA max_page_count`,
//! no root needed) refuses writes as retryable while queries keep answering, rolls back whole
//! groups, and recovers by itself when space returns, with every acknowledged item stored exactly
//! once and an intact database; with a size cap, it also makes retention free room. At start-up, a
//! file that is not otelbox's (random bytes, a damaged header, another program's SQLite database,
//! a newer schema) stops the real binary at once with one line naming the path and what to do.

mod common;
use common::*;

use axum::body::Body;
use axum::http::Request;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otelbox::exporter::storage::StorageExporter;
use otelbox::pipeline::Consumer;
use otelbox::receiver::otlp_http::router;
use otelbox::receiver::{Admission, Intake};
use otelbox::store::read::{self, TimeRange};
use otelbox::store::retention::Retention;
use otelbox::store::rows::{flatten_logs, flatten_traces};
use otelbox::store::sql::{compile_text, Target};
use otelbox::store::{Location, Store, StoreConfig, WriteRefused};
use prost::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic_types::pb::Status as RpcStatus;
use tower::ServiceExt;

const SPANS: usize = 20;
/// Too big for the free room left in existing pages: needs new pages, so it fails on a full store.
const BIG: usize = 500;

fn open(location: Location, retention: Retention) -> Arc<Store> {
    Store::open(StoreConfig {
        location,
        retention,
        durable_sync: false,
    })
    .unwrap()
}

async fn write_trace(store: &Store, no: u64, spans: usize) -> Result<(), WriteRefused> {
    let rows = flatten_traces(trace_request("faults", &format!("R{no}"), no, spans));
    store.write_committed(rows).await
}

async fn write_log(store: &Store, no: u64) -> Result<(), WriteRefused> {
    store
        .write_committed(flatten_logs(log_request("faults", &format!("entry-{no}"))))
        .await
}

/// Trace `no` (`spans` spans) and log line `entry-<no>` at once, as two requests; both outcomes.
async fn write(store: &Store, no: u64, spans: usize) -> (Result<(), WriteRefused>, Result<(), WriteRefused>) {
    tokio::join!(write_trace(store, no, spans), write_log(store, no))
}

fn trace_hex(no: u64) -> String {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&no.to_be_bytes());
    id[15] = 1;
    id.iter().map(|b| format!("{b:02X}")).collect()
}

/// Stored spans per trace number and log bodies, read through the store's reader pool.
async fn stored(store: &Arc<Store>) -> (std::collections::BTreeMap<String, i64>, Vec<String>) {
    store
        .read(|c| {
            let spans = c
                .prepare("SELECT hex(trace_id), count(*) FROM spans GROUP BY trace_id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let logs = c
                .prepare("SELECT body_text FROM logs ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok((spans, logs))
        })
        .await
        .unwrap()
}

async fn scalar(store: &Arc<Store>, sql: &'static str) -> i64 {
    store.read(move |c| Ok(c.query_row(sql, [], |r| r.get(0))?)).await.unwrap()
}

/// Every running total agrees with the rows: `row_counts`, the trace and service summaries, the
/// attribute index, and the highest committed ids that live tails follow. Read in one transaction:
/// the writer may still be making room meanwhile, and totals read a step apart would disagree.
async fn assert_totals_consistent(store: &Arc<Store>) {
    let committed = *store.committed().borrow();
    let figures: Vec<(&'static str, i64, i64)> = store
        .read(move |c| {
            let tx = c.unchecked_transaction()?;
            let one = |sql: &str| tx.query_row(sql, [], |r| r.get::<_, i64>(0));
            let counted = |table: &str| tx.query_row("SELECT n FROM row_counts WHERE tbl = ?1", [table], |r| r.get::<_, i64>(0));
            let spans = one("SELECT count(*) FROM spans")?;
            let figures =
                vec![
                ("row_counts of spans", counted("spans")?, spans),
                ("row_counts of logs", counted("logs")?, one("SELECT count(*) FROM logs")?),
                (
                    "row_counts of metric points",
                    counted("metric_points")?,
                    one("SELECT count(*) FROM metric_points")?,
                ),
                ("spans of the trace summaries", one("SELECT coalesce(sum(span_count), 0) FROM traces")?, spans),
                ("spans of the service summaries", one("SELECT coalesce(sum(spans), 0) FROM service_stats")?, spans),
                (
                    "trace summaries that miscount their spans",
                    one("SELECT count(*) FROM traces t WHERE span_count != (SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id)")?,
                    0,
                ),
                (
                    "index entries pointing at a missing span",
                    one("SELECT count(*) FROM span_attr_index WHERE span_rowid NOT IN (SELECT id FROM spans)")?,
                    0,
                ),
                ("the highest committed span id", committed.span_id, one("SELECT coalesce(max(id), 0) FROM spans")?),
                ("the highest committed log id", committed.log_id, one("SELECT coalesce(max(id), 0) FROM logs")?),
            ];
            tx.commit()?;
            Ok(figures)
        })
        .await
        .unwrap();
    for (what, kept, actual) in figures {
        assert_eq!(kept, actual, "{what}");
    }
}

async fn integrity_check(store: &Arc<Store>) -> String {
    store
        .read(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))?))
        .await
        .unwrap()
}

fn assert_full_refusal(err: &WriteRefused, retry_after_secs: u64) {
    let WriteRefused { message, retry_after } = err;
    assert!(message.contains("storage is full"), "{message}");
    assert_eq!(*retry_after, Duration::from_secs(retry_after_secs), "{message}");
}

fn intake(store: &Arc<Store>) -> Intake {
    Intake {
        traces: Arc::new(StorageExporter::new(store.clone())) as Arc<dyn Consumer<ExportTraceServiceRequest>>,
        metrics: Arc::new(StorageExporter::new(store.clone())) as Arc<dyn Consumer<ExportMetricsServiceRequest>>,
        logs: Arc::new(StorageExporter::new(store.clone())) as Arc<dyn Consumer<ExportLogsServiceRequest>>,
        stats: Default::default(),
        max_request_bytes: 16 << 20,
        admission: Arc::new(Admission::new(None)),
    }
}

/// POST one trace through the OTLP/HTTP router (no socket): status, Retry-After, RPC status code.
async fn post_trace(store: &Arc<Store>, no: u64, spans: usize) -> (u16, Option<String>, i32) {
    let response = router(intake(store))
        .oneshot(
            Request::post("/v1/traces")
                .header("content-type", "application/x-protobuf")
                .body(Body::from(encode(&trace_request("faults", &format!("R{no}"), no, spans))))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let code = if status == 200 { 0 } else { RpcStatus::decode(body).unwrap().code };
    (status, retry_after, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_retryably_and_recovers_when_space_returns() {
    let dir = temp_dir("fulldisk");
    let path = dir.join("otelbox.db");
    let store = open(Location::Disk(path.clone()), Retention::default());
    let mut acked_traces = BTreeSet::new();
    let mut acked_logs = BTreeSet::new();
    let mut refused_traces = BTreeMap::new(); // number -> spans
    let mut refused_logs = BTreeSet::new();
    let mut no = 0u64;
    for _ in 0..5 {
        no += 1;
        let (t, l) = write(&store, no, SPANS).await;
        t.unwrap();
        l.unwrap();
        acked_traces.insert(no);
        acked_logs.insert(no);
    }

    // A little room left, then fill it: writes succeed until the "disk" is full.
    let pages = scalar(&store, "PRAGMA page_count").await as u64;
    assert_eq!(store.set_max_page_count(pages + 24).await.unwrap(), pages + 24);
    loop {
        let mut failures = 0;
        let mut stored_this_round = false;
        while failures < 3 {
            no += 1;
            assert!(no < 5000, "the store never filled up");
            let (t, l) = write(&store, no, SPANS).await;
            match t {
                Ok(()) => {
                    stored_this_round = true;
                    acked_traces.insert(no)
                }
                Err(err) => {
                    assert_full_refusal(&err, 5);
                    failures += 1;
                    refused_traces.insert(no, SPANS);
                    true
                }
            };
            match l {
                Ok(()) => acked_logs.insert(no),
                Err(err) => {
                    assert_full_refusal(&err, 5);
                    refused_logs.insert(no)
                }
            };
        }
        // Packing frees the pages of the rows it packs, which the writer would otherwise do while
        // idle during the refusals below: pack what waits now, and fill what that freed too. The
        // writer may also have packed a range on its own after the last write: full is a round
        // that stored nothing, with nothing left to pack.
        let packed = matches!(store.pack_waiting().await, Ok(packed) if packed > 0);
        if !packed && !stored_this_round {
            break;
        }
    }
    assert!(acked_traces.len() > 10, "some writes fit before the disk was full");

    // While full: several requests at once (one or more groups), all refused, none stored.
    let big: Vec<u64> = (1..=4).map(|i| no + i).collect();
    no += 4;
    let outcomes = futures::future::join_all(big.iter().map(|n| write(&store, *n, BIG))).await;
    for (n, (t, l)) in big.iter().zip(outcomes) {
        assert_full_refusal(&t.unwrap_err(), 5);
        refused_traces.insert(*n, BIG);
        match l {
            Ok(()) => acked_logs.insert(*n),
            Err(err) => {
                assert_full_refusal(&err, 5);
                refused_logs.insert(*n)
            }
        };
    }
    // Through the OTLP/HTTP receiver: 503 with Retry-After and UNAVAILABLE.
    no += 1;
    let (status, retry_after, code) = post_trace(&store, no, BIG).await;
    assert_eq!((status, retry_after.as_deref(), code), (503, Some("5"), 14));
    refused_traces.insert(no, BIG);
    assert!(store.stats.write_errors.load(Ordering::Relaxed) >= 3);

    // Queries keep answering meanwhile, and show exactly what was acknowledged.
    let filter = compile_text(Some("run_id = R1"), Target::Spans, &*store.resource_attrs()).unwrap();
    let found = store
        .read(move |c| read::search_spans(c, &filter, TimeRange::ALL, 1000))
        .await
        .unwrap();
    assert_eq!(found.len(), SPANS);
    let (spans, logs) = stored(&store).await;
    for n in &acked_traces {
        assert_eq!(spans.get(&trace_hex(*n)), Some(&(SPANS as i64)), "acknowledged trace {n}");
    }
    for n in refused_traces.keys() {
        assert_eq!(spans.get(&trace_hex(*n)), None, "refused trace {n} must leave nothing behind");
    }
    assert_eq!(spans.len(), acked_traces.len());
    let expected_logs: Vec<String> = acked_logs.iter().map(|n| format!("entry-{n}")).collect();
    let mut sorted_logs = logs.clone();
    sorted_logs.sort_by_key(|b| b[6..].parse::<u64>().unwrap());
    assert_eq!(sorted_logs, expected_logs, "exactly the acknowledged log lines, once each");
    assert_totals_consistent(&store).await;
    assert_eq!(
        store.stats.spans_written.load(Ordering::Relaxed),
        (acked_traces.len() * SPANS) as u64,
        "the in-memory counters count committed rows only"
    );
    assert_eq!(store.stats.logs_written.load(Ordering::Relaxed), acked_logs.len() as u64);

    // Space returns: the senders' retries and new writes succeed, with nothing doubled.
    store.set_max_page_count(1 << 30).await.unwrap();
    for (n, size) in &refused_traces {
        write_trace(&store, *n, *size).await.unwrap();
    }
    for n in &refused_logs {
        write_log(&store, *n).await.unwrap();
    }
    let (status, _, _) = post_trace(&store, no + 1, SPANS).await;
    assert_eq!(status, 200);
    let (spans, logs) = stored(&store).await;
    for (n, size) in &refused_traces {
        assert_eq!(spans.get(&trace_hex(*n)), Some(&(*size as i64)), "retried trace {n} is stored once");
    }
    let mut sorted_logs = logs.clone();
    sorted_logs.sort_by_key(|b| b[6..].parse::<u64>().unwrap());
    let all_logs: Vec<String> = acked_logs.union(&refused_logs).map(|n| format!("entry-{n}")).collect();
    assert_eq!(sorted_logs, all_logs, "every log line once, retried ones included");
    for n in &acked_traces {
        assert_eq!(spans.get(&trace_hex(*n)), Some(&(SPANS as i64)), "acknowledged trace {n}");
    }
    assert_eq!(spans.get(&trace_hex(no + 1)), Some(&(SPANS as i64)));
    assert_totals_consistent(&store).await;
    assert_eq!(integrity_check(&store).await, "ok");
    let spans_total = scalar(&store, "SELECT count(*) FROM spans").await;
    store.close().await;

    // The file itself: intact, the full-text index too, and a fresh start sees the same data.
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(
        conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).unwrap(),
        "ok"
    );
    conn.execute("INSERT INTO logs_fts(logs_fts) VALUES ('integrity-check')", [])
        .unwrap();
    drop(conn);
    let store = open(Location::Disk(path), Retention::default());
    assert_eq!(scalar(&store, "SELECT n FROM row_counts WHERE tbl = 'spans'").await, spans_total);
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_size_cap_a_full_disk_makes_retention_free_room() {
    // The cap is far away: the disk fills first, and retention must notice it.
    let store = open(
        Location::Memory,
        Retention {
            max_age: None,
            max_bytes: Some(1 << 30),
        },
    );
    const OLD: u64 = 150;
    for no in 1..=OLD {
        write_trace(&store, no, SPANS).await.unwrap();
    }
    // No room at all beyond what is used now; never raised again.
    let pages = scalar(&store, "PRAGMA page_count").await as u64;
    store.set_max_page_count(pages).await.unwrap();

    // New writes, each retried the way an SDK retries a 503, all end up stored.
    let mut refusals = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    for no in OLD + 1..=OLD + 60 {
        while let Err(err) = write_trace(&store, no, SPANS).await {
            assert_full_refusal(&err, 1);
            refusals += 1;
            assert!(Instant::now() < deadline, "writes never fit again ({refusals} refusals)");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(refusals > 0, "the page cap was reached");
    assert!(
        store.stats.rows_expired.load(Ordering::Relaxed) > 0,
        "retention deleted the oldest data"
    );
    assert!(
        scalar(&store, "PRAGMA page_count").await as u64 <= pages,
        "the file did not grow past the full disk"
    );

    let (spans, _) = stored(&store).await;
    assert_eq!(spans.get(&trace_hex(1)), None, "the oldest trace made room");
    for no in OLD + 1..=OLD + 60 {
        assert_eq!(spans.get(&trace_hex(no)), Some(&(SPANS as i64)), "new trace {no} stored once");
    }
    assert_totals_consistent(&store).await;
    assert_eq!(integrity_check(&store).await, "ok");
    store.close().await;
}

// ---- start-up: files that are not otelbox's ----

/// Run `otelbox up --data-dir DIR`, which must exit non-zero within seconds; returns its stderr.
fn up_must_fail(dir: &Path) -> String {
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_otelbox"))
        .args(["up", "--data-dir", dir.to_str().unwrap()])
        .args(["--grpc-port", &free_port().to_string()])
        .args(["--http-port", &free_port().to_string()])
        .args(["--ui-port", &free_port().to_string()])
        .env("OTELBOX_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let stderr = String::from_utf8(child.wait_with_output().unwrap().stderr).unwrap();
            assert_eq!(status.code(), Some(1), "{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
            let path = dir.join("otelbox.db");
            assert!(stderr.contains(&path.display().to_string()), "names the file: {stderr}");
            return stderr;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("otelbox started on a file that is not its database");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn another_programs_sqlite_database_is_refused_and_left_untouched() {
    let dir = temp_dir("foreign");
    let path = dir.join("otelbox.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE foo(x); INSERT INTO foo VALUES (1); CREATE TABLE bar(y);")
        .unwrap();
    drop(conn);
    let before = std::fs::read(&path).unwrap();

    let stderr = up_must_fail(&dir);
    assert!(
        stderr.contains("is a SQLite database but not otelbox's (it has tables bar, foo); move it away or choose another --data-dir"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file is left exactly as it was");
    assert!(!dir.join("otelbox.db-wal").exists(), "not switched to WAL");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_with_the_reason_said_once() {
    let dir = temp_dir("randombytes");
    let bytes: Vec<u8> = (0..8192u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(dir.join("otelbox.db"), bytes).unwrap();
    let stderr = up_must_fail(&dir);
    assert!(
        stderr.contains("is not an otelbox database (file is not a database); move it away or choose another --data-dir"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("not a database").count(), 1, "said once: {stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_truncated_database_is_refused() {
    let dir = temp_dir("truncated");
    let path = dir.join("otelbox.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE spans(x);").unwrap();
    drop(conn);
    let header = std::fs::read(&path).unwrap()[..50].to_vec();
    std::fs::write(&path, header).unwrap();
    let stderr = up_must_fail(&dir);
    assert!(stderr.contains("is not an otelbox database ("), "{stderr}");
    assert!(stderr.trim_end().ends_with("move it away or choose another --data-dir"), "{stderr}");
    assert!(!stderr.contains("Error code"), "no repeated SQLite detail: {stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_database_of_a_newer_otelbox_is_refused() {
    let dir = temp_dir("newer");
    let conn = rusqlite::Connection::open(dir.join("otelbox.db")).unwrap();
    conn.execute_batch("CREATE TABLE spans(x); PRAGMA user_version = 99;").unwrap();
    drop(conn);
    let stderr = up_must_fail(&dir);
    assert!(
        stderr.contains(&format!(
            "was written by a newer otelbox (schema v99, this build knows v{}); upgrade otelbox or choose another --data-dir",
            otelbox::store::schema::SCHEMA_VERSION
        )),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_empty_file_or_a_database_without_tables_is_a_fresh_store() {
    let empty = temp_dir("emptyfile");
    std::fs::write(empty.join("otelbox.db"), b"").unwrap();
    let no_tables = temp_dir("notables");
    let conn = rusqlite::Connection::open(no_tables.join("otelbox.db")).unwrap();
    conn.execute_batch("CREATE TABLE t(x); DROP TABLE t;").unwrap();
    drop(conn);
    for dir in [&empty, &no_tables] {
        let mut b = Box::start(&["--data-dir", dir.to_str().unwrap()]);
        let r = b.post("/v1/traces", "application/x-protobuf", encode(&trace_request("fresh", "F1", 1, 3)));
        assert_eq!(r.status(), 200);
        assert_eq!(b.stored_spans(), 3);
        assert!(b.stop().success());
    }
    // The empty file became a new database with otelbox's page size.
    let conn = rusqlite::Connection::open(empty.join("otelbox.db")).unwrap();
    assert_eq!(conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0)).unwrap(), 16 * 1024);
    drop(conn);
    let _ = std::fs::remove_dir_all(empty);
    let _ = std::fs::remove_dir_all(no_tables);
}
