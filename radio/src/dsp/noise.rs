//! Noise-floor estimation: FCME across bins within a window, tracked over windows.
//!
//! Model: in bins without a signal, the Welch PSD of a window is `P[k] ≈ L(t) · s[k] · G`, with
//! `L(t)` a slowly varying noise level, `s[k]` a slowly varying spectral shape (front-end filter
//! roll-off, ripple) and `G ~ Gamma(ν, 1/ν)` (ν: per-bin effective samples, [`super::dof`]).
//!
//! Per window ([`NoiseTracker::analyse`]):
//! 1. `r[k] = P[k]/s[k]` over the valid bins (no DC, no edge crop).
//! 2. FCME (forward consecutive mean excision): start from the 25th percentile of `r` divided
//!    by the Gamma(ν) 25th percentile (robust to up to ~70 % occupied bins), then repeatedly
//!    take the mean of the bins below `T·ℓ` and divide by the Gamma truncated-mean factor
//!    `E[G | G < T] = P(ν+1, νT)/P(ν, νT)` (this removes the truncation bias exactly under the
//!    model). `T` is the Gamma(ν) upper 10⁻³ point. Result: the window's level `ℓ(t)` and the
//!    set of quiet bins.
//!
//! Over windows ([`NoiseTracker::update`], after the window's decisions):
//! - `L` is a running mean of `ℓ(t)` that turns into an exponential average with time
//!   constant `noise_tau_s`. A window whose `ℓ(t)` lies above `L` by more than
//!   `max(5 sd, 5 %)` is a burst (a wideband signal) and is left out; if that lasts
//!   `noise_follow_s` the level is re-started from `ℓ(t)` (a gain change, or a wideband signal
//!   that never stops: a relative detector cannot tell the two apart). Windows far *below* `L`
//!   re-start the level after [`DROP_WINDOWS`] in a row (signals only add power: the level had
//!   been learned on a signal, or the gain dropped; one-window AGC dips are ignored).
//! - `s[k]` is a running/exponential mean (time constant `shape_tau_s`) of `P[k]/ℓ(t)` over the
//!   bins that were quiet (FCME) in windows that were not bursts and that lie in no channel
//!   whose power exceeded its strong (P_fa 10⁻⁴) threshold. Bins holding a continuous carrier
//!   are never quiet, so the shape never follows them up: such a channel stays busy. (Channels
//!   merely above the P_fa threshold still teach the shape: leaving out every window above λ
//!   would bias the shape low by about P_fa × the mean excess and feed false alarms back.)
//!
//! - Receiver spurs (a tone always present, 1–3 bins: RTL-SDR clock harmonics) would
//!   otherwise look like a carrier forever. A per-bin running median of `P[k]/ℓ(t)` finds
//!   persistent features; those no wider than `spur_max_bins` join the shape, wider ones (a
//!   GSM carrier spans many bins) never do.
//!
//! The reference for channel C is `σ̂²_C = L · mean_{k∈C} s[k]` (s with spurs), taken from previous windows
//! only (so it is independent of the window being decided; the very first window uses its
//! own FCME level). Its relative variance is
//! `1/(n_ℓ·T_L) + (1/n_C − 1/n_band)/T_s` (T: effective number of windows averaged), which
//! gives the `n_ref` of the CFAR (F-law) threshold in [`super::threshold`].

use statrs::distribution::{ContinuousCDF, Gamma};
use statrs::function::gamma::checked_gamma_lr;

/// Gamma-law constants for per-bin PSD values with ν effective samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinStats {
    /// ν: effective samples behind one bin of one window's PSD.
    pub nu: f64,
    /// 25th percentile of Gamma(ν, 1/ν).
    pub q25: f64,
    /// Median of Gamma(ν, 1/ν).
    pub q50: f64,
    /// FCME cut-off T (upper 10⁻³ point of Gamma(ν, 1/ν)).
    pub cutoff: f64,
    /// `E[G | G < T]` for G ~ Gamma(ν, 1/ν).
    pub trunc_mean: f64,
}

impl BinStats {
    /// Constants for ν effective samples per bin (ν > 0; non-positive ν is treated as 1).
    pub fn new(nu: f64) -> Self {
        let nu = if nu > 0.0 && nu.is_finite() { nu } else { 1.0 };
        let (q25, q50, cutoff) = match Gamma::new(nu, nu) {
            Ok(g) => (
                g.inverse_cdf(0.25),
                g.inverse_cdf(0.5),
                g.inverse_cdf(1.0 - 1e-3),
            ),
            Err(_) => (1.0, 1.0, 1.0 + 3.09 / nu.sqrt() * 1.5),
        };
        let p0 = checked_gamma_lr(nu, nu * cutoff).unwrap_or(1.0);
        let p1 = checked_gamma_lr(nu + 1.0, nu * cutoff).unwrap_or(1.0);
        let trunc_mean = if p0 > 0.0 { p1 / p0 } else { 1.0 };
        Self {
            nu,
            q25,
            q50,
            cutoff,
            trunc_mean,
        }
    }
}

/// FCME level of `values` (modified in place: partially sorted). Returns `(level, quiet count)`.
/// `None` if `values` is empty or holds no positive finite level.
pub fn fcme_level(values: &mut [f32], stats: &BinStats) -> Option<(f64, usize)> {
    if values.is_empty() {
        return None;
    }
    let idx = (values.len() - 1) / 4;
    let (_, q, _) = values.select_nth_unstable_by(idx, f32::total_cmp);
    let mut level = f64::from(*q) / stats.q25;
    if !(level.is_finite() && level > 0.0) {
        // More than a quarter of the bins are exactly zero: fall back to the plain mean.
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64;
        return (mean.is_finite() && mean > 0.0).then_some((mean, values.len()));
    }
    let mut count = 0usize;
    for _ in 0..30 {
        let thr = level * stats.cutoff;
        let (mut sum, mut c) = (0.0f64, 0usize);
        for &v in values.iter() {
            let v = f64::from(v);
            if v < thr {
                sum += v;
                c += 1;
            }
        }
        if c == 0 {
            break;
        }
        let next = sum / c as f64 / stats.trunc_mean;
        let done = c == count;
        level = next;
        count = c;
        if done {
            break;
        }
    }
    Some((level, count))
}

/// Consecutive windows far below the tracked level after which the level re-starts.
pub const DROP_WINDOWS: u64 = 3;

/// Multiplicative step of the per-bin running median (per window).
pub const SPUR_STEP: f64 = 0.1;
/// Running median over shape above which a bin counts as persistently elevated.
pub const SPUR_RATIO: f64 = 1.5;

/// Tracker settings, in windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerParams {
    /// Exponential weight of a new window in the level (after the running-mean start).
    pub alpha_level: f64,
    /// Same for the shape.
    pub alpha_shape: f64,
    /// Consecutive burst windows after which the level re-starts.
    pub follow_windows: u64,
    /// Effective samples behind the whole valid band in one window.
    pub n_band: f64,
    /// Widest persistent feature (bins) taken for a receiver spur; 0 disables.
    pub spur_max_bins: usize,
}

/// What [`NoiseTracker::analyse`] found in one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowNoise {
    /// FCME level ℓ(t) of the window (relative to the shape).
    pub level: f64,
    /// Fraction of valid bins that were quiet.
    pub quiet_fraction: f64,
}

/// Noise level and shape tracked over windows for one tuning (see the module docs).
#[derive(Debug, Clone)]
pub struct NoiseTracker {
    valid: Vec<usize>,
    stats: BinStats,
    params: TrackerParams,
    shape: Vec<f64>,
    /// Per-bin running median of P[k]/ℓ(t) (in mean units), for spurs.
    median: Vec<f64>,
    /// Shape in use: `shape`, or `median` in narrow persistent features (spurs).
    eff: Vec<f64>,
    shape_count: u64,
    shape_s2: f64,
    level: Option<f64>,
    level_count: u64,
    level_s2: f64,
    jump_run: u64,
    drop_run: u64,
    resets: u64,
    ratio: Vec<f32>,
    quiet: Vec<bool>,
    current: Option<WindowNoise>,
}

impl NoiseTracker {
    /// A tracker for an `fft_size`-bin PSD whose usable bins (FFT-shifted indices) are `valid`.
    pub fn new(fft_size: usize, valid: Vec<usize>, stats: BinStats, params: TrackerParams) -> Self {
        Self {
            ratio: Vec::with_capacity(valid.len()),
            valid,
            stats,
            params,
            shape: vec![1.0; fft_size],
            median: vec![1.0; fft_size],
            eff: vec![1.0; fft_size],
            shape_count: 0,
            shape_s2: 0.0,
            level: None,
            level_count: 0,
            level_s2: 0.0,
            jump_run: 0,
            drop_run: 0,
            resets: 0,
            quiet: vec![false; fft_size],
            current: None,
        }
    }

    /// Per-bin constants in use.
    pub fn stats(&self) -> &BinStats {
        &self.stats
    }

    /// Level re-starts so far (bursts that lasted `noise_follow_s`, or drops).
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// The tracked level L, if any window was seen.
    pub fn level(&self) -> Option<f64> {
        self.level
    }

    /// The shape in use, s[k] with spurs (FFT-shifted order).
    pub fn effective_shape(&self) -> &[f64] {
        &self.eff
    }

    /// How flat the tracked noise shape is over `bins`: (Σs)² / (N·Σs²), in (0, 1].
    ///
    /// The effective sample count of a sum of bin powers assumes equal noise in every bin;
    /// with unequal noise (filter roll-off, a spur) the loud bins dominate the variance, so
    /// the count shrinks by this factor (the ratio of the squared mean to the mean square).
    pub fn flatness(&self, bins: &[usize]) -> f64 {
        let (sum, sum_sq) = bins.iter().fold((0.0, 0.0), |(a, b), &k| {
            let s = self.eff.get(k).copied().unwrap_or(1.0);
            (a + s, b + s * s)
        });
        if bins.is_empty() || sum_sq <= 0.0 {
            1.0
        } else {
            (sum * sum / (bins.len() as f64 * sum_sq)).clamp(f64::MIN_POSITIVE, 1.0)
        }
    }

    /// Runs FCME on a window's PSD (FFT-shifted, linear). Must precede [`Self::reference`] and
    /// [`Self::update`] for that window.
    pub fn analyse(&mut self, psd: &[f32]) -> Option<WindowNoise> {
        self.ratio.clear();
        for &k in &self.valid {
            let p = psd.get(k).copied().unwrap_or(0.0);
            let s = self.eff.get(k).copied().unwrap_or(1.0);
            self.ratio.push((f64::from(p) / s) as f32);
        }
        let total = self.ratio.len();
        let (level, _) = fcme_level(&mut self.ratio, &self.stats)?;
        let thr = level * self.stats.cutoff;
        self.quiet.fill(false);
        let mut quiet = 0usize;
        for &k in &self.valid {
            let p = f64::from(psd.get(k).copied().unwrap_or(0.0));
            let s = self.eff.get(k).copied().unwrap_or(1.0);
            if p / s < thr {
                if let Some(q) = self.quiet.get_mut(k) {
                    *q = true;
                }
                quiet += 1;
            }
        }
        let wn = WindowNoise {
            level,
            quiet_fraction: quiet as f64 / total.max(1) as f64,
        };
        self.current = Some(wn);
        Some(wn)
    }

    fn n_level(&self) -> f64 {
        let q = self.current.map_or(1.0, |c| c.quiet_fraction);
        (self.params.n_band * q).max(1.0)
    }

    /// Noise reference for a channel with bins `bins` (FFT-shifted) and `n_c` effective
    /// samples: `(σ̂², n_ref)`. Uses the tracked level (or, before any, the current window's).
    pub fn reference(&self, bins: &[usize], n_c: f64) -> Option<(f64, f64)> {
        let n_l = self.n_level();
        let (level, relvar_l) = match (self.level, self.current) {
            (Some(l), _) => (l, self.level_s2 / n_l),
            (None, Some(c)) => (c.level, 1.0 / n_l),
            (None, None) => return None,
        };
        if bins.is_empty() {
            return None;
        }
        let s_mean = bins
            .iter()
            .map(|&k| self.eff.get(k).copied().unwrap_or(1.0))
            .sum::<f64>()
            / bins.len() as f64;
        let relvar_s = if n_c > 0.0 {
            (1.0 / n_c - 1.0 / self.params.n_band).max(0.0) * self.shape_s2
        } else {
            0.0
        };
        let relvar = relvar_l + relvar_s;
        let n_ref = if relvar > 0.0 {
            1.0 / relvar
        } else {
            f64::INFINITY
        };
        Some((level * s_mean, n_ref))
    }

    /// Folds the analysed window into the level and shape. `exclude[k]` marks bins (shifted)
    /// that lie in a channel declared busy: they do not update the shape.
    pub fn update(&mut self, psd: &[f32], exclude: &[bool]) {
        let Some(cur) = self.current.take() else {
            return;
        };
        let ell = cur.level;
        match self.level {
            None => self.restart_level(ell),
            Some(l) => {
                let n_l = (self.params.n_band * cur.quiet_fraction).max(1.0);
                let sd = (1.0 / n_l + self.level_s2 / n_l).sqrt();
                let margin = (5.0 * sd).max(0.05);
                if ell > l * (1.0 + margin) {
                    self.drop_run = 0;
                    self.jump_run += 1;
                    if self.jump_run >= self.params.follow_windows {
                        self.restart_level(ell);
                        self.resets += 1;
                    }
                    // A burst window teaches the shape nothing.
                    return;
                }
                self.jump_run = 0;
                if ell < l * (1.0 - margin) {
                    // Signals only add power, so a lower floor is a gain change or the end
                    // of a signal the level had been learned on: follow it after a few
                    // windows (not at once: an AGC dip of one window must not stick).
                    self.drop_run += 1;
                    if self.drop_run < DROP_WINDOWS {
                        return;
                    }
                    self.restart_level(ell);
                    self.resets += 1;
                } else {
                    self.drop_run = 0;
                    let a = (1.0 / (self.level_count + 1) as f64).max(self.params.alpha_level);
                    self.level = Some((1.0 - a) * l + a * ell);
                    self.level_s2 = (1.0 - a) * (1.0 - a) * self.level_s2 + a * a;
                    self.level_count += 1;
                }
            }
        }
        if !(ell > 0.0 && ell.is_finite()) {
            return;
        }
        let b = (1.0 / (self.shape_count + 1) as f64).max(self.params.alpha_shape);
        for &k in &self.valid {
            let quiet = self.quiet.get(k).copied().unwrap_or(false);
            let excluded = exclude.get(k).copied().unwrap_or(false);
            if quiet && !excluded {
                let p = f64::from(psd.get(k).copied().unwrap_or(0.0));
                if let Some(s) = self.shape.get_mut(k) {
                    *s += b * (p / ell - *s);
                }
            }
        }
        self.shape_s2 = (1.0 - b) * (1.0 - b) * self.shape_s2 + b * b;
        self.shape_count += 1;
        self.track_spurs(psd, ell);
    }

    /// Median tracking per bin and the spur map: a bin whose running median stays above
    /// [`SPUR_RATIO`] × its shape, in a run of such bins no wider than `spur_max_bins`, is a
    /// receiver spur (a tone: 2–3 bins of a tapered window) and joins the noise shape. Wider
    /// persistent features (carriers, broadcast signals) never do, so their channels stay busy;
    /// intermittent ones (duty < 50 %) do not move a median.
    fn track_spurs(&mut self, psd: &[f32], ell: f64) {
        if self.params.spur_max_bins == 0 {
            self.eff.copy_from_slice(&self.shape);
            return;
        }
        let q50 = self.stats.q50;
        for &k in &self.valid {
            let r = f64::from(psd.get(k).copied().unwrap_or(0.0)) / ell / q50;
            if let Some(m) = self.median.get_mut(k) {
                if r > *m {
                    *m *= 1.0 + SPUR_STEP;
                } else {
                    *m /= 1.0 + SPUR_STEP;
                }
            }
        }
        self.eff.copy_from_slice(&self.shape);
        let elevated = |k: usize| {
            self.median.get(k).copied().unwrap_or(0.0)
                > SPUR_RATIO * self.shape.get(k).copied().unwrap_or(1.0)
        };
        let mut run_start: Option<usize> = None;
        let n = self.eff.len();
        for k in 0..=n {
            let valid_here = k < n && self.valid.binary_search(&k).is_ok();
            if valid_here && elevated(k) {
                run_start.get_or_insert(k);
                continue;
            }
            if let Some(start) = run_start.take()
                && k - start <= self.params.spur_max_bins
            {
                for j in start..k {
                    if let (Some(e), Some(m)) = (self.eff.get_mut(j), self.median.get(j)) {
                        *e = *m;
                    }
                }
            }
        }
    }

    fn restart_level(&mut self, ell: f64) {
        self.level = Some(ell);
        self.level_count = 1;
        self.level_s2 = 1.0;
        self.jump_run = 0;
        self.drop_run = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_stats_exponential_case() {
        // ν = 1: exponential; 25th percentile −ln 0.75, cut-off −ln 1e−3.
        let s = BinStats::new(1.0);
        assert!((s.q25 - (-(0.75f64).ln())).abs() < 1e-6);
        assert!((s.cutoff - (1000f64).ln()).abs() < 1e-4);
        // E[X | X < T] for Exp(1): 1 − T e^{−T}/(1 − e^{−T}).
        let t = s.cutoff;
        let expect = 1.0 - t * (-t).exp() / (1.0 - (-t).exp());
        assert!((s.trunc_mean - expect).abs() < 1e-6);
    }

    #[test]
    fn fcme_ignores_strong_bins() {
        let stats = BinStats::new(1e6);
        let mut v: Vec<f32> = (0..100).map(|i| if i < 30 { 100.0 } else { 2.0 }).collect();
        let (level, quiet) = fcme_level(&mut v, &stats).unwrap();
        assert_eq!(quiet, 70);
        assert!((level - 2.0).abs() < 1e-3, "{level}");
    }
}
