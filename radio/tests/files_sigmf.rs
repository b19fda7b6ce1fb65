//! SigMF: reading fixtures (valid and broken), write/read round trips per datatype,
//! annotation merging for recordings and raw files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use num_complex::Complex32;
use radio::Error;
use radio::detector::ChannelDecision;
use radio::source::format::SampleFormat;
use radio::source::raw::RawFileSource;
use radio::source::sigmf::{
    AnnotationTarget, Detection, GeoPoint, RecordingConfig, SigmfMeta, SigmfSource, SigmfWriter,
    detections_from_decisions, recording_paths, write_annotations,
};
use radio::source::{BlockMeta, IqSource};
use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sigmf")
        .join(rel)
}

fn read_blocks(src: &mut dyn IqSource, max: usize) -> Vec<(BlockMeta, Vec<Complex32>)> {
    let mut blocks = Vec::new();
    let mut buf = Vec::new();
    while let Some(meta) = src.read_block(max, &mut buf).unwrap() {
        blocks.push((meta, buf.clone()));
    }
    blocks
}

#[test]
fn two_captures_fixture_reads_with_per_capture_centre() {
    let mut src = SigmfSource::open(fixture("two_captures.sigmf-meta")).unwrap();
    let info = src.info().clone();
    assert_eq!(info.sample_rate_hz, 2e6);
    assert_eq!(info.center_hz, 433.92e6);
    assert_eq!(info.total_samples, Some(8));
    assert_eq!(info.datetime.as_deref(), Some("2024-05-01T12:00:00Z"));
    assert_eq!(src.format(), SampleFormat::Ci8);

    // Blocks of 4: [0,4) [4,5) at 433.92 MHz, then [5,8) at 868.3 MHz: none spans the retune.
    let blocks = read_blocks(&mut src, 4);
    let shape: Vec<(u64, usize, f64)> = blocks
        .iter()
        .map(|(m, b)| (m.sample_index, b.len(), m.center_hz))
        .collect();
    assert_eq!(
        shape,
        vec![(0, 4, 433.92e6), (4, 1, 433.92e6), (5, 3, 868.3e6)]
    );
    assert_eq!(blocks[2].0.time_s, 5.0 / 2e6);
    let samples: Vec<Complex32> = blocks.into_iter().flat_map(|(_, b)| b).collect();
    let want: Vec<Complex32> = (0..8)
        .map(|k| Complex32::new(k as f32 / 128.0, -(k as f32) / 128.0))
        .collect();
    assert_eq!(samples, want);
}

#[test]
fn late_first_capture_and_header_bytes_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(fixture("two_captures.sigmf-meta")).unwrap();
    let data = std::fs::read(fixture("two_captures.sigmf-data")).unwrap();
    let want: Vec<Complex32> = (0..8)
        .map(|k| Complex32::new(k as f32 / 128.0, -(k as f32) / 128.0))
        .collect();

    // First capture at sample 2: samples 0 and 1 belong to no capture and are skipped.
    let meta = dir.path().join("late.sigmf-meta");
    std::fs::write(
        &meta,
        base.replacen("\"core:sample_start\": 0", "\"core:sample_start\": 2", 1),
    )
    .unwrap();
    std::fs::write(dir.path().join("late.sigmf-data"), &data).unwrap();
    let mut src = SigmfSource::open(&meta).unwrap();
    assert_eq!(src.info().total_samples, Some(6));
    let blocks = read_blocks(&mut src, 100);
    let shape: Vec<(u64, usize)> = blocks
        .iter()
        .map(|(m, b)| (m.sample_index, b.len()))
        .collect();
    assert_eq!(shape, vec![(2, 3), (5, 3)]);
    assert_eq!(blocks[0].1, want[2..5].to_vec());

    // 3 junk header bytes before the first capture, 1 before the second.
    let meta = dir.path().join("hdr.sigmf-meta");
    let text = base
        .replacen(
            "\"core:sample_start\": 0,",
            "\"core:sample_start\": 0, \"core:header_bytes\": 3,",
            1,
        )
        .replacen(
            "\"core:sample_start\": 5,",
            "\"core:sample_start\": 5, \"core:header_bytes\": 1,",
            1,
        );
    std::fs::write(&meta, text).unwrap();
    let mut with_headers = vec![0xAA; 3];
    with_headers.extend_from_slice(&data[..10]);
    with_headers.push(0xBB);
    with_headers.extend_from_slice(&data[10..]);
    std::fs::write(dir.path().join("hdr.sigmf-data"), &with_headers).unwrap();
    let mut src = SigmfSource::open(&meta).unwrap();
    assert_eq!(src.info().total_samples, Some(8));
    let got: Vec<Complex32> = read_blocks(&mut src, 100)
        .into_iter()
        .flat_map(|(_, b)| b)
        .collect();
    assert_eq!(got, want);
}

#[test]
fn data_path_or_bare_name_open_the_same_recording() {
    let via_data = SigmfSource::open(fixture("two_captures.sigmf-data")).unwrap();
    let via_name = SigmfSource::open(fixture("two_captures")).unwrap();
    assert_eq!(via_data.meta_path(), fixture("two_captures.sigmf-meta"));
    assert_eq!(via_name.data_path(), fixture("two_captures.sigmf-data"));
    let (meta, data) = recording_paths("dir/g001_433.92M_250k").unwrap();
    assert_eq!(meta, Path::new("dir/g001_433.92M_250k.sigmf-meta"));
    assert_eq!(data, Path::new("dir/g001_433.92M_250k.sigmf-data"));
    assert!(matches!(
        recording_paths("x.sigmf"),
        Err(Error::InvalidField { .. })
    ));
}

#[test]
fn unknown_keys_survive_a_rewrite() {
    let meta = SigmfMeta::load(fixture("two_captures.sigmf-meta")).unwrap();
    assert_eq!(meta.global.extra["iqengine:colormap"], "viridis");
    assert_eq!(
        meta.extra["vendor:notes"],
        "top-level key from another tool"
    );
    assert_eq!(meta.annotations[0].extra["iqengine:note"], "by a person");
    let again = SigmfMeta::parse(&meta.to_json().unwrap(), Path::new("x")).unwrap();
    assert_eq!(again, meta);
}

/// Whether an error is the expected variant.
type VariantCheck = fn(&Error) -> bool;

/// Every broken fixture with the error variant and the exact message a user sees.
#[test]
fn broken_fixtures_give_typed_errors() {
    let cases: [(&str, VariantCheck, String); 7] = [
        (
            "bad_datatype",
            |e| matches!(e, Error::UnknownFormat { got, .. } if got == "ri16_le"),
            format!(
                "{}: global.core:datatype: unknown sample format `ri16_le` (expected one of cu8, ci8, ci16_le, cf32_le)",
                fixture("bad_datatype.sigmf-meta").display()
            ),
        ),
        (
            "missing_data",
            |e| matches!(e, Error::MissingData { .. }),
            format!(
                "{}: data file {} is missing",
                fixture("missing_data.sigmf-meta").display(),
                fixture("missing_data.sigmf-data").display()
            ),
        ),
        (
            "invalid_json",
            |e| {
                matches!(
                    e,
                    Error::InvalidJson {
                        line: 3,
                        column: 41,
                        ..
                    }
                )
            },
            format!(
                "{}:3:41: invalid JSON: trailing comma",
                fixture("invalid_json.sigmf-meta").display()
            ),
        ),
        (
            "zero_rate",
            |e| matches!(e, Error::InvalidField { field, .. } if field == "global.core:sample_rate"),
            format!(
                "{}: field `global.core:sample_rate`: sample rate must be a finite number > 0 Hz, got 0",
                fixture("zero_rate.sigmf-meta").display()
            ),
        ),
        (
            "wrong_type",
            |e| matches!(e, Error::InvalidField { field, .. } if field == "captures[0].core:frequency"),
            format!(
                "{}: field `captures[0].core:frequency`: invalid type: string \"915 MHz\", expected f64",
                fixture("wrong_type.sigmf-meta").display()
            ),
        ),
        (
            "missing_version",
            |e| matches!(e, Error::MissingField { field, .. } if field == "global.core:version"),
            format!(
                "{}: field `global.core:version` is required: e.g. \"1.2.0\"",
                fixture("missing_version.sigmf-meta").display()
            ),
        ),
        (
            "truncated",
            |e| {
                matches!(
                    e,
                    Error::TruncatedFile {
                        len_bytes: 6,
                        bytes_per_sample: 4,
                        ..
                    }
                )
            },
            format!(
                "{}: 6 bytes is not a whole number of ci16_le samples (4 bytes each)",
                fixture("truncated.sigmf-data").display()
            ),
        ),
    ];
    for (name, is_variant, message) in cases {
        let err = SigmfSource::open(fixture(&format!("{name}.sigmf-meta"))).unwrap_err();
        assert!(is_variant(&err), "{name}: wrong variant {err:?}");
        assert_eq!(err.to_string(), message, "{name}");
    }
}

#[test]
fn tampered_fields_name_the_field() {
    let base = std::fs::read_to_string(fixture("two_captures.sigmf-meta")).unwrap();
    let cases = [
        (
            "\"core:sample_start\": 5",
            "\"core:sample_start\": -5",
            "captures[1].core:sample_start",
        ),
        (
            "\"core:sample_start\": 5",
            "\"core:sample_start\": 99",
            "captures[1].core:sample_start",
        ),
        (
            "\"core:sample_start\": 1,",
            "\"core:sample_start\": \"1\",",
            "annotations[0].core:sample_start",
        ),
        (
            "\"core:version\": \"1.2.0\"",
            "\"core:version\": \"2.0.0\"",
            "global.core:version",
        ),
        (
            "\"core:hw\": \"HackRF One\"",
            "\"core:hw\": 7",
            "global.core:hw",
        ),
        (
            "\"optional\": true",
            "\"optional\": \"yes\"",
            "global.core:extensions",
        ),
        (
            "\"core:hw\": \"HackRF One\"",
            "\"core:num_channels\": 2",
            "global.core:num_channels",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("two_captures.sigmf-data"),
        dir.path().join("t.sigmf-data"),
    )
    .unwrap();
    for (from, to, field) in cases {
        assert!(base.contains(from), "{from}");
        let meta = dir.path().join("t.sigmf-meta");
        std::fs::write(&meta, base.replacen(from, to, 1)).unwrap();
        let err = SigmfSource::open(&meta).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field: f, .. } if f == field),
            "{to}: {err}"
        );
    }
}

/// Samples that every integer format represents exactly: decoded from every byte pattern.
fn exact_samples(format: SampleFormat, n: usize) -> (Vec<u8>, Vec<Complex32>) {
    let bytes: Vec<u8> = (0..n * format.bytes_per_sample())
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect();
    let bytes = if format == SampleFormat::Cf32Le {
        // Finite floats only, so that equality means bit equality.
        (0..n * 2)
            .flat_map(|i| ((i as f32) * 0.001 - 0.3).to_le_bytes())
            .collect()
    } else {
        bytes
    };
    let mut samples = Vec::new();
    format.decode(&bytes, &mut samples);
    (bytes, samples)
}

#[test]
fn write_then_read_is_bit_exact_for_every_datatype() {
    let dir = tempfile::tempdir().unwrap();
    for format in [
        SampleFormat::Cu8,
        SampleFormat::Ci8,
        SampleFormat::Ci16Le,
        SampleFormat::Cf32Le,
    ] {
        let (bytes, samples) = exact_samples(format, 1000);
        let base = dir.path().join(format!("rec_{format}"));
        let mut config = RecordingConfig::new(format, 2.4e6, 1090e6);
        config.hw = Some("RTL-SDR Blog V3".to_owned());
        config.datetime = Some("2025-01-02T03:04:05.5Z".to_owned());
        config.geolocation = Some(GeoPoint {
            longitude: 2.35,
            latitude: 48.85,
            altitude_m: Some(35.0),
        });
        let mut w = SigmfWriter::create(&base, config).unwrap();
        w.write(&samples[..300]).unwrap();
        w.write(&samples[300..600]).unwrap();
        w.retune(1091e6, None).unwrap();
        w.retune(1092e6, Some("2025-01-02T03:04:06Z".to_owned()))
            .unwrap(); // replaces the empty segment
        w.write(&samples[600..]).unwrap();
        assert_eq!(w.samples_written(), 1000);
        let written = w.finish().unwrap();
        assert_eq!(written.captures.len(), 2);

        let data = std::fs::read(dir.path().join(format!("rec_{format}.sigmf-data"))).unwrap();
        assert_eq!(data, bytes, "{format}: dataset bytes");

        let mut src =
            SigmfSource::open(dir.path().join(format!("rec_{format}.sigmf-meta"))).unwrap();
        assert_eq!(src.meta(), &written);
        let g = &src.meta().global;
        assert_eq!(g.datatype, format.sigmf_datatype().unwrap());
        assert_eq!(g.version, "1.2.0");
        assert_eq!(g.recorder.as_deref(), Some("trustband"));
        assert_eq!(g.hw.as_deref(), Some("RTL-SDR Blog V3"));
        assert_eq!(g.geolocation.unwrap().altitude_m, Some(35.0));
        assert_eq!(
            src.info().datetime.as_deref(),
            Some("2025-01-02T03:04:05.5Z")
        );
        let blocks = read_blocks(&mut src, 256);
        assert!(blocks.iter().all(|(m, b)| {
            let end = m.sample_index + b.len() as u64;
            (m.center_hz == 1090e6 && end <= 600)
                || (m.center_hz == 1092e6 && m.sample_index >= 600)
        }));
        let got: Vec<Complex32> = blocks.into_iter().flat_map(|(_, b)| b).collect();
        assert_eq!(got, samples, "{format}: samples");
    }
}

#[test]
fn writer_rejects_what_sigmf_cannot_say() {
    let dir = tempfile::tempdir().unwrap();
    let bad = [
        (
            RecordingConfig::new(SampleFormat::Ci16LeQi, 1e6, 0.0),
            "format",
        ),
        (
            RecordingConfig::new(SampleFormat::Cu8, 0.0, 0.0),
            "core:sample_rate",
        ),
        (
            RecordingConfig::new(SampleFormat::Cu8, 1e6, -5.0),
            "core:frequency",
        ),
        (
            RecordingConfig {
                datetime: Some("yesterday".to_owned()),
                ..RecordingConfig::new(SampleFormat::Cu8, 1e6, 0.0)
            },
            "core:datetime",
        ),
    ];
    for (config, field) in bad {
        let err = SigmfWriter::create(dir.path().join("x"), config).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidField { field: f, .. } if f == field),
            "{err}"
        );
    }
    // A default datetime is "now", in RFC 3339 UTC.
    let w = SigmfWriter::create(
        dir.path().join("now"),
        RecordingConfig::new(SampleFormat::Cu8, 1e6, 0.0),
    )
    .unwrap();
    let meta = w.finish().unwrap();
    let dt = meta.captures[0].datetime.clone().unwrap();
    assert!(dt.ends_with('Z') && dt.len() >= 20, "{dt}");
}

fn detection(start: u64, count: u64, label: &str) -> Detection {
    Detection {
        sample_start: start,
        sample_count: count,
        freq_lower_edge_hz: 433.9e6,
        freq_upper_edge_hz: 433.95e6,
        label: label.to_owned(),
        energy_dbfs: -30.0,
        noise_dbfs: -50.0,
        threshold_dbfs: -48.5,
        snr_db: 20.0,
        pfa: 0.01,
        windows: 1,
    }
}

#[test]
fn annotating_a_recording_keeps_foreign_annotations_and_replaces_ours() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["sigmf-meta", "sigmf-data"] {
        std::fs::copy(
            fixture(&format!("two_captures.{ext}")),
            dir.path().join(format!("r.{ext}")),
        )
        .unwrap();
    }
    let target = AnnotationTarget::Recording(dir.path().join("r.sigmf-data"));
    let meta_path = write_annotations(
        &target,
        &[detection(6, 2, "LPD35"), detection(0, 1, "LPD34")],
    )
    .unwrap();
    assert_eq!(meta_path, dir.path().join("r.sigmf-meta"));
    let first = SigmfMeta::load(&meta_path).unwrap();
    let starts: Vec<u64> = first.annotations.iter().map(|a| a.sample_start).collect();
    assert_eq!(starts, vec![0, 1, 6], "sorted by sample_start");

    // Second run with other detections: ours replaced, the hand-drawn one kept once.
    write_annotations(&target, &[detection(2, 3, "LPD36")]).unwrap();
    let meta = SigmfMeta::load(&meta_path).unwrap();
    let labels: Vec<&str> = meta
        .annotations
        .iter()
        .filter_map(|a| a.label.as_deref())
        .collect();
    assert_eq!(labels, vec!["hand-drawn", "LPD36"]);
    let foreign = &meta.annotations[0];
    assert!(!foreign.is_ours());
    assert_eq!(foreign.extra["iqengine:note"], "by a person");
    let ours = &meta.annotations[1];
    assert!(ours.is_ours());
    assert_eq!(ours.sample_count, Some(3));
    assert_eq!(ours.freq_lower_edge, Some(433.9e6));
    assert_eq!(ours.extra["trustband:snr_db"], 20.0);
    assert_eq!(ours.extra["trustband:threshold_dbfs"], -48.5);
    // The extension is declared once, next to the other tool's.
    let names: Vec<&str> = meta
        .global
        .extensions
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, vec!["iqengine", "trustband"]);
    assert_eq!(meta.global.extra["iqengine:colormap"], "viridis");
    assert_eq!(
        meta.extra["vendor:notes"],
        "top-level key from another tool"
    );

    // An annotation marked only by a `trustband:` key (no generator) is ours too.
    let mut tagged = detection(7, 1, "x").to_annotation();
    tagged.generator = None;
    assert!(tagged.is_ours());
    let mut foreign_gen = tagged.clone();
    foreign_gen.extra.clear();
    foreign_gen.generator = Some("trustband-fork".to_owned());
    assert!(!foreign_gen.is_ours());
}

#[test]
fn annotating_a_raw_file_writes_a_meta_pointing_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("g001_433.92M_250k.cu8");
    let (bytes, _) = exact_samples(SampleFormat::Cu8, 64);
    std::fs::write(&raw, &bytes).unwrap();
    let target = AnnotationTarget::Raw {
        path: raw.clone(),
        format: SampleFormat::Cu8,
        sample_rate_hz: 250e3,
        center_hz: 433.92e6,
    };
    let meta_path = write_annotations(&target, &[detection(8, 16, "LPD35")]).unwrap();
    assert_eq!(
        meta_path,
        dir.path().join("g001_433.92M_250k.cu8.sigmf-meta")
    );
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    assert_eq!(json["global"]["core:dataset"], "g001_433.92M_250k.cu8");
    assert_eq!(json["global"]["core:datatype"], "cu8");
    assert_eq!(json["global"]["core:version"], "1.2.0");
    assert_eq!(json["global"]["core:extensions"][0]["name"], "trustband");
    assert_eq!(json["captures"][0]["core:frequency"], 433.92e6);
    assert_eq!(json["annotations"][0]["core:label"], "LPD35");

    // The SigMF view reads the raw file's samples.
    let mut via_meta = SigmfSource::open(&meta_path).unwrap();
    let mut via_raw = RawFileSource::open(&raw, SampleFormat::Cu8, 250e3, 433.92e6).unwrap();
    let a: Vec<Complex32> = read_blocks(&mut via_meta, 10)
        .into_iter()
        .flat_map(|(_, b)| b)
        .collect();
    let b: Vec<Complex32> = read_blocks(&mut via_raw, 10)
        .into_iter()
        .flat_map(|(_, b)| b)
        .collect();
    assert_eq!(a, b);
    assert_eq!(via_meta.data_path(), raw);

    // Again: merged, not duplicated.
    write_annotations(
        &target,
        &[detection(0, 4, "LPD34"), detection(20, 4, "LPD36")],
    )
    .unwrap();
    let meta = SigmfMeta::load(&meta_path).unwrap();
    assert_eq!(meta.annotations.len(), 2);
    assert_eq!(meta.global.extensions.len(), 1);

    // No SigMF datatype for Q-first int16; a truncated raw file is refused.
    let qi = AnnotationTarget::Raw {
        path: raw.clone(),
        format: SampleFormat::Ci16LeQi,
        sample_rate_hz: 250e3,
        center_hz: 433.92e6,
    };
    assert!(matches!(
        write_annotations(&qi, &[]),
        Err(Error::InvalidField { .. })
    ));
    std::fs::write(&raw, [1, 2, 3]).unwrap();
    assert!(matches!(
        write_annotations(&target, &[]),
        Err(Error::TruncatedFile { .. })
    ));
}

fn decision(channel: &str, start: u64, busy: bool, energy: f64) -> ChannelDecision {
    ChannelDecision {
        t_start_s: start as f64 / 1e3,
        sample_start: start,
        sample_count: 100,
        channel: channel.to_owned(),
        center_hz: 1e6,
        bandwidth_hz: 2e5,
        energy_dbfs: energy,
        noise_dbfs: -60.0,
        threshold_dbfs: -58.0,
        snr_db: energy + 60.0,
        pfa: 0.01,
        n: 50.0,
        busy,
        invalid_input: false,
    }
}

#[test]
fn busy_windows_merge_into_runs_per_channel() {
    let decisions = [
        decision("a", 0, true, -40.0),
        decision("b", 0, false, -59.0),
        decision("a", 100, true, -30.0),
        decision("b", 100, true, -45.0),
        decision("a", 200, false, -59.0),
        decision("b", 200, true, -44.0),
        decision("a", 300, true, -41.0),
    ];
    let dets = detections_from_decisions(&decisions, 1000);
    let summary: Vec<(&str, u64, u64, u64, f64)> = dets
        .iter()
        .map(|d| {
            (
                d.label.as_str(),
                d.sample_start,
                d.sample_count,
                d.windows,
                d.energy_dbfs,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a", 1000, 200, 2, -30.0),
            ("b", 1100, 200, 2, -44.0),
            ("a", 1300, 100, 1, -41.0),
        ]
    );
    assert_eq!(dets[0].freq_lower_edge_hz, 0.9e6);
    assert_eq!(dets[0].freq_upper_edge_hz, 1.1e6);
    assert_eq!(dets[0].noise_dbfs, -60.0);
}
