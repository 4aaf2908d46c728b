//! The binary's allocator: mimalloc, for Rust's allocations and SQLite's. Declared by `main.rs`.

use libmimalloc_sys::{mi_free, mi_good_size, mi_malloc, mi_realloc, mi_usable_size};
use rusqlite::ffi;
use std::ffi::{c_int, c_void};

/// musl's malloc and glibc's are slow under many threads that free what others allocated (a request
/// is decoded on one thread, its rows freed on another): glibc's malloc and free were 31% of the
/// OTLP/JSON receiving threads' profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// SQLite's own allocations go through mimalloc too, not the C library's malloc. musl's maps and
/// unmaps memory around SQLite's larger buffers: its `munmap`s and the TLB shootdowns they cause
/// were 8% of the static binary's ingest profile. Must run before the first connection opens
/// (SQLite takes this setting only before it initialises).
pub fn route_sqlite_allocations_to_mimalloc() {
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
