//! `otelbox wait`: block until telemetry has arrived (counts), its traces are complete (no stored
//! span waits for a parent that has not arrived) and it has gone quiet (idle), so tests do not
//! assert on half-arrived traces.

use crate::api::wire;
use crate::assertions::Subject;
use crate::client::{ApiClient, ClientError, DEFAULT_SERVER};
use clap::Args;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  otelbox wait --idle 2s\n  otelbox wait --traces 1 --where 'name = \"checkout\"' --complete --timeout 30s\n  otelbox wait --traces 1 --where 'name = \"checkout\"' --timeout 30s\n  otelbox wait --spans 12 --where 'trace_id = 4bf92f3577b34da6a3ce929d0e0e4736' --idle 1s"
)]
pub struct WaitArgs {
    /// Wait for at least N matching spans
    #[arg(long, conflicts_with_all = ["traces", "logs"])]
    pub spans: Option<i64>,
    /// Wait for at least N traces with a matching span
    #[arg(long, conflicts_with = "logs")]
    pub traces: Option<i64>,
    /// Wait for at least N matching log records
    #[arg(long)]
    pub logs: Option<i64>,
    /// Only count what matches this filter (idle then watches only these items too)
    #[arg(long = "where", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Then wait until the traces (with a span matching --where) are complete: their root span
    /// arrived and no stored span names a parent that is missing; a time-out lists those that are not
    #[arg(long)]
    pub complete: bool,
    /// Then wait until nothing new has arrived for this long (e.g. 2s)
    #[arg(long, value_parser = crate::units::parse_duration)]
    pub idle: Option<Duration>,
    /// Give up after this long (exit 1)
    #[arg(long, default_value = "60s", value_parser = crate::units::parse_duration)]
    pub timeout: Duration,
    #[arg(long, env = "OTELBOX_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// The CA certificates (PEM) to trust for an https:// server (default: the system's)
    #[arg(long, env = "OTELBOX_CACERT", value_name = "FILE")]
    pub cacert: Option<std::path::PathBuf>,
}

/// What `wait` and `run` watch for activity: everything stored, or the items matching a filter.
#[derive(Clone, Debug)]
pub enum Watch {
    Everything,
    Matching { subject: Subject, filter: String },
}

/// A number that grows whenever watched data arrives.
async fn activity(client: &ApiClient, watch: &Watch) -> Result<i64, ClientError> {
    match watch {
        Watch::Everything => {
            let s: wire::StatusResponse = client.get(wire::routes::STATUS, &()).await?;
            Ok((s.ingest.accepted.spans + s.ingest.accepted.logs + s.ingest.accepted.metric_points) as i64)
        }
        Watch::Matching { subject, filter } => {
            let c: wire::CountResponse = client
                .get(
                    wire::routes::COUNT,
                    &wire::CountParams {
                        signal: Some(subject.as_str().to_string()),
                        q: Some(filter.clone()),
                        ..Default::default()
                    },
                )
                .await?;
            Ok(c.count)
        }
    }
}

const POLL: Duration = Duration::from_millis(100);

/// Wait until the watched activity has not changed for `idle`; false if `deadline` came first.
pub async fn wait_idle(client: &ApiClient, watch: &Watch, idle: Duration, deadline: Instant) -> Result<bool, ClientError> {
    let mut last = activity(client, watch).await?;
    let mut quiet_since = Instant::now();
    loop {
        if quiet_since.elapsed() >= idle {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(POLL).await;
        let now = activity(client, watch).await?;
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
}

/// Incomplete traces listed at most when a wait for complete traces times out.
const LISTED_INCOMPLETE: usize = 10;

/// Wait until no trace (with a span matching `filter`) is incomplete; None once none is, else what
/// was still incomplete when `deadline` came.
pub async fn wait_complete(
    client: &ApiClient,
    filter: Option<&str>,
    deadline: Instant,
) -> Result<Option<wire::IncompleteTracesResponse>, ClientError> {
    let params = wire::IncompleteTracesParams {
        q: filter.map(str::to_string),
        limit: Some(LISTED_INCOMPLETE),
        ..Default::default()
    };
    loop {
        let found: wire::IncompleteTracesResponse = client.get(wire::routes::TRACES_INCOMPLETE, &params).await?;
        if found.incomplete == 0 {
            return Ok(None);
        }
        if Instant::now() >= deadline {
            return Ok(Some(found));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The incomplete traces, one line per missing parent: which spans wait on it.
pub fn describe_incomplete(found: &wire::IncompleteTracesResponse) -> String {
    let mut out = format!("{} trace(s) still incomplete", found.incomplete);
    if found.incomplete > found.traces.len() as i64 {
        out.push_str(&format!(" (the oldest {} listed)", found.traces.len()));
    }
    out.push(':');
    for t in &found.traces {
        out.push_str(&format!(
            "\n  trace {}: {}",
            t.trace_id,
            if t.has_root { "its root arrived" } else { "no root span yet" }
        ));
        for m in &t.missing_parents {
            let waiting: Vec<String> = m
                .waiting
                .iter()
                .map(|w| format!("{} ({}, span {})", w.name, w.service, w.span_id))
                .collect();
            let more = m.children - m.waiting.len() as i64;
            out.push_str(&format!(
                "\n    parent {} missing; waiting on it: {}{}",
                m.parent_span_id,
                waiting.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            ));
        }
    }
    out
}

pub fn run(args: WaitArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match runtime.block_on(wait(&args)) {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("otelbox wait: {e}");
            Ok(2)
        }
    }
}

async fn wait(args: &WaitArgs) -> Result<i32, ClientError> {
    let client = match super::remote::client_or_exit("wait", &args.server, args.cacert.as_deref()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let deadline = Instant::now() + args.timeout;
    let (subject, want) = match (args.spans, args.traces, args.logs) {
        (Some(n), _, _) => (Subject::Spans, Some(n)),
        (_, Some(n), _) => (Subject::Traces, Some(n)),
        (_, _, Some(n)) => (Subject::Logs, Some(n)),
        _ => (Subject::Spans, None),
    };
    if let Err(e) = crate::query::filter::parse(args.filter.as_deref().unwrap_or("")) {
        eprintln!("otelbox wait: invalid filter: {e}");
        return Ok(2);
    }
    let watch = match (&args.filter, want) {
        (None, None) => Watch::Everything,
        (filter, _) => Watch::Matching {
            subject,
            filter: filter.clone().unwrap_or_default(),
        },
    };
    if let (Some(want), Watch::Matching { .. }) = (want, &watch) {
        loop {
            let have = activity(&client, &watch).await?;
            if have >= want {
                break;
            }
            if Instant::now() >= deadline {
                eprintln!(
                    "otelbox wait: timed out after {:?} with {have} of {want} {}",
                    args.timeout,
                    subject.as_str()
                );
                return Ok(1);
            }
            tokio::time::sleep(POLL).await;
        }
    }
    if args.complete {
        // A log filter does not pick traces: then every trace is watched.
        let traces_of = args.filter.as_deref().filter(|_| subject != Subject::Logs);
        if let Some(left) = wait_complete(&client, traces_of, deadline).await? {
            eprintln!("otelbox wait: timed out after {:?}: {}", args.timeout, describe_incomplete(&left));
            return Ok(1);
        }
    }
    if let Some(idle) = args.idle {
        if !wait_idle(&client, &watch, idle, deadline).await? {
            eprintln!(
                "otelbox wait: timed out after {:?}: data kept arriving, never idle for {idle:?}",
                args.timeout
            );
            return Ok(1);
        }
    }
    Ok(0)
}
