//! Hex text forms shared by keys, addresses, signatures, key images and commitments.
//!
//! Values print as lowercase hex with a `0x` prefix; parsing accepts the prefix or its absence
//! and either case, and checks the length before decoding.

use crate::error::Error;

/// Decodes exactly `N` bytes from hex text (optional `0x`/`0X` prefix).
///
/// # Errors
///
/// [`Error::WrongLength`] if the text does not hold exactly `2 * N` hex digits (the error's
/// lengths count hex digits, not bytes); [`Error::InvalidEncoding`] on a non-hex character.
pub(crate) fn decode_hex_array<const N: usize>(
    field: &'static str,
    text: &str,
) -> Result<[u8; N], Error> {
    let digits = strip_prefix(text);
    let expected = N.saturating_mul(2);
    if digits.len() != expected {
        return Err(Error::WrongLength {
            field,
            expected,
            got: digits.len(),
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|_| Error::InvalidEncoding {
        field,
        reason: "not hexadecimal",
    })?;
    Ok(out)
}

/// Decodes a variable number of bytes from hex text (optional `0x`/`0X` prefix).
///
/// # Errors
///
/// [`Error::InvalidEncoding`] on an odd number of digits or a non-hex character.
pub(crate) fn decode_hex_vec(field: &'static str, text: &str) -> Result<Vec<u8>, Error> {
    hex::decode(strip_prefix(text)).map_err(|err| Error::InvalidEncoding {
        field,
        reason: match err {
            hex::FromHexError::OddLength => "odd number of hex digits",
            _ => "not hexadecimal",
        },
    })
}

/// Writes `0x` and the lowercase hex of `bytes`.
pub(crate) fn write_hex(f: &mut core::fmt::Formatter<'_>, bytes: &[u8]) -> core::fmt::Result {
    f.write_str("0x")?;
    f.write_str(&hex::encode(bytes))
}

fn strip_prefix(text: &str) -> &str {
    text.strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text)
}

/// Implements `Serialize`/`Deserialize` through the type's `Display`/`FromStr` (hex text), so
/// JSON and TOML carry readable, strictly parsed values.
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use serde_via_str;
