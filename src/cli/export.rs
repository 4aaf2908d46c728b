//! `otelbox export` / `otelbox import`: OTLP/JSON lines (one `Export*ServiceRequest` per line, the
//! Collector file exporter's format) out of and into a box. Round trips are lossless. `import` also
//! reads what a file exporter (otelbox's or the Collector's) wrote with `compression: zstd`: each
//! request one zstd frame after its 4-byte big-endian length (`crate::exporter::file::read_records`),
//! and a file that is one zstd stream of JSON lines (the Collector's `exporter.file.nativeCompression`).

use crate::client::{ApiClient, DEFAULT_SERVER};
use crate::exporter::file::{read_records, FileCompression, ZSTD_MAGIC};
use crate::pdata::{json, Signal};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  otelbox export -o telemetry.jsonl\n  otelbox export traces -o traces.jsonl\n  otelbox export --signal traces --where 'service = checkout' > checkout.jsonl"
)]
pub struct ExportArgs {
    /// traces, logs, metrics or all (as --signal)
    #[arg(value_name = "SIGNAL", conflicts_with = "signal")]
    pub what: Option<String>,
    /// traces, logs, metrics or all
    #[arg(long, default_value = "all")]
    pub signal: String,
    /// Only spans or log records matching this filter
    #[arg(long = "where", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Write here instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(long, env = "OTELBOX_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// The CA certificates (PEM) to trust for an https:// server (default: the system's)
    #[arg(long, env = "OTELBOX_CACERT", value_name = "FILE")]
    pub cacert: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  otelbox import telemetry.jsonl\n  otelbox import trace-4bf92f.json --endpoint http://127.0.0.1:4318\n  otelbox import telemetry.zst   (a file exporter's `compression: zstd` output, format: json)"
)]
pub struct ImportArgs {
    /// OTLP/JSON lines files, files holding one OTLP/JSON export request, or a file exporter's
    /// zstd-compressed records of OTLP/JSON
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The box's OTLP/HTTP endpoint
    #[arg(long, default_value = "http://127.0.0.1:4318")]
    pub endpoint: String,
}

pub fn signals(text: &str) -> Result<Vec<Signal>, String> {
    match text {
        "all" => Ok(Signal::ALL.to_vec()),
        "traces" => Ok(vec![Signal::Traces]),
        "logs" => Ok(vec![Signal::Logs]),
        "metrics" => Ok(vec![Signal::Metrics]),
        other => Err(format!("--signal: expected traces, logs, metrics or all, got '{other}'")),
    }
}

/// Stream every export line of these signals into `out`; returns the number of lines.
pub async fn export_to(client: &ApiClient, signals: &[Signal], filter: Option<&str>, out: &mut dyn Write) -> anyhow::Result<usize> {
    let mut lines = 0;
    for signal in signals {
        let query = crate::api::wire::FilterParams {
            q: filter.filter(|_| *signal != Signal::Metrics).map(str::to_string),
        };
        let mut response = client.send(&crate::api::wire::routes::export(signal.as_str()), &query).await?;
        while let Some(chunk) = response.chunk().await? {
            lines += chunk.iter().filter(|b| **b == b'\n').count();
            out.write_all(&chunk)?;
        }
    }
    out.flush()?;
    Ok(lines)
}

pub fn run_export(args: ExportArgs) -> anyhow::Result<i32> {
    let signals = match signals(args.what.as_deref().unwrap_or(&args.signal)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("otelbox export: {e}");
            return Ok(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Inside the runtime: an https:// client's connection pool belongs to it.
    let entered = runtime.enter();
    let client = match super::remote::client_or_exit("export", &args.server, args.cacert.as_deref()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    drop(entered);
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    match runtime.block_on(export_to(&client, &signals, args.filter.as_deref(), &mut out)) {
        Ok(lines) => {
            if let Some(path) = &args.output {
                eprintln!("exported {lines} line(s) to {}", path.display());
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("otelbox export: {e}");
            Ok(2)
        }
    }
}

/// One request to send: its OTLP/HTTP path and its JSON body.
struct Request {
    signal: Signal,
    body: String,
    origin: String,
}

/// Which signal an OTLP/JSON export request carries, checked by decoding it fully.
fn classify(text: &str, origin: &str) -> Result<Request, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("{origin}: not JSON: {e}"))?;
    let has = |camel: &str, snake: &str| value.get(camel).is_some() || value.get(snake).is_some();
    let signal = if has("resourceSpans", "resource_spans") {
        json::decode_traces(text.as_bytes()).map_err(|e| format!("{origin}: {e}"))?;
        Signal::Traces
    } else if has("resourceLogs", "resource_logs") {
        json::decode_logs(text.as_bytes()).map_err(|e| format!("{origin}: {e}"))?;
        Signal::Logs
    } else if has("resourceMetrics", "resource_metrics") {
        json::decode_metrics(text.as_bytes()).map_err(|e| format!("{origin}: {e}"))?;
        Signal::Metrics
    } else {
        return Err(format!(
            "{origin}: not an OTLP export request (no resourceSpans, resourceLogs or resourceMetrics)"
        ));
    };
    Ok(Request {
        signal,
        body: text.to_string(),
        origin: origin.to_string(),
    })
}

/// Read every file; all of it is validated before anything is sent, so a bad file imports nothing.
fn read_requests(files: &[PathBuf]) -> Result<Vec<Request>, Vec<String>> {
    let mut requests = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        if is_compressed_records(&bytes) {
            read_compressed_records(&bytes, &path.display().to_string(), &mut requests, &mut errors);
            continue;
        }
        // A whole-file zstd stream holds JSON lines.
        let bytes = if bytes.starts_with(&ZSTD_MAGIC) {
            match zstd::decode_all(bytes.as_slice()) {
                Ok(b) => b,
                Err(e) => {
                    errors.push(format!("{}: not a readable zstd stream: {e}", path.display()));
                    continue;
                }
            }
        } else {
            bytes
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                errors.push(format!(
                    "{}: neither OTLP/JSON text nor zstd-compressed records (a `format: proto` file cannot be imported)",
                    path.display()
                ));
                continue;
            }
        };
        // A whole-file JSON object (e.g. a trace download), else JSON lines.
        if let Ok(request) = classify(text.trim(), &path.display().to_string()) {
            requests.push(request);
            continue;
        }
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match classify(line, &format!("{}:{}", path.display(), i + 1)) {
                Ok(r) => requests.push(r),
                Err(e) => errors.push(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(requests)
    } else {
        Err(errors)
    }
}

/// A file exporter's `compression: zstd` output: a 4-byte length, then a zstd frame. OTLP/JSON
/// text never starts so (0xB5 cannot follow `(` in UTF-8).
fn is_compressed_records(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(&ZSTD_MAGIC[..])
}

/// Each record, decompressed, is one OTLP/JSON export request (`format: json`); protobuf records
/// (`format: proto`) name no signal, so they are refused.
fn read_compressed_records(bytes: &[u8], origin: &str, requests: &mut Vec<Request>, errors: &mut Vec<String>) {
    let records = match read_records(bytes, Some(FileCompression::Zstd)) {
        Ok(r) => r,
        Err(e) => {
            errors.push(format!("{origin}: {e}"));
            return;
        }
    };
    for (i, record) in records.iter().enumerate() {
        let at = format!("{origin}: record {}", i + 1);
        let text = match std::str::from_utf8(record) {
            Ok(text) if text.trim_start().starts_with('{') => text,
            _ => {
                errors.push(format!(
                    "{at}: not OTLP/JSON (written with format: proto?); otelbox import reads the file exporter's format: json"
                ));
                continue;
            }
        };
        match classify(text, &at) {
            Ok(r) => requests.push(r),
            Err(e) => errors.push(e),
        }
    }
}

pub fn run_import(args: ImportArgs) -> anyhow::Result<i32> {
    let requests = match read_requests(&args.files) {
        Ok(r) => r,
        Err(errors) => {
            for e in errors.iter().take(20) {
                eprintln!("otelbox import: {e}");
            }
            eprintln!("otelbox import: nothing was imported ({} problem(s))", errors.len());
            return Ok(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let base = args.endpoint.trim_end_matches('/').to_string();
    runtime.block_on(async {
        let mut sent = [0usize; 3];
        for r in &requests {
            let url = format!("{base}/v1/{}", r.signal.as_str());
            let mut attempt = 0;
            loop {
                let response = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(r.body.clone())
                    .send()
                    .await;
                match response {
                    Ok(resp) if resp.status().is_success() => break,
                    Ok(resp) if matches!(resp.status().as_u16(), 429 | 502 | 503 | 504) && attempt < 20 => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Ok(resp) => {
                        let status = resp.status();
                        let text = resp.text().await.unwrap_or_default();
                        eprintln!("otelbox import: {} was refused ({status}): {text}", r.origin);
                        return Ok(1);
                    }
                    Err(e) => {
                        eprintln!("otelbox import: cannot reach {url}: {e}; is otelbox up?");
                        return Ok(2);
                    }
                }
            }
            sent[r.signal as usize] += 1;
        }
        eprintln!(
            "imported {} request(s): {} traces, {} metrics, {} logs",
            requests.len(),
            sent[0],
            sent[1],
            sent[2]
        );
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ComponentId;
    use crate::exporter::file::{FileExporter, FileExporterConfig, FileFormat};
    use crate::pipeline::ack::AckToken;
    use crate::pipeline::{Consumer, Envelope, PipelineData};
    use crate::telemetry::PerSignal;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn traces(name: &str) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: (1..=16).collect(),
                        span_id: (1..=8).collect(),
                        name: name.into(),
                        start_time_unix_nano: 1_700_000_000_000_000_000,
                        end_time_unix_nano: 1_700_000_000_250_000_000,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn logs() -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("paid".into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    async fn send<T: PipelineData>(exporter: &FileExporter, data: T) {
        let (ack, committed) = AckToken::new();
        exporter.consume(Envelope::new(data, ack)).await.unwrap();
        committed.await.unwrap().unwrap();
    }

    /// The file exporter with `compression`, then `import`'s reading of its file.
    async fn written_and_read(format: FileFormat) -> Result<Vec<Request>, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("telemetry.zst");
        let config = FileExporterConfig {
            path: path.clone(),
            format,
            compression: Some(FileCompression::Zstd),
            ..Default::default()
        };
        let id = ComponentId::parse("file").unwrap();
        let exporter = FileExporter::new(&id, &config, None, PerSignal::detached("exporter/file")).unwrap();
        send(&exporter, traces("GET /cart")).await;
        send(&exporter, logs()).await;
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
        read_requests(&[path])
    }

    #[tokio::test]
    async fn import_reads_the_file_exporters_zstd_records_of_json() {
        let requests = written_and_read(FileFormat::Json).await.unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!((requests[0].signal, requests[1].signal), (Signal::Traces, Signal::Logs));
        assert_eq!(json::decode_traces(requests[0].body.as_bytes()).unwrap(), traces("GET /cart"));
        assert_eq!(json::decode_logs(requests[1].body.as_bytes()).unwrap(), logs());
        assert!(requests[1].origin.ends_with("telemetry.zst: record 2"), "{}", requests[1].origin);
    }

    #[tokio::test]
    async fn import_refuses_zstd_records_of_protobuf_by_record() {
        let errors = written_and_read(FileFormat::Proto).await.err().unwrap();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].ends_with("telemetry.zst: record 1: not OTLP/JSON (written with format: proto?); otelbox import reads the file exporter's format: json"),
            "{errors:?}"
        );
    }

    #[test]
    fn import_reads_a_whole_file_zstd_stream_of_json_lines_and_names_a_cut_off_record() {
        let dir = tempfile::tempdir().unwrap();
        let lines = format!("{}\n{}\n", json::encode_traces(&traces("a")), json::encode_logs(&logs()));
        let stream = dir.path().join("native.jsonl.zst");
        std::fs::write(&stream, zstd::encode_all(lines.as_bytes(), 3).unwrap()).unwrap();
        let requests = read_requests(std::slice::from_ref(&stream)).ok().unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].origin, format!("{}:1", stream.display()));

        let compressed = zstd::bulk::compress(json::encode_logs(&logs()).to_string().as_bytes(), 3).unwrap();
        let mut record = (compressed.len() as u32).to_be_bytes().to_vec();
        record.extend_from_slice(&compressed);
        record.truncate(record.len() - 1);
        let cut = dir.path().join("cut.zst");
        std::fs::write(&cut, &record).unwrap();
        let errors = read_requests(std::slice::from_ref(&cut)).err().unwrap();
        assert_eq!(
            errors,
            [format!(
                "{}: record 1 is cut off: its length says {} byte(s), {} remain",
                cut.display(),
                compressed.len(),
                compressed.len() - 1
            )]
        );
    }
}
