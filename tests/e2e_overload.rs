//! Overload through the real binary: far more spans in flight than the store can take. Senders get
//! retryable refusals (counted on /metrics), nothing crashes, and trace searches keep answering
//! meanwhile. (Release-build latency figures under overload come from `scripts/bench memory`.)

mod common;
use common::Box;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn overload_is_refused_retryably_while_queries_keep_answering() {
    let dir = common::temp_dir("overload");
    let b = Box::start(&["--data-dir", dir.to_str().unwrap()]);
    // 48 connections x 5,000 spans: 240,000 in flight against a batch stage that holds 65,536.
    let mut load = Command::new(env!("CARGO_BIN_EXE_otelbox"))
        .args([
            "gen",
            "traces",
            "--endpoint",
            &b.http,
            "--rate",
            "0",
            "--batch",
            "5000",
            "--concurrency",
            "48",
            "--duration",
            "6s",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let mut latencies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(6);
    while Instant::now() < deadline {
        let t0 = Instant::now();
        let (status, body) = b.get_json("/api/v1/traces?limit=20&since=5m");
        latencies.push(t0.elapsed());
        assert_eq!(status, 200, "queries answer during overload: {body}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = load.wait();

    let metrics = b.client.get(format!("{}/metrics", b.api)).send().unwrap().text().unwrap();
    let refused: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("otelbox_receiver_refused_items_total{signal=\"traces\"}"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        refused > 0.0,
        "the overload was refused retryably (503 + Retry-After), not absorbed:\n{metrics}"
    );
    assert!(b.stored_spans() > 0, "and what was accepted is stored");

    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let max = *latencies.last().unwrap();
    eprintln!("{} searches during overload: median {median:?}, max {max:?}", latencies.len());
    assert!(
        median < Duration::from_secs(1),
        "median search under overload {median:?} (debug build)"
    );
    assert!(max < Duration::from_secs(3), "slowest search under overload {max:?} (debug build)");
    // The store holds about 180 MB by now: do not leave it behind in the temp directory.
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}
