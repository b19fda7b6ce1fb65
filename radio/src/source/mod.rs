//! IQ sources: where complex baseband samples come from.
//!
//! [`IqSource`] is the one trait the detector reads from. Implementations:
//! - [`raw::RawFileSource`]: `cu8`, `ci8`/`cs8`, `ci16_le`, `cf32_le` files, streamed.
//! - [`sigmf::SigmfSource`]: SigMF recordings (`.sigmf-meta` + `.sigmf-data`).
//! - [`synthetic::SyntheticSource`]: noise plus scheduled primary users, with ground truth.
//! - `soapy::SoapySource` (feature `soapy`): any SoapySDR device.

pub mod format;
pub mod raw;
pub mod sigmf;
#[cfg(feature = "soapy")]
pub mod soapy;
pub mod synthetic;

use num_complex::Complex32;

use crate::Result;

/// Describes one block of samples handed out by a source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockMeta {
    /// Index of the block's first sample since the source started (counts discarded samples
    /// too, so gaps after a retune or an overflow show as jumps).
    pub sample_index: u64,
    /// Sample rate of the block in Hz.
    pub sample_rate_hz: f64,
    /// RF centre frequency of the block in Hz (may change between blocks: SigMF captures,
    /// sweeping devices).
    pub center_hz: f64,
    /// Seconds since the start of the stream at the block's first sample.
    pub time_s: f64,
}

/// What a source knows about itself before the first read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceInfo {
    /// Human-readable origin: a path, a device args string, `synthetic(seed=…)`.
    pub label: String,
    /// Sample rate in Hz.
    pub sample_rate_hz: f64,
    /// Initial centre frequency in Hz.
    pub center_hz: f64,
    /// Total samples, where known (files).
    pub total_samples: Option<u64>,
    /// ISO 8601 start time of the recording, where known.
    pub datetime: Option<String>,
}

/// A stream of complex baseband samples.
///
/// Sources fill caller-owned buffers so that steady-state sensing allocates nothing.
pub trait IqSource: Send {
    /// What the source is.
    fn info(&self) -> &SourceInfo;

    /// Replaces `out`'s contents with up to `max` next samples and returns their metadata,
    /// or `None` at the end of the stream.
    ///
    /// # Errors
    /// I/O failures, malformed data, device failures that cannot be recovered.
    fn read_block(&mut self, max: usize, out: &mut Vec<Complex32>) -> Result<Option<BlockMeta>>;
}

impl<S: IqSource + ?Sized> IqSource for Box<S> {
    fn info(&self) -> &SourceInfo {
        (**self).info()
    }

    fn read_block(&mut self, max: usize, out: &mut Vec<Complex32>) -> Result<Option<BlockMeta>> {
        (**self).read_block(max, out)
    }
}
