//! The command line: clap definitions, one file per subcommand.

pub mod assert;
pub mod bench;
pub mod check;
pub mod child;
pub mod config;
pub mod export;
pub mod gen;
pub mod lint;
pub mod query;
pub mod remote;
pub mod report;
pub mod run;
pub mod up;
pub mod wait;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "otelbox", version, about = "One binary for the whole OpenTelemetry pipeline: OTLP in, SQLite storage, query API", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run everything: OTLP receivers (gRPC 4317, HTTP 4318), storage, and the query API (4319)
    Up(up::UpArgs),
    /// Run a command against a fresh in-memory box, then summarise and check its telemetry
    Run(run::RunArgs),
    /// Search a running box's traces, spans, logs or metrics
    Query(query::QueryArgs),
    /// Check a condition on a running box's telemetry (exit 0 pass, 1 fail, 2 error)
    Assert(assert::AssertArgs),
    /// Wait until telemetry has arrived and gone quiet
    Wait(wait::WaitArgs),
    /// Write a box's data as OTLP/JSON lines
    Export(export::ExportArgs),
    /// Send OTLP/JSON lines (or an OTLP/JSON file) into a box
    Import(export::ImportArgs),
    /// Report instrumentation problems in a box's data
    Lint(lint::LintArgs),
    /// Check a data directory's database: its WAL, SQLite's integrity check, the schema, the row counts (exit 0 ok, 1 problems, 2 error)
    Check(check::CheckArgs),
    /// Check a Collector-style config file, or print the built-in one
    Config(config::ConfigArgs),
    /// Send realistic demo or load data (LLM-agent runs, HTTP services, logs, metrics) to a box
    Gen(gen::GenArgs),
    /// scripts/bench helper: the SQLite limit for this schema
    #[command(hide = true)]
    BenchSqlite(bench::SqliteLimitArgs),
    /// scripts/bench helper: fill a store directly
    #[command(hide = true)]
    BenchLoad(bench::LoadArgs),
}

/// Whether log lines on stderr get ANSI colours: only on a terminal (not in a file, a pipe or
/// journald), and never with `NO_COLOR` set to anything but the empty string (no-color.org).
pub fn colour_logs(stderr_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Run a subcommand; the returned code is the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Up(args) => up::run(args),
        Command::Config(args) => config::run(args),
        Command::Gen(args) => gen::run(args),
        Command::Run(args) => run::run(args),
        Command::Query(args) => query::run(args),
        Command::Assert(args) => assert::run(args),
        Command::Wait(args) => wait::run(args),
        Command::Export(args) => export::run_export(args),
        Command::Import(args) => export::run_import(args),
        Command::Lint(args) => lint::run(args),
        Command::Check(args) => check::run(args),
        Command::BenchSqlite(args) => bench::sqlite_limit(args),
        Command::BenchLoad(args) => bench::load(args),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        assert!(super::colour_logs(true, None));
        assert!(!super::colour_logs(false, None), "a file, a pipe, journald");
        assert!(!super::colour_logs(true, Some("1".into())));
        assert!(super::colour_logs(true, Some("".into())), "an empty NO_COLOR does not count");
    }
}
