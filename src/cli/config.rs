//! `otelbox config validate FILE` (every error with its path; exit 2 when there are any) and
//! `otelbox config default` (the built-in configuration, identical to running with no file).

use crate::config::{Config, BUILTIN_YAML};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Check a config file: print every error with its path (exit 2), or the pipelines it defines
    Validate {
        /// The YAML file (environment references are substituted first)
        file: PathBuf,
    },
    /// Print the built-in configuration (what runs without a config file)
    Default,
}

pub fn run(args: ConfigArgs) -> anyhow::Result<i32> {
    match args.action {
        ConfigAction::Default => {
            print!("{BUILTIN_YAML}");
            Ok(0)
        }
        ConfigAction::Validate { file } => match Config::load(&file, &crate::components::REGISTRY) {
            Ok(config) => {
                println!("{}: valid", file.display());
                for line in config.describe() {
                    println!("  {line}");
                }
                Ok(0)
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                Ok(2)
            }
        },
    }
}
