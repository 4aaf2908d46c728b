//! The `processes` scraper: processes by status and processes created since boot, counted as the
//! Collector does on Linux. Each process's state letter (from `/proc/<pid>/stat`) gives its status;
//! then the kernel's own counts of runnable and blocked tasks (`procs_running`, `procs_blocked` in
//! /proc/stat, a single read that does not race exits) replace `running` and `blocked`, and what the
//! kernel counts beyond the statuses known (the tasks of /proc/loadavg) is `unknown`. `created` is
//! the `processes` line of /proc/stat.

use super::load::parse_loadavg;
use super::{Catalog, Emit, HostRoot, MetricDef, MetricKind, Point};
use std::collections::BTreeMap;

const COUNT: MetricDef = MetricDef {
    name: "system.processes.count",
    unit: "{processes}",
    description: "Processes in each status.",
    kind: MetricKind::UpDownCounter,
    default: true,
};
const CREATED: MetricDef = MetricDef {
    name: "system.processes.created",
    unit: "{processes}",
    description: "Processes created since boot.",
    kind: MetricKind::Counter,
    default: true,
};

pub(super) static CATALOG: Catalog = Catalog {
    emits: &[COUNT, CREATED],
    not_yet: &[],
};

/// The process counters of /proc/stat.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct StatCounters {
    /// `processes`: forks since boot.
    pub(super) created: u64,
    /// `procs_running`: runnable tasks.
    pub(super) running: u64,
    /// `procs_blocked`: tasks waiting for I/O.
    pub(super) blocked: u64,
}

pub(super) fn parse_stat_counters(text: &str) -> Result<StatCounters, String> {
    let mut counters = StatCounters::default();
    let mut created = None;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(value)) = (fields.next(), fields.next().and_then(|v| v.parse::<u64>().ok())) else {
            continue;
        };
        match name {
            "processes" => created = Some(value),
            "procs_running" => counters.running = value,
            "procs_blocked" => counters.blocked = value,
            _ => {}
        }
    }
    counters.created = created.ok_or("no processes line")?;
    Ok(counters)
}

/// The state letter of a `/proc/<pid>/stat`: the field after the command name, which is in
/// parentheses and may itself hold spaces and parentheses.
pub(super) fn process_state(stat: &str) -> Option<char> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.trim_start().chars().next()
}

/// The Collector's status of a state letter (gopsutil's reading of them).
pub(super) fn status_of(state: char) -> &'static str {
    match state {
        'R' => "running",
        'S' => "sleeping",
        'D' | 'U' => "blocked",
        'T' | 't' => "stopped",
        'Z' => "zombies",
        'I' => "idle",
        'W' => "paging",
        'L' => "locked",
        'A' => "daemon",
        'E' => "detached",
        'O' => "orphan",
        'Y' => "system",
        _ => "unknown",
    }
}

/// Processes by status: the scanned `states`, with `running` and `blocked` from the kernel's
/// counters and the kernel's tasks beyond the statuses counted added to `unknown`.
pub(super) fn count_by_status(states: &[char], counters: &StatCounters, tasks: u64) -> BTreeMap<&'static str, u64> {
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    for state in states {
        *counts.entry(status_of(*state)).or_insert(0) += 1;
    }
    counts.insert("running", counters.running);
    counts.insert("blocked", counters.blocked);
    let counted: u64 = counts.values().sum();
    if tasks > counted {
        *counts.entry("unknown").or_insert(0) += tasks - counted;
    }
    counts
}

/// The state of every process in `<root>/proc`; one that exits while being read is not counted.
fn process_states(root: &HostRoot) -> Result<Vec<char>, String> {
    let dir = root.proc_path("");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut states = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name
            .to_str()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        if let Some(state) = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|stat| process_state(&stat))
        {
            states.push(state);
        }
    }
    Ok(states)
}

pub(super) fn scrape(root: &HostRoot, out: &mut Emit<'_>) {
    let counters = match root.parse_proc("stat", parse_stat_counters) {
        Ok(counters) => counters,
        Err(error) => return out.error(error),
    };
    if out.wants(&COUNT) {
        let counted = process_states(root).and_then(|states| {
            let load = root.parse_proc("loadavg", parse_loadavg)?;
            Ok(count_by_status(&states, &counters, load.entities))
        });
        match counted {
            Ok(counts) => out.push(
                &COUNT,
                counts
                    .into_iter()
                    .map(|(status, count)| Point::int(count, &[("status", status)]))
                    .collect(),
            ),
            Err(error) => out.error(error),
        }
    }
    out.push(&CREATED, vec![Point::int(counters.created, &[])]);
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{cpu, load, ScraperKind};
    use super::*;

    #[test]
    fn the_process_counters_of_proc_stat_are_read() {
        assert_eq!(
            parse_stat_counters(cpu::GOLDEN_STAT).unwrap(),
            StatCounters {
                created: 585811,
                running: 3,
                blocked: 1,
            }
        );
        assert!(parse_stat_counters("cpu0 1 2 3 4\n").unwrap_err().contains("processes"));
    }

    #[test]
    fn the_state_is_read_after_a_command_name_with_spaces_and_parentheses() {
        assert_eq!(process_state("1 (systemd) S 0 1 1 0 -1"), Some('S'));
        assert_eq!(process_state("4242 (my (odd) ) name) D 1 2"), Some('D'));
        assert_eq!(process_state("7 (kworker/0:1-events) I 2 0"), Some('I'));
        assert_eq!(process_state("garbage"), None);
        assert_eq!(process_state("9 (cut off)"), None);
    }

    #[test]
    fn statuses_take_running_and_blocked_from_the_kernel_and_the_rest_of_its_tasks_as_unknown() {
        let counters = StatCounters {
            created: 10,
            running: 2,
            blocked: 1,
        };
        let counts = count_by_status(&['S', 'S', 'R', 'Z', 'D', 'X', 'I'], &counters, 12);
        let expected: BTreeMap<&str, u64> = [
            ("sleeping", 2),
            ("running", 2),
            ("zombies", 1),
            ("blocked", 1),
            ("unknown", 5),
            ("idle", 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            counts, expected,
            "X (dead) is unknown, and the 12 tasks less the 8 counted add 4 more"
        );
        let few = count_by_status(&['S'], &counters, 0);
        assert_eq!(few.get("unknown"), None, "nothing beyond what was counted");
    }

    #[test]
    fn processes_are_counted_by_status_and_creations_since_boot() {
        let dir = fake_root(&[
            ("proc/stat", cpu::GOLDEN_STAT),
            ("proc/loadavg", load::GOLDEN_LOADAVG),
            ("proc/1/stat", "1 (init) S 0 1 1 0 -1\n"),
            ("proc/42/stat", "42 (my (odd) name) Z 1 42 42 0 -1\n"),
            ("proc/43/stat", "43 (worker) T 2 0 0 0 -1\n"),
            ("proc/self/stat", "99 (me) R 1 99 99\n"),
            ("proc/net/dev", "not a process"),
        ]);
        let root = host_root(dir.path());
        let (metrics, errors) = scrape_with(&defaults_of(ScraperKind::Processes), |out| scrape(&root, out));
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["system.processes.count", "system.processes.created"]);
        assert_eq!(sum_shape(&metrics[0]), Some((false, true)));
        assert_eq!(sum_shape(&metrics[1]), Some((true, true)));
        assert_eq!(keys(&points(&metrics[0])[0]), ["status"]);
        let count = |status: &str| value_of(&metrics, "system.processes.count", &[("status", status)]);
        assert_eq!((count("sleeping"), count("zombies"), count("stopped")), (1.0, 1.0, 1.0));
        assert_eq!(
            (count("running"), count("blocked")),
            (3.0, 1.0),
            "from procs_running and procs_blocked"
        );
        assert_eq!(count("unknown"), 118.0 - 7.0, "loadavg's 118 tasks less the 7 counted");
        assert_eq!(value_of(&metrics, "system.processes.created", &[]), 585811.0);
    }
}
