//! Account keys, addresses and account signatures.
//!
//! A node's account is a secp256k1 key pair. The secret signs transactions and blocks; the
//! public key (33-byte compressed SEC1) identifies the account in rings; the [`Address`] is the
//! first 20 bytes of `hash(trustband/v1/addr, public key)`.
//!
//! Account signatures are ECDSA over secp256k1 with RFC 6979 deterministic nonces, signing the
//! 32-byte digest `hash(domain, [msg])`. Why ECDSA rather than BIP-340 Schnorr:
//! - deterministic: no RNG at signing time, so a weak RNG cannot leak the key through nonce
//!   reuse, and known-answer tests pin exact signature bytes;
//! - the same 33-byte compressed key serves as the account key and as the LSAG ring member
//!   (BIP-340's x-only keys would need an even-y convention for ring maths);
//! - low-S is enforced both when signing and when decoding, so signatures are not malleable and
//!   a transaction's signature bytes are unique.
//!
//! Schnorr's advantages (batch verification, key aggregation) are not needed yet.

use core::fmt;
use core::str::FromStr;

use k256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use k256::ecdsa::{SigningKey, VerifyingKey};
use k256::elliptic_curve::group::GroupEncoding;
use k256::elliptic_curve::scalar::IsHigh;
use k256::elliptic_curve::{Generate, PrimeField};
use k256::{FieldBytes, NonZeroScalar, ProjectivePoint, Scalar};
use rand_core::CryptoRng;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use super::hash::{Domain, hash, hash_to_scalar};
use super::text::{decode_hex_array, serde_via_str, write_hex};
use crate::error::Error;

/// Length of a secret key's big-endian scalar encoding.
pub const SECRET_KEY_LEN: usize = 32;
/// Length of a compressed SEC1 public key.
pub const PUBLIC_KEY_LEN: usize = 33;
/// Length of an address.
pub const ADDRESS_LEN: usize = 20;
/// Length of an account signature (`r || s`, 32 bytes each, big-endian).
pub const SIGNATURE_LEN: usize = 64;

/// An account's secret key. Zeroized on drop; `Debug` prints only the public key.
///
/// Not `Clone`, so the secret is not copied around by accident.
pub struct SecretKey {
    signing: SigningKey,
    public: PublicKey,
}

impl SecretKey {
    /// Draws a fresh key from a cryptographic RNG supplied by the caller (library code never
    /// picks its own RNG).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self::from_signing(SigningKey::generate_from_rng(rng))
    }

    /// Derives a key deterministically from a 32-byte seed:
    /// `x = hash(trustband/v1/key-seed, [seed]) mod n`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSecretKey`] if the derived scalar is zero (probability about 2^-256).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, Error> {
        let scalar = Zeroizing::new(hash_to_scalar(Domain::KeySeed, &[seed]));
        let nonzero: Option<NonZeroScalar> = NonZeroScalar::new(*scalar).into();
        nonzero
            .map(|x| Self::from_signing(SigningKey::from(x)))
            .ok_or(Error::InvalidSecretKey)
    }

    /// Parses the 32-byte big-endian scalar encoding.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSecretKey`] if the value is zero or not below the group order.
    pub fn from_bytes(bytes: &[u8; SECRET_KEY_LEN]) -> Result<Self, Error> {
        SigningKey::from_bytes(&FieldBytes::from(*bytes))
            .map(Self::from_signing)
            .map_err(|_| Error::InvalidSecretKey)
    }

    /// The 32-byte big-endian scalar encoding, zeroized when dropped.
    #[must_use]
    pub fn to_bytes(&self) -> Zeroizing<[u8; SECRET_KEY_LEN]> {
        Zeroizing::new(self.signing.to_bytes().into())
    }

    /// The matching public key.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The account address of the matching public key.
    #[must_use]
    pub fn address(&self) -> Address {
        self.public.address()
    }

    /// Signs `msg` for `domain`: ECDSA (RFC 6979) over `hash(domain, [msg])`, low-S.
    ///
    /// # Errors
    ///
    /// [`Error::SigningFailed`] if the ECDSA backend rejects the digest (does not happen for
    /// 32-byte digests; kept so no failure path panics).
    pub fn sign(&self, domain: Domain, msg: &[u8]) -> Result<Signature, Error> {
        let digest = hash(domain, &[msg]);
        let inner: k256::ecdsa::Signature = self
            .signing
            .sign_prehash(&digest)
            .map_err(|_| Error::SigningFailed { scheme: "ecdsa" })?;
        Ok(Signature { inner })
    }

    /// The secret scalar, for the ring signature.
    pub(crate) fn scalar(&self) -> &NonZeroScalar {
        self.signing.as_nonzero_scalar()
    }

    fn from_signing(signing: SigningKey) -> Self {
        let public = PublicKey::from_k256(k256::PublicKey::from(signing.verifying_key()));
        Self { signing, public }
    }
}

// `SigningKey` zeroizes its scalar on drop; the public half is not secret.
impl ZeroizeOnDrop for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("public", &self.public)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// An account public key: a secp256k1 point other than the identity, encoded as 33-byte
/// compressed SEC1. Ordered and compared by its encoding (the ring's canonical order).
#[derive(Clone, Copy)]
pub struct PublicKey {
    point: k256::PublicKey,
    bytes: [u8; PUBLIC_KEY_LEN],
}

impl PublicKey {
    /// Parses a 33-byte compressed SEC1 encoding.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLength`] unless exactly 33 bytes; [`Error::IdentityPoint`] for the all-zero
    /// encoding; [`Error::InvalidPoint`] if the bytes are not a compressed curve point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::decode(bytes, "public_key", 0)
    }

    /// Parses member `index` of a list (`field` names the list in errors).
    pub(crate) fn decode(bytes: &[u8], field: &'static str, index: usize) -> Result<Self, Error> {
        let array: [u8; PUBLIC_KEY_LEN] = bytes.try_into().map_err(|_| Error::WrongLength {
            field,
            expected: PUBLIC_KEY_LEN,
            got: bytes.len(),
        })?;
        // Only 0x02/0x03 prefixes are compressed points; k256 would also take 0x00.. as the
        // identity, which no key may be.
        if array.iter().all(|&b| b == 0) {
            return Err(Error::IdentityPoint { field, index });
        }
        match array.first() {
            Some(0x02 | 0x03) => {}
            _ => return Err(Error::InvalidPoint { field, index }),
        }
        let point = k256::PublicKey::from_sec1_bytes(&array)
            .map_err(|_| Error::InvalidPoint { field, index })?;
        Ok(Self {
            point,
            bytes: array,
        })
    }

    /// The 33-byte compressed SEC1 encoding.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.bytes
    }

    /// Borrows the 33-byte compressed SEC1 encoding.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.bytes
    }

    /// The account address: first 20 bytes of `hash(trustband/v1/addr, [encoding])`.
    #[must_use]
    pub fn address(&self) -> Address {
        let digest = hash(Domain::Addr, &[&self.bytes]);
        let (head, _) = digest.split_at(ADDRESS_LEN);
        let mut out = [0u8; ADDRESS_LEN];
        out.copy_from_slice(head);
        Address(out)
    }

    /// Verifies an account signature over `msg` for `domain`.
    ///
    /// # Errors
    ///
    /// [`Error::BadSignature`] if the signature was not made by this key over this domain and
    /// message (a signature for another domain never verifies).
    pub fn verify(&self, domain: Domain, msg: &[u8], signature: &Signature) -> Result<(), Error> {
        let digest = hash(domain, &[msg]);
        VerifyingKey::from(&self.point)
            .verify_prehash(&digest, &signature.inner)
            .map_err(|_| Error::BadSignature {
                domain: domain.tag(),
            })
    }

    pub(crate) fn to_projective(self) -> ProjectivePoint {
        self.point.to_projective()
    }

    fn from_k256(point: k256::PublicKey) -> Self {
        let mut bytes = [0u8; PUBLIC_KEY_LEN];
        bytes.copy_from_slice(point.as_affine().to_bytes().as_slice());
        Self { point, bytes }
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for PublicKey {}

impl core::hash::Hash for PublicKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.bytes)
    }
}

impl FromStr for PublicKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bytes: [u8; PUBLIC_KEY_LEN] = decode_hex_array("public_key", s)?;
        Self::from_bytes(&bytes)
    }
}

serde_via_str!(PublicKey);

/// An account address: 20 bytes of `hash(trustband/v1/addr, public key)`. Text form is `0x`
/// followed by 40 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address([u8; ADDRESS_LEN]);

impl Address {
    /// Wraps 20 raw bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; ADDRESS_LEN]) -> Self {
        Self(bytes)
    }

    /// Borrows the 20 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; ADDRESS_LEN] {
        &self.0
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        decode_hex_array("address", s).map(Self)
    }
}

serde_via_str!(Address);

/// An account signature: ECDSA/secp256k1, 64 bytes `r || s`, `s` in the low half of the order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    inner: k256::ecdsa::Signature,
}

impl Signature {
    /// Parses 64 bytes `r || s`.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLength`] unless exactly 64 bytes; [`Error::NonCanonicalScalar`] (field
    /// `signature.r` or `signature.s`) if a half is zero, not below the group order, or `s` is
    /// in the high half (the malleable twin of a valid signature).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let array: [u8; SIGNATURE_LEN] = bytes.try_into().map_err(|_| Error::WrongLength {
            field: "signature",
            expected: SIGNATURE_LEN,
            got: bytes.len(),
        })?;
        let (r_bytes, s_bytes) = array.split_at(SIGNATURE_LEN / 2);
        let r = nonzero_scalar(r_bytes).ok_or(Error::NonCanonicalScalar {
            field: "signature.r",
            index: 0,
        })?;
        let s = nonzero_scalar(s_bytes)
            .filter(|s| !bool::from(s.is_high()))
            .ok_or(Error::NonCanonicalScalar {
                field: "signature.s",
                index: 0,
            })?;
        let inner =
            k256::ecdsa::Signature::from_scalars(r.to_repr(), s.to_repr()).map_err(|_| {
                Error::NonCanonicalScalar {
                    field: "signature",
                    index: 0,
                }
            })?;
        Ok(Self { inner })
    }

    /// The 64-byte `r || s` encoding.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        self.inner.to_bytes().into()
    }
}

/// A canonical (below the order) non-zero scalar from 32 big-endian bytes.
fn nonzero_scalar(bytes: &[u8]) -> Option<Scalar> {
    let array: [u8; 32] = bytes.try_into().ok()?;
    let scalar: Option<Scalar> = Scalar::from_repr(FieldBytes::from(array)).into();
    scalar.filter(|s| !bool::from(s.is_zero()))
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.to_bytes())
    }
}

impl FromStr for Signature {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let bytes: [u8; SIGNATURE_LEN] = decode_hex_array("signature", s)?;
        Self::from_bytes(&bytes)
    }
}

serde_via_str!(Signature);
