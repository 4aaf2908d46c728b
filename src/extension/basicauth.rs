//! The `basicauth` extension (the Collector's contrib `basicauthextension`). With `htpasswd` it is a
//! server authenticator: a receiver protocol naming it in `auth.authenticator` accepts only requests
//! whose `Authorization` header is `Basic <base64 of user:password>` with a user of its htpasswd lines,
//! `htpasswd.inline` and/or the file `htpasswd.file` (read at start-up; a user in both takes the
//! inline password, as in the Collector). Passwords are plain or `{SHA}` (`htpasswd -s`); bcrypt,
//! MD5 and crypt hashes are refused with their line number, never their text. Credentials are
//! compared in constant time against every user. With `client_auth` (`username`, `password` or
//! their `_file`s) it is a client authenticator: an `otlp` or `otlphttp` exporter naming it in
//! `auth.authenticator` sends `Authorization: Basic <base64 of user:password>` with every request
//! (the files are read at start-up). One of the two is required, not both: an htpasswd instance
//! named by an exporter fails start-up.

use crate::config::{ComponentId, Parser, Settings};
use crate::extension::{Authenticator, ClientAuthenticator, Extension, ExtensionFactory};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use futures::future::BoxFuture;
use serde_yaml_ng::Value;
use sha1::Digest as _;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use subtle::ConstantTimeEq;

#[derive(Clone, Debug, PartialEq)]
pub struct BasicAuthConfig {
    /// `htpasswd`: the server side (receivers).
    pub htpasswd: Option<HtpasswdConfig>,
    /// `client_auth`: the client side (exporters).
    pub client_auth: Option<ClientAuthConfig>,
}

/// `htpasswd`: the users a server accepts.
#[derive(Clone, Debug, PartialEq)]
pub struct HtpasswdConfig {
    /// `file`: read at start-up.
    pub file: Option<PathBuf>,
    /// `inline`, parsed when the config is.
    pub inline: Htpasswd,
}

impl HtpasswdConfig {
    /// The users: the file's (read now), then the inline ones, which replace a file's user of the
    /// same name. No user at all is an error: every request would be refused.
    pub fn load(&self) -> anyhow::Result<Htpasswd> {
        let mut users = Htpasswd::default();
        if let Some(file) = &self.file {
            let text =
                std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read the htpasswd file {}: {e}", file.display()))?;
            let from_file =
                Htpasswd::parse(&text).map_err(|errors| anyhow::anyhow!("the htpasswd file {}: {}", file.display(), errors.join("; ")))?;
            users.replace_from(from_file);
        }
        users.replace_from(self.inline.clone());
        if users.is_empty() {
            anyhow::bail!("htpasswd holds no user (lines user:password), so every request would be refused");
        }
        Ok(users)
    }
}

/// Users and their passwords, from htpasswd lines. Debug shows only the names.
#[derive(Clone, Default, PartialEq)]
pub struct Htpasswd(BTreeMap<String, StoredPassword>);

/// A password as an htpasswd line keeps it.
#[derive(Clone, PartialEq)]
enum StoredPassword {
    Plain(Vec<u8>),
    /// `{SHA}`: the SHA-1 digest of the password.
    Sha1([u8; 20]),
}

/// Hash formats of htpasswd files otelbox cannot check, by prefix.
const UNSUPPORTED_HASHES: &[(&str, &str)] = &[
    ("$2a$", "bcrypt ($2a$)"),
    ("$2b$", "bcrypt ($2b$)"),
    ("$2x$", "bcrypt ($2x$)"),
    ("$2y$", "bcrypt ($2y$)"),
    ("$apr1$", "Apache MD5 ($apr1$)"),
    ("$1$", "MD5-crypt ($1$)"),
    ("$5$", "SHA-256-crypt ($5$)"),
    ("$6$", "SHA-512-crypt ($6$)"),
    ("{SSHA}", "salted SHA ({SSHA})"),
];

impl StoredPassword {
    /// The password part of a line; `Err` says what is wrong without repeating it.
    fn parse(encoded: &str) -> Result<StoredPassword, String> {
        if encoded.is_empty() {
            return Err("the password is empty (an unset environment variable?); it would let in anyone who knows the name".into());
        }
        if let Some(hash) = encoded.strip_prefix("{SHA}") {
            return STANDARD
                .decode(hash)
                .ok()
                .and_then(|digest| <[u8; 20]>::try_from(digest.as_slice()).ok())
                .map(StoredPassword::Sha1)
                .ok_or_else(|| "the {SHA} hash is not the base64 of a 20-byte SHA-1 digest".to_string());
        }
        if let Some((_, name)) = UNSUPPORTED_HASHES.iter().find(|(prefix, _)| encoded.starts_with(prefix)) {
            return Err(format!(
                "{name} hashes are not supported by otelbox; use a {{SHA}} hash (htpasswd -s) or a plain password"
            ));
        }
        Ok(StoredPassword::Plain(encoded.as_bytes().to_vec()))
    }
}

impl fmt::Debug for Htpasswd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Htpasswd")
            .field("users", &self.0.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Htpasswd {
    /// Parses htpasswd text: a `user:password` line per user (the password ends the line and may
    /// hold colons); blank lines and `#` comments are skipped, and a later line for a user replaces
    /// an earlier one. `Err` holds one message per bad line, with its number and never its password.
    pub fn parse(text: &str) -> Result<Htpasswd, Vec<String>> {
        let mut users = BTreeMap::new();
        let mut errors = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, encoded)) = line.split_once(':') else {
                errors.push(format!("line {number}: expected user:password"));
                continue;
            };
            if user.is_empty() {
                errors.push(format!("line {number}: the user name is empty"));
                continue;
            }
            match StoredPassword::parse(encoded) {
                Ok(password) => {
                    users.insert(user.to_string(), password);
                }
                Err(problem) => errors.push(format!("line {number} (user {user}): {problem}")),
            }
        }
        if errors.is_empty() {
            Ok(Htpasswd(users))
        } else {
            Err(errors)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `other`'s users, replacing those of the same name.
    fn replace_from(&mut self, other: Htpasswd) {
        self.0.extend(other.0);
    }

    /// Whether `user` with `password` is one of the users. Every user is compared, each name and
    /// password in constant time (a `{SHA}` one by digest), so the time taken says nothing about
    /// which names exist or how much of a password matched.
    pub fn accepts(&self, user: &[u8], password: &[u8]) -> bool {
        let digest = sha1::Sha1::digest(password);
        let mut matched = subtle::Choice::from(0u8);
        for (name, stored) in &self.0 {
            let password_matches = match stored {
                StoredPassword::Plain(plain) => plain.as_slice().ct_eq(password),
                StoredPassword::Sha1(hash) => hash.as_slice().ct_eq(digest.as_slice()),
            };
            matched |= name.as_bytes().ct_eq(user) & password_matches;
        }
        matched.into()
    }
}

/// `client_auth`: the credentials a client sends. A `_file` (read when the header is made, its
/// line end trimmed) wins over the inline value, as in the Collector. Debug never shows the password.
#[derive(Clone, Default, PartialEq)]
pub struct ClientAuthConfig {
    pub username: String,
    pub username_file: Option<PathBuf>,
    pub password: String,
    pub password_file: Option<PathBuf>,
}

impl fmt::Debug for ClientAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuthConfig")
            .field("username", &self.username)
            .field("username_file", &self.username_file)
            .field("password", &"<redacted>")
            .field("password_file", &self.password_file)
            .finish()
    }
}

impl ClientAuthConfig {
    /// The `Authorization` value a client sends, `Basic <base64 of user:password>`, marked
    /// sensitive (kept out of HTTP/2 header compression tables and debug output).
    pub fn authorization(&self) -> anyhow::Result<http::HeaderValue> {
        let read = |file: &Option<PathBuf>, inline: &str, what: &str| -> anyhow::Result<String> {
            match file {
                Some(path) => std::fs::read_to_string(path)
                    .map(|text| text.trim_end_matches(['\r', '\n']).to_string())
                    .map_err(|e| anyhow::anyhow!("cannot read the {what} file {}: {e}", path.display())),
                None => Ok(inline.to_string()),
            }
        };
        let username = read(&self.username_file, &self.username, "username")?;
        let password = read(&self.password_file, &self.password, "password")?;
        if username.contains(':') {
            anyhow::bail!("the username holds ':', which basic credentials cannot carry (the password starts after the first colon)");
        }
        let mut value = http::HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(format!("{username}:{password}"))))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

pub struct Factory;
crate::component_type!(Factory, "basicauth", &[], parse);

impl ExtensionFactory for Factory {
    fn build(&self, id: &ComponentId, settings: &Settings) -> anyhow::Result<Arc<dyn Extension>> {
        let config: &BasicAuthConfig = settings.get();
        Ok(Arc::new(BasicAuth {
            id: id.clone(),
            htpasswd: config.htpasswd.clone(),
            client_auth: config.client_auth.clone(),
            users: RwLock::new(Htpasswd::default()),
        }))
    }
}

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> BasicAuthConfig {
    let mut config = BasicAuthConfig {
        htpasswd: None,
        client_auth: None,
    };
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, &["htpasswd", "client_auth"], path);
    if let Some(v) = body.get("htpasswd") {
        config.htpasswd = Some(parse_htpasswd(p, v, &format!("{path}.htpasswd")));
    }
    if let Some(v) = body.get("client_auth") {
        config.client_auth = Some(parse_client_auth(p, v, &format!("{path}.client_auth")));
    }
    match (&config.htpasswd, &config.client_auth) {
        (Some(_), Some(_)) => p.error(
            path,
            "only one of htpasswd (server) or client_auth (client) can be set; configure two instances, e.g. basicauth/server and basicauth/client",
        ),
        (None, None) => p.error(
            path,
            "needs htpasswd (the users receivers accept) or client_auth (the credentials a client sends)",
        ),
        _ => {}
    }
    config
}

fn parse_htpasswd(p: &mut Parser, value: &Value, path: &str) -> HtpasswdConfig {
    let mut htpasswd = HtpasswdConfig {
        file: None,
        inline: Htpasswd::default(),
    };
    let Some(body) = p.mapping(Some(value), path) else {
        return htpasswd;
    };
    p.only_keys(body, &["file", "inline"], path);
    if let Some(v) = body.get("file") {
        // An empty file name is no file, as in the Collector.
        htpasswd.file = p
            .string(v, &format!("{path}.file"))
            .filter(|text| !text.trim().is_empty())
            .map(PathBuf::from);
    }
    let mut inline_given = false;
    let mut inline_valid = true;
    if let Some(v) = body.get("inline") {
        let at = format!("{path}.inline");
        if let Some(text) = p.string(v, &at) {
            inline_given = !text.trim().is_empty();
            match Htpasswd::parse(&text) {
                Ok(users) => htpasswd.inline = users,
                Err(errors) => {
                    inline_valid = false;
                    for error in errors {
                        p.error(&at, error);
                    }
                }
            }
        } else {
            inline_valid = false;
        }
    }
    if htpasswd.file.is_none() {
        if !inline_given && inline_valid {
            p.error(path, "needs file or inline (htpasswd lines user:password)");
        } else if inline_valid && htpasswd.inline.is_empty() {
            p.error(&format!("{path}.inline"), "holds no user (lines user:password)");
        }
    }
    htpasswd
}

fn parse_client_auth(p: &mut Parser, value: &Value, path: &str) -> ClientAuthConfig {
    let mut client = ClientAuthConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return client;
    };
    p.only_keys(
        body,
        &["username", "username_file", "password", "password_file", "aws_secrets_manager"],
        path,
    );
    if let Some(v) = body.get("username") {
        let at = format!("{path}.username");
        client.username = p.string(v, &at).unwrap_or_default();
        if client.username.contains(':') {
            p.error(
                &at,
                "must not hold ':', which basic credentials cannot carry (the password starts after the first colon)",
            );
        }
    }
    if let Some(v) = body.get("password") {
        client.password = p.string(v, &format!("{path}.password")).unwrap_or_default();
    }
    for (key, file) in [
        ("username_file", &mut client.username_file),
        ("password_file", &mut client.password_file),
    ] {
        if let Some(v) = body.get(key) {
            *file = p
                .string(v, &format!("{path}.{key}"))
                .filter(|text| !text.trim().is_empty())
                .map(PathBuf::from);
        }
    }
    if body.get("aws_secrets_manager").is_some() {
        p.error(
            &format!("{path}.aws_secrets_manager"),
            "is not supported by otelbox; use username and password (from the environment) or username_file and password_file",
        );
    } else if client.username.is_empty() && client.password.is_empty() && client.username_file.is_none() && client.password_file.is_none() {
        p.error(path, "needs username and password (or username_file and password_file)");
    }
    client
}

struct BasicAuth {
    id: ComponentId,
    htpasswd: Option<HtpasswdConfig>,
    client_auth: Option<ClientAuthConfig>,
    /// The users requests are checked against, loaded at start-up.
    users: RwLock<Htpasswd>,
}

impl Extension for BasicAuth {
    fn start(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            if let Some(htpasswd) = &self.htpasswd {
                let users = htpasswd.load()?;
                *self.users.write().unwrap_or_else(|e| e.into_inner()) = users;
            }
            if let Some(client) = &self.client_auth {
                // Reads the files now, so a missing one is a start-up error, not a failed export.
                client.authorization().map_err(|e| anyhow::anyhow!("client_auth: {e}"))?;
            }
            Ok(())
        })
    }

    /// Only with `htpasswd`: a `client_auth` instance authenticates no request.
    fn authenticator(&self) -> Option<&dyn Authenticator> {
        self.htpasswd.as_ref().map(|_| self as &dyn Authenticator)
    }

    /// Only with `client_auth`: an `htpasswd` instance has no credentials to send.
    fn client_authenticator(&self) -> Option<&dyn ClientAuthenticator> {
        self.client_auth.as_ref().map(|_| self as &dyn ClientAuthenticator)
    }
}

impl ClientAuthenticator for BasicAuth {
    fn authorization(&self) -> anyhow::Result<http::HeaderValue> {
        match &self.client_auth {
            Some(client) => client.authorization().map_err(|e| anyhow::anyhow!("client_auth: {e}")),
            None => anyhow::bail!("{} has no client_auth (username and password) to send", self.id),
        }
    }
}

impl Authenticator for BasicAuth {
    fn authenticate(&self, headers: &http::HeaderMap) -> Result<(), String> {
        let Some((user, password)) = basic_credentials(headers) else {
            return Err(format!(
                "missing or malformed credentials: send `Authorization: Basic <base64 of user:password>` ({})",
                self.id
            ));
        };
        let users = self.users.read().unwrap_or_else(|e| e.into_inner());
        if users.accepts(&user, &password) {
            Ok(())
        } else {
            Err(format!("wrong user name or password ({})", self.id))
        }
    }
}

/// The user and password of `Authorization: Basic <base64 of user:password>` (the scheme is
/// case-insensitive; the user ends at the first colon).
fn basic_credentials(headers: &http::HeaderMap) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "extensions.basicauth";
    /// `{SHA}` of "password", as `htpasswd -s` writes it.
    const SHA_OF_PASSWORD: &str = "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=";

    fn parsed(yaml: &str) -> (BasicAuthConfig, Vec<String>) {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, PATH);
        (config, errors)
    }

    fn errors(yaml: &str) -> Vec<String> {
        parsed(yaml).1
    }

    /// The extension built and started from `yaml`, as the service does.
    async fn started(yaml: &str) -> anyhow::Result<Arc<dyn Extension>> {
        let (config, errors) = parsed(yaml);
        assert_eq!(errors, Vec::<String>::new());
        let extension = Factory.build(&ComponentId::parse("basicauth").unwrap(), &Settings::new(config))?;
        extension.start().await?;
        Ok(extension)
    }

    fn basic(user: &str, password: &str) -> http::HeaderMap {
        authorization(&format!("Basic {}", STANDARD.encode(format!("{user}:{password}"))))
    }

    fn authorization(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    fn inline(lines: &str) -> String {
        let indented: String = lines.lines().map(|l| format!("    {l}\n")).collect();
        format!("htpasswd:\n  inline: |\n{indented}")
    }

    #[tokio::test]
    async fn accepts_only_a_listed_user_with_its_plain_or_sha_password() {
        let extension = started(&inline(&format!("alice:s3cret\nbob:{SHA_OF_PASSWORD}\ncarol:pass:with:colons")))
            .await
            .unwrap();
        let auth = extension.authenticator().expect("an htpasswd instance is an authenticator");
        assert!(auth.authenticate(&basic("alice", "s3cret")).is_ok());
        assert!(auth.authenticate(&basic("bob", "password")).is_ok());
        assert!(auth.authenticate(&basic("carol", "pass:with:colons")).is_ok());
        let scheme_any_case = format!("basic {}", STANDARD.encode("alice:s3cret"));
        assert!(auth.authenticate(&authorization(&scheme_any_case)).is_ok());
        for (user, password) in [
            ("alice", "wrong"),
            ("alice", "s3cre"),
            ("alice", ""),
            ("bob", SHA_OF_PASSWORD),
            ("mallory", "s3cret"),
            ("", "s3cret"),
            ("Alice", "s3cret"),
        ] {
            let refusal = auth.authenticate(&basic(user, password)).unwrap_err();
            assert_eq!(refusal, "wrong user name or password (basicauth)", "{user}:{password}");
        }
    }

    #[tokio::test]
    async fn refuses_requests_without_valid_basic_credentials() {
        let extension = started(&inline("alice:s3cret")).await.unwrap();
        let auth = extension.authenticator().unwrap();
        let no_colon = format!("Basic {}", STANDARD.encode("alices3cret"));
        let bearer = format!("Bearer {}", STANDARD.encode("alice:s3cret"));
        for headers in [
            http::HeaderMap::new(),
            authorization("Basic"),
            authorization("Basic not*base64"),
            authorization(&no_colon),
            authorization(&bearer),
            authorization("s3cret"),
        ] {
            let refusal = auth.authenticate(&headers).unwrap_err();
            assert!(
                refusal.contains("send `Authorization: Basic <base64 of user:password>`"),
                "{refusal}"
            );
        }
    }

    #[tokio::test]
    async fn the_file_is_read_at_start_and_inline_lines_replace_its_users() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("htpasswd");
        std::fs::write(&file, format!("# users\nalice:from-file\n\ndave:{SHA_OF_PASSWORD}\n")).unwrap();
        let yaml = format!(
            "htpasswd:\n  file: {}\n  inline: |\n    alice:from-inline\n    erin:e\n",
            file.display()
        );
        let extension = started(&yaml).await.unwrap();
        let auth = extension.authenticator().unwrap();
        assert!(auth.authenticate(&basic("alice", "from-inline")).is_ok());
        assert!(
            auth.authenticate(&basic("alice", "from-file")).is_err(),
            "inline wins, as in the Collector"
        );
        assert!(auth.authenticate(&basic("dave", "password")).is_ok());
        assert!(auth.authenticate(&basic("erin", "e")).is_ok());

        let only_file = format!("htpasswd:\n  file: {}\n", file.display());
        let extension = started(&only_file).await.unwrap();
        assert!(extension
            .authenticator()
            .unwrap()
            .authenticate(&basic("alice", "from-file"))
            .is_ok());
    }

    #[tokio::test]
    async fn start_fails_on_a_missing_bad_or_empty_htpasswd_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("htpasswd");
        let yaml = format!("htpasswd:\n  file: {}\n", file.display());
        let error = started(&yaml).await.err().unwrap().to_string();
        assert!(error.starts_with("cannot read the htpasswd file"), "{error}");

        std::fs::write(&file, "alice:ok\nbob:$2y$05$secrethashsecrethash\nno-colon-secret\n").unwrap();
        let error = started(&yaml).await.err().unwrap().to_string();
        assert!(
            error.contains("line 2 (user bob): bcrypt ($2y$) hashes are not supported"),
            "{error}"
        );
        assert!(error.contains("line 3: expected user:password"), "{error}");
        assert!(!error.contains("secret"), "never the password: {error}");

        std::fs::write(&file, "# nobody\n\n").unwrap();
        let error = started(&yaml).await.err().unwrap().to_string();
        assert!(error.contains("holds no user"), "{error}");
    }

    #[test]
    fn malformed_inline_lines_are_errors_with_their_line_and_never_the_password() {
        let errors = errors(&inline(
            "alice:ok\nsecret-without-colon\n:secret1\ncarol:\ndave:{SHA}secret2\nerin:$apr1$secret3\nfrank:{SSHA}secret4\ngina:$6$secret5",
        ));
        assert_eq!(
            errors,
            [
                "extensions.basicauth.htpasswd.inline: line 2: expected user:password",
                "extensions.basicauth.htpasswd.inline: line 3: the user name is empty",
                "extensions.basicauth.htpasswd.inline: line 4 (user carol): the password is empty (an unset environment variable?); it would let in anyone who knows the name",
                "extensions.basicauth.htpasswd.inline: line 5 (user dave): the {SHA} hash is not the base64 of a 20-byte SHA-1 digest",
                "extensions.basicauth.htpasswd.inline: line 6 (user erin): Apache MD5 ($apr1$) hashes are not supported by otelbox; use a {SHA} hash (htpasswd -s) or a plain password",
                "extensions.basicauth.htpasswd.inline: line 7 (user frank): salted SHA ({SSHA}) hashes are not supported by otelbox; use a {SHA} hash (htpasswd -s) or a plain password",
                "extensions.basicauth.htpasswd.inline: line 8 (user gina): SHA-512-crypt ($6$) hashes are not supported by otelbox; use a {SHA} hash (htpasswd -s) or a plain password",
            ]
        );
        assert!(errors.iter().all(|e| !e.contains("secret")), "{errors:#?}");
    }

    #[test]
    fn an_empty_config_or_both_sides_is_an_error_as_in_the_collector() {
        assert_eq!(
            errors("{}"),
            ["extensions.basicauth: needs htpasswd (the users receivers accept) or client_auth (the credentials a client sends)"]
        );
        assert_eq!(
            errors("null"),
            ["extensions.basicauth: needs htpasswd (the users receivers accept) or client_auth (the credentials a client sends)"]
        );
        assert_eq!(
            errors("htpasswd: { inline: 'a:b' }\nclient_auth: { username: u, password: p }"),
            ["extensions.basicauth: only one of htpasswd (server) or client_auth (client) can be set; configure two instances, e.g. basicauth/server and basicauth/client"]
        );
        assert_eq!(
            errors("htpasswd: {}"),
            ["extensions.basicauth.htpasswd: needs file or inline (htpasswd lines user:password)"]
        );
        assert_eq!(
            errors("htpasswd: { file: '', inline: '' }"),
            ["extensions.basicauth.htpasswd: needs file or inline (htpasswd lines user:password)"]
        );
        assert_eq!(
            errors("htpasswd: { inline: '# only a comment' }"),
            ["extensions.basicauth.htpasswd.inline: holds no user (lines user:password)"]
        );
        assert_eq!(
            errors("client_auth: {}"),
            ["extensions.basicauth.client_auth: needs username and password (or username_file and password_file)"]
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_errors_with_their_paths() {
        assert_eq!(
            errors("htpasswd: { inline: 'a:b', path: x }\nheader: y"),
            [
                "extensions.basicauth.header: unknown key (expected one of: htpasswd, client_auth)",
                "extensions.basicauth.htpasswd.path: unknown key (expected one of: file, inline)",
            ]
        );
        assert_eq!(
            errors("htpasswd: { file: [a] }"),
            [
                "extensions.basicauth.htpasswd.file: expected a string, got a list",
                "extensions.basicauth.htpasswd: needs file or inline (htpasswd lines user:password)",
            ]
        );
        assert_eq!(
            errors("htpasswd: { inline: 7 }"),
            ["extensions.basicauth.htpasswd.inline: expected a string, got a number"]
        );
        assert_eq!(
            errors("htpasswd: file.htpasswd"),
            ["extensions.basicauth.htpasswd: expected a mapping, got a string"]
        );
        assert_eq!(
            errors("client_auth: { username: 'a:b', password: p, token: t }"),
            [
                "extensions.basicauth.client_auth.token: unknown key (expected one of: username, username_file, password, password_file, aws_secrets_manager)",
                "extensions.basicauth.client_auth.username: must not hold ':', which basic credentials cannot carry (the password starts after the first colon)",
            ]
        );
        assert_eq!(
            errors("client_auth: { aws_secrets_manager: { secret_arn: arn } }"),
            ["extensions.basicauth.client_auth.aws_secrets_manager: is not supported by otelbox; use username and password (from the environment) or username_file and password_file"]
        );
    }

    #[tokio::test]
    async fn client_auth_makes_the_basic_header_and_is_no_server_authenticator() {
        let (config, errors) = parsed("client_auth: { username: alice, password: s3cret }");
        assert_eq!(errors, Vec::<String>::new());
        let client = config.client_auth.clone().unwrap();
        let header = client.authorization().unwrap();
        assert_eq!(header.to_str().unwrap(), format!("Basic {}", STANDARD.encode("alice:s3cret")));
        assert!(header.is_sensitive());
        assert!(
            !format!("{config:?}").contains("s3cret"),
            "Debug never shows the password: {config:?}"
        );

        let dir = tempfile::tempdir().unwrap();
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, "from-file\n").unwrap();
        let with_file = ClientAuthConfig {
            password_file: Some(password_file),
            ..client
        };
        assert_eq!(
            with_file.authorization().unwrap().to_str().unwrap(),
            format!("Basic {}", STANDARD.encode("alice:from-file")),
            "the file wins over the inline password, its line end trimmed"
        );

        let extension = started("client_auth: { username: alice, password: s3cret }").await.unwrap();
        assert!(extension.authenticator().is_none(), "a client instance authenticates no request");
        let missing = "client_auth: { username: alice, password_file: /nonexistent/otelbox/password }";
        let error = started(missing).await.err().unwrap().to_string();
        assert!(error.starts_with("client_auth: cannot read the password file"), "{error}");
    }

    #[tokio::test]
    async fn the_testdata_example_parses_and_its_users_authenticate() {
        let examples: Value = serde_yaml_ng::from_str(include_str!("testdata/basicauth.yaml")).unwrap();
        let server = serde_yaml_ng::to_string(&examples["basicauth/server"]).unwrap();
        let extension = started(&server).await.unwrap();
        assert!(extension.authenticator().unwrap().authenticate(&basic("alice", "s3cret")).is_ok());
        let client = serde_yaml_ng::to_string(&examples["basicauth/client"]).unwrap();
        assert!(started(&client).await.unwrap().authenticator().is_none());
    }

    #[tokio::test]
    async fn only_a_client_auth_instance_is_a_client_authenticator() {
        let client = started("client_auth: { username: alice, password: s3cret }").await.unwrap();
        let header = client
            .client_authenticator()
            .expect("client_auth makes a client authenticator")
            .authorization()
            .unwrap();
        assert_eq!(header.to_str().unwrap(), format!("Basic {}", STANDARD.encode("alice:s3cret")));
        assert!(header.is_sensitive());
        let server = started(&inline("alice:s3cret")).await.unwrap();
        assert!(server.client_authenticator().is_none(), "htpasswd holds no credentials to send");
    }

    fn memory_store() -> Arc<crate::store::Store> {
        crate::store::Store::open(crate::store::StoreConfig {
            location: crate::store::Location::Memory,
            retention: Default::default(),
            durable_sync: false,
        })
        .unwrap()
    }

    /// A config whose otlphttp exporter (to `addr`) names `basicauth/users`, defined by `extension`.
    fn exporting_config(extension: &str, addr: &str) -> crate::config::Config {
        let yaml = format!(
            "extensions:\n  basicauth/users: {extension}\n\
             receivers: {{ otlp: {{ protocols: {{ http: {{ endpoint: 127.0.0.1:0 }} }} }} }}\n\
             exporters:\n  otlphttp/upstream: {{ endpoint: 'http://{addr}', compression: none, auth: {{ authenticator: basicauth/users }} }}\n\
             service: {{ extensions: [basicauth/users], pipelines: {{ logs: {{ receivers: [otlp], exporters: [otlphttp/upstream] }} }} }}\n"
        );
        crate::components::parse_config(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
    }

    /// A server answering 200 to every POST, recording each request's Authorization header.
    async fn recording_upstream() -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<Option<String>>>>) {
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

    /// Regression guard: an htpasswd (receiver-only) basicauth has nothing to send, so an exporter
    /// naming it must stop start-up, naming the exporter's setting and the extension.
    #[tokio::test]
    async fn a_receiver_only_basicauth_named_by_an_exporter_fails_start_up_naming_both() {
        let config = exporting_config("{ htpasswd: { inline: 'alice:s3cret' } }", "127.0.0.1:1");
        let extensions = crate::service::start_extensions(&config).await.unwrap();
        let store = memory_store();
        let error = crate::service::Topology::build(
            &config,
            &crate::service::Resources {
                store: &store,
                data_dir: None,
                components: &Default::default(),
                extensions: &extensions,
            },
        )
        .err()
        .expect("refused at start-up");
        assert_eq!(
            error.to_string(),
            "exporters.otlphttp/upstream.auth.authenticator: extension \"basicauth/users\" is not a client authenticator; \
             an exporter needs a bearertokenauth with token or filename, or a basicauth with client_auth"
        );
        extensions.shutdown().await;
        store.close().await;
    }

    #[tokio::test]
    async fn an_exporter_naming_a_client_auth_basicauth_sends_its_header_with_every_request() {
        let (addr, seen) = recording_upstream().await;
        let config = exporting_config("{ client_auth: { username: alice, password: s3cret } }", &addr.to_string());
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
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while seen.lock().unwrap().len() < 2 {
            assert!(std::time::Instant::now() < deadline, "the upstream got {:?}", seen.lock().unwrap());
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let expected = format!("Basic {}", STANDARD.encode("alice:s3cret"));
        let authorizations = seen.lock().unwrap().clone();
        assert_eq!(authorizations, [Some(expected.clone()), Some(expected)]);
        topology.shutdown().await;
        extensions.shutdown().await;
        store.close().await;
    }
}
