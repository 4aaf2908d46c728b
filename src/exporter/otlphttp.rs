//! The `otlphttp` exporter: forwards to another OTLP/HTTP receiver through the shared sender
//! (persistent queue, retries; see `sender.rs`).
//!
//! ```yaml
//! exporters:
//!   otlphttp/tempo:
//!     endpoint: https://tempo:4318         # + /v1/traces, /v1/metrics, /v1/logs; http:// or https://
//!     logs_endpoint: http://loki:3100/otlp/v1/logs   # a full URL for one signal (also traces_, metrics_)
//!     tls:                                 # for the https:// URLs
//!       ca_file: ca.pem                    # else the system's CA bundle
//!       cert_file: client.pem              # with key_file: a client certificate (mTLS)
//!       key_file: client.key
//!       server_name_override: tempo.internal
//!       min_version: "1.2"                 # 1.2 (default) | 1.3; also max_version
//!       insecure_skip_verify: false        # true: any server certificate is taken
//!     encoding: proto                      # proto (default) | json
//!     compression: gzip                    # gzip (default) | zstd | none
//!     headers: { x-scope-orgid: team-a }
//!     auth: { authenticator: basicauth/tempo }   # its Authorization header with every request
//!     timeout: 5s
//!     retry_on_failure: { initial_interval: 5s, max_interval: 30s, max_elapsed_time: 300s }
//!     sending_queue:
//!       num_consumers: 10
//!       queue_size: 1000
//!       batch: { flush_timeout: 200ms, min_size: 8192, max_size: 0, sizer: items }
//! ```
//!
//! `tls` applies to https:// URLs (`sender::parse_client_tls`); as in the Collector, `insecure`
//! changes nothing for HTTP, where the URL's scheme decides. https:// goes through hyper-util's
//! client over rustls (HTTP/2 when the server offers it), http:// through reqwest
//! (`sender::HttpClient`). Answers follow the OTLP/HTTP rules: 2xx is delivered (with an optional
//! partial success in the body), 429/502/503/504 are retried (honouring `Retry-After`), anything
//! else is final.
//!
//! `auth.authenticator` names a client authenticator extension (`bearertokenauth` with `token` or
//! `filename`, `basicauth` with `client_auth`, `oauth2client`) listed in `service.extensions`: the
//! service asks it for the `Authorization` value at start-up (`oauth2client`'s token: before every
//! request, none yet failing the request retryably) and every request carries that header. An
//! `authorization` in `headers` does the same by hand; both at once is an error.

use super::retry::{classify_http, RpcStatus, SendError};
use super::sender::{
    parse_auth, parse_client_tls, parse_compression, parse_headers, parse_sender, request_headers, set_authorization, Compression,
    Delivered, Headers, HttpClient, Sender, SenderSettings, Transport, SENDER_KEYS,
};
use super::{ExporterContext, ExporterFactory};
use crate::config::{ComponentId, Parser, Settings};
use crate::extension::ClientAuthorization;
use crate::extension::StorageDir;
use crate::pdata::Signal;
use crate::pipeline::{PipelineData, SignalConsumers};
use crate::telemetry::PerSignal;
use crate::tls::ClientTlsSettings;
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
    /// `auth.authenticator`: the client authenticator extension whose `Authorization` value every
    /// request carries.
    pub auth: Option<ComponentId>,
    /// How https:// URLs are connected to.
    pub tls: ClientTlsSettings,
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

    /// Whether some signal goes to an https:// URL (and so needs the TLS client).
    pub fn uses_tls(&self) -> bool {
        Signal::ALL.iter().filter_map(|s| self.url(*s)).any(|url| url.scheme() == "https")
    }
}

/// The `otlphttp` exporter type: every signal.
pub struct Factory;
crate::component_type!(Factory, "otlphttp", &Signal::ALL, parse, aliases: &["otlp_http"], refs: extension_refs);

impl ExporterFactory for Factory {
    fn build(&self, context: &ExporterContext<'_>, settings: &Settings) -> anyhow::Result<SignalConsumers> {
        let sender = exporter(
            context.id,
            settings.get(),
            context.authorization.as_ref(),
            context.queue_dir,
            context.counters.clone(),
        )?;
        Ok(SignalConsumers::all(Arc::new(sender)))
    }
}

/// The extensions it names: the storage extension of its sending queue and its client authenticator.
fn extension_refs(config: &OtlpHttpExporterConfig) -> Vec<(String, ComponentId)> {
    let mut refs = super::sender::storage_ref(&config.sender);
    refs.extend(super::sender::auth_ref(config.auth.as_ref()));
    refs
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> OtlpHttpExporterConfig {
    let mut config = OtlpHttpExporterConfig {
        traces_url: None,
        metrics_url: None,
        logs_url: None,
        encoding: Encoding::Proto,
        compression: Compression::Gzip,
        headers: Headers::default(),
        auth: None,
        tls: ClientTlsSettings::default(),
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
        "tls",
        "encoding",
        "compression",
        "headers",
        "auth",
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
    config.tls = parse_client_tls(p, body.get("tls"), &format!("{path}.tls"));
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
    config.auth = parse_auth(p, body, path, &config.headers);
    config.sender = parse_sender(p, body, path);
    config
}

fn parse_url(p: &mut Parser, value: &Value, path: &str) -> Option<Url> {
    let text = p.string(value, path)?;
    match Url::parse(&text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()) => Some(url),
        _ => {
            p.error(
                path,
                format!("expected an http:// or https:// URL like https://collector:4318, got '{text}'"),
            );
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

/// The `otlphttp` exporter: the forwarding `Sender` over the HTTP transport. `authorization` is the
/// value of the client authenticator `auth` names (the service asks it), sent as the
/// `Authorization` header of every request. `queue_dir` is where a persistent sending queue lives
/// (None: an in-memory box).
pub fn exporter(
    id: &ComponentId,
    config: &OtlpHttpExporterConfig,
    authorization: Option<&ClientAuthorization>,
    queue_dir: Option<StorageDir<'_>>,
    counters: PerSignal,
) -> anyhow::Result<Sender> {
    let transport = HttpTransport::new(config, authorization).map_err(|e| anyhow::anyhow!("exporter {id}: {e}"))?;
    Sender::start(id, Arc::new(transport), &config.sender, queue_dir, counters)
}

/// The most of an answer's body read (for partial successes and error messages).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

struct HttpTransport {
    client: HttpClient,
    config: OtlpHttpExporterConfig,
    headers: HeaderMap,
    /// An `Authorization` that changes (an OAuth2 token), asked for before each request; a fixed
    /// one is in `headers`.
    live_authorization: Option<ClientAuthorization>,
}

impl HttpTransport {
    fn new(config: &OtlpHttpExporterConfig, authorization: Option<&ClientAuthorization>) -> anyhow::Result<HttpTransport> {
        let client = HttpClient::new(&config.tls, config.uses_tls(), config.sender.timeout)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers.0 {
            headers.append(name.clone(), value.clone());
        }
        let live_authorization = set_authorization(&mut headers, authorization);
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
            live_authorization,
        })
    }

    async fn post(&self, url: &Url, signal: Signal, body: Bytes) -> Result<Delivered, SendError> {
        let headers = request_headers(&self.headers, self.live_authorization.as_ref())?;
        let answer = self
            .client
            .post(url, &headers, body, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| SendError::retryable(format!("cannot send to {url}: {e}")))?;
        let header = |name: http::HeaderName| answer.headers.get(name).and_then(|v| v.to_str().ok());
        let retry_after = header(RETRY_AFTER);
        let json = header(CONTENT_TYPE).is_some_and(|t| t.contains("json"));
        match classify_http(
            answer.status,
            retry_after,
            &error_detail(&answer.body, json),
            std::time::SystemTime::now(),
        ) {
            None => Ok(partial_success(signal, &answer.body, json)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Kind};
    use crate::exporter::sender::golden;
    use crate::pipeline::ack::AckToken;
    use crate::pipeline::{Consumer, Envelope};
    use axum::http::{HeaderMap as AxumHeaders, StatusCode, Uri};
    use axum::response::IntoResponse;
    use reqwest::header::AUTHORIZATION;
    use std::collections::VecDeque;
    use std::io::Read;
    use std::net::SocketAddr;
    use std::path::Path;
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// One request as the test server saw it: path, headers, body (decompressed), when.
    #[derive(Clone, Debug)]
    struct Seen {
        path: String,
        headers: AxumHeaders,
        body: Vec<u8>,
        at: Instant,
    }

    /// An answer: status, extra headers, content type and body.
    type Answer = (u16, Vec<(&'static str, String)>, &'static str, Vec<u8>);

    /// A tiny OTLP/HTTP server that records requests and answers from a script (then 200).
    #[derive(Default)]
    struct Upstream {
        seen: Mutex<Vec<Seen>>,
        script: Mutex<VecDeque<Answer>>,
    }

    impl Upstream {
        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }
        async fn wait_for(&self, n: usize) -> Vec<Seen> {
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.seen.lock().unwrap().len() < n {
                assert!(
                    Instant::now() < deadline,
                    "the upstream got {} requests, expected {n}",
                    self.seen().len()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            self.seen()
        }
    }

    fn decompress(headers: &AxumHeaders, body: &[u8]) -> Vec<u8> {
        match headers.get("content-encoding").map(|v| v.to_str().unwrap()) {
            Some("gzip") => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(body).read_to_end(&mut out).unwrap();
                out
            }
            Some("zstd") => zstd::decode_all(body).unwrap(),
            None => body.to_vec(),
            Some(other) => panic!("unexpected content-encoding {other}"),
        }
    }

    async fn serve(upstream: Arc<Upstream>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(upstream)).await });
        addr
    }

    /// The upstream over TLS (HTTP/2 or HTTP/1.1, as the client chooses) with `config`.
    async fn serve_tls(upstream: Arc<Upstream>, config: Arc<tokio_rustls::rustls::ServerConfig>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = crate::tls::TlsListener::new(listener, config).unwrap();
        tokio::spawn(async move { axum::serve(listener, router(upstream)).await });
        addr
    }

    fn router(upstream: Arc<Upstream>) -> axum::Router {
        let handler = move |uri: Uri, headers: AxumHeaders, body: axum::body::Bytes| {
            let upstream = upstream.clone();
            async move {
                let body = decompress(&headers, &body);
                upstream.seen.lock().unwrap().push(Seen {
                    path: uri.path().to_string(),
                    headers,
                    body,
                    at: Instant::now(),
                });
                let (status, extra, content_type, body) =
                    upstream
                        .script
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or((200, vec![], "application/x-protobuf", vec![]));
                let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
                response.headers_mut().insert("content-type", content_type.parse().unwrap());
                for (name, value) in extra {
                    response.headers_mut().insert(name, value.parse().unwrap());
                }
                response
            }
        };
        axum::Router::new().fallback(axum::routing::post(handler))
    }

    fn openssl(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// In `dir`: a throwaway CA (`ca.pem`), a server certificate it signed for `tempo.internal` only
    /// (so it matches 127.0.0.1 only through `server_name_override`), a client certificate it
    /// signed, and another CA that signed nothing (`stranger.pem`).
    fn make_certs(dir: &Path) {
        for (key, pem, subject) in [
            ("ca.key", "ca.pem", "/CN=otelbox test CA"),
            ("stranger.key", "stranger.pem", "/CN=stranger"),
        ] {
            openssl(
                dir,
                &[
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", pem, "-days", "2", "-subj", subject,
                ],
            );
        }
        for (name, usage, san) in [
            ("server", "serverAuth", "subjectAltName=DNS:tempo.internal"),
            ("client", "clientAuth", "subjectAltName=DNS:otelbox"),
        ] {
            std::fs::write(
                dir.join(format!("{name}.ext")),
                format!("{san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage={usage}\n"),
            )
            .unwrap();
            let (key, csr, pem, ext) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.ext"),
            );
            openssl(
                dir,
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &key,
                    "-out",
                    &csr,
                    "-subj",
                    &format!("/CN={name}"),
                ],
            );
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    &pem,
                    "-days",
                    "2",
                    "-extfile",
                    &ext,
                ],
            );
        }
    }

    /// The upstream's TLS: the server certificate, and client certificates from the CA required
    /// when `require_client_cert`.
    fn server_tls(dir: &Path, require_client_cert: bool) -> Arc<tokio_rustls::rustls::ServerConfig> {
        let files = crate::tls::TlsFiles {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            client_ca: require_client_cert.then(|| dir.join("ca.pem")),
        };
        crate::tls::server_config(&files, true, &[b"h2", b"http/1.1"]).unwrap()
    }

    /// The transport of an exporter body, for single attempts.
    fn transport(exporter: &str) -> HttpTransport {
        HttpTransport::new(&settings(exporter), None).unwrap()
    }

    fn upstream_id() -> ComponentId {
        ComponentId {
            kind: "otlphttp".into(),
            name: Some("tempo".into()),
        }
    }

    /// A full config with this exporter body as `otlphttp/tempo` in all three pipelines.
    fn config_with(exporter: &str) -> Result<Config, Vec<String>> {
        let yaml = format!(
            "receivers: {{ otlp: {{ protocols: {{ grpc: {{}}, http: {{}} }} }} }}\nexporters:\n  otlphttp/tempo:\n{}\nservice:\n  pipelines:\n    traces: {{ receivers: [otlp], exporters: [otlphttp/tempo] }}\n    metrics: {{ receivers: [otlp], exporters: [otlphttp/tempo] }}\n    logs: {{ receivers: [otlp], exporters: [otlphttp/tempo] }}\n",
            exporter.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
        );
        crate::components::parse_config(&yaml).map_err(|e| e.0)
    }

    fn settings(exporter: &str) -> OtlpHttpExporterConfig {
        let config = config_with(exporter).unwrap_or_else(|e| panic!("{e:?}"));
        config
            .component(Kind::Exporter, &upstream_id())
            .unwrap()
            .settings
            .get::<OtlpHttpExporterConfig>()
            .clone()
    }

    fn errors(exporter: &str) -> Vec<String> {
        config_with(exporter).expect_err("config errors")
    }

    fn quick_retries() -> &'static str {
        "retry_on_failure: { initial_interval: 10ms, max_interval: 20ms, randomization_factor: 0 }\n"
    }

    /// The module's example, pointed at a local server.
    fn example(addr: SocketAddr) -> String {
        format!(
            "endpoint: http://{addr}/otlp\nlogs_endpoint: http://{addr}/loki/api/v1/push\nencoding: proto\ncompression: gzip\nheaders: {{ x-scope-orgid: team-a }}\ntimeout: 2s\n{}",
            quick_retries()
        )
    }

    async fn wait_until(what: &str, check: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn the_yaml_example_posts_every_signal_exactly_to_its_url() {
        let upstream = Arc::new(Upstream::default());
        let addr = serve(upstream.clone()).await;
        let counters = PerSignal::detached("exporter/otlphttp/tempo");
        let exporter = exporter(&upstream_id(), &settings(&example(addr)), None, None, counters.clone()).unwrap();
        let (ack, committed) = AckToken::new();
        Consumer::consume(&exporter, Envelope::new(golden::traces(), ack)).await.unwrap();
        assert_eq!(committed.await.unwrap(), Ok(()));
        Consumer::consume(&exporter, Envelope::unacked(golden::metrics())).await.unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::logs())).await.unwrap();

        let mut seen = upstream.wait_for(3).await;
        seen.sort_by(|a, b| a.path.cmp(&b.path));
        let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["/loki/api/v1/push", "/otlp/v1/metrics", "/otlp/v1/traces"]);
        assert_eq!(seen[0].body, golden::logs().encode_to_vec());
        assert_eq!(seen[1].body, golden::metrics().encode_to_vec());
        assert_eq!(seen[2].body, golden::traces().encode_to_vec());
        for request in &seen {
            assert_eq!(request.headers["content-type"], "application/x-protobuf");
            assert_eq!(request.headers["content-encoding"], "gzip");
            assert_eq!(request.headers["x-scope-orgid"], "team-a");
        }
        let sent = |signal: Signal| counters.get(signal).sent.load(Ordering::Relaxed);
        wait_until("sent", || {
            (sent(Signal::Traces), sent(Signal::Metrics), sent(Signal::Logs)) == (2, 1, 3)
        })
        .await;
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn json_encoding_posts_otlp_json() {
        let upstream = Arc::new(Upstream::default());
        let addr = serve(upstream.clone()).await;
        let config = settings(&format!("endpoint: http://{addr}\nencoding: json\ncompression: none\n"));
        let exporter = exporter(&upstream_id(), &config, None, None, PerSignal::detached("x")).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::traces())).await.unwrap();
        let seen = upstream.wait_for(1).await;
        assert_eq!(seen[0].path, "/v1/traces");
        assert_eq!(seen[0].headers["content-type"], "application/json");
        assert!(seen[0].headers.get("content-encoding").is_none());
        let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
        assert_eq!(body, golden::traces().to_otlp_json());
        assert_eq!(
            body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"],
            "5b".repeat(16),
            "hex ids"
        );
        assert_eq!(crate::pdata::json::decode_traces(&seen[0].body).unwrap(), golden::traces());
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn zstd_compression_is_labelled_and_decodes() {
        let upstream = Arc::new(Upstream::default());
        let addr = serve(upstream.clone()).await;
        let config = settings(&format!("endpoint: http://{addr}\ncompression: zstd\n"));
        let exporter = exporter(&upstream_id(), &config, None, None, PerSignal::detached("x")).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::metrics())).await.unwrap();
        let seen = upstream.wait_for(1).await;
        assert_eq!(seen[0].headers["content-encoding"], "zstd");
        assert_eq!(seen[0].body, golden::metrics().encode_to_vec());
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn a_503_is_retried_after_its_retry_after_delay() {
        let upstream = Arc::new(Upstream::default());
        upstream
            .script
            .lock()
            .unwrap()
            .push_back((503, vec![("retry-after", "1".into())], "text/plain", b"busy".to_vec()));
        let addr = serve(upstream.clone()).await;
        let counters = PerSignal::detached("x");
        let config = settings(&format!("endpoint: http://{addr}\n{}", quick_retries()));
        let exporter = exporter(&upstream_id(), &config, None, None, counters.clone()).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::logs())).await.unwrap();
        let seen = upstream.wait_for(2).await;
        let gap = seen[1].at - seen[0].at;
        assert!(gap >= Duration::from_secs(1), "waited only {gap:?} (backoff alone is 10ms)");
        assert_eq!(seen[0].body, seen[1].body);
        wait_until("sent", || counters.logs.sent.load(Ordering::Relaxed) == 3).await;
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn a_400_is_dropped_and_a_partial_success_counts_its_rejected_items() {
        use crate::exporter::retry::RpcStatus;
        use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsPartialSuccess;
        let upstream = Arc::new(Upstream::default());
        let status = RpcStatus {
            code: 3,
            message: "log record 2 has an invalid span id".into(),
            details: vec![],
        };
        let partial = ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: 1,
                error_message: "one too old".into(),
            }),
        };
        upstream.script.lock().unwrap().extend([
            (400, vec![], "application/x-protobuf", status.encode_to_vec()),
            (200, vec![], "application/x-protobuf", partial.encode_to_vec()),
            (
                200,
                vec![],
                "application/json",
                br#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"two too old"}}"#.to_vec(),
            ),
        ]);
        let addr = serve(upstream.clone()).await;
        let counters = PerSignal::detached("x");
        let mut config = settings(&format!("endpoint: http://{addr}\n{}", quick_retries()));
        config.sender.queue.num_consumers = 1;
        let exporter = exporter(&upstream_id(), &config, None, None, counters.clone()).unwrap();
        for _ in 0..3 {
            Consumer::consume(&exporter, Envelope::unacked(golden::logs())).await.unwrap();
        }
        let logs = &counters.logs;
        wait_until("settled", || {
            logs.dropped.load(Ordering::Relaxed) + logs.sent.load(Ordering::Relaxed) == 9
        })
        .await;
        assert_eq!(upstream.seen().len(), 3, "nothing retried");
        assert_eq!(logs.dropped.load(Ordering::Relaxed), 3 + 1 + 2);
        assert_eq!(logs.sent.load(Ordering::Relaxed), 2 + 1);
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn https_with_a_ca_file_a_client_certificate_and_a_server_name_override_delivers_exactly() {
        let dir = tempfile::tempdir().unwrap();
        make_certs(dir.path());
        let upstream = Arc::new(Upstream::default());
        let addr = serve_tls(upstream.clone(), server_tls(dir.path(), true)).await;
        let file = |name: &str| dir.path().join(name).display().to_string();
        let config = settings(&format!(
            "endpoint: https://{addr}\ntls:\n  ca_file: {}\n  cert_file: {}\n  key_file: {}\n  server_name_override: tempo.internal\n  min_version: \"1.2\"\n{}",
            file("ca.pem"),
            file("client.pem"),
            file("client.key"),
            quick_retries()
        ));
        assert!(config.uses_tls());
        let counters = PerSignal::detached("x");
        let exporter = exporter(&upstream_id(), &config, None, None, counters.clone()).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::traces())).await.unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::logs())).await.unwrap();
        let mut seen = upstream.wait_for(2).await;
        seen.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(seen[0].path, "/v1/logs");
        assert_eq!(seen[0].body, golden::logs().encode_to_vec());
        assert_eq!(seen[1].path, "/v1/traces");
        assert_eq!(seen[1].body, golden::traces().encode_to_vec());
        assert_eq!(seen[1].headers["content-type"], "application/x-protobuf");
        assert!(seen[1].headers["user-agent"].to_str().unwrap().starts_with("otelbox/"));
        wait_until("sent", || {
            counters.traces.sent.load(Ordering::Relaxed) == 2 && counters.logs.sent.load(Ordering::Relaxed) == 3
        })
        .await;
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn a_server_certificate_that_does_not_verify_is_retryable_unless_verification_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        make_certs(dir.path());
        let upstream = Arc::new(Upstream::default());
        let addr = serve_tls(upstream.clone(), server_tls(dir.path(), false)).await;
        let ca = |name: &str| dir.path().join(name).display().to_string();
        let body = || Bytes::from(golden::logs().encode_to_vec());
        let attempt = |exporter: String| async move {
            let sending = transport(&exporter);
            sending.export(Signal::Logs, body()).await
        };

        let stranger = attempt(format!(
            "endpoint: https://{addr}\ncompression: none\ntls: {{ ca_file: {}, server_name_override: tempo.internal }}",
            ca("stranger.pem")
        ))
        .await;
        let wrong_name = attempt(format!(
            "endpoint: https://{addr}\ncompression: none\ntls: {{ ca_file: {} }}",
            ca("ca.pem")
        ))
        .await;
        for (what, outcome) in [("an unknown CA", stranger), ("a name the certificate lacks", wrong_name)] {
            match outcome {
                Err(SendError::Retryable { message, .. }) => assert!(
                    message.starts_with(&format!("cannot send to https://{addr}/v1/logs: ")) && message.contains("certificate"),
                    "{what}: {message}"
                ),
                other => panic!("{what}: {other:?}"),
            }
        }
        assert!(upstream.seen().is_empty(), "nothing reached the server");

        let skipped = attempt(format!(
            "endpoint: https://{addr}\ncompression: none\ntls: {{ insecure_skip_verify: true }}"
        ))
        .await;
        assert_eq!(skipped, Ok(Delivered::default()));
        assert_eq!(upstream.wait_for(1).await[0].body, golden::logs().encode_to_vec());
    }

    #[tokio::test]
    async fn min_and_max_version_decide_whether_a_tls_1_2_only_server_is_reached() {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        let dir = tempfile::tempdir().unwrap();
        make_certs(dir.path());
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(dir.path().join("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(dir.path().join("server.key")).unwrap();
        let tls12_only = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let upstream = Arc::new(Upstream::default());
        let addr = serve_tls(upstream.clone(), Arc::new(tls12_only)).await;
        let ca = dir.path().join("ca.pem").display().to_string();
        let attempt = |versions: &str| {
            let exporter = format!(
                "endpoint: https://{addr}\ncompression: none\ntls: {{ ca_file: {ca}, server_name_override: tempo.internal, {versions} }}"
            );
            async move {
                let sending = transport(&exporter);
                sending
                    .export(Signal::Metrics, Bytes::from(golden::metrics().encode_to_vec()))
                    .await
            }
        };
        assert!(attempt("min_version: '1.3'").await.is_err(), "1.3 at least: no common version");
        assert_eq!(attempt("max_version: '1.2'").await, Ok(Delivered::default()));
        assert_eq!(attempt("min_version: '1.1'").await, Ok(Delivered::default()));
        assert_eq!(upstream.wait_for(2).await.len(), 2);
    }

    #[tokio::test]
    async fn unreadable_tls_files_fail_at_start_up_naming_the_file_when_https_is_used() {
        let config = settings("endpoint: https://tempo:4318\ntls: { ca_file: /nonexistent/ca.pem }");
        let err = exporter(&upstream_id(), &config, None, None, PerSignal::detached("x"))
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "exporter otlphttp/tempo: cannot read the tls.ca_file /nonexistent/ca.pem: I/O error: No such file or directory (os error 2)"
        );
        let plain = settings("endpoint: http://tempo:4318\ntls: { ca_file: /nonexistent/ca.pem }");
        assert!(!plain.uses_tls());
        let exporter = exporter(&upstream_id(), &plain, None, None, PerSignal::detached("x")).expect("tls is only for https:// URLs");
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[test]
    fn error_answers_are_summarised_for_the_log() {
        let status = RpcStatus {
            code: 3,
            message: "bad span id".into(),
            details: vec![],
        };
        assert_eq!(error_detail(&status.encode_to_vec(), false), "bad span id");
        assert_eq!(error_detail(br#"{"code":3,"message":"bad trace id"}"#, true), "bad trace id");
        assert_eq!(error_detail(b"404 page not found\n", false), "404 page not found");
        assert_eq!(error_detail(&[b'x'; 1000], false).len(), 300);
    }

    #[test]
    fn endpoints_resolve_to_one_url_per_signal() {
        let config = settings("endpoint: http://collector:4318/\nmetrics_endpoint: http://mimir:9009/otlp/v1/metrics");
        let urls: Vec<String> = Signal::ALL.iter().map(|s| config.url(*s).unwrap().to_string()).collect();
        assert_eq!(
            urls,
            [
                "http://collector:4318/v1/traces",
                "http://mimir:9009/otlp/v1/metrics",
                "http://collector:4318/v1/logs"
            ]
        );
        let only_traces = settings("traces_endpoint: http://tempo:4318/v1/traces");
        assert_eq!(only_traces.url(Signal::Logs), None);
        assert_eq!(only_traces.encoding, Encoding::Proto);
        assert_eq!(only_traces.compression, Compression::Gzip);
        assert_eq!(only_traces.tls, ClientTlsSettings::default());
        assert_eq!(only_traces.sender, SenderSettings::default());
        let tls = settings("endpoint: https://collector:4318\nmetrics_endpoint: http://mimir:9009/otlp/v1/metrics");
        assert_eq!(tls.url(Signal::Logs).unwrap().as_str(), "https://collector:4318/v1/logs");
        assert!(tls.uses_tls());
    }

    #[test]
    fn sending_queue_batch_is_accepted() {
        let config = settings(
            "endpoint: http://collector:4318\nsending_queue:\n  sizer: items\n  queue_size: 200000\n  batch: { flush_timeout: 1s, min_size: 1000, max_size: 10000 }",
        );
        let batch = config.sender.queue.batch.unwrap();
        assert_eq!(
            (batch.flush_timeout, batch.min_size, batch.max_size),
            (Duration::from_secs(1), 1000, 10000)
        );
        assert_eq!(
            errors("endpoint: http://collector:4318\nsending_queue: { batch: { flush_timeout: 0s } }"),
            vec!["exporters.otlphttp/tempo.sending_queue.batch.flush_timeout: must be greater than 0"]
        );
    }

    #[tokio::test]
    async fn a_signal_without_a_url_is_dropped_with_the_reason() {
        let counters = PerSignal::detached("x");
        let config = settings("traces_endpoint: http://127.0.0.1:9/v1/traces");
        let exporter = exporter(&upstream_id(), &config, None, None, counters.clone()).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::logs())).await.unwrap();
        wait_until("dropped", || counters.logs.dropped.load(Ordering::Relaxed) == 3).await;
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    /// A full config with an enabled `bearertokenauth/tempo` and this exporter body as `otlphttp/tempo`.
    fn config_with_authenticator(exporter: &str) -> Result<Config, Vec<String>> {
        let yaml = format!(
            "extensions: {{ bearertokenauth/tempo: {{ token: s3cret }} }}\nreceivers: {{ otlp: {{ protocols: {{ http: {{}} }} }} }}\nexporters:\n  otlphttp/tempo:\n{}\nservice:\n  extensions: [bearertokenauth/tempo]\n  pipelines:\n    logs: {{ receivers: [otlp], exporters: [otlphttp/tempo] }}\n",
            exporter.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
        );
        crate::components::parse_config(&yaml).map_err(|e| e.0)
    }

    #[test]
    fn auth_names_its_client_authenticator_as_an_extension_reference() {
        use crate::config::ComponentType;
        let config = config_with_authenticator("endpoint: http://tempo:4318\nauth: { authenticator: bearertokenauth/tempo }")
            .unwrap_or_else(|e| panic!("{e:?}"));
        let component = config.component(Kind::Exporter, &upstream_id()).unwrap();
        let authenticator = ComponentId::parse("bearertokenauth/tempo").unwrap();
        assert_eq!(component.settings.get::<OtlpHttpExporterConfig>().auth, Some(authenticator.clone()));
        assert_eq!(
            Factory.extension_refs(&component.settings),
            [(crate::exporter::AUTHENTICATOR_REF.to_string(), authenticator)],
            "the service tells it from a storage reference by this path"
        );
        assert_eq!(settings("endpoint: http://tempo:4318").auth, None);
    }

    #[test]
    fn auth_errors_name_their_paths() {
        assert_eq!(
            errors("endpoint: http://tempo:4318\nauth: { authenticator: bearertokenauth/tempo }"),
            vec!["exporters.otlphttp/tempo.auth.authenticator: refers to extension \"bearertokenauth/tempo\" which is not configured"]
        );
        let errors = |exporter: &str| config_with_authenticator(exporter).expect_err("config errors");
        assert_eq!(
            errors("endpoint: http://tempo:4318\nauth: {}"),
            vec!["exporters.otlphttp/tempo.auth: authenticator is required (the id of a bearertokenauth or basicauth extension)"]
        );
        assert_eq!(
            errors("endpoint: http://tempo:4318\nauth: { authenticator: bearertokenauth/tempo, scheme: Basic }"),
            vec!["exporters.otlphttp/tempo.auth.scheme: unknown key (expected one of: authenticator)"]
        );
        assert_eq!(
            errors("endpoint: http://tempo:4318\nheaders: { Authorization: Bearer x }\nauth: { authenticator: bearertokenauth/tempo }"),
            vec!["exporters.otlphttp/tempo.headers.authorization: conflicts with auth.authenticator, which sets the Authorization header; remove one of the two"]
        );
    }

    #[tokio::test]
    async fn the_authenticator_value_is_the_authorization_header_of_every_request() {
        let upstream = Arc::new(Upstream::default());
        let addr = serve(upstream.clone()).await;
        let config = settings(&format!(
            "endpoint: http://{addr}\nheaders: {{ x-scope-orgid: team-a }}\n{}",
            quick_retries()
        ));
        let authorization = ClientAuthorization::fixed(HeaderValue::from_static("Bearer s3cret"));
        let exporter = exporter(&upstream_id(), &config, Some(&authorization), None, PerSignal::detached("x")).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::traces())).await.unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::metrics())).await.unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::logs())).await.unwrap();
        let seen = upstream.wait_for(3).await;
        for request in &seen {
            assert_eq!(request.headers["authorization"], "Bearer s3cret", "{}", request.path);
            assert_eq!(request.headers["x-scope-orgid"], "team-a", "alongside the configured headers");
        }
        assert!(
            transport(&format!("endpoint: http://{addr}")).headers.get(AUTHORIZATION).is_none(),
            "no auth, no header"
        );
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[test]
    fn config_errors_name_their_paths() {
        assert_eq!(
            errors("encoding: json"),
            vec!["exporters.otlphttp/tempo: endpoint is required (the base URL of the OTLP/HTTP receiver, e.g. http://collector:4318), or traces_endpoint, metrics_endpoint and logs_endpoint"]
        );
        assert_eq!(
            errors("endpoint: ftp://tempo:4318"),
            vec!["exporters.otlphttp/tempo.endpoint: expected an http:// or https:// URL like https://collector:4318, got 'ftp://tempo:4318'"]
        );
        assert_eq!(
            errors("endpoint: tempo:4318\nlogs_endpoint: 12\nencoding: yaml\ncompression: lz4\nheaders: { 'x y': z }\ntls: { verify: false }\nproxy: x\nsending_queue: { queue_size: 0 }\nretry_on_failure: { max_elapsed_time: 5 }"),
            vec![
                "exporters.otlphttp/tempo.proxy: unknown key (expected one of: endpoint, traces_endpoint, metrics_endpoint, logs_endpoint, tls, encoding, compression, headers, auth, timeout, retry_on_failure, sending_queue)",
                "exporters.otlphttp/tempo.endpoint: expected an http:// or https:// URL like https://collector:4318, got 'tempo:4318'",
                "exporters.otlphttp/tempo.logs_endpoint: expected a string, got a number",
                "exporters.otlphttp/tempo.tls.verify: unknown key (expected one of: insecure, insecure_skip_verify, ca_file, cert_file, key_file, server_name_override, min_version, max_version)",
                "exporters.otlphttp/tempo.encoding: expected proto or json, got 'yaml'",
                "exporters.otlphttp/tempo.compression: expected gzip, zstd or none, got 'lz4'",
                "exporters.otlphttp/tempo.headers.x y: not a valid header name",
                "exporters.otlphttp/tempo.retry_on_failure.max_elapsed_time: expected a duration like 200ms or 5s, got a number",
                "exporters.otlphttp/tempo.sending_queue.queue_size: must be between 1 and 1000000",
            ]
        );
    }
}
