//! `otelbox export` / `otelbox import`: OTLP/JSON lines (one `Export*ServiceRequest` per line, the
//! Collector file exporter's format) out of and into a box. Round trips are lossless.

use crate::client::{ApiClient, DEFAULT_SERVER};
use crate::pdata::{json, Signal};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  otelbox export -o telemetry.jsonl\n  otelbox export --signal traces --where 'service = checkout' > checkout.jsonl"
)]
pub struct ExportArgs {
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
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  otelbox import telemetry.jsonl\n  otelbox import trace-4bf92f.json --endpoint http://127.0.0.1:4318")]
pub struct ImportArgs {
    /// OTLP/JSON lines files, or files holding one OTLP/JSON export request
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
    let signals = match signals(&args.signal) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("otelbox export: {e}");
            return Ok(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = ApiClient::new(&args.server);
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
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{}: {e}", path.display()));
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
