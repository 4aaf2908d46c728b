//! The `paging` scraper: swap space used and free per swap device (/proc/swaps), and the paging
//! counters of /proc/vmstat: operations (`major`: pages swapped in and out, `pswpin`/`pswpout`;
//! `minor`: pages paged in and out, `pgpgin`/`pgpgout`) and faults (`major`: `pgmajfault`, `minor`:
//! the other `pgfault`s). The Collector's gopsutil multiplies these counts by 4096 on Linux; otelbox
//! reports the kernel's counts, which is what the `{operations}` and `{faults}` units say.

use super::{unescape_octal, Catalog, Emit, HostRoot, MetricDef, MetricKind, Point};

const USAGE: MetricDef = MetricDef {
    name: "system.paging.usage",
    unit: "By",
    description: "Bytes of swap space used and free on each swap device.",
    kind: MetricKind::UpDownCounter,
    default: true,
};
const OPERATIONS: MetricDef = MetricDef {
    name: "system.paging.operations",
    unit: "{operations}",
    description: "Pages swapped (major) and paged (minor) in and out.",
    kind: MetricKind::Counter,
    default: true,
};
const FAULTS: MetricDef = MetricDef {
    name: "system.paging.faults",
    unit: "{faults}",
    description: "Page faults that needed I/O (major) and that did not (minor).",
    kind: MetricKind::Counter,
    default: true,
};
const UTILIZATION: MetricDef = MetricDef {
    name: "system.paging.utilization",
    unit: "1",
    description: "Share of each swap device used and free (0 to 1).",
    kind: MetricKind::Gauge,
    default: false,
};

pub(super) static CATALOG: Catalog = Catalog {
    emits: &[USAGE, OPERATIONS, FAULTS, UTILIZATION],
    not_yet: &[],
};

/// One swap device of /proc/swaps, in bytes.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SwapDevice {
    pub(super) device: String,
    pub(super) total: u64,
    pub(super) used: u64,
}

impl SwapDevice {
    fn free(&self) -> u64 {
        self.total.saturating_sub(self.used)
    }
}

/// A header naming the columns (`Filename Type Size Used Priority`), then a device a line,
/// sizes in KiB.
pub(super) fn parse_swaps(text: &str) -> Result<Vec<SwapDevice>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("the file is empty")?.split_whitespace().collect();
    if header.first() != Some(&"Filename") {
        return Err(format!("expected a header starting with Filename, got '{}'", header.join(" ")));
    }
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("no {name} column in the header"))
    };
    let (size_column, used_column) = (column("Size")?, column("Used")?);
    let mut devices = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let kib = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .ok_or_else(|| format!("'{}': expected a size in KiB in column {}", line.trim(), i + 1))
        };
        let (total, used) = (kib(size_column)?, kib(used_column)?);
        devices.push(SwapDevice {
            device: unescape_octal(fields[0]),
            total: total.saturating_mul(1024),
            used: used.saturating_mul(1024),
        });
    }
    Ok(devices)
}

/// The paging counters of /proc/vmstat (each 0 when absent).
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct VmStat {
    pub(super) swapped_in: u64,
    pub(super) swapped_out: u64,
    pub(super) paged_in: u64,
    pub(super) paged_out: u64,
    pub(super) faults: u64,
    pub(super) major_faults: u64,
}

pub(super) fn parse_vmstat(text: &str) -> VmStat {
    let mut stat = VmStat::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(value)) = (fields.next(), fields.next().and_then(|v| v.parse::<u64>().ok())) else {
            continue;
        };
        let slot = match name {
            "pswpin" => &mut stat.swapped_in,
            "pswpout" => &mut stat.swapped_out,
            "pgpgin" => &mut stat.paged_in,
            "pgpgout" => &mut stat.paged_out,
            "pgfault" => &mut stat.faults,
            "pgmajfault" => &mut stat.major_faults,
            _ => continue,
        };
        *slot = value;
    }
    stat
}

pub(super) fn scrape(root: &HostRoot, out: &mut Emit<'_>) {
    match root.parse_proc("swaps", parse_swaps) {
        Ok(devices) => {
            let mut usage = Vec::with_capacity(devices.len() * 2);
            let mut utilization = Vec::with_capacity(devices.len() * 2);
            for swap in &devices {
                let device = swap.device.as_str();
                usage.push(Point::int(swap.used, &[("device", device), ("state", "used")]));
                usage.push(Point::int(swap.free(), &[("device", device), ("state", "free")]));
                if swap.total > 0 {
                    let total = swap.total as f64;
                    utilization.push(Point::double(swap.used as f64 / total, &[("device", device), ("state", "used")]));
                    utilization.push(Point::double(swap.free() as f64 / total, &[("device", device), ("state", "free")]));
                }
            }
            out.push(&USAGE, usage);
            out.push(&UTILIZATION, utilization);
        }
        Err(error) => out.error(error),
    }
    match root.parse_proc("vmstat", |text| Ok(parse_vmstat(text))) {
        Ok(stat) => {
            out.push(
                &OPERATIONS,
                vec![
                    Point::int(stat.swapped_in, &[("direction", "page_in"), ("type", "major")]),
                    Point::int(stat.swapped_out, &[("direction", "page_out"), ("type", "major")]),
                    Point::int(stat.paged_in, &[("direction", "page_in"), ("type", "minor")]),
                    Point::int(stat.paged_out, &[("direction", "page_out"), ("type", "minor")]),
                ],
            );
            out.push(
                &FAULTS,
                vec![
                    Point::int(stat.major_faults, &[("type", "major")]),
                    Point::int(stat.faults.saturating_sub(stat.major_faults), &[("type", "minor")]),
                ],
            );
        }
        Err(error) => out.error(error),
    }
}

/// /proc/swaps with a zram device and a swap file whose name has a space.
#[cfg(test)]
pub(super) const GOLDEN_SWAPS: &str = "\
Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority
/dev/zram0                              partition\t8388604\t\t1024\t\t100
/swap\\040file                           file\t\t2097148\t\t0\t\t-2
";

/// /proc/vmstat (captured, shortened).
#[cfg(test)]
pub(super) const GOLDEN_VMSTAT: &str = "\
nr_free_pages 2316614
nr_zone_inactive_anon 14397
pgpgin 108814493
pgpgout 634943008
pswpin 12
pswpout 34
pgalloc_normal 1161224578
pgfault 760839377
pgmajfault 184499
";

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::ScraperKind;
    use super::*;

    #[test]
    fn swaps_are_read_by_column_name_in_bytes() {
        let devices = parse_swaps(GOLDEN_SWAPS).unwrap();
        assert_eq!(
            devices,
            [
                SwapDevice {
                    device: "/dev/zram0".into(),
                    total: 8388604 * 1024,
                    used: 1024 * 1024,
                },
                SwapDevice {
                    device: "/swap file".into(),
                    total: 2097148 * 1024,
                    used: 0,
                },
            ]
        );
        assert!(parse_swaps("Filename Type Size Used Priority\n").unwrap().is_empty());
        assert!(parse_swaps("").is_err());
        assert!(parse_swaps("Name Size Used\n").unwrap_err().contains("Filename"));
        assert!(parse_swaps("Filename Type Size Used\n/dev/sda2 partition big 0\n")
            .unwrap_err()
            .contains("KiB"));
    }

    #[test]
    fn vmstat_gives_the_paging_counters_and_ignores_the_rest() {
        assert_eq!(
            parse_vmstat(GOLDEN_VMSTAT),
            VmStat {
                swapped_in: 12,
                swapped_out: 34,
                paged_in: 108814493,
                paged_out: 634943008,
                faults: 760839377,
                major_faults: 184499,
            }
        );
        assert_eq!(parse_vmstat("garbage\npgfault x\n"), VmStat::default());
    }

    #[test]
    fn paging_metrics_have_the_collectors_attributes_and_the_kernels_counts() {
        let dir = fake_root(&[("proc/swaps", GOLDEN_SWAPS), ("proc/vmstat", GOLDEN_VMSTAT)]);
        let root = host_root(dir.path());
        let (metrics, errors) = scrape_with(&defaults_of(ScraperKind::Paging), |out| scrape(&root, out));
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["system.paging.usage", "system.paging.operations", "system.paging.faults"]);
        assert_eq!(sum_shape(&metrics[0]), Some((false, true)));
        assert_eq!(sum_shape(&metrics[1]), Some((true, true)));
        assert_eq!(sum_shape(&metrics[2]), Some((true, true)));
        assert_eq!(keys(&points(&metrics[0])[0]), ["device", "state"]);
        assert_eq!(keys(&points(&metrics[1])[0]), ["direction", "type"]);
        assert_eq!(keys(&points(&metrics[2])[0]), ["type"]);
        assert_eq!(
            value_of(&metrics, "system.paging.usage", &[("device", "/dev/zram0"), ("state", "free")]),
            ((8_388_604u64 - 1024) * 1024) as f64
        );
        assert_eq!(
            value_of(
                &metrics,
                "system.paging.operations",
                &[("direction", "page_out"), ("type", "major")]
            ),
            34.0
        );
        assert_eq!(
            value_of(&metrics, "system.paging.faults", &[("type", "minor")]),
            (760_839_377u64 - 184_499) as f64
        );
    }

    #[test]
    fn a_host_without_swap_still_reports_paging_counters() {
        let dir = fake_root(&[
            ("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n"),
            ("proc/vmstat", GOLDEN_VMSTAT),
        ]);
        let root = host_root(dir.path());
        let (metrics, errors) = scrape_with(&all_of(ScraperKind::Paging), |out| scrape(&root, out));
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["system.paging.operations", "system.paging.faults"]);
    }
}
