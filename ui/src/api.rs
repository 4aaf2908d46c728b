//! Fetching from the `/api/v1` JSON API of the page's own origin; every failure becomes a message a
//! person can act on (the server's `{error:{code, message}}` when there is one).

use crate::wire::{routes, ErrorBody, LoginRequest, LoginResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a request failed; `column` points into the filter for filter syntax errors.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub message: String,
    pub column: Option<usize>,
}

impl ApiError {
    fn plain(message: impl Into<String>) -> Self {
        ApiError {
            message: message.into(),
            column: None,
        }
    }
}

/// `path?k=v&...` for a `wire` parameter struct (`&()` for none): absent and blank values left out,
/// every part URI-encoded.
pub fn url<P: Serialize + ?Sized>(path: &str, params: &P) -> String {
    let fields = match serde_json::to_value(params) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    let query: Vec<String> = fields
        .iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(format!("{}={}", encode(k), encode(s))),
            serde_json::Value::Number(n) => Some(format!("{}={n}", encode(k))),
            serde_json::Value::Bool(b) => Some(format!("{}={b}", encode(k))),
            _ => None,
        })
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// One URI component, encoded the browser's way.
pub fn encode(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}

/// Logs in with an API token: the server answers with an HttpOnly cookie that later requests (and
/// live tails) carry. Returns whether tokens are in use at all.
pub async fn login(token: &str) -> Result<bool, ApiError> {
    let body = serde_json::to_string(&LoginRequest { token: token.to_string() }).unwrap_or_default();
    let request = gloo_net::http::Request::post(routes::LOGIN)
        .header("content-type", "application/json")
        .body(body)
        .map_err(|e| ApiError::plain(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::plain(format!("otelbox did not answer ({e})")))?;
    if response.ok() {
        let answer: LoginResponse = response.json().await.map_err(|e| ApiError::plain(e.to_string()))?;
        return Ok(answer.required);
    }
    match response.json::<ErrorBody>().await {
        Ok(body) => Err(ApiError::plain(body.error.message)),
        Err(_) => Err(ApiError::plain(format!("login answered HTTP {}", response.status()))),
    }
}

/// Forgets the login cookie.
pub async fn logout() {
    if let Ok(request) = gloo_net::http::Request::post(routes::LOGOUT).build() {
        let _ = request.send().await;
    }
}

/// GET a JSON document from the API.
pub async fn get<T: DeserializeOwned, P: Serialize + ?Sized>(path: &str, params: &P) -> Result<T, ApiError> {
    let target = url(path, params);
    let response = gloo_net::http::Request::get(&target)
        .send()
        .await
        .map_err(|e| ApiError::plain(format!("otelbox did not answer ({e}); is it still running?")))?;
    if response.ok() {
        return response
            .json::<T>()
            .await
            .map_err(|e| ApiError::plain(format!("unexpected answer from {path}: {e}")));
    }
    let status = response.status();
    if status == 401 {
        // Tokens are in use and this browser has none (or an old one): the shell shows the login page.
        crate::app::require_login();
    }
    match response.json::<ErrorBody>().await {
        Ok(body) => Err(ApiError {
            message: body.error.message,
            column: body.error.column,
        }),
        Err(_) => Err(ApiError::plain(format!("{path} answered HTTP {status}"))),
    }
}
