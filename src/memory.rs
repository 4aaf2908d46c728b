//! The process's memory gauge: resident memory sampled on an interval against a soft limit. A leaf
//! that the memory_limiter processor, the receivers' admission check and the API's figures share.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The least time between two requests to the allocator to return freed memory (`release_free_memory`).
const MIN_RELEASE_INTERVAL: Duration = Duration::from_secs(1);

/// The shared gauge every memory_limiter instance reads; one sampler task updates it.
pub struct MemoryGauge {
    refusing: AtomicBool,
    last_rss: AtomicU64,
    soft_limit: u64,
}

impl MemoryGauge {
    /// Start sampling resident memory every `check_interval`, refusing above `soft_limit` bytes.
    pub fn start(check_interval: Duration, soft_limit: u64) -> Arc<MemoryGauge> {
        let gauge = Arc::new(MemoryGauge {
            refusing: AtomicBool::new(false),
            last_rss: AtomicU64::new(0),
            soft_limit,
        });
        let weak = Arc::downgrade(&gauge);
        let interval = check_interval.max(Duration::from_millis(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut last_release: Option<Instant> = None;
            loop {
                tick.tick().await;
                let Some(gauge) = weak.upgrade() else { break };
                gauge.check(&mut last_release, resident_bytes, release_free_memory).await;
            }
        });
        gauge
    }

    /// One sample: RSS from `measure`; over the soft limit, memory the allocator holds but nothing
    /// uses must not keep data out, so `release` returns it (at most once per
    /// `MIN_RELEASE_INTERVAL`) and RSS is measured again, as the Collector's limiter runs the Go GC
    /// before refusing. `release` runs off the async workers: it walks every arena.
    async fn check(&self, last_release: &mut Option<Instant>, measure: impl Fn() -> u64, release: fn()) {
        let mut rss = measure();
        if rss > self.soft_limit && last_release.is_none_or(|t| t.elapsed() >= MIN_RELEASE_INTERVAL) {
            *last_release = Some(Instant::now());
            let _ = tokio::task::spawn_blocking(release).await;
            rss = measure();
        }
        self.observe(rss);
    }

    pub(crate) fn observe(&self, rss: u64) {
        self.last_rss.store(rss, Ordering::Relaxed);
        let was = self.refusing.swap(rss > self.soft_limit, Ordering::Relaxed);
        if was != (rss > self.soft_limit) {
            if was {
                tracing::info!(rss_mib = rss >> 20, "memory below the soft limit again; accepting data");
            } else {
                tracing::warn!(
                    rss_mib = rss >> 20,
                    soft_limit_mib = self.soft_limit >> 20,
                    "memory above the soft limit; refusing data until it drops"
                );
            }
        }
    }

    /// A gauge nothing samples, for tests that `observe` by hand.
    #[cfg(test)]
    pub(crate) fn unsampled(soft_limit: u64) -> MemoryGauge {
        MemoryGauge {
            refusing: AtomicBool::new(false),
            last_rss: AtomicU64::new(0),
            soft_limit,
        }
    }

    pub fn is_refusing(&self) -> bool {
        self.refusing.load(Ordering::Relaxed)
    }
}

/// Hands memory freed but kept by the allocators back to the OS, so that after a burst of large
/// requests an RSS-based limiter does not go on refusing while little is in use (`scripts/bench
/// memory`). The binary's allocator, mimalloc, returns freed pages itself after a short delay;
/// `mi_collect` returns those waiting now. glibc's malloc, which C code calling malloc directly
/// still uses (and the tests, which run without mimalloc), keeps the freed pages of its per-thread
/// arenas mapped until `malloc_trim`.
pub fn release_free_memory() {
    // SAFETY: mi_collect takes no pointers; without mimalloc as the allocator it has nothing to do.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only works on glibc's own allocator state.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Resident set size of this process in bytes (Linux /proc; 0 where unavailable, which never refuses).
pub fn resident_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// The memory this process may use in bytes, as the Collector's memory_limiter reads it for its
/// percentages: the cgroup's limit (v2 `memory.max`, v1 `memory.limit_in_bytes`) when one is set, else the
/// machine's total (`MemTotal`). `None` where neither can be read.
pub fn total_bytes() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|meminfo| {
        let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    let cgroup = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok()?.trim().parse::<u64>().ok());
    match (cgroup, total) {
        // A v1 cgroup without a limit reports a huge number: the machine's total is the real bound.
        (Some(limit), Some(total)) => Some(limit.min(total)),
        (limit, total) => limit.or(total),
    }
}

/// The gauges of a topology, one per memory_limiter id: every pipeline's instance of one limiter
/// reads the same gauge, and the receivers check the first.
#[derive(Default)]
pub struct MemoryGauges(Mutex<BTreeMap<String, Arc<MemoryGauge>>>);

impl MemoryGauges {
    /// The gauge of limiter `id`, started on first use.
    pub fn get_or_start(&self, id: &str, check_interval: Duration, soft_limit: u64) -> Arc<MemoryGauge> {
        let mut gauges = self.0.lock().unwrap_or_else(|e| e.into_inner());
        gauges
            .entry(id.to_string())
            .or_insert_with(|| MemoryGauge::start(check_interval, soft_limit))
            .clone()
    }

    /// The first limiter's gauge (by id), which the receivers check before decoding.
    pub fn first(&self) -> Option<Arc<MemoryGauge>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).values().next().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn over_the_soft_limit_freed_memory_is_returned_before_refusing_at_most_once_a_second() {
        static RELEASES: AtomicU64 = AtomicU64::new(0);
        fn release() {
            RELEASES.fetch_add(1, Ordering::SeqCst);
        }
        let gauge = MemoryGauge::unsampled(100);
        // RSS reads 200 until a release, 50 after it: the release keeps data coming.
        let rss = || if RELEASES.load(Ordering::SeqCst) == 0 { 200 } else { 50 };
        let mut last_release = None;
        gauge.check(&mut last_release, rss, release).await;
        assert_eq!(RELEASES.load(Ordering::SeqCst), 1);
        assert!(!gauge.is_refusing());
        // Over again within the second: no second release, so it refuses.
        gauge.check(&mut last_release, || 300, release).await;
        assert_eq!(RELEASES.load(Ordering::SeqCst), 1);
        assert!(gauge.is_refusing());
        // Under the soft limit nothing is released.
        last_release = None;
        gauge.check(&mut last_release, || 80, release).await;
        assert_eq!(RELEASES.load(Ordering::SeqCst), 1);
        assert!(!gauge.is_refusing());
    }

    #[test]
    fn reads_this_process_rss() {
        assert!(resident_bytes() > 1024 * 1024);
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn freed_memory_kept_by_the_allocator_goes_back_to_the_os() {
        // Many mid-sized blocks from another thread (its own arena, as a decoder's), all freed but
        // one near the end, which keeps the arena from shrinking on its own.
        let (before, after) = std::thread::spawn(|| {
            let mut blocks: Vec<Vec<u8>> = (0..4096).map(|i| vec![i as u8; 64 * 1024]).collect();
            let keep = blocks.pop();
            drop(blocks);
            let before = resident_bytes();
            release_free_memory();
            let after = resident_bytes();
            drop(keep);
            (before, after)
        })
        .join()
        .unwrap();
        assert!(
            before > after + 128 * 1024 * 1024,
            "RSS {} MiB before, {} MiB after",
            before >> 20,
            after >> 20
        );
    }
}
