//! The `disk` scraper: I/O counters of every block device in /proc/diskstats (partitions, loop
//! and ram devices included, as the Collector reports them), filtered by `include`/`exclude`
//! `devices`. Sectors are 512 bytes in diskstats whatever the device's own sector size; times are
//! milliseconds, reported in seconds.

use super::{Catalog, Emit, HostRoot, MetricDef, MetricKind, NameFilter, Point};

const IO: MetricDef = MetricDef {
    name: "system.disk.io",
    unit: "By",
    description: "Bytes read from and written to the disk.",
    kind: MetricKind::Counter,
    default: true,
};
const OPERATIONS: MetricDef = MetricDef {
    name: "system.disk.operations",
    unit: "{operations}",
    description: "Reads and writes completed.",
    kind: MetricKind::Counter,
    default: true,
};
const IO_TIME: MetricDef = MetricDef {
    name: "system.disk.io_time",
    unit: "s",
    description: "Seconds the disk had I/O in progress.",
    kind: MetricKind::Counter,
    default: true,
};
const OPERATION_TIME: MetricDef = MetricDef {
    name: "system.disk.operation_time",
    unit: "s",
    description: "Seconds spent on reads and on writes, summed over the operations.",
    kind: MetricKind::Counter,
    default: true,
};
const WEIGHTED_IO_TIME: MetricDef = MetricDef {
    name: "system.disk.weighted_io_time",
    unit: "s",
    description: "Seconds the disk had I/O in progress, weighted by the number of operations in progress.",
    kind: MetricKind::Counter,
    default: true,
};
const PENDING_OPERATIONS: MetricDef = MetricDef {
    name: "system.disk.pending_operations",
    unit: "{operations}",
    description: "Operations in progress.",
    kind: MetricKind::UpDownCounter,
    default: true,
};
const MERGED: MetricDef = MetricDef {
    name: "system.disk.merged",
    unit: "{operations}",
    description: "Adjacent reads and writes merged into one operation.",
    kind: MetricKind::Counter,
    default: true,
};

pub(super) static CATALOG: Catalog = Catalog {
    emits: &[
        IO,
        OPERATIONS,
        IO_TIME,
        OPERATION_TIME,
        WEIGHTED_IO_TIME,
        PENDING_OPERATIONS,
        MERGED,
    ],
    not_yet: &[],
};

/// The bytes of a diskstats sector.
const SECTOR_BYTES: u64 = 512;

/// One line of /proc/diskstats.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct DiskStats {
    pub(super) device: String,
    pub(super) reads: u64,
    pub(super) reads_merged: u64,
    pub(super) read_bytes: u64,
    pub(super) read_ms: u64,
    pub(super) writes: u64,
    pub(super) writes_merged: u64,
    pub(super) written_bytes: u64,
    pub(super) write_ms: u64,
    pub(super) in_progress: u64,
    pub(super) io_ms: u64,
    pub(super) weighted_io_ms: u64,
}

/// `major minor name` and at least 11 counters (4.18 added discards, 5.5 flushes: ignored).
pub(super) fn parse_diskstats(text: &str) -> Result<Vec<DiskStats>, String> {
    let mut disks = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 14 {
            continue;
        }
        let device = fields[2];
        let mut counters = [0u64; 11];
        for (slot, field) in counters.iter_mut().zip(&fields[3..14]) {
            *slot = field.parse::<u64>().map_err(|_| format!("{device}: '{field}' is not a counter"))?;
        }
        disks.push(DiskStats {
            device: device.to_string(),
            reads: counters[0],
            reads_merged: counters[1],
            read_bytes: counters[2].saturating_mul(SECTOR_BYTES),
            read_ms: counters[3],
            writes: counters[4],
            writes_merged: counters[5],
            written_bytes: counters[6].saturating_mul(SECTOR_BYTES),
            write_ms: counters[7],
            in_progress: counters[8],
            io_ms: counters[9],
            weighted_io_ms: counters[10],
        });
    }
    Ok(disks)
}

fn seconds(milliseconds: u64) -> f64 {
    milliseconds as f64 / 1e3
}

/// The points of every disk, `point` giving each disk's.
fn each(disks: &[DiskStats], point: impl Fn(&DiskStats) -> Vec<Point>) -> Vec<Point> {
    disks.iter().flat_map(point).collect()
}

/// A disk's read and write points of one counter.
fn read_write(disk: &DiskStats, read: u64, write: u64) -> Vec<Point> {
    vec![
        Point::int(read, &[("device", disk.device.as_str()), ("direction", "read")]),
        Point::int(write, &[("device", disk.device.as_str()), ("direction", "write")]),
    ]
}

pub(super) fn scrape(root: &HostRoot, out: &mut Emit<'_>, devices: &NameFilter) {
    let disks = match root.parse_proc("diskstats", parse_diskstats) {
        Ok(disks) => disks,
        Err(error) => return out.error(error),
    };
    let disks: Vec<DiskStats> = disks.into_iter().filter(|d| devices.allows(&d.device)).collect();
    out.push(&IO, each(&disks, |d| read_write(d, d.read_bytes, d.written_bytes)));
    out.push(&OPERATIONS, each(&disks, |d| read_write(d, d.reads, d.writes)));
    out.push(
        &IO_TIME,
        each(&disks, |d| vec![Point::double(seconds(d.io_ms), &[("device", d.device.as_str())])]),
    );
    out.push(
        &OPERATION_TIME,
        each(&disks, |d| {
            vec![
                Point::double(seconds(d.read_ms), &[("device", d.device.as_str()), ("direction", "read")]),
                Point::double(seconds(d.write_ms), &[("device", d.device.as_str()), ("direction", "write")]),
            ]
        }),
    );
    out.push(
        &WEIGHTED_IO_TIME,
        each(&disks, |d| {
            vec![Point::double(seconds(d.weighted_io_ms), &[("device", d.device.as_str())])]
        }),
    );
    out.push(
        &PENDING_OPERATIONS,
        each(&disks, |d| vec![Point::int(d.in_progress, &[("device", d.device.as_str())])]),
    );
    out.push(&MERGED, each(&disks, |d| read_write(d, d.reads_merged, d.writes_merged)));
}

/// /proc/diskstats: a loop device, a disk with its partition (Linux 5.5+, 20 columns), and a disk
/// from a 4.x kernel (14 columns).
#[cfg(test)]
pub(super) const GOLDEN_DISKSTATS: &str = "\
   7       0 loop0 12 0 24 3 0 0 0 0 0 8 3 0 0 0 0 0 0
 254       0 vda 4162750 76583 217628986 4973539 1273194 622414 1269886016 7284952 2 512140 12366766 428786 67 878282680 106316 45657 1959
 254       1 vda1 4000000 70000 200000000 4900000 1200000 600000 1200000000 7000000 0 500000 12000000 0 0 0 0 0 0
   8       0 sda 100 1 2000 30 50 2 800 40 0 60 70
";

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{MatchSet, ScraperKind};
    use super::*;

    #[test]
    fn diskstats_lines_of_every_kernel_generation_are_read_and_short_lines_skipped() {
        let disks = parse_diskstats(&format!("{GOLDEN_DISKSTATS}   1 0 ram0 1 2\n")).unwrap();
        let names: Vec<&str> = disks.iter().map(|d| d.device.as_str()).collect();
        assert_eq!(names, ["loop0", "vda", "vda1", "sda"]);
        assert_eq!(
            disks[1],
            DiskStats {
                device: "vda".into(),
                reads: 4162750,
                reads_merged: 76583,
                read_bytes: 217628986 * 512,
                read_ms: 4973539,
                writes: 1273194,
                writes_merged: 622414,
                written_bytes: 1269886016 * 512,
                write_ms: 7284952,
                in_progress: 2,
                io_ms: 512140,
                weighted_io_ms: 12366766,
            }
        );
        assert_eq!(disks[3].weighted_io_ms, 70);
        assert!(parse_diskstats("8 0 sda 1 2 3 4 5 6 7 8 9 10 eleven\n")
            .unwrap_err()
            .contains("'eleven'"));
    }

    #[test]
    fn every_disk_metric_has_the_collectors_name_unit_shape_and_attributes() {
        let dir = fake_root(&[("proc/diskstats", GOLDEN_DISKSTATS)]);
        let root = host_root(dir.path());
        let devices = NameFilter {
            include: None,
            exclude: Some(MatchSet::Regexp(vec![regex::Regex::new("^loop").unwrap()])),
        };
        let (metrics, errors) = scrape_with(&defaults_of(ScraperKind::Disk), |out| scrape(&root, out, &devices));
        assert!(errors.is_empty(), "{errors:?}");
        let expected = [
            ("system.disk.io", "By", true, 6, vec!["device", "direction"]),
            ("system.disk.operations", "{operations}", true, 6, vec!["device", "direction"]),
            ("system.disk.io_time", "s", true, 3, vec!["device"]),
            ("system.disk.operation_time", "s", true, 6, vec!["device", "direction"]),
            ("system.disk.weighted_io_time", "s", true, 3, vec!["device"]),
            ("system.disk.pending_operations", "{operations}", false, 3, vec!["device"]),
            ("system.disk.merged", "{operations}", true, 6, vec!["device", "direction"]),
        ];
        assert_eq!(metrics.len(), expected.len());
        for (metric, (name, unit, monotonic, count, attribute_keys)) in metrics.iter().zip(expected) {
            assert_eq!((metric.name.as_str(), metric.unit.as_str()), (name, unit));
            assert_eq!(sum_shape(metric), Some((monotonic, true)), "{name}");
            assert_eq!(points(metric).len(), count, "{name}: loop0 is excluded");
            assert_eq!(keys(&points(metric)[0]), attribute_keys, "{name}");
            assert_eq!(points(metric).iter().all(is_int), unit != "s", "{name}: times are doubles");
        }
        let written = value_of(&metrics, "system.disk.io", &[("device", "vda"), ("direction", "write")]);
        assert_eq!(written, (1269886016u64 * 512) as f64);
        let read_time = value_of(&metrics, "system.disk.operation_time", &[("device", "vda"), ("direction", "read")]);
        assert!(approx(read_time, 4973.539));
        assert_eq!(value_of(&metrics, "system.disk.pending_operations", &[("device", "vda")]), 2.0);
        assert_eq!(
            value_of(&metrics, "system.disk.merged", &[("device", "sda"), ("direction", "write")]),
            2.0
        );
    }
}
