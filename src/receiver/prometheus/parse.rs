//! The Prometheus text exposition format (version 0.0.4), parsed into metric families: `# HELP`,
//! `# TYPE` (and OpenMetrics' `# UNIT`) metadata, samples with their labels (escapes decoded),
//! values (`NaN`, `+Inf`, `-Inf` included) and optional millisecond timestamps. Pure: no IO.

use std::collections::HashMap;

/// A family's type, from its `# TYPE` line; samples without one are untyped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyType {
    Counter,
    Gauge,
    Histogram,
    Summary,
    Untyped,
}

impl FamilyType {
    fn from_text(text: &str) -> Option<FamilyType> {
        Some(match text {
            "counter" => FamilyType::Counter,
            "gauge" => FamilyType::Gauge,
            "histogram" | "gaugehistogram" => FamilyType::Histogram,
            "summary" => FamilyType::Summary,
            "untyped" | "unknown" => FamilyType::Untyped,
            _ => return None,
        })
    }
}

/// One sample line: `name{label="value",...} value [timestamp_ms]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    /// In the order the line gives them.
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The samples of one metric family with its metadata, in the order of the page.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub unit: String,
    pub kind: FamilyType,
    pub samples: Vec<Sample>,
}

/// A line the format does not allow; a page with one is refused whole, as Prometheus does.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses a whole page.
pub fn parse(text: &str) -> Result<Vec<Family>, ParseError> {
    let mut families: Vec<Family> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line_number = index + 1;
        let line = raw.trim_end_matches('\r').trim_start_matches([' ', '\t']);
        if line.trim().is_empty() {
            continue;
        }
        let fail = |message: String| ParseError {
            line: line_number,
            message,
        };
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim_start_matches([' ', '\t']);
            let (keyword, rest) = split_word(comment);
            if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
                continue; // a plain comment
            }
            let (name, rest) = split_word(rest);
            if name.is_empty() {
                // `# HELP` alone is a comment in Prometheus' parser too.
                continue;
            }
            if !is_metric_name(name) {
                return Err(fail(format!("'{name}' is not a valid metric name")));
            }
            let at = family_index(&mut families, &mut by_name, name);
            let family = &mut families[at];
            match keyword {
                "HELP" => family.help = unescape_help(rest),
                "UNIT" => family.unit = rest.trim().to_string(),
                _ => {
                    let word = rest.trim();
                    family.kind = FamilyType::from_text(word).ok_or_else(|| {
                        fail(format!(
                            "unknown metric type '{word}' (expected counter, gauge, histogram, summary or untyped)"
                        ))
                    })?;
                    if !family.samples.is_empty() {
                        return Err(fail(format!("the TYPE of {name} comes after its samples")));
                    }
                }
            }
            continue;
        }
        let sample = parse_sample(line).map_err(fail)?;
        let at = match owner(&families, &by_name, &sample.name) {
            Some(at) => at,
            None => family_index(&mut families, &mut by_name, &sample.name.clone()),
        };
        families[at].samples.push(sample);
    }
    // Metadata without samples says nothing to record.
    families.retain(|f| !f.samples.is_empty());
    Ok(families)
}

fn family_index(families: &mut Vec<Family>, by_name: &mut HashMap<String, usize>, name: &str) -> usize {
    if let Some(at) = by_name.get(name) {
        return *at;
    }
    families.push(Family {
        name: name.to_string(),
        help: String::new(),
        unit: String::new(),
        kind: FamilyType::Untyped,
        samples: Vec::new(),
    });
    by_name.insert(name.to_string(), families.len() - 1);
    families.len() - 1
}

/// The family a sample belongs to: its own name's, or the histogram, summary or counter whose
/// suffixed series it is (`x_bucket`, `x_sum`, `x_count`; `x_total` of an OpenMetrics counter `x`).
fn owner(families: &[Family], by_name: &HashMap<String, usize>, name: &str) -> Option<usize> {
    if let Some(at) = by_name.get(name) {
        return Some(*at);
    }
    let suffixes: [(&str, &[FamilyType]); 5] = [
        ("_bucket", &[FamilyType::Histogram]),
        ("_sum", &[FamilyType::Histogram, FamilyType::Summary]),
        ("_count", &[FamilyType::Histogram, FamilyType::Summary]),
        ("_total", &[FamilyType::Counter]),
        ("_created", &[FamilyType::Counter, FamilyType::Histogram, FamilyType::Summary]),
    ];
    for (suffix, kinds) in suffixes {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Some(at) = by_name.get(base) {
                if kinds.contains(&families[*at].kind) {
                    return Some(*at);
                }
            }
        }
    }
    None
}

/// The first whitespace-separated word and the rest after the blanks that follow it.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches([' ', '\t']);
    match text.find([' ', '\t']) {
        Some(end) => (&text[..end], text[end..].trim_start_matches([' ', '\t'])),
        None => (text, ""),
    }
}

pub fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// HELP text: `\\` and `\n` are escapes; any other backslash stays as written.
fn unescape_help(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!("'{name}' is not a valid metric name"));
    }
    let mut rest = line[name_end..].trim_start_matches([' ', '\t']);
    let mut labels = Vec::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(after_brace)?;
        labels = parsed;
        rest = after.trim_start_matches([' ', '\t']);
    }
    let (value_text, rest) = split_word(rest);
    if value_text.is_empty() {
        return Err(format!("{name} has no value"));
    }
    let value = parse_value(value_text).ok_or_else(|| format!("'{value_text}' is not a number (of {name})"))?;
    let (timestamp_text, rest) = split_word(rest);
    let timestamp_ms = if timestamp_text.is_empty() {
        None
    } else {
        Some(
            timestamp_text
                .parse::<i64>()
                .map_err(|_| format!("'{timestamp_text}' is not a timestamp in milliseconds (of {name})"))?,
        )
    };
    if !rest.trim().is_empty() {
        return Err(format!("unexpected '{}' after the sample of {name}", rest.trim()));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
        timestamp_ms,
    })
}

/// `a="x",b="y"}` (after the `{`): the labels and what follows the `}`.
/// A sample's labels as name and value pairs.
type Labels = Vec<(String, String)>;

fn parse_labels(text: &str) -> Result<(Labels, &str), String> {
    let mut labels: Vec<(String, String)> = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or("the label set is not closed with '}'")?;
        let name = &rest[..name_end];
        if !is_label_name(name) {
            let shown: String = rest.chars().take(name_end.max(1)).collect();
            return Err(format!("'{shown}' is not a valid label name"));
        }
        rest = rest[name_end..].trim_start_matches([' ', '\t']);
        rest = rest
            .strip_prefix('=')
            .ok_or_else(|| format!("expected '=' after the label {name}"))?;
        rest = rest.trim_start_matches([' ', '\t']);
        rest = rest
            .strip_prefix('"')
            .ok_or_else(|| format!("the value of the label {name} is not quoted"))?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("the value of the label {name} is not closed with '\"'")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => return Err(format!("unknown escape '\\{other}' in the value of the label {name}")),
                    None => return Err(format!("the value of the label {name} is not closed with '\"'")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.iter().any(|(k, _)| k == name) {
            return Err(format!("the label {name} is given twice"));
        }
        labels.push((name.to_string(), value));
        rest = rest[end + 1..].trim_start_matches([' ', '\t']);
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err(format!("expected ',' or '}}' after the label {name}"));
        }
    }
}

/// A sample value as Go's `ParseFloat` reads it: decimals, exponents, `NaN`, `+Inf`, `-Inf`.
pub fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" | "nan" => return Some(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => return Some(f64::INFINITY),
        "-Inf" | "-inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    text.parse::<f64>().ok()
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A page with every type, escapes, timestamps and special values, as client libraries write it.
    pub const GOLDEN: &str = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# HELP temperature_celsius Current temperature\nin the \\ room.
# TYPE temperature_celsius gauge
temperature_celsius{room="a"} -1.5
temperature_celsius{room="b"} NaN

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.05"} 3272
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.9"} 9001
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
"#;

    fn family<'f>(families: &'f [Family], name: &str) -> &'f Family {
        families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no family {name}"))
    }

    #[test]
    fn the_golden_page_parses_into_its_families_with_types_and_help() {
        let families = parse(GOLDEN).unwrap();
        let names: Vec<(&str, FamilyType, usize)> = families.iter().map(|f| (f.name.as_str(), f.kind, f.samples.len())).collect();
        assert_eq!(
            names,
            [
                ("http_requests_total", FamilyType::Counter, 2),
                ("msdos_file_access_time_seconds", FamilyType::Untyped, 1),
                ("metric_without_timestamp_and_labels", FamilyType::Untyped, 1),
                ("something_weird", FamilyType::Untyped, 1),
                ("temperature_celsius", FamilyType::Gauge, 2),
                ("http_request_duration_seconds", FamilyType::Histogram, 8),
                ("rpc_duration_seconds", FamilyType::Summary, 7),
            ]
        );
        assert_eq!(family(&families, "http_requests_total").help, "The total number of HTTP requests.");
        assert_eq!(
            family(&families, "temperature_celsius").help,
            "Current temperature\nin the \\ room."
        );
    }

    #[test]
    fn sample_labels_values_and_timestamps_are_read_exactly() {
        let families = parse(GOLDEN).unwrap();
        let requests = &family(&families, "http_requests_total").samples;
        assert_eq!(
            requests[1],
            Sample {
                name: "http_requests_total".into(),
                labels: vec![("method".into(), "post".into()), ("code".into(), "400".into())],
                value: 3.0,
                timestamp_ms: Some(1395066363000),
            }
        );
        let weird = &family(&families, "something_weird").samples[0];
        assert_eq!(weird.value, f64::INFINITY);
        assert_eq!(weird.timestamp_ms, Some(-3982045));
        let temperatures = &family(&families, "temperature_celsius").samples;
        assert_eq!(temperatures[0].value, -1.5);
        assert!(temperatures[1].value.is_nan());
        assert_eq!(
            family(&families, "metric_without_timestamp_and_labels").samples[0].timestamp_ms,
            None
        );
    }

    #[test]
    fn label_value_escapes_are_decoded() {
        let families = parse(GOLDEN).unwrap();
        let sample = &family(&families, "msdos_file_access_time_seconds").samples[0];
        assert_eq!(sample.label("path"), Some(r"C:\DIR\FILE.TXT"));
        assert_eq!(sample.label("error"), Some("Cannot find file:\n\"FILE.TXT\""));
        assert_eq!(sample.value, 1.458255915e9);
    }

    #[test]
    fn histogram_and_summary_series_belong_to_their_family() {
        let families = parse(GOLDEN).unwrap();
        let histogram = family(&families, "http_request_duration_seconds");
        let les: Vec<Option<&str>> = histogram.samples.iter().map(|s| s.label("le")).collect();
        assert_eq!(les[0], Some("0.05"));
        assert_eq!(les[5], Some("+Inf"));
        assert_eq!(histogram.samples[6].name, "http_request_duration_seconds_sum");
        assert_eq!(histogram.samples[7].name, "http_request_duration_seconds_count");
        let summary = family(&families, "rpc_duration_seconds");
        assert_eq!(summary.samples[0].label("quantile"), Some("0.01"));
        assert_eq!(summary.samples[5].value, 1.7560473e7);
    }

    #[test]
    fn suffixed_series_without_a_typed_family_stay_untyped_families_of_their_own() {
        let families = parse("foo_count 3\nfoo_sum 2\n# TYPE bar gauge\nbar_count 1\n").unwrap();
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["foo_count", "foo_sum", "bar_count"]);
        assert!(families.iter().all(|f| f.kind == FamilyType::Untyped));
    }

    #[test]
    fn an_openmetrics_counter_owns_its_total_series_and_unit() {
        let families = parse("# TYPE jobs counter\n# UNIT jobs jobs\njobs_total 4\n").unwrap();
        assert_eq!(families.len(), 1);
        assert_eq!((families[0].name.as_str(), families[0].kind), ("jobs", FamilyType::Counter));
        assert_eq!(families[0].unit, "jobs");
        assert_eq!(families[0].samples[0].name, "jobs_total");
    }

    #[test]
    fn crlf_line_ends_trailing_commas_and_blank_lines_are_accepted() {
        let families = parse("a{x=\"1\",} 1\r\n\r\n  b 2\r\n").unwrap();
        assert_eq!(families.len(), 2);
        assert_eq!(families[0].samples[0].labels, vec![("x".to_string(), "1".to_string())]);
    }

    #[test]
    fn malformed_lines_are_refused_with_their_line_number() {
        let cases = [
            ("ok 1\nbad{x=\"1\" 2\n", 2, "expected ','"),
            ("9bad 1\n", 1, "not a valid metric name"),
            ("x{a=1} 1\n", 1, "not quoted"),
            ("x{a=\"1\"} one\n", 1, "not a number"),
            ("x 1 1.5\n", 1, "not a timestamp"),
            ("x 1 2 3\n", 1, "unexpected '3'"),
            ("x\n", 1, "has no value"),
            ("x{a=\"\\t\"} 1\n", 1, "unknown escape"),
            ("x{a=\"1\",a=\"2\"} 1\n", 1, "given twice"),
            ("# TYPE x histogramm\n", 1, "unknown metric type"),
            ("x 1\n# TYPE x gauge\n", 2, "after its samples"),
        ];
        for (text, line, message) in cases {
            let error = parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text:?}: {error}");
            assert!(error.message.contains(message), "{text:?}: {error}");
        }
    }

    #[test]
    fn plain_comments_and_metadata_without_samples_are_ignored() {
        let families = parse("# just a comment\n# HELP lonely nobody\n# TYPE lonely gauge\n").unwrap();
        assert!(families.is_empty());
    }
}
