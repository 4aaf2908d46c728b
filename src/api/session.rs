//! Access to the API: the token check on every request, the UI's login and logout, unknown endpoints.

use super::wire::LoginRequest;
use super::{ui, wire, ApiError, ApiState};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;

/// Data needs the API token (header or the UI's login cookie); the UI's files, health checks and the
/// login itself do not, so the UI can load and show its login page.
pub(super) async fn require_api_token(
    State(state): State<Arc<ApiState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let open = matches!(path, "/healthz" | "/readyz" | "/api/v1/login" | "/api/v1/logout")
        || !(path.starts_with("/api/") || path == "/metrics")
        || (path == "/metrics" && ui::wants_html(request.headers()));
    if open || crate::auth::api_request_allowed(&state.api_tokens, &state.sessions, request.headers()) {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing or wrong API token: send `Authorization: Bearer <token>` (the CLI reads OTELBOX_API_TOKEN), or log in to the UI",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
    response
}

/// The UI's login: a right token starts a session whose id goes in an HttpOnly cookie that later
/// requests (and live tails, which cannot send headers) carry. `{required}` tells the UI whether
/// tokens are in use at all.
pub(super) async fn login(State(state): State<Arc<ApiState>>, Json(request): Json<LoginRequest>) -> Response {
    if !state.api_tokens.enabled() {
        return Json(wire::LoginResponse { required: false }).into_response();
    }
    if !state.api_tokens.accepts(request.token.trim().as_bytes()) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "that token is not an API token of this otelbox",
        )
        .into_response();
    }
    let session = state.sessions.start();
    let cookie = crate::auth::login_cookie(Some(&session), state.tls);
    ([(header::SET_COOKIE, cookie)], Json(wire::LoginResponse { required: true })).into_response()
}

pub(super) async fn logout(State(state): State<Arc<ApiState>>, headers: axum::http::HeaderMap) -> Response {
    if let Some(id) = crate::auth::session_id(&headers) {
        state.sessions.end(id);
    }
    let cookie = crate::auth::login_cookie(None, state.tls);
    ([(header::SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response()
}

pub(super) async fn unknown_api() -> ApiError {
    ApiError::not_found(
        "unknown API endpoint; see /api/v1/status, /api/v1/traces, /api/v1/spans, /api/v1/logs, /api/v1/metrics, /api/v1/services",
    )
}
