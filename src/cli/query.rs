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
    let now = crate::pdata::now_ns() as i64;
    let time = |unix_nano: i64| compact_time(unix_nano, now, crate::calendar::local_offset_seconds);
    let rows: Vec<Vec<String>> = match what {
        What::Traces => {
            let traces: Vec<wire::TraceSummary> = serde_json::from_value(items.to_vec().into())?;
            std::iter::once(vec![
                "START".into(),
                "TRACE".into(),
                "ROOT".into(),
                "DURATION".into(),
                "SPANS".into(),
                "ERRORS".into(),
            ])
            .chain(traces.iter().map(|t| {
                vec![
                    time(t.start_unix_nano),
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
                "START".into(),
                "TRACE".into(),
                "SPAN".into(),
                "SERVICE".into(),
                "NAME".into(),
                "DURATION".into(),
                "STATUS".into(),
            ])
            .chain(spans.iter().map(|s| {
                vec![
                    time(s.start_unix_nano),
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
            std::iter::once(vec![
                "TIME".into(),
                "SEVERITY".into(),
                "SERVICE".into(),
                "BODY".into(),
                "TRACE".into(),
            ])
            .chain(logs.iter().map(|l| {
                let body = match &l.body {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                vec![
                    time(l.time_unix_nano),
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

/// A time for a table, in the local time zone (`offset` gives its offset from UTC in seconds at a
/// Unix time): `14:03:27.512` on the day of `now`, `2026-12-03 14:03:27` on another day.
pub fn compact_time(unix_nano: i64, now_unix_nano: i64, offset: impl Fn(i64) -> i64) -> String {
    if unix_nano <= 0 {
        return "-".into();
    }
    let seconds = unix_nano.div_euclid(1_000_000_000);
    let millis = unix_nano.rem_euclid(1_000_000_000) / 1_000_000;
    let local = seconds + offset(seconds);
    let now_seconds = now_unix_nano.div_euclid(1_000_000_000);
    let today = (now_seconds + offset(now_seconds)).div_euclid(86_400);
    let (day, of_day) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let clock = format!("{:02}:{:02}:{:02}", of_day / 3600, of_day % 3600 / 60, of_day % 60);
    if day == today {
        format!("{clock}.{millis:03}")
    } else {
        let (year, month, date) = crate::calendar::civil_from_days(day);
        format!("{year}-{month:02}-{date:02} {clock}")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_local_and_compact() {
        // 2026-12-03 23:30:05.250 UTC; the zone is UTC+1, so it is 00:30 on the 4th there.
        let t = 1_796_340_605_250_000_000i64;
        let plus_one = |_| 3600;
        assert_eq!(
            compact_time(t, t + 60_000_000_000, plus_one),
            "00:30:05.250",
            "the same local day: the clock only"
        );
        assert_eq!(
            compact_time(t, t + 86_400_000_000_000, plus_one),
            "2026-12-04 00:30:05",
            "another day: the date too"
        );
        assert_eq!(compact_time(t, t, |_| 0), "23:30:05.250");
        assert_eq!(compact_time(0, t, plus_one), "-");
        assert_eq!(crate::calendar::civil_from_days(0), (1970, 1, 1));
        assert_eq!(crate::calendar::civil_from_days(20_790), (2026, 12, 3));
    }
}
