//! Forwarding end to end with the real binary: box A stores what it receives and forwards traces
//! with the `otlp` exporter (gRPC) and logs with `otlphttp` to box B. B is stopped for 30 s in the
//! middle of the stream and A is restarted during the outage: A keeps acknowledging (its queue is on
//! disk), the queue survives A's restart, and once B is back everything arrives, nothing lost. The
//! same holds for large batches, whose payloads are files of their own, across kill -9.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

const SPANS_PER_TRACE: usize = 5;
const REQUESTS_PER_PHASE: u64 = 10;

/// A's config: storage plus both forwarding exporters pointed at B, with quick retries.
fn forwarding_config(dir: &Path, b: &Box) -> std::path::PathBuf {
    let path = dir.join("a.yaml");
    let retry = "retry_on_failure: { initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 2m }";
    std::fs::write(
        &path,
        format!(
            r#"
receivers:
  otlp: {{ protocols: {{ grpc: {{}}, http: {{}} }} }}
processors:
  batch: {{ timeout: 50ms }}
exporters:
  otelbox: {{}}
  otlp/b:
    endpoint: 127.0.0.1:{grpc}
    tls: {{ insecure: true }}
    {retry}
  otlphttp/b:
    endpoint: {http}
    {retry}
service:
  pipelines:
    traces: {{ receivers: [otlp], processors: [batch], exporters: [otelbox, otlp/b] }}
    logs: {{ receivers: [otlp], processors: [batch], exporters: [otelbox, otlphttp/b] }}
"#,
            grpc = b.grpc_port,
            http = b.http,
        ),
    )
    .unwrap();
    path
}

/// Sends one phase's traces and logs to A; every request must be acknowledged.
fn send_phase(a: &Box, phase: u64) {
    for i in 0..REQUESTS_PER_PHASE {
        let no = phase * 100 + i + 1;
        let r = a.post(
            "/v1/traces",
            "application/x-protobuf",
            encode(&trace_request("fwd", "FWD", no, SPANS_PER_TRACE)),
        );
        assert_eq!(r.status(), 200, "phase {phase}: trace {no} must be acknowledged by A");
        let r = a.post(
            "/v1/logs",
            "application/x-protobuf",
            encode(&log_request("fwd-logs", &format!("forwarded log {no}"))),
        );
        assert_eq!(r.status(), 200, "phase {phase}: log {no} must be acknowledged by A");
    }
}

/// A's counters for one exporter and signal: (sent, dropped, queued).
fn exporter_counters(a: &Box, component: &str, signal: &str) -> (u64, u64, u64) {
    let (_, status) = a.get_json("/api/v1/status");
    let entry = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == component && c["signal"] == signal)
        .unwrap_or_else(|| panic!("no counters for {component} {signal}: {status}"))
        .clone();
    let get = |k: &str| entry[k].as_u64().unwrap();
    (get("sent"), get("dropped"), get("queued"))
}

fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Distinct trace ids and log bodies B has stored from the test.
fn forwarded_in(b: &Box) -> (BTreeSet<String>, BTreeSet<String>) {
    let (_, traces) = b.get_json("/api/v1/traces?q=run_id%20%3D%20FWD&limit=1000");
    let traces = traces["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap().to_string())
        .collect();
    let (_, logs) = b.get_json("/api/v1/logs?q=service%20%3D%20fwd-logs&limit=1000");
    let logs = logs["logs"].as_array().unwrap().iter().map(|l| l["body"].to_string()).collect();
    (traces, logs)
}

#[test]
fn forwarding_survives_an_upstream_outage_and_a_restart_of_the_forwarder() {
    let a_dir = temp_dir("forward-a");
    let b_dir = temp_dir("forward-b");
    let mut b = Box::start(&["--data-dir", b_dir.to_str().unwrap()]);
    let config = forwarding_config(&a_dir, &b);
    let mut a = Box::start(&["--data-dir", a_dir.to_str().unwrap(), "--config", config.to_str().unwrap()]);

    // Phase 1: B is up; everything arrives.
    send_phase(&a, 1);
    let per_phase_spans = REQUESTS_PER_PHASE as i64 * SPANS_PER_TRACE as i64;
    wait_until("phase 1 in B", Duration::from_secs(20), || {
        b.stored_spans() == per_phase_spans && b.stored_logs() == REQUESTS_PER_PHASE as i64
    });

    // Phase 2: B is down; A still acknowledges everything (stored, and queued on disk for B).
    assert!(b.stop().success());
    let outage = Instant::now();
    send_phase(&a, 2);
    wait_until("phase 2 queued in A", Duration::from_secs(10), || {
        exporter_counters(&a, "exporter/otlp/b", "traces").2 == per_phase_spans as u64
            && exporter_counters(&a, "exporter/otlphttp/b", "logs").2 == REQUESTS_PER_PHASE
    });
    assert_eq!(a.stored_spans(), 2 * per_phase_spans, "A's own storage has everything");

    // A restarts during the outage: its queues are files in its data directory and come back.
    assert!(a.stop().success(), "A stops promptly while B is unreachable");
    assert!(a_dir.join("queues/otlp%2Fb.db").is_file());
    assert!(a_dir.join("queues/otlphttp%2Fb.db").is_file());
    a.spawn();
    assert_eq!(exporter_counters(&a, "exporter/otlp/b", "traces").2, per_phase_spans as u64);
    assert_eq!(exporter_counters(&a, "exporter/otlphttp/b", "logs").2, REQUESTS_PER_PHASE);

    // Phase 3: still down, after A's restart.
    send_phase(&a, 3);

    // B comes back after 30 s, on the same ports and data directory.
    let outage_length = Duration::from_secs(30);
    std::thread::sleep(outage_length.saturating_sub(outage.elapsed()));
    b.spawn();

    // Everything arrives. Delivery is at-least-once: a batch B stored whose answer A never got
    // (B stopping between its commit and its reply, A killed between B's reply and removing the
    // batch) would be sent again, so B is checked by distinct trace ids and log bodies. Here B and
    // A stop gracefully (answered requests are acknowledged first), so duplicates are not expected
    // and the totals are checked as well.
    let expected_traces = 3 * REQUESTS_PER_PHASE as usize;
    wait_until("every trace and log in B", Duration::from_secs(60), || {
        let (traces, logs) = forwarded_in(&b);
        traces.len() == expected_traces && logs.len() == expected_traces
    });
    let (traces, logs) = forwarded_in(&b);
    let sent_traces: BTreeSet<String> = [1u64, 2, 3]
        .iter()
        .flat_map(|phase| (0..REQUESTS_PER_PHASE).map(move |i| phase * 100 + i + 1))
        .map(|no| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&no.to_be_bytes());
            id[15] = 1;
            id.iter().map(|b| format!("{b:02x}")).collect()
        })
        .collect();
    assert_eq!(traces, sent_traces, "exactly the traces sent to A");
    assert_eq!(logs.len(), expected_traces);
    assert_eq!(b.stored_spans(), 3 * per_phase_spans, "no span lost or duplicated");
    assert_eq!(b.stored_logs(), 3 * REQUESTS_PER_PHASE as i64, "no log lost or duplicated");

    wait_until("A's queues empty", Duration::from_secs(10), || {
        exporter_counters(&a, "exporter/otlp/b", "traces").2 == 0 && exporter_counters(&a, "exporter/otlphttp/b", "logs").2 == 0
    });
    // Since its restart, A delivered phases 2 and 3 and dropped nothing.
    assert_eq!(
        exporter_counters(&a, "exporter/otlp/b", "traces"),
        (2 * per_phase_spans as u64, 0, 0)
    );
    assert_eq!(exporter_counters(&a, "exporter/otlphttp/b", "logs"), (2 * REQUESTS_PER_PHASE, 0, 0));

    drop(a);
    drop(b);
    let _ = std::fs::remove_dir_all(a_dir);
    let _ = std::fs::remove_dir_all(b_dir);
}

/// Batches large enough for payload files of their own (16 KiB or more) are queued before A
/// acknowledges them: killed with -9 while B is down, A sends every one after its restart.
#[test]
fn acknowledged_large_batches_survive_kill_9_of_the_forwarder() {
    const TRACES: u64 = 12;
    const SPANS: usize = 300;
    let a_dir = temp_dir("forward-kill-a");
    let b_dir = temp_dir("forward-kill-b");
    let mut b = Box::start(&["--data-dir", b_dir.to_str().unwrap()]);
    assert!(b.stop().success());
    let config = a_dir.join("a.yaml");
    std::fs::write(
        &config,
        format!(
            "receivers:\n  otlp: {{ protocols: {{ http: {{}} }} }}\n\
             exporters:\n  otlp/b:\n    endpoint: 127.0.0.1:{grpc}\n    tls: {{ insecure: true }}\n\
             \x20   retry_on_failure: {{ initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 5m }}\n\
             service:\n  pipelines:\n    traces: {{ receivers: [otlp], exporters: [otlp/b] }}\n",
            grpc = b.grpc_port
        ),
    )
    .unwrap();
    let mut a = Box::start(&["--data-dir", a_dir.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    for no in 1..=TRACES {
        let r = a.post(
            "/v1/traces",
            "application/x-protobuf",
            encode(&trace_request("fwd", "FWD", no, SPANS)),
        );
        assert_eq!(r.status(), 200, "trace {no} must be acknowledged by A");
    }
    let payloads = a_dir.join("queues/otlp%2Fb.payloads");
    let files = std::fs::read_dir(&payloads).unwrap().count();
    assert_eq!(files, TRACES as usize, "each acknowledged batch has its payload file");

    a.kill9();
    b.spawn();
    a.spawn();
    let spans = TRACES as i64 * SPANS as i64;
    wait_until("every span in B", Duration::from_secs(60), || b.stored_spans() >= spans);
    assert_eq!(
        b.stored_spans(),
        spans,
        "none lost, none sent twice (none was delivered before the kill)"
    );
    wait_until("A's payload files removed", Duration::from_secs(10), || {
        std::fs::read_dir(&payloads).unwrap().count() == 0
    });
    drop(a);
    drop(b);
    let _ = std::fs::remove_dir_all(a_dir);
    let _ = std::fs::remove_dir_all(b_dir);
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A throwaway CA, a server certificate for 127.0.0.1 and a client certificate.
fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=otelbox test CA",
        ],
    );
    for (name, usage, san) in [
        ("server", "serverAuth", "subjectAltName=IP:127.0.0.1"),
        ("client", "clientAuth", "subjectAltName=DNS:forwarder"),
    ] {
        std::fs::write(
            dir.join(format!("{name}.ext")),
            format!("{san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\n"),
        )
        .unwrap();
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
}

#[test]
fn the_otlp_exporter_forwards_over_mutual_tls() {
    let dir = temp_dir("forward-tls");
    make_certs(&dir);
    let file = |name: &str| dir.join(name).to_str().unwrap().to_string();

    // B serves TLS on every port and wants client certificates from our CA on the ingest ports.
    // (common::Box checks readiness over plain HTTP, so B is started by hand.)
    let b_ports = (free_port(), free_port(), free_port());
    let b_log = std::fs::File::create(dir.join("b.log")).unwrap();
    let mut b = std::process::Command::new(env!("CARGO_BIN_EXE_otelbox"))
        .args([
            "up",
            "--memory",
            "--tls-cert",
            &file("server.pem"),
            "--tls-key",
            &file("server.key"),
        ])
        .args(["--tls-client-ca", &file("ca.pem")])
        .args([
            "--grpc-port",
            &b_ports.0.to_string(),
            "--http-port",
            &b_ports.1.to_string(),
            "--ui-port",
            &b_ports.2.to_string(),
        ])
        .stdout(b_log.try_clone().unwrap())
        .stderr(b_log)
        .spawn()
        .unwrap();
    wait_until("B listening", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", b_ports.0)).is_ok()
    });

    let config = dir.join("a.yaml");
    let retry = "retry_on_failure: { initial_interval: 100ms, max_interval: 500ms }";
    std::fs::write(
        &config,
        format!(
            r#"
receivers:
  otlp: {{ protocols: {{ grpc: {{}}, http: {{}} }} }}
exporters:
  otlp/b:
    endpoint: 127.0.0.1:{port}
    tls: {{ ca_file: {ca}, cert_file: {cert}, key_file: {key} }}
    {retry}
  otlp/without_client_cert:
    endpoint: https://127.0.0.1:{port}
    tls: {{ ca_file: {ca} }}
    {retry}
service:
  pipelines:
    traces: {{ receivers: [otlp], exporters: [otlp/b, otlp/without_client_cert] }}
"#,
            port = b_ports.0,
            ca = file("ca.pem"),
            cert = file("client.pem"),
            key = file("client.key"),
        ),
    )
    .unwrap();
    let a = Box::start(&["--memory", "--config", config.to_str().unwrap()]);
    for no in 1..=3 {
        let r = a.post("/v1/traces", "application/x-protobuf", encode(&trace_request("tls", "TLS", no, 4)));
        assert_eq!(r.status(), 200);
    }
    wait_until("delivery over mTLS", Duration::from_secs(20), || {
        exporter_counters(&a, "exporter/otlp/b", "traces").0 == 12
    });
    // B refuses the handshake without a client certificate: retried, never delivered, kept queued.
    let (sent, dropped, queued) = exporter_counters(&a, "exporter/otlp/without_client_cert", "traces");
    assert_eq!((sent, dropped, queued), (0, 0, 12));
    let log = a.log_text();
    assert!(
        log.contains("cannot deliver; retrying") && log.contains("otlp/without_client_cert"),
        "the failure is logged: {log}"
    );

    drop(a);
    let _ = b.kill();
    let _ = b.wait();
    let _ = std::fs::remove_dir_all(dir);
}
