//! Listening: binding a port with an error that says what to do, and serving an axum router on a
//! plain or TLS listener until a stop signal, refusing foreign host names on loopback listeners
//! (DNS rebinding). Shared by the receivers, the extensions and the API.

use crate::tls::TlsListener;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
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

/// Host names a loopback listener accepts besides the loopback ones (`--allowed-host`).
#[derive(Clone, Debug, Default)]
pub struct AllowedHosts(Arc<Vec<String>>);

impl AllowedHosts {
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        AllowedHosts(Arc::new(names.into_iter().map(|n| n.trim().to_ascii_lowercase()).collect()))
    }

    /// Whether a request's host (`name[:port]`, `[v6]:port`) may reach a loopback listener:
    /// `localhost` and its subdomains, loopback addresses, and the configured names. A web page
    /// that rebinds its own name to 127.0.0.1 still sends its own name, so it is refused.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host.rsplit_once(':').map_or(host.as_str(), |(name, port)| {
                if port.chars().all(|c| c.is_ascii_digit()) {
                    name
                } else {
                    host.as_str()
                }
            }),
        };
        name == "localhost"
            || name.ends_with(".localhost")
            || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            || self.0.iter().any(|allowed| allowed == name)
    }
}

/// Refuses a request whose host a loopback listener does not serve, before the handler runs.
async fn loopback_host_guard(
    axum::extract::State(allowed): axum::extract::State<AllowedHosts>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    // HTTP/2 carries the host as the URI's authority, HTTP/1.1 in the Host header.
    let host = request.uri().authority().map(|a| a.as_str().to_string()).or_else(|| {
        request
            .headers()
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
    });
    match host {
        Some(host) if !allowed.allows(&host) => (
            axum::http::StatusCode::FORBIDDEN,
            [(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "otelbox listens on loopback and answers only to localhost and loopback addresses, not to the host \
                 name '{host}' (a protection against DNS rebinding); if that name is this machine's, start otelbox \
                 with --allowed-host {}\n",
                host.split(':').next().unwrap_or_default()
            ),
        )
            .into_response(),
        _ => next.run(request).await,
    }
}

/// Serves `router` on `listener` (TLS when `tls` is given) until `stop`; the handle ends once
/// in-flight requests have finished. On a loopback listener only loopback host names (and
/// `allowed`) are served.
pub fn serve(
    listener: TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    router: axum::Router,
    stop: &Stop,
    allowed: &AllowedHosts,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let router = if listener.local_addr()?.ip().is_loopback() {
        router.layer(axum::middleware::from_fn_with_state(allowed.clone(), loopback_host_guard))
    } else {
        router
    };
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

#[cfg(test)]
mod tests {
    use super::AllowedHosts;

    #[test]
    fn loopback_listeners_serve_loopback_names_and_the_allowed_ones_only() {
        let allowed = AllowedHosts::new(["otelbox.internal".to_string()]);
        for host in [
            "localhost",
            "localhost:4319",
            "LOCALHOST:4318",
            "ui.localhost:4319",
            "127.0.0.1:4319",
            "127.3.2.1",
            "[::1]:4319",
            "otelbox.internal:4319",
        ] {
            assert!(allowed.allows(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:4319",
            "localhost.evil.example",
            "10.0.0.5:4319",
            "[2001:db8::1]:4319",
            "0.0.0.0:4319",
        ] {
            assert!(!allowed.allows(host), "{host}");
        }
    }
}
