//! The `otlphttp` exporter: forwards to another OTLP/HTTP receiver through the shared sender
//! (persistent queue, retries; see `sender.rs`).
//!
//! ```yaml
//! exporters:
//!   otlphttp/tempo:
//!     endpoint: http://tempo:4318          # + /v1/traces, /v1/metrics, /v1/logs
//!     logs_endpoint: http://loki:3100/otlp/v1/logs   # a full URL for one signal (also traces_, metrics_)
//!     encoding: proto                      # proto (default) | json
//!     compression: gzip                    # gzip (default) | zstd | none
//!     headers: { x-scope-orgid: team-a }
//!     timeout: 5s
//!     retry_on_failure: { initial_interval: 5s, max_interval: 30s, max_elapsed_time: 300s }
//!     sending_queue: { num_consumers: 10, queue_size: 1000 }
//! ```
//!
//! This build's HTTP client has no TLS, so endpoints must be `http://` (the `otlp` exporter does
//! TLS). Answers follow the OTLP/HTTP rules: 2xx is delivered (with an optional partial success in
//! the body), 429/502/503/504 are retried (honouring `Retry-After`), anything else is final.

use super::retry::{classify_http, RpcStatus, SendError};
use super::sender::{
    error_chain, parse_compression, parse_headers, parse_sender, Compression, Delivered, Headers, Sender, SenderSettings, Transport,
    SENDER_KEYS,
};
use crate::config::{ComponentId, Parser};
use crate::pdata::Signal;
use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError};
use crate::telemetry::PerSignal;
use bytes::Bytes;
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use prost::Message;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Url;
use serde_yaml_ng::Value;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// The wire format of request bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Proto,
    /// OTLP/JSON (hex ids, int64 as strings), as `PipelineData::to_otlp_json` writes it.
    Json,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OtlpHttpExporterConfig {
    /// The full URL per signal: the signal's own `*_endpoint`, else `endpoint` + `/v1/<signal>`;
    /// None when neither is configured (that signal's data is refused permanently).
    pub traces_url: Option<Url>,
    pub metrics_url: Option<Url>,
    pub logs_url: Option<Url>,
    pub encoding: Encoding,
    pub compression: Compression,
    pub headers: Headers,
    pub sender: SenderSettings,
}

impl OtlpHttpExporterConfig {
    pub fn url(&self, signal: Signal) -> Option<&Url> {
        match signal {
            Signal::Traces => self.traces_url.as_ref(),
            Signal::Metrics => self.metrics_url.as_ref(),
            Signal::Logs => self.logs_url.as_ref(),
        }
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> OtlpHttpExporterConfig {
    let mut config = OtlpHttpExporterConfig {
        traces_url: None,
        metrics_url: None,
        logs_url: None,
        encoding: Encoding::Proto,
        compression: Compression::Gzip,
        headers: Headers::default(),
        sender: SenderSettings::default(),
    };
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let mut keys = vec![
        "endpoint",
        "traces_endpoint",
        "metrics_endpoint",
        "logs_endpoint",
        "encoding",
        "compression",
        "headers",
    ];
    keys.extend(SENDER_KEYS);
    p.only_keys(body, &keys, path);
    let mut url = |key: &str| body.get(key).and_then(|v| parse_url(p, v, &format!("{path}.{key}")));
    let base = url("endpoint");
    let own = [url("traces_endpoint"), url("metrics_endpoint"), url("logs_endpoint")];
    let present = |key: &str| body.get(key).is_some();
    if !["endpoint", "traces_endpoint", "metrics_endpoint", "logs_endpoint"]
        .iter()
        .any(|k| present(k))
    {
        p.error(
            path,
            "endpoint is required (the base URL of the OTLP/HTTP receiver, e.g. http://collector:4318), or traces_endpoint, metrics_endpoint and logs_endpoint",
        );
    }
    let [traces, metrics, logs] = own;
    let with_base = |own: Option<Url>, signal: Signal| own.or_else(|| base.as_ref().map(|b| signal_url(b, signal)));
    config.traces_url = with_base(traces, Signal::Traces);
    config.metrics_url = with_base(metrics, Signal::Metrics);
    config.logs_url = with_base(logs, Signal::Logs);
    if let Some(v) = body.get("encoding") {
        let at = format!("{path}.encoding");
        match p.string(v, &at).as_deref() {
            Some("proto") => config.encoding = Encoding::Proto,
            Some("json") => config.encoding = Encoding::Json,
            Some(other) => p.error(&at, format!("expected proto or json, got '{other}'")),
            None => {}
        }
    }
    config.compression = parse_compression(p, body.get("compression"), &format!("{path}.compression"));
    config.headers = parse_headers(p, body.get("headers"), &format!("{path}.headers"), false);
    config.sender = parse_sender(p, body, path);
    config
}

fn parse_url(p: &mut Parser, value: &Value, path: &str) -> Option<Url> {
    let text = p.string(value, path)?;
    match Url::parse(&text) {
        Ok(url) if url.scheme() == "http" && url.host_str().is_some_and(|h| !h.is_empty()) => Some(url),
        Ok(url) if url.scheme() == "https" => {
            p.error(
                path,
                "https is not supported by this otelbox's otlphttp exporter (its HTTP client has no TLS); use an http:// URL, or the otlp exporter, which supports TLS",
            );
            None
        }
        _ => {
            p.error(path, format!("expected an http:// URL like http://collector:4318, got '{text}'"));
            None
        }
    }
}

/// `base` + `/v1/<signal>`, keeping a path the base has (`http://host/otlp` -> `http://host/otlp/v1/logs`).
fn signal_url(base: &Url, signal: Signal) -> Url {
    let mut url = base.clone();
    let path = format!("{}/v1/{}", base.path().trim_end_matches('/'), signal.as_str());
    url.set_path(&path);
    url
}

pub struct OtlpHttpExporter {
    sender: Sender,
}

impl OtlpHttpExporter {
    /// `data_dir` is where a persistent sending queue lives (None: an in-memory box).
    pub fn new(id: &ComponentId, config: &OtlpHttpExporterConfig, data_dir: Option<&Path>, counters: PerSignal) -> anyhow::Result<Self> {
        let transport = HttpTransport::new(config).map_err(|e| anyhow::anyhow!("exporter {id}: {e}"))?;
        let sender = Sender::start(id, Arc::new(transport), &config.sender, data_dir, counters)?;
        Ok(OtlpHttpExporter { sender })
    }
}

impl<T: PipelineData> Consumer<T> for OtlpHttpExporter {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(self.sender.accept(envelope))
    }
    /// Signal-independent: the builder calls it once, through the traces side.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.sender.shutdown())
    }
}

/// The most of an answer's body read (for partial successes and error messages).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

struct HttpTransport {
    client: reqwest::Client,
    config: OtlpHttpExporterConfig,
    headers: HeaderMap,
}

impl HttpTransport {
    fn new(config: &OtlpHttpExporterConfig) -> anyhow::Result<HttpTransport> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.sender.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("otelbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers.0 {
            headers.append(name.clone(), value.clone());
        }
        let content_type = match config.encoding {
            Encoding::Proto => "application/x-protobuf",
            Encoding::Json => "application/json",
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        match config.compression {
            Compression::None => {}
            Compression::Gzip => {
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            Compression::Zstd => {
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("zstd"));
            }
        }
        Ok(HttpTransport {
            client,
            config: config.clone(),
            headers,
        })
    }

    async fn post(&self, url: &Url, signal: Signal, body: Bytes) -> Result<Delivered, SendError> {
        let mut response = self
            .client
            .post(url.clone())
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::retryable(format!("cannot send to {url}: {}", error_chain(&e))))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("json"));
        let mut answer = Vec::new();
        while answer.len() < MAX_ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                Ok(None) => break,
                // The status is what counts; a body cut short only loses detail.
                Err(_) => break,
            }
        }
        match classify_http(
            status,
            retry_after.as_deref(),
            &error_detail(&answer, json),
            std::time::SystemTime::now(),
        ) {
            None => Ok(partial_success(signal, &answer, json)),
            Some(error) => Err(error),
        }
    }
}

impl Transport for HttpTransport {
    fn encode(&self, signal: Signal, payload: Bytes) -> Result<Bytes, SendError> {
        let body = match self.config.encoding {
            Encoding::Proto => payload,
            Encoding::Json => Bytes::from(to_json(signal, &payload)?),
        };
        let compressed = match self.config.compression {
            Compression::None => return Ok(body),
            Compression::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                encoder.write_all(&body).and_then(|_| encoder.finish())
            }
            Compression::Zstd => zstd::encode_all(body.as_ref(), 3),
        };
        compressed
            .map(Bytes::from)
            .map_err(|e| SendError::permanent(format!("cannot compress the request: {e}")))
    }

    fn export(&self, signal: Signal, body: Bytes) -> BoxFuture<'_, Result<Delivered, SendError>> {
        Box::pin(async move {
            match self.config.url(signal) {
                Some(url) => self.post(url, signal, body).await,
                None => Err(SendError::permanent(format!(
                    "no {}_endpoint and no endpoint is configured for {}",
                    signal.as_str(),
                    signal.as_str()
                ))),
            }
        })
    }

    fn destination(&self, signal: Signal) -> String {
        self.config.url(signal).map_or_else(|| "(no endpoint)".to_string(), Url::to_string)
    }
}

/// OTLP/JSON of a queued protobuf payload.
fn to_json(signal: Signal, payload: &[u8]) -> Result<Vec<u8>, SendError> {
    fn json<T: PipelineData>(payload: &[u8]) -> Result<Vec<u8>, SendError> {
        let data = T::decode(payload).map_err(|e| SendError::permanent(format!("a queued batch is not valid OTLP protobuf: {e}")))?;
        serde_json::to_vec(&data.to_otlp_json()).map_err(|e| SendError::permanent(format!("cannot write OTLP/JSON: {e}")))
    }
    match signal {
        Signal::Traces => json::<ExportTraceServiceRequest>(payload),
        Signal::Metrics => json::<ExportMetricsServiceRequest>(payload),
        Signal::Logs => json::<ExportLogsServiceRequest>(payload),
    }
}

/// The partial success in a 2xx answer (protobuf or JSON `Export*ServiceResponse`); an empty or
/// undecodable body is a plain success (the status said so).
fn partial_success(signal: Signal, answer: &[u8], json: bool) -> Delivered {
    if answer.is_empty() {
        return Delivered::default();
    }
    if json {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(answer) else {
            return Delivered::default();
        };
        let Some(partial) = value.get("partialSuccess").or_else(|| value.get("partial_success")) else {
            return Delivered::default();
        };
        let (camel, snake) = match signal {
            Signal::Traces => ("rejectedSpans", "rejected_spans"),
            Signal::Metrics => ("rejectedDataPoints", "rejected_data_points"),
            Signal::Logs => ("rejectedLogRecords", "rejected_log_records"),
        };
        let rejected = partial.get(camel).or_else(|| partial.get(snake)).and_then(|v| match v {
            serde_json::Value::String(s) => s.parse::<u64>().ok(),
            other => other.as_u64(),
        });
        let message = partial
            .get("errorMessage")
            .or_else(|| partial.get("error_message"))
            .and_then(|v| v.as_str());
        return Delivered {
            rejected: rejected.unwrap_or(0),
            message: message.unwrap_or_default().to_string(),
        };
    }
    let partial = match signal {
        Signal::Traces => ExportTraceServiceResponse::decode(answer)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_spans, p.error_message)),
        Signal::Metrics => ExportMetricsServiceResponse::decode(answer)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_data_points, p.error_message)),
        Signal::Logs => ExportLogsServiceResponse::decode(answer)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_log_records, p.error_message)),
    };
    partial.map_or_else(Delivered::default, |(rejected, message)| Delivered {
        rejected: rejected.max(0) as u64,
        message,
    })
}

/// What an error answer says: the `google.rpc.Status` message (protobuf or JSON) OTLP servers send,
/// else the start of the text.
fn error_detail(answer: &[u8], json: bool) -> String {
    let message = if json {
        serde_json::from_slice::<serde_json::Value>(answer)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
    } else {
        RpcStatus::decode(answer).ok().map(|s| s.message).filter(|m| !m.is_empty())
    };
    let text = message.unwrap_or_else(|| String::from_utf8_lossy(answer).into_owned());
    let text: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
    text.trim().to_string()
}
