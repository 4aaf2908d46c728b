//! The `resourcedetection` processor: adds attributes describing where the data was processed to
//! every resource, detected once at start-up, as the Collector's does. Detectors: `env` (the
//! `OTEL_RESOURCE_ATTRIBUTES` variable, `key=value` pairs separated by commas, values
//! percent-decoded) and `system` (`host.name`, `os.type`; `host.arch` when enabled). Detectors run in
//! order and the first to set a key wins; with `override: true` (the default) detected values
//! replace a resource's own, otherwise they only fill gaps. Cloud and orchestrator detectors need
//! their metadata services, which otelbox does not query: they are refused by name.

use crate::config::{ComponentId, Parser};
use crate::pipeline::ResourceEditor;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_yaml_ng::Value;

// `resource_detection`: the Collector's newer spelling of the type.
crate::item_processor_factory!(Factory, "resourcedetection", parse, ResourceDetectionProcessor::new, aliases: &["resource_detection"]);

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Detector {
    Env,
    System,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResourceDetectionConfig {
    pub detectors: Vec<Detector>,
    pub override_existing: bool,
    /// `system` attributes switched on or off by `system.resource_attributes.<key>.enabled`.
    pub host_name: bool,
    pub os_type: bool,
    pub host_arch: bool,
}

const SYSTEM_ATTRIBUTES: [&str; 3] = ["host.name", "os.type", "host.arch"];

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> ResourceDetectionConfig {
    let mut config = ResourceDetectionConfig {
        detectors: Vec::new(),
        override_existing: true,
        host_name: true,
        os_type: true,
        host_arch: false,
    };
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["detectors", "override", "timeout", "system", "env"], path);
    for (at, name) in p.list(body.get("detectors"), &format!("{path}.detectors")) {
        match name.as_str() {
            Some("env") => config.detectors.push(Detector::Env),
            Some("system") => config.detectors.push(Detector::System),
            Some(other) => p.error(
                &at,
                format!("the detector \"{other}\" is not supported by otelbox (it has: env, system); cloud and orchestrator detectors need their metadata services"),
            ),
            None => p.error(&at, "expected a detector name"),
        }
    }
    if config.detectors.is_empty() {
        p.error(&format!("{path}.detectors"), "needs at least one detector (env, system)");
    }
    if let Some(v) = body.get("override") {
        config.override_existing = p.boolean(v, &format!("{path}.override")).unwrap_or(true);
    }
    if let Some(v) = body.get("timeout") {
        // Detection reads local files only, so it never waits; the key is accepted as in the Collector.
        p.duration(v, &format!("{path}.timeout"));
    }
    let system_path = format!("{path}.system");
    if let Some(system) = p.mapping(body.get("system"), &system_path) {
        p.only_keys(system, &["hostname_sources", "resource_attributes"], &system_path);
        for (at, source) in p.list(system.get("hostname_sources"), &format!("{system_path}.hostname_sources")) {
            if !matches!(source.as_str(), Some("os")) {
                p.error(&at, "otelbox reads the host name from the operating system only (os)");
            }
        }
        let attributes_path = format!("{system_path}.resource_attributes");
        for (key, setting) in p.entries(system.get("resource_attributes"), &attributes_path) {
            let at = format!("{attributes_path}.{key}");
            let Some(setting) = p.mapping(Some(setting), &at) else { continue };
            p.only_keys(setting, &["enabled"], &at);
            let enabled = setting.get("enabled").and_then(|v| p.boolean(v, &format!("{at}.enabled")));
            match (key.as_str(), enabled) {
                (_, None) => {}
                ("host.name", Some(on)) => config.host_name = on,
                ("os.type", Some(on)) => config.os_type = on,
                ("host.arch", Some(on)) => config.host_arch = on,
                (other, Some(_)) => p.error(
                    &at,
                    format!(
                        "unknown system attribute \"{other}\" (expected one of: {})",
                        SYSTEM_ATTRIBUTES.join(", ")
                    ),
                ),
            }
        }
    }
    if let Some(env) = p.mapping(body.get("env"), &format!("{path}.env")) {
        p.only_keys(env, &[], &format!("{path}.env"));
    }
    config
}

pub struct ResourceDetectionProcessor {
    detected: Vec<KeyValue>,
    override_existing: bool,
}

impl ResourceDetectionProcessor {
    pub fn new(_id: &ComponentId, config: &ResourceDetectionConfig) -> Self {
        let env = std::env::var("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_default();
        ResourceDetectionProcessor {
            detected: detect(config, &env, &host_name()),
            override_existing: config.override_existing,
        }
    }
}

impl ResourceEditor for ResourceDetectionProcessor {
    fn edit(&self, resource: &mut Option<Resource>) {
        let resource = resource.get_or_insert_with(Resource::default);
        for detected in &self.detected {
            match resource.attributes.iter_mut().find(|kv| kv.key == detected.key) {
                Some(existing) if self.override_existing => existing.value = detected.value.clone(),
                Some(_) => {}
                None => resource.attributes.push(detected.clone()),
            }
        }
    }
}

/// The attributes the detectors find, the first detector to set a key winning.
fn detect(config: &ResourceDetectionConfig, otel_resource_attributes: &str, host_name: &str) -> Vec<KeyValue> {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut add = |key: &str, value: String| {
        if !found.iter().any(|(k, _)| k == key) {
            found.push((key.to_string(), value));
        }
    };
    for detector in &config.detectors {
        match detector {
            Detector::Env => {
                for pair in otel_resource_attributes.split(',').filter(|p| !p.trim().is_empty()) {
                    if let Some((key, value)) = pair.split_once('=') {
                        add(key.trim(), percent_decode(value.trim()));
                    }
                }
            }
            Detector::System => {
                if config.host_name && !host_name.is_empty() {
                    add("host.name", host_name.to_string());
                }
                if config.os_type {
                    add("os.type", std::env::consts::OS.to_string());
                }
                if config.host_arch {
                    add("host.arch", semconv_arch(std::env::consts::ARCH).to_string());
                }
            }
        }
    }
    found
        .into_iter()
        .map(|(key, value)| KeyValue {
            key,
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value)),
            }),
            ..Default::default()
        })
        .collect()
}

/// The semantic conventions' `host.arch` values.
fn semconv_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm32",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

/// `%XX` escapes decoded (the W3C baggage encoding `OTEL_RESOURCE_ATTRIBUTES` uses); a malformed
/// escape is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(detectors: &[Detector], override_existing: bool) -> ResourceDetectionConfig {
        ResourceDetectionConfig {
            detectors: detectors.to_vec(),
            override_existing,
            host_name: true,
            os_type: true,
            host_arch: false,
        }
    }

    fn pairs(attributes: &[KeyValue]) -> Vec<(String, String)> {
        attributes
            .iter()
            .map(|kv| {
                let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    other => format!("{other:?}"),
                };
                (kv.key.clone(), value)
            })
            .collect()
    }

    #[test]
    fn detectors_run_in_order_and_the_first_to_set_a_key_wins() {
        let detected = detect(
            &config(&[Detector::Env, Detector::System], true),
            "service.namespace=shop, host.name=from-env,note=a%2Cb",
            "box-1",
        );
        assert_eq!(
            pairs(&detected),
            [
                ("service.namespace".into(), "shop".into()),
                ("host.name".into(), "from-env".into()),
                ("note".into(), "a,b".into()),
                ("os.type".into(), std::env::consts::OS.to_string()),
            ]
        );
    }

    #[test]
    fn override_false_only_fills_gaps() {
        let existing = || {
            Some(Resource {
                attributes: detect(&config(&[Detector::Env], true), "host.name=mine", ""),
                ..Default::default()
            })
        };
        for (override_existing, want) in [(true, "box-1"), (false, "mine")] {
            let processor = ResourceDetectionProcessor {
                detected: detect(&config(&[Detector::System], override_existing), "", "box-1"),
                override_existing,
            };
            let mut resource = existing();
            processor.edit(&mut resource);
            let attributes = pairs(&resource.unwrap().attributes);
            assert!(attributes.contains(&("host.name".into(), want.into())), "{attributes:?}");
            assert!(attributes.iter().any(|(k, _)| k == "os.type"));
        }
    }

    #[test]
    fn unknown_detectors_and_attributes_are_errors_with_their_paths() {
        let yaml = "detectors: [env, ec2]\nsystem: { resource_attributes: { host.cpu: { enabled: true } } }";
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        parse(&mut Parser::collecting(&mut errors), &value, "processors.resourcedetection");
        assert!(
            errors[0].starts_with("processors.resourcedetection.detectors[1]: the detector \"ec2\" is not supported"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("processors.resourcedetection.system.resource_attributes.host.cpu: unknown system attribute"),
            "{errors:?}"
        );
    }
}
