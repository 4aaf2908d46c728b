//! The text sanitizers behind the redaction processor's `url_sanitizer` and `db_sanitizer`: pure
//! functions from a value to its sanitized form (the processor decides which values they see).
//!
//! They follow what the Collector's processor calls, rewritten here: grafana's clusterurl for URLs,
//! DataDog's obfuscate package for statements (with go-sqllexer, in its `obfuscate_only` mode, for
//! SQL). Where they differ, the function's comment says how.

use regex::Regex;
use std::sync::LazyLock;

/// What replaces a literal in a statement.
const PLACEHOLDER: &str = "?";

/// What replaces a path segment that looks like an identifier.
const WILDCARD: &str = "*";

/// A path keeps at most this many `/`-separated pieces (the text before its 10th `/`), as the
/// Collector's classifier does, so that deep paths cannot grow the cardinality either.
const MAX_PATH_PIECES: usize = 10;

// ----- URLs -----

/// `scheme://authority` at the start of an absolute URL, and the rest.
static ORIGIN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/]*)(.*)$").unwrap());

/// A string that is a URL or a path, optionally after an HTTP method (`GET /users/42`).
static URL_LIKE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(?:[A-Z]+ )?(?:[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+\S*|/\S*)$").unwrap());

/// A URL or path with its variable parts taken out: the query string and fragment are dropped and
/// path segments that look like identifiers become `*` (`/api/users/123?x=1` gives `/api/users/*`).
///
/// The Collector runs its path classifier over the whole text, so the scheme of an absolute URL
/// becomes `*` too (`*//host/...`), as does a host with a digit or a port; here an absolute URL keeps
/// its scheme and host and only loses the credentials before the host (`user:password@`).
pub fn url(text: &str) -> String {
    let text = without_query_and_fragment(text);
    match ORIGIN.captures(text) {
        Some(parts) => format!(
            "{}://{}{}",
            &parts[1],
            host_without_credentials(&parts[2]),
            sanitize_path(&parts[3])
        ),
        None => sanitize_path(text),
    }
}

/// Whether a log body string is sanitized as a URL. The Collector sanitizes every body string as a
/// path, which turns any message with a digit in it into `*`; otelbox only touches the strings that
/// are a URL or a path.
pub fn looks_like_url(text: &str) -> bool {
    URL_LIKE.is_match(text)
}

/// Whether every segment of a sanitized path is `*` (there being one). Such a span name says
/// nothing, so the Collector keeps the original.
pub fn is_fully_wildcarded(path: &str) -> bool {
    let mut segments = path.split('/').filter(|segment| !segment.is_empty()).peekable();
    segments.peek().is_some() && segments.all(|segment| segment == WILDCARD)
}

/// The text before the first `?`, `&` or `#`, where the Collector's classifier cuts: query strings
/// and fragments hold the most variable (and the most sensitive) parts of a URL.
fn without_query_and_fragment(text: &str) -> &str {
    text.find(['?', '&', '#']).map_or(text, |at| &text[..at])
}

/// `user:password@host:port` without `user:password@`.
fn host_without_credentials(authority: &str) -> &str {
    authority.rsplit_once('@').map_or(authority, |(_, host)| host)
}

fn sanitize_path(path: &str) -> String {
    path.split('/')
        .take(MAX_PATH_PIECES)
        .map(|segment| if looks_like_identifier(segment) { WILDCARD } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a path segment is an id rather than a name. The Collector's classifier keeps a segment
/// only when it is made of letters, `-`, `_`, `.` and spaces (one other character is tolerated in
/// second position, so `v1`, `s3` and `k8s` stay) and its model of English letter pairs does not
/// find it gibberish. That model is not reproduced: `looks_random` stands in for it.
fn looks_like_identifier(segment: &str) -> bool {
    !segment.is_empty() && (has_non_word_byte(segment) || looks_random(segment))
}

/// Digits, `:`, `@`, `%`, `*`, non-ASCII letters...: anything but letters, `-`, `_`, `.` and space,
/// outside the second position.
fn has_non_word_byte(segment: &str) -> bool {
    segment
        .bytes()
        .enumerate()
        .any(|(at, byte)| at != 1 && !(byte.is_ascii_alphabetic() || matches!(byte, b'-' | b'_' | b'.' | b' ')))
}

/// Whether a run of letters in the segment looks generated (`fdklsd`, `xkqzwvbn`) rather than like
/// a word: five letters or more without a vowel, or six consonants in a row. Short acronyms
/// (`http`, `grpc`, `api`) stay.
fn looks_random(segment: &str) -> bool {
    let vowel = |c: char| matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
    segment.split(|c: char| !c.is_ascii_alphabetic()).any(|run| {
        let without_vowel = run.len() >= 5 && !run.chars().any(vowel);
        let longest_consonant_run = run.split(vowel).map(str::len).max().unwrap_or(0);
        without_vowel || longest_consonant_run >= 6
    })
}

// ----- SQL -----

/// The SQL tokens the sanitizer looks at, tried in this order at each position: comments, strings
/// (a missing closing quote, as in a truncated statement, still makes one), the opening tag of a
/// dollar-quoted string, positional parameters, quoted identifiers, numbers (with their sign) and
/// words. Whatever lies between them (spaces, operators, punctuation) is copied as it is.
static SQL_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<comment>--[^\n]*|/\*(?s:.*?)(?:\*/|$))",
        r"|(?P<string>'(?:[^'\\]|\\(?s:.)|'')*'?)",
        r"|(?P<positional>\$[0-9]+)",
        r"|(?P<dollar>\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)",
        r#"|(?P<quoted>"(?:[^"]|"")*"|`[^`]*`)"#,
        r"|(?P<number>[+-]?(?:0[xX][0-9A-Fa-f]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?))",
        r"|(?P<word>[\p{L}_][\p{L}0-9_.$?]*)",
    ))
    .unwrap()
});

static DIGITS: LazyLock<Regex> = LazyLock::new(|| Regex::new("[0-9]+").unwrap());

/// The tag of the dollar-quoted strings whose body is SQL (PostgreSQL function bodies): their
/// literals are replaced and the body kept, as go-sqllexer's `DollarQuotedFunc` option does.
const FUNCTION_BODY_TAG: &str = "$func$";

/// A SQL statement with its literals replaced by `?`, as the Collector's obfuscator does: strings,
/// numbers (`-7`, `1.5e3`, `0x1F`), booleans, `NULL`, dollar-quoted strings and positional
/// parameters (`$1`) become `?`, each value of an `IN` list its own `?`, and digits inside
/// identifiers too (`users2` gives `users?`). The statement keeps its layout and its comments (the
/// Collector does not normalize it). As in the Collector, a double-quoted text is an identifier,
/// not a string, so MySQL's `"..."` strings keep their letters; an unterminated dollar-quoted string
/// becomes `?` with the rest of the statement (go-sqllexer keeps it).
pub fn sql(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len());
    let mut rest = statement;
    while let Some(token) = SQL_TOKEN.captures(rest) {
        let whole = token.get(0).expect("group 0 is the match");
        out.push_str(&rest[..whole.start()]);
        let mut end = whole.end();
        if let Some(tag) = token.name("dollar") {
            end = dollar_quoted(tag.as_str(), &rest[end..], &mut out) + end;
        } else if token.name("string").is_some() || token.name("positional").is_some() || token.name("number").is_some() {
            out.push_str(PLACEHOLDER);
        } else if token.name("word").is_some() {
            out.push_str(&sql_word(whole.as_str()));
        } else if token.name("quoted").is_some() {
            out.push_str(&DIGITS.replace_all(whole.as_str(), PLACEHOLDER));
        } else {
            // A comment.
            out.push_str(whole.as_str());
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out.trim().to_string()
}

/// Writes the replacement of a dollar-quoted string whose opening `tag` was just read, and returns
/// how much of `after` (the text after the tag) it took.
fn dollar_quoted(tag: &str, after: &str, out: &mut String) -> usize {
    let Some(body_length) = after.find(tag) else {
        out.push_str(PLACEHOLDER);
        return after.len();
    };
    if tag == FUNCTION_BODY_TAG {
        out.push_str(tag);
        out.push_str(&sql(&after[..body_length]));
        out.push_str(tag);
    } else {
        out.push_str(PLACEHOLDER);
    }
    body_length + tag.len()
}

/// A keyword or identifier: booleans and `NULL` are literals; elsewhere digit runs are replaced,
/// since ids end up in generated table and column names (`events_20240101`).
fn sql_word(word: &str) -> String {
    if ["true", "false", "null"].iter().any(|literal| word.eq_ignore_ascii_case(literal)) {
        PLACEHOLDER.to_string()
    } else {
        DIGITS.replace_all(word, PLACEHOLDER).into_owned()
    }
}

// ----- Redis and Valkey -----

/// Redis (or Valkey) commands, one a line, with the values among their arguments replaced by `?`,
/// command by command as DataDog's obfuscator (which the Collector calls) does: keys stay, so that
/// `SET user:42 secret` gives `SET user:42 ?`; `AUTH` loses all its arguments; a command that carries
/// no value (`GET key`, `DEL key`, unknown commands) is unchanged. Blank lines are dropped.
pub fn redis(commands: &str) -> String {
    redis_commands(commands)
        .into_iter()
        .map(redis_command)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The commands of a text, each as its words: words are separated by unquoted spaces, commands by
/// unquoted newlines; a double-quoted word keeps its quotes (and a backslash escapes a quote).
fn redis_commands(text: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in text.chars() {
        if escaped {
            word.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                word.push(c);
                escaped = true;
            }
            '"' => {
                word.push(c);
                quoted = !quoted;
            }
            ' ' | '\t' | '\r' | '\n' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                if c == '\n' && !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

/// One command (its words, the first the command's name) with its values replaced.
fn redis_command(words: Vec<String>) -> String {
    let mut words = words.into_iter();
    let command = words.next().unwrap_or_default();
    let mut args: Vec<String> = words.collect();
    match command.to_ascii_uppercase().as_str() {
        // AUTH [username] password
        "AUTH" => {
            args.truncate(1);
            hide(&mut args, 0);
        }
        // SET key value [EX seconds], GETSET key value, SISMEMBER key member...
        "APPEND" | "GETSET" | "LPUSHX" | "GEORADIUSBYMEMBER" | "RPUSHX" | "SET" | "SETNX" | "SISMEMBER" | "ZRANK" | "ZREVRANK"
        | "ZSCORE" => hide(&mut args, 1),
        // HSETNX key field value, SETEX key seconds value, LSET key index value...
        "HSETNX" | "LREM" | "LSET" | "SETBIT" | "SETEX" | "PSETEX" | "SETRANGE" | "ZINCRBY" | "SMOVE" | "RESTORE" => hide(&mut args, 2),
        // LINSERT key BEFORE|AFTER pivot value
        "LINSERT" => hide(&mut args, 3),
        // LPUSH key value [value ...]: the values go, as one `?`.
        "GEOHASH" | "GEOPOS" | "GEODIST" | "LPUSH" | "RPUSH" | "SREM" | "ZREM" | "SADD" if args.len() > 1 => {
            args.truncate(2);
            hide(&mut args, 1);
        }
        // GEOADD key longitude latitude member [longitude latitude member ...]
        "GEOADD" => hide_every(&mut args, 3, 3),
        // HSET key field value [field value ...]
        "HSET" | "HMSET" => hide_every(&mut args, 2, 2),
        // MSET key value [key value ...]
        "MSET" | "MSETNX" => hide_every(&mut args, 1, 2),
        // CONFIG SET parameter value
        "CONFIG" if args.first().is_some_and(|sub| sub.eq_ignore_ascii_case("SET")) => hide(&mut args, 2),
        // BITFIELD key [GET type offset] [SET type offset value] ...
        "BITFIELD" => {
            if let Some(set) = args.iter().skip(1).position(|arg| arg.eq_ignore_ascii_case("SET")) {
                hide(&mut args, set + 1 + 3);
            }
        }
        // ZADD key [NX|XX] [CH] [INCR] score member [score member ...]
        "ZADD" => {
            let first_score = 1 + args
                .iter()
                .skip(1)
                .take_while(|arg| matches!(arg.as_str(), "NX" | "XX" | "CH" | "INCR"))
                .count();
            hide_every(&mut args, first_score + 1, 2);
        }
        _ => {}
    }
    if args.is_empty() {
        command
    } else {
        format!("{command} {}", args.join(" "))
    }
}

fn hide(args: &mut [String], at: usize) {
    if let Some(arg) = args.get_mut(at) {
        *arg = PLACEHOLDER.to_string();
    }
}

/// Hides the argument at `first`, then every `step`-th after it.
fn hide_every(args: &mut [String], first: usize, step: usize) {
    for arg in args.iter_mut().skip(first).step_by(step) {
        *arg = PLACEHOLDER.to_string();
    }
}

// ----- Memcached -----

/// A memcached command without the data block that follows the first line of a storage command
/// (`set key 0 60 5\r\nvalue\r\n` gives `set key 0 60 5`), as the Collector keeps it.
pub fn memcached(command: &str) -> String {
    command.split("\r\n").next().unwrap_or_default().trim().to_string()
}

// ----- JSON queries (MongoDB, OpenSearch, Elasticsearch) -----

/// The tokens of a JSON text: strings, punctuation, and the other literals (numbers, `true`,
/// `false`, `null`). Whitespace between them is left out.
static JSON_TOKEN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#""(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+"#).unwrap());

/// A JSON query with every value (string, number, boolean, null, each array element) replaced by
/// `"?"`; keys and structure are kept and the whitespace dropped, as DataDog's JSON obfuscator
/// does (`{"find": "users", "filter": {"age": {"$gt": 30}}}` gives
/// `{"find":"?","filter":{"age":{"$gt":"?"}}}`). A text that is not valid JSON (a shell-style
/// `db.users.find({name: 'x'})`) is returned unchanged, as in the Collector.
pub fn json(text: &str) -> String {
    if text.trim().is_empty() || serde_json::from_str::<serde_json::Value>(text).is_err() {
        return text.to_string();
    }
    // The text is valid JSON, so the tokens are exactly its tokens and a string is a key exactly
    // when a colon follows it.
    let tokens: Vec<&str> = JSON_TOKEN.find_iter(text).map(|token| token.as_str()).collect();
    let mut out = String::with_capacity(text.len());
    for (at, token) in tokens.iter().enumerate() {
        let punctuation = matches!(*token, "{" | "}" | "[" | "]" | ":" | ",");
        let key = token.starts_with('"') && tokens.get(at + 1) == Some(&":");
        if punctuation || key {
            out.push_str(token);
        } else {
            out.push_str("\"?\"");
        }
    }
    out
}
