//! Domain-separated hashing.
//!
//! Every hash the chain computes names its purpose with a [`Domain`] tag, so bytes hashed (or
//! signed) for one purpose can never be replayed as another: a transaction signature is not a
//! block signature, a bid commitment is not an identity commitment.
//!
//! Encoding (unambiguous, so distinct inputs never collide by concatenation):
//!
//! ```text
//! hash(domain, [p_1, .., p_k]) = SHA-256( be64(len tag) || tag || be64(len p_1) || p_1 || .. || be64(len p_k) || p_k )
//! ```
//!
//! where `tag` is the ASCII domain string (e.g. `trustband/v1/tx`) and `be64` a 64-bit
//! big-endian length. A byte string parses back into at most one (tag, parts) list, so
//! `hash(d, ["ab", "c"]) != hash(d, ["a", "bc"])` and no two domains share an input.
//!
//! Hash-to-curve (for the ring signature's event base point) follows RFC 9380 with the suite
//! `secp256k1_XMD:SHA-256_SSWU_RO_`, taken from `k256`'s `hash2curve` feature.

use k256::elliptic_curve::ops::Reduce;
use k256::hash2curve::{ExpandMsgXmd, hash_from_bytes};
use k256::{FieldBytes, ProjectivePoint, Scalar, Secp256k1};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Length of every [`hash`] output in bytes.
pub const HASH_LEN: usize = 32;

/// The purpose a hash or signature is computed for; its tag is hashed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Domain {
    /// Transaction signatures and transaction ids: `trustband/v1/tx`.
    Tx,
    /// Block header hashes and miner signatures: `trustband/v1/block`.
    Block,
    /// Identity reveal commitments carried by sensing reports: `trustband/v1/commit`.
    Commit,
    /// Sealed-bid blinding hashes: `trustband/v1/bid`.
    Bid,
    /// LSAG ring signature challenges `H_s`: `trustband/v1/ring`.
    Ring,
    /// RFC 9380 domain separation tag of the ring's event base point: `trustband/v1/ring-h2c`.
    RingH2c,
    /// Address derivation from a public key: `trustband/v1/addr`.
    Addr,
    /// Merkle tree leaves: `trustband/v1/merkle-leaf`.
    MerkleLeaf,
    /// Merkle tree inner nodes: `trustband/v1/merkle-node`.
    MerkleNode,
    /// Secret key derivation from a seed: `trustband/v1/key-seed`.
    KeySeed,
    /// Contract-derived values (random selection seeds): `trustband/v1/contract`.
    Contract,
    /// Chaum-Pedersen DLEQ proof challenges and nonces (reveal ownership): `trustband/v1/dleq`.
    Dleq,
}

impl Domain {
    /// Every domain, for tests and tooling that must cover them all.
    pub const ALL: [Domain; 12] = [
        Domain::Tx,
        Domain::Block,
        Domain::Commit,
        Domain::Bid,
        Domain::Ring,
        Domain::RingH2c,
        Domain::Addr,
        Domain::MerkleLeaf,
        Domain::MerkleNode,
        Domain::KeySeed,
        Domain::Contract,
        Domain::Dleq,
    ];

    /// The ASCII tag hashed in front of every input of this domain.
    #[must_use]
    pub const fn tag(self) -> &'static str {
        match self {
            Domain::Tx => "trustband/v1/tx",
            Domain::Block => "trustband/v1/block",
            Domain::Commit => "trustband/v1/commit",
            Domain::Bid => "trustband/v1/bid",
            Domain::Ring => "trustband/v1/ring",
            Domain::RingH2c => "trustband/v1/ring-h2c",
            Domain::Addr => "trustband/v1/addr",
            Domain::MerkleLeaf => "trustband/v1/merkle-leaf",
            Domain::MerkleNode => "trustband/v1/merkle-node",
            Domain::KeySeed => "trustband/v1/key-seed",
            Domain::Contract => "trustband/v1/contract",
            Domain::Dleq => "trustband/v1/dleq",
        }
    }
}

impl core::fmt::Display for Domain {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.tag())
    }
}

/// SHA-256 over the length-prefixed domain tag and parts (see the module docs for the layout).
#[must_use]
pub fn hash(domain: Domain, parts: &[&[u8]]) -> [u8; HASH_LEN] {
    let mut hasher = Sha256::new();
    absorb(&mut hasher, domain.tag().as_bytes());
    for part in parts {
        absorb(&mut hasher, part);
    }
    hasher.finalize().into()
}

/// Feeds `be64(len) || bytes` into the hasher.
fn absorb(hasher: &mut Sha256, bytes: &[u8]) {
    // usize -> u64 is lossless on every supported target (<= 64-bit pointers).
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    hasher.update(len.to_be_bytes());
    hasher.update(bytes);
}

/// [`hash`] reduced modulo the secp256k1 group order.
///
/// The order n is within 2^129 of 2^256, so a uniform 256-bit digest lands at or above n with
/// probability below 2^-127: the reduction's bias is negligible.
pub(crate) fn hash_to_scalar(domain: Domain, parts: &[&[u8]]) -> Scalar {
    let digest = FieldBytes::from(hash(domain, parts));
    <Scalar as Reduce<FieldBytes>>::reduce(&digest)
}

/// RFC 9380 `hash_to_curve` with suite `secp256k1_XMD:SHA-256_SSWU_RO_`, message = the
/// concatenation of `msg`, domain separation tag `dst`.
///
/// # Errors
///
/// [`Error::HashToCurve`] if `expand_message_xmd` rejects the tag (only an empty tag can fail).
pub(crate) fn hash_to_curve(dst: &'static str, msg: &[&[u8]]) -> Result<ProjectivePoint, Error> {
    hash_from_bytes::<Secp256k1, ExpandMsgXmd<Sha256>>(msg, &[dst.as_bytes()])
        .map_err(|_| Error::HashToCurve { dst })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use k256::elliptic_curve::group::GroupEncoding;
    use k256::elliptic_curve::sec1::ToSec1Point;

    /// RFC 9380 appendix J.8.1, suite secp256k1_XMD:SHA-256_SSWU_RO_: (msg, P.x, P.y); the
    /// long messages are written as their prefix and expanded by [`rfc_msg`].
    const RFC9380_J81: [(&str, &str, &str); 5] = [
        (
            "",
            "c1cae290e291aee617ebaef1be6d73861479c48b841eaba9b7b5852ddfeb1346",
            "64fa678e07ae116126f08b022a94af6de15985c996c3a91b64c406a960e51067",
        ),
        (
            "abc",
            "3377e01eab42db296b512293120c6cee72b6ecf9f9205760bd9ff11fb3cb2c4b",
            "7f95890f33efebd1044d382a01b1bee0900fb6116f94688d487c6c7b9c8371f6",
        ),
        (
            "abcdef0123456789",
            "bac54083f293f1fe08e4a70137260aa90783a5cb84d3f35848b324d0674b0e3a",
            "4436476085d4c3c4508b60fcf4389c40176adce756b398bdee27bca19758d828",
        ),
        (
            "q128_",
            "e2167bc785333a37aa562f021f1e881defb853839babf52a7f72b102e41890e9",
            "f2401dd95cc35867ffed4f367cd564763719fbc6a53e969fb8496a1e6685d873",
        ),
        (
            "a512_",
            "e3c8d35aaaf0b9b647e88a0a0a7ee5d5bed5ad38238152e4e6fd8c1f8cb7c998",
            "8446eeb6181bf12f56a9d24e262221cc2f0c4725c7e3803024b5888ee5823aa6",
        ),
    ];

    /// "q128_" + 128 x 'q' and "a512_" + 512 x 'a', as in the RFC.
    fn rfc_msg(spec: &str) -> String {
        match spec {
            "q128_" => format!("q128_{}", "q".repeat(128)),
            "a512_" => format!("a512_{}", "a".repeat(512)),
            other => other.to_owned(),
        }
    }

    #[test]
    fn hash_to_curve_matches_rfc9380_j81() {
        const DST: &str = "QUUX-V01-CS02-with-secp256k1_XMD:SHA-256_SSWU_RO_";
        for (spec, x, y) in RFC9380_J81 {
            let msg = rfc_msg(spec);
            let p = hash_to_curve(DST, &[msg.as_bytes()]).unwrap().to_affine();
            let uncompressed = p.to_sec1_point(false);
            let got = hex::encode(uncompressed.as_bytes());
            assert_eq!(got, format!("04{x}{y}"), "msg {msg:?}");
        }
    }

    #[test]
    fn hash_to_curve_concatenates_message_parts() {
        // Splitting the message across slices must not change the point (RFC 9380 hashes the
        // concatenation), which the ring relies on when it passes e and L separately.
        const DST: &str = "QUUX-V01-CS02-with-secp256k1_XMD:SHA-256_SSWU_RO_";
        let whole = hash_to_curve(DST, &[b"abcdef0123456789"]).unwrap();
        let split = hash_to_curve(DST, &[b"abcdef", b"0123456789"]).unwrap();
        assert_eq!(whole.to_bytes(), split.to_bytes());
    }

    #[test]
    fn hash_to_curve_rejects_empty_dst() {
        assert_eq!(
            hash_to_curve("", &[b"abc"]),
            Err(Error::HashToCurve { dst: "" })
        );
    }
}
