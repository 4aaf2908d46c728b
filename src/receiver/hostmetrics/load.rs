//! The `load` scraper: the 1, 5 and 15 minute load averages from /proc/loadavg, divided by the
//! number of logical CPUs with `cpu_average: true` (as the Collector: the CPUs this process may run
//! on).

use super::{Catalog, Emit, HostRoot, MetricDef, MetricKind, Point};

const ONE_MINUTE: MetricDef = MetricDef {
    name: "system.cpu.load_average.1m",
    unit: "{thread}",
    description: "Average number of threads running or waiting to run over the last minute.",
    kind: MetricKind::Gauge,
    default: true,
};
const FIVE_MINUTES: MetricDef = MetricDef {
    name: "system.cpu.load_average.5m",
    unit: "{thread}",
    description: "Average number of threads running or waiting to run over the last 5 minutes.",
    kind: MetricKind::Gauge,
    default: true,
};
const FIFTEEN_MINUTES: MetricDef = MetricDef {
    name: "system.cpu.load_average.15m",
    unit: "{thread}",
    description: "Average number of threads running or waiting to run over the last 15 minutes.",
    kind: MetricKind::Gauge,
    default: true,
};

pub(super) static CATALOG: Catalog = Catalog {
    emits: &[ONE_MINUTE, FIVE_MINUTES, FIFTEEN_MINUTES],
    not_yet: &[],
};

/// /proc/loadavg: `0.45 1.03 1.20 3/118 1536`.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct LoadAvg {
    pub(super) one: f64,
    pub(super) five: f64,
    pub(super) fifteen: f64,
    /// The scheduling entities (threads) that exist: the number after the slash.
    pub(super) entities: u64,
}

pub(super) fn parse_loadavg(text: &str) -> Result<LoadAvg, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() < 4 {
        return Err(format!("expected at least 4 fields, got {}", fields.len()));
    }
    let average = |i: usize| {
        fields[i]
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("'{}' is not a load average", fields[i]))
    };
    let entities = fields[3]
        .split_once('/')
        .and_then(|(_, total)| total.parse::<u64>().ok())
        .ok_or_else(|| format!("'{}' is not running/total", fields[3]))?;
    Ok(LoadAvg {
        one: average(0)?,
        five: average(1)?,
        fifteen: average(2)?,
        entities,
    })
}

pub(super) fn scrape(root: &HostRoot, out: &mut Emit<'_>, cpu_average: bool) {
    let load = match root.parse_proc("loadavg", parse_loadavg) {
        Ok(load) => load,
        Err(error) => return out.error(error),
    };
    let divisor = if cpu_average {
        std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
    } else {
        1.0
    };
    out.push(&ONE_MINUTE, vec![Point::double(load.one / divisor, &[])]);
    out.push(&FIVE_MINUTES, vec![Point::double(load.five / divisor, &[])]);
    out.push(&FIFTEEN_MINUTES, vec![Point::double(load.fifteen / divisor, &[])]);
}

#[cfg(test)]
pub(super) const GOLDEN_LOADAVG: &str = "0.45 1.03 1.20 3/118 1536\n";

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::ScraperKind;
    use super::*;

    #[test]
    fn loadavg_gives_the_three_averages_and_the_number_of_threads() {
        assert_eq!(
            parse_loadavg(GOLDEN_LOADAVG).unwrap(),
            LoadAvg {
                one: 0.45,
                five: 1.03,
                fifteen: 1.2,
                entities: 118,
            }
        );
        assert!(parse_loadavg("0.1 0.2\n").is_err());
        assert!(parse_loadavg("0.1 x 0.3 1/2 3\n").unwrap_err().contains("'x'"));
        assert!(parse_loadavg("0.1 0.2 0.3 12 3\n").unwrap_err().contains("running/total"));
    }

    #[test]
    fn the_averages_are_double_gauges_divided_by_the_cpus_with_cpu_average() {
        let dir = fake_root(&[("proc/loadavg", GOLDEN_LOADAVG)]);
        let root = host_root(dir.path());
        let enabled = defaults_of(ScraperKind::Load);
        let (metrics, errors) = scrape_with(&enabled, |out| scrape(&root, out, false));
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "system.cpu.load_average.1m",
                "system.cpu.load_average.5m",
                "system.cpu.load_average.15m"
            ]
        );
        assert!(metrics.iter().all(|m| sum_shape(m).is_none() && m.unit == "{thread}"));
        assert_eq!(value_of(&metrics, "system.cpu.load_average.15m", &[]), 1.2);

        let (averaged, _) = scrape_with(&enabled, |out| scrape(&root, out, true));
        let cpus = std::thread::available_parallelism().unwrap().get() as f64;
        assert!(approx(value_of(&averaged, "system.cpu.load_average.5m", &[]), 1.03 / cpus));
    }
}
