//! `trustband record`: IQ from a SoapySDR device into a SigMF recording.
//!
//! Data flow: [`RecordArgs`] -> `radio::source::soapy::SoapySource` (CF32 blocks, reopen with
//! back-off on a lost device) -> `radio::source::sigmf::SigmfWriter` (`NAME.sigmf-data`
//! streamed through one reused block buffer, so memory stays bounded whatever the duration;
//! `NAME.sigmf-meta` with `core:datetime`, `core:frequency`, `core:hw` and, when given,
//! `core:geolocation`).
//!
//! Files on failure:
//! - nothing is created until the device has delivered its first block, so a device that
//!   cannot stream (SoapySDR's `driver=null`, a wrong args string) leaves no files behind;
//! - if the device is lost for good mid-recording, the samples so far are a valid recording:
//!   it is finalised (metadata written) and the error says so;
//! - if writing fails (disk full), both files are removed: the dataset may end mid-sample.
//!
//! Samples lost to overflows or reopens are not in the dataset; a new capture segment with
//! its own `core:datetime` starts after each gap so the discontinuity is visible.
//!
//! Needs the `soapy` cargo feature; without it [`record`] fails with a message saying how to
//! rebuild.

use std::path::PathBuf;

#[cfg(not(feature = "soapy"))]
use crate::bad_input;

/// What `trustband record` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordArgs {
    /// SoapySDR device args, e.g. `driver=rtlsdr`.
    pub device: String,
    /// Centre frequency in Hz.
    pub center_hz: f64,
    /// Sample rate in Hz.
    pub rate_hz: f64,
    /// Fixed gain in dB; AGC when `None`.
    pub gain_db: Option<f64>,
    /// Seconds to record.
    pub duration_s: f64,
    /// Output name: `NAME.sigmf-data` and `NAME.sigmf-meta` are written.
    pub out: PathBuf,
    /// Latitude in degrees (with `lon`) for `core:geolocation`.
    pub lat: Option<f64>,
    /// Longitude in degrees (with `lat`).
    pub lon: Option<f64>,
    /// Altitude in metres.
    pub alt: Option<f64>,
}

/// Device-handling knobs of a recording; [`RecordOptions::default`] suits the CLI.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordOptions {
    /// Timeout of one driver read, seconds.
    pub read_timeout_s: f64,
    /// First reopen back-off, seconds (doubling).
    pub reopen_initial_s: f64,
    /// Back-off ceiling, seconds.
    pub reopen_max_s: f64,
    /// Reopen attempts before giving up.
    pub reopen_attempts: u32,
    /// Samples per read.
    pub block_samples: usize,
    /// Show a progress bar (only ever drawn when stderr is a terminal).
    pub progress: bool,
}

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            read_timeout_s: 1.0,
            reopen_initial_s: 0.25,
            reopen_max_s: 4.0,
            reopen_attempts: 4,
            block_samples: 65_536,
            progress: true,
        }
    }
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordSummary {
    /// `NAME.sigmf-meta`.
    pub meta_path: PathBuf,
    /// `NAME.sigmf-data`.
    pub data_path: PathBuf,
    /// Samples in the dataset.
    pub samples: u64,
    /// Sample rate the device ran at, Hz.
    pub sample_rate_hz: f64,
    /// Centre the device was tuned to, Hz.
    pub center_hz: f64,
    /// `core:hw` written.
    pub hw: String,
    /// Samples lost to overflows and reopens (not in the dataset).
    pub dropped_samples: u64,
    /// Overflows reported by the driver.
    pub overflows: u64,
    /// Times the device was reopened.
    pub reopens: u64,
}

/// `trustband record`: records and prints a one-line summary to stderr.
///
/// # Errors
/// As [`record`].
pub fn record_command(args: &RecordArgs) -> anyhow::Result<()> {
    let s = record(args)?;
    #[allow(clippy::cast_precision_loss)]
    let seconds = s.samples as f64 / s.sample_rate_hz;
    eprintln!(
        "wrote {} ({} samples, {seconds:.3} s at {} Hz, centre {} Hz; {} overflows, {} samples dropped, {} reopens)",
        s.meta_path.display(),
        s.samples,
        s.sample_rate_hz,
        s.center_hz,
        s.overflows,
        s.dropped_samples,
        s.reopens
    );
    Ok(())
}

/// Records with [`RecordOptions::default`].
///
/// # Errors
/// As [`record_with`].
pub fn record(args: &RecordArgs) -> anyhow::Result<RecordSummary> {
    record_with(args, &RecordOptions::default())
}

/// Records `args.duration_s` seconds from the device into a SigMF recording.
///
/// # Errors
/// Bad arguments ([`crate::BadInput`]: non-positive rate or duration, out-of-range
/// coordinates); the device cannot be opened or streams nothing ([`radio::Error::Device`]
/// naming the args); the device is lost for good mid-recording (the partial recording is kept,
/// finalised); the files cannot be written (both removed). Without the `soapy` feature:
/// always, saying how to rebuild.
pub fn record_with(args: &RecordArgs, opts: &RecordOptions) -> anyhow::Result<RecordSummary> {
    check_args(args)?;
    imp::record(args, opts)
}

fn check_args(args: &RecordArgs) -> anyhow::Result<()> {
    let bad = |m: String| crate::bad_input(m);
    if !(args.rate_hz.is_finite() && args.rate_hz > 0.0) {
        return Err(bad(format!(
            "--rate {}: must be a positive number of Hz",
            args.rate_hz
        )));
    }
    if !(args.center_hz.is_finite() && args.center_hz > 0.0) {
        return Err(bad(format!(
            "--center {}: must be a positive number of Hz",
            args.center_hz
        )));
    }
    if !(args.duration_s.is_finite() && args.duration_s > 0.0) {
        return Err(bad(format!(
            "--duration {}: must be a positive number of seconds",
            args.duration_s
        )));
    }
    if args.gain_db.is_some_and(|g| !g.is_finite()) {
        return Err(bad("--gain must be a finite number of dB".to_owned()));
    }
    match (args.lat, args.lon) {
        (Some(lat), Some(lon)) => {
            if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                return Err(bad(format!(
                    "--lat {lat}: must be within [-90, 90] degrees"
                )));
            }
            if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                return Err(bad(format!(
                    "--lon {lon}: must be within [-180, 180] degrees"
                )));
            }
        }
        (None, None) => {
            if args.alt.is_some() {
                return Err(bad("--alt needs --lat and --lon".to_owned()));
            }
        }
        _ => return Err(bad("--lat and --lon go together".to_owned())),
    }
    if args.alt.is_some_and(|a| !a.is_finite()) {
        return Err(bad("--alt must be a finite number of metres".to_owned()));
    }
    Ok(())
}

#[cfg(not(feature = "soapy"))]
mod imp {
    use super::{RecordArgs, RecordOptions, RecordSummary, bad_input};

    pub(super) fn record(
        args: &RecordArgs,
        _opts: &RecordOptions,
    ) -> anyhow::Result<RecordSummary> {
        Err(bad_input(format!(
            "record --device {}: this trustband was built without SoapySDR support; \
             rebuild with `cargo build --release --features soapy` (needs libsoapysdr-dev)",
            args.device
        )))
    }
}

#[cfg(feature = "soapy")]
mod imp {
    use std::io::IsTerminal;
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    use anyhow::Context;
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use num_complex::Complex32;
    use radio::source::IqSource;
    use radio::source::format::SampleFormat;
    use radio::source::sigmf::{GeoPoint, RecordingConfig, SigmfWriter, recording_paths};
    use radio::source::soapy::{GainMode, MaxAttempts, ReopenPolicy, SoapyConfig, SoapySource};

    use super::{RecordArgs, RecordOptions, RecordSummary};

    fn rfc3339(t: SystemTime) -> String {
        humantime::format_rfc3339_micros(t).to_string()
    }

    /// Removes a half-written recording; failures to remove are only logged (the write error
    /// that got us here is the one to report).
    fn remove_partial(meta: &Path, data: &Path) {
        for p in [data, meta] {
            if let Err(e) = std::fs::remove_file(p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %p.display(), error = %e, "could not remove partial file");
            }
        }
    }

    pub(super) fn record(args: &RecordArgs, opts: &RecordOptions) -> anyhow::Result<RecordSummary> {
        let config = SoapyConfig {
            args: args.device.clone(),
            center_hz: args.center_hz,
            sample_rate_hz: args.rate_hz,
            gain: match args.gain_db {
                Some(db) => GainMode::Manual { db },
                None => GainMode::Agc,
            },
            read_timeout_s: opts.read_timeout_s,
            reopen: ReopenPolicy {
                initial_s: opts.reopen_initial_s,
                max_s: opts.reopen_max_s,
                max_attempts: MaxAttempts::Limited(opts.reopen_attempts),
            },
            ..SoapyConfig::default()
        };
        let source = SoapySource::open(config)?;
        record_from(args, opts, source)
    }

    /// Records from an opened source (a stand-in device in tests).
    pub(super) fn record_from(
        args: &RecordArgs,
        opts: &RecordOptions,
        mut source: SoapySource,
    ) -> anyhow::Result<RecordSummary> {
        let rate = source.facts().sample_rate_hz;
        let center = source.facts().center_hz;
        let hw = source.facts().describe();
        let total = {
            let n = (args.duration_s * rate).round();
            // Positive and finite (checked); beyond u64 is nonsense anyway.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = if n >= u64::MAX as f64 {
                u64::MAX
            } else {
                n as u64
            };
            n.max(1)
        };
        let block = opts.block_samples.max(1);
        let mut buf: Vec<Complex32> = Vec::with_capacity(block);

        // First block before any file exists: a device that streams nothing leaves no trace.
        let first = loop {
            match source.read_block(block, &mut buf)? {
                Some(meta) if !buf.is_empty() => break meta,
                Some(_) => {}
                None => anyhow::bail!("device `{}`: stream ended before any sample", args.device),
            }
        };
        // Wall-clock time of stream time 0: the first block has just arrived.
        #[allow(clippy::cast_precision_loss)]
        let block_dur = buf.len() as f64 / rate;
        let epoch = SystemTime::now()
            .checked_sub(Duration::try_from_secs_f64(first.time_s + block_dur).unwrap_or_default())
            .unwrap_or_else(SystemTime::now);
        let first_time = epoch + Duration::try_from_secs_f64(first.time_s).unwrap_or_default();

        let (meta_path, data_path) = recording_paths(&args.out)?;
        let mut rc = RecordingConfig::new(SampleFormat::Cf32Le, rate, center);
        rc.hw = Some(hw.clone());
        rc.datetime = Some(rfc3339(first_time));
        rc.description = Some(format!("trustband record from `{}`", args.device));
        rc.geolocation = match (args.lat, args.lon) {
            (Some(latitude), Some(longitude)) => Some(GeoPoint {
                longitude,
                latitude,
                altitude_m: args.alt,
            }),
            _ => None,
        };
        let mut writer = SigmfWriter::create(&args.out, rc)?;

        let bar = if opts.progress && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} recording [{elapsed_precise}] {wide_bar} {percent}% ({eta} left)",
            ) {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };

        let mut written: u64 = 0;
        let mut next_index = first.sample_index;
        let mut meta = first;
        let outcome: anyhow::Result<()> = loop {
            // A gap (overflow, reopen): new capture segment with its own time.
            if meta.sample_index > next_index {
                let t = epoch + Duration::try_from_secs_f64(meta.time_s).unwrap_or_default();
                if let Err(e) = writer.retune(meta.center_hz, Some(rfc3339(t))) {
                    break Err(e.into());
                }
            }
            let left = total.saturating_sub(written);
            let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
            let Some(chunk) = buf.get(..take) else {
                break Ok(());
            };
            if let Err(e) = writer.write(chunk) {
                let (m, d) = (writer.meta_path().to_owned(), writer.data_path().to_owned());
                drop(writer);
                remove_partial(&m, &d);
                return Err(anyhow::Error::new(e)
                    .context("writing the recording failed; partial files removed"));
            }
            let n = u64::try_from(take).unwrap_or(u64::MAX);
            written = written.saturating_add(n);
            bar.inc(n);
            next_index = meta
                .sample_index
                .saturating_add(u64::try_from(buf.len()).unwrap_or(u64::MAX));
            if written >= total {
                break Ok(());
            }
            match source.read_block(block, &mut buf) {
                Ok(Some(m)) => meta = m,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e.into()),
            }
        };
        bar.finish_and_clear();
        let stats = *source.stats();
        drop(source);

        match outcome {
            Ok(()) => {
                writer
                    .finish()
                    .with_context(|| format!("finishing recording {}", meta_path.display()))?;
                Ok(RecordSummary {
                    meta_path,
                    data_path,
                    samples: written,
                    sample_rate_hz: rate,
                    center_hz: center,
                    hw,
                    dropped_samples: stats.dropped_samples,
                    overflows: stats.overflows,
                    reopens: stats.reopens,
                })
            }
            Err(e) => {
                // Whatever was written is whole samples of a valid recording: keep it usable.
                let kept = writer.finish();
                let note = match kept {
                    Ok(_) => format!(
                        "recording stopped after {written} of {total} samples; the partial recording {} is complete and usable",
                        meta_path.display()
                    ),
                    Err(fin) => {
                        remove_partial(&meta_path, &data_path);
                        format!(
                            "recording stopped after {written} of {total} samples; finalising it failed ({fin}), partial files removed"
                        )
                    }
                };
                Err(e.context(note))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn args(dir: &std::path::Path) -> RecordArgs {
        RecordArgs {
            device: "driver=null".into(),
            center_hz: 433.92e6,
            rate_hz: 1e6,
            gain_db: Some(10.0),
            duration_s: 0.5,
            out: dir.join("rec"),
            lat: None,
            lon: None,
            alt: None,
        }
    }

    fn quick() -> RecordOptions {
        RecordOptions {
            read_timeout_s: 0.01,
            reopen_initial_s: 0.001,
            reopen_max_s: 0.002,
            reopen_attempts: 2,
            block_samples: 1024,
            progress: false,
        }
    }

    fn is_bad_input(e: &anyhow::Error) -> bool {
        e.chain()
            .any(|c| c.downcast_ref::<crate::BadInput>().is_some())
    }

    #[test]
    fn bad_arguments_are_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let base = args(dir.path());
        for a in [
            RecordArgs {
                duration_s: 0.0,
                ..base.clone()
            },
            RecordArgs {
                rate_hz: f64::NAN,
                ..base.clone()
            },
            RecordArgs {
                lat: Some(91.0),
                lon: Some(0.0),
                ..base.clone()
            },
            RecordArgs {
                lat: Some(1.0),
                ..base.clone()
            },
            RecordArgs {
                alt: Some(5.0),
                ..base.clone()
            },
        ] {
            let e = record_with(&a, &quick()).unwrap_err();
            assert!(is_bad_input(&e), "{a:?}: {e:#}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(not(feature = "soapy"))]
    #[test]
    fn without_the_feature_says_how_to_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let e = record_with(&args(dir.path()), &quick()).unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("--features soapy"), "{msg}");
        assert!(msg.contains("driver=null"), "{msg}");
    }

    #[cfg(feature = "soapy")]
    #[test]
    fn null_device_fails_clearly_and_leaves_no_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = RecordArgs {
            lat: Some(52.0),
            lon: Some(4.3),
            alt: Some(10.0),
            ..args(dir.path())
        };
        let e = record_with(&a, &quick()).unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("driver=null"), "{msg}");
        assert!(msg.contains("gave up after 2"), "{msg}");
        assert!(
            e.chain().any(|c| matches!(
                c.downcast_ref::<radio::Error>(),
                Some(radio::Error::Device { .. })
            )),
            "{msg}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(feature = "soapy")]
    #[test]
    fn missing_driver_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let a = RecordArgs {
            device: "driver=nonexistent".into(),
            ..args(dir.path())
        };
        let msg = format!("{:#}", record_with(&a, &quick()).unwrap_err());
        assert!(msg.contains("driver=nonexistent"), "{msg}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

/// The recording loop against a scripted stand-in device.
#[cfg(all(test, feature = "soapy"))]
mod fake_device_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use num_complex::Complex32;
    use radio::source::sigmf::SigmfMeta;
    use radio::source::soapy::{
        Clock, DeviceFacts, ErrorCode, MaxAttempts, ReopenPolicy, RxDevice, SoapyConfig,
        SoapyError, SoapySource,
    };

    use super::*;

    const RATE: f64 = 1e6;

    #[derive(Debug, Clone, Copy)]
    enum Step {
        Data(usize),
        Overflow(u64),
        Fail,
    }

    /// Stream time (advanced by produced samples and sleeps) and the read script.
    #[derive(Debug, Default)]
    struct World {
        t_s: f64,
        produced: u64,
        script: VecDeque<Step>,
        reopen_ok: bool,
    }

    type Shared = Arc<Mutex<World>>;

    struct Dev(Shared);

    impl RxDevice for Dev {
        fn read(&mut self, buf: &mut [Complex32], _timeout_us: i64) -> Result<usize, SoapyError> {
            let mut w = self.0.lock().unwrap();
            let err = |code| SoapyError {
                code,
                message: String::new(),
            };
            match w.script.pop_front().unwrap_or(Step::Data(1024)) {
                Step::Data(n) => {
                    let n = n.min(buf.len());
                    for s in buf.iter_mut().take(n) {
                        *s = Complex32::new(0.25, w.produced as f32);
                        w.produced += 1;
                    }
                    w.t_s += n as f64 / RATE;
                    Ok(n)
                }
                Step::Overflow(lost) => {
                    w.produced += lost;
                    w.t_s += lost as f64 / RATE;
                    Err(err(ErrorCode::Overflow))
                }
                Step::Fail => Err(err(ErrorCode::StreamError)),
            }
        }

        fn set_center(&mut self, _center_hz: f64) -> Result<(), SoapyError> {
            Ok(())
        }

        fn time_ns(&self) -> Option<i64> {
            None
        }
    }

    struct FakeClock(Shared);

    impl Clock for FakeClock {
        fn now(&self) -> Duration {
            Duration::from_secs_f64(self.0.lock().unwrap().t_s)
        }

        fn sleep(&self, d: Duration) {
            self.0.lock().unwrap().t_s += d.as_secs_f64();
        }
    }

    fn source(w: &Shared) -> SoapySource {
        let shared = w.clone();
        let mut first = true;
        let opener = Box::new(move |c: &SoapyConfig, center_hz: f64| {
            if !std::mem::take(&mut first) && !shared.lock().unwrap().reopen_ok {
                return Err("open failed: Other: unplugged".to_owned());
            }
            Ok((
                Box::new(Dev(shared.clone())) as Box<dyn RxDevice>,
                DeviceFacts {
                    driver: "fake".into(),
                    hardware: "fake-hw".into(),
                    hardware_info: vec![("serial".into(), "42".into())],
                    sample_rate_hz: c.sample_rate_hz,
                    center_hz,
                    gain_db: Some(10.0),
                    hardware_time: false,
                },
            ))
        });
        let config = SoapyConfig {
            args: "driver=fake".into(),
            center_hz: 433.92e6,
            sample_rate_hz: RATE,
            reopen: ReopenPolicy {
                initial_s: 0.001,
                max_s: 0.001,
                max_attempts: MaxAttempts::Limited(2),
            },
            ..SoapyConfig::default()
        };
        SoapySource::open_with(config, Box::new(FakeClock(w.clone())), opener).unwrap()
    }

    fn args(dir: &std::path::Path) -> RecordArgs {
        RecordArgs {
            device: "driver=fake".into(),
            center_hz: 433.92e6,
            rate_hz: RATE,
            gain_db: Some(10.0),
            duration_s: 0.01,
            out: dir.join("rec"),
            lat: Some(52.0),
            lon: Some(4.35),
            alt: Some(3.0),
        }
    }

    fn opts() -> RecordOptions {
        RecordOptions {
            block_samples: 1024,
            progress: false,
            ..RecordOptions::default()
        }
    }

    #[test]
    fn records_the_duration_with_metadata_and_marks_the_overflow_gap() {
        let dir = tempfile::tempdir().unwrap();
        let w = Shared::default();
        w.lock().unwrap().script.extend([
            Step::Data(1024),
            Step::Data(1024),
            Step::Data(1024),
            Step::Overflow(2000),
        ]);
        let s = imp::record_from(&args(dir.path()), &opts(), source(&w)).unwrap();
        assert_eq!(s.samples, 10_000);
        assert_eq!((s.overflows, s.dropped_samples, s.reopens), (1, 2000, 0));
        let data = std::fs::read(&s.data_path).unwrap();
        assert_eq!(data.len(), 10_000 * 8, "cf32_le: 8 bytes a sample");
        // First sample: 0.25 + 0j, little-endian f32.
        assert_eq!(&data[..8], &[0, 0, 0x80, 0x3e, 0, 0, 0, 0]);
        let meta = SigmfMeta::load(&s.meta_path).unwrap();
        assert_eq!(meta.global.datatype, "cf32_le");
        assert_eq!(meta.global.sample_rate, RATE);
        let hw = meta.global.hw.as_deref().unwrap();
        assert!(
            hw.contains("driver=fake") && hw.contains("serial=42"),
            "{hw}"
        );
        let geo = meta.global.geolocation.unwrap();
        assert_eq!(
            (geo.latitude, geo.longitude, geo.altitude_m),
            (52.0, 4.35, Some(3.0))
        );
        // One capture from the start, a second one after the gap with its own time 2 ms later.
        assert_eq!(meta.captures.len(), 2);
        assert_eq!(meta.captures[1].sample_start, 3072);
        let t = |i: usize| {
            humantime::parse_rfc3339(meta.captures[i].datetime.as_deref().unwrap()).unwrap()
        };
        let dt = t(1).duration_since(t(0)).unwrap();
        assert!(
            (dt.as_secs_f64() - 0.005072).abs() < 2e-6,
            "{dt:?} (3072 samples + 2000 lost at 1 MS/s)"
        );
        assert_eq!(meta.captures[0].frequency, Some(433.92e6));
    }

    #[test]
    fn device_lost_mid_recording_keeps_a_valid_partial_recording() {
        let dir = tempfile::tempdir().unwrap();
        let w = Shared::default();
        w.lock()
            .unwrap()
            .script
            .extend([Step::Data(1024), Step::Data(1024), Step::Fail]);
        let e = imp::record_from(&args(dir.path()), &opts(), source(&w)).unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("after 2048 of 10000 samples"), "{msg}");
        assert!(msg.contains("gave up after 2"), "{msg}");
        let meta = SigmfMeta::load(dir.path().join("rec.sigmf-meta")).unwrap();
        assert_eq!(meta.captures.len(), 1);
        let data = std::fs::metadata(dir.path().join("rec.sigmf-data")).unwrap();
        assert_eq!(data.len(), 2048 * 8);
    }

    #[test]
    fn unwritable_output_leaves_no_files() {
        let dir = tempfile::tempdir().unwrap();
        let w = Shared::default();
        // The output directory does not exist: the dataset cannot be created.
        let a = RecordArgs {
            out: dir.path().join("missing").join("rec"),
            ..args(dir.path())
        };
        let e = imp::record_from(&a, &opts(), source(&w)).unwrap_err();
        assert!(format!("{e:#}").contains("missing"), "{e:#}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
