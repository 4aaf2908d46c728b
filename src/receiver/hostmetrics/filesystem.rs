//! The `filesystem` scraper: bytes and inodes used, free and reserved of each mounted filesystem,
//! from the mount table (the host's: `/proc/1/mounts`, or this process's when that cannot be read)
//! and `statvfs` of each mount point under `root_path`. Unless `include_virtual_filesystems`, only
//! filesystems on a device are kept: types /proc/filesystems does not mark `nodev`, device not
//! `none` (as the Collector, through gopsutil). A mount point mounted over is reported once, as
//! the mount that is visible there. `free` is what unprivileged users may still use; `reserved`
//! the rest of the unused space (root's reserve).

use super::{unescape_octal, Catalog, Emit, FilesystemFilters, HostRoot, MetricDef, MetricKind, Point};
use std::path::Path;

const USAGE: MetricDef = MetricDef {
    name: "system.filesystem.usage",
    unit: "By",
    description: "Bytes of the filesystem used, free and reserved.",
    kind: MetricKind::UpDownCounter,
    default: true,
};
const INODES_USAGE: MetricDef = MetricDef {
    name: "system.filesystem.inodes.usage",
    unit: "{inodes}",
    description: "Inodes of the filesystem used and free.",
    kind: MetricKind::UpDownCounter,
    default: true,
};
const UTILIZATION: MetricDef = MetricDef {
    name: "system.filesystem.utilization",
    unit: "1",
    description: "Share of the filesystem's usable bytes that are used (0 to 1).",
    kind: MetricKind::Gauge,
    default: false,
};

pub(super) static CATALOG: Catalog = Catalog {
    emits: &[USAGE, INODES_USAGE, UTILIZATION],
    not_yet: &[],
};

/// One line of a mount table (/proc/mounts).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Mount {
    pub(super) device: String,
    pub(super) mount_point: String,
    pub(super) fs_type: String,
    pub(super) options: Vec<String>,
}

impl Mount {
    /// The Collector's `mode` attribute: `rw`, `ro` or `unknown`.
    fn mode(&self) -> &'static str {
        if self.options.iter().any(|o| o == "rw") {
            "rw"
        } else if self.options.iter().any(|o| o == "ro") {
            "ro"
        } else {
            "unknown"
        }
    }
}

/// `device mount_point type options dump pass`, names unescaped (`\040` is a space).
pub(super) fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (device, mount_point, fs_type, options) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?);
            Some(Mount {
                device: unescape_octal(device),
                mount_point: unescape_octal(mount_point),
                fs_type: fs_type.to_string(),
                options: options.split(',').map(str::to_string).collect(),
            })
        })
        .collect()
}

/// The filesystem types of /proc/filesystems that need a device (the lines not marked `nodev`);
/// zfs counts as one though the kernel marks it `nodev` (as gopsutil).
pub(super) fn physical_fs_types(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_end();
            match line.strip_prefix("nodev") {
                Some(rest) if rest.trim() == "zfs" => Some("zfs".to_string()),
                Some(_) => None,
                None => Some(line.trim().to_string()).filter(|t| !t.is_empty()),
            }
        })
        .collect()
}

/// The mounts to report: physical ones unless virtual ones are included, each mount point once (the
/// last mount there, which hides the earlier ones), and what the filters let through.
fn selected(mounts: Vec<Mount>, physical: Option<&[String]>, filters: &FilesystemFilters) -> Vec<Mount> {
    let mut kept: Vec<Mount> = Vec::new();
    for mount in mounts {
        if let Some(physical) = physical {
            if mount.device == "none" || !physical.contains(&mount.fs_type) {
                continue;
            }
        }
        if !(filters.devices.allows(&mount.device)
            && filters.fs_types.allows(&mount.fs_type)
            && filters.mount_points.allows(&mount.mount_point))
        {
            continue;
        }
        kept.retain(|earlier| earlier.mount_point != mount.mount_point);
        kept.push(mount);
    }
    kept
}

/// Space and inodes of a filesystem as the Collector reports them (gopsutil's arithmetic).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Usage {
    pub(super) total: u64,
    /// Available to unprivileged users.
    pub(super) free: u64,
    pub(super) used: u64,
    pub(super) inodes_used: u64,
    pub(super) inodes_free: u64,
}

impl Usage {
    /// From statvfs's counts: blocks of `block_size` bytes (`f_frsize`).
    pub(super) fn from_statvfs(
        blocks: u64,
        blocks_free: u64,
        blocks_available: u64,
        block_size: u64,
        files: u64,
        files_free: u64,
    ) -> Usage {
        Usage {
            total: blocks.saturating_mul(block_size),
            free: blocks_available.saturating_mul(block_size),
            used: blocks.saturating_sub(blocks_free).saturating_mul(block_size),
            inodes_used: files.saturating_sub(files_free),
            inodes_free: files_free,
        }
    }

    /// Unused space only root may use.
    fn reserved(&self) -> u64 {
        self.total.saturating_sub(self.used).saturating_sub(self.free)
    }

    /// Used over what users can have (used + free), as `df` shows it.
    fn utilization(&self) -> f64 {
        let usable = self.used.saturating_add(self.free);
        if usable == 0 {
            0.0
        } else {
            self.used as f64 / usable as f64
        }
    }
}

#[cfg(unix)]
fn statvfs(path: &Path) -> Result<Usage, String> {
    use std::os::unix::ffi::OsStrExt;
    let c_path =
        std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| format!("{}: the path holds a NUL byte", path.display()))?;
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a properly sized out-parameter.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return Err(format!("statvfs {}: {}", path.display(), std::io::Error::last_os_error()));
    }
    let block_size = if stat.f_frsize as u64 > 0 {
        stat.f_frsize as u64
    } else {
        stat.f_bsize as u64
    };
    Ok(Usage::from_statvfs(
        stat.f_blocks as u64,
        stat.f_bfree as u64,
        stat.f_bavail as u64,
        block_size,
        stat.f_files as u64,
        stat.f_ffree as u64,
    ))
}

#[cfg(not(unix))]
fn statvfs(path: &Path) -> Result<Usage, String> {
    Err(format!("statvfs {}: not available on this platform", path.display()))
}

/// The host's mount table, else this process's.
fn read_mounts(root: &HostRoot) -> Result<Vec<Mount>, String> {
    root.parse_proc("1/mounts", |text| Ok(parse_mounts(text)))
        .or_else(|_| root.parse_proc("self/mounts", |text| Ok(parse_mounts(text))))
}

/// One point with the Collector's attributes, in its order.
fn point(value: u64, mount: &Mount, state: &str) -> Point {
    Point::int(
        value,
        &[
            ("device", mount.device.as_str()),
            ("mode", mount.mode()),
            ("mountpoint", mount.mount_point.as_str()),
            ("type", mount.fs_type.as_str()),
            ("state", state),
        ],
    )
}

pub(super) fn scrape(root: &HostRoot, out: &mut Emit<'_>, filters: &FilesystemFilters) {
    let mounts = match read_mounts(root) {
        Ok(mounts) => mounts,
        Err(error) => return out.error(error),
    };
    let physical = if filters.include_virtual {
        None
    } else {
        match root.parse_proc("filesystems", |text| Ok(physical_fs_types(text))) {
            Ok(types) => Some(types),
            Err(error) => return out.error(error),
        }
    };
    let mut usages = Vec::new();
    for mount in selected(mounts, physical.as_deref(), filters) {
        match statvfs(&root.host_path(&mount.mount_point)) {
            Ok(usage) => usages.push((mount, usage)),
            Err(error) => out.error(error),
        }
    }
    let mut bytes = Vec::with_capacity(usages.len() * 3);
    let mut inodes = Vec::with_capacity(usages.len() * 2);
    let mut utilization = Vec::with_capacity(usages.len());
    for (mount, usage) in &usages {
        bytes.push(point(usage.used, mount, "used"));
        bytes.push(point(usage.free, mount, "free"));
        bytes.push(point(usage.reserved(), mount, "reserved"));
        inodes.push(point(usage.inodes_used, mount, "used"));
        inodes.push(point(usage.inodes_free, mount, "free"));
        utilization.push(Point::double(
            usage.utilization(),
            &[
                ("device", mount.device.as_str()),
                ("mode", mount.mode()),
                ("mountpoint", mount.mount_point.as_str()),
                ("type", mount.fs_type.as_str()),
            ],
        ));
    }
    out.push(&USAGE, bytes);
    out.push(&INODES_USAGE, inodes);
    out.push(&UTILIZATION, utilization);
}

/// /proc/filesystems (captured, shortened).
#[cfg(test)]
pub(super) const GOLDEN_FILESYSTEMS: &str = "\
nodev\tsysfs
nodev\ttmpfs
nodev\tproc
nodev\tcgroup2
nodev\tdevpts
\text3
\text2
\text4
\tsquashfs
\tvfat
nodev\tfuse
nodev\toverlay
\txfs
nodev\tzfs
";

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{MatchSet, NameFilter, ScraperKind};
    use super::*;

    /// /proc/mounts of a host with a root disk, a boot partition mounted read-only, a data disk
    /// whose mount point has a space, a snap (squashfs) and the usual virtual filesystems.
    const MOUNTS: &str = "\
/dev/vda1 / ext4 rw,relatime,discard 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev,size=1620300k,mode=755 0 0
/dev/vda15 /boot/efi vfat ro,relatime,fmask=0077 0 0
/dev/vdb /mnt/my\\040data xfs rw,noatime 0 0
/dev/loop3 /snap/core/123 squashfs ro,nodev,relatime 0 0
none /weird ext4 rw 0 0
tank/home /home zfs rw,xattr 0 0
overlay /var/lib/docker/overlay2/x/merged overlay rw,lowerdir=/a 0 0
/dev/vdc /mnt/my\\040data ext4 rw 0 0
";

    #[test]
    fn mount_lines_are_split_and_their_escapes_decoded() {
        let mounts = parse_mounts(MOUNTS);
        assert_eq!(mounts.len(), 11);
        assert_eq!(
            mounts[5],
            Mount {
                device: "/dev/vdb".into(),
                mount_point: "/mnt/my data".into(),
                fs_type: "xfs".into(),
                options: vec!["rw".into(), "noatime".into()],
            }
        );
        assert_eq!(mounts[4].mode(), "ro");
        assert_eq!(mounts[0].mode(), "rw");
        assert!(parse_mounts("odd line\n").is_empty());
    }

    #[test]
    fn the_physical_types_are_those_not_marked_nodev_and_zfs() {
        assert_eq!(
            physical_fs_types(GOLDEN_FILESYSTEMS),
            ["ext3", "ext2", "ext4", "squashfs", "vfat", "xfs", "zfs"]
        );
    }

    #[test]
    fn only_physical_filesystems_are_kept_by_default_each_mount_point_once() {
        let physical = physical_fs_types(GOLDEN_FILESYSTEMS);
        let kept = selected(parse_mounts(MOUNTS), Some(physical.as_slice()), &FilesystemFilters::default());
        let points: Vec<(&str, &str)> = kept.iter().map(|m| (m.device.as_str(), m.mount_point.as_str())).collect();
        assert_eq!(
            points,
            [
                ("/dev/vda1", "/"),
                ("/dev/vda15", "/boot/efi"),
                ("/dev/loop3", "/snap/core/123"),
                ("tank/home", "/home"),
                ("/dev/vdc", "/mnt/my data"),
            ],
            "no proc, sysfs, tmpfs, overlay or device none; /mnt/my data is the later mount"
        );
        let all = selected(parse_mounts(MOUNTS), None, &FilesystemFilters::default());
        assert_eq!(all.len(), 10, "include_virtual_filesystems keeps them all, each mount point once");
    }

    #[test]
    fn device_type_and_mount_point_filters_all_apply() {
        let physical = physical_fs_types(GOLDEN_FILESYSTEMS);
        let strict = |names: &[&str]| Some(MatchSet::Strict(names.iter().map(|n| n.to_string()).collect()));
        let filters = FilesystemFilters {
            include_virtual: false,
            devices: NameFilter {
                include: None,
                exclude: Some(MatchSet::Regexp(vec![regex::Regex::new("^/dev/loop").unwrap()])),
            },
            fs_types: NameFilter {
                include: None,
                exclude: strict(&["zfs"]),
            },
            mount_points: NameFilter {
                include: None,
                exclude: strict(&["/boot/efi"]),
            },
        };
        let kept: Vec<String> = selected(parse_mounts(MOUNTS), Some(physical.as_slice()), &filters)
            .into_iter()
            .map(|m| m.mount_point)
            .collect();
        assert_eq!(kept, ["/", "/mnt/my data"]);
    }

    #[test]
    fn usage_follows_statvfs_with_reserved_space_apart() {
        // 1000 blocks of 4 KiB, 300 free of which 250 are available to users; 100 inodes, 40 free.
        let usage = Usage::from_statvfs(1000, 300, 250, 4096, 100, 40);
        assert_eq!(usage.total, 4_096_000);
        assert_eq!(usage.used, 700 * 4096);
        assert_eq!(usage.free, 250 * 4096);
        assert_eq!(usage.reserved(), 50 * 4096);
        assert_eq!((usage.inodes_used, usage.inodes_free), (60, 40));
        assert!(approx(usage.utilization(), 700.0 / 950.0));
        assert_eq!(Usage::from_statvfs(0, 0, 0, 4096, 0, 0).utilization(), 0.0);
    }

    #[test]
    fn a_filesystem_under_root_path_is_reported_with_the_hosts_mount_point_and_the_collectors_attributes() {
        let dir = fake_root(&[
            (
                "proc/self/mounts",
                "/dev/vda1 / ext4 rw,relatime 0 0\ntmpfs /run tmpfs rw 0 0\n/dev/vdb /data ext4 ro 0 0\n",
            ),
            ("proc/filesystems", GOLDEN_FILESYSTEMS),
            ("data/file", "x"),
        ]);
        let root = host_root(dir.path());
        let (metrics, errors) = scrape_with(&all_of(ScraperKind::Filesystem), |out| {
            scrape(&root, out, &FilesystemFilters::default())
        });
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "system.filesystem.usage",
                "system.filesystem.inodes.usage",
                "system.filesystem.utilization"
            ]
        );
        let usage = &metrics[0];
        assert_eq!((usage.unit.as_str(), sum_shape(usage)), ("By", Some((false, true))));
        assert_eq!(points(usage).len(), 6, "two filesystems, three states each");
        assert_eq!(keys(&points(usage)[0]), ["device", "mode", "mountpoint", "type", "state"]);
        let data: Vec<_> = points(usage)
            .iter()
            .filter(|p| attribute(p, "mountpoint") == Some("/data"))
            .collect();
        assert_eq!(data.len(), 3);
        assert_eq!(attribute(data[0], "device"), Some("/dev/vdb"));
        assert_eq!(attribute(data[0], "mode"), Some("ro"));
        assert_eq!(attribute(data[0], "type"), Some("ext4"));
        assert!(value_of(&metrics, "system.filesystem.usage", &[("mountpoint", "/"), ("state", "used")]) > 0.0);
        assert_eq!(metrics[1].unit, "{inodes}");
        assert_eq!(points(&metrics[1]).len(), 4);
        assert_eq!(keys(&points(&metrics[2])[0]), ["device", "mode", "mountpoint", "type"]);
    }

    #[test]
    fn an_unreadable_mount_point_is_an_error_and_the_others_are_reported() {
        let dir = fake_root(&[
            ("proc/self/mounts", "/dev/vda1 / ext4 rw 0 0\n/dev/vdb /gone ext4 rw 0 0\n"),
            ("proc/filesystems", GOLDEN_FILESYSTEMS),
        ]);
        let root = host_root(dir.path());
        let (metrics, errors) = scrape_with(&defaults_of(ScraperKind::Filesystem), |out| {
            scrape(&root, out, &FilesystemFilters::default())
        });
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("gone"), "{errors:?}");
        assert_eq!(points(&metrics[0]).len(), 3);
    }
}
