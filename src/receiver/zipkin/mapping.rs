//! Typed Zipkin spans to OTLP, following the Collector's zipkinv2 translator: spans grouped by
//! resource (the local service and the resource-convention tags) and scope (`otel.library.*`),
//! status from `otel.status_code`/`error`, links from `otlp.link.N`, annotations as events.

use super::decode::ZipkinSpan;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Value as Json};
use std::collections::HashMap;

/// Tags that describe the resource rather than the span (semantic conventions v1.6.1, as the
/// Collector's translator lists them): moved to the resource.
const RESOURCE_TAGS: &[&str] = &[
    "cloud.provider",
    "cloud.account.id",
    "cloud.region",
    "cloud.availability_zone",
    "cloud.platform",
    "aws.ecs.container.arn",
    "aws.ecs.cluster.arn",
    "aws.ecs.launchtype",
    "aws.ecs.task.arn",
    "aws.ecs.task.family",
    "aws.ecs.task.revision",
    "aws.eks.cluster.arn",
    "aws.log.group.names",
    "aws.log.group.arns",
    "aws.log.stream.names",
    "aws.log.stream.arns",
    "container.name",
    "container.id",
    "container.runtime",
    "container.image.name",
    "container.image.tag",
    "deployment.environment",
    "device.id",
    "device.model.identifier",
    "device.model.name",
    "device.manufacturer",
    "faas.name",
    "faas.id",
    "faas.version",
    "faas.instance",
    "faas.max_memory",
    "host.id",
    "host.name",
    "host.type",
    "host.arch",
    "host.image.name",
    "host.image.id",
    "host.image.version",
    "k8s.cluster.name",
    "k8s.node.name",
    "k8s.node.uid",
    "k8s.namespace.name",
    "k8s.pod.uid",
    "k8s.pod.name",
    "k8s.container.name",
    "k8s.container.restart_count",
    "k8s.replicaset.uid",
    "k8s.replicaset.name",
    "k8s.deployment.uid",
    "k8s.deployment.name",
    "k8s.statefulset.uid",
    "k8s.statefulset.name",
    "k8s.daemonset.uid",
    "k8s.daemonset.name",
    "k8s.job.uid",
    "k8s.job.name",
    "k8s.cronjob.uid",
    "k8s.cronjob.name",
    "os.type",
    "os.description",
    "os.name",
    "os.version",
    "process.pid",
    "process.executable.name",
    "process.executable.path",
    "process.command",
    "process.command_line",
    "process.command_args",
    "process.owner",
    "process.runtime.name",
    "process.runtime.version",
    "process.runtime.description",
    "service.name",
    "service.namespace",
    "service.instance.id",
    "service.version",
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "telemetry.auto.version",
    "webengine.name",
    "webengine.version",
    "webengine.description",
    // OpenCensus-era resource tags the Collector also lifts.
    "opencensus.starttime",
    "opencensus.exporterversion",
    "opencensus.resourcetype",
];

/// Names the key `localEndpoint.serviceName` is stored under, when not `service.name`.
const SERVICE_NAME_SOURCE: &str = "otlp.service.name.source";
/// Set on spans that had no `timestamp` (their start is then the Unix epoch, as in the Collector).
pub(super) const START_TIME_ABSENT: &str = "otel.zipkin.absentField.startTime";
const SCOPE_NAME_TAGS: [&str; 2] = ["otel.library.name", "otel.scope.name"];
const SCOPE_VERSION_TAGS: [&str; 2] = ["otel.library.version", "otel.scope.version"];

pub(super) fn key_value(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// Sets `key`, replacing an earlier value in place (as pcommon's `Put*` does).
fn put(attributes: &mut Vec<KeyValue>, key: &str, value: any_value::Value) {
    match attributes.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = Some(AnyValue { value: Some(value) }),
        None => attributes.push(key_value(key, value)),
    }
}

/// With `parse_string_tags`, what a tag value becomes: the Collector's patterns for integers,
/// decimals and booleans; anything else stays a string.
fn typed_tag(text: &str, parse_string_tags: bool) -> any_value::Value {
    use any_value::Value as V;
    if parse_string_tags {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if all_digits(digits) {
            if let Ok(i) = text.parse::<i64>() {
                return V::IntValue(i);
            }
        }
        if let Some((whole, fraction)) = digits.split_once('.') {
            if all_digits(whole) && all_digits(fraction) {
                if let Ok(f) = text.parse::<f64>() {
                    return V::DoubleValue(f);
                }
            }
        }
        match text {
            "true" => return V::BoolValue(true),
            "false" => return V::BoolValue(false),
            _ => {}
        }
    }
    V::StringValue(text.to_string())
}

pub(super) fn to_otlp(spans: Vec<ZipkinSpan>, parse_string_tags: bool) -> ExportTraceServiceRequest {
    let mut request = ExportTraceServiceRequest::default();
    // (resource, scope) groups in order of first appearance.
    let mut groups: HashMap<(Vec<u8>, String, String), (usize, usize)> = HashMap::new();
    let mut resource_index: HashMap<Vec<u8>, usize> = HashMap::new();
    for mut zipkin in spans {
        let mut tags = std::mem::take(&mut zipkin.tags);
        let mut take = |key: &str| -> Option<String> {
            let i = tags.iter().position(|(k, _)| k == key)?;
            Some(tags.remove(i).1)
        };
        let resource = resource_of(&zipkin, &mut take);
        let scope_name = SCOPE_NAME_TAGS.iter().find_map(|k| take(k)).unwrap_or_default();
        let scope_version = SCOPE_VERSION_TAGS.iter().find_map(|k| take(k)).unwrap_or_default();
        let span = span_of(zipkin, tags, parse_string_tags);
        let resource_key = prost::Message::encode_to_vec(&resource);
        let key = (resource_key.clone(), scope_name.clone(), scope_version.clone());
        let (r, s) = match groups.get(&key) {
            Some(place) => *place,
            None => {
                let r = *resource_index.entry(resource_key).or_insert_with(|| {
                    request.resource_spans.push(ResourceSpans {
                        resource: Some(resource),
                        ..Default::default()
                    });
                    request.resource_spans.len() - 1
                });
                let scopes = &mut request.resource_spans[r].scope_spans;
                scopes.push(ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: scope_name,
                        version: scope_version,
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                let place = (r, scopes.len() - 1);
                groups.insert(key, place);
                place
            }
        };
        request.resource_spans[r].scope_spans[s].spans.push(span);
    }
    request
}

/// The resource: the local service name (under `otlp.service.name.source` when given) and the
/// tags that are resource conventions, which `take` removes from the span's tags.
fn resource_of(zipkin: &ZipkinSpan, take: &mut impl FnMut(&str) -> Option<String>) -> Resource {
    let mut attributes = Vec::new();
    let source = take(SERVICE_NAME_SOURCE).filter(|s| !s.is_empty());
    if let Some(service) = &zipkin.local.service_name {
        let key = source.as_deref().unwrap_or("service.name");
        attributes.push(key_value(key, any_value::Value::StringValue(service.clone())));
    }
    for key in RESOURCE_TAGS {
        if let Some(value) = take(key) {
            put(&mut attributes, key, any_value::Value::StringValue(value));
        }
    }
    Resource {
        attributes,
        ..Default::default()
    }
}

fn span_of(zipkin: ZipkinSpan, mut tags: Vec<(String, String)>, parse_string_tags: bool) -> Span {
    use any_value::Value as V;
    let mut take = |key: &str| -> Option<String> {
        let i = tags.iter().position(|(k, _)| k == key)?;
        Some(tags.remove(i).1)
    };
    let trace_state = take("w3c.tracestate").unwrap_or_default();
    let kind = match zipkin.kind.as_deref() {
        Some("CLIENT") => 3,
        Some("SERVER") => 2,
        Some("PRODUCER") => 4,
        Some("CONSUMER") => 5,
        _ => match take("span.kind").as_deref() {
            Some("internal") => 1,
            _ => 0,
        },
    };
    let status = status_of(&mut tags);
    let links = links_of(&mut tags);
    let mut attributes: Vec<KeyValue> = tags
        .iter()
        .map(|(key, value)| key_value(key, typed_tag(value, parse_string_tags)))
        .collect();
    let local = &zipkin.local;
    if let Some(ip) = local.ipv4 {
        put(&mut attributes, "net.host.ip", V::StringValue(ip.to_string()));
    }
    if let Some(ip) = local.ipv6 {
        put(&mut attributes, "net.host.ip", V::StringValue(ip.to_string()));
    }
    if let Some(port) = local.port {
        put(&mut attributes, "net.host.port", V::IntValue(port as i64));
    }
    let remote = &zipkin.remote;
    if let Some(service) = &remote.service_name {
        put(&mut attributes, "peer.service", V::StringValue(service.clone()));
    }
    if let Some(ip) = remote.ipv4 {
        put(&mut attributes, "net.peer.ip", V::StringValue(ip.to_string()));
    }
    if let Some(ip) = remote.ipv6 {
        put(&mut attributes, "net.peer.ip", V::StringValue(ip.to_string()));
    }
    if let Some(port) = remote.port {
        put(&mut attributes, "net.peer.port", V::IntValue(port as i64));
    }
    if zipkin.shared {
        put(&mut attributes, "zipkin.shared", V::BoolValue(true));
    }
    if zipkin.debug {
        put(&mut attributes, "zipkin.debug", V::BoolValue(true));
    }
    let duration_nanos = zipkin.duration_micros.saturating_mul(1000);
    let start = match zipkin.timestamp_micros {
        Some(micros) => micros.saturating_mul(1000),
        None => {
            put(&mut attributes, START_TIME_ABSENT, V::BoolValue(true));
            0
        }
    };
    Span {
        trace_id: zipkin.trace_id,
        span_id: zipkin.id,
        trace_state,
        parent_span_id: zipkin.parent_id.map(|p| p.to_vec()).unwrap_or_default(),
        name: zipkin.name,
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(duration_nanos),
        attributes,
        events: zipkin.annotations.iter().map(|(micros, value)| event_of(*micros, value)).collect(),
        links,
        status,
        ..Default::default()
    }
}

/// `otel.status_code` (+ `otel.status_description`), then the Zipkin `error` tag: present means
/// an error, its value (unless just "true") is the message, and it stays an attribute.
fn status_of(tags: &mut Vec<(String, String)>) -> Option<Status> {
    let position = |tags: &Vec<(String, String)>, key: &str| tags.iter().position(|(k, _)| k == key);
    let mut status: Option<Status> = None;
    if let Some(i) = position(tags, "otel.status_code") {
        let code = match tags[i].1.to_ascii_uppercase().trim_start_matches("STATUS_CODE_") {
            "OK" => Some(1),
            "ERROR" => Some(2),
            "UNSET" => Some(0),
            _ => None,
        };
        // An unknown code stays an attribute, so nothing the sender said is lost.
        if let Some(code) = code {
            tags.remove(i);
            let message = position(tags, "otel.status_description")
                .map(|i| tags.remove(i).1)
                .unwrap_or_default();
            status = Some(Status { code, message });
        }
    }
    if let Some(i) = position(tags, "error") {
        let status = status.get_or_insert_with(Status::default);
        status.code = 2;
        let value = tags[i].1.clone();
        if value == "true" {
            tags.remove(i);
        } else if status.message.is_empty() {
            status.message = value;
        }
    }
    status
}

/// `otlp.link.0`, `otlp.link.1`, ...: `traceId|spanId|traceState|{attributes}|droppedCount`, the
/// encoding of the Collector's zipkin exporter. A tag that does not parse stays an attribute.
fn links_of(tags: &mut Vec<(String, String)>) -> Vec<Link> {
    let mut links = Vec::new();
    for n in 0..128 {
        let key = format!("otlp.link.{n}");
        let Some(i) = tags.iter().position(|(k, _)| *k == key) else {
            break;
        };
        if let Some(link) = parse_link(&tags[i].1) {
            tags.remove(i);
            links.push(link);
        }
    }
    links
}

fn parse_link(text: &str) -> Option<Link> {
    let parts: Vec<&str> = text.split('|').collect();
    if parts.len() < 5 {
        return None;
    }
    let id = |part: &str, bytes: usize| -> Option<Vec<u8>> {
        let part = part.trim_matches('"');
        if part.is_empty() {
            return Some(Vec::new());
        }
        hex::decode(part).ok().filter(|id| id.len() == bytes)
    };
    let last = parts.len() - 1;
    Some(Link {
        trace_id: id(parts[0], 16)?,
        span_id: id(parts[1], 8)?,
        trace_state: parts[2].to_string(),
        attributes: json_attributes(&parts[3..last].join("|"))?,
        dropped_attributes_count: parts[last].parse().ok()?,
        ..Default::default()
    })
}

/// An annotation's value is the event name, or `name|{attributes}|droppedCount` as the
/// Collector's zipkin exporter encodes events (used only when it parses as such).
fn event_of(micros: u64, value: &str) -> Event {
    let time_unix_nano = micros.saturating_mul(1000);
    let parts: Vec<&str> = value.split('|').collect();
    if parts.len() >= 3 {
        let last = parts.len() - 1;
        if let (Some(attributes), Ok(dropped)) = (json_attributes(&parts[1..last].join("|")), parts[last].parse()) {
            return Event {
                time_unix_nano,
                name: parts[0].to_string(),
                attributes,
                dropped_attributes_count: dropped,
            };
        }
    }
    Event {
        time_unix_nano,
        name: value.to_string(),
        ..Default::default()
    }
}

/// A JSON object of scalars as attributes (whole numbers as integers), in key order.
fn json_attributes(text: &str) -> Option<Vec<KeyValue>> {
    use any_value::Value as V;
    let object: Map<String, Json> = serde_json::from_str(text).ok()?;
    Some(
        object
            .into_iter()
            .filter_map(|(key, value)| {
                let value = match value {
                    Json::String(s) => V::StringValue(s),
                    Json::Bool(b) => V::BoolValue(b),
                    Json::Number(n) => match (n.as_i64(), n.as_f64()) {
                        (Some(i), _) => V::IntValue(i),
                        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => V::IntValue(f as i64),
                        (None, Some(f)) => V::DoubleValue(f),
                        _ => return None,
                    },
                    _ => return None,
                };
                Some(key_value(&key, value))
            })
            .collect(),
    )
}
