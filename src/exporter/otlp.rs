//! The `otlp` exporter: forwards to another OTLP/gRPC receiver (a Collector, a vendor, another
//! otelbox) through the shared sender (persistent queue, retries; see `sender.rs`).
//!
//! ```yaml
//! exporters:
//!   otlp/upstream:
//!     endpoint: collector.example.com:4317   # or http://host:port (plaintext), https://host:port
//!     tls: { ca_file: ca.pem, cert_file: client.pem, key_file: client.key }   # or { insecure: true }
//!     headers: { authorization: "Bearer ${env:TOKEN}" }
//!     compression: gzip                        # gzip (default) | zstd | none
//!     timeout: 5s
//!     retry_on_failure: { initial_interval: 5s, max_interval: 30s, max_elapsed_time: 300s }
//!     sending_queue: { num_consumers: 10, queue_size: 1000 }
//! ```
//!
//! As in the Collector, a `host:port` endpoint uses TLS unless `tls.insecure: true`; an `http://`
//! endpoint is plaintext and `https://` is TLS. TLS trusts `tls.ca_file`, or else the system's CA
//! bundle; `cert_file` + `key_file` present a client certificate (mTLS).
//!
//! Requests are a generic unary call to `/opentelemetry.proto.collector.<signal>.v1.<Signal>Service/Export`
//! whose body is the queued protobuf as it is (no decode and re-encode on the way out).

use super::retry::{classify_grpc, SendError};
use super::sender::{
    error_chain, parse_compression, parse_headers, parse_sender, Compression, Delivered, Headers, Sender, SenderSettings, Transport,
    SENDER_KEYS,
};
use crate::config::{ComponentId, Parser};
use crate::pdata::Signal;
use crate::pipeline::{Consumer, Envelope, PipelineData, PipelineError};
use crate::telemetry::PerSignal;
use bytes::{BufMut, Bytes};
use futures::future::BoxFuture;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use serde_yaml_ng::Value;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tonic::codec::{Codec, CompressionEncoding, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

#[derive(Clone, Debug, PartialEq)]
pub struct OtlpExporterConfig {
    /// `http://host:port` or `https://host:port`: the endpoint with TLS decided.
    pub uri: String,
    /// `Some` when the connection uses TLS.
    pub tls: Option<ClientTls>,
    pub headers: Headers,
    pub compression: Compression,
    pub sender: SenderSettings,
}

/// The client side of TLS: whom to trust and what to present.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientTls {
    /// None: the system's CA bundle.
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key (both or neither).
    pub client: Option<(PathBuf, PathBuf)>,
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> OtlpExporterConfig {
    let mut config = OtlpExporterConfig {
        uri: String::new(),
        tls: None,
        headers: Headers::default(),
        compression: Compression::Gzip,
        sender: SenderSettings::default(),
    };
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let mut keys = vec!["endpoint", "tls", "headers", "compression"];
    keys.extend(SENDER_KEYS);
    p.only_keys(body, &keys, path);
    let tls = parse_tls(p, body.get("tls"), &format!("{path}.tls"));
    match body.get("endpoint") {
        None => p.error(path, "endpoint is required (host:port of the OTLP/gRPC receiver to forward to)"),
        Some(v) => {
            let at = format!("{path}.endpoint");
            if let Some(endpoint) = p.string(v, &at) {
                match split_endpoint(&endpoint) {
                    None => p.error(
                        &at,
                        format!("expected host:port, http://host:port or https://host:port, got '{endpoint}'"),
                    ),
                    Some((scheme, authority)) => {
                        let secure = match scheme {
                            Some("http") => false,
                            Some(_) => true,
                            None => !tls.insecure,
                        };
                        if !secure && (tls.settings.ca_file.is_some() || tls.settings.client.is_some()) {
                            p.error(
                                &format!("{path}.tls"),
                                "certificate files are set but the connection is plaintext (an http:// endpoint or tls.insecure: true)",
                            );
                        }
                        config.uri = format!("{}://{authority}", if secure { "https" } else { "http" });
                        config.tls = secure.then_some(tls.settings);
                    }
                }
            }
        }
    }
    config.headers = parse_headers(p, body.get("headers"), &format!("{path}.headers"), true);
    config.compression = parse_compression(p, body.get("compression"), &format!("{path}.compression"));
    config.sender = parse_sender(p, body, path);
    config
}

/// `(scheme, host:port)` of an endpoint written `host:port` or `scheme://host:port` (http or https).
fn split_endpoint(endpoint: &str) -> Option<(Option<&str>, &str)> {
    let (scheme, authority) = match endpoint.split_once("://") {
        Some((scheme @ ("http" | "https"), rest)) => (Some(scheme), rest.strip_suffix('/').unwrap_or(rest)),
        Some(_) => return None,
        None => (None, endpoint),
    };
    let parsed: http::uri::Authority = authority.parse().ok()?;
    let valid = parsed.port_u16().is_some() && !parsed.host().is_empty() && !authority.contains('@');
    valid.then_some((scheme, authority))
}

struct TlsSection {
    insecure: bool,
    settings: ClientTls,
}

fn parse_tls(p: &mut Parser, value: Option<&Value>, path: &str) -> TlsSection {
    let mut tls = TlsSection {
        insecure: false,
        settings: ClientTls::default(),
    };
    let Some(body) = p.mapping(value, path) else { return tls };
    p.only_keys(body, &["insecure", "ca_file", "cert_file", "key_file"], path);
    if let Some(v) = body.get("insecure") {
        tls.insecure = p.boolean(v, &format!("{path}.insecure")).unwrap_or(false);
    }
    let mut file = |key: &str| body.get(key).and_then(|v| p.string(v, &format!("{path}.{key}"))).map(PathBuf::from);
    let (ca, cert, key) = (file("ca_file"), file("cert_file"), file("key_file"));
    tls.settings.ca_file = ca;
    match (cert, key) {
        (Some(cert), Some(key)) => tls.settings.client = Some((cert, key)),
        (None, None) => {}
        _ => p.error(path, "cert_file and key_file go together (a client certificate and its key)"),
    }
    tls
}

/// Where Debian/Ubuntu, Fedora/RHEL, Alpine and openSUSE keep the system's CA bundle.
const SYSTEM_CA_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read the {what} {}: {e}", path.display()))
}

fn tls_config(tls: &ClientTls) -> anyhow::Result<ClientTlsConfig> {
    let ca = match &tls.ca_file {
        Some(file) => read_file(file, "tls.ca_file")?,
        None => {
            let bundle = SYSTEM_CA_BUNDLES.iter().map(Path::new).find(|p| p.is_file()).ok_or_else(|| {
                anyhow::anyhow!(
                    "TLS needs a CA to trust: set tls.ca_file (no system CA bundle found in {})",
                    SYSTEM_CA_BUNDLES.join(", ")
                )
            })?;
            read_file(bundle, "system CA bundle")?
        }
    };
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    if let Some((cert, key)) = &tls.client {
        config = config.identity(Identity::from_pem(
            read_file(cert, "tls.cert_file")?,
            read_file(key, "tls.key_file")?,
        ));
    }
    Ok(config)
}

pub struct OtlpExporter {
    sender: Sender,
}

impl OtlpExporter {
    /// `data_dir` is where a persistent sending queue lives (None: an in-memory box). Connects
    /// lazily, so a destination that is down at start-up only delays delivery.
    pub fn new(id: &ComponentId, config: &OtlpExporterConfig, data_dir: Option<&Path>, counters: PerSignal) -> anyhow::Result<Self> {
        let transport = GrpcTransport::new(config).map_err(|e| anyhow::anyhow!("exporter {id}: {e}"))?;
        let sender = Sender::start(id, Arc::new(transport), &config.sender, data_dir, counters)?;
        Ok(OtlpExporter { sender })
    }
}

impl<T: PipelineData> Consumer<T> for OtlpExporter {
    fn consume(&self, envelope: Envelope<T>) -> BoxFuture<'_, Result<(), PipelineError>> {
        Box::pin(self.sender.accept(envelope))
    }
    /// Signal-independent: the builder calls it once, through the traces side.
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.sender.shutdown())
    }
}

struct GrpcTransport {
    channel: Channel,
    uri: String,
    metadata: MetadataMap,
    compression: Option<CompressionEncoding>,
}

impl GrpcTransport {
    fn new(config: &OtlpExporterConfig) -> anyhow::Result<GrpcTransport> {
        let mut endpoint = Endpoint::from_shared(config.uri.clone())
            .map_err(|e| anyhow::anyhow!("invalid endpoint {}: {e}", config.uri))?
            .connect_timeout(config.sender.timeout)
            .tcp_nodelay(true);
        if let Some(tls) = &config.tls {
            endpoint = endpoint
                .tls_config(tls_config(tls)?)
                .map_err(|e| anyhow::anyhow!("TLS setup failed: {e}"))?;
        }
        let mut metadata = MetadataMap::new();
        for (name, value) in &config.headers.0 {
            let key = MetadataKey::from_bytes(name.as_str().as_bytes()).map_err(|e| anyhow::anyhow!("header {name}: {e}"))?;
            let value = MetadataValue::try_from(value.as_bytes()).map_err(|e| anyhow::anyhow!("header {name}: {e}"))?;
            metadata.append(key, value);
        }
        Ok(GrpcTransport {
            channel: endpoint.connect_lazy(),
            uri: config.uri.clone(),
            metadata,
            compression: match config.compression {
                Compression::None => None,
                Compression::Gzip => Some(CompressionEncoding::Gzip),
                Compression::Zstd => Some(CompressionEncoding::Zstd),
            },
        })
    }

    async fn call<R: prost::Message + Default + 'static>(&self, signal: Signal, body: Bytes) -> Result<R, SendError> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd);
        if let Some(encoding) = self.compression {
            grpc = grpc.send_compressed(encoding);
        }
        grpc.ready()
            .await
            .map_err(|e| SendError::retryable(format!("cannot connect to {}: {}", self.uri, error_chain(&e))))?;
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        let path = http::uri::PathAndQuery::from_static(export_path(signal));
        match grpc.unary(request, path, PassThroughCodec::<R>(PhantomData)).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => Err(classify_grpc(&status)),
        }
    }
}

fn export_path(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    }
}

impl Transport for GrpcTransport {
    fn encode(&self, _signal: Signal, payload: Bytes) -> Result<Bytes, SendError> {
        // The queued protobuf is the request message; tonic compresses it.
        Ok(payload)
    }

    fn export(&self, signal: Signal, body: Bytes) -> BoxFuture<'_, Result<Delivered, SendError>> {
        Box::pin(async move {
            let partial = match signal {
                Signal::Traces => self
                    .call::<ExportTraceServiceResponse>(signal, body)
                    .await?
                    .partial_success
                    .map(|p| (p.rejected_spans, p.error_message)),
                Signal::Metrics => self
                    .call::<ExportMetricsServiceResponse>(signal, body)
                    .await?
                    .partial_success
                    .map(|p| (p.rejected_data_points, p.error_message)),
                Signal::Logs => self
                    .call::<ExportLogsServiceResponse>(signal, body)
                    .await?
                    .partial_success
                    .map(|p| (p.rejected_log_records, p.error_message)),
            };
            Ok(partial.map_or_else(Delivered::default, |(rejected, message)| Delivered {
                rejected: rejected.max(0) as u64,
                message,
            }))
        })
    }

    fn destination(&self, signal: Signal) -> String {
        format!("{}{}", self.uri, export_path(signal))
    }
}

/// Sends an already encoded request message as it is and decodes the response with prost.
struct PassThroughCodec<R>(PhantomData<R>);

impl<R: prost::Message + Default + 'static> Codec for PassThroughCodec<R> {
    type Encode = Bytes;
    type Decode = R;
    type Encoder = PassThroughEncoder;
    type Decoder = tonic_prost::ProstDecoder<R>;

    fn encoder(&mut self) -> Self::Encoder {
        PassThroughEncoder
    }
    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstDecoder::default()
    }
}

struct PassThroughEncoder;

impl Encoder for PassThroughEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}
