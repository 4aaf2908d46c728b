//! The embedded web UI: the files of `ui/dist` (built by `scripts/build-ui`) compiled into the binary,
//! with every UI route answered by `index.html` so the client-side router takes over. A binary built
//! before the UI answers with a page that says how to build it.

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "ui/dist"]
struct Assets;

/// The UI loads only its own files and talks only to its own origin; telemetry is rendered as text,
/// and this policy makes sure that even a mistake there could not run a script.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>otelbox</title>\
    <h1>otelbox: the UI is not built into this binary</h1>\
    <p>Run <code>scripts/build-ui</code> and rebuild (<code>./install.sh</code> does both). \
    The query API works meanwhile: <a href=/api/v1/status>/api/v1/status</a>.</p>";

/// Answers every GET the API routes did not take.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if let Some(file) = Assets::get(path).filter(|_| !path.is_empty()) {
        return with_headers(file.metadata.mimetype(), file.data.into_owned(), StatusCode::OK);
    }
    // A missing asset is a real 404; any other path is a UI route (metric names have dots in them,
    // so only asset extensions count).
    if looks_like_asset(path) {
        return with_headers("text/plain; charset=utf-8", b"not found\n".to_vec(), StatusCode::NOT_FOUND);
    }
    match Assets::get("index.html") {
        Some(index) => with_headers("text/html; charset=utf-8", index.data.into_owned(), StatusCode::OK),
        None => with_headers("text/html; charset=utf-8", NOT_BUILT.as_bytes().to_vec(), StatusCode::OK),
    }
}

fn looks_like_asset(path: &str) -> bool {
    const ASSET_EXTENSIONS: [&str; 10] = [".js", ".mjs", ".wasm", ".css", ".svg", ".png", ".ico", ".map", ".html", ".txt"];
    path.starts_with("pkg/") || ASSET_EXTENSIONS.iter().any(|ext| path.ends_with(ext))
}

/// `/metrics` is both the Prometheus endpoint and a UI page: a browser (asking for HTML) gets the
/// page, a scraper (or curl) gets Prometheus text.
pub fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Whether this binary carries the UI (for status and start-up messages).
pub fn is_embedded() -> bool {
    Assets::get("index.html").is_some()
}

fn with_headers(content_type: &str, body: Vec<u8>, status: StatusCode) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    // Files are small and local: always revalidate, so a new binary never serves a stale UI.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
