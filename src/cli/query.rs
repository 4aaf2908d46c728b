//! `otelbox query`: search a box's traces, spans, logs or metrics from the terminal.

use crate::api::wire;
use crate::client::DEFAULT_SERVER;
use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum What {
    Traces,
    Spans,
    Logs,
    Metrics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  otelbox query traces --where 'status = error' --since 15m\n  otelbox query spans --where 'run_id = \"R123\"' --format json\n  otelbox query logs --where 'severity >= warn and body ~ \"timeout\"'"
)]
pub struct QueryArgs {
    #[arg(value_enum)]
    pub what: What,
    /// A filter expression (see the README's filter language)
    #[arg(long = "where", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Only data from this far back (e.g. 15m, 2h)
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// The box's UI/API address
    #[arg(long, env = "OTELBOX_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// The CA certificates (PEM) to trust for an https:// server (default: the system's)
    #[arg(long, env = "OTELBOX_CACERT", value_name = "FILE")]
    pub cacert: Option<std::path::PathBuf>,
}

pub fn run(args: QueryArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(query(args))
}

async fn query(args: QueryArgs) -> anyhow::Result<i32> {
    let client = match super::remote::client_or_exit("query", &args.server, args.cacert.as_deref()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    // One parameter set serves the four lists: each endpoint reads the keys it knows.
    let params = wire::LogsParams {
        q: args.filter.clone(),
        limit: Some(args.limit),
        window: wire::WindowParams {
            since: args.since.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    let (path, key) = match args.what {
        What::Traces => (wire::routes::TRACES, "traces"),
        What::Spans => (wire::routes::SPANS, "spans"),
        What::Logs => (wire::routes::LOGS, "logs"),
        What::Metrics => (wire::routes::METRICS, "metrics"),
    };
    let body: serde_json::Value = match client.get(path, &params).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("otelbox query: {e}");
            return Ok(2);
        }
    };
    let items = body[key].as_array().cloned().unwrap_or_default();
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&body)?),
        Format::Jsonl => {
            for item in &items {
                println!("{item}");
            }
        }
        Format::Table => print_table(args.what, &items)?,
    }
    Ok(0)
}

fn print_table(what: What, items: &[serde_json::Value]) -> anyhow::Result<()> {
    use crate::assertions::eval::fmt_ns;
    let rows: Vec<Vec<String>> = match what {
        What::Traces => {
            let traces: Vec<wire::TraceSummary> = serde_json::from_value(items.to_vec().into())?;
            std::iter::once(vec![
                "TRACE".into(),
                "ROOT".into(),
                "DURATION".into(),
                "SPANS".into(),
                "ERRORS".into(),
            ])
            .chain(traces.iter().map(|t| {
                vec![
                    t.trace_id.clone(),
                    format!("{}: {}", t.root_service, t.root_name),
                    fmt_ns(t.duration_ns),
                    t.span_count.to_string(),
                    t.error_count.to_string(),
                ]
            }))
            .collect()
        }
        What::Spans => {
            let spans: Vec<wire::Span> = serde_json::from_value(items.to_vec().into())?;
            std::iter::once(vec![
                "TRACE".into(),
                "SPAN".into(),
                "SERVICE".into(),
                "NAME".into(),
                "DURATION".into(),
                "STATUS".into(),
            ])
            .chain(spans.iter().map(|s| {
                vec![
                    s.trace_id.clone(),
                    s.span_id.clone(),
                    s.service.clone(),
                    s.name.clone(),
                    fmt_ns(s.duration_ns),
                    s.status.code.to_string(),
                ]
            }))
            .collect()
        }
        What::Logs => {
            let logs: Vec<wire::LogRecord> = serde_json::from_value(items.to_vec().into())?;
            std::iter::once(vec!["SEVERITY".into(), "SERVICE".into(), "BODY".into(), "TRACE".into()])
                .chain(logs.iter().map(|l| {
                    let body = match &l.body {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    vec![
                        l.severity_text.clone(),
                        l.service.clone(),
                        body.chars().take(100).collect(),
                        l.trace_id.clone(),
                    ]
                }))
                .collect()
        }
        What::Metrics => {
            let metrics: Vec<wire::Metric> = serde_json::from_value(items.to_vec().into())?;
            std::iter::once(vec![
                "NAME".into(),
                "TYPE".into(),
                "UNIT".into(),
                "SERIES".into(),
                "DESCRIPTION".into(),
            ])
            .chain(metrics.iter().map(|m| {
                vec![
                    m.name.clone(),
                    m.kind.to_string(),
                    m.unit.clone(),
                    m.series.to_string(),
                    m.description.clone(),
                ]
            }))
            .collect()
        }
    };
    print!("{}", render_table(&rows));
    if rows.len() == 1 {
        println!("(nothing matched)");
    }
    Ok(())
}

/// Left-aligned columns separated by two spaces; the first row is the header.
pub fn render_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r.get(c).map_or(0, |v| v.chars().count())).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{v:<width$}", width = widths[i]))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
