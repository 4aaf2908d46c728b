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
    parse_with_total(p, value, path, crate::memory::total_bytes)
}

/// As the Collector reads it: `limit_mib` and `spike_limit_mib`, or (when `limit_mib` is absent or 0)
/// `limit_percentage` and `spike_limit_percentage` of the memory the process may use (`total`: the
/// cgroup's limit or the machine's memory). The spike defaults to a fifth of the limit.
fn parse_with_total(p: &mut Parser, value: &Value, path: &str, total: impl Fn() -> Option<u64>) -> MemoryLimiterConfig {
    let mut limiter = MemoryLimiterConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return limiter;
    };
    p.only_keys(
        body,
        &[
            "check_interval",
            "limit_mib",
            "spike_limit_mib",
            "limit_percentage",
            "spike_limit_percentage",
        ],
        path,
    );
    match body.get("check_interval") {
        Some(v) => match p.duration(v, &format!("{path}.check_interval")) {
            Some(d) if d.is_zero() => p.error(&format!("{path}.check_interval"), "must be greater than 0"),
            Some(d) => limiter.check_interval = d,
            None => {}
        },
        None => p.error(path, "check_interval is required (e.g. 1s)"),
    }
    let unsigned = |key: &str, p: &mut Parser| body.get(key).and_then(|v| p.unsigned(v, &format!("{path}.{key}")));
    let limit_mib_as_set = unsigned("limit_mib", p);
    let limit_mib = limit_mib_as_set.filter(|mib| *mib > 0);
    let spike_mib = unsigned("spike_limit_mib", p).filter(|mib| *mib > 0);
    let limit_percentage = unsigned("limit_percentage", p).filter(|pct| *pct > 0);
    let spike_percentage = unsigned("spike_limit_percentage", p).filter(|pct| *pct > 0);
    for (key, pct) in [("limit_percentage", limit_percentage), ("spike_limit_percentage", spike_percentage)] {
        if pct.is_some_and(|pct| pct > 100) {
            p.error(&format!("{path}.{key}"), "must be a percentage between 1 and 100");
            return limiter;
        }
    }
    let mib_of = |pct: u64, total: u64| (u128::from(total) * u128::from(pct) / 100 / (1 << 20)) as u64;
    match (limit_mib, limit_percentage) {
        (Some(mib), _) if mib > 1 << 40 => p.error(&format!("{path}.limit_mib"), "is too large"),
        (Some(mib), _) => {
            limiter.limit_mib = mib;
            limiter.spike_limit_mib = spike_mib.unwrap_or(mib / 5);
        }
        (None, Some(pct)) => match total() {
            Some(total) => {
                limiter.limit_mib = mib_of(pct, total).max(1);
                limiter.spike_limit_mib = spike_percentage.map_or(limiter.limit_mib / 5, |spike| mib_of(spike, total));
            }
            None => p.error(
                &format!("{path}.limit_percentage"),
                "needs the memory this machine or cgroup has, which could not be read; set limit_mib",
            ),
        },
        (None, None) if limit_mib_as_set == Some(0) => p.error(&format!("{path}.limit_mib"), "must be greater than 0"),
        (None, None) => p.error(path, "limit_mib or limit_percentage is required"),
    }
    if limiter.limit_mib > 0 && limiter.spike_limit_mib >= limiter.limit_mib {
        let key = if limit_mib.is_some() {
            "spike_limit_mib"
        } else {
            "spike_limit_percentage"
        };
        p.error(&format!("{path}.{key}"), "must be smaller than the limit");
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

    /// The settings parsed with `total` bytes of memory, and the errors.
    fn parsed(yaml: &str, total: Option<u64>) -> (MemoryLimiterConfig, Vec<String>) {
        let mut errors = Vec::new();
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let config = parse_with_total(&mut Parser::collecting(&mut errors), &value, "processors.memory_limiter", || total);
        (config, errors)
    }

    #[test]
    fn percentages_are_of_the_memory_the_process_may_use_as_the_collector_reads_them() {
        const GIB: u64 = 1 << 30;
        let (config, errors) = parsed(
            "{check_interval: 1s, limit_percentage: 80, spike_limit_percentage: 20}",
            Some(4 * GIB),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            (config.limit_mib, config.spike_limit_mib),
            (4 * 1024 * 80 / 100, 4 * 1024 * 20 / 100)
        );
        // The spike defaults to a fifth of the limit.
        let (config, _) = parsed("{check_interval: 1s, limit_percentage: 50}", Some(4 * GIB));
        assert_eq!((config.limit_mib, config.spike_limit_mib), (2048, 409));
        // limit_mib wins over a percentage, as in the Collector.
        let (config, _) = parsed("{check_interval: 1s, limit_mib: 300, limit_percentage: 50}", Some(4 * GIB));
        assert_eq!(config.limit_mib, 300);
    }

    #[test]
    fn a_percentage_that_cannot_apply_is_a_clear_error() {
        let (_, errors) = parsed("{check_interval: 1s, limit_percentage: 150}", Some(1 << 30));
        assert_eq!(
            errors,
            ["processors.memory_limiter.limit_percentage: must be a percentage between 1 and 100"]
        );
        let (_, errors) = parsed("{check_interval: 1s, limit_percentage: 50}", None);
        assert!(errors[0].contains("could not be read; set limit_mib"), "{errors:?}");
        let (_, errors) = parsed(
            "{check_interval: 1s, limit_percentage: 20, spike_limit_percentage: 30}",
            Some(1 << 30),
        );
        assert_eq!(
            errors,
            ["processors.memory_limiter.spike_limit_percentage: must be smaller than the limit"]
        );
        let (_, errors) = parsed("{check_interval: 1s}", Some(1 << 30));
        assert_eq!(errors, ["processors.memory_limiter: limit_mib or limit_percentage is required"]);
        assert!(
            crate::memory::total_bytes().is_some_and(|total| total > 0),
            "this machine's memory is readable"
        );
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
