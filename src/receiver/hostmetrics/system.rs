//! The `system` scraper: `system.uptime`, the seconds since boot, from the first number of
//! /proc/uptime (under `root_path`). As the Collector (whose gopsutil reads the same clock through
//! `sysinfo`), whole seconds, as a double gauge starting at boot; it is the scraper's only metric.

use super::{Catalog, Emit, HostRoot, MetricDef, MetricKind, Point};

const UPTIME: MetricDef = MetricDef {
    name: "system.uptime",
    unit: "s",
    description: "The time the system has been running",
    kind: MetricKind::Gauge,
    default: true,
};

pub(super) static CATALOG: Catalog = Catalog {
    emits: &[UPTIME],
    not_yet: &[],
};

/// /proc/uptime: `39489.33 50125.13`, the seconds since boot and the CPUs' idle seconds.
pub(super) fn parse_uptime(text: &str) -> Result<f64, String> {
    let first = text.split_whitespace().next().ok_or("empty")?;
    first
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .ok_or_else(|| format!("'{first}' is not a number of seconds"))
}

pub(super) fn scrape(root: &HostRoot, out: &mut Emit<'_>) {
    match root.parse_proc("uptime", parse_uptime) {
        Ok(seconds) => out.push(&UPTIME, vec![Point::double(seconds.trunc(), &[])]),
        Err(error) => out.error(error),
    }
}

#[cfg(test)]
pub(super) const GOLDEN_UPTIME: &str = "39489.33 50125.13\n";

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::ScraperKind;
    use super::*;

    #[test]
    fn uptime_is_the_first_number_of_proc_uptime() {
        assert_eq!(parse_uptime(GOLDEN_UPTIME), Ok(39489.33));
        assert!(parse_uptime("").is_err());
        assert!(parse_uptime("soon 1.0").unwrap_err().contains("'soon'"));
    }

    #[test]
    fn system_uptime_is_a_gauge_of_whole_seconds_since_boot() {
        let dir = fake_root(&[("proc/uptime", GOLDEN_UPTIME)]);
        let root = host_root(dir.path());
        let (metrics, errors) = scrape_with(&defaults_of(ScraperKind::System), |out| scrape(&root, out));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(metrics.len(), 1);
        let uptime = &metrics[0];
        assert_eq!(
            (uptime.name.as_str(), uptime.unit.as_str(), uptime.description.as_str()),
            ("system.uptime", "s", "The time the system has been running")
        );
        assert!(sum_shape(uptime).is_none(), "a gauge");
        assert!(!is_int(&points(uptime)[0]));
        assert_eq!(value_of(&metrics, "system.uptime", &[]), 39489.0);

        let (_, errors) = scrape_with(&defaults_of(ScraperKind::System), |out| {
            scrape(&host_root(std::path::Path::new("/nonexistent")), out)
        });
        assert!(errors[0].contains("uptime"), "{errors:?}");
    }
}
