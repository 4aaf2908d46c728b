//! The `cpu` scraper: the seconds each logical CPU spent in each state, from the `cpuN` lines of
//! /proc/stat (ticks of USER_HZ), with the Collector's state names: user, system, idle, interrupt
//! (irq), nice, softirq, steal, wait (iowait). Optional: `system.cpu.utilization` (each state's share
//! of the time since the previous scrape, from the second scrape on) and `system.cpu.logical.count`.

use super::{Catalog, Emit, HostRoot, MetricDef, MetricKind, Point};

const TIME: MetricDef = MetricDef {
    name: "system.cpu.time",
    unit: "s",
    description: "Seconds each logical CPU spent in each state since boot.",
    kind: MetricKind::Counter,
    default: true,
};
const UTILIZATION: MetricDef = MetricDef {
    name: "system.cpu.utilization",
    unit: "1",
    description: "Share of the time since the previous scrape each logical CPU spent in each state (0 to 1).",
    kind: MetricKind::Gauge,
    default: false,
};
const LOGICAL_COUNT: MetricDef = MetricDef {
    name: "system.cpu.logical.count",
    unit: "{cpu}",
    description: "Logical CPUs online.",
    kind: MetricKind::UpDownCounter,
    default: false,
};

pub(super) static CATALOG: Catalog = Catalog {
    emits: &[TIME, UTILIZATION, LOGICAL_COUNT],
    not_yet: &["system.cpu.frequency", "system.cpu.physical.count"],
};

/// Seconds one logical CPU spent in each state since boot.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct CpuTimes {
    /// `cpu0`, `cpu1`...: the attribute value the Collector gives.
    pub(super) cpu: String,
    pub(super) user: f64,
    pub(super) nice: f64,
    pub(super) system: f64,
    pub(super) idle: f64,
    pub(super) iowait: f64,
    pub(super) irq: f64,
    pub(super) softirq: f64,
    pub(super) steal: f64,
}

impl CpuTimes {
    /// The Collector's states and their seconds, in the order it records them.
    fn states(&self) -> [(&'static str, f64); 8] {
        [
            ("user", self.user),
            ("system", self.system),
            ("idle", self.idle),
            ("interrupt", self.irq),
            ("nice", self.nice),
            ("softirq", self.softirq),
            ("steal", self.steal),
            ("wait", self.iowait),
        ]
    }

    fn total(&self) -> f64 {
        self.states().iter().map(|(_, seconds)| seconds).sum()
    }
}

/// The per-CPU lines of /proc/stat (the aggregate `cpu` line is left out, as the Collector does),
/// ticks divided by `ticks_per_second`. Kernels before 2.6.11 lack the later columns: they count 0.
pub(super) fn parse_stat(text: &str, ticks_per_second: f64) -> Result<Vec<CpuTimes>, String> {
    let mut cpus = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(name) = fields.next() else { continue };
        let Some(number) = name.strip_prefix("cpu") else { continue };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let mut ticks = [0u64; 8];
        let mut columns = 0;
        for (slot, field) in ticks.iter_mut().zip(fields) {
            *slot = field
                .parse::<u64>()
                .map_err(|_| format!("{name}: '{field}' is not a count of ticks"))?;
            columns += 1;
        }
        if columns < 4 {
            return Err(format!("{name}: expected at least 4 columns of ticks, got {columns}"));
        }
        let seconds = |i: usize| ticks[i] as f64 / ticks_per_second;
        cpus.push(CpuTimes {
            cpu: name.to_string(),
            user: seconds(0),
            nice: seconds(1),
            system: seconds(2),
            idle: seconds(3),
            iowait: seconds(4),
            irq: seconds(5),
            softirq: seconds(6),
            steal: seconds(7),
        });
    }
    if cpus.is_empty() {
        return Err("no cpuN lines".to_string());
    }
    Ok(cpus)
}

/// The host's boot time in Unix nanoseconds, from the `btime` line of /proc/stat.
pub(super) fn boot_time_ns(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|seconds| seconds.trim().parse::<u64>().ok())
        .map(|seconds| seconds.saturating_mul(1_000_000_000))
}

/// Each state's share of the time each CPU spent between two scrapes; CPUs that came online in
/// between have no share yet.
fn utilization(before: &[CpuTimes], now: &[CpuTimes]) -> Vec<Point> {
    let mut points = Vec::new();
    for cpu in now {
        let Some(earlier) = before.iter().find(|c| c.cpu == cpu.cpu) else {
            continue;
        };
        let elapsed = cpu.total() - earlier.total();
        for ((state, seconds), (_, earlier_seconds)) in cpu.states().into_iter().zip(earlier.states()) {
            let share = if elapsed > 0.0 {
                ((seconds - earlier_seconds) / elapsed).clamp(0.0, 1.0)
            } else {
                0.0
            };
            points.push(Point::double(share, &[("cpu", cpu.cpu.as_str()), ("state", state)]));
        }
    }
    points
}

/// USER_HZ, the unit of /proc/stat's times (100 on every common Linux).
pub(super) fn ticks_per_second() -> f64 {
    #[cfg(unix)]
    {
        // SAFETY: sysconf only reads a configuration value.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if ticks > 0 {
            return ticks as f64;
        }
    }
    100.0
}

/// `before`: the previous scrape's times (for utilization), replaced by this one's.
pub(super) fn scrape(root: &HostRoot, out: &mut Emit<'_>, before: &mut Option<Vec<CpuTimes>>) {
    let times = match root.parse_proc("stat", |text| parse_stat(text, ticks_per_second())) {
        Ok(times) => times,
        Err(error) => return out.error(error),
    };
    let mut points = Vec::with_capacity(times.len() * 8);
    for cpu in &times {
        for (state, seconds) in cpu.states() {
            points.push(Point::double(seconds, &[("cpu", cpu.cpu.as_str()), ("state", state)]));
        }
    }
    out.push(&TIME, points);
    if let Some(earlier) = before.as_deref() {
        if out.wants(&UTILIZATION) {
            out.push(&UTILIZATION, utilization(earlier, &times));
        }
    }
    out.push(&LOGICAL_COUNT, vec![Point::int(times.len() as u64, &[])]);
    *before = Some(times);
}

/// /proc/stat of a two-CPU host (captured, the interrupt counts shortened).
#[cfg(test)]
pub(super) const GOLDEN_STAT: &str = "\
cpu  1852223 1220 363133 3706242 23020 0 3865 2319 0 0
cpu0 822076 590 157255 1985848 7610 0 869 1116 0 0
cpu1 1030146 630 205877 1720393 15409 0 2996 1202 0 0
intr 20894288 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 1 2 0 0 1 1 5978 36204
ctxt 27444174
btime 1700000000
processes 585811
procs_running 3
procs_blocked 1
softirq 8657198 0 1233210 4 1016881 1746716 0 1037 1842560 106900 2709890
";

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::ScraperKind;
    use super::*;

    #[test]
    fn per_cpu_lines_become_seconds_and_the_aggregate_line_is_left_out() {
        let cpus = parse_stat(GOLDEN_STAT, 100.0).unwrap();
        assert_eq!(cpus.len(), 2);
        assert_eq!(
            cpus[1],
            CpuTimes {
                cpu: "cpu1".into(),
                user: 10301.46,
                nice: 6.3,
                system: 2058.77,
                idle: 17203.93,
                iowait: 154.09,
                irq: 0.0,
                softirq: 29.96,
                steal: 12.02,
            }
        );
    }

    #[test]
    fn an_old_kernels_short_lines_count_the_missing_states_as_zero() {
        let cpus = parse_stat("cpu  10 0 5 100\ncpu0 10 0 5 100\n", 100.0).unwrap();
        assert_eq!(cpus[0].idle, 1.0);
        assert_eq!((cpus[0].iowait, cpus[0].steal), (0.0, 0.0));
    }

    #[test]
    fn a_stat_without_cpu_lines_or_with_garbage_is_an_error_not_a_panic() {
        assert!(parse_stat("intr 1 2 3\nbtime 5\n", 100.0).is_err());
        assert!(parse_stat("cpu0 1 2 x 4\n", 100.0).unwrap_err().contains("'x'"));
        assert!(parse_stat("cpu0 1 2\n", 100.0).unwrap_err().contains("at least 4"));
        assert!(parse_stat("cpufreq 1 2 3 4\n", 100.0).is_err(), "only cpuN lines count");
    }

    #[test]
    fn boot_time_comes_from_btime() {
        assert_eq!(boot_time_ns(GOLDEN_STAT), Some(1_700_000_000_000_000_000));
        assert_eq!(boot_time_ns("cpu0 1 2 3 4\n"), None);
    }

    #[test]
    fn cpu_time_has_eight_states_per_cpu_with_the_collectors_names_and_shape() {
        let dir = fake_root(&[("proc/stat", GOLDEN_STAT)]);
        let root = host_root(dir.path());
        let mut before = None;
        let enabled = defaults_of(ScraperKind::Cpu);
        let (metrics, errors) = scrape_with(&enabled, |out| scrape(&root, out, &mut before));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(metrics.len(), 1);
        let time = &metrics[0];
        assert_eq!((time.name.as_str(), time.unit.as_str()), ("system.cpu.time", "s"));
        assert_eq!(sum_shape(time), Some((true, true)), "a cumulative monotonic sum");
        assert_eq!(points(time).len(), 16);
        assert_eq!(keys(&points(time)[0]), ["cpu", "state"]);
        let tps = ticks_per_second();
        let wait = value_of(&metrics, "system.cpu.time", &[("cpu", "cpu0"), ("state", "wait")]);
        assert!(approx(wait, 7610.0 / tps));
        let interrupt = value_of(&metrics, "system.cpu.time", &[("cpu", "cpu1"), ("state", "interrupt")]);
        assert_eq!(interrupt, 0.0);
        assert!(before.is_some(), "kept for the next scrape's utilization");
    }

    #[test]
    fn utilization_is_each_states_share_of_the_elapsed_cpu_time() {
        let before = parse_stat("cpu0 100 0 100 800 0 0 0 0\ncpu1 0 0 0 1000 0 0 0 0\n", 100.0).unwrap();
        let now = parse_stat("cpu0 150 0 150 900 0 0 0 0\ncpu1 0 0 0 1000 0 0 0 0\ncpu2 5 5 5 5\n", 100.0).unwrap();
        let points = utilization(&before, &now);
        assert_eq!(points.len(), 16, "cpu2 came online in between: no share yet");
        let share = |cpu: &str, state: &str| {
            let attrs = string_attrs(&[("cpu", cpu), ("state", state)]);
            points.iter().find(|p| p.attributes == attrs).map(|p| p.value)
        };
        use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
        assert_eq!(share("cpu0", "user"), Some(Value::AsDouble(0.25)));
        assert_eq!(share("cpu0", "idle"), Some(Value::AsDouble(0.5)));
        assert_eq!(share("cpu1", "idle"), Some(Value::AsDouble(0.0)), "no time elapsed: 0, not NaN");
    }

    fn string_attrs(pairs: &[(&str, &str)]) -> Vec<opentelemetry_proto::tonic::common::v1::KeyValue> {
        super::super::string_attributes(pairs)
    }
}
