//! A small client for a running box's `/api/v1` (used by query, assert, wait, export, lint, run).

use serde::de::DeserializeOwned;
use std::time::Duration;

/// Where the CLI finds a box unless `--server` says otherwise.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:4319";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach otelbox at {server}: {reason}; is it running? (start it with `otelbox up`, or pass --server)")]
    Unreachable { server: String, reason: String },
    #[error("{message}")]
    Api { status: u16, message: String },
}

#[derive(Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
    /// Query parameters every request carries (`scoped_to`); endpoints that do not take them ignore them.
    scope: Vec<(&'static str, String)>,
}

impl ApiClient {
    /// A client of `server`; with OTELBOX_API_TOKEN set, every request carries it as a bearer token.
    pub fn new(server: &str) -> ApiClient {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = std::env::var("OTELBOX_API_TOKEN").ok().filter(|t| !t.trim().is_empty()) {
            if let Ok(mut value) = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.trim())) {
                value.set_sensitive(true);
                headers.insert(reqwest::header::AUTHORIZATION, value);
            }
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .default_headers(headers)
            .build()
            .expect("a TLS-free client always builds");
        ApiClient {
            base: server.trim_end_matches('/').to_string(),
            http,
            scope: Vec::new(),
        }
    }

    /// This client with every search limited to the last `since` (a duration like `5m`): what
    /// `otelbox assert --since` checks.
    pub fn scoped_to(mut self, since: &str) -> ApiClient {
        self.scope.push(("since", since.to_string()));
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// GET `path` with `query` (a `wire` parameter struct, or `&()` for none), decoding the JSON answer.
    pub async fn get<T: DeserializeOwned, Q: serde::Serialize + ?Sized>(&self, path: &str, query: &Q) -> Result<T, ClientError> {
        let response = self.send(path, query).await?;
        response.json::<T>().await.map_err(|e| ClientError::Api {
            status: 200,
            message: format!("unexpected answer from {}{path}: {e}", self.base),
        })
    }

    /// The raw response (for streamed bodies such as exports).
    pub async fn send<Q: serde::Serialize + ?Sized>(&self, path: &str, query: &Q) -> Result<reqwest::Response, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .get(&url)
            .query(query)
            .query(&self.scope)
            .send()
            .await
            .map_err(|e| ClientError::Unreachable {
                server: self.base.clone(),
                reason: e.to_string(),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let message = body["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{url} answered {status}"));
        Err(ClientError::Api {
            status: status.as_u16(),
            message,
        })
    }
}
