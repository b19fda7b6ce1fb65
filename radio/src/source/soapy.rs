//! SoapySDR source: any device SoapySDR can open (`driver=rtlsdr`, `driver=hackrf`, ...).
//!
//! Data flow: [`SoapyConfig`] -> open and configure the device (rate, centre, gain, bandwidth,
//! antenna) -> CF32 RX stream -> [`SoapySource::read_block`] hands out blocks with a
//! [`BlockMeta`] whose `sample_index` jumps over samples lost to overflows, reopen gaps and
//! post-retune discards.
//!
//! Sweeping: with a [`SweepPlan`] the source hops through a list of centres, reading
//! `dwell_samples` at each; after every retune it waits `settle_s` and throws away
//! `discard_samples` (the PLL and the driver's buffers still hold the old frequency). A block
//! never straddles a retune.
//!
//! Faults: a timeout or an overflow is counted ([`SourceStats`]) and reading goes on. Any other
//! read error (a pulled dongle, a dead USB link), or too many timeouts in a row, closes the
//! device and reopens it with exponential back-off, logging a `tracing` warning that names the
//! device args. After the configured number of failed attempts the source gives up with
//! [`Error::Device`]. The decision logic is the pure state machine [`Recovery`], so it is
//! tested without hardware.
//!
//! Time: `time_s` comes from the device's hardware timestamps when the device has a hardware
//! clock, else from a [`Clock`] injected at construction (a monotonic clock by default).

use std::time::{Duration, Instant};

use num_complex::Complex32;
use serde::{Deserialize, Serialize};
use soapysdr::{Device, Direction, RxStream};
/// SoapySDR's error and its codes, as [`RxDevice`] implementations return them.
pub use soapysdr::{Error as SoapyError, ErrorCode};

use super::{BlockMeta, IqSource, SourceInfo};
use crate::{Error, Result};

/// Longest read timeout accepted, so the microsecond count always fits an `i64`.
const MAX_READ_TIMEOUT_S: f64 = 3600.0;
/// Longest back-off or settle time accepted (one day): longer is a typo.
const MAX_DELAY_S: f64 = 86_400.0;
/// Samples per scratch read while discarding after a retune.
const DISCARD_CHUNK: usize = 16_384;

/// Receiver gain: a fixed value or the device's automatic gain control.
///
/// In TOML: `gain = 30.0` (dB) or `gain = "auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(try_from = "GainRepr", into = "GainRepr")]
pub enum GainMode {
    /// Automatic gain control (where the device has it).
    #[default]
    Agc,
    /// Fixed overall gain, distributed by the driver over its gain elements.
    Manual {
        /// Gain in dB.
        db: f64,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum GainRepr {
    Db(f64),
    Word(String),
}

impl TryFrom<GainRepr> for GainMode {
    type Error = String;

    fn try_from(r: GainRepr) -> std::result::Result<Self, String> {
        match r {
            GainRepr::Db(db) if db.is_finite() => Ok(Self::Manual { db }),
            GainRepr::Db(db) => Err(format!("gain must be finite, got {db}")),
            GainRepr::Word(w) => w.parse(),
        }
    }
}

impl From<GainMode> for GainRepr {
    fn from(g: GainMode) -> Self {
        match g {
            GainMode::Agc => Self::Word("auto".to_owned()),
            GainMode::Manual { db } => Self::Db(db),
        }
    }
}

impl std::str::FromStr for GainMode {
    type Err = String;

    /// Parses `auto`/`agc` or a number of dB.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("auto") || t.eq_ignore_ascii_case("agc") {
            return Ok(Self::Agc);
        }
        match t.parse::<f64>() {
            Ok(db) if db.is_finite() => Ok(Self::Manual { db }),
            _ => Err(format!("gain `{s}`: expected `auto` or a number of dB")),
        }
    }
}

impl std::fmt::Display for GainMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Agc => f.write_str("auto"),
            Self::Manual { db } => write!(f, "{db} dB"),
        }
    }
}

/// Sample format asked of the driver. Only complex f32 is used: SoapySDR converts from the
/// device's native format, so the detector sees the same scale for every device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum StreamFormat {
    /// Interleaved complex f32, full scale ±1.
    #[default]
    CF32,
}

/// How many reopen attempts are made before giving up.
///
/// In TOML: `max_attempts = 10` or `max_attempts = "unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AttemptsRepr", into = "AttemptsRepr")]
pub enum MaxAttempts {
    /// Give up after this many failed reopen attempts in a row (0: give up at once).
    Limited(u32),
    /// Never give up (an unattended node).
    Unlimited,
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum AttemptsRepr {
    Count(u32),
    Word(String),
}

impl TryFrom<AttemptsRepr> for MaxAttempts {
    type Error = String;

    fn try_from(r: AttemptsRepr) -> std::result::Result<Self, String> {
        match r {
            AttemptsRepr::Count(n) => Ok(Self::Limited(n)),
            AttemptsRepr::Word(w) if w.eq_ignore_ascii_case("unlimited") => Ok(Self::Unlimited),
            AttemptsRepr::Word(w) => Err(format!(
                "max_attempts `{w}`: expected a count or \"unlimited\""
            )),
        }
    }
}

impl From<MaxAttempts> for AttemptsRepr {
    fn from(m: MaxAttempts) -> Self {
        match m {
            MaxAttempts::Limited(n) => Self::Count(n),
            MaxAttempts::Unlimited => Self::Word("unlimited".to_owned()),
        }
    }
}

/// Reopen back-off after the device is lost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReopenPolicy {
    /// Delay before the first reopen attempt, seconds.
    pub initial_s: f64,
    /// Ceiling of the doubling delay, seconds.
    pub max_s: f64,
    /// Attempts before giving up.
    pub max_attempts: MaxAttempts,
}

impl Default for ReopenPolicy {
    fn default() -> Self {
        Self {
            initial_s: 0.5,
            max_s: 30.0,
            max_attempts: MaxAttempts::Limited(10),
        }
    }
}

impl ReopenPolicy {
    /// Delay before attempt `attempt` (1-based): `initial_s · 2^(attempt-1)`, capped at `max_s`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let s = (self.initial_s * 2f64.powi(exp.min(1023))).min(self.max_s);
        Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::ZERO)
    }
}

/// Hopping through centres when a band plan is wider than the device's bandwidth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepPlan {
    /// Centres visited in turn, Hz (the cycle repeats).
    pub centers_hz: Vec<f64>,
    /// Samples delivered at each centre before the next hop.
    pub dwell_samples: u64,
    /// Wait after each retune for the synthesiser to lock, seconds.
    pub settle_s: f64,
    /// Samples read and thrown away after each retune (they still count in `sample_index`).
    pub discard_samples: u64,
}

impl Default for SweepPlan {
    fn default() -> Self {
        Self {
            centers_hz: Vec::new(),
            dwell_samples: 262_144,
            settle_s: 0.005,
            discard_samples: 16_384,
        }
    }
}

/// Everything needed to open and run a SoapySDR device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SoapyConfig {
    /// SoapySDR device args, e.g. `driver=rtlsdr,serial=00000001`.
    pub args: String,
    /// RX channel index.
    pub channel: usize,
    /// Centre frequency in Hz (ignored when a sweep plan lists centres).
    pub center_hz: f64,
    /// Sample rate in Hz.
    pub sample_rate_hz: f64,
    /// Gain: AGC or a fixed value.
    pub gain: GainMode,
    /// Analogue baseband filter width in Hz (driver default when absent).
    pub bandwidth_hz: Option<f64>,
    /// Antenna port name (driver default when absent).
    pub antenna: Option<String>,
    /// Stream format.
    pub format: StreamFormat,
    /// Timeout of one driver read, seconds.
    pub read_timeout_s: f64,
    /// Timeouts in a row after which the device is taken as lost and reopened.
    pub max_consecutive_timeouts: u32,
    /// Optional sweep through several centres.
    pub sweep: Option<SweepPlan>,
    /// Reopen back-off.
    pub reopen: ReopenPolicy,
}

impl Default for SoapyConfig {
    fn default() -> Self {
        Self {
            args: String::new(),
            channel: 0,
            center_hz: 100e6,
            sample_rate_hz: 2.4e6,
            gain: GainMode::Agc,
            bandwidth_hz: None,
            antenna: None,
            format: StreamFormat::CF32,
            read_timeout_s: 1.0,
            max_consecutive_timeouts: 5,
            sweep: None,
            reopen: ReopenPolicy::default(),
        }
    }
}

impl SoapyConfig {
    /// Checks every field without touching a device.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the device args and the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, message: String| Error::InvalidField {
            context: format!("device `{}`", self.args),
            field: field.to_owned(),
            message,
        };
        // SoapySDR's C strings cannot hold NUL, and the Rust binding panics on one.
        if self.args.contains('\0') {
            return Err(bad("args", "contains a NUL byte".to_owned()));
        }
        if self.antenna.as_deref().is_some_and(|a| a.contains('\0')) {
            return Err(bad("antenna", "contains a NUL byte".to_owned()));
        }
        let positive = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(bad(field, format!("must be a positive number, got {v}")))
            }
        };
        positive("sample_rate_hz", self.sample_rate_hz)?;
        if let Some(bw) = self.bandwidth_hz {
            positive("bandwidth_hz", bw)?;
        }
        positive("read_timeout_s", self.read_timeout_s)?;
        if self.read_timeout_s > MAX_READ_TIMEOUT_S {
            return Err(bad(
                "read_timeout_s",
                format!("{} s is over {MAX_READ_TIMEOUT_S} s", self.read_timeout_s),
            ));
        }
        if self.max_consecutive_timeouts == 0 {
            return Err(bad(
                "max_consecutive_timeouts",
                "must be at least 1".to_owned(),
            ));
        }
        let delay = |field: &str, v: f64| {
            if v.is_finite() && (0.0..=MAX_DELAY_S).contains(&v) {
                Ok(())
            } else {
                Err(bad(
                    field,
                    format!("must be within [0, {MAX_DELAY_S}] s, got {v}"),
                ))
            }
        };
        delay("reopen.initial_s", self.reopen.initial_s)?;
        delay("reopen.max_s", self.reopen.max_s)?;
        if self.reopen.max_s < self.reopen.initial_s {
            return Err(bad(
                "reopen.max_s",
                format!(
                    "{} s is below reopen.initial_s = {} s",
                    self.reopen.max_s, self.reopen.initial_s
                ),
            ));
        }
        match &self.sweep {
            None => positive("center_hz", self.center_hz)?,
            Some(sweep) => {
                if sweep.centers_hz.is_empty() {
                    return Err(bad(
                        "sweep.centers_hz",
                        "lists no centre frequency".to_owned(),
                    ));
                }
                for c in &sweep.centers_hz {
                    positive("sweep.centers_hz", *c)?;
                }
                if sweep.dwell_samples == 0 {
                    return Err(bad("sweep.dwell_samples", "must be at least 1".to_owned()));
                }
                delay("sweep.settle_s", sweep.settle_s)?;
            }
        }
        Ok(())
    }

    /// The first centre tuned: the sweep's first centre, else `center_hz`.
    pub fn initial_center_hz(&self) -> f64 {
        self.sweep
            .as_ref()
            .and_then(|s| s.centers_hz.first().copied())
            .unwrap_or(self.center_hz)
    }
}

/// Counters of what went wrong (or was thrown away) while streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SourceStats {
    /// Overflow reports from the driver (host too slow, samples lost).
    pub overflows: u64,
    /// Reads that timed out with no data.
    pub timeouts: u64,
    /// Samples estimated lost to overflows and reopen gaps (`sample_index` skips them).
    pub dropped_samples: u64,
    /// Samples read and thrown away after retunes.
    pub discarded_samples: u64,
    /// Retunes done by the sweep.
    pub retunes: u64,
    /// Successful reopens after the device was lost.
    pub reopens: u64,
    /// Read errors other than timeout and overflow.
    pub read_errors: u64,
}

/// Time source for timestamps and waits, injected so tests need neither wall time nor sleeps.
pub trait Clock: Send {
    /// Time since an arbitrary fixed origin; never goes backwards.
    fn now(&self) -> Duration;
    /// Waits for `d` (back-off, settle).
    fn sleep(&self, d: Duration);
}

/// [`Clock`] on [`Instant`] and [`std::thread::sleep`].
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// What one driver read (or retune) came to, as seen by [`Recovery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadEvent {
    /// Samples arrived.
    Data,
    /// No data within the timeout.
    Timeout,
    /// The driver lost samples (overflow), the stream is still alive.
    Overflow,
    /// Any other failure: the device is taken as lost.
    Failed,
}

/// What the source does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryAction {
    /// Keep reading.
    Continue,
    /// Close the device, wait `delay`, reopen (attempt number `attempt`, 1-based).
    Reopen {
        /// 1-based attempt number since the device was last healthy.
        attempt: u32,
        /// Back-off before the attempt.
        delay: Duration,
    },
    /// Stop with an error: `attempts` reopen attempts were made since the device was last
    /// healthy.
    GiveUp {
        /// Attempts made.
        attempts: u32,
    },
}

/// The retry / back-off state machine, free of I/O.
///
/// Feed it every read outcome ([`Recovery::on_read`]) and every failed reopen
/// ([`Recovery::on_reopen_failed`]); it answers what to do. Delivered data resets the attempt
/// count, so a device that reopens but never streams (SoapySDR's `driver=null`) still runs out
/// of attempts.
#[derive(Debug, Clone)]
pub struct Recovery {
    policy: ReopenPolicy,
    max_consecutive_timeouts: u32,
    consecutive_timeouts: u32,
    attempts: u32,
}

impl Recovery {
    /// A machine for `policy`, treating `max_consecutive_timeouts` timeouts in a row as a lost
    /// device.
    pub fn new(policy: ReopenPolicy, max_consecutive_timeouts: u32) -> Self {
        Self {
            policy,
            max_consecutive_timeouts: max_consecutive_timeouts.max(1),
            consecutive_timeouts: 0,
            attempts: 0,
        }
    }

    /// Reopen attempts since the device last delivered data.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Decides after a read.
    pub fn on_read(&mut self, event: ReadEvent) -> RecoveryAction {
        match event {
            ReadEvent::Data => {
                self.consecutive_timeouts = 0;
                self.attempts = 0;
                RecoveryAction::Continue
            }
            ReadEvent::Overflow => {
                self.consecutive_timeouts = 0;
                RecoveryAction::Continue
            }
            ReadEvent::Timeout => {
                self.consecutive_timeouts = self.consecutive_timeouts.saturating_add(1);
                if self.consecutive_timeouts >= self.max_consecutive_timeouts {
                    self.next_attempt()
                } else {
                    RecoveryAction::Continue
                }
            }
            ReadEvent::Failed => self.next_attempt(),
        }
    }

    /// Decides after a reopen attempt failed.
    pub fn on_reopen_failed(&mut self) -> RecoveryAction {
        self.next_attempt()
    }

    /// Notes a successful reopen (the timeout run starts again; attempts are kept until data
    /// flows).
    pub fn on_reopened(&mut self) {
        self.consecutive_timeouts = 0;
    }

    fn next_attempt(&mut self) -> RecoveryAction {
        self.consecutive_timeouts = 0;
        let exhausted = match self.policy.max_attempts {
            MaxAttempts::Limited(n) => self.attempts >= n,
            MaxAttempts::Unlimited => false,
        };
        if exhausted {
            return RecoveryAction::GiveUp {
                attempts: self.attempts,
            };
        }
        self.attempts = self.attempts.saturating_add(1);
        RecoveryAction::Reopen {
            attempt: self.attempts,
            delay: self.policy.delay(self.attempts),
        }
    }
}

/// Samples lost in a gap, estimated from the block's time: the stream's anchor (time of
/// sample 0) plus `next_index / rate` is where the block should start; anything later is
/// a gap. Never negative; non-finite input gives 0.
pub fn gap_samples(time_s: f64, anchor_s: f64, sample_rate_hz: f64, next_index: u64) -> u64 {
    let expected = (time_s - anchor_s) * sample_rate_hz;
    // u64 → f64 loses precision only beyond 2^53 samples (decades at 10 MS/s).
    #[allow(clippy::cast_precision_loss)]
    let have = next_index as f64;
    let gap = (expected - have).round();
    if gap.is_finite() && gap > 0.0 && gap < u64::MAX as f64 {
        // In range and integral: the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let g = gap as u64;
        g
    } else {
        0
    }
}

/// What the opened device actually runs at (drivers round rates and frequencies).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFacts {
    /// Driver key (`rtlsdr`, `hackrf`, `null`).
    pub driver: String,
    /// Hardware key.
    pub hardware: String,
    /// Hardware info key=value pairs (serial, firmware, ...).
    pub hardware_info: Vec<(String, String)>,
    /// Sample rate read back, Hz.
    pub sample_rate_hz: f64,
    /// Centre read back, Hz.
    pub center_hz: f64,
    /// Gain read back, dB (None where the driver cannot say).
    pub gain_db: Option<f64>,
    /// Whether the device timestamps samples with a hardware clock.
    pub hardware_time: bool,
}

impl DeviceFacts {
    /// One line for SigMF `core:hw`: driver, hardware key and info pairs.
    pub fn describe(&self) -> String {
        let mut s = format!("SoapySDR driver={} hardware={}", self.driver, self.hardware);
        for (k, v) in &self.hardware_info {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }
}

/// The driver operations [`SoapySource`] streams through: a SoapySDR device with an active
/// CF32 stream, or a stand-in in tests.
pub trait RxDevice: Send {
    /// Reads up to `buf.len()` samples; `Ok(n)` samples arrived. Errors carry SoapySDR's
    /// code (`Timeout`, `Overflow`, anything else = device lost).
    ///
    /// # Errors
    /// The driver's error.
    fn read(
        &mut self,
        buf: &mut [Complex32],
        timeout_us: i64,
    ) -> std::result::Result<usize, soapysdr::Error>;

    /// Retunes the RX channel.
    ///
    /// # Errors
    /// The driver's error.
    fn set_center(&mut self, center_hz: f64) -> std::result::Result<(), soapysdr::Error>;

    /// Hardware timestamp (ns) of the first sample of the last read, when the device has a
    /// hardware clock.
    fn time_ns(&self) -> Option<i64>;
}

/// Opens and configures a device at a centre: returns it and what it runs at, or a message
/// naming the step that failed.
pub type DeviceOpener = Box<
    dyn FnMut(&SoapyConfig, f64) -> std::result::Result<(Box<dyn RxDevice>, DeviceFacts), String>
        + Send,
>;

/// A SoapySDR device with an active stream.
struct SoapyRx {
    // Field order: the stream is dropped (closed) before the device handle.
    stream: RxStream<Complex32>,
    device: Device,
    channel: usize,
    hardware_time: bool,
}

impl RxDevice for SoapyRx {
    fn read(
        &mut self,
        buf: &mut [Complex32],
        timeout_us: i64,
    ) -> std::result::Result<usize, soapysdr::Error> {
        self.stream.read(&mut [buf], timeout_us)
    }

    fn set_center(&mut self, center_hz: f64) -> std::result::Result<(), soapysdr::Error> {
        self.device
            .set_frequency(Direction::Rx, self.channel, center_hz, ())
    }

    fn time_ns(&self) -> Option<i64> {
        self.hardware_time.then(|| self.stream.time_ns())
    }
}

/// An open device and the timestamps of its first block.
struct Session {
    rx: Box<dyn RxDevice>,
    /// Hardware timestamp and clock time of the session's first block.
    hw_origin: Option<(i64, f64)>,
}

/// A [`IqSource`] reading a SoapySDR device. See the module docs.
pub struct SoapySource {
    config: SoapyConfig,
    info: SourceInfo,
    facts: DeviceFacts,
    stats: SourceStats,
    clock: Box<dyn Clock>,
    clock_origin: Duration,
    opener: DeviceOpener,
    session: Option<Session>,
    recovery: Recovery,
    /// Index of the next sample the device delivers (counts discards and gaps).
    next_index: u64,
    /// Stream time of sample 0, fixed at the first block; used to size gaps.
    anchor_s: Option<f64>,
    /// A gap (overflow, reopen) happened since the last delivered block.
    gap_pending: bool,
    hop: usize,
    current_center_hz: f64,
    dwell_left: u64,
    discard_left: u64,
    retune_pending: bool,
    scratch: Vec<Complex32>,
}

impl std::fmt::Debug for SoapySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoapySource")
            .field("config", &self.config)
            .field("info", &self.info)
            .field("facts", &self.facts)
            .field("stats", &self.stats)
            .field("open", &self.session.is_some())
            .field("next_index", &self.next_index)
            .finish_non_exhaustive()
    }
}

/// A SoapySDR failure with the step that failed.
fn step(what: impl std::fmt::Display, e: &soapysdr::Error) -> String {
    let detail = e.message.trim();
    if detail.is_empty() {
        format!("{what} failed: {:?}", e.code)
    } else {
        format!("{what} failed: {:?}: {detail}", e.code)
    }
}

/// Opens a SoapySDR device, configures it and starts streaming.
///
/// # Errors
/// A message naming the step that failed and SoapySDR's error.
pub fn open_soapy(
    config: &SoapyConfig,
    center_hz: f64,
) -> std::result::Result<(Box<dyn RxDevice>, DeviceFacts), String> {
    let device = Device::new(config.args.as_str()).map_err(|e| step("open", &e))?;
    let ch = config.channel;
    let rx = Direction::Rx;
    let n = device
        .num_channels(rx)
        .map_err(|e| step("count RX channels", &e))?;
    // 0 is SoapySDR's base-class answer ("unknown", e.g. `driver=null`): let the driver judge.
    if n > 0 && ch >= n {
        return Err(format!("RX channel {ch} does not exist (device has {n})"));
    }
    device
        .set_sample_rate(rx, ch, config.sample_rate_hz)
        .map_err(|e| step(format!("set sample rate {} Hz", config.sample_rate_hz), &e))?;
    device
        .set_frequency(rx, ch, center_hz, ())
        .map_err(|e| step(format!("tune to {center_hz} Hz"), &e))?;
    // A driver without AGC reports has_gain_mode = false; manual gain still works.
    let has_agc = device.has_gain_mode(rx, ch).unwrap_or(false);
    match config.gain {
        GainMode::Agc => {
            if has_agc {
                device
                    .set_gain_mode(rx, ch, true)
                    .map_err(|e| step("enable AGC", &e))?;
            } else {
                tracing::warn!(args = %config.args, "device has no AGC; using its default gain");
            }
        }
        GainMode::Manual { db } => {
            if has_agc {
                device
                    .set_gain_mode(rx, ch, false)
                    .map_err(|e| step("disable AGC", &e))?;
            }
            device
                .set_gain(rx, ch, db)
                .map_err(|e| step(format!("set gain {db} dB"), &e))?;
        }
    }
    if let Some(bw) = config.bandwidth_hz {
        device
            .set_bandwidth(rx, ch, bw)
            .map_err(|e| step(format!("set bandwidth {bw} Hz"), &e))?;
    }
    if let Some(ant) = &config.antenna {
        device
            .set_antenna(rx, ch, ant.as_str())
            .map_err(|e| step(format!("select antenna `{ant}`"), &e))?;
    }
    let mut stream = device
        .rx_stream::<Complex32>(&[ch])
        .map_err(|e| step("set up CF32 RX stream", &e))?;
    stream
        .activate(None)
        .map_err(|e| step("activate RX stream", &e))?;
    let facts = DeviceFacts {
        driver: device.driver_key().unwrap_or_default(),
        hardware: device.hardware_key().unwrap_or_default(),
        hardware_info: device
            .hardware_info()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        sample_rate_hz: device
            .sample_rate(rx, ch)
            .ok()
            .filter(|r| r.is_finite() && *r > 0.0)
            .unwrap_or(config.sample_rate_hz),
        center_hz: device
            .frequency(rx, ch)
            .ok()
            .filter(|f| f.is_finite() && *f > 0.0)
            .unwrap_or(center_hz),
        gain_db: device.gain(rx, ch).ok().filter(|g| g.is_finite()),
        hardware_time: device.has_hardware_time(None).unwrap_or(false),
    };
    let hardware_time = facts.hardware_time;
    Ok((
        Box::new(SoapyRx {
            stream,
            device,
            channel: ch,
            hardware_time,
        }),
        facts,
    ))
}

impl SoapySource {
    /// Opens and configures the device with a monotonic clock.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for a bad config; [`Error::Device`] naming the args and the step
    /// that failed when the device cannot be opened or configured. Opening is not retried: a
    /// wrong args string should fail at once.
    pub fn open(config: SoapyConfig) -> Result<Self> {
        Self::open_with_clock(config, Box::new(MonotonicClock::new()))
    }

    /// Opens and configures the device, taking time and waits from `clock`.
    ///
    /// # Errors
    /// As [`SoapySource::open`].
    pub fn open_with_clock(config: SoapyConfig, clock: Box<dyn Clock>) -> Result<Self> {
        Self::open_with(config, clock, Box::new(open_soapy))
    }

    /// Opens through `opener` (a stand-in device in tests), taking time and waits from
    /// `clock`. Reopens after a lost device go through `opener` too.
    ///
    /// # Errors
    /// As [`SoapySource::open`].
    pub fn open_with(
        config: SoapyConfig,
        clock: Box<dyn Clock>,
        mut opener: DeviceOpener,
    ) -> Result<Self> {
        config.validate()?;
        let center = config.initial_center_hz();
        let (rx, facts) = opener(&config, center).map_err(|message| Error::Device {
            args: config.args.clone(),
            message,
        })?;
        let session = Session {
            rx,
            hw_origin: None,
        };
        tracing::info!(
            args = %config.args,
            driver = %facts.driver,
            rate_hz = facts.sample_rate_hz,
            center_hz = facts.center_hz,
            gain_db = ?facts.gain_db,
            "SoapySDR device open"
        );
        let info = SourceInfo {
            label: format!("soapy({})", config.args),
            sample_rate_hz: facts.sample_rate_hz,
            center_hz: facts.center_hz,
            total_samples: None,
            datetime: None,
        };
        let (dwell, discard) = match &config.sweep {
            Some(s) => (s.dwell_samples, s.discard_samples),
            None => (u64::MAX, 0),
        };
        let clock_origin = clock.now();
        let recovery = Recovery::new(config.reopen, config.max_consecutive_timeouts);
        Ok(Self {
            info,
            current_center_hz: facts.center_hz,
            facts,
            stats: SourceStats::default(),
            clock,
            clock_origin,
            opener,
            session: Some(session),
            recovery,
            next_index: 0,
            anchor_s: None,
            gap_pending: false,
            hop: 0,
            dwell_left: dwell,
            discard_left: discard,
            retune_pending: false,
            scratch: Vec::new(),
            config,
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// What the device runs at (read back after configuration).
    pub fn facts(&self) -> &DeviceFacts {
        &self.facts
    }

    /// The configuration in use.
    pub fn config(&self) -> &SoapyConfig {
        &self.config
    }

    fn elapsed_s(&self) -> f64 {
        self.clock
            .now()
            .saturating_sub(self.clock_origin)
            .as_secs_f64()
    }

    fn device_error(&self, message: String) -> Error {
        Error::Device {
            args: self.config.args.clone(),
            message,
        }
    }

    /// Applies a recovery decision. Returns `Ok(())` to keep reading.
    fn act(&mut self, action: RecoveryAction, cause: &str) -> Result<()> {
        match action {
            RecoveryAction::Continue => Ok(()),
            RecoveryAction::GiveUp { attempts } => Err(self.device_error(format!(
                "{cause}; gave up after {attempts} reopen attempt(s)"
            ))),
            RecoveryAction::Reopen { attempt, delay } => self.reopen_loop(attempt, delay, cause),
        }
    }

    /// Closes the device and reopens it, backing off, until it opens or attempts run out.
    fn reopen_loop(&mut self, mut attempt: u32, mut delay: Duration, cause: &str) -> Result<()> {
        // Drop the stream and device first: a driver may refuse a second handle.
        self.session = None;
        let mut last = cause.to_owned();
        loop {
            tracing::warn!(
                args = %self.config.args,
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                cause = %last,
                "SoapySDR device lost; reopening"
            );
            self.clock.sleep(delay);
            match (self.opener)(&self.config, self.current_center_hz) {
                Ok((rx, facts)) => {
                    self.session = Some(Session {
                        rx,
                        hw_origin: None,
                    });
                    self.facts = facts;
                    self.stats.reopens += 1;
                    self.recovery.on_reopened();
                    self.gap_pending = true;
                    // Samples right after a (re)tune are junk, as after a sweep hop.
                    if let Some(s) = &self.config.sweep {
                        self.discard_left = s.discard_samples;
                    }
                    tracing::info!(args = %self.config.args, attempt, "SoapySDR device reopened");
                    return Ok(());
                }
                Err(message) => {
                    last = message;
                    match self.recovery.on_reopen_failed() {
                        RecoveryAction::Reopen {
                            attempt: a,
                            delay: d,
                        } => {
                            attempt = a;
                            delay = d;
                        }
                        RecoveryAction::GiveUp { attempts } => {
                            return Err(self.device_error(format!(
                                "{last}; gave up after {attempts} reopen attempt(s)"
                            )));
                        }
                        RecoveryAction::Continue => return Ok(()),
                    }
                }
            }
        }
    }

    /// Tunes to the next sweep centre.
    fn retune(&mut self) -> Result<()> {
        let Some(sweep) = &self.config.sweep else {
            self.retune_pending = false;
            return Ok(());
        };
        let n = sweep.centers_hz.len().max(1);
        let next = (self.hop + 1) % n;
        let center = sweep
            .centers_hz
            .get(next)
            .copied()
            .unwrap_or(self.current_center_hz);
        let settle = Duration::try_from_secs_f64(sweep.settle_s).unwrap_or(Duration::ZERO);
        let (dwell, discard) = (sweep.dwell_samples, sweep.discard_samples);
        let result = match &mut self.session {
            Some(s) => {
                s.rx.set_center(center)
                    .map_err(|e| step(format!("retune to {center} Hz"), &e))
            }
            None => Err("device not open".to_owned()),
        };
        match result {
            Ok(()) => {
                self.hop = next;
                self.current_center_hz = center;
                self.stats.retunes += 1;
                self.retune_pending = false;
                self.dwell_left = dwell;
                self.discard_left = discard;
                self.clock.sleep(settle);
                Ok(())
            }
            Err(message) => {
                self.stats.read_errors += 1;
                let action = self.recovery.on_read(ReadEvent::Failed);
                self.act(action, &message)
            }
        }
    }

    /// One driver read into `buf`; maps the outcome to a [`ReadEvent`].
    fn read_into(&mut self, buf: &mut [Complex32]) -> (ReadEvent, usize, String) {
        let timeout_us = (self.config.read_timeout_s * 1e6).round();
        // Validated to (0, 3600] s, so the microsecond count fits comfortably.
        #[allow(clippy::cast_possible_truncation)]
        let timeout_us = timeout_us as i64;
        let Some(session) = self.session.as_mut() else {
            return (ReadEvent::Failed, 0, "device not open".to_owned());
        };
        match session.rx.read(buf, timeout_us) {
            Ok(0) => {
                self.stats.timeouts += 1;
                (ReadEvent::Timeout, 0, "read returned no samples".to_owned())
            }
            Ok(n) => (ReadEvent::Data, n, String::new()),
            Err(e) => match e.code {
                ErrorCode::Timeout => {
                    self.stats.timeouts += 1;
                    (ReadEvent::Timeout, 0, step("read", &e))
                }
                ErrorCode::Overflow => {
                    self.stats.overflows += 1;
                    self.gap_pending = true;
                    (ReadEvent::Overflow, 0, step("read", &e))
                }
                _ => {
                    self.stats.read_errors += 1;
                    (ReadEvent::Failed, 0, step("read", &e))
                }
            },
        }
    }

    /// Stream time of the first sample of a block of `n` samples just read.
    fn block_time_s(&mut self, n: usize) -> f64 {
        let now = self.elapsed_s();
        let rate = self.facts.sample_rate_hz;
        if let Some(session) = self.session.as_mut()
            && let Some(t_ns) = session.rx.time_ns()
        {
            // The session's first block is placed on the clock; later ones by hardware time.
            #[allow(clippy::cast_precision_loss)]
            let first_s = (now - n as f64 / rate).max(0.0);
            let (t0_ns, t0_s) = *session.hw_origin.get_or_insert((t_ns, first_s));
            // i64 ns differences are exact in f64 up to 2^53 ns (104 days).
            #[allow(clippy::cast_precision_loss)]
            let dt = t_ns.saturating_sub(t0_ns) as f64 * 1e-9;
            return t0_s + dt;
        }
        // The block ends now; its first sample is n/rate earlier.
        #[allow(clippy::cast_precision_loss)]
        let dur = n as f64 / rate;
        (now - dur).max(0.0)
    }

    /// Throws away pending post-retune samples.
    fn discard(&mut self) -> Result<()> {
        while self.discard_left > 0 {
            let want = usize::try_from(self.discard_left)
                .unwrap_or(usize::MAX)
                .min(DISCARD_CHUNK);
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.resize(want, Complex32::new(0.0, 0.0));
            let (event, n, message) = self.read_into(&mut scratch);
            self.scratch = scratch;
            if event == ReadEvent::Data {
                let n64 = u64::try_from(n).unwrap_or(u64::MAX);
                self.discard_left = self.discard_left.saturating_sub(n64);
                self.next_index = self.next_index.saturating_add(n64);
                self.stats.discarded_samples = self.stats.discarded_samples.saturating_add(n64);
            }
            let action = self.recovery.on_read(event);
            self.act(action, &message)?;
        }
        Ok(())
    }
}

impl IqSource for SoapySource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read_block(&mut self, max: usize, out: &mut Vec<Complex32>) -> Result<Option<BlockMeta>> {
        out.clear();
        loop {
            if self.retune_pending {
                self.retune()?;
                continue;
            }
            if self.discard_left > 0 {
                self.discard()?;
                continue;
            }
            let want = usize::try_from(self.dwell_left)
                .unwrap_or(usize::MAX)
                .min(max);
            if want == 0 {
                // max == 0: an empty block, nothing read.
                return Ok(Some(BlockMeta {
                    sample_index: self.next_index,
                    sample_rate_hz: self.facts.sample_rate_hz,
                    center_hz: self.current_center_hz,
                    time_s: self.elapsed_s(),
                }));
            }
            out.resize(want, Complex32::new(0.0, 0.0));
            let (event, n, message) = self.read_into(out);
            out.truncate(n);
            if event == ReadEvent::Data {
                let time_s = self.block_time_s(n);
                let rate = self.facts.sample_rate_hz;
                match self.anchor_s {
                    None => {
                        #[allow(clippy::cast_precision_loss)]
                        let since_start = self.next_index as f64 / rate;
                        self.anchor_s = Some(time_s - since_start);
                    }
                    Some(anchor) if self.gap_pending => {
                        let gap = gap_samples(time_s, anchor, rate, self.next_index);
                        self.stats.dropped_samples = self.stats.dropped_samples.saturating_add(gap);
                        self.next_index = self.next_index.saturating_add(gap);
                    }
                    Some(_) => {}
                }
                self.gap_pending = false;
                let meta = BlockMeta {
                    sample_index: self.next_index,
                    sample_rate_hz: rate,
                    center_hz: self.current_center_hz,
                    time_s,
                };
                let n64 = u64::try_from(n).unwrap_or(u64::MAX);
                self.next_index = self.next_index.saturating_add(n64);
                if self.config.sweep.is_some() {
                    self.dwell_left = self.dwell_left.saturating_sub(n64);
                    if self.dwell_left == 0 {
                        self.retune_pending = true;
                    }
                }
                self.recovery.on_read(ReadEvent::Data);
                return Ok(Some(meta));
            }
            let action = self.recovery.on_read(event);
            self.act(action, &message)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: MaxAttempts) -> ReopenPolicy {
        ReopenPolicy {
            initial_s: 0.1,
            max_s: 0.5,
            max_attempts: max,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let p = policy(MaxAttempts::Unlimited);
        let d: Vec<_> = (1..=6).map(|a| p.delay(a)).collect();
        assert_eq!(
            d,
            vec![ms(100), ms(200), ms(400), ms(500), ms(500), ms(500)]
        );
        // Huge attempt numbers do not overflow.
        assert_eq!(p.delay(u32::MAX), ms(500));
    }

    #[test]
    fn timeouts_and_overflows_continue_until_the_timeout_run_limit() {
        let mut r = Recovery::new(policy(MaxAttempts::Limited(3)), 3);
        assert_eq!(r.on_read(ReadEvent::Timeout), RecoveryAction::Continue);
        assert_eq!(r.on_read(ReadEvent::Overflow), RecoveryAction::Continue);
        // The overflow broke the run: two more timeouts are still fine.
        assert_eq!(r.on_read(ReadEvent::Timeout), RecoveryAction::Continue);
        assert_eq!(r.on_read(ReadEvent::Timeout), RecoveryAction::Continue);
        assert_eq!(
            r.on_read(ReadEvent::Timeout),
            RecoveryAction::Reopen {
                attempt: 1,
                delay: ms(100)
            }
        );
    }

    #[test]
    fn failures_back_off_then_give_up() {
        let mut r = Recovery::new(policy(MaxAttempts::Limited(3)), 5);
        assert_eq!(
            r.on_read(ReadEvent::Failed),
            RecoveryAction::Reopen {
                attempt: 1,
                delay: ms(100)
            }
        );
        assert_eq!(
            r.on_reopen_failed(),
            RecoveryAction::Reopen {
                attempt: 2,
                delay: ms(200)
            }
        );
        // Reopened, but the first read fails again: no reset without data.
        r.on_reopened();
        assert_eq!(
            r.on_read(ReadEvent::Failed),
            RecoveryAction::Reopen {
                attempt: 3,
                delay: ms(400)
            }
        );
        assert_eq!(r.on_reopen_failed(), RecoveryAction::GiveUp { attempts: 3 });
    }

    #[test]
    fn data_resets_the_attempt_count() {
        let mut r = Recovery::new(policy(MaxAttempts::Limited(2)), 5);
        let seq = [
            ReadEvent::Failed,
            ReadEvent::Failed,
            ReadEvent::Data,
            ReadEvent::Failed,
        ];
        let actions: Vec<_> = seq.iter().map(|e| r.on_read(*e)).collect();
        assert_eq!(
            actions,
            vec![
                RecoveryAction::Reopen {
                    attempt: 1,
                    delay: ms(100)
                },
                RecoveryAction::Reopen {
                    attempt: 2,
                    delay: ms(200)
                },
                RecoveryAction::Continue,
                RecoveryAction::Reopen {
                    attempt: 1,
                    delay: ms(100)
                },
            ]
        );
    }

    #[test]
    fn zero_attempts_gives_up_at_once_and_unlimited_never_does() {
        let mut r = Recovery::new(policy(MaxAttempts::Limited(0)), 1);
        assert_eq!(
            r.on_read(ReadEvent::Failed),
            RecoveryAction::GiveUp { attempts: 0 }
        );
        let mut r = Recovery::new(policy(MaxAttempts::Unlimited), 1);
        for i in 1..=1000 {
            assert!(matches!(
                r.on_reopen_failed(),
                RecoveryAction::Reopen { attempt, .. } if attempt == i
            ));
        }
    }

    #[test]
    fn gap_estimate() {
        // 1 MS/s, 1000 samples delivered, block starts at 1.5 ms: 500 lost.
        assert_eq!(gap_samples(0.0015, 0.0, 1e6, 1000), 500);
        // Early (jitter) never gives a negative gap.
        assert_eq!(gap_samples(0.0005, 0.0, 1e6, 1000), 0);
        assert_eq!(gap_samples(f64::NAN, 0.0, 1e6, 0), 0);
        assert_eq!(gap_samples(f64::INFINITY, 0.0, 1e6, 0), 0);
    }

    #[test]
    fn config_parses_with_defaults_and_rejects_unknown_fields() {
        let c: SoapyConfig = toml::from_str(
            r#"
            args = "driver=rtlsdr"
            center_hz = 433.92e6
            gain = 28
            [reopen]
            max_attempts = "unlimited"
            [sweep]
            centers_hz = [430e6, 432e6]
            "#,
        )
        .unwrap();
        assert_eq!(c.gain, GainMode::Manual { db: 28.0 });
        assert_eq!(c.reopen.max_attempts, MaxAttempts::Unlimited);
        assert_eq!(c.initial_center_hz(), 430e6);
        assert_eq!(c.sample_rate_hz, 2.4e6);
        c.validate().unwrap();
        let c: SoapyConfig = toml::from_str("gain = \"auto\"").unwrap();
        assert_eq!(c.gain, GainMode::Agc);
        assert!(toml::from_str::<SoapyConfig>("gian = 3").is_err());
        assert!(toml::from_str::<SoapyConfig>("gain = \"loud\"").is_err());
        assert!(toml::from_str::<SoapyConfig>("[reopen]\nmax_attempts = \"many\"").is_err());
        assert!(toml::from_str::<SoapyConfig>("format = \"CS16\"").is_err());
    }

    #[test]
    fn validate_names_the_field() {
        let bad = |c: SoapyConfig, field: &str| match c.validate() {
            Err(Error::InvalidField {
                field: f, context, ..
            }) => {
                assert_eq!(f, field);
                assert!(context.contains("driver=x"), "{context}");
            }
            other => panic!("{field}: {other:?}"),
        };
        let base = SoapyConfig {
            args: "driver=x".into(),
            ..SoapyConfig::default()
        };
        bad(
            SoapyConfig {
                sample_rate_hz: 0.0,
                ..base.clone()
            },
            "sample_rate_hz",
        );
        bad(
            SoapyConfig {
                args: "driver=x\0".into(),
                ..base.clone()
            },
            "args",
        );
        bad(
            SoapyConfig {
                read_timeout_s: f64::NAN,
                ..base.clone()
            },
            "read_timeout_s",
        );
        bad(
            SoapyConfig {
                sweep: Some(SweepPlan::default()),
                ..base.clone()
            },
            "sweep.centers_hz",
        );
        bad(
            SoapyConfig {
                reopen: ReopenPolicy {
                    initial_s: 2.0,
                    max_s: 1.0,
                    max_attempts: MaxAttempts::Limited(1),
                },
                ..base
            },
            "reopen.max_s",
        );
    }

    #[test]
    fn gain_parses_from_flags() {
        assert_eq!("auto".parse::<GainMode>(), Ok(GainMode::Agc));
        assert_eq!(
            " 40.2 ".parse::<GainMode>(),
            Ok(GainMode::Manual { db: 40.2 })
        );
        assert!("inf".parse::<GainMode>().is_err());
        assert!("x".parse::<GainMode>().is_err());
    }
}
