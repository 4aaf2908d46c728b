//! The one mapping from a refusal to what a sender is told: over HTTP a status code with a
//! `google.rpc.Status` body in the request's encoding (and `Retry-After` when it may retry), over
//! gRPC a status with a `google.rpc.RetryInfo` detail when it may retry. Which refusals are final
//! follows the OTLP specification: only UNAVAILABLE (HTTP 503) carries a delay and is retried;
//! undecodable input is INVALID_ARGUMENT (400) and oversized input RESOURCE_EXHAUSTED without
//! RetryInfo (413), both final, so a sender never resends what can never be taken.

use crate::pipeline::PipelineError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prost::Message;
use std::time::Duration;
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// How a request body is encoded, from its `Content-Type`; answers use the same.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }

    /// The encoding a request's `Content-Type` names (JSON for `*json*`, else protobuf), for answers
    /// given before the body is looked at.
    pub fn of_request(headers: &axum::http::HeaderMap) -> Encoding {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("json"));
        if json {
            Encoding::Json
        } else {
            Encoding::Protobuf
        }
    }
}

/// A request not taken, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub http: StatusCode,
    pub grpc: Code,
    pub message: String,
    /// `Some` only for a retryable refusal: when to come back.
    pub retry_after: Option<Duration>,
}

impl From<PipelineError> for Refusal {
    fn from(error: PipelineError) -> Self {
        match error {
            PipelineError::Retryable { message, retry_after } => Refusal {
                http: StatusCode::SERVICE_UNAVAILABLE,
                grpc: Code::Unavailable,
                message,
                retry_after: Some(retry_after),
            },
            PipelineError::Permanent { message } => Refusal::invalid(message),
        }
    }
}

impl Refusal {
    fn final_answer(http: StatusCode, grpc: Code, message: impl Into<String>) -> Self {
        Refusal {
            http,
            grpc,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Input that can never be taken as sent (undecodable, invalid).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::final_answer(StatusCode::BAD_REQUEST, Code::InvalidArgument, message)
    }

    /// Input over a size limit: final, the sender must split it.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::final_answer(StatusCode::PAYLOAD_TOO_LARGE, Code::ResourceExhausted, message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::final_answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, Code::InvalidArgument, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::final_answer(StatusCode::NOT_FOUND, Code::NotFound, message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::final_answer(StatusCode::METHOD_NOT_ALLOWED, Code::Unimplemented, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::final_answer(StatusCode::UNAUTHORIZED, Code::Unauthenticated, message)
    }

    pub fn is_retryable(&self) -> bool {
        self.retry_after.is_some()
    }

    /// The gRPC status: with a `RetryInfo` detail when the sender may retry.
    pub fn into_grpc(self) -> tonic::Status {
        match self.retry_after {
            Some(delay) => tonic::Status::with_error_details(self.grpc, self.message, ErrorDetails::with_retry_info(Some(delay))),
            None => tonic::Status::new(self.grpc, self.message),
        }
    }

    /// The OTLP/HTTP answer: the status code, a `google.rpc.Status` body in `encoding` (with the
    /// `RetryInfo` detail when retryable) and `Retry-After` in whole seconds, at least 1.
    pub fn into_http(self, encoding: Encoding) -> Response {
        let retry_after = self.retry_after.map(|d| d.as_secs().max(1));
        let http = self.http;
        let body = match encoding {
            Encoding::Protobuf => {
                let details = self.clone().into_grpc().details().to_vec();
                if details.is_empty() {
                    tonic_types::pb::Status {
                        code: self.grpc as i32,
                        message: self.message,
                        details: Vec::new(),
                    }
                    .encode_to_vec()
                } else {
                    details
                }
            }
            Encoding::Json => {
                let mut status = serde_json::json!({ "code": self.grpc as i32, "message": self.message });
                if let Some(delay) = self.retry_after {
                    status["details"] = serde_json::json!([{
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": format!("{}s", delay.as_secs_f64()),
                    }]);
                }
                status.to_string().into_bytes()
            }
        };
        let mut response = (http, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if http == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }

    /// A plain-text answer with the same status and `Retry-After`, as Zipkin servers give.
    pub fn into_plain_text(self) -> Response {
        let mut response = (self.http, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], self.message).into_response();
        if let Some(delay) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(delay.as_secs().max(1)));
        }
        response
    }
}

/// tonic answers a message it cannot decode with INTERNAL and one over the size limit with
/// OUT_OF_RANGE, both of which OTLP senders retry forever. This rewrites those trailers-only
/// answers (made before any handler ran) to INVALID_ARGUMENT and RESOURCE_EXHAUSTED without
/// RetryInfo, which they do not.
pub fn final_decode_errors<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers();
    let code = headers.get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or("");
    let message = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .replace("%20", " ");
    let rewritten = match code {
        "11" if message.contains("message length too large") => Some(Code::ResourceExhausted),
        "13" if message.starts_with("Error decompressing: size limit") => Some(Code::ResourceExhausted),
        "13" if message.starts_with("failed to decode Protobuf message")
            || message.starts_with("Error decompressing")
            || message.starts_with("protocol error: received message with invalid compression flag") =>
        {
            Some(Code::InvalidArgument)
        }
        _ => None,
    };
    if let Some(code) = rewritten {
        response.headers_mut().insert("grpc-status", HeaderValue::from(code as i32));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    #[test]
    fn a_retryable_refusal_carries_its_delay_both_ways() {
        let refusal = Refusal::from(PipelineError::Retryable {
            message: "busy".into(),
            retry_after: Duration::from_secs(3),
        });
        let status = refusal.clone().into_grpc();
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(status.get_details_retry_info().unwrap().retry_delay, Some(Duration::from_secs(3)));
        let response = refusal.into_http(Encoding::Protobuf);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }

    #[test]
    fn invalid_and_oversized_input_get_final_codes() {
        for (refusal, http, grpc) in [
            (Refusal::from(PipelineError::permanent("bad")), 400, Code::InvalidArgument),
            (Refusal::too_large("big"), 413, Code::ResourceExhausted),
        ] {
            assert!(!refusal.is_retryable());
            let status = refusal.clone().into_grpc();
            assert_eq!(status.code(), grpc);
            assert!(status.get_details_retry_info().is_none(), "no RetryInfo: OTLP senders do not retry");
            assert_eq!(refusal.into_http(Encoding::Json).status().as_u16(), http);
        }
    }

    #[test]
    fn tonic_decode_errors_become_final_codes() {
        let answer = |code: &str, message: &str| {
            let response = http::Response::builder()
                .header("grpc-status", code)
                .header("grpc-message", message)
                .body(())
                .unwrap();
            final_decode_errors(response).headers()["grpc-status"].to_str().unwrap().to_string()
        };
        assert_eq!(answer("13", "failed%20to%20decode%20Protobuf%20message: buffer underflow"), "3");
        assert_eq!(
            answer("11", "Error,%20decoded%20message%20length%20too%20large: found 9 bytes"),
            "8"
        );
        assert_eq!(answer("13", "Error%20decompressing:%20size%20limit,%20of 4 bytes"), "8");
        assert_eq!(answer("14", "busy"), "14", "other answers are left alone");
    }
}
