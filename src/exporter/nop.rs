//! The `nop` exporter: takes everything and drops it, acknowledging at once (the Collector's
//! `nop` exporter, for a pipeline whose data should go nowhere, e.g. one that only feeds a
//! connector's counts). What it drops is counted as sent, so the pipeline's figures add up.

use crate::config::{ComponentId, Parser};
use crate::extension::StorageDir;
use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError};
use crate::telemetry::PerSignal;
use futures::future::BoxFuture;
use serde_yaml_ng::Value;

crate::exporter_factory!(Factory, "nop", parse, NopExporter::new);

/// No settings: an empty or null body.
pub fn parse(p: &mut Parser, value: &Value, path: &str) {
    if let Some(body) = p.mapping(Some(value), path) {
        p.only_keys(body, &[], path);
    }
}

pub struct NopExporter {
    counters: PerSignal,
}

impl NopExporter {
    pub fn new(_id: &ComponentId, _config: &(), _queue_dir: Option<StorageDir<'_>>, counters: PerSignal) -> anyhow::Result<Self> {
        Ok(NopExporter { counters })
    }
}

impl<T: PipelineData> Consumer<T> for NopExporter {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        self.counters.get(T::SIGNAL).record_sent(envelope.data.item_count());
        envelope.commit();
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdata::SignalData;
    use crate::pipeline::ack::AckToken;

    #[test]
    fn settings_are_refused_and_an_empty_body_is_fine() {
        let mut errors = Vec::new();
        parse(&mut Parser::collecting(&mut errors), &Value::Null, "exporters.nop");
        assert!(errors.is_empty());
        let body: Value = serde_yaml_ng::from_str("{ verbosity: detailed }").unwrap();
        parse(&mut Parser::collecting(&mut errors), &body, "exporters.nop");
        assert_eq!(errors, ["exporters.nop.verbosity: unknown key (expected one of: )"]);
    }

    #[tokio::test]
    async fn everything_is_acknowledged_and_counted() {
        let counters = PerSignal::detached("exporter/nop");
        let exporter = NopExporter::new(&ComponentId::parse("nop").unwrap(), &(), None, counters.clone()).unwrap();
        let data = crate::gen::Generator::new(7).traces_request(5);
        let items = data.item_count();
        let (ack, committed) = AckToken::new();
        exporter.consume(Envelope::new(data, ack)).await.unwrap();
        assert_eq!(committed.await.unwrap(), Ok(()), "acknowledged");
        assert_eq!(counters.traces.sent.load(std::sync::atomic::Ordering::Relaxed), items as u64);
    }
}
