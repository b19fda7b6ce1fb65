//! Raw file source: reading, ranges, bad inputs, name parsing, pacing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use num_complex::Complex32;
use proptest::prelude::*;
use radio::Error;
use radio::source::IqSource;
use radio::source::format::SampleFormat;
use radio::source::raw::{ParsedName, RawFileSource, RawOptions};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Reads a source to the end with blocks of at most `max`, checking indices and times.
fn read_all(src: &mut dyn IqSource, max: usize) -> Vec<Complex32> {
    let rate = src.info().sample_rate_hz;
    let mut all = Vec::new();
    let mut block = Vec::new();
    while let Some(meta) = src.read_block(max, &mut block).unwrap() {
        assert!(!block.is_empty() && block.len() <= max);
        assert_eq!(meta.sample_index, all.len() as u64);
        assert_eq!(meta.time_s, meta.sample_index as f64 / rate);
        all.extend_from_slice(&block);
    }
    assert!(block.is_empty(), "end of stream leaves the buffer empty");
    all
}

#[test]
fn known_answer_cu8_file() {
    let path = fixture("raw/known_433.92M_250k.cu8");
    let mut src = RawFileSource::open(&path, SampleFormat::Cu8, 250e3, 433.92e6).unwrap();
    assert_eq!(src.info().total_samples, Some(4));
    assert_eq!(src.info().center_hz, 433.92e6);
    let got = read_all(&mut src, 3);
    let s = |i: f32, q: f32| Complex32::new((i - 127.5) / 128.0, (q - 127.5) / 128.0);
    assert_eq!(
        got,
        vec![
            s(0.0, 255.0),
            s(127.0, 128.0),
            s(128.0, 127.0),
            s(255.0, 0.0)
        ]
    );
    // After the end: still None.
    let mut buf = Vec::new();
    assert!(src.read_block(16, &mut buf).unwrap().is_none());
}

#[test]
fn odd_byte_count_is_a_truncated_file() {
    let path = fixture("raw/odd_3_bytes.cu8");
    let err = RawFileSource::open(&path, SampleFormat::Cu8, 250e3, 0.0).unwrap_err();
    match &err {
        Error::TruncatedFile {
            path: p,
            format,
            len_bytes,
            bytes_per_sample,
        } => {
            assert_eq!(p, &path);
            assert_eq!(format, "cu8");
            assert_eq!((*len_bytes, *bytes_per_sample), (3, 2));
        }
        other => panic!("wrong error {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "{}: 3 bytes is not a whole number of cu8 samples (2 bytes each)",
            path.display()
        )
    );
    // The same file as ci16_le is 0.75 samples: also truncated.
    let err = RawFileSource::open(&path, SampleFormat::Ci16Le, 250e3, 0.0).unwrap_err();
    assert!(matches!(
        err,
        Error::TruncatedFile {
            bytes_per_sample: 4,
            ..
        }
    ));
    // Lenient mode keeps the one whole sample.
    let opts = RawOptions::new(SampleFormat::Cu8, 250e3, 0.0).allow_partial_tail(true);
    let mut src = RawFileSource::open_with(&path, &opts).unwrap();
    assert_eq!(src.dropped_tail_bytes(), 1);
    assert_eq!(read_all(&mut src, 8).len(), 1);
}

#[test]
fn bad_rate_and_centre_are_rejected() {
    let path = fixture("raw/known_433.92M_250k.cu8");
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = RawFileSource::open(&path, SampleFormat::Cu8, rate, 433.92e6).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "--rate"),
            "{rate}: {err}"
        );
    }
    let err = RawFileSource::open(&path, SampleFormat::Cu8, 0.0, 0.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: field `--rate`: sample rate must be a finite number > 0 Hz, got 0",
            path.display()
        )
    );
    let err = RawFileSource::open(&path, SampleFormat::Cu8, 1e3, f64::NAN).unwrap_err();
    assert!(matches!(&err, Error::InvalidField { field, .. } if field == "--center"));
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let path = fixture("raw/does-not-exist.cu8");
    let err = RawFileSource::open(&path, SampleFormat::Cu8, 1e3, 0.0).unwrap_err();
    assert!(matches!(&err, Error::Io { path: p, .. } if *p == path));
}

fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), bytes).unwrap();
    f
}

#[test]
fn range_reads_a_sub_range_and_checks_bounds() {
    let bytes: Vec<u8> = (0..=255).collect();
    let f = temp_file(&bytes);
    let mut all = Vec::new();
    SampleFormat::Ci16Le.decode(&bytes, &mut all);
    assert_eq!(all.len(), 64);

    let opts = RawOptions::new(SampleFormat::Ci16Le, 1e6, 1e9).range(10, Some(25));
    let mut src = RawFileSource::open_with(f.path(), &opts).unwrap();
    assert_eq!(src.range_start(), 10);
    assert_eq!(src.info().total_samples, Some(15));
    assert_eq!(read_all(&mut src, 4), all[10..25].to_vec());

    let opts = RawOptions::new(SampleFormat::Ci16Le, 1e6, 1e9).range(60, None);
    let mut src = RawFileSource::open_with(f.path(), &opts).unwrap();
    assert_eq!(read_all(&mut src, 100), all[60..].to_vec());

    let empty = RawOptions::new(SampleFormat::Ci16Le, 1e6, 1e9).range(64, None);
    let mut src = RawFileSource::open_with(f.path(), &empty).unwrap();
    assert!(read_all(&mut src, 4).is_empty());

    for (start, end) in [(10, Some(5)), (0, Some(65)), (65, None)] {
        let opts = RawOptions::new(SampleFormat::Ci16Le, 1e6, 1e9).range(start, end);
        let err = RawFileSource::open_with(f.path(), &opts).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field, .. } if field == "range"),
            "{start} {end:?}: {err}"
        );
    }
}

#[test]
fn zero_max_returns_end_without_reading() {
    let f = temp_file(&[1, 2, 3, 4]);
    let mut src = RawFileSource::open(f.path(), SampleFormat::Cu8, 1e3, 0.0).unwrap();
    let mut buf = vec![Complex32::new(1.0, 1.0)];
    assert!(src.read_block(0, &mut buf).unwrap().is_none());
    assert!(buf.is_empty());
}

#[test]
fn pacing_delivers_no_faster_than_the_sample_rate() {
    // 500 samples at 10 kS/s must take at least 50 ms (a lower bound: sleeps never return early).
    let f = temp_file(&[128; 1000]);
    let opts = RawOptions::new(SampleFormat::Cu8, 10e3, 0.0).realtime(true);
    let mut src = RawFileSource::open_with(f.path(), &opts).unwrap();
    let t0 = Instant::now();
    assert_eq!(read_all(&mut src, 100).len(), 500);
    assert!(
        t0.elapsed() >= Duration::from_millis(50),
        "{:?}",
        t0.elapsed()
    );
}

/// File name, expected centre, rate and format.
type NameRow = (&'static str, Option<f64>, Option<f64>, Option<SampleFormat>);

#[test]
fn name_parsing_table() {
    let cu8 = Some(SampleFormat::Cu8);
    let cf32 = Some(SampleFormat::Cf32Le);
    let table: [NameRow; 16] = [
        ("g001_433.92M_250k.cu8", Some(433.92e6), Some(250e3), cu8),
        (
            "/captures/ism/radiohead_g004_433.92M_250k.cu8",
            Some(433.92e6),
            Some(250e3),
            cu8,
        ),
        (
            "g005_868.3M_1024k.cs8",
            Some(868.3e6),
            Some(1024e3),
            Some(SampleFormat::Ci8),
        ),
        (
            "hackrf_2.4G_20M.ci8",
            Some(2.4e9),
            Some(20e6),
            Some(SampleFormat::Ci8),
        ),
        ("adsb_1090M_2.4M.cu8", Some(1090e6), Some(2.4e6), cu8),
        (
            "x_915MHz_2Msps.cs16",
            Some(915e6),
            Some(2e6),
            Some(SampleFormat::Ci16Le),
        ),
        ("x_100kHz_48ksps.cf32", Some(100e3), Some(48e3), cf32),
        (
            "GSMSP_20070204_robert_dbsrx_937MHz_16.cfile",
            Some(937e6),
            None,
            cf32,
        ),
        (
            "GSMSP_20070204_robert_dbsrx_953.6MHz_64.cfile",
            Some(953.6e6),
            None,
            cf32,
        ),
        (
            "GSoC_CTTC_capture_2012_07_26_4Msps_4ms.dat",
            None,
            Some(4e6),
            None,
        ),
        (
            "NT1065_GLONASS_L1_20160831_fs6625e6_if0e3_4ms.bin",
            None,
            None,
            None,
        ),
        ("dump1090_rs_test_00.iq", None, None, None),
        ("signal.1.92M.dat", Some(1.92e6), None, None),
        ("capture.fc32", None, None, cf32),
        ("capture.CU8", None, None, cu8),
        ("no-extension", None, None, None),
    ];
    for (name, center, rate, format) in table {
        let p = ParsedName::parse(name);
        assert_eq!(p.center_hz, center, "{name} centre");
        assert_eq!(p.sample_rate_hz, rate, "{name} rate");
        assert_eq!(p.format, format, "{name} format");
    }
}

proptest! {
    /// Any block size reads the same samples as one whole-file decode.
    #[test]
    fn block_size_does_not_change_samples(
        n_samples in 0usize..300,
        max in 1usize..70,
        format_index in 0usize..5,
        seed in any::<u8>(),
    ) {
        let format = SampleFormat::ALL[format_index];
        let bytes: Vec<u8> = (0..n_samples * format.bytes_per_sample())
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        let f = temp_file(&bytes);
        let mut want = Vec::new();
        format.decode(&bytes, &mut want);
        let mut src = RawFileSource::open(f.path(), format, 1e6, 0.0).unwrap();
        let got = read_all(&mut src, max);
        // Compare bits: cf32 bytes may be NaN.
        let bits = |v: &[Complex32]| v.iter().map(|c| (c.re.to_bits(), c.im.to_bits())).collect::<Vec<_>>();
        prop_assert_eq!(bits(&got), bits(&want));
    }

    /// Name parsing never panics on arbitrary text.
    #[test]
    fn name_parsing_never_panics(name in "\\PC{0,40}") {
        let _ = ParsedName::parse(&name);
    }
}
