//! The memory_limiter processor: refuses new data (retryably) while the process's resident memory
//! is above the soft limit (limit - spike), so overload turns into client retries, never an OOM.

use crate::config::{Parser, Settings};
use crate::memory::MemoryGauge;
use crate::pdata::{Signal, SignalData};
use crate::pipeline::{AnyConsumer, Consumer, Envelope, PipelineError, SharedConsumer};
use crate::processor::{ProcessorContext, ProcessorFactory, Stage};
use futures::future::BoxFuture;
use serde_yaml_ng::Value;
use std::sync::Arc;
use std::time::Duration;

pub struct Factory;
crate::component_type!(Factory, "memory_limiter", &Signal::ALL, parse);

impl ProcessorFactory for Factory {
    fn build(&self, context: &ProcessorContext<'_>, settings: &Settings, next: AnyConsumer) -> anyhow::Result<Stage> {
        let limits: &MemoryLimiterConfig = settings.get();
        let soft_limit = limits.limit_mib.saturating_sub(limits.spike_limit_mib) * 1024 * 1024;
        let gauge = context
            .gauges
            .get_or_start(&context.id.to_string(), limits.check_interval, soft_limit);
        Ok(Stage::Consumer(
            crate::map_any_consumer!(next, n => Arc::new(MemoryLimiter::new(gauge.clone(), n))),
        ))
    }
}

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

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> MemoryLimiterConfig {
    let mut limiter = MemoryLimiterConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return limiter;
    };
    p.only_keys(body, &["check_interval", "limit_mib", "spike_limit_mib"], path);
    match body.get("check_interval") {
        Some(v) => match p.duration(v, &format!("{path}.check_interval")) {
            Some(d) if d.is_zero() => p.error(&format!("{path}.check_interval"), "must be greater than 0"),
            Some(d) => limiter.check_interval = d,
            None => {}
        },
        None => p.error(path, "check_interval is required (e.g. 1s)"),
    }
    match body.get("limit_mib").map(|v| p.unsigned(v, &format!("{path}.limit_mib"))) {
        Some(Some(0)) => p.error(&format!("{path}.limit_mib"), "must be greater than 0"),
        Some(Some(mib)) if mib > 1 << 40 => p.error(&format!("{path}.limit_mib"), "is too large"),
        Some(Some(mib)) => limiter.limit_mib = mib,
        Some(None) => {}
        None => p.error(path, "limit_mib is required"),
    }
    limiter.spike_limit_mib = match body.get("spike_limit_mib") {
        Some(v) => p.unsigned(v, &format!("{path}.spike_limit_mib")).unwrap_or(limiter.limit_mib / 5),
        None => limiter.limit_mib / 5,
    };
    if limiter.limit_mib > 0 && limiter.spike_limit_mib >= limiter.limit_mib {
        p.error(&format!("{path}.spike_limit_mib"), "must be smaller than limit_mib");
    }
    limiter
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
        let gauge = Arc::new(MemoryGauge::unsampled(100));
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
}
