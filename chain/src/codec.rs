//! The chain's canonical binary encoding.
//!
//! Purpose: every node must turn the same block, transaction or state into the same bytes,
//! because hashes, signatures and Merkle roots are taken over them. Data flow: a value's
//! [`Encode::encode_to`] appends its bytes to a `Vec<u8>` (infallible); [`Decode::from_bytes`]
//! reads them back through a [`Reader`], which checks every length against the bytes left and a
//! per-field cap, and returns a typed [`Error`] (never panics) on anything malformed.
//!
//! # Rules
//!
//! - Integers are fixed width, big-endian: `u8`, `u16`, `u32`, `u64`, `u128`; fixed-point
//!   values ([`fusion::Fx`]) are their raw `i64`, big-endian two's complement.
//! - Fixed-size byte strings are written raw: [`Hash256`] 32, [`Address`] 20, [`PublicKey`] 33
//!   (compressed SEC1, checked to be a curve point on decode), [`Signature`] 64 (`r || s`,
//!   low-S checked on decode).
//! - Variable-size byte strings and lists: a `u32` count, then the items. Each has a cap
//!   (the `MAX_*` constants below); a count above its cap or above what the remaining bytes could
//!   hold is rejected before any allocation.
//! - Enums: a `u8` tag, then the variant's fields. Unknown tags are errors.
//! - No maps: keyed collections are lists sorted by key, strictly increasing (no duplicates);
//!   decoding rejects any other order, so each value has exactly one encoding.
//! - A top-level decode must consume every byte ([`Error::TrailingBytes`] otherwise).
//!
//! Layouts of the ledger types are documented on each type ([`crate::tx`], [`crate::block`],
//! [`crate::state`]).
#![deny(clippy::float_arithmetic)]

use fusion::{Fx, TrustRecord};

use crate::crypto::keys::{ADDRESS_LEN, PUBLIC_KEY_LEN, SIGNATURE_LEN};
use crate::crypto::{Address, PublicKey, Signature};
use crate::digest::Hash256;
use crate::error::Error;

/// Most transactions in one block body.
pub const MAX_BLOCK_TXS: u32 = 1 << 16;
/// Most bytes of call data in one contract call.
pub const MAX_CALL_DATA: u32 = 64 * 1024;
/// Most accounts in a state (a checkpoint body).
pub const MAX_STATE_ACCOUNTS: u32 = 1 << 24;
/// Most contract instances in a state.
pub const MAX_CONTRACTS: u32 = 1 << 20;
/// Most bytes of one contract's stored state.
pub const MAX_CONTRACT_STATE: u32 = 1 << 20;
/// Most siblings in a Merkle proof (trees of up to 2^64 leaves).
pub const MAX_PROOF_DEPTH: u32 = 64;

/// A value with a canonical encoding.
pub trait Encode {
    /// Appends the canonical bytes to `out`.
    fn encode_to(&self, out: &mut Vec<u8>);

    /// The canonical bytes.
    #[must_use]
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_to(&mut out);
        out
    }
}

/// A value that decodes from its canonical encoding.
pub trait Decode: Sized {
    /// Name used in errors about the whole value.
    const NAME: &'static str;

    /// Reads one value from `r`.
    ///
    /// # Errors
    ///
    /// Any codec error ([`Error::Truncated`], [`Error::LengthOverCap`], [`Error::UnknownTag`],
    /// [`Error::InvalidEncoding`], ...) or a field's own decoding error.
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error>;

    /// Decodes a value that must fill `bytes` exactly.
    ///
    /// # Errors
    ///
    /// As [`Decode::decode_from`], plus [`Error::TrailingBytes`] if bytes are left over.
    fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let value = Self::decode_from(&mut r)?;
        r.finish(Self::NAME)?;
        Ok(value)
    }
}

/// Appends fixed-width big-endian integers and length prefixes to a byte vector.
pub(crate) trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_u128(&mut self, v: u128);
    fn put_i64(&mut self, v: i64);
    fn put_raw(&mut self, bytes: &[u8]);
    /// A `u32` count. Counts of values this crate builds are capped far below `u32::MAX`; a
    /// larger one would be written as `u32::MAX`, which every decoder rejects.
    fn put_len(&mut self, len: usize);
    /// A `u32` length, then the bytes.
    fn put_bytes(&mut self, bytes: &[u8]);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u128(&mut self, v: u128) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_raw(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_len(&mut self, len: usize) {
        self.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    }
    fn put_bytes(&mut self, bytes: &[u8]) {
        self.put_len(bytes.len());
        self.put_raw(bytes);
    }
}

/// A cursor over untrusted bytes. Every read checks the bytes left and returns a typed error.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Bytes not read yet.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// Bytes read so far.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Succeeds only if every byte was read.
    ///
    /// # Errors
    ///
    /// [`Error::TrailingBytes`] naming `field` if bytes are left.
    pub fn finish(&self, field: &'static str) -> Result<(), Error> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(Error::TrailingBytes { field, count }),
        }
    }

    /// The next `n` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] if fewer than `n` bytes are left.
    pub fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], Error> {
        let remaining = self.remaining();
        let end = self
            .pos
            .checked_add(n)
            .filter(|_| n <= remaining)
            .ok_or(Error::Truncated {
                field,
                needed: n,
                remaining,
            })?;
        let out = self.bytes.get(self.pos..end).ok_or(Error::Truncated {
            field,
            needed: n,
            remaining,
        })?;
        self.pos = end;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`] if fewer than `N` bytes are left.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Error> {
        let slice = self.take(field, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// A `u8`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`].
    pub fn u8(&mut self, field: &'static str) -> Result<u8, Error> {
        self.array::<1>(field).map(|[b]| b)
    }

    /// A big-endian `u16`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`].
    pub fn u16(&mut self, field: &'static str) -> Result<u16, Error> {
        self.array(field).map(u16::from_be_bytes)
    }

    /// A big-endian `u32`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`].
    pub fn u32(&mut self, field: &'static str) -> Result<u32, Error> {
        self.array(field).map(u32::from_be_bytes)
    }

    /// A big-endian `u64`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`].
    pub fn u64(&mut self, field: &'static str) -> Result<u64, Error> {
        self.array(field).map(u64::from_be_bytes)
    }

    /// A big-endian `u128`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`].
    pub fn u128(&mut self, field: &'static str) -> Result<u128, Error> {
        self.array(field).map(u128::from_be_bytes)
    }

    /// A big-endian two's complement `i64`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`].
    pub fn i64(&mut self, field: &'static str) -> Result<i64, Error> {
        self.array(field).map(i64::from_be_bytes)
    }

    /// A fixed-point value (raw `i64`).
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`].
    pub fn fx(&mut self, field: &'static str) -> Result<Fx, Error> {
        self.i64(field).map(Fx::from_raw)
    }

    /// A 32-byte digest.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`].
    pub fn hash(&mut self, field: &'static str) -> Result<Hash256, Error> {
        self.array(field).map(Hash256)
    }

    /// A 20-byte address.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`].
    pub fn address(&mut self, field: &'static str) -> Result<Address, Error> {
        self.array::<ADDRESS_LEN>(field).map(Address::from_bytes)
    }

    /// A 33-byte compressed public key, checked to be a valid non-identity point.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`], [`Error::InvalidPoint`], [`Error::IdentityPoint`].
    pub fn public_key(&mut self, field: &'static str) -> Result<PublicKey, Error> {
        let bytes = self.take(field, PUBLIC_KEY_LEN)?;
        PublicKey::decode(bytes, field, 0)
    }

    /// A 64-byte account signature, checked canonical (low-S, scalars in range).
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`], [`Error::NonCanonicalScalar`].
    pub fn signature(&mut self, field: &'static str) -> Result<Signature, Error> {
        let bytes = self.take(field, SIGNATURE_LEN)?;
        Signature::from_bytes(bytes)
    }

    /// A `u32` count, checked against `cap` and against the bytes left (each item takes at
    /// least `min_item_len` bytes), so a forged count cannot trigger a huge allocation.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`], [`Error::LengthOverCap`].
    pub fn len(
        &mut self,
        field: &'static str,
        cap: u32,
        min_item_len: usize,
    ) -> Result<usize, Error> {
        let n = self.u32(field)?;
        if n > cap {
            return Err(Error::LengthOverCap {
                field,
                cap: u64::from(cap),
                got: u64::from(n),
            });
        }
        let n = usize::try_from(n).map_err(|_| Error::LengthOverCap {
            field,
            cap: u64::from(cap),
            got: u64::from(n),
        })?;
        let needed = n.saturating_mul(min_item_len.max(1));
        if needed > self.remaining() && min_item_len > 0 {
            return Err(Error::Truncated {
                field,
                needed,
                remaining: self.remaining(),
            });
        }
        Ok(n)
    }

    /// A `u32`-length-prefixed byte string of at most `cap` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`], [`Error::LengthOverCap`].
    pub fn bytes(&mut self, field: &'static str, cap: u32) -> Result<Vec<u8>, Error> {
        let n = self.len(field, cap, 1)?;
        self.take(field, n).map(<[u8]>::to_vec)
    }

    /// A trust record: `window u64 || len u8 || last i64 || idle u32 || trust i64`.
    ///
    /// # Errors
    ///
    /// [`Error::Truncated`]; [`Error::InvalidTrustRecord`] if not canonical.
    pub fn trust_record(&mut self, field: &'static str) -> Result<TrustRecord, Error> {
        let window = self.u64(field)?;
        let len = self.u8(field)?;
        let last = self.fx(field)?;
        let idle = self.u32(field)?;
        let trust = self.fx(field)?;
        TrustRecord::from_parts(window, len, last, idle, trust).map_err(|source| {
            Error::InvalidTrustRecord {
                account: Address::from_bytes([0; ADDRESS_LEN]),
                source,
            }
        })
    }
}

/// Encoded size of a trust record.
pub const TRUST_RECORD_LEN: usize = 8 + 1 + 8 + 4 + 8;

/// Appends a trust record: `window u64 || len u8 || last i64 || idle u32 || trust i64`.
pub(crate) fn encode_trust_record(record: &TrustRecord, out: &mut Vec<u8>) {
    out.put_u64(record.window_bits());
    out.put_u8(record.window_len());
    out.put_i64(record.last_participation_trust().raw());
    out.put_u32(record.idle_rounds());
    out.put_i64(record.trust().raw());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn integers_are_big_endian() {
        let mut out = Vec::new();
        out.put_u32(0x0102_0304);
        out.put_u64(5);
        out.put_i64(-1);
        assert_eq!(&out[..4], &[1, 2, 3, 4]);
        assert_eq!(&out[4..12], &[0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&out[12..], &[0xff; 8]);
        let mut r = Reader::new(&out);
        assert_eq!(r.u32("a").unwrap(), 0x0102_0304);
        assert_eq!(r.u64("b").unwrap(), 5);
        assert_eq!(r.i64("c").unwrap(), -1);
        r.finish("x").unwrap();
    }

    #[test]
    fn truncation_and_caps_are_typed_errors() {
        let mut r = Reader::new(&[0, 0, 0]);
        assert_eq!(
            r.u32("n"),
            Err(Error::Truncated {
                field: "n",
                needed: 4,
                remaining: 3
            })
        );
        // A count above the cap is rejected before anything is allocated.
        let bytes = 1000u32.to_be_bytes();
        assert_eq!(
            Reader::new(&bytes).len("txs", 10, 1),
            Err(Error::LengthOverCap {
                field: "txs",
                cap: 10,
                got: 1000
            })
        );
        // A count the remaining bytes cannot hold is rejected too.
        assert!(matches!(
            Reader::new(&bytes).len("txs", 5000, 8),
            Err(Error::Truncated { field: "txs", .. })
        ));
        let r = Reader::new(&[1, 2]);
        assert_eq!(
            r.finish("v"),
            Err(Error::TrailingBytes {
                field: "v",
                count: 2
            })
        );
    }

    #[test]
    fn trust_record_round_trip_and_rejects_non_canonical() {
        let record =
            TrustRecord::from_parts(0b101, 3, Fx::from_raw(400_000_000), 2, Fx::HALF).unwrap();
        let mut out = Vec::new();
        encode_trust_record(&record, &mut out);
        assert_eq!(out.len(), TRUST_RECORD_LEN);
        assert_eq!(Reader::new(&out).trust_record("t").unwrap(), record);
        // Trust above 1 is not a valid record.
        let mut bad = out.clone();
        bad.truncate(TRUST_RECORD_LEN - 8);
        bad.put_i64(2_000_000_000);
        assert!(matches!(
            Reader::new(&bad).trust_record("t"),
            Err(Error::InvalidTrustRecord { .. })
        ));
    }
}
