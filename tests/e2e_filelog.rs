//! The filelog receiver through the real binary: files written, appended, rotated by rename and
//! appended again while the box is down; after a restart every line is stored exactly once (the
//! offsets live in the file_storage extension's directory and move only after a commit).

mod common;
use std::io::Write;
use std::time::{Duration, Instant};

fn append(path: &std::path::Path, lines: std::ops::Range<u32>) {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    for i in lines {
        writeln!(file, r#"{{"level":"warn","msg":"line {i}"}}"#).unwrap();
    }
}

fn wait_for_logs(otelbox: &common::Box, n: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    while otelbox.stored_logs() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // A little longer, so a line read twice would show.
    std::thread::sleep(Duration::from_millis(600));
    otelbox.stored_logs()
}

#[test]
fn lines_written_rotated_and_appended_across_a_restart_are_stored_exactly_once() {
    let dir = common::temp_dir("filelog");
    let (logs, offsets, data) = (dir.join("logs"), dir.join("offsets"), dir.join("data"));
    std::fs::create_dir_all(&logs).unwrap();
    let config = dir.join("otelbox.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
extensions:
  file_storage: {{ directory: {offsets}, create_directory: true }}
receivers:
  filelog:
    include: ["{logs}/*.log"]
    start_at: beginning
    poll_interval: 50ms
    storage: file_storage
    operators:
      - type: json_parser
        severity: {{ parse_from: attributes.level }}
exporters:
  otelbox: {{}}
service:
  extensions: [file_storage]
  pipelines:
    logs: {{ receivers: [filelog], exporters: [otelbox] }}
"#,
            offsets = offsets.display(),
            logs = logs.display()
        ),
    )
    .unwrap();
    let app = logs.join("app.log");
    append(&app, 0..10);
    let mut otelbox = common::Box::start(&["--data-dir", data.to_str().unwrap(), "--config", config.to_str().unwrap()]);
    assert_eq!(
        wait_for_logs(&otelbox, 10),
        10,
        "the file from its beginning\n{}",
        otelbox.log_text()
    );

    append(&app, 10..15);
    assert_eq!(wait_for_logs(&otelbox, 15), 15, "appended lines, once");

    // Rotation by rename: the old file keeps its offset under its new name, a new file starts at 0.
    std::fs::rename(&app, logs.join("app-1.log")).unwrap();
    append(&app, 15..20);
    assert_eq!(
        wait_for_logs(&otelbox, 20),
        20,
        "the new file, and nothing of the renamed one again"
    );

    otelbox.stop();
    append(&app, 20..25);
    append(&logs.join("app-1.log"), 25..27);
    otelbox.spawn();
    assert_eq!(
        wait_for_logs(&otelbox, 27),
        27,
        "after the restart: what was written while down, nothing twice\n{}",
        otelbox.log_text()
    );
    let (_, body) = otelbox.get_json("/api/v1/logs?limit=1&q=body%20~%20%22line%2026%22");
    assert_eq!(body["logs"].as_array().map(Vec::len), Some(1), "{body}");
}
