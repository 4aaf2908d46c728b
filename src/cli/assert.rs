//! `otelbox assert`: fail a build on a telemetry condition (exit 0 pass, 1 fail, 2 usage or
//! connection error).

use crate::assertions::{self, eval, junit, Bound, Subject};
use crate::client::DEFAULT_SERVER;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  otelbox assert 'name = \"checkout\" and status != error'\n  otelbox assert 'status = error' --max 0\n  otelbox assert 'severity >= error' --signal logs --max 0\n  otelbox assert 'name = \"agent.run\" -> name =~ \"^tool\\.\"' --wait 30s --junit report.xml\n  otelbox assert 'count(name = \"retry\") <= 3'\n  otelbox assert 'name = a then name = b'\n  otelbox assert 'no orphans'\n  otelbox assert 'max_duration(name = \"checkout\") <= 2s'\n  otelbox assert 'metric(http.server.request.duration).p95 < 500ms where http.route = \"/checkout\"'\n  otelbox assert 'metric(orders.created).sum >= 3' --since 5m"
)]
pub struct AssertArgs {
    /// What must hold: a filter expression (default: at least one match), or
    /// `count(EXPR) OP N`, `max_duration(EXPR) <= 2s`, `A -> B` (B descends from A),
    /// `A then B` (in this order), `no orphans`, `metric(NAME).VALUE OP LIMIT [where EXPR]`
    /// (VALUE: last, sum, rate, avg, min, max, count, p50, p90, p95, p99), `metric(NAME) exists`
    pub expr: String,
    /// What the expression counts
    #[arg(long, default_value = "spans", value_parser = Subject::parse)]
    pub signal: Subject,
    /// Exactly N must match
    #[arg(long, conflicts_with_all = ["min", "max"])]
    pub count: Option<i64>,
    /// At least N must match (the default is --min 1)
    #[arg(long)]
    pub min: Option<i64>,
    /// At most N may match
    #[arg(long)]
    pub max: Option<i64>,
    /// Poll until it holds or this time is up (e.g. 30s)
    #[arg(long, value_parser = crate::units::parse_duration)]
    pub wait: Option<Duration>,
    /// Write a JUnit XML report here
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
    /// Look only at telemetry of the last DURATION (e.g. 5m: one test's worth in a long-lived box)
    #[arg(long, value_name = "DURATION", value_parser = parse_since)]
    pub since: Option<String>,
    #[arg(long, env = "OTELBOX_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// The CA certificates (PEM) to trust for an https:// server (default: the system's)
    #[arg(long, env = "OTELBOX_CACERT", value_name = "FILE")]
    pub cacert: Option<std::path::PathBuf>,
}

pub fn bound_from(count: Option<i64>, min: Option<i64>, max: Option<i64>) -> Bound {
    match (count, min, max) {
        (Some(n), _, _) => Bound::Exactly(n),
        (None, Some(a), Some(b)) => Bound::Between(a, b),
        (None, None, Some(b)) => Bound::AtMost(b),
        (None, Some(a), None) => Bound::AtLeast(a),
        (None, None, None) => Bound::AtLeast(1),
    }
}

pub fn run(args: AssertArgs) -> anyhow::Result<i32> {
    let assertion = match assertions::parse_compact(&args.expr, args.signal, bound_from(args.count, args.min, args.max)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("otelbox assert: {e}");
            return Ok(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Inside the runtime: an https:// client's connection pool belongs to it.
    let entered = runtime.enter();
    let client = match super::remote::client_or_exit("assert", &args.server, args.cacert.as_deref()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    drop(entered);
    let client = match &args.since {
        Some(since) => client.scoped_to(since),
        None => client,
    };
    let outcome = match runtime.block_on(eval::evaluate_with_wait(&client, &assertion, args.wait.unwrap_or_default())) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("otelbox assert: {e}");
            return Ok(2);
        }
    };
    report(std::slice::from_ref(&outcome));
    if let Some(path) = &args.junit {
        std::fs::write(path, junit::render("assert", std::slice::from_ref(&outcome)))?;
    }
    Ok(if outcome.passed { 0 } else { 1 })
}

/// Print outcomes as PASS/FAIL lines with their details.
pub fn report(outcomes: &[eval::Outcome]) {
    for o in outcomes {
        let mark = if o.passed { "PASS" } else { "FAIL" };
        eprintln!("{mark}  {}\n      {}", o.name, o.detail.replace('\n', "\n  "));
    }
}

/// `--since`: a duration, kept as the text the API reads.
pub(super) fn parse_since(text: &str) -> Result<String, String> {
    crate::units::parse_duration(text).map(|_| text.trim().to_string())
}
