//! The `resourcedetection` processor: adds attributes describing where the data was processed to
//! every resource, detected once at start-up, as the Collector's does. Detectors: `env` (the
//! `OTEL_RESOURCE_ATTRIBUTES` variable, `key=value` pairs separated by commas, values
//! percent-decoded) and `system` (`host.name`, `os.type`; when enabled `host.arch`, `host.id` from
//! /etc/machine-id, `host.cpu.*` from /proc/cpuinfo and `os.description` from os-release). Detectors run in
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
    /// The optional `system` attributes switched on (`host.arch`, `host.cpu.*`, `os.description`, `host.id`).
    pub optional: Vec<&'static str>,
}

/// The `system` detector's optional attributes, off unless enabled, as in the Collector.
const OPTIONAL_SYSTEM_ATTRIBUTES: [&str; 9] = [
    "host.arch",
    "host.id",
    "host.cpu.vendor.id",
    "host.cpu.family",
    "host.cpu.model.id",
    "host.cpu.model.name",
    "host.cpu.stepping",
    "host.cpu.cache.l2.size",
    "os.description",
];

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> ResourceDetectionConfig {
    let mut config = ResourceDetectionConfig {
        detectors: Vec::new(),
        override_existing: true,
        host_name: true,
        os_type: true,
        optional: Vec::new(),
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
                (optional, Some(on)) => match OPTIONAL_SYSTEM_ATTRIBUTES.iter().find(|k| **k == optional) {
                    Some(key) => {
                        config.optional.retain(|k| k != key);
                        if on {
                            config.optional.push(key);
                        }
                    }
                    None => p.error(
                        &at,
                        format!(
                            "unknown system attribute \"{optional}\" (expected one of: host.name, os.type, {})",
                            OPTIONAL_SYSTEM_ATTRIBUTES.join(", ")
                        ),
                    ),
                },
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
            detected: detect(config, &env, &host_name(), &SystemFacts::read()),
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
fn detect(config: &ResourceDetectionConfig, otel_resource_attributes: &str, host_name: &str, facts: &SystemFacts) -> Vec<KeyValue> {
    let mut found: Vec<(String, any_value::Value)> = Vec::new();
    let mut put = |key: &str, value: any_value::Value| {
        if !found.iter().any(|(k, _)| k == key) {
            found.push((key.to_string(), value));
        }
    };
    let text = any_value::Value::StringValue;
    for detector in &config.detectors {
        match detector {
            Detector::Env => {
                for pair in otel_resource_attributes.split(',').filter(|p| !p.trim().is_empty()) {
                    if let Some((key, value)) = pair.split_once('=') {
                        put(key.trim(), text(percent_decode(value.trim())));
                    }
                }
            }
            Detector::System => {
                if config.host_name && !host_name.is_empty() {
                    put("host.name", text(host_name.to_string()));
                }
                if config.os_type {
                    put("os.type", text(std::env::consts::OS.to_string()));
                }
                for key in &config.optional {
                    match *key {
                        "host.arch" => put(key, text(semconv_arch(std::env::consts::ARCH).to_string())),
                        // An int, as the semantic conventions type it.
                        "host.cpu.cache.l2.size" => {
                            if let Some(bytes) = facts.get(key).and_then(|b| b.parse::<i64>().ok()) {
                                put(key, any_value::Value::IntValue(bytes));
                            }
                        }
                        _ => {
                            if let Some(value) = facts.get(key) {
                                put(key, text(value.to_string()));
                            }
                        }
                    }
                }
            }
        }
    }
    found
        .into_iter()
        .map(|(key, value)| KeyValue {
            key,
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        })
        .collect()
}

/// What the `system` detector's optional attributes read from this machine, once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SystemFacts {
    /// `host.cpu.*` from /proc/cpuinfo's first processor (`host.cpu.cache.l2.size` in bytes).
    cpu: Vec<(&'static str, String)>,
    /// `os.description`: os-release's PRETTY_NAME.
    os_description: Option<String>,
    /// `host.id`: /etc/machine-id.
    host_id: Option<String>,
}

impl SystemFacts {
    fn read() -> SystemFacts {
        let text = |path: &str| std::fs::read_to_string(path).ok();
        SystemFacts {
            cpu: text("/proc/cpuinfo").map(|t| cpu_facts(&t)).unwrap_or_default(),
            os_description: text("/etc/os-release")
                .or_else(|| text("/usr/lib/os-release"))
                .and_then(|t| os_description(&t)),
            host_id: text("/etc/machine-id").map(|t| t.trim().to_string()).filter(|t| !t.is_empty()),
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "os.description" => self.os_description.as_deref(),
            "host.id" => self.host_id.as_deref(),
            _ => self.cpu.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str()),
        }
    }
}

/// `host.cpu.*` from /proc/cpuinfo's first processor block.
fn cpu_facts(cpuinfo: &str) -> Vec<(&'static str, String)> {
    let first = cpuinfo.split("\n\n").next().unwrap_or_default();
    let field = |name: &str| {
        first
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut facts = Vec::new();
    for (key, name) in [
        ("host.cpu.vendor.id", "vendor_id"),
        ("host.cpu.family", "cpu family"),
        ("host.cpu.model.id", "model"),
        ("host.cpu.model.name", "model name"),
        ("host.cpu.stepping", "stepping"),
    ] {
        if let Some(value) = field(name) {
            facts.push((key, value));
        }
    }
    // "cache size : 512 KB" -> bytes.
    if let Some(size) = field("cache size").and_then(|v| v.split_whitespace().next().and_then(|n| n.parse::<i64>().ok())) {
        facts.push(("host.cpu.cache.l2.size", (size * 1024).to_string()));
    }
    facts
}

/// os-release's PRETTY_NAME, unquoted.
fn os_description(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
        .filter(|v| !v.is_empty())
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
            optional: Vec::new(),
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
            &SystemFacts::default(),
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
                attributes: detect(&config(&[Detector::Env], true), "host.name=mine", "", &SystemFacts::default()),
                ..Default::default()
            })
        };
        for (override_existing, want) in [(true, "box-1"), (false, "mine")] {
            let processor = ResourceDetectionProcessor {
                detected: detect(
                    &config(&[Detector::System], override_existing),
                    "",
                    "box-1",
                    &SystemFacts::default(),
                ),
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

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n\
model name\t: AMD EPYC 7B13\nstepping\t: 0\ncache size\t: 512 KB\n\nprocessor\t: 1\nvendor_id\t: Other\n";

    #[test]
    fn the_optional_system_attributes_come_from_cpuinfo_os_release_and_machine_id_when_enabled() {
        let facts = SystemFacts {
            cpu: cpu_facts(CPUINFO),
            os_description: os_description("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            host_id: Some("4f1c0ffee".into()),
        };
        let yaml = "detectors: [system]\nsystem:\n  resource_attributes:\n    host.cpu.vendor.id: { enabled: true }\n    \
host.cpu.family: { enabled: true }\n    host.cpu.model.id: { enabled: true }\n    host.cpu.model.name: { enabled: true }\n    \
host.cpu.stepping: { enabled: true }\n    host.cpu.cache.l2.size: { enabled: true }\n    os.description: { enabled: true }\n    \
host.id: { enabled: true }\n    os.type: { enabled: false }\n";
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "processors.resourcedetection");
        assert!(errors.is_empty(), "{errors:?}");
        let detected = detect(&config, "", "box-1", &facts);
        assert_eq!(
            pairs(&detected),
            [
                ("host.name".into(), "box-1".into()),
                ("host.cpu.vendor.id".into(), "AuthenticAMD".into()),
                ("host.cpu.family".into(), "25".into()),
                ("host.cpu.model.id".into(), "1".into()),
                ("host.cpu.model.name".into(), "AMD EPYC 7B13".into()),
                ("host.cpu.stepping".into(), "0".into()),
                ("host.cpu.cache.l2.size".into(), "Some(IntValue(524288))".into()),
                ("os.description".into(), "Debian GNU/Linux 12 (bookworm)".into()),
                ("host.id".into(), "4f1c0ffee".into()),
            ],
            "the first processor's block only; the cache size in bytes, as an int"
        );
    }
}
