//! Sample formats: names, sizes, known-answer decoding, encode/decode round trips, and a
//! property test that decoding arbitrary bytes never panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use num_complex::Complex32;
use proptest::prelude::*;
use radio::Error;
use radio::source::format::{ACCEPTED_NAMES, SampleFormat};

#[test]
fn names_parse_and_display() {
    let table = [
        ("cu8", SampleFormat::Cu8, 2),
        ("ci8", SampleFormat::Ci8, 2),
        ("cs8", SampleFormat::Ci8, 2),
        ("ci16_le", SampleFormat::Ci16Le, 4),
        ("ci16_le_qi", SampleFormat::Ci16LeQi, 4),
        ("cf32_le", SampleFormat::Cf32Le, 8),
        ("CF32_LE", SampleFormat::Cf32Le, 8),
    ];
    for (name, format, bytes) in table {
        let parsed: SampleFormat = name.parse().unwrap();
        assert_eq!(parsed, format, "{name}");
        assert_eq!(parsed.bytes_per_sample(), bytes, "{name}");
    }
    for f in SampleFormat::ALL {
        assert_eq!(f.to_string().parse::<SampleFormat>().unwrap(), f);
    }
    assert_eq!(SampleFormat::Ci8.to_string(), "ci8");
}

#[test]
fn unknown_name_lists_accepted_names() {
    let err = "cs16".parse::<SampleFormat>().unwrap_err();
    assert!(matches!(&err, Error::UnknownFormat { got, .. } if got == "cs16"));
    assert_eq!(
        err.to_string(),
        format!("--format: unknown sample format `cs16` (expected one of {ACCEPTED_NAMES})")
    );
}

#[test]
fn sigmf_datatypes_map_both_ways() {
    let meta = Path::new("rec.sigmf-meta");
    for f in SampleFormat::ALL {
        match f.sigmf_datatype() {
            Some(dt) => assert_eq!(SampleFormat::from_sigmf_datatype(dt, meta).unwrap(), f),
            None => assert_eq!(f, SampleFormat::Ci16LeQi),
        }
    }
    let err = SampleFormat::from_sigmf_datatype("ri8", meta).unwrap_err();
    assert_eq!(
        err.to_string(),
        "rec.sigmf-meta: global.core:datatype: unknown sample format `ri8` \
         (expected one of cu8, ci8, ci16_le, cf32_le)"
    );
}

#[test]
fn known_answers_per_format() {
    let c = Complex32::new;
    let cases: [(SampleFormat, Vec<u8>, Vec<Complex32>); 5] = [
        (
            SampleFormat::Cu8,
            vec![0, 255, 127, 128],
            vec![
                c(-127.5 / 128.0, 127.5 / 128.0),
                c(-0.5 / 128.0, 0.5 / 128.0),
            ],
        ),
        (
            SampleFormat::Ci8,
            vec![0x80, 0x7f, 0x40, 0xff],
            vec![c(-1.0, 127.0 / 128.0), c(0.5, -1.0 / 128.0)],
        ),
        (
            SampleFormat::Ci16Le,
            vec![0x00, 0x80, 0x00, 0x40],
            vec![c(-1.0, 0.5)],
        ),
        (
            // Stored Q first: Q = -32768, I = 16384.
            SampleFormat::Ci16LeQi,
            vec![0x00, 0x80, 0x00, 0x40],
            vec![c(0.5, -1.0)],
        ),
        (
            SampleFormat::Cf32Le,
            [0.25_f32, -2.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            vec![c(0.25, -2.0)],
        ),
    ];
    for (format, bytes, want) in cases {
        let mut got = Vec::new();
        assert_eq!(format.decode(&bytes, &mut got), want.len(), "{format}");
        assert_eq!(got, want, "{format}");
        let mut back = Vec::new();
        format.encode(&got, &mut back);
        assert_eq!(back, bytes, "{format}");
    }
}

#[test]
fn decode_appends_and_ignores_partial_tail() {
    let mut out = vec![Complex32::new(9.0, 9.0)];
    let n = SampleFormat::Ci16Le.decode(&[0, 0, 0, 0, 1, 2, 3], &mut out);
    assert_eq!(n, 1);
    assert_eq!(
        out,
        vec![Complex32::new(9.0, 9.0), Complex32::new(0.0, 0.0)]
    );
}

#[test]
fn encode_saturates_out_of_range_values() {
    let loud = [Complex32::new(3.0, -3.0), Complex32::new(f32::NAN, 0.0)];
    let mut bytes = Vec::new();
    SampleFormat::Cu8.encode(&loud, &mut bytes);
    assert_eq!(bytes, vec![255, 0, 128, 128]);
    bytes.clear();
    SampleFormat::Ci16Le.encode(&loud[..1], &mut bytes);
    assert_eq!(
        bytes,
        [i16::MAX.to_le_bytes(), i16::MIN.to_le_bytes()].concat()
    );
}

proptest! {
    /// Any bytes decode without panicking into floor(len / size) samples, all finite for the
    /// integer formats within ±1, and encode back to the same whole-sample bytes.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for format in SampleFormat::ALL {
            let mut out = Vec::new();
            let n = format.decode(&bytes, &mut out);
            let whole = bytes.len() / format.bytes_per_sample();
            prop_assert_eq!(n, whole);
            prop_assert_eq!(out.len(), whole);
            if format != SampleFormat::Cf32Le {
                prop_assert!(out.iter().all(|s| s.re.abs() <= 1.0 && s.im.abs() <= 1.0));
            }
            let mut back = Vec::new();
            format.encode(&out, &mut back);
            prop_assert_eq!(&back[..], &bytes[..whole * format.bytes_per_sample()]);
        }
    }
}
