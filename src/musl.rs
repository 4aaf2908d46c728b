//! The static (musl) binary's runtime, where musl's own is slow for a database server: mimalloc as
//! the allocator of Rust and of SQLite, and a memmove that copies overlapping memory upwards in
//! blocks. Declared by `main.rs` for `target_env = "musl"` only; glibc builds keep glibc's.

use libmimalloc_sys::{mi_free, mi_good_size, mi_malloc, mi_realloc, mi_usable_size};
use rusqlite::ffi;
use std::ffi::{c_int, c_void};

/// musl's malloc is slow under many threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// SQLite's own allocations go through mimalloc too, not musl's malloc, which maps and unmaps
/// memory around SQLite's larger buffers: its `munmap`s and the TLB shootdowns they cause were 8%
/// of the ingest profile. Must run before the first connection opens (SQLite takes this setting
/// only before it initialises).
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

unsafe extern "C" {
    fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
}

/// Bytes copied per step of an upward overlapping move.
const MOVE_BLOCK: usize = 4096;

/// memmove, replacing musl's: musl copies overlapping memory upwards (destination above the source)
/// one byte at a time backwards (`std; rep movsb`, which CPUs run in microcode), and SQLite does
/// exactly that to open a slot in a page's cell array on every insert (8% of the ingest profile).
/// Here such a move goes from the end down in blocks through a buffer on the stack: two forward
/// `memcpy`s per block. A block written to `dst + start` lies above every source byte not yet read
/// (those are below `src + start`, and `dst > src`), so nothing is overwritten before it is read.
/// Every other case is a forward copy, which musl's `memcpy` does safely, as musl's own memmove
/// relies on.
///
/// # Safety
/// The C contract: `src` readable and `dst` writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize).wrapping_sub(src as usize) >= n {
        return unsafe { memcpy(dst, src, n) };
    }
    let mut block = std::mem::MaybeUninit::<[u8; MOVE_BLOCK]>::uninit();
    let buffer = block.as_mut_ptr().cast::<u8>();
    let mut end = n;
    while end > 0 {
        let len = end.min(MOVE_BLOCK);
        let start = end - len;
        unsafe {
            memcpy(buffer, src.add(start), len);
            memcpy(dst.add(start), buffer, len);
        }
        end = start;
    }
    dst
}
