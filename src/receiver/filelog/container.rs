//! The `container` operator (the Collector's stanza `container` parser): reads a line a container
//! runtime wrote, in the docker (JSON lines `{"log": ..., "stream": ..., "time": ...}`), cri-o or
//! containerd (`<time> <stream> <logtag> <log>`) format, found by the line itself unless `format`
//! names one. The `log` becomes the body, `stream` the attribute `log.iostream`, `time` the
//! timestamp (the `time` attribute is removed, as with the Collector's default feature gate), the
//! CRI `logtag` stays an attribute; with `add_metadata_from_filepath` (the default) the resource
//! gets `k8s.namespace.name`, `k8s.pod.name`, `k8s.pod.uid`, `k8s.container.name` and
//! `k8s.container.restart_count` from a `log.file.path` like
//! `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`. CRI lines tagged `P`
//! (partial) are joined with the lines that follow from the same file up to one tagged `F`; the
//! pipeline keeps them (see `operators::Pipeline`).

use super::operators::{gotime, parse_time, Directive, Entry, ParserFields};
use serde_json::{Map, Value as Json};

/// The Collector's layouts: docker's times are UTC, CRI times carry `Z` or an offset.
const DOCKER_TIME_LAYOUT: &str = "2006-01-02T15:04:05.999Z";
const CRI_TIME_LAYOUT: &str = "2006-01-02T15:04:05.999999999Z07:00";
/// The Collector's `max_log_size` default for a recombined CRI line.
pub const DEFAULT_MAX_LOG_SIZE: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ContainerFormat {
    Docker,
    Crio,
    Containerd,
}

impl ContainerFormat {
    pub fn named(name: &str) -> Option<ContainerFormat> {
        match name {
            "docker" => Some(ContainerFormat::Docker),
            "crio" => Some(ContainerFormat::Crio),
            "containerd" => Some(ContainerFormat::Containerd),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ContainerParser {
    /// `None`: detected per line.
    pub format: Option<ContainerFormat>,
    pub add_metadata_from_filepath: bool,
    /// The most bytes a recombined CRI line may have before it is sent as it is (0: no limit).
    pub max_log_size: usize,
    pub fields: ParserFields,
    docker_time: Vec<Directive>,
    cri_time: Vec<Directive>,
}

impl ContainerParser {
    pub fn new(
        format: Option<ContainerFormat>,
        add_metadata_from_filepath: bool,
        max_log_size: usize,
        fields: ParserFields,
    ) -> ContainerParser {
        ContainerParser {
            format,
            add_metadata_from_filepath,
            max_log_size,
            fields,
            docker_time: gotime(DOCKER_TIME_LAYOUT).expect("a valid layout"),
            cri_time: gotime(CRI_TIME_LAYOUT).expect("a valid layout"),
        }
    }

    /// Parses the entry in place; `Ok(true)`: a CRI line, to be recombined by its `logtag`.
    /// `operator` is the operator's id, for the error naming a missing `log.file.path`.
    pub fn parse(&self, entry: &mut Entry, operator: &str) -> Result<bool, String> {
        let format = match self.format {
            Some(format) => format,
            None => detect_format(self.fields.parse_from.get(entry))
                .map_err(|e| format!("failed to detect a valid container log format: {e}"))?,
        };
        let raw = match self.fields.parse_from.get(entry) {
            Some(Json::String(s)) => s.clone(),
            Some(other) => return Err(format!("type '{}' cannot be parsed as container logs", go_type(other))),
            None => return Err("Entry is missing the expected parse_from field.".into()),
        };
        let parsed = match format {
            ContainerFormat::Docker => match serde_json::from_str::<Map<String, Json>>(&raw) {
                Ok(map) => map,
                Err(e) => return Err(format!("failed to process the docker log: {e}")),
            },
            ContainerFormat::Containerd | ContainerFormat::Crio => {
                parse_cri(&raw, format == ContainerFormat::Containerd).ok_or_else(|| {
                    if format == ContainerFormat::Containerd {
                        "failed to parse containerd log: could not parse containerd fields".to_string()
                    } else {
                        "failed to parse crio log: could not parse CRIO fields".to_string()
                    }
                })?
            }
        };
        self.fields.finish(entry, Json::Object(parsed))?;
        let layout = if format == ContainerFormat::Docker {
            &self.docker_time
        } else {
            &self.cri_time
        };
        self.map_fields(entry, layout, operator)?;
        Ok(format != ContainerFormat::Docker)
    }

    /// `time` to the timestamp, `log` to the body, `stream` to `log.iostream`, and the k8s
    /// metadata from the file path.
    fn map_fields(&self, entry: &mut Entry, layout: &[Directive], operator: &str) -> Result<(), String> {
        let time = match entry.attributes.get("time") {
            Some(Json::String(s)) => s.clone(),
            Some(other) => return Err(format!("failed to parse time: cannot parse a time from {other}")),
            None => return Err("failed to parse time: the entry has no time".into()),
        };
        entry.timestamp = Some(parse_time(layout, &time).map_err(|e| format!("failed to parse time: {e}"))?);
        entry.attributes.remove("time");
        let log = entry
            .attributes
            .remove("log")
            .ok_or_else(|| "move: field log does not exist".to_string())?;
        super::operators::Field::Body(Vec::new()).set(entry, log)?;
        let stream = entry
            .attributes
            .remove("stream")
            .ok_or_else(|| "move: field stream does not exist".to_string())?;
        entry.attributes.insert("log.iostream".into(), stream);
        if !self.add_metadata_from_filepath {
            return Ok(());
        }
        let path = match entry.attributes.get("log.file.path") {
            Some(Json::String(path)) => path.clone(),
            Some(other) => return Err(format!("type '{}' cannot be parsed as log path field", go_type(other))),
            None => {
                return Err(format!(
                    "operator '{operator}' has 'add_metadata_from_filepath' enabled, but the log record attribute 'log.file.path' is missing. Perhaps enable the 'include_file_path' option?"
                ))
            }
        };
        let metadata = parse_log_path(&path).ok_or_else(|| "failed to detect a valid log path".to_string())?;
        for (key, value) in metadata {
            entry.resource.insert(key.to_string(), Json::String(value));
        }
        Ok(())
    }
}

/// The format of a line: docker when it starts with `{`, else `<time> <stdout|stderr> ...`, which
/// is containerd when the time ends in `Z` or an offset `±hh:mm`, else cri-o.
pub fn detect_format(value: Option<&Json>) -> Result<ContainerFormat, String> {
    let raw = match value {
        Some(Json::String(s)) => s,
        Some(other) => return Err(format!("type '{}' cannot be parsed as container logs", go_type(other))),
        None => return Err("entry cannot be parsed as container logs".into()),
    };
    if raw.starts_with('{') {
        return Ok(ContainerFormat::Docker);
    }
    let (time, rest) = raw
        .split_once(' ')
        .ok_or_else(|| "could not split timestamp from log to detect format".to_string())?;
    let stream = rest.split_once(' ').map(|(s, _)| s);
    if !matches!(stream, Some("stdout") | Some("stderr")) {
        return Err("could not split stream from log to detect format".into());
    }
    Ok(if is_containerd_time(time) {
        ContainerFormat::Containerd
    } else {
        ContainerFormat::Crio
    })
}

/// `[^ Z]+(Z|[+-]\d\d:\d\d)`.
fn is_containerd_time(time: &str) -> bool {
    let prefix = if let Some(prefix) = time.strip_suffix('Z') {
        prefix
    } else {
        let bytes = time.as_bytes();
        if bytes.len() < 7 {
            return false;
        }
        let offset = &bytes[bytes.len() - 6..];
        let digits = [1, 2, 4, 5].iter().all(|i| offset[*i].is_ascii_digit());
        if !matches!(offset[0], b'+' | b'-') || offset[3] != b':' || !digits {
            return false;
        }
        &time[..time.len() - 6]
    };
    !prefix.is_empty() && !prefix.contains([' ', 'Z'])
}

/// `<time> <stdout|stderr> <logtag> <log>` into `time`, `stream`, `logtag`, `log` (containerd also
/// checks the time's form).
fn parse_cri(raw: &str, containerd: bool) -> Option<Map<String, Json>> {
    let (time, rest) = raw.split_once(' ')?;
    if containerd && !is_containerd_time(time) {
        return None;
    }
    let (stream, rest) = rest.split_once(' ')?;
    if stream != "stdout" && stream != "stderr" {
        return None;
    }
    let (logtag, log) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut map = Map::new();
    map.insert("time".into(), Json::String(time.into()));
    map.insert("stream".into(), Json::String(stream.into()));
    map.insert("logtag".into(), Json::String(logtag.into()));
    map.insert("log".into(), Json::String(log.into()));
    Some(map)
}

/// The k8s metadata in a pod log path `.../<namespace>_<pod>_<uid>/<container>/<restart>.log`
/// (or `.log.YYYYMMDD-HHMMSS`, rotated), `/` or `\` separated.
pub fn parse_log_path(path: &str) -> Option<[(&'static str, String); 5]> {
    let index = path.rfind(".log")?;
    let after = &path[index + 4..];
    let rotated = after.len() == 16
        && after.starts_with('.')
        && after[1..]
            .char_indices()
            .all(|(i, c)| if i == 8 { c == '-' } else { c.is_ascii_digit() });
    if !after.is_empty() && !rotated {
        return None;
    }
    let base = &path[..index];
    let split = |s: &str| -> Option<(usize, usize)> { s.rfind(['/', '\\']).map(|i| (i, i + 1)) };
    let (sep, start) = split(base)?;
    let restart = &base[start..];
    if restart.is_empty() || !restart.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let base = &base[..sep];
    let (sep, start) = split(base)?;
    let container = &base[start..];
    if container.is_empty() || container.contains(['.', '_']) {
        return None;
    }
    let base = &base[..sep];
    let triplet = &base[split(base)?.1..];
    let (rest, uid) = triplet.rsplit_once('_')?;
    if uid.is_empty() || !uid.bytes().all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9' | b'-')) {
        return None;
    }
    let (namespace, pod) = rest.rsplit_once('_')?;
    if namespace.is_empty() || pod.is_empty() || namespace.contains('_') {
        return None;
    }
    Some([
        ("k8s.namespace.name", namespace.to_string()),
        ("k8s.pod.name", pod.to_string()),
        ("k8s.pod.uid", uid.to_string()),
        ("k8s.container.name", container.to_string()),
        ("k8s.container.restart_count", restart.to_string()),
    ])
}

/// Go's names of the JSON types, for errors worded as the Collector's.
fn go_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "<nil>",
        Json::Bool(_) => "bool",
        Json::Number(_) => "float64",
        Json::String(_) => "string",
        Json::Array(_) => "[]interface {}",
        Json::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_from_the_line() {
        let detect = |line: &str| detect_format(Some(&Json::String(line.into())));
        assert_eq!(
            detect(r#"{"log":"x\n","stream":"stdout","time":"2024-03-30T08:31:20.545192187Z"}"#),
            Ok(ContainerFormat::Docker)
        );
        assert_eq!(
            detect("2023-06-22T10:27:25.813799277Z stdout F hello"),
            Ok(ContainerFormat::Containerd)
        );
        assert_eq!(
            detect("2024-04-13T07:59:37.505201169-05:00 stderr P hello"),
            Ok(ContainerFormat::Containerd)
        );
        assert_eq!(detect("2024-04-13T07:59:37.505201169 stdout F hello"), Ok(ContainerFormat::Crio));
        assert!(detect("plain text line").is_err());
        assert!(detect_format(Some(&Json::from(1))).is_err());
    }

    #[test]
    fn pod_log_paths_give_the_k8s_metadata() {
        let found = parse_log_path("/var/log/pods/shop_checkout-7d9f_49cc7c1f-3702-c40b/app/3.log").unwrap();
        assert_eq!(
            found.map(|(_, v)| v),
            ["shop", "checkout-7d9f", "49cc7c1f-3702-c40b", "app", "3"].map(String::from)
        );
        assert!(parse_log_path("/var/log/pods/ns_pod_49cc/app/0.log.20250219-233547").is_some());
        assert!(parse_log_path("/var/log/app/app.log").is_none());
        assert!(parse_log_path("/var/log/pods/ns_pod_UPPER/app/0.log").is_none());
    }

    #[test]
    fn cri_lines_split_into_their_four_fields() {
        let map = parse_cri("2023-06-22T10:27:25Z stdout F", true).unwrap();
        assert_eq!((map["logtag"].as_str(), map["log"].as_str()), (Some("F"), Some("")));
        let map = parse_cri("2023-06-22T10:27:25Z stdout P a  b", true).unwrap();
        assert_eq!(map["log"], "a  b");
        assert!(
            parse_cri("2023-06-22T10:27:25 stdout F x", true).is_none(),
            "containerd needs Z or an offset"
        );
    }
}
