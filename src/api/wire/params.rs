//! The query parameters of each endpoint and the request bodies, as the server reads them and the
//! CLI and UI send them. Values stay text where the server parses them (durations like `15m`, unix
//! nanoseconds): it answers a bad one with a 400 that names the parameter.

use serde::{Deserialize, Serialize};

// Absent parameters are `None`: serde reads a missing `Option` field as `None`, and both the CLI
// (serde_urlencoded) and the UI (`api::url`) leave `None` out of the query string.

/// The time window most endpoints take: `since` (a duration back from now, like `15m`) or
/// `start`/`end` (unix nanoseconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowParams {
    // Text, parsed by the server: inside `#[serde(flatten)]` the query string's values reach serde
    // as strings, which an `Option<i64>` field refuses (and a bad number is then a JSON 400 like the rest).
    pub start: Option<String>,
    pub end: Option<String>,
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
    /// Span filters; each condition of a top-level `and` may be met by a different span of the run.
    pub q: Option<String>,
    pub run_id: Option<String>,
    pub session_id: Option<String>,
    pub limit: Option<usize>,
    /// `true`: count every matching run (the answer's `total`) even when the page is full.
    pub total: Option<String>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/llm/sessions` and `/llm/models`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmWindowParams {
    pub limit: Option<usize>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/traces`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TracesParams {
    /// A span filter, or span filters related across the trace's spans with `&&`, `->` and `then`
    /// (`service = web -> status = error`).
    pub q: Option<String>,
    /// Another span filter the trace must satisfy too, by some span of its own (a trace with a
    /// span A and a span B).
    pub also: Option<String>,
    pub service: Option<String>,
    pub limit: Option<usize>,
    /// A duration like `250ms`.
    pub min_duration: Option<String>,
    pub max_duration: Option<String>,
    /// `time` (newest first, the default), `duration` (longest first), `shortest`, `spans` (most
    /// spans first) or `errors` (most errors first), over every match before the limit.
    pub sort: Option<String>,
    /// `true`: count every match (the answer's `total`) even when the page is full.
    pub total: Option<String>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/spans`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpansParams {
    pub q: Option<String>,
    pub service: Option<String>,
    pub limit: Option<usize>,
    /// `time` (newest first, the default) or `duration` (longest first).
    pub sort: Option<String>,
    /// `true`: count every match (the answer's `total`) even when the page is full.
    pub total: Option<String>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/logs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LogsParams {
    pub q: Option<String>,
    pub service: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub limit: Option<usize>,
    /// `true`: count every match (the answer's `total`) even when the page is full.
    pub total: Option<String>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/logs/histogram`: what `/logs` takes to search, and the step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LogHistogramParams {
    pub q: Option<String>,
    pub service: Option<String>,
    /// A duration like `1m`, rounded up to a round one; by default about `buckets` steps.
    pub step: Option<String>,
    /// About how many steps the window is cut into when no step is given (default 60, at most 1,000).
    pub buckets: Option<usize>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/metrics` (the catalogue), `GET /api/v1/export/{signal}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterParams {
    pub q: Option<String>,
}

/// `GET /api/v1/metrics/{name}/series`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesParams {
    pub q: Option<String>,
    /// A duration like `30s`; by default about 120 points over the window.
    pub step: Option<String>,
    /// Comma-separated attribute keys.
    pub group_by: Option<String>,
    /// `sum`, `avg`, `min`, `max`, `rate`, `increase`, `p50`, `p90`, `p95`, `p99`, ...; `buckets`
    /// (histograms): the bucket counts per step besides the observation counts.
    pub agg: Option<String>,
    /// `true`: every matching series as one, unlabelled (histograms' buckets added before the
    /// quantiles, rates added); not with `group_by`.
    pub merge: Option<String>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/stream/{spans,logs}` (server-sent events).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamParams {
    pub q: Option<String>,
    pub service: Option<String>,
}

/// `GET /api/v1/count`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CountParams {
    /// `spans` (the default), `traces` or `logs`.
    pub signal: Option<String>,
    pub q: Option<String>,
    pub service: Option<String>,
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `trace_has`, which `/traces`, `/spans`, `/logs`, `/count` and `/lint` take besides their own
/// parameters: only items of traces that have a span matching this filter (one test's telemetry,
/// for `otelbox run --per-test`). Log records without a trace are then left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceScopeParams {
    pub trace_has: Option<String>,
}

/// `GET /api/v1/lint`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LintParams {
    /// Only spans of traces with a span matching this filter.
    pub trace_has: Option<String>,
    /// Only spans starting in the window.
    #[serde(flatten)]
    pub window: WindowParams,
}

/// `GET /api/v1/traces/incomplete`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IncompleteTracesParams {
    /// Only traces with a span matching this filter.
    pub q: Option<String>,
    pub limit: Option<usize>,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What the CLI sends is what the server reads: absent parameters stay out of the query
    /// string, and the flattened window round-trips.
    #[test]
    fn parameters_round_trip_through_the_query_string() {
        let params = TracesParams {
            q: Some("status = error".into()),
            limit: Some(20),
            window: WindowParams::since("15m"),
            ..TracesParams::default()
        };
        let text = serde_urlencoded::to_string(&params).unwrap();
        assert_eq!(text, "q=status+%3D+error&limit=20&since=15m");
        assert_eq!(serde_urlencoded::from_str::<TracesParams>(&text).unwrap(), params);
        assert_eq!(serde_urlencoded::to_string(CountParams::default()).unwrap(), "");
    }
}
