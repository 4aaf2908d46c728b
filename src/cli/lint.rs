//! `otelbox lint`: instrumentation problems found in a box's stored data.

use crate::api::wire;
use crate::client::{ApiClient, DEFAULT_SERVER};
use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  otelbox lint\n  otelbox lint --strict   # warnings fail too")]
pub struct LintArgs {
    /// Exit 1 on warnings too, not only on errors
    #[arg(long)]
    pub strict: bool,
    #[arg(long, env = "OTELBOX_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
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
    let client = ApiClient::new(&args.server);
    let lint: wire::LintResponse = match runtime.block_on(client.get(crate::api::wire::routes::LINT, &())) {
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
