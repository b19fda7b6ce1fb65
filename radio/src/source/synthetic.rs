//! Synthetic scenario: complex white noise plus primary users (PUs) switching on and off, with
//! the ground truth of who was on when.
//!
//! Data flow: [`ScenarioConfig`] (serde, from TOML) → [`SyntheticSource::new`] validates it and
//! derives one ChaCha8 stream per noise / PU signal / PU schedule from the seed →
//! [`IqSource::read_block`] writes noise and adds each PU over the runs of samples where its
//! schedule says it is on → [`SyntheticSource::ground_truth`] /
//! [`SyntheticSource::window_occupancy`] answer from the same schedules.
//!
//! Signals (each scaled to unit mean power while on, then to the PU's SNR):
//! - `ofdm`: many subcarriers with random QPSK, IFFT, optional cyclic prefix (wideband PU);
//! - `fsk`: continuous-phase 2-FSK at a symbol rate and deviation (narrowband bursts);
//! - `ook`: on-off keyed carrier, random bits (narrowband bursts, like 433 MHz sensors);
//! - `gaussian`: circular complex Gaussian, white over `bandwidth_hz` (the signal model of the
//!   energy detector's P_d theory; white over the whole band when `bandwidth_hz ≥ rate`).
//!
//! SNR is in-band: PU power over the noise power inside the PU's bandwidth. With positions for
//! the node and the PU, `snr_db` is the SNR at 1 m and falls by `10·ple·log10(d / 1 m)`.

use num_complex::Complex32;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp, StandardNormal};
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::{BlockMeta, IqSource, SourceInfo};
use crate::detector::Channel;
use crate::{Error, Result};

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScenarioConfig {
    /// Seed of every random stream (noise, signals, schedules).
    pub seed: u64,
    /// Seed of the receiver noise alone, when it must differ from `seed`: nodes that see the
    /// same primary users (same `seed`, so the same schedules and waveforms) through their own
    /// receivers differ here.
    pub noise_seed: Option<u64>,
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// RF centre, Hz.
    pub center_hz: f64,
    /// Noise power per complex sample, dBFS.
    pub noise_dbfs: f64,
    /// Stream length; endless when absent.
    pub duration_s: Option<f64>,
    /// The sensing node's position (metres), for the path-loss model.
    pub node_position_m: Option<[f64; 2]>,
    /// Path-loss exponent of the model.
    pub path_loss_exponent: f64,
    /// The primary users.
    pub primary_users: Vec<PrimaryUser>,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        let pu = |name: &str, off: f64, bw: f64, signal, snr_db, schedule| PrimaryUser {
            name: name.to_string(),
            center_hz: 600e6 + off,
            bandwidth_hz: bw,
            signal,
            snr_db,
            position_m: None,
            schedule,
        };
        Self {
            seed: 1,
            noise_seed: None,
            sample_rate_hz: 2.4e6,
            center_hz: 600e6,
            noise_dbfs: -30.0,
            duration_s: None,
            node_position_m: None,
            path_loss_exponent: 3.0,
            primary_users: vec![
                pu(
                    "ofdm",
                    -600e3,
                    500e3,
                    SignalKind::Ofdm {
                        fft_size: 256,
                        cp_fraction: 0.125,
                    },
                    3.0,
                    Schedule::Markov {
                        mean_on_s: 0.5,
                        mean_off_s: 0.5,
                    },
                ),
                pu(
                    "fsk",
                    100e3,
                    100e3,
                    SignalKind::Fsk {
                        symbol_rate_hz: 20e3,
                        deviation_hz: 25e3,
                    },
                    6.0,
                    Schedule::Periodic {
                        on_s: 0.2,
                        off_s: 0.3,
                        phase_s: 0.0,
                    },
                ),
                pu(
                    "ook",
                    600e3,
                    50e3,
                    SignalKind::Ook {
                        symbol_rate_hz: 5e3,
                    },
                    10.0,
                    Schedule::Markov {
                        mean_on_s: 0.1,
                        mean_off_s: 0.4,
                    },
                ),
            ],
        }
    }
}

/// One primary user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrimaryUser {
    /// Name (also the channel name of [`SyntheticSource::channels`]).
    pub name: String,
    /// RF centre, Hz.
    pub center_hz: f64,
    /// Occupied bandwidth, Hz.
    pub bandwidth_hz: f64,
    /// Waveform.
    pub signal: SignalKind,
    /// In-band SNR, dB (at 1 m when positions are given).
    pub snr_db: f64,
    /// Position (metres); with the node's position this sets the SNR by path loss.
    pub position_m: Option<[f64; 2]>,
    /// When it transmits.
    pub schedule: Schedule,
}

impl Default for PrimaryUser {
    fn default() -> Self {
        Self {
            name: "pu".to_string(),
            center_hz: 600e6,
            bandwidth_hz: 200e3,
            signal: SignalKind::Gaussian,
            snr_db: 0.0,
            position_m: None,
            schedule: Schedule::AlwaysOn,
        }
    }
}

/// Waveform of a primary user.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SignalKind {
    /// OFDM: `fft_size`-point symbols (subcarrier spacing rate/fft_size), random QPSK on the
    /// subcarriers inside the bandwidth, cyclic prefix of `cp_fraction` of a symbol.
    Ofdm {
        /// IFFT size (power of two, 8..=65536).
        fft_size: usize,
        /// Cyclic prefix length over symbol length, in [0, 1].
        cp_fraction: f64,
    },
    /// Continuous-phase 2-FSK.
    Fsk {
        /// Symbols per second.
        symbol_rate_hz: f64,
        /// Tone offset from the centre, Hz.
        deviation_hz: f64,
    },
    /// On-off keyed carrier with random bits.
    Ook {
        /// Bits per second.
        symbol_rate_hz: f64,
    },
    /// Circular complex Gaussian noise-like signal, flat over the bandwidth.
    Gaussian,
}

/// When a primary user transmits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// Always transmitting.
    AlwaysOn,
    /// Never transmitting.
    AlwaysOff,
    /// On for `on_s`, off for `off_s`, repeating; `phase_s` shifts the pattern (time 0 is at
    /// `phase_s` into an on period).
    Periodic {
        /// On duration, seconds.
        on_s: f64,
        /// Off duration, seconds.
        off_s: f64,
        /// Offset into the cycle at time 0, seconds.
        #[serde(default)]
        phase_s: f64,
    },
    /// Two-state Markov chain (exponential holding times), started in its stationary law.
    Markov {
        /// Mean on time, seconds.
        mean_on_s: f64,
        /// Mean off time, seconds.
        mean_off_s: f64,
    },
}

/// Sample-index state of one schedule.
#[derive(Debug, Clone)]
struct ScheduleState {
    schedule: Schedule,
    rate: f64,
    /// Markov: state at sample 0 and the sample indices where it flips (generated lazily).
    start_on: bool,
    toggles: Vec<u64>,
    rng: ChaCha8Rng,
}

impl ScheduleState {
    fn new(schedule: Schedule, rate: f64, mut rng: ChaCha8Rng) -> Self {
        let start_on = match schedule {
            Schedule::Markov {
                mean_on_s,
                mean_off_s,
            } => rng.random_bool((mean_on_s / (mean_on_s + mean_off_s)).clamp(0.0, 1.0)),
            _ => false,
        };
        Self {
            schedule,
            rate,
            start_on,
            toggles: Vec::new(),
            rng,
        }
    }

    fn extend_markov(&mut self, until: u64, mean_on_s: f64, mean_off_s: f64) {
        while self.toggles.last().is_none_or(|&t| t <= until) {
            let on_now = self.start_on ^ (self.toggles.len() % 2 == 1);
            let mean = if on_now { mean_on_s } else { mean_off_s };
            let dur_s = Exp::new(1.0 / mean)
                .map(|e| self.rng.sample(e))
                .unwrap_or(mean);
            let dur = ((dur_s * self.rate).round() as u64).max(1);
            let last = self.toggles.last().copied().unwrap_or(0);
            self.toggles.push(last.saturating_add(dur));
        }
    }

    /// State at `idx` and the first index after it where the state changes (`u64::MAX`: never).
    fn state(&mut self, idx: u64) -> (bool, u64) {
        match self.schedule {
            Schedule::AlwaysOn => (true, u64::MAX),
            Schedule::AlwaysOff => (false, u64::MAX),
            Schedule::Periodic {
                on_s,
                off_s,
                phase_s,
            } => {
                let on = (on_s * self.rate).round().max(0.0) as u64;
                let period = on + (off_s * self.rate).round().max(0.0) as u64;
                if period == 0 || on == 0 {
                    return (false, u64::MAX);
                }
                if on >= period {
                    return (true, u64::MAX);
                }
                let phase = (phase_s * self.rate).round().rem_euclid(period as f64) as u64;
                let pos = (idx + phase) % period;
                if pos < on {
                    (true, idx + (on - pos))
                } else {
                    (false, idx + (period - pos))
                }
            }
            Schedule::Markov {
                mean_on_s,
                mean_off_s,
            } => {
                self.extend_markov(idx, mean_on_s, mean_off_s);
                let flips = self.toggles.partition_point(|&t| t <= idx);
                let on = self.start_on ^ (flips % 2 == 1);
                let next = self.toggles.get(flips).copied().unwrap_or(u64::MAX);
                (on, next)
            }
        }
    }
}

/// Waveform generator state (unit mean power while on).
enum Generator {
    Ofdm {
        fft: Arc<dyn Fft<f32>>,
        bins: Vec<usize>,
        cp: usize,
        symbol: Vec<Complex32>,
        freq: Vec<Complex32>,
        pos: usize,
        scale: f32,
    },
    Fsk {
        phase: f64,
        offset: f64,
        deviation: f64,
        symbol_clock: f64,
        symbol_step: f64,
        high: bool,
    },
    Ook {
        phase: f64,
        offset: f64,
        symbol_clock: f64,
        symbol_step: f64,
        on: bool,
    },
    Gaussian {
        taps: Vec<f32>,
        history: Vec<Complex32>,
        head: usize,
        phase: f64,
        offset: f64,
    },
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::Ofdm { .. } => "Ofdm",
            Self::Fsk { .. } => "Fsk",
            Self::Ook { .. } => "Ook",
            Self::Gaussian { .. } => "Gaussian",
        };
        f.write_str(name)
    }
}

fn cgauss(rng: &mut ChaCha8Rng, std_per_component: f32) -> Complex32 {
    let re: f32 = rng.sample(StandardNormal);
    let im: f32 = rng.sample(StandardNormal);
    Complex32::new(re * std_per_component, im * std_per_component)
}

fn rotator(phase: f64) -> Complex32 {
    let (s, c) = phase.sin_cos();
    Complex32::new(c as f32, s as f32)
}

impl Generator {
    fn next(&mut self, rng: &mut ChaCha8Rng) -> Complex32 {
        use std::f64::consts::TAU;
        match self {
            Self::Ofdm {
                fft,
                bins,
                cp,
                symbol,
                freq,
                pos,
                scale,
            } => {
                if *pos >= symbol.len() {
                    let n = freq.len();
                    freq.fill(Complex32::default());
                    for &k in bins.iter() {
                        if let Some(v) = freq.get_mut(k) {
                            let re = if rng.random::<bool>() { 1.0 } else { -1.0 };
                            let im = if rng.random::<bool>() { 1.0 } else { -1.0 };
                            *v = Complex32::new(re, im) * std::f32::consts::FRAC_1_SQRT_2;
                        }
                    }
                    fft.process(freq);
                    symbol.clear();
                    symbol.extend(
                        freq.get(n - *cp..)
                            .unwrap_or_default()
                            .iter()
                            .map(|v| v * *scale),
                    );
                    symbol.extend(freq.iter().map(|v| v * *scale));
                    *pos = 0;
                }
                let v = symbol.get(*pos).copied().unwrap_or_default();
                *pos += 1;
                v
            }
            Self::Fsk {
                phase,
                offset,
                deviation,
                symbol_clock,
                symbol_step,
                high,
            } => {
                *symbol_clock += *symbol_step;
                if *symbol_clock >= 1.0 {
                    *symbol_clock -= 1.0;
                    *high = rng.random::<bool>();
                }
                let f = *offset + if *high { *deviation } else { -*deviation };
                *phase = (*phase + TAU * f).rem_euclid(TAU);
                rotator(*phase)
            }
            Self::Ook {
                phase,
                offset,
                symbol_clock,
                symbol_step,
                on,
            } => {
                *symbol_clock += *symbol_step;
                if *symbol_clock >= 1.0 {
                    *symbol_clock -= 1.0;
                    *on = rng.random::<bool>();
                }
                *phase = (*phase + TAU * *offset).rem_euclid(TAU);
                if *on {
                    rotator(*phase) * std::f32::consts::SQRT_2
                } else {
                    Complex32::default()
                }
            }
            Self::Gaussian {
                taps,
                history,
                head,
                phase,
                offset,
            } => {
                let x = cgauss(rng, std::f32::consts::FRAC_1_SQRT_2);
                if taps.is_empty() {
                    return x;
                }
                let len = history.len();
                if let Some(h) = history.get_mut(*head) {
                    *h = x;
                }
                // y = Σ_j h[j] x[t−j]; history is a ring with the newest at `head`.
                let mut y = Complex32::default();
                for (j, &h) in taps.iter().enumerate() {
                    let idx = (*head + len - j % len) % len;
                    y += history.get(idx).copied().unwrap_or_default() * h;
                }
                *head = (*head + 1) % len;
                *phase = (*phase + TAU * *offset).rem_euclid(TAU);
                y * rotator(*phase)
            }
        }
    }
}

/// Runtime state of one PU.
#[derive(Debug)]
struct PuState {
    amplitude: f32,
    schedule: ScheduleState,
    generator: Generator,
    rng: ChaCha8Rng,
}

/// The synthetic source (see the module docs).
#[derive(Debug)]
pub struct SyntheticSource {
    config: ScenarioConfig,
    info: SourceInfo,
    noise_std: f32,
    noise_rng: ChaCha8Rng,
    pus: Vec<PuState>,
    pos: u64,
    total: Option<u64>,
}

const CONTEXT: &str = "synthetic scenario";

fn invalid(field: String, message: String) -> Error {
    Error::InvalidField {
        context: CONTEXT.to_string(),
        field,
        message,
    }
}

fn positive(field: String, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(invalid(field, format!("{v}: must be positive")))
    }
}

fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Windowed-sinc low-pass (Hann), cut-off `cutoff` (cycles/sample), Σh² = 1.
fn lowpass(cutoff: f64, taps: usize) -> Vec<f32> {
    let mid = (taps as f64 - 1.0) / 2.0;
    let raw: Vec<f64> = (0..taps)
        .map(|t| {
            let x = t as f64 - mid;
            let sinc = if x == 0.0 {
                2.0 * cutoff
            } else {
                (std::f64::consts::TAU * cutoff * x).sin() / (std::f64::consts::PI * x)
            };
            let w = 0.5 - 0.5 * (std::f64::consts::TAU * (t as f64 + 0.5) / taps as f64).cos();
            sinc * w
        })
        .collect();
    let norm = raw.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-30);
    raw.iter().map(|v| (v / norm) as f32).collect()
}

impl SyntheticSource {
    /// Validates `config` and sets up every random stream.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the field: non-positive rate or duration, non-finite
    /// centre/noise, a PU whose band is not inside the sampled band, non-positive schedule
    /// durations, symbol rates or bandwidths, an OFDM size that is not a power of two in
    /// 8..=65536 or a cyclic prefix outside [0, 1].
    pub fn new(config: ScenarioConfig) -> Result<Self> {
        let rate = config.sample_rate_hz;
        positive("sample_rate_hz".into(), rate)?;
        if !config.center_hz.is_finite() {
            return Err(invalid(
                "center_hz".into(),
                format!("{}: must be finite", config.center_hz),
            ));
        }
        if !(config.noise_dbfs.is_finite() && config.noise_dbfs < 40.0) {
            return Err(invalid(
                "noise_dbfs".into(),
                format!("{}: must be finite and below 40", config.noise_dbfs),
            ));
        }
        if let Some(d) = config.duration_s {
            positive("duration_s".into(), d)?;
        }
        positive("path_loss_exponent".into(), config.path_loss_exponent)?;
        let noise_var = 10f64.powf(config.noise_dbfs / 10.0);
        let mut pus = Vec::with_capacity(config.primary_users.len());
        for (i, pu) in config.primary_users.iter().enumerate() {
            let f = |name: &str| format!("primary_users[{i}].{name}");
            positive(f("bandwidth_hz"), pu.bandwidth_hz)?;
            let off = pu.center_hz - config.center_hz;
            let bw = pu.bandwidth_hz.min(rate);
            if !(off.is_finite() && off.abs() + bw / 2.0 <= rate / 2.0 + 1e-6 * rate) {
                return Err(invalid(
                    f("center_hz"),
                    format!(
                        "PU `{}` [{} Hz ± {} Hz] lies outside the sampled band [{} Hz ± {} Hz]",
                        pu.name,
                        pu.center_hz,
                        bw / 2.0,
                        config.center_hz,
                        rate / 2.0
                    ),
                ));
            }
            if !pu.snr_db.is_finite() {
                return Err(invalid(
                    f("snr_db"),
                    format!("{}: must be finite", pu.snr_db),
                ));
            }
            match pu.schedule {
                Schedule::Periodic {
                    on_s,
                    off_s,
                    phase_s,
                } => {
                    if !(on_s.is_finite()
                        && on_s >= 0.0
                        && off_s.is_finite()
                        && off_s >= 0.0
                        && on_s + off_s > 0.0)
                    {
                        return Err(invalid(
                            f("schedule"),
                            format!(
                                "periodic on_s {on_s}, off_s {off_s}: need non-negative durations, not both zero"
                            ),
                        ));
                    }
                    if !phase_s.is_finite() {
                        return Err(invalid(
                            f("schedule.phase_s"),
                            format!("{phase_s}: must be finite"),
                        ));
                    }
                }
                Schedule::Markov {
                    mean_on_s,
                    mean_off_s,
                } => {
                    positive(f("schedule.mean_on_s"), mean_on_s)?;
                    positive(f("schedule.mean_off_s"), mean_off_s)?;
                }
                Schedule::AlwaysOn | Schedule::AlwaysOff => {}
            }
            let off_norm = off / rate;
            let (generator, occupied) = match pu.signal {
                SignalKind::Ofdm {
                    fft_size,
                    cp_fraction,
                } => {
                    if !(8..=65_536).contains(&fft_size) || !fft_size.is_power_of_two() {
                        return Err(invalid(
                            f("signal.fft_size"),
                            format!("{fft_size}: must be a power of two in 8..=65536"),
                        ));
                    }
                    if !(0.0..=1.0).contains(&cp_fraction) {
                        return Err(invalid(
                            f("signal.cp_fraction"),
                            format!("{cp_fraction}: must be in [0, 1]"),
                        ));
                    }
                    let spacing = rate / fft_size as f64;
                    let count = ((bw / spacing).round() as usize).clamp(1, fft_size);
                    let first = (off / spacing).round() as i64 - (count as i64) / 2;
                    let n = fft_size as i64;
                    let bins = (0..count as i64)
                        .map(|j| (first + j).rem_euclid(n) as usize)
                        .collect();
                    let fft = FftPlanner::<f32>::new().plan_fft_inverse(fft_size);
                    let cp = ((cp_fraction * fft_size as f64).round() as usize).min(fft_size);
                    (
                        Generator::Ofdm {
                            fft,
                            bins,
                            cp,
                            symbol: Vec::with_capacity(fft_size + cp),
                            freq: vec![Complex32::default(); fft_size],
                            pos: usize::MAX,
                            scale: 1.0 / (count as f32).sqrt(),
                        },
                        count as f64 * spacing,
                    )
                }
                SignalKind::Fsk {
                    symbol_rate_hz,
                    deviation_hz,
                } => {
                    positive(f("signal.symbol_rate_hz"), symbol_rate_hz)?;
                    if !(deviation_hz.is_finite() && deviation_hz.abs() < rate / 2.0) {
                        return Err(invalid(
                            f("signal.deviation_hz"),
                            format!("{deviation_hz}: must be below half the rate"),
                        ));
                    }
                    (
                        Generator::Fsk {
                            phase: 0.0,
                            offset: off_norm,
                            deviation: deviation_hz / rate,
                            symbol_clock: 1.0,
                            symbol_step: symbol_rate_hz / rate,
                            high: false,
                        },
                        bw,
                    )
                }
                SignalKind::Ook { symbol_rate_hz } => {
                    positive(f("signal.symbol_rate_hz"), symbol_rate_hz)?;
                    (
                        Generator::Ook {
                            phase: 0.0,
                            offset: off_norm,
                            symbol_clock: 1.0,
                            symbol_step: symbol_rate_hz / rate,
                            on: false,
                        },
                        bw,
                    )
                }
                SignalKind::Gaussian => {
                    let white = bw >= rate * (1.0 - 1e-9);
                    let taps = if white {
                        Vec::new()
                    } else {
                        lowpass(bw / rate / 2.0, 129)
                    };
                    let len = taps.len().max(1);
                    (
                        Generator::Gaussian {
                            taps,
                            history: vec![Complex32::default(); len],
                            head: 0,
                            phase: 0.0,
                            offset: if white { 0.0 } else { off_norm },
                        },
                        bw,
                    )
                }
            };
            let mut snr_db = pu.snr_db;
            if let (Some(node), Some(p)) = (config.node_position_m, pu.position_m) {
                let d = ((node[0] - p[0]).powi(2) + (node[1] - p[1]).powi(2))
                    .sqrt()
                    .max(1.0);
                snr_db -= 10.0 * config.path_loss_exponent * d.log10();
            }
            let power = 10f64.powf(snr_db / 10.0) * noise_var * occupied / rate;
            pus.push(PuState {
                amplitude: power.sqrt() as f32,
                schedule: ScheduleState::new(
                    pu.schedule,
                    rate,
                    stream(config.seed, 2 + 2 * i as u64),
                ),
                generator,
                rng: stream(config.seed, 1 + 2 * i as u64),
            });
        }
        let total = config.duration_s.map(|d| (d * rate).round() as u64);
        let info = SourceInfo {
            label: format!("synthetic(seed={})", config.seed),
            sample_rate_hz: rate,
            center_hz: config.center_hz,
            total_samples: total,
            datetime: None,
        };
        Ok(Self {
            noise_std: (noise_var / 2.0).sqrt() as f32,
            noise_rng: stream(config.noise_seed.unwrap_or(config.seed), 0),
            pus,
            pos: 0,
            total,
            info,
            config,
        })
    }

    /// The scenario.
    pub fn config(&self) -> &ScenarioConfig {
        &self.config
    }

    /// One channel per PU (its name, centre and bandwidth): a band plan matching the truth.
    pub fn channels(&self) -> Vec<Channel> {
        self.config
            .primary_users
            .iter()
            .map(|pu| Channel {
                name: pu.name.clone(),
                center_hz: pu.center_hz,
                bandwidth_hz: pu.bandwidth_hz.min(self.config.sample_rate_hz),
            })
            .collect()
    }

    /// Noise power per complex sample (linear, full scale 1).
    pub fn noise_power(&self) -> f64 {
        10f64.powf(self.config.noise_dbfs / 10.0)
    }

    /// Whether each PU (config order) transmits at `sample_index`.
    pub fn ground_truth(&mut self, sample_index: u64) -> Vec<bool> {
        self.pus
            .iter_mut()
            .map(|p| p.schedule.state(sample_index).0)
            .collect()
    }

    /// Fraction of `[start, start + count)` during which each PU (config order) transmits.
    pub fn window_occupancy(&mut self, start: u64, count: u64) -> Vec<f64> {
        let end = start.saturating_add(count);
        self.pus
            .iter_mut()
            .map(|p| {
                let mut on = 0u64;
                let mut idx = start;
                while idx < end {
                    let (state, next) = p.schedule.state(idx);
                    let stop = next.min(end);
                    if state {
                        on += stop - idx;
                    }
                    idx = stop.max(idx + 1);
                }
                if count == 0 {
                    0.0
                } else {
                    on as f64 / count as f64
                }
            })
            .collect()
    }
}

impl IqSource for SyntheticSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read_block(&mut self, max: usize, out: &mut Vec<Complex32>) -> Result<Option<BlockMeta>> {
        let remaining = self.total.map_or(u64::MAX, |t| t.saturating_sub(self.pos));
        let n = (max as u64).min(remaining) as usize;
        out.clear();
        if n == 0 {
            return Ok(None);
        }
        let std = self.noise_std;
        out.extend((0..n).map(|_| cgauss(&mut self.noise_rng, std)));
        let start = self.pos;
        for pu in &mut self.pus {
            let mut i = 0usize;
            while i < n {
                let idx = start + i as u64;
                let (on, next) = pu.schedule.state(idx);
                let stop = (next.saturating_sub(start)).min(n as u64) as usize;
                let stop = stop.max(i + 1);
                if on {
                    for o in out.get_mut(i..stop).unwrap_or_default() {
                        *o += pu.generator.next(&mut pu.rng) * pu.amplitude;
                    }
                }
                i = stop;
            }
        }
        let meta = BlockMeta {
            sample_index: start,
            sample_rate_hz: self.config.sample_rate_hz,
            center_hz: self.config.center_hz,
            time_s: start as f64 / self.config.sample_rate_hz,
        };
        self.pos += n as u64;
        Ok(Some(meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_power(x: &[Complex32]) -> f64 {
        x.iter().map(|v| f64::from(v.norm_sqr())).sum::<f64>() / x.len() as f64
    }

    #[test]
    fn deterministic_from_seed_and_noise_power() {
        let cfg = ScenarioConfig {
            primary_users: vec![],
            noise_dbfs: -20.0,
            ..ScenarioConfig::default()
        };
        let mut a = SyntheticSource::new(cfg.clone()).unwrap();
        let mut b = SyntheticSource::new(cfg).unwrap();
        let (mut xa, mut xb) = (Vec::new(), Vec::new());
        a.read_block(100_000, &mut xa).unwrap();
        b.read_block(100_000, &mut xb).unwrap();
        assert_eq!(xa, xb);
        // Noise power 0.01 ± 3 % (std of the mean 0.3 %).
        let p = mean_power(&xa);
        assert!((p / 0.01 - 1.0).abs() < 0.03, "{p}");
    }

    #[test]
    fn each_waveform_has_its_snr_in_power() {
        for signal in [
            SignalKind::Ofdm {
                fft_size: 64,
                cp_fraction: 0.25,
            },
            SignalKind::Fsk {
                symbol_rate_hz: 10e3,
                deviation_hz: 20e3,
            },
            SignalKind::Ook {
                symbol_rate_hz: 10e3,
            },
            SignalKind::Gaussian,
        ] {
            let cfg = ScenarioConfig {
                noise_dbfs: -200.0,
                sample_rate_hz: 1e6,
                center_hz: 0.0,
                primary_users: vec![PrimaryUser {
                    center_hz: 100e3,
                    bandwidth_hz: 250e3,
                    signal,
                    snr_db: 10.0,
                    ..PrimaryUser::default()
                }],
                ..ScenarioConfig::default()
            };
            let mut s = SyntheticSource::new(cfg).unwrap();
            let mut x = Vec::new();
            s.read_block(400_000, &mut x).unwrap();
            // Signal power: 10 × noise(−200 dBFS) × occupied/rate = 10·1e−20·0.25 (on top of
            // the noise itself, 1e−20).
            let p = (mean_power(&x) - 1e-20) / 1e-20 / 10.0 / 0.25;
            assert!((p - 1.0).abs() < 0.06, "{signal:?}: {p}");
        }
    }

    #[test]
    fn periodic_schedule_and_truth_agree() {
        let cfg = ScenarioConfig {
            sample_rate_hz: 1000.0,
            center_hz: 0.0,
            noise_dbfs: -200.0,
            primary_users: vec![PrimaryUser {
                center_hz: 0.0,
                bandwidth_hz: 1000.0,
                signal: SignalKind::Gaussian,
                snr_db: 200.0,
                schedule: Schedule::Periodic {
                    on_s: 0.1,
                    off_s: 0.3,
                    phase_s: 0.0,
                },
                ..PrimaryUser::default()
            }],
            ..ScenarioConfig::default()
        };
        let mut s = SyntheticSource::new(cfg).unwrap();
        let mut x = Vec::new();
        s.read_block(1000, &mut x).unwrap();
        for (i, v) in x.iter().enumerate() {
            let on = s.ground_truth(i as u64)[0];
            assert_eq!(on, (i % 400) < 100, "sample {i}");
            assert_eq!(v.norm_sqr() > 1e-9, on, "sample {i}");
        }
        assert_eq!(s.window_occupancy(50, 100), vec![0.5]);
    }

    #[test]
    fn markov_schedule_has_its_duty_cycle() {
        let mut st = ScheduleState::new(
            Schedule::Markov {
                mean_on_s: 0.2,
                mean_off_s: 0.6,
            },
            1000.0,
            stream(7, 3),
        );
        let mut on = 0u64;
        for i in 0..2_000_000u64 {
            on += u64::from(st.state(i).0);
        }
        // Duty 0.25; 2000 s with 0.8 s cycles: ~2500 cycles, std of the duty ≈ 0.01.
        let duty = on as f64 / 2e6;
        assert!((duty - 0.25).abs() < 0.04, "{duty}");
    }

    #[test]
    fn bad_configs_name_the_field() {
        let mut cfg = ScenarioConfig::default();
        cfg.primary_users[1].center_hz = 700e6;
        match SyntheticSource::new(cfg) {
            Err(Error::InvalidField { field, .. }) => {
                assert_eq!(field, "primary_users[1].center_hz")
            }
            other => panic!("{other:?}"),
        }
        let cfg = ScenarioConfig {
            sample_rate_hz: 0.0,
            ..ScenarioConfig::default()
        };
        assert!(
            matches!(SyntheticSource::new(cfg), Err(Error::InvalidField { field, .. }) if field == "sample_rate_hz")
        );
        let toml_err = toml::from_str::<ScenarioConfig>("seed = 1\nbogus = 2\n");
        assert!(toml_err.is_err());
    }

    #[test]
    fn default_scenario_parses_back_from_toml() {
        let cfg = ScenarioConfig::default();
        let text = toml::to_string(&cfg).unwrap();
        let back: ScenarioConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, cfg);
    }
}
