//! Integration tests of `chain::crypto`: known-answer vectors, property tests and one negative
//! test per rejection path (each expecting its specific error variant).
//!
//! Known answers were cross-checked outside Rust by `tests/data/kat_crosscheck.py` (Python
//! `cryptography`/OpenSSL for keys and RFC 6979 ECDSA, a plain-Python LSAG verifier for the
//! ring signature). The RFC 9380 hash-to-curve vectors live in `src/crypto/hash.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod commit;
mod dleq;
mod kat;
mod keys;
mod ring;

use chain::crypto::SecretKey;

/// Deterministic test key number `i` (same derivation as the benchmark fixture).
pub fn key(i: u64) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    SecretKey::from_seed(&seed).unwrap()
}
