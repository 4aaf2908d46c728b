//! The `bearertokenauth` extension, a server and a client authenticator. A receiver protocol that
//! names it in `auth.authenticator` (instead of the box's ingest tokens) accepts only requests whose
//! `Authorization` header is `<scheme> <token>` (scheme `Bearer` by default) with one of its tokens:
//! `token`, `tokens`, or the first line of `filename` (read at start-up). Tokens are compared in
//! constant time. An `otlp` or `otlphttp` exporter that names it in `auth.authenticator` sends
//! `Authorization: <scheme> <token>` with every request, the token being the first line of
//! `filename` or else `token` (`tokens` alone are for receivers: a client sends one token).

use crate::auth::Tokens;
use crate::config::{ComponentId, Parser, Settings};
use crate::extension::{Authenticator, ClientAuthenticator, Extension, ExtensionFactory};
use futures::future::BoxFuture;
use serde_yaml_ng::Value;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

#[derive(Clone, Debug, PartialEq)]
pub struct BearerTokenAuthConfig {
    pub scheme: String,
    /// Every token a server accepts: `token` and `tokens`.
    pub tokens: Vec<String>,
    /// `token`: the one a client sends (unless `filename` is set).
    pub token: Option<String>,
    pub filename: Option<PathBuf>,
}

pub struct Factory;
crate::component_type!(Factory, "bearertokenauth", &[], parse);

impl ExtensionFactory for Factory {
    fn build(&self, id: &ComponentId, settings: &Settings) -> anyhow::Result<Arc<dyn Extension>> {
        let config: &BearerTokenAuthConfig = settings.get();
        Ok(Arc::new(BearerTokenAuth {
            id: id.clone(),
            scheme: config.scheme.clone(),
            filename: config.filename.clone(),
            tokens: RwLock::new(Tokens::new(config.tokens.iter().cloned())),
            client_token: RwLock::new(config.token.as_ref().map(|t| t.trim().to_string())),
        }))
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> BearerTokenAuthConfig {
    let mut config = BearerTokenAuthConfig {
        scheme: "Bearer".into(),
        tokens: Vec::new(),
        token: None,
        filename: None,
    };
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["scheme", "token", "tokens", "filename", "header"], path);
    if let Some(v) = body.get("scheme") {
        config.scheme = p.string(v, &format!("{path}.scheme")).unwrap_or(config.scheme);
    }
    if let Some(v) = body.get("header") {
        if p.string(v, &format!("{path}.header"))
            .is_some_and(|h| !h.eq_ignore_ascii_case("authorization"))
        {
            p.error(
                &format!("{path}.header"),
                "otelbox reads the token from the Authorization header only",
            );
        }
    }
    if let Some(v) = body.get("token") {
        config.token = p.string(v, &format!("{path}.token"));
        config.tokens.extend(config.token.clone());
    }
    config.tokens.extend(p.string_list(body.get("tokens"), &format!("{path}.tokens")));
    if let Some(v) = body.get("filename") {
        config.filename = p.string(v, &format!("{path}.filename")).map(PathBuf::from);
    }
    if config.tokens.iter().any(|t| t.trim().is_empty()) {
        p.error(path, "a token is empty (an unset environment variable?); it would accept nothing");
    }
    if config.tokens.is_empty() && config.filename.is_none() {
        p.error(path, "needs token, tokens or filename");
    }
    config
}

struct BearerTokenAuth {
    id: ComponentId,
    scheme: String,
    filename: Option<PathBuf>,
    tokens: RwLock<Tokens>,
    /// The token a client sends: `token`, replaced at start-up by the file's.
    client_token: RwLock<Option<String>>,
}

impl Extension for BearerTokenAuth {
    fn start(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            if let Some(file) = &self.filename {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| anyhow::anyhow!("{}: cannot read the token file {}: {e}", self.id, file.display()))?;
                let token = text.lines().next().unwrap_or_default().trim().to_string();
                if token.is_empty() {
                    anyhow::bail!("{}: the token file {} is empty", self.id, file.display());
                }
                *self.tokens.write().unwrap_or_else(|e| e.into_inner()) = Tokens::new([token.clone()]);
                *self.client_token.write().unwrap_or_else(|e| e.into_inner()) = Some(token);
            }
            Ok(())
        })
    }

    fn authenticator(&self) -> Option<&dyn Authenticator> {
        Some(self)
    }

    /// With `token` or `filename`: a client sends one token, so `tokens` alone make none.
    fn client_authenticator(&self) -> Option<&dyn ClientAuthenticator> {
        let has_one = self.filename.is_some() || self.client_token.read().unwrap_or_else(|e| e.into_inner()).is_some();
        has_one.then_some(self as &dyn ClientAuthenticator)
    }
}

impl ClientAuthenticator for BearerTokenAuth {
    /// `<scheme> <token>` (the token alone when the scheme is empty), never showing the token in an error.
    fn authorization(&self) -> anyhow::Result<http::HeaderValue> {
        let token = self
            .client_token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| anyhow::anyhow!("no token to send: set token or filename"))?;
        let text = if self.scheme.is_empty() {
            token
        } else {
            format!("{} {token}", self.scheme)
        };
        // HeaderValue also takes bytes above 0x7f, which servers read differently: visible ASCII only.
        let visible = text.bytes().all(|b| b == b' ' || b.is_ascii_graphic());
        let mut value = http::HeaderValue::from_str(&text)
            .ok()
            .filter(|_| visible)
            .ok_or_else(|| anyhow::anyhow!("the scheme or token holds a character a header cannot carry (visible ASCII only)"))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl Authenticator for BearerTokenAuth {
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<(), String> {
        let presented = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(&self.scheme))
            .map(|(_, token)| token.trim());
        let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
        match presented {
            Some(token) if tokens.accepts(token.as_bytes()) => Ok(()),
            _ => Err(format!(
                "missing or wrong token: send `Authorization: {} <token>` ({})",
                self.scheme, self.id
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(tokens: &[&str]) -> BearerTokenAuth {
        BearerTokenAuth {
            id: ComponentId::parse("bearertokenauth").unwrap(),
            scheme: "Bearer".into(),
            filename: None,
            tokens: RwLock::new(Tokens::new(tokens.iter().map(|t| t.to_string()))),
            client_token: RwLock::new(None),
        }
    }

    fn parsed(yaml: &str) -> (BearerTokenAuthConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "extensions.bearertokenauth");
        (config, errors)
    }

    /// The extension built and started from `yaml`, as the service does.
    async fn started(yaml: &str) -> Arc<dyn Extension> {
        let (config, errors) = parsed(yaml);
        assert_eq!(errors, Vec::<String>::new());
        let extension = Factory
            .build(&ComponentId::parse("bearertokenauth").unwrap(), &Settings::new(config))
            .unwrap();
        extension.start().await.unwrap();
        extension
    }

    /// The `Authorization` value an exporter naming `extension` sends.
    fn client_header(extension: &Arc<dyn Extension>) -> String {
        let value = extension
            .client_authenticator()
            .expect("a client authenticator")
            .authorization()
            .unwrap();
        assert!(value.is_sensitive(), "kept out of header compression tables and debug output");
        value.to_str().unwrap().to_string()
    }

    fn headers(authorization: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, authorization.parse().unwrap());
        headers
    }

    #[test]
    fn accepts_only_a_configured_token_with_the_scheme() {
        let auth = auth(&["s3cret"]);
        assert!(auth.authenticate(&headers("Bearer s3cret")).is_ok());
        assert!(auth.authenticate(&headers("bearer s3cret")).is_ok());
        assert!(auth.authenticate(&headers("Bearer wrong")).is_err());
        assert!(auth.authenticate(&headers("Basic s3cret")).is_err());
        assert!(auth.authenticate(&http::HeaderMap::new()).is_err());
    }

    #[test]
    fn token_is_both_the_client_token_and_one_the_server_accepts() {
        let (config, errors) = parsed("token: a\ntokens: [b, c]");
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(config.token.as_deref(), Some("a"));
        assert_eq!(config.tokens, ["a", "b", "c"]);
        let (config, _) = parsed("tokens: [b, c]");
        assert_eq!(config.token, None);
    }

    #[tokio::test]
    async fn a_client_sends_the_scheme_and_token_or_the_first_line_of_filename() {
        assert_eq!(client_header(&started("token: s3cret").await), "Bearer s3cret");
        assert_eq!(client_header(&started("scheme: Token\ntoken: s3cret").await), "Token s3cret");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\nsecond line\n").unwrap();
        let only_file = format!("filename: {}", file.display());
        assert_eq!(client_header(&started(&only_file).await), "Bearer from-file");
        let both = format!("token: inline\nfilename: {}", file.display());
        assert_eq!(
            client_header(&started(&both).await),
            "Bearer from-file",
            "the file's token replaces token, as for the server side"
        );
    }

    #[tokio::test]
    async fn tokens_alone_make_no_client_authenticator() {
        let extension = started("tokens: [a, b]").await;
        assert!(
            extension.client_authenticator().is_none(),
            "a client sends one token: token or filename"
        );
        assert!(extension.authenticator().is_some(), "it still checks what receivers get");
    }

    #[tokio::test]
    async fn a_token_a_header_cannot_carry_fails_without_showing_it() {
        let extension = started("token: s3crét").await;
        let error = extension.client_authenticator().unwrap().authorization().unwrap_err().to_string();
        assert!(error.contains("visible ASCII only"), "{error}");
        assert!(!error.contains("s3cr"), "never the token: {error}");
    }

    #[tokio::test]
    async fn the_testdata_example_is_a_server_and_a_client_authenticator() {
        let examples: Value = serde_yaml_ng::from_str(include_str!("testdata/bearertokenauth.yaml")).unwrap();
        let extension = started(&serde_yaml_ng::to_string(&examples["bearertokenauth"]).unwrap()).await;
        assert!(extension.authenticator().unwrap().authenticate(&headers("Bearer s3cret")).is_ok());
        assert_eq!(client_header(&extension), "Bearer s3cret");
    }
}
