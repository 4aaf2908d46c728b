//! The redaction processor: keeps secrets and PII out of storage and exporters by deleting attributes
//! that are not allowed and masking (or hashing) blocked values, as the Collector's redactionprocessor does.
//!
//! Per attribute, in this order: an ignored key is kept untouched; a key not allowed is deleted (with
//! `allow_all_keys: false` and no `allowed_keys` every attribute goes: the processor fails closed); a
//! value matching `allowed_values` is kept; a key matching `blocked_key_patterns` has its whole value
//! masked; otherwise every substring matching `blocked_values` is masked, then the value is sanitized
//! as a URL and as a database statement if its key is listed for that. Values are matched in their
//! string form (ints, doubles, booleans, bytes as base64, arrays and maps as JSON), so a card number
//! sent as an int is caught too; a non-string value becomes a string only when something was masked.
//! Log bodies get the same treatment: a scalar body is masked like a value, and map and array bodies
//! are walked key by key (keys are allowed, ignored and blocked like attribute keys).
//!
//! The sanitizers (their text rules are in `sanitize`) take the variable parts out of values, which
//! both keeps ids and literals out of storage and keeps the cardinality of URLs and statements low.
//! A sanitized value counts as masked in the summary.
//! - `url_sanitizer` (`enabled`, `attributes`, `sanitize_span_name`, default true): the listed
//!   attributes lose their query string and fragment, and their path segments that look like ids
//!   become `*` (`/api/users/123?x=1` gives `/api/users/*`). Client and server span names are
//!   sanitized the same way when they contain a `/` or the span has HTTP attributes (unless the
//!   result is all `*`), and so are the log body strings that are a URL or a path.
//! - `db_sanitizer`: `sql`, `redis`, `valkey`, `memcached`, `mongo`, `opensearch` and `es`, each with
//!   `enabled` and `attributes`, and `sanitize_span_name` (default true). A listed attribute is
//!   sanitized by the first enabled sanitizer that lists it and reads the item's `db.system.name`
//!   (or `db.system`); without one, log attributes go through every sanitizer listing them and span
//!   and metric attributes are left alone, as in the Collector. Span names are sanitized by the
//!   sanitizer of the span's system (client, server and internal spans); every log body string goes
//!   through all the enabled sanitizers in turn. SQL literals become `?`; Redis and Valkey commands
//!   keep their keys and lose their values (`SET k v` gives `SET k ?`); a memcached command loses its
//!   data block; a MongoDB, OpenSearch or Elasticsearch JSON query keeps its keys and structure with
//!   every value `"?"`.
//!
//! Unlike the Collector, which sanitizes every log body string as a path (turning any message with a
//! digit into `*`), otelbox only touches body strings that are a URL or a path; an absolute URL keeps
//! its scheme and host (the Collector's path classifier turns `https:` into `*`), losing only the
//! credentials before the host; `opensearch` and `es` honour their `attributes` (the Collector ignores
//! them); `sql` also reads the other common SQL systems (`microsoft.sql_server`, `oracle.db`,
//! `ibm.db2`, ...), the Collector only `mysql`, `postgresql`, `mariadb`, `sqlite` and `other_sql`; and
//! the Collector's model of English letter pairs, which collapses gibberish URL segments made of
//! letters only, is approximated (five letters without a vowel, or six consonants in a row).

use crate::config::{ComponentId, Parser};
use crate::pdata::Signal;
use crate::pipeline::ItemProcessor;
use crate::pipeline::PipelineError;
use base64::Engine;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::Exemplar;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use regex::Regex;
use serde_yaml_ng::{Mapping, Value};
use std::borrow::Cow;
use std::collections::HashSet;

mod sanitize;

crate::item_processor_factory!(Factory, "redaction", parse, RedactionProcessor::new);

/// What replaces a blocked match when no `hash_function` is set.
const MASK: &str = "****";

/// How masked text is replaced: by the fixed mask, or by the lowercase hex digest of the text, which
/// keeps equal secrets correlatable without storing them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashFunction {
    Md5,
    Sha1,
    /// SHA3-256.
    Sha3,
}

impl HashFunction {
    fn parse(text: &str) -> Option<HashFunction> {
        match text {
            "md5" => Some(HashFunction::Md5),
            "sha1" => Some(HashFunction::Sha1),
            "sha3" => Some(HashFunction::Sha3),
            _ => None,
        }
    }

    fn hex_digest(self, text: &str) -> String {
        use sha1::Digest;
        match self {
            HashFunction::Md5 => hex::encode(md5::Md5::digest(text.as_bytes())),
            HashFunction::Sha1 => hex::encode(sha1::Sha1::digest(text.as_bytes())),
            HashFunction::Sha3 => hex::encode(sha3::Sha3_256::digest(text.as_bytes())),
        }
    }
}

/// Which diagnostic attributes the processor writes onto each item it changed. Key names can leak
/// what was there, so `debug` (names and counts) is for testing a config; `info` writes counts only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Summary {
    Debug,
    Info,
    /// The Collector's default (an empty `summary`): nothing is written.
    #[default]
    Silent,
}

impl Summary {
    fn parse(text: &str) -> Option<Summary> {
        match text {
            "debug" => Some(Summary::Debug),
            "info" => Some(Summary::Info),
            "silent" => Some(Summary::Silent),
            _ => None,
        }
    }
}

/// The redaction processor's settings. The default fails closed: no key is allowed, so every
/// attribute is removed.
#[derive(Clone, Debug, Default)]
pub struct RedactionConfig {
    pub allow_all_keys: bool,
    pub allowed_keys: Vec<String>,
    pub ignored_keys: Vec<String>,
    pub blocked_values: Vec<Regex>,
    pub blocked_key_patterns: Vec<Regex>,
    pub allowed_values: Vec<Regex>,
    pub hash_function: Option<HashFunction>,
    pub summary: Summary,
    /// `redact_all_types`: match the values of every type as text. The Collector's default is false
    /// (strings only); otelbox's is true, so a card number sent as an int is caught; `false` gives
    /// the Collector's behaviour.
    pub strings_only: bool,
    pub url_sanitizer: UrlSanitizerConfig,
    pub db_sanitizer: DbSanitizerConfig,
}

/// `url_sanitizer`. Off by default; enabled with no `attributes`, it sanitizes span names and log
/// bodies only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlSanitizerConfig {
    pub enabled: bool,
    pub attributes: Vec<String>,
    pub sanitize_span_name: bool,
}

impl Default for UrlSanitizerConfig {
    fn default() -> Self {
        UrlSanitizerConfig {
            enabled: false,
            attributes: Vec::new(),
            sanitize_span_name: true,
        }
    }
}

/// `db_sanitizer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbSanitizerConfig {
    /// The enabled sanitizers, in the Collector's order (`DbKind::ALL`) whatever the config's: the
    /// first that lists an attribute and reads the item's system sanitizes it.
    pub sanitizers: Vec<DbSanitizer>,
    pub sanitize_span_name: bool,
}

impl Default for DbSanitizerConfig {
    fn default() -> Self {
        DbSanitizerConfig {
            sanitizers: Vec::new(),
            sanitize_span_name: true,
        }
    }
}

/// One enabled entry of `db_sanitizer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbSanitizer {
    pub kind: DbKind,
    /// The attributes holding its statements (none: it only sanitizes span names and log bodies).
    pub attributes: Vec<String>,
}

/// The statement languages `db_sanitizer` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    Sql,
    Redis,
    Valkey,
    Memcached,
    Mongo,
    OpenSearch,
    Elasticsearch,
}

/// The SQL systems: the Collector's (`other_sql`, `mysql`, `postgresql`, `mariadb`, `sqlite`), then the
/// other SQL databases of the semantic conventions, under their current and their older names.
const SQL_SYSTEMS: &[&str] = &[
    "other_sql",
    "mysql",
    "postgresql",
    "mariadb",
    "sqlite",
    "microsoft.sql_server",
    "mssql",
    "oracle.db",
    "oracle",
    "ibm.db2",
    "db2",
    "h2database",
    "h2",
    "hsqldb",
    "derby",
    "cockroachdb",
    "clickhouse",
    "trino",
    "aws.redshift",
    "redshift",
    "sap.hana",
    "hanadb",
    "teradata",
    "firebirdsql",
    "gcp.spanner",
    "spanner",
];

impl DbKind {
    /// The Collector's order, in which an attribute listed by several sanitizers finds its own.
    pub const ALL: [DbKind; 7] = [
        DbKind::Sql,
        DbKind::Redis,
        DbKind::Valkey,
        DbKind::Memcached,
        DbKind::Mongo,
        DbKind::OpenSearch,
        DbKind::Elasticsearch,
    ];

    /// Its key under `db_sanitizer`.
    pub fn key(self) -> &'static str {
        match self {
            DbKind::Sql => "sql",
            DbKind::Redis => "redis",
            DbKind::Valkey => "valkey",
            DbKind::Memcached => "memcached",
            DbKind::Mongo => "mongo",
            DbKind::OpenSearch => "opensearch",
            DbKind::Elasticsearch => "es",
        }
    }

    /// The `db.system.name` (or `db.system`) values, lowercase, whose statements it reads.
    fn systems(self) -> &'static [&'static str] {
        match self {
            DbKind::Sql => SQL_SYSTEMS,
            DbKind::Redis => &["redis"],
            DbKind::Valkey => &["valkey"],
            DbKind::Memcached => &["memcached"],
            DbKind::Mongo => &["mongodb"],
            DbKind::OpenSearch => &["opensearch"],
            DbKind::Elasticsearch => &["elasticsearch"],
        }
    }

    fn reads(self, system: &str) -> bool {
        self.systems().contains(&system)
    }

    fn sanitize(self, statement: &str) -> String {
        match self {
            DbKind::Sql => sanitize::sql(statement),
            DbKind::Redis | DbKind::Valkey => sanitize::redis(statement),
            DbKind::Memcached => sanitize::memcached(statement),
            DbKind::Mongo | DbKind::OpenSearch | DbKind::Elasticsearch => sanitize::json(statement),
        }
    }
}

const KEYS: &[&str] = &[
    "allow_all_keys",
    "allowed_keys",
    "ignored_keys",
    "blocked_values",
    "blocked_key_patterns",
    "allowed_values",
    "hash_function",
    "summary",
    "redact_all_types",
    "url_sanitizer",
    "db_sanitizer",
];

const URL_SANITIZER_KEYS: &[&str] = &["enabled", "attributes", "sanitize_span_name"];

const DB_SANITIZER_KEYS: &[&str] = &[
    "sql",
    "redis",
    "valkey",
    "memcached",
    "mongo",
    "opensearch",
    "es",
    "sanitize_span_name",
];

const DB_SANITIZER_ENTRY_KEYS: &[&str] = &["enabled", "attributes"];

pub fn parse(p: &mut Parser, value: &Value, path: &str) -> RedactionConfig {
    let mut config = RedactionConfig::default();
    let Some(body) = p.mapping(Some(value), path) else {
        return config;
    };
    p.only_keys(body, KEYS, path);
    if let Some(v) = body.get("allow_all_keys") {
        config.allow_all_keys = p.boolean(v, &format!("{path}.allow_all_keys")).unwrap_or(false);
    }
    config.allowed_keys = p.string_list(body.get("allowed_keys"), &format!("{path}.allowed_keys"));
    config.ignored_keys = p.string_list(body.get("ignored_keys"), &format!("{path}.ignored_keys"));
    let regexes = |p: &mut Parser, key: &str| -> Vec<Regex> {
        p.list(body.get(key), &format!("{path}.{key}"))
            .into_iter()
            .filter_map(|(at, v)| p.regex(v, &at))
            .collect()
    };
    config.blocked_values = regexes(p, "blocked_values");
    config.blocked_key_patterns = regexes(p, "blocked_key_patterns");
    config.allowed_values = regexes(p, "allowed_values");
    if let Some(v) = body.get("hash_function") {
        let at = format!("{path}.hash_function");
        if let Some(text) = p.string(v, &at) {
            config.hash_function = HashFunction::parse(&text);
            if config.hash_function.is_none() {
                p.error(&at, format!("expected md5, sha1 or sha3, got '{text}'"));
            }
        }
    }
    if let Some(v) = body.get("redact_all_types") {
        config.strings_only = !p.boolean(v, &format!("{path}.redact_all_types")).unwrap_or(true);
    }
    if let Some(v) = body.get("summary") {
        let at = format!("{path}.summary");
        if let Some(text) = p.string(v, &at) {
            match Summary::parse(&text) {
                Some(summary) => config.summary = summary,
                None => p.error(&at, format!("expected debug, info or silent, got '{text}'")),
            }
        }
    }
    config.url_sanitizer = parse_url_sanitizer(p, body.get("url_sanitizer"), &format!("{path}.url_sanitizer"));
    config.db_sanitizer = parse_db_sanitizer(p, body.get("db_sanitizer"), &format!("{path}.db_sanitizer"));
    config
}

fn parse_url_sanitizer(p: &mut Parser, value: Option<&Value>, path: &str) -> UrlSanitizerConfig {
    let mut config = UrlSanitizerConfig::default();
    let Some(body) = p.mapping(value, path) else {
        return config;
    };
    p.only_keys(body, URL_SANITIZER_KEYS, path);
    config.enabled = flag(p, body, "enabled", path, false);
    config.attributes = p.string_list(body.get("attributes"), &format!("{path}.attributes"));
    config.sanitize_span_name = flag(p, body, "sanitize_span_name", path, true);
    config
}

/// `db_sanitizer`: only its enabled entries are kept, in `DbKind::ALL`'s order.
fn parse_db_sanitizer(p: &mut Parser, value: Option<&Value>, path: &str) -> DbSanitizerConfig {
    let mut config = DbSanitizerConfig::default();
    let Some(body) = p.mapping(value, path) else {
        return config;
    };
    p.only_keys(body, DB_SANITIZER_KEYS, path);
    for kind in DbKind::ALL {
        let at = format!("{path}.{}", kind.key());
        let Some(entry) = p.mapping(body.get(kind.key()), &at) else {
            continue;
        };
        p.only_keys(entry, DB_SANITIZER_ENTRY_KEYS, &at);
        let enabled = flag(p, entry, "enabled", &at, false);
        let attributes = p.string_list(entry.get("attributes"), &format!("{at}.attributes"));
        if enabled {
            config.sanitizers.push(DbSanitizer { kind, attributes });
        }
    }
    config.sanitize_span_name = flag(p, body, "sanitize_span_name", path, true);
    config
}

/// A boolean setting of `body`; absent or null, its default (the Collector's `*bool` reads null as unset).
fn flag(p: &mut Parser, body: &Mapping, key: &str, path: &str, default: bool) -> bool {
    match body.get(key) {
        None | Some(Value::Null) => default,
        Some(value) => p.boolean(value, &format!("{path}.{key}")).unwrap_or(default),
    }
}

/// The names of one family of summary attributes: those about attributes, and those (with `body.`)
/// about a log body's parts.
struct SummaryNames {
    redacted_keys: &'static str,
    redacted_count: &'static str,
    masked_keys: &'static str,
    masked_count: &'static str,
    allowed_keys: &'static str,
    allowed_count: &'static str,
    ignored_count: &'static str,
}

const ATTRIBUTE_SUMMARY: SummaryNames = SummaryNames {
    redacted_keys: "redaction.redacted.keys",
    redacted_count: "redaction.redacted.count",
    masked_keys: "redaction.masked.keys",
    masked_count: "redaction.masked.count",
    allowed_keys: "redaction.allowed.keys",
    allowed_count: "redaction.allowed.count",
    ignored_count: "redaction.ignored.count",
};

const BODY_SUMMARY: SummaryNames = SummaryNames {
    redacted_keys: "redaction.body.redacted.keys",
    redacted_count: "redaction.body.redacted.count",
    masked_keys: "redaction.body.masked.keys",
    masked_count: "redaction.body.masked.count",
    allowed_keys: "redaction.body.allowed.keys",
    allowed_count: "redaction.body.allowed.count",
    ignored_count: "redaction.body.ignored.count",
};

impl SummaryNames {
    fn all(&self) -> [&'static str; 7] {
        [
            self.redacted_keys,
            self.redacted_count,
            self.masked_keys,
            self.masked_count,
            self.allowed_keys,
            self.allowed_count,
            self.ignored_count,
        ]
    }
}

/// What happened to the keys of one attribute set (or one log body), for the summary.
#[derive(Default)]
struct Tally {
    redacted: Vec<String>,
    masked: Vec<String>,
    allowed: Vec<String>,
    ignored: Vec<String>,
}

pub struct RedactionProcessor {
    allow_all_keys: bool,
    /// The configured keys plus the summary attributes, so that a second redaction processor in the
    /// chain keeps (and adds to) the first one's summary instead of deleting it.
    allowed_keys: HashSet<String>,
    ignored_keys: HashSet<String>,
    blocked_values: Vec<Regex>,
    blocked_key_patterns: Vec<Regex>,
    allowed_values: Vec<Regex>,
    hash_function: Option<HashFunction>,
    summary: Summary,
    strings_only: bool,
    /// `None` when `url_sanitizer` is off.
    url: Option<UrlSanitizing>,
    db: DbSanitizing,
}

/// `url_sanitizer` as the processor applies it.
struct UrlSanitizing {
    attributes: HashSet<String>,
    span_names: bool,
}

/// `db_sanitizer` as the processor applies it; no sanitizers means it is off.
struct DbSanitizing {
    /// Each enabled sanitizer with the attributes it reads, in `DbKind::ALL`'s order.
    sanitizers: Vec<(DbKind, HashSet<String>)>,
    span_names: bool,
}

impl DbSanitizing {
    fn is_on(&self) -> bool {
        !self.sanitizers.is_empty()
    }

    /// A statement attribute, by the first sanitizer that lists its key and reads the item's
    /// database system. Without a system, log attributes go through every sanitizer listing the key
    /// (log records rarely carry `db.system`, so the Collector's logs processor does this), and span
    /// and metric attributes are left alone (the key alone does not say which language it holds).
    /// `None` when no sanitizer applies.
    fn sanitize_attribute(&self, key: &str, text: &str, system: Option<&str>, signal: Signal) -> Option<String> {
        let mut listing = self.sanitizers.iter().filter(|(_, keys)| keys.contains(key)).map(|(kind, _)| *kind);
        match system {
            Some(system) => listing.find(|kind| kind.reads(system)).map(|kind| kind.sanitize(text)),
            None if signal == Signal::Logs => in_turn(listing, text),
            None => None,
        }
    }

    /// A log body string, by every sanitizer in turn: a body says nothing of its language.
    fn sanitize_body(&self, text: &str) -> Option<String> {
        in_turn(self.sanitizers.iter().map(|(kind, _)| *kind), text)
    }

    /// The sanitizer of a database system.
    fn for_system(&self, system: &str) -> Option<DbKind> {
        self.sanitizers.iter().map(|(kind, _)| *kind).find(|kind| kind.reads(system))
    }
}

/// `text` through each sanitizer, each reading the previous one's output; `None` for no sanitizer.
fn in_turn(kinds: impl Iterator<Item = DbKind>, text: &str) -> Option<String> {
    kinds.fold(None, |current: Option<String>, kind| {
        Some(kind.sanitize(current.as_deref().unwrap_or(text)))
    })
}

/// The attributes that make a span an HTTP one for span name sanitizing (current and older
/// semantic conventions), as in the Collector.
const HTTP_ATTRIBUTES: [&str; 9] = [
    "http.route",
    "http.request.method",
    "http.request.method_original",
    "http.response.status_code",
    "url.full",
    "http.scheme",
    "http.target",
    "http.method",
    "http.url",
];

impl RedactionProcessor {
    pub fn new(_id: &ComponentId, config: &RedactionConfig) -> Self {
        let summary_keys = ATTRIBUTE_SUMMARY.all().into_iter().chain(BODY_SUMMARY.all()).map(String::from);
        let url = &config.url_sanitizer;
        let db = &config.db_sanitizer;
        RedactionProcessor {
            allow_all_keys: config.allow_all_keys,
            allowed_keys: config.allowed_keys.iter().cloned().chain(summary_keys).collect(),
            ignored_keys: config.ignored_keys.iter().cloned().collect(),
            blocked_values: config.blocked_values.clone(),
            blocked_key_patterns: config.blocked_key_patterns.clone(),
            allowed_values: config.allowed_values.clone(),
            hash_function: config.hash_function,
            summary: config.summary,
            strings_only: config.strings_only,
            url: url.enabled.then(|| UrlSanitizing {
                attributes: url.attributes.iter().cloned().collect(),
                span_names: url.sanitize_span_name,
            }),
            db: DbSanitizing {
                sanitizers: db
                    .sanitizers
                    .iter()
                    .map(|sanitizer| (sanitizer.kind, sanitizer.attributes.iter().cloned().collect()))
                    .collect(),
                span_names: db.sanitize_span_name,
            },
        }
    }

    fn is_ignored(&self, key: &str) -> bool {
        self.ignored_keys.contains(key)
    }

    fn is_allowed(&self, key: &str) -> bool {
        self.allow_all_keys || self.allowed_keys.contains(key)
    }

    fn is_blocked_key(&self, key: &str) -> bool {
        self.blocked_key_patterns.iter().any(|re| re.is_match(key))
    }

    fn is_allowed_value(&self, text: &str) -> bool {
        self.allowed_values.iter().any(|re| re.is_match(text))
    }

    /// The replacement of a whole value (a blocked key's).
    fn mask_whole(&self, text: &str) -> String {
        match self.hash_function {
            Some(hash) => hash.hex_digest(text),
            None => MASK.to_string(),
        }
    }

    /// `text` with every `blocked_values` match masked, or `None` when nothing changed.
    fn mask_matches(&self, text: &str) -> Option<String> {
        let mut current = Cow::Borrowed(text);
        for re in &self.blocked_values {
            if !re.is_match(&current) {
                continue;
            }
            let replaced = match self.hash_function {
                Some(hash) => re.replace_all(&current, |caps: &regex::Captures| hash.hex_digest(&caps[0])),
                None => re.replace_all(&current, regex::NoExpand(MASK)),
            };
            if let Cow::Owned(replaced) = replaced {
                current = Cow::Owned(replaced);
            }
        }
        match current {
            Cow::Owned(masked) if masked != text => Some(masked),
            _ => None,
        }
    }

    /// An attribute value with its `blocked_values` matches masked, then sanitized as a URL and as a
    /// database statement if its key is listed for them (the Collector's order); `None` when unchanged.
    fn sanitize_attribute_text(&self, key: &str, text: &str, db_system: Option<&str>, signal: Signal) -> Option<String> {
        let mut current = self.mask_matches(text).map_or(Cow::Borrowed(text), Cow::Owned);
        if self.url.as_ref().is_some_and(|url| url.attributes.contains(key)) {
            current = Cow::Owned(sanitize::url(&current));
        }
        if let Some(statement) = self.db.sanitize_attribute(key, &current, db_system, signal) {
            current = Cow::Owned(statement);
        }
        changed(text, current)
    }

    /// A log body string (or scalar, as text) with its `blocked_values` matches masked, then
    /// sanitized as a URL if it is one, and by the database sanitizers; `None` when unchanged.
    fn sanitize_body_text(&self, text: &str) -> Option<String> {
        let mut current = self.mask_matches(text).map_or(Cow::Borrowed(text), Cow::Owned);
        if self.url.is_some() && sanitize::looks_like_url(&current) {
            current = Cow::Owned(sanitize::url(&current));
        }
        if let Some(statement) = self.db.sanitize_body(&current) {
            current = Cow::Owned(statement);
        }
        changed(text, current)
    }

    /// Redacts one attribute set and writes its summary into it. `signal` says what a statement
    /// attribute without `db.system` gets (see `DbSanitizing::sanitize_attribute`).
    fn redact_attributes(&self, attributes: &mut Vec<KeyValue>, signal: Signal) {
        if attributes.is_empty() {
            return;
        }
        // Read before any attribute is deleted: `db.system` need not be an allowed key.
        let db_system = if self.db.is_on() { db_system_of(attributes) } else { None };
        let mut tally = Tally::default();
        attributes.retain_mut(|attribute| self.redact_attribute(attribute, db_system.as_deref(), signal, &mut tally));
        self.write_summary(attributes, &tally, &ATTRIBUTE_SUMMARY);
    }

    /// Applies the per-attribute order; false means delete the attribute.
    fn redact_attribute(&self, attribute: &mut KeyValue, db_system: Option<&str>, signal: Signal, tally: &mut Tally) -> bool {
        let key = &attribute.key;
        if self.is_ignored(key) {
            tally.ignored.push(key.clone());
            return true;
        }
        if !self.is_allowed(key) {
            tally.redacted.push(key.clone());
            return false;
        }
        if self.strings_only && !is_string(attribute.value.as_ref()) && !self.is_blocked_key(key) {
            return true;
        }
        let text = attribute.value.as_ref().map_or(Cow::Borrowed(""), text_of);
        if self.is_allowed_value(&text) {
            tally.allowed.push(key.clone());
            return true;
        }
        let replacement = if self.is_blocked_key(key) {
            Some(self.mask_whole(&text))
        } else {
            self.sanitize_attribute_text(key, &text, db_system, signal)
        };
        if let Some(masked) = replacement {
            tally.masked.push(key.clone());
            attribute.value = Some(string_value(masked));
        }
        true
    }

    /// Redacts a log body; its summary goes into the record's attributes (`redaction.body.*`).
    fn redact_body(&self, body: &mut Option<AnyValue>, attributes: &mut Vec<KeyValue>) {
        let Some(body) = body.as_mut() else { return };
        let mut tally = Tally::default();
        match &mut body.value {
            None => return,
            Some(any_value::Value::KvlistValue(map)) => self.redact_body_map(&mut map.values, None, &mut tally),
            Some(any_value::Value::ArrayValue(array)) => {
                for (i, element) in array.values.iter_mut().enumerate() {
                    self.redact_body_part(format!("[{i}]"), element, &mut tally);
                }
            }
            Some(_) => self.redact_body_part("body".to_string(), body, &mut tally),
        }
        self.write_summary(attributes, &tally, &BODY_SUMMARY);
    }

    /// The entries of a map inside a body, named by their path (`user.email`, `items.[0]`). As in
    /// the Collector, a blocked key masks the whole entry, even a map, before allowed values are
    /// looked at.
    fn redact_body_map(&self, entries: &mut Vec<KeyValue>, prefix: Option<&str>, tally: &mut Tally) {
        entries.retain_mut(|entry| {
            let path = match prefix {
                Some(prefix) => format!("{prefix}.{}", entry.key),
                None => entry.key.clone(),
            };
            if self.is_ignored(&entry.key) {
                tally.ignored.push(path);
                return true;
            }
            if !self.is_allowed(&entry.key) {
                tally.redacted.push(path);
                return false;
            }
            let Some(value) = entry.value.as_mut() else { return true };
            if self.is_blocked_key(&entry.key) {
                *value = string_value(self.mask_whole(&text_of(value)));
                tally.masked.push(path);
            } else {
                self.redact_body_part(path, value, tally);
            }
            true
        });
    }

    fn redact_body_part(&self, path: String, value: &mut AnyValue, tally: &mut Tally) {
        match &mut value.value {
            None => {}
            Some(any_value::Value::KvlistValue(map)) => self.redact_body_map(&mut map.values, Some(&path), tally),
            Some(any_value::Value::ArrayValue(array)) => {
                for (i, element) in array.values.iter_mut().enumerate() {
                    self.redact_body_part(format!("{path}.[{i}]"), element, tally);
                }
            }
            Some(scalar) if self.strings_only && !matches!(scalar, any_value::Value::StringValue(_)) => {}
            Some(_) => {
                let text = text_of(value);
                if self.is_allowed_value(&text) {
                    tally.allowed.push(path);
                } else if let Some(sanitized) = self.sanitize_body_text(&text) {
                    *value = string_value(sanitized);
                    tally.masked.push(path);
                }
            }
        }
    }

    /// Adds this tally to the summary attributes (adding to counts and key lists already there,
    /// so that chained redaction processors accumulate).
    fn write_summary(&self, attributes: &mut Vec<KeyValue>, tally: &Tally, names: &SummaryNames) {
        if self.summary == Summary::Silent {
            return;
        }
        let families = [
            (&tally.redacted, Some(names.redacted_keys), names.redacted_count),
            (&tally.masked, Some(names.masked_keys), names.masked_count),
            (&tally.allowed, Some(names.allowed_keys), names.allowed_count),
            (&tally.ignored, None, names.ignored_count),
        ];
        for (keys, keys_name, count_name) in families {
            if keys.is_empty() {
                continue;
            }
            if let (Summary::Debug, Some(keys_name)) = (self.summary, keys_name) {
                let mut listed: Vec<String> = keys.clone();
                if let Some(any_value::Value::StringValue(existing)) = attribute_value(attributes, keys_name) {
                    listed.extend(existing.split(',').filter(|k| !k.is_empty()).map(String::from));
                }
                listed.sort();
                put(attributes, keys_name, string_value(listed.join(",")));
            }
            let existing = match attribute_value(attributes, count_name) {
                Some(any_value::Value::IntValue(n)) => *n,
                _ => 0,
            };
            let count = existing.saturating_add(keys.len() as i64);
            put(
                attributes,
                count_name,
                AnyValue {
                    value: Some(any_value::Value::IntValue(count)),
                },
            );
        }
    }
}

impl RedactionProcessor {
    /// A span's name, sanitized as the Collector does: as a URL first, else as the statement of the
    /// span's database system. A name matching `allowed_values` is kept.
    fn sanitize_span_name(&self, span: &mut Span) {
        if self.is_allowed_value(&span.name) {
            return;
        }
        if let Some(name) = self.url_span_name(span).or_else(|| self.db_span_name(span)) {
            span.name = name;
        }
    }

    /// The name of a client or server span that looks like an HTTP one (its name has a `/`, or it has
    /// HTTP attributes), sanitized as a URL; `None` when unchanged or reduced to wildcards.
    fn url_span_name(&self, span: &Span) -> Option<String> {
        if !self.url.as_ref().is_some_and(|url| url.span_names) || !is_kind(span, &[SpanKind::Client, SpanKind::Server]) {
            return None;
        }
        let http = span.name.contains('/') || HTTP_ATTRIBUTES.iter().any(|key| span.attributes.iter().any(|kv| kv.key == *key));
        if !http {
            return None;
        }
        let sanitized = sanitize::url(&span.name);
        let meaningful = !sanitized.is_empty() && !sanitize::is_fully_wildcarded(&sanitized);
        (meaningful && sanitized != span.name).then_some(sanitized)
    }

    /// The name of a client, server or internal span with a database system, sanitized as that
    /// system's statement (whatever attributes its sanitizer lists); `None` when unchanged.
    fn db_span_name(&self, span: &Span) -> Option<String> {
        if !self.db.span_names || !is_kind(span, &[SpanKind::Client, SpanKind::Server, SpanKind::Internal]) {
            return None;
        }
        let system = db_system_of(&span.attributes)?;
        let sanitized = self.db.for_system(&system)?.sanitize(&span.name);
        (!sanitized.is_empty() && sanitized != span.name).then_some(sanitized)
    }
}

fn is_kind(span: &Span, kinds: &[SpanKind]) -> bool {
    kinds.iter().any(|kind| span.kind == *kind as i32)
}

/// The item's database system, lowercase: `db.system.name` (semantic conventions 1.26 on), else
/// `db.system`.
fn db_system_of(attributes: &[KeyValue]) -> Option<String> {
    ["db.system.name", "db.system"]
        .into_iter()
        .find_map(|key| match attribute_value(attributes, key) {
            Some(any_value::Value::StringValue(system)) if !system.is_empty() => Some(system.to_ascii_lowercase()),
            _ => None,
        })
}

/// `current` when it differs from `original`.
fn changed(original: &str, current: Cow<'_, str>) -> Option<String> {
    if *current == *original {
        None
    } else {
        Some(current.into_owned())
    }
}

impl ItemProcessor for RedactionProcessor {
    fn process_traces(&self, data: &mut ExportTraceServiceRequest) -> Result<(), PipelineError> {
        for resource_spans in &mut data.resource_spans {
            if let Some(resource) = &mut resource_spans.resource {
                self.redact_attributes(&mut resource.attributes, Signal::Traces);
            }
            for scope_spans in &mut resource_spans.scope_spans {
                if let Some(scope) = &mut scope_spans.scope {
                    self.redact_attributes(&mut scope.attributes, Signal::Traces);
                }
                for span in &mut scope_spans.spans {
                    self.redact_attributes(&mut span.attributes, Signal::Traces);
                    for event in &mut span.events {
                        self.redact_attributes(&mut event.attributes, Signal::Traces);
                    }
                    for link in &mut span.links {
                        self.redact_attributes(&mut link.attributes, Signal::Traces);
                    }
                    // After the attributes, as in the Collector: the name is read against what is kept.
                    self.sanitize_span_name(span);
                }
            }
        }
        Ok(())
    }

    fn process_metrics(&self, data: &mut ExportMetricsServiceRequest) -> Result<(), PipelineError> {
        for resource_metrics in &mut data.resource_metrics {
            if let Some(resource) = &mut resource_metrics.resource {
                self.redact_attributes(&mut resource.attributes, Signal::Metrics);
            }
            for scope_metrics in &mut resource_metrics.scope_metrics {
                if let Some(scope) = &mut scope_metrics.scope {
                    self.redact_attributes(&mut scope.attributes, Signal::Metrics);
                }
                for metric in &mut scope_metrics.metrics {
                    self.redact_data_points(metric.data.as_mut());
                }
            }
        }
        Ok(())
    }

    fn process_logs(&self, data: &mut ExportLogsServiceRequest) -> Result<(), PipelineError> {
        for resource_logs in &mut data.resource_logs {
            if let Some(resource) = &mut resource_logs.resource {
                self.redact_attributes(&mut resource.attributes, Signal::Logs);
            }
            for scope_logs in &mut resource_logs.scope_logs {
                if let Some(scope) = &mut scope_logs.scope {
                    self.redact_attributes(&mut scope.attributes, Signal::Logs);
                }
                for record in &mut scope_logs.log_records {
                    self.redact_attributes(&mut record.attributes, Signal::Logs);
                    self.redact_body(&mut record.body, &mut record.attributes);
                }
            }
        }
        Ok(())
    }
}

impl RedactionProcessor {
    /// Data point attributes, and the attributes of their exemplars (which are stored with them).
    fn redact_data_points(&self, data: Option<&mut Data>) {
        let redact = |attributes: &mut Vec<KeyValue>, exemplars: &mut Vec<Exemplar>| {
            self.redact_attributes(attributes, Signal::Metrics);
            for exemplar in exemplars {
                self.redact_attributes(&mut exemplar.filtered_attributes, Signal::Metrics);
            }
        };
        match data {
            None => {}
            Some(Data::Gauge(gauge)) => gauge
                .data_points
                .iter_mut()
                .for_each(|p| redact(&mut p.attributes, &mut p.exemplars)),
            Some(Data::Sum(sum)) => sum.data_points.iter_mut().for_each(|p| redact(&mut p.attributes, &mut p.exemplars)),
            Some(Data::Histogram(h)) => h.data_points.iter_mut().for_each(|p| redact(&mut p.attributes, &mut p.exemplars)),
            Some(Data::ExponentialHistogram(h)) => h.data_points.iter_mut().for_each(|p| redact(&mut p.attributes, &mut p.exemplars)),
            Some(Data::Summary(summary)) => summary
                .data_points
                .iter_mut()
                .for_each(|p| self.redact_attributes(&mut p.attributes, Signal::Metrics)),
        }
    }
}

fn string_value(text: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text)),
    }
}

fn attribute_value<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

/// Sets `key`, in place when present (keeping the attribute order), else at the end.
fn put(attributes: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    match attributes.iter_mut().find(|kv| kv.key == key) {
        Some(existing) => existing.value = Some(value),
        None => attributes.push(KeyValue {
            key: key.to_string(),
            value: Some(value),
            ..Default::default()
        }),
    }
}

/// A value's string form for matching (the Collector's `AsString`): strings as they are, bytes as
/// base64, arrays and maps as JSON. A string-table index (used only by profiles) has no text here.
/// Whether a value is a string (what `redact_all_types: false` limits value matching to).
fn is_string(value: Option<&AnyValue>) -> bool {
    matches!(value.and_then(|v| v.value.as_ref()), Some(any_value::Value::StringValue(_)))
}

fn text_of(value: &AnyValue) -> Cow<'_, str> {
    match &value.value {
        None | Some(any_value::Value::StringValueStrindex(_)) => Cow::Borrowed(""),
        Some(any_value::Value::StringValue(s)) => Cow::Borrowed(s),
        Some(any_value::Value::BoolValue(b)) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Some(any_value::Value::IntValue(n)) => Cow::Owned(n.to_string()),
        Some(any_value::Value::DoubleValue(d)) => Cow::Owned(d.to_string()),
        Some(any_value::Value::BytesValue(bytes)) => Cow::Owned(base64::engine::general_purpose::STANDARD.encode(bytes)),
        Some(any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_)) => Cow::Owned(json_of(value).to_string()),
    }
}

fn json_of(value: &AnyValue) -> serde_json::Value {
    use serde_json::Value as Json;
    match &value.value {
        None | Some(any_value::Value::StringValueStrindex(_)) => Json::Null,
        Some(any_value::Value::StringValue(s)) => Json::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Json::Bool(*b),
        Some(any_value::Value::IntValue(n)) => Json::from(*n),
        Some(any_value::Value::DoubleValue(d)) => {
            serde_json::Number::from_f64(*d).map_or_else(|| Json::String(d.to_string()), Json::Number)
        }
        Some(any_value::Value::BytesValue(bytes)) => Json::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
        Some(any_value::Value::ArrayValue(array)) => Json::Array(array.values.iter().map(json_of).collect()),
        Some(any_value::Value::KvlistValue(map)) => Json::Object(
            map.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(Json::Null, json_of)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Kind;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, InstrumentationScope, KeyValueList};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        exemplar, number_data_point, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    /// The issue's governance example: e-mail addresses, card numbers and API keys masked anywhere,
    /// secrets by key name, counts on every item that changed.
    const EXAMPLE: &str = r#"
receivers:
  otlp: { protocols: { http: {} } }
processors:
  redaction:
    allow_all_keys: true
    blocked_values:
      - '[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}'   # e-mail
      - '\b(?:\d[ -]?){13,16}\b'                            # card numbers
      - '\b(?:sk|pk|api|key)[-_][A-Za-z0-9_-]{16,}\b'        # API keys
    blocked_key_patterns: ['.*(password|secret|token).*']
    summary: info
exporters:
  otelbox: {}
service:
  pipelines:
    traces: { receivers: [otlp], processors: [redaction], exporters: [otelbox] }
    metrics: { receivers: [otlp], processors: [redaction], exporters: [otelbox] }
    logs: { receivers: [otlp], processors: [redaction], exporters: [otelbox] }
"#;

    fn example() -> RedactionProcessor {
        let config = crate::components::parse_config(EXAMPLE).unwrap_or_else(|e| panic!("{e:?}"));
        let id = ComponentId {
            kind: "redaction".into(),
            name: None,
        };
        let settings: &RedactionConfig = config.component(Kind::Processor, &id).unwrap().settings.get();
        RedactionProcessor::new(&id, settings)
    }

    /// A processor from the body of a `redaction:` entry.
    fn processor(yaml: &str) -> RedactionProcessor {
        let value: Value = serde_yaml_ng::from_str(yaml).unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "processors.redaction");
        assert!(errors.is_empty(), "{errors:?}");
        RedactionProcessor::new(
            &ComponentId {
                kind: "redaction".into(),
                name: None,
            },
            &config,
        )
    }

    fn errors_of(yaml: &str) -> Vec<String> {
        crate::components::parse_config(yaml).map(|_| ()).unwrap_err().0
    }

    fn s(text: &str) -> AnyValue {
        string_value(text.to_string())
    }
    fn int(n: i64) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::IntValue(n)),
        }
    }
    fn map(entries: Vec<KeyValue>) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList { values: entries })),
        }
    }
    fn array(values: Vec<AnyValue>) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue { values })),
        }
    }
    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(value),
            ..Default::default()
        }
    }

    /// One span with one event and one link, with these attribute sets.
    fn traces(resource: Vec<KeyValue>, span: Vec<KeyValue>, event: Vec<KeyValue>, link: Vec<KeyValue>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "checkout-lib".into(),
                        ..Default::default()
                    }),
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        name: "POST /pay".into(),
                        attributes: span,
                        events: vec![Event {
                            name: "exception".into(),
                            attributes: event,
                            ..Default::default()
                        }],
                        links: vec![Link {
                            trace_id: vec![3; 16],
                            span_id: vec![4; 8],
                            attributes: link,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// Log records with these (attributes, body) under one resource.
    fn logs(resource: Vec<KeyValue>, records: Vec<(Vec<KeyValue>, AnyValue)>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    log_records: records
                        .into_iter()
                        .map(|(attributes, body)| LogRecord {
                            severity_number: 13,
                            attributes,
                            body: Some(body),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// A gauge, a sum whose point has an exemplar, and a histogram, with these attribute sets.
    fn metrics(
        resource: Vec<KeyValue>,
        gauge: Vec<KeyValue>,
        sum: Vec<KeyValue>,
        exemplar: Vec<KeyValue>,
        histogram: Vec<KeyValue>,
    ) -> ExportMetricsServiceRequest {
        let number_point = |attributes: Vec<KeyValue>, exemplars: Vec<Exemplar>| NumberDataPoint {
            attributes,
            time_unix_nano: 1_700_000_000_000_000_000,
            value: Some(number_data_point::Value::AsInt(4)),
            exemplars,
            ..Default::default()
        };
        let metric = |name: &str, data: Data| Metric {
            name: name.into(),
            data: Some(data),
            ..Default::default()
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        metric(
                            "queue.depth",
                            Data::Gauge(Gauge {
                                data_points: vec![number_point(gauge, vec![])],
                            }),
                        ),
                        metric(
                            "requests",
                            Data::Sum(Sum {
                                data_points: vec![number_point(
                                    sum,
                                    vec![Exemplar {
                                        filtered_attributes: exemplar,
                                        value: Some(exemplar::Value::AsInt(1)),
                                        ..Default::default()
                                    }],
                                )],
                                aggregation_temporality: 2,
                                is_monotonic: true,
                            }),
                        ),
                        metric(
                            "latency",
                            Data::Histogram(Histogram {
                                data_points: vec![HistogramDataPoint {
                                    attributes: histogram,
                                    count: 1,
                                    bucket_counts: vec![1],
                                    ..Default::default()
                                }],
                                aggregation_temporality: 2,
                            }),
                        ),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// The attributes of the first span after `processor` ran on them.
    fn span_attributes(processor: &RedactionProcessor, attributes: Vec<KeyValue>) -> Vec<KeyValue> {
        let mut data = traces(vec![], attributes, vec![], vec![]);
        processor.process_traces(&mut data).unwrap();
        data.resource_spans[0].scope_spans[0].spans[0].attributes.clone()
    }

    /// The (attributes, body) of a log record after `processor` ran on it.
    fn log_record(processor: &RedactionProcessor, attributes: Vec<KeyValue>, body: AnyValue) -> (Vec<KeyValue>, AnyValue) {
        let mut data = logs(vec![], vec![(attributes, body)]);
        processor.process_logs(&mut data).unwrap();
        let record = &data.resource_logs[0].scope_logs[0].log_records[0];
        (record.attributes.clone(), record.body.clone().unwrap())
    }

    #[test]
    fn the_example_masks_emails_cards_and_api_keys_in_spans_events_and_resources() {
        let processor = example();
        let mut data = traces(
            vec![kv("service.name", s("checkout")), kv("deployment.owner", s("ops-team@example.com"))],
            vec![
                kv("http.route", s("/pay")),
                kv("user.email", s("alice@example.com")),
                kv("payment.card", s("4111 1111 1111 1111")),
                kv("card.number", int(4111111111111111)),
                kv("http.response.status_code", int(200)),
                kv("auth.token", s("eyJhbGciOiJIUzI1NiJ9")),
                kv("db.password", int(1234)),
                kv("note", s("bob@example.org paid with 5500-0000-0000-0004")),
                kv("llm.api_key", s("sk-proj_abcdefghijklmnop1234")),
                kv("request.id", s("req_0123456789abcdefghij")),
            ],
            vec![
                kv("exception.type", s("AuthError")),
                kv("exception.message", s("login failed for carol@example.net")),
            ],
            vec![kv("link.reason", s("retry of key_ABCDEFGHIJKLMNOPQRST"))],
        );
        processor.process_traces(&mut data).unwrap();
        let expected = traces(
            vec![
                kv("service.name", s("checkout")),
                kv("deployment.owner", s("****")),
                kv("redaction.masked.count", int(1)),
            ],
            vec![
                kv("http.route", s("/pay")),
                kv("user.email", s("****")),
                kv("payment.card", s("****")),
                kv("card.number", s("****")),
                kv("http.response.status_code", int(200)),
                kv("auth.token", s("****")),
                kv("db.password", s("****")),
                kv("note", s("**** paid with ****")),
                kv("llm.api_key", s("****")),
                kv("request.id", s("req_0123456789abcdefghij")),
                kv("redaction.masked.count", int(7)),
            ],
            vec![
                kv("exception.type", s("AuthError")),
                kv("exception.message", s("login failed for ****")),
                kv("redaction.masked.count", int(1)),
            ],
            vec![kv("link.reason", s("retry of ****")), kv("redaction.masked.count", int(1))],
        );
        assert_eq!(data, expected);
    }

    #[test]
    fn the_example_masks_log_attributes_and_string_map_and_array_bodies() {
        let processor = example();
        let mut data = logs(
            vec![kv("service.name", s("checkout"))],
            vec![
                (
                    vec![kv("session.token", s("abc123")), kv("user.id", int(42))],
                    s("payment by dave@example.com with card 4111111111111111, key api_0123456789abcdefXYZ"),
                ),
                (
                    vec![],
                    map(vec![
                        kv("event", s("signup")),
                        kv("user", map(vec![kv("email", s("erin@example.com")), kv("name", s("Erin"))])),
                        kv("password", s("hunter2")),
                        kv("items", array(vec![s("pk_live_ABCDEFGHIJKLMNOP"), s("ok")])),
                        kv("amount", int(12)),
                        kv("card", int(5500000000000004)),
                    ]),
                ),
                (vec![], array(vec![s("reset link sent to frank@example.com"), int(7)])),
                (vec![kv("http.route", s("/health"))], s("all good")),
            ],
        );
        processor.process_logs(&mut data).unwrap();
        let expected = logs(
            vec![kv("service.name", s("checkout"))],
            vec![
                (
                    vec![
                        kv("session.token", s("****")),
                        kv("user.id", int(42)),
                        kv("redaction.masked.count", int(1)),
                        kv("redaction.body.masked.count", int(1)),
                    ],
                    s("payment by **** with card ****, key ****"),
                ),
                (
                    vec![kv("redaction.body.masked.count", int(4))],
                    map(vec![
                        kv("event", s("signup")),
                        kv("user", map(vec![kv("email", s("****")), kv("name", s("Erin"))])),
                        kv("password", s("****")),
                        kv("items", array(vec![s("****"), s("ok")])),
                        kv("amount", int(12)),
                        kv("card", s("****")),
                    ]),
                ),
                (
                    vec![kv("redaction.body.masked.count", int(1))],
                    array(vec![s("reset link sent to ****"), int(7)]),
                ),
                (vec![kv("http.route", s("/health"))], s("all good")),
            ],
        );
        assert_eq!(data, expected);
    }

    #[test]
    fn the_example_masks_data_point_exemplar_and_resource_attributes_of_metrics() {
        let processor = example();
        let mut data = metrics(
            vec![kv("service.name", s("billing")), kv("host.owner", s("gina@example.com"))],
            vec![kv("customer.email", s("hank@example.com")), kv("region", s("eu"))],
            vec![kv("api.secret", s("s3cr3t"))],
            vec![kv("user.email", s("ivy@example.com"))],
            vec![kv("http.route", s("/pay"))],
        );
        processor.process_metrics(&mut data).unwrap();
        let expected = metrics(
            vec![
                kv("service.name", s("billing")),
                kv("host.owner", s("****")),
                kv("redaction.masked.count", int(1)),
            ],
            vec![
                kv("customer.email", s("****")),
                kv("region", s("eu")),
                kv("redaction.masked.count", int(1)),
            ],
            vec![kv("api.secret", s("****")), kv("redaction.masked.count", int(1))],
            vec![kv("user.email", s("****")), kv("redaction.masked.count", int(1))],
            vec![kv("http.route", s("/pay"))],
        );
        assert_eq!(data, expected);
    }

    #[test]
    fn by_default_every_attribute_is_removed_and_nothing_is_written() {
        let processor = processor("{}");
        let mut data = traces(
            vec![kv("service.name", s("checkout"))],
            vec![kv("http.route", s("/pay")), kv("user.email", s("alice@example.com"))],
            vec![kv("exception.message", s("boom"))],
            vec![kv("link.reason", s("retry"))],
        );
        processor.process_traces(&mut data).unwrap();
        assert_eq!(data, traces(vec![], vec![], vec![], vec![]), "fails closed");

        let (attributes, body) = log_record(
            &processor,
            vec![kv("user.email", s("alice@example.com"))],
            map(vec![kv("user", s("alice")), kv("message", s("hi"))]),
        );
        assert_eq!((attributes, body), (vec![], map(vec![])), "map body keys are keys too");
        let (_, body) = log_record(&processor, vec![], s("a string body has no keys"));
        assert_eq!(body, s("a string body has no keys"));
    }

    #[test]
    fn allowed_keys_keep_only_those_attributes_and_still_mask_their_values() {
        let processor = processor(r#"{ allowed_keys: [http.route, note], blocked_values: ['[a-z]+@example\.com'], summary: debug }"#);
        let attributes = span_attributes(
            &processor,
            vec![
                kv("http.route", s("/pay")),
                kv("user.id", s("u-1")),
                kv("note", s("mail alice@example.com")),
                kv("user.email", s("alice@example.com")),
            ],
        );
        assert_eq!(
            attributes,
            [
                kv("http.route", s("/pay")),
                kv("note", s("mail ****")),
                kv("redaction.redacted.keys", s("user.email,user.id")),
                kv("redaction.redacted.count", int(2)),
                kv("redaction.masked.keys", s("note")),
                kv("redaction.masked.count", int(1)),
            ]
        );
        let (attributes, body) = log_record(
            &processor,
            vec![],
            map(vec![
                kv("note", map(vec![kv("user.id", s("u-1")), kv("note", s("x"))])),
                kv("other", s("y")),
            ]),
        );
        assert_eq!(body, map(vec![kv("note", map(vec![kv("note", s("x"))]))]));
        assert_eq!(
            attributes,
            [
                kv("redaction.body.redacted.keys", s("note.user.id,other")),
                kv("redaction.body.redacted.count", int(2)),
            ]
        );
    }

    #[test]
    fn ignored_keys_pass_untouched_even_when_not_allowed_or_blocked() {
        let processor =
            processor(r#"{ ignored_keys: [debug.raw], blocked_values: ['alice'], blocked_key_patterns: ['.*'], summary: info }"#);
        let attributes = span_attributes(&processor, vec![kv("debug.raw", s("alice token")), kv("user.name", s("alice"))]);
        assert_eq!(
            attributes,
            [
                kv("debug.raw", s("alice token")),
                kv("redaction.redacted.count", int(1)),
                kv("redaction.ignored.count", int(1)),
            ]
        );
        let (attributes, body) = log_record(&processor, vec![], map(vec![kv("debug.raw", s("alice")), kv("user", s("alice"))]));
        assert_eq!(body, map(vec![kv("debug.raw", s("alice"))]));
        assert_eq!(
            attributes,
            [
                kv("redaction.body.redacted.count", int(1)),
                kv("redaction.body.ignored.count", int(1)),
            ]
        );
    }

    #[test]
    fn allowed_values_are_kept_even_under_a_blocked_key_in_attributes() {
        let processor = processor(
            r#"
allow_all_keys: true
blocked_values: ['[a-z]+@[a-z]+\.com']
blocked_key_patterns: ['secret']
allowed_values: ['@mycompany\.com$']
summary: debug
"#,
        );
        let attributes = span_attributes(
            &processor,
            vec![
                kv("support", s("help@mycompany.com")),
                kv("user", s("eve@gmail.com")),
                kv("contact.secret", s("ops@mycompany.com")),
                kv("other.secret", s("x")),
            ],
        );
        assert_eq!(
            attributes,
            [
                kv("support", s("help@mycompany.com")),
                kv("user", s("****")),
                kv("contact.secret", s("ops@mycompany.com")),
                kv("other.secret", s("****")),
                kv("redaction.masked.keys", s("other.secret,user")),
                kv("redaction.masked.count", int(2)),
                kv("redaction.allowed.keys", s("contact.secret,support")),
                kv("redaction.allowed.count", int(2)),
            ]
        );
        let (attributes, body) = log_record(
            &processor,
            vec![],
            map(vec![
                kv("from", s("help@mycompany.com")),
                kv("to", array(vec![s("eve@gmail.com")])),
                kv("secret", s("ops@mycompany.com")),
            ]),
        );
        assert_eq!(
            body,
            map(vec![
                kv("from", s("help@mycompany.com")),
                kv("to", array(vec![s("****")])),
                kv("secret", s("****")),
            ]),
            "in a body a blocked key masks before allowed values are looked at, as in the Collector"
        );
        assert_eq!(
            attributes,
            [
                kv("redaction.body.masked.keys", s("secret,to.[0]")),
                kv("redaction.body.masked.count", int(2)),
                kv("redaction.body.allowed.keys", s("from")),
                kv("redaction.body.allowed.count", int(1)),
            ]
        );
        let (attributes, body) = log_record(&processor, vec![], s("sent by help@mycompany.com"));
        assert_eq!(body, s("sent by help@mycompany.com"));
        assert_eq!(
            attributes,
            [
                kv("redaction.body.allowed.keys", s("body")),
                kv("redaction.body.allowed.count", int(1)),
            ]
        );
    }

    #[test]
    fn hash_functions_replace_matches_and_blocked_values_with_lowercase_hex_digests() {
        let cases = [
            ("md5", "c160f8cc69a4f0bf2b0362752353d060", "2ab96390c7dbe3439de74d0c9b0b1767"),
            (
                "sha1",
                "fc2398a73dd54d6237c4fdb58fd7d75347cf5af3",
                "f3bbbd66a63d4bf1747940578ec3d0103530e21d",
            ),
            (
                "sha3",
                "18cfe3debfc85e80d4a66a8be182342e13d3d23b8b65573783f9094fb084770b",
                "3ec80fc0faa8db8b7e6e99c74136054965901a8adf7fd6f51b1962a4c0dcab1c",
            ),
        ];
        for (function, email_digest, password_digest) in cases {
            let processor = processor(&format!(
                r#"{{ allow_all_keys: true, blocked_values: ['[a-z]+@example\.com'], blocked_key_patterns: [password], hash_function: {function} }}"#
            ));
            let attributes = span_attributes(
                &processor,
                vec![kv("note", s("contact alice@example.com")), kv("db.password", s("hunter2"))],
            );
            assert_eq!(
                attributes,
                [
                    kv("note", s(&format!("contact {email_digest}"))),
                    kv("db.password", s(password_digest)),
                ],
                "{function}"
            );
            let (_, body) = log_record(&processor, vec![], s("alice@example.com"));
            assert_eq!(body, s(email_digest), "{function}");
        }
    }

    #[test]
    fn summary_debug_lists_keys_info_counts_them_and_silent_writes_nothing() {
        let input = || {
            vec![
                kv("keep", s("fine")),
                kv("drop", s("x")),
                kv("mail", s("alice@example.com")),
                kv("raw", s("alice@example.com")),
            ]
        };
        let config = |summary: &str| {
            format!(r#"{{ allowed_keys: [keep, mail], ignored_keys: [raw], blocked_values: ['\S+@\S+'], summary: {summary} }}"#)
        };
        let redacted = vec![kv("keep", s("fine")), kv("mail", s("****")), kv("raw", s("alice@example.com"))];
        let with = |extra: Vec<KeyValue>| redacted.iter().cloned().chain(extra).collect::<Vec<_>>();
        assert_eq!(
            span_attributes(&processor(&config("debug")), input()),
            with(vec![
                kv("redaction.redacted.keys", s("drop")),
                kv("redaction.redacted.count", int(1)),
                kv("redaction.masked.keys", s("mail")),
                kv("redaction.masked.count", int(1)),
                kv("redaction.ignored.count", int(1)),
            ])
        );
        assert_eq!(
            span_attributes(&processor(&config("info")), input()),
            with(vec![
                kv("redaction.redacted.count", int(1)),
                kv("redaction.masked.count", int(1)),
                kv("redaction.ignored.count", int(1)),
            ])
        );
        assert_eq!(span_attributes(&processor(&config("silent")), input()), redacted);
    }

    #[test]
    fn a_second_redaction_processor_keeps_and_adds_to_the_first_ones_summary() {
        let processor = processor(r#"{ allowed_keys: [note], blocked_values: ['secret'], summary: debug }"#);
        let attributes = span_attributes(
            &processor,
            vec![
                kv("note", s("a secret")),
                kv("user", s("u")),
                kv("redaction.masked.keys", s("z.key")),
                kv("redaction.masked.count", int(1)),
            ],
        );
        assert_eq!(
            attributes,
            [
                kv("note", s("a ****")),
                kv("redaction.masked.keys", s("note,z.key")),
                kv("redaction.masked.count", int(2)),
                kv("redaction.redacted.keys", s("user")),
                kv("redaction.redacted.count", int(1)),
            ]
        );
    }

    #[test]
    fn non_string_values_are_matched_as_text_and_become_strings_only_when_masked() {
        let processor = processor(r#"{ allow_all_keys: true, blocked_values: ['\d{16}', 'secret'], blocked_key_patterns: [pin] }"#);
        let bytes = AnyValue {
            value: Some(any_value::Value::BytesValue(b"secret".to_vec())),
        };
        let double = AnyValue {
            value: Some(any_value::Value::DoubleValue(2.5)),
        };
        let boolean = AnyValue {
            value: Some(any_value::Value::BoolValue(true)),
        };
        let attributes = span_attributes(
            &processor,
            vec![
                kv("card", int(4111111111111111)),
                kv("count", int(42)),
                kv("ratio", double.clone()),
                kv("flag", boolean.clone()),
                kv("raw", bytes.clone()),
                kv("tags", array(vec![s("a secret"), int(1)])),
                kv("nested", map(vec![kv("k", s("secret")), kv("n", int(2))])),
                kv("pin", int(1234)),
            ],
        );
        assert_eq!(
            attributes,
            [
                kv("card", s("****")),
                kv("count", int(42)),
                kv("ratio", double),
                kv("flag", boolean),
                kv("raw", bytes),
                kv("tags", s(r#"["a ****",1]"#)),
                kv("nested", s(r#"{"k":"****","n":2}"#)),
                kv("pin", s("****")),
            ]
        );
        let (_, body) = log_record(&processor, vec![], int(4111111111111111));
        assert_eq!(body, s("****"), "a scalar body is matched as text too");
    }

    #[test]
    fn a_blocked_key_masks_the_whole_value_even_a_multi_line_or_map_one() {
        let processor = processor(r#"{ allow_all_keys: true, blocked_key_patterns: ['(?i)authorization'] }"#);
        let attributes = span_attributes(&processor, vec![kv("http.request.header.Authorization", s("Bearer a\nb"))]);
        assert_eq!(attributes, [kv("http.request.header.Authorization", s("****"))]);
        let (_, body) = log_record(
            &processor,
            vec![],
            map(vec![kv("authorization", map(vec![kv("user", s("a"))])), kv("path", s("/"))]),
        );
        assert_eq!(body, map(vec![kv("authorization", s("****")), kv("path", s("/"))]));
    }

    #[test]
    fn config_errors_name_their_exact_paths() {
        let errors = errors_of(
            r#"
receivers:
  otlp: { protocols: { http: {} } }
processors:
  redaction/bad:
    allow_all_keys: "true"
    allowed_keys: email
    blocked_values: ['ok', '(unclosed']
    blocked_key_patterns: ['[z-a]']
    allowed_values: [42]
    hash_function: sha256
    summary: verbose
    hmac_key: secret
  redaction/types:
    hash_function: 5
    ignored_keys: [[a]]
exporters:
  otelbox: {}
service:
  pipelines:
    traces: { receivers: [otlp], processors: [redaction/bad, redaction/types], exporters: [otelbox] }
"#,
        );
        let regex_error = |pattern: &str| Regex::new(pattern).unwrap_err().to_string();
        assert_eq!(
            errors,
            [
                "processors.redaction/bad.hmac_key: unknown key (expected one of: allow_all_keys, allowed_keys, ignored_keys, \
                 blocked_values, blocked_key_patterns, allowed_values, hash_function, summary, redact_all_types, url_sanitizer, \
                 db_sanitizer)"
                    .to_string(),
                "processors.redaction/bad.allow_all_keys: expected true or false, got a string".to_string(),
                "processors.redaction/bad.allowed_keys: expected a list, got a string".to_string(),
                format!(
                    "processors.redaction/bad.blocked_values[1]: not a valid regular expression: {}",
                    regex_error("(unclosed")
                ),
                format!(
                    "processors.redaction/bad.blocked_key_patterns[0]: not a valid regular expression: {}",
                    regex_error("[z-a]")
                ),
                "processors.redaction/bad.allowed_values[0]: expected a string, got a number".to_string(),
                "processors.redaction/bad.hash_function: expected md5, sha1 or sha3, got 'sha256'".to_string(),
                "processors.redaction/bad.summary: expected debug, info or silent, got 'verbose'".to_string(),
                "processors.redaction/types.ignored_keys[0]: expected a string, got a list".to_string(),
                "processors.redaction/types.hash_function: expected a string, got a number".to_string(),
            ]
        );
    }

    #[test]
    fn an_empty_body_is_the_fail_closed_default() {
        let config = crate::components::parse_config(
            "receivers: { otlp: { protocols: { http: {} } } }\nprocessors: { redaction: }\nexporters: { otelbox: {} }\n\
             service: { pipelines: { logs: { receivers: [otlp], processors: [redaction], exporters: [otelbox] } } }\n",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let (_, settings) = config.settings_of::<RedactionConfig>(Kind::Processor, "redaction")[0];
        assert!(!settings.allow_all_keys && settings.allowed_keys.is_empty());
        assert_eq!((settings.hash_function, settings.summary), (None, Summary::Silent));
    }

    #[test]
    fn redact_all_types_false_matches_string_values_only_as_the_collector_does() {
        let yaml = |all: bool| format!("{{ allow_all_keys: true, blocked_values: ['4[0-9]{{12}}'], redact_all_types: {all} }}");
        let attributes = || vec![kv("card.text", s("4111111111111")), kv("card.number", int(4111111111111))];
        let strings_only = span_attributes(&processor(&yaml(false)), attributes());
        assert_eq!(strings_only[0].value, Some(s("****")), "a string is matched");
        assert_eq!(strings_only[1].value, Some(int(4111111111111)), "an int is left alone");
        let all = span_attributes(&processor(&yaml(true)), attributes());
        assert_eq!(all[1].value, Some(s("****")), "otelbox's default: every type as text");
    }

    // ----- url_sanitizer and db_sanitizer -----

    #[test]
    fn the_url_sanitizer_replaces_id_like_segments_and_drops_query_strings() {
        let cases = [
            // The Collector's own cases (its sanitizer's tests and its URL classifier's).
            ("/api/users/123e4567-e89b-12d3-a456-426614174000", "/api/users/*"),
            ("/api/users/12345", "/api/users/*"),
            ("/api/users/123/posts/456", "/api/users/*/posts/*"),
            ("/api/users", "/api/users"),
            ("/api/users?id=123&name=john", "/api/users"),
            ("", ""),
            ("?", ""),
            ("/users/fdklsd/j4elk/23993/job/2", "/users/*/j4elk/*/job/*"),
            ("/v1/products/22j", "/v1/products/*"),
            ("/v1/k6-test-runs/1", "/v1/k6-test-runs/*"),
            ("/products//org/3", "/products//org/*"),
            ("/api/hello.world", "/api/hello.world"),
            ("/w/index.php/*", "/w/index.php/*"),
            ("/**", "/*"),
            ("123/", "*/"),
            ("/attach#section-1", "/attach"),
            (
                "GET /api/cart?sessionId=55f4e5ea-5d6d-482a-80c4-799e3c72dfb0&currencyCode=USD",
                "GET /api/cart",
            ),
            ("HTTP GET", "HTTP GET"),
            ("/a/b/c/d/e/f/g/h/i/j", "/a/b/c/d/e/f/g/h/i"),
            // Hashes and tokens.
            ("/orders/deadbeef42/items", "/orders/*/items"),
            ("/files/a8f5f167f44f4964e6c998dee827110c", "/files/*"),
            ("/invite/xkqzwvbn", "/invite/*"),
            // Absolute URLs keep their scheme and host and lose their credentials.
            (
                "https://alice:s3cret@shop.example.com/cart/42?coupon=XMAS",
                "https://shop.example.com/cart/*",
            ),
            ("http://10.0.0.7:8080/health", "http://10.0.0.7:8080/health"),
            ("https://api.example.com", "https://api.example.com"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize::url(input), expected, "{input}");
        }
    }

    #[test]
    fn the_sql_sanitizer_replaces_literals_and_keeps_the_statement_layout_and_comments() {
        let cases = [
            ("SELECT * FROM users WHERE id = 123", "SELECT * FROM users WHERE id = ?"),
            (
                "SELECT id, email FROM users WHERE id = 42 AND email = 'foo@example.com'",
                "SELECT id, email FROM users WHERE id = ? AND email = ?",
            ),
            (
                "UPDATE accounts SET balance = 10.5 WHERE id = -7",
                "UPDATE accounts SET balance = ? WHERE id = ?",
            ),
            (
                "SELECT * FROM users WHERE id IN (1, '2', NULL, true, false)",
                "SELECT * FROM users WHERE id IN (?, ?, ?, ?, ?)",
            ),
            (
                "SELECT * FROM t WHERE a = 1 -- user 42\nAND b = 'x' /* note 7 */",
                "SELECT * FROM t WHERE a = ? -- user 42\nAND b = ? /* note 7 */",
            ),
            (
                "SELECT * FROM users123 WHERE name = 'O''Brien'",
                "SELECT * FROM users? WHERE name = ?",
            ),
            (
                "INSERT INTO logs (msg, n) VALUES ('it\\'s', 3), ('ok', 4)",
                "INSERT INTO logs (msg, n) VALUES (?, ?), (?, ?)",
            ),
            ("SELECT * FROM events_20240101", "SELECT * FROM events_?"),
            ("SELECT * FROM users WHERE id = 'Joh", "SELECT * FROM users WHERE id = ?"),
            (
                "SELECT * FROM users WHERE id = $1 AND n = $tag$x$tag$ AND m = $$y$$",
                "SELECT * FROM users WHERE id = ? AND n = ? AND m = ?",
            ),
            (
                "SELECT $func$INSERT INTO t VALUES ('a', 1, 2)$func$ FROM users WHERE id = 1",
                "SELECT $func$INSERT INTO t VALUES (?, ?, ?)$func$ FROM users WHERE id = ?",
            ),
            ("SELECT 1.2, 1.2e3, -.018, 0x1F FROM t", "SELECT ?, ?, ?, ? FROM t"),
            (
                r#"SELECT "col1" FROM "Users" WHERE data = '{"a": 1}'::jsonb"#,
                r#"SELECT "col?" FROM "Users" WHERE data = ?::jsonb"#,
            ),
            ("SELECT a - 1 FROM b", "SELECT a - ? FROM b"),
            ("  SELECT a FROM b  ", "SELECT a FROM b"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize::sql(input), expected, "{input}");
        }
    }

    #[test]
    fn the_redis_sanitizer_keeps_commands_and_keys_and_replaces_values() {
        let cases = [
            ("SET user:12345 my-secret", "SET user:12345 ?"),
            ("SET greeting \"hello world\" EX 60", "SET greeting ? EX 60"),
            ("GET user:12345", "GET user:12345"),
            ("AUTH james my-secret-password", "AUTH ?"),
            ("AUTH", "AUTH"),
            ("HSET key field1 value field2 value", "HSET key field1 ? field2 ?"),
            ("SETEX session 3600 token", "SETEX session 3600 ?"),
            ("LINSERT key BEFORE pivot value", "LINSERT key BEFORE pivot ?"),
            ("LPUSH queue a b c", "LPUSH queue ?"),
            ("MSET k1 v1 k2 v2", "MSET k1 ? k2 ?"),
            (
                "GEOADD key 13.36 38.11 Palermo 15.08 37.50 Catania",
                "GEOADD key 13.36 38.11 ? 15.08 37.50 ?",
            ),
            ("ZADD key NX CH 1 member 2 member", "ZADD key NX CH 1 ? 2 ?"),
            ("CONFIG SET requirepass hunter2", "CONFIG SET requirepass ?"),
            ("CONFIG GET maxmemory", "CONFIG GET maxmemory"),
            (
                "BITFIELD key GET u8 0 SET u8 8 200 INCRBY u8 16 1",
                "BITFIELD key GET u8 0 SET u8 8 ? INCRBY u8 16 1",
            ),
            (
                "HMSET key field value \n HMSET key field value\n\n ",
                "HMSET key field ?\nHMSET key field ?",
            ),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize::redis(input), expected, "{input}");
        }
    }

    #[test]
    fn the_memcached_sanitizer_drops_the_data_block() {
        assert_eq!(sanitize::memcached("set mykey 0 60 5\r\nsecret\r\n"), "set mykey 0 60 5");
        assert_eq!(sanitize::memcached("get mykey"), "get mykey");
    }

    #[test]
    fn the_json_sanitizer_keeps_keys_and_structure_and_replaces_every_value() {
        let cases = [
            (
                r#"{"find": "users", "filter": {"name": "john", "age": {"$gt": 30}, "tags": {"$in": ["a", "b"]}, "active": true, "gone": null}, "limit": 10}"#,
                r#"{"find":"?","filter":{"name":"?","age":{"$gt":"?"},"tags":{"$in":["?","?"]},"active":"?","gone":"?"},"limit":"?"}"#,
            ),
            (
                r#"{"query": {"match": {"title": "secret \"quoted\" words"}}, "size": 5}"#,
                r#"{"query":{"match":{"title":"?"}},"size":"?"}"#,
            ),
            (
                r#"[{"$match": {"status": "A"}}, {"$group": {"_id": "$cust_id", "total": {"$sum": "$amount"}}}]"#,
                r#"[{"$match":{"status":"?"}},{"$group":{"_id":"?","total":{"$sum":"?"}}}]"#,
            ),
            // Not JSON (a shell query, a truncated document): unchanged, as in the Collector.
            ("db.users.find({name: 'john'})", "db.users.find({name: 'john'})"),
            (r#"{"find": "users", "filter": {"#, r#"{"find": "users", "filter": {"#),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize::json(input), expected, "{input}");
        }
    }

    #[test]
    fn the_sanitizer_settings_parse_with_the_collector_keys_and_defaults() {
        let value: Value = serde_yaml_ng::from_str(
            r#"
url_sanitizer:
  enabled: true
  attributes: ["http.url", "url.full"]
db_sanitizer:
  es: { enabled: true, attributes: ["db.statement", "elasticsearch.body"] }
  sql: { enabled: true, attributes: ["db.statement", "db.query.text"] }
  redis: { enabled: true }
  valkey: { enabled: false, attributes: [db.statement] }
  memcached: { enabled: true, attributes: ["db.statement", "memcached.command"] }
  mongo: { enabled: true, attributes: ["db.statement", "mongodb.query"] }
  opensearch: { enabled: true, attributes: ["db.statement", "opensearch.body"] }
  sanitize_span_name:
"#,
        )
        .unwrap();
        let mut errors = Vec::new();
        let config = parse(&mut Parser::collecting(&mut errors), &value, "processors.redaction");
        assert!(errors.is_empty(), "{errors:?}");
        let strings = |list: &[&str]| list.iter().map(|item| item.to_string()).collect::<Vec<_>>();
        assert_eq!(
            config.url_sanitizer,
            UrlSanitizerConfig {
                enabled: true,
                attributes: strings(&["http.url", "url.full"]),
                sanitize_span_name: true,
            }
        );
        let entry = |kind: DbKind, attributes: &[&str]| DbSanitizer {
            kind,
            attributes: strings(attributes),
        };
        assert_eq!(
            config.db_sanitizer,
            DbSanitizerConfig {
                sanitizers: vec![
                    entry(DbKind::Sql, &["db.statement", "db.query.text"]),
                    entry(DbKind::Redis, &[]),
                    entry(DbKind::Memcached, &["db.statement", "memcached.command"]),
                    entry(DbKind::Mongo, &["db.statement", "mongodb.query"]),
                    entry(DbKind::OpenSearch, &["db.statement", "opensearch.body"]),
                    entry(DbKind::Elasticsearch, &["db.statement", "elasticsearch.body"]),
                ],
                sanitize_span_name: true,
            },
            "the enabled entries, in the Collector's order; a null sanitize_span_name is its default"
        );

        let defaults = parse(&mut Parser::collecting(&mut errors), &Value::Null, "processors.redaction");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(defaults.url_sanitizer, UrlSanitizerConfig::default());
        assert_eq!(defaults.db_sanitizer, DbSanitizerConfig::default());
        assert!(
            !defaults.url_sanitizer.enabled && defaults.db_sanitizer.sanitizers.is_empty(),
            "both are off by default"
        );
        assert!(defaults.url_sanitizer.sanitize_span_name && defaults.db_sanitizer.sanitize_span_name);
    }

    #[test]
    fn sanitizer_settings_refuse_unknown_keys_and_wrong_types_with_their_paths() {
        let value: Value = serde_yaml_ng::from_str(
            r#"
url_sanitizer: { enabled: "yes", attributes: http.url, strip_query: true, sanitize_span_name: 1 }
db_sanitizer:
  sql: { enabled: true, attributes: [db.statement, 7], obfuscation_mode: normalize }
  cassandra: { enabled: true }
  redis: true
  sanitize_span_name: "no"
"#,
        )
        .unwrap();
        let mut errors = Vec::new();
        parse(&mut Parser::collecting(&mut errors), &value, "processors.redaction");
        assert_eq!(
            errors,
            [
                "processors.redaction.url_sanitizer.strip_query: unknown key (expected one of: enabled, attributes, sanitize_span_name)",
                "processors.redaction.url_sanitizer.enabled: expected true or false, got a string",
                "processors.redaction.url_sanitizer.attributes: expected a list, got a string",
                "processors.redaction.url_sanitizer.sanitize_span_name: expected true or false, got a number",
                "processors.redaction.db_sanitizer.cassandra: unknown key (expected one of: sql, redis, valkey, memcached, mongo, \
                 opensearch, es, sanitize_span_name)",
                "processors.redaction.db_sanitizer.sql.obfuscation_mode: unknown key (expected one of: enabled, attributes)",
                "processors.redaction.db_sanitizer.sql.attributes[1]: expected a string, got a number",
                "processors.redaction.db_sanitizer.redis: expected a mapping, got a boolean",
                "processors.redaction.db_sanitizer.sanitize_span_name: expected true or false, got a string",
            ]
        );
    }

    #[test]
    fn url_attributes_lose_their_ids_and_query_strings_and_count_as_masked() {
        let processor = processor(
            r#"
allow_all_keys: true
blocked_values: ['4[0-9]{15}']
summary: debug
url_sanitizer: { enabled: true, attributes: [http.url, url.full] }
"#,
        );
        let attributes = span_attributes(
            &processor,
            vec![
                kv("http.url", s("/v1/products/2")),
                kv(
                    "url.full",
                    s("https://bob:hunter2@shop.example.com/orders/9f8c1a2b-77aa-4c1e-9d5e-1234567890ab/items?coupon=XMAS#top"),
                ),
                kv("other.url", s("/users/3")),
                kv("card", s("4111111111111111")),
                kv("http.route", s("/orders/{id}")),
            ],
        );
        assert_eq!(
            attributes,
            [
                kv("http.url", s("/v1/products/*")),
                kv("url.full", s("https://shop.example.com/orders/*/items")),
                kv("other.url", s("/users/3")),
                kv("card", s("****")),
                kv("http.route", s("/orders/{id}")),
                kv("redaction.masked.keys", s("card,http.url,url.full")),
                kv("redaction.masked.count", int(3)),
            ]
        );
        let disabled = self::processor("{ allow_all_keys: true, url_sanitizer: { enabled: false, attributes: [http.url] } }");
        let attributes = span_attributes(&disabled, vec![kv("http.url", s("/v1/products/2"))]);
        assert_eq!(attributes, [kv("http.url", s("/v1/products/2"))]);
    }

    #[test]
    fn statement_attributes_are_sanitized_by_the_sanitizer_of_their_db_system() {
        let processor = processor(
            r#"
allow_all_keys: true
summary: debug
db_sanitizer:
  sql: { enabled: true, attributes: [db.statement] }
  redis: { enabled: true, attributes: [db.statement] }
"#,
        );
        let sql = span_attributes(
            &processor,
            vec![
                kv("db.system", s("mysql")),
                kv(
                    "db.statement",
                    s("SELECT id, email FROM users WHERE id = 42 AND email = 'foo@example.com'"),
                ),
            ],
        );
        assert_eq!(
            sql,
            [
                kv("db.system", s("mysql")),
                kv("db.statement", s("SELECT id, email FROM users WHERE id = ? AND email = ?")),
                kv("redaction.masked.keys", s("db.statement")),
                kv("redaction.masked.count", int(1)),
            ]
        );
        let redis = span_attributes(
            &processor,
            vec![kv("db.system.name", s("Redis")), kv("db.statement", s("SET user:12345 my-secret"))],
        );
        assert_eq!(redis[1], kv("db.statement", s("SET user:12345 ?")), "db.system.name, in any case");
        let no_system = span_attributes(&processor, vec![kv("db.statement", s("SET user:999 secret"))]);
        assert_eq!(
            no_system,
            [kv("db.statement", s("SET user:999 secret"))],
            "a span without db.system is left alone"
        );
        let other_system = span_attributes(
            &processor,
            vec![
                kv("db.system", s("cassandra")),
                kv("db.statement", s("SELECT * FROM t WHERE k = 1")),
            ],
        );
        assert_eq!(
            other_system[1],
            kv("db.statement", s("SELECT * FROM t WHERE k = 1")),
            "no sanitizer reads cassandra"
        );
        let unlisted = span_attributes(&processor, vec![kv("db.system", s("mysql")), kv("db.query.text", s("SELECT 1"))]);
        assert_eq!(unlisted[1], kv("db.query.text", s("SELECT 1")), "only the listed attributes");

        // A log record's statement without db.system goes through every sanitizer listing its key, in
        // turn: SQL makes `user:123` `user:?`, then Redis hides the value.
        let (attributes, body) = log_record(&processor, vec![kv("db.statement", s("SET user:123 john"))], s("done"));
        assert_eq!(attributes[0], kv("db.statement", s("SET user:? ?")));
        assert_eq!(body, s("done"));

        // Metric data points read the db.system of their own attributes.
        let mut data = metrics(
            vec![],
            vec![
                kv("db.system", s("postgresql")),
                kv("db.statement", s("SELECT * FROM t WHERE id = 7")),
            ],
            vec![kv("db.statement", s("SELECT * FROM t WHERE id = 8"))],
            vec![],
            vec![],
        );
        processor.process_metrics(&mut data).unwrap();
        let expected = metrics(
            vec![],
            vec![
                kv("db.system", s("postgresql")),
                kv("db.statement", s("SELECT * FROM t WHERE id = ?")),
                kv("redaction.masked.keys", s("db.statement")),
                kv("redaction.masked.count", int(1)),
            ],
            vec![kv("db.statement", s("SELECT * FROM t WHERE id = 8"))],
            vec![],
            vec![],
        );
        assert_eq!(data, expected);
    }

    #[test]
    fn log_bodies_are_sanitized_when_they_are_urls_and_by_every_db_sanitizer() {
        let urls = processor("{ allow_all_keys: true, summary: debug, url_sanitizer: { enabled: true } }");
        let (attributes, body) = log_record(&urls, vec![], s("/users/2"));
        assert_eq!(body, s("/users/*"));
        assert_eq!(
            attributes,
            [
                kv("redaction.body.masked.keys", s("body")),
                kv("redaction.body.masked.count", int(1))
            ]
        );
        let (_, body) = log_record(
            &urls,
            vec![],
            map(vec![
                kv("message", s("user 42 logged in")),
                kv("request", s("GET /products/1/org/3?x=1")),
            ]),
        );
        assert_eq!(
            body,
            map(vec![
                kv("message", s("user 42 logged in")),
                kv("request", s("GET /products/*/org/*"))
            ]),
            "prose is left alone (the Collector would make it `*`)"
        );

        let statements = processor("{ allow_all_keys: true, db_sanitizer: { sql: { enabled: true }, mongo: { enabled: true } } }");
        let (_, body) = log_record(
            &statements,
            vec![],
            map(vec![
                kv("query", s("SELECT * FROM users WHERE id = 7")),
                kv("filter", s(r#"{"name": "john"}"#)),
            ]),
        );
        assert_eq!(
            body,
            map(vec![
                kv("query", s("SELECT * FROM users WHERE id = ?")),
                kv("filter", s(r#"{"name":"?"}"#)),
            ])
        );
    }

    /// The name of a span of this kind and with these attributes after `processor` ran on it.
    fn span_name_after(processor: &RedactionProcessor, name: &str, kind: SpanKind, attributes: Vec<KeyValue>) -> String {
        let mut data = traces(vec![], attributes, vec![], vec![]);
        let span = &mut data.resource_spans[0].scope_spans[0].spans[0];
        span.name = name.into();
        span.kind = kind as i32;
        processor.process_traces(&mut data).unwrap();
        data.resource_spans[0].scope_spans[0].spans[0].name.clone()
    }

    #[test]
    fn span_names_are_sanitized_as_urls_for_http_spans_and_as_statements_for_database_spans() {
        let both = processor("{ allow_all_keys: true, url_sanitizer: { enabled: true }, db_sanitizer: { sql: { enabled: true } } }");
        let mysql = || vec![kv("db.system", s("mysql"))];
        let query = "SELECT * FROM users WHERE id = 123";
        assert_eq!(
            span_name_after(&both, "GET /users/123/profile", SpanKind::Server, vec![]),
            "GET /users/*/profile"
        );
        assert_eq!(
            span_name_after(&both, "/users/123/profile", SpanKind::Client, vec![]),
            "/users/*/profile"
        );
        assert_eq!(
            span_name_after(&both, "/users/123", SpanKind::Internal, vec![]),
            "/users/123",
            "client and server spans only"
        );
        assert_eq!(
            span_name_after(&both, "process 42", SpanKind::Server, vec![]),
            "process 42",
            "no slash, no HTTP attribute"
        );
        assert_eq!(
            span_name_after(&both, "42", SpanKind::Server, vec![kv("http.route", s("/{id}"))]),
            "42",
            "a name reduced to `*` is kept"
        );
        assert_eq!(
            span_name_after(&both, query, SpanKind::Client, mysql()),
            "SELECT * FROM users WHERE id = ?"
        );
        assert_eq!(
            span_name_after(&both, query, SpanKind::Internal, vec![kv("db.system.name", s("postgresql"))]),
            "SELECT * FROM users WHERE id = ?"
        );
        assert_eq!(span_name_after(&both, query, SpanKind::Client, vec![]), query, "no db.system");
        assert_eq!(
            span_name_after(&both, query, SpanKind::Producer, mysql()),
            query,
            "not a producer span"
        );

        let off = processor(
            "{ allow_all_keys: true, url_sanitizer: { enabled: true, sanitize_span_name: false }, \
             db_sanitizer: { sql: { enabled: true }, sanitize_span_name: false } }",
        );
        assert_eq!(
            span_name_after(&off, "/users/123/profile", SpanKind::Client, vec![]),
            "/users/123/profile"
        );
        assert_eq!(span_name_after(&off, query, SpanKind::Client, mysql()), query);

        let allowed = processor("{ allow_all_keys: true, allowed_values: ['^/internal/'], url_sanitizer: { enabled: true } }");
        assert_eq!(
            span_name_after(&allowed, "/internal/42", SpanKind::Server, vec![]),
            "/internal/42",
            "an allowed value"
        );
    }

    fn span_of(name: &str, attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: name.into(),
            kind: SpanKind::Client as i32,
            attributes,
            ..Default::default()
        }
    }

    fn spans_of(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn the_testdata_examples_parse_and_the_sanitizers_one_cleans_a_golden_payload() {
        let file: Value = serde_yaml_ng::from_str(include_str!("testdata/redaction.yaml")).unwrap();
        let mut errors = Vec::new();
        let mut configs = Vec::new();
        for (id, section) in file.as_mapping().unwrap() {
            configs.push(parse(
                &mut Parser::collecting(&mut errors),
                section,
                &format!("processors.{}", id.as_str().unwrap()),
            ));
        }
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(configs.len(), 2);
        let processor = RedactionProcessor::new(&ComponentId::parse("redaction/sanitizers").unwrap(), &configs[1]);
        let masked = |key: &str| [kv("redaction.masked.keys", s(key)), kv("redaction.masked.count", int(1))];

        let mut data = spans_of(vec![
            span_of(
                "GET /users/42/orders",
                vec![kv("http.url", s("https://shop.example.com/users/42/orders?page=2"))],
            ),
            span_of(
                "SELECT orders",
                vec![
                    kv("db.system.name", s("postgresql")),
                    kv(
                        "db.query.text",
                        s("SELECT * FROM orders WHERE customer_id = 42 AND status IN ('paid', 'sent')"),
                    ),
                ],
            ),
            span_of(
                "SET",
                vec![
                    kv("db.system", s("redis")),
                    kv("db.query.text", s("SET session:42 eyJhbGciOiJIUzI1NiJ9")),
                ],
            ),
            span_of(
                "find",
                vec![
                    kv("db.system", s("mongodb")),
                    kv("db.statement", s(r#"{"find": "users", "filter": {"email": "ann@example.com"}}"#)),
                ],
            ),
        ]);
        processor.process_traces(&mut data).unwrap();
        let with = |attributes: Vec<KeyValue>, key: &str| attributes.into_iter().chain(masked(key)).collect::<Vec<_>>();
        let expected = spans_of(vec![
            span_of(
                "GET /users/*/orders",
                with(vec![kv("http.url", s("https://shop.example.com/users/*/orders"))], "http.url"),
            ),
            span_of(
                "SELECT orders",
                with(
                    vec![
                        kv("db.system.name", s("postgresql")),
                        kv(
                            "db.query.text",
                            s("SELECT * FROM orders WHERE customer_id = ? AND status IN (?, ?)"),
                        ),
                    ],
                    "db.query.text",
                ),
            ),
            span_of(
                "SET",
                with(
                    vec![kv("db.system", s("redis")), kv("db.query.text", s("SET session:42 ?"))],
                    "db.query.text",
                ),
            ),
            span_of(
                "find",
                with(
                    vec![
                        kv("db.system", s("mongodb")),
                        kv("db.statement", s(r#"{"find":"?","filter":{"email":"?"}}"#)),
                    ],
                    "db.statement",
                ),
            ),
        ]);
        assert_eq!(data, expected);

        let (attributes, body) = log_record(&processor, vec![], s("GET /users/42/orders?page=2"));
        assert_eq!(body, s("GET /users/*/orders"));
        assert_eq!(
            attributes,
            [
                kv("redaction.body.masked.keys", s("body")),
                kv("redaction.body.masked.count", int(1))
            ]
        );
    }
}
