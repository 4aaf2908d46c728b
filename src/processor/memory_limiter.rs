//! The memory_limiter processor: refuses new data (retryably) while the process's resident memory
//! is above the soft limit (limit - spike), so overload turns into client retries, never an OOM.

use crate::pdata::SignalData;
use crate::pipeline::{Consumer, Envelope, PipelineError, SharedConsumer};
use futures::future::BoxFuture;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The least time between two requests to the allocator to return freed memory (`release_free_memory`).
const MIN_RELEASE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, PartialEq)]
pub struct MemoryLimiterConfig {
    pub check_interval: Duration,
    pub limit_mib: u64,
    /// Headroom for bursts between checks; the soft limit is `limit_mib - spike_limit_mib`.
    pub spike_limit_mib: u64,
}

impl Default for MemoryLimiterConfig {
    /// The built-in pipeline's limits: well above otelbox's own working set, well below a laptop's RAM.
    fn default() -> Self {
        // Checking RSS costs one small /proc read: every 100 ms reacts before a burst overshoots.
        MemoryLimiterConfig {
            check_interval: Duration::from_millis(100),
            limit_mib: 512,
            spike_limit_mib: 102,
        }
    }
}

/// The shared gauge every memory_limiter instance reads; one sampler task updates it.
pub struct MemoryGauge {
    refusing: AtomicBool,
    last_rss: AtomicU64,
    soft_limit: u64,
}

impl MemoryGauge {
    /// Start sampling resident memory every `check_interval`.
    pub fn start(config: &MemoryLimiterConfig) -> Arc<MemoryGauge> {
        let soft_limit = config.limit_mib.saturating_sub(config.spike_limit_mib) * 1024 * 1024;
        let gauge = Arc::new(MemoryGauge {
            refusing: AtomicBool::new(false),
            last_rss: AtomicU64::new(0),
            soft_limit,
        });
        let weak = Arc::downgrade(&gauge);
        let interval = config.check_interval.max(Duration::from_millis(10));
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

    fn observe(&self, rss: u64) {
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

    pub fn is_refusing(&self) -> bool {
        self.refusing.load(Ordering::Relaxed)
    }
}

/// Hands memory freed but kept by the allocator back to the OS. glibc keeps the freed pages of its
/// per-thread arenas mapped, so after a burst of large requests RSS stays high although little is
/// in use, and an RSS-based limiter would go on refusing (`scripts/bench memory`).
pub fn release_free_memory() {
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

pub struct MemoryLimiter<T> {
    gauge: Arc<MemoryGauge>,
    next: SharedConsumer<T>,
}

impl<T> MemoryLimiter<T> {
    pub fn new(gauge: Arc<MemoryGauge>, next: SharedConsumer<T>) -> Self {
        MemoryLimiter { gauge, next }
    }
}

impl<T: SignalData> Consumer<T> for MemoryLimiter<T> {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(async move {
            if self.gauge.is_refusing() {
                let err = PipelineError::Retryable {
                    message: "otelbox is over its memory limit (memory_limiter); retry later".into(),
                    retry_after: Duration::from_secs(2),
                };
                envelope.fail(&err);
                return Err(err);
            }
            self.next.consume(envelope).await
        })
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.next.shutdown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ack::AckToken;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;

    struct Sink;
    impl Consumer<ExportLogsServiceRequest> for Sink {
        fn consume(&self, envelope: Envelope<ExportLogsServiceRequest>) -> BoxFuture<'_, Result<(), PipelineError>> {
            envelope.commit();
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn refuses_retryably_above_the_soft_limit_and_recovers() {
        let gauge = Arc::new(MemoryGauge {
            refusing: AtomicBool::new(false),
            last_rss: AtomicU64::new(0),
            soft_limit: 100,
        });
        let limiter = MemoryLimiter::new(gauge.clone(), Arc::new(Sink));
        gauge.observe(200);
        let (ack, rx) = AckToken::new();
        let err = limiter
            .consume(Envelope::new(ExportLogsServiceRequest::default(), ack))
            .await
            .unwrap_err();
        assert!(err.is_retryable());
        assert!(rx.await.unwrap().is_err());
        gauge.observe(50);
        let (ack, rx) = AckToken::new();
        limiter
            .consume(Envelope::new(ExportLogsServiceRequest::default(), ack))
            .await
            .unwrap();
        assert!(rx.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn over_the_soft_limit_freed_memory_is_returned_before_refusing_at_most_once_a_second() {
        static RELEASES: AtomicU64 = AtomicU64::new(0);
        fn release() {
            RELEASES.fetch_add(1, Ordering::SeqCst);
        }
        let gauge = MemoryGauge {
            refusing: AtomicBool::new(false),
            last_rss: AtomicU64::new(0),
            soft_limit: 100,
        };
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
