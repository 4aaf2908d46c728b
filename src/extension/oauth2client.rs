//! The `oauth2client` extension (the Collector's contrib `oauth2clientauthextension`), a client
//! authenticator: an `otlp`, `otlphttp` or `prometheusremotewrite` exporter naming it in
//! `auth.authenticator` sends `Authorization: <token type> <access token>` (`Bearer ...`) with every
//! request, the token fetched with the OAuth2 client-credentials grant (RFC 6749 section 4.4).
//!
//! ```yaml
//! oauth2client:
//!   client_id: agent                    # or client_id_file (read at every fetch, trimmed)
//!   client_secret: ${env:OAUTH_SECRET}  # or client_secret_file
//!   token_url: https://auth.example.com/oauth2/token
//!   scopes: [api.metrics]               # sent as `scope`, space-separated
//!   endpoint_params: { audience: otlp } # more form parameters
//!   timeout: 5s                         # of one token request
//!   expiry_buffer: 5m                   # refresh this long before the token expires (the default)
//!   tls: { ca_file: /etc/ssl/auth-ca.pem }
//! ```
//!
//! The token request is Go's `golang.org/x/oauth2/clientcredentials` one, which the Collector uses:
//! a form POST (`grant_type=client_credentials`, `scope`, the `endpoint_params`, keys sorted) with
//! the client id and secret first as HTTP basic credentials (each query-escaped) and, when that
//! attempt fails, in the form (`client_id`, `client_secret`); the way that worked is kept. The
//! answer is JSON (or a form, for `application/x-www-form-urlencoded` and `text/plain`):
//! `access_token`, `token_type` (`bearer` is sent `Bearer`; none is `Bearer`), `expires_in` (a
//! number or a numeric string; none: the token is kept until replaced). A status outside 2xx, an
//! `error` field or no `access_token` is a failure.
//!
//! Unlike the Collector, which fetches on the request that finds no fresh token (and blocks it), a
//! background task fetches the first token at start-up and each next one `expiry_buffer` before the
//! current one expires (at the latest halfway through a token's life, if that is later). Exporters
//! read the current token without waiting; it is sent until it actually expires. Start-up waits a
//! few seconds for the first token, so the first exports carry one, but never fails for want of one:
//! an unreachable token endpoint only delays delivery. While there is no valid token an exporter's
//! request fails retryably, saying why, and the batch waits in its queue; the task retries the token
//! endpoint with a backoff of 1 s doubling to 30 s. Without `timeout` (the Collector's: none) a
//! token request gives up after a minute, so a token endpoint that never answers cannot stall the
//! refreshes.

use crate::config::client_tls::parse_client_tls;
use crate::config::{ComponentId, Parser, Settings};
use crate::extension::{ClientAuthenticator, Extension, ExtensionFactory};
use crate::net::{HttpAnswer, HttpClient};
use crate::tls::ClientTlsSettings;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use futures::future::BoxFuture;
use reqwest::Url;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// `expiry_buffer` when not set (the Collector's default).
pub const DEFAULT_EXPIRY_BUFFER: Duration = Duration::from_secs(5 * 60);
/// What Go's oauth2 uses for an `expiry_buffer` of 0.
const GO_DEFAULT_EXPIRY_DELTA: Duration = Duration::from_secs(10);
/// The grant type of RFC 7523, which the Collector also offers and otelbox does not.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The Collector's settings for the jwt-bearer grant only.
const JWT_BEARER_KEYS: [&str; 7] = [
    "client_certificate_key_id",
    "client_certificate_key",
    "client_certificate_key_file",
    "signature_algorithm",
    "iss",
    "audience",
    "claims",
];
const KEYS: [&str; 10] = [
    "client_id",
    "client_id_file",
    "client_secret",
    "client_secret_file",
    "token_url",
    "scopes",
    "endpoint_params",
    "tls",
    "timeout",
    "expiry_buffer",
];
/// The most of a token answer read (Go's oauth2 reads 1 MiB).
const MAX_TOKEN_ANSWER: usize = 1 << 20;
/// How long a token request may take without `timeout`.
const DEFAULT_REQUEST_CEILING: Duration = Duration::from_secs(60);
/// How long opening a connection to the token endpoint may take (Go's default dialer's 30 s).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long start-up waits for the first token.
const FIRST_TOKEN_WAIT: Duration = Duration::from_secs(5);
/// The retries of a failed fetch: 1 s, doubling to 30 s.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// The least time between two fetches after a success.
const MIN_REFRESH: Duration = Duration::from_secs(1);

/// The settings. Debug never shows the secret or the endpoint parameters' values.
#[derive(Clone, PartialEq)]
pub struct OAuth2ClientConfig {
    /// None only when the config had errors.
    pub token_url: Option<Url>,
    pub client_id: String,
    /// Wins over `client_id`, read at every fetch (as the Collector).
    pub client_id_file: Option<PathBuf>,
    pub client_secret: String,
    pub client_secret_file: Option<PathBuf>,
    pub scopes: Vec<String>,
    /// Further form parameters, each with its values (Go's `url.Values`).
    pub endpoint_params: BTreeMap<String, Vec<String>>,
    /// Of one token request; None: the Collector's "no timeout" (see `DEFAULT_REQUEST_CEILING`).
    pub timeout: Option<Duration>,
    pub tls: ClientTlsSettings,
    pub expiry_buffer: Duration,
}

impl Default for OAuth2ClientConfig {
    fn default() -> Self {
        OAuth2ClientConfig {
            token_url: None,
            client_id: String::new(),
            client_id_file: None,
            client_secret: String::new(),
            client_secret_file: None,
            scopes: Vec::new(),
            endpoint_params: BTreeMap::new(),
            timeout: None,
            tls: ClientTlsSettings::default(),
            expiry_buffer: DEFAULT_EXPIRY_BUFFER,
        }
    }
}

impl fmt::Debug for OAuth2ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2ClientConfig")
            .field("token_url", &self.token_url.as_ref().map(Url::as_str))
            .field("client_id", &self.client_id)
            .field("client_id_file", &self.client_id_file)
            .field("client_secret", &"<redacted>")
            .field("client_secret_file", &self.client_secret_file)
            .field("scopes", &self.scopes)
            .field("endpoint_params", &self.endpoint_params.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .field("expiry_buffer", &self.expiry_buffer)
            .finish()
    }
}

impl OAuth2ClientConfig {
    /// How long before its expiry a token is replaced (0: Go's default of 10 s).
    fn effective_expiry_buffer(&self) -> Duration {
        if self.expiry_buffer.is_zero() {
            GO_DEFAULT_EXPIRY_DELTA
        } else {
            self.expiry_buffer
        }
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> OAuth2ClientConfig {
    let mut config = OAuth2ClientConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    let at = |key: &str| format!("{path}.{key}");
    let mut known = body.clone();
    if let Some(v) = known.remove("grant_type") {
        match p.string(&v, &at("grant_type")).as_deref() {
            None | Some("" | "client_credentials") => {}
            Some(JWT_BEARER) => p.error(
                &at("grant_type"),
                "otelbox does not support the jwt-bearer grant (RFC 7523); use client_credentials (client_id and client_secret)",
            ),
            Some(other) => p.error(&at("grant_type"), format!("expected client_credentials, got '{other}'")),
        }
    }
    for key in JWT_BEARER_KEYS {
        if known.remove(key).is_some() {
            p.error(
                &at(key),
                format!("is for grant_type {JWT_BEARER}, which otelbox does not support (client_credentials only)"),
            );
        }
    }
    p.only_keys(&known, &KEYS, path);
    let mut text = |key: &str| body.get(key).and_then(|v| p.string(v, &at(key)));
    config.client_id = text("client_id").unwrap_or_default();
    config.client_secret = text("client_secret").unwrap_or_default();
    // An empty file name is unset, as in the Collector.
    config.client_id_file = text("client_id_file").filter(|f| !f.is_empty()).map(PathBuf::from);
    config.client_secret_file = text("client_secret_file").filter(|f| !f.is_empty()).map(PathBuf::from);
    let token_url = text("token_url");
    if config.client_id.is_empty() && config.client_id_file.is_none() {
        p.error(
            path,
            "client_id (or client_id_file) is required: the client identifier the token endpoint issued",
        );
    }
    if config.client_secret.is_empty() && config.client_secret_file.is_none() {
        p.error(path, "client_secret (or client_secret_file) is required");
    }
    match token_url.as_deref() {
        None | Some("") => p.error(path, "token_url is required: the token endpoint's URL"),
        Some(url) => match Url::parse(url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => config.token_url = Some(url),
            Ok(_) => p.error(&at("token_url"), format!("expected an http:// or https:// URL, got '{url}'")),
            Err(e) => p.error(&at("token_url"), format!("not a URL ({e}): '{url}'")),
        },
    }
    config.scopes = p.string_list(body.get("scopes"), &at("scopes"));
    for (key, value) in p.entries(body.get("endpoint_params"), &at("endpoint_params")) {
        let values = param_values(p, value, &format!("{}.{key}", at("endpoint_params")));
        config.endpoint_params.insert(key, values);
    }
    if !config.scopes.is_empty() && config.endpoint_params.contains_key("scope") {
        // Go's oauth2 refuses every token request then ("cannot overwrite parameter \"scope\"").
        p.error(
            &format!("{}.scope", at("endpoint_params")),
            "conflicts with scopes, which make the scope parameter; remove one of the two",
        );
    }
    config.tls = parse_client_tls(p, body.get("tls"), &at("tls"));
    if let Some(v) = body.get("timeout") {
        config.timeout = p.duration(v, &at("timeout")).filter(|d| !d.is_zero());
    }
    if let Some(v) = body.get("expiry_buffer") {
        if let Some(buffer) = p.duration(v, &at("expiry_buffer")) {
            config.expiry_buffer = buffer;
        }
    }
    config
}

/// An endpoint parameter's values: a scalar is one value (the Collector's decoding turns it into
/// a list), a list is several; null is none.
fn param_values(p: &mut Parser, value: &Value, path: &str) -> Vec<String> {
    let scalar = |value: &Value| match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match value {
        Value::Null => Vec::new(),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let text = scalar(item);
                if text.is_none() {
                    p.error(&format!("{path}[{i}]"), "expected a string");
                }
                text
            })
            .collect(),
        other => match scalar(other) {
            Some(text) => vec![text],
            None => {
                p.error(path, "expected a string or a list of strings");
                Vec::new()
            }
        },
    }
}

pub struct Factory;
crate::component_type!(Factory, "oauth2client", &[], parse);

impl ExtensionFactory for Factory {
    fn build(&self, id: &ComponentId, settings: &Settings) -> anyhow::Result<Arc<dyn Extension>> {
        let config: &OAuth2ClientConfig = settings.get();
        Ok(Arc::new(OAuth2Client::new(id, config)?))
    }
}

/// How the client id and secret go to the token endpoint (Go's `AuthStyle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthStyle {
    /// HTTP basic credentials, each query-escaped first.
    InHeader,
    /// `client_id` and `client_secret` form parameters.
    InParams,
}

/// A token as exporters send it.
#[derive(Clone)]
struct Token {
    /// `<type> <access token>`, marked sensitive.
    value: http::HeaderValue,
    /// None: the server named no lifetime, so it is kept until replaced (as Go's oauth2 does).
    expires: Option<Instant>,
    /// When the next one is fetched (None: never).
    refresh_at: Option<Instant>,
}

#[derive(Default)]
struct State {
    token: Option<Token>,
    /// Why the last fetch failed, until one succeeds.
    last_error: Option<String>,
}

/// What the background task and the exporters share.
struct TokenSource {
    id: ComponentId,
    config: OAuth2ClientConfig,
    token_url: Url,
    client: HttpClient,
    /// The style the token endpoint took; None: not known yet (the header first, then the form).
    style: Mutex<Option<AuthStyle>>,
    state: Mutex<State>,
    /// Fetches finished so far, which start-up waits on for the first.
    attempts: watch::Sender<u64>,
}

pub struct OAuth2Client {
    source: Arc<TokenSource>,
    refresher: Mutex<Option<JoinHandle<()>>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl OAuth2Client {
    /// Sets up the token endpoint's client (its TLS files read now, so a missing one is a start-up
    /// error naming it); fetches nothing yet.
    pub fn new(id: &ComponentId, config: &OAuth2ClientConfig) -> anyhow::Result<OAuth2Client> {
        let token_url = config
            .token_url
            .clone()
            .ok_or_else(|| anyhow::anyhow!("{id}: token_url is required"))?;
        let connect_timeout = config.timeout.unwrap_or(CONNECT_TIMEOUT).min(CONNECT_TIMEOUT);
        let client = HttpClient::new(&config.tls, token_url.scheme() == "https", connect_timeout)
            .map_err(|e| anyhow::anyhow!("{id}: the token endpoint's client: {e}"))?;
        Ok(OAuth2Client {
            source: Arc::new(TokenSource {
                id: id.clone(),
                config: config.clone(),
                token_url,
                client,
                style: Mutex::new(None),
                state: Mutex::new(State::default()),
                attempts: watch::Sender::new(0),
            }),
            refresher: Mutex::new(None),
        })
    }
}

impl Extension for OAuth2Client {
    /// Starts the task that fetches and refreshes the token, and waits a little for the first one;
    /// never fails for want of a token (the exporters retry until there is one).
    fn start(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            let mut attempts = self.source.attempts.subscribe();
            let source = self.source.clone();
            let task = tokio::spawn(source.refresh_forever());
            if let Some(previous) = locked(&self.refresher).replace(task) {
                previous.abort();
            }
            let first = tokio::time::timeout(FIRST_TOKEN_WAIT, attempts.wait_for(|n| *n > 0))
                .await
                .map(|seen| seen.is_ok());
            if first.is_err() {
                tracing::warn!(
                    extension = %self.source.id,
                    token_url = %self.source.token_url,
                    "no answer from the token endpoint yet; exporters naming this authenticator retry until a token comes"
                );
            }
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Some(task) = locked(&self.refresher).take() {
                task.abort();
            }
        })
    }

    fn client_authenticator(&self) -> Option<&dyn ClientAuthenticator> {
        Some(self)
    }
}

impl ClientAuthenticator for OAuth2Client {
    /// The current token; `Err` (no token yet, or it expired and no new one came) says why.
    fn authorization(&self) -> anyhow::Result<http::HeaderValue> {
        self.source.current().map_err(anyhow::Error::msg)
    }

    fn refreshes(&self) -> bool {
        true
    }
}

impl TokenSource {
    fn current(&self) -> Result<http::HeaderValue, String> {
        let state = locked(&self.state);
        if let Some(token) = &state.token {
            if token.expires.is_none_or(|at| Instant::now() < at) {
                return Ok(token.value.clone());
            }
        }
        Err(match (&state.last_error, &state.token) {
            (Some(error), _) => format!("no valid OAuth2 token: {error}"),
            (None, Some(_)) => format!("the OAuth2 token expired and no new one has come yet from {}", self.token_url),
            (None, None) => format!("no OAuth2 token yet from {}", self.token_url),
        })
    }

    /// Fetches a token, then each next one when it is due; retries failures with a backoff.
    async fn refresh_forever(self: Arc<Self>) {
        let mut failures: u32 = 0;
        loop {
            let wait = match self.fetch().await {
                Ok(token) => {
                    if failures > 0 {
                        tracing::info!(extension = %self.id, "got an OAuth2 token again from {}", self.token_url);
                    }
                    failures = 0;
                    let wait = token.refresh_at.map(|at| at.saturating_duration_since(Instant::now()));
                    let mut state = locked(&self.state);
                    state.token = Some(token);
                    state.last_error = None;
                    wait
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let wait = retry_delay(failures);
                    tracing::warn!(
                        extension = %self.id,
                        %error,
                        retry_in = ?wait,
                        "cannot get an OAuth2 token; exporters naming this authenticator retry their requests until one comes"
                    );
                    locked(&self.state).last_error = Some(error);
                    Some(wait)
                }
            };
            self.attempts.send_modify(|n| *n += 1);
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => std::future::pending::<()>().await,
            }
        }
    }

    /// One token from the token endpoint, as Go's clientcredentials `Token()`.
    async fn fetch(&self) -> Result<Token, String> {
        let fail = |e: String| format!("failed to get a security token from token endpoint {}: {e}", self.token_url);
        let client_id = credential(&self.config.client_id, self.config.client_id_file.as_deref()).map_err(fail)?;
        let client_secret = credential(&self.config.client_secret, self.config.client_secret_file.as_deref()).map_err(fail)?;
        let mut form: BTreeMap<String, Vec<String>> = BTreeMap::new();
        form.insert("grant_type".into(), vec!["client_credentials".into()]);
        if !self.config.scopes.is_empty() {
            form.insert("scope".into(), vec![self.config.scopes.join(" ")]);
        }
        // `grant_type` may be overridden, for endpoints that want another value (as in Go).
        for (key, values) in &self.config.endpoint_params {
            form.insert(key.clone(), values.clone());
        }
        let known = *locked(&self.style);
        let result = match known {
            Some(style) => self.request(style, &form, &client_id, &client_secret).await,
            None => {
                let mut style = AuthStyle::InHeader;
                let mut result = self.request(style, &form, &client_id, &client_secret).await;
                if result.is_err() {
                    // The endpoint may want the credentials in the form instead (Go's auto-detection).
                    style = AuthStyle::InParams;
                    result = self.request(style, &form, &client_id, &client_secret).await;
                }
                if result.is_ok() {
                    *locked(&self.style) = Some(style);
                }
                result
            }
        };
        result.map_err(fail)
    }

    async fn request(
        &self,
        style: AuthStyle,
        form: &BTreeMap<String, Vec<String>>,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Token, String> {
        let mut form = form.clone();
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        match style {
            AuthStyle::InHeader => {
                let credentials = format!("{}:{}", query_escape(client_id), query_escape(client_secret));
                let mut value = http::HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(credentials)))
                    .map_err(|_| "the basic credentials make no valid header".to_string())?;
                value.set_sensitive(true);
                headers.insert(http::header::AUTHORIZATION, value);
            }
            AuthStyle::InParams => {
                if !client_id.is_empty() {
                    form.insert("client_id".into(), vec![client_id.to_string()]);
                }
                if !client_secret.is_empty() {
                    form.insert("client_secret".into(), vec![client_secret.to_string()]);
                }
            }
        }
        let body = Bytes::from(encode_form(&form));
        let limit = self.config.timeout.unwrap_or(DEFAULT_REQUEST_CEILING);
        let answer = tokio::time::timeout(limit, self.client.post(&self.token_url, &headers, body, MAX_TOKEN_ANSWER))
            .await
            .map_err(|_| format!("no answer within {limit:?}"))??;
        parse_token_answer(&answer, Instant::now(), self.config.effective_expiry_buffer())
    }
}

/// The wait before the `failures`th retry: 1 s doubling to 30 s.
fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(5);
    RETRY_FIRST.saturating_mul(1 << doublings).min(RETRY_MAX)
}

/// A credential: the file's content, trimmed, when there is a file (read now, as the Collector reads
/// it at every fetch), else the inline value.
fn credential(inline: &str, file: Option<&Path>) -> Result<String, String> {
    let Some(file) = file else {
        return Ok(inline.to_string());
    };
    let text = std::fs::read_to_string(file).map_err(|e| format!("failed to read credentials file {}: {e}", file.display()))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(format!("empty credentials file {}", file.display()));
    }
    Ok(value.to_string())
}

/// Go's `url.QueryEscape`: letters, digits and `-_.~` as they are, a space as `+`, any other byte
/// as `%XX`.
pub fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

/// Go's `url.Values.Encode`: `key=value` pairs joined by `&`, keys sorted, each value of a key.
pub fn encode_form(form: &BTreeMap<String, Vec<String>>) -> String {
    let mut pairs = Vec::new();
    for (key, values) in form {
        for value in values {
            pairs.push(format!("{}={}", query_escape(key), query_escape(value)));
        }
    }
    pairs.join("&")
}

/// Go's `url.QueryUnescape`. The error never shows the text (it may hold a token).
fn query_unescape(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let digits = bytes
                    .get(i + 1..i + 3)
                    .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
                    .ok_or_else(|| "invalid URL escape".to_string())?;
                let text = std::str::from_utf8(digits).map_err(|_| "invalid URL escape".to_string())?;
                out.push(u8::from_str_radix(text, 16).map_err(|_| "invalid URL escape".to_string())?);
                i += 3;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `url.ParseQuery`: the pairs of a form, in order.
fn parse_form(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for part in text.split('&').filter(|part| !part.is_empty()) {
        if part.contains(';') {
            return Err("invalid semicolon separator in query".into());
        }
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((query_unescape(key)?, query_unescape(value)?));
    }
    Ok(pairs)
}

/// The fields of a token answer (RFC 6749 sections 5.1 and 5.2).
#[derive(Debug, Default)]
struct TokenFields {
    access_token: String,
    token_type: String,
    /// Seconds; 0: none given.
    expires_in: i64,
    error: String,
    error_description: String,
    error_uri: String,
}

fn form_fields(body: &[u8]) -> Result<TokenFields, String> {
    let pairs = parse_form(&String::from_utf8_lossy(body))?;
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
    Ok(TokenFields {
        access_token: get("access_token"),
        token_type: get("token_type"),
        // As Go's `strconv.Atoi`, a malformed lifetime is none.
        expires_in: get("expires_in").parse().unwrap_or(0),
        error: get("error"),
        error_description: get("error_description"),
        error_uri: get("error_uri"),
    })
}

fn json_fields(body: &[u8]) -> Result<TokenFields, String> {
    use serde_json::Value as Json;
    let map = match serde_json::from_slice::<Json>(body).map_err(|e| e.to_string())? {
        Json::Object(map) => map,
        Json::Null => return Ok(TokenFields::default()),
        _ => return Err("expected a JSON object".into()),
    };
    let text = |key: &str| match map.get(key) {
        None | Some(Json::Null) => Ok(String::new()),
        Some(Json::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("{key} is not a string")),
    };
    // A number, or a numeric string (PayPal's), as Go's oauth2 reads it; capped at i32::MAX.
    let expires_in = match map.get("expires_in") {
        None | Some(Json::Null) => 0,
        Some(Json::Number(n)) => n.as_i64().ok_or("expires_in is not an integer")?,
        Some(Json::String(s)) => s.trim().parse::<i64>().map_err(|_| "expires_in is not an integer")?,
        Some(_) => return Err("expires_in is not a number".into()),
    };
    Ok(TokenFields {
        access_token: text("access_token")?,
        token_type: text("token_type")?,
        expires_in: expires_in.min(i64::from(i32::MAX)),
        error: text("error")?,
        error_description: text("error_description")?,
        error_uri: text("error_uri")?,
    })
}

/// A token endpoint's answer as Go's oauth2 reads it (`doTokenRoundTrip`), into the token to send
/// (`now`: when it came; `buffer`: how long before its expiry the next one is fetched).
fn parse_token_answer(answer: &HttpAnswer, now: Instant, buffer: Duration) -> Result<Token, String> {
    let failed = !(200..=299).contains(&answer.status);
    let failure = || {
        let body: String = String::from_utf8_lossy(&answer.body)
            .chars()
            .filter(|c| !c.is_control())
            .take(300)
            .collect();
        format!("cannot fetch token: HTTP {}: {}", answer.status, body.trim())
    };
    let media = answer
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let fields = if media == "application/x-www-form-urlencoded" || media == "text/plain" {
        form_fields(&answer.body).map_err(|e| if failed { failure() } else { format!("cannot parse response: {e}") })?
    } else {
        json_fields(&answer.body).map_err(|e| if failed { failure() } else { format!("cannot parse json: {e}") })?
    };
    if !fields.error.is_empty() {
        // Some servers answer 200 with an error (RFC 6749 says 400).
        let mut message = format!("{:?}", fields.error);
        for detail in [&fields.error_description, &fields.error_uri] {
            if !detail.is_empty() {
                let _ = write!(message, " {detail:?}");
            }
        }
        return Err(message);
    }
    if failed {
        return Err(failure());
    }
    if fields.access_token.is_empty() {
        return Err("server response missing access_token".into());
    }
    // Go's `Token.Type()`.
    let token_type = match fields.token_type.as_str() {
        t if t.is_empty() || t.eq_ignore_ascii_case("bearer") => "Bearer",
        t if t.eq_ignore_ascii_case("mac") => "MAC",
        t if t.eq_ignore_ascii_case("basic") => "Basic",
        t => t,
    };
    let text = format!("{token_type} {}", fields.access_token);
    // HeaderValue also takes bytes above 0x7f, which servers read differently: visible ASCII only.
    let visible = text.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
    let mut value = http::HeaderValue::from_str(&text)
        .ok()
        .filter(|_| visible)
        .ok_or_else(|| "the token or its type holds a character a header cannot carry (visible ASCII only)".to_string())?;
    value.set_sensitive(true);
    let (expires, refresh_at) = match fields.expires_in {
        0 => (None, None),
        seconds if seconds < 0 => (Some(now), Some(now + MIN_REFRESH)),
        seconds => {
            let lifetime = Duration::from_secs(seconds.unsigned_abs());
            let refresh_in = lifetime.saturating_sub(buffer).max(lifetime / 2).max(MIN_REFRESH);
            (Some(now + lifetime), Some(now + refresh_in))
        }
    };
    Ok(Token {
        value,
        expires,
        refresh_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::{ClientAuthorization, Extensions};
    use std::collections::VecDeque;
    use std::net::SocketAddr;

    fn id() -> ComponentId {
        ComponentId::parse("oauth2client").unwrap()
    }

    fn parsed(yaml: &str) -> (OAuth2ClientConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "extensions.oauth2client");
        (config, errors)
    }

    fn built(yaml: &str) -> Arc<dyn Extension> {
        let (config, errors) = parsed(yaml);
        assert_eq!(errors, Vec::<String>::new());
        Factory.build(&id(), &Settings::new(config)).unwrap()
    }

    /// The extension built and started from `yaml`, as the service does.
    async fn started(yaml: &str) -> Arc<dyn Extension> {
        let extension = built(yaml);
        extension.start().await.expect("start never fails for want of a token");
        extension
    }

    fn header(extension: &Arc<dyn Extension>) -> Result<String, String> {
        let client = extension.client_authenticator().expect("a client authenticator");
        assert!(client.refreshes(), "asked before every request");
        client
            .authorization()
            .map(|value| {
                assert!(value.is_sensitive(), "kept out of header compression tables and debug output");
                value.to_str().unwrap().to_string()
            })
            .map_err(|e| e.to_string())
    }

    /// One request the token server got.
    #[derive(Clone, Debug)]
    struct Seen {
        method: String,
        path: String,
        authorization: Option<String>,
        content_type: Option<String>,
        body: String,
    }

    /// A fake token endpoint: answers from a script (the last answer repeating), recording requests.
    #[derive(Default)]
    struct TokenServer {
        seen: std::sync::Mutex<Vec<Seen>>,
        /// Status, content type, body.
        script: std::sync::Mutex<VecDeque<(u16, &'static str, String)>>,
        /// Refuses credentials in a basic header, as an endpoint wanting them in the form.
        form_only: bool,
    }

    impl TokenServer {
        fn new(answers: &[(u16, &'static str, &str)]) -> Arc<TokenServer> {
            Self::with(answers, false)
        }

        fn with(answers: &[(u16, &'static str, &str)], form_only: bool) -> Arc<TokenServer> {
            Arc::new(TokenServer {
                script: std::sync::Mutex::new(answers.iter().map(|(s, t, b)| (*s, *t, b.to_string())).collect()),
                form_only,
                ..Default::default()
            })
        }

        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }

        fn answer(&self, seen: Seen) -> (u16, &'static str, String) {
            let basic = seen.authorization.as_deref().is_some_and(|a| a.starts_with("Basic "));
            self.seen.lock().unwrap().push(seen);
            if self.form_only && basic {
                return (401, "application/json", r#"{"error":"invalid_client"}"#.to_string());
            }
            let mut script = self.script.lock().unwrap();
            if script.len() > 1 {
                script.pop_front().unwrap()
            } else {
                script.front().cloned().expect("an answer")
            }
        }
    }

    async fn serve_tokens(server: Arc<TokenServer>) -> SocketAddr {
        let handler = move |method: axum::http::Method, uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
            let server = server.clone();
            async move {
                let get = |name: axum::http::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                let seen = Seen {
                    method: method.to_string(),
                    path: uri.path().to_string(),
                    authorization: get(axum::http::header::AUTHORIZATION),
                    content_type: get(axum::http::header::CONTENT_TYPE),
                    body,
                };
                let (status, content_type, body) = server.answer(seen);
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [(axum::http::header::CONTENT_TYPE, content_type)],
                    body,
                )
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new().fallback(handler);
        tokio::spawn(async move { axum::serve(listener, router).await });
        addr
    }

    const JSON: &str = "application/json";

    fn token_json(token: &str, expires_in: u64) -> String {
        format!(r#"{{"access_token":"{token}","token_type":"bearer","expires_in":{expires_in}}}"#)
    }

    fn config_for(addr: SocketAddr, extra: &str) -> String {
        format!("client_id: agent\nclient_secret: s3cret\ntoken_url: http://{addr}/oauth2/token\n{extra}")
    }

    async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn the_token_request_is_go_s_client_credentials_one_and_exporters_send_the_token() {
        let server = TokenServer::new(&[(200, JSON, token_json("tok-1", 3600).as_str())]);
        let addr = serve_tokens(server.clone()).await;
        let yaml = format!(
            "client_id: otelbox agent\nclient_secret: s3cret&more\ntoken_url: http://{addr}/oauth2/token\n\
             scopes: [api.metrics, api.logs]\nendpoint_params: {{ audience: otlp, resource: [a, b] }}\n"
        );
        let extension = started(&yaml).await;
        assert_eq!(header(&extension).unwrap(), "Bearer tok-1", "token_type bearer is sent Bearer");
        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        let request = &seen[0];
        assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/oauth2/token"));
        assert_eq!(request.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
        assert_eq!(
            request.authorization.as_deref(),
            Some(format!("Basic {}", STANDARD.encode("otelbox+agent:s3cret%26more")).as_str()),
            "first as basic credentials, each query-escaped"
        );
        assert_eq!(
            request.body,
            "audience=otlp&grant_type=client_credentials&resource=a&resource=b&scope=api.metrics+api.logs"
        );
        extension.shutdown().await;
    }

    #[tokio::test]
    async fn the_token_is_cached_until_it_is_due() {
        let server = TokenServer::new(&[(200, JSON, token_json("tok-1", 3600).as_str())]);
        let addr = serve_tokens(server.clone()).await;
        let extension = started(&config_for(addr, "")).await;
        for _ in 0..100 {
            assert_eq!(header(&extension).unwrap(), "Bearer tok-1");
        }
        assert_eq!(server.seen().len(), 1, "one fetch for every request");
        extension.shutdown().await;
    }

    #[tokio::test]
    async fn a_new_token_is_fetched_before_the_current_one_expires() {
        let server = TokenServer::new(&[
            (200, JSON, token_json("tok-1", 1).as_str()),
            (200, JSON, token_json("tok-2", 3600).as_str()),
        ]);
        let addr = serve_tokens(server.clone()).await;
        let extension = started(&config_for(addr, "expiry_buffer: 1s")).await;
        assert_eq!(header(&extension).unwrap(), "Bearer tok-1");
        wait_until("the second token", || header(&extension).as_deref() == Ok("Bearer tok-2")).await;
        assert_eq!(server.seen().len(), 2);
        extension.shutdown().await;
    }

    #[tokio::test]
    async fn a_failing_token_endpoint_fails_requests_retryably_without_failing_start() {
        let refusal = r#"{"error":"invalid_client","error_description":"bad secret"}"#;
        let server = TokenServer::new(&[(401, JSON, refusal)]);
        let addr = serve_tokens(server.clone()).await;
        let extension = built(&config_for(addr, ""));
        let extensions = Extensions::start(vec![(id(), extension)]).await.expect("started without a token");
        let error = extensions.client_authorization(&id()).unwrap().current().expect_err("no token");
        assert!(error.contains(r#""invalid_client" "bad secret""#), "{error}");
        assert!(error.contains(&format!("http://{addr}/oauth2/token")), "{error}");
        assert!(!error.contains("s3cret"), "never the secret: {error}");
        let seen = server.seen();
        assert!(seen.len() >= 2, "the basic header, then the form: {seen:?}");
        assert!(seen[0].authorization.is_some() && seen[1].authorization.is_none());
        assert_eq!(seen[1].body, "client_id=agent&client_secret=s3cret&grant_type=client_credentials");
        // What an exporter does with it: a retryable failure, so the batch stays queued.
        let authorization = extensions.client_authorization(&id()).unwrap();
        assert!(authorization.fixed_value().is_none(), "asked before every request");
        match crate::exporter::sender::request_headers(&http::HeaderMap::new(), Some(&authorization)) {
            Err(error @ crate::exporter::retry::SendError::Retryable { .. }) => {
                assert!(error.message().starts_with("no Authorization to send: "), "{}", error.message())
            }
            other => panic!("expected a retryable failure, got {other:?}"),
        }
        extensions.shutdown().await;
    }

    #[tokio::test]
    async fn an_unreachable_token_endpoint_does_not_fail_start() {
        let extension = started("client_id: agent\nclient_secret: s3cret\ntoken_url: http://127.0.0.1:1/token\n").await;
        let error = header(&extension).unwrap_err();
        assert!(
            error.contains("failed to get a security token from token endpoint http://127.0.0.1:1/token"),
            "{error}"
        );
        extension.shutdown().await;
    }

    #[tokio::test]
    async fn an_endpoint_refusing_basic_credentials_gets_them_in_the_form_from_then_on() {
        let server = TokenServer::with(
            &[
                (200, JSON, token_json("tok-1", 1).as_str()),
                (200, JSON, token_json("tok-2", 3600).as_str()),
            ],
            true,
        );
        let addr = serve_tokens(server.clone()).await;
        let extension = started(&config_for(addr, "")).await;
        assert_eq!(header(&extension).unwrap(), "Bearer tok-1");
        wait_until("the second token", || header(&extension).as_deref() == Ok("Bearer tok-2")).await;
        let seen = server.seen();
        assert_eq!(seen.len(), 3, "header, form, then the form directly: {seen:?}");
        assert!(seen[0].authorization.is_some());
        for request in &seen[1..] {
            assert!(request.authorization.is_none());
            assert_eq!(request.body, "client_id=agent&client_secret=s3cret&grant_type=client_credentials");
        }
        extension.shutdown().await;
    }

    #[tokio::test]
    async fn the_credential_files_win_and_are_read_at_every_fetch_trimmed() {
        let server = TokenServer::new(&[(200, JSON, token_json("tok-1", 3600).as_str())]);
        let addr = serve_tokens(server.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let (id_file, secret_file) = (dir.path().join("id"), dir.path().join("secret"));
        std::fs::write(&id_file, "  id-from-file\n").unwrap();
        std::fs::write(&secret_file, "secret-from-file\n").unwrap();
        let yaml = config_for(
            addr,
            &format!(
                "client_id_file: {}\nclient_secret_file: {}\n",
                id_file.display(),
                secret_file.display()
            ),
        );
        let extension = started(&yaml).await;
        assert_eq!(header(&extension).unwrap(), "Bearer tok-1");
        assert_eq!(
            server.seen()[0].authorization.as_deref(),
            Some(format!("Basic {}", STANDARD.encode("id-from-file:secret-from-file")).as_str())
        );
        extension.shutdown().await;

        std::fs::write(&secret_file, "\n").unwrap();
        let extension = started(&yaml).await;
        let error = header(&extension).unwrap_err();
        assert!(error.contains("empty credentials file"), "{error}");
        extension.shutdown().await;
    }

    fn answer(status: u16, content_type: &str, body: &str) -> HttpAnswer {
        let mut headers = http::HeaderMap::new();
        if !content_type.is_empty() {
            headers.insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
        }
        HttpAnswer {
            status,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn read(status: u16, content_type: &str, body: &str) -> Result<(String, Option<Duration>, Option<Duration>), String> {
        let now = Instant::now();
        parse_token_answer(&answer(status, content_type, body), now, DEFAULT_EXPIRY_BUFFER).map(|token| {
            (
                token.value.to_str().unwrap().to_string(),
                token.expires.map(|at| at - now),
                token.refresh_at.map(|at| at - now),
            )
        })
    }

    #[test]
    fn token_answers_are_read_as_go_s_oauth2_reads_them() {
        let hour = Some(Duration::from_secs(3600));
        assert_eq!(
            read(200, JSON, token_json("tok", 3600).as_str()),
            Ok(("Bearer tok".into(), hour, Some(Duration::from_secs(3300)))),
            "refreshed expiry_buffer before it expires"
        );
        assert_eq!(
            read(
                200,
                "application/json; charset=utf-8",
                r#"{"access_token":"tok","expires_in":"3600"}"#
            ),
            Ok(("Bearer tok".into(), hour, Some(Duration::from_secs(3300)))),
            "no token_type is Bearer; a numeric string lifetime (PayPal's)"
        );
        assert_eq!(
            read(200, JSON, r#"{"access_token":"tok","token_type":"DPoP"}"#),
            Ok(("DPoP tok".into(), None, None)),
            "another type as it is; no lifetime: kept until replaced"
        );
        assert_eq!(
            read(200, JSON, r#"{"access_token":"tok","expires_in":400}"#).map(|t| t.2),
            Ok(Some(Duration::from_secs(200))),
            "a lifetime shorter than twice the buffer: refreshed halfway"
        );
        assert_eq!(
            read(
                200,
                "application/x-www-form-urlencoded",
                "access_token=tok%2B1&token_type=mac&expires_in=60"
            ),
            Ok(("MAC tok+1".into(), Some(Duration::from_secs(60)), Some(Duration::from_secs(30)))),
            "a form answer"
        );
        assert_eq!(
            read(200, "text/plain", "access_token=tok&expires_in=soon").map(|t| t.1),
            Ok(None),
            "a malformed lifetime in a form is none"
        );
        assert_eq!(
            read(200, "", r#"{"access_token":"tok"}"#).map(|t| t.0),
            Ok("Bearer tok".into()),
            "no content type: JSON"
        );
    }

    #[test]
    fn failed_token_answers_say_why() {
        assert_eq!(
            read(
                400,
                JSON,
                r#"{"error":"invalid_scope","error_description":"no such scope","error_uri":"https://x"}"#
            ),
            Err(r#""invalid_scope" "no such scope" "https://x""#.into())
        );
        assert_eq!(
            read(200, JSON, r#"{"error":"invalid_client"}"#),
            Err(r#""invalid_client""#.into()),
            "an error in a 200 is one"
        );
        assert_eq!(
            read(500, "text/html", "<h1>down</h1>"),
            Err("cannot fetch token: HTTP 500: <h1>down</h1>".into())
        );
        assert_eq!(read(503, JSON, ""), Err("cannot fetch token: HTTP 503: ".into()));
        assert_eq!(
            read(200, JSON, r#"{"token_type":"bearer"}"#),
            Err("server response missing access_token".into())
        );
        assert_eq!(read(200, JSON, "null"), Err("server response missing access_token".into()));
        assert!(read(200, JSON, "not json").unwrap_err().starts_with("cannot parse json: "));
        assert_eq!(
            read(200, JSON, r#"{"access_token":"tok","expires_in":36.5}"#),
            Err("cannot parse json: expires_in is not an integer".into())
        );
        assert_eq!(
            read(200, JSON, r#"{"access_token":"tök"}"#),
            Err("the token or its type holds a character a header cannot carry (visible ASCII only)".into())
        );
        assert_eq!(
            read(200, "text/plain", "access_token=%zz"),
            Err("cannot parse response: invalid URL escape".into()),
            "never the token"
        );
    }

    #[test]
    fn forms_are_encoded_as_go_encodes_url_values() {
        assert_eq!(query_escape("a b+c&d=e/f~g.h-i_j*k"), "a+b%2Bc%26d%3De%2Ff~g.h-i_j%2Ak");
        assert_eq!(query_escape("é"), "%C3%A9");
        let mut form = BTreeMap::new();
        form.insert("scope".to_string(), vec!["a b".to_string()]);
        form.insert("grant_type".to_string(), vec!["client_credentials".to_string()]);
        form.insert("empty".to_string(), vec![]);
        form.insert("multi".to_string(), vec!["1".to_string(), "2".to_string()]);
        assert_eq!(encode_form(&form), "grant_type=client_credentials&multi=1&multi=2&scope=a+b");
        assert_eq!(
            parse_form("a=1&b=x+y%21&c&a=2").unwrap(),
            [("a", "1"), ("b", "x y!"), ("c", ""), ("a", "2")].map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(parse_form("a=1;b=2").is_err());
    }

    #[test]
    fn retries_back_off_from_one_second_to_thirty() {
        let waits: Vec<u64> = (1..=8).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn the_defaults_are_the_collectors() {
        let (config, errors) = parsed("client_id: a\nclient_secret: b\ntoken_url: https://auth.example.com/token");
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(config.expiry_buffer, Duration::from_secs(300));
        assert_eq!(config.timeout, None);
        assert!(config.scopes.is_empty() && config.endpoint_params.is_empty());
        assert_eq!(config.tls, ClientTlsSettings::default());
        let (config, _) = parsed("client_id: a\nclient_secret: b\ntoken_url: https://x/t\nexpiry_buffer: 0s\ntimeout: 0s");
        assert_eq!(
            config.effective_expiry_buffer(),
            Duration::from_secs(10),
            "Go's default expiry delta"
        );
        assert_eq!(config.timeout, None, "0 is no timeout");
        let (config, errors) = parsed("client_id: a\nclient_secret: b\ntoken_url: https://x/t\ngrant_type: client_credentials");
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(config.client_id, "a");
        assert!(!format!("{config:?}").contains("\"b\""), "Debug never shows the secret");
    }

    #[test]
    fn config_errors_name_their_paths() {
        let at = "extensions.oauth2client";
        let (_, errors) = parsed("{}");
        assert_eq!(
            errors,
            [
                format!("{at}: client_id (or client_id_file) is required: the client identifier the token endpoint issued"),
                format!("{at}: client_secret (or client_secret_file) is required"),
                format!("{at}: token_url is required: the token endpoint's URL"),
            ]
        );
        let (_, errors) = parsed(
            "client_id_file: /run/id\nclient_secret_file: /run/secret\ntoken_url: ftp://x/t\nscopes: [a]\n\
             endpoint_params: { scope: b, nested: { x: 1 }, list: [1, {}] }\ntimeout: soon\ncolour: red\n\
             grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer\nclient_certificate_key: k\ntls: { ca_file: 1 }",
        );
        assert_eq!(
            errors,
            [
                format!(
                    "{at}.grant_type: otelbox does not support the jwt-bearer grant (RFC 7523); use client_credentials (client_id and client_secret)"
                ),
                format!("{at}.client_certificate_key: is for grant_type {JWT_BEARER}, which otelbox does not support (client_credentials only)"),
                format!(
                    "{at}.colour: unknown key (expected one of: client_id, client_id_file, client_secret, client_secret_file, token_url, scopes, endpoint_params, tls, timeout, expiry_buffer)"
                ),
                format!("{at}.token_url: expected an http:// or https:// URL, got 'ftp://x/t'"),
                format!("{at}.endpoint_params.nested: expected a string or a list of strings"),
                format!("{at}.endpoint_params.list[1]: expected a string"),
                format!("{at}.endpoint_params.scope: conflicts with scopes, which make the scope parameter; remove one of the two"),
                format!("{at}.tls.ca_file: expected a string, got a number"),
                errors[8].clone(),
            ]
        );
        assert!(errors[8].starts_with(&format!("{at}.timeout: ")), "{}", errors[8]);
        let (_, errors) = parsed("client_id: a\nclient_secret: b\ntoken_url: 'not a url'\ngrant_type: password");
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0], format!("{at}.grant_type: expected client_credentials, got 'password'"));
        assert!(errors[1].starts_with(&format!("{at}.token_url: not a URL")), "{}", errors[1]);
    }

    #[tokio::test]
    async fn the_testdata_example_parses_and_starts_without_its_token_endpoint() {
        let examples: Value = serde_yaml_ng::from_str(include_str!("testdata/oauth2client.yaml")).unwrap();
        let section = &examples["oauth2client"];
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), section, "extensions.oauth2client");
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(config.scopes, ["api.metrics"]);
        assert_eq!(config.endpoint_params.get("audience"), Some(&vec!["otlp".to_string()]));
        let extension = Factory.build(&id(), &Settings::new(config)).unwrap();
        let begun = Instant::now();
        extension.start().await.unwrap();
        assert!(begun.elapsed() < FIRST_TOKEN_WAIT + Duration::from_secs(1));
        assert!(header(&extension).is_err(), "no token from a closed port");
        extension.shutdown().await;
    }

    fn memory_store() -> Arc<crate::store::Store> {
        crate::store::Store::open(crate::store::StoreConfig {
            location: crate::store::Location::Memory,
            retention: Default::default(),
            durable_sync: false,
        })
        .unwrap()
    }

    /// A server answering 200 to every POST, recording each request's Authorization header.
    async fn recording_upstream() -> (SocketAddr, Arc<std::sync::Mutex<Vec<Option<String>>>>) {
        let seen: Arc<std::sync::Mutex<Vec<Option<String>>>> = Arc::default();
        let record = seen.clone();
        let handler = move |headers: axum::http::HeaderMap| {
            let record = record.clone();
            async move {
                let authorization = headers
                    .get(axum::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                record.lock().unwrap().push(authorization);
                axum::http::StatusCode::OK
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new().fallback(axum::routing::post(handler));
        tokio::spawn(async move { axum::serve(listener, router).await });
        (addr, seen)
    }

    #[tokio::test]
    async fn an_exporter_naming_it_sends_the_current_token_with_every_request() {
        let server = TokenServer::new(&[(200, JSON, token_json("tok-1", 3600).as_str())]);
        let token_addr = serve_tokens(server.clone()).await;
        let (addr, seen) = recording_upstream().await;
        let yaml = format!(
            "extensions:\n  oauth2client: {{ client_id: agent, client_secret: s3cret, token_url: 'http://{token_addr}/token' }}\n\
             receivers: {{ otlp: {{ protocols: {{ http: {{ endpoint: 127.0.0.1:0 }} }} }} }}\n\
             exporters:\n  otlphttp/upstream: {{ endpoint: 'http://{addr}', compression: none, auth: {{ authenticator: oauth2client }} }}\n\
             service: {{ extensions: [oauth2client], pipelines: {{ logs: {{ receivers: [otlp], exporters: [otlphttp/upstream] }} }} }}\n"
        );
        let config = crate::components::parse_config(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let extensions = crate::service::start_extensions(&config).await.unwrap();
        let store = memory_store();
        let components = crate::telemetry::Components::default();
        let topology = crate::service::Topology::build(
            &config,
            &crate::service::Resources {
                store: &store,
                data_dir: None,
                components: &components,
                extensions: &extensions,
            },
        )
        .unwrap();
        let logs = topology
            .heads(&ComponentId::parse("otlp").unwrap())
            .logs
            .expect("the logs pipeline");
        for _ in 0..2 {
            let envelope = crate::pipeline::Envelope::unacked(crate::exporter::sender::golden::logs());
            crate::pipeline::Consumer::consume(&*logs, envelope).await.unwrap();
        }
        wait_until("the upstream got both requests", || seen.lock().unwrap().len() >= 2).await;
        let authorizations = seen.lock().unwrap().clone();
        assert_eq!(authorizations, [Some("Bearer tok-1".to_string()), Some("Bearer tok-1".to_string())]);
        assert_eq!(server.seen().len(), 1, "one token for both");
        topology.shutdown().await;
        extensions.shutdown().await;
        store.close().await;
    }

    #[test]
    fn a_fixed_authorization_is_not_asked_again() {
        let fixed = ClientAuthorization::fixed(http::HeaderValue::from_static("Bearer x"));
        assert_eq!(fixed.fixed_value().map(|v| v.to_str().unwrap()), Some("Bearer x"));
        assert_eq!(format!("{fixed:?}"), "ClientAuthorization(<redacted>)");
    }
}
