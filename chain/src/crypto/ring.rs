//! LSAG linkable ring signatures (Liu-Wei-Wong) over secp256k1 with an event-scoped base point.
//!
//! A selected sensor signs its report with the ring of all selected sensors' public keys, so the
//! contract learns that *some* selected sensor sent it, not which one, until the reveal. The key
//! image `I = x·h` is the same for every signature one signer makes in one event and ring, so the
//! contract accepts the first report per [`KeyImage`] and rejects the rest; across events the
//! base point `h` changes and images are unlinkable.
//!
//! Data flow (SPEC section 3):
//! - ring `L = (P_0..P_{n-1})` in canonical order (sorted by compressed encoding, see [`Ring`]);
//!   event `e = (task id, round, chain id)` ([`Event`], 48 bytes: two big-endian u64 and the
//!   32-byte [`crate::ChainParams::chain_id`], a hash of the chain's genesis, so a signature
//!   for one testbed is not valid on another);
//! - `h = hash_to_curve(DST = "trustband/v1/ring-h2c", e || L)`, RFC 9380
//!   `secp256k1_XMD:SHA-256_SSWU_RO_`, `L` the concatenated 33-byte keys;
//! - `H_s(m, L, e, I, A, B) = hash(trustband/v1/ring, [m, L, e, I, A, B]) mod n`, points as
//!   33-byte compressed encodings;
//! - sign: hedged nonce `a` and decoy responses (below); `c_{π+1} = H_s(m, L, e, I, aG, ah)`;
//!   for `i != π`, `c_{i+1} = H_s(m, L, e, I, s_i G + c_i P_i, s_i h + c_i I)`;
//!   `s_π = a - c_π x_π`;
//! - verify: recompute the chain from `c_0`; accept iff it closes (`c_n = c_0`).
//!
//! Hedged nonce (why: a node's RNG was once seeded from its address and start time, so anyone
//! who guessed the seed took `a` and solved `x = (a - s_π) / c_π`). With `r` 32 bytes from the
//! caller's RNG:
//!
//! ```text
//! seed = hash(trustband/v1/ring, ["hedge", x, r, m, L, e, I])
//! a    = hash(trustband/v1/ring, ["nonce", seed, be64 j]) mod n   (first j with a != 0)
//! s_i  = hash(trustband/v1/ring, ["decoy", seed, be64 i]) mod n   (i != π)
//! ```
//!
//! So `a` and the decoys are secret-keyed functions of the whole transcript: a weak, repeated
//! or even constant RNG cannot give two transcripts one nonce (an all-zero RNG gives
//! RFC 6979-like deterministic signatures), and a decoy response is not a keystream output an
//! attacker could match to a guessed seed. A good RNG still makes every signature fresh. The
//! part counts (7, 3 and 3 parts) differ from the challenge's 6, so no input is hashed for two
//! purposes.
//!
//! Shape checks come before any curve arithmetic: ring size and duplicates when the [`Ring`] is
//! built, signature length and scalar canonicity when a [`RingSignature`] is decoded, and the
//! response count against the ring at the start of [`verify`]. Rings need at least
//! [`MIN_RING_SIZE`] = 2 members: a ring of one names its signer, so a report signed with it
//! would expose the sensor before the reveal window; a CSC round that selected fewer than two
//! sensors must not collect ring-signed reports. [`MAX_RING_SIZE`] bounds verification cost.
//!
//! Wire format of a signature: `c_0 (32) || I (33) || s_0 (32) || .. || s_{n-1} (32)`, scalars
//! big-endian and below the group order, `I` compressed SEC1.

use core::fmt;
use core::str::FromStr;

use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::group::GroupEncoding;
use k256::elliptic_curve::ops::LinearCombination;
use k256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::hash::{Domain, hash, hash_to_curve, hash_to_scalar};
use super::keys::{PUBLIC_KEY_LEN, PublicKey, SecretKey};
use super::text::{decode_hex_array, decode_hex_vec, serde_via_str, write_hex};
use crate::digest::Hash256;
use crate::error::Error;

/// Smallest ring accepted (a ring of one would identify its signer).
pub const MIN_RING_SIZE: usize = 2;
/// Largest ring accepted (verification costs about 0.1 ms per member).
pub const MAX_RING_SIZE: usize = 256;
/// Length of an encoded scalar (`c_0`, each `s_i`).
pub const SCALAR_LEN: usize = 32;
/// Length of an encoded key image.
pub const KEY_IMAGE_LEN: usize = 33;
/// Length of a signature's fixed part (`c_0 || I`); each member adds [`SCALAR_LEN`].
pub const SIGNATURE_HEADER_LEN: usize = SCALAR_LEN + KEY_IMAGE_LEN;

/// The event a ring signature is scoped to: key images link within one event and ring, never
/// across events. The chain id binds it to one chain (no replay across testbeds).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Event {
    /// The CSC task's id.
    pub task_id: u64,
    /// The sensing round within the task.
    pub round: u64,
    /// The chain's id ([`crate::ChainParams::chain_id`], a hash of its genesis).
    pub chain_id: Hash256,
}

impl Event {
    /// Length of [`Event::to_bytes`].
    pub const ENCODED_LEN: usize = 48;

    /// `task_id (be64) || round (be64) || chain_id (32)`.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        let (task, rest) = out.split_at_mut(8);
        let (round, chain) = rest.split_at_mut(8);
        task.copy_from_slice(&self.task_id.to_be_bytes());
        round.copy_from_slice(&self.round.to_be_bytes());
        chain.copy_from_slice(&self.chain_id.0);
        out
    }
}

/// A ring of distinct public keys in canonical order (strictly increasing compressed encoding),
/// with [`MIN_RING_SIZE`]..=[`MAX_RING_SIZE`] members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring {
    members: Vec<PublicKey>,
    /// `P_0 || .. || P_{n-1}`, hashed into every challenge.
    encoded: Vec<u8>,
}

impl Ring {
    /// Builds the canonical ring from keys in any order (sorts them).
    ///
    /// # Errors
    ///
    /// [`Error::EmptyRing`], [`Error::RingTooSmall`], [`Error::RingTooLarge`] on the member count;
    /// [`Error::DuplicateRingMember`] (positions in canonical order) if a key repeats.
    pub fn new(members: impl IntoIterator<Item = PublicKey>) -> Result<Self, Error> {
        let mut members: Vec<PublicKey> = members.into_iter().collect();
        check_ring_size(members.len())?;
        members.sort_unstable();
        check_strictly_increasing(members.iter().map(PublicKey::as_bytes))?;
        Ok(Self::from_sorted(members))
    }

    /// Builds a ring from keys that must already be in canonical order (for decoding).
    ///
    /// # Errors
    ///
    /// As [`Ring::new`], plus [`Error::RingNotCanonical`] if the order is not strictly
    /// increasing.
    pub fn from_canonical(members: Vec<PublicKey>) -> Result<Self, Error> {
        check_ring_size(members.len())?;
        check_strictly_increasing(members.iter().map(PublicKey::as_bytes))?;
        Ok(Self::from_sorted(members))
    }

    /// Decodes `P_0 || .. || P_{n-1}` (33 bytes each, canonical order). Sizes and order are
    /// checked on the raw bytes before any point is decompressed.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyRing`] for no bytes; [`Error::WrongLength`] unless a multiple of 33 bytes
    /// (`expected` is the nearest shorter valid length); size errors as [`Ring::new`];
    /// [`Error::DuplicateRingMember`] / [`Error::RingNotCanonical`] on order;
    /// [`Error::IdentityPoint`] / [`Error::InvalidPoint`] (field `ring`, member index) on a bad
    /// member.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.is_empty() {
            return Err(Error::EmptyRing);
        }
        let remainder = bytes.len() % PUBLIC_KEY_LEN;
        if remainder != 0 {
            return Err(Error::WrongLength {
                field: "ring",
                expected: bytes.len() - remainder,
                got: bytes.len(),
            });
        }
        check_ring_size(bytes.len() / PUBLIC_KEY_LEN)?;
        check_strictly_increasing(bytes.chunks_exact(PUBLIC_KEY_LEN))?;
        let members = bytes
            .chunks_exact(PUBLIC_KEY_LEN)
            .enumerate()
            .map(|(index, chunk)| PublicKey::decode(chunk, "ring", index))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_sorted(members))
    }

    /// The members in canonical order.
    #[must_use]
    pub fn members(&self) -> &[PublicKey] {
        &self.members
    }

    /// Number of members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always false: a ring has at least [`MIN_RING_SIZE`] members.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// `P_0 || .. || P_{n-1}`.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }

    /// Canonical index of `key`, if it is a member.
    #[must_use]
    pub fn position(&self, key: &PublicKey) -> Option<usize> {
        self.members.binary_search(key).ok()
    }

    fn from_sorted(members: Vec<PublicKey>) -> Self {
        let encoded = members.iter().flat_map(PublicKey::to_bytes).collect();
        Self { members, encoded }
    }
}

impl serde::Serialize for Ring {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.members.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Ring {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let members = Vec::<PublicKey>::deserialize(deserializer)?;
        Self::from_canonical(members).map_err(serde::de::Error::custom)
    }
}

fn check_ring_size(n: usize) -> Result<(), Error> {
    if n == 0 {
        Err(Error::EmptyRing)
    } else if n < MIN_RING_SIZE {
        Err(Error::RingTooSmall {
            min: MIN_RING_SIZE,
            got: n,
        })
    } else if n > MAX_RING_SIZE {
        Err(Error::RingTooLarge {
            max: MAX_RING_SIZE,
            got: n,
        })
    } else {
        Ok(())
    }
}

fn check_strictly_increasing<'a, T>(encodings: impl Iterator<Item = &'a T>) -> Result<(), Error>
where
    T: AsRef<[u8]> + ?Sized + 'a,
{
    let mut previous: Option<&[u8]> = None;
    for (index, current) in encodings.enumerate() {
        let current = current.as_ref();
        if let Some(prev) = previous {
            match prev.cmp(current) {
                core::cmp::Ordering::Less => {}
                core::cmp::Ordering::Equal => {
                    return Err(Error::DuplicateRingMember {
                        first: index.saturating_sub(1),
                        second: index,
                    });
                }
                core::cmp::Ordering::Greater => return Err(Error::RingNotCanonical { index }),
            }
        }
        previous = Some(current);
    }
    Ok(())
}

/// A key image `I = x·h`: one per signer per (event, ring). Compared, hashed and ordered by its
/// 33-byte compressed encoding, so a contract can keep a set of images already seen.
#[derive(Clone, Copy)]
pub struct KeyImage {
    point: AffinePoint,
    bytes: [u8; KEY_IMAGE_LEN],
}

impl KeyImage {
    /// Parses a 33-byte compressed encoding.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLength`] unless 33 bytes; [`Error::IdentityPoint`] for the identity;
    /// [`Error::InvalidPoint`] if not a compressed curve point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let key = PublicKey::decode(bytes, "key_image", 0)?;
        Ok(Self {
            point: key.to_projective().to_affine(),
            bytes: key.to_bytes(),
        })
    }

    /// The 33-byte compressed encoding.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; KEY_IMAGE_LEN] {
        self.bytes
    }

    /// Borrows the 33-byte compressed encoding.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; KEY_IMAGE_LEN] {
        &self.bytes
    }

    pub(crate) fn to_projective(self) -> ProjectivePoint {
        ProjectivePoint::from(self.point)
    }

    fn from_point(point: ProjectivePoint) -> Result<Self, Error> {
        let affine = point.to_affine();
        let mut bytes = [0u8; KEY_IMAGE_LEN];
        bytes.copy_from_slice(affine.to_bytes().as_slice());
        // Only reachable with a zero secret, which `SecretKey` excludes.
        if bytes.iter().all(|&b| b == 0) {
            return Err(Error::IdentityPoint {
                field: "key_image",
                index: 0,
            });
        }
        Ok(Self {
            point: affine,
            bytes,
        })
    }
}

impl PartialEq for KeyImage {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for KeyImage {}

impl core::hash::Hash for KeyImage {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl PartialOrd for KeyImage {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyImage {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

impl fmt::Debug for KeyImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyImage({self})")
    }
}

impl fmt::Display for KeyImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.bytes)
    }
}

impl FromStr for KeyImage {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bytes: [u8; KEY_IMAGE_LEN] = decode_hex_array("key_image", s)?;
        Self::from_bytes(&bytes)
    }
}

serde_via_str!(KeyImage);

/// An LSAG signature `(c_0, s_0..s_{n-1}, I)`.
#[derive(Clone, PartialEq, Eq)]
pub struct RingSignature {
    c0: Scalar,
    responses: Vec<Scalar>,
    key_image: KeyImage,
}

impl RingSignature {
    /// The signer's key image (equal for all signatures of one signer in one event and ring).
    #[must_use]
    pub fn key_image(&self) -> &KeyImage {
        &self.key_image
    }

    /// Number of responses (must equal the ring size to verify).
    #[must_use]
    pub fn len(&self) -> usize {
        self.responses.len()
    }

    /// Always false for a decoded or signed signature (at least [`MIN_RING_SIZE`] responses).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.responses.is_empty()
    }

    /// Encoded length for a ring of `n` members: `65 + 32 n`.
    #[must_use]
    pub const fn encoded_len(n: usize) -> usize {
        SIGNATURE_HEADER_LEN + SCALAR_LEN * n
    }

    /// `c_0 || I || s_0 || .. || s_{n-1}`.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::encoded_len(self.responses.len()));
        out.extend_from_slice(&self.c0.to_repr());
        out.extend_from_slice(&self.key_image.bytes);
        for s in &self.responses {
            out.extend_from_slice(&s.to_repr());
        }
        out
    }

    /// Decodes `c_0 || I || s_0 || .. || s_{n-1}`. Length and scalars are checked before the
    /// key image is decompressed; never panics on any input.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLength`] if shorter than a 2-member signature or not `65 + 32 n` bytes;
    /// [`Error::RingTooLarge`] if `n` exceeds [`MAX_RING_SIZE`]; [`Error::NonCanonicalScalar`]
    /// (field `c0` or `responses` with its index) for a scalar not below the group order;
    /// [`Error::IdentityPoint`] / [`Error::InvalidPoint`] (field `key_image`) for a bad image.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let min_len = Self::encoded_len(MIN_RING_SIZE);
        if bytes.len() < min_len {
            return Err(Error::WrongLength {
                field: "ring_signature",
                expected: min_len,
                got: bytes.len(),
            });
        }
        let (header, body) = bytes.split_at(SIGNATURE_HEADER_LEN);
        let remainder = body.len() % SCALAR_LEN;
        if remainder != 0 {
            return Err(Error::WrongLength {
                field: "ring_signature",
                expected: bytes.len() - remainder,
                got: bytes.len(),
            });
        }
        let n = body.len() / SCALAR_LEN;
        if n > MAX_RING_SIZE {
            return Err(Error::RingTooLarge {
                max: MAX_RING_SIZE,
                got: n,
            });
        }
        let (c0_bytes, image_bytes) = header.split_at(SCALAR_LEN);
        let c0 = canonical_scalar(c0_bytes).ok_or(Error::NonCanonicalScalar {
            field: "c0",
            index: 0,
        })?;
        let responses = body
            .chunks_exact(SCALAR_LEN)
            .enumerate()
            .map(|(index, chunk)| {
                canonical_scalar(chunk).ok_or(Error::NonCanonicalScalar {
                    field: "responses",
                    index,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let key_image = KeyImage::from_bytes(image_bytes)?;
        Ok(Self {
            c0,
            responses,
            key_image,
        })
    }
}

/// A scalar from 32 big-endian bytes, if below the group order (zero allowed).
pub(crate) fn canonical_scalar(bytes: &[u8]) -> Option<Scalar> {
    let array: [u8; SCALAR_LEN] = bytes.try_into().ok()?;
    Option::from(Scalar::from_repr(FieldBytes::from(array)))
}

impl fmt::Debug for RingSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingSignature")
            .field("members", &self.responses.len())
            .field("key_image", &self.key_image)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for RingSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.to_bytes())
    }
}

impl FromStr for RingSignature {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_bytes(&decode_hex_vec("ring_signature", s)?)
    }
}

serde_via_str!(RingSignature);

/// The event-scoped base point `h = hash_to_curve(trustband/v1/ring-h2c, e || L)` of a ring
/// and event: the base of the ring's key images (`I = x·h`) and of the reveal's DLEQ proof
/// ([`super::dleq`]). Compared by its 33-byte compressed encoding.
#[derive(Clone, Copy)]
pub struct EventBase {
    point: ProjectivePoint,
    bytes: [u8; KEY_IMAGE_LEN],
}

impl EventBase {
    /// The base point of `ring` for `event`.
    ///
    /// # Errors
    ///
    /// As [`EventBase::from_encoded_ring`].
    pub fn new(ring: &Ring, event: &Event) -> Result<Self, Error> {
        Self::from_encoded_ring(ring.as_bytes(), event)
    }

    /// The base point of the ring whose members' 33-byte encodings, concatenated in canonical
    /// order, are `encoded` (hashed as given, nothing is decompressed: a contract passes the
    /// ring it stored when it built it with [`Ring::new`]).
    ///
    /// # Errors
    ///
    /// [`Error::IdentityPoint`] (field `event_base`) if hash-to-curve lands on the identity
    /// (probability about 2^-256); [`Error::HashToCurve`] only if hash-to-curve fails.
    pub fn from_encoded_ring(encoded: &[u8], event: &Event) -> Result<Self, Error> {
        let point = hash_to_curve(Domain::RingH2c.tag(), &[&event.to_bytes(), encoded])?;
        let mut bytes = [0u8; KEY_IMAGE_LEN];
        bytes.copy_from_slice(point.to_affine().to_bytes().as_slice());
        if bytes.iter().all(|&b| b == 0) {
            return Err(Error::IdentityPoint {
                field: "event_base",
                index: 0,
            });
        }
        Ok(Self { point, bytes })
    }

    /// The 33-byte compressed encoding.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; KEY_IMAGE_LEN] {
        &self.bytes
    }

    /// The key image `x·h` of `secret` over this base.
    ///
    /// # Errors
    ///
    /// [`Error::IdentityPoint`] only for a zero secret, which [`SecretKey`] excludes.
    pub fn key_image(&self, secret: &SecretKey) -> Result<KeyImage, Error> {
        KeyImage::from_point(self.point * secret.scalar().as_ref())
    }

    pub(crate) fn point(&self) -> ProjectivePoint {
        self.point
    }
}

impl PartialEq for EventBase {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for EventBase {}

impl fmt::Debug for EventBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventBase(")?;
        write_hex(f, &self.bytes)?;
        f.write_str(")")
    }
}

/// The event-scoped base point `h = hash_to_curve(trustband/v1/ring-h2c, e || L)`.
fn base_point(ring: &Ring, event: &Event) -> Result<ProjectivePoint, Error> {
    EventBase::new(ring, event).map(|base| base.point)
}

/// The per-signature constant inputs of `H_s`.
struct Transcript<'a> {
    msg: &'a [u8],
    ring: &'a [u8],
    event: [u8; Event::ENCODED_LEN],
    image: &'a [u8; KEY_IMAGE_LEN],
}

impl Transcript<'_> {
    /// `H_s(m, L, e, I, A, B)`.
    fn challenge(&self, a: &ProjectivePoint, b: &ProjectivePoint) -> Scalar {
        let a = a.to_affine().to_bytes();
        let b = b.to_affine().to_bytes();
        hash_to_scalar(
            Domain::Ring,
            &[self.msg, self.ring, &self.event, self.image, &a, &b],
        )
    }
}

/// The secret seed of one signature's nonce and decoy responses (see the module docs).
struct Hedge {
    seed: Zeroizing<[u8; 32]>,
}

impl Hedge {
    /// `seed = hash(trustband/v1/ring, ["hedge", x, r, m, L, e, I])`, `r` from `rng`.
    fn new<R: CryptoRng + ?Sized>(
        secret: &SecretKey,
        transcript: &Transcript<'_>,
        rng: &mut R,
    ) -> Self {
        let mut fresh = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(fresh.as_mut_slice());
        let secret_bytes = secret.to_bytes();
        let seed = Zeroizing::new(hash(
            Domain::Ring,
            &[
                b"hedge",
                secret_bytes.as_slice(),
                fresh.as_slice(),
                transcript.msg,
                transcript.ring,
                &transcript.event,
                transcript.image,
            ],
        ));
        Self { seed }
    }

    /// The nonce `a`: the first non-zero `hash(.., ["nonce", seed, be64 j]) mod n`.
    fn nonce(&self) -> Zeroizing<Scalar> {
        // A zero candidate has probability about 2^-256; the counter makes the loop total.
        let mut j: u64 = 0;
        loop {
            let a = Zeroizing::new(hash_to_scalar(
                Domain::Ring,
                &[b"nonce", self.seed.as_slice(), &j.to_be_bytes()],
            ));
            if !bool::from(a.is_zero()) {
                return a;
            }
            j = j.wrapping_add(1);
        }
    }

    /// The decoy response of member `index`.
    fn decoy(&self, index: usize) -> Scalar {
        let index = u64::try_from(index).unwrap_or(u64::MAX);
        hash_to_scalar(
            Domain::Ring,
            &[b"decoy", self.seed.as_slice(), &index.to_be_bytes()],
        )
    }
}

/// The key image `secret` would sign with in `ring` for `event`.
///
/// # Errors
///
/// [`Error::HashToCurve`] only if hash-to-curve fails (not for the fixed tag).
pub fn key_image(secret: &SecretKey, ring: &Ring, event: &Event) -> Result<KeyImage, Error> {
    let h = base_point(ring, event)?;
    KeyImage::from_point(h * secret.scalar().as_ref())
}

/// Signs `msg` as an anonymous member of `ring` for `event`. The signer's index is found from
/// its public key; `rng` supplies 32 bytes that are hashed with the secret and the whole
/// transcript into the nonce and the decoy responses (see the module docs: a weak RNG cannot
/// leak the key).
///
/// # Errors
///
/// [`Error::SignerNotInRing`] if the secret's public key is not a member;
/// [`Error::HashToCurve`] only if hash-to-curve fails.
pub fn sign<R: CryptoRng + ?Sized>(
    secret: &SecretKey,
    ring: &Ring,
    event: &Event,
    msg: &[u8],
    rng: &mut R,
) -> Result<RingSignature, Error> {
    let n = ring.len();
    let signer = ring
        .position(secret.public_key())
        .ok_or(Error::SignerNotInRing)?;
    let x: &Scalar = secret.scalar().as_ref();
    let h = base_point(ring, event)?;
    let key_image = KeyImage::from_point(h * x)?;
    let transcript = Transcript {
        msg,
        ring: ring.as_bytes(),
        event: event.to_bytes(),
        image: &key_image.bytes,
    };
    let image = ProjectivePoint::from(key_image.point);

    let hedge = Hedge::new(secret, &transcript, rng);
    let a = hedge.nonce();
    // c_{π+1}
    let mut c = transcript.challenge(&(ProjectivePoint::GENERATOR * *a), &(h * *a));
    let mut c0 = if signer + 1 == n { Some(c) } else { None };
    let mut responses = vec![Scalar::ZERO; n];
    // Walk π+1, .., π+n-1 (mod n): every member but the signer gets a random response.
    let decoys = ring
        .members()
        .iter()
        .enumerate()
        .cycle()
        .skip(signer + 1)
        .take(n - 1);
    for (i, member) in decoys {
        if i == 0 {
            c0 = Some(c);
        }
        let s = hedge.decoy(i);
        // Constant-time, so the signer's position does not show in how long decoys take.
        let a_i = ProjectivePoint::lincomb(&[
            (ProjectivePoint::GENERATOR, s),
            (member.to_projective(), c),
        ]);
        let b_i = ProjectivePoint::lincomb(&[(h, s), (image, c)]);
        if let Some(slot) = responses.get_mut(i) {
            *slot = s;
        }
        c = transcript.challenge(&a_i, &b_i);
    }
    // c now holds c_π.
    if let Some(slot) = responses.get_mut(signer) {
        *slot = *a - c * x;
    }
    Ok(RingSignature {
        c0: c0.unwrap_or(c),
        responses,
        key_image,
    })
}

/// Verifies `signature` on `msg` by a member of `ring` for `event`.
///
/// # Errors
///
/// [`Error::RingLengthMismatch`] if the response count differs from the ring size (checked
/// before any curve arithmetic); [`Error::BadRingSignature`] if the challenge chain does not
/// close; [`Error::HashToCurve`] only if hash-to-curve fails.
pub fn verify(
    ring: &Ring,
    event: &Event,
    msg: &[u8],
    signature: &RingSignature,
) -> Result<(), Error> {
    if signature.responses.len() != ring.len() {
        return Err(Error::RingLengthMismatch {
            expected: ring.len(),
            got: signature.responses.len(),
        });
    }
    let h = base_point(ring, event)?;
    let transcript = Transcript {
        msg,
        ring: ring.as_bytes(),
        event: event.to_bytes(),
        image: &signature.key_image.bytes,
    };
    let image = ProjectivePoint::from(signature.key_image.point);
    let mut c = signature.c0;
    for (member, &s) in ring.members().iter().zip(&signature.responses) {
        // Everything here is public, so variable-time arithmetic is safe.
        let a_i = ProjectivePoint::lincomb_vartime(&[
            (ProjectivePoint::GENERATOR, s),
            (member.to_projective(), c),
        ]);
        let b_i = ProjectivePoint::lincomb_vartime(&[(h, s), (image, c)]);
        c = transcript.challenge(&a_i, &b_i);
    }
    if c == signature.c0 {
        Ok(())
    } else {
        Err(Error::BadRingSignature)
    }
}
