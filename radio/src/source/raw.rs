//! Raw IQ files without metadata (`.cu8`, `.cs8`, `.cf32`, `.cfile`, ...), streamed.
//!
//! Data flow: [`RawFileSource`] checks the file's length against the format once at open, then
//! reads one block at a time through a buffered reader and decodes it with
//! [`SampleFormat::decode`]; memory use depends on the block size, never on the file size.
//! An optional sub-range `[start, end)` (in samples) is reached by seeking; optional real-time
//! pacing sleeps so that blocks come out no faster than the sample rate, like a live device.
//!
//! Raw files carry no rate or centre, so the CLI asks for `--format --rate --center`;
//! [`ParsedName`] fills what it can from rtl_433-style names such as `g001_433.92M_250k.cu8`.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use num_complex::Complex32;

use super::format::SampleFormat;
use super::{BlockMeta, IqSource, SourceInfo};
use crate::{Error, Result};

/// Read-ahead of the buffered reader. Blocks larger than this bypass the buffer.
const READ_BUFFER_BYTES: usize = 1 << 16;

/// Settings for [`RawFileSource::open_with`]. [`RawOptions::new`] gives the defaults: whole
/// file, no pacing, a partial trailing sample is an error.
#[derive(Debug, Clone, PartialEq)]
pub struct RawOptions {
    /// How samples are stored.
    pub format: SampleFormat,
    /// Sample rate in Hz (`--rate`).
    pub sample_rate_hz: f64,
    /// RF centre in Hz (`--center`); 0 for baseband recordings with no known centre.
    pub center_hz: f64,
    /// First sample to read (file sample index).
    pub start_sample: u64,
    /// One past the last sample to read; `None` reads to the end.
    pub end_sample: Option<u64>,
    /// Deliver blocks no faster than the sample rate.
    pub realtime: bool,
    /// Ignore a trailing partial sample instead of failing with [`Error::TruncatedFile`]
    /// (some published captures were cut mid-sample).
    pub allow_partial_tail: bool,
}

impl RawOptions {
    /// Whole file, no pacing, strict length check.
    pub fn new(format: SampleFormat, sample_rate_hz: f64, center_hz: f64) -> Self {
        Self {
            format,
            sample_rate_hz,
            center_hz,
            start_sample: 0,
            end_sample: None,
            realtime: false,
            allow_partial_tail: false,
        }
    }

    /// Reads only samples `[start, end)` (`end = None`: to the end of the file).
    pub fn range(mut self, start: u64, end: Option<u64>) -> Self {
        self.start_sample = start;
        self.end_sample = end;
        self
    }

    /// Turns real-time pacing on or off.
    pub fn realtime(mut self, on: bool) -> Self {
        self.realtime = on;
        self
    }

    /// Accepts (and skips) a trailing partial sample.
    pub fn allow_partial_tail(mut self, on: bool) -> Self {
        self.allow_partial_tail = on;
        self
    }
}

/// A raw IQ file read block by block.
#[derive(Debug)]
pub struct RawFileSource {
    info: SourceInfo,
    reader: SampleReader,
    range_start: u64,
    remaining: u64,
    next_index: u64,
    dropped_tail_bytes: u64,
    pacer: Option<Pacer>,
}

impl RawFileSource {
    /// Opens the whole file, unpaced, with a strict length check.
    ///
    /// # Errors
    /// See [`RawFileSource::open_with`].
    pub fn open(
        path: impl AsRef<Path>,
        format: SampleFormat,
        sample_rate_hz: f64,
        center_hz: f64,
    ) -> Result<Self> {
        Self::open_with(path, &RawOptions::new(format, sample_rate_hz, center_hz))
    }

    /// Opens a raw file with the given settings.
    ///
    /// # Errors
    /// - [`Error::InvalidField`] for `--rate` (not finite or ≤ 0), `--center` (not finite or
    ///   < 0) or `range` (start after end, end past the file's last sample).
    /// - [`Error::TruncatedFile`] if the length is not a whole number of samples (unless
    ///   `allow_partial_tail`).
    /// - [`Error::Io`] if the file cannot be opened, measured or seeked.
    pub fn open_with(path: impl AsRef<Path>, options: &RawOptions) -> Result<Self> {
        let path = path.as_ref();
        let context = path.display().to_string();
        check_rate(options.sample_rate_hz, &context, "--rate")?;
        check_center(options.center_hz, &context, "--center")?;

        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len_bytes = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let bps = sample_size(options.format);
        let dropped_tail_bytes = len_bytes % bps;
        if dropped_tail_bytes != 0 && !options.allow_partial_tail {
            return Err(Error::TruncatedFile {
                path: path.to_path_buf(),
                format: options.format.name().to_owned(),
                len_bytes,
                bytes_per_sample: options.format.bytes_per_sample(),
            });
        }
        let file_samples = len_bytes / bps;
        let start = options.start_sample;
        let end = options.end_sample.unwrap_or(file_samples);
        if start > end || end > file_samples {
            return Err(Error::InvalidField {
                context,
                field: "range".to_owned(),
                message: format!(
                    "[{start}, {end}) is not inside the file's {file_samples} samples"
                ),
            });
        }

        let mut reader = SampleReader::new(file, path, options.format);
        reader.seek_to_byte(start.saturating_mul(bps))?;
        if dropped_tail_bytes != 0 {
            tracing::warn!(
                path = %path.display(),
                dropped_tail_bytes,
                "ignoring a trailing partial sample"
            );
        }
        let total = end - start;
        Ok(Self {
            info: SourceInfo {
                label: path.display().to_string(),
                sample_rate_hz: options.sample_rate_hz,
                center_hz: options.center_hz,
                total_samples: Some(total),
                datetime: None,
            },
            reader,
            range_start: start,
            remaining: total,
            next_index: 0,
            dropped_tail_bytes,
            pacer: options.realtime.then(|| Pacer::new(options.sample_rate_hz)),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.reader.path
    }

    /// The sample format.
    pub fn format(&self) -> SampleFormat {
        self.reader.format
    }

    /// File sample index of the source's sample 0 (the range start). `BlockMeta::sample_index`
    /// counts from the range start; add this to get a file position (for annotations).
    pub fn range_start(&self) -> u64 {
        self.range_start
    }

    /// Bytes of a trailing partial sample that were ignored (0 for a well-formed file).
    pub fn dropped_tail_bytes(&self) -> u64 {
        self.dropped_tail_bytes
    }
}

impl IqSource for RawFileSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read_block(&mut self, max: usize, out: &mut Vec<Complex32>) -> Result<Option<BlockMeta>> {
        out.clear();
        let n = clamp_count(max, self.remaining);
        if n == 0 {
            return Ok(None);
        }
        self.reader.read_samples(n, out)?;
        let index = self.next_index;
        let count = out.len() as u64;
        self.next_index += count;
        self.remaining -= count;
        if let Some(pacer) = &mut self.pacer {
            pacer.wait_until(self.next_index);
        }
        Ok(Some(BlockMeta {
            sample_index: index,
            sample_rate_hz: self.info.sample_rate_hz,
            center_hz: self.info.center_hz,
            time_s: index as f64 / self.info.sample_rate_hz,
        }))
    }
}

/// Bytes per sample as a file offset unit.
pub(crate) fn sample_size(format: SampleFormat) -> u64 {
    // At most 8: widening, never truncating.
    format.bytes_per_sample() as u64
}

/// `min(max, remaining)` without a lossy cast of either.
pub(crate) fn clamp_count(max: usize, remaining: u64) -> usize {
    usize::try_from(remaining).map_or(max, |r| r.min(max))
}

/// Rejects a sample rate that is not finite and positive.
pub(crate) fn check_rate(rate: f64, context: &str, field: &str) -> Result<()> {
    if rate.is_finite() && rate > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidField {
            context: context.to_owned(),
            field: field.to_owned(),
            message: format!("sample rate must be a finite number > 0 Hz, got {rate}"),
        })
    }
}

/// Rejects a centre frequency that is not finite and non-negative.
pub(crate) fn check_center(center: f64, context: &str, field: &str) -> Result<()> {
    if center.is_finite() && center >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidField {
            context: context.to_owned(),
            field: field.to_owned(),
            message: format!("centre frequency must be a finite number >= 0 Hz, got {center}"),
        })
    }
}

/// Buffered reading and decoding of whole samples from one file.
#[derive(Debug)]
pub(crate) struct SampleReader {
    reader: BufReader<File>,
    pub(crate) path: PathBuf,
    pub(crate) format: SampleFormat,
    bytes: Vec<u8>,
}

impl SampleReader {
    pub(crate) fn new(file: File, path: &Path, format: SampleFormat) -> Self {
        Self {
            reader: BufReader::with_capacity(READ_BUFFER_BYTES, file),
            path: path.to_path_buf(),
            format,
            bytes: Vec::new(),
        }
    }

    /// Positions the reader at an absolute byte offset.
    pub(crate) fn seek_to_byte(&mut self, offset: u64) -> Result<()> {
        self.reader
            .seek(SeekFrom::Start(offset))
            .map(|_| ())
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Reads exactly `n` samples and appends them to `out`.
    pub(crate) fn read_samples(&mut self, n: usize, out: &mut Vec<Complex32>) -> Result<()> {
        let len = n
            .checked_mul(self.format.bytes_per_sample())
            .ok_or_else(|| Error::InvalidField {
                context: self.path.display().to_string(),
                field: "block size".to_owned(),
                message: format!("{n} samples do not fit in memory"),
            })?;
        self.bytes.resize(len, 0);
        self.reader
            .read_exact(&mut self.bytes)
            .map_err(|e| Error::io(&self.path, e))?;
        self.format.decode(&self.bytes, out);
        Ok(())
    }
}

/// Sleeps so that sample `k` is not handed out before `k / rate` seconds after the first read.
#[derive(Debug)]
pub(crate) struct Pacer {
    start: Option<Instant>,
    rate: f64,
}

impl Pacer {
    pub(crate) fn new(rate: f64) -> Self {
        Self { start: None, rate }
    }

    /// Waits until `samples_delivered` samples' worth of time has passed since the first call.
    pub(crate) fn wait_until(&mut self, samples_delivered: u64) {
        let start = *self.start.get_or_insert_with(Instant::now);
        let due = Duration::try_from_secs_f64(samples_delivered as f64 / self.rate)
            .unwrap_or(Duration::ZERO);
        let elapsed = start.elapsed();
        if let Some(wait) = due.checked_sub(elapsed) {
            std::thread::sleep(wait);
        }
    }
}

/// What an rtl_433-style file name says about a recording.
///
/// Rules (after rtl_433's `parse_file_info`, applied to the file name without its directory):
/// numbers `\d+(\.\d+)?` followed by a unit are read as
/// - centre frequency: `M`, `G`, `Hz`, `kHz`, `MHz`, `GHz` (`433.92M`, `937MHz`, `2.4G`);
/// - sample rate: `k`, `sps`, `ksps`, `Msps` (`250k`, `4Msps`);
///
/// units are case-insensitive, the first value of each kind wins, and a second bare-`M` value
/// is the rate (`adsb_1090M_2.4M.cu8`). The format comes from the last extension: `.cu8`;
/// `.cs8`/`.ci8`; `.cs16`/`.ci16` (= `ci16_le`); `.cf32`/`.cfile`/`.fc32` (= `cf32_le`).
/// Ambiguous extensions (`.iq`, `.bin`, `.dat`, `.raw`) give no format.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ParsedName {
    /// Centre frequency in Hz.
    pub center_hz: Option<f64>,
    /// Sample rate in Hz.
    pub sample_rate_hz: Option<f64>,
    /// Sample format.
    pub format: Option<SampleFormat>,
}

impl ParsedName {
    /// Parses what a file name says; never fails (unknown parts are ignored).
    pub fn parse(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut parsed = ParsedName {
            format: path
                .extension()
                .and_then(|e| format_from_extension(&e.to_string_lossy())),
            ..ParsedName::default()
        };
        let mut bare_m_seen = false;
        for (value, unit) in numbers_with_units(&name) {
            match unit.to_ascii_lowercase().as_str() {
                "m" => {
                    if bare_m_seen || parsed.center_hz.is_some() {
                        parsed.sample_rate_hz.get_or_insert(value * 1e6);
                    } else {
                        parsed.center_hz = Some(value * 1e6);
                    }
                    bare_m_seen = true;
                }
                "g" | "ghz" => {
                    parsed.center_hz.get_or_insert(value * 1e9);
                }
                "hz" => {
                    parsed.center_hz.get_or_insert(value);
                }
                "khz" => {
                    parsed.center_hz.get_or_insert(value * 1e3);
                }
                "mhz" => {
                    parsed.center_hz.get_or_insert(value * 1e6);
                }
                "k" | "ksps" => {
                    parsed.sample_rate_hz.get_or_insert(value * 1e3);
                }
                "sps" => {
                    parsed.sample_rate_hz.get_or_insert(value);
                }
                "msps" => {
                    parsed.sample_rate_hz.get_or_insert(value * 1e6);
                }
                _ => {}
            }
        }
        parsed
    }
}

/// The format an extension names unambiguously.
fn format_from_extension(ext: &str) -> Option<SampleFormat> {
    match ext.to_ascii_lowercase().as_str() {
        "cu8" => Some(SampleFormat::Cu8),
        "cs8" | "ci8" => Some(SampleFormat::Ci8),
        "cs16" | "ci16" => Some(SampleFormat::Ci16Le),
        "cf32" | "cfile" | "fc32" => Some(SampleFormat::Cf32Le),
        _ => None,
    }
}

/// Splits a name into `(number, unit)` pairs: a run of digits with an optional `.digits`
/// fraction, followed by the run of ASCII letters right after it (possibly empty).
fn numbers_with_units(name: &str) -> Vec<(f64, String)> {
    let chars: Vec<char> = name.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c.is_ascii_alphabetic() {
            // A word such as `g001` or `fs6625e6`: its digits are not a value.
            while chars.get(i).is_some_and(char::is_ascii_alphanumeric) {
                i += 1;
            }
            continue;
        }
        if !c.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while chars.get(i).is_some_and(char::is_ascii_digit) {
            i += 1;
        }
        if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
            i += 1;
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
        }
        let number: String = chars.get(start..i).unwrap_or_default().iter().collect();
        let unit_start = i;
        while chars.get(i).is_some_and(char::is_ascii_alphabetic) {
            i += 1;
        }
        let unit: String = chars
            .get(unit_start..i)
            .unwrap_or_default()
            .iter()
            .collect();
        // A letter run followed by digits (`4ms2`) is a word, not a unit.
        if chars.get(i).is_some_and(char::is_ascii_digit) && !unit.is_empty() {
            continue;
        }
        if let Ok(value) = number.parse::<f64>() {
            found.push((value, unit));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_skips_words_with_digits() {
        let got = numbers_with_units("g001_433.92M_250k.cu8");
        assert_eq!(got, vec![(433.92, "M".to_owned()), (250.0, "k".to_owned())]);
        assert!(numbers_with_units("fs6625e6_if0e3").is_empty());
    }

    #[test]
    fn clamp_count_never_exceeds_either_bound() {
        assert_eq!(clamp_count(10, 3), 3);
        assert_eq!(clamp_count(10, 30), 10);
        assert_eq!(clamp_count(0, 30), 0);
        assert_eq!(clamp_count(usize::MAX, u64::MAX), usize::MAX);
    }
}
