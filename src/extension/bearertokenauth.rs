//! The `bearertokenauth` extension as a server authenticator: a receiver protocol that names it in
//! `auth.authenticator` (instead of the box's ingest tokens) accepts only requests whose
//! `Authorization` header is `<scheme> <token>`
//! (scheme `Bearer` by default) with one of its tokens: `token`, `tokens`, or the first line of
//! `filename` (read at start-up). Tokens are compared in constant time.

use crate::auth::Tokens;
use crate::config::{ComponentId, Parser, Settings};
use crate::extension::{Authenticator, Extension, ExtensionFactory};
use futures::future::BoxFuture;
use serde_yaml_ng::Value;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

#[derive(Clone, Debug, PartialEq)]
pub struct BearerTokenAuthConfig {
    pub scheme: String,
    pub tokens: Vec<String>,
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
        }))
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> BearerTokenAuthConfig {
    let mut config = BearerTokenAuthConfig {
        scheme: "Bearer".into(),
        tokens: Vec::new(),
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
        config.tokens.extend(p.string(v, &format!("{path}.token")));
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
                *self.tokens.write().unwrap_or_else(|e| e.into_inner()) = Tokens::new([token]);
            }
            Ok(())
        })
    }

    fn authenticator(&self) -> Option<&dyn Authenticator> {
        Some(self)
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
        }
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
}
