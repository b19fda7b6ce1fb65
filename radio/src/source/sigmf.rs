//! SigMF 1.2 recordings: read ([`SigmfSource`]), write ([`SigmfWriter`]) and annotate
//! ([`write_annotations`]).
//!
//! Data flow:
//!
//! ```text
//!  NAME.sigmf-meta ──SigmfMeta::load──> SigmfMeta (global, captures, annotations; unknown keys kept)
//!        │                                   │
//!        │                  captures -> segments [sample_start, next start) with core:frequency
//!        v                                   v
//!  NAME.sigmf-data ──SampleReader──> SigmfSource::read_block (a block never spans two captures)
//!
//!  samples ──SigmfWriter::write──> NAME.sigmf-data     SigmfWriter::finish ──> NAME.sigmf-meta
//!  detections ──write_annotations──> merged into NAME.sigmf-meta (ours replaced, others kept)
//! ```
//!
//! Reading validates the core fields we rely on (`core:datatype`, `core:sample_rate`,
//! `core:version`, capture and annotation `core:sample_start`) and keeps every other key,
//! including other tools' extension namespaces, in `extra` maps so that rewriting a file loses
//! nothing.
//!
//! # The `trustband` extension
//!
//! Declared in `core:extensions` as `{"name": "trustband", "version": "1.0.0", "optional": true}`.
//! Annotation keys (all optional): `trustband:energy_dbfs`, `trustband:noise_dbfs`,
//! `trustband:threshold_dbfs`, `trustband:snr_db` (dB values of the energy detector, SPEC §2.2),
//! `trustband:pfa` (target false-alarm probability), `trustband:windows` (sensing windows
//! merged into the annotation). Our annotations also carry `core:generator = "trustband"`; an
//! annotation with that generator or any `trustband:` key is ours and is replaced, not
//! duplicated, when annotations are written again.
//!
//! # Annotating a raw file
//!
//! SigMF wants `NAME.sigmf-meta` beside `NAME.sigmf-data`. For a raw file `FILE` (say
//! `g001_433.92M_250k.cu8`) we write `FILE.sigmf-meta` (`g001_433.92M_250k.cu8.sigmf-meta`)
//! with `core:dataset = "FILE"`: SigMF 1.2's way to describe a non-conforming dataset without
//! copying it. [`SigmfSource`] follows `core:dataset`. Tools that ignore `core:dataset`
//! (inspectrum, IQEngine's folder view) look for `FILE.sigmf-data`: a link
//! `ln -s FILE FILE.sigmf-data` makes the pair open there too.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use num_complex::Complex32;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::format::SampleFormat;
use super::raw::{Pacer, SampleReader, check_center, check_rate, clamp_count, sample_size};
use super::{BlockMeta, IqSource, SourceInfo};
use crate::detector::ChannelDecision;
use crate::{Error, Result};

/// The SigMF version we write.
pub const SIGMF_VERSION: &str = "1.2.0";
/// Our extension namespace (keys `trustband:...`) and `core:generator`/`core:recorder` value.
pub const EXTENSION_NAME: &str = "trustband";
/// Version of the `trustband` extension.
pub const EXTENSION_VERSION: &str = "1.0.0";

/// Extension of SigMF metadata files.
pub const META_EXT: &str = "sigmf-meta";
/// Extension of SigMF dataset files.
pub const DATA_EXT: &str = "sigmf-data";

/// A whole `.sigmf-meta` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SigmfMeta {
    /// The `global` object.
    pub global: Global,
    /// Capture segments, ascending by `core:sample_start`.
    pub captures: Vec<Capture>,
    /// Annotation segments, ascending by `core:sample_start`.
    pub annotations: Vec<Annotation>,
    /// Top-level keys other than the three above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `global` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Global {
    /// `core:datatype`, e.g. `cf32_le`.
    #[serde(rename = "core:datatype")]
    pub datatype: String,
    /// `core:sample_rate` in Hz.
    #[serde(rename = "core:sample_rate")]
    pub sample_rate: f64,
    /// `core:version`, e.g. `1.2.0`.
    #[serde(rename = "core:version")]
    pub version: String,
    /// `core:num_channels` (we read single-channel recordings only).
    #[serde(rename = "core:num_channels", skip_serializing_if = "Option::is_none")]
    pub num_channels: Option<u64>,
    /// `core:dataset`: file name of a non-conforming dataset beside the metadata.
    #[serde(rename = "core:dataset", skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// `core:description`.
    #[serde(rename = "core:description", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `core:author`.
    #[serde(rename = "core:author", skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// `core:hw`: the receiver.
    #[serde(rename = "core:hw", skip_serializing_if = "Option::is_none")]
    pub hw: Option<String>,
    /// `core:recorder`: the recording software.
    #[serde(rename = "core:recorder", skip_serializing_if = "Option::is_none")]
    pub recorder: Option<String>,
    /// `core:geolocation`: a GeoJSON point.
    #[serde(rename = "core:geolocation", skip_serializing_if = "Option::is_none")]
    pub geolocation: Option<GeoPoint>,
    /// `core:extensions`: extension namespaces the document uses.
    #[serde(rename = "core:extensions", skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Extension>,
    /// Every other key (other core fields, other namespaces).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of `core:extensions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// Namespace, e.g. `trustband`.
    pub name: String,
    /// Version of the extension.
    pub version: String,
    /// Whether a reader may ignore it.
    pub optional: bool,
}

/// A capture segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capture {
    /// `core:sample_start`: first sample of the segment.
    #[serde(rename = "core:sample_start")]
    pub sample_start: u64,
    /// `core:frequency`: RF centre in Hz.
    #[serde(rename = "core:frequency", skip_serializing_if = "Option::is_none")]
    pub frequency: Option<f64>,
    /// `core:datetime`: ISO 8601 UTC time of the segment's first sample.
    #[serde(rename = "core:datetime", skip_serializing_if = "Option::is_none")]
    pub datetime: Option<String>,
    /// `core:header_bytes`: bytes before this segment's samples that are not samples.
    #[serde(rename = "core:header_bytes", skip_serializing_if = "Option::is_none")]
    pub header_bytes: Option<u64>,
    /// Every other key.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An annotation segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Annotation {
    /// `core:sample_start`.
    #[serde(rename = "core:sample_start")]
    pub sample_start: u64,
    /// `core:sample_count`.
    #[serde(rename = "core:sample_count", skip_serializing_if = "Option::is_none")]
    pub sample_count: Option<u64>,
    /// `core:freq_lower_edge` in Hz.
    #[serde(
        rename = "core:freq_lower_edge",
        skip_serializing_if = "Option::is_none"
    )]
    pub freq_lower_edge: Option<f64>,
    /// `core:freq_upper_edge` in Hz.
    #[serde(
        rename = "core:freq_upper_edge",
        skip_serializing_if = "Option::is_none"
    )]
    pub freq_upper_edge: Option<f64>,
    /// `core:label`: short text shown by viewers.
    #[serde(rename = "core:label", skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// `core:comment`.
    #[serde(rename = "core:comment", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `core:generator`: the software that made the annotation.
    #[serde(rename = "core:generator", skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// Every other key (`trustband:...`, other namespaces).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Annotation {
    /// Whether trustband wrote this annotation (generator or a `trustband:` key).
    pub fn is_ours(&self) -> bool {
        self.generator.as_deref() == Some(EXTENSION_NAME)
            || self.extra.keys().any(|k| is_our_key(k))
    }
}

fn is_our_key(key: &str) -> bool {
    key.strip_prefix(EXTENSION_NAME)
        .is_some_and(|rest| rest.starts_with(':'))
}

/// A GeoJSON point (`core:geolocation`): longitude and latitude in degrees (WGS 84), optional
/// altitude in metres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "GeoJsonPoint", into = "GeoJsonPoint")]
pub struct GeoPoint {
    /// Degrees east, [-180, 180].
    pub longitude: f64,
    /// Degrees north, [-90, 90].
    pub latitude: f64,
    /// Metres above the WGS 84 ellipsoid.
    pub altitude_m: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct GeoJsonPoint {
    #[serde(rename = "type")]
    kind: String,
    coordinates: Vec<f64>,
}

impl TryFrom<GeoJsonPoint> for GeoPoint {
    type Error = String;

    fn try_from(p: GeoJsonPoint) -> std::result::Result<Self, String> {
        if p.kind != "Point" {
            return Err(format!("GeoJSON type `{}`, expected `Point`", p.kind));
        }
        let (longitude, latitude, altitude_m) = match p.coordinates.as_slice() {
            &[lon, lat] => (lon, lat, None),
            &[lon, lat, alt] => (lon, lat, Some(alt)),
            other => {
                return Err(format!(
                    "{} coordinates, expected [longitude, latitude] or [longitude, latitude, altitude]",
                    other.len()
                ));
            }
        };
        if !(-180.0..=180.0).contains(&longitude) || !(-90.0..=90.0).contains(&latitude) {
            return Err(format!(
                "longitude {longitude} / latitude {latitude} out of range"
            ));
        }
        Ok(GeoPoint {
            longitude,
            latitude,
            altitude_m,
        })
    }
}

impl From<GeoPoint> for GeoJsonPoint {
    fn from(p: GeoPoint) -> Self {
        let mut coordinates = vec![p.longitude, p.latitude];
        coordinates.extend(p.altitude_m);
        GeoJsonPoint {
            kind: "Point".to_owned(),
            coordinates,
        }
    }
}

impl SigmfMeta {
    /// Reads and validates a `.sigmf-meta` file.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::InvalidJson`] (with line and column) if it does not parse;
    /// [`Error::MissingField`] / [`Error::InvalidField`] naming the field (e.g.
    /// `global.core:sample_rate`, `captures[1].core:frequency`) if the content is wrong.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses metadata text; `path` names the file in errors.
    ///
    /// # Errors
    /// As [`SigmfMeta::load`], without I/O.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            // serde_json appends the position, which the error already carries.
            let full = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            Error::InvalidJson {
                path: path.to_path_buf(),
                line: e.line(),
                column: e.column(),
                message: full.strip_suffix(&suffix).unwrap_or(&full).to_owned(),
            }
        })?;
        let mut top = Fields::new(value, String::new(), path)?;
        let global = parse_global(
            top.required("global", "a SigMF document needs a global object")?,
            path,
        )?;
        let captures = top
            .optional::<Vec<Value>>("captures")?
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, v)| parse_capture(v, i, path))
            .collect::<Result<Vec<_>>>()?;
        let annotations = top
            .optional::<Vec<Value>>("annotations")?
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, v)| parse_annotation(v, i, path))
            .collect::<Result<Vec<_>>>()?;
        Ok(SigmfMeta {
            global,
            captures,
            annotations,
            extra: top.into_extra(),
        })
    }

    /// The document as pretty-printed JSON.
    ///
    /// # Errors
    /// [`Error::InvalidField`] if a value cannot be represented in JSON (a non-finite number
    /// in an `extra` map cannot occur after parsing; this guards hand-built documents).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::InvalidField {
            context: "SigMF metadata".to_owned(),
            field: "-".to_owned(),
            message: e.to_string(),
        })
    }

    /// Writes the document to `path` (through a temporary file renamed into place, so a
    /// reader never sees half a file).
    ///
    /// # Errors
    /// [`Error::Io`], or as [`SigmfMeta::to_json`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut text = self.to_json()?;
        text.push('\n');
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// The sample format named by `core:datatype`.
    ///
    /// # Errors
    /// [`Error::UnknownFormat`] naming `meta_path` and `global.core:datatype`.
    pub fn format(&self, meta_path: &Path) -> Result<SampleFormat> {
        SampleFormat::from_sigmf_datatype(&self.global.datatype, meta_path)
    }

    /// Declares the `trustband` extension in `core:extensions` if it is not there yet.
    pub fn declare_extension(&mut self) {
        if !self
            .global
            .extensions
            .iter()
            .any(|e| e.name == EXTENSION_NAME)
        {
            self.global.extensions.push(Extension {
                name: EXTENSION_NAME.to_owned(),
                version: EXTENSION_VERSION.to_owned(),
                optional: true,
            });
        }
    }

    /// Replaces trustband's annotations with `detections` (keeping every other annotation),
    /// declares the extension and keeps the array sorted by `core:sample_start`.
    pub fn merge_detections(&mut self, detections: &[Detection]) {
        self.annotations.retain(|a| !a.is_ours());
        self.annotations
            .extend(detections.iter().map(Detection::to_annotation));
        // Stable: foreign annotations keep their relative order.
        self.annotations.sort_by_key(|a| a.sample_start);
        self.declare_extension();
    }
}

/// Pulls typed fields out of one JSON object, naming them in errors; what is left is `extra`.
struct Fields<'a> {
    map: Map<String, Value>,
    prefix: String,
    file: &'a Path,
}

impl<'a> Fields<'a> {
    fn new(value: Value, prefix: String, file: &'a Path) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Self { map, prefix, file }),
            other => Err(Error::InvalidField {
                context: file.display().to_string(),
                field: if prefix.is_empty() {
                    "(document)".to_owned()
                } else {
                    prefix
                },
                message: format!("expected a JSON object, got {}", json_kind(&other)),
            }),
        }
    }

    fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn optional<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>> {
        let Some(value) = self.map.remove(key) else {
            return Ok(None);
        };
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| Error::InvalidField {
                context: self.file.display().to_string(),
                field: self.name(key),
                message: e.to_string(),
            })
    }

    fn required<T: DeserializeOwned>(&mut self, key: &str, hint: &str) -> Result<T> {
        self.optional(key)?.ok_or_else(|| Error::MissingField {
            context: self.file.display().to_string(),
            field: self.name(key),
            hint: hint.to_owned(),
        })
    }

    fn into_extra(self) -> Map<String, Value> {
        self.map
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_global(value: Value, path: &Path) -> Result<Global> {
    let mut f = Fields::new(value, "global".to_owned(), path)?;
    let datatype: String = f.required("core:datatype", "e.g. \"cf32_le\"")?;
    let sample_rate: f64 = f.required("core:sample_rate", "sample rate in Hz")?;
    let version: String = f.required("core:version", "e.g. \"1.2.0\"")?;
    let context = path.display().to_string();
    check_rate(sample_rate, &context, "global.core:sample_rate")?;
    if version.split('.').next() != Some("1") {
        return Err(Error::InvalidField {
            context,
            field: "global.core:version".to_owned(),
            message: format!("SigMF version `{version}` is not 1.x"),
        });
    }
    Ok(Global {
        datatype,
        sample_rate,
        version,
        num_channels: f.optional("core:num_channels")?,
        dataset: f.optional("core:dataset")?,
        description: f.optional("core:description")?,
        author: f.optional("core:author")?,
        hw: f.optional("core:hw")?,
        recorder: f.optional("core:recorder")?,
        geolocation: f.optional("core:geolocation")?,
        extensions: f.optional("core:extensions")?.unwrap_or_default(),
        extra: f.into_extra(),
    })
}

fn parse_capture(value: Value, index: usize, path: &Path) -> Result<Capture> {
    let mut f = Fields::new(value, format!("captures[{index}]"), path)?;
    let capture = Capture {
        sample_start: f.required("core:sample_start", "first sample of the capture segment")?,
        frequency: f.optional("core:frequency")?,
        datetime: f.optional("core:datetime")?,
        header_bytes: f.optional("core:header_bytes")?,
        extra: Map::new(),
    };
    if let Some(freq) = capture.frequency {
        check_center(
            freq,
            &path.display().to_string(),
            &format!("captures[{index}].core:frequency"),
        )?;
    }
    Ok(Capture {
        extra: f.into_extra(),
        ..capture
    })
}

fn parse_annotation(value: Value, index: usize, path: &Path) -> Result<Annotation> {
    let mut f = Fields::new(value, format!("annotations[{index}]"), path)?;
    Ok(Annotation {
        sample_start: f.required("core:sample_start", "first sample of the annotation")?,
        sample_count: f.optional("core:sample_count")?,
        freq_lower_edge: f.optional("core:freq_lower_edge")?,
        freq_upper_edge: f.optional("core:freq_upper_edge")?,
        label: f.optional("core:label")?,
        comment: f.optional("core:comment")?,
        generator: f.optional("core:generator")?,
        extra: f.into_extra(),
    })
}

/// Where a recording's metadata and (default) dataset live, from any of `NAME`,
/// `NAME.sigmf-meta`, `NAME.sigmf-data`.
///
/// # Errors
/// [`Error::InvalidField`] for a `.sigmf` archive (not supported: extract it with `tar`).
pub fn recording_paths(path: impl AsRef<Path>) -> Result<(PathBuf, PathBuf)> {
    let path = path.as_ref();
    match path.extension().and_then(|e| e.to_str()) {
        Some(META_EXT) => Ok((path.to_path_buf(), path.with_extension(DATA_EXT))),
        Some(DATA_EXT) => Ok((path.with_extension(META_EXT), path.to_path_buf())),
        Some("sigmf") => Err(Error::InvalidField {
            context: path.display().to_string(),
            field: "path".to_owned(),
            message: "SigMF archives (.sigmf) are not read; extract them with `tar xf`".to_owned(),
        }),
        _ => Ok((append_ext(path, META_EXT), append_ext(path, DATA_EXT))),
    }
}

/// `path` + `.` + `ext` (not `with_extension`: `g001_433.92M` must not lose `.92M`).
fn append_ext(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// One capture segment as the reader walks it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    start: u64,
    end: u64,
    center_hz: f64,
    byte_offset: u64,
}

/// A SigMF recording read block by block.
#[derive(Debug)]
pub struct SigmfSource {
    meta: SigmfMeta,
    meta_path: PathBuf,
    data_path: PathBuf,
    info: SourceInfo,
    reader: SampleReader,
    segments: Vec<Segment>,
    segment: usize,
    next_index: u64,
    pacer: Option<Pacer>,
}

impl SigmfSource {
    /// Opens `NAME.sigmf-meta` (or `NAME.sigmf-data`, or `NAME`) and its dataset
    /// (`core:dataset` if given, else `NAME.sigmf-data`).
    ///
    /// # Errors
    /// As [`SigmfMeta::load`]; [`Error::UnknownFormat`] for a `core:datatype` we do not read;
    /// [`Error::MissingData`] if the dataset is absent; [`Error::TruncatedFile`] if it is not
    /// a whole number of samples; [`Error::InvalidField`] for `core:num_channels` > 1 or
    /// captures out of order or past the end of the data.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let (meta_path, default_data) = recording_paths(path)?;
        let meta = SigmfMeta::load(&meta_path)?;
        let format = meta.format(&meta_path)?;
        let context = meta_path.display().to_string();
        if let Some(n) = meta.global.num_channels
            && n != 1
        {
            return Err(Error::InvalidField {
                context,
                field: "global.core:num_channels".to_owned(),
                message: format!("{n} channels; only single-channel recordings are read"),
            });
        }
        let data_path = match &meta.global.dataset {
            Some(name) => meta_path
                .parent()
                .map_or_else(|| PathBuf::from(name), |dir| dir.join(name)),
            None => default_data,
        };
        let file = match File::open(&data_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::MissingData {
                    meta: meta_path,
                    data: data_path,
                });
            }
            Err(e) => return Err(Error::io(&data_path, e)),
        };
        let len_bytes = file.metadata().map_err(|e| Error::io(&data_path, e))?.len();
        let segments = build_segments(&meta, format, len_bytes, &meta_path, &data_path)?;
        let info = SourceInfo {
            label: meta_path.display().to_string(),
            sample_rate_hz: meta.global.sample_rate,
            center_hz: segments.first().map_or(0.0, |s| s.center_hz),
            total_samples: Some(segments.iter().map(|s| s.end - s.start).sum()),
            datetime: meta.captures.iter().find_map(|c| c.datetime.clone()),
        };
        // Samples before the first capture belong to no segment and are not read.
        let first_index = segments.first().map_or(0, |s| s.start);
        let mut reader = SampleReader::new(file, &data_path, format);
        if let Some(first) = segments.first() {
            reader.seek_to_byte(first.byte_offset)?;
        }
        Ok(Self {
            meta,
            meta_path,
            data_path,
            info,
            reader,
            segments,
            segment: 0,
            next_index: first_index,
            pacer: None,
        })
    }

    /// Turns real-time pacing on or off (off by default).
    pub fn realtime(mut self, on: bool) -> Self {
        self.pacer = on.then(|| Pacer::new(self.info.sample_rate_hz));
        self
    }

    /// The parsed metadata.
    pub fn meta(&self) -> &SigmfMeta {
        &self.meta
    }

    /// The `.sigmf-meta` file.
    pub fn meta_path(&self) -> &Path {
        &self.meta_path
    }

    /// The dataset file.
    pub fn data_path(&self) -> &Path {
        &self.data_path
    }

    /// The sample format of the dataset.
    pub fn format(&self) -> SampleFormat {
        self.reader.format
    }
}

/// Capture segments with their byte offsets; checks the data length and the capture order.
fn build_segments(
    meta: &SigmfMeta,
    format: SampleFormat,
    len_bytes: u64,
    meta_path: &Path,
    data_path: &Path,
) -> Result<Vec<Segment>> {
    let bps = sample_size(format);
    let context = meta_path.display().to_string();
    let header_total: u64 = meta
        .captures
        .iter()
        .filter_map(|c| c.header_bytes)
        .fold(0, u64::saturating_add);
    let sample_bytes = len_bytes
        .checked_sub(header_total)
        .ok_or_else(|| Error::InvalidField {
            context: context.clone(),
            field: "captures[].core:header_bytes".to_owned(),
            message: format!("{header_total} header bytes exceed the {len_bytes}-byte dataset"),
        })?;
    if sample_bytes % bps != 0 {
        return Err(Error::TruncatedFile {
            path: data_path.to_path_buf(),
            format: format.name().to_owned(),
            len_bytes,
            bytes_per_sample: format.bytes_per_sample(),
        });
    }
    let total = sample_bytes / bps;
    if meta.captures.is_empty() {
        return Ok(vec![Segment {
            start: 0,
            end: total,
            center_hz: 0.0,
            byte_offset: 0,
        }]);
    }
    let mut previous = 0_u64;
    for (i, capture) in meta.captures.iter().enumerate() {
        if capture.sample_start < previous || capture.sample_start > total {
            return Err(Error::InvalidField {
                context,
                field: format!("captures[{i}].core:sample_start"),
                message: format!(
                    "{} is before the previous capture's start ({previous}) or past the \
                     dataset's {total} samples",
                    capture.sample_start
                ),
            });
        }
        previous = capture.sample_start;
    }
    let mut segments = Vec::with_capacity(meta.captures.len());
    let mut headers_so_far = 0_u64;
    for (i, capture) in meta.captures.iter().enumerate() {
        let end = meta
            .captures
            .get(i + 1)
            .map_or(total, |next| next.sample_start);
        headers_so_far = headers_so_far.saturating_add(capture.header_bytes.unwrap_or(0));
        segments.push(Segment {
            start: capture.sample_start,
            end,
            center_hz: capture.frequency.unwrap_or(0.0),
            byte_offset: headers_so_far.saturating_add(capture.sample_start.saturating_mul(bps)),
        });
    }
    Ok(segments)
}

impl IqSource for SigmfSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn read_block(&mut self, max: usize, out: &mut Vec<Complex32>) -> Result<Option<BlockMeta>> {
        out.clear();
        if max == 0 {
            return Ok(None);
        }
        // Skip finished (or empty) segments; a block never spans two captures.
        let segment = loop {
            let Some(seg) = self.segments.get(self.segment).copied() else {
                return Ok(None);
            };
            if self.next_index < seg.end {
                break seg;
            }
            self.segment += 1;
            if let Some(next) = self.segments.get(self.segment) {
                self.next_index = next.start;
                self.reader.seek_to_byte(next.byte_offset)?;
            }
        };
        let n = clamp_count(max, segment.end - self.next_index);
        self.reader.read_samples(n, out)?;
        let index = self.next_index;
        self.next_index += out.len() as u64;
        if let Some(pacer) = &mut self.pacer {
            pacer.wait_until(self.next_index);
        }
        Ok(Some(BlockMeta {
            sample_index: index,
            sample_rate_hz: self.info.sample_rate_hz,
            center_hz: segment.center_hz,
            time_s: index as f64 / self.info.sample_rate_hz,
        }))
    }
}

/// Settings of a new recording.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingConfig {
    /// Dataset format (any with a SigMF datatype, i.e. not `ci16_le_qi`).
    pub format: SampleFormat,
    /// Sample rate in Hz.
    pub sample_rate_hz: f64,
    /// RF centre of the first capture in Hz.
    pub center_hz: f64,
    /// `core:hw`, e.g. `driver=rtlsdr (R820T)`.
    pub hw: Option<String>,
    /// `core:description`.
    pub description: Option<String>,
    /// `core:author`.
    pub author: Option<String>,
    /// `core:datetime` of the first sample (ISO 8601 UTC, `...Z`); `None` = now.
    pub datetime: Option<String>,
    /// `core:geolocation`.
    pub geolocation: Option<GeoPoint>,
}

impl RecordingConfig {
    /// A recording with no optional fields, starting now.
    pub fn new(format: SampleFormat, sample_rate_hz: f64, center_hz: f64) -> Self {
        Self {
            format,
            sample_rate_hz,
            center_hz,
            hw: None,
            description: None,
            author: None,
            datetime: None,
            geolocation: None,
        }
    }
}

/// The current time as SigMF wants it (`2026-11-22T01:56:50.123456Z`).
pub fn now_datetime() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

fn check_datetime(datetime: &str, context: &str, field: &str) -> Result<()> {
    humantime::parse_rfc3339(datetime)
        .map(|_| ())
        .map_err(|e| Error::InvalidField {
            context: context.to_owned(),
            field: field.to_owned(),
            message: format!("`{datetime}` is not an RFC 3339 UTC time (`...Z`): {e}"),
        })
}

/// Streams samples into `NAME.sigmf-data`; [`SigmfWriter::finish`] writes `NAME.sigmf-meta`.
///
/// Dropping a writer without `finish` leaves the dataset without metadata.
#[derive(Debug)]
pub struct SigmfWriter {
    meta_path: PathBuf,
    data_path: PathBuf,
    data: BufWriter<File>,
    config: RecordingConfig,
    captures: Vec<Capture>,
    samples_written: u64,
    bytes: Vec<u8>,
}

impl SigmfWriter {
    /// Creates (truncates) the dataset for `path` (`NAME`, `NAME.sigmf-meta` or
    /// `NAME.sigmf-data`).
    ///
    /// # Errors
    /// [`Error::InvalidField`] for a format with no SigMF datatype, a bad rate, centre or
    /// datetime; [`Error::Io`] if the dataset cannot be created.
    pub fn create(path: impl AsRef<Path>, mut config: RecordingConfig) -> Result<Self> {
        let (meta_path, data_path) = recording_paths(path)?;
        let context = meta_path.display().to_string();
        if config.format.sigmf_datatype().is_none() {
            return Err(Error::InvalidField {
                context,
                field: "format".to_owned(),
                message: format!("{} has no SigMF datatype", config.format),
            });
        }
        check_rate(config.sample_rate_hz, &context, "core:sample_rate")?;
        check_center(config.center_hz, &context, "core:frequency")?;
        let datetime = match config.datetime.take() {
            Some(dt) => {
                check_datetime(&dt, &context, "core:datetime")?;
                dt
            }
            None => now_datetime(),
        };
        let file = File::create(&data_path).map_err(|e| Error::io(&data_path, e))?;
        Ok(Self {
            captures: vec![Capture {
                sample_start: 0,
                frequency: Some(config.center_hz),
                datetime: Some(datetime.clone()),
                header_bytes: None,
                extra: Map::new(),
            }],
            config: RecordingConfig {
                datetime: Some(datetime),
                ..config
            },
            meta_path,
            data_path,
            data: BufWriter::new(file),
            samples_written: 0,
            bytes: Vec::new(),
        })
    }

    /// Appends samples to the dataset.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn write(&mut self, samples: &[Complex32]) -> Result<()> {
        self.bytes.clear();
        self.config.format.encode(samples, &mut self.bytes);
        self.data
            .write_all(&self.bytes)
            .map_err(|e| Error::io(&self.data_path, e))?;
        self.samples_written += samples.len() as u64;
        Ok(())
    }

    /// Starts a new capture segment at the next sample, at `center_hz` (`datetime` = its
    /// time, or none). Retuning before any sample of the current segment was written
    /// replaces that segment instead of leaving an empty one.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for a bad centre or datetime.
    pub fn retune(&mut self, center_hz: f64, datetime: Option<String>) -> Result<()> {
        let context = self.meta_path.display().to_string();
        check_center(center_hz, &context, "core:frequency")?;
        if let Some(dt) = &datetime {
            check_datetime(dt, &context, "core:datetime")?;
        }
        if self
            .captures
            .last()
            .is_some_and(|c| c.sample_start == self.samples_written)
        {
            self.captures.pop();
        }
        self.captures.push(Capture {
            sample_start: self.samples_written,
            frequency: Some(center_hz),
            datetime,
            header_bytes: None,
            extra: Map::new(),
        });
        Ok(())
    }

    /// Samples written so far.
    pub fn samples_written(&self) -> u64 {
        self.samples_written
    }

    /// The metadata file `finish` will write.
    pub fn meta_path(&self) -> &Path {
        &self.meta_path
    }

    /// The dataset being written.
    pub fn data_path(&self) -> &Path {
        &self.data_path
    }

    /// Flushes the dataset and writes the metadata; returns what was written.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn finish(mut self) -> Result<SigmfMeta> {
        self.data
            .flush()
            .map_err(|e| Error::io(&self.data_path, e))?;
        self.data
            .get_ref()
            .sync_all()
            .map_err(|e| Error::io(&self.data_path, e))?;
        let meta = SigmfMeta {
            global: Global {
                datatype: self
                    .config
                    .format
                    .sigmf_datatype()
                    .unwrap_or_default()
                    .to_owned(),
                sample_rate: self.config.sample_rate_hz,
                version: SIGMF_VERSION.to_owned(),
                num_channels: None,
                dataset: None,
                description: self.config.description.take(),
                author: self.config.author.take(),
                hw: self.config.hw.take(),
                recorder: Some(EXTENSION_NAME.to_owned()),
                geolocation: self.config.geolocation,
                extensions: Vec::new(),
                extra: Map::new(),
            },
            captures: std::mem::take(&mut self.captures),
            annotations: Vec::new(),
            extra: Map::new(),
        };
        meta.save(&self.meta_path)?;
        Ok(meta)
    }
}

/// One occupied stretch to annotate: samples `[sample_start, sample_start + sample_count)`
/// between two frequency edges, with the detector's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// First sample (dataset sample index).
    pub sample_start: u64,
    /// Samples covered.
    pub sample_count: u64,
    /// Lower edge in Hz (RF).
    pub freq_lower_edge_hz: f64,
    /// Upper edge in Hz (RF).
    pub freq_upper_edge_hz: f64,
    /// `core:label`, e.g. the channel name.
    pub label: String,
    /// Test statistic E_c in dBFS (maximum over merged windows).
    pub energy_dbfs: f64,
    /// Noise floor in dBFS (mean over merged windows).
    pub noise_dbfs: f64,
    /// Threshold in dBFS (mean over merged windows).
    pub threshold_dbfs: f64,
    /// SNR estimate in dB (maximum over merged windows).
    pub snr_db: f64,
    /// Target false-alarm probability.
    pub pfa: f64,
    /// Sensing windows merged into this detection.
    pub windows: u64,
}

impl Detection {
    /// The SigMF annotation for this detection. Non-finite figures are left out.
    pub fn to_annotation(&self) -> Annotation {
        let mut extra = Map::new();
        let figures = [
            ("energy_dbfs", self.energy_dbfs),
            ("noise_dbfs", self.noise_dbfs),
            ("threshold_dbfs", self.threshold_dbfs),
            ("snr_db", self.snr_db),
            ("pfa", self.pfa),
        ];
        for (key, value) in figures {
            if let Some(n) = serde_json::Number::from_f64(value) {
                extra.insert(format!("{EXTENSION_NAME}:{key}"), Value::Number(n));
            }
        }
        extra.insert(
            format!("{EXTENSION_NAME}:windows"),
            Value::from(self.windows),
        );
        Annotation {
            sample_start: self.sample_start,
            sample_count: Some(self.sample_count),
            freq_lower_edge: Some(self.freq_lower_edge_hz),
            freq_upper_edge: Some(self.freq_upper_edge_hz),
            label: Some(self.label.clone()),
            comment: Some("busy (energy detector)".to_owned()),
            generator: Some(EXTENSION_NAME.to_owned()),
            extra,
        }
    }
}

/// Turns busy decisions into detections, merging back-to-back busy windows of the same
/// channel into one. `sample_offset` is added to every sample index (the file position of
/// the source's sample 0, e.g. [`super::raw::RawFileSource::range_start`]).
///
/// Decisions must come in stream order (as the detector emits them).
pub fn detections_from_decisions(
    decisions: &[ChannelDecision],
    sample_offset: u64,
) -> Vec<Detection> {
    struct Run {
        detection: Detection,
        noise_sum: f64,
        threshold_sum: f64,
    }
    let mut open: Vec<(String, Run)> = Vec::new();
    let mut done: Vec<Detection> = Vec::new();
    let close = |run: Run| {
        let n = run.detection.windows.max(1) as f64;
        Detection {
            noise_dbfs: run.noise_sum / n,
            threshold_dbfs: run.threshold_sum / n,
            ..run.detection
        }
    };
    for d in decisions.iter().filter(|d| d.busy) {
        let start = d.sample_start.saturating_add(sample_offset);
        let position = open.iter().position(|(name, _)| *name == d.channel);
        if let Some(i) = position
            && let Some((_, run)) = open.get_mut(i)
        {
            let det = &mut run.detection;
            if det.sample_start.saturating_add(det.sample_count) == start
                && det.freq_lower_edge_hz == d.center_hz - d.bandwidth_hz / 2.0
            {
                det.sample_count = det.sample_count.saturating_add(d.sample_count);
                det.energy_dbfs = det.energy_dbfs.max(d.energy_dbfs);
                det.snr_db = det.snr_db.max(d.snr_db);
                det.windows += 1;
                run.noise_sum += d.noise_dbfs;
                run.threshold_sum += d.threshold_dbfs;
                continue;
            }
            let (_, finished) = open.swap_remove(i);
            done.push(close(finished));
        }
        open.push((
            d.channel.clone(),
            Run {
                detection: Detection {
                    sample_start: start,
                    sample_count: d.sample_count,
                    freq_lower_edge_hz: d.center_hz - d.bandwidth_hz / 2.0,
                    freq_upper_edge_hz: d.center_hz + d.bandwidth_hz / 2.0,
                    label: d.channel.clone(),
                    energy_dbfs: d.energy_dbfs,
                    noise_dbfs: d.noise_dbfs,
                    threshold_dbfs: d.threshold_dbfs,
                    snr_db: d.snr_db,
                    pfa: d.pfa,
                    windows: 1,
                },
                noise_sum: d.noise_dbfs,
                threshold_sum: d.threshold_dbfs,
            },
        ));
    }
    done.extend(open.into_iter().map(|(_, run)| close(run)));
    done.sort_by(|a, b| {
        a.sample_start
            .cmp(&b.sample_start)
            .then(a.freq_lower_edge_hz.total_cmp(&b.freq_lower_edge_hz))
    });
    done
}

/// What to annotate.
#[derive(Debug, Clone, PartialEq)]
pub enum AnnotationTarget {
    /// A SigMF recording (`NAME`, `NAME.sigmf-meta` or `NAME.sigmf-data`).
    Recording(PathBuf),
    /// A raw file and what the CLI knows about it.
    Raw {
        /// The raw file.
        path: PathBuf,
        /// Its format (any with a SigMF datatype).
        format: SampleFormat,
        /// Sample rate in Hz.
        sample_rate_hz: f64,
        /// RF centre in Hz.
        center_hz: f64,
    },
}

/// Writes `detections` as annotations and returns the metadata file written.
///
/// For a recording, its `.sigmf-meta` is rewritten with every foreign annotation and key kept
/// and trustband's previous annotations replaced. For a raw file `FILE`, `FILE.sigmf-meta`
/// is written (merged likewise if it exists) with `core:dataset = "FILE"` (see the module
/// docs).
///
/// # Errors
/// As [`SigmfMeta::load`]/[`SigmfMeta::save`]; for a raw file also [`Error::Io`] if it is
/// absent, [`Error::TruncatedFile`] if its length is not whole samples,
/// [`Error::InvalidField`] for a format with no SigMF datatype or a bad rate/centre, or if an
/// existing `FILE.sigmf-meta` describes another dataset.
pub fn write_annotations(target: &AnnotationTarget, detections: &[Detection]) -> Result<PathBuf> {
    match target {
        AnnotationTarget::Recording(path) => {
            let (meta_path, _) = recording_paths(path)?;
            let mut meta = SigmfMeta::load(&meta_path)?;
            meta.merge_detections(detections);
            meta.save(&meta_path)?;
            Ok(meta_path)
        }
        AnnotationTarget::Raw {
            path,
            format,
            sample_rate_hz,
            center_hz,
        } => {
            let meta_path = append_ext(path, META_EXT);
            let context = meta_path.display().to_string();
            let file_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(datatype) = format.sigmf_datatype() else {
                return Err(Error::InvalidField {
                    context,
                    field: "format".to_owned(),
                    message: format!("{format} has no SigMF datatype"),
                });
            };
            check_rate(*sample_rate_hz, &context, "--rate")?;
            check_center(*center_hz, &context, "--center")?;
            let len_bytes = std::fs::metadata(path)
                .map_err(|e| Error::io(path, e))?
                .len();
            if len_bytes % sample_size(*format) != 0 {
                return Err(Error::TruncatedFile {
                    path: path.clone(),
                    format: format.name().to_owned(),
                    len_bytes,
                    bytes_per_sample: format.bytes_per_sample(),
                });
            }
            let mut meta = if meta_path.exists() {
                let meta = SigmfMeta::load(&meta_path)?;
                if meta.global.dataset.as_deref() != Some(file_name.as_str()) {
                    return Err(Error::InvalidField {
                        context,
                        field: "global.core:dataset".to_owned(),
                        message: format!(
                            "describes {:?}, not {file_name:?}; remove it or annotate that file",
                            meta.global.dataset
                        ),
                    });
                }
                meta
            } else {
                SigmfMeta {
                    global: Global {
                        datatype: datatype.to_owned(),
                        sample_rate: *sample_rate_hz,
                        version: SIGMF_VERSION.to_owned(),
                        num_channels: None,
                        dataset: Some(file_name),
                        description: Some(
                            "raw IQ file described and annotated by trustband".to_owned(),
                        ),
                        author: None,
                        hw: None,
                        recorder: None,
                        geolocation: None,
                        extensions: Vec::new(),
                        extra: Map::new(),
                    },
                    captures: vec![Capture {
                        sample_start: 0,
                        frequency: Some(*center_hz),
                        datetime: None,
                        header_bytes: None,
                        extra: Map::new(),
                    }],
                    annotations: Vec::new(),
                    extra: Map::new(),
                }
            };
            meta.merge_detections(detections);
            meta.save(&meta_path)?;
            Ok(meta_path)
        }
    }
}
