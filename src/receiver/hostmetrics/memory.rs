//! The `memory` scraper: bytes of memory by state from /proc/meminfo, counted as the Collector
//! does on Linux: `cached` includes the reclaimable slab (`SReclaimable`, which is also reported as
//! `slab_reclaimable`), and `used` is what is neither free, buffers nor cached. Optional:
//! utilization, the limit (`MemTotal`), `MemAvailable`, `Dirty` and the page size.

use super::{Catalog, Emit, HostRoot, MetricDef, MetricKind, Point};
use std::collections::HashMap;

const USAGE: MetricDef = MetricDef {
    name: "system.memory.usage",
    unit: "By",
    description: "Bytes of memory in each state.",
    kind: MetricKind::UpDownCounter,
    default: true,
};
const UTILIZATION: MetricDef = MetricDef {
    name: "system.memory.utilization",
    unit: "1",
    description: "Share of the memory in each state (0 to 1).",
    kind: MetricKind::Gauge,
    default: false,
};
const LIMIT: MetricDef = MetricDef {
    name: "system.memory.limit",
    unit: "By",
    description: "Bytes of memory the host has.",
    kind: MetricKind::UpDownCounter,
    default: false,
};
const AVAILABLE: MetricDef = MetricDef {
    name: "system.linux.memory.available",
    unit: "By",
    description: "The kernel's estimate of the bytes available to start new programs without swapping (MemAvailable).",
    kind: MetricKind::UpDownCounter,
    default: false,
};
const DIRTY: MetricDef = MetricDef {
    name: "system.linux.memory.dirty",
    unit: "By",
    description: "Bytes of memory waiting to be written back to disk (Dirty).",
    kind: MetricKind::UpDownCounter,
    default: false,
};
const PAGE_SIZE: MetricDef = MetricDef {
    name: "system.memory.page_size",
    unit: "By",
    description: "The size of a memory page.",
    kind: MetricKind::Gauge,
    default: false,
};

pub(super) static CATALOG: Catalog = Catalog {
    emits: &[USAGE, UTILIZATION, LIMIT, AVAILABLE, DIRTY, PAGE_SIZE],
    not_yet: &[
        "system.memory.linux.shared",
        "system.memory.linux.hugepages.limit",
        "system.memory.linux.hugepages.page_size",
        "system.memory.linux.hugepages.reserved",
        "system.memory.linux.hugepages.surplus",
        "system.memory.linux.hugepages.usage",
        "system.memory.linux.hugepages.utilization",
    ],
};

/// The lines of /proc/meminfo the scraper uses, in bytes.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct MemInfo {
    pub(super) total: u64,
    pub(super) free: u64,
    /// Absent before Linux 3.14.
    pub(super) available: Option<u64>,
    pub(super) buffers: u64,
    /// `Cached` plus `SReclaimable`, as `free` and the Collector count the cache.
    pub(super) cached: u64,
    pub(super) slab_reclaimable: u64,
    pub(super) slab_unreclaimable: u64,
    pub(super) dirty: u64,
}

impl MemInfo {
    pub(super) fn used(&self) -> u64 {
        self.total
            .saturating_sub(self.free)
            .saturating_sub(self.buffers)
            .saturating_sub(self.cached)
    }

    /// The Collector's Linux states, in the order it records them.
    fn states(&self) -> [(&'static str, u64); 6] {
        [
            ("used", self.used()),
            ("free", self.free),
            ("buffered", self.buffers),
            ("cached", self.cached),
            ("slab_reclaimable", self.slab_reclaimable),
            ("slab_unreclaimable", self.slab_unreclaimable),
        ]
    }
}

/// `Key:   123 kB` lines (a value without a unit is a count, kept as is).
pub(super) fn parse_meminfo(text: &str) -> Result<MemInfo, String> {
    let mut fields: HashMap<&str, u64> = HashMap::new();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else { continue };
        let mut parts = rest.split_whitespace();
        let Some(number) = parts.next().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        let value = match parts.next() {
            Some("kB") => number.saturating_mul(1024),
            _ => number,
        };
        fields.insert(key.trim(), value);
    }
    let get = |key: &str| fields.get(key).copied();
    let total = get("MemTotal").ok_or("no MemTotal line")?;
    let free = get("MemFree").ok_or("no MemFree line")?;
    let slab_reclaimable = get("SReclaimable").unwrap_or(0);
    Ok(MemInfo {
        total,
        free,
        available: get("MemAvailable"),
        buffers: get("Buffers").unwrap_or(0),
        cached: get("Cached").unwrap_or(0).saturating_add(slab_reclaimable),
        slab_reclaimable,
        slab_unreclaimable: get("SUnreclaim").unwrap_or(0),
        dirty: get("Dirty").unwrap_or(0),
    })
}

pub(super) fn page_size() -> u64 {
    #[cfg(unix)]
    {
        // SAFETY: sysconf only reads a configuration value.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if size > 0 {
            return size as u64;
        }
    }
    4096
}

pub(super) fn scrape(root: &HostRoot, out: &mut Emit<'_>) {
    let info = match root.parse_proc("meminfo", parse_meminfo) {
        Ok(info) => info,
        Err(error) => return out.error(error),
    };
    let mut usage = Vec::with_capacity(6);
    for (state, bytes) in info.states() {
        usage.push(Point::int(bytes, &[("state", state)]));
    }
    out.push(&USAGE, usage);
    if out.wants(&UTILIZATION) {
        if info.total == 0 {
            out.error("MemTotal is 0: no utilization");
        } else {
            let mut shares = Vec::with_capacity(6);
            for (state, bytes) in info.states() {
                shares.push(Point::double(bytes as f64 / info.total as f64, &[("state", state)]));
            }
            out.push(&UTILIZATION, shares);
        }
    }
    out.push(&LIMIT, vec![Point::int(info.total, &[])]);
    if let Some(available) = info.available {
        out.push(&AVAILABLE, vec![Point::int(available, &[])]);
    }
    out.push(&DIRTY, vec![Point::int(info.dirty, &[])]);
    if out.wants(&PAGE_SIZE) {
        out.push(&PAGE_SIZE, vec![Point::int(page_size(), &[])]);
    }
}

/// /proc/meminfo with round numbers (the lines and their order as Linux 6 writes them).
#[cfg(test)]
pub(super) const GOLDEN_MEMINFO: &str = "\
MemTotal:       16000000 kB
MemFree:         4000000 kB
MemAvailable:   10000000 kB
Buffers:          500000 kB
Cached:          6000000 kB
SwapCached:            0 kB
Active:          4942864 kB
Inactive:        9498564 kB
Dirty:              1396 kB
Writeback:             0 kB
Shmem:             10152 kB
KReclaimable:     700000 kB
Slab:             900000 kB
SReclaimable:     700000 kB
SUnreclaim:       200000 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
";

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::ScraperKind;
    use super::*;

    const KIB: u64 = 1024;

    #[test]
    fn meminfo_is_read_in_bytes_with_the_reclaimable_slab_counted_as_cache() {
        let info = parse_meminfo(GOLDEN_MEMINFO).unwrap();
        assert_eq!(
            info,
            MemInfo {
                total: 16_000_000 * KIB,
                free: 4_000_000 * KIB,
                available: Some(10_000_000 * KIB),
                buffers: 500_000 * KIB,
                cached: 6_700_000 * KIB,
                slab_reclaimable: 700_000 * KIB,
                slab_unreclaimable: 200_000 * KIB,
                dirty: 1396 * KIB,
            }
        );
        assert_eq!(info.used(), 4_800_000 * KIB);
    }

    #[test]
    fn an_old_kernel_without_memavailable_or_slab_lines_still_parses() {
        let info = parse_meminfo("MemTotal: 1000 kB\nMemFree: 400 kB\nBuffers: 100 kB\nCached: 200 kB\n").unwrap();
        assert_eq!(info.available, None);
        assert_eq!(info.used(), 300 * KIB);
    }

    #[test]
    fn a_meminfo_without_its_totals_is_an_error() {
        assert!(parse_meminfo("MemFree: 4 kB\n").unwrap_err().contains("MemTotal"));
        assert!(parse_meminfo("").is_err());
        assert!(parse_meminfo("MemTotal: lots\nMemFree: 1 kB\n").is_err());
    }

    #[test]
    fn usage_has_the_collectors_six_linux_states_as_an_int_updown_sum() {
        let dir = fake_root(&[("proc/meminfo", GOLDEN_MEMINFO)]);
        let root = host_root(dir.path());
        let (metrics, errors) = scrape_with(&defaults_of(ScraperKind::Memory), |out| scrape(&root, out));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(metrics.len(), 1);
        let usage = &metrics[0];
        assert_eq!((usage.name.as_str(), usage.unit.as_str()), ("system.memory.usage", "By"));
        assert_eq!(sum_shape(usage), Some((false, true)));
        let states: Vec<&str> = points(usage).iter().map(|p| attribute(p, "state").unwrap()).collect();
        assert_eq!(
            states,
            ["used", "free", "buffered", "cached", "slab_reclaimable", "slab_unreclaimable"]
        );
        assert!(points(usage).iter().all(is_int));
        assert_eq!(
            value_of(&metrics, "system.memory.usage", &[("state", "cached")]),
            (6_700_000 * KIB) as f64
        );
    }

    #[test]
    fn the_optional_memory_metrics_are_emitted_when_enabled() {
        let dir = fake_root(&[("proc/meminfo", GOLDEN_MEMINFO)]);
        let root = host_root(dir.path());
        let (metrics, errors) = scrape_with(&all_of(ScraperKind::Memory), |out| scrape(&root, out));
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "system.memory.usage",
                "system.memory.utilization",
                "system.memory.limit",
                "system.linux.memory.available",
                "system.linux.memory.dirty",
                "system.memory.page_size",
            ]
        );
        assert!(approx(value_of(&metrics, "system.memory.utilization", &[("state", "free")]), 0.25));
        assert_eq!(value_of(&metrics, "system.memory.limit", &[]), (16_000_000 * KIB) as f64);
        assert!(value_of(&metrics, "system.memory.page_size", &[]) >= 4096.0);
    }
}
