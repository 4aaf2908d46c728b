//! `otelbox check`: a full, read-only integrity check of a data directory's database, as a report.

use crate::store::check::check_database;
use crate::store::db_file;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(
    after_help = "Checks the WAL (committed transactions SQLite would drop), SQLite's integrity check, the schema version and \
                  the live row counts. Only reads, so it is safe on a running box; it takes about as long as reading the \
                  whole database.\n\nExit status: 0 no problems, 1 problems found, 2 the check could not run.\n\n\
                  Examples:\n  otelbox check\n  otelbox check /var/lib/otelbox"
)]
pub struct CheckArgs {
    /// Data directory (default: the one `otelbox up` uses, e.g. ~/.local/share/otelbox); a database file works too
    #[arg(env = "OTELBOX_DATA_DIR", value_name = "DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

pub fn run(args: CheckArgs) -> anyhow::Result<i32> {
    let path = match args.data_dir {
        Some(path) => path,
        None => match super::up::default_data_dir() {
            Ok(dir) => dir,
            Err(_) => {
                eprintln!("otelbox check: cannot find a home directory for the default data directory; give DATA_DIR");
                return Ok(2);
            }
        },
    };
    let db = if path.is_file() { path } else { db_file(&path) };
    match check_database(&db) {
        Ok(report) => {
            print!("{report}");
            Ok(if report.is_ok() { 0 } else { 1 })
        }
        Err(err) => {
            eprintln!("otelbox check: {err}");
            Ok(2)
        }
    }
}
