//! `trustband sense` and `trustband plot`: open a source, run the energy detector over it and
//! write decisions (JSON lines, rtl_power CSV, SigMF annotations) or a waterfall PNG.
//!
//! Data flow: [`SourceArgs`] -> [`open_source`] (raw file, SigMF or device) -> channels from a
//! band plan / `--channel` / the default central 80 % -> [`radio::detector::EnergyDetector`] ->
//! one [`Sink`] per output format.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use num_complex::Complex32;
use radio::detector::{Channel, ChannelDecision, DetectorConfig, EnergyDetector, WindowReport};
use radio::source::IqSource;
use radio::source::format::SampleFormat;
use radio::source::raw::{ParsedName, RawFileSource, RawOptions};
use radio::source::sigmf::{self, SigmfSource};

use crate::bad_input;

/// Where samples come from.
#[derive(Debug, Clone, Default)]
pub struct SourceArgs {
    /// Raw IQ file or `.sigmf-meta`.
    pub input: Option<PathBuf>,
    /// Raw format name.
    pub format: Option<String>,
    /// Sample rate (Hz) of a raw file.
    pub rate: Option<f64>,
    /// Centre frequency (Hz) of a raw file.
    pub center: Option<f64>,
    /// SoapySDR device args (live sensing).
    pub device: Option<String>,
    /// Device gain (dB); AGC if absent.
    pub gain: Option<f64>,
    /// Seconds to sense from a device.
    pub duration: Option<f64>,
    /// Pace a file at its sample rate.
    pub realtime: bool,
}

/// Output of `trustband sense`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// One JSON object per channel per window on stdout.
    Jsonl,
    /// rtl_power-compatible CSV on stdout.
    Csv,
    /// SigMF annotations of busy stretches beside the recording.
    Sigmf,
}

/// Everything `trustband sense` needs.
#[derive(Debug, Clone)]
pub struct SenseArgs {
    /// The source.
    pub source: SourceArgs,
    /// Band plan name or TOML path.
    pub band_plan: Option<String>,
    /// `CENTER_HZ:BW_HZ` channels.
    pub channels: Vec<String>,
    /// Sensing window in ms.
    pub window_ms: f64,
    /// Target false-alarm probability.
    pub pfa: f64,
    /// FFT size (default from the window length).
    pub fft: Option<usize>,
    /// Segment overlap fraction.
    pub overlap: f64,
    /// Output format.
    pub output: OutputFormat,
}

/// An opened source plus what the outputs need to know about where it came from.
pub struct OpenedSource {
    /// The source.
    pub source: Box<dyn IqSource>,
    /// The file behind it, when it is a file (SigMF annotations go beside it).
    pub path: Option<PathBuf>,
    /// The raw format of a raw file (a new `.sigmf-meta` for it must name it).
    pub raw_format: Option<SampleFormat>,
    /// Centres a sweeping device hops through (band plans wider than the device).
    pub sweep_centers: Option<Vec<f64>>,
}

impl std::fmt::Debug for OpenedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSource")
            .field("source", self.source.info())
            .field("path", &self.path)
            .field("raw_format", &self.raw_format)
            .field("sweep_centers", &self.sweep_centers)
            .finish()
    }
}

/// Opens the source `trustband sense`/`plot` read: the file, or the device (sweeping when the
/// requested channels do not fit its band at once).
///
/// # Errors
/// As [`open_source`]; for a device, an unknown band plan or a channel wider than the device.
pub fn open_for_sensing(args: &SenseArgs) -> anyhow::Result<OpenedSource> {
    let Some(device) = &args.source.device else {
        return open_source(&args.source);
    };
    let center_hz = args
        .source
        .center
        .ok_or_else(|| bad_input("--device needs --center HZ"))?;
    let sample_rate_hz = args
        .source
        .rate
        .ok_or_else(|| bad_input("--device needs --rate HZ"))?;
    let sweep = if args.band_plan.is_some() || !args.channels.is_empty() {
        let all = requested_channels(args.band_plan.as_deref(), &args.channels)?;
        let centers =
            radio::detector::plan_sweep(&all, sample_rate_hz, DetectorConfig::default().edge_crop)?;
        (centers.len() > 1).then_some(centers)
    } else {
        None
    };
    open_device(
        device,
        &args.source,
        center_hz,
        sample_rate_hz,
        sweep,
        args.window_ms,
    )
}

/// Opens a file source (raw or SigMF) as the flags describe.
///
/// # Errors
/// Missing or contradictory flags, unreadable or malformed files; `--device` (use
/// [`open_for_sensing`]).
pub fn open_source(args: &SourceArgs) -> anyhow::Result<OpenedSource> {
    if args.device.is_some() {
        return Err(bad_input("a device is opened through `sense` or `record`"));
    }
    let Some(path) = &args.input else {
        return Err(bad_input("give --input PATH (or --device ARGS)"));
    };
    if is_sigmf(path) {
        if args.format.is_some() || args.rate.is_some() || args.center.is_some() {
            tracing::warn!(
                path = %path.display(),
                "--format/--rate/--center are ignored for SigMF input: its metadata says them"
            );
        }
        let source = SigmfSource::open(path)?.realtime(args.realtime);
        return Ok(OpenedSource {
            source: Box::new(source),
            path: Some(path.clone()),
            raw_format: None,
            sweep_centers: None,
        });
    }
    let parsed = ParsedName::parse(path);
    let format = match &args.format {
        Some(name) => name.parse::<SampleFormat>()?,
        None => parsed.format.ok_or_else(|| {
            bad_input(format!(
                "{}: cannot tell the sample format from the name; give --format \
                 (cu8, ci8, cs8, ci16_le, cf32_le)",
                path.display()
            ))
        })?,
    };
    let rate = args.rate.or(parsed.sample_rate_hz).ok_or_else(|| {
        bad_input(format!(
            "{}: cannot tell the sample rate from the name; give --rate HZ",
            path.display()
        ))
    })?;
    let center = args.center.or(parsed.center_hz).ok_or_else(|| {
        bad_input(format!(
            "{}: cannot tell the centre frequency from the name; give --center HZ",
            path.display()
        ))
    })?;
    let source = RawFileSource::open_with(
        path,
        &RawOptions::new(format, rate, center).realtime(args.realtime),
    )?;
    Ok(OpenedSource {
        source: Box::new(source),
        path: Some(path.clone()),
        raw_format: Some(format),
        sweep_centers: None,
    })
}

fn is_sigmf(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("sigmf-meta" | "sigmf-data" | "sigmf")
    )
}

#[cfg(feature = "soapy")]
fn open_device(
    device: &str,
    args: &SourceArgs,
    center_hz: f64,
    sample_rate_hz: f64,
    sweep: Option<Vec<f64>>,
    window_ms: f64,
) -> anyhow::Result<OpenedSource> {
    use radio::source::soapy::{GainMode, SoapyConfig, SoapySource, SweepPlan};
    let config = SoapyConfig {
        args: device.to_owned(),
        center_hz: sweep
            .as_ref()
            .and_then(|c| c.first().copied())
            .unwrap_or(center_hz),
        sample_rate_hz,
        gain: match args.gain {
            Some(db) => GainMode::Manual { db },
            None => GainMode::Agc,
        },
        sweep: sweep.as_ref().map(|centers| SweepPlan {
            centers_hz: centers.clone(),
            // One sensing window per hop, then the next hop.
            dwell_samples: (window_ms / 1e3 * sample_rate_hz).round().max(1.0) as u64,
            ..SweepPlan::default()
        }),
        ..SoapyConfig::default()
    };
    let source = SoapySource::open(config)?;
    Ok(OpenedSource {
        source: Box::new(source),
        path: None,
        raw_format: None,
        sweep_centers: sweep,
    })
}

#[cfg(not(feature = "soapy"))]
fn open_device(
    device: &str,
    _args: &SourceArgs,
    _center_hz: f64,
    _sample_rate_hz: f64,
    _sweep: Option<Vec<f64>>,
    _window_ms: f64,
) -> anyhow::Result<OpenedSource> {
    Err(bad_input(format!(
        "--device {device}: this trustband was built without SoapySDR support; \
         rebuild with `cargo build --release --features soapy` (needs libsoapysdr-dev)"
    )))
}

/// The channels asked for, unfiltered: every channel of the band plan, or the `--channel`
/// list.
///
/// # Errors
/// Unknown band plan, malformed `--channel`.
pub fn requested_channels(
    band_plan: Option<&str>,
    channel_flags: &[String],
) -> anyhow::Result<Vec<Channel>> {
    match band_plan {
        Some(name) => Ok(radio::bandplan::resolve(name)?.channels()),
        None => channel_flags
            .iter()
            .enumerate()
            .map(|(i, flag)| parse_channel(i, flag))
            .collect(),
    }
}

/// Resolves the channels to decide on: band plan (its channels inside the usable band, i.e.
/// the captured band less `edge_crop` of it at each edge), `--channel` list, or the central
/// 80 %.
///
/// # Errors
/// Unknown band plan, one with no channel in the usable band, malformed `--channel`.
pub fn resolve_channels(
    band_plan: Option<&str>,
    channel_flags: &[String],
    sample_rate_hz: f64,
    center_hz: f64,
    edge_crop: f64,
) -> anyhow::Result<Vec<Channel>> {
    let half = sample_rate_hz * (0.5 - edge_crop.clamp(0.0, 0.5));
    let (low, high) = (center_hz - half, center_hz + half);
    if let Some(name) = band_plan {
        let plan = radio::bandplan::resolve(name)?;
        let channels = plan.channels_within(low, high);
        if channels.is_empty() {
            return Err(bad_input(format!(
                "band plan `{}`: no channel lies inside the usable band {:.6}-{:.6} MHz",
                plan.name,
                low / 1e6,
                high / 1e6
            )));
        }
        return Ok(channels);
    }
    if channel_flags.is_empty() {
        return Ok(vec![EnergyDetector::default_channel(
            sample_rate_hz,
            center_hz,
        )]);
    }
    requested_channels(None, channel_flags)
}

fn parse_channel(index: usize, flag: &str) -> anyhow::Result<Channel> {
    let bad = |why: &str| {
        bad_input(format!(
            "--channel `{flag}`: {why} (expected CENTER_HZ:BW_HZ)"
        ))
    };
    let (center, bw) = flag.split_once(':').ok_or_else(|| bad("no `:`"))?;
    let center_hz: f64 = center
        .trim()
        .parse()
        .map_err(|_| bad("centre is not a number"))?;
    let bandwidth_hz: f64 = bw
        .trim()
        .parse()
        .map_err(|_| bad("bandwidth is not a number"))?;
    if !center_hz.is_finite() || !bandwidth_hz.is_finite() || bandwidth_hz <= 0.0 {
        return Err(bad("centre must be finite and bandwidth > 0"));
    }
    Ok(Channel {
        name: format!("ch{index}"),
        center_hz,
        bandwidth_hz,
    })
}

/// FFT size for a window: the flag, or the largest power of two up to 1024 that fits at least
/// two segments in the window (short windows at low rates need small FFTs).
pub fn fft_size_for(flag: Option<usize>, window_samples: usize) -> usize {
    if let Some(n) = flag {
        return n;
    }
    let mut n = 1024usize;
    while n > 16 && n * 2 > window_samples {
        n /= 2;
    }
    n
}

/// The detector for a source's first block parameters.
///
/// # Errors
/// Invalid flags (window, P_fa, FFT, overlap) or channels, as [`EnergyDetector::new`] reports.
pub fn build_detector(
    args: &SenseArgs,
    sample_rate_hz: f64,
    center_hz: f64,
    sweep_centers: Option<&[f64]>,
) -> anyhow::Result<EnergyDetector> {
    if !(args.window_ms.is_finite() && args.window_ms > 0.0) {
        return Err(bad_input(format!(
            "--window-ms {}: must be a positive number of milliseconds",
            args.window_ms
        )));
    }
    let window_s = args.window_ms / 1e3;
    // Saturating float-to-int cast is fine: a window this long is rejected below anyway.
    let window_samples = (window_s * sample_rate_hz).round() as usize;
    let config = DetectorConfig {
        fft_size: fft_size_for(args.fft, window_samples),
        overlap: args.overlap,
        window_s,
        pfa: args.pfa,
        ..DetectorConfig::default()
    };
    if let Some(centers) = sweep_centers {
        let channels = requested_channels(args.band_plan.as_deref(), &args.channels)?;
        return Ok(EnergyDetector::new_sweep(
            config,
            sample_rate_hz,
            centers,
            channels,
        )?);
    }
    let channels = resolve_channels(
        args.band_plan.as_deref(),
        &args.channels,
        sample_rate_hz,
        center_hz,
        config.edge_crop,
    )?;
    Ok(EnergyDetector::new(
        config,
        sample_rate_hz,
        center_hz,
        channels,
    )?)
}

/// Receives the detector's output window by window.
trait Sink {
    fn window(&mut self, report: &WindowReport) -> anyhow::Result<()>;
    fn finish(&mut self) -> anyhow::Result<()>;
}

/// `trustband sense`.
///
/// # Errors
/// Bad input (exit code 2) or a failure while reading or writing.
pub fn sense(args: &SenseArgs) -> anyhow::Result<()> {
    let opened = open_for_sensing(args)?;
    let info = opened.source.info().clone();
    let mut sink: Box<dyn Sink> = match args.output {
        OutputFormat::Jsonl => Box::new(JsonlSink::new(io::stdout().lock())),
        OutputFormat::Csv => Box::new(CsvSink::new(io::stdout().lock(), info.datetime.as_deref())?),
        OutputFormat::Sigmf => {
            let path = opened.path.clone().ok_or_else(|| {
                bad_input("--output sigmf needs a file --input (annotations are written beside it)")
            })?;
            Box::new(SigmfSink::new(path, opened.raw_format, &info))
        }
    };
    drive(opened, args, |report| sink.window(report))?;
    sink.finish()
}

/// `trustband plot`: senses like `sense` and draws the waterfall with detections.
///
/// # Errors
/// As [`sense`], plus failures writing the PNG.
pub fn plot(args: &SenseArgs, out: &Path, width: u32, height: u32) -> anyhow::Result<()> {
    let opened = open_for_sensing(args)?;
    let info = opened.source.info().clone();
    let mut waterfall: Option<crate::plot::Waterfall> = None;
    let channels = drive(opened, args, |report| {
        let wf = waterfall.get_or_insert_with(|| {
            crate::plot::Waterfall::new(report.center_hz, report.sample_rate_hz)
        });
        let busy: Vec<bool> = report.decisions.iter().map(|d| d.busy).collect();
        wf.push_row(&report.psd, &busy, report.t_start_s)
    })?;
    let waterfall = waterfall.ok_or_else(|| {
        bad_input(format!(
            "{}: too short for one sensing window of {} ms",
            info.label, args.window_ms
        ))
    })?;
    let options = crate::plot::RenderOptions {
        width,
        height,
        title: format!("{}  (P_fa {})", info.label, args.pfa),
        channels,
        ..crate::plot::RenderOptions::default()
    };
    waterfall.render(out, &options)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

/// Reads the source to its end through the detector, handing each window to `on_window`;
/// returns the channels decided on.
fn drive(
    mut opened: OpenedSource,
    args: &SenseArgs,
    mut on_window: impl FnMut(&WindowReport) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<Channel>> {
    let info = opened.source.info().clone();
    let mut detector = build_detector(
        args,
        info.sample_rate_hz,
        info.center_hz,
        opened.sweep_centers.as_deref(),
    )?;
    let channels = detector.channels().to_vec();
    let progress = progress_bar(&info);
    let limit_samples = args
        .source
        .duration
        .map(|s| (s * info.sample_rate_hz).max(0.0) as u64);
    let mut buf: Vec<Complex32> = Vec::with_capacity(BLOCK_SAMPLES);
    let mut reports = Vec::new();
    let mut seen: u64 = 0;
    let live = args.source.device.is_some();
    while let Some(meta) = opened.source.read_block(BLOCK_SAMPLES, &mut buf)? {
        if !live
            && let Some(k) = buf
                .iter()
                .position(|s| !(s.re.is_finite() && s.im.is_finite()))
        {
            return Err(bad_input(format!(
                "{}: sample {} is not a finite number ({})",
                info.label,
                meta.sample_index + k as u64,
                buf.get(k).copied().unwrap_or_default()
            )));
        }
        detector.process(&meta, &buf, &mut reports)?;
        for report in reports.drain(..) {
            if report.invalid_input && !live {
                // Finite samples whose power overflows: the measurement is meaningless.
                return Err(bad_input(format!(
                    "{}: the window starting at sample {} overflows (sample power is not finite)",
                    info.label, report.sample_start
                )));
            }
            // Live, the window is reported busy and flagged `invalid_input` (fail closed).
            on_window(&report)?;
        }
        seen = meta.sample_index + buf.len() as u64;
        progress.set_position(seen);
        if limit_samples.is_some_and(|limit| seen >= limit) {
            break;
        }
    }
    progress.finish_and_clear();
    tracing::info!(samples = seen, source = %info.label, "sensing finished");
    Ok(channels)
}

/// Samples read per block: large enough to amortise I/O, small enough to stay in cache.
const BLOCK_SAMPLES: usize = 1 << 16;

/// Shows a progress bar on stderr for files longer than a few seconds, when stderr is a
/// terminal; hidden otherwise.
fn progress_bar(info: &radio::source::SourceInfo) -> ProgressBar {
    const SHOW_FROM_SECONDS: f64 = 5.0;
    let total = info.total_samples.unwrap_or(0);
    let long = total as f64 / info.sample_rate_hz >= SHOW_FROM_SECONDS;
    if !(long && io::stderr().is_terminal()) {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} {msg} [{bar:40}] {percent}% {human_pos}/{human_len} samples, eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(info.label.clone());
    bar
}

/// JSON lines: one [`ChannelDecision`] per line.
struct JsonlSink<W: Write> {
    out: io::BufWriter<W>,
}

impl<W: Write> JsonlSink<W> {
    fn new(out: W) -> Self {
        Self {
            out: io::BufWriter::new(out),
        }
    }
}

impl<W: Write> Sink for JsonlSink<W> {
    fn window(&mut self, report: &WindowReport) -> anyhow::Result<()> {
        for decision in &report.decisions {
            serde_json::to_writer(&mut self.out, decision)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.out.flush().context("writing stdout")
    }
}

/// rtl_power-compatible CSV: `date, time, Hz low, Hz high, Hz step, samples, dB, dB, ...`, one
/// row per sensing window over the band the detector keeps (edges cropped).
struct CsvSink<W: Write> {
    out: io::BufWriter<W>,
    start: jiff::Timestamp,
}

impl<W: Write> CsvSink<W> {
    fn new(out: W, datetime: Option<&str>) -> anyhow::Result<Self> {
        // A recording's own start time when it has one, so rows carry real dates; otherwise now.
        let start = match datetime {
            Some(text) => text.parse::<jiff::Timestamp>().unwrap_or_else(|err| {
                tracing::warn!(%err, datetime = text, "unparsable core:datetime, using now");
                jiff::Timestamp::now()
            }),
            None => jiff::Timestamp::now(),
        };
        Ok(Self {
            out: io::BufWriter::new(out),
            start,
        })
    }
}

impl<W: Write> Sink for CsvSink<W> {
    fn window(&mut self, report: &WindowReport) -> anyhow::Result<()> {
        let nanos = (report.t_start_s * 1e9).round() as i64;
        let at = self
            .start
            .checked_add(jiff::SignedDuration::from_nanos(nanos))
            .unwrap_or(self.start);
        let civil = at.to_zoned(jiff::tz::TimeZone::UTC);
        let bins = report.psd.len().max(1);
        let step = report.sample_rate_hz / bins as f64;
        let (first, last) = report.valid_bins();
        let low = report.center_hz - report.sample_rate_hz / 2.0 + first as f64 * step;
        let high = report.center_hz - report.sample_rate_hz / 2.0 + (last + 1) as f64 * step;
        write!(
            self.out,
            "{}, {}, {:.0}, {:.0}, {:.2}, {}",
            civil.strftime("%Y-%m-%d"),
            civil.strftime("%H:%M:%S"),
            low,
            high,
            step,
            report.sample_count
        )?;
        for p in report.psd.get(first..=last).unwrap_or_default() {
            write!(self.out, ", {:.2}", power_db(*p))?;
        }
        self.out.write_all(b"\n")?;
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.out.flush().context("writing stdout")
    }
}

fn power_db(p: f32) -> f64 {
    10.0 * f64::from(p.max(1e-30)).log10()
}

/// SigMF annotations: busy stretches per channel, written beside the recording at the end.
struct SigmfSink {
    target: sigmf::AnnotationTarget,
    /// Busy decisions only (idle ones never become annotations), in stream order.
    busy: Vec<ChannelDecision>,
}

impl SigmfSink {
    fn new(
        path: PathBuf,
        raw_format: Option<SampleFormat>,
        info: &radio::source::SourceInfo,
    ) -> Self {
        let target = match raw_format {
            Some(format) => sigmf::AnnotationTarget::Raw {
                path,
                format,
                sample_rate_hz: info.sample_rate_hz,
                center_hz: info.center_hz,
            },
            None => sigmf::AnnotationTarget::Recording(path),
        };
        Self {
            target,
            busy: Vec::new(),
        }
    }
}

impl Sink for SigmfSink {
    fn window(&mut self, report: &WindowReport) -> anyhow::Result<()> {
        self.busy
            .extend(report.decisions.iter().filter(|d| d.busy).cloned());
        Ok(())
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        let detections = sigmf::detections_from_decisions(&self.busy, 0);
        let written = sigmf::write_annotations(&self.target, &detections)?;
        eprintln!(
            "wrote {} busy stretches to {}",
            detections.len(),
            written.display()
        );
        Ok(())
    }
}
