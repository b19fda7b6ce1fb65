//! Band plans: named sets of channels loaded from TOML (`testbed-configs/bands/`).
//!
//! Data flow: a name or a path goes to [`resolve`], which returns a built-in plan (embedded at
//! compile time from `testbed-configs/bands/*.toml`) or loads the file; the plan's ranges are
//! expanded into explicit channels and validated; [`BandPlan::channels_within`] keeps the
//! channels a source actually captures and hands them to the detector as
//! [`Channel`]s.
//!
//! File format (unknown keys are errors; every error names file, line, column and key):
//!
//! ```toml
//! name = "gsm900-dl"
//! description = "P-GSM 900 downlink"
//!
//! [[channel]]                 # one explicit channel
//! name = "BCCH"
//! center_hz = 935_400_000.0
//! bandwidth_hz = 200_000.0
//!
//! [[range]]                   # `count` evenly spaced channels
//! name_prefix = "ARFCN "      # names: prefix + number
//! first_number = 1            # number of the first channel (default 0)
//! number_step = 1             # number increment (default 1)
//! first_center_hz = 935_200_000.0
//! spacing_hz = 200_000.0
//! count = 124
//! bandwidth_hz = 200_000.0
//! ```
//!
//! Explicit channels come first, then ranges in file order.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::detector::Channel;
use crate::{Error, Result};

/// Most channels a single `[[range]]` may expand to (guards against a typo in `count`).
pub const MAX_RANGE_COUNT: u32 = 100_000;

/// Built-in plans: name and TOML text.
const BUILTIN: [(&str, &str); 6] = [
    (
        "ism-433",
        include_str!("../../testbed-configs/bands/ism-433.toml"),
    ),
    (
        "adsb-1090",
        include_str!("../../testbed-configs/bands/adsb-1090.toml"),
    ),
    (
        "gsm900-dl",
        include_str!("../../testbed-configs/bands/gsm900-dl.toml"),
    ),
    (
        "lte-b20-dl",
        include_str!("../../testbed-configs/bands/lte-b20-dl.toml"),
    ),
    (
        "uhf-tv",
        include_str!("../../testbed-configs/bands/uhf-tv.toml"),
    ),
    (
        "cbrs",
        include_str!("../../testbed-configs/bands/cbrs.toml"),
    ),
];

/// Names of the built-in plans.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
}

/// A named set of channels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandPlan {
    /// Short name (`gsm900-dl`).
    pub name: String,
    /// One line for humans.
    pub description: String,
    /// Every channel, ranges expanded.
    pub channels: Vec<ChannelSpec>,
}

/// One channel of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// Unique name within the plan.
    pub name: String,
    /// RF centre in Hz.
    pub center_hz: f64,
    /// Bandwidth in Hz (> 0).
    pub bandwidth_hz: f64,
}

/// `count` channels every `spacing_hz` from `first_center_hz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelRange {
    /// Channel names are this prefix followed by the channel number.
    pub name_prefix: String,
    /// Number of the first channel.
    #[serde(default)]
    pub first_number: i64,
    /// Increment of the number from one channel to the next.
    #[serde(default = "one")]
    pub number_step: i64,
    /// Centre of the first channel in Hz.
    pub first_center_hz: f64,
    /// Centre-to-centre spacing in Hz (> 0).
    pub spacing_hz: f64,
    /// Number of channels (1..=[`MAX_RANGE_COUNT`]).
    pub count: u32,
    /// Bandwidth of each channel in Hz (> 0).
    pub bandwidth_hz: f64,
}

fn one() -> i64 {
    1
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    channel: Vec<Spanned<ChannelSpec>>,
    #[serde(default)]
    range: Vec<Spanned<ChannelRange>>,
}

impl BandPlan {
    /// Loads and validates a plan file.
    ///
    /// # Errors
    /// [`Error::Io`] if unreadable; [`Error::InvalidToml`] (file, line, column, key) for a
    /// syntax error, an unknown or missing key, a wrong type, or a failed check (bandwidth or
    /// spacing ≤ 0, duplicate names, no channels).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses plan text; `origin` names the file in errors.
    ///
    /// # Errors
    /// As [`BandPlan::load`], without I/O.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let file: PlanFile = toml::from_str(text).map_err(|e| toml_error(text, origin, &e))?;
        let invalid = |span: Range<usize>, key: String, message: String| {
            let (line, column) = crate::toml_location::line_column(text, span.start);
            Error::InvalidToml {
                path: origin.to_path_buf(),
                line,
                column,
                key,
                message,
            }
        };

        let mut channels: Vec<(ChannelSpec, Range<usize>, String)> = Vec::new();
        for (i, spanned) in file.channel.iter().enumerate() {
            let key = format!("channel[{i}]");
            channels.push((spanned.get_ref().clone(), spanned.span(), key));
        }
        for (i, spanned) in file.range.iter().enumerate() {
            let key = format!("range[{i}]");
            let range = spanned.get_ref();
            let span = spanned.span();
            if !(range.spacing_hz.is_finite() && range.spacing_hz > 0.0) {
                return Err(invalid(
                    span,
                    format!("{key}.spacing_hz"),
                    format!("must be a finite number > 0, got {}", range.spacing_hz),
                ));
            }
            if range.count == 0 || range.count > MAX_RANGE_COUNT {
                return Err(invalid(
                    span,
                    format!("{key}.count"),
                    format!("must be 1..={MAX_RANGE_COUNT}, got {}", range.count),
                ));
            }
            for k in 0..range.count {
                let number = range
                    .first_number
                    .saturating_add(range.number_step.saturating_mul(i64::from(k)));
                channels.push((
                    ChannelSpec {
                        name: format!("{}{number}", range.name_prefix),
                        center_hz: range.first_center_hz + f64::from(k) * range.spacing_hz,
                        bandwidth_hz: range.bandwidth_hz,
                    },
                    span.clone(),
                    key.clone(),
                ));
            }
        }

        if channels.is_empty() {
            return Err(invalid(
                0..0,
                "channel".to_owned(),
                "the plan has no [[channel]] or [[range]]".to_owned(),
            ));
        }
        let mut seen = HashSet::new();
        for (ch, span, key) in &channels {
            if ch.name.trim().is_empty() {
                return Err(invalid(
                    span.clone(),
                    format!("{key}.name"),
                    "empty name".to_owned(),
                ));
            }
            if !(ch.bandwidth_hz.is_finite() && ch.bandwidth_hz > 0.0) {
                return Err(invalid(
                    span.clone(),
                    format!("{key}.bandwidth_hz"),
                    format!("must be a finite number > 0, got {}", ch.bandwidth_hz),
                ));
            }
            let center_key = if key.starts_with("range") {
                "first_center_hz"
            } else {
                "center_hz"
            };
            if !(ch.center_hz.is_finite() && ch.center_hz - ch.bandwidth_hz / 2.0 >= 0.0) {
                return Err(invalid(
                    span.clone(),
                    format!("{key}.{center_key}"),
                    format!(
                        "channel `{}` at {} Hz with {} Hz bandwidth reaches below 0 Hz",
                        ch.name, ch.center_hz, ch.bandwidth_hz
                    ),
                ));
            }
            if !seen.insert(ch.name.clone()) {
                return Err(invalid(
                    span.clone(),
                    format!("{key}.name"),
                    format!("duplicate channel name `{}`", ch.name),
                ));
            }
        }

        Ok(BandPlan {
            name: file.name,
            description: file.description,
            channels: channels.into_iter().map(|(ch, _, _)| ch).collect(),
        })
    }

    /// Every channel as the detector wants it.
    pub fn channels(&self) -> Vec<Channel> {
        self.channels.iter().map(to_channel).collect()
    }

    /// The channels lying wholly inside `[low_hz, high_hz]` (what a source captures, after any
    /// edge crop).
    pub fn channels_within(&self, low_hz: f64, high_hz: f64) -> Vec<Channel> {
        self.channels
            .iter()
            .filter(|c| {
                c.center_hz - c.bandwidth_hz / 2.0 >= low_hz
                    && c.center_hz + c.bandwidth_hz / 2.0 <= high_hz
            })
            .map(to_channel)
            .collect()
    }

    /// Lowest and highest edge over all channels.
    pub fn span_hz(&self) -> (f64, f64) {
        self.channels
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
                (
                    lo.min(c.center_hz - c.bandwidth_hz / 2.0),
                    hi.max(c.center_hz + c.bandwidth_hz / 2.0),
                )
            })
    }
}

fn to_channel(c: &ChannelSpec) -> Channel {
    Channel {
        name: c.name.clone(),
        center_hz: c.center_hz,
        bandwidth_hz: c.bandwidth_hz,
    }
}

/// A built-in plan by name.
///
/// # Errors
/// [`Error::UnknownBandPlan`] listing the built-in names; [`Error::InvalidToml`] if an
/// embedded plan is broken (caught by the tests).
pub fn builtin(name: &str) -> Result<BandPlan> {
    let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name) else {
        return Err(unknown(name));
    };
    BandPlan::parse(text, &PathBuf::from(format!("<builtin {name}>")))
}

/// A built-in plan if `name_or_path` is a built-in name, else the plan file at that path.
///
/// # Errors
/// [`Error::UnknownBandPlan`] if it is neither; otherwise as [`BandPlan::load`].
pub fn resolve(name_or_path: &str) -> Result<BandPlan> {
    if BUILTIN.iter().any(|(n, _)| *n == name_or_path) {
        return builtin(name_or_path);
    }
    let path = Path::new(name_or_path);
    if path.is_file() {
        return BandPlan::load(path);
    }
    Err(unknown(name_or_path))
}

fn unknown(name: &str) -> Error {
    Error::UnknownBandPlan {
        name: name.to_owned(),
        known: builtin_names().join(", "),
    }
}

/// Turns a toml error into [`Error::InvalidToml`] with line, column and the dotted key.
fn toml_error(text: &str, origin: &Path, err: &toml::de::Error) -> Error {
    let offset = err.span().map_or(0, |s| s.start);
    let (line, column) = crate::toml_location::line_column(text, offset);
    let message = err.message().trim().to_owned();
    Error::InvalidToml {
        path: origin.to_path_buf(),
        line,
        column,
        key: crate::toml_location::error_key(text, offset, &message),
        message,
    }
}
