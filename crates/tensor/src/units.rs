//! Sizes and counts for people: parsing `5GB` / `2GiB`, printing `1.5 GiB` and `124.4M`. Every
//! command and every generated document uses these, so one file is described the same way
//! everywhere.

/// Parse a size: a byte count, or a number with a unit (`KB`, `MB`, `GB`, `TB` are powers of 1000,
/// `KiB`, `MiB`, `GiB`, `TiB` powers of 1024), as `transformers` reads `max_shard_size`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("invalid size {s:?}"))?;
    let mult: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "KB" | "K" => 1e3,
        "MB" | "M" => 1e6,
        "GB" | "G" => 1e9,
        "TB" | "T" => 1e12,
        "KIB" => 1024.0,
        "MIB" => 1024.0 * 1024.0,
        "GIB" => 1024.0 * 1024.0 * 1024.0,
        "TIB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("invalid size unit in {s:?}")),
    };
    let bytes = value * mult;
    if !(1.0..=u64::MAX as f64).contains(&bytes) {
        return Err(format!("size {s:?} out of range"));
    }
    Ok(bytes as u64)
}

/// Format a byte count for people, in powers of 1024 (`1.5 GiB`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Format a parameter count for people (`124.4M`).
pub fn human_count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}K", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{:.2}B", n as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("5GB"), Ok(5_000_000_000));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("1.5MB"), Ok(1_500_000));
        assert!(parse_size("5XB").is_err());
        assert!(parse_size("0").is_err());
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_count(8_030_261_248), "8.03B");
        assert_eq!(human_count(124_439_808), "124.4M");
    }
}
