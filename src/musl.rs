//! The static (musl) binary's memmove, where musl's own is slow for a database server: it copies
//! overlapping memory upwards in blocks. Declared by `main.rs` for `target_env = "musl"` only.

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
