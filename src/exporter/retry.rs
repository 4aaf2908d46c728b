//! Retries for the forwarding exporters (`otlp`, `otlphttp`): the exponential backoff of
//! `retry_on_failure`, and the classification of a failed export as retryable or permanent by the
//! OTLP rules (HTTP 429/502/503/504 and the gRPC codes UNAVAILABLE & co. are retryable, everything
//! else is final), with the delay the server asked for (HTTP `Retry-After`, gRPC
//! `google.rpc.RetryInfo`) taking the place of the backoff's next delay.

use crate::config::Parser;
use prost::Message;
use rand::Rng;
use serde_yaml_ng::Value;
use std::time::{Duration, Instant, SystemTime};

/// `retry_on_failure`, with the Collector's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySettings {
    pub enabled: bool,
    pub initial_interval: Duration,
    pub max_interval: Duration,
    /// How long one batch is retried before it is dropped; `None` (written `0`) retries forever.
    pub max_elapsed_time: Option<Duration>,
    pub multiplier: f64,
    pub randomization_factor: f64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            enabled: true,
            initial_interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(30),
            max_elapsed_time: Some(Duration::from_secs(300)),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}

/// Parses `retry_on_failure` at `path` (absent: the defaults).
pub fn parse_retry(p: &mut Parser, value: Option<&Value>, path: &str) -> RetrySettings {
    let mut retry = RetrySettings::default();
    let Some(body) = p.mapping(value, path) else {
        return retry;
    };
    p.only_keys(
        body,
        &[
            "enabled",
            "initial_interval",
            "max_interval",
            "max_elapsed_time",
            "multiplier",
            "randomization_factor",
        ],
        path,
    );
    let at = |key: &str| format!("{path}.{key}");
    if let Some(v) = body.get("enabled") {
        retry.enabled = p.boolean(v, &at("enabled")).unwrap_or(true);
    }
    if let Some(v) = body.get("initial_interval") {
        match p.duration(v, &at("initial_interval")) {
            Some(d) if d.is_zero() => p.error(&at("initial_interval"), "must be greater than 0"),
            Some(d) => retry.initial_interval = d,
            None => {}
        }
    }
    if let Some(v) = body.get("max_interval") {
        match p.duration(v, &at("max_interval")) {
            Some(d) if d < retry.initial_interval => p.error(&at("max_interval"), "must be at least initial_interval"),
            Some(d) => retry.max_interval = d,
            None => {}
        }
    } else if retry.max_interval < retry.initial_interval {
        p.error(
            path,
            "initial_interval is longer than the default max_interval (30s); set max_interval too",
        );
    }
    if let Some(v) = body.get("max_elapsed_time") {
        // A plain `0` (not a duration string) is the Collector's way of saying "forever".
        if v.as_u64() == Some(0) {
            retry.max_elapsed_time = None;
        } else if let Some(d) = p.duration(v, &at("max_elapsed_time")) {
            retry.max_elapsed_time = (!d.is_zero()).then_some(d);
        }
    }
    if let Some(v) = body.get("multiplier") {
        match p.float(v, &at("multiplier")) {
            // Below 1 the delays would shrink towards a busy loop against a struggling server.
            Some(m) if !(1.0..=1000.0).contains(&m) => p.error(&at("multiplier"), "must be between 1 and 1000"),
            Some(m) => retry.multiplier = m,
            None => {}
        }
    }
    if let Some(v) = body.get("randomization_factor") {
        match p.float(v, &at("randomization_factor")) {
            Some(f) if !(0.0..=1.0).contains(&f) => p.error(&at("randomization_factor"), "must be between 0 and 1"),
            Some(f) => retry.randomization_factor = f,
            None => {}
        }
    }
    retry
}

/// Why one export attempt failed.
#[derive(Clone, Debug, PartialEq)]
pub enum SendError {
    /// Worth trying again; `delay` is the wait the server asked for, when it named one.
    Retryable { message: String, delay: Option<Duration> },
    /// The server will never take this data (bad request, unauthorised, ...): not retried.
    Permanent { message: String },
}

impl SendError {
    pub fn retryable(message: impl Into<String>) -> Self {
        SendError::Retryable {
            message: message.into(),
            delay: None,
        }
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        SendError::Permanent { message: message.into() }
    }
    pub fn message(&self) -> &str {
        match self {
            SendError::Retryable { message, .. } | SendError::Permanent { message } => message,
        }
    }
}

/// The waits between the attempts at one batch.
pub struct Backoff {
    settings: RetrySettings,
    interval: Duration,
    started: Instant,
}

/// Why retrying stops.
#[derive(Debug, PartialEq)]
pub enum GiveUp {
    Disabled,
    /// `max_elapsed_time` is spent (or the server's requested delay would end after it).
    OutOfTime(Duration),
}

impl Backoff {
    pub fn new(settings: &RetrySettings) -> Self {
        Backoff {
            settings: settings.clone(),
            interval: settings.initial_interval,
            started: Instant::now(),
        }
    }

    /// The wait before the next attempt: the server's `requested` delay when it gave one, else the
    /// randomised backoff interval (which grows by `multiplier` up to `max_interval` either way).
    pub fn next_delay(&mut self, requested: Option<Duration>, rng: &mut impl Rng) -> Result<Duration, GiveUp> {
        if !self.settings.enabled {
            return Err(GiveUp::Disabled);
        }
        let interval = self.interval;
        self.interval = interval.mul_f64(self.settings.multiplier).min(self.settings.max_interval);
        let elapsed = self.started.elapsed();
        let delay = match requested {
            Some(delay) => delay,
            None => randomize(interval, self.settings.randomization_factor, rng),
        };
        match self.settings.max_elapsed_time {
            Some(budget) if elapsed >= budget => Err(GiveUp::OutOfTime(elapsed)),
            // Waiting as the server asks would end after the budget: give up now, not later.
            Some(budget) if requested.is_some() && elapsed + delay > budget => Err(GiveUp::OutOfTime(elapsed)),
            // One last attempt right at the end of the budget.
            Some(budget) => Ok(delay.min(budget - elapsed)),
            None => Ok(delay),
        }
    }
}

/// `interval` spread uniformly over `interval * (1 ± factor)`, so many senders do not retry in step.
fn randomize(interval: Duration, factor: f64, rng: &mut impl Rng) -> Duration {
    if factor <= 0.0 {
        return interval;
    }
    let spread: f64 = rng.random_range(-1.0..=1.0);
    interval.mul_f64((1.0 + factor * spread).max(0.0))
}

/// What an HTTP answer means for a batch: `None` for success (2xx), else the failure. Retryable
/// are 429, 502, 503 and 504 (the OTLP/HTTP specification); `retry_after` is the answer's header.
pub fn classify_http(status: u16, retry_after: Option<&str>, detail: &str, now: SystemTime) -> Option<SendError> {
    if (200..300).contains(&status) {
        return None;
    }
    let message = if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {detail}")
    };
    Some(match status {
        429 | 502 | 503 | 504 => SendError::Retryable {
            message,
            delay: retry_after.and_then(|text| parse_retry_after(text, now)),
        },
        _ => SendError::Permanent { message },
    })
}

/// `Retry-After`: whole seconds, or an HTTP date (a date in the past means now).
pub fn parse_retry_after(text: &str, now: SystemTime) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// What a gRPC status means for a batch (`OK` is not an error and never reaches here). Retryable are
/// UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE and DATA_LOSS, and
/// RESOURCE_EXHAUSTED only when the server says when to come back (a `RetryInfo` detail): without
/// one it means "too big, never" rather than "busy" (the OTLP/gRPC specification). A failure to
/// reach the server at all is retryable too.
pub fn classify_grpc(status: &tonic::Status) -> SendError {
    use tonic::Code;
    let delay = retry_info_delay(status.details());
    let mut message = if status.message().is_empty() {
        format!("gRPC {:?}", status.code())
    } else {
        format!("gRPC {:?}: {}", status.code(), status.message())
    };
    // A status with a source was made by tonic from a local error (connection refused or broken,
    // TLS handshake refused): the server never answered, which is "unavailable" whatever code tonic
    // chose (often UNKNOWN). The source holds the useful part of the message.
    let local = std::error::Error::source(status);
    if let Some(source) = local {
        let chain = super::sender::error_chain(source);
        message = match chain.strip_prefix(status.message()) {
            Some(rest) => format!("{message}{rest}"),
            None => format!("{message}: {chain}"),
        };
    }
    match status.code() {
        _ if local.is_some() => SendError::Retryable { message, delay },
        Code::Unavailable | Code::Cancelled | Code::DeadlineExceeded | Code::Aborted | Code::OutOfRange | Code::DataLoss => {
            SendError::Retryable { message, delay }
        }
        Code::ResourceExhausted if delay.is_some() => SendError::Retryable { message, delay },
        _ => SendError::Permanent { message },
    }
}

/// `google.rpc.Status` (tonic-types): gRPC status details, and the body of OTLP/HTTP error answers.
pub use tonic_types::pb::Status as RpcStatus;

const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// The `RetryInfo` delay in encoded `google.rpc.Status` details, if there is one (negative or
/// undecodable delays are ignored).
pub fn retry_info_delay(details: &[u8]) -> Option<Duration> {
    let status = RpcStatus::decode(details).ok()?;
    let any = status.details.iter().find(|any| any.type_url == RETRY_INFO_TYPE)?;
    let delay = tonic_types::pb::RetryInfo::decode(any.value.as_slice()).ok()?.retry_delay?;
    let seconds = u64::try_from(delay.seconds).ok()?;
    let nanos = u32::try_from(delay.nanos).ok().filter(|n| *n < 1_000_000_000)?;
    Some(Duration::new(seconds, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn parse(yaml: &str) -> (RetrySettings, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let settings = parse_retry(
            &mut Parser::collecting(&mut errors),
            Some(&value),
            "exporters.otlp.retry_on_failure",
        );
        (settings, errors)
    }

    fn no_jitter(initial_ms: u64, max_ms: u64, budget: Option<Duration>) -> RetrySettings {
        RetrySettings {
            enabled: true,
            initial_interval: Duration::from_millis(initial_ms),
            max_interval: Duration::from_millis(max_ms),
            max_elapsed_time: budget,
            multiplier: 2.0,
            randomization_factor: 0.0,
        }
    }

    #[test]
    fn the_collector_defaults_apply_to_an_empty_section() {
        assert_eq!(parse("{}"), (RetrySettings::default(), vec![]));
        let (settings, errors) = parse(
            "{enabled: false, initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 0, multiplier: 2, randomization_factor: 0}",
        );
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(
            settings,
            RetrySettings {
                enabled: false,
                initial_interval: Duration::from_millis(200),
                max_interval: Duration::from_secs(1),
                max_elapsed_time: None,
                multiplier: 2.0,
                randomization_factor: 0.0,
            }
        );
    }

    #[test]
    fn bad_retry_settings_are_errors_at_their_paths() {
        let (_, errors) = parse("{initial_interval: 0s, multiplier: 0.5, randomization_factor: 2, max_elapsed_time: soon, jitter: 1}");
        assert_eq!(
            errors,
            vec![
                "exporters.otlp.retry_on_failure.jitter: unknown key (expected one of: enabled, initial_interval, max_interval, max_elapsed_time, multiplier, randomization_factor)",
                "exporters.otlp.retry_on_failure.initial_interval: must be greater than 0",
                "exporters.otlp.retry_on_failure.max_elapsed_time: expected a duration like 250ms, 15m, 12h or 7d, got 'soon'",
                "exporters.otlp.retry_on_failure.multiplier: must be between 1 and 1000",
                "exporters.otlp.retry_on_failure.randomization_factor: must be between 0 and 1",
            ]
        );
        let (_, errors) = parse("{initial_interval: 2s, max_interval: 1s}");
        assert_eq!(
            errors,
            vec!["exporters.otlp.retry_on_failure.max_interval: must be at least initial_interval"]
        );
        let (_, errors) = parse("{initial_interval: 1m}");
        assert_eq!(
            errors,
            vec!["exporters.otlp.retry_on_failure: initial_interval is longer than the default max_interval (30s); set max_interval too"]
        );
    }

    #[test]
    fn backoff_grows_by_the_multiplier_up_to_max_interval() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut backoff = Backoff::new(&no_jitter(100, 500, None));
        let delays: Vec<u128> = (0..5).map(|_| backoff.next_delay(None, &mut rng).unwrap().as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 500, 500]);
    }

    #[test]
    fn randomization_spreads_the_delay_within_the_factor() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let settings = RetrySettings {
            randomization_factor: 0.5,
            ..no_jitter(1000, 1000, None)
        };
        let delays: Vec<Duration> = (0..200)
            .map(|_| Backoff::new(&settings).next_delay(None, &mut rng).unwrap())
            .collect();
        assert!(delays
            .iter()
            .all(|d| *d >= Duration::from_millis(500) && *d <= Duration::from_millis(1500)));
        assert!(delays.iter().any(|d| *d < Duration::from_millis(800)) && delays.iter().any(|d| *d > Duration::from_millis(1200)));
    }

    #[test]
    fn the_servers_delay_replaces_the_backoff_delay() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut backoff = Backoff::new(&no_jitter(100, 500, None));
        assert_eq!(
            backoff.next_delay(Some(Duration::from_secs(3)), &mut rng),
            Ok(Duration::from_secs(3))
        );
        assert_eq!(
            backoff.next_delay(None, &mut rng),
            Ok(Duration::from_millis(200)),
            "the interval still grew"
        );
    }

    #[test]
    fn retrying_stops_when_disabled_or_out_of_time() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let disabled = RetrySettings {
            enabled: false,
            ..RetrySettings::default()
        };
        assert_eq!(Backoff::new(&disabled).next_delay(None, &mut rng), Err(GiveUp::Disabled));

        let mut backoff = Backoff::new(&no_jitter(100, 100, Some(Duration::from_secs(10))));
        backoff.started -= Duration::from_millis(9_950);
        assert!(
            backoff.next_delay(Some(Duration::from_secs(1)), &mut rng).is_err(),
            "a requested wait past the budget gives up at once"
        );
        let last = backoff.next_delay(None, &mut rng).unwrap();
        assert!(last <= Duration::from_millis(50), "the last wait ends at the budget, got {last:?}");
        backoff.started -= Duration::from_millis(100);
        assert!(matches!(backoff.next_delay(None, &mut rng), Err(GiveUp::OutOfTime(_))));

        let mut forever = Backoff::new(&no_jitter(100, 100, None));
        forever.started -= Duration::from_secs(100_000);
        assert_eq!(forever.next_delay(None, &mut rng), Ok(Duration::from_millis(100)));
    }

    #[test]
    fn http_status_codes_are_classified_by_the_otlp_rules() {
        let now = SystemTime::now();
        assert_eq!(classify_http(200, None, "", now), None);
        assert_eq!(classify_http(204, None, "", now), None);
        for retryable in [429, 502, 503, 504] {
            assert!(
                matches!(
                    classify_http(retryable, None, "", now),
                    Some(SendError::Retryable { delay: None, .. })
                ),
                "{retryable}"
            );
        }
        for permanent in [400, 401, 403, 404, 405, 413, 415, 500, 501] {
            assert!(
                matches!(classify_http(permanent, Some("5"), "", now), Some(SendError::Permanent { .. })),
                "{permanent}"
            );
        }
        assert_eq!(
            classify_http(400, None, "bad trace id", now),
            Some(SendError::permanent("HTTP 400: bad trace id"))
        );
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date_is_the_requested_delay() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            classify_http(503, Some("7"), "", now),
            Some(SendError::Retryable {
                message: "HTTP 503".into(),
                delay: Some(Duration::from_secs(7)),
            })
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    fn status_with_retry_info(code: tonic::Code, seconds: i64, nanos: i32) -> tonic::Status {
        let retry = tonic_types::pb::RetryInfo {
            retry_delay: Some(prost_types::Duration { seconds, nanos }),
        };
        let details = RpcStatus {
            code: code as i32,
            message: "busy".into(),
            details: vec![
                prost_types::Any {
                    type_url: "type.googleapis.com/google.rpc.DebugInfo".into(),
                    value: vec![1, 2, 3],
                },
                prost_types::Any {
                    type_url: RETRY_INFO_TYPE.into(),
                    value: retry.encode_to_vec(),
                },
            ],
        };
        tonic::Status::with_details(code, "busy", details.encode_to_vec().into())
    }

    #[test]
    fn grpc_codes_are_classified_by_the_otlp_rules() {
        use tonic::Code;
        for code in [
            Code::Unavailable,
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::DataLoss,
        ] {
            assert!(
                matches!(classify_grpc(&tonic::Status::new(code, "x")), SendError::Retryable { .. }),
                "{code:?}"
            );
        }
        for code in [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Unimplemented,
            Code::Internal,
            Code::NotFound,
            Code::ResourceExhausted,
        ] {
            assert!(
                matches!(classify_grpc(&tonic::Status::new(code, "x")), SendError::Permanent { .. }),
                "{code:?}"
            );
        }
        assert_eq!(
            classify_grpc(&tonic::Status::invalid_argument("bad span id")),
            SendError::permanent("gRPC InvalidArgument: bad span id")
        );
    }

    #[test]
    fn a_connection_that_breaks_before_the_answer_is_retryable_whatever_the_code() {
        // Regression: a server refusing our TLS client certificate closes the connection, which
        // tonic reports as UNKNOWN ("broken pipe"); that was taken for a final answer and dropped.
        let broken = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stream closed because of a broken pipe");
        let status = tonic::Status::from_error(Box::new(broken));
        assert_eq!(status.code(), tonic::Code::Unknown);
        assert_eq!(
            classify_grpc(&status),
            SendError::retryable("gRPC Unknown: stream closed because of a broken pipe")
        );
        assert!(matches!(
            classify_grpc(&tonic::Status::unknown("server said so")),
            SendError::Permanent { .. }
        ));
    }

    #[test]
    fn retry_info_is_the_requested_delay_and_makes_resource_exhausted_retryable() {
        assert_eq!(
            classify_grpc(&status_with_retry_info(tonic::Code::ResourceExhausted, 2, 500_000_000)),
            SendError::Retryable {
                message: "gRPC ResourceExhausted: busy".into(),
                delay: Some(Duration::from_millis(2500)),
            }
        );
        assert_eq!(
            classify_grpc(&status_with_retry_info(tonic::Code::Unavailable, 1, 0)),
            SendError::Retryable {
                message: "gRPC Unavailable: busy".into(),
                delay: Some(Duration::from_secs(1)),
            }
        );
        assert_eq!(
            retry_info_delay(status_with_retry_info(tonic::Code::Unavailable, -1, 0).details()),
            None
        );
        assert_eq!(retry_info_delay(b"\xff\xff not a status"), None);
        assert_eq!(retry_info_delay(&[]), None);
    }
}
