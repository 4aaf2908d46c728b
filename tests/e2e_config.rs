//! The Collector-style config through the real binary: `config validate` lists every error with its
//! path and exits 2, `up --config` with errors starts nothing, `config default` is what runs without a
//! file, and a valid file (with environment references) sets ports, pipelines and tokens.

mod common;
use std::process::Command;
use std::time::Duration;

fn otelbox(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otelbox"));
    command.args(args).env_remove("OTELBOX_CONFIG");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// Whether the box whose API is at `api` answers `/readyz` within 10 s.
fn comes_up(client: &reqwest::blocking::Client, api: &str) -> bool {
    (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        client.get(format!("{api}/readyz")).send().is_ok_and(|r| r.status().is_success())
    })
}

const INVALID: &str = r#"
receivers:
  otlp: { protocols: { http: { endpoint: "nowhere" } } }
  kafka: {}
processors:
  batch: { timeout: soon, send_batch_size: lots }
  filter/noise: { traces: { span: ['attributes["http.route"] == "/health"', 'IsMatch(attributes["url.path"] "^/ready")'] } }
exporters:
  otelbox: {}
connectors:
  spanmetrics: { metrics_flush_interval: 0s }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [filter/noise, attributes/agent], exporters: [otelbox, spanmetrics] }
    logs: { receivers: [otlp], exporters: [] }
"#;

#[test]
fn invalid_configs_list_every_error_exit_2_and_start_nothing() {
    let dir = common::temp_dir("config-invalid");
    let file = dir.join("bad.yaml");
    std::fs::write(&file, INVALID).unwrap();
    let out = otelbox(&["config", "validate", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "receivers.otlp.protocols.http.endpoint: expected host:port",
        "processors.batch.timeout:",
        "processors.batch.send_batch_size: expected a non-negative integer, got a string",
        "processors.filter/noise.traces.span[1]: column ",
        "receivers.kafka: the receiver type \"kafka\" is not supported by this otelbox yet",
        "service.pipelines.traces.processors[1]: references processor \"attributes/agent\" which is not configured",
        "connectors.spanmetrics.metrics_flush_interval: must be greater than 0",
        "connectors.spanmetrics: is used as an exporter but not as a receiver",
        "service.pipelines.logs: must have at least one exporter",
    ] {
        assert!(stderr.contains(expected), "missing `{expected}` in:\n{stderr}");
    }

    let port = common::free_port();
    let out = otelbox(
        &["up", "--memory", "--config", file.to_str().unwrap(), "--ui-port", &port.to_string()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("9 error(s) in the config"));
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(), "nothing was started");
}

#[test]
fn the_default_config_is_what_runs_without_a_file() {
    let dir = common::temp_dir("config-default");
    let out = otelbox(&["config", "default"], &[]);
    assert!(out.status.success());
    let file = dir.join("default.yaml");
    std::fs::write(&file, &out.stdout).unwrap();
    let validated = otelbox(&["config", "validate", file.to_str().unwrap()], &[]);
    assert!(validated.status.success(), "{}", String::from_utf8_lossy(&validated.stderr));

    let plain = common::Box::start(&["--memory"]);
    let pipelines = plain.get_json("/api/v1/status").1["pipelines"].clone();
    let listed: Vec<String> = String::from_utf8_lossy(&validated.stdout)
        .lines()
        .skip(1)
        .map(|l| l.trim().to_string())
        .collect();
    assert_eq!(
        serde_json::json!(listed),
        pipelines,
        "validate lists exactly the pipelines a file-less box runs"
    );
}

#[test]
fn a_config_file_sets_ports_pipelines_and_tokens() {
    let dir = common::temp_dir("config-valid");
    let (grpc, http, ui) = (common::free_port(), common::free_port(), common::free_port());
    let file = dir.join("otelbox.yaml");
    std::fs::write(
        &file,
        r#"
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${env:TEST_GRPC_PORT}" }
      http: { endpoint: "127.0.0.1:${TEST_HTTP_PORT}" }
processors:
  batch/quick: { timeout: 10ms }
exporters:
  otelbox: { retention: 2d }
auth:
  ingest_tokens: ["${env:TEST_INGEST_TOKEN:-fallback-token}"]
service:
  pipelines:
    traces: { receivers: [otlp], processors: [batch/quick], exporters: [otelbox] }
"#,
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_otelbox"))
        .args(["up", "--memory", "--config", file.to_str().unwrap(), "--ui-port", &ui.to_string()])
        .env("TEST_GRPC_PORT", grpc.to_string())
        .env("TEST_HTTP_PORT", http.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let api = format!("http://127.0.0.1:{ui}");
    assert!(comes_up(&client, &api), "a box with a valid config comes up");
    let status: serde_json::Value = client.get(format!("{api}/api/v1/status")).send().unwrap().json().unwrap();
    assert_eq!(status["pipelines"], serde_json::json!(["traces: otlp -> batch/quick -> otelbox"]));
    assert_eq!(status["storage"]["retention_s"], 2 * 86_400);
    assert_eq!(status["endpoints"]["otlp_http"], format!("http://127.0.0.1:{http}"));

    let body = common::encode(&common::trace_request("svc", "run-1", 1, 2));
    let send = |token: Option<&str>| {
        let mut request = client
            .post(format!("http://127.0.0.1:{http}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().unwrap().status().as_u16()
    };
    assert_eq!(send(None), 401, "the config's ingest token is required");
    assert_eq!(send(Some("fallback-token")), 200, "and ${{env:NAME:-default}} supplied it");
    let logs = client
        .post(format!("http://127.0.0.1:{http}/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .bearer_auth("fallback-token")
        .body(common::encode(&common::log_request("svc", "hello")))
        .send()
        .unwrap();
    assert_eq!(logs.status().as_u16(), 400, "no logs pipeline: logs are refused, clearly");
    assert!(logs.text().unwrap().contains("no logs pipeline"), "the answer says why");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_user_config_dir_is_a_standard_place() {
    let home = common::temp_dir("config-home");
    let dir = home.join("otelbox");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.yaml"), "service: {}\n").unwrap();
    let out = otelbox(
        &["up", "--memory", "--ui-port", "0", "--grpc-port", "0", "--http-port", "0"],
        &[("XDG_CONFIG_HOME", home.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(2), "the file found there was used (and refused)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("otelbox/config.yaml") && stderr.contains("service: must have at least one pipeline"),
        "{stderr}"
    );
}

/// Every `yaml` block of the README that is a whole config (it has `service:`) validates: the
/// documentation's examples are promises too.
#[test]
fn the_readme_config_examples_validate() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let dir = common::temp_dir("config-readme");
    let blocks: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter(|block| block.contains("\nservice:") || block.starts_with("service:"))
        .collect();
    assert!(blocks.len() >= 2, "the README has its config examples");
    for (i, block) in blocks.iter().enumerate() {
        let file = dir.join(format!("readme-{i}.yaml"));
        std::fs::write(&file, block).unwrap();
        let out = otelbox(
            &["config", "validate", file.to_str().unwrap()],
            &[("GRPC_PORT", "4317"), ("INGEST_TOKEN", "t1"), ("API_TOKEN", "t2")],
        );
        assert!(
            out.status.success(),
            "README config example {i} is invalid:\n{block}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Receivers and extensions are components: three `otlp` instances listen side by side, one guarded
/// by a `bearertokenauth` extension and one by `basicauth`, and `health_check` answers on its own port.
#[test]
fn otlp_receivers_with_authenticators_and_a_health_check() {
    let dir = common::temp_dir("config-components");
    let (http, edge, health, ui) = (common::free_port(), common::free_port(), common::free_port(), common::free_port());
    let basic = common::free_port();
    let file = dir.join("otelbox.yaml");
    std::fs::write(
        &file,
        format!(
            r#"
extensions:
  health_check: {{ endpoint: "localhost:{health}" }}
  bearertokenauth/edge: {{ token: edge-secret }}
  basicauth/users: {{ htpasswd: {{ inline: "alice:wonder:land" }} }}
receivers:
  otlp: {{ protocols: {{ http: {{ endpoint: "127.0.0.1:{http}" }} }} }}
  otlp/edge:
    protocols:
      http: {{ endpoint: "127.0.0.1:{edge}", auth: {{ authenticator: bearertokenauth/edge }} }}
  otlp/basic:
    protocols:
      http: {{ endpoint: "127.0.0.1:{basic}", auth: {{ authenticator: basicauth/users }} }}
exporters:
  otelbox: {{}}
service:
  extensions: [health_check, bearertokenauth/edge, basicauth/users]
  pipelines:
    traces: {{ receivers: [otlp, otlp/edge, otlp/basic], exporters: [otelbox] }}
"#
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_otelbox"))
        .args(["up", "--memory", "--config", file.to_str().unwrap(), "--ui-port", &ui.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    assert!(comes_up(&client, &format!("http://127.0.0.1:{ui}")), "the box comes up");
    let health_answer = client.get(format!("http://127.0.0.1:{health}/")).send().unwrap();
    assert_eq!(health_answer.status().as_u16(), 200);
    assert!(health_answer.text().unwrap().contains("Server available"));

    let send = |port: u16, run: &str, token: Option<&str>| {
        let mut request = client
            .post(format!("http://127.0.0.1:{port}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            // A trace per run: the same trace and span ids again would be a duplicate, stored once.
            .body(common::encode(&common::trace_request(
                "svc",
                run,
                match run {
                    "open" => 1,
                    "edge" => 2,
                    _ => 3,
                },
                2,
            )));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().unwrap().status().as_u16()
    };
    assert_eq!(send(http, "open", None), 200, "the plain otlp receiver needs no token");
    assert_eq!(
        send(edge, "edge", None),
        401,
        "otlp/edge's authenticator refuses a request without its token"
    );
    assert_eq!(send(edge, "edge", Some("wrong")), 401);
    assert_eq!(send(edge, "edge", Some("edge-secret")), 200, "and accepts its token");
    let send_basic = |password: Option<&str>| {
        let request = client
            .post(format!("http://127.0.0.1:{basic}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(common::encode(&common::trace_request("svc", "basic", 3, 2)));
        let request = match password {
            Some(password) => request.basic_auth("alice", Some(password)),
            None => request,
        };
        request.send().unwrap().status().as_u16()
    };
    assert_eq!(send_basic(None), 401, "otlp/basic refuses a request without credentials");
    assert_eq!(send_basic(Some("wonder")), 401, "and a wrong password");
    assert_eq!(
        send_basic(Some("wonder:land")),
        200,
        "and accepts the htpasswd line's password (colons and all)"
    );
    let spans: serde_json::Value = client
        .get(format!("http://127.0.0.1:{ui}/api/v1/spans?limit=10"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        spans["spans"].as_array().map(Vec::len),
        Some(6),
        "the three receivers fed the pipeline: {spans}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// A browser sending OTLP/HTTP from a web page of another origin: its preflight is answered for the
/// allowed origins (wildcards as in the Collector, with the max age), before any token check, and its
/// request's answer carries the origin; another origin gets no CORS headers, so its browser refuses.
#[test]
fn cors_preflights_are_answered_for_allowed_origins_only() {
    let dir = common::temp_dir("config-cors");
    let file = dir.join("cors.yaml");
    std::fs::write(
        &file,
        r#"
receivers:
  otlp:
    protocols:
      http:
        include_metadata: true
        cors: { allowed_origins: ["https://*.example.com"], allowed_headers: ["x-team"], max_age: 7200 }
exporters:
  otelbox: {}
auth:
  ingest_tokens: [secret-token]
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [otelbox] }
"#,
    )
    .unwrap();
    let b = common::Box::start(&["--memory", "--config", file.to_str().unwrap()]);
    let preflight = |origin: &str| {
        b.client
            .request(reqwest::Method::OPTIONS, format!("{}/v1/traces", b.http))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, x-team")
            .send()
            .unwrap()
    };
    let allowed = preflight("https://app.example.com");
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let header = |r: &reqwest::blocking::Response, name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        header(&allowed, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(header(&allowed, "access-control-max-age").as_deref(), Some("7200"));
    let headers = header(&allowed, "access-control-allow-headers").unwrap_or_default();
    assert!(headers.contains("x-team") && headers.contains("content-type"), "{headers}");
    assert!(header(&allowed, "access-control-allow-methods")
        .unwrap_or_default()
        .contains("POST"));

    let refused = preflight("https://evil.example.org");
    assert_eq!(
        header(&refused, "access-control-allow-origin"),
        None,
        "another origin gets no CORS headers"
    );

    // The request itself still needs the token, and its answer names the allowed origin.
    let send = |token: Option<&str>| {
        let mut request = b
            .client
            .post(format!("{}/v1/traces", b.http))
            .header("origin", "https://app.example.com")
            .header("content-type", "application/json")
            .body(r#"{"resourceSpans":[]}"#);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().unwrap()
    };
    assert_eq!(send(None).status(), 401);
    let accepted = send(Some("secret-token"));
    assert!(accepted.status().is_success(), "{}", accepted.status());
    assert_eq!(
        header(&accepted, "access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
}

/// The README shows what `otelbox config default` prints, byte for byte: the block after the
/// sentence that says so.
#[test]
fn the_readme_shows_the_built_in_config() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let at = readme
        .find("`otelbox config default` prints the built-in")
        .expect("the README's configuration section says what `otelbox config default` prints");
    let rest = &readme[at..];
    let block = rest
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a yaml block follows");
    let out = otelbox(&["config", "default"], &[]);
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        block, printed,
        "the README's built-in config differs from `otelbox config default`; copy the output into the README"
    );
}

/// `/api/v1/status`, which feeds the Setup page: what the receivers took, what the processors
/// dropped and what was stored are three numbers; the stages come in pipeline order; every receiver
/// is listed with where it listens or what it reads, one that no pipeline lists included.
#[test]
fn status_tells_received_dropped_and_stored_apart_and_lists_every_receiver() {
    let dir = common::temp_dir("config-status");
    let zipkin = common::free_port();
    let file = dir.join("otelbox.yaml");
    std::fs::write(
        &file,
        format!(
            r#"
receivers:
  otlp: {{ protocols: {{ http: {{ endpoint: 127.0.0.1:4318 }} }} }}
  zipkin: {{ endpoint: 127.0.0.1:{zipkin} }}
  nginx: {{ endpoint: http://127.0.0.1:9/status, collection_interval: 1h }}
  zipkin/spare: {{ endpoint: 127.0.0.1:0 }}
processors:
  memory_limiter: {{ check_interval: 1s, limit_mib: 512 }}
  filter/most: {{ traces: {{ span: ['name != "op-0"'] }} }}
  batch: {{ timeout: 10ms }}
exporters:
  otelbox: {{}}
service:
  pipelines:
    traces: {{ receivers: [otlp, zipkin], processors: [memory_limiter, filter/most, batch], exporters: [otelbox] }}
    metrics: {{ receivers: [nginx], processors: [batch], exporters: [otelbox] }}
"#
        ),
    )
    .unwrap();
    let b = common::Box::start(&["--memory", "--config", file.to_str().unwrap()]);
    // Ten spans; the filter keeps one.
    let r = b.post(
        "/v1/traces",
        "application/x-protobuf",
        common::encode(&common::trace_request("svc", "R1", 1, 10)),
    );
    assert_eq!(r.status(), 200);
    let (status, body) = b.get_json("/api/v1/status");
    assert_eq!(status, 200, "{body}");
    let ingest = &body["ingest"];
    assert_eq!(ingest["accepted"]["spans"], 10, "received and acknowledged: {ingest}");
    assert_eq!(ingest["dropped"]["spans"], 9, "dropped by the filter: {ingest}");
    assert_eq!(ingest["stored"]["spans"], 1, "what reached the database: {ingest}");

    let stages: Vec<String> = body["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["signal"] == "traces")
        .map(|c| format!("{} {}", c["pipeline"].as_str().unwrap(), c["component"].as_str().unwrap()))
        .collect();
    assert_eq!(
        stages,
        [
            "traces processor/memory_limiter",
            "traces processor/filter/most",
            "traces processor/batch",
            "* exporter/otelbox"
        ],
        "in pipeline order"
    );

    let receivers = body["receivers"].as_array().unwrap();
    let find = |id: &str| {
        receivers
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("receiver {id} in {receivers:?}"))
    };
    let urls = |r: &serde_json::Value| -> Vec<String> {
        r["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["url"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(urls(find("otlp")).contains(&b.http), "{receivers:?}");
    assert_eq!(urls(find("zipkin")), [format!("http://127.0.0.1:{zipkin}")]);
    assert_eq!(find("zipkin")["pipelines"], serde_json::json!(["traces"]));
    assert_eq!(find("nginx")["targets"], serde_json::json!(["http://127.0.0.1:9/status"]));
    assert_eq!(find("nginx")["pipelines"], serde_json::json!(["metrics"]));
    assert_eq!(find("zipkin/spare")["pipelines"], serde_json::json!([]), "configured, not run");
}
