//! The real captures in `shared/iq-captures` (see its MANIFEST.toml): every file reads to
//! exactly the manifest's sample count in its format, names parse to the manifest's figures,
//! and the Q-first int16 files decode as swapped `ci16_le`.
//!
//! Captures come from `$TRUSTBAND_CAPTURES`, else `<workspace>/../shared/iq-captures`; if the
//! folder is absent the tests print a note and return.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use num_complex::Complex32;
use radio::Error;
use radio::source::IqSource;
use radio::source::format::SampleFormat;
use radio::source::raw::{ParsedName, RawFileSource, RawOptions};

fn captures_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TRUSTBAND_CAPTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/iq-captures"),
        PathBuf::from,
    );
    if dir.join("MANIFEST.toml").is_file() {
        Some(dir)
    } else {
        eprintln!("note: no captures at {}; skipping", dir.display());
        None
    }
}

#[derive(Debug)]
struct Entry {
    path: String,
    format: SampleFormat,
    rate: f64,
    center: Option<f64>,
    samples: u64,
}

fn manifest(dir: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    doc["capture"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Entry {
            path: c["path"].as_str().unwrap().to_owned(),
            format: c["format"].as_str().unwrap().parse().unwrap(),
            rate: c["sample_rate_hz"].as_float().unwrap(),
            center: c.get("center_freq_hz").and_then(toml::Value::as_float),
            samples: u64::try_from(c["samples"].as_integer().unwrap()).unwrap(),
        })
        .collect()
}

fn count_samples(src: &mut RawFileSource) -> u64 {
    let mut buf = Vec::new();
    let mut n = 0;
    while let Some(meta) = src.read_block(65_536, &mut buf).unwrap() {
        assert_eq!(meta.sample_index, n);
        n += buf.len() as u64;
    }
    n
}

#[test]
fn every_capture_reads_to_its_manifest_sample_count() {
    let Some(dir) = captures_dir() else { return };
    let entries = manifest(&dir);
    assert!(entries.len() >= 30, "{} entries", entries.len());
    let mut formats_seen = Vec::new();
    for e in &entries {
        let path = dir.join(&e.path);
        let center = e.center.unwrap_or(0.0);
        let mut src = match RawFileSource::open(&path, e.format, e.rate, center) {
            Ok(src) => src,
            Err(Error::TruncatedFile { len_bytes, .. }) => {
                // One published file is cut mid-sample (NT1065: 4 bytes short); the manifest
                // counts whole samples.
                assert_eq!(
                    len_bytes % e.format.bytes_per_sample() as u64,
                    4,
                    "{}",
                    e.path
                );
                let opts = RawOptions::new(e.format, e.rate, center).allow_partial_tail(true);
                RawFileSource::open_with(&path, &opts).unwrap()
            }
            Err(other) => panic!("{}: {other}", e.path),
        };
        assert_eq!(src.info().total_samples, Some(e.samples), "{}", e.path);
        assert_eq!(count_samples(&mut src), e.samples, "{}", e.path);
        if !formats_seen.contains(&e.format) {
            formats_seen.push(e.format);
        }
    }
    for f in [
        SampleFormat::Cu8,
        SampleFormat::Ci16LeQi,
        SampleFormat::Cf32Le,
    ] {
        assert!(formats_seen.contains(&f), "no {f} capture");
    }
}

#[test]
fn truncated_published_capture_is_refused_by_default() {
    let Some(dir) = captures_dir() else { return };
    let path = dir.join("gnss-noise/NT1065_GLONASS_L1_20160831_fs6625e6_if0e3_4ms.bin");
    let err = RawFileSource::open(&path, SampleFormat::Cf32Le, 6.625e6, 1602e6).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TruncatedFile {
                len_bytes: 211_996,
                bytes_per_sample: 8,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn names_agree_with_the_manifest_where_they_say_something() {
    let Some(dir) = captures_dir() else { return };
    let mut checked = 0;
    for e in manifest(&dir) {
        let parsed = ParsedName::parse(&e.path);
        if let Some(f) = parsed.format {
            assert_eq!(f, e.format, "{}", e.path);
            checked += 1;
        }
        if let Some(rate) = parsed.sample_rate_hz {
            assert_eq!(rate, e.rate, "{}", e.path);
            checked += 1;
        }
        // rtl_433 reads a bare `M` as a centre; srsRAN's `signal.1.92M.dat` means the rate.
        if let (Some(c), Some(want)) = (parsed.center_hz, e.center) {
            assert_eq!(c, want, "{}", e.path);
            checked += 1;
        }
    }
    // 11 ism-433 files (format, rate, centre) + 5 GSM .cfile (format, centre) + 1 GNSS rate.
    assert_eq!(checked, 11 * 3 + 5 * 2 + 1);
}

#[test]
fn q_first_int16_is_swapped_ci16() {
    let Some(dir) = captures_dir() else { return };
    let path = dir.join("adsb-1090/dump1090_rs_test_1641427457780.iq");
    let read = |format| {
        let mut src = RawFileSource::open(&path, format, 2.4e6, 1090e6).unwrap();
        let mut buf = Vec::new();
        src.read_block(4096, &mut buf).unwrap().unwrap();
        buf
    };
    let qi = read(SampleFormat::Ci16LeQi);
    let iq = read(SampleFormat::Ci16Le);
    let swapped: Vec<Complex32> = iq.iter().map(|s| Complex32::new(s.im, s.re)).collect();
    assert_eq!(qi, swapped);
    assert!(qi.iter().any(|s| s.re != s.im), "not a degenerate block");
}
