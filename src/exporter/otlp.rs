//! The `otlp` exporter: forwards to another OTLP/gRPC receiver (a Collector, a vendor, another
//! otelbox) through the shared sender (persistent queue, retries; see `sender.rs`).
//!
//! ```yaml
//! exporters:
//!   otlp/upstream:
//!     endpoint: collector.example.com:4317   # or http://host:port (plaintext), https://host:port
//!     tls: { ca_file: ca.pem, cert_file: client.pem, key_file: client.key }   # or { insecure: true }
//!     headers: { x-scope-orgid: team-a }
//!     auth: { authenticator: bearertokenauth/upstream }   # its Authorization with every request
//!     compression: gzip                        # gzip (default) | zstd | none
//!     timeout: 5s
//!     retry_on_failure: { initial_interval: 5s, max_interval: 30s, max_elapsed_time: 300s }
//!     sending_queue:
//!       num_consumers: 10
//!       queue_size: 1000
//!       batch: { flush_timeout: 200ms, min_size: 8192 }   # merge queued batches (see sender.rs)
//! ```
//!
//! As in the Collector, a `host:port` endpoint uses TLS unless `tls.insecure: true`; an `http://`
//! endpoint is plaintext and `https://` is TLS. TLS trusts `tls.ca_file`, or else the system's CA
//! bundle; `cert_file` + `key_file` present a client certificate (mTLS).
//!
//! `auth.authenticator` names a client authenticator extension (`bearertokenauth` with `token` or
//! `filename`, `basicauth` with `client_auth`, `oauth2client`) listed in `service.extensions`: the
//! service asks it for the `Authorization` value at start-up (`oauth2client`'s token: before every
//! call, none yet failing the call retryably) and every call carries it as `authorization` metadata.
//! An `authorization` in `headers` does the same by hand; both at once is an error.
//!
//! Requests are a generic unary call to `/opentelemetry.proto.collector.<signal>.v1.<Signal>Service/Export`
//! whose body is the queued protobuf as it is (no decode and re-encode on the way out).

use super::retry::{classify_grpc, SendError};
use super::sender::{
    error_chain, parse_auth, parse_compression, parse_headers, parse_sender, Compression, Delivered, Headers, Sender, SenderSettings,
    Transport, SENDER_KEYS,
};
use super::{ExporterContext, ExporterFactory};
use crate::config::{ComponentId, Parser, Settings};
use crate::extension::ClientAuthorization;
use crate::extension::StorageDir;
use crate::pdata::Signal;
use crate::pipeline::SignalConsumers;
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
use tonic::metadata::{AsciiMetadataValue, MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

#[derive(Clone, Debug, PartialEq)]
pub struct OtlpExporterConfig {
    /// `http://host:port` or `https://host:port`: the endpoint with TLS decided.
    pub uri: String,
    /// `Some` when the connection uses TLS.
    pub tls: Option<ClientTls>,
    pub headers: Headers,
    /// `auth.authenticator`: the client authenticator extension whose `Authorization` value every
    /// call carries.
    pub auth: Option<ComponentId>,
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

/// The `otlp` exporter type: every signal.
pub struct Factory;
crate::component_type!(Factory, "otlp", &Signal::ALL, parse, aliases: &["otlp_grpc"], refs: extension_refs);

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
fn extension_refs(config: &OtlpExporterConfig) -> Vec<(String, ComponentId)> {
    let mut refs = super::sender::storage_ref(&config.sender);
    refs.extend(super::sender::auth_ref(config.auth.as_ref()));
    refs
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> OtlpExporterConfig {
    let mut config = OtlpExporterConfig {
        uri: String::new(),
        tls: None,
        headers: Headers::default(),
        auth: None,
        compression: Compression::Gzip,
        sender: SenderSettings::default(),
    };
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let mut keys = vec!["endpoint", "tls", "headers", "auth", "compression"];
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
    config.auth = parse_auth(p, body, path, &config.headers);
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

fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read the {what} {}: {e}", path.display()))
}

fn tls_config(tls: &ClientTls) -> anyhow::Result<ClientTlsConfig> {
    let ca = match &tls.ca_file {
        Some(file) => read_file(file, "tls.ca_file")?,
        None => {
            let bundle = crate::tls::system_ca_bundle().ok_or_else(|| {
                anyhow::anyhow!(
                    "TLS needs a CA to trust: set tls.ca_file (no system CA bundle found in {})",
                    crate::tls::SYSTEM_CA_BUNDLES.join(", ")
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

/// The `otlp` exporter: the forwarding `Sender` over the gRPC transport. `authorization` is the
/// value of the client authenticator `auth` names (the service asks it), sent as `authorization`
/// metadata with every call. `queue_dir` is where a persistent sending queue lives (None: an
/// in-memory box). Connects lazily, so a destination that is down at start-up only delays delivery.
pub fn exporter(
    id: &ComponentId,
    config: &OtlpExporterConfig,
    authorization: Option<&ClientAuthorization>,
    queue_dir: Option<StorageDir<'_>>,
    counters: PerSignal,
) -> anyhow::Result<Sender> {
    let transport = GrpcTransport::new(config, authorization).map_err(|e| anyhow::anyhow!("exporter {id}: {e}"))?;
    Sender::start(id, Arc::new(transport), &config.sender, queue_dir, counters)
}

struct GrpcTransport {
    channel: Channel,
    uri: String,
    /// Sent as `grpc-timeout`, so the server gives up when the exporter does.
    timeout: std::time::Duration,
    metadata: MetadataMap,
    /// An `Authorization` that changes (an OAuth2 token), asked for before each call; a fixed one
    /// is in `metadata`.
    live_authorization: Option<ClientAuthorization>,
    compression: Option<CompressionEncoding>,
}

/// `authorization` metadata of an `Authorization` value, never showing the value in an error.
fn authorization_metadata(value: &http::HeaderValue) -> Result<AsciiMetadataValue, String> {
    let mut value = AsciiMetadataValue::try_from(value.as_bytes())
        .map_err(|_| "the authenticator's Authorization value is not valid gRPC metadata (visible ASCII only)".to_string())?;
    value.set_sensitive(true);
    Ok(value)
}

impl GrpcTransport {
    fn new(config: &OtlpExporterConfig, authorization: Option<&ClientAuthorization>) -> anyhow::Result<GrpcTransport> {
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
        let mut live_authorization = None;
        if let Some(authorization) = authorization {
            match authorization.fixed_value() {
                // Never the value in the message: it is a credential.
                Some(value) => {
                    metadata.insert("authorization", authorization_metadata(value).map_err(|e| anyhow::anyhow!(e))?);
                }
                None => live_authorization = Some(authorization.clone()),
            }
        }
        Ok(GrpcTransport {
            channel: endpoint.connect_lazy(),
            uri: config.uri.clone(),
            timeout: config.sender.timeout,
            metadata,
            live_authorization,
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
        if let Some(live) = &self.live_authorization {
            // No token now (or an unusable one) is retried: the batch waits in the queue.
            let value = live
                .current()
                .and_then(|value| authorization_metadata(&value))
                .map_err(|e| SendError::retryable(format!("no authorization to send: {e}")))?;
            request.metadata_mut().insert("authorization", value);
        }
        request.set_timeout(self.timeout);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Kind};
    use crate::exporter::sender::golden;
    use crate::pipeline::ack::AckToken;
    use crate::pipeline::{Consumer, Envelope, PipelineError};
    use crate::receiver::answer::Refusal;
    use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{MetricsService, MetricsServiceServer};
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
    use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceRequest};
    use prost::Message;
    use std::collections::VecDeque;
    use std::net::SocketAddr;
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    use tonic::{Request, Response, Status};

    /// What the test server got: the service, the request (re-encoded), its metadata, when.
    type Received = (&'static str, Vec<u8>, MetadataMap, Instant);

    /// A tiny OTLP/gRPC server that records requests and answers from a script (then OK).
    #[derive(Default)]
    struct Upstream {
        received: Mutex<Vec<Received>>,
        /// `Ok(n)`: success, with `n` rejected spans as a partial success when n > 0.
        script: Mutex<VecDeque<Result<i64, Status>>>,
    }

    impl Upstream {
        fn answer(&self, service: &'static str, request: Vec<u8>, metadata: MetadataMap) -> Result<i64, Status> {
            self.received.lock().unwrap().push((service, request, metadata, Instant::now()));
            self.script.lock().unwrap().pop_front().unwrap_or(Ok(0))
        }
        fn received(&self) -> Vec<Received> {
            self.received.lock().unwrap().clone()
        }
        async fn wait_for(&self, n: usize) -> Vec<Received> {
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.received.lock().unwrap().len() < n {
                assert!(
                    Instant::now() < deadline,
                    "the upstream got {} requests, expected {n}",
                    self.received().len()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            self.received()
        }
    }

    #[tonic::async_trait]
    impl TraceService for Upstream {
        async fn export(&self, request: Request<ExportTraceServiceRequest>) -> Result<Response<ExportTraceServiceResponse>, Status> {
            let metadata = request.metadata().clone();
            let rejected = self.answer("traces", request.into_inner().encode_to_vec(), metadata)?;
            let partial_success = (rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: "span 2 has no name".into(),
            });
            Ok(Response::new(ExportTraceServiceResponse { partial_success }))
        }
    }

    #[tonic::async_trait]
    impl MetricsService for Upstream {
        async fn export(&self, request: Request<ExportMetricsServiceRequest>) -> Result<Response<ExportMetricsServiceResponse>, Status> {
            let metadata = request.metadata().clone();
            self.answer("metrics", request.into_inner().encode_to_vec(), metadata)?;
            Ok(Response::new(ExportMetricsServiceResponse::default()))
        }
    }

    #[tonic::async_trait]
    impl LogsService for Upstream {
        async fn export(&self, request: Request<ExportLogsServiceRequest>) -> Result<Response<ExportLogsServiceResponse>, Status> {
            let metadata = request.metadata().clone();
            self.answer("logs", request.into_inner().encode_to_vec(), metadata)?;
            Ok(Response::new(ExportLogsServiceResponse::default()))
        }
    }

    async fn serve_on(upstream: Arc<Upstream>, listener: tokio::net::TcpListener) {
        let server = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::from_arc(upstream.clone()).accept_compressed(CompressionEncoding::Gzip))
            .add_service(MetricsServiceServer::from_arc(upstream.clone()).accept_compressed(CompressionEncoding::Gzip))
            .add_service(LogsServiceServer::from_arc(upstream).accept_compressed(CompressionEncoding::Gzip))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        tokio::spawn(server);
    }

    async fn serve(upstream: Arc<Upstream>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        serve_on(upstream, listener).await;
        addr
    }

    /// A full config with this exporter body as `otlp/upstream` in all three pipelines.
    fn config_with(exporter: &str) -> Result<Config, Vec<String>> {
        let yaml = format!(
            "receivers: {{ otlp: {{ protocols: {{ grpc: {{}}, http: {{}} }} }} }}\nexporters:\n  otlp/upstream:\n{}\nservice:\n  pipelines:\n    traces: {{ receivers: [otlp], exporters: [otlp/upstream] }}\n    metrics: {{ receivers: [otlp], exporters: [otlp/upstream] }}\n    logs: {{ receivers: [otlp], exporters: [otlp/upstream] }}\n",
            exporter.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
        );
        crate::components::parse_config(&yaml).map_err(|e| e.0)
    }

    fn settings(exporter: &str) -> OtlpExporterConfig {
        let config = config_with(exporter).unwrap_or_else(|e| panic!("{e:?}"));
        config
            .component(Kind::Exporter, &upstream_id())
            .unwrap()
            .settings
            .get::<OtlpExporterConfig>()
            .clone()
    }

    fn errors(exporter: &str) -> Vec<String> {
        config_with(exporter).expect_err("config errors")
    }

    fn upstream_id() -> ComponentId {
        ComponentId {
            kind: "otlp".into(),
            name: Some("upstream".into()),
        }
    }

    /// The spec's example, pointed at a local server, with quick retries.
    fn example(addr: SocketAddr) -> String {
        format!(
            "endpoint: {addr}\ntls:\n  insecure: true\nheaders:\n  authorization: Bearer s3cret\ncompression: gzip\ntimeout: 2s\nretry_on_failure:\n  initial_interval: 10ms\n  max_interval: 20ms\n  randomization_factor: 0\n"
        )
    }

    #[tokio::test]
    async fn the_yaml_example_forwards_every_signal_exactly_over_grpc() {
        let upstream = Arc::new(Upstream::default());
        let addr = serve(upstream.clone()).await;
        let counters = PerSignal::detached("exporter/otlp/upstream");
        let exporter = exporter(&upstream_id(), &settings(&example(addr)), None, None, counters.clone()).unwrap();

        let (ack, committed) = AckToken::new();
        Consumer::consume(&exporter, Envelope::new(golden::traces(), ack)).await.unwrap();
        assert_eq!(committed.await.unwrap(), Ok(()));
        Consumer::consume(&exporter, Envelope::unacked(golden::metrics())).await.unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::logs())).await.unwrap();

        let mut received = upstream.wait_for(3).await;
        received.sort_by_key(|r| r.0);
        let services: Vec<&str> = received.iter().map(|r| r.0).collect();
        assert_eq!(services, ["logs", "metrics", "traces"]);
        assert_eq!(received[0].1, golden::logs().encode_to_vec());
        assert_eq!(received[1].1, golden::metrics().encode_to_vec());
        assert_eq!(received[2].1, golden::traces().encode_to_vec());
        for (_, _, metadata, _) in &received {
            assert_eq!(metadata.get("authorization").unwrap(), "Bearer s3cret");
            assert_eq!(metadata.get("grpc-encoding").unwrap(), "gzip");
            assert_eq!(metadata.get("grpc-timeout").unwrap(), "2000000u", "the exporter's timeout");
        }
        let sent = |signal: Signal| counters.get(signal).sent.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(5);
        while (sent(Signal::Traces), sent(Signal::Metrics), sent(Signal::Logs)) != (2, 1, 3) {
            assert!(Instant::now() < deadline, "sent counters");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn the_authenticator_value_is_the_authorization_metadata_of_every_call() {
        let upstream = Arc::new(Upstream::default());
        let addr = serve(upstream.clone()).await;
        let config = settings(&format!("endpoint: http://{addr}\nheaders: {{ x-scope-orgid: team-a }}\n"));
        let authorization = ClientAuthorization::fixed(http::HeaderValue::from_static("Basic YWxpY2U6czNjcmV0"));
        let exporter = exporter(&upstream_id(), &config, Some(&authorization), None, PerSignal::detached("x")).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::traces())).await.unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::metrics())).await.unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::logs())).await.unwrap();
        let received = upstream.wait_for(3).await;
        for (service, _, metadata, _) in &received {
            assert_eq!(metadata.get("authorization").unwrap(), "Basic YWxpY2U6czNjcmV0", "{service}");
            assert_eq!(metadata.get("x-scope-orgid").unwrap(), "team-a", "alongside the configured headers");
        }
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[test]
    fn auth_names_a_configured_authenticator_and_excludes_an_authorization_header() {
        use crate::config::ComponentType;
        assert_eq!(
            errors("endpoint: c:1\nauth: { authenticator: bearertokenauth }"),
            vec!["exporters.otlp/upstream.auth.authenticator: refers to extension \"bearertokenauth\" which is not configured"]
        );
        let with_extension = |exporter: &str| {
            crate::components::parse_config(&format!(
                "extensions: {{ bearertokenauth: {{ token: s3cret }} }}\nreceivers: {{ otlp: {{ protocols: {{ grpc: {{}} }} }} }}\n\
                 exporters: {{ otlp/upstream: {exporter} }}\n\
                 service: {{ extensions: [bearertokenauth], pipelines: {{ traces: {{ receivers: [otlp], exporters: [otlp/upstream] }} }} }}\n"
            ))
            .map_err(|e| e.0)
        };
        let config = with_extension("{ endpoint: 'c:1', auth: { authenticator: bearertokenauth } }").unwrap_or_else(|e| panic!("{e:?}"));
        let component = config.component(Kind::Exporter, &upstream_id()).unwrap();
        let authenticator = ComponentId::parse("bearertokenauth").unwrap();
        assert_eq!(component.settings.get::<OtlpExporterConfig>().auth, Some(authenticator.clone()));
        assert_eq!(
            Factory.extension_refs(&component.settings),
            [(crate::exporter::AUTHENTICATOR_REF.to_string(), authenticator)]
        );
        assert_eq!(
            with_extension("{ endpoint: 'c:1', headers: { authorization: Bearer x }, auth: { authenticator: bearertokenauth } }")
                .map(|_| ())
                .unwrap_err(),
            vec!["exporters.otlp/upstream.headers.authorization: conflicts with auth.authenticator, which sets the Authorization header; remove one of the two"]
        );
    }

    #[tokio::test]
    async fn compression_none_sends_plain_messages() {
        let upstream = Arc::new(Upstream::default());
        let addr = serve(upstream.clone()).await;
        let config = settings(&format!("endpoint: http://{addr}\ncompression: none\n"));
        let exporter = exporter(&upstream_id(), &config, None, None, PerSignal::detached("x")).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::logs())).await.unwrap();
        let received = upstream.wait_for(1).await;
        assert_eq!(received[0].1, golden::logs().encode_to_vec());
        assert!(received[0].2.get("grpc-encoding").is_none());
        Consumer::<ExportLogsServiceRequest>::shutdown(&exporter).await;
    }

    /// What otelbox's own receiver answers when it is busy: the exporter reads its own dialect.
    fn unavailable_with_retry_info(delay: Duration) -> Status {
        Refusal::from(PipelineError::Retryable {
            message: "over the memory limit".into(),
            retry_after: delay,
        })
        .into_grpc()
    }

    #[tokio::test]
    async fn unavailable_is_retried_after_the_retry_info_delay() {
        let upstream = Arc::new(Upstream::default());
        upstream
            .script
            .lock()
            .unwrap()
            .push_back(Err(unavailable_with_retry_info(Duration::from_millis(300))));
        let addr = serve(upstream.clone()).await;
        let counters = PerSignal::detached("x");
        let exporter = exporter(&upstream_id(), &settings(&example(addr)), None, None, counters.clone()).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::traces())).await.unwrap();
        let received = upstream.wait_for(2).await;
        assert_eq!(received[0].1, received[1].1, "the same batch again");
        let gap = received[1].3 - received[0].3;
        assert!(gap >= Duration::from_millis(300), "waited only {gap:?} (backoff alone is 10ms)");
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn permanent_errors_and_partial_successes_are_counted_as_dropped() {
        let upstream = Arc::new(Upstream::default());
        upstream
            .script
            .lock()
            .unwrap()
            .extend([Err(Status::invalid_argument("bad trace id")), Ok(1)]);
        let addr = serve(upstream.clone()).await;
        let counters = PerSignal::detached("x");
        let mut config = settings(&example(addr));
        config.sender.queue.num_consumers = 1;
        let exporter = exporter(&upstream_id(), &config, None, None, counters.clone()).unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::traces())).await.unwrap();
        Consumer::consume(&exporter, Envelope::unacked(golden::traces())).await.unwrap();
        let traces = counters.get(Signal::Traces);
        let deadline = Instant::now() + Duration::from_secs(5);
        while traces.dropped.load(Ordering::Relaxed) + traces.sent.load(Ordering::Relaxed) < 4 {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(upstream.received().len(), 2, "the permanent error was not retried");
        assert_eq!(traces.dropped.load(Ordering::Relaxed), 2 + 1, "a whole batch and one rejected span");
        assert_eq!(traces.sent.load(Ordering::Relaxed), 1);
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
    }

    #[tokio::test]
    async fn a_destination_that_comes_up_later_gets_what_was_queued_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let counters = PerSignal::detached("x");
        let exporter = exporter(
            &upstream_id(),
            &settings(&example(addr)),
            None,
            Some(StorageDir::new(dir.path())),
            counters.clone(),
        )
        .unwrap();
        let (ack, committed) = AckToken::new();
        Consumer::consume(&exporter, Envelope::new(golden::logs(), ack)).await.unwrap();
        assert_eq!(committed.await.unwrap(), Ok(()), "accepted while the destination is down");
        assert!(dir.path().join("queues/otlp%2Fupstream.db").is_file());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(counters.logs.queued.load(Ordering::Relaxed), 3);

        let upstream = Arc::new(Upstream::default());
        serve_on(upstream.clone(), tokio::net::TcpListener::bind(addr).await.unwrap()).await;
        let received = upstream.wait_for(1).await;
        assert_eq!(received[0].1, golden::logs().encode_to_vec());
        // The upstream has the batch; the worker removes it from the queue once the answer is in.
        let deadline = Instant::now() + Duration::from_secs(5);
        while counters.logs.queued.load(Ordering::Relaxed) != 0 {
            assert!(Instant::now() < deadline, "the delivered batch left the queue");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Consumer::<ExportTraceServiceRequest>::shutdown(&exporter).await;
        assert_eq!(counters.logs.dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_endpoint_and_tls_settings_decide_the_connection() {
        let tls = |c: &OtlpExporterConfig| (c.uri.clone(), c.tls.clone());
        assert_eq!(
            tls(&settings("endpoint: collector:4317")),
            ("https://collector:4317".into(), Some(ClientTls::default())),
            "TLS unless told otherwise, as in the Collector"
        );
        assert_eq!(
            tls(&settings("endpoint: collector:4317\ntls: { insecure: true }")),
            ("http://collector:4317".into(), None)
        );
        assert_eq!(
            tls(&settings("endpoint: http://10.0.0.1:4317/")),
            ("http://10.0.0.1:4317".into(), None)
        );
        assert_eq!(
            tls(&settings(
                "endpoint: https://[::1]:4317\ntls: { ca_file: /etc/ca.pem, cert_file: c.pem, key_file: c.key }"
            )),
            (
                "https://[::1]:4317".into(),
                Some(ClientTls {
                    ca_file: Some("/etc/ca.pem".into()),
                    client: Some(("c.pem".into(), "c.key".into())),
                })
            )
        );
        let defaults = settings("endpoint: collector:4317");
        assert_eq!(defaults.compression, Compression::Gzip);
        assert_eq!(defaults.sender, SenderSettings::default());
        assert_eq!(defaults.sender.timeout, Duration::from_secs(5));
        assert_eq!(defaults.sender.queue.queue_size, 1000);
        assert_eq!(defaults.sender.retry.max_elapsed_time, Some(Duration::from_secs(300)));
        assert_eq!(defaults.sender.queue.batch, None);
        let batched = settings("endpoint: collector:4317\nsending_queue: { batch: {} }");
        assert_eq!(
            batched.sender.queue.batch,
            Some(crate::exporter::queue::BatchSettings::default()),
            "sending_queue.batch: the Collector's exporter batching"
        );
    }

    #[test]
    fn config_errors_name_their_paths() {
        assert_eq!(
            errors("compression: gzip"),
            vec!["exporters.otlp/upstream: endpoint is required (host:port of the OTLP/gRPC receiver to forward to)"]
        );
        assert_eq!(
            errors("endpoint: collector"),
            vec!["exporters.otlp/upstream.endpoint: expected host:port, http://host:port or https://host:port, got 'collector'"]
        );
        assert_eq!(
            errors("endpoint: grpc://collector:4317"),
            vec![
                "exporters.otlp/upstream.endpoint: expected host:port, http://host:port or https://host:port, got 'grpc://collector:4317'"
            ]
        );
        assert_eq!(
            errors("endpoint: http://collector:4317/v1/traces"),
            vec!["exporters.otlp/upstream.endpoint: expected host:port, http://host:port or https://host:port, got 'http://collector:4317/v1/traces'"]
        );
        assert_eq!(
            errors("endpoint: c:1\ntls: { insecure: true, ca_file: ca.pem, verify: false }\ncompression: br\ntimeout: 0s\nsending_queue: { num_consumers: 0 }\nbatch: {}"),
            vec![
                "exporters.otlp/upstream.batch: unknown key (expected one of: endpoint, tls, headers, auth, compression, timeout, retry_on_failure, sending_queue)",
                "exporters.otlp/upstream.tls.verify: unknown key (expected one of: insecure, ca_file, cert_file, key_file)",
                "exporters.otlp/upstream.tls: certificate files are set but the connection is plaintext (an http:// endpoint or tls.insecure: true)",
                "exporters.otlp/upstream.compression: expected gzip, zstd or none, got 'br'",
                "exporters.otlp/upstream.timeout: must be greater than 0",
                "exporters.otlp/upstream.sending_queue.num_consumers: must be between 1 and 1000",
            ]
        );
        assert_eq!(
            errors("endpoint: c:1\ntls: { cert_file: c.pem }\nretry_on_failure: { multiplier: 0 }\nheaders: { x-token-bin: abc }"),
            vec![
                "exporters.otlp/upstream.tls: cert_file and key_file go together (a client certificate and its key)",
                "exporters.otlp/upstream.headers.x-token-bin: binary (-bin) gRPC metadata is not supported; use a text header",
                "exporters.otlp/upstream.retry_on_failure.multiplier: must be between 1 and 1000",
            ]
        );
    }

    #[tokio::test]
    async fn unreadable_tls_files_fail_at_start_up_naming_the_file() {
        let config = settings("endpoint: collector:4317\ntls: { ca_file: /nonexistent/ca.pem }");
        let err = exporter(&upstream_id(), &config, None, None, PerSignal::detached("x"))
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "exporter otlp/upstream: cannot read the tls.ca_file /nonexistent/ca.pem: No such file or directory (os error 2)"
        );
    }
}
