//! How numbers, times, durations and attribute values are written in the UI.

use serde_json::Value;

/// `1.23 s`, `45.6 ms`, `789 µs`, `12 ns`: three significant figures at most.
pub fn duration(ns: i64) -> String {
    if ns < 0 {
        return format!("-{}", duration(ns.saturating_neg()));
    }
    let n = ns as f64;
    let (value, unit) = if n >= 60e9 {
        return minutes(ns);
    } else if n >= 1e9 {
        (n / 1e9, "s")
    } else if n >= 1e6 {
        (n / 1e6, "ms")
    } else if n >= 1e3 {
        (n / 1e3, "µs")
    } else {
        return format!("{ns} ns");
    };
    format!("{} {unit}", significant(value))
}

fn minutes(ns: i64) -> String {
    let secs = ns / 1_000_000_000;
    format!("{}m {:02}s", secs / 60, secs % 60)
}

fn significant(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A wall-clock time in the browser's time zone, `HH:MM:SS.mmm`, with the date when not today.
pub fn time(unix_nano: i64) -> String {
    let date = js_sys::Date::new(&((unix_nano / 1_000_000) as f64).into());
    let today = js_sys::Date::new_0();
    let clock = format!(
        "{:02}:{:02}:{:02}.{:03}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds(),
        date.get_milliseconds()
    );
    if date.to_date_string() == today.to_date_string() {
        clock
    } else {
        format!(
            "{}-{:02}-{:02} {clock}",
            date.get_full_year(),
            date.get_month() + 1,
            date.get_date()
        )
    }
}

/// `3s ago`, `5m ago`, `2h ago`, `4d ago`.
pub fn ago(unix_nano: i64) -> String {
    let now_ms = js_sys::Date::now();
    let secs = ((now_ms - (unix_nano / 1_000_000) as f64) / 1000.0).max(0.0) as i64;
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

/// How many of how many a list shows: `200 of 473`, `200 of at least 10,000` when counting
/// stopped (`capped`), or just `12` when the page holds every match.
pub fn shown_of(shown: usize, total: Option<i64>, capped: bool) -> String {
    match total {
        Some(all) if capped => format!("{} of at least {}", count(shown as i64), count(all)),
        Some(all) if all > shown as i64 => format!("{} of {}", count(shown as i64), count(all)),
        Some(_) => count(shown as i64),
        None => format!("{} (more may match)", count(shown as i64)),
    }
}

/// `12,345`.
pub fn count(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// `1.5 KiB`, `2.0 GiB`.
pub fn bytes(n: i64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n.max(0) as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// An attribute value as text: strings bare, everything else as compact JSON.
pub fn value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first 8 hex digits of an id: enough to tell traces apart on screen.
pub fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// A string literal of the filter language: `"..."` with `"` and `\` escaped.
pub fn filter_literal(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(999), "999 ns");
        assert_eq!(duration(1_500), "1.50 µs");
        assert_eq!(duration(45_600_000), "45.6 ms");
        assert_eq!(duration(1_234_000_000), "1.23 s");
        assert_eq!(duration(125_000_000_000), "2m 05s");
        assert_eq!(duration(-5_000_000), "-5.00 ms");
    }

    #[test]
    fn counts_and_bytes() {
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(-1000), "-1,000");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
    }

    #[test]
    fn lists_say_how_many_of_how_many() {
        assert_eq!(shown_of(12, Some(12), false), "12");
        assert_eq!(shown_of(200, Some(473), false), "200 of 473");
        assert_eq!(shown_of(200, Some(10_000), true), "200 of at least 10,000");
        assert_eq!(shown_of(200, None, false), "200 (more may match)");
    }

    #[test]
    fn filter_literals_escape_quotes() {
        assert_eq!(filter_literal(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }
}
