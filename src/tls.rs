//! TLS (rustls with the ring provider) for every listener and for the HTTP exporters' connections.
//!
//! Listening: a server config from PEM certificate and key files, optionally requiring client
//! certificates signed by a CA (mTLS, offered for ingest), and a listener that completes handshakes
//! off the accept loop, so one slow or hostile client cannot hold up the others.
//!
//! Connecting: `client_config` builds a client config from the Collector's `tls` settings of an
//! exporter (`ClientTlsSettings`: the CA to trust or the system's bundle, a client certificate, a
//! server name override, the version range, or no verification at all), and `https_client` is
//! hyper-util's pooled client over `HttpsConnector`, which opens TLS connections offering HTTP/2 and
//! HTTP/1.1.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::server::TlsStream;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The PEM files `--tls-cert`, `--tls-key` and (optionally) `--tls-client-ca` name.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path, what: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("cannot read the {what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("the {what} {} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

/// A server config for one listener. `client_auth` asks for client certificates from `client_ca`
/// (when one is configured); `alpn` lists the protocols offered (gRPC needs `h2`).
pub fn server_config(files: &TlsFiles, client_auth: bool, alpn: &[&[u8]]) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs = read_certs(&files.cert, "TLS certificate")?;
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| anyhow::anyhow!("cannot read the TLS key {}: {e}", files.key.display()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS setup failed: {e}"))?;
    let builder = match (&files.client_ca, client_auth) {
        (Some(ca), true) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs(ca, "client CA")? {
                roots
                    .add(cert)
                    .map_err(|e| anyhow::anyhow!("the client CA {} is not usable: {e}", ca.display()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| anyhow::anyhow!("the client CA {} is not usable: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        anyhow::anyhow!(
            "the TLS certificate {} and key {} do not form a usable pair: {e}",
            files.cert.display(),
            files.key.display()
        )
    })?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Accepts TCP connections and hands back finished TLS streams through a channel; failed handshakes
/// are logged at debug level and dropped. The accept task ends when the receiving side is dropped.
fn spawn_acceptor(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)> {
    let (sender, receiver) = mpsc::channel(64);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = sender.closed() => return,
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, sender) = (acceptor.clone(), sender.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let _ = sender.send((stream, peer)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    receiver
}

/// An axum listener serving TLS.
pub struct TlsListener {
    streams: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        Ok(TlsListener {
            streams: spawn_acceptor(listener, config),
            local,
        })
    }

    /// The same streams for tonic's `serve_with_incoming`.
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<TlsStream<TcpStream>, std::io::Error>> {
        tokio_stream::wrappers::ReceiverStream::new(self.streams).map(|(stream, _)| Ok(stream))
    }
}

use tokio_stream::StreamExt;

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.streams.recv().await {
            Some(pair) => pair,
            // The acceptor only stops when this side is dropped, so this cannot happen while we wait.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Where Debian/Ubuntu, Fedora/RHEL, Alpine and openSUSE keep the system's CA bundle.
pub const SYSTEM_CA_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

/// The system's CA bundle, if this machine has one where `SYSTEM_CA_BUNDLES` looks.
pub fn system_ca_bundle() -> Option<&'static Path> {
    SYSTEM_CA_BUNDLES.into_iter().map(Path::new).find(|p| p.is_file())
}

/// A TLS protocol version rustls speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// The client side of TLS as the Collector's `tls` settings of an exporter describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientTlsSettings {
    /// The CA certificates to trust; None: the system's bundle.
    pub ca_file: Option<PathBuf>,
    /// A client certificate and its key, presented when the server asks for one (mTLS).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Take any certificate for the server's (`insecure_skip_verify`): the connection is encrypted
    /// but not authenticated.
    pub insecure_skip_verify: bool,
    /// The name the server's certificate must carry, and SNI sends, instead of the URL's host.
    pub server_name_override: Option<String>,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
}

impl Default for ClientTlsSettings {
    fn default() -> Self {
        ClientTlsSettings {
            ca_file: None,
            client_cert: None,
            insecure_skip_verify: false,
            server_name_override: None,
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
        }
    }
}

/// `text` as a TLS server name (a DNS name or an IP address), if it is one.
pub fn server_name(text: &str) -> Option<ServerName<'static>> {
    let bare = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    ServerName::try_from(bare.to_string()).ok()
}

/// A client config for `settings`, offering the `alpn` protocols. Reads the certificate files now,
/// so a missing or unusable one is an error naming it.
pub fn client_config(settings: &ClientTlsSettings, alpn: &[&[u8]]) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if settings.max_version >= TlsVersion::Tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if settings.min_version <= TlsVersion::Tls12 {
        versions.push(&rustls::version::TLS12);
    }
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| anyhow::anyhow!("TLS setup failed: {e}"))?;
    let builder = if settings.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCertificate(provider)))
    } else {
        builder.with_root_certificates(trusted_roots(settings.ca_file.as_deref())?)
    };
    let mut config = match &settings.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let certs = read_certs(cert, "tls.cert_file")?;
            let key_der =
                PrivateKeyDer::from_pem_file(key).map_err(|e| anyhow::anyhow!("cannot read the tls.key_file {}: {e}", key.display()))?;
            builder.with_client_auth_cert(certs, key_der).map_err(|e| {
                anyhow::anyhow!(
                    "the tls.cert_file {} and tls.key_file {} do not form a usable pair: {e}",
                    cert.display(),
                    key.display()
                )
            })?
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The CA certificates of `ca_file`, or else of the system's bundle.
fn trusted_roots(ca_file: Option<&Path>) -> anyhow::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(file) => {
            for cert in read_certs(file, "tls.ca_file")? {
                roots
                    .add(cert)
                    .map_err(|e| anyhow::anyhow!("the tls.ca_file {} is not usable: {e}", file.display()))?;
            }
        }
        None => {
            let bundle = system_ca_bundle().ok_or_else(|| {
                anyhow::anyhow!(
                    "TLS needs a CA to trust: set tls.ca_file (no system CA bundle found in {})",
                    SYSTEM_CA_BUNDLES.join(", ")
                )
            })?;
            let (added, _) = roots.add_parsable_certificates(read_certs(bundle, "system CA bundle")?);
            if added == 0 {
                anyhow::bail!(
                    "the system CA bundle {} holds no usable certificate; set tls.ca_file",
                    bundle.display()
                );
            }
        }
    }
    Ok(roots)
}

/// `insecure_skip_verify`, as Go's `InsecureSkipVerify`: whatever certificate the server shows is
/// taken for its own. The handshake's signatures are still checked, so the traffic is encrypted to
/// whoever holds that certificate's key.
#[derive(Debug)]
struct AnyServerCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// hyper-util's pooled HTTP client over TLS connections (HTTP/2 when the server offers it, else
/// HTTP/1.1), its request bodies axum's.
pub type HttpsClient = hyper_util::client::legacy::Client<HttpsConnector, axum::body::Body>;

/// An `HttpsClient` for `settings`; a connection attempt gives up after `connect_timeout`.
pub fn https_client(settings: &ClientTlsSettings, connect_timeout: Duration) -> anyhow::Result<HttpsClient> {
    let config = client_config(settings, &[b"h2", b"http/1.1"])?;
    let server_name = match &settings.server_name_override {
        None => None,
        Some(name) => Some(
            server_name(name).ok_or_else(|| anyhow::anyhow!("tls.server_name_override: '{name}' is not a host name or an IP address"))?,
        ),
    };
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(connect_timeout));
    let connector = HttpsConnector {
        tcp,
        tls: tokio_rustls::TlsConnector::from(config),
        server_name,
    };
    Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .timer(hyper_util::rt::TokioTimer::new())
        .build(connector))
}

/// Opens the connections of an `HttpsClient`: TCP through hyper-util's `HttpConnector` (DNS, the
/// connect timeout), then the TLS handshake for the URL's host or the server name override.
#[derive(Clone)]
pub struct HttpsConnector {
    tcp: hyper_util::client::legacy::connect::HttpConnector,
    tls: tokio_rustls::TlsConnector,
    server_name: Option<ServerName<'static>>,
}

impl tower::Service<http::Uri> for HttpsConnector {
    type Response = HttpsStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpsStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let (tcp, tls) = (self.tcp.clone(), self.tls.clone());
        let name = self.server_name.clone();
        Box::pin(async move {
            if uri.scheme_str() != Some("https") {
                return Err(BoxError::from(format!("{uri} is not an https:// URL")));
            }
            let name = match name {
                Some(name) => name,
                None => {
                    let host = uri.host().unwrap_or_default();
                    server_name(host).ok_or_else(|| BoxError::from(format!("'{host}' is not a valid TLS server name")))?
                }
            };
            let tcp = tower::ServiceExt::oneshot(tcp, uri).await?.into_inner();
            let stream = tls.connect(name, tcp).await?;
            let h2 = stream.get_ref().1.alpn_protocol() == Some(&b"h2"[..]);
            Ok(HttpsStream {
                io: hyper_util::rt::TokioIo::new(stream),
                h2,
            })
        })
    }
}

/// One TLS connection of an `HttpsClient`, telling the pool whether the server chose HTTP/2.
pub struct HttpsStream {
    io: hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<TcpStream>>,
    h2: bool,
}

impl hyper_util::client::legacy::connect::Connection for HttpsStream {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        let connected = hyper_util::client::legacy::connect::Connected::new();
        if self.h2 {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl hyper::rt::Read for HttpsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: hyper::rt::ReadBufCursor<'_>) -> Poll<std::io::Result<()>> {
        hyper::rt::Read::poll_read(Pin::new(&mut self.get_mut().io), cx, buf)
    }
}

impl hyper::rt::Write for HttpsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        hyper::rt::Write::poll_write(Pin::new(&mut self.get_mut().io), cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        hyper::rt::Write::poll_flush(Pin::new(&mut self.get_mut().io), cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        hyper::rt::Write::poll_shutdown(Pin::new(&mut self.get_mut().io), cx)
    }

    fn is_write_vectored(&self) -> bool {
        hyper::rt::Write::is_write_vectored(&self.io)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        hyper::rt::Write::poll_write_vectored(Pin::new(&mut self.get_mut().io), cx, bufs)
    }
}
