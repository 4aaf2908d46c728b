//! The command line: clap definitions, one file per subcommand.

pub mod gen;
pub mod up;

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
    /// Send realistic demo or load data (LLM-agent runs, HTTP services, logs, metrics) to a box
    Gen(gen::GenArgs),
}

/// Run a subcommand; the returned code is the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Up(args) => up::run(args),
        Command::Gen(args) => gen::run(args),
    }
}
