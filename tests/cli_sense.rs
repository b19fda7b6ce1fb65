//! `trustband sense` / `plot` end to end on recordings made with our own synthetic generator:
//! the JSON-lines fields, the rtl_power CSV layout, SigMF annotations where the bursts are, and
//! a waterfall PNG.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use radio::source::IqSource;
use radio::source::format::SampleFormat;
use radio::source::sigmf::{RecordingConfig, SigmfMeta, SigmfWriter};
use radio::source::synthetic::{
    PrimaryUser, ScenarioConfig, Schedule, SignalKind, SyntheticSource,
};

const RATE: f64 = 1e6;
const CENTER: f64 = 433.92e6;

fn trustband(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trustband"))
        .args(args)
        .output()
        .expect("spawn trustband")
}

/// 1 s of noise with an OOK user at +200 kHz on for 100 ms every 250 ms (from 50 ms), as a
/// SigMF recording `dir/NAME` in `format`.
fn make_recording(dir: &Path, name: &str, format: SampleFormat) -> PathBuf {
    let mut source = SyntheticSource::new(ScenarioConfig {
        seed: 7,
        sample_rate_hz: RATE,
        center_hz: CENTER,
        noise_dbfs: -30.0,
        duration_s: Some(1.0),
        primary_users: vec![PrimaryUser {
            name: "ook".into(),
            center_hz: CENTER + 200e3,
            bandwidth_hz: 50e3,
            signal: SignalKind::Ook {
                symbol_rate_hz: 5e3,
            },
            snr_db: 15.0,
            position_m: None,
            schedule: Schedule::Periodic {
                on_s: 0.1,
                off_s: 0.15,
                phase_s: 0.05,
            },
        }],
        ..ScenarioConfig::default()
    })
    .unwrap();
    let base = dir.join(name);
    let mut writer =
        SigmfWriter::create(&base, RecordingConfig::new(format, RATE, CENTER)).unwrap();
    let mut buf = Vec::new();
    while source.read_block(65_536, &mut buf).unwrap().is_some() {
        writer.write(&buf).unwrap();
    }
    writer.finish().unwrap();
    base.with_extension("sigmf-meta")
}

fn stdout_lines(out: &Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Whether the OOK user is on at sample index `i` (schedule above).
fn on_at(i: u64) -> bool {
    let t = i as f64 / RATE + 0.05;
    t.rem_euclid(0.25) < 0.1
}

#[test]
fn jsonl_has_every_field_and_tracks_the_burst_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let meta = make_recording(dir.path(), "ook", SampleFormat::Cf32Le);
    let out = trustband(&[
        "sense",
        "--input",
        meta.to_str().unwrap(),
        "--channel",
        "434120000:100000",
        "--channel",
        "433720000:100000",
        "--window-ms",
        "10",
    ]);
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 2 * 100, "two channels x 100 windows of 10 ms");
    let keys = [
        "t_start_s",
        "sample_start",
        "sample_count",
        "channel",
        "center_hz",
        "bandwidth_hz",
        "energy_dbfs",
        "noise_dbfs",
        "threshold_dbfs",
        "snr_db",
        "pfa",
        "n",
        "busy",
    ];
    let (mut agree, mut total, mut idle_busy, mut idle_total) = (0, 0, 0, 0);
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in keys {
            assert!(v.get(key).is_some(), "missing {key} in {line}");
        }
        let start = v["sample_start"].as_u64().unwrap();
        let count = v["sample_count"].as_u64().unwrap();
        assert_eq!(count, 10_000);
        let busy = v["busy"].as_bool().unwrap();
        if v["channel"] == "ch0" {
            // Windows wholly inside an on or an off stretch.
            let (first, last) = (on_at(start), on_at(start + count - 1));
            if first == last {
                total += 1;
                agree += usize::from(busy == first);
            }
        } else {
            idle_total += 1;
            idle_busy += usize::from(busy);
        }
    }
    assert!(total >= 80, "{total}");
    assert!(agree * 100 >= total * 97, "{agree}/{total} windows agree");
    assert!(
        idle_busy <= 4,
        "{idle_busy}/{idle_total} false alarms on the idle channel"
    );
}

#[test]
fn sigmf_output_annotates_the_bursts_in_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let meta = make_recording(dir.path(), "ook16", SampleFormat::Ci16Le);
    let args = [
        "sense",
        "--input",
        meta.to_str().unwrap(),
        "--channel",
        "434120000:100000",
        "--window-ms",
        "5",
        "--output",
        "sigmf",
    ];
    let out = trustband(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed = SigmfMeta::load(&meta).unwrap();
    let ours: Vec<_> = parsed.annotations.iter().filter(|a| a.is_ours()).collect();
    // Bursts at [0, 50) ms, [200, 300), [450, 550), [700, 800), [950, 1000).
    assert_eq!(ours.len(), 5, "{ours:#?}");
    for a in &ours {
        let start = a.sample_start;
        let count = a.sample_count.unwrap();
        assert!(
            on_at(start + count / 2),
            "annotation at {start}+{count} is off-schedule"
        );
        assert_eq!(a.freq_lower_edge, Some(434.07e6));
        assert_eq!(a.freq_upper_edge, Some(434.17e6));
    }
    // Running again replaces our annotations instead of duplicating them.
    let again = trustband(&args);
    assert!(again.status.success());
    let reparsed = SigmfMeta::load(&meta).unwrap();
    assert_eq!(reparsed.annotations.len(), parsed.annotations.len());
}

#[test]
fn csv_is_rtl_power_shaped() {
    let dir = tempfile::tempdir().unwrap();
    let meta = make_recording(dir.path(), "csv", SampleFormat::Cu8);
    let out = trustband(&[
        "sense",
        "--input",
        meta.to_str().unwrap(),
        "--window-ms",
        "100",
        "--fft",
        "256",
        "--output",
        "csv",
    ]);
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 10);
    for line in &lines {
        let cols: Vec<&str> = line.split(", ").collect();
        // date, time, Hz low, Hz high, Hz step, samples, then one dB value per bin.
        assert_eq!(cols[0].len(), 10, "{line}");
        assert_eq!(cols[1].len(), 8, "{line}");
        let low: f64 = cols[2].parse().unwrap();
        let high: f64 = cols[3].parse().unwrap();
        let step: f64 = cols[4].parse().unwrap();
        let samples: u64 = cols[5].parse().unwrap();
        assert!((step - RATE / 256.0).abs() < 0.01, "{step}");
        assert_eq!(samples, 100_000);
        let bins = cols.len() - 6;
        // Edges are printed to the hertz.
        assert!(((high - low) / step - bins as f64).abs() < 1e-3, "{line}");
        assert!(low > CENTER - RATE / 2.0 && high < CENTER + RATE / 2.0);
        for db in &cols[6..] {
            let v: f64 = db.parse().unwrap();
            assert!((-80.0..0.0).contains(&v), "{v}");
        }
    }
}

#[test]
fn plot_writes_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let meta = make_recording(dir.path(), "plot", SampleFormat::Cf32Le);
    let png = dir.path().join("wf.png");
    let out = trustband(&[
        "plot",
        "--input",
        meta.to_str().unwrap(),
        "--channel",
        "434120000:100000",
        "--window-ms",
        "5",
        "--out",
        png.to_str().unwrap(),
        "--width",
        "640",
        "--height",
        "480",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let reader = decoder.read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (640, 480));
}

#[test]
fn real_capture_from_an_rtl_433_name() {
    let dir = std::env::var_os("TRUSTBAND_CAPTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/iq-captures"));
    let path = dir.join("ism-433/radiohead_g001_433.92M_250k.cu8");
    if !path.is_file() {
        eprintln!("note: {} absent, skipping", path.display());
        return;
    }
    // Format, rate and centre all come from the name.
    let out = trustband(&[
        "sense",
        "--input",
        path.to_str().unwrap(),
        "--window-ms",
        "1",
    ]);
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 131_072 / 250);
    let busy: Vec<u64> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["busy"].as_bool().unwrap())
        .map(|v| v["sample_start"].as_u64().unwrap())
        .collect();
    // The lead-in [0, 71104) is quiet; the packet's 86 burst blocks (MANIFEST) lie in
    // [71000, 96500), with short gaps between them.
    let early = busy.iter().filter(|&&s| s + 250 <= 71_000).count();
    let late = busy
        .iter()
        .filter(|&&s| (71_000..96_500).contains(&s))
        .count();
    assert!(
        early <= 284 * 3 / 100,
        "{early} false alarms in the lead-in"
    );
    assert!(late >= 82, "{late} busy windows in the packet");
}
