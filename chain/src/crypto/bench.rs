//! Ring signature timing for `trustband chain bench` and the criterion benchmark.
//!
//! [`RingFixture`] builds a deterministic ring (keys from fixed seeds, a fixed-seed ChaCha20
//! RNG for signing), so the CLI and `benches/ring.rs` time the same work. [`ring_timing`]
//! measures mean sign and verify wall time with `std::time::Instant`; run it on a release build.
//! [`RingFixture::reveal_as`] builds a member's reveal proof ([`RevealFixture`]) for timing
//! [`super::dleq::verify`].

use std::time::Instant;

use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;

use super::dleq::DleqProof;
use super::keys::{PublicKey, SecretKey};
use super::ring::{Event, EventBase, KeyImage, Ring, RingSignature, sign, verify};
use crate::error::Error;

/// A ring of `n` deterministic keys, an event, a message and a seeded RNG.
#[derive(Debug)]
pub struct RingFixture {
    /// Secrets of every member, in canonical ring order.
    pub secrets: Vec<SecretKey>,
    /// The canonical ring.
    pub ring: Ring,
    /// The event signed for.
    pub event: Event,
    /// The message signed.
    pub msg: Vec<u8>,
    /// Fixed-seed RNG for signing.
    pub rng: ChaCha20Rng,
}

impl RingFixture {
    /// Builds a ring of `n` members; member `i`'s key comes from [`SecretKey::from_seed`] with
    /// the seed `le64(i) || 24 zero bytes`.
    ///
    /// # Errors
    ///
    /// Ring size errors from [`Ring::new`] if `n` is outside `2..=256`.
    pub fn new(n: usize) -> Result<Self, Error> {
        let mut secrets = (0..n)
            .map(|i| {
                let mut seed = [0u8; 32];
                let index = u64::try_from(i).unwrap_or(u64::MAX);
                let (head, _) = seed.split_at_mut(8);
                head.copy_from_slice(&index.to_le_bytes());
                SecretKey::from_seed(&seed)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ring = Ring::new(secrets.iter().map(|s| *s.public_key()))?;
        secrets.sort_by(|a, b| a.public_key().cmp(b.public_key()));
        Ok(Self {
            secrets,
            ring,
            event: Event {
                task_id: 7,
                round: 3,
                chain_id: crate::digest::Hash256::ZERO,
            },
            msg: b"channel 3: busy, energy -61.2 dBm".to_vec(),
            rng: ChaCha20Rng::from_seed([42u8; 32]),
        })
    }

    /// Signs the fixture message as member `index` (modulo the ring size).
    ///
    /// # Errors
    ///
    /// Errors from [`sign`] (none expected for a fixture).
    pub fn sign_as(&mut self, index: usize) -> Result<RingSignature, Error> {
        let n = self.secrets.len().max(1);
        let secret = self.secrets.get(index % n).ok_or(Error::SignerNotInRing)?;
        sign(secret, &self.ring, &self.event, &self.msg, &mut self.rng)
    }

    /// Verifies `signature` against the fixture's ring, event and message.
    ///
    /// # Errors
    ///
    /// Errors from [`verify`].
    pub fn verify(&self, signature: &RingSignature) -> Result<(), Error> {
        verify(&self.ring, &self.event, &self.msg, signature)
    }
}

/// A reveal's DLEQ proof for one fixture member: the statement and the proof, for timing
/// [`super::dleq::verify`].
#[derive(Debug, Clone)]
pub struct RevealFixture {
    /// The member's public key.
    pub public: PublicKey,
    /// Its key image over the fixture's event base.
    pub image: KeyImage,
    /// The fixture's event base.
    pub base: EventBase,
    /// Context bytes: `chain id || be64 task || address`, as the CSC binds them.
    pub context: Vec<u8>,
    /// The proof.
    pub proof: DleqProof,
}

impl RevealFixture {
    /// Verifies the proof.
    ///
    /// # Errors
    ///
    /// Errors from [`super::dleq::verify`] (none expected for a fixture).
    pub fn verify(&self) -> Result<(), Error> {
        super::dleq::verify(
            &self.public,
            &self.image,
            &self.base,
            &self.context,
            &self.proof,
        )
    }
}

impl RingFixture {
    /// Member `index`'s (modulo the ring size) DLEQ proof for the fixture's event, bound to
    /// `be64 task || its address`.
    ///
    /// # Errors
    ///
    /// Errors from [`EventBase::new`] (none expected for a fixture).
    pub fn reveal_as(&mut self, index: usize) -> Result<RevealFixture, Error> {
        let n = self.secrets.len().max(1);
        let secret = self.secrets.get(index % n).ok_or(Error::SignerNotInRing)?;
        let base = EventBase::new(&self.ring, &self.event)?;
        let mut context = self.event.chain_id.0.to_vec();
        context.extend_from_slice(&self.event.task_id.to_be_bytes());
        context.extend_from_slice(secret.address().as_bytes());
        let proof = super::dleq::prove(secret, &base, &context, &mut self.rng)?;
        Ok(RevealFixture {
            public: *secret.public_key(),
            image: base.key_image(secret)?,
            base,
            context,
            proof,
        })
    }
}

/// Mean wall time of one ring sign and one ring verify.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RingTiming {
    /// Ring size.
    pub ring_size: usize,
    /// Operations timed for each mean.
    pub iterations: u32,
    /// Mean milliseconds per sign.
    pub sign_ms: f64,
    /// Mean milliseconds per verify.
    pub verify_ms: f64,
}

/// Times `iterations` signs and verifies (at least one each) on a ring of `ring_size`.
///
/// # Errors
///
/// Ring size errors if `ring_size` is outside `2..=256`; any sign or verify error (a verify
/// failure here would be a bug, so it is reported rather than timed).
pub fn ring_timing(ring_size: usize, iterations: u32) -> Result<RingTiming, Error> {
    let iterations = iterations.max(1);
    let mut fixture = RingFixture::new(ring_size)?;
    let count = usize::try_from(iterations).unwrap_or(usize::MAX);

    let start = Instant::now();
    let signatures = (0..count)
        .map(|i| fixture.sign_as(i))
        .collect::<Result<Vec<_>, _>>()?;
    let sign_elapsed = start.elapsed();

    let start = Instant::now();
    for signature in &signatures {
        fixture.verify(signature)?;
    }
    let verify_elapsed = start.elapsed();

    let per_op_ms =
        |elapsed: std::time::Duration| elapsed.as_secs_f64() * 1e3 / f64::from(iterations);
    Ok(RingTiming {
        ring_size,
        iterations,
        sign_ms: per_op_ms(sign_elapsed),
        verify_ms: per_op_ms(verify_elapsed),
    })
}

/// Mean milliseconds to verify a 16-member ring signature (SPEC target: about 2 ms; budget 3).
///
/// # Errors
///
/// As [`ring_timing`].
pub fn ring16_verify_ms() -> Result<f64, Error> {
    ring_timing(16, 50).map(|t| t.verify_ms)
}
