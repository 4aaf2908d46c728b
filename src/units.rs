//! Parsing of the human units used by flags and query parameters: durations (`250ms`, `15m`,
//! `7d`) and sizes (`512MiB`, `2GiB`, `1GB`).

use std::time::Duration;

/// `250ms`, `2s`, `1.5s`, `15m`, `12h`, `7d`, `2w`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("expected a duration like 250ms, 15m, 12h or 7d, got '{text}'"))?;
    let seconds = match unit.trim() {
        "ns" => value / 1e9,
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86400.0,
        "w" => value * 7.0 * 86400.0,
        other => return Err(format!("unknown duration unit '{other}' in '{text}'; use ms, s, m, h, d or w")),
    };
    if !seconds.is_finite() || !(0.0..=1e12).contains(&seconds) {
        return Err(format!("duration '{text}' is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `512MiB`, `2GiB`, `1GB`, `100MB`, `4096` (bytes); KiB/MiB/GiB are powers of 1024, KB/MB/GB of 1000.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("expected a size like 512MiB or 2GiB, got '{text}'"))?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024f64.powi(4),
        other => return Err(format!("unknown size unit '{other}' in '{text}'; use MiB, GiB, MB or GB")),
    };
    let bytes = value * factor;
    if !bytes.is_finite() || bytes < 0.0 {
        return Err(format!("size '{text}' is out of range"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86400));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("7").is_ok());
        assert!(parse_duration("7x").unwrap_err().contains("unknown duration unit"));
        assert!(parse_duration("abc").unwrap_err().contains("expected a duration"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert!(parse_size("2 parsecs").is_err());
    }
}
