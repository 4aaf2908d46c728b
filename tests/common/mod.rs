//! Test harness: runs the real otelbox binary on free ports and talks to it over HTTP.
#![allow(dead_code)]

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A port nothing listens on now, never the same twice in one test process (tests in a file run in
/// parallel, and the OS may hand the same ephemeral port out again once it is released).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

pub struct Box {
    pub child: Option<Child>,
    pub http: String,
    pub api: String,
    pub grpc_port: u16,
    pub client: reqwest::blocking::Client,
    args: Vec<String>,
    ports: (u16, u16, u16),
    pub log: PathBuf,
}

impl Box {
    /// Start `otelbox up` with these extra args (e.g. `--memory` or `--data-dir D`).
    pub fn start(extra: &[&str]) -> Box {
        let ports = (free_port(), free_port(), free_port());
        let args = extra.iter().map(|s| s.to_string()).collect();
        let log = std::env::temp_dir().join(format!("otelbox-test-{}-{}.log", std::process::id(), ports.0));
        let mut b = Box {
            child: None,
            http: format!("http://127.0.0.1:{}", ports.1),
            api: format!("http://127.0.0.1:{}", ports.2),
            grpc_port: ports.0,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            args,
            ports,
            log,
        };
        b.spawn();
        b
    }

    pub fn spawn(&mut self) {
        let log = std::fs::File::create(&self.log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_otelbox"))
            .arg("up")
            .args(&self.args)
            .args([
                "--grpc-port",
                &self.ports.0.to_string(),
                "--http-port",
                &self.ports.1.to_string(),
                "--ui-port",
                &self.ports.2.to_string(),
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start otelbox");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = self.client.get(format!("{}/readyz", self.api)).send() {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("otelbox exited early with {status}: {}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("otelbox not ready in 20 s: {}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM and wait: the graceful path.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "otelbox did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> reqwest::blocking::Response {
        self.client
            .post(format!("{}{path}", self.http))
            .header("content-type", content_type)
            .body(body)
            .send()
            .unwrap()
    }

    pub fn get_json(&self, path_and_query: &str) -> (u16, serde_json::Value) {
        let r = self.client.get(format!("{}{path_and_query}", self.api)).send().unwrap();
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(serde_json::Value::Null))
    }

    pub fn stored_spans(&self) -> i64 {
        self.get_json("/api/v1/status").1["storage"]["spans"].as_i64().unwrap()
    }
    pub fn stored_logs(&self) -> i64 {
        self.get_json("/api/v1/status").1["storage"]["logs"].as_i64().unwrap()
    }
}

impl Drop for Box {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

pub fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// `n` spans in one trace (the first is the root) for `service`, tagged with `run_id`.
pub fn trace_request(service: &str, run_id: &str, trace_no: u64, n: usize) -> ExportTraceServiceRequest {
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&trace_no.to_be_bytes());
    trace_id[15] = 1;
    let start = now_ns();
    let spans = (0..n)
        .map(|i| Span {
            trace_id: trace_id.to_vec(),
            span_id: ((i as u64 + 1) | (trace_no << 20)).to_be_bytes().to_vec(),
            parent_span_id: if i == 0 {
                vec![]
            } else {
                (1u64 | (trace_no << 20)).to_be_bytes().to_vec()
            },
            name: format!("op-{i}"),
            kind: 2,
            start_time_unix_nano: start + i as u64 * 1000,
            end_time_unix_nano: start + 1_000_000 + i as u64 * 1000,
            attributes: vec![string_kv("run_id", run_id)],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "test".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub fn log_request(service: &str, body: &str) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![string_kv("service.name", service)],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: now_ns(),
                    severity_number: 13,
                    severity_text: "WARN".into(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(body.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub fn encode<M: Message>(m: &M) -> Vec<u8> {
    m.encode_to_vec()
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("otelbox-{name}-{}-{}", std::process::id(), free_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn dir_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true)
}
