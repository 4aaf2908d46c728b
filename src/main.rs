//! The otelbox binary: parse the command line, hand over to `cli`, map errors to exit codes.

use clap::Parser;
use std::io::IsTerminal;

/// The static musl build's allocator (musl's own is slow under many threads; see Cargo.toml).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// SQLite's own allocations in the static build go through mimalloc too, not musl's malloc, which
/// maps and unmaps memory around SQLite's larger buffers: its `munmap`s and the TLB shootdowns they
/// cause were 8% of the ingest profile. `install` must run before the first connection opens (the
/// configuration is only taken before SQLite initialises).
#[cfg(target_env = "musl")]
mod sqlite_allocator {
    use libmimalloc_sys::{mi_free, mi_good_size, mi_malloc, mi_realloc, mi_usable_size};
    use rusqlite::ffi;
    use std::ffi::{c_int, c_void};

    unsafe extern "C" fn malloc(size: c_int) -> *mut c_void {
        unsafe { mi_malloc(size.max(0) as usize) }
    }
    unsafe extern "C" fn free(p: *mut c_void) {
        unsafe { mi_free(p) }
    }
    unsafe extern "C" fn realloc(p: *mut c_void, size: c_int) -> *mut c_void {
        unsafe { mi_realloc(p, size.max(0) as usize) }
    }
    unsafe extern "C" fn size(p: *mut c_void) -> c_int {
        unsafe { mi_usable_size(p) }.min(c_int::MAX as usize) as c_int
    }
    unsafe extern "C" fn roundup(size: c_int) -> c_int {
        unsafe { mi_good_size(size.max(0) as usize) }.min(c_int::MAX as usize) as c_int
    }
    unsafe extern "C" fn init(_: *mut c_void) -> c_int {
        ffi::SQLITE_OK
    }
    unsafe extern "C" fn shutdown(_: *mut c_void) {}

    pub fn install() {
        // SQLite copies the methods before sqlite3_config returns.
        let methods = ffi::sqlite3_mem_methods {
            xMalloc: Some(malloc),
            xFree: Some(free),
            xRealloc: Some(realloc),
            xSize: Some(size),
            xRoundup: Some(roundup),
            xInit: Some(init),
            xShutdown: Some(shutdown),
            pAppData: std::ptr::null_mut(),
        };
        let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &methods as *const ffi::sqlite3_mem_methods) };
        if rc != ffi::SQLITE_OK {
            eprintln!("otelbox: SQLite keeps its own allocator (sqlite3_config answered {rc})");
        }
    }
}

fn main() {
    #[cfg(target_env = "musl")]
    sqlite_allocator::install();
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
