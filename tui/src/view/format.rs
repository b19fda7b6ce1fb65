//! Text forms of the model's numbers: times, frequencies, amounts, difficulties, sparklines.

/// Milliseconds since the Unix epoch from this value on are shown as a UTC clock time;
/// smaller values (replays, scenarios) as time since the start.
const EPOCH_CUTOFF_MS: u64 = 1_000_000_000_000;

/// `HH:MM:SS` (UTC) for wall-clock times, `T+MM:SS` (or `T+H:MM:SS`) for scenario times.
pub fn clock(at_ms: u64) -> String {
    let s = at_ms / 1000;
    if at_ms >= EPOCH_CUTOFF_MS {
        let d = s % 86_400;
        format!("{:02}:{:02}:{:02}", d / 3600, (d / 60) % 60, d % 60)
    } else if s >= 3600 {
        format!("T+{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("T+{:02}:{:02}", s / 60, s % 60)
    }
}

/// A duration as a short age: `4s`, `12m`, `3h`, `2d`.
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    if s < 100 {
        format!("{s}s")
    } else if s < 100 * 60 {
        format!("{}m", s / 60)
    } else if s < 48 * 3600 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// Frequency in MHz with enough decimals to tell apart points `resolution_hz` apart.
pub fn mhz(hz: f64, resolution_hz: f64) -> String {
    let decimals = if resolution_hz >= 1e6 {
        1
    } else if resolution_hz >= 1e5 {
        2
    } else if resolution_hz >= 1e4 {
        3
    } else if resolution_hz >= 1e3 {
        4
    } else {
        6
    };
    format!("{:.*}", decimals, hz / 1e6)
}

/// A bandwidth or span: `25k`, `400k`, `2.4M`, `10M`.
pub fn hz_short(hz: f64) -> String {
    let (v, unit) = if hz.abs() >= 1e9 {
        (hz / 1e9, "G")
    } else if hz.abs() >= 1e6 {
        (hz / 1e6, "M")
    } else if hz.abs() >= 1e3 {
        (hz / 1e3, "k")
    } else {
        (hz, "")
    };
    trim_number(v, unit)
}

/// Compact count: `950`, `12.3k`, `4.56M`, `7.9G`, `1.2T`, up to `E`; beyond, scientific.
pub fn compact(v: f64) -> String {
    const UNITS: [(f64, &str); 6] = [
        (1e18, "E"),
        (1e15, "P"),
        (1e12, "T"),
        (1e9, "G"),
        (1e6, "M"),
        (1e3, "k"),
    ];
    if !v.is_finite() {
        return String::from("?");
    }
    if v.abs() >= 1e21 {
        return format!("{v:.1e}");
    }
    if v.abs() < 1e4 {
        return if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        };
    }
    for (scale, unit) in UNITS {
        if v.abs() >= scale {
            return trim_number(v / scale, unit);
        }
    }
    format!("{v:.0}")
}

/// Three significant digits at most, trailing zeros dropped: `2.4M`, `12.3k`, `400k`.
fn trim_number(v: f64, unit: &str) -> String {
    let digits = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    format!("{s}{unit}")
}

/// An amount in base units shown in Sharecoin (`decimals` places per coin; 0 shows base
/// units), compact.
pub fn amount(v: u128, decimals: u8) -> String {
    // Display only: f64's 53-bit mantissa is plenty for three significant digits.
    #[allow(clippy::cast_precision_loss)]
    let base = v as f64;
    let coins = base / 10f64.powi(i32::from(decimals));
    compact(coins)
}

/// Difficulty (expected hashes), compact.
pub fn difficulty(d: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let v = d as f64;
    compact(v)
}

/// Head of a hex hash: its first `n` characters (all of it if shorter).
pub fn short_hash(h: &str, n: usize) -> &str {
    let h = h.strip_prefix("0x").unwrap_or(h);
    match h.char_indices().nth(n) {
        Some((i, _)) => h.get(..i).unwrap_or(h),
        None => h,
    }
}

/// Eight levels of a sparkline cell, lowest first.
const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` values of `history` (each in [0, 1]; out-of-range values are clamped)
/// as a sparkline on an absolute scale, so nodes can be compared by eye.
pub fn sparkline(history: &[f32], width: usize) -> String {
    let start = history.len().saturating_sub(width);
    history
        .get(start..)
        .unwrap_or(&[])
        .iter()
        .map(|&v| {
            let v = if v.is_finite() {
                v.clamp(0.0, 1.0)
            } else {
                0.0
            };
            // v in [0, 1] → level 0..=7; the float-to-usize cast saturates and the index is
            // clamped again by `get`.
            let level = (v * 7.0).round() as usize;
            SPARK.get(level.min(7)).copied().unwrap_or(' ')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_forms() {
        // 2024-01-02T03:04:05Z
        assert_eq!(clock(1_704_164_645_000), "03:04:05");
        assert_eq!(clock(65_500), "T+01:05");
        assert_eq!(clock(3_725_000), "T+1:02:05");
    }

    #[test]
    fn ages() {
        assert_eq!(age(4_999), "4s");
        assert_eq!(age(720_000), "12m");
        assert_eq!(age(3 * 3_600_000), "3h");
        assert_eq!(age(3 * 86_400_000), "3d");
    }

    #[test]
    fn numbers() {
        assert_eq!(hz_short(25_000.0), "25k");
        assert_eq!(hz_short(2_400_000.0), "2.4M");
        assert_eq!(hz_short(10e6), "10M");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(compact(4_560_000.0), "4.56M");
        assert_eq!(compact(f64::NAN), "?");
        assert_eq!(amount(1_500_000_000_000_000_000, 18), "1.50");
        assert_eq!(amount(123_456, 0), "123k");
        assert_eq!(amount(u128::MAX, 0), "3.4e38");
        assert_eq!(difficulty(4096), "4096");
        assert_eq!(mhz(599_200_000.0, 20_000.0), "599.200");
        assert_eq!(mhz(433_920_000.0, 2_000.0), "433.9200");
    }

    #[test]
    fn hashes_and_sparklines() {
        assert_eq!(short_hash("0xdeadbeefcafe", 8), "deadbeef");
        assert_eq!(short_hash("abc", 8), "abc");
        assert_eq!(sparkline(&[0.0, 0.5, 1.0, 2.0, f32::NAN], 10), "▁▅██▁");
        assert_eq!(sparkline(&[0.0, 0.5, 1.0], 2), "▅█");
        assert_eq!(sparkline(&[], 4), "");
    }
}
