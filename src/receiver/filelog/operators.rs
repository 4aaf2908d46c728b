//! The filelog receiver's operators (the Collector's stanza operators): parsers that turn a line
//! into fields, a timestamp and a severity, and the moves, copies, additions and removals of fields
//! that follow. An entry is the line being built into a log record, held as JSON values until it
//! is made an OTLP `LogRecord`.

use crate::config::Parser;
use serde_json::{Map, Value as Json};
use serde_yaml_ng::{Mapping, Value};

/// A log record being built: the body, attributes and resource as JSON values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    pub body: Json,
    pub attributes: Map<String, Json>,
    pub resource: Map<String, Json>,
    /// Unix nanoseconds, from a time parser.
    pub timestamp: Option<u64>,
    pub severity_number: i32,
    pub severity_text: String,
}

/// Where a value lives in an entry: `body`, `body.key`, `attributes.key`, `attributes["a.b"]`,
/// `resource.key`; an empty path is the whole body or map.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Body(Vec<String>),
    Attributes(Vec<String>),
    Resource(Vec<String>),
}

impl Field {
    pub fn parse(text: &str) -> Result<Field, String> {
        let text = text.trim();
        let (root, rest) = match text.find(['.', '[']) {
            Some(i) => (&text[..i], &text[i..]),
            None => (text, ""),
        };
        let mut keys = Vec::new();
        let mut rest = rest;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("[\"").or_else(|| rest.strip_prefix("['")) {
                let close = after
                    .find(['"', '\''])
                    .ok_or_else(|| format!("'{text}': a bracketed key is not closed"))?;
                keys.push(after[..close].to_string());
                rest = after[close + 1..]
                    .strip_prefix(']')
                    .ok_or_else(|| format!("'{text}': expected ] after a bracketed key"))?;
            } else if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                if end == 0 {
                    return Err(format!("'{text}': an empty key"));
                }
                keys.push(after[..end].to_string());
                rest = &after[end..];
            } else {
                return Err(format!("'{text}': expected .key or [\"key\"]"));
            }
        }
        match root {
            "body" => Ok(Field::Body(keys)),
            "attributes" => Ok(Field::Attributes(keys)),
            "resource" => Ok(Field::Resource(keys)),
            _ => Err(format!(
                "'{text}' is not a field: expected body, body.key, attributes.key or resource.key"
            )),
        }
    }

    pub fn get<'e>(&self, entry: &'e Entry) -> Option<&'e Json> {
        let (start, keys): (Option<&Json>, &[String]) = match self {
            Field::Body(keys) => (Some(&entry.body), keys),
            Field::Attributes(keys) => return get_in_map(&entry.attributes, keys),
            Field::Resource(keys) => return get_in_map(&entry.resource, keys),
        };
        let mut at = start?;
        for key in keys {
            at = at.as_object()?.get(key)?;
        }
        Some(at)
    }

    /// Sets the field, making the maps on its way; a map set on a whole attributes or resource
    /// map is merged into it, as the Collector's parsers do with `parse_to: attributes`.
    pub fn set(&self, entry: &mut Entry, value: Json) -> Result<(), String> {
        match self {
            Field::Body(keys) if keys.is_empty() => {
                entry.body = value;
                Ok(())
            }
            Field::Body(keys) => {
                if !entry.body.is_object() {
                    entry.body = Json::Object(Map::new());
                }
                let Json::Object(map) = &mut entry.body else { unreachable!() };
                set_in_map(map, keys, value)
            }
            Field::Attributes(keys) => set_in_map(&mut entry.attributes, keys, value),
            Field::Resource(keys) => set_in_map(&mut entry.resource, keys, value),
        }
    }

    pub fn remove(&self, entry: &mut Entry) -> Option<Json> {
        match self {
            Field::Body(keys) if keys.is_empty() => Some(std::mem::replace(&mut entry.body, Json::Null)),
            Field::Body(keys) => match &mut entry.body {
                Json::Object(map) => remove_in_map(map, keys),
                _ => None,
            },
            Field::Attributes(keys) if keys.is_empty() => Some(Json::Object(std::mem::take(&mut entry.attributes))),
            Field::Attributes(keys) => remove_in_map(&mut entry.attributes, keys),
            Field::Resource(keys) if keys.is_empty() => Some(Json::Object(std::mem::take(&mut entry.resource))),
            Field::Resource(keys) => remove_in_map(&mut entry.resource, keys),
        }
    }
}

fn get_in_map<'m>(map: &'m Map<String, Json>, keys: &[String]) -> Option<&'m Json> {
    let (first, rest) = keys.split_first()?;
    let mut at = map.get(first)?;
    for key in rest {
        at = at.as_object()?.get(key)?;
    }
    Some(at)
}

fn set_in_map(map: &mut Map<String, Json>, keys: &[String], value: Json) -> Result<(), String> {
    let Some((last, parents)) = keys.split_last() else {
        return match value {
            Json::Object(values) => {
                map.extend(values);
                Ok(())
            }
            other => Err(format!("cannot set a whole map to {other}")),
        };
    };
    let mut at = map;
    for key in parents {
        let next = at.entry(key.clone()).or_insert_with(|| Json::Object(Map::new()));
        if !next.is_object() {
            *next = Json::Object(Map::new());
        }
        let Json::Object(inner) = next else { unreachable!() };
        at = inner;
    }
    at.insert(last.clone(), value);
    Ok(())
}

fn remove_in_map(map: &mut Map<String, Json>, keys: &[String]) -> Option<Json> {
    let (last, parents) = keys.split_last()?;
    let mut at = map;
    for key in parents {
        at = at.get_mut(key)?.as_object_mut()?;
    }
    at.remove(last)
}

/// What to do with an entry an operator fails on (`on_error`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OnError {
    /// `send` (the default) and `send_quiet`: the entry goes on unchanged.
    Send { quiet: bool },
    /// `drop` and `drop_quiet`: the entry is dropped.
    Drop { quiet: bool },
}

/// A configured operator.
#[derive(Clone, Debug)]
pub struct Operator {
    pub kind: OperatorKind,
    pub on_error: OnError,
}

#[derive(Clone, Debug)]
pub enum OperatorKind {
    Json {
        parse_from: Field,
        parse_to: Field,
        then: Embedded,
    },
    Regex {
        regex: regex::Regex,
        parse_from: Field,
        parse_to: Field,
        then: Embedded,
    },
    Time(TimeParser),
    Severity(SeverityParser),
    Move {
        from: Field,
        to: Field,
    },
    Copy {
        from: Field,
        to: Field,
    },
    Add {
        field: Field,
        value: Json,
    },
    Remove {
        field: Field,
    },
}

/// The `timestamp` and `severity` blocks a parser may carry, applied after it parses.
#[derive(Clone, Debug, Default)]
pub struct Embedded {
    pub timestamp: Option<TimeParser>,
    pub severity: Option<SeverityParser>,
}

pub const OPERATOR_TYPES: &[&str] = &[
    "json_parser",
    "regex_parser",
    "time_parser",
    "severity_parser",
    "move",
    "copy",
    "add",
    "remove",
];

/// Runs the operators in order; `false`: the entry is dropped.
pub fn apply(operators: &[Operator], entry: &mut Entry) -> bool {
    for operator in operators {
        if let Err(error) = operator.kind.apply(entry) {
            match operator.on_error {
                OnError::Send { quiet } | OnError::Drop { quiet } if !quiet => {
                    tracing::warn!(%error, "filelog: an operator failed on an entry")
                }
                _ => {}
            }
            if let OnError::Drop { .. } = operator.on_error {
                return false;
            }
        }
    }
    true
}

impl OperatorKind {
    fn apply(&self, entry: &mut Entry) -> Result<(), String> {
        match self {
            OperatorKind::Json {
                parse_from,
                parse_to,
                then,
            } => {
                let text = text_of(parse_from, entry)?;
                let parsed: Json = serde_json::from_str(&text).map_err(|e| format!("json_parser: not a JSON object ({e})"))?;
                if !parsed.is_object() {
                    return Err("json_parser: the value is JSON but not an object".into());
                }
                // As the Collector: the parsed value stays where it was (the body keeps the line).
                parse_to.set(entry, parsed)?;
                then.apply(entry)
            }
            OperatorKind::Regex {
                regex,
                parse_from,
                parse_to,
                then,
            } => {
                let text = text_of(parse_from, entry)?;
                let captures = regex
                    .captures(&text)
                    .ok_or_else(|| format!("regex_parser: the regex does not match '{}'", truncated(&text)))?;
                let mut fields = Map::new();
                for name in regex.capture_names().flatten() {
                    if let Some(m) = captures.name(name) {
                        fields.insert(name.to_string(), Json::String(m.as_str().to_string()));
                    }
                }
                parse_to.set(entry, Json::Object(fields))?;
                then.apply(entry)
            }
            OperatorKind::Time(parser) => parser.apply(entry),
            OperatorKind::Severity(parser) => parser.apply(entry),
            OperatorKind::Move { from, to } => {
                let value = from
                    .remove(entry)
                    .ok_or_else(|| "move: the field to move from does not exist".to_string())?;
                to.set(entry, value)
            }
            OperatorKind::Copy { from, to } => {
                let value = from
                    .get(entry)
                    .cloned()
                    .ok_or_else(|| "copy: the field to copy from does not exist".to_string())?;
                to.set(entry, value)
            }
            OperatorKind::Add { field, value } => field.set(entry, value.clone()),
            OperatorKind::Remove { field } => field
                .remove(entry)
                .map(|_| ())
                .ok_or_else(|| "remove: the field does not exist".to_string()),
        }
    }
}

impl Embedded {
    fn apply(&self, entry: &mut Entry) -> Result<(), String> {
        if let Some(time) = &self.timestamp {
            time.apply(entry)?;
        }
        if let Some(severity) = &self.severity {
            severity.apply(entry)?;
        }
        Ok(())
    }
}

fn text_of(field: &Field, entry: &Entry) -> Result<String, String> {
    match field.get(entry) {
        Some(Json::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err("the field to parse from does not exist".into()),
    }
}

fn truncated(text: &str) -> &str {
    match text.char_indices().nth(80) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

// ---------------------------------------------------------------------------------------------
// Time

#[derive(Clone, Debug)]
pub struct TimeParser {
    pub parse_from: Field,
    pub layout: Layout,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Layout {
    /// strptime and gotime layouts, both read into the same directives.
    Pattern(Vec<Directive>),
    Epoch(EpochUnit),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EpochUnit {
    S,
    Ms,
    Us,
    Ns,
    /// `s.ms`, `s.us`, `s.ns`: seconds with a fraction.
    SFraction,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Directive {
    Literal(char),
    Year,
    Year2,
    Month,
    MonthName,
    Day,
    DaySpaced,
    Hour,
    Hour12,
    Minute,
    Second,
    /// Fraction digits after a literal dot (any count).
    Fraction,
    AmPm,
    /// `+hhmm`, `+hh:mm` or `Z`.
    Offset,
    /// A zone name: only UTC, GMT and Z are known (offset 0).
    ZoneName,
    WeekdayName,
    UnixSeconds,
}

impl TimeParser {
    fn apply(&self, entry: &mut Entry) -> Result<(), String> {
        let value = self
            .parse_from
            .get(entry)
            .cloned()
            .ok_or_else(|| "time_parser: the field to parse from does not exist".to_string())?;
        let nanos = match (&self.layout, &value) {
            (Layout::Epoch(unit), Json::Number(n)) => epoch_nanos(*unit, &n.to_string())?,
            (Layout::Epoch(unit), Json::String(s)) => epoch_nanos(*unit, s)?,
            (Layout::Pattern(directives), Json::String(s)) => parse_time(directives, s)?,
            (_, other) => return Err(format!("time_parser: cannot parse a time from {other}")),
        };
        entry.timestamp = Some(nanos);
        Ok(())
    }
}

fn epoch_nanos(unit: EpochUnit, text: &str) -> Result<u64, String> {
    let text = text.trim();
    let bad = || format!("time_parser: '{text}' is not an epoch time");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let scale = match unit {
        EpochUnit::S | EpochUnit::SFraction => 1_000_000_000,
        EpochUnit::Ms => 1_000_000,
        EpochUnit::Us => 1_000,
        EpochUnit::Ns => 1,
    };
    let mut nanos = whole.checked_mul(scale).ok_or_else(bad)?;
    if !fraction.is_empty() {
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(9).collect();
        let frac: u64 = digits.parse().map_err(|_| bad())?;
        nanos += frac * scale / 1_000_000_000;
    }
    Ok(nanos)
}

/// Reads a strptime layout: `%Y %y %m %b %h %B %d %e %H %I %M %S %L %f %N %p %z %Z %a %A %s %%`.
pub fn strptime(layout: &str) -> Result<Vec<Directive>, String> {
    let mut out = Vec::new();
    let mut chars = layout.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(Directive::Literal(c));
            continue;
        }
        let d = chars.next().ok_or("a layout may not end with %")?;
        out.push(match d {
            'Y' => Directive::Year,
            'y' => Directive::Year2,
            'm' => Directive::Month,
            'b' | 'h' | 'B' => Directive::MonthName,
            'd' => Directive::Day,
            'e' => Directive::DaySpaced,
            'H' => Directive::Hour,
            'I' => Directive::Hour12,
            'M' => Directive::Minute,
            'S' => Directive::Second,
            'L' | 'f' | 'N' => Directive::Fraction,
            'p' => Directive::AmPm,
            'z' => Directive::Offset,
            'Z' => Directive::ZoneName,
            'a' | 'A' => Directive::WeekdayName,
            's' => Directive::UnixSeconds,
            '%' => Directive::Literal('%'),
            other => return Err(format!("the directive %{other} is not supported")),
        });
    }
    Ok(out)
}

/// Reads a Go reference-time layout (`2006-01-02T15:04:05.000Z07:00`).
pub fn gotime(layout: &str) -> Result<Vec<Directive>, String> {
    const TOKENS: &[(&str, Directive)] = &[
        ("2006", Directive::Year),
        ("Z07:00", Directive::Offset),
        ("-07:00", Directive::Offset),
        ("Z0700", Directive::Offset),
        ("-0700", Directive::Offset),
        ("January", Directive::MonthName),
        ("Monday", Directive::WeekdayName),
        ("Jan", Directive::MonthName),
        ("Mon", Directive::WeekdayName),
        ("MST", Directive::ZoneName),
        ("01", Directive::Month),
        ("02", Directive::Day),
        ("_2", Directive::DaySpaced),
        ("15", Directive::Hour),
        ("03", Directive::Hour12),
        ("04", Directive::Minute),
        ("05", Directive::Second),
        ("06", Directive::Year2),
        ("PM", Directive::AmPm),
    ];
    let mut out = Vec::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        // A fraction: a dot or comma followed by 0s or 9s.
        if let Some(after) = rest.strip_prefix('.').or_else(|| rest.strip_prefix(',')) {
            let digits = after.bytes().take_while(|b| *b == b'0' || *b == b'9').count();
            if digits > 0 {
                out.push(Directive::Literal(rest.chars().next().unwrap_or('.')));
                out.push(Directive::Fraction);
                rest = &after[digits..];
                continue;
            }
        }
        for (token, directive) in TOKENS {
            if let Some(after) = rest.strip_prefix(token) {
                out.push(directive.clone());
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(Directive::Literal(c));
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// Parses `text` by the directives into Unix nanoseconds (UTC unless the text has an offset).
pub fn parse_time(directives: &[Directive], text: &str) -> Result<u64, String> {
    let bad = |why: &str| format!("time_parser: '{}' does not match the layout ({why})", truncated(text));
    let (mut year, mut month, mut day, mut hour, mut minute, mut second) = (1970i64, 1i64, 1i64, 0i64, 0i64, 0i64);
    let (mut nanos, mut offset_seconds, mut pm) = (0i64, 0i64, None::<bool>);
    let mut unix: Option<i64> = None;
    let mut s = text.as_bytes();
    fn number(s: &mut &[u8], max: usize) -> Option<i64> {
        let n = s.iter().take(max).take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let value = std::str::from_utf8(&s[..n]).ok()?.parse().ok()?;
        *s = &s[n..];
        Some(value)
    }
    fn letters<'t>(s: &mut &'t [u8]) -> &'t [u8] {
        let n = s.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let (word, rest) = s.split_at(n);
        *s = rest;
        word
    }
    for directive in directives {
        match directive {
            Directive::Literal(c) => {
                let mut buf = [0u8; 4];
                let lit = c.encode_utf8(&mut buf).as_bytes();
                s = s.strip_prefix(lit).ok_or_else(|| bad(&format!("expected '{c}'")))?;
            }
            Directive::Year => year = number(&mut s, 4).ok_or_else(|| bad("year"))?,
            Directive::Year2 => year = 2000 + number(&mut s, 2).ok_or_else(|| bad("year"))?,
            Directive::Month => month = number(&mut s, 2).ok_or_else(|| bad("month"))?,
            Directive::MonthName => {
                let word = String::from_utf8_lossy(letters(&mut s)).to_ascii_lowercase();
                let index = MONTHS.iter().position(|m| word.starts_with(m)).ok_or_else(|| bad("month name"))?;
                month = index as i64 + 1;
            }
            Directive::Day => day = number(&mut s, 2).ok_or_else(|| bad("day"))?,
            Directive::DaySpaced => {
                if s.first() == Some(&b' ') {
                    s = &s[1..];
                }
                day = number(&mut s, 2).ok_or_else(|| bad("day"))?
            }
            Directive::Hour | Directive::Hour12 => hour = number(&mut s, 2).ok_or_else(|| bad("hour"))?,
            Directive::Minute => minute = number(&mut s, 2).ok_or_else(|| bad("minute"))?,
            Directive::Second => second = number(&mut s, 2).ok_or_else(|| bad("second"))?,
            Directive::Fraction => {
                let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
                if n == 0 {
                    return Err(bad("fraction"));
                }
                let digits: String = s[..n].iter().map(|b| *b as char).chain(std::iter::repeat('0')).take(9).collect();
                nanos = digits.parse().map_err(|_| bad("fraction"))?;
                s = &s[n..];
            }
            Directive::AmPm => {
                let word = String::from_utf8_lossy(letters(&mut s)).to_ascii_lowercase();
                pm = Some(match word.as_str() {
                    "am" => false,
                    "pm" => true,
                    _ => return Err(bad("AM or PM")),
                });
            }
            Directive::Offset => {
                if let Some(rest) = s.strip_prefix(b"Z") {
                    s = rest;
                } else {
                    let sign = match s.first() {
                        Some(b'+') => 1,
                        Some(b'-') => -1,
                        _ => return Err(bad("zone offset")),
                    };
                    s = &s[1..];
                    let hours = number(&mut s, 2).ok_or_else(|| bad("zone offset"))?;
                    if s.first() == Some(&b':') {
                        s = &s[1..];
                    }
                    let minutes = number(&mut s, 2).unwrap_or(0);
                    offset_seconds = sign * (hours * 3600 + minutes * 60);
                }
            }
            Directive::ZoneName => {
                let word = String::from_utf8_lossy(letters(&mut s)).to_ascii_uppercase();
                if !matches!(word.as_str(), "UTC" | "GMT" | "Z") {
                    return Err(bad("only the zone names UTC and GMT are known; use an offset like +0200"));
                }
            }
            Directive::WeekdayName => {
                letters(&mut s);
            }
            Directive::UnixSeconds => {
                let negative = s.first() == Some(&b'-');
                if negative {
                    s = &s[1..];
                }
                let value = number(&mut s, 19).ok_or_else(|| bad("unix seconds"))?;
                unix = Some(if negative { -value } else { value });
            }
        }
    }
    if !s.is_empty() {
        return Err(bad("text left over"));
    }
    if let Some(pm) = pm {
        hour = match (pm, hour) {
            (false, 12) => 0,
            (true, h) if h < 12 => h + 12,
            (_, h) => h,
        };
    }
    let seconds = match unix {
        Some(seconds) => seconds,
        None => {
            if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
                return Err(bad("a field is out of range"));
            }
            days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds
        }
    };
    if seconds < 0 {
        return Err(bad("before 1970"));
    }
    Ok(seconds as u64 * 1_000_000_000 + nanos as u64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------------------------
// Severity

#[derive(Clone, Debug)]
pub struct SeverityParser {
    pub parse_from: Field,
    /// The configured `mapping`, checked before the default names.
    pub mapping: Vec<(SeverityMatch, i32)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SeverityMatch {
    /// Compared case-insensitively.
    Text(String),
    Range(i64, i64),
}

/// The names `mapping` keys may have, with their severity numbers (`error2` is 18, ...).
pub fn severity_number_of(name: &str) -> Option<i32> {
    let name = name.to_ascii_lowercase();
    let split = name.find(|c: char| c.is_ascii_digit()).unwrap_or(name.len());
    let (level, step) = name.split_at(split);
    let base = match level {
        "trace" => 1,
        "debug" => 5,
        "info" => 9,
        "warn" => 13,
        "error" => 17,
        "fatal" => 21,
        _ => return None,
    };
    let step: i32 = if step.is_empty() { 1 } else { step.parse().ok()? };
    (1..=4).contains(&step).then_some(base + step - 1)
}

/// The names every severity parser knows, as the Collector's default preset.
fn default_severity(text: &str) -> Option<i32> {
    let lower = text.trim().to_ascii_lowercase();
    match lower.as_str() {
        "warning" => Some(13),
        "err" => Some(17),
        "critical" | "crit" | "emerg" | "emergency" | "alert" => Some(21),
        "information" | "notice" => Some(9),
        other => severity_number_of(other),
    }
}

impl SeverityParser {
    fn apply(&self, entry: &mut Entry) -> Result<(), String> {
        let value = self
            .parse_from
            .get(entry)
            .cloned()
            .ok_or_else(|| "severity_parser: the field to parse from does not exist".to_string())?;
        let text = match &value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        let number = text.trim().parse::<i64>().ok();
        let found = self
            .mapping
            .iter()
            .find(|(m, _)| match m {
                SeverityMatch::Text(t) => t.eq_ignore_ascii_case(text.trim()),
                SeverityMatch::Range(min, max) => number.is_some_and(|n| (*min..=*max).contains(&n)),
            })
            .map(|(_, n)| *n)
            .or_else(|| default_severity(&text));
        entry.severity_text = text;
        entry.severity_number = found.unwrap_or(0);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Config

fn field(p: &mut Parser, body: &Mapping, key: &str, default: Option<&str>, at: &str) -> Option<Field> {
    let path = format!("{at}.{key}");
    let text = match body.get(key) {
        Some(v) => p.string(v, &path)?,
        None => match default {
            Some(d) => d.to_string(),
            None => {
                p.error(at, format!("{key} is required"));
                return None;
            }
        },
    };
    Field::parse(&text).map_err(|e| p.error(&path, e)).ok()
}

const COMMON_KEYS: &[&str] = &["type", "id", "output", "on_error"];

/// Parses the `operators` list; every unknown type is refused by name.
pub fn parse_operators(p: &mut Parser, value: Option<&Value>, path: &str) -> Vec<Operator> {
    let mut operators = Vec::new();
    for (at, item) in p.list(value, path) {
        let Some(body) = p.mapping(Some(item), &at) else { continue };
        let Some(kind) = body.get("type").and_then(|v| p.string(v, &format!("{at}.type"))) else {
            if body.get("type").is_none() {
                p.error(&at, format!("type is required (one of: {})", OPERATOR_TYPES.join(", ")));
            }
            continue;
        };
        let on_error = match body.get("on_error").and_then(|v| p.string(v, &format!("{at}.on_error"))).as_deref() {
            None | Some("send") => OnError::Send { quiet: false },
            Some("send_quiet") => OnError::Send { quiet: true },
            Some("drop") => OnError::Drop { quiet: false },
            Some("drop_quiet") => OnError::Drop { quiet: true },
            Some(other) => {
                p.error(
                    &format!("{at}.on_error"),
                    format!("expected send, send_quiet, drop or drop_quiet, got '{other}'"),
                );
                OnError::Send { quiet: false }
            }
        };
        let keys = |extra: &[&'static str]| -> Vec<&'static str> { COMMON_KEYS.iter().chain(extra).copied().collect() };
        let parsed = match kind.as_str() {
            "json_parser" => {
                p.only_keys(body, &keys(&["parse_from", "parse_to", "timestamp", "severity"]), &at);
                let then = parse_embedded(p, body, &at);
                match (
                    field(p, body, "parse_from", Some("body"), &at),
                    field(p, body, "parse_to", Some("attributes"), &at),
                ) {
                    (Some(parse_from), Some(parse_to)) => Some(OperatorKind::Json {
                        parse_from,
                        parse_to,
                        then,
                    }),
                    _ => None,
                }
            }
            "regex_parser" => {
                p.only_keys(body, &keys(&["regex", "parse_from", "parse_to", "timestamp", "severity"]), &at);
                let then = parse_embedded(p, body, &at);
                let regex = match body.get("regex") {
                    Some(v) => p.regex(v, &format!("{at}.regex")),
                    None => {
                        p.error(&at, "regex is required (with named groups like (?P<level>\\w+))");
                        None
                    }
                };
                match (
                    regex,
                    field(p, body, "parse_from", Some("body"), &at),
                    field(p, body, "parse_to", Some("attributes"), &at),
                ) {
                    (Some(regex), Some(parse_from), Some(parse_to)) => Some(OperatorKind::Regex {
                        regex,
                        parse_from,
                        parse_to,
                        then,
                    }),
                    _ => None,
                }
            }
            "time_parser" => {
                p.only_keys(body, &keys(&["parse_from", "layout_type", "layout", "location"]), &at);
                parse_time_parser(p, body, &at).map(OperatorKind::Time)
            }
            "severity_parser" => {
                p.only_keys(body, &keys(&["parse_from", "mapping", "preset"]), &at);
                parse_severity_parser(p, body, &at).map(OperatorKind::Severity)
            }
            "move" | "copy" => {
                p.only_keys(body, &keys(&["from", "to"]), &at);
                match (field(p, body, "from", None, &at), field(p, body, "to", None, &at)) {
                    (Some(from), Some(to)) if kind == "move" => Some(OperatorKind::Move { from, to }),
                    (Some(from), Some(to)) => Some(OperatorKind::Copy { from, to }),
                    _ => None,
                }
            }
            "add" => {
                p.only_keys(body, &keys(&["field", "value"]), &at);
                let value = match body.get("value") {
                    None => {
                        p.error(&at, "value is required");
                        None
                    }
                    Some(Value::String(s)) if s.trim_start().starts_with("EXPR(") => {
                        p.error(
                            &format!("{at}.value"),
                            "EXPR(...) values are not supported by otelbox yet; give a literal value",
                        );
                        None
                    }
                    Some(v) => serde_json::to_value(v)
                        .map_err(|e| p.error(&format!("{at}.value"), format!("cannot be a log value ({e})")))
                        .ok(),
                };
                match (field(p, body, "field", None, &at), value) {
                    (Some(field), Some(value)) => Some(OperatorKind::Add { field, value }),
                    _ => None,
                }
            }
            "remove" => {
                p.only_keys(body, &keys(&["field"]), &at);
                field(p, body, "field", None, &at).map(|field| OperatorKind::Remove { field })
            }
            other => {
                p.error(
                    &format!("{at}.type"),
                    format!(
                        "the operator type \"{other}\" is not supported by otelbox yet (it has: {})",
                        OPERATOR_TYPES.join(", ")
                    ),
                );
                None
            }
        };
        if let Some(kind) = parsed {
            operators.push(Operator { kind, on_error });
        }
    }
    operators
}

fn parse_embedded(p: &mut Parser, body: &Mapping, at: &str) -> Embedded {
    let mut embedded = Embedded::default();
    if let Some(v) = body.get("timestamp") {
        let path = format!("{at}.timestamp");
        if let Some(inner) = p.mapping(Some(v), &path) {
            p.only_keys(inner, &["parse_from", "layout_type", "layout", "location"], &path);
            embedded.timestamp = parse_time_parser(p, inner, &path);
        }
    }
    if let Some(v) = body.get("severity") {
        let path = format!("{at}.severity");
        if let Some(inner) = p.mapping(Some(v), &path) {
            p.only_keys(inner, &["parse_from", "mapping", "preset"], &path);
            embedded.severity = parse_severity_parser(p, inner, &path);
        }
    }
    embedded
}

fn parse_time_parser(p: &mut Parser, body: &Mapping, at: &str) -> Option<TimeParser> {
    let parse_from = field(p, body, "parse_from", None, at);
    let layout_type = match body.get("layout_type") {
        Some(v) => p.string(v, &format!("{at}.layout_type"))?,
        None => "strptime".to_string(),
    };
    if let Some(v) = body.get("location") {
        if let Some(location) = p.string(v, &format!("{at}.location")) {
            if !matches!(location.as_str(), "UTC" | "GMT" | "Etc/UTC") {
                p.error(
                    &format!("{at}.location"),
                    format!("only UTC is supported by otelbox yet, got '{location}'; put the offset in the layout (%z)"),
                );
            }
        }
    }
    let layout_text = body.get("layout").and_then(|v| p.string(v, &format!("{at}.layout")));
    let layout_at = format!("{at}.layout");
    let layout = match layout_type.as_str() {
        "epoch" => {
            let unit = match layout_text.as_deref() {
                Some("s") => EpochUnit::S,
                Some("ms") => EpochUnit::Ms,
                Some("us") => EpochUnit::Us,
                Some("ns") => EpochUnit::Ns,
                Some("s.ms") | Some("s.us") | Some("s.ns") => EpochUnit::SFraction,
                other => {
                    p.error(&layout_at, format!("expected s, ms, us, ns, s.ms, s.us or s.ns, got {other:?}"));
                    return None;
                }
            };
            Layout::Epoch(unit)
        }
        "strptime" | "gotime" => {
            let Some(text) = layout_text else {
                p.error(at, "layout is required");
                return None;
            };
            let directives = if layout_type == "gotime" { gotime(&text) } else { strptime(&text) };
            Layout::Pattern(directives.map_err(|e| p.error(&layout_at, e)).ok()?)
        }
        other => {
            p.error(
                &format!("{at}.layout_type"),
                format!("expected strptime, gotime or epoch, got '{other}'"),
            );
            return None;
        }
    };
    Some(TimeParser {
        parse_from: parse_from?,
        layout,
    })
}

fn parse_severity_parser(p: &mut Parser, body: &Mapping, at: &str) -> Option<SeverityParser> {
    let parse_from = field(p, body, "parse_from", None, at);
    if let Some(v) = body.get("preset") {
        if let Some(preset) = p.string(v, &format!("{at}.preset")) {
            if preset != "default" {
                p.error(
                    &format!("{at}.preset"),
                    format!("only the default preset is supported, got '{preset}'"),
                );
            }
        }
    }
    let mut mapping = Vec::new();
    let mapping_at = format!("{at}.mapping");
    for (name, value) in p.entries(body.get("mapping"), &mapping_at) {
        let entry_at = format!("{mapping_at}.{name}");
        let Some(number) = severity_number_of(&name) else {
            p.error(
                &entry_at,
                "unknown severity: expected trace, debug, info, warn, error or fatal, optionally with 2 to 4 (error2)",
            );
            continue;
        };
        let values: Vec<&Value> = match value {
            Value::Sequence(items) => items.iter().collect(),
            one => vec![one],
        };
        for value in values {
            match value {
                Value::String(s) => mapping.push((status_class(s).unwrap_or_else(|| SeverityMatch::Text(s.clone())), number)),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => mapping.push((SeverityMatch::Range(i, i), number)),
                    None => p.error(&entry_at, format!("expected an integer, got {n}")),
                },
                Value::Mapping(range) => {
                    let min = range.get("min").and_then(|v| v.as_i64());
                    let max = range.get("max").and_then(|v| v.as_i64());
                    match (min, max) {
                        (Some(min), Some(max)) => mapping.push((SeverityMatch::Range(min, max), number)),
                        _ => p.error(&entry_at, "a range needs integer min and max"),
                    }
                }
                _ => p.error(&entry_at, "expected a string, an integer, a list or {min, max}"),
            }
        }
    }
    Some(SeverityParser {
        parse_from: parse_from?,
        mapping,
    })
}

/// `2xx` .. `5xx`: the HTTP status classes the Collector's mapping accepts.
fn status_class(text: &str) -> Option<SeverityMatch> {
    let digit = text.strip_suffix("xx")?.parse::<i64>().ok().filter(|d| (1..=5).contains(d))?;
    Some(SeverityMatch::Range(digit * 100, digit * 100 + 99))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_dotted_and_bracketed_keys() {
        assert_eq!(Field::parse("body").unwrap(), Field::Body(vec![]));
        assert_eq!(
            Field::parse("attributes[\"http.method\"].x").unwrap(),
            Field::Attributes(vec!["http.method".into(), "x".into()])
        );
        assert_eq!(Field::parse("resource.host").unwrap(), Field::Resource(vec!["host".into()]));
        assert!(Field::parse("foo.bar").is_err());
    }

    #[test]
    fn strptime_and_gotime_layouts_read_the_same_instant() {
        let expected = 1_700_000_000_123_000_000u64; // 2023-11-14T22:13:20.123Z
        let s = strptime("%Y-%m-%dT%H:%M:%S.%L%z").unwrap();
        assert_eq!(parse_time(&s, "2023-11-14T23:13:20.123+0100").unwrap(), expected);
        let g = gotime("2006-01-02T15:04:05.000Z07:00").unwrap();
        assert_eq!(parse_time(&g, "2023-11-14T22:13:20.123Z").unwrap(), expected);
        let b = strptime("%d/%b/%Y:%H:%M:%S %z").unwrap();
        assert_eq!(parse_time(&b, "14/Nov/2023:22:13:20 +0000").unwrap(), 1_700_000_000_000_000_000);
        assert!(parse_time(&s, "not a time").is_err());
        assert_eq!(
            epoch_nanos(EpochUnit::SFraction, "1700000000.5").unwrap(),
            1_700_000_000_500_000_000
        );
        assert_eq!(epoch_nanos(EpochUnit::Ms, "1700000000123").unwrap(), 1_700_000_000_123_000_000);
    }

    #[test]
    fn severity_mapping_comes_before_the_default_names() {
        let parser = SeverityParser {
            parse_from: Field::Attributes(vec!["level".into()]),
            mapping: vec![(SeverityMatch::Text("oops".into()), 17), (status_class("5xx").unwrap(), 21)],
        };
        for (level, number) in [("OOPS", 17), ("503", 21), ("WARNING", 13), ("info", 9), ("whatever", 0)] {
            let mut entry = Entry::default();
            entry.attributes.insert("level".into(), Json::String(level.into()));
            parser.apply(&mut entry).unwrap();
            assert_eq!((entry.severity_number, entry.severity_text.as_str()), (number, level));
        }
    }

    #[test]
    fn move_copy_add_remove_edit_the_entry() {
        let mut errors = Vec::new();
        let yaml: Value = serde_yaml_ng::from_str(
            r#"
- { type: move, from: attributes.a, to: resource.a }
- { type: copy, from: resource.a, to: body.copy }
- { type: add, field: attributes.env, value: prod }
- { type: remove, field: attributes.gone }
"#,
        )
        .unwrap();
        let operators = parse_operators(&mut Parser::collecting(&mut errors), Some(&yaml), "ops");
        assert!(errors.is_empty(), "{errors:?}");
        let mut entry = Entry::default();
        entry.attributes.insert("a".into(), Json::from(1));
        entry.attributes.insert("gone".into(), Json::from(2));
        assert!(apply(&operators, &mut entry));
        assert_eq!(entry.resource.get("a"), Some(&Json::from(1)));
        assert_eq!(entry.body, serde_json::json!({"copy": 1}));
        assert_eq!(entry.attributes, serde_json::json!({"env": "prod"}).as_object().unwrap().clone());
    }

    #[test]
    fn an_unknown_operator_is_refused_by_name() {
        let mut errors = Vec::new();
        let yaml: Value = serde_yaml_ng::from_str("[{ type: router }, { type: regex_parser }]").unwrap();
        parse_operators(&mut Parser::collecting(&mut errors), Some(&yaml), "ops");
        assert!(errors.iter().any(|e| e.contains("\"router\" is not supported")), "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("ops[1]: regex is required")), "{errors:?}");
    }
}
