//! [`Hash256`]: the 32-byte digest naming blocks, transactions, Merkle roots and contracts.
//!
//! Every value comes out of [`crate::crypto::hash()`] (domain-separated SHA-256); this type only
//! gives it a name, an ordering (byte order = the 256-bit big-endian number, which is what PoT
//! compares against its target) and a hex text form (`0x` + 64 lowercase digits).

use core::fmt;
use core::str::FromStr;

use crate::crypto::HASH_LEN;
use crate::crypto::text::{decode_hex_array, serde_via_str, write_hex};
use crate::error::Error;

/// A 32-byte digest. Ordered as a 256-bit big-endian number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash256(pub [u8; HASH_LEN]);

impl Hash256 {
    /// All zero: the "no parent" hash and the empty contract id.
    pub const ZERO: Hash256 = Hash256([0; HASH_LEN]);

    /// Borrows the bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// The first 8 bytes as hex, for compact log lines.
    #[must_use]
    pub fn short(&self) -> String {
        let (head, _) = self.0.split_at(8);
        hex::encode(head)
    }
}

impl From<[u8; HASH_LEN]> for Hash256 {
    fn from(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({self})")
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl FromStr for Hash256 {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        decode_hex_array("hash", s).map(Self)
    }
}

serde_via_str!(Hash256);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn text_round_trip_and_order() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0xab;
        bytes[31] = 0x01;
        let h = Hash256(bytes);
        let text = h.to_string();
        assert_eq!(text.len(), 66);
        assert!(text.starts_with("0xab00"));
        assert_eq!(text.parse::<Hash256>().unwrap(), h);
        assert!(matches!(
            "0x12".parse::<Hash256>(),
            Err(Error::WrongLength { .. })
        ));
        // Byte order is numeric order: a larger first byte is a larger number.
        let mut small = [0xffu8; 32];
        small[0] = 0x00;
        assert!(Hash256(small) < h);
    }
}
