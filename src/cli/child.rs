//! The command `otelbox run` starts: the OTEL_* environment it gets (and, when nothing arrived,
//! what in it is the likely cause), and the processes it leaves running when it exits.
//!
//! Processes left running: a worker the command forked, a helper started with `setsid`, a daemon.
//! Their telemetry still on its way is lost once the box stops, so `run` waits for them (up to
//! `--leftover-timeout`) and names those still running. On Linux `run` makes itself a child
//! subreaper (`PR_SET_CHILD_SUBREAPER`) before starting the command: whatever the command's
//! processes leave behind, even in a new session or process group, is then re-parented to `run`
//! instead of init, so its descendants in /proc are exactly what the command left. The command
//! keeps `run`'s process group (and so the terminal's signals). Elsewhere nothing is tracked.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The OTEL_* variables the command gets: the caller's; then each of `wanted` (the box's endpoint,
/// protocol and exporters) unless the caller has it, or always with `force`; then each of `quick`
/// (short SDK export delays) unless the caller has it. The SDKs' default delays (5 s for spans, 1 s
/// for logs, 60 s for metrics) hold telemetry back until exit, or past it when a process is killed,
/// and make the idle wait long.
pub fn otel_env(caller: &[(String, String)], wanted: &[(&str, &str)], force: bool, quick: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = caller.iter().filter(|(k, _)| k.starts_with("OTEL_")).cloned().collect();
    for (key, value) in wanted {
        if force || !env.contains_key(*key) {
            env.insert(key.to_string(), value.to_string());
        }
    }
    for (key, value) in quick {
        env.entry(key.to_string()).or_insert_with(|| value.to_string());
    }
    env
}

/// What to say when no telemetry arrived: the likely causes in the command's OTEL_* environment
/// `env` (the box listening at `endpoint`), that environment itself, then the usual other causes.
pub fn nothing_arrived(env: &BTreeMap<String, String>, endpoint: &str) -> String {
    let get = |key: &str| env.get(key).map(|v| v.trim().to_ascii_lowercase());
    let mut causes: Vec<String> = Vec::new();
    if get("OTEL_SDK_DISABLED").as_deref() == Some("true") {
        causes.push("OTEL_SDK_DISABLED=true turns the SDK off".into());
    }
    for signal in ["TRACES", "METRICS", "LOGS"] {
        let key = format!("OTEL_{signal}_EXPORTER");
        if let Some(value) = get(&key).filter(|v| !v.split(',').any(|e| e.trim() == "otlp")) {
            causes.push(format!("{key}={value} does not export over OTLP (--force-env sets otlp)"));
        }
        let key = format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT");
        if let Some(value) = env.get(&key) {
            causes.push(format!(
                "{key}={value} sends that signal elsewhere than the box ({endpoint}): unset it"
            ));
        }
    }
    if let Some(value) = env
        .get("OTEL_EXPORTER_OTLP_ENDPOINT")
        .filter(|v| v.trim_end_matches('/') != endpoint)
    {
        causes.push(format!(
            "OTEL_EXPORTER_OTLP_ENDPOINT={value} is the caller's, not the box's ({endpoint}): --force-env overrides it"
        ));
    }
    let json = |key: &str| get(key).as_deref() == Some("http/json");
    if json("OTEL_EXPORTER_OTLP_PROTOCOL")
        || ["TRACES", "METRICS", "LOGS"]
            .iter()
            .any(|s| json(&format!("OTEL_EXPORTER_OTLP_{s}_PROTOCOL")))
    {
        causes.push(
            "the protocol is http/json, which the Python SDK does not implement (it exports nothing, or fails to \
             start its exporter): use --protocol http/protobuf (the default) or grpc"
                .into(),
        );
    }
    if get("OTEL_TRACES_SAMPLER").as_deref() == Some("always_off") {
        causes.push("OTEL_TRACES_SAMPLER=always_off drops every span".into());
    }
    let mut out = String::from("otelbox run: no telemetry arrived.");
    if causes.is_empty() {
        out.push_str(
            " Nothing in the command's OTEL_* environment stops an SDK, so check that it has one: an SDK installed and \
             set up in code, or auto-instrumentation (Python: pip install opentelemetry-distro opentelemetry-exporter-otlp, \
             then run under opentelemetry-instrument; Node.js: NODE_OPTIONS='--require \
             @opentelemetry/auto-instrumentations-node/register'; Java: -javaagent:opentelemetry-javaagent.jar), and that \
             the process lives long enough to export (or shuts its provider down before exiting).",
        );
    } else {
        out.push_str(" Likely causes:");
        for cause in &causes {
            out.push_str(&format!("\n  - {cause}"));
        }
    }
    out.push_str("\n  The command's OTEL_* environment:");
    for (key, value) in env {
        // Headers carry tokens.
        let shown = if key.contains("HEADERS") {
            "(set, not shown)"
        } else {
            value.as_str()
        };
        out.push_str(&format!("\n    {key}={shown}"));
    }
    out
}

/// A process the command left running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leftover {
    pub pid: u32,
    /// Its command line (arguments joined by spaces), or `[name]` when it has none readable.
    pub command: String,
}

/// Become the parent of the command's orphans (Linux); false where that is not possible.
pub fn become_subreaper() -> bool {
    #[cfg(target_os = "linux")]
    {
        let (on, unused): (libc::c_ulong, libc::c_ulong) = (1, 0);
        // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and no pointers.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, on, unused, unused, unused) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// How often the wait looks again.
const POLL: Duration = Duration::from_millis(100);

/// Wait until no descendant of this process runs, for at most `limit`; the ones still running then.
/// Descendants that have exited are reaped as they are seen.
pub async fn wait_for_leftovers(limit: Duration) -> Vec<Leftover> {
    let deadline = Instant::now() + limit;
    loop {
        let left = running_descendants(true);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One line of /proc/PID/stat, read: (pid, state, parent pid). The name in parentheses may hold
/// spaces and parentheses itself, so the fields are counted from its last `)`.
fn parse_stat(stat: &str) -> Option<(u32, char, u32)> {
    let open = stat.find(" (")?;
    let close = stat.rfind(')')?;
    let pid = stat[..open].trim().parse().ok()?;
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((pid, state, ppid))
}

/// The processes below `root` in a (pid, state, parent pid) table, zombies included, in pid order.
fn below(root: u32, table: &[(u32, char, u32)]) -> Vec<(u32, char, u32)> {
    let mut found: Vec<(u32, char, u32)> = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for entry in table.iter().filter(|e| e.2 == parent && e.0 != root) {
            if !found.iter().any(|f| f.0 == entry.0) {
                found.push(*entry);
                frontier.push(entry.0);
            }
        }
    }
    found.sort_unstable();
    found
}

/// The descendants of this process that are running; with `reap`, those that have exited and are
/// its own children are reaped (only `run` may: a test binary's other children are not ours to reap).
#[cfg(target_os = "linux")]
fn running_descendants(reap: bool) -> Vec<Leftover> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let table: Vec<(u32, char, u32)> = dir
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|stat| parse_stat(&stat))
        .collect();
    let mut left = Vec::new();
    for (pid, state, ppid) in below(me, &table) {
        if state == 'Z' || state == 'X' {
            if reap && ppid == me {
                // Ours to reap (an orphan re-parented to us); the command itself was reaped already.
                let mut status = 0;
                // SAFETY: waitpid writes the exit status into a local integer.
                unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
            }
            continue;
        }
        left.push(Leftover {
            pid,
            command: command_line(pid),
        });
    }
    left
}

#[cfg(not(target_os = "linux"))]
fn running_descendants(_reap: bool) -> Vec<Leftover> {
    Vec::new()
}

/// Longest command line shown.
const MAX_COMMAND_CHARS: usize = 200;

#[cfg(target_os = "linux")]
fn command_line(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let text: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    let mut text = text.join(" ");
    if text.is_empty() {
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        text = format!("[{}]", name.trim());
    }
    if text.chars().count() > MAX_COMMAND_CHARS {
        text = text.chars().take(MAX_COMMAND_CHARS).collect::<String>() + "...";
    }
    text
}

/// What `run` prints about the processes still running.
pub fn describe(left: &[Leftover], waited: Duration) -> String {
    let mut out = format!(
        "otelbox run: {} process(es) the command started {} still running {waited:?} after it exited; telemetry they send \
         after the box stops is lost (make the command wait for them, or raise --leftover-timeout):",
        left.len(),
        if left.len() == 1 { "is" } else { "are" }
    );
    for l in left {
        out.push_str(&format!("\n  pid {}: {}", l.pid, l.command));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const WANTED: [(&str, &str); 2] = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        ("OTEL_TRACES_EXPORTER", "otlp"),
    ];
    const QUICK: [(&str, &str); 1] = [("OTEL_BSP_SCHEDULE_DELAY", "200")];

    #[test]
    fn the_callers_variables_win_unless_forced() {
        let caller = env(&[
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_BSP_SCHEDULE_DELAY", "5000"),
            ("PATH", "/bin"),
        ]);
        let got = otel_env(&caller, &WANTED, false, &QUICK);
        assert_eq!(got["OTEL_TRACES_EXPORTER"], "none");
        assert_eq!(got["OTEL_BSP_SCHEDULE_DELAY"], "5000");
        assert_eq!(got["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://127.0.0.1:4318");
        assert!(!got.contains_key("PATH"));
        let forced = otel_env(&caller, &WANTED, true, &QUICK);
        assert_eq!(forced["OTEL_TRACES_EXPORTER"], "otlp");
        // The delays are the caller's choice even then.
        assert_eq!(forced["OTEL_BSP_SCHEDULE_DELAY"], "5000");
        assert_eq!(otel_env(&[], &WANTED, false, &QUICK)["OTEL_BSP_SCHEDULE_DELAY"], "200");
    }

    #[test]
    fn nothing_arrived_names_the_likely_causes_and_the_environment() {
        let endpoint = "http://127.0.0.1:4318";
        let clean = otel_env(&[], &WANTED, false, &QUICK);
        let hint = nothing_arrived(&clean, endpoint);
        assert!(
            hint.contains("opentelemetry-instrument") && !hint.contains("Likely causes"),
            "{hint}"
        );
        assert!(hint.contains("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318"), "{hint}");
        let caller = env(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://collector:4318/v1/logs"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer secret"),
        ]);
        let hint = nothing_arrived(&otel_env(&caller, &WANTED, false, &QUICK), endpoint);
        for expected in [
            "OTEL_SDK_DISABLED=true",
            "OTEL_TRACES_EXPORTER=console",
            "http/json, which the Python SDK",
            "OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 is the caller's",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=",
            "OTEL_EXPORTER_OTLP_HEADERS=(set, not shown)",
        ] {
            assert!(hint.contains(expected), "{expected}: {hint}");
        }
        assert!(!hint.contains("secret"), "{hint}");
    }

    #[test]
    fn stat_lines_with_odd_names() {
        assert_eq!(parse_stat("42 (python3) S 7 42 42 0 -1"), Some((42, 'S', 7)));
        assert_eq!(parse_stat("43 (a (weird) name) Z 42 1 1"), Some((43, 'Z', 42)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn descendants_are_found_through_every_generation() {
        // 10 is us; 11 our child, 12 its child, 13 a zombie child of ours; 20 someone else's.
        let table = [
            (1, 'S', 0),
            (10, 'S', 1),
            (11, 'S', 10),
            (12, 'R', 11),
            (13, 'Z', 10),
            (20, 'S', 1),
            (21, 'S', 20),
        ];
        let pids: Vec<u32> = below(10, &table).iter().map(|e| e.0).collect();
        assert_eq!(pids, [11, 12, 13]);
        assert!(below(12, &table).is_empty());
    }

    /// A process this one started and that still runs is found with its command line; once it has
    /// exited (and been reaped) it is not.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_running_child_is_a_leftover_until_it_exits() {
        let mut child = std::process::Command::new("sleep").arg("0.3").spawn().unwrap();
        let left = running_descendants(false);
        let found = left.iter().find(|l| l.pid == child.id()).expect("the child is listed");
        assert_eq!(found.command, "sleep 0.3");
        child.wait().unwrap();
        assert!(running_descendants(false).iter().all(|l| l.pid != child.id()));
    }
}
