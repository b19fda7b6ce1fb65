//! Chaum-Pedersen proofs of discrete-logarithm equality (DLEQ): a reveal proves that the
//! revealing account made the report's key image.
//!
//! Why: a report's identity commitment alone lets two colluding selected sensors swap their
//! outcomes (A commits to B's address, B opens A's report). With the proof, the account key
//! `P = x·G` (the same key that is its ring member) and the report's key image `I = x·h` must
//! share the secret `x`, so only the report's signer can open it.
//!
//! Statement: `log_G(P) = log_h(I)` for the event base `h` ([`EventBase`]), bound to caller
//! context bytes (the CSC passes task id and revealer address, so a proof cannot be replayed
//! for another task or account). Data flow (Fiat-Shamir, points as 33-byte compressed SEC1):
//!
//! ```text
//! prove:  r = 32 bytes from the caller's RNG
//!         k = hash(trustband/v1/dleq, ["nonce", x, r, ctx, h, P, I]) mod n   (non-zero)
//!         c = hash(trustband/v1/dleq, ["challenge", ctx, h, P, I, k·G, k·h]) mod n   (non-zero)
//!         s = k - c·x
//! verify: A = s·G + c·P, B = s·h + c·I; accept iff c = hash(.., ["challenge", ctx, h, P, I, A, B])
//! wire:   c (32) || s (32), big-endian scalars, c in 1..n, s in 0..n
//! ```
//!
//! The nonce is hedged (RFC 6979 style): it hashes the secret and the whole statement with the
//! RNG output, so a repeated or weak RNG output still gives distinct nonces for distinct
//! statements and cannot leak `x`; a node may pass a deterministic RNG. Shapes are checked
//! before any curve arithmetic: the proof's length and scalars when it is decoded, and the
//! points by their types ([`PublicKey`], [`KeyImage`], [`EventBase`] exclude the identity).

use core::fmt;
use core::str::FromStr;

use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::group::GroupEncoding;
use k256::elliptic_curve::ops::LinearCombination;
use k256::{ProjectivePoint, Scalar};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::hash::{Domain, hash_to_scalar};
use super::keys::{PublicKey, SecretKey};
use super::ring::{EventBase, KeyImage, SCALAR_LEN, canonical_scalar};
use super::text::{decode_hex_array, serde_via_str, write_hex};
use crate::error::Error;

/// Length of an encoded [`DleqProof`] (`c || s`).
pub const DLEQ_PROOF_LEN: usize = 2 * SCALAR_LEN;

/// A non-interactive Chaum-Pedersen proof `(c, s)` that a public key and a key image share
/// their discrete logarithm. Not secret: `Debug` prints its bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DleqProof {
    c: Scalar,
    s: Scalar,
}

impl DleqProof {
    /// The 64-byte encoding `c || s`.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; DLEQ_PROOF_LEN] {
        let mut out = [0u8; DLEQ_PROOF_LEN];
        let (c, s) = out.split_at_mut(SCALAR_LEN);
        c.copy_from_slice(&self.c.to_repr());
        s.copy_from_slice(&self.s.to_repr());
        out
    }

    /// Decodes `c || s`; never panics on any input.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLength`] (field `dleq_proof`) unless exactly 64 bytes;
    /// [`Error::NonCanonicalScalar`] (field `dleq.c`) if `c` is zero or not below the group
    /// order, (field `dleq.s`) if `s` is not below the group order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != DLEQ_PROOF_LEN {
            return Err(Error::WrongLength {
                field: "dleq_proof",
                expected: DLEQ_PROOF_LEN,
                got: bytes.len(),
            });
        }
        let (c_bytes, s_bytes) = bytes.split_at(SCALAR_LEN);
        // A zero challenge would make the check independent of P and I; honest provers
        // never output one.
        let c = canonical_scalar(c_bytes)
            .filter(|c| !bool::from(c.is_zero()))
            .ok_or(Error::NonCanonicalScalar {
                field: "dleq.c",
                index: 0,
            })?;
        let s = canonical_scalar(s_bytes).ok_or(Error::NonCanonicalScalar {
            field: "dleq.s",
            index: 0,
        })?;
        Ok(Self { c, s })
    }
}

impl fmt::Debug for DleqProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DleqProof({self})")
    }
}

impl fmt::Display for DleqProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.to_bytes())
    }
}

impl FromStr for DleqProof {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bytes: [u8; DLEQ_PROOF_LEN] = decode_hex_array("dleq_proof", s)?;
        Self::from_bytes(&bytes)
    }
}

serde_via_str!(DleqProof);

/// The public inputs hashed into every challenge.
struct Statement<'a> {
    context: &'a [u8],
    base: &'a [u8],
    public: &'a [u8],
    image: &'a [u8],
}

impl Statement<'_> {
    /// `hash(trustband/v1/dleq, ["challenge", ctx, h, P, I, A, B]) mod n`.
    fn challenge(&self, a: &ProjectivePoint, b: &ProjectivePoint) -> Scalar {
        let a = a.to_affine().to_bytes();
        let b = b.to_affine().to_bytes();
        hash_to_scalar(
            Domain::Dleq,
            &[
                b"challenge",
                self.context,
                self.base,
                self.public,
                self.image,
                &a,
                &b,
            ],
        )
    }
}

/// Proves that `secret`'s public key and its key image over `base` share their discrete
/// logarithm, bound to `context`; `rng` supplies the nonce's randomness (hedged with the
/// secret and the statement, see the module docs).
///
/// # Errors
///
/// [`Error::IdentityPoint`] only for a zero secret, which [`SecretKey`] excludes.
pub fn prove<R: CryptoRng + ?Sized>(
    secret: &SecretKey,
    base: &EventBase,
    context: &[u8],
    rng: &mut R,
) -> Result<DleqProof, Error> {
    let x: &Scalar = secret.scalar().as_ref();
    let image = base.key_image(secret)?;
    let public = secret.public_key();
    let statement = Statement {
        context,
        base: base.as_bytes(),
        public: public.as_bytes(),
        image: image.as_bytes(),
    };
    let secret_bytes = secret.to_bytes();
    let h = base.point();
    // Both loops repeat only with probability about 2^-256 per pass.
    loop {
        let mut r = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(r.as_mut_slice());
        let k = Zeroizing::new(hash_to_scalar(
            Domain::Dleq,
            &[
                b"nonce",
                secret_bytes.as_slice(),
                r.as_slice(),
                context,
                base.as_bytes(),
                public.as_bytes(),
                image.as_bytes(),
            ],
        ));
        if bool::from(k.is_zero()) {
            continue;
        }
        let c = statement.challenge(&(ProjectivePoint::GENERATOR * *k), &(h * *k));
        if bool::from(c.is_zero()) {
            continue;
        }
        let s = *k - c * x;
        return Ok(DleqProof { c, s });
    }
}

/// Verifies that `proof` shows `log_G(public) = log_base(image)` for `context`.
///
/// # Errors
///
/// [`Error::BadDleqProof`] if the recomputed challenge differs (wrong key, image, base or
/// context, or a forged proof).
pub fn verify(
    public: &PublicKey,
    image: &KeyImage,
    base: &EventBase,
    context: &[u8],
    proof: &DleqProof,
) -> Result<(), Error> {
    let statement = Statement {
        context,
        base: base.as_bytes(),
        public: public.as_bytes(),
        image: image.as_bytes(),
    };
    // Everything here is public, so variable-time arithmetic is safe.
    let a = ProjectivePoint::lincomb_vartime(&[
        (ProjectivePoint::GENERATOR, proof.s),
        (public.to_projective(), proof.c),
    ]);
    let b = ProjectivePoint::lincomb_vartime(&[
        (base.point(), proof.s),
        (image.to_projective(), proof.c),
    ]);
    if statement.challenge(&a, &b) == proof.c {
        Ok(())
    } else {
        Err(Error::BadDleqProof)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The key from seed `[seed; 32]` and the event base of task `task_id`, round 0, over the
    /// one-member ring of that key.
    fn key_and_base(seed: u8, task_id: u64) -> (SecretKey, EventBase) {
        let secret = SecretKey::from_seed(&[seed; 32]).unwrap();
        let event = super::super::Event {
            task_id,
            round: 0,
            chain_id: crate::digest::Hash256::ZERO,
        };
        let base = EventBase::from_encoded_ring(secret.public_key().as_bytes(), &event).unwrap();
        (secret, base)
    }

    #[test]
    fn debug_shows_no_secret_and_encoding_round_trips() {
        let (secret, base) = key_and_base(3, 1);
        let mut rng = ZeroRng;
        let proof = prove(&secret, &base, b"ctx", &mut rng).unwrap();
        let text = format!("{proof:?}");
        assert!(!text.contains(&hex::encode(*secret.to_bytes())));
        assert_eq!(DleqProof::from_bytes(&proof.to_bytes()).unwrap(), proof);
        assert_eq!(proof.to_string().parse::<DleqProof>().unwrap(), proof);
    }

    /// An RNG that always returns zeros: the hedged nonce still differs per statement.
    struct ZeroRng;

    impl rand_core::TryRng for ZeroRng {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(0)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(0);
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for ZeroRng {}

    #[test]
    fn a_constant_rng_still_gives_distinct_nonces_per_context() {
        let (secret, base) = key_and_base(4, 2);
        let p1 = prove(&secret, &base, b"one", &mut ZeroRng).unwrap();
        let p2 = prove(&secret, &base, b"two", &mut ZeroRng).unwrap();
        // Equal nonces with different challenges would give x = (s1 - s2) / (c2 - c1); the
        // commitments k·G differ, so the recovered value is not the key.
        let (c1, s1, c2, s2) = (p1.c, p1.s, p2.c, p2.s);
        let guess = (s1 - s2) * (c2 - c1).invert().unwrap();
        assert_ne!(guess, *secret.scalar().as_ref());
        assert_ne!(p1, p2);
    }
}
