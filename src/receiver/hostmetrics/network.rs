//! The `network` scraper: packets, drops, errors and bytes of each interface in /proc/net/dev
//! (filtered by `include`/`exclude` `interfaces`), and the TCP connections of /proc/net/tcp and
//! tcp6 by state, every state the Collector lists on Linux reported (0 when none). The kernel's
//! FIN_WAIT1/2 are reported as the Collector's `FIN_WAIT_1`/`FIN_WAIT_2`, and NEW_SYN_RECV as
//! SYN_RECV. Optional: the conntrack table's entries and limit.

use super::{Catalog, Emit, HostRoot, MetricDef, MetricKind, NameFilter, Point};
use std::collections::BTreeMap;

const PACKETS: MetricDef = MetricDef {
    name: "system.network.packets",
    unit: "{packets}",
    description: "Packets sent and received.",
    kind: MetricKind::Counter,
    default: true,
};
const DROPPED: MetricDef = MetricDef {
    name: "system.network.dropped",
    unit: "{packets}",
    description: "Packets dropped on sending and on receiving.",
    kind: MetricKind::Counter,
    default: true,
};
const ERRORS: MetricDef = MetricDef {
    name: "system.network.errors",
    unit: "{errors}",
    description: "Errors on sending and on receiving.",
    kind: MetricKind::Counter,
    default: true,
};
const IO: MetricDef = MetricDef {
    name: "system.network.io",
    unit: "By",
    description: "Bytes sent and received.",
    kind: MetricKind::Counter,
    default: true,
};
const CONNECTIONS: MetricDef = MetricDef {
    name: "system.network.connections",
    unit: "{connections}",
    description: "TCP connections in each state.",
    kind: MetricKind::UpDownCounter,
    default: true,
};
const CONNTRACK_COUNT: MetricDef = MetricDef {
    name: "system.network.conntrack.count",
    unit: "{entries}",
    description: "Entries in the connection tracking table.",
    kind: MetricKind::UpDownCounter,
    default: false,
};
const CONNTRACK_MAX: MetricDef = MetricDef {
    name: "system.network.conntrack.max",
    unit: "{entries}",
    description: "The most entries the connection tracking table holds.",
    kind: MetricKind::UpDownCounter,
    default: false,
};

pub(super) static CATALOG: Catalog = Catalog {
    emits: &[PACKETS, DROPPED, ERRORS, IO, CONNECTIONS, CONNTRACK_COUNT, CONNTRACK_MAX],
    not_yet: &[],
};

/// The TCP states the Collector reports on Linux, each always present.
pub(super) const TCP_STATES: [&str; 12] = [
    "CLOSE_WAIT",
    "CLOSE",
    "CLOSING",
    "DELETE",
    "ESTABLISHED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "LAST_ACK",
    "LISTEN",
    "SYN_SENT",
    "SYN_RECV",
    "TIME_WAIT",
];

/// The counters of one interface in /proc/net/dev.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Interface {
    pub(super) name: String,
    pub(super) bytes_received: u64,
    pub(super) packets_received: u64,
    pub(super) errors_received: u64,
    pub(super) dropped_received: u64,
    pub(super) bytes_sent: u64,
    pub(super) packets_sent: u64,
    pub(super) errors_sent: u64,
    pub(super) dropped_sent: u64,
}

/// `name: 8 receive counters, 8 transmit counters`, after two header lines.
pub(super) fn parse_net_dev(text: &str) -> Result<Vec<Interface>, String> {
    let mut interfaces = Vec::new();
    for line in text.lines() {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let values = counters
            .split_whitespace()
            .map(|field| field.parse::<u64>().map_err(|_| format!("{name}: '{field}' is not a counter")))
            .collect::<Result<Vec<u64>, String>>()?;
        if values.len() < 16 {
            return Err(format!("{name}: expected 16 counters, got {}", values.len()));
        }
        interfaces.push(Interface {
            name: name.to_string(),
            bytes_received: values[0],
            packets_received: values[1],
            errors_received: values[2],
            dropped_received: values[3],
            bytes_sent: values[8],
            packets_sent: values[9],
            errors_sent: values[10],
            dropped_sent: values[11],
        });
    }
    Ok(interfaces)
}

/// The Collector's name of a socket state code of /proc/net/tcp (include/net/tcp_states.h).
fn tcp_state(code: &str) -> Option<&'static str> {
    let name = match u8::from_str_radix(code, 16).ok()? {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 | 0x0C => "SYN_RECV",
        0x04 => "FIN_WAIT_1",
        0x05 => "FIN_WAIT_2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        _ => return None,
    };
    Some(name)
}

/// Adds the sockets of a /proc/net/tcp or tcp6 table (a header line, then one socket a line with
/// its state in the fourth column) to `counts`.
pub(super) fn count_tcp_states(text: &str, counts: &mut BTreeMap<&'static str, u64>) {
    for line in text.lines().skip(1) {
        if let Some(state) = line.split_whitespace().nth(3).and_then(tcp_state) {
            *counts.entry(state).or_insert(0) += 1;
        }
    }
}

/// The connections by state; tcp6 is absent when IPv6 is disabled.
fn tcp_connections(root: &HostRoot) -> Result<BTreeMap<&'static str, u64>, String> {
    let mut counts: BTreeMap<&'static str, u64> = TCP_STATES.iter().map(|state| (*state, 0)).collect();
    root.parse_proc("net/tcp", |text| {
        count_tcp_states(text, &mut counts);
        Ok(())
    })?;
    let tcp6 = root.proc_path("net/tcp6");
    match std::fs::read_to_string(&tcp6) {
        Ok(text) => count_tcp_states(&text, &mut counts),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", tcp6.display())),
    }
    Ok(counts)
}

fn read_number(root: &HostRoot, relative: &str) -> Result<u64, String> {
    root.parse_proc(relative, |text| {
        text.trim().parse::<u64>().map_err(|_| format!("'{}' is not a number", text.trim()))
    })
}

/// An interface's transmit and receive points of one counter, in the Collector's order.
fn both_directions(interface: &Interface, transmit: u64, receive: u64) -> Vec<Point> {
    vec![
        Point::int(transmit, &[("device", interface.name.as_str()), ("direction", "transmit")]),
        Point::int(receive, &[("device", interface.name.as_str()), ("direction", "receive")]),
    ]
}

/// Every interface's points of one counter, `counter` giving its (transmit, receive) values.
fn each(interfaces: &[Interface], counter: impl Fn(&Interface) -> (u64, u64)) -> Vec<Point> {
    interfaces
        .iter()
        .flat_map(|interface| {
            let (transmit, receive) = counter(interface);
            both_directions(interface, transmit, receive)
        })
        .collect()
}

pub(super) fn scrape(root: &HostRoot, out: &mut Emit<'_>, interfaces: &NameFilter) {
    match root.parse_proc("net/dev", parse_net_dev) {
        Ok(all) => {
            let kept: Vec<Interface> = all.into_iter().filter(|i| interfaces.allows(&i.name)).collect();
            out.push(&PACKETS, each(&kept, |i| (i.packets_sent, i.packets_received)));
            out.push(&DROPPED, each(&kept, |i| (i.dropped_sent, i.dropped_received)));
            out.push(&ERRORS, each(&kept, |i| (i.errors_sent, i.errors_received)));
            out.push(&IO, each(&kept, |i| (i.bytes_sent, i.bytes_received)));
        }
        Err(error) => out.error(error),
    }
    if out.wants(&CONNECTIONS) {
        match tcp_connections(root) {
            Ok(counts) => out.push(
                &CONNECTIONS,
                counts
                    .into_iter()
                    .map(|(state, count)| Point::int(count, &[("protocol", "tcp"), ("state", state)]))
                    .collect(),
            ),
            Err(error) => out.error(error),
        }
    }
    if out.wants(&CONNTRACK_COUNT) || out.wants(&CONNTRACK_MAX) {
        let count = read_number(root, "sys/net/netfilter/nf_conntrack_count");
        let max = read_number(root, "sys/net/netfilter/nf_conntrack_max");
        match (count, max) {
            (Ok(count), Ok(max)) => {
                out.push(&CONNTRACK_COUNT, vec![Point::int(count, &[])]);
                out.push(&CONNTRACK_MAX, vec![Point::int(max, &[])]);
            }
            (Err(error), _) | (_, Err(error)) => out.error(format!("conntrack (is the nf_conntrack module loaded?): {error}")),
        }
    }
}

/// /proc/net/dev (captured; eth0's errors, drops and collisions made distinct).
#[cfg(test)]
pub(super) const GOLDEN_NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 32379740801 1367640    0    0    0     0          0         0 32379740801 1367640    0    0    0     0       0          0
  eth0: 2430647311   88447    3    5    0     0          0         0  8712714   57876    7   11    0    13       0          0
";

/// /proc/net/tcp: a listener, an established connection both ways, one in TIME_WAIT, one in FIN_WAIT1.
#[cfg(test)]
pub(super) const GOLDEN_TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 31338 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 31339 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:C351 0100007F:1F90 06 00000000:00000000 03:00001234 00000000     0        0 0 3 0000000000000000
   4: 0100007F:C352 0100007F:1F90 04 00000000:00000000 01:00000014 00000000     0        0 0 1 0000000000000000 20 4 0 10 -1
";

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{MatchSet, ScraperKind};
    use super::*;

    #[test]
    fn net_dev_counters_come_from_the_right_columns() {
        let interfaces = parse_net_dev(GOLDEN_NET_DEV).unwrap();
        assert_eq!(interfaces.len(), 2);
        assert_eq!(
            interfaces[1],
            Interface {
                name: "eth0".into(),
                bytes_received: 2430647311,
                packets_received: 88447,
                errors_received: 3,
                dropped_received: 5,
                bytes_sent: 8712714,
                packets_sent: 57876,
                errors_sent: 7,
                dropped_sent: 11,
            },
            "transmit drops are column 12, not the collisions of column 14"
        );
        assert!(parse_net_dev("eth0: 1 2 3\n").unwrap_err().contains("16 counters"));
        assert!(parse_net_dev("eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n")
            .unwrap_err()
            .contains("'x'"));
    }

    #[test]
    fn tcp_sockets_are_counted_by_state_with_the_collectors_names() {
        let mut counts = BTreeMap::new();
        count_tcp_states(GOLDEN_TCP, &mut counts);
        count_tcp_states("header\n 0: a b 0C\n 1: a b 0A\n 2: a b ZZ\n", &mut counts);
        let expected: BTreeMap<&str, u64> = [
            ("LISTEN", 2),
            ("ESTABLISHED", 2),
            ("TIME_WAIT", 1),
            ("FIN_WAIT_1", 1),
            ("SYN_RECV", 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(counts, expected);
    }

    #[test]
    fn interface_and_connection_metrics_have_the_collectors_shape() {
        let dir = fake_root(&[
            ("proc/net/dev", GOLDEN_NET_DEV),
            ("proc/net/tcp", GOLDEN_TCP),
            ("proc/net/tcp6", "header\n 0: a b 0A\n"),
        ]);
        let root = host_root(dir.path());
        let only_eth = NameFilter {
            include: Some(MatchSet::Regexp(vec![regex::Regex::new("^eth").unwrap()])),
            exclude: None,
        };
        let (metrics, errors) = scrape_with(&defaults_of(ScraperKind::Network), |out| scrape(&root, out, &only_eth));
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "system.network.packets",
                "system.network.dropped",
                "system.network.errors",
                "system.network.io",
                "system.network.connections",
            ]
        );
        for metric in &metrics[..4] {
            assert_eq!(sum_shape(metric), Some((true, true)), "{}", metric.name);
            assert_eq!(points(metric).len(), 2, "{}: eth0 only, both directions", metric.name);
            assert_eq!(keys(&points(metric)[0]), ["device", "direction"]);
        }
        assert_eq!(value_of(&metrics, "system.network.dropped", &[("direction", "transmit")]), 11.0);
        assert_eq!(value_of(&metrics, "system.network.io", &[("direction", "receive")]), 2430647311.0);
        let connections = &metrics[4];
        assert_eq!(
            (connections.unit.as_str(), sum_shape(connections)),
            ("{connections}", Some((false, true)))
        );
        assert_eq!(points(connections).len(), 12, "every state, zeros included");
        assert_eq!(keys(&points(connections)[0]), ["protocol", "state"]);
        assert_eq!(
            value_of(&metrics, "system.network.connections", &[("state", "LISTEN")]),
            2.0,
            "tcp and tcp6"
        );
        assert_eq!(value_of(&metrics, "system.network.connections", &[("state", "CLOSING")]), 0.0);
    }

    #[test]
    fn conntrack_is_read_when_enabled_and_its_absence_is_an_error_that_says_why() {
        let dir = fake_root(&[
            ("proc/net/dev", GOLDEN_NET_DEV),
            ("proc/net/tcp", GOLDEN_TCP),
            ("proc/sys/net/netfilter/nf_conntrack_count", "42\n"),
            ("proc/sys/net/netfilter/nf_conntrack_max", "262144\n"),
        ]);
        let root = host_root(dir.path());
        let (metrics, errors) = scrape_with(&all_of(ScraperKind::Network), |out| scrape(&root, out, &NameFilter::default()));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(value_of(&metrics, "system.network.conntrack.count", &[]), 42.0);
        assert_eq!(value_of(&metrics, "system.network.conntrack.max", &[]), 262144.0);

        let bare = fake_root(&[("proc/net/dev", GOLDEN_NET_DEV), ("proc/net/tcp", GOLDEN_TCP)]);
        let root = host_root(bare.path());
        let (_, errors) = scrape_with(&all_of(ScraperKind::Network), |out| scrape(&root, out, &NameFilter::default()));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("conntrack"), "{errors:?}");
    }
}
