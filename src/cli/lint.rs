//! `otelbox lint`: instrumentation problems found in a box's stored data.

use crate::api::wire;
use crate::client::DEFAULT_SERVER;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  otelbox lint\n  otelbox lint --strict   # warnings fail too\n  otelbox lint --since 5m   # only spans of the last five minutes\n  otelbox lint --server https://otelbox.example:4319 --cacert ca.pem"
)]
pub struct LintArgs {
    /// Exit 1 on warnings too, not only on errors
    #[arg(long)]
    pub strict: bool,
    /// Lint only spans starting in the last DURATION (e.g. 5m: one test's worth in a long-lived box)
    #[arg(long, value_name = "DURATION", value_parser = super::assert::parse_since)]
    pub since: Option<String>,
    #[arg(long, env = "OTELBOX_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// The CA certificates (PEM) to trust for an https:// server (default: the system's)
    #[arg(long, env = "OTELBOX_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
}

/// Human-readable findings, one block each.
pub fn format_findings(findings: &[wire::LintFinding]) -> String {
    if findings.is_empty() {
        return "lint: no instrumentation problems found\n".into();
    }
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!("lint {} [{}] {}: {}\n", f.severity, f.rule, f.count, f.message));
        for e in &f.examples {
            if e.trace_id.is_empty() {
                out.push_str(&format!("    e.g. {} {}\n", e.service, e.name));
            } else {
                out.push_str(&format!(
                    "    e.g. {} {} (trace {}, span {})\n",
                    e.service, e.name, e.trace_id, e.span_id
                ));
            }
        }
    }
    out
}

pub fn run(args: LintArgs) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Inside the runtime: an https:// client's connection pool belongs to it.
    let entered = runtime.enter();
    let client = match super::remote::client_or_exit("lint", &args.server, args.cacert.as_deref()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    drop(entered);
    let params = wire::LintParams {
        window: wire::WindowParams {
            since: args.since.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    let lint: wire::LintResponse = match runtime.block_on(client.get(crate::api::wire::routes::LINT, &params)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("otelbox lint: {e}");
            return Ok(2);
        }
    };
    print!("{}", format_findings(&lint.findings));
    let failing = lint
        .findings
        .iter()
        .any(|f| args.strict || f.severity == crate::api::wire::LintSeverity::Error);
    Ok(if failing { 1 } else { 0 })
}
