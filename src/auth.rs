//! Bearer-token authentication, with separate token sets for ingest (the OTLP HTTP `Authorization`
//! header and the gRPC `authorization` metadata) and for the UI and query API (the `Authorization`
//! header, or the session cookie the UI's login sets). Tokens are compared in constant time and never
//! logged; the cookie holds a random session id, never the token.
//! An empty set turns a check off, which is the default (otelbox listens on loopback unless told).

use axum::http::{header, HeaderMap, HeaderValue};
use std::fmt;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The cookie the UI's login sets: a random session id, HttpOnly and SameSite=Strict.
pub const API_COOKIE: &str = "otelbox_session";

/// A set of accepted tokens; empty means no check.
#[derive(Clone, Default)]
pub struct Tokens(Arc<Vec<Vec<u8>>>);

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokens({} redacted)", self.0.len())
    }
}

impl Tokens {
    pub fn new(tokens: impl IntoIterator<Item = String>) -> Tokens {
        let mut list: Vec<Vec<u8>> = tokens
            .into_iter()
            .map(|t| t.trim().as_bytes().to_vec())
            .filter(|t| !t.is_empty())
            .collect();
        list.dedup();
        Tokens(Arc::new(list))
    }

    pub fn enabled(&self) -> bool {
        !self.0.is_empty()
    }

    /// Whether `presented` is one of the tokens. Every token is compared, each in constant time, so
    /// the time taken says nothing about how much of a token matched.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let mut matched = subtle::Choice::from(0u8);
        for token in self.0.iter() {
            matched |= token.as_slice().ct_eq(presented);
        }
        matched.into()
    }

    /// Whether an `Authorization: Bearer <token>` value carries an accepted token.
    pub fn accepts_header(&self, value: Option<&HeaderValue>) -> bool {
        value.and_then(|v| v.to_str().ok()).is_some_and(|v| self.accepts_bearer(v))
    }

    /// Whether `Bearer <token>` carries an accepted token.
    pub fn accepts_bearer(&self, value: &str) -> bool {
        bearer(value).is_some_and(|token| self.accepts(token.as_bytes()))
    }
}

/// The token of `Bearer <token>` (the scheme is case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Reads tokens from a file: one per line; blank lines and `#` comments are skipped.
pub fn read_token_file(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read the token file {}: {e}", path.display()))?;
    let tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if tokens.is_empty() {
        anyhow::bail!("the token file {} holds no token (one per line)", path.display());
    }
    Ok(tokens)
}

/// The UI's logins: random session ids handed out for a right API token. They live in memory only,
/// so a restart or a logout ends them, and a cookie seen by another service on the host is no token.
#[derive(Default)]
pub struct Sessions(std::sync::Mutex<std::collections::HashSet<String>>);

impl Sessions {
    /// A new session id (32 random bytes, hex).
    pub fn start(&self) -> String {
        let id = hex::encode(rand::random::<[u8; 32]>());
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone());
        id
    }

    pub fn end(&self, id: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    fn contains(&self, id: &str) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).contains(id)
    }
}

/// Whether an API request carries an accepted token in its header (CLI, scripts) or a live session
/// cookie (the UI).
pub fn api_request_allowed(tokens: &Tokens, sessions: &Sessions, headers: &HeaderMap) -> bool {
    if !tokens.enabled() || tokens.accepts_header(headers.get(header::AUTHORIZATION)) {
        return true;
    }
    session_id(headers).is_some_and(|id| sessions.contains(id))
}

/// The session id of the request's cookie, if any.
pub fn session_id(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, API_COOKIE)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` value that keeps the UI logged in (or, with `None`, logs it out).
pub fn login_cookie(session: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match session {
        Some(id) => format!("{API_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{API_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_accept_exact_matches_only() {
        let tokens = Tokens::new(["s3cret".to_string(), "other-token".to_string()]);
        assert!(tokens.enabled());
        assert!(tokens.accepts(b"s3cret") && tokens.accepts(b"other-token"));
        for wrong in [&b"s3cre"[..], b"s3cret ", b"", b"S3CRET", b"other-token2"] {
            assert!(!tokens.accepts(wrong), "{wrong:?}");
        }
        assert!(!Tokens::new(Vec::<String>::new()).enabled());
        assert_eq!(format!("{tokens:?}"), "Tokens(2 redacted)", "Debug never shows a token");
    }

    #[test]
    fn bearer_headers_and_session_cookies() {
        let tokens = Tokens::new(["abc".to_string()]);
        let sessions = Sessions::default();
        let mut headers = HeaderMap::new();
        assert!(!api_request_allowed(&tokens, &sessions, &headers));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert!(api_request_allowed(&tokens, &sessions, &headers));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(!api_request_allowed(&tokens, &sessions, &headers));
        headers.remove(header::AUTHORIZATION);
        let id = sessions.start();
        assert_eq!(id.len(), 64);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; otelbox_session={id}")).unwrap(),
        );
        assert!(api_request_allowed(&tokens, &sessions, &headers));
        sessions.end(&id);
        assert!(!api_request_allowed(&tokens, &sessions, &headers), "a logout ends the session");
        headers.insert(header::COOKIE, HeaderValue::from_static("otelbox_session=abc"));
        assert!(!api_request_allowed(&tokens, &sessions, &headers), "the token itself is no session");
    }

    #[test]
    fn token_files_skip_blanks_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "# ingest tokens\n\n first \nsecond\n").unwrap();
        assert_eq!(read_token_file(&path).unwrap(), ["first", "second"]);
        std::fs::write(&path, "# nothing\n").unwrap();
        assert!(read_token_file(&path).unwrap_err().to_string().contains("holds no token"));
    }
}
