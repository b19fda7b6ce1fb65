//! Band plans: built-ins with their real figures, fixture files (valid and broken), resolve,
//! channel selection by captured band.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use radio::Error;
use radio::bandplan::{self, BandPlan, builtin, builtin_names, resolve};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bands")
        .join(rel)
}

fn config(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testbed-configs/bands")
        .join(rel)
}

#[test]
fn builtins_have_their_real_figures() {
    // (name, channels, first (name, centre), last (name, centre), bandwidth)
    let table = [
        (
            "ism-433",
            69,
            ("LPD1", 433.075e6),
            ("LPD69", 434.775e6),
            25e3,
        ),
        (
            "adsb-1090",
            1,
            ("1090ES", 1090e6),
            ("1090ES", 1090e6),
            1.5e6,
        ),
        (
            "gsm900-dl",
            124,
            ("ARFCN 1", 935.2e6),
            ("ARFCN 124", 959.8e6),
            200e3,
        ),
        (
            "lte-b20-dl",
            3,
            ("EARFCN 6200", 796e6),
            ("EARFCN 6400", 816e6),
            10e6,
        ),
        ("uhf-tv", 28, ("CH21", 474e6), ("CH48", 690e6), 8e6),
        ("cbrs", 15, ("CBRS-1", 3555e6), ("CBRS-15", 3695e6), 10e6),
    ];
    assert_eq!(
        builtin_names(),
        table.iter().map(|t| t.0).collect::<Vec<_>>()
    );
    for (name, count, first, last, bw) in table {
        let plan = builtin(name).unwrap();
        assert_eq!(plan.name, name);
        assert!(!plan.description.is_empty());
        let ch = plan.channels();
        assert_eq!(ch.len(), count, "{name}");
        let (f, l) = (ch.first().unwrap(), ch.last().unwrap());
        assert_eq!((f.name.as_str(), f.center_hz), first, "{name} first");
        assert!(
            (l.center_hz - last.1).abs() < 1e-3,
            "{name} last {}",
            l.center_hz
        );
        assert_eq!(l.name, last.0, "{name}");
        assert!(ch.iter().all(|c| c.bandwidth_hz == bw), "{name}");
        // The builtin equals the file on disk.
        assert_eq!(
            BandPlan::load(config(&format!("{name}.toml")))
                .unwrap()
                .channels,
            plan.channels
        );
    }
    // Band edges.
    let edges = |name: &str| builtin(name).unwrap().span_hz();
    assert_eq!(edges("ism-433"), (433.0625e6, 434.7875e6));
    let (lo, hi) = edges("gsm900-dl");
    assert!((lo - 935.1e6).abs() < 1e-3 && (hi - 959.9e6).abs() < 1e-3);
    assert_eq!(edges("lte-b20-dl"), (791e6, 821e6));
    assert_eq!(edges("uhf-tv"), (470e6, 694e6));
    assert_eq!(edges("cbrs"), (3550e6, 3700e6));
}

#[test]
fn ism_433_in_a_250k_capture_keeps_lpd_31_to_38() {
    let plan = builtin("ism-433").unwrap();
    // 250 kS/s at 433.92 MHz, 5 % edge crop each side.
    let (fc, fs, crop) = (433.92e6, 250e3, 0.05);
    let inside = plan.channels_within(fc - fs * (0.5 - crop), fc + fs * (0.5 - crop));
    let names: Vec<String> = inside.iter().map(|c| c.name.clone()).collect();
    assert_eq!(
        names,
        (31..=38).map(|n| format!("LPD{n}")).collect::<Vec<_>>()
    );
    // ADS-B fits a 2 MS/s capture after the crop.
    let adsb = builtin("adsb-1090").unwrap();
    assert_eq!(
        adsb.channels_within(1090e6 - 0.9e6, 1090e6 + 0.9e6).len(),
        1
    );
    assert!(
        adsb.channels_within(1090e6 - 0.7e6, 1090e6 + 0.7e6)
            .is_empty()
    );
}

#[test]
fn mixed_fixture_expands_ranges() {
    let plan = BandPlan::load(fixture("valid-mixed.toml")).unwrap();
    let got: Vec<(String, f64, f64)> = plan
        .channels()
        .into_iter()
        .map(|c| (c.name, c.center_hz, c.bandwidth_hz))
        .collect();
    assert_eq!(
        got,
        vec![
            ("pilot".to_owned(), 100.0e6, 50e3),
            ("ch10".to_owned(), 100.1e6, 80e3),
            ("ch12".to_owned(), 100.2e6, 80e3),
            ("ch14".to_owned(), 100.3e6, 80e3),
        ]
    );
}

/// Every broken fixture: variant, file, line, column, key, and the whole message.
#[test]
fn broken_fixtures_name_file_line_column_and_key() {
    let cases = [
        (
            "unknown-key.toml",
            11,
            1,
            "channel[1].bandwith_hz",
            "unknown field `bandwith_hz`",
        ),
        (
            "duplicate-name.toml",
            8,
            1,
            "range[0].name",
            "duplicate channel name `LPD35`",
        ),
        (
            "zero-bandwidth.toml",
            3,
            1,
            "channel[0].bandwidth_hz",
            "must be a finite number > 0, got 0",
        ),
        (
            "wrong-type.toml",
            5,
            13,
            "channel[0].center_hz",
            "invalid type: string \"433.92 MHz\", expected f64",
        ),
        (
            "bad-syntax.toml",
            2,
            11,
            "-",
            "unclosed array table, expected `]`",
        ),
    ];
    for (file, line, column, key, message_start) in cases {
        let path = fixture(file);
        let err = BandPlan::load(&path).unwrap_err();
        let Error::InvalidToml {
            path: p,
            line: l,
            column: c,
            key: k,
            message,
        } = &err
        else {
            panic!("{file}: wrong variant {err:?}");
        };
        assert_eq!(p, &path);
        assert_eq!(
            (*l, *c, k.as_str()),
            (line, column, key),
            "{file}: {message}"
        );
        assert!(message.starts_with(message_start), "{file}: {message}");
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("{}:{line}:{column}: {key}: ", path.display())),
            "{shown}"
        );
    }
}

#[test]
fn tampered_values_fail_validation() {
    let base = std::fs::read_to_string(fixture("valid-mixed.toml")).unwrap();
    let cases = [
        (
            "spacing_hz = 100_000.0",
            "spacing_hz = -1.0",
            "range[0].spacing_hz",
        ),
        ("count = 3", "count = 0", "range[0].count"),
        ("count = 3", "count = 200000", "range[0].count"),
        ("count = 3", "count = -3", "range[0].count"),
        (
            "bandwidth_hz = 50_000.0",
            "bandwidth_hz = nan",
            "channel[0].bandwidth_hz",
        ),
        (
            "center_hz = 100_000_000.0",
            "center_hz = 10.0",
            "channel[0].center_hz",
        ),
        ("name = \"pilot\"", "name = \" \"", "channel[0].name"),
        ("name = \"pilot\"", "name = \"ch12\"", "range[0].name"),
        ("name = \"test-mixed\"\n", "", "name"),
    ];
    for (from, to, key) in cases {
        assert!(base.contains(from), "{from}");
        let text = base.replacen(from, to, 1);
        let err = BandPlan::parse(&text, Path::new("t.toml")).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidToml { key: k, .. } if k == key),
            "{to}: {err}"
        );
    }
    let err = BandPlan::parse("name = \"empty\"\n", Path::new("e.toml")).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidToml { key, .. } if key == "channel"),
        "{err}"
    );
}

#[test]
fn resolve_takes_names_and_paths() {
    assert_eq!(resolve("gsm900-dl").unwrap().channels.len(), 124);
    let path = fixture("valid-mixed.toml");
    assert_eq!(resolve(path.to_str().unwrap()).unwrap().name, "test-mixed");
    let err = resolve("gsm1800").unwrap_err();
    assert!(matches!(&err, Error::UnknownBandPlan { name, .. } if name == "gsm1800"));
    assert_eq!(
        err.to_string(),
        "unknown band plan `gsm1800` (known: ism-433, adsb-1090, gsm900-dl, lte-b20-dl, uhf-tv, cbrs)"
    );
    assert!(matches!(
        bandplan::builtin("nope"),
        Err(Error::UnknownBandPlan { .. })
    ));
    // A broken file given by path reports its own error, not "unknown".
    let broken = fixture("unknown-key.toml");
    assert!(matches!(
        resolve(broken.to_str().unwrap()),
        Err(Error::InvalidToml { .. })
    ));
}
