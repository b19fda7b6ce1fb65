//! The one error type of the radio crate.

use std::path::PathBuf;

/// Result with the radio crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between a source and a decision.
///
/// Every variant names what it is about (file, field, device) so that a message shown to a
/// user says where to look.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },

    /// A raw file's length is not a whole number of samples of its format.
    #[error(
        "{path}: {len_bytes} bytes is not a whole number of {format} samples ({bytes_per_sample} bytes each)"
    )]
    TruncatedFile {
        /// The file.
        path: PathBuf,
        /// The sample format's name.
        format: String,
        /// The file's length.
        len_bytes: u64,
        /// Bytes in one complex sample.
        bytes_per_sample: usize,
    },

    /// A sample format (flag, SigMF `core:datatype`, file extension) is not one we read.
    #[error("{context}: unknown sample format `{got}` (expected one of {expected})")]
    UnknownFormat {
        /// Where the format was given (file and field, or flag).
        context: String,
        /// What was given.
        got: String,
        /// The accepted names.
        expected: String,
    },

    /// A SigMF metadata file names a data file that is not there.
    #[error("{meta}: data file {data} is missing")]
    MissingData {
        /// The `.sigmf-meta` file.
        meta: PathBuf,
        /// The `.sigmf-data` file it needs.
        data: PathBuf,
    },

    /// A JSON file does not parse.
    #[error("{path}:{line}:{column}: invalid JSON: {message}")]
    InvalidJson {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },

    /// A TOML file does not parse or does not fit its schema.
    #[error("{path}:{line}:{column}: {key}: {message}")]
    InvalidToml {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The key (dotted path) at fault, or `-` where the parser could not say.
        key: String,
        /// The parser's message.
        message: String,
    },

    /// A parameter (flag, metadata field, config key) has a value we cannot use.
    #[error("{context}: field `{field}`: {message}")]
    InvalidField {
        /// Where (file, flag set, device).
        context: String,
        /// The field or flag name.
        field: String,
        /// What is wrong, with the value given.
        message: String,
    },

    /// A parameter that has no default was not given.
    #[error("{context}: field `{field}` is required: {hint}")]
    MissingField {
        /// Where (file, flag set).
        context: String,
        /// The field or flag.
        field: String,
        /// How to give it.
        hint: String,
    },

    /// A band plan name that is neither built in nor a readable file.
    #[error("unknown band plan `{name}` (known: {known})")]
    UnknownBandPlan {
        /// The name given.
        name: String,
        /// The built-in names.
        known: String,
    },

    /// A channel does not lie inside the band the source captures.
    #[error(
        "channel `{channel}` [{low_hz} Hz, {high_hz} Hz] lies outside the captured band [{band_low_hz} Hz, {band_high_hz} Hz]"
    )]
    ChannelOutsideBand {
        /// The channel's name.
        channel: String,
        /// Its lower edge.
        low_hz: f64,
        /// Its upper edge.
        high_hz: f64,
        /// Lower edge of what the source captures (after edge crop).
        band_low_hz: f64,
        /// Upper edge of what the source captures (after edge crop).
        band_high_hz: f64,
    },

    /// A device (SoapySDR) failed: open, configure, stream.
    #[error("device `{args}`: {message}")]
    Device {
        /// The device args string.
        args: String,
        /// What failed.
        message: String,
    },
}

impl Error {
    /// Wraps an I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
