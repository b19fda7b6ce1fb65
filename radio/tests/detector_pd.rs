//! Detection probability against theory (SPEC 2.2): a circular complex Gaussian primary user,
//! white over the whole band at per-sample SNR γ, switched on in every other sensing window;
//! P_fa 0.01. Theory per decision: `P_d = Q((λ/σ² − 1 − γ)·√n/(1 + γ))` with λ the threshold
//! the detector actually used (its tracked reference absorbs a little of the PU, which the
//! comparison must not blame on the statistic) and σ² the true noise power. Measured and
//! theoretical P_d must agree within 0.03 at 2,000 trials per point (binomial sd ≤ 0.011), at
//! SNR −15, −12, −9, −6, −3 and 0 dB.
//! The tracker, seeing a PU that fills the band half of the time, settles about γ/2 high, so
//! `n` is chosen about four times the known-σ² mid-range value to keep P_d mid-range.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use radio::detector::{Channel, DetectorConfig, EnergyDetector};
use radio::source::IqSource;
use radio::source::synthetic::{
    PrimaryUser, ScenarioConfig, Schedule, SignalKind, SyntheticSource,
};
use statrs::distribution::{ContinuousCDF, Normal};

const RATE: f64 = 1e6;
const CENTER: f64 = 100e6;

struct Point {
    snr_db: f64,
    measured: f64,
    theory: f64,
    ideal: f64,
    n: f64,
    trials: usize,
}

fn point(snr_db: f64, window_s: f64, fft_size: usize, seed: u64) -> Point {
    let channels = 2;
    let noise_dbfs = -20.0;
    let sigma2 = 10f64.powf(noise_dbfs / 10.0);
    let src_cfg = ScenarioConfig {
        seed,
        sample_rate_hz: RATE,
        center_hz: CENTER,
        noise_dbfs,
        primary_users: vec![PrimaryUser {
            name: "pu".into(),
            center_hz: CENTER,
            bandwidth_hz: RATE,
            signal: SignalKind::Gaussian,
            snr_db,
            position_m: None,
            // On in odd windows (the first window is noise: the tracker starts on noise).
            schedule: Schedule::Periodic {
                on_s: window_s,
                off_s: window_s,
                phase_s: window_s,
            },
        }],
        ..ScenarioConfig::default()
    };
    let mut src = SyntheticSource::new(src_cfg).unwrap();
    let config = DetectorConfig {
        fft_size,
        window_s,
        pfa: 0.01,
        // The theory is for the model's own n; the guard would read the level's start-up
        // transients under the alternating PU as extra dispersion.
        dispersion_guard: false,
        ..DetectorConfig::default()
    };
    let width = 0.8 * RATE / channels as f64;
    let chans: Vec<Channel> = (0..channels)
        .map(|i| Channel {
            name: format!("c{i}"),
            center_hz: CENTER - 0.4 * RATE + (i as f64 + 0.5) * width,
            bandwidth_hz: width,
        })
        .collect();
    let mut det = EnergyDetector::new(config, RATE, CENTER, chans).unwrap();
    let gamma = 10f64.powf(snr_db / 10.0);
    let q = |x: f64| Normal::new(0.0, 1.0).unwrap().sf(x);
    let (mut trials, mut hits, mut theory, mut ideal, mut n_seen) = (0usize, 0usize, 0.0, 0.0, 0.0);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while trials < 2000 {
        let meta = src.read_block(65_536, &mut buf).unwrap().unwrap();
        det.process(&meta, &buf, &mut out).unwrap();
        for r in out.drain(..) {
            let occ = src.window_occupancy(r.sample_start, r.sample_count)[0];
            if occ < 1.0 {
                continue;
            }
            for d in &r.decisions {
                if trials == 2000 {
                    break;
                }
                let lam = 10f64.powf(d.threshold_dbfs / 10.0) / sigma2;
                theory += q((lam - 1.0 - gamma) * d.n.sqrt() / (1.0 + gamma));
                let lam0 = radio::dsp::chi2_threshold_factor(d.n, 0.01);
                ideal += q((lam0 - 1.0 - gamma) * d.n.sqrt() / (1.0 + gamma));
                hits += usize::from(d.busy);
                trials += 1;
                n_seen = d.n;
            }
        }
    }
    Point {
        snr_db,
        measured: hits as f64 / trials as f64,
        theory: theory / trials as f64,
        ideal: ideal / trials as f64,
        n: n_seen,
        trials,
    }
}

#[test]
fn pd_matches_theory() {
    // (SNR, window, FFT) chosen so that P_d is mid-range.
    let points = [
        point(-15.0, 64e-3, 256, 20),
        point(-12.0, 16e-3, 256, 21),
        point(-9.0, 2e-3, 256, 22),
        point(-6.0, 1e-3, 256, 23),
        point(-3.0, 0.25e-3, 32, 24),
        point(0.0, 0.1e-3, 16, 25),
    ];
    eprintln!(
        "SNR dB |     n | trials | P_d measured | P_d theory (detector's λ) | P_d theory (known σ²)"
    );
    for p in &points {
        eprintln!(
            "{:6.1} | {:5.0} | {:6} | {:12.3} | {:25.3} | {:.3}",
            p.snr_db, p.n, p.trials, p.measured, p.theory, p.ideal
        );
    }
    for p in &points {
        assert!(
            p.theory > 0.15 && p.theory < 0.95,
            "{} dB: theory {} not mid-range",
            p.snr_db,
            p.theory
        );
        assert!(
            (p.measured - p.theory).abs() <= 0.03,
            "{} dB: measured {:.3} vs theory {:.3}",
            p.snr_db,
            p.measured,
            p.theory
        );
    }
}
