//! The energy detector: Welch PSD per sensing window, per-channel band power, noise-floor
//! tracking, a CFAR χ²/F threshold for a target false-alarm probability, busy/idle per channel.
//!
//! Data flow: blocks of any size ([`EnergyDetector::process`], or raw `cu8` bytes through
//! [`EnergyDetector::process_cu8`]) are cut into sensing windows of `round(window_s·rate)`
//! samples, the first starting at the first sample seen. Inside a window, Welch segments of
//! `fft_size` samples every `hop = fft_size − round(overlap·fft_size)` samples (plus one flush
//! with the window's end when the hops leave a tail, so that no sample is ignored: a short
//! burst at the end of a window counts) are windowed,
//! transformed and their `|X|²` accumulated as the samples arrive (a segment that straddles
//! two blocks is assembled from a carry of < `fft_size` samples; nothing else is copied). At the
//! end of a window:
//!
//! 1. PSD `P[k]` (FFT-shifted, `E[P[k]] = σ²` for white noise of variance σ²).
//! 2. Valid bins: not within `dc_bins` of DC, not in the `edge_crop` fraction at each edge.
//! 3. Noise: FCME level of the window and the tracked level/shape ([`crate::dsp::noise`]).
//! 4. Per channel: `E_c` = mean of `P[k]` over its valid bins; `n` = effective samples
//!    ([`crate::dsp::dof`]); reference `σ̂²_c` with `n_ref` effective samples; threshold
//!    `λ = σ̂²_c · Qinv_F(2n, 2n_ref)(P_fa)` (→ the χ² one of SPEC 2.2 as `n_ref → ∞`);
//!    busy = `E_c > λ`; SNR = `E_c/σ̂²_c − 1`. Dispersion guard (`dispersion_guard`): if the
//!    idle windows' `E_c/σ̂²_c` are clearly more spread (25th−5th percentile, 200 windows) than
//!    the model allows, `n` is lowered to match (real front ends); the reported `n` is the one
//!    used.
//! 5. The tracker learns from the window (bins of busy channels excluded).
//!
//! A change of centre frequency or a gap in sample indices between blocks restarts the window.
//! Each centre frequency keeps its own noise tracker (a sweeping source revisits its hops).

use num_complex::Complex32;
use serde::{Deserialize, Serialize};

use crate::dsp::noise::{BinStats, NoiseTracker, TrackerParams};
use crate::dsp::{IqSample, Welch, WindowKind, dof, f_threshold_factor};
use crate::source::BlockMeta;
use crate::{Error, Result};

/// One channel the detector decides on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// Name shown in reports (`ch0`, `GSM 975`, ...).
    pub name: String,
    /// RF centre in Hz.
    pub center_hz: f64,
    /// Bandwidth in Hz.
    pub bandwidth_hz: f64,
}

/// Detector settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    /// FFT size of the Welch segments.
    pub fft_size: usize,
    /// Segment window.
    pub window: WindowKind,
    /// Fraction of a segment that overlaps the next, in [0, 1).
    pub overlap: f64,
    /// Sensing window (one decision per channel per window) in seconds.
    pub window_s: f64,
    /// Target false-alarm probability per decision.
    pub pfa: f64,
    /// DC bins dropped: 0 keeps DC, 1 drops the DC bin, d drops DC and d−1 bins either side.
    pub dc_bins: usize,
    /// Fraction of the band dropped at each edge (anti-alias filter roll-off).
    pub edge_crop: f64,
    /// Time constant of the noise level average, seconds (running mean until then).
    pub noise_tau_s: f64,
    /// Time constant of the noise shape (per-bin) average, seconds.
    pub shape_tau_s: f64,
    /// How long the band-wide level must stay above the tracked level before the tracker
    /// accepts it as the new noise floor (gain change, or a wideband signal that never stops).
    pub noise_follow_s: f64,
    /// Widest persistent narrow feature, in FFT bins, that the noise shape absorbs as a
    /// receiver spur (0: none). Persistent features wider than this count as signals.
    pub spur_max_bins: usize,
    /// Dispersion guard: lower `n` when the idle windows' statistic is clearly more dispersed
    /// than the white-noise model allows (real front ends: gain wander, non-Gaussian noise).
    /// Off, the threshold follows the model exactly (what the P_d theory assumes).
    pub dispersion_guard: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            fft_size: 1024,
            window: WindowKind::Hann,
            overlap: 0.5,
            window_s: 0.1,
            pfa: 0.01,
            dc_bins: 1,
            edge_crop: 0.05,
            noise_tau_s: 1.0,
            shape_tau_s: 10.0,
            noise_follow_s: 2.0,
            spur_max_bins: 3,
            dispersion_guard: true,
        }
    }
}

/// The decision on one channel in one sensing window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelDecision {
    /// Seconds since the stream start at the window's first sample.
    pub t_start_s: f64,
    /// Index of the window's first sample.
    pub sample_start: u64,
    /// Samples in the window.
    pub sample_count: u64,
    /// Channel name.
    pub channel: String,
    /// Channel centre (Hz).
    pub center_hz: f64,
    /// Channel bandwidth (Hz).
    pub bandwidth_hz: f64,
    /// Test statistic E_c: mean power per bin over the channel's bins and the window's
    /// segments, dB relative to full scale.
    pub energy_dbfs: f64,
    /// Tracked noise floor σ² for the channel, dBFS (same normalisation as `energy_dbfs`).
    pub noise_dbfs: f64,
    /// Decision threshold λ, dBFS.
    pub threshold_dbfs: f64,
    /// Estimated SNR (E_c/σ² - 1) in dB; very negative when nothing is there.
    pub snr_db: f64,
    /// Target P_fa used for the threshold.
    pub pfa: f64,
    /// Effective number of independent complex samples behind E_c.
    pub n: f64,
    /// E_c > λ; forced true (fail closed) when `invalid_input` is set.
    pub busy: bool,
    /// The window held non-finite (NaN, ±inf) or overflowing samples: no measurement was
    /// possible, so the channel is reported busy rather than idle (a broken front end must never
    /// open spectrum to secondary users) and the noise reference is left untouched.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invalid_input: bool,
}

/// Everything the detector says about one sensing window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowReport {
    /// Index of the window's first sample.
    pub sample_start: u64,
    /// Samples in the window.
    pub sample_count: u64,
    /// Seconds since the stream start.
    pub t_start_s: f64,
    /// RF centre of the window.
    pub center_hz: f64,
    /// Sample rate.
    pub sample_rate_hz: f64,
    /// Welch PSD of the window, FFT-shifted (lowest frequency first), linear power per bin
    /// (same normalisation as the decisions); cropped bins are kept but flagged in `valid`.
    pub psd: Vec<f32>,
    /// Per bin of `psd`: false for DC and edge-cropped bins.
    pub valid: Vec<bool>,
    /// Noise floor per bin (tracked level × shape), linear, as used for this window.
    pub noise_psd: Vec<f32>,
    /// Welch segments averaged.
    pub segments: usize,
    /// One decision per channel, in channel order (channels outside the band of a retuned
    /// window are left out).
    pub decisions: Vec<ChannelDecision>,
    /// The window's PSD was not finite (NaN, ±inf or overflowing samples); every decision is
    /// busy and flagged `invalid_input`.
    pub invalid_input: bool,
}

impl WindowReport {
    /// First and last bin (inclusive) that are not edge-cropped; `(0, psd.len()−1)` if none is
    /// flagged (DC bins inside the range are not excluded).
    pub fn valid_bins(&self) -> (usize, usize) {
        let first = self.valid.iter().position(|&v| v).unwrap_or(0);
        let last = self
            .valid
            .iter()
            .rposition(|&v| v)
            .unwrap_or(self.psd.len().saturating_sub(1));
        (first, last)
    }

    /// Frequency (Hz, RF) of the centre of bin `k` of `psd`.
    pub fn bin_hz(&self, k: usize) -> f64 {
        let n = self.psd.len().max(1) as f64;
        self.center_hz + (k as f64 - (n / 2.0).floor()) * self.sample_rate_hz / n
    }
}

/// Per-channel constants and threshold state for one tuning.
#[derive(Debug, Clone)]
struct ChannelBins {
    index: usize,
    bins: Vec<usize>,
    /// Effective samples behind E_c with equal noise in every bin.
    n_white: f64,
    /// `n_white` scaled by the flatness of the tracked noise shape over the channel.
    n: f64,
    /// Thresholds for the last (n_ref, n_used): recomputed only when they move.
    cache: Option<ThresholdCache>,
    /// Theoretical lower spread for the last total count: (n_tot, spread).
    spread_cache: Option<(f64, f64)>,
    /// Ratios E_c/σ̂² of the last [`DISPERSION_HISTORY`] idle windows (ring).
    idle_ratios: Vec<f32>,
    idle_head: usize,
    scratch: Vec<f32>,
}

#[derive(Debug, Clone, Copy)]
struct ThresholdCache {
    n_ref: f64,
    n_used: f64,
    factor: f64,
    strong: f64,
}

/// Idle windows remembered per channel for the dispersion guard.
const DISPERSION_HISTORY: usize = 200;
/// Idle windows needed before the dispersion guard may act.
const DISPERSION_MIN: usize = 32;
/// P_fa of the "strong" threshold above which a channel's bins do not teach the noise shape.
const STRONG_PFA: f64 = 1e-4;

fn close(a: f64, b: f64) -> bool {
    (a.is_infinite() && b.is_infinite()) || (a - b).abs() <= 1e-3 * a.abs()
}

impl ChannelBins {
    fn new(index: usize, bins: Vec<usize>, n: f64) -> Self {
        Self {
            index,
            bins,
            n_white: n,
            n,
            cache: None,
            spread_cache: None,
            idle_ratios: Vec::with_capacity(DISPERSION_HISTORY),
            idle_head: 0,
            scratch: Vec::with_capacity(DISPERSION_HISTORY),
        }
    }

    /// Effective samples the threshold uses: the computed `n`, unless the idle windows'
    /// ratios are clearly more dispersed than the model allows (real front ends: gain
    /// wander, non-Gaussian noise), in which case `n` is lowered to match. The spread is
    /// measured low in the distribution (25th − 5th percentile), where signals, which only add
    /// power, hardly reach even when many missed detections sit among the idle windows;
    /// "clearly" is 4 standard errors (≈ 2/√len relative).
    fn n_used(&mut self, n_ref: f64, guard: bool) -> f64 {
        let len = self.idle_ratios.len();
        if !guard || len < DISPERSION_MIN || self.n.is_nan() || self.n <= 0.0 {
            return self.n;
        }
        let n_tot = if n_ref.is_finite() {
            1.0 / (1.0 / self.n + 1.0 / n_ref)
        } else {
            self.n
        };
        let theory = match self.spread_cache {
            Some((nt, sp)) if close(nt, n_tot) => sp,
            _ => {
                let sp = lower_spread(n_tot);
                self.spread_cache = Some((n_tot, sp));
                sp
            }
        };
        self.scratch.clear();
        self.scratch.extend_from_slice(&self.idle_ratios);
        let upper = ((len as f64) * SPREAD_HI).floor() as usize;
        let lower = ((len as f64) * SPREAD_LO).floor() as usize;
        let (_, hi, _) = self
            .scratch
            .select_nth_unstable_by(upper.min(len - 1), f32::total_cmp);
        let hi = f64::from(*hi);
        let (_, lo, _) = self
            .scratch
            .select_nth_unstable_by(lower.min(len - 1), f32::total_cmp);
        let emp = hi - f64::from(*lo);
        if theory.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
            || emp <= theory * (1.0 + 8.0 / (len as f64).sqrt())
        {
            return self.n;
        }
        let inflate = (emp / theory).powi(2);
        let v = inflate / n_tot - if n_ref.is_finite() { 1.0 / n_ref } else { 0.0 };
        if v > 0.0 {
            (1.0 / v).clamp(1.0, self.n)
        } else {
            self.n
        }
    }

    fn remember_idle(&mut self, ratio: f64) {
        let r = ratio as f32;
        if !r.is_finite() {
            return;
        }
        if self.idle_ratios.len() < DISPERSION_HISTORY {
            self.idle_ratios.push(r);
        } else if let Some(slot) = self.idle_ratios.get_mut(self.idle_head) {
            *slot = r;
        }
        self.idle_head = (self.idle_head + 1) % DISPERSION_HISTORY;
    }

    fn thresholds(&mut self, n_ref: f64, pfa: f64, guard: bool) -> (f64, f64, f64) {
        let n_used = self.n_used(n_ref, guard);
        match self.cache {
            Some(c) if close(c.n_ref, n_ref) && close(c.n_used, n_used) => {
                (c.n_used, c.factor, c.strong)
            }
            _ => {
                let factor = f_threshold_factor(n_used, n_ref, pfa);
                let strong = f_threshold_factor(n_used, n_ref, pfa.min(STRONG_PFA));
                self.cache = Some(ThresholdCache {
                    n_ref,
                    n_used,
                    factor,
                    strong,
                });
                (n_used, factor, strong)
            }
        }
    }
}

/// Quantiles of the dispersion guard's spread.
const SPREAD_HI: f64 = 0.25;
const SPREAD_LO: f64 = 0.05;

/// 25th minus 5th percentile of Gamma(n, 1/n), the dispersion guard's yardstick.
fn lower_spread(n: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Gamma};
    match Gamma::new(n, n) {
        Ok(g) if n < 1e6 => g.inverse_cdf(SPREAD_HI) - g.inverse_cdf(SPREAD_LO),
        // Normal limit: (1.6449 − 0.6745)/√n.
        _ => 0.970_4 / n.sqrt(),
    }
}

/// Everything that depends on the centre frequency.
#[derive(Debug, Clone)]
struct Tuning {
    center_hz: f64,
    valid: Vec<bool>,
    channels: Vec<ChannelBins>,
    tracker: NoiseTracker,
}

/// Most tunings kept (a sweep across more hops than this starts trackers afresh).
const MAX_TUNINGS: usize = 64;

/// The energy detector (see the module docs).
#[derive(Debug)]
pub struct EnergyDetector {
    config: DetectorConfig,
    rate: f64,
    channels: Vec<Channel>,
    hop: usize,
    window_len: usize,
    segments: usize,
    seg_offsets: Vec<usize>,
    window_coeffs: Vec<f64>,
    bin_stats: BinStats,
    welch: Welch,
    tunings: Vec<Tuning>,
    active: usize,
    // Streaming state of the current window.
    win_start_index: u64,
    win_start_time: f64,
    win_pos: usize,
    next_seg: usize,
    seg_done: usize,
    carry: Vec<Complex32>,
    carry_start: usize,
    expected_index: Option<u64>,
    psd: Vec<f32>,
    exclude: Vec<bool>,
}

const CONTEXT: &str = "energy detector";

fn invalid(field: &str, message: String) -> Error {
    Error::InvalidField {
        context: CONTEXT.to_string(),
        field: field.to_string(),
        message,
    }
}

fn dbfs(p: f64) -> f64 {
    10.0 * p.max(1e-30).log10()
}

impl EnergyDetector {
    /// The default channel when no band plan is given: the central 80 % of the captured band.
    pub fn default_channel(sample_rate_hz: f64, center_hz: f64) -> Channel {
        Channel {
            name: "ch0".to_string(),
            center_hz,
            bandwidth_hz: 0.8 * sample_rate_hz,
        }
    }

    /// A detector for a stream at `sample_rate_hz`, tuned to `center_hz`, deciding on
    /// `channels`.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the field for: a non-positive or non-finite rate; an FFT
    /// size that is not a power of two in 16..=65536; overlap outside [0, 1); P_fa outside
    /// (0, 1); a window shorter than one FFT segment; `edge_crop` outside [0, 0.5) or DC bins
    /// that eat the band; non-positive time constants; an empty channel list; a channel of
    /// non-positive width or one that covers no usable bin.
    /// [`Error::ChannelOutsideBand`] for a channel not inside the band left after the edge crop.
    pub fn new(
        config: DetectorConfig,
        sample_rate_hz: f64,
        center_hz: f64,
        channels: Vec<Channel>,
    ) -> Result<Self> {
        if !center_hz.is_finite() {
            return Err(invalid("center_hz", format!("{center_hz}: must be finite")));
        }
        let mut det = Self::untuned(config, sample_rate_hz, channels)?;
        let tuning = det.make_tuning(center_hz, true)?;
        det.tunings.push(tuning);
        Ok(det)
    }

    /// Validates the settings and builds everything but the tunings.
    fn untuned(
        config: DetectorConfig,
        sample_rate_hz: f64,
        channels: Vec<Channel>,
    ) -> Result<Self> {
        if !(sample_rate_hz.is_finite() && sample_rate_hz > 0.0) {
            return Err(invalid(
                "sample_rate_hz",
                format!("{sample_rate_hz}: must be a positive number of Hz"),
            ));
        }
        let n = config.fft_size;
        if !(16..=65_536).contains(&n) || !n.is_power_of_two() {
            return Err(invalid(
                "fft_size",
                format!("{n}: must be a power of two in 16..=65536"),
            ));
        }
        if !(config.overlap >= 0.0 && config.overlap < 1.0) {
            return Err(invalid(
                "overlap",
                format!("{}: must be in [0, 1)", config.overlap),
            ));
        }
        let overlap_samples = (config.overlap * n as f64).round() as usize;
        let hop = n.saturating_sub(overlap_samples);
        if hop == 0 {
            return Err(invalid(
                "overlap",
                format!("{}: leaves no hop between segments of {n}", config.overlap),
            ));
        }
        if !(config.pfa > 0.0 && config.pfa < 1.0) {
            return Err(invalid("pfa", format!("{}: must be in (0, 1)", config.pfa)));
        }
        let len = config.window_s * sample_rate_hz;
        if !(len.is_finite() && len.round() >= n as f64 && len <= 1e11) {
            return Err(invalid(
                "window_s",
                format!(
                    "{} s at {sample_rate_hz} Hz is {len:.0} samples: the window must hold at least one FFT segment ({n} samples)",
                    config.window_s
                ),
            ));
        }
        let window_len = len.round() as usize;
        if !(config.edge_crop >= 0.0 && config.edge_crop < 0.5) {
            return Err(invalid(
                "edge_crop",
                format!("{}: must be in [0, 0.5)", config.edge_crop),
            ));
        }
        if config.dc_bins >= n / 4 {
            return Err(invalid(
                "dc_bins",
                format!("{}: must be below fft_size/4 = {}", config.dc_bins, n / 4),
            ));
        }
        for (field, v) in [
            ("noise_tau_s", config.noise_tau_s),
            ("shape_tau_s", config.shape_tau_s),
            ("noise_follow_s", config.noise_follow_s),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(invalid(
                    field,
                    format!("{v}: must be a positive number of seconds"),
                ));
            }
        }
        if channels.is_empty() {
            return Err(invalid("channels", "no channel to decide on".to_string()));
        }
        let seg_offsets = dof::segment_offsets(window_len, n, hop);
        let segments = seg_offsets.len();
        let window_coeffs = config.window.coefficients(n);
        let nu = dof::effective_dof_offsets(&window_coeffs, &seg_offsets, &[0]);
        let det = Self {
            rate: sample_rate_hz,
            hop,
            window_len,
            segments,
            seg_offsets,
            bin_stats: BinStats::new(nu),
            welch: Welch::new(n, config.window),
            window_coeffs,
            tunings: Vec::new(),
            active: 0,
            win_start_index: 0,
            win_start_time: 0.0,
            win_pos: 0,
            next_seg: 0,
            seg_done: 0,
            carry: Vec::with_capacity(n),
            carry_start: 0,
            expected_index: None,
            psd: vec![0.0; n],
            exclude: vec![false; n],
            channels,
            config,
        };
        Ok(det)
    }

    /// A detector for a source that sweeps: it retunes through `centers_hz` (a sweeping
    /// SoapySDR device, see [`plan_sweep`]). Each window decides on the channels inside the
    /// band usable at the window's centre; every channel must fit inside at least one.
    ///
    /// # Errors
    /// As [`Self::new`]; [`Error::ChannelOutsideBand`] for a channel no centre covers (named
    /// against the nearest centre's band), [`Error::InvalidField`] (`centers_hz`) for an empty
    /// list.
    pub fn new_sweep(
        config: DetectorConfig,
        sample_rate_hz: f64,
        centers_hz: &[f64],
        channels: Vec<Channel>,
    ) -> Result<Self> {
        let Some(&first) = centers_hz.first() else {
            return Err(invalid("centers_hz", "no centre to sweep".to_string()));
        };
        if let Some(bad) = centers_hz.iter().find(|c| !c.is_finite()) {
            return Err(invalid("centers_hz", format!("{bad}: must be finite")));
        }
        let mut det = Self::untuned(config, sample_rate_hz, channels)?;
        let mut covered = vec![false; det.channels.len()];
        for &center in centers_hz {
            let tuning = det.make_tuning(center, false)?;
            for cb in &tuning.channels {
                if let Some(c) = covered.get_mut(cb.index) {
                    *c = true;
                }
            }
            det.tunings.push(tuning);
        }
        if let Some(i) = covered.iter().position(|c| !c)
            && let Some(ch) = det.channels.get(i)
        {
            let nearest = centers_hz
                .iter()
                .copied()
                .min_by(|a, b| {
                    (a - ch.center_hz)
                        .abs()
                        .total_cmp(&(b - ch.center_hz).abs())
                })
                .unwrap_or(first);
            let (band_low_hz, band_high_hz) = det.usable_band(nearest);
            return Err(Error::ChannelOutsideBand {
                channel: ch.name.clone(),
                low_hz: ch.center_hz - ch.bandwidth_hz / 2.0,
                high_hz: ch.center_hz + ch.bandwidth_hz / 2.0,
                band_low_hz,
                band_high_hz,
            });
        }
        det.active = 0;
        Ok(det)
    }

    /// The settings.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// The channels decided on, in report order.
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// Samples per sensing window.
    pub fn window_len(&self) -> usize {
        self.window_len
    }

    /// Welch segments per sensing window.
    pub fn segments_per_window(&self) -> usize {
        self.segments
    }

    /// Samples between segment starts.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Effective number of samples `n` behind each channel's statistic at the current tuning
    /// (channel order; channels outside the band are absent).
    pub fn channel_dof(&self) -> Vec<(usize, f64)> {
        self.tunings
            .get(self.active)
            .map(|t| t.channels.iter().map(|c| (c.index, c.n_white)).collect())
            .unwrap_or_default()
    }

    /// Band edges `(low, high)` in Hz usable at `center_hz` after the edge crop.
    pub fn usable_band(&self, center_hz: f64) -> (f64, f64) {
        let half = (0.5 - self.config.edge_crop) * self.rate;
        (center_hz - half, center_hz + half)
    }

    fn make_tuning(&self, center_hz: f64, strict: bool) -> Result<Tuning> {
        let n = self.config.fft_size;
        let half = (n / 2) as i64;
        let bin_hz = self.rate / n as f64;
        let max_off = (0.5 - self.config.edge_crop) * n as f64 + 1e-9;
        let dc = self.config.dc_bins as i64;
        let valid: Vec<bool> = (0..n)
            .map(|k| {
                let off = k as i64 - half;
                (off.abs() as f64) <= max_off && off.abs() >= dc
            })
            .collect();
        let valid_idx: Vec<usize> = (0..n)
            .filter(|&k| valid.get(k).copied().unwrap_or(false))
            .collect();
        let (band_lo, band_hi) = self.usable_band(center_hz);
        let eps = 1e-9 * self.rate;
        let mut chans = Vec::new();
        for (i, ch) in self.channels.iter().enumerate() {
            if !(ch.bandwidth_hz.is_finite() && ch.bandwidth_hz > 0.0 && ch.center_hz.is_finite()) {
                return Err(invalid(
                    &format!("channels[{i}].bandwidth_hz"),
                    format!(
                        "channel `{}`: bandwidth {} Hz must be positive",
                        ch.name, ch.bandwidth_hz
                    ),
                ));
            }
            let lo = ch.center_hz - ch.bandwidth_hz / 2.0;
            let hi = ch.center_hz + ch.bandwidth_hz / 2.0;
            if lo < band_lo - eps || hi > band_hi + eps {
                if strict {
                    return Err(Error::ChannelOutsideBand {
                        channel: ch.name.clone(),
                        low_hz: lo,
                        high_hz: hi,
                        band_low_hz: band_lo,
                        band_high_hz: band_hi,
                    });
                }
                continue;
            }
            let bins: Vec<usize> = valid_idx
                .iter()
                .copied()
                .filter(|&k| {
                    let f = center_hz + (k as f64 - half as f64) * bin_hz;
                    f >= lo - eps && f <= hi + eps
                })
                .collect();
            if bins.is_empty() {
                if strict {
                    return Err(invalid(
                        &format!("channels[{i}].bandwidth_hz"),
                        format!(
                            "channel `{}` ({} Hz wide at {} Hz) covers no usable FFT bin (bins are {bin_hz} Hz apart; DC bins are dropped)",
                            ch.name, ch.bandwidth_hz, ch.center_hz
                        ),
                    ));
                }
                continue;
            }
            let n_c = dof::effective_dof_offsets(&self.window_coeffs, &self.seg_offsets, &bins);
            chans.push(ChannelBins::new(i, bins, n_c));
        }
        let n_band = dof::effective_dof_offsets(&self.window_coeffs, &self.seg_offsets, &valid_idx);
        let window_dur = self.window_len as f64 / self.rate;
        let params = TrackerParams {
            alpha_level: (window_dur / self.config.noise_tau_s).min(1.0),
            alpha_shape: (window_dur / self.config.shape_tau_s).min(1.0),
            follow_windows: (self.config.noise_follow_s / window_dur).ceil().max(1.0) as u64,
            n_band,
            spur_max_bins: self.config.spur_max_bins,
        };
        Ok(Tuning {
            center_hz,
            valid,
            channels: chans,
            tracker: NoiseTracker::new(n, valid_idx, self.bin_stats, params),
        })
    }

    fn select_tuning(&mut self, center_hz: f64) -> Result<()> {
        if let Some(i) = self.tunings.iter().position(|t| t.center_hz == center_hz) {
            self.active = i;
            return Ok(());
        }
        let t = self.make_tuning(center_hz, false)?;
        if self.tunings.len() >= MAX_TUNINGS {
            self.tunings.remove(0);
        }
        self.tunings.push(t);
        self.active = self.tunings.len() - 1;
        Ok(())
    }

    fn restart_window(&mut self) {
        self.win_pos = 0;
        self.next_seg = 0;
        self.seg_done = 0;
        self.carry.clear();
        self.carry_start = 0;
        self.welch.reset();
    }

    /// Feeds one block of samples; appends a [`WindowReport`] to `out` for every sensing
    /// window completed by this block.
    ///
    /// # Errors
    /// [`Error::InvalidField`] (`sample_rate_hz`) if the block's rate differs from the
    /// detector's; errors of a retune to a centre where no channel can be evaluated are not
    /// raised (the channels are skipped).
    pub fn process(
        &mut self,
        meta: &BlockMeta,
        samples: &[Complex32],
        out: &mut Vec<WindowReport>,
    ) -> Result<()> {
        self.process_generic(meta, samples, out)
    }

    /// As [`Self::process`] for interleaved `cu8` bytes (`rtl_sdr` output), converted on the fly
    /// through a lookup table; an odd trailing byte is ignored.
    ///
    /// # Errors
    /// As [`Self::process`].
    pub fn process_cu8(
        &mut self,
        meta: &BlockMeta,
        bytes: &[u8],
        out: &mut Vec<WindowReport>,
    ) -> Result<()> {
        let (pairs, _) = bytes.as_chunks::<2>();
        self.process_generic(meta, pairs, out)
    }

    fn process_generic<S: IqSample>(
        &mut self,
        meta: &BlockMeta,
        samples: &[S],
        out: &mut Vec<WindowReport>,
    ) -> Result<()> {
        if (meta.sample_rate_hz - self.rate).abs() > 1e-9 * self.rate {
            return Err(invalid(
                "sample_rate_hz",
                format!(
                    "block at {} Hz, detector built for {} Hz",
                    meta.sample_rate_hz, self.rate
                ),
            ));
        }
        let retuned = self
            .tunings
            .get(self.active)
            .is_none_or(|t| t.center_hz != meta.center_hz);
        if retuned {
            self.select_tuning(meta.center_hz)?;
        }
        if retuned || self.expected_index != Some(meta.sample_index) {
            self.restart_window();
        }
        self.expected_index = meta.sample_index.checked_add(samples.len() as u64);
        let n = self.config.fft_size;
        let mut i = 0usize;
        while i < samples.len() {
            if self.win_pos == 0 {
                self.win_start_index = meta.sample_index + i as u64;
                self.win_start_time = meta.time_s + i as f64 / self.rate;
            }
            let take = (samples.len() - i).min(self.window_len - self.win_pos);
            let chunk = samples.get(i..i + take).unwrap_or_default();
            let end = self.win_pos + take;
            while self.seg_done < self.segments && self.next_seg + n <= end {
                let s = self.next_seg;
                if s >= self.win_pos {
                    let from = s - self.win_pos;
                    self.welch
                        .add_segment(chunk.get(from..from + n).unwrap_or_default());
                } else {
                    let from = s - self.carry_start;
                    let a = self.carry.get(from..).unwrap_or_default();
                    let b = chunk.get(..n - a.len()).unwrap_or_default();
                    self.welch.add_segment_split(a, b);
                }
                self.seg_done += 1;
                self.next_seg = self
                    .seg_offsets
                    .get(self.seg_done)
                    .copied()
                    .unwrap_or(usize::MAX / 2);
            }
            if self.seg_done < self.segments {
                // Keep what the next segment still needs (fewer than n samples).
                if self.next_seg >= self.win_pos {
                    self.carry.clear();
                    self.carry_start = self.next_seg;
                    let from = self.next_seg - self.win_pos;
                    self.carry.extend(
                        chunk
                            .get(from..)
                            .unwrap_or_default()
                            .iter()
                            .map(|s| s.to_complex()),
                    );
                } else {
                    let drop = self.next_seg - self.carry_start;
                    self.carry.drain(..drop.min(self.carry.len()));
                    self.carry_start = self.next_seg;
                    self.carry.extend(chunk.iter().map(|s| s.to_complex()));
                }
            }
            self.win_pos = end;
            i += take;
            if self.win_pos == self.window_len {
                self.finish_window(meta.center_hz, out);
                self.restart_window();
            }
        }
        Ok(())
    }

    fn finish_window(&mut self, center_hz: f64, out: &mut Vec<WindowReport>) {
        self.welch.finish_into(&mut self.psd);
        // NaN or ±inf anywhere in the window (a bad sample, or |x|² overflowing) reaches every
        // bin through the FFT or at least its own bin; comparisons with NaN are false, which
        // would read as "idle". Fail closed instead, and keep it out of the noise reference.
        let invalid_input = self.psd.iter().any(|p| !p.is_finite());
        let pfa = self.config.pfa;
        let guard = self.config.dispersion_guard;
        let Some(tuning) = self.tunings.get_mut(self.active) else {
            return;
        };
        let analysed = if invalid_input {
            None
        } else {
            tuning.tracker.analyse(&self.psd)
        };
        self.exclude.fill(false);
        let mut decisions = Vec::with_capacity(tuning.channels.len());
        for cb in &mut tuning.channels {
            let e_c = cb
                .bins
                .iter()
                .map(|&k| f64::from(self.psd.get(k).copied().unwrap_or(0.0)))
                .sum::<f64>()
                / cb.bins.len().max(1) as f64;
            cb.n = cb.n_white * tuning.tracker.flatness(&cb.bins);
            let (sigma2, n_ref) =
                match analysed.and_then(|_| tuning.tracker.reference(&cb.bins, cb.n)) {
                    Some(r) => r,
                    None => (e_c, 1.0),
                };
            let (n_used, factor, strong) = cb.thresholds(n_ref, pfa, guard);
            let lambda = sigma2 * factor;
            let busy = invalid_input || e_c > lambda;
            if !invalid_input && e_c > sigma2 * strong {
                for &k in &cb.bins {
                    if let Some(x) = self.exclude.get_mut(k) {
                        *x = true;
                    }
                }
            }
            if !busy && sigma2 > 0.0 {
                cb.remember_idle(e_c / sigma2);
            }
            let ratio = if sigma2 > 0.0 {
                e_c / sigma2 - 1.0
            } else {
                0.0
            };
            let snr_db = if ratio > 0.0 {
                (10.0 * ratio.log10()).max(-99.0)
            } else {
                -99.0
            };
            let Some(ch) = self.channels.get(cb.index) else {
                continue;
            };
            decisions.push(ChannelDecision {
                t_start_s: self.win_start_time,
                sample_start: self.win_start_index,
                sample_count: self.window_len as u64,
                channel: ch.name.clone(),
                center_hz: ch.center_hz,
                bandwidth_hz: ch.bandwidth_hz,
                energy_dbfs: dbfs(e_c),
                noise_dbfs: dbfs(sigma2),
                threshold_dbfs: dbfs(lambda),
                snr_db,
                pfa,
                n: n_used,
                busy,
                invalid_input,
            });
        }
        let level = tuning
            .tracker
            .level()
            .or(analysed.map(|a| a.level))
            .unwrap_or(0.0);
        let noise_psd = tuning
            .tracker
            .effective_shape()
            .iter()
            .map(|&s| (s * level) as f32)
            .collect();
        if !invalid_input {
            tuning.tracker.update(&self.psd, &self.exclude);
        }
        out.push(WindowReport {
            sample_start: self.win_start_index,
            sample_count: self.window_len as u64,
            t_start_s: self.win_start_time,
            center_hz,
            sample_rate_hz: self.rate,
            psd: self.psd.clone(),
            valid: tuning.valid.clone(),
            noise_psd,
            segments: self.seg_done,
            decisions,
            invalid_input,
        });
    }
}

/// Centres for sweeping `channels` with a front end of `sample_rate_hz` whose outer
/// `edge_crop` of the band is unusable: greedy from the lowest channel edge, each hop placing
/// the next uncovered channel's lower edge at the usable band's lower edge, so every channel
/// lies wholly inside one hop. A single centre when everything fits at once.
///
/// # Errors
/// [`Error::InvalidField`] (`channels`) for a channel wider than the usable band, or an empty
/// list.
pub fn plan_sweep(channels: &[Channel], sample_rate_hz: f64, edge_crop: f64) -> Result<Vec<f64>> {
    let usable = sample_rate_hz * (1.0 - 2.0 * edge_crop.clamp(0.0, 0.49));
    let mut edges: Vec<(f64, f64, &str)> = channels
        .iter()
        .map(|c| {
            (
                c.center_hz - c.bandwidth_hz / 2.0,
                c.center_hz + c.bandwidth_hz / 2.0,
                c.name.as_str(),
            )
        })
        .collect();
    edges.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (Some(lowest), Some(highest)) = (
        edges.first().map(|e| e.0),
        edges.iter().map(|e| e.1).max_by(f64::total_cmp),
    ) else {
        return Err(invalid("channels", "no channel to sweep".to_string()));
    };
    if let Some((lo, hi, name)) = edges.iter().find(|(lo, hi, _)| hi - lo > usable) {
        return Err(invalid(
            "channels",
            format!(
                "channel `{name}` is {:.0} Hz wide, more than the {usable:.0} Hz a {sample_rate_hz} Hz front end can see at once",
                hi - lo
            ),
        ));
    }
    // A little slack so edges that touch count as inside.
    let slack = 1e-6 * sample_rate_hz;
    if highest - lowest <= usable - slack {
        return Ok(vec![(lowest + highest) / 2.0]);
    }
    let mut centers = Vec::new();
    let mut i = 0;
    while let Some(&(lo, _, _)) = edges.get(i) {
        let band_lo = lo - slack;
        let band_hi = band_lo + usable;
        centers.push(band_lo + usable / 2.0);
        while edges.get(i).is_some_and(|e| e.1 <= band_hi) {
            i += 1;
        }
    }
    Ok(centers)
}

/// What [`bench_dsp`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchDspResult {
    /// Complex samples processed.
    pub samples: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Samples per second (millions).
    pub msps: f64,
    /// Sensing windows completed.
    pub windows: u64,
    /// Busy decisions among them.
    pub busy: u64,
}

/// `samples` complex samples of white Gaussian noise as interleaved `cu8` bytes
/// (σ ≈ 20 LSB per component, so clipping is negligible), deterministic from `seed`.
pub fn bench_noise_cu8(samples: usize, seed: u64) -> Vec<u8> {
    use rand::{Rng, SeedableRng};
    use rand_distr::StandardNormal;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(samples.saturating_mul(2));
    for _ in 0..samples.saturating_mul(2) {
        let g: f32 = rng.sample(StandardNormal);
        out.push((127.5 + 20.0 * g).round().clamp(0.0, 255.0) as u8);
    }
    out
}

/// The DSP benchmark behind `trustband bench dsp`: Welch PSD (FFT 1024, Hann, 50 % overlap) +
/// per-channel power + noise tracking + decision, single thread, on `cu8` bytes held in
/// memory, fed in blocks of 2¹⁸ samples (a file reader's block size) through
/// [`EnergyDetector::process_cu8`] with one default channel, `window_s` windows at
/// `sample_rate_hz`.
///
/// # Errors
/// As [`EnergyDetector::new`] for an unusable rate or window.
pub fn bench_dsp(data: &[u8], sample_rate_hz: f64, window_s: f64) -> Result<BenchDspResult> {
    let config = DetectorConfig {
        window_s,
        ..DetectorConfig::default()
    };
    let mut det = EnergyDetector::new(
        config,
        sample_rate_hz,
        0.0,
        vec![EnergyDetector::default_channel(sample_rate_hz, 0.0)],
    )?;
    let mut reports = Vec::new();
    let (mut windows, mut busy) = (0u64, 0u64);
    let block_bytes = 2 * (1 << 18);
    let start = std::time::Instant::now();
    let mut index = 0u64;
    for block in data.chunks(block_bytes) {
        let meta = BlockMeta {
            sample_index: index,
            sample_rate_hz,
            center_hz: 0.0,
            time_s: index as f64 / sample_rate_hz,
        };
        det.process_cu8(&meta, block, &mut reports)?;
        index += (block.len() / 2) as u64;
        for r in reports.drain(..) {
            windows += 1;
            busy += r.decisions.iter().filter(|d| d.busy).count() as u64;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(BenchDspResult {
        samples: index,
        seconds,
        msps: if seconds > 0.0 {
            index as f64 / seconds / 1e6
        } else {
            f64::INFINITY
        },
        windows,
        busy,
    })
}
