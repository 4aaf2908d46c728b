//! How the client commands (`query`, `assert`, `wait`, `lint`, `export`) reach a box: `--server`
//! (or `OTELBOX_SERVER`) over http://, or over https:// trusting `--cacert FILE` (or
//! `OTELBOX_CACERT`), else the system's CA bundle. This build's reqwest has no TLS, so https goes
//! through `net::HttpClient` (hyper over rustls), handed to the client as its `HttpsGet`.

use crate::client::{ApiClient, BodyChunks, HttpsGet};
use crate::net::HttpClient;
use crate::tls::ClientTlsSettings;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A TCP connection (and its TLS handshake) gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An `ApiClient` of `server`. An https:// server gets a TLS transport that trusts `cacert` (a PEM
/// file of CA certificates) or, without it, the system's CA bundle; an unreadable file is an error.
pub fn client(server: &str, cacert: Option<&Path>) -> anyhow::Result<ApiClient> {
    let client = ApiClient::new(server);
    if !is_https(server) {
        return Ok(client);
    }
    let settings = ClientTlsSettings {
        ca_file: cacert.map(Path::to_path_buf),
        ..ClientTlsSettings::default()
    };
    let http = HttpClient::new(&settings, true, CONNECT_TIMEOUT).map_err(|e| {
        let hint = if cacert.is_some() {
            ""
        } else {
            " (pass --cacert FILE, or set OTELBOX_CACERT, for a box whose certificate a private CA signed)"
        };
        anyhow::anyhow!("cannot set up TLS for {server}: {e}{hint}")
    })?;
    Ok(client.with_https(Arc::new(Tls(http))))
}

/// `client`, or the exit code 2 after saying why not (`otelbox CMD: ...`).
pub fn client_or_exit(command: &str, server: &str, cacert: Option<&Path>) -> Result<ApiClient, i32> {
    client(server, cacert).map_err(|e| {
        eprintln!("otelbox {command}: {e}");
        2
    })
}

fn is_https(server: &str) -> bool {
    server
        .trim_start()
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

struct Tls(HttpClient);

impl HttpsGet for Tls {
    fn get(
        &self,
        url: String,
        headers: reqwest::header::HeaderMap,
    ) -> Pin<Box<dyn Future<Output = Result<(u16, BodyChunks), String>> + Send + '_>> {
        Box::pin(async move {
            let url = reqwest::Url::parse(&url).map_err(|e| format!("'{url}' is not a URL: {e}"))?;
            let answer = self.0.get(&url, &headers).await?;
            Ok((answer.status, answer.body))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_servers_need_a_usable_ca() {
        assert!(is_https("https://box:4319") && is_https("HTTPS://box") && !is_https("http://127.0.0.1:4319") && !is_https("http"));
        // http:// needs no TLS, so a CA file is not even read.
        assert!(client("http://127.0.0.1:4319", Some(Path::new("/nonexistent/ca.pem"))).is_ok());
        let err = client("https://127.0.0.1:4319", Some(Path::new("/nonexistent/ca.pem")))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}
