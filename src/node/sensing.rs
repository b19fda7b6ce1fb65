//! The node's front end: one IQ source and its energy detector, one window per round.
//!
//! Data flow: [`Sensor::sense`]`(round)` returns the [`WindowReport`] of the round's sensing
//! window. Recorded and synthetic sources are *indexed*: stream window `k` serves round `k`
//! (windows are read in order and cached; a skipped round's window is still read, so every node
//! sees the same stretch of the scenario in the same round and the ground truth is the
//! window's). A recording loops: after its last whole window the file is reopened, so round `r`
//! reads window `r mod W` (`W` whole windows per file; a partial tail is skipped). A device is
//! *live*: each call reads the next window as it arrives.
//!
//! [`Truth`] answers, for the simulation's summary, whether a channel was occupied in a round:
//! from the synthetic scenario's schedules, or from a recording's configured busy ranges.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use num_complex::Complex32;
use radio::detector::{Channel, DetectorConfig, EnergyDetector, WindowReport};
use radio::source::IqSource;
use radio::source::synthetic::{ScenarioConfig, SyntheticSource};

use super::config::{NodeSpec, SourceSpec, TestbedConfig};
use super::events::{ChannelSpan, NodeEvent};
use crate::bad_input;
use crate::sense::SourceArgs;

/// Windows kept for rounds asked for again.
const CACHE: usize = 32;

type Reopen = Box<dyn FnMut() -> anyhow::Result<Box<dyn IqSource>> + Send>;

/// A source and its detector (see the module docs).
pub struct Sensor {
    source: Box<dyn IqSource>,
    reopen: Option<Reopen>,
    detector: EnergyDetector,
    windows_per_loop: Option<u64>,
    read_in_loop: u64,
    next_window: u64,
    cache: BTreeMap<u64, Arc<WindowReport>>,
    live: bool,
    buf: Vec<Complex32>,
    label: String,
}

impl std::fmt::Debug for Sensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sensor")
            .field("source", &self.label)
            .field("windows_per_loop", &self.windows_per_loop)
            .field("next_window", &self.next_window)
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

/// Mixes the run seed with a node index (receiver noise differs per node).
#[must_use]
pub fn node_noise_seed(seed: u64, index: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(u64::try_from(index).unwrap_or(u64::MAX).wrapping_add(1))
}

fn detector_config(testbed: &TestbedConfig) -> DetectorConfig {
    DetectorConfig {
        window_s: testbed.sensing.window_s,
        ..testbed.sensing.detector.clone()
    }
}

impl Sensor {
    /// Opens node `index`'s front end as the testbed describes it (`seed`: the run's seed,
    /// for synthetic scenarios). `None` for a node without a source.
    ///
    /// # Errors
    /// Unreadable or malformed recordings, a device that cannot be opened, channels outside
    /// the captured band, invalid detector settings.
    pub fn open(
        testbed: &TestbedConfig,
        node: &NodeSpec,
        index: usize,
        seed: u64,
    ) -> anyhow::Result<Option<Self>> {
        let channels = testbed.channels()?;
        let config = detector_config(testbed);
        let ctx = || format!("node `{}`: front end", node.name);
        match &node.source {
            SourceSpec::None => Ok(None),
            SourceSpec::Synthetic => {
                let env = testbed
                    .environment
                    .clone()
                    .ok_or_else(|| bad_input("a synthetic source needs [environment]"))?;
                let env = ScenarioConfig {
                    seed,
                    noise_seed: Some(node_noise_seed(seed, index)),
                    node_position_m: Some(node.position_m),
                    ..env
                };
                let source = SyntheticSource::new(env).with_context(ctx)?;
                let info = source.info().clone();
                let detector =
                    EnergyDetector::new(config, info.sample_rate_hz, info.center_hz, channels)
                        .with_context(ctx)?;
                Ok(Some(Self::new(
                    Box::new(source),
                    None,
                    detector,
                    None,
                    false,
                    info.label,
                )))
            }
            SourceSpec::File {
                path,
                format,
                rate_hz,
                center_hz,
            } => {
                let args = SourceArgs {
                    input: Some(testbed.capture_path(path)),
                    format: format.clone(),
                    rate: *rate_hz,
                    center: *center_hz,
                    ..SourceArgs::default()
                };
                Self::open_recording(args, config, channels)
                    .map(Some)
                    .with_context(ctx)
            }
            SourceSpec::Sigmf { path } => {
                let args = SourceArgs {
                    input: Some(testbed.capture_path(path)),
                    ..SourceArgs::default()
                };
                Self::open_recording(args, config, channels)
                    .map(Some)
                    .with_context(ctx)
            }
            SourceSpec::Soapy {
                args,
                center_hz,
                rate_hz,
                gain_db,
            } => {
                let sense = crate::sense::SenseArgs {
                    source: SourceArgs {
                        device: Some(args.clone()),
                        center: Some(*center_hz),
                        rate: Some(*rate_hz),
                        gain: *gain_db,
                        ..SourceArgs::default()
                    },
                    band_plan: None,
                    channels: Vec::new(),
                    window_ms: testbed.sensing.window_s * 1e3,
                    pfa: config.pfa,
                    fft: Some(config.fft_size),
                    overlap: config.overlap,
                    output: crate::sense::OutputFormat::Jsonl,
                };
                let opened = crate::sense::open_for_sensing(&sense).with_context(ctx)?;
                let info = opened.source.info().clone();
                let detector =
                    EnergyDetector::new(config, info.sample_rate_hz, info.center_hz, channels)
                        .with_context(ctx)?;
                Ok(Some(Self::new(
                    opened.source,
                    None,
                    detector,
                    None,
                    true,
                    info.label,
                )))
            }
        }
    }

    fn open_recording(
        args: SourceArgs,
        config: DetectorConfig,
        channels: Vec<Channel>,
    ) -> anyhow::Result<Self> {
        let opened = crate::sense::open_source(&args)?;
        let info = opened.source.info().clone();
        let detector = EnergyDetector::new(config, info.sample_rate_hz, info.center_hz, channels)?;
        let window = u64::try_from(detector.window_len())
            .unwrap_or(u64::MAX)
            .max(1);
        let total = info
            .total_samples
            .ok_or_else(|| bad_input(format!("{}: length unknown, cannot loop it", info.label)))?;
        let per_loop = total / window;
        if per_loop == 0 {
            return Err(bad_input(format!(
                "{}: {total} samples hold no whole sensing window of {window} samples",
                info.label
            )));
        }
        let reopen: Reopen = Box::new(move || Ok(crate::sense::open_source(&args)?.source));
        Ok(Self::new(
            opened.source,
            Some(reopen),
            detector,
            Some(per_loop),
            false,
            info.label,
        ))
    }

    fn new(
        source: Box<dyn IqSource>,
        reopen: Option<Reopen>,
        detector: EnergyDetector,
        windows_per_loop: Option<u64>,
        live: bool,
        label: String,
    ) -> Self {
        Self {
            source,
            reopen,
            detector,
            windows_per_loop,
            read_in_loop: 0,
            next_window: 0,
            cache: BTreeMap::new(),
            live,
            buf: Vec::new(),
            label,
        }
    }

    /// The channels decided on, in band-plan order.
    #[must_use]
    pub fn channels(&self) -> &[Channel] {
        self.detector.channels()
    }

    /// Samples per sensing window.
    #[must_use]
    pub fn window_len(&self) -> usize {
        self.detector.window_len()
    }

    /// Whole windows per loop of a recording.
    #[must_use]
    pub fn windows_per_loop(&self) -> Option<u64> {
        self.windows_per_loop
    }

    /// The report of `round`'s window (see the module docs).
    ///
    /// # Errors
    /// Source errors; a synthetic scenario that ran out; a round whose window has already
    /// been dropped from the cache.
    pub fn sense(&mut self, round: u64) -> anyhow::Result<Arc<WindowReport>> {
        if let Some(r) = self.cache.get(&round) {
            return Ok(Arc::clone(r));
        }
        if self.live {
            let report = Arc::new(self.read_window()?);
            self.remember(round, Arc::clone(&report));
            return Ok(report);
        }
        if round < self.next_window {
            return Err(bad_input(format!(
                "{}: the window of round {round} is gone (next is {})",
                self.label, self.next_window
            )));
        }
        loop {
            let report = Arc::new(self.read_window()?);
            let index = self.next_window;
            self.next_window += 1;
            self.remember(index, Arc::clone(&report));
            if index == round {
                return Ok(report);
            }
        }
    }

    fn remember(&mut self, round: u64, report: Arc<WindowReport>) {
        self.cache.insert(round, report);
        while self.cache.len() > CACHE {
            self.cache.pop_first();
        }
    }

    fn read_window(&mut self) -> anyhow::Result<WindowReport> {
        if let (Some(per_loop), Some(reopen)) = (self.windows_per_loop, self.reopen.as_mut())
            && self.read_in_loop >= per_loop
        {
            self.source = reopen()?;
            self.read_in_loop = 0;
        }
        let want = self.detector.window_len();
        let mut reports = Vec::with_capacity(1);
        loop {
            let Some(meta) = self.source.read_block(want, &mut self.buf)? else {
                // A recording shorter than its header said: start it over.
                if let Some(reopen) = self.reopen.as_mut() {
                    self.source = reopen()?;
                    self.read_in_loop = 0;
                    continue;
                }
                return Err(bad_input(format!("{}: the IQ stream ended", self.label)));
            };
            self.detector.process(&meta, &self.buf, &mut reports)?;
            if let Some(report) = reports.pop() {
                self.read_in_loop += 1;
                return Ok(report);
            }
        }
    }
}

/// The PSD of a window as a [`NodeEvent::Psd`], max-pooled to at most `bins` bins.
#[must_use]
pub fn psd_event(node: &str, at_ms: u64, report: &WindowReport, bins: usize) -> NodeEvent {
    let (lo, hi) = report.valid_bins();
    let db = |p: f32| {
        if p > 0.0 { 10.0 * p.log10() } else { -200.0 }
    };
    let pool = |v: &[f32]| -> Vec<f32> {
        let slice = v.get(lo..hi.min(v.len())).unwrap_or_default();
        let step = slice.len().div_ceil(bins.max(1)).max(1);
        slice
            .chunks(step)
            .map(|c| db(c.iter().copied().fold(0.0f32, f32::max)))
            .collect()
    };
    NodeEvent::Psd {
        node: node.to_owned(),
        at_ms,
        center_hz: report.center_hz,
        rate_hz: report.sample_rate_hz,
        psd_db: pool(&report.psd),
        noise_db: pool(&report.noise_psd),
        channels: report
            .decisions
            .iter()
            .map(|d| ChannelSpan {
                name: d.channel.clone(),
                low_hz: d.center_hz - d.bandwidth_hz / 2.0,
                high_hz: d.center_hz + d.bandwidth_hz / 2.0,
            })
            .collect(),
    }
}

/// Ground truth per round and channel (see the module docs).
#[derive(Debug)]
pub enum Truth {
    /// From the synthetic scenario: occupancy of the round's window >= 1/2.
    Synthetic {
        /// A source with the run's seed (only its schedules are read).
        source: Box<SyntheticSource>,
        /// Samples per window.
        window: u64,
        /// For each channel, the index of the primary user of the same name.
        pu_of_channel: Vec<Option<usize>>,
    },
    /// From busy sample ranges of a looping recording.
    Ranges {
        /// Busy ranges per channel (empty: idle).
        busy: Vec<Vec<[u64; 2]>>,
        /// Samples per window.
        window: u64,
        /// Windows per loop.
        per_loop: u64,
    },
    /// Unknown.
    None,
}

impl Truth {
    /// The truth for a testbed whose sensors read `window` samples per round (`per_loop`
    /// windows per recording loop).
    ///
    /// # Errors
    /// An invalid synthetic environment.
    pub fn new(
        testbed: &TestbedConfig,
        seed: u64,
        window: u64,
        per_loop: Option<u64>,
    ) -> anyhow::Result<Self> {
        let channels = testbed.channels()?;
        let synthetic = testbed
            .nodes
            .iter()
            .any(|n| n.source == SourceSpec::Synthetic);
        if synthetic && let Some(env) = &testbed.environment {
            let pu_of_channel = channels
                .iter()
                .map(|c| env.primary_users.iter().position(|p| p.name == c.name))
                .collect();
            let source = SyntheticSource::new(ScenarioConfig {
                seed,
                ..env.clone()
            })?;
            return Ok(Truth::Synthetic {
                source: Box::new(source),
                window,
                pu_of_channel,
            });
        }
        if !testbed.truth.is_empty()
            && let Some(per_loop) = per_loop
        {
            let busy = channels
                .iter()
                .map(|c| {
                    testbed
                        .truth
                        .iter()
                        .filter(|t| t.channel == c.name)
                        .flat_map(|t| t.busy.iter().copied())
                        .collect()
                })
                .collect();
            return Ok(Truth::Ranges {
                busy,
                window,
                per_loop,
            });
        }
        Ok(Truth::None)
    }

    /// Whether `channel` was occupied during `round`'s window (None: unknown).
    pub fn busy(&mut self, round: u64, channel: usize) -> Option<bool> {
        match self {
            Truth::Synthetic {
                source,
                window,
                pu_of_channel,
            } => {
                let pu = (*pu_of_channel.get(channel)?)?;
                let occupancy = source.window_occupancy(round.saturating_mul(*window), *window);
                occupancy.get(pu).map(|share| *share >= 0.5)
            }
            Truth::Ranges {
                busy,
                window,
                per_loop,
            } => {
                let start = (round % (*per_loop).max(1)).saturating_mul(*window);
                let end = start.saturating_add(*window);
                let covered: u64 = busy
                    .get(channel)?
                    .iter()
                    .map(|[a, b]| (*b).min(end).saturating_sub((*a).max(start)))
                    .sum();
                Some(covered.saturating_mul(2) >= *window)
            }
            Truth::None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_truth_follows_the_loop_and_half_coverage() {
        let mut t = Truth::Ranges {
            busy: vec![vec![[7_000, 12_500]], Vec::new()],
            window: 5_000,
            per_loop: 4,
        };
        // Window 1 = [5000, 10000): 3000 busy (>= half); window 2 = [10000, 15000): 2500 (half).
        assert_eq!(t.busy(0, 0), Some(false));
        assert_eq!(t.busy(1, 0), Some(true));
        assert_eq!(t.busy(2, 0), Some(true));
        assert_eq!(t.busy(3, 0), Some(false));
        // Round 5 reads window 1 of the second loop.
        assert_eq!(t.busy(5, 0), Some(true));
        assert_eq!(t.busy(1, 1), Some(false));
        assert_eq!(t.busy(1, 2), None);
        assert_eq!(Truth::None.busy(0, 0), None);
    }

    #[test]
    fn noise_seeds_differ_per_node() {
        assert_ne!(node_noise_seed(1, 0), node_noise_seed(1, 1));
        assert_ne!(node_noise_seed(1, 0), node_noise_seed(2, 0));
    }
}
