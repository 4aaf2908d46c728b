//! The forward connector: passes data unchanged from the pipelines it exports from into the
//! pipelines of the same signal it is a receiver in (the Collector's forwardconnector), to join or
//! fan out pipelines. It has no settings.

use crate::config::{ComponentId, ComponentType, Parser, Settings};
use crate::connector::{ConnectorFactory, ConnectorOutput};
use crate::pdata::Signal;
use crate::pipeline::{SharedConsumer, SignalConsumers, Tap};
use crate::telemetry::PerSignal;
use serde_yaml_ng::Value;
use std::sync::Arc;

pub struct Factory;

impl ComponentType for Factory {
    fn type_name(&self) -> &'static str {
        "forward"
    }
    fn signals(&self) -> &'static [Signal] {
        &Signal::ALL
    }
    fn output_signals(&self) -> &'static [Signal] {
        &Signal::ALL
    }
    fn connects(&self, from: Signal, to: Signal) -> bool {
        from == to
    }
    fn parse(&self, p: &mut Parser, value: &Value, path: &str) -> Settings {
        if !value.is_null() {
            if let Some(body) = p.mapping(Some(value), path) {
                p.only_keys(body, &[], path);
            }
        }
        Settings::new(())
    }
}

impl ConnectorFactory for Factory {
    fn build(
        &self,
        _id: &ComponentId,
        _settings: &Settings,
        output: &ConnectorOutput,
        counters: &PerSignal,
    ) -> anyhow::Result<SignalConsumers> {
        // Its input of a signal is the fan-out of its pipelines of that signal, counted as sent.
        let all = output.all();
        Ok(SignalConsumers {
            traces: all
                .traces
                .map(|c| Arc::new(Tap::exit(c, counters.traces.clone())) as SharedConsumer<_>),
            metrics: all
                .metrics
                .map(|c| Arc::new(Tap::exit(c, counters.metrics.clone())) as SharedConsumer<_>),
            logs: all.logs.map(|c| Arc::new(Tap::exit(c, counters.logs.clone())) as SharedConsumer<_>),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::components::parse_config;

    #[test]
    fn forward_joins_pipelines_of_one_signal_and_refuses_to_change_the_signal() {
        let joined = "receivers: {otlp: {protocols: {http: {}}}}\nexporters: {debug: {}}\nconnectors: {forward: {}}\n\
            service:\n  pipelines:\n    traces/in: {receivers: [otlp], exporters: [forward]}\n    traces/out: {receivers: [forward], exporters: [debug]}\n";
        parse_config(joined).expect("traces to traces");
        let changed = joined.replace("traces/out", "metrics/out");
        let errors = parse_config(&changed).expect_err("traces to metrics").to_string();
        assert!(
            errors.contains("connectors.forward: takes traces but is a receiver in no pipeline of a signal it makes of traces"),
            "{errors}"
        );
        let with_key = joined.replace("forward: {}", "forward: {mode: x}");
        assert!(parse_config(&with_key).is_err());
    }
}
