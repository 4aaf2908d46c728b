//! A small client for a running box's `/api/v1` (used by query, assert, wait, export, lint, run).

use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
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

/// An answer's body, chunk by chunk.
pub type BodyChunks = Pin<Box<dyn futures::Stream<Item = Result<bytes::Bytes, String>> + Send>>;

/// What an `HttpsGet` gives: the answer's status and its body, or why there was none.
pub type HttpsAnswer<'a> = Pin<Box<dyn Future<Output = Result<(u16, BodyChunks), String>> + Send + 'a>>;

/// A way to GET from an `https://` box: this build's reqwest has no TLS, so the CLI hands the client
/// one (`cli::remote`: hyper over rustls, trusting `--cacert`).
pub trait HttpsGet: Send + Sync {
    /// GET `url` with `headers`: the answer's status and its body, or why there was none.
    fn get(&self, url: String, headers: reqwest::header::HeaderMap) -> HttpsAnswer<'_>;
}

/// How long a request may take to be answered (its head; a streamed body may take longer).
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
    /// The bearer token header, for the https transport (reqwest sends it by default).
    headers: reqwest::header::HeaderMap,
    /// What reaches an https:// base (`with_https`).
    https: Option<Arc<dyn HttpsGet>>,
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
            .timeout(TIMEOUT)
            .default_headers(headers.clone())
            .build()
            .expect("a TLS-free client always builds");
        ApiClient {
            base: server.trim_end_matches('/').to_string(),
            http,
            headers,
            https: None,
            scope: Vec::new(),
        }
    }

    /// This client reaching an `https://` server through `transport`.
    pub fn with_https(mut self, transport: Arc<dyn HttpsGet>) -> ApiClient {
        self.https = Some(transport);
        self
    }

    /// This client with every search limited to the traces that have a span matching `filter`
    /// (the API's `trace_has`): one test's telemetry, for `otelbox run --per-test`.
    pub fn in_traces_of(mut self, filter: &str) -> ApiClient {
        self.scope.push(("trace_has", filter.to_string()));
        self
    }

    /// This client with every search limited to the last `since` (a duration like `5m`): what
    /// `otelbox assert --since` checks.
    pub fn scoped_to(mut self, since: &str) -> ApiClient {
        self.scope.push(("since", since.to_string()));
        self
    }

    /// Whether the scope limits the time window (`since`, `start` or `end`): a request to an
    /// endpoint whose own default window is shorter than "everything" then must not give its own.
    pub fn scopes_time(&self) -> bool {
        self.scope.iter().any(|(key, _)| matches!(*key, "since" | "start" | "end"))
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
    pub async fn send<Q: serde::Serialize + ?Sized>(&self, path: &str, query: &Q) -> Result<ApiResponse, ClientError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |reason: String| ClientError::Unreachable {
            server: self.base.clone(),
            reason,
        };
        // reqwest writes the query string either way: `query` and then the scope.
        let request = self
            .http
            .get(&url)
            .query(query)
            .query(&self.scope)
            .build()
            .map_err(|e| unreachable(e.to_string()))?;
        let (status, mut response) = if request.url().scheme() == "https" {
            let Some(https) = &self.https else {
                return Err(unreachable("this client has no TLS transport for an https:// server".into()));
            };
            let answer = tokio::time::timeout(TIMEOUT, https.get(request.url().to_string(), self.headers.clone()))
                .await
                .map_err(|_| unreachable(format!("no answer within {TIMEOUT:?}")))?
                .map_err(unreachable)?;
            (answer.0, ApiResponse::Chunks(answer.1))
        } else {
            let response = self.http.execute(request).await.map_err(|e| unreachable(e.to_string()))?;
            (response.status().as_u16(), ApiResponse::Plain(Box::new(response)))
        };
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap_or_default()).unwrap_or_default();
        let message = body["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{url} answered {status}"));
        Err(ClientError::Api { status, message })
    }
}

/// An answer whose body is read in chunks (`chunk`) or whole (`json`).
pub enum ApiResponse {
    Plain(Box<reqwest::Response>),
    Chunks(BodyChunks),
}

impl ApiResponse {
    /// The next chunk of the body; None at its end.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, ClientError> {
        let broke_off = |reason: String| ClientError::Api {
            status: 0,
            message: format!("the answer broke off: {reason}"),
        };
        match self {
            ApiResponse::Plain(response) => response.chunk().await.map_err(|e| broke_off(e.to_string())),
            ApiResponse::Chunks(chunks) => {
                use futures::StreamExt;
                chunks.next().await.transpose().map_err(broke_off)
            }
        }
    }

    /// The whole body.
    pub async fn bytes(&mut self) -> Result<Vec<u8>, ClientError> {
        let mut body = Vec::new();
        while let Some(chunk) = self.chunk().await? {
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The body decoded as JSON.
    pub async fn json<T: DeserializeOwned>(mut self) -> Result<T, String> {
        let body = self.bytes().await.map_err(|e| e.to_string())?;
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    }
}
