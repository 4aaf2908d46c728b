//! The route paths of the API. Templates (`{trace_id}`) are axum's; the functions fill them with
//! an already URI-encoded value.

pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const METRICS_TEXT: &str = "/metrics";
pub const STATUS: &str = "/api/v1/status";
pub const SERVICES: &str = "/api/v1/services";
pub const SERVICE_STATS: &str = "/api/v1/services/stats";
pub const DEPENDENCIES: &str = "/api/v1/dependencies";
pub const LLM_RUNS: &str = "/api/v1/llm/runs";
pub const LLM_RUN: &str = "/api/v1/llm/runs/{trace_id}";
pub const LLM_SESSIONS: &str = "/api/v1/llm/sessions";
pub const LLM_MODELS: &str = "/api/v1/llm/models";
pub const TRACES: &str = "/api/v1/traces";
pub const TRACE: &str = "/api/v1/traces/{trace_id}";
/// Traces a stored span of which names a parent that is not stored (a static segment: it wins
/// over `TRACE`'s template).
pub const TRACES_INCOMPLETE: &str = "/api/v1/traces/incomplete";
pub const TRACE_OTLP: &str = "/api/v1/traces/{trace_id}/otlp";
pub const SPANS: &str = "/api/v1/spans";
/// One attribute of one span, whole (answers cut long values and point here).
pub const SPAN_ATTRIBUTE: &str = "/api/v1/traces/{trace_id}/spans/{span_id}/attributes/{key}";
pub const LOGS: &str = "/api/v1/logs";
/// The matching log records counted per time step and severity.
pub const LOG_HISTOGRAM: &str = "/api/v1/logs/histogram";
pub const METRICS: &str = "/api/v1/metrics";
pub const METRIC_SERIES: &str = "/api/v1/metrics/{name}/series";
pub const COUNT: &str = "/api/v1/count";
pub const EXPORT: &str = "/api/v1/export/{signal}";
pub const LINT: &str = "/api/v1/lint";
pub const STREAM_SPANS: &str = "/api/v1/stream/spans";
pub const STREAM_LOGS: &str = "/api/v1/stream/logs";
pub const LOGIN: &str = "/api/v1/login";
pub const LOGOUT: &str = "/api/v1/logout";
/// Everything else under `/api/`: a JSON 404.
pub const OTHER_API: &str = "/api/{*rest}";

/// `TRACE` for an encoded trace id.
pub fn trace(encoded_trace_id: &str) -> String {
    TRACE.replace("{trace_id}", encoded_trace_id)
}

/// `LLM_RUN` for an encoded trace id.
pub fn llm_run(encoded_trace_id: &str) -> String {
    LLM_RUN.replace("{trace_id}", encoded_trace_id)
}

/// `TRACE_OTLP` for an encoded trace id.
pub fn trace_otlp(encoded_trace_id: &str) -> String {
    TRACE_OTLP.replace("{trace_id}", encoded_trace_id)
}

/// `METRIC_SERIES` for an encoded metric name.
pub fn metric_series(encoded_name: &str) -> String {
    METRIC_SERIES.replace("{name}", encoded_name)
}

/// `EXPORT` for `traces`, `metrics` or `logs`.
pub fn export(signal: &str) -> String {
    EXPORT.replace("{signal}", signal)
}

#[cfg(test)]
mod tests {
    #[test]
    fn templates_are_filled() {
        assert_eq!(super::trace("ab"), "/api/v1/traces/ab");
        assert_eq!(super::metric_series("a%2Fb"), "/api/v1/metrics/a%2Fb/series");
        assert_eq!(super::export("logs"), "/api/v1/export/logs");
    }
}
