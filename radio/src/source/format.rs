//! Sample formats of IQ files: names, sizes, SigMF datatypes, and conversion between bytes and
//! [`Complex32`].
//!
//! Data flow: a file source reads raw bytes, [`SampleFormat::decode`] turns whole samples into
//! complex f32 (full scale = ±1); a writer does the reverse with [`SampleFormat::encode`].
//!
//! Scaling (SPEC §2.1): `cu8` x = (v − 127.5)/128, `ci8` x = v/128, `ci16_le` x = v/32768,
//! `cf32_le` as stored. `ci16_le_qi` is `ci16_le` with each pair stored Q first, then I (some
//! dump1090_rs test captures); it has no SigMF datatype.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use num_complex::Complex32;

use crate::{Error, Result};

/// How one complex sample is stored in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleFormat {
    /// Interleaved unsigned 8-bit I, Q (rtl_sdr).
    Cu8,
    /// Interleaved signed 8-bit I, Q (hackrf_transfer); also called `cs8`.
    Ci8,
    /// Interleaved little-endian signed 16-bit I, Q.
    Ci16Le,
    /// Little-endian signed 16-bit pairs stored Q first, then I.
    Ci16LeQi,
    /// Interleaved little-endian f32 I, Q (GNU Radio `.cfile`, gqrx, srsRAN).
    Cf32Le,
}

/// The names [`SampleFormat::from_str`] accepts, for error messages and `--help`.
pub const ACCEPTED_NAMES: &str = "cu8, ci8, cs8, ci16_le, ci16_le_qi, cf32_le";

/// The SigMF `core:datatype` values [`SampleFormat::from_sigmf_datatype`] accepts.
pub const ACCEPTED_SIGMF_DATATYPES: &str = "cu8, ci8, ci16_le, cf32_le";

/// `(v - 127.5) / 128` for every byte value: decoding `cu8` is one lookup per component.
static CU8_TABLE: [f32; 256] = cu8_table();

const fn cu8_table() -> [f32; 256] {
    let mut table = [0.0_f32; 256];
    let mut v = 0;
    while v < 256 {
        table[v] = (v as f32 - 127.5) / 128.0;
        v += 1;
    }
    table
}

impl SampleFormat {
    /// Every format, in the order of [`ACCEPTED_NAMES`].
    pub const ALL: [SampleFormat; 5] = [
        SampleFormat::Cu8,
        SampleFormat::Ci8,
        SampleFormat::Ci16Le,
        SampleFormat::Ci16LeQi,
        SampleFormat::Cf32Le,
    ];

    /// The canonical CLI name (`cu8`, `ci8`, `ci16_le`, `ci16_le_qi`, `cf32_le`).
    pub fn name(self) -> &'static str {
        match self {
            SampleFormat::Cu8 => "cu8",
            SampleFormat::Ci8 => "ci8",
            SampleFormat::Ci16Le => "ci16_le",
            SampleFormat::Ci16LeQi => "ci16_le_qi",
            SampleFormat::Cf32Le => "cf32_le",
        }
    }

    /// Bytes in one complex sample (I and Q together).
    pub fn bytes_per_sample(self) -> usize {
        match self {
            SampleFormat::Cu8 | SampleFormat::Ci8 => 2,
            SampleFormat::Ci16Le | SampleFormat::Ci16LeQi => 4,
            SampleFormat::Cf32Le => 8,
        }
    }

    /// Parses a format name; `context` says where it came from (a flag, a file) for the error.
    ///
    /// # Errors
    /// [`Error::UnknownFormat`] listing [`ACCEPTED_NAMES`].
    pub fn parse_in(name: &str, context: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "cu8" => Ok(SampleFormat::Cu8),
            "ci8" | "cs8" => Ok(SampleFormat::Ci8),
            "ci16_le" => Ok(SampleFormat::Ci16Le),
            "ci16_le_qi" => Ok(SampleFormat::Ci16LeQi),
            "cf32_le" => Ok(SampleFormat::Cf32Le),
            _ => Err(Error::UnknownFormat {
                context: context.to_owned(),
                got: name.to_owned(),
                expected: ACCEPTED_NAMES.to_owned(),
            }),
        }
    }

    /// The SigMF `core:datatype` of this format, `None` for `ci16_le_qi` (SigMF has no
    /// swapped-component type).
    pub fn sigmf_datatype(self) -> Option<&'static str> {
        match self {
            SampleFormat::Cu8 => Some("cu8"),
            SampleFormat::Ci8 => Some("ci8"),
            SampleFormat::Ci16Le => Some("ci16_le"),
            SampleFormat::Ci16LeQi => None,
            SampleFormat::Cf32Le => Some("cf32_le"),
        }
    }

    /// Maps a SigMF `core:datatype` to a format. Only complex types are read.
    ///
    /// # Errors
    /// [`Error::UnknownFormat`] naming `meta` and the field `global.core:datatype`.
    pub fn from_sigmf_datatype(datatype: &str, meta: &Path) -> Result<Self> {
        match datatype {
            "cu8" => Ok(SampleFormat::Cu8),
            "ci8" => Ok(SampleFormat::Ci8),
            "ci16_le" => Ok(SampleFormat::Ci16Le),
            "cf32_le" => Ok(SampleFormat::Cf32Le),
            _ => Err(Error::UnknownFormat {
                context: format!("{}: global.core:datatype", meta.display()),
                got: datatype.to_owned(),
                expected: ACCEPTED_SIGMF_DATATYPES.to_owned(),
            }),
        }
    }

    /// Decodes the whole samples in `bytes` and appends them to `out`; a trailing partial
    /// sample is ignored (callers check lengths). Returns the number of samples appended.
    pub fn decode(self, bytes: &[u8], out: &mut Vec<Complex32>) -> usize {
        let before = out.len();
        match self {
            SampleFormat::Cu8 => {
                let (pairs, _) = bytes.as_chunks::<2>();
                out.extend(pairs.iter().map(|&[i, q]| {
                    Complex32::new(CU8_TABLE[usize::from(i)], CU8_TABLE[usize::from(q)])
                }));
            }
            SampleFormat::Ci8 => {
                let (pairs, _) = bytes.as_chunks::<2>();
                out.extend(pairs.iter().map(|&[i, q]| {
                    Complex32::new(
                        f32::from(i8::from_ne_bytes([i])) / 128.0,
                        f32::from(i8::from_ne_bytes([q])) / 128.0,
                    )
                }));
            }
            SampleFormat::Ci16Le => {
                let (quads, _) = bytes.as_chunks::<4>();
                out.extend(quads.iter().map(|&[i0, i1, q0, q1]| {
                    Complex32::new(
                        f32::from(i16::from_le_bytes([i0, i1])) / 32768.0,
                        f32::from(i16::from_le_bytes([q0, q1])) / 32768.0,
                    )
                }));
            }
            SampleFormat::Ci16LeQi => {
                let (quads, _) = bytes.as_chunks::<4>();
                out.extend(quads.iter().map(|&[q0, q1, i0, i1]| {
                    Complex32::new(
                        f32::from(i16::from_le_bytes([i0, i1])) / 32768.0,
                        f32::from(i16::from_le_bytes([q0, q1])) / 32768.0,
                    )
                }));
            }
            SampleFormat::Cf32Le => {
                let (octets, _) = bytes.as_chunks::<8>();
                out.extend(octets.iter().map(|&[a, b, c, d, e, f, g, h]| {
                    Complex32::new(
                        f32::from_le_bytes([a, b, c, d]),
                        f32::from_le_bytes([e, f, g, h]),
                    )
                }));
            }
        }
        out.len() - before
    }

    /// Encodes `samples` and appends the bytes to `out`.
    ///
    /// Integer formats round to the nearest code and saturate at full scale (NaN becomes the
    /// code for 0); decoding a byte string and encoding it again gives the same bytes.
    pub fn encode(self, samples: &[Complex32], out: &mut Vec<u8>) {
        out.reserve(samples.len().saturating_mul(self.bytes_per_sample()));
        match self {
            SampleFormat::Cu8 => {
                for s in samples {
                    out.push(quantize_u8(s.re));
                    out.push(quantize_u8(s.im));
                }
            }
            SampleFormat::Ci8 => {
                for s in samples {
                    out.extend_from_slice(&quantize_i8(s.re).to_le_bytes());
                    out.extend_from_slice(&quantize_i8(s.im).to_le_bytes());
                }
            }
            SampleFormat::Ci16Le => {
                for s in samples {
                    out.extend_from_slice(&quantize_i16(s.re).to_le_bytes());
                    out.extend_from_slice(&quantize_i16(s.im).to_le_bytes());
                }
            }
            SampleFormat::Ci16LeQi => {
                for s in samples {
                    out.extend_from_slice(&quantize_i16(s.im).to_le_bytes());
                    out.extend_from_slice(&quantize_i16(s.re).to_le_bytes());
                }
            }
            SampleFormat::Cf32Le => {
                for s in samples {
                    out.extend_from_slice(&s.re.to_le_bytes());
                    out.extend_from_slice(&s.im.to_le_bytes());
                }
            }
        }
    }
}

// Float-to-int `as` saturates and maps NaN to 0 (Rust semantics); the explicit clamp documents
// the intended range.
fn quantize_u8(x: f32) -> u8 {
    let code = (x * 128.0 + 127.5).round();
    if code.is_nan() {
        return 128;
    }
    code.clamp(0.0, 255.0) as u8
}

fn quantize_i8(x: f32) -> i8 {
    (x * 128.0).round().clamp(-128.0, 127.0) as i8
}

fn quantize_i16(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

impl FromStr for SampleFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        SampleFormat::parse_in(s, "--format")
    }
}

impl fmt::Display for SampleFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cu8_table_known_answers() {
        assert_eq!(CU8_TABLE[0], -127.5 / 128.0);
        assert_eq!(CU8_TABLE[127], -0.5 / 128.0);
        assert_eq!(CU8_TABLE[128], 0.5 / 128.0);
        assert_eq!(CU8_TABLE[255], 127.5 / 128.0);
    }

    #[test]
    fn quantizers_saturate_and_handle_nan() {
        assert_eq!(quantize_u8(10.0), 255);
        assert_eq!(quantize_u8(-10.0), 0);
        assert_eq!(quantize_u8(f32::NAN), 128);
        assert_eq!(quantize_i8(1.0), 127);
        assert_eq!(quantize_i8(-1.0), -128);
        assert_eq!(quantize_i8(f32::NAN), 0);
        assert_eq!(quantize_i16(2.0), i16::MAX);
        assert_eq!(quantize_i16(-2.0), i16::MIN);
        assert_eq!(quantize_i16(0.5), 16384);
    }
}
