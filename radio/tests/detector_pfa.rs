//! False-alarm rate of the energy detector on synthetic white noise (H0), with the noise floor
//! tracked (never given). Fixed seeds; the count of false alarms must fall inside the exact
//! 99 % binomial acceptance interval for the target P_fa (computed from the binomial pmf, not a
//! normal approximation).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use radio::detector::{Channel, DetectorConfig, EnergyDetector, WindowReport};
use radio::source::IqSource;
use radio::source::synthetic::{ScenarioConfig, SyntheticSource};

/// Smallest interval [lo, hi] of Binomial(n, p) counts with P(X < lo) ≤ α/2 and
/// P(X > hi) ≤ α/2 (exact, from the pmf in log space).
fn binomial_acceptance(n: u64, p: f64, alpha: f64) -> (u64, u64) {
    let ln_pmf = |k: u64| {
        let (nf, kf) = (n as f64, k as f64);
        statrs::function::gamma::ln_gamma(nf + 1.0)
            - statrs::function::gamma::ln_gamma(kf + 1.0)
            - statrs::function::gamma::ln_gamma(nf - kf + 1.0)
            + kf * p.ln()
            + (nf - kf) * (1.0 - p).ln()
    };
    let mut cdf = 0.0;
    let mut lo = 0;
    let mut hi = n;
    let mut found_lo = false;
    for k in 0..=n {
        let next = cdf + ln_pmf(k).exp();
        if !found_lo && next > alpha / 2.0 {
            lo = k;
            found_lo = true;
        }
        if next >= 1.0 - alpha / 2.0 {
            hi = k;
            break;
        }
        cdf = next;
    }
    (lo, hi)
}

fn noise_source(seed: u64, rate: f64) -> SyntheticSource {
    SyntheticSource::new(ScenarioConfig {
        seed,
        sample_rate_hz: rate,
        center_hz: 100e6,
        noise_dbfs: -20.0,
        primary_users: vec![],
        ..ScenarioConfig::default()
    })
    .unwrap()
}

fn run(
    source: &mut SyntheticSource,
    det: &mut EnergyDetector,
    samples: usize,
) -> Vec<WindowReport> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut done = 0;
    // Odd block size: windows straddle blocks.
    while done < samples {
        let meta = source
            .read_block(37_777.min(samples - done), &mut buf)
            .unwrap()
            .unwrap();
        det.process(&meta, &buf, &mut out).unwrap();
        done += buf.len();
    }
    out
}

fn check(label: &str, reports: &[WindowReport], pfa: f64) {
    let decisions: Vec<_> = reports.iter().flat_map(|r| &r.decisions).collect();
    let n = decisions.len() as u64;
    let k = decisions.iter().filter(|d| d.busy).count() as u64;
    let (lo, hi) = binomial_acceptance(n, pfa, 0.01);
    let n_eff = decisions.first().map_or(0.0, |d| d.n);
    eprintln!(
        "{label}: {k} false alarms in {n} decisions (rate {:.4}); exact 99 % interval for P_fa {pfa}: [{lo}, {hi}] ([{:.4}, {:.4}]); n = {n_eff:.1}",
        k as f64 / n as f64,
        lo as f64 / n as f64,
        hi as f64 / n as f64
    );
    assert!(n >= 5000, "{label}: only {n} decisions");
    assert!(
        (lo..=hi).contains(&k),
        "{label}: {k} false alarms in {n} outside [{lo}, {hi}]"
    );
}

#[test]
fn acceptance_interval_is_right() {
    // Binomial(5000, 0.01): mean 50, sd 7.04; the 99 % interval is about 50 ± 18.
    let (lo, hi) = binomial_acceptance(5000, 0.01, 0.01);
    assert!(
        (31..=34).contains(&lo) && (67..=70).contains(&hi),
        "{lo} {hi}"
    );
}

/// One wide channel (central 80 %, n ≈ 590 per 1 ms window): the noise reference must be
/// precise to a fraction of 1/√n, hence tracked over time (and its own variance is in the
/// threshold through n_ref).
#[test]
fn pfa_wide_channel_white_noise() {
    let rate = 1e6;
    let config = DetectorConfig {
        fft_size: 256,
        window_s: 1e-3,
        pfa: 0.01,
        ..DetectorConfig::default()
    };
    let mut det = EnergyDetector::new(
        config,
        rate,
        100e6,
        vec![EnergyDetector::default_channel(rate, 100e6)],
    )
    .unwrap();
    let mut src = noise_source(11, rate);
    let reports = run(&mut src, &mut det, 6_000_000);
    check("wide channel", &reports, 0.01);
}

/// Eight narrow channels (n ≈ 70 each, bins of a tapered window correlated across channel
/// edges), P_fa 0.05, short windows and a short noise memory: the F-law (CFAR) threshold must
/// account for the reference's own variance.
#[test]
fn pfa_narrow_channels_short_memory() {
    let rate = 1e6;
    let config = DetectorConfig {
        fft_size: 64,
        window_s: 0.5e-3,
        pfa: 0.05,
        noise_tau_s: 0.01,
        shape_tau_s: 0.05,
        ..DetectorConfig::default()
    };
    let channels: Vec<Channel> = (0..8)
        .map(|i| Channel {
            name: format!("c{i}"),
            center_hz: 100e6 - 400e3 + (i as f64 + 0.5) * 100e3,
            bandwidth_hz: 100e3,
        })
        .collect();
    let mut det = EnergyDetector::new(config, rate, 100e6, channels).unwrap();
    let mut src = noise_source(12, rate);
    let reports = run(&mut src, &mut det, 1_000_000);
    check("8 narrow channels", &reports, 0.05);
}
