//! Accepted means stored: acknowledged data survives kill -9 and clean restarts; --memory writes
//! nothing to disk.

mod common;
use common::*;

#[test]
fn acknowledged_spans_survive_kill_9() {
    let dir = temp_dir("kill9");
    let mut b = Box::start(&["--data-dir", dir.to_str().unwrap()]);
    const REQUESTS: u64 = 40;
    const SPANS: usize = 25;
    for i in 0..REQUESTS {
        let r = b.post(
            "/v1/traces",
            "application/x-protobuf",
            encode(&trace_request("durable", "K9", i + 1, SPANS)),
        );
        assert_eq!(r.status(), 200, "request {i} must be acknowledged");
    }
    // No graceful shutdown: whatever was acknowledged must already be committed.
    b.kill9();
    b.spawn();
    assert_eq!(b.stored_spans(), (REQUESTS as usize * SPANS) as i64);
    let (_, traces) = b.get_json("/api/v1/traces?q=run_id%20%3D%20K9&limit=1000");
    assert_eq!(traces["traces"].as_array().unwrap().len(), REQUESTS as usize);
    drop(b);
    let _ = std::fs::remove_dir_all(dir);
}

/// Attribute blobs are compressed once the box has trained a dictionary on the first few thousand
/// (`store::codec`): every attribute must read back exactly, before and after a restart, and
/// attribute searches must still find them.
#[test]
fn compressed_attributes_read_back_exactly_after_a_restart() {
    let dir = temp_dir("compressed");
    let mut b = Box::start(&["--data-dir", dir.to_str().unwrap()]);
    const TRACES: u64 = 100;
    const SPANS: usize = 100;
    let attributes = |trace: u64, span: usize| {
        vec![
            string_kv("run_id", &format!("C{trace}")),
            string_kv("http.route", "/api/v1/items/{item_id}"),
            string_kv("note", &format!("span {span} of trace {trace}, with some words to compress")),
        ]
    };
    for trace in 1..=TRACES {
        let mut request = trace_request("compressed", "unused", trace, SPANS);
        for (i, span) in request.resource_spans[0].scope_spans[0].spans.iter_mut().enumerate() {
            span.attributes = attributes(trace, i);
        }
        assert_eq!(b.post("/v1/traces", "application/x-protobuf", encode(&request)).status(), 200);
    }
    let check = |b: &Box| {
        for trace in [1, TRACES / 2, TRACES] {
            let (_, found) = b.get_json(&format!("/api/v1/traces?q=run_id%20%3D%20C{trace}&limit=10"));
            let found = found["traces"].as_array().unwrap();
            assert_eq!(found.len(), 1, "trace C{trace} is found by its attribute");
            let id = found[0]["trace_id"].as_str().unwrap();
            let (_, spans) = b.get_json(&format!("/api/v1/traces/{id}"));
            let spans = spans["spans"].as_array().unwrap();
            assert_eq!(spans.len(), SPANS);
            for span in spans {
                let i: usize = span["name"].as_str().unwrap().trim_start_matches("op-").parse().unwrap();
                let want: serde_json::Map<String, serde_json::Value> = attributes(trace, i)
                    .into_iter()
                    .map(|kv| match kv.value.unwrap().value.unwrap() {
                        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s) => (kv.key, s.into()),
                        _ => unreachable!(),
                    })
                    .collect();
                assert_eq!(span["attributes"], serde_json::Value::Object(want), "span {i} of trace C{trace}");
            }
        }
    };
    check(&b);
    assert!(b.stop().success());
    {
        let db = rusqlite::Connection::open(dir.join("otelbox.db")).unwrap();
        let dicts: i64 = db.query_row("SELECT count(*) FROM blob_dicts", [], |r| r.get(0)).unwrap();
        assert_eq!(dicts, 1, "one dictionary, for span attributes");
        let compressed: i64 = db
            .query_row("SELECT count(*) FROM spans WHERE substr(attrs, 1, 1) = x'01'", [], |r| r.get(0))
            .unwrap();
        // Spans in complete ranges behind the newest are packed, their attributes compressed with
        // the whole pack (store::packs); the rows left have theirs compressed one by one.
        let packed: i64 = db
            .query_row("SELECT coalesce(sum(spans), 0) FROM span_packs", [], |r| r.get(0))
            .unwrap();
        // The first 4,096 blobs train the dictionary and stay plain; nearly all the rest compress.
        assert!(
            compressed + packed >= 5_000,
            "only {compressed} of 10,000 blobs are compressed, {packed} spans packed"
        );
    }
    b.spawn();
    check(&b);
    drop(b);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn data_persists_across_a_clean_restart() {
    let dir = temp_dir("restart");
    let mut b = Box::start(&["--data-dir", dir.to_str().unwrap()]);
    assert_eq!(
        b.post(
            "/v1/traces",
            "application/x-protobuf",
            encode(&trace_request("persist", "P1", 1, 5))
        )
        .status(),
        200
    );
    assert_eq!(
        b.post(
            "/v1/logs",
            "application/x-protobuf",
            encode(&log_request("persist", "hello after restart"))
        )
        .status(),
        200
    );
    let status = b.stop();
    assert!(status.success(), "graceful stop exits 0, got {status}");
    assert!(dir.join("otelbox.db").exists());
    b.spawn();
    assert_eq!(b.stored_spans(), 5);
    let (_, logs) = b.get_json("/api/v1/logs?q=body%20~%20restart");
    assert_eq!(logs["logs"][0]["body"], "hello after restart");
    drop(b);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn memory_mode_writes_nothing_to_disk() {
    let home = temp_dir("memhome");
    let ports = (free_port(), free_port(), free_port());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_otelbox"))
        .args([
            "up",
            "--memory",
            "--grpc-port",
            &ports.0.to_string(),
            "--http-port",
            &ports.1.to_string(),
            "--ui-port",
            &ports.2.to_string(),
        ])
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .current_dir(&home)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::blocking::Client::new();
    let api = format!("http://127.0.0.1:{}", ports.2);
    for _ in 0..500 {
        if client
            .get(format!("{api}/readyz"))
            .send()
            .map(|r| r.status().is_success())
            .unwrap_or(false)
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let r = client
        .post(format!("http://127.0.0.1:{}/v1/traces", ports.1))
        .header("content-type", "application/x-protobuf")
        .body(encode(&trace_request("mem", "M1", 1, 10)))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let status: serde_json::Value = client.get(format!("{api}/api/v1/status")).send().unwrap().json().unwrap();
    assert_eq!(status["storage"]["spans"], 10);
    assert_eq!(status["storage"]["path"], ":memory:");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        dir_is_empty(&home),
        "--memory must leave nothing on disk: {:?}",
        std::fs::read_dir(&home).unwrap().collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(home);
}

/// A WAL damaged in the middle (committed transactions after the damage, which SQLite's recovery
/// drops without a word) is found by `otelbox check` (exit 1) and at start-up, which logs the loss
/// and keeps the damaged WAL aside; an intact store checks as ok (exit 0).
#[test]
fn a_wal_damaged_mid_file_is_reported_kept_aside_and_found_by_check() {
    let dir = temp_dir("walcheck");
    let mut b = Box::start(&["--data-dir", dir.to_str().unwrap()]);
    for i in 0..40u64 {
        let r = b.post(
            "/v1/traces",
            "application/x-protobuf",
            encode(&trace_request("wal", "W", i + 1, 10)),
        );
        assert_eq!(r.status(), 200);
    }
    b.kill9(); // the WAL stays as it is: no checkpoint at a clean stop
    let check = |dir: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_otelbox"))
            .args(["check", dir.to_str().unwrap()])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, report) = check(&dir);
    assert_eq!(code, Some(0), "{report}");

    // Flip bytes inside the middle frame's page: the frames after it no longer continue the checksum chain.
    let wal = dir.join("otelbox.db-wal");
    let mut bytes = std::fs::read(&wal).unwrap();
    let page = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let frames = (bytes.len() - 32) / (24 + page);
    assert!(frames > 20, "the WAL holds many frames: {frames}");
    let at = 32 + frames / 2 * (24 + page) + 24 + 100;
    for byte in &mut bytes[at..at + 8] {
        *byte ^= 0xff;
    }
    std::fs::write(&wal, &bytes).unwrap();
    let (code, report) = check(&dir);
    assert_eq!(code, Some(1), "{report}");
    assert!(report.contains("damaged"), "{report}");

    b.spawn();
    let log = b.log_text();
    assert!(log.contains("damaged"), "start-up says so: {log}");
    let kept: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("otelbox.db-wal.damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "the damaged WAL is kept aside");
    assert!(b.stored_spans() > 0, "what came before the damage is served");
    drop(b);
    let _ = std::fs::remove_dir_all(dir);
}
