//! Axis ticks people can read (pure, unit-tested on the host): values at 1-2-2.5-5 steps in the
//! metric's unit (`0, 250 ms, 500 ms`, `0, 2 GiB, 4 GiB`), times at round clock times in the
//! browser's time zone (`10:05, 10:10`, midnight as the date).

/// How a chart's values are written: from the metric's UCUM unit (`s`, `ms`, `By`, `%`, `1`,
/// `{request}`), and whether they are per second (rates).
#[derive(Clone, Debug, PartialEq)]
pub enum Unit {
    /// A count or a ratio: SI prefixes for large values (`12k`, `1.5M`).
    Plain,
    /// A duration; the value times this factor is nanoseconds.
    Duration(f64),
    /// Bytes; the value times this factor is bytes. Written in binary multiples (KiB, MiB).
    Bytes(f64),
    Percent,
    /// Any other unit, written after the number.
    Other(String),
}

impl Unit {
    /// The unit of a metric (OpenTelemetry's UCUM codes); unknown ones are written as given.
    pub fn parse(ucum: &str) -> Unit {
        match ucum.trim() {
            "" | "1" => Unit::Plain,
            u if u.starts_with('{') && u.ends_with('}') => Unit::Plain,
            "ns" => Unit::Duration(1.0),
            "us" | "µs" => Unit::Duration(1e3),
            "ms" => Unit::Duration(1e6),
            "s" => Unit::Duration(1e9),
            "min" => Unit::Duration(60e9),
            "h" => Unit::Duration(3600e9),
            "d" => Unit::Duration(86_400e9),
            "By" => Unit::Bytes(1.0),
            "KiBy" => Unit::Bytes(1024.0),
            "MiBy" => Unit::Bytes(1024.0 * 1024.0),
            "GiBy" => Unit::Bytes(1024.0 * 1024.0 * 1024.0),
            "kBy" | "KBy" => Unit::Bytes(1e3),
            "MBy" => Unit::Bytes(1e6),
            "GBy" => Unit::Bytes(1e9),
            "%" => Unit::Percent,
            other => Unit::Other(other.to_string()),
        }
    }

    /// The display unit for values up to `largest`: its suffix and how many values make one.
    fn display(&self, largest: f64) -> (&'static str, f64) {
        let a = largest.abs();
        match self {
            Unit::Plain => match a {
                a if a >= 1e9 => ("G", 1e9),
                a if a >= 1e6 => ("M", 1e6),
                a if a >= 1e4 => ("k", 1e3),
                _ => ("", 1.0),
            },
            Unit::Duration(factor) => {
                let ns = a * factor;
                let (suffix, unit_ns) = match ns {
                    ns if ns >= 2.0 * 3600e9 => (" h", 3600e9),
                    ns if ns >= 120e9 => (" min", 60e9),
                    ns if ns >= 1e9 => (" s", 1e9),
                    ns if ns >= 1e6 => (" ms", 1e6),
                    ns if ns >= 1e3 => (" µs", 1e3),
                    _ => (" ns", 1.0),
                };
                (suffix, unit_ns / factor)
            }
            Unit::Bytes(factor) => {
                let bytes = a * factor;
                let (suffix, unit_bytes) = match bytes {
                    b if b >= 1024f64.powi(4) => (" TiB", 1024f64.powi(4)),
                    b if b >= 1024f64.powi(3) => (" GiB", 1024f64.powi(3)),
                    b if b >= 1024f64.powi(2) => (" MiB", 1024f64.powi(2)),
                    b if b >= 1024.0 => (" KiB", 1024.0),
                    _ => (" B", 1.0),
                };
                (suffix, unit_bytes / factor)
            }
            Unit::Percent => ("%", 1.0),
            Unit::Other(_) => ("", 1.0),
        }
    }

    /// One value with three significant figures, for tooltips and legends: `1.23 s`, `456 ms`.
    pub fn format(&self, value: f64) -> String {
        if !value.is_finite() {
            return String::new();
        }
        if value == 0.0 {
            return self.with_suffix("0".into(), "");
        }
        let (suffix, per) = self.display(value);
        let scaled = value / per;
        let digits = (3 - 1 - scaled.abs().log10().floor() as i32).clamp(0, 6) as usize;
        self.with_suffix(trim_zeros(format!("{scaled:.digits$}")), suffix)
    }

    fn with_suffix(&self, number: String, suffix: &str) -> String {
        match self {
            Unit::Other(unit) => format!("{number} {unit}"),
            _ => format!("{number}{suffix}"),
        }
    }
}

/// `1.50` -> `1.5`, `2.00` -> `2`.
fn trim_zeros(text: String) -> String {
    if !text.contains('.') {
        return text;
    }
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The round step (1, 2, 2.5 or 5 times a power of ten) that cuts `span` into at most about `target` parts.
pub fn nice_step(span: f64, target: usize) -> f64 {
    let raw = (span / target.max(1) as f64).abs();
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// Ticks for counts from 0 to `hi`: whole steps of 1, 2 or 5 times a power of ten (no 2.5 records).
pub fn count_axis(hi: f64, target: usize) -> ValueAxis {
    let raw = hi.max(1.0) / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor()).max(1.0);
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let last = (hi.max(1.0) / step - 1e-9).ceil().max(1.0) as i64;
    let ticks = (0..=last)
        .map(|i| {
            let v = i as f64 * step;
            (v, Unit::Plain.format(v))
        })
        .collect();
    ValueAxis {
        lo: 0.0,
        hi: last as f64 * step,
        ticks,
    }
}

/// Decimals that write every multiple of `step` exactly.
fn decimals(step: f64) -> usize {
    (0..=9)
        .find(|d| {
            let scaled = step * 10f64.powi(*d);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.abs().max(1.0)
        })
        .unwrap_or(9) as usize
}

/// A value axis: the domain widened to whole steps, and each tick's value and label.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueAxis {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<(f64, String)>,
}

/// Ticks for values from `lo` to `hi` (in the metric's unit), about `target` of them: round steps
/// of the display unit chosen for the largest value, labels with that unit.
pub fn value_axis(lo: f64, hi: f64, unit: &Unit, target: usize) -> ValueAxis {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let (suffix, per) = unit.display(lo.abs().max(hi.abs()));
    let (dlo, dhi) = (lo / per, hi / per);
    let step = nice_step(dhi - dlo, target);
    let first = (dlo / step + 1e-9).floor() as i64;
    let last = (dhi / step - 1e-9).ceil() as i64;
    let per_tick = matches!(unit, Unit::Duration(_) | Unit::Bytes(_));
    let ticks = (first..=last)
        .map(|i| {
            let v = i as f64 * step * per;
            if i == 0 {
                return (0.0, "0".to_string());
            }
            // Durations and sizes each in their own unit: `750 ms, 1 s`, not `1000 ms`.
            let (tick_suffix, tick_per) = if per_tick { unit.display(v) } else { (suffix, per) };
            let places = decimals(step * per / tick_per);
            (v, unit.with_suffix(trim_zeros(format!("{:.places$}", v / tick_per)), tick_suffix))
        })
        .collect();
    ValueAxis {
        lo: first as f64 * step * per,
        hi: last as f64 * step * per,
        ticks,
    }
}

const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Time steps an axis may use: 1-2-5 below a second, then clock steps.
const TIME_STEPS: [i64; 31] = [
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
    200_000_000,
    500_000_000,
    SECOND,
    2 * SECOND,
    5 * SECOND,
    10 * SECOND,
    15 * SECOND,
    30 * SECOND,
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
    14 * DAY,
    28 * DAY,
];

/// The round time step that cuts `span_ns` into at most `target` parts.
pub fn time_step(span_ns: i64, target: usize) -> i64 {
    let target = target.max(1) as i64;
    TIME_STEPS
        .into_iter()
        .find(|s| span_ns / s <= target)
        .unwrap_or(TIME_STEPS[TIME_STEPS.len() - 1])
}

/// Ticks at round times between `x0` and `x1` (unix ns), at most about `target`: each tick's time
/// and label in the time zone `offset_ns` east of UTC. Labels: `HH:MM` for minute steps and up
/// (the date at midnight), `HH:MM:SS` for seconds, `:SS.mmm` below; `MM-DD` for day steps.
pub fn time_ticks(x0: i64, x1: i64, target: usize, offset_ns: i64) -> Vec<(i64, String)> {
    if x1 <= x0 {
        return Vec::new();
    }
    let step = time_step(x1 - x0, target);
    let local0 = x0 + offset_ns;
    let mut local = local0.div_euclid(step) * step;
    if local < local0 {
        local += step;
    }
    let mut out = Vec::new();
    while local - offset_ns <= x1 {
        out.push((local - offset_ns, time_label(local, step)));
        local += step;
    }
    out
}

/// A local time (ns since the epoch, already shifted into the zone) written for a step.
fn time_label(local: i64, step: i64) -> String {
    let day = local.div_euclid(DAY);
    let in_day = local.rem_euclid(DAY);
    let (h, m, s) = (in_day / HOUR, in_day % HOUR / MINUTE, in_day % MINUTE / SECOND);
    let (_, month, date) = civil_from_days(day);
    if step >= DAY || (step >= MINUTE && in_day == 0) {
        format!("{month:02}-{date:02}")
    } else if step >= MINUTE {
        format!("{h:02}:{m:02}")
    } else if step >= SECOND {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!(":{s:02}.{:03}", in_day % SECOND / 1_000_000)
    }
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A time range written for a chip: `10:02:00 – 10:05:30`.
pub fn range_label(x0: i64, x1: i64, offset_ns: i64) -> String {
    let fmt = |t: i64| time_label(t + offset_ns, SECOND);
    format!("{} – {}", fmt(x0), fmt(x1))
}

/// A `since` choice (`15m`, `1h`, `7d`) in nanoseconds.
pub fn parse_since(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let n: i64 = text[..split].parse().ok()?;
    let unit = match &text[split..] {
        "ms" => 1_000_000,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        "d" => DAY,
        "w" => 7 * DAY,
        _ => return None,
    };
    n.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(axis: &ValueAxis) -> Vec<&str> {
        axis.ticks.iter().map(|(_, l)| l.as_str()).collect()
    }

    #[test]
    fn steps_are_one_two_two_and_a_half_or_five() {
        assert_eq!(nice_step(0.9098, 4), 0.25);
        assert_eq!(nice_step(10.0, 5), 2.0);
        assert_eq!(nice_step(7.0, 5), 2.0);
        assert_eq!(nice_step(1000.0, 4), 250.0);
        assert_eq!(nice_step(0.0, 4), 1.0);
    }

    #[test]
    fn value_ticks_are_round_numbers_and_cover_the_data() {
        let axis = value_axis(0.0, 0.9098, &Unit::Plain, 4);
        assert_eq!(labels(&axis), ["0", "0.25", "0.5", "0.75", "1"]);
        assert_eq!((axis.lo, axis.hi), (0.0, 1.0));
        let axis = value_axis(0.0, 37_500.0, &Unit::Plain, 4);
        assert_eq!(labels(&axis), ["0", "10k", "20k", "30k", "40k"]);
        let axis = value_axis(-3.0, 3.0, &Unit::Plain, 4);
        assert_eq!(labels(&axis), ["-4", "-2", "0", "2", "4"]);
    }

    #[test]
    fn durations_are_labelled_in_their_unit() {
        // 5.13 s of data: 0, 2 s, 4 s, 6 s, not 5.13 s.
        let axis = value_axis(0.0, 5.13, &Unit::parse("s"), 4);
        assert_eq!(labels(&axis), ["0", "2 s", "4 s", "6 s"]);
        let axis = value_axis(0.0, 0.9, &Unit::parse("s"), 4);
        assert_eq!(labels(&axis), ["0", "250 ms", "500 ms", "750 ms", "1 s"]);
        let axis = value_axis(0.0, 45.0, &Unit::parse("ms"), 4);
        assert_eq!(labels(&axis), ["0", "20 ms", "40 ms", "60 ms"]);
        assert_eq!(Unit::parse("ms").format(1234.0), "1.23 s");
        assert_eq!(Unit::parse("s").format(0.0456), "45.6 ms");
    }

    #[test]
    fn bytes_percent_and_other_units() {
        let axis = value_axis(0.0, 3.0 * 1024.0 * 1024.0, &Unit::parse("By"), 4);
        assert_eq!(labels(&axis), ["0", "1 MiB", "2 MiB", "3 MiB"]);
        assert_eq!(
            labels(&value_axis(0.0, 80.0, &Unit::parse("%"), 4)),
            ["0", "20%", "40%", "60%", "80%"]
        );
        assert_eq!(labels(&value_axis(0.0, 3.0, &Unit::parse("{request}"), 3)), ["0", "1", "2", "3"]);
        assert_eq!(labels(&value_axis(0.0, 2.0, &Unit::parse("Cel"), 2)), ["0", "1 Cel", "2 Cel"]);
        assert_eq!(Unit::parse("1").format(12_345.0), "12.3k");
    }

    #[test]
    fn time_ticks_fall_on_round_clock_times() {
        let t0 = 1_764_930_000 * SECOND + 17 * SECOND; // 2025-12-05 10:20:17 UTC
        let ticks = time_ticks(t0, t0 + HOUR, 6, 0);
        let labels: Vec<&str> = ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["10:30", "10:40", "10:50", "11:00", "11:10", "11:20"]);
        assert!(ticks.iter().all(|(t, _)| t % (10 * MINUTE) == 0));
        // In a zone 5h30 east of UTC, ticks are round there.
        let ticks = time_ticks(t0, t0 + HOUR, 6, 5 * HOUR + 30 * MINUTE);
        assert_eq!(ticks[0].1, "16:00");
        let seconds = time_ticks(t0, t0 + 30 * SECOND, 6, 0);
        assert_eq!(seconds[0].1, "10:20:20");
        let days = time_ticks(t0, t0 + 7 * DAY, 7, 0);
        assert_eq!(days[0].1, "12-06");
        let midnight = time_ticks(t0 + 13 * HOUR, t0 + 15 * HOUR, 4, 0);
        assert!(midnight.iter().any(|(_, l)| l == "12-06"), "{midnight:?}");
    }

    #[test]
    fn counts_are_whole() {
        assert_eq!(labels(&count_axis(9.0, 4)), ["0", "5", "10"]);
        assert_eq!(labels(&count_axis(1.0, 4)), ["0", "1"]);
        assert_eq!(labels(&count_axis(511.0, 3)), ["0", "200", "400", "600"]);
    }

    #[test]
    fn since_choices_parse() {
        assert_eq!(parse_since("15m"), Some(15 * MINUTE));
        assert_eq!(parse_since("7d"), Some(7 * DAY));
        assert_eq!(parse_since("soon"), None);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_427), (2025, 12, 5));
    }
}
