//! The query parameters of each endpoint and the request bodies, as the server reads them and the
//! CLI and UI send them. Values stay text where the server parses them (durations like `15m`, unix
//! nanoseconds): it answers a bad one with a 400 that names the parameter.

use serde::{Deserialize, Serialize};

/// The time window most endpoints take: `since` (a duration back from now, like `15m`) or
/// `start`/`end` (unix nanoseconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowParams {
    // Text, parsed by the server: inside `#[serde(flatten)]` the query string's values reach serde
    // as strings, which an `Option<i64>` field refuses (and a bad number is then a JSON 400 like the rest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

impl WindowParams {
    /// The last `duration` (`15m`, `1h`).
    pub fn since(duration: impl Into<String>) -> Self {
        WindowParams {
            since: Some(duration.into()),
            ..WindowParams::default()
        }
    }
}

/// `GET /api/v1/services/stats`, `/api/v1/dependencies`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowOnlyParams {
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/llm/runs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmRunsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/traces`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TracesParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// A duration like `250ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/spans`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpansParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// `time` (newest first, the default) or `duration` (longest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/logs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LogsParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/metrics` (the catalogue), `GET /api/v1/export/{signal}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
}

/// `GET /api/v1/metrics/{name}/series`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// A duration like `30s`; by default about 120 points over the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Comma-separated attribute keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    /// `sum`, `avg`, `min`, `max`, `rate`, `p50`, `p90`, `p95`, `p99`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agg: Option<String>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/stream/{spans,logs}` (server-sent events).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// `GET /api/v1/count`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CountParams {
    /// `spans` (the default), `traces` or `logs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `POST /api/v1/login`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub token: String,
}

/// The answer to a login: whether API tokens are in use at all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoginResponse {
    pub required: bool,
}

/// `Some(text)` unless it is empty or blank: the UI's inputs, as parameters.
pub fn non_empty(text: impl Into<String>) -> Option<String> {
    let text = text.into();
    (!text.trim().is_empty()).then_some(text)
}
