//! The energy detector: Welch PSD per sensing window, per-channel band power, noise-floor
//! tracking, a χ² threshold for a target false-alarm probability, busy/idle per channel.
//!
//! (Skeleton: the public types are fixed; the implementation is being written.)

use serde::{Deserialize, Serialize};

use crate::dsp::WindowKind;

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
    /// Bins either side of DC dropped (0 keeps DC).
    pub dc_bins: usize,
    /// Fraction of the band dropped at each edge (anti-alias filter roll-off).
    pub edge_crop: f64,
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
    /// E_c > λ.
    pub busy: bool,
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
    /// One decision per channel, in channel order.
    pub decisions: Vec<ChannelDecision>,
}
