//! The otelbox binary: parse the command line, hand over to `cli`, map errors to exit codes.
// The static build defines memmove (musl.rs): no turning its copies into calls to itself.
#![cfg_attr(target_env = "musl", no_builtins)]

use clap::Parser;
use std::io::IsTerminal;

// mimalloc for Rust and SQLite.
mod allocator;
// The static (musl) build's memmove.
#[cfg(target_env = "musl")]
mod musl;

fn main() {
    allocator::route_sqlite_allocations_to_mimalloc();
    let cli = otelbox::cli::Cli::parse();
    // A server says what it is doing; client commands (run, assert, ...) keep stderr for results.
    let default_level = if matches!(cli.command, otelbox::cli::Command::Up(_)) {
        "info"
    } else {
        "warn"
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("OTELBOX_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(otelbox::cli::colour_logs(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ))
        .init();
    match otelbox::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("otelbox: {err:#}");
            // A refused config is a usage error (2), like the Collector's; anything else is 1.
            let refused = err.downcast_ref::<otelbox::cli::up::ConfigRefused>().is_some();
            std::process::exit(if refused { 2 } else { 1 });
        }
    }
}
