//! Listening: binding a port with an error that says what to do, and serving an axum router on a
//! plain or TLS listener until a stop signal. Shared by the receivers, the extensions and the API.

use crate::tls::TlsListener;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Binds `addr`; `setting` names where the address comes from, for the error.
pub async fn bind(addr: SocketAddr, setting: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AddrInUse {
            "the address is already in use".to_string()
        } else {
            e.to_string()
        };
        anyhow::anyhow!("cannot listen on {addr}: {why}; stop the other process or choose another port with {setting}")
    })
}

/// The stop signal of a group of servers: resolves once `true` is sent.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    pub fn new() -> (watch::Sender<bool>, Stop) {
        let (tx, rx) = watch::channel(false);
        (tx, Stop(rx))
    }

    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// Serves `router` on `listener` (TLS when `tls` is given) until `stop`; the handle ends once
/// in-flight requests have finished.
pub fn serve(
    listener: TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    router: axum::Router,
    stop: &Stop,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    Ok(match tls {
        None => spawn(listener, router, stop.wait()),
        Some(tls) => spawn(TlsListener::new(listener, tls)?, router, stop.wait()),
    })
}

fn spawn<L>(listener: L, router: axum::Router, shutdown: impl Future<Output = ()> + Send + 'static) -> tokio::task::JoinHandle<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let server = axum::serve(listener, router.into_make_service()).with_graceful_shutdown(shutdown);
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::warn!(error = %e, "a server stopped with an error");
        }
    })
}
