//! Known-answer, property and negative tests of the Welch PSD, the effective sample count and
//! the detector's streaming and validation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use num_complex::Complex32;
use proptest::prelude::*;
use radio::Error;
use radio::detector::{Channel, DetectorConfig, EnergyDetector, WindowReport};
use radio::dsp::{Welch, WindowKind, effective_dof};
use radio::source::BlockMeta;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

fn noise(seed: u64, len: usize, var: f32) -> Vec<Complex32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let s = (var / 2.0).sqrt();
    (0..len)
        .map(|_| {
            let re: f32 = rng.sample(StandardNormal);
            let im: f32 = rng.sample(StandardNormal);
            Complex32::new(re * s, im * s)
        })
        .collect()
}

fn meta(index: u64, rate: f64, center: f64) -> BlockMeta {
    BlockMeta {
        sample_index: index,
        sample_rate_hz: rate,
        center_hz: center,
        time_s: index as f64 / rate,
    }
}

#[test]
fn parseval_one_hann_segment() {
    // mean_k P[k] = Σ w²|x|² / Σ w² exactly (Parseval), whatever the signal.
    let x: Vec<Complex32> = noise(1, 128, 1.0)
        .iter()
        .enumerate()
        .map(|(t, v)| v + Complex32::from_polar(3.0, 0.3 * t as f32))
        .collect();
    let w = WindowKind::Hann.coefficients(128);
    let mut welch = Welch::new(128, WindowKind::Hann);
    welch.add_segment(&x);
    let mut p = vec![0.0f32; 128];
    welch.finish_into(&mut p);
    let mean_p = p.iter().map(|&v| f64::from(v)).sum::<f64>() / 128.0;
    let s2: f64 = w.iter().map(|v| v * v).sum();
    let expect = x
        .iter()
        .zip(&w)
        .map(|(v, w)| w * w * f64::from(v.norm_sqr()))
        .sum::<f64>()
        / s2;
    assert!((mean_p / expect - 1.0).abs() < 1e-5, "{mean_p} {expect}");
}

#[test]
fn white_noise_psd_level_is_sigma2() {
    // E[P[k]] = σ²: 2000 segments of variance 0.25; mean over bins within 1 %.
    let mut welch = Welch::new(64, WindowKind::BlackmanHarris);
    let x = noise(2, 64 * 2000, 0.25);
    for seg in x.chunks(64) {
        welch.add_segment(seg);
    }
    let mut p = vec![0.0f32; 64];
    welch.finish_into(&mut p);
    let mean = p.iter().map(|&v| f64::from(v)).sum::<f64>() / 64.0;
    assert!((mean / 0.25 - 1.0).abs() < 0.01, "{mean}");
}

fn one_window(
    x: &[Complex32],
    config: DetectorConfig,
    rate: f64,
    channels: Vec<Channel>,
) -> WindowReport {
    let mut det = EnergyDetector::new(config, rate, 0.0, channels).unwrap();
    let mut out = Vec::new();
    det.process(&meta(0, rate, 0.0), x, &mut out).unwrap();
    out.remove(0)
}

#[test]
fn tone_lands_in_its_shifted_bin() {
    let (rate, n) = (1.024e6, 64usize);
    let bin_hz = rate / n as f64;
    for k0 in [-20i32, -1, 3, 31] {
        let f = f64::from(k0) * bin_hz;
        let x: Vec<Complex32> = (0..4096)
            .map(|t| {
                Complex32::from_polar(0.5, (std::f64::consts::TAU * f * t as f64 / rate) as f32)
            })
            .collect();
        let cfg = DetectorConfig {
            fft_size: n,
            window_s: 4096.0 / rate,
            ..DetectorConfig::default()
        };
        let r = one_window(
            &x,
            cfg,
            rate,
            vec![EnergyDetector::default_channel(rate, 0.0)],
        );
        let peak = r
            .psd
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(peak as i32, 32 + k0, "tone at bin {k0}");
        assert!((r.bin_hz(peak) - f).abs() < 1e-6);
    }
}

#[test]
fn channel_bins_and_n_closed_form() {
    // Rect window, no overlap: n = K·M exactly. 1 MHz, N = 64 (15.625 kHz bins): a channel
    // [75, 125] kHz holds bins 5..=8 (K = 4); 10 segments.
    let rate = 1e6;
    let cfg = DetectorConfig {
        fft_size: 64,
        window: WindowKind::Rect,
        overlap: 0.0,
        window_s: 640.0 / rate,
        ..DetectorConfig::default()
    };
    let ch = Channel {
        name: "c".into(),
        center_hz: 100e3,
        bandwidth_hz: 50e3,
    };
    let r = one_window(&noise(3, 640, 1.0), cfg.clone(), rate, vec![ch]);
    assert!(
        (r.decisions[0].n - 40.0).abs() < 1e-9,
        "{}",
        r.decisions[0].n
    );
    // A channel over DC loses the DC bin: [−20, 20] kHz holds bins −1, 1 (K = 2).
    let dc = Channel {
        name: "dc".into(),
        center_hz: 0.0,
        bandwidth_hz: 40e3,
    };
    let r = one_window(&noise(3, 640, 1.0), cfg, rate, vec![dc]);
    assert!(
        (r.decisions[0].n - 20.0).abs() < 1e-9,
        "{}",
        r.decisions[0].n
    );
    assert!(!r.valid[32] && r.valid[31] && r.valid[33]);
}

#[test]
fn effective_dof_matches_monte_carlo() {
    // Hann, N = 64, 50 % overlap, M = 10, bins 20..28: compare n with E[E]²/Var[E] over 4000
    // windows (relative standard error of a variance estimate: √(2/4000) ≈ 2.2 %; tolerance 8 %).
    let (n, hop, m) = (64usize, 32usize, 10usize);
    let w = WindowKind::Hann.coefficients(n);
    let bins: Vec<usize> = (20..28).collect();
    let theory = effective_dof(&w, hop, m, &bins);
    let mut welch = Welch::new(n, WindowKind::Hann);
    let mut p = vec![0.0f32; n];
    let mut stats = Vec::new();
    let len = (m - 1) * hop + n;
    for trial in 0..4000 {
        let x = noise(100 + trial, len, 1.0);
        welch.reset();
        for s in 0..m {
            welch.add_segment(&x[s * hop..s * hop + n]);
        }
        welch.finish_into(&mut p);
        // Natural-order bins 20..28 sit at shifted 52..60.
        stats.push(
            bins.iter()
                .map(|&k| f64::from(p[(k + n / 2) % n]))
                .sum::<f64>()
                / bins.len() as f64,
        );
    }
    let mean = stats.iter().sum::<f64>() / stats.len() as f64;
    let var = stats.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (stats.len() - 1) as f64;
    let measured = mean * mean / var;
    assert!(
        (measured / theory - 1.0).abs() < 0.08,
        "n theory {theory:.2}, Monte Carlo {measured:.2}"
    );
    assert!(
        theory < (bins.len() * m) as f64,
        "tapering and overlap must cost samples"
    );
}

fn expect_field(r: Result<EnergyDetector, Error>, want: &str) {
    match r {
        Err(Error::InvalidField { field, .. }) => assert_eq!(field, want),
        other => panic!("expected InvalidField({want}), got {other:?}"),
    }
}

#[test]
fn bad_configs_give_typed_errors() {
    let rate = 1e6;
    let ch = || vec![EnergyDetector::default_channel(rate, 0.0)];
    let base = DetectorConfig {
        fft_size: 256,
        window_s: 1e-3,
        ..DetectorConfig::default()
    };
    let with = |f: &dyn Fn(&mut DetectorConfig)| {
        let mut c = base.clone();
        f(&mut c);
        c
    };
    expect_field(
        EnergyDetector::new(with(&|c| c.fft_size = 100), rate, 0.0, ch()),
        "fft_size",
    );
    expect_field(
        EnergyDetector::new(with(&|c| c.fft_size = 8), rate, 0.0, ch()),
        "fft_size",
    );
    expect_field(
        EnergyDetector::new(with(&|c| c.overlap = 1.0), rate, 0.0, ch()),
        "overlap",
    );
    expect_field(
        EnergyDetector::new(with(&|c| c.overlap = -0.1), rate, 0.0, ch()),
        "overlap",
    );
    expect_field(
        EnergyDetector::new(with(&|c| c.pfa = 0.0), rate, 0.0, ch()),
        "pfa",
    );
    expect_field(
        EnergyDetector::new(with(&|c| c.pfa = 1.0), rate, 0.0, ch()),
        "pfa",
    );
    expect_field(
        EnergyDetector::new(with(&|c| c.window_s = 1e-4), rate, 0.0, ch()),
        "window_s",
    );
    expect_field(
        EnergyDetector::new(with(&|c| c.edge_crop = 0.5), rate, 0.0, ch()),
        "edge_crop",
    );
    expect_field(
        EnergyDetector::new(base.clone(), 0.0, 0.0, ch()),
        "sample_rate_hz",
    );
    expect_field(
        EnergyDetector::new(base.clone(), f64::NAN, 0.0, ch()),
        "sample_rate_hz",
    );
    expect_field(
        EnergyDetector::new(base.clone(), rate, 0.0, vec![]),
        "channels",
    );
    let thin = Channel {
        name: "thin".into(),
        center_hz: 1e3,
        bandwidth_hz: 10.0,
    };
    expect_field(
        EnergyDetector::new(base.clone(), rate, 0.0, vec![thin]),
        "channels[0].bandwidth_hz",
    );
    let zero = Channel {
        name: "zero".into(),
        center_hz: 0.0,
        bandwidth_hz: 0.0,
    };
    expect_field(
        EnergyDetector::new(base.clone(), rate, 0.0, vec![zero]),
        "channels[0].bandwidth_hz",
    );
    // Edge crop 5 %: usable band ±450 kHz; a channel reaching 460 kHz is outside.
    let edge = Channel {
        name: "edge".into(),
        center_hz: 400e3,
        bandwidth_hz: 120e3,
    };
    match EnergyDetector::new(base.clone(), rate, 0.0, vec![edge]) {
        Err(Error::ChannelOutsideBand {
            channel,
            band_high_hz,
            ..
        }) => {
            assert_eq!(channel, "edge");
            assert!((band_high_hz - 450e3).abs() < 1e-6);
        }
        other => panic!("{other:?}"),
    }
    // A block at another rate.
    let mut det = EnergyDetector::new(base, rate, 0.0, ch()).unwrap();
    let mut out = Vec::new();
    let err = det
        .process(&meta(0, 2e6, 0.0), &noise(1, 10, 1.0), &mut out)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidField { field, .. } if field == "sample_rate_hz"));
}

#[test]
fn cu8_path_equals_complex_path() {
    let rate = 250e3;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let bytes: Vec<u8> = (0..2 * 5000).map(|_| rng.random()).collect();
    let x: Vec<Complex32> = bytes
        .chunks(2)
        .map(|c| {
            Complex32::new(
                (f32::from(c[0]) - 127.5) / 128.0,
                (f32::from(c[1]) - 127.5) / 128.0,
            )
        })
        .collect();
    let cfg = DetectorConfig {
        fft_size: 64,
        window_s: 1e-3,
        ..DetectorConfig::default()
    };
    let ch = vec![EnergyDetector::default_channel(rate, 0.0)];
    let mut a = EnergyDetector::new(cfg.clone(), rate, 0.0, ch.clone()).unwrap();
    let mut b = EnergyDetector::new(cfg, rate, 0.0, ch).unwrap();
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    a.process(&meta(0, rate, 0.0), &x, &mut ra).unwrap();
    b.process_cu8(&meta(0, rate, 0.0), &bytes, &mut rb).unwrap();
    assert_eq!(ra.len(), 20);
    assert_eq!(ra, rb);
}

#[test]
fn retune_and_gap_restart_the_window() {
    let rate = 1e6;
    let cfg = DetectorConfig {
        fft_size: 64,
        window_s: 1e-3,
        ..DetectorConfig::default()
    };
    let mut det = EnergyDetector::new(
        cfg,
        rate,
        100e6,
        vec![EnergyDetector::default_channel(rate, 100e6)],
    )
    .unwrap();
    let mut out = Vec::new();
    det.process(&meta(0, rate, 100e6), &noise(1, 1500, 1.0), &mut out)
        .unwrap();
    assert_eq!(out.len(), 1);
    // Retune after 1500 samples: the half-filled window is dropped; the next starts at 1500.
    det.process(&meta(1500, rate, 100.2e6), &noise(2, 1000, 1.0), &mut out)
        .unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].sample_start, 1500);
    assert_eq!(out[1].center_hz, 100.2e6);
    // The channel at 100 MHz ± 400 kHz does not fit the band at 100.2 MHz: no decision.
    assert!(out[1].decisions.is_empty());
    // A gap in sample indices also restarts.
    det.process(&meta(2600, rate, 100.2e6), &noise(3, 1000, 1.0), &mut out)
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[2].sample_start, 2600);
}

fn run_blocks(x: &[Complex32], sizes: &[usize]) -> Vec<WindowReport> {
    let rate = 1e6;
    let cfg = DetectorConfig {
        fft_size: 64,
        window_s: 0.3e-3,
        ..DetectorConfig::default()
    };
    let mut det = EnergyDetector::new(
        cfg,
        rate,
        0.0,
        vec![EnergyDetector::default_channel(rate, 0.0)],
    )
    .unwrap();
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut i = 0usize;
    while pos < x.len() {
        let len = sizes[i % sizes.len()].min(x.len() - pos);
        det.process(&meta(pos as u64, rate, 0.0), &x[pos..pos + len], &mut out)
            .unwrap();
        pos += len;
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Reports do not depend on how the stream is cut into blocks.
    #[test]
    fn block_size_does_not_matter(sizes in proptest::collection::vec(1usize..700, 1..6)) {
        let x = noise(9, 3000, 1.0);
        let whole = run_blocks(&x, &[3000]);
        let cut = run_blocks(&x, &sizes);
        prop_assert_eq!(whole.len(), 10);
        prop_assert_eq!(cut.len(), 10);
        for (a, b) in whole.iter().zip(&cut) {
            prop_assert_eq!(a.sample_start, b.sample_start);
            prop_assert_eq!(&a.psd, &b.psd, "PSD of window at {}", a.sample_start);
            // Times are block time + offset/rate: equal up to rounding.
            prop_assert!((a.t_start_s - b.t_start_s).abs() < 1e-12);
            let strip = |r: &WindowReport| {
                r.decisions.iter().map(|d| (d.energy_dbfs, d.noise_dbfs, d.threshold_dbfs, d.busy)).collect::<Vec<_>>()
            };
            prop_assert_eq!(strip(a), strip(b));
        }
    }
}

#[test]
fn non_finite_window_fails_closed_and_leaves_the_noise_reference_alone() {
    // Live input with a NaN (a glitching front end): the window is busy and flagged, never
    // "idle at −300 dBFS", and the next clean windows decide as if it never happened.
    let rate = 1.0e6;
    let cfg = DetectorConfig {
        fft_size: 256,
        window_s: 0.01,
        ..DetectorConfig::default()
    };
    let channels = vec![EnergyDetector::default_channel(rate, 0.0)];
    let run = |poison: Option<f32>| {
        let mut det = EnergyDetector::new(cfg.clone(), rate, 0.0, channels.clone()).unwrap();
        let mut out = Vec::new();
        let mut x = noise(11, 10_000 * 40, 1e-4);
        if let Some(bad) = poison {
            x[10_000 * 20 + 77] = Complex32::new(bad, 0.0);
        }
        det.process(&meta(0, rate, 0.0), &x, &mut out).unwrap();
        out
    };
    let clean = run(None);
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3.0e38] {
        let poisoned = run(Some(bad));
        assert_eq!(poisoned.len(), clean.len());
        for (i, (p, c)) in poisoned.iter().zip(&clean).enumerate() {
            if i == 20 {
                assert!(p.invalid_input, "{bad}: window {i} not flagged");
                assert!(
                    p.decisions.iter().all(|d| d.busy && d.invalid_input),
                    "{bad}"
                );
            } else if i < 20 {
                assert_eq!(p.decisions, c.decisions, "{bad}: window {i} differs");
            } else {
                // The reference did not learn the bad window: after it the noise floor is
                // finite and where the clean run has it (one window fewer of averaging).
                assert!(!p.invalid_input, "{bad}: window {i} flagged");
                for (pd, cd) in p.decisions.iter().zip(&c.decisions) {
                    assert!(pd.noise_dbfs.is_finite(), "{bad}: window {i}");
                    assert!(
                        (pd.noise_dbfs - cd.noise_dbfs).abs() < 0.2,
                        "{bad}: window {i}: {} vs {}",
                        pd.noise_dbfs,
                        cd.noise_dbfs
                    );
                }
            }
        }
    }
}
