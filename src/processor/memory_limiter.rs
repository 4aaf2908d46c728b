//! The memory_limiter processor: refuses new data (retryably) while the process's resident memory
//! is above the soft limit (limit - spike), so overload turns into client retries, never an OOM.

use crate::pdata::SignalData;
use crate::pipeline::{Consumer, Envelope, PipelineError, SharedConsumer};
use futures::future::BoxFuture;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
            loop {
                tick.tick().await;
                let Some(gauge) = weak.upgrade() else { break };
                gauge.observe(resident_bytes());
            }
        });
        gauge
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

    #[test]
    fn reads_this_process_rss() {
        assert!(resident_bytes() > 1024 * 1024);
    }
}
